/* GET|POST /api/compilations — authenticated. Approved clips compiled into one video.
 *
 * POST {projectId, clipIds (1..50 UUIDs, in order; one may repeat), musicTrackId?,
 * transition (none|fade|dissolve|wipe|slide), transitionSeconds? (0.2..2, default
 * 1), musicVolume (0..100)}; header Idempotency-Key? → 202 {compilation, job} +
 * Location /api/jobs/{id}: a video_compile job the render engine runs (1280x720
 * H.264 + AAC, clips of other ratios letterboxed, the music looped or cut and
 * faded out at the end). Cost: admin_config job_costs.video_compile.
 * 400 (fields, 51 clips, an unknown transition), 404 (project, a clip that is not
 * in the caller's project, an unknown music track), 409 invalid_state (a clip not
 * approved, or not rendered yet), 402, 409 idempotency_conflict, 429, 503. A
 * refused request changes nothing and moves no credit.
 * GET ?projectId&page&limit → 200 {items: [compilation], pagination}, newest
 * first; 400 (projectId not a UUID, page/limit).
 * `compilation` is {id, projectId, clipIds, musicTrackId?, transition,
 * transitionSeconds, musicVolume, status, progress, url?, posterUrl?, durationMs?,
 * bytes?, jobId, createdAt}. Both: 401, 405, 413, 415, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "compile.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt list_compilations = {
    "SELECT t.total, x.json, x.video_key, x.poster_key"
    "  FROM (SELECT count(*) AS total FROM compilations c"
    "         WHERE c.user_id = $1 AND ($4::uuid IS NULL OR c.project_id = $4)) t"
    "  LEFT JOIN LATERAL (SELECT rv_compilation_json(c, j) AS json, c.video_key, c.poster_key,"
    "                            c.created_at, c.id"
    "                       FROM compilations c JOIN jobs j ON j.id = c.job_id"
    "                      WHERE c.user_id = $1 AND ($4::uuid IS NULL OR c.project_id = $4)"
    "                      ORDER BY c.created_at DESC, c.id DESC LIMIT $2 OFFSET $3) x ON true"
    " ORDER BY x.created_at DESC, x.id DESC",
    4};

typedef struct {
    const char *project_id, *music_track_id, *transition;
    json_object *clip_ids;
    double transition_seconds, music_volume;
} compile_input;

static const char *const transitions[] = {"none", "fade", "dissolve", "wipe", "slide", NULL};

static const bind_field fields[] = {
    {.name = "projectId",
     .type = BIND_STRING,
     .offset = offsetof(compile_input, project_id),
     .required = true,
     .check = bind_check_uuid},
    {.name = "clipIds",
     .type = BIND_UUID_ARRAY,
     .offset = offsetof(compile_input, clip_ids),
     .required = true,
     .min = 1,
     .max = 50,
     .message = "must be an array of 1 to 50 clip ids"},
    {.name = "musicTrackId",
     .type = BIND_STRING,
     .offset = offsetof(compile_input, music_track_id),
     .check = bind_check_uuid},
    {.name = "transition",
     .type = BIND_STRING,
     .offset = offsetof(compile_input, transition),
     .required = true,
     .one_of = transitions},
    {.name = "transitionSeconds",
     .type = BIND_NUMBER,
     .offset = offsetof(compile_input, transition_seconds),
     .min = 0.2,
     .max = 2},
    {.name = "musicVolume",
     .type = BIND_NUMBER,
     .offset = offsetof(compile_input, music_volume),
     .required = true,
     .min = 0,
     .max = 100},
};

static rv_err create(rv_req *rq)
{
    compile_input in = {.transition_seconds = 1};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    json_object *job = req_keep(rq, json_object_new_object());
    json_object_object_add(job, "projectId", json_object_new_string(in.project_id));
    json_object_object_add(job, "clipIds", json_object_get(in.clip_ids));
    if (in.music_track_id)
        json_object_object_add(job, "musicTrackId", json_object_new_string(in.music_track_id));
    json_object_object_add(job, "transition", json_object_new_string(in.transition));
    json_object_object_add(job, "transitionSeconds", json_object_new_double(in.transition_seconds));
    json_object_object_add(job, "musicVolume", json_object_new_double(in.music_volume));
    return compile_submit(rq, job);
}

static rv_err list(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *project = req_query(rq, "projectId");
    if (project && !req_is_uuid(project))
        return req_field_error(rq, "projectId", "must be a UUID");
    const char *p[] = {rq->user_id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit), project};
    PGresult *r;
    if ((er = db_query(rq, &list_compilations, p, &r)) != RV_OK)
        return er;
    json_object *items = req_keep(rq, json_object_new_array());
    for (int i = 0; i < PQntuples(r); i++) {
        const char *item = compile_view(rq, db_get(r, i, 1), db_get(r, i, 2), db_get(r, i, 3));
        if (item)
            json_object_array_add(items, json_tokener_parse(item));
    }
    json_object *body = req_keep(rq, json_object_new_object());
    json_object_object_add(body, "items", json_object_get(items));
    json_object_object_add(body, "pagination",
                           resp_pagination(page, limit, PQntuples(r) ? db_get_long(r, 0, 0) : 0));
    return resp_json(rq, 200,
                     json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
}

static rv_err compilations(rv_req *rq)
{
    return rq->method_bit == RV_POST ? create(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "compilations",
    .route = "/api/compilations",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH,
    .body_limit = 16 * 1024,
    .handle = compilations,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
