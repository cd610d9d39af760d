/* POST /api/admin/music-tracks?title=T — admins. Adds a music track.
 *
 * The raw audio file is the body, as for POST /api/audios (nginx writes it to a
 * file, at most 50 MiB; Content-Type audio/mpeg, audio/wav, audio/x-wav,
 * audio/ogg, audio/webm or audio/flac): the type is taken from the content, and
 * the file must decode as that type.
 * → 201 {id, title, durationMs, url} + Location /api/music-tracks;
 * 400 title (required, 1..200 characters of UTF-8, no control characters);
 * 403 forbidden for anyone but an admin (role from the token; checked again in
 * SQL); 415 a Content-Type outside the list or content that is no such audio;
 * 422 an empty body or audio that does not decode; 401, 405, 413, 429, 503. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "db.h"
#include "filereg.h"
#include "media.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "upload.h"
#include "views.h"

enum { UPLOAD_LIMIT = 50 * 1024 * 1024, MAX_TITLE = 200 };

static const db_stmt add_track = {
    "SELECT status, track_json FROM rv_music_track_add($1, $2, $3, $4, $5)", 5};

static upload_type sniff(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return UPLOAD_NONE;
    upload_type t = upload_sniff_fd(fd);
    close(fd);
    return t;
}

/* A title is shown as it is: valid UTF-8, 1..MAX_TITLE characters, not only
 * blanks, no control characters. */
static bool title_ok(const char *t)
{
    if (!t || !bind_utf8_valid(t, strlen(t)))
        return false;
    size_t n = bind_utf8_len(t);
    if (n < 1 || n > MAX_TITLE || strspn(t, " ") == strlen(t))
        return false;
    for (const unsigned char *c = (const unsigned char *)t; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

static rv_err add(rv_req *rq)
{
    if (!upload_content_type_ok(rq->content_type))
        return req_fail(rq, RV_E_UNSUPPORTED_MEDIA,
                        "send the file as audio/mpeg, audio/wav, audio/x-wav, audio/ogg, "
                        "audio/webm or audio/flac");
    const char *title = req_query(rq, "title");
    if (!title_ok(title))
        return req_field_error(rq, "title",
                               "must be 1 to 200 characters of UTF-8 text, no control characters");
    if (!rq->body_file || rq->body_len == 0)
        return req_fail(rq, RV_E_UNPROCESSABLE, "the body is empty");
    upload_type t = sniff(rq->body_file);
    if (t == UPLOAD_NONE)
        return req_fail(rq, RV_E_UNSUPPORTED_MEDIA,
                        "the content is not mp3, wav, ogg, webm or flac audio");
    media_info mi;
    if (media_probe(rq->body_file, &mi) != RV_OK || !mi.has_audio ||
        !upload_format_matches(t, mi.format) || mi.duration_ms < 1)
        return req_fail(rq, RV_E_UNPROCESSABLE, "the file holds no %s audio that decodes",
                        upload_ext(t));

    /* Registered, stored, then recorded (filereg.h). */
    const char *key = store_new_key(rq->a, "music", NULL, NULL, upload_ext(t));
    rv_err er = filereg_register(rq, &key, 1);
    if (er == RV_OK)
        er = store_put_file(rq->a, rq->body_file, key);
    if (er != RV_OK)
        return er;
    const char *p[] = {title, upload_content_type(t), arena_printf(rq->a, "%zu", rq->body_len),
                       arena_printf(rq->a, "%lld", (long long)mi.duration_ms), key};
    PGresult *r;
    if ((er = db_query(rq, &add_track, p, &r)) != RV_OK || PQntuples(r) != 1) {
        filereg_drop(rq, key);
        return er != RV_OK ? er : RV_E_INTERNAL;
    }
    if (strcmp(db_get(r, 0, 0), "ok")) {
        filereg_drop(rq, key);
        return req_fail(rq, RV_E_FORBIDDEN, "only admins add music tracks");
    }
    resp_header(rq, "Location", "/api/music-tracks");
    return resp_json(rq, 201, views_audio(rq, db_get(r, 0, 1), key));
}

static const rv_endpoint endpoint = {
    .name = "admin_music_tracks",
    .route = "/api/admin/music-tracks",
    .methods = RV_POST,
    .flags = RV_ADMIN | RV_RAW_BODY | RV_BODY_FILE | RV_SOLO,
    .body_limit = UPLOAD_LIMIT,
    .handle = add,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
