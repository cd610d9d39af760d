/* GET /api/voices?page&limit — authenticated.
 *
 * 200 {items: [voice], pagination}: the preset voices, then the caller's own,
 * newest first. 400 (page/limit), 401, 405, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "views.h"

static const db_stmt list_voices = {
    "WITH f AS (SELECT * FROM voices WHERE user_id IS NULL OR user_id = $1)"
    "SELECT t.total, x.voice_json, x.storage_key"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT rv_voice_json(f) AS voice_json, a.storage_key,"
    "                            f.user_id IS NULL AS preset, f.created_at, f.id"
    "                       FROM f LEFT JOIN audios a ON a.id = f.preview_audio_id"
    "                      ORDER BY f.user_id IS NULL DESC, f.created_at DESC, f.id"
    "                      LIMIT $2 OFFSET $3) x ON true"
    " ORDER BY x.preset DESC, x.created_at DESC, x.id",
    3};

static rv_err voices(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {rq->user_id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &list_voices, p, &r)) != RV_OK)
        return er;
    return views_list(rq, r, 1, 2, views_voice, page, limit, db_get_long(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "voices", .route = "/api/voices", .methods = RV_GET, .flags = RV_AUTH,
    .body_limit = 0, .handle = voices,
};

int main(int argc, char **argv) { return serve_main(&endpoint, argc, argv); }
