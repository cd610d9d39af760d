"""Music tracks: the public list (three generated ambient pieces on a fresh stack,
playable through signed links that seek), admins adding a track as a raw audio
upload and removing it, and every refusal (401, 403 for a non-admin, 400, 415,
422, 404) changing nothing."""
import os
import urllib.parse

import pytest

from audiokit import body_files, make_audio
from conftest import assert_json, assert_problem, login

STORAGE = os.path.join(os.environ["RV_DATA_DIR"], "storage")


def tracks(api):
    r = api.get("/api/music-tracks")
    return assert_json(r, 200)["items"]


def key_of(url):
    return urllib.parse.urlparse(url).path[len("/media/"):]


@pytest.fixture
def admin(api, db, register):
    u = register()
    db.rows("UPDATE users SET role = 'admin' WHERE id = :'u'", u=u.id)
    u.access = login(api, u.email)[0]
    return u


def post_track(api, token, data, title="Test track", ctype="audio/wav"):
    q = "" if title is None else "?title=" + urllib.parse.quote(title)
    return api.request("POST", "/api/admin/music-tracks" + q, data=data, token=token,
                       ctype=ctype)


def state(db):
    return (db.rows("SELECT id FROM music_tracks ORDER BY id"),
            db.scalar("SELECT count(*) FROM storage_pending"))


def test_generated_tracks_are_listed_and_play(api):
    items = tracks(api)
    gen = [t for t in items if t["title"].startswith("Generated ambient")]
    assert len(gen) >= 3, items
    for t in gen:
        assert set(t) == {"id", "title", "durationMs", "url"}
        assert 60000 <= t["durationMs"] <= 120000
        assert "synthesised" in t["title"]
    # The link plays and seeks: a Range request gets 206 with the asked bytes.
    r = api.request("GET", gen[0]["url"][len(api.base):], headers={"Range": "bytes=100-199"})
    assert r.status_code == 206, r.text
    assert r.headers["Content-Type"] == "audio/mpeg"
    assert len(r.content) == 100


def test_list_is_public(api):
    r = api.get("/api/music-tracks")
    assert r.status_code == 200
    assert_problem(api.request("POST", "/api/music-tracks", json_body={}), 405)


def test_admin_adds_and_removes_a_track(api, db, admin):
    r = post_track(api, admin.access, make_audio("wav", seconds=3), title="Rain / night — ü")
    t = assert_json(r, 201)
    assert t["title"] == "Rain / night — ü"
    assert abs(t["durationMs"] - 3000) <= 50
    assert t["id"] in [x["id"] for x in tracks(api)]
    key = key_of(t["url"])
    assert key.startswith("music/") and os.path.exists(os.path.join(STORAGE, key))
    assert db.scalar("SELECT count(*) FROM storage_pending WHERE key = :'k'", k=key) == "0"
    assert body_files() == []

    r = api.request("DELETE", f"/api/admin/music-tracks/{t['id']}", token=admin.access)
    assert r.status_code == 204, r.text
    assert t["id"] not in [x["id"] for x in tracks(api)]
    assert not os.path.exists(os.path.join(STORAGE, key))
    assert_problem(api.request("DELETE", f"/api/admin/music-tracks/{t['id']}",
                               token=admin.access), 404, "not_found")


def test_non_admin_is_refused_and_nothing_changes(api, db, register, admin):
    u = register()
    before = state(db)
    assert_problem(post_track(api, u.access, make_audio("wav")), 403, "forbidden")
    assert_problem(post_track(api, None, make_audio("wav")), 401)
    t = assert_json(post_track(api, admin.access, make_audio("mp3")), 201)
    mid = state(db)
    assert_problem(api.request("DELETE", f"/api/admin/music-tracks/{t['id']}", token=u.access),
                   403, "forbidden")
    assert_problem(api.request("DELETE", f"/api/admin/music-tracks/{t['id']}"), 401)
    assert state(db) == mid
    assert len(mid[0]) == len(before[0]) + 1
    assert api.request("DELETE", f"/api/admin/music-tracks/{t['id']}",
                       token=admin.access).status_code == 204
    assert body_files() == []


@pytest.mark.parametrize("title,data,ctype,status,code", [
    (None, "wav", "audio/wav", 400, "validation_failed"),
    ("", "wav", "audio/wav", 400, "validation_failed"),
    ("   ", "wav", "audio/wav", 400, "validation_failed"),
    ("x" * 201, "wav", "audio/wav", 400, "validation_failed"),
    ("bad\x01title", "wav", "audio/wav", 400, "validation_failed"),
    ("ok", "wav", "image/png", 415, "unsupported_media_type"),
    ("ok", b"GIF89a" + b"\0" * 100, "audio/wav", 415, "unsupported_media_type"),
    ("ok", b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 30, "audio/wav", 422, "unprocessable"),
    ("ok", b"", "audio/wav", 422, "unprocessable"),
])
def test_bad_uploads(api, db, admin, title, data, ctype, status, code):
    before = state(db)
    body = make_audio(data) if isinstance(data, str) else data
    assert_problem(post_track(api, admin.access, body, title=title, ctype=ctype), status, code)
    assert state(db) == before
    assert body_files() == []


def test_delete_unknown(api, admin):
    assert_problem(api.request("DELETE", "/api/admin/music-tracks/not-a-uuid",
                               token=admin.access), 404)
    assert_problem(api.request("DELETE",
                               "/api/admin/music-tracks/00000000-0000-4000-8000-000000000099",
                               token=admin.access), 404)
