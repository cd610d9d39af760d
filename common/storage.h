/* storage.h — where Reelvox keeps files, and the signed links that reach them.
 *
 * Keys look like audios/{xx}/{32 random hex}.{ext}: random only, so a media URL,
 * an access log line or a bucket listing says nothing of who made the file or what
 * it says (the nice download name lives in the row). Two
 * backends behind these calls, chosen once at start by RV_STORAGE:
 *
 * - local (the default): a key lives at $RV_DATA_DIR/storage/{key}; nginx sends the
 *   bytes after the media handler has checked a link's signature (HMAC-SHA256 over
 *   key and expiry with a key derived from RV_JWT_SECRET, constant-time compare).
 * - s3: a key is an object in RV_S3_BUCKET at RV_S3_ENDPOINT (path-style, see s3.h);
 *   links are presigned S3 GET URLs and the media handler is not used. Work files
 *   (store_temp_path) are still local, under $RV_DATA_DIR/tmp.
 *
 * Strings returned are arena-owned. */
#ifndef RV_STORAGE_H
#define RV_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "arena.h"
#include "err.h"

enum { STORE_URL_TTL = 3600 };

/* Takes the backend's settings from config (config_load first: RV_STORAGE local|s3,
 * default local; for s3: RV_S3_ENDPOINT, RV_S3_BUCKET, RV_S3_REGION (us-east-1),
 * RV_S3_ACCESS_KEY_ID and RV_S3_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY; checked there already) and derives the local link-signing
 * key from secret. All arguments borrowed for the life of the process. A missing
 * secret is no error: files work, local links cannot be checked. False, with the
 * reason in why (never a secret), when the settings are unusable (an unknown backend;
 * s3 without endpoint, bucket or keys): the caller refuses to start (exit 78). Call
 * once, before forking. */
bool store_init(const unsigned char *secret, size_t len, const char *data_dir,
                const char *public_url, char *why, size_t why_len);

/* "local" or "s3": the backend store_init chose. */
const char *store_backend(void);

/* A fresh key prefix/{xx}/{128 random bits in hex}.{ext}. user_id and name_hint are
 * ignored (kept for the callers; neither may reach a URL). */
char *store_new_key(arena *a, const char *prefix, const char *user_id, const char *name_hint,
                    const char *ext);

/* Whether key is one we could have made: [A-Za-z0-9._-/] only, no empty, "." or
 * ".." segment, no leading '/', at most 512 bytes. */
bool store_key_valid(const char *key);

/* The local path of a key. Local backend only: under s3 the path names no file (use
 * store_fetch for a local copy). */
char *store_path(arena *a, const char *key);

/* A path where the caller writes a file that store_commit then stores under key;
 * creates the folders. Local: in $RV_DATA_DIR/storage/.tmp (same filesystem, so
 * committing is an atomic rename). s3: in $RV_DATA_DIR/tmp. A work file is never
 * referenced by a row: delete it on any failure. */
rv_err store_temp_path(arena *a, const char *key, char **tmp);
/* Stores tmp under key (local: fsync, rename, fsync of the folder — see durable.h;
 * s3: upload). On RV_OK the file survives a power loss, so the caller may then
 * commit a row naming key. tmp is gone afterwards, on failure too. */
rv_err store_commit(arena *a, const char *tmp, const char *key);
/* Stores the file at src (e.g. an upload nginx wrote) under key: local, a rename
 * when it is on the same filesystem, else a copy; s3, an upload streamed from src.
 * src is gone afterwards either way. */
rv_err store_put_file(arena *a, const char *src, const char *key);
/* Copies what is stored under key to the local file dst (created or replaced):
 * RV_E_NOT_FOUND when nothing is; dst exists only on RV_OK. */
rv_err store_fetch(arena *a, const char *key, const char *dst);
/* Copies the local file src to dst (created or truncated). */
rv_err store_copy(const char *src, const char *dst);
/* Removes the work files (store_temp_path) last written more than older_than_s
 * before now: those of a process killed while it wrote. Returns how many. */
int store_sweep_temps(arena *a, long older_than_s, time_t now);
/* Removes a stored file; a missing file is fine. */
rv_err store_delete(arena *a, const char *key);

/* Absolute signed link to key, valid for ttl seconds from now: local, a /media link
 * under RV_PUBLIC_URL; s3, a presigned GET URL. */
char *store_signed_url(arena *a, const char *key, long ttl, time_t now);
/* Checks a local /media link: signature matches (constant time) and exp is in the
 * future. */
bool store_check_link(const char *key, const char *exp, const char *sig, time_t now);

#endif
