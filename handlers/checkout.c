/* POST /api/checkout — authenticated. Starts buying a credit pack.
 *
 * Body: {packId}; header Idempotency-Key? (the same key and pack answer the same
 * payment). 201 {paymentId, checkoutUrl}. 400, 401, 403 (admin_config.require_verified
 * and the email is not verified), 404 no such pack, 405, 409
 * idempotency_conflict (the key was used for another pack), 413, 415, 502
 * provider_error (Stripe refused: the payment is failed), 503 provider_unavailable
 * (Stripe is not configured, or did not answer: the payment stays pending and the
 * poller's reconciliation settles it) | unavailable.
 *
 * Why here and not in the poller (DESIGN.md: the poller alone talks to providers):
 * the client is redirected to the session's URL, so the answer to this request must
 * carry it, and a hop through the poller would only add its latency and a wait on
 * the queue to every purchase. It is safe to do here because nothing is lost when
 * this process dies at any point: the payment row is committed before Stripe is
 * asked (so a session always names a payment we know), every try carries the
 * payment's own Idempotency-Key (a retry — ours, or the client's with its
 * Idempotency-Key — can never make a second session for one payment), and no credit
 * moves here: only the poller credits, after re-reading the session from Stripe. A
 * payment whose session never got recorded is closed by the reconciliation
 * (work_stripe.c); if Stripe took money for it anyway, it is still credited. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "stripe.h"

enum { STRIPE_TRIES = 3 };

typedef struct {
    const char *pack_id;
} checkout_input;

static const bind_field fields[] = {
    {.name = "packId",
     .type = BIND_STRING,
     .offset = offsetof(checkout_input, pack_id),
     .required = true,
     .min = 1,
     .max = 64,
     .message = "must be 1 to 64 characters"},
};

static const db_stmt start = {
    "SELECT status, payment_id, idempotency_key, pack_name, credits, amount_cents, currency,"
    "       session_id, checkout_url, payment_status FROM rv_checkout_start($1, $2)",
    2};
static const db_stmt session_set = {"SELECT rv_checkout_session_set($1, $2, $3)", 3};
static const db_stmt refused = {"SELECT rv_checkout_failed($1, $2)", 2};

/* 1..255 visible ASCII characters, as API.md says. */
static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return n >= 1 && n <= 255;
}

static rv_err answer(rv_req *rq, const char *payment_id, const char *url)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "paymentId", json_object_new_string(payment_id));
    json_object_object_add(o, "checkoutUrl", json_object_new_string(url));
    return resp_jobj(rq, 201, o);
}

static rv_err checkout(rv_req *rq)
{
    checkout_input in = {0};
    const char *key = req_header(rq, "Idempotency-Key");
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (key && !key_ok(key))
        er = req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    if (er != RV_OK)
        return er;
    if (!stripe_available())
        return req_fail(rq, RV_E_PROVIDER_UNAVAILABLE, "payments are not configured");

    PGresult *r;
    if ((er = db_query(rq, &start, (const char *[]){in.pack_id, key}, &r)) != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0), *payment_id = db_get(r, 0, 1);
    if (!strcmp(status, "no_pack"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such credit pack");
    if (!strcmp(status, "unverified"))
        return req_fail(rq, RV_E_FORBIDDEN, "verify your email address before buying credits");
    if (!strcmp(status, "conflict"))
        return req_fail(rq, RV_E_IDEMPOTENCY_CONFLICT,
                        "this Idempotency-Key was used for another pack");
    if (!strcmp(status, "repeat") && db_get(r, 0, 8))
        return answer(rq, payment_id, db_get(r, 0, 8));
    if (!strcmp(status, "repeat") && strcmp(db_get(r, 0, 9), "pending"))
        return req_fail(rq, RV_E_INVALID_STATE, "this checkout failed; start a new one");

    stripe_checkout co = {.payment_id = payment_id,
                          .idempotency_key = db_get(r, 0, 2),
                          .pack_id = in.pack_id,
                          .pack_name = db_get(r, 0, 3),
                          .credits = db_get_long(r, 0, 4),
                          .amount_cents = db_get_long(r, 0, 5),
                          .currency = db_get(r, 0, 6)};
    stripe_session s;
    const char *why;
    switch (stripe_create_session(rq->a, &co, STRIPE_TRIES, &s, &why)) {
    case STRIPE_CREATED:
        break;
    case STRIPE_REFUSED:
        log_msg(LOG_ERROR, "checkout %s: %s", payment_id, why);
        (void)db_query(rq, &refused, (const char *[]){payment_id, why}, NULL);
        return req_fail(rq, RV_E_PROVIDER, "the payment provider refused the checkout");
    case STRIPE_UNREACHABLE:
        log_msg(LOG_WARN, "checkout %s: %s; left pending for reconciliation", payment_id, why);
        return req_fail(rq, RV_E_PROVIDER_UNAVAILABLE,
                        "the payment provider did not answer; try again");
    }
    if ((er = db_query(rq, &session_set, (const char *[]){payment_id, s.id, s.url}, &r)) != RV_OK)
        return er;
    if (strcmp(db_get(r, 0, 0), "ok")) {
        log_msg(LOG_ERROR, "checkout %s: Stripe answered session %s, the payment has another",
                payment_id, s.id);
        return req_fail(rq, RV_E_PROVIDER, "the payment provider answered inconsistently");
    }
    return answer(rq, payment_id, s.url);
}

static const rv_endpoint endpoint = {
    .name = "checkout",
    .route = "/api/checkout",
    .methods = RV_POST,
    .flags = RV_AUTH | RV_SOLO, /* waits on Stripe */
    .body_limit = 16 * 1024,
    .handle = checkout,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
