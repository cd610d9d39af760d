/* compile.h — compilations: approved clips joined into one video (a video_compile
 * job run by the render engine), the part the two compilation endpoints share.
 *
 * compile_submit() is one call of rv_compilation_submit (sql/functions/render.sql)
 * in the single submit path (rv_submit: idempotency, rate limit, provider, charge,
 * row, NOTIFY) and its answer: 202 {compilation, job} + Location, or the refusal.
 * compile_view() finishes a compilation's JSON with its signed links. */
#ifndef RV_COMPILE_H
#define RV_COMPILE_H

#include <json-c/json.h>

#include "req.h"

/* Submits input {projectId, clipIds, musicTrackId?, transition, transitionSeconds,
 * musicVolume} (borrowed; bound and checked by the caller) for the request's user,
 * with its Idempotency-Key. Answers 202, or returns 400 (bad Idempotency-Key),
 * 402, 404 (project, a clip, the music track: not found or not the caller's),
 * 409 invalid_state (a clip not approved or not rendered yet), 409
 * idempotency_conflict, 429, 503. Nothing changes on a refusal. */
rv_err compile_submit(rv_req *rq, json_object *input);

/* json (a rv_compilation_json object) with `url` and `posterUrl` (signed, one
 * hour) when video_key and poster_key are not NULL. Arena-owned; NULL json gives
 * NULL. */
const char *compile_view(rv_req *rq, const char *json, const char *video_key,
                         const char *poster_key);

#endif
