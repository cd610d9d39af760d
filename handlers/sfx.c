/* POST /api/sfx — authenticated. Sound effects from a prompt.
 *
 * Body: {prompt (1..500), durationSeconds? (1..30, default 10)}; Idempotency-Key?.
 * 202 job + Location. 400, 401, 402, 405, 409 idempotency_conflict, 413, 415, 429,
 * 503 provider_unavailable (no provider for sfx: the local one cannot) | unavailable. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"

typedef struct {
    const char *prompt;
    long duration_seconds;
} sfx_input;

static const bind_field fields[] = {
    {.name = "prompt",
     .type = BIND_STRING,
     .offset = offsetof(sfx_input, prompt),
     .required = true,
     .min = 1,
     .max = 500,
     .message = "must be 1 to 500 characters"},
    {.name = "durationSeconds",
     .type = BIND_INT,
     .offset = offsetof(sfx_input, duration_seconds),
     .min = 1,
     .max = 30,
     .message = "must be an integer from 1 to 30"},
};

static rv_err sfx(rv_req *rq)
{
    sfx_input in = {.duration_seconds = 10};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "prompt", json_object_new_string(in.prompt));
    json_object_object_add(job, "durationSeconds", json_object_new_int64(in.duration_seconds));
    return jobs_submit(rq, "sfx", job, NULL);
}

static const rv_endpoint endpoint = {
    .name = "sfx",
    .route = "/api/sfx",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = sfx,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
