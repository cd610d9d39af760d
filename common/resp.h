/* resp.h — building the response of a request.
 *
 * Bodies are borrowed (static or arena-owned) until the request ends. Handlers set
 * a success response; errors are rendered by the serve loop via resp_problem(). */
#ifndef RV_RESP_H
#define RV_RESP_H

#include <json-c/json.h>

#include "req.h"

/* A JSON body; json is a complete document, sent in compact form (whitespace
 * between tokens removed, as resp_jobj() writes it). Returns RV_OK. */
rv_err resp_json(rv_req *rq, int status, const char *json);
/* Serialises obj (taking ownership) as the body. Returns RV_OK. */
rv_err resp_jobj(rv_req *rq, int status, json_object *obj);
/* A body of another type (type and body borrowed until the request ends).
 * Returns RV_OK. */
rv_err resp_text(rv_req *rq, int status, const char *type, const char *body, size_t len);
/* A response without body (204). Returns RV_OK. */
rv_err resp_empty(rv_req *rq, int status);

void resp_header(rv_req *rq, const char *name, const char *value);

/* Set-Cookie name=value with HttpOnly; Secure; SameSite=Strict. max_age 0 clears. */
void resp_cookie(rv_req *rq, const char *name, const char *value, const char *path, long max_age);

/* Turns er and the problem extras of rq into an RFC 9457 body with its status and
 * headers (Allow is set by the caller; WWW-Authenticate and Retry-After here). */
void resp_problem(rv_req *rq, rv_err er);

/* The pagination object of API.md for a list of `total` rows. */
json_object *resp_pagination(long page, long limit, long total);

/* 200 {"items": items (a JSON array, as rendered by the database), "pagination"}:
 * one page of a list of `total` rows. */
rv_err resp_list(rv_req *rq, long page, long limit, long total, const char *items);

/* Renders status line, headers and body as FastCGI/CGI output into the arena. */
char *resp_render(rv_req *rq, size_t *len);

#endif
