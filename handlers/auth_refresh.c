/* POST /api/auth/refresh — public.
 *
 * The refresh token comes from the rv_refresh cookie or the body {refreshToken}.
 * 200 {user, accessToken, refreshToken, expiresIn} + cookies; the presented token
 * is spent. The new token is derived from the presented one (auth_refresh_successor),
 * so the same token presented again within the grace window (auth_limits.
 * refreshGraceSeconds: 0, off, by default as API.md says; an operator may open it
 * for clients that refresh at once) while its successor is live answers that same
 * successor. 401 unauthorized for an
 * unknown, expired or spent token, or a session past its absolute lifetime
 * (auth_limits.sessionMaxDays, 90; rotation does not extend it) — a token spent
 * outside the grace window also revokes its whole family (a stolen token was used
 * twice).
 * 400, 413, 415, 429, 503. */
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "bind.h"
#include "config.h"
#include "db.h"
#include "serve.h"
#include "session.h"

typedef struct {
    const char *refresh_token;
} refresh_input;

static const bind_field fields[] = {
    {.name = "refreshToken",
     .type = BIND_STRING,
     .offset = offsetof(refresh_input, refresh_token),
     .min = 1,
     .max = 128,
     .message = "must be 1 to 128 characters"},
};

static const db_stmt rotate = {
    "SELECT status, user_json, user_id, role, session_id FROM rv_refresh_rotate($1, $2, $3)", 3};

static rv_err auth_refresh(rv_req *rq)
{
    refresh_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *token = in.refresh_token ? in.refresh_token : req_cookie(rq, "rv_refresh");
    char old_hash[2 * AUTH_HASH_LEN + 1];
    if (!token)
        return req_fail(rq, RV_E_UNAUTHORIZED, "a refresh token is required");
    if (!auth_refresh_hash(token, old_hash))
        return req_fail(rq, RV_E_UNAUTHORIZED, "the refresh token is invalid");

    char fresh[AUTH_REFRESH_TOKEN_LEN + 1], fresh_hash[2 * AUTH_HASH_LEN + 1];
    auth_refresh_successor(token, fresh, fresh_hash);
    const char *p[] = {old_hash, fresh_hash, arena_printf(rq->a, "%ld", config->refresh_ttl)};
    PGresult *r;
    if ((er = db_query(rq, &rotate, p, &r)) != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || strcmp(status, "ok")) {
        session_clear_cookies(rq);
        return req_fail(rq, RV_E_UNAUTHORIZED, "the refresh token is invalid, expired or spent");
    }
    session_grant g = {db_get(r, 0, 1), db_get(r, 0, 2), db_get(r, 0, 3),
                       db_get(r, 0, 4), fresh,           true};
    return session_respond(rq, 200, &g);
}

static const rv_endpoint endpoint = {
    .name = "auth_refresh",
    .route = "/api/auth/refresh",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_refresh,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
