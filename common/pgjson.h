/* pgjson.h — text from outside made fit for PostgreSQL (jsonb and text columns).
 *
 * RFC 8259 and json-c accept JSON that jsonb refuses: the escape \u0000 and a
 * \uD800..\uDFFF escape that is not one half of a surrogate pair ("\ud800" alone).
 * Handed to a $n::jsonb parameter, such text makes the statement fail, and a
 * handler answer 500. Provider payloads are untrusted: they are cleaned here before
 * they reach the database. A text column takes no NUL and no invalid UTF-8 either. */
#ifndef RV_PGJSON_H
#define RV_PGJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

/* Copies the JSON text s[0..n) into the arena (*out, NUL-terminated, same length)
 * with every \u0000 and every unpaired surrogate escape replaced by \ufffd, the
 * replacement character. Returns how many escapes were replaced, or -1 (and *out
 * NULL) when the text is no JSON jsonb could take whatever the escapes: a NUL byte,
 * invalid UTF-8, or a backslash escape cut short. Other JSON syntax is not checked
 * (bind_parse does that). */
int pgjson_clean(arena *a, const char *s, size_t n, char **out);

/* Whether the JSON text s[0..n) goes into jsonb as it is (pgjson_clean would
 * replace nothing and not fail). */
bool pgjson_ok(const char *s, size_t n);

/* A copy of the string s for a text column or a JSON string: invalid UTF-8
 * sequences replaced by U+FFFD, cut (on a character boundary) to at most max_bytes
 * bytes. NULL gives NULL. */
char *pgjson_text(arena *a, const char *s, size_t max_bytes);

#endif
