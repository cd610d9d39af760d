/* openai.h — OpenAI Chat Completions with structured outputs.
 *
 * One call: a system prompt (admin_config.system_prompts[kind]), a user prompt and
 * a JSON Schema sent as response_format {type: json_schema, json_schema: {name,
 * strict: true, schema}}; the answer's message content parsed as JSON and checked
 * by the caller's own check (the model's output is untrusted input: the schema is
 * a request to the model, not a guarantee). Used by the jobs that need text from
 * a language model (script, images, estimate), always from the poller's side.
 *
 * The outcomes are a fixed set (openai_status): a refusal (`message.refusal`), a
 * truncated answer (`finish_reason: length`), 429 `rate_limit_exceeded` (worth
 * waiting for: Retry-After) and 429 `insufficient_quota` (not worth retrying: the
 * account has no credit), 5xx and timeouts (transient), other 4xx (rejected), an
 * answer that is not JSON or fails the check (invalid). Settings: RV_OPENAI_API_KEY
 * (unset: the provider is off), RV_OPENAI_URL (default https://api.openai.com). */
#ifndef RV_OPENAI_H
#define RV_OPENAI_H

#include <json-c/json.h>
#include <stdbool.h>

#include "arena.h"
#include "err.h"
#include "http.h"
#include "req.h"

/* The model when admin_config.providers.openai.models names none for the kind. */
#define OPENAI_DEFAULT_MODEL "gpt-4o-mini"

/* Longest text of ours a message for users carries from the provider (refusals,
 * error messages), in bytes. */
enum { OPENAI_MESSAGE_MAX = 300 };

/* One structured completion; every pointer borrowed. */
typedef struct openai_request {
    const char *model;         /* NULL: OPENAI_DEFAULT_MODEL */
    const char *system_prompt; /* NULL or "": no system message */
    const char *user_prompt;   /* the task (user text inside it is data, not code) */
    const char *schema_name;   /* [A-Za-z0-9_-]{1,64} */
    const char *schema;        /* JSON Schema text, strict-mode shaped */
    int max_tokens;            /* 0: 4096 */
    long timeout_ms;           /* 0: 60 s */
} openai_request;

typedef enum openai_status {
    OPENAI_OK = 0,
    OPENAI_RATE_LIMITED, /* 429 rate_limit_exceeded: retry after retry_after s */
    OPENAI_UNAVAILABLE,  /* 5xx, 408, a timeout, no answer: retry with backoff */
    OPENAI_QUOTA,        /* 429 insufficient_quota: permanent */
    OPENAI_REFUSED,      /* the model refused: permanent */
    OPENAI_TRUNCATED,    /* finish_reason length (or content_filter): permanent */
    OPENAI_INVALID,      /* not JSON, not an object, or the check refused it */
    OPENAI_REJECTED,     /* any other 4xx: a bad key, a bad request */
} openai_status;

typedef struct openai_result {
    openai_status status;
    double retry_after;  /* seconds (Retry-After); 0 when not said */
    const char *code;    /* for a job's error: llm_refused, llm_truncated, ... (NULL: ok) */
    const char *message; /* for users: what went wrong, provider text cut and cleaned */
    json_object *output; /* OPENAI_OK: the parsed answer; released with the arena */
} openai_result;

/* The caller's check of a parsed answer: NULL when it is fine, else why not (a
 * short sentence; static or in the arena). */
typedef const char *(*openai_check)(arena *a, json_object *answer, void *user);

/* Whether RV_OPENAI_API_KEY is set. */
bool openai_available(void);

/* Whether an outcome is worth trying again later. */
bool openai_transient(openai_status st);

/* Builds the call (POST {RV_OPENAI_URL}/v1/chat/completions). */
void openai_build(arena *a, const openai_request *r, http_call *c);

/* Reads a finished call's answer; check (NULL: none) judges a parsed answer. */
openai_result openai_read(arena *a, const http_call *c, openai_check check, void *user);

/* Fills r->model and r->system_prompt with kind's settings (rv_llm_settings:
 * admin_config.providers.openai.models[kind], admin_config.system_prompts[kind]),
 * NULL where none is set. The poller's role. RV_OK or the database's error. */
rv_err openai_settings(rv_req *rq, const char *kind, openai_request *r);

/* Builds, runs and reads one completion, waiting out a 429 rate_limit_exceeded
 * (its Retry-After, else 1 s) up to max_wait_s seconds in all before it gives up
 * with OPENAI_RATE_LIMITED. Blocking: for the poller's child processes. */
openai_result openai_complete(arena *a, const openai_request *r, openai_check check, void *user,
                              double max_wait_s);

#endif
