#include "ops.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "metrics.h"

/* Set by the Makefile from sql/NNN_*.sql. */
#ifndef RV_MIGRATIONS
#define RV_MIGRATIONS "{}"
#endif

/* The poller records its heartbeat at most this often (seconds). */
enum { HEARTBEAT_EVERY_S = 5 };

static const db_stmt q_ready = {
    .sql = "SELECT array_to_string(missing, ','), poller_age FROM rv_ops_ready($1::text[])",
    .n_params = 1,
};
static const db_stmt q_metrics = {
    .sql = "SELECT metric, labels::text, value FROM rv_ops_metrics() ORDER BY 1",
    .n_params = 0,
};
static const db_stmt q_heartbeat = {
    .sql = "SELECT rv_poller_heartbeat($1, $2::double precision)",
    .n_params = 2,
};

const char *ops_known_migrations(void)
{
    return RV_MIGRATIONS;
}

ops_readiness ops_ready(rv_req *rq, const char *known, long max_poller_age)
{
    ops_readiness r = {.db_ok = false, .missing = NULL, .poller_age = -1, .poller_ok = false};
    if (!db_ping(rq))
        return r;
    r.db_ok = true;
    PGresult *res;
    const char *params[] = {known};
    db_ctx c = db_ctx_of(rq);
    if (db_run(&c, &q_ready, params, &res) != RV_OK || PQntuples(res) != 1)
        return r; /* no rv_ops_ready(): the database predates this build's migrations */
    r.missing = arena_strdup(rq->a, db_get(res, 0, 0) ? db_get(res, 0, 0) : "");
    if (db_get(res, 0, 1)) {
        r.poller_age = strtod(db_get(res, 0, 1), NULL);
        r.poller_ok = r.poller_age <= (double)max_poller_age;
    }
    return r;
}

/* The labels of a row ({"kind":"tts",...}) as alternate name, value strings. */
static const char **labels_of(rv_req *rq, const char *json)
{
    json_object *o = req_keep(rq, json_tokener_parse(json ? json : "{}"));
    size_t n = o && json_object_is_type(o, json_type_object) ? json_object_object_length(o) : 0;
    const char **l = arena_alloc(rq->a, (2 * n + 1) * sizeof *l);
    size_t i = 0;
    if (n) {
        json_object_object_foreach(o, k, v)
        {
            l[i++] = k;
            l[i++] = v ? json_object_get_string(v) : "";
        }
    }
    l[i] = NULL;
    return l;
}

rv_err ops_db_metrics(rv_req *rq, FILE *out)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"reelvox_credits_charged_total", "counter", "Credits charged for jobs."},
        {"reelvox_credits_refunded_total", "counter",
         "Credits refunded for failed or cancelled jobs."},
        {"reelvox_jobs", "gauge", "Jobs by kind, status and provider."},
        {"reelvox_poller_last_pass_age_seconds", "gauge",
         "Seconds since a host's poller last ended a pass."},
        {"reelvox_queue_depth", "gauge", "Jobs queued."},
        {"reelvox_queue_oldest_age_seconds", "gauge", "Age of the oldest queued job (0: none)."},
        {"reelvox_webhook_inbox_backlog", "gauge", "Webhook events stored and not yet processed."},
        {"reelvox_webhook_inbox_oldest_age_seconds", "gauge",
         "Age of the oldest unprocessed webhook event (0: none)."},
    };
    PGresult *res;
    db_ctx c = db_ctx_of(rq);
    rv_err er = db_run(&c, &q_metrics, NULL, &res);
    if (er != RV_OK)
        return er;
    /* Rows come ordered by metric: each family's HELP and TYPE precede its rows,
     * and a family without rows (no poller yet) is still declared. */
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        metrics_family(out, families[f].name, families[f].type, families[f].help);
        for (int i = 0; i < PQntuples(res); i++)
            if (!strcmp(db_get(res, i, 0), families[f].name))
                metrics_sample(out, families[f].name, labels_of(rq, db_get(res, i, 1)),
                               strtod(db_get(res, i, 2), NULL));
    }
    return RV_OK;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ops_pass_done(rv_req *rq, const char *host, double seconds)
{
    static double last = -1e9;
    metrics_poller_pass(seconds);
    double now = mono_s();
    if (now - last < HEARTBEAT_EVERY_S)
        return;
    char ms[32];
    snprintf(ms, sizeof ms, "%.3f", seconds * 1000);
    const char *params[] = {host, ms};
    PGresult *res;
    db_ctx c = db_ctx_of(rq);
    if (db_run(&c, &q_heartbeat, params, &res) == RV_OK)
        last = now;
}
