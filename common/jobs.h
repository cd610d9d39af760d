/* jobs.h — what the endpoints that start jobs answer.
 *
 * The submit itself is submit.h's (the data part: one SQL call, a typed outcome,
 * no HTTP); this is the handler's side of it: the Idempotency-Key header and the
 * answer — 202 + Location with the job, or the contract's problem for the outcome.
 * Job JSON comes from the database (rv_job_json); views.h adds signed links. */
#ifndef RV_JOBS_H
#define RV_JOBS_H

#include <json-c/json.h>

#include "req.h"
#include "submit.h"

/* Submits a job of kind with input (borrowed) for the request's user. voice_id:
 * the voice a tts job speaks with (checked and recorded), NULL for other kinds. A
 * voice_clone job (input {name, sampleAudioId, language, gender?}) makes its voice
 * too and answers {voice, job}.
 * Answers 202, or returns 400 (bad Idempotency-Key), 402, 404/409 (voice),
 * 404/422 (a clone's sample), 409 idempotency_conflict, 429,
 * 503 provider_unavailable / unavailable. */
rv_err jobs_submit(rv_req *rq, const char *kind, json_object *input, const char *voice_id);

/* Submits a voice_conversion job: the caller's audio source_id spoken in voice_id.
 * The job's input gains the source's duration, which the cost is per second of.
 * Answers as jobs_submit(); also 404 when the source is not the caller's. */
rv_err jobs_submit_conversion(rv_req *rq, json_object *input, const char *source_id,
                              const char *voice_id);

/* Submits a step of a narrated video (kind script, narration, images or
 * video_render) of the caller's video video_id; voice_id: narration's voice. Answers
 * as jobs_submit(); also 404 for a video not the caller's, 409 invalid_state (with
 * `missing`) when what the step needs is not there or another step runs. */
rv_err jobs_submit_video_step(rv_req *rq, const char *kind, const char *video_id,
                              json_object *input, const char *voice_id);

/* Submits a video_clip job and its clip: input {projectId, imageId, prompt,
 * durationSeconds, ratio}. Answers 202 {clip, job} as jobs_submit(); also 404 when
 * the image or the project is not the caller's. */
rv_err jobs_submit_clip(rv_req *rq, json_object *input);

/* Whether kind is a job kind, status a job status (the filters of the job lists). */
bool jobs_kind_known(const char *kind);
bool jobs_status_known(const char *status);

/* Whether k is a valid Idempotency-Key: 1..255 visible ASCII characters. */
bool jobs_idempotency_key_ok(const char *k);

/* The answer to a submit's outcome: 202 with the job (and a clone's voice), or the
 * problem. */
rv_err jobs_answer(rv_req *rq, const submit_outcome *o);

#endif
