/* videos.h — narrated explainer videos: what their endpoints and the poller share.
 *
 * A script is a list of sections; it comes from a request (PUT .../script, POST
 * /api/videos {script}) or from a language model, and both are untrusted: one
 * check (videos_sections_check) holds them to the same limits before anything is
 * stored. A video's JSON comes from the database with the storage keys of its
 * files inside; videos_view signs links to them and takes the keys out. */
#ifndef RV_VIDEOS_H
#define RV_VIDEOS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "arena.h"
#include "bind.h"
#include "req.h"

enum {
    VIDEOS_MAX_SECTIONS = 50,
    VIDEOS_HEADING_MAX = 200,  /* characters */
    VIDEOS_CONTENT_MAX = 2000, /* characters */
    VIDEOS_TOPIC_MAX = 500,
    VIDEOS_MAX_TOPICS = 20, /* a batch */
};

/* The options of a render (and of the chains of auto mode and batches, which add
 * the narration's speed). Bound with VIDEOS_OPTS_FIELDS into a member of a
 * handler's input struct, preset with VIDEOS_OPTS_DEFAULTS. */
typedef struct videos_opts {
    const char *transition;     /* none|fade|dissolve|wipe|slide, fade */
    const char *music_track_id; /* NULL: no music */
    const char *captions;       /* burned|sidecar|none, burned */
    const char *resolution;     /* 720p|1080p, 720p */
    const char *aspect;         /* 16:9|9:16|1:1, 16:9 */
    double music_volume;        /* 0..100, 20 */
    double speed;               /* narration speed 0.5..2, 1 */
} videos_opts;

extern const char *const videos_transitions[],
    *const videos_captions[], *const videos_resolutions[], *const videos_aspects[];

#define VIDEOS_OPTS_DEFAULTS                                                                       \
    {                                                                                              \
        .transition = "fade", .captions = "burned", .resolution = "720p", .aspect = "16:9",        \
        .music_volume = 20, .speed = 1                                                             \
    }

/* The render option rows of a bind table, for the member m of struct type T (a
 * member name cannot be parenthesised inside offsetof). */
// NOLINTBEGIN(bugprone-macro-parentheses)
#define VIDEOS_RENDER_FIELDS(T, m)                                                                 \
    {.name = "transition",                                                                         \
     .type = BIND_STRING,                                                                          \
     .offset = offsetof(T, m.transition),                                                          \
     .one_of = videos_transitions},                                                                \
        {.name = "musicTrackId",                                                                   \
         .type = BIND_STRING,                                                                      \
         .offset = offsetof(T, m.music_track_id),                                                  \
         .min = 36,                                                                                \
         .max = 36,                                                                                \
         .check = bind_check_uuid,                                                                 \
         .message = "must be a UUID"},                                                             \
        {.name = "musicVolume",                                                                    \
         .type = BIND_NUMBER,                                                                      \
         .offset = offsetof(T, m.music_volume),                                                    \
         .min = 0,                                                                                 \
         .max = 100,                                                                               \
         .message = "must be from 0 to 100"},                                                      \
        {.name = "captions",                                                                       \
         .type = BIND_STRING,                                                                      \
         .offset = offsetof(T, m.captions),                                                        \
         .one_of = videos_captions},                                                               \
        {.name = "resolution",                                                                     \
         .type = BIND_STRING,                                                                      \
         .offset = offsetof(T, m.resolution),                                                      \
         .one_of = videos_resolutions},                                                            \
    {                                                                                              \
        .name = "aspect", .type = BIND_STRING, .offset = offsetof(T, m.aspect),                    \
        .one_of = videos_aspects                                                                   \
    }

/* Render options and the narration's speed. */
#define VIDEOS_OPTS_FIELDS(T, m)                                                                   \
    VIDEOS_RENDER_FIELDS(T, m),                                                                    \
    {                                                                                              \
        .name = "speed", .type = BIND_NUMBER, .offset = offsetof(T, m.speed), .min = 0.5,          \
        .max = 2, .message = "must be from 0.5 to 2"                                               \
    }

// NOLINTEND(bugprone-macro-parentheses)

/* The options as the job input and the chains store them ({transition, captions,
 * resolution, aspect, musicVolume, musicTrackId?, speed?, voiceId?}); speed only
 * when with_speed, voiceId when not NULL. Owned by the request. */
json_object *videos_opts_json(rv_req *rq, const videos_opts *o, bool with_speed,
                              const char *voice_id);

/* Checks a script's sections from a request (videos_sections_check), each problem
 * a field error of rq. *clean as there. Returns RV_OK or RV_E_VALIDATION. */
rv_err videos_script_bind(rv_req *rq, json_object *v, const char *prefix, json_object **clean);

/* Whether a language model can write scripts here (a provider of kind script). */
bool videos_llm_available(rv_req *rq);

/* The answer to an SQL status of rv_video_create / rv_batch_submit that is not
 * "created" or "repeated" (project_not_found, voice_*, no_provider, insufficient
 * with required and balance); RV_OK for those two. */
rv_err videos_refusal(rv_req *rq, const char *status, long required, long balance);

/* A check for bind_field.check: refuses a string of only white space. */
const char *videos_check_text(const char *s);

/* Called once per problem found: field ("sections[2].content") and message. */
typedef void (*videos_report)(void *user, const char *field, const char *message);

/* Checks v, a script's sections from outside: an array of 1..VIDEOS_MAX_SECTIONS
 * objects {heading?: string ≤ 200 characters or null, content: string of 1..2000
 * characters, not only whitespace}, no other members, no NUL characters. Each
 * problem goes to report (NULL: not reported) with its field named under prefix
 * ("sections", "script.sections"). Returns how many problems there are; with none,
 * *clean (when clean is not NULL) is a new array [{heading, content}] (heading ""
 * when absent) released with the arena. */
int videos_sections_check(arena *a, json_object *v, const char *prefix, videos_report report,
                          void *user, json_object **clean);

/* Whether s holds only white space (or nothing). */
bool videos_blank(const char *s);

/* The video JSON of rv_video_json with signed links (images[].url, url,
 * posterUrl) in place of the storage keys. NULL gives NULL. */
const char *videos_view(rv_req *rq, const char *json);

/* A batch JSON of rv_batch_json, each of its videos through videos_view. */
const char *videos_view_batch(rv_req *rq, const char *json);

/* A caption: text shown from start_ms to end_ms. */
typedef struct videos_cue {
    long start_ms, end_ms;
    const char *text; /* as written in the script (not escaped) */
} videos_cue;

/* The captions of a video JSON (rv_video_json's shape), as videos_vtt() groups
 * them; *out in the arena. Returns how many. */
size_t videos_cues(arena *a, json_object *video, videos_cue **out);

/* The WebVTT of a video JSON (rv_video_json's shape): a cue per group of words of
 * at most ~7 words or 42 characters when sections carry words, else a cue per
 * section with startMs/endMs. Sections without times give no cue. Arena-owned. */
char *videos_vtt(arena *a, json_object *video);

#endif
