/* fuzz.h — what the libFuzzer targets share: a request over fuzzer bytes.
 *
 * Each tests/fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput() over one parser
 * that sees outside bytes; `make fuzz` builds them with clang
 * (-fsanitize=fuzzer,address,undefined) and runs each on tests/fuzz/corpus/<target>/.
 * A target returns 0 always: a crash, a sanitizer report, a leak or a timeout is
 * the only failure. static inline so a target that uses only some of it still
 * builds with -Werror. */
#ifndef RV_FUZZ_H
#define RV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The one arena of the process, reset by every input. */
static inline arena *fuzz_arena(void)
{
    static arena *a;
    if (!a)
        a = arena_new();
    arena_reset(a);
    return a;
}

/* data[0..size) as a NUL-terminated arena string (an embedded NUL ends it early,
 * as it would in a FastCGI parameter). */
static inline char *fuzz_str(arena *a, const uint8_t *data, size_t size)
{
    return arena_strndup(a, (const char *)data, size);
}

/* Splits data at the first occurrence of byte sep: *head gets the part before it as
 * a string, the rest is returned (data + size when sep is absent, *rest_len 0). */
static inline const uint8_t *fuzz_split(arena *a, const uint8_t *data, size_t size, uint8_t sep,
                                        char **head, size_t *rest_len)
{
    const uint8_t *p = memchr(data, sep, size);
    size_t n = p ? (size_t)(p - data) : size;
    *head = fuzz_str(a, data, n);
    *rest_len = p ? size - n - 1 : 0;
    return p ? p + 1 : data + size;
}

/* A request whose environment holds the given NAME=value strings (NULL-ended), as
 * the serve loop builds it. */
static inline rv_req *fuzz_req(arena *a, char **env)
{
    rv_req *rq = arena_alloc(a, sizeof *rq);
    rq->a = a;
    rq->env = env;
    rq->method = req_param(rq, "REQUEST_METHOD");
    rq->path = req_param(rq, "DOCUMENT_URI");
    rq->query = req_param(rq, "QUERY_STRING");
    rq->content_type = req_param(rq, "CONTENT_TYPE");
    return rq;
}

#endif
