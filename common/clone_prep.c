/* clone_prep.c — a voice clone's sample made ready for the provider before
 * the job is submitted. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "filereg.h"
#include "log.h"
#include "media.h"
#include "storage.h"
#include "work_internal.h"

static const db_stmt clone_prepared = {"SELECT rv_voice_clone_prepared($1, $2, $3::jsonb)", 3};

/* The provider fetches the sample through this link: valid well past the time a
 * clone may take (its deadline, 30 min by default). */
enum { CLONE_LINK_TTL = 6 * 3600, CLONE_DEFAULT_RATE = 32000 };

static const char *json_str(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Before a voice_clone job is submitted: the sample made even for the provider
 * (media_normalize: mono, the rate it wants, one level) into a stored file of its
 * own — once per job, a retry reuses it — and a signed link to that file, both
 * recorded in the job's input before the submit, so a rescue finds the prediction
 * by its input. Returns false when the job is not to be submitted now: failed (the
 * sample is unusable), retried later, or no longer this poller's. */
bool clone_prepare(work_ctx *w, job_ref *j)
{
    arena *a = w->rq->a;
    json_object *voice = NULL, *rate = NULL;
    json_object_object_get_ex(j->input, "voice", &voice);
    const char *sample = json_str(voice, "sampleKey"), *key = json_str(voice, "fileKey");
    bool made = false;
    if (!key) {
        char *tmp = NULL, why[160] = "no sample";
        media_normalized mn;
        int hz = voice && json_object_object_get_ex(voice, "sampleRate", &rate)
                     ? json_object_get_int(rate)
                     : CLONE_DEFAULT_RATE;
        key = store_new_key(a, "voices", j->user_id, "clone-sample", "wav");
        rv_err er = store_temp_path(a, key, &tmp);
        const char *src = NULL; /* the sample as a local file, whatever the backend */
        if (er == RV_OK && sample && store_key_valid(sample)) {
            if (!strcmp(store_backend(), "local")) {
                src = store_path(a, sample);
            } else if ((er = store_temp_path(a, sample, (char **)&src)) == RV_OK &&
                       (er = store_fetch(a, sample, src)) != RV_OK) {
                unlink(src);
                src = NULL;
                if (er == RV_E_NOT_FOUND) /* gone for good: not worth a retry */
                    er = RV_E_UNPROCESSABLE;
            }
        }
        if (er == RV_OK)
            er = src ? media_normalize(src, tmp, hz, &mn, why, sizeof why) : RV_E_UNPROCESSABLE;
        if (src && strcmp(store_backend(), "local"))
            unlink(src);
        if (er == RV_OK && (er = filereg_register(w->rq, &key, 1)) != RV_OK)
            er = RV_E_UNAVAILABLE; /* not stored unregistered: retried */
        if (er == RV_OK)
            er = store_commit(a, tmp, key); /* removes tmp on failure */
        else if (tmp)
            unlink(tmp);
        if (er == RV_E_UNPROCESSABLE) {
            work_to_failed(w, j->id, "sample_unusable",
                           arena_printf(a, "the sample could not be prepared: %s", why));
            return false;
        }
        if (er != RV_OK) {
            work_to_retry(w, j, 5, "could not prepare the sample");
            return false;
        }
        made = true;
        log_msg(LOG_INFO, "job %s: sample normalised to %d Hz mono, %.1f dB gain, %lld ms", j->id,
                hz, mn.gain_db, (long long)mn.duration_ms);
    }
    json_object *file = json_object_new_object();
    json_object_object_add(file, "fileKey", json_object_new_string(key));
    json_object_object_add(
        file, "fileUrl",
        json_object_new_string(store_signed_url(a, key, CLONE_LINK_TTL, time(NULL))));
    const char *p[] = {j->id, w->poller_id, arena_strdup(a, json_object_to_json_string(file))};
    PGresult *r;
    if (db_query(w->rq, &clone_prepared, p, &r) != RV_OK || strcmp(db_get(r, 0, 0), "t")) {
        json_object_put(file); /* ended or taken meanwhile; a dead database: the lease runs out */
        if (made)
            filereg_drop(w->rq, key);
        return false;
    }
    if (!voice) {
        voice = json_object_new_object();
        json_object_object_add(j->input, "voice", voice);
    }
    json_object_object_foreach(file, k, v) json_object_object_add(voice, k, json_object_get(v));
    json_object_put(file);
    return true;
}
