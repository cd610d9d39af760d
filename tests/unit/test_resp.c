/* test_resp.c — success bodies, problem+json, cookies, pagination and rendering. */
#include "unit.h"

#include "resp.h"
#include "serve.h"

#include <stdio.h>

static const char PROBLEM_TYPE[] = "application/problem+json; charset=utf-8";

static rv_req *new_req(arena *a)
{
    rv_req *rq = arena_alloc(a, sizeof *rq);
    unit_req(rq, a, NULL);
    return rq;
}

/* Renders er as a problem and returns the parsed body. */
static json_object *problem(rv_req *rq, rv_err er)
{
    resp_problem(rq, er);
    assert_string_equal(rq->resp_type, PROBLEM_TYPE);
    return unit_json(rq->a, rq->resp_body, rq->resp_len);
}

static bool has(json_object *o, const char *key)
{
    return json_object_object_get_ex(o, key, NULL);
}

static void test_problem_every_error(void **state)
{
    arena *a = *state;
    for (int e = 1; e < RV_E__COUNT; e++) {
        const rv_err_info *info = err_info((rv_err)e);
        rv_req *rq = new_req(a);
        json_object *body = problem(rq, (rv_err)e);
        assert_int_equal(rq->status, info->status);
        assert_int_equal(json_object_get_int(unit_get(body, "status")), info->status);
        assert_string_equal(unit_get_str(body, "code"), info->code);
        assert_string_equal(unit_get_str(body, "title"), info->title);
        assert_string_equal(unit_get_str(body, "type"),
                            arena_printf(a, "https://reelvox.dev/problems/%s", info->slug));
        assert_int_equal(has(body, "errors"), e == RV_E_VALIDATION);
        assert_int_equal(unit_resp_header(rq, "WWW-Authenticate") != NULL, info->status == 401);
        assert_int_equal(unit_resp_header(rq, "Retry-After") != NULL, info->status == 429);
        arena_reset(a);
    }
}

static void test_problem_validation(void **state)
{
    arena *a = *state;
    rv_req *rq = new_req(a);
    req_field_error(rq, "email", "must be a valid email address");
    req_field_error(rq, "password", "must be 10 to 128 characters");
    json_object *body = problem(rq, RV_E_VALIDATION);
    assert_int_equal(rq->status, 400);
    assert_string_equal(unit_get_str(body, "detail"), "2 fields are invalid");
    json_object *errors = unit_get(body, "errors");
    assert_int_equal(json_object_array_length(errors), 2);
    json_object *e1 = json_object_array_get_idx(errors, 1);
    assert_string_equal(unit_get_str(e1, "field"), "password");
    assert_string_equal(unit_get_str(e1, "message"), "must be 10 to 128 characters");

    rq = new_req(a);
    req_field_error(rq, "name", "is required");
    body = problem(rq, RV_E_VALIDATION);
    assert_string_equal(unit_get_str(body, "detail"), "1 field is invalid");

    /* A handler's own detail wins; with no field errors the list is still there. */
    rq = new_req(a);
    req_fail(rq, RV_E_VALIDATION, "invalid Content-Length");
    body = problem(rq, RV_E_VALIDATION);
    assert_string_equal(unit_get_str(body, "detail"), "invalid Content-Length");
    assert_int_equal(json_object_array_length(unit_get(body, "errors")), 0);
}

static void test_problem_internal_hides_detail(void **state)
{
    arena *a = *state;
    rv_req *rq = new_req(a);
    req_fail(rq, RV_E_INTERNAL, "duplicate key value violates \"users_email_key\"");
    req_problem_set(rq, "sql", json_object_new_string("INSERT INTO users"));
    req_field_error(rq, "email", "leaked?");
    json_object *body = problem(rq, RV_E_INTERNAL);
    assert_int_equal(rq->status, 500);
    assert_string_equal(unit_get_str(body, "code"), "internal");
    assert_false(has(body, "sql"));
    assert_false(has(body, "errors"));
    assert_null(strstr(rq->resp_body, "users"));
    assert_null(strstr(rq->resp_body, "leaked"));
    assert_true(strlen(unit_get_str(body, "detail")) > 0);
}

static void test_problem_rate_limited(void **state)
{
    arena *a = *state;
    rv_req *rq = new_req(a);
    json_object *body = problem(rq, RV_E_RATE_LIMITED);
    assert_int_equal(rq->status, 429);
    assert_int_equal(json_object_get_int(unit_get(body, "retryAfter")), 1);
    assert_string_equal(unit_resp_header(rq, "Retry-After"), "1");

    rq = new_req(a);
    req_problem_set(rq, "retryAfter", json_object_new_int(30));
    body = problem(rq, RV_E_RATE_LIMITED);
    assert_int_equal(json_object_get_int(unit_get(body, "retryAfter")), 30);
    assert_string_equal(unit_resp_header(rq, "Retry-After"), "30");
}

static void test_problem_401(void **state)
{
    arena *a = *state;
    static const rv_err unauthorized[] = {RV_E_UNAUTHORIZED, RV_E_INVALID_CREDENTIALS,
                                          RV_E_TOKEN_EXPIRED};
    for (size_t i = 0; i < N_ELEMS(unauthorized); i++) {
        rv_req *rq = new_req(a);
        problem(rq, unauthorized[i]);
        assert_int_equal(rq->status, 401);
        assert_string_equal(unit_resp_header(rq, "WWW-Authenticate"), "Bearer");
    }
    rv_req *rq = new_req(a);
    problem(rq, RV_E_FORBIDDEN);
    assert_null(unit_resp_header(rq, "WWW-Authenticate"));
}

static void test_problem_extras(void **state)
{
    arena *a = *state;
    rv_req *rq = new_req(a);
    req_problem_set(rq, "required", json_object_new_int(12));
    req_problem_set(rq, "balance", json_object_new_int(3));
    req_fail(rq, RV_E_INSUFFICIENT_CREDITS, "this job costs %d credits", 12);
    json_object *body = problem(rq, RV_E_INSUFFICIENT_CREDITS);
    assert_int_equal(rq->status, 402);
    assert_int_equal(json_object_get_int(unit_get(body, "required")), 12);
    assert_int_equal(json_object_get_int(unit_get(body, "balance")), 3);
    assert_string_equal(unit_get_str(body, "detail"), "this job costs 12 credits");

    rq = new_req(a);
    body = problem(rq, RV_E_NOT_FOUND);
    assert_false(has(body, "detail"));
}

/* The Set-Cookie headers of rq, split into "name=value" and its attributes. */
struct cookie {
    const char *pair, *attrs[8];
    int n;
};

static struct cookie cookie_at(rv_req *rq, int index)
{
    struct cookie c = {0};
    int seen = 0;
    for (const rv_header *h = rq->resp_headers; h; h = h->next) {
        if (strcmp(h->name, "Set-Cookie") || seen++ != index)
            continue;
        char *s = arena_strdup(rq->a, h->value), *part;
        c.pair = s;
        while ((part = strstr(s, "; ")) != NULL && c.n < 8) {
            *part = '\0';
            s = part + 2;
            c.attrs[c.n++] = s;
        }
        return c;
    }
    fail_msg("no Set-Cookie #%d", index);
    return c;
}

static bool cookie_has(const struct cookie *c, const char *attr)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->attrs[i], attr))
            return true;
    return false;
}

static void test_cookie(void **state)
{
    arena *a = *state;
    rv_req *rq = new_req(a);
    resp_cookie(rq, "rv_access", "tok.en", "/", 900);
    resp_cookie(rq, "rv_refresh", "r", "/api/auth", 0);
    resp_cookie(rq, "rv_x", "secret", "/", -5);
    static const struct {
        const char *pair, *path, *max_age;
    } want[] = {
        {"rv_access=tok.en", "Path=/", "Max-Age=900"},
        {"rv_refresh=", "Path=/api/auth", "Max-Age=0"}, /* 0 clears: no value */
        {"rv_x=", "Path=/", "Max-Age=0"},
    };
    for (int i = 0; i < (int)N_ELEMS(want); i++) {
        struct cookie c = cookie_at(rq, i);
        assert_string_equal(c.pair, want[i].pair);
        assert_true(cookie_has(&c, want[i].path));
        assert_true(cookie_has(&c, want[i].max_age));
        assert_true(cookie_has(&c, "HttpOnly"));
        assert_true(cookie_has(&c, "Secure"));
        assert_true(cookie_has(&c, "SameSite=Strict"));
        assert_int_equal(c.n, 5);
    }
}

static void test_pagination(void **state)
{
    arena *a = *state;
    static const struct {
        long page, limit, total, pages;
        bool next, prev;
    } cases[] = {
        {1, 20, 0, 0, false, false},
        {2, 20, 0, 0, false, true},
        {1, 20, 1, 1, false, false},
        {1, 20, 20, 1, false, false},
        {1, 20, 21, 2, true, false},
        {1, 20, 40, 2, true, false},
        {2, 20, 40, 2, false, true},
        {2, 20, 41, 3, true, true},
        {3, 20, 41, 3, false, true},
        {9, 20, 41, 3, false, true},
        {1, 1, 1, 1, false, false},
        {1, 100, 101, 2, true, false},
        {1, 100, 1000000, 10000, true, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        json_object *p = resp_pagination(cases[i].page, cases[i].limit, cases[i].total);
        arena_defer(a, unit_put, p);
        assert_int_equal(json_object_get_int64(unit_get(p, "page")), cases[i].page);
        assert_int_equal(json_object_get_int64(unit_get(p, "limit")), cases[i].limit);
        assert_int_equal(json_object_get_int64(unit_get(p, "total")), cases[i].total);
        assert_int_equal(json_object_get_int64(unit_get(p, "totalPages")), cases[i].pages);
        assert_int_equal(json_object_get_boolean(unit_get(p, "hasNext")), cases[i].next);
        assert_int_equal(json_object_get_boolean(unit_get(p, "hasPrev")), cases[i].prev);
        assert_int_equal(json_object_object_length(p), 6);
    }
}

static void test_list(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, NULL);
    assert_int_equal(resp_list(&rq, 2, 2, 5, "[{\"id\":3},{\"id\":4}]"), RV_OK);
    assert_int_equal(rq.status, 200);
    assert_string_equal(rq.resp_body,
                        "{\"items\":[{\"id\":3},{\"id\":4}],\"pagination\":{\"page\":2,"
                        "\"limit\":2,\"total\":5,\"totalPages\":3,\"hasNext\":true,"
                        "\"hasPrev\":true}}");
}

static const char *render(rv_req *rq)
{
    size_t len;
    char *out = resp_render(rq, &len);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_render(void **state)
{
    arena *a = *state;
    char *env[] = {"REQUEST_ID=abc123", NULL};
    rv_req rq;
    unit_req(&rq, a, env);
    resp_json(&rq, 201, "{\"id\":1}");
    resp_header(&rq, "Location", "/api/jobs/1");
    resp_header(&rq, "X-Second", "2");
    assert_string_equal(render(&rq), "Status: 201 Created\r\n"
                                     "Content-Type: application/json; charset=utf-8\r\n"
                                     "X-Request-Id: abc123\r\n"
                                     "Location: /api/jobs/1\r\n"
                                     "X-Second: 2\r\n"
                                     "Cache-Control: no-store\r\n"
                                     "\r\n"
                                     "{\"id\":1}");

    unit_req(&rq, a, NULL);
    resp_empty(&rq, 204);
    assert_string_equal(render(&rq), "Status: 204 No Content\r\n"
                                     "Cache-Control: no-store\r\n\r\n");

    unit_req(&rq, a, NULL); /* nothing set: a bug, rendered as 500 */
    assert_string_equal(render(&rq), "Status: 500 Internal Server Error\r\n"
                                     "Cache-Control: no-store\r\n\r\n");
}

/* resp_json() sends one style whatever wrote the text: PostgreSQL's json_build_object
 * (`"id" : 1`), jsonb's text (`"id": 1, "b": [1, 2]`) and json-c's compact form
 * all come out compact; what is inside strings, escaped quotes included, stays. */
static void test_json_compact(void **state)
{
    arena *a = *state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"{\"id\":1}", "{\"id\":1}"},
        {"{\"id\" : \"a b\", \"email\" : null}", "{\"id\":\"a b\",\"email\":null}"},
        {"{\"a\": [1, 2, {\"b\": true}],\n\t\"c\": 1.50}", "{\"a\":[1,2,{\"b\":true}],\"c\":1.50}"},
        {"{\"s\" : \"x \\\" : y\\\\\", \"t\" : \" \"}", "{\"s\":\"x \\\" : y\\\\\",\"t\":\" \"}"},
        {" [ ] ", "[]"},
        {"", ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rv_req *rq = new_req(a);
        assert_int_equal(resp_json(rq, 200, cases[i].in), RV_OK);
        assert_string_equal(rq->resp_body, cases[i].want);
        assert_int_equal(rq->resp_len, strlen(cases[i].want));
    }
}

static void test_render_limits(void **state)
{
    arena *a = *state;
    char id[200];
    memset(id, 'i', sizeof id);
    memcpy(id, "REQUEST_ID=", 11);
    id[sizeof id - 1] = '\0';
    char *env[] = {id, NULL};
    rv_req rq;
    unit_req(&rq, a, env);
    /* A big body and many headers all fit. */
    char *body = arena_alloc(a, 100001);
    memset(body, 'b', 100000);
    resp_json(&rq, 200, body);
    for (int i = 0; i < 50; i++)
        resp_header(&rq, arena_printf(a, "X-H%d", i), arena_printf(a, "%0300d", i));
    const char *out = render(&rq);
    const char *rid = strstr(out, "X-Request-Id: ");
    assert_non_null(rid);
    assert_int_equal(strcspn(rid + 14, "\r"), 64); /* an id is cut at 64 characters */
    assert_non_null(strstr(out, "X-H49: "));
    assert_int_equal(strlen(strstr(out, "\r\n\r\n") + 4), 100000);
}

static void test_jobj(void **state)
{
    arena *a = *state;
    rv_req *rq = new_req(a);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "url", json_object_new_string("/media/a/b"));
    json_object_object_add(o, "n", json_object_new_int(3));
    assert_int_equal(resp_jobj(rq, 200, o), RV_OK); /* takes o: the arena puts it */
    assert_int_equal(rq->status, 200);
    assert_string_equal(rq->resp_type, "application/json; charset=utf-8");
    assert_string_equal(rq->resp_body, "{\"url\":\"/media/a/b\",\"n\":3}");
    assert_int_equal(rq->resp_len, strlen(rq->resp_body));
}

/* A GET answered 200 with JSON carries an ETag; the same body asked for with that
 * tag in If-None-Match is a 304 without a body; another body, another method or
 * another status carry none. */
static void test_etag(void **state)
{
    arena *a = *state;
    char *get[] = {"REQUEST_METHOD=GET", NULL};
    rv_req rq;
    unit_req(&rq, a, get);
    rq.method_bit = RV_GET;
    resp_json(&rq, 200, "{\"id\":1}");
    const char *out = render(&rq);
    const char *at = strstr(out, "ETag: \"");
    assert_non_null(at);
    char tag[64];
    assert_int_equal(sscanf(at, "ETag: %63s", tag), 1);
    assert_int_equal(strlen(tag), 34);
    assert_non_null(strstr(out, "\r\n\r\n{\"id\":1}"));

    char *inm = arena_printf(a, "HTTP_IF_NONE_MATCH=W/\"x\", %s", tag);
    char *cond[] = {"REQUEST_METHOD=GET", inm, NULL};
    unit_req(&rq, a, cond);
    rq.method_bit = RV_GET;
    resp_json(&rq, 200, "{\"id\":1}");
    out = render(&rq);
    assert_true(!strncmp(out, "Status: 304 Not Modified\r\n", 26));
    assert_null(strstr(out, "Content-Type"));
    assert_non_null(strstr(out, tag));
    assert_string_equal(out + strlen(out) - 4, "\r\n\r\n");

    unit_req(&rq, a, cond); /* the body changed: the full answer, a new tag */
    rq.method_bit = RV_GET;
    resp_json(&rq, 200, "{\"id\":2}");
    out = render(&rq);
    assert_true(!strncmp(out, "Status: 200 OK\r\n", 16));
    assert_null(strstr(out, tag));

    char *post[] = {"REQUEST_METHOD=POST", NULL};
    unit_req(&rq, a, post);
    rq.method_bit = RV_POST;
    resp_json(&rq, 200, "{\"id\":1}");
    assert_null(strstr(render(&rq), "ETag"));
    unit_req(&rq, a, get);
    rq.method_bit = RV_GET;
    resp_json(&rq, 202, "{\"id\":1}");
    assert_null(strstr(render(&rq), "ETag"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_problem_every_error),
        T(test_problem_validation),
        T(test_problem_internal_hides_detail),
        T(test_problem_rate_limited),
        T(test_problem_401),
        T(test_problem_extras),
        T(test_cookie),
        T(test_pagination),
        T(test_list),
        T(test_render),
        T(test_json_compact),
        T(test_render_limits),
        T(test_jobj),
        T(test_etag),
    };
    return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
