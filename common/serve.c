#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "fcgi.h"
#include "log.h"
#include "metrics.h"
#include "resp.h"
#include "session.h"
#include "storage.h"
#include "upload.h"

enum {
    MAX_WORKERS = 256,
    MAX_CONNS = 512,    /* FastCGI connections one worker serves at once */
    ACCEPT_BURST = 16,  /* connections taken per wake: the other workers get theirs */
    READ_CHUNK = 65536, /* bytes read from a connection per wake */
    WRITE_WAIT_MS = 30000,
};

static volatile sig_atomic_t stopping;
/* The signal mask inside the waits: the stop signals let through (see
 * serve_stop_signals()). */
static sigset_t wait_mask;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void on_child(int sig)
{
    (void)sig; /* only ends the supervisor's sigsuspend() */
}

/* The stop signals (and, for the supervisor, SIGCHLD) are blocked everywhere but
 * inside the one wait of each loop (ppoll() or sigsuspend() with wait_mask), so a
 * signal that comes between the check of `stopping` and the wait is held and ends
 * the wait at once instead of being lost in that window. */
static void block_signals(bool chld)
{
    struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGINT);
    if (chld) {
        struct sigaction sc = {.sa_handler = on_child};
        sigemptyset(&sc.sa_mask);
        sigaction(SIGCHLD, &sc, NULL);
        sigaddset(&held, SIGCHLD);
    }
    sigset_t old;
    sigprocmask(SIG_BLOCK, &held, &old);
    wait_mask = old;
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGCHLD);
}

void serve_stop_signals(void)
{
    block_signals(false);
}

bool serve_stopping(void)
{
    return stopping;
}

int serve_wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!stopping) {
        int n = ppoll(&pfd, 1, NULL, &wait_mask);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {{RV_GET, "GET"},
               {RV_POST, "POST"},
               {RV_PUT, "PUT"},
               {RV_PATCH, "PATCH"},
               {RV_DELETE, "DELETE"}};

static unsigned method_bit(const char *m)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (m && !strcmp(methods[i].name, m))
            return methods[i].bit;
    if (m && !strcmp(m, "HEAD"))
        return RV_GET;
    return 0;
}

static const char *allow_header(rv_req *rq, unsigned allowed)
{
    char *s = arena_strdup(rq->a, "");
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (allowed & methods[i].bit)
            s = arena_printf(rq->a, "%s%s%s", s, *s ? ", " : "", methods[i].name);
    return s;
}

static bool is_json_type(const char *ct)
{
    static const char json[] = "application/json";
    if (!ct || strncasecmp(ct, json, sizeof json - 1))
        return false;
    char next = ct[sizeof json - 1];
    return next == '\0' || next == ';' || next == ' ';
}

static rv_err authenticate(const rv_endpoint *ep, rv_req *rq)
{
    const char *token = NULL;
    const char *h = req_param(rq, "HTTP_AUTHORIZATION");
    if (h && !strncasecmp(h, "Bearer ", 7))
        token = h + 7;
    else if (!h)
        token = req_cookie(rq, "rv_access");
    if (!token || !*token) {
        if (!(ep->flags & (RV_AUTH | RV_ADMIN)))
            return RV_OK;
        return req_fail(rq, RV_E_UNAUTHORIZED, "a valid access token is required");
    }
    auth_claims c;
    rv_err er = auth_verify_access(token, time(NULL), &c);
    if (er != RV_OK) {
        if (!(ep->flags & (RV_AUTH | RV_ADMIN)))
            return RV_OK; /* public endpoints ignore a stale token */
        return req_fail(rq, er,
                        er == RV_E_TOKEN_EXPIRED ? "the access token has expired"
                                                 : "the access token is invalid");
    }
    rq->user_id = arena_strdup(rq->a, c.user_id);
    rq->role = arena_strdup(rq->a, c.role);
    rq->session_id = arena_strdup(rq->a, c.session_id);
    rq->access_token = token;
    log_set_request(rq->request_id, rq->user_id);
    /* A signed token is not enough: its session must not have ended. (Public
     * endpoints that look at a token, logout, take it as a hint only.) */
    if ((ep->flags & (RV_AUTH | RV_ADMIN)) && (er = session_check(rq)) != RV_OK)
        return er == RV_E_UNAUTHORIZED ? req_fail(rq, er, "the session has ended") : er;
    if ((ep->flags & RV_ADMIN) && strcmp(c.role, "admin"))
        return req_fail(rq, RV_E_FORBIDDEN, "administrators only");
    return RV_OK;
}

/* Everything before the handler: route, method, body, auth. */
static rv_err prepare_request(const rv_endpoint *ep, rv_req *rq)
{
    if (!rq->path || !req_route_match(rq, ep->route, rq->path))
        return req_fail(rq, RV_E_NOT_FOUND, "no such resource");
    unsigned bit = method_bit(rq->method);
    rq->method_bit = bit;
    if (!(bit & ep->methods)) {
        resp_header(rq, "Allow", allow_header(rq, ep->methods));
        return req_fail(rq, RV_E_METHOD_NOT_ALLOWED, "%s is not allowed here",
                        rq->method ? rq->method : "this method");
    }
    if (rq->body_len > ep->body_limit)
        return req_fail(rq, RV_E_PAYLOAD_TOO_LARGE, "the body is limited to %zu bytes",
                        ep->body_limit);
    if (rq->body_len && !(ep->flags & RV_RAW_BODY) && !is_json_type(rq->content_type))
        return req_fail(rq, RV_E_UNSUPPORTED_MEDIA, "the body must be application/json");
    return authenticate(ep, rq);
}

void serve_request(const rv_endpoint *ep, rv_req *rq)
{
    log_set_request(rq->request_id, NULL);
    db_error_clear();
    rv_err er = prepare_request(ep, rq);
    if (er == RV_OK)
        er = ep->handle(rq);
    if (db_in_transaction()) {
        if (er == RV_OK)
            log_msg(LOG_WARN, "handler left a transaction open; rolled back");
        db_rollback(rq);
    }
    if (er == RV_E_INTERNAL)
        log_msg(LOG_ERROR, "internal error%s%s", *db_error() ? ": " : "", db_error());
    if (er != RV_OK)
        resp_problem(rq, er);
    else if (!rq->status)
        resp_empty(rq, 204);
}

/* Reads CONTENT_LENGTH bytes with read_fn; false answers 400/413 in rq. */
typedef int (*read_fn)(void *ctx, char *buf, int n);

/* RV_BODY_FILE: nginx has written the body to a file and passes only its path.
 * The path is checked before anything touches it: only nginx can reach the
 * socket, but a path is never trusted blindly. */
static rv_err read_body_file(rv_req *rq)
{
    const char *path = req_param(rq, "REQUEST_BODY_FILE");
    if (!path || !*path) {
        const char *cl = req_param(rq, "CONTENT_LENGTH");
        if (cl && *cl && strcmp(cl, "0")) {
            log_msg(LOG_ERROR, "a body came without REQUEST_BODY_FILE: the nginx location "
                               "must write it to a file (client_body_in_file_only)");
            return RV_E_INTERNAL;
        }
        return RV_OK; /* no body */
    }
    struct stat st;
    if (!upload_path_ok(config->upload_dir, path) || lstat(path, &st) != 0 ||
        !S_ISREG(st.st_mode)) {
        log_msg(LOG_ERROR, "REQUEST_BODY_FILE is not a file nginx wrote in RV_UPLOAD_DIR (%s)",
                config->upload_dir);
        return RV_E_INTERNAL;
    }
    rq->body_file = path;
    rq->body_len = (size_t)st.st_size;
    return RV_OK;
}

static rv_err read_body(const rv_endpoint *ep, rv_req *rq, read_fn rd, void *ctx)
{
    if (ep->flags & RV_BODY_FILE)
        return read_body_file(rq);
    const char *cl = req_param(rq, "CONTENT_LENGTH");
    if (!cl || !*cl)
        return RV_OK;
    char *end;
    errno = 0;
    long long n = strtoll(cl, &end, 10);
    if (errno || *end || n < 0)
        return req_fail(rq, RV_E_VALIDATION, "invalid Content-Length");
    if (n == 0)
        return RV_OK;
    if ((unsigned long long)n > ep->body_limit) {
        rq->body_len = (size_t)n; /* prepare_request answers 413 */
        return RV_OK;
    }
    char *buf = arena_alloc(rq->a, (size_t)n + 1);
    long long got = 0;
    while (got < n) {
        int r = rd(ctx, buf + got, (int)(n - got));
        if (r <= 0)
            return req_fail(rq, RV_E_VALIDATION, "the body ended early");
        got += r;
    }
    buf[n] = '\0';
    rq->body = buf;
    rq->body_len = (size_t)n;
    return RV_OK;
}

static void init_req(rv_req *rq, arena *a, char **env)
{
    memset(rq, 0, sizeof *rq);
    rq->a = a;
    rq->env = env;
    rq->method = req_param(rq, "REQUEST_METHOD");
    rq->path = req_param(rq, "DOCUMENT_URI");
    if (!rq->path)
        rq->path = req_param(rq, "PATH_INFO");
    rq->query = req_param(rq, "QUERY_STRING");
    rq->request_id = req_param(rq, "REQUEST_ID");
    rq->content_type = req_param(rq, "CONTENT_TYPE");
}

/* noinline: `make bench` counts instructions per request by this symbol. */
__attribute__((noinline)) static void handle_one(const rv_endpoint *ep, arena *a, char **env,
                                                 read_fn rd, void *rctx,
                                                 void (*write)(void *, const char *, size_t),
                                                 void *wctx)
{
    double t0 = now_ms();
    rv_req rq;
    init_req(&rq, a, env);
    rv_err er = read_body(ep, &rq, rd, rctx);
    if (er != RV_OK)
        resp_problem(&rq, er);
    else
        serve_request(ep, &rq);
    /* Before the answer leaves: once a client sees it, the upload is gone. */
    if (rq.body_file && unlink(rq.body_file) != 0 && errno != ENOENT)
        log_msg(LOG_WARN, "could not remove an upload's body file: %s", strerror(errno));
    size_t len;
    char *out = resp_render(&rq, &len);
    write(wctx, out, len);
    log_access(rq.method, rq.path, rq.status, now_ms() - t0);
    metrics_request_done(ep->name, rq.status, (now_ms() - t0) / 1000);
    log_clear_request();
}

/* The body the record layer kept, read like a stream. */
typedef struct {
    const char *p;
    size_t left;
} body_reader;

static int body_read(void *ctx, char *buf, int n)
{
    body_reader *b = ctx;
    size_t k = b->left < (size_t)n ? b->left : (size_t)n;
    memcpy(buf, b->p, k);
    b->p += k;
    b->left -= k;
    return (int)k;
}

static void fcgi_write(void *ctx, const char *buf, size_t n)
{
    fcgi_respond(ctx, buf, n);
}

typedef struct {
    int fd;
    fcgi_conn fc;
} conn;

/* Sends what the connection has to send. nginx reads answers as they come (and
 * buffers them), so a full socket is waited for, with a bound, on that one socket. */
static bool flush(conn *c)
{
    size_t off = 0;
    while (off < c->fc.out_len) {
        ssize_t w = send(c->fd, c->fc.out + off, c->fc.out_len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && poll(&pfd, 1, WRITE_WAIT_MS) > 0)
            continue;
        return false;
    }
    fcgi_sent(&c->fc, off);
    return true;
}

/* Reads what a readable connection has and answers every request that completes.
 * Returns false when the connection is to be closed. */
static bool serve_conn(const rv_endpoint *ep, arena *a, conn *c)
{
    static char buf[READ_CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0)
        return false;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (!fcgi_feed(&c->fc, buf, (size_t)n))
        return false;
    fcgi_status st;
    while ((st = fcgi_parse(&c->fc)) == FCGI_READY) {
        body_reader body = {c->fc.body, c->fc.body_len};
        handle_one(ep, a, fcgi_env(&c->fc, a), body_read, &body, fcgi_write, &c->fc);
        arena_reset(a);
        if (!flush(c))
            return false;
    }
    return flush(c) && st != FCGI_BAD && !c->fc.close_after;
}

static void close_conn(conn *c)
{
    close(c->fd);
    fcgi_free(&c->fc);
    c->fd = -1;
}

/* How many connections a worker holds at once (see RV_SOLO). */
static int conn_limit(const rv_endpoint *ep)
{
    return ep->flags & RV_SOLO ? 1 : MAX_CONNS;
}

/* Takes up to ACCEPT_BURST waiting connections; the socket is non-blocking, so one
 * another worker took first answers EAGAIN. */
static int accept_some(const rv_endpoint *ep, conn *conns, int n)
{
    int burst = ep->flags & RV_SOLO ? 1 : ACCEPT_BURST;
    for (int k = 0; k < burst && n < conn_limit(ep); k++) {
        int fd = accept4(0, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_msg(LOG_ERROR, "accept failed: %s", strerror(errno));
            break;
        }
        conns[n].fd = fd;
        fcgi_init(&conns[n].fc, ep->flags & RV_BODY_FILE ? 0 : ep->body_limit);
        conns[n].fc.max_conns = MAX_CONNS;
        n++;
    }
    return n;
}

/* One worker: a poll loop over the listening socket (fd 0) and the FastCGI
 * connections it accepted, which nginx keeps open between requests. Each wake
 * answers the requests of every ready connection, starting one further along each
 * time, so a kept connection never starves a new one or another kept one. */
static int worker_loop(const rv_endpoint *ep)
{
    serve_stop_signals();
    int fl = fcntl(0, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(0, F_SETFL, fl | O_NONBLOCK);
    conn *conns = calloc(MAX_CONNS, sizeof *conns);
    struct pollfd *pfd = calloc(MAX_CONNS + 1, sizeof *pfd);
    arena *a = arena_new();
    if (!conns || !pfd)
        abort();
    int n = 0;
    unsigned turn = 0;
    while (!stopping) {
        pfd[0] = (struct pollfd){.fd = n < conn_limit(ep) ? 0 : -1, .events = POLLIN};
        for (int i = 0; i < n; i++)
            pfd[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        int r = ppoll(pfd, (nfds_t)n + 1, NULL, &wait_mask);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            log_msg(LOG_ERROR, "waiting for connections failed: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < n; k++) {
            int i = (int)((turn + (unsigned)k) % (unsigned)n);
            if (pfd[i + 1].revents && !serve_conn(ep, a, &conns[i]))
                close_conn(&conns[i]);
        }
        turn++;
        int kept = 0;
        for (int i = 0; i < n; i++)
            if (conns[i].fd >= 0)
                conns[kept++] = conns[i];
        n = kept;
        if (pfd[0].revents & POLLIN)
            n = accept_some(ep, conns, n);
    }
    for (int i = 0; i < n; i++)
        close_conn(&conns[i]);
    free(conns);
    free(pfd);
    arena_free(a);
    db_close();
    return 0;
}

static int stdin_read(void *ctx, char *buf, int n)
{
    return (int)fread(buf, 1, (size_t)n, ctx);
}

static void stdout_write(void *ctx, const char *buf, size_t n)
{
    fwrite(buf, 1, n, ctx);
}

static int serve_cgi(const rv_endpoint *ep)
{
    extern char **environ;
    arena *a = arena_new();
    handle_one(ep, a, environ, stdin_read, stdin, stdout_write, stdout);
    fflush(stdout);
    arena_free(a);
    db_close();
    return 0;
}

/* FastCGI when fd 0 is a listening socket (a socket without a peer), CGI otherwise. */
static bool is_cgi(void)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    return !(getpeername(0, (struct sockaddr *)&sa, &len) != 0 && errno == ENOTCONN);
}

static pid_t spawn_worker(const rv_endpoint *ep)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGCHLD, SIG_DFL);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        _exit(worker_loop(ep));
    }
    if (pid < 0)
        log_msg(LOG_ERROR, "fork failed: %s", strerror(errno));
    return pid;
}

/* The parent: keeps n workers alive, drains them on SIGTERM. */
static int supervise(const rv_endpoint *ep, int n)
{
    pid_t pids[MAX_WORKERS] = {0};
    block_signals(true);
    for (int i = 0; i < n; i++)
        pids[i] = spawn_worker(ep);
    while (!stopping) {
        int status;
        pid_t dead = waitpid(-1, &status, WNOHANG);
        if (dead <= 0) {
            /* Nothing to reap: wait for a signal. One that came since the check
             * above is pending and ends the wait at once. */
            if (!stopping)
                sigsuspend(&wait_mask);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (pids[i] == dead) {
                log_msg(LOG_WARN, "worker %d ended (%s %d); restarting", (int)dead,
                        WIFSIGNALED(status) ? "signal" : "status",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                if (!stopping) {
                    usleep(100 * 1000); /* a crash loop must not spin */
                    pids[i] = spawn_worker(ep);
                }
            }
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    log_msg(LOG_INFO, "stopped");
    return 0;
}

int serve_main(const rv_endpoint *ep, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char why[256];
    log_init(ep->name);
    if (!config_load(!(ep->flags & RV_NO_SECRET), why, sizeof why)) {
        log_msg(LOG_ERROR, "refusing to start: %s", why);
        return 78; /* EX_CONFIG: systemd does not restart-loop on it */
    }
    log_set_level(config->log_level);
    if (!(ep->flags & RV_NO_SECRET) && !auth_init(config->jwt_secret, config->jwt_secret_len,
                                                  config->jwt_issuer, config->access_ttl)) {
        log_msg(LOG_ERROR, "refusing to start: cannot initialise libsodium");
        return 78;
    }
    session_check_init(config->session_recheck);
    if (!(ep->flags & RV_NO_SECRET) &&
        !store_init(config->jwt_secret, config->jwt_secret_len, config->data_dir,
                    config->public_url, why, sizeof why)) {
        log_msg(LOG_ERROR, "refusing to start: %s", why);
        return 78;
    }
    if (is_cgi())
        return serve_cgi(ep);
    if (config->workers == 0)
        return worker_loop(ep);
    log_msg(LOG_INFO, "serving %s with %d workers", ep->route, config->workers);
    return supervise(ep, config->workers > MAX_WORKERS ? MAX_WORKERS : config->workers);
}
