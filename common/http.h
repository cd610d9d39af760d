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
    /* A URL from outside (a provider's output), checked for the first request and
     * every redirect: https only unless allow_http, and a connection to a public
     * address only (no loopback, private, link-local, ...) unless allow_private.
     * Requests to trusted_origin ("http://127.0.0.1:18220", the provider's own
     * configured base URL; NULL: none) are exempt from both. A refused request
     * ends with status 0, refused set, and is not worth retrying. */
    bool untrusted;
    bool allow_http, allow_private;
    const char *trusted_origin;
    /* A call to this provider ("replicate"), counted in its metrics (metrics.h) by
     * status and duration; NULL: not counted. */
    const char *provider;

    /* Response. */
    long status; /* HTTP status; 0 when no response (network error) */
    char *resp;  /* NUL-terminated body in the arena (not with save_to) */
    size_t resp_len;
    double retry_after; /* seconds from a Retry-After header (delta form), else 0 */
    bool too_large;     /* over max_bytes (not worth retrying) */
    bool refused;       /* an untrusted URL broke its rules (not worth retrying) */
    char error[256];    /* curl's message when status is 0 */
    void *user;         /* caller's */
    /* X-Ratelimit-Remaining and X-Ratelimit-Reset (a Unix time), as Pexels sends
     * them; -1 when absent. */
    long ratelimit_remaining, ratelimit_reset;
} http_call;

/* Runs every call concurrently and returns when all have finished. */
void http_run(arena *a, http_call *calls, size_t n);

/* Whether a result is worth retrying: no response (but not too_large or refused),
 * 408, 425, 429 or any 5xx. */
bool http_transient(const http_call *c);

/* Whether ip (a numeric IPv4 or IPv6 address) is a public unicast address: not
 * loopback, private, shared (CGNAT), link-local, unique-local, multicast,
 * documentation, benchmarking, reserved or unspecified; IPv4-mapped and NAT64
 * addresses are judged by their IPv4 part. False when ip is not an address. */
bool http_addr_public(const char *ip);

/* Whether two URLs have the same origin: scheme, host and port (default ports
 * made explicit), compared without case. False when either does not parse. */
bool http_same_origin(const char *a, const char *b);

#endif
