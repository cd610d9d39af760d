/* metrics.h — counters every process of this host shares, for GET /metrics.
 *
 * Each series (an endpoint's requests, a provider's calls, the poller's passes)
 * lives in one small file under RV_METRICS_DIR (default $RV_DATA_DIR/metrics),
 * mapped shared by every process that counts into it: the workers of an endpoint,
 * every poller run. Counts are lock-free atomic adds, so recording costs a few
 * nanoseconds and no system call after the first; the files outlive the processes,
 * so a restarted worker does not reset a counter. The metrics handler maps every
 * file read-only and renders the Prometheus text exposition format.
 *
 * Recording never fails the caller: a directory that cannot be written is logged
 * once and the counts are dropped. Names are [a-z0-9_]{1,48}; another name is
 * dropped too (it would become a file name and a label). */
#ifndef RV_METRICS_H
#define RV_METRICS_H

#include <stdio.h>

/* The serve loop, once a request is answered: its endpoint's name, the status
 * sent and how long it took. */
void metrics_request_done(const char *endpoint, int status, double seconds);

/* A call to a provider finished: its HTTP status (0: no answer) and duration. */
void metrics_provider_call(const char *provider, long status, double seconds);

/* One pass of the poller (a sweep) took this long. */
void metrics_poller_pass(double seconds);

/* Writes the text exposition of every series in the directory to out. Families
 * come in a fixed order, each with its HELP and TYPE lines, summed over the
 * files (one per endpoint, provider, poller). */
void metrics_render(FILE *out);

/* Writes "# HELP name help" and "# TYPE name type" (counter, gauge, ...). */
void metrics_family(FILE *out, const char *name, const char *type, const char *help);

/* Writes one sample line "name{labels} value"; labels is NULL or alternate name,
 * value strings ending with NULL, the values escaped here (backslash, quote,
 * newline). For the metrics handler's database figures. */
void metrics_sample(FILE *out, const char *name, const char *const *labels, double value);

/* Forgets the mapped files (tests that change RV_METRICS_DIR between cases). */
void metrics_reset(void);

#endif
