/* GET /api/admin/users?q&role&page&limit — admin.
 *
 * 200 {items: [user + {disabled, disabledAt?, updatedAt}], pagination}, newest
 * first. q (1..254 characters): a part of the email or name, any case; role:
 * user|expert|admin. 400 (q, role, page, limit), 401, 403, 405, 503. */
#include <string.h>

#include "db.h"
#include "resp.h"
#include "serve.h"

/* $1 q as a LIKE pattern (NULL: any), $2 role (NULL: any), $3 limit, $4 offset. */
static const db_stmt users_page = {
    "WITH m AS (SELECT * FROM users"
    "            WHERE ($1::text IS NULL OR email ILIKE $1 OR name ILIKE $1)"
    "              AND ($2::text IS NULL OR role = $2))"
    "SELECT (SELECT count(*) FROM m),"
    "       COALESCE((SELECT json_agg(rv_admin_user_json(x) ORDER BY x.created_at DESC, x.id)"
    "                   FROM (SELECT * FROM m ORDER BY created_at DESC, id LIMIT $3 OFFSET $4) x),"
    "                '[]')",
    4};

/* q as a LIKE pattern matching it anywhere, its own % _ and \ taken literally. */
static const char *like_pattern(rv_req *rq, const char *q)
{
    size_t n = strlen(q);
    char *out = arena_alloc(rq->a, 2 * n + 3), *o = out;
    *o++ = '%';
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            *o++ = '\\';
        *o++ = *p;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

static rv_err admin_users(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    const char *q = req_query(rq, "q"), *role = req_query(rq, "role");
    if (q && (strlen(q) < 1 || strlen(q) > 254))
        er = req_field_error(rq, "q", "must be 1 to 254 characters");
    if (role && strcmp(role, "user") && strcmp(role, "expert") && strcmp(role, "admin"))
        er = req_field_error(rq, "role", "must be user, expert or admin");
    if (er != RV_OK)
        return er;
    const char *p[] = {q ? like_pattern(rq, q) : NULL, role, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &users_page, p, &r)) != RV_OK)
        return er;
    return resp_list(rq, page, limit, db_get_long(r, 0, 0), db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "admin_users",
    .route = "/api/admin/users",
    .methods = RV_GET,
    .flags = RV_ADMIN,
    .body_limit = 0,
    .handle = admin_users,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
