/* image: sniffing, header sizes, the pixel limit before decoding, EXIF orientation
 * applied and metadata (GPS) gone from the stored copy, damaged files refused. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>

#include "image.h"

#define B(s) (const unsigned char *)(s), sizeof(s) - 1

static void test_sniff(void **state)
{
    (void)state;
    static const struct {
        const unsigned char *h;
        size_t n;
        image_type want;
    } cases[] = {
        {B("\xFF\xD8\xFF\xE0\x00\x10JFIF"), IMAGE_JPEG},
        {B("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), IMAGE_PNG},
        {B("RIFF\x10\0\0\0WEBPVP8 "), IMAGE_WEBP},
        {B("RIFF\x10\0\0\0WAVEfmt "), IMAGE_NONE},
        {B("GIF89a\x01\0\x01\0"), IMAGE_GIF},
        {B("GIF87a\x01\0\x01\0"), IMAGE_GIF},
        {B("\xFF\xD8"), IMAGE_NONE},
        {B("\x89PNG\r\n"), IMAGE_NONE},
        {B("<svg xmlns="), IMAGE_NONE},
        {B("BM\x36\0\0\0"), IMAGE_NONE},
        {B(""), IMAGE_NONE},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (image_sniff(cases[i].h, cases[i].n) != cases[i].want)
            fail_msg("case %zu: want %d", i, cases[i].want);
    assert_int_equal(image_sniff(NULL, 0), IMAGE_NONE);
}

static void test_header_size(void **state)
{
    (void)state;
    static const struct {
        image_type t;
        const unsigned char *h;
        size_t n;
        bool ok;
        int w, hh;
    } cases[] = {
        {IMAGE_PNG, B("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x4e\x20\0\0\x4e\x20\x08\x02"), true, 20000,
         20000},
        {IMAGE_PNG, B("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\0\0\0\0\x01"), false, 0, 0},
        {IMAGE_PNG, B("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01"), false, 0, 0},
        {IMAGE_PNG, B("\x89PNG\r\n\x1a\n\0\0\0\rIDAT\0\0\0\x01\0\0\0\x01"), false, 0, 0},
        /* SOI, APP0 (len 4), fill byte, SOF0 8-bit 480×640 */
        {IMAGE_JPEG, B("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xFF\xC0\x00\x11\x08\x01\xE0\x02\x80"),
         true, 640, 480},
        /* SOF2 (progressive) */
        {IMAGE_JPEG, B("\xFF\xD8\xFF\xC2\x00\x11\x08\x00\x10\x00\x20\x03"), true, 32, 16},
        /* DHT is no frame header; SOS before any SOF */
        {IMAGE_JPEG, B("\xFF\xD8\xFF\xC4\x00\x04\x00\x00\xFF\xDA\x00\x08"), false, 0, 0},
        {IMAGE_JPEG, B("\xFF\xD8\xFF\xE1\xFF\xFF\x00"), false, 0, 0},
        {IMAGE_JPEG, B("\xFF\xD8\xFF\xE1\x00\x01\x00"), false, 0, 0},
        {IMAGE_WEBP,
         B("RIFF\0\0\0\0WEBPVP8 \0\0\0\0\x10\x02\x00\x9d\x01\x2a\x40\x00\x30\x00\0\0\0\0\0"), true,
         64, 48},
        {IMAGE_WEBP, B("RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f\x3f\xc0\x0b\x00\0\0\0\0\0\0\0\0\0\0"),
         true, 64, 48},
        {IMAGE_WEBP, B("RIFF\0\0\0\0WEBPVP8X\0\0\0\0\x10\0\0\0\x1f\x4e\0\x1f\x4e\0\0\0"), true,
         20000, 20000},
        {IMAGE_WEBP, B("RIFF\0\0\0\0WEBPVP8 \0\0\0\0\x10\x02\x00\x9d\x01"), false, 0, 0},
        {IMAGE_PNG, B("\xFF\xD8\xFF\xC0\x00\x11\x08\x00\x10\x00\x20\x03"), false, 0, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int w = 0, h = 0;
        bool ok = image_header_size(cases[i].t, cases[i].h, cases[i].n, &w, &h);
        if (ok != cases[i].ok || (ok && (w != cases[i].w || h != cases[i].hh)))
            fail_msg("case %zu: got %d %dx%d", i, ok, w, h);
    }
}

/* ---- fixtures made with libavcodec ------------------------------------------------------ */

typedef struct {
    unsigned char *data;
    size_t n;
} blob;

/* A w×h test picture (a gradient) encoded as PNG or JPEG. */
static blob make_image(bool png, int w, int h)
{
    const AVCodec *c = avcodec_find_encoder(png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
    AVCodecContext *ctx = avcodec_alloc_context3(c);
    AVFrame *f = av_frame_alloc();
    AVPacket *p = av_packet_alloc();
    ctx->width = f->width = w;
    ctx->height = f->height = h;
    ctx->pix_fmt = f->format = png ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUVJ420P;
    ctx->time_base = (AVRational){1, 25};
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < (png ? 3 * w : w); x++)
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(x + y);
    if (!png)
        for (int i = 1; i < 3; i++)
            memset(f->data[i], 128, (size_t)f->linesize[i] * (size_t)((h + 1) / 2));
    assert_int_equal(avcodec_open2(ctx, c, NULL), 0);
    assert_int_equal(avcodec_send_frame(ctx, f), 0);
    assert_int_equal(avcodec_send_frame(ctx, NULL), 0);
    assert_int_equal(avcodec_receive_packet(ctx, p), 0);
    blob b = {malloc((size_t)p->size), (size_t)p->size};
    memcpy(b.data, p->data, b.n);
    av_packet_free(&p);
    av_frame_free(&f);
    avcodec_free_context(&ctx);
    return b;
}

/* An EXIF APP1 segment (big-endian TIFF): Orientation 6 and a GPS IFD with
 * GPSLatitudeRef "N" and GPSLatitude 48/1 51/1 2975/100. */
static const unsigned char exif_app1[] = {
    0xFF, 0xE1, 0x00, 0x64, 'E', 'x', 'i', 'f', 0, 0,
    /* TIFF header */
    'M', 'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,
    /* IFD0: 2 entries */
    0x00, 0x02, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x88, 0x25,
    0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00,
    /* GPS IFD at 38: 2 entries */
    0x00, 0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 'N', 0x00, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00,
    /* rationals at 68 */
    0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x33, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x0B, 0x9F, 0x00, 0x00, 0x00, 0x64};

static blob with_exif(blob jpeg)
{
    blob b = {malloc(jpeg.n + sizeof exif_app1), jpeg.n + sizeof exif_app1};
    memcpy(b.data, jpeg.data, 2);
    memcpy(b.data + 2, exif_app1, sizeof exif_app1);
    memcpy(b.data + 2 + sizeof exif_app1, jpeg.data + 2, jpeg.n - 2);
    free(jpeg.data);
    return b;
}

static blob slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    blob b = {malloc(IMAGE_MAX_BYTES), 0};
    b.n = fread(b.data, 1, IMAGE_MAX_BYTES, f);
    fclose(f);
    return b;
}

static bool contains(blob b, const void *needle, size_t n)
{
    return memmem(b.data, b.n, needle, n) != NULL;
}

typedef struct {
    char out[64], thumb[64];
} paths;

static void make_paths(paths *p)
{
    snprintf(p->out, sizeof p->out, "/tmp/rv-test-image-%d.out", (int)getpid());
    snprintf(p->thumb, sizeof p->thumb, "/tmp/rv-test-image-%d.thumb", (int)getpid());
}

static void drop_paths(const paths *p)
{
    unlink(p->out);
    unlink(p->thumb);
}

static void test_process_png(void **state)
{
    (void)state;
    paths p;
    make_paths(&p);
    blob png = make_image(true, 800, 400);
    image_result r;
    assert_int_equal(image_process(png.data, png.n, 0, p.out, p.thumb, &r), IMAGE_OK);
    assert_string_equal(r.content_type, "image/png");
    assert_int_equal(r.width, 800);
    assert_int_equal(r.height, 400);
    blob out = slurp(p.out), thumb = slurp(p.thumb);
    assert_int_equal(out.n, r.bytes);
    assert_int_equal(image_sniff(out.data, out.n), IMAGE_PNG);
    int w, h;
    assert_true(image_header_size(IMAGE_JPEG, thumb.data, thumb.n, &w, &h));
    assert_int_equal(w, IMAGE_THUMB_MAX);
    assert_int_equal(h, IMAGE_THUMB_MAX / 2);

    /* cut in half: the decoder does not get a whole image */
    assert_int_equal(image_process(png.data, png.n / 2, 0, p.out, p.thumb, &r), IMAGE_UNDECODABLE);
    /* exactly at the limit, with a width libavcodec rounds up to its stride: taken */
    assert_int_equal(image_process(png.data, png.n, 800 * 400, p.out, p.thumb, &r), IMAGE_OK);
    /* the limit, from the header */
    assert_int_equal(image_process(png.data, png.n, 800 * 400 - 1, p.out, p.thumb, &r),
                     IMAGE_TOO_LARGE);
    free(out.data);
    free(thumb.data);
    free(png.data);
    drop_paths(&p);
}

static void test_process_exif(void **state)
{
    (void)state;
    paths p;
    make_paths(&p);
    blob jpeg = with_exif(make_image(false, 64, 32));
    static const unsigned char gps[] = {0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x01,
                                        0x00, 0x00, 0x00, 0x33, 0x00, 0x00, 0x00, 0x01};
    assert_true(contains(jpeg, gps, sizeof gps));
    image_result r;
    assert_int_equal(image_process(jpeg.data, jpeg.n, 0, p.out, p.thumb, &r), IMAGE_OK);
    assert_int_equal(r.orientation, 6);
    assert_int_equal(r.width, 32); /* rotated upright */
    assert_int_equal(r.height, 64);
    assert_string_equal(r.content_type, "image/jpeg");
    blob out = slurp(p.out);
    assert_false(contains(out, "Exif", 4));
    assert_false(contains(out, gps, sizeof gps));
    assert_false(contains(out, "Lavc", 4));
    int w, h;
    assert_true(image_header_size(IMAGE_JPEG, out.data, out.n, &w, &h));
    assert_int_equal(w, 32);
    assert_int_equal(h, 64);
    free(out.data);
    free(jpeg.data);
    drop_paths(&p);
}

static void test_process_refused(void **state)
{
    (void)state;
    paths p;
    make_paths(&p);
    image_result r;
    static const unsigned char gif[] =
        "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00"
        "\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    assert_int_equal(image_process(gif, sizeof gif - 1, 0, p.out, p.thumb, &r), IMAGE_UNSUPPORTED);
    assert_int_equal(r.type, IMAGE_GIF);
    /* 20000×20000 declared, a few bytes sent: refused before any decoding */
    static const unsigned char bomb[] =
        "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x4e\x20\0\0\x4e\x20\x08\x02\0\0\0\0\0\0\0";
    assert_int_equal(image_process(bomb, sizeof bomb - 1, 0, p.out, p.thumb, &r), IMAGE_TOO_LARGE);
    /* a sane header over garbage */
    static const unsigned char junk[] =
        "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\0\0\0\0IDATjunkjunk";
    assert_int_equal(image_process(junk, sizeof junk - 1, 0, p.out, p.thumb, &r),
                     IMAGE_UNDECODABLE);
    assert_int_equal(image_process(NULL, 0, 0, p.out, p.thumb, &r), IMAGE_UNSUPPORTED);
    drop_paths(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),           cmocka_unit_test(test_header_size),
        cmocka_unit_test(test_process_png),     cmocka_unit_test(test_process_exif),
        cmocka_unit_test(test_process_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
