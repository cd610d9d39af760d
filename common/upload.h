/* upload.h — files clients upload: what they really are and what they are called.
 *
 * An upload reaches its handler as a file nginx has already written
 * (client_body_in_file_only), named in the REQUEST_BODY_FILE parameter; the serve
 * loop checks that path (upload_path_ok) and removes the file after the request,
 * whatever happened (see RV_BODY_FILE in serve.h). The handler decides the type
 * from the content (upload_sniff_fd), never from a header or a name, and keeps
 * the client's filename only as a label (upload_filename): storage keys are made
 * by storage.h and never contain it. */
#ifndef RV_UPLOAD_H
#define RV_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

/* The audio containers we accept. UPLOAD_NONE: anything else. */
typedef enum upload_type {
    UPLOAD_NONE = 0,
    UPLOAD_MP3,
    UPLOAD_WAV,
    UPLOAD_OGG,
    UPLOAD_WEBM,
    UPLOAD_FLAC,
} upload_type;

enum {
    UPLOAD_SNIFF_BYTES = 512, /* what upload_sniff_fd() reads at a time */
    UPLOAD_NAME_MAX = 255,    /* characters of a sanitised filename */
};

/* The type that head[0..n) announces by its magic bytes:
 *   "ID3" v2 tag or an MPEG audio Layer III frame header → mp3;
 *   "RIFF" size "WAVE" → wav; "OggS" → ogg; "fLaC" → flac;
 *   EBML (1A 45 DF A3) whose header says DocType "webm" → webm (other Matroska
 *   documents and a header longer than n are UPLOAD_NONE).
 * Only a prefix is looked at: the decoder has the last word. head may be NULL
 * when n is 0. */
upload_type upload_sniff(const unsigned char *head, size_t n);

/* Bytes of the ID3v2 tag at the start of head (header, body and footer), 0 when
 * head does not start with a well-formed ID3v2 header. */
size_t upload_id3_len(const unsigned char *head, size_t n);

/* upload_sniff() on an open file, looking past ID3v2 tags: what follows them is
 * an mp3 unless it is a flac (tagged flac files exist). Reads with pread(), so the
 * file offset is untouched. UPLOAD_NONE for a read error or an empty file. */
upload_type upload_sniff_fd(int fd);

/* "mp3", "wav", "ogg", "webm", "flac"; NULL for UPLOAD_NONE. */
const char *upload_ext(upload_type t);
/* "audio/mpeg", "audio/wav", "audio/ogg", "audio/webm", "audio/flac"; NULL for
 * UPLOAD_NONE. */
const char *upload_content_type(upload_type t);

/* Whether libavformat's demuxer name (media_info.format) is the one for t, so a
 * file is not accepted as one type and decoded as another. */
bool upload_format_matches(upload_type t, const char *demuxer);

/* Whether a Content-Type header value is one of the types the API accepts for
 * uploads: audio/mpeg, audio/wav, audio/x-wav, audio/ogg, audio/webm, audio/flac,
 * case-insensitive, parameters allowed ("audio/webm;codecs=opus"). NULL → false. */
bool upload_content_type_ok(const char *ct);

/* Sanitises a client's filename (already percent-decoded) into a label that is
 * safe to store and show: only the part after the last '/' or '\' is kept;
 * control characters (C0, DEL, C1) and Unicode bidi controls and BOMs are
 * dropped; spaces and dots are trimmed at both ends. The result is 1 to
 * UPLOAD_NAME_MAX characters of valid UTF-8.
 * *out: the arena-owned name on success, untouched otherwise. Returns NULL on
 * success, else a message for a 400 field error (raw NULL, invalid UTF-8, nothing
 * left, too long). */
const char *upload_filename(arena *a, const char *raw, const char **out);

/* Whether path names a file nginx could have written for a request body under
 * dir: dir, '/', then one to four non-empty all-digit segments (the temp file and
 * its optional level folders). No '.', '..', doubled or trailing '/'. A trailing
 * '/' of dir is ignored. Either NULL → false. */
bool upload_path_ok(const char *dir, const char *path);

#endif
