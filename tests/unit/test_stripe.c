/* stripe: Stripe-Signature (Stripe's published algorithm, and a vector made with
 * Stripe's own library), form encoding, Checkout Session requests and answers. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "stripe.h"

static const char secret[] = "whsec_test_0123456789abcdefghijkl";
static const char body[] = "{\"id\":\"evt_1\",\"type\":\"checkout.session.completed\"}";

static void header_for(long t, const char *b, char out[128])
{
    assert_true(stripe_sign(secret, t, b, strlen(b), out, 128));
}

/* tests/unit/data/stripe_signature.txt: made by stripe-node's
 * webhooks.generateTestHeaderString (see data/README.md), so our verification is
 * checked against Stripe's own code, not only against our signer. */
static void test_stripe_library_vector(void **state)
{
    (void)state;
    char path[512], line[2048], sec[128] = "", hdr[256] = "", payload[1024] = "";
    long ts = 0;
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof path, "%.*sdata/stripe_signature.txt",
             slash ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (run from the repository root)", path);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "secret ", 7))
            snprintf(sec, sizeof sec, "%.127s", line + 7);
        else if (!strncmp(line, "timestamp ", 10))
            ts = strtol(line + 10, NULL, 10);
        else if (!strncmp(line, "header ", 7))
            snprintf(hdr, sizeof hdr, "%.255s", line + 7);
        else if (!strncmp(line, "payload ", 8))
            snprintf(payload, sizeof payload, "%.1023s", line + 8);
    }
    fclose(f);
    assert_true(*sec && ts > 0 && *hdr && *payload);
    assert_true(stripe_verify_signature(sec, hdr, payload, strlen(payload), ts, 300));
    assert_true(stripe_verify_signature(sec, hdr, payload, strlen(payload), ts + 300, 300));
    assert_false(stripe_verify_signature(sec, hdr, payload, strlen(payload), ts + 301, 300));
    /* Our signer makes exactly Stripe's header. */
    char mine[128];
    assert_true(stripe_sign(sec, ts, payload, strlen(payload), mine, sizeof mine));
    assert_string_equal(mine, hdr);
    /* The key is the whole whsec_ string, not its base64 decoding nor its tail. */
    assert_false(stripe_verify_signature(sec + 6, hdr, payload, strlen(payload), ts, 300));
}

static void test_roundtrip_and_every_v1(void **state)
{
    (void)state;
    char h[128], two[300];
    header_for(1800000000, body, h);
    size_t n = strlen(body);
    assert_true(stripe_verify_signature(secret, h, body, n, 1800000000, STRIPE_TOLERANCE));
    /* Rolling secrets: Stripe sends one v1 per secret; any may match, in any place. */
    snprintf(two, sizeof two, "t=1800000000,v1=%064d,%s,v0=abc", 0, h + strlen("t=1800000000,"));
    assert_true(stripe_verify_signature(secret, two, body, n, 1800000000, 300));
    snprintf(two, sizeof two, "%s,v1=%064d", h, 7);
    assert_true(stripe_verify_signature(secret, two, body, n, 1800000000, 300));
}

static void test_rejections(void **state)
{
    (void)state;
    char h[128], v[300];
    header_for(1800000000, body, h);
    const char *sig = strstr(h, "v1=") + 3;
    size_t n = strlen(body);
    /* stale, and from the future, beyond the tolerance */
    assert_false(stripe_verify_signature(secret, h, body, n, 1800000301, 300));
    assert_false(stripe_verify_signature(secret, h, body, n, 1799999699, 300));
    /* a changed body, another secret, another timestamp with the same signature */
    assert_false(stripe_verify_signature(secret, h, "{\"id\":\"evt_2\"}", 13, 1800000000, 300));
    assert_false(stripe_verify_signature("whsec_other", h, body, n, 1800000000, 300));
    snprintf(v, sizeof v, "t=1800000001,v1=%s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    /* v0 only (the test-mode scheme Stripe's libraries never accept) */
    snprintf(v, sizeof v, "t=1800000000,v0=%s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    /* no timestamp, no signature, a timestamp that is no number or overflows */
    snprintf(v, sizeof v, "v1=%s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    assert_false(stripe_verify_signature(secret, "t=1800000000", body, n, 1800000000, 300));
    snprintf(v, sizeof v, "t=18e8,v1=%s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    snprintf(v, sizeof v, "t=99999999999999999999,v1=%s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    snprintf(v, sizeof v, "t=-9223372036854775808,v1=%s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    /* upper-case hex, a short or long signature */
    snprintf(v, sizeof v, "t=1800000000,v1=%.63s", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    snprintf(v, sizeof v, "t=1800000000,v1=%s0", sig);
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    snprintf(v, sizeof v, "t=1800000000,v1=%s", sig);
    for (char *p = v; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_false(stripe_verify_signature(secret, v, body, n, 1800000000, 300));
    /* nothing at all */
    assert_false(stripe_verify_signature(secret, NULL, body, n, 1800000000, 300));
    assert_false(stripe_verify_signature(secret, "", body, n, 1800000000, 300));
    assert_false(stripe_verify_signature(NULL, h, body, n, 1800000000, 300));
    assert_false(stripe_verify_signature("", h, body, n, 1800000000, 300));
}

static void test_form_encoding(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *f = stripe_form_add(a, NULL, "mode", "payment");
    assert_string_equal(f, "mode=payment");
    f = stripe_form_add(a, f, "metadata[payment_id]", "a b&c=d+e/f?g#h%i");
    assert_string_equal(f,
                        "mode=payment&metadata%5Bpayment_id%5D=a%20b%26c%3Dd%2Be%2Ff%3Fg%23h%25i");
    /* UTF-8 bytes, unreserved characters kept, an empty value */
    assert_string_equal(stripe_form_add(a, "", "n", "Caf\xc3\xa9 -._~"), "n=Caf%C3%A9%20-._~");
    assert_string_equal(stripe_form_add(a, NULL, "k", ""), "k=");
    arena_free(a);
}

static void test_session_create_request(void **state)
{
    (void)state;
    char why[256];
    setenv("RV_STRIPE_URL", "http://stripe.test", 1);
    setenv("RV_STRIPE_SECRET_KEY", "sk_test_unit", 1);
    setenv("RV_PUBLIC_URL", "https://studio.test", 1);
    assert_true(config_load(false, why, sizeof why));
    arena *a = arena_new();
    stripe_checkout co = {.payment_id = "11111111-2222-4333-8444-555555555555",
                          .idempotency_key = "rv-checkout-1",
                          .pack_id = "starter",
                          .pack_name = "Pack & mode=subscription",
                          .currency = "usd",
                          .amount_cents = 500,
                          .credits = 500};
    http_call c;
    stripe_build_session_create(a, &co, &c);
    assert_string_equal(c.method, "POST");
    assert_string_equal(c.url, "http://stripe.test/v1/checkout/sessions");
    assert_non_null(strstr(c.body, "mode=payment&"));
    /* a name cannot add a parameter */
    assert_non_null(strstr(c.body, "%5Bname%5D=Pack%20%26%20mode%3Dsubscription&"));
    assert_null(strstr(c.body, "mode=subscription"));
    assert_non_null(strstr(c.body, "client_reference_id=11111111-2222-4333-8444-555555555555"));
    assert_non_null(
        strstr(c.body, "metadata%5Bpayment_id%5D=11111111-2222-4333-8444-555555555555"));
    assert_non_null(strstr(c.body, "%5Bunit_amount%5D=500&"));
    assert_non_null(strstr(c.body, "%5Bcurrency%5D=usd&"));
    assert_non_null(strstr(c.body, "success_url=https%3A%2F%2Fstudio.test%2Fcredits%3F"));
    assert_non_null(strstr(c.body, "cancel_url=https%3A%2F%2Fstudio.test%2Fcredits%3F"));
    bool idem = false, auth = false, form = false;
    for (int i = 0; c.headers[i]; i++) {
        idem |= !strcmp(c.headers[i], "Idempotency-Key: rv-checkout-1");
        auth |= !strcmp(c.headers[i], "Authorization: Bearer sk_test_unit");
        form |= !strcmp(c.headers[i], "Content-Type: application/x-www-form-urlencoded");
    }
    assert_true(idem && auth && form);
    stripe_build_session_get(a, "cs_test_1", &c);
    assert_string_equal(c.url, "http://stripe.test/v1/checkout/sessions/cs_test_1");
    stripe_build_events_missed(a, &c);
    assert_non_null(strstr(c.url, "/v1/events?delivery_success=false&"));
    assert_non_null(strstr(c.url, "types%5B%5D=charge.refunded"));
    arena_free(a);
    unsetenv("RV_STRIPE_URL");
    unsetenv("RV_STRIPE_SECRET_KEY");
    unsetenv("RV_PUBLIC_URL");
}

static void test_read_session(void **state)
{
    (void)state;
    stripe_session s;
    json_object *o = json_tokener_parse(
        "{\"id\":\"cs_test_1\",\"status\":\"complete\",\"payment_status\":\"paid\","
        "\"amount_total\":500,\"currency\":\"usd\",\"payment_intent\":\"pi_1\","
        "\"client_reference_id\":\"ref\",\"metadata\":{\"payment_id\":\"meta\"},\"url\":null}");
    assert_true(stripe_read_session(o, &s));
    assert_string_equal(s.payment_id, "meta");
    assert_string_equal(s.payment_status, "paid");
    assert_int_equal(s.amount_total, 500);
    assert_null(s.url);
    json_object_put(o);
    o = json_tokener_parse(
        "{\"id\":\"cs_1\",\"client_reference_id\":\"ref\",\"amount_total\":\"5\"}");
    assert_true(stripe_read_session(o, &s));
    assert_string_equal(s.payment_id, "ref");
    assert_int_equal(s.amount_total, -1);
    json_object_put(o);
    o = json_tokener_parse("{\"id\":\"cs/../x\"}");
    assert_false(stripe_read_session(o, &s));
    json_object_put(o);
    assert_false(stripe_read_session(NULL, &s));
    assert_true(stripe_id_valid("cs_test_a1"));
    assert_false(stripe_id_valid(""));
    assert_false(stripe_id_valid("cs-1"));
    assert_false(stripe_id_valid(NULL));
}

/* A webhook secret that is not Stripe's kind, or a reconcile delay out of bounds,
 * keeps every binary from starting (exit 78), never a silent default. */
static void test_config(void **state)
{
    (void)state;
    char why[256];
    setenv("RV_STRIPE_WEBHOOK_SECRET", "not-a-whsec-secret", 1);
    assert_false(config_load(false, why, sizeof why));
    assert_non_null(strstr(why, "RV_STRIPE_WEBHOOK_SECRET"));
    setenv("RV_STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef", 1);
    assert_true(config_load(false, why, sizeof why));
    assert_int_equal(config->stripe_reconcile_after, 300);
    setenv("RV_STRIPE_RECONCILE_AFTER", "0", 1);
    assert_false(config_load(false, why, sizeof why));
    unsetenv("RV_STRIPE_RECONCILE_AFTER");
    unsetenv("RV_STRIPE_WEBHOOK_SECRET");
    assert_true(config_load(false, why, sizeof why));
    assert_false(stripe_available());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stripe_library_vector),
        cmocka_unit_test(test_roundtrip_and_every_v1),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_form_encoding),
        cmocka_unit_test(test_session_create_request),
        cmocka_unit_test(test_read_session),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
