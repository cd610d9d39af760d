"""DELETE /api/voices/{id}: presets are 403, someone else's voice 404; one's own
goes with its sample and preview (rows and files) unless another row still uses
them; a clone still running is cancelled and refunded first."""
import uuid

from conftest import assert_json, assert_problem
from voicekit import (CLONE_COST, PRESET_ID, clone, ledger_for_job, make_audio, sim_config,
                      simctl, stored, wait, wait_job, wait_voice)


def voice_row(db, user_id, sample_id, preview_id=None, name="Imported"):
    """A cloned voice made directly in the database (active)."""
    return db.scalar(
        "INSERT INTO voices (user_id, name, status, is_cloned, sample_audio_id, preview_audio_id,"
        " provider_voice_ids, completed_at) VALUES (:'u', :'n', 'active', true, :'s',"
        " NULLIF(:'p', '')::uuid, '{\"replicate\": \"sim-voice-x\"}', now()) RETURNING id",
        u=user_id, n=name, s=sample_id, p=preview_id or "")


def audio_exists(db, audio_id):
    return db.scalar("SELECT count(*) FROM audios WHERE id = :'a'", a=audio_id) == "1"


def delete(api, user, voice_id):
    return api.request("DELETE", f"/api/voices/{voice_id}", token=user.access)


def test_presets_and_others(api, register, db):
    u, other = register(), register()
    assert_problem(delete(api, u, PRESET_ID), 403, "forbidden")
    assert_json(api.get(f"/api/voices/{PRESET_ID}", token=u.access), 200)
    sample, key = make_audio(db, other.id, 12)
    theirs = voice_row(db, other.id, sample)
    for vid in (theirs, str(uuid.uuid4()), "not-a-uuid"):
        assert_problem(delete(api, u, vid), 404, "not_found")
    assert stored(key) and audio_exists(db, sample)
    assert_json(api.get(f"/api/voices/{theirs}", token=other.access), 200)
    assert_problem(api.request("DELETE", f"/api/voices/{theirs}"), 401)
    assert_problem(api.request("PUT", f"/api/voices/{theirs}", token=other.access), 405)


def test_delete_cloned_voice(api, register, db):
    """A voice cloned end to end: the voice, its sample, its preview and the
    provider's copy of the sample all go; the job stays in the history."""
    u = register()
    sample, sample_key = make_audio(db, u.id, 12)
    body = assert_json(clone(api, u, sample), 202)
    vid, jid = body["voice"]["id"], body["job"]["id"]
    assert wait_voice(api, u.access, vid, ("active", "failed"))["status"] == "active"
    preview_id, preview_key = db.rows(
        "SELECT a.id, a.storage_key FROM voices v JOIN audios a ON a.id = v.preview_audio_id"
        " WHERE v.id = :'v'", v=vid)[0]
    file_key = db.scalar("SELECT input -> 'voice' ->> 'fileKey' FROM jobs WHERE id = :'j'", j=jid)
    assert stored(sample_key) and stored(preview_key) and stored(file_key)

    r = delete(api, u, vid)
    assert r.status_code == 204 and r.content == b"", r.text
    assert_problem(api.get(f"/api/voices/{vid}", token=u.access), 404)
    assert_problem(delete(api, u, vid), 404)
    for key in (sample_key, preview_key, file_key):
        assert not stored(key), key
    assert not audio_exists(db, sample) and not audio_exists(db, preview_id)
    job = assert_json(api.get(f"/api/jobs/{jid}", token=u.access), 200)
    assert job["status"] == "succeeded" and "url" not in job["result"]
    assert db.credits(u.id) == 100 - CLONE_COST


def test_shared_sample_stays(api, register, db):
    """Two voices from one sample: the first delete leaves the sample, the second
    takes it. A preview goes with its voice."""
    u = register()
    sample, key = make_audio(db, u.id, 12)
    preview, preview_key = make_audio(db, u.id, 12)
    first = voice_row(db, u.id, sample, preview)
    second = voice_row(db, u.id, sample)
    assert delete(api, u, first).status_code == 204
    assert stored(key) and audio_exists(db, sample)
    assert not stored(preview_key) and not audio_exists(db, preview)
    assert delete(api, u, second).status_code == 204
    assert not stored(key) and not audio_exists(db, sample)


def test_sample_used_by_an_unfinished_job_stays(api, register, db):
    """A sample that a job which has not ended names (here a conversion's source,
    of a provider no poller serves) is kept."""
    u = register()
    sample, key = make_audio(db, u.id, 12)
    mine = voice_row(db, u.id, sample)
    job = db.scalar(
        "INSERT INTO jobs (user_id, kind, input, provider, callback_token, deadline_at,"
        " cost_credits) VALUES (:'u', 'voice_conversion', jsonb_build_object('sourceAudioId',"
        " :'a'), 'test-nowhere', 't', now() + interval '1 hour', 0) RETURNING id",
        u=u.id, a=sample)
    try:
        assert delete(api, u, mine).status_code == 204
        assert stored(key) and audio_exists(db, sample)
    finally:
        db.rows("UPDATE jobs SET status = 'cancelled', completed_at = now() WHERE id = :'j'",
                j=job)


def test_delete_while_cloning_cancels_and_refunds(api, register, db):
    u = register()
    sample, key = make_audio(db, u.id, 12)
    simctl.gate(False)  # the prediction stays processing: the delete surely finds it training
    with sim_config(finish_gate=1):
        body = assert_json(clone(api, u, sample), 202)
        vid, jid = body["voice"]["id"], body["job"]["id"]
        wait_voice(api, u.access, vid, ("training",))
        assert delete(api, u, vid).status_code == 204
        job = wait_job(api, u.access, jid)
        assert job["status"] == "cancelled"
        assert ledger_for_job(db, jid) == [("job_charge", -CLONE_COST),
                                           ("job_refund", CLONE_COST)]
        assert db.credits(u.id) == 100
        # The poller stops the work at the provider too.
        wait(lambda: [p for p in simctl.predictions(job=jid) if p["status"] == "canceled"],
             10, "the prediction to be cancelled")
    assert not stored(key) and not audio_exists(db, sample)
    assert db.scalar("SELECT count(*) FROM voices WHERE user_id = :'u'", u=u.id) == "0"
    assert db.scalar("SELECT count(*) FROM audios WHERE user_id = :'u'", u=u.id) == "0"
