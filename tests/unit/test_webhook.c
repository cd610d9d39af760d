/* webhook: Standard Webhooks signatures (Replicate). */
#include "unit.h"

#include <sodium.h>

#include "webhook.h"

static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char body[] = "{\"id\":\"p1\",\"status\":\"succeeded\"}";

static void sign(const char *id, const char *ts, const char *b, char out[128])
{
    assert_true(webhook_sign_standard(secret, id, ts, b, strlen(b), out, 128));
}

static void test_roundtrip(void **state)
{
    (void)state;
    char sig[128];
    sign("msg_1", "1800000000", body, sig);
    assert_true(webhook_verify_standard(secret, "msg_1", "1800000000", sig, body, strlen(body),
                                        1800000000, WEBHOOK_TOLERANCE));
}

/* The Standard Webhooks (svix) published test vector, also checked with Python's hmac,
 * so sign and verify cannot agree on a wrong recipe. */
static void test_known_vector(void **state)
{
    (void)state;
    const char *sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const char *payload = "{\"test\": 2432232314}";
    assert_true(webhook_verify_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                        "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig, payload,
                                        strlen(payload), 1614265330, 300));
}

static void test_rejections(void **state)
{
    (void)state;
    char sig[128];
    sign("msg_1", "1800000000", body, sig);
    size_t n = strlen(body);
    /* stale and future beyond tolerance */
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", sig, body, n, 1800000301, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", sig, body, n, 1799999699, 300));
    assert_true(
        webhook_verify_standard(secret, "msg_1", "1800000000", sig, body, n, 1800000300, 300));
    /* tampered body, other id, other timestamp, other key */
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", sig, "{}", 2, 1800000000, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_2", "1800000000", sig, body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000001", sig, body, n, 1800000001, 300));
    assert_false(webhook_verify_standard("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "msg_1",
                                         "1800000000", sig, body, n, 1800000000, 300));
    /* missing parts and garbage */
    assert_false(
        webhook_verify_standard(secret, NULL, "1800000000", sig, body, n, 1800000000, 300));
    assert_false(webhook_verify_standard(secret, "msg_1", NULL, sig, body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", NULL, body, n, 1800000000, 300));
    assert_false(webhook_verify_standard(secret, "msg_1", "12ab", sig, body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", "v1,", body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", "v2,abc", body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard(secret, "msg_1", "1800000000", sig + 3, body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard("whsec_!!!", "msg_1", "1800000000", sig, body, n, 1800000000, 300));
    assert_false(
        webhook_verify_standard(NULL, "msg_1", "1800000000", sig, body, n, 1800000000, 300));
}

static void test_several_signatures(void **state)
{
    (void)state;
    char sig[128], list[400];
    sign("msg_1", "1800000000", body, sig);
    snprintf(list, sizeof list, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,xyz %s", sig);
    assert_true(webhook_verify_standard(secret, "msg_1", "1800000000", list, body, strlen(body),
                                        1800000000, 300));
    snprintf(list, sizeof list, "%s  v1,AAAA", sig);
    assert_true(webhook_verify_standard(secret, "msg_1", "1800000000", list, body, strlen(body),
                                        1800000000, 300));
}

/* Regression: a timestamp at the ends of long made labs(now - ts) overflow (UBSan
 * aborted the handler). Refused, whatever the clock says. */
static void test_extreme_timestamps(void **state)
{
    (void)state;
    static const char *const stamps[] = {"-9223372036854775808",
                                         "9223372036854775807",
                                         "-9223372036854775807",
                                         "9223372036854775808",
                                         "-1",
                                         "0"};
    for (size_t i = 0; i < N_ELEMS(stamps); i++) {
        char sig[128];
        sign("msg_1", stamps[i], body, sig);
        assert_false(webhook_verify_standard(secret, "msg_1", stamps[i], sig, body, strlen(body),
                                             1800000000, 300));
        /* A clock at the end of time_t: only the timestamp as extreme is fresh. */
        assert_int_equal(webhook_verify_standard(secret, "msg_1", stamps[i], sig, body,
                                                 strlen(body), (time_t)0x7fffffffffffffffLL, 300),
                         !strcmp(stamps[i], "9223372036854775807"));
    }
}

/* A secret that decodes to fewer than 24 bytes is refused, even when the signature
 * was made with it. */
static void test_short_secret(void **state)
{
    (void)state;
    static const char *const weak[] = {"whsec_AAAA", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZI", "whsec_", "",
                                       "MfKQ"};
    for (size_t i = 0; i < N_ELEMS(weak); i++) {
        char sig[128] = "v1,AAAA";
        (void)webhook_sign_standard(weak[i], "msg_1", "1800000000", body, strlen(body), sig,
                                    sizeof sig);
        assert_false(webhook_verify_standard(weak[i], "msg_1", "1800000000", sig, body,
                                             strlen(body), 1800000000, 300));
        assert_false(webhook_secret_valid(weak[i]));
    }
    assert_true(webhook_secret_valid(secret));
    assert_true(webhook_secret_valid(secret + 6)); /* bare base64 */
    assert_false(webhook_secret_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),          cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_rejections),         cmocka_unit_test(test_several_signatures),
        cmocka_unit_test(test_extreme_timestamps), cmocka_unit_test(test_short_secret),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}
