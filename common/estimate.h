/* estimate.h — a project's estimate job, run by the poller in a child process.
 *
 * The job's provider decides the method. `local`: the transparent rule-based
 * estimate, made and recorded in SQL (rv_estimate_local, method "rules"). `openai`:
 * a language model asked through the OpenAI adapter (providers/openai.h) with a
 * prompt built from the project's name, description and each audio's duration and
 * kind (user text goes in as JSON data), answering strict JSON {estimatedCostCents,
 * estimatedMinutes, breakdown: [{task, minutes, costCents}], assumptions} that
 * estimate_check() holds to its schema; recorded as the API's estimate (method
 * "ai") by rv_estimate_succeed. A refusal, a truncated or invalid answer, or an
 * exhausted quota fails the job with the adapter's code and message (the project
 * goes back to draft and the job is refunded, in SQL); a rate limit (after waiting
 * up to ESTIMATE_MAX_WAIT_S), a 5xx or a timeout leaves it to the poller's retry. */
#ifndef RV_ESTIMATE_H
#define RV_ESTIMATE_H

#include <json-c/json.h>

#include "arena.h"
#include "providers/local.h"
#include "req.h"

enum { ESTIMATE_MAX_WAIT_S = 10 };

/* The answer's JSON Schema (strict-mode shaped), sent with the request. */
extern const char estimate_schema[];

/* NULL when answer holds to estimate_schema (and sane bounds: costs up to 10^9
 * cents, minutes up to 10^6, 1..50 breakdown items, tasks 1..500 characters,
 * assumptions up to 4000), else why not. user is unused. */
const char *estimate_check(arena *a, json_object *answer, void *user);

/* The API's estimate ({costCents, durationMinutes, breakdown, assumptions, method
 * "ai"}) from a checked answer; owned by the caller (json_object_put). */
json_object *estimate_from_answer(json_object *answer);

/* The user prompt for a job's input ({projectId, project: {name, description,
 * audios: [{filename, durationMs, kind}]}}); arena-owned. */
const char *estimate_prompt(arena *a, json_object *input);

/* Runs the estimate job to its end; returns LOCAL_*. */
int estimate_run(rv_req *rq, const local_job *job);

#endif
