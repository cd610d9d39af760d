/* POST /api/voice-conversion — authenticated. A recording spoken again in another
 * voice.
 *
 * Body: {sourceAudioId, voiceId}; header Idempotency-Key?. The source must be one
 * of the caller's audios, the voice a preset or the caller's own, and active.
 * 202 job (kind voice_conversion) + Location; the result is a new audio.
 * Cost: job_costs.voice_conversion, per second of the source (perSecond, min).
 * The provider is admin_config.providers.kinds.voice_conversion (the local one
 * cannot convert). 400, 401, 402 insufficient_credits, 404 source or voice, 405,
 * 409 voice not active or expired | idempotency_conflict, 413, 415, 429 rate_limited, 503
 * provider_unavailable | unavailable. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"

typedef struct {
    const char *source_audio_id, *voice_id;
} conversion_input;

static const bind_field fields[] = {
    {.name = "sourceAudioId",
     .type = BIND_STRING,
     .offset = offsetof(conversion_input, source_audio_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "voiceId",
     .type = BIND_STRING,
     .offset = offsetof(conversion_input, voice_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
};

static rv_err voice_conversion(rv_req *rq)
{
    conversion_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "sourceAudioId", json_object_new_string(in.source_audio_id));
    json_object_object_add(job, "voiceId", json_object_new_string(in.voice_id));
    return jobs_submit_conversion(rq, job, in.source_audio_id, in.voice_id);
}

static const rv_endpoint endpoint = {
    .name = "voice_conversion",
    .route = "/api/voice-conversion",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = voice_conversion,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
