"""POST /api/audios before and around the handler: nginx checks the token
(auth_request to auth_check) before it reads a byte of the body, holds uploads per
client address (limit_conn), and the storage quota (admin_config storage_quota,
bytes and files) is checked in SQL as the row goes in, so two uploads at once
cannot both take the last place."""
import json
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from audiokit import body_files, make_audio, stored_files, upload
from conftest import (BASE_URL, DATA_DIR, access_claims, assert_json, assert_problem,
                      forge_token)

HOST, PORT = re.match(r"https?://([^:/]+):(\d+)", BASE_URL).groups()
BIG = 50 * 1024 * 1024 - 1  # what the request announces: nginx's limit, less one
WAIT = 20  # seconds an event may take at most before the test fails


@pytest.fixture
def user(register):
    return register()


def wait_for(cond, what):
    end = time.time() + WAIT
    while not cond():
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RawUpload:
    """An upload over a bare socket: headers announcing `length` bytes, then as
    much of the body as the test sends, so a test can look at the server while
    the body is still on its way."""

    def __init__(self, token=None, length=BIG, extra=""):
        self.s = socket.create_connection((HOST, int(PORT)), timeout=WAIT)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.s.sendall((f"POST /api/audios?filename=big.wav HTTP/1.1\r\nHost: {HOST}\r\n"
                        f"Content-Type: audio/wav\r\nContent-Length: {length}\r\n{auth}"
                        f"{extra}\r\n").encode())

    def send(self, n):
        self.s.sendall(b"\0" * n)

    def answer(self):
        """(status, headers, body) of the answer; fails after WAIT seconds without one."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.s.recv(65536)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip()
                   for k, v in (line.split(":", 1) for line in lines[1:])}
        n = int(headers.get("content-length", 0))
        while len(rest) < n:
            chunk = self.s.recv(65536)
            assert chunk
            rest += chunk
        return status, headers, rest[:n]

    def close(self):
        self.s.close()


# ------------------------------------------------------------- token before body


@pytest.mark.parametrize("token", ["none", "garbage", "expired", "wrong key"])
def test_refused_token_stores_no_body(user, token):
    """A stranger's upload is answered 401 while its 50 MiB are still coming, and
    nginx has written none of it to disk."""
    tok = {"none": None, "garbage": "abc.def.ghi",
           "expired": forge_token(access_claims(user.id, user.session_id,
                                                iat=int(time.time()) - 1000,
                                                exp=int(time.time()) - 100)),
           "wrong key": forge_token(access_claims(user.id, user.session_id),
                                    key=b"k" * 48)}[token]
    up = RawUpload(tok)
    try:
        up.send(1 << 20)  # a first MiB; nginx would take it into its body file
        status, headers, body = up.answer()
        assert status == 401, body
        assert body_files() == []
        p = json.loads(body)
        assert headers["content-type"].startswith("application/problem+json")
        assert p["status"] == 401
        assert p["code"] == ("token_expired" if token == "expired" else "unauthorized"), p
        assert headers.get("www-authenticate") == "Bearer"
    finally:
        up.close()


def test_valid_token_body_goes_to_disk(user):
    """The control for the test above: with a good token nginx does take the body
    into its folder while it comes (so an empty folder there means something)."""
    up = RawUpload(user.access)
    try:
        up.send(1 << 20)
        wait_for(lambda: body_files() != [], "nginx's body file")
    finally:
        up.close()
    wait_for(lambda: body_files() == [], "nginx to remove the abandoned body")


def test_refused_before_100_continue(user):
    """A client that waits for 100-continue never has to send the body at all."""
    up = RawUpload("abc.def.ghi", extra="Expect: 100-continue\r\n")
    try:
        status, _, body = up.answer()
        assert status == 401, body
        assert json.loads(body)["code"] == "unauthorized"
    finally:
        up.close()
    assert body_files() == []


def test_uploads_still_work(api, user):
    data = make_audio("wav")
    assert_json(upload(api, user.access, data, filename="a.wav", ctype="audio/wav"), 201)
    # The cookie is a credential too.
    r = upload(api, None, data, filename="b.wav", ctype="audio/wav",
               cookies={"rv_access": user.access})
    assert_json(r, 201)
    assert body_files() == []


def test_token_check_is_internal(api, user):
    for path in ("/_rv/auth", "/_rv/errors/401"):
        assert_problem(api.get(path, token=user.access), 404, "not_found")


# ------------------------------------------------------------------ per address


def upload_conn_limit():
    conf = (Path(DATA_DIR) / "run/endpoints.conf").read_text()
    return int(re.search(r"limit_conn uploads_conn (\d+);", conf).group(1))


def test_concurrent_uploads_per_address(api, user):
    """At most N uploads at once from one address (429 beyond); listing is not
    counted, and the place frees when an upload ends."""
    n = upload_conn_limit()
    held = []
    try:
        for i in range(n):
            held.append(RawUpload(user.access))
            held[-1].send(256 << 10)
            wait_for(lambda: len(body_files()) == i + 1, f"upload {i + 1} under way")
        r = upload(api, user.access, make_audio("wav"), filename="x.wav", ctype="audio/wav")
        assert_problem(r, 429, "rate_limited")
        assert_json(api.get("/api/audios", token=user.access), 200)
    finally:
        for h in held:
            h.close()
    wait_for(lambda: body_files() == [], "the held bodies to go")
    r = upload(api, user.access, make_audio("wav"), filename="x.wav", ctype="audio/wav")
    assert_json(r, 201)


# ----------------------------------------------------------------------- quota


@pytest.fixture
def quota(db):
    """quota(bytes=None, files=None) sets admin_config storage_quota (None: no
    limit); the value from before comes back after the test."""
    before = db.scalar("SELECT value::text FROM admin_config WHERE key = 'storage_quota'")

    def set_(bytes=None, files=None):
        db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'storage_quota'",
                v=json.dumps({"bytes": bytes, "files": files}))

    yield set_
    db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'storage_quota'",
            v=before)


def count_audios(db, u):
    return int(db.scalar("SELECT count(*) FROM audios WHERE user_id = :'u'", u=u.id))


def test_default_quota(db):
    q = json.loads(db.scalar("SELECT value::text FROM admin_config WHERE key = 'storage_quota'"))
    assert q == {"bytes": 1073741824, "files": 1000}


def test_quota_files(api, db, user, quota):
    data = make_audio("wav")
    quota(files=2)
    ids = [assert_json(upload(api, user.access, data, filename=f"{i}.wav", ctype="audio/wav"),
                       201)["id"] for i in range(2)]
    r = upload(api, user.access, data, filename="3.wav", ctype="audio/wav")
    p = assert_problem(r, 413, "payload_too_large")
    assert p["quota"] == {"bytes": None, "files": 2}, p
    assert p["used"] == {"bytes": 2 * len(data), "files": 2}, p
    assert "quota" in p["detail"]
    # Nothing kept of the refused file: neither a row, nor a stored file, nor a body.
    assert count_audios(db, user) == 2 and len(stored_files(db, user.id)) == 2
    assert body_files() == []
    # Deleting a file makes room again.
    assert api.request("DELETE", f"/api/audios/{ids[0]}", token=user.access).status_code == 204
    assert_json(upload(api, user.access, data, filename="4.wav", ctype="audio/wav"), 201)


def test_quota_bytes(api, db, user, quota):
    data = make_audio("wav")
    quota(bytes=len(data) * 3 // 2)
    assert_json(upload(api, user.access, data, filename="1.wav", ctype="audio/wav"), 201)
    p = assert_problem(upload(api, user.access, data, filename="2.wav", ctype="audio/wav"),
                       413, "payload_too_large")
    assert p["quota"] == {"bytes": len(data) * 3 // 2, "files": None}, p
    assert p["used"] == {"bytes": len(data), "files": 1}, p
    # A smaller file still fits.
    small = make_audio("mp3", seconds=0.5)
    assert len(small) <= len(data) // 2
    assert_json(upload(api, user.access, small, filename="s.mp3"), 201)
    assert count_audios(db, user) == 2


def test_quota_is_per_user(api, db, register, quota):
    a, b = register(), register()
    data = make_audio("wav")
    quota(files=1)
    assert_json(upload(api, a.access, data, filename="a.wav", ctype="audio/wav"), 201)
    assert_json(upload(api, b.access, data, filename="b.wav", ctype="audio/wav"), 201)


def test_quota_holds_for_concurrent_uploads(api, db, user, quota):
    """Two uploads with room for one, both past their quota check before either
    has recorded its row: exactly one gets in. The test holds every insert into
    audios (a SHARE lock) until both uploads wait in the database, then lets go."""
    data = make_audio("wav")
    quota(files=1)
    holder = subprocess.Popen([db.psql, db.conninfo, "-X", "-q", "-A", "-t"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    results = []
    try:
        holder.stdin.write("BEGIN; LOCK TABLE audios IN SHARE MODE; SELECT 'locked';\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"

        def go(i):
            results.append(upload(api, user.access, data, filename=f"{i}.wav",
                                  ctype="audio/wav"))

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        # Both uploads are in the database and waiting: one for the insert (the
        # lock above), the other for the first (the user's row), or, were there no
        # such order, both for the insert.
        wait_for(lambda: int(db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'reelvox' "
            "AND wait_event_type = 'Lock' AND query LIKE '%rv_audio_upload%'")) == 2,
            "both uploads to wait in the database")
        holder.stdin.write("COMMIT;\n")
        holder.stdin.flush()
        for t in threads:
            t.join(WAIT)
    finally:
        holder.stdin.close()
        holder.wait(WAIT)
    assert sorted(r.status_code for r in results) == [201, 413], [r.text for r in results]
    assert count_audios(db, user) == 1
    assert len(stored_files(db, user.id)) == 1
