"""Faults under load: the poller killed mid-dispatch, pollers racing for the same
queue, PostgreSQL restarted while submits keep coming. Afterwards every job has
ended exactly once, was sent to the provider exactly once, and every balance is
the sum of its ledger (the autouse ledger_invariant fixture)."""
import json
import os
import signal
import threading
import time

from conftest import Api, do_register
from jobkit import (DATA_DIR, RUN_DIR, SIM_URL, alive, assert_all_settled, assert_each_dispatched_once,
                    group_alive, inbox_rows, job_row, no_rate_limit, pg_running, pg_start, pg_stop,
                    poller_loop_pid, poller_stopped, post_webhook, run_poller_once, sim,
                    sim_all_predictions,
                    spawn_poller, start_poller_loop, status_counts, stop_poller_loop,
                    submit_many, submit_tts, wait_jobs_db, wait_until, webhook_headers)
from jobkit import simctl  # the simulator's client (jobkit puts tests/sim on the path)


def users(api, n):
    return [do_register(api) for _ in range(n)]


def test_poller_killed_mid_dispatch(api, db):
    """kill -9 of the poller loop's process group while a batch of the 200 jobs is
    being sent; the loop restarted (scripts/up). The jobs of the interrupted batch
    are looked up at the provider before anything is sent again. No webhooks at
    all, so the lookup is what finds them, not the inbox.

    The test makes its own precondition: the simulator holds every create at its
    gate, so the kill surely lands with a batch in flight and the rest queued,
    however fast or slow the machine. The held creates go on after the kill (their
    answers lost), before the loop starts again."""
    us = users(api, 4)
    text = lambda i: (f"Job {i} of the kill test. " +
                      sim(delay_ms=3000, webhooks="none", create_gate=1))
    stop_poller_loop()
    simctl.gate(False, sim=SIM_URL)
    arr = None
    try:
        with no_rate_limit(db):
            ids = submit_many(us, 200, text)
        assert status_counts(db, ids) == {"queued": 200}
        arr = "{" + ",".join(ids) + "}"
        start_poller_loop()
        # A batch is claimed and every create of it waits at the gate.
        claimed = lambda: int(db.scalar(
            "SELECT count(*) FROM jobs WHERE id = ANY (:'ids'::uuid[]) AND status <> 'queued'",
            ids=arr))
        wait_until(lambda: 0 < claimed() == simctl.gate(sim=SIM_URL)["waiting"], 30,
                   interval=0.05, what="a batch held at the simulator's gate")
        pid = poller_loop_pid()
        os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: not group_alive(pid), 5, what="the poller loop to die")
        counts = status_counts(db, ids)
        held = 200 - counts.get("queued", 0)
        assert 0 < held < 200 and counts.get("queued", 0) > 0, counts
        # The provider creates what it was sent (nobody hears the answers).
        before = len(sim_all_predictions())
        simctl.gate(True, sim=SIM_URL)
        wait_until(lambda: len(sim_all_predictions()) >= before + held, 20,
                   what="the held creates to go through")
    finally:
        simctl.gate(True, sim=SIM_URL)
        start_poller_loop()
    wait_jobs_db(db, ids, timeout=60)
    assert status_counts(db, ids) == {"succeeded": 200}
    assert_each_dispatched_once(ids)
    assert_all_settled(db, ids)


def test_pollers_race_for_the_queue(api, db):
    """500 queued jobs; the loop and two more pollers start at once and sweep the
    same queue: each job goes to the provider exactly once."""
    us = users(api, 5)
    text = lambda i: f"Job {i} of the race. " + sim(delay_ms=300)
    logs = os.path.join(DATA_DIR, "log", "poller-extra.log")
    extra = []
    log_start = os.path.getsize(logs) if os.path.exists(logs) else 0
    stop_poller_loop()
    try:
        with no_rate_limit(db):
            ids = submit_many(us, 500, text)
        assert status_counts(db, ids) == {"queued": 500}
        extra = [spawn_poller(20, logs) for _ in range(2)]
        start_poller_loop()
        wait_jobs_db(db, ids, timeout=60)
    finally:
        start_poller_loop()
        for p in extra:
            p.send_signal(signal.SIGTERM)
        for p in extra:
            try:
                p.wait(15)
            except Exception:
                p.kill()
                p.wait()
    for p in extra:
        assert p.returncode == 0, p.returncode
    assert status_counts(db, ids) == {"succeeded": 500}
    assert_each_dispatched_once(ids)
    assert_all_settled(db, ids)
    # The extra pollers did take part (their log names some of the jobs).
    with open(logs, errors="replace") as f:
        f.seek(log_start)
        theirs = f.read()
    assert sum(1 for i in ids if i in theirs) > 0


def handler_pids():
    pids = {}
    for f in os.listdir(RUN_DIR):
        if f.endswith(".pid") and f not in ("nginx.pid", "poller.pid"):
            with open(os.path.join(RUN_DIR, f)) as fh:
                pids[f[:-4]] = int(fh.read().strip())
    return pids


def test_database_restart_under_load(db):
    """A thread keeps submitting while PostgreSQL stops (fast) and starts again:
    while it is down submits answer 503 problem+json, then they succeed again with
    the same handler processes, and every job that was accepted still ends."""
    api = Api()
    us = users(api, 3)
    before = handler_pids()
    assert before and all(alive(p) for p in before.values())
    results = []  # (sent, answered, status, code or job id), monotonic times
    stop = threading.Event()

    def load():
        a = Api()
        i = 0
        while not stop.is_set():
            u = us[i % len(us)]
            i += 1
            sent = time.monotonic()
            try:
                r = a.post("/api/tts", {"text": f"Load {i}. " + sim(delay_ms=200),
                                        "voiceId": "00000000-0000-4000-8000-000000000001"},
                           token=u.access, timeout=15)
            except Exception as e:  # a connection error is a failure of its own
                results.append((sent, time.monotonic(), -1, repr(e)))
                continue
            ctype = r.headers.get("Content-Type", "")
            if r.status_code == 202:
                results.append((sent, time.monotonic(), 202, r.json()["id"]))
            else:
                body = r.json() if "json" in ctype else {"raw": r.text[:200]}
                results.append((sent, time.monotonic(), r.status_code, (ctype, body.get("code"))))
            time.sleep(0.05)

    try:
        with no_rate_limit(db):
            t = threading.Thread(target=load, daemon=True)
            t.start()
            wait_until(lambda: sum(1 for _, _, s, _ in results if s == 202) >= 5, 15,
                       what="some accepted submits")
            poller_log = os.path.join(DATA_DIR, "log", "poller.log")
            log_at = os.path.getsize(poller_log)
            pg_stop()
            t_down = time.monotonic()
            # (pg_stop returns once PostgreSQL is down: what is sent after it finds
            # no database, however slow the machine.)
            wait_until(lambda: time.monotonic() > t_down + 2 and
                       sum(1 for t0, _, s, _ in results if t0 > t_down and s == 503) >= 5,
                       15, what="503s while the database is down")
            t_starting = time.monotonic()
            with open(poller_log, "rb") as f:
                f.seek(log_at)
                outage_lines = f.read().count(b"\n")
            pg_start()
            t_up = time.monotonic()
            wait_until(lambda: sum(1 for t0, _, s, _ in results if t0 > t_up and s == 202) >= 5,
                       20, what="accepted submits after the restart")
            stop.set()
            t.join(20)
    finally:
        stop.set()
        if not pg_running():
            pg_start()
    assert not t.is_alive()
    # Sent and answered while it was surely down: sent after the stop returned,
    # answered before the start began (one in flight at either edge may differ).
    down = [(s, c) for t0, t1, s, c in results if t0 > t_down and t1 < t_starting]
    assert down and all(s == 503 for s, _ in down), [(round(t0 - t_down, 2), s, c) for t0, t1, s, c
                                                    in results if s != 503 and t_down < t0 < t_up]
    for s, (ctype, code) in down:
        assert ctype.startswith("application/problem+json") and code == "unavailable", (ctype, code)
    # The poller waited for the database at its sweep pace, it did not spin.
    per_s = outage_lines / (t_starting - t_down)
    assert per_s < 100, f"{outage_lines} poller log lines in {t_starting - t_down:.1f} s down"
    # Nothing but 202 and 503, ever (no 500, no dropped connection).
    odd = [(s, c) for _, _, s, c in results if s not in (202, 503)]
    assert not odd, odd[:10]
    # The same handler processes serve on: they reconnected on their own.
    assert handler_pids() == before and all(alive(p) for p in before.values())
    # Every accepted job ends; so does any job a lost answer hid from us.
    accepted = [c for _, _, s, c in results if s == 202]
    assert len(set(accepted)) == len(accepted)
    ids = [r[0] for r in db.rows("SELECT id FROM jobs WHERE user_id = ANY (:'u'::uuid[])",
                                 u="{" + ",".join(u.id for u in us) + "}")]
    assert set(accepted) <= set(ids)
    wait_jobs_db(db, ids, timeout=45)
    assert status_counts(db, ids) == {"succeeded": len(ids)}
    assert_all_settled(db, ids)
    assert_each_dispatched_once(ids)
    api.close()


def test_event_for_a_job_another_poller_holds_is_kept(api, db):
    """A webhook event for a job whose lease another poller holds waits in the
    inbox until that lease is over; it is neither applied nor dropped."""
    u = do_register(api)
    with poller_stopped():
        job = submit_tts(api, u, "Held by another poller.")
        db.rows("UPDATE jobs SET status = 'dispatching', attempts = 1, locked_by = 'elsewhere:1', "
                "locked_until = now() + interval '60 seconds' WHERE id = :'j'", j=job["id"])
        token = job_row(db, job["id"])[3]
        body = json.dumps({"id": "heldprediction0000000000aa", "status": "processing",
                           "input": {}, "output": None, "error": None}).encode()
        assert post_webhook(api, job["id"], token, body, webhook_headers(body)).status_code == 204
        run_poller_once()
        assert [d for _, d in inbox_rows(db, job["id"])] == ["f"]
        assert job_row(db, job["id"], "status, provider_job_id") == ("dispatching", "")
        # The lease runs out: the event is applied (the work is adopted) and done.
        db.rows("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = :'j'",
                j=job["id"])
        run_poller_once()
        assert [d for _, d in inbox_rows(db, job["id"])] == ["t"]
        assert job_row(db, job["id"], "status, provider_job_id") == (
            "running", "heldprediction0000000000aa")
        # Tidy up: the made-up prediction does not exist at the provider.
        assert api.request("DELETE", f"/api/jobs/{job['id']}", token=u.access).status_code == 200


def test_inbox_not_blocked_by_events_it_must_wait_for(api, db):
    """60 older events wait for jobs another (dead) poller holds; a newer event of a
    free job is still applied at once: the waiting ones do not fill the inbox
    pass's batch."""
    u = do_register(api)
    with poller_stopped():
        with no_rate_limit(db):
            held = submit_many([u], 60, lambda i: f"Held {i}.")
            free = submit_tts(api, u, "Free to go.")
        db.rows("UPDATE jobs SET status = 'dispatching', attempts = 1, locked_by = 'dead:1', "
                "locked_until = now() + interval '60 seconds' WHERE id = ANY (:'ids'::uuid[])",
                ids="{" + ",".join(held) + "}")
        tokens = dict(db.rows("SELECT id, callback_token FROM jobs WHERE user_id = :'u'", u=u.id))
        for i, jid in enumerate(held):
            body = json.dumps({"id": f"held{i:022d}", "status": "processing", "input": {},
                               "output": None, "error": None}).encode()
            assert post_webhook(api, jid, tokens[jid], body, webhook_headers(body)).status_code == 204
        # The free job's work is done at the provider: its output is a real file.
        done = next(p for p in reversed(sim_all_predictions())
                    if p["status"] == "succeeded" and isinstance(p["output"], str))
        db.rows("UPDATE jobs SET status = 'running', attempts = 1, provider_job_id = 'free0', "
                "run_at = now() + interval '1 hour' WHERE id = :'j'", j=free["id"])
        body = json.dumps({"id": "free0", "status": "succeeded", "input": {},
                           "output": done["output"], "error": None}).encode()
        assert post_webhook(api, free["id"], tokens[free["id"]], body,
                            webhook_headers(body)).status_code == 204
        run_poller_once()
        assert job_row(db, free["id"], "status")[0] == "succeeded"
        assert [d for _, d in inbox_rows(db, free["id"])] == ["t"]
        # The held jobs' events still wait, untouched.
        assert int(db.scalar("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL "
                             "AND job_id = ANY (:'ids'::uuid[])", ids="{" + ",".join(held) + "}")) == 60
        assert status_counts(db, held) == {"dispatching": 60}
        # Tidy up: cancel them (their made-up work does not exist).
        for jid in held:
            api.request("DELETE", f"/api/jobs/{jid}", token=u.access)
        assert status_counts(db, held) == {"cancelled": 60}
