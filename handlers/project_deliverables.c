/* GET|POST /api/projects/{id}/deliverables — authenticated.
 *
 * GET ?page&limit → 200 {items: [deliverable], pagination}, newest first: the owner,
 * the assigned expert and admins.
 * POST {audioId} → 201 deliverable {id, audioId, filename, durationMs, url,
 * createdAt}: the assigned expert only (403 for the owner or an admin), one of the
 * expert's own audios (else 404), an in_progress project (else 409 invalid_state).
 * Links are signed for whoever may see the project. 404 for a project the caller
 * cannot see. 400, 401, 405, 413, 415, 503. */
#include <stddef.h>

#include "bind.h"
#include "projects.h"
#include "serve.h"

static const db_stmt add = {
    "SELECT outcome, deliverable_json FROM rv_project_deliverable_add($1, $2)", 2};
/* A page of the list ($2 page, $3 limit), newest first like every list. */
static const db_stmt list = {
    "SELECT outcome, CASE WHEN outcome = 'ok' THEN json_build_object("
    "  'items', COALESCE((SELECT json_agg(t.e ORDER BY t.n DESC)"
    "                       FROM json_array_elements(list_json -> 'items') WITH ORDINALITY t(e, n)"
    "                      WHERE t.n <= n_all - ($2::bigint - 1) * $3::bigint"
    "                        AND t.n > n_all - $2::bigint * $3::bigint), '[]'),"
    "  'pagination', json_build_object('page', $2::bigint, 'limit', $3::bigint, 'total', n_all,"
    "                                  'totalPages', ceil(n_all / $3::numeric)::bigint,"
    "                                  'hasNext', $2::bigint * $3::bigint < n_all,"
    "                                  'hasPrev', $2::bigint > 1)) END"
    "  FROM (SELECT outcome, list_json,"
    "               COALESCE(json_array_length(list_json -> 'items'), 0) AS n_all"
    "          FROM rv_project_deliverables($1)) d",
    3};

typedef struct {
    const char *audio_id;
} deliverable_input;

static const bind_field fields[] = {
    {.name = "audioId",
     .type = BIND_STRING,
     .offset = offsetof(deliverable_input, audio_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
};

static rv_err project_deliverables(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    if (rq->method_bit == RV_GET) {
        long page, limit;
        rv_err er = req_page(rq, &page, &limit);
        if (er != RV_OK)
            return er;
        const char *p[] = {id, arena_printf(rq->a, "%ld", page), arena_printf(rq->a, "%ld", limit)};
        return projects_call(rq, &list, p, 200);
    }
    deliverable_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, in.audio_id};
    return projects_call(rq, &add, p, 201);
}

static const rv_endpoint endpoint = {
    .name = "project_deliverables",
    .route = "/api/projects/{id}/deliverables",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 4 * 1024,
    .handle = project_deliverables,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
