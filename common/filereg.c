#include "filereg.h"

#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "storage.h"

static const db_stmt pending = {"SELECT rv_storage_pending($1::text[])", 1};
static const db_stmt release = {"SELECT rv_storage_release($1)", 1};
static const db_stmt done = {"SELECT rv_storage_done($1::text[])", 1};
static const db_stmt sweep = {"SELECT key FROM rv_storage_sweep($1, $2)", 2};

/* keys as a text[] literal. Keys are store_key_valid: no quotes or backslashes. */
static const char *array_of(arena *a, const char *const *keys, size_t n)
{
    char *s = arena_strdup(a, "{");
    for (size_t i = 0; i < n; i++)
        s = arena_printf(a, "%s%s\"%s\"", s, i ? "," : "", keys[i]);
    return arena_printf(a, "%s}", s);
}

rv_err filereg_register(rv_req *rq, const char *const *keys, size_t n)
{
    if (n == 0)
        return RV_OK;
    for (size_t i = 0; i < n; i++)
        if (!store_key_valid(keys[i]))
            return RV_E_INTERNAL;
    const char *p[] = {array_of(rq->a, keys, n)};
    return db_query(rq, &pending, p, NULL);
}

void filereg_drop(rv_req *rq, const char *key)
{
    PGresult *r;
    const char *p[] = {key};
    if (db_query(rq, &release, p, &r) != RV_OK) {
        log_msg(LOG_WARN, "stored file %s: no answer whether it is used; left for the sweeper",
                key);
        return;
    }
    if (strcmp(db_get(r, 0, 0), "delete"))
        return; /* a row refers to it */
    if (store_delete(rq->a, key) != RV_OK)
        return; /* marked: the sweeper tries again */
    const char *pd[] = {array_of(rq->a, &key, 1)};
    (void)db_query(rq, &done, pd, NULL);
}

int filereg_sweep(rv_req *rq, long grace_s, int limit)
{
    int removed = store_sweep_temps(rq->a, grace_s, time(NULL));
    PGresult *r;
    const char *p[] = {arena_printf(rq->a, "%ld", grace_s), arena_printf(rq->a, "%d", limit)};
    if (db_query(rq, &sweep, p, &r) != RV_OK)
        return removed;
    int n = PQntuples(r), gone = 0;
    const char **keys = arena_alloc(rq->a, (size_t)(n ? n : 1) * sizeof *keys);
    for (int i = 0; i < n; i++)
        if (store_delete(rq->a, db_get(r, i, 0)) == RV_OK)
            keys[gone++] = db_get(r, i, 0);
    if (gone) {
        const char *pd[] = {array_of(rq->a, keys, (size_t)gone)};
        (void)db_query(rq, &done, pd, NULL);
        log_msg(LOG_INFO, "sweeper: %d stored files no row refers to removed", gone);
    }
    return removed + gone;
}
