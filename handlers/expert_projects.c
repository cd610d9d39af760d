/* GET /api/expert/projects?status&page&limit — authenticated.
 *
 * 200 {items: [project], pagination}: the projects assigned to the caller, newest
 * first (empty for anyone with none). status: one of the lifecycle's (else 400).
 * 401, 405, 503. */

#include "db.h"
#include "projects.h"
#include "serve.h"
#include "views.h"

static const db_stmt page = {"SELECT total, project_json FROM rv_projects_page(true, $1,"
                             " $2::integer, $3::integer)",
                             3};

static const char *project_view(rv_req *rq, const char *json, const char *key)
{
    (void)key;
    return projects_links(rq, json);
}

static rv_err expert_projects(rv_req *rq)
{
    long pg, limit;
    const char *status;
    rv_err er = projects_list_query(rq, &pg, &limit, &status);
    if (er != RV_OK)
        return er;
    const char *p[] = {status, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (pg - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &page, p, &r)) != RV_OK)
        return er;
    return views_list(rq, r, 1, 0, project_view, pg, limit, db_get_long(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "expert_projects",
    .route = "/api/expert/projects",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = expert_projects,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
