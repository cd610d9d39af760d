#!/usr/bin/env python3
"""The soak load: the bench mix (reads, submits through the Replicate simulator,
whose webhooks come back to the stack) for --minutes, against a running stack
(RV_TEST_URL, RV_DATA_DIR). Reports per minute the requests, 5xx and p99, then the
resident memory of every Reelvox process (handlers, poller, nginx, PostgreSQL) at
the start and at the end (private RSS), and writes the whole as JSON (--json). Exits 1 when any
answer was a 5xx or a connection failed (the goal is none), 0 otherwise; memory
growth is reported, not judged (one run is too short to call a trend).

Run by scripts/soak (make soak), which brings up a stack of its own."""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid

import requests

BASE = os.environ["RV_TEST_URL"].rstrip("/")
DATA = os.environ["RV_DATA_DIR"]
BIN = os.environ.get("RV_BIN_DIR", "")
VOICE = "00000000-0000-4000-8000-000000000001"


def psql(sql):
    pg = os.path.realpath(os.path.join(DATA, "pg"))
    return subprocess.run(["psql", f"host={pg} dbname=reelvox user=postgres", "-X", "-q", "-At",
                           "-c", sql], capture_output=True, text=True, check=True).stdout.strip()


def _status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid):
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True,
                         text=True).stdout
    return [int(x) for x in out.split()]


def rss_by_process():
    """{name: (count, private resident KiB)} of this stack's processes: each endpoint
    binary by name (its parent and workers), the poller, nginx (master and workers)
    and PostgreSQL's backends. Private memory (RssAnon): the shared buffers a
    backend touches and the shared libraries are not the process's own, and would
    hide or fake a leak."""
    groups = {}

    def add(name, pid):
        c, r = groups.get(name, (0, 0))
        groups[name] = (c + 1, r + _status_kib(pid, "RssAnon"))

    want = f"RV_DATA_DIR={DATA}".encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
            exe = os.readlink(f"/proc/{d}/exe")
        except OSError:
            continue
        if want in env and BIN and exe.startswith(BIN + "/"):
            add(os.path.basename(exe), int(d))
    for name, pidfile in (("nginx", os.path.join(DATA, "run", "nginx.pid")),
                          ("postgres", os.path.join(os.path.realpath(os.path.join(DATA, "pg")),
                                                    "postmaster.pid"))):
        try:
            with open(pidfile) as f:
                top = int(f.readline())
        except (OSError, ValueError):
            continue
        add(name + " (main)", top)
        for k in _children(top):
            add(name + (" (backends)" if name == "postgres" else " (workers)"), k)
    return groups


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.minutes = {}

    def add(self, minute, kind, status, ms):
        with self.lock:
            m = self.minutes.setdefault(minute, {"lat": [], "n": 0, "5xx": 0, "errors": 0,
                                                 "by": {}})
            m["n"] += 1
            m["lat"].append(ms)
            m["by"].setdefault(kind, []).append(ms)
            if status is None:
                m["errors"] += 1
            elif status >= 500:
                m["5xx"] += 1


def p(values, q):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def worker(stop, stats, t0, token, jobs, jobs_lock, seed):
    rnd = random.Random(seed)
    s = requests.Session()
    h = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        x = rnd.random()
        with jobs_lock:
            job = rnd.choice(jobs) if jobs else None
        if x < 0.15:
            kind, method, path = "submit", "POST", "/api/tts"
            body = {"text": f"Soak {uuid.uuid4().hex[:8]}", "voiceId": VOICE}
        elif x < 0.55 and job:
            kind, method, path, body = "job", "GET", f"/api/jobs/{job}", None
        elif x < 0.75:
            kind, method, path, body = "jobs", "GET", "/api/jobs?limit=20", None
        else:
            kind, method, path, body = "me", "GET", "/api/me", None
        start = time.monotonic()
        status = None
        try:
            r = s.request(method, BASE + path, json=body, headers=h, timeout=30)
            status = r.status_code
            if kind == "submit" and status == 202:
                with jobs_lock:
                    jobs.append(r.json()["id"])
                    if len(jobs) > 500:
                        del jobs[:100]
        except requests.RequestException:
            pass
        ms = (time.monotonic() - start) * 1000
        stats.add(int((start - t0) // 60), kind, status, ms)  # the minute it was sent in


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--json", default="")
    a = ap.parse_args()

    email = f"soak-{uuid.uuid4().hex[:12]}@soak.reelvox.test"
    r = requests.post(BASE + "/api/auth/register",
                      json={"email": email, "password": "soak-password-123"}, timeout=30)
    r.raise_for_status()
    token = r.json()["accessToken"]
    uid = r.json()["user"]["id"]
    # Enough credits for the whole run, and no generation limit in the way.
    psql(f"SELECT rv_credit_move('{uid}', 100000000, 'grant', 'soak')")
    psql("UPDATE admin_config SET value = jsonb_set(value, '{generationsPerMinute}', '0') "
         "WHERE key = 'rate_limits'")

    rss0 = rss_by_process()
    stats = Stats()
    stop = threading.Event()
    jobs, jobs_lock = [], threading.Lock()
    t0 = time.monotonic()
    # A fresh access token lives 15 minutes: longer runs log in again each 10.
    threads = [threading.Thread(target=worker, args=(stop, stats, t0, token, jobs, jobs_lock, i),
                                daemon=True) for i in range(a.threads)]
    for t in threads:
        t.start()
    end = t0 + a.minutes * 60
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    stop.set()
    for t in threads:
        t.join(timeout=60)
    # Let the last jobs settle, so the end's memory is the stack's, not a burst's.
    rss1 = rss_by_process()
    left = psql("SELECT count(*) FROM jobs WHERE status IN ('queued','dispatching','running')")

    rows = []
    total5, totalerr, total = 0, 0, 0
    print(f"soak: {a.minutes:g} min, {a.threads} client threads, {BASE}")
    print(f"{'minute':>6} {'requests':>9} {'req/s':>7} {'5xx':>5} {'conn err':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8}  p99 ms by kind (requests)")
    for m in sorted(stats.minutes):
        d = stats.minutes[m]
        secs = min(60.0, a.minutes * 60 - m * 60)
        row = {"minute": m + 1, "requests": d["n"], "rps": round(d["n"] / max(secs, 1), 1),
               "5xx": d["5xx"], "connErrors": d["errors"], "p50ms": round(p(d["lat"], .5), 2),
               "p99ms": round(p(d["lat"], .99), 2),
               "mix": {k: {"n": len(v), "p99ms": round(p(v, .99), 1)}
                       for k, v in sorted(d["by"].items())}}
        rows.append(row)
        total += d["n"]
        total5 += d["5xx"]
        totalerr += d["errors"]
        print(f"{row['minute']:>6} {row['requests']:>9} {row['rps']:>7} {row['5xx']:>5} "
              f"{row['connErrors']:>8} {row['p50ms']:>8} {row['p99ms']:>8}  " +
              " ".join(f"{k} {v['p99ms']} ({v['n']})" for k, v in row["mix"].items()))
    print(f"total: {total} requests, {total5} 5xx, {totalerr} connection errors; "
          f"jobs still in flight at the end: {left}")
    print(f"{'process':<22} {'n':>3} {'private RSS start KiB':>22} {'end KiB':>8} {'change':>8}")
    mem = []
    for name in sorted(set(rss0) | set(rss1)):
        c0, r0 = rss0.get(name, (0, 0))
        c1, r1 = rss1.get(name, (0, 0))
        mem.append({"process": name, "start": {"n": c0, "rssKiB": r0},
                    "end": {"n": c1, "rssKiB": r1}})
        print(f"{name:<22} {c1:>3} {r0:>22} {r1:>8} {r1 - r0:>+8}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"minutes": a.minutes, "threads": a.threads, "perMinute": rows,
                       "total": total, "5xx": total5, "connErrors": totalerr, "rss": mem}, f,
                      indent=1)
    return 1 if total5 or totalerr else 0


if __name__ == "__main__":
    sys.exit(main())
