/* video_work.h — the steps of a narrated video, run by the poller in a child
 * process like any local job (providers/local.h): script (a language model,
 * providers/openai.h), narration (speech per section, one track, timings), images
 * (a picture per section) and video_render (the render engine).
 *
 * Each step reads its video through rv_video_for_job, does its work, and records
 * the outcome in one transaction: rv_explainer_step_succeed writes the video's rows,
 * succeeds the job and starts a chain's next step; a failure goes through
 * rv_job_fail (refund; a chain stops and releases its hold). The language model's
 * answer is held to the same limits as a user's edit (videos_sections_check). */
#ifndef RV_VIDEO_WORK_H
#define RV_VIDEO_WORK_H

#include <json-c/json.h>
#include <stdbool.h>

#include "providers/local.h"
#include "req.h"

/* Whether kind is one video_work_run() runs: script, narration, images (a render
 * is local_video.h's, on the render engine). */
bool video_work_kind(const char *kind);

/* Runs job, a video step, to its end; returns LOCAL_*. */
int video_work_run(rv_req *rq, const local_job *job);

/* The JSON Schema (strict mode) a script is asked for. */
extern const char video_work_script_schema[];

/* The user prompt for a script of video v (rv_video_json's shape): title, topic,
 * language, style and the length (targetSeconds, about 150 spoken words a
 * minute, a section per 10..20 s). Arena-owned. */
char *video_work_script_prompt(arena *a, json_object *v);

/* openai_check of a script answer: {sections} within the limits (videos.h);
 * *user (a json_object **) gets the cleaned sections. */
const char *video_work_script_check(arena *a, json_object *answer, void *user);

#endif
