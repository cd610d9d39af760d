/* POST /api/projects/{id}/audios — authenticated. Attaches an audio.
 *
 * Body: {audioId}. 200 project. The owner only (the assigned expert or an admin:
 * 403), one of the owner's own audios (else 404), a draft only (else 409
 * invalid_state). 400, 401, 404 project, 405, 413, 415, 503. */
#include <stddef.h>

#include "bind.h"
#include "projects.h"
#include "serve.h"

static const db_stmt add = {"SELECT outcome, project_json FROM rv_project_audio_add($1, $2)", 2};

typedef struct {
    const char *audio_id;
} audio_input;

static const bind_field fields[] = {
    {.name = "audioId",
     .type = BIND_STRING,
     .offset = offsetof(audio_input, audio_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
};

static rv_err project_audios(rv_req *rq)
{
    const char *id = projects_id(rq, "id");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    audio_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, in.audio_id};
    return projects_call(rq, &add, p, 200);
}

static const rv_endpoint endpoint = {
    .name = "project_audios",
    .route = "/api/projects/{id}/audios",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 4 * 1024,
    .handle = project_audios,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
