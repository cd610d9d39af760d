#include "bind.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <unistr.h>

enum { MAX_DEPTH = 16 };

bool bind_utf8_valid(const char *s, size_t n)
{
    /* libunistring follows RFC 3629: no overlong forms, surrogates or > U+10FFFF. */
    return u8_check((const uint8_t *)s, n) == NULL;
}

/* A string token at s[*i] (the opening quote); *nul tells whether it holds \u0000. */
static bool lex_string(const unsigned char *s, size_t n, size_t *i, bool *nul)
{
    size_t k = *i + 1;
    *nul = false;
    while (k < n && s[k] != '"') {
        if (s[k] < 0x20)
            return false;
        if (s[k] == '\\') {
            if (++k == n)
                return false;
            if (s[k] == 'u') {
                if (n - k < 5)
                    return false;
                for (size_t j = 1; j <= 4; j++)
                    if (!isxdigit(s[k + j]))
                        return false;
                *nul = *nul || !memcmp(s + k + 1, "0000", 4);
                k += 5;
            } else if (s[k] && strchr("\"\\/bfnrt", s[k])) {
                k++;
            } else {
                return false;
            }
            continue;
        }
        int len = u8_mblen(s + k, n - k); /* the body's UTF-8 was checked already */
        if (len <= 0)
            return false;
        k += (size_t)len;
    }
    if (k == n)
        return false;
    *i = k + 1;
    return true;
}

static size_t digits(const unsigned char *s, size_t n, size_t k)
{
    size_t start = k;
    while (k < n && isdigit(s[k]))
        k++;
    return k - start;
}

/* A number token at s[*i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool lex_number(const unsigned char *s, size_t n, size_t *i)
{
    size_t k = *i, d;
    if (s[k] == '-')
        k++;
    if (k < n && s[k] == '0')
        k++;
    else if ((d = digits(s, n, k)) > 0)
        k += d;
    else
        return false;
    if (k < n && s[k] == '.') {
        if (!(d = digits(s, n, k + 1)))
            return false;
        k += 1 + d;
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < n && (s[k] == '+' || s[k] == '-'))
            k++;
        if (!(d = digits(s, n, k)))
            return false;
        k += d;
    }
    *i = k;
    return true;
}

/* Whether a number or literal may end before s[i]: "01" and "true1" are one bad
 * token, not two good ones. */
static bool token_end(const unsigned char *s, size_t n, size_t i)
{
    return i == n || (s[i] && strchr(" \t\n\r,]}", s[i]));
}

/* Checks every token of s[0..n) against RFC 8259; nesting, commas and depth are left
 * to json-c. Needed because json-c's strict mode still takes single-quoted names,
 * NaN and Infinity, "1.", raw control characters in strings and overlong, surrogate
 * or out-of-range UTF-8, and cuts a member name at "\u0000". */
static bool lex_ok(const char *body, size_t n)
{
    static const char *const literals[] = {"true", "false", "null"};
    const unsigned char *s = (const unsigned char *)body;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        bool nul;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '{' || c == '}' || c == '[' ||
            c == ']' || c == ':' || c == ',') {
            i++;
        } else if (c == '"') {
            if (!lex_string(s, n, &i, &nul))
                return false;
            size_t k = i;
            while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r'))
                k++;
            if (nul && k < n && s[k] == ':')
                return false; /* a member name with a NUL */
        } else if (c == '-' || isdigit(c)) {
            if (!lex_number(s, n, &i) || !token_end(s, n, i))
                return false;
        } else {
            size_t k = i;
            while (k < n && isalpha(s[k]))
                k++;
            bool known = false;
            for (size_t j = 0; j < 3 && !known; j++)
                known = strlen(literals[j]) == k - i && !memcmp(s + i, literals[j], k - i);
            if (!known || !token_end(s, n, k))
                return false;
            i = k;
        }
    }
    return true;
}

rv_err bind_parse(rv_req *rq, json_object **out)
{
    const char *body = rq->body_len ? rq->body : "{}";
    size_t len = rq->body_len ? rq->body_len : 2;
    if (!bind_utf8_valid(body, len))
        return req_fail(rq, RV_E_MALFORMED_JSON, "body is not valid UTF-8");
    if (!lex_ok(body, len))
        return req_fail(rq, RV_E_MALFORMED_JSON, "body is not valid JSON");
    json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (!tok)
        return RV_E_INTERNAL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    req_keep(rq, obj);
    if (!obj || jerr != json_tokener_success || used != len) {
        if (jerr == json_tokener_error_depth)
            return req_fail(rq, RV_E_MALFORMED_JSON, "JSON nested too deeply");
        return req_fail(rq, RV_E_MALFORMED_JSON, "body is not valid JSON");
    }
    if (!json_object_is_type(obj, json_type_object))
        return req_fail(rq, RV_E_MALFORMED_JSON, "body must be a JSON object");
    *out = obj;
    return RV_OK;
}

size_t bind_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

const char *bind_check_email(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n > 254 || !at || at == s || strchr(at + 1, '@'))
        return "must be a valid email address";
    const char *dot = strrchr(at, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0' || (size_t)(at - s) > 64)
        return "must be a valid email address";
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
            c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']')
            return "must be a valid email address";
    }
    return NULL;
}

const char *bind_check_uuid(const char *s)
{
    return req_is_uuid(s) ? NULL : "must be a UUID";
}

/* RFC 5646 well-formedness, positionally: language (2-3 letters; the 4-8 letter forms
 * are reserved or unused) [-extlang]{0,3} [-script] [-region] [-variant]*
 * [-singleton-ext{2,8}+]* [-x-priv{1,8}+]. Grandfathered tags are not accepted;
 * registry validity (is "zz" a language?) is not checked. */
const char *bind_check_language(const char *s)
{
    static const char msg[] = "must be a BCP 47 language tag such as en or pt-BR";
    enum { EXTLANG, SCRIPT, REGION, VARIANT, EXTENSION, PRIVATE } at = EXTLANG;
    size_t n = strlen(s), extlangs = 0;
    bool first = true, open_singleton = false;
    if (n < 2 || n > 35)
        return msg;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, "-"), alpha = 0, digit = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            alpha += c < 0x80 && isalpha(c);
            digit += c < 0x80 && isdigit(c);
        }
        if (len == 0 || len > 8 || alpha + digit != len)
            return msg;
        bool letters = alpha == len, digits = digit == len;
        if (first) {
            if (!letters || len < 2 || len > 3)
                return msg;
        } else if (at == PRIVATE) {
            open_singleton = false;
        } else if (len == 1) {
            if (open_singleton)
                return msg;
            at = (*p == 'x' || *p == 'X') ? PRIVATE : EXTENSION;
            open_singleton = true;
            if (p[1] != '-' || !p[2])
                return msg;
            p += 2;
            continue;
        } else if (at == EXTENSION) {
            open_singleton = false;
        } else if (at == EXTLANG && letters && len == 3 && extlangs < 3) {
            extlangs++;
        } else if (at <= SCRIPT && letters && len == 4) {
            at = REGION;
        } else if (at <= REGION && ((letters && len == 2) || (digits && len == 3))) {
            at = VARIANT;
        } else if (len >= 5 || (len == 4 && isdigit((unsigned char)p[0]))) {
            at = VARIANT;
        } else {
            return msg;
        }
        first = false;
        p += len;
        if (*p == '-' && !*++p)
            return msg; /* a trailing '-' */
    }
    return open_singleton ? msg : NULL;
}

static const char *bounds_msg(rv_req *rq, const bind_field *f)
{
    if (f->message)
        return f->message;
    if (f->type == BIND_STRING)
        return arena_printf(rq->a, "must be %.15g to %.15g characters", f->min, f->max);
    return arena_printf(rq->a, "must be from %.15g to %.15g", f->min, f->max);
}

static void bind_string(rv_req *rq, const bind_field *f, json_object *v, void *slot)
{
    if (!json_object_is_type(v, json_type_string)) {
        req_field_error(rq, f->name, "must be a string");
        return;
    }
    const char *s = json_object_get_string(v);
    if ((size_t)json_object_get_string_len(v) != strlen(s)) {
        req_field_error(rq, f->name, "must not contain NUL characters");
        return;
    }
    if (f->one_of) {
        for (const char *const *o = f->one_of; *o; o++)
            if (!strcmp(*o, s)) {
                *(const char **)slot = s;
                return;
            }
        char *msg = arena_strdup(rq->a, "must be one of:");
        for (const char *const *o = f->one_of; *o; o++)
            msg = arena_printf(rq->a, "%s%s %s", msg, o == f->one_of ? "" : ",", *o);
        req_field_error(rq, f->name, msg);
        return;
    }
    double len = (double)bind_utf8_len(s);
    if ((f->max > 0 && (len < f->min || len > f->max))) {
        req_field_error(rq, f->name, bounds_msg(rq, f));
        return;
    }
    if (f->check) {
        const char *why = f->check(s);
        if (why) {
            req_field_error(rq, f->name, why);
            return;
        }
    }
    *(const char **)slot = s;
}

static void bind_number(rv_req *rq, const bind_field *f, json_object *v, void *slot)
{
    bool is_int = json_object_is_type(v, json_type_int);
    if (f->type == BIND_INT && !is_int) {
        req_field_error(rq, f->name, "must be an integer");
        return;
    }
    if (!is_int && !json_object_is_type(v, json_type_double)) {
        req_field_error(rq, f->name, "must be a number");
        return;
    }
    double d = json_object_get_double(v);
    if (!isfinite(d) || d < f->min || d > f->max) {
        req_field_error(rq, f->name, bounds_msg(rq, f));
        return;
    }
    if (f->type == BIND_INT)
        *(long *)slot = (long)json_object_get_int64(v);
    else
        *(double *)slot = d;
}

static void bind_uuid_array(rv_req *rq, const bind_field *f, json_object *v, void *slot)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    if (!json_object_is_type(v, json_type_array) || (double)n < f->min || (double)n > f->max) {
        req_field_error(rq, f->name,
                        f->message ? f->message
                                   : arena_printf(rq->a, "must be an array of %.15g to %.15g ids",
                                                  f->min, f->max));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string) ||
            bind_check_uuid(json_object_get_string(e))) {
            req_field_error(rq, f->name, arena_printf(rq->a, "item %zu must be a UUID", i + 1));
            return;
        }
    }
    *(json_object **)slot = v;
}

static void bind_strings_of(rv_req *rq, const bind_field *f, json_object *v, void *slot)
{
    if (!json_object_is_type(v, json_type_array)) {
        req_field_error(rq, f->name, "must be an array of strings");
        return;
    }
    size_t n = json_object_array_length(v);
    if ((double)n < f->min || (double)n > f->max) {
        req_field_error(
            rq, f->name,
            f->message ? f->message
                       : arena_printf(rq->a, "must hold %.15g to %.15g items", f->min, f->max));
        return;
    }
    const char **items = arena_alloc(rq->a, (n + 1) * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
        if (!s || (size_t)json_object_get_string_len(e) != strlen(s) || !*s ||
            bind_utf8_len(s) > 100) {
            req_field_error(rq, f->name, "must hold strings of 1 to 100 characters");
            return;
        }
        const char *why = f->check ? f->check(s) : NULL;
        if (why) {
            req_field_error(rq, f->name, why);
            return;
        }
        items[i] = s;
    }
    *(bind_strings *)slot = (bind_strings){items, n};
}

rv_err bind_json(rv_req *rq, const bind_field *fields, size_t n_fields, void *out)
{
    json_object *obj = NULL;
    rv_err er = bind_parse(rq, &obj);
    if (er != RV_OK)
        return er;
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        bool known = false;
        for (size_t i = 0; i < n_fields && !known; i++)
            known = !strcmp(fields[i].name, key);
        if (!known)
            req_field_error(rq, bind_utf8_len(key) > 64 ? "(unknown)" : key,
                            "is not a known field");
    }
    for (size_t i = 0; i < n_fields; i++) {
        const bind_field *f = &fields[i];
        void *slot = (char *)out + f->offset;
        json_object *v;
        if (!json_object_object_get_ex(obj, f->name, &v) || !v) {
            /* An explicit null counts as absent. */
            if (f->required)
                req_field_error(rq, f->name, "is required");
            continue;
        }
        switch (f->type) {
        case BIND_STRING:
            bind_string(rq, f, v, slot);
            break;
        case BIND_INT:
        case BIND_NUMBER:
            bind_number(rq, f, v, slot);
            break;
        case BIND_RAW:
            *(json_object **)slot = v;
            break;
        case BIND_UUID_ARRAY:
            bind_uuid_array(rq, f, v, slot);
            break;
        case BIND_STRINGS:
            bind_strings_of(rq, f, v, slot);
            break;
        case BIND_BOOL:
            if (!json_object_is_type(v, json_type_boolean))
                req_field_error(rq, f->name, "must be true or false");
            else
                *(int *)slot = json_object_get_boolean(v);
            break;
        }
    }
    return rq->problem_errors ? RV_E_VALIDATION : RV_OK;
}
