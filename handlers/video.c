/* GET|DELETE /api/videos/{id} — authenticated.
 *
 * GET → 200 video (the caller's; admins see all), with signed links to its images,
 * its rendered MP4 (url) and poster (posterUrl).
 * DELETE → 204: the video goes; a step still running is cancelled first (refunded,
 * or for a chain the hold of its steps not done released), its rendered MP4 and
 * poster are removed after the commit (its images and narration stay in the
 * caller's images and audios).
 * Both: 404 for an unknown id or someone else's video; 401, 405, 503. */
#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "videos.h"

static const db_stmt get_video = {
    "SELECT rv_video_json(v) FROM videos v WHERE v.id = $1 AND (v.user_id = $2 OR $3 = 'admin')",
    3};
static const db_stmt delete_video = {
    "SELECT ok, k FROM rv_video_delete($1) LEFT JOIN LATERAL unnest(keys) k ON true", 1};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_video, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    return resp_json(rq, 200, videos_view(rq, db_get(r, 0, 0)));
}

static rv_err remove_video(rv_req *rq, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_video, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) < 1 || db_get(r, 0, 0)[0] != 't')
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    /* Committed: the row is gone, now its files (an orphan at worst, never a row
     * pointing at nothing). */
    for (int i = 0; i < PQntuples(r); i++)
        if (db_get(r, i, 1) && store_delete(rq->a, db_get(r, i, 1)) != RV_OK)
            log_msg(LOG_WARN, "video %s: could not remove a file", id);
    return resp_empty(rq, 204);
}

static rv_err video(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    return rq->method_bit == RV_DELETE ? remove_video(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "video",
    .route = "/api/videos/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = video,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
