/* GET /api/jobs?kind&status&page&limit — authenticated. The generation history.
 *
 * 200 {items: [job], pagination}, newest first; a succeeded job's result carries a
 * signed url. 400 (unknown kind or status, page/limit), 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "jobs.h"
#include "views.h"
#include "resp.h"
#include "serve.h"

static const db_stmt list_jobs = {
    "WITH f AS (SELECT * FROM jobs WHERE user_id = $1"
    "             AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR status = $3))"
    "SELECT t.total, x.job_json, x.storage_key, x.poster_key"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT rv_job_json(f) AS job_json,"
    "                            COALESCE(a.storage_key, c.video_key, f.output ->> 'videoKey')"
    "                              AS storage_key,"
    "                            COALESCE(c.poster_key, f.output ->> 'posterKey') AS poster_key,"
    "                            f.created_at, f.id"
    "                       FROM f LEFT JOIN audios a ON a.job_id = f.id"
    "                       LEFT JOIN clips c ON c.job_id = f.id"
    "                      ORDER BY f.created_at DESC, f.id DESC LIMIT $4 OFFSET $5) x ON true"
    " ORDER BY x.created_at DESC, x.id DESC",
    5};

static rv_err list(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    const char *kind = req_query(rq, "kind"), *status = req_query(rq, "status");
    if (kind && !jobs_kind_known(kind))
        er = req_field_error(rq, "kind", "is not a job kind");
    if (status && !jobs_status_known(status))
        er = req_field_error(rq, "status", "is not a job status");
    if (er != RV_OK)
        return er;
    const char *p[] = {rq->user_id, kind, status, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &list_jobs, p, &r)) != RV_OK)
        return er;

    return views_list_links(rq, r, 1, 2, views_job_links, 2, page, limit, db_get_long(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "jobs",
    .route = "/api/jobs",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = list,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
