/* provider_keys.h — a user's own provider keys: checking one with its provider, and
 * which key a job's provider calls carry.
 *
 * Services: replicate, runway, openai. A key is checked with the provider's
 * cheapest authenticated call (Replicate GET /v1/account, Runway GET
 * /v1/organization, OpenAI GET /v1/models). A job that runs on its user's key
 * (jobs.own_key, decided at submit) has every call to its provider made with that
 * key: the poller builds the call as for any job, then provkey_apply puts the
 * user's key in its Authorization header. Adapters need not know: an adapter whose
 * calls carry "Authorization: Bearer …" (all three do) works on users' keys as it
 * is. The key is never logged. */
#ifndef RV_PROVIDER_KEYS_H
#define RV_PROVIDER_KEYS_H

#include <stdbool.h>

#include "arena.h"
#include "http.h"
#include "req.h"

/* Whether service is one a user may bring a key for. */
bool provkey_service_known(const char *service);

typedef enum {
    PROVKEY_VALID,       /* the provider took it */
    PROVKEY_REJECTED,    /* 401 or 403: not a key it takes */
    PROVKEY_UNREACHABLE, /* no answer, 429 or 5xx: cannot tell now */
} provkey_check;

/* Asks the provider of service whether key works (one call, up to 10 s). */
provkey_check provkey_validate(arena *a, const char *service, const char *key);

typedef enum {
    PROVKEY_SERVICE, /* not an own-key job: the service's configured key */
    PROVKEY_OWN,     /* *bearer: the user's key, in rq's arena */
    PROVKEY_MISSING, /* an own-key job whose key was removed, refused or cannot be opened */
    PROVKEY_ERROR,   /* the database did not answer: try later */
} provkey_source;

/* Which key job_id's provider calls carry (rq: the poller's context). */
provkey_source provkey_for_job(rv_req *rq, const char *job_id, const char **bearer);

/* Makes c carry "Authorization: Bearer <bearer>" instead of what it had. */
void provkey_apply(arena *a, http_call *c, const char *bearer);

/* Records that the provider refused job_id's user's key (the key goes inactive). */
void provkey_rejected(rv_req *rq, const char *user_id, const char *service);

#endif
