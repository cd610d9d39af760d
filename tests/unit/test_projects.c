/* projects: outcome codes and their answers, storage keys turned into signed links. */
#include "unit.h"

#include <stdlib.h>

#include "config.h"
#include "projects.h"
#include "storage.h"

static const unsigned char secret[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

static int setup(void **state)
{
    char why[256];
    *state = arena_new();
    unsetenv("RV_STORAGE");
    assert_true(config_load(false, why, sizeof why));
    assert_true(
        store_init(secret, sizeof secret - 1, "/tmp/rv-projects", "http://h:1", why, sizeof why));
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

static void test_outcomes(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        projects_outcome o;
    } rows[] = {
        {"ok", PROJ_OK},
        {"not_found", PROJ_NOT_FOUND},
        {"forbidden", PROJ_FORBIDDEN},
        {"invalid_state", PROJ_INVALID_STATE},
        {"audio_not_found", PROJ_AUDIO_NOT_FOUND},
        {"expert_not_found", PROJ_EXPERT_NOT_FOUND},
        {"expert_offline", PROJ_EXPERT_OFFLINE},
        {"insufficient", PROJ_INSUFFICIENT},
        {"rated", PROJ_RATED},
        {"no_deliverables", PROJ_NO_DELIVERABLES},
        {"not_expert", PROJ_NOT_EXPERT},
        {"bad_specialty", PROJ_BAD_SPECIALTY},
        {"OK", PROJ_UNKNOWN},
        {"", PROJ_UNKNOWN},
        {NULL, PROJ_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_int_equal(projects_outcome_of(rows[i].sql), rows[i].o);
}

static void test_refusals(void **state)
{
    arena *a = *state;
    static const struct {
        projects_outcome o;
        rv_err er;
    } rows[] = {
        {PROJ_OK, RV_OK},
        {PROJ_NOT_FOUND, RV_E_NOT_FOUND},
        {PROJ_FORBIDDEN, RV_E_FORBIDDEN},
        {PROJ_INVALID_STATE, RV_E_INVALID_STATE},
        {PROJ_AUDIO_NOT_FOUND, RV_E_NOT_FOUND},
        {PROJ_EXPERT_NOT_FOUND, RV_E_NOT_FOUND},
        {PROJ_EXPERT_OFFLINE, RV_E_CONFLICT},
        {PROJ_INSUFFICIENT, RV_E_INSUFFICIENT_CREDITS},
        {PROJ_RATED, RV_E_CONFLICT},
        {PROJ_NO_DELIVERABLES, RV_E_INVALID_STATE},
        {PROJ_NOT_EXPERT, RV_E_FORBIDDEN},
        {PROJ_BAD_SPECIALTY, RV_E_VALIDATION},
        {PROJ_UNKNOWN, RV_E_INTERNAL},
        {(projects_outcome)999, RV_E_INTERNAL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rv_req rq;
        unit_req(&rq, a, unit_env1(a, "X", NULL));
        assert_int_equal(projects_refuse(&rq, rows[i].o), rows[i].er);
        if (rows[i].o == PROJ_BAD_SPECIALTY)
            assert_string_equal(unit_error_fields(&rq), "specialties");
    }
}

static void test_links(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, unit_env1(a, "X", NULL));
    const char *db =
        "{\"id\": \"p\", \"audios\": [{\"id\": \"a1\", \"storageKey\": \"audios/x/1.mp3\"},"
        " {\"id\": \"a2\", \"storageKey\": \"audios/x/2.mp3\"}],"
        " \"name\": \"storageKey\", \"n\": 3}";
    json_object *o = parsed(a, projects_links(&rq, db));
    json_object *audios = unit_get(o, "audios");
    assert_int_equal(json_object_array_length(audios), 2);
    for (size_t i = 0; i < 2; i++) {
        json_object *au = json_object_array_get_idx(audios, i), *k;
        assert_false(json_object_object_get_ex(au, "storageKey", &k));
        assert_non_null(strstr(unit_get_str(au, "url"), "http://h:1/media/audios/x/"));
        assert_non_null(strstr(unit_get_str(au, "url"), "?exp="));
    }
    assert_string_equal(unit_get_str(o, "name"), "storageKey");
    assert_int_equal(json_object_get_int(unit_get(o, "n")), 3);
    /* a top-level key (a deliverable) */
    o = parsed(a, projects_links(&rq, "{\"id\": \"d\", \"storageKey\": \"audios/y/3.wav\"}"));
    assert_non_null(strstr(unit_get_str(o, "url"), "/media/audios/y/3.wav?"));
    /* nothing to sign, not JSON, NULL: as they are */
    const char *plain = "{\"id\": \"p\"}";
    assert_ptr_equal(projects_links(&rq, plain), plain);
    const char *broken = "{\"storageKey\": ";
    assert_ptr_equal(projects_links(&rq, broken), broken);
    assert_null(projects_links(&rq, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
    };
    return cmocka_run_group_tests_name("projects", tests, NULL, NULL);
}
