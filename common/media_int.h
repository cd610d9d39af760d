/* media_int.h — what the media_*.c files share and nobody else uses.
 *
 * media.c: libav's log and opening an input the one safe way (media_open_input);
 * media_probe.c: media_probe(); media_writer.c: the output formats and
 * media_writer; media_normalize.c: media_normalize(). */
#ifndef RV_MEDIA_INT_H
#define RV_MEDIA_INT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <libavformat/avformat.h>

#include "media.h"

/* Writes a short reason into why (may be NULL) in functions that take why, why_len. */
#define WHY(...) ((void)(why && why_len ? snprintf(why, why_len, __VA_ARGS__) : 0))

/* Wall time one input may take to probe or decode. */
enum { MEDIA_WALL_S = 30 };

/* Sets *deadline MEDIA_WALL_S seconds from now (CLOCK_MONOTONIC). */
void media_deadline(struct timespec *deadline);

/* Whether the monotonic clock has reached deadline. */
bool media_past(const struct timespec *deadline);

/* Opens path for reading the way every input we did not make is opened: through the
 * `file:` protocol only, as one of MEDIA_PROBE_FORMATS only (no playlist or concat
 * list can reach another file or URL), probing bounded (probesize 2 MB,
 * analyzeduration 5 s, 16 streams), and any blocking read interrupted once deadline
 * (borrowed: it must outlive *out) has passed. Stream info is not read yet.
 * *out: owned by the caller (avformat_close_input), NULL on failure.
 * Errors: RV_E_UNPROCESSABLE when path is NULL, empty, too long or cannot be opened
 * as one of those formats; RV_E_INTERNAL when out of memory. */
rv_err media_open_input(const char *path, const struct timespec *deadline, AVFormatContext **out);

#endif
