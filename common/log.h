/* log.h — one JSON object per line on stderr (journald collects it).
 *
 * Every line carries time, level and handler, and while a request is being served
 * its request id and user id. Text passed in is escaped by json-c; never pass a
 * token, password, secret or request body. */
#ifndef RV_LOG_H
#define RV_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* handler: borrowed, must outlive the process (a string literal). */
void log_init(const char *handler);
void log_set_level(log_level min);
/* Both borrowed until log_clear_request(); NULL means absent. */
void log_set_request(const char *request_id, const char *user_id);
void log_clear_request(void);

void log_msg(log_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The access line of one request. */
void log_access(const char *method, const char *path, int status, double duration_ms);

#endif
