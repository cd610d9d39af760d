/* GET|PATCH /api/me — authenticated.
 *
 * GET → 200 user {id, email, name, role, credits, referralCode, createdAt}.
 * PATCH {name? (≤100), currentPassword?, newPassword? (10..128)} → 200 user.
 * A new password needs the current one (400 when missing or wrong) and ends every
 * other session of the user. At most auth_limits.profileChanges (10) PATCHes per
 * user in auth_limits.windowSeconds (900), counted before any password work:
 * 429 rate_limited with Retry-After beyond.
 * 400, 401, 404 (account deleted), 405, 413, 415, 503. */
#include <json-c/json.h>
#include <stddef.h>

#include "auth.h"
#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

typedef struct {
    const char *name, *current_password, *new_password;
} me_patch;

static const bind_field patch_fields[] = {
    {.name = "name",
     .type = BIND_STRING,
     .offset = offsetof(me_patch, name),
     .min = 0,
     .max = 100,
     .message = "must be at most 100 characters"},
    {.name = "currentPassword",
     .type = BIND_STRING,
     .offset = offsetof(me_patch, current_password),
     .min = 1,
     .max = 128,
     .message = "must be 1 to 128 characters"},
    {.name = "newPassword",
     .type = BIND_STRING,
     .offset = offsetof(me_patch, new_password),
     .min = 10,
     .max = 128,
     .message = "must be 10 to 128 characters"},
};

static const db_stmt get_me = {"SELECT rv_user_json(u) FROM users u WHERE u.id = $1", 1};
static const db_stmt get_hash = {"SELECT rv_my_password_hash()", 0};
static const db_stmt set_name = {"UPDATE users SET name = $2, updated_at = now() WHERE id = $1", 2};
static const db_stmt set_password = {"SELECT rv_my_password_set($1, $2)", 2};
static const db_stmt take_change = {"SELECT rv_profile_change_take()", 0};

static rv_err answer_user(rv_req *rq)
{
    PGresult *r;
    const char *p[] = {rq->user_id};
    rv_err er = db_query(rq, &get_me, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "the account no longer exists");
    er = db_in_transaction() ? db_commit(rq) : RV_OK;
    return er != RV_OK ? er : resp_json(rq, 200, db_get(r, 0, 0));
}

static rv_err check_current_password(rv_req *rq, const me_patch *in)
{
    if (!in->current_password)
        return req_field_error(rq, "currentPassword", "is required to set a new password");
    PGresult *r;
    rv_err er = db_query(rq, &get_hash, NULL, &r);
    if (er != RV_OK)
        return er;
    if (!auth_password_check(db_get(r, 0, 0), in->current_password))
        return req_field_error(rq, "currentPassword", "does not match");
    return RV_OK;
}

static rv_err patch_me(rv_req *rq)
{
    me_patch in = {0};
    rv_err er = bind_json(rq, patch_fields, BIND_COUNT(patch_fields), &in);
    if (er != RV_OK)
        return er;
    PGresult *r;
    if ((er = db_query(rq, &take_change, NULL, &r)) != RV_OK)
        return er;
    if (db_get_long(r, 0, 0) > 0) {
        req_problem_set(rq, "retryAfter", json_object_new_int64(db_get_long(r, 0, 0)));
        return req_fail(rq, RV_E_RATE_LIMITED, "too many profile changes; try again later");
    }
    char hash[AUTH_PWHASH_LEN];
    if (in.new_password) {
        if ((er = check_current_password(rq, &in)) != RV_OK)
            return er;
        if (!auth_password_hash(in.new_password, hash))
            return RV_E_INTERNAL;
    }
    if ((er = db_begin(rq)) != RV_OK)
        return er;
    if (in.name) {
        const char *p[] = {rq->user_id, in.name};
        if ((er = db_exec(rq, &set_name, p, NULL)) != RV_OK)
            return er;
    }
    if (in.new_password) {
        const char *p[] = {hash, rq->session_id};
        if ((er = db_exec(rq, &set_password, p, NULL)) != RV_OK)
            return er;
    }
    return answer_user(rq);
}

static rv_err me(rv_req *rq)
{
    return rq->method_bit == RV_PATCH ? patch_me(rq) : answer_user(rq);
}

static const rv_endpoint endpoint = {
    .name = "me",
    .route = "/api/me",
    .methods = RV_GET | RV_PATCH,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = me,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
