/* test_req.c — reading a request: escapes, query, cookies, headers, routes, paging. */
#include "unit.h"

/* A request whose only parameter is name=value (value NULL: none at all). */
static rv_req *req_with(arena *a, const char *name, const char *value)
{
    rv_req *rq = arena_alloc(a, sizeof *rq);
    unit_req(rq, a, unit_env1(a, name, value));
    return rq;
}

static void test_unescape(void **state)
{
    arena *a = *state;
    static const struct {
        const char *src;
        bool plus;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"", true, ""},
        {"abc", true, "abc"},
        {"%41%42c", false, "ABc"},
        {"%7e%7E", false, "~~"},
        {"%C3%A9t%C3%A9", true, "\xC3\xA9t\xC3\xA9"},
        {"a+b", true, "a b"},
        {"a+b", false, "a+b"},
        {"%2B+", true, "+ "},
        {"%20", false, " "},
        {"%", true, NULL},
        {"%4", true, NULL},
        {"a%", true, NULL},
        {"a%4", true, NULL},
        {"%zz", true, NULL},
        {"%g1", true, NULL},
        {"%1g", true, NULL},
        {"%%41", true, NULL},
        {"% 41", true, NULL},
        {"%00", true, NULL},
        {"a%00b", false, NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *got = req_unescape(a, cases[i].src, strlen(cases[i].src), cases[i].plus);
        if (!cases[i].want && got)
            fail_msg("\"%s\" decoded to \"%s\", want refused", cases[i].src, got);
        if (cases[i].want && !got)
            fail_msg("\"%s\" refused, want \"%s\"", cases[i].src, cases[i].want);
        if (got)
            assert_string_equal(got, cases[i].want);
    }
}

/* n bounds the input: nothing past it is read, an escape cut by it is refused. */
static void test_unescape_length(void **state)
{
    arena *a = *state;
    assert_string_equal(req_unescape(a, "%41BC", 3, false), "A");
    assert_string_equal(req_unescape(a, "ab&cd", 2, false), "ab");
    assert_null(req_unescape(a, "%41", 2, false));
    assert_string_equal(req_unescape(a, "xyz", 0, false), "");
}

static void test_query(void **state)
{
    arena *a = *state;
    static const struct {
        const char *query, *name, *want;
    } cases[] = {
        {"a=1&b=2", "a", "1"},
        {"a=1&b=2", "b", "2"},
        {"a=1&b=2", "c", NULL},
        {"a=1&a=2", "a", "1"},    /* first of repeated keys */
        {"a=&b=1", "a", ""},      /* empty value */
        {"flag&b=1", "flag", ""}, /* no '=' at all */
        {"a==b", "a", "=b"},
        {"&&a=1&&", "a", "1"},
        {"=x&a=1", "", NULL}, /* empty keys are dropped */
        {"q=x+y%20z", "q", "x y z"},
        {"%61=5", "a", "5"},  /* keys are decoded too */
        {"q=%zz", "q", NULL}, /* undecodable value: absent */
        {"q=%2", "q", NULL},
        {"q=%00", "q", NULL},
        {"q=a%00b&r=1", "r", "1"}, /* ...without hiding the others */
        {"k%zz=1", "k%zz", NULL},
        {"A=1", "a", NULL}, /* case matters */
        {"", "a", NULL},
        {NULL, "a", NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rv_req *rq = req_with(a, "QUERY_STRING", cases[i].query);
        const char *got = req_query(rq, cases[i].name);
        if (!cases[i].want != !got)
            fail_msg("?%s [%s]: got %s, want %s", cases[i].query ? cases[i].query : "(none)",
                     cases[i].name, got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
        if (got)
            assert_string_equal(got, cases[i].want);
    }
}

static void test_query_parsed_once(void **state)
{
    rv_req *rq = req_with(*state, "QUERY_STRING", "a=1&b=2");
    const char *a1 = req_query(rq, "a");
    assert_string_equal(req_query(rq, "b"), "2");
    assert_ptr_equal(req_query(rq, "a"), a1);
}

static void test_cookie(void **state)
{
    arena *a = *state;
    static const struct {
        const char *header, *want;
    } cases[] = {
        {"rv_access=tok", "tok"},
        {"a=1; rv_access=tok; b=2", "tok"},
        {"a=1;rv_access=tok;b=2", "tok"},
        {"   rv_access=tok  ; b=2", "tok"},
        {"rv_access=\"quoted\"", "quoted"},
        {"rv_access=\"", "\""},
        {"rv_access=", ""},
        {"rv_access=a=b", "a=b"},
        {"rv_access=1; rv_access=2", "1"},
        {"xrv_access=evil", NULL},
        {"xrv_access=evil; rv_access=good", "good"},
        {"rv_access_old=evil; rv_access=good", "good"},
        {"rv_accessx=evil", NULL},
        {"rv_access", NULL},
        {"rv_refresh=r", NULL},
        {";;; ;", NULL},
        {"", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rv_req *rq = req_with(a, "HTTP_COOKIE", cases[i].header);
        const char *got = req_cookie(rq, "rv_access");
        if (!cases[i].want != !got)
            fail_msg("Cookie: %s: got %s, want %s", cases[i].header ? cases[i].header : "(none)",
                     got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
        if (got)
            assert_string_equal(got, cases[i].want);
    }
}

static void test_header(void **state)
{
    arena *a = *state;
    char *env[] = {"HTTP_IDEMPOTENCY_KEY=k1", "HTTP_X_REQUEST_ID=r1", "HTTP_AUTHORIZATION=Bearer t",
                   "CONTENT_TYPE=application/json", NULL};
    rv_req rq;
    unit_req(&rq, a, env);
    assert_string_equal(req_header(&rq, "Idempotency-Key"), "k1");
    assert_string_equal(req_header(&rq, "idempotency-key"), "k1");
    assert_string_equal(req_header(&rq, "X-Request-Id"), "r1");
    assert_string_equal(req_header(&rq, "Authorization"), "Bearer t");
    assert_null(req_header(&rq, "Content-Type")); /* CGI has no HTTP_CONTENT_TYPE */
    assert_null(req_header(&rq, "Idempotency"));
    assert_null(req_header(&rq, "Missing"));
    assert_string_equal(req_param(&rq, "CONTENT_TYPE"), "application/json");

    char long_name[300];
    memset(long_name, 'X', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_null(req_header(&rq, long_name));

    rq.env = NULL;
    assert_null(req_param(&rq, "CONTENT_TYPE"));
    assert_null(req_header(&rq, "X-Request-Id"));
}

static void test_route_match(void **state)
{
    arena *a = *state;
    static const struct {
        const char *route, *path;
        bool want;
        const char *params; /* "name=value ..." stored on a match */
    } cases[] = {
        {"/api/me", "/api/me", true, ""},
        {"/api/me", "/api/me/", false, NULL},
        {"/api/me", "/api/mex", false, NULL},
        {"/api/me", "/api/m", false, NULL},
        {"/api/me", "", false, NULL},
        {"/api/jobs/{id}", "/api/jobs/123", true, "id=123"},
        {"/api/jobs/{id}", "/api/jobs/123/", false, NULL},
        {"/api/jobs/{id}", "/api/jobs/", false, NULL},
        {"/api/jobs/{id}", "/api/jobs", false, NULL},
        {"/api/jobs/{id}", "/api/jobs//", false, NULL},
        {"/api/jobs/{id}", "/api/jobs/1/2", false, NULL},
        {"/api/jobs/{id}/x", "/api/jobs/1/x", true, "id=1"},
        {"/api/jobs/{id}/x", "/api/jobs/1/y", false, NULL},
        {"/api/jobs/{id}/x", "/api/jobs//x", false, NULL},
        {"/api/projects/{id}/audios/{audioId}", "/api/projects/p1/audios/a-2", true,
         "id=p1 audioId=a-2"},
        {"/{a}/{b}/{c}/{d}", "/1/2/3/4", true, "a=1 b=2 c=3 d=4"},
        {"/{a}/{b}/{c}/{d}/{e}", "/1/2/3/4/5", false, NULL}, /* over REQ_MAX_PATH_PARAMS */
        {"/api/{id", "/api/1", false, NULL},                 /* unclosed brace */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rv_req rq;
        unit_req(&rq, a, NULL);
        bool got = req_route_match(&rq, cases[i].route, cases[i].path);
        if (got != cases[i].want)
            fail_msg("%s against %s: got %d", cases[i].path, cases[i].route, got);
        if (!got)
            continue;
        char *joined = arena_strdup(a, "");
        for (int p = 0; p < rq.n_path; p++)
            joined = arena_printf(a, "%s%s%s=%s", joined, p ? " " : "", rq.path_names[p],
                                  req_path(&rq, rq.path_names[p]));
        assert_string_equal(joined, cases[i].params);
        assert_null(req_path(&rq, "nope"));
    }
}

/* A failed match leaves no parameters behind from an earlier one. */
static void test_route_rematch(void **state)
{
    rv_req rq;
    unit_req(&rq, *state, NULL);
    assert_true(req_route_match(&rq, "/api/jobs/{id}", "/api/jobs/1"));
    assert_false(req_route_match(&rq, "/api/me", "/api/you"));
    assert_null(req_path(&rq, "id"));
}

static void test_page(void **state)
{
    arena *a = *state;
    static const struct {
        const char *query;
        long page, limit;   /* when valid */
        const char *errors; /* fields reported; NULL: valid */
    } cases[] = {
        {NULL, 1, 20, NULL},
        {"", 1, 20, NULL},
        {"page=2&limit=50", 2, 50, NULL},
        {"limit=1", 1, 1, NULL},
        {"limit=100", 1, 100, NULL},
        {"page=1000000", 1000000, 20, NULL},
        {"limit=101", 0, 0, "limit"},
        {"limit=0", 0, 0, "limit"},
        {"page=0", 0, 0, "page"},
        {"page=1000001", 0, 0, "page"},
        {"page=1e3", 0, 0, "page"},
        {"page=-1", 0, 0, "page"},
        {"page=", 0, 0, "page"},
        {"page=99999999999999999999", 0, 0, "page"},
        {"page=+1", 0, 0, "page"},
        {"page=%201", 0, 0, "page"},
        {"page=1+", 0, 0, "page"},
        {"page=0x10", 0, 0, "page"},
        {"page=1.0", 0, 0, "page"},
        {"limit=twenty", 0, 0, "limit"},
        {"page=abc&limit=-5", 0, 0, "page limit"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rv_req *rq = req_with(a, "QUERY_STRING", cases[i].query);
        long page = -7, limit = -7;
        rv_err er = req_page(rq, &page, &limit);
        const char *q = cases[i].query ? cases[i].query : "(none)";
        if (!cases[i].errors) {
            if (er != RV_OK)
                fail_msg("?%s refused: %s", q, unit_error_fields(rq));
            assert_int_equal(page, cases[i].page);
            assert_int_equal(limit, cases[i].limit);
            assert_null(rq->problem_errors);
        } else {
            if (er != RV_E_VALIDATION)
                fail_msg("?%s accepted as page %ld limit %ld", q, page, limit);
            assert_string_equal(unit_error_fields(rq), cases[i].errors);
        }
    }
}

static void test_is_uuid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool want;
    } cases[] = {
        {"123e4567-e89b-12d3-a456-426614174000", true},
        {"123E4567-E89B-12D3-A456-426614174000", true},
        {"00000000-0000-0000-0000-000000000000", true},
        {NULL, false},
        {"", false},
        {"123e4567-e89b-12d3-a456-42661417400", false},
        {"123e4567-e89b-12d3-a456-4266141740000", false},
        {"123e4567e89b12d3a456426614174000", false},
        {"123e4567-e89b-12d3-a456_426614174000", false},
        {"123e4567-e89b12d3--a456-426614174000", false},
        {"g23e4567-e89b-12d3-a456-426614174000", false},
        {"{23e4567-e89b-12d3-a456-42661417400}", false},
        {" 23e4567-e89b-12d3-a456-426614174000", false},
        {"123e4567-e89b-12d3-a456-42661417400\n", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (req_is_uuid(cases[i].s) != cases[i].want)
            fail_msg("req_is_uuid(%s) != %d", cases[i].s ? cases[i].s : "NULL", cases[i].want);
}

static void test_field_error(void **state)
{
    rv_req *rq = req_with(*state, "X", NULL);
    assert_null(rq->problem_errors);
    assert_int_equal(req_field_error(rq, "email", "must be a valid email address"),
                     RV_E_VALIDATION);
    assert_int_equal(req_field_error(rq, "name", "is required"), RV_E_VALIDATION);
    assert_string_equal(unit_error_fields(rq), "email name");
    assert_string_equal(unit_error_message(rq, "name"), "is required");
    assert_string_equal(unit_error_message(rq, "email"), "must be a valid email address");
}

static void test_problem_set(void **state)
{
    rv_req *rq = req_with(*state, "X", NULL);
    req_problem_set(rq, "required", json_object_new_int(5));
    req_problem_set(rq, "balance", json_object_new_int(2));
    req_problem_set(rq, "balance", json_object_new_int(3)); /* replaces, frees the old */
    assert_int_equal(json_object_get_int(unit_get(rq->problem_extra, "required")), 5);
    assert_int_equal(json_object_get_int(unit_get(rq->problem_extra, "balance")), 3);
    assert_int_equal(json_object_object_length(rq->problem_extra), 2);
}

static void test_fail_and_keep(void **state)
{
    rv_req *rq = req_with(*state, "X", NULL);
    assert_int_equal(req_fail(rq, RV_E_NOT_FOUND, "no job %s (%d)", "abc", 4), RV_E_NOT_FOUND);
    assert_string_equal(rq->detail, "no job abc (4)");
    json_object *o = json_object_new_object();
    assert_ptr_equal(req_keep(rq, o), o); /* released with the arena (ASan checks) */
    assert_null(req_keep(rq, NULL));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_unescape),          T(test_unescape_length), T(test_query),
        T(test_query_parsed_once), T(test_cookie),          T(test_header),
        T(test_route_match),       T(test_route_rematch),   T(test_page),
        T(test_is_uuid),           T(test_field_error),     T(test_problem_set),
        T(test_fail_and_keep),
    };
    return cmocka_run_group_tests_name("req", tests, NULL, NULL);
}
