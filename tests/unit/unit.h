/* unit.h — fixtures shared by the unit tests (header only: every test is one program).
 *
 * A test request is an rv_req over a caller's arena and a NULL-terminated env array
 * of "NAME=value" strings, filled the way the serve loop fills it. Everything these
 * helpers return is owned by the arena, so one arena_free() per test releases it. */
#ifndef RV_TEST_UNIT_H
#define RV_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "arena.h"
#include "req.h"

#define N_ELEMS(t) (sizeof(t) / sizeof((t)[0]))

/* A request over env (borrowed) as the serve loop would describe it. */
static inline void unit_req(rv_req *rq, arena *a, char **env)
{
    memset(rq, 0, sizeof *rq);
    rq->a = a;
    rq->env = env;
    rq->method = req_param(rq, "REQUEST_METHOD");
    rq->path = req_param(rq, "DOCUMENT_URI");
    rq->query = req_param(rq, "QUERY_STRING");
    rq->request_id = req_param(rq, "REQUEST_ID");
    rq->content_type = req_param(rq, "CONTENT_TYPE");
}

/* A one-variable env, "name=value"; value NULL gives an empty env. */
static inline char **unit_env1(arena *a, const char *name, const char *value)
{
    char **env = arena_alloc(a, 2 * sizeof *env);
    if (value)
        env[0] = arena_printf(a, "%s=%s", name, value);
    return env;
}

static inline void unit_put(void *obj)
{
    json_object_put(obj);
}

/* Parses text as JSON; the object is released with the arena. Fails the test when
 * text is not JSON. */
static inline json_object *unit_json(arena *a, const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (o)
        arena_defer(a, unit_put, o);
    if (jerr != json_tokener_success)
        fail_msg("not JSON (%s): %.*s", json_tokener_error_desc(jerr), (int)len, text);
    assert_non_null(o);
    return o;
}

/* A member of obj, failing the test when it is missing. */
static inline json_object *unit_get(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("member \"%s\" missing in %s", key, json_object_to_json_string(obj));
    return v;
}

static inline const char *unit_get_str(json_object *obj, const char *key)
{
    return json_object_get_string(unit_get(obj, key));
}

/* The value of the first response header called name, NULL when none. */
static inline const char *unit_resp_header(const rv_req *rq, const char *name)
{
    for (const rv_header *h = rq->resp_headers; h; h = h->next)
        if (!strcmp(h->name, name))
            return h->value;
    return NULL;
}

/* The fields of rq's problem errors joined by spaces ("" when none), in order. */
static inline const char *unit_error_fields(rv_req *rq)
{
    char *s = arena_strdup(rq->a, "");
    size_t n = rq->problem_errors ? json_object_array_length(rq->problem_errors) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(rq->problem_errors, i);
        s = arena_printf(rq->a, "%s%s%s", s, i ? " " : "", unit_get_str(e, "field"));
    }
    return s;
}

/* The message of the first error about field, NULL when none. */
static inline const char *unit_error_message(const rv_req *rq, const char *field)
{
    size_t n = rq->problem_errors ? json_object_array_length(rq->problem_errors) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(rq->problem_errors, i);
        if (!strcmp(unit_get_str(e, "field"), field))
            return unit_get_str(e, "message");
    }
    return NULL;
}

/* cmocka setup/teardown giving each test a fresh arena in *state. */
static inline int unit_arena_setup(void **state)
{
    *state = arena_new();
    return 0;
}

static inline int unit_arena_teardown(void **state)
{
    arena_free(*state);
    return 0;
}

#endif
