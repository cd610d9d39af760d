/* mail_templates.c — the words of each mail (mail.h: mail_render). */
#include <inttypes.h>
#include <string.h>

#include "mail.h"

static char *html_escape(arena *a, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
    char *out = arena_alloc(a, n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        const char *rep = *p == '&'    ? "&amp;"
                          : *p == '<'  ? "&lt;"
                          : *p == '>'  ? "&gt;"
                          : *p == '"'  ? "&quot;"
                          : *p == '\'' ? "&#39;"
                                       : NULL;
        if (rep) {
            memcpy(o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static const char *str_of(json_object *data, const char *key)
{
    json_object *v;
    if (!data || !json_object_object_get_ex(data, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool int_of(json_object *data, const char *key, int64_t *out)
{
    json_object *v;
    if (!data || !json_object_object_get_ex(data, key, &v) ||
        !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

/* A token goes into a URL as it is only when it is the hex the database makes. */
static bool token_ok(const char *t)
{
    if (!t || strlen(t) < 32 || strlen(t) > 128)
        return false;
    return strspn(t, "0123456789abcdef") == strlen(t);
}

static const char *html_page(arena *a, const char *greeting, const char *body_html)
{
    return arena_printf(a,
                        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">"
                        "<p>%s</p>%s<p>— Reelvox</p></body></html>",
                        greeting, body_html);
}

static bool link_mail(arena *a, const char *who, json_object *data, const char *public_url,
                      const char *path, mail_content *out, bool verify)
{
    const char *token = str_of(data, "token");
    if (!token_ok(token))
        return false;
    const char *link = arena_printf(a, "%s/%s?token=%s", public_url, path, token);
    const char *hi = arena_printf(a, "Hello%s%s,", *who ? " " : "", who);
    const char *hi_html = arena_printf(a, "Hello%s%s,", *who ? " " : "", html_escape(a, who));
    if (verify) {
        out->subject = "Confirm your email for Reelvox";
        out->text = arena_printf(a,
                                 "%s\r\n\r\nPlease confirm your email address by opening this "
                                 "link:\r\n\r\n%s\r\n\r\nThe link works once and expires in "
                                 "48 hours. If you did not sign up, ignore this mail.\r\n\r\n"
                                 "- Reelvox\r\n",
                                 hi, link);
        out->html = html_page(a, hi_html,
                              arena_printf(a,
                                           "<p>Please confirm your email address:</p>"
                                           "<p><a href=\"%s\">Confirm my email</a></p>"
                                           "<p>The link works once and expires in 48 hours. "
                                           "If you did not sign up, ignore this mail.</p>",
                                           link));
    } else {
        out->subject = "Reset your Reelvox password";
        out->text = arena_printf(a,
                                 "%s\r\n\r\nSomeone asked to reset the password of your "
                                 "account. To choose a new one, open this link:\r\n\r\n%s\r\n\r\n"
                                 "The link works once and expires in one hour; every session "
                                 "of your account ends when it is used. If you did not ask, "
                                 "ignore this mail.\r\n\r\n- Reelvox\r\n",
                                 hi, link);
        out->html = html_page(a, hi_html,
                              arena_printf(a,
                                           "<p>Someone asked to reset the password of your "
                                           "account.</p><p><a href=\"%s\">Choose a new "
                                           "password</a></p><p>The link works once and expires "
                                           "in one hour. If you did not ask, ignore this "
                                           "mail.</p>",
                                           link));
    }
    return true;
}

static bool receipt_mail(arena *a, const char *who, json_object *data, mail_content *out)
{
    int64_t credits, cents;
    const char *currency = str_of(data, "currency"), *pack = str_of(data, "packName");
    const char *payment = str_of(data, "paymentId");
    if (!int_of(data, "credits", &credits) || !int_of(data, "amountCents", &cents) || !currency ||
        strlen(currency) > 8 || cents < 0)
        return false;
    const char *amount =
        arena_printf(a, "%" PRId64 ".%02" PRId64 " %s", cents / 100, cents % 100, currency);
    const char *what = pack ? pack : "Credits";
    const char *hi = arena_printf(a, "Hello%s%s,", *who ? " " : "", who);
    out->subject = arena_printf(a, "Your Reelvox receipt: %" PRId64 " credits", credits);
    out->text = arena_printf(a,
                             "%s\r\n\r\nThank you for your purchase.\r\n\r\n  %s: %" PRId64
                             " credits\r\n  Paid: %s\r\n%s%s%s\r\nThe credits are in your "
                             "balance now.\r\n\r\n- Reelvox\r\n",
                             hi, what, credits, amount, payment ? "  Payment: " : "",
                             payment ? payment : "", payment ? "\r\n" : "");
    out->html = html_page(a, arena_printf(a, "Hello%s%s,", *who ? " " : "", html_escape(a, who)),
                          arena_printf(a,
                                       "<p>Thank you for your purchase.</p><table>"
                                       "<tr><td>%s</td><td>%" PRId64 " credits</td></tr>"
                                       "<tr><td>Paid</td><td>%s</td></tr>%s%s%s</table>"
                                       "<p>The credits are in your balance now.</p>",
                                       html_escape(a, what), credits, html_escape(a, amount),
                                       payment ? "<tr><td>Payment</td><td>" : "",
                                       payment ? html_escape(a, payment) : "",
                                       payment ? "</td></tr>" : ""));
    return true;
}

bool mail_render(arena *a, const char *template_name, const char *name, json_object *data,
                 const char *public_url, mail_content *out)
{
    const char *who = name ? name : "";
    if (!strcmp(template_name, "verify"))
        return link_mail(a, who, data, public_url, "verify", out, true);
    if (!strcmp(template_name, "reset"))
        return link_mail(a, who, data, public_url, "reset", out, false);
    if (!strcmp(template_name, "receipt"))
        return receipt_mail(a, who, data, out);
    return false;
}
