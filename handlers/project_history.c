/* GET /api/projects/{id}/history — authenticated.
 *
 * 200 [{from, to, by, at}], oldest first: every status move with who made it (`by`
 * null: the system, e.g. an estimate ending; `from` null: the creation). The owner,
 * the assigned expert and admins; 404 for anyone else. 401, 405, 503. */
#include "projects.h"
#include "serve.h"

static const db_stmt history = {"SELECT outcome, history_json FROM rv_project_history($1)", 1};

static rv_err project_history(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    const char *p[] = {id};
    return projects_call(rq, &history, p, 200);
}

static const rv_endpoint endpoint = {
    .name = "project_history",
    .route = "/api/projects/{id}/history",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = project_history,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
