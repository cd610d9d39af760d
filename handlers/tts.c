/* POST /api/tts — authenticated. Text to speech.
 *
 * Body: {text (1..10000), voiceId, emotion?, speed? (0.5..2, 1), pitch? (-12..12, 0),
 * volume? (0.1..10, 1), audioFormat? (mp3|wav|flac, mp3),
 * sampleRate? (8000|16000|22050|24000|32000|44100, 32000)}; header Idempotency-Key?.
 * 202 job + Location. Cost: job_costs.tts (1 credit per started 100 characters).
 * 400, 401, 402 insufficient_credits, 404 voice, 405, 409 voice not active or expired |
 * idempotency_conflict, 413, 415, 429 rate_limited, 503 provider_unavailable | unavailable. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"

typedef struct {
    const char *text, *voice_id, *emotion, *audio_format;
    double speed, volume;
    long pitch, sample_rate;
} tts_input;

static const char *const emotions[] = {"auto",      "happy",     "sad",     "angry", "fearful",
                                       "disgusted", "surprised", "neutral", NULL};
static const char *const formats[] = {"mp3", "wav", "flac", NULL};
static const long sample_rates[] = {8000, 16000, 22050, 24000, 32000, 44100};

static const bind_field fields[] = {
    {.name = "text",
     .type = BIND_STRING,
     .offset = offsetof(tts_input, text),
     .required = true,
     .min = 1,
     .max = 10000,
     .message = "must be 1 to 10000 characters"},
    {.name = "voiceId",
     .type = BIND_STRING,
     .offset = offsetof(tts_input, voice_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "emotion",
     .type = BIND_STRING,
     .offset = offsetof(tts_input, emotion),
     .one_of = emotions},
    {.name = "speed",
     .type = BIND_NUMBER,
     .offset = offsetof(tts_input, speed),
     .min = 0.5,
     .max = 2,
     .message = "must be from 0.5 to 2"},
    {.name = "pitch",
     .type = BIND_INT,
     .offset = offsetof(tts_input, pitch),
     .min = -12,
     .max = 12,
     .message = "must be an integer from -12 to 12"},
    {.name = "volume",
     .type = BIND_NUMBER,
     .offset = offsetof(tts_input, volume),
     .min = 0.1,
     .max = 10,
     .message = "must be from 0.1 to 10"},
    {.name = "audioFormat",
     .type = BIND_STRING,
     .offset = offsetof(tts_input, audio_format),
     .one_of = formats},
    {.name = "sampleRate",
     .type = BIND_INT,
     .offset = offsetof(tts_input, sample_rate),
     .min = 8000,
     .max = 44100,
     .message = "must be one of 8000, 16000, 22050, 24000, 32000, 44100"},
};

static rv_err tts(rv_req *rq)
{
    tts_input in = {.emotion = "auto",
                    .audio_format = "mp3",
                    .speed = 1,
                    .volume = 1,
                    .pitch = 0,
                    .sample_rate = 32000};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    bool rate_ok = false;
    for (size_t i = 0; i < sizeof sample_rates / sizeof sample_rates[0]; i++)
        rate_ok |= in.sample_rate == sample_rates[i];
    if (!rate_ok)
        er = req_field_error(rq, "sampleRate",
                             "must be one of 8000, 16000, 22050, 24000, 32000, 44100");
    if (er != RV_OK)
        return er;

    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "text", json_object_new_string(in.text));
    json_object_object_add(job, "voiceId", json_object_new_string(in.voice_id));
    json_object_object_add(job, "emotion", json_object_new_string(in.emotion));
    json_object_object_add(job, "speed", json_object_new_double(in.speed));
    json_object_object_add(job, "pitch", json_object_new_int64(in.pitch));
    json_object_object_add(job, "volume", json_object_new_double(in.volume));
    json_object_object_add(job, "audioFormat", json_object_new_string(in.audio_format));
    json_object_object_add(job, "sampleRate", json_object_new_int64(in.sample_rate));
    return jobs_submit(rq, "tts", job, in.voice_id);
}

static const rv_endpoint endpoint = {
    .name = "tts",
    .route = "/api/tts",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 64 * 1024,
    .handle = tts,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
