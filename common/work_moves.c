/* work_moves.c — the job state moves the poller's passes make (work_internal.h):
 * each one guarded SQL function; a backoff before a job is tried again. */
#include <math.h>
#include <sodium.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "work_internal.h"

static const db_stmt running = {"SELECT rv_job_running($1, $2, $3, $4, $5)", 5};
static const db_stmt retry = {"SELECT rv_job_retry($1, $2, $3, $4::jsonb)", 4};
static const db_stmt recheck = {"SELECT rv_job_recheck($1, $2, $3, $4::jsonb)", 4};
static const db_stmt fail = {"SELECT rv_job_fail($1, $2::jsonb)", 2};
static const db_stmt release = {"SELECT rv_job_release($1, $2, $3)", 3};

static const char *error_json(work_ctx *w, const char *code, const char *message)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message", json_object_new_string(message ? message : code));
    const char *s = arena_strdup(w->rq->a, json_object_to_json_string(o));
    json_object_put(o);
    return s;
}

double work_backoff(int attempts, double retry_after, double jitter01)
{
    double cap = 300, base = pow(2, attempts > 1 ? attempts - 1 : 0);
    double d = fmin(cap, base) * (0.5 + jitter01 / 2);
    return d > retry_after ? d : retry_after;
}

void work_to_running(work_ctx *w, job_ref *j, int progress)
{
    const char *p[] = {j->id, w->poller_id, j->st.provider_job_id, work_num(w, progress),
                       work_num(w, w->check_in_s)};
    PGresult *r;
    if (db_query(w->rq, &running, p, &r) != RV_OK)
        return;
    /* Ended while we dispatched (cancelled, past its deadline): stop the provider's
     * work now. A job that another poller holds is left to it. */
    const char *st = db_get(r, 0, 0);
    bool ended =
        st && (!strcmp(st, "cancelled") || !strcmp(st, "failed") || !strcmp(st, "succeeded"));
    /* A duplicate: work other than what the job holds (recorded in SQL). */
    bool duplicate = st && !strcmp(st, "duplicate");
    if (duplicate)
        log_msg(LOG_WARN, "job %s: the provider did it twice; cancelling %s", j->id,
                j->st.provider_job_id);
    if (ended || duplicate)
        work_cancel_at_provider(w, j);
}

void work_cancel_at_provider(work_ctx *w, const job_ref *j)
{
    if (!j->ad || !j->ad->remote || !j->st.provider_job_id)
        return;
    http_call c = {0};
    j->ad->build_cancel(w->rq->a, j->st.provider_job_id, &c);
    http_run(w->rq->a, &c, 1);
}

/* Back to the queue after a backoff: `how` is retry (dispatch again) or recheck
 * (the work may exist at the provider: look it up, never resubmit blind). */
static void requeue(work_ctx *w, const db_stmt *how, job_ref *j, double retry_after,
                    const char *message)
{
    double d = work_backoff(j->attempts, retry_after, randombytes_uniform(1000) / 1000.0);
    const char *p[] = {j->id, w->poller_id, arena_printf(w->rq->a, "%.3f", d),
                       error_json(w, "provider_transient", message)};
    log_msg(LOG_WARN, "job %s: %s; %s in %.1f s", j->id, message,
            how == &retry ? "retrying" : "looking it up at the provider", d);
    (void)db_query(w->rq, how, p, NULL);
}

void work_to_retry(work_ctx *w, job_ref *j, double retry_after, const char *message)
{
    requeue(w, &retry, j, retry_after, message);
}

void work_to_recheck(work_ctx *w, job_ref *j, double retry_after, const char *message)
{
    requeue(w, &recheck, j, retry_after, message);
}

void work_to_failed(work_ctx *w, const char *job_id, const char *code, const char *message)
{
    const char *p[] = {job_id, error_json(w, code, message)};
    log_msg(LOG_INFO, "job %s failed: %s", job_id, message);
    (void)db_query(w->rq, &fail, p, NULL);
}

void work_to_released(work_ctx *w, const char *job_id, long check_in)
{
    const char *p[] = {job_id, w->poller_id, work_num(w, check_in)};
    (void)db_query(w->rq, &release, p, NULL);
}

/* Applies what a provider said. Succeeded jobs are collected in *done for
 * finish_all; everything else is recorded here. */
void work_apply(work_ctx *w, job_ref *j, job_ref **done, int *n_done)
{
    switch (j->st.state) {
    case PROV_PENDING:
    case PROV_RUNNING:
        work_to_running(w, j, j->st.progress);
        break;
    case PROV_SUCCEEDED:
        done[(*n_done)++] = j;
        break;
    case PROV_FAILED:
        work_to_failed(w, j->id, j->st.code ? j->st.code : "provider_failed", j->st.message);
        break;
    case PROV_CANCELLED:
        work_to_failed(w, j->id, "provider_cancelled", j->st.message);
        break;
    }
}
