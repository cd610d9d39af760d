#include "media_int.h"

#include <libavcodec/avcodec.h>

enum { PROBE_MAX_PACKETS = 20 * 1000 * 1000 };

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

    struct timespec deadline;
    media_deadline(&deadline);

    rv_err er = RV_E_UNPROCESSABLE;
    AVPacket *pkt = NULL;
    probe_state ps = {0};
    media_info info = {0};
    AVFormatContext *fc;
    if ((er = media_open_input(path, &deadline, &fc)) != RV_OK)
        return er;
    er = RV_E_UNPROCESSABLE;
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
        if (ps.too_long || ++packets > PROBE_MAX_PACKETS || media_past(&deadline))
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
