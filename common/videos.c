#include "videos.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "jobj.h"
#include "bind.h"
#include "providers/provider.h"
#include "storage.h"

bool videos_blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static void put_json(void *o)
{
    json_object_put(o);
}

/* Judges a string member: "" when fine, NULL when its length is out of [min, max]
 * characters (the caller words the bounds), else why not. */
static const char *text_problem(json_object *v, size_t min, size_t max, bool blank_ok)
{
    if (!json_object_is_type(v, json_type_string))
        return "must be a string";
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n != strlen(s) || !bind_utf8_valid(s, n))
        return "must be valid text without NUL characters";
    size_t chars = bind_utf8_len(s);
    if (chars < min || chars > max)
        return NULL; /* the caller words the bounds */
    if (!blank_ok && videos_blank(s))
        return "must not be only white space";
    return "";
}

int videos_sections_check(arena *a, json_object *v, const char *prefix, videos_report report,
                          void *user, json_object **clean)
{
    int problems = 0;
#define PROBLEM(field, msg)                                                                        \
    do {                                                                                           \
        problems++;                                                                                \
        if (report)                                                                                \
            report(user, field, msg);                                                              \
    } while (0)
    size_t n = v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    if (!v || !json_object_is_type(v, json_type_array) || n < 1 || n > VIDEOS_MAX_SECTIONS) {
        PROBLEM(prefix, "must be an array of 1 to 50 sections");
        return problems;
    }
    json_object *out = json_object_new_array();
    arena_defer(a, put_json, out);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        const char *at = arena_printf(a, "%s[%zu]", prefix, i);
        if (!json_object_is_type(s, json_type_object)) {
            PROBLEM(at, "must be an object {heading?, content}");
            continue;
        }
        json_object_object_foreach(s, key, val)
        {
            (void)val;
            if (strcmp(key, "heading") && strcmp(key, "content"))
                PROBLEM(arena_printf(a, "%s.%s", at, bind_utf8_len(key) > 64 ? "(unknown)" : key),
                        "is not a known field");
        }
        json_object *h = jobj_member(s, "heading"), *c = jobj_member(s, "content");
        const char *why;
        if (h && (why = text_problem(h, 0, VIDEOS_HEADING_MAX, true)) && *why)
            PROBLEM(arena_printf(a, "%s.heading", at), why);
        else if (h && !why)
            PROBLEM(arena_printf(a, "%s.heading", at), "must be at most 200 characters");
        if (!c)
            PROBLEM(arena_printf(a, "%s.content", at), "is required");
        else if ((why = text_problem(c, 1, VIDEOS_CONTENT_MAX, false)) && *why)
            PROBLEM(arena_printf(a, "%s.content", at), why);
        else if (!why)
            PROBLEM(arena_printf(a, "%s.content", at), "must be 1 to 2000 characters");
        if (problems == 0) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "heading",
                                   json_object_new_string(h ? json_object_get_string(h) : ""));
            json_object_object_add(o, "content", json_object_new_string(json_object_get_string(c)));
            json_object_array_add(out, o);
        }
    }
#undef PROBLEM
    if (clean)
        *clean = problems ? NULL : out;
    return problems;
}

/* Replaces o[key_member] (a storage key) with o[url_member] (a signed link). */
static void sign(rv_req *rq, json_object *o, const char *key_member, const char *url_member)
{
    json_object *k = jobj_member(o, key_member);
    if (k && json_object_is_type(k, json_type_string))
        json_object_object_add(o, url_member,
                               json_object_new_string(store_signed_url(
                                   rq->a, json_object_get_string(k), STORE_URL_TTL, time(NULL))));
    json_object_object_del(o, key_member);
}

const char *videos_view(rv_req *rq, const char *json)
{
    json_object *v = json ? json_tokener_parse(json) : NULL;
    if (!v)
        return json;
    req_keep(rq, v);
    json_object *imgs = jobj_member(v, "images");
    for (size_t i = 0; imgs && i < json_object_array_length(imgs); i++)
        sign(rq, json_object_array_get_idx(imgs, i), "storageKey", "url");
    sign(rq, v, "videoKey", "url");
    sign(rq, v, "posterKey", "posterUrl");
    return arena_strdup(rq->a, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

const char *videos_view_batch(rv_req *rq, const char *json)
{
    json_object *b = json ? json_tokener_parse(json) : NULL;
    if (!b)
        return json;
    req_keep(rq, b);
    json_object *vs = jobj_member(b, "videos");
    for (size_t i = 0; vs && i < json_object_array_length(vs); i++) {
        json_object *v = json_object_array_get_idx(vs, i), *imgs = jobj_member(v, "images");
        for (size_t k = 0; imgs && k < json_object_array_length(imgs); k++)
            sign(rq, json_object_array_get_idx(imgs, k), "storageKey", "url");
        sign(rq, v, "videoKey", "url");
        sign(rq, v, "posterKey", "posterUrl");
    }
    return arena_strdup(rq->a, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
}

static long long_of(json_object *o, const char *k, long dflt)
{
    json_object *v = jobj_member(o, k);
    return v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
               ? (long)json_object_get_int64(v)
               : dflt;
}

static char *stamp(arena *a, long ms)
{
    if (ms < 0)
        ms = 0;
    return arena_printf(a, "%02ld:%02ld:%02ld.%03ld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
                        ms % 1000);
}

/* Cue text: no blank lines, "-->" or markup (<, &) from the script. */
static char *cue_text(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = arena_alloc(a, n * 5 + 1), *p = out;
    for (const char *q = s; *q; q++) {
        if (*q == '<') {
            memcpy(p, "&lt;", 4);
            p += 4;
        } else if (*q == '&') {
            memcpy(p, "&amp;", 5);
            p += 5;
        } else if (*q == '>') {
            memcpy(p, "&gt;", 4);
            p += 4;
        } else {
            *p++ = *q == '\n' || *q == '\r' ? ' ' : *q;
        }
    }
    *p = '\0';
    return out;
}

enum { CUE_WORDS = 7, CUE_CHARS = 42 };

static void add_cue(arena *a, videos_cue **cs, size_t *n, size_t *cap, long s, long e,
                    const char *text)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        videos_cue *x = arena_alloc(a, nc * sizeof *x);
        if (*n)
            memcpy(x, *cs, *n * sizeof *x);
        *cs = x;
        *cap = nc;
    }
    (*cs)[(*n)++] = (videos_cue){s, e > s ? e : s + 1, text};
}

size_t videos_cues(arena *a, json_object *video, videos_cue **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    json_object *secs = jobj_member(video, "sections");
    for (size_t i = 0; secs && i < json_object_array_length(secs); i++) {
        json_object *s = json_object_array_get_idx(secs, i), *words = jobj_member(s, "words");
        long s0 = long_of(s, "startMs", -1), s1 = long_of(s, "endMs", -1);
        if (s0 < 0 || s1 < 0)
            continue;
        size_t nw = words && json_object_is_type(words, json_type_array)
                        ? json_object_array_length(words)
                        : 0;
        if (nw == 0) {
            json_object *c = jobj_member(s, "content");
            add_cue(a, out, &n, &cap, s0, s1, c ? json_object_get_string(c) : "");
            continue;
        }
        /* Words in groups, each cue from its first word's start to its last's end. */
        char *line = arena_strdup(a, "");
        long c0 = -1, c1 = -1;
        int count = 0;
        for (size_t k = 0; k < nw; k++) {
            json_object *w = json_object_array_get_idx(words, k), *t = jobj_member(w, "text");
            const char *txt =
                t && json_object_is_type(t, json_type_string) ? json_object_get_string(t) : "";
            if (c0 < 0)
                c0 = long_of(w, "startMs", s0);
            c1 = long_of(w, "endMs", c0);
            line = arena_printf(a, "%s%s%s", line, count ? " " : "", txt);
            count++;
            if (count >= CUE_WORDS || strlen(line) >= CUE_CHARS || k + 1 == nw) {
                add_cue(a, out, &n, &cap, c0, c1, line);
                line = arena_strdup(a, "");
                c0 = -1;
                count = 0;
            }
        }
    }
    return n;
}

char *videos_vtt(arena *a, json_object *video)
{
    videos_cue *cs;
    size_t n = videos_cues(a, video, &cs);
    char *vtt = arena_strdup(a, "WEBVTT\n");
    for (size_t i = 0; i < n; i++)
        vtt = arena_printf(a, "%s\n%s --> %s\n%s\n", vtt, stamp(a, cs[i].start_ms),
                           stamp(a, cs[i].end_ms), cue_text(a, cs[i].text));
    return vtt;
}

const char *const videos_transitions[] = {"none", "fade", "dissolve", "wipe", "slide", NULL};
const char *const videos_captions[] = {"burned", "sidecar", "none", NULL};
const char *const videos_resolutions[] = {"720p", "1080p", NULL};
const char *const videos_aspects[] = {"16:9", "9:16", "1:1", NULL};

json_object *videos_opts_json(rv_req *rq, const videos_opts *o, bool with_speed,
                              const char *voice_id)
{
    json_object *j = req_keep(rq, json_object_new_object());
    json_object_object_add(j, "transition", json_object_new_string(o->transition));
    json_object_object_add(j, "captions", json_object_new_string(o->captions));
    json_object_object_add(j, "resolution", json_object_new_string(o->resolution));
    json_object_object_add(j, "aspect", json_object_new_string(o->aspect));
    json_object_object_add(j, "musicVolume", json_object_new_double(o->music_volume));
    if (o->music_track_id)
        json_object_object_add(j, "musicTrackId", json_object_new_string(o->music_track_id));
    if (with_speed)
        json_object_object_add(j, "speed", json_object_new_double(o->speed));
    if (voice_id)
        json_object_object_add(j, "voiceId", json_object_new_string(voice_id));
    return j;
}

static void report_field(void *user, const char *field, const char *message)
{
    req_field_error(user, field, message);
}

rv_err videos_script_bind(rv_req *rq, json_object *v, const char *prefix, json_object **clean)
{
    return videos_sections_check(rq->a, v, prefix, report_field, rq, clean) ? RV_E_VALIDATION
                                                                            : RV_OK;
}

bool videos_llm_available(rv_req *rq)
{
    return strcmp(prov_available_for(rq->a, "script"), "{}") != 0;
}

const char *videos_check_text(const char *s)
{
    return videos_blank(s) ? "must not be only white space" : NULL;
}

rv_err videos_refusal(rv_req *rq, const char *status, long required, long balance)
{
    if (!status)
        return RV_E_INTERNAL;
    if (!strcmp(status, "created") || !strcmp(status, "repeated"))
        return RV_OK;
    if (!strcmp(status, "idempotency_conflict"))
        return req_fail(rq, RV_E_IDEMPOTENCY_CONFLICT,
                        "this Idempotency-Key was used with another request");
    if (!strcmp(status, "project_not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    if (!strcmp(status, "voice_not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such voice");
    if (!strcmp(status, "voice_not_active"))
        return req_fail(rq, RV_E_INVALID_STATE, "the voice cannot be used now");
    if (!strcmp(status, "voice_expired"))
        return req_fail(rq, RV_E_VOICE_EXPIRED,
                        "the cloned voice expired after 7 days unused; clone it again");
    if (!strcmp(status, "no_provider"))
        return req_fail(rq, RV_E_PROVIDER_UNAVAILABLE,
                        "no language model is configured to write a script: bring one "
                        "(script.sections)");
    if (!strcmp(status, "insufficient")) {
        req_problem_set(rq, "required", json_object_new_int64(required));
        req_problem_set(rq, "balance", json_object_new_int64(balance));
        return req_fail(rq, RV_E_INSUFFICIENT_CREDITS, "this costs %ld credits", required);
    }
    return RV_E_INTERNAL;
}
