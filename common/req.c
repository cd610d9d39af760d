#include "req.h"

#include "bind.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *req_param(const rv_req *rq, const char *name)
{
    if (!rq->env || !name)
        return NULL;
    size_t n = strlen(name);
    for (char **e = rq->env; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

const char *req_header(const rv_req *rq, const char *name)
{
    char key[128] = "HTTP_";
    size_t n = strlen(name);
    if (n + 6 > sizeof key)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        key[5 + i] = c == '-' ? '_' : (char)toupper(c);
    }
    key[5 + n] = '\0';
    return req_param(rq, key);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *req_unescape(arena *a, const char *src, size_t n, bool plus_is_space)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return NULL;
            h = hexval((unsigned char)src[i + 1]);
            l = hexval((unsigned char)src[i + 2]);
            if (h < 0 || l < 0)
                return NULL;
            c = (char)(h * 16 + l);
            if (c == '\0')
                return NULL;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        *o++ = c;
    }
    *o = '\0';
    return out;
}

static void parse_query(rv_req *rq)
{
    rq->query_parsed = true;
    const char *q = rq->query;
    rv_kv **tail = &rq->query_list;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        char *k = req_unescape(rq->a, q, klen, true);
        char *v = eq ? req_unescape(rq->a, eq + 1, len - klen - 1, true) : arena_strdup(rq->a, "");
        /* Undecodable or ill-formed UTF-8 values are absent: never passed on. */
        if (k && v && *k && bind_utf8_valid(v, strlen(v))) {
            rv_kv *kv = arena_alloc(rq->a, sizeof *kv);
            kv->key = k;
            kv->value = v;
            *tail = kv;
            tail = &kv->next;
        }
        q = amp ? amp + 1 : NULL;
    }
}

const char *req_query(rv_req *rq, const char *name)
{
    if (!rq->query_parsed)
        parse_query(rq);
    for (rv_kv *kv = rq->query_list; kv; kv = kv->next)
        if (!strcmp(kv->key, name))
            return kv->value;
    return NULL;
}

const char *req_cookie(const rv_req *rq, const char *name)
{
    const char *h = req_param(rq, "HTTP_COOKIE");
    size_t nlen = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > nlen && !strncmp(h, name, nlen) && h[nlen] == '=') {
            const char *v = h + nlen + 1;
            size_t vlen = len - nlen - 1;
            while (vlen && v[vlen - 1] == ' ')
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            return arena_strndup(((rv_req *)rq)->a, v, vlen);
        }
        h = end;
    }
    return NULL;
}

const char *req_path(const rv_req *rq, const char *name)
{
    for (int i = 0; i < rq->n_path; i++)
        if (!strcmp(rq->path_names[i], name))
            return rq->path_values[i];
    return NULL;
}

bool req_route_match(rv_req *rq, const char *route, const char *path)
{
    rq->n_path = 0;
    while (*route && *path) {
        if (*route == '{') {
            const char *close = strchr(route, '}');
            const char *seg_end = strchr(path, '/');
            size_t seg = seg_end ? (size_t)(seg_end - path) : strlen(path);
            if (!close || rq->n_path == REQ_MAX_PATH_PARAMS)
                return false;
            size_t name_len = (size_t)(close - route - 1);
            if (name_len && route[name_len] == '*') { /* {name*}: the rest of the path */
                seg = strlen(path);
                name_len--;
            }
            if (seg == 0)
                return false;
            rq->path_names[rq->n_path] = arena_strndup(rq->a, route + 1, name_len);
            rq->path_values[rq->n_path] = arena_strndup(rq->a, path, seg);
            rq->n_path++;
            route = close + 1;
            path += seg;
        } else if (*route++ != *path++) {
            return false;
        }
    }
    return *route == '\0' && *path == '\0';
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

rv_err req_page(rv_req *rq, long *page, long *limit)
{
    rv_err er = RV_OK;
    const char *p = req_query(rq, "page"), *l = req_query(rq, "limit");
    *page = 1;
    *limit = 20;
    if (p && !parse_long(p, 1, 1000000, page))
        er = req_field_error(rq, "page", "must be an integer from 1 to 1000000");
    if (l && !parse_long(l, 1, 100, limit))
        er = req_field_error(rq, "limit", "must be an integer from 1 to 100");
    return er;
}

static void put_json(void *obj)
{
    json_object_put(obj);
}

json_object *req_keep(rv_req *rq, json_object *obj)
{
    arena_defer(rq->a, put_json, obj);
    return obj;
}

rv_err req_field_error(rv_req *rq, const char *field, const char *message)
{
    if (!rq->problem_errors) {
        rq->problem_errors = req_keep(rq, json_object_new_array());
    }
    json_object *e = json_object_new_object();
    json_object_object_add(e, "field", json_object_new_string(field));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_array_add(rq->problem_errors, e);
    return RV_E_VALIDATION;
}

void req_problem_set(rv_req *rq, const char *key, json_object *v)
{
    if (!rq->problem_extra) {
        rq->problem_extra = req_keep(rq, json_object_new_object());
    }
    json_object_object_add(rq->problem_extra, key, v);
}

rv_err req_fail(rv_req *rq, rv_err er, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rq->detail = arena_vprintf(rq->a, fmt, ap);
    va_end(ap);
    return er;
}

bool req_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (hexval((unsigned char)s[i]) < 0) {
            return false;
        }
    }
    return true;
}
