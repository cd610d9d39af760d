"""Contract audit (API.md, Conventions and Video): an Idempotency-Key on every POST
that starts video work — the same key and body answer the same resource with the
same status, another body 409 idempotency_conflict, and nothing new starts or is
charged; a video step replayed while it runs answers its job, not invalid_state."""
import uuid

import pytest

from conftest import UUID_RE, assert_json, assert_problem
from explainerkit import SECTIONS
from jobkit import VOICE, balance, no_rate_limit


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def key():
    return f"audit-{uuid.uuid4().hex}"


def videos_of(db, user):
    return int(db.scalar("SELECT count(*) FROM videos WHERE user_id = :'u'", u=user.id))


def test_batch_same_key_other_body_is_a_conflict(api, register, db):
    u = register()
    db.grant(u.id, 1000)
    k = key()
    body = {"topics": [f"slow dogs {uuid.uuid4().hex[:6]} [[slow=5]]"], "voiceId": VOICE}
    r1 = api.post("/api/batches", body, token=u.access, headers={"Idempotency-Key": k})
    b1 = assert_json(r1, 202)
    assert UUID_RE.match(b1["id"])
    held = balance(db, u)
    r2 = api.post("/api/batches", body, token=u.access, headers={"Idempotency-Key": k})
    assert assert_json(r2, 202)["id"] == b1["id"]
    assert r2.headers.get("Location") == r1.headers.get("Location")
    other = dict(body, topics=["cats instead"])
    assert_problem(api.post("/api/batches", other, token=u.access,
                            headers={"Idempotency-Key": k}), 409, "idempotency_conflict")
    assert_problem(api.post("/api/batches", dict(body, targetSeconds=30), token=u.access,
                            headers={"Idempotency-Key": k}), 409, "idempotency_conflict")
    assert balance(db, u) == held and videos_of(db, u) == 1
    assert_json(api.request("DELETE", f"/api/batches/{b1['id']}", token=u.access), 200)


def test_auto_video_same_key_starts_one_chain(api, register, db):
    u = register()
    db.grant(u.id, 1000)
    k = key()
    body = {"title": "Rice", "topic": f"rice {uuid.uuid4().hex[:6]} [[slow=5]]", "auto": True,
            "voiceId": VOICE}
    v1 = assert_json(api.post("/api/videos", body, token=u.access,
                              headers={"Idempotency-Key": k}), 201)
    held = balance(db, u)
    v2 = assert_json(api.post("/api/videos", body, token=u.access,
                              headers={"Idempotency-Key": k}), 201)
    assert v2["id"] == v1["id"]
    assert_problem(api.post("/api/videos", dict(body, title="Other"), token=u.access,
                            headers={"Idempotency-Key": k}), 409, "idempotency_conflict")
    # the key of an auto video is not a batch's either
    assert_problem(api.post("/api/batches", {"topics": ["x"], "voiceId": VOICE},
                            token=u.access, headers={"Idempotency-Key": k}),
                   409, "idempotency_conflict")
    assert balance(db, u) == held and videos_of(db, u) == 1
    assert api.request("DELETE", f"/api/videos/{v1['id']}", token=u.access).status_code == 204


def test_script_step_replayed_while_running(api, register, db):
    u = register()
    k = key()
    topic = f"slow script {uuid.uuid4().hex[:6]} [[slow=5]]"
    v = assert_json(api.post("/api/videos", {"title": "T", "topic": topic}, token=u.access), 201)
    other = assert_json(api.post("/api/videos", {"title": "T", "topic": "other"},
                                 token=u.access), 201)
    r1 = api.post(f"/api/videos/{v['id']}/script", token=u.access, headers={"Idempotency-Key": k})
    j1 = assert_json(r1, 202)
    assert r1.headers.get("Location") == f"/api/jobs/{j1['id']}"
    after = balance(db, u)
    r2 = api.post(f"/api/videos/{v['id']}/script", token=u.access, headers={"Idempotency-Key": k})
    j2 = assert_json(r2, 202)
    assert j2["id"] == j1["id"] and r2.headers.get("Location") == r1.headers.get("Location")
    # the same key for another video's step, or another kind of job: a conflict
    assert_problem(api.post(f"/api/videos/{other['id']}/script", token=u.access,
                            headers={"Idempotency-Key": k}), 409, "idempotency_conflict")
    assert_problem(api.post("/api/sfx", {"prompt": "rain"}, token=u.access,
                            headers={"Idempotency-Key": k}), 409, "idempotency_conflict")
    # without the key, the running step still refuses a second one
    assert_problem(api.post(f"/api/videos/{v['id']}/script", token=u.access), 409,
                   "invalid_state")
    assert balance(db, u) == after
    assert int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id)) == 1
    assert api.request("DELETE", f"/api/videos/{v['id']}", token=u.access).status_code == 204


def test_put_script_then_video_shape(api, register):
    u = register()
    v = assert_json(api.post("/api/videos", {"title": "T", "topic": "t"}, token=u.access), 201)
    assert v["status"] == "draft" and v["sections"] == [] and v["images"] == []
    r = api.request("PUT", f"/api/videos/{v['id']}/script", token=u.access,
                    json_body={"sections": SECTIONS})
    got = assert_json(r, 200)
    assert [s["content"] for s in got["sections"]] == [s["content"] for s in SECTIONS]
    assert_problem(api.request("PUT", f"/api/videos/{v['id']}/script", token=u.access,
                               json_body={"sections": []}), 400, "validation_failed",
                   fields={"sections"})
    missing = assert_problem(api.post(f"/api/videos/{v['id']}/render", {}, token=u.access),
                             409, "invalid_state")
    assert "narration" in missing["detail"] and "images" in missing["detail"]
