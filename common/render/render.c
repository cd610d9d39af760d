/* render.c — render_run: look at the inputs, plan, build the graph, encode; and
 * the names and profiles of render.h. */
#include "render_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media.h"

render_profile render_profile_of(render_resolution res, render_aspect aspect)
{
    int s = res == RENDER_1080P ? 1080 : 720, l = res == RENDER_1080P ? 1920 : 1280;
    switch (aspect) {
    case RENDER_9_16:
        return (render_profile){s, l, 25};
    case RENDER_1_1:
        return (render_profile){s, s, 25};
    default:
        return (render_profile){l, s, 25};
    }
}

static bool lookup(const char *const *names, int n, const char *s, int *out)
{
    for (int i = 0; s && i < n; i++)
        if (names[i] && !strcmp(names[i], s)) {
            *out = i;
            return true;
        }
    return false;
}

static const char *const resolutions[] = {[RENDER_720P] = "720p", [RENDER_1080P] = "1080p"};
static const char *const aspects[] = {
    [RENDER_16_9] = "16:9", [RENDER_9_16] = "9:16", [RENDER_1_1] = "1:1"};
static const char *const transitions[RENDER_TRANSITION__COUNT] = {
    [RENDER_TRANSITION_NONE] = "none",         [RENDER_TRANSITION_FADE] = "fade",
    [RENDER_TRANSITION_DISSOLVE] = "dissolve", [RENDER_TRANSITION_WIPE] = "wipe",
    [RENDER_TRANSITION_SLIDE] = "slide",
};
static const char *const motions[RENDER_MOTION__COUNT] = {
    [RENDER_MOTION_NONE] = "none",           [RENDER_MOTION_ZOOM_IN] = "zoom_in",
    [RENDER_MOTION_ZOOM_OUT] = "zoom_out",   [RENDER_MOTION_PAN_LEFT] = "pan_left",
    [RENDER_MOTION_PAN_RIGHT] = "pan_right", [RENDER_MOTION_PAN_UP] = "pan_up",
    [RENDER_MOTION_PAN_DOWN] = "pan_down",
};

#define COUNT(t) ((int)(sizeof(t) / sizeof((t)[0])))

bool render_resolution_parse(const char *s, render_resolution *out)
{
    int i;
    return lookup(resolutions, COUNT(resolutions), s, &i) ? (*out = (render_resolution)i, true)
                                                          : false;
}

bool render_aspect_parse(const char *s, render_aspect *out)
{
    int i;
    return lookup(aspects, COUNT(aspects), s, &i) ? (*out = (render_aspect)i, true) : false;
}

bool render_transition_parse(const char *s, render_transition *out)
{
    int i;
    return lookup(transitions, COUNT(transitions), s, &i) ? (*out = (render_transition)i, true)
                                                          : false;
}

bool render_motion_parse(const char *s, render_motion *out)
{
    int i;
    return lookup(motions, COUNT(motions), s, &i) ? (*out = (render_motion)i, true) : false;
}

int64_t render_duration_ms(const render_spec *spec, const int64_t *clip_ms)
{
    if (!spec || spec->n_segments < 1 || spec->n_segments > RENDER_MAX_SEGMENTS)
        return -1;
    render_input *in = calloc((size_t)spec->n_segments, sizeof *in);
    if (!in)
        return -1;
    for (int i = 0; i < spec->n_segments; i++)
        in[i].duration_ms = clip_ms ? clip_ms[i] : 0;
    render_plan *pl = malloc(sizeof *pl);
    int64_t ms = pl && render_plan_of(spec, in, pl, NULL, 0) == RV_OK ? pl->total_ms : -1;
    free(pl);
    free(in);
    return ms;
}

/* path + ".part": where a file is written before it is renamed into place. */
static char *part_of(const char *path)
{
    size_t n = strlen(path);
    char *p = malloc(n + 6);
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, ".part", 6);
    }
    return p;
}

rv_err render_run(const render_spec *spec, const char *mp4_path, const char *poster_path,
                  render_progress_fn progress, void *ctx, render_result *out, char *why,
                  size_t why_len)
{
    media_init();
    if (!spec || !mp4_path || spec->n_segments < 1 || spec->n_segments > RENDER_MAX_SEGMENTS ||
        spec->n_audio < 0 || spec->n_audio > RENDER_MAX_AUDIO || !spec->segments) {
        RWHY("a video has 1 to %d images or clips", RENDER_MAX_SEGMENTS);
        return RV_E_UNPROCESSABLE;
    }
    rv_err er = RV_OK;
    bool poster_moved = false;
    render_input *seg = calloc((size_t)spec->n_segments, sizeof *seg);
    render_input aud[RENDER_MAX_AUDIO] = {0};
    render_plan *pl = malloc(sizeof *pl);
    char *desc = NULL, *mp4_tmp = part_of(mp4_path), *poster_tmp = NULL;
    if (!seg || !pl || !mp4_tmp || (poster_path && !(poster_tmp = part_of(poster_path)))) {
        er = RV_E_INTERNAL;
        goto done;
    }
    for (int i = 0; er == RV_OK && i < spec->n_segments; i++)
        er = render_probe_picture(spec->segments[i].path, spec->segments[i].kind, &seg[i], why,
                                  why_len);
    for (int i = 0; er == RV_OK && i < spec->n_audio; i++)
        er = render_probe_audio(spec->audio[i].path, &aud[i], why, why_len);
    if (er == RV_OK)
        er = render_plan_of(spec, seg, pl, why, why_len);
    if (er == RV_OK && !(desc = render_graph(spec, pl, seg, aud, why, why_len)))
        er = RV_E_UNPROCESSABLE;
    if (er == RV_OK)
        er = render_encode(desc, pl, mp4_tmp, poster_tmp, progress, ctx, out, why, why_len);
    if (er == RV_OK && poster_tmp && rename(poster_tmp, poster_path) != 0) {
        RWHY("cannot move the poster into place");
        er = RV_E_INTERNAL;
    } else if (er == RV_OK) {
        poster_moved = poster_tmp != NULL;
        if (rename(mp4_tmp, mp4_path) != 0) {
            RWHY("cannot move the video into place");
            er = RV_E_INTERNAL;
        }
    }
    if (er == RV_OK && progress)
        progress(ctx, 100);
done:
    if (er != RV_OK) {
        if (mp4_tmp)
            unlink(mp4_tmp);
        if (poster_tmp)
            unlink(poster_tmp);
        if (poster_moved)
            unlink(poster_path); /* the video's rename failed after it */
    }
    free(desc);
    free(mp4_tmp);
    free(poster_tmp);
    free(pl);
    free(seg);
    return er;
}
