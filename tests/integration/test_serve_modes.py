"""The serve loop's modes, the way operators run the binaries: as CGI for a
one-off, under spawn-fcgi with preforked workers (restart of a dead worker, drain
on SIGTERM), refusing to start on a weak secret; and the poller's run control."""
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("RV_BIN_DIR", REPO / "bin"))
DATA = Path(os.environ["RV_DATA_DIR"])


def stack_env(**extra):
    env = dict(os.environ)
    for line in (DATA / "reelvox.env").read_text().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    env.setdefault("RV_DATABASE_URL",
                   f"host={os.path.realpath(DATA / 'pg')} dbname=reelvox user=reelvox_app")
    env.update(extra)
    return env


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return sorted(int(x) for x in out.split())


def catches(pid, sig):
    """Whether process pid has a handler for sig (SigCgt in /proc/pid/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(mask >> (int(sig) - 1) & 1)


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_cgi_one_off():
    env = stack_env(REQUEST_METHOD="GET", DOCUMENT_URI="/api/version", REQUEST_ID="cgi-1")
    p = subprocess.run([str(BIN / "version")], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    out = p.stdout.decode()
    assert p.returncode == 0
    assert out.startswith("Status: 200 OK\r\n"), out
    assert "X-Request-Id: cgi-1\r\n" in out
    assert out.endswith('"name":"reelvox","version":"0.1.0"}')


def test_cgi_body_and_error():
    body = b'{"email": 5}'
    env = stack_env(REQUEST_METHOD="POST", DOCUMENT_URI="/api/auth/login",
                    CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(body)))
    p = subprocess.run([str(BIN / "auth_login")], env=env, input=body, capture_output=True,
                       timeout=30)
    out = p.stdout.decode()
    assert out.startswith("Status: 400 Bad Request\r\n"), out
    assert "application/problem+json" in out and '"validation_failed"' in out


@pytest.mark.parametrize("secret", [None, "short", "a" * 64,
                                    "abcdefghijklmnopqrstuvwxyz0123456789"])
def test_weak_secret_refuses_to_start(secret):
    env = stack_env(REQUEST_METHOD="GET", DOCUMENT_URI="/api/me")
    env.pop("RV_JWT_SECRET", None)
    if secret is not None:
        env["RV_JWT_SECRET"] = secret
    p = subprocess.run([str(BIN / "me")], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert p.returncode == 78
    assert b"refusing to start" in p.stderr
    assert secret is None or secret.encode() not in p.stderr  # never logged
    assert p.stdout == b""


@pytest.mark.parametrize("secret", [None, "", "a" * 64,
                                    "abcdefghijklmnopqrstuvwxyz0123456789"])
def test_poller_refuses_a_weak_secret(secret):
    """The poller signs media links with a key derived from RV_JWT_SECRET: it refuses
    a missing or weak one like the handlers (exit 78, EX_CONFIG)."""
    env = stack_env()
    env.pop("RV_JWT_SECRET", None)
    if secret is not None:
        env["RV_JWT_SECRET"] = secret
    p = subprocess.run([str(BIN / "poller"), "--once"], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert p.returncode == 78, p.stderr
    assert b"refusing to start" in p.stderr and b"RV_JWT_SECRET" in p.stderr
    assert not secret or secret.encode() not in p.stderr  # never logged


@pytest.mark.parametrize("var,value", [("RV_POLLER_LEASE", "3"), ("RV_POLLER_LEASE", "3601"),
                                       ("RV_POLLER_LEASE", "60s"), ("RV_POLLER_SWEEP_MS", "-1"),
                                       ("RV_ALLOW_HTTP_DOWNLOADS", "maybe")])
def test_poller_refuses_a_bad_setting(var, value):
    """A setting out of its bounds stops the poller before it does anything (exit 78,
    the reason naming the variable), never a quiet fall back on the default."""
    p = subprocess.run([str(BIN / "poller"), "--once"], env=stack_env(**{var: value}),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 78, p.stderr
    assert b"refusing to start" in p.stderr and var.encode() in p.stderr
    assert b"poller run ended" not in p.stderr


def test_poller_refuses_a_bad_window():
    for window in ["abc", "-1", "86401"]:
        p = subprocess.run([str(BIN / "poller"), "--once", "--window", window],
                           env=stack_env(), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=30)
        assert p.returncode == 64, (window, p.stderr)


@pytest.fixture
def spawned(tmp_path):
    """bin/version under spawn-fcgi on a private socket with two workers."""
    sock = Path(tempfile.mkdtemp(prefix="rv-sock-")) / "v.sock"
    proc = subprocess.Popen(["spawn-fcgi", "-n", "-s", str(sock), "-M", "0660", "--",
                             str(BIN / "version")], env=stack_env(RV_WORKERS="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert wait_for(lambda: sock.exists() and len(children(proc.pid)) == 2)
    yield proc, sock
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def fcgi_get(sock, path="/api/version"):
    env = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": path, "PATH": os.environ["PATH"]}
    p = subprocess.run(["cgi-fcgi", "-bind", "-connect", str(sock)], env=env,
                       capture_output=True, timeout=30)
    return p.stdout.decode(errors="replace")


def test_spawn_fcgi_workers_restart_and_drain(spawned):
    proc, sock = spawned
    assert fcgi_get(sock).startswith("Status: 200 OK")
    assert "Status: 404 Not Found" in fcgi_get(sock, "/api/nope")
    before = children(proc.pid)
    os.kill(before[0], signal.SIGKILL)
    # The parent notices, starts a new worker, and the endpoint keeps answering.
    assert wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid) != before)
    assert fcgi_get(sock).startswith("Status: 200 OK")
    workers = children(proc.pid)
    # The new worker may still be starting: drain once every worker handles SIGTERM.
    assert wait_for(lambda: all(catches(w, signal.SIGTERM) for w in workers))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert all(not Path(f"/proc/{w}").exists() for w in workers)


def test_poller_once_and_sigterm():
    env = stack_env()
    p = subprocess.run([str(BIN / "poller"), "--once"], env=env, capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"poller run ended" in p.stderr
    bad = subprocess.run([str(BIN / "poller"), "--bogus"], env=env, capture_output=True,
                         timeout=10)
    assert bad.returncode == 64
    proc = subprocess.Popen([str(BIN / "poller"), "--window", "60"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Signalled once it handles SIGTERM (not after a pause a slow machine outlasts).
    assert wait_for(lambda: catches(proc.pid, signal.SIGTERM))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
