"""Reading: GET /api/jobs (the history), GET /api/jobs/{id}, GET /api/voices,
GET /api/voices/{id}, GET /api/audios/{id} and the signed /media links."""
import re
import time
import urllib.parse
import uuid

import pytest

from conftest import Api, assert_json, assert_problem, do_register
from jobkit import (PRESET_IDS, assert_job, get_job, link_key, sign_link, submit_sfx,
                    submit_tts, wait_for_job)

VOICE_KEYS = {"id", "name", "status", "isCloned", "language", "gender", "createdAt"}


@pytest.fixture(scope="module")
def history():
    """A user with three jobs (two tts, one sfx; the second tts succeeded, the
    first cancelled) and another user with none."""
    api = Api()
    u = do_register(api)
    a = submit_tts(api, u, "First of three. " + "[[sim delay_ms=3600000 webhooks=none]]")
    b = submit_tts(api, u, "Second of three, it will succeed.")
    c = submit_sfx(api, u, "a bell rings twice")
    assert_json(api.request("DELETE", f"/api/jobs/{a['id']}", token=u.access), 200)
    b = wait_for_job(api, u, b["id"], "succeeded")
    c = wait_for_job(api, u, c["id"], "succeeded")
    other = do_register(api)
    yield {"user": u, "other": other, "jobs": [a, b, c], "tts_done": b, "sfx_done": c}
    api.close()


def list_jobs(api, user, query=""):
    b = assert_json(api.get("/api/jobs" + query, token=user.access), 200)
    assert set(b) == {"items", "pagination"}, b
    for j in b["items"]:
        assert_job(j)
    return b


def test_list_newest_first_and_paginated(api, history):
    u = history["user"]
    a, b, c = history["jobs"]
    all_ = list_jobs(api, u)
    assert [j["id"] for j in all_["items"]] == [c["id"], b["id"], a["id"]]
    assert all_["pagination"] == {"page": 1, "limit": 20, "total": 3, "totalPages": 1,
                                  "hasNext": False, "hasPrev": False}
    p1 = list_jobs(api, u, "?limit=2")
    assert [j["id"] for j in p1["items"]] == [c["id"], b["id"]]
    assert p1["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2,
                                "hasNext": True, "hasPrev": False}
    p2 = list_jobs(api, u, "?limit=2&page=2")
    assert [j["id"] for j in p2["items"]] == [a["id"]]
    assert p2["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2,
                                "hasNext": False, "hasPrev": True}
    p9 = list_jobs(api, u, "?limit=2&page=9")
    assert p9["items"] == [] and p9["pagination"]["total"] == 3
    # A succeeded job in the list carries a signed link to its audio.
    done = next(j for j in all_["items"] if j["id"] == b["id"])
    assert done["status"] == "succeeded" and done["result"]["url"].startswith("http")


def test_list_filters(api, history):
    u = history["user"]
    a, b, c = history["jobs"]
    assert [j["id"] for j in list_jobs(api, u, "?kind=tts")["items"]] == [b["id"], a["id"]]
    assert [j["id"] for j in list_jobs(api, u, "?kind=sfx")["items"]] == [c["id"]]
    assert list_jobs(api, u, "?kind=voice_clone")["items"] == []
    assert [j["id"] for j in list_jobs(api, u, "?status=cancelled")["items"]] == [a["id"]]
    assert [j["id"] for j in list_jobs(api, u, "?status=succeeded")["items"]] == [c["id"], b["id"]]
    both = list_jobs(api, u, "?kind=tts&status=succeeded&limit=1")
    assert [j["id"] for j in both["items"]] == [b["id"]]
    assert both["pagination"]["total"] == 1
    assert list_jobs(api, u, "?status=queued")["pagination"]["total"] == 0


@pytest.mark.parametrize("query,field", [
    ("?kind=podcast", "kind"), ("?status=done", "status"), ("?status=", "status"),
    ("?kind=TTS", "kind"), ("?limit=0", "limit"), ("?limit=101", "limit"),
    ("?page=0", "page"), ("?page=x", "page"), ("?limit=-1", "limit"),
])
def test_list_bad_query(api, history, query, field):
    r = api.get("/api/jobs" + query, token=history["user"].access)
    assert_problem(r, 400, "validation_failed", {field})


def test_list_only_own_jobs(api, history):
    other = history["other"]
    b = list_jobs(api, other)
    assert b["items"] == [] and b["pagination"]["total"] == 0
    mine = {j["id"] for j in history["jobs"]}
    for q in ("?kind=tts", "?status=succeeded", "?limit=100"):
        assert not mine & {j["id"] for j in list_jobs(api, other, q)["items"]}


def test_get_job(api, history):
    u, b = history["user"], history["tts_done"]
    got = get_job(api, u, b["id"])
    assert got["id"] == b["id"] and got["status"] == "succeeded"
    assert got["result"]["audioId"] == b["result"]["audioId"]
    assert got["startedAt"] <= got["completedAt"] and got["createdAt"] <= got["startedAt"]


def test_get_job_etag(api, history):
    """A job answers an ETag; asked again with it, unchanged, it answers 304 with no
    body; a stale tag gets the whole job."""
    u, b = history["user"], history["tts_done"]
    r = api.get(f"/api/jobs/{b['id']}", token=u.access)
    tag = r.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag), tag
    again = api.request("GET", f"/api/jobs/{b['id']}", token=u.access,
                        headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"", again.text
    assert again.headers["ETag"] == tag
    stale = api.request("GET", f"/api/jobs/{b['id']}", token=u.access,
                        headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    assert_json(stale, 200)["id"] == b["id"]
    listing = api.get("/api/jobs", token=u.access)
    assert api.request("GET", "/api/jobs", token=u.access,
                       headers={"If-None-Match": listing.headers["ETag"]}).status_code == 304


def test_get_job_not_yours_or_not_there(api, history):
    other, b = history["other"], history["tts_done"]
    assert_problem(api.get(f"/api/jobs/{b['id']}", token=other.access), 404, "not_found")
    assert_problem(api.request("DELETE", f"/api/jobs/{b['id']}", token=other.access), 404,
                   "not_found")
    for bad in ("not-a-uuid", str(uuid.uuid4()), b["id"].upper() + "x", "0"):
        assert_problem(api.get(f"/api/jobs/{bad}", token=history["user"].access), 404,
                       "not_found")
    assert_problem(api.get(f"/api/jobs/{b['id']}"), 401, "unauthorized")
    r = api.request("PUT", f"/api/jobs/{b['id']}", token=history["user"].access)
    assert_problem(r, 405, "method_not_allowed")
    assert set(x.strip() for x in r.headers["Allow"].split(",")) >= {"GET", "DELETE"}
    assert_problem(api.request("POST", "/api/jobs", token=history["user"].access), 405,
                   "method_not_allowed")


def test_voices(api, history):
    u = history["user"]
    b = assert_json(api.get("/api/voices", token=u.access), 200)
    ids = [v["id"] for v in b["items"]]
    assert sorted(ids) == PRESET_IDS, ids
    assert b["pagination"]["total"] == 7
    for v in b["items"]:
        assert VOICE_KEYS <= set(v), v
        assert v["status"] == "active" and v["isCloned"] is False and v["name"], v
    p = assert_json(api.get("/api/voices?limit=5&page=2", token=u.access), 200)
    assert len(p["items"]) == 2 and p["pagination"]["hasPrev"] is True
    assert_problem(api.get("/api/voices?limit=0", token=u.access), 400, "validation_failed",
                   {"limit"})
    assert_problem(api.get("/api/voices"), 401, "unauthorized")


def test_voice(api, history):
    u = history["user"]
    listed = {v["id"]: v for v in assert_json(api.get("/api/voices", token=u.access), 200)["items"]}
    for vid in PRESET_IDS:
        v = assert_json(api.get(f"/api/voices/{vid}", token=u.access), 200)
        assert v == listed[vid]
    for bad in (str(uuid.uuid4()), "nope"):
        assert_problem(api.get(f"/api/voices/{bad}", token=u.access), 404, "not_found")


def test_audio_of_a_generated_job(api, history):
    u, other, b = history["user"], history["other"], history["tts_done"]
    aid = b["result"]["audioId"]
    a = assert_json(api.get(f"/api/audios/{aid}", token=u.access), 200)
    assert {"id", "filename", "contentType", "bytes", "durationMs", "source", "url",
            "createdAt"} <= set(a), a
    assert a["id"] == aid and a["source"] == "generated"
    assert a["durationMs"] == b["result"]["durationMs"]
    assert a["contentType"] == "audio/wav" and a["bytes"] > 44
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(a["url"]).query)
    # Valid an hour at least; links end on a 5-minute step (storage.c, LINK_STEP_S).
    assert 3600 - 120 <= int(q["exp"][0]) - time.time() <= 3900 + 120
    assert len(q["sig"][0]) == 43
    assert_problem(api.get(f"/api/audios/{aid}", token=other.access), 404, "not_found")
    assert_problem(api.get(f"/api/audios/{uuid.uuid4()}", token=u.access), 404, "not_found")
    assert_problem(api.get(f"/api/audios/{aid}"), 401, "unauthorized")


def media_path(url):
    """The path and query of a signed link, to fetch through the test stack."""
    s = urllib.parse.urlsplit(url)
    return s.path + "?" + s.query, s.path[len("/media/"):], urllib.parse.parse_qs(s.query)


def test_media_link(api, history):
    u, b = history["user"], history["tts_done"]
    a = assert_json(api.get(f"/api/audios/{b['result']['audioId']}", token=u.access), 200)
    path, key, q = media_path(a["url"])
    r = api.get(path)  # public: no token
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("audio/wav")
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert len(r.content) == a["bytes"]
    # The job's own link is a valid one too.
    jr = api.get(media_path(b["result"]["url"])[0])
    assert jr.status_code == 200 and jr.content == r.content
    part = api.get(path, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206, part.status_code
    assert part.content == r.content[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(r.content)}"
    tail = api.get(path, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == r.content[-10:]


def test_media_link_refused(api, history):
    u, b = history["user"], history["tts_done"]
    a = assert_json(api.get(f"/api/audios/{b['result']['audioId']}", token=u.access), 200)
    _, key, q = media_path(a["url"])
    exp, sig = q["exp"][0], q["sig"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    refused = [
        f"/media/{key}?exp={exp}&sig={flipped}",               # tampered signature
        f"/media/{key}?exp={int(exp) + 1}&sig={sig}",          # exp moved, signature kept
        f"/media/{key}?exp={exp}",                             # no signature
        f"/media/{key}?sig={sig}",                             # no expiry
        f"/media/{key}?exp={exp}&sig={sig[:-1]}",              # truncated
        f"/media/{key[:-1]}x?exp={exp}&sig={sig}",             # another key
    ]
    past = int(time.time()) - 10
    refused.append(f"/media/{key}?exp={past}&sig={sign_link(key, past)}")  # expired, well signed
    for path in refused:
        r = api.get(path)
        assert_problem(r, 403, "forbidden")
        assert b"RIFF" not in r.content
    # The same signing with a future expiry opens it: the refusal above was the expiry.
    fut = int(time.time()) + 60
    assert api.get(f"/media/{key}?exp={fut}&sig={sign_link(key, fut)}").status_code == 200
    assert link_key()  # the helper signs like the server
    r = api.request("POST", f"/media/{key}?exp={exp}&sig={sig}")
    assert_problem(r, 405, "method_not_allowed")
