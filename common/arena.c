#include "arena.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 16 * 1024 };

struct chunk {
    struct chunk *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

struct arena {
    struct chunk *head; /* newest first; the last one is kept across resets */
    struct cleanup *cleanups;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n", stderr);
        abort();
    }
    return p;
}

static struct chunk *chunk_new(size_t want)
{
    size_t size = want > CHUNK ? want : CHUNK;
    struct chunk *c = xmalloc(sizeof *c + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

arena *arena_new(void)
{
    arena *a = xmalloc(sizeof *a);
    a->head = chunk_new(CHUNK);
    a->cleanups = NULL;
    return a;
}

void arena_reset(arena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->ptr); /* the record itself lives in the arena */
    }
    while (a->head->next) {
        struct chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
    a->head->used = 0;
}

void arena_free(arena *a)
{
    if (!a)
        return;
    arena_reset(a);
    free(a->head);
    free(a);
}

void *arena_alloc(arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > (size_t)-1 / 2)
        abort();
    size_t need = (n + align - 1) & ~(align - 1);
    if (need == 0)
        need = align;
    struct chunk *c = a->head;
    if (c->size - c->used < need) {
        c = chunk_new(need);
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, n);
    return p;
}

/* Like strndup(3): copies at most n bytes and stops at a NUL, so a caller may pass
 * a bound larger than the string without reading past its end. */
char *arena_strndup(arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    n = strnlen(s, n);
    char *d = arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *arena_strdup(arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        abort();
    char *s = arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

char *arena_join(arena *a, const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += parts[i] ? strlen(parts[i]) : 0;
    char *out = arena_alloc(a, len + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        size_t m = parts[i] ? strlen(parts[i]) : 0;
        if (m)
            memcpy(p, parts[i], m);
        p += m;
    }
    *p = '\0';
    return out;
}

void arena_defer(arena *a, void (*fn)(void *), void *ptr)
{
    if (!ptr)
        return;
    struct cleanup *c = arena_alloc(a, sizeof *c);
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t arena_used(const arena *a)
{
    size_t n = 0;
    for (const struct chunk *c = a->head; c; c = c->next)
        n += c->used;
    return n;
}
