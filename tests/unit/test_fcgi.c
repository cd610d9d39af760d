/* test_fcgi.c — the FastCGI record layer (common/fcgi.c): requests in records as
 * nginx sends them, split anywhere, kept connections, management records, and the
 * framing errors that close a connection. */
#include "unit.h"

#include <stdlib.h>

#include "fcgi.h"

typedef struct {
    unsigned char b[1 << 18];
    size_t n;
} wire;

static void rec(wire *w, int type, unsigned id, const void *data, size_t len, size_t pad)
{
    unsigned char h[8] = {1,
                          (unsigned char)type,
                          (unsigned char)(id >> 8),
                          (unsigned char)id,
                          (unsigned char)(len >> 8),
                          (unsigned char)len,
                          (unsigned char)pad,
                          0};
    memcpy(w->b + w->n, h, 8);
    if (len)
        memcpy(w->b + w->n + 8, data, len);
    memset(w->b + w->n + 8 + len, 0xAA, pad);
    w->n += 8 + len + pad;
}

static size_t pair(unsigned char *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), k = 0;
    p[k++] = (unsigned char)nl;
    if (vl > 127) { /* the 4-byte form */
        p[k++] = (unsigned char)(0x80 | vl >> 24);
        p[k++] = (unsigned char)(vl >> 16);
        p[k++] = (unsigned char)(vl >> 8);
        p[k++] = (unsigned char)vl;
    } else {
        p[k++] = (unsigned char)vl;
    }
    memcpy(p + k, name, nl);
    memcpy(p + k + nl, value, vl);
    return k + nl + vl;
}

/* A whole request: BEGIN (keep or not), params in two records, body in chunks. */
static void request(wire *w, unsigned id, bool keep, const char *uri, const char *body)
{
    unsigned char begin[8] = {0, 1, keep ? 1 : 0};
    rec(w, FCGI_BEGIN_REQUEST, id, begin, 8, 0);
    unsigned char p[4096];
    size_t n = pair(p, "REQUEST_METHOD", body ? "POST" : "GET");
    rec(w, FCGI_PARAMS, id, p, n, 3);
    n = pair(p, "DOCUMENT_URI", uri);
    rec(w, FCGI_PARAMS, id, p, n, 0);
    rec(w, FCGI_PARAMS, id, NULL, 0, 0);
    if (body) {
        size_t len = strlen(body), half = len / 2;
        rec(w, FCGI_STDIN, id, body, half, 0);
        rec(w, FCGI_STDIN, id, body + half, len - half, 5);
    }
    rec(w, FCGI_STDIN, id, NULL, 0, 0);
}

static const char *param(char **env, const char *name)
{
    rv_req rq = {.env = env};
    return req_param(&rq, name);
}

/* The records in out: their types and ids, in order; returns how many. */
static int records(const fcgi_conn *c, int *types, unsigned *ids, int max)
{
    int k = 0;
    for (size_t off = 0; off + 8 <= c->out_len && k < max; k++) {
        const unsigned char *h = c->out + off;
        assert_int_equal(h[0], 1);
        types[k] = h[1];
        ids[k] = (unsigned)h[2] << 8 | h[3];
        size_t len = (size_t)h[4] << 8 | h[5];
        assert_int_equal((len + h[6]) % 8, 0); /* aligned */
        off += 8 + len + h[6];
    }
    return k;
}

static void test_request_byte_by_byte(void **state)
{
    arena *a = *state;
    static wire w;
    w.n = 0;
    request(&w, 1, true, "/api/me", "{\"name\":\"Ann\"}");
    fcgi_conn c;
    fcgi_init(&c, 1024);
    for (size_t i = 0; i + 1 < w.n; i++) {
        assert_true(fcgi_feed(&c, w.b + i, 1));
        assert_int_equal(fcgi_parse(&c), FCGI_AGAIN);
    }
    assert_true(fcgi_feed(&c, w.b + w.n - 1, 1));
    assert_int_equal(fcgi_parse(&c), FCGI_READY);
    char **env = fcgi_env(&c, a);
    assert_string_equal(param(env, "REQUEST_METHOD"), "POST");
    assert_string_equal(param(env, "DOCUMENT_URI"), "/api/me");
    assert_null(param(env, "QUERY_STRING"));
    assert_string_equal(c.body, "{\"name\":\"Ann\"}");
    assert_int_equal(c.body_len, 14);
    assert_true(fcgi_respond(&c, "Status: 200 OK\r\n\r\n{}", 20)); /* kept */
    int types[8];
    unsigned ids[8];
    assert_int_equal(records(&c, types, ids, 8), 3);
    assert_int_equal(types[0], FCGI_STDOUT);
    assert_int_equal(types[1], FCGI_STDOUT); /* the empty one: end of stream */
    assert_int_equal(types[2], FCGI_END_REQUEST);
    assert_int_equal(ids[2], 1);
    assert_memory_equal(c.out + 8, "Status: 200 OK", 14);
    assert_false(c.close_after);
    fcgi_free(&c);
}

static void test_kept_connection_serves_the_next(void **state)
{
    arena *a = *state;
    static wire w;
    w.n = 0;
    request(&w, 1, true, "/one", NULL);
    request(&w, 1, false, "/two", "xy");
    fcgi_conn c;
    fcgi_init(&c, 1024);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_READY);
    assert_string_equal(param(fcgi_env(&c, a), "DOCUMENT_URI"), "/one");
    assert_null(c.body_len ? c.body : NULL);
    assert_true(fcgi_respond(&c, "a", 1));
    fcgi_sent(&c, c.out_len);
    assert_int_equal(fcgi_parse(&c), FCGI_READY);
    assert_string_equal(param(fcgi_env(&c, a), "DOCUMENT_URI"), "/two");
    assert_string_equal(c.body, "xy");
    assert_false(fcgi_respond(&c, "b", 1)); /* this one did not ask to keep it */
    assert_true(c.close_after);
    assert_int_equal(fcgi_parse(&c), FCGI_AGAIN);
    fcgi_free(&c);
}

static void test_body_beyond_the_limit_is_counted_not_kept(void **state)
{
    (void)state;
    static wire w;
    w.n = 0;
    request(&w, 7, true, "/x", "0123456789abcdef");
    fcgi_conn c;
    fcgi_init(&c, 4);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_READY);
    assert_int_equal(c.body_len, 4);
    assert_int_equal(c.body_seen, 16);
    assert_string_equal(c.body, "0123");
    fcgi_free(&c);
}

static void test_long_values_and_large_stdout(void **state)
{
    arena *a = *state;
    static wire w;
    w.n = 0;
    unsigned char begin[8] = {0, 1, 1};
    rec(&w, FCGI_BEGIN_REQUEST, 3, begin, 8, 0);
    char *cookie = malloc(5000);
    memset(cookie, 'c', 4999);
    cookie[4999] = '\0';
    unsigned char p[6000];
    size_t n = pair(p, "HTTP_COOKIE", cookie);
    rec(&w, FCGI_PARAMS, 3, p, n, 0);
    rec(&w, FCGI_PARAMS, 3, NULL, 0, 0);
    rec(&w, FCGI_STDIN, 3, NULL, 0, 0);
    fcgi_conn c;
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_READY);
    assert_string_equal(param(fcgi_env(&c, a), "HTTP_COOKIE"), cookie);
    free(cookie);
    size_t big = 200000;
    char *out = calloc(1, big);
    assert_true(fcgi_respond(&c, out, big));
    free(out);
    int types[16];
    unsigned ids[16];
    int k = records(&c, types, ids, 16);
    assert_int_equal(k, 4 + 1 + 1); /* 65535 × 3 + rest, the end of stdout, END */
    assert_int_equal(types[k - 1], FCGI_END_REQUEST);
    fcgi_free(&c);
}

static void test_management_records(void **state)
{
    (void)state;
    static wire w;
    w.n = 0;
    unsigned char q[128];
    size_t n = pair(q, "FCGI_MPXS_CONNS", "");
    n += pair(q + n, "FCGI_MAX_CONNS", "");
    n += pair(q + n, "SOMETHING_ELSE", "");
    rec(&w, FCGI_GET_VALUES, 0, q, n, 0);
    rec(&w, 42, 0, NULL, 0, 0); /* an unknown management type */
    fcgi_conn c;
    fcgi_init(&c, 0);
    c.max_conns = 512;
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_AGAIN);
    int types[4];
    unsigned ids[4];
    assert_int_equal(records(&c, types, ids, 4), 2);
    assert_int_equal(types[0], FCGI_GET_VALUES_RESULT);
    assert_int_equal(types[1], FCGI_UNKNOWN_TYPE);
    const unsigned char *res = c.out + 8;
    assert_memory_equal(res,
                        "\x0f\x01"
                        "FCGI_MPXS_CONNS0",
                        18);
    assert_memory_equal(res + 18,
                        "\x0e\x03"
                        "FCGI_MAX_CONNS512",
                        19);
    assert_int_equal(c.out[8 + ((size_t)c.out[4] << 8 | c.out[5]) + c.out[6] + 8], 42);
    fcgi_free(&c);
}

static void test_one_request_at_a_time(void **state)
{
    (void)state;
    static wire w;
    w.n = 0;
    unsigned char begin[8] = {0, 1, 1};
    rec(&w, FCGI_BEGIN_REQUEST, 1, begin, 8, 0);
    rec(&w, FCGI_BEGIN_REQUEST, 2, begin, 8, 0); /* multiplexed: refused */
    rec(&w, FCGI_PARAMS, 2,
        "\x01\x01"
        "ab",
        4, 0);                               /* of no open request: ignored */
    unsigned char authorizer[8] = {0, 2, 1}; /* not a responder */
    fcgi_conn c;
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_AGAIN);
    int types[4];
    unsigned ids[4];
    assert_int_equal(records(&c, types, ids, 4), 1);
    assert_int_equal(types[0], FCGI_END_REQUEST);
    assert_int_equal(ids[0], 2);
    assert_int_equal(c.out[8 + 4], FCGI_CANT_MPX_CONN);
    /* ABORT of the open request: ended, the connection kept. */
    w.n = 0;
    rec(&w, FCGI_ABORT_REQUEST, 1, NULL, 0, 0);
    rec(&w, FCGI_BEGIN_REQUEST, 5, authorizer, 8, 0);
    fcgi_sent(&c, c.out_len);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_AGAIN);
    assert_int_equal(records(&c, types, ids, 4), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(c.out[8 + 4], FCGI_REQUEST_COMPLETE);
    assert_int_equal(ids[1], 5);
    assert_int_equal(c.out[16 + 8 + 4], FCGI_UNKNOWN_ROLE);
    assert_int_equal(c.id, 0);
    assert_false(c.close_after);
    fcgi_free(&c);
}

static void test_framing_errors_close(void **state)
{
    (void)state;
    unsigned char begin[8] = {0, 1, 1};
    static wire w;
    fcgi_conn c;

    /* A version other than 1. */
    w.n = 0;
    rec(&w, FCGI_BEGIN_REQUEST, 1, begin, 8, 0);
    w.b[0] = 2;
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_BAD);
    fcgi_free(&c);

    /* BEGIN_REQUEST of the wrong length, or of id 0. */
    w.n = 0;
    rec(&w, FCGI_BEGIN_REQUEST, 1, begin, 7, 0);
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_BAD);
    fcgi_free(&c);
    w.n = 0;
    rec(&w, FCGI_BEGIN_REQUEST, 0, begin, 8, 0);
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_BAD);
    fcgi_free(&c);

    /* A name-value pair longer than its stream. */
    w.n = 0;
    rec(&w, FCGI_BEGIN_REQUEST, 1, begin, 8, 0);
    rec(&w, FCGI_PARAMS, 1,
        "\x05\x80\x00\x00\x09"
        "abc",
        8, 0);
    rec(&w, FCGI_PARAMS, 1, NULL, 0, 0);
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    assert_int_equal(fcgi_parse(&c), FCGI_BAD);
    fcgi_free(&c);

    /* More parameters than FCGI_PARAMS_MAX. */
    w.n = 0;
    rec(&w, FCGI_BEGIN_REQUEST, 1, begin, 8, 0);
    fcgi_init(&c, 0);
    assert_true(fcgi_feed(&c, w.b, w.n));
    static unsigned char chunk[65535];
    w.n = 0;
    rec(&w, FCGI_PARAMS, 1, chunk, sizeof chunk, 0);
    fcgi_status st = FCGI_AGAIN;
    for (int i = 0; i < 5 && st == FCGI_AGAIN; i++) {
        assert_true(fcgi_feed(&c, w.b, w.n));
        st = fcgi_parse(&c);
    }
    assert_int_equal(st, FCGI_BAD);
    fcgi_free(&c);

    /* Unparsed input beyond FCGI_INPUT_MAX is refused. */
    fcgi_init(&c, 0);
    unsigned char partial[8] = {1, FCGI_STDIN, 0, 1, 0xff, 0xff, 0, 0};
    assert_true(fcgi_feed(&c, partial, 8));
    char *lots = calloc(1, FCGI_INPUT_MAX);
    assert_false(fcgi_feed(&c, lots, FCGI_INPUT_MAX));
    free(lots);
    fcgi_free(&c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_request_byte_by_byte),
        T(test_kept_connection_serves_the_next),
        T(test_body_beyond_the_limit_is_counted_not_kept),
        T(test_long_values_and_large_stdout),
        T(test_management_records),
        T(test_one_request_at_a_time),
        T(test_framing_errors_close),
    };
    return cmocka_run_group_tests_name("fcgi", tests, NULL, NULL);
}
