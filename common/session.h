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

#endif
