#include "media_int.h"

#include <math.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

enum { NORM_BLOCK_MS = 400, CHUNK = 4096 };

/* Takes n mono float samples; anything but RV_OK stops the decoding with that error. */
typedef rv_err (*pcm_sink)(void *ctx, const float *x, int n);

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

/* Gated level: block powers, then the gates (see media.h). */
typedef struct level_meter {
    double sum; /* of squares in the current block */
    int64_t in_block, block;
    double *powers;
    size_t n, cap;
    float peak;
} level_meter;

static rv_err meter_push(level_meter *m)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 256;
        double *p = realloc(m->powers, cap * sizeof *p);
        if (!p)
            return RV_E_INTERNAL;
        m->powers = p;
        m->cap = cap;
    }
    m->powers[m->n++] = m->sum / (double)m->in_block;
    m->sum = 0;
    m->in_block = 0;
    return RV_OK;
}

static rv_err meter_sink(void *ctx, const float *x, int n)
{
    level_meter *m = ctx;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > m->peak)
            m->peak = a;
        m->sum += (double)x[i] * x[i];
        if (++m->in_block == m->block && meter_push(m) != RV_OK)
            return RV_E_INTERNAL;
    }
    return RV_OK;
}

/* The gated level in dBFS; false when every block is below the absolute gate. */
static bool meter_level(const level_meter *m, double *db)
{
    const double abs_gate = 1e-7; /* -70 dBFS */
    double sum = 0, gate;
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->powers[i] > abs_gate)
            sum += m->powers[i], k++;
    if (k == 0)
        return false;
    gate = sum / (double)k * 0.1; /* 10 dB below the mean of what is not silence */
    sum = 0;
    k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->powers[i] > abs_gate && m->powers[i] >= gate)
            sum += m->powers[i], k++;
    *db = 10 * log10(sum / (double)k);
    return true;
}

typedef struct gain_writer {
    media_writer *w;
    float gain;
    char *why;
    size_t why_len;
} gain_writer;

static rv_err gain_sink(void *ctx, const float *x, int n)
{
    gain_writer *g = ctx;
    int16_t pcm[CHUNK];
    while (n > 0) {
        int k = n > CHUNK ? CHUNK : n;
        for (int i = 0; i < k; i++) {
            float v = x[i] * g->gain;
            v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
            pcm[i] = (int16_t)lrintf(v * 32767.0f);
        }
        rv_err er = media_writer_write(g->w, pcm, (size_t)k, g->why, g->why_len);
        if (er != RV_OK)
            return er;
        x += k;
        n -= k;
    }
    return RV_OK;
}

rv_err media_normalize(const char *in_path, const char *out_path, int rate, media_normalized *res,
                       char *why, size_t why_len)
{
    media_init();
    if (!media_rate_ok(rate)) {
        WHY("unsupported sample rate");
        return RV_E_UNPROCESSABLE;
    }
    level_meter m = {.block = (int64_t)rate * NORM_BLOCK_MS / 1000};
    rv_err er = pcm_decode(in_path, rate, meter_sink, &m, why, why_len);
    /* A last block of at least a quarter counts (a short sample has one at least). */
    if (er == RV_OK && m.in_block >= m.block / 4)
        er = meter_push(&m);
    double level = 0;
    bool sound = er == RV_OK && meter_level(&m, &level);
    free(m.powers);
    if (er != RV_OK)
        return er;
    if (!sound) {
        WHY("the audio is silent");
        return RV_E_UNPROCESSABLE;
    }
    double peak_db = 20 * log10(m.peak);
    double gain_db = fmin(MEDIA_NORM_TARGET_DB - level, MEDIA_NORM_CEILING_DB - peak_db);

    gain_writer g = {.gain = (float)pow(10, gain_db / 20), .why = why, .why_len = why_len};
    if ((er = media_writer_open(&g.w, out_path, MEDIA_WAV, rate, rate, why, why_len)) != RV_OK)
        return er;
    if ((er = pcm_decode(in_path, rate, gain_sink, &g, why, why_len)) != RV_OK) {
        media_writer_abort(g.w);
        return er;
    }
    media_written wr;
    if ((er = media_writer_finish(g.w, &wr, why, why_len)) != RV_OK)
        return er;
    if (res)
        *res = (media_normalized){wr.duration_ms, wr.bytes, level, peak_db, gain_db};
    return RV_OK;
}

