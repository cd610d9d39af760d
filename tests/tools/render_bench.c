/* render_bench — the render engine's figures for `make bench`: seconds of 720p
 * output per CPU second and the worker's peak RSS, for
 *   - a local clip: one 1920x1080 still → 5 s of 1280x720 with a slow zoom or pan;
 *   - a compilation: ten such 5 s clips, 1 s fades, music looped and faded out.
 * Each render runs in a child process, as the poller's local provider runs it, and
 * is measured by wait4's rusage (user + system CPU, ru_maxrss). Not a test: it
 * never fails on a number.
 *
 *   render_bench [DIR]     (default: a fresh folder under $TMPDIR, removed after) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

#include "music_seed.h"
#include "render/render.h"

enum { CLIPS = 10, CLIP_S = 5 };

static char dir[512];

static const char *at(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

/* A w x h PNG with a gradient and a checker: detail for the encoder to work on. */
static int write_png(const char *path, int w, int h)
{
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *cx = c ? avcodec_alloc_context3(c) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = -1;
    if (!cx || !f || !pkt)
        goto done;
    cx->width = w;
    cx->height = h;
    cx->pix_fmt = AV_PIX_FMT_RGB24;
    cx->time_base = (AVRational){1, 25};
    f->format = AV_PIX_FMT_RGB24;
    f->width = w;
    f->height = h;
    if (avcodec_open2(cx, c, NULL) < 0 || av_frame_get_buffer(f, 0) < 0)
        goto done;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = f->data[0] + y * f->linesize[0] + 3 * x;
            p[0] = (uint8_t)(255 * x / w);
            p[1] = (uint8_t)(255 * y / h);
            p[2] = (uint8_t)(((x / 24 + y / 24) % 2) ? 190 + (x * y) % 50 : 30 + (x + y) % 40);
        }
    if (avcodec_send_frame(cx, f) < 0 || avcodec_receive_packet(cx, pkt) < 0)
        goto done;
    FILE *o = fopen(path, "wb");
    if (o && fwrite(pkt->data, 1, (size_t)pkt->size, o) == (size_t)pkt->size)
        rc = 0;
    if (o)
        fclose(o);
done:
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&cx);
    return rc;
}

typedef struct figures {
    double cpu_s, wall_s, rss_mib;
    int ok;
} figures;

/* Runs fn(arg) in a child; its CPU time, wall time and peak RSS. */
static figures measured(int (*fn)(void *), void *arg)
{
    figures r = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return r;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
              ru.ru_stime.tv_usec / 1e6;
    r.wall_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    r.rss_mib = (double)ru.ru_maxrss / 1024.0;
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

static const render_motion motions[] = {RENDER_MOTION_ZOOM_IN, RENDER_MOTION_PAN_RIGHT,
                                        RENDER_MOTION_ZOOM_OUT, RENDER_MOTION_PAN_LEFT};

/* The clips: *(int *)arg of them, clip0.mp4 ... */
static int make_clips(void *arg)
{
    int n = *(int *)arg;
    char img[600], out[600], why[256] = "";
    at(img, sizeof img, "still.png");
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "clip%d.mp4", i);
        render_segment s = {.kind = RENDER_IMAGE,
                            .path = img,
                            .duration_ms = CLIP_S * 1000,
                            .motion = motions[i % 4],
                            .fit = RENDER_FIT_COVER};
        render_spec spec = {.segments = &s, .n_segments = 1};
        if (render_run(&spec, at(out, sizeof out, name), NULL, NULL, NULL, NULL, why, sizeof why) !=
            RV_OK) {
            fprintf(stderr, "render_bench: clip %d: %s\n", i, why);
            return 1;
        }
    }
    return 0;
}

static int compile(void *arg)
{
    (void)arg;
    static char paths[CLIPS][600];
    render_segment segs[CLIPS];
    for (int i = 0; i < CLIPS; i++) {
        char name[32];
        snprintf(name, sizeof name, "clip%d.mp4", i);
        at(paths[i], sizeof paths[i], name);
        segs[i] = (render_segment){.kind = RENDER_CLIP, .path = paths[i]};
    }
    char music[600], out[600], poster[600], why[256] = "";
    render_audio a = {.path = at(music, sizeof music, "music.mp3"),
                      .volume = 0.6,
                      .loop = true,
                      .fade_in_ms = 500,
                      .fade_out_ms = 2000};
    render_spec spec = {.segments = segs,
                        .n_segments = CLIPS,
                        .audio = &a,
                        .n_audio = 1,
                        .transition = RENDER_TRANSITION_FADE,
                        .transition_ms = 1000};
    render_result res;
    if (render_run(&spec, at(out, sizeof out, "compiled.mp4"), at(poster, sizeof poster, "p.jpg"),
                   NULL, NULL, &res, why, sizeof why) != RV_OK) {
        fprintf(stderr, "render_bench: compilation: %s\n", why);
        return 1;
    }
    return res.duration_ms == (CLIPS * CLIP_S - (CLIPS - 1)) * 1000 ? 0 : 2;
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    bool own = argc < 2;
    if (own) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/rv-render-bench.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir))
            return 1;
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    char p[600], why[256] = "";
    if (write_png(at(p, sizeof p, "still.png"), 1920, 1080) != 0 ||
        music_seed_render(0, 60, at(p, sizeof p, "music.mp3"), NULL, why, sizeof why) != RV_OK) {
        fprintf(stderr, "render_bench: inputs: %s\n", why);
        return 1;
    }
    int one = 1, all = CLIPS;
    figures c1 = measured(make_clips, &one);
    figures cn = measured(make_clips, &all);
    figures cc = measured(compile, NULL);
    double out_s = CLIPS * CLIP_S - (CLIPS - 1);
    printf("render clip (1920x1080 still -> 5 s 720p, motion): %.2f s of video per CPU second "
           "(%.2f CPU s, %.2f s wall), peak RSS %.0f MiB%s\n",
           CLIP_S / c1.cpu_s, c1.cpu_s, c1.wall_s, c1.rss_mib, c1.ok ? "" : " [FAILED]");
    printf("render compilation (10 x 5 s 720p clips, 1 s fades, music): %.1f s of video in %.2f "
           "CPU s = %.2f s of 720p per CPU second (%.2f s wall), peak RSS %.0f MiB%s\n",
           out_s, cc.cpu_s, out_s / cc.cpu_s, cc.wall_s, cc.rss_mib, cc.ok ? "" : " [FAILED]");
    printf("  (making the ten clips: %.2f CPU s, %.2f s of video per CPU second)\n", cn.cpu_s,
           CLIPS * CLIP_S / cn.cpu_s);
    if (own) {
        static const char *const names[] = {"still.png", "music.mp3", "compiled.mp4", "p.jpg"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            unlink(at(p, sizeof p, names[i]));
        for (int i = 0; i < CLIPS; i++) {
            char name[32];
            snprintf(name, sizeof name, "clip%d.mp4", i);
            unlink(at(p, sizeof p, name));
        }
        rmdir(dir);
    }
    return c1.ok && cn.ok && cc.ok ? 0 : 1;
}
