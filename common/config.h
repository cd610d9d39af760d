/* config.h — read-only configuration from the environment.
 *
 * Loaded once at start, before any worker forks; never changed afterwards. Every
 * RV_* variable is listed in the README, and read here only: modules take their
 * settings from `config`. */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

enum { CONFIG_MIN_SECRET = 32, CONFIG_MAX_LOCAL = 16 /* the poller's local slots */ };

typedef struct rv_config {
    const char *database_url;        /* RV_DATABASE_URL, libpq conninfo */
    const char *poller_database_url; /* RV_POLLER_DATABASE_URL: the poller's role */
    bool db_pooler_transaction;      /* RV_DB_POOLER=transaction: no session state */
    const char *listen_database_url; /* RV_LISTEN_DATABASE_URL or NULL: where LISTEN goes */
    const unsigned char *jwt_secret; /* RV_JWT_SECRET, raw bytes */
    size_t jwt_secret_len;
    const char *jwt_issuer; /* RV_JWT_ISSUER, default "reelvox" */
    int workers;            /* RV_WORKERS, default 2; 0 = serve in-process */
    long access_ttl;        /* seconds; 900 */
    long refresh_ttl;       /* RV_REFRESH_TTL_DAYS * 86400, default 30 days */
    long session_recheck;   /* RV_SESSION_RECHECK_SECONDS 0..30, default 10: how long
                             * a worker trusts its last look at a session (the bound
                             * on an access token outliving its session) */
    const char *public_url; /* RV_PUBLIC_URL */
    const char *data_dir;   /* RV_DATA_DIR, default ./var */
    const char *upload_dir; /* RV_UPLOAD_DIR: nginx's client_body_temp_path, default
                             * $RV_DATA_DIR/nginx/body */
    log_level log_level;    /* RV_LOG_LEVEL debug|info|warn|error */

    /* Storage (storage.c). */
    const char *storage;     /* RV_STORAGE local|s3, default local */
    const char *s3_endpoint; /* RV_S3_ENDPOINT; required under s3 */
    const char *s3_bucket;   /* RV_S3_BUCKET; required under s3 */
    const char *s3_region;   /* RV_S3_REGION, default us-east-1 */
    const char *s3_key_id;   /* RV_S3_ACCESS_KEY_ID and RV_S3_SECRET_ACCESS_KEY when */
    const char *s3_secret;   /* either is set, else AWS_ACCESS_KEY_ID and
                              * AWS_SECRET_ACCESS_KEY (never one of each). Under s3
                              * all are checked here (s3_conf_check); NULL = unset */

    /* Providers (providers/, webhook_secret.c). */
    const char *replicate_url;            /* RV_REPLICATE_URL, default https://api.replicate.com */
    const char *replicate_token;          /* RV_REPLICATE_API_TOKEN; NULL = Replicate off */
    const char *replicate_webhook_secret; /* RV_REPLICATE_WEBHOOK_SECRET; NULL = fetched by
                                           * the poller. Set, a whsec_ key (webhook_secret_valid) */
    const char *runway_url;               /* RV_RUNWAY_URL, default https://api.dev.runwayml.com */
    const char *runway_key;               /* RV_RUNWAY_API_KEY; NULL = Runway off */
    long runway_max_running;              /* RV_RUNWAY_MAX_RUNNING 1..1000, default 5: tasks
                                           * at Runway at once (dispatching or running) */
    const char *openai_url;               /* RV_OPENAI_URL, default https://api.openai.com */
    const char *openai_key;               /* RV_OPENAI_API_KEY; NULL = OpenAI off */
    const char *pexels_url;               /* RV_PEXELS_URL, default https://api.pexels.com */
    const char *pexels_key;               /* RV_PEXELS_API_KEY; NULL = stock images off */
    bool allow_http_downloads;            /* RV_ALLOW_HTTP_DOWNLOADS, default off */
    bool allow_private_downloads;         /* RV_ALLOW_PRIVATE_DOWNLOADS, default off. Booleans take
                                           * 1|true|yes, 0|false|no, or empty (off) */

    /* Payments (stripe.c, handlers checkout and webhook_stripe, work_stripe.c). */
    const char *stripe_url;            /* RV_STRIPE_URL, default https://api.stripe.com */
    const char *stripe_secret_key;     /* RV_STRIPE_SECRET_KEY; NULL = checkout off (503) */
    const char *stripe_webhook_secret; /* RV_STRIPE_WEBHOOK_SECRET, whsec_…; NULL = the
                                        * receiver answers 503 */
    const char *key_encryption_keys;   /* RV_KEY_ENCRYPTION_KEYS (else RV_KEY_ENCRYPTION_KEY):
                                        * "id:base64,…", loaded into keybox.c; NULL = users'
                                        * own provider keys off */
    long stripe_reconcile_after;       /* RV_STRIPE_RECONCILE_AFTER 1..86400 s, default 300:
                                        * a pending payment this old is looked up at Stripe,
                                        * and missed events are listed this often */

    /* The poller (poller.c, work*.c). */
    long poller_window;          /* RV_POLLER_WINDOW 0..86400 s, default 55: one run */
    long poller_sweep_ms;        /* RV_POLLER_SWEEP_MS 0..600000, default 2000 */
    long poller_lease;           /* RV_POLLER_LEASE 4..3600 s, default 60 */
    long poll_interval;          /* RV_POLL_INTERVAL 1..3600 s, default 30 */
    int local_concurrency;       /* RV_LOCAL_CONCURRENCY 1..CONFIG_MAX_LOCAL, default 2 */
    long local_timeout;          /* RV_LOCAL_TIMEOUT 5..3600 s, default 300 */
    long storage_grace;          /* RV_STORAGE_GRACE 1..2592000 s (30 days), default 3600 */
    long storage_sweep_interval; /* RV_STORAGE_SWEEP_INTERVAL 1..86400 s, default 60 */
    long render_cpu_seconds;     /* RV_RENDER_CPU_SECONDS 10..86400, default 1800: CPU time a
                                  * local render's child may use (RLIMIT_CPU) */
    long render_memory_mb;       /* RV_RENDER_MEMORY_MB 256..65536, default 4096: its address
                                  * space (RLIMIT_AS; not under AddressSanitizer) */
    long render_timeout;         /* RV_RENDER_TIMEOUT 30..86400 s, default 3600: wall time of
                                  * a local render before it is killed and retried */

    /* Mail (mail_outbox.c): the poller sends the outbox to this SMTP server. */
    const char *smtp_url;       /* RV_SMTP_URL smtp://[user:pass@]host[:port][?starttls] or
                                 * smtps://...; NULL = mail off (the outbox waits) */
    bool smtp_starttls;         /* RV_SMTP_STARTTLS (or ?starttls in the URL): require
                                 * STARTTLS on smtp:// */
    const char *mail_from;      /* RV_MAIL_FROM, default noreply@localhost */
    const char *mail_from_name; /* RV_MAIL_FROM_NAME, default Reelvox */

    /* Operations (metrics.c, ops.c). */
    const char *metrics_dir; /* RV_METRICS_DIR: the shared counters (metrics.h), default
                              * $RV_DATA_DIR/metrics */
    long ready_poller_age;   /* RV_READY_POLLER_AGE 5..86400 s, default 120: /readyz
                              * wants a poller pass at most this old */
} rv_config;

/* The loaded configuration; valid after config_load() succeeded. */
extern const rv_config *config;

/* Reads the environment: the only place any RV_* variable is read. A value out of
 * its bounds is refused, never replaced by its default; empty means the default.
 * need_secret: refuse a missing or weak RV_JWT_SECRET. On failure returns false
 * and writes the reason (no secret material) to why; the binaries exit 78. */
bool config_load(bool need_secret, char *why, size_t why_len);

/* Whether a secret is strong enough: at least CONFIG_MIN_SECRET bytes, at least 12
 * distinct bytes, and an estimated 128 bits of entropy — a secret that repeats a
 * shorter block counts as that block, characters that repeat the previous one or
 * continue a run ("abcd", "2468") count nothing, and the rest count their empirical
 * entropy per character. Exposed for tests. */
bool config_secret_ok(const unsigned char *s, size_t n);

#endif
