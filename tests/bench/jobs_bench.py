"""Job figures for `make bench` (a benchmark, not a test: it never fails on a number).

usage: jobs_bench.py BASE_URL SIM_URL TOKEN MIGRATE_CONNINFO [SIM_TOKEN]

1. submit-to-provider latency: POST /api/tts one at a time (the poller listening),
   time from sending the request to the simulator receiving the prediction;
2. end-to-end throughput: N jobs submitted by 16 threads, time until all have
   succeeded through the simulator with webhooks (outputs copied into storage);
3. the simulator's own ceiling: creates per second sent straight to it by 16
   threads (no Reelvox, no webhooks), beside which the end-to-end figure is read:
   each job costs the simulator a create, its webhooks and the output's download.
"""
import json
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

BASE, SIM, TOKEN, DB = sys.argv[1:5]
SIM_TOKEN = sys.argv[5] if len(sys.argv) > 5 else "bench-token"
VOICE = "00000000-0000-4000-8000-000000000001"


def call(method, url, body=None, token=TOKEN):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def sql(q):
    return subprocess.run(["psql", DB, "-X", "-At", "-c", q], capture_output=True, text=True).stdout.strip()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def latency(n=200):
    sent = {}
    for i in range(n):
        t0 = time.time()
        job = call("POST", BASE + "/api/tts", {"text": f"latency probe {i} {t0}", "voiceId": VOICE})
        sent[job["id"]] = t0
        time.sleep(0.01)
    deadline = time.time() + 30
    got = {}
    while time.time() < deadline and len(got) < n:
        for p in call("GET", SIM + "/_sim/predictions", token=None):
            job = (p.get("webhook") or "").split("job=")[-1].split("&")[0]
            if job in sent and job not in got:
                created = datetime.strptime(p["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
                got[job] = (created.replace(tzinfo=timezone.utc).timestamp() - sent[job]) * 1000
        time.sleep(0.2)
    ms = [v for v in got.values()]
    if not ms:
        print("submit-to-provider latency: no predictions seen")
        return
    print(f"submit-to-provider latency (poller listening, {len(ms)} jobs): "
          f"p50 {pct(ms, 0.5):.1f} ms, p99 {pct(ms, 0.99):.1f} ms")


def throughput(n=2000, threads=16):
    before = int(sql("SELECT count(*) FROM jobs WHERE status = 'succeeded'") or 0)
    ids, lock = [], threading.Lock()

    def worker(k):
        for i in range(k, n, threads):
            job = call("POST", BASE + "/api/tts", {"text": f"throughput {i}", "voiceId": VOICE})
            with lock:
                ids.append(job["id"])

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t_sub = time.time() - t0
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline:
        done = int(sql("SELECT count(*) FROM jobs WHERE status = 'succeeded'") or 0) - before
        if done >= n:
            break
        time.sleep(0.05)
    t_all = time.time() - t0
    print(f"end to end through the simulator with webhooks: {n} jobs submitted in {t_sub:.2f} s "
          f"({n / t_sub:.0f}/s), {done} succeeded after {t_all:.2f} s: {done / t_all:.0f} jobs/s")


def sim_ceiling(n=2000, threads=16):
    def worker(k):
        for i in range(k, n, threads):
            call("POST", SIM + "/v1/predictions",
                 {"version": "bench", "input": {"text": f"ceiling {i}"}}, token=SIM_TOKEN)

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t = time.time() - t0
    print(f"the simulator alone: {n} creates in {t:.2f} s: {n / t:.0f} creates/s "
          f"(16 threads, no webhooks; a job also costs it its webhooks and a download)")


latency()
throughput()
sim_ceiling()
