/* GET|POST /api/api-keys — authenticated. The caller's own provider keys.
 *
 * GET ?page&limit: 200 {items: [{id, service, last4, isActive, createdAt}], pagination}
 * (every service the caller has a key for, by service; never more of a key than its
 * last 4).
 * POST {service (replicate|runway|openai), key (8..2048 visible ASCII)}: the key is
 * checked with its provider first (its cheapest authenticated call), then stored
 * encrypted (keybox.h) in place of the caller's earlier key for that service:
 * 201 {id, service, last4, isActive, createdAt}. 400 (unknown service, bad key
 * shape), 401, 405, 413, 415, 422 unprocessable (the provider refused the key),
 * 503 provider_unavailable (the provider did not answer; own keys not configured
 * here: no RV_KEY_ENCRYPTION_KEYS) | unavailable. The key never reaches a log.
 *
 * Jobs of the caller whose provider they have an active key for run on it and cost
 * admin_config.own_key_fee (0) instead of their price (rv_submit). */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "db.h"
#include "keybox.h"
#include "provider_keys.h"
#include "resp.h"
#include "serve.h"

static const char *const services[] = {"replicate", "runway", "openai", NULL};

typedef struct {
    const char *service, *key;
} key_input;

static const char *visible_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e)
            return "must be visible ASCII characters";
    return NULL;
}

static const bind_field fields[] = {
    {.name = "service",
     .type = BIND_STRING,
     .offset = offsetof(key_input, service),
     .required = true,
     .one_of = services},
    {.name = "key",
     .type = BIND_STRING,
     .offset = offsetof(key_input, key),
     .required = true,
     .min = 8,
     .max = 2048,
     .check = visible_ascii,
     .message = "must be 8 to 2048 characters"},
};

static const db_stmt list_keys = {
    "SELECT (SELECT count(*) FROM api_keys WHERE user_id = $1),"
    "       COALESCE((SELECT json_agg(json_build_object('id', k.id, 'service', k.service,"
    "                   'last4', k.last4, 'isActive', k.is_active,"
    "                   'createdAt', rv_ts(k.created_at)) ORDER BY k.service)"
    "                  FROM (SELECT id, service, last4, is_active, created_at"
    "                          FROM api_keys WHERE user_id = $1"
    "                         ORDER BY service LIMIT $2 OFFSET $3) k), '[]')",
    3};
static const db_stmt put_key = {"SELECT rv_api_key_put($1, $2, $3::bytea, $4::bytea, $5)", 5};

static rv_err list(rv_req *rq)
{
    long page, limit;
    rv_err er = req_page(rq, &page, &limit);
    if (er != RV_OK)
        return er;
    const char *p[] = {rq->user_id, arena_printf(rq->a, "%ld", limit),
                       arena_printf(rq->a, "%ld", (page - 1) * limit)};
    PGresult *r;
    if ((er = db_query(rq, &list_keys, p, &r)) != RV_OK)
        return er;
    return resp_list(rq, page, limit, db_get_long(r, 0, 0), db_get(r, 0, 1));
}

static rv_err add(rv_req *rq)
{
    key_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    if (!keybox_ready())
        return req_fail(rq, RV_E_PROVIDER_UNAVAILABLE, "own provider keys are not enabled here");
    switch (provkey_validate(rq->a, in.service, in.key)) {
    case PROVKEY_VALID:
        break;
    case PROVKEY_REJECTED:
        return req_fail(rq, RV_E_UNPROCESSABLE, "the provider refused this key");
    case PROVKEY_UNREACHABLE:
        return req_fail(rq, RV_E_PROVIDER_UNAVAILABLE,
                        "the provider could not check this key now; try again");
    }
    const char *key_id, *nonce, *ct;
    const char *bound = arena_printf(rq->a, "%s/%s", rq->user_id, in.service);
    if (!keybox_seal(rq->a, bound, in.key, &key_id, &nonce, &ct))
        return RV_E_INTERNAL;
    size_t n = strlen(in.key);
    const char *p[] = {in.service, key_id, nonce, ct, in.key + (n > 4 ? n - 4 : 0)};
    PGresult *r;
    if ((er = db_query(rq, &put_key, p, &r)) != RV_OK)
        return er;
    return resp_json(rq, 201, db_get(r, 0, 0));
}

static rv_err api_keys(rv_req *rq)
{
    return rq->method_bit == RV_POST ? add(rq) : list(rq);
}

static const rv_endpoint endpoint = {
    .name = "api_keys",
    .route = "/api/api-keys",
    .methods = RV_GET | RV_POST,
    .flags = RV_AUTH | RV_SOLO, /* POST waits on the provider */
    .body_limit = 8 * 1024,
    .handle = api_keys,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}
