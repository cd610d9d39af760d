#include "storage.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "durable.h"
#include "log.h"
#include "s3.h"

/* What each backend does; the one chosen at start is `backend`. */
typedef struct store_ops {
    const char *name;
    rv_err (*temp_path)(arena *a, const char *key, char **tmp);
    rv_err (*commit)(arena *a, const char *tmp, const char *key);
    rv_err (*put_file)(arena *a, const char *src, const char *key);
    rv_err (*fetch)(arena *a, const char *key, const char *dst);
    rv_err (*remove)(arena *a, const char *key);
    char *(*signed_url)(arena *a, const char *key, long ttl, time_t now);
} store_ops;

static const store_ops local_ops, s3_ops;
static const store_ops *backend = &local_ops;
static s3_conf s3;

static unsigned char link_key[crypto_auth_hmacsha256_KEYBYTES];
/* The HMAC state with the key already absorbed: every link copies it, saving the
 * two key blocks per signature. */
static crypto_auth_hmacsha256_state link_base;
static bool have_key;
static const char *root_dir = "./var";
static const char *base_url = "http://127.0.0.1:8080";

bool store_init(const unsigned char *secret, size_t len, const char *data_dir,
                const char *public_url, char *why, size_t why_len)
{
    static const char label[] = "reelvox media link v1";
    root_dir = data_dir;
    base_url = public_url;
    /* The settings config_load read and checked; unloaded, local. */
    const char *kind = config->storage ? config->storage : "local";
    if (!strcmp(kind, "local")) {
        backend = &local_ops;
    } else if (!strcmp(kind, "s3")) {
        s3 = (s3_conf){config->s3_endpoint, config->s3_bucket, config->s3_region, config->s3_key_id,
                       config->s3_secret};
        if (!s3_conf_check(&s3, why, why_len))
            return false;
        backend = &s3_ops;
    } else {
        snprintf(why, why_len, "RV_STORAGE must be local or s3");
        return false;
    }
    if (sodium_init() < 0) {
        snprintf(why, why_len, "cannot initialise libsodium");
        return false;
    }
    have_key = false;
    if (!secret || !len)
        return true; /* files work; local links cannot be signed */
    /* A key of its own, so a link signature never doubles as a token signature. */
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, link_key);
    crypto_auth_hmacsha256_init(&link_base, link_key, sizeof link_key);
    have_key = true;
    return true;
}

const char *store_backend(void)
{
    return backend->name;
}

/* Random only: a key ends up in every media URL, in nginx's access log and in the
 * bucket's listing, so it names nothing of its owner or of their text. The first
 * byte spreads keys over 256 folders. user_id and name_hint are not used. */
char *store_new_key(arena *a, const char *prefix, const char *user_id, const char *name_hint,
                    const char *ext)
{
    (void)user_id;
    (void)name_hint;
    unsigned char rnd[16];
    char hex[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    return arena_printf(a, "%s/%.2s/%s.%s", prefix, hex, hex, ext);
}

bool store_key_valid(const char *key)
{
    if (!key || !*key || key[0] == '/' || strlen(key) > 512)
        return false;
    const char *seg = key;
    for (const char *p = key;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == '\0') {
            size_t n = (size_t)(p - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (c == '\0')
                return true;
            seg = p + 1;
        } else if (!(isalnum(c) && c < 0x80) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
}

char *store_path(arena *a, const char *key)
{
    return arena_printf(a, "%s/storage/%s", root_dir, key);
}

/* Work files live in one folder per backend, so the sweeper that removes those a
 * killed process left reads one folder, not the whole store. The local one is
 * inside the store: same filesystem, so committing is an atomic rename. */
static char *temp_dir(arena *a, bool local)
{
    return local ? arena_printf(a, "%s/storage/.tmp", root_dir)
                 : arena_printf(a, "%s/tmp", root_dir);
}

static rv_err local_temp_path(arena *a, const char *key, char **tmp)
{
    unsigned char rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    /* The key's folder exists once the file is committed there. */
    rv_err er = durable_mkdirs(store_path(a, key));
    char *path = arena_printf(a, "%s/%s.tmp", temp_dir(a, true), hex);
    if (er == RV_OK)
        er = durable_mkdirs(path);
    if (er == RV_OK)
        *tmp = path;
    return er;
}

/* Durable before it returns (durable.h): the caller commits the row that names key
 * only after this, so a committed row never outlives its file in a power loss. */
static rv_err local_commit(arena *a, const char *tmp, const char *key)
{
    if (durable_rename(tmp, store_path(a, key)) != RV_OK) {
        log_msg(LOG_ERROR, "storing %s failed", key);
        unlink(tmp);
        return RV_E_INTERNAL;
    }
    return RV_OK;
}

rv_err store_copy(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    char buf[64 * 1024];
    size_t n;
    bool ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    /* The copy may be what gets stored (an upload from another filesystem). */
    ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = false;
    return ok ? RV_OK : RV_E_INTERNAL;
}

static rv_err local_put_file(arena *a, const char *src, const char *key)
{
    char *tmp = NULL;
    rv_err er = local_temp_path(a, key, &tmp);
    if (er == RV_OK && rename(src, tmp) != 0)
        er = errno == EXDEV ? store_copy(src, tmp) : RV_E_INTERNAL;
    unlink(src);
    if (er != RV_OK) {
        if (tmp)
            unlink(tmp);
        log_msg(LOG_ERROR, "storing %s failed", key);
        return er;
    }
    return local_commit(a, tmp, key);
}

static rv_err local_fetch(arena *a, const char *key, const char *dst)
{
    const char *src = store_path(a, key);
    if (access(src, F_OK) != 0 && errno == ENOENT)
        return RV_E_NOT_FOUND;
    rv_err er = store_copy(src, dst);
    if (er != RV_OK) {
        log_msg(LOG_ERROR, "copying %s out of storage failed", key);
        unlink(dst);
    }
    return er;
}

static rv_err local_remove(arena *a, const char *key)
{
    if (unlink(store_path(a, key)) != 0 && errno != ENOENT)
        return RV_E_INTERNAL;
    return RV_OK;
}

enum { LINK_STEP_S = 300 };

static void link_sig(const char *key, long exp, char out[48])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char expstr[24];
    int n = snprintf(expstr, sizeof expstr, "\n%ld", exp);
    crypto_auth_hmacsha256_state st = link_base;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)expstr, (unsigned long long)n);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, 48, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static char *local_signed_url(arena *a, const char *key, long ttl, time_t now)
{
    char sig[48], exps[24];
    /* Rounded up to the next LINK_STEP_S: a link is valid at least ttl, and the same
     * file's link stays the same for a while, so an answer that holds it keeps its
     * ETag (a polling page gets 304s) and a browser keeps the file cached. */
    long exp = ((long)now + ttl + LINK_STEP_S - 1) / LINK_STEP_S * LINK_STEP_S;
    link_sig(key, exp, sig);
    snprintf(exps, sizeof exps, "%ld", exp);
    const char *parts[] = {base_url, "/media/", key, "?exp=", exps, "&sig=", sig};
    return arena_join(a, parts, sizeof parts / sizeof parts[0]);
}

bool store_check_link(const char *key, const char *exp, const char *sig, time_t now)
{
    if (!have_key || !store_key_valid(key) || !exp || !sig || strlen(sig) != 43)
        return false;
    char *end;
    errno = 0;
    long e = strtol(exp, &end, 10);
    if (errno || *end || end == exp || e < (long)now)
        return false;
    char want[48];
    link_sig(key, e, want);
    return sodium_memcmp(want, sig, 43) == 0;
}

/* The s3 backend: work files in $RV_DATA_DIR/tmp, on the data folder's filesystem
 * (an upload nginx wrote there is sent from where it lies). */

/* Content-Type by extension, the same table as nginx's /_media/ location. */
static const char *content_type(const char *key)
{
    static const char *const types[][2] = {
        {"mp3", "audio/mpeg"}, {"wav", "audio/wav"},   {"flac", "audio/flac"},
        {"ogg", "audio/ogg"},  {"webm", "audio/webm"}, {"mp4", "video/mp4"},
        {"jpg", "image/jpeg"}, {"png", "image/png"},   {"webp", "image/webp"},
    };
    const char *dot = strrchr(key, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot + 1, types[i][0]))
            return types[i][1];
    return "application/octet-stream";
}

static rv_err s3_temp_path(arena *a, const char *key, char **tmp)
{
    (void)key;
    unsigned char rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    char *dir = temp_dir(a, false);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_msg(LOG_ERROR, "mkdir %s failed: %s", dir, strerror(errno));
        return RV_E_INTERNAL;
    }
    *tmp = arena_printf(a, "%s/%s.tmp", dir, hex);
    return RV_OK;
}

static rv_err s3_put(arena *a, const char *src, const char *key)
{
    rv_err er = s3_put_file(a, &s3, src, key, content_type(key));
    unlink(src);
    return er;
}

static rv_err s3_fetch(arena *a, const char *key, const char *dst)
{
    return s3_get_file(a, &s3, key, dst);
}

static rv_err s3_remove(arena *a, const char *key)
{
    return s3_delete(a, &s3, key);
}

static char *s3_signed_url(arena *a, const char *key, long ttl, time_t now)
{
    return s3_presign(a, &s3, key, now, ttl);
}

static const store_ops local_ops = {
    .name = "local",
    .temp_path = local_temp_path,
    .commit = local_commit,
    .put_file = local_put_file,
    .fetch = local_fetch,
    .remove = local_remove,
    .signed_url = local_signed_url,
};
/* Committing a work file and storing an upload are the same upload. */
static const store_ops s3_ops = {
    .name = "s3",
    .temp_path = s3_temp_path,
    .commit = s3_put,
    .put_file = s3_put,
    .fetch = s3_fetch,
    .remove = s3_remove,
    .signed_url = s3_signed_url,
};

/* The interface: checks common to both, then the backend's. */

rv_err store_temp_path(arena *a, const char *key, char **tmp)
{
    if (!store_key_valid(key))
        return RV_E_INTERNAL;
    return backend->temp_path(a, key, tmp);
}

rv_err store_commit(arena *a, const char *tmp, const char *key)
{
    if (!store_key_valid(key)) {
        log_msg(LOG_ERROR, "storing failed: invalid key");
        unlink(tmp);
        return RV_E_INTERNAL;
    }
    return backend->commit(a, tmp, key);
}

rv_err store_put_file(arena *a, const char *src, const char *key)
{
    if (!store_key_valid(key)) {
        log_msg(LOG_ERROR, "storing failed: invalid key");
        unlink(src);
        return RV_E_INTERNAL;
    }
    return backend->put_file(a, src, key);
}

rv_err store_fetch(arena *a, const char *key, const char *dst)
{
    if (!store_key_valid(key))
        return RV_E_NOT_FOUND;
    return backend->fetch(a, key, dst);
}

rv_err store_delete(arena *a, const char *key)
{
    if (!store_key_valid(key))
        return RV_E_INTERNAL;
    return backend->remove(a, key);
}

char *store_signed_url(arena *a, const char *key, long ttl, time_t now)
{
    return backend->signed_url(a, key, ttl, now);
}

int store_sweep_temps(arena *a, long older_than_s, time_t now)
{
    int removed = 0;
    for (int local = 0; local < 2; local++) {
        char *dir = temp_dir(a, local);
        DIR *d = opendir(dir);
        if (!d)
            continue; /* none made yet */
        struct dirent *e;
        while ((e = readdir(d))) {
            struct stat sb;
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 4, ".tmp") ||
                fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(sb.st_mode) || now - sb.st_mtime < older_than_s)
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                removed++;
        }
        closedir(d);
    }
    return removed;
}
