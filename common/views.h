/* views.h — JSON from the database, finished with signed links.
 *
 * Rows come out of PostgreSQL already as API.md's JSON (rv_job_json, rv_audio_json);
 * only the media links need our key, so they are added here. Each function parses
 * json (NULL → NULL), adds the link when storage_key is not NULL, and returns an
 * arena-owned object. */
#ifndef RV_VIEWS_H
#define RV_VIEWS_H

#include <json-c/json.h>

#include "req.h"

/* A job: sets result.url. */
json_object *views_job(rv_req *rq, const char *json, const char *storage_key);
/* An audio: sets url. */
json_object *views_audio(rv_req *rq, const char *json, const char *storage_key);
/* A voice: sets previewUrl. */
json_object *views_voice(rv_req *rq, const char *json, const char *storage_key);

#endif
