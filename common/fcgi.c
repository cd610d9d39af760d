#include "fcgi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEADER_LEN = 8, VERSION_1 = 1, ROLE_RESPONDER = 1, FLAG_KEEP_CONN = 1, MAX_CONTENT = 65535 };

/* Out of memory aborts, as the arena does: the supervisor restarts the worker. */
static void grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    unsigned char *p = realloc(*buf, n);
    if (!p)
        abort();
    *buf = p;
    *cap = n;
}

static void forget_request(fcgi_conn *c)
{
    c->id = 0;
    c->keep = c->params_done = c->stdin_done = false;
    c->params_len = c->body_len = c->body_seen = 0;
}

void fcgi_init(fcgi_conn *c, size_t body_limit)
{
    memset(c, 0, sizeof *c);
    c->body_limit = body_limit;
    c->max_conns = 1;
    c->max_reqs = 1;
}

void fcgi_free(fcgi_conn *c)
{
    free(c->in);
    free(c->out);
    free(c->params);
    free(c->body);
    memset(c, 0, sizeof *c);
}

bool fcgi_feed(fcgi_conn *c, const void *buf, size_t n)
{
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    if (c->in_len - c->in_off + n > FCGI_INPUT_MAX)
        return false;
    if (c->in_off && c->in_len + n > c->in_cap) { /* compact before growing */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    grow(&c->in, &c->in_cap, c->in_len + n);
    memcpy(c->in + c->in_len, buf, n);
    c->in_len += n;
    return true;
}

static void put_header(fcgi_conn *c, int type, uint16_t id, size_t len, size_t pad)
{
    grow(&c->out, &c->out_cap, c->out_len + HEADER_LEN + len + pad);
    unsigned char *h = c->out + c->out_len;
    h[0] = VERSION_1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(id >> 8);
    h[3] = (unsigned char)id;
    h[4] = (unsigned char)(len >> 8);
    h[5] = (unsigned char)len;
    h[6] = (unsigned char)pad;
    h[7] = 0;
    c->out_len += HEADER_LEN;
}

static void put_record(fcgi_conn *c, int type, uint16_t id, const void *data, size_t len)
{
    size_t pad = (8 - len % 8) % 8; /* records aligned to 8 bytes, as the spec advises */
    put_header(c, type, id, len, pad);
    if (len)
        memcpy(c->out + c->out_len, data, len);
    memset(c->out + c->out_len + len, 0, pad);
    c->out_len += len + pad;
}

static void put_end(fcgi_conn *c, uint16_t id, int protocol_status)
{
    const unsigned char body[8] = {0, 0, 0, 0, (unsigned char)protocol_status};
    put_record(c, FCGI_END_REQUEST, id, body, sizeof body);
}

void fcgi_put_stream(fcgi_conn *c, int type, const void *data, size_t len)
{
    const unsigned char *p = data;
    do {
        size_t n = len > MAX_CONTENT ? MAX_CONTENT : len;
        put_record(c, type, c->id, p, n);
        if (n) {
            p += n;
            len -= n;
        }
    } while (len);
}

bool fcgi_respond(fcgi_conn *c, const void *data, size_t len)
{
    if (len)
        fcgi_put_stream(c, FCGI_STDOUT, data, len);
    fcgi_put_stream(c, FCGI_STDOUT, NULL, 0);
    put_end(c, c->id, FCGI_REQUEST_COMPLETE);
    bool keep = c->keep;
    forget_request(c);
    if (!keep)
        c->close_after = true;
    return keep;
}

void fcgi_sent(fcgi_conn *c, size_t n)
{
    if (n >= c->out_len) {
        c->out_len = 0;
        return;
    }
    memmove(c->out, c->out + n, c->out_len - n);
    c->out_len -= n;
}

/* One name-value pair length at p (1 or 4 bytes); false past end. */
static bool pair_len(const unsigned char **p, const unsigned char *end, size_t *len)
{
    if (*p >= end)
        return false;
    if (!(**p & 0x80)) {
        *len = *(*p)++;
        return true;
    }
    if (end - *p < 4)
        return false;
    const unsigned char *b = *p;
    *len = ((size_t)(b[0] & 0x7f) << 24) | ((size_t)b[1] << 16) | ((size_t)b[2] << 8) | b[3];
    *p += 4;
    return true;
}

/* Walks the pairs of buf; calls fn for each (when not NULL). false when malformed. */
static bool each_pair(const unsigned char *buf, size_t n,
                      void (*fn)(void *, const unsigned char *, size_t, const unsigned char *,
                                 size_t),
                      void *ctx)
{
    if (!n)
        return true;
    const unsigned char *p = buf, *end = buf + n;
    while (p < end) {
        size_t nl, vl;
        if (!pair_len(&p, end, &nl) || !pair_len(&p, end, &vl))
            return false;
        if (nl > (size_t)(end - p) || vl > (size_t)(end - p) - nl)
            return false;
        if (fn)
            fn(ctx, p, nl, p + nl, vl);
        p += nl + vl;
    }
    return true;
}

static void count_pair(void *ctx, const unsigned char *n, size_t nl, const unsigned char *v,
                       size_t vl)
{
    (void)n, (void)nl, (void)v, (void)vl;
    (*(size_t *)ctx)++;
}

typedef struct {
    arena *a;
    char **env;
    size_t i;
} env_fill;

static void add_pair(void *ctx, const unsigned char *n, size_t nl, const unsigned char *v,
                     size_t vl)
{
    env_fill *f = ctx;
    char *s = arena_alloc(f->a, nl + vl + 2);
    memcpy(s, n, nl);
    s[nl] = '\0';
    size_t cut = strlen(s); /* a NUL in a name ends it */
    s[cut] = '=';
    memcpy(s + cut + 1, v, vl);
    s[cut + 1 + vl] = '\0';
    f->env[f->i++] = s;
}

char **fcgi_env(const fcgi_conn *c, arena *a)
{
    size_t n = 0;
    each_pair(c->params, c->params_len, count_pair, &n);
    env_fill f = {a, arena_alloc(a, (n + 1) * sizeof(char *)), 0};
    each_pair(c->params, c->params_len, add_pair, &f);
    f.env[f.i] = NULL;
    return f.env;
}

typedef struct {
    fcgi_conn *c;
    unsigned char *res;
    size_t len, cap;
} values_ctx;

static void put_pair(values_ctx *x, const char *name, int value)
{
    char v[16];
    int vl = snprintf(v, sizeof v, "%d", value);
    size_t nl = strlen(name);
    grow(&x->res, &x->cap, x->len + 2 + nl + (size_t)vl);
    x->res[x->len++] = (unsigned char)nl;
    x->res[x->len++] = (unsigned char)vl;
    memcpy(x->res + x->len, name, nl);
    memcpy(x->res + x->len + nl, v, (size_t)vl);
    x->len += nl + (size_t)vl;
}

static void answer_value(void *ctx, const unsigned char *n, size_t nl, const unsigned char *v,
                         size_t vl)
{
    (void)v, (void)vl;
    values_ctx *x = ctx;
    static const char *const known[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    for (size_t i = 0; i < 3; i++)
        if (nl == strlen(known[i]) && !memcmp(n, known[i], nl))
            put_pair(x, known[i], i == 0 ? x->c->max_conns : i == 1 ? x->c->max_reqs : 0);
}

static bool get_values(fcgi_conn *c, const unsigned char *body, size_t len)
{
    values_ctx x = {c, NULL, 0, 0};
    if (!each_pair(body, len, NULL, NULL))
        return false;
    each_pair(body, len, answer_value, &x);
    if (x.len > MAX_CONTENT)
        x.len = 0; /* three names cannot get there; never send a broken record */
    put_record(c, FCGI_GET_VALUES_RESULT, 0, x.res, x.len);
    free(x.res);
    return true;
}

static bool begin(fcgi_conn *c, uint16_t id, const unsigned char *body, size_t len)
{
    if (len != 8 || id == 0)
        return false;
    if (c->id) { /* one request at a time */
        if (id != c->id)
            put_end(c, id, FCGI_CANT_MPX_CONN);
        return id != c->id;
    }
    unsigned role = (unsigned)body[0] << 8 | body[1];
    bool keep = body[2] & FLAG_KEEP_CONN;
    if (role != ROLE_RESPONDER) {
        put_end(c, id, FCGI_UNKNOWN_ROLE);
        if (!keep)
            c->close_after = true;
        return true;
    }
    forget_request(c);
    c->id = id;
    c->keep = keep;
    return true;
}

static bool add_params(fcgi_conn *c, const unsigned char *body, size_t len)
{
    if (!len) {
        c->params_done = true;
        return each_pair(c->params, c->params_len, NULL, NULL);
    }
    if (c->params_len + len > FCGI_PARAMS_MAX)
        return false;
    grow(&c->params, &c->params_cap, c->params_len + len);
    memcpy(c->params + c->params_len, body, len);
    c->params_len += len;
    return true;
}

static void add_stdin(fcgi_conn *c, const unsigned char *body, size_t len)
{
    if (!len) {
        c->stdin_done = true;
        return;
    }
    c->body_seen += len;
    size_t keep = c->body_len < c->body_limit ? c->body_limit - c->body_len : 0;
    if (len > keep)
        len = keep;
    unsigned char *b = (unsigned char *)c->body;
    grow(&b, &c->body_cap, c->body_len + len + 1);
    c->body = (char *)b;
    memcpy(c->body + c->body_len, body, len);
    c->body_len += len;
    c->body[c->body_len] = '\0';
}

/* One record; false on a protocol error. */
static bool record(fcgi_conn *c, int type, uint16_t id, const unsigned char *body, size_t len)
{
    if (id == 0) {
        if (type == FCGI_GET_VALUES)
            return get_values(c, body, len);
        if (type == FCGI_BEGIN_REQUEST)
            return false;
        const unsigned char unknown[8] = {(unsigned char)type};
        put_record(c, FCGI_UNKNOWN_TYPE, 0, unknown, sizeof unknown);
        return true;
    }
    if (type == FCGI_BEGIN_REQUEST)
        return begin(c, id, body, len);
    if (id != c->id)
        return true; /* records of a request not open here are ignored */
    switch (type) {
    case FCGI_ABORT_REQUEST:
        put_end(c, id, FCGI_REQUEST_COMPLETE);
        if (!c->keep)
            c->close_after = true;
        forget_request(c);
        return true;
    case FCGI_PARAMS:
        return !c->params_done && add_params(c, body, len);
    case FCGI_STDIN:
        if (!c->stdin_done)
            add_stdin(c, body, len);
        return true;
    default: /* DATA (the filter role's), and what only an application sends */
        return true;
    }
}

fcgi_status fcgi_parse(fcgi_conn *c)
{
    while (!c->close_after) {
        if (c->id && c->params_done && c->stdin_done)
            return FCGI_READY;
        size_t avail = c->in_len - c->in_off;
        if (avail < HEADER_LEN)
            return FCGI_AGAIN;
        const unsigned char *h = c->in + c->in_off;
        if (h[0] != VERSION_1)
            return FCGI_BAD;
        size_t len = (size_t)h[4] << 8 | h[5], pad = h[6];
        if (avail < HEADER_LEN + len + pad)
            return FCGI_AGAIN;
        c->in_off += HEADER_LEN + len + pad;
        if (!record(c, h[1], (uint16_t)(h[2] << 8 | h[3]), h + HEADER_LEN, len))
            return FCGI_BAD;
    }
    return FCGI_AGAIN; /* nothing more is read from a connection about to close */
}
