/* GET /media/{key}?exp&sig — public, signed.
 *
 * Checks the link's HMAC (constant time) and expiry, then hands the file to nginx
 * with X-Accel-Redirect to the internal /_media/ location, so nginx sends the bytes
 * (Range, sendfile). The answer's one Cache-Control is the one set here (nginx
 * keeps it through the redirect; /_media/ adds none). 403 forbidden for a wrong,
 * expired or missing signature; 404 (from nginx) when the file is gone; 416 (from
 * nginx) for a Range outside the file. 405. */
#include <time.h>

#include "resp.h"
#include "serve.h"
#include "storage.h"

static rv_err media(rv_req *rq)
{
    const char *key = req_path(rq, "key");
    if (!store_check_link(key, req_query(rq, "exp"), req_query(rq, "sig"), time(NULL)))
        return req_fail(rq, RV_E_FORBIDDEN, "the link is invalid or has expired");
    resp_header(rq, "X-Accel-Redirect", arena_printf(rq->a, "/_media/%s", key));
    resp_header(rq, "Cache-Control", "private, max-age=3600");
    return resp_empty(rq, 200);
}

static const rv_endpoint endpoint = {
    .name = "media",
    .route = "/media/{key*}",
    .methods = RV_GET,
    .flags = 0,
    .body_limit = 0,
    .handle = media,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
