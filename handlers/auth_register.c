/* POST /api/auth/register — public.
 *
 * Body: {email, password (10..128 chars), name? (≤100), referralCode?}
 * 201 {user, accessToken, expiresIn} + rv_access and rv_refresh cookies.
 * 400 validation_failed | malformed_json (also for an unknown referral code),
 * 409 email_taken, 413, 415, 429 (nginx limit_req), 503 unavailable. */
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "bind.h"
#include "config.h"
#include "db.h"
#include "serve.h"
#include "session.h"

typedef struct {
    const char *email, *password, *name, *referral_code;
} register_input;

static const bind_field fields[] = {
    {.name = "email",
     .type = BIND_STRING,
     .offset = offsetof(register_input, email),
     .required = true,
     .min = 3,
     .max = 254,
     .check = bind_check_email,
     .message = "must be a valid email address"},
    {.name = "password",
     .type = BIND_STRING,
     .offset = offsetof(register_input, password),
     .required = true,
     .min = 10,
     .max = 128,
     .message = "must be 10 to 128 characters"},
    {.name = "name",
     .type = BIND_STRING,
     .offset = offsetof(register_input, name),
     .min = 0,
     .max = 100,
     .message = "must be at most 100 characters"},
    {.name = "referralCode",
     .type = BIND_STRING,
     .offset = offsetof(register_input, referral_code),
     .min = 1,
     .max = 32,
     .message = "must be 1 to 32 characters"},
};

static const db_stmt register_user = {
    "SELECT status, user_json, user_id, role, session_id FROM rv_register($1, $2, $3, $4, $5, $6)",
    6};

static rv_err auth_register(rv_req *rq)
{
    register_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;

    char hash[AUTH_PWHASH_LEN], refresh[AUTH_REFRESH_TOKEN_LEN + 1];
    char refresh_hash[2 * AUTH_HASH_LEN + 1];
    if (!auth_password_hash(in.password, hash))
        return RV_E_INTERNAL;
    auth_refresh_new(refresh, refresh_hash);
    const char *ttl = arena_printf(rq->a, "%ld", config->refresh_ttl);
    const char *params[] = {in.email, hash, in.name, in.referral_code, refresh_hash, ttl};
    PGresult *r;
    if ((er = db_query(rq, &register_user, params, &r)) != RV_OK)
        return er;

    const char *status = db_get(r, 0, 0);
    if (status && !strcmp(status, "email_taken"))
        return req_fail(rq, RV_E_EMAIL_TAKEN, "an account with this email already exists");
    if (status && !strcmp(status, "bad_referral"))
        return req_field_error(rq, "referralCode", "is not a known referral code");
    if (!status || strcmp(status, "ok"))
        return RV_E_INTERNAL;
    session_grant g = {db_get(r, 0, 1), db_get(r, 0, 2), db_get(r, 0, 3),
                       db_get(r, 0, 4), refresh,         false};
    return session_respond(rq, 201, &g);
}

static const rv_endpoint endpoint = {
    .name = "auth_register",
    .route = "/api/auth/register",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_register,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
