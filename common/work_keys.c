/* work_keys.c — jobs that run on their user's own provider key (provider_keys.h):
 * the key put in each of their calls, and a refused key failing the job, not the
 * service. */
#include <string.h>

#include "log.h"
#include "provider_keys.h"
#include "work_internal.h"

static const char rejected_message[] =
    "your own provider key was removed or refused by the provider; add a working key "
    "again (or remove it to use the service's)";

bool work_job_key(work_ctx *w, job_ref *j, http_call *c)
{
    const char *bearer;
    j->own_key = false;
    switch (provkey_for_job(w->rq, j->id, &bearer)) {
    case PROVKEY_SERVICE:
        return true;
    case PROVKEY_OWN:
        provkey_apply(w->rq->a, c, bearer);
        j->own_key = true;
        return true;
    case PROVKEY_MISSING:
        log_msg(LOG_WARN, "job %s: its user's own key is gone; failed", j->id);
        work_to_failed(w, j->id, "provider_key_rejected", rejected_message);
        return false;
    case PROVKEY_ERROR:
        break;
    }
    return false;
}

bool work_key_refused(work_ctx *w, job_ref *j, const http_call *c)
{
    if (!j->own_key || (c->status != 401 && c->status != 403))
        return false;
    log_msg(LOG_WARN, "job %s: the provider refused its user's own key (%ld); failed", j->id,
            c->status);
    provkey_rejected(w->rq, j->user_id, j->ad ? j->ad->name : j->provider);
    work_to_failed(w, j->id, "provider_key_rejected", rejected_message);
    return true;
}

bool work_cancel_key(work_ctx *w, const char *job_id, http_call *c)
{
    const char *bearer;
    switch (provkey_for_job(w->rq, job_id, &bearer)) {
    case PROVKEY_SERVICE:
        return true;
    case PROVKEY_OWN:
        provkey_apply(w->rq->a, c, bearer);
        return true;
    default:
        return false;
    }
}
