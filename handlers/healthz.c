/* GET /healthz — public.
 *
 * 200 {"status":"ok","db":"ok"} when the database answers; 503 unavailable when it
 * does not. Used by scripts/up, load balancers and systemd. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static rv_err healthz(rv_req *rq)
{
    if (!db_ping(rq))
        return req_fail(rq, RV_E_UNAVAILABLE, "the database is unreachable");
    return resp_json(rq, 200, "{\"status\":\"ok\",\"db\":\"ok\"}");
}

static const rv_endpoint endpoint = {
    .name = "healthz",
    .route = "/healthz",
    .methods = RV_GET,
    .flags = RV_NO_SECRET,
    .body_limit = 0,
    .handle = healthz,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
