#include "session.h"

#include <stdlib.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "resp.h"

rv_err session_respond(rv_req *rq, int status, const session_grant *g)
{
    long expires_in = 0;
    char *token = auth_issue_access(g->user_id, g->role, g->session_id, time(NULL), &expires_in);
    if (!token)
        return RV_E_INTERNAL;
    char *access = arena_strdup(rq->a, token);
    free(token);

    resp_cookie(rq, "rv_access", access, "/", expires_in);
    resp_cookie(rq, "rv_refresh", g->refresh_token, "/api/auth", config->refresh_ttl);
    /* Both tokens are base64url and dots: nothing to escape. */
    if (g->refresh_in_body)
        return resp_json(rq, status,
                         arena_printf(rq->a,
                                      "{\"user\":%s,\"accessToken\":\"%s\",\"refreshToken\":"
                                      "\"%s\",\"expiresIn\":%ld}",
                                      g->user_json, access, g->refresh_token, expires_in));
    return resp_json(rq, status,
                     arena_printf(rq->a, "{\"user\":%s,\"accessToken\":\"%s\",\"expiresIn\":%ld}",
                                  g->user_json, access, expires_in));
}

void session_clear_cookies(rv_req *rq)
{
    resp_cookie(rq, "rv_access", "", "/", 0);
    resp_cookie(rq, "rv_refresh", "", "/api/auth", 0);
}
