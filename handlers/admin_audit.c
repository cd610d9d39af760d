/* GET /api/admin/audit?page&limit — admin.
 *
 * 200 {items: [{id, actorId?, actorEmail?, action, target, old, new, createdAt}],
 * pagination}, newest first. actorId is absent for changes made with scripts/rvctl.
 * 400 (page, limit), 401, 403, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt audit_page = {
    "SELECT (SELECT count(*) FROM audit_log),"
    "       COALESCE((SELECT json_agg(json_strip_nulls(json_build_object("
    "                   'id', a.id, 'actorId', a.actor_id, 'actorEmail', u.email,"
    "                   'action', a.action, 'target', a.target, 'old', a.old_value,"
    "                   'new', a.new_value, 'createdAt', rv_ts(a.created_at)))"
    "                   ORDER BY a.created_at DESC, a.id DESC)"
    "                   FROM (SELECT * FROM audit_log ORDER BY created_at DESC, id DESC"
    "                          LIMIT $1 OFFSET $2) a LEFT JOIN users u ON u.id = a.actor_id),"
    "                '[]')",
    2};

static rv_err admin_audit(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &audit_page, p, &r)) != RV_OK)
        return er;
    return resp_list(rq, page, limit, db_get_long(r, 0, 0), db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "admin_audit",
    .route = "/api/admin/audit",
    .methods = RV_GET,
    .flags = RV_ADMIN,
    .body_limit = 0,
    .handle = admin_audit,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
