/* GET|PUT /api/admin/config/{key} — admin.
 *
 * GET → 200 {key, value, updatedAt}. PUT {value} → 200 the same shape, after the
 * value passed its key's schema (common/schema.c); the change is recorded in
 * audit_log (who, when, old, new). 400 validation_failed with errors naming each
 * wrong field ("value[0].priceCents"), malformed_json; 401, 403 (not an admin),
 * 404 (no such key: GET reads any stored key, PUT takes keys with a schema only),
 * 405, 413, 415, 503. Nothing changes on a refused PUT. */
#include <json-c/json.h>
#include <string.h>

#include "schema.h"
#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt get_key = {
    "SELECT json_build_object('key', key, 'value', value, 'updatedAt', rv_ts(updated_at))"
    "  FROM admin_config WHERE key = $1",
    1};
static const db_stmt put_key = {"SELECT rv_admin_config_put($1, $2::jsonb)", 2};

/* The body {value}: any JSON value, nothing else beside it. */
static rv_err bind_value(rv_req *rq, json_object **value)
{
    json_object *body;
    rv_err er = bind_parse(rq, &body);
    if (er != RV_OK)
        return er;
    if (!json_object_is_type(body, json_type_object))
        return req_field_error(rq, "value", "is required");
    if (!json_object_object_get_ex(body, "value", value))
        req_field_error(rq, "value", "is required");
    json_object_object_foreach(body, k, v)
    {
        (void)v;
        if (strcmp(k, "value"))
            req_field_error(rq, k, "is not a known field");
    }
    return rq->problem_errors ? RV_E_VALIDATION : RV_OK;
}

static rv_err admin_config(rv_req *rq)
{
    const char *key = req_path(rq, "key");
    PGresult *r;
    rv_err er;
    if (rq->method_bit == RV_PUT) {
        json_object *value = NULL;
        if (!schema_known(key))
            return req_fail(rq, RV_E_NOT_FOUND, "no such configuration key");
        if ((er = bind_value(rq, &value)) != RV_OK || (er = schema_check(rq, key, value)) != RV_OK)
            return er;
        const char *p[] = {key, json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN)};
        if ((er = db_query(rq, &put_key, p, &r)) != RV_OK)
            return er;
        return resp_json(rq, 200, db_get(r, 0, 0));
    }
    const char *p[] = {key};
    if ((er = db_query(rq, &get_key, p, &r)) != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such configuration key");
    return resp_json(rq, 200, db_get(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "admin_config",
    .route = "/api/admin/config/{key}",
    .methods = RV_GET | RV_PUT,
    .flags = RV_ADMIN,
    .body_limit = 64 * 1024,
    .handle = admin_config,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
