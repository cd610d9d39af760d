/* GET /api/version — public.
 *
 * 200 {"name":"reelvox","version":"…"}. Touches no database: it is also the
 * FastCGI ceiling that `make bench` compares the other endpoints with. */
#include "resp.h"
#include "serve.h"

#ifndef RV_VERSION
#define RV_VERSION "0.1.0"
#endif

static rv_err version(rv_req *rq)
{
    return resp_json(rq, 200, "{\"name\":\"reelvox\",\"version\":\"" RV_VERSION "\"}");
}

static const rv_endpoint endpoint = {
    .name = "version",
    .route = "/api/version",
    .methods = RV_GET,
    .flags = RV_NO_SECRET,
    .body_limit = 0,
    .handle = version,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
