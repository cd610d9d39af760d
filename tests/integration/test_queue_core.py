"""The queue core by itself (tests/tools/queuebench): no-op jobs claimed and
completed with the poller's own statements, the completions of a batch in one
statement and one commit (rv_jobs_succeed: each in a subtransaction, so one that
fails leaves the others done); and db_run_batch (common/db.c), one statement for
many parameter sets in one pipelined round trip, each run on its own."""
import os
import subprocess
import uuid

from conftest import pg_host

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def queuebench(*args):
    variant = "asan" if "asan" in os.environ.get("RV_BIN_DIR", "") else "release"
    tool = os.path.join(ROOT, "build", variant, "tests", "tools", "queuebench")
    conninfo = f"host={pg_host()} dbname=reelvox user=reelvox_poller"
    return subprocess.run([tool, conninfo, *args], capture_output=True, text=True, timeout=120)


def queue_noop(db, user_id, n, provider):
    """n queued no-op jobs of a provider name no other test (or run) uses."""
    db.run("INSERT INTO jobs (user_id, kind, input, provider, callback_token, deadline_at,"
           " cost_credits) SELECT :'u', 'tts', '{}', :'p', md5(random()::text),"
           " now() + interval '1 hour', 0 FROM generate_series(1, :n)", u=user_id, n=n,
           p=provider)


def provider_name():
    return "noop_" + uuid.uuid4().hex[:12]


def test_batch_completes_each_run_on_its_own(db, register):
    user = register()
    uid = user.id
    prov = provider_name()
    queue_noop(db, uid, 12, prov)
    p = queuebench("50", prov, "--bad")
    assert p.returncode == 0, p.stderr
    batch, done = p.stdout.splitlines()
    # db_run_batch: 12 answers in one round trip; the extra run (not a uuid) failed alone.
    assert batch.split() == ["batch", "succeeded", "12", "failed", "1", "status", "some_failed"]
    # 12 completed in one statement; the extra item (not a uuid) failed alone.
    assert done.split() == ["ok", "12", "failed", "1", "status", "some_failed"], p.stdout
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u' AND status = 'succeeded'"
                     " AND locked_by IS NULL", u=uid) == "12"
    assert db.scalar("SELECT count(*) FROM audios WHERE user_id = :'u'", u=uid) == "12"
    assert db.scalar("SELECT count(*) FROM storage_pending WHERE key LIKE 'audios/queuebench/%'"
                     " AND key IN (SELECT storage_key FROM audios WHERE user_id = :'u')",
                     u=uid) == "0"


def test_drains_the_queue(db, register):
    user = register()
    uid = user.id
    prov = provider_name()
    queue_noop(db, uid, 230, prov)
    p = queuebench("50", prov)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[0]) == 230
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u' AND status <> 'succeeded'",
                     u=uid) == "0"
