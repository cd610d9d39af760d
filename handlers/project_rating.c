/* POST /api/projects/{id}/rating — authenticated. The owner rates the expert.
 *
 * Body: {stars (1..5), comment? (≤2000)}. 201 {projectId, expertId, stars, comment,
 * createdAt}, once, after completed (409 invalid_state before, 409 conflict the
 * second time); the expert's rating is the average (SQL keeps it). 403 for the
 * assigned expert or an admin, 404 for anyone else. 400, 401, 405, 413, 415, 503. */
#include <stddef.h>

#include "bind.h"
#include "projects.h"
#include "serve.h"

static const db_stmt rate = {"SELECT outcome, rating_json FROM rv_project_rate($1, $2, $3)", 3};

typedef struct {
    long stars;
    const char *comment;
} rating_input;

static const bind_field fields[] = {
    {.name = "stars",
     .type = BIND_INT,
     .offset = offsetof(rating_input, stars),
     .required = true,
     .min = 1,
     .max = 5,
     .message = "must be an integer from 1 to 5"},
    {.name = "comment",
     .type = BIND_STRING,
     .offset = offsetof(rating_input, comment),
     .max = 2000,
     .message = "must be at most 2000 characters"},
};

static rv_err project_rating(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    rating_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, arena_printf(rq->a, "%ld", in.stars), in.comment};
    return projects_call(rq, &rate, p, 201);
}

static const rv_endpoint endpoint = {
    .name = "project_rating",
    .route = "/api/projects/{id}/rating",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = project_rating,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
