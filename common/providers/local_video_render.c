/* local_video_render.c — the narrated explainers' video_render job at the local
 * provider (issue 10): the video's pictures held for their spans of the narration
 * with a gentle motion each, the narration as the voice track, music (optional)
 * looped and ducked under it, captions from the words burned in (captions
 * "burned"; "sidecar" and "none" leave the picture clean: the WebVTT is always at
 * GET /api/videos/{id}/captions.vtt), at the asked resolution and aspect.
 *
 * The video lasts as long as the narration: each picture but the last is held a
 * transition longer than its span, so the overlaps of the transitions end every
 * picture where its section ends. */
#include <string.h>

#include "jobj.h"
#include "db.h"
#include "pgjson.h"
#include "local_video.h"
#include "videos.h"

static const db_stmt for_job = {
    "SELECT video_json, narration_key, image_keys FROM rv_video_for_job($1)", 1};

static void put_json(void *o)
{
    json_object_put(o);
}

/* The motions a video's pictures take in turn. */
static const render_motion motions[] = {RENDER_MOTION_ZOOM_IN, RENDER_MOTION_PAN_RIGHT,
                                        RENDER_MOTION_ZOOM_OUT, RENDER_MOTION_PAN_LEFT};

enum { MUSIC_FADE_IN_MS = 500, MUSIC_FADE_OUT_MS = 2000, TRANSITION_MS = 500 };

/* The input a step needs, or the job failed for good. */
static int input(rv_req *rq, const local_job *job, const char *key, const char **path,
                 const char *what)
{
    rv_err er = local_video_input(rq, key, path);
    if (er == RV_E_NOT_FOUND)
        return local_video_fail(rq, job, "input_missing",
                                arena_printf(rq->a, "the video's %s is gone", what));
    return er == RV_OK ? LOCAL_OK : LOCAL_TRANSIENT;
}

int local_video_render(rv_req *rq, const local_job *job)
{
    PGresult *r;
    const char *p[] = {job->id};
    if (db_query(rq, &for_job, p, &r) != RV_OK)
        return LOCAL_TRANSIENT;
    json_object *video = PQntuples(r) == 1 ? json_tokener_parse(db_get(r, 0, 0)) : NULL;
    if (!video)
        return local_video_fail(rq, job, "video_gone", "the video was deleted");
    arena_defer(rq->a, put_json, video);
    json_object *in = job->input, *imgs = jobj_member(video, "images");
    int n = imgs ? (int)json_object_array_length(imgs) : 0;
    const char *narration = db_get(r, 0, 1);
    render_resolution res;
    render_aspect asp;
    render_transition tr;
    if (!narration || n < 1 || n > RENDER_MAX_SEGMENTS)
        return local_video_fail(rq, job, "invalid_input", "the video has no narration or images");
    if (!render_resolution_parse(jobj_str(in, "resolution", "720p"), &res) ||
        !render_aspect_parse(jobj_str(in, "aspect", "16:9"), &asp) ||
        !render_transition_parse(jobj_str(in, "transition", "fade"), &tr))
        return local_video_fail(rq, job, "invalid_input", "unknown render options");
    int64_t tms = tr == RENDER_TRANSITION_NONE ? 0 : TRANSITION_MS;

    render_segment *segs = arena_alloc(rq->a, (size_t)n * sizeof *segs);
    for (int i = 0; i < n; i++) {
        json_object *im = json_object_array_get_idx(imgs, (size_t)i);
        const char *path;
        int rc = input(rq, job, jobj_str(im, "storageKey", NULL), &path, "picture");
        if (rc != LOCAL_OK)
            return rc;
        int64_t d = (int64_t)jobj_num(im, "durationMs", 0) + (i + 1 < n ? tms : 0);
        segs[i] =
            (render_segment){.kind = RENDER_IMAGE,
                             .path = path,
                             .duration_ms = d < RENDER_MIN_SEGMENT_MS ? RENDER_MIN_SEGMENT_MS : d,
                             .motion = motions[i % 4],
                             .fit = RENDER_FIT_COVER};
    }
    render_audio tracks[2] = {{.volume = 1, .voice = true}};
    int n_audio = 1, rc = input(rq, job, narration, &tracks[0].path, "narration");
    if (rc != LOCAL_OK)
        return rc;
    const char *music =
        jobj_str(jobj_member(jobj_member(in, "source"), "music"), "storageKey", NULL);
    if (music) {
        if ((rc = input(rq, job, music, &tracks[1].path, "music track")) != LOCAL_OK)
            return rc;
        double vol = jobj_num(in, "musicVolume", 20);
        tracks[1] = (render_audio){.path = tracks[1].path,
                                   .volume = (vol < 0     ? 0
                                              : vol > 100 ? 100
                                                          : vol) /
                                             100.0,
                                   .loop = true,
                                   .duck = true,
                                   .fade_in_ms = MUSIC_FADE_IN_MS,
                                   .fade_out_ms = MUSIC_FADE_OUT_MS};
        n_audio = 2;
    }
    videos_cue *cues = NULL;
    size_t n_cues =
        strcmp(jobj_str(in, "captions", "burned"), "burned") ? 0 : videos_cues(rq->a, video, &cues);
    if (n_cues > RENDER_MAX_CAPTIONS)
        n_cues = RENDER_MAX_CAPTIONS;
    render_caption *caps = arena_alloc(rq->a, (n_cues ? n_cues : 1) * sizeof *caps);
    for (size_t i = 0; i < n_cues; i++)
        caps[i] = (render_caption){pgjson_text(rq->a, cues[i].text, RENDER_MAX_CAPTION_BYTES),
                                   cues[i].start_ms, cues[i].end_ms};
    render_spec spec = {.segments = segs,
                        .n_segments = n,
                        .audio = tracks,
                        .n_audio = n_audio,
                        .captions = caps,
                        .n_captions = (int)n_cues,
                        .transition = tr,
                        .transition_ms = tms,
                        .profile = render_profile_of(res, asp)};
    return local_video_finish(rq, job, &spec);
}
