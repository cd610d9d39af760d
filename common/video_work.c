#include "video_work.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "jobj.h"
#include "db.h"
#include "filereg.h"
#include "image.h"
#include "log.h"
#include "providers/local_tts.h"
#include "providers/openai.h"
#include "providers/pexels.h"
#include "storage.h"
#include "titlecard.h"
#include "video_narrate.h"
#include "videos.h"
#include "work.h"

static const db_stmt started = {"SELECT rv_job_started_local($1, $2)", 2};
static const db_stmt fail = {"SELECT rv_job_fail($1, $2::jsonb)", 2};
static const db_stmt retry = {"SELECT rv_job_retry($1, $2, $3, $4::jsonb)", 4};
static const db_stmt succeed = {"SELECT rv_explainer_step_succeed($1, $2::jsonb, $3::jsonb)", 3};
static const db_stmt for_job = {
    "SELECT video_json, narration_key, image_keys FROM rv_video_for_job($1)", 1};

/* How long a step waits out a language model's rate limit before it gives the
 * job back to the queue (the poller's backoff then honours Retry-After). */
enum { LLM_MAX_WAIT_S = 20 };

const char video_work_script_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"sections\"],"
    "\"properties\":{\"sections\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"additionalProperties\":false,\"required\":[\"heading\",\"content\"],"
    "\"properties\":{\"heading\":{\"type\":\"string\",\"description\":\"a short title, at most "
    "200 characters\"},\"content\":{\"type\":\"string\",\"description\":\"the narration of the "
    "section, 1 to 2000 characters\"}}}}}}";

char *video_work_script_prompt(arena *a, json_object *v)
{
    json_object *t = jobj_member(v, "targetSeconds");
    long secs = t ? (long)json_object_get_int64(t) : 60;
    long words = secs * 150 / 60, sections = secs / 15;
    if (sections < 1)
        sections = 1;
    if (sections > VIDEOS_MAX_SECTIONS)
        sections = VIDEOS_MAX_SECTIONS;
    return arena_printf(a,
                        "Write the narration script of an explainer video.\n"
                        "Title: %s\nTopic: %s\nLanguage: %s\nStyle: %s\n"
                        "Length: about %ld seconds when read aloud (about %ld words), in about "
                        "%ld sections; every section at most 2000 characters.",
                        jobj_str(v, "title", ""), jobj_str(v, "topic", ""),
                        jobj_str(v, "language", "en"), jobj_str(v, "style", "clear and friendly"),
                        secs, words, sections);
}

struct first_problem {
    const char *field, *message;
};

static void keep_first(void *user, const char *field, const char *message)
{
    struct first_problem *p = user;
    if (!p->field) {
        p->field = field;
        p->message = message;
    }
}

const char *video_work_script_check(arena *a, json_object *answer, void *user)
{
    struct first_problem p = {0};
    if (json_object_object_length(answer) != 1)
        return "it must hold sections only";
    if (videos_sections_check(a, jobj_member(answer, "sections"), "sections", keep_first, &p, user))
        return arena_printf(a, "%s %s", p.field, p.message);
    return NULL;
}

static char *error_json(arena *a, const char *code, const char *message)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    char *s = arena_strdup(a, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
    json_object_put(e);
    return s;
}

/* Failed for good (refunded; a chain stops). */
static int failed(rv_req *rq, const local_job *job, const char *code, const char *message)
{
    log_msg(LOG_WARN, "video job %s (%s) failed: %s", job->id, job->kind, code);
    const char *p[] = {job->id, error_json(rq->a, code, message)};
    return db_query(rq, &fail, p, NULL) == RV_OK ? LOCAL_FAILED : LOCAL_TRANSIENT;
}

/* Back to the queue after the poller's backoff, at least retry_after seconds. */
static int again(rv_req *rq, const local_job *job, double retry_after, const char *code,
                 const char *message)
{
    double d = work_backoff(job->attempts, retry_after, randombytes_uniform(1000) / 1000.0);
    log_msg(LOG_WARN, "video job %s (%s): %s; retrying in %.1f s", job->id, job->kind, code, d);
    const char *p[] = {job->id, job->poller_id, arena_printf(rq->a, "%.3f", d),
                       error_json(rq->a, code, message)};
    return db_query(rq, &retry, p, NULL) == RV_OK ? LOCAL_FAILED : LOCAL_TRANSIENT;
}

/* Records success (rv_explainer_step_succeed). The n stored files in keys go again
 * when the job had ended meanwhile or the commit's outcome is unknown (filereg.h). */
static int succeeded(rv_req *rq, const local_job *job, json_object *output, json_object *audio,
                     const char *const *keys, size_t n)
{
    const char *p[] = {
        job->id,
        arena_strdup(rq->a, json_object_to_json_string_ext(output, JSON_C_TO_STRING_PLAIN)),
        audio ? arena_strdup(rq->a, json_object_to_json_string_ext(audio, JSON_C_TO_STRING_PLAIN))
              : NULL};
    PGresult *r;
    bool ok = db_query(rq, &succeed, p, &r) == RV_OK;
    if (!ok || strcmp(db_get(r, 0, 0), "t"))
        for (size_t i = 0; i < n; i++)
            filereg_drop(rq, keys[i]);
    return ok ? LOCAL_OK : LOCAL_TRANSIENT;
}

static void put_json(void *o)
{
    json_object_put(o);
}

static int run_script(rv_req *rq, const local_job *job, json_object *video)
{
    openai_request r = {.user_prompt = video_work_script_prompt(rq->a, video),
                        .schema_name = "video_script",
                        .schema = video_work_script_schema};
    if (openai_settings(rq, "script", &r) != RV_OK)
        return LOCAL_TRANSIENT;
    json_object *sections = NULL;
    openai_result res =
        openai_complete(rq->a, &r, video_work_script_check, &sections, LLM_MAX_WAIT_S);
    if (openai_transient(res.status))
        return again(rq, job, res.retry_after, res.code, res.message);
    if (res.status != OPENAI_OK)
        return failed(rq, job, res.code, res.message);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "sections", json_object_get(sections));
    int rc = succeeded(rq, job, out, NULL, NULL, 0);
    json_object_put(out);
    return rc;
}

static double dbl(json_object *o, const char *k, double dflt)
{
    json_object *v = jobj_member(o, k);
    return v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
               ? json_object_get_double(v)
               : dflt;
}

/* The file a step made, stored: registered first, then committed (filereg.h). */
static bool store_file(rv_req *rq, const char *tmp, const char *key)
{
    if (filereg_register(rq, &key, 1) != RV_OK) {
        remove(tmp);
        return false;
    }
    if (store_commit(rq->a, tmp, key) != RV_OK) {
        filereg_drop(rq, key);
        return false;
    }
    return true;
}

/* The narration's timings as its result carries them: per section its span and
 * its words [{text, startMs, endMs}] (from the speech engine's word events). */
static json_object *timings(const local_tts_segment *segs, size_t n, bool estimated)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_new_object(), *ws = json_object_new_array();
        json_object_object_add(s, "position", json_object_new_int((int)i + 1));
        json_object_object_add(s, "startMs", json_object_new_int64(segs[i].start_ms));
        json_object_object_add(s, "endMs", json_object_new_int64(segs[i].end_ms));
        for (size_t k = 0; k < segs[i].n_words; k++) {
            const local_tts_word *w = &segs[i].words[k];
            json_object *o = json_object_new_object();
            json_object_object_add(
                o, "text", json_object_new_string_len(segs[i].text + w->offset, (int)w->len));
            json_object_object_add(o, "startMs", json_object_new_int64(w->start_ms));
            json_object_object_add(o, "endMs", json_object_new_int64(w->end_ms));
            json_object_array_add(ws, o);
        }
        json_object_object_add(s, "words", ws);
        json_object_object_add(s, "wordsEstimated", json_object_new_boolean(estimated));
        json_object_array_add(arr, s);
    }
    return arr;
}

static int narrated(rv_req *rq, const local_job *job, const local_tts_segment *segs, size_t n,
                    char *key, const char *tmp, const local_tts_result *res, bool estimated);

/* Speech for every section, one track: libespeak-ng with the word events for a
 * voice it has, else the voice's provider (a clone at Replicate: video_narrate.h,
 * its words estimated). */
static int run_narration(rv_req *rq, const local_job *job, json_object *video)
{
    json_object *secs = jobj_member(video, "sections"), *voice = jobj_member(job->input, "voice");
    size_t n = secs ? json_object_array_length(secs) : 0;
    if (n == 0)
        return failed(rq, job, "no_script", "the video has no script to narrate");
    const local_voice *lv = local_tts_voice(jobj_str(voice, "presetKey", ""));
    const char *remote = jobj_str(jobj_member(voice, "providerVoiceIds"), "replicate", NULL);
    if (!lv && !remote)
        return failed(rq, job, "voice_unavailable",
                      "this voice is not available on the local provider");
    local_tts_segment *segs = arena_alloc(rq->a, n * sizeof *segs);
    memset(segs, 0, n * sizeof *segs);
    for (size_t i = 0; i < n; i++)
        segs[i].text = jobj_str(json_object_array_get_idx(secs, i), "content", "");
    char *key = store_new_key(rq->a, "audios", job->user_id, "narration", "mp3"), *tmp;
    if (store_temp_path(rq->a, key, &tmp) != RV_OK)
        return LOCAL_TRANSIENT;
    local_tts_result res;
    if (!lv) {
        narrate_request nr = {.job_id = job->id,
                              .user_id = job->user_id,
                              .poller_id = job->poller_id,
                              .voice_id = remote,
                              .model = jobj_str(voice, "speechModel", NULL),
                              .speed = dbl(job->input, "speed", 1)};
        const char *code = "provider_failed", *message = "the narration failed";
        narrate_status ns = video_narrate_replicate(rq, &nr, segs, n, tmp, &res, &code, &message);
        if (ns == NARRATE_FAILED)
            return failed(rq, job, code, message);
        if (ns == NARRATE_TRANSIENT)
            return again(rq, job, 0, code, message);
        return narrated(rq, job, segs, n, key, tmp, &res, true);
    }
    local_tts_params p = {.voice = lv->voice,
                          .variant = lv->variant,
                          .emotion = "neutral",
                          .speed = dbl(job->input, "speed", 1),
                          .volume = 1,
                          .format = "mp3",
                          .sample_rate = 32000};
    char why[256] = "";
    rv_err er = local_tts_render_segments(&p, segs, n, rq->a, tmp, &res, why, sizeof why);
    if (er != RV_OK) {
        remove(tmp);
        if (er == RV_E_UNPROCESSABLE)
            return failed(rq, job, "synthesis_failed", why);
        log_msg(LOG_WARN, "video job %s: narration failed: %s", job->id, why);
        return LOCAL_TRANSIENT;
    }
    return narrated(rq, job, segs, n, key, tmp, &res, false);
}

/* The narration track at tmp stored as key and recorded with its timings. */
static int narrated(rv_req *rq, const local_job *job, const local_tts_segment *segs, size_t n,
                    char *key, const char *tmp, const local_tts_result *res, bool estimated)
{
    if (!store_file(rq, tmp, key))
        return LOCAL_TRANSIENT;
    json_object *a = json_object_new_object(), *out = json_object_new_object();
    json_object_object_add(
        a, "filename", json_object_new_string(arena_printf(rq->a, "narration-%.8s.mp3", job->id)));
    json_object_object_add(a, "contentType", json_object_new_string(res->content_type));
    json_object_object_add(a, "bytes", json_object_new_int64(res->bytes));
    json_object_object_add(a, "durationMs", json_object_new_int64(res->duration_ms));
    json_object_object_add(a, "sampleRate", json_object_new_int(res->sample_rate));
    json_object_object_add(a, "channels", json_object_new_int(1));
    json_object_object_add(a, "storageKey", json_object_new_string(key));
    json_object_object_add(out, "sections", timings(segs, n, estimated));
    int rc = succeeded(rq, job, out, a, (const char *const *)&key, 1);
    json_object_put(a);
    json_object_put(out);
    return rc;
}

/* What a section's picture shows: its heading, else its first sentence. */
static const char *section_subject(arena *a, json_object *sec)
{
    const char *h = jobj_str(sec, "heading", "");
    if (!videos_blank(h))
        return h;
    const char *c = jobj_str(sec, "content", "");
    size_t n = strcspn(c, ".!?");
    return arena_strndup(a, c, n < 160 ? n : 160);
}

static const char prompts_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"prompts\"],"
    "\"properties\":{\"prompts\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}";

struct prompts_want {
    size_t n;
    json_object *got;
};

/* An answer {prompts: [n strings of 1..200 characters]}. */
static const char *prompts_check(arena *a, json_object *answer, void *user)
{
    struct prompts_want *w = user;
    json_object *p = jobj_member(answer, "prompts");
    if (!p || !json_object_is_type(p, json_type_array) || json_object_array_length(p) != w->n)
        return arena_printf(a, "it must hold %zu prompts", w->n);
    for (size_t i = 0; i < w->n; i++) {
        json_object *e = json_object_array_get_idx(p, i);
        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) < 1 ||
            json_object_get_string_len(e) > 200 ||
            strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e))
            return arena_printf(a, "prompts[%zu] must be 1 to 200 characters", i);
    }
    w->got = p;
    return NULL;
}

/* A prompt per section from the language model, when one is configured and
 * answers; else (or on any failure: the pictures matter more than their prompts)
 * the sections' own subjects. */
static const char **image_prompts(rv_req *rq, json_object *video, json_object *secs, size_t n)
{
    const char **out = arena_alloc(rq->a, n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = section_subject(rq->a, json_object_array_get_idx(secs, i));
    if (!openai_available())
        return out;
    char *task = arena_printf(rq->a,
                              "Suggest one stock-photo search query per section of this video, "
                              "%zu in all, in order.\nTopic: %s\n",
                              n, jobj_str(video, "topic", ""));
    for (size_t i = 0; i < n; i++)
        task = arena_printf(rq->a, "%sSection %zu: %s\n", task, i + 1, out[i]);
    openai_request r = {.user_prompt = task,
                        .schema_name = "image_prompts",
                        .schema = prompts_schema,
                        .max_tokens = 2000,
                        .timeout_ms = 30000};
    struct prompts_want w = {.n = n};
    if (openai_settings(rq, "images", &r) != RV_OK)
        return out;
    openai_result res = openai_complete(rq->a, &r, prompts_check, &w, 5);
    for (size_t i = 0; res.status == OPENAI_OK && i < n; i++)
        out[i] = json_object_get_string(json_object_array_get_idx(w.got, i));
    return out;
}

/* A section's stock photo (pexels.h) stored as its picture and thumbnail (two keys
 * appended to keys) and described in im; false when there is none (no key, no
 * photo, rate-limited, a failure: the caller makes a title card instead). */
static bool stock_image(rv_req *rq, const local_job *job, const char *query,
                        const char *orientation, size_t i, pexels_limit *lim, const char **keys,
                        size_t *stored, json_object *im, json_object *e)
{
    pexels_photo ph;
    pexels_status st = pexels_fetch(rq->a, query, orientation, i, IMAGE_MAX_BYTES, lim, &ph);
    if (st != PEXELS_OK) {
        if (st != PEXELS_NONE)
            log_msg(LOG_WARN, "video job %s: section %zu: no stock photo (%s), a title card",
                    job->id, i + 1, st == PEXELS_LIMITED ? "rate-limited" : "failed");
        return false;
    }
    const char *k[2] = {NULL, store_new_key(rq->a, "images", job->user_id, "stock", "jpg")};
    image_type t = image_sniff(ph.bytes, ph.len);
    k[0] = store_new_key(rq->a, "images", job->user_id, "stock", t == IMAGE_PNG ? "png" : "jpg");
    char *tmp[2];
    image_result res;
    if (store_temp_path(rq->a, k[0], &tmp[0]) != RV_OK ||
        store_temp_path(rq->a, k[1], &tmp[1]) != RV_OK)
        return false;
    if (image_process(ph.bytes, ph.len, IMAGE_MAX_PIXELS, tmp[0], tmp[1], &res) != IMAGE_OK) {
        log_msg(LOG_WARN, "video job %s: section %zu: the stock photo does not decode", job->id,
                i + 1);
        remove(tmp[0]);
        remove(tmp[1]);
        return false;
    }
    if (!store_file(rq, tmp[0], k[0])) {
        remove(tmp[1]);
        return false;
    }
    if (!store_file(rq, tmp[1], k[1])) {
        filereg_drop(rq, k[0]);
        return false;
    }
    keys[(*stored)++] = k[0];
    keys[(*stored)++] = k[1];
    json_object_object_add(
        im, "filename",
        json_object_new_string(arena_printf(rq->a, "section-%zu.%s", i + 1, res.ext)));
    json_object_object_add(im, "contentType", json_object_new_string(res.content_type));
    json_object_object_add(im, "width", json_object_new_int(res.width));
    json_object_object_add(im, "height", json_object_new_int(res.height));
    json_object_object_add(im, "bytes", json_object_new_int64((int64_t)res.bytes));
    json_object_object_add(im, "storageKey", json_object_new_string(k[0]));
    json_object_object_add(im, "thumbKey", json_object_new_string(k[1]));
    json_object_object_add(im, "source", json_object_new_string("stock"));
    json_object *at = json_object_new_object();
    json_object_object_add(at, "provider", json_object_new_string("Pexels"));
    json_object_object_add(at, "photographer", json_object_new_string(ph.photographer));
    json_object_object_add(at, "photographerUrl", json_object_new_string(ph.photographer_url));
    json_object_object_add(at, "url", json_object_new_string(ph.page_url));
    json_object_object_add(e, "attribution", at);
    return true;
}

/* A picture per section, timed to the narration: a stock photo of its prompt when
 * Pexels is configured and has one, else a title card of its subject. */
static int run_images(rv_req *rq, const local_job *job, json_object *video)
{
    json_object *secs = jobj_member(video, "sections");
    size_t n = secs ? json_object_array_length(secs) : 0;
    if (n == 0)
        return failed(rq, job, "no_script", "the video has no script");
    const char *aspect = jobj_str(jobj_member(job->input, "render"), "aspect", "16:9");
    int w = 1280, h = 720;
    if (!strcmp(aspect, "9:16"))
        w = 720, h = 1280;
    else if (!strcmp(aspect, "1:1"))
        w = 720;
    const char **prompts = image_prompts(rq, video, secs, n);
    const char **keys = arena_alloc(rq->a, 2 * n * sizeof *keys);
    json_object *out = json_object_new_object(), *imgs = json_object_new_array();
    json_object_object_add(out, "images", imgs);
    int rc = LOCAL_OK;
    size_t stored = 0;
    pexels_limit lim = PEXELS_LIMIT_INIT;
    for (size_t i = 0; i < n && rc == LOCAL_OK; i++) {
        json_object *sec = json_object_array_get_idx(secs, i);
        const char *subject = section_subject(rq->a, sec);
        json_object *e = json_object_new_object(), *im = json_object_new_object();
        json_object_object_add(e, "position", json_object_new_int((int)i + 1));
        json_object_object_add(e, "prompt", json_object_new_string(prompts[i]));
        long s0 = (long)dbl(sec, "startMs", 0), s1 = (long)dbl(sec, "endMs", 0);
        json_object_object_add(e, "startMs", json_object_new_int64(s0));
        json_object_object_add(e, "durationMs", json_object_new_int64(s1 > s0 ? s1 - s0 : 0));
        json_object_object_add(e, "image", im);
        json_object_array_add(imgs, e);
        if (pexels_available() && stock_image(rq, job, prompts[i], pexels_orientation(aspect), i,
                                              &lim, keys, &stored, im, e))
            continue;
        for (int t = 0; t < 2 && rc == LOCAL_OK; t++) { /* the picture, then its thumbnail */
            char *key = store_new_key(rq->a, "images", job->user_id, "card", "jpg"), *tmp;
            titlecard_result res;
            char why[256];
            if (store_temp_path(rq->a, key, &tmp) != RV_OK ||
                titlecard_render(subject, t ? 320 : w, t ? 320 * h / w / 2 * 2 : h, (int)i, tmp,
                                 arena_printf(rq->a, "%s.txt", tmp), &res, why,
                                 sizeof why) != RV_OK) {
                log_msg(LOG_WARN, "video job %s: title card failed: %s", job->id, why);
                rc = LOCAL_TRANSIENT;
                break;
            }
            if (!store_file(rq, tmp, key)) {
                rc = LOCAL_TRANSIENT;
                break;
            }
            keys[stored++] = key;
            if (t == 1) { /* the thumbnail's key */
                json_object_object_add(im, "thumbKey", json_object_new_string(key));
                break;
            }
            json_object_object_add(
                im, "filename",
                json_object_new_string(arena_printf(rq->a, "section-%zu.jpg", i + 1)));
            json_object_object_add(im, "contentType", json_object_new_string("image/jpeg"));
            json_object_object_add(im, "width", json_object_new_int(res.width));
            json_object_object_add(im, "height", json_object_new_int(res.height));
            json_object_object_add(im, "bytes", json_object_new_int64(res.bytes));
            json_object_object_add(im, "storageKey", json_object_new_string(key));
            json_object_object_add(im, "source", json_object_new_string("generated"));
        }
    }
    if (rc == LOCAL_OK)
        rc = succeeded(rq, job, out, NULL, keys, stored);
    else
        for (size_t i = 0; i < stored; i++)
            filereg_drop(rq, keys[i]);
    json_object_put(out);
    return rc;
}

bool video_work_kind(const char *kind)
{
    return kind &&
           (!strcmp(kind, "script") || !strcmp(kind, "narration") || !strcmp(kind, "images"));
}

int video_work_run(rv_req *rq, const local_job *job)
{
    const char *p0[] = {job->id, job->poller_id};
    if (db_query(rq, &started, p0, NULL) != RV_OK) {
        log_msg(LOG_WARN, "video job %s: could not mark it started", job->id);
        return LOCAL_TRANSIENT;
    }
    PGresult *r;
    const char *p1[] = {job->id};
    if (db_query(rq, &for_job, p1, &r) != RV_OK)
        return LOCAL_TRANSIENT;
    json_object *video = PQntuples(r) == 1 ? json_tokener_parse(db_get(r, 0, 0)) : NULL;
    if (!video)
        return failed(rq, job, "video_gone", "the video was deleted");
    arena_defer(rq->a, put_json, video);
    if (!strcmp(job->kind, "script"))
        return run_script(rq, job, video);
    if (!strcmp(job->kind, "narration"))
        return run_narration(rq, job, video);
    if (!strcmp(job->kind, "images"))
        return run_images(rq, job, video);
    return failed(rq, job, "not_implemented", "this step is not available on this server yet");
}
