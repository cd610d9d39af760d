/* POST /api/auth/verify — public.
 *
 * Body: {token} from the link of the verification mail (RV_PUBLIC_URL/verify?token=…).
 * 200 user (emailVerified true); the account's pending referral is paid then
 * (rv_referral_qualify). 400 invalid_token (unknown, used or expired),
 * 400 validation_failed | malformed_json, 405, 413, 415, 429 (nginx), 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

typedef struct {
    const char *token;
} verify_input;

static const bind_field fields[] = {
    {.name = "token",
     .type = BIND_STRING,
     .offset = offsetof(verify_input, token),
     .required = true,
     .min = 1,
     .max = 200,
     .message = "must be 1 to 200 characters"},
};

static const db_stmt verify = {"SELECT status, user_json FROM rv_verify_email($1)", 1};

static rv_err auth_verify(rv_req *rq)
{
    verify_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {in.token};
    PGresult *r;
    if ((er = db_query(rq, &verify, p, &r)) != RV_OK)
        return er;
    if (strcmp(db_get(r, 0, 0), "ok"))
        return req_fail(rq, RV_E_INVALID_TOKEN, "the link is unknown, used or expired");
    return resp_json(rq, 200, db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "auth_verify",
    .route = "/api/auth/verify",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_verify,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
