/* GET|DELETE /api/batches/{id} — authenticated.
 *
 * GET → 200 batch {id, status (running|done|cancelled), progress (steps done of
 * all), heldCredits, spentCredits, releasedCredits, videos: [video], createdAt}.
 * DELETE → 200 batch cancelled: every step still running is cancelled (its
 * provider work stopped by the poller), every chain stopped, and what was held and
 * not spent goes back (batch_release). Videos already rendered stay.
 * Both: 404 for an unknown id or someone else's batch; 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "resp.h"
#include "serve.h"
#include "videos.h"

static const db_stmt get_batch = {
    "SELECT rv_batch_json(b) FROM batches b WHERE b.id = $1 AND (b.user_id = $2 OR $3 = 'admin')",
    3};
static const db_stmt cancel_batch = {"SELECT status, batch_json FROM rv_batch_cancel($1)", 1};

static rv_err batch(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such batch");
    PGresult *r;
    rv_err er;
    if (rq->method_bit == RV_DELETE) {
        const char *p[] = {id};
        if ((er = db_query(rq, &cancel_batch, p, &r)) != RV_OK)
            return er;
        if (PQntuples(r) != 1 || strcmp(db_get(r, 0, 0), "ok"))
            return req_fail(rq, RV_E_NOT_FOUND, "no such batch");
        return resp_json(rq, 200, videos_view_batch(rq, db_get(r, 0, 1)));
    }
    const char *p[] = {id, rq->user_id, rq->role};
    if ((er = db_query(rq, &get_batch, p, &r)) != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such batch");
    return resp_json(rq, 200, videos_view_batch(rq, db_get(r, 0, 0)));
}

static const rv_endpoint endpoint = {
    .name = "batch",
    .route = "/api/batches/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = batch,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
