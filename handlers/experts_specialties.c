/* GET /api/experts/specialties — public.
 *
 * 200 {items: [specialty]}: admin_config.expert_specialties, the list expert
 * profiles choose from. 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt list = {
    "SELECT json_build_object('items', COALESCE((SELECT value FROM admin_config"
    "  WHERE key = 'expert_specialties' AND jsonb_typeof(value) = 'array'), '[]'))",
    0};

static rv_err experts_specialties(rv_req *rq)
{
    PGresult *r;
    rv_err er = db_query(rq, &list, NULL, &r);
    if (er != RV_OK)
        return er;
    return resp_json(rq, 200, db_get(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "experts_specialties",
    .route = "/api/experts/specialties",
    .methods = RV_GET,
    .flags = 0,
    .body_limit = 0,
    .handle = experts_specialties,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
