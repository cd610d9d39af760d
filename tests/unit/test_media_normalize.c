/* test_media_normalize.c — media_normalize(): a voice sample made mono, resampled and
 * brought to one loudness (EBU R128, measured), from WAV (mono and stereo) and mp3,
 * with pauses and with a peak that limits the gain; silent, missing and garbage
 * input refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "media.h"
#include "unit_util.h"

static const char *dir;

/* ---- helpers ------------------------------------------------------------------------- */

/* What a test sample holds: a 220 Hz sine of amplitude amp for `on` seconds, then
 * `off` seconds of silence, repeated `times`; one sample of amplitude click in the
 * middle when click > 0. Every channel the same. */
typedef struct sample {
    int rate, channels;
    double amp, on, off;
    int times;
    double click;
} sample;

static size_t sample_len(const sample *s)
{
    return (size_t)lround((s->on + s->off) * s->rate) * (size_t)s->times;
}

static double sample_at(const sample *s, size_t i)
{
    size_t period = (size_t)lround((s->on + s->off) * s->rate);
    size_t k = i % period;
    if (s->click > 0 && i == sample_len(s) / 2)
        return s->click;
    if ((double)k >= s->on * s->rate)
        return 0;
    return s->amp * sin(2 * M_PI * 220 * (double)i / s->rate);
}

static void le16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *b, uint32_t v)
{
    le16(b, v & 0xffff);
    le16(b + 2, v >> 16);
}

/* A 16-bit PCM WAV of s at path. */
static void write_sample_wav(const char *path, const sample *s)
{
    size_t n = sample_len(s), bytes = n * (size_t)s->channels * 2;
    unsigned char *b = calloc(1, 44 + bytes);
    assert_non_null(b);
    memcpy(b, "RIFF", 4);
    le32(b + 4, (uint32_t)(36 + bytes));
    memcpy(b + 8, "WAVEfmt ", 8);
    le32(b + 16, 16);
    le16(b + 20, 1);
    le16(b + 22, (unsigned)s->channels);
    le32(b + 24, (uint32_t)s->rate);
    le32(b + 28, (uint32_t)(s->rate * s->channels * 2));
    le16(b + 32, (unsigned)(s->channels * 2));
    le16(b + 34, 16);
    memcpy(b + 36, "data", 4);
    le32(b + 40, (uint32_t)bytes);
    for (size_t i = 0; i < n; i++) {
        int16_t v = (int16_t)lrint(sample_at(s, i) * 32767);
        for (int c = 0; c < s->channels; c++)
            le16(b + 44 + (i * (size_t)s->channels + (size_t)c) * 2, (uint16_t)v);
    }
    assert_true(unit_write_file(path, b, 44 + bytes));
    free(b);
}

/* The same sample as mp3, through media_writer (mono only). */
static void write_sample_mp3(const char *path, const sample *s)
{
    char why[128];
    media_writer *w;
    assert_int_equal(media_writer_open(&w, path, MEDIA_MP3, s->rate, s->rate, why, sizeof why),
                     RV_OK);
    size_t n = sample_len(s);
    int16_t buf[4096];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 4096 ? n - done : 4096;
        for (size_t i = 0; i < k; i++)
            buf[i] = (int16_t)lrint(sample_at(s, done + i) * 32767);
        assert_int_equal(media_writer_write(w, buf, k, why, sizeof why), RV_OK);
        done += k;
    }
    assert_int_equal(media_writer_finish(w, NULL, why, sizeof why), RV_OK);
}

/* What a written file holds. */
typedef struct measured {
    int channels, rate, bits;
    size_t n;
    double level_db; /* power of the 400 ms blocks above -50 dBFS, in dBFS */
    double peak_db;
} measured;

static measured measure(const char *path)
{
    measured m = {0};
    size_t len;
    unsigned char *b = unit_read_file(path, &len);
    assert_non_null(b);
    assert_true(len > 44);
    m.channels = b[22] | b[23] << 8;
    m.rate = (int)(b[24] | b[25] << 8 | b[26] << 16 | (uint32_t)b[27] << 24);
    m.bits = b[34] | b[35] << 8;
    const int16_t *x = unit_wav_samples(b, len, &m.n);
    assert_non_null(x);
    size_t block = (size_t)m.rate * 4 / 10;
    double sum = 0, peak = 0;
    size_t blocks = 0;
    for (size_t i = 0; i + block <= m.n; i += block) {
        double p = 0;
        for (size_t k = 0; k < block; k++) {
            double v = x[i + k] / 32768.0;
            p += v * v;
            peak = fmax(peak, fabs(v));
        }
        p /= (double)block;
        if (p > 1e-5)
            sum += p, blocks++;
    }
    m.level_db = blocks ? 10 * log10(sum / (double)blocks) : -200;
    m.peak_db = peak > 0 ? 20 * log10(peak) : -200;
    free(b);
    return m;
}

/* ---- tests --------------------------------------------------------------------------- */

/* The output's loudness, measured the EBU R128 way (media_loudness: ebur128 at
 * 48 kHz), is the target within 0.5 LU; its true peak stays under the ceiling; and
 * the gain is one linear gain: the output's sample peak is the input's plus
 * gain_db (a compressor or limiter would move it). */
static void test_levels(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        sample s;
        bool mp3;
        int rate; /* output */
    } cases[] = {
        /* Quiet stereo at 44.1 kHz: raised to the target, mono, 32 kHz. */
        {"quiet-stereo", {44100, 2, 0.05, 12, 0, 1, 0}, false, 32000},
        /* Loud mono at 16 kHz: lowered, upsampled. */
        {"loud-mono", {16000, 1, 0.9, 11, 0, 1, 0}, false, 32000},
        /* Pauses do not count (the gates): the sine parts reach the target. */
        {"pauses", {22050, 1, 0.1, 2, 3, 4, 0}, false, 24000},
        /* mp3 input. */
        {"mp3", {32000, 1, 0.3, 10, 0, 1, 0}, true, 32000},
        /* Other output rates. */
        {"to-16k", {44100, 2, 0.2, 10, 0, 1, 0}, false, 16000},
        {"to-44k", {8000, 1, 0.2, 10, 0, 1, 0}, false, 44100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[512], out[512], why[128] = "";
        unit_path(in, sizeof in, dir, cases[i].mp3 ? "in.mp3" : "in.wav");
        unit_path(out, sizeof out, dir, "out.wav");
        if (cases[i].mp3)
            write_sample_mp3(in, &cases[i].s);
        else
            write_sample_wav(in, &cases[i].s);
        media_normalized res;
        rv_err er = media_normalize(in, out, cases[i].rate, &res, why, sizeof why);
        if (er != RV_OK)
            fail_msg("%s: %d %s", cases[i].name, er, why);
        measured m = measure(out);
        double secs = (double)sample_len(&cases[i].s) / cases[i].s.rate;
        if (m.channels != 1 || m.bits != 16 || m.rate != cases[i].rate)
            fail_msg("%s: %d channels, %d bits, %d Hz", cases[i].name, m.channels, m.bits, m.rate);
        if (fabs((double)m.n / m.rate - secs) > 0.06 ||
            fabs(res.duration_ms / 1000.0 - secs) > 0.06)
            fail_msg("%s: %.3f s written, %.3f s read", cases[i].name, (double)m.n / m.rate, secs);
        media_loudness_info li;
        if (media_loudness(out, &li, why, sizeof why) != RV_OK)
            fail_msg("%s: cannot measure the output: %s", cases[i].name, why);
        if (fabs(li.lufs - MEDIA_NORM_TARGET_LUFS) > 0.5)
            fail_msg("%s: %.2f LUFS, want %.2f", cases[i].name, li.lufs, MEDIA_NORM_TARGET_LUFS);
        if (li.true_peak_db > MEDIA_NORM_CEILING_DBTP + 0.1)
            fail_msg("%s: true peak %.2f dBTP", cases[i].name, li.true_peak_db);
        /* libswresample mixes stereo to mono at -3 dB a channel: equal channels add
         * up to +3 dB. */
        double want_peak =
            20 * log10(cases[i].s.amp) + 10 * log10(cases[i].s.channels) + res.gain_db;
        if (fabs(m.peak_db - want_peak) > (cases[i].mp3 ? 0.6 : 0.15)) /* mp3 moves peaks */
            fail_msg("%s: peak %.2f dBFS, a linear gain of %.2f dB makes %.2f", cases[i].name,
                     m.peak_db, res.gain_db, want_peak);
        assert_true(fabs(res.loudness_lufs + res.gain_db - MEDIA_NORM_TARGET_LUFS) < 0.02);
        assert_int_equal(res.bytes, unit_file_size(out));
        assert_int_equal(unit_count_files(dir), 2); /* in and out, no temporary file */
        unlink(in);
        unlink(out);
    }
}

/* A quiet voice with one loud click: the gain stops where the click's true peak
 * reaches the ceiling, short of the target, and the click is not limited away. */
static void test_peak_limits_gain(void **state)
{
    (void)state;
    char in[512], out[512], why[128] = "";
    sample s = {32000, 1, 0.01, 12, 0, 1, 0.5};
    write_sample_wav(unit_path(in, sizeof in, dir, "click.wav"), &s);
    media_normalized res;
    assert_int_equal(media_normalize(in, unit_path(out, sizeof out, dir, "click-out.wav"), 32000,
                                     &res, why, sizeof why),
                     RV_OK);
    media_loudness_info li;
    assert_int_equal(media_loudness(out, &li, why, sizeof why), RV_OK);
    if (li.true_peak_db > MEDIA_NORM_CEILING_DBTP + 0.1 ||
        li.true_peak_db < MEDIA_NORM_CEILING_DBTP - 0.5)
        fail_msg("true peak %.2f dBTP", li.true_peak_db);
    assert_true(res.gain_db < MEDIA_NORM_TARGET_LUFS - res.loudness_lufs - 10);
    assert_true(fabs(res.gain_db - (MEDIA_NORM_CEILING_DBTP - res.true_peak_db)) < 0.02);
    assert_true(li.lufs < MEDIA_NORM_TARGET_LUFS - 10);
    measured m = measure(out);
    assert_true(fabs(m.peak_db - (20 * log10(0.5) + res.gain_db)) < 0.5);
    unlink(in);
    unlink(out);
}

static void test_refused(void **state)
{
    (void)state;
    char silent[512], garbage[512], good[512], out[512], why[128];
    sample quiet = {16000, 1, 0, 11, 0, 1, 0}, tone = {16000, 1, 0.2, 10, 0, 1, 0};
    write_sample_wav(unit_path(silent, sizeof silent, dir, "silent.wav"), &quiet);
    write_sample_wav(unit_path(good, sizeof good, dir, "good.wav"), &tone);
    assert_true(unit_write_file(unit_path(garbage, sizeof garbage, dir, "garbage.wav"),
                                "RIFF\x10\0\0\0WAVEjunkjunkjunk", 24));
    unit_path(out, sizeof out, dir, "refused-out.wav");
    const struct {
        const char *in;
        int rate;
        rv_err er;
    } cases[] = {
        {NULL, 32000, RV_E_UNPROCESSABLE},
        {"", 32000, RV_E_UNPROCESSABLE},
        {"/nonexistent/sample.wav", 32000, RV_E_UNPROCESSABLE},
        {garbage, 32000, RV_E_UNPROCESSABLE},
        {silent, 32000, RV_E_UNPROCESSABLE},
        {good, 48000, RV_E_UNPROCESSABLE}, /* not an output rate we offer */
        {good, 0, RV_E_UNPROCESSABLE},
    };
    int files = unit_count_files(dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        why[0] = '\0';
        assert_int_equal(media_normalize(cases[i].in, out, cases[i].rate, NULL, why, sizeof why),
                         cases[i].er);
        assert_true(why[0] != '\0');
        assert_false(unit_exists(out));
        assert_int_equal(unit_count_files(dir), files);
    }
    /* An output that cannot be written: internal, and the input is left alone. */
    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/missing-dir/out.wav", dir);
    assert_int_equal(media_normalize(good, nowhere, 32000, NULL, why, sizeof why), RV_E_INTERNAL);
    assert_true(unit_exists(good));
    unlink(silent);
    unlink(garbage);
    unlink(good);
}

int main(void)
{
    dir = unit_tmpdir("media-normalize");
    if (!dir)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_peak_limits_gain),
        cmocka_unit_test(test_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unit_rmtree(dir);
    return rc;
}
