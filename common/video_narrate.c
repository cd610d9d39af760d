#include "video_narrate.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "media.h"
#include "providers/provider.h"

/* How long a create waits for its prediction's end (Prefer: wait), and how often a
 * prediction still going is asked for after that. */
enum { CREATE_WAIT_S = 5, POLL_INTERVAL_MS = 500 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The input a tts job of this voice would have, for one section's text. */
static json_object *section_input(const narrate_request *r, const char *text)
{
    json_object *in = json_object_new_object(), *voice = json_object_new_object(),
                *ids = json_object_new_object();
    json_object_object_add(ids, "replicate", json_object_new_string(r->voice_id));
    json_object_object_add(voice, "providerVoiceIds", ids);
    json_object_object_add(in, "text", json_object_new_string(text));
    json_object_object_add(in, "voice", voice);
    json_object_object_add(in, "speed", json_object_new_double(r->speed));
    json_object_object_add(in, "sampleRate", json_object_new_int(NARRATE_RATE));
    json_object_object_add(in, "audioFormat", json_object_new_string("wav"));
    return in;
}

static bool ended(prov_state s)
{
    return s == PROV_SUCCEEDED || s == PROV_FAILED || s == PROV_CANCELLED;
}

static const db_stmt parts_of = {"SELECT rv_narration_parts_of($1)", 1};
static const db_stmt parts_keep = {"SELECT rv_narration_parts_keep($1, $2, $3::jsonb)", 3};

/* The predictions an earlier attempt of the job kept (ids[i], else NULL). */
static void parts_kept(rv_req *rq, const narrate_request *r, const char **ids, size_t n)
{
    PGresult *res;
    const char *p[] = {r->job_id};
    if (db_query(rq, &parts_of, p, &res) != RV_OK || PQntuples(res) != 1 || !db_get(res, 0, 0))
        return;
    json_object *arr = json_tokener_parse(db_get(res, 0, 0));
    if (arr && json_object_is_type(arr, json_type_array) && json_object_array_length(arr) == n)
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(arr, i);
            const char *id =
                json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
            ids[i] = id && prov_id_valid(id) ? arena_strdup(rq->a, id) : NULL;
        }
    json_object_put(arr);
}

/* Keeps the sections' predictions in the job's row (best effort: without it, a
 * later attempt asks again). */
static void parts_keep_all(rv_req *rq, const narrate_request *r, const prov_status *st, size_t n)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(st[i].provider_job_id));
    const char *p[] = {
        r->job_id, r->poller_id,
        arena_strdup(rq->a, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN))};
    json_object_put(arr);
    if (db_query(rq, &parts_keep, p, NULL) != RV_OK)
        log_msg(LOG_WARN, "narration of job %s: its predictions could not be kept", r->job_id);
}

/* Each section's prediction: the one an earlier attempt kept while the provider
 * still has it going or done, else a new one; all kept in the job's row, then
 * waited for until they end (or the child's time is nearly out). st[i] gets each
 * one's last status. */
static narrate_status predict(rv_req *rq, const narrate_request *r, const local_tts_segment *segs,
                              size_t n, prov_status *st, const char **code, const char **message)
{
    arena *a = rq->a;
    const prov_adapter *ad = prov_find("replicate");
    http_call *calls = arena_alloc(a, n * sizeof *calls);
    const char **ids = arena_alloc(a, n * sizeof *ids);
    memset(ids, 0, n * sizeof *ids);
    parts_kept(rq, r, ids, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i]) {
            memset(&calls[k], 0, sizeof calls[k]);
            ad->build_get(a, ids[i], &calls[k]);
            calls[k++].user = &st[i];
        }
    http_run(a, calls, k);
    for (size_t i = 0; i < k; i++) {
        prov_status *s = calls[i].user;
        prov_result res = ad->read(a, &calls[i]);
        if (res.outcome == PROV_TRANSIENT) {
            *code = "provider_unavailable";
            *message = res.message;
            return NARRATE_TRANSIENT;
        }
        /* Gone, failed or cancelled: that section is asked for again. */
        if (res.outcome == PROV_OK && res.status.state != PROV_FAILED &&
            res.status.state != PROV_CANCELLED)
            *s = res.status;
        else
            ids[s - st] = NULL;
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i])
            continue;
        json_object *in = section_input(r, segs[i].text);
        prov_job pj = {.id = r->job_id,
                       .kind = "tts",
                       .model = r->model,
                       .user_id = r->user_id,
                       .input = in,
                       .created_s = r->created_s};
        memset(&calls[k], 0, sizeof calls[k]);
        prov_replicate_build_plain(a, &pj, CREATE_WAIT_S, &calls[k]);
        calls[k].timeout_ms = (CREATE_WAIT_S + 15) * 1000L;
        calls[k++].user = &st[i];
        json_object_put(in);
    }
    http_run(a, calls, k);
    for (size_t i = 0; i < k; i++) {
        prov_status *s = calls[i].user;
        prov_result res = ad->read(a, &calls[i]);
        if (res.outcome != PROV_OK) {
            *code = res.outcome == PROV_TRANSIENT ? "provider_unavailable" : "provider_rejected";
            *message = arena_printf(a, "section %zu: %s", (size_t)(s - st) + 1, res.message);
            return res.outcome == PROV_TRANSIENT ? NARRATE_TRANSIENT : NARRATE_FAILED;
        }
        *s = res.status;
    }
    if (k > 0)
        parts_keep_all(rq, r, st, n);
    double deadline = now_s() + (double)config->local_timeout - 30;
    for (;;) {
        k = 0;
        for (size_t i = 0; i < n; i++)
            if (!ended(st[i].state)) {
                memset(&calls[k], 0, sizeof calls[k]);
                ad->build_get(a, st[i].provider_job_id, &calls[k]);
                calls[k++].user = &st[i];
            }
        if (k == 0)
            return NARRATE_OK;
        if (now_s() > deadline) {
            *code = "provider_timeout";
            *message = "the provider took too long to speak the sections";
            return NARRATE_TRANSIENT;
        }
        nanosleep(&(struct timespec){0, POLL_INTERVAL_MS * 1000000L}, NULL);
        http_run(a, calls, k);
        for (size_t i = 0; i < k; i++) {
            prov_result res = ad->read(a, &calls[i]);
            if (res.outcome == PROV_OK)
                *(prov_status *)calls[i].user = res.status;
            else if (res.outcome == PROV_PERMANENT) {
                *code = "provider_failed";
                *message = res.message;
                return NARRATE_FAILED;
            } /* transient: asked again */
        }
    }
}

/* The sink that appends a section's decoded samples to the track. */
typedef struct track {
    media_writer *w;
    int64_t samples;
    char *why;
    size_t why_len;
} track;

static rv_err append(void *ctx, const float *x, int n)
{
    track *t = ctx;
    int16_t buf[1024];
    while (n > 0) {
        int k = n < 1024 ? n : 1024;
        for (int i = 0; i < k; i++) {
            float v = x[i] > 1.0f ? 1.0f : x[i] < -1.0f ? -1.0f : x[i];
            buf[i] = (int16_t)(v * 32767.0f);
        }
        rv_err er = media_writer_write(t->w, buf, (size_t)k, t->why, t->why_len);
        if (er != RV_OK)
            return er;
        t->samples += k;
        x += k;
        n -= k;
    }
    return RV_OK;
}

void video_narrate_spread(arena *a, local_tts_segment *s)
{
    const char *t = s->text;
    size_t len = strlen(t), n = 0, chars = 0;
    for (size_t i = 0; i < len;) {
        size_t b = strspn(t + i, " \t\r\n");
        i += b;
        size_t w = strcspn(t + i, " \t\r\n");
        if (w) {
            n++;
            for (size_t k = 0; k < w; k++)
                chars += ((unsigned char)t[i + k] & 0xC0) != 0x80;
        }
        i += w;
    }
    s->n_words = n;
    s->words = arena_alloc(a, (n ? n : 1) * sizeof *s->words);
    int64_t span = s->end_ms - s->start_ms;
    size_t done = 0, at = 0;
    for (size_t i = 0; i < len && at < n;) {
        i += strspn(t + i, " \t\r\n");
        size_t w = strcspn(t + i, " \t\r\n");
        if (!w)
            break;
        size_t c = 0;
        for (size_t k = 0; k < w; k++)
            c += ((unsigned char)t[i + k] & 0xC0) != 0x80;
        local_tts_word *wd = &s->words[at++];
        wd->offset = i;
        wd->len = w;
        wd->start_ms =
            s->start_ms + (int64_t)((double)span * (double)done / (double)(chars ? chars : 1));
        done += c;
        wd->end_ms =
            s->start_ms + (int64_t)((double)span * (double)done / (double)(chars ? chars : 1));
        i += w;
    }
}

/* Downloads every section's output and joins them into out_path. */
static narrate_status join(arena *a, const narrate_request *r, local_tts_segment *segs, size_t n,
                           const prov_status *st, const char *out_path, local_tts_result *res,
                           const char **code, const char **message)
{
    const prov_adapter *ad = prov_find("replicate");
    http_call *calls = arena_alloc(a, n * sizeof *calls);
    memset(calls, 0, n * sizeof *calls);
    for (size_t i = 0; i < n; i++) {
        calls[i].method = "GET";
        calls[i].url = st[i].output_url;
        calls[i].save_to = arena_printf(a, "%s.section%zu", out_path, i + 1);
        calls[i].timeout_ms = 120000;
        prov_download_setup(ad, "tts", &calls[i]); /* https, public, capped */
    }
    http_run(a, calls, n);
    narrate_status ns = NARRATE_OK;
    for (size_t i = 0; i < n && ns == NARRATE_OK; i++)
        if (calls[i].status != 200) {
            ns = http_transient(&calls[i]) ? NARRATE_TRANSIENT : NARRATE_FAILED;
            *code = "output_unavailable";
            *message =
                arena_printf(a, "section %zu: the provider's output could not be fetched", i + 1);
        }
    char why[256] = "";
    track t = {.why = why, .why_len = sizeof why};
    if (ns == NARRATE_OK && media_writer_open(&t.w, out_path, MEDIA_MP3, NARRATE_RATE, NARRATE_RATE,
                                              why, sizeof why) != RV_OK) {
        log_msg(LOG_WARN, "narration of job %s: %s", r->job_id, why);
        ns = NARRATE_TRANSIENT;
        *code = "internal";
        *message = "the narration could not be written";
    }
    for (size_t i = 0; i < n && ns == NARRATE_OK; i++) {
        segs[i].start_ms = t.samples * 1000 / NARRATE_RATE;
        rv_err er = media_decode(calls[i].save_to, NARRATE_RATE, append, &t, why, sizeof why);
        segs[i].end_ms = t.samples * 1000 / NARRATE_RATE;
        if (er != RV_OK || segs[i].end_ms <= segs[i].start_ms) {
            ns = er == RV_E_INTERNAL ? NARRATE_TRANSIENT : NARRATE_FAILED;
            *code = "output_unavailable";
            *message =
                arena_printf(a, "section %zu: the provider's output is not playable audio", i + 1);
        }
        video_narrate_spread(a, &segs[i]);
    }
    for (size_t i = 0; i < n; i++)
        remove(calls[i].save_to);
    if (ns != NARRATE_OK) {
        media_writer_abort(t.w);
        return ns;
    }
    media_written wr;
    if (media_writer_finish(t.w, &wr, why, sizeof why) != RV_OK) {
        log_msg(LOG_WARN, "narration of job %s: %s", r->job_id, why);
        *code = "internal";
        *message = "the narration could not be written";
        return NARRATE_TRANSIENT;
    }
    res->duration_ms = wr.duration_ms;
    res->bytes = wr.bytes;
    res->content_type = wr.content_type;
    res->sample_rate = wr.sample_rate;
    return NARRATE_OK;
}

narrate_status video_narrate_replicate(rv_req *rq, const narrate_request *r,
                                       local_tts_segment *segs, size_t n, const char *out_path,
                                       local_tts_result *res, const char **code,
                                       const char **message)
{
    arena *a = rq->a;
    if (!prov_find("replicate") || !prov_find("replicate")->available()) {
        *code = "provider_unavailable";
        *message = "no provider here can speak this voice";
        return NARRATE_FAILED;
    }
    prov_status *st = arena_alloc(a, (n ? n : 1) * sizeof *st);
    narrate_status ns = predict(rq, r, segs, n, st, code, message);
    if (ns != NARRATE_OK)
        return ns;
    for (size_t i = 0; i < n; i++)
        if (st[i].state != PROV_SUCCEEDED) {
            *code = "provider_failed";
            *message = arena_printf(a, "section %zu could not be spoken: %s", i + 1,
                                    st[i].message ? st[i].message : "the prediction ended");
            return NARRATE_FAILED;
        }
    return join(a, r, segs, n, st, out_path, res, code, message);
}
