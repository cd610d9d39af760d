/* POST /api/admin/jobs/{id}/retry and /api/admin/jobs/{id}/refund — admin, no body.
 *
 * retry: a failed job runs again as a new job of its user, same kind, input and
 * provider, free of charge (the failed job's credits were refunded when it failed;
 * the retry is the operator's, recorded in the audit log; input.retryOf names the
 * failed job) → 202 the new job, Location: /api/jobs/{id}; header Idempotency-Key?: the
 * same admin's key for the same job answers that retry as it is now (202), for another
 * job 409 idempotency_conflict. Only failed jobs (409
 * invalid_state otherwise) of kinds whose job stands alone: tts, sfx,
 * voice_conversion (409 invalid_state for the others: the user submits again).
 * refund: an ended job's charge goes back to its user (a succeeded job whose result
 * was bad) → 201 the ledger row (kind job_refund); 409 invalid_state while the job
 * has not ended, 409 conflict when it was refunded already or cost nothing.
 * Both audited. 401, 403, 404 (no such job or action), 405, 413, 503. */
#include <string.h>

#include "db.h"
#include "jobs.h"
#include "resp.h"
#include "serve.h"

static const db_stmt retry = {
    "SELECT status, job_json, job_json ->> 'id' FROM rv_admin_job_retry($1, $2)", 2};
static const db_stmt refund = {"SELECT status, entry FROM rv_admin_job_refund($1)", 1};

static rv_err admin_job_action(rv_req *rq)
{
    const char *id = req_path(rq, "id"), *action = req_path(rq, "action");
    bool is_retry = !strcmp(action, "retry");
    if (!req_is_uuid(id) || (!is_retry && strcmp(action, "refund")))
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    const char *idem = is_retry ? req_header(rq, "Idempotency-Key") : NULL;
    if (idem && !jobs_idempotency_key_ok(idem))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    const char *p[] = {id, idem};
    PGresult *r;
    rv_err er = db_query(rq, is_retry ? &retry : &refund, p, &r);
    if (er != RV_OK)
        return er;
    const char *status = db_get(r, 0, 0);
    if (!strcmp(status, "not_found"))
        return req_fail(rq, RV_E_NOT_FOUND, "no such job");
    if (!strcmp(status, "invalid_state"))
        return req_fail(rq, RV_E_INVALID_STATE,
                        is_retry ? "only a failed job can be retried" : "the job has not ended");
    if (!strcmp(status, "unsupported"))
        return req_fail(rq, RV_E_INVALID_STATE,
                        "a job of this kind cannot be retried: its user submits it again");
    if (!strcmp(status, "idempotency_conflict"))
        return req_fail(rq, RV_E_IDEMPOTENCY_CONFLICT,
                        "this Idempotency-Key was used to retry another job");
    if (!strcmp(status, "conflict"))
        return req_fail(rq, RV_E_CONFLICT, "the job was refunded already or cost nothing");
    if (!is_retry)
        return resp_json(rq, 201, db_get(r, 0, 1));
    resp_header(rq, "Location", arena_printf(rq->a, "/api/jobs/%s", db_get(r, 0, 2)));
    return resp_json(rq, 202, db_get(r, 0, 1));
}

static const rv_endpoint endpoint = {
    .name = "admin_job_action",
    .route = "/api/admin/jobs/{id}/{action}",
    .methods = RV_POST,
    .flags = RV_ADMIN,
    .body_limit = 1024,
    .handle = admin_job_action,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
