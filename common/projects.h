/* projects.h — what the project and expert endpoints share.
 *
 * Their SQL functions (sql/functions/projects.sql, experts.sql) answer an outcome
 * code and the resource's JSON; the codes map to the contract's answers here, in
 * one table. Files in that JSON carry their storage key ("storageKey"), which
 * becomes a signed link ("url") before it leaves: the owner and the assigned expert
 * both get links to the project's audios and deliverables. */
#ifndef RV_PROJECTS_H
#define RV_PROJECTS_H

#include <libpq-fe.h>

#include "db.h"
#include "req.h"

typedef enum projects_outcome {
    PROJ_OK = 0,
    PROJ_NOT_FOUND,        /* the caller cannot see the project: 404 */
    PROJ_FORBIDDEN,        /* visible, but not the caller's to do: 403 */
    PROJ_INVALID_STATE,    /* the status does not allow it: 409 invalid_state */
    PROJ_AUDIO_NOT_FOUND,  /* not the caller's audio, or not in the project: 404 */
    PROJ_EXPERT_NOT_FOUND, /* no such expert: 404 */
    PROJ_EXPERT_OFFLINE,   /* 409 conflict */
    PROJ_INSUFFICIENT,     /* 402 */
    PROJ_RATED,            /* a second rating: 409 conflict */
    PROJ_NO_DELIVERABLES,  /* submit without a deliverable: 409 invalid_state */
    PROJ_NOT_EXPERT,       /* the caller's role is not expert: 403 */
    PROJ_BAD_SPECIALTY,    /* 400 on specialties */
    PROJ_UNKNOWN,          /* a code this file does not know: a bug (500) */
} projects_outcome;

/* The code of an outcome string; PROJ_UNKNOWN for NULL or anything else. */
projects_outcome projects_outcome_of(const char *s);

/* The answer to a refusal (its error, with the detail set); RV_OK for PROJ_OK. */
rv_err projects_refuse(rv_req *rq, projects_outcome o);

/* json with every member "storageKey" (at any depth) replaced by "url", a signed
 * link to that file. Arena-owned; NULL gives NULL; text that is not JSON is
 * returned as it is. */
const char *projects_links(rv_req *rq, const char *json);

/* Runs st with p; its first row is (outcome, JSON). Answers status with the JSON
 * (links signed) on ok, 204 when status is 204, or the refusal. */
rv_err projects_call(rv_req *rq, const db_stmt *st, const char *const *p, int status);

/* POST /api/projects/{id}/estimate for project_id: the estimate job (kind
 * estimate, with the request's Idempotency-Key) and the project to estimating, in
 * one transaction. Answers 202 with the job, or the project's refusal (404, 403,
 * 409) or the submit's (400 key, 402, 409 idempotency_conflict, 429, 503). */
rv_err projects_estimate(rv_req *rq, const char *project_id);

/* The query of a project list: page, limit and status (NULL when absent; else one
 * of the lifecycle's statuses). 400 naming each bad one. */
rv_err projects_list_query(rv_req *rq, long *page, long *limit, const char **status);

/* The {id} of the route when it is a UUID, else NULL (the caller answers 404). */
const char *projects_id(rv_req *rq, const char *name);

#endif
