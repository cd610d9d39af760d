/* provider.h — the AI providers Reelvox can send work to.
 *
 * One adapter per provider, each a table of functions (see prov_adapter). Which
 * provider serves a kind is configuration (admin_config.providers.kinds, first
 * available wins); whether a provider is available here depends on its key being
 * in the environment. Only the poller talks to providers; handlers only ask which
 * ones are available. */
#ifndef RV_PROVIDER_H
#define RV_PROVIDER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "arena.h"
#include "err.h"
#include "http.h"

/* What a provider said about a job. */
typedef enum {
    PROV_PENDING, /* accepted, not started */
    PROV_RUNNING,
    PROV_SUCCEEDED, /* output_url set */
    PROV_FAILED,    /* permanent; message set */
    PROV_CANCELLED,
} prov_state;

typedef struct prov_status {
    prov_state state;
    int progress; /* 0..100 */
    const char *provider_job_id;
    const char *output_url; /* where to fetch the result (expires!); a clone's preview */
    const char *voice_id;   /* voice_clone: the provider's id of the new voice, else NULL */
    const char *message;    /* for failures */
    const char *code;       /* the job's error code for a failure; NULL: provider_failed */
} prov_status;

/* How a call went: ok, or an error that may be retried (network, 5xx, 429) or not. */
typedef enum { PROV_OK, PROV_TRANSIENT, PROV_PERMANENT } prov_outcome;

typedef struct prov_result {
    prov_outcome outcome;
    double retry_after; /* seconds the provider asked us to wait, 0 if it did not */
    bool maybe_started; /* transient, yet the work may exist at the provider (no or an
                         * unreadable answer, a 5xx): look it up before submitting again */
    const char *message;
    prov_status status;
} prov_result;

/* The job as the poller hands it to an adapter. */
typedef struct prov_job {
    const char *id, *kind, *model, *provider_job_id, *callback_token, *user_id;
    json_object *input; /* the job's input; borrowed */
    long created_s;     /* when the job was created (seconds since the epoch) */
} prov_job;

/* Clocks of ours and a provider's may disagree by this much (seconds). */
enum { PROV_FIND_SLACK_S = 30 };

/* Looking jobs up in a provider's listing of recent work (see find_page). */
typedef struct prov_lookup {
    const prov_job *jobs; /* the jobs looked for */
    int n;
    prov_status *sts; /* per job: its work's status, once found[k] */
    bool *found;
    const char *const *skip; /* work known to be other jobs': never matched */
    int n_skip;
    long not_before; /* none of the jobs' work is older (seconds since the epoch) */
} prov_lookup;

/* A remote provider is driven by building HTTP calls and reading their answers;
 * the poller runs the calls (many at once). The local provider has no calls: the
 * poller runs it in a child process (local.h). */
typedef struct prov_adapter {
    const char *name;
    /* Whether this deployment can use the provider (its key is configured). */
    bool (*available)(void);
    /* Whether the provider can do this kind of job at all. */
    bool (*serves)(const char *kind);
    bool remote;

    /* Builds the call that starts job. */
    void (*build_submit)(arena *a, const prov_job *job, http_call *c);
    /* Builds the status call, the cancel call, and the call that lists recent work,
     * newest first (to find a job a dead poller may have submitted): its first page,
     * or the page_url a previous page named. build_find and find_page are NULL for a
     * provider that lists nothing: its rescued jobs are failed, never resubmitted. */
    void (*build_get)(arena *a, const char *provider_job_id, http_call *c);
    void (*build_cancel)(arena *a, const char *provider_job_id, http_call *c);
    void (*build_find)(arena *a, const char *page_url, http_call *c);
    /* Reads the answer of a submit or get call. */
    prov_result (*read)(arena *a, const http_call *c);
    /* Reads one page of a find: for each job of f whose work is on it (and not in
     * f->skip), found[k] = true and sts[k] filled (jobs already found are left
     * alone; one piece of work goes to one job). *next: the URL of the following
     * page, or NULL when there is none or this page already reaches back before
     * f->not_before, so older pages cannot hold the jobs' work. False when the page
     * could not be read (then nothing can be concluded). */
    bool (*find_page)(arena *a, const http_call *c, prov_lookup *f, const char **next);
    /* Reads a webhook event's payload (already verified and stored). */
    bool (*read_event)(arena *a, json_object *payload, prov_status *st);
    /* The provider's own base URL (its simulator's in tests), whose origin may serve
     * outputs over http and from any address; NULL: none. */
    const char *(*origin)(void);
} prov_adapter;

/* Reads a provider's status from a prediction-like object; shared by read and
 * read_event of the Replicate adapter (exposed for tests). */
bool prov_replicate_status(arena *a, json_object *prediction, prov_status *st);

/* A create of job's prediction at Replicate as build_submit makes it (the same
 * model and input for its kind), but with no webhook: for work the poller waits on
 * itself (a narration's sections, video_narrate.h), whose events would match no
 * job's prediction. wait_s > 0 asks the answer to wait up to that long for the end
 * (Prefer: wait, at most 60). Read the answer with the adapter's read. */
void prov_replicate_build_plain(arena *a, const prov_job *job, int wait_s, http_call *c);

/* Runway (runway.c): the version of its API we speak (X-Runway-Version); a task
 * object read into st (false when it is none); our ratio (16:9, 9:16, 1:1) as
 * Runway's output size ("1280:720", "720:1280", "960:960"). Exposed for tests. */
#define RUNWAY_API_VERSION "2024-11-06"
bool prov_runway_status(arena *a, json_object *task, prov_status *st);
const char *prov_runway_ratio(const char *ratio);

/* Whether s is usable as a provider's id of a job or a voice: [A-Za-z0-9_-]{1,64}.
 * Ids go into URL paths and PostgreSQL array literals; anything else is refused
 * when read. */
bool prov_id_valid(const char *s);

/* The largest output of a kind the poller downloads (audio: 50 MiB). */
size_t prov_output_cap(const char *kind);

/* Makes c, a download of a job's output from ad, a restricted one: https only and
 * public addresses only (http.h, untrusted) except from the provider's own origin,
 * at most prov_output_cap(kind) bytes. RV_ALLOW_HTTP_DOWNLOADS=1 and
 * RV_ALLOW_PRIVATE_DOWNLOADS=1 lift the two rules (tests, a private deployment). */
void prov_download_setup(const prov_adapter *ad, const char *kind, http_call *c);

/* The adapter called name, or NULL. */
const prov_adapter *prov_find(const char *name);

/* The providers that are available here and can serve kind, as a PostgreSQL array
 * literal ("{local,replicate}"). */
char *prov_available_for(arena *a, const char *kind);

#endif
