#include "submit.h"

#include <sodium.h>
#include <string.h>

#include "pgjson.h"
#include "providers/provider.h"

#define SUBMIT_COLS "status, job_json, job_id, retry_after, required, balance"

static const db_stmt submit_any = {"SELECT " SUBMIT_COLS ", NULL, NULL, NULL, NULL, NULL"
                                   "  FROM rv_submit($1, $2::jsonb, $3, $4::text[], $5, $6)",
                                   6};
static const db_stmt submit_clip = {"SELECT " SUBMIT_COLS ", NULL, NULL, clip_json, video_key,"
                                    "       poster_key"
                                    "  FROM rv_clip_submit($1::jsonb, $2, $3::text[], $4)",
                                    4};
static const db_stmt submit_conversion = {
    "SELECT " SUBMIT_COLS ", NULL, NULL, NULL, NULL, NULL"
    "  FROM rv_conversion_submit($1, $2, $3::jsonb, $4, $5::text[], $6)",
    6};
static const db_stmt submit_clone = {"SELECT " SUBMIT_COLS ", voice_json, preview_key,"
                                     "       NULL, NULL, NULL"
                                     "  FROM rv_clone_submit($1::jsonb, $2, $3::text[], $4)",
                                     4};

static const db_stmt submit_video_step = {
    "SELECT " SUBMIT_COLS ", NULL, NULL, NULL, NULL, NULL, missing"
    "  FROM rv_video_step_submit($1, $2, $3::jsonb, $4, $5::text[], $6, $7)",
    7};

static const struct {
    const char *sql;
    submit_status status;
} statuses[] = {
    {"created", SUBMIT_CREATED},
    {"repeated", SUBMIT_REPEATED},
    {"idempotency_conflict", SUBMIT_IDEMPOTENCY_CONFLICT},
    {"rate_limited", SUBMIT_RATE_LIMITED},
    {"insufficient", SUBMIT_INSUFFICIENT},
    {"no_provider", SUBMIT_NO_PROVIDER},
    {"source_not_found", SUBMIT_SOURCE_NOT_FOUND},
    {"voice_not_found", SUBMIT_VOICE_NOT_FOUND},
    {"voice_not_active", SUBMIT_VOICE_NOT_ACTIVE},
    {"voice_expired", SUBMIT_VOICE_EXPIRED},
    {"audio_not_found", SUBMIT_SAMPLE_NOT_FOUND},
    {"sample_too_short", SUBMIT_SAMPLE_TOO_SHORT},
    {"sample_too_long", SUBMIT_SAMPLE_TOO_LONG},
    {"input_unstorable", SUBMIT_INPUT_UNSTORABLE}, /* decided in C, before SQL */
    {"image_not_found", SUBMIT_IMAGE_NOT_FOUND},
    {"project_not_found", SUBMIT_PROJECT_NOT_FOUND},
    {"not_found", SUBMIT_VIDEO_NOT_FOUND},
    {"invalid_state", SUBMIT_VIDEO_NOT_READY},
    {"music_not_found", SUBMIT_MUSIC_NOT_FOUND},
};

submit_status submit_status_of(const char *s)
{
    for (size_t i = 0; s && i < sizeof statuses / sizeof statuses[0]; i++)
        if (!strcmp(s, statuses[i].sql))
            return statuses[i].status;
    return SUBMIT_UNKNOWN;
}

rv_err submit_job(const db_ctx *c, const submit_request *rq, submit_outcome *out)
{
    /* The provider's webhook URL carries this token: only the job's own work can
     * report on it. */
    char token[33];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    const char *json = json_object_to_json_string_ext(rq->input, JSON_C_TO_STRING_PLAIN);
    const char *available = prov_available_for(c->a, rq->kind);
    /* The input goes into jsonb: a "\u0000" a caller let through would fail there. */
    memset(out, 0, sizeof *out);
    if (!pgjson_ok(json, strlen(json))) {
        out->status = SUBMIT_INPUT_UNSTORABLE;
        return RV_OK;
    }

    PGresult *r;
    rv_err er;
    if (rq->video_id) {
        const char *p[] = {rq->video_id, rq->kind, json,        rq->idem_key,
                           available,    token,    rq->voice_id};
        er = db_run(c, &submit_video_step, p, &r);
    } else if (!strcmp(rq->kind, "voice_conversion")) {
        const char *p[] = {rq->source_id, rq->voice_id, json, rq->idem_key, available, token};
        er = db_run(c, &submit_conversion, p, &r);
    } else if (!strcmp(rq->kind, "voice_clone")) {
        const char *p[] = {json, rq->idem_key, available, token};
        er = db_run(c, &submit_clone, p, &r);
    } else if (!strcmp(rq->kind, "video_clip")) {
        const char *p[] = {json, rq->idem_key, available, token};
        er = db_run(c, &submit_clip, p, &r);
    } else {
        const char *p[] = {rq->kind, json, rq->idem_key, available, token, rq->voice_id};
        er = db_run(c, &submit_any, p, &r);
    }
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return RV_E_INTERNAL;
    *out = (submit_outcome){
        .status = submit_status_of(db_get(r, 0, 0)),
        .job_json = db_get(r, 0, 1),
        .job_id = db_get(r, 0, 2),
        .retry_after = db_get_long(r, 0, 3),
        .required = db_get_long(r, 0, 4),
        .balance = db_get_long(r, 0, 5),
        .voice_json = db_get(r, 0, 6),
        .preview_key = db_get(r, 0, 7),
        .clip_json = db_get(r, 0, 8),
        .clip_video_key = db_get(r, 0, 9),
        .clip_poster_key = db_get(r, 0, 10),
        .missing = PQnfields(r) > 11 ? db_get(r, 0, 11) : NULL,
    };
    return out->status == SUBMIT_UNKNOWN ? RV_E_INTERNAL : RV_OK;
}
