/* GET /api/admin/stats — admin.
 *
 * 200 {users: {total, verified, disabled, newToday, byRole}, activeUsersToday,
 * jobsLast24h: {kind: {status: n}}, providers: [{provider, jobs, failed,
 * errorRate}] (last 24 h), credits: {soldLast24h, spentLast24h, soldTotal,
 * spentTotal, balanceTotal}, queue: {depth, oldestQueuedSeconds}, mail: {pending,
 * failed}, generatedAt}. 401, 403, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt stats = {"SELECT rv_admin_stats()", 0};

static rv_err admin_stats(rv_req *rq)
{
    PGresult *r;
    rv_err er = db_query(rq, &stats, NULL, &r);
    return er != RV_OK ? er : resp_json(rq, 200, db_get(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "admin_stats",
    .route = "/api/admin/stats",
    .methods = RV_GET,
    .flags = RV_ADMIN,
    .body_limit = 0,
    .handle = admin_stats,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
