#include "jobs.h"

#include <sodium.h>
#include <string.h>

#include "db.h"
#include "providers/provider.h"
#include "resp.h"
#include "views.h"

static const db_stmt submit_job = {"SELECT status, job_json, job_id, retry_after, required, balance"
                                   "  FROM rv_job_submit($1, $2, $3::jsonb, $4, $5::text[], $6)",
                                   6};
static const db_stmt submit_tts = {"SELECT status, job_json, job_id, retry_after, required, balance"
                                   "  FROM rv_tts_submit($1, $2, $3::jsonb, $4, $5::text[], $6)",
                                   6};
static const db_stmt submit_conversion = {
    "SELECT status, job_json, job_id, retry_after, required, balance"
    "  FROM rv_voice_conversion_submit($1, $2, $3, $4::jsonb, $5, $6::text[], $7)",
    7};
static const db_stmt submit_clone = {
    "SELECT status, job_json, job_id, retry_after, required, balance, voice_json, preview_key"
    "  FROM rv_voice_clone_submit($1, $2::jsonb, $3, $4::text[], $5)",
    5};

/* 1..255 visible ASCII characters, as API.md says. */
static bool idempotency_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}

static rv_err answer(rv_req *rq, const PGresult *r)
{
    const char *status = db_get(r, 0, 0);
    if (!status)
        return RV_E_INTERNAL;
    if (!strcmp(status, "created") || !strcmp(status, "repeated")) {
        resp_header(rq, "Location", arena_printf(rq->a, "/api/jobs/%s", db_get(r, 0, 2)));
        if (PQnfields(r) < 8 || !db_get(r, 0, 6))
            return resp_json(rq, 202, db_get(r, 0, 1));
        const char *parts[] = {"{\"voice\":", views_voice(rq, db_get(r, 0, 6), db_get(r, 0, 7)),
                               ",\"job\":", db_get(r, 0, 1), "}"};
        return resp_json(rq, 202, arena_join(rq->a, parts, sizeof parts / sizeof parts[0]));
    }
    if (!strcmp(status, "rate_limited")) {
        req_problem_set(rq, "retryAfter", json_object_new_int64(db_get_long(r, 0, 3)));
        return req_fail(rq, RV_E_RATE_LIMITED, "too many generations; try again later");
    }
    if (!strcmp(status, "insufficient")) {
        req_problem_set(rq, "required", json_object_new_int64(db_get_long(r, 0, 4)));
        req_problem_set(rq, "balance", json_object_new_int64(db_get_long(r, 0, 5)));
        return req_fail(rq, RV_E_INSUFFICIENT_CREDITS, "this job costs %s credits",
                        db_get(r, 0, 4));
    }
    if (!strcmp(status, "no_provider"))
        return req_fail(rq, RV_E_PROVIDER_UNAVAILABLE,
                        "no configured provider can do this kind of job");
    if (!strcmp(status, "source_not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such source audio");
    if (!strcmp(status, "voice_not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    if (!strcmp(status, "voice_not_active"))
        return req_fail(rq, RV_E_INVALID_STATE, "the voice is not ready yet");
    if (!strcmp(status, "voice_expired"))
        return req_fail(rq, RV_E_INVALID_STATE,
                        "the cloned voice expired after 7 days unused; clone it again");
    if (!strcmp(status, "audio_not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    if (!strcmp(status, "sample_too_short") || !strcmp(status, "sample_too_long"))
        return req_fail(rq, RV_E_UNPROCESSABLE, "the sample must be 10 s to 5 min of audio");
    return RV_E_INTERNAL;
}

/* What every submit sends besides its own parameters. */
typedef struct submit_common {
    const char *idem, *json, *available;
    char token[33];
} submit_common;

static rv_err prepare(rv_req *rq, const char *kind, json_object *input, submit_common *c)
{
    c->idem = req_header(rq, "Idempotency-Key");
    if (c->idem && !idempotency_key_ok(c->idem))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(c->token, sizeof c->token, raw, sizeof raw);
    c->json = json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN);
    c->available = prov_available_for(rq->a, kind);
    return RV_OK;
}

rv_err jobs_submit(rv_req *rq, const char *kind, json_object *input, const char *voice_id)
{
    submit_common c;
    rv_err er = prepare(rq, kind, input, &c);
    if (er != RV_OK)
        return er;
    PGresult *r;
    if (voice_id) {
        const char *p[] = {rq->user_id, voice_id, c.json, c.idem, c.available, c.token};
        er = db_query(rq, &submit_tts, p, &r);
    } else if (!strcmp(kind, "voice_clone")) {
        const char *p[] = {rq->user_id, c.json, c.idem, c.available, c.token};
        er = db_query(rq, &submit_clone, p, &r);
    } else {
        const char *p[] = {rq->user_id, kind, c.json, c.idem, c.available, c.token};
        er = db_query(rq, &submit_job, p, &r);
    }
    return er != RV_OK ? er : answer(rq, r);
}

rv_err jobs_submit_conversion(rv_req *rq, json_object *input, const char *source_id,
                              const char *voice_id)
{
    submit_common c;
    rv_err er = prepare(rq, "voice_conversion", input, &c);
    if (er != RV_OK)
        return er;
    PGresult *r;
    const char *p[] = {rq->user_id, source_id, voice_id, c.json, c.idem, c.available, c.token};
    er = db_query(rq, &submit_conversion, p, &r);
    return er != RV_OK ? er : answer(rq, r);
}
