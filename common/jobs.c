#include "jobs.h"

#include <string.h>

#include "resp.h"
#include "views.h"

bool jobs_idempotency_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}

/* As the jobs table's CHECKs say (sql/003_studio.sql, sql/002_jobs.sql). */
static const char *const kinds[] = {"tts",        "voice_clone",   "voice_conversion", "sfx",
                                    "video_clip", "video_compile", "script",           "narration",
                                    "images",     "video_render",  "estimate",         NULL};
static const char *const statuses[] = {"queued", "dispatching", "running", "succeeded",
                                       "failed", "cancelled",   NULL};

static bool one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(v, *set))
            return true;
    return false;
}

bool jobs_kind_known(const char *kind)
{
    return one_of(kind, kinds);
}

bool jobs_status_known(const char *status)
{
    return one_of(status, statuses);
}

/* The refusals: an error and its detail, one row per outcome. */
static const struct {
    rv_err er;
    const char *detail;
} refusals[] = {
    [SUBMIT_IDEMPOTENCY_CONFLICT] = {RV_E_IDEMPOTENCY_CONFLICT,
                                     "this Idempotency-Key was used with another request"},
    [SUBMIT_RATE_LIMITED] = {RV_E_RATE_LIMITED, "too many generations; try again later"},
    [SUBMIT_INSUFFICIENT] = {RV_E_INSUFFICIENT_CREDITS, NULL},
    [SUBMIT_NO_PROVIDER] = {RV_E_PROVIDER_UNAVAILABLE,
                            "no configured provider can do this kind of job"},
    [SUBMIT_SOURCE_NOT_FOUND] = {RV_E_NOT_FOUND, "no such source audio"},
    [SUBMIT_VOICE_NOT_FOUND] = {RV_E_NOT_FOUND, "no such voice"},
    [SUBMIT_VOICE_NOT_ACTIVE] = {RV_E_INVALID_STATE, "the voice is not ready yet"},
    [SUBMIT_VOICE_EXPIRED] = {RV_E_VOICE_EXPIRED,
                              "the cloned voice expired after 7 days unused; clone it again"},
    [SUBMIT_SAMPLE_NOT_FOUND] = {RV_E_NOT_FOUND, "no such audio"},
    [SUBMIT_SAMPLE_TOO_SHORT] = {RV_E_UNPROCESSABLE, "the sample must be 10 s to 5 min of audio"},
    [SUBMIT_SAMPLE_TOO_LONG] = {RV_E_UNPROCESSABLE, "the sample must be 10 s to 5 min of audio"},
    [SUBMIT_INPUT_UNSTORABLE] = {RV_E_MALFORMED_JSON, "the input holds text that cannot be stored"},
    [SUBMIT_IMAGE_NOT_FOUND] = {RV_E_NOT_FOUND, "no such image"},
    [SUBMIT_PROJECT_NOT_FOUND] = {RV_E_NOT_FOUND, "no such project"},
    [SUBMIT_VIDEO_NOT_FOUND] = {RV_E_NOT_FOUND, "no such video"},
    [SUBMIT_VIDEO_NOT_READY] = {RV_E_INVALID_STATE, NULL},
    [SUBMIT_MUSIC_NOT_FOUND] = {RV_E_NOT_FOUND, "no such music track"},
    [SUBMIT_UNKNOWN] = {RV_E_INTERNAL, NULL},
};

rv_err jobs_answer(rv_req *rq, const submit_outcome *o)
{
    if (o->status == SUBMIT_CREATED || o->status == SUBMIT_REPEATED) {
        if (!o->job_id || !o->job_json)
            return RV_E_INTERNAL;
        resp_header(rq, "Location", arena_printf(rq->a, "/api/jobs/%s", o->job_id));
        if (o->clip_json) {
            const char *keys[] = {o->clip_video_key, o->clip_poster_key};
            const char *parts[] = {
                "{\"clip\":", views_links(rq, o->clip_json, views_clip_links, keys, 2),
                ",\"job\":", o->job_json, "}"};
            return resp_json(rq, 202, arena_join(rq->a, parts, sizeof parts / sizeof parts[0]));
        }
        if (!o->voice_json)
            return resp_json(rq, 202, o->job_json);
        const char *parts[] = {"{\"voice\":", views_voice(rq, o->voice_json, o->preview_key),
                               ",\"job\":", o->job_json, "}"};
        return resp_json(rq, 202, arena_join(rq->a, parts, sizeof parts / sizeof parts[0]));
    }
    if ((unsigned)o->status >= sizeof refusals / sizeof refusals[0] || !refusals[o->status].er)
        return RV_E_INTERNAL;
    if (o->status == SUBMIT_RATE_LIMITED)
        req_problem_set(rq, "retryAfter", json_object_new_int64(o->retry_after));
    if (o->status == SUBMIT_INSUFFICIENT) {
        req_problem_set(rq, "required", json_object_new_int64(o->required));
        req_problem_set(rq, "balance", json_object_new_int64(o->balance));
        return req_fail(rq, RV_E_INSUFFICIENT_CREDITS, "this job costs %ld credits", o->required);
    }
    if (o->status == SUBMIT_VIDEO_NOT_READY) {
        req_problem_set(rq, "missing", json_object_new_string(o->missing ? o->missing : ""));
        return req_fail(rq, RV_E_INVALID_STATE, "the video is not ready for this step: %s%s",
                        o->missing && strcmp(o->missing, "another step is running") ? "missing "
                                                                                    : "",
                        o->missing ? o->missing : "");
    }
    if (!refusals[o->status].detail)
        return refusals[o->status].er;
    return req_fail(rq, refusals[o->status].er, "%s", refusals[o->status].detail);
}

static rv_err submit(rv_req *rq, const submit_request *in)
{
    submit_request s = *in;
    s.idem_key = req_header(rq, "Idempotency-Key");
    if (s.idem_key && !jobs_idempotency_key_ok(s.idem_key))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    db_ctx c = db_ctx_of(rq);
    submit_outcome o;
    rv_err er = submit_job(&c, &s, &o);
    return er != RV_OK ? er : jobs_answer(rq, &o);
}

rv_err jobs_submit(rv_req *rq, const char *kind, json_object *input, const char *voice_id)
{
    return submit(rq, &(submit_request){.kind = kind, .input = input, .voice_id = voice_id});
}

rv_err jobs_submit_conversion(rv_req *rq, json_object *input, const char *source_id,
                              const char *voice_id)
{
    return submit(rq, &(submit_request){.kind = "voice_conversion",
                                        .input = input,
                                        .source_id = source_id,
                                        .voice_id = voice_id});
}

rv_err jobs_submit_video_step(rv_req *rq, const char *kind, const char *video_id,
                              json_object *input, const char *voice_id)
{
    return submit(rq,
                  &(submit_request){
                      .kind = kind, .input = input, .video_id = video_id, .voice_id = voice_id});
}

rv_err jobs_submit_clip(rv_req *rq, json_object *input)
{
    return submit(rq, &(submit_request){.kind = "video_clip", .input = input});
}
