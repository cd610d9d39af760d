"""A job's life against the Replicate simulator: webhooks (missing, duplicated,
out of order, late, badly signed), provider failures, transient and permanent
refusals of the create call, expired outputs, cancellation and deadlines.

Every scenario's job is submitted at once by the module fixture (each its own
user), so their waits overlap; each test then follows its own job. Directives
(`[[sim ...]]`) in the text steer the simulator per job."""
import json
import uuid
from urllib.parse import urlsplit

import pytest

from conftest import Api, assert_json, assert_problem, do_register
from jobkit import (SIM_URL, assert_settled, audio_rows, config_patch, get_job, inbox_rows, job_row,
                    post_webhook, same_job, sim, sim_one_prediction, sim_predictions, submit_sfx,
                    submit_tts, wait_events_applied, wait_for_job, wait_until, webhook_headers)
from jobkit import simctl  # the simulator's client

SCENARIOS = {
    "polled": "Nobody calls back. " + sim(webhooks="none"),
    "duplicate": "Every webhook twice. " + sim(webhooks="duplicate"),
    "out_of_order": "Completed before started. " + sim(webhooks="out_of_order"),
    "late": "The completion arrives late. " + sim(webhooks="late", late_ms=6000),
    "bad_signature": "Forged callbacks. " + sim(bad_signature=1),
    "extra_signature": "Two signatures, one right. " + sim(extra_signature=1),
    "failed": "This one fails. " + sim(outcome="failed"),
    "aborted": "This one never starts. " + sim(outcome="aborted"),
    "canceled": "Cancelled at the provider. " + sim(outcome="canceled"),
    "throttled": "Throttled twice. " + sim(create_status=429, times=2, retry_after=1),
    "throttled_long": "Throttled twice, long. " + sim(create_status=429, times=2, retry_after=2),
    "unavailable": "Down twice. " + sim(create_status=503, times=2),
    "server_error": "One 500. " + sim(create_status=500, times=1),
    "refused": "Refused for good. " + sim(create_status=422, times="always"),
    "bad_request": "A 400. " + sim(create_status=400, times="always"),
    "expired": "The output is gone. " + sim(output_expired=1),
    "malformed": "An unreadable 201. " + sim(create_malformed=1),
    "get_errors": "Polling fails at first. " + sim(webhooks="none", get_status=500, times=2),
    # Last, so its test (the first) watches it from the start.
    # It stays running until its test opens the simulator's gate.
    "webhooks": "A plain job, told by its webhooks. " + sim(finish_gate=1),
}


@pytest.fixture(scope="module")
def jobs():
    api = Api()
    simctl.gate(False, sim=SIM_URL)
    out = {}
    for name, text in SCENARIOS.items():
        u = do_register(api)
        out[name] = (u, submit_tts(api, u, text))
    yield out
    simctl.gate(True, sim=SIM_URL)
    api.close()


def finish(api, jobs, name, status, timeout=30.0, seen=None):
    u, job = jobs[name]
    return u, wait_for_job(api, u, job["id"], status, timeout=timeout, seen=seen)


def media(api, url):
    s = urlsplit(url)
    return api.get(s.path + "?" + s.query)


def test_success_told_by_webhooks(api, db, jobs):
    seen = []
    finish(api, jobs, "webhooks", "running", seen=seen)
    simctl.gate(True, sim=SIM_URL)  # now it may end
    u, job = finish(api, jobs, "webhooks", "succeeded", seen=seen)
    wait_events_applied(db, job["id"])
    # It was seen running (the provider's start webhook) before it ended.
    statuses = [s for s, _ in seen]
    assert statuses[0] in ("queued", "dispatching", "running") and statuses[-1] == "succeeded"
    assert "running" in statuses, seen
    assert any(s == "running" and 0 < p < 100 for s, p in seen), seen
    assert statuses.index("running") < statuses.index("succeeded")
    assert job["startedAt"] <= job["completedAt"]
    assert_settled(db, job, refunded=False)
    assert audio_rows(db, job["id"]) == 1
    pred = sim_one_prediction(job["id"])
    assert pred["status"] == "succeeded" and pred["create_attempts"] == 1
    assert pred["model"] == "minimax/speech-02-turbo"
    # What the provider got: our text, the preset's Replicate voice, our settings.
    assert pred["input"]["text"] == SCENARIOS["webhooks"]
    assert pred["input"]["voice_id"] == "Wise_Woman"
    assert pred["input"]["sample_rate"] == 32000
    assert pred["webhook"].startswith("http") and f"job={job['id']}" in pred["webhook"]
    assert set(pred["webhook_events_filter"]) == {"start", "completed"}
    # Both webhooks were taken (204) and nothing was retried.
    assert pred["webhook_deliveries"]["statuses"] == [204, 204], pred["webhook_deliveries"]
    # The result: the audio the simulator made, now in our storage.
    text = SCENARIOS["webhooks"].split("[[")[0].strip()
    want_ms = int((0.25 + 0.055 * len(text)) * 1000)
    assert abs(job["result"]["durationMs"] - want_ms) <= 20, (job["result"], want_ms)
    r = media(api, job["result"]["url"])
    assert r.status_code == 200
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert int.from_bytes(r.content[24:28], "little") == 32000  # the WAV's sample rate
    a = assert_json(api.get(f"/api/audios/{job['result']['audioId']}", token=u.access), 200)
    assert a["bytes"] == len(r.content) and a["source"] == "generated"
    # The inbox holds both events, processed.
    rows = inbox_rows(db, job["id"])
    assert len(rows) == 2 and all(done == "t" for _, done in rows), rows


def test_missed_webhooks_found_by_polling(api, db, jobs):
    u, job = finish(api, jobs, "polled", "succeeded")
    pred = sim_one_prediction(job["id"])
    assert pred["webhook_deliveries"]["count"] == 0
    assert inbox_rows(db, job["id"]) == []
    succeeded_normally_simple(api, db, job)


def succeeded_normally_simple(api, db, job):
    assert_settled(db, job, refunded=False)
    assert audio_rows(db, job["id"]) == 1
    assert sim_one_prediction(job["id"])["status"] == "succeeded"
    r = media(api, job["result"]["url"])
    assert r.status_code == 200 and r.content[:4] == b"RIFF"


def test_duplicate_webhooks(api, db, jobs):
    u, job = finish(api, jobs, "duplicate", "succeeded")
    pred = sim_one_prediction(job["id"])
    wait_until(lambda: len(sim_one_prediction(job["id"])["webhook_deliveries"]["statuses"]) == 4,
               10, what="all four deliveries")
    pred = sim_one_prediction(job["id"])
    # Each event twice with one webhook-id, each answered 204, stored once.
    assert pred["webhook_deliveries"]["statuses"] == [204] * 4, pred["webhook_deliveries"]
    ids = [d["webhook_id"] for d in pred["webhook_deliveries"]["log"]]
    assert len(set(ids)) == 2
    assert sorted(e for e, _ in inbox_rows(db, job["id"])) == sorted(set(ids))
    succeeded_normally_simple(api, db, job)
    same_job(get_job(api, u, job["id"]), job)


def test_out_of_order_webhooks(api, db, jobs):
    u, job = finish(api, jobs, "out_of_order", "succeeded")
    wait_until(lambda: len(inbox_rows(db, job["id"])) == 2 and
               all(d == "t" for _, d in inbox_rows(db, job["id"])), 10,
               what="the held-back start webhook to be processed")
    pred = sim_one_prediction(job["id"])
    events = [d["event"] for d in pred["webhook_deliveries"]["log"]]
    assert events == ["completed", "start"], events
    # The late "start" moved nothing back.
    after = get_job(api, u, job["id"])
    same_job(after, job)
    assert after["progress"] == 100
    succeeded_normally_simple(api, db, job)


def test_late_webhook_after_polling(api, db, jobs):
    u, job = finish(api, jobs, "late", "succeeded")
    # Polling saw the end first; the completion webhook comes afterwards...
    assert all(ev != "completed" for ev in
               (d["event"] for d in sim_one_prediction(job["id"])["webhook_deliveries"]["log"]))
    wait_until(lambda: any(d["event"] == "completed" for d in
                           sim_one_prediction(job["id"])["webhook_deliveries"]["log"]),
               15, what="the late completed webhook")
    wait_until(lambda: all(d == "t" for _, d in inbox_rows(db, job["id"])), 10,
               what="the late event to be processed")
    # ...and changes nothing.
    same_job(get_job(api, u, job["id"]), job)
    succeeded_normally_simple(api, db, job)


def test_badly_signed_webhooks_refused(api, db, jobs):
    u, job = finish(api, jobs, "bad_signature", "succeeded")
    pred = sim_one_prediction(job["id"])
    sts = pred["webhook_deliveries"]["statuses"]
    assert sts and all(s == 401 for s in sts), sts
    assert inbox_rows(db, job["id"]) == []
    succeeded_normally_simple(api, db, job)


def test_extra_signature_accepted(api, db, jobs):
    u, job = finish(api, jobs, "extra_signature", "succeeded")
    wait_events_applied(db, job["id"])  # the job may end by polling before they arrive
    pred = sim_one_prediction(job["id"])
    assert pred["webhook_deliveries"]["statuses"] == [204, 204]
    succeeded_normally_simple(api, db, job)


@pytest.mark.parametrize("name,code,message", [
    ("failed", "provider_failed", "sim: forced failure"),
    ("aborted", "provider_failed", None),
    ("canceled", "provider_cancelled", None),
])
def test_provider_failure_refunded(api, db, jobs, name, code, message):
    u, job = finish(api, jobs, name, "failed")
    assert job["error"]["code"] == code, job
    if message:
        assert job["error"]["message"] == message, job
    assert_settled(db, job, refunded=True)
    assert audio_rows(db, job["id"]) == 0
    assert sim_one_prediction(job["id"])["status"] == name
    # A late look changes nothing and never refunds twice: once every event of the
    # provider has arrived and been applied.
    wait_events_applied(db, job["id"])
    same_job(get_job(api, u, job["id"]), job)
    assert_settled(db, job, refunded=True)
    me = assert_json(api.get("/api/me", token=u.access), 200)
    assert me["credits"] == db.config_int("signup_credits")


@pytest.mark.parametrize("name,attempts", [("throttled", 3), ("throttled_long", 3),
                                           ("unavailable", 3), ("server_error", 2)])
def test_transient_refusals_retried(api, db, jobs, name, attempts):
    u, job = finish(api, jobs, name, "succeeded", timeout=40)
    status, tries, _, _ = job_row(db, job["id"])
    assert int(tries) == attempts, (tries, attempts)
    pred = sim_one_prediction(job["id"])
    assert pred["create_attempts"] == attempts and pred["create_attempt"] == attempts
    succeeded_normally_simple(api, db, job)
    if name == "throttled_long":
        # Retry-After (2 s) was honoured twice before the provider took it (the
        # backoff alone would have waited 1.5 to 3 s in all).
        created = db.scalar("SELECT extract(epoch FROM started_at - created_at) FROM jobs "
                            "WHERE id = :'j'", j=job["id"])
        assert float(created) >= 3.9, created


@pytest.mark.parametrize("name,status", [("refused", "422"), ("bad_request", "400")])
def test_permanent_refusal_fails_at_once(api, db, jobs, name, status):
    u, job = finish(api, jobs, name, "failed")
    assert job["error"]["code"] == "provider_rejected", job
    assert status in job["error"]["message"], job
    _, tries, _, _ = job_row(db, job["id"])
    assert int(tries) == 1
    assert sim_predictions(job["id"]) == []
    assert_settled(db, job, refunded=True)


def test_expired_output_fails_and_refunds(api, db, jobs):
    u, job = finish(api, jobs, "expired", "failed")
    assert job["error"]["code"] == "output_unavailable", job
    assert "expired" in job["error"]["message"] or "gone" in job["error"]["message"], job
    assert_settled(db, job, refunded=True)
    assert audio_rows(db, job["id"]) == 0
    assert sim_one_prediction(job["id"])["status"] == "succeeded"


def test_unreadable_create_answer_not_submitted_twice(api, db, jobs):
    # The 201 could not be read, but the prediction exists and runs: it must be
    # looked up, never created a second time.
    u, job = finish(api, jobs, "malformed", "succeeded", timeout=40)
    preds = sim_predictions(job["id"])
    assert len(preds) == 1, [(p["id"], p["status"], p["create_attempt"]) for p in preds]
    assert preds[0]["malformed_reply"] is True
    succeeded_normally_simple(api, db, job)


def test_failing_status_checks_retried(api, db, jobs):
    u, job = finish(api, jobs, "get_errors", "succeeded", timeout=40)
    succeeded_normally_simple(api, db, job)


def test_sfx_succeeds(api, db, register):
    u = register()
    job = submit_sfx(api, u, "a cat purrs " + sim(delay_ms=100), durationSeconds=3)
    job = wait_for_job(api, u, job["id"], "succeeded")
    pred = sim_one_prediction(job["id"])
    assert pred["model"] == "sepal/audiogen" and pred["input"]["duration"] == 3
    assert job["result"]["durationMs"] == 3000
    succeeded_normally_simple(api, db, job)


# ---------------------------------------------------------------- cancellation


def test_cancel_running_job(api, db, register):
    u = register()
    job = submit_tts(api, u, "Long work. " + sim(delay_ms=3_600_000))  # ends only by the cancel
    wait_for_job(api, u, job["id"], "running", timeout=15)
    wait_until(lambda: job_row(db, job["id"])[2], 10, what="the provider's id")
    r = api.request("DELETE", f"/api/jobs/{job['id']}", token=u.access)
    got = assert_json(r, 200)
    assert got["id"] == job["id"] and got["status"] == "cancelled"
    assert got["error"]["code"] == "cancelled" and "result" not in got
    assert_settled(db, got, refunded=True)
    # The poller stops the work at the provider.
    pred = wait_until(lambda: (lambda p: p if p["status"] == "canceled" else None)(
        sim_one_prediction(job["id"])), 10, what="the simulator to see the cancel")
    # Its completion webhook (canceled) arrives and changes nothing.
    wait_until(lambda: any(d["event"] == "completed" for d in
                           sim_one_prediction(job["id"])["webhook_deliveries"]["log"]),
               10, what="the canceled webhook")
    # Nor does a late, well-signed "succeeded" for the same job.
    token = job_row(db, job["id"])[3]
    body = json.dumps({"id": pred["id"], "status": "succeeded", "input": pred["input"],
                       "output": f"{SIM_URL}/files/{pred['id']}.wav", "error": None}).encode()
    r = post_webhook(api, job["id"], token, body, webhook_headers(body))
    assert r.status_code == 204, r.text
    wait_until(lambda: inbox_rows(db, job["id"]) and
               all(d == "t" for _, d in inbox_rows(db, job["id"])), 10,
               what="the late events to be processed")
    after = get_job(api, u, job["id"])
    assert after["status"] == "cancelled"
    same_job(after, dict(got, progress=after["progress"]))
    assert audio_rows(db, job["id"]) == 0
    assert_settled(db, got, refunded=True)
    # Cancelling again: it has ended.
    assert_problem(api.request("DELETE", f"/api/jobs/{job['id']}", token=u.access), 409,
                   "invalid_state")
    assert_settled(db, got, refunded=True)


def test_cancel_finished_job(api, db, register):
    u = register()
    job = submit_tts(api, u, "Quick one.")
    job = wait_for_job(api, u, job["id"], "succeeded")
    b = assert_problem(api.request("DELETE", f"/api/jobs/{job['id']}", token=u.access), 409,
                       "invalid_state")
    assert b["status"] == 409
    same_job(get_job(api, u, job["id"]), job)
    assert_settled(db, job, refunded=False)
    failed = submit_tts(api, u, "Fails. " + sim(outcome="failed"))
    failed = wait_for_job(api, u, failed["id"], "failed")
    assert_problem(api.request("DELETE", f"/api/jobs/{failed['id']}", token=u.access), 409,
                   "invalid_state")
    assert_settled(db, failed, refunded=True)
    assert_problem(api.request("DELETE", f"/api/jobs/{uuid.uuid4()}", token=u.access), 404,
                   "not_found")


def test_deadline_exceeded(api, db, register):
    u = register()
    with config_patch(db, "providers", ["deadlines", "tts"], 2):
        job = submit_tts(api, u, "Too slow. " + sim(delay_ms=3_600_000, webhooks="none"))
    job = wait_for_job(api, u, job["id"], "failed", timeout=20)
    assert job["error"]["code"] == "deadline_exceeded", job
    assert_settled(db, job, refunded=True)
    assert audio_rows(db, job["id"]) == 0
    # The work at the provider is stopped too.
    wait_until(lambda: sim_one_prediction(job["id"])["status"] == "canceled", 10,
               what="the provider's work to be cancelled")


def test_identical_work_of_another_job_not_adopted(api, db, register):
    """Two users ask for exactly the same speech; the second job's create fails
    with a 503 (it may have started work), so it is looked up at the provider:
    the first job's prediction has exactly its input, but it is the first job's,
    so the second gets work of its own."""
    text = f"Twin request {uuid.uuid4().hex[:8]}. " + sim(create_status=503, times=1)
    a_user, b_user = register(), register()
    a = wait_for_job(api, a_user, submit_tts(api, a_user, text)["id"], "succeeded")
    b = wait_for_job(api, b_user, submit_tts(api, b_user, text)["id"], "succeeded", timeout=30)
    pa, pb = sim_one_prediction(a["id"]), sim_one_prediction(b["id"])
    assert pa["input"] == pb["input"] and pa["id"] != pb["id"]
    assert job_row(db, a["id"])[2] == pa["id"] and job_row(db, b["id"])[2] == pb["id"]
    assert pb["create_attempts"] == 2  # the 503, then its own create
    for job in (a, b):
        succeeded_normally_simple(api, db, job)
