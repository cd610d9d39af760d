/* mail: the message builder, encoded words, header injection, templates. */
#include "unit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "bind.h"
#include "mail.h"

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    *state = arena_new();
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

/* Decodes every "=?UTF-8?B?...?=" word of a header value (folds removed). */
static char *decode_words(arena *a, const char *v)
{
    char *out = arena_alloc(a, strlen(v) + 1);
    size_t o = 0;
    const char *p = v;
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
        p += 10;
        const char *end = strstr(p, "?=");
        assert_non_null(end);
        size_t bin_len;
        assert_int_equal(sodium_base642bin((unsigned char *)out + o, strlen(v) - o, p,
                                           (size_t)(end - p), NULL, &bin_len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        o += bin_len;
        p = end + 2;
    }
    out[o] = '\0';
    return out;
}

/* The header block of a message: lines up to the first empty one. */
static char *headers_of(arena *a, const char *msg)
{
    const char *end = strstr(msg, "\r\n\r\n");
    assert_non_null(end);
    return arena_strndup(a, msg, (size_t)(end - msg) + 2);
}

/* Whether some header line (not a continuation) starts with name. */
static bool has_header_line(const char *headers, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = headers; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
        if (!strncasecmp(p, name, n))
            return true;
    return false;
}

static void test_plain_header_kept(void **state)
{
    arena *a = *state;
    assert_string_equal(mail_encode_header(a, "Your receipt"), "Your receipt");
    assert_string_equal(mail_encode_header(a, ""), "");
}

static void test_encoded_words(void **state)
{
    arena *a = *state;
    static const char *cases[] = {
        "Olá, João — confirmação",
        "日本語のテキストはとても長いのでいくつかのエンコードされた単語に分割されます。",
        "emoji 🎙️🎬 in a subject that is quite long, long enough to need folding twice over",
        "=?UTF-8?B?not really encoded?=",
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *enc = mail_encode_header(a, cases[i]);
        assert_non_null(strstr(enc, "=?UTF-8?B?"));
        assert_string_equal(decode_words(a, enc), cases[i]);
        /* every word at most 75 characters, only folds between them */
        for (char *w = enc; w;) {
            char *next = strstr(w, "\r\n ");
            size_t len = next ? (size_t)(next - w) : strlen(w);
            assert_true(len <= 75);
            w = next ? next + 3 : NULL;
        }
        for (const char *p = enc; *p; p++)
            if (*p == '\r')
                assert_true(p[1] == '\n' && p[2] == ' ');
    }
}

static void test_split_between_characters(void **state)
{
    arena *a = *state;
    /* 40 × "é" (2 bytes): a split inside a character would not decode per word */
    char s[100];
    for (int i = 0; i < 40; i++)
        memcpy(s + 2 * i, "é", 2);
    s[80] = '\0';
    char *enc = mail_encode_header(a, s);
    for (char *w = enc; w;) {
        char *next = strstr(w, "\r\n ");
        char *one = arena_strndup(a, w, next ? (size_t)(next - w) : strlen(w));
        char *dec = decode_words(a, one);
        assert_true(bind_utf8_valid(dec, strlen(dec)));
        w = next ? next + 3 : NULL;
    }
    assert_string_equal(decode_words(a, enc), s);
}

static void test_header_injection_in_names(void **state)
{
    arena *a = *state;
    static const char *names[] = {
        "Eve\r\nBcc: victim@example.com", "Eve\nBcc: victim@example.com",
        "Eve\rBcc: victim@example.com",   "\r\n\r\nbody injection",
        "Eve\r\n Subject: continued",
    };
    for (size_t i = 0; i < N_ELEMS(names); i++) {
        mail_msg m = {.from_addr = "noreply@reelvox.test",
                      .from_name = "Reelvox",
                      .to_addr = "eve@example.com",
                      .to_name = names[i],
                      .subject = names[i],
                      .text = "t",
                      .html = "<p>h</p>",
                      .date = 1764618000,
                      .boundary = "b0"};
        char *msg = mail_build(a, &m);
        assert_non_null(msg);
        char *h = headers_of(a, msg);
        assert_false(has_header_line(h, "Bcc:"));
        assert_false(has_header_line(h, " Subject:"));
        /* exactly the headers we wrote, each once */
        int lines = 0;
        for (char *p = h; (p = strstr(p, "\r\n")) != NULL; p += 2)
            if (p[2] != ' ')
                lines++;
        assert_int_equal(lines, 7);
        /* no bare CR or LF anywhere in the headers */
        for (const char *p = h; *p; p++) {
            if (*p == '\r')
                assert_int_equal(p[1], '\n');
            if (*p == '\n')
                assert_true(p > h && p[-1] == '\r');
        }
    }
}

static void test_mailbox(void **state)
{
    arena *a = *state;
    assert_string_equal(mail_mailbox(a, "Ada Lovelace", "ada@x.test"), "Ada Lovelace <ada@x.test>");
    assert_string_equal(mail_mailbox(a, NULL, "ada@x.test"), "<ada@x.test>");
    assert_string_equal(mail_mailbox(a, "\r\n", "ada@x.test"), "<ada@x.test>");
    char *enc = mail_mailbox(a, "Ada, \"the\" <Countess>", "ada@x.test");
    assert_non_null(strstr(enc, "=?UTF-8?B?"));
    assert_null(strchr(arena_strndup(a, enc, (size_t)(strrchr(enc, '<') - enc)), '"'));
    assert_null(mail_mailbox(a, "x", "a@b.test>\r\nBcc: v@x.test"));
    static const char *bad[] = {"",      "no-at",      "a@",         "@b",         "a b@c.test",
                                "a@b@c", "a<b@c.test", "a@b.test\n", "a\"@b.test", "a,b@c.test"};
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        assert_false(mail_addr_ok(bad[i]));
    assert_false(mail_addr_ok(NULL));
    assert_true(mail_addr_ok("first.last+tag@sub.example.com"));
}

static void test_date(void **state)
{
    arena *a = *state;
    assert_string_equal(mail_date(a, 0), "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_string_equal(mail_date(a, 1764618000), "Mon, 01 Dec 2025 19:40:00 +0000");
}

static char *part_body(arena *a, const char *msg, const char *type)
{
    const char *p = strstr(msg, type);
    assert_non_null(p);
    p = strstr(p, "\r\n\r\n");
    assert_non_null(p);
    p += 4;
    const char *end = strstr(p, "--b1");
    assert_non_null(end);
    unsigned char *bin = arena_alloc(a, (size_t)(end - p) + 1);
    size_t n;
    assert_int_equal(sodium_base642bin(bin, (size_t)(end - p), p, (size_t)(end - p), "\r\n", &n,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    bin[n] = '\0';
    return (char *)bin;
}

static void test_build_structure(void **state)
{
    arena *a = *state;
    char text[400];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    mail_msg m = {.from_addr = "noreply@reelvox.test",
                  .from_name = "Reelvox",
                  .to_addr = "ana@example.com",
                  .to_name = "Ana Łukasiewicz",
                  .subject = "Hello",
                  .text = text,
                  .html = "<p>Olá</p>",
                  .date = 1764618000,
                  .boundary = "b1"};
    char *msg = mail_build(a, &m);
    assert_non_null(msg);
    char *h = headers_of(a, msg);
    assert_non_null(strstr(h, "Date: Mon, 01 Dec 2025 19:40:00 +0000\r\n"));
    assert_non_null(strstr(h, "From: Reelvox <noreply@reelvox.test>\r\n"));
    assert_non_null(strstr(h, "To: =?UTF-8?B?"));
    assert_non_null(strstr(h, "Subject: Hello\r\n"));
    assert_non_null(strstr(h, "MIME-Version: 1.0\r\n"));
    assert_non_null(strstr(h, "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"));
    const char *mid = strstr(h, "Message-ID: <");
    assert_non_null(mid);
    assert_non_null(strstr(mid, "@reelvox.test>\r\n"));
    assert_string_equal(part_body(a, msg, "text/plain; charset=UTF-8"), text);
    assert_string_equal(part_body(a, msg, "text/html; charset=UTF-8"), "<p>Olá</p>");
    assert_non_null(strstr(msg, "\r\n--b1--\r\n"));
    /* body lines within 78 characters */
    for (const char *p = msg; *p;) {
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        assert_true(e - p <= 78);
        p = e + 2;
    }
    /* a given Message-ID is kept */
    m.message_id = "<fixed@reelvox.test>";
    assert_non_null(strstr(mail_build(a, &m), "Message-ID: <fixed@reelvox.test>\r\n"));
    /* refused addresses and missing parts */
    m.to_addr = "x@y.test\r\nBcc: v@x.test";
    assert_null(mail_build(a, &m));
    m.to_addr = "ana@example.com";
    m.html = NULL;
    assert_null(mail_build(a, &m));
}

static void test_templates(void **state)
{
    arena *a = *state;
    const char *tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    json_object *d = json_tokener_parse(arena_printf(a, "{\"token\":\"%s\"}", tok));
    mail_content mc;
    assert_true(mail_render(a, "verify", "<b>Ana</b> & co", d, "https://app.test", &mc));
    assert_non_null(strstr(mc.text, arena_printf(a, "https://app.test/verify?token=%s", tok)));
    assert_non_null(
        strstr(mc.html, arena_printf(a, "href=\"https://app.test/verify?token=%s\"", tok)));
    assert_non_null(strstr(mc.html, "&lt;b&gt;Ana&lt;/b&gt; &amp; co"));
    assert_null(strstr(mc.html, "<b>Ana"));
    assert_true(mail_render(a, "reset", "", d, "https://app.test", &mc));
    assert_non_null(strstr(mc.text, arena_printf(a, "https://app.test/reset?token=%s", tok)));
    json_object_put(d);

    d = json_tokener_parse("{\"token\":\"abc\\\"><script>\"}");
    assert_false(mail_render(a, "verify", "x", d, "https://app.test", &mc));
    json_object_put(d);

    d = json_tokener_parse("{\"credits\":500,\"amountCents\":1299,\"currency\":\"EUR\","
                           "\"packName\":\"<Pro>\",\"paymentId\":\"p-1\"}");
    assert_true(mail_render(a, "receipt", "Ana", d, "https://app.test", &mc));
    assert_non_null(strstr(mc.subject, "500 credits"));
    assert_non_null(strstr(mc.text, "12.99 EUR"));
    assert_non_null(strstr(mc.html, "&lt;Pro&gt;"));
    assert_false(mail_render(a, "nope", "Ana", d, "https://app.test", &mc));
    json_object_put(d);
    d = json_tokener_parse("{\"credits\":\"500\"}");
    assert_false(mail_render(a, "receipt", "Ana", d, "https://app.test", &mc));
    json_object_put(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_header_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_between_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_injection_in_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mailbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
