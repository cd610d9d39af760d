#include "log.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

static const char *handler_name = "reelvox";
static log_level min_level = LOG_INFO;
static const char *cur_request_id, *cur_user_id;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *handler) { handler_name = handler; }
void log_set_level(log_level min) { min_level = min; }

void log_set_request(const char *request_id, const char *user_id)
{
    cur_request_id = request_id;
    cur_user_id = user_id;
}

void log_clear_request(void) { cur_request_id = cur_user_id = NULL; }

static json_object *line_start(log_level lv)
{
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

    json_object *o = json_object_new_object();
    json_object_object_add(o, "time", json_object_new_string(when));
    json_object_object_add(o, "level", json_object_new_string(level_names[lv]));
    json_object_object_add(o, "handler", json_object_new_string(handler_name));
    if (cur_request_id)
        json_object_object_add(o, "requestId", json_object_new_string(cur_request_id));
    if (cur_user_id)
        json_object_object_add(o, "userId", json_object_new_string(cur_user_id));
    return o;
}

static void line_end(json_object *o)
{
    fprintf(stderr, "%s\n",
            json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

void log_msg(log_level lv, const char *fmt, ...)
{
    if (lv < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A cut or hostile message must not make the line invalid JSON. */
    const uint8_t *bad;
    while ((bad = u8_check((const uint8_t *)msg, strlen(msg))))
        msg[bad - (const uint8_t *)msg] = '?';
    json_object *o = line_start(lv);
    json_object_object_add(o, "msg", json_object_new_string(msg));
    line_end(o);
}

void log_access(const char *method, const char *path, int status, double duration_ms)
{
    log_level lv = status >= 500 ? LOG_ERROR : LOG_INFO;
    if (lv < min_level)
        return;
    json_object *o = line_start(lv);
    json_object_object_add(o, "method", json_object_new_string(method ? method : ""));
    /* nginx hands over the decoded path: keep the line valid JSON whatever it is. */
    bool ok = path && u8_check((const uint8_t *)path, strlen(path)) == NULL;
    json_object_object_add(o, "path", json_object_new_string(!path ? "" : ok ? path : "(not UTF-8)"));
    json_object_object_add(o, "status", json_object_new_int(status));
    json_object_object_add(o, "durationMs", json_object_new_double(duration_ms));
    line_end(o);
}
