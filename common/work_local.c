/* work_local.c — local jobs run in child processes, up to RV_LOCAL_CONCURRENCY at
 * once; a child that hangs is killed, one that crashes has its job retried. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "config.h"
#include "providers/local.h"
#include "providers/local_video.h"
#include "work_internal.h"

int work_local_running(const work_ctx *w)
{
    int n = 0;
    for (int i = 0; i < w->local_slots; i++)
        n += w->local[i].pid > 0;
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void work_reap(work_ctx *w)
{
    for (int i = 0; i < w->local_slots; i++) {
        if (w->local[i].pid <= 0)
            continue;
        int status;
        pid_t r = waitpid(w->local[i].pid, &status, WNOHANG);
        if (r == 0 && now_s() - w->local[i].started > (double)w->local[i].timeout_s) {
            kill(w->local[i].pid, SIGKILL);
            r = waitpid(w->local[i].pid, &status, 0);
        }
        if (r == 0)
            continue;
        bool ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) != LOCAL_TRANSIENT;
        if (!ok) {
            /* Backs off like any other attempt of the job. */
            job_ref j = {.id = w->local[i].job_id, .attempts = w->local[i].attempts};
            log_msg(LOG_WARN, "local child for job %s ended with %s %d", j.id,
                    r > 0 && WIFSIGNALED(status) ? "signal" : "status",
                    r > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            work_to_retry(w, &j, 0, "the local synthesis process ended abnormally");
        }
        w->local[i].pid = 0;
    }
}

int work_pass_dispatch_local(work_ctx *w)
{
    int free_slots = w->local_slots - work_local_running(w);
    if (free_slots <= 0)
        return 0;
    PGresult *r;
    /* OpenAI's calls are one blocking request each: run like local work. */
    const char *p[] = {w->poller_id,
                       prov_find("openai")->available() ? "{local,openai}" : "{local}",
                       work_num(w, free_slots), work_num(w, w->local_timeout_s + 60), "false"};
    if (db_query(w->rq, &work_claim, p, &r) != RV_OK)
        return 0;
    job_ref *js;
    int n = work_read_jobs(w, r, &js, true);
    for (int i = 0; i < n; i++) {
        int slot = 0;
        while (slot < w->local_slots && w->local[slot].pid > 0)
            slot++;
        if (slot == w->local_slots) /* cannot happen: claimed at most the free slots */
            break;
        local_job lj = {js[i].id,     js[i].user_id, js[i].input,
                        w->poller_id, js[i].kind,    js[i].attempts};
        pid_t pid = fork();
        if (pid == 0) {
            db_forget_after_fork();
            _exit(local_run(&lj));
        }
        if (pid < 0) {
            work_to_retry(w, &js[i], 1, "could not start the local synthesis");
            continue;
        }
        w->local[slot].pid = pid;
        snprintf(w->local[slot].job_id, sizeof w->local[slot].job_id, "%s", js[i].id);
        w->local[slot].attempts = js[i].attempts;
        w->local[slot].started = now_s();
        w->local[slot].timeout_s =
            local_video_kind(js[i].kind) ? config->render_timeout : w->local_timeout_s;
    }
    return n;
}
