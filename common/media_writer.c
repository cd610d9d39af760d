#include "media_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#include "durable.h"

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
