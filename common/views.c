#include "views.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "resp.h"
#include "storage.h"

/* The slow path: parse, set holder.field (holder NULL: the top level), print. */
static const char *rebuild(rv_req *rq, const char *json, const char *holder, const char *field,
                           const char *url)
{
    json_object *obj = json_tokener_parse(json), *target = obj;
    if (!obj)
        return json;
    req_keep(rq, obj);
    if (holder && !json_object_object_get_ex(obj, holder, &target))
        return json;
    if (!json_object_is_type(target, json_type_object))
        return json;
    json_object_object_add(target, field, json_object_new_string(url));
    return arena_strdup(rq->a, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
}

/* Inserts `, "field": "url"` before the last `closers` characters of json when
 * they are all '}' (so the member lands in the innermost object that ends the
 * text). Signed URLs hold only URL-safe characters and the configured base: no
 * escaping needed. */
static const char *with_link(rv_req *rq, const char *json, const char *storage_key,
                             const char *holder, const char *field, size_t closers)
{
    if (!json || !storage_key)
        return json;
    const char *url = store_signed_url(rq->a, storage_key, STORE_URL_TTL, time(NULL));
    size_t n = strlen(json);
    bool fits = n > closers + 1;
    for (size_t i = 0; fits && i < closers; i++)
        fits = json[n - 1 - i] == '}';
    if (!fits || json[n - closers - 1] == '{')
        return rebuild(rq, json, holder, field, url);
    const char *parts[] = {arena_strndup(rq->a, json, n - closers),
                           ", \"",
                           field,
                           "\" : \"",
                           url,
                           "\"",
                           json + n - closers};
    return arena_join(rq->a, parts, sizeof parts / sizeof parts[0]);
}

const char *views_job(rv_req *rq, const char *json, const char *storage_key)
{
    return with_link(rq, json, storage_key, "result", "url", 2);
}

const char *views_audio(rv_req *rq, const char *json, const char *storage_key)
{
    return with_link(rq, json, storage_key, NULL, "url", 1);
}

const char *views_voice(rv_req *rq, const char *json, const char *storage_key)
{
    return with_link(rq, json, storage_key, NULL, "previewUrl", 1);
}

const views_link views_job_links[2] = {{"result", "url"}, {"result", "posterUrl"}};
const views_link views_clip_links[2] = {{NULL, "url"}, {NULL, "posterUrl"}};

const char *views_links(rv_req *rq, const char *json, const views_link *links,
                        const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json =
            with_link(rq, json, keys[i], links[i].holder, links[i].field, links[i].holder ? 2 : 1);
    return json;
}

/* The item of row i: through view, or with links from n key columns. */
static const char *item_of(rv_req *rq, const PGresult *r, int i, int json_col, int key_col,
                           views_fn view, const views_link *links, size_t n)
{
    if (view)
        return view(rq, db_get(r, i, json_col), db_get(r, i, key_col));
    const char **keys = arena_alloc(rq->a, (n + 1) * sizeof *keys);
    for (size_t k = 0; k < n; k++)
        keys[k] = db_get(r, i, key_col + (int)k);
    return views_links(rq, db_get(r, i, json_col), links, keys, n);
}

static rv_err list_of(rv_req *rq, const PGresult *r, int json_col, int key_col, views_fn view,
                      const views_link *links, size_t n_links, long page, long limit, long total)
{
    int rows = PQntuples(r);
    const char **items = arena_alloc(rq->a, (size_t)(rows + 1) * sizeof *items);
    size_t len = 64;
    int n = 0;
    for (int i = 0; i < rows; i++) {
        const char *item = item_of(rq, r, i, json_col, key_col, view, links, n_links);
        if (item) {
            items[n++] = item;
            len += strlen(item) + 1;
        }
    }
    json_object *pg = req_keep(rq, resp_pagination(page, limit, total));
    const char *pagination = json_object_to_json_string_ext(pg, JSON_C_TO_STRING_PLAIN);
    char *body = arena_alloc(rq->a, len + strlen(pagination) + 32), *p = body;
    memcpy(p, "{\"items\":[", 10);
    p += 10;
    for (int i = 0; i < n; i++) {
        size_t m = strlen(items[i]);
        if (i)
            *p++ = ',';
        memcpy(p, items[i], m);
        p += m;
    }
    memcpy(p, "],\"pagination\":", 15);
    p += 15;
    size_t m = strlen(pagination);
    memcpy(p, pagination, m);
    p += m;
    *p++ = '}';
    *p = '\0';
    return resp_json(rq, 200, body);
}

rv_err views_list(rv_req *rq, const PGresult *r, int json_col, int key_col, views_fn view,
                  long page, long limit, long total)
{
    return list_of(rq, r, json_col, key_col, view, NULL, 0, page, limit, total);
}

rv_err views_list_links(rv_req *rq, const PGresult *r, int json_col, int key_col,
                        const views_link *links, size_t n, long page, long limit, long total)
{
    return list_of(rq, r, json_col, key_col, NULL, links, n, page, limit, total);
}

static rv_err page_of(rv_req *rq, const db_stmt *st, const char *extra, views_fn view,
                      const views_link *links, size_t n)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {rq->user_id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit), extra};
    PGresult *r;
    if ((er = db_query(rq, st, p, &r)) != RV_OK)
        return er;
    return list_of(rq, r, 1, 2, view, links, n, page, limit, db_get_long(r, 0, 0));
}

rv_err views_page(rv_req *rq, const db_stmt *st, views_fn view)
{
    return page_of(rq, st, NULL, view, NULL, 0);
}

rv_err views_page_links(rv_req *rq, const db_stmt *st, const char *extra, const views_link *links,
                        size_t n)
{
    return page_of(rq, st, extra, NULL, links, n);
}
