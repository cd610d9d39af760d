/* mail.h — building the mails Reelvox sends (RFC 5322, MIME), and their templates.
 *
 * A message is multipart/alternative with a text/plain and a text/html part, each
 * UTF-8 in base64, CRLF line ends, with Date, Message-ID, From, To, Subject and
 * MIME-Version. Every header value that comes from a user (a display name) or is
 * not plain ASCII (a subject) is written as RFC 2047 encoded words: a CR, LF or any
 * other control character in it becomes a space first, so no user text can end a
 * header line or start another one. Addresses are never encoded: one with a
 * control character, a space, '<', '>', '"', ',' or no '@' is refused.
 *
 * Everything returned is owned by the arena. */
#ifndef RV_MAIL_H
#define RV_MAIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <time.h>

#include "arena.h"

typedef struct mail_msg {
    const char *from_addr, *from_name; /* name: NULL or "" for none */
    const char *to_addr, *to_name;
    const char *subject;     /* UTF-8 */
    const char *text, *html; /* UTF-8 bodies, both required */
    const char *message_id;  /* "<id@domain>"; NULL: a random one under from_addr's domain */
    time_t date;             /* 0: now */
    const char *boundary;    /* NULL: a random one (tests fix it) */
} mail_msg;

/* The whole message, ready for SMTP DATA (no dot-stuffing: libcurl does it); NULL
 * when an address is refused (mail_addr_ok) or a body is missing. */
char *mail_build(arena *a, const mail_msg *m);

/* Whether addr can stand in a header and an SMTP envelope as it is. */
bool mail_addr_ok(const char *addr);

/* A header value from user text: s as is when it is printable ASCII without
 * "=?" and at most 60 characters, else RFC 2047 "=?UTF-8?B?...?=" words of at most
 * 75 characters each, split between characters (never inside one), folded with
 * CRLF SP. Control characters become spaces first; invalid UTF-8 bytes become '?'. */
char *mail_encode_header(arena *a, const char *s);

/* "name <addr>" with the name as encoded words when it needs to be (a name of
 * anything but letters, digits, spaces and "!#$%&'*+-/=?^_`{|}~" is encoded); just
 * "<addr>" without a name. NULL when addr is refused. */
char *mail_mailbox(arena *a, const char *name, const char *addr);

/* RFC 5322 date of t in UTC: "Tue, 01 Dec 2026 19:40:00 +0000". */
char *mail_date(arena *a, time_t t);

/* A rendered template. */
typedef struct mail_content {
    const char *subject, *text, *html;
} mail_content;

/* Renders template ("verify", "reset", "receipt") for a user named name (may be
 * empty) with data (verify/reset: {token}; receipt: {credits, amountCents,
 * currency, packName?, paymentId?}); links are under public_url. Every value from
 * data or the name is HTML-escaped in the html part. Returns false for an unknown
 * template or data it needs that is missing. */
bool mail_render(arena *a, const char *template_name, const char *name, json_object *data,
                 const char *public_url, mail_content *out);

#endif
