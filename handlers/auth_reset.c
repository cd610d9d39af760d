/* POST /api/auth/reset — public.
 *
 * Body: {token, newPassword (10..128)} with the token of the reset mail's link.
 * 200 {} : the password is set and every session of the account ends (each access
 * token answers 401 within RV_SESSION_RECHECK_SECONDS; every refresh token is
 * revoked). 400 invalid_token (unknown, used or expired), 400 validation_failed |
 * malformed_json, 405, 413, 415, 429 (nginx), 503. */
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

typedef struct {
    const char *token, *new_password;
} reset_input;

static const bind_field fields[] = {
    {.name = "token",
     .type = BIND_STRING,
     .offset = offsetof(reset_input, token),
     .required = true,
     .min = 1,
     .max = 200,
     .message = "must be 1 to 200 characters"},
    {.name = "newPassword",
     .type = BIND_STRING,
     .offset = offsetof(reset_input, new_password),
     .required = true,
     .min = 10,
     .max = 128,
     .message = "must be 10 to 128 characters"},
};

static const db_stmt reset = {"SELECT rv_password_reset($1, $2)", 2};

static rv_err auth_reset(rv_req *rq)
{
    reset_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    char hash[AUTH_PWHASH_LEN];
    if (!auth_password_hash(in.new_password, hash))
        return RV_E_INTERNAL;
    const char *p[] = {in.token, hash};
    PGresult *r;
    if ((er = db_query(rq, &reset, p, &r)) != RV_OK)
        return er;
    if (strcmp(db_get(r, 0, 0), "ok"))
        return req_fail(rq, RV_E_INVALID_TOKEN, "the link is unknown, used or expired");
    return resp_json(rq, 200, "{}");
}

static const rv_endpoint endpoint = {
    .name = "auth_reset",
    .route = "/api/auth/reset",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_reset,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
