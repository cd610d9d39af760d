"""Least privilege in PostgreSQL, checked as the stack's own roles: psql with the
stack's RV_DATABASE_URL (the handlers' role, reelvox_app) and
RV_POLLER_DATABASE_URL (the poller's, reelvox_poller). The handlers cannot call
the poller's functions nor the raw credit, password and session functions; the
poller cannot sign anybody in; SECURITY DEFINER functions act for the
transaction's user (reelvox.user_id), whatever user id a caller passes; every
function belongs to a role that is not a superuser; nobody else may create in
the schema; a refund happens at most once by the ledger's unique index."""
import subprocess
import uuid

import pytest

from conftest import _psql_binary
from jobkit import VOICE, balance, no_rate_limit, stack_env, submit_tts, user_jobs, wait_until

ENV = stack_env()
APP_URL = ENV["RV_DATABASE_URL"]
POLLER_URL = ENV["RV_POLLER_DATABASE_URL"]
DENIED = "permission denied for function"
TOKEN = "encode(sha256(gen_random_uuid()::text::bytea), 'hex')"  # a fresh refresh-token hash


def as_role(url, sql, user=None, role="user"):
    """Runs sql in one transaction over url, as a handler does: the request's user
    and role set with set_config(..., true) first. Returns (ok, stdout, stderr)."""
    ctx = ""
    if user is not None:
        ctx = (f"\\o /dev/null\nSELECT set_config('reelvox.user_id', '{user}', true), "
               f"set_config('reelvox.role', '{role}', true);\n\\o\n")
    p = subprocess.run([_psql_binary(), url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-f", "-"], input="BEGIN;\n" + ctx + sql + ";\nCOMMIT;\n",
                       capture_output=True, text=True, timeout=60)
    return p.returncode == 0, p.stdout, p.stderr


def refused(url, sql, user=None):
    ok, out, err = as_role(url, sql, user)
    assert not ok, f"expected a refusal of {sql!r}, got {out!r}"
    return err


def test_roles_are_whom_the_stack_connects_as(db):
    ok, out, err = as_role(APP_URL, "SELECT current_user")
    assert ok, err
    assert out.strip() == "reelvox_app"
    ok, out, err = as_role(POLLER_URL, "SELECT current_user")
    assert ok, err
    assert out.strip() == "reelvox_poller"
    for r in ("reelvox_app", "reelvox_poller", "reelvox_owner"):
        assert db.scalar("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls "
                         "FROM pg_roles WHERE rolname = :'r'", r=r) == "f", r


POLLER_ONLY = [
    "SELECT rv_job_succeed(gen_random_uuid(), '{}'::jsonb)",
    "SELECT rv_job_fail(gen_random_uuid(), '{}'::jsonb)",
    "SELECT * FROM rv_jobs_claim('x', '{local}', 1, 1)",
    "SELECT rv_job_running(gen_random_uuid(), 'x', 'p', 0, 1)",
    "SELECT rv_job_retry(gen_random_uuid(), 'x', 1, '{}'::jsonb)",
    "SELECT rv_job_recheck(gen_random_uuid(), 'x', 1, '{}'::jsonb)",
    "SELECT * FROM rv_job_lease(gen_random_uuid(), 'x', 1)",
    "SELECT rv_job_release(gen_random_uuid(), 'x', 1)",
    "SELECT rv_job_started_local(gen_random_uuid(), 'x')",
    "SELECT rv_job_status(gen_random_uuid())",
    "SELECT * FROM rv_jobs_due_checks('x', 1, 1)",
    "SELECT * FROM rv_jobs_overdue('x', 1, 1)",
    "SELECT * FROM rv_jobs_to_cancel(1)",
    "SELECT * FROM rv_webhooks_pending(1, 'x')",
    "SELECT rv_webhooks_done('{}'::bigint[])",
    "SELECT rv_voice_clone_prepared(gen_random_uuid(), 'x', '{}'::jsonb)",
    "SELECT rv_voice_clone_succeed(gen_random_uuid(), '{}'::jsonb, 'p', 'v')",
    "SELECT rv_job_refund(gen_random_uuid())",
    "SELECT * FROM rv_provider_work_taken('replicate', '{}'::text[])",
]


@pytest.mark.parametrize("sql", POLLER_ONLY)
def test_handlers_cannot_call_the_pollers_functions(sql, register, api):
    u = register()
    assert DENIED in refused(APP_URL, sql, u.id)


def test_the_poller_can_call_its_functions():
    for sql in POLLER_ONLY:
        ok, _, err = as_role(POLLER_URL, sql)
        assert ok, (sql, err)


RAW_ACCOUNT = [
    "SELECT rv_credit_move(:'u'::uuid, 1000, 'grant', 'free money')",
    "SELECT rv_set_password(:'u'::uuid, 'x', NULL)",
    "SELECT * FROM rv_session_start(:'u'::uuid, repeat('ab', 32), 60)",
]


@pytest.mark.parametrize("sql", RAW_ACCOUNT)
def test_handlers_cannot_move_credits_or_passwords_or_start_sessions(sql, register, api, db):
    u = register()
    before = balance(db, u)
    assert DENIED in refused(APP_URL, sql.replace(":'u'", f"'{u.id}'"), u.id)
    assert balance(db, u) == before


@pytest.mark.parametrize("sql", RAW_ACCOUNT + [
    "SELECT * FROM rv_register('p@x.test', 'h', 'n', NULL, repeat('ab', 32), 60)",
    "SELECT * FROM rv_login_lookup('p@x.test')",
    "SELECT * FROM rv_login_session_start(:'u'::uuid, 'h', repeat('ab', 32), 60)",
])
def test_the_poller_cannot_sign_in_or_move_credits(sql, register, api):
    u = register()
    assert DENIED in refused(POLLER_URL, sql.replace(":'u'", f"'{u.id}'"))


def test_login_session_needs_the_checked_hash(register, api, db):
    """The handlers' wrapper of rv_session_start: no session for a user unless the
    hash given is the user's current one (the one the password was checked with)."""
    u = register()
    sessions = "SELECT count(*) FROM refresh_tokens WHERE user_id = :'u'"
    n = int(db.scalar(sessions, u=u.id))
    ok, out, err = as_role(APP_URL, f"SELECT count(*) FROM rv_login_session_start("
                           f"'{u.id}', 'not-the-hash', {TOKEN}, 60)")
    assert ok, err
    assert out.strip() == "0"
    assert int(db.scalar(sessions, u=u.id)) == n
    h = db.scalar("SELECT password_hash FROM user_credentials WHERE user_id = :'u'", u=u.id)
    ok, out, err = as_role(APP_URL, f"SELECT count(*) FROM rv_login_session_start("
                           f"'{u.id}', '{h}', {TOKEN}, 60)")
    assert ok, err
    assert out.strip() == "1"
    assert int(db.scalar(sessions, u=u.id)) == n + 1
    # The rehash replaces only the hash that was checked.
    ok, out, err = as_role(APP_URL, f"SELECT rv_login_rehash('{u.id}', 'stale', 'new')")
    assert ok and out.strip() == "f", err
    assert db.scalar("SELECT password_hash FROM user_credentials WHERE user_id = :'u'",
                     u=u.id) == h


def test_my_password_set_is_the_callers_own(register, api, db):
    a, b = register(), register()
    hb = db.scalar("SELECT password_hash FROM user_credentials WHERE user_id = :'u'", u=b.id)
    ok, _, err = as_role(APP_URL, "SELECT rv_my_password_set('changed', NULL)", a.id)
    assert ok, err
    assert db.scalar("SELECT password_hash FROM user_credentials WHERE user_id = :'u'",
                     u=a.id) == "changed"
    assert db.scalar("SELECT password_hash FROM user_credentials WHERE user_id = :'u'",
                     u=b.id) == hb
    assert "no user in the request context" in refused(
        APP_URL, "SELECT rv_my_password_set('x', NULL)")


def submit_sql(fn_call):
    return f"SELECT status, job_id FROM {fn_call}"


def test_submit_ignores_a_caller_chosen_user(register, api, db):
    """The old submit signatures carry p_user: it is ignored, the transaction's user
    submits and pays; another user's id neither charges nor files a job for them."""
    a, b = register(), register()
    ba, bb = balance(db, a), balance(db, b)
    calls = [
        f"rv_tts_submit('{b.id}', '{VOICE}', '{{\"text\": \"hi\", \"voiceId\": \"{VOICE}\"}}', "
        f"NULL, '{{local,replicate}}', 'tok')",
        f"rv_job_submit('{b.id}', 'sfx', '{{\"prompt\": \"bells\", \"durationSeconds\": 3}}', "
        f"NULL, '{{replicate}}', 'tok')",
    ]
    for call in calls:
        with no_rate_limit(db):
            ok, out, err = as_role(APP_URL, submit_sql(call), a.id)
        assert ok, err
        status, job = out.strip().split("|")
        assert status == "created", out
        assert db.scalar("SELECT user_id FROM jobs WHERE id = :'j'", j=job) == a.id
    assert user_jobs(db, b) == 0
    assert balance(db, b) == bb
    assert balance(db, a) < ba
    # Without a user in the transaction nothing is submitted.
    err = refused(APP_URL, submit_sql(calls[0]))
    assert "no user in the request context" in err


def test_cancel_and_delete_ignore_a_caller_chosen_user(register, api, db):
    a, b = register(), register()
    job = submit_tts(api, b)["id"]
    # a names b as the user: the job is still not a's to cancel.
    ok, out, err = as_role(APP_URL, f"SELECT status FROM rv_job_cancel('{b.id}', '{job}')", a.id)
    assert ok, err
    assert out.strip() == "not_found"
    assert db.scalar("SELECT status FROM jobs WHERE id = :'j'", j=job) != "cancelled"
    vid = str(uuid.uuid4())
    db.rows("INSERT INTO voices (id, user_id, name, status, is_cloned, completed_at) "
            "VALUES (:'v', :'u', 'b''s voice', 'active', true, now())", v=vid, u=b.id)
    ok, out, err = as_role(APP_URL, f"SELECT status FROM rv_voice_delete('{b.id}', '{vid}')",
                           a.id)
    assert ok, err
    assert out.strip() == "not_found"
    assert db.scalar("SELECT count(*) FROM voices WHERE id = :'v'", v=vid) == "1"


def test_functions_belong_to_a_role_that_is_not_a_superuser(db):
    rows = db.rows("SELECT p.oid::regprocedure, p.proowner::regrole FROM pg_proc p "
                   "WHERE p.pronamespace = 'public'::regnamespace "
                   "AND p.proowner <> 'reelvox_owner'::regrole")
    assert rows == []
    rows = db.rows("SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                   "AND c.relkind IN ('r', 'v', 'S') AND c.relname <> 'schema_migrations' "
                   "AND c.relowner <> 'reelvox_owner'::regrole")
    assert rows == []
    assert db.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = 'reelvox_owner'") == "f"
    # Every SECURITY DEFINER function pins its search_path.
    rows = db.rows("SELECT p.oid::regprocedure FROM pg_proc p "
                   "WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef "
                   "AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c "
                   "                WHERE c LIKE 'search_path=%')")
    assert rows == []


def test_nobody_else_creates_in_the_schema(db, register, api):
    for r in ("public", "reelvox_app", "reelvox_poller"):
        q = ("SELECT has_schema_privilege(:'r', 'public', 'CREATE')" if r != "public" else
             "SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a "
             "WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')")
        assert db.scalar(q, r=r) in ("f", "false"), r
    u = register()
    err = refused(APP_URL, "CREATE TABLE rv_intruder (x int)", u.id)
    assert "permission denied for schema public" in err
    err = refused(APP_URL, "CREATE FUNCTION rv_uid() RETURNS uuid LANGUAGE sql AS "
                  "$$ SELECT NULL::uuid $$", u.id)
    assert "permission denied" in err or "already exists" in err


def test_a_refund_is_at_most_once_by_the_ledger_index(register, api, db):
    u = register()
    before = balance(db, u)
    # A charged job no poller will take meanwhile (due in an hour): this test fails
    # it itself.
    job = db.scalar("INSERT INTO jobs (user_id, kind, input, provider, callback_token, "
                    "deadline_at, cost_credits, run_at) VALUES (:'u', 'tts', '{}', 'local', "
                    "'tok', now() + interval '2 hours', 3, now() + interval '1 hour') "
                    "RETURNING id", u=u.id)
    db.rows("SELECT rv_credit_move(:'u', -3, 'job_charge', 'tts job', :'j')", u=u.id, j=job)
    ok, _, err = as_role(POLLER_URL, f"SELECT rv_job_fail('{job}', '{{\"code\": \"x\"}}')")
    assert ok, err
    # Called again — and with the job's row lock not held — it moves nothing.
    for _ in range(2):
        ok, _, err = as_role(POLLER_URL, f"SELECT rv_job_refund('{job}')")
        assert ok, err
    assert db.scalar("SELECT count(*) FROM credit_ledger WHERE job_id = :'j' "
                     "AND kind = 'job_refund'", j=job) == "1"
    assert balance(db, u) == before
    # The guarantee is the index, not the function: a second refund row is refused.
    err = db.fails("INSERT INTO credit_ledger (user_id, delta, kind, reason, job_id) "
                   "VALUES (:'u', 1, 'job_refund', 'again', :'j')", u=u.id, j=job)
    assert "credit_ledger_job_once" in err
    assert balance(db, u) == before


@pytest.mark.parametrize("sql", [
    "DELETE FROM audios WHERE false",
    "DELETE FROM voices WHERE false",
    "UPDATE users SET credits = credits + 1 WHERE false",
    "INSERT INTO credit_ledger (user_id, delta, kind, reason) VALUES (gen_random_uuid(), 1, 'grant', 'x')",
    "UPDATE jobs SET status = 'succeeded' WHERE false",
])
def test_handlers_write_tables_only_through_functions(sql, register, api):
    u = register()
    assert "permission denied for table" in refused(APP_URL, sql, u.id)


def test_the_poller_reads_no_table(register, api):
    for t in ("users", "jobs", "credit_ledger", "user_credentials", "refresh_tokens", "audios"):
        assert "permission denied for table" in refused(POLLER_URL, f"SELECT 1 FROM {t} LIMIT 1")


def test_concurrent_refunds_refund_once_without_an_error(register, api, db):
    """Two refunds of one job at once, neither holding the job's lock: the second
    waits on the first's ledger row (the unique index), then finds the refund made
    and moves nothing — no error, no second refund. (A NOT EXISTS check would have
    let both through to the index, and the second would fail.)"""
    u = register()
    before = balance(db, u)
    tag = uuid.uuid4().hex[:8]
    job = db.scalar("INSERT INTO jobs (user_id, kind, input, provider, callback_token, "
                    "deadline_at, cost_credits, status, completed_at) VALUES (:'u', 'tts', "
                    "'{}', 'local', 'tok', now(), 3, 'failed', now()) RETURNING id", u=u.id)
    db.rows("SELECT rv_credit_move(:'u', -3, 'job_charge', 'tts job', :'j')", u=u.id, j=job)

    def session(name):
        return subprocess.Popen(
            [_psql_binary(), f"{POLLER_URL} application_name=rv_refund_{name}_{tag}", "-X", "-q",
             "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def state(name):
        r = db.rows("SELECT state, COALESCE(wait_event_type, '-') FROM pg_stat_activity "
                    "WHERE application_name = :'a'", a=f"rv_refund_{name}_{tag}")
        return r[0] if r else None

    a = session("a")
    a.stdin.write(f"BEGIN;\nSELECT rv_job_refund('{job}');\n")
    a.stdin.flush()
    wait_until(lambda: state("a") == ("idle in transaction", "Client"), what="a's refund")
    b = session("b")
    b.stdin.write(f"SELECT rv_job_refund('{job}');\n")
    b.stdin.close()
    wait_until(lambda: (state("b") or ("", ""))[1] == "Lock", what="b waiting on a's row")
    a.stdin.write("COMMIT;\n")
    a.stdin.close()
    for p in (a, b):
        p.wait(timeout=30)
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        assert p.returncode == 0, err
    assert db.scalar("SELECT count(*) FROM credit_ledger WHERE job_id = :'j' "
                     "AND kind = 'job_refund'", j=job) == "1"
    assert balance(db, u) == before
