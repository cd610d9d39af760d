/* GET /api/admin/config — admin.
 *
 * 200 {items: [{key, value, updatedAt}]}, every admin_config row by key.
 * 401, 403 forbidden (not an admin), 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt all_config = {
    "SELECT json_build_object('items', COALESCE(json_agg(json_build_object("
    "         'key', key, 'value', value, 'updatedAt', rv_ts(updated_at)) ORDER BY key), '[]'))"
    "  FROM admin_config",
    0};

static rv_err admin_configs(rv_req *rq)
{
    PGresult *r;
    rv_err er = db_query(rq, &all_config, NULL, &r);
    return er != RV_OK ? er : resp_json(rq, 200, db_get(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "admin_configs",
    .route = "/api/admin/config",
    .methods = RV_GET,
    .flags = RV_ADMIN,
    .body_limit = 0,
    .handle = admin_configs,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
