/* mail_outbox.h — the poller's side of mail: the outbox sent over SMTP (libcurl).
 *
 * rv_mail_enqueue (sql/functions/mail.sql) writes a mail in the transaction that
 * decides it; a pass here claims due rows (leased, so any number of pollers may
 * run), renders and builds each (mail.h), sends it to RV_SMTP_URL and records the
 * outcome: sent (never sent again), retried with capped exponential backoff and
 * jitter (a connection failure, TLS or authentication trouble, a 4xx answer, any
 * 5xx but 550..554), or failed for good (550..554: the mailbox refuses, e.g. an
 * unknown recipient; or after max_attempts). A URL that asks for STARTTLS is never
 * sent in clear: a server that does not offer it is a failure to retry. Delivery is at least once:
 * a poller that dies after the server accepted a mail and before the outcome is recorded leaves it
 * to be sent again when its lease runs out (same Message-ID). */
#ifndef RV_MAIL_OUTBOX_H
#define RV_MAIL_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "req.h"

typedef enum { MAIL_SENT, MAIL_RETRY, MAIL_REJECTED } mail_result;

typedef struct mail_smtp {
    const char *url; /* smtp:// or smtps://, may carry user:pass@ and ?starttls */
    bool starttls;   /* require STARTTLS (also when the URL has ?starttls) */
    long timeout_ms; /* whole exchange; 0 = 30 s */
} mail_smtp;

/* Sends one built message from `from` to `to` (bare addresses). err (may be NULL)
 * gets a short reason on failure, without credentials. */
mail_result mail_send(const mail_smtp *s, const char *from, const char *to, const char *message,
                      char *err, size_t err_len);

/* One pass over the due outbox: at most `limit` mails. Returns how many were sent
 * or given up. Does nothing while RV_SMTP_URL is unset. */
int mail_pass(rv_req *rq, const char *poller_id, int limit);

#endif
