"""Migrating a populated database forward, not only a fresh one: a database of its
own (on the stack's cluster) gets migrations 001..004 as a deployment from before
them had them, then users, sessions, jobs (queued, failed and refunded, cancelled,
one under an Idempotency-Key) and their ledger rows, made through the SQL functions
of that time; then scripts/migrate applies the rest. Every row survives as it was,
the ledger still adds up, the old job's key still answers it, a refund already made
is not made again, and the new roles and ownership hold there too."""
import hashlib
import os
import subprocess
import uuid

import pytest

from conftest import _psql_binary, pg_host
from jobkit import ROOT

SQL_DIR = os.path.join(ROOT, "sql")
BEFORE = ["001_accounts", "002_jobs", "003_uploads", "004_voices"]
VOICE = "00000000-0000-4000-8000-000000000001"
TOK = "encode(sha256(gen_random_uuid()::text::bytea), 'hex')"


def psql(conninfo, sql, **params):
    cmd = [_psql_binary(), conninfo, "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"]
    for k, v in params.items():
        cmd += ["-v", f"{k}={v}"]
    p = subprocess.run(cmd + ["-f", "-"], input=sql, capture_output=True, text=True, timeout=120)
    return p


def rows(conninfo, sql, **params):
    p = psql(conninfo, sql, **params)
    assert p.returncode == 0, p.stderr
    return [tuple(line.split("|")) for line in p.stdout.splitlines() if line]


@pytest.fixture
def old_db():
    """A database at migration 004, dropped afterwards. Yields its name."""
    name = "rv_migrate_" + uuid.uuid4().hex[:12]
    admin = f"host={pg_host()} dbname=postgres user=postgres"
    rows(admin, f'CREATE DATABASE "{name}"')
    url = f"host={pg_host()} dbname={name} user=postgres"
    try:
        # What scripts/migrate of that time did: each file in one transaction,
        # recorded with its checksum.
        rows(url, "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
                  "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for v in BEFORE:
            path = os.path.join(SQL_DIR, v + ".sql")
            with open(path, "rb") as f:
                body = f.read()
            p = subprocess.run([_psql_binary(), url, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                "--single-transaction", "-f", "-"],
                               input=body + b"\n;\nINSERT INTO schema_migrations VALUES ('"
                               + v.encode() + b"', '" + hashlib.sha256(body).hexdigest().encode()
                               + b"');\n", capture_output=True, timeout=120)
            assert p.returncode == 0, p.stderr.decode()
        yield name
    finally:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate(url):
    """Users, sessions, jobs and ledger rows through the functions of 001..004 (as
    the handlers of that time called them). Returns the ids."""
    out = {}
    for who, ref in (("ann", None), ("bob", "ann")):
        code = f"(SELECT referral_code FROM users WHERE email = 'ann@old.test')" if ref else "NULL"
        (uid,) = rows(url, f"SELECT user_id FROM rv_register('{who}@old.test', 'hash-{who}', "
                           f"'{who}', {code}, {TOK}, 3600)")[0]
        out[who] = uid
    ann = out["ann"]
    ctx = (f"SELECT set_config('reelvox.user_id', '{ann}', true), "
           f"set_config('reelvox.role', 'user', true);")

    def submit(text, idem="NULL"):
        r = rows(url, f"BEGIN; {ctx} SELECT status, job_id FROM rv_tts_submit('{ann}', "
                      f"'{VOICE}', '{{\"text\": \"{text}\", \"voiceId\": \"{VOICE}\"}}', "
                      f"{idem}, '{{local}}', 'tok'); COMMIT;")
        status, job = r[-1]
        assert status == "created", r
        return job

    out["keyed"] = submit("kept under a key", "'old-key'")
    out["failed"] = submit("failed and refunded")
    rows(url, f"SELECT rv_job_fail('{out['failed']}', '{{\"code\": \"x\"}}')")
    out["cancelled"] = submit("cancelled")
    rows(url, f"BEGIN; {ctx} SELECT status FROM rv_job_cancel('{ann}', '{out['cancelled']}'); "
              "COMMIT;")
    rows(url, f"SELECT rv_credit_move('{out['bob']}', 7, 'grant', 'a gift')")
    return out


SNAPSHOT = {
    "users": "SELECT id, email, credits, referral_code, COALESCE(referred_by::text, '-') "
             "FROM users ORDER BY id",
    "ledger": "SELECT id, user_id, delta, kind, COALESCE(job_id::text, '-') FROM credit_ledger "
              "ORDER BY id",
    "jobs": "SELECT id, status, cost_credits, COALESCE(idempotency_key, '-'), input::text "
            "FROM jobs ORDER BY id",
    "sessions": "SELECT encode(token_hash, 'hex'), user_id, family_id, "
                "COALESCE(revoked_at::text, '-') FROM refresh_tokens ORDER BY 1",
    "credentials": "SELECT user_id, password_hash FROM user_credentials ORDER BY 1",
}


def test_a_populated_database_migrates_forward(old_db):
    url = f"host={pg_host()} dbname={old_db} user=postgres"
    ids = populate(url)
    before = {k: rows(url, q) for k, q in SNAPSHOT.items()}
    assert len(before["jobs"]) == 3 and len(before["users"]) == 2

    env = dict(os.environ, RV_MIGRATE_URL=url)
    p = subprocess.run([os.path.join(ROOT, "scripts/migrate")], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    applied = [v for (v,) in rows(url, "SELECT version FROM schema_migrations ORDER BY 1")]
    assert applied[:4] == BEFORE and "008_roles_submit" in applied

    after = {k: rows(url, q) for k, q in SNAPSHOT.items()}
    assert after == before
    # The ledger still adds up; each job charged once, refunded at most once.
    assert rows(url, "SELECT u.id FROM users u WHERE u.credits <> "
                     "(SELECT COALESCE(sum(delta), 0) FROM credit_ledger l WHERE l.user_id = u.id)"
                ) == []
    assert rows(url, "SELECT job_id, kind FROM credit_ledger WHERE job_id IS NOT NULL "
                     "GROUP BY 1, 2 HAVING count(*) > 1") == []
    assert rows(url, "SELECT count(*) FROM jobs WHERE request_hash IS NOT NULL") == [("0",)]

    # Owned by reelvox_owner like a fresh database.
    assert rows(url, "SELECT p.oid::regprocedure FROM pg_proc p "
                     "WHERE p.pronamespace = 'public'::regnamespace "
                     "AND p.proowner <> 'reelvox_owner'::regrole") == []

    # What a later migration makes as the superuser goes to reelvox_owner at the
    # next run of scripts/migrate.
    rows(url, "CREATE TABLE rv_later (id bigserial PRIMARY KEY); "
              "CREATE FUNCTION rv_later_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    p = subprocess.run([os.path.join(ROOT, "scripts/migrate")], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert rows(url, "SELECT relowner::regrole FROM pg_class WHERE relname IN "
                     "('rv_later', 'rv_later_id_seq') UNION ALL SELECT proowner::regrole "
                     "FROM pg_proc WHERE proname = 'rv_later_fn'") == [("reelvox_owner",)] * 3

    # As the handlers' role: the old job's key answers the old job (it has no
    # request hash: any body of the same kind is the same request), another kind
    # under it conflicts, and the raw credit function is refused.
    app = f"host={pg_host()} dbname={old_db} user=reelvox_app"
    ctx = (f"SELECT set_config('reelvox.user_id', '{ids['ann']}', true), "
           "set_config('reelvox.role', 'user', true);")
    r = rows(app, f"BEGIN; {ctx} SELECT status, job_id FROM rv_submit('tts', "
                  f"'{{\"text\": \"whatever\", \"voiceId\": \"{VOICE}\"}}', 'old-key', "
                  f"'{{local}}', 'tok', '{VOICE}'); COMMIT;")
    assert r[-1] == ("repeated", ids["keyed"])
    r = rows(app, f"BEGIN; {ctx} SELECT status FROM rv_submit('sfx', "
                  "'{\"prompt\": \"bells\"}', 'old-key', '{replicate}', 'tok'); COMMIT;")
    assert r[-1] == ("idempotency_conflict",)
    p = psql(app, f"SELECT rv_credit_move('{ids['ann']}', 100, 'grant', 'x')")
    assert p.returncode != 0 and "permission denied" in p.stderr

    # As the poller's role: a refund already made is not made again.
    poller = f"host={pg_host()} dbname={old_db} user=reelvox_poller"
    credits = rows(url, f"SELECT credits FROM users WHERE id = '{ids['ann']}'")
    rows(poller, f"SELECT rv_job_refund('{ids['failed']}'); "
                 f"SELECT rv_job_refund('{ids['cancelled']}')")
    assert rows(url, f"SELECT credits FROM users WHERE id = '{ids['ann']}'") == credits
    assert rows(url, "SELECT count(*) FROM credit_ledger WHERE kind = 'job_refund'") == [("2",)]
