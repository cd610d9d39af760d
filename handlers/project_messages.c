/* GET|POST /api/projects/{id}/messages — authenticated. The owner-expert thread.
 *
 * GET ?page&limit → 200 {items: [message], pagination}, newest first; reading marks
 * the reader's unread messages (the other side's) read: the project's `unread`.
 * The owner, the assigned expert and admins (an admin's reading marks nothing).
 * POST {body (1..10000)} → 201 message {id, authorId, body, createdAt}: the owner
 * or the assigned expert (an admin: 403).
 * 404 for a project the caller cannot see. 400, 401, 405, 413, 415, 503. */
#include <stddef.h>

#include "bind.h"
#include "projects.h"
#include "serve.h"
#include "views.h"

static const db_stmt add = {"SELECT outcome, message_json FROM rv_project_message_add($1, $2)", 2};
static const db_stmt page = {"SELECT outcome, total, message_json"
                             "  FROM rv_project_messages($1, $2::integer, $3::integer)",
                             3};

typedef struct {
    const char *body;
} message_input;

static const bind_field fields[] = {
    {.name = "body",
     .type = BIND_STRING,
     .offset = offsetof(message_input, body),
     .required = true,
     .min = 1,
     .max = 10000,
     .message = "must be 1 to 10000 characters"},
};

static const char *as_is(rv_req *rq, const char *json, const char *key)
{
    (void)rq;
    (void)key;
    return json;
}

static rv_err list(rv_req *rq, const char *id)
{
    long pg, limit;
    rv_err er = req_page(rq, &pg, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (pg - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &page, p, &r)) != RV_OK)
        return er;
    projects_outcome o = projects_outcome_of(db_get(r, 0, 0));
    if (o != PROJ_OK)
        return projects_refuse(rq, o);
    return views_list(rq, r, 2, 1, as_is, pg, limit, db_get_long(r, 0, 1));
}

static rv_err project_messages(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    if (rq->method_bit == RV_GET)
        return list(rq, id);
    message_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, in.body};
    return projects_call(rq, &add, p, 201);
}

static const rv_endpoint endpoint = {
    .name = "project_messages",
    .route = "/api/projects/{id}/messages",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 64 * 1024,
    .handle = project_messages,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
