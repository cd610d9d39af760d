#include "provider_keys.h"

#include <string.h>

#include "config.h"
#include "db.h"
#include "keybox.h"
#include "log.h"

static const db_stmt job_key = {
    "SELECT status, user_id, service, key_id, nonce, ciphertext FROM rv_job_own_key($1)", 1};
static const db_stmt rejected = {"SELECT rv_api_key_rejected($1, $2)", 2};

/* The cheapest authenticated call of each provider, at its configured base URL. */
static const struct {
    const char *service, *path, *extra_header;
} checks[] = {
    {"replicate", "/v1/account", NULL},
    {"runway", "/v1/organization", "X-Runway-Version: 2024-11-06"},
    {"openai", "/v1/models", NULL},
};

static const char *base_url(const char *service)
{
    if (!strcmp(service, "replicate"))
        return config->replicate_url;
    if (!strcmp(service, "runway"))
        return config->runway_url;
    return config->openai_url;
}

bool provkey_service_known(const char *service)
{
    for (size_t i = 0; service && i < sizeof checks / sizeof checks[0]; i++)
        if (!strcmp(checks[i].service, service))
            return true;
    return false;
}

provkey_check provkey_validate(arena *a, const char *service, const char *key)
{
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (strcmp(checks[i].service, service))
            continue;
        http_call c = {.method = "GET", .timeout_ms = 10000};
        c.url = arena_printf(a, "%s%s", base_url(service), checks[i].path);
        c.headers[0] = arena_printf(a, "Authorization: Bearer %s", key);
        c.headers[1] = checks[i].extra_header;
        http_run(a, &c, 1);
        if (c.status >= 200 && c.status < 300)
            return PROVKEY_VALID;
        if (c.status == 401 || c.status == 403)
            return PROVKEY_REJECTED;
        log_msg(LOG_WARN, "checking a %s key: the provider answered %ld", service, c.status);
        return PROVKEY_UNREACHABLE;
    }
    return PROVKEY_REJECTED;
}

provkey_source provkey_for_job(rv_req *rq, const char *job_id, const char **bearer)
{
    PGresult *r;
    *bearer = NULL;
    if (db_query(rq, &job_key, (const char *[]){job_id}, &r) != RV_OK || PQntuples(r) != 1)
        return PROVKEY_ERROR;
    const char *status = db_get(r, 0, 0);
    if (!strcmp(status, "service"))
        return PROVKEY_SERVICE;
    if (!strcmp(status, "own")) {
        const char *bound = arena_printf(rq->a, "%s/%s", db_get(r, 0, 1), db_get(r, 0, 2));
        *bearer = keybox_open(rq->a, bound, db_get(r, 0, 3), db_get(r, 0, 4), db_get(r, 0, 5));
        if (*bearer)
            return PROVKEY_OWN;
        log_msg(LOG_ERROR, "job %s: the user's %s key cannot be opened (key id %s)", job_id,
                db_get(r, 0, 2), db_get(r, 0, 3));
    }
    return PROVKEY_MISSING;
}

void provkey_apply(arena *a, http_call *c, const char *bearer)
{
    int i = 0, n = 0;
    while (c->headers[n])
        n++;
    for (; i < n; i++)
        if (!strncasecmp(c->headers[i], "Authorization:", 14))
            break;
    if (i == n && n == HTTP_MAX_HEADERS)
        return; /* cannot happen with our adapters: they all send one */
    c->headers[i] = arena_printf(a, "Authorization: Bearer %s", bearer);
    if (i == n)
        c->headers[n + 1] = NULL;
}

void provkey_rejected(rv_req *rq, const char *user_id, const char *service)
{
    (void)db_query(rq, &rejected, (const char *[]){user_id, service}, NULL);
}
