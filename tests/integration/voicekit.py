"""Helpers of the voice tests: sample audios made directly in the database and the
storage folder (until uploads exist), waiting on jobs and voices, the simulator's
controls, and admin_config changes that are always undone."""
import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import wave

from conftest import DATA_DIR

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sim"))
import simctl  # noqa: E402

STORAGE = os.path.join(DATA_DIR, "storage")
PUBLIC_URL = os.environ.get("RV_PUBLIC_URL") or os.environ["RV_TEST_URL"]
PRESET_ID = "00000000-0000-4000-8000-000000000001"
CLONE_COST = 50

_made = {}
_tmp = tempfile.mkdtemp(prefix="rv-voices-")
atexit.register(shutil.rmtree, _tmp, True)


def wav_file(seconds, silent=False):
    """A cached WAV of `seconds` (a 220 Hz sine, 44.1 kHz stereo, or silence)."""
    key = (seconds, silent)
    if key not in _made:
        path = os.path.join(_tmp, f"{seconds}-{'silent' if silent else 'sine'}.wav")
        src = (f"anullsrc=r=44100:cl=stereo:d={seconds}" if silent
               else f"sine=frequency=220:duration={seconds}")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src,
                        "-ar", "44100", "-ac", "2", path], check=True, timeout=60)
        _made[key] = path
    return _made[key]


def wav_info(path):
    """(channels, rate, bits, duration_ms) of a PCM WAV."""
    with wave.open(path) as w:
        return (w.getnchannels(), w.getframerate(), 8 * w.getsampwidth(),
                round(w.getnframes() * 1000 / w.getframerate()))


def make_audio(db, user_id, seconds=12, silent=False, duration_ms=None):
    """An uploaded audio of user_id: a real WAV under storage and its audios row.
    duration_ms: what the row claims, when not the file's own. Returns (id, key)."""
    src = wav_file(seconds, silent)
    ch, rate, _, ms = wav_info(src)
    key = f"audios/{user_id}/20260101T000000-sample-{uuid.uuid4().hex[:12]}.wav"
    path = os.path.join(STORAGE, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(src, "rb") as f, open(path, "wb") as g:
        g.write(f.read())
    aid = db.scalar(
        "INSERT INTO audios (user_id, filename, content_type, bytes, duration_ms, sample_rate,"
        " channels, storage_key, source) VALUES (:'u', 'sample.wav', 'audio/wav', :b, :d, :r,"
        " :c, :'k', 'upload') RETURNING id",
        u=user_id, b=os.path.getsize(path), d=ms if duration_ms is None else duration_ms,
        r=rate, c=ch, k=key)
    return aid, key


def stored(key):
    return os.path.exists(os.path.join(STORAGE, key))


def wait(fn, timeout=20, what="condition", interval=0.1):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def get_json(api, path, token):
    r = api.get(path, token=token)
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    return r.json()


def wait_job(api, token, job_id, statuses=("succeeded", "failed", "cancelled"), timeout=20):
    def done():
        j = get_json(api, f"/api/jobs/{job_id}", token)
        return j if j["status"] in statuses else None
    return wait(done, timeout, f"job {job_id} to be {'|'.join(statuses)}")


def wait_voice(api, token, voice_id, statuses, timeout=20, interval=0.1):
    def done():
        v = get_json(api, f"/api/voices/{voice_id}", token)
        return v if v["status"] in statuses else None
    return wait(done, timeout, f"voice {voice_id} to be {'|'.join(statuses)}", interval)


def clone(api, user, sample_id, name="My voice", headers=None, **extra):
    body = {"name": name, "sampleAudioId": sample_id, **extra}
    return api.post("/api/voices", body, token=user.access, headers=headers)


@contextlib.contextmanager
def sim_config(**keys):
    """Simulator faults for every new prediction inside the block."""
    simctl.config(**keys)
    try:
        yield
    finally:
        simctl.reset()


@contextlib.contextmanager
def provider_kinds(db, kind, providers):
    """admin_config providers.kinds[kind] = providers inside the block."""
    old = db.scalar("SELECT value -> 'kinds' -> :'k' FROM admin_config WHERE key = 'providers'",
                    k=kind)
    db.rows("UPDATE admin_config SET value = jsonb_set(value, ARRAY['kinds', :'k'], :'v'::jsonb)"
            " WHERE key = 'providers'", k=kind, v=json.dumps(providers))
    try:
        yield
    finally:
        db.rows("UPDATE admin_config SET value = jsonb_set(value, ARRAY['kinds', :'k'], :'v'::jsonb)"
                " WHERE key = 'providers'", k=kind, v=old)


def ledger_for_job(db, job_id):
    """[(kind, delta)] of a job's ledger rows."""
    return [(k, int(d)) for k, d in db.rows(
        "SELECT kind, delta FROM credit_ledger WHERE job_id = :'j' ORDER BY created_at, id",
        j=job_id)]
