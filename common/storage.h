/* storage.h — where Reelvox keeps files, and the signed links that reach them.
 *
 * Keys look like audios/{userId}/{yyyymmddThhmmss}-{slug}-{random}.{ext}. The local
 * backend keeps a key at $RV_DATA_DIR/storage/{key}; nginx sends the bytes after
 * the media handler has checked a link's signature (HMAC-SHA256 over key and
 * expiry with a key derived from RV_JWT_SECRET, constant-time compare). An S3
 * backend can sit behind the same calls (keys and signed URLs stay the same shape).
 * Strings returned are arena-owned. */
#ifndef RV_STORAGE_H
#define RV_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "arena.h"
#include "err.h"

enum { STORE_URL_TTL = 3600 };

/* Derives the link-signing key; false if the secret is missing. Call once. */
bool store_init(const unsigned char *secret, size_t len, const char *data_dir,
                const char *public_url);

/* A fresh key under prefix/user_id/ with a slug of name_hint (may be NULL) and ext
 * ("mp3"). */
char *store_new_key(arena *a, const char *prefix, const char *user_id, const char *name_hint,
                    const char *ext);

/* Whether key is one we could have made: [A-Za-z0-9._-/] only, no empty, "." or
 * ".." segment, no leading '/', at most 512 bytes. */
bool store_key_valid(const char *key);

/* The local path of a key. */
char *store_path(arena *a, const char *key);

/* A temporary path in the key's folder (same filesystem, so committing is an atomic
 * rename); creates the folders. */
rv_err store_temp_path(arena *a, const char *key, char **tmp);
/* Moves tmp into place under key. On failure tmp is removed. */
rv_err store_commit(arena *a, const char *tmp, const char *key);
/* Stores the file at src (e.g. an upload nginx wrote) under key: a rename when it
 * is on the same filesystem, else a copy; src is gone afterwards either way. */
rv_err store_put_file(arena *a, const char *src, const char *key);
/* Removes a stored file; a missing file is fine. */
rv_err store_delete(arena *a, const char *key);

/* Absolute signed link to key, valid for ttl seconds from now. */
char *store_signed_url(arena *a, const char *key, long ttl, time_t now);
/* Checks a link: signature matches (constant time) and exp is in the future. */
bool store_check_link(const char *key, const char *exp, const char *sig, time_t now);

#endif
