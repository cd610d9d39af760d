/* views.h — JSON from the database, finished with signed links.
 *
 * Rows come out of PostgreSQL already as API.md's JSON (rv_job_json, rv_audio_json,
 * rv_voice_json); only media links need our key, so they are added here — as text,
 * without parsing: the SQL functions put the member that receives the link last
 * (`result` of a job, the top level of an audio or voice), so the link goes just
 * before the closing brace(s). Text of any other shape is parsed and rebuilt with
 * json-c instead (slower, same answer). Strings returned are arena-owned; json
 * NULL gives NULL. */
#ifndef RV_VIEWS_H
#define RV_VIEWS_H

#include <libpq-fe.h>

#include "db.h"
#include "req.h"

/* A job: result.url. */
const char *views_job(rv_req *rq, const char *json, const char *storage_key);
/* An audio: url. */
const char *views_audio(rv_req *rq, const char *json, const char *storage_key);
/* A voice: previewUrl. */
const char *views_voice(rv_req *rq, const char *json, const char *storage_key);

typedef const char *(*views_fn)(rv_req *rq, const char *json, const char *storage_key);

/* Answers 200 {items: [...], pagination} from rows whose column json_col holds an
 * item's JSON (NULL rows are skipped) and key_col its storage key. */
rv_err views_list(rv_req *rq, const PGresult *r, int json_col, int key_col, views_fn view,
                  long page, long limit, long total);

/* A page of the caller's rows: reads ?page&limit (400 when bad), runs st with
 * ($1 user id, $2 limit, $3 offset) — rows of (total, item JSON, storage key) —
 * and answers as views_list. */
rv_err views_page(rv_req *rq, const db_stmt *st, views_fn view);

#endif
