#!/usr/bin/env python3
"""The load of tests/multihost/run, through the balancer (RV_MH_URL): threads that
submit TTS jobs (each with its own Idempotency-Key, sent again with the same key
after a connection error or a 5xx until accepted or the run ends) and read them
back, for --seconds. Then waits (bounded) until every accepted job is terminal
and checks in the database (RV_MH_DB) and the simulator (RV_MH_SIM):

- no accepted job is lost: every one exists and succeeded;
- none ran twice: one prediction per job at the provider, created by one call,
  and one charge per job in the ledger, no refund.

Prints the figures; exit 1 when anything does not hold."""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

URL = os.environ["RV_MH_URL"].rstrip("/")
DB = os.environ["RV_MH_DB"]
SIM = os.environ["RV_MH_SIM"].rstrip("/")
VOICE = "00000000-0000-4000-8000-000000000001"


def http(method, path, body=None, token=None, headers=None, timeout=10):
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, OSError):
        return None, None


def psql(sql, attempts=60):
    """The answer of sql at the primary; while a failover leaves no primary for a
    moment, asked again (every 0.5 s, 30 s at most)."""
    for i in range(attempts):
        p = subprocess.run(["psql", DB, "-X", "-q", "-At", "-F", "|", "-c", sql],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.strip()
        if i == attempts - 1:
            raise subprocess.CalledProcessError(p.returncode, "psql", p.stdout, p.stderr)
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--out", default="")
    a = ap.parse_args()

    st, body = http("POST", "/api/auth/register",
                    {"email": f"mh-{uuid.uuid4().hex[:10]}@mh.reelvox.test",
                     "password": "multihost-password"})
    assert st == 201, st
    token, uid = body["accessToken"], body["user"]["id"]
    psql(f"SELECT rv_credit_move('{uid}', 1000000, 'grant', 'multihost')")

    accepted, lock = {}, threading.Lock()
    counts = {"submits": 0, "retries": 0, "refused": 0, "reads": 0, "5xx": 0, "connErrors": 0}
    stop = time.monotonic() + a.seconds

    def count(k):
        with lock:
            counts[k] += 1

    def worker():
        while time.monotonic() < stop:
            key = uuid.uuid4().hex
            text = f"multihost {key[:12]}"
            while time.monotonic() < stop + 10:
                st, job = http("POST", "/api/tts", {"text": text, "voiceId": VOICE}, token,
                               {"Idempotency-Key": key})
                count("submits")
                if st == 202:
                    with lock:
                        prev = accepted.setdefault(key, job["id"])
                    assert prev == job["id"], ("one key, two jobs", key, prev, job["id"])
                    break
                if st is None:
                    count("connErrors")
                elif st >= 500:
                    count("5xx")
                else:
                    count("refused")  # a refusal, not a failure of a host
                    break
                count("retries")
                time.sleep(0.1)
            st, _ = http("GET", f"/api/jobs/{accepted.get(key, uuid.uuid4())}", token=token)
            count("reads")
            if st is None:
                count("connErrors")
            elif st >= 500:
                count("5xx")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = sorted(set(accepted.values()))
    t_load = time.monotonic()
    t_end = time.monotonic() + 120
    while time.monotonic() < t_end:
        left = psql("SELECT count(*) FROM jobs WHERE id = ANY('{%s}') "
                    "AND status NOT IN ('succeeded','failed','cancelled')" % ",".join(ids))
        if left == "0":
            break
        time.sleep(1)
    rows = psql("SELECT status, count(*) FROM jobs WHERE id = ANY('{%s}') GROUP BY 1"
                % ",".join(ids))
    by_status = dict(line.split("|") for line in rows.splitlines()) if rows else {}
    charges = psql("SELECT count(*) FILTER (WHERE kind = 'job_charge'), "
                   "count(*) FILTER (WHERE kind = 'job_refund'), "
                   "count(DISTINCT job_id) FILTER (WHERE kind = 'job_charge') "
                   "FROM credit_ledger WHERE job_id = ANY('{%s}')" % ",".join(ids)).split("|")
    with urllib.request.urlopen(SIM + "/_sim/predictions", timeout=30) as r:
        preds = json.loads(r.read())
    per = {}
    for p in preds:
        if p.get("job") in accepted.values():
            per.setdefault(p["job"], []).append(p)
    twice = [j for j in ids if len(per.get(j, [])) != 1 or per[j][0].get("create_attempts") != 1]
    out = {"accepted": len(ids), "settleSeconds": round(time.monotonic() - t_load, 1),
           "byStatus": by_status, "counts": counts,
           "charges": int(charges[0]), "refunds": int(charges[1]),
           "jobsCharged": int(charges[2]), "notDispatchedExactlyOnce": len(twice)}
    print("multihost load:", json.dumps(out))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f)
    ok = (ids and by_status.get("succeeded") == str(len(ids)) and not twice and
          out["charges"] == len(ids) == out["jobsCharged"] and out["refunds"] == 0)
    if not ok:
        print("multihost load: FAILED", twice[:5])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
