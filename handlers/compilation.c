/* GET|DELETE /api/compilations/{id} — authenticated.
 *
 * GET → 200 compilation (see compilations.c), with signed `url` and `posterUrl`
 * (one hour; the video seeks with Range) once its job succeeded.
 * DELETE → 204: a job that has not ended is cancelled and refunded, the row goes,
 * then the video and poster files.
 * 404 for an unknown id or someone else's compilation (admins see all). 401, 405,
 * 503. */
#include <string.h>

#include "compile.h"
#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"

static const db_stmt get_compilation = {
    "SELECT rv_compilation_json(c, j), c.video_key, c.poster_key"
    "  FROM compilations c JOIN jobs j ON j.id = c.job_id"
    " WHERE c.id = $1 AND (c.user_id = $2 OR $3 = 'admin')",
    3};
static const db_stmt delete_compilation = {
    "SELECT status, video_key, poster_key FROM rv_compilation_delete($1)", 1};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_compilation, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such compilation");
    return resp_json(rq, 200, compile_view(rq, db_get(r, 0, 0), db_get(r, 0, 1), db_get(r, 0, 2)));
}

/* The row first (one transaction), the files after it committed. */
static rv_err drop(rv_req *rq, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_compilation, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || strcmp(status, "ok"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such compilation");
    for (int k = 1; k <= 2; k++)
        if (db_get(r, 0, k) && store_delete(rq->a, db_get(r, 0, k)) != RV_OK)
            log_msg(LOG_WARN, "compilation %s: a file could not be removed", id);
    return resp_empty(rq, 204);
}

static rv_err compilation(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such compilation");
    return rq->method_bit == RV_DELETE ? drop(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "compilation",
    .route = "/api/compilations/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = compilation,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
