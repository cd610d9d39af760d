/* fuzz_fcgi.c — the FastCGI record layer (common/fcgi.c) on bytes from the socket,
 * fed in pieces whose sizes the first byte picks, answering every request that
 * completes as the serve loop does. Checks: the kept body never exceeds its limit,
 * every parameter is NAME=value, and what the layer writes is well-framed records. */
#include <stdlib.h>

#include "fcgi.h"
#include "fuzz.h"

static void check_output(const fcgi_conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        const unsigned char *h = c->out + off;
        if (c->out_len - off < 8 || h[0] != 1)
            abort();
        size_t len = (size_t)h[4] << 8 | h[5];
        off += 8 + len + h[6];
    }
    if (off != c->out_len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    arena *a = fuzz_arena();
    size_t step = (size_t)data[0] % 64 + 1, limit = (size_t)(data[0] >> 6) * 16;
    data++;
    size--;
    fcgi_conn c;
    fcgi_init(&c, limit);
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (!fcgi_feed(&c, data + off, n))
            break;
        fcgi_status st;
        while ((st = fcgi_parse(&c)) == FCGI_READY) {
            if (c.body_len > limit || c.body_len > c.body_seen)
                abort();
            char **env = fcgi_env(&c, a);
            for (char **e = env; *e; e++)
                if (!strchr(*e, '='))
                    abort();
            fcgi_respond(&c, "Status: 204 No Content\r\n\r\n", 26);
            check_output(&c);
            fcgi_sent(&c, c.out_len);
        }
        check_output(&c);
        fcgi_sent(&c, c.out_len);
        if (st == FCGI_BAD || c.close_after)
            break;
    }
    fcgi_free(&c);
    return 0;
}
