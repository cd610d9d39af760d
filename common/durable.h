/* durable.h — making a file survive a power loss before anyone is told it exists.
 *
 * A stored file is durable once: its bytes are on disk (fsync of the file), its
 * name points at them (rename), and that name is on disk (fsync of the folder).
 * Only then may a row that names the file be committed. Every place that makes a
 * file for keeps (local storage, the media writer) goes through these calls, in
 * that order; a unit test (tests/unit/test_durable.c) records the syscalls.
 *
 * All paths borrowed. Errors: RV_E_INTERNAL, with the reason logged (errno text,
 * never file contents). */
#ifndef RV_DURABLE_H
#define RV_DURABLE_H

#include "err.h"

/* fsync()s the file at path (opened read-only: fsync flushes the inode's pages
 * whichever descriptor wrote them). */
rv_err durable_sync_file(const char *path);

/* fsync()s the folder that holds path (the part before its last '/'; "." when
 * there is none), so that a name made or changed in it is on disk. */
rv_err durable_sync_parent(const char *path);

/* Moves the finished file tmp to path for good: fsync(tmp), rename(tmp, path),
 * fsync(path's folder). On failure path is untouched or (when only the last fsync
 * failed) holds the complete file, and tmp is left for the caller to remove. */
rv_err durable_rename(const char *tmp, const char *path);

/* mkdir -p of the folders above path (not path itself); each folder it creates is
 * made durable in its parent, so a file renamed into it cannot lose its way. path
 * is modified during the call and restored. */
rv_err durable_mkdirs(char *path);

#endif
