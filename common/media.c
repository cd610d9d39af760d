#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#include "durable.h"
#include "log.h"

#define WHY(...) ((void)(why && why_len ? snprintf(why, why_len, __VA_ARGS__) : 0))

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

/* ---- formats ------------------------------------------------------------------------- */

static const struct {
    const char *name; /* API value and muxer name */
    const char *mime;
} formats[] = {
    [MEDIA_MP3] = {"mp3", "audio/mpeg"},
    [MEDIA_WAV] = {"wav", "audio/wav"},
    [MEDIA_FLAC] = {"flac", "audio/flac"},
};

static const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100};

bool media_format_parse(const char *name, media_format *out)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(name, formats[i].name) == 0) {
            *out = (media_format)i;
            return true;
        }
    return false;
}

const char *media_content_type(media_format fmt)
{
    return (unsigned)fmt < sizeof formats / sizeof formats[0] ? formats[fmt].mime
                                                              : "application/octet-stream";
}

bool media_rate_ok(int rate)
{
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i] == rate)
            return true;
    return false;
}

/* ---- probe --------------------------------------------------------------------------- */

enum { PROBE_WALL_S = 30, PROBE_MAX_PACKETS = 20 * 1000 * 1000 };

static bool past(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* libavformat polls this inside blocking reads and long probes. */
static int probe_interrupt(void *opaque)
{
    return past(opaque);
}

typedef struct probe_state {
    AVCodecContext *dec;
    AVFrame *frame;
    int64_t us; /* decoded audio so far, microseconds */
    int rate, channels;
    bool too_long;
} probe_state;

/* Takes every frame the decoder has ready. Sample rate and channels come from the
 * first frame: that is what the decoder found in the data, not what a header said. */
static void probe_drain(probe_state *ps)
{
    while (avcodec_receive_frame(ps->dec, ps->frame) >= 0) {
        int rate = ps->frame->sample_rate;
        int ch = ps->frame->ch_layout.nb_channels;
        if (rate > 0 && ch > 0 && ps->frame->nb_samples > 0) {
            if (!ps->rate) {
                ps->rate = rate;
                ps->channels = ch;
            }
            ps->us += av_rescale(ps->frame->nb_samples, 1000000, rate);
            if (ps->us > (int64_t)MEDIA_MAX_DURATION_MS * 1000)
                ps->too_long = true;
        }
        av_frame_unref(ps->frame);
    }
}

rv_err media_probe(const char *path, media_info *out)
{
    media_init();
    if (!path || !*path || !out)
        return RV_E_UNPROCESSABLE;

    char url[PATH_MAX + 8];
    if ((size_t)snprintf(url, sizeof url, "file:%s", path) >= sizeof url)
        return RV_E_UNPROCESSABLE;

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += PROBE_WALL_S;

    rv_err er = RV_E_UNPROCESSABLE;
    AVDictionary *opt = NULL;
    AVPacket *pkt = NULL;
    probe_state ps = {0};
    media_info info = {0};

    AVFormatContext *fc = avformat_alloc_context();
    if (!fc)
        return RV_E_INTERNAL;
    fc->interrupt_callback.callback = probe_interrupt;
    fc->interrupt_callback.opaque = &deadline;
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
    if (avformat_find_stream_info(fc, NULL) < 0)
        goto done;
    snprintf(info.format, sizeof info.format, "%s", fc->iformat->name);

    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND) {
        /* An audio stream it skipped (no channels or no rate) is a broken one. */
        for (unsigned i = 0; i < fc->nb_streams; i++)
            if (fc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
                goto done;
        *out = info;
        er = RV_OK;
        goto done;
    }
    if (idx < 0 || !codec)
        goto done;
    for (unsigned i = 0; i < fc->nb_streams; i++)
        if ((int)i != idx)
            fc->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = fc->streams[idx];
    info.has_audio = true;
    snprintf(info.codec, sizeof info.codec, "%s", avcodec_get_name(st->codecpar->codec_id));

    er = RV_E_INTERNAL;
    if (!(ps.dec = avcodec_alloc_context3(codec)) || !(ps.frame = av_frame_alloc()) ||
        !(pkt = av_packet_alloc()))
        goto done;
    er = RV_E_UNPROCESSABLE;
    if (avcodec_parameters_to_context(ps.dec, st->codecpar) < 0)
        goto done;
    ps.dec->thread_count = 1;
    if (avcodec_open2(ps.dec, codec, NULL) < 0)
        goto done;

    /* Read to the end. A read error (damaged or truncated data) ends the data like
     * EOF does; a packet the decoder rejects is skipped. */
    long packets = 0;
    while (av_read_frame(fc, pkt) >= 0) {
        if (pkt->stream_index == idx && avcodec_send_packet(ps.dec, pkt) >= 0)
            probe_drain(&ps);
        av_packet_unref(pkt);
        if (ps.too_long || ++packets > PROBE_MAX_PACKETS || past(&deadline))
            goto done;
    }
    if (avcodec_send_packet(ps.dec, NULL) >= 0)
        probe_drain(&ps);
    if (ps.too_long || ps.us <= 0 || !ps.rate)
        goto done;

    info.duration_ms = ps.us / 1000;
    info.sample_rate = ps.rate;
    info.channels = ps.channels;
    *out = info;
    er = RV_OK;
done:
    av_packet_free(&pkt);
    av_frame_free(&ps.frame);
    avcodec_free_context(&ps.dec);
    avformat_close_input(&fc);
    return er;
}

/* ---- writer -------------------------------------------------------------------------- */

enum { CHUNK = 4096, PCM_FRAME = 1024 };

struct media_writer {
    media_format fmt;
    int in_rate, out_rate;
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    bool tmp_made;
    bool failed;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *frame;
    AVPacket *pkt;
    uint8_t *conv[1]; /* resampler output, mono: one plane */
    int conv_cap;
    int frame_size;
    bool small_last; /* the encoder takes a short last frame */
    int64_t next_pts;
    int64_t samples_in, samples_out; /* real samples, padding excluded */
    int64_t max_ms;
};

static atomic_uint tmp_counter;

static void writer_free(media_writer *w)
{
    if (w->oc) {
        if (w->oc->pb)
            avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    avcodec_free_context(&w->enc);
    swr_free(&w->swr);
    if (w->fifo)
        av_audio_fifo_free(w->fifo);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    av_freep(&w->conv[0]);
    if (w->tmp_made)
        unlink(w->tmp);
    free(w);
}

void media_writer_abort(media_writer *w)
{
    if (w)
        writer_free(w);
}

void media_writer_limit(media_writer *w, int64_t max_ms)
{
    w->max_ms = max_ms > 0 ? max_ms : 0;
}

static enum AVSampleFormat pick_sample_fmt(const AVCodec *c)
{
    if (!c->sample_fmts)
        return AV_SAMPLE_FMT_S16;
    for (const enum AVSampleFormat *f = c->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
        if (*f == AV_SAMPLE_FMT_S16 || *f == AV_SAMPLE_FMT_S16P)
            return *f;
    return c->sample_fmts[0];
}

static bool codec_takes_rate(const AVCodec *c, int rate)
{
    if (!c->supported_samplerates)
        return true;
    for (const int *r = c->supported_samplerates; *r; r++)
        if (*r == rate)
            return true;
    return false;
}

static const AVCodec *find_encoder(media_format fmt)
{
    switch (fmt) {
    case MEDIA_MP3: {
        /* LAME by name: the other MP3 encoder (shine) knows only 32-48 kHz. */
        const AVCodec *c = avcodec_find_encoder_by_name("libmp3lame");
        return c ? c : avcodec_find_encoder(AV_CODEC_ID_MP3);
    }
    case MEDIA_WAV:
        return avcodec_find_encoder(AV_CODEC_ID_PCM_S16LE);
    case MEDIA_FLAC:
        return avcodec_find_encoder(AV_CODEC_ID_FLAC);
    }
    return NULL;
}

static int64_t mp3_bitrate(int rate)
{
    return rate >= 32000 ? 128000 : rate >= 16000 ? 64000 : 32000;
}

/* Sends every packet the encoder has ready to the muxer. */
static int write_packets(media_writer *w)
{
    int rc;
    while ((rc = avcodec_receive_packet(w->enc, w->pkt)) >= 0) {
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        if ((rc = av_interleaved_write_frame(w->oc, w->pkt)) < 0)
            return rc;
    }
    return rc == AVERROR(EAGAIN) || rc == AVERROR_EOF ? 0 : rc;
}

/* Encodes the whole frames waiting in the FIFO; with last, also the remainder (short
 * if the encoder allows, else padded with silence). */
static int encode_fifo(media_writer *w, bool last)
{
    int have;
    while ((have = av_audio_fifo_size(w->fifo)) >= w->frame_size || (last && have > 0)) {
        int n = have < w->frame_size ? have : w->frame_size;
        int rc;
        w->frame->nb_samples = w->frame_size;
        if ((rc = av_frame_make_writable(w->frame)) < 0)
            return rc;
        if (av_audio_fifo_read(w->fifo, (void **)w->frame->data, n) != n)
            return AVERROR(EIO);
        if (n < w->frame_size && !w->small_last)
            av_samples_set_silence(w->frame->data, n, w->frame_size - n, 1, w->enc->sample_fmt);
        else
            w->frame->nb_samples = n;
        w->frame->pts = w->next_pts;
        w->next_pts += w->frame->nb_samples;
        w->samples_out += n;
        if ((rc = avcodec_send_frame(w->enc, w->frame)) < 0 || (rc = write_packets(w)) < 0)
            return rc;
    }
    return 0;
}

/* Runs n input samples (NULL: the resampler's tail) through the resampler into the
 * FIFO. */
static int resample(media_writer *w, const int16_t *pcm, int n)
{
    int need = swr_get_out_samples(w->swr, n);
    if (need < 0)
        return need;
    if (need == 0)
        return 0;
    if (need > w->conv_cap) {
        av_freep(&w->conv[0]);
        w->conv_cap = 0;
        if (av_samples_alloc(w->conv, NULL, 1, need, w->enc->sample_fmt, 0) < 0)
            return AVERROR(ENOMEM);
        w->conv_cap = need;
    }
    const uint8_t *in[1] = {(const uint8_t *)pcm};
    int got = swr_convert(w->swr, w->conv, w->conv_cap, pcm ? in : NULL, pcm ? n : 0);
    if (got < 0)
        return got;
    if (got > 0 && av_audio_fifo_write(w->fifo, (void **)w->conv, got) < got)
        return AVERROR(ENOMEM);
    return got;
}

rv_err media_writer_open(media_writer **out, const char *path, media_format fmt, int in_rate,
                         int out_rate, char *why, size_t why_len)
{
    media_init();
    *out = NULL;
    if ((unsigned)fmt >= sizeof formats / sizeof formats[0]) {
        WHY("unknown audio format");
        return RV_E_UNPROCESSABLE;
    }
    if (!media_rate_ok(out_rate) || in_rate < 1000 || in_rate > 384000) {
        WHY("unsupported sample rate");
        return RV_E_UNPROCESSABLE;
    }
    media_writer *w = calloc(1, sizeof *w);
    if (!w) {
        WHY("out of memory");
        return RV_E_INTERNAL;
    }
    w->fmt = fmt;
    w->in_rate = in_rate;
    w->out_rate = out_rate;
    const char *stage = "path too long";
    char url[PATH_MAX + 8];
    if (!path || !*path ||
        (size_t)snprintf(w->path, sizeof w->path, "%s", path) >= sizeof w->path ||
        (size_t)snprintf(w->tmp, sizeof w->tmp, "%s.%ld-%u.part", path, (long)getpid(),
                         atomic_fetch_add(&tmp_counter, 1)) >= sizeof w->tmp ||
        (size_t)snprintf(url, sizeof url, "file:%s", w->tmp) >= sizeof url)
        goto fail;

    /* O_EXCL: never write through someone else's file; 0666 leaves the mode to the
     * umask, as for any file this process makes. */
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        WHY("cannot create output file: %m"); /* errno, thread-safe unlike strerror */
        writer_free(w);
        return RV_E_INTERNAL;
    }
    close(fd);
    w->tmp_made = true;

    stage = "no encoder for format";
    const AVCodec *codec = find_encoder(fmt);
    if (!codec || !codec_takes_rate(codec, out_rate))
        goto fail;
    stage = "cannot set up encoder";
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    if (avformat_alloc_output_context2(&w->oc, NULL, formats[fmt].name, NULL) < 0 || !w->oc ||
        !(w->st = avformat_new_stream(w->oc, NULL)) || !(w->enc = avcodec_alloc_context3(codec)) ||
        av_channel_layout_copy(&w->enc->ch_layout, &mono) < 0)
        goto fail;
    w->enc->sample_fmt = pick_sample_fmt(codec);
    w->enc->sample_rate = out_rate;
    w->enc->time_base = (AVRational){1, out_rate};
    w->enc->thread_count = 1;
    if (fmt == MEDIA_MP3)
        w->enc->bit_rate = mp3_bitrate(out_rate);
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER)
        w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(w->enc, codec, NULL) < 0 ||
        avcodec_parameters_from_context(w->st->codecpar, w->enc) < 0)
        goto fail;
    w->st->time_base = w->enc->time_base;
    w->oc->metadata_header_padding = 0; /* flac would reserve 8 KB for tags we never add */
    w->small_last =
        codec->capabilities & (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
    w->frame_size = w->enc->frame_size > 0 ? w->enc->frame_size : PCM_FRAME;

    stage = "cannot set up resampler";
    if (swr_alloc_set_opts2(&w->swr, &mono, w->enc->sample_fmt, out_rate, &mono, AV_SAMPLE_FMT_S16,
                            in_rate, 0, NULL) < 0 ||
        swr_init(w->swr) < 0 ||
        !(w->fifo = av_audio_fifo_alloc(w->enc->sample_fmt, 1, 2 * w->frame_size)) ||
        !(w->frame = av_frame_alloc()) || !(w->pkt = av_packet_alloc()))
        goto fail;
    w->frame->nb_samples = w->frame_size;
    w->frame->format = w->enc->sample_fmt;
    w->frame->sample_rate = out_rate;
    if (av_channel_layout_copy(&w->frame->ch_layout, &mono) < 0 ||
        av_frame_get_buffer(w->frame, 0) < 0)
        goto fail;

    stage = "cannot write output file";
    if (avio_open(&w->oc->pb, url, AVIO_FLAG_WRITE) < 0 || avformat_write_header(w->oc, NULL) < 0)
        goto fail;
    *out = w;
    return RV_OK;
fail:
    WHY("%s", stage);
    writer_free(w);
    return RV_E_INTERNAL;
}

rv_err media_writer_write(media_writer *w, const int16_t *pcm, size_t n, char *why, size_t why_len)
{
    if (w->failed) {
        WHY("writer already failed");
        return RV_E_INTERNAL;
    }
    while (n > 0) {
        int chunk = n > CHUNK ? CHUNK : (int)n;
        w->samples_in += chunk;
        if (w->max_ms && w->samples_in * 1000 / w->in_rate > w->max_ms) {
            w->failed = true;
            WHY("audio longer than %lld s", (long long)(w->max_ms / 1000));
            return RV_E_UNPROCESSABLE;
        }
        if (resample(w, pcm, chunk) < 0 || encode_fifo(w, false) < 0) {
            w->failed = true;
            WHY("cannot encode audio");
            return RV_E_INTERNAL;
        }
        pcm += chunk;
        n -= (size_t)chunk;
    }
    return RV_OK;
}

rv_err media_writer_finish(media_writer *w, media_written *res, char *why, size_t why_len)
{
    rv_err er = RV_E_INTERNAL;
    const char *stage = "writer already failed";
    if (w->failed)
        goto fail;
    stage = "cannot encode audio";
    int got;
    while ((got = resample(w, NULL, 0)) > 0)
        ;
    if (got < 0 || encode_fifo(w, true) < 0)
        goto fail;
    if (w->samples_out == 0) {
        er = RV_E_UNPROCESSABLE;
        stage = "no audio to write";
        goto fail;
    }
    if (avcodec_send_frame(w->enc, NULL) < 0 || write_packets(w) < 0)
        goto fail;
    stage = "cannot write output file";
    if (av_write_trailer(w->oc) < 0 || avio_closep(&w->oc->pb) < 0)
        goto fail;
    /* Durable before it has a name (durable.h): fsync, rename, fsync the folder. */
    struct stat sb;
    if (stat(w->tmp, &sb) < 0 || durable_rename(w->tmp, w->path) != RV_OK)
        goto fail;
    w->tmp_made = false;
    if (res) {
        res->duration_ms = (w->samples_out * 1000 + w->out_rate / 2) / w->out_rate;
        res->bytes = (int64_t)sb.st_size;
        res->sample_rate = w->out_rate;
        res->content_type = formats[w->fmt].mime;
    }
    writer_free(w);
    return RV_OK;
fail:
    WHY("%s", stage);
    writer_free(w);
    return er;
}

/* ---- normalise ----------------------------------------------------------------------- */

enum { NORM_BLOCK_MS = 400 };

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
    char url[PATH_MAX + 8];
    if (!path || !*path || (size_t)snprintf(url, sizeof url, "file:%s", path) >= sizeof url) {
        WHY("no input file");
        return RV_E_UNPROCESSABLE;
    }
    pcm_decoder d = {.rate = rate, .sink = sink, .ctx = ctx};
    clock_gettime(CLOCK_MONOTONIC, &d.deadline);
    d.deadline.tv_sec += PROBE_WALL_S;
    AVDictionary *opt = NULL;
    rv_err er = RV_E_INTERNAL;
    if (!(d.fc = avformat_alloc_context()))
        return RV_E_INTERNAL;
    d.fc->interrupt_callback.callback = probe_interrupt;
    d.fc->interrupt_callback.opaque = &d.deadline;
    if (av_dict_set(&opt, "format_whitelist", MEDIA_PROBE_FORMATS, 0) < 0 ||
        av_dict_set(&opt, "protocol_whitelist", "file", 0) < 0 ||
        av_dict_set(&opt, "probesize", "2000000", 0) < 0 ||
        av_dict_set(&opt, "analyzeduration", "5000000", 0) < 0 ||
        av_dict_set(&opt, "max_streams", "16", 0) < 0) {
        av_dict_free(&opt);
        avformat_free_context(d.fc);
        return RV_E_INTERNAL;
    }
    int rc = avformat_open_input(&d.fc, url, NULL, &opt); /* frees fc on failure */
    av_dict_free(&opt);
    if (rc < 0) {
        WHY("not an audio file");
        return RV_E_UNPROCESSABLE;
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
        if (er == RV_OK && past(&d.deadline)) {
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
