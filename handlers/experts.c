/* GET /api/experts?specialty&language&availability&minRateCents&maxRateCents&page&limit
 * — authenticated.
 *
 * 200 {items: [expert], pagination}, best rated first (then most rated). expert:
 * {userId, name, bio, hourlyRateCents, specialties, languages, rating, ratingCount,
 * availability}. availability: available|busy|offline; rates: integers 0..10^8
 * (else 400). 401, 405, 503. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "serve.h"
#include "views.h"

static const db_stmt page = {"SELECT total, expert_json FROM rv_experts_page($1, $2, $3,"
                             " $4::bigint, $5::bigint, $6::integer, $7::integer)",
                             7};

static const char *as_is(rv_req *rq, const char *json, const char *key)
{
    (void)rq;
    (void)key;
    return json;
}

/* ?name as a rate in cents (0..10^8), NULL when absent; a bad one is a field error. */
static const char *rate(rv_req *rq, const char *name)
{
    const char *s = req_query(rq, name);
    if (!s)
        return NULL;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 9 || s[n] || strtol(s, NULL, 10) > 100000000) {
        req_field_error(rq, name, "must be an integer from 0 to 100000000");
        return NULL;
    }
    return s;
}

static rv_err experts(rv_req *rq)
{
    long pg, limit;
    rv_err er = req_page(rq, &pg, &limit);
    const char *avail = req_query(rq, "availability"), *specialty = req_query(rq, "specialty"),
               *language = req_query(rq, "language");
    if (avail && strcmp(avail, "available") && strcmp(avail, "busy") && strcmp(avail, "offline"))
        req_field_error(rq, "availability", "must be one of: available, busy, offline");
    const char *min = rate(rq, "minRateCents"), *max = rate(rq, "maxRateCents");
    if (er != RV_OK || rq->problem_errors)
        return RV_E_VALIDATION;
    const char *p[] = {specialty,
                       language,
                       avail,
                       min,
                       max,
                       arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (pg - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &page, p, &r)) != RV_OK)
        return er;
    return views_list(rq, r, 1, 0, as_is, pg, limit, db_get_long(r, 0, 0));
}

static const rv_endpoint endpoint = {
    .name = "experts",
    .route = "/api/experts",
    .methods = RV_GET,
    .flags = RV_AUTH,
    .body_limit = 0,
    .handle = experts,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
