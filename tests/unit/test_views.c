/* views: links added to database JSON without parsing it (and the fallback). */
#include "unit.h"

#include <stdlib.h>

#include "config.h"
#include "storage.h"
#include "views.h"

static const unsigned char secret[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

static int setup(void **state)
{
    char why[256];
    *state = arena_new();
    unsetenv("RV_STORAGE"); /* the local backend's links */
    assert_true(config_load(false, why, sizeof why));
    assert_true(
        store_init(secret, sizeof secret - 1, "/tmp/rv-views", "http://h:1", why, sizeof why));
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static json_object *parsed(arena *a, const char *s)
{
    return unit_json(a, s, strlen(s));
}

static void test_job(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, unit_env1(a, "X", NULL));
    /* as PostgreSQL prints rv_job_json: result last */
    const char *db = "{\"id\" : \"j\", \"input\" : {\"text\": \"}}\"}, \"result\" : "
                     "{\"audioId\": \"a\", \"durationMs\": 5}}";
    json_object *o = parsed(a, views_job(&rq, db, "audios/u/x.mp3"));
    json_object *res = unit_get(o, "result");
    assert_string_equal(unit_get_str(res, "audioId"), "a");
    assert_non_null(strstr(unit_get_str(res, "url"), "http://h:1/media/audios/u/x.mp3?exp="));
    assert_string_equal(unit_get_str(unit_get(o, "input"), "text"), "}}");
    /* no key: untouched */
    assert_string_equal(views_job(&rq, db, NULL), db);
    assert_null(views_job(&rq, NULL, "k"));
}

static void test_fallback(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, unit_env1(a, "X", NULL));
    /* result not last: parsed and rebuilt, same answer */
    const char *db = "{\"result\" : {\"audioId\": \"a\"}, \"status\" : \"succeeded\"}";
    json_object *o = parsed(a, views_job(&rq, db, "k.mp3"));
    assert_non_null(strstr(unit_get_str(unit_get(o, "result"), "url"), "/media/k.mp3?"));
    /* an empty object gets no dangling comma */
    o = parsed(a, views_audio(&rq, "{}", "k.mp3"));
    assert_non_null(strstr(unit_get_str(o, "url"), "/media/k.mp3?"));
    /* not JSON: passed through */
    assert_string_equal(views_audio(&rq, "nope", "k.mp3"), "nope");
}

static void test_audio_voice(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, unit_env1(a, "X", NULL));
    json_object *o = parsed(a, views_audio(&rq, "{\"id\" : \"x\", \"bytes\" : 3}", "a/b.wav"));
    assert_non_null(strstr(unit_get_str(o, "url"), "/media/a/b.wav?exp="));
    o = parsed(a, views_voice(&rq, "{\"id\" : \"v\"}", "a/p.wav"));
    assert_non_null(strstr(unit_get_str(o, "previewUrl"), "/media/a/p.wav?exp="));
}

static void test_list(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, unit_env1(a, "X", NULL));
    /* views_list reads a PGresult; an empty one is made with PQmakeEmptyPGresult. */
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_int_equal(views_list(&rq, r, 1, 2, views_job, 2, 10, 11), RV_OK);
    PQclear(r);
    json_object *o = parsed(a, rq.resp_body);
    assert_int_equal(json_object_array_length(unit_get(o, "items")), 0);
    json_object *pg = unit_get(o, "pagination");
    assert_int_equal(json_object_get_int(unit_get(pg, "total")), 11);
    assert_int_equal(json_object_get_int(unit_get(pg, "totalPages")), 2);
    assert_false(json_object_get_boolean(unit_get(pg, "hasNext")));
    assert_true(json_object_get_boolean(unit_get(pg, "hasPrev")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audio_voice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
    };
    return cmocka_run_group_tests_name("views", tests, NULL, NULL);
}
