#include "projects.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "jobs.h"
#include "providers/provider.h"
#include "resp.h"
#include "storage.h"

#include <sodium.h>

static const struct {
    const char *sql;
    rv_err er;
    const char *detail;
} outcomes[] = {
    [PROJ_OK] = {"ok", RV_OK, NULL},
    [PROJ_NOT_FOUND] = {"not_found", RV_E_NOT_FOUND, "no such project"},
    [PROJ_FORBIDDEN] = {"forbidden", RV_E_FORBIDDEN,
                        "your role on this project does not allow this"},
    [PROJ_INVALID_STATE] = {"invalid_state", RV_E_INVALID_STATE,
                            "the project's status does not allow this"},
    [PROJ_AUDIO_NOT_FOUND] = {"audio_not_found", RV_E_NOT_FOUND, "no such audio"},
    [PROJ_EXPERT_NOT_FOUND] = {"expert_not_found", RV_E_NOT_FOUND, "no such expert"},
    [PROJ_EXPERT_OFFLINE] = {"expert_offline", RV_E_CONFLICT, "the expert is offline"},
    [PROJ_INSUFFICIENT] = {"insufficient", RV_E_INSUFFICIENT_CREDITS, NULL},
    [PROJ_RATED] = {"rated", RV_E_CONFLICT, "this project is rated already"},
    [PROJ_NO_DELIVERABLES] = {"no_deliverables", RV_E_INVALID_STATE,
                              "upload a deliverable before submitting"},
    [PROJ_NOT_EXPERT] = {"not_expert", RV_E_FORBIDDEN, "only experts keep a profile"},
    [PROJ_BAD_SPECIALTY] = {"bad_specialty", RV_E_VALIDATION, NULL},
    [PROJ_UNKNOWN] = {NULL, RV_E_INTERNAL, NULL},
};

projects_outcome projects_outcome_of(const char *s)
{
    for (size_t i = 0; s && i < sizeof outcomes / sizeof outcomes[0]; i++)
        if (outcomes[i].sql && !strcmp(s, outcomes[i].sql))
            return (projects_outcome)i;
    return PROJ_UNKNOWN;
}

rv_err projects_refuse(rv_req *rq, projects_outcome o)
{
    if ((unsigned)o >= sizeof outcomes / sizeof outcomes[0])
        o = PROJ_UNKNOWN;
    if (o == PROJ_BAD_SPECIALTY)
        return req_field_error(rq, "specialties", "must be specialties of the configured list");
    if (!outcomes[o].detail)
        return outcomes[o].er;
    return req_fail(rq, outcomes[o].er, "%s", outcomes[o].detail);
}

/* Depth-first: replaces storageKey members by signed urls. */
static void sign_all(arena *a, json_object *o, time_t now, int depth)
{
    if (depth > 16)
        return;
    if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            sign_all(a, json_object_array_get_idx(o, i), now, depth + 1);
        return;
    }
    if (!json_object_is_type(o, json_type_object))
        return;
    json_object *key = NULL;
    if (json_object_object_get_ex(o, "storageKey", &key) &&
        json_object_is_type(key, json_type_string)) {
        const char *url = store_signed_url(a, json_object_get_string(key), STORE_URL_TTL, now);
        json_object_object_del(o, "storageKey");
        json_object_object_add(o, "url", json_object_new_string(url));
    }
    json_object_object_foreach(o, k, v)
    {
        (void)k;
        sign_all(a, v, now, depth + 1);
    }
}

const char *projects_links(rv_req *rq, const char *json)
{
    if (!json || !strstr(json, "\"storageKey\""))
        return json;
    json_object *obj = json_tokener_parse(json);
    if (!obj)
        return json;
    req_keep(rq, obj);
    sign_all(rq->a, obj, time(NULL), 0);
    return arena_strdup(rq->a, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
}

rv_err projects_call(rv_req *rq, const db_stmt *st, const char *const *p, int status)
{
    PGresult *r;
    rv_err er = db_query(rq, st, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) < 1)
        return RV_E_INTERNAL;
    projects_outcome o = projects_outcome_of(db_get(r, 0, 0));
    if (o != PROJ_OK)
        return projects_refuse(rq, o);
    if (status == 204)
        return resp_empty(rq, 204);
    const char *json = db_get(r, 0, 1);
    return json ? resp_json(rq, status, projects_links(rq, json)) : RV_E_INTERNAL;
}

const char *projects_id(rv_req *rq, const char *name)
{
    const char *id = req_path(rq, name);
    return req_is_uuid(id) ? id : NULL;
}

static const db_stmt estimate = {"SELECT status, job_json, job_id, retry_after, required, balance"
                                 "  FROM rv_project_estimate($1, $2, $3::text[], $4)",
                                 4};

rv_err projects_estimate(rv_req *rq, const char *project_id)
{
    const char *idem = req_header(rq, "Idempotency-Key");
    if (idem && !jobs_idempotency_key_ok(idem))
        return req_field_error(rq, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    char token[33];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    const char *p[] = {project_id, idem, prov_available_for(rq->a, "estimate"), token};
    PGresult *r;
    rv_err er = db_query(rq, &estimate, p, &r);
    if (er != RV_OK)
        return er;
    if (PQntuples(r) != 1)
        return RV_E_INTERNAL;
    const char *status = db_get(r, 0, 0);
    /* The project's refusals; anything else is the submit's (rv_submit). */
    projects_outcome po = projects_outcome_of(status);
    if (po == PROJ_NOT_FOUND || po == PROJ_FORBIDDEN || po == PROJ_INVALID_STATE)
        return projects_refuse(rq, po);
    submit_outcome o = {
        .status = submit_status_of(status),
        .job_json = db_get(r, 0, 1),
        .job_id = db_get(r, 0, 2),
        .retry_after = db_get_long(r, 0, 3),
        .required = db_get_long(r, 0, 4),
        .balance = db_get_long(r, 0, 5),
    };
    return jobs_answer(rq, &o);
}

static const char *const statuses[] = {"draft",  "estimating", "ready",     "in_progress",
                                       "review", "completed",  "cancelled", NULL};

rv_err projects_list_query(rv_req *rq, long *page, long *limit, const char **status)
{
    rv_err er = req_page(rq, page, limit);
    *status = req_query(rq, "status");
    bool known = !*status;
    for (size_t i = 0; *status && statuses[i]; i++)
        known |= !strcmp(*status, statuses[i]);
    if (!known)
        er = req_field_error(rq, "status", "must be a project status");
    return er;
}
