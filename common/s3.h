/* s3.h — a small client for S3-compatible object storage, the storage module's
 * second backend.
 *
 * Path-style addressing: an object is at {endpoint}/{bucket}/{key}. Requests (PUT,
 * GET, DELETE) are signed by libcurl's AWS SigV4 with an unsigned payload, so a file
 * is streamed from disk, never read into memory. Downloads by browsers go through
 * presigned GET URLs (SigV4 query signing, HMAC-SHA256 and SHA-256 from libsodium).
 * Session tokens (temporary credentials) are not supported.
 * Strings returned are arena-owned. */
#ifndef RV_S3_H
#define RV_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "arena.h"
#include "err.h"

enum { S3_MAX_EXPIRES = 604800 }; /* a presigned URL lives at most a week */

/* Where and as whom. All borrowed: they must outlive every call that uses them
 * (environment strings do). A conf must not change once used: the day's signing key
 * is cached for it. */
typedef struct s3_conf {
    const char *endpoint; /* "http://127.0.0.1:4569", "https://s3.eu-west-1.amazonaws.com" */
    const char *bucket;
    const char *region; /* "us-east-1" */
    const char *key_id;
    const char *secret;
} s3_conf;

/* Checks c: an http or https endpoint with a host, no user, query or fragment (a
 * path prefix is allowed); a bucket name S3 accepts (3..63 of [a-z0-9.-]); a region of
 * [A-Za-z0-9_-]; a key id without ':' and a secret, both non-empty. False with the
 * reason in why (never the secret). */
bool s3_conf_check(const s3_conf *c, char *why, size_t why_len);

/* s percent-encoded the way SigV4 wants: the unreserved characters A-Z a-z 0-9 - . _ ~
 * stay, every other byte becomes %XX (upper-case hex); '/' stays when keep_slash (a
 * path), else becomes %2F (a query value). */
char *s3_uri_encode(arena *a, const char *s, bool keep_slash);

/* A presigned GET URL for path (the request path below the endpoint, starting with
 * '/', not yet encoded) signed at now and valid for expires seconds (clamped to
 * 1..S3_MAX_EXPIRES). The signed Host is the endpoint's, without a default port.
 * NULL if the endpoint cannot be parsed. */
char *s3_presign_path(arena *a, const s3_conf *c, const char *path, time_t now, long expires);

/* The presigned GET URL of an object: s3_presign_path of /{bucket}/{key}. */
char *s3_presign(arena *a, const s3_conf *c, const char *key, time_t now, long expires);

/* Uploads the file at src as key with this Content-Type (NULL: none). RV_OK on a 2xx;
 * RV_E_INTERNAL otherwise, logged. src is left alone. */
rv_err s3_put_file(arena *a, const s3_conf *c, const char *src, const char *key,
                   const char *content_type);

/* Downloads key into the file dst (created or truncated). RV_E_NOT_FOUND when there
 * is no such object; RV_E_INTERNAL on any other failure, logged. dst is removed
 * unless RV_OK. */
rv_err s3_get_file(arena *a, const s3_conf *c, const char *key, const char *dst);

/* Deletes key; a missing object is fine (S3 answers 204 either way). */
rv_err s3_delete(arena *a, const s3_conf *c, const char *key);

#endif
