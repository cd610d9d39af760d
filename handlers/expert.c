/* GET /api/experts/{id} — authenticated.
 *
 * 200 expert (experts.c has its shape) with `ratings`: the latest 50 ratings
 * {stars, comment, createdAt}, newest first. 404 for an unknown id or a user who is
 * not an expert with a profile. 401, 405, 503. */
#include "projects.h"
#include "serve.h"

static const db_stmt get = {"SELECT outcome, expert_json FROM rv_expert_get($1)", 1};

static rv_err expert(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such expert");
    const char *p[] = {id};
    rv_err er = projects_call(rq, &get, p, 200);
    return er == RV_E_NOT_FOUND ? req_fail(rq, er, "no such expert") : er;
}

static const rv_endpoint endpoint = {
    .name = "expert",
    .route = "/api/experts/{id}",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = expert,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
