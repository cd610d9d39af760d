/* http.h — outgoing HTTP with libcurl: a batch of calls run concurrently.
 *
 * The poller dispatches many jobs at once through one curl multi handle; a single
 * call is a batch of one. Response bodies go to the arena (capped at max_bytes) or
 * to a file (save_to); a request body comes from memory (body) or, streamed, from a
 * file (upload_from). Nothing here retries: callers decide with http_transient().
 * Safe across fork(): a child process never reuses its parent's connections. */
#ifndef RV_HTTP_H
#define RV_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

enum { HTTP_MAX_HEADERS = 8 };

typedef struct http_call {
    /* Request; all borrowed until http_run returns. */
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *url;
    const char *body;        /* NULL: none */
    const char *upload_from; /* a file sent as the body, streamed from disk (PUT) */
    /* AWS Signature V4 by libcurl: "aws:amz:REGION:SERVICE", with username as the access
     * key id and password as the secret. NULL: no signing. */
    const char *aws_sigv4;
    const char *username, *password;
    const char *headers[HTTP_MAX_HEADERS + 1]; /* "Name: value", NULL-terminated */
    long timeout_ms;                           /* whole call; 0 = 15 s */
    const char *save_to;                       /* write the body to this file instead of memory */
    size_t max_bytes;                          /* body cap; 0 = 4 MiB (memory) or 512 MiB (file) */

    /* Response. */
    long status; /* HTTP status; 0 when no response (network error) */
    char *resp;  /* NUL-terminated body in the arena (not with save_to) */
    size_t resp_len;
    double retry_after; /* seconds from a Retry-After header (delta form), else 0 */
    bool too_large;
    char error[256]; /* curl's message when status is 0 */
    void *user;      /* caller's */
} http_call;

/* Runs every call concurrently and returns when all have finished. */
void http_run(arena *a, http_call *calls, size_t n);

/* Whether a result is worth retrying: no response, 408, 425, 429 or any 5xx. */
bool http_transient(const http_call *c);

#endif
