"""Compilations: approved clips compiled into one MP4 by the render engine. A real
compilation checked with ffprobe (1280x720, duration within 100 ms of the
expected, an audio stream with the music in it, a clip of another ratio
letterboxed), signed links that seek; every refusal (400, 404, 409) changing
nothing and moving no credit; idempotency; list, get, delete (which cancels and
refunds a compilation still rendering)."""
import json
import subprocess
import time
import urllib.parse

import pytest

from conftest import assert_json, assert_problem, login
from jobkit import assert_settled, config_patch
from videokit import (api_job, ffprobe, make_clips, make_project, pending_clip, stored_path,
                      stream, wait_api_job)

CLIP_MS = 5000


@pytest.fixture(scope="module")
def studio(db):
    """A user with a project of three approved 5 s clips (16:9, 9:16, 1:1) and one
    that is not approved, all rendered by the local provider."""
    from conftest import do_register, Api
    api = Api()
    u = do_register(api)
    db.grant(u.id, 1000)
    project = make_project(db, u.id)
    with config_patch(db, "rate_limits", ["generationsPerMinute"], 0):
        clips = make_clips(db, u.id, project, [(5, "16:9"), (5, "9:16"), (5, "1:1"),
                                                (5, "16:9")])
    db.rows("UPDATE clips SET approved = false WHERE id = :'c'", c=clips[3][0])
    api.close()
    return {"user": u, "project": project, "clips": [c[0] for c in clips[:3]],
            "unapproved": clips[3][0]}


@pytest.fixture(autouse=True)
def unlimited(db):
    with config_patch(db, "rate_limits", ["generationsPerMinute"], 0):
        yield


def music_id(api):
    items = assert_json(api.get("/api/music-tracks"), 200)["items"]
    return [t for t in items if t["title"].startswith("Generated ambient")][0]["id"]


def post(api, user, body, idem=None):
    h = {"Idempotency-Key": idem} if idem else None
    return api.post("/api/compilations", body, token=user.access, headers=h)


def snapshot(db, user_id):
    return (db.credits(user_id),
            db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=user_id),
            db.scalar("SELECT count(*) FROM compilations WHERE user_id = :'u'", u=user_id))


def gray_frame(path, at):
    """The luma plane of the frame at `at` seconds, 1280x720 bytes."""
    p = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(at), "-i", path, "-frames:v", "1",
                        "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) == 1280 * 720
    return p.stdout


def column_mean(frame, x0, x1):
    total = sum(frame[y * 1280 + x] for y in range(0, 720, 8) for x in range(x0, x1, 4))
    return total / (len(range(0, 720, 8)) * len(range(x0, x1, 4)))


def mean_volume(path):
    p = subprocess.run(["ffmpeg", "-v", "info", "-i", path, "-map", "0:a", "-af", "volumedetect",
                        "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    line = [x for x in p.stderr.splitlines() if "mean_volume" in x][0]
    return float(line.split("mean_volume:")[1].split("dB")[0])


def test_compilation_with_fades_and_music(api, db, studio):
    u = studio["user"]
    before = db.credits(u.id)
    body = {"projectId": studio["project"], "clipIds": studio["clips"], "transition": "fade",
            "transitionSeconds": 1, "musicTrackId": music_id(api), "musicVolume": 60}
    r = post(api, u, body)
    b = assert_json(r, 202)
    comp, job = b["compilation"], b["job"]
    assert r.headers["Location"] == f"/api/jobs/{job['id']}"
    assert comp["jobId"] == job["id"] and job["kind"] == "video_compile"
    assert comp["clipIds"] == studio["clips"] and comp["transition"] == "fade"
    assert comp["status"] == "queued" and "url" not in comp
    assert "source" not in job["input"]  # storage keys stay hidden
    assert db.credits(u.id) == before - job["costCredits"]

    done = wait_api_job(api, u, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["contentType"] == "video/mp4" and done["result"]["url"]
    c = assert_json(api.get(f"/api/compilations/{comp['id']}", token=u.access), 200)
    expected = 3 * CLIP_MS - 2 * 1000
    assert c["status"] == "succeeded" and c["progress"] == 100
    assert c["durationMs"] == expected
    key = urllib.parse.urlparse(c["url"]).path[len("/media/"):]
    path = stored_path(key)
    info = ffprobe(path)
    v, a = stream(info, "video"), stream(info, "audio")
    assert (v["width"], v["height"]) == (1280, 720) and v["codec_name"] == "h264"
    assert abs(float(v["duration"]) * 1000 - expected) <= 100
    assert abs(float(info["format"]["duration"]) * 1000 - expected) <= 100
    assert a is not None and a["codec_name"] == "aac"
    assert mean_volume(path) > -45  # the music is in it
    assert int(info["format"]["size"]) == c["bytes"]
    # The 9:16 clip (second, 4..9 s) is pillarboxed: black at the sides, picture in
    # the middle; the 16:9 one (first) fills the frame.
    mid = gray_frame(path, 6.5)
    assert column_mean(mid, 0, 300) < 24 and column_mean(mid, 1000, 1280) < 24
    assert column_mean(mid, 560, 720) > 40
    first = gray_frame(path, 1.5)
    assert column_mean(first, 0, 300) > 24
    # Signed links seek.
    r = api.request("GET", c["url"][len(api.base):], headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.headers["Content-Type"] == "video/mp4"
    r = api.request("GET", c["posterUrl"][len(api.base):])
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
    assert_settled(db, job, refunded=False)


def test_cut_compilation_without_music(api, db, studio):
    u = studio["user"]
    body = {"projectId": studio["project"], "clipIds": studio["clips"][:2] + studio["clips"][:1],
            "transition": "none", "musicVolume": 0}
    b = assert_json(post(api, u, body), 202)
    done = wait_api_job(api, u, b["job"]["id"])
    assert done["status"] == "succeeded", done
    c = assert_json(api.get(f"/api/compilations/{b['compilation']['id']}", token=u.access), 200)
    assert c["durationMs"] == 3 * CLIP_MS and "musicTrackId" not in c
    info = ffprobe(stored_path(urllib.parse.urlparse(c["url"]).path[len("/media/"):]))
    assert abs(float(stream(info, "video")["duration"]) * 1000 - 3 * CLIP_MS) <= 100
    assert stream(info, "audio") is not None  # silent, but there


def refusals(studio, other_clip, pending, music):
    ok = {"projectId": studio["project"], "clipIds": studio["clips"], "transition": "fade",
          "musicVolume": 50}
    return [
        ({**ok, "clipIds": studio["clips"] * 17}, 400, "validation_failed"),  # 51 clips
        ({**ok, "clipIds": []}, 400, "validation_failed"),
        ({**ok, "clipIds": ["nope"]}, 400, "validation_failed"),
        ({**ok, "transition": "spin"}, 400, "validation_failed"),
        ({**ok, "transition": "wipeleft"}, 400, "validation_failed"),
        ({**ok, "transitionSeconds": 0.1}, 400, "validation_failed"),
        ({**ok, "transitionSeconds": 2.5}, 400, "validation_failed"),
        ({**ok, "musicVolume": 101}, 400, "validation_failed"),
        ({k: v for k, v in ok.items() if k != "musicVolume"}, 400, "validation_failed"),
        ({**ok, "extra": 1}, 400, "validation_failed"),
        ({**ok, "clipIds": studio["clips"] + [studio["unapproved"]]}, 409, "invalid_state"),
        ({**ok, "clipIds": [pending] + studio["clips"]}, 409, "invalid_state"),
        ({**ok, "clipIds": studio["clips"] + [other_clip]}, 404, "not_found"),
        ({**ok, "clipIds": ["00000000-0000-4000-8000-0000000000aa"]}, 404, "not_found"),
        ({**ok, "musicTrackId": "00000000-0000-4000-8000-0000000000bb"}, 404, "not_found"),
        ({**ok, "projectId": "00000000-0000-4000-8000-0000000000cc"}, 404, "not_found"),
    ]


def test_refusals_change_nothing(api, db, studio, register):
    u = studio["user"]
    other = register()
    other_project = make_project(db, other.id)
    # Another user's clip row (its job need not have run: it is not theirs to use).
    other_clip, _ = pending_clip(db, other.id, other_project)
    pending, pending_job = pending_clip(db, u.id, studio["project"])
    try:
        before = snapshot(db, u.id)
        for body, status, code in refusals(studio, other_clip, pending, music_id(api)):
            assert_problem(post(api, u, body), status, code)
            assert snapshot(db, u.id) == before, body
        # The other user's own project is not found for this user either.
        body = {"projectId": other_project, "clipIds": [other_clip], "transition": "none",
                "musicVolume": 0}
        assert_problem(post(api, u, body), 404, "not_found")
        assert_problem(api.post("/api/compilations", body), 401)
        assert snapshot(db, u.id) == before
    finally:
        db.rows("DELETE FROM clips WHERE id IN (:'a', :'b')", a=pending, b=other_clip)


def test_idempotency(api, db, studio):
    u = studio["user"]
    body = {"projectId": studio["project"], "clipIds": studio["clips"][:1], "transition": "none",
            "musicVolume": 10}
    key = "compile-" + str(time.time())
    a = assert_json(post(api, u, body, idem=key), 202)
    credits = db.credits(u.id)
    b = assert_json(post(api, u, dict(reversed(list(body.items()))), idem=key), 202)
    assert b["compilation"]["id"] == a["compilation"]["id"]
    assert b["job"]["id"] == a["job"]["id"]
    assert db.credits(u.id) == credits
    assert_problem(post(api, u, {**body, "musicVolume": 11}, idem=key), 409,
                   "idempotency_conflict")
    wait_api_job(api, u, a["job"]["id"])


def test_list_get_delete(api, db, studio, register):
    u = studio["user"]
    body = {"projectId": studio["project"], "clipIds": studio["clips"][:1], "transition": "none",
            "musicVolume": 0}
    b = assert_json(post(api, u, body), 202)
    cid = b["compilation"]["id"]
    page = assert_json(api.get(f"/api/compilations?projectId={studio['project']}&limit=1",
                               token=u.access), 200)
    assert page["items"][0]["id"] == cid
    assert page["pagination"]["limit"] == 1 and page["pagination"]["total"] >= 1
    assert_problem(api.get("/api/compilations?projectId=x", token=u.access), 400)
    assert_problem(api.get("/api/compilations?limit=101", token=u.access), 400)
    stranger = register()
    assert assert_json(api.get("/api/compilations", token=stranger.access), 200)["items"] == []
    assert_problem(api.get(f"/api/compilations/{cid}", token=stranger.access), 404)
    assert_problem(api.request("DELETE", f"/api/compilations/{cid}", token=stranger.access), 404)
    done = wait_api_job(api, u, b["job"]["id"])
    c = assert_json(api.get(f"/api/compilations/{cid}", token=u.access), 200)
    keys = [urllib.parse.urlparse(c[k]).path[len("/media/"):] for k in ("url", "posterUrl")]
    r = api.request("DELETE", f"/api/compilations/{cid}", token=u.access)
    assert r.status_code == 204, r.text
    assert_problem(api.get(f"/api/compilations/{cid}", token=u.access), 404)
    import os
    assert not any(os.path.exists(stored_path(k)) for k in keys)
    assert_settled(db, done, refunded=False)


def test_delete_while_rendering_cancels_and_refunds(api, db, studio):
    u = studio["user"]
    body = {"projectId": studio["project"], "clipIds": studio["clips"][:2],
            "transition": "dissolve", "musicVolume": 0}
    b = assert_json(post(api, u, body), 202)
    # Held out of the poller's reach, so it is surely not done.
    db.rows("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = :'j' "
            "AND status = 'queued'", j=b["job"]["id"])
    before = db.credits(u.id)
    r = api.request("DELETE", f"/api/compilations/{b['compilation']['id']}", token=u.access)
    assert r.status_code == 204
    job = api_job(api, u, b["job"]["id"])
    if job["status"] == "cancelled":
        assert db.credits(u.id) == before + job["costCredits"]
        assert_settled(db, job, refunded=True)


def test_music_in_use_cannot_be_removed(api, db, studio, register):
    from audiokit import make_audio
    admin = register()
    db.rows("UPDATE users SET role = 'admin' WHERE id = :'u'", u=admin.id)
    admin.access = login(api, admin.email)[0]
    t = assert_json(api.request("POST", "/api/admin/music-tracks?title=held", token=admin.access,
                                data=make_audio("wav", seconds=2), ctype="audio/wav"), 201)
    u = studio["user"]
    body = {"projectId": studio["project"], "clipIds": studio["clips"][:1], "transition": "none",
            "musicTrackId": t["id"], "musicVolume": 30}
    b = assert_json(post(api, u, body), 202)
    db.rows("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = :'j' "
            "AND status = 'queued'", j=b["job"]["id"])
    if api_job(api, u, b["job"]["id"])["status"] == "queued":
        assert_problem(api.request("DELETE", f"/api/admin/music-tracks/{t['id']}",
                                   token=admin.access), 409, "invalid_state")
    assert api.request("DELETE", f"/api/compilations/{b['compilation']['id']}",
                       token=u.access).status_code == 204
    assert api.request("DELETE", f"/api/admin/music-tracks/{t['id']}",
                       token=admin.access).status_code == 204
