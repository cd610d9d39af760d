/* test_local_tts.c — espeak-ng speech to files: formats, rates, prosody, volume,
 * bad input, and the real-time factor (printed, not asserted). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "media.h"
#include "providers/local_tts.h"
#include "unit_util.h"

static const char *dir;

static const char SHORT[] = "Hello world.";
static const char MEDIUM[] = "Hello world. This is Reelvox, speaking with a local voice.";
static const char LONG[] = "Hello world. This is Reelvox, speaking with a local voice. It needs "
                           "no key and no network, and it turns text into speech on this very "
                           "machine, one sentence after another.";
static const char PARAGRAPH[] =
    "The quick brown fox jumps over the lazy dog, and the dog, being lazy, does not mind at "
    "all. Meanwhile the studio keeps working: scripts become narration, narration becomes "
    "video, and every minute of audio is accounted for. ";

/* Defaults of the API: speed 1, pitch 0, volume 1, mp3 at 32 kHz. */
static local_tts_params params(const char *text, const char *format, int rate)
{
    return (local_tts_params){.text = text,
                              .voice = "en-us",
                              .variant = "f3",
                              .emotion = NULL,
                              .speed = 1,
                              .pitch = 0,
                              .volume = 1,
                              .format = format,
                              .sample_rate = rate};
}

/* Renders p into dir/name, asserting success. */
static local_tts_result render_ok(const local_tts_params *p, const char *name, char *path,
                                  size_t cap)
{
    char why[160] = "";
    local_tts_result res = {0};
    unit_path(path, cap, dir, name);
    rv_err er = local_tts_render(p, path, &res, why, sizeof why);
    if (er != RV_OK)
        fail_msg("%s: render failed (%d): %s", name, er, why);
    return res;
}

static int64_t render_ms(const local_tts_params *p, const char *name)
{
    char path[600];
    int64_t ms = render_ok(p, name, path, sizeof path).duration_ms;
    remove(path);
    return ms;
}

/* A text of about n characters: PARAGRAPH repeated, cut after a word. */
static char *text_of(size_t n)
{
    char *t = malloc(n + 1);
    assert_non_null(t);
    size_t plen = strlen(PARAGRAPH);
    for (size_t i = 0; i < n; i++)
        t[i] = PARAGRAPH[i % plen];
    t[n] = '\0';
    char *sp = strrchr(t, ' ');
    if (sp && sp > t)
        *sp = '\0';
    return t;
}

/* ---- tables -------------------------------------------------------------------------- */

static void test_presets(void **state)
{
    (void)state;
    static const struct {
        const char *id, *voice, *variant;
    } rows[] = {
        {"preset-en-us-female", "en-us", "f3"},
        {"preset-en-us-male", "en-us", "m3"},
        {"preset-en-gb-female", "en-gb", "f2"},
        {"preset-en-gb-male", "en-gb", "m1"},
        {"preset-de-female", "de", "f1"},
        {"preset-fr-male", "fr", "m2"},
        {"preset-es-female", "es", "f4"},
        {"preset-xx", NULL, NULL},
        {"", NULL, NULL},
        {"PRESET-EN-US-FEMALE", NULL, NULL},
        {NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const local_voice *v = local_tts_voice(rows[i].id);
        if (!rows[i].voice) {
            assert_null(v);
            continue;
        }
        assert_non_null(v);
        assert_string_equal(v->preset_id, rows[i].id);
        assert_string_equal(v->voice, rows[i].voice);
        assert_string_equal(v->variant, rows[i].variant);
    }
}

/* Every preset is a voice espeak-ng really has. */
static void test_presets_render(void **state)
{
    (void)state;
    static const char *const ids[] = {
        "preset-en-us-female", "preset-en-us-male", "preset-en-gb-female", "preset-en-gb-male",
        "preset-de-female",    "preset-fr-male",    "preset-es-female"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const local_voice *v = local_tts_voice(ids[i]);
        local_tts_params p = params("Ça va très bien, merci. Uno, dos, tres.", "wav", 16000);
        p.voice = v->voice;
        p.variant = v->variant;
        assert_true(render_ms(&p, ids[i]) > 500);
    }
}

static void test_emotions(void **state)
{
    (void)state;
    static const struct {
        const char *name, *row;
        double pitch, speed;
    } rows[] = {
        {"auto", "auto", 0, 1},
        {"neutral", "neutral", 0, 1},
        {"happy", "happy", 2, 1.08},
        {"sad", "sad", -2, 0.88},
        {"angry", "angry", 1, 1.10},
        {"fearful", "fearful", 3, 1.12},
        {"disgusted", "disgusted", -1, 0.92},
        {"surprised", "surprised", 4, 1.04},
        {"bored", "neutral", 0, 1},
        {"HAPPY", "neutral", 0, 1},
        {"", "neutral", 0, 1},
        {NULL, "neutral", 0, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const local_emotion *e = local_tts_emotion(rows[i].name);
        assert_non_null(e);
        assert_string_equal(e->name, rows[i].row);
        assert_float_equal(e->pitch, rows[i].pitch, 1e-9);
        assert_float_equal(e->speed, rows[i].speed, 1e-9);
        assert_in_range(e->range, 0, 100);
    }
}

/* ---- formats and rates --------------------------------------------------------------- */

typedef struct {
    const char *name, *format;
    int rate;
    const char *mime, *demuxer, *codec;
} format_row;

#define FMT_ROWS(f, mime, demux, codec)                                                            \
    {f " 8000", f, 8000, mime, demux, codec}, {f " 16000", f, 16000, mime, demux, codec},          \
        {f " 22050", f, 22050, mime, demux, codec}, {f " 24000", f, 24000, mime, demux, codec},    \
        {f " 32000", f, 32000, mime, demux, codec},                                                \
    {                                                                                              \
        f " 44100", f, 44100, mime, demux, codec                                                   \
    }

static const format_row format_rows[] = {
    FMT_ROWS("mp3", "audio/mpeg", "mp3", "mp3"),
    FMT_ROWS("wav", "audio/wav", "wav", "pcm_s16le"),
    FMT_ROWS("flac", "audio/flac", "flac", "flac"),
};

static void test_format_rate(void **state)
{
    const format_row *r = *state;
    char path[600], name[64];
    snprintf(name, sizeof name, "speech-%d.%s", r->rate, r->format);
    local_tts_params p = params(MEDIUM, r->format, r->rate);
    int before = unit_count_files(dir);
    local_tts_result res = render_ok(&p, name, path, sizeof path);

    assert_string_equal(res.content_type, r->mime);
    assert_int_equal(res.sample_rate, r->rate);
    assert_int_equal(res.bytes, unit_file_size(path));
    assert_in_range(res.duration_ms, 2000, 8000);
    assert_int_equal(unit_count_files(dir), before + 1);

    media_info mi;
    assert_int_equal(media_probe(path, &mi), RV_OK);
    assert_true(mi.has_audio);
    assert_string_equal(mi.format, r->demuxer);
    assert_string_equal(mi.codec, r->codec);
    assert_int_equal(mi.sample_rate, r->rate);
    assert_int_equal(mi.channels, 1);
    if (llabs(mi.duration_ms - res.duration_ms) > 60)
        fail_msg("%s: rendered %lld ms, probed %lld ms", r->name, (long long)res.duration_ms,
                 (long long)mi.duration_ms);
    remove(path);
}

/* ---- prosody and volume -------------------------------------------------------------- */

static void test_duration_grows(void **state)
{
    (void)state;
    static const char *const formats[] = {"wav", "mp3", "flac"};
    for (size_t f = 0; f < 3; f++) {
        local_tts_params a = params(SHORT, formats[f], 16000);
        local_tts_params b = params(MEDIUM, formats[f], 16000);
        local_tts_params c = params(LONG, formats[f], 16000);
        int64_t ms_a = render_ms(&a, "grow-a"), ms_b = render_ms(&b, "grow-b"),
                ms_c = render_ms(&c, "grow-c");
        print_message("%s: %zu chars %lld ms, %zu chars %lld ms, %zu chars %lld ms\n", formats[f],
                      strlen(SHORT), (long long)ms_a, strlen(MEDIUM), (long long)ms_b, strlen(LONG),
                      (long long)ms_c);
        assert_true(ms_a > 300);
        assert_true(ms_b > ms_a + 1000);
        assert_true(ms_c > ms_b + 1000);
    }
}

/* Segments: one file, contiguous spans, and a span per word (a blank-separated
 * token) from espeak-ng's word events, in order and inside their segment, "the"
 * (which espeak-ng reports no event for) included; "café." is one word of six
 * bytes. */
static void test_segments(void **state)
{
    (void)state;
    arena *a = arena_new();
    local_tts_segment segs[] = {{.text = "Hello world."}, {.text = "Rice grows in the café."}};
    local_tts_params p = params("", "mp3", 32000);
    char path[600], why[256];
    unit_path(path, sizeof path, dir, "segments.mp3");
    local_tts_result res;
    assert_int_equal(local_tts_render_segments(&p, segs, 2, a, path, &res, why, sizeof why), RV_OK);
    assert_int_equal(segs[0].start_ms, 0);
    assert_int_equal(segs[1].start_ms, segs[0].end_ms);
    assert_true(segs[0].end_ms > 300);
    assert_true(llabs(segs[1].end_ms - res.duration_ms) < 100);
    assert_int_equal(segs[0].n_words, 2);
    for (size_t k = 0; k < segs[1].n_words; k++)
        print_message("word %zu: %.*s %lld..%lld\n", k, (int)segs[1].words[k].len,
                      segs[1].text + segs[1].words[k].offset, (long long)segs[1].words[k].start_ms,
                      (long long)segs[1].words[k].end_ms);
    assert_int_equal(segs[1].n_words, 5);
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < segs[i].n_words; k++) {
            local_tts_word *w = &segs[i].words[k];
            assert_true(w->start_ms >= segs[i].start_ms && w->end_ms <= segs[i].end_ms);
            assert_true(w->start_ms <= w->end_ms);
            if (k)
                assert_true(w->start_ms >= segs[i].words[k - 1].start_ms);
        }
    local_tts_word *cafe = &segs[1].words[4];
    assert_int_equal(cafe->len, 6);
    assert_memory_equal(segs[1].text + cafe->offset, "caf\xc3\xa9.", 6);
    assert_true(segs[1].words[0].start_ms > segs[1].start_ms - 1);
    remove(path);
    /* A blank segment is refused before anything is written. */
    local_tts_segment bad[] = {{.text = "Fine."}, {.text = "  "}};
    assert_int_equal(local_tts_render_segments(&p, bad, 2, a, path, NULL, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    arena_free(a);
}

static void test_speed(void **state)
{
    (void)state;
    local_tts_params p = params(LONG, "wav", 16000);
    p.speed = 0.5;
    int64_t slow = render_ms(&p, "slow.wav");
    p.speed = 1;
    int64_t normal = render_ms(&p, "normal.wav");
    p.speed = 2;
    int64_t fast = render_ms(&p, "fast.wav");
    print_message("speed 0.5: %lld ms, 1: %lld ms, 2: %lld ms\n", (long long)slow,
                  (long long)normal, (long long)fast);
    assert_true(slow > normal && normal > fast);
    assert_true(slow > 2 * fast); /* 87 vs 350 wpm; pauses shrink less than words */
}

/* espeak-ng is not bit-exact from one synthesis to the next in one process (the
 * first is ~40 ms shorter, later ones differ by a few samples): comparisons of two
 * renders allow for that. */
enum { JITTER_MS = 60 };

/* Sad is slower than happy (x0.88 against x1.08). */
static void test_emotion_render(void **state)
{
    (void)state;
    local_tts_params p = params(LONG, "wav", 16000);
    p.emotion = "sad";
    int64_t sad = render_ms(&p, "sad.wav");
    p.emotion = "happy";
    int64_t happy = render_ms(&p, "happy.wav");
    p.emotion = "no-such-emotion";
    int64_t unknown = render_ms(&p, "unknown.wav");
    p.emotion = "neutral";
    int64_t neutral = render_ms(&p, "neutral.wav");
    print_message("sad %lld ms, happy %lld ms, neutral %lld ms, unknown %lld ms\n", (long long)sad,
                  (long long)happy, (long long)neutral, (long long)unknown);
    assert_true(sad > happy + 1000);
    assert_true(llabs(unknown - neutral) <= JITTER_MS);
}

typedef struct {
    size_t n;
    int peak; /* largest |sample| */
    double rms;
    size_t clipped; /* samples at full scale */
    double f0;      /* median pitch of the voiced frames, Hz */
} wav_stats;

/* Median fundamental frequency: per 40 ms frame with some energy, the lag of the
 * strongest normalised autocorrelation between 60 and 500 Hz, if it is clearly
 * periodic. */
static double median_f0(const int16_t *x, size_t n, int rate)
{
    enum { MAX_FRAMES = 4096 };
    static double f0s[MAX_FRAMES];
    size_t frames = 0, win = (size_t)rate / 25;
    int lo = rate / 500, hi = rate / 60;
    for (size_t at = 0; at + win + (size_t)hi < n && frames < MAX_FRAMES; at += win) {
        double e0 = 0;
        for (size_t i = 0; i < win; i++)
            e0 += (double)x[at + i] * x[at + i];
        if (e0 / (double)win < 1e6) /* quieter than ~1000 rms: pause or fricative */
            continue;
        double best = 0;
        int best_lag = 0;
        for (int lag = lo; lag <= hi; lag++) {
            double c = 0, e1 = 0;
            for (size_t i = 0; i < win; i++) {
                c += (double)x[at + i] * x[at + i + (size_t)lag];
                e1 += (double)x[at + i + (size_t)lag] * x[at + i + (size_t)lag];
            }
            double r = c / sqrt(e0 * e1 + 1);
            if (r > best) {
                best = r;
                best_lag = lag;
            }
        }
        if (best > 0.6)
            f0s[frames++] = (double)rate / best_lag;
    }
    if (!frames)
        return 0;
    for (size_t i = 1; i < frames; i++) /* insertion sort: a few hundred frames */
        for (size_t j = i; j && f0s[j - 1] > f0s[j]; j--) {
            double t = f0s[j];
            f0s[j] = f0s[j - 1];
            f0s[j - 1] = t;
        }
    return f0s[frames / 2];
}

/* Renders a WAV at espeak's own rate (no resampling) and measures its samples. */
static wav_stats wav_render(local_tts_params *p, const char *name)
{
    char path[600];
    wav_stats s = {0};
    p->format = "wav";
    p->sample_rate = 22050;
    render_ok(p, name, path, sizeof path);
    size_t len = 0;
    unsigned char *buf = unit_read_file(path, &len);
    assert_non_null(buf);
    const int16_t *pcm = unit_wav_samples(buf, len, &s.n);
    assert_non_null(pcm);
    double sum = 0;
    for (size_t i = 0; i < s.n; i++) {
        int v = abs(pcm[i]);
        if (v > s.peak)
            s.peak = v;
        if (v >= 32767)
            s.clipped++;
        sum += (double)v * v;
    }
    s.rms = sqrt(sum / (double)s.n);
    s.f0 = median_f0(pcm, s.n, 22050);
    free(buf);
    remove(path);
    return s;
}

static void test_volume(void **state)
{
    (void)state;
    static const double gains[] = {0.1, 0.5, 1, 2, 10};
    wav_stats st[5];
    for (size_t i = 0; i < 5; i++) {
        local_tts_params p = params(MEDIUM, "wav", 22050);
        p.volume = gains[i];
        st[i] = wav_render(&p, "volume.wav");
        print_message("volume %4.1f: peak %5d, rms %7.1f, %6zu of %zu samples at full scale\n",
                      gains[i], st[i].peak, st[i].rms, st[i].clipped, st[i].n);
    }
    const wav_stats *one = &st[2];
    assert_true(one->peak > 1000 && one->peak < 32767 && one->clipped == 0);
    /* Below full scale the gain is linear (within espeak's render-to-render jitter). */
    for (size_t i = 0; i < 2; i++) {
        assert_true(st[i].clipped == 0);
        double rms_ratio = st[i].rms / one->rms, peak_ratio = (double)st[i].peak / one->peak;
        if (fabs(rms_ratio / gains[i] - 1) > 0.05 || fabs(peak_ratio / gains[i] - 1) > 0.10)
            fail_msg("volume %.1f: rms x%.3f, peak x%.3f", gains[i], rms_ratio, peak_ratio);
    }
    /* Above it, samples clip at full scale instead of wrapping round: louder still. */
    for (size_t i = 3; i < 5; i++) {
        assert_true(st[i].peak >= 32767);
        assert_true(st[i].clipped > 0);
        assert_true(st[i].rms > st[i - 1].rms);
    }
    assert_true(st[4].clipped > st[4].n / 50);
    assert_true(st[4].rms > 3 * one->rms);
}

/* Pitch -12 to +12 semitones is espeak pitch 0 to 100: the voice goes clearly up. */
static void test_pitch(void **state)
{
    (void)state;
    static const double semis[] = {-12, 0, 12};
    double f0[3];
    for (size_t i = 0; i < 3; i++) {
        local_tts_params p = params(LONG, "wav", 22050);
        p.pitch = semis[i];
        f0[i] = wav_render(&p, "pitch.wav").f0;
        print_message("pitch %+3.0f: median f0 %.0f Hz\n", semis[i], f0[i]);
    }
    assert_true(f0[0] > 50);
    assert_true(f0[1] > f0[0] * 1.1);
    assert_true(f0[2] > f0[1] * 1.1);
}

/* ---- bad input ----------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *text, *voice, *variant, *format;
    double speed, pitch, volume;
    int rate;
    const char *why; /* a substring of the reason */
} bad_row;

static char too_long[LOCAL_TTS_MAX_CHARS + 2];

/* clang-format off */
static const bad_row bad_rows[] = {
    {"empty text",        "",            "en-us", NULL,   "mp3", 1, 0, 1, 32000, "empty"},
    {"blank text",        " \t\r\n ",    "en-us", NULL,   "mp3", 1, 0, 1, 32000, "empty"},
    {"NULL text",         NULL,          "en-us", NULL,   "mp3", 1, 0, 1, 32000, "empty"},
    {"invalid UTF-8",     "caf\xc3",     "en-us", NULL,   "mp3", 1, 0, 1, 32000, "UTF-8"},
    {"overlong UTF-8",    "\xc0\xaf",    "en-us", NULL,   "mp3", 1, 0, 1, 32000, "UTF-8"},
    {"surrogate",         "\xed\xa0\x80", "en-us", NULL,  "mp3", 1, 0, 1, 32000, "UTF-8"},
    {"10001 characters",  too_long,      "en-us", NULL,   "mp3", 1, 0, 1, 32000, "longer"},
    {"unknown voice",     "Hello",       "xx-yy", NULL,   "mp3", 1, 0, 1, 32000, "unknown voice"},
    {"NULL voice",        "Hello",       NULL,    NULL,   "mp3", 1, 0, 1, 32000, "unknown voice"},
    {"empty voice",       "Hello",       "",      NULL,   "mp3", 1, 0, 1, 32000, "unknown voice"},
    {"voice as a path",   "Hello",       "../../etc/passwd", NULL, "mp3", 1, 0, 1, 32000, "unknown voice"},
    {"voice with variant", "Hello",      "en-us+f3", NULL, "mp3", 1, 0, 1, 32000, "unknown voice"},
    {"mbrola voice",      "Hello",       "mb-en1", NULL,  "mp3", 1, 0, 1, 32000, "unknown voice"},
    {"unknown variant",   "Hello",       "en-us", "zz9",  "mp3", 1, 0, 1, 32000, "variant"},
    {"variant as a path", "Hello",       "en-us", "../f3", "mp3", 1, 0, 1, 32000, "variant"},
    {"speed 0.4",         "Hello",       "en-us", NULL,   "mp3", 0.4, 0, 1, 32000, "speed"},
    {"speed 2.1",         "Hello",       "en-us", NULL,   "mp3", 2.1, 0, 1, 32000, "speed"},
    {"speed NaN",         "Hello",       "en-us", NULL,   "mp3", NAN, 0, 1, 32000, "speed"},
    {"pitch 13",          "Hello",       "en-us", NULL,   "mp3", 1, 13, 1, 32000, "pitch"},
    {"pitch -inf",        "Hello",       "en-us", NULL,   "mp3", 1, -INFINITY, 1, 32000, "pitch"},
    {"volume 0",          "Hello",       "en-us", NULL,   "mp3", 1, 0, 0, 32000, "volume"},
    {"volume 11",         "Hello",       "en-us", NULL,   "mp3", 1, 0, 11, 32000, "volume"},
    {"format ogg",        "Hello",       "en-us", NULL,   "ogg", 1, 0, 1, 32000, "format"},
    {"format NULL",       "Hello",       "en-us", NULL,   NULL,  1, 0, 1, 32000, "format"},
    {"rate 48000",        "Hello",       "en-us", NULL,   "mp3", 1, 0, 1, 48000, "rate"},
    {"rate 11025",        "Hello",       "en-us", NULL,   "wav", 1, 0, 1, 11025, "rate"},
    {"rate 0",            "Hello",       "en-us", NULL,   "flac", 1, 0, 1, 0,    "rate"},
};
/* clang-format on */

static void test_bad_input(void **state)
{
    const bad_row *r = *state;
    char path[600], why[160] = "";
    unit_path(path, sizeof path, dir, "bad.mp3");
    int before = unit_count_files(dir);
    local_tts_params p = {.text = r->text,
                          .voice = r->voice,
                          .variant = r->variant,
                          .speed = r->speed,
                          .pitch = r->pitch,
                          .volume = r->volume,
                          .format = r->format,
                          .sample_rate = r->rate};
    local_tts_result res = {.bytes = -7};
    assert_int_equal(local_tts_render(&p, path, &res, why, sizeof why), RV_E_UNPROCESSABLE);
    if (!strstr(why, r->why))
        fail_msg("%s: reason \"%s\" lacks \"%s\"", r->name, why, r->why);
    assert_int_equal(res.bytes, -7); /* out untouched */
    assert_false(unit_exists(path));
    assert_int_equal(unit_count_files(dir), before);

    /* A file already at the path survives the failure. */
    assert_true(unit_write_file(path, "keep", 4));
    assert_int_equal(local_tts_render(&p, path, NULL, NULL, 0), RV_E_UNPROCESSABLE);
    assert_int_equal(unit_file_size(path), 4);
    remove(path);
}

/* Punctuation only: espeak-ng produces no speech; nothing is left behind. */
static void test_no_speech(void **state)
{
    (void)state;
    char path[600], why[160] = "";
    unit_path(path, sizeof path, dir, "silent.wav");
    local_tts_params p = params("...", "wav", 8000);
    local_tts_result res;
    rv_err er = local_tts_render(&p, path, &res, why, sizeof why);
    print_message("\"...\" -> %s %s\n", er == RV_OK ? "ok" : "error", why);
    if (er == RV_OK) {
        assert_true(unit_exists(path));
        remove(path);
    } else {
        assert_int_equal(er, RV_E_UNPROCESSABLE);
        assert_false(unit_exists(path));
    }
}

static void test_bad_path(void **state)
{
    (void)state;
    char why[160] = "";
    int before = unit_count_files(dir);
    local_tts_params p = params(SHORT, "mp3", 22050);
    assert_int_equal(local_tts_render(&p, "/nonexistent-dir/x.mp3", NULL, why, sizeof why),
                     RV_E_INTERNAL);
    assert_true(why[0] != '\0');
    assert_int_equal(local_tts_render(NULL, "/tmp/x.mp3", NULL, why, sizeof why), RV_E_INTERNAL);
    assert_int_equal(local_tts_render(&p, NULL, NULL, why, sizeof why), RV_E_INTERNAL);
    assert_int_equal(unit_count_files(dir), before);
}

/* Half an mp3 of speech still probes (shorter) or fails cleanly. */
static void test_truncated_mp3(void **state)
{
    (void)state;
    char full[600], half[600];
    local_tts_params p = params(LONG, "mp3", 24000);
    local_tts_result res = render_ok(&p, "whole.mp3", full, sizeof full);
    unit_path(half, sizeof half, dir, "half.mp3");
    assert_true(unit_copy_prefix(full, half, (size_t)res.bytes / 2));
    media_info mi;
    rv_err er = media_probe(half, &mi);
    if (er == RV_OK) {
        print_message("half of %lld ms probes as %lld ms\n", (long long)res.duration_ms,
                      (long long)mi.duration_ms);
        assert_in_range(mi.duration_ms, res.duration_ms / 4, res.duration_ms * 3 / 4);
        assert_int_equal(mi.sample_rate, 24000);
    } else {
        assert_int_equal(er, RV_E_UNPROCESSABLE);
    }
    remove(full);
    remove(half);
}

/* ---- initialisation ------------------------------------------------------------------ */

/* Runs first: espeak-ng is set up once per process and cannot be set up again. */
static void test_init_paths(void **state)
{
    (void)state;
    char why[200] = "";
    assert_null(local_tts_data_path());
    assert_int_equal(local_tts_init("/nonexistent", why, sizeof why), RV_E_INTERNAL);
    assert_non_null(strstr(why, "/nonexistent"));
    assert_null(local_tts_data_path());
    assert_int_equal(local_tts_init(dir, why, sizeof why), RV_E_INTERNAL); /* no phontab */
    assert_null(local_tts_data_path());

    /* The parent of espeak-ng-data is as good as the folder itself. */
    static const char *const parents[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/share",
                                          "/usr/local/share"};
    rv_err er = RV_E_INTERNAL;
    for (size_t i = 0; i < sizeof parents / sizeof parents[0] && er != RV_OK; i++)
        er = local_tts_init(parents[i], why, sizeof why);
    if (er != RV_OK) /* data somewhere else: let espeak-ng's default find it */
        er = local_tts_init(NULL, why, sizeof why);
    assert_int_equal(er, RV_OK);
    const char *found = local_tts_data_path();
    assert_non_null(found);
    assert_non_null(strstr(found, "espeak-ng-data"));
    print_message("espeak-ng data: %s\n", found);
    assert_int_equal(local_tts_init("/nonexistent", why, sizeof why), RV_OK); /* already up */
    assert_int_equal(local_tts_init(NULL, why, sizeof why), RV_OK);
    assert_string_equal(local_tts_data_path(), found);
}

/* ---- the real-time factor ------------------------------------------------------------ */

/* Seconds of audio per CPU second, ~1000 characters of English (printed, not asserted:
 * it depends on the machine and on the build). */
static void test_realtime_factor(void **state)
{
    (void)state;
    static const struct {
        const char *format;
        int rate;
    } rows[] = {{"mp3", 32000}, {"mp3", 22050},  {"mp3", 44100}, {"wav", 32000},
                {"wav", 22050}, {"flac", 32000}, {"flac", 44100}};
    char *text = text_of(1000);
    size_t chars = strlen(text);
    char path[600];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        local_tts_params p = params(text, rows[i].format, rows[i].rate);
        double t0 = unit_cpu_seconds();
        local_tts_result res = render_ok(&p, "rtf", path, sizeof path);
        double cpu = unit_cpu_seconds() - t0;
        double audio = (double)res.duration_ms / 1000;
        print_message("RTF %-4s %5d Hz: %zu chars -> %6.2f s audio, %7lld bytes, "
                      "%6.3f s CPU, %6.1fx real time\n",
                      rows[i].format, rows[i].rate, chars, audio, (long long)res.bytes, cpu,
                      audio / cpu);
        assert_true(audio > 30);
        remove(path);
    }
    free(text);
}

/* The longest text the API accepts renders within the limits. */
static void test_max_text(void **state)
{
    (void)state;
    char *text = text_of(LOCAL_TTS_MAX_CHARS + 100);
    text[LOCAL_TTS_MAX_CHARS] = '\0';
    char path[600];
    local_tts_params p = params(text, "mp3", 32000);
    double t0 = unit_cpu_seconds();
    local_tts_result res = render_ok(&p, "max.mp3", path, sizeof path);
    double cpu = unit_cpu_seconds() - t0;
    print_message("10000 chars -> %.1f s audio, %lld bytes, %.2f s CPU\n",
                  (double)res.duration_ms / 1000, (long long)res.bytes, cpu);
    assert_in_range(res.duration_ms, 300 * 1000, LOCAL_TTS_MAX_SECONDS * 1000);
    remove(path);
    free(text);
}

static int setup(void **state)
{
    (void)state;
    memset(too_long, 'a', LOCAL_TTS_MAX_CHARS + 1);
    dir = unit_tmpdir("localtts");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    local_tts_shutdown();
    unit_rmtree(dir);
    return 0;
}

/* One test per table row, named after the row. */
#define ROW_TEST(f, row) ((struct CMUnitTest){(row)->name, f, NULL, NULL, (void *)(row)})
#define N(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
    struct CMUnitTest tests[96];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_init_paths);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_presets);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_presets_render);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_emotions);
    for (size_t i = 0; i < N(format_rows); i++)
        tests[n++] = ROW_TEST(test_format_rate, &format_rows[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_duration_grows);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_speed);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_segments);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_emotion_render);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_volume);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_pitch);
    for (size_t i = 0; i < N(bad_rows); i++)
        tests[n++] = ROW_TEST(test_bad_input, &bad_rows[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_no_speech);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_path);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_truncated_mp3);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_realtime_factor);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_max_text);
    return _cmocka_run_group_tests("local_tts", tests, n, setup, teardown);
}
