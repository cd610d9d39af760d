"""A narrated video rendered by the render engine on the local path (narration,
title cards, MP4 whose length is the narration's, captions that follow the
sections), its refusals, and auto mode: the chain of steps started by
POST /api/videos {auto: true}, paid from a hold, with a failing step that stops
the chain and gives back what the steps not done held."""
import uuid

import pytest

from conftest import assert_json, assert_problem
from explainerkit import SECTIONS, create_video, get_video, run_step, wait_video
from jobkit import VOICE, balance, no_rate_limit
from test_videos_steps import cues
from videokit import ffprobe, stream

SECONDS = 60


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def fetch_mp4(api, url, tmp_path):
    r = api.s.get(url, timeout=30)
    assert r.status_code == 200
    p = tmp_path / "v.mp4"
    p.write_bytes(r.content)
    return ffprobe(str(p))


def ledger_kinds(db, user):
    return [(k, int(d)) for k, d in db.rows(
        "SELECT kind, delta FROM credit_ledger WHERE user_id = :'u' AND kind LIKE 'batch%' "
        "ORDER BY created_at, id", u=user.id)]


def test_render_local(api, register, db, tmp_path):
    u = register()
    v = create_video(api, u, script={"sections": SECTIONS})
    assert run_step(api, u, v["id"], "narration", {"voiceId": VOICE})["status"] == "succeeded"
    assert run_step(api, u, v["id"], "images")["status"] == "succeeded"
    job = run_step(api, u, v["id"], "render", {"captions": "burned", "transition": "dissolve"},
                   timeout=300)
    assert job["status"] == "succeeded", job
    got = get_video(api, u, v["id"])
    assert got["status"] == "ready" and got["progress"] == 100
    narration = got["sections"][-1]["endMs"]
    assert abs(got["durationMs"] - narration) <= 200, (got["durationMs"], narration)
    info = fetch_mp4(api, got["url"], tmp_path)
    assert abs(float(info["format"]["duration"]) * 1000 - narration) <= 200
    vs = stream(info, "video")
    assert (vs["width"], vs["height"]) == (1280, 720) and stream(info, "audio")
    assert api.s.get(got["posterUrl"], timeout=10).content[:2] == b"\xff\xd8"
    # Captions: one cue or more per section, inside it.
    vtt = api.get(f"/api/videos/{v['id']}/captions.vtt", token=u.access).text
    cs = cues(vtt)
    for s in got["sections"]:
        assert any(s["startMs"] <= c[0] < s["endMs"] for c in cs)


def test_render_refusals(api, register, db):
    u = register()
    before = balance(db, u)
    v = create_video(api, u, script={"sections": SECTIONS})
    p = assert_problem(api.post(f"/api/videos/{v['id']}/render", {}, token=u.access), 409,
                       "invalid_state")
    assert p["missing"] == "narration, images"
    e = create_video(api, u)
    p = assert_problem(api.post(f"/api/videos/{e['id']}/render", {}, token=u.access), 409)
    assert p["missing"] == "script, narration, images"
    for body, field in [({"resolution": "4k"}, "resolution"), ({"aspect": "2:1"}, "aspect"),
                        ({"captions": "loud"}, "captions"), ({"musicVolume": 101}, "musicVolume"),
                        ({"transition": "spin"}, "transition")]:
        assert_problem(api.post(f"/api/videos/{v['id']}/render", body, token=u.access), 400,
                       "validation_failed", fields={field})
    assert balance(db, u) == before
    assert run_step(api, u, v["id"], "narration", {"voiceId": VOICE})["status"] == "succeeded"
    assert run_step(api, u, v["id"], "images")["status"] == "succeeded"
    assert_problem(api.post(f"/api/videos/{v['id']}/render",
                            {"musicTrackId": str(uuid.uuid4())}, token=u.access), 404)


def test_auto_mode_with_script(api, register, db, tmp_path):
    u = register()
    before = balance(db, u)
    v = create_video(api, u, auto=True, script={"sections": SECTIONS}, resolution="720p",
                     aspect="1:1", captions="sidecar")
    assert v["status"] == "narrating" and v["step"] == "narration"
    got = wait_video(api, u, v["id"], ("ready", "failed"), timeout=300)
    assert got["status"] == "ready", got
    info = fetch_mp4(api, got["url"], tmp_path)
    vs = stream(info, "video")
    assert (vs["width"], vs["height"]) == (720, 720)
    assert abs(got["durationMs"] - got["sections"][-1]["endMs"]) <= 200
    # narration 5 + images 3 + render 10, held at once and all spent.
    assert ledger_kinds(db, u) == [("batch_hold", -18)]
    assert balance(db, u) == before - 18


def test_auto_mode_failing_step(api, register, db):
    u = register()
    before = balance(db, u)
    v = create_video(api, u, auto=True, topic=f"t {uuid.uuid4().hex[:6]} [[refuse]]")
    assert v["status"] == "scripting"
    got = wait_video(api, u, v["id"], ("failed",), timeout=60)
    assert got["error"]["code"] == "llm_refused" and got["error"]["step"] == "script"
    steps = db.rows("SELECT kind, status FROM video_steps WHERE video_id = :'v' ORDER BY position",
                    v=v["id"])
    assert steps == [("script", "failed"), ("narration", "cancelled"),
                     ("images", "cancelled"), ("video_render", "cancelled")]
    # script 2 + narration 5 + images 3 + render 10 held, all given back.
    assert ledger_kinds(db, u) == [("batch_hold", -20), ("batch_release", 20)]
    assert balance(db, u) == before


def test_auto_mode_refused(api, register, db):
    u = register()
    before = balance(db, u)
    db.rows("UPDATE users SET credits = 5 WHERE id = :'u'", u=u.id)
    db.rows("INSERT INTO credit_ledger (user_id, delta, kind, reason) "
            "VALUES (:'u', :'d', 'adjustment', 'test')", u=u.id, d=str(5 - before))
    p = assert_problem(api.post("/api/videos", {"title": "T", "topic": "t", "auto": True},
                                token=u.access), 402, "insufficient_credits")
    assert p["required"] == 20 and p["balance"] == 5
    assert int(db.scalar("SELECT count(*) FROM videos WHERE user_id = :'u'", u=u.id)) == 0
