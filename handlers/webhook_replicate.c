/* POST /webhooks/replicate?job=ID&token=T — public, signed (Standard Webhooks).
 *
 * Verifies the signature over the raw body with the secret the poller stored
 * (webhook_secret.h: never a provider call from here), stores the event in the
 * inbox (unique per webhook-id; \u0000 and lone surrogates, which jsonb refuses,
 * stored as U+FFFD), wakes the poller and answers at once:
 * 204 stored or already seen; 401 bad or stale signature; 404 unknown job or token;
 * 400 body not a JSON object; 503 no secret known yet (the provider retries) or
 * database down. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bind.h"
#include "db.h"
#include "log.h"
#include "pgjson.h"
#include "resp.h"
#include "serve.h"
#include "webhook.h"
#include "webhook_secret.h"

static const db_stmt receive = {"SELECT rv_webhook_receive('replicate', $1, $2, $3, $4::jsonb)", 4};

static bool verified(rv_req *rq, const char *key)
{
    return webhook_verify_standard(
        key, req_header(rq, "webhook-id"), req_header(rq, "webhook-timestamp"),
        req_header(rq, "webhook-signature"), rq->body, rq->body_len, time(NULL), WEBHOOK_TOLERANCE);
}

static rv_err webhook_replicate(rv_req *rq)
{
    const char *job = req_query(rq, "job"), *token = req_query(rq, "token");
    const char *key;
    rv_err er = webhook_secret_get(rq, "replicate", false, &key);
    if (er != RV_OK)
        return er;
    bool ok = key && verified(rq, key);
    if (!ok && key) { /* the secret may have been rotated since we read it */
        const char *held = arena_strdup(rq->a, key);
        if ((er = webhook_secret_get(rq, "replicate", true, &key)) != RV_OK)
            return er;
        ok = key && strcmp(key, held) && verified(rq, key);
    }
    if (!key)
        return req_fail(rq, RV_E_UNAVAILABLE, "the webhook secret is not known yet");
    if (!ok)
        return req_fail(rq, RV_E_UNAUTHORIZED, "bad or stale webhook signature");
    if (!req_is_uuid(job) || !token || strlen(token) > 64)
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    const char *event = req_header(rq, "webhook-id");
    if (!bind_utf8_valid(event, strlen(event)))
        return req_fail(rq, RV_E_MALFORMED_JSON, "the webhook-id is not valid UTF-8");
    json_object *body;
    if ((er = bind_parse(rq, &body)) != RV_OK)
        return er;
    /* Valid JSON that jsonb refuses (\u0000, a lone surrogate): stored with U+FFFD. */
    char *payload;
    int replaced = pgjson_clean(rq->a, rq->body, rq->body_len, &payload);
    if (replaced < 0)
        return req_fail(rq, RV_E_MALFORMED_JSON, "body is not valid JSON");
    if (replaced > 0)
        log_msg(LOG_WARN, "webhook %s: %d escapes the database cannot store were replaced", event,
                replaced);
    const char *p[] = {event, job, token, payload};
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
