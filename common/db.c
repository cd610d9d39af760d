#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

enum { MAX_STMTS = 64 };

static PGconn *conn;
static PGconn *listen_conn;  /* LISTEN's own, when RV_LISTEN_DATABASE_URL or a pooler */
static const char *conn_url; /* NULL: config->database_url */
static const db_stmt *prepared[MAX_STMTS]; /* index i is prepared as "s<i>" */
static int n_prepared;
static bool in_tx;
static const char *channels[4];
static int n_channels;
static char last_state[6];
static char last_error[256];

static const db_stmt ctx_stmt = {
    "SELECT set_config('reelvox.user_id', $1, true), set_config('reelvox.role', $2, true)", 2};

void db_error_clear(void)
{
    last_state[0] = '\0';
    last_error[0] = '\0';
}

void db_error_note(const char *sqlstate, const char *primary, const char *constraint)
{
    snprintf(last_state, sizeof last_state, "%s", sqlstate ? sqlstate : "");
    /* A data exception's message quotes the input ("invalid input syntax for type
     * uuid: \"...\""): only its SQLSTATE is kept. */
    if (!sqlstate || !strncmp(sqlstate, "22", 2))
        primary = NULL;
    size_t n = (size_t)snprintf(last_error, sizeof last_error, "SQLSTATE %s",
                                sqlstate && *sqlstate ? sqlstate : "none");
    if (primary && n < sizeof last_error)
        n += (size_t)snprintf(last_error + n, sizeof last_error - n, ": %.*s",
                              (int)strcspn(primary, "\n"), primary);
    if (constraint && n < sizeof last_error)
        snprintf(last_error + n, sizeof last_error - n, " (constraint %s)", constraint);
}

/* What a failed statement leaves for the log: its SQLSTATE, primary message and
 * constraint, never the DETAIL, HINT or CONTEXT lines of PQresultErrorMessage(),
 * which quote row values ("Key (email)=(ann@example.com) already exists"). A
 * failure without a server answer (connection lost) keeps libpq's own message. */
static void remember_error(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (st) {
        db_error_note(st, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
                      PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME));
        return;
    }
    const char *msg = r ? PQresultErrorMessage(r) : (conn ? PQerrorMessage(conn) : NULL);
    last_state[0] = '\0';
    snprintf(last_error, sizeof last_error, "%.*s", msg ? (int)strcspn(msg, "\n") : 13,
             msg ? msg : "no connection");
}

const char *db_sqlstate(void)
{
    return last_state;
}
const char *db_error(void)
{
    return last_error;
}

void db_close(void)
{
    if (conn)
        PQfinish(conn);
    conn = NULL;
    n_prepared = 0;
    in_tx = false;
}

/* Whether LISTEN goes over a connection of its own: under a transaction pooler a
 * LISTEN would stay on whichever server connection ran it, and the notifications
 * would reach other clients of the pool (or nobody). */
static bool listen_apart(void)
{
    return config->listen_database_url || config->db_pooler_transaction;
}

static void listen_all(PGconn *c)
{
    for (int i = 0; i < n_channels; i++) {
        char *q = PQescapeIdentifier(c, channels[i], strlen(channels[i]));
        char sql[128];
        snprintf(sql, sizeof sql, "LISTEN %s", q ? q : "\"\"");
        PQfreemem(q);
        PGresult *r = PQexec(c, sql);
        PQclear(r);
    }
}

static bool connect_db(void)
{
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return true;
    db_close();
    conn = PQconnectdb(conn_url ? conn_url : config->database_url);
    if (PQstatus(conn) != CONNECTION_OK) {
        log_msg(LOG_ERROR, "database connection failed: %s", PQerrorMessage(conn));
        snprintf(last_error, sizeof last_error, "connection failed");
        db_close();
        return false;
    }
    if (!listen_apart())
        listen_all(conn);
    return true;
}

/* Index of st among the prepared statements, or -1. */
static int stmt_index(const db_stmt *st)
{
    for (int i = 0; i < n_prepared; i++)
        if (prepared[i] == st)
            return i;
    return -1;
}

static bool is_goodbye(const PGresult *r);

/* Index of st as prepared on this connection (preparing it now if need be); -1 when
 * the server refused it, -2 when the connection turned out dead (nothing ran). */
static int prepare(const db_stmt *st)
{
    if (config->db_pooler_transaction)
        return 0; /* sent unnamed: see send_stmt() */
    int i = stmt_index(st);
    if (i >= 0)
        return i;
    if (n_prepared == MAX_STMTS) {
        log_msg(LOG_ERROR, "more than %d prepared statements", MAX_STMTS);
        return -1;
    }
    char name[16];
    snprintf(name, sizeof name, "s%d", n_prepared);
    PGresult *r = PQprepare(conn, name, st->sql, st->n_params, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK, lost = !ok && (!r || is_goodbye(r));
    if (!ok) {
        remember_error(r);
        if (!lost)
            log_msg(LOG_ERROR, "prepare failed: %s", last_error);
    }
    PQclear(r);
    if (lost)
        return -2;
    if (!ok)
        return -1;
    prepared[n_prepared] = st;
    return n_prepared++;
}

/* Sends st as statement i prepared on this connection, or, under a transaction
 * pooler (RV_DB_POOLER=transaction), unnamed: parsed afresh in the same pipeline,
 * since a name prepared on one server connection is unknown on the next. */
static int send_stmt(const db_stmt *st, int i, const char *const *params)
{
    if (config->db_pooler_transaction)
        return PQsendQueryParams(conn, st->sql, st->n_params, NULL, params, NULL, NULL, 0);
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    return PQsendQueryPrepared(conn, name, st->n_params, params, NULL, NULL, 0);
}

static PGresult *exec_stmt(const db_stmt *st, int i, const char *const *params)
{
    if (config->db_pooler_transaction)
        return PQexecParams(conn, st->sql, st->n_params, NULL, params, NULL, NULL, 0);
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    return PQexecPrepared(conn, name, st->n_params, params, NULL, NULL, 0);
}

static bool conn_lost(void)
{
    return !conn || PQstatus(conn) != CONNECTION_OK;
}

void db_set_url(const char *conninfo)
{
    conn_url = conninfo;
    db_close();
}

db_ctx db_ctx_of(const rv_req *rq)
{
    return (db_ctx){.a = rq->a, .user_id = rq->user_id, .role = rq->role};
}

static void ctx_params(const db_ctx *c, const char *p[2])
{
    p[0] = c->user_id ? c->user_id : "";
    p[1] = c->role ? c->role : "anonymous";
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

static void clear_result(void *r)
{
    PQclear(r);
}

static void keep_result(const db_ctx *c, PGresult *r, PGresult **out)
{
    if (out) {
        arena_defer(c->a, clear_result, r);
        *out = r;
    } else {
        PQclear(r);
    }
}

/* Whether r is the server ending the session rather than answering a statement:
 * a connection-level failure, or severity FATAL/PANIC (57P01 when a restart
 * closed an idle connection). libpq may not have read the EOF that follows yet,
 * so PQstatus alone misses it: after `pg_ctl restart -m immediate` the first
 * command on an old connection comes back as libpq's own "server closed the
 * connection unexpectedly", with no SQLSTATE, while PQstatus still says OK. An
 * error the server sent always carries a SQLSTATE; one without is libpq's, about
 * the connection. The session's transaction dies with it. */
static bool is_goodbye(const PGresult *r)
{
    if (PQresultStatus(r) != PGRES_FATAL_ERROR)
        return false;
    if (conn_lost())
        return true;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state || !*state || !strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
        !strcmp(state, "57P02") || !strcmp(state, "57P03"))
        return true;
    return sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC"));
}

/* Sends ctx (+ st) as one pipeline and reads the results. Returns RV_OK, or
 * RV_E_UNAVAILABLE when the connection broke, RV_E_INTERNAL on a failed statement. */
static rv_err pipeline(const db_ctx *c, const db_stmt *st, const char *const *params,
                       PGresult **out, bool begin, bool *answered)
{
    int ci = prepare(&ctx_stmt), si = ci >= 0 && st ? prepare(st) : -1;
    if (ci == -2 || si == -2)
        return RV_E_UNAVAILABLE; /* nothing ran: answered stays false, so retried */
    if (ci < 0 || (st && si < 0))
        return conn_lost() ? RV_E_UNAVAILABLE : RV_E_INTERNAL;
    const char *cp[2];
    ctx_params(c, cp);

    if (!PQenterPipelineMode(conn))
        return RV_E_UNAVAILABLE;
    bool sent = (!begin || PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) &&
                send_stmt(&ctx_stmt, ci, cp) && (!st || send_stmt(st, si, params)) &&
                PQpipelineSync(conn);
    rv_err er = sent ? RV_OK : RV_E_UNAVAILABLE;
    int expect = (begin ? 1 : 0) + 1 + (st ? 1 : 0);
    for (int i = 0; sent && i <= expect; i++) {
        PGresult *r = PQgetResult(conn);
        if (!r) {
            er = RV_E_UNAVAILABLE;
            break;
        }
        ExecStatusType s = PQresultStatus(r);
        bool goodbye = is_goodbye(r);
        /* Neither the server's goodbye nor the PIPELINE_ABORTED placeholders libpq
         * queues behind it are answers: the pipeline's transaction never
         * committed, so running it again on a new connection is safe. */
        if (!goodbye && s != PGRES_PIPELINE_ABORTED)
            *answered = true;
        if (s == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (!result_ok(r) && er == RV_OK) {
            remember_error(r);
            er = goodbye ? RV_E_UNAVAILABLE : RV_E_INTERNAL;
        }
        if (st && i == expect - 1 && result_ok(r))
            keep_result(c, r, out);
        else
            PQclear(r);
        PGresult *sep = PQgetResult(conn); /* NULL between commands */
        if (sep)
            PQclear(sep);
    }
    if (conn_lost())
        return RV_E_UNAVAILABLE;
    if (!PQexitPipelineMode(conn)) {
        /* Leftovers mean we lost track of the protocol: start afresh. */
        db_close();
        return RV_E_UNAVAILABLE;
    }
    return er;
}

static rv_err with_retry(const db_ctx *c, const db_stmt *st, const char *const *params,
                         PGresult **out, bool begin)
{
    /* Retry only when the server answered nothing: then it ran nothing either
     * (an idle connection that a database restart closed). */
    rv_err er = RV_E_UNAVAILABLE;
    bool answered = false;
    for (int attempt = 0; attempt < 2 && er == RV_E_UNAVAILABLE && !answered; attempt++) {
        if (!connect_db())
            return RV_E_UNAVAILABLE;
        er = pipeline(c, st, params, out, begin, &answered);
        if (er == RV_E_UNAVAILABLE) {
            log_msg(LOG_WARN, "database connection lost; reconnecting");
            db_close();
        }
    }
    return er;
}

static rv_err exec_in_tx(const db_ctx *c, const db_stmt *st, const char *const *params,
                         PGresult **out);

rv_err db_run(const db_ctx *c, const db_stmt *st, const char *const *params, PGresult **out)
{
    if (in_tx)
        return exec_in_tx(c, st, params, out);
    return with_retry(c, st, params, out, false);
}

/* The results of one run of a batch: ctx, st, then the sync. Returns st's result
 * (kept on c's arena) or NULL; *lost when the connection turned out gone. */
static PGresult *batch_one(const db_ctx *c, bool *answered, bool *lost)
{
    PGresult *keep = NULL;
    int seen = 0, nulls = 0;
    for (;;) {
        PGresult *r = PQgetResult(conn);
        if (!r) {
            if (++nulls > 2 || conn_lost()) { /* nothing more will come */
                *lost = true;
                break;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        bool goodbye = is_goodbye(r);
        if (!goodbye && s != PGRES_PIPELINE_ABORTED)
            *answered = true;
        if (goodbye)
            *lost = true;
        if (!result_ok(r) && s != PGRES_PIPELINE_ABORTED)
            remember_error(r);
        if (seen++ == 1 && result_ok(r))
            keep = r;
        else
            PQclear(r);
    }
    if (keep)
        keep_result(c, keep, &keep);
    return keep;
}

static rv_err batch(const db_ctx *c, const db_stmt *st, int n, const char *const *const *params,
                    PGresult **out, bool *answered)
{
    int ci = prepare(&ctx_stmt), si = ci >= 0 ? prepare(st) : -1;
    if (ci == -2 || si == -2)
        return RV_E_UNAVAILABLE;
    if (ci < 0 || si < 0)
        return conn_lost() ? RV_E_UNAVAILABLE : RV_E_INTERNAL;
    const char *cp[2];
    char cname[16], sname[16];
    ctx_params(c, cp);
    snprintf(cname, sizeof cname, "s%d", ci);
    snprintf(sname, sizeof sname, "s%d", si);
    if (!PQenterPipelineMode(conn))
        return RV_E_UNAVAILABLE;
    bool sent = true;
    for (int i = 0; i < n && sent; i++)
        sent = PQsendQueryPrepared(conn, cname, 2, cp, NULL, NULL, 0) &&
               PQsendQueryPrepared(conn, sname, st->n_params, params[i], NULL, NULL, 0) &&
               PQpipelineSync(conn);
    sent = sent && PQflush(conn) == 0;
    rv_err er = sent ? RV_OK : RV_E_UNAVAILABLE;
    bool lost = !sent;
    for (int i = 0; i < n; i++) {
        out[i] = lost ? NULL : batch_one(c, answered, &lost);
        if (!out[i] && er == RV_OK)
            er = RV_E_INTERNAL;
    }
    if (lost || conn_lost())
        return RV_E_UNAVAILABLE;
    if (!PQexitPipelineMode(conn)) {
        db_close();
        return RV_E_UNAVAILABLE;
    }
    return er;
}

rv_err db_run_batch(const db_ctx *c, const db_stmt *st, int n, const char *const *const *params,
                    PGresult **out)
{
    if (n <= 0)
        return RV_OK;
    if (in_tx) {
        rv_err all = RV_OK;
        for (int i = 0; i < n; i++)
            if (exec_in_tx(c, st, params[i], &out[i]) != RV_OK) {
                out[i] = NULL;
                all = RV_E_INTERNAL;
            }
        return all;
    }
    /* Retried only when the server answered nothing (as with_retry()). */
    rv_err er = RV_E_UNAVAILABLE;
    bool answered = false;
    for (int attempt = 0; attempt < 2 && er == RV_E_UNAVAILABLE && !answered; attempt++) {
        if (!connect_db())
            break;
        er = batch(c, st, n, params, out, &answered);
        if (er == RV_E_UNAVAILABLE) {
            log_msg(LOG_WARN, "database connection lost; reconnecting");
            db_close();
        }
    }
    if (er == RV_E_UNAVAILABLE)
        for (int i = 0; i < n; i++)
            if (!answered)
                out[i] = NULL;
    return er;
}

rv_err db_query(rv_req *rq, const db_stmt *st, const char *const *params, PGresult **out)
{
    db_ctx c = db_ctx_of(rq);
    return db_run(&c, st, params, out);
}

rv_err db_begin(rv_req *rq)
{
    if (in_tx)
        return RV_E_INTERNAL;
    db_ctx c = db_ctx_of(rq);
    rv_err er = with_retry(&c, NULL, NULL, NULL, true);
    in_tx = er == RV_OK;
    if (er == RV_E_INTERNAL)
        db_rollback(rq);
    return er;
}

rv_err db_exec(rv_req *rq, const db_stmt *st, const char *const *params, PGresult **out)
{
    db_ctx c = db_ctx_of(rq);
    return exec_in_tx(&c, st, params, out);
}

static rv_err exec_in_tx(const db_ctx *c, const db_stmt *st, const char *const *params,
                         PGresult **out)
{
    if (!conn)
        return RV_E_UNAVAILABLE;
    int i = prepare(st);
    if (i < 0)
        return i == -2 || conn_lost() ? RV_E_UNAVAILABLE : RV_E_INTERNAL;
    PGresult *r = exec_stmt(st, i, params);
    if (!result_ok(r)) {
        remember_error(r);
        bool lost = !r || is_goodbye(r);
        PQclear(r);
        return lost || conn_lost() ? RV_E_UNAVAILABLE : RV_E_INTERNAL;
    }
    keep_result(c, r, out);
    return RV_OK;
}

rv_err db_commit(rv_req *rq)
{
    (void)rq;
    if (!in_tx || !conn)
        return RV_E_INTERNAL;
    in_tx = false;
    PGresult *r = PQexec(conn, "COMMIT");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK, lost = !ok && (!r || is_goodbye(r));
    if (!ok)
        remember_error(r);
    PQclear(r);
    if (ok)
        return RV_OK;
    return lost || conn_lost() ? RV_E_UNAVAILABLE : RV_E_INTERNAL;
}

void db_rollback(rv_req *rq)
{
    (void)rq;
    in_tx = false;
    if (!conn || PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    PQclear(PQexec(conn, "ROLLBACK"));
}

bool db_in_transaction(void)
{
    return in_tx || (conn && PQtransactionStatus(conn) != PQTRANS_IDLE &&
                     PQtransactionStatus(conn) != PQTRANS_UNKNOWN);
}

const char *db_get(const PGresult *r, int row, int col)
{
    if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

long db_get_long(const PGresult *r, int row, int col)
{
    const char *v = db_get(r, row, col);
    return v ? strtol(v, NULL, 10) : 0;
}

bool db_ping(rv_req *rq)
{
    static const db_stmt ping = {"SELECT 1", 0};
    return db_query(rq, &ping, NULL, NULL) == RV_OK;
}

static void listen_close(void)
{
    if (listen_conn)
        PQfinish(listen_conn);
    listen_conn = NULL;
}

/* The connection notifications come on, LISTENing on every channel: the statement
 * connection, or one of its own (listen_apart()) to RV_LISTEN_DATABASE_URL (else
 * the process's own URL, unless that is a transaction pooler's). NULL when down or
 * when there is none: the caller sweeps on its timer. */
static PGconn *listen_connect(void)
{
    if (!listen_apart())
        return connect_db() ? conn : NULL;
    if (listen_conn && PQstatus(listen_conn) == CONNECTION_OK)
        return listen_conn;
    listen_close();
    const char *url = config->listen_database_url;
    if (!url && config->db_pooler_transaction)
        return NULL;
    listen_conn = PQconnectdb(url ? url : conn_url ? conn_url : config->database_url);
    if (PQstatus(listen_conn) != CONNECTION_OK) {
        log_msg(LOG_ERROR, "database connection for LISTEN failed: %s",
                PQerrorMessage(listen_conn));
        listen_close();
        return NULL;
    }
    listen_all(listen_conn);
    return listen_conn;
}

rv_err db_listen(rv_req *rq, const char *channel)
{
    (void)rq;
    if (n_channels == 4)
        return RV_E_INTERNAL;
    channels[n_channels++] = channel;
    if (listen_apart()) {
        listen_close(); /* the next connect LISTENs on every channel */
        if (!config->listen_database_url && config->db_pooler_transaction) {
            log_msg(LOG_WARN, "RV_DB_POOLER=transaction without RV_LISTEN_DATABASE_URL: "
                              "not listening, sweeping on a timer");
            return RV_OK;
        }
        return listen_connect() ? RV_OK : RV_E_UNAVAILABLE;
    }
    db_close(); /* the next connect LISTENs on every channel */
    return connect_db() ? RV_OK : RV_E_UNAVAILABLE;
}

int db_wait_notify(int timeout_ms, int wake_fd)
{
    /* wake_fd (a self-pipe a signal handler writes to) ends the wait at once, so a
     * stop signal that arrives between the caller's check and this wait is not
     * slept through. */
    struct pollfd pfd[2] = {{.fd = -1, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    PGconn *c = listen_connect();
    if (!c) {
        /* Down: still wait, or the caller's loop spins (and logs) flat out. */
        poll(&pfd[1], 1, timeout_ms);
        return 0;
    }
    int n = 0;
    PGnotify *note;
    PQconsumeInput(c);
    while ((note = PQnotifies(c))) {
        PQfreemem(note);
        n++;
    }
    if (n)
        return n;
    pfd[0].fd = PQsocket(c);
    if (poll(pfd, 2, timeout_ms) <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return 0;
    if (!PQconsumeInput(c)) {
        if (c == conn)
            db_close();
        else
            listen_close();
        return 0;
    }
    while ((note = PQnotifies(c))) {
        PQfreemem(note);
        n++;
    }
    return n;
}

void db_forget_after_fork(void)
{
    conn = NULL;
    listen_conn = NULL;
    n_prepared = 0;
    in_tx = false;
}
