"""Submitting work: POST /api/tts and POST /api/sfx.

202 job + Location; cost (1 credit per started 100 characters for tts, flat for
sfx), reserved at once; 402 insufficient_credits; Idempotency-Key; the per-user
generation limit (429); every input bound (400 with the field named and nothing
charged); 404/409 voice; 413; 415; 405; 401."""
import uuid

import pytest

from conftest import assert_json, assert_problem
from jobkit import (PRESET_IDS, VOICE, assert_nothing_charged, assert_settled, balance,
                    config_get, job_ledger, no_rate_limit, post_tts, submit_sfx, submit_tts,
                    tts_cost, user_jobs)

TTS = "/api/tts"
SFX = "/api/sfx"


def test_tts_accepted(api, db, register):
    u = register()
    before = balance(db, u)
    text = "Good morning, this is Reelvox speaking."
    job = submit_tts(api, u, text, speed=1.5, pitch=-3, volume=2, emotion="happy",
                     audioFormat="wav", sampleRate=24000)
    assert job["status"] == "queued" and job["progress"] == 0, job
    assert job["costCredits"] == 1 and job["provider"] == "replicate", job
    assert job["input"] == {"text": text, "voiceId": VOICE, "emotion": "happy", "speed": 1.5,
                            "pitch": -3, "volume": 2, "audioFormat": "wav",
                            "sampleRate": 24000}, job
    assert "result" not in job and "error" not in job
    # The credits are reserved with the job, in one ledger row that names it.
    assert balance(db, u) == before - 1
    assert job_ledger(db, job["id"]) == [("job_charge", -1)]
    me = assert_json(api.get("/api/me", token=u.access), 200)
    assert me["credits"] == before - 1


def test_tts_defaults(api, register):
    u = register()
    job = submit_tts(api, u, "Defaults, please.")
    assert job["input"] == {"text": "Defaults, please.", "voiceId": VOICE, "emotion": "auto",
                            "speed": 1, "pitch": 0, "volume": 1, "audioFormat": "mp3",
                            "sampleRate": 32000}, job


@pytest.mark.parametrize("text,cost", [
    ("a", 1), ("x" * 100, 1), ("x" * 101, 2), ("é" * 100, 1), ("é" * 101, 2),
    ("😀" * 250, 3),
])
def test_tts_cost_per_started_100_chars(api, db, register, text, cost):
    u = register()
    before = balance(db, u)
    job = submit_tts(api, u, text)
    assert job["costCredits"] == cost == tts_cost(text)
    assert balance(db, u) == before - cost
    assert_settled(db, job, refunded=False)


def test_tts_longest_text_costs_100(api, db, register):
    u = register()
    if balance(db, u) != 100:
        db.grant(u.id, 100 - balance(db, u), "exactly 100 for a test")
    job = submit_tts(api, u, "y" * 10000)
    assert job["costCredits"] == 100
    assert balance(db, u) == 0
    # Nothing left: the next one is refused with what it would cost.
    r = post_tts(api, u, {"text": "z", "voiceId": VOICE})
    b = assert_problem(r, 402, "insufficient_credits")
    assert b["required"] == 1 and b["balance"] == 0, b


def test_sfx_accepted(api, db, register):
    u = register()
    before = balance(db, u)
    job = submit_sfx(api, u, "thunder far away", durationSeconds=5)
    flat = config_get(db, "job_costs")["sfx"]["flat"]
    assert job["costCredits"] == flat and job["status"] == "queued"
    assert job["input"] == {"prompt": "thunder far away", "durationSeconds": 5}, job
    assert balance(db, u) == before - flat
    job2 = submit_sfx(api, u, "a door creaks")
    assert job2["input"] == {"prompt": "a door creaks", "durationSeconds": 10}, job2
    job3 = submit_sfx(api, u, "p" * 500, durationSeconds=30)
    assert job3["input"]["durationSeconds"] == 30
    assert_settled(db, job, refunded=False)


def test_insufficient_credits(api, db, register):
    u = register()
    # Leave one credit: a 101-character text costs two.
    db.grant(u.id, -(balance(db, u) - 1), "drain for a test")
    r = post_tts(api, u, {"text": "x" * 101, "voiceId": VOICE})
    b = assert_problem(r, 402, "insufficient_credits")
    assert b["required"] == 2 and b["balance"] == 1, b
    r = api.post(SFX, {"prompt": "wind"}, token=u.access)
    b = assert_problem(r, 402, "insufficient_credits")
    assert b["required"] == config_get(db, "job_costs")["sfx"]["flat"] and b["balance"] == 1, b
    assert_nothing_charged(db, u, 1)
    # What the balance covers still goes through.
    job = submit_tts(api, u, "x" * 100)
    assert job["costCredits"] == 1 and balance(db, u) == 0


def test_idempotency_key(api, db, register):
    u = register()
    before = balance(db, u)
    key = "order-" + uuid.uuid4().hex
    r1 = post_tts(api, u, {"text": "Say it once.", "voiceId": VOICE}, idem=key)
    j1 = assert_json(r1, 202)
    r2 = post_tts(api, u, {"text": "Say it once.", "voiceId": VOICE}, idem=key)
    j2 = assert_json(r2, 202)
    assert j2["id"] == j1["id"]
    assert r2.headers.get("Location") == r1.headers.get("Location") == f"/api/jobs/{j1['id']}"
    # The same request in another spelling (member order, spacing, a default
    # written out) is the same request.
    raw = ('{ "voiceId" : "%s",\n  "text": "Say it once.", "speed": 1 }' % VOICE).encode()
    r4 = api.request("POST", TTS, data=raw, token=u.access, ctype="application/json",
                     headers={"Idempotency-Key": key})
    assert assert_json(r4, 202)["id"] == j1["id"]
    # Another body under the same key: refused, nothing new, nothing charged.
    c = assert_problem(post_tts(api, u, {"text": "Something else", "voiceId": VOICE}, idem=key),
                       409, "idempotency_conflict")
    assert "Idempotency-Key" in c["detail"]
    assert user_jobs(db, u) == 1
    assert job_ledger(db, j1["id"]) == [("job_charge", -1)]
    assert balance(db, u) == before - 1
    # The key's first job is untouched and still answers the first request.
    j5 = assert_json(post_tts(api, u, {"text": "Say it once.", "voiceId": VOICE}, idem=key), 202)
    assert j5["id"] == j1["id"] and j5["input"]["text"] == "Say it once."
    # A key is per user: another user's same key starts their own job.
    v = register()
    jv = assert_json(post_tts(api, v, {"text": "Say it once.", "voiceId": VOICE}, idem=key), 202)
    assert jv["id"] != j1["id"]
    # The same key on another endpoint is another request: 409 as well.
    assert_problem(api.post(SFX, {"prompt": "bells"}, token=u.access,
                            headers={"Idempotency-Key": key}), 409, "idempotency_conflict")
    # The 255-character limit.
    k255 = "k" * 255
    js = submit_sfx(api, u, "bells", idem=k255)
    assert assert_json(api.post(SFX, {"prompt": "bells"}, token=u.access,
                                headers={"Idempotency-Key": k255}), 202)["id"] == js["id"]


def test_idempotency_keys_are_kept_with_their_job(api, db, register):
    """A key answers its job for as long as the job exists (API.md: at least 24 h):
    a job two days old still answers its key, and another body still conflicts."""
    u = register()
    key = "old-" + uuid.uuid4().hex
    j = assert_json(post_tts(api, u, {"text": "An old one.", "voiceId": VOICE}, idem=key), 202)
    db.rows("UPDATE jobs SET created_at = now() - interval '2 days' WHERE id = :'j'", j=j["id"])
    again = assert_json(post_tts(api, u, {"text": "An old one.", "voiceId": VOICE}, idem=key), 202)
    assert again["id"] == j["id"]
    assert_problem(post_tts(api, u, {"text": "A new one.", "voiceId": VOICE}, idem=key), 409,
                   "idempotency_conflict")
    assert user_jobs(db, u) == 1


def test_idempotent_repeat_does_not_use_the_rate_limit(api, db, register):
    limit = config_get(db, "rate_limits")["generationsPerMinute"]
    assert limit == 3, "the default generation limit is 3 per minute"
    u = register()
    key = "again-" + uuid.uuid4().hex
    first = assert_json(post_tts(api, u, {"text": "first", "voiceId": VOICE}, idem=key), 202)
    for i in range(limit - 1):
        submit_tts(api, u, f"filler {i}")
    # The limit is reached: new work is refused, the repeat still answers.
    assert_problem(post_tts(api, u, {"text": "one too many", "voiceId": VOICE}), 429,
                   "rate_limited")
    for _ in range(3):
        again = assert_json(post_tts(api, u, {"text": "first", "voiceId": VOICE}, idem=key), 202)
        assert again["id"] == first["id"]
    assert user_jobs(db, u) == limit
    assert job_ledger(db, first["id"]) == [("job_charge", -1)]


@pytest.mark.parametrize("key", ["k" * 256, "", "has space", "tab\there"])
def test_bad_idempotency_key(api, db, register, key):
    u = register()
    before = balance(db, u)
    r = post_tts(api, u, {"text": "hello", "voiceId": VOICE}, idem=key)
    assert_problem(r, 400, "validation_failed", {"Idempotency-Key"})
    assert_nothing_charged(db, u, before)


def test_rate_limited(api, db, register):
    limit = config_get(db, "rate_limits")["generationsPerMinute"]
    u = register()
    for i in range(limit):
        submit_tts(api, u, f"job {i}")
    before = balance(db, u)
    r = post_tts(api, u, {"text": "over the limit", "voiceId": VOICE})
    b = assert_problem(r, 429, "rate_limited")
    assert 1 <= b["retryAfter"] <= 60, b
    assert int(r.headers["Retry-After"]) == b["retryAfter"]
    # sfx shares the limit; nothing was charged for the refusals.
    assert_problem(api.post(SFX, {"prompt": "wind"}, token=u.access), 429, "rate_limited")
    assert balance(db, u) == before and user_jobs(db, u) == limit
    # The limit is per user.
    submit_tts(api, register(), "someone else")


def test_rate_limit_disabled(api, db, register):
    u = register()
    with no_rate_limit(db):
        ids = {submit_tts(api, u, f"n{i}")["id"] for i in range(5)}
    assert len(ids) == 5
    assert_problem(post_tts(api, u, {"text": "limit back", "voiceId": VOICE}), 429, "rate_limited")


LONG = "x" * 10001

TTS_INVALID = [
    ({"text": ""}, {"text"}),
    ({"text": LONG}, {"text"}),
    ({"text": None}, {"text"}),
    ({"speed": 0.4}, {"speed"}),
    ({"speed": 2.1}, {"speed"}),
    ({"pitch": 13}, {"pitch"}),
    ({"pitch": -13}, {"pitch"}),
    ({"pitch": 1.5}, {"pitch"}),
    ({"volume": 0.05}, {"volume"}),
    ({"volume": 11}, {"volume"}),
    ({"audioFormat": "ogg"}, {"audioFormat"}),
    ({"audioFormat": "MP3"}, {"audioFormat"}),
    ({"sampleRate": 11025}, {"sampleRate"}),
    ({"sampleRate": 48000}, {"sampleRate"}),
    ({"sampleRate": 7999}, {"sampleRate"}),
    ({"sampleRate": 16000.5}, {"sampleRate"}),
    ({"emotion": "bored"}, {"emotion"}),
    ({"voiceId": "not-a-uuid"}, {"voiceId"}),
    ({"voiceId": PRESET_IDS[0].upper() + "0"}, {"voiceId"}),
    ({"voiceId": None}, {"voiceId"}),
    ({"color": "blue"}, {"color"}),
    ({"text": 5}, {"text"}),
    ({"text": ["hi"]}, {"text"}),
    ({"speed": "fast"}, {"speed"}),
    ({"speed": True}, {"speed"}),
    ({"pitch": "1"}, {"pitch"}),
    ({"volume": {}}, {"volume"}),
    ({"sampleRate": "16000"}, {"sampleRate"}),
    ({"emotion": 1}, {"emotion"}),
    ({"voiceId": 7}, {"voiceId"}),
    ({"audioFormat": ["mp3"]}, {"audioFormat"}),
    ({"text": "", "speed": 9, "emotion": "meh", "extra": 1}, {"text", "speed", "emotion", "extra"}),
]


def check_all(cases, send):
    """Runs every (patch, fields) case through send and asserts a 400 naming exactly
    those fields; reports every case that went wrong at once."""
    bad = []
    for patch, fields in cases:
        try:
            assert_problem(send(patch), 400, "validation_failed", fields)
        except AssertionError as e:
            bad.append((patch if len(str(patch)) < 200 else list(patch), str(e)[:300]))
    assert not bad, bad


def test_tts_invalid(api, db, register):
    u = register()
    before = balance(db, u)

    def send(patch):
        return post_tts(api, u, {"text": "valid text", "voiceId": VOICE, **patch})

    check_all(TTS_INVALID, send)
    assert_nothing_charged(db, u, before)


def test_tts_missing_fields(api, db, register):
    u = register()
    before = balance(db, u)
    assert_problem(post_tts(api, u, {}), 400, "validation_failed", {"text", "voiceId"})
    assert_problem(post_tts(api, u, {"text": "x"}), 400, "validation_failed", {"voiceId"})
    # An explicit null is absent, so required fields are still missing.
    assert_problem(post_tts(api, u, {"text": None, "voiceId": VOICE}), 400,
                   "validation_failed", {"text"})
    assert_nothing_charged(db, u, before)


def test_tts_bounds_accepted(api, db, register):
    u = register()
    lo = submit_tts(api, u, "low", speed=0.5, pitch=-12, volume=0.1, sampleRate=8000,
                    emotion="neutral", audioFormat="flac")
    hi = submit_tts(api, u, "high", speed=2, pitch=12, volume=10, sampleRate=44100,
                    emotion="disgusted", audioFormat="wav")
    assert lo["input"]["speed"] == 0.5 and hi["input"]["volume"] == 10
    # Every rate of the list is accepted, every emotion too (validation runs first:
    # a 402 proves the input passed).
    db.grant(u.id, -balance(db, u), "drain")
    for rate in (8000, 16000, 22050, 24000, 32000, 44100):
        assert_problem(post_tts(api, u, {"text": "r", "voiceId": VOICE, "sampleRate": rate}),
                       402, "insufficient_credits")
    for emo in ("auto", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "neutral"):
        assert_problem(post_tts(api, u, {"text": "e", "voiceId": VOICE, "emotion": emo}),
                       402, "insufficient_credits")


def test_tts_every_preset_voice(api, db, register):
    u = register()
    with no_rate_limit(db):
        for vid in PRESET_IDS:
            assert submit_tts(api, u, "preset", voice=vid)["input"]["voiceId"] == vid


def test_tts_unknown_voice(api, db, register):
    u = register()
    before = balance(db, u)
    r = post_tts(api, u, {"text": "hello", "voiceId": str(uuid.uuid4())})
    assert_problem(r, 404, "not_found")
    assert_nothing_charged(db, u, before)


def test_tts_voice_of_someone_else_or_not_ready(api, db, register):
    owner, other = register(), register()
    ready = str(uuid.uuid4())
    pending = str(uuid.uuid4())
    # A cloned voice is known to the provider that cloned it (provider_voice_ids).
    db.rows("INSERT INTO voices (id, user_id, name, status, is_cloned, completed_at, "
            "provider_voice_ids) VALUES "
            "(:'a', :'u', 'mine', 'active', true, now(), '{\"replicate\": \"sim-voice-a\"}'), "
            "(:'b', :'u', 'training', 'training', true, NULL, '{}')",
            a=ready, b=pending, u=owner.id)
    before = balance(db, other)
    assert_problem(post_tts(api, other, {"text": "hi", "voiceId": ready}), 404, "not_found")
    assert_nothing_charged(db, other, before)
    before = balance(db, owner)
    assert_problem(post_tts(api, owner, {"text": "hi", "voiceId": pending}), 409, "invalid_state")
    assert_nothing_charged(db, owner, before)
    job = submit_tts(api, owner, "my own voice", voice=ready)
    assert job["input"]["voiceId"] == ready


SFX_INVALID = [
    ({"prompt": "p" * 501}, {"prompt"}),
    ({"prompt": ""}, {"prompt"}),
    ({"prompt": 3}, {"prompt"}),
    ({"durationSeconds": 0}, {"durationSeconds"}),
    ({"durationSeconds": 31}, {"durationSeconds"}),
    ({"durationSeconds": -1}, {"durationSeconds"}),
    ({"durationSeconds": 1.5}, {"durationSeconds"}),
    ({"durationSeconds": "5"}, {"durationSeconds"}),
    ({"loop": True}, {"loop"}),
]


def test_sfx_invalid(api, db, register):
    u = register()
    before = balance(db, u)
    check_all(SFX_INVALID, lambda patch: api.post(SFX, {"prompt": "rain", **patch}, token=u.access))
    assert_nothing_charged(db, u, before)


def test_sfx_missing_prompt(api, db, register):
    u = register()
    before = balance(db, u)
    assert_problem(api.post(SFX, {}, token=u.access), 400, "validation_failed", {"prompt"})
    assert_nothing_charged(db, u, before)


@pytest.mark.parametrize("path,limit", [(TTS, 64 * 1024), (SFX, 16 * 1024)])
def test_huge_body(api, db, register, path, limit):
    u = register()
    before = balance(db, u)
    body = ('{"text": "' if path == TTS else '{"prompt": "') + "x" * (limit + 10) + '"}'
    r = api.request("POST", path, data=body.encode(), token=u.access, ctype="application/json")
    assert_problem(r, 413, "payload_too_large")
    assert_nothing_charged(db, u, before)


@pytest.mark.parametrize("path", [TTS, SFX])
def test_malformed_json(api, db, register, path):
    u = register()
    before = balance(db, u)
    for raw in (b'{"text": "x",', b"[1, 2]", b"\xff\xfe", b'{"text": NaN}'):
        r = api.request("POST", path, data=raw, token=u.access, ctype="application/json")
        assert_problem(r, 400, "malformed_json")
    assert_nothing_charged(db, u, before)


@pytest.mark.parametrize("path", [TTS, SFX])
def test_wrong_content_type(api, db, register, path):
    u = register()
    before = balance(db, u)
    r = api.request("POST", path, data=b'{"prompt": "x", "text": "x"}', token=u.access,
                    ctype="text/plain")
    assert_problem(r, 415, "unsupported_media_type")
    assert_nothing_charged(db, u, before)


@pytest.mark.parametrize("path", [TTS, SFX])
def test_wrong_method(api, register, path):
    u = register()
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        r = api.request(method, path, token=u.access)
        assert_problem(r, 405, "method_not_allowed")
        assert "POST" in r.headers["Allow"], (method, r.headers)


@pytest.mark.parametrize("path", [TTS, SFX])
def test_no_token(api, path):
    assert_problem(api.post(path, {"text": "x", "prompt": "x", "voiceId": VOICE}), 401,
                   "unauthorized")
    assert_problem(api.post(path, {"text": "x", "voiceId": VOICE}, token="garbage"), 401)
