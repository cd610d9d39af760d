/* schema.h — the schema of every admin_config key.
 *
 * PUT /api/admin/config/{key} checks the new value here before it is stored: a
 * typo in a price answers 400 with every wrong field named ("value[1].priceCents",
 * "value.tts.flat"), never reaches the service. Strict on types and ranges;
 * permissive where a key's inner set grows with other work (new job kinds in
 * job_costs and providers, new fields of a credit pack, escrow's settings, new
 * system prompts), as long as what is added has a sane type. */
#ifndef RV_SCHEMA_H
#define RV_SCHEMA_H

#include <json-c/json.h>
#include <stdbool.h>

#include "req.h"

/* Whether key is an admin_config key with a schema (others answer 404). */
bool schema_known(const char *key);

/* Checks value (borrowed; NULL is JSON null) against key's schema. RV_OK, or
 * RV_E_VALIDATION with every error recorded on rq (fields named from "value"). */
rv_err schema_check(rv_req *rq, const char *key, json_object *value);

/* The keys with a schema, NULL-terminated (for tests and listings). */
extern const char *const schema_keys[];

#endif
