#include "webhook_secret.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "webhook.h"

static const db_stmt read_secret = {"SELECT rv_webhook_secret($1)", 1};
static const db_stmt store_secret = {"SELECT rv_webhook_secret_set($1, $2)", 2};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Replicate's secret: the configured one, else the account's from the API. NULL
 * when neither is to be had now. */
static const char *replicate_secret(rv_req *rq)
{
    if (config->replicate_webhook_secret)
        return config->replicate_webhook_secret;
    const char *token = config->replicate_token;
    if (!token)
        return NULL;
    http_call c = {.method = "GET", .timeout_ms = 10000};
    c.url = arena_printf(rq->a, "%s/v1/webhooks/default/secret", config->replicate_url);
    c.headers[0] = arena_printf(rq->a, "Authorization: Bearer %s", token);
    http_run(rq->a, &c, 1);
    json_object *o = c.status == 200 ? json_tokener_parse(c.resp) : NULL, *key;
    const char *s = NULL;
    if (o && json_object_object_get_ex(o, "key", &key) &&
        json_object_is_type(key, json_type_string))
        s = arena_strdup(rq->a, json_object_get_string(key));
    json_object_put(o);
    if (!s)
        log_msg(LOG_ERROR, "could not fetch the Replicate webhook secret (status %ld %s)", c.status,
                c.error);
    return s;
}

void webhook_secret_refresh(rv_req *rq)
{
    const char *s = replicate_secret(rq);
    if (!s)
        return;
    if (!webhook_secret_valid(s)) {
        log_msg(LOG_ERROR, "the Replicate webhook secret is not a usable key (whsec_ and at "
                           "least 24 bytes of base64); not stored");
        return;
    }
    const char *p[] = {"replicate", s};
    PGresult *r;
    if (db_query(rq, &store_secret, p, &r) != RV_OK) {
        log_msg(LOG_WARN, "could not store the Replicate webhook secret");
        return;
    }
    const char *changed = db_get(r, 0, 0);
    if (changed && !strcmp(changed, "t"))
        log_msg(LOG_INFO, "stored a new Replicate webhook secret");
}

/* One cached secret per provider name this process asked for. */
typedef struct {
    char provider[32];
    char *secret;
    double read_at;
} cached;

enum { N_CACHED = 4 };

rv_err webhook_secret_get(rv_req *rq, const char *provider, bool reread, const char **out)
{
    static cached cache[N_CACHED];
    cached *c = NULL;
    *out = NULL;
    for (int i = 0; i < N_CACHED && !c; i++)
        if (!strcmp(cache[i].provider, provider) || !cache[i].provider[0])
            c = &cache[i];
    if (!c || strlen(provider) >= sizeof c->provider)
        return RV_E_INTERNAL;
    double now = now_s(), age = now - c->read_at;
    /* Unknown or suspect: looked up again, but at most once a second, so a flood of
     * forged requests costs the database little. */
    double ttl = reread || !c->secret ? 1 : WEBHOOK_SECRET_TTL;
    bool fresh = c->provider[0] && age < ttl;
    if (!fresh) {
        const char *p[] = {provider};
        PGresult *r;
        rv_err er = db_query(rq, &read_secret, p, &r);
        if (er != RV_OK) {
            if (!c->provider[0])
                return er;
        } else {
            const char *s = db_get(r, 0, 0);
            free(c->secret);
            c->secret = s ? strdup(s) : NULL;
            if (s && !c->secret)
                abort(); /* out of memory ends the process */
            snprintf(c->provider, sizeof c->provider, "%s", provider);
            c->read_at = now;
        }
    }
    *out = c->secret;
    return RV_OK;
}
