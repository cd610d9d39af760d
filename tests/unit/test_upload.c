/* upload: type sniffing, Content-Type, filenames, nginx body-file paths. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "upload.h"

#define B(s) (const unsigned char *)(s), sizeof(s) - 1

static void test_sniff(void **state)
{
    (void)state;
    static const unsigned char webm[] = "\x1A\x45\xDF\xA3\x9F"
                                        "\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04"
                                        "\x42\xF3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04"
                                        "\x42\x85\x81\x02";
    static const unsigned char webm_pad[] = "\x1A\x45\xDF\xA3\x8A"
                                            "\x42\x82\x86webm\0\0\x42\x87";
    static const unsigned char mkv[] = "\x1A\x45\xDF\xA3\xA3"
                                       "\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04"
                                       "\x42\xF3\x81\x08\x42\x82\x88matroska\x42\x87\x81\x04"
                                       "\x42\x85\x81\x02";
    static const unsigned char ebml_cut[] = "\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84we";
    static const unsigned char ebml_bad_vint[] = "\x1A\x45\xDF\xA3\x00\x42\x82\x84webm";
    static const unsigned char ebml_no_doctype[] = "\x1A\x45\xDF\xA3\x84\x42\x86\x81\x01webm";
    static const struct {
        const unsigned char *h;
        size_t n;
        upload_type want;
    } cases[] = {
        {B("ID3\x04\x00\x00\x00\x00\x00\x10\x61\x62\x63"), UPLOAD_MP3},
        {B("ID3\x03\x00\x00\x00\x00\x02\x01"), UPLOAD_MP3},
        {B("\xFF\xFB\x90\x64\x00\x00"), UPLOAD_MP3},         /* MPEG-1 Layer III 128k */
        {B("\xFF\xF3\x48\xC4\x00"), UPLOAD_MP3},             /* MPEG-2 Layer III */
        {B("\xFF\xE3\x18\xC4\x00"), UPLOAD_MP3},             /* MPEG-2.5 Layer III */
        {B("\xFF\xF1\x50\x80\x00"), UPLOAD_NONE},            /* AAC ADTS */
        {B("\xFF\xFD\x90\x64\x00"), UPLOAD_NONE},            /* Layer II */
        {B("\xFF\xFF\x90\x64\x00"), UPLOAD_NONE},            /* Layer I */
        {B("\xFF\xEB\x90\x64\x00"), UPLOAD_NONE},            /* reserved version */
        {B("\xFF\xFB\xF0\x64\x00"), UPLOAD_NONE},            /* bad bitrate */
        {B("\xFF\xFB\x00\x64\x00"), UPLOAD_NONE},            /* free bitrate */
        {B("\xFF\xFB\x9C\x64\x00"), UPLOAD_NONE},            /* reserved rate */
        {B("ID3\x05\x00\x00\x00\x00\x00\x10"), UPLOAD_NONE}, /* no ID3v2.5 */
        {B("ID3\x04\x00\x00\x80\x00\x00\x10"), UPLOAD_NONE}, /* not syncsafe */
        {B("RIFF\x24\x00\x00\x00WAVEfmt "), UPLOAD_WAV},
        {B("RIFF\xFF\xFF\xFF\x7FWAVE"), UPLOAD_WAV},
        {B("RIFF\x24\x00\x00\x00\x41VI LIST"), UPLOAD_NONE},
        {B("RIFF\x24\x00\x00\x00WAV"), UPLOAD_NONE},
        {B("RIFX\x24\x00\x00\x00WAVE"), UPLOAD_NONE},
        {B("OggS\x00\x02\x00\x00"), UPLOAD_OGG},
        {B("fLaC\x00\x00\x00\x22"), UPLOAD_FLAC},
        {webm, sizeof webm - 1, UPLOAD_WEBM},
        {webm_pad, sizeof webm_pad - 1, UPLOAD_WEBM},
        {mkv, sizeof mkv - 1, UPLOAD_NONE},
        {ebml_cut, sizeof ebml_cut - 1, UPLOAD_NONE},
        {ebml_bad_vint, sizeof ebml_bad_vint - 1, UPLOAD_NONE},
        {ebml_no_doctype, sizeof ebml_no_doctype - 1, UPLOAD_NONE},
        {B("\x1A\x45\xDF\xA3"), UPLOAD_NONE},
        {B("hello, this is text"), UPLOAD_NONE},
        {B("<?xml version"), UPLOAD_NONE},
        {B("\x89PNG\r\n\x1a\n"), UPLOAD_NONE},
        {B("fLa"), UPLOAD_NONE},
        {B(""), UPLOAD_NONE},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        upload_type got = upload_sniff(cases[i].h, cases[i].n);
        if (got != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, (int)got, (int)cases[i].want);
    }
    assert_int_equal(upload_sniff(NULL, 0), UPLOAD_NONE);
}

static void test_id3_len(void **state)
{
    (void)state;
    assert_int_equal(upload_id3_len(B("ID3\x04\x00\x00\x00\x00\x02\x01")), 10 + 257);
    assert_int_equal(upload_id3_len(B("ID3\x04\x00\x10\x00\x00\x00\x05")), 10 + 5 + 10);
    assert_int_equal(upload_id3_len(B("ID3\x04\x00\x00\x7F\x7F\x7F\x7F")), 10 + 0x0FFFFFFF);
    assert_int_equal(upload_id3_len(B("ID3\x04\x00\x00\x00\x00\x00")), 0); /* short */
    assert_int_equal(upload_id3_len(B("ID3\x01\x00\x00\x00\x00\x00\x01")), 0);
    assert_int_equal(upload_id3_len(B("ID3\x04\xFF\x00\x00\x00\x00\x01")), 0);
    assert_int_equal(upload_id3_len(B("TAG\x04\x00\x00\x00\x00\x00\x01")), 0);
}

/* A temporary file holding bytes[0..n), open for reading. */
static int file_of(const void *bytes, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(bytes, 1, n, f), n);
    fflush(f);
    int fd = dup(fileno(f));
    fclose(f);
    return fd;
}

static void test_sniff_fd(void **state)
{
    (void)state;
    unsigned char buf[2048];
    static const unsigned char tag[] = "ID3\x04\x00\x00\x00\x00\x04\x00"; /* 512-byte body */
    static const struct {
        const char *after; /* what follows two stacked tags */
        size_t n;
        upload_type want;
    } cases[] = {
        {"fLaC\x00\x00\x00\x22", 8, UPLOAD_FLAC},
        {"\xFF\xFB\x90\x64", 4, UPLOAD_MP3},
        {"garbage!", 8, UPLOAD_MP3}, /* the decoder decides */
        {"", 0, UPLOAD_MP3},         /* tags only */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, tag, 10);
        memcpy(buf + 522, tag, 10);
        memcpy(buf + 1044, cases[i].after, cases[i].n);
        int fd = file_of(buf, 1044 + cases[i].n);
        assert_int_equal(upload_sniff_fd(fd), cases[i].want);
        close(fd);
    }
    int fd = file_of("RIFF\x24\x00\x00\x00WAVEfmt ", 16);
    assert_int_equal(upload_sniff_fd(fd), UPLOAD_WAV);
    close(fd);
    fd = file_of("", 0);
    assert_int_equal(upload_sniff_fd(fd), UPLOAD_NONE);
    close(fd);
    assert_int_equal(upload_sniff_fd(-1), UPLOAD_NONE);
}

static void test_types(void **state)
{
    (void)state;
    static const struct {
        upload_type t;
        const char *ext, *mime, *demuxer;
    } cases[] = {
        {UPLOAD_MP3, "mp3", "audio/mpeg", "mp3"},
        {UPLOAD_WAV, "wav", "audio/wav", "wav"},
        {UPLOAD_OGG, "ogg", "audio/ogg", "ogg"},
        {UPLOAD_WEBM, "webm", "audio/webm", "matroska,webm"},
        {UPLOAD_FLAC, "flac", "audio/flac", "flac"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        assert_string_equal(upload_ext(cases[i].t), cases[i].ext);
        assert_string_equal(upload_content_type(cases[i].t), cases[i].mime);
        assert_true(upload_format_matches(cases[i].t, cases[i].demuxer));
        assert_false(upload_format_matches(cases[i].t, "aac"));
        assert_false(upload_format_matches(cases[i].t, NULL));
    }
    assert_false(upload_format_matches(UPLOAD_MP3, "wav"));
    assert_false(upload_format_matches(UPLOAD_WEBM, "matroska"));
    assert_false(upload_format_matches(UPLOAD_NONE, "mp3"));
    assert_null(upload_ext(UPLOAD_NONE));
    assert_null(upload_content_type(UPLOAD_NONE));
    assert_null(upload_ext((upload_type)99));
}

static void test_content_type(void **state)
{
    (void)state;
    static const struct {
        const char *ct;
        bool ok;
    } cases[] = {
        {"audio/mpeg", true},
        {"audio/wav", true},
        {"audio/x-wav", true},
        {"audio/ogg", true},
        {"audio/webm", true},
        {"audio/flac", true},
        {"AUDIO/MPEG", true},
        {"audio/webm;codecs=opus", true},
        {"audio/ogg; codecs=\"opus\"", true},
        {"  audio/flac  ", true},
        {"audio/mpeg ; x=y", true},
        {"audio/mp3", false},
        {"audio/mpeg3", false},
        {"audio/mpegx", false},
        {"audio/mpeg x", false},
        {"audio/", false},
        {"text/plain", false},
        {"application/octet-stream", false},
        {"application/json", false},
        {"video/webm", false},
        {"", false},
        {";audio/mpeg", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (upload_content_type_ok(cases[i].ct) != cases[i].ok)
            fail_msg("case %zu (%s): want %d", i, cases[i].ct, cases[i].ok);
    assert_false(upload_content_type_ok(NULL));
}

static char *repeat(arena *a, const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = arena_alloc(a, n * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static void test_filename(void **state)
{
    arena *a = *state;
    static const struct {
        const char *raw, *want; /* want NULL: refused */
    } cases[] = {
        {"song.mp3", "song.mp3"},
        {"My Take (final) #2.wav", "My Take (final) #2.wav"},
        {"../../etc/passwd", "passwd"},
        {"..\\..\\windows\\win.ini", "win.ini"},
        {"C:\\fakepath\\take 1.wav", "take 1.wav"},
        {"/abs/path/x.flac", "x.flac"},
        {"a\x01\x62\x7f.mp3", "ab.mp3"},
        {"tab\there\nnl\r.ogg", "tabherenl.ogg"},
        {"\xc2\x85x.mp3", "x.mp3"},                 /* C1 NEL */
        {"evil\xe2\x80\xaegpj.mp3", "evilgpj.mp3"}, /* RLO */
        {"\xef\xbb\xbf\x62om.mp3", "bom.mp3"},      /* BOM */
        {"\xe6\x97\xa5\xe6\x9c\xac.mp3", "\xe6\x97\xa5\xe6\x9c\xac.mp3"},
        {".hidden", "hidden"},
        {"name.", "name"},
        {"  padded  ", "padded"},
        {"..a..", "a"},
        {"...", NULL},
        {".", NULL},
        {"..", NULL},
        {". . .", NULL},
        {"", NULL},
        {"   ", NULL},
        {"/", NULL},
        {"dir/", NULL},
        {"../", NULL},
        {"a/..", NULL},
        {"\x01\x02\x03", NULL},
        {"\xe2\x80\xae", NULL},
        {"\xffzz", NULL},       /* not UTF-8 */
        {"\xc0\xaf", NULL},     /* overlong '/' */
        {"\xed\xa0\x80", NULL}, /* surrogate */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *out = NULL;
        const char *why = upload_filename(a, cases[i].raw, &out);
        if (cases[i].want) {
            if (why)
                fail_msg("case %zu (%s): refused: %s", i, cases[i].raw, why);
            assert_string_equal(out, cases[i].want);
        } else if (!why) {
            fail_msg("case %zu (%s): accepted as \"%s\"", i, cases[i].raw, out);
        }
    }
    const char *out = "untouched";
    assert_non_null(upload_filename(a, NULL, &out));
    assert_string_equal(out, "untouched");

    /* Characters, not bytes: 255 two-byte characters fit, 256 do not. */
    assert_null(upload_filename(a, repeat(a, "a", 255), &out));
    assert_int_equal(strlen(out), 255);
    assert_non_null(upload_filename(a, repeat(a, "a", 256), &out));
    assert_non_null(upload_filename(a, repeat(a, "a", 4096), &out));
    assert_null(upload_filename(a, repeat(a, "\xc3\xa9", 255), &out));
    assert_int_equal(strlen(out), 510);
    assert_non_null(upload_filename(a, repeat(a, "\xc3\xa9", 256), &out));
    /* What is dropped does not count. */
    assert_null(upload_filename(
        a, arena_printf(a, "%s%s", repeat(a, "\x01", 100), repeat(a, "b", 255)), &out));
    /* A long path keeps only its last part. */
    assert_null(upload_filename(a, arena_printf(a, "%s/ok.mp3", repeat(a, "../", 1000)), &out));
    assert_string_equal(out, "ok.mp3");
}

static void test_path_ok(void **state)
{
    (void)state;
    static const struct {
        const char *dir, *path;
        bool ok;
    } cases[] = {
        {"/d/body", "/d/body/0000000001", true},
        {"/d/body/", "/d/body/0000000001", true},
        {"/d/body//", "/d/body/7", true},
        {"/d/body", "/d/body/1/23/0000000001", true},
        {"/d/body", "/d/body/1/2/3/0000000001", true},
        {"/d/body", "/d/body/1/2/3/4/0000000001", false},
        {"/d/body", "/d/body/../x", false},
        {"/d/body", "/d/body/../0001", false},
        {"/d/body", "/d/body/./0001", false},
        {"/d/body", "/d/body2/0001", false},
        {"/d/body", "/d/bod/0001", false},
        {"/d/body", "/d/body", false},
        {"/d/body", "/d/body/", false},
        {"/d/body", "/d/body/0001/", false},
        {"/d/body", "/d/body//0001", false},
        {"/d/body", "/d/body/00a1", false},
        {"/d/body", "/d/body/-1", false},
        {"/d/body", "/d/body/0001\n", false},
        {"/d/body", "/etc/passwd", false},
        {"/d/body", "d/body/0001", false},
        {"/d/body", "", false},
        {"d/body", "d/body/0001", false},
        {"", "/0001", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (upload_path_ok(cases[i].dir, cases[i].path) != cases[i].ok)
            fail_msg("case %zu (%s in %s): want %d", i, cases[i].path, cases[i].dir, cases[i].ok);
    assert_false(upload_path_ok(NULL, "/d/body/1"));
    assert_false(upload_path_ok("/d/body", NULL));
}

#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sniff),        T(test_id3_len),  T(test_sniff_fd), T(test_types),
        T(test_content_type), T(test_filename), T(test_path_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
