"""POST|GET /api/clips and GET|PATCH|DELETE /api/clips/{id}: a clip and its job made
through the one submit path (cost per second, idempotency, refusals that change
nothing), the clip following its job to a stored video and poster (the Runway
simulator makes it), approval, ordering, deletion (a running clip is cancelled and
refunded), and someone else's image or project as 404."""
import uuid

import pytest
import requests

from conftest import RFC3339_UTC, UUID_RE, assert_json, assert_problem
from imagekit import (CLIP_INPUT_KEYS, CLIP_KEYS, STORAGE, clip_setup, finish_clip,
                      make_project, post_clip, runway_tasks, unique_prompt)
from jobkit import assert_settled, wait_for_job, wait_until

PER_SECOND = 2  # job_costs.video_clip.perSecond of 004_media.sql


@pytest.fixture
def user(register):
    return register()


def clip_count(db, user):
    return int(db.scalar("SELECT count(*) FROM clips WHERE user_id = :'u'", u=user.id))


def test_clip_succeeds_with_video_and_poster(api, db, user):
    p, img = clip_setup(api, db, user)
    before = db.credits(user.id)
    prompt = unique_prompt()
    r = post_clip(api, user, {"projectId": p, "imageId": img["id"], "prompt": prompt,
                              "durationSeconds": 5, "ratio": "9:16"})
    body = assert_json(r, 202)
    clip, job = body["clip"], body["job"]
    assert set(clip) == CLIP_KEYS, clip
    assert UUID_RE.match(clip["id"]) and RFC3339_UTC.match(clip["createdAt"])
    assert (clip["projectId"], clip["imageId"], clip["prompt"], clip["ratio"]) == \
        (p, img["id"], prompt, "9:16")
    assert clip["status"] == "queued" and clip["approved"] is False
    assert clip["jobId"] == job["id"] and job["kind"] == "video_clip"
    assert r.headers["Location"] == f"/api/jobs/{job['id']}"
    assert job["costCredits"] == 5 * PER_SECOND
    assert db.credits(user.id) == before - 5 * PER_SECOND
    # the job's input is exactly what the providers read
    keys = db.scalar("SELECT string_agg(k, ',' ORDER BY k) FROM jobs, jsonb_object_keys(input) k"
                     " WHERE id = :'j'", j=job["id"]).split(",")
    assert set(keys) == CLIP_INPUT_KEYS
    inp = db.scalar("SELECT input::text FROM jobs WHERE id = :'j'", j=job["id"])
    assert '"width": 720' in inp and '"height": 1280' in inp and clip["id"] in inp
    assert "imageKey" not in job["input"]  # the storage key is not shown

    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] == "succeeded", done
    res = done["result"]
    assert set(res) == {"clipId", "url", "posterUrl", "durationMs"}, res
    assert res["clipId"] == clip["id"] and abs(res["durationMs"] - 5000) <= 100
    got = assert_json(api.get(f"/api/clips/{clip['id']}", token=user.access), 200)
    assert got["status"] == "succeeded" and got["durationMs"] == res["durationMs"]
    video = requests.get(got["url"], timeout=10)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert len(video.content) == got["bytes"]
    poster = requests.get(got["posterUrl"], timeout=10)
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    task = runway_tasks(prompt)
    assert len(task) == 1 and task[0]["ratio"] == "720:1280" and task[0]["duration"] == 5
    assert_settled(db, done, refunded=False)


@pytest.mark.parametrize("body,field", [
    ({"durationSeconds": 7}, "durationSeconds"),
    ({"ratio": "4:3"}, "ratio"),
    ({"prompt": "x" * 1001}, "prompt"),
    ({"imageId": "nope"}, "imageId"),
    ({"projectId": None}, "projectId"),
    ({"extra": 1}, "extra"),
])
def test_bad_input(api, db, user, body, field):
    p, img = clip_setup(api, db, user)
    req = {"projectId": p, "imageId": img["id"], "durationSeconds": 5, **body}
    if req.get("projectId") is None:
        del req["projectId"]
    before = db.credits(user.id)
    assert_problem(post_clip(api, user, req), 400, fields=[field])
    assert db.credits(user.id) == before and clip_count(db, user) == 0


def test_foreign_image_or_project_is_404(api, db, user, register):
    p, img = clip_setup(api, db, user)
    other = register()
    op, oimg = clip_setup(api, db, other)
    before = db.credits(user.id)
    for body in ({"projectId": p, "imageId": oimg["id"]},
                 {"projectId": op, "imageId": img["id"]},
                 {"projectId": p, "imageId": str(uuid.uuid4())}):
        assert_problem(post_clip(api, user, dict(body, durationSeconds=5)), 404)
    assert db.credits(user.id) == before and clip_count(db, user) == 0
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=user.id) == "0"


def test_idempotency(api, db, user):
    p, img = clip_setup(api, db, user)
    body = {"projectId": p, "imageId": img["id"], "prompt": unique_prompt(),
            "durationSeconds": 10}
    key = uuid.uuid4().hex
    a = assert_json(post_clip(api, user, body, idem=key), 202)
    b = assert_json(post_clip(api, user, body, idem=key), 202)
    assert a["job"]["id"] == b["job"]["id"] and a["clip"]["id"] == b["clip"]["id"]
    assert clip_count(db, user) == 1
    assert_problem(post_clip(api, user, dict(body, durationSeconds=5), idem=key), 409,
                   code="idempotency_conflict")
    assert db.scalar("SELECT count(*) FROM credit_ledger WHERE user_id = :'u' "
                     "AND kind = 'job_charge'", u=user.id) == "1"
    assert a["job"]["costCredits"] == 10 * PER_SECOND


def test_insufficient_credits(api, db, user):
    p, img = clip_setup(api, db, user)
    db.grant(user.id, -db.credits(user.id) + 5, kind="adjustment")
    r = post_clip(api, user, {"projectId": p, "imageId": img["id"], "durationSeconds": 5})
    assert_problem(r, 402)
    assert db.credits(user.id) == 5 and clip_count(db, user) == 0


def test_approve_only_succeeded_and_position(api, db, user, register):
    p, img = clip_setup(api, db, user)
    # held at THROTTLED long enough to be PATCHed before it ends
    body = assert_json(post_clip(api, user, {
        "projectId": p, "imageId": img["id"], "durationSeconds": 5,
        "prompt": unique_prompt("[[sim throttled_ms=60000]]")}), 202)
    cid, jid = body["clip"]["id"], body["job"]["id"]
    assert_problem(api.patch(f"/api/clips/{cid}", {"approved": True}, token=user.access), 409,
                   code="invalid_state")
    moved = assert_json(api.patch(f"/api/clips/{cid}", {"position": 7}, token=user.access), 200)
    assert moved["position"] == 7 and moved["approved"] is False
    assert_problem(api.patch(f"/api/clips/{cid}", {"approved": "yes"}, token=user.access), 400)
    assert_problem(api.patch(f"/api/clips/{cid}", {"position": -1}, token=user.access), 400)
    other = register()
    assert_problem(api.patch(f"/api/clips/{cid}", {"position": 1}, token=other.access), 404)
    assert_problem(api.get(f"/api/clips/{cid}", token=other.access), 404)
    finish_clip(db, jid)  # as a provider's success would
    ok = assert_json(api.patch(f"/api/clips/{cid}", {"approved": True}, token=user.access), 200)
    assert ok["approved"] is True and ok["status"] == "succeeded" and ok["url"] and ok["posterUrl"]
    assert assert_json(api.get(f"/api/clips/{cid}", token=user.access), 200)["approved"] is True


def test_delete_running_clip_cancels_and_refunds(api, db, user):
    p, img = clip_setup(api, db, user)
    prompt = unique_prompt("[[sim running_ms=60000]]")
    body = assert_json(post_clip(api, user, {"projectId": p, "imageId": img["id"],
                                             "durationSeconds": 5, "prompt": prompt}), 202)
    cid, jid = body["clip"]["id"], body["job"]["id"]
    wait_for_job(api, user, jid, statuses=("running",), timeout=30)
    # the image is in use while its clip is being made
    assert_problem(api.request("DELETE", f"/api/images/{img['id']}", token=user.access), 409)
    assert api.request("DELETE", f"/api/clips/{cid}", token=user.access).status_code == 204
    assert_problem(api.get(f"/api/clips/{cid}", token=user.access), 404)
    job = wait_for_job(api, user, jid, timeout=10)
    assert job["status"] == "cancelled"
    assert_settled(db, job, refunded=True)
    wait_until(lambda: runway_tasks(prompt)[0]["cancelled"], timeout=20,
               what="the task cancelled at Runway")
    assert api.request("DELETE", f"/api/images/{img['id']}", token=user.access).status_code == 204


def test_delete_finished_clip_removes_files(api, db, user):
    p, img = clip_setup(api, db, user)
    body = assert_json(post_clip(api, user, {"projectId": p, "imageId": img["id"],
                                             "durationSeconds": 5,
                                             "prompt": unique_prompt("[[sim throttled_ms=60000]]")}),
                       202)
    keys = finish_clip(db, body["job"]["id"])
    assert all((STORAGE / k).exists() for k in keys)
    # a finished clip does not hold its image
    assert api.request("DELETE", f"/api/images/{img['id']}", token=user.access).status_code == 204
    got = assert_json(api.get(f"/api/clips/{body['clip']['id']}", token=user.access), 200)
    assert "imageId" not in got and got["url"]
    assert api.request("DELETE", f"/api/clips/{body['clip']['id']}",
                       token=user.access).status_code == 204
    assert not any((STORAGE / k).exists() for k in keys)
    assert_settled(db, body["job"], refunded=False)


def test_list_by_project(api, db, user):
    p, img = clip_setup(api, db, user)
    q = make_project(api, user, "other")
    ids = []
    for proj in (p, p, q):
        ids.append(assert_json(post_clip(api, user, {
            "projectId": proj, "imageId": img["id"], "durationSeconds": 5,
            "prompt": unique_prompt("[[sim throttled_ms=60000]]")}), 202)["clip"]["id"])
    page = assert_json(api.get(f"/api/clips?projectId={p}&limit=1", token=user.access), 200)
    assert page["pagination"]["total"] == 2 and page["items"][0]["id"] == ids[1]
    assert [c["position"] for c in assert_json(
        api.get(f"/api/clips?projectId={p}", token=user.access), 200)["items"]] == [1, 0]
    everything = assert_json(api.get("/api/clips", token=user.access), 200)
    assert sorted(c["id"] for c in everything["items"]) == sorted(ids)
    assert_problem(api.get("/api/clips?projectId=zz", token=user.access), 400)
    for cid in ids:  # leave nothing running at the simulator
        assert api.request("DELETE", f"/api/clips/{cid}", token=user.access).status_code == 204


def test_unauthenticated(api):
    assert_problem(api.post("/api/clips", {}), 401)
    assert_problem(api.get(f"/api/clips/{uuid.uuid4()}"), 401)
