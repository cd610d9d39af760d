/* music_seed.h — the music a fresh install plays: three ambient pieces synthesised
 * on this machine at set-up time (`poller --seed-music`, run by scripts/up after
 * the migrations), so a compilation with music works offline.
 *
 * Each piece is made here in C — slow chords of sine partials with their own
 * swells and a soft filtered-noise wind, faded in and out — and encoded to mp3 by
 * libav (media_writer, media.h); then stored (registered first, filereg.h) and
 * recorded through rv_music_seed, which files it as source 'generated' under its
 * title, each title once. Titles say what they are: "Generated ambient ...". */
#ifndef RV_MUSIC_SEED_H
#define RV_MUSIC_SEED_H

#include <stdint.h>

#include "req.h"

enum { MUSIC_SEED_RATE = 44100 };

/* Writes piece number `which` (0..2; others wrap) of `seconds` (1..600) as a mono
 * mp3 at path. duration_ms may be NULL. Errors as media_writer's. */
rv_err music_seed_render(int which, int seconds, const char *path, int64_t *duration_ms, char *why,
                         size_t why_len);

/* Makes and records every seeded track the database does not have yet; returns
 * how many it added, or -1 when something failed (logged; the next run tries
 * again). rq: a request with an arena (the poller's). */
int music_seed_all(rv_req *rq);

#endif
