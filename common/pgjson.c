#include "pgjson.h"

#include <string.h>
#include <unistr.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the escape "\uXXXX" at s[i] (s[i] is the backslash), or -1 when
 * s[i..] is not one. */
static long unit_at(const unsigned char *s, size_t n, size_t i)
{
    if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hexval(s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Replaces, in o (a copy of s, or NULL to only count), what jsonb refuses; see
 * pgjson_clean. */
static int scan(const unsigned char *s, size_t n, char *o)
{
    if (memchr(s, '\0', n) || u8_check(s, n) != NULL)
        return -1;
    int replaced = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\')
            continue;
        if (i + 1 == n)
            return -1;
        if (s[i + 1] != 'u') {
            i++; /* "\\", "\"" and the others: the next byte is taken */
            continue;
        }
        long u = unit_at(s, n, i);
        if (u < 0)
            return -1;
        size_t len = 6;
        bool bad = u == 0 || (u >= 0xDC00 && u <= 0xDFFF);
        if (u >= 0xD800 && u <= 0xDBFF) {
            long low = unit_at(s, n, i + 6);
            if (low >= 0xDC00 && low <= 0xDFFF)
                len = 12; /* a pair: one character */
            else
                bad = true;
        }
        if (bad) {
            if (o)
                memcpy(o + i, "\\ufffd", 6);
            replaced++;
        }
        i += len - 1;
    }
    return replaced;
}

int pgjson_clean(arena *a, const char *s, size_t n, char **out)
{
    *out = NULL;
    if (!s)
        return -1;
    char *o = arena_alloc(a, n + 1);
    memcpy(o, s, n);
    int replaced = scan((const unsigned char *)s, n, o);
    if (replaced >= 0)
        *out = o;
    return replaced;
}

bool pgjson_ok(const char *s, size_t n)
{
    return s && scan((const unsigned char *)s, n, NULL) == 0;
}

char *pgjson_text(arena *a, const char *s, size_t max_bytes)
{
    if (!s)
        return NULL;
    size_t n = strlen(s), k = 0;
    /* At worst every byte becomes a 3-byte U+FFFD. */
    char *o = arena_alloc(a, (n < max_bytes ? n : max_bytes) * 3 + 1);
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        ucs4_t c;
        int len = u8_mbtoucr(&c, p + i, n - i);
        const char *bytes = (const char *)p + i;
        size_t m = (size_t)len;
        if (len <= 0) {
            bytes = "\xEF\xBF\xBD";
            m = 3;
            len = 1;
        }
        if (k + m > max_bytes)
            break;
        memcpy(o + k, bytes, m);
        k += m;
        i += (size_t)len;
    }
    o[k] = '\0';
    return o;
}
