/* POST /api/batches — authenticated. A narrated video for each of a list of topics.
 *
 * Body: {topics: [1..20 strings of 1..500 characters, not only white space],
 * voiceId, language?, targetSeconds? (15..600, 60), style?, speed?, transition?,
 * musicTrackId?, musicVolume?, captions?, resolution?, aspect?}; header
 * Idempotency-Key? → 202 batch {id, status, progress, videos: [video], createdAt}
 * + Location: each video runs the whole chain (script → narration → images →
 * render). The whole cost is held at submit (ledger batch_hold) or the batch is
 * refused with 402 (nothing made); what a video does not spend goes back
 * (batch_release) when its chain stops. A repeated key answers the first batch.
 * 404 a voice that is not a preset or the caller's, 409 a voice not active, 503
 * provider_unavailable with no language model (scripts). 400, 401, 405, 413, 415. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "videos.h"

static const db_stmt submit_batch = {
    "SELECT status, batch_json, batch_id, required, balance"
    "  FROM rv_batch_submit(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)), $2::jsonb,"
    "                       $3::jsonb, $4, $5::boolean)",
    5};

typedef struct {
    json_object *topics;
    const char *voice_id, *language, *style;
    long target_seconds;
    videos_opts opts;
} batch_input;

static const bind_field fields[] = {
    {.name = "topics", .type = BIND_RAW, .offset = offsetof(batch_input, topics), .required = true},
    {.name = "voiceId",
     .type = BIND_STRING,
     .offset = offsetof(batch_input, voice_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "language",
     .type = BIND_STRING,
     .offset = offsetof(batch_input, language),
     .min = 2,
     .max = 35,
     .check = bind_check_language},
    {.name = "targetSeconds",
     .type = BIND_INT,
     .offset = offsetof(batch_input, target_seconds),
     .min = 15,
     .max = 600,
     .message = "must be an integer from 15 to 600"},
    {.name = "style",
     .type = BIND_STRING,
     .offset = offsetof(batch_input, style),
     .min = 0,
     .max = 100,
     .message = "must be at most 100 characters"},
    VIDEOS_OPTS_FIELDS(batch_input, opts),
};

/* topics as a JSON array of checked strings, or field errors. */
static const char *topics_array(rv_req *rq, json_object *t)
{
    size_t n = t && json_object_is_type(t, json_type_array) ? json_object_array_length(t) : 0;
    if (n < 1 || n > VIDEOS_MAX_TOPICS) {
        req_field_error(rq, "topics", "must be an array of 1 to 20 topics");
        return NULL;
    }
    json_object *arr = req_keep(rq, json_object_new_array());
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(t, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
        size_t chars = s ? bind_utf8_len(s) : 0;
        if (!s || strlen(s) != (size_t)json_object_get_string_len(e) || chars < 1 ||
            chars > VIDEOS_TOPIC_MAX || videos_blank(s))
            req_field_error(rq, arena_printf(rq->a, "topics[%zu]", i),
                            "must be 1 to 500 characters, not only white space");
        else
            json_object_array_add(arr, json_object_new_string(s));
    }
    if (rq->problem_errors)
        return NULL;
    return json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
}

static rv_err batches(rv_req *rq)
{
    batch_input in = {.target_seconds = 60, .opts = VIDEOS_OPTS_DEFAULTS};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er == RV_E_MALFORMED_JSON)
        return er;
    const char *topics = in.topics ? topics_array(rq, in.topics) : NULL;
    if (er != RV_OK || rq->problem_errors)
        return RV_E_VALIDATION;
    const char *idem = req_header(rq, "Idempotency-Key");
    if (idem && (strlen(idem) < 1 || strlen(idem) > 255))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 characters");
    json_object *v = req_keep(rq, json_object_new_object());
    json_object_object_add(v, "targetSeconds", json_object_new_int64(in.target_seconds));
    if (in.language)
        json_object_object_add(v, "language", json_object_new_string(in.language));
    if (in.style)
        json_object_object_add(v, "style", json_object_new_string(in.style));
    json_object *opts = videos_opts_json(rq, &in.opts, true, in.voice_id);
    const char *p[] = {topics, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                       json_object_to_json_string_ext(opts, JSON_C_TO_STRING_PLAIN), idem,
                       videos_llm_available(rq) ? "true" : "false"};
    PGresult *r;
    if ((er = db_query(rq, &submit_batch, p, &r)) != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return RV_E_INTERNAL;
    er = videos_refusal(rq, db_get(r, 0, 0), db_get_long(r, 0, 3), db_get_long(r, 0, 4));
    if (er != RV_OK)
        return er;
    resp_header(rq, "Location", arena_printf(rq->a, "/api/batches/%s", db_get(r, 0, 2)));
    return resp_json(rq, 202, videos_view_batch(rq, db_get(r, 0, 1)));
}

static const rv_endpoint endpoint = {
    .name = "batches",
    .route = "/api/batches",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 64 * 1024,
    .handle = batches,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
