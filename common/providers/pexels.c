/* Pexels: a stock photo per video section. See pexels.h. */
#include "pexels.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "log.h"

enum { SEARCH_TIMEOUT_MS = 15000, PHOTO_TIMEOUT_MS = 30000, SEARCH_MAX = 1 << 20 };

bool pexels_available(void)
{
    return config->pexels_key != NULL;
}

const char *pexels_orientation(const char *aspect)
{
    if (aspect && !strcmp(aspect, "9:16"))
        return "portrait";
    if (aspect && !strcmp(aspect, "1:1"))
        return "square";
    return "landscape";
}

char *pexels_search_url(arena *a, const char *base, const char *query, const char *orientation,
                        int per_page)
{
    char *q = curl_easy_escape(NULL, query, 0);
    if (!q)
        return NULL;
    size_t n = strlen(base);
    char *url =
        arena_printf(a, "%.*s/v1/search?query=%s&per_page=%d&orientation=%s",
                     (int)(n && base[n - 1] == '/' ? n - 1 : n), base, q, per_page, orientation);
    curl_free(q);
    return url;
}

static const char *text(arena *a, json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return *s && strlen(s) == (size_t)json_object_get_string_len(v) ? arena_strdup(a, s) : NULL;
}

static bool web_url(const char *s)
{
    return s && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7));
}

pexels_status pexels_pick(arena *a, const char *body, size_t pick, pexels_photo *out)
{
    json_object *root = body ? json_tokener_parse(body) : NULL, *photos = NULL, *src = NULL;
    pexels_status st = PEXELS_FAILED;
    if (!root || !json_object_object_get_ex(root, "photos", &photos) ||
        !json_object_is_type(photos, json_type_array))
        goto done;
    size_t n = json_object_array_length(photos);
    if (n == 0) {
        st = PEXELS_NONE;
        goto done;
    }
    json_object *p = json_object_array_get_idx(photos, pick % n);
    if (!json_object_object_get_ex(p, "src", &src))
        goto done;
    memset(out, 0, sizeof *out);
    out->image_url = text(a, src, "large");
    if (!out->image_url)
        out->image_url = text(a, src, "medium");
    if (!out->image_url)
        out->image_url = text(a, src, "original");
    out->photographer = text(a, p, "photographer");
    out->photographer_url = text(a, p, "photographer_url");
    out->page_url = text(a, p, "url");
    if (web_url(out->image_url) && out->photographer && web_url(out->photographer_url) &&
        web_url(out->page_url))
        st = PEXELS_OK;
done:
    json_object_put(root);
    return st;
}

bool pexels_may_ask(const pexels_limit *lim, long now)
{
    return lim->remaining != 0 || (lim->reset >= 0 && now >= lim->reset);
}

static void note_limit(pexels_limit *lim, const http_call *c)
{
    if (c->ratelimit_remaining >= 0)
        lim->remaining = c->ratelimit_remaining;
    if (c->ratelimit_reset >= 0)
        lim->reset = c->ratelimit_reset;
    if (c->status == 429)
        lim->remaining = 0;
    if (lim->remaining == 0 && lim->reset < 0) /* no reset said: ask no more in this run */
        lim->reset = (long)time(NULL) + 3600;
}

pexels_status pexels_fetch(arena *a, const char *query, const char *orientation, size_t pick,
                           size_t max_bytes, pexels_limit *lim, pexels_photo *out)
{
    if (!pexels_may_ask(lim, (long)time(NULL)))
        return PEXELS_LIMITED;
    char *url = pexels_search_url(a, config->pexels_url, query, orientation, 5);
    if (!url)
        return PEXELS_FAILED;
    http_call s = {.method = "GET",
                   .url = url,
                   .timeout_ms = SEARCH_TIMEOUT_MS,
                   .max_bytes = SEARCH_MAX,
                   .provider = "pexels"};
    s.headers[0] = arena_printf(a, "Authorization: %s", config->pexels_key);
    s.headers[1] = "Accept: application/json";
    http_run(a, &s, 1);
    note_limit(lim, &s);
    if (s.status == 429)
        return PEXELS_LIMITED;
    if (s.status != 200) {
        log_msg(LOG_WARN, "pexels: search answered %ld %s", s.status, s.error);
        return PEXELS_FAILED;
    }
    pexels_status st = pexels_pick(a, s.resp, pick, out);
    if (st != PEXELS_OK)
        return st;
    http_call d = {.method = "GET",
                   .url = out->image_url,
                   .timeout_ms = PHOTO_TIMEOUT_MS,
                   .max_bytes = max_bytes,
                   .untrusted = true,
                   .trusted_origin = config->pexels_url,
                   .provider = "pexels"};
    http_run(a, &d, 1);
    if (d.status != 200 || !d.resp_len) {
        log_msg(LOG_WARN, "pexels: photo download answered %ld %s", d.status, d.error);
        return PEXELS_FAILED;
    }
    out->bytes = (unsigned char *)d.resp;
    out->len = d.resp_len;
    return PEXELS_OK;
}
