/* providers/openai: the request it builds and every kind of answer it reads. */
#include "unit.h"

#include <stdlib.h>

#include "config.h"
#include "providers/openai.h"

static int setup(void **state)
{
    setenv("RV_OPENAI_API_KEY", "sk-test-key", 1);
    setenv("RV_OPENAI_URL", "http://127.0.0.1:1", 1);
    char why[256];
    if (!config_load(false, why, sizeof why))
        fail_msg("config_load: %s", why);
    *state = arena_new();
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

/* A check that wants {"n": <integer 1..3>}. */
static const char *check_n(arena *a, json_object *o, void *user)
{
    (void)a;
    (void)user;
    json_object *n;
    if (!json_object_object_get_ex(o, "n", &n) || !json_object_is_type(n, json_type_int))
        return "n is missing";
    int v = json_object_get_int(n);
    return v >= 1 && v <= 3 ? NULL : "n is out of range";
}

/* A 200 answer whose first choice has this message and finish_reason. */
static http_call answer(arena *a, const char *msg, const char *finish)
{
    http_call c = {0};
    c.status = 200;
    c.resp = arena_printf(a,
                          "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":"
                          "[{\"index\":0,\"message\":%s,\"finish_reason\":\"%s\"}]}",
                          msg, finish);
    c.resp_len = strlen(c.resp);
    return c;
}

static http_call error(arena *a, long status, const char *type, const char *code, double ra)
{
    http_call c = {0};
    c.status = status;
    c.resp = arena_printf(a,
                          "{\"error\":{\"message\":\"You exceeded it.\",\"type\":\"%s\","
                          "\"param\":null,\"code\":\"%s\"}}",
                          type, code);
    c.resp_len = strlen(c.resp);
    c.retry_after = ra;
    return c;
}

static void test_read_outcomes(void **state)
{
    arena *a = *state;
    static const struct {
        const char *msg, *finish;
        openai_status st;
        const char *code;
    } cases[] = {
        {"{\"role\":\"assistant\",\"content\":\"{\\\"n\\\":2}\",\"refusal\":null}", "stop",
         OPENAI_OK, NULL},
        {"{\"role\":\"assistant\",\"content\":null,\"refusal\":\"I can't help with that.\"}",
         "stop", OPENAI_REFUSED, "llm_refused"},
        {"{\"role\":\"assistant\",\"content\":\"{\\\"n\\\":\",\"refusal\":null}", "length",
         OPENAI_TRUNCATED, "llm_truncated"},
        {"{\"role\":\"assistant\",\"content\":\"{\\\"n\\\":2}\"}", "content_filter", OPENAI_REFUSED,
         "llm_refused"},
        {"{\"role\":\"assistant\",\"content\":\"not json\"}", "stop", OPENAI_INVALID,
         "llm_invalid_output"},
        {"{\"role\":\"assistant\",\"content\":\"[1,2]\"}", "stop", OPENAI_INVALID,
         "llm_invalid_output"},
        {"{\"role\":\"assistant\",\"content\":\"{\\\"n\\\":2} trailing\"}", "stop", OPENAI_INVALID,
         "llm_invalid_output"},
        {"{\"role\":\"assistant\",\"content\":\"{\\\"n\\\":9}\"}", "stop", OPENAI_INVALID,
         "llm_invalid_output"},
        {"{\"role\":\"assistant\",\"content\":\"{\\\"m\\\":1}\"}", "stop", OPENAI_INVALID,
         "llm_invalid_output"},
        /* jsonb takes no \u0000: refused before it gets near the database. */
        {"{\"role\":\"assistant\",\"content\":\"{\\\"n\\\":1,\\\"s\\\":\\\"\\\\u0000\\\"}\"}",
         "stop", OPENAI_INVALID, "llm_invalid_output"},
        {"{\"role\":\"assistant\"}", "stop", OPENAI_INVALID, "llm_invalid_output"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        http_call c = answer(a, cases[i].msg, cases[i].finish);
        openai_result r = openai_read(a, &c, check_n, NULL);
        if (r.status != cases[i].st)
            fail_msg("case %zu: status %d, want %d (%s)", i, r.status, cases[i].st,
                     r.message ? r.message : "");
        if (cases[i].code)
            assert_string_equal(r.code, cases[i].code);
        else
            assert_non_null(r.output);
        assert_false(openai_transient(r.status));
    }
}

static void test_read_errors(void **state)
{
    arena *a = *state;
    http_call c = error(a, 429, "requests", "rate_limit_exceeded", 7);
    openai_result r = openai_read(a, &c, NULL, NULL);
    assert_int_equal(r.status, OPENAI_RATE_LIMITED);
    assert_true(openai_transient(r.status));
    assert_true(r.retry_after == 7);

    c = error(a, 429, "insufficient_quota", "insufficient_quota", 0);
    r = openai_read(a, &c, NULL, NULL);
    assert_int_equal(r.status, OPENAI_QUOTA);
    assert_false(openai_transient(r.status));
    assert_non_null(strstr(r.message, "insufficient_quota"));

    c = error(a, 500, "server_error", "server_error", 0);
    r = openai_read(a, &c, NULL, NULL);
    assert_int_equal(r.status, OPENAI_UNAVAILABLE);
    assert_true(openai_transient(r.status));

    http_call none = {0}; /* timeout: no answer */
    r = openai_read(a, &none, NULL, NULL);
    assert_int_equal(r.status, OPENAI_UNAVAILABLE);

    c = error(a, 401, "invalid_request_error", "invalid_api_key", 0);
    r = openai_read(a, &c, NULL, NULL);
    assert_int_equal(r.status, OPENAI_REJECTED);
    assert_false(openai_transient(r.status));

    /* An unreadable 200 is not a success. */
    http_call bad = {.status = 200, .resp = "<html>", .resp_len = 6};
    r = openai_read(a, &bad, NULL, NULL);
    assert_int_equal(r.status, OPENAI_INVALID);
}

/* A refusal's text reaches users cut and on one line. */
static void test_refusal_cleaned(void **state)
{
    arena *a = *state;
    char *longtext = arena_alloc(a, 2001);
    memset(longtext, 'x', 2000);
    memcpy(longtext + 3, "\\n", 2); /* an escaped newline inside the JSON string */
    http_call c = answer(a,
                         arena_printf(a,
                                      "{\"role\":\"assistant\",\"content\":null,"
                                      "\"refusal\":\"%s\"}",
                                      longtext),
                         "stop");
    openai_result r = openai_read(a, &c, NULL, NULL);
    assert_int_equal(r.status, OPENAI_REFUSED);
    assert_null(strchr(r.message, '\n'));
    assert_true(strlen(r.message) < OPENAI_MESSAGE_MAX + 64);
}

static void test_build(void **state)
{
    arena *a = *state;
    openai_request rq = {.model = "gpt-test",
                         .system_prompt = "You write scripts.",
                         .user_prompt = "Topic: \"rice\"",
                         .schema_name = "script",
                         .schema = "{\"type\":\"object\",\"properties\":{},"
                                   "\"required\":[],\"additionalProperties\":false}"};
    http_call c = {0};
    openai_build(a, &rq, &c);
    assert_string_equal(c.method, "POST");
    assert_string_equal(c.url, "http://127.0.0.1:1/v1/chat/completions");
    assert_string_equal(c.headers[0], "Authorization: Bearer sk-test-key");
    json_object *b = json_tokener_parse(c.body), *v, *fmt, *js;
    assert_non_null(b);
    assert_true(json_object_object_get_ex(b, "model", &v));
    assert_string_equal(json_object_get_string(v), "gpt-test");
    assert_true(json_object_object_get_ex(b, "messages", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_true(json_object_object_get_ex(b, "response_format", &fmt));
    assert_true(json_object_object_get_ex(fmt, "json_schema", &js));
    assert_true(json_object_object_get_ex(js, "strict", &v));
    assert_true(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(js, "name", &v));
    assert_string_equal(json_object_get_string(v), "script");
    assert_true(json_object_object_get_ex(js, "schema", &v));
    assert_true(json_object_is_type(v, json_type_object));
    json_object_put(b);

    /* No system prompt, no model: the user message alone and the default model. */
    openai_request bare = {.user_prompt = "x", .schema_name = "s", .schema = "{}"};
    openai_build(a, &bare, &c);
    b = json_tokener_parse(c.body);
    assert_true(json_object_object_get_ex(b, "messages", &v));
    assert_int_equal(json_object_array_length(v), 1);
    assert_true(json_object_object_get_ex(b, "model", &v));
    assert_string_equal(json_object_get_string(v), OPENAI_DEFAULT_MODEL);
    json_object_put(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_cleaned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
