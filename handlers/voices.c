/* GET|POST /api/voices — authenticated.
 *
 * GET ?page&limit → 200 {items: [voice], pagination}: the preset voices, then the
 * caller's own, newest first.
 * POST {name (1..100), sampleAudioId, language? (BCP 47, en), gender?
 * (female|male|neutral)}; header Idempotency-Key? → 202 {voice, job} + Location:
 * clones a voice from one of the caller's audios (a voice_clone job; the voice goes
 * pending → training → active, or failed and refunded). Cost: job_costs.voice_clone.
 * 404 when the sample is not the caller's audio, 422 when it is not 10 s to 5 min
 * long, 402, 409 idempotency_conflict, 429, 503 provider_unavailable when no provider can clone
 * (the local one cannot: no voice is made). Both: 400, 401, 405, 413, 415, 503 unavailable. */
#include <stddef.h>

#include "bind.h"
#include "db.h"
#include "jobs.h"
#include "resp.h"
#include "serve.h"
#include "views.h"

static const db_stmt list_voices = {
    "WITH f AS (SELECT * FROM voices WHERE user_id IS NULL OR user_id = $1)"
    "SELECT t.total, x.voice_json, x.storage_key"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT rv_voice_json(f) AS voice_json, a.storage_key,"
    "                            f.user_id IS NULL AS preset, f.created_at, f.id"
    "                       FROM f LEFT JOIN audios a ON a.id = f.preview_audio_id"
    "                      ORDER BY f.user_id IS NULL DESC, f.created_at DESC, f.id"
    "                      LIMIT $2 OFFSET $3) x ON true"
    " ORDER BY x.preset DESC, x.created_at DESC, x.id",
    3};

typedef struct {
    const char *name, *sample_audio_id, *language, *gender;
} clone_input;

static const char *const genders[] = {"female", "male", "neutral", NULL};

static const bind_field fields[] = {
    {.name = "name",
     .type = BIND_STRING,
     .offset = offsetof(clone_input, name),
     .required = true,
     .min = 1,
     .max = 100,
     .message = "must be 1 to 100 characters"},
    {.name = "sampleAudioId",
     .type = BIND_STRING,
     .offset = offsetof(clone_input, sample_audio_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "language",
     .type = BIND_STRING,
     .offset = offsetof(clone_input, language),
     .min = 2,
     .max = 35,
     .check = bind_check_language,
     .message = "must be a BCP 47 language tag such as en or pt-BR"},
    {.name = "gender",
     .type = BIND_STRING,
     .offset = offsetof(clone_input, gender),
     .one_of = genders},
};

static rv_err list(rv_req *rq)
{
    return views_page(rq, &list_voices, views_voice);
}

static rv_err clone(rv_req *rq)
{
    clone_input in = {.language = "en"};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "name", json_object_new_string(in.name));
    json_object_object_add(job, "sampleAudioId", json_object_new_string(in.sample_audio_id));
    json_object_object_add(job, "language", json_object_new_string(in.language));
    if (in.gender)
        json_object_object_add(job, "gender", json_object_new_string(in.gender));
    return jobs_submit(rq, "voice_clone", job, NULL);
}

static rv_err voices(rv_req *rq)
{
    return rq->method_bit == RV_POST ? clone(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "voices",
    .route = "/api/voices",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = voices,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
