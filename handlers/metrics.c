/* GET /metrics — public on loopback only (nginx allows 127.0.0.1 and ::1 alone).
 *
 * 200 text/plain; version=0.0.4: the Prometheus text exposition of this host's
 * shared counters (requests by endpoint and status with their latency, provider
 * calls, poller passes: metrics.h) and of the database's figures (jobs by kind,
 * status and provider, the queue, the webhook inbox, credits, poller heartbeats:
 * ops.h). 503 unavailable when the database does not answer. */
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "ops.h"
#include "resp.h"
#include "serve.h"

static rv_err metrics(rv_req *rq)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        abort(); /* out of memory */
    metrics_render(out);
    rv_err er = ops_db_metrics(rq, out);
    fclose(out);
    arena_defer(rq->a, free, text);
    if (er != RV_OK)
        return er;
    return resp_text(rq, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static const rv_endpoint endpoint = {
    .name = "metrics",
    .route = "/metrics",
    .methods = RV_GET,
    .flags = RV_NO_SECRET,
    .body_limit = 0,
    .handle = metrics,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
