"""POST /api/voices: cloning a voice from a sample, end to end through the Replicate
simulator (minimax/voice-cloning), and the cloned voice speaking in POST /api/tts."""
import datetime
import os

import pytest
import requests

from conftest import UUID_RE, assert_json, assert_problem
from voicekit import (CLONE_COST, PRESET_ID, PUBLIC_URL, STORAGE, clone, get_json,
                      ledger_for_job, make_audio, provider_kinds, sim_config, simctl, wait,
                      wait_job, wait_voice, wav_info)


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def no_clone_left(db, user_id):
    """Nothing written for user_id: no voice, no job, no charge."""
    assert db.scalar("SELECT count(*) FROM voices WHERE user_id = :'u'", u=user_id) == "0"
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=user_id) == "0"
    assert db.credits(user_id) == 100


def test_clone_end_to_end(api, register, db):
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    # The prediction stays processing until the simulator's gate opens, so the voice
    # is surely seen training, however slow the machine.
    simctl.gate(False)
    with sim_config(finish_gate=1):
        r = clone(api, u, sample, name="Narrator", language="en-GB", gender="female",
                  headers={"Idempotency-Key": f"clone-{u.id}"})
        body = assert_json(r, 202)
        assert set(body) == {"voice", "job"}
        v, job = body["voice"], body["job"]
        assert r.headers["Location"] == f"/api/jobs/{job['id']}"
        assert UUID_RE.match(v["id"])
        assert v["status"] == "pending" and v["isCloned"] is True
        assert (v["name"], v["language"], v["gender"], v["sampleAudioId"]) == \
            ("Narrator", "en-GB", "female", sample)
        assert "previewUrl" not in v and "expiresAt" not in v
        assert job["kind"] == "voice_clone" and job["costCredits"] == CLONE_COST
        assert job["provider"] == "replicate"
        assert job["input"] == {"name": "Narrator", "sampleAudioId": sample, "language": "en-GB",
                                "gender": "female", "voiceId": v["id"]}
        assert db.credits(u.id) == 100 - CLONE_COST

        # The same Idempotency-Key: the same voice and job, nothing new.
        again = assert_json(clone(api, u, sample, name="Narrator", language="en-GB",
                                  gender="female", headers={"Idempotency-Key": f"clone-{u.id}"}),
                            202)
        assert again["voice"]["id"] == v["id"] and again["job"]["id"] == job["id"]
        assert db.scalar("SELECT count(*) FROM voices WHERE user_id = :'u'", u=u.id) == "1"

        training = wait_voice(api, u.access, v["id"], ("training", "active", "failed"))
        assert training["status"] == "training", training
        # A voice still training does not speak.
        assert_problem(api.post("/api/tts", {"text": "Too early.", "voiceId": v["id"]},
                                token=u.access), 409, "invalid_state")

        simctl.gate(True)
        active = wait_voice(api, u.access, v["id"], ("active", "failed"))
        [pred] = simctl.predictions(job=job["id"])  # before the simulator is reset
    assert active["status"] == "active", active
    assert ts(active["expiresAt"]) == ts(active["completedAt"]) + datetime.timedelta(days=7)
    done = wait_job(api, u.access, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["voiceId"] == v["id"]

    # The preview was copied into our storage and downloads through a signed link.
    preview = requests.get(active["previewUrl"], timeout=10)
    assert preview.status_code == 200 and preview.content[:4] == b"RIFF"
    assert done["result"]["url"].split("?")[0] == active["previewUrl"].split("?")[0]

    # The provider got our normalised copy of the sample: through /media, mono,
    # 32 kHz, 16-bit, as long as the sample.
    assert pred["model"] == "minimax/voice-cloning" and pred["status"] == "succeeded"
    assert pred["input"]["voice_file"].startswith(PUBLIC_URL + "/media/voices/")
    provider_voice = pred["output"]["voice_id"]
    assert provider_voice == f"sim-voice-{pred['id']}"
    file_key = db.scalar("SELECT input -> 'voice' ->> 'fileKey' FROM jobs WHERE id = :'j'",
                         j=job["id"])
    ch, rate, bits, ms = wav_info(os.path.join(STORAGE, file_key))
    assert (ch, rate, bits) == (1, 32000, 16) and abs(ms - 12000) < 50
    assert db.scalar("SELECT provider_voice_ids ->> 'replicate' FROM voices WHERE id = :'v'",
                     v=v["id"]) == provider_voice

    # The voice speaks through the provider that knows it, even when the local
    # provider comes first for tts.
    with provider_kinds(db, "tts", ["local", "replicate"]):
        r = api.post("/api/tts", {"text": "Hello from my own voice.", "voiceId": v["id"]},
                     token=u.access)
        tts = assert_json(r, 202)
    assert tts["provider"] == "replicate"
    assert wait_job(api, u.access, tts["id"])["status"] == "succeeded"
    [said] = simctl.predictions(job=tts["id"])
    assert said["input"]["voice_id"] == provider_voice
    used = get_json(api, f"/api/voices/{v['id']}", u.access)
    assert ts(used["expiresAt"]) == ts(used["lastUsedAt"]) + datetime.timedelta(days=7)
    assert ts(used["lastUsedAt"]) >= ts(used["completedAt"])  # whole seconds
    assert db.credits(u.id) == 100 - CLONE_COST - 1

    # Where only the local provider may speak, a cloned voice cannot.
    with provider_kinds(db, "tts", ["local"]):
        assert_problem(api.post("/api/tts", {"text": "Hi.", "voiceId": v["id"]}, token=u.access),
                       503, "provider_unavailable")

    # Unused for 7 days, Replicate has forgotten it: refused before any charge.
    db.rows("UPDATE voices SET last_used_at = now() - interval '8 days' WHERE id = :'v'",
            v=v["id"])
    assert_problem(api.post("/api/tts", {"text": "Hi.", "voiceId": v["id"]}, token=u.access),
                   409, "voice_expired")  # API.md, Voice
    assert db.credits(u.id) == 100 - CLONE_COST - 1

    # In the list, after the presets.
    items = get_json(api, "/api/voices?limit=100", u.access)["items"]
    mine = [x for x in items if x["id"] == v["id"]]
    assert mine and mine[0]["previewUrl"] and mine[0]["isCloned"]
    assert all("expiresAt" not in x for x in items if not x["isCloned"])


def test_sample_bounds(api, register, db):
    """10 s and 5 min are accepted; 9.9 s and 5 min + 1 ms are not (422, nothing
    written). Every field at its bounds."""
    u = register()
    short, _ = make_audio(db, u.id, 9.9)
    long_, _ = make_audio(db, u.id, 12, duration_ms=300001)
    for sample in (short, long_):
        assert_problem(clone(api, u, sample), 422, "unprocessable")
    no_clone_left(db, u.id)

    db.grant(u.id, CLONE_COST)
    ten, _ = make_audio(db, u.id, 10)
    five_min, _ = make_audio(db, u.id, 12, duration_ms=300000)
    a = assert_json(clone(api, u, ten, name="n" * 100, language="zh-Hant-TW", gender="neutral"),
                    202)
    b = assert_json(clone(api, u, five_min, name="é"), 202)
    assert a["voice"]["name"] == "n" * 100 and a["voice"]["language"] == "zh-Hant-TW"
    assert b["voice"]["language"] == "en" and "gender" not in b["voice"]
    for x in (a, b):
        assert wait_voice(api, u.access, x["voice"]["id"], ("active", "failed"))["status"] == "active"
    assert db.credits(u.id) == 100 + CLONE_COST - 2 * CLONE_COST


def test_sample_not_yours(api, register, db):
    u, other = register(), register()
    theirs, _ = make_audio(db, other.id, 12)
    for sample in (theirs, "00000000-0000-4000-8000-00000000abcd"):
        assert_problem(clone(api, u, sample), 404, "not_found")
    no_clone_left(db, u.id)


@pytest.mark.parametrize("body,fields", [
    ({}, ["name", "sampleAudioId"]),
    ({"name": "", "sampleAudioId": "S"}, ["name"]),
    ({"name": "n" * 101, "sampleAudioId": "S"}, ["name"]),
    ({"name": 5, "sampleAudioId": "S"}, ["name"]),
    ({"name": "ok", "sampleAudioId": "not-a-uuid"}, ["sampleAudioId"]),
    ({"name": "ok", "sampleAudioId": None}, ["sampleAudioId"]),
    ({"name": "ok", "sampleAudioId": "S", "language": "english"}, ["language"]),
    ({"name": "ok", "sampleAudioId": "S", "language": "en_US"}, ["language"]),
    ({"name": "ok", "sampleAudioId": "S", "language": ""}, ["language"]),
    ({"name": "ok", "sampleAudioId": "S", "language": "en-" + "abcdefgh-" * 4 + "x"},
     ["language"]),
    ({"name": "ok", "sampleAudioId": "S", "gender": "other"}, ["gender"]),
    ({"name": "ok", "sampleAudioId": "S", "gender": ""}, ["gender"]),
    ({"name": "ok", "sampleAudioId": "S", "voiceId": PRESET_ID}, ["voiceId"]),
    ({"name": "", "sampleAudioId": "x", "language": "?", "gender": "x"},
     ["name", "sampleAudioId", "language", "gender"]),
])
def test_validation(api, register, db, body, fields):
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    body = {k: (sample if v == "S" else v) for k, v in body.items()}
    assert_problem(api.post("/api/voices", body, token=u.access), 400, "validation_failed",
                   fields=fields)
    no_clone_left(db, u.id)


def test_bad_requests(api, register, db):
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    ok = {"name": "ok", "sampleAudioId": sample}
    assert_problem(api.post("/api/voices", data=b"{not json", token=u.access,
                            ctype="application/json"), 400, "malformed_json")
    assert_problem(api.post("/api/voices", data=b"{}", token=u.access, ctype="text/plain"), 415)
    assert_problem(api.post("/api/voices", ok, token=u.access,
                            headers={"Idempotency-Key": "a b"}), 400, "validation_failed",
                   fields=["Idempotency-Key"])
    assert_problem(api.post("/api/voices", ok), 401)
    assert_problem(api.request("PUT", "/api/voices", json_body=ok, token=u.access), 405)
    assert_problem(api.post("/api/voices", data=b'{"name":"' + b"x" * 17000 + b'"}',
                            token=u.access, ctype="application/json"), 413)
    no_clone_left(db, u.id)


def test_no_provider_for_cloning(api, register, db):
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    with provider_kinds(db, "voice_clone", ["local"]):
        assert_problem(clone(api, u, sample), 503, "provider_unavailable")
    no_clone_left(db, u.id)


def test_failed_clone_refunded_once(api, register, db):
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    with sim_config(outcome="failed"):
        body = assert_json(clone(api, u, sample), 202)
        failed = wait_voice(api, u.access, body["voice"]["id"], ("active", "failed"))
    assert failed["status"] == "failed" and "sim: forced failure" in failed["error"]
    assert "previewUrl" not in failed and "expiresAt" not in failed
    job = wait_job(api, u.access, body["job"]["id"])
    assert job["status"] == "failed"
    assert ledger_for_job(db, job["id"]) == [("job_charge", -CLONE_COST),
                                             ("job_refund", CLONE_COST)]
    assert db.credits(u.id) == 100
    assert_problem(api.post("/api/tts", {"text": "Hi.", "voiceId": failed["id"]},
                            token=u.access), 409, "invalid_state")


def test_silent_sample_fails_before_the_provider(api, register, db):
    """The poller cannot normalise silence: the job fails and is refunded, and the
    provider never sees it."""
    u = register()
    sample, _ = make_audio(db, u.id, 11, silent=True)
    body = assert_json(clone(api, u, sample), 202)
    failed = wait_voice(api, u.access, body["voice"]["id"], ("active", "failed"))
    assert failed["status"] == "failed" and "silent" in failed["error"], failed
    job = wait_job(api, u.access, body["job"]["id"])
    assert job["error"]["code"] == "sample_unusable"
    assert simctl.predictions(job=job["id"]) == []
    assert db.credits(u.id) == 100


def test_insufficient_credits(api, register, db):
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    db.grant(u.id, -60, reason="test spend", kind="grant")
    b = assert_problem(clone(api, u, sample), 402, "insufficient_credits")
    assert (b["required"], b["balance"]) == (CLONE_COST, 40)
    assert db.scalar("SELECT count(*) FROM voices WHERE user_id = :'u'", u=u.id) == "0"
    assert db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id) == "0"


@pytest.mark.parametrize("webhooks", ["all", "none"])
def test_unreadable_submit_answer_clones_once(api, register, db, webhooks):
    """The provider's answer to the submit cannot be read, yet the prediction exists:
    the poller finds it — by its webhook, or without webhooks in the provider's
    listing by its input (the sample's link is recorded before the submit) — and
    never clones twice."""
    u = register()
    sample, _ = make_audio(db, u.id, 12)
    with sim_config(create_malformed=1, webhooks=webhooks):
        body = assert_json(clone(api, u, sample), 202)
        active = wait_voice(api, u.access, body["voice"]["id"], ("active", "failed"), timeout=30)
        preds = simctl.predictions(job=body["job"]["id"])
    assert active["status"] == "active", active
    assert len(preds) == 1 and preds[0]["malformed_reply"], preds
    assert db.credits(u.id) == 100 - CLONE_COST


def test_rate_limited(api, register, db):
    """Clones count against the generation limit like every job: over it, 429 and
    no voice."""
    u = register()
    db.grant(u.id, CLONE_COST)
    sample, _ = make_audio(db, u.id, 12)
    old = db.scalar("SELECT value::text FROM admin_config WHERE key = 'rate_limits'")
    db.rows("UPDATE admin_config SET value = '{\"generationsPerMinute\": 1}' "
            "WHERE key = 'rate_limits'")
    try:
        assert_json(clone(api, u, sample), 202)
        b = assert_problem(clone(api, u, sample), 429, "rate_limited")
        assert 1 <= b["retryAfter"] <= 60
    finally:
        db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'rate_limits'", v=old)
    assert db.scalar("SELECT count(*) FROM voices WHERE user_id = :'u'", u=u.id) == "1"
    assert db.credits(u.id) == 100
