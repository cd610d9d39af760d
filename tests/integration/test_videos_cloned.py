"""Narration in a cloned voice: each section spoken at Replicate (the simulator) by
the voice's tts model, joined locally into one track with the sections' real spans
and estimated word timings; a failed section fails the job with a refund; auto
mode with a clone renders; a clone no configured provider knows is refused; a
poller killed mid-narration loses nothing and asks for nothing twice."""
import os
import signal
import sys
import uuid

import pytest

from conftest import assert_json, assert_problem
from jobkit import (assert_settled, balance, group_alive, no_rate_limit, poller_loop_pid,
                    sim_all_predictions, start_poller_loop, wait_for_job, wait_until)
from explainerkit import create_video, get_video, run_step, wait_video
from voicekit import clone, make_audio, wait_voice

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sim"))
import simctl  # noqa: E402

SECTIONS = [{"heading": "Seeds", "content": "Rice starts as a seed in wet soil."},
            {"heading": "Growth", "content": "It grows for about four months in warm water."},
            {"content": "Then the grain is harvested and dried."}]


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def cloned(api, db, user):
    """A voice of user's cloned through the API (the simulator); returns (id, provider id)."""
    sample, _ = make_audio(db, user.id, 12)
    v = assert_json(clone(api, user, sample, name="Narrator"), 202)["voice"]
    wait_voice(api, user.access, v["id"], ("active",), timeout=60)
    pid = db.scalar("SELECT provider_voice_ids ->> 'replicate' FROM voices WHERE id = :'v'",
                    v=v["id"])
    assert pid
    return v["id"], pid


def check_timings(api, user, video):
    secs = video["sections"]
    assert secs[0]["startMs"] == 0
    for a, b in zip(secs, secs[1:]):
        assert a["endMs"] > a["startMs"] and a["endMs"] <= b["startMs"], (a, b)
    audio = assert_json(api.get(f"/api/audios/{video['narrationAudioId']}",
                                token=user.access), 200)
    assert abs(audio["durationMs"] - secs[-1]["endMs"]) <= 200, (audio, secs[-1])
    for s in secs:
        words = s["words"]
        assert s["wordsEstimated"] is True
        assert " ".join(w["text"] for w in words) == " ".join(s["content"].split())
        assert words[0]["startMs"] == s["startMs"] and words[-1]["endMs"] == s["endMs"]
        assert all(a["endMs"] <= b["startMs"] for a, b in zip(words, words[1:]))
    return audio


def test_narration_in_a_cloned_voice(api, register, db):
    u = register()
    voice, pid = cloned(api, db, u)
    v = create_video(api, u, script={"sections": SECTIONS})
    before = balance(db, u)
    job = run_step(api, u, v["id"], "narration", {"voiceId": voice, "speed": 1.25}, timeout=90)
    assert job["status"] == "succeeded" and job["provider"] == "local", job
    assert_settled(db, job, refunded=False)
    assert balance(db, u) == before - job["costCredits"]
    got = get_video(api, u, v["id"])
    assert got["status"] == "draft" and got["narrationAudioId"] == job["result"]["audioId"]
    check_timings(api, u, got)
    # Each section was one speech prediction of the tts model, in the clone's voice.
    preds = [p for p in sim_all_predictions() if p["input"].get("voice_id") == pid
             and p["input"].get("text") in {s["content"] for s in SECTIONS}]
    assert sorted(p["input"]["text"] for p in preds) == sorted(s["content"] for s in SECTIONS)
    assert all(p["model"] == "minimax/speech-02-turbo" and p["input"]["speed"] == 1.25
               and p["status"] == "succeeded" for p in preds), preds
    # A longer section speaks longer (the simulator's tone lasts by the text's length).
    secs = got["sections"]
    assert secs[1]["endMs"] - secs[1]["startMs"] > secs[2]["endMs"] - secs[2]["startMs"]


def test_a_failed_section_fails_the_job_and_refunds(api, register, db):
    u = register()
    voice, _ = cloned(api, db, u)
    bad = [dict(s) for s in SECTIONS]
    bad[1]["content"] += f" {uuid.uuid4().hex[:6]} [[sim outcome=failed]]"
    v = create_video(api, u, script={"sections": bad})
    before = balance(db, u)
    job = run_step(api, u, v["id"], "narration", {"voiceId": voice}, timeout=90)
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "provider_failed", job
    assert "section 2" in job["error"]["message"], job
    assert_settled(db, job, refunded=True)
    assert balance(db, u) == before
    got = get_video(api, u, v["id"])
    assert got["status"] == "failed" and got["error"]["step"] == "narration"
    assert "narrationAudioId" not in got or got["narrationAudioId"] is None
    assert int(db.scalar("SELECT count(*) FROM audios WHERE job_id = :'j'", j=job["id"])) == 0
    # The script fixed, the narration runs again.
    assert_json(api.request("PUT", f"/api/videos/{v['id']}/script",
                            json_body={"sections": SECTIONS}, token=u.access), 200)
    again = run_step(api, u, v["id"], "narration", {"voiceId": voice}, timeout=90)
    assert again["status"] == "succeeded", again
    check_timings(api, u, get_video(api, u, v["id"]))


def test_auto_mode_with_a_cloned_voice(api, register, db):
    u = register()
    voice, _ = cloned(api, db, u)
    before = balance(db, u)
    v = create_video(api, u, auto=True, voiceId=voice, script={"sections": SECTIONS},
                     captions="sidecar")
    got = wait_video(api, u, v["id"], ("ready", "failed"), timeout=300)
    assert got["status"] == "ready", got
    check_timings(api, u, got)
    assert abs(got["durationMs"] - got["sections"][-1]["endMs"]) <= 200
    assert balance(db, u) == before - 18  # narration 5 + images 3 + render 10


def test_a_clone_no_provider_here_knows_is_refused(api, register, db):
    u = register()
    vid = str(uuid.uuid4())
    db.rows("INSERT INTO voices (id, user_id, name, status, is_cloned, provider_voice_ids, "
            "completed_at) VALUES (:'v', :'u', 'elsewhere', 'active', true, "
            "'{\"elsewhere\": \"x\"}', now())", v=vid, u=u.id)
    v = create_video(api, u, script={"sections": SECTIONS})
    before = balance(db, u)
    assert_problem(api.post(f"/api/videos/{v['id']}/narration", {"voiceId": vid},
                            token=u.access), 503, "provider_unavailable")
    assert balance(db, u) == before
    assert int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u' "
                         "AND kind = 'narration'", u=u.id)) == 0
    assert get_video(api, u, v["id"])["status"] == "draft"


def test_poller_killed_mid_narration(api, register, db):
    """The poller (and its child) killed while the sections' predictions run: the
    next attempt waits for the predictions kept in the job's row instead of asking
    again; the job succeeds once, charged once."""
    u = register()
    voice, pid = cloned(api, db, u)
    tag = uuid.uuid4().hex[:6]
    secs = [dict(s, content=f"{s['content']} {tag}") for s in SECTIONS]
    v = create_video(api, u, script={"sections": secs})
    before = balance(db, u)

    def mine():
        return [p for p in sim_all_predictions()
                if p["input"].get("voice_id") == pid and tag in p["input"].get("text", "")]

    simctl.gate(False)
    simctl.config(finish_gate=1)  # the predictions stay processing while the gate is shut
    try:
        job = assert_json(api.post(f"/api/videos/{v['id']}/narration", {"voiceId": voice},
                                   token=u.access), 202)
        kept = lambda: db.scalar("SELECT COALESCE(jsonb_array_length(output -> 'predictions'), 0)"
                                 " FROM jobs WHERE id = :'j'", j=job["id"])
        wait_until(lambda: kept() == "3", 30, what="the predictions kept in the job's row")
        assert len(mine()) == 3
        loop = poller_loop_pid()
        try:
            os.killpg(loop, signal.SIGKILL)
            wait_until(lambda: not group_alive(loop), 5, what="the poller loop to die")
            # The dead poller's lease (RV_LOCAL_TIMEOUT + 60 s) brought forward.
            db.rows("UPDATE jobs SET locked_until = now() WHERE id = :'j'", j=job["id"])
        finally:
            start_poller_loop()
        wait_until(lambda: db.scalar("SELECT attempts FROM jobs WHERE id = :'j'",
                                     j=job["id"]) == "2", 30, what="the job's second attempt")
        simctl.gate(True)
        done = wait_for_job(api, u, job["id"], timeout=90)
        asked = len(mine())
    finally:
        simctl.reset()
    assert done["status"] == "succeeded", done
    assert asked == 3  # nothing asked twice
    assert_settled(db, done, refunded=False)
    assert balance(db, u) == before - done["costCredits"]
    check_timings(api, u, get_video(api, u, v["id"]))


def test_auto_mode_stops_at_a_failed_section(api, register, db):
    u = register()
    voice, _ = cloned(api, db, u)
    bad = [dict(s) for s in SECTIONS]
    bad[2]["content"] += f" {uuid.uuid4().hex[:6]} [[sim outcome=failed]]"
    before = balance(db, u)
    v = create_video(api, u, auto=True, voiceId=voice, script={"sections": bad})
    got = wait_video(api, u, v["id"], ("failed",), timeout=120)
    assert got["error"]["step"] == "narration" and got["error"]["code"] == "provider_failed", got
    assert "section 3" in got["error"]["message"], got
    steps = db.rows("SELECT kind, status FROM video_steps WHERE video_id = :'v' ORDER BY position",
                    v=v["id"])
    assert steps == [("narration", "failed"), ("images", "cancelled"),
                     ("video_render", "cancelled")]
    kinds = db.rows("SELECT kind, delta FROM credit_ledger WHERE user_id = :'u' "
                    "AND kind LIKE 'batch%' ORDER BY created_at", u=u.id)
    assert kinds == [("batch_hold", "-18"), ("batch_release", "18")]
    assert balance(db, u) == before
