#include "work.h"

#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "filereg.h"
#include "log.h"
#include "mail_outbox.h"
#include "providers/provider.h"
#include "work_internal.h"

/* The passes live in modules of their own (work_internal.h): state moves
 * (work_moves.c), remote dispatch and the rescue lookup (work_dispatch.c), the
 * webhook inbox (work_inbox.c), cancellations, deadlines and late checks
 * (work_checks.c), finishing outputs (work_finish.c), local children
 * (work_local.c), a voice clone's sample (clone_prep.c), payments from Stripe
 * (work_stripe.c), jobs on a user's own provider key (work_keys.c). Here: the claim and what
 * it returns, init, and the sweep. */

const db_stmt work_claim = {
    "SELECT job_id, kind, input, provider, provider_model, provider_job_id, callback_token,"
    "       attempts, user_id, rescued, created_s FROM rv_jobs_claim($1, $2, $3, $4, $5)",
    5};

const char *work_num(work_ctx *w, long v)
{
    return arena_printf(w->rq->a, "%ld", v);
}

json_object *work_parse_kept(work_ctx *w, const char *s)
{
    json_object *o = s ? json_tokener_parse(s) : NULL;
    return o ? req_keep(w->rq, o) : NULL;
}

int work_read_jobs(work_ctx *w, const PGresult *r, job_ref **out, bool claimed)
{
    int n = PQntuples(r);
    job_ref *js = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *js);
    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        j->id = db_get(r, i, 0);
        j->kind = db_get(r, i, 1);
        j->input = work_parse_kept(w, db_get(r, i, 2));
        j->provider = db_get(r, i, 3);
        j->ad = prov_find(j->provider);
        if (claimed) {
            j->model = db_get(r, i, 4);
            j->provider_job_id = db_get(r, i, 5);
            j->callback_token = db_get(r, i, 6);
            j->attempts = (int)db_get_long(r, i, 7);
            j->user_id = db_get(r, i, 8);
            j->rescued = !strcmp(db_get(r, i, 9), "t");
            j->created_s = db_get_long(r, i, 10);
        } else {
            j->provider_job_id = db_get(r, i, 4);
            j->user_id = db_get(r, i, 5);
        }
    }
    *out = js;
    return n;
}

/* ------------------------------------------------------------------ sweep */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void work_init(work_ctx *w, rv_req *rq, const char *poller_id)
{
    memset(w, 0, sizeof *w);
    w->rq = rq;
    w->poller_id = poller_id;
    w->local_slots = config->local_concurrency;
    w->lease_s = config->poller_lease;
    w->check_in_s = config->poll_interval;
    w->local_timeout_s = config->local_timeout;
    w->batch = 50;
    w->storage_grace_s = config->storage_grace;
    w->storage_every_s = config->storage_sweep_interval;
}

/* Files a killed or cut-off process left: now and then, never on the hot path. */
static int pass_storage(work_ctx *w)
{
    double t = now_s();
    if (w->storage_last > 0 && t - w->storage_last < (double)w->storage_every_s)
        return 0;
    w->storage_last = t;
    return filereg_sweep(w->rq, w->storage_grace_s, 500);
}

static int dispatch_remote(work_ctx *w, bool fresh_only)
{
    int moved = 0, n;
    for (int round = 0; round < 20; round++) { /* while full batches come back */
        moved += n = work_pass_dispatch_remote(w, fresh_only);
        if (n < w->batch)
            break;
    }
    return moved;
}

int work_sweep(work_ctx *w)
{
    int moved = 0;
    double t0 = now_s(), t1, t2;
    work_reap(w);
    /* New jobs first: a submit's wake-up should reach the provider before this
     * sweep spends time on earlier jobs' outputs. Rescues wait until the inbox has
     * been read: an event there may already tell where the lost work is. */
    moved += dispatch_remote(w, true);
    moved += work_pass_dispatch_local(w);
    t1 = now_s();
    moved += work_pass_inbox(w);
    moved += work_pass_stripe(w);
    t2 = now_s();
    moved += work_pass_stop(w);
    moved += work_pass_checks(w);
    moved += dispatch_remote(w, false);
    moved += pass_storage(w);
    moved += mail_pass(w->rq, w->poller_id, 5);
    if (moved)
        log_msg(LOG_DEBUG, "sweep: %d moved in %.1f ms (dispatch %.1f, inbox %.1f)", moved,
                (now_s() - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    return moved;
}
