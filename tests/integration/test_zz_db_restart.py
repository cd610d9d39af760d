"""The database goes away and comes back (runs last: the name sorts last).

While PostgreSQL is stopped every endpoint that needs it answers 503 unavailable
problem+json and changes nothing; once it is started again (as scripts/up starts
it) every endpoint answers 200 again, with the same handler processes, including
workers whose connection went stale while they were idle."""
import concurrent.futures
import glob
import os
import subprocess

from conftest import (PASSWORD, DATA_DIR, Api, assert_json, assert_problem, login,
                      pg_bindir, pg_host, unique_email)


def pg_ctl(*args):
    cmd = [os.path.join(pg_bindir(), "pg_ctl"), "-D", pg_host(), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    p = subprocess.run(cmd, cwd="/", stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"{' '.join(cmd)}: {p.stdout}{p.stderr}"


def stop_postgres():
    pg_ctl("-m", "fast", "-w", "stop")


def start_postgres():
    # The same options as scripts/up.
    pg_ctl("-l", os.path.join(DATA_DIR, "log", "postgres.log"), "-w", "-t", "60", "start")


def handler_processes():
    """{handler pid: sorted worker pids} of the stack's FastCGI handlers."""
    parents = {}
    for f in glob.glob(os.path.join(DATA_DIR, "run", "*.pid")):
        if os.path.basename(f) in ("nginx.pid", "poller.pid"):
            continue  # not handlers (a poller run ends every 55 s anyway)
        with open(f) as fh:
            parents[int(fh.read().strip())] = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(fields[1])
        if ppid in parents:
            parents[ppid].append(int(stat.split("/")[2]))
    return {k: sorted(v) for k, v in parents.items()}


def hammer(method, path, n=8, **kw):
    """n requests, 4 at a time, so that every worker of the endpoint takes some."""
    def one(_):
        a = Api()
        try:
            return a.request(method, path, **kw)
        finally:
            a.close()

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        return list(ex.map(one, range(n)))


def all_answer(u, *more):
    """Every worker of these endpoints answers 200 (and so holds a connection)."""
    for path in ("/api/credits", "/api/me", "/healthz", *more):
        for r in hammer("GET", path, token=None if path == "/healthz" else u.access):
            assert_json(r, 200)


def test_database_outage_and_recovery(api, db, register):
    u = register(name="Before the outage")
    _, spare_refresh, _ = login(api, u.email, u.password)
    workers = handler_processes()
    assert workers and all(workers.values()), workers
    outage_email = unique_email("outage")

    stop_postgres()
    try:
        for _ in range(3):
            p = assert_problem(api.get("/healthz"), 503, "unavailable")
            assert "socket" not in str(p) and "PGSQL" not in str(p)  # no internals
            assert_problem(api.get("/api/me", token=u.access), 503, "unavailable")
            assert_problem(api.get("/api/credits", token=u.access), 503, "unavailable")
        assert_problem(api.patch("/api/me", {"name": "During the outage"}, token=u.access),
                       503, "unavailable")
        assert_problem(api.post("/api/auth/login", {"email": u.email, "password": u.password}),
                       503, "unavailable")
        assert_problem(api.post("/api/auth/register",
                                {"email": outage_email, "password": PASSWORD}),
                       503, "unavailable")
        assert_problem(api.post("/api/auth/refresh", {"refreshToken": spare_refresh}),
                       503, "unavailable")
        assert_problem(api.post("/api/auth/logout", token=u.access), 503, "unavailable")
        # What needs no database still works: token checks, the version.
        assert_problem(api.get("/api/me", token="garbage"), 401, "unauthorized")
        assert_json(api.get("/api/version"), 200)
    finally:
        start_postgres()

    # Everything answers again, at once, on the same processes.
    for r in hammer("GET", "/healthz"):
        assert assert_json(r, 200) == {"status": "ok", "db": "ok"}
    for r in hammer("GET", "/api/me", token=u.access):
        assert assert_json(r, 200)["name"] == "Before the outage"  # the PATCH never happened
    for r in hammer("GET", "/api/credits", token=u.access):
        assert assert_json(r, 200)["balance"] == u.user["credits"]
    login(api, u.email, u.password)
    # The refresh that failed did not spend its token; the logout that failed did
    # not end the session; the registration that failed left no account behind.
    assert_json(api.post("/api/auth/refresh", {"refreshToken": spare_refresh}), 200)
    assert_json(api.post("/api/auth/refresh", {"refreshToken": u.refresh}), 200)
    assert db.user_count(outage_email) == 0
    assert_json(api.post("/api/auth/register", {"email": outage_email, "password": PASSWORD}),
                201)
    assert handler_processes() == workers


def test_database_restart_while_idle(api, register):
    """A restart that no request saw: every worker still holds a connection the
    restart closed, and its first request must reconnect, not answer 503."""
    u = register()
    all_answer(u)
    workers = handler_processes()

    stop_postgres()
    start_postgres()

    all_answer(u)
    b = assert_json(api.post("/api/auth/refresh", {"refreshToken": u.refresh}), 200)
    assert api.post("/api/auth/logout", token=b["accessToken"]).status_code == 204
    assert handler_processes() == workers


def test_database_crash_restart(api, db, register):
    """`pg_ctl restart -m immediate`: the server ends every session without a word
    (no 57P01), so the first command on an old connection comes back as libpq's
    own error while PQstatus still says OK. Every worker's next request, reads and
    writes, and statements this worker never prepared before alike, reconnects and
    answers as if nothing happened."""
    u = register()
    all_answer(u, "/api/jobs")
    workers = handler_processes()
    # The scratch cluster commits asynchronously (RV_PG_FAST): make the account
    # durable before the crash, as a synchronous commit would.
    db.rows("CHECKPOINT")

    pg_ctl("-m", "immediate", "-w", "-t", "60", "-l", os.path.join(DATA_DIR, "log", "postgres.log"),
           "restart")

    for r in hammer("GET", "/healthz"):
        assert_json(r, 200)
    for r in hammer("GET", "/api/credits", token=u.access):
        assert_json(r, 200)
    # A write whose statement these workers never prepared: PATCH /api/me.
    for r in hammer("PATCH", "/api/me", json_body={"name": "After the crash"}, token=u.access):
        assert_json(r, 200)
    for r in hammer("GET", "/api/me", token=u.access):
        assert assert_json(r, 200)["name"] == "After the crash"
    # A cancel of a job that does not exist: 404, never 500 (DELETE's statement is new).
    for r in hammer("DELETE", "/api/jobs/00000000-0000-4000-8000-00000000dead",
                    token=u.access):
        assert_problem(r, 404, "not_found")
    assert handler_processes() == workers
