#include "mail_outbox.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mail.h"
#include "work.h"

/* ------------------------------------------------------------------ SMTP */

typedef struct {
    const char *p;
    size_t left;
} reader;

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    reader *r = ud;
    size_t k = size * n < r->left ? size * n : r->left;
    memcpy(buf, r->p, k);
    r->p += k;
    r->left -= k;
    return k;
}

/* The URL without its query, and whether the query asked for STARTTLS. The query
 * is ours, not curl's: an SMTP URL's path is the EHLO name and has no query. */
static bool split_url(const char *url, char *out, size_t out_len, bool *starttls)
{
    CURLU *u = curl_url();
    char *q = NULL, *plain = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
    if (ok && curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK && q) {
        *starttls = *starttls || strstr(q, "starttls") != NULL;
        curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    }
    ok = ok && curl_url_get(u, CURLUPART_URL, &plain, 0) == CURLUE_OK && strlen(plain) < out_len;
    if (ok)
        snprintf(out, out_len, "%s", plain);
    curl_free(q);
    curl_free(plain);
    curl_url_cleanup(u);
    return ok;
}

mail_result mail_send(const mail_smtp *s, const char *from, const char *to, const char *message,
                      char *err, size_t err_len)
{
    char url[2048], f[300], t[300];
    bool starttls = s->starttls;
    if (!split_url(s->url, url, sizeof url, &starttls)) {
        if (err)
            snprintf(err, err_len, "bad SMTP URL");
        return MAIL_RETRY;
    }
    snprintf(f, sizeof f, "<%s>", from);
    snprintf(t, sizeof t, "<%s>", to);
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, t);
    reader rd = {message, strlen(message)};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, f);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms > 0 ? s->timeout_ms : 30000L);
    if (starttls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        return MAIL_SENT;
    if (err) /* curl's messages never carry the URL's credentials */
        snprintf(err, err_len, "%s (SMTP %ld)", curl_easy_strerror(rc), code);
    /* Only the mailbox's refusals are final (550 no such user, 551, 552 over quota,
     * 553 bad address, 554 refused): another 5xx (530 authentication required, 500
     * syntax) says our settings are wrong, and every mail would be lost for it. */
    return code >= 550 && code <= 554 ? MAIL_REJECTED : MAIL_RETRY;
}

/* ------------------------------------------------------------------ outbox */

static const db_stmt claim = {"SELECT id, to_addr, to_name, template, data, attempts, message_id"
                              "  FROM rv_outbox_claim($1, $2, $3, $4)",
                              4};
static const db_stmt sent = {"SELECT rv_outbox_sent($1)", 1};
static const db_stmt resets = {"SELECT rv_reset_requests_process($1)", 1};
static const db_stmt retry = {"SELECT rv_outbox_retry($1, $2, $3, $4)", 4};

static void record_failure(rv_req *rq, const char *id, const char *why, int attempts,
                           bool permanent)
{
    double in = work_backoff(attempts, 0, randombytes_uniform(1000) / 1000.0);
    const char *p[] = {id, why, arena_printf(rq->a, "%.1f", in), permanent ? "t" : "f"};
    PGresult *r;
    if (db_query(rq, &retry, p, &r) == RV_OK)
        log_msg(permanent || (db_get(r, 0, 0) && !strcmp(db_get(r, 0, 0), "failed")) ? LOG_WARN
                                                                                     : LOG_INFO,
                "mail %s not sent (attempt %d): %s", id, attempts, why);
}

/* One claimed row: render, build, send, record. */
static int send_one(rv_req *rq, const PGresult *r, int i)
{
    const char *id = db_get(r, i, 0), *to = db_get(r, i, 1), *name = db_get(r, i, 2);
    const char *tmpl = db_get(r, i, 3);
    int attempts = (int)db_get_long(r, i, 5);
    json_object *data = json_tokener_parse(db_get(r, i, 4));
    if (data)
        req_keep(rq, data);
    mail_content mc;
    if (!mail_render(rq->a, tmpl, name, data, config->public_url, &mc)) {
        record_failure(rq, id, "the template cannot be rendered from its data", attempts, true);
        return 1;
    }
    mail_msg m = {.from_addr = config->mail_from,
                  .from_name = config->mail_from_name,
                  .to_addr = to,
                  .to_name = name,
                  .subject = mc.subject,
                  .text = mc.text,
                  .html = mc.html,
                  .message_id = db_get(r, i, 6)};
    const char *msg = mail_build(rq->a, &m);
    if (!msg) {
        record_failure(rq, id, "the address cannot be used", attempts, true);
        return 1;
    }
    char why[256];
    mail_smtp s = {.url = config->smtp_url, .starttls = config->smtp_starttls};
    mail_result res = mail_send(&s, config->mail_from, to, msg, why, sizeof why);
    if (res != MAIL_SENT) {
        record_failure(rq, id, why, attempts, res == MAIL_REJECTED);
        return res == MAIL_REJECTED;
    }
    /* Accepted by the server. Until this commits, a crash means one more send. */
    const char *p[] = {id};
    if (db_query(rq, &sent, p, NULL) != RV_OK)
        log_msg(LOG_WARN, "mail %s sent but not recorded: it may be sent again", id);
    log_msg(LOG_INFO, "mail %s (%s) sent", id, tmpl);
    return 1;
}

int mail_pass(rv_req *rq, const char *poller_id, int limit)
{
    if (!config->smtp_url)
        return 0;
    const char *at = strchr(config->mail_from, '@');
    /* The lease outlasts the whole batch at its worst (every send timing out), so a
     * mail is not taken by another poller while this one may still send it. */
    const char *p[] = {poller_id, arena_printf(rq->a, "%d", limit),
                       arena_printf(rq->a, "%d", limit * 45 + 30), at ? at + 1 : "localhost"};
    PGresult *r;
    int moved = 0;
    /* Password-reset requests first: each becomes a mail of the outbox (or nothing,
     * for an email without an account). */
    const char *rp[] = {"50"};
    if (db_query(rq, &resets, rp, &r) == RV_OK)
        moved += (int)db_get_long(r, 0, 0);
    if (db_query(rq, &claim, p, &r) != RV_OK)
        return moved;
    for (int i = 0; i < PQntuples(r); i++)
        moved += send_one(rq, r, i);
    return moved;
}
