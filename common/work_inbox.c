/* work_inbox.c — the webhook inbox: each event moves its job; work the job does
 * not hold (a duplicate) is recorded and stopped. */
#include <string.h>

#include "db.h"
#include "log.h"
#include "work_internal.h"

static const db_stmt lease = {
    "SELECT job_id, kind, input, provider, provider_job_id, user_id, status"
    "  FROM rv_job_lease($1, $2, $3)",
    3};
static const db_stmt pending_events = {
    "SELECT event_id, provider, job_id, payload, job_status, kind, user_id, busy, held"
    "  FROM rv_webhooks_pending($1, $2)",
    2};
static const db_stmt record_duplicate = {"SELECT rv_provider_duplicate($1, $2)", 2};
static const db_stmt events_done = {"SELECT rv_webhooks_done($1::bigint[])", 1};

/* An event of work other than what its job holds: a create that landed at the
 * provider after the job had been submitted again. Recorded, and stopped while it
 * still runs; the job goes on with the work it holds. */
static void stop_duplicate(work_ctx *w, job_ref *j)
{
    const char *p[] = {j->id, j->st.provider_job_id};
    PGresult *r;
    if (db_query(w->rq, &record_duplicate, p, &r) != RV_OK || strcmp(db_get(r, 0, 0), "t"))
        return;
    log_msg(LOG_WARN, "job %s: the provider did it twice; %s is not the job's", j->id,
            j->st.provider_job_id);
    if (j->st.state == PROV_PENDING || j->st.state == PROV_RUNNING)
        work_cancel_at_provider(w, j);
}

/* One batch of the webhook inbox: each event moves its job, then is marked
 * processed. Progress and failures are guarded moves in SQL and need no lease; a
 * success is leased first, so only one poller downloads its output. Events of a
 * job another poller holds wait for a later batch. Returns the events done. */
static int inbox_batch(work_ctx *w, int *seen)
{
    PGresult *r;
    const char *p[] = {work_num(w, w->batch), w->poller_id};
    if (db_query(w->rq, &pending_events, p, &r) != RV_OK)
        return 0;
    int n = PQntuples(r), n_done = 0, n_finished = 0;
    job_ref **done = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *done);
    job_ref **leasing = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *leasing);
    const char **leasing_event = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof(char *));
    const char *const **leasing_p = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *leasing_p);
    int n_leasing = 0;
    char *finished = arena_strdup(w->rq->a, "{");
    *seen = n;
    for (int i = 0; i < n; i++) {
        const char *event = db_get(r, i, 0), *job_status = db_get(r, i, 4);
        bool ended = !job_status || !strcmp(job_status, "succeeded") ||
                     !strcmp(job_status, "failed") || !strcmp(job_status, "cancelled");
        if (!ended && !strcmp(db_get(r, i, 7), "t"))
            continue; /* another poller is on it */
        job_ref *j = arena_alloc(w->rq->a, sizeof *j);
        j->id = db_get(r, i, 2);
        j->kind = db_get(r, i, 5);
        j->user_id = db_get(r, i, 6);
        j->ad = prov_find(db_get(r, i, 1));
        json_object *payload = work_parse_kept(w, db_get(r, i, 3));
        bool read = j->ad && j->ad->read_event && j->ad->read_event(w->rq->a, payload, &j->st);
        const char *held = db_get(r, i, 8);
        if (!ended && !read) {
            log_msg(LOG_WARN, "webhook event %s for job %s could not be read", event, j->id);
        } else if (read && held && j->st.provider_job_id && strcmp(held, j->st.provider_job_id)) {
            stop_duplicate(w, j);
        } else if (!ended && j->st.state == PROV_SUCCEEDED) {
            const char **lp = arena_alloc(w->rq->a, 3 * sizeof *lp);
            lp[0] = j->id;
            lp[1] = w->poller_id;
            lp[2] = work_num(w, w->lease_s);
            leasing[n_leasing] = j;
            leasing_event[n_leasing] = event;
            leasing_p[n_leasing++] = lp;
            continue; /* the event is done once its job is leased */
        } else if (!ended) {
            work_apply(w, j, done, &n_done);
        }
        finished = arena_printf(w->rq->a, "%s%s%s", finished, n_finished++ ? "," : "", event);
    }
    /* Progress first, as the events came; then the leases of the successes, all in
     * one round trip each. */
    work_flush_running(w);
    PGresult **lr = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *lr);
    db_ctx c = db_ctx_of(w->rq);
    (void)db_run_batch(&c, &lease, n_leasing, leasing_p, lr);
    for (int i = 0; i < n_leasing; i++) {
        if (!lr[i] || PQntuples(lr[i]) == 0)
            continue; /* ended or taken meanwhile: the next batch sees which */
        done[n_done++] = leasing[i];
        finished =
            arena_printf(w->rq->a, "%s%s%s", finished, n_finished++ ? "," : "", leasing_event[i]);
    }
    work_finish_all(w, done, n_done);
    if (n_finished)
        (void)db_query(w->rq, &events_done,
                       (const char *[]){arena_printf(w->rq->a, "%s}", finished)}, NULL);
    return n_finished;
}

int work_pass_inbox(work_ctx *w)
{
    int moved = 0, seen = 0;
    for (int round = 0; round < 20; round++) {
        moved += inbox_batch(w, &seen);
        if (seen < w->batch)
            break;
    }
    return moved;
}
