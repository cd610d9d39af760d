/* POST /api/videos/{id}/render — authenticated. The video as an MP4.
 *
 * Body: {transition? (none|fade|dissolve|wipe|slide, fade), musicTrackId?,
 * musicVolume? (0..100, 20), captions? (burned|sidecar|none, burned), resolution?
 * (720p|1080p, 720p), aspect? (16:9|9:16|1:1, 16:9)}; header Idempotency-Key? →
 * 202 job (kind video_render) + Location: the render engine holds each picture for
 * its section's span of the narration with a gentle motion, the narration as the
 * voice, the music looped and ducked under it, captions from the words burned in
 * (sidecar: GET .../captions.vtt only); the video lasts as long as the narration.
 * The video then has url, posterUrl, durationMs, bytes. Cost: job_costs.video_render.
 * 404 for an unknown id, someone else's video or an unknown music track; 409
 * invalid_state naming what is missing (`missing`: script, narration, images) or
 * another step running | idempotency_conflict; 402, 429, 503. 400, 401, 405, 413,
 * 415. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"
#include "videos.h"

typedef struct {
    videos_opts opts;
} render_input;

static const bind_field fields[] = {VIDEOS_RENDER_FIELDS(render_input, opts)};

static rv_err render(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    render_input in = {.opts = VIDEOS_OPTS_DEFAULTS};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    return jobs_submit_video_step(rq, "video_render", id,
                                  videos_opts_json(rq, &in.opts, false, NULL), NULL);
}

static const rv_endpoint endpoint = {
    .name = "video_render",
    .route = "/api/videos/{id}/render",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = render,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
