/* GET|POST /api/audios — authenticated. The caller's audio files.
 *
 * GET ?page&limit → 200 {items: [audio], pagination}, newest first, each with a
 * signed url. 400 (page/limit).
 *
 * POST ?filename=NAME with the raw file as body; Content-Type audio/mpeg, audio/wav,
 * audio/x-wav, audio/ogg, audio/webm or audio/flac (parameters allowed). nginx
 * writes the body to a file (at most 50 MiB, else its own 413 problem) and passes
 * only the path; the serve loop removes that file after every request, so nothing
 * is left behind whatever the answer. The content decides the type: a wav sent as
 * audio/mpeg is stored as the wav it is.
 * → 201 audio + Location, stored as audios/{userId}/{time}-{slug}-{random}.{ext};
 * 400 filename (required; after sanitising 1..255 characters, see upload.h);
 * 415 a Content-Type outside the list, or content that is none of mp3 (ID3 or an
 * MPEG Layer III frame), wav (RIFF/WAVE), ogg (OggS), webm (EBML, DocType webm),
 * flac (fLaC); 422 an empty body, or content that does not decode as the type its
 * magic bytes announce, holds no audio or none that lasts a millisecond.
 * 413 also when the file does not fit in the user's storage quota (admin_config
 * storage_quota, bytes and files; the problem carries `quota` and `used`), checked
 * in SQL as the row goes in, so two uploads at once cannot both fit.
 * nginx asks auth_check for the token before it reads a byte of the body.
 * 401, 405, 429 (nginx: uploads per address), 500, 503. Uploads cost no credits. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "filereg.h"
#include "media.h"
#include "resp.h"
#include "serve.h"
#include "storage.h"
#include "upload.h"
#include "views.h"

enum { UPLOAD_LIMIT = 50 * 1024 * 1024 }; /* nginx's client_max_body_size says the same */

static const db_stmt list_audios = {
    "WITH f AS (SELECT * FROM audios WHERE user_id = $1)"
    "SELECT t.total, x.audio_json, x.storage_key"
    "  FROM (SELECT count(*) AS total FROM f) t"
    "  LEFT JOIN LATERAL (SELECT rv_audio_json(f) AS audio_json, f.storage_key, f.created_at,"
    "                            f.id FROM f"
    "                      ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3) x ON true"
    " ORDER BY x.created_at DESC, x.id DESC",
    3};
static const db_stmt insert_audio = {
    "SELECT status, audio_json, audio_id, quota_bytes, quota_files, used_bytes, used_files"
    "  FROM rv_audio_upload($1, $2, $3, $4, $5, $6, $7)",
    7};

static rv_err list(rv_req *rq)
{
    return views_page(rq, &list_audios, views_audio);
}

/* The type the file's content announces; UPLOAD_NONE if it cannot be read. */
static upload_type sniff(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return UPLOAD_NONE;
    upload_type t = upload_sniff_fd(fd);
    close(fd);
    return t;
}

/* 413 with the quota (null: no limit) and what the user holds now, from the row
 * of rv_audio_upload that refused the file. */
static rv_err over_quota(rv_req *rq, const PGresult *r)
{
    static const char *const names[] = {"bytes", "files"};
    json_object *quota = json_object_new_object(), *used = json_object_new_object();
    for (int i = 0; i < 2; i++) {
        const char *q = db_get(r, 0, 3 + i);
        json_object_object_add(quota, names[i],
                               q ? json_object_new_int64(db_get_long(r, 0, 3 + i)) : NULL);
        json_object_object_add(used, names[i], json_object_new_int64(db_get_long(r, 0, 5 + i)));
    }
    req_problem_set(rq, "quota", quota);
    req_problem_set(rq, "used", used);
    return req_fail(rq, RV_E_PAYLOAD_TOO_LARGE,
                    "this file does not fit in your storage quota; delete some files first");
}

static rv_err upload(rv_req *rq)
{
    if (!upload_content_type_ok(rq->content_type))
        return req_fail(rq, RV_E_UNSUPPORTED_MEDIA,
                        "send the file as audio/mpeg, audio/wav, audio/x-wav, audio/ogg, "
                        "audio/webm or audio/flac");
    const char *name = NULL;
    const char *why = upload_filename(rq->a, req_query(rq, "filename"), &name);
    if (why)
        return req_field_error(rq, "filename", why);
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

    /* Registered, stored, then recorded: a failed insert takes the file back out
     * unless its commit went through unanswered (filereg.h). The key's slug is the
     * name without its extension (the key gets the real one). */
    const char *dot = strrchr(name, '.');
    const char *stem = dot && dot != name ? arena_strndup(rq->a, name, (size_t)(dot - name)) : name;
    const char *key = store_new_key(rq->a, "audios", rq->user_id, stem, upload_ext(t));
    rv_err er = filereg_register(rq, &key, 1);
    if (er == RV_OK)
        er = store_put_file(rq->a, rq->body_file, key);
    if (er != RV_OK)
        return er;
    const char *p[] = {name,
                       upload_content_type(t),
                       arena_printf(rq->a, "%zu", rq->body_len),
                       arena_printf(rq->a, "%lld", (long long)mi.duration_ms),
                       arena_printf(rq->a, "%d", mi.sample_rate),
                       arena_printf(rq->a, "%d", mi.channels),
                       key};
    PGresult *r;
    if ((er = db_query(rq, &insert_audio, p, &r)) != RV_OK || PQntuples(r) != 1) {
        filereg_drop(rq, key);
        return er != RV_OK ? er : RV_E_INTERNAL;
    }
    if (strcmp(db_get(r, 0, 0), "ok")) {
        filereg_drop(rq, key);
        return over_quota(rq, r);
    }
    resp_header(rq, "Location", arena_printf(rq->a, "/api/audios/%s", db_get(r, 0, 2)));
    return resp_json(rq, 201, views_audio(rq, db_get(r, 0, 1), key));
}

static rv_err audios(rv_req *rq)
{
    return rq->method_bit == RV_POST ? upload(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "audios",
    .route = "/api/audios",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH | RV_RAW_BODY | RV_BODY_FILE | RV_SOLO,
    .body_limit = UPLOAD_LIMIT,
    .handle = audios,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
