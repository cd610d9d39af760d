/* POST /api/projects/{id}/estimate — authenticated; header Idempotency-Key?.
 *
 * 202 job (kind estimate) + Location: the project goes to estimating, then ready
 * with its estimate, or back to draft (the job failed and refunded; the project's
 * estimateError says why). Cost: job_costs.estimate. The owner only (the assigned
 * expert or an admin: 403), a draft only (409 invalid_state). 400, 401, 402, 404,
 * 405, 409 idempotency_conflict, 429, 503 provider_unavailable | unavailable. */
#include "projects.h"
#include "serve.h"

static rv_err project_estimate(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    return projects_estimate(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "project_estimate",
    .route = "/api/projects/{id}/estimate",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 1024,
    .handle = project_estimate,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
