"""One decision of whether a voice is usable (rv_voice_usable) for every kind that
speaks with one, and its use recorded only when the job is accepted: a cloned voice
past its expiry (7 days unused) is refused by text to speech and by conversion
alike, and a refused submit — expired voice, no credits, rate limit, a repeated
key — leaves the voice's last use as it was."""
import uuid

from audiokit import make_audio, upload
from conftest import assert_json, assert_problem
from jobkit import config_patch, no_rate_limit

TTS = "/api/tts"
CONVERT = "/api/voice-conversion"


def cloned_voice(db, user, days_unused, last_used_days=None):
    """An active cloned voice of user that Replicate knows, finished days_unused
    days ago (and last used last_used_days ago, if given)."""
    vid = str(uuid.uuid4())
    db.rows("INSERT INTO voices (id, user_id, name, status, is_cloned, provider_voice_ids, "
            "completed_at, last_used_at) VALUES (:'v', :'u', 'mine', 'active', true, "
            "'{\"replicate\": \"clone-x\"}', now() - make_interval(days => :d), "
            "now() - make_interval(days => NULLIF(:'l', '')::int))",
            v=vid, u=user.id, d=days_unused, l="" if last_used_days is None else last_used_days)
    return vid


def last_used(db, vid):
    return db.scalar("SELECT COALESCE(last_used_at::text, 'never') FROM voices WHERE id = :'v'", v=vid)


def source(api, user):
    return assert_json(upload(api, user.access, make_audio("wav", seconds=2.0),
                              filename="source.wav", ctype="audio/wav"), 201)["id"]


def tts(api, user, vid, **kw):
    return api.post(TTS, {"text": "Hello again.", "voiceId": vid}, token=user.access, **kw)


def convert(api, user, src, vid, **kw):
    return api.post(CONVERT, {"sourceAudioId": src, "voiceId": vid}, token=user.access, **kw)


def drain(db, user):
    db.rows("SELECT rv_credit_move(:'u', -credits, 'grant', 'test: no credits left') "
            "FROM users WHERE id = :'u' AND credits > 0", u=user.id)


def test_an_expired_clone_is_refused_by_every_kind(api, db, register):
    u = register()
    src = source(api, u)
    vid = cloned_voice(db, u, days_unused=8)
    jobs = "SELECT count(*) FROM jobs WHERE user_id = :'u'"
    n = db.scalar(jobs, u=u.id)
    for r in (tts(api, u, vid), convert(api, u, src, vid)):
        body = assert_problem(r, 409, "voice_expired")  # API.md, Voice
        assert "expired" in body["detail"]
    assert db.scalar(jobs, u=u.id) == n
    assert last_used(db, vid) == "never"  # a refusal is no use


def test_a_recently_used_clone_is_usable_and_its_use_recorded(api, db, register):
    u = register()
    src = source(api, u)
    vid = cloned_voice(db, u, days_unused=20, last_used_days=6)  # 6 days: one left
    before = last_used(db, vid)
    with no_rate_limit(db):
        assert_json(convert(api, u, src, vid), 202)
        after_conversion = last_used(db, vid)
        assert after_conversion > before
        assert_json(tts(api, u, vid), 202)
    assert last_used(db, vid) >= after_conversion


def test_refused_submits_leave_the_last_use_alone(api, db, register):
    u = register()
    src = source(api, u)
    vid = cloned_voice(db, u, days_unused=1)
    # A repeated key answers the first job and is no new use.
    key = "k-" + uuid.uuid4().hex
    assert_json(convert(api, u, src, vid, headers={"Idempotency-Key": key}), 202)
    first = last_used(db, vid)
    assert first != "never"
    db.rows("UPDATE voices SET last_used_at = now() - interval '1 day' WHERE id = :'v'", v=vid)
    marked = last_used(db, vid)
    assert_json(convert(api, u, src, vid, headers={"Idempotency-Key": key}), 202)
    assert last_used(db, vid) == marked
    # Rate limited (the first conversion is inside the minute).
    with config_patch(db, "rate_limits", ["generationsPerMinute"], 1):
        assert_problem(convert(api, u, src, vid), 429, "rate_limited")
        assert_problem(tts(api, u, vid), 429, "rate_limited")
    assert last_used(db, vid) == marked
    # No credits.
    drain(db, u)
    with no_rate_limit(db):
        assert_problem(convert(api, u, src, vid), 402, "insufficient_credits")
        assert_problem(tts(api, u, vid), 402, "insufficient_credits")
    assert last_used(db, vid) == marked
