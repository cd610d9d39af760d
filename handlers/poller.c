/* poller — the only component that talks to providers.
 *
 * Started by reelvox-poller.timer every minute (and by scripts/up in a loop). A run
 * lasts --window seconds (RV_POLLER_WINDOW, default 55): it sweeps at once, then
 * LISTENs on reelvox_jobs and reelvox_webhooks so new work is dispatched within
 * milliseconds, and sweeps again every RV_POLLER_SWEEP_MS (2000) whatever the
 * notifications say — they are only a wake-up hint. `--once` does one full pass,
 * waits for its local children, and exits (tests use it). SIGTERM ends the run
 * after the current pass. Any number of pollers may run at once. `--seed-music`
 * makes the music tracks a fresh install plays (music_seed.h) and exits.
 * Exit status: 0, 64 on a bad argument (--window takes 0..86400), or 78 on bad
 * configuration (any RV_* setting out of its bounds, a missing or weak RV_JWT_SECRET). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "music_seed.h"
#include "storage.h"
#include "webhook_secret.h"
#include "work.h"

static volatile sig_atomic_t stopping;
static int wake[2] = {-1, -1}; /* self-pipe: a stop signal ends the wait it comes in */

static void on_stop(int sig)
{
    (void)sig;
    int saved = errno;
    stopping = 1;
    if (wake[1] >= 0)
        (void)!write(wake[1], "x", 1);
    errno = saved;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --window's value: seconds, as RV_POLLER_WINDOW (0..86400); -1 when it is not. */
static long arg_window(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || end == s || *end || v < 0 || v > 86400 ? -1 : v;
}

int main(int argc, char **argv)
{
    char why[256], host[64] = "host";
    bool once = false, seed_music = false;
    long window = -1; /* RV_POLLER_WINDOW unless given */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--once"))
            once = true;
        else if (!strcmp(argv[i], "--seed-music"))
            seed_music = true;
        else if (!strcmp(argv[i], "--window") && i + 1 < argc && arg_window(argv[i + 1]) >= 0)
            window = arg_window(argv[++i]);
        else {
            fprintf(stderr, "usage: poller [--once] [--window SECONDS] | --seed-music\n");
            return 64;
        }
    }
    log_init("poller");
    /* The poller signs media links with a key derived from RV_JWT_SECRET: it refuses
     * a missing or weak one like every handler does. */
    if (!config_load(true, why, sizeof why)) {
        log_msg(LOG_ERROR, "refusing to start: %s", why);
        return 78;
    }
    log_set_level(config->log_level);
    if (window < 0)
        window = config->poller_window;
    long sweep_ms = config->poller_sweep_ms;
    db_set_url(config->poller_database_url); /* its own role: reelvox_poller */
    if (!store_init(config->jwt_secret, config->jwt_secret_len, config->data_dir,
                    config->public_url, why, sizeof why)) {
        log_msg(LOG_ERROR, "refusing to start: %s", why);
        return 78;
    }
    if (seed_music) { /* set-up time: the generated music tracks, then exit */
        arena *a = arena_new();
        rv_req rq = {.a = a, .role = "system"};
        int added = music_seed_all(&rq);
        arena_free(a);
        db_close();
        return added < 0 ? 1 : 0;
    }
    /* Before the handler: a signal that comes between the loop's check of stopping
     * and its wait finds the pipe readable, so the wait ends at once. */
    if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        log_msg(LOG_ERROR, "refusing to start: pipe2: %s", strerror(errno));
        return 71;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    gethostname(host, sizeof host - 1);
    char poller_id[96];
    snprintf(poller_id, sizeof poller_id, "%s:%d", host, (int)getpid());
    arena *a = arena_new();
    rv_req rq = {.a = a, .role = "system"};
    work_ctx w;
    work_init(&w, &rq, poller_id);
    webhook_secret_refresh(&rq); /* the receivers verify with what this stores */
    if (db_listen(&rq, "reelvox_jobs") != RV_OK || db_listen(&rq, "reelvox_webhooks") != RV_OK)
        log_msg(LOG_WARN, "database not reachable yet; sweeping on a timer");

    double end = now_s() + (double)window;
    while (!stopping) {
        int moved = work_sweep(&w);
        arena_reset(a);
        if (once) {
            /* One pass means the local work it started has finished too. */
            while (work_local_running(&w) > 0 && !stopping) {
                usleep(20 * 1000);
                work_sweep(&w);
                arena_reset(a);
            }
            break;
        }
        double left = end - now_s();
        if (left <= 0)
            break;
        int wait_ms = (int)(left * 1000 < (double)sweep_ms ? left * 1000 : (double)sweep_ms);
        /* Work begets work (a dispatch brings webhooks): sweep again at once while
         * the last sweep found any; wait for a notification only when idle. */
        db_wait_notify(moved ? 0 : wait_ms, wake[0]);
    }
    while (work_local_running(&w) > 0) { /* let children finish their job */
        usleep(50 * 1000);
        work_reap(&w);
        arena_reset(a);
    }
    arena_free(a);
    db_close();
    log_msg(LOG_INFO, "poller run ended");
    return 0;
}
