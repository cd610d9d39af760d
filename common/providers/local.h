/* local.h — the local provider: speech and video on this machine, no key, no network.
 *
 * The poller runs local_run() in a child process per job (a slow synthesis never
 * delays dispatch; a crash costs one child). The child opens its own database
 * connection, marks the job running, synthesises with libespeak-ng, encodes with
 * libav (local_tts.h) — or renders a video with the render engine (local_video.h) —,
 * stores the file and records success or failure itself. */
#ifndef RV_LOCAL_H
#define RV_LOCAL_H

#include <json-c/json.h>

enum {
    LOCAL_OK = 0,        /* the job succeeded */
    LOCAL_FAILED = 1,    /* the job failed for good; already recorded and refunded */
    LOCAL_TRANSIENT = 2, /* nothing recorded; the poller retries the job */
};

typedef struct local_job {
    const char *id, *user_id;
    json_object *input; /* the job's input, as stored */
    const char *poller_id;
    const char *kind; /* tts, video_clip, video_compile, video_render (local_video.h);
                       * script, narration, images (video_work.h); estimate
                       * (estimate.h); NULL: tts */
    int attempts;     /* of the job, this one included */
} local_job;

/* Runs the job to its end; returns LOCAL_*. Meant for a freshly forked child. An
 * estimate job (its provider local or openai) goes to estimate_run (estimate.h). */
int local_run(const local_job *job);

#endif
