/* GET|DELETE /api/voices/{id} — authenticated.
 *
 * GET → 200 voice: a preset or one of the caller's own (admins see all).
 * DELETE → 204: removes one of the caller's voices (admins: anyone's). A clone still
 * running is cancelled first and refunded (the poller stops the provider's work),
 * so deleting never waits on a provider. Its sample and preview audio go with it —
 * rows and files — unless another row still uses them (another voice, a project, a
 * job that has not ended). Presets: 403 forbidden.
 * Both: 404 for an unknown id or someone else's voice; 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "views.h"

static const db_stmt get_voice = {
    "SELECT rv_voice_json(v), a.storage_key FROM voices v"
    "  LEFT JOIN audios a ON a.id = v.preview_audio_id"
    " WHERE v.id = $1 AND (v.user_id IS NULL OR v.user_id = $2 OR $3 = 'admin')",
    3};
static const db_stmt delete_voice = {
    "SELECT status, k FROM rv_voice_delete($2, $1) LEFT JOIN LATERAL unnest(keys) k ON true", 2};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_voice, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    return resp_json(rq, 200, views_voice(rq, db_get(r, 0, 0), db_get(r, 0, 1)));
}

static rv_err remove_voice(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_voice, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = PQntuples(r) ? db_get(r, 0, 0) : NULL;
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    if (!strcmp(status, "forbidden"))
        return req_fail(rq, RV_E_FORBIDDEN, "preset voices cannot be deleted");
    /* Committed: the rows are gone, now their files. A file left behind by a
     * failure here is an orphan, never a row pointing at nothing. */
    for (int i = 0; i < PQntuples(r); i++)
        if (db_get(r, i, 1) && store_delete(rq->a, db_get(r, i, 1)) != RV_OK)
            log_msg(LOG_WARN, "voice %s: could not remove a file", id);
    return resp_empty(rq, 204);
}

static rv_err voice(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    return rq->method_bit == RV_DELETE ? remove_voice(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "voice",
    .route = "/api/voices/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = voice,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
