/* submit.h — submitting a job: the data part, without HTTP.
 *
 * submit_job() is one call of the SQL submit path (rv_submit and its kind
 * wrappers, sql/functions/submit.sql) in one transaction: idempotency, rate limit,
 * the voice, provider choice, the charge, the row and the NOTIFY. It acts for the
 * context's user (the transaction's reelvox.user_id): a handler passes its
 * request's context (db_ctx_of), the poller one it makes for the user it works
 * for. The outcome is a small fixed set of codes; what a handler answers for each
 * is jobs.c's business. */
#ifndef RV_SUBMIT_H
#define RV_SUBMIT_H

#include <json-c/json.h>

#include "db.h"

typedef enum submit_status {
    SUBMIT_CREATED = 0,
    SUBMIT_REPEATED,             /* the key's job, as it is now */
    SUBMIT_IDEMPOTENCY_CONFLICT, /* the key was used with another request */
    SUBMIT_RATE_LIMITED,         /* retry_after */
    SUBMIT_INSUFFICIENT,         /* required, balance */
    SUBMIT_NO_PROVIDER,
    SUBMIT_SOURCE_NOT_FOUND, /* conversion: the source is not the user's audio */
    SUBMIT_VOICE_NOT_FOUND,
    SUBMIT_VOICE_NOT_ACTIVE,
    SUBMIT_VOICE_EXPIRED,    /* a clone unused for 7 days */
    SUBMIT_SAMPLE_NOT_FOUND, /* clone: the sample is not the user's audio */
    SUBMIT_SAMPLE_TOO_SHORT,
    SUBMIT_SAMPLE_TOO_LONG,
    SUBMIT_INPUT_UNSTORABLE,  /* text jsonb refuses ("\u0000"): never sent to SQL */
    SUBMIT_IMAGE_NOT_FOUND,   /* video_clip: the image is not the user's */
    SUBMIT_PROJECT_NOT_FOUND, /* video_clip: the project is not the user's */
    SUBMIT_VIDEO_NOT_FOUND,   /* a video step: the video is not the user's */
    SUBMIT_VIDEO_NOT_READY,   /* a video step: what it needs is missing (missing says) */
    SUBMIT_MUSIC_NOT_FOUND,   /* a render: no such music track */
    SUBMIT_UNKNOWN,           /* a status this code does not know: a bug */
} submit_status;

/* What to submit; every pointer borrowed. */
typedef struct submit_request {
    const char *kind;      /* tts, sfx, voice_conversion, voice_clone, video_clip, ... */
    json_object *input;    /* the request's parameters; the idempotency hash covers them */
    const char *idem_key;  /* NULL: none; 1..255 visible ASCII (the caller checks) */
    const char *voice_id;  /* the voice the job speaks with (tts, conversion), or NULL */
    const char *source_id; /* voice_conversion: the source audio */
    const char *video_id;  /* script, narration, images, video_render: a step of this video */
} submit_request;

/* The outcome; strings are borrowed from a result on the context's arena. */
typedef struct submit_outcome {
    submit_status status;
    const char *job_id, *job_json;        /* created, repeated (job_id also on a conflict) */
    const char *voice_json, *preview_key; /* voice_clone, created or repeated */
    const char *clip_json, *clip_video_key, *clip_poster_key; /* video_clip, likewise */
    long retry_after;                                         /* rate_limited: seconds */
    long required, balance;                                   /* insufficient: credits */
    const char *missing; /* video_not_ready: "script, narration", ... */
} submit_outcome;

/* Submits rq for c's user. RV_OK with *out filled whatever the SQL decided
 * (created or refused: see out->status); RV_E_UNAVAILABLE / RV_E_INTERNAL when
 * the database failed (nothing was submitted). */
rv_err submit_job(const db_ctx *c, const submit_request *rq, submit_outcome *out);

/* The code of an SQL status string ("created", "voice_expired", ...);
 * SUBMIT_UNKNOWN for NULL or anything else. */
submit_status submit_status_of(const char *s);

#endif
