/* pexels.h — stock photos from Pexels for the sections of an explainer video.
 *
 * GET {RV_PEXELS_URL}/v1/search?query=Q&per_page=N&orientation=O with
 * `Authorization: RV_PEXELS_API_KEY` → {photos: [{url, photographer,
 * photographer_url, src: {original, large2x, large, medium, ...}}], ...}; then the
 * photo's src.large is downloaded (an outside URL: https and a public address only,
 * unless it is on RV_PEXELS_URL's own origin). The query is URL-escaped
 * (curl_easy_escape) into the query string and nothing else.
 *
 * Pexels limits requests per key and says so in X-Ratelimit-Remaining and
 * X-Ratelimit-Reset (a Unix time): a 429, or a remaining count of 0, is
 * PEXELS_LIMITED, and the caller asks no more until the reset (pexels_limit).
 * Pexels' licence asks for credit: the photographer, their page and the photo's
 * page go with each photo (pexels_photo). */
#ifndef RV_PEXELS_H
#define RV_PEXELS_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

typedef enum pexels_status {
    PEXELS_OK = 0,
    PEXELS_NONE,    /* no photo for the query */
    PEXELS_LIMITED, /* rate-limited (429 or no requests remaining) */
    PEXELS_FAILED,  /* no answer, an error status, a malformed answer or photo */
} pexels_status;

typedef struct pexels_photo {
    const char *image_url;        /* src.large (else src.medium, src.original) */
    const char *photographer;     /* credit */
    const char *photographer_url; /* their Pexels page */
    const char *page_url;         /* the photo's Pexels page */
    unsigned char *bytes;         /* the downloaded photo (pexels_fetch) */
    size_t len;
} pexels_photo;

/* What the last answer said of the rate limit; start with PEXELS_LIMIT_INIT. */
typedef struct pexels_limit {
    long remaining, reset; /* -1: not said */
} pexels_limit;
#define PEXELS_LIMIT_INIT                                                                          \
    {                                                                                              \
        -1, -1                                                                                     \
    }

/* Whether a key is configured (RV_PEXELS_API_KEY). */
bool pexels_available(void);

/* Pexels' orientation for a video aspect: "16:9" landscape, "9:16" portrait,
 * "1:1" square (anything else landscape). */
const char *pexels_orientation(const char *aspect);

/* The search URL under base for query (escaped), per_page photos of orientation.
 * NULL when the query cannot be escaped. */
char *pexels_search_url(arena *a, const char *base, const char *query, const char *orientation,
                        int per_page);

/* Photo number pick (modulo the photos found) of a search answer, without its
 * bytes: PEXELS_OK, PEXELS_NONE (no photos) or PEXELS_FAILED (malformed, or a photo
 * without an http(s) image URL or its credit). */
pexels_status pexels_pick(arena *a, const char *body, size_t pick, pexels_photo *out);

/* Whether lim allows a request now (now: a Unix time). */
bool pexels_may_ask(const pexels_limit *lim, long now);

/* Searches for query and downloads photo number pick of the answer (at most max_bytes
 * bytes) into out->bytes (in the arena). lim is read first (PEXELS_LIMITED without a
 * request while it forbids one) and updated from the answer. */
pexels_status pexels_fetch(arena *a, const char *query, const char *orientation, size_t pick,
                           size_t max_bytes, pexels_limit *lim, pexels_photo *out);

#endif
