/* GET|DELETE /api/audios/{id} — authenticated.
 *
 * GET → 200 audio {id, filename, contentType, bytes, durationMs, source, url,
 * createdAt} with a signed url valid for one hour.
 * DELETE → 204: the row goes, then its file. 409 invalid_state while something
 * still needs the audio: a voice's sample or preview, or a job that has not ended
 * (a conversion's source, a cloning's sample).
 * 404 for an unknown id or someone else's audio (admins see all). 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "views.h"

static const db_stmt get_audio = {"SELECT rv_audio_json(a), a.storage_key FROM audios a"
                                  " WHERE a.id = $1 AND (a.user_id = $2 OR $3 = 'admin')",
                                  3};
static const db_stmt delete_audio = {"SELECT status, storage_key FROM rv_audio_delete($1)", 1};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_audio, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    return resp_json(rq, 200, views_audio(rq, db_get(r, 0, 0), db_get(r, 0, 1)));
}

/* The row first (one transaction), the file after it committed: a failure in
 * between leaves an unreferenced file, never a row without its file. */
static rv_err drop(rv_req *rq, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_audio, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    if (!strcmp(status, "in_use"))
        return req_fail(rq, RV_E_INVALID_STATE,
                        "the audio is still used by a voice or by a job that has not ended");
    if (store_delete(rq->a, db_get(r, 0, 1)) != RV_OK)
        log_msg(LOG_WARN, "audio %s: its file could not be removed", id);
    return resp_empty(rq, 204);
}

static rv_err audio(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    return rq->method_bit == RV_DELETE ? drop(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "audio",
    .route = "/api/audios/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = audio,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
