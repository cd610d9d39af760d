/* GET|PATCH /api/admin/users/{id} — admin.
 *
 * GET → 200 {user, balance, ledger (20 latest), jobs (20 latest), payments (20
 * latest; [] until the payments table exists)}.
 * PATCH {role? (user|expert|admin), disabled? (bool)} → 200 user (with disabled,
 * disabledAt?, updatedAt). Disabling ends every session of the account (its access
 * tokens answer 401 within RV_SESSION_RECHECK_SECONDS) and login refuses it; a role
 * change ends the tokens of the old role the same way. Audited. 400 (an empty
 * body, bad fields), 401, 403, 404, 405, 409 invalid_state (an admin disabling or
 * demoting themselves), 413, 415, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

typedef struct {
    const char *role;
    int disabled; /* -1: absent */
} user_patch;

static const char *const roles[] = {"user", "expert", "admin", NULL};

static const bind_field fields[] = {
    {.name = "role",
     .type = BIND_STRING,
     .offset = offsetof(user_patch, role),
     .one_of = roles,
     .message = "must be user, expert or admin"},
    {.name = "disabled", .type = BIND_BOOL, .offset = offsetof(user_patch, disabled)},
};

static const db_stmt detail = {"SELECT rv_admin_user_detail($1)", 1};
static const db_stmt patch = {"SELECT status, user_json FROM rv_admin_user_patch($1, $2, $3)", 3};

static rv_err admin_user(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such user");
    PGresult *r;
    rv_err er;
    if (rq->method_bit == RV_GET) {
        const char *p[] = {id};
        if ((er = db_query(rq, &detail, p, &r)) != RV_OK)
            return er;
        if (!db_get(r, 0, 0))
            return req_fail(rq, RV_E_NOT_FOUND, "no such user");
        return resp_json(rq, 200, db_get(r, 0, 0));
    }
    user_patch in = {.disabled = -1};
    if ((er = bind_json(rq, fields, BIND_COUNT(fields), &in)) != RV_OK)
        return er;
    if (!in.role && in.disabled < 0)
        return req_field_error(rq, "role", "role or disabled is required");
    const char *p[] = {id, in.role, in.disabled < 0 ? NULL : in.disabled ? "t" : "f"};
    if ((er = db_query(rq, &patch, p, &r)) != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such user");
    if (!strcmp(status, "self"))
        return req_fail(rq, RV_E_INVALID_STATE, "an admin cannot disable or demote themselves");
    return resp_json(rq, 200, db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "admin_user",
    .route = "/api/admin/users/{id}",
    .methods = RV_GET | RV_PATCH,
    .flags = RV_ADMIN,
    .body_limit = 16 * 1024,
    .handle = admin_user,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
