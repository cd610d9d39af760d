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

/* A link to add: member field of the object holder ("result"), or of the top level
 * (holder NULL). The JSON must end with that object (see above). */
typedef struct views_link {
    const char *holder, *field;
} views_link;

/* json with links[i] signed from keys[i], for i < n; a NULL key adds nothing. */
/* A job's links: result.url and result.posterUrl (a clip's). */
extern const views_link views_job_links[2];
/* A clip's links: url and posterUrl. */
extern const views_link views_clip_links[2];

const char *views_links(rv_req *rq, const char *json, const views_link *links,
                        const char *const *keys, size_t n);

/* Answers 200 {items: [...], pagination} from rows whose column json_col holds an
 * item's JSON (NULL rows are skipped) and key_col its storage key. */
rv_err views_list(rv_req *rq, const PGresult *r, int json_col, int key_col, views_fn view,
                  long page, long limit, long total);

/* views_list() for items with n links: their keys are in columns key_col ..
 * key_col + n - 1. */
rv_err views_list_links(rv_req *rq, const PGresult *r, int json_col, int key_col,
                        const views_link *links, size_t n, long page, long limit, long total);

/* A page of the caller's rows: reads ?page&limit (400 when bad), runs st with
 * ($1 user id, $2 limit, $3 offset) — rows of (total, item JSON, storage key) —
 * and answers as views_list. */
rv_err views_page(rv_req *rq, const db_stmt *st, views_fn view);

/* views_page() for items with n links (rows: total, JSON, then n keys). extra:
 * one more parameter ($4 after $1 user, $2 limit, $3 offset: a filter such as a
 * project id), NULL for none. */
rv_err views_page_links(rv_req *rq, const db_stmt *st, const char *extra, const views_link *links,
                        size_t n);

#endif
