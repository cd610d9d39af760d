#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rv_config cfg;
const rv_config *config = &cfg;

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static bool env_long(const char *name, long dflt, long lo, long hi, long *out, char *why,
                     size_t why_len)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = dflt;
        return true;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi) {
        snprintf(why, why_len, "%s must be an integer in %ld..%ld", name, lo, hi);
        return false;
    }
    *out = n;
    return true;
}

/* The shortest p such that s is s[0..p) repeated (and cut), n when none. */
static size_t period_of(const unsigned char *s, size_t n)
{
    for (size_t p = 1; p < n; p++) {
        size_t i = p;
        while (i < n && s[i] == s[i - p])
            i++;
        if (i == n)
            return p;
    }
    return n;
}

bool config_secret_ok(const unsigned char *s, size_t n)
{
    enum { MIN_DISTINCT = 12, MIN_BITS = 128, SCAN_MAX = 4096 };
    if (!s || n < CONFIG_MIN_SECRET)
        return false;
    if (n > SCAN_MAX) /* more than enough to judge; keeps the scan quadratic-safe */
        n = SCAN_MAX;
    n = period_of(s, n);
    size_t count[256] = {0}, informative = 0;
    int distinct = 0;
    for (size_t i = 0; i < n; i++) {
        bool repeat = i >= 1 && s[i] == s[i - 1];
        bool run = i >= 2 && s[i] - s[i - 1] == s[i - 1] - s[i - 2];
        if (repeat || run)
            continue;
        if (count[s[i]]++ == 0)
            distinct++;
        informative++;
    }
    double per_char = 0;
    for (size_t c = 0; c < 256; c++)
        if (count[c]) {
            double q = (double)count[c] / (double)informative;
            per_char -= q * log2(q);
        }
    return distinct >= MIN_DISTINCT && per_char * (double)informative >= MIN_BITS;
}

bool config_load(bool need_secret, char *why, size_t why_len)
{
    long n;
    cfg.database_url = env_or("RV_DATABASE_URL", "dbname=reelvox");
    cfg.poller_database_url =
        env_or("RV_POLLER_DATABASE_URL", "dbname=reelvox user=reelvox_poller");
    cfg.jwt_issuer = env_or("RV_JWT_ISSUER", "reelvox");
    cfg.data_dir = env_or("RV_DATA_DIR", "./var");
    static char upload_dir[4096];
    snprintf(upload_dir, sizeof upload_dir, "%s/nginx/body", cfg.data_dir);
    cfg.upload_dir = env_or("RV_UPLOAD_DIR", upload_dir);
    cfg.public_url = env_or("RV_PUBLIC_URL", "http://127.0.0.1:8080");
    cfg.access_ttl = 900;
    if (!env_long("RV_WORKERS", 2, 0, 256, &n, why, why_len))
        return false;
    cfg.workers = (int)n;
    if (!env_long("RV_REFRESH_TTL_DAYS", 30, 1, 365, &n, why, why_len))
        return false;
    cfg.refresh_ttl = n * 86400;
    if (!env_long("RV_SESSION_RECHECK_SECONDS", 10, 0, 30, &n, why, why_len))
        return false;
    cfg.session_recheck = n;

    const char *lv = env_or("RV_LOG_LEVEL", "info");
    if (!strcmp(lv, "debug"))
        cfg.log_level = LOG_DEBUG;
    else if (!strcmp(lv, "info"))
        cfg.log_level = LOG_INFO;
    else if (!strcmp(lv, "warn"))
        cfg.log_level = LOG_WARN;
    else if (!strcmp(lv, "error"))
        cfg.log_level = LOG_ERROR;
    else {
        snprintf(why, why_len, "RV_LOG_LEVEL must be debug, info, warn or error");
        return false;
    }

    const char *secret = getenv("RV_JWT_SECRET");
    cfg.jwt_secret = (const unsigned char *)secret;
    cfg.jwt_secret_len = secret ? strlen(secret) : 0;
    if (need_secret && !config_secret_ok(cfg.jwt_secret, cfg.jwt_secret_len)) {
        snprintf(why, why_len,
                 "RV_JWT_SECRET is %s: it must be at least %d random bytes "
                 "(e.g. `openssl rand -base64 48`)",
                 secret ? "too weak" : "missing", CONFIG_MIN_SECRET);
        return false;
    }
    return true;
}
