/* Replicate: predictions API and Standard Webhooks.
 *
 * Official models are addressed as POST /v1/models/{owner}/{name}/predictions,
 * versioned ones ("owner/name:version") as POST /v1/predictions {version}. Every
 * prediction carries our callback URL with the job id and its token, so a webhook
 * is matched to its job even when we never stored the prediction id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "pgjson.h"
#include "provider.h"
#include "storage.h"

/* How long the links to our files that go into a model's input stay valid, counted
 * from the job's creation: far past any job's deadline, and the same link for every
 * build of one job's input (a rescue matches the provider's work by its input). */
enum { INPUT_LINK_TTL = 6 * 3600, PROV_MESSAGE_MAX = 1000 };

static const char *base_url(void)
{
    return config->replicate_url;
}

static bool available(void)
{
    return config->replicate_token != NULL;
}

/* A narration's sections in a voice cloned here are speech predictions too, made
 * by the poller itself (video_narrate.h): the job's provider stays local. */
static bool serves(const char *kind)
{
    return !strcmp(kind, "tts") || !strcmp(kind, "sfx") || !strcmp(kind, "voice_clone") ||
           !strcmp(kind, "voice_conversion") || !strcmp(kind, "narration");
}

static void auth_headers(arena *a, http_call *c)
{
    c->headers[0] = arena_printf(a, "Authorization: Bearer %s", config->replicate_token);
    c->headers[1] = "Content-Type: application/json";
    c->headers[2] = NULL;
    c->provider = "replicate"; /* counted in the provider metrics */
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static void copy(json_object *to, const char *to_key, json_object *from, const char *key)
{
    json_object *v = get(from, key);
    if (v)
        json_object_object_add(to, to_key, json_object_get(v));
}

/* Our job input → the model's input. Deterministic for a job: built again, it is
 * the same (find_page compares it with the provider's). */
static json_object *model_input(arena *a, const prov_job *job)
{
    json_object *in = json_object_new_object(), *src = job->input;
    if (!strcmp(job->kind, "tts")) {
        copy(in, "text", src, "text");
        json_object *ids = get(get(src, "voice"), "providerVoiceIds");
        copy(in, "voice_id", ids, "replicate");
        copy(in, "speed", src, "speed");
        copy(in, "volume", src, "volume");
        copy(in, "pitch", src, "pitch");
        copy(in, "sample_rate", src, "sampleRate");
        copy(in, "audio_format", src, "audioFormat");
        json_object *emo = get(src, "emotion");
        if (emo && strcmp(json_object_get_string(emo), "neutral") &&
            strcmp(json_object_get_string(emo), "auto"))
            json_object_object_add(in, "emotion", json_object_get(emo));
        json_object_object_add(in, "channel", json_object_new_string("mono"));
    } else if (!strcmp(job->kind, "voice_conversion")) {
        /* The provider fetches the source itself: a signed link to our copy. */
        json_object *key = get(get(src, "source"), "storageKey");
        if (key && json_object_is_type(key, json_type_string)) {
            const char *url = store_signed_url(a, json_object_get_string(key), INPUT_LINK_TTL,
                                               (time_t)job->created_s);
            json_object_object_add(in, "source_audio", json_object_new_string(url));
        }
        copy(in, "voice_id", get(get(src, "voice"), "providerVoiceIds"), "replicate");
    } else if (!strcmp(job->kind, "sfx")) {
        copy(in, "prompt", src, "prompt");
        copy(in, "duration", src, "durationSeconds");
    } else if (!strcmp(job->kind, "voice_clone")) {
        /* Our normalised copy of the sample (the poller signed the link); the
         * model's own clean-up would only undo ours. */
        copy(in, "voice_file", get(src, "voice"), "fileUrl");
        json_object_object_add(in, "need_noise_reduction", json_object_new_boolean(0));
        json_object_object_add(in, "need_volume_normalization", json_object_new_boolean(0));
    } else {
        json_object_object_foreach(src, k, v) json_object_object_add(in, k, json_object_get(v));
    }
    return in;
}

/* A create of job's prediction; with a webhook (our callback URL, the job's id and
 * token) unless plain, and Prefer: wait=wait_s when wait_s > 0. */
static void build_create(arena *a, const prov_job *job, bool plain, int wait_s, http_call *c)
{
    json_object *body = json_object_new_object();
    const char *model = job->model ? job->model : "minimax/speech-02-turbo";
    const char *colon = strchr(model, ':');
    if (colon) {
        json_object_object_add(body, "version", json_object_new_string(colon + 1));
        c->url = arena_printf(a, "%s/v1/predictions", base_url());
    } else {
        c->url = arena_printf(a, "%s/v1/models/%s/predictions", base_url(), model);
    }
    json_object_object_add(body, "input", model_input(a, job));
    if (!plain) {
        json_object_object_add(
            body, "webhook",
            json_object_new_string(arena_printf(a, "%s/webhooks/replicate?job=%s&token=%s",
                                                config->public_url, job->id, job->callback_token)));
        json_object *filter = json_object_new_array();
        json_object_array_add(filter, json_object_new_string("start"));
        json_object_array_add(filter, json_object_new_string("completed"));
        json_object_object_add(body, "webhook_events_filter", filter);
    }
    c->method = "POST";
    c->body = arena_strdup(a, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    json_object_put(body);
    auth_headers(a, c);
    if (wait_s > 0) {
        c->headers[2] = arena_printf(a, "Prefer: wait=%d", wait_s);
        c->headers[3] = NULL;
    }
}

static void build_submit(arena *a, const prov_job *job, http_call *c)
{
    build_create(a, job, false, 0, c);
}

void prov_replicate_build_plain(arena *a, const prov_job *job, int wait_s, http_call *c)
{
    build_create(a, job, true, wait_s, c);
}

static void build_get(arena *a, const char *id, http_call *c)
{
    c->method = "GET";
    c->url = arena_printf(a, "%s/v1/predictions/%s", base_url(), id);
    auth_headers(a, c);
}

static void build_cancel(arena *a, const char *id, http_call *c)
{
    c->method = "POST";
    c->url = arena_printf(a, "%s/v1/predictions/%s/cancel", base_url(), id);
    auth_headers(a, c);
}

static void build_find(arena *a, const char *page_url, http_call *c)
{
    c->method = "GET";
    c->url =
        page_url ? arena_strdup(a, page_url) : arena_printf(a, "%s/v1/predictions", base_url());
    auth_headers(a, c);
}

/* Seconds since the epoch of an ISO 8601 UTC time ("2026-11-21T10:00:00.123456Z"),
 * or -1. */
static long iso_seconds(const char *s)
{
    struct tm tm = {0};
    int n = 0;
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long)timegm(&tm);
}

/* The output URL: a string, the first string of an array, or {audio|audio_file|url}. */
static const char *output_url(arena *a, json_object *out)
{
    if (!out)
        return NULL;
    if (json_object_is_type(out, json_type_string))
        return arena_strdup(a, json_object_get_string(out));
    if (json_object_is_type(out, json_type_array) && json_object_array_length(out) > 0)
        return output_url(a, json_object_array_get_idx(out, 0));
    if (json_object_is_type(out, json_type_object)) {
        static const char *const keys[] = {"audio", "audio_file", "url", "preview", NULL};
        for (const char *const *k = keys; *k; k++)
            if (get(out, *k))
                return output_url(a, get(out, *k));
    }
    return NULL;
}

/* The string of an id member, or NULL when it is no usable id (prov_id_valid; a
 * NUL inside would hide the rest from that check). */
static const char *id_of(json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) && prov_id_valid(s) ? s : NULL;
}

bool prov_replicate_status(arena *a, json_object *p, prov_status *st)
{
    json_object *id = get(p, "id"), *status = get(p, "status");
    if (!id || !status || !json_object_is_type(status, json_type_string) || !id_of(id))
        return false; /* an id goes into URL paths and array literals: checked first */
    const char *s = json_object_get_string(status);
    memset(st, 0, sizeof *st);
    st->provider_job_id = arena_strdup(a, json_object_get_string(id));
    if (!strcmp(s, "starting")) {
        st->state = PROV_PENDING;
        st->progress = 5;
    } else if (!strcmp(s, "processing")) {
        st->state = PROV_RUNNING;
        st->progress = 50;
    } else if (!strcmp(s, "succeeded")) {
        st->state = PROV_SUCCEEDED;
        st->progress = 100;
        json_object *out = get(p, "output"), *voice = get(out, "voice_id");
        st->output_url = output_url(a, out);
        if (id_of(voice))
            st->voice_id = arena_strdup(a, json_object_get_string(voice));
        if (!st->output_url) {
            st->state = PROV_FAILED;
            st->voice_id = NULL;
            st->message = "the provider returned no output";
        }
    } else if (!strcmp(s, "canceled")) {
        st->state = PROV_CANCELLED;
        st->message = "cancelled at the provider";
    } else if (!strcmp(s, "failed") || !strcmp(s, "aborted")) {
        st->state = PROV_FAILED;
        json_object *err = get(p, "error");
        /* The provider's words go into the job's error (jsonb): valid UTF-8, cut. */
        st->message = err && json_object_is_type(err, json_type_string)
                          ? pgjson_text(a, json_object_get_string(err), PROV_MESSAGE_MAX)
                          : arena_printf(a, "the prediction %s", s);
    } else {
        return false;
    }
    return true;
}

static prov_result read_answer(arena *a, const http_call *c)
{
    prov_result r = {.outcome = PROV_OK, .retry_after = c->retry_after};
    if (http_transient(c)) {
        r.outcome = PROV_TRANSIENT;
        r.maybe_started = c->status != 429; /* only a throttled call surely did nothing */
        r.message = c->status ? arena_printf(a, "the provider answered %ld", c->status)
                              : arena_printf(a, "the provider did not answer: %s", c->error);
        return r;
    }
    if (c->status < 200 || c->status > 299) {
        r.outcome = PROV_PERMANENT;
        r.message = arena_printf(a, "the provider refused the job (%ld)", c->status);
        return r;
    }
    json_object *p = json_tokener_parse(c->resp);
    if (!p || !prov_replicate_status(a, p, &r.status)) {
        /* A 2xx we cannot read may still have started work: treat as transient so
         * the rescue path looks the job up before anything is submitted again. */
        r.outcome = PROV_TRANSIENT;
        r.maybe_started = true;
        r.message = "the provider's answer could not be read";
    }
    json_object_put(p);
    return r;
}

/* The job id in a prediction's webhook URL (?job=ID&...), or NULL. Replicate's
 * prediction objects do not carry the webhook as documented; a provider that
 * echoes it gets an exact match. */
static const char *job_of(arena *a, json_object *prediction)
{
    json_object *hook = get(prediction, "webhook");
    const char *u =
        hook && json_object_is_type(hook, json_type_string) ? json_object_get_string(hook) : NULL;
    const char *q = u ? strchr(u, '?') : NULL;
    for (const char *p = q; p; p = strchr(p + 1, '&'))
        if (!strncmp(p + 1, "job=", 4))
            return arena_strndup(a, p + 5, strcspn(p + 5, "&#"));
    return NULL;
}

/* JSON values equal as data: numbers by value (1 and 1.0 are one number). */
static bool same_value(json_object *x, json_object *y)
{
    json_type tx = json_object_get_type(x), ty = json_object_get_type(y);
    bool nx = tx == json_type_int || tx == json_type_double;
    bool ny = ty == json_type_int || ty == json_type_double;
    if (nx && ny)
        return tx == json_type_int && ty == json_type_int
                   ? json_object_get_int64(x) == json_object_get_int64(y)
                   : json_object_get_double(x) == json_object_get_double(y);
    if (tx != ty)
        return false;
    switch (tx) {
    case json_type_null:
        return true;
    case json_type_boolean:
        return json_object_get_boolean(x) == json_object_get_boolean(y);
    case json_type_string:
        return json_object_get_string_len(x) == json_object_get_string_len(y) &&
               !memcmp(json_object_get_string(x), json_object_get_string(y),
                       (size_t)json_object_get_string_len(x));
    case json_type_array: {
        size_t n = json_object_array_length(x);
        if (n != json_object_array_length(y))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!same_value(json_object_array_get_idx(x, i), json_object_array_get_idx(y, i)))
                return false;
        return true;
    }
    case json_type_object: {
        if (json_object_object_length(x) != json_object_object_length(y))
            return false;
        json_object_object_foreach(x, k, v)
        {
            json_object *w;
            if (!json_object_object_get_ex(y, k, &w) || !same_value(v, w))
                return false;
        }
        return true;
    }
    default:
        return false;
    }
}

/* Whether a listed prediction is the work a job's submit would have started: the
 * same model, exactly our input, and not older than the job. */
static bool is_work_of(json_object *p, const prov_job *job, json_object *input, long created)
{
    const char *model = job->model ? job->model : "minimax/speech-02-turbo";
    json_object *pm = get(p, "model");
    size_t name_len = strcspn(model, ":");
    if (pm && (strlen(json_object_get_string(pm)) != name_len ||
               strncmp(json_object_get_string(pm), model, name_len)))
        return false;
    return (created < 0 || created >= job->created_s - PROV_FIND_SLACK_S) &&
           same_value(get(p, "input"), input);
}

static bool skipped(const prov_lookup *f, json_object *p)
{
    const char *id = json_object_get_string(get(p, "id"));
    for (int i = 0; id && i < f->n_skip; i++)
        if (!strcmp(id, f->skip[i]))
            return true;
    return false;
}

static bool find_page(arena *a, const http_call *c, prov_lookup *f, const char **next)
{
    const prov_job *jobs = f->jobs;
    int n = f->n;
    prov_status *sts = f->sts;
    bool *found = f->found;
    long not_before = f->not_before;
    *next = NULL;
    json_object *list = c->status == 200 ? json_tokener_parse(c->resp) : NULL;
    json_object *results = get(list, "results");
    if (!results || !json_object_is_type(results, json_type_array)) {
        json_object_put(list);
        return false;
    }
    json_object **inputs = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *inputs);
    for (int k = 0; k < n; k++)
        inputs[k] = found[k] ? NULL : model_input(a, &jobs[k]);
    size_t len = json_object_array_length(results);
    long oldest = -1;
    for (size_t i = 0; i < len; i++) { /* newest first */
        json_object *p = json_object_array_get_idx(results, i);
        long at = iso_seconds(json_object_get_string(get(p, "created_at")));
        if (at >= 0)
            oldest = at;
        const char *job = job_of(a, p);
        for (int k = 0; k < n && !skipped(f, p); k++) {
            if (found[k] ||
                (job ? strcmp(job, jobs[k].id) : !is_work_of(p, &jobs[k], inputs[k], at)))
                continue;
            found[k] = prov_replicate_status(a, p, &sts[k]);
            if (found[k])
                break; /* one prediction is the work of one job */
        }
    }
    for (int k = 0; k < n; k++)
        json_object_put(inputs[k]);
    /* Only a page of our own provider, with our token, is ever fetched. */
    json_object *nx = get(list, "next");
    const char *url =
        nx && json_object_is_type(nx, json_type_string) ? json_object_get_string(nx) : NULL;
    const char *base = base_url();
    bool ours = url && !strncmp(url, base, strlen(base)) &&
                !strncmp(url + strlen(base), "/v1/predictions?", 16);
    bool older_left = len > 0 && (oldest < 0 || oldest >= not_before);
    bool ok = !(url && older_left && !ours);
    if (url && older_left && ours)
        *next = arena_strdup(a, url);
    json_object_put(list);
    return ok;
}

static bool read_event(arena *a, json_object *payload, prov_status *st)
{
    return prov_replicate_status(a, payload, st);
}

const prov_adapter prov_replicate = {
    .name = "replicate",
    .available = available,
    .serves = serves,
    .remote = true,
    .build_submit = build_submit,
    .build_get = build_get,
    .build_cancel = build_cancel,
    .build_find = build_find,
    .read = read_answer,
    .find_page = find_page,
    .read_event = read_event,
    .origin = base_url,
};
