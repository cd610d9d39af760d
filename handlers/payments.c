/* GET /api/payments?page&limit — authenticated. The caller's own payments.
 *
 * 200 {items: [{id, packId, credits, amountCents, currency, status
 * (pending|paid|failed|expired|refunded|disputed), createdAt, paidAt?}], pagination},
 * newest first. 400 (page/limit), 401, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt payments_page = {
    "SELECT (SELECT count(*) FROM payments WHERE user_id = $1),"
    "       COALESCE((SELECT json_agg(rv_payment_json(p) ORDER BY p.created_at DESC, p.id DESC)"
    "                 FROM (SELECT * FROM payments WHERE user_id = $1"
    "                        ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3) p), '[]')",
    3};

static rv_err payments(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {rq->user_id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &payments_page, p, &r)) != RV_OK)
        return er;
    return resp_list(rq, page, limit, db_get_long(r, 0, 0), db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "payments",
    .route = "/api/payments",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = payments,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
