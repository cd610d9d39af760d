/* render_int.h — what the render_*.c files share; tests use it too, nobody else.
 *
 * render_probe.c: what an input file holds; render_graph.c: the checked filter
 * graph description (escaping, fitting, the plan of frames); render_encode.c: the
 * graph through libx264/AAC into an MP4 and a JPEG poster. */
#ifndef RV_RENDER_INT_H
#define RV_RENDER_INT_H

#include <stdarg.h>
#include <stdio.h>

#include "render.h"

/* Writes a short reason into why (may be NULL) in functions that take why, why_len. */
#define RWHY(...) ((void)(why && why_len ? snprintf(why, why_len, __VA_ARGS__) : 0))

/* What render_probe_* found in an input. */
typedef struct render_input {
    char format[32];     /* the demuxer's short name, handed to movie/amovie (f=) */
    int width, height;   /* display size (sample aspect applied); pictures only */
    int64_t duration_ms; /* clips and audio: their length (0 when unknown); images: 0 */
} render_input;

/* Opens path (through the file: protocol only) as one of the containers its kind
 * allows — images: jpeg_pipe, png_pipe, webp_pipe; clips: mov (MP4, MOV), matroska
 * (also WebM); audio: media.h's MEDIA_PROBE_FORMATS — and reads its first video
 * (audio) stream's facts. Bounded like media_probe (probesize, 30 s wall time).
 * Errors: RV_E_UNPROCESSABLE when the file is missing, another format, or has no
 * such stream; RV_E_INTERNAL when out of memory. */
rv_err render_probe_picture(const char *path, render_kind kind, render_input *out, char *why,
                            size_t why_len);
rv_err render_probe_audio(const char *path, render_input *out, char *why, size_t why_len);

/* Fitting a picture of src_w x src_h into a frame of dst_w x dst_h without
 * stretching. CONTAIN: scaled to w x h (both even, at most the frame), padded at
 * x, y (even) to the frame. COVER: scaled to w x h (both even, at least the frame),
 * cropped at x, y to the frame. Sizes of 0 or less are taken as the frame's. */
typedef struct render_box {
    int w, h, x, y;
} render_box;
render_box render_fit_box(int src_w, int src_h, int dst_w, int dst_h, render_fit fit);

/* The value v escaped for a filter graph description: quoted for the option
 * parser (av_get_token with ":"), and that quoted again for the graph parser
 * (av_get_token with "[],;"), so after both it is exactly v, whatever bytes it
 * holds. Returns a malloc'd string (NULL when out of memory). */
char *render_escape(const char *v);

/* The frames of a render, as render_graph plans them. */
typedef struct render_plan {
    int64_t seg_frames[RENDER_MAX_SEGMENTS]; /* each segment's length */
    int64_t trans_frames;                    /* one transition's overlap (0: cuts) */
    int64_t total_frames;
    int64_t total_ms; /* total_frames at the profile's fps */
    render_profile profile;
} render_plan;

/* Checks spec (see render_run for the rules) and plans its frames; seg[i] are the
 * facts of spec->segments[i] (a clip's duration_ms used when its own is 0). */
rv_err render_plan_of(const render_spec *spec, const render_input *seg, render_plan *plan,
                      char *why, size_t why_len);

/* The filter graph description of spec as planned: one video output labelled
 * [vout] (yuv420p, the profile's size and fps, exactly plan->total_frames frames)
 * and one audio output [aout] (fltp, 48 kHz, stereo, plan->total_ms long). seg and
 * aud are the probed facts of the segments and the audio tracks (their format
 * names and sizes go into the graph). Returns a malloc'd string, or NULL with why
 * (out of memory; a caption that is not valid UTF-8). */
char *render_graph(const render_spec *spec, const render_plan *plan, const render_input *seg,
                   const render_input *aud, char *why, size_t why_len);

/* Wraps caption text into lines of at most max_chars characters (code points) at
 * spaces (a longer word is cut), keeping its own line breaks; tabs and carriage
 * returns become spaces. Returns a malloc'd string; NULL when out of memory or text
 * is not valid UTF-8. */
char *render_wrap(const char *text, int max_chars);

/* Runs the description through libavfilter, libx264 and AAC into mp4_tmp and (when
 * poster_tmp is not NULL) a JPEG poster; see render_run. */
rv_err render_encode(const char *desc, const render_plan *plan, const char *mp4_tmp,
                     const char *poster_tmp, render_progress_fn progress, void *ctx,
                     render_result *out, char *why, size_t why_len);

#endif
