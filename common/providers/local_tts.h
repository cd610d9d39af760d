/* local_tts.h — the local provider's speech: libespeak-ng to an mp3, wav or flac file.
 *
 * No key, no network, no shell: espeak-ng synthesizes 16-bit mono PCM at its native
 * rate (22050 Hz), the PCM gets the volume gain, and media_writer (media.h)
 * resamples and encodes it frame by frame as it arrives, so memory stays at a few
 * frames whatever the length of the text.
 *
 * espeak-ng keeps its state in process globals and is not thread-safe: call these
 * functions from one thread only. The poller renders each job in a child process, so
 * the one-time initialisation per process is all the sharing there is. Initialise in
 * the child, never before a fork: espeak-ng starts an (idle) thread of its own. */
#ifndef RV_LOCAL_TTS_H
#define RV_LOCAL_TTS_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

enum {
    LOCAL_TTS_MAX_CHARS = 10000,  /* Unicode characters of text */
    LOCAL_TTS_MAX_SECONDS = 3600, /* longest speech a render may produce */
};

typedef struct local_tts_params {
    const char *text;    /* UTF-8, 1..LOCAL_TTS_MAX_CHARS characters, not only blanks;
                            plain text: no SSML, no [[phonemes]] */
    const char *voice;   /* espeak-ng voice or language: "en-us", "en-gb", "de", "fr" */
    const char *variant; /* espeak-ng variant: "f3", "m3"; NULL or "" = the voice's own */
    const char *emotion; /* auto|happy|sad|angry|fearful|disgusted|surprised|neutral;
                            NULL or unknown = neutral (see local_tts_emotion()) */
    double speed;        /* 0.5..2; espeak rate = 175 wpm x speed, within 80..450 */
    double pitch;        /* -12..12 semitones; espeak pitch 50 + 50/12 per semitone */
    double volume;       /* 0.1..10, linear gain on the PCM, clipped at full scale */
    const char *format;  /* "mp3" | "wav" | "flac" */
    int sample_rate;     /* 8000|16000|22050|24000|32000|44100 */
} local_tts_params;

typedef struct local_tts_result {
    int64_t duration_ms;      /* from the number of samples in the file */
    int64_t bytes;            /* size of the file */
    const char *content_type; /* static: "audio/mpeg", "audio/wav", "audio/flac" */
    int sample_rate;
} local_tts_result;

/* Renders p into a new file at out_path (replacing one that is there). The file
 * appears only when complete: on any failure nothing is left at out_path (and an
 * existing file there is untouched).
 *
 * p, out_path: borrowed. out: written on RV_OK only; may be NULL. why: on failure a
 * short reason, safe to show a user for RV_E_UNPROCESSABLE ("unknown voice"); may be
 * NULL when why_len is 0.
 * Errors: RV_E_UNPROCESSABLE for bad input — empty, blank, invalid UTF-8 or too long
 * text, unknown voice or variant, a value out of range, unknown format or rate, speech
 * longer than LOCAL_TTS_MAX_SECONDS; RV_E_INTERNAL for the rest (espeak-ng data
 * missing, encoder or file system failure). Initialises espeak-ng on first use. */
rv_err local_tts_render(const local_tts_params *p, const char *out_path, local_tts_result *out,
                        char *why, size_t why_len);

/* A word of a segment as espeak-ng spoke it: its place in the segment's text (bytes)
 * and its span in the output. */
typedef struct local_tts_word {
    size_t offset, len;       /* bytes of the segment's text */
    int64_t start_ms, end_ms; /* in the whole output */
} local_tts_word;

/* One piece of a longer speech (a section of a script). */
typedef struct local_tts_segment {
    const char *text;         /* in: as local_tts_params.text */
    int64_t start_ms, end_ms; /* out: its span in the output */
    local_tts_word *words;    /* out: in order, from espeak-ng's word events (arena) */
    size_t n_words;
} local_tts_segment;

/* Renders the n segments one after another into one file, as local_tts_render()
 * renders p->text (p->text is not used), and reports each segment's span and its
 * words' spans. The words are the text's blank-separated tokens, each starting at
 * espeak-ng's word event inside it (the few it reports none for are placed by
 * characters between their neighbours) and lasting to the next one's start (the
 * last to its segment's end). Each segment ends with espeak-ng's natural pause. The word
 * arrays are allocated in a. Errors as local_tts_render(); a segment's bad text is
 * RV_E_UNPROCESSABLE. */
rv_err local_tts_render_segments(const local_tts_params *p, local_tts_segment *segs, size_t n,
                                 arena *a, const char *out_path, local_tts_result *out, char *why,
                                 size_t why_len);

/* Initialises espeak-ng for this process (synchronous mode, no audio device) with
 * data from data_path: the espeak-ng-data folder or its parent. NULL looks in
 * $ESPEAK_DATA_PATH, espeak-ng's compiled-in default
 * (/usr/lib/x86_64-linux-gnu/espeak-ng-data on Debian), /usr/share/espeak-ng-data
 * and /usr/local/share/espeak-ng-data, in that order. Once it succeeded, later calls
 * do nothing and return RV_OK. local_tts_render() calls it with NULL.
 * Errors: RV_E_INTERNAL with a reason when no usable data is found. */
rv_err local_tts_init(const char *data_path, char *why, size_t why_len);

/* The espeak-ng-data folder in use; NULL before a successful local_tts_init(). */
const char *local_tts_data_path(void);

/* Releases espeak-ng's memory (espeak_ng_Terminate) at the end of the process, for
 * orderly exits and leak checkers; harmless when not initialised. Final: espeak-ng
 * 1.51 cannot be set up again after it (a second terminate deadlocks in its idle
 * fifo thread), so later calls of local_tts_init()/local_tts_render() fail with
 * RV_E_INTERNAL. */
void local_tts_shutdown(void);

/* A seeded preset voice. All strings static. */
typedef struct local_voice {
    const char *preset_id; /* "preset-en-us-female" */
    const char *voice;     /* espeak-ng voice, "en-us" */
    const char *variant;   /* espeak-ng variant, "f3" */
} local_voice;

/* The preset with that id, or NULL (unknown id, NULL). */
const local_voice *local_tts_voice(const char *preset_id);

/* How an emotion shifts the speech. Small on purpose: espeak-ng has no emotional
 * model, so an emotion is a slightly different pitch, speed and intonation range.
 *
 *   emotion    pitch (semitones)  speed   range (espeak, 50 = normal)
 *   auto        0                 x1.00   50   (same as neutral)
 *   neutral     0                 x1.00   50
 *   happy      +2                 x1.08   70
 *   sad        -2                 x0.88   30
 *   angry      +1                 x1.10   75
 *   fearful    +3                 x1.12   65
 *   disgusted  -1                 x0.92   40
 *   surprised  +4                 x1.04   85
 *
 * The offsets apply on top of the request's pitch and speed; the sum is clamped to
 * -12..12 semitones and 0.5..2. */
typedef struct local_emotion {
    const char *name;
    double pitch; /* semitones added */
    double speed; /* factor */
    int range;    /* espeak-ng pitch range 0..100 */
} local_emotion;

/* The row for name; never NULL: NULL or an unknown name gives the neutral row. */
const local_emotion *local_tts_emotion(const char *name);

#endif
