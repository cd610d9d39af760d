/* work_dispatch.c — claimed remote jobs submitted to their provider, many at
 * once; a job whose earlier dispatch was interrupted is looked up there first. */
#include <string.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "work_internal.h"

/* Rescued jobs may already be at the provider: look them up first, through the
 * provider's listing of recent work, newest first, page by page until each is
 * found or the listing reaches back before the oldest of them was created (less
 * PROV_FIND_SLACK_S for clocks that disagree). Only then is a job known never to
 * have arrived; when the listing cannot be read to there, nothing is concluded.
 * Work that another job already holds is never adopted (another job may have
 * asked for exactly the same). */
enum { FIND_MAX_PAGES = 50, FIND_MAX_SKIPS = 64 };

/* A rescued job of a provider that lists no work (Runway): whether its create
 * arrived cannot be known, so it is failed and refunded, never created twice. */
enum { RESCUE_UNKNOWN = -3 };

static const db_stmt work_taken = {"SELECT rv_provider_work_taken($1, $2::text[])", 2};

/* Of the work just matched (found[k] && !before[k]), what other jobs hold, added
 * to f->skip. Returns how many were added, or -1 when the database cannot tell. */
static int skip_taken(work_ctx *w, const prov_adapter *ad, prov_lookup *f, const bool *before,
                      const char **skip)
{
    char *arr = arena_strdup(w->rq->a, "{");
    int n = 0;
    for (int k = 0; k < f->n; k++)
        if (f->found[k] && !before[k]) {
            arr = arena_printf(w->rq->a, "%s%s\"%s\"", arr, n++ ? "," : "",
                               f->sts[k].provider_job_id);
        }
    if (n == 0)
        return 0;
    PGresult *r;
    const char *p[] = {ad->name, arena_printf(w->rq->a, "%s}", arr)};
    if (db_query(w->rq, &work_taken, p, &r) != RV_OK)
        return -1;
    int added = 0;
    for (int i = 0; i < PQntuples(r) && f->n_skip < FIND_MAX_SKIPS; i++, added++)
        skip[f->n_skip++] = db_get(r, i, 0);
    return added;
}

static void find_rescued(work_ctx *w, job_ref *js, int n, const prov_adapter *ad)
{
    arena *a = w->rq->a;
    if (!ad->build_find) { /* nothing to look in: see below, RESCUE_UNKNOWN */
        for (int i = 0; i < n; i++)
            if (js[i].rescued)
                js[i].call.status = RESCUE_UNKNOWN;
        return;
    }
    prov_lookup f = {0};
    job_ref **who = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *who);
    prov_job *pjs = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *pjs);
    long oldest = 0;
    for (int i = 0; i < n; i++)
        if (js[i].rescued) {
            job_ref *j = &js[i];
            oldest = f.n == 0 || j->created_s < oldest ? j->created_s : oldest;
            who[f.n] = j;
            pjs[f.n++] = (prov_job){j->id,      j->kind,  j->model,    NULL, j->callback_token,
                                    j->user_id, j->input, j->created_s};
        }
    if (f.n == 0)
        return;
    f.jobs = pjs;
    f.not_before = oldest - PROV_FIND_SLACK_S;
    f.sts = arena_alloc(a, (size_t)f.n * sizeof *f.sts);
    f.found = arena_alloc(a, (size_t)f.n * sizeof *f.found);
    bool *before = arena_alloc(a, (size_t)f.n * sizeof *before);
    const char **skip = arena_alloc(a, FIND_MAX_SKIPS * sizeof *skip);
    f.skip = skip;
    memset(f.found, 0, (size_t)f.n * sizeof *f.found);
    bool complete = false, readable = true;
    const char *page = NULL;
    for (int pages = 0; pages < FIND_MAX_PAGES && readable && !complete; pages++) {
        http_call c = {0};
        ad->build_find(a, page, &c);
        http_run(a, &c, 1);
        memcpy(before, f.found, (size_t)f.n * sizeof *before);
        /* Read the page again while it offers work others hold. */
        for (int added = 1; readable && added > 0;) {
            memcpy(f.found, before, (size_t)f.n * sizeof *before);
            readable = ad->find_page(a, &c, &f, &page) &&
                       (added = skip_taken(w, ad, &f, before, skip)) >= 0 &&
                       f.n_skip < FIND_MAX_SKIPS;
        }
        int left = 0;
        for (int k = 0; k < f.n; k++)
            left += !f.found[k];
        complete = readable && (left == 0 || !page);
    }
    for (int k = 0; k < f.n; k++) {
        job_ref *j = who[k];
        if (f.found[k]) {
            j->st = f.sts[k];
            j->call.status = -2; /* found: adopt it */
            log_msg(LOG_INFO, "job %s: found at the provider after a lost dispatch", j->id);
        } else if (complete) {
            j->rescued = false; /* never arrived: submit */
        } else {
            j->call.status = -1; /* cannot tell: look again later, never resubmit blind */
        }
    }
}

static const db_stmt busy = {"SELECT rv_provider_busy($1)", 1};

/* How many jobs of ad to claim now: a batch, or for Runway what its cap
 * (RV_RUNWAY_MAX_RUNNING) leaves beside the tasks it holds, so a throttled account
 * is not flooded. */
static long claimable(work_ctx *w, const prov_adapter *ad)
{
    if (strcmp(ad->name, "runway"))
        return w->batch;
    PGresult *r;
    const char *p[] = {ad->name};
    if (db_query(w->rq, &busy, p, &r) != RV_OK)
        return 0;
    long room = config->runway_max_running - db_get_long(r, 0, 0);
    return room < 0 ? 0 : room < w->batch ? room : w->batch;
}

static int dispatch(work_ctx *w, const prov_adapter *rep, bool fresh_only)
{
    PGresult *r;
    long limit = claimable(w, rep);
    if (limit <= 0)
        return 0;
    const char *p[] = {w->poller_id, arena_printf(w->rq->a, "{%s}", rep->name), work_num(w, limit),
                       work_num(w, w->lease_s), fresh_only ? "true" : "false"};
    if (db_query(w->rq, &work_claim, p, &r) != RV_OK)
        return 0;
    job_ref *js;
    int n = work_read_jobs(w, r, &js, true), n_done = 0;
    job_ref **done = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *done);
    find_rescued(w, js, n, rep);

    http_call *calls = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *calls);
    int k = 0;
    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        if (j->rescued || (!strcmp(j->kind, "voice_clone") && !clone_prepare(w, j)))
            continue;
        prov_job pj = {j->id,      j->kind,  j->model,    NULL, j->callback_token,
                       j->user_id, j->input, j->created_s};
        j->ad->build_submit(w->rq->a, &pj, &calls[k]);
        calls[k].user = j;
        /* Well inside the lease, so no other poller rescues a job still in flight. */
        calls[k].timeout_ms = w->lease_s * 1000 / 2 < 20000 ? w->lease_s * 1000 / 2 : 20000;
        k++;
    }
    http_run(w->rq->a, calls, (size_t)k);

    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        if (j->rescued && j->call.status == -2)
            work_apply(w, j, done, &n_done);
        else if (j->rescued && j->call.status == RESCUE_UNKNOWN)
            work_to_failed(w, j->id, "provider_unknown",
                           "the provider's answer to the job was lost and it cannot be looked "
                           "up; refunded rather than started twice");
        else if (j->rescued)
            work_to_recheck(w, j, 5, "could not look the job up at the provider");
    }
    for (int i = 0; i < k; i++) {
        job_ref *j = calls[i].user;
        prov_result res = j->ad->read(w->rq->a, &calls[i]);
        if (res.outcome == PROV_TRANSIENT && res.maybe_started) {
            /* No answer at all: the create may still be in the provider's accept
             * queue and land later. A lookup is conclusive only once it could have
             * landed: our own timeout again, as a margin, after it ran out. */
            double wait = calls[i].status == 0 ? calls[i].timeout_ms / 1000.0 : 0;
            work_to_recheck(w, j, res.retry_after > wait ? res.retry_after : wait, res.message);
        } else if (res.outcome == PROV_TRANSIENT) {
            work_to_retry(w, j, res.retry_after, res.message);
        } else if (res.outcome == PROV_PERMANENT) {
            work_to_failed(w, j->id, "provider_rejected", res.message);
        } else {
            j->st = res.status;
            work_apply(w, j, done, &n_done);
        }
    }
    work_finish_all(w, done, n_done);
    return n;
}

int work_pass_dispatch_remote(work_ctx *w, bool fresh_only)
{
    static const char *const remote[] = {"replicate", "runway"};
    int n = 0;
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
        const prov_adapter *ad = prov_find(remote[i]);
        if (ad && ad->available()) /* no key: other pollers take those jobs */
            n += dispatch(w, ad, fresh_only);
    }
    return n;
}
