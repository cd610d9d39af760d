"""A randomized fault run against a running stack (scripts/chaos brings one up).

Load: users submitting speech and sound-effect jobs from several threads through
the Replicate simulator, with its faults (slow, duplicate, out-of-order, late,
missing and failing webhooks, refused and held creates), some cancelled, some
routed to the local provider. Meanwhile, at random every 1.5-5 s: kill -9 of the
poller, kill -9 of a handler worker, and a few `pg_ctl restart -m immediate`.
Then every accepted job is waited for and the invariants are checked:

- every user's balance is the sum of their ledger, never negative;
- at most one charge and one refund per job; a failed or cancelled job refunded
  once, a succeeded one never;
- no accepted (202) job lost, every one ended;
- the webhook inbox drained;
- every audios row has its file; no stored file that no row refers to, and no
  work file, once the sweeper's grace period has passed;
- at most one create per job at the provider;
- no 5xx other than 502/503/504 while faults happen, and none after recovery.

Prints the figures and `chaos: ... violations: N`; exits 1 when N > 0."""
import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import DATA_DIR, Api, Db, do_register, pg_bindir, pg_host  # noqa: E402
import jobkit  # noqa: E402
from jobkit import config_patch, sim, simctl  # noqa: E402

RUN_DIR = os.path.join(DATA_DIR, "run")
STORAGE = os.path.join(DATA_DIR, "storage")
VOICE = jobkit.VOICE
TERMINAL = ("succeeded", "failed", "cancelled")
FAULT_OK = (502, 503, 504)

SCENARIOS = [  # (weight, name, directive keys)
    (30, "plain", {}),
    (8, "slow", {"delay_ms": 1500}),
    (8, "duplicate_webhooks", {"webhooks": "duplicate"}),
    (8, "out_of_order", {"webhooks": "out_of_order"}),
    (6, "late_webhook", {"webhooks": "late", "late_ms": 2500}),
    (6, "no_webhooks", {"webhooks": "none"}),
    (6, "failing", {"outcome": "failed"}),
    (5, "refused_create", {"create_status": 503, "times": 1}),
    (4, "held_create", {"create_hang_s": 5}),
    (3, "server_error", {"create_status": 500, "times": 1}),
]


class Run:
    def __init__(self, args):
        self.args = args
        self.db = Db()
        self.lock = threading.Lock()
        self.accepted = {}  # job id -> (user index, scenario)
        self.statuses = collections.Counter()
        self.scenarios = collections.Counter()
        self.faults = collections.Counter()
        self.violations = []
        self.fault_window = [time.monotonic(), None]  # faults happen in here
        self.cancels = 0

    def violate(self, what):
        with self.lock:
            self.violations.append(what)
        print(f"VIOLATION: {what}", flush=True)

    # ------------------------------------------------------------ answers

    def saw(self, method, path, status, during_faults):
        with self.lock:
            self.statuses[status] += 1
        if status >= 500 and (status not in FAULT_OK or not during_faults):
            self.violate(f"{method} {path} answered {status}"
                         f"{'' if during_faults else ' after recovery'}")

    def request(self, api, method, path, during_faults=True, **kw):
        """One request; a connection error counts as a 502 (nginx or a worker gone)."""
        try:
            r = api.request(method, path, **kw)
        except Exception:  # noqa: BLE001 - the transport is part of the fault
            self.saw(method, path, 502, during_faults)
            return None
        self.saw(method, path, r.status_code, during_faults)
        return r

    # --------------------------------------------------------------- load

    def submit(self, api, ui, user):
        weights = [w for w, _, _ in SCENARIOS]
        _, name, keys = random.choices(SCENARIOS, weights)[0]
        kind = "sfx" if random.random() < 0.2 else "tts"
        text = f"Chaos {uuid.uuid4().hex[:10]}, {name}. " + (sim(**keys) if keys else "")
        body = ({"prompt": text, "durationSeconds": 2} if kind == "sfx"
                else {"text": text, "voiceId": VOICE})
        idem = uuid.uuid4().hex
        # A submit that got no clear answer is sent again with the same key: the
        # job it may have made is then the one answered.
        for _ in range(20):
            r = self.request(api, "POST", f"/api/{kind}", json_body=body, token=user.access,
                             headers={"Idempotency-Key": idem})
            if r is not None and r.status_code == 202:
                job = r.json()["id"]
                with self.lock:
                    self.accepted[job] = (ui, name)
                    self.scenarios[name] += 1
                return job
            if r is not None and r.status_code < 500:
                self.violate(f"submit answered {r.status_code}: {r.text[:200]}")
                return None
            time.sleep(0.2)
        return None

    def load(self, users, deadline):
        api = Api()
        cancels = []
        every = self.args.threads / self.args.rate  # this thread's share of the rate
        due = time.monotonic() + random.uniform(0, every)
        while time.monotonic() < deadline:
            time.sleep(max(0.0, due - time.monotonic()))
            due += every
            ui = random.randrange(len(users))
            job = self.submit(api, ui, users[ui])
            if job and random.random() < 0.1:
                cancels.append((time.monotonic() + random.uniform(0, 1.5), ui, job))
            now = time.monotonic()
            for c in [c for c in cancels if c[0] <= now]:
                cancels.remove(c)
                self.cancel(api, users[c[1]], c[2])
        for _, ui, job in cancels:
            self.cancel(api, users[ui], job)
        api.close()

    def cancel(self, api, user, job):
        r = self.request(api, "DELETE", f"/api/jobs/{job}", token=user.access)
        if r is not None and r.status_code not in (200, 409) and r.status_code < 500:
            self.violate(f"cancel answered {r.status_code}: {r.text[:200]}")
        with self.lock:
            self.cancels += 1

    def flip_providers(self, deadline):
        """Now and then speech goes to the local provider for a moment (its two
        synthesis slots take a few jobs a second, not the whole load)."""
        local = False
        while time.monotonic() < deadline:
            time.sleep(random.uniform(0.5, 1.5) if local else random.uniform(4, 8))
            local = not local
            tts = ["local", "replicate"] if local else ["replicate", "local"]
            try:
                cfg = jobkit.config_get(self.db, "providers")
                cfg["kinds"]["tts"] = tts
                jobkit.config_set(self.db, "providers", cfg)
            except Exception:  # noqa: BLE001 - the database may be restarting
                pass

    # ------------------------------------------------------------- faults

    def children(self, ppid, comm=None):
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
            except OSError:
                continue
            fields = tail.split()
            if int(fields[1]) == ppid and fields[0] != "Z" and (
                    comm is None or head.split("(", 1)[1] == comm):
                out.append(int(d))
        return out

    def pidfile(self, name):
        try:
            with open(os.path.join(RUN_DIR, name + ".pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill_poller(self):
        loop = self.pidfile("poller")
        pids = self.children(loop, "poller") if loop else []
        for p in pids:
            os.kill(p, signal.SIGKILL)
        return bool(pids)

    def kill_worker(self):
        names = [f[:-4] for f in os.listdir(RUN_DIR)
                 if f.endswith(".pid") and f not in ("poller.pid", "nginx.pid")]
        random.shuffle(names)
        for name in names:
            parent = self.pidfile(name)
            workers = self.children(parent) if parent else []
            if workers:
                os.kill(random.choice(workers), signal.SIGKILL)
                return True
        return False

    def restart_postgres(self):
        cmd = [os.path.join(pg_bindir(), "pg_ctl"), "-D", pg_host(), "-m", "immediate", "-w",
               "-t", "60", "-l", os.path.join(DATA_DIR, "log", "postgres.log"), "restart"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        p = subprocess.run(cmd, cwd="/", stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            self.violate(f"pg_ctl restart failed: {p.stderr.strip()[-300:]}")
        return p.returncode == 0

    def chaos(self, deadline):
        a = self.args
        start = time.monotonic()
        span = deadline - start
        restarts = sorted(start + span * (i + 1) / (a.restarts + 1) for i in range(a.restarts))
        while True:
            time.sleep(random.uniform(1.5, 5))
            now = time.monotonic()
            if now >= deadline:
                break
            if restarts and now >= restarts[0]:
                restarts.pop(0)
                if self.restart_postgres():
                    self.faults["pg_restart"] += 1
                continue
            if random.random() < 0.5:
                if self.kill_poller():
                    self.faults["poller_kill"] += 1
            elif self.kill_worker():
                self.faults["worker_kill"] += 1
        self.fault_window[1] = time.monotonic()

    # ------------------------------------------------------------ checks

    def wait(self, fn, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = fn()
            except Exception as e:  # noqa: BLE001 - e.g. the database still starting
                v, last = None, e
            else:
                last = None
            if v:
                return v
            if time.monotonic() > deadline:
                self.violate(f"timed out after {timeout}s waiting for {what}"
                             f"{f' ({last!r})' if last else ''}")
                return None
            time.sleep(0.5)

    def check(self, users):
        db, ids = self.db, list(self.accepted)
        arr = "{" + ",".join(ids) + "}"

        def all_ended():
            rows = db.rows("SELECT status, count(*) FROM jobs WHERE id = ANY (:'ids'::uuid[]) "
                           "GROUP BY status", ids=arr)
            got = {s: int(n) for s, n in rows}
            return sum(got.values()) == len(ids) and set(got) <= set(TERMINAL) and got
        ended = self.wait(all_ended, self.args.settle, "every accepted job to end") or {}
        by_provider = dict(db.rows("SELECT provider, count(*) FROM jobs "
                                   "WHERE id = ANY (:'ids'::uuid[]) GROUP BY provider", ids=arr))
        found = int(db.scalar("SELECT count(*) FROM jobs WHERE id = ANY (:'ids'::uuid[])",
                              ids=arr))
        if found != len(ids):
            self.violate(f"{len(ids) - found} accepted jobs are gone")

        # Answers after recovery: every user's reads, no 5xx at all.
        api = Api()
        self.request(api, "GET", "/healthz", during_faults=False)
        for u in users:
            for path in ("/api/me", "/api/credits", "/api/jobs"):
                self.request(api, "GET", path, during_faults=False, token=u.access)
        api.close()

        uids = "{" + ",".join(u.id for u in users) + "}"
        for uid, credits, ledger in db.rows(
                "SELECT u.id, u.credits, COALESCE((SELECT sum(delta) FROM credit_ledger l "
                "WHERE l.user_id = u.id), 0) FROM users u WHERE u.id = ANY (:'u'::uuid[])",
                u=uids):
            if int(credits) != int(ledger) or int(credits) < 0:
                self.violate(f"user {uid}: balance {credits}, ledger sum {ledger}")
        for jid, st, cost, charges, refunds in db.rows(
                "SELECT j.id, j.status, j.cost_credits, "
                "  count(*) FILTER (WHERE l.kind = 'job_charge'), "
                "  count(*) FILTER (WHERE l.kind = 'job_refund') "
                "FROM jobs j LEFT JOIN credit_ledger l ON l.job_id = j.id "
                "WHERE j.id = ANY (:'ids'::uuid[]) GROUP BY j.id", ids=arr):
            charges, refunds, paid = int(charges), int(refunds), int(cost) > 0
            want_refund = 1 if st in ("failed", "cancelled") and paid else 0
            if charges != (1 if paid else 0) or refunds != want_refund:
                self.violate(f"job {jid} {st}: {charges} charges, {refunds} refunds")

        self.wait(lambda: int(db.scalar("SELECT count(*) FROM webhook_events "
                                        "WHERE processed_at IS NULL")) == 0 or None,
                  60, "the webhook inbox to drain")

        for jid, key in db.rows("SELECT job_id, storage_key FROM audios "
                                "WHERE user_id = ANY (:'u'::uuid[])", u=uids):
            if not os.path.exists(os.path.join(STORAGE, key)):
                self.violate(f"job {jid}: its audio file {key} is missing")

        # Orphans: once the sweeper's grace period has passed, no registration is
        # left and every stored file is referenced.
        self.wait(lambda: int(db.scalar("SELECT count(*) FROM storage_pending")) == 0 or None,
                  self.args.grace * 3 + 30, "the sweeper to settle every stored file")
        referenced = {k for (k,) in db.rows("SELECT storage_key FROM audios")}
        referenced |= {k for (k,) in db.rows(
            "SELECT input -> 'voice' ->> 'fileKey' FROM jobs WHERE kind = 'voice_clone' "
            "AND input -> 'voice' ->> 'fileKey' IS NOT NULL")}
        # Every other table that holds stored files: images, clips, music, videos.
        referenced |= {k for (k,) in db.rows(
            "SELECT k FROM (SELECT storage_key FROM images UNION ALL SELECT thumb_key FROM images"
            " UNION ALL SELECT video_key FROM clips UNION ALL SELECT poster_key FROM clips"
            " UNION ALL SELECT storage_key FROM music_tracks"
            " UNION ALL SELECT video_key FROM compilations"
            " UNION ALL SELECT poster_key FROM compilations"
            " UNION ALL SELECT video_key FROM videos UNION ALL SELECT poster_key FROM videos"
            ") f(k) WHERE k IS NOT NULL")}
        orphans, temps = [], []
        for root, _, files in os.walk(STORAGE):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), STORAGE)
                if rel.startswith(".tmp/"):
                    temps.append(rel)
                elif rel not in referenced:
                    orphans.append(rel)
        if orphans:
            self.violate(f"{len(orphans)} stored files no row refers to, e.g. {orphans[:3]}")

        def temps_gone():
            d = os.path.join(STORAGE, ".tmp")
            return not (os.path.isdir(d) and os.listdir(d))
        self.wait(temps_gone, self.args.grace * 3 + 30, "the work files to be swept")

        per_job = collections.Counter(p.get("job") for p in simctl.predictions())
        twice = {j: n for j, n in per_job.items() if j in self.accepted and n > 1}
        if twice:
            self.violate(f"{len(twice)} jobs created more than once at the provider, "
                         f"e.g. {list(twice.items())[:3]}")
        dup = int(db.scalar("SELECT count(*) FROM provider_duplicates"))
        return ended, dup, by_provider

    # --------------------------------------------------------------- main

    def main(self):
        a = self.args
        api = Api()
        users = [do_register(api) for _ in range(a.users)]
        api.close()
        for u in users:
            self.db.grant(u.id, 1_000_000, reason="chaos")
        with config_patch(self.db, "rate_limits", ["generationsPerMinute"], 0), \
                config_patch(self.db, "providers", ["kinds", "tts"], ["replicate", "local"]):
            started = time.monotonic()
            deadline = started + a.seconds
            threads = [threading.Thread(target=self.load, args=(users, deadline))
                       for _ in range(a.threads)]
            threads.append(threading.Thread(target=self.flip_providers, args=(deadline,)))
            threads.append(threading.Thread(target=self.chaos, args=(deadline,)))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ended, dup, by_provider = self.check(users)
            took = time.monotonic() - started
        figures = {
            "jobs": len(self.accepted), "ended": ended,
            "providers": {k: int(v) for k, v in by_provider.items()}, "cancel_requests": self.cancels,
            "scenarios": dict(self.scenarios), "faults": dict(self.faults),
            "answers": {str(k): v for k, v in sorted(self.statuses.items())},
            "duplicates_cancelled": dup, "seconds": round(took, 1),
            "violations": len(self.violations),
        }
        print(json.dumps(figures, indent=1))
        f = self.faults
        print(f"chaos: {len(self.accepted)} jobs, {f['poller_kill']} poller kills, "
              f"{f['worker_kill']} worker kills, {f['pg_restart']} database restarts; "
              f"violations: {len(self.violations)}")
        return 1 if self.violations else 0


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=90, help="how long the load lasts")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--threads", type=int, default=6)
    p.add_argument("--rate", type=float, default=17, help="submits per second, all threads")
    p.add_argument("--restarts", type=int, default=2, help="database restarts in the run")
    p.add_argument("--grace", type=float, default=float(os.environ.get("RV_STORAGE_GRACE", 5)),
                   help="the stack's RV_STORAGE_GRACE")
    p.add_argument("--settle", type=float, default=300, help="how long jobs may take to end")
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args()


if __name__ == "__main__":
    args = parse()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    print(f"chaos: seed {seed}", flush=True)
    sys.exit(Run(args).main())
