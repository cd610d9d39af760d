/* test_log.c — one JSON object per line on stderr. */
#include "unit.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"

/* stderr goes to a temporary file between capture_start() and capture_end(). */
static FILE *cap_file;
static int saved_stderr = -1;

static void capture_start(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    assert_non_null(cap_file);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(cap_file), STDERR_FILENO);
}

/* The captured text (arena-owned); stderr is restored. */
static char *capture_end(arena *a)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    long n = ftell(cap_file);
    char *s = arena_alloc(a, (size_t)n + 1);
    rewind(cap_file);
    size_t got = fread(s, 1, (size_t)n, cap_file);
    fclose(cap_file);
    assert_int_equal(got, (size_t)n);
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The one line logged by the text, parsed. */
static json_object *one_line(arena *a, const char *text)
{
    assert_int_equal(count_lines(text), 1);
    return unit_json(a, text, strlen(text) - 1);
}

static int reset_log(void **state)
{
    unit_arena_setup(state);
    log_init("test_log");
    log_set_level(LOG_DEBUG);
    log_clear_request();
    return 0;
}

static void test_line(void **state)
{
    arena *a = *state;
    capture_start();
    log_msg(LOG_WARN, "hello %d", 5);
    json_object *o = one_line(a, capture_end(a));
    assert_string_equal(unit_get_str(o, "level"), "warn");
    assert_string_equal(unit_get_str(o, "handler"), "test_log");
    assert_string_equal(unit_get_str(o, "msg"), "hello 5");
    const char *t = unit_get_str(o, "time");
    int y, mo, d, h, mi, s, ms;
    char z;
    assert_int_equal(sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z),
                     8);
    assert_int_equal(z, 'Z');
    assert_int_equal(strlen(t), 24);
    assert_false(json_object_object_get_ex(o, "requestId", NULL));
    assert_false(json_object_object_get_ex(o, "userId", NULL));
}

static void test_request_ids(void **state)
{
    arena *a = *state;
    capture_start();
    log_set_request("req-1", "user-1");
    log_msg(LOG_INFO, "inside");
    log_set_request("req-2", NULL);
    log_msg(LOG_INFO, "anonymous");
    log_clear_request();
    log_msg(LOG_INFO, "outside");
    char *text = capture_end(a);
    assert_int_equal(count_lines(text), 3);
    char *l2 = strchr(text, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    json_object *o1 = unit_json(a, text, (size_t)(l2 - text));
    json_object *o2 = unit_json(a, l2, (size_t)(l3 - l2));
    json_object *o3 = unit_json(a, l3, strlen(l3));
    assert_string_equal(unit_get_str(o1, "requestId"), "req-1");
    assert_string_equal(unit_get_str(o1, "userId"), "user-1");
    assert_string_equal(unit_get_str(o2, "requestId"), "req-2");
    assert_false(json_object_object_get_ex(o2, "userId", NULL));
    assert_false(json_object_object_get_ex(o3, "requestId", NULL));
}

static void test_level_filter(void **state)
{
    arena *a = *state;
    log_set_level(LOG_WARN);
    capture_start();
    log_msg(LOG_DEBUG, "no");
    log_msg(LOG_INFO, "no");
    log_access("GET", "/api/me", 200, 1.5); /* info */
    char *quiet = capture_end(a);
    assert_string_equal(quiet, "");

    capture_start();
    log_msg(LOG_ERROR, "yes");
    char *loud = capture_end(a);
    assert_string_equal(unit_get_str(one_line(a, loud), "level"), "error");

    capture_start();
    log_access("POST", "/api/tts", 503, 2.0); /* 5xx logs as error */
    json_object *o = one_line(a, capture_end(a));
    assert_string_equal(unit_get_str(o, "level"), "error");
    assert_int_equal(json_object_get_int(unit_get(o, "status")), 503);
}

static void test_access(void **state)
{
    arena *a = *state;
    capture_start();
    log_access("GET", "/api/jobs/1", 404, 12.25);
    log_access(NULL, NULL, 500, 0);
    char *text = capture_end(a);
    assert_int_equal(count_lines(text), 2);
    char *l2 = strchr(text, '\n') + 1;
    json_object *o = unit_json(a, text, (size_t)(l2 - text));
    assert_string_equal(unit_get_str(o, "method"), "GET");
    assert_string_equal(unit_get_str(o, "path"), "/api/jobs/1");
    assert_int_equal(json_object_get_int(unit_get(o, "status")), 404);
    assert_true(json_object_get_double(unit_get(o, "durationMs")) == 12.25);
    json_object *o2 = unit_json(a, l2, strlen(l2));
    assert_string_equal(unit_get_str(o2, "method"), "");
    assert_string_equal(unit_get_str(o2, "path"), "");
}

/* Untrusted text cannot break the line or the JSON. */
static void test_escaping(void **state)
{
    arena *a = *state;
    static const char *const nasty[] = {
        "quote \" backslash \\ slash /",
        "new\nline\r\n{\"level\":\"error\",\"msg\":\"forged\"}",
        "controls \x01\x02\x1f\x7f tab\t",
        "</script><script>alert(1)</script>",
        "utf-8 \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
    };
    for (size_t i = 0; i < N_ELEMS(nasty); i++) {
        capture_start();
        log_msg(LOG_INFO, "%s", nasty[i]);
        log_access("GET", nasty[i], 200, 0);
        char *text = capture_end(a);
        assert_int_equal(count_lines(text), 2);
        char *l2 = strchr(text, '\n') + 1;
        assert_string_equal(unit_get_str(unit_json(a, text, (size_t)(l2 - text)), "msg"), nasty[i]);
        assert_string_equal(unit_get_str(unit_json(a, l2, strlen(l2)), "path"), nasty[i]);
    }
}

static void test_long_message(void **state)
{
    arena *a = *state;
    char *big = arena_alloc(a, 5001);
    memset(big, 'm', 5000);
    capture_start();
    log_msg(LOG_INFO, "%s", big);
    json_object *o = one_line(a, capture_end(a));
    const char *msg = unit_get_str(o, "msg");
    assert_true(strlen(msg) > 500 && strlen(msg) < 5000); /* cut, still one valid line */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, reset_log, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_line),   T(test_request_ids), T(test_level_filter),
        T(test_access), T(test_escaping),    T(test_long_message),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
