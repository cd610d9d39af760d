/* titlecard: a real JPEG of the asked size with any text (long, markup-like,
 * drawtext's own % sequences), and paths that could break the filter refused. */
#include "unit.h"

#include <libavcodec/avcodec.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "titlecard.h"

static char dir[] = "/tmp/rv-titlecard-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

/* The JPEG's size, decoded. */
static void decoded_size(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 500 && buf[0] == 0xff && buf[1] == 0xd8);
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    pkt->data = buf;
    pkt->size = (int)n;
    assert_int_equal(avcodec_send_packet(c, pkt), 0);
    assert_int_equal(avcodec_receive_frame(c, fr), 0);
    *w = fr->width;
    *h = fr->height;
    pkt->data = NULL;
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
}

static void test_render(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int w, h;
    } cases[] = {
        {"How long does rice take to grow?", 1280, 720},
        {"Caf\xc3\xa9 %{localtime} %{eif:1+1:d} 'quoted' \\n [x]; a=b:c", 720, 1280},
        {"", 640, 640},
        {"word word word word word word word word word word word word word word word word word "
         "word word word word word word word word word word word word word word word word word "
         "word word word word word word word word word word word word word word word word word",
         1280, 720},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char out[256], work[256], why[256];
        snprintf(out, sizeof out, "%s/card-%zu.jpg", dir, i);
        snprintf(work, sizeof work, "%s/card-%zu.txt", dir, i);
        titlecard_result res;
        rv_err er = titlecard_render(cases[i].text, cases[i].w, cases[i].h, (int)i, out, work, &res,
                                     why, sizeof why);
        if (er != RV_OK)
            fail_msg("case %zu: %s", i, why);
        int w, h;
        decoded_size(out, &w, &h);
        assert_int_equal(w, cases[i].w);
        assert_int_equal(h, cases[i].h);
        assert_int_equal(access(work, F_OK), -1); /* the work file is gone */
        remove(out);
    }
}

static void test_refused(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(
        titlecard_render("x", 1280, 720, 0, "/tmp/a.jpg", "/tmp/a:b.txt", NULL, why, sizeof why),
        RV_E_UNPROCESSABLE);
    assert_int_equal(
        titlecard_render("x", 1280, 720, 0, "/tmp/a.jpg", "relative.txt", NULL, why, sizeof why),
        RV_E_UNPROCESSABLE);
    assert_int_equal(
        titlecard_render("x", 1281, 720, 0, "/tmp/a.jpg", "/tmp/a.txt", NULL, why, sizeof why),
        RV_E_UNPROCESSABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_refused),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    rmdir(dir);
    return rc;
}
