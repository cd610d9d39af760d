#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* Upper bounds of the latency buckets, in seconds; one more bucket is +Inf. */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,     10};
enum {
    N_BOUNDS = sizeof bounds / sizeof bounds[0],
    N_BUCKETS = N_BOUNDS + 1,
    N_STATUSES = 600, /* an HTTP status indexes itself; 0 = no answer */
    NAME_MAX_LEN = 48,
    N_OPEN = 16, /* series one process counts into: an endpoint, or the poller's */
};
/* The layout's version is in the file name too (".v1"): a file of another layout
 * is never mapped as this one. */
static const uint64_t MAGIC = 0x52564d4554523031ull; /* "RVMETR01" */

/* One series as it lies in its file. Only atomic adds touch it after creation. */
typedef struct series {
    _Atomic uint64_t magic;
    _Atomic uint64_t status[N_STATUSES];
    _Atomic uint64_t bucket[N_BUCKETS]; /* not cumulative: rendering adds up */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
} series;

/* The families of files, in the order they are rendered. */
typedef enum { FAM_HTTP, FAM_PROVIDER, FAM_POLLER, N_FAMILIES } family;
static const char *const fam_file[N_FAMILIES] = {"http", "provider", "poller"};

static struct {
    family fam;
    char name[NAME_MAX_LEN + 1];
    series *s;
} opened[N_OPEN];
static int n_opened;
static bool warned;

static bool name_ok(const char *s)
{
    size_t n = s ? strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") : 0;
    return n >= 1 && n <= NAME_MAX_LEN && s[n] == '\0';
}

static const char *dir_path(void)
{
    static char path[4096];
    if (config && config->metrics_dir)
        return config->metrics_dir;
    snprintf(path, sizeof path, "%s/metrics", config && config->data_dir ? config->data_dir : ".");
    return path;
}

static series *map_file(const char *path, bool create)
{
    int fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0640);
    if (fd < 0)
        return NULL;
    struct stat st;
    /* Two processes may create the file at once: extending to the same size twice
     * is harmless, and the new bytes are zeros. */
    bool ok = fstat(fd, &st) == 0 && (st.st_size >= (off_t)sizeof(series) ||
                                      (create && ftruncate(fd, (off_t)sizeof(series)) == 0));
    void *p = ok ? mmap(NULL, sizeof(series), create ? PROT_READ | PROT_WRITE : PROT_READ,
                        MAP_SHARED, fd, 0)
                 : MAP_FAILED;
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    series *s = p;
    if (create) {
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&s->magic, &zero, MAGIC);
    }
    if (atomic_load(&s->magic) != MAGIC) {
        munmap(p, sizeof(series));
        return NULL;
    }
    return s;
}

/* The series of fam/name, mapped on first use in this process. NULL when it
 * cannot be (logged once). */
static series *series_of(family fam, const char *name)
{
    for (int i = 0; i < n_opened; i++)
        if (opened[i].fam == fam && !strcmp(opened[i].name, name))
            return opened[i].s;
    if (!name_ok(name) || n_opened == N_OPEN)
        return NULL;
    const char *dir = dir_path();
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s.v1", dir, fam_file[fam], name);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        if (!warned)
            log_msg(LOG_WARN, "metrics: cannot make %s: %s; not counting", dir, strerror(errno));
        warned = true;
        return NULL;
    }
    series *s = map_file(path, true);
    if (!s) {
        if (!warned)
            log_msg(LOG_WARN, "metrics: cannot map %s: %s; not counting", path, strerror(errno));
        warned = true;
        return NULL;
    }
    opened[n_opened].fam = fam;
    snprintf(opened[n_opened].name, sizeof opened[n_opened].name, "%s", name);
    opened[n_opened].s = s;
    n_opened++;
    return s;
}

static void count(family fam, const char *name, long status, double seconds)
{
    series *s = series_of(fam, name);
    if (!s)
        return;
    if (status < 0 || status >= N_STATUSES)
        status = 0;
    if (!(seconds >= 0)) /* NaN too */
        seconds = 0;
    int b = 0;
    while (b < N_BOUNDS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->status[status], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void metrics_request_done(const char *endpoint, int status, double seconds)
{
    count(FAM_HTTP, endpoint, status, seconds);
}

void metrics_provider_call(const char *provider, long status, double seconds)
{
    count(FAM_PROVIDER, provider, status, seconds);
}

void metrics_poller_pass(double seconds)
{
    count(FAM_POLLER, "pass", 0, seconds);
}

void metrics_reset(void)
{
    for (int i = 0; i < n_opened; i++)
        munmap(opened[i].s, sizeof(series));
    n_opened = 0;
    warned = false;
}

/* ------------------------------------------------------------------ rendering */

typedef struct found {
    family fam;
    char name[NAME_MAX_LEN + 1];
    const series *s;
} found;

static int by_name(const void *x, const void *y)
{
    const found *a = x, *b = y;
    return a->fam != b->fam ? (int)a->fam - (int)b->fam : strcmp(a->name, b->name);
}

/* Maps every series file of the directory; *n of them. Unmapped by the caller. */
static found *scan(size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir_path());
    if (!d)
        return NULL;
    size_t cap = 0;
    found *all = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        char fam[16], name[NAME_MAX_LEN + 1];
        const char *dot = strchr(e->d_name, '.');
        size_t len = strlen(e->d_name);
        if (!dot || (size_t)(dot - e->d_name) >= sizeof fam || len < 4 ||
            strcmp(e->d_name + len - 3, ".v1"))
            continue;
        snprintf(fam, sizeof fam, "%.*s", (int)(dot - e->d_name), e->d_name);
        size_t nlen = (size_t)(e->d_name + len - 3 - (dot + 1));
        if (nlen > NAME_MAX_LEN)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)nlen, dot + 1);
        int f = 0;
        while (f < N_FAMILIES && strcmp(fam_file[f], fam))
            f++;
        if (f == N_FAMILIES || !name_ok(name))
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir_path(), e->d_name);
        const series *s = map_file(path, false);
        if (!s)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            found *grown = realloc(all, cap * sizeof *all);
            if (!grown)
                abort(); /* out of memory ends the process (STYLE.md) */
            all = grown;
        }
        all[*n] = (found){.fam = (family)f, .s = s};
        snprintf(all[*n].name, sizeof all[*n].name, "%s", name);
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(all, *n, sizeof *all, by_name);
    return all;
}

void metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(FILE *out, const char *name, const char *const *labels, double value)
{
    fputs(name, out);
    if (labels && labels[0]) {
        fputc('{', out);
        for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
            fprintf(out, "%s%s=\"", i ? "," : "", labels[i]);
            for (const char *c = labels[i + 1]; *c; c++) {
                if (*c == '\\' || *c == '"')
                    fputc('\\', out), fputc(*c, out);
                else if (*c == '\n')
                    fputs("\\n", out);
                else
                    fputc(*c, out);
            }
            fputc('"', out);
        }
        fputc('}', out);
    }
    fprintf(out, " %.15g\n", value);
}

static double load(const _Atomic uint64_t *v)
{
    return (double)atomic_load_explicit(v, memory_order_relaxed);
}

/* The histogram samples of one series; label: its label name (NULL: none). */
static void histogram(FILE *out, const char *metric, const char *label, const found *f)
{
    char name[128], le[32];
    double cum = 0;
    for (int b = 0; b < N_BUCKETS; b++) {
        cum += load(&f->s->bucket[b]);
        if (b < N_BOUNDS)
            snprintf(le, sizeof le, "%g", bounds[b]);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(name, sizeof name, "%s_bucket", metric);
        const char *with[] = {label, f->name, "le", le, NULL};
        const char *without[] = {"le", le, NULL};
        metrics_sample(out, name, label ? with : without, cum);
    }
    const char *lab[] = {label, f->name, NULL};
    snprintf(name, sizeof name, "%s_sum", metric);
    metrics_sample(out, name, label ? lab : NULL, load(&f->s->sum_us) / 1e6);
    snprintf(name, sizeof name, "%s_count", metric);
    metrics_sample(out, name, label ? lab : NULL, load(&f->s->count));
}

static void by_status(FILE *out, const char *metric, const char *label, const found *f)
{
    char st[16];
    for (int code = 0; code < N_STATUSES; code++) {
        double v = load(&f->s->status[code]);
        if (v == 0)
            continue;
        snprintf(st, sizeof st, "%d", code);
        const char *lab[] = {label, f->name, "status", st, NULL};
        metrics_sample(out, metric, lab, v);
    }
}

void metrics_render(FILE *out)
{
    size_t n;
    found *all = scan(&n);

    metrics_family(out, "reelvox_http_requests_total", "counter",
                   "Requests answered, by endpoint and status.");
    for (size_t i = 0; i < n; i++)
        if (all[i].fam == FAM_HTTP)
            by_status(out, "reelvox_http_requests_total", "endpoint", &all[i]);
    metrics_family(out, "reelvox_http_request_duration_seconds", "histogram",
                   "Time from the request's arrival at the handler to its answer.");
    for (size_t i = 0; i < n; i++)
        if (all[i].fam == FAM_HTTP)
            histogram(out, "reelvox_http_request_duration_seconds", "endpoint", &all[i]);

    metrics_family(out, "reelvox_provider_calls_total", "counter",
                   "Calls to providers by HTTP status (0: no answer).");
    for (size_t i = 0; i < n; i++)
        if (all[i].fam == FAM_PROVIDER)
            by_status(out, "reelvox_provider_calls_total", "provider", &all[i]);
    metrics_family(out, "reelvox_provider_call_errors_total", "counter",
                   "Calls to providers with no answer or a 4xx/5xx one.");
    for (size_t i = 0; i < n; i++)
        if (all[i].fam == FAM_PROVIDER) {
            double errs = load(&all[i].s->status[0]);
            for (int code = 400; code < N_STATUSES; code++)
                errs += load(&all[i].s->status[code]);
            const char *lab[] = {"provider", all[i].name, NULL};
            metrics_sample(out, "reelvox_provider_call_errors_total", lab, errs);
        }
    metrics_family(out, "reelvox_provider_call_duration_seconds", "histogram",
                   "Duration of calls to providers.");
    for (size_t i = 0; i < n; i++)
        if (all[i].fam == FAM_PROVIDER)
            histogram(out, "reelvox_provider_call_duration_seconds", "provider", &all[i]);

    metrics_family(out, "reelvox_poller_pass_duration_seconds", "histogram",
                   "Duration of the poller's passes over due work.");
    for (size_t i = 0; i < n; i++)
        if (all[i].fam == FAM_POLLER)
            histogram(out, "reelvox_poller_pass_duration_seconds", NULL, &all[i]);

    for (size_t i = 0; i < n; i++)
        munmap((void *)all[i].s, sizeof(series));
    free(all);
}
