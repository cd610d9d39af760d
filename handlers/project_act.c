/* POST /api/projects/{id}/{submit|accept|changes|cancel} — authenticated. The moves
 * after assignment (sql/functions/projects.sql, rv_project_act):
 *
 *   submit   the assigned expert: in_progress → review (409 without a deliverable)
 *   accept   the owner: review → completed; the escrow released to the expert less
 *            escrow.feePercent
 *   changes  the owner, body {message (1..10000)}: review → in_progress; the message
 *            goes into the project's thread
 *   cancel   the owner or an admin: any non-terminal status → cancelled; the escrow
 *            refunded in full before the expert submitted, else
 *            escrow.cancelRefundPercent of it (the rest released to the expert)
 *
 * 200 project. 403 for a role the move is not for; 404 for a project the caller
 * cannot see (and any other action); 409 invalid_state for an illegal move. 400,
 * 401, 405, 413, 415, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "projects.h"
#include "serve.h"

static const db_stmt act = {"SELECT outcome, project_json FROM rv_project_act($1, $2, $3)", 3};

static const char *const actions[] = {"submit", "accept", "changes", "cancel", NULL};

typedef struct {
    const char *message;
} changes_input;

static const bind_field fields[] = {
    {.name = "message",
     .type = BIND_STRING,
     .offset = offsetof(changes_input, message),
     .required = true,
     .min = 1,
     .max = 10000,
     .message = "must be 1 to 10000 characters"},
};

static rv_err project_act(rv_req *rq)
{
    const char *id = projects_id(rq, "id"), *action = req_path(rq, "action");
    bool known = false;
    for (size_t i = 0; action && actions[i]; i++)
        known |= !strcmp(action, actions[i]);
    if (!id || !known)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    changes_input in = {0};
    if (!strcmp(action, "changes")) {
        rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
        if (er != RV_OK)
            return er;
    }
    const char *p[] = {id, action, in.message};
    return projects_call(rq, &act, p, 200);
}

static const rv_endpoint endpoint = {
    .name = "project_act",
    .route = "/api/projects/{id}/{action}",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 64 * 1024,
    .handle = project_act,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
