/* POST /webhooks/replicate?job=ID&token=T — public, signed (Standard Webhooks).
 *
 * Verifies the signature over the raw body (RV_REPLICATE_WEBHOOK_SECRET, or the
 * account's secret fetched once from Replicate), stores the event in the inbox
 * (unique per webhook-id), wakes the poller and answers at once:
 * 204 stored or already seen; 401 bad or stale signature; 404 unknown job or token;
 * 400 body not a JSON object; 503 secret not available or database down. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bind.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "webhook.h"

static const db_stmt receive = {"SELECT rv_webhook_receive('replicate', $1, $2, $3, $4::jsonb)", 4};

/* The secret, from the environment or fetched once per process from Replicate. */
static const char *secret(rv_req *rq)
{
    static char *cached;
    const char *env = getenv("RV_REPLICATE_WEBHOOK_SECRET");
    if (env && *env)
        return env;
    if (cached)
        return cached;
    const char *token = getenv("RV_REPLICATE_API_TOKEN"), *base = getenv("RV_REPLICATE_URL");
    if (!token || !*token)
        return NULL;
    http_call c = {.method = "GET", .timeout_ms = 5000};
    c.url = arena_printf(rq->a, "%s/v1/webhooks/default/secret",
                         base && *base ? base : "https://api.replicate.com");
    c.headers[0] = arena_printf(rq->a, "Authorization: Bearer %s", token);
    http_run(rq->a, &c, 1);
    json_object *o = c.status == 200 ? json_tokener_parse(c.resp) : NULL;
    json_object *key;
    if (o && json_object_object_get_ex(o, "key", &key) &&
        json_object_is_type(key, json_type_string))
        cached = strdup(json_object_get_string(key));
    else
        log_msg(LOG_ERROR, "could not fetch the Replicate webhook secret (status %ld)", c.status);
    json_object_put(o);
    return cached;
}

static rv_err webhook_replicate(rv_req *rq)
{
    const char *job = req_query(rq, "job"), *token = req_query(rq, "token");
    const char *key = secret(rq);
    if (!key)
        return req_fail(rq, RV_E_UNAVAILABLE, "the webhook secret is not available");
    if (!webhook_verify_standard(key, req_header(rq, "webhook-id"),
                                 req_header(rq, "webhook-timestamp"),
                                 req_header(rq, "webhook-signature"), rq->body, rq->body_len,
                                 time(NULL), WEBHOOK_TOLERANCE))
        return req_fail(rq, RV_E_UNAUTHORIZED, "bad or stale webhook signature");
    if (!req_is_uuid(job) || !token || strlen(token) > 64)
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    json_object *body;
    rv_err er = bind_parse(rq, &body);
    if (er != RV_OK)
        return er;
    const char *p[] = {req_header(rq, "webhook-id"), job, token, rq->body};
    PGresult *r;
    if ((er = db_query(rq, &receive, p, &r)) != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (status && !strcmp(status, "bad_token"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    return resp_empty(rq, 204);
}

static const rv_endpoint endpoint = {
    .name = "webhook_replicate",
    .route = "/webhooks/replicate",
    .methods = RV_POST,
    .flags = RV_RAW_BODY,
    .body_limit = 256 * 1024,
    .handle = webhook_replicate,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
