/* GET /api/voices/{id} — authenticated.
 *
 * 200 voice: a preset or one of the caller's own (admins see all); 404 otherwise.
 * 401, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "views.h"

static const db_stmt get_voice = {
    "SELECT rv_voice_json(v), a.storage_key FROM voices v"
    "  LEFT JOIN audios a ON a.id = v.preview_audio_id"
    " WHERE v.id = $1 AND (v.user_id IS NULL OR v.user_id = $2 OR $3 = 'admin')",
    3};

static rv_err voice(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_voice, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    return resp_json(rq, 200, views_voice(rq, db_get(r, 0, 0), db_get(r, 0, 1)));
}

static const rv_endpoint endpoint = {
    .name = "voice", .route = "/api/voices/{id}", .methods = RV_GET, .flags = RV_AUTH,
    .body_limit = 0, .handle = voice,
};

int main(int argc, char **argv) { return serve_main(&endpoint, argc, argv); }
