/* DELETE /api/projects/{id}/audios/{audioId} — authenticated. Detaches an audio
 * (the audio itself stays).
 *
 * 200 project. The owner only (the assigned expert or an admin: 403), a draft only
 * (else 409 invalid_state); 404 when the project cannot be seen or the audio is not
 * in it. 401, 405, 503. */
#include "projects.h"
#include "serve.h"

static const db_stmt detach = {"SELECT outcome, project_json FROM rv_project_audio_remove($1, $2)",
                               2};

static rv_err project_audio(rv_req *rq)
{
    const char *id = projects_id(rq, "id"), *audio = projects_id(rq, "audioId");
    if (!id)
        return req_fail(rq, RV_E_NOT_FOUND, "no such project");
    if (!audio)
        return req_fail(rq, RV_E_NOT_FOUND, "no such audio");
    const char *p[] = {id, audio};
    return projects_call(rq, &detach, p, 200);
}

static const rv_endpoint endpoint = {
    .name = "project_audio",
    .route = "/api/projects/{id}/audios/{audioId}",
    .methods = RV_DELETE,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = project_audio,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
