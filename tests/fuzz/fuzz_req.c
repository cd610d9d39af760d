/* fuzz_req.c — what common/req.c reads from a request: the query string (decoded
 * lazily, percent escapes), cookies, routes with {name} and {name*} parameters,
 * paging, UUIDs. The input is "query\ncookie\npath": three parameters a client
 * controls. */
#include <stdlib.h>

#include "fuzz.h"

static const char *const routes[] = {
    "/api/jobs/{id}", "/api/voices/{id}", "/media/{key*}", "/api/{a}/{b}/{c}/{d}/{e}", "/healthz",
};

static const char *const names[] = {"page", "limit", "job", "token", "exp", "sig", "", "a"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = fuzz_arena();
    char *query, *cookie, *path;
    size_t rest;
    const uint8_t *p = fuzz_split(a, data, size, '\n', &query, &rest);
    p = fuzz_split(a, p, rest, '\n', &cookie, &rest);
    path = fuzz_str(a, p, rest);

    char **env = arena_alloc(a, 4 * sizeof *env);
    env[0] = arena_printf(a, "QUERY_STRING=%s", query);
    env[1] = arena_printf(a, "HTTP_COOKIE=%s", cookie);
    env[2] = arena_printf(a, "DOCUMENT_URI=%s", path);
    rv_req *rq = fuzz_req(a, env);

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = req_query(rq, names[i]);
        if (v && strlen(v) > strlen(query))
            abort(); /* decoding never grows a value */
        v = req_cookie(rq, names[i][0] ? names[i] : "rv_refresh");
        if (v && strlen(v) > strlen(cookie))
            abort();
    }
    long page, limit;
    if (req_page(rq, &page, &limit) == RV_OK && (page < 1 || limit < 1 || limit > 100))
        abort();
    for (int plus = 0; plus < 2; plus++) {
        const char *d = req_unescape(a, (const char *)data, size, plus);
        if (d && strlen(d) > size)
            abort();
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!req_route_match(rq, routes[i], path))
            continue;
        if (rq->n_path < 0 || rq->n_path > REQ_MAX_PATH_PARAMS)
            abort();
        for (int k = 0; k < rq->n_path; k++)
            if (!*rq->path_values[k] || req_path(rq, rq->path_names[k]) == NULL)
                abort();
    }
    (void)req_is_uuid(path);
    return 0;
}
