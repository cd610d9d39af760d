/* POST /api/auth/logout — authenticated.
 *
 * 204: the session (refresh family) of the access token is revoked and both
 * cookies are cleared. The access token itself stays valid until it expires
 * (at most 15 minutes). 401, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "session.h"

static const db_stmt end_session = {"SELECT rv_session_end($1)", 1};

static rv_err auth_logout(rv_req *rq)
{
    const char *p[] = {rq->session_id};
    rv_err er = db_query(rq, &end_session, p, NULL);
    if (er != RV_OK)
        return er;
    session_clear_cookies(rq);
    return resp_empty(rq, 204);
}

static const rv_endpoint endpoint = {
    .name = "auth_logout",
    .route = "/api/auth/logout",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = auth_logout,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
