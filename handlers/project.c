/* GET|PATCH|DELETE /api/projects/{id} — authenticated.
 *
 * GET → 200 project (projects.c has its shape): the owner, the assigned expert and
 * admins see it, with signed links to its audios.
 * PATCH {name? (1..200), description? (≤5000)} → 200 project: the owner or an
 * admin (the expert: 403).
 * DELETE → 204: the owner or an admin, only a draft or cancelled project (else 409
 * invalid_state).
 * 404 for a project the caller cannot see. 400, 401, 405, 413, 415, 503. */
#include <stddef.h>

#include "bind.h"
#include "db.h"
#include "projects.h"
#include "serve.h"

static const db_stmt get = {"SELECT outcome, project_json FROM rv_project_get($1)", 1};
static const db_stmt update = {"SELECT outcome, project_json FROM rv_project_update($1, $2, $3)",
                               3};
static const db_stmt drop = {"SELECT outcome, project_json FROM rv_project_delete($1)", 1};

typedef struct {
    const char *name, *description;
} patch_input;

static const bind_field fields[] = {
    {.name = "name",
     .type = BIND_STRING,
     .offset = offsetof(patch_input, name),
     .min = 1,
     .max = 200,
     .message = "must be 1 to 200 characters"},
    {.name = "description",
     .type = BIND_STRING,
     .offset = offsetof(patch_input, description),
     .max = 5000,
     .message = "must be at most 5000 characters"},
};

static rv_err project(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    if (rq->method_bit == RV_DELETE) {
        const char *p[] = {id};
        return projects_call(rq, &drop, p, 204);
    }
    if (rq->method_bit == RV_PATCH) {
        patch_input in = {0};
        rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
        if (er != RV_OK)
            return er;
        const char *p[] = {id, in.name, in.description};
        return projects_call(rq, &update, p, 200);
    }
    const char *p[] = {id};
    return projects_call(rq, &get, p, 200);
}

static const rv_endpoint endpoint = {
    .name = "project",
    .route = "/api/projects/{id}",
    .methods = RV_GET | RV_PATCH | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 32 * 1024,
    .handle = project,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
