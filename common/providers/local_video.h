/* local_video.h — the local provider's videos: the render engine (render/render.h)
 * in the poller's child process, under CPU-time and memory limits.
 *
 * local_video_run() is the child's entry for the video kinds: it limits the
 * process (RV_RENDER_CPU_SECONDS, RV_RENDER_MEMORY_MB), marks the job running and
 * hands it to the kind's builder, which turns the job's input into a render_spec
 * and calls local_video_finish():
 *
 *   video_clip     {clipId, imageId, imageKey, width, height, durationSeconds,
 *                  ratio, prompt} → the image with a slow pan or zoom at the ratio
 *                  (720p: 1280x720, 720x1280, 720x720), durationSeconds long
 *   video_compile  {compilationId, transition, transitionSeconds, musicVolume,
 *                  source: {clips: [{videoKey, durationMs}], music?: {storageKey}}}
 *                  → the clips letterboxed into 1280x720 with transitions, the
 *                  music looped or cut and faded out at the end
 *   video_render   the narrated explainers' render (local_video_render.c)
 *
 * Every video job succeeds with the output {videoKey, posterKey, durationMs,
 * bytes, width, height, contentType: "video/mp4"}: both files registered
 * (filereg.h) before they are stored and claimed by rv_video_job_succeed. The
 * job's progress is written while it encodes, at most once a second. */
#ifndef RV_LOCAL_VIDEO_H
#define RV_LOCAL_VIDEO_H

#include "local.h"
#include "render/render.h"
#include "req.h"

/* Whether kind is one local_video_run() renders. */
bool local_video_kind(const char *kind);

/* Runs a video job in the child to its end; returns LOCAL_*. rq: the child's
 * request (arena, role "system"). */
int local_video_run(rv_req *rq, const local_job *job);

/* Renders spec (its paths local files, see local_video_input), stores the video and
 * its poster and records the job's success, or its failure: an input the engine
 * refuses fails the job for good (refunded); anything else is transient (the
 * poller retries). Returns LOCAL_*. */
int local_video_finish(rv_req *rq, const local_job *job, const render_spec *spec);

/* Fails the job for good with {code, message} (refunded by the SQL). LOCAL_FAILED,
 * or LOCAL_TRANSIENT when the database did not take it. */
int local_video_fail(rv_req *rq, const local_job *job, const char *code, const char *message);

/* A local file holding what is stored under key, for reading: under local storage
 * the stored file itself, under s3 a work copy removed when rq's arena is freed.
 * RV_E_NOT_FOUND when key is not a valid key or nothing is stored under it;
 * RV_E_UNAVAILABLE / RV_E_INTERNAL when storage failed. */
rv_err local_video_input(rv_req *rq, const char *key, const char **path);

/* The narrated explainers' video_render job (issue 10): builds its spec from the
 * job's input and calls local_video_finish(). Defined in local_video_render.c, a
 * placeholder that fails the job until that work lands. */
int local_video_render(rv_req *rq, const local_job *job);

#endif
