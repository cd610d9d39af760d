"""POST|GET /api/audios and GET|DELETE /api/audios/{id}: uploads through nginx's
body file, the type by content, filenames, limits, ownership, pagination, and that
no bad upload leaves a file (in nginx's body folder or in storage) or moves a
credit."""
import os
import re
import struct
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from audiokit import (BODY_DIR, FORMATS, STORAGE, body_files, make_audio, stored_files,
                      upload)
from conftest import DATA_DIR, RFC3339_UTC, UUID_RE, assert_json, assert_problem

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("RV_BIN_DIR", REPO / "bin"))
AUDIO_KEYS = {"id", "filename", "contentType", "bytes", "durationMs", "sampleRate", "channels",
              "source", "createdAt", "url"}


@pytest.fixture
def user(register):
    return register()


def key_of(db, audio_id):
    return db.scalar("SELECT storage_key FROM audios WHERE id = :'a'", a=audio_id)


def assert_clean(db, u, credits, n_audios=0, linger=0.0):
    """Nothing left behind by a refused upload, and nothing charged. A body nginx
    itself refused part-way (413 of a chunked body) is removed when nginx ends the
    request, after its lingering close: linger is how long that may take."""
    end = time.time() + linger
    while body_files() and time.time() < end:
        time.sleep(0.05)
    assert body_files() == [], body_files()
    assert len(stored_files(db, u.id)) == n_audios, stored_files(db, u.id)
    assert db.credits(u.id) == credits
    assert int(db.scalar("SELECT count(*) FROM audios WHERE user_id = :'u'", u=u.id)) == n_audios


# ----------------------------------------------------------------------- formats


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_upload_each_format(api, db, user, kind):
    data = make_audio(kind, seconds=1.5)
    r = upload(api, user.access, data, filename=f"Take One.{kind}",
               ctype=FORMATS[kind][1] if kind != "wav" else "audio/x-wav")
    a = assert_json(r, 201)
    assert set(a) == AUDIO_KEYS, a
    assert UUID_RE.match(a["id"]) and RFC3339_UTC.match(a["createdAt"])
    assert r.headers["Location"] == f"/api/audios/{a['id']}"
    assert a["filename"] == f"Take One.{kind}"
    assert a["contentType"] == FORMATS[kind][1]
    assert a["source"] == "upload"
    assert a["bytes"] == len(data)
    assert abs(a["durationMs"] - 1500) <= 60, a  # codec padding, frame rounding
    assert a["channels"] == 1 and a["sampleRate"] in (22050, 48000)
    key = key_of(db, a["id"])
    assert re.fullmatch(rf"audios/([0-9a-f]{{2}})/\1[0-9a-f]{{30}}\.{FORMATS[kind][2]}", key), key
    assert (STORAGE / key).read_bytes() == data
    got = api.get(a["url"][len(api.base):])
    assert got.status_code == 200 and got.content == data
    assert api.get(f"/api/audios/{a['id']}", token=user.access).json()["id"] == a["id"]
    assert body_files() == []
    assert db.credits(user.id) == 100


def test_content_decides_type(api, db, user):
    """A wav sent as audio/mpeg is stored as the wav it is."""
    data = make_audio("wav")
    a = assert_json(upload(api, user.access, data, filename="x.mp3", ctype="audio/mpeg"), 201)
    assert a["contentType"] == "audio/wav"
    assert key_of(db, a["id"]).endswith(".wav")
    assert a["filename"] == "x.mp3"  # the client's label, kept as given


def test_id3_tagged_flac(api, user):
    """A tag in front does not make a flac an mp3."""
    tag = b"ID3\x04\x00\x00\x00\x00\x01\x00" + b"\x00" * 128
    a = assert_json(upload(api, user.access, tag + make_audio("flac"), filename="t.flac",
                           ctype="audio/flac"), 201)
    assert a["contentType"] == "audio/flac"


def test_matroska_is_not_webm(api, db, user, tmp_path):
    mka = tmp_path / "t.mka"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1",
                    "-c:a", "libopus", "-ar", "48000", "-f", "matroska", str(mka)], check=True)
    r = upload(api, user.access, mka.read_bytes(), filename="t.webm", ctype="audio/webm")
    assert_problem(r, 415, "unsupported_media_type")
    assert_clean(db, user, 100)


def test_content_type_parameters(api, user):
    a = assert_json(upload(api, user.access, make_audio("webm"), filename="rec.webm",
                           ctype="audio/webm;codecs=opus"), 201)
    assert a["contentType"] == "audio/webm"


@pytest.mark.parametrize("ctype", ["text/plain", "application/octet-stream", "audio/mp3",
                                   "video/webm", "application/json", ""])
def test_content_type_outside_list(api, db, user, ctype):
    r = upload(api, user.access, make_audio("mp3"), ctype=ctype)
    assert_problem(r, 415, "unsupported_media_type")
    assert_clean(db, user, 100)


def test_text_body(api, db, user):
    r = upload(api, user.access, b"hello, I am text pretending to be audio\n" * 50,
               filename="notes.mp3", ctype="audio/mpeg")
    assert_problem(r, 415, "unsupported_media_type")
    assert_clean(db, user, 100)


def test_garbage_with_mp3_name(api, db, user):
    r = upload(api, user.access, b"\x00garbage" + os.urandom(8192), filename="song.mp3")
    assert_problem(r, 415, "unsupported_media_type")
    assert_clean(db, user, 100)


def test_id3_tag_over_garbage(api, db, user):
    """Magic bytes that promise an mp3 over content that is none: 422."""
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x20" + b"\x00" * 32
    r = upload(api, user.access, tag + b"this is not audio at all. " * 200, filename="t.mp3")
    assert_problem(r, 422, "unprocessable")
    assert_clean(db, user, 100)


def test_magic_of_one_type_content_of_another(api, db, user):
    """A flac with an OggS prefix glued on: the magic says ogg, nothing decodes as ogg."""
    r = upload(api, user.access, b"OggS" + make_audio("flac"), filename="t.ogg",
               ctype="audio/ogg")
    assert_problem(r, 422, "unprocessable")
    assert_clean(db, user, 100)


def test_zero_byte_body(api, db, user):
    """An empty body is 422 unprocessable (well-formed request, no audio in it)."""
    r = upload(api, user.access, b"", filename="empty.mp3")
    assert_problem(r, 422, "unprocessable")
    assert_clean(db, user, 100)


def test_truncated_mp3(api, db, user):
    """Half a file: what survives decodes; the answer is sane either way."""
    data = make_audio("mp3", seconds=3)
    r = upload(api, user.access, data[: len(data) // 2], filename="half.mp3")
    if r.status_code == 201:
        a = r.json()
        assert 500 <= a["durationMs"] < 3000, a
        assert a["bytes"] == len(data) // 2
    else:
        assert_problem(r, 422, "unprocessable")
        assert_clean(db, user, 100)
    # The handler is alive and well afterwards.
    assert_json(upload(api, user.access, make_audio("mp3"), filename="ok.mp3"), 201)


def test_wav_header_claiming_2gb(api, db, user):
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    pcm = b"\x10\x00" * 50  # 100 bytes
    data = (b"RIFF" + struct.pack("<I", 0x7FFFFFF0) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", 0x7FFFFFD0) + pcm)
    r = upload(api, user.access, data, filename="huge.wav", ctype="audio/wav")
    if r.status_code == 201:
        a = r.json()
        assert a["bytes"] == len(data)
        assert 0 < a["durationMs"] <= 10, a  # 50 samples at 8 kHz: what is there
    else:
        assert_problem(r, 422, "unprocessable")
        assert_clean(db, user, 100)


def test_51_mib_body(api, db, user):
    body = b"\xff\xfb\x90\x64" + b"\x00" * (51 * 1024 * 1024 - 4)
    r = upload(api, user.access, body, filename="big.mp3")
    assert_problem(r, 413, "payload_too_large")
    assert_clean(db, user, 100)


def test_51_mib_chunked_body(api, db, user):
    def chunks():
        for _ in range(51):
            yield b"\x00" * (1024 * 1024)

    r = upload(api, user.access, chunks(), filename="big.mp3")
    assert_problem(r, 413, "payload_too_large")
    assert_clean(db, user, 100, linger=10)


def test_refused_early_leaves_nothing(api, db, user):
    """No token (401) and a wrong method (405): the serve loop answers before the
    handler runs, and the body file still goes."""
    data = make_audio("mp3")
    assert_problem(upload(api, None, data), 401, "unauthorized")
    assert body_files() == []
    r = api.request("PUT", "/api/audios?filename=a.mp3", data=data, token=user.access,
                    ctype="audio/mpeg")
    assert_problem(r, 405, "method_not_allowed")
    assert set(r.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert_clean(db, user, 100)


# --------------------------------------------------------------------- filenames


@pytest.mark.parametrize("raw,want", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("C:\\fakepath\\My take.mp3", "My take.mp3"),
    ("a\x01b\x1f\x7f.mp3", "ab.mp3"),
    ("line\nbreak\r.mp3", "linebreak.mp3"),
    ("evil\u202egpj.mp3", "evilgpj.mp3"),
    (".hidden.mp3", "hidden.mp3"),
    ("Ünïcödé 日本.mp3", "Ünïcödé 日本.mp3"),
    ("a" * 255, "a" * 255),
])
def test_filename_sanitised(api, db, user, raw, want):
    q = "filename=" + urllib.parse.quote(raw, safe="")
    a = assert_json(upload(api, user.access, make_audio("mp3"), query=q), 201)
    assert a["filename"] == want
    key = key_of(db, a["id"])
    assert re.fullmatch(r"audios/([0-9a-f]{2})/\1[0-9a-f]{30}\.mp3", key), key
    assert (STORAGE / key).is_file()
    assert stored_files(db, user.id) == [key.rsplit("/", 1)[1]]


@pytest.mark.parametrize("query", [
    "filename=a%00b.mp3",      # NUL
    "filename=...",            # only dots
    "filename=.",
    "filename=..%2F",          # nothing after the slash
    "filename=%2F",
    "filename=%01%02%1F",      # only control characters
    "filename=%20%20",
    "filename=",
    "filename=%FF%FE.mp3",     # not UTF-8
    "filename=" + "a" * 256,
    "filename=" + "a" * 4096,  # 4 KB
    "other=x.mp3",             # none at all
    "",
])
def test_filename_refused(api, db, user, query):
    r = upload(api, user.access, make_audio("mp3"), query=query)
    assert_problem(r, 400, "validation_failed", fields=["filename"])
    assert_clean(db, user, 100)


# ----------------------------------------------------------------- list, get, delete


def test_list_pagination(api, db, register):
    u, other = register(), register()
    ids = [assert_json(upload(api, u.access, make_audio("wav"), filename=f"n{i}.wav",
                              ctype="audio/wav"), 201)["id"] for i in range(3)]
    upload(api, other.access, make_audio("wav"), filename="theirs.wav", ctype="audio/wav")
    b = assert_json(api.get("/api/audios?limit=2", token=u.access), 200)
    assert [x["id"] for x in b["items"]] == ids[::-1][:2]  # newest first
    assert b["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2,
                               "hasNext": True, "hasPrev": False}
    assert all(set(x) == AUDIO_KEYS for x in b["items"])
    b2 = assert_json(api.get("/api/audios?limit=2&page=2", token=u.access), 200)
    assert [x["id"] for x in b2["items"]] == [ids[0]]
    assert b2["pagination"]["hasPrev"] and not b2["pagination"]["hasNext"]
    b3 = assert_json(api.get("/api/audios?page=9", token=u.access), 200)
    assert b3["items"] == [] and b3["pagination"]["total"] == 3
    assert_problem(api.get("/api/audios?limit=0", token=u.access), 400, fields=["limit"])
    assert_problem(api.get("/api/audios?limit=101", token=u.access), 400, fields=["limit"])
    assert_problem(api.get("/api/audios"), 401, "unauthorized")
    assert body_files() == []


def test_someone_elses_audio(api, db, register):
    owner, other = register(), register()
    a = assert_json(upload(api, owner.access, make_audio("flac"), filename="mine.flac",
                           ctype="audio/flac"), 201)
    assert_problem(api.get(f"/api/audios/{a['id']}", token=other.access), 404, "not_found")
    assert_problem(api.request("DELETE", f"/api/audios/{a['id']}", token=other.access), 404,
                   "not_found")
    assert (STORAGE / key_of(db, a["id"])).is_file()
    assert_json(api.get(f"/api/audios/{a['id']}", token=owner.access), 200)


def test_delete(api, db, user):
    a = assert_json(upload(api, user.access, make_audio("ogg"), filename="bye.ogg",
                           ctype="audio/ogg"), 201)
    path = STORAGE / key_of(db, a["id"])
    assert path.is_file()
    r = api.request("DELETE", f"/api/audios/{a['id']}", token=user.access)
    assert r.status_code == 204 and r.content == b""
    assert not path.exists()
    assert stored_files(db, user.id) == []
    assert_problem(api.get(f"/api/audios/{a['id']}", token=user.access), 404)
    assert_problem(api.request("DELETE", f"/api/audios/{a['id']}", token=user.access), 404)
    assert_problem(api.request("DELETE", "/api/audios/not-a-uuid", token=user.access), 404)
    assert_problem(api.get(a["url"][len(api.base):]), 404)  # the old link finds nothing


def test_delete_voice_sample_is_409(api, db, user):
    a = assert_json(upload(api, user.access, make_audio("wav"), filename="s.wav",
                           ctype="audio/wav"), 201)
    db.rows("INSERT INTO voices (user_id, name, status, is_cloned, sample_audio_id) "
            "VALUES (:'u', 'mine', 'training', true, :'a')", u=user.id, a=a["id"])
    r = api.request("DELETE", f"/api/audios/{a['id']}", token=user.access)
    assert_problem(r, 409, "invalid_state")
    assert (STORAGE / key_of(db, a["id"])).is_file()
    db.rows("DELETE FROM voices WHERE sample_audio_id = :'a'", a=a["id"])
    assert api.request("DELETE", f"/api/audios/{a['id']}", token=user.access).status_code == 204


# ------------------------------------------------- the body file path (CGI, no nginx)


def stack_env(**extra):
    env = dict(os.environ)
    for line in (Path(DATA_DIR) / "reelvox.env").read_text().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    env.setdefault("RV_DATABASE_URL",
                   f"host={os.path.realpath(Path(DATA_DIR) / 'pg')} dbname=reelvox user=reelvox_app")
    env.update(extra)
    return env


def cgi_upload(token, body_file, size):
    env = stack_env(REQUEST_METHOD="POST", DOCUMENT_URI="/api/audios",
                    QUERY_STRING="filename=cgi.mp3", CONTENT_TYPE="audio/mpeg",
                    CONTENT_LENGTH=str(size), REQUEST_BODY_FILE=str(body_file),
                    HTTP_AUTHORIZATION=f"Bearer {token}")
    p = subprocess.run([str(BIN / "audios")], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode(errors="replace")


def test_body_file_path_is_checked(db, user, tmp_path):
    """The handler touches only a file in nginx's body folder: a path elsewhere, or
    a link in that folder, is refused (500) and left alone."""
    data = make_audio("mp3")
    outside = tmp_path / "0000000042"
    outside.write_bytes(data)
    out = cgi_upload(user.access, outside, len(data))
    assert out.startswith("Status: 500"), out
    assert outside.read_bytes() == data
    for sneaky in (f"{BODY_DIR}/../body/0000000042", f"{BODY_DIR}/x/../0000000042"):
        assert cgi_upload(user.access, sneaky, len(data)).startswith("Status: 500")
    BODY_DIR.mkdir(parents=True, exist_ok=True)
    link = BODY_DIR / f"09{uuid.uuid4().int % 10**8:08d}"
    link.symlink_to(outside)
    try:
        assert cgi_upload(user.access, link, len(data)).startswith("Status: 500")
        assert outside.read_bytes() == data
    finally:
        link.unlink()
    # A real one is taken, stored and gone from the body folder.
    real = BODY_DIR / f"09{uuid.uuid4().int % 10**8:08d}"
    real.write_bytes(data)
    out = cgi_upload(user.access, real, len(data))
    assert out.startswith("Status: 201"), out
    assert not real.exists()
    assert len(stored_files(db, user.id)) == 1
    # A refused one is removed too.
    bad = BODY_DIR / f"09{uuid.uuid4().int % 10**8:08d}"
    bad.write_bytes(b"plain text")
    assert cgi_upload(user.access, bad, 10).startswith("Status: 415")
    assert not bad.exists()
