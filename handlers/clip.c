/* GET|PATCH|DELETE /api/clips/{id} — authenticated.
 *
 * GET → 200 clip {id, projectId, imageId, prompt, durationSeconds, ratio, status
 * (queued|running|succeeded|failed|cancelled: its job's), approved, position,
 * durationMs?, bytes?, error?, url?, posterUrl?, jobId, createdAt}.
 * PATCH {approved?, position? (0..10000)} → 200 clip; approving a clip that has not
 * succeeded → 409 invalid_state (un-approving always works).
 * DELETE → 204: a clip still being made has its job cancelled first (refunded, the
 * provider's work stopped by the poller); the row goes, then its files.
 * 404 for an unknown id or someone else's clip (admins see all). 400, 401, 405, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "views.h"

typedef struct {
    int approved; /* -1: absent */
    long position;
} clip_patch;

static const bind_field fields[] = {
    {.name = "approved", .type = BIND_BOOL, .offset = offsetof(clip_patch, approved)},
    {.name = "position",
     .type = BIND_INT,
     .offset = offsetof(clip_patch, position),
     .min = 0,
     .max = 10000,
     .message = "must be an integer from 0 to 10000"},
};

static const db_stmt get_clip = {"SELECT rv_clip_json(c, j), c.video_key, c.poster_key FROM clips c"
                                 "  JOIN jobs j ON j.id = c.job_id"
                                 " WHERE c.id = $1 AND (c.user_id = $2 OR $3 = 'admin')",
                                 3};
static const db_stmt update_clip = {
    "SELECT status, clip_json, video_key, poster_key FROM rv_clip_update($1, $2, $3)", 3};
static const db_stmt delete_clip = {"SELECT status, keys[1], keys[2] FROM rv_clip_delete($1)", 1};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_clip, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such clip");
    const char *keys[] = {db_get(r, 0, 1), db_get(r, 0, 2)};
    return resp_json(rq, 200, views_links(rq, db_get(r, 0, 0), views_clip_links, keys, 2));
}

static rv_err update(rv_req *rq, const char *id)
{
    clip_patch in = {.approved = -1, .position = -1};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id,
                       in.approved < 0 ? NULL
                       : in.approved   ? "true"
                                       : "false",
                       in.position < 0 ? NULL : arena_printf(rq->a, "%ld", in.position)};
    PGresult *r;
    if ((er = db_query(rq, &update_clip, p, &r)) != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such clip");
    if (!strcmp(status, "not_succeeded"))
        return req_fail(rq, RV_E_INVALID_STATE, "only a clip that succeeded can be approved");
    const char *keys[] = {db_get(r, 0, 2), db_get(r, 0, 3)};
    return resp_json(rq, 200, views_links(rq, db_get(r, 0, 1), views_clip_links, keys, 2));
}

/* The row first (one transaction, which also cancels a job still running), the files
 * after it committed. */
static rv_err drop(rv_req *rq, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_clip, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such clip");
    for (int i = 1; i <= 2; i++)
        if (db_get(r, 0, i) && store_delete(rq->a, db_get(r, 0, i)) != RV_OK)
            log_msg(LOG_WARN, "clip %s: a file could not be removed", id);
    return resp_empty(rq, 204);
}

static rv_err clip(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such clip");
    if (rq->method_bit == RV_PATCH)
        return update(rq, id);
    return rq->method_bit == RV_DELETE ? drop(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "clip",
    .route = "/api/clips/{id}",
    .methods = RV_GET | RV_PATCH | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 4 * 1024,
    .handle = clip,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
