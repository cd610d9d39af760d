#include "work.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "filereg.h"
#include "http.h"
#include "log.h"
#include "media.h"
#include "providers/local.h"
#include "providers/provider.h"
#include "storage.h"

/* --------------------------------------------------------------- statements */

static const db_stmt claim = {
    "SELECT job_id, kind, input, provider, provider_model, provider_job_id, callback_token,"
    "       attempts, user_id, rescued, created_s FROM rv_jobs_claim($1, $2, $3, $4, $5)",
    5};
static const db_stmt running = {"SELECT rv_job_running($1, $2, $3, $4, $5)", 5};
static const db_stmt retry = {"SELECT rv_job_retry($1, $2, $3, $4::jsonb)", 4};
static const db_stmt recheck = {"SELECT rv_job_recheck($1, $2, $3, $4::jsonb)", 4};
static const db_stmt fail = {"SELECT rv_job_fail($1, $2::jsonb)", 2};
static const db_stmt succeed = {"SELECT rv_job_succeed($1, $2::jsonb, $3)", 3};
static const db_stmt succeed_clone = {"SELECT rv_voice_clone_succeed($1, $2::jsonb, $3, $4)", 4};
static const db_stmt clone_prepared = {"SELECT rv_voice_clone_prepared($1, $2, $3::jsonb)", 3};
static const db_stmt release = {"SELECT rv_job_release($1, $2, $3)", 3};
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
static const db_stmt due_checks = {
    "SELECT job_id, kind, input, provider, provider_job_id, user_id"
    "  FROM rv_jobs_due_checks($1, $2, $3)",
    3};
static const db_stmt overdue = {
    "SELECT job_id, provider, provider_job_id FROM rv_jobs_overdue($1, $2, $3)", 3};
static const db_stmt to_cancel = {
    "SELECT job_id, provider, provider_job_id FROM rv_jobs_to_cancel($1)", 1};

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
} job_ref;

static const char *num(work_ctx *w, long v) { return arena_printf(w->rq->a, "%ld", v); }

static const char *error_json(work_ctx *w, const char *code, const char *message)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message", json_object_new_string(message ? message : code));
    const char *s = arena_strdup(w->rq->a, json_object_to_json_string(o));
    json_object_put(o);
    return s;
}

static json_object *parse_kept(work_ctx *w, const char *s)
{
    json_object *o = s ? json_tokener_parse(s) : NULL;
    return o ? req_keep(w->rq, o) : NULL;
}

/* ------------------------------------------------------------ state moves */

double work_backoff(int attempts, double retry_after, double jitter01)
{
    double cap = 300, base = pow(2, attempts > 1 ? attempts - 1 : 0);
    double d = fmin(cap, base) * (0.5 + jitter01 / 2);
    return d > retry_after ? d : retry_after;
}

static void to_running(work_ctx *w, job_ref *j, int progress)
{
    const char *p[] = {j->id, w->poller_id, j->st.provider_job_id, num(w, progress),
                       num(w, w->check_in_s)};
    PGresult *r;
    if (db_query(w->rq, &running, p, &r) != RV_OK)
        return;
    /* Ended while we dispatched (cancelled, past its deadline): stop the provider's
     * work now. A job that another poller holds is left to it. */
    const char *st = db_get(r, 0, 0);
    bool ended = st && (!strcmp(st, "cancelled") || !strcmp(st, "failed") ||
                        !strcmp(st, "succeeded"));
    /* A duplicate: work other than what the job holds (recorded in SQL). */
    bool duplicate = st && !strcmp(st, "duplicate");
    if (duplicate)
        log_msg(LOG_WARN, "job %s: the provider did it twice; cancelling %s", j->id,
                j->st.provider_job_id);
    if ((ended || duplicate) && j->ad && j->ad->remote && j->st.provider_job_id) {
        http_call c = {0};
        j->ad->build_cancel(w->rq->a, j->st.provider_job_id, &c);
        http_run(w->rq->a, &c, 1);
    }
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

static void to_retry(work_ctx *w, job_ref *j, double retry_after, const char *message)
{
    requeue(w, &retry, j, retry_after, message);
}

static void to_recheck(work_ctx *w, job_ref *j, double retry_after, const char *message)
{
    requeue(w, &recheck, j, retry_after, message);
}

static void to_failed(work_ctx *w, const char *job_id, const char *code, const char *message)
{
    const char *p[] = {job_id, error_json(w, code, message)};
    log_msg(LOG_INFO, "job %s failed: %s", job_id, message);
    (void)db_query(w->rq, &fail, p, NULL);
}

static void to_released(work_ctx *w, const char *job_id, long check_in)
{
    const char *p[] = {job_id, w->poller_id, num(w, check_in)};
    (void)db_query(w->rq, &release, p, NULL);
}

/* ------------------------------------------------------- finishing outputs */

/* What a probed file is, as a MIME type. */
static const char *content_type_of(const media_info *mi)
{
    if (strstr(mi->format, "mp3"))
        return "audio/mpeg";
    if (strstr(mi->format, "wav"))
        return "audio/wav";
    if (strstr(mi->format, "flac"))
        return "audio/flac";
    if (strstr(mi->format, "ogg"))
        return "audio/ogg";
    return "application/octet-stream";
}

static const char *ext_for(const char *content_type)
{
    if (!content_type)
        return "bin";
    if (strstr(content_type, "mpeg"))
        return "mp3";
    if (strstr(content_type, "wav"))
        return "wav";
    if (strstr(content_type, "flac"))
        return "flac";
    if (strstr(content_type, "ogg"))
        return "ogg";
    return "bin";
}

/* Records a stored file of this many bytes as the job's result (a clone's: its
 * preview, with the provider's voice id); drops the file if the job ended meanwhile. */
static void succeed_with(work_ctx *w, const job_ref *j, const char *key, const media_info *mi,
                         const char *filename, long long bytes)
{
    bool clone = !strcmp(j->kind, "voice_clone");
    if (clone && !j->st.voice_id) {
        filereg_drop(w->rq, key);
        to_failed(w, j->id, "provider_failed", "the provider returned no voice id");
        return;
    }
    json_object *a = json_object_new_object();
    json_object_object_add(a, "filename", json_object_new_string(filename));
    json_object_object_add(a, "contentType", json_object_new_string(content_type_of(mi)));
    json_object_object_add(a, "bytes", json_object_new_int64(bytes));
    json_object_object_add(a, "durationMs", json_object_new_int64(mi->duration_ms));
    json_object_object_add(a, "sampleRate", json_object_new_int(mi->sample_rate));
    json_object_object_add(a, "channels", json_object_new_int(mi->channels));
    json_object_object_add(a, "storageKey", json_object_new_string(key));
    const char *p[] = {j->id, arena_strdup(w->rq->a, json_object_to_json_string(a)),
                       j->st.provider_job_id, j->st.voice_id};
    json_object_put(a);
    PGresult *r;
    if (db_query(w->rq, clone ? &succeed_clone : &succeed, p, &r) != RV_OK ||
        strcmp(db_get(r, 0, 0), "t")) {
        /* Ended meanwhile, or the commit's answer was lost: the file goes only if
         * no row refers to it. */
        filereg_drop(w->rq, key);
        return;
    }
    log_msg(LOG_INFO, "job %s succeeded", j->id);
}

/* Downloads the outputs of every succeeded job in js concurrently, then stores
 * and records each. */
static void finish_all(work_ctx *w, job_ref **js, int n)
{
    if (n == 0)
        return;
    http_call *calls = arena_alloc(w->rq->a, (size_t)n * sizeof *calls);
    for (int i = 0; i < n; i++) {
        job_ref *j = js[i];
        j->key = store_new_key(w->rq->a, "audios", j->user_id, j->kind, "out");
        char *tmp;
        if (store_temp_path(w->rq->a, j->key, &tmp) != RV_OK)
            tmp = NULL;
        j->tmp = tmp;
        calls[i].method = "GET";
        calls[i].url = j->st.output_url;
        calls[i].save_to = tmp ? tmp : "/dev/null";
        calls[i].timeout_ms = 120000;
        prov_download_setup(j->ad, j->kind, &calls[i]); /* https, public, capped */
    }
    http_run(w->rq->a, calls, (size_t)n);
    media_info *mis = arena_alloc(w->rq->a, (size_t)n * sizeof *mis);
    const char **keys = arena_alloc(w->rq->a, (size_t)n * sizeof *keys);
    size_t n_keys = 0;
    for (int i = 0; i < n; i++) {
        job_ref *j = js[i];
        http_call *c = &calls[i];
        media_info *mi = &mis[i];
        j->stored = NULL; /* set once the output is known good */
        if (!j->tmp || http_transient(c)) {
            if (j->tmp)
                unlink(j->tmp);
            log_msg(LOG_WARN, "job %s: output download failed (%ld %s); checking again soon",
                    j->id, c->status, c->error);
            to_released(w, j->id, 5);
            continue;
        }
        if (c->status != 200 || media_probe(j->tmp, mi) != RV_OK || !mi->has_audio) {
            unlink(j->tmp);
            to_failed(w, j->id, "output_unavailable",
                      c->status != 200 ? "the provider's output has expired or is gone"
                                       : "the provider's output is not playable audio");
            continue;
        }
        /* Name the file by what it is, not by what was asked for. */
        const char *ext = ext_for(content_type_of(mi));
        j->stored = keys[n_keys++] =
            arena_printf(w->rq->a, "%.*s%s", (int)(strlen(j->key) - 3), j->key, ext);
    }
    /* Registered before they are stored, in one round trip: a commit that may have
     * referenced one is then never followed by its deletion (filereg.h). */
    bool registered = filereg_register(w->rq, keys, n_keys) == RV_OK;
    for (int i = 0; i < n; i++) {
        job_ref *j = js[i];
        if (!j->stored)
            continue;
        if (!registered) {
            unlink(j->tmp);
            to_released(w, j->id, 5);
            continue;
        }
        /* Sized before storing: the stored file need not be local. */
        struct stat sb;
        long long bytes = stat(j->tmp, &sb) ? 0 : (long long)sb.st_size;
        if (store_commit(w->rq->a, j->tmp, j->stored) != RV_OK) {
            filereg_drop(w->rq, j->stored);
            to_released(w, j->id, 5);
            continue;
        }
        const char *ext = strrchr(j->stored, '.') + 1;
        succeed_with(w, j, j->stored, &mis[i],
                     arena_printf(w->rq->a, "%s-%.8s.%s", j->kind, j->id, ext), bytes);
    }
}

/* Applies what a provider said. Succeeded jobs are collected in *done for
 * finish_all; everything else is recorded here. */
static void apply(work_ctx *w, job_ref *j, job_ref **done, int *n_done)
{
    switch (j->st.state) {
    case PROV_PENDING:
    case PROV_RUNNING:
        to_running(w, j, j->st.progress);
        break;
    case PROV_SUCCEEDED:
        done[(*n_done)++] = j;
        break;
    case PROV_FAILED:
        to_failed(w, j->id, "provider_failed", j->st.message);
        break;
    case PROV_CANCELLED:
        to_failed(w, j->id, "provider_cancelled", j->st.message);
        break;
    }
}

/* ------------------------------------------------------------ voice clones */

/* The provider fetches the sample through this link: valid well past the time a
 * clone may take (its deadline, 30 min by default). */
enum { CLONE_LINK_TTL = 6 * 3600, CLONE_DEFAULT_RATE = 32000 };

static const char *json_str(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Before a voice_clone job is submitted: the sample made even for the provider
 * (media_normalize: mono, the rate it wants, one level) into a stored file of its
 * own — once per job, a retry reuses it — and a signed link to that file, both
 * recorded in the job's input before the submit, so a rescue finds the prediction
 * by its input. Returns false when the job is not to be submitted now: failed (the
 * sample is unusable), retried later, or no longer this poller's. */
static bool clone_prepare(work_ctx *w, job_ref *j)
{
    arena *a = w->rq->a;
    json_object *voice = NULL, *rate = NULL;
    json_object_object_get_ex(j->input, "voice", &voice);
    const char *sample = json_str(voice, "sampleKey"), *key = json_str(voice, "fileKey");
    bool made = false;
    if (!key) {
        char *tmp = NULL, why[160] = "no sample";
        media_normalized mn;
        int hz = voice && json_object_object_get_ex(voice, "sampleRate", &rate)
                     ? json_object_get_int(rate)
                     : CLONE_DEFAULT_RATE;
        key = store_new_key(a, "voices", j->user_id, "clone-sample", "wav");
        rv_err er = store_temp_path(a, key, &tmp);
        const char *src = NULL; /* the sample as a local file, whatever the backend */
        if (er == RV_OK && sample && store_key_valid(sample)) {
            if (!strcmp(store_backend(), "local")) {
                src = store_path(a, sample);
            } else if ((er = store_temp_path(a, sample, (char **)&src)) == RV_OK &&
                       (er = store_fetch(a, sample, src)) != RV_OK) {
                unlink(src);
                src = NULL;
                if (er == RV_E_NOT_FOUND) /* gone for good: not worth a retry */
                    er = RV_E_UNPROCESSABLE;
            }
        }
        if (er == RV_OK)
            er = src ? media_normalize(src, tmp, hz, &mn, why, sizeof why) : RV_E_UNPROCESSABLE;
        if (src && strcmp(store_backend(), "local"))
            unlink(src);
        if (er == RV_OK && (er = filereg_register(w->rq, &key, 1)) != RV_OK)
            er = RV_E_UNAVAILABLE; /* not stored unregistered: retried */
        if (er == RV_OK)
            er = store_commit(a, tmp, key); /* removes tmp on failure */
        else if (tmp)
            unlink(tmp);
        if (er == RV_E_UNPROCESSABLE) {
            to_failed(w, j->id, "sample_unusable",
                      arena_printf(a, "the sample could not be prepared: %s", why));
            return false;
        }
        if (er != RV_OK) {
            to_retry(w, j, 5, "could not prepare the sample");
            return false;
        }
        made = true;
        log_msg(LOG_INFO, "job %s: sample normalised to %d Hz mono, %.1f dB gain, %lld ms", j->id,
                hz, mn.gain_db, (long long)mn.duration_ms);
    }
    json_object *file = json_object_new_object();
    json_object_object_add(file, "fileKey", json_object_new_string(key));
    json_object_object_add(file, "fileUrl", json_object_new_string(store_signed_url(
                                                a, key, CLONE_LINK_TTL, time(NULL))));
    const char *p[] = {j->id, w->poller_id, arena_strdup(a, json_object_to_json_string(file))};
    PGresult *r;
    if (db_query(w->rq, &clone_prepared, p, &r) != RV_OK || strcmp(db_get(r, 0, 0), "t")) {
        json_object_put(file); /* ended or taken meanwhile; a dead database: the lease runs out */
        if (made)
            filereg_drop(w->rq, key);
        return false;
    }
    if (!voice) {
        voice = json_object_new_object();
        json_object_object_add(j->input, "voice", voice);
    }
    json_object_object_foreach(file, k, v) json_object_object_add(voice, k, json_object_get(v));
    json_object_put(file);
    return true;
}

/* ----------------------------------------------------------------- passes */

static int read_jobs(work_ctx *w, const PGresult *r, job_ref **out, bool claimed)
{
    int n = PQntuples(r);
    job_ref *js = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *js);
    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        j->id = db_get(r, i, 0);
        j->kind = db_get(r, i, 1);
        j->input = parse_kept(w, db_get(r, i, 2));
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
    if (j->ad->remote && (j->st.state == PROV_PENDING || j->st.state == PROV_RUNNING)) {
        http_call c = {0};
        j->ad->build_cancel(w->rq->a, j->st.provider_job_id, &c);
        http_run(w->rq->a, &c, 1);
    }
}

/* One batch of the webhook inbox: each event moves its job, then is marked
 * processed. Progress and failures are guarded moves in SQL and need no lease; a
 * success is leased first, so only one poller downloads its output. Events of a
 * job another poller holds wait for a later batch. Returns the events done. */
static int inbox_batch(work_ctx *w, int *seen)
{
    PGresult *r;
    const char *p[] = {num(w, w->batch), w->poller_id};
    if (db_query(w->rq, &pending_events, p, &r) != RV_OK)
        return 0;
    int n = PQntuples(r), n_done = 0, n_finished = 0;
    job_ref **done = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *done);
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
        json_object *payload = parse_kept(w, db_get(r, i, 3));
        bool read = j->ad && j->ad->read_event && j->ad->read_event(w->rq->a, payload, &j->st);
        const char *held = db_get(r, i, 8);
        if (!ended && !read) {
            log_msg(LOG_WARN, "webhook event %s for job %s could not be read", event, j->id);
        } else if (read && held && j->st.provider_job_id &&
                   strcmp(held, j->st.provider_job_id)) {
            stop_duplicate(w, j);
        } else if (!ended && j->st.state == PROV_SUCCEEDED) {
            PGresult *lr;
            const char *lp[] = {j->id, w->poller_id, num(w, w->lease_s)};
            if (db_query(w->rq, &lease, lp, &lr) != RV_OK || PQntuples(lr) == 0)
                continue; /* ended or taken meanwhile: the next batch sees which */
            done[n_done++] = j;
        } else if (!ended) {
            apply(w, j, done, &n_done);
        }
        finished = arena_printf(w->rq->a, "%s%s%s", finished, n_finished++ ? "," : "", event);
    }
    finish_all(w, done, n_done);
    if (n_finished)
        (void)db_query(w->rq, &events_done,
                       (const char *[]){arena_printf(w->rq->a, "%s}", finished)}, NULL);
    return n_finished;
}

static int pass_inbox(work_ctx *w)
{
    int moved = 0, seen = 0;
    for (int round = 0; round < 20; round++) {
        moved += inbox_batch(w, &seen);
        if (seen < w->batch)
            break;
    }
    return moved;
}

/* Cancelled jobs whose provider work is still going, and jobs past deadline. */
static int pass_stop(work_ctx *w)
{
    PGresult *c, *o;
    int moved = 0;
    const char *pc[] = {num(w, w->batch)};
    const char *po[] = {w->poller_id, num(w, w->batch), num(w, w->lease_s)};
    if (db_query(w->rq, &to_cancel, pc, &c) != RV_OK ||
        db_query(w->rq, &overdue, po, &o) != RV_OK)
        return 0;
    int nc = PQntuples(c), no = PQntuples(o);
    http_call *calls = arena_alloc(w->rq->a, (size_t)(nc + no + 1) * sizeof *calls);
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        PGresult *r = pass ? o : c;
        for (int i = 0; i < PQntuples(r); i++) {
            const prov_adapter *ad = prov_find(db_get(r, i, 1));
            const char *pid = db_get(r, i, 2);
            if (ad && ad->remote && pid)
                ad->build_cancel(w->rq->a, pid, &calls[n++]);
        }
    }
    http_run(w->rq->a, calls, (size_t)n);
    for (int i = 0; i < no; i++, moved++)
        to_failed(w, db_get(o, i, 0), "deadline_exceeded", "the job took too long");
    return moved + nc;
}

/* Running jobs whose webhook is late: ask the provider. */
static int pass_checks(work_ctx *w)
{
    PGresult *r;
    const char *p[] = {w->poller_id, num(w, w->batch), num(w, w->lease_s)};
    if (db_query(w->rq, &due_checks, p, &r) != RV_OK)
        return 0;
    job_ref *js;
    int n = read_jobs(w, r, &js, false), n_done = 0, k = 0;
    http_call *calls = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *calls);
    job_ref **done = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *done);
    for (int i = 0; i < n; i++)
        if (js[i].ad && js[i].ad->remote && js[i].provider_job_id)
            js[i].ad->build_get(w->rq->a, js[i].provider_job_id, &calls[k++]);
    http_run(w->rq->a, calls, (size_t)k);
    k = 0;
    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        if (!(j->ad && j->ad->remote && j->provider_job_id)) {
            to_released(w, j->id, w->check_in_s);
            continue;
        }
        http_call *c = &calls[k++];
        prov_result res = j->ad->read(w->rq->a, c);
        if (res.outcome == PROV_PERMANENT && (c->status == 404 || c->status == 410)) {
            /* The provider no longer knows the work: asking again until the deadline
             * changes nothing. (401/403 are ours to fix, not the job's: kept.) */
            to_failed(w, j->id, "provider_failed", res.message);
            continue;
        }
        if (res.outcome != PROV_OK) {
            to_released(w, j->id, w->check_in_s);
            continue;
        }
        j->st = res.status;
        if (j->st.state == PROV_PENDING || j->st.state == PROV_RUNNING)
            to_released(w, j->id, w->check_in_s);
        else
            apply(w, j, done, &n_done);
    }
    finish_all(w, done, n_done);
    return n;
}

/* Rescued jobs may already be at the provider: look them up first, through the
 * provider's listing of recent work, newest first, page by page until each is
 * found or the listing reaches back before the oldest of them was created (less
 * PROV_FIND_SLACK_S for clocks that disagree). Only then is a job known never to
 * have arrived; when the listing cannot be read to there, nothing is concluded.
 * Work that another job already holds is never adopted (another job may have
 * asked for exactly the same). */
enum { FIND_MAX_PAGES = 50, FIND_MAX_SKIPS = 64 };

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

static int pass_dispatch_remote(work_ctx *w, bool fresh_only)
{
    PGresult *r;
    const prov_adapter *rep = prov_find("replicate");
    if (!rep->available())
        return 0; /* this poller has no key: other pollers take those jobs */
    const char *p[] = {w->poller_id, "{replicate}", num(w, w->batch), num(w, w->lease_s),
                       fresh_only ? "true" : "false"};
    if (db_query(w->rq, &claim, p, &r) != RV_OK)
        return 0;
    job_ref *js;
    int n = read_jobs(w, r, &js, true), n_done = 0;
    job_ref **done = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *done);
    find_rescued(w, js, n, rep);

    http_call *calls = arena_alloc(w->rq->a, (size_t)(n ? n : 1) * sizeof *calls);
    int k = 0;
    for (int i = 0; i < n; i++) {
        job_ref *j = &js[i];
        if (j->rescued || (!strcmp(j->kind, "voice_clone") && !clone_prepare(w, j)))
            continue;
        prov_job pj = {j->id,      j->kind,  j->model,     NULL, j->callback_token,
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
            apply(w, j, done, &n_done);
        else if (j->rescued)
            to_recheck(w, j, 5, "could not look the job up at the provider");
    }
    for (int i = 0; i < k; i++) {
        job_ref *j = calls[i].user;
        prov_result res = j->ad->read(w->rq->a, &calls[i]);
        if (res.outcome == PROV_TRANSIENT && res.maybe_started) {
            /* No answer at all: the create may still be in the provider's accept
             * queue and land later. A lookup is conclusive only once it could have
             * landed: our own timeout again, as a margin, after it ran out. */
            double wait = calls[i].status == 0 ? calls[i].timeout_ms / 1000.0 : 0;
            to_recheck(w, j, res.retry_after > wait ? res.retry_after : wait, res.message);
        } else if (res.outcome == PROV_TRANSIENT) {
            to_retry(w, j, res.retry_after, res.message);
        } else if (res.outcome == PROV_PERMANENT) {
            to_failed(w, j->id, "provider_rejected", res.message);
        } else {
            j->st = res.status;
            apply(w, j, done, &n_done);
        }
    }
    finish_all(w, done, n_done);
    return n;
}

/* ------------------------------------------------------- local children */

int work_local_running(const work_ctx *w)
{
    int n = 0;
    for (int i = 0; i < w->local_slots; i++)
        n += w->local[i].pid > 0;
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void work_reap(work_ctx *w)
{
    for (int i = 0; i < w->local_slots; i++) {
        if (w->local[i].pid <= 0)
            continue;
        int status;
        pid_t r = waitpid(w->local[i].pid, &status, WNOHANG);
        if (r == 0 && now_s() - w->local[i].started > (double)w->local_timeout_s) {
            kill(w->local[i].pid, SIGKILL);
            r = waitpid(w->local[i].pid, &status, 0);
        }
        if (r == 0)
            continue;
        bool ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) != LOCAL_TRANSIENT;
        if (!ok) {
            /* Backs off like any other attempt of the job. */
            job_ref j = {.id = w->local[i].job_id, .attempts = w->local[i].attempts};
            log_msg(LOG_WARN, "local child for job %s ended with %s %d", j.id,
                    r > 0 && WIFSIGNALED(status) ? "signal" : "status",
                    r > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            to_retry(w, &j, 0, "the local synthesis process ended abnormally");
        }
        w->local[i].pid = 0;
    }
}

static int pass_dispatch_local(work_ctx *w)
{
    int free_slots = w->local_slots - work_local_running(w);
    if (free_slots <= 0)
        return 0;
    PGresult *r;
    const char *p[] = {w->poller_id, "{local}", num(w, free_slots),
                       num(w, w->local_timeout_s + 60), "false"};
    if (db_query(w->rq, &claim, p, &r) != RV_OK)
        return 0;
    job_ref *js;
    int n = read_jobs(w, r, &js, true);
    for (int i = 0; i < n; i++) {
        int slot = 0;
        while (slot < w->local_slots && w->local[slot].pid > 0)
            slot++;
        if (slot == w->local_slots) /* cannot happen: claimed at most the free slots */
            break;
        local_job lj = {js[i].id, js[i].user_id, js[i].input, w->poller_id};
        pid_t pid = fork();
        if (pid == 0) {
            db_forget_after_fork();
            _exit(local_run(&lj));
        }
        if (pid < 0) {
            to_retry(w, &js[i], 1, "could not start the local synthesis");
            continue;
        }
        w->local[slot].pid = pid;
        snprintf(w->local[slot].job_id, sizeof w->local[slot].job_id, "%s", js[i].id);
        w->local[slot].attempts = js[i].attempts;
        w->local[slot].started = now_s();
    }
    return n;
}

/* ------------------------------------------------------------------ sweep */

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
        moved += n = pass_dispatch_remote(w, fresh_only);
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
    moved += pass_dispatch_local(w);
    t1 = now_s();
    moved += pass_inbox(w);
    t2 = now_s();
    moved += pass_stop(w);
    moved += pass_checks(w);
    moved += dispatch_remote(w, false);
    moved += pass_storage(w);
    if (moved)
        log_msg(LOG_DEBUG, "sweep: %d moved in %.1f ms (dispatch %.1f, inbox %.1f)", moved,
                (now_s() - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    return moved;
}
