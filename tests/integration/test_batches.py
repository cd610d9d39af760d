"""Batches: a video per topic, the whole cost held at submit (402 otherwise),
refusals that change nothing, a cancelled video and a cancelled batch giving back
what was not spent."""
import uuid

import pytest

from conftest import UUID_RE, assert_json, assert_problem
from explainerkit import wait_video
from jobkit import VOICE, balance, no_rate_limit
from test_videos_render import ledger_kinds

PER_VIDEO = 2 + 5 + 3 + 10  # script, narration, images, render


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def post_batch(api, user, status=202, **body):
    body.setdefault("voiceId", VOICE)
    r = api.post("/api/batches", body, token=user.access)
    return assert_json(r, status) if status == 202 else r


@pytest.mark.parametrize("body,fields", [
    ({"topics": []}, {"topics"}),
    ({"topics": [f"t{i}" for i in range(21)]}, {"topics"}),
    ({"topics": ["fine", "   "]}, {"topics[1]"}),
    ({"topics": ["x" * 501]}, {"topics[0]"}),
    ({"topics": "rice"}, {"topics"}),
    ({"topics": [3]}, {"topics[0]"}),
    ({"topics": ["a"], "voiceId": "v"}, {"voiceId"}),
    ({"topics": ["a"], "resolution": "8k"}, {"resolution"}),
])
def test_batch_refused(api, register, db, body, fields):
    u = register()
    before = balance(db, u)
    r = post_batch(api, u, status=400, **body)
    assert_problem(r, 400, "validation_failed", fields=fields)
    assert balance(db, u) == before
    assert int(db.scalar("SELECT count(*) FROM videos WHERE user_id = :'u'", u=u.id)) == 0


def test_batch_voice_not_yours_and_402(api, register, db):
    u = register()
    before = balance(db, u)
    assert_problem(post_batch(api, u, status=404, topics=["a"], voiceId=str(uuid.uuid4())), 404)
    p = assert_problem(post_batch(api, u, status=402, topics=[f"t{i}" for i in range(6)]), 402,
                       "insufficient_credits")
    assert p["required"] == 6 * PER_VIDEO and p["balance"] == before
    assert balance(db, u) == before and ledger_kinds(db, u) == []


def test_batch_with_a_cancelled_video(api, register, db):
    u = register()
    before = balance(db, u)
    slow = f"slow {uuid.uuid4().hex[:6]} [[slow=3]]"
    b = post_batch(api, u, topics=["How rice grows", slow], targetSeconds=15)
    assert UUID_RE.match(b["id"]) and b["status"] == "running" and len(b["videos"]) == 2
    assert ledger_kinds(db, u) == [("batch_hold", -2 * PER_VIDEO)]
    # Delete the slow video while its script runs: its steps are given back.
    slow_video = next(v for v in b["videos"] if v["topic"] == slow)
    assert api.request("DELETE", f"/api/videos/{slow_video['id']}",
                       token=u.access).status_code == 204
    first = next(v for v in b["videos"] if v["topic"] != slow)
    done = wait_video(api, u, first["id"], ("ready", "failed"), timeout=300)
    assert done["status"] == "ready", done
    got = assert_json(api.get(f"/api/batches/{b['id']}", token=u.access), 200)
    assert got["status"] == "done" and got["progress"] == 100
    assert [v["id"] for v in got["videos"]] == [first["id"]]
    assert ledger_kinds(db, u) == [("batch_hold", -2 * PER_VIDEO), ("batch_release", PER_VIDEO)]
    assert balance(db, u) == before - PER_VIDEO
    other = register()
    assert_problem(api.get(f"/api/batches/{b['id']}", token=other.access), 404)


def test_batch_cancel(api, register, db):
    u = register()
    before = balance(db, u)
    b = post_batch(api, u, topics=[f"slow {uuid.uuid4().hex[:6]} [[slow=3]]", "Second topic"])
    r = api.request("DELETE", f"/api/batches/{b['id']}", token=u.access)
    got = assert_json(r, 200)
    assert got["status"] == "cancelled"
    assert all(v["status"] == "failed" for v in got["videos"])
    assert balance(db, u) == before
    assert ledger_kinds(db, u) == [("batch_hold", -2 * PER_VIDEO),
                                   ("batch_release", PER_VIDEO), ("batch_release", PER_VIDEO)]
    assert_problem(api.request("DELETE", f"/api/batches/{uuid.uuid4()}", token=u.access), 404)


def test_batch_idempotent(api, register, db):
    u = register()
    key = uuid.uuid4().hex
    h = {"Idempotency-Key": key}
    a = assert_json(api.post("/api/batches", {"topics": ["a"], "voiceId": VOICE},
                             token=u.access, headers=h), 202)
    b = assert_json(api.post("/api/batches", {"topics": ["a"], "voiceId": VOICE},
                             token=u.access, headers=h), 202)
    assert a["id"] == b["id"]
    assert ledger_kinds(db, u) == [("batch_hold", -PER_VIDEO)]
    api.request("DELETE", f"/api/batches/{a['id']}", token=u.access)
