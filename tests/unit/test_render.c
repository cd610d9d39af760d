/* test_render.c — the render engine: escaping, fitting, the plan, every transition
 * in the description, and small real renders checked with libavformat. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>

#include <libavutil/opt.h>

#include "media.h"
#include "render/render_int.h"
#include "unit_util.h"

static const char *dir;

/* ---- helpers ------------------------------------------------------------------------- */

/* A w x h PNG with a diagonal gradient (so motion and letterboxing show). */
static void write_png(const char *path, int w, int h)
{
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_PNG);
    assert_non_null(c);
    AVCodecContext *cx = avcodec_alloc_context3(c);
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    assert_true(cx && f && pkt);
    cx->width = w;
    cx->height = h;
    cx->pix_fmt = AV_PIX_FMT_RGB24;
    cx->time_base = (AVRational){1, 25};
    assert_int_equal(avcodec_open2(cx, c, NULL), 0);
    f->format = AV_PIX_FMT_RGB24;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = f->data[0] + y * f->linesize[0] + 3 * x;
            p[0] = (uint8_t)(255 * x / w);
            p[1] = (uint8_t)(255 * y / h);
            p[2] = (uint8_t)((x / 16 + y / 16) % 2 ? 200 : 40);
        }
    assert_int_equal(avcodec_send_frame(cx, f), 0);
    assert_int_equal(avcodec_receive_packet(cx, pkt), 0);
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(pkt->data, 1, (size_t)pkt->size, o), (size_t)pkt->size);
    fclose(o);
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&cx);
}

/* ms of a 220 Hz tone as WAV at path. */
static void write_tone(const char *path, int ms)
{
    char why[128];
    media_writer *w;
    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 22050, 22050, why, sizeof why), RV_OK);
    int16_t buf[2205];
    for (int k = 0; k < ms / 100; k++) {
        for (int i = 0; i < 2205; i++)
            buf[i] = (int16_t)lrint(8000 * sin(2 * M_PI * 220 * (k * 2205 + i) / 22050.0));
        assert_int_equal(media_writer_write(w, buf, 2205, why, sizeof why), RV_OK);
    }
    assert_int_equal(media_writer_finish(w, NULL, why, sizeof why), RV_OK);
}

typedef struct probed {
    int64_t duration_ms; /* of the video stream */
    int width, height;
    bool has_audio, faststart;
    int64_t audio_ms;
} probed;

static probed probe_mp4(const char *path)
{
    probed p = {0};
    AVFormatContext *fc = NULL;
    assert_int_equal(avformat_open_input(&fc, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    assert_string_equal(fc->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2");
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        AVStream *st = fc->streams[i];
        int64_t ms = av_rescale_q(st->duration, st->time_base, (AVRational){1, 1000});
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            assert_int_equal(st->codecpar->codec_id, AV_CODEC_ID_H264);
            p.width = st->codecpar->width;
            p.height = st->codecpar->height;
            p.duration_ms = ms;
        } else if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
            assert_int_equal(st->codecpar->codec_id, AV_CODEC_ID_AAC);
            p.has_audio = true;
            p.audio_ms = ms;
        }
    }
    avformat_close_input(&fc);
    /* +faststart: the moov box comes before mdat. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char b[4096];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    for (size_t i = 0; i + 4 <= n; i++) {
        if (!memcmp(b + i, "moov", 4)) {
            p.faststart = true;
            break;
        }
        if (!memcmp(b + i, "mdat", 4))
            break;
    }
    return p;
}

static int setup(void **state)
{
    (void)state;
    av_log_set_level(AV_LOG_ERROR);
    dir = unit_tmpdir("render");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unit_rmtree(dir);
    return 0;
}

/* ---- escaping ------------------------------------------------------------------------ */

/* What libavfilter makes of an escaped value: the graph parser's token, then the
 * option parser's. */
static char *unescape_twice(const char *esc, const char **rest)
{
    const char *p = esc;
    char *graph = av_get_token(&p, "[],;");
    *rest = p;
    const char *q = graph;
    char *opt = av_get_token(&q, ":");
    assert_int_equal(*q, '\0'); /* the option value is all of it */
    av_free(graph);
    return opt;
}

static void test_escape_round_trip(void **state)
{
    (void)state;
    static const char *const vals[] = {
        "",
        "plain",
        "it's",
        "''",
        "a:b=c",
        "[out];movie=/etc/passwd[x]",
        "a,b;c[d]e",
        "back\\slash\\",
        "\\'",
        "  leading and trailing  ",
        "line\nbreak\ttab",
        "%{localtime} %{eif:1:d}",
        "enable='between(t,0,1)'",
        "ünïcödé — 字幕 🎬",
        "'\\''\\'",
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char *e = render_escape(vals[i]);
        assert_non_null(e);
        const char *rest;
        char *back = unescape_twice(e, &rest);
        assert_string_equal(back, vals[i]);
        assert_int_equal(*rest, '\0'); /* nothing left over for the graph to read */
        av_free(back);
        free(e);
    }
}

/* An escaped value as one option among others of a real filter: the parser sees
 * exactly the options we wrote. */
static void test_escape_in_graph(void **state)
{
    (void)state;
    const char *nasty = "x':fontcolor=red,drawbox[y];[z]";
    char *e = render_escape(nasty);
    char desc[512];
    snprintf(desc, sizeof desc,
             "nullsrc=s=64x64:d=0.1,drawtext=fontfile=%s:text=%s:expansion=none,"
             "nullsink",
             RENDER_FONT, e);
    free(e);
    AVFilterGraph *g = avfilter_graph_alloc();
    AVFilterInOut *in = NULL, *out = NULL;
    assert_true(avfilter_graph_parse2(g, desc, &in, &out) >= 0);
    assert_null(in);
    assert_null(out);
    assert_int_equal(g->nb_filters, 3);
    uint8_t *text = NULL;
    AVFilterContext *dt = avfilter_graph_get_filter(g, "Parsed_drawtext_1");
    assert_non_null(dt);
    assert_true(av_opt_get(dt, "text", AV_OPT_SEARCH_CHILDREN, &text) >= 0);
    assert_string_equal((char *)text, nasty);
    uint8_t *color = NULL;
    assert_true(av_opt_get(dt, "fontcolor", AV_OPT_SEARCH_CHILDREN, &color) >= 0);
    assert_string_not_equal((char *)color, "red");
    av_free(color);
    av_free(text);
    avfilter_graph_free(&g);
}

/* ---- fitting ------------------------------------------------------------------------- */

static void test_fit_box(void **state)
{
    (void)state;
    static const struct {
        int sw, sh, dw, dh;
        render_fit fit;
        render_box want;
    } rows[] = {
        /* same aspect: the frame */
        {1920, 1080, 1280, 720, RENDER_FIT_CONTAIN, {1280, 720, 0, 0}},
        {640, 360, 1280, 720, RENDER_FIT_CONTAIN, {1280, 720, 0, 0}},
        /* portrait into landscape: pillarbox */
        {720, 1280, 1280, 720, RENDER_FIT_CONTAIN, {404, 720, 438, 0}},
        /* square into landscape */
        {1000, 1000, 1280, 720, RENDER_FIT_CONTAIN, {720, 720, 280, 0}},
        /* wide into landscape: letterbox */
        {2400, 1000, 1280, 720, RENDER_FIT_CONTAIN, {1280, 532, 0, 94}},
        /* landscape into portrait */
        {1280, 720, 720, 1280, RENDER_FIT_CONTAIN, {720, 404, 0, 438}},
        /* odd sizes stay even */
        {1001, 999, 1280, 720, RENDER_FIT_CONTAIN, {720, 720, 280, 0}},
        /* cover: fills, crops evenly */
        {720, 1280, 1280, 720, RENDER_FIT_COVER, {1280, 2276, 0, 778}},
        {1000, 1000, 1280, 720, RENDER_FIT_COVER, {1280, 1280, 0, 280}},
        {1920, 1080, 1280, 720, RENDER_FIT_COVER, {1280, 720, 0, 0}},
        /* unknown size: the frame */
        {0, 0, 1280, 720, RENDER_FIT_CONTAIN, {1280, 720, 0, 0}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        render_box b = render_fit_box(rows[i].sw, rows[i].sh, rows[i].dw, rows[i].dh, rows[i].fit);
        print_message("row %zu: %dx%d+%d+%d\n", i, b.w, b.h, b.x, b.y);
        assert_int_equal(b.w, rows[i].want.w);
        assert_int_equal(b.h, rows[i].want.h);
        assert_int_equal(b.x, rows[i].want.x);
        assert_int_equal(b.y, rows[i].want.y);
        /* never stretched: the aspect kept within the rounding to even sizes */
        if (rows[i].sw > 0) {
            double a = (double)rows[i].sw / rows[i].sh, got = (double)b.w / b.h;
            assert_true(fabs(got - a) / a < 0.01);
        }
        assert_int_equal(b.w % 2 + b.h % 2, 0);
        if (rows[i].fit == RENDER_FIT_CONTAIN)
            assert_true(b.w <= rows[i].dw && b.h <= rows[i].dh && b.x % 2 == 0 && b.y % 2 == 0);
        else
            assert_true(b.w >= rows[i].dw && b.h >= rows[i].dh);
    }
}

/* ---- names, profiles, plan ------------------------------------------------------------ */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        render_transition t;
    } ts[] = {{"none", RENDER_TRANSITION_NONE},
              {"fade", RENDER_TRANSITION_FADE},
              {"dissolve", RENDER_TRANSITION_DISSOLVE},
              {"wipe", RENDER_TRANSITION_WIPE},
              {"slide", RENDER_TRANSITION_SLIDE}};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        render_transition t;
        assert_true(render_transition_parse(ts[i].name, &t));
        assert_int_equal(t, ts[i].t);
    }
    render_transition t;
    assert_false(render_transition_parse("Fade", &t));
    assert_false(render_transition_parse("wipeleft", &t));
    assert_false(render_transition_parse("", &t));
    assert_false(render_transition_parse(NULL, &t));
    render_motion m;
    assert_true(render_motion_parse("pan_left", &m));
    assert_int_equal(m, RENDER_MOTION_PAN_LEFT);
    assert_false(render_motion_parse("pan", &m));

    render_resolution r;
    render_aspect a;
    assert_true(render_resolution_parse("1080p", &r) && render_aspect_parse("9:16", &a));
    render_profile p = render_profile_of(r, a);
    assert_int_equal(p.width, 1080);
    assert_int_equal(p.height, 1920);
    p = render_profile_of(RENDER_720P, RENDER_1_1);
    assert_int_equal(p.width, 720);
    assert_int_equal(p.height, 720);
    p = render_profile_of(RENDER_720P, RENDER_16_9);
    assert_int_equal(p.width, 1280);
    assert_int_equal(p.height, 720);
    assert_int_equal(p.fps, 25);
    assert_false(render_aspect_parse("4:3", &a));
}

static void test_duration(void **state)
{
    (void)state;
    render_segment segs[10];
    for (int i = 0; i < 10; i++)
        segs[i] = (render_segment){.kind = RENDER_CLIP, .path = "x", .duration_ms = 5000};
    render_spec s = {.segments = segs,
                     .n_segments = 10,
                     .transition = RENDER_TRANSITION_FADE,
                     .transition_ms = 1000};
    assert_int_equal(render_duration_ms(&s, NULL), 50000 - 9 * 1000);
    s.transition = RENDER_TRANSITION_NONE;
    assert_int_equal(render_duration_ms(&s, NULL), 50000);
    /* a transition longer than half the shortest segment is cut down to it */
    s.transition = RENDER_TRANSITION_WIPE;
    s.transition_ms = 5000;
    segs[3].duration_ms = 2000;
    assert_int_equal(render_duration_ms(&s, NULL), 47000 - 9 * 1000);
    /* a clip with no duration counts its probed length */
    segs[3].duration_ms = 0;
    int64_t lens[10] = {[3] = 3000};
    s.transition_ms = 1000;
    assert_int_equal(render_duration_ms(&s, lens), 48000 - 9 * 1000);
    /* invalid specs */
    assert_int_equal(render_duration_ms(&s, NULL), -1); /* clip 3 has no length */
    segs[3].duration_ms = 100;
    assert_int_equal(render_duration_ms(&s, NULL), -1);
    segs[3].duration_ms = 5000;
    s.transition_ms = 50;
    assert_int_equal(render_duration_ms(&s, NULL), -1);
    s.transition_ms = 1000;
    s.n_segments = 0;
    assert_int_equal(render_duration_ms(&s, NULL), -1);
    s.n_segments = RENDER_MAX_SEGMENTS + 1;
    assert_int_equal(render_duration_ms(&s, NULL), -1);
}

static void test_plan_rejects(void **state)
{
    (void)state;
    render_segment seg = {.kind = RENDER_IMAGE, .path = "x", .duration_ms = 1000};
    render_input in = {.width = 100, .height = 100};
    render_audio two[2] = {{.path = "a", .volume = 1, .voice = true},
                           {.path = "b", .volume = 1, .voice = true}};
    render_caption bad_utf8 = {.text = "\xff\xfe", .start_ms = 0, .end_ms = 100};
    render_caption backwards = {.text = "hi", .start_ms = 500, .end_ms = 100};
    render_audio loud = {.path = "a", .volume = 5};
    render_plan pl;
    char why[128];
    render_spec s = {.segments = &seg, .n_segments = 1, .audio = two, .n_audio = 2};
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_E_UNPROCESSABLE);
    s = (render_spec){.segments = &seg, .n_segments = 1, .audio = &loud, .n_audio = 1};
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_E_UNPROCESSABLE);
    s = (render_spec){.segments = &seg, .n_segments = 1, .captions = &bad_utf8, .n_captions = 1};
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_E_UNPROCESSABLE);
    s.captions = &backwards;
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_E_UNPROCESSABLE);
    s = (render_spec){.segments = &seg, .n_segments = 1, .transition = RENDER_TRANSITION__COUNT};
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_E_UNPROCESSABLE);
    s = (render_spec){.segments = &seg, .n_segments = 1, .profile = {1281, 720, 25}};
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_E_UNPROCESSABLE);
    s = (render_spec){.segments = &seg, .n_segments = 1};
    assert_int_equal(render_plan_of(&s, &in, &pl, why, sizeof why), RV_OK);
    assert_int_equal(pl.profile.width, 1280);
    assert_int_equal(pl.total_frames, 25);
}

/* ---- the description -------------------------------------------------------------------- */

static char *graph_of(render_transition t, int n, const render_audio *aud, int n_aud,
                      const render_caption *caps, int n_caps)
{
    render_segment segs[3];
    render_input in[3], ain[4];
    for (int i = 0; i < 3; i++) {
        segs[i] = (render_segment){.kind = i == 1 ? RENDER_CLIP : RENDER_IMAGE,
                                   .path = "/data/it's [a];b.png",
                                   .duration_ms = 2000,
                                   .motion = (render_motion)(i + 1)};
        in[i] = (render_input){.format = "png_pipe", .width = 800, .height = 600};
    }
    for (int i = 0; i < 4; i++)
        ain[i] = (render_input){.format = "wav", .duration_ms = 3000};
    render_spec s = {.segments = segs,
                     .n_segments = n,
                     .transition = t,
                     .transition_ms = 400,
                     .audio = aud,
                     .n_audio = n_aud,
                     .captions = caps,
                     .n_captions = n_caps};
    render_plan pl;
    char why[128];
    assert_int_equal(render_plan_of(&s, in, &pl, why, sizeof why), RV_OK);
    char *d = render_graph(&s, &pl, in, ain, why, sizeof why);
    assert_non_null(d);
    return d;
}

static void test_graph_transitions(void **state)
{
    (void)state;
    static const struct {
        render_transition t;
        const char *xfade;
    } rows[] = {{RENDER_TRANSITION_FADE, "xfade=transition=fade:duration=0.400000:offset=1.600000"},
                {RENDER_TRANSITION_DISSOLVE, "xfade=transition=dissolve:"},
                {RENDER_TRANSITION_WIPE, "xfade=transition=wipeleft:"},
                {RENDER_TRANSITION_SLIDE, "xfade=transition=slideleft:"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *d = graph_of(rows[i].t, 3, NULL, 0, NULL, 0);
        assert_non_null(strstr(d, rows[i].xfade));
        /* the second transition starts where the joined picture ends, minus one */
        assert_non_null(strstr(d, "[x1][s2]xfade"));
        assert_non_null(strstr(d, "offset=3.200000[vx]"));
        assert_null(strstr(d, "concat="));
        assert_non_null(strstr(d, "trim=end_frame=130,format=yuv420p[vout]"));
        free(d);
    }
    char *d = graph_of(RENDER_TRANSITION_NONE, 3, NULL, 0, NULL, 0);
    assert_non_null(strstr(d, "[s0][s1][s2]concat=n=3:v=1:a=0[vx]"));
    assert_null(strstr(d, "xfade"));
    assert_non_null(strstr(d, "trim=end_frame=150,"));
    /* no audio: a silent track of the video's length */
    assert_non_null(strstr(d, "anullsrc=r=48000:cl=stereo,atrim=end=6.000"));
    free(d);
    /* one segment: no join at all */
    d = graph_of(RENDER_TRANSITION_FADE, 1, NULL, 0, NULL, 0);
    assert_non_null(strstr(d, "[s0]null[vx]"));
    free(d);
}

static void test_graph_paths_escaped(void **state)
{
    (void)state;
    char *d = graph_of(RENDER_TRANSITION_FADE, 2, NULL, 0, NULL, 0);
    /* the path is never there raw; only the escaped form */
    assert_null(strstr(d, "file:/data/it's [a];b.png"));
    char *e = render_escape("file:/data/it's [a];b.png");
    assert_non_null(strstr(d, e));
    free(e);
    /* movie opens its file as the graph is parsed, so check the token structure
     * instead: every ';' outside quotes ends a chain, and there are exactly ours. */
    int chains = 0;
    const char *p = d;
    while (*p) {
        char *tok = av_get_token(&p, ";");
        chains++;
        av_free(tok);
        if (*p == ';')
            p++;
    }
    /* 2 segments, 1 xfade, [vout], 1 audio chain */
    assert_int_equal(chains, 5);
    free(d);
}

static void test_graph_audio(void **state)
{
    (void)state;
    render_audio aud[3] = {
        {.path = "/v.wav", .volume = 1, .voice = true},
        {.path = "/m.mp3", .volume = 0.3, .loop = true, .duck = true, .fade_out_ms = 2000},
        {.path = "/s.wav", .volume = 0.8, .offset_ms = 1500},
    };
    char *d = graph_of(RENDER_TRANSITION_FADE, 2, aud, 3, NULL, 0);
    assert_non_null(strstr(d, "[a0]asplit=2[m0][k0];"));
    assert_non_null(strstr(d, "[a1][k0]sidechaincompress="));
    assert_non_null(strstr(d, "[a2]anull[m2];"));
    assert_non_null(strstr(d, ":loop=0:")); /* the music repeats */
    assert_non_null(strstr(d, "volume=volume=0.3000"));
    assert_non_null(strstr(d, "adelay=delays=1500:all=1"));
    assert_non_null(strstr(d, "afade=t=out:st=1.600:d=2.000")); /* 3.6 s video */
    assert_non_null(strstr(d, "[m0][m1][m2]amix=inputs=3:duration=first:normalize=0"));
    free(d);
    /* duck without a voice: nothing to duck under */
    aud[0].voice = false;
    d = graph_of(RENDER_TRANSITION_FADE, 2, aud, 3, NULL, 0);
    assert_null(strstr(d, "sidechaincompress"));
    free(d);
}

static void test_graph_captions(void **state)
{
    (void)state;
    render_caption caps[2] = {
        {.text = "It's 50% off: [a];b, %{pts}", .start_ms = 0, .end_ms = 1250},
        {.text = "second", .start_ms = 1250, .end_ms = 3000}};
    char *d = graph_of(RENDER_TRANSITION_NONE, 2, NULL, 0, caps, 2);
    assert_null(strstr(d, "It's 50% off: [a];b"));
    char *e = render_escape("It's 50% off: [a];b, %{pts}");
    assert_non_null(strstr(d, e));
    free(e);
    e = render_escape("gte(t,1.250)*lt(t,3.000)");
    assert_non_null(strstr(d, e));
    free(e);
    assert_non_null(strstr(d, ":expansion=none:"));
    free(d);
}

static void test_wrap(void **state)
{
    (void)state;
    char *w = render_wrap("the quick brown fox jumps over the lazy dog", 10);
    assert_string_equal(w, "the quick\nbrown fox\njumps over\nthe lazy\ndog");
    free(w);
    w = render_wrap("abcdefghijklmnop", 6);
    assert_string_equal(w, "abcdef\nghijkl\nmnop");
    free(w);
    w = render_wrap("keep\nbreaks\ttabs\r  ", 20);
    assert_string_equal(w, "keep\nbreaks tabs");
    free(w);
    w = render_wrap("ünïcödé ünïcödé", 7); /* characters, not bytes */
    assert_string_equal(w, "ünïcödé\nünïcödé");
    free(w);
    assert_null(render_wrap("\xc3", 10));
}

/* ---- real renders ------------------------------------------------------------------------- */

typedef struct progress_log {
    int calls, last;
    bool ordered;
} progress_log;

static bool on_progress(void *ctx, int pct)
{
    progress_log *l = ctx;
    if (pct <= l->last)
        l->ordered = false;
    l->last = pct;
    l->calls++;
    return true;
}

static void test_render_images(void **state)
{
    (void)state;
    char a[512], b[512], tone[512], mp4[512], poster[512];
    write_png(unit_path(a, sizeof a, dir, "a.png"), 320, 240);
    write_png(unit_path(b, sizeof b, dir, "b.png"), 200, 400); /* portrait: letterboxed */
    write_tone(unit_path(tone, sizeof tone, dir, "tone.wav"), 800);
    render_segment segs[2] = {
        {.kind = RENDER_IMAGE, .path = a, .duration_ms = 1000, .motion = RENDER_MOTION_ZOOM_IN},
        {.kind = RENDER_IMAGE, .path = b, .duration_ms = 1000, .motion = RENDER_MOTION_NONE},
    };
    render_audio music = {.path = tone, .volume = 0.5, .loop = true, .fade_out_ms = 300};
    render_caption cap = {.text = "It's: [a];b,c — ü", .start_ms = 200, .end_ms = 1200};
    render_spec s = {.segments = segs,
                     .n_segments = 2,
                     .audio = &music,
                     .n_audio = 1,
                     .captions = &cap,
                     .n_captions = 1,
                     .transition = RENDER_TRANSITION_FADE,
                     .transition_ms = 400,
                     .profile = {320, 180, 25}};
    progress_log pl = {.last = -1, .ordered = true};
    render_result res;
    char why[256] = "";
    rv_err er = render_run(&s, unit_path(mp4, sizeof mp4, dir, "out.mp4"),
                           unit_path(poster, sizeof poster, dir, "out.jpg"), on_progress, &pl, &res,
                           why, sizeof why);
    print_message("why: %s\n", why);
    assert_int_equal(er, RV_OK);
    assert_int_equal(res.duration_ms, 1600);
    assert_int_equal(res.width, 320);
    assert_true(res.bytes > 1000 && res.poster_bytes > 100);
    assert_true(pl.ordered && pl.calls >= 2);
    assert_int_equal(pl.last, 100);
    probed p = probe_mp4(mp4);
    assert_int_equal(p.width, 320);
    assert_int_equal(p.height, 180);
    assert_true(llabs(p.duration_ms - 1600) <= 40);
    assert_true(p.has_audio);
    assert_true(llabs(p.audio_ms - 1600) <= 100); /* the tone looped to the end */
    assert_true(p.faststart);
    struct stat st;
    assert_int_equal(stat(poster, &st), 0);
    unsigned char jpg[3];
    FILE *f = fopen(poster, "rb");
    assert_int_equal(fread(jpg, 1, 3, f), 3);
    fclose(f);
    assert_memory_equal(jpg, "\xff\xd8\xff", 3);
    /* no work files left beside them */
    unit_path(a, sizeof a, dir, "out.mp4.part");
    assert_int_not_equal(stat(a, &st), 0);
}

/* A clip of another ratio, letterboxed; every transition once; no audio given. */
static void test_render_clips(void **state)
{
    (void)state;
    char img[512], clip[512], out[512];
    write_png(unit_path(img, sizeof img, dir, "c.png"), 240, 240);
    render_segment one = {.kind = RENDER_IMAGE,
                          .path = img,
                          .duration_ms = 1000,
                          .motion = RENDER_MOTION_PAN_RIGHT,
                          .fit = RENDER_FIT_COVER};
    render_spec s = {.segments = &one, .n_segments = 1, .profile = {180, 320, 25}};
    char why[256] = "";
    assert_int_equal(render_run(&s, unit_path(clip, sizeof clip, dir, "portrait.mp4"), NULL, NULL,
                                NULL, NULL, why, sizeof why),
                     RV_OK);
    for (int t = RENDER_TRANSITION_NONE; t < RENDER_TRANSITION__COUNT; t++) {
        render_segment segs[2] = {{.kind = RENDER_CLIP, .path = clip},
                                  {.kind = RENDER_CLIP, .path = clip, .duration_ms = 600}};
        s = (render_spec){.segments = segs,
                          .n_segments = 2,
                          .transition = (render_transition)t,
                          .transition_ms = t ? 200 : 0,
                          .profile = {320, 180, 25}};
        render_result res;
        rv_err er = render_run(&s, unit_path(out, sizeof out, dir, "joined.mp4"), NULL, NULL, NULL,
                               &res, why, sizeof why);
        print_message("transition %d: %s\n", t, why);
        assert_int_equal(er, RV_OK);
        int64_t want = 1600 - (t ? 200 : 0);
        assert_int_equal(res.duration_ms, want);
        probed p = probe_mp4(out);
        assert_true(llabs(p.duration_ms - want) <= 40);
        assert_int_equal(p.width, 320);
        assert_true(p.has_audio); /* silent, but there */
    }
}

static void test_render_bad_inputs(void **state)
{
    (void)state;
    char junk[512], out[512], why[256] = "";
    FILE *f = fopen(unit_path(junk, sizeof junk, dir, "junk.png"), "wb");
    fputs("#EXTM3U\nhttp://127.0.0.1/x\n", f);
    fclose(f);
    render_segment seg = {.kind = RENDER_IMAGE, .path = junk, .duration_ms = 1000};
    render_spec s = {.segments = &seg, .n_segments = 1};
    unit_path(out, sizeof out, dir, "never.mp4");
    assert_int_equal(render_run(&s, out, NULL, NULL, NULL, NULL, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    seg.path = "/nonexistent/x.png";
    assert_int_equal(render_run(&s, out, NULL, NULL, NULL, NULL, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    /* an image given as a clip is refused by its kind */
    char img[512];
    write_png(unit_path(img, sizeof img, dir, "d.png"), 64, 64);
    seg = (render_segment){.kind = RENDER_CLIP, .path = img, .duration_ms = 1000};
    assert_int_equal(render_run(&s, out, NULL, NULL, NULL, NULL, why, sizeof why),
                     RV_E_UNPROCESSABLE);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_round_trip),
        cmocka_unit_test(test_escape_in_graph),
        cmocka_unit_test(test_fit_box),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_plan_rejects),
        cmocka_unit_test(test_graph_transitions),
        cmocka_unit_test(test_graph_paths_escaped),
        cmocka_unit_test(test_graph_audio),
        cmocka_unit_test(test_graph_captions),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_render_images),
        cmocka_unit_test(test_render_clips),
        cmocka_unit_test(test_render_bad_inputs),
    };
    return cmocka_run_group_tests_name("render", tests, setup, teardown);
}
