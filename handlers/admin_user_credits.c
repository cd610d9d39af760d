/* POST /api/admin/users/{id}/credits — admin.
 *
 * Body: {delta (a non-zero integer, -10000000..10000000), reason (1..200)}.
 * 201 the ledger row {id, userId, delta, kind: "grant", reason, createdAt}, with
 * the balance in `balance`; audited. A delta that would take the balance below zero
 * → 409 invalid_state (with `balance`), nothing moves. 400, 401, 403, 404, 405,
 * 413, 415, 503. */
#include <json-c/json.h>
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

typedef struct {
    long delta;
    const char *reason;
} credit_input;

static const bind_field fields[] = {
    {.name = "delta",
     .type = BIND_INT,
     .offset = offsetof(credit_input, delta),
     .required = true,
     .min = -10000000,
     .max = 10000000,
     .message = "must be a non-zero integer from -10000000 to 10000000"},
    {.name = "reason",
     .type = BIND_STRING,
     .offset = offsetof(credit_input, reason),
     .required = true,
     .min = 1,
     .max = 200,
     .message = "must be 1 to 200 characters"},
};

static const db_stmt credit = {
    "SELECT status, (entry || jsonb_build_object('balance', balance))::text, balance"
    "  FROM rv_admin_credit($1, $2, $3)",
    3};

static rv_err admin_user_credits(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such user");
    credit_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    if (in.delta == 0)
        return req_field_error(rq, "delta",
                               "must be a non-zero integer from -10000000 to 10000000");
    const char *p[] = {id, arena_printf(rq->a, "%ld", in.delta), in.reason};
    PGresult *r;
    if ((er = db_query(rq, &credit, p, &r)) != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such user");
    if (!strcmp(status, "insufficient")) {
        req_problem_set(rq, "balance", json_object_new_int64(db_get_long(r, 0, 2)));
        return req_fail(rq, RV_E_INVALID_STATE, "the balance cannot go below zero");
    }
    return resp_json(rq, 201, db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "admin_user_credits",
    .route = "/api/admin/users/{id}/credits",
    .methods = RV_POST,
    .flags = RV_ADMIN,
    .body_limit = 16 * 1024,
    .handle = admin_user_credits,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
