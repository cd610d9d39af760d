"""GET /readyz: 200 only when the database answers, every migration the build
knows is applied and a poller ended a pass recently; else 503 naming what is not.
/healthz stays liveness (the database only)."""
import os
import subprocess
from pathlib import Path

from conftest import assert_json, assert_problem
from jobkit import BIN_DIR, poller_stopped, wait_until

DATA = Path(os.environ["RV_DATA_DIR"])


def stack_env(**extra):
    env = dict(os.environ)
    for line in (DATA / "reelvox.env").read_text().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    env.setdefault("RV_DATABASE_URL",
                   f"host={os.path.realpath(DATA / 'pg')} dbname=reelvox user=reelvox_app")
    env.update(extra)
    return env


def cgi_readyz(**env):
    """bin/readyz run once as CGI (the serve loop's CGI mode) with env changed."""
    p = subprocess.run([os.path.join(BIN_DIR, "readyz")],
                       env=stack_env(REQUEST_METHOD="GET", DOCUMENT_URI="/readyz", **env),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    head, _, body = p.stdout.decode().partition("\r\n\r\n")
    return int(head.split()[1]), head, body


def ready(api):
    return api.get("/readyz").status_code == 200


def test_ready_when_all_is_well(api):
    wait_until(lambda: ready(api), timeout=30, what="/readyz to answer 200")
    body = assert_json(api.get("/readyz"), 200)
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "poller": "ok"}
    assert 0 <= body["pollerAgeSeconds"] < 120


def test_database_unreachable(tmp_path):
    status, head, body = cgi_readyz(
        RV_DATABASE_URL=f"host={tmp_path} dbname=reelvox user=reelvox_app connect_timeout=2")
    assert status == 503, head + body
    assert "application/problem+json" in head
    assert '"database":"unreachable"' in body and "unavailable" in body


def test_migration_pending(api, db):
    wait_until(lambda: ready(api), timeout=30, what="/readyz to answer 200")
    db.rows("UPDATE schema_migrations SET version = '010_ops_hidden' WHERE version = '010_ops'")
    try:
        r = api.get("/readyz")
        body = assert_problem(r, 503, "unavailable")
        assert body["checks"]["migrations"] == "pending: 010_ops", body
        assert body["checks"]["database"] == "ok"
        assert "010_ops" in body["detail"]
    finally:
        db.rows("UPDATE schema_migrations SET version = '010_ops' "
                "WHERE version = '010_ops_hidden'")
    assert ready(api)


def test_no_recent_poller(api, db):
    with poller_stopped():
        saved = db.rows("SELECT host, last_pass_at, pass_ms FROM poller_heartbeats")
        db.rows("UPDATE poller_heartbeats SET last_pass_at = now() - interval '1 hour'")
        try:
            body = assert_problem(api.get("/readyz"), 503, "unavailable")
            assert body["checks"]["poller"].startswith("last pass "), body
            assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
            db.rows("DELETE FROM poller_heartbeats")
            body = assert_problem(api.get("/readyz"), 503, "unavailable")
            assert body["checks"]["poller"] == "no poller has run", body
            # The age limit is RV_READY_POLLER_AGE: a generous one accepts an old pass.
            db.rows("INSERT INTO poller_heartbeats (host, last_pass_at) "
                    "VALUES ('readyz-test', now() - interval '10 minutes')")
            status, _, _ = cgi_readyz(RV_READY_POLLER_AGE="900")
            assert status == 200
            status, _, body = cgi_readyz(RV_READY_POLLER_AGE="60")
            assert status == 503 and "last pass" in body
        finally:
            db.rows("DELETE FROM poller_heartbeats WHERE host = 'readyz-test'")
            for host, at, ms in saved:
                db.rows("INSERT INTO poller_heartbeats VALUES (:'h', :'a', :'m') "
                        "ON CONFLICT (host) DO NOTHING", h=host, a=at, m=ms)
    # A poller started again makes it ready again.
    wait_until(lambda: ready(api), timeout=30, what="/readyz to answer 200 again")


def test_healthz_is_liveness_only(api):
    with poller_stopped():
        assert api.get("/healthz").status_code == 200
