/* GET|DELETE /api/jobs/{id} — authenticated.
 *
 * GET → 200 job (a succeeded job's result carries a signed url; a clip's a posterUrl too).
 * DELETE → 200 job, cancelled and refunded (the poller then stops the provider's
 * work); 409 invalid_state if the job already ended. 404 for an unknown id or
 * someone else's job (admins see all). 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "views.h"
#include "resp.h"
#include "serve.h"

static const db_stmt get_job = {
    "SELECT rv_job_json(j), COALESCE(a.storage_key, c.video_key, j.output ->> 'videoKey'),"
    "       COALESCE(c.poster_key, j.output ->> 'posterKey')"
    "  FROM jobs j LEFT JOIN audios a ON a.job_id = j.id LEFT JOIN clips c ON c.job_id = j.id"
    " WHERE j.id = $1 AND (j.user_id = $2 OR $3 = 'admin')",
    3};
static const db_stmt cancel_job = {"SELECT status, job_json FROM rv_job_cancel($2, $1)", 2};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_job, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    const char *keys[] = {db_get(r, 0, 1), db_get(r, 0, 2)};
    return resp_json(rq, 200, views_links(rq, db_get(r, 0, 0), views_job_links, keys, 2));
}

static rv_err cancel(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id};
    PGresult *r;
    rv_err er = db_query(rq, &cancel_job, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    if (!strcmp(status, "invalid_state"))
        return req_fail(rq, RV_E_INVALID_STATE, "the job has already ended");
    return resp_json(rq, 200, db_get(r, 0, 1));
}

static rv_err job(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    return rq->method_bit == RV_DELETE ? cancel(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "job",
    .route = "/api/jobs/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = job,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
