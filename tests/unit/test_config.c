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
                                   "RV_SESSION_RECHECK_SECONDS",
                                   "RV_STORAGE",
                                   "RV_S3_ENDPOINT",
                                   "RV_S3_BUCKET",
                                   "RV_S3_REGION",
                                   "RV_S3_ACCESS_KEY_ID",
                                   "RV_S3_SECRET_ACCESS_KEY",
                                   "AWS_ACCESS_KEY_ID",
                                   "AWS_SECRET_ACCESS_KEY",
                                   "RV_REPLICATE_URL",
                                   "RV_REPLICATE_API_TOKEN",
                                   "RV_REPLICATE_WEBHOOK_SECRET",
                                   "RV_ALLOW_HTTP_DOWNLOADS",
                                   "RV_ALLOW_PRIVATE_DOWNLOADS",
                                   "RV_POLLER_WINDOW",
                                   "RV_POLLER_SWEEP_MS",
                                   "RV_POLLER_LEASE",
                                   "RV_POLL_INTERVAL",
                                   "RV_LOCAL_CONCURRENCY",
                                   "RV_LOCAL_TIMEOUT",
                                   "RV_STORAGE_GRACE",
                                   "RV_STORAGE_SWEEP_INTERVAL",
                                   "RV_DB_POOLER",
                                   "RV_LISTEN_DATABASE_URL"};

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

/* The poller's settings: each at its bounds, past them, and not a number. A refusal
 * names the variable; nothing falls back on the default. */
static long poller_value(const char *var)
{
    if (!strcmp(var, "RV_POLLER_WINDOW"))
        return config->poller_window;
    if (!strcmp(var, "RV_POLLER_SWEEP_MS"))
        return config->poller_sweep_ms;
    if (!strcmp(var, "RV_POLLER_LEASE"))
        return config->poller_lease;
    if (!strcmp(var, "RV_POLL_INTERVAL"))
        return config->poll_interval;
    if (!strcmp(var, "RV_LOCAL_CONCURRENCY"))
        return config->local_concurrency;
    if (!strcmp(var, "RV_LOCAL_TIMEOUT"))
        return config->local_timeout;
    if (!strcmp(var, "RV_STORAGE_GRACE"))
        return config->storage_grace;
    if (!strcmp(var, "RV_STORAGE_SWEEP_INTERVAL"))
        return config->storage_sweep_interval;
    fail_msg("no such setting %s", var);
    return -1;
}

static void test_poller_settings(void **state)
{
    (void)state;
    static const struct {
        const char *var;
        long dflt, lo, hi;
    } settings[] = {
        {"RV_POLLER_WINDOW", 55, 0, 86400},
        {"RV_POLLER_SWEEP_MS", 2000, 0, 600000},
        {"RV_POLLER_LEASE", 60, 4, 3600},
        {"RV_POLL_INTERVAL", 30, 1, 3600},
        {"RV_LOCAL_CONCURRENCY", 2, 1, CONFIG_MAX_LOCAL},
        {"RV_LOCAL_TIMEOUT", 300, 5, 3600},
        {"RV_STORAGE_GRACE", 3600, 1, 30 * 86400},
        {"RV_STORAGE_SWEEP_INTERVAL", 60, 1, 86400},
    };
    char buf[32], why[256];
    for (size_t i = 0; i < N_ELEMS(settings); i++) {
        const char *var = settings[i].var;
        clear_env(NULL);
        expect_load(false, true, NULL);
        assert_int_equal(poller_value(var), settings[i].dflt);
        setenv(var, "", 1); /* empty: the default */
        expect_load(false, true, NULL);
        assert_int_equal(poller_value(var), settings[i].dflt);
        const long ok[] = {settings[i].lo, settings[i].hi};
        for (size_t k = 0; k < N_ELEMS(ok); k++) {
            snprintf(buf, sizeof buf, "%ld", ok[k]);
            setenv(var, buf, 1);
            expect_load(false, true, NULL);
            assert_int_equal(poller_value(var), ok[k]);
        }
        const long out[] = {settings[i].lo - 1, settings[i].hi + 1};
        for (size_t k = 0; k < N_ELEMS(out); k++) {
            snprintf(buf, sizeof buf, "%ld", out[k]);
            setenv(var, buf, 1);
            why[0] = '\0';
            if (config_load(false, why, sizeof why))
                fail_msg("%s=%s accepted", var, buf);
            assert_non_null(strstr(why, var));
        }
        static const char *const junk[] = {"abc", "10s", "10 ", "1e2", "99999999999999999999"};
        for (size_t k = 0; k < N_ELEMS(junk); k++) {
            setenv(var, junk[k], 1);
            why[0] = '\0';
            if (config_load(false, why, sizeof why))
                fail_msg("%s=\"%s\" accepted", var, junk[k]);
            assert_non_null(strstr(why, var));
        }
    }
}

static void test_download_switches(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        bool ok, on;
    } cases[] = {
        {NULL, true, false},  {"", true, false},      {"0", true, false},   {"false", true, false},
        {"no", true, false},  {"1", true, true},      {"true", true, true}, {"yes", true, true},
        {"on", false, false}, {"TRUE", false, false}, {"2", false, false},  {"yes ", false, false},
    };
    static const char *const vars[] = {"RV_ALLOW_HTTP_DOWNLOADS", "RV_ALLOW_PRIVATE_DOWNLOADS"};
    for (size_t v = 0; v < N_ELEMS(vars); v++)
        for (size_t i = 0; i < N_ELEMS(cases); i++) {
            clear_env(NULL);
            if (cases[i].value)
                setenv(vars[v], cases[i].value, 1);
            char why[256] = "";
            bool ok = config_load(false, why, sizeof why);
            if (ok != cases[i].ok)
                fail_msg("%s=\"%s\": config_load gave %d", vars[v], cases[i].value, ok);
            if (!ok) {
                assert_non_null(strstr(why, vars[v]));
                continue;
            }
            bool on = v ? config->allow_private_downloads : config->allow_http_downloads;
            bool other = v ? config->allow_http_downloads : config->allow_private_downloads;
            assert_int_equal(on, cases[i].on);
            assert_false(other);
        }
}

static void test_replicate_settings(void **state)
{
    (void)state;
    expect_load(false, true, NULL);
    assert_string_equal(config->replicate_url, "https://api.replicate.com");
    assert_null(config->replicate_token);
    assert_null(config->replicate_webhook_secret);
    setenv("RV_REPLICATE_URL", "", 1);
    setenv("RV_REPLICATE_API_TOKEN", "", 1); /* empty: off */
    setenv("RV_REPLICATE_WEBHOOK_SECRET", "", 1);
    expect_load(false, true, NULL);
    assert_string_equal(config->replicate_url, "https://api.replicate.com");
    assert_null(config->replicate_token);
    assert_null(config->replicate_webhook_secret);
    setenv("RV_REPLICATE_URL", "http://127.0.0.1:18820", 1);
    setenv("RV_REPLICATE_API_TOKEN", "r8_token", 1);
    setenv("RV_REPLICATE_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
    expect_load(false, true, NULL);
    assert_string_equal(config->replicate_url, "http://127.0.0.1:18820");
    assert_string_equal(config->replicate_token, "r8_token");
    assert_string_equal(config->replicate_webhook_secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    /* A secret webhooks could never be verified with is refused, not stored later. */
    static const char *const bad[] = {"not a key at all", "whsec_short",
                                      "whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        setenv("RV_REPLICATE_WEBHOOK_SECRET", bad[i], 1);
        char why[256] = "";
        if (config_load(false, why, sizeof why))
            fail_msg("RV_REPLICATE_WEBHOOK_SECRET=\"%s\" accepted", bad[i]);
        assert_non_null(strstr(why, "RV_REPLICATE_WEBHOOK_SECRET"));
        assert_null(strstr(why, bad[i])); /* never quoted */
    }
}

/* RV_STORAGE and the S3 settings are checked at load: every binary refuses them. */
static void test_storage_settings(void **state)
{
    (void)state;
    expect_load(false, true, NULL);
    assert_string_equal(config->storage, "local");
    assert_string_equal(config->s3_region, "us-east-1");
    setenv("RV_STORAGE", "gcs", 1);
    expect_load(false, false, "RV_STORAGE must be local or s3");
    setenv("RV_STORAGE", "s3", 1);
    expect_load(false, false, "RV_S3_ENDPOINT");
    setenv("RV_S3_ENDPOINT", "http://127.0.0.1:18821", 1);
    expect_load(false, false, "RV_S3_BUCKET");
    setenv("RV_S3_BUCKET", "rv-media", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDAWS", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "TOPSECRET-aws", 1);
    expect_load(false, true, NULL);
    assert_string_equal(config->s3_key_id, "AKIDAWS");
    assert_string_equal(config->s3_secret, "TOPSECRET-aws");
    /* RV_S3_* wins when either is set, and never pairs with an AWS_* one. */
    setenv("RV_S3_ACCESS_KEY_ID", "AKIDRV", 1);
    char why[256] = "";
    assert_false(config_load(false, why, sizeof why));
    assert_non_null(strstr(why, "RV_S3_SECRET_ACCESS_KEY"));
    assert_null(strstr(why, "TOPSECRET"));
    setenv("RV_S3_SECRET_ACCESS_KEY", "TOPSECRET/rv+1", 1);
    setenv("RV_S3_REGION", "eu-central-1", 1);
    expect_load(false, true, NULL);
    assert_string_equal(config->s3_key_id, "AKIDRV");
    assert_string_equal(config->s3_secret, "TOPSECRET/rv+1");
    assert_string_equal(config->s3_region, "eu-central-1");
    setenv("RV_S3_BUCKET", "No_Such_Bucket", 1);
    expect_load(false, false, "RV_S3_BUCKET");
    /* Under local, the S3 settings are not looked at. */
    setenv("RV_STORAGE", "local", 1);
    expect_load(false, true, NULL);
}

/* RV_DB_POOLER: none (the default) or transaction, nothing else; the LISTEN URL is
 * optional. */
static void test_pooler_settings(void **state)
{
    (void)state;
    expect_load(false, true, NULL);
    assert_false(config->db_pooler_transaction);
    assert_null(config->listen_database_url);
    setenv("RV_DB_POOLER", "transaction", 1);
    setenv("RV_LISTEN_DATABASE_URL", "host=/run/pg dbname=reelvox user=reelvox_poller", 1);
    expect_load(false, true, NULL);
    assert_true(config->db_pooler_transaction);
    assert_string_equal(config->listen_database_url,
                        "host=/run/pg dbname=reelvox user=reelvox_poller");
    setenv("RV_DB_POOLER", "none", 1);
    expect_load(false, true, NULL);
    assert_false(config->db_pooler_transaction);
    static const char *const bad[] = {"session", "Transaction", "1", "transaction "};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        setenv("RV_DB_POOLER", bad[i], 1);
        expect_load(false, false, "RV_DB_POOLER");
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, clear_env)
    const struct CMUnitTest tests[] = {
        T(test_secret_ok),         T(test_defaults),          T(test_secret_needed),
        T(test_secret_not_needed), T(test_long_values),       T(test_log_level),
        T(test_strings),           T(test_secret_entropy),    T(test_session_recheck),
        T(test_poller_settings),   T(test_download_switches), T(test_replicate_settings),
        T(test_storage_settings),  T(test_pooler_settings),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
