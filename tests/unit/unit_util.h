/* unit_util.h — small helpers shared by the unit tests: a scratch folder per
 * program and whole-file reads and writes. static inline so a test that uses only
 * some of them still builds with -Werror. */
#ifndef RV_UNIT_UTIL_H
#define RV_UNIT_UTIL_H

#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A fresh folder under $TMPDIR (or /tmp) named after the test; NULL on failure.
 * Returns a static buffer: one scratch folder per program. */
static inline const char *unit_tmpdir(const char *name)
{
    static char dir[512];
    const char *base = getenv("TMPDIR");
    if ((size_t)snprintf(dir, sizeof dir, "%s/rv-%s.XXXXXX", base && *base ? base : "/tmp", name) >=
        sizeof dir)
        return NULL;
    return mkdtemp(dir);
}

static inline int unit_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* rm -r dir; NULL is fine. */
static inline void unit_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name into buf (cap bytes); aborts the program when it does not fit. */
static inline const char *unit_path(char *buf, size_t cap, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        abort();
    return buf;
}

/* Number of entries in dir other than . and .., -1 when it cannot be read. */
static inline int unit_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static inline bool unit_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static inline long long unit_file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static inline bool unit_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* The whole file, malloc'd (caller frees); NULL on failure. *n gets the size. */
static inline unsigned char *unit_read_file(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    long len;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1)) && fread(buf, 1, (size_t)len, f) == (size_t)len) {
        *n = (size_t)len;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* The first n bytes of src copied into dst. */
static inline bool unit_copy_prefix(const char *src, const char *dst, size_t n)
{
    size_t len;
    unsigned char *b = unit_read_file(src, &len);
    if (!b)
        return false;
    bool ok = unit_write_file(dst, b, n < len ? n : len);
    free(b);
    return ok;
}

/* The samples of a 16-bit PCM WAV file, found by walking its RIFF chunks. Returns a
 * pointer into buf and the count in *n, NULL when it is not such a file. */
static inline const int16_t *unit_wav_samples(const unsigned char *buf, size_t len, size_t *n)
{
    if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4))
        return NULL;
    size_t off = 12;
    while (off + 8 <= len) {
        uint32_t sz = (uint32_t)buf[off + 4] | (uint32_t)buf[off + 5] << 8 |
                      (uint32_t)buf[off + 6] << 16 | (uint32_t)buf[off + 7] << 24;
        if (memcmp(buf + off, "data", 4) == 0) {
            size_t avail = len - off - 8;
            *n = (sz < avail ? sz : avail) / 2;
            return (const int16_t *)(const void *)(buf + off + 8);
        }
        off += 8 + (size_t)sz + (sz & 1);
    }
    return NULL;
}

static inline double unit_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
