#include <libavcodec/avcodec.h>

#include "image.h"
#include "media_int.h"
#include "video_probe.h"

/* The first frame of stream si that decodes; NULL when none does. Packets read on
 * the way are counted into *end_ts (the stream's last end). */
static AVFrame *first_frame(AVFormatContext *fc, int si, const AVCodecParameters *par,
                            const struct timespec *deadline, int64_t *end_ts)
{
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *got = NULL;
    if (!ctx || !pkt || !frame || avcodec_parameters_to_context(ctx, par) < 0)
        goto done;
    ctx->thread_count = 1;
    ctx->max_pixels = 4096 * 4096;
    if (avcodec_open2(ctx, codec, NULL) < 0)
        goto done;
    while (!media_past(deadline) && av_read_frame(fc, pkt) >= 0) {
        if (pkt->stream_index == si) {
            int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (t != AV_NOPTS_VALUE && t + pkt->duration > *end_ts)
                *end_ts = t + pkt->duration;
            if (!got && avcodec_send_packet(ctx, pkt) >= 0 &&
                avcodec_receive_frame(ctx, frame) >= 0) {
                got = frame;
                frame = NULL;
            }
        }
        av_packet_unref(pkt);
    }
    if (!got && avcodec_send_packet(ctx, NULL) >= 0 && avcodec_receive_frame(ctx, frame) >= 0) {
        got = frame;
        frame = NULL;
    }
done:
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return got;
}

rv_err video_probe(const char *path, const char *poster_path, video_info *out)
{
    media_init();
    struct timespec deadline;
    media_deadline(&deadline);
    AVFormatContext *fc;
    rv_err er = media_open_input(path, &deadline, &fc);
    if (er != RV_OK)
        return er;
    er = RV_E_UNPROCESSABLE;
    AVFrame *f = NULL;
    if (!strstr(fc->iformat->name, "mp4") || avformat_find_stream_info(fc, NULL) < 0)
        goto done;
    int si = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (si < 0 || fc->streams[si]->codecpar->codec_id != AV_CODEC_ID_H264)
        goto done;
    AVStream *st = fc->streams[si];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0, end = start;
    if (!(f = first_frame(fc, si, st->codecpar, &deadline, &end)))
        goto done;
    int64_t ms = av_rescale_q(end - start, st->time_base, (AVRational){1, 1000});
    if (ms < 1 || ms > VIDEO_MAX_DURATION_MS)
        goto done;
    size_t bytes;
    if (!image_frame_jpeg(f, VIDEO_POSTER_MAX, poster_path, &bytes)) {
        er = RV_E_INTERNAL;
        goto done;
    }
    *out = (video_info){
        .duration_ms = ms, .width = f->width, .height = f->height, .poster_bytes = bytes};
    er = RV_OK;
done:
    av_frame_free(&f);
    avformat_close_input(&fc);
    return er;
}
