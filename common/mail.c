#include "mail.h"

#include <sodium.h>
#include <string.h>

#include "bind.h"

/* ------------------------------------------------------------- encodings */

static char *base64(arena *a, const unsigned char *s, size_t n)
{
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = arena_alloc(a, len);
    sodium_bin2base64(out, len, s, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* A body part: base64 in lines of 76 characters (RFC 2045). */
static char *base64_lines(arena *a, const char *s)
{
    const char *b = base64(a, (const unsigned char *)s, strlen(s));
    size_t n = strlen(b), lines = n / 76 + 1;
    char *out = arena_alloc(a, n + 2 * lines + 1), *o = out;
    for (size_t i = 0; i < n; i += 76) {
        size_t k = n - i < 76 ? n - i : 76;
        memcpy(o, b + i, k);
        o += k;
        *o++ = '\r';
        *o++ = '\n';
    }
    *o = '\0';
    return out;
}

/* Length of the UTF-8 character at s (1..4), 0 when s does not start a valid one. */
static size_t utf8_char(const unsigned char *s, size_t left)
{
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xE0) == 0xC0 ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || n > left)
        return 0;
    return bind_utf8_valid((const char *)s, n) ? n : 0;
}

/* s with control characters as spaces and invalid UTF-8 as '?'. */
static char *clean_text(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = arena_alloc(a, n + 1);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t k = utf8_char(u + i, n - i);
        if (k == 0) {
            out[o++] = '?';
            i++;
        } else if (k == 1 && (u[i] < 0x20 || u[i] == 0x7F)) {
            out[o++] = ' ';
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    return out;
}

static bool plain_ascii(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max || strstr(s, "=?"))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return false;
    return true;
}

/* Encoded words of at most 45 bytes of text each (60 of base64, 72 with the frame). */
static char *encoded_words(arena *a, const char *s)
{
    size_t n = strlen(s), i = 0;
    char *out = arena_strdup(a, "");
    while (i < n || i == 0) {
        size_t j = i;
        while (j < n) {
            size_t k = utf8_char((const unsigned char *)s + j, n - j);
            if (j + k - i > 45)
                break;
            j += k;
        }
        const char *b = base64(a, (const unsigned char *)s + i, j - i);
        out = arena_printf(a, "%s%s=?UTF-8?B?%s?=", out, i ? "\r\n " : "", b);
        if (j == n)
            break;
        i = j;
    }
    return out;
}

char *mail_encode_header(arena *a, const char *s)
{
    char *c = clean_text(a, s ? s : "");
    return plain_ascii(c, 60) ? c : encoded_words(a, c);
}

bool mail_addr_ok(const char *addr)
{
    if (!addr)
        return false;
    size_t n = strlen(addr);
    const char *at = strchr(addr, '@');
    if (n < 3 || n > 254 || !at || at == addr || !at[1] || strchr(at + 1, '@'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)addr[i];
        if (ch <= 0x20 || ch >= 0x7F || strchr("<>\",;()[]\\", ch))
            return false;
    }
    return true;
}

static bool atext_phrase(const char *s)
{
    if (!*s || strlen(s) > 60)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(" !#$%&'*+-/=?^_`{|}~", *p)))
            return false;
    return !strstr(s, "=?");
}

char *mail_mailbox(arena *a, const char *name, const char *addr)
{
    if (!mail_addr_ok(addr))
        return NULL;
    char *c = clean_text(a, name ? name : "");
    size_t n = strlen(c);
    while (n && c[n - 1] == ' ') /* a name that was only line breaks is none */
        c[--n] = '\0';
    while (*c == ' ')
        c++;
    if (!*c)
        return arena_printf(a, "<%s>", addr);
    return arena_printf(a, "%s <%s>", atext_phrase(c) ? c : encoded_words(a, c), addr);
}

char *mail_date(arena *a, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    return arena_printf(a, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                        months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *random_hex(arena *a, size_t bytes)
{
    unsigned char buf[32];
    char *hex = arena_alloc(a, 2 * bytes + 1);
    randombytes_buf(buf, bytes);
    sodium_bin2hex(hex, 2 * bytes + 1, buf, bytes);
    return hex;
}

char *mail_build(arena *a, const mail_msg *m)
{
    const char *from = mail_mailbox(a, m->from_name, m->from_addr);
    const char *to = mail_mailbox(a, m->to_name, m->to_addr);
    if (!from || !to || !m->text || !m->html)
        return NULL;
    const char *mid = m->message_id;
    if (!mid)
        mid = arena_printf(a, "<%s%s>", random_hex(a, 16), strchr(m->from_addr, '@'));
    const char *boundary = m->boundary ? m->boundary : arena_printf(a, "rv-%s", random_hex(a, 12));
    return arena_printf(a,
                        "Date: %s\r\n"
                        "From: %s\r\n"
                        "To: %s\r\n"
                        "Subject: %s\r\n"
                        "Message-ID: %s\r\n"
                        "MIME-Version: 1.0\r\n"
                        "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
                        "\r\n"
                        "--%s\r\n"
                        "Content-Type: text/plain; charset=UTF-8\r\n"
                        "Content-Transfer-Encoding: base64\r\n"
                        "\r\n"
                        "%s"
                        "--%s\r\n"
                        "Content-Type: text/html; charset=UTF-8\r\n"
                        "Content-Transfer-Encoding: base64\r\n"
                        "\r\n"
                        "%s"
                        "--%s--\r\n",
                        mail_date(a, m->date ? m->date : time(NULL)), from, to,
                        mail_encode_header(a, m->subject), mid, boundary, boundary,
                        base64_lines(a, m->text), boundary, base64_lines(a, m->html), boundary);
}
