/* POST /api/projects/{id}/expert — authenticated. Assigns an expert.
 *
 * Body: {expertId} (the expert's user id). 200 project in_progress: priceCredits =
 * ⌈estimate costCents ÷ escrow.centsPerCredit⌉ held from the owner's balance in
 * escrow in the same transaction. The owner only (403 for the assigned expert or
 * an admin), a ready project only (409 invalid_state); 404 for an unknown or
 * non-expert id, 409 conflict for an offline expert, 402 insufficient_credits
 * (required, balance). 400, 401, 404 project, 405, 413, 415, 503. */
#include <stddef.h>

#include "bind.h"
#include "projects.h"
#include "resp.h"
#include "serve.h"

static const db_stmt assign = {
    "SELECT outcome, project_json, required, balance FROM rv_project_assign($1, $2)", 2};

typedef struct {
    const char *expert_id;
} expert_input;

static const bind_field fields[] = {
    {.name = "expertId",
     .type = BIND_STRING,
     .offset = offsetof(expert_input, expert_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
};

static rv_err project_expert(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    expert_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, in.expert_id};
    PGresult *r;
    if ((er = db_query(rq, &assign, p, &r)) != RV_OK)
        return er;
    projects_outcome o = projects_outcome_of(db_get(r, 0, 0));
    if (o == PROJ_INSUFFICIENT) {
        req_problem_set(rq, "required", json_object_new_int64(db_get_long(r, 0, 2)));
        req_problem_set(rq, "balance", json_object_new_int64(db_get_long(r, 0, 3)));
        return req_fail(rq, RV_E_INSUFFICIENT_CREDITS, "the price is %ld credits",
                        db_get_long(r, 0, 2));
    }
    if (o != PROJ_OK)
        return projects_refuse(rq, o);
    return resp_json(rq, 200, projects_links(rq, db_get(r, 0, 1)));
}

static const rv_endpoint endpoint = {
    .name = "project_expert",
    .route = "/api/projects/{id}/expert",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 4 * 1024,
    .handle = project_expert,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
