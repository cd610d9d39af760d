/* work_internal.h — what the poller's passes (work*.c, clone_prep.c) share; not for
 * anything outside them (work.h is the interface).
 *
 * A pass reads its jobs into job_refs (work_read_jobs), talks to their providers,
 * and records the outcome through the state moves, each one SQL function that
 * refuses an illegal move (sql/functions/jobs.sql). Everything here works in w->rq's
 * arena. */
#ifndef RV_WORK_INTERNAL_H
#define RV_WORK_INTERNAL_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "db.h"
#include "http.h"
#include "providers/provider.h"
#include "work.h"

/* A job some pass is working on. */
typedef struct job_ref {
    const char *id, *kind, *provider, *provider_job_id, *user_id, *callback_token, *model;
    json_object *input;
    int attempts;
    bool rescued;
    long created_s; /* when the job was created: none of its work is older */
    const prov_adapter *ad;
    http_call call;
    prov_status st;
    const char *key, *tmp; /* output download: the key asked for, the work file */
    const char *stored;    /* the key it is stored under, named by what it is */
    bool own_key;          /* its calls carry its user's own key (work_keys.c) */
    bool skipped;          /* no call made for it this pass (work_job_key said no) */
} job_ref;

/* Claims due jobs (rv_jobs_claim): poller id, providers, how many, lease, fresh
 * only. Its rows are what work_read_jobs reads with claimed. */
extern const db_stmt work_claim;

/* v as a query parameter. */
const char *work_num(work_ctx *w, long v);

/* s parsed, released with the request; NULL when s is NULL or not JSON. */
json_object *work_parse_kept(work_ctx *w, const char *s);

/* The rows of r as jobs in *out (the claim's columns when claimed, else job_id,
 * kind, input, provider, provider_job_id, user_id). Returns how many. */
int work_read_jobs(work_ctx *w, const PGresult *r, job_ref **out, bool claimed);

/* State moves (work_moves.c). Each is a guarded SQL move; a refused or failed one
 * changes nothing (a dead database: the lease runs out). */

/* Running, with its progress, held by the provider work j->st names. Work that
 * ended meanwhile, or a duplicate of what the job holds, is cancelled at the
 * provider. */
void work_to_running(work_ctx *w, job_ref *j, int progress);
/* Stops j's provider work (j->st.provider_job_id), when its provider is remote. */
void work_cancel_at_provider(work_ctx *w, const job_ref *j);
/* Back to the queue after a backoff of at least retry_after seconds: dispatched
 * again (retry), or first looked up at the provider (recheck: the work may exist). */
void work_to_retry(work_ctx *w, job_ref *j, double retry_after, const char *message);
void work_to_recheck(work_ctx *w, job_ref *j, double retry_after, const char *message);
/* Failed with an error {code, message}; the SQL refunds. */
void work_to_failed(work_ctx *w, const char *job_id, const char *code, const char *message);
/* The lease given up: looked at again in check_in seconds. */
void work_to_released(work_ctx *w, const char *job_id, long check_in);
/* Records what a provider said (j->st): succeeded jobs are appended to done[*n_done]
 * for work_finish_all, running ones are collected for work_flush_running(), anything
 * else is moved here. */
void work_apply(work_ctx *w, job_ref *j, job_ref **done, int *n_done);

/* Makes the running moves work_apply() collected, all in one round trip (each its
 * own transaction), with work_to_running()'s follow-up for each. */
void work_flush_running(work_ctx *w);

/* Makes the collected running moves (work_flush_running), then downloads, stores
 * and records the outputs of the n succeeded jobs in js, the records in one round
 * trip (work_finish.c). */
void work_finish_all(work_ctx *w, job_ref **js, int n);

/* A voice_clone's sample prepared before its submit (clone_prep.c). False when the
 * job is not to be submitted now (failed, retried later, or no longer ours). */
bool clone_prepare(work_ctx *w, job_ref *j);

/* A user's own provider keys (work_keys.c). work_job_key puts j's key in c, its
 * call to the provider, when j runs on its user's own key; false when j must not be
 * called now (its key is gone: j failed with provider_key_rejected; or the database
 * did not answer: its lease runs out). work_key_refused, after the call: an own-key
 * job whose key the provider refused (401/403) is failed with provider_key_rejected
 * and the key marked inactive; true when so. work_cancel_key: the same for a cancel
 * call of job_id, which nothing fails; false: do not send it. */
bool work_job_key(work_ctx *w, job_ref *j, http_call *c);
bool work_key_refused(work_ctx *w, job_ref *j, const http_call *c);
bool work_cancel_key(work_ctx *w, const char *job_id, http_call *c);

/* The passes; each returns how many jobs or events it moved. */
int work_pass_inbox(work_ctx *w);                            /* work_inbox.c */
int work_pass_stop(work_ctx *w);                             /* work_checks.c */
int work_pass_checks(work_ctx *w);                           /* work_checks.c */
int work_pass_dispatch_remote(work_ctx *w, bool fresh_only); /* work_dispatch.c */
int work_pass_dispatch_local(work_ctx *w);                   /* work_local.c */
int work_pass_stripe(work_ctx *w);                           /* work_stripe.c */

#endif
