"""Stored files that a commit may or may not have come to reference
(common/filereg.h, sql/functions/storage.sql): registered before they are
stored, claimed by the commit that references them, never deleted on the spot
after an unknown commit, and removed by the poller's sweeper once nothing refers to
them after a grace period, with the work files a killed process left."""
import os
import re
import time
import uuid

from audiokit import STORAGE, make_audio, upload
from conftest import assert_json
from jobkit import run_poller_once, sim, submit_tts, wait_for_job, wait_until

HOURS_AGO = "now() - interval '2 hours'"


def put(key, data=b"not really audio"):
    path = STORAGE / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def register_old(db, key):
    db.rows("SELECT rv_storage_pending(ARRAY[:'k']); "
            f"UPDATE storage_pending SET created_at = {HOURS_AGO} WHERE key = :'k'", k=key)


def pending(db, key):
    return db.rows("SELECT sweeping FROM storage_pending WHERE key = :'k'", k=key)


def test_sweeper_removes_only_what_no_row_took(api, db, register):
    u = register()
    tag = uuid.uuid4().hex[:8]
    # Stored and registered, never referenced: a poller killed between storing a
    # job's output and its commit.
    orphan = f"audios/{u.id}/sweep-orphan-{tag}.mp3"
    orphan_path = put(orphan)
    register_old(db, orphan)
    # An upload: registered, stored, and claimed by the commit of its row.
    r = upload(api, u.access, make_audio("mp3"), filename=f"kept-{tag}.mp3")
    audio = assert_json(r, 201)
    kept = db.scalar("SELECT storage_key FROM audios WHERE id = :'a'", a=audio["id"])
    assert not pending(db, kept)
    # Registered again (as a stray registration would be): the sweeper sees the row
    # that refers to the file and only forgets the registration.
    register_old(db, kept)
    # Work files: one a killed process left two hours ago, one being written now.
    tmp_dir = STORAGE / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    dead, live = tmp_dir / f"dead-{tag}.tmp", tmp_dir / f"live-{tag}.tmp"
    dead.write_bytes(b"half a file")
    live.write_bytes(b"a file being written")
    old = time.time() - 7200
    os.utime(dead, (old, old))

    run_poller_once()  # a poller sweeps when it starts (so may the stack's own)

    wait_until(lambda: not orphan_path.exists() and not pending(db, orphan), 30,
               what="the orphan to be swept")
    wait_until(lambda: not pending(db, kept), 30, what="the stray registration to go")
    assert (STORAGE / kept).exists()
    assert not dead.exists()
    assert live.exists()
    live.unlink()
    assert_json(api.get(f"/api/audios/{audio['id']}", token=u.access), 200)


def test_fresh_registrations_wait_for_the_grace_period(db, register):
    u = register()
    key = f"audios/{u.id}/sweep-fresh-{uuid.uuid4().hex[:8]}.mp3"
    path = put(key)
    db.rows("SELECT rv_storage_pending(ARRAY[:'k'])", k=key)
    run_poller_once()
    assert path.exists() and pending(db, key) == [("f",)]
    db.rows("DELETE FROM storage_pending WHERE key = :'k'", k=key)
    path.unlink()


def test_a_committed_file_is_kept_when_its_answer_was_lost(api, db, register):
    """What the poller asks after a commit whose answer it never got: the file of a
    job that did succeed stays."""
    u = register()
    job = submit_tts(api, u, text="Kept after a lost answer.")
    assert wait_for_job(api, u, job["id"], timeout=30)["status"] == "succeeded"
    key = db.scalar("SELECT storage_key FROM audios WHERE job_id = :'j'", j=job["id"])
    assert not pending(db, key)  # the commit claimed it
    assert db.scalar("SELECT rv_storage_release(:'k')", k=key) == "keep"
    assert (STORAGE / key).exists() or os.environ.get("RV_STORAGE") == "s3"


def test_a_file_being_swept_cannot_be_claimed(db, register):
    """A process that wakes up after the grace period cannot reference a file the
    sweeper is deleting, nor one that was never registered."""
    u = register()
    key = f"audios/{u.id}/sweep-late-{uuid.uuid4().hex[:8]}.mp3"
    db.rows("SELECT rv_storage_pending(ARRAY[:'k'])", k=key)
    assert db.scalar("SELECT rv_storage_release(:'k')", k=key) == "delete"
    assert pending(db, key) == [("t",)]
    assert "being swept" in db.fails("SELECT rv_storage_claim(:'k')", k=key)
    db.rows("SELECT rv_storage_done(ARRAY[:'k'])", k=key)
    assert not pending(db, key)
    assert "not registered" in db.fails("SELECT rv_storage_claim(:'k')", k=key)


def test_success_refuses_an_unregistered_file(api, db, register):
    u = register()
    job = submit_tts(api, u, text="Held at the provider. " + sim(delay_ms=60000))
    wait_for_job(api, u, job["id"], statuses=("running",), timeout=30)
    audio = ('{"filename":"x.mp3","contentType":"audio/mpeg","bytes":1,"durationMs":1,'
             '"sampleRate":8000,"channels":1,"storageKey":"audios/%s/never-registered.mp3"}'
             % u.id)
    err = db.fails("SELECT rv_job_succeed(:'j', :'a'::jsonb)", j=job["id"], a=audio)
    assert "not registered" in err
    assert api.request("DELETE", f"/api/jobs/{job['id']}", token=u.access).status_code == 200


# Columns named *_key that do not hold a stored file's key.
NOT_FILE_KEYS = {"idempotency_key", "request_key", "dedupe_key", "preset_key"}


def test_every_file_column_counts_as_a_reference(db):
    """rv_storage_referenced is what keeps a file whose commit answer was lost: a
    table that holds stored files and is missing from it would have its files
    deleted under its rows. Every *_key column of the schema is either a file key
    it checks or listed above as something else."""
    body = db.scalar("SELECT replace(pg_get_functiondef('rv_storage_referenced(text)'::regprocedure), "
                     "E'\\n', ' ')")
    cols = db.rows("SELECT table_name, column_name FROM information_schema.columns "
                   "WHERE table_schema = 'public' AND column_name LIKE '%\\_key' "
                   "AND data_type = 'text' "
                   "AND table_name NOT IN (SELECT table_name FROM information_schema.views)")
    missing = [(t, c) for t, c in cols if c not in NOT_FILE_KEYS
               and not re.search(rf"\b{t}\b[^)]*\b{c}\b", body)]
    assert missing == [], missing


def test_a_music_track_is_kept_when_its_answer_was_lost(db):
    key = db.scalar("SELECT storage_key FROM music_tracks ORDER BY created_at LIMIT 1")
    assert key, "scripts/up seeds music tracks"
    db.rows("SELECT rv_storage_pending(ARRAY[:'k'])", k=key)
    assert db.scalar("SELECT rv_storage_release(:'k')", k=key) == "keep"
    assert not pending(db, key)
