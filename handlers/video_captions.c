/* GET /api/videos/{id}/captions.vtt — authenticated. The video's captions as
 * WebVTT (text/vtt): once narrated, a cue per few words with the speech engine's
 * word timings (spread by characters where the engine gave none), else a cue per
 * section; before narration, only the header. 404 for an unknown id or someone
 * else's video; 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "resp.h"
#include "serve.h"
#include "videos.h"

static const db_stmt get_video = {
    "SELECT rv_video_json(v) FROM videos v WHERE v.id = $1 AND (v.user_id = $2 OR $3 = 'admin')",
    3};

static rv_err captions(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_video, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    json_object *v = req_keep(rq, json_tokener_parse(db_get(r, 0, 0)));
    if (!v)
        return RV_E_INTERNAL;
    const char *vtt = videos_vtt(rq->a, v);
    return resp_text(rq, 200, "text/vtt; charset=utf-8", vtt, strlen(vtt));
}

static const rv_endpoint endpoint = {
    .name = "video_captions",
    .route = "/api/videos/{id}/captions.vtt",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = captions,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
