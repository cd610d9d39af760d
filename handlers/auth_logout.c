/* POST /api/auth/logout — public; the credential is the refresh token.
 *
 * Body: {refreshToken?} (or the rv_refresh cookie). The refresh token is the
 * credential, so logging out works with an expired or absent access token: its
 * family is revoked whatever state the token is in. Without a refresh token, a
 * valid access token ends its own session (sid). Access tokens of the session stop
 * working within RV_SESSION_RECHECK_SECONDS. Both cookies are cleared on every
 * answer, errors included.
 * 204; 401 unauthorized when neither credential names a session (unknown or
 * malformed refresh token and no valid access token); 400, 405, 413, 415, 503. */
#include <stddef.h>

#include "auth.h"
#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "session.h"

typedef struct {
    const char *refresh_token;
} logout_input;

static const bind_field fields[] = {
    {.name = "refreshToken",
     .type = BIND_STRING,
     .offset = offsetof(logout_input, refresh_token),
     .required = false,
     .min = 1,
     .max = 128,
     .message = "must be 1 to 128 characters"},
};

static const db_stmt by_refresh = {"SELECT rv_logout_refresh($1)", 1};
static const db_stmt end_session = {"SELECT rv_session_end($1)", 1};

static rv_err auth_logout(rv_req *rq)
{
    session_clear_cookies(rq);
    logout_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *token = in.refresh_token ? in.refresh_token : req_cookie(rq, "rv_refresh");
    bool ended = false;
    char hash[2 * AUTH_HASH_LEN + 1];
    if (token && auth_refresh_hash(token, hash)) {
        PGresult *r;
        const char *p[] = {hash};
        if ((er = db_query(rq, &by_refresh, p, &r)) != RV_OK)
            return er;
        ended = db_get(r, 0, 0) != NULL;
    }
    if (rq->session_id) {
        const char *p[] = {rq->session_id};
        if ((er = db_query(rq, &end_session, p, NULL)) != RV_OK)
            return er;
        ended = true;
    }
    if (!ended)
        return req_fail(rq, RV_E_UNAUTHORIZED,
                        "a refresh token or a valid access token is required");
    return resp_empty(rq, 204);
}

static const rv_endpoint endpoint = {
    .name = "auth_logout",
    .route = "/api/auth/logout",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_logout,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
