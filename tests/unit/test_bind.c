/* test_bind.c — strict JSON bodies bound through a field table. */
#include "unit.h"

#include <float.h>

#include "bind.h"

/* The input of an imaginary endpoint covering every field kind. */
struct input {
    const char *text, *format, *email, *note;
    long rate;
    double speed;
    int loud;
};

static const char *const formats[] = {"mp3", "wav", "flac", NULL};

static const bind_field fields[] = {
    {.name = "text",
     .type = BIND_STRING,
     .offset = offsetof(struct input, text),
     .required = true,
     .min = 1,
     .max = 5,
     .message = "must be 1 to 5 characters"},
    {.name = "format",
     .type = BIND_STRING,
     .offset = offsetof(struct input, format),
     .one_of = formats},
    {.name = "email",
     .type = BIND_STRING,
     .offset = offsetof(struct input, email),
     .min = 3,
     .max = 254,
     .check = bind_check_email},
    {.name = "note", .type = BIND_STRING, .offset = offsetof(struct input, note)},
    {.name = "rate",
     .type = BIND_INT,
     .offset = offsetof(struct input, rate),
     .min = 8000,
     .max = 48000},
    {.name = "speed",
     .type = BIND_NUMBER,
     .offset = offsetof(struct input, speed),
     .min = 0.5,
     .max = 2},
    {.name = "loud", .type = BIND_BOOL, .offset = offsetof(struct input, loud)},
};

/* Binds body[0..len) into *in preset with defaults; the request is returned for its
 * errors. len 0 means strlen(body) unless body is "" (no body at all). */
static rv_err bind_body(arena *a, const char *body, size_t len, struct input *in, rv_req **out)
{
    rv_req *rq = arena_alloc(a, sizeof *rq);
    unit_req(rq, a, NULL);
    rq->body_len = len ? len : strlen(body);
    if (rq->body_len) { /* bytes, not a string: embedded NULs stay */
        char *copy = arena_alloc(a, rq->body_len + 1);
        memcpy(copy, body, rq->body_len);
        rq->body = copy;
    }
    *in = (struct input){.rate = 32000, .speed = 1.0, .loud = -1};
    *out = rq;
    return bind_json(rq, fields, BIND_COUNT(fields), in);
}

struct bind_case {
    const char *body;
    size_t len; /* 0: strlen(body) */
    rv_err want;
    const char *errors; /* fields reported, in order, for RV_E_VALIDATION */
};

static void run_cases(arena *a, const struct bind_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bind_case *c = &cases[i];
        struct input in;
        rv_req *rq;
        rv_err er = bind_body(a, c->body, c->len, &in, &rq);
        if (er != c->want)
            fail_msg("case %zu %.80s: got %s (%s), want %s", i, c->body, err_info(er)->code,
                     unit_error_fields(rq), err_info(c->want)->code);
        if (er == RV_E_VALIDATION)
            assert_string_equal(unit_error_fields(rq), c->errors);
        if (er == RV_E_MALFORMED_JSON)
            assert_null(rq->problem_errors);
        arena_reset(a);
    }
}

static void test_not_json(void **state)
{
    static const struct bind_case cases[] = {
        {"{\"text\":\"a\"} x", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\"}{}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\"},", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\"} // comment", 0, RV_E_MALFORMED_JSON},
        {"/* comment */ {\"text\":\"a\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\" /* comment */}", 0, RV_E_MALFORMED_JSON},
        {"{'text':\"a\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":'a'}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",,\"loud\":true}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\" \"a\"}", 0, RV_E_MALFORMED_JSON},
        {"{text:\"a\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\"", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a}", 0, RV_E_MALFORMED_JSON},
        {"   ", 0, RV_E_MALFORMED_JSON},
        {"\xEF\xBB\xBF{\"text\":\"a\"}", 0, RV_E_MALFORMED_JSON}, /* BOM */
        /* Not numbers in JSON. */
        {"{\"text\":\"a\",\"speed\":NaN}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":Infinity}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":-Infinity}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":nan}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"rate\":08000}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"rate\":-08000}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"rate\":00}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":01.5}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":[1true]}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"rate\":+8000}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":.5}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":1.}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":1e}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":1.5.1}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"rate\":0x1F40}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"speed\":-}", 0, RV_E_MALFORMED_JSON},
        /* Literals are lower case and whole. */
        {"{\"text\":\"a\",\"loud\":True}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"loud\":truex}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\",\"loud\":nul}", 0, RV_E_MALFORMED_JSON},
        /* Strings: escapes from the list, control characters escaped. */
        {"{\"text\":\"\\x41\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"\\u12\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"\\uZZZZ\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"\\'\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\tb\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\nb\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\x01\"}", 0, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\0b\"}", 14, RV_E_MALFORMED_JSON},
        {"{\"text\":\"a\"}\0", 13, RV_E_MALFORMED_JSON},
        /* A name must not hide a NUL: json-c would cut it there. */
        {"{\"text\\u0000x\":\"a\"}", 0, RV_E_MALFORMED_JSON},
    };
    run_cases(*state, cases, N_ELEMS(cases));
}

static void test_top_level_not_object(void **state)
{
    static const char *const bodies[] = {"[]",  "[{\"text\":\"a\"}]", "\"text\"", "1", "null",
                                         "true"};
    arena *a = *state;
    for (size_t i = 0; i < N_ELEMS(bodies); i++) {
        struct input in;
        rv_req *rq;
        if (bind_body(a, bodies[i], 0, &in, &rq) != RV_E_MALFORMED_JSON)
            fail_msg("top level %s accepted", bodies[i]);
        assert_non_null(rq->detail);
    }
}

static void test_invalid_utf8(void **state)
{
    /* Each sequence once as a value and once as a member name. */
    static const char *const bad[] = {
        "\xFF",             /* never in UTF-8 */
        "\xC3",             /* truncated */
        "\xC3(",            /* bad continuation */
        "\x80",             /* lone continuation */
        "\xC0\xAF",         /* overlong '/' */
        "\xE0\x80\xAF",     /* overlong, 3 bytes */
        "\xF0\x80\x80\xAF", /* overlong, 4 bytes */
        "\xED\xA0\x80",     /* UTF-16 surrogate D800 */
        "\xED\xBF\xBF",     /* surrogate DFFF */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xF8\x88\x80\x80\x80",
    };
    arena *a = *state;
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        const char *bodies[] = {
            arena_printf(a, "{\"text\":\"a%sb\"}", bad[i]),
            arena_printf(a, "{\"text\":\"a\",\"%s\":1}", bad[i]),
        };
        for (size_t j = 0; j < N_ELEMS(bodies); j++) {
            struct input in;
            rv_req *rq;
            if (bind_body(a, bodies[j], 0, &in, &rq) != RV_E_MALFORMED_JSON)
                fail_msg("invalid UTF-8 #%zu accepted in %s", i, j ? "a name" : "a value");
        }
    }
}

/* {"x":{"x":...{}}} with depth objects in all. */
static const char *nested(arena *a, int depth)
{
    char *s = arena_strdup(a, "{}");
    for (int i = 1; i < depth; i++)
        s = arena_printf(a, "{\"x\":%s}", s);
    return s;
}

static void test_depth(void **state)
{
    arena *a = *state;
    struct input in;
    rv_req *rq;
    /* 16 levels parse (and x is then unknown); 17 do not. */
    assert_int_equal(bind_body(a, nested(a, 16), 0, &in, &rq), RV_E_VALIDATION);
    assert_string_equal(unit_error_fields(rq), "x text");
    assert_int_equal(bind_body(a, nested(a, 17), 0, &in, &rq), RV_E_MALFORMED_JSON);
    assert_string_equal(rq->detail, "JSON nested too deeply");
    assert_int_equal(bind_body(a, nested(a, 1000), 0, &in, &rq), RV_E_MALFORMED_JSON);
}

static void test_validation(void **state)
{
    static const struct bind_case cases[] = {
        {"{\"text\":\"a\"}", 0, RV_OK},
        {" \t\r\n{ \"text\" : \"a\" } \r\n", 0, RV_OK}, /* whitespace is fine */
        /* Required, optional, explicit null. */
        {"{}", 0, RV_E_VALIDATION, "text"},
        {"", 0, RV_E_VALIDATION, "text"}, /* no body binds as {} */
        {"{\"text\":null}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"a\",\"format\":null,\"rate\":null,\"loud\":null}", 0, RV_OK},
        /* Unknown fields. */
        {"{\"text\":\"a\",\"extra\":1}", 0, RV_E_VALIDATION, "extra"},
        {"{\"text\":\"a\",\"Text\":\"b\"}", 0, RV_E_VALIDATION, "Text"},
        {"{\"text\":\"a\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":"
         "1}",
         0, RV_E_VALIDATION, "(unknown)"},
        /* Strings: type, NUL, bounds counted in characters. */
        {"{\"text\":5}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":true}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":[\"a\"]}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":{}}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"\\u0000\"}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"a\\u0000b\"}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"\"}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"abcde\"}", 0, RV_OK},
        {"{\"text\":\"abcdef\"}", 0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}", 0, RV_OK},
        {"{\"text\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", 0, RV_OK},
        {"{\"text\":\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F"
         "\x98\x80\"}",
         0, RV_OK},
        {"{\"text\":\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00"
         "\\ud83d\\ude00\"}",
         0, RV_E_VALIDATION, "text"},
        {"{\"text\":\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}", 0, RV_E_VALIDATION,
         "text"},
        {"{\"text\":\"a\\\"\\\\\\/\\b\\f\\n\\r\"}", 0, RV_E_VALIDATION, "text"}, /* 8 chars */
        /* one_of. */
        {"{\"text\":\"a\",\"format\":\"wav\"}", 0, RV_OK},
        {"{\"text\":\"a\",\"format\":\"ogg\"}", 0, RV_E_VALIDATION, "format"},
        {"{\"text\":\"a\",\"format\":\"MP3\"}", 0, RV_E_VALIDATION, "format"},
        {"{\"text\":\"a\",\"format\":\"\"}", 0, RV_E_VALIDATION, "format"},
        {"{\"text\":\"a\",\"format\":1}", 0, RV_E_VALIDATION, "format"},
        /* check. */
        {"{\"text\":\"a\",\"email\":\"a@b.co\"}", 0, RV_OK},
        {"{\"text\":\"a\",\"email\":\"not an email\"}", 0, RV_E_VALIDATION, "email"},
        /* Integers. */
        {"{\"text\":\"a\",\"rate\":8000}", 0, RV_OK},
        {"{\"text\":\"a\",\"rate\":48000}", 0, RV_OK},
        {"{\"text\":\"a\",\"rate\":7999}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":48001}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":-8000}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":1.5}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":16000.0}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":1.6e4}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":\"16000\"}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":99999999999999999999}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":-99999999999999999999}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":18446744073709551616}", 0, RV_E_VALIDATION, "rate"},
        {"{\"text\":\"a\",\"rate\":1e999}", 0, RV_E_VALIDATION, "rate"},
        /* Numbers. */
        {"{\"text\":\"a\",\"speed\":1}", 0, RV_OK},
        {"{\"text\":\"a\",\"speed\":0.5}", 0, RV_OK},
        {"{\"text\":\"a\",\"speed\":2E0}", 0, RV_OK},
        {"{\"text\":\"a\",\"speed\":-0}", 0, RV_E_VALIDATION, "speed"},
        {"{\"text\":\"a\",\"speed\":2.0001}", 0, RV_E_VALIDATION, "speed"},
        {"{\"text\":\"a\",\"speed\":0.4999}", 0, RV_E_VALIDATION, "speed"},
        {"{\"text\":\"a\",\"speed\":\"1\"}", 0, RV_E_VALIDATION, "speed"},
        {"{\"text\":\"a\",\"speed\":1e999}", 0, RV_E_VALIDATION, "speed"},
        {"{\"text\":\"a\",\"speed\":-1e999}", 0, RV_E_VALIDATION, "speed"},
        {"{\"text\":\"a\",\"speed\":99999999999999999999}", 0, RV_E_VALIDATION, "speed"},
        /* Booleans. */
        {"{\"text\":\"a\",\"loud\":false}", 0, RV_OK},
        {"{\"text\":\"a\",\"loud\":1}", 0, RV_E_VALIDATION, "loud"},
        {"{\"text\":\"a\",\"loud\":\"true\"}", 0, RV_E_VALIDATION, "loud"},
        /* Every error at once: unknown names first, then the table's order. */
        {"{\"zzz\":0,\"loud\":0,\"rate\":1.5,\"format\":\"ogg\",\"text\":\"\",\"speed\":9,"
         "\"email\":\"x\"}",
         0, RV_E_VALIDATION, "zzz text format email rate speed loud"},
    };
    run_cases(*state, cases, N_ELEMS(cases));
}

static void test_values(void **state)
{
    arena *a = *state;
    struct input in;
    rv_req *rq;
    assert_int_equal(bind_body(a,
                               "{\"text\":\"h\\u00e9\",\"format\":\"flac\",\"email\":\"a@b.co\","
                               "\"note\":\"\",\"rate\":44100,\"speed\":1.25,\"loud\":true}",
                               0, &in, &rq),
                     RV_OK);
    assert_string_equal(in.text, "h\xC3\xA9");
    assert_string_equal(in.format, "flac");
    assert_string_equal(in.email, "a@b.co");
    assert_string_equal(in.note, "");
    assert_int_equal(in.rate, 44100);
    assert_true(in.speed == 1.25);
    assert_int_equal(in.loud, 1);
    assert_null(rq->problem_errors);

    /* Absent optional members: strings NULL, numbers and bools keep the preset. */
    assert_int_equal(bind_body(a, "{\"text\":\"x\"}", 0, &in, &rq), RV_OK);
    assert_null(in.format);
    assert_null(in.email);
    assert_null(in.note);
    assert_int_equal(in.rate, 32000);
    assert_true(in.speed == 1.0);
    assert_int_equal(in.loud, -1);

    /* An integer binds to a number field as a double. */
    assert_int_equal(bind_body(a, "{\"text\":\"x\",\"speed\":2}", 0, &in, &rq), RV_OK);
    assert_true(in.speed == 2.0);
}

static void test_messages(void **state)
{
    arena *a = *state;
    struct input in;
    rv_req *rq;
    bind_body(a,
              "{\"text\":\"abcdefg\",\"format\":\"ogg\",\"rate\":1.5,\"speed\":3,\"loud\":0,"
              "\"x\":1,\"email\":\"nope\"}",
              0, &in, &rq);
    assert_string_equal(unit_error_message(rq, "text"), "must be 1 to 5 characters");
    assert_string_equal(unit_error_message(rq, "format"), "must be one of: mp3, wav, flac");
    assert_string_equal(unit_error_message(rq, "rate"), "must be an integer");
    assert_string_equal(unit_error_message(rq, "speed"), "must be from 0.5 to 2");
    assert_string_equal(unit_error_message(rq, "loud"), "must be true or false");
    assert_string_equal(unit_error_message(rq, "x"), "is not a known field");
    assert_string_equal(unit_error_message(rq, "email"), "must be a valid email address");
    bind_body(a, "{\"rate\":1}", 0, &in, &rq);
    assert_string_equal(unit_error_message(rq, "text"), "is required");
    assert_string_equal(unit_error_message(rq, "rate"), "must be from 8000 to 48000");
}

/* Default bound messages print the bounds as written, whatever their size. */
static void test_default_bounds_message(void **state)
{
    struct big {
        const char *s;
        long n;
    } out = {0};
    static const bind_field big_fields[] = {
        {.name = "s",
         .type = BIND_STRING,
         .offset = offsetof(struct big, s),
         .min = 1,
         .max = 5000000},
        {.name = "n",
         .type = BIND_INT,
         .offset = offsetof(struct big, n),
         .min = -2500000,
         .max = 123456789},
    };
    rv_req rq;
    unit_req(&rq, *state, NULL);
    rq.body = "{\"s\":\"\",\"n\":123456790}";
    rq.body_len = strlen(rq.body);
    assert_int_equal(bind_json(&rq, big_fields, BIND_COUNT(big_fields), &out), RV_E_VALIDATION);
    assert_string_equal(unit_error_message(&rq, "s"), "must be 1 to 5000000 characters");
    assert_string_equal(unit_error_message(&rq, "n"), "must be from -2500000 to 123456789");
}

/* BIND_UUID_ARRAY: an array of min..max UUID strings, or one error for the field. */
static void test_uuid_array(void **state)
{
    struct ids {
        json_object *ids;
    } out;
    static const bind_field id_fields[] = {
        {.name = "ids",
         .type = BIND_UUID_ARRAY,
         .offset = offsetof(struct ids, ids),
         .required = true,
         .min = 1,
         .max = 2},
    };
    static const struct {
        const char *body;
        rv_err want;
        const char *message;
    } rows[] = {
        {"{\"ids\":[\"00000000-0000-4000-8000-000000000001\"]}", RV_OK, NULL},
        {"{\"ids\":[\"00000000-0000-4000-8000-000000000001\","
         "\"00000000-0000-4000-8000-000000000001\"]}",
         RV_OK, NULL},
        {"{\"ids\":[]}", RV_E_VALIDATION, "must be an array of 1 to 2 ids"},
        {"{\"ids\":[\"a\",\"b\",\"c\"]}", RV_E_VALIDATION, "must be an array of 1 to 2 ids"},
        {"{\"ids\":\"00000000-0000-4000-8000-000000000001\"}", RV_E_VALIDATION,
         "must be an array of 1 to 2 ids"},
        {"{\"ids\":[\"00000000-0000-4000-8000-000000000001\",7]}", RV_E_VALIDATION,
         "item 2 must be a UUID"},
        {"{\"ids\":[\"nope\"]}", RV_E_VALIDATION, "item 1 must be a UUID"},
        {"{}", RV_E_VALIDATION, "is required"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rv_req rq;
        unit_req(&rq, *state, NULL);
        rq.body = rows[i].body;
        rq.body_len = strlen(rq.body);
        out.ids = NULL;
        assert_int_equal(bind_json(&rq, id_fields, BIND_COUNT(id_fields), &out), rows[i].want);
        if (rows[i].want == RV_OK)
            assert_true(json_object_is_type(out.ids, json_type_array));
        else
            assert_string_equal(unit_error_message(&rq, "ids"), rows[i].message);
        arena_reset(*state);
    }
}

static void test_parse(void **state)
{
    rv_req rq;
    json_object *o = NULL;
    unit_req(&rq, *state, NULL);
    rq.body = "{\"a\":[1,2,{\"b\":null}]}";
    rq.body_len = strlen(rq.body);
    assert_int_equal(bind_parse(&rq, &o), RV_OK);
    assert_int_equal(json_object_array_length(unit_get(o, "a")), 3);

    rq.body = "[1]";
    rq.body_len = 3;
    assert_int_equal(bind_parse(&rq, &o), RV_E_MALFORMED_JSON);
    assert_string_equal(rq.detail, "body must be a JSON object");
}

static void test_utf8_len(void **state)
{
    (void)state;
    assert_int_equal(bind_utf8_len(""), 0);
    assert_int_equal(bind_utf8_len("abc"), 3);
    assert_int_equal(bind_utf8_len("\xC3\xA9"), 1);
    assert_int_equal(bind_utf8_len("\xE2\x82\xAC"), 1);
    assert_int_equal(bind_utf8_len("\xF0\x9F\x98\x80"), 1);
    assert_int_equal(bind_utf8_len("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z"), 5);
}

/* "aaa@ddd.com" of the given lengths: local part, then the whole address. */
static const char *email_sized(arena *a, size_t local, size_t total)
{
    char *s = arena_alloc(a, total + 1);
    memset(s, 'a', local);
    s[local] = '@';
    memset(s + local + 1, 'd', total - local - 1);
    memcpy(s + total - 4, ".com", 4);
    return s;
}

static void test_check_email(void **state)
{
    arena *a = *state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"a@b.co", true},
        {"first.last+tag@example.com", true},
        {"x_y-z@sub.example.org", true},
        {"\xC3\xBC@ex\xC3\xA4mple.de", true},
        {"", false},
        {"a", false},
        {"@b.co", false},
        {"a@", false},
        {"a@b", false},
        {"a@b.", false},
        {"a@.co", false},
        {"a@@b.co", false},
        {"a@b@c.co", false},
        {"a b@c.co", false},
        {"a@b .co", false},
        {" a@b.co", false},
        {"a@b.co\n", false},
        {"a\t@b.co", false},
        {"<a@b.co>", false},
        {"a\"b@c.co", false},
        {"a;b@c.co", false},
        {"a,b@c.co", false},
        {"a:b@c.co", false},
        {"a\\b@c.co", false},
        {"a[1]@c.co", false},
        {"a(b)@c.co", false},
        {"a\x7F@b.co", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (!bind_check_email(cases[i].s) != cases[i].ok)
            fail_msg("bind_check_email(\"%s\") should be %s", cases[i].s,
                     cases[i].ok ? "fine" : "refused");
    /* At most 64 characters before the @, 254 in all. */
    assert_null(bind_check_email(email_sized(a, 64, 80)));
    assert_non_null(bind_check_email(email_sized(a, 65, 80)));
    assert_null(bind_check_email(email_sized(a, 10, 254)));
    assert_non_null(bind_check_email(email_sized(a, 10, 255)));
}

static void test_check_language(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"en", true},
        {"de", true},
        {"yue", true},
        {"en-US", true},
        {"pt-BR", true},
        {"es-419", true},
        {"zh-Hant", true},
        {"zh-Hant-TW", true},
        {"zh-yue-HK", true},
        {"de-CH-1901", true},
        {"sl-rozaj-biske", true},
        {"sl-IT-1994", true},
        {"en-US-x-twain", true},
        {"en-a-bbb-x-a-ccc", true},
        {"EN-us", true},
        {"", false},
        {"e", false},
        {"english", false}, /* 5-8 letter languages are not used */
        {"engl", false},
        {"en_US", false},
        {"en-", false},
        {"-en", false},
        {"en--US", false},
        {"en US", false},
        {"12", false},
        {"en-U", false}, /* a singleton with nothing after it */
        {"en-x", false},
        {"en-x-", false},
        {"en-a-b", false},    /* an extension subtag is 2-8 characters */
        {"x-private", false}, /* private use alone */
        {"en-abcdefghi", false},
        {"en-US-Hant", false}, /* script after region */
        {"en-1234567", true},  /* a variant */
        {"en-123", true},      /* a numeric region */
        {"en-12", false},
        {"en-\xc3\xa9t", false},
        {"en-US-x-abcdefghijklmnopqrstuvwxyz", false}, /* 36 characters */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (!bind_check_language(cases[i].s) != cases[i].ok)
            fail_msg("bind_check_language(\"%s\") should be %s", cases[i].s,
                     cases[i].ok ? "fine" : "refused");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_not_json),     T(test_top_level_not_object),
        T(test_invalid_utf8), T(test_depth),
        T(test_validation),   T(test_values),
        T(test_messages),     T(test_default_bounds_message),
        T(test_parse),        T(test_utf8_len),
        T(test_check_email),  T(test_check_language),
        T(test_uuid_array),
    };
    return cmocka_run_group_tests_name("bind", tests, NULL, NULL);
}
