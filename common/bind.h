/* bind.h — strict JSON input bound into a typed struct through a field table.
 *
 * A handler declares its input as a struct and a table of bind_field rows; one call
 * parses the body (strict JSON, valid UTF-8, depth limit, no NUL in strings, object
 * at the top, unknown fields rejected) and fills the struct, or answers 400 with
 * every invalid field listed. Strings point into json-c memory owned by the arena. */
#ifndef RV_BIND_H
#define RV_BIND_H

#include <stdbool.h>
#include <stddef.h>

#include "req.h"

/* BIND_RAW: any JSON value (json_object *, borrowed from the parsed body), for a
 * caller that checks a nested member itself. */
typedef enum {
    BIND_STRING,
    BIND_INT,
    BIND_NUMBER,
    BIND_BOOL,
    BIND_UUID_ARRAY, /* an array of min..max UUID strings; slot: json_object * (arena) */
    BIND_STRINGS,    /* an array of min..max strings; slot: bind_strings */
    BIND_RAW,
} bind_type;

/* A BIND_STRINGS member: an array of strings, each 1..100 characters without NUL
 * (and passing the field's check), min..max of them. */
typedef struct bind_strings {
    const char **items; /* arena-owned array; the strings are json-c's */
    size_t n;
} bind_strings;

typedef struct bind_field {
    const char *name;
    bind_type type;
    size_t offset; /* offsetof(struct, member): const char *, long, double, int,
                    * json_object * (BIND_UUID_ARRAY), bind_strings (BIND_STRINGS) */
    bool required;
    double min, max;           /* strings: length in characters; numbers: value;
                                * arrays: items */
    const char *const *one_of; /* strings: NULL-terminated allowed values */
    /* Extra check of a string; returns an error message or NULL when fine. */
    const char *(*check)(const char *s);
    const char *message; /* what "out of bounds" says, e.g. "must be 1 to 100 characters" */
} bind_field;

/* Absent optional members: strings NULL, numbers unchanged (preset the default),
 * bools (int) unchanged. An empty body binds like {}. */
rv_err bind_json(rv_req *rq, const bind_field *fields, size_t n_fields, void *out);

/* Parses rq's body into a JSON object (arena-owned) or answers malformed_json. */
rv_err bind_parse(rv_req *rq, json_object **out);

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629). */
bool bind_utf8_valid(const char *s, size_t n);

/* Number of UTF-8 characters in an already validated string. */
size_t bind_utf8_len(const char *s);

/* Validators for bind_field.check. */
const char *bind_check_email(const char *s);
const char *bind_check_uuid(const char *s);
/* A well-formed BCP 47 language tag ("en", "pt-BR", "zh-Hant-TW", "de-CH-1901"),
 * at most 35 characters; case is not checked. */
const char *bind_check_language(const char *s);

#define BIND_COUNT(t) (sizeof(t) / sizeof((t)[0]))

#endif
