#include "session.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "resp.h"

rv_err session_respond(rv_req *rq, int status, const session_grant *g)
{
    long expires_in = 0;
    char *token = auth_issue_access(g->user_id, g->role, g->session_id, time(NULL), &expires_in);
    if (!token)
        return RV_E_INTERNAL;
    char *access = arena_strdup(rq->a, token);
    free(token);

    resp_cookie(rq, "rv_access", access, "/", expires_in);
    resp_cookie(rq, "rv_refresh", g->refresh_token, "/api/auth", config->refresh_ttl);
    /* Both tokens are base64url and dots: nothing to escape. */
    if (g->refresh_in_body)
        return resp_json(rq, status,
                         arena_printf(rq->a,
                                      "{\"user\":%s,\"accessToken\":\"%s\",\"refreshToken\":"
                                      "\"%s\",\"expiresIn\":%ld}",
                                      g->user_json, access, g->refresh_token, expires_in));
    return resp_json(rq, status,
                     arena_printf(rq->a, "{\"user\":%s,\"accessToken\":\"%s\",\"expiresIn\":%ld}",
                                  g->user_json, access, expires_in));
}

void session_clear_cookies(rv_req *rq)
{
    resp_cookie(rq, "rv_access", "", "/", 0);
    resp_cookie(rq, "rv_refresh", "", "/api/auth", 0);
}

enum { CHECK_SLOTS = 256 };
static bool check_on;
static double recheck = 10;
static struct {
    char sid[AUTH_UUID_LEN + 1], uid[AUTH_UUID_LEN + 1], role[AUTH_ROLE_MAX + 1];
    double checked;
    bool used, valid;
} checks[CHECK_SLOTS];

void session_check_init(long recheck_seconds)
{
    check_on = true;
    recheck = (double)recheck_seconds;
    memset(checks, 0, sizeof checks);
}

static size_t check_slot(const char *sid)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = sid; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (size_t)(h % CHECK_SLOTS);
}

int session_cache_get(const char *sid, const char *uid, const char *role, double now)
{
    size_t i = check_slot(sid);
    if (!checks[i].used || strcmp(checks[i].sid, sid) || strcmp(checks[i].uid, uid) ||
        strcmp(checks[i].role, role) || now - checks[i].checked >= recheck ||
        now < checks[i].checked)
        return -1;
    return checks[i].valid;
}

void session_cache_put(const char *sid, const char *uid, const char *role, bool valid, double now)
{
    if (strlen(sid) > AUTH_UUID_LEN || strlen(uid) > AUTH_UUID_LEN || strlen(role) > AUTH_ROLE_MAX)
        return;
    size_t i = check_slot(sid);
    snprintf(checks[i].sid, sizeof checks[i].sid, "%s", sid);
    snprintf(checks[i].uid, sizeof checks[i].uid, "%s", uid);
    snprintf(checks[i].role, sizeof checks[i].role, "%s", role);
    checks[i].checked = now;
    checks[i].valid = valid;
    checks[i].used = true;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

rv_err session_check(rv_req *rq)
{
    static const db_stmt valid = {"SELECT rv_session_valid($1, $2, $3)", 3};
    if (!check_on)
        return RV_OK;
    double now = mono_now();
    int v = session_cache_get(rq->session_id, rq->user_id, rq->role, now);
    if (v < 0) {
        PGresult *r;
        const char *p[] = {rq->session_id, rq->user_id, rq->role};
        rv_err er = db_query(rq, &valid, p, &r);
        if (er != RV_OK)
            return er;
        const char *t = db_get(r, 0, 0);
        v = t && t[0] == 't';
        session_cache_put(rq->session_id, rq->user_id, rq->role, v, now);
    }
    return v ? RV_OK : RV_E_UNAUTHORIZED;
}
