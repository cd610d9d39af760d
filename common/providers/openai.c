/* OpenAI: Chat Completions with response_format json_schema (strict). See openai.h. */
#include "openai.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "pgjson.h"

enum { DEFAULT_MAX_TOKENS = 4096, DEFAULT_TIMEOUT_MS = 60000, ANSWER_MAX = 1 << 20 };

bool openai_available(void)
{
    return config->openai_key != NULL;
}

bool openai_transient(openai_status st)
{
    return st == OPENAI_RATE_LIMITED || st == OPENAI_UNAVAILABLE;
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v)
               ? v
               : NULL;
}

static const char *get_str(json_object *o, const char *k)
{
    json_object *v = get(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static json_object *message(const char *role, const char *content)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string(role));
    json_object_object_add(m, "content", json_object_new_string(content));
    return m;
}

void openai_build(arena *a, const openai_request *r, http_call *c)
{
    json_object *body = json_object_new_object(), *msgs = json_object_new_array();
    json_object_object_add(
        body, "model",
        json_object_new_string(r->model && *r->model ? r->model : OPENAI_DEFAULT_MODEL));
    if (r->system_prompt && *r->system_prompt)
        json_object_array_add(msgs, message("system", r->system_prompt));
    json_object_array_add(msgs, message("user", r->user_prompt ? r->user_prompt : ""));
    json_object_object_add(body, "messages", msgs);
    json_object_object_add(
        body, "max_completion_tokens",
        json_object_new_int(r->max_tokens > 0 ? r->max_tokens : DEFAULT_MAX_TOKENS));
    json_object *schema = r->schema ? json_tokener_parse(r->schema) : NULL;
    json_object *js = json_object_new_object(), *fmt = json_object_new_object();
    json_object_object_add(js, "name", json_object_new_string(r->schema_name));
    json_object_object_add(js, "strict", json_object_new_boolean(1));
    json_object_object_add(js, "schema", schema ? schema : json_object_new_object());
    json_object_object_add(fmt, "type", json_object_new_string("json_schema"));
    json_object_object_add(fmt, "json_schema", js);
    json_object_object_add(body, "response_format", fmt);

    c->method = "POST";
    c->url = arena_printf(a, "%s/v1/chat/completions", config->openai_url);
    c->body = arena_strdup(a, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    json_object_put(body);
    c->headers[0] =
        arena_printf(a, "Authorization: Bearer %s", config->openai_key ? config->openai_key : "");
    c->headers[1] = "Content-Type: application/json";
    c->headers[2] = NULL;
    c->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_bytes = ANSWER_MAX;
}

static openai_result fail(openai_status st, const char *code, const char *msg)
{
    return (openai_result){.status = st, .code = code, .message = msg};
}

/* Provider text in a message of ours: valid UTF-8, cut, one line. */
static const char *quoted(arena *a, const char *s)
{
    char *t = pgjson_text(a, s ? s : "", OPENAI_MESSAGE_MAX);
    for (char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    return t;
}

static void put_json(void *o)
{
    json_object_put(o);
}

/* s[0..n) as one strict JSON value (jsonb-safe), released with the arena; NULL
 * when it is not exactly that. */
static json_object *parse(arena *a, const char *s, size_t n)
{
    if (!s || memchr(s, '\0', n) || !pgjson_ok(s, n))
        return NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    bool whole = o && json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == n;
    json_tokener_free(tok);
    if (!whole) {
        json_object_put(o);
        return NULL;
    }
    arena_defer(a, put_json, o);
    return o;
}

/* An error answer: {"error": {"message", "type", "code"}}. */
static openai_result read_error(arena *a, const http_call *c)
{
    json_object *body = c->resp ? parse(a, c->resp, c->resp_len) : NULL;
    json_object *err = get(body, "error");
    const char *code = get_str(err, "code"), *type = get_str(err, "type");
    bool quota = (code && !strcmp(code, "insufficient_quota")) ||
                 (type && !strcmp(type, "insufficient_quota"));
    if (c->status == 429 && quota)
        return fail(OPENAI_QUOTA, "llm_quota",
                    "the OpenAI account has no quota left (insufficient_quota): "
                    "add credit or change the key, then try again");
    if (c->status == 429) {
        openai_result r = fail(OPENAI_RATE_LIMITED, "llm_rate_limited",
                               "the language model is rate limited; try again later");
        r.retry_after = c->retry_after;
        return r;
    }
    if (c->status == 0 || c->status == 408 || c->status >= 500) {
        openai_result r = fail(
            OPENAI_UNAVAILABLE, "llm_unavailable",
            c->status == 0 ? "the language model did not answer in time"
                           : arena_printf(a, "the language model failed (HTTP %ld)", c->status));
        r.retry_after = c->retry_after;
        return r;
    }
    return fail(OPENAI_REJECTED, "llm_rejected",
                arena_printf(a, "the language model refused the request (HTTP %ld): %s", c->status,
                             quoted(a, get_str(err, "message"))));
}

openai_result openai_read(arena *a, const http_call *c, openai_check check, void *user)
{
    if (c->too_large)
        return fail(OPENAI_INVALID, "llm_invalid_output",
                    "the language model's answer is too large");
    if (c->status != 200)
        return read_error(a, c);
    json_object *body = parse(a, c->resp, c->resp_len);
    json_object *choices = get(body, "choices");
    json_object *choice = choices && json_object_is_type(choices, json_type_array) &&
                                  json_object_array_length(choices) > 0
                              ? json_object_array_get_idx(choices, 0)
                              : NULL;
    json_object *msg = get(choice, "message");
    if (!msg)
        return fail(OPENAI_INVALID, "llm_invalid_output",
                    "the language model's answer is unreadable");
    const char *refusal = get_str(msg, "refusal");
    if (refusal && *refusal)
        return fail(OPENAI_REFUSED, "llm_refused",
                    arena_printf(a, "the language model declined: %s", quoted(a, refusal)));
    const char *finish = get_str(choice, "finish_reason");
    if (finish && !strcmp(finish, "length"))
        return fail(OPENAI_TRUNCATED, "llm_truncated",
                    "the language model's answer was cut short (too long); try a shorter "
                    "target length");
    if (finish && !strcmp(finish, "content_filter"))
        return fail(OPENAI_REFUSED, "llm_refused",
                    "the language model's content filter stopped the answer");
    const char *content = get_str(msg, "content");
    json_object *out = content ? parse(a, content, strlen(content)) : NULL;
    if (!out || !json_object_is_type(out, json_type_object))
        return fail(OPENAI_INVALID, "llm_invalid_output",
                    "the language model's answer is not the JSON object asked for");
    const char *why = check ? check(a, out, user) : NULL;
    if (why)
        return fail(OPENAI_INVALID, "llm_invalid_output",
                    arena_printf(a, "the language model's answer was refused: %s", why));
    return (openai_result){.status = OPENAI_OK, .output = out};
}

openai_result openai_complete(arena *a, const openai_request *r, openai_check check, void *user,
                              double max_wait_s)
{
    double waited = 0;
    for (;;) {
        http_call c = {0};
        openai_build(a, r, &c);
        http_run(a, &c, 1);
        openai_result res = openai_read(a, &c, check, user);
        if (res.status != OPENAI_RATE_LIMITED)
            return res;
        double wait = res.retry_after > 0 ? res.retry_after : 1;
        if (waited + wait > max_wait_s)
            return res;
        struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
        while (nanosleep(&ts, &ts) != 0)
            ;
        waited += wait;
    }
}

rv_err openai_settings(rv_req *rq, const char *kind, openai_request *r)
{
    static const db_stmt settings = {"SELECT model, system_prompt FROM rv_llm_settings($1)", 1};
    PGresult *res;
    const char *p[] = {kind};
    rv_err er = db_query(rq, &settings, p, &res);
    if (er != RV_OK)
        return er;
    r->model = PQntuples(res) ? db_get(res, 0, 0) : NULL;
    r->system_prompt = PQntuples(res) ? db_get(res, 0, 1) : NULL;
    return RV_OK;
}
