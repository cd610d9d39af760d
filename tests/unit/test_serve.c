/* test_serve.c — what the serve loop answers before and after a handler runs.
 *
 * serve_request() over hand-built requests; no database (none is opened unless a
 * handler asks) and no FastCGI socket. */
#include "unit.h"

#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "auth.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

#define UID "11111111-2222-3333-4444-555555555555"
#define SID "66666666-7777-8888-9999-000000000000"

static const unsigned char KEY[] = "k3y-for-unit-tests/0123456789abcdefghijKLMNOP";

static int handler_calls;

/* Answers 200 with the caller's id, or "anonymous". */
static rv_err h_whoami(rv_req *rq)
{
    handler_calls++;
    return resp_json(rq, 200,
                     arena_printf(rq->a, "{\"user\":\"%s\",\"id\":\"%s\"}",
                                  rq->user_id ? rq->user_id : "anonymous",
                                  req_path(rq, "id") ? req_path(rq, "id") : ""));
}

static rv_err h_nothing(rv_req *rq)
{
    (void)rq;
    handler_calls++;
    return RV_OK;
}

static rv_err h_conflict(rv_req *rq)
{
    handler_calls++;
    return req_fail(rq, RV_E_INVALID_STATE, "the job has finished");
}

/* Answers 200 with the method bit the serve loop set, as "user". */
static rv_err h_method(rv_req *rq)
{
    handler_calls++;
    return resp_json(rq, 200, arena_printf(rq->a, "{\"user\":\"%u\"}", rq->method_bit));
}

/* Fails as a handler does after a statement failed, reporting whether any database
 * error was already recorded when it started, as "user". */
static char error_seen[300];
static rv_err h_internal(rv_req *rq)
{
    (void)rq;
    handler_calls++;
    snprintf(error_seen, sizeof error_seen, "%s", db_error());
    return RV_E_INTERNAL;
}

static const rv_endpoint PUBLIC = {"t_public", "/api/ping", RV_GET, 0, 0, h_whoami};
static const rv_endpoint JOBS = {"t_jobs", "/api/jobs/{id}", RV_GET | RV_POST | RV_DELETE, RV_AUTH,
                                 100,      h_whoami};
static const rv_endpoint ADMIN = {"t_admin", "/api/admin/x", RV_GET, RV_ADMIN, 0, h_whoami};
static const rv_endpoint UPLOAD = {"t_upload", "/api/audios", RV_POST, RV_AUTH | RV_RAW_BODY,
                                   1000,       h_whoami};
static const rv_endpoint EMPTY = {"t_empty", "/api/empty", RV_POST, 0, 0, h_nothing};
static const rv_endpoint ANY = {.name = "t_any",
                                .route = "/api/any",
                                .methods = RV_GET | RV_POST | RV_PUT | RV_PATCH | RV_DELETE,
                                .handle = h_method};
static const rv_endpoint BROKEN = {
    .name = "t_broken", .route = "/api/broken", .methods = RV_GET, .handle = h_internal};
static const rv_endpoint STATE = {"t_state", "/api/state", RV_DELETE, 0, 0, h_conflict};

/* Tokens, by the name a case uses in place of TOKEN. */
enum tok { T_NONE, T_USER, T_ADMIN, T_EXPIRED, T_JUNK };
static const char *tokens[5];

static const char *issue(const char *role, time_t at)
{
    long expires_in;
    return auth_issue_access(UID, role, SID, at, &expires_in);
}

static int group_setup(void **state)
{
    (void)state;
    if (!auth_init(KEY, sizeof KEY - 1, "reelvox", 900))
        return -1;
    tokens[T_USER] = issue("user", time(NULL));
    tokens[T_ADMIN] = issue("admin", time(NULL));
    tokens[T_EXPIRED] = issue("user", time(NULL) - 3600);
    tokens[T_JUNK] = strdup("eyJhbGciOiJub25lIn0.e30.");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(tokens); i++)
        free((void *)tokens[i]);
    return 0;
}

/* tmpl with "TOKEN" replaced by tok; NULL stays NULL. */
static const char *with_token(arena *a, const char *tmpl, enum tok tok)
{
    if (!tmpl)
        return NULL;
    const char *at = strstr(tmpl, "TOKEN");
    if (!at)
        return tmpl;
    return arena_printf(a, "%.*s%s%s", (int)(at - tmpl), tmpl, tokens[tok], at + 5);
}

struct serve_case {
    const char *what;
    const rv_endpoint *ep;
    const char *method, *path;
    const char *authorization, *cookie; /* may hold TOKEN */
    enum tok tok;
    const char *content_type;
    size_t body_len;
    int status;
    const char *code; /* problem code, or the "user" the handler saw */
};

/* Serves c and checks status, code and whether the handler ran. */
static rv_req *serve(arena *a, const struct serve_case *c)
{
    char **env = arena_alloc(a, 8 * sizeof *env);
    int n = 0;
    env[n++] = arena_printf(a, "REQUEST_METHOD=%s", c->method);
    env[n++] = arena_printf(a, "DOCUMENT_URI=%s", c->path);
    if (c->authorization)
        env[n++] =
            arena_printf(a, "HTTP_AUTHORIZATION=%s", with_token(a, c->authorization, c->tok));
    if (c->cookie)
        env[n++] = arena_printf(a, "HTTP_COOKIE=%s", with_token(a, c->cookie, c->tok));
    if (c->content_type)
        env[n++] = arena_printf(a, "CONTENT_TYPE=%s", c->content_type);
    rv_req *rq = arena_alloc(a, sizeof *rq);
    unit_req(rq, a, env);
    if (c->body_len) {
        char *body = arena_alloc(a, c->body_len + 1);
        memset(body, ' ', c->body_len);
        memcpy(body, "{}", 2);
        rq->body = body;
        rq->body_len = c->body_len;
    }
    handler_calls = 0;
    serve_request(c->ep, rq);
    if (rq->status != c->status)
        fail_msg("%s: status %d, want %d (%.*s)", c->what, rq->status, c->status, (int)rq->resp_len,
                 rq->resp_body ? rq->resp_body : "");
    bool ran = c->status < 400 || c->ep == &STATE;
    assert_int_equal(handler_calls, ran);
    if (rq->status >= 400) {
        assert_string_equal(rq->resp_type, "application/problem+json; charset=utf-8");
        json_object *body = unit_json(a, rq->resp_body, rq->resp_len);
        assert_string_equal(unit_get_str(body, "code"), c->code);
    } else if (rq->resp_len) {
        json_object *body = unit_json(a, rq->resp_body, rq->resp_len);
        assert_string_equal(unit_get_str(body, "user"), c->code);
    }
    return rq;
}

static const char JSON[] = "application/json";

static void run(arena *a, const struct serve_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        serve(a, &cases[i]);
        arena_reset(a);
    }
}

static void test_route_and_method(void **state)
{
    static const struct serve_case cases[] = {
        {"public", &PUBLIC, "GET", "/api/ping", NULL, NULL, T_NONE, NULL, 0, 200, "anonymous"},
        {"HEAD is GET", &PUBLIC, "HEAD", "/api/ping", NULL, NULL, T_NONE, NULL, 0, 200,
         "anonymous"},
        {"no route", &PUBLIC, "GET", "/api/pong", NULL, NULL, T_NONE, NULL, 0, 404, "not_found"},
        {"trailing slash", &PUBLIC, "GET", "/api/ping/", NULL, NULL, T_NONE, NULL, 0, 404,
         "not_found"},
        {"unknown method", &PUBLIC, "BREW", "/api/ping", NULL, NULL, T_NONE, NULL, 0, 405,
         "method_not_allowed"},
        {"lower-case method", &PUBLIC, "get", "/api/ping", NULL, NULL, T_NONE, NULL, 0, 405,
         "method_not_allowed"},
        {"method", &JOBS, "PATCH", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER, NULL, 0, 405,
         "method_not_allowed"},
    };
    run(*state, cases, N_ELEMS(cases));
}

/* Handlers dispatch on rq->method_bit: every method has its own bit (POST and PUT,
 * PATCH and POST no longer share a first letter's branch), HEAD is GET. */
static void test_method_bit(void **state)
{
    static const struct serve_case cases[] = {
        {"GET", &ANY, "GET", "/api/any", .status = 200, .code = "1"},
        {"HEAD", &ANY, "HEAD", "/api/any", .status = 200, .code = "1"},
        {"POST", &ANY, "POST", "/api/any", .status = 200, .code = "2"},
        {"PUT", &ANY, "PUT", "/api/any", .status = 200, .code = "4"},
        {"PATCH", &ANY, "PATCH", "/api/any", .status = 200, .code = "8"},
        {"DELETE", &ANY, "DELETE", "/api/any", .status = 200, .code = "16"},
    };
    run(*state, cases, N_ELEMS(cases));
}

/* The last database error belongs to the request that made it: the next request of
 * the worker starts without it, so its log never carries another user's error. */
static void test_db_error_per_request(void **state)
{
    db_error_note("23505", "duplicate key value violates unique constraint \"users_email_key\"",
                  "users_email_key");
    snprintf(error_seen, sizeof error_seen, "unset");
    rv_req *rq = arena_alloc(*state, sizeof *rq);
    char *env[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/api/broken", NULL};
    unit_req(rq, *state, env);
    handler_calls = 0;
    serve_request(&BROKEN, rq);
    assert_int_equal(handler_calls, 1);
    assert_int_equal(rq->status, 500);
    assert_string_equal(error_seen, "");
    assert_string_equal(db_sqlstate(), "");
}

/* The child's half of test_stop_signal_window: 0 when all went as it should. */
static int stop_window_child(void)
{
    alarm(20); /* a wait that never ends kills the child: the test fails, not hangs */
    int idle[2], busy[2];
    if (pipe(idle) != 0 || pipe(busy) != 0 || write(busy[1], "x", 1) != 1)
        return 10;
    serve_stop_signals();
    if (serve_wait_readable(busy[0]) != 1)
        return 11; /* a readable fd ends the wait */
    /* SIGTERM after the last look at the flag and before the wait: the window in
     * which it used to be lost while the worker blocked in accept(). */
    raise(SIGTERM);
    if (serve_stopping())
        return 12; /* held until the wait... */
    if (serve_wait_readable(idle[0]) != 0 || !serve_stopping())
        return 13; /* ...which it then ends at once */
    return 0;
}

static void test_stop_signal_window(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(stop_window_child());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_body(void **state)
{
    static const struct serve_case cases[] = {
        {"body where none is taken", &PUBLIC, "GET", "/api/ping", NULL, NULL, T_NONE, JSON, 2, 413,
         "payload_too_large"},
        {"json body", &JOBS, "POST", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER, JSON, 100, 200,
         UID},
        {"json; charset", &JOBS, "POST", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER,
         "application/json; charset=utf-8", 2, 200, UID},
        {"JSON upper case", &JOBS, "POST", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER,
         "Application/JSON", 2, 200, UID},
        {"too large, before auth", &JOBS, "POST", "/api/jobs/7", NULL, NULL, T_NONE, JSON, 101, 413,
         "payload_too_large"},
        {"not json", &JOBS, "POST", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER, "text/plain", 2,
         415, "unsupported_media_type"},
        {"json look-alike", &JOBS, "POST", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER,
         "application/jsonx", 2, 415, "unsupported_media_type"},
        {"no content type", &JOBS, "POST", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER, NULL, 2,
         415, "unsupported_media_type"},
        {"raw body", &UPLOAD, "POST", "/api/audios", "Bearer TOKEN", NULL, T_USER, "audio/mpeg",
         1000, 200, UID},
        {"raw body, too large", &UPLOAD, "POST", "/api/audios", "Bearer TOKEN", NULL, T_USER,
         "audio/mpeg", 1001, 413, "payload_too_large"},
    };
    run(*state, cases, N_ELEMS(cases));
}

static void test_authentication(void **state)
{
    static const struct serve_case cases[] = {
        {"public, bad token ignored", &PUBLIC, "GET", "/api/ping", "Bearer TOKEN", NULL, T_JUNK,
         NULL, 0, 200, "anonymous"},
        {"public, expired ignored", &PUBLIC, "GET", "/api/ping", NULL, "rv_access=TOKEN", T_EXPIRED,
         NULL, 0, 200, "anonymous"},
        {"public, user seen", &PUBLIC, "GET", "/api/ping", "Bearer TOKEN", NULL, T_USER, NULL, 0,
         200, UID},
        {"no token", &JOBS, "GET", "/api/jobs/7", NULL, NULL, T_NONE, NULL, 0, 401, "unauthorized"},
        {"bearer", &JOBS, "GET", "/api/jobs/7", "Bearer TOKEN", NULL, T_USER, NULL, 0, 200, UID},
        {"bearer, any case", &JOBS, "GET", "/api/jobs/7", "bEARER TOKEN", NULL, T_USER, NULL, 0,
         200, UID},
        {"cookie", &JOBS, "GET", "/api/jobs/7", NULL, "a=b; rv_access=TOKEN", T_USER, NULL, 0, 200,
         UID},
        {"look-alike cookie", &JOBS, "GET", "/api/jobs/7", NULL, "xrv_access=TOKEN", T_USER, NULL,
         0, 401, "unauthorized"},
        {"header beats cookie", &JOBS, "GET", "/api/jobs/7", "Basic dTpw", "rv_access=TOKEN",
         T_USER, NULL, 0, 401, "unauthorized"},
        {"empty bearer", &JOBS, "GET", "/api/jobs/7", "Bearer ", NULL, T_NONE, NULL, 0, 401,
         "unauthorized"},
        {"expired", &JOBS, "GET", "/api/jobs/7", "Bearer TOKEN", NULL, T_EXPIRED, NULL, 0, 401,
         "token_expired"},
        {"alg none", &JOBS, "GET", "/api/jobs/7", "Bearer TOKEN", NULL, T_JUNK, NULL, 0, 401,
         "unauthorized"},
        {"admin only", &ADMIN, "GET", "/api/admin/x", "Bearer TOKEN", NULL, T_USER, NULL, 0, 403,
         "forbidden"},
        {"admin", &ADMIN, "GET", "/api/admin/x", "Bearer TOKEN", NULL, T_ADMIN, NULL, 0, 200, UID},
        {"admin, no token", &ADMIN, "GET", "/api/admin/x", NULL, NULL, T_NONE, NULL, 0, 401,
         "unauthorized"},
    };
    run(*state, cases, N_ELEMS(cases));
}

static void test_handler_result(void **state)
{
    static const struct serve_case cases[] = {
        {"handler answers nothing", &EMPTY, "POST", "/api/empty", NULL, NULL, T_NONE, NULL, 0, 204,
         NULL},
        {"handler fails", &STATE, "DELETE", "/api/state", NULL, NULL, T_NONE, NULL, 0, 409,
         "invalid_state"},
    };
    run(*state, cases, N_ELEMS(cases));
}

static void test_details(void **state)
{
    arena *a = *state;
    static const struct serve_case get_jobs = {
        "GET job", &JOBS, "GET", "/api/jobs/abc", "Bearer TOKEN", NULL, T_USER, NULL, 0, 200, UID};
    rv_req *rq = serve(a, &get_jobs);
    assert_string_equal(req_path(rq, "id"), "abc");
    assert_string_equal(rq->role, "user");
    assert_string_equal(rq->session_id, SID);
    assert_string_equal(rq->access_token, tokens[T_USER]);

    static const struct serve_case patch = {
        "PATCH", &JOBS, "PATCH", "/api/jobs/abc",     NULL, NULL, T_NONE,
        NULL,    0,     405,     "method_not_allowed"};
    rq = serve(a, &patch);
    assert_string_equal(unit_resp_header(rq, "Allow"), "GET, POST, DELETE");

    static const struct serve_case anon = {"anonymous", &JOBS, "GET",         "/api/jobs/abc",
                                           NULL,        NULL,  T_NONE,        NULL,
                                           0,           401,   "unauthorized"};
    rq = serve(a, &anon);
    assert_string_equal(unit_resp_header(rq, "WWW-Authenticate"), "Bearer");
    assert_null(rq->user_id);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_route_and_method),   T(test_method_bit), T(test_db_error_per_request),
        T(test_stop_signal_window), T(test_body),       T(test_authentication),
        T(test_handler_result),     T(test_details),
    };
    return cmocka_run_group_tests_name("serve", tests, group_setup, group_teardown);
}
