/* work_checks.c — running jobs at their provider: provider work of cancelled
 * jobs stopped, jobs past their deadline failed, jobs whose webhook is late asked for. */
#include "db.h"
#include "http.h"
#include "work_internal.h"

static const db_stmt due_checks = {"SELECT job_id, kind, input, provider, provider_job_id, user_id"
                                   "  FROM rv_jobs_due_checks($1, $2, $3)",
                                   3};
static const db_stmt overdue = {
    "SELECT job_id, provider, provider_job_id FROM rv_jobs_overdue($1, $2, $3)", 3};
static const db_stmt to_cancel = {
    "SELECT job_id, provider, provider_job_id FROM rv_jobs_to_cancel($1)", 1};

/* Cancelled jobs whose provider work is still going, and jobs past deadline. */
int work_pass_stop(work_ctx *w)
{
    PGresult *c, *o;
    int moved = 0;
    const char *pc[] = {work_num(w, w->batch)};
    const char *po[] = {w->poller_id, work_num(w, w->batch), work_num(w, w->lease_s)};
    if (db_query(w->rq, &to_cancel, pc, &c) != RV_OK || db_query(w->rq, &overdue, po, &o) != RV_OK)
        return 0;
    int nc = PQntuples(c), no = PQntuples(o);
    http_call *calls = arena_alloc(w->rq->a, (size_t)(nc + no + 1) * sizeof *calls);
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        PGresult *r = pass ? o : c;
        for (int i = 0; i < PQntuples(r); i++) {
            const prov_adapter *ad = prov_find(db_get(r, i, 1));
            const char *pid = db_get(r, i, 2);
            if (ad && ad->remote && pid) {
                ad->build_cancel(w->rq->a, pid, &calls[n]);
                n += work_cancel_key(w, db_get(r, i, 0), &calls[n]);
            }
        }
    }
    http_run(w->rq->a, calls, (size_t)n);
    for (int i = 0; i < no; i++, moved++)
        work_to_failed(w, db_get(o, i, 0), "deadline_exceeded", "the job took too long");
    return moved + nc;
}

/* When to ask again after a poll that failed (429, 5xx, no answer). A provider
 * without webhooks (Runway) is only polled, so it is not asked at the same pace while
 * it struggles: twice the interval, or its Retry-After when longer (at most ten
 * minutes). Others keep the interval (their webhook may still come). */
static long poll_backoff(const work_ctx *w, const job_ref *j, const prov_result *res)
{
    if (j->ad->read_event)
        return w->check_in_s;
    double s = res->retry_after > 2.0 * (double)w->check_in_s ? res->retry_after
                                                              : 2.0 * (double)w->check_in_s;
    return s > 600 ? 600 : (long)s + (s > (double)(long)s);
}

/* Running jobs whose webhook is late: ask the provider. */
int work_pass_checks(work_ctx *w)
{
    PGresult *r;
    const char *p[] = {w->poller_id, work_num(w, w->batch), work_num(w, w->lease_s)};
    if (db_query(w->rq, &due_checks, p, &r) != RV_OK)
        return 0;
    job_ref *js;
    int n = work_read_jobs(w, r, &js, false), n_done = 0, k = 0;
    http_call *calls = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *calls);
    job_ref **done = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *done);
    for (int i = 0; i < n; i++)
        if (js[i].ad && js[i].ad->remote && js[i].provider_job_id) {
            js[i].ad->build_get(w->rq->a, js[i].provider_job_id, &calls[k]);
            js[i].skipped = !work_job_key(w, &js[i], &calls[k]);
            k += !js[i].skipped;
        }
    http_run(w->rq->a, calls, (size_t)k);
    k = 0;
    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        if (!(j->ad && j->ad->remote && j->provider_job_id)) {
            work_to_released(w, j->id, w->check_in_s);
            continue;
        }
        if (j->skipped) /* failed, or left until its lease runs out */
            continue;
        http_call *c = &calls[k++];
        if (work_key_refused(w, j, c))
            continue;
        prov_result res = j->ad->read(w->rq->a, c);
        if (res.outcome == PROV_PERMANENT && (c->status == 404 || c->status == 410)) {
            /* The provider no longer knows the work: asking again until the deadline
             * changes nothing. (401/403 are ours to fix, not the job's: kept.) */
            work_to_failed(w, j->id, "provider_failed", res.message);
            continue;
        }
        if (res.outcome != PROV_OK) {
            work_to_released(w, j->id, poll_backoff(w, j, &res));
            continue;
        }
        j->st = res.status;
        if (j->st.state == PROV_PENDING || j->st.state == PROV_RUNNING)
            work_to_released(w, j->id, w->check_in_s);
        else
            work_apply(w, j, done, &n_done);
    }
    work_finish_all(w, done, n_done);
    return n;
}
