#include "stripe.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

bool stripe_available(void)
{
    return config->stripe_secret_key != NULL;
}

static char *escaped(arena *a, const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    if (!e)
        abort(); /* out of memory ends the process (STYLE.md) */
    char *out = arena_strdup(a, e);
    curl_free(e);
    return out;
}

char *stripe_form_add(arena *a, const char *form, const char *key, const char *value)
{
    return arena_printf(a, "%s%s%s=%s", form ? form : "", form && *form ? "&" : "", escaped(a, key),
                        escaped(a, value));
}

/* ------------------------------------------------------------------ signature */

static void hex_mac(const char *secret, const char *t, size_t t_len, const char *body,
                    size_t body_len, char hex[65])
{
    unsigned char m[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, t_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, m);
    sodium_bin2hex(hex, 65, m, sizeof m);
}

bool stripe_sign(const char *secret, long t, const char *body, size_t body_len, char *out,
                 size_t out_len)
{
    char ts[32], hex[65];
    if (!secret || !body || out_len < 80)
        return false;
    int n = snprintf(ts, sizeof ts, "%ld", t);
    hex_mac(secret, ts, (size_t)n, body, body_len, hex);
    snprintf(out, out_len, "t=%s,v1=%s", ts, hex);
    return true;
}

bool stripe_verify_signature(const char *secret, const char *header, const char *body,
                             size_t body_len, time_t now, long tolerance)
{
    if (!secret || !*secret || !header || !body || tolerance < 0 || strlen(header) > 4096)
        return false;
    /* The first t= is the timestamp (as Stripe's libraries read it); every v1= is a
     * candidate. Other schemes (v0) are ignored. */
    const char *t = NULL;
    size_t t_len = 0;
    for (const char *p = header; *p;) {
        size_t n = strcspn(p, ",");
        if (!t && n > 2 && !strncmp(p, "t=", 2)) {
            t = p + 2;
            t_len = n - 2;
        }
        p += n + (p[n] == ',');
    }
    if (!t || t_len == 0 || t_len > 19 || strspn(t, "0123456789") < t_len)
        return false;
    char ts[20];
    memcpy(ts, t, t_len);
    ts[t_len] = '\0';
    errno = 0;
    long long tv = strtoll(ts, NULL, 10);
    long long age;
    if (errno || __builtin_sub_overflow((long long)now, tv, &age) || age > tolerance ||
        age < -tolerance)
        return false;
    char want[65];
    hex_mac(secret, ts, t_len, body, body_len, want);
    bool ok = false;
    for (const char *p = header; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 3 + 64 && !strncmp(p, "v1=", 3))
            ok |= sodium_memcmp(p + 3, want, 64) == 0;
        p += n + (p[n] == ',');
    }
    sodium_memzero(want, sizeof want);
    return ok;
}

/* ------------------------------------------------------------------ calls */

static void auth(arena *a, http_call *c, const char *idempotency_key)
{
    int i = 0;
    c->headers[i++] = arena_printf(a, "Authorization: Bearer %s",
                                   config->stripe_secret_key ? config->stripe_secret_key : "");
    c->headers[i++] = "Stripe-Version: 2024-06-20";
    if (c->body)
        c->headers[i++] = "Content-Type: application/x-www-form-urlencoded";
    if (idempotency_key)
        c->headers[i++] = arena_printf(a, "Idempotency-Key: %s", idempotency_key);
    c->headers[i] = NULL;
}

void stripe_build_session_create(arena *a, const stripe_checkout *co, http_call *c)
{
    char *f = stripe_form_add(a, NULL, "mode", "payment");
    f = stripe_form_add(a, f, "client_reference_id", co->payment_id);
    f = stripe_form_add(a, f, "metadata[payment_id]", co->payment_id);
    f = stripe_form_add(a, f, "metadata[pack_id]", co->pack_id);
    f = stripe_form_add(a, f, "line_items[0][quantity]", "1");
    f = stripe_form_add(a, f, "line_items[0][price_data][currency]", co->currency);
    f = stripe_form_add(a, f, "line_items[0][price_data][unit_amount]",
                        arena_printf(a, "%ld", co->amount_cents));
    f = stripe_form_add(a, f, "line_items[0][price_data][product_data][name]", co->pack_name);
    f = stripe_form_add(a, f, "line_items[0][price_data][product_data][description]",
                        arena_printf(a, "%ld credits", co->credits));
    f = stripe_form_add(a, f, "payment_intent_data[metadata][payment_id]", co->payment_id);
    f = stripe_form_add(a, f, "success_url",
                        arena_printf(a, "%s/credits?payment=%s&checkout=success",
                                     config->public_url, co->payment_id));
    f = stripe_form_add(a, f, "cancel_url",
                        arena_printf(a, "%s/credits?payment=%s&checkout=cancel", config->public_url,
                                     co->payment_id));
    memset(c, 0, sizeof *c);
    c->method = "POST";
    c->url = arena_printf(a, "%s/v1/checkout/sessions", config->stripe_url);
    c->body = f;
    c->timeout_ms = 10000;
    auth(a, c, co->idempotency_key);
}

void stripe_build_session_get(arena *a, const char *session_id, http_call *c)
{
    memset(c, 0, sizeof *c);
    c->method = "GET";
    c->url = arena_printf(a, "%s/v1/checkout/sessions/%s", config->stripe_url, session_id);
    c->timeout_ms = 10000;
    auth(a, c, NULL);
}

void stripe_build_events_missed(arena *a, http_call *c)
{
    static const char *const types[] = {"checkout.session.completed",
                                        "checkout.session.async_payment_succeeded",
                                        "checkout.session.async_payment_failed",
                                        "checkout.session.expired",
                                        "charge.refunded",
                                        "charge.dispute.created"};
    char *q = stripe_form_add(a, NULL, "delivery_success", "false");
    q = stripe_form_add(a, q, "limit", "100");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        q = stripe_form_add(a, q, "types[]", types[i]);
    memset(c, 0, sizeof *c);
    c->method = "GET";
    c->url = arena_printf(a, "%s/v1/events?%s", config->stripe_url, q);
    c->timeout_ms = 10000;
    auth(a, c, NULL);
}

bool stripe_id_valid(const char *id)
{
    size_t n =
        id ? strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") : 0;
    return n >= 1 && n <= 255 && id[n] == '\0';
}

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

bool stripe_read_session(json_object *o, stripe_session *s)
{
    memset(s, 0, sizeof *s);
    s->amount_total = -1;
    if (!o || !json_object_is_type(o, json_type_object))
        return false;
    s->id = str(o, "id");
    s->url = str(o, "url");
    s->status = str(o, "status");
    s->payment_status = str(o, "payment_status");
    s->payment_intent = str(o, "payment_intent");
    s->currency = str(o, "currency");
    json_object *md, *amt;
    if (json_object_object_get_ex(o, "metadata", &md))
        s->payment_id = str(md, "payment_id");
    if (!s->payment_id)
        s->payment_id = str(o, "client_reference_id");
    if (json_object_object_get_ex(o, "amount_total", &amt) &&
        json_object_is_type(amt, json_type_int))
        s->amount_total = (long)json_object_get_int64(amt);
    return stripe_id_valid(s->id);
}

static void put_json(void *o)
{
    json_object_put(o);
}

bool stripe_session_answer(arena *a, const http_call *c, stripe_session *s)
{
    if (c->status != 200 || !c->resp)
        return false;
    json_object *o = json_tokener_parse(c->resp);
    if (!o)
        return false;
    arena_defer(a, put_json, o);
    return stripe_read_session(o, s);
}

/* Stripe's error message in a refusal, bounded; never the request. */
static const char *refusal(arena *a, const http_call *c)
{
    json_object *o = c->resp ? json_tokener_parse(c->resp) : NULL, *e;
    const char *m = NULL;
    if (o && json_object_object_get_ex(o, "error", &e))
        m = str(e, "message");
    char *out =
        arena_printf(a, "Stripe answered %ld%s%.200s", c->status, m ? ": " : "", m ? m : "");
    json_object_put(o);
    return out;
}

stripe_outcome stripe_create_session(arena *a, const stripe_checkout *co, int tries,
                                     stripe_session *s, const char **message)
{
    http_call c;
    *message = NULL;
    for (int i = 0; i < (tries < 1 ? 1 : tries); i++) {
        if (i > 0) {
            double wait = 0.25 * (double)(1 << i);
            if (c.retry_after > wait)
                wait = c.retry_after > 2 ? 2 : c.retry_after;
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        stripe_build_session_create(a, co, &c);
        http_run(a, &c, 1);
        if (stripe_session_answer(a, &c, s) && s->url)
            return STRIPE_CREATED;
        /* 409: another request with this Idempotency-Key is in flight at Stripe (a
         * client's retry): worth another try, never a refusal. */
        if (c.status >= 400 && c.status != 409 && !http_transient(&c)) {
            *message = refusal(a, &c);
            return STRIPE_REFUSED;
        }
        *message = c.status ? arena_printf(a, "Stripe answered %ld", c.status)
                            : arena_printf(a, "Stripe did not answer: %.200s", c.error);
    }
    return STRIPE_UNREACHABLE;
}
