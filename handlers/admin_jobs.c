/* GET /api/admin/jobs?status&kind&provider&userId&page&limit — admin.
 *
 * 200 {items: [job + {userId, attempts}], pagination}, newest first, every user's
 * jobs. Filters: status (queued|dispatching|running|succeeded|failed|cancelled),
 * kind (a job kind), provider (1..64 characters), userId (a UUID). 400 (a bad filter, page,
 * limit), 401, 403, 405, 503. */
#include <string.h>

#include "db.h"
#include "jobs.h"
#include "resp.h"
#include "serve.h"

static const db_stmt jobs_page = {
    "WITH m AS (SELECT * FROM jobs"
    "            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)"
    "              AND ($3::text IS NULL OR provider = $3) AND ($4::uuid IS NULL OR user_id = $4))"
    "SELECT (SELECT count(*) FROM m),"
    "       COALESCE((SELECT json_agg(rv_job_json(x)::jsonb || jsonb_build_object("
    "                          'userId', x.user_id, 'attempts', x.attempts)"
    "                          ORDER BY x.created_at DESC, x.id)"
    "                   FROM (SELECT * FROM m ORDER BY created_at DESC, id LIMIT $5 OFFSET $6) x),"
    "                '[]')",
    6};

static rv_err admin_jobs(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    const char *status = req_query(rq, "status"), *kind = req_query(rq, "kind");
    const char *provider = req_query(rq, "provider"), *user = req_query(rq, "userId");
    if (status && !jobs_status_known(status))
        er = req_field_error(rq, "status", "must be a job status");
    if (kind && !jobs_kind_known(kind))
        er = req_field_error(rq, "kind", "is not a job kind");
    if (provider && (strlen(provider) < 1 || strlen(provider) > 64))
        er = req_field_error(rq, "provider", "must be 1 to 64 characters");
    if (user && !req_is_uuid(user))
        er = req_field_error(rq, "userId", "must be a UUID");
    if (er != RV_OK)
        return er;
    const char *p[] = {status,
                       kind,
                       provider,
                       user,
                       arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &jobs_page, p, &r)) != RV_OK)
        return er;
    return resp_list(rq, page, limit, db_get_long(r, 0, 0), db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "admin_jobs",
    .route = "/api/admin/jobs",
    .methods = RV_GET,
    .flags = RV_ADMIN,
    .body_limit = 0,
    .handle = admin_jobs,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
