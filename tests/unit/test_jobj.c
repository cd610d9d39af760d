/* test_jobj.c — reading members of parsed JSON whatever its shape. */
#include "unit.h"

#include "jobj.h"

static void test_members(void **state)
{
    (void)state;
    json_object *o = json_tokener_parse(
        "{\"s\":\"text\",\"i\":7,\"d\":2.5,\"n\":null,\"o\":{\"k\":\"v\"},\"a\":[1]}");
    assert_non_null(o);
    assert_string_equal(jobj_str(o, "s", "x"), "text");
    assert_string_equal(jobj_str(o, "i", "x"), "x"); /* not a string */
    assert_string_equal(jobj_str(o, "missing", "x"), "x");
    assert_null(jobj_str(o, "n", NULL));
    assert_true(jobj_num(o, "i", -1) == 7);
    assert_true(jobj_num(o, "d", -1) == 2.5);
    assert_true(jobj_num(o, "s", -1) == -1); /* a string is no number */
    assert_string_equal(jobj_str(jobj_member(o, "o"), "k", "x"), "v");
    /* Not an object, or nothing at all: the default, never a crash. */
    assert_null(jobj_member(jobj_member(o, "a"), "k"));
    assert_string_equal(jobj_str(jobj_member(o, "s"), "k", "x"), "x");
    assert_string_equal(jobj_str(NULL, "k", "x"), "x");
    assert_true(jobj_num(NULL, "k", 3) == 3);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_members)};
    return cmocka_run_group_tests_name("jobj", tests, NULL, NULL);
}
