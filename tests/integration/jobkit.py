"""Shared helpers of the job tests (test_jobs_*.py): submitting, waiting, the
ledger of one job, admin_config patches, the Replicate simulator's records, the
poller and PostgreSQL of the running stack.

The stack is the one scripts/test (or a person) brought up: RV_TEST_URL,
RV_DATA_DIR, RV_BIN_DIR and RV_SIM_URL say where it is. Every helper bounds its
waiting by time."""
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid

from conftest import DATA_DIR, RFC3339_UTC, UUID_RE, assert_json, jwt_secret, pg_host

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import simctl  # noqa: E402  (the simulator's own client)

BIN_DIR = os.environ.get("RV_BIN_DIR") or os.path.join(ROOT, "bin")
SIM_URL = os.environ.get("RV_SIM_URL", "")
RUN_DIR = os.path.join(DATA_DIR, "run")

PRESET_IDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 8)]
VOICE = PRESET_IDS[0]
TERMINAL = ("succeeded", "failed", "cancelled")
STATUSES = ("queued", "dispatching", "running") + TERMINAL
TERMINAL_AT_PROVIDER = ("succeeded", "failed", "canceled", "aborted")  # Replicate spells it so
JOB_KEYS = {"id", "kind", "status", "progress", "input", "costCredits", "provider", "createdAt"}
JOB_OPTIONAL = {"result", "error", "startedAt", "completedAt"}


# ------------------------------------------------------------------ submitting


def sim(**keys):
    """A simulator directive for a tts text or sfx prompt: sim(outcome="failed")."""
    return simctl.directive(**keys)


def post_tts(api, user, body, idem=None, **kw):
    h = dict(kw.pop("headers", {}) or {})
    if idem is not None:
        h["Idempotency-Key"] = idem
    return api.post("/api/tts", body, token=user.access, headers=h, **kw)


def submit_tts(api, user, text="Hello from the job tests.", voice=VOICE, idem=None, **fields):
    """POST /api/tts that must answer 202; returns the job."""
    body = {"text": text, "voiceId": voice, **fields}
    r = post_tts(api, user, body, idem=idem)
    job = assert_json(r, 202)
    assert r.headers.get("Location") == f"/api/jobs/{job['id']}", r.headers
    assert_job(job, "tts")
    return job


def submit_sfx(api, user, prompt="rain on a tin roof", idem=None, **fields):
    h = {"Idempotency-Key": idem} if idem is not None else {}
    r = api.post("/api/sfx", {"prompt": prompt, **fields}, token=user.access, headers=h)
    job = assert_json(r, 202)
    assert r.headers.get("Location") == f"/api/jobs/{job['id']}", r.headers
    assert_job(job, "sfx")
    return job


def tts_cost(text, per=100):
    """One credit per started 100 characters (code points, not bytes)."""
    return -(-len(text) // per)


def assert_job(job, kind=None):
    """The job shape of API.md."""
    assert JOB_KEYS <= set(job) <= JOB_KEYS | JOB_OPTIONAL, sorted(job)
    assert UUID_RE.match(job["id"]), job
    if kind:
        assert job["kind"] == kind, job
    assert job["status"] in STATUSES, job
    assert isinstance(job["progress"], int) and 0 <= job["progress"] <= 100, job
    assert isinstance(job["input"], dict) and "voice" not in job["input"], job
    assert isinstance(job["costCredits"], int) and job["costCredits"] >= 0, job
    assert job["provider"] in ("replicate", "runway", "local", "openai"), job
    for k in ("createdAt", "startedAt", "completedAt"):
        if k in job:
            assert RFC3339_UTC.match(job[k]), (k, job)
    if job["status"] == "succeeded":
        res = job.get("result")
        assert isinstance(res, dict), job
    if job["status"] == "succeeded" and job["kind"] not in ("script", "images", "video_render"):
        # a job whose result is a file (the explainer steps but narration make none)
        media = "clipId" if job["kind"] == "video_clip" else "audioId"
        assert {media, "url", "durationMs"} <= set(res), res
        assert UUID_RE.match(res[media]), res
        assert isinstance(res["durationMs"], int) and res["durationMs"] > 0, res
        assert "/media/" in res["url"] and "sig=" in res["url"] and "exp=" in res["url"], res
    if job["status"] == "succeeded":
        assert job["progress"] == 100 and "completedAt" in job and "error" not in job, job
    else:
        assert "result" not in job, job
    if job["status"] in ("failed", "cancelled"):
        err = job.get("error")
        assert isinstance(err, dict) and isinstance(err.get("code"), str) and err["code"], job
        assert isinstance(err.get("message"), str) and err["message"], job
        assert "completedAt" in job, job
    return job


# ------------------------------------------------------------------ waiting


def get_job(api, user, job_id):
    return assert_job(assert_json(api.get(f"/api/jobs/{job_id}", token=user.access), 200))


def without_links(job):
    """The job minus its signed link (signed afresh, with a new expiry, on each read)."""
    j = dict(job)
    if "result" in j:
        j["result"] = {k: v for k, v in j["result"].items() if k != "url"}
    return j


def same_job(a, b):
    assert without_links(a) == without_links(b), (a, b)


def wait_for_job(api, user, job_id, statuses=TERMINAL, timeout=30.0, interval=0.1, seen=None):
    """Polls GET /api/jobs/{id} until its status is in statuses; returns the job.
    seen: a list that collects every (status, progress) observed."""
    deadline = time.monotonic() + timeout
    if isinstance(statuses, str):
        statuses = (statuses,)
    while True:
        job = get_job(api, user, job_id)
        if seen is not None and (not seen or seen[-1] != (job["status"], job["progress"])):
            seen.append((job["status"], job["progress"]))
        if job["status"] in statuses:
            return job
        if job["status"] in TERMINAL:
            raise AssertionError(f"job ended {job['status']}, wanted {statuses}: {job}")
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s "
                                 f"(wanted {statuses}): {job}\n{job_debug(job_id)}")
        time.sleep(interval)


def wait_jobs_db(db, ids, timeout=60.0, statuses=TERMINAL, interval=0.5):
    """Waits until every job of ids has a status in statuses (read in bulk from the
    database); returns {id: status}. Raises with the laggards on timeout."""
    ids = list(ids)
    deadline = time.monotonic() + timeout
    arr = "{" + ",".join(ids) + "}"
    while True:
        got = dict(db.rows("SELECT id, status FROM jobs WHERE id = ANY (:'ids'::uuid[])", ids=arr))
        left = [i for i in ids if got.get(i) not in statuses]
        if not left:
            return got
        if time.monotonic() > deadline:
            sample = db.rows("SELECT id, status, attempts, provider_job_id, locked_by, run_at, "
                             "error FROM jobs WHERE id = ANY (:'ids'::uuid[]) LIMIT 5",
                             ids="{" + ",".join(left) + "}")
            raise AssertionError(f"{len(left)} of {len(ids)} jobs not in {statuses} after "
                                 f"{timeout}s; e.g. {sample}")
        time.sleep(interval)


def job_debug(job_id):
    """What the database and the simulator know of a job, for failure messages."""
    try:
        from conftest import Db
        row = Db().rows("SELECT status, attempts, provider_job_id, locked_by, locked_until, "
                        "run_at, error FROM jobs WHERE id = :'j'", j=job_id)
        preds = sim_predictions(job_id)
        return f"db: {row}\nsim: {[(p['id'], p['status'], p['create_attempts']) for p in preds]}"
    except Exception as e:  # a debugging aid must never hide the real failure
        return f"(no debug info: {e!r})"


def wait_until(fn, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------ the ledger


def job_ledger(db, job_id):
    """[(kind, delta)] of one job's ledger rows, oldest first."""
    return [(k, int(d)) for k, d in db.rows(
        "SELECT kind, delta FROM credit_ledger WHERE job_id = :'j' ORDER BY created_at, id",
        j=job_id)]


def assert_settled(db, job, refunded):
    """Exactly one job_charge of the job's cost and a refund iff refunded."""
    rows = job_ledger(db, job["id"])
    cost = job["costCredits"]
    want = [("job_charge", -cost)] + ([("job_refund", cost)] if refunded else [])
    if cost == 0:
        want = []
    assert rows == want, (job["id"], rows, want)


def balance(db, user):
    return db.credits(user.id)


def user_jobs(db, user):
    return int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=user.id))


def assert_nothing_charged(db, user, before):
    """No job and no job ledger row for user, balance unchanged."""
    assert balance(db, user) == before
    assert user_jobs(db, user) == 0
    assert int(db.scalar("SELECT count(*) FROM credit_ledger WHERE user_id = :'u' "
                         "AND job_id IS NOT NULL", u=user.id)) == 0


def audio_rows(db, job_id):
    return int(db.scalar("SELECT count(*) FROM audios WHERE job_id = :'j'", j=job_id))


def job_row(db, job_id, cols="status, attempts, provider_job_id, callback_token"):
    rows = db.rows(f"SELECT {cols} FROM jobs WHERE id = :'j'", j=job_id)
    assert len(rows) == 1, rows
    return rows[0]


# ------------------------------------------------------------------ admin_config


def config_get(db, key):
    return json.loads(db.scalar("SELECT value::text FROM admin_config WHERE key = :'k'", k=key))


def config_set(db, key, value):
    db.rows("INSERT INTO admin_config (key, value) VALUES (:'k', :'v'::jsonb) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            k=key, v=json.dumps(value))


@contextlib.contextmanager
def config_patch(db, key, path, value):
    """Sets admin_config[key] at path (a list of keys) to value, restores the
    whole key afterwards whatever happens."""
    old = config_get(db, key)
    new = json.loads(json.dumps(old))
    cur = new
    for k in path[:-1]:
        cur = cur.setdefault(k, {})
    cur[path[-1]] = value
    config_set(db, key, new)
    try:
        yield
    finally:
        config_set(db, key, old)


def no_rate_limit(db):
    return config_patch(db, "rate_limits", ["generationsPerMinute"], 0)


def local_tts_only(db):
    return config_patch(db, "providers", ["kinds", "tts"], ["local"])


# ------------------------------------------------------------------ the simulator


def sim_predictions(job_id):
    return simctl.predictions(job=job_id, sim=SIM_URL)


def sim_all_predictions():
    return simctl.predictions(sim=SIM_URL)


def sim_one_prediction(job_id):
    preds = sim_predictions(job_id)
    assert len(preds) == 1, [(p["id"], p["status"]) for p in preds]
    return preds[0]


# ------------------------------------------------------------------ webhooks


def webhook_key():
    secret = os.environ["RV_REPLICATE_WEBHOOK_SECRET"]
    return base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)


def sign_webhook(msg_id, ts, body, key=None):
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, id.timestamp.body))."""
    key = webhook_key() if key is None else key
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def webhook_headers(body, msg_id=None, ts=None, key=None):
    msg_id = msg_id or f"msg_test_{uuid.uuid4().hex}"
    ts = str(int(time.time()) if ts is None else ts)
    return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": sign_webhook(msg_id, ts, body, key)}


def post_webhook(api, job_id, token, body, headers):
    return api.request("POST", f"/webhooks/replicate?job={job_id}&token={token}", data=body,
                       headers=headers)


def inbox_rows(db, job_id):
    return db.rows("SELECT event_id, processed_at IS NOT NULL FROM webhook_events "
                   "WHERE job_id = :'j' ORDER BY id", j=job_id)


def wait_events_applied(db, job_id, timeout=20.0):
    """Waits until every webhook the simulator had to send for the job's predictions
    (through `completed`) was delivered and the inbox applied it: after this no
    event of the provider is still on its way, so "a late event changes nothing"
    is checked, not hoped for after a pause."""
    def delivered():
        preds = sim_predictions(job_id)
        return preds and all(p["status"] in TERMINAL_AT_PROVIDER and
                             p["webhook_deliveries"]["outstanding"] == 0 and
                             any(d["event"] == "completed" for d in p["webhook_deliveries"]["log"])
                             for p in preds)
    wait_until(delivered, timeout, what=f"the provider's webhooks for {job_id}")
    wait_until(lambda: all(d == "t" for _, d in inbox_rows(db, job_id)), timeout,
               what=f"the inbox to apply the events of {job_id}")


# ------------------------------------------------------------------ media links


def link_key():
    return hmac.new(jwt_secret(), b"reelvox media link v1", hashlib.sha256).digest()


def sign_link(key, exp):
    mac = hmac.new(link_key(), f"{key}\n{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


# ------------------------------------------------------------------ the stack


def stack_env(**extra):
    """The environment the stack's binaries run with: ours (RV_*), the secrets of
    reelvox.env, and what scripts/env.sh derives."""
    env = dict(os.environ)
    with open(os.path.join(DATA_DIR, "reelvox.env")) as f:
        for line in f:
            k, eq, v = line.strip().partition("=")
            if eq and k:
                env[k] = v.strip().strip("'\"")
    env.setdefault("RV_DATABASE_URL", f"host={pg_host()} dbname=reelvox user=reelvox_app")
    env.setdefault("RV_POLLER_DATABASE_URL", f"host={pg_host()} dbname=reelvox user=reelvox_poller")
    env.setdefault("RV_PUBLIC_URL", f"http://127.0.0.1:{env.get('RV_PORT', '8080')}")
    env["RV_BIN_DIR"] = BIN_DIR
    env.update({k: str(v) for k, v in extra.items()})
    return env


def poller_loop_pid():
    try:
        with open(os.path.join(RUN_DIR, "poller.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_poller_loop(sig=signal.SIGTERM, timeout=15.0):
    """Signals the poller loop's process group (the bash loop and its poller) and
    waits until every process of the group is gone."""
    pid = poller_loop_pid()
    if not alive(pid):
        return
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    wait_until(lambda: not group_alive(pid), timeout, what=f"poller group {pid} to end")


def group_alive(pgid):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def start_poller_loop():
    """scripts/up again: it leaves what runs alone and restarts the poller loop
    whose pid is dead."""
    env = stack_env(RV_NO_SETUP=1, RV_NO_BUILD=1)
    r = subprocess.run([os.path.join(ROOT, "scripts", "up")], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert alive(poller_loop_pid())


@contextlib.contextmanager
def poller_stopped():
    """No poller runs inside the block (the loop is stopped, then started again)."""
    stop_poller_loop()
    try:
        yield
    finally:
        start_poller_loop()


def run_poller_once(timeout=60, **env):
    r = subprocess.run([os.path.join(BIN_DIR, "poller"), "--once"], env=stack_env(**env),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def spawn_poller(window, log_path, **env):
    """A poller of its own (besides the loop), in its own process group."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen([os.path.join(BIN_DIR, "poller"), "--window", str(window)],
                                env=stack_env(**env), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()


def pg_dir():
    return os.path.realpath(os.path.join(DATA_DIR, "pg"))


def pg_ctl(*args, timeout=90):
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    cmd = [os.path.join(bindir or "/usr/lib/postgresql/15/bin", "pg_ctl"), "-D", pg_dir(), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def pg_stop():
    r = pg_ctl("-m", "fast", "-w", "stop")
    assert r.returncode == 0, r.stdout + r.stderr


def pg_start():
    r = pg_ctl("-l", os.path.join(pg_dir(), "postgres.log"), "-w", "-t", "60", "start")
    assert r.returncode == 0, r.stdout + r.stderr


def pg_running():
    return pg_ctl("status").returncode == 0


# ------------------------------------------------------------------ many jobs


def submit_many(users, n, text, threads=8, kind="tts"):
    """n jobs spread over users, submitted from a few threads; returns their ids
    in submission order. text: a function of the job's index."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from conftest import Api
    local = threading.local()

    def one(i):
        if not hasattr(local, "api"):
            local.api = Api()
        u = users[i % len(users)]
        if kind == "tts":
            return submit_tts(local.api, u, text(i))["id"]
        return submit_sfx(local.api, u, text(i))["id"]

    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, range(n)))


def predictions_per_job(ids):
    """{job id: [prediction, ...]} from the simulator, for the given jobs."""
    want = set(ids)
    out = {i: [] for i in ids}
    for p in sim_all_predictions():
        if p.get("job") in want:
            out[p["job"]].append(p)
    return out


def assert_each_dispatched_once(ids):
    """The simulator holds exactly one prediction per job, created by the job's
    only create call."""
    per = predictions_per_job(ids)
    twice = {j: [(p["id"], p["status"], p["create_attempts"]) for p in ps]
             for j, ps in per.items() if len(ps) != 1 or ps[0]["create_attempts"] != 1}
    assert not twice, f"{len(twice)} jobs not dispatched exactly once, e.g. {list(twice.items())[:5]}"


def assert_all_settled(db, ids, refunded=False):
    """For every job: one job_charge of its cost, a refund iff refunded, and one
    audio row iff it succeeded — checked in one query."""
    arr = "{" + ",".join(ids) + "}"
    bad = db.rows("""
        SELECT j.id, j.status,
               count(*) FILTER (WHERE l.kind = 'job_charge' AND l.delta = -j.cost_credits),
               count(*) FILTER (WHERE l.kind = 'job_refund' AND l.delta = j.cost_credits),
               count(l.*), (SELECT count(*) FROM audios a WHERE a.job_id = j.id)
          FROM jobs j LEFT JOIN credit_ledger l ON l.job_id = j.id
         WHERE j.id = ANY (:'ids'::uuid[])
         GROUP BY j.id, j.status
        HAVING count(*) FILTER (WHERE l.kind = 'job_charge' AND l.delta = -j.cost_credits) <> 1
            OR count(*) FILTER (WHERE l.kind = 'job_refund' AND l.delta = j.cost_credits)
               <> CASE WHEN :'refunded' = 'yes' THEN 1 ELSE 0 END
            OR count(l.*) <> CASE WHEN :'refunded' = 'yes' THEN 2 ELSE 1 END
            OR (SELECT count(*) FROM audios a WHERE a.job_id = j.id)
               <> CASE WHEN j.status = 'succeeded' THEN 1 ELSE 0 END
         LIMIT 10""", ids=arr, refunded="yes" if refunded else "no")
    assert not bad, f"jobs whose ledger or audio is wrong (id, status, charges, refunds, rows, audios): {bad}"
    assert int(db.scalar("SELECT count(*) FROM jobs WHERE id = ANY (:'ids'::uuid[])", ids=arr)) == len(ids)


def status_counts(db, ids):
    arr = "{" + ",".join(ids) + "}"
    return dict((s, int(n)) for s, n in db.rows(
        "SELECT status, count(*) FROM jobs WHERE id = ANY (:'ids'::uuid[]) GROUP BY status",
        ids=arr))
