/* GET /api/credits?page&limit — authenticated.
 *
 * 200 {balance, items: [{id, delta, kind, reason, jobId?, paymentId?, createdAt}],
 * pagination}, newest first. 400 (page/limit), 401, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt ledger_page = {
    "SELECT (SELECT credits FROM users WHERE id = $1),"
    "       (SELECT count(*) FROM credit_ledger WHERE user_id = $1),"
    "       COALESCE((SELECT json_agg(json_strip_nulls(json_build_object("
    "                  'id', l.id, 'delta', l.delta, 'kind', l.kind, 'reason', l.reason,"
    "                  'jobId', l.job_id, 'paymentId', l.payment_id,"
    "                  'createdAt', rv_ts(l.created_at))) ORDER BY l.created_at DESC, l.id DESC)"
    "                 FROM (SELECT * FROM credit_ledger WHERE user_id = $1"
    "                        ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3) l), '[]')",
    3};

static rv_err credits(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {rq->user_id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &ledger_page, p, &r)) != RV_OK)
        return er;
    if (!db_get(r, 0, 0))
        return req_fail(rq, RV_E_NOT_FOUND, "the account no longer exists");
    json_object *pg = req_keep(rq, resp_pagination(page, limit, db_get_long(r, 0, 1)));
    return resp_json(rq, 200,
                     arena_printf(rq->a, "{\"balance\":%s,\"items\":%s,\"pagination\":%s}",
                                  db_get(r, 0, 0), db_get(r, 0, 2),
                                  json_object_to_json_string_ext(pg, JSON_C_TO_STRING_PLAIN)));
}

static const rv_endpoint endpoint = {
    .name = "credits",
    .route = "/api/credits",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = credits,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
