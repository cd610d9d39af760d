/* Pexels: the search URL (the query escaped, never raw), a photo picked from an
 * answer with its credit (or none, or a malformed one refused), the rate limit,
 * orientations, availability by key. */
#include "unit.h"

#include <stdlib.h>

#include "config.h"
#include "providers/pexels.h"

static int setup(void **state)
{
    *state = arena_new();
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static void test_search_url(void **state)
{
    arena *a = *state;
    assert_string_equal(
        pexels_search_url(a, "https://api.pexels.com/", "rice & fields?/../x #1", "portrait", 5),
        "https://api.pexels.com/v1/search?query=rice%20%26%20fields%3F%2F..%2Fx%20%231"
        "&per_page=5&orientation=portrait");
    assert_string_equal(pexels_search_url(a, "http://127.0.0.1:1", "a\nb", "landscape", 3),
                        "http://127.0.0.1:1/v1/search?query=a%0Ab&per_page=3"
                        "&orientation=landscape");
    assert_string_equal(pexels_orientation("9:16"), "portrait");
    assert_string_equal(pexels_orientation("1:1"), "square");
    assert_string_equal(pexels_orientation("16:9"), "landscape");
    assert_string_equal(pexels_orientation(NULL), "landscape");
}

#define PHOTO(n)                                                                                   \
    "{\"id\":" #n ",\"url\":\"https://www.pexels.com/photo/" #n "/\",\"photographer\":\"P" #n      \
    "\",\"photographer_url\":\"https://www.pexels.com/@p" #n "\",\"src\":{\"large\":"              \
    "\"https://images.pexels.com/" #n                                                              \
    ".jpeg\",\"original\":\"https://images.pexels.com/o.jpeg\"}}"

static void test_pick(void **state)
{
    arena *a = *state;
    pexels_photo p;
    const char *two = "{\"page\":1,\"photos\":[" PHOTO(1) "," PHOTO(2) "]}";
    assert_int_equal(pexels_pick(a, two, 1, &p), PEXELS_OK);
    assert_string_equal(p.image_url, "https://images.pexels.com/2.jpeg");
    assert_string_equal(p.photographer, "P2");
    assert_string_equal(p.photographer_url, "https://www.pexels.com/@p2");
    assert_string_equal(p.page_url, "https://www.pexels.com/photo/2/");
    assert_int_equal(pexels_pick(a, two, 2, &p), PEXELS_OK); /* wraps around */
    assert_string_equal(p.photographer, "P1");
    assert_int_equal(pexels_pick(a, "{\"photos\":[],\"total_results\":0}", 0, &p), PEXELS_NONE);
    static const char *const bad[] = {
        NULL,
        "",
        "not json",
        "{}",
        "{\"photos\":{}}",
        "{\"photos\":[{}]}",
        "{\"photos\":[{\"src\":{\"large\":\"file:///etc/passwd\"},\"photographer\":\"p\","
        "\"photographer_url\":\"https://x/\",\"url\":\"https://x/\"}]}",
        "{\"photos\":[{\"src\":{\"large\":\"https://x/a.jpg\"},\"photographer_url\":\"https://x/\","
        "\"url\":\"https://x/\"}]}",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        assert_int_equal(pexels_pick(a, bad[i], 0, &p), PEXELS_FAILED);
}

static void test_limit_and_availability(void **state)
{
    (void)state;
    pexels_limit l = PEXELS_LIMIT_INIT;
    assert_true(pexels_may_ask(&l, 100));
    l.remaining = 3;
    assert_true(pexels_may_ask(&l, 100));
    l.remaining = 0, l.reset = 200;
    assert_false(pexels_may_ask(&l, 100));
    assert_true(pexels_may_ask(&l, 200));
    char why[256];
    unsetenv("RV_PEXELS_API_KEY");
    assert_true(config_load(false, why, sizeof why));
    assert_false(pexels_available());
    setenv("RV_PEXELS_API_KEY", "k", 1);
    assert_true(config_load(false, why, sizeof why));
    assert_true(pexels_available());
    unsetenv("RV_PEXELS_API_KEY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_search_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_and_availability, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
