#include "image.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/dict.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "media.h"

/* ---- sniffing and headers --------------------------------------------------------------- */

image_type image_sniff(const unsigned char *head, size_t n)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (!head)
        return IMAGE_NONE;
    if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
        return IMAGE_JPEG;
    if (n >= 8 && !memcmp(head, png, 8))
        return IMAGE_PNG;
    if (n >= 12 && !memcmp(head, "RIFF", 4) && !memcmp(head + 8, "WEBP", 4))
        return IMAGE_WEBP;
    if (n >= 6 && (!memcmp(head, "GIF87a", 6) || !memcmp(head, "GIF89a", 6)))
        return IMAGE_GIF;
    return IMAGE_NONE;
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}
static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}
static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[1] << 8 | p[0];
}
static unsigned long le24(const unsigned char *p)
{
    return (unsigned long)p[2] << 16 | (unsigned long)p[1] << 8 | p[0];
}

static bool set_size(unsigned long w, unsigned long h, int *ow, int *oh)
{
    if (w == 0 || h == 0 || w > 0x7fffffffUL || h > 0x7fffffffUL)
        return false;
    *ow = (int)w;
    *oh = (int)h;
    return true;
}

/* The first SOFn frame header: markers are walked by their lengths; fill bytes (FF)
 * are skipped; SOI, RSTn and TEM carry no length. Stops at SOS or EOI. */
static bool jpeg_size(const unsigned char *b, size_t n, int *w, int *h)
{
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xff)
            return false;
        unsigned m = b[i + 1];
        if (m == 0xff) {
            i++;
            continue;
        }
        if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
            i += 2;
            continue;
        }
        if (m == 0xd9 || m == 0xda)
            return false;
        size_t len = be16(b + i + 2);
        if (len < 2)
            return false;
        bool sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
        if (sof) {
            if (len < 7 || i + 9 > n)
                return false;
            return set_size(be16(b + i + 7), be16(b + i + 5), w, h);
        }
        i += 2 + len;
    }
    return false;
}

static bool webp_size(const unsigned char *b, size_t n, int *w, int *h)
{
    if (n < 30)
        return false;
    const unsigned char *c = b + 12, *d = b + 20;
    if (!memcmp(c, "VP8 ", 4)) {
        if (d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a)
            return false;
        return set_size(le16(d + 6) & 0x3fff, le16(d + 8) & 0x3fff, w, h);
    }
    if (!memcmp(c, "VP8L", 4)) {
        if (d[0] != 0x2f)
            return false;
        unsigned long bits = (unsigned long)d[1] | (unsigned long)d[2] << 8 |
                             (unsigned long)d[3] << 16 | (unsigned long)d[4] << 24;
        return set_size((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1, w, h);
    }
    if (!memcmp(c, "VP8X", 4))
        return set_size(le24(d + 4) + 1, le24(d + 7) + 1, w, h);
    return false;
}

bool image_header_size(image_type t, const unsigned char *buf, size_t n, int *w, int *h)
{
    if (!buf || image_sniff(buf, n) != t)
        return false;
    switch (t) {
    case IMAGE_PNG:
        if (n < 24 || memcmp(buf + 12, "IHDR", 4))
            return false;
        return set_size(be32(buf + 16), be32(buf + 20), w, h);
    case IMAGE_JPEG:
        return jpeg_size(buf, n, w, h);
    case IMAGE_WEBP:
        return webp_size(buf, n, w, h);
    default:
        return false;
    }
}

/* ---- decoding --------------------------------------------------------------------------- */

/* The one frame of buf, decoded with at most max_pixels; NULL when it does not
 * decode. libavcodec checks its max_pixels against the width rounded up to its
 * stride alignment (up to 64): the slack of one such column lets a picture just
 * under our limit through; ours is checked exactly, on the header and the frame. */
static AVFrame *decode(image_type t, const unsigned char *buf, size_t n, long max_pixels,
                       int height)
{
    enum AVCodecID id = t == IMAGE_PNG    ? AV_CODEC_ID_PNG
                        : t == IMAGE_WEBP ? AV_CODEC_ID_WEBP
                                          : AV_CODEC_ID_MJPEG;
    const AVCodec *codec = avcodec_find_decoder(id);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    bool ok = false;
    if (!ctx || !pkt || !frame || n > INT32_MAX)
        goto done;
    ctx->max_pixels = max_pixels + 64L * height;
    ctx->thread_count = 1;
    ctx->err_recognition = AV_EF_EXPLODE;
    if (avcodec_open2(ctx, codec, NULL) < 0 || av_new_packet(pkt, (int)n) < 0)
        goto done;
    memcpy(pkt->data, buf, n);
    if (avcodec_send_packet(ctx, pkt) < 0)
        goto done;
    int r = avcodec_receive_frame(ctx, frame);
    if (r == AVERROR(EAGAIN) && avcodec_send_packet(ctx, NULL) >= 0)
        r = avcodec_receive_frame(ctx, frame);
    ok = r >= 0 && frame->width > 0 && frame->height > 0 &&
         (long long)frame->width * frame->height <= max_pixels && !(frame->decode_error_flags) &&
         !(frame->flags & AV_FRAME_FLAG_CORRUPT);
done:
    if (!ok)
        av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return frame;
}

/* The EXIF orientation the decoder found (mjpeg and webp put EXIF tags in the
 * frame's metadata), 1 when none or nonsense. */
static int orientation_of(const AVFrame *f)
{
    const AVDictionaryEntry *e = av_dict_get(f->metadata, "Orientation", NULL, 0);
    if (!e)
        return 1;
    char *end;
    long o = strtol(e->value, &end, 10);
    return end != e->value && *end == '\0' && o >= 1 && o <= 8 ? (int)o : 1;
}

/* A frame of fmt at w×h, holding src (any format) scaled. NULL on failure. */
static AVFrame *convert(const AVFrame *src, enum AVPixelFormat fmt, int w, int h)
{
    AVFrame *dst = av_frame_alloc();
    if (!dst)
        return NULL;
    dst->format = fmt;
    dst->width = w;
    dst->height = h;
    struct SwsContext *sws =
        sws_getContext(src->width, src->height, src->format, w, h, fmt,
                       w < src->width ? SWS_AREA : SWS_BICUBIC, NULL, NULL, NULL);
    bool ok = sws && av_frame_get_buffer(dst, 0) >= 0 &&
              sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                        dst->data, dst->linesize) == h;
    sws_freeContext(sws);
    if (!ok)
        av_frame_free(&dst);
    return dst;
}

/* src (packed, bpp bytes a pixel) turned upright as EXIF orientation o says:
 * 2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed, 6 rotated 90° clockwise,
 * 7 transversed, 8 rotated 90° counter-clockwise. */
static AVFrame *orient(const AVFrame *src, int bpp, int o)
{
    int W = src->width, H = src->height;
    bool swap = o >= 5;
    AVFrame *dst = av_frame_alloc();
    if (!dst)
        return NULL;
    dst->format = src->format;
    dst->width = swap ? H : W;
    dst->height = swap ? W : H;
    if (av_frame_get_buffer(dst, 0) < 0) {
        av_frame_free(&dst);
        return NULL;
    }
    for (int yd = 0; yd < dst->height; yd++) {
        uint8_t *row = dst->data[0] + (ptrdiff_t)yd * dst->linesize[0];
        for (int xd = 0; xd < dst->width; xd++) {
            int x, y;
            switch (o) {
            case 2:
                x = W - 1 - xd, y = yd;
                break;
            case 3:
                x = W - 1 - xd, y = H - 1 - yd;
                break;
            case 4:
                x = xd, y = H - 1 - yd;
                break;
            case 5:
                x = yd, y = xd;
                break;
            case 6:
                x = yd, y = H - 1 - xd;
                break;
            case 7:
                x = W - 1 - yd, y = H - 1 - xd;
                break;
            case 8:
                x = W - 1 - yd, y = xd;
                break;
            default:
                x = xd, y = yd;
                break;
            }
            memcpy(row + (ptrdiff_t)xd * bpp,
                   src->data[0] + (ptrdiff_t)y * src->linesize[0] + (ptrdiff_t)x * bpp,
                   (size_t)bpp);
        }
    }
    return dst;
}

/* ---- encoding --------------------------------------------------------------------------- */

/* Encodes f (in a format the encoder takes) as one PNG or JPEG image into path,
 * written whole or not at all (the caller removes a failed work file). */
static bool encode(const AVFrame *f, bool png, const char *path, size_t *bytes)
{
    const AVCodec *codec = avcodec_find_encoder(png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *copy = av_frame_clone(f);
    bool ok = false;
    if (!ctx || !pkt || !copy)
        goto done;
    ctx->width = f->width;
    ctx->height = f->height;
    ctx->pix_fmt = f->format;
    ctx->time_base = (AVRational){1, 25};
    ctx->thread_count = 1;
    ctx->flags |= AV_CODEC_FLAG_BITEXACT; /* no encoder name in a comment */
    if (!png) {
        ctx->color_range = AVCOL_RANGE_JPEG;
        ctx->flags |= AV_CODEC_FLAG_QSCALE;
        ctx->global_quality = FF_QP2LAMBDA * 3; /* about quality 90 */
        copy->quality = ctx->global_quality;
    }
    if (avcodec_open2(ctx, codec, NULL) < 0 || avcodec_send_frame(ctx, copy) < 0 ||
        avcodec_send_frame(ctx, NULL) < 0 || avcodec_receive_packet(ctx, pkt) < 0)
        goto done;
    FILE *out = fopen(path, "wbe");
    if (!out)
        goto done;
    ok = fwrite(pkt->data, 1, (size_t)pkt->size, out) == (size_t)pkt->size;
    ok = (fclose(out) == 0) && ok;
    *bytes = (size_t)pkt->size;
done:
    av_frame_free(&copy);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return ok;
}

/* w×h fitted into max_side (never upscaled, never 0). */
static void fit(int w, int h, int max_side, int *tw, int *th)
{
    *tw = w;
    *th = h;
    if (w >= h && w > max_side) {
        *tw = max_side;
        *th = (int)((long long)h * max_side / w);
    } else if (h > w && h > max_side) {
        *th = max_side;
        *tw = (int)((long long)w * max_side / h);
    }
    *tw = *tw < 1 ? 1 : *tw;
    *th = *th < 1 ? 1 : *th;
}

bool image_frame_jpeg(const AVFrame *f, int max_side, const char *path, size_t *bytes)
{
    int tw, th;
    fit(f->width, f->height, max_side > 0 ? max_side : INT32_MAX, &tw, &th);
    AVFrame *yuv = convert(f, AV_PIX_FMT_YUVJ420P, tw, th);
    bool ok = yuv && encode(yuv, false, path, bytes);
    av_frame_free(&yuv);
    return ok;
}

image_status image_process(const unsigned char *buf, size_t n, long max_pixels,
                           const char *out_path, const char *thumb_path, image_result *out)
{
    media_init(); /* libav's log into ours */
    if (max_pixels <= 0)
        max_pixels = IMAGE_MAX_PIXELS;
    memset(out, 0, sizeof *out);
    image_type t = image_sniff(buf, n);
    out->type = t;
    if (t == IMAGE_NONE || t == IMAGE_GIF)
        return IMAGE_UNSUPPORTED;
    int w, h;
    if (!image_header_size(t, buf, n, &w, &h))
        return IMAGE_UNDECODABLE;
    if ((long long)w * h > max_pixels)
        return IMAGE_TOO_LARGE;

    image_status st = IMAGE_FAILED;
    AVFrame *frame = decode(t, buf, n, max_pixels, h), *packed = NULL, *upright = NULL, *yuv = NULL,
            *thumb = NULL;
    if (!frame)
        return IMAGE_UNDECODABLE;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(frame->format);
    bool png = t == IMAGE_PNG, alpha = png && d && (d->flags & AV_PIX_FMT_FLAG_ALPHA);
    int bpp = alpha ? 4 : 3, o = orientation_of(frame);
    packed =
        convert(frame, alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24, frame->width, frame->height);
    av_frame_free(&frame); /* a 40-megapixel picture: each copy is up to 160 MB */
    if (!packed)
        goto done;
    if (o == 1) {
        upright = packed;
        packed = NULL;
    } else if (!(upright = orient(packed, bpp, o))) {
        goto done;
    }
    av_frame_free(&packed);
    int uw = upright->width, uh = upright->height;
    size_t bytes = 0, thumb_bytes = 0;
    if (png) {
        if (!encode(upright, true, out_path, &bytes))
            goto done;
    } else if (!(yuv = convert(upright, AV_PIX_FMT_YUVJ420P, uw, uh)) ||
               !encode(yuv, false, out_path, &bytes)) {
        goto done;
    }
    int tw, th;
    fit(uw, uh, IMAGE_THUMB_MAX, &tw, &th);
    if (!(thumb = convert(upright, AV_PIX_FMT_YUVJ420P, tw, th)) ||
        !encode(thumb, false, thumb_path, &thumb_bytes))
        goto done;
    *out = (image_result){.type = t,
                          .content_type = png ? "image/png" : "image/jpeg",
                          .ext = png ? "png" : "jpg",
                          .width = uw,
                          .height = uh,
                          .orientation = o,
                          .bytes = bytes};
    st = IMAGE_OK;
done:
    av_frame_free(&thumb);
    av_frame_free(&yuv);
    av_frame_free(&upright);
    av_frame_free(&packed);
    av_frame_free(&frame);
    return st;
}
