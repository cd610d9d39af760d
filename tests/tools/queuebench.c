/* queuebench — the queue core by itself, for `make bench` and
 * tests/integration/test_queue_core.py: no-op jobs (provider "noop", queued by the
 * caller) claimed and completed with the poller's own statements and round trips —
 * the claim (work_claim), the outputs' registration (filereg_register), and every
 * job's completion in one statement and one commit (rv_jobs_succeed) — with no
 * provider and no files: what the database side of the poller can do.
 *
 * PROVIDER (default noop) is the provider the queued jobs name.
 *
 *   queuebench CONNINFO BATCH        claims and completes until no job is left;
 *                                    prints "jobs seconds jobs_per_second"
 *   queuebench CONNINFO BATCH --bad  one batch with an extra item whose job id is not a
 *                                    uuid; prints "batch succeeded N failed M status S"
 *                                    (db_run_batch of rv_job_status over the same ids)
 *                                    and "ok N failed M status S" (S: ok, some_failed
 *                                    or unavailable)
 *
 * Exit status: 0 done, 1 the database refused, 64 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "filereg.h"
#include "log.h"
#include "work_internal.h"

/* The poller's completion of a pass's plain successes (common/work_finish.c). */
static const db_stmt succeed_many = {"SELECT item, ok FROM rv_jobs_succeed($1::jsonb)", 1};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One claim of up to batch jobs, completed. Returns how many were claimed, -1 when
 * the database refused; *ok and *failed count the completions. */
static int one_batch(rv_req *rq, const char *providers, const char *batch, bool bad, int *ok,
                     int *failed, rv_err *st)
{
    const char *p[] = {"queuebench", providers, batch, "60", "true"};
    PGresult *r;
    if (db_query(rq, &work_claim, p, &r) != RV_OK)
        return -1;
    int n = PQntuples(r), runs = n + (bad ? 1 : 0);
    if (n == 0)
        return 0;
    const char **keys = arena_alloc(rq->a, (size_t)n * sizeof *keys);
    char *items = arena_strdup(rq->a, "[");
    for (int i = 0; i < runs; i++) {
        const char *id = i < n ? db_get(r, i, 0) : "not-a-uuid";
        const char *key = arena_printf(rq->a, "audios/queuebench/%s.mp3", id);
        if (i < n)
            keys[i] = key;
        items = arena_printf(rq->a,
                             "%s%s{\"job\":\"%s\",\"audio\":{\"filename\":\"noop.mp3\","
                             "\"contentType\":\"audio/mpeg\",\"bytes\":1,\"durationMs\":1,"
                             "\"sampleRate\":8000,\"channels\":1,\"storageKey\":\"%s\"}}",
                             items, i ? "," : "", id, key);
    }
    items = arena_printf(rq->a, "%s]", items);
    if (filereg_register(rq, keys, (size_t)n) != RV_OK)
        return -1;
    PGresult *done;
    const char *dp[] = {items};
    *st = db_query(rq, &succeed_many, dp, &done);
    if (*st != RV_OK)
        return -1;
    for (int k = 0; k < PQntuples(done); k++) {
        if (!strcmp(db_get(done, k, 1), "t"))
            (*ok)++;
        else
            (*failed)++;
    }
    if (*failed)
        *st = RV_E_INTERNAL;
    if (bad) { /* db_run_batch: each job's status, one run failing on its own */
        static const db_stmt status = {"SELECT rv_job_status($1)", 1};
        const char *const **ps = arena_alloc(rq->a, (size_t)runs * sizeof *ps);
        for (int i = 0; i < runs; i++) {
            const char **q = arena_alloc(rq->a, sizeof *q);
            q[0] = i < n ? db_get(r, i, 0) : "not-a-uuid";
            ps[i] = q;
        }
        PGresult **rs = arena_alloc(rq->a, (size_t)runs * sizeof *rs);
        db_ctx c = db_ctx_of(rq);
        rv_err be = db_run_batch(&c, &status, runs, ps, rs);
        int good = 0, none = 0;
        for (int i = 0; i < runs; i++)
            if (rs[i] && !strcmp(db_get(rs[i], 0, 0), "succeeded"))
                good++;
            else if (!rs[i])
                none++;
        printf("batch succeeded %d failed %d status %s\n", good, none,
               be == RV_E_INTERNAL ? "some_failed"
               : be == RV_OK       ? "ok"
                                   : "unavailable");
    }
    return n;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long batch = argc >= 3 ? strtol(argv[2], &end, 10) : 0;
    bool bad = argc > 3 && !strcmp(argv[argc - 1], "--bad");
    const char *provider = argc > (bad ? 4 : 3) ? argv[3] : "noop";
    if (argc < 3 || argc > 5 || (argc == 5 && !bad) || *end || batch < 1 || batch > 10000) {
        fprintf(stderr, "usage: queuebench CONNINFO BATCH [PROVIDER] [--bad]\n");
        return 64;
    }
    char providers[64];
    if (strspn(provider, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(provider) ||
        snprintf(providers, sizeof providers, "{%s}", provider) >= (int)sizeof providers) {
        fprintf(stderr, "queuebench: a provider is lower-case letters, digits and _\n");
        return 64;
    }
    log_init("queuebench");
    db_set_url(argv[1]);
    arena *a = arena_new();
    rv_req rq = {.a = a};
    int ok = 0, failed = 0, jobs = 0, n;
    rv_err st = RV_OK;
    double t0 = now_s();
    do {
        n = one_batch(&rq, providers, argv[2], bad, &ok, &failed, &st);
        arena_reset(a);
        if (n > 0)
            jobs += n;
    } while (n > 0 && !bad);
    double t = now_s() - t0;
    arena_free(a);
    db_close();
    if (n < 0) {
        fprintf(stderr, "queuebench: the database refused: %s\n", db_error());
        return 1;
    }
    if (bad)
        printf("ok %d failed %d status %s\n", ok, failed,
               st == RV_OK           ? "ok"
               : st == RV_E_INTERNAL ? "some_failed"
                                     : "unavailable");
    else
        printf("%d %.3f %.0f\n", jobs, t, t > 0 ? jobs / t : 0);
    return 0;
}
