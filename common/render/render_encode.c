/* render_encode.c — a render's filter graph through libx264 and AAC into an MP4
 * (+faststart), with a JPEG poster taken on the way (libswscale to full-range
 * YUV, the mjpeg encoder). */
#include "render_int.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

typedef struct enc {
    AVFilterGraph *graph;
    AVFilterContext *vsink, *asink;
    AVFormatContext *oc;
    AVCodecContext *venc, *aenc;
    AVStream *vst, *ast;
    AVFrame *frame;
    AVPacket *pkt;
    int64_t frames; /* video frames encoded */
    bool poster_done;
    int last_percent;
} enc;

static rv_err open_graph(enc *e, const char *desc, char *why, size_t why_len)
{
    e->graph = avfilter_graph_alloc();
    if (!e->graph)
        return RV_E_INTERNAL;
    /* One thread per filter: the encoder is where the cores go. */
    e->graph->nb_threads = 1;
    const AVFilter *vs = avfilter_get_by_name("buffersink");
    const AVFilter *as = avfilter_get_by_name("abuffersink");
    if (!vs || !as ||
        avfilter_graph_create_filter(&e->vsink, vs, "vout", NULL, NULL, e->graph) < 0 ||
        avfilter_graph_create_filter(&e->asink, as, "aout", NULL, NULL, e->graph) < 0) {
        RWHY("the buffer sinks are missing");
        return RV_E_INTERNAL;
    }
    AVFilterInOut *in_v = avfilter_inout_alloc(), *in_a = avfilter_inout_alloc();
    if (!in_v || !in_a) {
        avfilter_inout_free(&in_v);
        avfilter_inout_free(&in_a);
        return RV_E_INTERNAL;
    }
    in_v->name = av_strdup("vout");
    in_v->filter_ctx = e->vsink;
    in_v->next = in_a;
    in_a->name = av_strdup("aout");
    in_a->filter_ctx = e->asink;
    AVFilterInOut *ins = in_v, *outs = NULL;
    int rc = avfilter_graph_parse_ptr(e->graph, desc, &ins, &outs, NULL);
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    if (rc < 0) {
        /* The inputs were probed already: an input the decoders still refuse. */
        RWHY("the inputs cannot be rendered (%s)", av_err2str(rc));
        return RV_E_UNPROCESSABLE;
    }
    if ((rc = avfilter_graph_config(e->graph, NULL)) < 0) {
        RWHY("the render cannot be set up (%s)", av_err2str(rc));
        return RV_E_INTERNAL;
    }
    return RV_OK;
}

static rv_err open_output(enc *e, const char *path, const render_plan *pl, char *why,
                          size_t why_len)
{
    char url[PATH_MAX + 8];
    snprintf(url, sizeof url, "file:%s", path);
    if (avformat_alloc_output_context2(&e->oc, NULL, "mp4", url) < 0 || !e->oc)
        return RV_E_INTERNAL;
    const AVCodec *vc = avcodec_find_encoder_by_name("libx264");
    const AVCodec *ac = avcodec_find_encoder_by_name("aac");
    if (!vc || !ac) {
        RWHY("libx264 or the AAC encoder is missing");
        return RV_E_INTERNAL;
    }
    e->vst = avformat_new_stream(e->oc, NULL);
    e->ast = avformat_new_stream(e->oc, NULL);
    e->venc = avcodec_alloc_context3(vc);
    e->aenc = avcodec_alloc_context3(ac);
    if (!e->vst || !e->ast || !e->venc || !e->aenc)
        return RV_E_INTERNAL;

    const render_profile *pr = &pl->profile;
    e->venc->width = pr->width;
    e->venc->height = pr->height;
    e->venc->pix_fmt = AV_PIX_FMT_YUV420P;
    e->venc->time_base = (AVRational){1, pr->fps};
    e->venc->framerate = (AVRational){pr->fps, 1};
    e->venc->sample_aspect_ratio = (AVRational){1, 1};
    e->venc->gop_size = 2 * pr->fps; /* a key frame every 2 s: seeking lands close */
    av_opt_set(e->venc->priv_data, "preset", "veryfast", 0);
    av_opt_set(e->venc->priv_data, "crf", "23", 0);
    av_opt_set(e->venc->priv_data, "profile", "high", 0);

    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
    e->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    e->aenc->sample_rate = 48000;
    e->aenc->time_base = (AVRational){1, 48000};
    e->aenc->bit_rate = 128000;
    if (av_channel_layout_copy(&e->aenc->ch_layout, &stereo) < 0)
        return RV_E_INTERNAL;
    if (e->oc->oformat->flags & AVFMT_GLOBALHEADER) {
        e->venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        e->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    int rc;
    if ((rc = avcodec_open2(e->venc, vc, NULL)) < 0 ||
        (rc = avcodec_open2(e->aenc, ac, NULL)) < 0) {
        RWHY("cannot open the encoders (%s)", av_err2str(rc));
        return RV_E_INTERNAL;
    }
    if (avcodec_parameters_from_context(e->vst->codecpar, e->venc) < 0 ||
        avcodec_parameters_from_context(e->ast->codecpar, e->aenc) < 0)
        return RV_E_INTERNAL;
    e->vst->time_base = e->venc->time_base;
    e->ast->time_base = e->aenc->time_base;
    av_buffersink_set_frame_size(e->asink, (unsigned)e->aenc->frame_size);

    if (avio_open(&e->oc->pb, url, AVIO_FLAG_WRITE) < 0) {
        RWHY("cannot create the video file");
        return RV_E_INTERNAL;
    }
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    rc = avformat_write_header(e->oc, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
        RWHY("cannot write the video file (%s)", av_err2str(rc));
        return RV_E_INTERNAL;
    }
    return RV_OK;
}

/* Sends frame (NULL: flush) to c and writes what comes out to st. */
static rv_err encode(enc *e, AVCodecContext *c, AVStream *st, const AVFrame *frame)
{
    int rc = avcodec_send_frame(c, frame);
    if (rc < 0 && rc != AVERROR_EOF)
        return RV_E_INTERNAL;
    for (;;) {
        rc = avcodec_receive_packet(c, e->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return RV_OK;
        if (rc < 0)
            return RV_E_INTERNAL;
        /* libx264 leaves durations at 0; the muxer would then give the last frame
         * none, and an edit list would hide it. Video time_base is one frame. */
        if (e->pkt->duration == 0 && c->codec_type == AVMEDIA_TYPE_VIDEO)
            e->pkt->duration = 1;
        av_packet_rescale_ts(e->pkt, c->time_base, st->time_base);
        e->pkt->stream_index = st->index;
        rc = av_interleaved_write_frame(e->oc, e->pkt); /* takes the packet's data */
        if (rc < 0)
            return RV_E_INTERNAL;
    }
}

/* The frame as a JPEG file at path: full-range YUV through libswscale, mjpeg. */
static rv_err write_poster(const AVFrame *f, const char *path)
{
    rv_err er = RV_E_INTERNAL;
    const AVCodec *jc = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *c = jc ? avcodec_alloc_context3(jc) : NULL;
    AVFrame *j = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = sws_getContext(f->width, f->height, f->format, f->width, f->height,
                                            AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, NULL, NULL, NULL);
    FILE *out = NULL;
    if (!c || !j || !pkt || !sws)
        goto done;
    c->width = f->width;
    c->height = f->height;
    c->pix_fmt = AV_PIX_FMT_YUVJ420P;
    c->time_base = (AVRational){1, 25};
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * 3;
    j->format = AV_PIX_FMT_YUVJ420P;
    j->width = f->width;
    j->height = f->height;
    if (avcodec_open2(c, jc, NULL) < 0 || av_frame_get_buffer(j, 0) < 0)
        goto done;
    sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, j->data,
              j->linesize);
    j->pts = 0;
    j->quality = c->global_quality;
    if (avcodec_send_frame(c, j) < 0 || avcodec_send_frame(c, NULL) < 0 ||
        avcodec_receive_packet(c, pkt) < 0)
        goto done;
    if (!(out = fopen(path, "wb")))
        goto done;
    if (fwrite(pkt->data, 1, (size_t)pkt->size, out) == (size_t)pkt->size && fflush(out) == 0 &&
        fsync(fileno(out)) == 0)
        er = RV_OK;
done:
    if (out && fclose(out) != 0)
        er = RV_E_INTERNAL;
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&j);
    avcodec_free_context(&c);
    return er;
}

static void enc_free(enc *e)
{
    avfilter_graph_free(&e->graph);
    avcodec_free_context(&e->venc);
    avcodec_free_context(&e->aenc);
    if (e->oc) {
        if (e->oc->pb)
            avio_closep(&e->oc->pb);
        avformat_free_context(e->oc);
        e->oc = NULL;
    }
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
}

static rv_err run(enc *e, const render_plan *pl, const char *mp4, const char *poster,
                  render_progress_fn progress, void *ctx, char *why, size_t why_len)
{
    rv_err er;
    if (!(e->frame = av_frame_alloc()) || !(e->pkt = av_packet_alloc()))
        return RV_E_INTERNAL;
    if ((er = open_output(e, mp4, pl, why, why_len)) != RV_OK)
        return er;
    const int fps = pl->profile.fps;
    /* The poster: the frame at 1 s, or the middle of a shorter video. */
    int64_t poster_frame = pl->total_frames > 2 * fps ? fps : pl->total_frames / 2;
    AVRational atb = av_buffersink_get_time_base(e->asink);
    bool v_eof = false, a_eof = false;
    int64_t a_samples = 0;
    while (!v_eof || !a_eof) {
        /* The stream that is behind goes next, so the muxer buffers little. */
        bool take_video = !v_eof && (a_eof || e->frames * 48000 <= a_samples * fps);
        AVFilterContext *sink = take_video ? e->vsink : e->asink;
        int rc = av_buffersink_get_frame(sink, e->frame);
        if (rc == AVERROR_EOF) {
            *(take_video ? &v_eof : &a_eof) = true;
            continue;
        }
        if (rc < 0) {
            RWHY("rendering failed (%s)", av_err2str(rc));
            return rc == AVERROR(ENOMEM) ? RV_E_INTERNAL : RV_E_UNPROCESSABLE;
        }
        if (take_video) {
            if (poster && !e->poster_done && e->frames >= poster_frame) {
                if (write_poster(e->frame, poster) != RV_OK) {
                    av_frame_unref(e->frame);
                    RWHY("cannot write the poster");
                    return RV_E_INTERNAL;
                }
                e->poster_done = true;
            }
            e->frame->pts = e->frames++;
            e->frame->pict_type = AV_PICTURE_TYPE_NONE;
            er = encode(e, e->venc, e->vst, e->frame);
            int pct = (int)(e->frames * 99 / (pl->total_frames > 0 ? pl->total_frames : 1));
            if (er == RV_OK && progress && pct > e->last_percent && pct < 100) {
                e->last_percent = pct;
                if (!progress(ctx, pct)) {
                    av_frame_unref(e->frame);
                    RWHY("stopped");
                    return RV_E_INTERNAL;
                }
            }
        } else {
            e->frame->pts = av_rescale_q(e->frame->pts, atb, e->aenc->time_base);
            a_samples += e->frame->nb_samples;
            er = encode(e, e->aenc, e->ast, e->frame);
        }
        av_frame_unref(e->frame);
        if (er != RV_OK) {
            RWHY("encoding failed");
            return er;
        }
    }
    if (encode(e, e->venc, e->vst, NULL) != RV_OK || encode(e, e->aenc, e->ast, NULL) != RV_OK ||
        av_write_trailer(e->oc) < 0) {
        RWHY("cannot finish the video file");
        return RV_E_INTERNAL;
    }
    if (e->frames == 0) {
        RWHY("the render made no picture");
        return RV_E_UNPROCESSABLE;
    }
    if (poster && !e->poster_done) {
        RWHY("the render made no poster frame");
        return RV_E_INTERNAL;
    }
    return RV_OK;
}

rv_err render_encode(const char *desc, const render_plan *pl, const char *mp4_tmp,
                     const char *poster_tmp, render_progress_fn progress, void *ctx,
                     render_result *out, char *why, size_t why_len)
{
    enc e = {.last_percent = -1};
    rv_err er = open_graph(&e, desc, why, why_len);
    if (er == RV_OK)
        er = run(&e, pl, mp4_tmp, poster_tmp, progress, ctx, why, why_len);
    int64_t frames = e.frames;
    if (e.oc && e.oc->pb) {
        if (avio_closep(&e.oc->pb) < 0 && er == RV_OK) {
            RWHY("cannot write the video file");
            er = RV_E_INTERNAL;
        }
    }
    enc_free(&e);
    if (er != RV_OK)
        return er;
    struct stat sv, sp = {0};
    if (stat(mp4_tmp, &sv) != 0 || (poster_tmp && stat(poster_tmp, &sp) != 0))
        return RV_E_INTERNAL;
    if (out)
        *out = (render_result){
            .duration_ms = frames * 1000 / pl->profile.fps,
            .bytes = sv.st_size,
            .poster_bytes = sp.st_size,
            .width = pl->profile.width,
            .height = pl->profile.height,
        };
    return RV_OK;
}
