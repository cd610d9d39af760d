/* video_narrate: word timings spread over a section spoken at a provider (no
 * timestamps from it), by the words' lengths in characters. */
#include "unit.h"

#include "video_narrate.h"

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

static void test_spread(void **state)
{
    arena *a = *state;
    static const struct {
        const char *text;
        int64_t start, end;
        size_t n;
        int64_t starts[4], ends[4];
    } cases[] = {
        {"ab cd", 1000, 2000, 2, {1000, 1500}, {1500, 2000}},
        {"  a   bbb\n", 0, 400, 2, {0, 100}, {100, 400}},
        {"été x", 0, 400, 2, {0, 300}, {300, 400}}, /* 3 characters, 5 bytes */
        {"one", 10, 10, 1, {10}, {10}},
        {" \t\n ", 0, 1000, 0, {0}, {0}},
        {"", 0, 1000, 0, {0}, {0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        local_tts_segment s = {
            .text = cases[c].text, .start_ms = cases[c].start, .end_ms = cases[c].end};
        video_narrate_spread(a, &s);
        assert_int_equal(s.n_words, cases[c].n);
        for (size_t i = 0; i < s.n_words; i++) {
            assert_int_equal(s.words[i].start_ms, cases[c].starts[i]);
            assert_int_equal(s.words[i].end_ms, cases[c].ends[i]);
            assert_true(s.words[i].len > 0);
            assert_false(strchr(" \t\n", s.text[s.words[i].offset]));
        }
    }
    local_tts_segment s = {.text = "été x", .start_ms = 0, .end_ms = 400};
    video_narrate_spread(a, &s);
    assert_int_equal(s.words[0].offset, 0);
    assert_int_equal(s.words[0].len, 5);
    assert_int_equal(s.words[1].offset, 6);
    assert_int_equal(s.words[1].len, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spread, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
