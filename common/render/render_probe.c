/* render_probe.c — what an input of a render holds, looked at before any graph is
 * built: a file that is not what its kind says never reaches a filter. */
#include "render_int.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavutil/dict.h>

#include "media.h"

enum { PROBE_WALL_S = 30 };

/* image2 too: a path ending in .jpg or .png (how storage names pictures) makes
 * libavformat's probe prefer it to the *_pipe demuxers whatever the content; the
 * picture's codec is checked below. */
static const char *const picture_formats[] = {
    [RENDER_IMAGE] = "jpeg_pipe,png_pipe,webp_pipe,image2",
    [RENDER_CLIP] = "mov,matroska",
};

static int past_deadline(void *opaque)
{
    const struct timespec *deadline = opaque;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Opens path as one of formats (file: protocol only) and reads its stream info. */
static rv_err open_as(const char *path, const char *formats, const struct timespec *deadline,
                      AVFormatContext **out, char *why, size_t why_len)
{
    *out = NULL;
    if (!path || !*path || strlen(path) > PATH_MAX) {
        RWHY("no input file");
        return RV_E_UNPROCESSABLE;
    }
    char url[PATH_MAX + 8];
    snprintf(url, sizeof url, "file:%s", path);
    AVFormatContext *fc = avformat_alloc_context();
    if (!fc)
        return RV_E_INTERNAL;
    fc->interrupt_callback = (AVIOInterruptCB){past_deadline, (void *)deadline};
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "format_whitelist", formats, 0);
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    av_dict_set(&opts, "probesize", "2000000", 0);
    av_dict_set(&opts, "analyzeduration", "5000000", 0);
    int rc = avformat_open_input(&fc, url, NULL, &opts); /* frees fc on failure */
    av_dict_free(&opts);
    if (rc < 0) {
        RWHY("an input is not a readable %s file", formats);
        return RV_E_UNPROCESSABLE;
    }
    if (fc->nb_streams > 16 || avformat_find_stream_info(fc, NULL) < 0) {
        avformat_close_input(&fc);
        RWHY("an input cannot be read");
        return RV_E_UNPROCESSABLE;
    }
    *out = fc;
    return RV_OK;
}

/* The first name of a demuxer's list ("mov,mp4,m4a,..." → "mov"). */
static void short_name(const AVFormatContext *fc, render_input *out)
{
    size_t n = strcspn(fc->iformat->name, ",");
    if (n >= sizeof out->format)
        n = sizeof out->format - 1;
    memcpy(out->format, fc->iformat->name, n);
    out->format[n] = '\0';
}

static int64_t duration_ms(const AVFormatContext *fc, const AVStream *st)
{
    if (st->duration > 0 && st->time_base.num > 0)
        return av_rescale_q(st->duration, st->time_base, (AVRational){1, 1000});
    return fc->duration > 0 ? fc->duration / 1000 : 0;
}

rv_err render_probe_picture(const char *path, render_kind kind, render_input *out, char *why,
                            size_t why_len)
{
    media_init();
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += PROBE_WALL_S;
    AVFormatContext *fc;
    rv_err er = open_as(path, picture_formats[kind == RENDER_CLIP], &deadline, &fc, why, why_len);
    if (er != RV_OK)
        return er;
    int idx = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    const AVCodecParameters *par = idx >= 0 ? fc->streams[idx]->codecpar : NULL;
    bool still = par && (par->codec_id == AV_CODEC_ID_MJPEG || par->codec_id == AV_CODEC_ID_PNG ||
                         par->codec_id == AV_CODEC_ID_WEBP);
    if (!par || par->width <= 0 || par->height <= 0 || par->width > 16384 || par->height > 16384 ||
        (kind == RENDER_IMAGE && !still)) {
        avformat_close_input(&fc);
        RWHY("an input has no usable picture");
        return RV_E_UNPROCESSABLE;
    }
    memset(out, 0, sizeof *out);
    short_name(fc, out);
    AVRational sar = par->sample_aspect_ratio;
    out->width = par->width;
    out->height = par->height;
    if (sar.num > 0 && sar.den > 0 && sar.num != sar.den) {
        int64_t w = (int64_t)par->width * sar.num / sar.den;
        out->width = (int)(w < 2 ? 2 : w > 16384 ? 16384 : w);
    }
    out->duration_ms = kind == RENDER_CLIP ? duration_ms(fc, fc->streams[idx]) : 0;
    avformat_close_input(&fc);
    return RV_OK;
}

rv_err render_probe_audio(const char *path, render_input *out, char *why, size_t why_len)
{
    media_init();
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += PROBE_WALL_S;
    AVFormatContext *fc;
    rv_err er = open_as(path, MEDIA_PROBE_FORMATS, &deadline, &fc, why, why_len);
    if (er != RV_OK)
        return er;
    int idx = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (idx < 0) {
        avformat_close_input(&fc);
        RWHY("an audio track has no sound");
        return RV_E_UNPROCESSABLE;
    }
    memset(out, 0, sizeof *out);
    short_name(fc, out);
    out->duration_ms = duration_ms(fc, fc->streams[idx]);
    avformat_close_input(&fc);
    return RV_OK;
}
