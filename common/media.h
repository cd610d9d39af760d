/* media.h — audio files through libavformat/libavcodec: probe, write, normalise.
 *
 * media_probe() looks at a file we did not make (uploads, provider outputs) and says
 * what it really holds; media_writer turns 16-bit mono PCM into an mp3, wav or flac
 * file (resampled, encoded frame by frame) — the local provider's output path;
 * media_normalize() evens out a voice sample before it is cloned (EBU R128 through
 * libavfilter's ebur128 and loudnorm).
 *
 * No shell, no ffmpeg binary: libraries only. Paths are always opened through the
 * `file:` protocol, so a name can never select another protocol. libav's own log
 * lines go to log.h at debug level instead of raw stderr.
 *
 * Thread safety: functions may run in several threads at once on different objects;
 * a media_writer belongs to one thread at a time.
 *
 * The code: media_probe.c, media_writer.c, media_normalize.c, and media.c for what
 * they share (libav's log, media_open_input in media_int.h). */
#ifndef RV_MEDIA_H
#define RV_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* media_probe() refuses (RV_E_UNPROCESSABLE) audio that decodes to more than this,
 * which also bounds the CPU one hostile file can cost. */
enum { MEDIA_MAX_DURATION_MS = 3 * 3600 * 1000 };

/* Containers media_probe() opens; everything else (playlists, image sequences,
 * concat, raw guesses...) is refused before a byte of it is parsed as such. */
#define MEDIA_PROBE_FORMATS "wav,w64,mp3,flac,ogg,mov,matroska,aac,aiff,caf"

typedef struct media_info {
    char format[48];     /* demuxer name: "wav", "mp3", "flac", "mov,mp4,m4a,3gp,3g2,mj2" */
    bool has_audio;      /* false: the container opened but holds no audio stream */
    char codec[32];      /* audio codec: "mp3", "pcm_s16le", "flac"; "" without audio */
    int64_t duration_ms; /* audio actually decoded, never a header's claim */
    int sample_rate;     /* Hz, of the first decoded frame */
    int channels;        /* of the first decoded frame */
} media_info;

/* Opens path, finds the best audio stream and decodes all of it. Header durations
 * are ignored: duration_ms is the sum of the decoded frames, so a WAV header that
 * claims 2 GB over a few bytes reports the few bytes, and a truncated file reports
 * what survives (a damaged frame is skipped, not fatal). Probing is bounded:
 * probesize 2 MB, analyzeduration 5 s, 16 streams, MEDIA_MAX_DURATION_MS of audio,
 * and 30 s of wall time.
 *
 * path: borrowed. out: written on RV_OK only (zeroed, then filled; without audio
 * only format and has_audio = false are set).
 * Errors: RV_E_UNPROCESSABLE when the file cannot be opened as one of
 * MEDIA_PROBE_FORMATS (missing, empty, garbage), when its audio stream yields no
 * decodable frame, or when it exceeds the bounds above; RV_E_INTERNAL when out of
 * memory. Never crashes on any input. */
rv_err media_probe(const char *path, media_info *out);

typedef enum media_format { MEDIA_MP3, MEDIA_WAV, MEDIA_FLAC } media_format;

/* "mp3" | "wav" | "flac" (exact, lower case) into *out; false for anything else,
 * NULL included. */
bool media_format_parse(const char *name, media_format *out);

/* "audio/mpeg", "audio/wav", "audio/flac". */
const char *media_content_type(media_format fmt);

/* Whether rate is one of the output rates we offer: 8000, 16000, 22050, 24000,
 * 32000, 44100 (all of which LAME, FLAC and WAV accept). */
bool media_rate_ok(int rate);

typedef struct media_writer media_writer;

typedef struct media_written {
    int64_t duration_ms;      /* from the number of samples in the file */
    int64_t bytes;            /* size of the finished file */
    int sample_rate;          /* of the file */
    const char *content_type; /* static string, see media_content_type() */
} media_written;

/* Starts a file at path that will hold fmt at out_rate, mono, from 16-bit mono PCM
 * at in_rate (any rate libswresample takes, 1000..384000). mp3 is libmp3lame CBR:
 * 128 kbit/s at 32 kHz and up, 64 at 16-24 kHz, 32 at 8 kHz (speech needs no more,
 * and MPEG-2.5 tops out at 160). The bytes go to a temporary file beside path;
 * path itself appears only when media_writer_finish() succeeds, so a reader never
 * sees half a file and a failure never leaves one.
 *
 * path: borrowed, copied. *out: owned by the caller, released by exactly one of
 * media_writer_finish() or media_writer_abort(); NULL on failure.
 * Errors: RV_E_UNPROCESSABLE for an unknown format or rate, RV_E_INTERNAL for
 * everything else (no encoder, cannot create the file); why gets a short reason. */
rv_err media_writer_open(media_writer **out, const char *path, media_format fmt, int in_rate,
                         int out_rate, char *why, size_t why_len);

/* Appends n samples (n = 0 is fine). Resamples and encodes as whole frames become
 * available, so memory stays at a few frames whatever the length.
 * Errors: RV_E_UNPROCESSABLE when the file would pass max_ms (0 = no limit, see
 * media_writer_limit()); RV_E_INTERNAL when encoding or writing fails. After an
 * error the writer only accepts media_writer_abort(). */
rv_err media_writer_write(media_writer *w, const int16_t *pcm, size_t n, char *why, size_t why_len);

/* Caps the length of the output; exceeding it fails the write. */
void media_writer_limit(media_writer *w, int64_t max_ms);

/* Flushes resampler and encoder, writes the trailer, moves the file to its path and
 * frees w (always, even on failure, when the temporary file is removed). res may
 * be NULL. Errors: RV_E_UNPROCESSABLE when no sample was written at all (the file
 * would be empty), RV_E_INTERNAL otherwise. */
rv_err media_writer_finish(media_writer *w, media_written *res, char *why, size_t why_len);

/* Removes the temporary file and frees w. NULL is fine. */
void media_writer_abort(media_writer *w);

/* ---- loudness, and normalising a voice sample ------------------------------------------ */

/* EBU R128 (ITU-R BS.1770-4): what media_normalize() brings speech to, integrated,
 * and the true-peak ceiling it stays under. */
#define MEDIA_NORM_TARGET_LUFS (-23.0)
#define MEDIA_NORM_CEILING_DBTP (-1.0)
/* An integrated loudness at or below this is silence (the absolute gate). */
#define MEDIA_SILENT_LUFS (-70.0)

typedef struct media_loudness_info {
    double lufs;         /* integrated loudness, LUFS (K-weighted, gated) */
    double true_peak_db; /* true peak (4x oversampled), dBTP */
    double lra;          /* loudness range, LU */
} media_loudness_info;

/* Measures the mono mix of the audio at path (any container media_probe() opens,
 * same bounds) with libavfilter's ebur128 at 48 kHz. path borrowed; out written on
 * RV_OK. Errors: RV_E_UNPROCESSABLE when path is not decodable audio or is silent
 * (also: shorter than one 400 ms block above the gates); RV_E_INTERNAL when out of
 * memory or the filters are missing. */
rv_err media_loudness(const char *path, media_loudness_info *out, char *why, size_t why_len);

typedef struct media_normalized {
    int64_t duration_ms;  /* of the written file */
    int64_t bytes;        /* size of the written file */
    double loudness_lufs; /* integrated loudness of the input's mono mix at rate */
    double true_peak_db;  /* its true peak, dBTP */
    double gain_db;       /* gain applied */
} media_normalized;

/* Makes the sample a voice is cloned from even: decodes in_path (any container
 * media_probe() opens, same bounds), mixes it down to mono, resamples it to rate
 * and writes it to out_path as 16-bit PCM WAV, with one linear gain that brings its
 * integrated loudness (EBU R128) to MEDIA_NORM_TARGET_LUFS, lowered if needed so its
 * true peak stays under MEDIA_NORM_CEILING_DBTP.
 *
 * Two passes over the file, so memory stays small whatever the length: libavfilter's
 * ebur128 measures (the gates keep pauses and breaths out of the level), then its
 * loudnorm applies the gain in linear mode: one gain and no compression or limiter,
 * so the voice's dynamics reach the provider as they were recorded.
 *
 * in_path, out_path: borrowed. res may be NULL; written on RV_OK. out_path appears
 * only on success (media_writer's temporary file), never half-written.
 * Errors: RV_E_UNPROCESSABLE when in_path is not decodable audio, is silent (or too
 * short to measure), passes MEDIA_MAX_DURATION_MS, or rate is not one
 * media_rate_ok() takes; RV_E_INTERNAL when out of memory, the filters are missing
 * or the output cannot be written. why gets a short reason. */
rv_err media_normalize(const char *in_path, const char *out_path, int rate, media_normalized *res,
                       char *why, size_t why_len);

/* Takes n mono float samples (-1..1); anything but RV_OK stops the decoding. */
typedef rv_err (*media_pcm_sink)(void *ctx, const float *x, int n);

/* Decodes the best audio stream of path (opened as media_probe() opens a file, with
 * its bounds) to mono float samples at rate, handed to sink piece by piece; a
 * damaged packet is skipped. path borrowed. Errors: RV_E_UNPROCESSABLE when path is
 * not decodable audio or passes the bounds, RV_E_INTERNAL when out of memory, or
 * the sink's error. */
rv_err media_decode(const char *path, int rate, media_pcm_sink sink, void *ctx, char *why,
                    size_t why_len);

/* Sends libav's log lines (warnings and worse) to log_msg() at LOG_DEBUG, once per
 * process. Called by every function above; exposed for code that uses libav
 * directly. */
void media_init(void);

#endif
