/* test_session.c — the answer to a successful sign-in, and logging out. */
#include "unit.h"

#include <stdlib.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "session.h"

#define UID "11111111-2222-3333-4444-555555555555"
#define SID "66666666-7777-8888-9999-000000000000"

static const unsigned char KEY[] = "k3y-for-unit-tests/0123456789abcdefghijKLMNOP";

static int group_setup(void **state)
{
    (void)state;
    char why[256];
    unsetenv("RV_REFRESH_TTL_DAYS");
    if (!config_load(false, why, sizeof why))
        return -1;
    return auth_init(KEY, sizeof KEY - 1, "reelvox", 900) ? 0 : -1;
}

static const session_grant GRANT = {
    .user_json = "{\"id\":\"" UID "\",\"email\":\"a@b.co\",\"role\":\"user\"}",
    .user_id = UID,
    .role = "user",
    .session_id = SID,
    .refresh_token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
};

/* The value of the Set-Cookie for name, up to its first ';'; NULL when none. */
static const char *cookie(rv_req *rq, const char *name, const char **attrs)
{
    size_t n = strlen(name);
    for (const rv_header *h = rq->resp_headers; h; h = h->next)
        if (!strcmp(h->name, "Set-Cookie") && !strncmp(h->value, name, n) && h->value[n] == '=') {
            const char *v = h->value + n + 1;
            *attrs = strchr(v, ';');
            return arena_strndup(rq->a, v, (size_t)(*attrs - v));
        }
    return NULL;
}

static json_object *respond(rv_req *rq, const session_grant *g)
{
    assert_int_equal(session_respond(rq, 201, g), RV_OK);
    assert_int_equal(rq->status, 201);
    assert_string_equal(rq->resp_type, "application/json; charset=utf-8");
    return unit_json(rq->a, rq->resp_body, rq->resp_len);
}

static void test_respond(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, NULL);
    json_object *body = respond(&rq, &GRANT);

    assert_string_equal(unit_get_str(unit_get(body, "user"), "email"), "a@b.co");
    assert_int_equal(json_object_get_int(unit_get(body, "expiresIn")), 900);
    assert_false(json_object_object_get_ex(body, "refreshToken", NULL)); /* register */
    const char *access = unit_get_str(body, "accessToken");
    auth_claims c;
    assert_int_equal(auth_verify_access(access, time(NULL), &c), RV_OK);
    assert_string_equal(c.user_id, UID);
    assert_string_equal(c.role, "user");
    assert_string_equal(c.session_id, SID);

    const char *attrs;
    assert_string_equal(cookie(&rq, "rv_access", &attrs), access);
    assert_non_null(strstr(attrs, "; Path=/;"));
    assert_non_null(strstr(attrs, "; Max-Age=900;"));
    assert_string_equal(cookie(&rq, "rv_refresh", &attrs), GRANT.refresh_token);
    assert_non_null(strstr(attrs, "; Path=/api/auth;"));
    assert_non_null(strstr(attrs, "; Max-Age=2592000;"));
    for (const rv_header *h = rq.resp_headers; h; h = h->next) {
        assert_non_null(strstr(h->value, "; HttpOnly"));
        assert_non_null(strstr(h->value, "; Secure"));
        assert_non_null(strstr(h->value, "; SameSite=Strict"));
    }
}

static void test_respond_refresh_in_body(void **state)
{
    rv_req rq;
    unit_req(&rq, *state, NULL);
    session_grant g = GRANT;
    g.refresh_in_body = true;
    json_object *body = respond(&rq, &g);
    assert_string_equal(unit_get_str(body, "refreshToken"), GRANT.refresh_token);
    assert_non_null(unit_get(body, "accessToken"));
}

static void test_clear_cookies(void **state)
{
    rv_req rq;
    unit_req(&rq, *state, NULL);
    session_clear_cookies(&rq);
    const char *attrs;
    assert_string_equal(cookie(&rq, "rv_access", &attrs), "");
    assert_non_null(strstr(attrs, "; Path=/;"));
    assert_non_null(strstr(attrs, "Max-Age=0"));
    assert_string_equal(cookie(&rq, "rv_refresh", &attrs), "");
    assert_non_null(strstr(attrs, "; Path=/api/auth;"));
    assert_non_null(strstr(attrs, "Max-Age=0"));
}

/* The per-worker memory of session checks: an answer holds for the recheck
 * interval, for exactly that session, user and role, then must be asked again. */
static void test_check_cache(void **state)
{
    (void)state;
    static const char OTHER_SID[] = "66666666-7777-8888-9999-000000000001";
    session_check_init(10);
    assert_int_equal(session_cache_get(SID, UID, "user", 100.0), -1); /* never asked */
    session_cache_put(SID, UID, "user", true, 100.0);
    assert_int_equal(session_cache_get(SID, UID, "user", 100.0), 1);
    assert_int_equal(session_cache_get(SID, UID, "user", 109.9), 1);
    assert_int_equal(session_cache_get(SID, UID, "user", 110.0), -1);  /* stale: ask again */
    assert_int_equal(session_cache_get(SID, UID, "user", 99.0), -1);   /* clock back */
    assert_int_equal(session_cache_get(SID, UID, "admin", 101.0), -1); /* another role */
    assert_int_equal(session_cache_get(SID, OTHER_SID, "user", 101.0), -1);
    assert_int_equal(session_cache_get(OTHER_SID, UID, "user", 101.0), -1);
    session_cache_put(SID, UID, "user", false, 105.0); /* ended */
    assert_int_equal(session_cache_get(SID, UID, "user", 106.0), 0);
    assert_int_equal(session_cache_get(SID, UID, "user", 115.0), -1);
    session_cache_put("too-long-" SID, UID, "user", true, 105.0); /* ignored */
    assert_int_equal(session_cache_get("too-long-" SID, UID, "user", 105.0), -1);

    session_check_init(0); /* every request asks */
    session_cache_put(SID, UID, "user", true, 200.0);
    assert_int_equal(session_cache_get(SID, UID, "user", 200.0), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_respond),
        T(test_respond_refresh_in_body),
        T(test_clear_cookies),
        T(test_check_cache),
    };
    return cmocka_run_group_tests_name("session", tests, group_setup, NULL);
}
