/* storage: keys, paths, signed media links, the choice of backend, local files. */
#include "unit.h"

#include <time.h>

#include "config.h"
#include "storage.h"
#include "unit_util.h"

static const unsigned char secret[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

static const char *const storage_env[] = {
    "RV_STORAGE",          "RV_S3_ENDPOINT",          "RV_S3_BUCKET",      "RV_S3_REGION",
    "RV_S3_ACCESS_KEY_ID", "RV_S3_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
};

static void clear_env(void)
{
    for (size_t i = 0; i < N_ELEMS(storage_env); i++)
        unsetenv(storage_env[i]);
}

/* store_init takes the settings config_load read from the environment. */
static bool load(char *why)
{
    return config_load(false, why, 256);
}

static int setup(void **state)
{
    char why[256];
    clear_env();
    assert_true(load(why));
    *state = arena_new();
    assert_true(
        store_init(secret, sizeof secret - 1, "/tmp/rv-store", "http://h:1", why, sizeof why));
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    clear_env();
    return 0;
}

static void test_key_valid(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        bool ok;
    } cases[] = {
        {"audios/u/20261122T000000-hello-abc.mp3", true},
        {"a", true},
        {"a/b.c_d-e", true},
        {"", false},
        {"/etc/passwd", false},
        {"a/../b", false},
        {"..", false},
        {"a/./b", false},
        {"a//b", false},
        {"a/b/", false},
        {"a b", false},
        {"a\\b", false},
        {"a%2e", false},
        {"caf\xc3\xa9", false},
        {"a/..b/c..", true},
        {".hidden/x", true},
        {"a/b/..", false},
        {"./a", false},
        {"a\nb", false},
        {"a?b", false},
        {"a#b", false},
        {"~a", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_int_equal(store_key_valid(cases[i].key), cases[i].ok);
    char *longkey = malloc(600);
    memset(longkey, 'a', 599);
    longkey[599] = '\0';
    assert_false(store_key_valid(longkey));
    free(longkey);
    assert_false(store_key_valid(NULL));
}

/* Keys are random only: neither the user id nor the name hint (a user's text) reaches
 * a key, and so never a URL or an access log. */
static void test_new_key(void **state)
{
    arena *a = *state;
    const char *uid = "6f1c2d4e-0000-4000-8000-00000000abcd";
    char *k = store_new_key(a, "audios", uid, "Hello, World! ../x", "mp3");
    assert_true(store_key_valid(k));
    assert_int_equal(strlen(k), strlen("audios/xx/") + 32 + strlen(".mp3"));
    assert_memory_equal(k, "audios/", 7);
    assert_memory_equal(k + 7, k + 10, 2); /* the folder is the name's first byte */
    for (const char *p = k + 10; p < k + 42; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    assert_null(strstr(k, uid));
    assert_null(strstr(k, "6f1c2d4e"));
    assert_null(strstr(k, "hello"));
    assert_null(strstr(k, "world"));
    assert_string_equal(k + strlen(k) - 4, ".mp3");
    char *k2 = store_new_key(a, "audios", uid, "Hello, World! ../x", "mp3");
    assert_string_not_equal(k, k2); /* random part */
    char *none = store_new_key(a, "voices", "u1", NULL, "wav");
    assert_true(store_key_valid(none));
    assert_memory_equal(none, "voices/", 7);
}

static void test_links(void **state)
{
    arena *a = *state;
    time_t now = 1800000000;
    const char *key = "audios/u/x.mp3";
    char *url = store_signed_url(a, key, 3600, now);
    assert_non_null(strstr(url, "http://h:1/media/audios/u/x.mp3?exp=1800003600&sig="));
    const char *sig = strstr(url, "sig=") + 4;
    assert_true(store_check_link(key, "1800003600", sig, now));
    assert_true(store_check_link(key, "1800003600", sig, now + 3600));  /* last second */
    assert_false(store_check_link(key, "1800003600", sig, now + 3601)); /* expired */
    assert_false(store_check_link(key, "1800003601", sig, now));        /* other expiry */
    assert_false(store_check_link("audios/u/y.mp3", "1800003600", sig, now));
    assert_false(store_check_link(key, "1800003600", NULL, now));
    assert_false(store_check_link(key, NULL, sig, now));
    assert_false(store_check_link(key, "18000036OO", sig, now));
    assert_false(store_check_link(key, "", sig, now));
    char *bad = arena_strdup(a, sig);
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    assert_false(store_check_link(key, "1800003600", bad, now));
    /* Links are made to end on a 5-minute step: valid at least the ttl asked for,
     * and the same for the same file within the step. */
    assert_non_null(strstr(store_signed_url(a, key, 3600, now + 1), "?exp=1800003900&"));
    assert_non_null(strstr(store_signed_url(a, key, 3600, now + 300), "?exp=1800003900&"));
    assert_non_null(strstr(store_signed_url(a, key, 3600, now + 301), "?exp=1800004200&"));
    assert_false(store_check_link(key, "1800003600", "short", now));
    assert_false(store_check_link("../etc/passwd", "1800003600", sig, now));
}

static void test_path(void **state)
{
    arena *a = *state;
    assert_string_equal(store_path(a, "a/b.mp3"), "/tmp/rv-store/storage/a/b.mp3");
}

static void s3_env(void)
{
    setenv("RV_STORAGE", "s3", 1);
    setenv("RV_S3_ENDPOINT", "http://127.0.0.1:4569", 1);
    setenv("RV_S3_BUCKET", "rv-media", 1);
    setenv("RV_S3_ACCESS_KEY_ID", "AKIDRV", 1);
    setenv("RV_S3_SECRET_ACCESS_KEY", "TOPSECRET/value+1", 1);
}

static bool init(char *why)
{
    if (!load(why))
        return false;
    return store_init(secret, sizeof secret - 1, "/tmp/rv-store", "http://h:1", why, 256);
}

/* RV_STORAGE picks the backend; s3 without its settings refuses to start. */
static void test_init_backend(void **state)
{
    arena *a = *state;
    char why[256];
    assert_string_equal(store_backend(), "local");
    setenv("RV_STORAGE", "gcs", 1);
    assert_false(init(why));
    assert_non_null(strstr(why, "RV_STORAGE"));

    static const struct {
        const char *unset, *why;
    } missing[] = {
        {"RV_S3_ENDPOINT", "RV_S3_ENDPOINT"},
        {"RV_S3_BUCKET", "RV_S3_BUCKET"},
        {"RV_S3_ACCESS_KEY_ID", "RV_S3_ACCESS_KEY_ID"},
        {"RV_S3_SECRET_ACCESS_KEY", "RV_S3_SECRET_ACCESS_KEY"},
    };
    for (size_t i = 0; i < N_ELEMS(missing); i++) {
        s3_env();
        unsetenv(missing[i].unset);
        assert_false(init(why));
        assert_non_null(strstr(why, missing[i].why));
        assert_null(strstr(why, "TOPSECRET"));
    }
    s3_env();
    setenv("RV_S3_ENDPOINT", "s3.amazonaws.com", 1);
    assert_false(init(why));

    s3_env();
    assert_true(init(why));
    assert_string_equal(store_backend(), "s3");
    char *url = store_signed_url(a, "audios/u/x.mp3", 3600, 1800000000);
    assert_non_null(strstr(url, "http://127.0.0.1:4569/rv-media/audios/u/x.mp3?X-Amz-Algorithm="
                                "AWS4-HMAC-SHA256&X-Amz-Credential=AKIDRV%2F20270115%2F"
                                "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20270115T080000Z"
                                "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    setenv("RV_S3_REGION", "eu-central-1", 1);
    assert_true(init(why));
    url = store_signed_url(a, "audios/u/x.mp3", 3600, 1800000000);
    assert_non_null(strstr(url, "%2Feu-central-1%2Fs3%2F"));

    /* AWS_* keys when no RV_S3_* key is set; never one of each. */
    unsetenv("RV_S3_ACCESS_KEY_ID");
    unsetenv("RV_S3_SECRET_ACCESS_KEY");
    setenv("AWS_ACCESS_KEY_ID", "AKIDAWS", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "TOPSECRET-aws", 1);
    assert_true(init(why));
    assert_non_null(strstr(store_signed_url(a, "k.mp3", 60, 1800000000), "Credential=AKIDAWS%2F"));
    setenv("RV_S3_ACCESS_KEY_ID", "AKIDRV", 1);
    assert_false(init(why)); /* RV_S3_ACCESS_KEY_ID without its secret */
    assert_non_null(strstr(why, "RV_S3_SECRET_ACCESS_KEY"));

    /* Back to local. */
    clear_env();
    assert_true(init(why));
    assert_string_equal(store_backend(), "local");
    assert_non_null(strstr(store_signed_url(a, "k.mp3", 60, 1800000000), "http://h:1/media/k.mp3"));
}

/* Under s3, work files are plain local files under $RV_DATA_DIR/tmp. */
static void test_s3_temp_path(void **state)
{
    arena *a = *state;
    char why[256];
    const char *dir = unit_tmpdir("store-s3tmp");
    assert_non_null(dir);
    s3_env();
    assert_true(load(why));
    assert_true(store_init(secret, sizeof secret - 1, dir, "http://h:1", why, sizeof why));
    char *tmp = NULL, *tmp2 = NULL;
    assert_int_equal(store_temp_path(a, "audios/u/x.mp3", &tmp), RV_OK);
    assert_int_equal(store_temp_path(a, "audios/u/x.mp3", &tmp2), RV_OK);
    assert_string_not_equal(tmp, tmp2);
    assert_true(strncmp(tmp, arena_printf(a, "%s/tmp/", dir), strlen(dir) + 5) == 0);
    struct stat sb;
    assert_int_equal(stat(arena_printf(a, "%s/tmp", dir), &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(store_temp_path(a, "../x", &tmp), RV_E_INTERNAL);
    unit_rmtree(dir);
}

/* The local backend: put, fetch, delete; src and tmp never left behind. */
static void test_local_files(void **state)
{
    arena *a = *state;
    char why[256];
    const char *dir = unit_tmpdir("store-local");
    assert_non_null(dir);
    assert_true(store_init(secret, sizeof secret - 1, dir, "http://h:1", why, sizeof why));
    const char *key = "audios/u1/a.mp3", *src = arena_printf(a, "%s/upload", dir);
    const char *dst = arena_printf(a, "%s/copy", dir);
    assert_true(unit_write_file(src, "ID3 hello", 9));
    assert_int_equal(store_put_file(a, src, key), RV_OK);
    assert_int_equal(access(src, F_OK), -1);
    assert_int_equal(store_fetch(a, key, dst), RV_OK);
    size_t n;
    unsigned char *got = unit_read_file(dst, &n);
    assert_int_equal(n, 9);
    assert_memory_equal(got, "ID3 hello", 9);
    free(got);
    assert_int_equal(store_fetch(a, "audios/u1/none.mp3", dst), RV_E_NOT_FOUND);
    assert_int_equal(store_fetch(a, "../etc/passwd", dst), RV_E_NOT_FOUND);

    char *tmp;
    assert_int_equal(store_temp_path(a, "audios/u1/b.wav", &tmp), RV_OK);
    assert_true(unit_write_file(tmp, "RIFF", 4));
    assert_int_equal(store_commit(a, tmp, "audios/u1/b.wav"), RV_OK);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(store_path(a, "audios/u1/b.wav"), F_OK), 0);
    assert_true(unit_write_file(src, "x", 1));
    assert_int_equal(store_put_file(a, src, "a/../b"), RV_E_INTERNAL); /* refused, src gone */
    assert_int_equal(access(src, F_OK), -1);

    assert_int_equal(store_delete(a, key), RV_OK);
    assert_int_equal(store_delete(a, key), RV_OK); /* a missing file is fine */
    assert_int_equal(store_delete(a, "audios/u1/b.wav"), RV_OK);
    assert_int_equal(unit_file_size(store_path(a, key)), -1);
    assert_int_equal(unlink(dst), 0);
    unit_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_s3_temp_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_files, setup, teardown),
    };
    return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
