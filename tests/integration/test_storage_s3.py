"""Storage on S3: the s3 backend against a real S3-compatible server on loopback.

scripts/test starts that server (tests/s3/start: @20minutes/s3rver, which checks
SigV4 signatures and expiry) and runs the tests marked `storage` a second time with
the stack on RV_STORAGE=s3 and RV_S3_* in the environment. Everything here skips
unless RV_STORAGE=s3 and RV_S3_ENDPOINT are set.

- Through the HTTP API: a generated file lands in the bucket, never in the data
  folder; its url is a presigned S3 GET that downloads it; a tampered url gets 403
  from the S3 server.
- The storage module itself, through tests/tools/storetool (needs only the S3
  server): put, presign, GET, fetch, delete, GET → 404, expired or tampered → 403,
  streaming without reading the file into memory, refusal to start without settings.

s3rver enforces no access control, so an unsigned GET is served there (on AWS a
private bucket answers 403): not tested.
"""
import os
import subprocess
import time
import uuid

import pytest
import requests

from conftest import DATA_DIR, assert_json, jwt_secret

pytestmark = [
    pytest.mark.storage,
    pytest.mark.skipif(os.environ.get("RV_STORAGE") != "s3" or
                       not os.environ.get("RV_S3_ENDPOINT"),
                       reason="needs a stack on RV_STORAGE=s3 (scripts/test runs it)"),
]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENDPOINT = os.environ.get("RV_S3_ENDPOINT", "").rstrip("/")
BUCKET = os.environ.get("RV_S3_BUCKET", "")
PRESET_VOICE = "00000000-0000-4000-8000-000000000001"


def fetch(url, **kw):
    """A GET as a browser would do it: no proxy, no extra headers."""
    s = requests.Session()
    s.trust_env = False
    try:
        return s.get(url, timeout=30, **kw)
    finally:
        s.close()


def tamper_signature(url):
    """url with the last hex digit of its signature changed."""
    head, sig = url.rsplit("X-Amz-Signature=", 1)
    assert len(sig) == 64, url
    return head + "X-Amz-Signature=" + sig[:-1] + ("0" if sig[-1] != "0" else "1")


def assert_presigned(url, key_prefix):
    assert url.startswith(f"{ENDPOINT}/{BUCKET}/{key_prefix}"), url
    for part in ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "&X-Amz-Credential=",
                 "&X-Amz-Expires=3600&", "&X-Amz-SignedHeaders=host&", "&X-Amz-Signature="):
        assert part in url, url


def assert_s3_denied(r):
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert "<Error>" in r.text, r.text[:300]


# --------------------------------------------------------------------------- the API


def wait_job(api, token, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = assert_json(api.get(f"/api/jobs/{job_id}", token=token), 200)
        if j["status"] in ("succeeded", "failed", "cancelled"):
            return j
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {j['status']} after {timeout} s")


def local_leftovers(since=None):
    """Files of the stack's data folder where the s3 backend must leave none: in
    tmp/, and in storage/ those written since `since` (the local-backend passes of
    the suite run first on the same data folder and leave their files there)."""
    found = []
    for sub in ("storage", "tmp"):
        for dirpath, _, files in os.walk(os.path.join(DATA_DIR, sub)):
            for f in files:
                path = os.path.join(dirpath, f)
                if sub == "tmp" or since is None or os.path.getmtime(path) >= since:
                    found.append(path)
    return found


@pytest.fixture
def tts_provider(db):
    """tts_provider(name): new tts jobs go to that provider first; restored after."""
    before = db.scalar("SELECT value->'kinds'->'tts' FROM admin_config WHERE key = 'providers'")

    def use(name):
        db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,tts}', "
                "jsonb_build_array(:'p'::text)) WHERE key = 'providers' RETURNING key", p=name)

    yield use
    db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,tts}', :'v'::jsonb) "
            "WHERE key = 'providers' RETURNING key", v=before)


def generate(api, user, provider, db, tts_provider, fmt="mp3"):
    tts_provider(provider)
    r = api.post("/api/tts", {"text": f"Stored on S3 by {provider}.", "voiceId": PRESET_VOICE,
                              "audioFormat": fmt}, token=user.access)
    job = assert_json(r, 202)
    assert job["provider"] == provider, job
    job = wait_job(api, user.access, job["id"])
    assert job["status"] == "succeeded", job
    return job


@pytest.mark.parametrize("provider, fmt, ctype, magic", [
    ("replicate", "mp3", "audio/wav", (b"RIFF",)),  # the simulator makes WAV
    ("local", "mp3", "audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
    ("local", "flac", "audio/flac", (b"fLaC",)),
])
def test_generated_audio_is_in_the_bucket(api, register, db, tts_provider, provider, fmt, ctype,
                                          magic):
    u = register()
    started = time.time() - 1
    job = generate(api, u, provider, db, tts_provider, fmt)
    url = job["result"]["url"]
    assert_presigned(url, "audios/")
    assert u.id not in url
    r = fetch(url)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type") == ctype, r.headers
    assert r.content.startswith(magic), r.content[:16]
    audio_id = job["result"]["audioId"]
    key, size = db.rows("SELECT storage_key, bytes FROM audios WHERE id = :'a'", a=audio_id)[0]
    assert url.split("?")[0] == f"{ENDPOINT}/{BUCKET}/{key}"
    assert int(size) == len(r.content)  # sized before the work file went to the bucket
    assert local_leftovers(since=started) == []

    # The same object through the other views that link to it.
    a = assert_json(api.get(f"/api/audios/{audio_id}", token=u.access), 200)
    assert_presigned(a["url"], key)
    assert fetch(a["url"]).content == r.content
    listed = assert_json(api.get("/api/jobs", token=u.access), 200)["items"]
    assert [j["result"]["url"].split("?")[0] for j in listed] == [url.split("?")[0]]


def test_tampered_links_are_refused_by_s3(api, register, db, tts_provider):
    u = register()
    url = generate(api, u, "local", db, tts_provider)["result"]["url"]
    assert fetch(url).status_code == 200
    assert_s3_denied(fetch(tamper_signature(url)))
    assert_s3_denied(fetch(url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")))
    path, query = url.split("?")
    stem, ext = path.rsplit(".", 1)  # another key under the same signature
    other = stem[:-1] + ("0" if stem[-1] != "0" else "1") + "." + ext
    assert_s3_denied(fetch(other + "?" + query))
    # A link signed for a GET does not delete.
    s = requests.Session()
    s.trust_env = False
    assert_s3_denied(s.delete(url, timeout=30))
    s.close()
    assert fetch(url).status_code == 200


# --------------------------------------------------------------------------- the module


def storetool_path():
    variant = "asan" if "build/asan" in os.environ.get("RV_BIN_DIR", "") else "release"
    return os.path.join(ROOT, "build", variant, "tests", "tools", "storetool")


@pytest.fixture
def store(tmp_path):
    """store(*args, env=None) -> CompletedProcess of storetool with the s3 settings
    of the environment and a data folder of its own; store.data is that folder."""
    data = tmp_path / "data"
    data.mkdir()
    tool = storetool_path()
    if not os.access(tool, os.X_OK):
        pytest.fail(f"{tool} is not built (make all)")

    def run(*args, env=None):
        e = dict(os.environ, RV_DATA_DIR=str(data), RV_STORAGE="s3")
        e.pop("RV_JWT_SECRET", None)
        e.update(env or {})
        e = {k: v for k, v in e.items() if v is not None}
        return subprocess.run([tool, *map(str, args)], env=e, capture_output=True, text=True,
                              timeout=120)

    run.data = data
    return run


def new_key(ext="mp3"):
    return f"tests/{uuid.uuid4().hex}/sample-{uuid.uuid4().hex[:6]}.{ext}"


def test_put_presign_fetch_delete(store, tmp_path):
    body = os.urandom(300_000)
    src = tmp_path / "upload"
    src.write_bytes(body)
    key = new_key()
    p = store("put", src, key)
    assert p.returncode == 0, p.stderr
    assert not src.exists()  # an upload is gone once stored

    url = store("url", key).stdout.strip()
    assert_presigned(url, key)
    r = fetch(url)
    assert r.status_code == 200 and r.content == body
    assert r.headers.get("Content-Type") == "audio/mpeg"
    assert r.headers.get("Cache-Control") == "private, max-age=3600"
    assert fetch(url, headers={"Range": "bytes=10-19"}).content == body[10:20]

    dst = tmp_path / "copy"
    assert store("fetch", key, dst).returncode == 0
    assert dst.read_bytes() == body

    # Signed an hour ago for a minute: expired, whatever the signature.
    old = store("url", key, 60, int(time.time()) - 3600).stdout.strip()
    assert "&X-Amz-Expires=60&" in old
    r = fetch(old)
    assert_s3_denied(r)
    assert "expired" in r.text
    assert_s3_denied(fetch(tamper_signature(url)))

    p = store("delete", key)
    assert p.returncode == 0, p.stderr
    assert fetch(url).status_code == 404
    p = store("fetch", key, dst)
    assert p.returncode == 2, p.stderr  # not found, and no partial file
    assert not dst.exists()
    assert store("delete", key).returncode == 0  # deleting twice is fine
    assert list(store.data.rglob("*.tmp")) == []


def test_commit_uploads_the_work_file(store, tmp_path):
    body = b"RIFF" + os.urandom(5000)
    src = tmp_path / "render.wav"
    src.write_bytes(body)
    key = new_key("wav")
    p = store("commit", src, key)
    assert p.returncode == 0, p.stderr
    tmp = p.stdout.strip()
    assert tmp.startswith(str(store.data / "tmp") + "/"), tmp  # on the data folder's disk
    assert not os.path.exists(tmp)  # removed once uploaded
    r = fetch(store("url", key).stdout.strip())
    assert r.status_code == 200 and r.content == body
    assert r.headers.get("Content-Type") == "audio/wav"
    assert store("delete", key).returncode == 0


def peak_rss(argv, env):
    """(exit status, peak RSS in bytes) of one run of argv."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    return proc.returncode, usage.ru_maxrss * 1024


def test_upload_streams_from_disk(store, tmp_path):
    """A 32 MiB upload does not pass through memory: the tool's peak RSS grows by
    far less than the file's size over a 1 KiB upload's."""
    size = 32 << 20
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(b"s" * 1024)
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
    key_small, key_big = new_key("bin"), new_key("bin")
    env = dict(os.environ, RV_DATA_DIR=str(store.data), RV_STORAGE="s3")
    rc, base = peak_rss([storetool_path(), "put", str(small), key_small], env)
    assert rc == 0
    rc, peak = peak_rss([storetool_path(), "put", str(big), key_big], env)
    assert rc == 0
    assert peak - base < size / 4, f"peak RSS {peak >> 20} MiB vs {base >> 20} MiB"
    r = fetch(store("url", key_big).stdout.strip(), headers={"Range": f"bytes={size - 4}-"})
    assert r.status_code == 206 and r.content == chunk[-4:]
    assert store("delete", key_big).returncode == 0
    assert store("delete", key_small).returncode == 0


def test_wrong_credentials_fail_and_clean_up(store, tmp_path):
    src = tmp_path / "upload"
    src.write_bytes(b"x" * 1000)
    key = new_key()
    p = store("put", src, key, env={"RV_S3_SECRET_ACCESS_KEY": "not-the-secret"})
    assert p.returncode == 1
    assert "SignatureDoesNotMatch" in p.stderr
    assert "not-the-secret" not in p.stderr
    assert not src.exists()  # gone either way
    p = store("put", tmp_path / "missing", key)
    assert p.returncode == 1
    assert fetch(store("url", key).stdout.strip()).status_code == 404


def test_aws_key_variables(store, tmp_path):
    src = tmp_path / "upload"
    src.write_bytes(b"aws keys")
    key = new_key()
    env = {"RV_S3_ACCESS_KEY_ID": None, "RV_S3_SECRET_ACCESS_KEY": None,
           "AWS_ACCESS_KEY_ID": os.environ["RV_S3_ACCESS_KEY_ID"],
           "AWS_SECRET_ACCESS_KEY": os.environ["RV_S3_SECRET_ACCESS_KEY"]}
    assert store("put", src, key, env=env).returncode == 0
    url = store("url", key, env=env).stdout.strip()
    assert fetch(url).content == b"aws keys"
    assert store("delete", key, env=env).returncode == 0


@pytest.mark.parametrize("env, names", [
    ({"RV_S3_ENDPOINT": None}, "RV_S3_ENDPOINT"),
    ({"RV_S3_BUCKET": None}, "RV_S3_BUCKET"),
    ({"RV_S3_SECRET_ACCESS_KEY": None, "AWS_SECRET_ACCESS_KEY": None},
     "RV_S3_SECRET_ACCESS_KEY"),
    ({"RV_S3_ACCESS_KEY_ID": None, "RV_S3_SECRET_ACCESS_KEY": None,
      "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "RV_S3_ACCESS_KEY_ID"),
    ({"RV_S3_ENDPOINT": "127.0.0.1:9"}, "RV_S3_ENDPOINT"),
    ({"RV_STORAGE": "ftp"}, "RV_STORAGE"),
])
def test_refuses_to_start_without_settings(store, env, names):
    p = store("backend", env=env)
    assert p.returncode == 78, (p.returncode, p.stdout, p.stderr)
    assert names in p.stderr
    secret = os.environ["RV_S3_SECRET_ACCESS_KEY"]
    assert secret not in p.stderr and secret not in p.stdout


def test_stack_refuses_to_start_without_settings(tmp_path):
    """An endpoint binary under RV_STORAGE=s3 without a bucket exits 78 (EX_CONFIG)
    before serving."""
    binary = os.path.join(os.environ.get("RV_BIN_DIR", os.path.join(ROOT, "bin")), "audio")
    env = dict(os.environ, RV_DATA_DIR=str(tmp_path), RV_STORAGE="s3",
               RV_JWT_SECRET=jwt_secret().decode())
    env.pop("RV_S3_BUCKET")
    p = subprocess.run([binary], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 78, (p.returncode, p.stderr[-500:])
    assert "RV_S3_BUCKET" in p.stderr
