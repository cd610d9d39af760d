"""Drive the Replicate simulator from tests (standard library only).

    import simctl
    h = simctl.start(18090, "TESTTOKEN", simctl.new_secret())
    simctl.config(outcome="failed")          # every new prediction fails
    simctl.reset()                           # back to normal, all state cleared
    simctl.predictions(job="<uuid>")         # what the sim saw for one job
    simctl.stats()
    simctl.stop(h)

The control functions talk to the simulator started last, or to the one given
as `sim=` (a handle or a base URL), or to $RV_SIM_URL.
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "replicate_sim.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"

_current = None
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SimHandle:
    def __init__(self, proc, port, token, secret, log_path):
        self.proc = proc
        self.port = port
        self.token = token
        self.secret = secret
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def __repr__(self):
        return f"<replicate-sim {self.url} pid={self.proc.pid}>"

    def log(self):
        """What the simulator wrote on stderr so far."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def new_secret(nbytes=32):
    """A fresh Standard Webhooks secret, whsec_<base64>."""
    return "whsec_" + base64.b64encode(os.urandom(nbytes)).decode()


def free_port(lo=18090, hi=18099, exclude=()):
    """A port in [lo, hi] nobody listens on right now."""
    for port in range(lo, hi + 1):
        if port in exclude:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As the servers bind: connections in TIME_WAIT do not make a port busy.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


def start(port, token, secret, public_url=None, args=(), timeout=10.0, log_path=None):
    """Start the simulator and return once it prints its ready line."""
    global _current
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="replicate-sim-", suffix=".log")
        os.close(fd)
    cmd = [PYTHON, SIM, "--port", str(port), "--token", token, "--secret", secret]
    if public_url:
        cmd += ["--public-url", public_url]
    cmd += list(args)
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    line = []

    def read():
        line.append(proc.stdout.readline().decode(errors="replace").strip())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    if not line or not line[0].startswith("replicate-sim listening on "):
        proc.kill()
        proc.wait()
        with open(log_path, errors="replace") as f:
            err = f.read()
        raise RuntimeError(f"replicate-sim did not start: {line[0] if line else 'timeout'}\n{err}")
    real_port = int(line[0].rsplit(" ", 1)[1])
    # Nothing else is printed on stdout; close our end so the pipe never fills.
    proc.stdout.close()
    h = SimHandle(proc, real_port, token, secret, log_path)
    _current = h
    return h


def stop(h=None, timeout=5.0):
    """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
    global _current
    h = h or _current
    if h is None:
        return None
    if h.proc.poll() is None:
        h.proc.send_signal(signal.SIGTERM)
        try:
            h.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            h.proc.kill()
            h.proc.wait()
    if _current is h:
        _current = None
    return h.proc.returncode


def _base(sim):
    if sim is None:
        sim = _current or os.environ.get("RV_SIM_URL")
    if sim is None:
        raise RuntimeError("no simulator: start() one, pass sim=, or set RV_SIM_URL")
    return (sim.url if isinstance(sim, SimHandle) else str(sim)).rstrip("/")


def request(method, path, body=None, sim=None, headers=None, timeout=10.0):
    """(status, headers, raw body) of a request to the simulator; never raises on HTTP status."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(_base(sim) + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _json(method, path, body=None, sim=None):
    status, _, raw = request(method, path, body, sim=sim)
    if status != 200:
        raise RuntimeError(f"{method} {path}: HTTP {status}: {raw[:300]!r}")
    return json.loads(raw)


def config(sim=None, **keys):
    """Fault keys for every new prediction until reset(); returns the merged config."""
    return _json("POST", "/_sim/config", keys, sim=sim)["config"]


def reset(sim=None):
    """Forget every prediction, counter and config."""
    _json("POST", "/_sim/reset", {}, sim=sim)


def gate(open_=None, sim=None):
    """The gate (creates with create_gate=1 wait at it, predictions with
    finish_gate=1 stay processing, while it is closed): open_=True opens it, False
    closes it, None only looks. Returns {"open": bool, "waiting": creates held now,
    "parked": predictions held processing}."""
    if open_ is None:
        return _json("GET", "/_sim/gate", sim=sim)
    return _json("POST", "/_sim/gate", {"open": bool(open_)}, sim=sim)


def predictions(job=None, sim=None):
    path = "/_sim/predictions"
    if job is not None:
        path += "?job=" + urllib.request.quote(str(job), safe="")
    return _json("GET", path, sim=sim)


def stats(sim=None):
    return _json("GET", "/_sim/stats", sim=sim)


def wait_until(fn, timeout=10.0, interval=0.02, what="condition"):
    """Poll fn() until it returns something truthy; return that or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def directive(**keys):
    """The text to put in an input's text or prompt: directive(outcome="failed") -> "[[sim outcome=failed]]"."""
    return "[[sim " + " ".join(f"{k}={v}" for k, v in keys.items()) + "]]"


def verify_signature(secret, headers, body, tolerance=300):
    """Standard Webhooks check, as a receiver does: True if one v1 signature matches."""
    h = {k.lower(): v for k, v in dict(headers).items()}
    msg_id, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (msg_id and ts and sigs):
        return False
    try:
        if abs(time.time() - int(ts)) > tolerance:
            return False
    except ValueError:
        return False
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    want = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest())
    for s in sigs.split():
        version, _, sig = s.partition(",")
        if version == "v1" and hmac.compare_digest(sig.encode(), want):
            return True
    return False
