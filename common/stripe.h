/* stripe.h — Stripe's wire protocol: form-encoded requests, Checkout Sessions,
 * the events listing and the Stripe-Signature header of its webhooks.
 *
 * Requests are built into http_calls (http.h) for the caller to run; answers are
 * read from them. Strings handed out live in the given arena. Base URL, secret key
 * and webhook secret come from config (RV_STRIPE_URL, RV_STRIPE_SECRET_KEY,
 * RV_STRIPE_WEBHOOK_SECRET). */
#ifndef RV_STRIPE_H
#define RV_STRIPE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "arena.h"
#include "http.h"

enum { STRIPE_TOLERANCE = 300 /* seconds a signature's t= may be from now */ };

/* Whether Stripe is configured (a secret key). */
bool stripe_available(void);

/* form + "key=value" ("&" between pairs), both percent-encoded by libcurl
 * (curl_easy_escape: everything but ALPHA / DIGIT / "-._~"). form NULL or "" starts
 * a new one. Returns a new arena string. */
char *stripe_form_add(arena *a, const char *form, const char *key, const char *value);

/* Verifies a Stripe-Signature header ("t=…,v1=…[,v1=…][,v0=…]") over the raw body:
 * each v1 is the hex HMAC-SHA256 of "t.body" keyed with the whole secret string
 * ("whsec_…", as Stripe's libraries use it), compared in constant time; any v1 may
 * match, v0 never counts; t must be within tolerance seconds of now. Any NULL
 * argument → false. */
bool stripe_verify_signature(const char *secret, const char *header, const char *body,
                             size_t body_len, time_t now, long tolerance);

/* Writes "t=<t>,v1=<hex>" for body into out (≥ 80 bytes). For tests. */
bool stripe_sign(const char *secret, long t, const char *body, size_t body_len, char *out,
                 size_t out_len);

/* What a Checkout Session is asked for. */
typedef struct stripe_checkout {
    const char *payment_id;      /* ours: client_reference_id and metadata[payment_id] */
    const char *idempotency_key; /* sent on every try of this create */
    const char *pack_id, *pack_name, *currency;
    long amount_cents, credits;
} stripe_checkout;

/* A Checkout Session as Stripe shows it; NULL for what it left out. */
typedef struct stripe_session {
    const char *id, *url, *status /* open|complete|expired */,
        *payment_status /* paid|unpaid|no_payment_required */, *payment_intent, *currency,
        *payment_id /* metadata[payment_id], else client_reference_id */;
    long amount_total; /* -1 when absent */
} stripe_session;

/* POST /v1/checkout/sessions, mode=payment, one line item with price_data; the
 * success and cancel URLs are under RV_PUBLIC_URL. */
void stripe_build_session_create(arena *a, const stripe_checkout *co, http_call *c);
/* GET /v1/checkout/sessions/{id} (id must be prov_id_valid-like: checked by the
 * caller). */
void stripe_build_session_get(arena *a, const char *session_id, http_call *c);
/* GET /v1/events?delivery_success=false&types[]=… (the kinds Reelvox acts on). */
void stripe_build_events_missed(arena *a, http_call *c);

/* Reads a Checkout Session object (an answer or an event's data.object). False when
 * o is not one (no id). */
bool stripe_read_session(json_object *o, stripe_session *s);

/* The session in a create or get answer (status 200). False otherwise. */
bool stripe_session_answer(arena *a, const http_call *c, stripe_session *s);

/* Whether id looks like a Stripe object id: [A-Za-z0-9_]{1,255}. */
bool stripe_id_valid(const char *id);

/* How a create went after its tries. */
typedef enum {
    STRIPE_CREATED,     /* s filled */
    STRIPE_REFUSED,     /* a 4xx: nothing was made; message set */
    STRIPE_UNREACHABLE, /* no answer or 5xx after every try: something may exist */
} stripe_outcome;

/* Creates the session of co: up to `tries` calls (at least 1), the same
 * Idempotency-Key each time, waiting a little between them (Retry-After honoured up
 * to 2 s). *message: why, for a refusal or no answer (never the key). */
stripe_outcome stripe_create_session(arena *a, const stripe_checkout *co, int tries,
                                     stripe_session *s, const char **message);

#endif
