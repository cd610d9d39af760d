/* arena.h — per-request memory.
 *
 * A bump allocator over a list of chunks plus a cleanup list. Everything a request
 * allocates, and every foreign object it registers (json-c objects, PGresults),
 * is released by one arena_reset() at the end of the request, cleanups in reverse
 * order of registration. Out of memory aborts the process: the supervisor restarts
 * the worker and nginx answers 502 for that one request. */
#ifndef RV_ARENA_H
#define RV_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

arena *arena_new(void);     /* owned by the caller; arena_free() */
void arena_free(arena *a);  /* NULL is fine */
void arena_reset(arena *a); /* runs cleanups, keeps the first chunk */

void *arena_alloc(arena *a, size_t n);                  /* zeroed, aligned to max_align_t */
char *arena_strdup(arena *a, const char *s);            /* NULL gives NULL */
char *arena_strndup(arena *a, const char *s, size_t n); /* at most n bytes, stops at NUL */
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The concatenation of n strings (NULL parts count as empty); memcpy-fast where
 * arena_printf would format byte by byte. */
char *arena_join(arena *a, const char *const *parts, size_t n);

/* Runs fn(ptr) at the next reset; ptr NULL registers nothing. */
void arena_defer(arena *a, void (*fn)(void *), void *ptr);

/* Bytes in use, for tests and the memory log. */
size_t arena_used(const arena *a);

#endif
