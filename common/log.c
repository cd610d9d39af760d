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

void log_init(const char *handler)
{
    handler_name = handler;
}
void log_set_level(log_level min)
{
    min_level = min;
}

void log_set_request(const char *request_id, const char *user_id)
{
    cur_request_id = request_id;
    cur_user_id = user_id;
}

void log_clear_request(void)
{
    cur_request_id = cur_user_id = NULL;
}

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
    fprintf(
        stderr, "%s\n",
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

void log_msg(log_level lv, const char *fmt, ...)
{
    if (lv < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    /* clang-analyzer loses va_start across the early return above. */
    vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    /* A cut or hostile message must not make the line invalid JSON. */
    const uint8_t *bad;
    while ((bad = u8_check((const uint8_t *)msg, strlen(msg))))
        msg[bad - (const uint8_t *)msg] = '?';
    json_object *o = line_start(lv);
    json_object_object_add(o, "msg", json_object_new_string(msg));
    line_end(o);
}

/* A JSON string for s: plain ASCII that needs no escape goes as it is (request
 * ids, UUIDs, most paths: the fast path of every access line); anything else is
 * escaped by json-c. Ill-formed UTF-8 is replaced. Returns buf or json-c memory
 * valid until *tmp is put. */
static const char *json_str(const char *s, char *buf, size_t cap, json_object **tmp)
{
    size_t n = strlen(s);
    bool plain = n + 3 <= cap;
    for (size_t i = 0; plain && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    if (plain) {
        buf[0] = '"';
        memcpy(buf + 1, s, n);
        buf[n + 1] = '"';
        buf[n + 2] = '\0';
        return buf;
    }
    bool ok = u8_check((const uint8_t *)s, n) == NULL;
    *tmp = json_object_new_string(ok ? s : "(not UTF-8)");
    return json_object_to_json_string_ext(*tmp,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The access line is written on every request: formatted directly, the time
 * string made once per second. */
void log_access(const char *method, const char *path, int status, double duration_ms)
{
    log_level lv = status >= 500 ? LOG_ERROR : LOG_INFO;
    if (lv < min_level)
        return;
    static time_t last_sec = -1;
    static char when[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        last_sec = ts.tv_sec;
    }
    char b1[80], b2[80], b3[24], b4[512];
    json_object *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
    const char *rid = cur_request_id ? json_str(cur_request_id, b1, sizeof b1, &t1) : "null";
    const char *uid = cur_user_id ? json_str(cur_user_id, b2, sizeof b2, &t2) : "null";
    fprintf(stderr,
            "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"handler\":\"%s\",\"requestId\":%s,"
            "\"userId\":%s,\"method\":%s,\"path\":%s,\"status\":%d,\"durationMs\":%.3f}\n",
            when, ts.tv_nsec / 1000000, level_names[lv], handler_name, rid, uid,
            json_str(method ? method : "", b3, sizeof b3, &t3),
            json_str(path ? path : "", b4, sizeof b4, &t4), status, duration_ms);
    json_object_put(t1);
    json_object_put(t2);
    json_object_put(t3);
    json_object_put(t4);
}
