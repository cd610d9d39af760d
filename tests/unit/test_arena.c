/* test_arena.c — the per-request bump allocator and its cleanup list. */
#include "unit.h"

#include <stdalign.h>
#include <stdint.h>

enum { CHUNK = 16 * 1024 }; /* arena.c's chunk size: allocations around it matter */

static bool aligned(const void *p)
{
    return (uintptr_t)p % alignof(max_align_t) == 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void test_alloc_aligned_and_zeroed(void **state)
{
    arena *a = *state;
    static const size_t sizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 1000, 4097};
    for (size_t i = 0; i < N_ELEMS(sizes); i++) {
        unsigned char *p = arena_alloc(a, sizes[i]);
        assert_non_null(p);
        assert_true(aligned(p));
        assert_true(all_zero(p, sizes[i]));
        memset(p, 0xA5, sizes[i]); /* dirty it for the next round */
    }
    /* Reset hands the same dirty memory out again: it must come back zeroed. */
    arena_reset(a);
    for (size_t i = 0; i < N_ELEMS(sizes); i++) {
        unsigned char *p = arena_alloc(a, sizes[i]);
        assert_true(aligned(p));
        assert_true(all_zero(p, sizes[i]));
    }
}

static void test_alloc_zero_bytes_distinct(void **state)
{
    arena *a = *state;
    void *p = arena_alloc(a, 0), *q = arena_alloc(a, 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
}

/* Many allocations over several chunks never overlap. */
static void test_alloc_no_overlap(void **state)
{
    arena *a = *state;
    enum { N = 2000, SZ = 37 };
    unsigned char *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = arena_alloc(a, SZ);
        memset(ptrs[i], i & 0xFF, SZ);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < SZ; j++)
            assert_int_equal(ptrs[i][j], i & 0xFF);
    assert_true(arena_used(a) >= (size_t)N * SZ);
}

static void test_alloc_large(void **state)
{
    arena *a = *state;
    static const size_t sizes[] = {CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 1u << 20};
    unsigned char *small = arena_alloc(a, 10);
    memset(small, 'x', 10);
    for (size_t i = 0; i < N_ELEMS(sizes); i++) {
        unsigned char *p = arena_alloc(a, sizes[i]);
        assert_true(aligned(p));
        assert_true(all_zero(p, sizes[i]));
        memset(p, 0xFF, sizes[i]); /* ASan: the whole block is ours */
        assert_true(arena_used(a) >= sizes[i]);
        /* Small allocations still work after a large one. */
        unsigned char *q = arena_alloc(a, 24);
        assert_true(aligned(q));
        assert_true(all_zero(q, 24));
    }
    for (int i = 0; i < 10; i++)
        assert_int_equal(small[i], 'x');
    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
}

static void test_strdup(void **state)
{
    arena *a = *state;
    assert_null(arena_strdup(a, NULL));
    assert_string_equal(arena_strdup(a, ""), "");
    const char *src = "hello";
    char *d = arena_strdup(a, src);
    assert_string_equal(d, "hello");
    assert_ptr_not_equal(d, src);
}

static void test_strndup(void **state)
{
    arena *a = *state;
    static const struct {
        const char *s;
        size_t n;
        const char *want;
    } cases[] = {
        {"hello", 0, ""},
        {"hello", 3, "hel"},
        {"hello", 5, "hello"},
        /* Like strndup(3), a NUL ends the copy before n: no read past the string. */
        {"hello", 6, "hello"},
        {"hi", 1000, "hi"},
        {"a\0b", 3, "a"},
    };
    assert_null(arena_strndup(a, NULL, 3));
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_string_equal(arena_strndup(a, cases[i].s, cases[i].n), cases[i].want);
}

static void test_printf(void **state)
{
    arena *a = *state;
    assert_string_equal(arena_printf(a, "%s-%d-%zu", "x", -42, (size_t)7), "x--42-7");
    assert_string_equal(arena_printf(a, "%s", ""), "");
    /* Longer than a chunk. */
    char *big = arena_alloc(a, 3 * CHUNK + 1);
    memset(big, 'q', 3 * CHUNK);
    char *s = arena_printf(a, "<%s>", big);
    assert_int_equal(strlen(s), 3 * CHUNK + 2);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[3 * CHUNK + 1], '>');
}

/* Cleanups record their order here. */
static int order[8], n_order;

static void record(void *p)
{
    assert_true(n_order < (int)N_ELEMS(order));
    order[n_order++] = *(int *)p;
}

static void test_cleanups_reverse_order(void **state)
{
    arena *a = *state;
    static int ids[] = {1, 2, 3, 4};
    n_order = 0;
    for (size_t i = 0; i < N_ELEMS(ids); i++) {
        arena_defer(a, record, &ids[i]);
        arena_alloc(a, CHUNK); /* records spread over several chunks */
    }
    arena_defer(a, record, NULL); /* NULL registers nothing */
    assert_int_equal(n_order, 0);
    arena_reset(a);
    assert_int_equal(n_order, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(order[i], 4 - i);
    /* Each runs once: a second reset has nothing left to run. */
    arena_reset(a);
    assert_int_equal(n_order, 4);
}

static void test_free_runs_cleanups(void **state)
{
    (void)state;
    static int ids[] = {7, 8};
    arena *b = arena_new();
    n_order = 0;
    arena_defer(b, record, &ids[0]);
    arena_defer(b, record, &ids[1]);
    arena_free(b);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[0], 8);
    assert_int_equal(order[1], 7);
    arena_free(NULL);
}

/* Foreign objects registered on the arena are released by it (ASan checks). */
static void test_defer_frees_foreign(void **state)
{
    arena *a = *state;
    arena_defer(a, free, malloc(100));
    arena_defer(a, unit_put, json_object_new_string("owned by the arena"));
    arena_reset(a);
}

static int cycles_run;
static void count_cycle(void *p)
{
    (void)p;
    cycles_run++;
}

static void test_many_reset_cycles(void **state)
{
    arena *a = *state;
    cycles_run = 0;
    for (int cycle = 0; cycle < 500; cycle++) {
        for (int i = 0; i < 50; i++) {
            char *s = arena_printf(a, "cycle %d item %d", cycle, i);
            assert_non_null(s);
        }
        unsigned char *big = arena_alloc(a, 2 * CHUNK + (size_t)cycle);
        assert_true(all_zero(big, 2 * CHUNK + (size_t)cycle));
        memset(big, 1, 2 * CHUNK);
        arena_defer(a, count_cycle, a);
        arena_reset(a);
        assert_int_equal(arena_used(a), 0);
        assert_int_equal(cycles_run, cycle + 1);
    }
    assert_true(all_zero(arena_alloc(a, CHUNK), CHUNK));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_alloc_aligned_and_zeroed),
        T(test_alloc_zero_bytes_distinct),
        T(test_alloc_no_overlap),
        T(test_alloc_large),
        T(test_strdup),
        T(test_strndup),
        T(test_printf),
        T(test_cleanups_reverse_order),
        T(test_free_runs_cleanups),
        T(test_defer_frees_foreign),
        T(test_many_reset_cycles),
    };
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
