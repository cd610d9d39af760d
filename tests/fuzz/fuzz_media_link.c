/* fuzz_media_link.c — the public signed media links (GET /media/{key*}?exp&sig, see
 * handlers/media.c): the route's {key*} parameter, the query, store_key_valid() and
 * store_check_link() (common/storage.c), then the path the answer hands nginx.
 *
 * The input is "path\nquery", as a client sends them. Besides, every key the store
 * accepts is signed with store_signed_url() and its own link must check out (and
 * stop doing so once expired). Time is fixed. */
#include <stdlib.h>

#include "fuzz.h"
#include "storage.h"

#define FUZZ_NOW 1800000000L

static const unsigned char SECRET[] = "fuzz-secret-for-reelvox/0123456789abcdefghijKLMN";

/* The value of name= in the query of url (arena copy), or NULL. */
static const char *url_param(arena *a, const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    for (const char *p = q; p; p = strchr(p + 1, '&'))
        if (!strncmp(p + 1, name, n) && p[1 + n] == '=')
            return arena_strndup(a, p + 2 + n, strcspn(p + 2 + n, "&"));
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        char why[128];
        unsetenv("RV_STORAGE");
        if (!store_init(SECRET, sizeof SECRET - 1, "/nonexistent", "https://x.test", why,
                        sizeof why))
            abort();
        ready = true;
    }
    arena *a = fuzz_arena();
    char *path;
    size_t rest;
    const uint8_t *p = fuzz_split(a, data, size, '\n', &path, &rest);
    char **env = arena_alloc(a, 3 * sizeof *env);
    env[0] = arena_printf(a, "QUERY_STRING=%s", fuzz_str(a, p, rest));
    env[1] = arena_printf(a, "DOCUMENT_URI=%s", path);
    rv_req *rq = fuzz_req(a, env);

    if (req_route_match(rq, "/media/{key*}", path)) {
        const char *key = req_path(rq, "key");
        if (store_check_link(key, req_query(rq, "exp"), req_query(rq, "sig"), FUZZ_NOW) &&
            (!store_key_valid(key) || strstr(key, "..") == key || strstr(key, "/../") ||
             strstr(key, "//")))
            abort(); /* a link that checks out names a key we could have made */
    }
    /* Round trip: any valid key, signed, checks out until it expires. */
    const char *key = fuzz_str(a, data, size);
    if (store_key_valid(key)) {
        const char *url = store_signed_url(a, key, 3600, FUZZ_NOW);
        const char *exp = url_param(a, url, "exp"), *sig = url_param(a, url, "sig");
        if (!store_check_link(key, exp, sig, FUZZ_NOW) ||
            store_check_link(key, exp, sig, FUZZ_NOW + 3601))
            abort();
    }
    return 0;
}
