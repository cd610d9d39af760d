#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keybox.h"

#include "mail.h"
#include "s3.h"
#include "webhook.h"

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

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* 1|true|yes on, 0|false|no or empty (or unset) off; anything else refused. */
static bool env_bool(const char *name, bool *out, char *why, size_t why_len)
{
    const char *v = getenv(name);
    if (!v || !*v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
        *out = false;
        return true;
    }
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
        *out = true;
        return true;
    }
    snprintf(why, why_len, "%s must be 1, true, yes, 0, false, no or empty", name);
    return false;
}

/* RV_STORAGE and, under s3, its settings: the access key pair is RV_S3_*'s when
 * either is set, else AWS_*'s (never one of each). */
static bool storage_load(char *why, size_t why_len)
{
    cfg.storage = env_or("RV_STORAGE", "local");
    bool own = env_or_null("RV_S3_ACCESS_KEY_ID") || env_or_null("RV_S3_SECRET_ACCESS_KEY");
    cfg.s3_endpoint = env_or_null("RV_S3_ENDPOINT");
    cfg.s3_bucket = env_or_null("RV_S3_BUCKET");
    cfg.s3_region = env_or("RV_S3_REGION", "us-east-1");
    cfg.s3_key_id = env_or_null(own ? "RV_S3_ACCESS_KEY_ID" : "AWS_ACCESS_KEY_ID");
    cfg.s3_secret = env_or_null(own ? "RV_S3_SECRET_ACCESS_KEY" : "AWS_SECRET_ACCESS_KEY");
    if (!strcmp(cfg.storage, "local"))
        return true;
    if (strcmp(cfg.storage, "s3")) {
        snprintf(why, why_len, "RV_STORAGE must be local or s3");
        return false;
    }
    s3_conf c = {cfg.s3_endpoint, cfg.s3_bucket, cfg.s3_region, cfg.s3_key_id, cfg.s3_secret};
    return s3_conf_check(&c, why, why_len);
}

static bool providers_load(char *why, size_t why_len)
{
    cfg.replicate_url = env_or("RV_REPLICATE_URL", "https://api.replicate.com");
    cfg.replicate_token = env_or_null("RV_REPLICATE_API_TOKEN");
    cfg.replicate_webhook_secret = env_or_null("RV_REPLICATE_WEBHOOK_SECRET");
    cfg.openai_url = env_or("RV_OPENAI_URL", "https://api.openai.com");
    cfg.openai_key = env_or_null("RV_OPENAI_API_KEY");
    cfg.pexels_url = env_or("RV_PEXELS_URL", "https://api.pexels.com");
    cfg.pexels_key = env_or_null("RV_PEXELS_API_KEY");
    if (cfg.replicate_webhook_secret && !webhook_secret_valid(cfg.replicate_webhook_secret)) {
        snprintf(why, why_len,
                 "RV_REPLICATE_WEBHOOK_SECRET must be a whsec_ key: at least "
                 "24 bytes of base64");
        return false;
    }
    cfg.runway_url = env_or("RV_RUNWAY_URL", "https://api.dev.runwayml.com");
    cfg.runway_key = env_or_null("RV_RUNWAY_API_KEY");
    cfg.stripe_url = env_or("RV_STRIPE_URL", "https://api.stripe.com");
    cfg.stripe_secret_key = env_or_null("RV_STRIPE_SECRET_KEY");
    cfg.stripe_webhook_secret = env_or_null("RV_STRIPE_WEBHOOK_SECRET");
    if (cfg.stripe_webhook_secret && (strncmp(cfg.stripe_webhook_secret, "whsec_", 6) ||
                                      strlen(cfg.stripe_webhook_secret) < 16)) {
        snprintf(why, why_len, "RV_STRIPE_WEBHOOK_SECRET must be Stripe's whsec_ signing secret");
        return false;
    }
    cfg.key_encryption_keys = env_or_null(
        getenv("RV_KEY_ENCRYPTION_KEYS") ? "RV_KEY_ENCRYPTION_KEYS" : "RV_KEY_ENCRYPTION_KEY");
    if (!keybox_load(cfg.key_encryption_keys, why, why_len))
        return false;
    if (!env_long("RV_STRIPE_RECONCILE_AFTER", 300, 1, 86400, &cfg.stripe_reconcile_after, why,
                  why_len))
        return false;
    return env_long("RV_RUNWAY_MAX_RUNNING", 5, 1, 1000, &cfg.runway_max_running, why, why_len) &&
           env_bool("RV_ALLOW_HTTP_DOWNLOADS", &cfg.allow_http_downloads, why, why_len) &&
           env_bool("RV_ALLOW_PRIVATE_DOWNLOADS", &cfg.allow_private_downloads, why, why_len);
}

static bool poller_load(char *why, size_t why_len)
{
    long n;
    if (!env_long("RV_LOCAL_CONCURRENCY", 2, 1, CONFIG_MAX_LOCAL, &n, why, why_len))
        return false;
    cfg.local_concurrency = (int)n;
    return env_long("RV_POLLER_WINDOW", 55, 0, 86400, &cfg.poller_window, why, why_len) &&
           env_long("RV_POLLER_SWEEP_MS", 2000, 0, 600000, &cfg.poller_sweep_ms, why, why_len) &&
           env_long("RV_POLLER_LEASE", 60, 4, 3600, &cfg.poller_lease, why, why_len) &&
           env_long("RV_POLL_INTERVAL", 30, 1, 3600, &cfg.poll_interval, why, why_len) &&
           env_long("RV_LOCAL_TIMEOUT", 300, 5, 3600, &cfg.local_timeout, why, why_len) &&
           env_long("RV_STORAGE_GRACE", 3600, 1, 30 * 86400, &cfg.storage_grace, why, why_len) &&
           env_long("RV_STORAGE_SWEEP_INTERVAL", 60, 1, 86400, &cfg.storage_sweep_interval, why,
                    why_len) &&
           env_long("RV_RENDER_CPU_SECONDS", 1800, 10, 86400, &cfg.render_cpu_seconds, why,
                    why_len) &&
           env_long("RV_RENDER_MEMORY_MB", 4096, 256, 65536, &cfg.render_memory_mb, why, why_len) &&
           env_long("RV_RENDER_TIMEOUT", 3600, 30, 86400, &cfg.render_timeout, why, why_len);
}

static bool mail_load(char *why, size_t why_len)
{
    cfg.smtp_url = env_or_null("RV_SMTP_URL");
    cfg.mail_from = env_or("RV_MAIL_FROM", "noreply@localhost");
    cfg.mail_from_name = env_or("RV_MAIL_FROM_NAME", "Reelvox");
    if (cfg.smtp_url && strncmp(cfg.smtp_url, "smtp://", 7) &&
        strncmp(cfg.smtp_url, "smtps://", 8)) {
        snprintf(why, why_len, "RV_SMTP_URL must start with smtp:// or smtps://");
        return false;
    }
    if (!mail_addr_ok(cfg.mail_from)) {
        snprintf(why, why_len, "RV_MAIL_FROM must be a plain email address");
        return false;
    }
    return env_bool("RV_SMTP_STARTTLS", &cfg.smtp_starttls, why, why_len);
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
    cfg.listen_database_url = env_or_null("RV_LISTEN_DATABASE_URL");
    const char *pooler = env_or("RV_DB_POOLER", "none");
    cfg.db_pooler_transaction = !strcmp(pooler, "transaction");
    if (!cfg.db_pooler_transaction && strcmp(pooler, "none")) {
        snprintf(why, why_len, "RV_DB_POOLER must be none or transaction");
        return false;
    }
    cfg.jwt_issuer = env_or("RV_JWT_ISSUER", "reelvox");
    cfg.data_dir = env_or("RV_DATA_DIR", "./var");
    static char upload_dir[4096];
    snprintf(upload_dir, sizeof upload_dir, "%s/nginx/body", cfg.data_dir);
    cfg.upload_dir = env_or("RV_UPLOAD_DIR", upload_dir);
    cfg.public_url = env_or("RV_PUBLIC_URL", "http://127.0.0.1:8080");
    static char metrics_dir[4096];
    snprintf(metrics_dir, sizeof metrics_dir, "%s/metrics", cfg.data_dir);
    cfg.metrics_dir = env_or("RV_METRICS_DIR", metrics_dir);
    if (!env_long("RV_READY_POLLER_AGE", 120, 5, 86400, &cfg.ready_poller_age, why, why_len))
        return false;
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

    if (!storage_load(why, why_len) || !providers_load(why, why_len) ||
        !poller_load(why, why_len) || !mail_load(why, why_len))
        return false;

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
