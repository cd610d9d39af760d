/* config.h — read-only configuration from the environment.
 *
 * Loaded once at start, before any worker forks; never changed afterwards. Every
 * RV_* variable is listed in the README. */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

enum { CONFIG_MIN_SECRET = 32 };

typedef struct rv_config {
    const char *database_url;        /* RV_DATABASE_URL, libpq conninfo */
    const char *poller_database_url; /* RV_POLLER_DATABASE_URL: the poller's role */
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
} rv_config;

/* The loaded configuration; valid after config_load() succeeded. */
extern const rv_config *config;

/* Reads the environment. need_secret: refuse a missing or weak RV_JWT_SECRET.
 * On failure returns false and writes the reason (no secret material) to why. */
bool config_load(bool need_secret, char *why, size_t why_len);

/* Whether a secret is strong enough: at least CONFIG_MIN_SECRET bytes, at least 12
 * distinct bytes, and an estimated 128 bits of entropy — a secret that repeats a
 * shorter block counts as that block, characters that repeat the previous one or
 * continue a run ("abcd", "2468") count nothing, and the rest count their empirical
 * entropy per character. Exposed for tests. */
bool config_secret_ok(const unsigned char *s, size_t n);

#endif
