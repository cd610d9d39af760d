/* GET /readyz — public. Readiness, where /healthz is liveness.
 *
 * 200 {"status":"ready","checks":{"database":"ok","migrations":"ok","poller":"ok"},
 * "pollerAgeSeconds":N} when the database answers, every migration this build
 * knows is applied (extra newer ones are fine: a build may trail a rolling
 * deploy) and a poller ended a pass within RV_READY_POLLER_AGE seconds (120).
 * Else 503 unavailable whose detail names what is not ready, with the same
 * "checks" object (each "ok" or what is wrong). */
#include <json-c/json.h>
#include <stdio.h>

#include "config.h"
#include "ops.h"
#include "resp.h"
#include "serve.h"

static rv_err readyz(rv_req *rq)
{
    ops_readiness r = ops_ready(rq, ops_known_migrations(), config->ready_poller_age);
    const char *db = r.db_ok ? "ok" : "unreachable";
    const char *mig = !r.db_ok       ? "unknown"
                      : !r.missing   ? "not current: the operations functions are missing"
                      : r.missing[0] ? arena_printf(rq->a, "pending: %s", r.missing)
                                     : "ok";
    const char *poll = !r.db_ok || !r.missing ? "unknown"
                       : r.poller_age < 0     ? "no poller has run"
                       : !r.poller_ok ? arena_printf(rq->a, "last pass %.0f s ago", r.poller_age)
                                      : "ok";
    json_object *checks = json_object_new_object();
    json_object_object_add(checks, "database", json_object_new_string(db));
    json_object_object_add(checks, "migrations", json_object_new_string(mig));
    json_object_object_add(checks, "poller", json_object_new_string(poll));
    if (r.db_ok && r.missing && !r.missing[0] && r.poller_ok) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("ready"));
        json_object_object_add(o, "checks", checks);
        json_object_object_add(o, "pollerAgeSeconds", json_object_new_double(r.poller_age));
        return resp_jobj(rq, 200, o);
    }
    req_problem_set(rq, "checks", checks);
    return req_fail(rq, RV_E_UNAVAILABLE, "not ready: database %s; migrations %s; poller %s", db,
                    mig, poll);
}

static const rv_endpoint endpoint = {
    .name = "readyz",
    .route = "/readyz",
    .methods = RV_GET,
    .flags = RV_NO_SECRET,
    .body_limit = 0,
    .handle = readyz,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
