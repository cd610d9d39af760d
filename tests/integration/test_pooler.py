"""Reelvox behind Debian's PgBouncer (1.18) in transaction mode (RV_DB_POOLER).

A stack of its own (RV_PORT+28, data in RV_DATA_DIR-pooler, a cluster of its own,
only the endpoints these tests use) whose handlers and poller reach PostgreSQL
through PgBouncer on RV_PORT+27, pool_mode = transaction, two server connections
per role for some twenty handler workers: every request's transaction may run on
another server connection than the last. The poller LISTENs over a direct
connection (RV_LISTEN_DATABASE_URL). Under concurrent load two users each see only
their own jobs and account (the row level security context never leaks from one
pooled connection's user to another), the poller completes every job through the
pooler, and each job is charged once. Skipped when pgbouncer is not installed
(scripts/setup installs it)."""
import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from conftest import DATA_DIR, Api, Db, assert_json, assert_problem, do_register, pg_bindir
from jobkit import (assert_settled, config_patch, get_job, submit_tts, wait_jobs_db)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_PORT = urllib.parse.urlsplit(os.environ["RV_TEST_URL"]).port
BOUNCER_PORT = BASE_PORT + 27
STACK_PORT = BASE_PORT + 28
POOL_SIZE = 2  # server connections per role; the stack has about 20 handler workers
WORKERS = 3
ENDPOINTS = ("healthz", "auth_register", "auth_login", "me", "jobs", "job", "tts")
PGBOUNCER = shutil.which("pgbouncer", path=os.environ.get("PATH", "") + ":/usr/sbin")

pytestmark = pytest.mark.skipif(
    PGBOUNCER is None, reason="pgbouncer is not installed (scripts/setup installs it)")


def cluster_dir(data):
    """Where scripts/up puts the stack's cluster (scripts/env.sh's rule): in the
    data folder, or under /var/tmp when the postgres user cannot reach it (root)."""
    if os.geteuid() == 0 and subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-x", data]).returncode != 0:
        return "/var/tmp/reelvox-pg/" + hashlib.sha1(data.encode()).hexdigest()[:12]
    return os.path.join(data, "pg")


def stack_env(data, sock):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RV_") and not k.startswith("PG")}
    bouncer = f"host=127.0.0.1 port={BOUNCER_PORT} dbname=reelvox"
    env.update(
        RV_PORT=str(STACK_PORT), RV_DATA_DIR=data, RV_BIN_DIR=os.path.join(data, "bin"),
        RV_NO_SETUP="1", RV_NO_BUILD="1", RV_PG_FAST="1", RV_WORKERS=str(WORKERS),
        RV_DB_POOLER="transaction",
        RV_DATABASE_URL=f"{bouncer} user=reelvox_app",
        RV_POLLER_DATABASE_URL=f"{bouncer} user=reelvox_poller",
        RV_LISTEN_DATABASE_URL=f"host={sock} dbname=reelvox user=reelvox_poller",
        RV_POLLER_SWEEP_MS="500")
    return env


def bin_dir(data):
    """Only the endpoints used here, and the poller without its music seeding
    (17 s of synthesis that these tests do not need)."""
    src = os.environ.get("RV_BIN_DIR") or os.path.join(ROOT, "bin")
    d = os.path.join(data, "bin")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name in ENDPOINTS:
        os.symlink(os.path.join(src, name), os.path.join(d, name))
    with open(os.path.join(d, "poller"), "w") as f:
        f.write('#!/bin/sh\n[ "$1" = --seed-music ] && exit 0\n'
                f'exec {os.path.join(src, "poller")} "$@"\n')
    os.chmod(os.path.join(d, "poller"), 0o755)


def start_bouncer(data, sock):
    d = os.path.join(data, "pgbouncer")
    os.makedirs(d, exist_ok=True)
    os.makedirs(os.path.join(data, "log"), exist_ok=True)
    os.makedirs(os.path.join(data, "run"), exist_ok=True)
    with open(os.path.join(d, "users.txt"), "w") as f:
        f.write('"reelvox_app" ""\n"reelvox_poller" ""\n"postgres" ""\n')
    conf = os.path.join(d, "pgbouncer.ini")
    with open(conf, "w") as f:
        f.write(f"""[databases]
reelvox = host={sock} dbname=reelvox

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {BOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = {d}/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = {POOL_SIZE}
reserve_pool_size = 0
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
""")
    for n in ("users.txt", "pgbouncer.ini"):
        os.chmod(os.path.join(d, n), 0o644)
    # PgBouncer refuses to run as root: as root it drops to postgres (-u).
    cmd = [PGBOUNCER, *(["-u", "postgres"] if os.geteuid() == 0 else []), conf]
    log = open(os.path.join(data, "log", "pgbouncer.log"), "ab")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True)
    log.close()
    # scripts/down stops whatever has a pid file in run/: a crashed test leaves nothing.
    with open(os.path.join(data, "run", "pgbouncer.pid"), "w") as f:
        f.write(str(p.pid))
    return p


def bouncer_show(what):
    """Rows of PgBouncer's admin console SHOW <what> as dicts."""
    p = subprocess.run([os.path.join(pg_bindir(), "psql"), "-X", "-A", "-F", "\x1f", "-P",
                        "footer=off", "-h", "127.0.0.1", "-p", str(BOUNCER_PORT), "-U",
                        "postgres", "pgbouncer", "-c", f"SHOW {what}"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    head = lines[0].split("\x1f")
    return [dict(zip(head, ln.split("\x1f"))) for ln in lines[1:]]


@pytest.fixture(scope="module")
def pooled():
    """(api, db) of the stack behind PgBouncer: up for the module, then down."""
    data = DATA_DIR.rstrip("/") + "-pooler"
    os.makedirs(data, exist_ok=True)
    data = os.path.realpath(data)
    sock = cluster_dir(data)
    env = stack_env(data, sock)
    subprocess.run([os.path.join(ROOT, "scripts", "down")], env=env, capture_output=True)
    bin_dir(data)
    bouncer = start_bouncer(data, sock)
    up = subprocess.run([os.path.join(ROOT, "scripts", "up")], env=env, capture_output=True,
                        text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert bouncer.poll() is None, "pgbouncer ended: see log/pgbouncer.log"
        db = Db()
        db.conninfo = f"host={sock} dbname=reelvox user=postgres"
        api = Api(base=f"http://127.0.0.1:{STACK_PORT}")
        yield api, db
        api.close()
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "down")], env=env, capture_output=True)
        if bouncer.poll() is None:
            bouncer.terminate()
        bouncer.wait(timeout=10)


def jobs_seen(api, user):
    r = api.get("/api/jobs?limit=100", token=user.access)
    return {j["id"] for j in assert_json(r, 200)["items"]}


def hammer(base, user, own_jobs, other_jobs, seconds):
    """GET /api/me, /api/jobs and /api/jobs/{id} as user for a while; returns how
    many requests it made, after checking that every answer is user's own."""
    api = Api(base=base)
    n, end = 0, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            me = assert_json(api.get("/api/me", token=user.access), 200)
            assert me["id"] == user.id, (me["id"], user.id)
            seen = jobs_seen(api, user)
            assert seen <= own_jobs and not seen & other_jobs, (user.id, seen - own_jobs)
            j = own_jobs and next(iter(own_jobs))
            if j:
                assert get_job(api, user, j)["id"] == j
            o = other_jobs and next(iter(other_jobs))
            if o:
                assert_problem(api.get(f"/api/jobs/{o}", token=user.access), 404)
            n += 4
    finally:
        api.close()
    return n


def test_rls_context_never_leaks_and_jobs_settle_once(pooled):
    api, db = pooled
    base = f"http://127.0.0.1:{STACK_PORT}"
    a, b = do_register(api, name="Pooled A"), do_register(api, name="Pooled B")
    before = {u.id: db.credits(u.id) for u in (a, b)}
    with config_patch(db, "providers", ["kinds", "tts"], ["local"]), \
            config_patch(db, "rate_limits", ["generationsPerMinute"], 0):
        jobs = {u.id: [submit_tts(api, u, f"Pooled speech {i} for {u.user['name']}.")
                       for i in range(3)] for u in (a, b)}
        ids = {uid: {j["id"] for j in js} for uid, js in jobs.items()}
        # Two users, two threads each, while the poller works their jobs.
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            futs = [ex.submit(hammer, base, u, ids[u.id], ids[o.id], 4.0)
                    for u, o in ((a, b), (b, a), (a, b), (b, a))]
            made = sum(f.result() for f in futs)
        got = wait_jobs_db(db, [i for s in ids.values() for i in s], timeout=40)
    assert made > 40, made
    assert set(got.values()) == {"succeeded"}, got
    for u in (a, b):
        assert jobs_seen(api, u) == ids[u.id]
        spent = 0
        for j in jobs[u.id]:
            job = get_job(api, u, j["id"])
            assert_settled(db, job, refunded=False)
            spent += job["costCredits"]
        assert db.credits(u.id) == before[u.id] - spent
    # Statements really were shared: many clients, at most POOL_SIZE server
    # connections per role, and many more transactions than connections.
    pools = {p["user"]: p for p in bouncer_show("POOLS") if p["database"] == "reelvox"}
    app = pools["reelvox_app"]
    servers = sum(int(app[k]) for k in ("sv_active", "sv_idle", "sv_used", "sv_tested",
                                        "sv_login"))
    assert 0 < servers <= POOL_SIZE, app
    clients = [c for c in bouncer_show("CLIENTS") if c["user"] == "reelvox_app"]
    assert len(clients) > POOL_SIZE, len(clients)
    stats = {s["database"]: s for s in bouncer_show("STATS")}
    assert int(stats["reelvox"]["total_xact_count"]) > made, stats["reelvox"]
    # The poller went through the pooler too; only its LISTEN is direct.
    assert "reelvox_poller" in pools
    direct = db.rows("SELECT usename, count(*) FROM pg_stat_activity "
                     "WHERE datname = 'reelvox' AND usename LIKE 'reelvox_%' GROUP BY 1")
    assert {u: int(n) for u, n in direct}["reelvox_app"] <= POOL_SIZE, direct
    listening = db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = 'reelvox' "
                          "AND usename = 'reelvox_poller' AND query LIKE 'LISTEN %'")
    assert int(listening) >= 1, "the poller's direct LISTEN connection is missing"
