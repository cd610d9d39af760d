/* fuzz_bind.c — JSON request bodies through bind_json() (common/bind.c): the strict
 * lexer, json-c's parse, the field table with every kind, bound and validator. */
#include <stdlib.h>

#include "bind.h"
#include "fuzz.h"

struct input {
    const char *text, *format, *email, *voice, *language, *note;
    long rate;
    double speed;
    int loud;
};

static const char *const formats[] = {"mp3", "wav", "flac", NULL};

static const bind_field fields[] = {
    {.name = "text",
     .type = BIND_STRING,
     .offset = offsetof(struct input, text),
     .min = 1,
     .max = 50,
     .message = "must be 1 to 50 characters"},
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
    {.name = "voiceId",
     .type = BIND_STRING,
     .offset = offsetof(struct input, voice),
     .check = bind_check_uuid},
    {.name = "language",
     .type = BIND_STRING,
     .offset = offsetof(struct input, language),
     .check = bind_check_language},
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = fuzz_arena();
    rv_req *rq = fuzz_req(a, arena_alloc(a, sizeof(char *)));
    if (size) { /* bytes, not a string: embedded NULs stay, as the serve loop reads them */
        char *body = arena_alloc(a, size + 1);
        memcpy(body, data, size);
        rq->body = body;
        rq->body_len = size;
    }
    struct input in = {.rate = 32000, .speed = 1, .loud = -1};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er == RV_OK) {
        /* What bound is what the contract promised. */
        if (in.text && (!bind_utf8_valid(in.text, strlen(in.text)) || !bind_utf8_len(in.text) ||
                        bind_utf8_len(in.text) > 50))
            abort();
        if (in.rate < 8000 || in.rate > 48000 || in.speed < 0.5 || in.speed > 2)
            abort();
        if (in.voice && !req_is_uuid(in.voice))
            abort();
    } else if (er != RV_E_VALIDATION && er != RV_E_MALFORMED_JSON) {
        abort();
    }
    /* The validators on their own, over the raw bytes as a string. */
    const char *s = fuzz_str(a, data, size);
    (void)bind_check_email(s);
    (void)bind_check_uuid(s);
    (void)bind_check_language(s);
    if (bind_utf8_valid(s, strlen(s)))
        (void)bind_utf8_len(s);
    return 0;
}
