/* req.h — one HTTP request as a handler sees it, and the response it builds.
 *
 * The serve loop fills the request half from the FastCGI parameters before the
 * handler runs; every string is borrowed from the FastCGI environment or owned by
 * the request arena, and lives until the request ends. Handlers fill the response
 * half through resp.h and return an rv_err. */
#ifndef RV_REQ_H
#define RV_REQ_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

typedef struct rv_header {
    const char *name, *value;
    struct rv_header *next;
} rv_header;

typedef struct rv_kv {
    const char *key, *value;
    struct rv_kv *next;
} rv_kv;

enum { REQ_MAX_PATH_PARAMS = 4 };

typedef struct rv_req {
    arena *a;
    char **env; /* NAME=value parameters (FastCGI or CGI) */

    const char *method, *path, *query, *request_id, *content_type;
    /* The method as its serve.h bit (RV_GET, RV_POST...; HEAD is RV_GET), set by the
     * serve loop before the handler runs: handlers dispatch on it. */
    unsigned method_bit;
    const char *body; /* NUL-terminated copy; NULL when there was none */
    size_t body_len;
    /* RV_BODY_FILE endpoints: the checked path of the file nginx wrote the body to
     * (body stays NULL, body_len is the file's size); NULL when no body came. The
     * serve loop removes the file after the request. */
    const char *body_file;
    const char *path_names[REQ_MAX_PATH_PARAMS], *path_values[REQ_MAX_PATH_PARAMS];
    int n_path;
    rv_kv *query_list; /* decoded lazily */
    bool query_parsed;

    /* Set by the serve loop from a valid access token; NULL when anonymous. */
    const char *user_id, *role, *session_id;
    const char *access_token; /* the raw token, for handlers that re-issue */

    /* Response. */
    int status;
    const char *resp_type; /* Content-Type */
    const char *resp_body;
    size_t resp_len;
    rv_header *resp_headers;

    /* Extras of a problem+json answer (set by handlers before returning an error). */
    const char *detail;
    json_object *problem_errors; /* array of {field, message}; arena-owned */
    json_object *problem_extra;  /* object whose members are merged in */
} rv_req;

/* A FastCGI/CGI parameter such as "HTTP_AUTHORIZATION"; NULL when absent. */
const char *req_param(const rv_req *rq, const char *name);

/* A request header by its HTTP name ("Idempotency-Key"); NULL when absent. */
const char *req_header(const rv_req *rq, const char *name);

/* A query parameter, percent-decoded ('+' is a space); NULL when absent, the first
 * value when repeated. Invalid escapes or an embedded NUL make the value absent. */
const char *req_query(rv_req *rq, const char *name);

/* A cookie value from the Cookie header, as sent; NULL when absent. */
const char *req_cookie(const rv_req *rq, const char *name);

/* A path parameter named in the endpoint's route ("{id}"); NULL when absent. */
const char *req_path(const rv_req *rq, const char *name);

/* Percent-decodes src[0..n) into a new arena string; NULL on a bad escape or NUL.
 * plus_is_space: '+' becomes ' ' (query strings). */
char *req_unescape(arena *a, const char *src, size_t n, bool plus_is_space);

/* Matches path against route ("/api/jobs/{id}"), storing {name} segments into rq.
 * A parameter matches one non-empty segment without '/'; a last {name*} matches the
 * non-empty rest of the path. */
bool req_route_match(rv_req *rq, const char *route, const char *path);

/* Reads ?page&limit (defaults 1 and 20, limit 1..100). Bad values add field errors
 * and return RV_E_VALIDATION. */
rv_err req_page(rv_req *rq, long *page, long *limit);

/* Records a field error for a 400 validation_failed answer; returns
 * RV_E_VALIDATION so a call site can `return req_field_error(...)`. */
rv_err req_field_error(rv_req *rq, const char *field, const char *message);

/* Adds a member to the problem body (e.g. "balance"); takes ownership of v. */
void req_problem_set(rv_req *rq, const char *key, json_object *v);

/* Sets the problem detail; returns er for one-line call sites. */
rv_err req_fail(rv_req *rq, rv_err er, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Registers a json-c object on the request arena (put at the end); returns it. */
json_object *req_keep(rv_req *rq, json_object *obj);

/* Whether s is a canonical UUID (8-4-4-4-12 hex). */
bool req_is_uuid(const char *s);

#endif
