/* session.h — answering a successful sign-in (register, login, refresh).
 *
 * A session is a refresh-token family. The answer carries the user, a new access
 * token for the session and, as cookies, both tokens: rv_access (Path=/) and
 * rv_refresh (Path=/api/auth), HttpOnly; Secure; SameSite=Strict. */
#ifndef RV_SESSION_H
#define RV_SESSION_H

#include <stdbool.h>

#include "req.h"

typedef struct session_grant {
    const char *user_json; /* the `user` object, as JSON text from the database */
    const char *user_id, *role, *session_id;
    const char *refresh_token; /* plain token, just issued */
    bool refresh_in_body;      /* login and refresh return it; register does not */
} session_grant;

/* Issues the access token and writes the whole response with the given status. */
rv_err session_respond(rv_req *rq, int status, const session_grant *g);

/* Clears both cookies (logout). */
void session_clear_cookies(rv_req *rq);

/* Access-token revocation. An access token names its session (sid); it stands
 * only while that session has a live refresh token and the user still has the
 * token's role (rv_session_valid). Each worker keeps its last answer per session
 * for recheck_seconds, so a logout, a reuse revocation, a password change or a
 * role change reaches every worker within that bound at the cost of one query
 * per session and worker per interval.
 *
 * session_check_init() turns the check on (serve_main; unit tests of the serve
 * loop leave it off). recheck_seconds 0 asks the database on every request. */
void session_check_init(long recheck_seconds);

/* For an authenticated rq (user_id, role, session_id set): RV_OK while the session
 * stands (or checks are off), RV_E_UNAUTHORIZED once it has ended, or the database
 * error (RV_E_UNAVAILABLE) when it cannot tell. */
rv_err session_check(rv_req *rq);

/* The per-process cache behind session_check, exposed for tests; now is seconds
 * on any monotonic clock. get: 1 valid, 0 ended, -1 unknown or older than the
 * recheck interval. */
int session_cache_get(const char *sid, const char *uid, const char *role, double now);
void session_cache_put(const char *sid, const char *uid, const char *role, bool valid, double now);

#endif
