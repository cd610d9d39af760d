/* ops.h — what operations ask of the database: readiness, the database's
 * figures for GET /metrics, and the poller's heartbeat. */
#ifndef RV_OPS_H
#define RV_OPS_H

#include <stdbool.h>
#include <stdio.h>

#include "req.h"

/* What GET /readyz found. Strings are arena-owned (rq's) or static. */
typedef struct ops_readiness {
    bool db_ok;          /* the database answered */
    const char *missing; /* migrations the build knows and the database lacks,
                          * comma-separated; "" when none; NULL when unknown */
    double poller_age;   /* seconds since the newest poller pass; < 0: none ever */
    bool poller_ok;      /* poller_age is known and at most max_poller_age */
} ops_readiness;

/* The migration versions this build knows (sql/NNN_*.sql at build time, without
 * ".sql"), as a PostgreSQL array literal: "{001_accounts,002_jobs}". */
const char *ops_known_migrations(void);

/* Asks the database; known: ops_known_migrations() or another array literal (tests).
 * A poller pass older than max_poller_age seconds is not recent. Never fails: what
 * could not be learned is reported as not ready. */
ops_readiness ops_ready(rv_req *rq, const char *known, long max_poller_age);

/* Writes the database's figures (job counts, queue, inbox, credits, poller
 * heartbeats) in the text exposition format. RV_E_UNAVAILABLE or RV_E_INTERNAL
 * when they could not be read (nothing written then). */
rv_err ops_db_metrics(rv_req *rq, FILE *out);

/* The poller, after every pass: counts its duration in the metrics and, at most
 * every few seconds, records the heartbeat of host in the database. */
void ops_pass_done(rv_req *rq, const char *host, double seconds);

#endif
