/* GET|POST /api/images — authenticated. The caller's images (inputs for clips and
 * explainers).
 *
 * GET ?projectId&page&limit → 200 {items: [image], pagination}, newest first, each
 * with signed url and thumbnailUrl. 400 (page/limit, projectId not a UUID).
 *
 * POST ?filename=NAME&projectId=ID? with the raw image as body; Content-Type
 * image/jpeg, image/png or image/webp. nginx writes the body to a file (at most
 * 10 MiB, else its own 413 problem); the serve loop removes it after the request.
 * The content decides the type (image.h): a PNG sent as image/jpeg is the PNG it is.
 * The image is decoded (at most 40 megapixels, checked from its header before any
 * pixel is decoded), turned upright by its EXIF orientation and stored re-encoded
 * without any metadata (JPEG and WebP as JPEG, PNG as PNG) with a JPEG thumbnail of
 * at most 320 px. → 201 image + Location:
 * {id, filename, contentType, width, height, bytes, projectId?, source, url,
 *  thumbnailUrl, createdAt}.
 * 400 filename (see upload.h) or projectId; 404 a project that is not the caller's;
 * 413 over 10 MiB; 415 a Content-Type outside the list, or content that is none of
 * jpeg, png, webp (a GIF too); 422 an empty body, more than 40 megapixels, or
 * content that does not decode (truncated, damaged, animated).
 * nginx asks auth_check for the token before it reads a byte of the body.
 * 401, 405, 429 (nginx: uploads per address), 500, 503. Uploads cost no credits. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "db.h"
#include "filereg.h"
#include "image.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "upload.h"
#include "views.h"

static const db_stmt list_images = {
    "WITH f AS (SELECT * FROM images WHERE user_id = $1"
    "             AND ($4::uuid IS NULL OR project_id = $4::uuid))"
    "SELECT t.total, x.image_json, x.storage_key, x.thumb_key"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT rv_image_json(f) AS image_json, f.storage_key, f.thumb_key,"
    "                            f.created_at, f.id FROM f"
    "                      ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3) x ON true"
    " ORDER BY x.created_at DESC, x.id DESC",
    4};
static const db_stmt insert_image = {
    "SELECT status, image_json, image_id FROM rv_image_upload($1, $2, $3, $4, $5, $6, $7, $8)", 8};

static const views_link links[] = {{NULL, "url"}, {NULL, "thumbnailUrl"}};

/* The optional ?projectId: NULL when absent; false (a 400 set) when not a UUID. */
static bool project_param(rv_req *rq, const char **out)
{
    const char *p = req_query(rq, "projectId");
    *out = p && *p ? p : NULL;
    return !*out || req_is_uuid(*out);
}

static rv_err list(rv_req *rq)
{
    const char *project;
    if (!project_param(rq, &project))
        return req_field_error(rq, "projectId", "must be a UUID");
    return views_page_links(rq, &list_images, project, links, 2);
}

static bool content_type_ok(const char *ct)
{
    static const char *const types[] = {"image/jpeg", "image/png", "image/webp"};
    for (size_t i = 0; ct && i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if (!strncasecmp(ct, types[i], n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return true;
    }
    return false;
}

/* The upload nginx wrote, whole (the serve loop held it to the body limit). */
static unsigned char *read_body(rv_req *rq, size_t *n)
{
    FILE *f = fopen(rq->body_file, "rbe");
    if (!f)
        return NULL;
    unsigned char *buf = arena_alloc(rq->a, rq->body_len + 1);
    *n = fread(buf, 1, rq->body_len, f);
    fclose(f);
    return *n == rq->body_len ? buf : NULL;
}

static const struct {
    rv_err er;
    const char *detail;
} refusals[] = {
    [IMAGE_UNSUPPORTED] = {RV_E_UNSUPPORTED_MEDIA, "the content is not a jpeg, png or webp image"},
    [IMAGE_TOO_LARGE] = {RV_E_UNPROCESSABLE, "the image has more than 40 megapixels"},
    [IMAGE_UNDECODABLE] = {RV_E_UNPROCESSABLE, "the image does not decode"},
};

static rv_err upload(rv_req *rq)
{
    if (!content_type_ok(rq->content_type))
        return req_fail(rq, RV_E_UNSUPPORTED_MEDIA,
                        "send the image as image/jpeg, image/png or "
                        "image/webp");
    const char *name = NULL, *project;
    const char *why = upload_filename(rq->a, req_query(rq, "filename"), &name);
    if (why)
        return req_field_error(rq, "filename", why);
    if (!project_param(rq, &project))
        return req_field_error(rq, "projectId", "must be a UUID");
    if (!rq->body_file || rq->body_len == 0)
        return req_fail(rq, RV_E_UNPROCESSABLE, "the body is empty");
    size_t n;
    const unsigned char *buf = read_body(rq, &n);
    if (!buf)
        return RV_E_INTERNAL;

    /* Made in work files, registered, stored, then recorded: a failed insert takes
     * the files back out unless its commit went through unanswered (filereg.h). */
    image_type t = image_sniff(buf, n);
    const char *ext = t == IMAGE_PNG ? "png" : "jpg";
    const char *keys[] = {store_new_key(rq->a, "images", rq->user_id, NULL, ext),
                          store_new_key(rq->a, "images", rq->user_id, NULL, "jpg")};
    char *tmp[2];
    rv_err er;
    if ((er = store_temp_path(rq->a, keys[0], &tmp[0])) != RV_OK ||
        (er = store_temp_path(rq->a, keys[1], &tmp[1])) != RV_OK)
        return er;
    image_result img;
    image_status st = image_process(buf, n, IMAGE_MAX_PIXELS, tmp[0], tmp[1], &img);
    if (st != IMAGE_OK) {
        unlink(tmp[0]);
        unlink(tmp[1]);
        if (st == IMAGE_FAILED)
            return RV_E_INTERNAL;
        return req_fail(rq, refusals[st].er, "%s", refusals[st].detail);
    }
    if ((er = filereg_register(rq, keys, 2)) != RV_OK) {
        unlink(tmp[0]);
        unlink(tmp[1]);
        return er;
    }
    if ((er = store_commit(rq->a, tmp[0], keys[0])) != RV_OK) {
        unlink(tmp[1]);
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
        return er;
    }
    if ((er = store_commit(rq->a, tmp[1], keys[1])) != RV_OK) {
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
        return er;
    }
    const char *p[] = {project,
                       name,
                       img.content_type,
                       arena_printf(rq->a, "%d", img.width),
                       arena_printf(rq->a, "%d", img.height),
                       arena_printf(rq->a, "%zu", img.bytes),
                       keys[0],
                       keys[1]};
    PGresult *r;
    if ((er = db_query(rq, &insert_image, p, &r)) != RV_OK || PQntuples(r) != 1 ||
        strcmp(db_get(r, 0, 0), "ok")) {
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
        if (er == RV_OK && PQntuples(r) == 1)
            return req_fail(rq, RV_E_NOT_FOUND, "no such project");
        return er != RV_OK ? er : RV_E_INTERNAL;
    }
    resp_header(rq, "Location", arena_printf(rq->a, "/api/images/%s", db_get(r, 0, 2)));
    return resp_json(rq, 201, views_links(rq, db_get(r, 0, 1), links, keys, 2));
}

static rv_err images(rv_req *rq)
{
    return rq->method_bit == RV_POST ? upload(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "images",
    .route = "/api/images",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH | RV_RAW_BODY | RV_BODY_FILE | RV_SOLO,
    .body_limit = IMAGE_MAX_BYTES,
    .handle = images,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
