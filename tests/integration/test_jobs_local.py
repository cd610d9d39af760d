"""The local provider end to end (espeak-ng speech, encoded by ffmpeg's
libraries): with admin_config.providers sending tts to "local" only, speech in
every asked format and sample rate, checked with ffprobe; a kind the local
provider cannot do is refused at submit time (503) and nothing is charged."""
import json
import re
import subprocess
import tempfile
import urllib.parse

import pytest

from conftest import Api, assert_json, assert_problem, do_register
from jobkit import (assert_settled, balance, config_patch, get_job, local_tts_only,
                    no_rate_limit, submit_tts, user_jobs, wait_jobs_db)

FORMATS = {"mp3": ("audio/mpeg", "mp3", "mp3"), "wav": ("audio/wav", "pcm_s16le", "wav"),
           "flac": ("audio/flac", "flac", "flac")}
SHORT = "Hello from Reelvox."
LONG = ("Hello from Reelvox. This sentence is a good deal longer than the first one, "
        "so the speech made from it has to last longer too.")


def probe(data):
    """ffprobe's view of a file (from a file: through a pipe, mp3 and wav have no
    duration)."""
    with tempfile.NamedTemporaryFile(suffix=".audio") as f:
        f.write(data)
        f.flush()
        r = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=sample_rate,codec_name,channels", "-show_entries",
                            "format=format_name,duration", "-of", "json", f.name],
                           capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def local_jobs():
    """Every format at two rates, and a longer text, made by the local provider."""
    from conftest import Db
    db = Db()
    api = Api()
    u = do_register(api)
    jobs = {}
    with local_tts_only(db), no_rate_limit(db):
        for fmt in FORMATS:
            for rate in (16000, 44100):
                jobs[(fmt, rate)] = submit_tts(api, u, SHORT, audioFormat=fmt, sampleRate=rate)
        jobs["long"] = submit_tts(api, u, LONG, audioFormat="wav", sampleRate=16000)
    try:
        wait_jobs_db(db, [j["id"] for j in jobs.values()], timeout=40)
    except AssertionError:
        pass  # each test reports its own job
    yield api, u, {k: get_job(api, u, j["id"]) for k, j in jobs.items()}
    api.close()


def download(api, url):
    s = urllib.parse.urlsplit(url)
    r = api.get(s.path + "?" + s.query)
    assert r.status_code == 200, r.status_code
    return r


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("rate", [16000, 44100])
def test_local_speech(db, local_jobs, fmt, rate):
    api, u, jobs = local_jobs
    job = jobs[(fmt, rate)]
    assert job["provider"] == "local", job
    assert job["status"] == "succeeded", job
    assert_settled(db, job, refunded=False)
    ctype, codec, container = FORMATS[fmt]
    assert job["result"]["contentType"] == ctype, job["result"]
    r = download(api, job["result"]["url"])
    assert r.headers["Content-Type"].startswith(ctype), r.headers
    info = probe(r.content)
    (stream,) = info["streams"]
    assert stream["codec_name"] == codec, info
    assert int(stream["sample_rate"]) == rate, info
    assert stream["channels"] == 1, info
    assert container in info["format"]["format_name"].split(","), info
    dur = float(info["format"]["duration"])
    assert dur > 0.3, info
    # What the API says is what the file is.
    assert abs(job["result"]["durationMs"] - dur * 1000) < 150, (job["result"], dur)
    a = assert_json(api.get(f"/api/audios/{job['result']['audioId']}", token=u.access), 200)
    assert a["contentType"] == ctype and a["bytes"] == len(r.content) and a["source"] == "generated"
    assert a["filename"].endswith("." + fmt), a


def test_longer_text_longer_speech(local_jobs):
    api, u, jobs = local_jobs
    short, long_ = jobs[("wav", 16000)], jobs["long"]
    assert short["status"] == long_["status"] == "succeeded", (short, long_)
    d_short = float(probe(download(api, short["result"]["url"]).content)["format"]["duration"])
    d_long = float(probe(download(api, long_["result"]["url"]).content)["format"]["duration"])
    assert d_long > 2 * d_short, (d_short, d_long)
    assert long_["result"]["durationMs"] > 2 * short["result"]["durationMs"]


def test_sfx_without_a_provider_refused(api, db, register):
    u = register()
    before = balance(db, u)
    with config_patch(db, "providers", ["kinds", "sfx"], ["local"]):
        r = api.post("/api/sfx", {"prompt": "waves on a beach"}, token=u.access)
        assert_problem(r, 503, "provider_unavailable")
        # tts, which the local provider can do, still goes through.
        with local_tts_only(db):
            job = submit_tts(api, u, "still possible")
            assert job["provider"] == "local"
    assert balance(db, u) == before - job["costCredits"]
    assert user_jobs(db, u) == 1
    # Nothing configured at all for tts: refused as well, nothing charged.
    with config_patch(db, "providers", ["kinds", "tts"], []):
        before = balance(db, u)
        r = api.post("/api/tts", {"text": "x", "voiceId": "00000000-0000-4000-8000-000000000001"},
                     token=u.access)
        assert_problem(r, 503, "provider_unavailable")
        assert balance(db, u) == before and user_jobs(db, u) == 1


def test_media_url_names_nothing_of_the_user(db, local_jobs):
    """A stored file's key is random: the media URL (and so nginx's access log)
    holds neither the user id nor a word of the text."""
    api, u, jobs = local_jobs
    words = {w.strip(".,").lower() for w in (SHORT + " " + LONG).split() if len(w) > 3}
    for job in jobs.values():
        assert job["status"] == "succeeded", job
        url = job["result"]["url"]
        key = db.scalar("SELECT storage_key FROM audios WHERE id = :'a'",
                        a=job["result"]["audioId"])
        for s in (url.split("?")[0].lower(), key):
            assert u.id not in s and u.id.split("-")[0] not in s, s
            assert not [w for w in words if w in s], s
        assert re.fullmatch(r"audios/([0-9a-f]{2})/\1[0-9a-f]{30}\.(mp3|wav|flac)", key), key
