#include "titlecard.h"

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavutil/frame.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHY(...) (why && why_len ? (void)snprintf(why, why_len, __VA_ARGS__) : (void)0)

static const char *const backgrounds[] = {"0x1e293b", "0x3b1e2e", "0x1e3b2f", "0x2e1e3b",
                                          "0x3b2f1e"};

/* A path safe inside a filter description: none of its special characters. */
static bool path_ok(const char *p)
{
    return p && *p == '/' && !strpbrk(p, "'\\:,;[]=% \n\t");
}

/* text wrapped at spaces into lines of at most cols characters (UTF-8 aware: a
 * continuation byte does not count), at most max_lines, into buf. */
static void wrap(const char *text, int cols, int max_lines, char *buf, size_t cap)
{
    size_t n = 0;
    int line = 0, col = 0, chars = 0;
    const char *p = text;
    while (*p && line < max_lines && chars < TITLECARD_MAX_CHARS) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        const char *w = p;
        int wl = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            wl += ((unsigned char)*p & 0xc0) != 0x80;
            p++;
        }
        if (p == w)
            break;
        if (col && col + 1 + wl > cols) {
            if (++line >= max_lines)
                break;
            if (n + 1 < cap)
                buf[n++] = '\n';
            col = 0;
        } else if (col && n + 1 < cap) {
            buf[n++] = ' ';
            col++;
        }
        size_t bytes = (size_t)(p - w);
        if (n + bytes + 1 >= cap)
            break;
        memcpy(buf + n, w, bytes);
        n += bytes;
        col += wl;
        chars += wl;
    }
    if (*p && n + 4 < cap) { /* cut: say so */
        memcpy(buf + n, "\xe2\x80\xa6", 3);
        n += 3;
    }
    buf[n] = '\0';
}

static rv_err draw(const char *desc, AVFrame *frame, char *why, size_t why_len)
{
    AVFilterGraph *g = avfilter_graph_alloc();
    AVFilterContext *sink = NULL;
    AVFilterInOut *in = avfilter_inout_alloc();
    rv_err er = RV_E_INTERNAL;
    if (!g || !in ||
        avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", NULL, NULL,
                                     g) < 0) {
        WHY("cannot set up the filter graph");
        goto done;
    }
    in->name = av_strdup("out");
    in->filter_ctx = sink;
    in->pad_idx = 0;
    in->next = NULL;
    if (avfilter_graph_parse_ptr(g, desc, &in, NULL, NULL) < 0 ||
        avfilter_graph_config(g, NULL) < 0) {
        WHY("cannot draw the title card (font missing?)");
        goto done;
    }
    if (av_buffersink_get_frame(sink, frame) < 0) {
        WHY("the title card filter gave no picture");
        goto done;
    }
    er = RV_OK;
done:
    avfilter_inout_free(&in);
    avfilter_graph_free(&g);
    return er;
}

static rv_err encode(AVFrame *frame, const char *out_path, int64_t *bytes, char *why,
                     size_t why_len)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *c = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    rv_err er = RV_E_INTERNAL;
    FILE *f = NULL;
    if (!c || !pkt) {
        WHY("no JPEG encoder");
        goto done;
    }
    c->width = frame->width;
    c->height = frame->height;
    c->pix_fmt = frame->format;
    c->time_base = (AVRational){1, 25};
    /* A JFIF header (the aspect given) and no encoder comment (bitexact): a reader
     * that sniffs JPEGs by their first marker (libavformat's jpeg_pipe) knows it. */
    c->sample_aspect_ratio = (AVRational){1, 1};
    c->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
    c->global_quality = FF_QP2LAMBDA * 3;
    frame->quality = c->global_quality;
    frame->sample_aspect_ratio = c->sample_aspect_ratio;
    frame->pts = 0;
    if (avcodec_open2(c, codec, NULL) < 0 || avcodec_send_frame(c, frame) < 0 ||
        avcodec_send_frame(c, NULL) < 0 || avcodec_receive_packet(c, pkt) < 0) {
        WHY("JPEG encoding failed");
        goto done;
    }
    f = fopen(out_path, "wbx");
    if (!f || fwrite(pkt->data, 1, (size_t)pkt->size, f) != (size_t)pkt->size || fflush(f) ||
        fsync(fileno(f))) {
        WHY("cannot write the title card");
        if (f)
            remove(out_path);
        goto done;
    }
    *bytes = pkt->size;
    er = RV_OK;
done:
    if (f)
        fclose(f);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    return er;
}

rv_err titlecard_render(const char *text, int width, int height, int index, const char *out_path,
                        const char *work_path, titlecard_result *out, char *why, size_t why_len)
{
    if (width < 64 || height < 64 || width > 3840 || height > 3840 || (width | height) & 1 ||
        !path_ok(work_path) || !path_ok(TITLECARD_FONT) || !out_path) {
        WHY("bad title card size or path");
        return RV_E_UNPROCESSABLE;
    }
    struct stat st;
    if (stat(TITLECARD_FONT, &st) != 0) {
        WHY("the DejaVu font is missing (%s)", TITLECARD_FONT);
        return RV_E_INTERNAL;
    }
    int size = (width < height ? width : height) / 12, cols = width * 16 / 10 / size;
    char lines[TITLECARD_MAX_CHARS * 4 + 64];
    wrap(text ? text : "", cols > 8 ? cols : 8, 6, lines, sizeof lines);
    FILE *f = fopen(work_path, "wb");
    if (!f || fputs(lines, f) < 0 || fclose(f) != 0) {
        WHY("cannot write the title card's text");
        return RV_E_INTERNAL;
    }
    char desc[1024];
    snprintf(desc, sizeof desc,
             "color=c=%s:s=%dx%d:r=1:d=1,"
             "drawtext=fontfile=%s:textfile=%s:fontcolor=white:fontsize=%d:line_spacing=%d:"
             "expansion=none:x=(w-text_w)/2:y=(h-text_h)/2,format=yuvj420p",
             backgrounds[(unsigned)index % (sizeof backgrounds / sizeof backgrounds[0])], width,
             height, TITLECARD_FONT, work_path, size, size / 3);
    AVFrame *frame = av_frame_alloc();
    int64_t bytes = 0;
    rv_err er = frame ? draw(desc, frame, why, why_len) : RV_E_INTERNAL;
    remove(work_path);
    if (er == RV_OK)
        er = encode(frame, out_path, &bytes, why, why_len);
    av_frame_free(&frame);
    if (er == RV_OK && out)
        *out = (titlecard_result){.bytes = bytes, .width = width, .height = height};
    return er;
}
