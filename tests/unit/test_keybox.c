/* keybox: users' secrets under crypto_secretbox, key ids and rotation; and
 * provkey_apply, which puts a user's key into a provider call. */
#include "unit.h"

#include "keybox.h"
#include "provider_keys.h"

/* base64 of 32 bytes each */
#define K1 "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define K2 "k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="

static void load(const char *spec)
{
    char why[256];
    if (!keybox_load(spec, why, sizeof why))
        fail_msg("keybox_load: %s", why);
}

static void test_seal_open(void **state)
{
    (void)state;
    arena *a = arena_new();
    load(K1);
    const char *id, *nonce, *ct;
    assert_true(keybox_seal(a, "u1/replicate", "r8_secret_value", &id, &nonce, &ct));
    assert_string_equal(id, "k1");
    assert_true(!strncmp(nonce, "\\x", 2) && strlen(nonce) == 2 + 48);
    assert_null(strstr(ct, "r8_secret"));
    assert_string_equal(keybox_open(a, "u1/replicate", id, nonce, ct), "r8_secret_value");
    assert_string_equal(keybox_open(a, "u1/replicate", id, nonce + 2, ct + 2), "r8_secret_value");
    /* another user or service, another key id, a changed byte: nothing */
    assert_null(keybox_open(a, "u2/replicate", id, nonce, ct));
    assert_null(keybox_open(a, "u1/openai", id, nonce, ct));
    assert_null(keybox_open(a, "u1", id, nonce, ct));
    assert_null(keybox_open(a, "u1/replicate", "k9", nonce, ct));
    char *bad = arena_strdup(a, ct);
    bad[10] = bad[10] == '0' ? '1' : '0';
    assert_null(keybox_open(a, "u1/replicate", id, nonce, bad));
    assert_null(keybox_open(a, "u1/replicate", id, nonce, "\\x00"));
    assert_null(keybox_open(a, "u1/replicate", id, "zz", ct));
    /* two seals of one secret differ (random nonces) */
    const char *id2, *nonce2, *ct2;
    assert_true(keybox_seal(a, "u1/replicate", "r8_secret_value", &id2, &nonce2, &ct2));
    assert_string_not_equal(ct, ct2);
    arena_free(a);
}

static void test_rotation(void **state)
{
    (void)state;
    arena *a = arena_new();
    load(K1);
    const char *id, *nonce, *ct;
    assert_true(keybox_seal(a, "u/runway", "old-key-123", &id, &nonce, &ct));
    load(K2 "," K1); /* a new current key; the old one still opens its own */
    assert_string_equal(keybox_open(a, "u/runway", id, nonce, ct), "old-key-123");
    const char *id2, *nonce2, *ct2;
    assert_true(keybox_seal(a, "u/runway", "new-key-456", &id2, &nonce2, &ct2));
    assert_string_equal(id2, "k2");
    load(K2); /* the old key retired: what it sealed no longer opens */
    assert_null(keybox_open(a, "u/runway", id, nonce, ct));
    assert_string_equal(keybox_open(a, "u/runway", id2, nonce2, ct2), "new-key-456");
    arena_free(a);
}

static void test_bad_specs(void **state)
{
    (void)state;
    char why[256];
    static const char *const bad[] = {
        "k1",                                            /* no key */
        "k1:",                                           /* empty key */
        "k1:MDEyMzQ1Njc4OWFiY2RlZg==",                   /* 16 bytes */
        ":MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", /* no id */
        "k 1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        K1 "," K1, /* the same id twice */
        K1 ",",    /* nothing after the comma is fine: checked below */
    };
    for (size_t i = 0; i + 1 < N_ELEMS(bad); i++) {
        assert_false(keybox_load(bad[i], why, sizeof why));
        assert_null(strstr(why, "MDEy")); /* no key material in the reason */
        assert_false(keybox_ready());
    }
    assert_true(keybox_load(bad[N_ELEMS(bad) - 1], why, sizeof why));
    assert_true(keybox_load(NULL, why, sizeof why));
    assert_false(keybox_ready());
    arena *a = arena_new();
    const char *id, *nonce, *ct;
    assert_false(keybox_seal(a, "u/replicate", "x", &id, &nonce, &ct));
    arena_free(a);
}

static void test_provkey_apply(void **state)
{
    (void)state;
    arena *a = arena_new();
    http_call c = {.headers = {"Authorization: Bearer service-token", "Content-Type: x", NULL}};
    provkey_apply(a, &c, "users-key");
    assert_string_equal(c.headers[0], "Authorization: Bearer users-key");
    assert_string_equal(c.headers[1], "Content-Type: x");
    assert_null(c.headers[2]);
    http_call d = {.headers = {"Content-Type: x", NULL}};
    provkey_apply(a, &d, "users-key");
    assert_string_equal(d.headers[1], "Authorization: Bearer users-key");
    assert_null(d.headers[2]);
    assert_true(provkey_service_known("replicate") && provkey_service_known("runway") &&
                provkey_service_known("openai"));
    assert_false(provkey_service_known("elevenlabs") || provkey_service_known(NULL));
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_provkey_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
