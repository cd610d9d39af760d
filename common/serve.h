/* serve.h — the shared serve loop every endpoint binary hands itself to.
 *
 * A binary describes its endpoint with one rv_endpoint and calls serve_main(). The
 * loop owns what every endpoint shares: prefork workers on the FastCGI socket at
 * fd 0, each serving many kept FastCGI connections at once through its own record
 * layer (fcgi.h; or one CGI request when started as CGI), route and method checks (405 with
 * Allow), the body limit (413) and JSON content type (415), authentication (401/403),
 * the per-request arena, rolling back a transaction a handler left open, the access
 * log and rendering errors as problem+json; for uploads, the body file nginx wrote
 * (RV_BODY_FILE). */
#ifndef RV_SERVE_H
#define RV_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "req.h"

enum {
    RV_GET = 1 << 0,
    RV_POST = 1 << 1,
    RV_PUT = 1 << 2,
    RV_PATCH = 1 << 3,
    RV_DELETE = 1 << 4,
};

enum {
    RV_AUTH = 1 << 0,      /* a valid access token is required */
    RV_ADMIN = 1 << 1,     /* ... of an admin (implies RV_AUTH) */
    RV_RAW_BODY = 1 << 2,  /* body is not JSON: skip the Content-Type check */
    RV_NO_SECRET = 1 << 3, /* the binary never touches tokens (health, poller) */
    /* The body is a file nginx wrote (client_body_in_file_only, REQUEST_BODY_FILE;
     * fastcgi_pass_request_body off): nothing is read from the pipe. The loop checks
     * the path is in config->upload_dir, sets rq->body_file and rq->body_len (its
     * size, held to body_limit) and removes the file after the request, answered
     * however it was: a handler that keeps the file moves it first. */
    RV_BODY_FILE = 1 << 4,
    /* One connection at a time, not kept: the endpoint's requests can take seconds
     * (an upload's decode, a wait on the quota's lock, a call to Stripe or to check a provider
     * key), and a request nginx sent down a kept connection of a busy worker would wait behind it
     * while other workers idle. Its fastcgi_pass line in nginx/endpoints.conf ends in `# solo`,
     * which leaves its upstream without a keepalive pool. */
    RV_SOLO = 1 << 5,
};

typedef struct rv_endpoint {
    const char *name;  /* binary and log name, "auth_login" */
    const char *route; /* "/api/jobs/{id}" */
    unsigned methods;  /* RV_GET | ... */
    unsigned flags;    /* RV_AUTH | ... */
    size_t body_limit; /* bytes; 0 means no body accepted */
    rv_err (*handle)(rv_req *rq);
} rv_endpoint;

/* Runs the endpoint until SIGTERM; returns the process exit status. */
int serve_main(const rv_endpoint *ep, int argc, char **argv);

/* Routes SIGTERM and SIGINT to the stop flag and blocks them everywhere but inside
 * serve_wait_readable(), so none is lost between a check of the flag and a wait. */
void serve_stop_signals(void);
/* Whether a stop signal has come. */
bool serve_stopping(void);
/* Waits until fd is readable (1), a stop signal has come (0), or poll fails (-1).
 * A stop signal that came at any time after serve_stop_signals(), even just before
 * this call, ends the wait at once. */
int serve_wait_readable(int fd);

/* Serves one request already described by env and body (the core of every mode;
 * exposed for tests). The response is in rq after the call. */
void serve_request(const rv_endpoint *ep, rv_req *rq);

#endif
