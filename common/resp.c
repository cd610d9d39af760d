#include "resp.h"

#include <sodium.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

static const char JSON_TYPE[] = "application/json; charset=utf-8";
static const char PROBLEM_TYPE[] = "application/problem+json; charset=utf-8";
static const char PROBLEM_BASE[] = "https://reelvox.dev/problems/";

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* json without the whitespace between its tokens, so that every answer has one
 * style, json-c's compact one: PostgreSQL's json_build_object() writes
 * {"id" : "…", "email" : …} and jsonb's text {"id": "…"}. Strings are copied as
 * they are (escapes included). json is our own well-formed text, not client input.
 * Returns json itself when it is compact already, else an arena copy; *len gets
 * the length. */
static const char *json_compact(arena *a, const char *json, size_t *len)
{
    size_t n = strlen(json), k = 0;
    bool in_str = false, spaced = false;
    for (size_t i = 0; i < n && !spaced; i++) {
        if (in_str)
            in_str = json[i] == '\\' ? (i++, true) : json[i] != '"';
        else if (json[i] == '"')
            in_str = true;
        else
            spaced = json_space(json[i]);
    }
    *len = n;
    if (!spaced)
        return json;
    char *out = arena_alloc(a, n + 1);
    in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = json[i];
        if (in_str) {
            if (c == '\\' && i + 1 < n) {
                out[k++] = c;
                c = json[++i];
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (json_space(c)) {
            continue;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    *len = k;
    return out;
}

rv_err resp_json(rv_req *rq, int status, const char *json)
{
    rq->status = status;
    rq->resp_type = JSON_TYPE;
    rq->resp_body = json_compact(rq->a, json, &rq->resp_len);
    return RV_OK;
}

rv_err resp_jobj(rv_req *rq, int status, json_object *obj)
{
    req_keep(rq, obj);
    size_t n;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    rq->status = status;
    rq->resp_type = JSON_TYPE;
    rq->resp_body = s;
    rq->resp_len = n;
    return RV_OK;
}

rv_err resp_text(rv_req *rq, int status, const char *type, const char *body, size_t len)
{
    rq->status = status;
    rq->resp_type = type;
    rq->resp_body = body;
    rq->resp_len = len;
    return RV_OK;
}

rv_err resp_empty(rv_req *rq, int status)
{
    rq->status = status;
    rq->resp_type = NULL;
    rq->resp_body = NULL;
    rq->resp_len = 0;
    return RV_OK;
}

void resp_header(rv_req *rq, const char *name, const char *value)
{
    rv_header *h = arena_alloc(rq->a, sizeof *h), **tail = &rq->resp_headers;
    h->name = name;
    h->value = value;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
}

void resp_cookie(rv_req *rq, const char *name, const char *value, const char *path, long max_age)
{
    resp_header(rq, "Set-Cookie",
                arena_printf(rq->a,
                             "%s=%s; Path=%s; Max-Age=%ld; HttpOnly; Secure; "
                             "SameSite=Strict",
                             name, max_age > 0 ? value : "", path, max_age > 0 ? max_age : 0));
}

void resp_problem(rv_req *rq, rv_err er)
{
    const rv_err_info *info = err_info(er);
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "type", json_object_new_string(arena_printf(rq->a, "%s%s", PROBLEM_BASE, info->slug)));
    json_object_object_add(o, "title", json_object_new_string(info->title));
    json_object_object_add(o, "status", json_object_new_int(info->status));
    json_object_object_add(o, "code", json_object_new_string(info->code));
    const char *detail = rq->detail;
    if (er == RV_E_INTERNAL)
        detail = "An unexpected error occurred; it has been logged.";
    else if (er == RV_E_VALIDATION && !detail && rq->problem_errors) {
        size_t n = json_object_array_length(rq->problem_errors);
        detail = arena_printf(rq->a, "%zu field%s invalid", n, n == 1 ? " is" : "s are");
    }
    if (detail)
        json_object_object_add(o, "detail", json_object_new_string(detail));
    if (er == RV_E_VALIDATION)
        json_object_object_add(o, "errors",
                               rq->problem_errors ? json_object_get(rq->problem_errors)
                                                  : json_object_new_array());
    if (rq->problem_extra && er != RV_E_INTERNAL) {
        json_object_object_foreach(rq->problem_extra, k, v)
            json_object_object_add(o, k, json_object_get(v));
    }
    if (er == RV_E_RATE_LIMITED) {
        json_object *ra;
        if (!json_object_object_get_ex(o, "retryAfter", &ra)) {
            ra = json_object_new_int(1);
            json_object_object_add(o, "retryAfter", ra);
        }
        resp_header(rq, "Retry-After", arena_printf(rq->a, "%d", json_object_get_int(ra)));
    }
    if (info->status == 401)
        resp_header(rq, "WWW-Authenticate", "Bearer");
    resp_jobj(rq, info->status, o);
    rq->resp_type = PROBLEM_TYPE;
}

json_object *resp_pagination(long page, long limit, long total)
{
    long pages = total > 0 ? (total + limit - 1) / limit : 0;
    json_object *p = json_object_new_object();
    json_object_object_add(p, "page", json_object_new_int64(page));
    json_object_object_add(p, "limit", json_object_new_int64(limit));
    json_object_object_add(p, "total", json_object_new_int64(total));
    json_object_object_add(p, "totalPages", json_object_new_int64(pages));
    json_object_object_add(p, "hasNext", json_object_new_boolean(page < pages));
    json_object_object_add(p, "hasPrev", json_object_new_boolean(page > 1));
    return p;
}

rv_err resp_list(rv_req *rq, long page, long limit, long total, const char *items)
{
    json_object *pg = req_keep(rq, resp_pagination(page, limit, total));
    return resp_json(rq, 200,
                     arena_printf(rq->a, "{\"items\":%s,\"pagination\":%s}", items,
                                  json_object_to_json_string_ext(pg, JSON_C_TO_STRING_PLAIN)));
}

/* A GET answered 200 with JSON carries a strong ETag, the hash of its body; when the
 * client's If-None-Match names it, the answer is 304 without a body. A page polling
 * a job or a list pays one small answer while nothing changed. The tag is a hash of
 * what this user was about to receive, so it tells nothing another answer did not. */
static void resp_etag(rv_req *rq)
{
    if (rq->method_bit != RV_GET || rq->status != 200 || rq->resp_type != JSON_TYPE)
        return;
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)rq->resp_body, rq->resp_len, NULL, 0);
    char *tag = arena_alloc(rq->a, 2 * sizeof h + 3);
    tag[0] = '"';
    sodium_bin2hex(tag + 1, 2 * sizeof h + 1, h, sizeof h);
    tag[1 + 2 * sizeof h] = '"';
    tag[2 + 2 * sizeof h] = '\0';
    resp_header(rq, "ETag", tag);
    const char *inm = req_header(rq, "If-None-Match");
    if (inm && (strstr(inm, tag) || !strcmp(inm, "*"))) {
        rq->status = 304;
        rq->resp_type = NULL;
        rq->resp_body = NULL;
        rq->resp_len = 0;
    }
}

char *resp_render(rv_req *rq, size_t *len)
{
    resp_etag(rq);
    int status = rq->status ? rq->status : 500;
    size_t cap = 512 + rq->resp_len;
    for (rv_header *h = rq->resp_headers; h; h = h->next)
        cap += strlen(h->name) + strlen(h->value) + 4;
    char *buf = arena_alloc(rq->a, cap);
    size_t n = (size_t)snprintf(buf, cap, "Status: %d %s\r\n", status, err_reason(status));
    if (rq->resp_type)
        n += (size_t)snprintf(buf + n, cap - n, "Content-Type: %s\r\n", rq->resp_type);
    if (rq->request_id)
        n += (size_t)snprintf(buf + n, cap - n, "X-Request-Id: %.64s\r\n", rq->request_id);
    bool cache_set = false;
    for (rv_header *h = rq->resp_headers; h; h = h->next) {
        n += (size_t)snprintf(buf + n, cap - n, "%s: %s\r\n", h->name, h->value);
        cache_set |= !strcasecmp(h->name, "Cache-Control");
    }
    if (!cache_set) /* API answers are per user: never cached by default */
        n += (size_t)snprintf(buf + n, cap - n, "Cache-Control: no-store\r\n");
    n += (size_t)snprintf(buf + n, cap - n, "\r\n");
    if (rq->resp_len) {
        memcpy(buf + n, rq->resp_body, rq->resp_len);
        n += rq->resp_len;
    }
    *len = n;
    return buf;
}
