/* GET|DELETE /api/images/{id} — authenticated.
 *
 * GET → 200 image {id, filename, contentType, width, height, bytes, projectId?,
 * source, url, thumbnailUrl, createdAt}, links signed for one hour.
 * DELETE → 204: the row goes, then its files. 409 invalid_state while a clip that
 * has not ended (queued or running) is made from it; finished clips keep their video.
 * 404 for an unknown id or someone else's image (admins see all). 401, 405, 503. */
#include <string.h>

#include "db.h"
#include "log.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "views.h"

static const db_stmt get_image = {
    "SELECT rv_image_json(i), i.storage_key, i.thumb_key FROM images i"
    " WHERE i.id = $1 AND (i.user_id = $2 OR $3 = 'admin')",
    3};
static const db_stmt delete_image = {"SELECT status, keys[1], keys[2] FROM rv_image_delete($1)", 1};

static const views_link links[] = {{NULL, "url"}, {NULL, "thumbnailUrl"}};

static rv_err show(rv_req *rq, const char *id)
{
    const char *p[] = {id, rq->user_id, rq->role};
    PGresult *r;
    rv_err er = db_query(rq, &get_image, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return req_fail(rq, RV_E_NOT_FOUND, "no such image");
    const char *keys[] = {db_get(r, 0, 1), db_get(r, 0, 2)};
    return resp_json(rq, 200, views_links(rq, db_get(r, 0, 0), links, keys, 2));
}

/* The row first (one transaction), the files after it committed: a failure in
 * between leaves unreferenced files, never a row without its files. */
static rv_err drop(rv_req *rq, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    rv_err er = db_query(rq, &delete_image, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!status || !strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such image");
    if (!strcmp(status, "in_use"))
        return req_fail(rq, RV_E_INVALID_STATE,
                        "a clip that has not finished is being made from this image");
    for (int i = 1; i <= 2; i++)
        if (store_delete(rq->a, db_get(r, 0, i)) != RV_OK)
            log_msg(LOG_WARN, "image %s: a file could not be removed", id);
    return resp_empty(rq, 204);
}

static rv_err image(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such image");
    return rq->method_bit == RV_DELETE ? drop(rq, id) : show(rq, id);
}

static const rv_endpoint endpoint = {
    .name = "image",
    .route = "/api/images/{id}",
    .methods = RV_GET | RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = image,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
