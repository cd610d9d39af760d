#include "local.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "db.h"
#include "estimate.h"
#include "filereg.h"
#include "log.h"
#include "local_tts.h"
#include "local_video.h"
#include "media.h"
#include "storage.h"

static const db_stmt started = {"SELECT rv_job_started_local($1, $2)", 2};
static const db_stmt fail = {"SELECT rv_job_fail($1, $2::jsonb)", 2};
static const db_stmt succeed = {"SELECT rv_job_succeed($1, $2::jsonb)", 2};

static const char *str(json_object *o, const char *k, const char *dflt)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : dflt;
}

static double dbl(json_object *o, const char *k, double dflt)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_double(v) : dflt;
}

static int record_failure(rv_req *rq, const char *id, const char *why)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string("synthesis_failed"));
    json_object_object_add(e, "message", json_object_new_string(why));
    const char *p[] = {id, arena_strdup(rq->a, json_object_to_json_string(e))};
    json_object_put(e);
    log_msg(LOG_WARN, "local job %s failed: %s", id, why);
    return db_query(rq, &fail, p, NULL) == RV_OK ? LOCAL_FAILED : LOCAL_TRANSIENT;
}

static int run(rv_req *rq, const local_job *job)
{
    json_object *in = job->input, *voice = NULL;
    const char *p0[] = {job->id, job->poller_id};
    if (db_query(rq, &started, p0, NULL) != RV_OK) {
        log_msg(LOG_WARN, "local job %s: could not mark it started", job->id);
        return LOCAL_TRANSIENT;
    }

    json_object_object_get_ex(in, "voice", &voice);
    const local_voice *lv = local_tts_voice(str(voice, "presetKey", ""));
    if (!lv)
        return record_failure(rq, job->id, "this voice is not available on the local provider");
    local_tts_params p = {
        .text = str(in, "text", ""),
        .voice = lv->voice,
        .variant = lv->variant,
        .emotion = str(in, "emotion", "neutral"),
        .speed = dbl(in, "speed", 1),
        .pitch = dbl(in, "pitch", 0),
        .volume = dbl(in, "volume", 1),
        .format = str(in, "audioFormat", "mp3"),
        .sample_rate = (int)dbl(in, "sampleRate", 32000),
    };
    char *key = store_new_key(rq->a, "audios", job->user_id, p.text, p.format), *tmp;
    if (store_temp_path(rq->a, key, &tmp) != RV_OK)
        return LOCAL_TRANSIENT;
    local_tts_result res;
    char why[256] = "";
    rv_err er = local_tts_render(&p, tmp, &res, why, sizeof why);
    if (er != RV_OK) {
        remove(tmp);
        if (er == RV_E_UNPROCESSABLE)
            return record_failure(rq, job->id, why);
        log_msg(LOG_WARN, "local job %s: synthesis failed: %s", job->id, why);
        return LOCAL_TRANSIENT;
    }
    if (filereg_register(rq, (const char *const *)&key, 1) != RV_OK) {
        remove(tmp);
        return LOCAL_TRANSIENT;
    }
    if (store_commit(rq->a, tmp, key) != RV_OK) {
        filereg_drop(rq, key);
        return LOCAL_TRANSIENT;
    }

    json_object *a = json_object_new_object();
    json_object_object_add(
        a, "filename",
        json_object_new_string(arena_printf(rq->a, "speech-%.8s.%s", job->id, p.format)));
    json_object_object_add(a, "contentType", json_object_new_string(res.content_type));
    json_object_object_add(a, "bytes", json_object_new_int64(res.bytes));
    json_object_object_add(a, "durationMs", json_object_new_int64(res.duration_ms));
    json_object_object_add(a, "sampleRate", json_object_new_int(res.sample_rate));
    json_object_object_add(a, "channels", json_object_new_int(1));
    json_object_object_add(a, "storageKey", json_object_new_string(key));
    const char *p1[] = {job->id, arena_strdup(rq->a, json_object_to_json_string(a))};
    json_object_put(a);
    PGresult *r;
    if (db_query(rq, &succeed, p1, &r) != RV_OK) {
        /* The commit may have gone through with its answer lost: the file goes
         * only if no row refers to it (filereg.h), and the job is looked at again. */
        filereg_drop(rq, key);
        return LOCAL_TRANSIENT;
    }
    if (strcmp(db_get(r, 0, 0), "t")) /* cancelled meanwhile: drop the file */
        filereg_drop(rq, key);
    return LOCAL_OK;
}

int local_run(const local_job *job)
{
    arena *a = arena_new();
    rv_req rq = {.a = a, .role = "system"};
    int rc = job->kind && !strcmp(job->kind, "estimate") ? estimate_run(&rq, job)
             : local_video_kind(job->kind)               ? local_video_run(&rq, job)
                                                         : run(&rq, job);
    arena_free(a);
    db_close();
    return rc;
}
