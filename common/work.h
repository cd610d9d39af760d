/* work.h — the poller's passes over the job table.
 *
 * One sweep: reap finished local children, claim due jobs and dispatch them
 * (remote ones many at once through libcurl multi, local ones in child processes
 * up to a limit; a voice clone's sample is first normalised into a stored file the
 * provider fetches through a signed link), reconcile the webhook inbox, stop
 * provider work of cancelled jobs, fail jobs past their deadline, and check running
 * jobs whose webhook is late, and now and then remove the stored files that no
 * row came to refer to (filereg.h). A voice clone's success records the provider's voice
 * id and its preview (the voice follows its job in SQL, sql/functions/voices.sql).
 * Every job a pass touches is leased first (locked_until), so any number of
 * pollers can sweep at once; a dead poller's lease runs out and its jobs are taken
 * up again — a job whose dispatch was interrupted is looked up at the provider
 * before it is ever submitted again. All state moves are SQL functions that refuse
 * illegal ones (sql/functions/jobs.sql). */
#ifndef RV_WORK_H
#define RV_WORK_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "req.h"

enum { WORK_MAX_LOCAL = CONFIG_MAX_LOCAL };

typedef struct work_ctx {
    rv_req *rq;            /* arena (reset by the caller between sweeps) + db context */
    const char *poller_id; /* hostname:pid */
    int local_slots;       /* RV_LOCAL_CONCURRENCY, default 2 */
    long lease_s;          /* lease of a remote dispatch or check: RV_POLLER_LEASE, 60 */
    long check_in_s;       /* when to poll a running job if no webhook came: 30 */
    long local_timeout_s;  /* a local child running longer is killed: 300 */
    int batch;             /* jobs claimed per round: 50 */
    long storage_grace_s;  /* files no row took are removed after this: RV_STORAGE_GRACE, 3600 */
    long storage_every_s;  /* how often the sweeper looks: RV_STORAGE_SWEEP_INTERVAL, 60 */
    double storage_last;   /* when it last looked (monotonic seconds) */
    struct {
        pid_t pid;
        char job_id[37];
        int attempts; /* of the job, this one included */
        double started;
        long timeout_s; /* local_timeout_s, or RV_RENDER_TIMEOUT for a video */
    } local[WORK_MAX_LOCAL];
} work_ctx;

/* Takes its settings from config (config_load first). */
void work_init(work_ctx *w, rv_req *rq, const char *poller_id);

/* One full pass. Returns how many jobs or events it moved. */
int work_sweep(work_ctx *w);

/* Collects finished local children (a crashed one's job is retried). */
void work_reap(work_ctx *w);

/* Number of local children still running. */
int work_local_running(const work_ctx *w);

/* Backoff before attempt `attempts + 1`: capped exponential with jitter, at least
 * retry_after. Exposed for tests. */
double work_backoff(int attempts, double retry_after, double jitter01);

#endif
