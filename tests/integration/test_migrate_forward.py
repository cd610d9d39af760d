"""Migrating a populated database forward, not only a fresh one. A database of its
own (on the stack's cluster) is migrated from a copy of sql/ in a scratch folder
(RV_SQL_DIR), then given users, sessions, a pending referral, jobs (queued under an
Idempotency-Key, failed and refunded, cancelled and refunded) and their ledger rows,
through the SQL functions as the handlers and the poller call them. Then:

- scripts/migrate again (sql/functions/ re-applied, owner.sql): every row survives
  as it was, the ledger still adds up, the job's key still answers it, a refund
  already made is not made again, roles and ownership hold;
- a new numbered migration on top (a column, a table, a function in a new file of
  sql/functions/): applied once, the rows survive, what it made belongs to
  reelvox_owner;
- a function whose return type changes: CREATE OR REPLACE alone is refused and
  changes nothing; with a numbered migration that drops it first, it is made again
  with the grants its file gives;
- an applied migration edited afterwards, and a database made before the
  migrations were folded, are refused."""
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import _psql_binary, pg_host
from jobkit import ROOT

VOICE = "00000000-0000-4000-8000-000000000001"
TOK = "encode(sha256(gen_random_uuid()::text::bytea), 'hex')"


def psql(conninfo, sql):
    cmd = [_psql_binary(), conninfo, "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"]
    return subprocess.run(cmd + ["-f", "-"], input=sql, capture_output=True, text=True,
                          timeout=120)


def rows(conninfo, sql):
    p = psql(conninfo, sql)
    assert p.returncode == 0, p.stderr
    return [tuple(line.split("|")) for line in p.stdout.splitlines() if line]


class Db:
    def __init__(self, name, sql_dir):
        self.name = name
        self.sql_dir = sql_dir
        self.url = f"host={pg_host()} dbname={name} user=postgres"
        self.app = f"host={pg_host()} dbname={name} user=reelvox_app"
        self.poller = f"host={pg_host()} dbname={name} user=reelvox_poller"

    def migrate(self, ok=True):
        env = dict(os.environ, RV_MIGRATE_URL=self.url, RV_SQL_DIR=str(self.sql_dir))
        p = subprocess.run([os.path.join(ROOT, "scripts/migrate")], env=env,
                           capture_output=True, text=True, timeout=300)
        if ok:
            assert p.returncode == 0, p.stderr
        return p


@pytest.fixture
def mdb(tmp_path):
    """A database migrated from a scratch copy of sql/, dropped afterwards."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(os.path.join(ROOT, "sql"), sql_dir)
    name = "rv_migrate_" + uuid.uuid4().hex[:12]
    admin = f"host={pg_host()} dbname=postgres user=postgres"
    rows(admin, f'CREATE DATABASE "{name}"')
    try:
        d = Db(name, sql_dir)
        d.migrate()
        yield d
    finally:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ctx(uid):
    return (f"SELECT set_config('reelvox.user_id', '{uid}', true), "
            "set_config('reelvox.role', 'user', true);")


def populate(db):
    """Users (one referred), sessions, jobs and ledger rows, through the functions
    as their callers use them. Returns the ids."""
    out = {}
    for who, ref in (("ann", None), ("bob", "ann")):
        code = "(SELECT referral_code FROM users WHERE email = 'ann@old.test')" if ref else "NULL"
        r = rows(db.url, f"SELECT status, user_id FROM rv_register('{who}@old.test', "
                         f"'hash-{who}', '{who}', {code}, {TOK}, 3600)")
        assert r[0][0] == "ok", r
        out[who] = r[0][1]
    ann = out["ann"]

    def submit(text, idem="NULL"):
        r = rows(db.app, f"BEGIN; {ctx(ann)} SELECT status, job_id FROM rv_submit('tts', "
                         f"'{{\"text\": \"{text}\", \"voiceId\": \"{VOICE}\"}}', {idem}, "
                         f"'{{local}}', 'tok', '{VOICE}'); COMMIT;")
        status, job = r[-1]
        assert status == "created", r
        return job

    out["keyed"] = submit("kept under a key", "'old-key'")
    out["failed"] = submit("failed and refunded")
    assert rows(db.poller, f"SELECT rv_job_fail('{out['failed']}', '{{\"code\": \"x\"}}')"
                ) == [("failed",)]
    out["cancelled"] = submit("cancelled")
    r = rows(db.app, f"BEGIN; {ctx(ann)} SELECT status FROM rv_job_cancel(NULL, "
                     f"'{out['cancelled']}'); COMMIT;")
    assert r[-1] == ("ok",)
    rows(db.url, f"SELECT rv_credit_move('{out['bob']}', 7, 'grant', 'a gift')")
    return out


SNAPSHOT = {
    "users": "SELECT id, email, credits, referral_code, COALESCE(referred_by::text, '-') "
             "FROM users ORDER BY id",
    "ledger": "SELECT id, user_id, delta, kind, COALESCE(job_id::text, '-') FROM credit_ledger "
              "ORDER BY id",
    "jobs": "SELECT id, status, cost_credits, COALESCE(idempotency_key, '-'), input::text, "
            "request_hash FROM jobs ORDER BY id",
    "sessions": "SELECT encode(token_hash, 'hex'), user_id, family_id, session_expires_at, "
                "COALESCE(revoked_at::text, '-') FROM refresh_tokens ORDER BY 1",
    "credentials": "SELECT user_id, password_hash FROM user_credentials ORDER BY 1",
    "referrals": "SELECT referred_id, referrer_id, state FROM referrals ORDER BY 1",
    "config": "SELECT key, value::text FROM admin_config ORDER BY 1",
}


def snapshot(db):
    return {k: rows(db.url, q) for k, q in SNAPSHOT.items()}


def not_owned(db):
    """Objects of the schema that reelvox_owner does not own."""
    return rows(db.url, "SELECT p.oid::regprocedure::text FROM pg_proc p "
                        "WHERE p.pronamespace = 'public'::regnamespace "
                        "AND p.proowner <> 'reelvox_owner'::regrole UNION ALL "
                        "SELECT c.relname::text FROM pg_class c "
                        "WHERE c.relnamespace = 'public'::regnamespace "
                        "AND c.relkind IN ('r', 'S', 'v') AND c.relname <> 'schema_migrations' "
                        "AND c.relowner <> 'reelvox_owner'::regrole")


def check_invariants(db, ids):
    # The ledger adds up; each job charged once, refunded at most once.
    assert rows(db.url, "SELECT u.id FROM users u WHERE u.credits <> "
                        "(SELECT COALESCE(sum(delta), 0) FROM credit_ledger l "
                        "WHERE l.user_id = u.id)") == []
    assert rows(db.url, "SELECT job_id, kind FROM credit_ledger WHERE job_id IS NOT NULL "
                        "GROUP BY 1, 2 HAVING count(*) > 1") == []
    assert not_owned(db) == []
    # As the handlers' role: the key answers its job, another kind under it
    # conflicts, and the raw credit function is refused.
    ann = ids["ann"]
    r = rows(db.app, f"BEGIN; {ctx(ann)} SELECT status, job_id FROM rv_submit('tts', "
                     f"'{{\"text\": \"kept under a key\", \"voiceId\": \"{VOICE}\"}}', "
                     f"'old-key', '{{local}}', 'tok', '{VOICE}'); COMMIT;")
    assert r[-1] == ("repeated", ids["keyed"])
    r = rows(db.app, f"BEGIN; {ctx(ann)} SELECT status FROM rv_submit('sfx', "
                     "'{\"prompt\": \"bells\"}', 'old-key', '{replicate}', 'tok'); COMMIT;")
    assert r[-1] == ("idempotency_conflict",)
    p = psql(db.app, f"SELECT rv_credit_move('{ann}', 100, 'grant', 'x')")
    assert p.returncode != 0 and "permission denied" in p.stderr
    p = psql(db.app, f"SELECT rv_job_fail('{ids['keyed']}', '{{}}')")
    assert p.returncode != 0 and "permission denied" in p.stderr
    # As the poller's role: a refund already made is not made again.
    credits = rows(db.url, f"SELECT credits FROM users WHERE id = '{ann}'")
    rows(db.poller, f"SELECT rv_job_refund('{ids['failed']}'); "
                    f"SELECT rv_job_refund('{ids['cancelled']}')")
    assert rows(db.url, f"SELECT credits FROM users WHERE id = '{ann}'") == credits
    assert rows(db.url, "SELECT count(*) FROM credit_ledger WHERE kind = 'job_refund'"
                ) == [("2",)]


def test_a_populated_database_survives_migrate_again(mdb):
    db = mdb
    ids = populate(db)
    before = snapshot(db)
    assert len(before["jobs"]) == 3 and len(before["users"]) == 2
    assert before["referrals"] == [(ids["bob"], ids["ann"], "pending")]
    applied = rows(db.url, "SELECT version, checksum FROM schema_migrations ORDER BY 1")
    # Someone changed a function's grants by hand: the next run puts back what
    # its file says.
    rows(db.url, "GRANT EXECUTE ON FUNCTION rv_job_fail TO reelvox_app")

    p = db.migrate()
    assert "applied" not in p.stderr  # no numbered migration ran again
    assert rows(db.url, "SELECT version, checksum FROM schema_migrations ORDER BY 1") == applied
    assert snapshot(db) == before
    check_invariants(db, ids)


def test_a_new_migration_on_a_populated_database(mdb):
    db = mdb
    ids = populate(db)
    before = snapshot(db)
    (db.sql_dir / "900_later.sql").write_text(
        "-- A later migration: a column with a default, a table of its own.\n"
        "ALTER TABLE jobs ADD COLUMN note text NOT NULL DEFAULT 'none';\n"
        "CREATE TABLE rv_later (id bigserial PRIMARY KEY, job_id uuid REFERENCES jobs (id));\n"
        "INSERT INTO rv_later (job_id) SELECT id FROM jobs;\n")
    (db.sql_dir / "functions/later.sql").write_text(
        "CREATE OR REPLACE FUNCTION rv_later_notes() RETURNS bigint\n"
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$\n"
        "    SELECT count(*) FROM jobs j JOIN rv_later l ON l.job_id = j.id\n"
        "     WHERE j.note = 'none'\n"
        "$$;\n"
        "REVOKE ALL ON FUNCTION rv_later_notes FROM PUBLIC, reelvox_app, reelvox_poller;\n"
        "GRANT EXECUTE ON FUNCTION rv_later_notes TO reelvox_poller;\n")
    p = db.migrate()
    assert "applied 900_later" in p.stderr
    assert rows(db.poller, "SELECT rv_later_notes()") == [("3",)]
    p = psql(db.app, "SELECT rv_later_notes()")
    assert p.returncode != 0 and "permission denied" in p.stderr
    assert snapshot(db) == before
    check_invariants(db, ids)
    # Once only.
    p = db.migrate()
    assert "applied" not in p.stderr
    assert rows(db.url, "SELECT count(*) FROM rv_later") == [("3",)]


def test_a_return_type_change_needs_a_drop(mdb):
    db = mdb
    ids = populate(db)
    jobs = db.sql_dir / "functions/jobs.sql"
    old = jobs.read_text()
    head = "CREATE OR REPLACE FUNCTION rv_job_status(p_job uuid) RETURNS text\n"
    assert head in old
    jobs.write_text(old.replace(head, "CREATE OR REPLACE FUNCTION rv_job_status(p_job uuid) "
                                      "RETURNS varchar\n"))
    # Without a migration that drops it: refused, and nothing of the run is kept.
    p = db.migrate(ok=False)
    assert p.returncode != 0 and "cannot change return type" in p.stderr
    assert rows(db.url, "SELECT prorettype::regtype FROM pg_proc WHERE proname = "
                        "'rv_job_status'") == [("text",)]
    # The way sql/functions/README describes: a numbered migration drops it, the
    # file makes it again, with the grants the file gives.
    (db.sql_dir / "900_job_status.sql").write_text("DROP FUNCTION rv_job_status(uuid);\n")
    db.migrate()
    assert rows(db.url, "SELECT prorettype::regtype, proowner::regrole FROM pg_proc "
                        "WHERE proname = 'rv_job_status'") == [("character varying",
                                                                "reelvox_owner")]
    assert rows(db.poller, f"SELECT rv_job_status('{ids['failed']}')") == [("failed",)]
    p = psql(db.app, f"SELECT rv_job_status('{ids['failed']}')")
    assert p.returncode != 0 and "permission denied" in p.stderr


def test_an_applied_migration_is_not_edited(mdb):
    db = mdb
    f = db.sql_dir / "002_jobs.sql"
    f.write_text(f.read_text() + "\n-- an edit after the fact\n")
    p = db.migrate(ok=False)
    assert p.returncode != 0 and "002_jobs was changed after it was applied" in p.stderr


def test_a_database_from_before_the_fold_is_refused(mdb):
    db = mdb
    # What the migrations before the fold left in schema_migrations.
    rows(db.url, "INSERT INTO schema_migrations (version, checksum) "
                 "VALUES ('003_uploads', 'x')")
    p = db.migrate(ok=False)
    assert p.returncode != 0 and "003_uploads" in p.stderr and "folded" in p.stderr
