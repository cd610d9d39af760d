/* jobs.h — what the endpoints that start or show jobs share.
 *
 * jobs_submit() is a whole submit in one transaction (see rv_job_submit in
 * sql/002_jobs.sql): Idempotency-Key, rate limit, provider choice, credits, the row
 * and the NOTIFY; it answers 202 + Location with the job, or the error. Job JSON
 * comes from the database (rv_job_json); views.h adds signed links. */
#ifndef RV_JOBS_H
#define RV_JOBS_H

#include <json-c/json.h>

#include "req.h"

/* Submits a job of kind with input (borrowed). voice_id: for tts, the voice to
 * check and record; NULL for other kinds. A voice_clone job (input {name,
 * sampleAudioId, language, gender?}) makes its voice too and answers
 * {voice, job} (rv_voice_clone_submit).
 * Answers 202, or returns 400 (bad Idempotency-Key), 402, 404/409 (voice),
 * 404/422 (a clone's sample), 429, 503 provider_unavailable / unavailable. */
rv_err jobs_submit(rv_req *rq, const char *kind, json_object *input, const char *voice_id);

/* Submits a voice_conversion job (rv_voice_conversion_submit): the caller's audio
 * source_id spoken in voice_id. input (borrowed) gains the source's duration, which
 * the cost is per second of. Answers as jobs_submit(); also 404 when the source is
 * not the caller's. */
rv_err jobs_submit_conversion(rv_req *rq, json_object *input, const char *source_id,
                              const char *voice_id);

#endif
