"""POST /api/voice-conversion end to end through the Replicate simulator: the
checks before a job exists (source, voice, provider, credits), the cost per second
of the source, the provider's input (a signed link to the source it can fetch),
the result as a new audio, and the refund of a failed conversion — once."""
import json
import os
import time

import pytest
import requests

from audiokit import make_audio, upload
from conftest import UUID_RE, assert_json, assert_problem
from jobkit import wait_events_applied

SIM = os.environ.get("RV_SIM_URL", "").rstrip("/")
PRESET = "00000000-0000-4000-8000-000000000001"  # Ava, Replicate's Wise_Woman
TERMINAL = {"succeeded", "failed", "cancelled"}

pytestmark = pytest.mark.skipif(not SIM, reason="needs the provider simulator (RV_SIM_URL)")


def sim(method, path, body=None):
    r = requests.request(method, SIM + path, json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def sim_config():
    """sim_config(**faults) for every new prediction; reset after the test."""
    yield lambda **kw: sim("POST", "/_sim/config", kw)
    sim("POST", "/_sim/reset")


def wait_job(api, token, job_id, timeout=25):
    end = time.time() + timeout
    while True:
        j = assert_json(api.get(f"/api/jobs/{job_id}", token=token), 200)
        if j["status"] in TERMINAL or time.time() > end:
            return j
        time.sleep(0.1)


def source(api, user, seconds=3.0):
    return assert_json(upload(api, user.access, make_audio("wav", seconds=seconds),
                              filename="source.wav", ctype="audio/wav"), 201)


def convert(api, user, source_id, voice_id=PRESET, **kw):
    return api.post("/api/voice-conversion", {"sourceAudioId": source_id, "voiceId": voice_id},
                    token=user.access, **kw)


def job_ledger(db, job_id):
    return sorted((int(d), k) for d, k in db.rows(
        "SELECT delta, kind FROM credit_ledger WHERE job_id = :'j'", j=job_id))


def test_conversion_end_to_end(api, db, register):
    u = register()
    src = source(api, u, seconds=3.0)
    r = convert(api, u, src["id"])
    job = assert_json(r, 202)
    assert UUID_RE.match(job["id"])
    assert r.headers["Location"] == f"/api/jobs/{job['id']}"
    assert job["kind"] == "voice_conversion" and job["provider"] == "replicate"
    # The voice's provider ids and the source's storage key stay inside.
    assert job["input"] == {"sourceAudioId": src["id"], "voiceId": PRESET,
                            "durationSeconds": src["durationMs"] / 1000}
    assert job["costCredits"] == 2  # 3 s * 0.1 credit/s → 1, min 2
    assert db.credits(u.id) == 98
    assert job_ledger(db, job["id"]) == [(-2, "job_charge")]

    done = wait_job(api, u.access, job["id"])
    assert done["status"] == "succeeded", done
    res = done["result"]
    got = api.get(res["url"][len(api.base):])
    assert got.status_code == 200 and got.content[:4] == b"RIFF"
    out = assert_json(api.get(f"/api/audios/{res['audioId']}", token=u.access), 200)
    assert out["source"] == "generated" and out["contentType"] == "audio/wav"
    assert out["durationMs"] == res["durationMs"] > 0

    # What the provider was asked: our model, the voice's id, and a link to the
    # source that it can fetch (absolute, signed) — the very bytes uploaded.
    (p,) = sim("GET", f"/_sim/predictions?job={job['id']}")
    assert p["model"] == "minimax/voice-conversion"
    assert set(p["input"]) == {"source_audio", "voice_id"}
    assert p["input"]["voice_id"] == "Wise_Woman"
    link = p["input"]["source_audio"]
    key = db.scalar("SELECT storage_key FROM audios WHERE id = :'a'", a=src["id"])
    assert link.startswith(api.base + "/media/" + key + "?") and u.id not in link
    fetched = requests.get(link, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == make_audio("wav", seconds=3.0)
    tampered = requests.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"), timeout=10)
    assert tampered.status_code == 403

    assert db.credits(u.id) == 98
    assert job_ledger(db, job["id"]) == [(-2, "job_charge")]
    # The job has ended: its source may go now.
    assert api.request("DELETE", f"/api/audios/{src['id']}", token=u.access).status_code == 204


def test_cost_is_per_second_of_the_source(api, db, register):
    u = register()
    src = source(api, u, seconds=31.0)
    job = assert_json(convert(api, u, src["id"]), 202)
    assert job["costCredits"] == 4  # ceil(31 * 0.1)
    assert job["input"]["durationSeconds"] == pytest.approx(31.0, abs=0.05)
    assert db.credits(u.id) == 96
    assert wait_job(api, u.access, job["id"])["status"] == "succeeded"


def test_failed_conversion_is_refunded_once(api, db, register, sim_config):
    # The prediction stays processing until the gate opens: the job surely still runs
    # when its source is asked to go.
    sim("POST", "/_sim/gate", {"open": False})
    sim_config(outcome="failed", finish_gate=1)
    u = register()
    src = source(api, u)
    job = assert_json(convert(api, u, src["id"]), 202)
    assert db.credits(u.id) == 98
    # While the job runs, its source cannot go.
    r = api.request("DELETE", f"/api/audios/{src['id']}", token=u.access)
    assert_problem(r, 409, "invalid_state")
    sim("POST", "/_sim/gate", {"open": True})
    done = wait_job(api, u.access, job["id"])
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "provider_failed"
    assert db.credits(u.id) == 100
    assert job_ledger(db, job["id"]) == [(-2, "job_charge"), (2, "job_refund")]
    # Late or repeated events change nothing (once all of them are in).
    wait_events_applied(db, job["id"])
    assert job_ledger(db, job["id"]) == [(-2, "job_charge"), (2, "job_refund")]
    assert api.request("DELETE", f"/api/audios/{src['id']}", token=u.access).status_code == 204


def test_idempotency_key(api, db, register):
    u = register()
    src = source(api, u)
    h = {"Idempotency-Key": "vc-once"}
    a = assert_json(convert(api, u, src["id"], headers=h), 202)
    b = assert_json(convert(api, u, src["id"], headers=h), 202)
    assert a["id"] == b["id"]
    assert db.credits(u.id) == 98
    assert wait_job(api, u.access, a["id"])["status"] == "succeeded"


def test_source_must_be_yours(api, db, register):
    u, other = register(), register()
    theirs = source(api, other)
    for sid in (theirs["id"], "44444444-4444-4444-8444-444444444444"):
        assert_problem(convert(api, u, sid), 404, "not_found")
    assert db.credits(u.id) == 100
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id) == "0"


def test_voice_must_be_visible_and_active(api, db, register):
    u, other = register(), register()
    src = source(api, u)

    def voice(owner, status):
        return db.scalar(
            "INSERT INTO voices (user_id, name, status, is_cloned, provider_voice_ids) "
            "VALUES (:'u', 'clone', :'s', true, '{\"replicate\": \"sim-voice-x\"}') RETURNING id",
            u=owner.id, s=status)

    assert_problem(convert(api, u, src["id"], voice(other, "active")), 404, "not_found")
    assert_problem(convert(api, u, src["id"], "55555555-5555-4555-8555-555555555555"), 404)
    for status in ("pending", "training", "failed"):
        assert_problem(convert(api, u, src["id"], voice(u, status)), 409, "invalid_state")
    assert db.credits(u.id) == 100
    mine = voice(u, "active")
    job = assert_json(convert(api, u, src["id"], mine), 202)
    assert db.scalar("SELECT last_used_at IS NOT NULL FROM voices WHERE id = :'v'", v=mine) == "t"
    assert wait_job(api, u.access, job["id"])["status"] == "succeeded"
    (p,) = sim("GET", f"/_sim/predictions?job={job['id']}")
    assert p["input"]["voice_id"] == "sim-voice-x"


def test_validation(api, register):
    u = register()
    assert_problem(api.post("/api/voice-conversion", {}, token=u.access), 400,
                   fields=["sourceAudioId", "voiceId"])
    assert_problem(api.post("/api/voice-conversion", {"sourceAudioId": "x", "voiceId": PRESET},
                            token=u.access), 400, fields=["sourceAudioId"])
    assert_problem(api.request("POST", "/api/voice-conversion", data=b"{", token=u.access,
                               ctype="application/json"), 400, "malformed_json")
    assert_problem(api.request("POST", "/api/voice-conversion", data=b"{}", token=u.access,
                               ctype="text/plain"), 415)
    assert_problem(api.post("/api/voice-conversion", {}), 401)
    assert_problem(api.get("/api/voice-conversion", token=u.access), 405)


def test_insufficient_credits(api, db, register):
    u = register()
    src = source(api, u)
    db.grant(u.id, -99)
    b = assert_problem(convert(api, u, src["id"]), 402, "insufficient_credits")
    assert b["required"] == 2 and b["balance"] == 1
    assert db.credits(u.id) == 1


def test_local_provider_cannot_convert(api, db, register):
    """With only the local provider configured for conversion: 503, nothing queued."""
    u = register()
    src = source(api, u)
    before = db.scalar("SELECT value::text FROM admin_config WHERE key = 'providers'")
    db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,voice_conversion}', "
            "'[\"local\"]') WHERE key = 'providers'")
    try:
        assert_problem(convert(api, u, src["id"]), 503, "provider_unavailable")
    finally:
        db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'providers'", v=before)
    assert json.loads(db.scalar("SELECT value::text FROM admin_config WHERE key = 'providers'")) \
        == json.loads(before)
    assert db.credits(u.id) == 100
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id) == "0"
