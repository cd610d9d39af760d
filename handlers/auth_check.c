/* /_rv/auth — internal to nginx (`internal;`: never reachable from outside).
 *
 * nginx's auth_request target for locations that must not take a body from a
 * stranger (/api/audios: nginx would otherwise write up to 50 MiB to disk before
 * the handler saw the token). nginx asks here first, with the request's headers
 * and without its body.
 *
 * Any method (the subrequest carries the original one), no body.
 * → 204 the token is valid (the serve loop's own check, whatever it covers);
 * 401 otherwise, with X-Rv-Auth: token_expired | unauthorized, which nginx copies
 * into $rv_auth_code to answer the contract's problem itself (errors.conf,
 * /_rv/errors/401): it cannot forward this body, and handing the refused request
 * to a FastCGI location would make nginx read the body after all.
 * 503 when the check needs a database that is down. */
#include <string.h>
#include <time.h>

#include "auth.h"
#include "resp.h"
#include "serve.h"

/* The token the serve loop looked at: the Bearer header, else the cookie. */
static const char *token_of(rv_req *rq)
{
    const char *h = req_param(rq, "HTTP_AUTHORIZATION");
    if (h)
        return strncasecmp(h, "Bearer ", 7) ? NULL : h + 7;
    return req_cookie(rq, "rv_access");
}

static rv_err auth_check(rv_req *rq)
{
    /* Public endpoint: the serve loop checked any token and set user_id only for
     * one it accepts; what it refused is told apart here for the answer. */
    if (rq->user_id)
        return RV_OK;
    const char *token = token_of(rq);
    auth_claims c;
    if (token && *token && auth_verify_access(token, time(NULL), &c) == RV_E_TOKEN_EXPIRED) {
        resp_header(rq, "X-Rv-Auth", "token_expired");
        return req_fail(rq, RV_E_TOKEN_EXPIRED, "the access token has expired");
    }
    resp_header(rq, "X-Rv-Auth", "unauthorized");
    return req_fail(rq, RV_E_UNAUTHORIZED, "a valid access token is required");
}

static const rv_endpoint endpoint = {
    .name = "auth_check",
    .route = "/_rv/auth",
    .methods = RV_GET | RV_POST | RV_PUT | RV_PATCH | RV_DELETE,
    .flags = 0,
    .body_limit = 0,
    .handle = auth_check,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
