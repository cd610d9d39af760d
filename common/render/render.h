/* render.h — the render engine: pictures, sound and captions to one MP4.
 *
 * Every video Reelvox makes goes through here, whoever made its inputs: a local
 * image-to-video clip (one still with a slow pan or zoom), a compilation of clips
 * with transitions and music, a narrated explainer (stills timed to speech, music
 * ducked under the voice, captions burned in). It is libavformat, libavcodec,
 * libavfilter, libswscale and libswresample in this process: no shell, no ffmpeg
 * program.
 *
 * How: render_run() looks at every input first (format, size, length; a file that
 * is not what its kind says is refused), then builds ONE libavfilter graph
 * description from the spec (render_graph.c). The description is assembled only
 * from enumerated choices, numbers the engine computed and file paths, and every
 * value that goes into it is escaped for both levels libavfilter parses
 * (av_get_token: the graph's, then the filter option's), so no byte of a path or a
 * caption can end a value, start another option or another filter. The graph's
 * movie/amovie sources decode the inputs; its two sinks feed libx264 (yuv420p,
 * preset veryfast, CRF 23) and AAC (48 kHz stereo, 128 kbit/s), muxed to MP4 with
 * +faststart (the index first: a player can start before the whole file came and
 * seek with Range requests). A poster JPEG is taken from the picture as it passes.
 *
 * The picture track is a list of segments played in order:
 *   - an image is held for its duration with a motion (Ken Burns: a slow zoom or
 *     pan, zoompan over a supersampled copy so the motion does not shimmer);
 *   - a clip (a video file) plays for its own length, or the duration given
 *     (trimmed, or its last frame held); a clip's own sound is not used.
 * Every segment is fitted into the output frame without stretching: letterboxed
 * (RENDER_FIT_CONTAIN: scaled to fit, black bars) or filled (RENDER_FIT_COVER:
 * scaled to cover, the overflow cropped evenly). Between segments a transition of
 * transition_ms: none (a cut; concat) or fade, dissolve, wipe, slide (xfade's
 * fade, dissolve, wipeleft, slideleft), each overlapping the two segments, so the
 * video is sum(durations) - (n - 1) * transition long (render_duration_ms()).
 * Durations are rounded to whole frames (fps of the profile).
 *
 * The sound track is the mix of the audio tracks, each exactly the video's length:
 * delayed by offset_ms, scaled by volume, repeated to the end (loop) or cut, faded
 * in over fade_in_ms and out over fade_out_ms before the video ends, and — with duck
 * set — pushed down while the voice track (voice set, at most one) speaks
 * (sidechaincompress keyed by the voice). With no track the MP4 still has a silent
 * AAC stream, so every output has the same two streams.
 *
 * Captions are drawn over the picture from start_ms to end_ms: DejaVu Sans
 * (Debian's fonts-dejavu-core, RENDER_FONT), white on a translucent box, centred
 * near the bottom, wrapped to the frame's width; the text is drawn literally
 * (drawtext with expansion=none: no %{...} expansion, nothing in it is syntax).
 *
 * Resources: decoders run one thread each (a compilation of 50 clips opens 50);
 * the caller runs this in a child process with CPU-time and memory limits (the
 * local provider does: providers/local_video.c). Not thread-safe with itself on
 * the same spec; distinct calls in distinct threads are fine.
 *
 * The files: render.h (this), render_int.h (what the parts share; tests use it),
 * render_probe.c (looking at inputs), render_graph.c (the description and its
 * escaping), render_encode.c (graph → encoders → MP4 and poster), render.c
 * (render_run, profiles, names). */
#ifndef RV_RENDER_H
#define RV_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The font captions are drawn in. */
#define RENDER_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

enum {
    RENDER_MAX_SEGMENTS = 200,        /* images and clips of one video */
    RENDER_MAX_AUDIO = 8,             /* audio tracks */
    RENDER_MAX_CAPTIONS = 1000,       /* captions */
    RENDER_MAX_CAPTION_BYTES = 1000,  /* UTF-8 bytes of one caption */
    RENDER_MIN_SEGMENT_MS = 200,      /* shortest segment */
    RENDER_MAX_DURATION_MS = 3600000, /* longest video (one hour) */
    RENDER_MAX_TRANSITION_MS = 5000,  /* longest transition */
    RENDER_DEFAULT_TRANSITION_MS = 1000,
};

/* ---- what a video looks like ---------------------------------------------------- */

typedef enum render_resolution { RENDER_720P = 0, RENDER_1080P } render_resolution;
typedef enum render_aspect {
    RENDER_16_9 = 0, /* landscape */
    RENDER_9_16,     /* portrait */
    RENDER_1_1,      /* square */
} render_aspect;

/* The output frame. 720p: 1280x720, 720x1280, 720x720; 1080p: 1920x1080,
 * 1080x1920, 1080x1080; 25 frames a second. */
typedef struct render_profile {
    int width, height, fps;
} render_profile;

/* The profile of res and aspect; the default (zero values) is 1280x720. */
render_profile render_profile_of(render_resolution res, render_aspect aspect);

/* "720p"|"1080p" and "16:9"|"9:16"|"1:1" (exact) into *out; false for anything
 * else, NULL included. */
bool render_resolution_parse(const char *s, render_resolution *out);
bool render_aspect_parse(const char *s, render_aspect *out);

/* ---- the picture track ------------------------------------------------------------ */

typedef enum render_kind { RENDER_IMAGE = 0, RENDER_CLIP } render_kind;

typedef enum render_motion {
    RENDER_MOTION_NONE = 0, /* held still */
    RENDER_MOTION_ZOOM_IN,  /* 1.0 → 1.15, centred */
    RENDER_MOTION_ZOOM_OUT, /* 1.15 → 1.0, centred */
    RENDER_MOTION_PAN_LEFT, /* at 1.15, from the right edge to the left */
    RENDER_MOTION_PAN_RIGHT,
    RENDER_MOTION_PAN_UP,
    RENDER_MOTION_PAN_DOWN,
    RENDER_MOTION__COUNT
} render_motion;

typedef enum render_fit {
    RENDER_FIT_CONTAIN = 0, /* letterbox: all of the picture, black bars */
    RENDER_FIT_COVER,       /* fill the frame, crop the overflow evenly */
} render_fit;

typedef struct render_segment {
    render_kind kind;
    const char *path;     /* a local file: an image (JPEG, PNG, WebP) or a video (MP4,
                           * MOV, Matroska/WebM); borrowed */
    int64_t duration_ms;  /* image: RENDER_MIN_SEGMENT_MS.. (required); clip: 0 = its
                           * own length, else exactly this (cut, or last frame held) */
    render_motion motion; /* images only; clips play as they are */
    render_fit fit;
} render_segment;

typedef enum render_transition {
    RENDER_TRANSITION_NONE = 0, /* cut */
    RENDER_TRANSITION_FADE,     /* xfade fade */
    RENDER_TRANSITION_DISSOLVE, /* xfade dissolve */
    RENDER_TRANSITION_WIPE,     /* xfade wipeleft */
    RENDER_TRANSITION_SLIDE,    /* xfade slideleft */
    RENDER_TRANSITION__COUNT
} render_transition;

/* "none"|"fade"|"dissolve"|"wipe"|"slide" (API.md's names, exact) into *out;
 * false for anything else, NULL included. */
bool render_transition_parse(const char *s, render_transition *out);
/* "zoom_in", "pan_left", ... ("none" for NONE); render_motion_parse takes those
 * names, false for anything else. */
bool render_motion_parse(const char *s, render_motion *out);

/* ---- the sound track --------------------------------------------------------------- */

typedef struct render_audio {
    const char *path;    /* a local audio file (wav, mp3, flac, ogg, m4a, ...); borrowed */
    double volume;       /* linear gain 0..4 (1: as it is; 0: silent) */
    int64_t offset_ms;   /* where in the video it starts, >= 0 */
    bool loop;           /* repeat it to the end of the video (music); else it ends */
    bool voice;          /* the voice: the key the ducked tracks go down under */
    bool duck;           /* lowered while the voice speaks (music under narration) */
    int64_t fade_in_ms;  /* 0..10000 */
    int64_t fade_out_ms; /* 0..10000, ending at the end of the video */
} render_audio;

/* ---- captions ------------------------------------------------------------------------ */

typedef struct render_caption {
    const char *text;         /* UTF-8, 1..RENDER_MAX_CAPTION_BYTES bytes; drawn literally,
                               * wrapped at spaces; '\n' breaks a line; borrowed */
    int64_t start_ms, end_ms; /* shown while start_ms <= t < end_ms */
} render_caption;

/* ---- a render --------------------------------------------------------------------------- */

typedef struct render_spec {
    const render_segment *segments; /* 1..RENDER_MAX_SEGMENTS, in order */
    int n_segments;
    const render_audio *audio; /* 0..RENDER_MAX_AUDIO; at most one with voice set */
    int n_audio;
    const render_caption *captions; /* 0..RENDER_MAX_CAPTIONS, any order */
    int n_captions;
    render_transition transition;
    int64_t transition_ms;  /* 0 with NONE; else 100..RENDER_MAX_TRANSITION_MS, cut down
                             * to half the shortest segment when it would not fit */
    render_profile profile; /* zero: render_profile_of(RENDER_720P, RENDER_16_9) */
} render_spec;

/* Called as the encoder advances: percent 0..100, each value at most once and in
 * increasing order, 100 only once the files are complete. Runs in the rendering
 * thread; a slow callback slows the render (throttle database writes in it).
 * Returning false stops the render (RV_E_INTERNAL, "stopped"). */
typedef bool (*render_progress_fn)(void *ctx, int percent);

typedef struct render_result {
    int64_t duration_ms; /* of the written video stream */
    int64_t bytes;       /* of the MP4 */
    int64_t poster_bytes;
    int width, height;
} render_result;

/* The length of the video spec describes, in ms (frame-rounded, transitions
 * overlapped), given each segment's duration (a clip with duration_ms 0 counts as
 * clip_ms[i], its probed length; clip_ms may be NULL when no clip has 0). -1 when
 * spec is invalid. */
int64_t render_duration_ms(const render_spec *spec, const int64_t *clip_ms);

/* Renders spec into an MP4 at mp4_path and a JPEG poster (the frame at 1 s, or
 * the middle of a shorter video) at poster_path (NULL: none). Both files are made
 * beside their path and renamed into place once complete: on failure neither path
 * is touched.
 *
 * Everything borrowed. progress may be NULL. out: written on RV_OK only; may be NULL.
 * why: on failure a short reason, safe to show the user for RV_E_UNPROCESSABLE.
 * Errors: RV_E_UNPROCESSABLE when the spec is invalid (counts, durations, volumes,
 * two voices, a caption out of bounds, a video longer than RENDER_MAX_DURATION_MS)
 * or an input is missing, is not what its kind says, or cannot be decoded;
 * RV_E_INTERNAL when out of memory, an encoder or filter is missing, the files
 * cannot be written, or progress stopped it. */
rv_err render_run(const render_spec *spec, const char *mp4_path, const char *poster_path,
                  render_progress_fn progress, void *ctx, render_result *out, char *why,
                  size_t why_len);

#endif
