/* GET|POST /api/clips — authenticated. Images turned into short videos.
 *
 * GET ?projectId&page&limit → 200 {items: [clip], pagination}, newest first; a
 * succeeded clip carries signed url and posterUrl. 400 (page/limit, projectId not
 * a UUID).
 *
 * POST {projectId, imageId, prompt? (≤1000), durationSeconds (5|10),
 * ratio? (16:9|9:16|1:1, 16:9)}; header Idempotency-Key?.
 * → 202 {clip, job} + Location (the job). The clip follows its job: status is the
 * job's, and the video appears when it succeeds (sql/functions/clips.sql).
 * Cost: job_costs.video_clip (perSecond credits a second of clip); a failed or
 * cancelled clip is refunded. Served by Runway (gen4_turbo) with RV_RUNWAY_API_KEY,
 * else by the local provider, as admin_config providers says.
 * 400, 401, 402 insufficient_credits, 404 image or project not the caller's, 405,
 * 409 idempotency_conflict, 413, 415, 429 rate_limited,
 * 503 provider_unavailable | unavailable. */
#include <stddef.h>

#include "bind.h"
#include "jobs.h"
#include "serve.h"
#include "views.h"

typedef struct {
    const char *project_id, *image_id, *prompt, *ratio;
    long duration_seconds;
} clip_input;

static const char *const ratios[] = {"16:9", "9:16", "1:1", NULL};

static const bind_field fields[] = {
    {.name = "projectId",
     .type = BIND_STRING,
     .offset = offsetof(clip_input, project_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "imageId",
     .type = BIND_STRING,
     .offset = offsetof(clip_input, image_id),
     .required = true,
     .min = 36,
     .max = 36,
     .check = bind_check_uuid,
     .message = "must be a UUID"},
    {.name = "prompt",
     .type = BIND_STRING,
     .offset = offsetof(clip_input, prompt),
     .min = 0,
     .max = 1000,
     .message = "must be at most 1000 characters"},
    {.name = "durationSeconds",
     .type = BIND_INT,
     .offset = offsetof(clip_input, duration_seconds),
     .required = true,
     .min = 5,
     .max = 10,
     .message = "must be 5 or 10"},
    {.name = "ratio", .type = BIND_STRING, .offset = offsetof(clip_input, ratio), .one_of = ratios},
};

static const db_stmt list_clips = {
    "WITH f AS (SELECT c.*, rv_clip_json(c, j) AS clip_json FROM clips c"
    "             JOIN jobs j ON j.id = c.job_id"
    "            WHERE c.user_id = $1 AND ($4::uuid IS NULL OR c.project_id = $4::uuid))"
    "SELECT t.total, x.clip_json, x.video_key, x.poster_key"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT f.clip_json, f.video_key, f.poster_key, f.created_at, f.id"
    "                       FROM f ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3) x"
    "    ON true"
    " ORDER BY x.created_at DESC, x.id DESC",
    4};

static rv_err list(rv_req *rq)
{
    const char *project = req_query(rq, "projectId");
    if (project && !*project)
        project = NULL;
    if (project && !req_is_uuid(project))
        return req_field_error(rq, "projectId", "must be a UUID");
    return views_page_links(rq, &list_clips, project, views_clip_links, 2);
}

static rv_err submit(rv_req *rq)
{
    clip_input in = {.prompt = "", .ratio = "16:9"};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er == RV_OK && in.duration_seconds != 5 && in.duration_seconds != 10)
        er = req_field_error(rq, "durationSeconds", "must be 5 or 10");
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "projectId", json_object_new_string(in.project_id));
    json_object_object_add(job, "imageId", json_object_new_string(in.image_id));
    json_object_object_add(job, "prompt", json_object_new_string(in.prompt));
    json_object_object_add(job, "durationSeconds", json_object_new_int64(in.duration_seconds));
    json_object_object_add(job, "ratio", json_object_new_string(in.ratio));
    return jobs_submit_clip(rq, job);
}

static rv_err clips(rv_req *rq)
{
    return rq->method_bit == RV_POST ? submit(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "clips",
    .route = "/api/clips",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = clips,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
