/* render_graph.c — the filter graph description of a render, built from a checked
 * spec: enumerated choices, numbers computed here, and values escaped for both
 * levels libavfilter parses. Nothing from a user goes in any other way. */
#include "render_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

/* ---- a growing string ------------------------------------------------------------- */

/* The description grows in a memory stream (open_memstream); oom once a write
 * failed. */
typedef struct gbuf {
    FILE *f;
    char *s;
    size_t len;
    bool oom;
} gbuf;

#define gb_add(b, ...) ((void)((b)->oom || fprintf((b)->f, __VA_ARGS__) >= 0 || ((b)->oom = true)))

/* key=value with value escaped (render_escape); sep is put in front (":" or ""). */
static void gb_opt(gbuf *b, const char *sep, const char *key, const char *value)
{
    char *e = render_escape(value);
    if (!e) {
        b->oom = true;
        return;
    }
    gb_add(b, "%s%s=%s", sep, key, e);
    free(e);
}

/* ---- escaping --------------------------------------------------------------------- */

/* One level of av_get_token quoting: 'v' with every ' written '\''. Inside quotes
 * av_get_token copies every byte up to the next quote, so nothing in v is syntax;
 * the outer quotes also keep leading and trailing blanks. */
static char *quote(const char *v)
{
    size_t n = 3;
    for (const char *c = v; *c; c++)
        n += *c == '\'' ? 4 : 1;
    char *o = malloc(n), *p = o;
    if (!o)
        return NULL;
    *p++ = '\'';
    for (const char *c = v; *c; c++) {
        if (*c == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *c;
        }
    }
    *p++ = '\'';
    *p = '\0';
    return o;
}

char *render_escape(const char *v)
{
    char *once = quote(v ? v : "");
    if (!once)
        return NULL;
    char *twice = quote(once);
    free(once);
    return twice;
}

/* ---- fitting ---------------------------------------------------------------------- */

static int even_down(double v)
{
    int i = (int)floor(v);
    return i - (i & 1);
}

static int even_up(double v)
{
    int i = (int)ceil(v);
    return i + (i & 1);
}

render_box render_fit_box(int src_w, int src_h, int dst_w, int dst_h, render_fit fit)
{
    if (src_w <= 0 || src_h <= 0) {
        src_w = dst_w;
        src_h = dst_h;
    }
    double sx = (double)dst_w / src_w, sy = (double)dst_h / src_h;
    render_box b;
    if (fit == RENDER_FIT_COVER) {
        double s = sx > sy ? sx : sy;
        b.w = even_up(src_w * s - 1e-9);
        b.h = even_up(src_h * s - 1e-9);
        if (b.w < dst_w)
            b.w = dst_w;
        if (b.h < dst_h)
            b.h = dst_h;
        b.x = (b.w - dst_w) / 2;
        b.y = (b.h - dst_h) / 2;
    } else {
        double s = sx < sy ? sx : sy;
        b.w = even_down(src_w * s + 1e-9);
        b.h = even_down(src_h * s + 1e-9);
        if (b.w < 2)
            b.w = 2;
        if (b.h < 2)
            b.h = 2;
        if (b.w > dst_w)
            b.w = dst_w;
        if (b.h > dst_h)
            b.h = dst_h;
        b.x = ((dst_w - b.w) / 2) & ~1;
        b.y = ((dst_h - b.h) / 2) & ~1;
    }
    return b;
}

/* ---- the plan ----------------------------------------------------------------------- */

static int64_t frames_of(int64_t ms, int fps)
{
    return (ms * fps + 500) / 1000;
}

rv_err render_plan_of(const render_spec *spec, const render_input *seg, render_plan *plan,
                      char *why, size_t why_len)
{
    memset(plan, 0, sizeof *plan);
    plan->profile = spec->profile;
    if (plan->profile.width == 0 && plan->profile.height == 0 && plan->profile.fps == 0)
        plan->profile = render_profile_of(RENDER_720P, RENDER_16_9);
    const render_profile *pr = &plan->profile;
    if (pr->width < 16 || pr->width > 3840 || pr->height < 16 || pr->height > 3840 ||
        (pr->width | pr->height) & 1 || pr->fps < 1 || pr->fps > 60) {
        RWHY("unknown output profile");
        return RV_E_UNPROCESSABLE;
    }
    if (spec->n_segments < 1 || spec->n_segments > RENDER_MAX_SEGMENTS) {
        RWHY("a video has 1 to %d images or clips", RENDER_MAX_SEGMENTS);
        return RV_E_UNPROCESSABLE;
    }
    if ((unsigned)spec->transition >= RENDER_TRANSITION__COUNT) {
        RWHY("unknown transition");
        return RV_E_UNPROCESSABLE;
    }
    int64_t shortest = INT64_MAX, sum = 0;
    for (int i = 0; i < spec->n_segments; i++) {
        const render_segment *s = &spec->segments[i];
        int64_t ms = s->duration_ms;
        if (s->kind == RENDER_CLIP && ms == 0)
            ms = seg ? seg[i].duration_ms : 0;
        if ((unsigned)s->kind > RENDER_CLIP || (unsigned)s->motion >= RENDER_MOTION__COUNT ||
            (unsigned)s->fit > RENDER_FIT_COVER) {
            RWHY("segment %d: unknown kind, motion or fit", i + 1);
            return RV_E_UNPROCESSABLE;
        }
        if (ms < RENDER_MIN_SEGMENT_MS || ms > RENDER_MAX_DURATION_MS) {
            RWHY("segment %d: a duration of %d ms to %d s is needed", i + 1, RENDER_MIN_SEGMENT_MS,
                 RENDER_MAX_DURATION_MS / 1000);
            return RV_E_UNPROCESSABLE;
        }
        plan->seg_frames[i] = frames_of(ms, pr->fps);
        if (plan->seg_frames[i] < shortest)
            shortest = plan->seg_frames[i];
        sum += plan->seg_frames[i];
    }
    if (spec->transition != RENDER_TRANSITION_NONE && spec->n_segments > 1) {
        if (spec->transition_ms < 100 || spec->transition_ms > RENDER_MAX_TRANSITION_MS) {
            RWHY("a transition lasts 100 ms to %d ms", RENDER_MAX_TRANSITION_MS);
            return RV_E_UNPROCESSABLE;
        }
        plan->trans_frames = frames_of(spec->transition_ms, pr->fps);
        /* A segment between two transitions must hold both. */
        if (plan->trans_frames > shortest / 2)
            plan->trans_frames = shortest / 2;
        if (plan->trans_frames < 1)
            plan->trans_frames = 0;
    }
    plan->total_frames = sum - (int64_t)(spec->n_segments - 1) * plan->trans_frames;
    plan->total_ms = plan->total_frames * 1000 / pr->fps;
    if (plan->total_ms > RENDER_MAX_DURATION_MS) {
        RWHY("the video would be longer than %d s", RENDER_MAX_DURATION_MS / 1000);
        return RV_E_UNPROCESSABLE;
    }
    if (spec->n_audio < 0 || spec->n_audio > RENDER_MAX_AUDIO || (spec->n_audio && !spec->audio)) {
        RWHY("a video has at most %d audio tracks", RENDER_MAX_AUDIO);
        return RV_E_UNPROCESSABLE;
    }
    int voices = 0;
    for (int i = 0; i < spec->n_audio; i++) {
        const render_audio *a = &spec->audio[i];
        voices += a->voice;
        if (!(a->volume >= 0 && a->volume <= 4) || a->offset_ms < 0 ||
            a->offset_ms > RENDER_MAX_DURATION_MS || a->fade_in_ms < 0 || a->fade_in_ms > 10000 ||
            a->fade_out_ms < 0 || a->fade_out_ms > 10000) {
            RWHY("audio track %d: volume 0..4, offset and fades out of bounds", i + 1);
            return RV_E_UNPROCESSABLE;
        }
    }
    if (voices > 1) {
        RWHY("at most one audio track is the voice");
        return RV_E_UNPROCESSABLE;
    }
    if (spec->n_captions < 0 || spec->n_captions > RENDER_MAX_CAPTIONS ||
        (spec->n_captions && !spec->captions)) {
        RWHY("at most %d captions", RENDER_MAX_CAPTIONS);
        return RV_E_UNPROCESSABLE;
    }
    for (int i = 0; i < spec->n_captions; i++) {
        const render_caption *c = &spec->captions[i];
        size_t n = c->text ? strlen(c->text) : 0;
        if (n < 1 || n > RENDER_MAX_CAPTION_BYTES ||
            u8_check((const uint8_t *)c->text, n) != NULL || c->start_ms < 0 ||
            c->end_ms <= c->start_ms || c->end_ms > RENDER_MAX_DURATION_MS) {
            RWHY("caption %d: 1 to %d bytes of UTF-8 and 0 <= start < end", i + 1,
                 RENDER_MAX_CAPTION_BYTES);
            return RV_E_UNPROCESSABLE;
        }
    }
    return RV_OK;
}

/* ---- captions ------------------------------------------------------------------------ */

char *render_wrap(const char *text, int max_chars)
{
    size_t n = strlen(text);
    if (u8_check((const uint8_t *)text, n))
        return NULL;
    if (max_chars < 4)
        max_chars = 4;
    /* At most one extra byte (a line break) per input byte. */
    char *o = malloc(2 * n + 1);
    if (!o)
        return NULL;
    size_t out = 0;
    int col = 0;
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            o[out++] = '\n';
            col = 0;
            p++;
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            if (col > 0 && col < max_chars)
                o[out++] = ' ', col++;
            p++;
            continue;
        }
        /* A word: its length in code points. */
        size_t wl = strcspn(p, " \t\r\n");
        size_t chars = u8_mbsnlen((const uint8_t *)p, wl);
        if (col > 0 && col + (int)chars > max_chars) {
            while (out > 0 && o[out - 1] == ' ')
                out--;
            o[out++] = '\n';
            col = 0;
        }
        for (size_t i = 0; i < wl;) {
            int len = u8_mblen((const uint8_t *)p + i, wl - i);
            if (len < 1)
                len = 1;
            if (col >= max_chars) {
                o[out++] = '\n';
                col = 0;
            }
            memcpy(o + out, p + i, (size_t)len);
            out += (size_t)len;
            i += (size_t)len;
            col++;
        }
        p += wl;
    }
    while (out > 0 && (o[out - 1] == ' ' || o[out - 1] == '\n'))
        out--;
    o[out] = '\0';
    return o;
}

/* ---- the description ----------------------------------------------------------------- */

static const char *const xfade_names[RENDER_TRANSITION__COUNT] = {
    [RENDER_TRANSITION_FADE] = "fade",
    [RENDER_TRANSITION_DISSOLVE] = "dissolve",
    [RENDER_TRANSITION_WIPE] = "wipeleft",
    [RENDER_TRANSITION_SLIDE] = "slideleft",
};

/* zoompan's zoom, x and y for a motion over n + 1 frames (on = 0..n). */
static void motion_exprs(render_motion m, int64_t n, char *z, char *x, char *y, size_t len)
{
    const char *cx = "(iw-iw/zoom)/2", *cy = "(ih-ih/zoom)/2";
    snprintf(z, len, "1.15");
    snprintf(x, len, "%s", cx);
    snprintf(y, len, "%s", cy);
    switch (m) {
    case RENDER_MOTION_ZOOM_IN:
        snprintf(z, len, "1+0.15*on/%lld", (long long)n);
        break;
    case RENDER_MOTION_ZOOM_OUT:
        snprintf(z, len, "1.15-0.15*on/%lld", (long long)n);
        break;
    case RENDER_MOTION_PAN_LEFT:
        snprintf(x, len, "(iw-iw/zoom)*(1-on/%lld)", (long long)n);
        break;
    case RENDER_MOTION_PAN_RIGHT:
        snprintf(x, len, "(iw-iw/zoom)*on/%lld", (long long)n);
        break;
    case RENDER_MOTION_PAN_UP:
        snprintf(y, len, "(ih-ih/zoom)*(1-on/%lld)", (long long)n);
        break;
    case RENDER_MOTION_PAN_DOWN:
        snprintf(y, len, "(ih-ih/zoom)*on/%lld", (long long)n);
        break;
    default:
        snprintf(z, len, "1");
        snprintf(x, len, "0");
        snprintf(y, len, "0");
        break;
    }
}

/* The source of a file: movie or amovie with its path and demuxer, both escaped. */
static void gb_source(gbuf *b, const char *filter, const char *path, const char *format, int loop)
{
    char *url = malloc(strlen(path) + 6);
    if (!url) {
        b->oom = true;
        return;
    }
    memcpy(url, "file:", 5);
    memcpy(url + 5, path, strlen(path) + 1);
    gb_add(b, "%s=", filter);
    gb_opt(b, "", "filename", url);
    gb_opt(b, ":", "f", format);
    gb_add(b, ":loop=%d:dec_threads=1", loop);
    free(url);
}

/* Segment i into [s<i>]: fitted, the profile's fps, yuv420p, exactly its frames. */
static void gb_segment(gbuf *b, const render_segment *s, const render_input *in,
                       const render_plan *pl, int i)
{
    const render_profile *pr = &pl->profile;
    int64_t frames = pl->seg_frames[i];
    gb_source(b, "movie", s->path, in->format, 1);
    if (s->kind == RENDER_IMAGE) {
        /* A still is one frame: zoompan makes its frames (fps would make none).
         * With motion, from a copy twice the frame's size, so zoompan's whole-pixel
         * steps do not shimmer. */
        int k = s->motion == RENDER_MOTION_NONE ? 1 : 2;
        render_box bx =
            render_fit_box(in->width, in->height, k * pr->width, k * pr->height, s->fit);
        char z[64], x[64], y[64];
        motion_exprs(s->motion, frames > 1 ? frames - 1 : 1, z, x, y, sizeof z);
        gb_add(b, ",scale=w=%d:h=%d:flags=bicubic,setsar=1", bx.w, bx.h);
        if (s->fit == RENDER_FIT_COVER)
            gb_add(b, ",crop=w=%d:h=%d:x=%d:y=%d", k * pr->width, k * pr->height, bx.x, bx.y);
        else
            gb_add(b, ",pad=w=%d:h=%d:x=%d:y=%d:color=black", k * pr->width, k * pr->height, bx.x,
                   bx.y);
        gb_add(b, ",zoompan=d=%lld:s=%dx%d:fps=%d", (long long)frames, pr->width, pr->height,
               pr->fps);
        gb_opt(b, ":", "z", z);
        gb_opt(b, ":", "x", x);
        gb_opt(b, ":", "y", y);
    } else {
        render_box bx = render_fit_box(in->width, in->height, pr->width, pr->height, s->fit);
        gb_add(b, ",setpts=PTS-STARTPTS,fps=%d,scale=w=%d:h=%d:flags=bicubic,setsar=1", pr->fps,
               bx.w, bx.h);
        if (s->fit == RENDER_FIT_COVER)
            gb_add(b, ",crop=w=%d:h=%d:x=%d:y=%d", pr->width, pr->height, bx.x, bx.y);
        else
            gb_add(b, ",pad=w=%d:h=%d:x=%d:y=%d:color=black", pr->width, pr->height, bx.x, bx.y);
    }
    /* Held on its last frame as long as needed, then cut at exactly its frames. */
    gb_add(b,
           ",format=yuv420p,tpad=stop_mode=clone:stop=-1,trim=end_frame=%lld,setpts=PTS-STARTPTS"
           "[s%d];",
           (long long)frames, i);
}

static void gb_seconds(gbuf *b, const char *key, int64_t ms)
{
    gb_add(b, "%s=%lld.%03lld", key, (long long)(ms / 1000), (long long)(ms % 1000));
}

/* Track i into [a<i>]: 48 kHz stereo, exactly total_ms long. */
static void gb_track(gbuf *b, const render_audio *a, const render_input *in, const render_plan *pl,
                     int i)
{
    gb_source(b, "amovie", a->path, in->format, a->loop ? 0 : 1);
    gb_add(b, ",aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:"
              "channel_layouts=stereo,asetpts=N/SR/TB");
    gb_add(b, ",volume=volume=%.4f", a->volume);
    if (a->fade_in_ms > 0) {
        gb_add(b, ",afade=t=in:st=0:");
        gb_seconds(b, "d", a->fade_in_ms);
    }
    if (a->offset_ms > 0)
        gb_add(b, ",adelay=delays=%lld:all=1", (long long)a->offset_ms);
    gb_add(b, ",apad,atrim=");
    gb_seconds(b, "end", pl->total_ms);
    if (a->fade_out_ms > 0) {
        int64_t d = a->fade_out_ms < pl->total_ms ? a->fade_out_ms : pl->total_ms;
        gb_add(b, ",afade=t=out:");
        gb_seconds(b, "st", pl->total_ms - d);
        gb_add(b, ":");
        gb_seconds(b, "d", d);
    }
    gb_add(b, "[a%d];", i);
}

static void gb_caption(gbuf *b, const render_caption *c, const render_profile *pr, bool *bad)
{
    int size = pr->height / 18 < pr->width / 20 ? pr->height / 18 : pr->width / 20;
    int max_chars = (int)(0.9 * pr->width / (0.55 * size));
    char *text = render_wrap(c->text, max_chars);
    if (!text) {
        *bad = true;
        return;
    }
    char enable[96];
    snprintf(enable, sizeof enable, "gte(t,%lld.%03lld)*lt(t,%lld.%03lld)",
             (long long)(c->start_ms / 1000), (long long)(c->start_ms % 1000),
             (long long)(c->end_ms / 1000), (long long)(c->end_ms % 1000));
    gb_add(b, ",drawtext=");
    gb_opt(b, "", "fontfile", RENDER_FONT);
    gb_opt(b, ":", "text", text);
    gb_add(b,
           ":expansion=none:fontsize=%d:fontcolor=white:box=1:boxcolor=black@0.55"
           ":boxborderw=%d:line_spacing=%d",
           size, size / 3, size / 5);
    gb_opt(b, ":", "x", "(w-text_w)/2");
    char y[48];
    snprintf(y, sizeof y, "h-text_h-%d", pr->height / 12);
    gb_opt(b, ":", "y", y);
    gb_opt(b, ":", "enable", enable);
    free(text);
}

char *render_graph(const render_spec *spec, const render_plan *pl, const render_input *seg,
                   const render_input *aud, char *why, size_t why_len)
{
    gbuf b = {0};
    if (!(b.f = open_memstream(&b.s, &b.len))) {
        RWHY("out of memory");
        return NULL;
    }
    int n = spec->n_segments;
    for (int i = 0; i < n; i++)
        gb_segment(&b, &spec->segments[i], &seg[i], pl, i);

    /* The picture: segments joined by cuts or transitions into [vx]. */
    if (n == 1) {
        gb_add(&b, "[s0]null[vx];");
    } else if (pl->trans_frames == 0) {
        for (int i = 0; i < n; i++)
            gb_add(&b, "[s%d]", i);
        gb_add(&b, "concat=n=%d:v=1:a=0[vx];", n);
    } else {
        const render_profile *pr = &pl->profile;
        int64_t end = 0; /* frames of the joined picture so far */
        for (int i = 1; i < n; i++) {
            end += pl->seg_frames[i - 1] - (i > 1 ? pl->trans_frames : 0);
            int64_t off = end - pl->trans_frames;
            gb_add(&b, i == 1 ? "[s0]" : "[x%d]", i - 1);
            gb_add(&b, "[s%d]xfade=transition=%s:duration=%.6f:offset=%.6f", i,
                   xfade_names[spec->transition], (double)pl->trans_frames / pr->fps,
                   (double)off / pr->fps);
            if (i == n - 1)
                gb_add(&b, "[vx];");
            else
                gb_add(&b, "[x%d];", i);
        }
    }
    gb_add(&b, "[vx]setpts=PTS-STARTPTS");
    bool bad = false;
    for (int i = 0; i < spec->n_captions && !bad; i++)
        gb_caption(&b, &spec->captions[i], &pl->profile, &bad);
    gb_add(&b, ",trim=end_frame=%lld,format=yuv420p[vout];", (long long)pl->total_frames);

    /* The sound: every track, ducked ones keyed by the voice, mixed into [aout]. */
    int voice = -1, ducked = 0;
    for (int i = 0; i < spec->n_audio; i++) {
        gb_track(&b, &spec->audio[i], &aud[i], pl, i);
        if (spec->audio[i].voice)
            voice = i;
    }
    for (int i = 0; i < spec->n_audio; i++)
        ducked += voice >= 0 && i != voice && spec->audio[i].duck;
    if (ducked) {
        gb_add(&b, "[a%d]asplit=%d[m%d]", voice, ducked + 1, voice);
        for (int k = 0; k < ducked; k++)
            gb_add(&b, "[k%d]", k);
        gb_add(&b, ";");
    }
    for (int i = 0, k = 0; i < spec->n_audio; i++) {
        if (ducked && i == voice)
            continue;
        if (voice >= 0 && i != voice && spec->audio[i].duck)
            gb_add(&b,
                   "[a%d][k%d]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400"
                   "[m%d];",
                   i, k++, i);
        else
            gb_add(&b, "[a%d]anull[m%d];", i, i);
    }
    if (spec->n_audio == 0) {
        gb_add(&b, "anullsrc=r=48000:cl=stereo,atrim=");
        gb_seconds(&b, "end", pl->total_ms);
    } else {
        for (int i = 0; i < spec->n_audio; i++)
            gb_add(&b, "[m%d]", i);
        gb_add(&b, "amix=inputs=%d:duration=first:normalize=0,alimiter=limit=0.95:level=0",
               spec->n_audio);
    }
    gb_add(&b, ",aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[aout]");

    if (fclose(b.f) != 0)
        b.oom = true;
    if (b.oom || bad) {
        RWHY(bad ? "a caption is not valid UTF-8" : "out of memory");
        free(b.s);
        return NULL;
    }
    return b.s;
}
