/* videos: the script limits (for requests and a language model's answers alike),
 * WebVTT from sections and words, the script prompt and check of the script step. */
#include "unit.h"

#include <stdio.h>

#include "video_work.h"
#include "videos.h"

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

static void put_json(void *o)
{
    json_object_put(o);
}

static json_object *parse(arena *a, const char *s)
{
    json_object *o = json_tokener_parse(s);
    if (!strcmp(s, "null"))
        return NULL;
    assert_non_null(o);
    arena_defer(a, put_json, o);
    return o;
}

struct seen {
    int n;
    char fields[8][64];
};

static void note(void *user, const char *field, const char *message)
{
    struct seen *s = user;
    (void)message;
    if (s->n < 8)
        snprintf(s->fields[s->n], sizeof s->fields[0], "%s", field);
    s->n++;
}

static void test_sections_check(void **state)
{
    arena *a = *state;
    static const struct {
        const char *json;
        int problems;
        const char *first;
    } cases[] = {
        {"[{\"heading\":\"A\",\"content\":\"One.\"},{\"content\":\"Two.\"}]", 0, NULL},
        {"[{\"heading\":null,\"content\":\"One.\"}]", 0, NULL},
        {"[]", 1, "s"},
        {"{}", 1, "s"},
        {"null", 1, "s"},
        {"[{\"content\":\"\"}]", 1, "s[0].content"},
        {"[{\"content\":\" \\n\\t \"}]", 1, "s[0].content"},
        {"[{\"heading\":\"x\"}]", 1, "s[0].content"},
        {"[{\"content\":7}]", 1, "s[0].content"},
        {"[{\"content\":\"a\\u0000b\"}]", 1, "s[0].content"},
        {"[{\"content\":\"ok\",\"extra\":1}]", 1, "s[0].extra"},
        {"[\"text\"]", 1, "s[0]"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct seen s = {0};
        json_object *clean = NULL;
        int n = videos_sections_check(a, parse(a, cases[i].json), "s", note, &s, &clean);
        if (n != cases[i].problems)
            fail_msg("case %zu: %d problems, want %d", i, n, cases[i].problems);
        if (cases[i].first)
            assert_string_equal(s.fields[0], cases[i].first);
        else
            assert_non_null(clean);
    }
    /* Bounds: 50 sections, 2000 and 200 characters (not bytes) pass; one more fails. */
    char *big = arena_strdup(a, "[");
    for (int i = 0; i < 50; i++)
        big = arena_printf(a, "%s%s{\"content\":\"c\"}", big, i ? "," : "");
    assert_int_equal(
        videos_sections_check(a, parse(a, arena_printf(a, "%s]", big)), "s", NULL, NULL, NULL), 0);
    assert_int_equal(
        videos_sections_check(a, parse(a, arena_printf(a, "%s,{\"content\":\"c\"}]", big)), "s",
                              NULL, NULL, NULL),
        1);
    char *content = arena_alloc(a, 2000 * 2 + 1), *heading = arena_alloc(a, 201 * 2 + 1);
    for (int i = 0; i < 2000; i++)
        memcpy(content + 2 * i, "\xc3\xa9", 2); /* é: two bytes, one character */
    for (int i = 0; i < 200; i++)
        memcpy(heading + 2 * i, "\xc3\xa9", 2);
    json_object *ok =
        parse(a, arena_printf(a, "[{\"heading\":\"%s\",\"content\":\"%s\"}]", heading, content));
    assert_int_equal(videos_sections_check(a, ok, "s", NULL, NULL, NULL), 0);
    json_object *bad = parse(
        a, arena_printf(a, "[{\"heading\":\"%s\\u00e9\",\"content\":\"%sx\"}]", heading, content));
    struct seen s = {0};
    assert_int_equal(videos_sections_check(a, bad, "s", note, &s, NULL), 2);
    assert_string_equal(s.fields[0], "s[0].heading");
    assert_string_equal(s.fields[1], "s[0].content");
}

static void test_vtt(void **state)
{
    arena *a = *state;
    json_object *v =
        parse(a, "{\"sections\":[{\"content\":\"Hello <b> & world\",\"startMs\":0,\"endMs\":1500},"
                 "{\"content\":\"a b\",\"startMs\":1500,\"endMs\":3723456,"
                 "\"words\":[{\"text\":\"a\",\"startMs\":1500,\"endMs\":1800},"
                 "{\"text\":\"b-->c\",\"startMs\":1900,\"endMs\":2100}]},"
                 "{\"content\":\"no times\"}]}");
    const char *vtt = videos_vtt(a, v);
    assert_string_equal(vtt, "WEBVTT\n"
                             "\n00:00:00.000 --> 00:00:01.500\nHello &lt;b&gt; &amp; world\n"
                             "\n00:00:01.500 --> 00:00:02.100\na b--&gt;c\n");
    assert_string_equal(videos_vtt(a, parse(a, "{}")), "WEBVTT\n");
    /* Word groups: at most 7 words a cue. */
    char *words = arena_strdup(a, "");
    for (int i = 0; i < 9; i++)
        words = arena_printf(a, "%s%s{\"text\":\"w%d\",\"startMs\":%d,\"endMs\":%d}", words,
                             i ? "," : "", i, i * 100, i * 100 + 90);
    vtt = videos_vtt(a, parse(a, arena_printf(a,
                                              "{\"sections\":[{\"content\":\"x\",\"startMs\":0,"
                                              "\"endMs\":900,\"words\":[%s]}]}",
                                              words)));
    assert_string_equal(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:00.690\nw0 w1 w2 w3 w4 w5 w6\n"
                             "\n00:00:00.700 --> 00:00:00.890\nw7 w8\n");
}

static void test_script_step(void **state)
{
    arena *a = *state;
    json_object *v = parse(a, "{\"title\":\"Rice\",\"topic\":\"How rice grows\","
                              "\"targetSeconds\":90,\"language\":\"en\"}");
    char *p = video_work_script_prompt(a, v);
    assert_non_null(strstr(p, "Topic: How rice grows\n"));
    assert_non_null(strstr(p, "about 90 seconds"));
    assert_non_null(strstr(p, "about 225 words"));
    json_object *clean = NULL;
    assert_null(video_work_script_check(
        a, parse(a, "{\"sections\":[{\"heading\":\"h\",\"content\":\"c\"}]}"), &clean));
    assert_int_equal(json_object_array_length(clean), 1);
    const char *why =
        video_work_script_check(a, parse(a, "{\"sections\":[{\"content\":\"\"}]}"), &clean);
    assert_non_null(why);
    assert_non_null(strstr(why, "sections[0].content"));
    assert_non_null(video_work_script_check(a, parse(a, "{\"sections\":[],\"x\":1}"), &clean));
    /* The schema we send is JSON. */
    assert_non_null(parse(a, video_work_script_schema));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sections_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vtt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_step, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
