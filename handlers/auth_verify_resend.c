/* POST /api/auth/verify/resend — authenticated, no body.
 *
 * 202 {}: a new verification link is mailed (unless the email is verified already,
 * or mail.forgotPerHour links went out in the last hour: then nothing is sent and
 * the answer is the same). 401, 405, 413, 503. */
#include "db.h"
#include "resp.h"
#include "serve.h"

static const db_stmt resend = {"SELECT rv_verify_resend()", 0};

static rv_err auth_verify_resend(rv_req *rq)
{
    rv_err er = db_query(rq, &resend, NULL, NULL);
    return er != RV_OK ? er : resp_json(rq, 202, "{}");
}

static const rv_endpoint endpoint = {
    .name = "auth_verify_resend",
    .route = "/api/auth/verify/resend",
    .methods = RV_POST,
    .flags = RV_AUTH,
    .body_limit = 1024,
    .handle = auth_verify_resend,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
