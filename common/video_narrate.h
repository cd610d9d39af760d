/* video_narrate.h — a narration spoken by a voice that lives at a provider (a
 * cloned voice at Replicate): each section a speech prediction with the model and
 * inputs a tts job of that voice uses (providers/provider.h,
 * prov_replicate_build_plain), all sections at once, waited on by the poller's
 * child itself (no webhook: the job's own provider id stays "local"); the outputs
 * downloaded under the download rules, decoded with libav and joined into one
 * track, each section's span from its decoded samples.
 *
 * Replicate's speech models give no word timestamps: each section's words are
 * spread over its real span by their lengths (wordsEstimated).
 *
 * Crash-safe by keeping the partial state in the job's row: once every section's
 * prediction is created, their ids are kept there (rv_narration_parts_keep), so
 * the attempt after a killed poller (or a transient failure) looks them up and
 * waits for them instead of asking again; only a section whose prediction is gone,
 * failed or cancelled is asked for anew. The job is charged once, whatever the
 * attempts. */
#ifndef RV_VIDEO_NARRATE_H
#define RV_VIDEO_NARRATE_H

#include "providers/local_tts.h"
#include "req.h"

typedef enum {
    NARRATE_OK,
    NARRATE_FAILED,    /* for good: code and message say why (a section's failure) */
    NARRATE_TRANSIENT, /* worth another attempt later (throttled, 5xx, no answer) */
} narrate_status;

typedef struct narrate_request {
    const char *job_id, *user_id;
    const char *poller_id; /* the poller holding the job (its lease) */
    const char *voice_id;  /* the provider's id of the voice */
    const char *model;     /* the tts model; NULL: the adapter's default */
    double speed;          /* 0.5..2 */
    long created_s;        /* the job's creation (signed links stay the same) */
} narrate_request;

/* The rate of the joined track (mp3, mono). */
enum { NARRATE_RATE = 32000 };

/* Spreads s->text's blank-separated words over [s->start_ms, s->end_ms], each by
 * its length in characters (UTF-8 continuation bytes not counted): s->words (in
 * arena a; offsets and lengths in bytes of s->text) and s->n_words. Consecutive
 * words touch; the first starts at start_ms, the last ends at end_ms. A text of
 * only blanks gives no words. */
void video_narrate_spread(arena *a, local_tts_segment *s);

/* Speaks segs[0..n-1].text in r's voice at Replicate into one mp3 at out_path
 * (appears only when complete), filling each segment's start_ms/end_ms and its
 * words (rq's arena) and *res. On NARRATE_FAILED and NARRATE_TRANSIENT, *code and
 * *message (arena or static) say what happened; nothing is left at out_path. */
narrate_status video_narrate_replicate(rv_req *rq, const narrate_request *r,
                                       local_tts_segment *segs, size_t n, const char *out_path,
                                       local_tts_result *res, const char **code,
                                       const char **message);

#endif
