/* local_video.c — video jobs at the local provider: limits, inputs, progress,
 * storing the result; and the video_clip and video_compile builders. */
#include "local_video.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "filereg.h"
#include "log.h"
#include "storage.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const db_stmt started = {"SELECT rv_job_started_local($1, $2)", 2};
static const db_stmt fail = {"SELECT rv_job_fail($1, $2::jsonb)", 2};
static const db_stmt succeed = {"SELECT rv_video_job_succeed($1, $2::jsonb)", 2};
static const db_stmt progress = {"SELECT rv_job_progress($1, $2, $3)", 3};

bool local_video_kind(const char *kind)
{
    return kind && (!strcmp(kind, "video_clip") || !strcmp(kind, "video_compile") ||
                    !strcmp(kind, "video_render"));
}

/* ---- input helpers ----------------------------------------------------------------- */

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static double num(json_object *o, const char *k, double dflt)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && (json_object_is_type(v, json_type_int) ||
                                                   json_object_is_type(v, json_type_double))
               ? json_object_get_double(v)
               : dflt;
}

static void unlink_later(void *path)
{
    unlink(path);
}

rv_err local_video_input(rv_req *rq, const char *key, const char **path)
{
    if (!key || !store_key_valid(key))
        return RV_E_NOT_FOUND;
    if (!strcmp(store_backend(), "local")) {
        char *p = store_path(rq->a, key);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            return RV_E_NOT_FOUND;
        *path = p;
        return RV_OK;
    }
    char *tmp;
    rv_err er = store_temp_path(rq->a, key, &tmp);
    if (er != RV_OK)
        return er;
    if ((er = store_fetch(rq->a, key, tmp)) != RV_OK)
        return er;
    arena_defer(rq->a, unlink_later, tmp);
    *path = tmp;
    return RV_OK;
}

/* ---- the job's end ------------------------------------------------------------------ */

int local_video_fail(rv_req *rq, const local_job *job, const char *code, const char *message)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    const char *p[] = {job->id, arena_strdup(rq->a, json_object_to_json_string(e))};
    json_object_put(e);
    log_msg(LOG_WARN, "local video job %s failed: %s", job->id, message);
    return db_query(rq, &fail, p, NULL) == RV_OK ? LOCAL_FAILED : LOCAL_TRANSIENT;
}

typedef struct progress_ctx {
    rv_req *rq;
    const local_job *job;
    struct timespec last;
} progress_ctx;

/* At most one write a second; a job that ended meanwhile stops the render. */
static bool on_progress(void *ctx, int pct)
{
    progress_ctx *pc = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (pct >= 100 ||
        (now.tv_sec - pc->last.tv_sec) * 1000 + (now.tv_nsec - pc->last.tv_nsec) / 1000000 < 1000)
        return true;
    pc->last = now;
    /* 10 % was spent getting here (started); the render is the rest. */
    const char *p[] = {pc->job->id, pc->job->poller_id,
                       arena_printf(pc->rq->a, "%d", 10 + pct * 89 / 100)};
    PGresult *r;
    if (db_query(pc->rq, &progress, p, &r) != RV_OK)
        return true; /* a lost write is no reason to stop */
    return strcmp(db_get(r, 0, 0), "f") != 0;
}

int local_video_finish(rv_req *rq, const local_job *job, const render_spec *spec)
{
    char *keys[2] = {store_new_key(rq->a, "videos", job->user_id, NULL, "mp4"),
                     store_new_key(rq->a, "posters", job->user_id, NULL, "jpg")};
    char *video, *poster;
    if (store_temp_path(rq->a, keys[0], &video) != RV_OK ||
        store_temp_path(rq->a, keys[1], &poster) != RV_OK)
        return LOCAL_TRANSIENT;
    progress_ctx pc = {.rq = rq, .job = job};
    clock_gettime(CLOCK_MONOTONIC, &pc.last);
    render_result res;
    char why[256] = "";
    rv_err er = render_run(spec, video, poster, on_progress, &pc, &res, why, sizeof why);
    if (er != RV_OK) {
        if (er == RV_E_UNPROCESSABLE)
            return local_video_fail(rq, job, "render_failed", why);
        if (!strcmp(why, "stopped")) /* the job ended meanwhile: nothing to record */
            return LOCAL_OK;
        log_msg(LOG_WARN, "local video job %s: render failed: %s", job->id, why);
        return LOCAL_TRANSIENT;
    }
    if (filereg_register(rq, (const char *const *)keys, 2) != RV_OK) {
        remove(video);
        remove(poster);
        return LOCAL_TRANSIENT;
    }
    if (store_commit(rq->a, video, keys[0]) != RV_OK) {
        remove(poster);
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
        return LOCAL_TRANSIENT;
    }
    if (store_commit(rq->a, poster, keys[1]) != RV_OK) {
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
        return LOCAL_TRANSIENT;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "videoKey", json_object_new_string(keys[0]));
    json_object_object_add(o, "posterKey", json_object_new_string(keys[1]));
    json_object_object_add(o, "durationMs", json_object_new_int64(res.duration_ms));
    json_object_object_add(o, "bytes", json_object_new_int64(res.bytes));
    json_object_object_add(o, "width", json_object_new_int(res.width));
    json_object_object_add(o, "height", json_object_new_int(res.height));
    json_object_object_add(o, "contentType", json_object_new_string("video/mp4"));
    const char *p[] = {job->id, arena_strdup(rq->a, json_object_to_json_string(o))};
    json_object_put(o);
    PGresult *r;
    if (db_query(rq, &succeed, p, &r) != RV_OK) {
        /* The commit may have gone through with its answer lost: the files go only
         * if no row refers to them (filereg.h), and the job is looked at again. */
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
        return LOCAL_TRANSIENT;
    }
    if (strcmp(db_get(r, 0, 0), "t")) { /* ended meanwhile: drop the files */
        filereg_drop(rq, keys[0]);
        filereg_drop(rq, keys[1]);
    }
    return LOCAL_OK;
}

/* ---- video_clip ---------------------------------------------------------------------- */

/* A motion the prompt asks for in so many words, else one picked by the clip's id
 * (the same clip moves the same way when rendered again). */
static render_motion clip_motion(const char *prompt, const char *seed)
{
    static const struct {
        const char *words;
        render_motion m;
    } asks[] = {
        {"zoom out", RENDER_MOTION_ZOOM_OUT}, {"zoom in", RENDER_MOTION_ZOOM_IN},
        {"pan left", RENDER_MOTION_PAN_LEFT}, {"pan right", RENDER_MOTION_PAN_RIGHT},
        {"pan up", RENDER_MOTION_PAN_UP},     {"pan down", RENDER_MOTION_PAN_DOWN},
        {"static", RENDER_MOTION_NONE},
    };
    for (size_t i = 0; prompt && i < sizeof asks / sizeof asks[0]; i++)
        if (strcasestr(prompt, asks[i].words))
            return asks[i].m;
    static const render_motion picks[] = {RENDER_MOTION_ZOOM_IN, RENDER_MOTION_PAN_RIGHT,
                                          RENDER_MOTION_ZOOM_OUT, RENDER_MOTION_PAN_LEFT};
    unsigned h = 5381;
    for (const char *c = seed ? seed : ""; *c; c++)
        h = h * 33 + (unsigned char)*c;
    return picks[h % 4];
}

static int run_clip(rv_req *rq, const local_job *job)
{
    json_object *in = job->input;
    double seconds = num(in, "durationSeconds", 5);
    render_aspect aspect = RENDER_16_9;
    const char *ratio = str(in, "ratio");
    if (ratio && !render_aspect_parse(ratio, &aspect))
        return local_video_fail(rq, job, "invalid_input", "unknown ratio");
    if (!(seconds >= 1 && seconds <= 60))
        return local_video_fail(rq, job, "invalid_input", "a clip lasts 1 to 60 seconds");
    const char *image;
    rv_err er = local_video_input(rq, str(in, "imageKey"), &image);
    if (er == RV_E_NOT_FOUND)
        return local_video_fail(rq, job, "input_missing", "the image is gone");
    if (er != RV_OK)
        return LOCAL_TRANSIENT;
    render_segment seg = {
        .kind = RENDER_IMAGE,
        .path = image,
        .duration_ms = (int64_t)(seconds * 1000),
        .motion = clip_motion(str(in, "prompt"), str(in, "clipId") ? str(in, "clipId") : job->id),
        .fit = RENDER_FIT_COVER,
    };
    render_spec spec = {
        .segments = &seg, .n_segments = 1, .profile = render_profile_of(RENDER_720P, aspect)};
    return local_video_finish(rq, job, &spec);
}

/* ---- video_compile -------------------------------------------------------------------- */

enum { MUSIC_FADE_IN_MS = 500, MUSIC_FADE_OUT_MS = 2000 };

static int run_compile(rv_req *rq, const local_job *job)
{
    json_object *in = job->input, *source = NULL, *clips = NULL, *music = NULL;
    json_object_object_get_ex(in, "source", &source);
    json_object_object_get_ex(source, "clips", &clips);
    json_object_object_get_ex(source, "music", &music);
    int n = json_object_is_type(clips, json_type_array) ? (int)json_object_array_length(clips) : 0;
    render_transition t;
    if (n < 1 || n > RENDER_MAX_SEGMENTS || !render_transition_parse(str(in, "transition"), &t))
        return local_video_fail(rq, job, "invalid_input", "no clips, or an unknown transition");
    render_segment *segs = arena_alloc(rq->a, (size_t)n * sizeof *segs);
    for (int i = 0; i < n; i++) {
        const char *path;
        rv_err er = local_video_input(
            rq, str(json_object_array_get_idx(clips, (size_t)i), "videoKey"), &path);
        if (er == RV_E_NOT_FOUND)
            return local_video_fail(rq, job, "input_missing", "a clip's video is gone");
        if (er != RV_OK)
            return LOCAL_TRANSIENT;
        segs[i] = (render_segment){.kind = RENDER_CLIP, .path = path, .fit = RENDER_FIT_CONTAIN};
    }
    render_audio track = {0};
    const char *music_key =
        json_object_is_type(music, json_type_object) ? str(music, "storageKey") : NULL;
    if (music_key) {
        rv_err er = local_video_input(rq, music_key, &track.path);
        if (er == RV_E_NOT_FOUND)
            return local_video_fail(rq, job, "input_missing", "the music track is gone");
        if (er != RV_OK)
            return LOCAL_TRANSIENT;
        double vol = num(in, "musicVolume", 50);
        track.volume = (vol < 0 ? 0 : vol > 100 ? 100 : vol) / 100.0;
        track.loop = true;
        track.fade_in_ms = MUSIC_FADE_IN_MS;
        track.fade_out_ms = MUSIC_FADE_OUT_MS;
    }
    render_spec spec = {
        .segments = segs,
        .n_segments = n,
        .audio = music_key ? &track : NULL,
        .n_audio = music_key ? 1 : 0,
        .transition = t,
        .transition_ms = t == RENDER_TRANSITION_NONE
                             ? 0
                             : (int64_t)(num(in, "transitionSeconds", 1) * 1000 + 0.5),
        .profile = render_profile_of(RENDER_720P, RENDER_16_9),
    };
    return local_video_finish(rq, job, &spec);
}

/* ---- the child's entry --------------------------------------------------------------------- */

/* The child's limits: CPU time (SIGXCPU at the soft limit ends it, the poller
 * retries the job) and address space (an allocation past it fails). */
static void limit_process(void)
{
    rlim_t cpu = (rlim_t)config->render_cpu_seconds;
    struct rlimit r = {cpu, cpu + 5};
    if (setrlimit(RLIMIT_CPU, &r) != 0)
        log_msg(LOG_WARN, "could not limit a render's CPU time");
#ifndef UNDER_ASAN /* the sanitizer reserves terabytes of address space */
    rlim_t mem = (rlim_t)config->render_memory_mb << 20;
    r = (struct rlimit){mem, mem};
    if (setrlimit(RLIMIT_AS, &r) != 0)
        log_msg(LOG_WARN, "could not limit a render's memory");
#endif
}

int local_video_run(rv_req *rq, const local_job *job)
{
    limit_process();
    const char *p[] = {job->id, job->poller_id};
    PGresult *r;
    if (db_query(rq, &started, p, &r) != RV_OK || strcmp(db_get(r, 0, 0), "t")) {
        log_msg(LOG_WARN, "local job %s: could not mark it started", job->id);
        return LOCAL_TRANSIENT;
    }
    if (!strcmp(job->kind, "video_clip"))
        return run_clip(rq, job);
    if (!strcmp(job->kind, "video_compile"))
        return run_compile(rq, job);
    return local_video_render(rq, job);
}
