/* GET|POST /api/videos — authenticated. Narrated explainer videos.
 *
 * GET ?page&limit → 200 {items: [video], pagination}: the caller's, newest first.
 * POST {title (1..200), topic (1..500, not only white space), projectId?, language?
 * (BCP 47, en), targetSeconds? (15..600, 60), voiceId?, style? (≤100), auto?
 * (false), script? {sections: [{heading? (≤200), content (1..2000)}] (1..50)},
 * and for auto: speed?, transition?, musicTrackId?, musicVolume?, captions?,
 * resolution?, aspect?}; header Idempotency-Key? (kept with auto only) → 201 video
 * (draft). With auto: true the whole chain starts
 * (script unless the request brings one → narration → images → render): its whole
 * cost is held at once (ledger batch_hold; 402 when short), the steps' jobs are paid
 * from the hold, and what a failed step and those after it did not spend goes
 * back (batch_release); the same key and body answer that video as it is now, another
 * body 409 idempotency_conflict. A cloned voice narrates at its provider (Replicate):
 * with no key for it here, the chain's narration step fails (provider_unavailable) and
 * the hold goes back. 404 for a project or voice not the caller's, 409 a voice
 * not active, 503 provider_unavailable for auto without a script and no language
 * model. Both: 400, 401, 405, 413, 415, 503 unavailable. */
#include <stddef.h>

#include "bind.h"
#include "db.h"
#include "jobs.h"
#include "resp.h"
#include "serve.h"
#include "videos.h"
#include "views.h"

static const db_stmt list_videos = {
    "WITH f AS (SELECT * FROM videos WHERE user_id = $1)"
    "SELECT t.total, x.video_json, NULL"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT rv_video_json(f) AS video_json, f.created_at, f.id FROM f"
    "                      ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3) x ON true"
    " ORDER BY x.created_at DESC, x.id DESC",
    3};
static const db_stmt create_video = {
    "SELECT status, video_json, required, balance"
    "  FROM rv_video_create($1::jsonb, $2::jsonb, $3::boolean, $4::jsonb, $5::boolean, $6)",
    6};

typedef struct {
    const char *title, *topic, *project_id, *language, *voice_id, *style;
    long target_seconds;
    int auto_;
    json_object *script;
    videos_opts opts;
} video_input;

static const bind_field fields[] = {
    {.name = "title",
     .type = BIND_STRING,
     .offset = offsetof(video_input, title),
     .required = true,
     .min = 1,
     .max = 200,
     .check = videos_check_text,
     .message = "must be 1 to 200 characters"},
    {.name = "topic",
     .type = BIND_STRING,
     .offset = offsetof(video_input, topic),
     .required = true,
     .min = 1,
     .max = 500,
     .check = videos_check_text,
     .message = "must be 1 to 500 characters"},
    {.name = "projectId",
     .type = BIND_STRING,
     .offset = offsetof(video_input, project_id),
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "language",
     .type = BIND_STRING,
     .offset = offsetof(video_input, language),
     .min = 2,
     .max = 35,
     .check = bind_check_language},
    {.name = "targetSeconds",
     .type = BIND_INT,
     .offset = offsetof(video_input, target_seconds),
     .min = 15,
     .max = 600,
     .message = "must be an integer from 15 to 600"},
    {.name = "voiceId",
     .type = BIND_STRING,
     .offset = offsetof(video_input, voice_id),
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "style",
     .type = BIND_STRING,
     .offset = offsetof(video_input, style),
     .min = 0,
     .max = 100,
     .message = "must be at most 100 characters"},
    {.name = "auto", .type = BIND_BOOL, .offset = offsetof(video_input, auto_)},
    {.name = "script", .type = BIND_RAW, .offset = offsetof(video_input, script)},
    VIDEOS_OPTS_FIELDS(video_input, opts),
};

static const char *view(rv_req *rq, const char *json, const char *key)
{
    (void)key;
    return videos_view(rq, json);
}

static rv_err create(rv_req *rq)
{
    video_input in = {.target_seconds = 60, .opts = VIDEOS_OPTS_DEFAULTS};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    json_object *sections = NULL, *given = NULL;
    if (er == RV_E_MALFORMED_JSON)
        return er;
    if (in.script && (!json_object_object_get_ex(in.script, "sections", &given) ||
                      json_object_object_length(in.script) != 1))
        req_field_error(rq, "script", "must be {sections: [...]}");
    else if (in.script)
        videos_script_bind(rq, given, "script.sections", &sections);
    if (er != RV_OK || rq->problem_errors)
        return RV_E_VALIDATION;

    const char *idem = req_header(rq, "Idempotency-Key");
    if (idem && !jobs_idempotency_key_ok(idem))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");

    json_object *v = req_keep(rq, json_object_new_object());
    json_object_object_add(v, "title", json_object_new_string(in.title));
    json_object_object_add(v, "topic", json_object_new_string(in.topic));
    json_object_object_add(v, "targetSeconds", json_object_new_int64(in.target_seconds));
    if (in.project_id)
        json_object_object_add(v, "projectId", json_object_new_string(in.project_id));
    if (in.language)
        json_object_object_add(v, "language", json_object_new_string(in.language));
    if (in.voice_id)
        json_object_object_add(v, "voiceId", json_object_new_string(in.voice_id));
    if (in.style)
        json_object_object_add(v, "style", json_object_new_string(in.style));
    json_object *opts = videos_opts_json(rq, &in.opts, true, in.voice_id);
    const char *p[] = {json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                       sections ? json_object_to_json_string_ext(sections, JSON_C_TO_STRING_PLAIN)
                                : NULL,
                       in.auto_ ? "true" : "false",
                       json_object_to_json_string_ext(opts, JSON_C_TO_STRING_PLAIN),
                       videos_llm_available(rq) ? "true" : "false",
                       idem};
    PGresult *r;
    if ((er = db_query(rq, &create_video, p, &r)) != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return RV_E_INTERNAL;
    er = videos_refusal(rq, db_get(r, 0, 0), db_get_long(r, 0, 2), db_get_long(r, 0, 3));
    return er != RV_OK ? er : resp_json(rq, 201, videos_view(rq, db_get(r, 0, 1)));
}

static rv_err videos(rv_req *rq)
{
    return rq->method_bit == RV_POST ? create(rq) : views_page(rq, &list_videos, view);
}

static const rv_endpoint endpoint = {
    .name = "videos",
    .route = "/api/videos",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 256 * 1024,
    .handle = videos,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
