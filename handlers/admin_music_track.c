/* DELETE /api/admin/music-tracks/{id} — admins. Removes a music track.
 *
 * → 204: the row goes, then its file (compilations made with it keep their
 * video). 409 invalid_state while a compilation that has not ended plays it.
 * 404 for an unknown id; 403 forbidden for anyone but an admin (role from the
 * token; checked again in SQL); 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"

static const db_stmt delete_track = {"SELECT status, storage_key FROM rv_music_track_delete($1)",
                                     1};

static rv_err drop(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such music track");
    const char *p[] = {id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_track, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such music track");
    if (!strcmp(status, "forbidden"))
        return req_fail(rq, RV_E_FORBIDDEN, "only admins remove music tracks");
    if (!strcmp(status, "in_use"))
        return req_fail(rq, RV_E_INVALID_STATE,
                        "a compilation that has not finished plays this track");
    /* After the commit: a failure here leaves an unreferenced file, never a row
     * without its file. */
    if (store_delete(rq->a, db_get(r, 0, 1)) != RV_OK)
        log_msg(LOG_WARN, "music track %s: its file could not be removed", id);
    return resp_empty(rq, 204);
}

static const rv_endpoint endpoint = {
    .name = "admin_music_track",
    .route = "/api/admin/music-tracks/{id}",
    .methods = RV_DELETE,
    .flags = RV_ADMIN,
    .body_limit = 0,
    .handle = drop,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
