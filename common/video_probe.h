/* video_probe.h — a video a provider made, checked before we keep it.
 *
 * video_probe() opens an MP4 (libavformat's mov demuxer only, through media.c's one
 * safe way of opening inputs: file: protocol, bounded probing, a wall-time limit),
 * requires a real H.264 video stream whose first frame decodes, measures the
 * duration from the packets themselves (not a header's claim), and writes that
 * first frame as a JPEG poster (image_frame_jpeg, at most VIDEO_POSTER_MAX px).
 * Small on purpose: making videos is the render engine's. Code: media_video.c. */
#ifndef RV_VIDEO_PROBE_H
#define RV_VIDEO_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum { VIDEO_POSTER_MAX = 1280, VIDEO_MAX_DURATION_MS = 10 * 60 * 1000 };

typedef struct video_info {
    int64_t duration_ms; /* last packet's end, from the video stream's packets */
    int width, height;   /* of the decoded first frame */
    size_t poster_bytes;
} video_info;

/* path, poster_path: borrowed. out: written on RV_OK. Errors: RV_E_UNPROCESSABLE
 * when path is no MP4, holds no H.264 stream, its first frame does not decode, it
 * lasts no frame or more than VIDEO_MAX_DURATION_MS; RV_E_INTERNAL when the poster
 * cannot be written. Never crashes on any input. */
rv_err video_probe(const char *path, const char *poster_path, video_info *out);

#endif
