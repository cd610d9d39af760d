/* test_media.c — media_writer round trips and media_probe on good and hostile files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include <libavformat/avformat.h>

#include "media.h"
#include "unit_util.h"

static const char *dir;

/* ---- helpers ------------------------------------------------------------------------- */

/* ms of a 440 Hz sine at rate, written in uneven pieces into path. */
static rv_err write_sine(const char *path, media_format fmt, int in_rate, int out_rate, int ms,
                         media_written *res)
{
    char why[128] = "";
    media_writer *w;
    rv_err er = media_writer_open(&w, path, fmt, in_rate, out_rate, why, sizeof why);
    if (er != RV_OK)
        return er;
    size_t total = (size_t)in_rate * (size_t)ms / 1000, done = 0;
    static const size_t pieces[] = {1000, 333, 1, 4096, 10000, 77};
    int16_t buf[10000];
    for (size_t k = 0; done < total; k++) {
        size_t n = pieces[k % 6];
        if (n > total - done)
            n = total - done;
        for (size_t i = 0; i < n; i++)
            buf[i] = (int16_t)lrint(10000 * sin(2 * M_PI * 440 * (double)(done + i) / in_rate));
        if ((er = media_writer_write(w, buf, n, why, sizeof why)) != RV_OK) {
            media_writer_abort(w);
            return er;
        }
        done += n;
    }
    return media_writer_finish(w, res, why, sizeof why);
}

/* A WAV header (PCM) with the given fields, then data_bytes of a ramp. */
static void write_wav(const char *path, uint32_t riff_size, uint16_t fmt_tag, uint16_t channels,
                      uint32_t rate, uint16_t bits, uint32_t data_size, size_t data_bytes)
{
    unsigned char *b = calloc(1, 44 + data_bytes);
    assert_non_null(b);
    uint16_t align = (uint16_t)(channels * bits / 8);
    uint32_t byte_rate = rate * align;
#define LE16(o, v) (b[o] = (unsigned char)(v), b[(o) + 1] = (unsigned char)((v) >> 8))
#define LE32(o, v) (LE16(o, (v)&0xffff), LE16((o) + 2, (v) >> 16))
    memcpy(b, "RIFF", 4);
    LE32(4, riff_size);
    memcpy(b + 8, "WAVEfmt ", 8);
    LE32(16, 16u);
    LE16(20, fmt_tag);
    LE16(22, channels);
    LE32(24, rate);
    LE32(28, byte_rate);
    LE16(32, align);
    LE16(34, bits);
    memcpy(b + 36, "data", 4);
    LE32(40, data_size);
#undef LE32
#undef LE16
    for (size_t i = 0; i < data_bytes; i++)
        b[44 + i] = (unsigned char)(i * 7);
    assert_true(unit_write_file(path, b, 44 + data_bytes));
    free(b);
}

/* xorshift: deterministic noise for garbage and mutations. */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/* ---- formats and rates --------------------------------------------------------------- */

typedef struct {
    const char *name;
    bool ok;
    media_format fmt;
    const char *mime;
} format_row;

static const format_row format_rows[] = {
    {"mp3", true, MEDIA_MP3, "audio/mpeg"},
    {"wav", true, MEDIA_WAV, "audio/wav"},
    {"flac", true, MEDIA_FLAC, "audio/flac"},
    {"MP3", false, 0, NULL},
    {"ogg", false, 0, NULL},
    {"", false, 0, NULL},
    {"mp3 ", false, 0, NULL},
    {NULL, false, 0, NULL},
};

static void test_format_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof format_rows / sizeof format_rows[0]; i++) {
        const format_row *r = &format_rows[i];
        media_format f = (media_format)99;
        assert_int_equal(media_format_parse(r->name, &f), r->ok);
        if (r->ok) {
            assert_int_equal(f, r->fmt);
            assert_string_equal(media_content_type(f), r->mime);
        }
    }
    assert_string_equal(media_content_type((media_format)99), "application/octet-stream");
}

static void test_rates(void **state)
{
    (void)state;
    static const struct {
        int rate;
        bool ok;
    } rows[] = {{8000, true},   {16000, true},  {22050, true}, {24000, true},
                {32000, true},  {44100, true},  {0, false},    {-8000, false},
                {11025, false}, {48000, false}, {96000, false}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_int_equal(media_rate_ok(rows[i].rate), rows[i].ok);
}

/* ---- writer round trips -------------------------------------------------------------- */

typedef struct {
    const char *name;
    media_format fmt;
    int in_rate, out_rate;
    const char *demuxer, *codec;
    int tolerance_ms; /* |probed - 1000| */
} trip_row;

static const trip_row trips[] = {
    {"mp3 22050->8000", MEDIA_MP3, 22050, 8000, "mp3", "mp3", 60},
    {"mp3 22050->16000", MEDIA_MP3, 22050, 16000, "mp3", "mp3", 60},
    {"mp3 22050->22050", MEDIA_MP3, 22050, 22050, "mp3", "mp3", 60},
    {"mp3 22050->24000", MEDIA_MP3, 22050, 24000, "mp3", "mp3", 60},
    {"mp3 22050->32000", MEDIA_MP3, 22050, 32000, "mp3", "mp3", 60},
    {"mp3 44100->44100", MEDIA_MP3, 44100, 44100, "mp3", "mp3", 60},
    {"wav 22050->8000", MEDIA_WAV, 22050, 8000, "wav", "pcm_s16le", 3},
    {"wav 22050->22050", MEDIA_WAV, 22050, 22050, "wav", "pcm_s16le", 3},
    {"wav 16000->44100", MEDIA_WAV, 16000, 44100, "wav", "pcm_s16le", 3},
    {"flac 22050->16000", MEDIA_FLAC, 22050, 16000, "flac", "flac", 3},
    {"flac 22050->24000", MEDIA_FLAC, 22050, 24000, "flac", "flac", 3},
    {"flac 8000->44100", MEDIA_FLAC, 8000, 44100, "flac", "flac", 3},
};

static void test_writer_round_trip(void **state)
{
    const trip_row *r = *state;
    char path[600], name[64];
    snprintf(name, sizeof name, "trip-%d-%d-%d", (int)r->fmt, r->in_rate, r->out_rate);
    unit_path(path, sizeof path, dir, name);
    int before = unit_count_files(dir);

    media_written res;
    assert_int_equal(write_sine(path, r->fmt, r->in_rate, r->out_rate, 1000, &res), RV_OK);
    assert_int_equal(res.sample_rate, r->out_rate);
    assert_true(llabs(res.duration_ms - 1000) <= 2);
    assert_int_equal(res.bytes, unit_file_size(path));
    assert_string_equal(res.content_type, media_content_type(r->fmt));
    assert_int_equal(unit_count_files(dir), before + 1); /* no temporary file left */

    media_info mi;
    assert_int_equal(media_probe(path, &mi), RV_OK);
    assert_true(mi.has_audio);
    assert_string_equal(mi.format, r->demuxer);
    assert_string_equal(mi.codec, r->codec);
    assert_int_equal(mi.sample_rate, r->out_rate);
    assert_int_equal(mi.channels, 1);
    if (llabs(mi.duration_ms - 1000) > r->tolerance_ms)
        fail_msg("%s: probed %lld ms, wrote 1000", r->name, (long long)mi.duration_ms);
}

/* ---- writer errors ------------------------------------------------------------------- */

static void test_writer_errors(void **state)
{
    (void)state;
    char path[600], why[128];
    media_writer *w = (media_writer *)&w;
    unit_path(path, sizeof path, dir, "errors.wav");
    int before = unit_count_files(dir);

    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 22050, 48000, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    assert_null(w);
    assert_int_equal(media_writer_open(&w, path, (media_format)7, 22050, 8000, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 10, 8000, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    assert_int_equal(
        media_writer_open(&w, "/nonexistent-dir/x.wav", MEDIA_WAV, 22050, 8000, why, sizeof why),
        RV_E_INTERNAL);
    assert_non_null(strstr(why, "cannot create"));

    /* Nothing written: nothing left. */
    assert_int_equal(media_writer_open(&w, path, MEDIA_FLAC, 22050, 8000, why, sizeof why), RV_OK);
    assert_int_equal(media_writer_finish(w, NULL, why, sizeof why), RV_E_UNPROCESSABLE);
    assert_int_equal(unit_count_files(dir), before);

    /* Past the limit: the write fails, abort cleans up. */
    int16_t pcm[4410] = {0};
    assert_int_equal(media_writer_open(&w, path, MEDIA_MP3, 22050, 22050, why, sizeof why), RV_OK);
    media_writer_limit(w, 1000);
    rv_err er = RV_OK;
    for (int i = 0; i < 20 && er == RV_OK; i++)
        er = media_writer_write(w, pcm, 4410, why, sizeof why);
    assert_int_equal(er, RV_E_UNPROCESSABLE);
    assert_non_null(strstr(why, "longer"));
    assert_int_equal(media_writer_write(w, pcm, 1, why, sizeof why), RV_E_INTERNAL);
    media_writer_abort(w);
    assert_int_equal(unit_count_files(dir), before);

    /* An existing file survives an aborted writer and a failed finish. */
    assert_true(unit_write_file(path, "keep", 4));
    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 22050, 8000, why, sizeof why), RV_OK);
    assert_int_equal(media_writer_write(w, pcm, 4410, why, sizeof why), RV_OK);
    media_writer_abort(w);
    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 22050, 8000, why, sizeof why), RV_OK);
    assert_int_equal(media_writer_finish(w, NULL, why, sizeof why), RV_E_UNPROCESSABLE);
    assert_int_equal(unit_file_size(path), 4);
    assert_int_equal(unit_count_files(dir), before + 1);
    remove(path);
    media_writer_abort(NULL);
}

/* ---- probe: hostile and damaged files ------------------------------------------------ */

typedef enum { MUST_FAIL, MAY_FAIL, MUST_PASS } verdict;

typedef struct {
    const char *name;
    void (*make)(const char *path);
    verdict expect;
    int64_t min_ms, max_ms; /* when it passes */
} probe_row;

static void mk_zero(const char *p)
{
    assert_true(unit_write_file(p, "", 0));
}
static void mk_missing(const char *p)
{
    remove(p);
}
static void mk_text(const char *p)
{
    static const char t[] = "Hello, this is not audio at all.\n";
    assert_true(unit_write_file(p, t, sizeof t - 1));
}
static void mk_garbage(const char *p)
{
    unsigned char b[65536];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)rnd();
    assert_true(unit_write_file(p, b, sizeof b));
}
/* A HLS playlist pointing at a good file: probing it would read another file. */
static void mk_hls(const char *p)
{
    char good[600], body[1400];
    unit_path(good, sizeof good, dir, "hls-target.wav");
    assert_int_equal(write_sine(good, MEDIA_WAV, 22050, 22050, 500, NULL), RV_OK);
    int n = snprintf(body, sizeof body,
                     "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://%s\n"
                     "#EXT-X-ENDLIST\n",
                     good);
    assert_true(unit_write_file(p, body, (size_t)n));
}
static void mk_concat(const char *p)
{
    static const char t[] = "ffconcat version 1.0\nfile /etc/passwd\n";
    assert_true(unit_write_file(p, t, sizeof t - 1));
}
static void mk_wav_2gb(const char *p)
{
    write_wav(p, 0x7ffffff0u, 1, 1, 16000, 16, 0x7fffffc0u, 100);
}
static void mk_wav_4gb(const char *p)
{
    write_wav(p, 0xffffffffu, 1, 1, 16000, 16, 0xffffffffu, 100);
}
static void mk_wav_empty(const char *p)
{
    write_wav(p, 36, 1, 1, 16000, 16, 0, 0);
}
static void mk_wav_short(const char *p)
{
    write_wav(p, 36 + 32000, 1, 1, 16000, 16, 32000, 16000);
}
static void mk_wav_rate0(const char *p)
{
    write_wav(p, 36 + 1000, 1, 1, 0, 16, 1000, 1000);
}
static void mk_wav_ch0(const char *p)
{
    write_wav(p, 36 + 1000, 1, 0, 16000, 16, 1000, 1000);
}
static void mk_wav_huge_rate(const char *p)
{
    write_wav(p, 36 + 1000, 1, 1, 0xfffffff0u, 16, 1000, 1000);
}
static void mk_wav_many_ch(const char *p)
{
    write_wav(p, 36 + 1000, 1, 65535, 16000, 16, 1000, 1000);
}
static void mk_wav_bits0(const char *p)
{
    write_wav(p, 36 + 1000, 1, 1, 16000, 0, 1000, 1000);
}
static void mk_wav_tag(const char *p)
{
    write_wav(p, 36 + 1000, 0x1234, 1, 16000, 16, 1000, 1000);
}

static void truncated(const char *p, media_format fmt, const char *name, double keep)
{
    char full[600];
    unit_path(full, sizeof full, dir, name);
    assert_int_equal(write_sine(full, fmt, 22050, 22050, 2000, NULL), RV_OK);
    long long n = unit_file_size(full);
    assert_true(unit_copy_prefix(full, p, (size_t)((double)n * keep)));
    remove(full);
}
static void mk_mp3_half(const char *p)
{
    truncated(p, MEDIA_MP3, "full-h.mp3", 0.5);
}
static void mk_mp3_head(const char *p)
{
    truncated(p, MEDIA_MP3, "full-s.mp3", 0.02);
}
static void mk_flac_half(const char *p)
{
    truncated(p, MEDIA_FLAC, "full-h.flac", 0.5);
}
static void mk_wav_half(const char *p)
{
    truncated(p, MEDIA_WAV, "full-h.wav", 0.5);
}

static const probe_row probes[] = {
    {"zero-byte", mk_zero, MUST_FAIL, 0, 0},
    {"missing", mk_missing, MUST_FAIL, 0, 0},
    {"text", mk_text, MUST_FAIL, 0, 0},
    {"garbage", mk_garbage, MUST_FAIL, 0, 0},
    {"hls-playlist", mk_hls, MUST_FAIL, 0, 0},
    {"ffconcat", mk_concat, MUST_FAIL, 0, 0},
    /* 100 bytes of 16 kHz mono: 50 samples, 3 ms, whatever the header says. */
    {"wav-claims-2gb", mk_wav_2gb, MAY_FAIL, 0, 10},
    {"wav-claims-4gb", mk_wav_4gb, MAY_FAIL, 0, 10},
    {"wav-no-data", mk_wav_empty, MUST_FAIL, 0, 0},
    {"wav-half-data", mk_wav_short, MUST_PASS, 495, 505},
    {"wav-rate-0", mk_wav_rate0, MUST_FAIL, 0, 0},
    {"wav-rate-4g", mk_wav_huge_rate, MAY_FAIL, 0, 10},
    {"wav-0-channels", mk_wav_ch0, MUST_FAIL, 0, 0},
    {"wav-65535-channels", mk_wav_many_ch, MAY_FAIL, 0, 10},
    {"wav-0-bits", mk_wav_bits0, MAY_FAIL, 0, 1000},
    {"wav-unknown-codec", mk_wav_tag, MUST_FAIL, 0, 0},
    /* 2 s of sine, cut: what survives decodes; a damaged last frame is dropped. */
    {"mp3-cut-in-half", mk_mp3_half, MAY_FAIL, 800, 1100},
    {"mp3-first-2pct", mk_mp3_head, MAY_FAIL, 0, 100},
    {"flac-cut-in-half", mk_flac_half, MAY_FAIL, 700, 1100},
    {"wav-cut-in-half", mk_wav_half, MUST_PASS, 990, 1010},
};

static void test_probe_hostile(void **state)
{
    const probe_row *r = *state;
    char path[600];
    unit_path(path, sizeof path, dir, r->name);
    r->make(path);
    media_info mi;
    memset(&mi, 0x5a, sizeof mi);
    rv_err er = media_probe(path, &mi);
    print_message("%-20s -> %s", r->name, er == RV_OK ? "ok" : "unprocessable");
    if (er == RV_OK)
        print_message(" (%s/%s, %d Hz, %d ch, %lld ms)", mi.format, mi.codec, mi.sample_rate,
                      mi.channels, (long long)mi.duration_ms);
    print_message("\n");
    if (er != RV_OK) {
        assert_int_equal(er, RV_E_UNPROCESSABLE);
        if (r->expect == MUST_PASS)
            fail_msg("%s should probe", r->name);
        return;
    }
    if (r->expect == MUST_FAIL)
        fail_msg("%s should not probe", r->name);
    assert_true(mi.has_audio);
    assert_in_range(mi.duration_ms, r->min_ms, r->max_ms);
    assert_true(mi.sample_rate > 0);
    assert_true(mi.channels > 0);
}

static void test_probe_bad_args(void **state)
{
    (void)state;
    media_info mi;
    assert_int_equal(media_probe(NULL, &mi), RV_E_UNPROCESSABLE);
    assert_int_equal(media_probe("", &mi), RV_E_UNPROCESSABLE);
    assert_int_equal(media_probe(dir, &mi), RV_E_UNPROCESSABLE); /* a folder */
    assert_int_equal(media_probe("/dev/null", &mi), RV_E_UNPROCESSABLE);
}

/* A container with a subtitle stream and no audio: opens, says so. */
static void test_probe_no_audio(void **state)
{
    (void)state;
    char path[600], url[620];
    unit_path(path, sizeof path, dir, "subs.mkv");
    snprintf(url, sizeof url, "file:%s", path);
    AVFormatContext *oc = NULL;
    assert_true(avformat_alloc_output_context2(&oc, NULL, "matroska", NULL) >= 0);
    AVStream *st = avformat_new_stream(oc, NULL);
    assert_non_null(st);
    st->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
    st->codecpar->codec_id = AV_CODEC_ID_SUBRIP;
    st->time_base = (AVRational){1, 1000};
    assert_true(avio_open(&oc->pb, url, AVIO_FLAG_WRITE) >= 0);
    assert_true(avformat_write_header(oc, NULL) >= 0);
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    static char line[] = "hello";
    assert_true(av_new_packet(pkt, 5) >= 0);
    memcpy(pkt->data, line, 5);
    pkt->pts = pkt->dts = 0;
    pkt->duration = 1000;
    pkt->stream_index = st->index;
    assert_true(av_write_frame(oc, pkt) >= 0);
    av_packet_free(&pkt);
    assert_true(av_write_trailer(oc) >= 0);
    avio_closep(&oc->pb);
    avformat_free_context(oc);

    media_info mi;
    assert_int_equal(media_probe(path, &mi), RV_OK);
    assert_false(mi.has_audio);
    assert_string_equal(mi.format, "matroska,webm");
    assert_string_equal(mi.codec, "");
    assert_int_equal(mi.duration_ms, 0);
}

/* Damaged copies of good files: cut anywhere, bytes flipped anywhere. Every probe
 * must end in RV_OK with sane values or RV_E_UNPROCESSABLE; the sanitizer build
 * turns any memory error into a failure. */
static void test_probe_mutations(void **state)
{
    (void)state;
    static const struct {
        media_format fmt;
        const char *name;
    } srcs[] = {{MEDIA_MP3, "mut.mp3"}, {MEDIA_WAV, "mut.wav"}, {MEDIA_FLAC, "mut.flac"}};
    enum { ROUNDS = 150 };
    char src[600], dst[600];
    unit_path(dst, sizeof dst, dir, "mutant");
    for (size_t s = 0; s < 3; s++) {
        unit_path(src, sizeof src, dir, srcs[s].name);
        assert_int_equal(write_sine(src, srcs[s].fmt, 22050, 16000, 700, NULL), RV_OK);
        size_t len = 0;
        unsigned char *orig = unit_read_file(src, &len);
        assert_non_null(orig);
        unsigned char *b = malloc(len);
        assert_non_null(b);
        int ok = 0;
        for (int i = 0; i < ROUNDS; i++) {
            memcpy(b, orig, len);
            size_t n = len;
            if (i % 3 == 0)
                n = rnd() % len;
            int flips = i % 3 == 1 ? 1 + (int)(rnd() % 8) : (int)(rnd() % 3);
            for (int f = 0; f < flips && n; f++) {
                /* favour the header, where the lengths and rates live */
                size_t at = rnd() % 2 ? rnd() % (n < 128 ? n : 128) : rnd() % n;
                b[at] = (unsigned char)rnd();
            }
            assert_true(unit_write_file(dst, b, n));
            media_info mi;
            rv_err er = media_probe(dst, &mi);
            if (er == RV_OK) {
                ok++;
                if (mi.has_audio) {
                    assert_in_range(mi.duration_ms, 0, MEDIA_MAX_DURATION_MS);
                    assert_true(mi.sample_rate > 0 && mi.channels > 0);
                }
            } else {
                assert_int_equal(er, RV_E_UNPROCESSABLE);
            }
        }
        print_message("mutations of %s: %d/%d still probe\n", srcs[s].name, ok, ROUNDS);
        free(b);
        free(orig);
        remove(src);
    }
    remove(dst);
}

static int setup(void **state)
{
    (void)state;
    dir = unit_tmpdir("media");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unit_rmtree(dir);
    return 0;
}

/* One test per table row, named after the row. */
#define ROW_TEST(f, row) ((struct CMUnitTest){(row)->name, f, NULL, NULL, (void *)(row)})

int main(void)
{
    struct CMUnitTest tests[64];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_format_parse);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rates);
    for (size_t i = 0; i < sizeof trips / sizeof trips[0]; i++)
        tests[n++] = ROW_TEST(test_writer_round_trip, &trips[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_writer_errors);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        tests[n++] = ROW_TEST(test_probe_hostile, &probes[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_bad_args);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_no_audio);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_mutations);
    return _cmocka_run_group_tests("media", tests, n, setup, teardown);
}
