/* GET /api/music-tracks — public. The music any video may play under its pictures.
 *
 * → 200 {items: [{id, title, durationMs, url}]}, oldest first (the tracks made at
 * set-up time lead), each with a signed url valid for one hour. At most 500.
 * 405, 503. Admins add and remove tracks at /api/admin/music-tracks. */
#include "db.h"
#include "resp.h"
#include "serve.h"
#include "views.h"

enum { MAX_TRACKS = 500 };

static const db_stmt list_tracks = {
    "SELECT count(*) OVER (), rv_music_track_json(t), t.storage_key FROM music_tracks t"
    " ORDER BY t.created_at, t.id LIMIT 500",
    0};

static rv_err music_tracks(rv_req *rq)
{
    PGresult *r;
    rv_err er = db_query(rq, &list_tracks, NULL, &r);
    if (er != RV_OK)
        return er;
    json_object *items = req_keep(rq, json_object_new_array());
    for (int i = 0; i < PQntuples(r) && i < MAX_TRACKS; i++) {
        const char *item = views_audio(rq, db_get(r, i, 1), db_get(r, i, 2));
        json_object_array_add(items, json_tokener_parse(item));
    }
    json_object *body = req_keep(rq, json_object_new_object());
    json_object_object_add(body, "items", json_object_get(items));
    return resp_json(rq, 200,
                     json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const rv_endpoint endpoint = {
    .name = "music_tracks",
    .route = "/api/music-tracks",
    .methods = RV_GET,
    .flags = 0,
    .body_limit = 0,
    .handle = music_tracks,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
