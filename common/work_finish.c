/* work_finish.c — a succeeded job's outputs: downloaded from the provider under
 * the download rules, probed, registered, stored, and recorded as its result (an
 * audio; a clip's video and its poster). */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "filereg.h"
#include "http.h"
#include "log.h"
#include "media.h"
#include "storage.h"
#include "video_probe.h"
#include "work_internal.h"

static const db_stmt succeed = {"SELECT rv_job_succeed($1, $2::jsonb, $3)", 3};
static const db_stmt succeed_clone = {"SELECT rv_voice_clone_succeed($1, $2::jsonb, $3, $4)", 4};
static const db_stmt succeed_clip = {"SELECT rv_video_clip_succeed($1, $2::jsonb, $3)", 3};

/* A clip's video, downloaded to j->tmp: probed (a real H.264 MP4), its poster made
 * from the first frame, both registered and stored, then recorded
 * (rv_video_clip_succeed, whose trigger fills the clip). */
static void finish_clip(work_ctx *w, job_ref *j)
{
    video_info vi;
    const char *keys[] = {j->key, store_new_key(w->rq->a, "clips", j->user_id, NULL, "jpg")};
    char *poster;
    if (store_temp_path(w->rq->a, keys[1], &poster) != RV_OK) {
        unlink(j->tmp);
        work_to_released(w, j->id, 5);
        return;
    }
    rv_err er = video_probe(j->tmp, poster, &vi);
    if (er != RV_OK) {
        unlink(j->tmp);
        unlink(poster);
        if (er == RV_E_UNPROCESSABLE)
            work_to_failed(w, j->id, "output_unavailable",
                           "the provider's output is not a playable H.264 video");
        else
            work_to_released(w, j->id, 5);
        return;
    }
    struct stat sb;
    long long bytes = stat(j->tmp, &sb) ? 0 : (long long)sb.st_size;
    if (filereg_register(w->rq, keys, 2) != RV_OK) {
        unlink(j->tmp);
        unlink(poster);
        work_to_released(w, j->id, 5);
        return;
    }
    if (store_commit(w->rq->a, j->tmp, keys[0]) != RV_OK ||
        store_commit(w->rq->a, poster, keys[1]) != RV_OK) {
        unlink(poster);
        filereg_drop(w->rq, keys[0]);
        filereg_drop(w->rq, keys[1]);
        work_to_released(w, j->id, 5);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "videoKey", json_object_new_string(keys[0]));
    json_object_object_add(o, "posterKey", json_object_new_string(keys[1]));
    json_object_object_add(o, "durationMs", json_object_new_int64(vi.duration_ms));
    json_object_object_add(o, "bytes", json_object_new_int64(bytes));
    json_object_object_add(o, "width", json_object_new_int(vi.width));
    json_object_object_add(o, "height", json_object_new_int(vi.height));
    json_object_object_add(o, "contentType", json_object_new_string("video/mp4"));
    const char *p[] = {j->id, arena_strdup(w->rq->a, json_object_to_json_string(o)),
                       j->st.provider_job_id};
    json_object_put(o);
    PGresult *r;
    if (db_query(w->rq, &succeed_clip, p, &r) != RV_OK || strcmp(db_get(r, 0, 0), "t")) {
        filereg_drop(w->rq, keys[0]);
        filereg_drop(w->rq, keys[1]);
        return;
    }
    log_msg(LOG_INFO, "job %s succeeded", j->id);
}

/* What a probed file is, as a MIME type. */
static const char *content_type_of(const media_info *mi)
{
    if (strstr(mi->format, "mp3"))
        return "audio/mpeg";
    if (strstr(mi->format, "wav"))
        return "audio/wav";
    if (strstr(mi->format, "flac"))
        return "audio/flac";
    if (strstr(mi->format, "ogg"))
        return "audio/ogg";
    return "application/octet-stream";
}

static const char *ext_for(const char *content_type)
{
    if (!content_type)
        return "bin";
    if (strstr(content_type, "mpeg"))
        return "mp3";
    if (strstr(content_type, "wav"))
        return "wav";
    if (strstr(content_type, "flac"))
        return "flac";
    if (strstr(content_type, "ogg"))
        return "ogg";
    return "bin";
}

/* Records a stored file of this many bytes as the job's result (a clone's: its
 * preview, with the provider's voice id); drops the file if the job ended meanwhile. */
static void succeed_with(work_ctx *w, const job_ref *j, const char *key, const media_info *mi,
                         const char *filename, long long bytes)
{
    bool clone = !strcmp(j->kind, "voice_clone");
    if (clone && !j->st.voice_id) {
        filereg_drop(w->rq, key);
        work_to_failed(w, j->id, "provider_failed", "the provider returned no voice id");
        return;
    }
    json_object *a = json_object_new_object();
    json_object_object_add(a, "filename", json_object_new_string(filename));
    json_object_object_add(a, "contentType", json_object_new_string(content_type_of(mi)));
    json_object_object_add(a, "bytes", json_object_new_int64(bytes));
    json_object_object_add(a, "durationMs", json_object_new_int64(mi->duration_ms));
    json_object_object_add(a, "sampleRate", json_object_new_int(mi->sample_rate));
    json_object_object_add(a, "channels", json_object_new_int(mi->channels));
    json_object_object_add(a, "storageKey", json_object_new_string(key));
    const char *p[] = {j->id, arena_strdup(w->rq->a, json_object_to_json_string(a)),
                       j->st.provider_job_id, j->st.voice_id};
    json_object_put(a);
    PGresult *r;
    if (db_query(w->rq, clone ? &succeed_clone : &succeed, p, &r) != RV_OK ||
        strcmp(db_get(r, 0, 0), "t")) {
        /* Ended meanwhile, or the commit's answer was lost: the file goes only if
         * no row refers to it. */
        filereg_drop(w->rq, key);
        return;
    }
    log_msg(LOG_INFO, "job %s succeeded", j->id);
}

/* Downloads the outputs of every succeeded job in js concurrently, then stores
 * and records each. */
void work_finish_all(work_ctx *w, job_ref **js, int n)
{
    if (n == 0)
        return;
    http_call *calls = arena_alloc(w->rq->a, (size_t)n * sizeof *calls);
    for (int i = 0; i < n; i++) {
        job_ref *j = js[i];
        bool clip = !strcmp(j->kind, "video_clip");
        j->key = store_new_key(w->rq->a, clip ? "clips" : "audios", j->user_id, j->kind,
                               clip ? "mp4" : "out");
        char *tmp;
        if (store_temp_path(w->rq->a, j->key, &tmp) != RV_OK)
            tmp = NULL;
        j->tmp = tmp;
        calls[i].method = "GET";
        calls[i].url = j->st.output_url;
        calls[i].save_to = tmp ? tmp : "/dev/null";
        calls[i].timeout_ms = 120000;
        prov_download_setup(j->ad, j->kind, &calls[i]); /* https, public, capped */
    }
    http_run(w->rq->a, calls, (size_t)n);
    media_info *mis = arena_alloc(w->rq->a, (size_t)n * sizeof *mis);
    const char **keys = arena_alloc(w->rq->a, (size_t)n * sizeof *keys);
    size_t n_keys = 0;
    for (int i = 0; i < n; i++) {
        job_ref *j = js[i];
        http_call *c = &calls[i];
        media_info *mi = &mis[i];
        j->stored = NULL; /* set once the output is known good */
        if (!j->tmp || http_transient(c)) {
            if (j->tmp)
                unlink(j->tmp);
            log_msg(LOG_WARN, "job %s: output download failed (%ld %s); checking again soon", j->id,
                    c->status, c->error);
            work_to_released(w, j->id, 5);
            continue;
        }
        if (c->status == 200 && !strcmp(j->kind, "video_clip")) {
            finish_clip(w, j);
            continue;
        }
        if (c->status != 200 || media_probe(j->tmp, mi) != RV_OK || !mi->has_audio) {
            unlink(j->tmp);
            work_to_failed(w, j->id, "output_unavailable",
                           c->status != 200 ? "the provider's output has expired or is gone"
                                            : "the provider's output is not playable audio");
            continue;
        }
        /* Name the file by what it is, not by what was asked for. */
        const char *ext = ext_for(content_type_of(mi));
        j->stored = keys[n_keys++] =
            arena_printf(w->rq->a, "%.*s%s", (int)(strlen(j->key) - 3), j->key, ext);
    }
    /* Registered before they are stored, in one round trip: a commit that may have
     * referenced one is then never followed by its deletion (filereg.h). */
    bool registered = filereg_register(w->rq, keys, n_keys) == RV_OK;
    for (int i = 0; i < n; i++) {
        job_ref *j = js[i];
        if (!j->stored)
            continue;
        if (!registered) {
            unlink(j->tmp);
            work_to_released(w, j->id, 5);
            continue;
        }
        /* Sized before storing: the stored file need not be local. */
        struct stat sb;
        long long bytes = stat(j->tmp, &sb) ? 0 : (long long)sb.st_size;
        if (store_commit(w->rq->a, j->tmp, j->stored) != RV_OK) {
            filereg_drop(w->rq, j->stored);
            work_to_released(w, j->id, 5);
            continue;
        }
        const char *ext = strrchr(j->stored, '.') + 1;
        succeed_with(w, j, j->stored, &mis[i],
                     arena_printf(w->rq->a, "%s-%.8s.%s", j->kind, j->id, ext), bytes);
    }
}
