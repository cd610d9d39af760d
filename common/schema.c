#include "schema.h"

#include <math.h>
#include <regex.h>
#include <string.h>

#include "bind.h"

typedef struct {
    rv_req *rq;
    int errors;
} chk;

static void bad(chk *c, const char *path, const char *msg)
{
    req_field_error(c->rq, path, msg);
    c->errors++;
}

static const char *at(chk *c, const char *path, const char *member)
{
    return arena_printf(c->rq->a, "%s.%s", path, member);
}

static const char *idx(chk *c, const char *path, size_t i)
{
    return arena_printf(c->rq->a, "%s[%zu]", path, i);
}

static bool is_type(json_object *v, json_type t)
{
    return v && json_object_is_type(v, t);
}

static bool is_num(json_object *v)
{
    return (is_type(v, json_type_int) || is_type(v, json_type_double)) &&
           isfinite(json_object_get_double(v));
}

/* Whether s matches the extended regular expression re (anchored by the caller). */
static bool matches(const char *s, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

/* ------------------------------------------------------------ field tables */

typedef enum { F_INT, F_NUM, F_BOOL, F_STR, F_INT_OR_NULL } ftype;

typedef struct field {
    const char *name;
    ftype type;
    double min, max; /* numbers: value; strings: length in characters */
    bool required;
} field;

static void check_value(chk *c, const char *path, json_object *v, const field *f)
{
    switch (f->type) {
    case F_INT_OR_NULL:
        if (!v)
            return;
        /* fall through */
    case F_INT:
        if (!is_type(v, json_type_int) || (double)json_object_get_int64(v) < f->min ||
            (double)json_object_get_int64(v) > f->max)
            bad(c, path,
                arena_printf(c->rq->a, "must be an integer from %.0f to %.0f%s", f->min, f->max,
                             f->type == F_INT_OR_NULL ? ", or null" : ""));
        return;
    case F_NUM:
        if (!is_num(v) || json_object_get_double(v) < f->min || json_object_get_double(v) > f->max)
            bad(c, path, arena_printf(c->rq->a, "must be a number from %g to %g", f->min, f->max));
        return;
    case F_BOOL:
        if (!is_type(v, json_type_boolean))
            bad(c, path, "must be true or false");
        return;
    case F_STR: {
        size_t n = is_type(v, json_type_string) ? bind_utf8_len(json_object_get_string(v)) : 0;
        if (!is_type(v, json_type_string) || (double)n < f->min || (double)n > f->max)
            bad(c, path,
                arena_printf(c->rq->a, "must be a string of %.0f to %.0f characters", f->min,
                             f->max));
        return;
    }
    }
}

/* A scalar extra member of a permissive object: a string (at most 1000
 * characters), a finite number, a boolean or null. */
static void check_scalar(chk *c, const char *path, json_object *v)
{
    if (!v || is_type(v, json_type_boolean) || is_num(v))
        return;
    if (is_type(v, json_type_string) && bind_utf8_len(json_object_get_string(v)) <= 1000)
        return;
    bad(c, path, "must be a string (at most 1000 characters), a number, a boolean or null");
}

/* obj against a table. Members not in it: refused when strict, else each checked
 * by extra (NULL: anything). Returns whether obj was an object at all. */
static bool check_object(chk *c, const char *path, json_object *obj, const field *f, size_t n,
                         bool strict, void (*extra)(chk *, const char *, json_object *))
{
    if (!is_type(obj, json_type_object)) {
        bad(c, path, "must be an object");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v;
        bool has = json_object_object_get_ex(obj, f[i].name, &v);
        if (!has && f[i].required)
            bad(c, at(c, path, f[i].name), "is required");
        else if (has)
            check_value(c, at(c, path, f[i].name), v, &f[i]);
    }
    json_object_object_foreach(obj, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(k, f[i].name);
        if (known)
            continue;
        if (strict)
            bad(c, at(c, path, k), "is not a known field");
        else if (extra)
            extra(c, at(c, path, k), v);
    }
    return true;
}

/* A name of a job kind, provider or prompt: lower case, digits, '_' and '-'. */
static bool name_ok(const char *s)
{
    return matches(s, "^[a-z0-9][a-z0-9_-]{0,63}$");
}

/* ------------------------------------------------------------ the keys */

enum { MAX_CREDITS = 10000000, MAX_PRICE_CENTS = 99999999 };

static void whole_credits(chk *c, const char *path, json_object *v)
{
    const field f = {"", F_INT, 0, MAX_CREDITS, true};
    check_value(c, path, v, &f);
}

static void k_signup_credits(chk *c, const char *path, json_object *v)
{
    whole_credits(c, path, v);
}

static void k_referral_bonus(chk *c, const char *path, json_object *v)
{
    whole_credits(c, path, v);
}

static void k_referral_limits(chk *c, const char *path, json_object *v)
{
    static const field f[] = {{"perReferrerPerDay", F_INT, 0, 100000, true}};
    check_object(c, path, v, f, 1, true, NULL);
}

static void nonneg_int(chk *c, const char *path, json_object *v)
{
    const field f = {"", F_INT, 0, 1e9, true};
    check_value(c, path, v, &f);
}

static void k_rate_limits(chk *c, const char *path, json_object *v)
{
    static const field f[] = {{"generationsPerMinute", F_INT, 0, 100000, true}};
    check_object(c, path, v, f, 1, false, nonneg_int);
}

static void k_storage_quota(chk *c, const char *path, json_object *v)
{
    static const field f[] = {{"bytes", F_INT_OR_NULL, 0, 1e15, false},
                              {"files", F_INT_OR_NULL, 0, 1e9, false}};
    check_object(c, path, v, f, 2, true, NULL);
}

static void k_auth_limits(chk *c, const char *path, json_object *v)
{
    static const field f[] = {{"loginFailures", F_INT, 0, 100000, true},
                              {"profileChanges", F_INT, 0, 100000, true},
                              {"windowSeconds", F_INT, 1, 86400, true},
                              {"sessionMaxDays", F_INT, 1, 3650, true},
                              {"refreshGraceSeconds", F_INT, 0, 300, true}};
    check_object(c, path, v, f, 5, true, NULL);
}

static void k_mail(chk *c, const char *path, json_object *v)
{
    static const field f[] = {{"verifyTtlSeconds", F_INT, 60, 30 * 86400, true},
                              {"resetTtlSeconds", F_INT, 60, 7 * 86400, true},
                              {"forgotPerHour", F_INT, 0, 100, true}};
    check_object(c, path, v, f, 3, true, NULL);
}

static void k_require_verified(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_boolean))
        bad(c, path, "must be true or false");
}

/* A price: a non-negative finite number (new kinds bring new ones). */
static void price(chk *c, const char *path, json_object *v)
{
    if (!is_num(v) || json_object_get_double(v) < 0 || json_object_get_double(v) > 1e9)
        bad(c, path, "must be a number from 0 to 1000000000");
}

/* job_costs: {kind: {perChars + credits | perSecond [+ min] | flat | other prices}}. */
static void k_job_costs(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_object)) {
        bad(c, path, "must be an object of job kinds");
        return;
    }
    static const field f[] = {{"perChars", F_INT, 1, 1000000, false},
                              {"credits", F_NUM, 0, MAX_CREDITS, false},
                              {"perSecond", F_NUM, 0, MAX_CREDITS, false},
                              {"min", F_INT, 0, MAX_CREDITS, false},
                              {"flat", F_INT, 0, MAX_CREDITS, false}};
    json_object_object_foreach(v, kind, cost)
    {
        const char *p = at(c, path, kind);
        if (!name_ok(kind)) {
            bad(c, p, "is not a job kind name");
            continue;
        }
        if (!check_object(c, p, cost, f, BIND_COUNT(f), false, price))
            continue;
        if (json_object_object_length(cost) == 0)
            bad(c, p, "must name at least one price");
        json_object *x;
        if (json_object_object_get_ex(cost, "perChars", &x) &&
            !json_object_object_get_ex(cost, "credits", &x))
            bad(c, at(c, p, "credits"), "is required with perChars");
    }
}

static void provider_list(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_array) || json_object_array_length(v) > 20) {
        bad(c, path, "must be a list of at most 20 provider names");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *p = json_object_array_get_idx(v, i);
        if (!is_type(p, json_type_string) || !name_ok(json_object_get_string(p)))
            bad(c, idx(c, path, i), "must be a provider name");
    }
}

static void deadline(chk *c, const char *path, json_object *v)
{
    const field f = {"", F_INT, 10, 7 * 86400, true};
    check_value(c, path, v, &f);
}

static void model_name(chk *c, const char *path, json_object *v)
{
    const field f = {"", F_STR, 1, 200, true};
    check_value(c, path, v, &f);
}

/* A provider's own settings: models per kind, and scalars or objects of scalars. */
static void provider_settings(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_object)) {
        bad(c, path, "must be an object");
        return;
    }
    json_object_object_foreach(v, k, x)
    {
        const char *p = at(c, path, k);
        if (!strcmp(k, "models"))
            check_object(c, p, x, NULL, 0, false, model_name);
        else if (!strcmp(k, "cloneSampleRate")) {
            const field f = {"", F_INT, 8000, 192000, true};
            check_value(c, p, x, &f);
        } else if (is_type(x, json_type_object))
            check_object(c, p, x, NULL, 0, false, check_scalar);
        else
            check_scalar(c, p, x);
    }
}

/* providers: {kinds: {kind: [provider...]}, deadlines: {kind: seconds},
 * <provider>: {models: {kind: model}, ...}}. */
static void k_providers(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_object)) {
        bad(c, path, "must be an object");
        return;
    }
    json_object *kinds;
    if (!json_object_object_get_ex(v, "kinds", &kinds))
        bad(c, at(c, path, "kinds"), "is required");
    json_object_object_foreach(v, k, x)
    {
        const char *p = at(c, path, k);
        if (!strcmp(k, "kinds"))
            check_object(c, p, x, NULL, 0, false, provider_list);
        else if (!strcmp(k, "deadlines"))
            check_object(c, p, x, NULL, 0, false, deadline);
        else if (!name_ok(k))
            bad(c, p, "is not a provider name");
        else
            provider_settings(c, p, x);
    }
}

static void prompt(chk *c, const char *path, json_object *v)
{
    const field f = {"", F_STR, 1, 20000, true};
    check_value(c, path, v, &f);
}

/* system_prompts: {name: text}, or {name: {text-like scalars}} for prompts with parts. */
static void prompt_entry(chk *c, const char *path, json_object *v)
{
    if (is_type(v, json_type_object))
        check_object(c, path, v, NULL, 0, false, prompt);
    else
        prompt(c, path, v);
}

static void k_system_prompts(chk *c, const char *path, json_object *v)
{
    check_object(c, path, v, NULL, 0, false, prompt_entry);
}

/* escrow: settings of the expert work; numbers are never negative, a percentage
 * (a name ending in "Percent") at most 100. */
static void escrow_member(chk *c, const char *path, json_object *v)
{
    const char *name = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;
    size_t n = strlen(name);
    if (is_num(v)) {
        double x = json_object_get_double(v);
        bool pct = n > 7 && !strcmp(name + n - 7, "Percent");
        if (x < 0 || x > (pct ? 100 : 1e9))
            bad(c, path,
                pct ? "must be a number from 0 to 100" : "must be a number from 0 to 1000000000");
        return;
    }
    if (is_type(v, json_type_object))
        check_object(c, path, v, NULL, 0, false, escrow_member);
    else
        check_scalar(c, path, v);
}

/* The members SQL reads (rv_project_price, rv_escrow_percent) cast to numeric: a
 * string there would fail every assignment, release or cancel. */
static void k_escrow(chk *c, const char *path, json_object *v)
{
    static const field f[] = {{"centsPerCredit", F_NUM, 0.0001, 1e9, false},
                              {"feePercent", F_NUM, 0, 100, false},
                              {"cancelRefundPercent", F_NUM, 0, 100, false}};
    check_object(c, path, v, f, BIND_COUNT(f), false, escrow_member);
}

/* expert_specialties: [name] or [{id, name, ...}]. */
static void k_expert_specialties(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_array) || json_object_array_length(v) > 500) {
        bad(c, path, "must be a list of at most 500 specialties");
        return;
    }
    static const field f[] = {{"id", F_STR, 1, 64, true}, {"name", F_STR, 1, 100, true}};
    const field one = {"", F_STR, 1, 100, true};
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *x = json_object_array_get_idx(v, i);
        if (is_type(x, json_type_object))
            check_object(c, idx(c, path, i), x, f, 2, false, check_scalar);
        else
            check_value(c, idx(c, path, i), x, &one);
    }
}

/* credit_packs: [{id, name, credits, priceCents, currency, ...scalars}], ids unique. */
static void k_credit_packs(chk *c, const char *path, json_object *v)
{
    if (!is_type(v, json_type_array) || json_object_array_length(v) > 50) {
        bad(c, path, "must be a list of at most 50 packs");
        return;
    }
    static const field f[] = {{"id", F_STR, 1, 64, true},
                              {"name", F_STR, 1, 100, true},
                              {"credits", F_INT, 1, MAX_CREDITS, true},
                              {"priceCents", F_INT, 1, MAX_PRICE_CENTS, true},
                              {"currency", F_STR, 3, 3, true}};
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *pack = json_object_array_get_idx(v, i), *x;
        const char *p = idx(c, path, i);
        if (!check_object(c, p, pack, f, BIND_COUNT(f), false, check_scalar))
            continue;
        if (json_object_object_get_ex(pack, "id", &x) && is_type(x, json_type_string)) {
            if (!name_ok(json_object_get_string(x)))
                bad(c, at(c, p, "id"), "must be lower case letters, digits, '_' or '-'");
            for (size_t j = 0; j < i; j++) {
                json_object *other = json_object_array_get_idx(v, j), *y;
                if (is_type(other, json_type_object) &&
                    json_object_object_get_ex(other, "id", &y) && is_type(y, json_type_string) &&
                    !strcmp(json_object_get_string(x), json_object_get_string(y)))
                    bad(c, at(c, p, "id"), "is used by another pack");
            }
        }
        if (json_object_object_get_ex(pack, "currency", &x) && is_type(x, json_type_string) &&
            !matches(json_object_get_string(x), "^[a-z]{3}$"))
            bad(c, at(c, p, "currency"), "must be an ISO 4217 code in lower case (\"usd\")");
    }
}

/* ------------------------------------------------------------ the table */

typedef struct {
    const char *key;
    void (*check)(chk *, const char *, json_object *);
} schema;

static const schema schemas[] = {
    {"auth_limits", k_auth_limits},
    {"credit_packs", k_credit_packs},
    {"escrow", k_escrow},
    {"expert_specialties", k_expert_specialties},
    {"job_costs", k_job_costs},
    {"mail", k_mail},
    {"providers", k_providers},
    {"rate_limits", k_rate_limits},
    {"referral_bonus", k_referral_bonus},
    {"referral_limits", k_referral_limits},
    {"require_verified", k_require_verified},
    {"signup_credits", k_signup_credits},
    {"storage_quota", k_storage_quota},
    {"system_prompts", k_system_prompts},
};

const char *const schema_keys[] = {
    "auth_limits",        "credit_packs",     "escrow",
    "expert_specialties", "job_costs",        "mail",
    "providers",          "rate_limits",      "referral_bonus",
    "referral_limits",    "require_verified", "signup_credits",
    "storage_quota",      "system_prompts",   NULL,
};

static const schema *find(const char *key)
{
    for (size_t i = 0; i < BIND_COUNT(schemas); i++)
        if (!strcmp(schemas[i].key, key))
            return &schemas[i];
    return NULL;
}

bool schema_known(const char *key)
{
    return key && find(key) != NULL;
}

rv_err schema_check(rv_req *rq, const char *key, json_object *value)
{
    const schema *s = find(key);
    if (!s)
        return RV_E_NOT_FOUND;
    chk c = {rq, 0};
    s->check(&c, "value", value);
    return c.errors ? RV_E_VALIDATION : RV_OK;
}
