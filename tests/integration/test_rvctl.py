"""scripts/rvctl: the sysadmin's commands against the test stack's database."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import unique_email

REPO = Path(__file__).resolve().parents[2]


def rvctl(*args, ok=True):
    env = dict(os.environ)
    env["RV_MIGRATE_URL"] = f"host={os.path.realpath(os.path.join(os.environ['RV_DATA_DIR'], 'pg'))} dbname=reelvox user=postgres"
    p = subprocess.run([str(REPO / "scripts/rvctl"), *args], capture_output=True, text=True,
                       env=env, timeout=60)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def test_config_get_set(db):
    before = rvctl("config", "get", "referral_bonus").stdout.strip()
    try:
        rvctl("config", "set", "referral_bonus", "35")
        assert rvctl("config", "get", "referral_bonus").stdout.strip() == "35"
        assert db.config_int("referral_bonus") == 35
        bad = rvctl("config", "set", "referral_bonus", "{not json", ok=False)
        assert bad.returncode != 0
        assert db.config_int("referral_bonus") == 35
    finally:
        rvctl("config", "set", "referral_bonus", before)


def test_user_grant_and_role(register, db, api):
    u = register()
    out = rvctl("user", "grant", u.email, "250", "support gesture").stdout
    assert "balance 350" in out
    assert db.credits(u.id) == 350
    assert (250, "grant", "support gesture") in db.ledger(u.id)
    # A grant that would make the balance negative changes nothing.
    assert rvctl("user", "grant", u.email, "-10000", ok=False).returncode != 0
    assert db.credits(u.id) == 350
    rvctl("user", "role", u.email.upper(), "admin")
    assert db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id) == "admin"
    assert rvctl("user", "role", u.email, "emperor", ok=False).returncode != 0


def test_jobs_and_queue():
    out = rvctl("queue").stdout
    assert "webhook inbox backlog" in out
    assert rvctl("jobs", "ls").returncode == 0
    p = rvctl("jobs", "retry", "00000000-0000-4000-8000-00000000dead", ok=False)
    assert p.returncode != 0 and "no such job" in p.stderr


def test_usage():
    p = rvctl("frobnicate", ok=False)
    assert p.returncode == 64 and "rvctl config get" in p.stderr


def test_admin_create_new_account(api, db):
    import re
    email = unique_email("admin")
    out = rvctl("admin", "create", email, "First Admin").stdout
    assert "admin created" in out
    token = re.search(r"/reset\?token=([0-9a-f]{64})", out).group(1)
    assert db.scalar("SELECT role || ' ' || email_verified || ' ' || credits FROM users "
                     "WHERE lower(email) = lower(:'e')", e=email) == "admin true 0"
    # no password works until the link is used
    r = api.post("/api/auth/login", {"email": email, "password": "anything at all"})
    assert r.status_code == 401
    assert api.post("/api/auth/reset", {"token": token, "newPassword": "admin password 1"}).status_code == 200
    r = api.post("/api/auth/login", {"email": email, "password": "admin password 1"})
    assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
    assert db.scalar("SELECT count(*) FROM audit_log WHERE action = 'admin.create' "
                     "AND new_value ->> 'email' = :'e'", e=email) == "1"


def test_admin_create_promotes_existing(register, db):
    u = register()
    out = rvctl("admin", "create", u.email).stdout
    assert "admin promoted" in out and u.id in out
    assert db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id) == "admin"
    assert rvctl("admin", "create", ok=False).returncode != 0


def test_user_role_is_audited(register, db):
    u = register()
    rvctl("user", "role", u.email, "expert")
    assert db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id) == "expert"
    assert db.scalar("SELECT old_value ->> 'role' || '>' || (new_value ->> 'role') FROM audit_log "
                     "WHERE action = 'user.update' AND target = :'u'", u=u.id) == "user>expert"
    assert rvctl("user", "role", u.email, "root", ok=False).returncode != 0
    assert db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id) == "expert"
