/* db.h — the worker's one PostgreSQL connection and the request's transaction.
 *
 * The connection opens on first use and reconnects after a failure. Statements are
 * declared by handlers as static db_stmt values and prepared once per connection;
 * under RV_DB_POOLER=transaction (a transaction pooler) they are sent unnamed.
 * Every transaction first sets `reelvox.user_id` and `reelvox.role` locally, for
 * row level security.
 *
 * db_query() is the fast path: context and one statement travel in one libpq
 * pipeline, which PostgreSQL runs as one implicit transaction: one round trip.
 * db_begin()/db_exec()/db_commit() run a multi-statement transaction. If the
 * connection turns out dead before anything of the transaction ran, both reconnect
 * and retry once, so a restarted database costs no request. Results are registered
 * on the request arena. Errors: RV_E_UNAVAILABLE when the database cannot be
 * reached, RV_E_INTERNAL for a failed statement (db_sqlstate() tells which). */
#ifndef RV_DB_H
#define RV_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "req.h"

typedef struct db_stmt {
    const char *sql;
    int n_params;
} db_stmt;

rv_err db_query(rv_req *rq, const db_stmt *st, const char *const *params, PGresult **out);

/* Who statements run for, for code that has no HTTP request (the data layer, the
 * poller): the arena results are registered on (borrowed) and the row level
 * security context of the transaction (reelvox.user_id, reelvox.role). */
typedef struct db_ctx {
    arena *a;
    const char *user_id; /* NULL: none (anonymous) */
    const char *role;    /* NULL: "anonymous" */
} db_ctx;

/* The request's context: its arena, user and role. */
db_ctx db_ctx_of(const rv_req *rq);
/* db_query() for a context: the same fast path, transaction and errors. */
rv_err db_run(const db_ctx *c, const db_stmt *st, const char *const *params, PGresult **out);

/* st run n times, once per params[i], in one round trip: each run its own
 * transaction with the context (one failing does not undo another). out[i] gets
 * run i's result (registered on the context's arena), or NULL when it failed.
 * Returns RV_OK when every run succeeded, RV_E_INTERNAL when some failed, or
 * RV_E_UNAVAILABLE when the connection broke (out[i] NULL from there on). Inside a
 * db_begin() transaction the runs go one by one in it. */
rv_err db_run_batch(const db_ctx *c, const db_stmt *st, int n, const char *const *const *params,
                    PGresult **out);

/* Connects with conninfo (borrowed, must outlive the process's use of the
 * database) instead of RV_DATABASE_URL from now on: the poller's own role. */
void db_set_url(const char *conninfo);

rv_err db_begin(rv_req *rq);
rv_err db_exec(rv_req *rq, const db_stmt *st, const char *const *params, PGresult **out);
rv_err db_commit(rv_req *rq);
/* Rolls back an open transaction; harmless when none is open. */
void db_rollback(rv_req *rq);
/* Whether a transaction begun by db_begin() is still open. */
bool db_in_transaction(void);

/* SQLSTATE of the last failed statement of this request ("23505"), "" when none. */
const char *db_sqlstate(void);
/* What the last failed statement of this request was, for logs (never for
 * clients): "SQLSTATE 23505: duplicate key value violates unique constraint
 * \"users_email_key\" (constraint users_email_key)". Never the server's DETAIL,
 * HINT or CONTEXT, which quote row values; for a data exception (class 22) only
 * the SQLSTATE. "" when none. */
const char *db_error(void);
/* Forgets the last error; the serve loop calls it as every request starts, so a
 * request never logs another's error. */
void db_error_clear(void);
/* Records an error as a failed statement does (exposed for tests). Any may be NULL. */
void db_error_note(const char *sqlstate, const char *primary, const char *constraint);

/* A cell as a string (NULL for SQL NULL). */
const char *db_get(const PGresult *r, int row, int col);
long db_get_long(const PGresult *r, int row, int col);

/* Whether the database answers (for /healthz). */
bool db_ping(rv_req *rq);

/* Closes the connection (tests, shutdown). */
void db_close(void);

/* LISTENs on channel now and again after every reconnect. At most 4 channels. With
 * RV_LISTEN_DATABASE_URL, or under RV_DB_POOLER=transaction, over a connection of
 * its own (to that URL; under the pooler without it, nowhere: the wait only times
 * out). */
rv_err db_listen(rv_req *rq, const char *channel);
/* Waits up to timeout_ms for notifications; drains them all. Returns how many came
 * (0 on timeout or when the connection is down: the caller's sweep covers it).
 * wake_fd (-1: none) ends the wait as soon as it is readable: the poller's
 * self-pipe, written by its stop signal handler. */
int db_wait_notify(int timeout_ms, int wake_fd);

/* In a freshly forked child: forgets the parent's connection without closing it
 * (closing would end the parent's session), so the child opens its own. */
void db_forget_after_fork(void);

#endif
