/* filereg.h — stored files that a commit may or may not have come to reference.
 *
 * The rule: a file that a commit may have referenced is never deleted on the spot.
 * Before a file is stored, filereg_register() records its key
 * (sql/002_jobs.sql, sql/functions/storage.sql); the commit that references it takes the record
 * away in the same transaction. After a commit that failed, answered "no", or whose
 * answer was lost, filereg_drop() asks the database and deletes the file only when
 * nothing refers to it; if the database cannot answer, the file stays and the
 * poller's sweeper (filereg_sweep) settles it after a grace period. */
#ifndef RV_FILEREG_H
#define RV_FILEREG_H

#include <stddef.h>

#include "req.h"

/* Records keys[0..n) as about to be stored. RV_E_UNAVAILABLE or RV_E_INTERNAL when
 * the database did not take them: then do not store the files. */
rv_err filereg_register(rv_req *rq, const char *const *keys, size_t n);

/* After a commit that may not have referenced key: deletes the stored file when the
 * database says nothing refers to it; otherwise (referenced, or no answer) leaves it. */
void filereg_drop(rv_req *rq, const char *key);

/* The sweeper: deletes the stored files of registrations older than grace_s that
 * nothing refers to (at most limit of them), and work files (store_temp_path) older
 * than grace_s that a killed process left. Returns how many files went. */
int filereg_sweep(rv_req *rq, long grace_s, int limit);

#endif
