/* DELETE /api/api-keys/{id} — authenticated. Removes one of the caller's own
 * provider keys: 204. Their jobs already queued on it fail with
 * provider_key_rejected; new ones use the service's key and price. 401, 404 (no such
 * key, or another user's), 405, 503. */
#include <string.h>

#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt remove_key = {"SELECT rv_api_key_delete($1)", 1};

static rv_err api_key(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such key");
    PGresult *r;
    rv_err er = db_query(rq, &remove_key, (const char *[]){id}, &r);
    if (er != RV_OK)
        return er;
    if (strcmp(db_get(r, 0, 0), "t"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such key");
    return resp_empty(rq, 204);
}

static const rv_endpoint endpoint = {
    .name = "api_key",
    .route = "/api/api-keys/{id}",
    .methods = RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = api_key,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
