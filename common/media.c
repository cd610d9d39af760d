#include "media_int.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <libavutil/log.h>

#include "log.h"

/* ---- libav's log --------------------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libav speaks freely about every damaged frame of a hostile upload: those lines are
 * diagnostics, not our errors, so they go out as debug lines (JSON, escaped). */
static void av_log_to_log(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING)
        return;
    char line[512];
    int prefix = 1;
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &prefix);
    va_end(copy);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n)
        log_msg(LOG_DEBUG, "libav: %s", line);
}

static void init_libav(void)
{
    av_log_set_callback(av_log_to_log);
}

void media_init(void)
{
    pthread_once(&init_once, init_libav);
}
/* ---- opening an input ---------------------------------------------------------------- */

void media_deadline(struct timespec *deadline)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += MEDIA_WALL_S;
}

bool media_past(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* libavformat polls this inside blocking reads and long probes. */
static int interrupt_past(void *opaque)
{
    return media_past(opaque);
}

rv_err media_open_input(const char *path, const struct timespec *deadline, AVFormatContext **out)
{
    *out = NULL;
    char url[PATH_MAX + 8];
    if (!path || !*path || (size_t)snprintf(url, sizeof url, "file:%s", path) >= sizeof url)
        return RV_E_UNPROCESSABLE;
    AVDictionary *opt = NULL;
    AVFormatContext *fc = avformat_alloc_context();
    if (!fc)
        return RV_E_INTERNAL;
    fc->interrupt_callback.callback = interrupt_past;
    fc->interrupt_callback.opaque = (void *)deadline;
    /* The whitelists keep a hostile file from being read as a playlist or concat list
     * that opens other files or URLs; the sizes bound what probing may read. */
    if (av_dict_set(&opt, "format_whitelist", MEDIA_PROBE_FORMATS, 0) < 0 ||
        av_dict_set(&opt, "protocol_whitelist", "file", 0) < 0 ||
        av_dict_set(&opt, "probesize", "2000000", 0) < 0 ||
        av_dict_set(&opt, "analyzeduration", "5000000", 0) < 0 ||
        av_dict_set(&opt, "max_streams", "16", 0) < 0) {
        av_dict_free(&opt);
        avformat_free_context(fc);
        return RV_E_INTERNAL;
    }
    int rc = avformat_open_input(&fc, url, NULL, &opt); /* frees fc on failure */
    av_dict_free(&opt);
    if (rc < 0)
        return RV_E_UNPROCESSABLE;
    *out = fc;
    return RV_OK;
}
