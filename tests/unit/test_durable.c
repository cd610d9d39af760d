/* test_durable.c — a stored file is on disk before its name, and its name before
 * anyone is told: fsync(file) < rename < fsync(folder), in local storage and in the
 * media writer. A test cannot pull the plug, so this program interposes fsync() and
 * rename() (defined here, they win over libc's for the whole program), records the
 * order of the calls with the paths they touched, and can make one fail. */
#include "unit.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "durable.h"
#include "media.h"
#include "storage.h"
#include "unit_util.h"

/* ---- the interposed calls ---------------------------------------------------------- */

enum { MAX_EVENTS = 64 };

typedef struct event {
    char op[8]; /* "fsync" or "rename" */
    char path[PATH_MAX];
    char to[PATH_MAX]; /* rename only */
    bool dir;          /* fsync of a folder */
} event;

static event events[MAX_EVENTS];
static int n_events;
static bool recording;
static const char *fail_fsync_of; /* a path: fsync of it fails with EIO */

static void record(const char *op, const char *path, const char *to, bool dir)
{
    if (!recording || n_events == MAX_EVENTS)
        return;
    event *e = &events[n_events++];
    snprintf(e->op, sizeof e->op, "%s", op);
    snprintf(e->path, sizeof e->path, "%s", path);
    snprintf(e->to, sizeof e->to, "%s", to ? to : "");
    e->dir = dir;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "fsync");
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    struct stat sb;
    record("fsync", path, NULL, fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode));
    if (recording && fail_fsync_of && !strcmp(path, fail_fsync_of)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "rename");
    record("rename", from, to, false);
    return real(from, to);
}

/* ---- reading the record -------------------------------------------------------------- */

static const char *root;

static int find(const char *op, const char *path, bool dir)
{
    for (int i = 0; i < n_events; i++)
        if (!strcmp(events[i].op, op) && !strcmp(events[i].path, path) && events[i].dir == dir)
            return i;
    return -1;
}

static int find_rename_to(const char *to)
{
    for (int i = 0; i < n_events; i++)
        if (!strcmp(events[i].op, "rename") && !strcmp(events[i].to, to))
            return i;
    return -1;
}

static void dump(void)
{
    for (int i = 0; i < n_events; i++)
        print_message("  %d %s%s %s %s\n", i, events[i].op, events[i].dir ? "(dir)" : "",
                      events[i].path, events[i].to);
}

static char *parent_of(arena *a, const char *path)
{
    return arena_strndup(a, path, (size_t)(strrchr(path, '/') - path));
}

/* The file that became final was fsynced (under its temporary name) before the
 * rename, and its folder after. Returns the rename's index. */
static int assert_durable(arena *a, const char *final)
{
    int r = find_rename_to(final);
    if (r < 0)
        dump();
    assert_true(r >= 0);
    int f = find("fsync", events[r].path, false);
    int d = -1;
    for (int i = r + 1; i < n_events && d < 0; i++)
        if (!strcmp(events[i].op, "fsync") && events[i].dir &&
            !strcmp(events[i].path, parent_of(a, final)))
            d = i;
    if (!(f >= 0 && f < r && d > r))
        dump();
    assert_true(f >= 0 && f < r);
    assert_true(d > r);
    return r;
}

static int setup(void **state)
{
    char why[256];
    root = unit_tmpdir("durable");
    assert_non_null(root);
    *state = arena_new();
    assert_true(store_init((const unsigned char *)"k", 1, root, "http://h:1", why, sizeof why));
    n_events = 0;
    fail_fsync_of = NULL;
    recording = true;
    return 0;
}

static int teardown(void **state)
{
    recording = false;
    arena_free(*state);
    unit_rmtree(root);
    return 0;
}

/* ---- the tests ----------------------------------------------------------------------- */

static void test_commit_order(void **state)
{
    arena *a = *state;
    char *key = store_new_key(a, "audios", "u1", "hello", "mp3"), *tmp;
    assert_int_equal(store_temp_path(a, key, &tmp), RV_OK);
    /* The folders store_temp_path made are durable in their parents. */
    char *shard = parent_of(a, store_path(a, key));
    assert_true(find("fsync", parent_of(a, shard), true) >= 0);
    assert_true(unit_write_file(tmp, "ID3 data", 8));
    int before = n_events;
    assert_int_equal(store_commit(a, tmp, key), RV_OK);
    assert_true(n_events > before);
    int r = assert_durable(a, store_path(a, key));
    assert_string_equal(events[r].path, tmp);
    assert_true(unit_exists(store_path(a, key)));
}

static void test_put_file_order(void **state)
{
    arena *a = *state;
    const char *src = arena_printf(a, "%s/upload", root);
    assert_true(unit_write_file(src, "RIFF", 4));
    char *key = store_new_key(a, "audios", "u1", NULL, "wav");
    assert_int_equal(store_put_file(a, src, key), RV_OK);
    assert_durable(a, store_path(a, key));
    assert_false(unit_exists(src));
}

/* A failed fsync of the file: nothing is stored, the temporary file is gone, no
 * rename happened. */
static void test_fsync_fault(void **state)
{
    arena *a = *state;
    char *key = store_new_key(a, "audios", "u1", NULL, "mp3"), *tmp;
    assert_int_equal(store_temp_path(a, key, &tmp), RV_OK);
    assert_true(unit_write_file(tmp, "ID3", 3));
    fail_fsync_of = tmp;
    n_events = 0;
    assert_int_equal(store_commit(a, tmp, key), RV_E_INTERNAL);
    assert_int_equal(find_rename_to(store_path(a, key)), -1);
    assert_false(unit_exists(store_path(a, key)));
    assert_false(unit_exists(tmp));
}

/* A failed fsync of the folder after the rename is a failure too (the caller must
 * not commit a row). */
static void test_dir_fsync_fault(void **state)
{
    arena *a = *state;
    char *key = store_new_key(a, "audios", "u1", NULL, "mp3"), *tmp;
    assert_int_equal(store_temp_path(a, key, &tmp), RV_OK);
    assert_true(unit_write_file(tmp, "ID3", 3));
    fail_fsync_of = parent_of(a, store_path(a, key));
    assert_int_equal(store_commit(a, tmp, key), RV_E_INTERNAL);
}

static void test_media_writer_order(void **state)
{
    arena *a = *state;
    char why[128] = "";
    const char *path = arena_printf(a, "%s/out.wav", root);
    media_writer *w;
    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 16000, 16000, why, sizeof why), RV_OK);
    int16_t pcm[1600] = {0};
    for (size_t i = 0; i < N_ELEMS(pcm); i++)
        pcm[i] = (int16_t)((i % 40) * 500);
    assert_int_equal(media_writer_write(w, pcm, N_ELEMS(pcm), why, sizeof why), RV_OK);
    assert_int_equal(media_writer_finish(w, NULL, why, sizeof why), RV_OK);
    int r = assert_durable(a, path);
    assert_non_null(strstr(events[r].path, ".part"));
}

static void test_media_writer_fault(void **state)
{
    arena *a = *state;
    char why[128] = "";
    const char *path = arena_printf(a, "%s/out.wav", root);
    media_writer *w;
    assert_int_equal(media_writer_open(&w, path, MEDIA_WAV, 16000, 16000, why, sizeof why), RV_OK);
    int16_t pcm[1600] = {0};
    assert_int_equal(media_writer_write(w, pcm, N_ELEMS(pcm), why, sizeof why), RV_OK);
    /* The writer's temporary name is not known in advance; fail the folder's fsync,
     * which comes after the rename: finish must report it all the same. */
    fail_fsync_of = root;
    assert_int_equal(media_writer_finish(w, NULL, why, sizeof why), RV_E_INTERNAL);
    assert_int_equal(unit_count_files(root), 1); /* no .part left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_file_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_fsync_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_writer_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_writer_fault, setup, teardown),
    };
    return cmocka_run_group_tests_name("durable", tests, NULL, NULL);
}
