/* PUT /api/videos/{id}/images/{position} — authenticated. Replaces one picture of
 * a video with one of the caller's own images (its time span stays; its prompt
 * goes, its attribution is the image's).
 *
 * Body: {imageId} → 200 video. 404 for an unknown or someone else's video or
 * image, or a position the video has no picture at; 409 invalid_state while a step
 * of the video runs; 400, 401, 405, 413, 415, 503. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "videos.h"

static const db_stmt put_image = {
    "SELECT status, video_json FROM rv_video_image_put($1, $2::integer, $3)", 3};

typedef struct {
    const char *image_id;
} image_input;

static const bind_field fields[] = {
    {.name = "imageId",
     .type = BIND_STRING,
     .offset = offsetof(image_input, image_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
};

static rv_err image(rv_req *rq)
{
    const char *id = req_path(rq, "id"), *pos = req_path(rq, "position");
    char *end;
    long n = pos ? strtol(pos, &end, 10) : 0;
    if (!req_is_uuid(id) || !pos || *end || n < 1 || n > VIDEOS_MAX_SECTIONS)
        return req_fail(rq, RV_E_NOT_FOUND, "no such picture");
    image_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, arena_printf(rq->a, "%ld", n), in.image_id};
    PGresult *r;
    if ((er = db_query(rq, &put_image, p, &r)) != RV_OK)
        return er;
    const char *status = PQntuples(r) == 1 ? db_get(r, 0, 0) : "";
    if (!strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video, picture or image");
    if (!strcmp(status, "invalid_state"))
        return req_fail(rq, RV_E_INVALID_STATE, "a step of this video is running");
    if (strcmp(status, "ok"))
        return RV_E_INTERNAL;
    return resp_json(rq, 200, videos_view(rq, db_get(r, 0, 1)));
}

static const rv_endpoint endpoint = {
    .name = "video_image",
    .route = "/api/videos/{id}/images/{position}",
    .methods = RV_PUT,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = image,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
