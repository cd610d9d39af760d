/* test_config.c — configuration from the environment and the secret strength check. */
#include "unit.h"

#include <sodium.h>
#include <stdlib.h>

#include "config.h"

static const char GOOD_SECRET[] = "q3J8vZr1mW0xT6yLk2Pc9NfHs5Ud7GbE4aRiOeXw"; /* 40, varied */

static const char *const VARS[] = {"RV_DATABASE_URL",
                                   "RV_JWT_SECRET",
                                   "RV_JWT_ISSUER",
                                   "RV_WORKERS",
                                   "RV_REFRESH_TTL_DAYS",
                                   "RV_PUBLIC_URL",
                                   "RV_DATA_DIR",
                                   "RV_LOG_LEVEL",
                                   "RV_UPLOAD_DIR",
                                   "RV_POLLER_DATABASE_URL",
                                   "RV_SESSION_RECHECK_SECONDS"};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(VARS); i++)
        unsetenv(VARS[i]);
    return 0;
}

static bool secret_ok(const char *s)
{
    return config_secret_ok((const unsigned char *)s, strlen(s));
}

/* s repeated up to n characters. */
static char *cycle(char *buf, const char *s, size_t n)
{
    size_t k = strlen(s);
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i % k];
    buf[n] = '\0';
    return buf;
}

static void test_secret_ok(void **state)
{
    (void)state;
    char buf[201];
    assert_false(config_secret_ok(NULL, 40));
    assert_false(secret_ok(""));
    assert_false(secret_ok("short-but-varied-0123456789ABCD")); /* 31 */
    assert_false(secret_ok(cycle(buf, "a", 32)));
    assert_false(secret_ok(cycle(buf, "a", 200)));
    assert_false(secret_ok(cycle(buf, "ab", 64)));
    assert_false(secret_ok(cycle(buf, "abcd", 64)));
    assert_false(secret_ok(cycle(buf, "password", 64)));
    assert_false(secret_ok(cycle(buf, "0123456789", 64)));
    assert_true(secret_ok(GOOD_SECRET));
    assert_true(secret_ok(cycle(buf, GOOD_SECRET, 32)));

    /* Random bytes, as `openssl rand` would give them, NULs and all. */
    unsigned char raw[48];
    for (int round = 0; round < 20; round++) {
        randombytes_buf(raw, sizeof raw);
        assert_true(config_secret_ok(raw, sizeof raw));
        assert_false(config_secret_ok(raw, 31));
    }
}

/* Low-entropy secrets the old check (32 bytes, 12 distinct) let through, and
 * secrets as operators make them, which must pass. */
static void test_secret_entropy(void **state)
{
    (void)state;
    char buf[201];
    static const char *const weak[] = {
        "abcdefghijklmnopqrstuvwxyz0123456789",                 /* a run: 36 distinct */
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", /* longer run */
        "acegikmoqsuwy02468ACEGIKMOQSUWY",                      /* a run in steps of 2, 31 */
        "acegikmoqsuwy02468ACEGIKMOQSUWYa",                     /* ... 32 */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabcdefghijkl", /* repeats, then a run */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaqwertyuiopas", /* repeats, then 12 */
        "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA", /* runs downwards */
        "1122334455667788990011223344556677889900",             /* pairs, short alphabet */
        "0101010101010101234523452345234567896789678967896789", /* short alphabets */
        "passwordpasswordpasswordpassword12345678",             /* a word and a run */
    };
    for (size_t i = 0; i < N_ELEMS(weak); i++)
        if (secret_ok(weak[i]))
            fail_msg("weak secret #%zu accepted: %s", i, weak[i]);
    /* A good block repeated is as strong as the block: 20 varied bytes are not 128 bits. */
    assert_false(secret_ok(cycle(buf, "q3J8vZr1mW0xT6yLk2Pc", 80)));
    assert_false(secret_ok(cycle(buf, "q3J8vZr1mW0xT6yLk2Pc9NfH", 48)));
    /* A 16-character alphabet (hex) needs more than 16 bytes' worth. */
    assert_false(secret_ok("9f86d081884c7d659a2feaa0c55ad015"));

    static const char *const strong[] = {
        GOOD_SECRET,
        /* openssl rand -base64 48, -base64 32, -hex 32 */
        "3q2+7wAAe1x9Hn0d/IyZc8vVQm4kJpL5sRtW6uXo2aBcDeFgHiJkLmNoPqRsTuVw",
        "Vq3m0X7pZ9d2Kc5Lr8Tn1Wb4Hy6Gf0Js3Ue7Ai9Qo2E=",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    };
    for (size_t i = 0; i < N_ELEMS(strong); i++)
        if (!secret_ok(strong[i]))
            fail_msg("strong secret #%zu refused: %s", i, strong[i]);
    unsigned char raw[32];
    char hex[65], b64[64];
    for (int round = 0; round < 50; round++) {
        randombytes_buf(raw, sizeof raw);
        assert_true(config_secret_ok(raw, sizeof raw));
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        assert_true(secret_ok(hex));
        sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
        assert_true(secret_ok(b64));
    }
}

static void test_session_recheck(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        bool ok;
        long seconds;
    } cases[] = {
        {"", true, 10}, {"0", true, 0}, {"1", true, 1}, {"30", true, 30},
        {"31", false},  {"-1", false},  {"5s", false},  {"900", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        setenv("RV_SESSION_RECHECK_SECONDS", cases[i].value, 1);
        char why[256] = "";
        bool ok = config_load(false, why, sizeof why);
        if (ok != cases[i].ok)
            fail_msg("RV_SESSION_RECHECK_SECONDS=\"%s\": config_load gave %d", cases[i].value, ok);
        if (ok)
            assert_int_equal(config->session_recheck, cases[i].seconds);
        else
            assert_non_null(strstr(why, "RV_SESSION_RECHECK_SECONDS"));
    }
}

static void expect_load(bool need_secret, bool want, const char *why_has)
{
    char why[256] = "";
    bool got = config_load(need_secret, why, sizeof why);
    if (got != want)
        fail_msg("config_load(%d) gave %d: %s", need_secret, got, why);
    if (why_has)
        assert_non_null(strstr(why, why_has));
}

static void test_defaults(void **state)
{
    (void)state;
    expect_load(false, true, NULL);
    assert_string_equal(config->database_url, "dbname=reelvox");
    /* The poller has a role of its own, never the handlers' by default. */
    assert_string_equal(config->poller_database_url, "dbname=reelvox user=reelvox_poller");
    assert_string_equal(config->jwt_issuer, "reelvox");
    assert_string_equal(config->data_dir, "./var");
    assert_string_equal(config->upload_dir, "./var/nginx/body");
    assert_int_equal(config->workers, 2);
    assert_int_equal(config->access_ttl, 900);
    assert_int_equal(config->refresh_ttl, 30 * 86400);
    assert_int_equal(config->log_level, LOG_INFO);
    assert_null(config->jwt_secret);
    assert_int_equal(config->jwt_secret_len, 0);
}

static void test_secret_needed(void **state)
{
    (void)state;
    expect_load(true, false, "RV_JWT_SECRET is missing");
    setenv("RV_JWT_SECRET", "", 1);
    expect_load(true, false, "RV_JWT_SECRET");
    setenv("RV_JWT_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1);
    expect_load(true, false, "too weak");
    setenv("RV_JWT_SECRET", "abcdabcdabcdabcdabcdabcdabcdabcd", 1);
    expect_load(true, false, "too weak");
    setenv("RV_JWT_SECRET", "q3J8vZr1mW0xT6yLk2Pc9Nf", 1); /* varied but short */
    expect_load(true, false, "too weak");

    /* The reason never quotes the secret. */
    char why[256];
    setenv("RV_JWT_SECRET", "weakweakweakweakweakweakweakweakweak", 1);
    assert_false(config_load(true, why, sizeof why));
    assert_null(strstr(why, "weakweak"));

    setenv("RV_JWT_SECRET", GOOD_SECRET, 1);
    expect_load(true, true, NULL);
    assert_int_equal(config->jwt_secret_len, strlen(GOOD_SECRET));
    assert_memory_equal(config->jwt_secret, GOOD_SECRET, strlen(GOOD_SECRET));
}

static void test_secret_not_needed(void **state)
{
    (void)state;
    expect_load(false, true, NULL);
    setenv("RV_JWT_SECRET", "weak", 1);
    expect_load(false, true, NULL);
}

static void test_long_values(void **state)
{
    (void)state;
    static const struct {
        const char *var, *value;
        bool ok;
        long workers, refresh_days;
    } cases[] = {
        {"RV_WORKERS", "0", true, 0, 30},
        {"RV_WORKERS", "1", true, 1, 30},
        {"RV_WORKERS", "256", true, 256, 30},
        {"RV_WORKERS", "", true, 2, 30},
        {"RV_WORKERS", "257", false},
        {"RV_WORKERS", "-1", false},
        {"RV_WORKERS", "abc", false},
        {"RV_WORKERS", "4x", false},
        {"RV_WORKERS", "4 ", false},
        {"RV_WORKERS", "1e2", false},
        {"RV_WORKERS", "99999999999999999999", false},
        {"RV_REFRESH_TTL_DAYS", "1", true, 2, 1},
        {"RV_REFRESH_TTL_DAYS", "365", true, 2, 365},
        {"RV_REFRESH_TTL_DAYS", "0", false},
        {"RV_REFRESH_TTL_DAYS", "366", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        clear_env(NULL);
        setenv(cases[i].var, cases[i].value, 1);
        char why[256] = "";
        bool ok = config_load(false, why, sizeof why);
        if (ok != cases[i].ok)
            fail_msg("%s=\"%s\": config_load gave %d (%s)", cases[i].var, cases[i].value, ok, why);
        if (!ok) {
            assert_non_null(strstr(why, cases[i].var));
            continue;
        }
        assert_int_equal(config->workers, cases[i].workers);
        assert_int_equal(config->refresh_ttl, cases[i].refresh_days * 86400);
    }
}

static void test_log_level(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        bool ok;
        log_level level;
    } cases[] = {
        {"debug", true, LOG_DEBUG},
        {"info", true, LOG_INFO},
        {"warn", true, LOG_WARN},
        {"error", true, LOG_ERROR},
        {"", true, LOG_INFO},
        {"verbose", false},
        {"INFO", false},
        {"warning", false},
        {"info ", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        setenv("RV_LOG_LEVEL", cases[i].value, 1);
        char why[256] = "";
        bool ok = config_load(false, why, sizeof why);
        if (ok != cases[i].ok)
            fail_msg("RV_LOG_LEVEL=\"%s\": config_load gave %d", cases[i].value, ok);
        if (ok)
            assert_int_equal(config->log_level, cases[i].level);
        else
            assert_non_null(strstr(why, "RV_LOG_LEVEL"));
    }
}

static void test_strings(void **state)
{
    (void)state;
    setenv("RV_DATABASE_URL", "host=/tmp dbname=x", 1);
    setenv("RV_POLLER_DATABASE_URL", "host=/tmp dbname=x user=p", 1);
    setenv("RV_JWT_ISSUER", "reelvox-test", 1);
    setenv("RV_DATA_DIR", "/srv/reelvox", 1);
    setenv("RV_PUBLIC_URL", "https://reelvox.dev", 1);
    expect_load(false, true, NULL);
    assert_string_equal(config->database_url, "host=/tmp dbname=x");
    assert_string_equal(config->poller_database_url, "host=/tmp dbname=x user=p");
    assert_string_equal(config->jwt_issuer, "reelvox-test");
    assert_string_equal(config->data_dir, "/srv/reelvox");
    assert_string_equal(config->public_url, "https://reelvox.dev");
    assert_string_equal(config->upload_dir, "/srv/reelvox/nginx/body"); /* follows the data */
    setenv("RV_UPLOAD_DIR", "/var/cache/nginx/body", 1);
    expect_load(false, true, NULL);
    assert_string_equal(config->upload_dir, "/var/cache/nginx/body");
    setenv("RV_JWT_ISSUER", "", 1); /* empty means default */
    expect_load(false, true, NULL);
    assert_string_equal(config->jwt_issuer, "reelvox");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, clear_env)
    const struct CMUnitTest tests[] = {
        T(test_secret_ok),         T(test_defaults),       T(test_secret_needed),
        T(test_secret_not_needed), T(test_long_values),    T(test_log_level),
        T(test_strings),           T(test_secret_entropy), T(test_session_recheck),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
