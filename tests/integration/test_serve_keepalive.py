"""Kept FastCGI connections (common/serve.c, common/fcgi.c): a worker answers
several requests on one connection and, while it holds that connection open and
idle, still answers a new one (no starvation, even with a single worker); it
answers FCGI_GET_VALUES; nginx reuses its upstream connections; and a burst of 256
client connections at once is answered in full."""
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import BASE_URL

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("RV_BIN_DIR", REPO / "bin"))
DATA = Path(os.environ["RV_DATA_DIR"])


def stack_env(**extra):
    env = dict(os.environ)
    for line in (DATA / "reelvox.env").read_text().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    env.update(extra)
    return env


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def record(rtype, rid, content=b""):
    return struct.pack(">BBHHBx", 1, rtype, rid, len(content), 0) + content


def pairs(d):
    out = b""
    for k, v in d.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def read_records(sock, until_type):
    """Records up to and including the first of until_type: [(type, id, content)]."""
    out, buf = [], b""
    while True:
        while len(buf) >= 8:
            _, t, rid, n, pad = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + n + pad:
                break
            out.append((t, rid, buf[8:8 + n]))
            buf = buf[8 + n + pad:]
            if t == until_type:
                return out
        chunk = sock.recv(65536)
        assert chunk, "the worker closed the connection"
        buf += chunk


def fcgi_request(sock, path, keep=True, rid=1):
    sock.sendall(record(1, rid, struct.pack(">HB5x", 1, 1 if keep else 0)) +
                 record(4, rid, pairs({"REQUEST_METHOD": "GET", "DOCUMENT_URI": path})) +
                 record(4, rid) + record(5, rid))
    recs = read_records(sock, 3)
    assert recs[-1][1] == rid and recs[-1][2][4] == 0  # END_REQUEST, REQUEST_COMPLETE
    return b"".join(c for t, _, c in recs if t == 6).decode()


@pytest.fixture
def one_worker():
    """bin/version under spawn-fcgi on a private socket with ONE worker."""
    sock = Path(tempfile.mkdtemp(prefix="rv-sock-")) / "v.sock"
    proc = subprocess.Popen(["spawn-fcgi", "-n", "-s", str(sock), "-M", "0600", "--",
                             str(BIN / "version")], env=stack_env(RV_WORKERS="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(sock.exists)
    yield sock
    proc.terminate()
    proc.wait(timeout=10)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(path))
    return s


def test_kept_connection_does_not_starve_a_new_one(one_worker):
    kept = connect(one_worker)
    for _ in range(3):  # several requests on one connection
        assert fcgi_request(kept, "/api/version").startswith("Status: 200 OK")
    # The only worker holds `kept` open and idle; a new connection is answered.
    fresh = connect(one_worker)
    assert fcgi_request(fresh, "/api/version").startswith("Status: 200 OK")
    # A half-sent request on one connection blocks nobody either.
    kept.sendall(record(1, 1, struct.pack(">HB5x", 1, 1)) + record(4, 1, pairs({"A": "b"})))
    assert fcgi_request(fresh, "/api/nope").startswith("Status: 404 Not Found")
    # Not asked to keep it: the worker closes the connection after answering.
    assert fcgi_request(fresh, "/api/version", keep=False).startswith("Status: 200 OK")
    assert fresh.recv(1) == b""
    kept.close()
    fresh.close()


def test_get_values_and_no_multiplexing(one_worker):
    s = connect(one_worker)
    s.sendall(record(9, 0, pairs({"FCGI_MPXS_CONNS": "", "FCGI_MAX_CONNS": ""})))
    (t, rid, content), = read_records(s, 10)
    assert rid == 0 and b"FCGI_MPXS_CONNS0" in content and b"FCGI_MAX_CONNS" in content
    # A second request while one is open is refused (FCGI_CANT_MPX_CONN) ...
    s.sendall(record(1, 1, struct.pack(">HB5x", 1, 1)) + record(1, 2, struct.pack(">HB5x", 1, 1)))
    (t, rid, content), = read_records(s, 3)
    assert (t, rid, content[4]) == (3, 2, 1)
    # ... and the open one is still served.
    s.sendall(record(4, 1, pairs({"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/version"})) +
              record(4, 1) + record(5, 1))
    recs = read_records(s, 3)
    assert b"".join(c for t, _, c in recs if t == 6).startswith(b"Status: 200 OK")
    s.close()


def handler_sockets(name):
    """How many connected sockets the workers of endpoint `name` hold."""
    pid = int((DATA / "run" / f"{name}.pid").read_text())
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    n = 0
    for w in out.split():
        try:
            fds = os.listdir(f"/proc/{w}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{w}/fd/{fd}").startswith("socket:") and fd != "0":
                    n += 1
            except OSError:
                pass
    return n


def test_nginx_keeps_its_upstream_connections():
    with requests.Session() as s:
        for _ in range(50):
            assert s.get(f"{BASE_URL}/api/version", timeout=30).status_code == 200
    # Kept: the workers still hold the connections nginx used (without keep-alive
    # every one is closed after its request).
    assert handler_sockets("version") >= 1


def test_burst_of_256_connections_all_answered():
    n = 256
    results = [None] * n
    start = threading.Barrier(n)

    def one(i):
        try:
            start.wait(timeout=30)
            with socket.create_connection(("127.0.0.1", int(BASE_URL.rsplit(":", 1)[1])),
                                          timeout=60) as c:
                c.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            results[i] = data.split(b"\r\n", 1)[0]
        except Exception as e:  # noqa: BLE001 — counted below
            results[i] = repr(e).encode()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    bad = [r for r in results if r != b"HTTP/1.1 200 OK"]
    assert not bad, f"{len(bad)} of {n} not answered 200: {bad[:5]}"
