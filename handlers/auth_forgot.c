/* POST /api/auth/forgot — public.
 *
 * Body: {email}. 202 {} whatever the email: the request is recorded (at most
 * mail.forgotPerHour, 3, per email per hour) and the poller later mails a reset
 * link (RV_PUBLIC_URL/reset?token=…) when the email names an account that is not
 * disabled. The answer never tells whether the account exists, nor does its time:
 * the request does the same work either way (the lookup happens in the poller). 400
 * validation_failed | malformed_json, 405, 413, 415, 429 (nginx limit_req per IP), 503. */
#include <stddef.h>

#include "bind.h"
#include "db.h"
#include "resp.h"
#include "serve.h"

typedef struct {
    const char *email;
} forgot_input;

static const bind_field fields[] = {
    {.name = "email",
     .type = BIND_STRING,
     .offset = offsetof(forgot_input, email),
     .required = true,
     .min = 3,
     .max = 254,
     .check = bind_check_email,
     .message = "must be a valid email address"},
};

static const db_stmt forgot = {"SELECT rv_password_forgot($1)", 1};

static rv_err auth_forgot(rv_req *rq)
{
    forgot_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {in.email};
    if ((er = db_query(rq, &forgot, p, NULL)) != RV_OK)
        return er;
    return resp_json(rq, 202, "{}");
}

static const rv_endpoint endpoint = {
    .name = "auth_forgot",
    .route = "/api/auth/forgot",
    .methods = RV_POST,
    .flags = 0,
    .body_limit = 16 * 1024,
    .handle = auth_forgot,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
