/* providers: reading Replicate predictions, availability, the poller's backoff. */
#include "unit.h"

#include <stdlib.h>

#include "providers/provider.h"
#include "work.h"

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

static prov_status status_of(arena *a, const char *json, bool *ok)
{
    prov_status st;
    json_object *p = unit_json(a, json, strlen(json));
    *ok = prov_replicate_status(a, p, &st);
    return st;
}

static void test_replicate_status(void **state)
{
    arena *a = *state;
    static const struct {
        const char *json;
        bool ok;
        prov_state state;
        const char *url;
    } cases[] = {
        {"{\"id\":\"p\",\"status\":\"starting\"}", true, PROV_PENDING, NULL},
        {"{\"id\":\"p\",\"status\":\"processing\"}", true, PROV_RUNNING, NULL},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":\"http://x/a.wav\"}", true,
         PROV_SUCCEEDED, "http://x/a.wav"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":[\"http://x/b.wav\"]}", true,
         PROV_SUCCEEDED, "http://x/b.wav"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":{\"audio\":\"http://x/c\"}}", true,
         PROV_SUCCEEDED, "http://x/c"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":null}", true, PROV_FAILED, NULL},
        {"{\"id\":\"p\",\"status\":\"failed\",\"error\":\"boom\"}", true, PROV_FAILED, NULL},
        {"{\"id\":\"p\",\"status\":\"aborted\"}", true, PROV_FAILED, NULL},
        {"{\"id\":\"p\",\"status\":\"canceled\"}", true, PROV_CANCELLED, NULL},
        {"{\"id\":\"p\",\"status\":\"weird\"}", false, PROV_PENDING, NULL},
        {"{\"status\":\"succeeded\"}", false, PROV_PENDING, NULL},
        {"{\"id\":\"p\",\"status\":7}", false, PROV_PENDING, NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        bool ok;
        prov_status st = status_of(a, cases[i].json, &ok);
        assert_int_equal(ok, cases[i].ok);
        if (!ok)
            continue;
        assert_int_equal(st.state, cases[i].state);
        assert_string_equal(st.provider_job_id, "p");
        if (cases[i].url)
            assert_string_equal(st.output_url, cases[i].url);
    }
    bool ok;
    prov_status st = status_of(a, "{\"id\":\"p\",\"status\":\"failed\",\"error\":\"boom\"}", &ok);
    assert_string_equal(st.message, "boom");
}

static void test_available(void **state)
{
    arena *a = *state;
    unsetenv("RV_REPLICATE_API_TOKEN");
    assert_string_equal(prov_available_for(a, "tts"), "{local}");
    assert_string_equal(prov_available_for(a, "sfx"), "{}");
    setenv("RV_REPLICATE_API_TOKEN", "t", 1);
    assert_string_equal(prov_available_for(a, "tts"), "{local,replicate}");
    assert_string_equal(prov_available_for(a, "sfx"), "{replicate}");
    assert_string_equal(prov_available_for(a, "video_clip"), "{}");
    unsetenv("RV_REPLICATE_API_TOKEN");
    assert_non_null(prov_find("local"));
    assert_null(prov_find("nope"));
    assert_null(prov_find(NULL));
}

static void test_backoff(void **state)
{
    (void)state;
    /* grows, capped at 300 s, jitter between half and all of it, Retry-After wins */
    assert_true(work_backoff(1, 0, 0) >= 0.5 && work_backoff(1, 0, 1) <= 1);
    assert_true(work_backoff(3, 0, 1) == 4);
    assert_true(work_backoff(3, 0, 0) == 2);
    assert_true(work_backoff(30, 0, 1) == 300);
    assert_true(work_backoff(30, 0, 0) == 150);
    assert_true(work_backoff(1, 17, 0.5) == 17);
    assert_true(work_backoff(0, 0, 1) == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicate_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_available, setup, teardown),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests_name("provider", tests, NULL, NULL);
}
