"""Clips at Runway, through its simulator's faults: THROTTLED then success with
progress, a SAFETY failure reported as content_rejected and refunded, a failed task
refunded, 5xx and 429 (Retry-After) on create retried without a second task, an
expired output link and an output that is no video failed and refunded, a create
that never answers failed and refunded rather than created twice, and the cap on
tasks at Runway at once. The ledger holds after each (conftest)."""
import time

import pytest

from conftest import assert_json
from imagekit import clip_setup, post_clip, runway, runway_tasks, unique_prompt
from jobkit import assert_settled, wait_for_job


@pytest.fixture
def user(register):
    return register()


def submit(api, db, user, extra, seconds=5):
    p, img = clip_setup(api, db, user)
    prompt = unique_prompt(extra)
    body = assert_json(post_clip(api, user, {"projectId": p, "imageId": img["id"],
                                             "durationSeconds": seconds, "prompt": prompt}), 202)
    return body["job"], prompt


def test_throttled_then_running_then_success(api, db, user):
    job, prompt = submit(api, db, user, "[[sim throttled_ms=1500 running_ms=3000]]", seconds=10)
    seen = []
    done = wait_for_job(api, user, job["id"], timeout=60, interval=0.1, seen=seen)
    assert done["status"] == "succeeded", done
    statuses = [s for s, _ in seen]
    assert "running" in statuses, seen
    progress = [p for s, p in seen if s == "running"]
    assert any(0 < p < 100 for p in progress), seen
    assert progress == sorted(progress), seen  # never backwards
    assert abs(done["result"]["durationMs"] - 10000) <= 100
    tasks = runway_tasks(prompt)
    assert len(tasks) == 1 and tasks[0]["status"] == "SUCCEEDED"
    assert tasks[0]["imageBytes"] > 100  # the image went inline, as a data URI
    assert_settled(db, done, refunded=False)


@pytest.mark.parametrize("marker,code", [("[[safety]]", "content_rejected"),
                                         ("[[fail]]", "provider_failed")])
def test_failed_task_is_refunded(api, db, user, marker, code):
    before = db.credits(user.id)
    job, prompt = submit(api, db, user, marker)
    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == code, done
    if code == "content_rejected":
        assert "SAFETY" in done["error"]["message"]
    assert_settled(db, done, refunded=True)
    assert db.credits(user.id) == before
    clip = assert_json(api.get(f"/api/clips/{done['input']['clipId']}", token=user.access), 200)
    assert clip["status"] == "failed" and "url" not in clip


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_create_is_retried(api, db, user, status):
    job, prompt = submit(api, db, user, f"[[sim create_status={status} times=1]]")
    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] == "succeeded", done
    assert len(runway_tasks(prompt)) == 1  # the refused create made no task
    assert_settled(db, done, refunded=False)


def test_429_retry_after_is_honoured(api, db, user):
    t0 = time.monotonic()
    job, prompt = submit(api, db, user, "[[sim create_status=429 times=2 retry_after=1]]")
    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] == "succeeded", done
    assert time.monotonic() - t0 >= 2.0  # two waits of Retry-After: 1
    assert len(runway_tasks(prompt)) == 1
    assert_settled(db, done, refunded=False)


@pytest.mark.parametrize("fault", ["expired=1", "bad_output=1"])
def test_unusable_output_is_failed_and_refunded(api, db, user, fault):
    job, _ = submit(api, db, user, f"[[sim {fault}]]")
    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "output_unavailable", done
    assert_settled(db, done, refunded=True)


def test_poll_errors_are_retried(api, db, user):
    job, _ = submit(api, db, user, "[[sim get_status=500 times=2]]")
    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] == "succeeded", done


def test_lost_create_is_refunded_never_created_twice(api, db, user):
    """The create lands at Runway but its answer never comes: Runway lists no tasks,
    so the job cannot be matched to its task; it is failed and refunded, and no
    second task is created."""
    job, prompt = submit(api, db, user, "[[sim hang_create=1 times=1]]")
    done = wait_for_job(api, user, job["id"], timeout=90)
    assert done["status"] == "failed" and done["error"]["code"] == "provider_unknown", done
    assert len(runway_tasks(prompt)) == 1
    assert_settled(db, done, refunded=True)


def test_concurrency_cap(api, db, register):
    """No more tasks at Runway at once than RV_RUNWAY_MAX_RUNNING (5)."""
    jobs = []
    for _ in range(2):
        u = register()
        for _ in range(3):
            jobs.append((u, submit(api, db, u, "[[sim running_ms=2500]]")[0]))
    # the sixth job waits its turn: at most five tasks at Runway at once
    peak = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        busy = int(db.scalar("SELECT count(*) FROM jobs WHERE provider = 'runway' "
                             "AND status IN ('dispatching', 'running')"))
        peak = max(peak, busy)
        states = {db.scalar("SELECT status FROM jobs WHERE id = :'j'", j=j["id"]) for _, j in jobs}
        if states <= {"succeeded", "failed", "cancelled"}:
            break
        time.sleep(0.1)
    assert peak <= 5, peak
    for u, j in jobs:
        assert wait_for_job(api, u, j["id"], timeout=5)["status"] == "succeeded"


def test_deadline_cancels_the_task_and_refunds(api, db, user):
    job, prompt = submit(api, db, user, "[[sim running_ms=120000]]")
    wait_for_job(api, user, job["id"], statuses=("running",), timeout=30)
    db.run("UPDATE jobs SET deadline_at = now() WHERE id = :'j'", j=job["id"])
    done = wait_for_job(api, user, job["id"], timeout=30)
    assert done["status"] == "failed" and done["error"]["code"] == "deadline_exceeded", done
    assert_settled(db, done, refunded=True)
    assert runway_tasks(prompt)[0]["cancelled"]  # DELETE /v1/tasks/{id} reached Runway
