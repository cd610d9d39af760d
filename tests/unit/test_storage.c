/* storage: keys, paths and signed media links. */
#include "unit.h"

#include <time.h>

#include "storage.h"

static const unsigned char secret[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

static int setup(void **state)
{
    *state = arena_new();
    assert_true(store_init(secret, sizeof secret - 1, "/tmp/rv-store", "http://h:1"));
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
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

static void test_new_key(void **state)
{
    arena *a = *state;
    char *k = store_new_key(a, "audios", "u1", "Hello, World! ../x", "mp3");
    assert_true(store_key_valid(k));
    assert_non_null(strstr(k, "audios/u1/"));
    assert_non_null(strstr(k, "-hello-world-x-"));
    assert_string_equal(k + strlen(k) - 4, ".mp3");
    char *k2 = store_new_key(a, "audios", "u1", "Hello, World! ../x", "mp3");
    assert_string_not_equal(k, k2); /* random part */
    char *empty = store_new_key(a, "audios", "u1", "???", "wav");
    assert_non_null(strstr(empty, "-file-"));
    char *none = store_new_key(a, "audios", "u1", NULL, "wav");
    assert_true(store_key_valid(none));
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
    assert_true(store_check_link(key, "1800003600", sig, now + 3600));   /* last second */
    assert_false(store_check_link(key, "1800003600", sig, now + 3601));  /* expired */
    assert_false(store_check_link(key, "1800003601", sig, now));         /* other expiry */
    assert_false(store_check_link("audios/u/y.mp3", "1800003600", sig, now));
    assert_false(store_check_link(key, "1800003600", NULL, now));
    assert_false(store_check_link(key, NULL, sig, now));
    assert_false(store_check_link(key, "18000036OO", sig, now));
    assert_false(store_check_link(key, "", sig, now));
    char *bad = arena_strdup(a, sig);
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    assert_false(store_check_link(key, "1800003600", bad, now));
    assert_false(store_check_link(key, "1800003600", "short", now));
    assert_false(store_check_link("../etc/passwd", "1800003600", sig, now));
}

static void test_path(void **state)
{
    arena *a = *state;
    assert_string_equal(store_path(a, "a/b.mp3"), "/tmp/rv-store/storage/a/b.mp3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
    };
    return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
