#include "media_int.h"

#include <math.h>
#include <stdlib.h>

#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

typedef media_pcm_sink pcm_sink;

typedef struct pcm_decoder {
    AVFormatContext *fc;
    AVCodecContext *dec;
    SwrContext *swr;
    AVFrame *frame;
    AVPacket *pkt;
    float *buf; /* resampler output */
    int cap;
    int idx, rate;
    int in_rate, in_fmt, in_channels; /* what the resampler was set up for */
    int64_t samples;                  /* written to the sink so far */
    struct timespec deadline;
    pcm_sink sink;
    void *ctx;
} pcm_decoder;

static rv_err pcm_emit(pcm_decoder *d, const uint8_t **in, int n, char *why, size_t why_len)
{
    int need = swr_get_out_samples(d->swr, n);
    if (need < 0) {
        WHY("cannot resample audio");
        return RV_E_INTERNAL;
    }
    if (need > d->cap) {
        float *b = realloc(d->buf, (size_t)need * sizeof *b);
        if (!b) {
            WHY("out of memory");
            return RV_E_INTERNAL;
        }
        d->buf = b;
        d->cap = need;
    }
    uint8_t *out[1] = {(uint8_t *)d->buf};
    int got = need ? swr_convert(d->swr, out, d->cap, in, n) : 0;
    if (got < 0) {
        WHY("cannot resample audio");
        return RV_E_INTERNAL;
    }
    d->samples += got;
    if (d->samples / d->rate > MEDIA_MAX_DURATION_MS / 1000) {
        WHY("audio longer than %d s", MEDIA_MAX_DURATION_MS / 1000);
        return RV_E_UNPROCESSABLE;
    }
    return got > 0 ? d->sink(d->ctx, d->buf, got) : RV_OK;
}

/* Sets the resampler up from the first frame: that is what the decoder found in
 * the data. A stream that changes format midway is refused. */
static rv_err pcm_setup(pcm_decoder *d, const AVFrame *f, char *why, size_t why_len)
{
    int ch = f->ch_layout.nb_channels;
    if (d->swr) {
        if (f->sample_rate == d->in_rate && f->format == d->in_fmt && ch == d->in_channels)
            return RV_OK;
        WHY("the audio changes format midway");
        return RV_E_UNPROCESSABLE;
    }
    if (f->sample_rate <= 0 || ch <= 0) {
        WHY("audio without rate or channels");
        return RV_E_UNPROCESSABLE;
    }
    AVChannelLayout in = {0}, mono = AV_CHANNEL_LAYOUT_MONO;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&in, ch);
    else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
        return RV_E_INTERNAL;
    int rc = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT, d->rate, &in, f->format,
                                 f->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in);
    if (rc < 0 || swr_init(d->swr) < 0) {
        WHY("cannot set up resampler");
        return RV_E_INTERNAL;
    }
    d->in_rate = f->sample_rate;
    d->in_fmt = f->format;
    d->in_channels = ch;
    return RV_OK;
}

static rv_err pcm_drain(pcm_decoder *d, char *why, size_t why_len)
{
    rv_err er = RV_OK;
    while (er == RV_OK && avcodec_receive_frame(d->dec, d->frame) >= 0) {
        if (d->frame->nb_samples > 0 && (er = pcm_setup(d, d->frame, why, why_len)) == RV_OK)
            er = pcm_emit(d, (const uint8_t **)d->frame->extended_data, d->frame->nb_samples, why,
                          why_len);
        av_frame_unref(d->frame);
    }
    return er;
}

/* Decodes the best audio stream of path to mono float at rate, handing it to sink
 * piece by piece. Opens files as media_probe() does (whitelists, bounds); a damaged
 * packet is skipped. */
static rv_err pcm_decode(const char *path, int rate, pcm_sink sink, void *ctx, char *why,
                         size_t why_len)
{
    if (!path || !*path) {
        WHY("no input file");
        return RV_E_UNPROCESSABLE;
    }
    pcm_decoder d = {.rate = rate, .sink = sink, .ctx = ctx};
    media_deadline(&d.deadline);
    rv_err er = media_open_input(path, &d.deadline, &d.fc);
    if (er != RV_OK) {
        WHY(er == RV_E_UNPROCESSABLE ? "not an audio file" : "out of memory");
        return er;
    }
    const AVCodec *codec = NULL;
    er = RV_E_UNPROCESSABLE;
    if (avformat_find_stream_info(d.fc, NULL) < 0 ||
        (d.idx = av_find_best_stream(d.fc, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0)) < 0 || !codec) {
        WHY("no audio stream");
        goto done;
    }
    for (unsigned i = 0; i < d.fc->nb_streams; i++)
        if ((int)i != d.idx)
            d.fc->streams[i]->discard = AVDISCARD_ALL;
    if (!(d.dec = avcodec_alloc_context3(codec)) || !(d.frame = av_frame_alloc()) ||
        !(d.pkt = av_packet_alloc())) {
        er = RV_E_INTERNAL;
        goto done;
    }
    d.dec->thread_count = 1;
    if (avcodec_parameters_to_context(d.dec, d.fc->streams[d.idx]->codecpar) < 0 ||
        avcodec_open2(d.dec, codec, NULL) < 0) {
        WHY("cannot decode the audio");
        goto done;
    }

    er = RV_OK;
    while (er == RV_OK && av_read_frame(d.fc, d.pkt) >= 0) {
        if (d.pkt->stream_index == d.idx && avcodec_send_packet(d.dec, d.pkt) >= 0)
            er = pcm_drain(&d, why, why_len);
        av_packet_unref(d.pkt);
        if (er == RV_OK && media_past(&d.deadline)) {
            WHY("decoding took too long");
            er = RV_E_UNPROCESSABLE;
        }
    }
    if (er == RV_OK && avcodec_send_packet(d.dec, NULL) >= 0)
        er = pcm_drain(&d, why, why_len);
    if (er == RV_OK && !d.swr) {
        WHY("no decodable audio");
        er = RV_E_UNPROCESSABLE;
    }
    while (er == RV_OK && swr_get_delay(d.swr, d.rate) > 0) { /* the resampler's tail */
        int64_t before = d.samples;
        if ((er = pcm_emit(&d, NULL, 0, why, why_len)) == RV_OK && d.samples == before)
            break;
    }
done:
    free(d.buf);
    swr_free(&d.swr);
    av_packet_free(&d.pkt);
    av_frame_free(&d.frame);
    avcodec_free_context(&d.dec);
    avformat_close_input(&d.fc);
    return er;
}

rv_err media_decode(const char *path, int rate, media_pcm_sink sink, void *ctx, char *why,
                    size_t why_len)
{
    media_init();
    return pcm_decode(path, rate, sink, ctx, why, why_len);
}

/* ---- a filter chain: mono float in, whatever its filters make out ------------------- */

typedef struct chain {
    AVFilterGraph *g;
    AVFilterContext *src, *sink;
    AVFrame *frame; /* in, then out: reused */
    int rate;
    int64_t pts;
    rv_err (*take)(void *ctx, const AVFrame *f); /* each frame out of the chain */
    void *ctx;
} chain;

static void chain_close(chain *c)
{
    avfilter_graph_free(&c->g);
    av_frame_free(&c->frame);
}

/* abuffer (mono float at rate) -> filters -> abuffersink; one thread. */
static rv_err chain_open(chain *c, int rate, const char *filters)
{
    char args[128];
    snprintf(args, sizeof args, "sample_rate=%d:sample_fmt=flt:channel_layout=mono:time_base=1/%d",
             rate, rate);
    AVFilterInOut *in = NULL, *out = NULL;
    rv_err er = RV_E_INTERNAL;
    c->rate = rate;
    if (!(c->g = avfilter_graph_alloc()) || !(c->frame = av_frame_alloc()))
        goto done;
    c->g->nb_threads = 1;
    if (avfilter_graph_create_filter(&c->src, avfilter_get_by_name("abuffer"), "in", args, NULL,
                                     c->g) < 0 ||
        avfilter_graph_create_filter(&c->sink, avfilter_get_by_name("abuffersink"), "out", NULL,
                                     NULL, c->g) < 0 ||
        !(in = avfilter_inout_alloc()) || !(out = avfilter_inout_alloc()))
        goto done;
    /* The graph's open output is our source's, its open input our sink's. */
    out->name = av_strdup("in");
    out->filter_ctx = c->src;
    in->name = av_strdup("out");
    in->filter_ctx = c->sink;
    if (!out->name || !in->name || avfilter_graph_parse_ptr(c->g, filters, &in, &out, NULL) < 0 ||
        avfilter_graph_config(c->g, NULL) < 0)
        goto done;
    er = RV_OK;
done:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return er;
}

/* Hands every frame the chain has ready to take(). */
static rv_err chain_drain(chain *c)
{
    for (;;) {
        int rc = av_buffersink_get_frame(c->sink, c->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return RV_OK;
        if (rc < 0)
            return RV_E_INTERNAL;
        rv_err er = c->take(c->ctx, c->frame);
        av_frame_unref(c->frame);
        if (er != RV_OK)
            return er;
    }
}

/* A pcm_sink: n samples into the chain, and what comes out to take(). */
static rv_err chain_push(void *ctx, const float *x, int n)
{
    chain *c = ctx;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    c->frame->nb_samples = n;
    c->frame->format = AV_SAMPLE_FMT_FLT;
    c->frame->sample_rate = c->rate;
    c->frame->pts = c->pts;
    if (av_channel_layout_copy(&c->frame->ch_layout, &mono) < 0 ||
        av_frame_get_buffer(c->frame, 0) < 0) {
        av_frame_unref(c->frame);
        return RV_E_INTERNAL;
    }
    memcpy(c->frame->data[0], x, (size_t)n * sizeof *x);
    c->pts += n;
    if (av_buffersrc_add_frame(c->src, c->frame) < 0) { /* takes the buffer */
        av_frame_unref(c->frame);
        return RV_E_INTERNAL;
    }
    return chain_drain(c);
}

/* The end of the input: flushes every filter. */
static rv_err chain_end(chain *c)
{
    if (av_buffersrc_add_frame(c->src, NULL) < 0)
        return RV_E_INTERNAL;
    return chain_drain(c);
}

/* Decodes path at rate through filters, each frame out to take(ctx). */
static rv_err run_chain(const char *path, int rate, const char *filters,
                        rv_err (*take)(void *, const AVFrame *), void *ctx, char *why,
                        size_t why_len)
{
    chain c = {.take = take, .ctx = ctx};
    rv_err er = chain_open(&c, rate, filters);
    if (er != RV_OK) {
        WHY("cannot set up the loudness filters");
    } else if ((er = pcm_decode(path, rate, chain_push, &c, why, why_len)) == RV_OK &&
               (er = chain_end(&c)) != RV_OK) {
        WHY("cannot filter the audio");
    }
    chain_close(&c);
    return er;
}

/* ---- measuring: EBU R128 ----------------------------------------------------------------- */

/* ebur128 runs at 48 kHz (the graph converts to it); the true peak is the sample
 * peak after 4x oversampling of that (BS.1770-4), taken by astats to full precision
 * (ebur128's own peak metadata has three decimals of a linear value). The last value
 * each frame carries is the whole input's so far. */
#define MEASURE_FILTERS                                                                            \
    "ebur128=metadata=1,aresample=192000,"                                                         \
    "astats=metadata=1:reset=0:measure_perchannel=none:measure_overall=Peak_level"

typedef struct meter {
    double lufs, lra, peak_db;
    bool have_lufs, have_peak;
} meter;

static bool meta_double(const AVFrame *f, const char *key, double *v)
{
    const AVDictionaryEntry *e = av_dict_get(f->metadata, key, NULL, 0);
    char *end;
    if (!e)
        return false;
    double d = strtod(e->value, &end);
    if (end == e->value || !isfinite(d))
        return false;
    *v = d;
    return true;
}

static rv_err meter_take(void *ctx, const AVFrame *f)
{
    meter *m = ctx;
    double v;
    if (meta_double(f, "lavfi.r128.I", &v)) {
        m->lufs = v;
        m->have_lufs = true;
    }
    if (meta_double(f, "lavfi.r128.LRA", &v))
        m->lra = v;
    if (meta_double(f, "lavfi.astats.Overall.Peak_level", &v) &&
        (!m->have_peak || v > m->peak_db)) {
        m->peak_db = v;
        m->have_peak = true;
    }
    return RV_OK;
}

/* The loudness of path's mono mix at rate; RV_E_UNPROCESSABLE when it is silent (or
 * too short to hold one 400 ms block above the gates). */
static rv_err measure(const char *path, int rate, meter *m, char *why, size_t why_len)
{
    *m = (meter){0};
    rv_err er = run_chain(path, rate, MEASURE_FILTERS, meter_take, m, why, why_len);
    if (er != RV_OK)
        return er;
    if (!m->have_lufs || !m->have_peak || m->lufs <= MEDIA_SILENT_LUFS || m->peak_db < -150) {
        WHY("the audio is silent");
        return RV_E_UNPROCESSABLE;
    }
    return RV_OK;
}

rv_err media_loudness(const char *path, media_loudness_info *out, char *why, size_t why_len)
{
    media_init();
    meter m;
    rv_err er = measure(path, 48000, &m, why, why_len);
    if (er == RV_OK)
        *out = (media_loudness_info){.lufs = m.lufs, .true_peak_db = m.peak_db, .lra = m.lra};
    return er;
}

/* ---- normalising: loudnorm, linear ----------------------------------------------------- */

typedef struct pcm_writer {
    media_writer *w;
    char *why;
    size_t why_len;
} pcm_writer;

static rv_err writer_take(void *ctx, const AVFrame *f)
{
    pcm_writer *pw = ctx;
    return media_writer_write(pw->w, (const int16_t *)f->data[0], (size_t)f->nb_samples, pw->why,
                              pw->why_len);
}

rv_err media_normalize(const char *in_path, const char *out_path, int rate, media_normalized *res,
                       char *why, size_t why_len)
{
    media_init();
    if (!media_rate_ok(rate)) {
        WHY("unsupported sample rate");
        return RV_E_UNPROCESSABLE;
    }
    /* Measured at the output rate: the loudness of what will be written. */
    meter m;
    rv_err er = measure(in_path, rate, &m, why, why_len);
    if (er != RV_OK)
        return er;

    /* loudnorm takes the measurement as two-decimal options and stays linear (one
     * gain, no limiter) only when the gain keeps the true peak at TP and the
     * measured LRA is within its LRA: so the target is lowered to what the ceiling
     * allows, rounded down, and LRA (which decides nothing else in linear mode) is
     * given as at most its maximum. */
    double lufs = round(m.lufs * 100) / 100, tp = round(m.peak_db * 100) / 100;
    double target = fmin(MEDIA_NORM_TARGET_LUFS, lufs + MEDIA_NORM_CEILING_DBTP - tp);
    target = fmax(floor(target * 100 - 0.5) / 100, -70.0);
    double lra = fmin(fmax(m.lra, 0.1), 20.0);
    char filters[512];
    snprintf(filters, sizeof filters,
             "loudnorm=I=%.2f:TP=%.2f:LRA=20:measured_I=%.2f:measured_TP=%.2f:"
             "measured_LRA=%.2f:measured_thresh=%.2f:linear=true:print_format=none,"
             "aresample=%d,aformat=sample_fmts=s16:channel_layouts=mono:sample_rates=%d",
             target, MEDIA_NORM_CEILING_DBTP, lufs, fmax(tp, -99.0), lra, fmax(lufs - 10, -99.0),
             rate, rate);

    pcm_writer pw = {.why = why, .why_len = why_len};
    if ((er = media_writer_open(&pw.w, out_path, MEDIA_WAV, rate, rate, why, why_len)) != RV_OK)
        return er;
    if ((er = run_chain(in_path, rate, filters, writer_take, &pw, why, why_len)) != RV_OK) {
        media_writer_abort(pw.w);
        return er;
    }
    media_written wr;
    if ((er = media_writer_finish(pw.w, &wr, why, why_len)) != RV_OK)
        return er;
    if (res)
        *res = (media_normalized){.duration_ms = wr.duration_ms,
                                  .bytes = wr.bytes,
                                  .loudness_lufs = m.lufs,
                                  .true_peak_db = m.peak_db,
                                  .gain_db = target - lufs};
    return RV_OK;
}
