/* POST /webhooks/stripe — public, signed (Stripe-Signature).
 *
 * The signature is checked over the raw body before anything else (stripe.h: every
 * v1, the whsec_ secret, 300 s, constant time); the event then goes to the webhook
 * inbox (once per event id) and the poller is woken: it re-reads the session from
 * Stripe and moves the payment (work_stripe.c). Nothing is credited here, and what
 * the event says is not trusted beyond its id and type.
 * 200 {"received": true} stored or already seen (a replay changes nothing); 401 bad,
 * stale or v0-only signature (nothing stored); 400 not a JSON event; 405, 413;
 * 503 no webhook secret configured, or database down (Stripe retries). */
#include <string.h>
#include <time.h>

#include "bind.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "pgjson.h"
#include "resp.h"
#include "serve.h"
#include "stripe.h"

static const db_stmt store = {"SELECT rv_stripe_event_store($1, $2::jsonb)", 2};

static const char *member(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static rv_err webhook_stripe(rv_req *rq)
{
    if (!config->stripe_webhook_secret)
        return req_fail(rq, RV_E_UNAVAILABLE, "the Stripe webhook secret is not configured");
    if (!stripe_verify_signature(config->stripe_webhook_secret, req_header(rq, "Stripe-Signature"),
                                 rq->body ? rq->body : "", rq->body_len, time(NULL),
                                 STRIPE_TOLERANCE))
        return req_fail(rq, RV_E_UNAUTHORIZED, "bad or stale Stripe-Signature");
    json_object *event;
    rv_err er = bind_parse(rq, &event);
    if (er != RV_OK)
        return er;
    const char *id = json_object_is_type(event, json_type_object) ? member(event, "id") : NULL;
    const char *type = id ? member(event, "type") : NULL;
    if (!id || !type || !stripe_id_valid(id))
        return req_fail(rq, RV_E_MALFORMED_JSON, "not a Stripe event");
    char *payload;
    if (pgjson_clean(rq->a, rq->body, rq->body_len, &payload) < 0)
        return req_fail(rq, RV_E_MALFORMED_JSON, "body is not valid JSON");
    PGresult *r;
    if ((er = db_query(rq, &store, (const char *[]){id, payload}, &r)) != RV_OK)
        return er;
    if (!strcmp(db_get(r, 0, 0), "duplicate"))
        log_msg(LOG_INFO, "stripe event %s (%.64s) seen before", id, type);
    return resp_json(rq, 200, "{\"received\":true}");
}

static const rv_endpoint endpoint = {
    .name = "webhook_stripe",
    .route = "/webhooks/stripe",
    .methods = RV_POST,
    .flags = RV_RAW_BODY,
    .body_limit = 512 * 1024,
    .handle = webhook_stripe,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
