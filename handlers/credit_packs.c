/* GET /api/credit-packs — public. The packs on sale (admin_config.credit_packs).
 *
 * 200 {items: [{id, name, credits, priceCents, currency}]}, in the configured order;
 * an entry of the wrong shape is left out. 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt packs = {
    "SELECT COALESCE(json_agg(json_build_object('id', id, 'name', name, 'credits', credits,"
    "                  'priceCents', price_cents, 'currency', currency)), '[]')"
    "  FROM rv_credit_packs()",
    0};

static rv_err credit_packs(rv_req *rq)
{
    PGresult *r;
    rv_err er = db_query(rq, &packs, NULL, &r);
    if (er != RV_OK)
        return er;
    return resp_json(rq, 200, arena_printf(rq->a, "{\"items\":%s}", db_get(r, 0, 0)));
}

static const rv_endpoint endpoint = {
    .name = "credit_packs",
    .route = "/api/credit-packs",
    .methods = RV_GET,
    .flags = 0,
    .body_limit = 0,
    .handle = credit_packs,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
