/* POST /api/auth/login — public.
 *
 * Body: {email, password}
 * 200 {user, accessToken, refreshToken, expiresIn} + cookies.
 * 401 invalid_credentials — the same answer, after the same Argon2id work, for an
 * unknown email and for a wrong password.
 * 429 rate_limited (Retry-After) after auth_limits.loginFailures (10) failed logins
 * of one account (email, known or not) in auth_limits.windowSeconds (900), before
 * any password work; a successful login clears the count. nginx limits per client
 * address on top. 400, 413, 415, 503. */
#include <json-c/json.h>
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "bind.h"
#include "config.h"
#include "db.h"
#include "serve.h"
#include "session.h"

typedef struct {
    const char *email, *password;
} login_input;

/* Loose bounds on purpose: a login must not reveal the registration rules. */
static const bind_field fields[] = {
    {.name = "email",
     .type = BIND_STRING,
     .offset = offsetof(login_input, email),
     .required = true,
     .min = 1,
     .max = 254,
     .message = "must be 1 to 254 characters"},
    {.name = "password",
     .type = BIND_STRING,
     .offset = offsetof(login_input, password),
     .required = true,
     .min = 1,
     .max = 128,
     .message = "must be 1 to 128 characters"},
};

static const db_stmt begin = {"SELECT retry_after, user_id, password_hash FROM rv_login_begin($1)",
                              1};
static const db_stmt succeeded = {"SELECT rv_login_succeeded($1)", 1};
/* Both act only while the hash checked is still the user's (sql/functions/sessions.sql). */
static const db_stmt start = {
    "SELECT user_json, role, session_id FROM rv_login_session_start($1, $2, $3, $4)", 4};
static const db_stmt rehash = {"SELECT rv_login_rehash($1, $2, $3)", 3};

static rv_err auth_login(rv_req *rq)
{
    login_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;

    PGresult *r;
    const char *p1[] = {in.email};
    if ((er = db_query(rq, &begin, p1, &r)) != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return RV_E_INTERNAL;
    long wait = db_get_long(r, 0, 0);
    if (wait > 0) {
        req_problem_set(rq, "retryAfter", json_object_new_int64(wait));
        return req_fail(rq, RV_E_RATE_LIMITED, "too many failed logins; try again later");
    }
    const char *user_id = db_get(r, 0, 1), *hash = db_get(r, 0, 2);
    if (!auth_password_check(hash, in.password))
        return req_fail(rq, RV_E_INVALID_CREDENTIALS, "the email or password is wrong");
    if ((er = db_query(rq, &succeeded, p1, NULL)) != RV_OK)
        return er;

    char fresh[AUTH_PWHASH_LEN];
    if (auth_password_needs_rehash(hash) && auth_password_hash(in.password, fresh)) {
        const char *p[] = {user_id, hash, fresh};
        PGresult *rr; /* best effort: the next login retries */
        if (db_query(rq, &rehash, p, &rr) == RV_OK && db_get(rr, 0, 0) &&
            !strcmp(db_get(rr, 0, 0), "t"))
            hash = fresh;
    }

    char refresh[AUTH_REFRESH_TOKEN_LEN + 1], refresh_hash[2 * AUTH_HASH_LEN + 1];
    auth_refresh_new(refresh, refresh_hash);
    const char *p2[] = {user_id, hash, refresh_hash,
                        arena_printf(rq->a, "%ld", config->refresh_ttl)};
    if ((er = db_query(rq, &start, p2, &r)) != RV_OK)
        return er;
    if (PQntuples(r) != 1) /* the password changed since it was checked */
        return req_fail(rq, RV_E_INVALID_CREDENTIALS, "the email or password is wrong");
    session_grant g = {db_get(r, 0, 0), user_id, db_get(r, 0, 1), db_get(r, 0, 2), refresh, true};
    return session_respond(rq, 200, &g);
}

static const rv_endpoint endpoint = {
    .name = "auth_login",
    .route = "/api/auth/login",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_login,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
