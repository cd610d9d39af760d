#include "s3.h"

#include <ctype.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

enum { ATTEMPTS = 3, MAX_SECRET = 256, MAX_ENDPOINT = 512 };

/* The parts of an endpoint: origin "scheme://host[:port]" without a default port
 * (what goes in URLs), host the same without the scheme (what the Host header
 * carries and the signature covers), prefix a path below it ("" or "/s3"). */
typedef struct {
    const char *origin, *host, *prefix;
} endpoint;

static bool parse_endpoint(arena *a, const char *ep, endpoint *out)
{
    size_t skip;
    if (!ep || strlen(ep) > MAX_ENDPOINT)
        return false;
    if (!strncmp(ep, "https://", 8))
        skip = 8;
    else if (!strncmp(ep, "http://", 7))
        skip = 7;
    else
        return false;
    const char *auth = ep + skip;
    size_t n = strcspn(auth, "/?#");
    if (n == 0 || memchr(auth, '@', n) || auth[n + strcspn(auth + n, "?#")] != '\0')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)auth[i] <= ' ' || auth[i] == '\\')
            return false;
    /* Clients leave a default port out of Host; the signature must match them. */
    const char *dflt = skip == 8 ? ":443" : ":80";
    size_t dn = strlen(dflt);
    size_t hn = n > dn && !memcmp(auth + n - dn, dflt, dn) ? n - dn : n;
    const char *path = auth + n;
    size_t pn = strlen(path);
    while (pn && path[pn - 1] == '/')
        pn--;
    out->host = arena_strndup(a, auth, hn);
    out->origin = arena_printf(a, "%.*s%s", (int)skip, ep, out->host);
    out->prefix = arena_strndup(a, path, pn);
    return true;
}

static bool bucket_ok(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' ||
              b[i] == '-'))
            return false;
    return true;
}

static bool region_ok(const char *r)
{
    if (!r || !*r || strlen(r) > 64)
        return false;
    for (; *r; r++)
        if (!((isalnum((unsigned char)*r) && (unsigned char)*r < 0x80) || *r == '-' || *r == '_'))
            return false;
    return true;
}

bool s3_conf_check(const s3_conf *c, char *why, size_t why_len)
{
    arena *a = arena_new();
    endpoint ep;
    bool ok = false;
    if (!c->endpoint || !*c->endpoint)
        snprintf(why, why_len, "RV_S3_ENDPOINT is missing (e.g. http://127.0.0.1:4569)");
    else if (!parse_endpoint(a, c->endpoint, &ep))
        snprintf(why, why_len,
                 "RV_S3_ENDPOINT must be http(s)://host[:port][/path] without user, query or "
                 "fragment");
    else if (!c->bucket || !*c->bucket)
        snprintf(why, why_len, "RV_S3_BUCKET is missing");
    else if (!bucket_ok(c->bucket))
        snprintf(why, why_len, "RV_S3_BUCKET must be 3 to 63 of a-z, 0-9, '.' and '-'");
    else if (!region_ok(c->region))
        snprintf(why, why_len, "RV_S3_REGION must be letters, digits, '-' and '_'");
    else if (!c->key_id || !*c->key_id || !c->secret || !*c->secret)
        snprintf(why, why_len,
                 "RV_S3_ACCESS_KEY_ID and RV_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY) are required");
    else if (strchr(c->key_id, ':') || strlen(c->key_id) > 128 || strlen(c->secret) > MAX_SECRET)
        snprintf(why, why_len, "the S3 access key id or secret has an impossible shape");
    else
        ok = true;
    arena_free(a);
    return ok;
}

char *s3_uri_encode(arena *a, const char *s, bool keep_slash)
{
    char *out = arena_alloc(a, 3 * strlen(s) + 1), *p = out;
    while (*s) {
        size_t seg = keep_slash ? strcspn(s, "/") : strlen(s);
        if (seg) {
            /* libcurl keeps exactly RFC 3986's unreserved set and writes %XX in
             * upper case: SigV4's rules. */
            char *e = curl_easy_escape(NULL, s, (int)seg);
            if (!e)
                abort(); /* out of memory ends the process */
            size_t en = strlen(e);
            memcpy(p, e, en);
            p += en;
            curl_free(e);
            s += seg;
        }
        if (*s == '/')
            *p++ = *s++;
    }
    *p = '\0';
    return out;
}

static void hmac(const unsigned char *key, size_t klen, const char *msg,
                 unsigned char out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
    crypto_auth_hmacsha256_final(&st, out);
}

/* The day's signing key: HMAC chain "AWS4"+secret → day → region → "s3" →
 * "aws4_request". Four HMACs per URL saved by remembering the last one, under a hash
 * of what it was derived from (so the cache never holds the secret). */
static void signing_key(const s3_conf *c, const char *day, unsigned char key[32])
{
    static unsigned char memo_id[crypto_generichash_BYTES], memo_key[32];
    static bool memo_set;
    unsigned char id[crypto_generichash_BYTES];
    crypto_generichash_state gs;
    crypto_generichash_init(&gs, NULL, 0, sizeof id);
    crypto_generichash_update(&gs, (const unsigned char *)c->secret, strlen(c->secret) + 1);
    crypto_generichash_update(&gs, (const unsigned char *)c->region, strlen(c->region) + 1);
    crypto_generichash_update(&gs, (const unsigned char *)day, strlen(day));
    crypto_generichash_final(&gs, id, sizeof id);
    if (memo_set && sodium_memcmp(id, memo_id, sizeof id) == 0) {
        memcpy(key, memo_key, 32);
        return;
    }
    unsigned char k[MAX_SECRET + 4];
    size_t n = strlen(c->secret);
    if (n > MAX_SECRET)
        n = MAX_SECRET; /* s3_conf_check refuses longer ones */
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, c->secret, n);
    hmac(k, n + 4, day, key);
    hmac(key, 32, c->region, key);
    hmac(key, 32, "s3", key);
    hmac(key, 32, "aws4_request", key);
    sodium_memzero(k, sizeof k);
    memcpy(memo_key, key, 32);
    memcpy(memo_id, id, sizeof id);
    memo_set = true;
}

static void sha256_update(crypto_hash_sha256_state *st, const char *s)
{
    crypto_hash_sha256_update(st, (const unsigned char *)s, strlen(s));
}

char *s3_presign_path(arena *a, const s3_conf *c, const char *path, time_t now, long expires)
{
    endpoint ep;
    if (!parse_endpoint(a, c->endpoint, &ep))
        return NULL;
    if (expires < 1)
        expires = 1;
    if (expires > S3_MAX_EXPIRES)
        expires = S3_MAX_EXPIRES;
    char amz_date[20], day[9];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(day, amz_date, 8);
    day[8] = '\0';

    const char *uri = s3_uri_encode(a, arena_printf(a, "%s%s", ep.prefix, path), true);
    const char *scope = arena_printf(a, "%s/%s/s3/aws4_request", day, c->region);
    /* Parameters in byte order of their names, as the canonical request lists them. */
    const char *query = arena_printf(
        a,
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s&X-Amz-Expires=%ld"
        "&X-Amz-SignedHeaders=host",
        s3_uri_encode(a, arena_printf(a, "%s/%s", c->key_id, scope), false), amz_date, expires);

    /* Canonical request: method, URI, query, headers, signed headers, payload. */
    unsigned char digest[crypto_hash_sha256_BYTES];
    char digest_hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init(&hs);
    const char *canonical[] = {
        "GET\n", uri, "\n", query, "\nhost:", ep.host, "\n\nhost\nUNSIGNED-PAYLOAD"};
    for (size_t i = 0; i < sizeof canonical / sizeof canonical[0]; i++)
        sha256_update(&hs, canonical[i]);
    crypto_hash_sha256_final(&hs, digest);
    sodium_bin2hex(digest_hex, sizeof digest_hex, digest, sizeof digest);

    unsigned char key[32], sig[crypto_auth_hmacsha256_BYTES];
    char sig_hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    signing_key(c, day, key);
    hmac(key, sizeof key,
         arena_printf(a, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, digest_hex), sig);
    sodium_memzero(key, sizeof key);
    sodium_bin2hex(sig_hex, sizeof sig_hex, sig, sizeof sig);
    const char *parts[] = {ep.origin, uri, "?", query, "&X-Amz-Signature=", sig_hex};
    return arena_join(a, parts, sizeof parts / sizeof parts[0]);
}

char *s3_presign(arena *a, const s3_conf *c, const char *key, time_t now, long expires)
{
    return s3_presign_path(a, c, arena_printf(a, "/%s/%s", c->bucket, key), now, expires);
}

/* The S3 error code in an XML error body ("NoSuchKey"), or "". */
static const char *error_code(arena *a, const char *body)
{
    const char *p = body ? strstr(body, "<Code>") : NULL;
    if (!p)
        return "";
    p += 6;
    size_t n = 0;
    while (n < 64 && isalnum((unsigned char)p[n]))
        n++;
    return arena_strndup(a, p, n);
}

/* Runs call against key's URL, signed, trying again after a pause on an answer
 * worth retrying (none, 408, 429, 5xx). Returns the last status (0: none). */
static long request(arena *a, const s3_conf *c, http_call *call, const char *key)
{
    endpoint ep;
    if (!parse_endpoint(a, c->endpoint, &ep))
        return 0;
    call->url = arena_printf(
        a, "%s%s", ep.origin,
        s3_uri_encode(a, arena_printf(a, "%s/%s/%s", ep.prefix, c->bucket, key), true));
    call->aws_sigv4 = arena_printf(a, "aws:amz:%s:s3", c->region);
    call->username = c->key_id;
    call->password = c->secret;
    for (int i = 0; i < ATTEMPTS; i++) {
        if (i)
            usleep(i * 200000u);
        http_run(a, call, 1);
        if (!http_transient(call))
            break;
    }
    if (call->status < 200 || call->status > 299)
        log_msg(call->status == 404 ? LOG_INFO : LOG_ERROR, "s3 %s %s: %ld %s", call->method, key,
                call->status, call->status ? error_code(a, call->resp) : call->error);
    return call->status;
}

rv_err s3_put_file(arena *a, const s3_conf *c, const char *src, const char *key,
                   const char *content_type)
{
    http_call call = {.method = "PUT", .upload_from = src};
    int h = 0;
    /* curl 7.88 does not add this header for S3, and signs an empty payload's hash
     * without it; UNSIGNED-PAYLOAD lets the body stream without a first pass. */
    call.headers[h++] = "x-amz-content-sha256: UNSIGNED-PAYLOAD";
    if (content_type)
        call.headers[h++] = arena_printf(a, "Content-Type: %s", content_type);
    call.headers[h++] = "Cache-Control: private, max-age=3600";
    struct stat sb;
    if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        log_msg(LOG_ERROR, "s3 PUT %s: no file to send", key);
        return RV_E_INTERNAL;
    }
    /* A minute, plus a second per MiB (an upload of 50 MiB gets under two). */
    call.timeout_ms = 60000 + (long)(sb.st_size >> 20) * 1000;
    long st = request(a, c, &call, key);
    return st >= 200 && st <= 299 ? RV_OK : RV_E_INTERNAL;
}

rv_err s3_get_file(arena *a, const s3_conf *c, const char *key, const char *dst)
{
    http_call call = {.method = "GET", .save_to = dst, .timeout_ms = 300000};
    call.headers[0] = "x-amz-content-sha256: UNSIGNED-PAYLOAD";
    long st = request(a, c, &call, key);
    if (st >= 200 && st <= 299)
        return RV_OK;
    unlink(dst);
    return st == 404 ? RV_E_NOT_FOUND : RV_E_INTERNAL;
}

rv_err s3_delete(arena *a, const s3_conf *c, const char *key)
{
    http_call call = {.method = "DELETE"};
    call.headers[0] = "x-amz-content-sha256: UNSIGNED-PAYLOAD";
    long st = request(a, c, &call, key);
    return st >= 200 && st <= 299 ? RV_OK : RV_E_INTERNAL;
}
