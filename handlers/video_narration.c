/* POST /api/videos/{id}/narration — authenticated. Speech for a video's script.
 *
 * Body: {voiceId, speed? (0.5..2, 1)}; header Idempotency-Key? → 202 job (kind
 * narration) + Location: every section spoken in the voice into one audio track
 * (an audios row of the caller's), each section's startMs/endMs from the real
 * durations and its words [{text, startMs, endMs}] from the speech engine's word
 * events — in the video and in the job's result. A cloned voice is spoken at its
 * provider (Replicate, a prediction per section, joined here; the job's provider
 * stays local), its words spread over each section by length (wordsEstimated:
 * true). Cost: job_costs.narration.
 * 404 for an unknown id, someone else's video or a voice that is not a preset or
 * the caller's; 409 invalid_state (with `missing`: script) when the video has no
 * script or another step runs, a voice not active | idempotency_conflict; 402, 429,
 * 503 provider_unavailable when no provider can speak the voice (a clone of a
 * provider this deployment has no key for). 400, 401, 405, 413, 415, 503
 * unavailable. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"

typedef struct {
    const char *voice_id;
    double speed;
} narration_input;

static const bind_field fields[] = {
    {.name = "voiceId",
     .type = BIND_STRING,
     .offset = offsetof(narration_input, voice_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "speed",
     .type = BIND_NUMBER,
     .offset = offsetof(narration_input, speed),
     .min = 0.5,
     .max = 2,
     .message = "must be from 0.5 to 2"},
};

static rv_err narration(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    narration_input in = {.speed = 1};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "voiceId", json_object_new_string(in.voice_id));
    json_object_object_add(job, "speed", json_object_new_double(in.speed));
    return jobs_submit_video_step(rq, "narration", id, job, in.voice_id);
}

static const rv_endpoint endpoint = {
    .name = "video_narration",
    .route = "/api/videos/{id}/narration",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = narration,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
