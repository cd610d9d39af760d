#include "compile.h"

#include <string.h>
#include <time.h>

#include "db.h"
#include "jobs.h"
#include "providers/provider.h"
#include "resp.h"
#include "storage.h"
#include "submit.h"

#include <sodium.h>

static const db_stmt submit_compilation = {
    "SELECT status, job_json, job_id, retry_after, required, balance, compilation_json, bad_id"
    "  FROM rv_compilation_submit($1::jsonb, $2, $3::text[], $4)",
    4};

/* The refusals of compilations; the rest are rv_submit's (jobs_answer). */
static const struct {
    const char *status;
    rv_err er;
    const char *detail;
} refusals[] = {
    {"project_not_found", RV_E_NOT_FOUND, "no such project"},
    {"clip_not_found", RV_E_NOT_FOUND, "no such clip in this project"},
    {"clip_not_ready", RV_E_INVALID_STATE, "this clip has not finished rendering"},
    {"clip_not_approved", RV_E_INVALID_STATE, "this clip is not approved"},
    {"music_not_found", RV_E_NOT_FOUND, "no such music track"},
};

const char *compile_view(rv_req *rq, const char *json, const char *video_key,
                         const char *poster_key)
{
    if (!json || !video_key || !poster_key)
        return json;
    size_t n = strlen(json);
    if (n < 2 || json[n - 1] != '}')
        return json;
    time_t now = time(NULL);
    const char *parts[] = {arena_strndup(rq->a, json, n - 1),
                           ",\"url\":\"",
                           store_signed_url(rq->a, video_key, STORE_URL_TTL, now),
                           "\",\"posterUrl\":\"",
                           store_signed_url(rq->a, poster_key, STORE_URL_TTL, now),
                           "\"}"};
    return arena_join(rq->a, parts, sizeof parts / sizeof parts[0]);
}

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

rv_err compile_submit(rv_req *rq, json_object *input)
{
    const char *idem = req_header(rq, "Idempotency-Key");
    if (idem && !idempotency_key_ok(idem))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    char token[33];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    const char *p[] = {json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN), idem,
                       prov_available_for(rq->a, "video_compile"), token};
    PGresult *r;
    rv_err er = db_query(rq, &submit_compilation, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return RV_E_INTERNAL;
    const char *status = db_get(r, 0, 0);
    for (size_t i = 0; status && i < sizeof refusals / sizeof refusals[0]; i++)
        if (!strcmp(status, refusals[i].status)) {
            const char *id = db_get(r, 0, 7);
            return req_fail(rq, refusals[i].er, "%s%s%s", refusals[i].detail, id ? ": " : "",
                            id ? id : "");
        }
    submit_outcome o = {
        .status = submit_status_of(status),
        .job_json = db_get(r, 0, 1),
        .job_id = db_get(r, 0, 2),
        .retry_after = db_get_long(r, 0, 3),
        .required = db_get_long(r, 0, 4),
        .balance = db_get_long(r, 0, 5),
    };
    const char *compilation = db_get(r, 0, 6);
    if (o.status != SUBMIT_CREATED && o.status != SUBMIT_REPEATED)
        return jobs_answer(rq, &o);
    if (!compilation || !o.job_json)
        return RV_E_INTERNAL;
    resp_header(rq, "Location", arena_printf(rq->a, "/api/jobs/%s", o.job_id));
    const char *parts[] = {"{\"compilation\":", compilation, ",\"job\":", o.job_json, "}"};
    return resp_json(rq, 202, arena_join(rq->a, parts, sizeof parts / sizeof parts[0]));
}
