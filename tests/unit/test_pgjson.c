/* pgjson: JSON text and strings from outside made fit for PostgreSQL. */
#include "unit.h"

#include "pgjson.h"

static const struct {
    const char *in, *out; /* out NULL: refused */
    int replaced;
} cases[] = {
    {"{\"a\":\"plain\"}", "{\"a\":\"plain\"}", 0},
    {"{\"a\":\"x\\u0000y\"}", "{\"a\":\"x\\ufffdy\"}", 1},
    {"{\"a\":\"\\ud800\"}", "{\"a\":\"\\ufffd\"}", 1},
    {"{\"a\":\"\\uDBFFx\"}", "{\"a\":\"\\ufffdx\"}", 1},
    {"{\"a\":\"\\udc00\"}", "{\"a\":\"\\ufffd\"}", 1},
    {"{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\\ud83d\\ude00\"}", 0}, /* a pair */
    {"{\"a\":\"\\ud83d\\ud83d\\ude00\"}", "{\"a\":\"\\ufffd\\ud83d\\ude00\"}", 1},
    {"{\"a\":\"\\ude00\\ud83d\"}", "{\"a\":\"\\ufffd\\ufffd\"}", 2},
    {"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ufffd\\u0041\"}", 1},
    {"{\"\\u0000\":[\"\\u0000\",\"\\u0000\"]}", "{\"\\ufffd\":[\"\\ufffd\",\"\\ufffd\"]}", 3},
    /* an escaped backslash followed by "u0000" is text, not an escape */
    {"{\"a\":\"\\\\u0000\"}", "{\"a\":\"\\\\u0000\"}", 0},
    {"{\"a\":\"\\\\\\u0000\"}", "{\"a\":\"\\\\\\ufffd\"}", 1},
    {"{\"a\":\"\\\"\\u0000\"}", "{\"a\":\"\\\"\\ufffd\"}", 1},
    {"{\"a\":\"\\u00e9\\u4e2d\"}", "{\"a\":\"\\u00e9\\u4e2d\"}", 0},
    {"{\"a\":\"caf\xc3\xa9\"}", "{\"a\":\"caf\xc3\xa9\"}", 0},
    /* refused: invalid UTF-8, CESU-8 surrogates, an escape cut short */
    {"{\"a\":\"\xff\"}", NULL, -1},
    {"{\"a\":\"\xed\xa0\x80\"}", NULL, -1},
    {"{\"a\":\"\\u00\"}", NULL, -1},
    {"{\"a\":\"\\uzzzz\"}", NULL, -1},
    {"\\", NULL, -1},
};

static void test_clean(void **state)
{
    (void)state;
    arena *a = arena_new();
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *out = (char *)"unset";
        int r = pgjson_clean(a, cases[i].in, strlen(cases[i].in), &out);
        if (r != cases[i].replaced)
            fail_msg("case %zu (%s): %d replaced, want %d", i, cases[i].in, r, cases[i].replaced);
        if (cases[i].out)
            assert_string_equal(out, cases[i].out);
        else
            assert_null(out);
        assert_int_equal(pgjson_ok(cases[i].in, strlen(cases[i].in)), cases[i].replaced == 0);
    }
    arena_free(a);
}

static void test_clean_nul_byte(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *out;
    assert_int_equal(pgjson_clean(a, "{\"a\":\"x\0\"}", 10, &out), -1);
    assert_null(out);
    assert_false(pgjson_ok("{\"a\":\"x\0\"}", 10));
    assert_false(pgjson_ok(NULL, 0));
    assert_int_equal(pgjson_clean(a, "", 0, &out), 0);
    assert_string_equal(out, "");
    arena_free(a);
}

static void test_text(void **state)
{
    (void)state;
    arena *a = arena_new();
    assert_null(pgjson_text(a, NULL, 10));
    assert_string_equal(pgjson_text(a, "fine", 100), "fine");
    assert_string_equal(pgjson_text(a,
                                    "a\xff"
                                    "b",
                                    100),
                        "a\xEF\xBF\xBD"
                        "b");
    assert_string_equal(pgjson_text(a, "\xed\xa0\x80", 100),
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(pgjson_text(a, "caf\xc3\xa9", 4), "caf"); /* never half a character */
    assert_string_equal(pgjson_text(a, "caf\xc3\xa9", 5), "caf\xc3\xa9");
    assert_string_equal(pgjson_text(a, "abcdef", 3), "abc");
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_clean_nul_byte),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests_name("pgjson", tests, NULL, NULL);
}
