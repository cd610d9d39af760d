/* POST /api/videos/{id}/images — authenticated. A picture for every section.
 *
 * Body: {aspect? (16:9|9:16|1:1, 16:9)}; header Idempotency-Key? → 202 job (kind
 * images) + Location: a prompt per section (from the language model when one is
 * configured, else the section's heading or first sentence), and for each a
 * picture — a title card of the section made here (DejaVu on a plain background)
 * — stored as one of the caller's images, shown for its section's span of the
 * narration (startMs, durationMs). Cost: job_costs.images.
 * 404 for an unknown id or someone else's video; 409 invalid_state (with `missing`:
 * script, narration) or another step runs | idempotency_conflict; 402, 429, 503.
 * 400, 401, 405, 413, 415. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"
#include "videos.h"

typedef struct {
    const char *aspect;
} images_input;

static const bind_field fields[] = {
    {.name = "aspect",
     .type = BIND_STRING,
     .offset = offsetof(images_input, aspect),
     .one_of = videos_aspects},
};

static rv_err images(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    images_input in = {.aspect = "16:9"};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object()), *render = json_object_new_object();
    json_object_object_add(render, "aspect", json_object_new_string(in.aspect));
    json_object_object_add(job, "render", render);
    return jobs_submit_video_step(rq, "images", id, job, NULL);
}

static const rv_endpoint endpoint = {
    .name = "video_images",
    .route = "/api/videos/{id}/images",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = images,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
