/* GET /api/audios/{id} — authenticated.
 *
 * 200 audio {id, filename, contentType, bytes, durationMs, source, url, createdAt}
 * with a signed url valid for one hour. 404 for an unknown id or someone else's
 * audio (admins see all). 401, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "views.h"

static const db_stmt get_audio = {
    "SELECT rv_audio_json(a), a.storage_key FROM audios a"
    " WHERE a.id = $1 AND (a.user_id = $2 OR $3 = 'admin')",
    3};

static rv_err audio(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_audio, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    return resp_json(rq, 200, views_audio(rq, db_get(r, 0, 0), db_get(r, 0, 1)));
}

static const rv_endpoint endpoint = {
    .name = "audio", .route = "/api/audios/{id}", .methods = RV_GET, .flags = RV_AUTH,
    .body_limit = 0, .handle = audio,
};

int main(int argc, char **argv) { return serve_main(&endpoint, argc, argv); }
