/* Runway: image to video (gen4_turbo) through its tasks API.
 *
 * POST /v1/image_to_video {model, promptImage, promptText?, ratio, duration} →
 * {id}; GET /v1/tasks/{id} → {id, status, progress?, output?, failure?,
 * failureCode?}; DELETE /v1/tasks/{id} cancels (or deletes) a task. Every call
 * carries `Authorization: Bearer RV_RUNWAY_API_KEY` and `X-Runway-Version`.
 *
 * No webhooks: the poller polls running tasks (work_checks.c). THROTTLED is a task
 * waiting for a free slot of our account, not a failure; SUCCEEDED carries output
 * URLs that expire (the poller downloads the video before the job succeeds);
 * FAILED carries failureCode, and SAFETY.* is reported as content_rejected.
 *
 * A create whose outcome is unknown (no answer, a 502/504 from a proxy) cannot be
 * looked up: Runway lists no tasks by metadata. Such a job is never submitted
 * again blind: build_find is absent, so the poller's rescue fails it and refunds it
 * (work_dispatch.c); a task that did start at Runway then costs our Runway account,
 * never the user twice. A 429 or a 500/503 answer surely created nothing: retried
 * after Retry-After or the backoff. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "pgjson.h"
#include "provider.h"
#include "storage.h"

enum {
    PROMPT_IMAGE_MAX = 3 * 1024 * 1024, /* raw bytes sent inline; Runway takes data URIs
                                         * up to 5 MB (base64 adds a third) */
    INPUT_LINK_TTL = 6 * 3600,          /* a larger image goes as a signed link */
    MESSAGE_MAX = 1000,
};

static const char *base_url(void)
{
    return config->runway_url;
}

static bool available(void)
{
    return config->runway_key != NULL;
}

static bool serves(const char *kind)
{
    return !strcmp(kind, "video_clip");
}

static void headers(arena *a, http_call *c)
{
    c->headers[0] = arena_printf(a, "Authorization: Bearer %s", config->runway_key);
    c->headers[1] = "X-Runway-Version: " RUNWAY_API_VERSION;
    c->headers[2] = "Content-Type: application/json";
    c->headers[3] = NULL;
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *k)
{
    json_object *v = get(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *prov_runway_ratio(const char *ratio)
{
    if (ratio && !strcmp(ratio, "9:16"))
        return "720:1280";
    if (ratio && !strcmp(ratio, "1:1"))
        return "960:960";
    return "1280:720";
}

/* The stored image as a data URI (base64), or a signed link when it is large or
 * cannot be read here (then Runway fetches it). */
static const char *prompt_image(arena *a, const prov_job *job)
{
    const char *key = str(job->input, "imageKey");
    if (!key || !store_key_valid(key))
        return "";
    const char *ext = strrchr(key, '.');
    const char *type = ext && !strcmp(ext, ".png") ? "image/png" : "image/jpeg";
    char *path = NULL;
    bool local = !strcmp(store_backend(), "local");
    if (local)
        path = store_path(a, key);
    else if (store_temp_path(a, key, &path) != RV_OK || store_fetch(a, key, path) != RV_OK)
        path = NULL;
    const char *uri = NULL;
    FILE *f = path ? fopen(path, "rbe") : NULL;
    struct stat sb;
    if (f && fstat(fileno(f), &sb) == 0 && sb.st_size > 0 && sb.st_size <= PROMPT_IMAGE_MAX) {
        size_t n = (size_t)sb.st_size;
        unsigned char *raw = arena_alloc(a, n);
        if (fread(raw, 1, n, f) == n) {
            size_t b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
            char *enc = arena_alloc(a, b64);
            sodium_bin2base64(enc, b64, raw, n, sodium_base64_VARIANT_ORIGINAL);
            uri = arena_printf(a, "data:%s;base64,%s", type, enc);
        }
    }
    if (f)
        fclose(f);
    if (!local && path)
        unlink(path);
    return uri ? uri : store_signed_url(a, key, INPUT_LINK_TTL, (time_t)job->created_s);
}

static void build_submit(arena *a, const prov_job *job, http_call *c)
{
    json_object *body = json_object_new_object(), *in = job->input;
    json_object_object_add(body, "model",
                           json_object_new_string(job->model ? job->model : "gen4_turbo"));
    json_object_object_add(body, "promptImage", json_object_new_string(prompt_image(a, job)));
    const char *prompt = str(in, "prompt");
    if (prompt && *prompt)
        json_object_object_add(body, "promptText", json_object_new_string(prompt));
    json_object_object_add(body, "ratio",
                           json_object_new_string(prov_runway_ratio(str(in, "ratio"))));
    json_object *d = get(in, "durationSeconds");
    json_object_object_add(body, "duration",
                           json_object_new_int(d ? json_object_get_int(d) == 10 ? 10 : 5 : 5));
    c->method = "POST";
    c->url = arena_printf(a, "%s/v1/image_to_video", base_url());
    c->body = arena_strdup(a, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    json_object_put(body);
    headers(a, c);
}

static void build_get(arena *a, const char *id, http_call *c)
{
    c->method = "GET";
    c->url = arena_printf(a, "%s/v1/tasks/%s", base_url(), id);
    headers(a, c);
}

static void build_cancel(arena *a, const char *id, http_call *c)
{
    c->method = "DELETE";
    c->url = arena_printf(a, "%s/v1/tasks/%s", base_url(), id);
    headers(a, c);
}

bool prov_runway_status(arena *a, json_object *task, prov_status *st)
{
    const char *id = str(task, "id"), *s = str(task, "status");
    if (!id || !prov_id_valid(id))
        return false; /* an id goes into URL paths and array literals: checked first */
    memset(st, 0, sizeof *st);
    st->provider_job_id = arena_strdup(a, id);
    if (!s) { /* the answer to a create: {id} only */
        st->state = PROV_PENDING;
        st->progress = 5;
    } else if (!strcmp(s, "PENDING") || !strcmp(s, "THROTTLED")) {
        st->state = PROV_PENDING;
        st->progress = 5;
    } else if (!strcmp(s, "RUNNING")) {
        json_object *p = get(task, "progress");
        double f = p ? json_object_get_double(p) : 0;
        st->state = PROV_RUNNING;
        st->progress = 10 + (int)(80 * (f < 0 ? 0 : f > 1 ? 1 : f));
    } else if (!strcmp(s, "SUCCEEDED")) {
        json_object *out = get(task, "output");
        json_object *first =
            out && json_object_is_type(out, json_type_array) && json_object_array_length(out) > 0
                ? json_object_array_get_idx(out, 0)
                : NULL;
        st->state = PROV_SUCCEEDED;
        st->progress = 95;
        if (first && json_object_is_type(first, json_type_string))
            st->output_url = arena_strdup(a, json_object_get_string(first));
        if (!st->output_url) {
            st->state = PROV_FAILED;
            st->message = "the provider returned no output";
        }
    } else if (!strcmp(s, "CANCELLED")) {
        st->state = PROV_CANCELLED;
        st->message = "cancelled at the provider";
    } else if (!strcmp(s, "FAILED")) {
        const char *code = str(task, "failureCode"), *why = str(task, "failure");
        st->state = PROV_FAILED;
        if (code && !strncmp(code, "SAFETY", 6))
            st->code = "content_rejected";
        st->message = pgjson_text(a,
                                  arena_printf(a, "%s%s%s", why ? why : "the task failed",
                                               code ? ": " : "", code ? code : ""),
                                  MESSAGE_MAX);
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
        /* 429 and a 500/503 of Runway's own created nothing; no answer, a 502/504 of
         * a proxy on the way may have. */
        r.maybe_started = c->status == 0 || c->status == 502 || c->status == 504;
        r.message = c->status ? arena_printf(a, "the provider answered %ld", c->status)
                              : arena_printf(a, "the provider did not answer: %s", c->error);
        return r;
    }
    if (c->status < 200 || c->status > 299) {
        r.outcome = PROV_PERMANENT;
        const char *err = NULL;
        json_object *e = c->resp ? json_tokener_parse(c->resp) : NULL;
        if (str(e, "error"))
            err = pgjson_text(a, str(e, "error"), 200);
        json_object_put(e);
        r.message = arena_printf(a, "the provider refused the task (%ld)%s%s", c->status,
                                 err ? ": " : "", err ? err : "");
        return r;
    }
    json_object *t = json_tokener_parse(c->resp);
    if (!t || !prov_runway_status(a, t, &r.status)) {
        r.outcome = PROV_TRANSIENT;
        r.maybe_started = true;
        r.message = "the provider's answer could not be read";
    }
    json_object_put(t);
    return r;
}

const prov_adapter prov_runway = {
    .name = "runway",
    .available = available,
    .serves = serves,
    .remote = true,
    .build_submit = build_submit,
    .build_get = build_get,
    .build_cancel = build_cancel,
    .build_find = NULL, /* no listing: see the top of this file */
    .read = read_answer,
    .find_page = NULL,
    .read_event = NULL,
    .origin = base_url,
};
