/* work_stripe.c — payments: Stripe's events from the webhook inbox, and the
 * reconciliation that covers events that never came.
 *
 * An event is only a hint of which session or charge to look at; what moves a
 * payment is what Stripe says when asked (the session re-read with GET
 * /v1/checkout/sessions/{id}), or for a refund or dispute the signed event itself.
 * Every move is one SQL function that guards itself (sql/functions/payments.sql):
 * a payment is credited at most once whatever arrives how often, in whatever order,
 * to however many pollers at once. An event that cannot be settled yet (a refund
 * of a payment not credited yet, Stripe not answering) stays in the inbox and is
 * tried again at later sweeps, for up to RETRY_FOR seconds. */
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "stripe.h"
#include "work_internal.h"

enum { RETRY_FOR = 3600, BATCH = 50 };

static const db_stmt pending = {
    "SELECT id, event_id, payload::text, age_s FROM rv_stripe_events_pending($1)", 1};
static const db_stmt done = {"SELECT rv_webhooks_done($1::bigint[])", 1};
static const db_stmt of_session = {
    "SELECT payment_id, status, session_id FROM rv_payment_of_session($1, $2)", 2};
static const db_stmt fulfil = {"SELECT rv_payment_fulfil($1, $2, $3, $4, $5)", 5};
static const db_stmt close_payment = {"SELECT rv_payment_close($1, $2, $3)", 3};
static const db_stmt take_back = {
    "SELECT status, payment_id, taken, shortfall FROM rv_payment_take_back($1, $2, $3)", 3};
static const db_stmt store = {"SELECT rv_stripe_event_store($1, $2::jsonb)", 2};
static const db_stmt to_reconcile = {
    "SELECT payment_id, session_id FROM rv_payments_to_reconcile($1, $1, $2)", 2};

typedef enum { EV_DONE, EV_RETRY } ev_outcome;

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *get_str(json_object *o, const char *k)
{
    json_object *v = get(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Moves payment_id by what Stripe says of its session now (re-read). event_type:
 * the event that brought us here, NULL for the reconciliation. */
static ev_outcome settle_session(work_ctx *w, const char *payment_id, const char *session_id,
                                 const char *event_type)
{
    http_call c;
    stripe_session s;
    stripe_build_session_get(w->rq->a, session_id, &c);
    http_run(w->rq->a, &c, 1);
    if (c.status == 404) { /* nobody can pay a session Stripe does not know */
        log_msg(LOG_WARN, "payment %s: Stripe does not know session %s; failed", payment_id,
                session_id);
        const char *p[] = {payment_id, "failed", "Stripe does not know the checkout session"};
        return db_query(w->rq, &close_payment, p, NULL) == RV_OK ? EV_DONE : EV_RETRY;
    }
    if (!stripe_session_answer(w->rq->a, &c, &s) || strcmp(s.id, session_id)) {
        log_msg(LOG_WARN, "payment %s: session %s could not be read (%ld); later", payment_id,
                session_id, c.status);
        return EV_RETRY;
    }
    if (s.payment_id && strcmp(s.payment_id, payment_id)) {
        log_msg(LOG_ERROR, "payment %s: session %s names payment %s; nothing done", payment_id,
                session_id, s.payment_id);
        return EV_DONE;
    }
    bool paid = s.payment_status && (!strcmp(s.payment_status, "paid") ||
                                     !strcmp(s.payment_status, "no_payment_required"));
    PGresult *r;
    if (paid) {
        const char *p[] = {payment_id, s.id, s.payment_intent,
                           s.amount_total >= 0 ? work_num(w, s.amount_total) : NULL, s.currency};
        if (db_query(w->rq, &fulfil, p, &r) != RV_OK)
            return EV_RETRY;
        const char *st = db_get(r, 0, 0);
        if (!strcmp(st, "credited"))
            log_msg(LOG_INFO, "payment %s: paid, credited", payment_id);
        else if (!strcmp(st, "mismatch"))
            log_msg(LOG_ERROR,
                    "payment %s: session %s paid another amount or currency; not "
                    "credited",
                    payment_id, s.id);
        return EV_DONE;
    }
    const char *closing = NULL, *why = NULL;
    if (s.status && !strcmp(s.status, "expired"))
        closing = "expired", why = "the checkout session expired";
    else if (event_type && !strcmp(event_type, "checkout.session.async_payment_failed"))
        closing = "failed", why = "the payment failed";
    if (closing) {
        if (db_query(w->rq, &close_payment, (const char *[]){payment_id, closing, why}, &r) !=
            RV_OK)
            return EV_RETRY;
        if (!strcmp(db_get(r, 0, 0), "t"))
            log_msg(LOG_INFO, "payment %s: %s", payment_id, closing);
    }
    return EV_DONE; /* unpaid and open: a later event or the reconciliation settles it */
}

static ev_outcome on_session_event(work_ctx *w, const char *event, const char *type,
                                   json_object *object)
{
    stripe_session s;
    if (!stripe_read_session(object, &s)) {
        log_msg(LOG_WARN, "stripe event %s: no session in it", event);
        return EV_DONE;
    }
    PGresult *r;
    if (db_query(w->rq, &of_session, (const char *[]){s.id, s.payment_id}, &r) != RV_OK)
        return EV_RETRY;
    if (PQntuples(r) == 0) {
        log_msg(LOG_WARN, "stripe event %s: session %s is not one Reelvox made; ignored", event,
                s.id);
        return EV_DONE;
    }
    const char *status = db_get(r, 0, 1);
    if (!strcmp(status, "paid") || !strcmp(status, "refunded") || !strcmp(status, "disputed"))
        return EV_DONE; /* a replay, or an event after the one that settled it */
    return settle_session(w, db_get(r, 0, 0), s.id, type);
}

/* charge.refunded (a charge) and charge.dispute.created (a dispute): both name the
 * PaymentIntent, which the payment recorded when it was credited. */
static ev_outcome on_take_back(work_ctx *w, const char *event, const char *type,
                               json_object *object, long age_s)
{
    bool dispute = !strcmp(type, "charge.dispute.created");
    const char *intent = get_str(object, "payment_intent");
    double fraction = 1;
    if (!dispute) {
        json_object *amount = get(object, "amount"), *refunded = get(object, "amount_refunded");
        long total = amount ? (long)json_object_get_int64(amount) : 0;
        long back = refunded ? (long)json_object_get_int64(refunded) : 0;
        if (total > 0 && back > 0 && back < total)
            fraction = (double)back / (double)total;
    }
    if (!intent || !stripe_id_valid(intent)) {
        log_msg(LOG_WARN, "stripe event %s: no payment intent; ignored", event);
        return EV_DONE;
    }
    PGresult *r;
    const char *p[] = {intent, dispute ? "dispute" : "payment_refund",
                       arena_printf(w->rq->a, "%.6f", fraction)};
    if (db_query(w->rq, &take_back, p, &r) != RV_OK)
        return EV_RETRY;
    const char *st = db_get(r, 0, 0);
    if (!strcmp(st, "taken")) {
        log_msg(db_get_long(r, 0, 3) ? LOG_WARN : LOG_INFO,
                "payment %s: %s, %ld credits taken back, %ld short (account flagged if any)",
                db_get(r, 0, 1), dispute ? "disputed" : "refunded", db_get_long(r, 0, 2),
                db_get_long(r, 0, 3));
        return EV_DONE;
    }
    if (!strcmp(st, "already"))
        return EV_DONE;
    /* not_paid or not_found: the payment may not be credited yet (events come in any
     * order); an intent that is none of ours stops being tried after RETRY_FOR. */
    if (age_s < RETRY_FOR)
        return EV_RETRY;
    log_msg(LOG_WARN, "stripe event %s: intent %s is no payment Reelvox credited; ignored", event,
            intent);
    return EV_DONE;
}

static ev_outcome on_event(work_ctx *w, const char *event, json_object *e, long age_s)
{
    const char *type = get_str(e, "type");
    json_object *object = get(get(e, "data"), "object");
    if (!type || !object)
        return EV_DONE;
    if (!strncmp(type, "checkout.session.", 17))
        return on_session_event(w, event, type, object);
    if (!strcmp(type, "charge.refunded") || !strcmp(type, "charge.dispute.created"))
        return on_take_back(w, event, type, object, age_s);
    return EV_DONE; /* a kind Reelvox does not act on */
}

static int events_batch(work_ctx *w, int *seen)
{
    PGresult *r;
    if (db_query(w->rq, &pending, (const char *[]){work_num(w, BATCH)}, &r) != RV_OK)
        return 0;
    int n = PQntuples(r), n_done = 0;
    char *ids = arena_strdup(w->rq->a, "{");
    *seen = n;
    for (int i = 0; i < n; i++) {
        json_object *e = work_parse_kept(w, db_get(r, i, 2));
        if (on_event(w, db_get(r, i, 1), e, db_get_long(r, i, 3)) == EV_RETRY)
            continue;
        ids = arena_printf(w->rq->a, "%s%s%s", ids, n_done++ ? "," : "", db_get(r, i, 0));
    }
    if (n_done)
        (void)db_query(w->rq, &done, (const char *[]){arena_printf(w->rq->a, "%s}", ids)}, NULL);
    return n_done;
}

/* Events Stripe could not deliver to us, into the inbox (seen ones are ignored). */
static void list_missed(work_ctx *w)
{
    http_call c;
    stripe_build_events_missed(w->rq->a, &c);
    http_run(w->rq->a, &c, 1);
    json_object *o = c.status == 200 ? work_parse_kept(w, c.resp) : NULL;
    json_object *data = get(o, "data");
    if (!data || !json_object_is_type(data, json_type_array)) {
        if (c.status != 200)
            log_msg(LOG_WARN, "stripe: listing missed events: %ld", c.status);
        return;
    }
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(data, i);
        const char *id = get_str(e, "id");
        if (!id || !stripe_id_valid(id))
            continue;
        const char *p[] = {id, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN)};
        (void)db_query(w->rq, &store, p, NULL);
    }
}

/* Pending payments older than RV_STRIPE_RECONCILE_AFTER: their sessions re-read. */
static int reconcile(work_ctx *w)
{
    PGresult *r;
    const char *p[] = {work_num(w, config->stripe_reconcile_after), work_num(w, BATCH)};
    if (db_query(w->rq, &to_reconcile, p, &r) != RV_OK)
        return 0;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        const char *payment = db_get(r, i, 0), *session = db_get(r, i, 1);
        if (session) {
            settle_session(w, payment, session, NULL);
            continue;
        }
        /* Stripe's answer to its create never got recorded, so nobody was sent to
         * pay it. Closed; if money comes for it anyway, it is still credited. */
        const char *cp[] = {payment, "failed", "the checkout session was never recorded"};
        (void)db_query(w->rq, &close_payment, cp, NULL);
        log_msg(LOG_WARN, "payment %s: no session after %lds; failed", payment,
                config->stripe_reconcile_after);
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int work_pass_stripe(work_ctx *w)
{
    if (!stripe_available())
        return 0;
    int moved = 0, seen = 0;
    double t = now_s();
    if (w->stripe_last <= 0 || t - w->stripe_last >= (double)config->stripe_reconcile_after) {
        w->stripe_last = t;
        list_missed(w);
        moved += reconcile(w);
    }
    for (int round = 0; round < 20; round++) {
        int n = events_batch(w, &seen);
        moved += n;
        if (seen < BATCH || n == 0) /* the rest waits for a later sweep */
            break;
    }
    return moved;
}
