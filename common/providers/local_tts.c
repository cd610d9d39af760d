#include "local_tts.h"

#include <espeak-ng/espeak_ng.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavutil/avstring.h>

#include "media.h"

#define WHY(...) ((void)(why && why_len ? snprintf(why, why_len, __VA_ARGS__) : 0))

/* ---- tables -------------------------------------------------------------------------- */

/* clang-format off */
static const local_voice presets[] = {
    {"preset-en-us-female", "en-us", "f3"},
    {"preset-en-us-male",   "en-us", "m3"},
    {"preset-en-gb-female", "en-gb", "f2"},
    {"preset-en-gb-male",   "en-gb", "m1"},
    {"preset-de-female",    "de",    "f1"},
    {"preset-fr-male",      "fr",    "m2"},
    {"preset-es-female",    "es",    "f4"},
};

/* First row is the fallback. The table in local_tts.h says the same. */
static const local_emotion emotions[] = {
    /* name        pitch  speed  range */
    {"neutral",     0,    1.00,  50},
    {"auto",        0,    1.00,  50},
    {"happy",       2,    1.08,  70},
    {"sad",        -2,    0.88,  30},
    {"angry",       1,    1.10,  75},
    {"fearful",     3,    1.12,  65},
    {"disgusted",  -1,    0.92,  40},
    {"surprised",   4,    1.04,  85},
};
/* clang-format on */

const local_voice *local_tts_voice(const char *preset_id)
{
    if (!preset_id)
        return NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(preset_id, presets[i].preset_id) == 0)
            return &presets[i];
    return NULL;
}

const local_emotion *local_tts_emotion(const char *name)
{
    if (name)
        for (size_t i = 0; i < sizeof emotions / sizeof emotions[0]; i++)
            if (strcmp(name, emotions[i].name) == 0)
                return &emotions[i];
    return &emotions[0];
}

/* ---- espeak-ng, once per process ----------------------------------------------------- */

enum {
    RATE_NORMAL = espeakRATE_NORMAL, /* 175 words per minute */
    GAIN_CHUNK = 1024,
    NAME_MAX_LEN = 40,
    ESPEAK_PATH_MAX = 150,
};

static bool ready, shut_down;
static int native_rate;
static char data_dir[PATH_MAX];

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The espeak-ng-data folder in or at p: the one holding phontab. */
static bool find_data(const char *p, char *dir, size_t cap)
{
    char probe[PATH_MAX];
    struct stat sb;
    if (!p || !*p || !is_dir(p))
        return false;
    if ((size_t)snprintf(probe, sizeof probe, "%s/espeak-ng-data/phontab", p) < sizeof probe &&
        stat(probe, &sb) == 0)
        return (size_t)snprintf(dir, cap, "%s/espeak-ng-data", p) < cap;
    if ((size_t)snprintf(probe, sizeof probe, "%s/phontab", p) < sizeof probe &&
        stat(probe, &sb) == 0)
        return (size_t)snprintf(dir, cap, "%s", p) < cap;
    return false;
}

/* espeak_ng_InitializePath() quietly falls back to its default when a path is not
 * usable, so explicit paths are checked here first; it also keeps the path in a
 * fixed buffer of 160 bytes, hence the length check. NULL asks for the default. */
static bool try_init(const char *dir)
{
    if (dir && strlen(dir) >= ESPEAK_PATH_MAX)
        return false;
    espeak_ng_InitializePath(dir);
    espeak_ng_ERROR_CONTEXT ctx = NULL;
    espeak_ng_STATUS s = espeak_ng_Initialize(&ctx);
    espeak_ng_ClearErrorContext(&ctx);
    return s == ENS_OK;
}

static int synth_cb(short *wav, int n, espeak_EVENT *ev);

/* Terminate for good: espeak-ng 1.51 deadlocks when terminated a second time after
 * being initialised again. */
static void stop_engine(void)
{
    espeak_ng_Terminate();
    ready = false;
    shut_down = true;
}

rv_err local_tts_init(const char *data_path, char *why, size_t why_len)
{
    if (ready)
        return RV_OK;
    if (shut_down) {
        WHY("espeak-ng was shut down");
        return RV_E_INTERNAL;
    }
    media_init();
    static const char *const fallbacks[] = {"/usr/share/espeak-ng-data",
                                            "/usr/local/share/espeak-ng-data"};
    char dir[PATH_MAX];
    bool ok = false;
    if (data_path) {
        ok = find_data(data_path, dir, sizeof dir) && try_init(dir);
    } else {
        ok = try_init(NULL); /* $ESPEAK_DATA_PATH, then the compiled-in default */
        for (size_t i = 0; !ok && i < sizeof fallbacks / sizeof fallbacks[0]; i++)
            ok = find_data(fallbacks[i], dir, sizeof dir) && try_init(dir);
    }
    if (!ok) {
        WHY("espeak-ng data not found%s%s", data_path ? " at " : "", data_path ? data_path : "");
        return RV_E_INTERNAL;
    }
    if (espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL) != ENS_OK ||
        (native_rate = espeak_ng_GetSampleRate()) <= 0) {
        stop_engine();
        WHY("espeak-ng output cannot be set up");
        return RV_E_INTERNAL;
    }
    const char *used = NULL;
    espeak_Info(&used);
    snprintf(data_dir, sizeof data_dir, "%s", used ? used : "");
    espeak_SetSynthCallback(synth_cb);
    ready = true;
    return RV_OK;
}

const char *local_tts_data_path(void)
{
    return ready ? data_dir : NULL;
}

void local_tts_shutdown(void)
{
    if (ready)
        stop_engine();
}

/* ---- voices -------------------------------------------------------------------------- */

/* Voice and variant names reach espeak-ng as file names: only these characters, so
 * no path (`../`), no mbrola voice (which would start an mbrola process). */
static bool name_ok(const char *s, bool dash)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (dash && c == '-')))
            return false;
    }
    return n > 0 && n <= NAME_MAX_LEN;
}

static const char *base_name(const char *id)
{
    const char *slash = strrchr(id, '/');
    return slash ? slash + 1 : id;
}

/* espeak_ng_SetVoiceByName() is no judge of a name: it answers "not found" for
 * "en-gb" yet switches to it, and ignores an unknown "+variant". So the name is
 * matched here against espeak-ng's own voice list: a voice identifier ("en-US" for
 * gmw/en-US) wins, else the language code with the best priority ("en-gb", "fr").
 * The result is "gmw/en-US+f3", which loads exactly that voice file. */
static rv_err resolve_voice(const char *voice, const char *variant, char *spec, size_t cap,
                            char *why, size_t why_len)
{
    if (!voice || !name_ok(voice, true)) {
        WHY("unknown voice");
        return RV_E_UNPROCESSABLE;
    }
    char id[PATH_MAX] = "";
    int best = INT_MAX;
    for (const espeak_VOICE **v = espeak_ListVoices(NULL); v && *v; v++) {
        const char *ident = (*v)->identifier;
        if (!ident)
            continue;
        if (strcasecmp(base_name(ident), voice) == 0) {
            snprintf(id, sizeof id, "%s", ident);
            break;
        }
        /* languages: repeated {priority byte, name, NUL}, ended by a zero byte */
        for (const char *l = (*v)->languages; l && *l; l += strlen(l + 1) + 2)
            if (strcasecmp(l + 1, voice) == 0 && (unsigned char)*l < best) {
                best = (unsigned char)*l;
                snprintf(id, sizeof id, "%s", ident);
            }
    }
    if (!*id) {
        WHY("unknown voice");
        return RV_E_UNPROCESSABLE;
    }
    if (!variant || !*variant) {
        if ((size_t)snprintf(spec, cap, "%s", id) >= cap)
            goto internal;
        return RV_OK;
    }

    char var[NAME_MAX_LEN + 1] = "";
    if (name_ok(variant, false)) {
        espeak_VOICE sel = {.languages = "variant"};
        for (const espeak_VOICE **v = espeak_ListVoices(&sel); v && *v; v++)
            if ((*v)->identifier && strcasecmp(base_name((*v)->identifier), variant) == 0) {
                snprintf(var, sizeof var, "%s", base_name((*v)->identifier));
                break;
            }
    }
    if (!*var) {
        WHY("unknown voice variant");
        return RV_E_UNPROCESSABLE;
    }
    if ((size_t)snprintf(spec, cap, "%s+%s", id, var) < cap)
        return RV_OK;
internal:
    WHY("voice name too long");
    return RV_E_INTERNAL;
}

/* ---- render -------------------------------------------------------------------------- */

typedef struct render {
    media_writer *w;
    float gain;
    rv_err er;
    char *why;
    size_t why_len;
    int64_t samples;        /* written so far, all segments */
    local_tts_segment *seg; /* the segment being spoken, when words are wanted */
    int64_t seg_start_ms;
    size_t words_cap;
    arena *a;
} render;

/* A word event of the segment being spoken: its character position (1-based)
 * and length turned into bytes of the segment's text. */
static void note_word(render *r, const espeak_EVENT *e)
{
    local_tts_segment *sg = r->seg;
    if (sg->n_words == r->words_cap) {
        size_t cap = r->words_cap ? r->words_cap * 2 : 64;
        local_tts_word *nw = arena_alloc(r->a, cap * sizeof *nw);
        if (sg->n_words)
            memcpy(nw, sg->words, sg->n_words * sizeof *nw);
        sg->words = nw;
        r->words_cap = cap;
    }
    const uint8_t *t = (const uint8_t *)sg->text, *end = t + strlen(sg->text), *p = t;
    int32_t c;
    for (int k = 1; k < e->text_position && p < end; k++)
        if (av_utf8_decode(&c, &p, end, AV_UTF8_FLAG_ACCEPT_NON_CHARACTERS) < 0)
            return;
    const uint8_t *w0 = p;
    for (int k = 0; k < e->length && p < end; k++)
        if (av_utf8_decode(&c, &p, end, AV_UTF8_FLAG_ACCEPT_NON_CHARACTERS) < 0)
            return;
    if (p == w0)
        return;
    int64_t at = r->seg_start_ms + e->audio_position;
    if (sg->n_words && at < sg->words[sg->n_words - 1].start_ms)
        at = sg->words[sg->n_words - 1].start_ms;
    sg->words[sg->n_words++] = (local_tts_word){
        .offset = (size_t)(w0 - t), .len = (size_t)(p - w0), .start_ms = at, .end_ms = at};
}

/* espeak-ng is process-global and synchronous: the render in progress. */
static render *current;

/* Called by espeak-ng with each buffer of speech (about 60 ms); wav NULL at the end.
 * Returns 1 to stop synthesis. */
static int synth_cb(short *wav, int n, espeak_EVENT *ev)
{
    render *r = current;
    if (!r || r->er != RV_OK)
        return 1;
    for (; r->seg && ev && ev->type != espeakEVENT_LIST_TERMINATED; ev++)
        if (ev->type == espeakEVENT_WORD)
            note_word(r, ev);
    if (!wav || n <= 0)
        return 0;
    r->samples += n;
    int16_t buf[GAIN_CHUNK];
    for (int off = 0; off < n; off += GAIN_CHUNK) {
        int k = n - off < GAIN_CHUNK ? n - off : GAIN_CHUNK;
        for (int i = 0; i < k; i++) {
            float v = (float)wav[off + i] * r->gain;
            buf[i] = v >= 32767.f ? 32767 : v <= -32768.f ? -32768 : (int16_t)lrintf(v);
        }
        r->er = media_writer_write(r->w, buf, (size_t)k, r->why, r->why_len);
        if (r->er != RV_OK)
            return 1;
    }
    return 0;
}

static bool in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Valid UTF-8 (through libavutil's decoder), its length in characters, and whether
 * anything but ASCII blanks and controls is in it. */
static const char *check_text(const char *text)
{
    if (!text)
        return "text is empty";
    const uint8_t *p = (const uint8_t *)text, *end = p + strlen(text);
    size_t chars = 0;
    bool content = false;
    while (p < end) {
        int32_t c;
        if (av_utf8_decode(&c, &p, end, AV_UTF8_FLAG_ACCEPT_NON_CHARACTERS) < 0)
            return "text is not valid UTF-8";
        if (++chars > LOCAL_TTS_MAX_CHARS)
            return "text is longer than 10000 characters";
        if (c > ' ' && c != 0x7f)
            content = true;
    }
    return content ? NULL : "text is empty";
}

static rv_err check_params(const local_tts_params *p, media_format *fmt, char *why, size_t why_len)
{
    const char *bad = check_text(p->text);
    if (!bad && !in_range(p->speed, 0.5, 2))
        bad = "speed must be 0.5 to 2";
    if (!bad && !in_range(p->pitch, -12, 12))
        bad = "pitch must be -12 to 12";
    if (!bad && !in_range(p->volume, 0.1, 10))
        bad = "volume must be 0.1 to 10";
    if (!bad && !media_format_parse(p->format, fmt))
        bad = "format must be mp3, wav or flac";
    if (!bad && !media_rate_ok(p->sample_rate))
        bad = "unsupported sample rate";
    if (!bad)
        return RV_OK;
    WHY("%s", bad);
    return RV_E_UNPROCESSABLE;
}

/* Rate, pitch and range from the request and its emotion, set on every render since
 * espeak-ng keeps parameters across calls. Punctuation and capitals stay at their
 * initial "not spoken" (1.51 answers those two setters with an error anyway). */
static rv_err set_prosody(const local_tts_params *p)
{
    const local_emotion *e = local_tts_emotion(p->emotion);
    double speed = clampd(p->speed * e->speed, 0.5, 2);
    double semis = clampd(p->pitch + e->pitch, -12, 12);
    int rate = (int)clampd(lround(RATE_NORMAL * speed), espeakRATE_MINIMUM, espeakRATE_MAXIMUM);
    int pitch = (int)clampd(lround(50 + semis * 50 / 12), 0, 100);
    if (espeak_ng_SetParameter(espeakRATE, rate, 0) != ENS_OK ||
        espeak_ng_SetParameter(espeakPITCH, pitch, 0) != ENS_OK ||
        espeak_ng_SetParameter(espeakRANGE, e->range, 0) != ENS_OK ||
        espeak_ng_SetParameter(espeakVOLUME, 100, 0) != ENS_OK ||
        espeak_ng_SetParameter(espeakWORDGAP, 0, 0) != ENS_OK)
        return RV_E_INTERNAL;
    return RV_OK;
}

/* After espeak-ng has spoken everything into r's writer: the file finished and its
 * figures in *out (when out), or the writer dropped and the failure told. */
static rv_err finish(render *r, espeak_ng_STATUS st, local_tts_result *out, char *why,
                     size_t why_len)
{
    if (r->er != RV_OK) {
        media_writer_abort(r->w);
        return r->er;
    }
    if (st != ENS_OK) {
        media_writer_abort(r->w);
        WHY("speech synthesis failed");
        return RV_E_INTERNAL;
    }
    media_written res;
    rv_err er = media_writer_finish(r->w, &res, why, why_len);
    if (er != RV_OK) {
        if (er == RV_E_UNPROCESSABLE)
            WHY("text produced no speech");
        return er;
    }
    if (out)
        *out = (local_tts_result){.duration_ms = res.duration_ms,
                                  .bytes = res.bytes,
                                  .content_type = res.content_type,
                                  .sample_rate = res.sample_rate};
    return RV_OK;
}

rv_err local_tts_render(const local_tts_params *p, const char *out_path, local_tts_result *out,
                        char *why, size_t why_len)
{
    rv_err er;
    media_format fmt;
    char spec[PATH_MAX];
    if (why && why_len)
        why[0] = '\0';
    if (!p || !out_path) {
        WHY("no parameters or output path");
        return RV_E_INTERNAL;
    }
    if ((er = check_params(p, &fmt, why, why_len)) != RV_OK ||
        (er = local_tts_init(NULL, why, why_len)) != RV_OK ||
        (er = resolve_voice(p->voice, p->variant, spec, sizeof spec, why, why_len)) != RV_OK)
        return er;
    if (espeak_ng_SetVoiceByName(spec) != ENS_OK || set_prosody(p) != RV_OK) {
        WHY("espeak-ng cannot load voice %s", spec);
        return RV_E_INTERNAL;
    }

    render r = {.gain = (float)p->volume, .why = why, .why_len = why_len};
    if ((er = media_writer_open(&r.w, out_path, fmt, native_rate, p->sample_rate, why, why_len)) !=
        RV_OK)
        return er;
    media_writer_limit(r.w, (int64_t)LOCAL_TTS_MAX_SECONDS * 1000);

    /* Plain UTF-8 text: no espeakSSML, no espeakPHONEMES, so user text is only ever
     * spoken, never interpreted. ENDPAUSE gives the natural pause at the end. */
    current = &r;
    espeak_ng_STATUS st = espeak_ng_Synthesize(p->text, strlen(p->text) + 1, 0, POS_CHARACTER, 0,
                                               espeakCHARS_UTF8 | espeakENDPAUSE, NULL, NULL);
    current = NULL;
    return finish(&r, st, out, why, why_len);
}

static bool blank_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* espeak-ng reports no word event for some words ("the" before a noun): the
 * segment's words are its blank-separated tokens, each starting where an event
 * inside it says, and a token without one placed by characters between its timed
 * neighbours. Replaces sg->words. */
static void complete_words(arena *a, local_tts_segment *sg)
{
    const char *t = sg->text;
    size_t n = strlen(t), cap = 0, count = 0;
    for (size_t i = 0; i < n; i++)
        cap += !blank_byte(t[i]) && (i == 0 || blank_byte(t[i - 1]));
    if (cap == 0)
        return;
    local_tts_word *w = arena_alloc(a, cap * sizeof *w);
    bool *timed = arena_alloc(a, cap * sizeof *timed);
    size_t e = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && blank_byte(t[i]))
            i++;
        if (i >= n)
            break;
        size_t j = i;
        while (j < n && !blank_byte(t[j]))
            j++;
        w[count] = (local_tts_word){.offset = i, .len = j - i};
        while (e < sg->n_words && sg->words[e].offset < i)
            e++;
        if (e < sg->n_words && sg->words[e].offset < j) {
            w[count].start_ms = sg->words[e].start_ms;
            timed[count] = true;
        }
        count++;
        i = j;
    }
    for (size_t k = 0; k < count;) {
        if (timed[k]) {
            k++;
            continue;
        }
        size_t m = k; /* untimed run [k, m) */
        while (m < count && !timed[m])
            m++;
        int64_t from = k ? w[k - 1].start_ms : sg->start_ms;
        int64_t to = m < count ? w[m].start_ms : sg->end_ms;
        size_t chars = (k ? w[k - 1].len : 0), at = 0;
        for (size_t q = k; q < m; q++)
            chars += w[q].len;
        at = k ? w[k - 1].len : 0;
        for (size_t q = k; q < m; q++) {
            w[q].start_ms = from + (to - from) * (int64_t)at / (int64_t)(chars ? chars : 1);
            at += w[q].len;
        }
        k = m;
    }
    for (size_t k = 0; k < count; k++)
        w[k].end_ms = k + 1 < count ? w[k + 1].start_ms : sg->end_ms;
    sg->words = w;
    sg->n_words = count;
}

rv_err local_tts_render_segments(const local_tts_params *p, local_tts_segment *segs, size_t n,
                                 arena *a, const char *out_path, local_tts_result *out, char *why,
                                 size_t why_len)
{
    rv_err er;
    media_format fmt;
    char spec[PATH_MAX];
    if (why && why_len)
        why[0] = '\0';
    if (!p || !out_path || !segs || n == 0) {
        WHY("no parameters, segments or output path");
        return RV_E_INTERNAL;
    }
    for (size_t i = 0; i < n; i++) {
        local_tts_params one = *p;
        one.text = segs[i].text;
        if ((er = check_params(&one, &fmt, why, why_len)) != RV_OK)
            return er;
    }
    if ((er = local_tts_init(NULL, why, why_len)) != RV_OK ||
        (er = resolve_voice(p->voice, p->variant, spec, sizeof spec, why, why_len)) != RV_OK)
        return er;
    if (espeak_ng_SetVoiceByName(spec) != ENS_OK || set_prosody(p) != RV_OK) {
        WHY("espeak-ng cannot load voice %s", spec);
        return RV_E_INTERNAL;
    }
    render r = {.gain = (float)p->volume, .why = why, .why_len = why_len, .a = a};
    if ((er = media_writer_open(&r.w, out_path, fmt, native_rate, p->sample_rate, why, why_len)) !=
        RV_OK)
        return er;
    media_writer_limit(r.w, (int64_t)LOCAL_TTS_MAX_SECONDS * 1000);
    espeak_ng_STATUS st = ENS_OK;
    for (size_t i = 0; i < n && st == ENS_OK && r.er == RV_OK; i++) {
        local_tts_segment *sg = &segs[i];
        sg->words = NULL;
        sg->n_words = 0;
        r.seg = sg;
        r.words_cap = 0;
        r.seg_start_ms = r.samples * 1000 / native_rate;
        sg->start_ms = r.seg_start_ms;
        current = &r;
        /* Plain text only, as local_tts_render(). */
        st = espeak_ng_Synthesize(sg->text, strlen(sg->text) + 1, 0, POS_CHARACTER, 0,
                                  espeakCHARS_UTF8 | espeakENDPAUSE, NULL, NULL);
        current = NULL;
        sg->end_ms = r.samples * 1000 / native_rate;
        complete_words(a, sg);
    }
    return finish(&r, st, out, why, why_len);
}
