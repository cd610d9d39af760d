"""The steps of a narrated video after its script: narration (local speech with
word timings, one audio track), captions, and the refusals of a step whose
inputs are missing or not the caller's."""
import re
import uuid

import pytest

from conftest import assert_json, assert_problem
from jobkit import VOICE, assert_settled, balance, no_rate_limit
from explainerkit import SECTIONS, create_video, get_video, run_step

CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def ms(h, m, s, f):
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(f)


def cues(vtt):
    lines = vtt.split("\n")
    assert lines[0] == "WEBVTT"
    out = []
    for i, line in enumerate(lines):
        m = CUE.match(line)
        if m:
            g = m.groups()
            out.append((ms(*g[:4]), ms(*g[4:]), lines[i + 1]))
    return out


def test_narration(api, register, db):
    u = register()
    v = create_video(api, u, script={"sections": SECTIONS})
    job = run_step(api, u, v["id"], "narration", {"voiceId": VOICE, "speed": 1.1})
    assert job["status"] == "succeeded" and job["provider"] == "local", job
    assert_settled(db, job, refunded=False)
    got = get_video(api, u, v["id"])
    secs = got["sections"]
    assert got["narrationAudioId"] == job["result"]["audioId"]
    assert secs[0]["startMs"] == 0
    for a, b in zip(secs, secs[1:]):
        assert a["endMs"] == b["startMs"] and a["endMs"] > a["startMs"]
    audio = assert_json(api.get(f"/api/audios/{got['narrationAudioId']}", token=u.access), 200)
    assert abs(audio["durationMs"] - secs[-1]["endMs"]) <= 200, (audio, secs[-1])
    for s in secs:
        words = s["words"]
        assert " ".join(w["text"] for w in words) == " ".join(s["content"].split())
        assert words[0]["startMs"] >= s["startMs"] and words[-1]["endMs"] == s["endMs"]
        assert all(w["startMs"] <= w["endMs"] for w in words)
        assert s["wordsEstimated"] is False
    # The job's result carries the word timings too.
    assert job["result"]["sections"][1]["words"] == secs[1]["words"]
    # Captions: cues in order, inside their sections, every word once.
    r = api.get(f"/api/videos/{v['id']}/captions.vtt", token=u.access)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/vtt")
    cs = cues(r.text)
    assert " ".join(c[2] for c in cs) == " ".join(" ".join(s["content"].split()) for s in secs)
    for a, b in zip(cs, cs[1:]):
        assert a[1] <= b[0]
    for s in secs:
        inside = [c for c in cs if s["startMs"] <= c[0] < s["endMs"]]
        assert inside and inside[-1][1] == s["endMs"]


def test_narration_refusals(api, register, db):
    u, other = register(), register()
    before = balance(db, u)
    v = create_video(api, u)
    r = api.post(f"/api/videos/{v['id']}/narration", {"voiceId": VOICE}, token=u.access)
    p = assert_problem(r, 409, "invalid_state")
    assert p["missing"] == "script"
    s = create_video(api, u, script={"sections": SECTIONS})
    assert_problem(api.post(f"/api/videos/{s['id']}/narration", {"voiceId": str(uuid.uuid4())},
                            token=u.access), 404, "not_found")
    assert_problem(api.post(f"/api/videos/{s['id']}/narration", {"voiceId": VOICE},
                            token=other.access), 404, "not_found")
    assert_problem(api.post(f"/api/videos/{s['id']}/narration", {"voiceId": VOICE, "speed": 3},
                            token=u.access), 400, "validation_failed", fields={"speed"})
    assert_problem(api.post(f"/api/videos/{s['id']}/narration", {}, token=u.access), 400,
                   "validation_failed", fields={"voiceId"})
    assert balance(db, u) == before
    assert int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id)) == 0


def test_voice_of_another_user(api, register, db):
    """A cloned voice of someone else's is as unknown as a random id."""
    u, other = register(), register()
    vid = str(uuid.uuid4())
    db.rows("INSERT INTO voices (id, user_id, name, status, is_cloned, completed_at) "
            "VALUES (:'v', :'o', 'theirs', 'active', true, now())", v=vid, o=other.id)
    s = create_video(api, u, script={"sections": SECTIONS})
    assert_problem(api.post(f"/api/videos/{s['id']}/narration", {"voiceId": vid},
                            token=u.access), 404, "not_found")
    assert_problem(api.post("/api/videos", {"title": "T", "topic": "t", "voiceId": vid},
                            token=u.access), 404, "not_found")


def narrated(api, user):
    v = create_video(api, user, script={"sections": SECTIONS})
    assert run_step(api, user, v["id"], "narration", {"voiceId": VOICE})["status"] == "succeeded"
    return v


def test_images_title_cards(api, register, db):
    u = register()
    v = narrated(api, u)
    job = run_step(api, u, v["id"], "images", {"aspect": "9:16"})
    assert job["status"] == "succeeded", job
    assert_settled(db, job, refunded=False)
    got = get_video(api, u, v["id"])
    imgs, secs = got["images"], got["sections"]
    assert [i["position"] for i in imgs] == [1, 2, 3]
    for i, s in zip(imgs, secs):
        assert i["startMs"] == s["startMs"] and i["durationMs"] == s["endMs"] - s["startMs"]
        assert i["prompt"] and "/media/" in i["url"]
        r = api.s.get(i["url"], timeout=10)
        assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
        row = db.rows("SELECT width, height, source, user_id FROM images WHERE id = :'i'",
                      i=i["imageId"])[0]
        assert row[:3] == ("720", "1280", "generated") and row[3] == u.id


def test_images_refusals(api, register):
    u = register()
    v = create_video(api, u, script={"sections": SECTIONS})
    p = assert_problem(api.post(f"/api/videos/{v['id']}/images", token=u.access), 409,
                       "invalid_state")
    assert p["missing"] == "narration"
    e = create_video(api, u)
    p = assert_problem(api.post(f"/api/videos/{e['id']}/images", token=u.access), 409)
    assert p["missing"] == "script, narration"
    assert_problem(api.post(f"/api/videos/{v['id']}/images", {"aspect": "4:3"},
                            token=u.access), 400, "validation_failed", fields={"aspect"})


def test_replace_image(api, register, db):
    u, other = register(), register()
    v = narrated(api, u)
    assert run_step(api, u, v["id"], "images")["status"] == "succeeded"
    got = get_video(api, u, v["id"])
    mine = got["images"][2]["imageId"]  # one of u's own images
    r = api.request("PUT", f"/api/videos/{v['id']}/images/1", json_body={"imageId": mine},
                    token=u.access)
    after = assert_json(r, 200)
    assert after["images"][0]["imageId"] == mine
    assert after["images"][0]["startMs"] == got["images"][0]["startMs"]
    # Someone else's image, a position without a picture, someone else's video: 404.
    v2 = narrated(api, other)
    assert run_step(api, other, v2["id"], "images")["status"] == "succeeded"
    theirs = get_video(api, other, v2["id"])["images"][0]["imageId"]
    for path, body, who in [(f"/api/videos/{v['id']}/images/1", {"imageId": theirs}, u),
                            (f"/api/videos/{v['id']}/images/9", {"imageId": mine}, u),
                            (f"/api/videos/{v['id']}/images/0", {"imageId": mine}, u),
                            (f"/api/videos/{v['id']}/images/x", {"imageId": mine}, u),
                            (f"/api/videos/{v['id']}/images/1", {"imageId": mine}, other)]:
        assert_problem(api.request("PUT", path, json_body=body, token=who.access), 404)
    assert_problem(api.request("PUT", f"/api/videos/{v['id']}/images/1", json_body={},
                               token=u.access), 400, fields={"imageId"})
