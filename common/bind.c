#include "bind.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

enum { MAX_DEPTH = 16 };

bool bind_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned char c = *p;
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else
            return false; /* continuation byte, C0, C1 or F5..FF */
        if ((size_t)(end - p) < len || p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i < len; i++)
            if (p[i] < 0x80 || p[i] > 0xBF)
                return false;
        p += len;
    }
    return true;
}

/* json-c takes NaN and Infinity even in strict mode; JSON has neither. */
static bool all_finite(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double:
        return isfinite(json_object_get_double(o));
    case json_type_array:
        for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
            if (!all_finite(json_object_array_get_idx(o, i)))
                return false;
        return true;
    case json_type_object: {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            if (!all_finite(val))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

rv_err bind_parse(rv_req *rq, json_object **out)
{
    const char *body = rq->body_len ? rq->body : "{}";
    size_t len = rq->body_len ? rq->body_len : 2;
    /* json-c's own check lets overlong forms, surrogates and code points above
     * U+10FFFF through; PostgreSQL refuses them later (a 500). */
    if (!bind_utf8_valid(body, len))
        return req_fail(rq, RV_E_MALFORMED_JSON, "body is not valid UTF-8");
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
    if (!all_finite(obj))
        return req_fail(rq, RV_E_MALFORMED_JSON,
                        "body is not valid JSON (NaN, Infinity or a number out of range)");
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
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' ||
            c == ',' || c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' ||
            c == ']')
            return "must be a valid email address";
    }
    return NULL;
}

static const char *bounds_msg(rv_req *rq, const bind_field *f)
{
    if (f->message)
        return f->message;
    if (f->type == BIND_STRING)
        return arena_printf(rq->a, "must be %g to %g characters", f->min, f->max);
    return arena_printf(rq->a, "must be from %g to %g", f->min, f->max);
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

rv_err bind_json(rv_req *rq, const bind_field *fields, size_t n_fields, void *out)
{
    json_object *obj;
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
