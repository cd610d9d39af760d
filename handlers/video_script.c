/* POST|PUT /api/videos/{id}/script — authenticated. A video's script.
 *
 * POST (no body) ; header Idempotency-Key? → 202 job (kind script) + Location: a
 * language model writes sections sized to the video's targetSeconds; they are
 * checked like a PUT's before they are stored (a malformed, refused or truncated
 * answer fails the job, refunded). Cost: job_costs.script. 503
 * provider_unavailable with no language model configured (write it with PUT),
 * 402, 409 invalid_state while another step of the video runs |
 * idempotency_conflict, 429.
 * PUT {sections: [{heading? (≤200), content (1..2000, not only white space)}]
 * (1..50)} → 200 video: replaces the script (and any narration timing of the old
 * one); 409 invalid_state while a step runs.
 * Both: 404 for an unknown id or someone else's video; 400, 401, 405, 413, 415, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "jobs.h"
#include "resp.h"
#include "serve.h"
#include "videos.h"

static const db_stmt put_script = {
    "SELECT status, video_json FROM rv_video_script_put($1, $2::jsonb)", 2};

typedef struct {
    json_object *sections;
} script_input;

static const bind_field fields[] = {
    {.name = "sections",
     .type = BIND_RAW,
     .offset = offsetof(script_input, sections),
     .required = true},
};

static rv_err edit(rv_req *rq, const char *id)
{
    script_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    json_object *clean = NULL;
    if (er == RV_OK)
        er = videos_script_bind(rq, in.sections, "sections", &clean);
    if (er != RV_OK)
        return er;
    const char *p[] = {id, json_object_to_json_string_ext(clean, JSON_C_TO_STRING_PLAIN)};
    PGresult *r;
    if ((er = db_query(rq, &put_script, p, &r)) != RV_OK)
        return er;
    const char *status = PQntuples(r) == 1 ? db_get(r, 0, 0) : "";
    if (!strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    if (!strcmp(status, "invalid_state"))
        return req_fail(rq, RV_E_INVALID_STATE, "a step of this video is running");
    if (strcmp(status, "ok"))
        return RV_E_INTERNAL;
    return resp_json(rq, 200, videos_view(rq, db_get(r, 0, 1)));
}

static rv_err script(rv_req *rq)
{
    const char *id = req_path(rq, "id");
    if (!req_is_uuid(id))
        return req_fail(rq, RV_E_NOT_FOUND, "no such video");
    if (rq->method_bit == RV_PUT)
        return edit(rq, id);
    rv_err er = bind_json(rq, NULL, 0, &(char){0}); /* no members: an empty body or {} */
    if (er != RV_OK)
        return er;
    return jobs_submit_video_step(rq, "script", id, req_keep(rq, json_object_new_object()), NULL);
}

static const rv_endpoint endpoint = {
    .name = "video_script",
    .route = "/api/videos/{id}/script",
    .methods = RV_POST | RV_PUT,
    .flags = RV_AUTH,
    .body_limit = 256 * 1024,
    .handle = script,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
