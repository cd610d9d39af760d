/* Runway: its task objects read into our states (THROTTLED waits, SAFETY.* is
 * content_rejected, ids checked), ratios, availability by key; and video_probe on
 * a real H.264 MP4 (made by the ffmpeg binary when there is one) and on garbage. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "image.h"
#include "providers/provider.h"
#include "video_probe.h"

static int setup(void **state)
{
    *state = arena_new();
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static void test_status(void **state)
{
    arena *a = *state;
    static const struct {
        const char *json;
        bool ok;
        prov_state want;
        int progress;
        const char *code, *url;
    } cases[] = {
        {"{\"id\":\"17f20503-6c24-4c16-946b-35dbbce2af2f\"}", true, PROV_PENDING, 5},
        {"{\"id\":\"t1\",\"status\":\"PENDING\"}", true, PROV_PENDING, 5},
        {"{\"id\":\"t1\",\"status\":\"THROTTLED\"}", true, PROV_PENDING, 5},
        {"{\"id\":\"t1\",\"status\":\"RUNNING\",\"progress\":0.5}", true, PROV_RUNNING, 50},
        {"{\"id\":\"t1\",\"status\":\"RUNNING\",\"progress\":7}", true, PROV_RUNNING, 90},
        {"{\"id\":\"t1\",\"status\":\"RUNNING\"}", true, PROV_RUNNING, 10},
        {"{\"id\":\"t1\",\"status\":\"SUCCEEDED\",\"output\":[\"https://x/v.mp4\"]}", true,
         PROV_SUCCEEDED, 95, NULL, "https://x/v.mp4"},
        {"{\"id\":\"t1\",\"status\":\"SUCCEEDED\",\"output\":[]}", true, PROV_FAILED, 95},
        {"{\"id\":\"t1\",\"status\":\"SUCCEEDED\",\"output\":[7]}", true, PROV_FAILED, 95},
        {"{\"id\":\"t1\",\"status\":\"FAILED\",\"failure\":\"no\","
         "\"failureCode\":\"SAFETY.INPUT.IMAGE\"}",
         true, PROV_FAILED, 0, "content_rejected"},
        {"{\"id\":\"t1\",\"status\":\"FAILED\",\"failureCode\":\"INTERNAL.BAD_OUTPUT.CODE01\"}",
         true, PROV_FAILED, 0},
        {"{\"id\":\"t1\",\"status\":\"CANCELLED\"}", true, PROV_CANCELLED, 0},
        {"{\"id\":\"t1\",\"status\":\"SOMETHING\"}", false},
        {"{\"id\":\"../x\",\"status\":\"PENDING\"}", false},
        {"{\"status\":\"PENDING\"}", false},
        {"{\"id\":7,\"status\":\"PENDING\"}", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        json_object *t = json_tokener_parse(cases[i].json);
        prov_status st;
        bool ok = prov_runway_status(a, t, &st);
        json_object_put(t);
        if (ok != cases[i].ok)
            fail_msg("case %zu: ok %d", i, ok);
        if (!ok)
            continue;
        if (st.state != cases[i].want || st.progress != cases[i].progress)
            fail_msg("case %zu: state %d progress %d", i, st.state, st.progress);
        if ((cases[i].code || st.code) &&
            (!cases[i].code || !st.code || strcmp(cases[i].code, st.code)))
            fail_msg("case %zu: code %s", i, st.code ? st.code : "(null)");
        if (cases[i].url && (!st.output_url || strcmp(cases[i].url, st.output_url)))
            fail_msg("case %zu: url", i);
        if (st.state == PROV_FAILED && !st.message)
            fail_msg("case %zu: no message", i);
    }
}

static void test_ratio_and_availability(void **state)
{
    (void)state;
    assert_string_equal(prov_runway_ratio("16:9"), "1280:720");
    assert_string_equal(prov_runway_ratio("9:16"), "720:1280");
    assert_string_equal(prov_runway_ratio("1:1"), "960:960");
    assert_string_equal(prov_runway_ratio(NULL), "1280:720");
    char why[256];
    unsetenv("RV_RUNWAY_API_KEY");
    assert_true(config_load(false, why, sizeof why));
    arena *a = *state;
    assert_null(strstr(prov_available_for(a, "video_clip"), "runway"));
    setenv("RV_RUNWAY_API_KEY", "k", 1);
    setenv("RV_RUNWAY_MAX_RUNNING", "0", 1);
    assert_false(config_load(false, why, sizeof why)); /* out of bounds: refused */
    setenv("RV_RUNWAY_MAX_RUNNING", "3", 1);
    assert_true(config_load(false, why, sizeof why));
    assert_int_equal(config->runway_max_running, 3);
    assert_string_equal(config->runway_url, "https://api.dev.runwayml.com");
    assert_non_null(strstr(prov_available_for(a, "video_clip"), "runway"));
    assert_null(strstr(prov_available_for(a, "tts"), "runway"));
    unsetenv("RV_RUNWAY_API_KEY");
    unsetenv("RV_RUNWAY_MAX_RUNNING");
}

static void test_video_probe(void **state)
{
    (void)state;
    char dir[] = "/tmp/rv-test-video-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char mp4[96], poster[96], junk[96], cmd[512];
    snprintf(mp4, sizeof mp4, "%s/c.mp4", dir);
    snprintf(poster, sizeof poster, "%s/p.jpg", dir);
    snprintf(junk, sizeof junk, "%s/j.mp4", dir);
    static const char fake[] = "\0\0\0\x18"
                               "ftypmp42 not really a video";
    FILE *f = fopen(junk, "wb");
    assert_int_equal(fwrite(fake, 1, sizeof fake - 1, f), sizeof fake - 1);
    fclose(f);
    video_info vi;
    assert_int_equal(video_probe(junk, poster, &vi), RV_E_UNPROCESSABLE);
    assert_int_equal(video_probe("/nonexistent/x.mp4", poster, &vi), RV_E_UNPROCESSABLE);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i testsrc=size=320x180:rate=24 -t 2 -c:v libx264 "
             "-pix_fmt yuv420p %s 2>/dev/null",
             mp4);
    if (system(cmd) == 0) {
        assert_int_equal(video_probe(mp4, poster, &vi), RV_OK);
        assert_true(vi.duration_ms >= 1950 && vi.duration_ms <= 2050);
        assert_int_equal(vi.width, 320);
        assert_int_equal(vi.height, 180);
        assert_true(vi.poster_bytes > 0);
        FILE *p = fopen(poster, "rb");
        unsigned char head[16];
        size_t n = fread(head, 1, sizeof head, p);
        fclose(p);
        int w, h;
        assert_true(image_header_size(IMAGE_JPEG, head, n, &w, &h) || n == sizeof head);
        /* an MPEG-4 Part 2 stream in MP4 is no H.264 */
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -v error -y -f lavfi -i testsrc=size=320x180:rate=24 -t 1 -c:v mpeg4 "
                 "%s 2>/dev/null",
                 mp4);
        if (system(cmd) == 0)
            assert_int_equal(video_probe(mp4, poster, &vi), RV_E_UNPROCESSABLE);
    }
    unlink(mp4);
    unlink(poster);
    unlink(junk);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratio_and_availability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_video_probe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
