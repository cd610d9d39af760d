/* GET|POST /api/projects — authenticated.
 *
 * GET ?status&page&limit → 200 {items: [project], pagination}: the caller's own
 * projects, newest first (status: one of the lifecycle's, else 400).
 * POST {name (1..200), description? (≤5000)} → 201 project (draft).
 * project: {id, name, description, status, audioIds, audios: [{id, filename,
 * durationMs, url}], estimate?, estimateError?, expertId?, priceCredits?, unread,
 * createdAt, updatedAt}. 400, 401, 405, 413, 415, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "projects.h"
#include "resp.h"
#include "serve.h"
#include "views.h"

static const db_stmt page_own = {"SELECT total, project_json FROM rv_projects_page(false, $1,"
                                 " $2::integer, $3::integer)",
                                 3};
static const db_stmt create = {"SELECT outcome, project_json FROM rv_project_create($1, $2)", 2};

typedef struct {
    const char *name, *description;
} project_input;

static const bind_field fields[] = {
    {.name = "name",
     .type = BIND_STRING,
     .offset = offsetof(project_input, name),
     .required = true,
     .min = 1,
     .max = 200,
     .message = "must be 1 to 200 characters"},
    {.name = "description",
     .type = BIND_STRING,
     .offset = offsetof(project_input, description),
     .max = 5000,
     .message = "must be at most 5000 characters"},
};

static const char *project_view(rv_req *rq, const char *json, const char *key)
{
    (void)key;
    return projects_links(rq, json);
}

static rv_err list(rv_req *rq)
{
    long page, limit;
    const char *status;
    rv_err er = projects_list_query(rq, &page, &limit, &status);
    if (er != RV_OK)
        return er;
    const char *p[] = {status, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &page_own, p, &r)) != RV_OK)
        return er;
    return views_list(rq, r, 1, 0, project_view, page, limit, db_get_long(r, 0, 0));
}

static rv_err add(rv_req *rq)
{
    project_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {in.name, in.description};
    return projects_call(rq, &create, p, 201);
}

static rv_err projects(rv_req *rq)
{
    return rq->method_bit == RV_POST ? add(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "projects",
    .route = "/api/projects",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 32 * 1024,
    .handle = projects,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
