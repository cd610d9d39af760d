#!/usr/bin/python3
"""Replicate provider simulator for Reelvox tests.

One process on loopback that speaks Replicate's HTTP API (predictions, official
model predictions, cancel, the default webhook secret), signs its webhooks the
way Replicate does (Standard Webhooks: webhook-id, webhook-timestamp,
webhook-signature "v1,<base64 HMAC-SHA256>"), serves the audio it "generates"
as real WAV files, and injects faults on demand.

    /usr/bin/python3 tests/sim/replicate_sim.py --port 18090 --token TESTTOKEN \
        --secret whsec_<base64> [--public-url http://127.0.0.1:18090]

prints "replicate-sim listening on PORT" once it accepts connections and stops
cleanly on SIGTERM. Python 3.11 standard library only.

Fault injection, per prediction: a directive inside a string of the input
(`text`, `prompt`, or any other top-level string), e.g.

    "text": "Hello [[sim create_status=429 times=2 retry_after=1 outcome=failed]]"

or for every new prediction: POST /_sim/config {"outcome": "failed"} until
POST /_sim/reset. The keys are listed in FAULT_KEYS below and in README.md.

Test inspection: GET /_sim/predictions[?job=<uuid>], GET /_sim/stats,
GET|POST /_sim/config, POST /_sim/reset, GET|POST /_sim/gate.
"""

import argparse
import array
import base64
import binascii
import collections
import functools
import hashlib
import heapq
import hmac
import http.client
import io
import itertools
import json
import math
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import wave
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------- constants

TERMINAL = ("succeeded", "failed", "canceled", "aborted")
EVENTS = ("start", "output", "logs", "completed")
MAX_BODY = 16 * 1024 * 1024
PAGE_SIZE = 100  # predictions per page of GET /v1/predictions, as Replicate

# Versions of the official models Reelvox uses, as Replicate publishes them;
# any other model gets a stable made-up version id.
KNOWN_VERSIONS = {
    "minimax/speech-02-turbo": "e2e8812b45eefa93b20990418480fe628ddce470f9b72909a175d65e288ff3d5",
    "minimax/voice-cloning": "fff8a670880f066d3742838515a88f7f0a3ae40a4f2e06dae0f7f70ba63582d7",
}
MODEL_BY_VERSION = {v: m for m, v in KNOWN_VERSIONS.items()}


def _int(lo, hi):
    def conv(v):
        if isinstance(v, bool):
            raise ValueError("not a number")
        n = int(str(v), 10)
        if not lo <= n <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return n
    return conv


def _float(lo, hi):
    def conv(v):
        if isinstance(v, bool):
            raise ValueError("not a number")
        x = float(v)
        if not (lo <= x <= hi) or math.isnan(x):
            raise ValueError(f"must be between {lo} and {hi}")
        return x
    return conv


def _flag(v):
    s = str(v).lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 0 or 1")


def _times(v):
    s = str(v).lower()
    if s in ("always", "-1", "inf"):
        return -1
    return _int(0, 1_000_000)(v)


def _enum(*choices):
    def conv(v):
        s = str(v).lower()
        if s not in choices:
            raise ValueError("must be one of " + "|".join(choices))
        return s
    return conv


def _url(v):
    s = str(v)
    if not re.match(r"^https?://[^\s]+$", s):
        raise ValueError("must be an http(s) URL")
    return s


# Every key a directive or /_sim/config accepts, with its parser.
FAULT_KEYS = {
    "delay_ms": _int(0, 3_600_000),        # processing time (processing -> terminal)
    "start_ms": _int(0, 3_600_000),        # queue time (starting -> processing)
    "create_status": _int(400, 599),       # answer creates with this status...
    "times": _times,                       # ...for the first K attempts of the job (default 1)
    "create_times": _times,                # overrides `times` for create faults
    "get_times": _times,                   # overrides `times` for get_status
    "retry_after": _int(0, 86_400),        # Retry-After seconds on 429/503 (default 1)
    "create_hang_s": _float(0, 3600),      # hold the create open S seconds first
    "create_gate": _flag,                  # hold the create until the gate opens (/_sim/gate)
    "finish_gate": _flag,                  # stay processing until the gate opens, then delay_ms
    "create_malformed": _flag,             # 201 with a broken JSON body (prediction exists)
    "get_status": _int(400, 599),          # GET prediction fails with this status K times
    "outcome": _enum("succeeded", "failed", "canceled", "aborted"),
    "webhooks": _enum("all", "none", "duplicate", "out_of_order", "late"),
    "late_ms": _int(0, 3_600_000),         # delay of the completed webhook when late
    "bad_signature": _flag,                # sign webhooks with a wrong key
    "extra_signature": _flag,              # prepend a wrong "v1,..." before the right one
    "output_expired": _flag,               # output files answer 404
    "output_redirect": _url,               # output files answer 302 to this URL
    "output_bytes": _int(44, 1 << 31),     # output files padded (streamed) to this size
    "webhook_retries": _int(0, 20),        # retries after a failed delivery (default 3)
    "webhook_backoff_ms": _int(0, 600_000),  # first retry delay, x2.5 each time (default 200)
    "webhook_timeout_s": _float(0.1, 120),  # per delivery attempt (default 5)
}

DIRECTIVE_RE = re.compile(r"\[\[sim\b([^\]]*)\]\]")


class DirectiveError(ValueError):
    pass


def parse_faults(raw, where):
    """Check and convert a {key: value} mapping of fault keys."""
    out = {}
    for k, v in raw.items():
        conv = FAULT_KEYS.get(k)
        if conv is None:
            raise DirectiveError(f"{where}: unknown key {k!r} (known: {', '.join(sorted(FAULT_KEYS))})")
        try:
            out[k] = conv(v)
        except (TypeError, ValueError) as e:
            raise DirectiveError(f"{where}: {k}={v!r}: {e}") from None
    return out


def directives_in(inp):
    """Faults from every [[sim ...]] directive in the input's strings (text and prompt first)."""
    raw = {}
    keys = [k for k in ("text", "prompt") if k in inp] + sorted(k for k in inp if k not in ("text", "prompt"))
    for k in keys:
        v = inp[k]
        if not isinstance(v, str):
            continue
        for m in DIRECTIVE_RE.finditer(v):
            for tok in m.group(1).split():
                key, eq, val = tok.partition("=")
                if not eq or not key:
                    raise DirectiveError(f"directive in input.{k}: expected key=value, got {tok!r}")
                raw[key] = val
    return parse_faults(raw, "directive")


def strip_directives(s):
    return DIRECTIVE_RE.sub("", s).strip() if isinstance(s, str) else ""


# ---------------------------------------------------------------- helpers

def iso(t):
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_prediction_id():
    # Replicate ids look like "gm3qorzdhgbfurvjtvhg6dckhu": 26 lowercase base32 characters.
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def version_for(model):
    return KNOWN_VERSIONS.get(model) or hashlib.sha256(model.encode()).hexdigest()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def problem(status, title, detail, **extra):
    body = {"title": title, "detail": detail, "status": status}
    body.update(extra)
    return body


def secret_key(secret):
    """The HMAC key of a Standard Webhooks secret: base64 after 'whsec_'."""
    if not secret.startswith("whsec_"):
        raise ValueError("the secret must start with whsec_")
    try:
        key = base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after whsec_ must be base64") from None
    if not key:
        raise ValueError("the secret is empty")
    return key


def sign(key, msg_id, timestamp, body):
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@functools.lru_cache(maxsize=128)
def make_wav(duration_ms, sample_rate, channels, freq, amplitude_pct):
    """A sine tone with short fades, 16-bit PCM."""
    n = max(1, sample_rate * duration_ms // 1000)
    amp = 32767 * amplitude_pct / 100.0
    fade = max(1, min(n // 4, sample_rate // 100))  # 10 ms
    step = 2 * math.pi * freq / sample_rate
    samples = array.array("h", bytes(2 * n * channels))
    for i in range(n):
        g = min(1.0, i / fade, (n - 1 - i) / fade)
        v = int(amp * g * math.sin(step * i))
        if channels == 1:
            samples[i] = v
        else:
            samples[2 * i] = v
            samples[2 * i + 1] = v
    if sys.byteorder == "big":
        samples.byteswap()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def audio_params(inp):
    """Duration, sample rate, channels, frequency and loudness of the tone for an input."""
    text = strip_directives(inp.get("text")) or strip_directives(inp.get("prompt"))
    speed = inp.get("speed", 1)
    try:
        speed = min(4.0, max(0.25, float(speed)))
    except (TypeError, ValueError):
        speed = 1.0
    dur = None
    for k in ("duration", "seconds_total", "duration_seconds", "seconds"):
        v = inp.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            dur = float(v)
            break
    if dur is None:
        dur = (0.25 + 0.055 * len(text)) / speed
    dur = min(30.0, max(0.1, dur))
    sr = inp.get("sample_rate")
    if not (isinstance(sr, int) and not isinstance(sr, bool) and 4000 <= sr <= 192000):
        try:
            sr = int(str(sr))
            if not 4000 <= sr <= 192000:
                raise ValueError
        except (TypeError, ValueError):
            sr = 32000
    ch = 2 if str(inp.get("channel", inp.get("channels", "mono"))).lower() in ("stereo", "2") else 1
    voice = str(inp.get("voice_id", "Wise_Woman"))
    freq = 180 + int(hashlib.sha256(voice.encode()).hexdigest()[:4], 16) % 240
    try:
        freq *= 2 ** (max(-12, min(12, int(inp.get("pitch", 0)))) / 12)
    except (TypeError, ValueError):
        pass
    try:
        vol = max(0.0, min(10.0, float(inp.get("volume", 1))))
    except (TypeError, ValueError):
        vol = 1.0
    amp = int(max(1, min(90, 30 * vol)))
    return int(dur * 1000), sr, ch, int(freq), amp


# ---------------------------------------------------------------- scheduler

def _guarded(fn, *args):
    try:
        fn(*args)
    except Exception:  # a bug here must not vanish silently inside the pool
        sys.stderr.write("replicate-sim: internal error\n" + traceback.format_exc())


def submit(pool, fn, *args):
    try:
        pool.submit(_guarded, fn, *args)
        return True
    except RuntimeError:  # the pool is shut down: we are stopping
        return False


class Scheduler:
    """Timers on one thread; the work itself runs on the worker pool."""

    def __init__(self, pool):
        self.pool = pool
        self.heap = []
        self.seq = itertools.count()
        self.cv = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="sim-timers", daemon=True)
        self.thread.start()

    def at(self, delay_s, fn, *args):
        with self.cv:
            heapq.heappush(self.heap, (time.monotonic() + max(0.0, delay_s), next(self.seq), fn, args))
            self.cv.notify()

    def _run(self):
        while True:
            with self.cv:
                while not self.stopped and (not self.heap or self.heap[0][0] > time.monotonic()):
                    self.cv.wait(None if not self.heap else self.heap[0][0] - time.monotonic())
                if self.stopped:
                    return
                _, _, fn, args = heapq.heappop(self.heap)
            if not submit(self.pool, fn, *args):
                return

    def stop(self):
        with self.cv:
            self.stopped = True
            self.heap.clear()
            self.cv.notify()


# ---------------------------------------------------------------- state

class Prediction:
    __slots__ = (
        "id", "model", "version", "input", "webhook", "filter", "job", "job_key", "faults",
        "epoch", "created", "started", "completed", "status", "output", "error", "logs",
        "outbox", "sending", "held", "deliveries", "get_failures", "done", "create_attempt",
        "malformed_reply",
    )


class Delivery:
    __slots__ = ("event", "msg_id", "body", "attempt")

    def __init__(self, event, msg_id, body):
        self.event, self.msg_id, self.body, self.attempt = event, msg_id, body, 0


class Sim:
    def __init__(self, args):
        self.token = args.token
        self.secret = args.secret
        self.key = secret_key(args.secret)
        self.wrong_key = hashlib.sha256(b"not the secret" + self.key).digest()
        self.public = (args.public_url or f"http://127.0.0.1:{args.port}").rstrip("/")
        self.defaults = {
            "delay_ms": args.delay_ms, "start_ms": args.start_ms, "late_ms": args.late_ms,
            "webhook_retries": 3, "webhook_backoff_ms": 200, "webhook_timeout_s": 5.0,
            "retry_after": 1, "times": 1, "outcome": "succeeded", "webhooks": "all",
        }
        self.verbose = args.verbose
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        # Two pools, so a receiver that hangs never holds up predictions' progress:
        # state changes and outputs on one, webhook deliveries on the other.
        self.work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-work")
        self.hooks = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="sim-hook")
        self._tls = threading.local()
        self.timers = Scheduler(self.work)
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        self.reset()

    def set_public(self, port):
        if self.public.endswith(":0"):
            self.public = self.public[:-2] + f":{port}"

    def reset(self):
        with self.lock:
            # The create gate: closed until POST /_sim/gate {"open": true}. A reset
            # lets whatever waits at the old gate through and closes a new one.
            old = getattr(self, "gate", None)
            self.gate = threading.Event()
            self.at_gate = 0
            self.parked = []  # (prediction, epoch) processing until the gate opens
            if old is not None:
                old.set()
            self.epoch = getattr(self, "epoch", 0) + 1
            self.config = {}
            self.preds = {}
            self.order = []
            self.jobs = collections.Counter()   # job key -> create attempts
            self.files = {}                     # name -> (prediction id, wav params)
            self.stats = collections.Counter()
            self.webhook_statuses = collections.Counter()
            self.refused_by_status = collections.Counter()
            self.user_tokens = {}               # a user's own key -> active

    def log(self, msg):
        if self.verbose:
            sys.stderr.write(f"replicate-sim: {msg}\n")

    # ---- prediction JSON

    def view(self, p):
        urls = {
            "get": f"{self.public}/v1/predictions/{p.id}",
            "cancel": f"{self.public}/v1/predictions/{p.id}/cancel",
            "web": f"{self.public}/p/{p.id}",
        }
        metrics = {}
        if p.status in TERMINAL:
            if p.started is not None:
                metrics["predict_time"] = round(p.completed - p.started, 6)
            metrics["total_time"] = round(p.completed - p.created, 6)
        return {
            "id": p.id,
            "model": p.model,
            "version": p.version,
            "input": p.input,
            "logs": p.logs,
            "output": p.output,
            "data_removed": False,
            "error": p.error,
            "status": p.status,
            "created_at": iso(p.created),
            "started_at": iso(p.started),
            "completed_at": iso(p.completed),
            "urls": urls,
            "metrics": metrics,
        }

    def faults_for(self, directive):
        f = dict(self.defaults)
        f.update(self.config)
        f.update(directive)
        return f

    # ---- create

    def create(self, model, version, inp, webhook, flt, directive):
        with self.lock:
            p = Prediction()
            p.id = new_prediction_id()
            p.model, p.version, p.input = model, version, inp
            p.webhook, p.filter = webhook, flt
            p.job = job_of(webhook)
            p.job_key = job_key(webhook, model, inp)
            p.faults = self.faults_for(directive)
            p.epoch = self.epoch
            p.created = time.time()
            p.started = p.completed = None
            p.status = "starting"
            p.output = p.error = None
            p.logs = ""
            p.outbox = collections.deque()
            p.sending = False
            p.held = []
            p.deliveries = []
            p.get_failures = 0
            p.done = threading.Event()
            p.create_attempt = self.jobs[p.job_key]
            p.malformed_reply = False
            self.preds[p.id] = p
            self.order.append(p.id)
            self.stats["creates_accepted"] += 1
        if p.faults["outcome"] == "aborted":
            # aborted: the deadline passed before it could start; it never runs.
            self.timers.at((p.faults["start_ms"] + p.faults["delay_ms"]) / 1000, self._finish, p, p.epoch)
        else:
            self.timers.at(p.faults["start_ms"] / 1000, self._start, p, p.epoch)
        return p

    def _start(self, p, epoch):
        with self.lock:
            if epoch != self.epoch or p.status != "starting":
                return
            p.status = "processing"
            p.started = time.time()
            self._event(p, "start")
            p.logs = f"sim: running {p.model}\n"
            self._event(p, "logs")
            if p.faults.get("finish_gate") and not self.gate.is_set():
                self.parked.append((p, epoch))
                self.stats["finishes_gated"] += 1
                return
        self.timers.at(p.faults["delay_ms"] / 1000, self._finish, p, epoch)

    def open_gate(self):
        """Under the lock: held creates go on, parked predictions start their delay."""
        self.gate.set()
        for p, epoch in self.parked:
            self.timers.at(p.faults["delay_ms"] / 1000, self._finish, p, epoch)
        self.parked = []

    def _finish(self, p, epoch):
        outcome = p.faults["outcome"]
        output, error = None, None
        if outcome == "succeeded":
            try:
                output = self._produce(p)
            except _Failed as e:
                outcome, error = "failed", str(e)
            except Exception:
                sys.stderr.write("replicate-sim: internal error\n" + traceback.format_exc())
                outcome, error = "failed", "sim: internal error producing the output"
        elif outcome == "failed":
            error = "sim: forced failure"
        with self.lock:
            if epoch != self.epoch or p.status in TERMINAL:
                return
            if outcome == "succeeded":
                p.output = output
            p.error = error
            if outcome in ("succeeded", "failed"):
                p.logs += "sim: done\n" if outcome == "succeeded" else f"{error}\n"
            self._terminal(p, outcome)

    def _terminal(self, p, status):
        """Under the lock: move to a terminal status and send what follows."""
        p.status = status
        p.completed = time.time()
        self.stats["predictions_" + status] += 1
        mode = p.faults["webhooks"]
        if mode == "late":
            body = dumps(self.view(p))
            msg = self._msg_id(p)
            self.timers.at(p.faults["late_ms"] / 1000, self._late, p, p.epoch, msg, body)
        else:
            self._event(p, "completed")
            for d in p.held:  # out_of_order: what was held back goes after completed
                self._enqueue(p, d)
            p.held = []
        p.done.set()

    def _late(self, p, epoch, msg, body):
        with self.lock:
            if epoch == self.epoch:
                self._enqueue(p, Delivery("completed", msg, body))

    def cancel(self, p):
        with self.lock:
            if p.status not in TERMINAL:
                p.logs += "sim: canceled\n"
                self._terminal(p, "canceled")
                self.stats["cancels"] += 1
            return self.view(p)

    def _produce(self, p):
        """The output of a successful prediction (runs on a worker)."""
        kind = model_kind(p.model, p.input)
        if kind == "clone":
            fetch(self.opener, p.input.get("voice_file"))
            name = f"{p.id}-preview.wav"
            params = audio_params({"text": "This is a preview of your cloned voice.",
                                   "voice_id": f"sim-voice-{p.id}"})
            with self.lock:
                self.files[name] = (p.id, params)
            return {"voice_id": f"sim-voice-{p.id}", "preview": f"{self.public}/files/{name}",
                    "model": p.input.get("model", "speech-02-turbo")}
        name = f"{p.id}.wav"
        with self.lock:
            self.files[name] = (p.id, audio_params(p.input))
        return f"{self.public}/files/{name}"

    # ---- webhooks

    def _msg_id(self, p):
        return f"msg_{p.id}_{secrets.token_hex(4)}"

    def _event(self, p, event):
        """Under the lock: a webhook for this event, if the prediction asked for it."""
        if not p.webhook or event not in p.filter or p.faults["webhooks"] == "none":
            return
        d = Delivery(event, self._msg_id(p), dumps(self.view(p)))
        if p.faults["webhooks"] == "out_of_order" and event != "completed":
            p.held.append(d)
        else:
            self._enqueue(p, d)

    def _enqueue(self, p, d):
        p.outbox.append(d)
        if p.faults["webhooks"] == "duplicate":
            p.outbox.append(Delivery(d.event, d.msg_id, d.body))
        if not p.sending:
            p.sending = submit(self.hooks, self._pump, p, p.epoch)

    def _pump(self, p, epoch):
        """Deliver one prediction's webhooks in order; a failed one is retried later, in place."""
        while True:
            with self.lock:
                if epoch != self.epoch or self.stopping.is_set() or not p.outbox:
                    p.sending = False
                    return
                d = p.outbox[0]
            d.attempt += 1
            status = self._post(p, d)
            ok = isinstance(status, int) and 200 <= status < 300
            with self.lock:
                if epoch != self.epoch:
                    return
                p.deliveries.append({"event": d.event, "webhook_id": d.msg_id, "attempt": d.attempt,
                                     "status": status, "at": iso(time.time())})
                self.stats["webhooks_sent"] += 1
                self.stats["webhooks_sent_" + d.event] += 1
                self.webhook_statuses[str(status) if isinstance(status, int) else "error"] += 1
                if ok:
                    self.stats["webhooks_delivered"] += 1
                elif d.attempt <= p.faults["webhook_retries"]:
                    self.stats["webhook_retries"] += 1
                    backoff = p.faults["webhook_backoff_ms"] / 1000 * 2.5 ** (d.attempt - 1)
                    self.timers.at(backoff, submit, self.hooks, self._pump, p, epoch)
                    return  # still "sending": nothing overtakes the retried delivery
                else:
                    self.stats["webhooks_given_up"] += 1
                p.outbox.popleft()

    def _post(self, p, d):
        ts = str(int(time.time()))
        sig = sign(self.wrong_key if p.faults.get("bad_signature") else self.key, d.msg_id, ts, d.body)
        if p.faults.get("extra_signature"):
            sig = sign(self.wrong_key, d.msg_id, ts, d.body) + " " + sig
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "replicate-sim/1.0",
            "webhook-id": d.msg_id,
            "webhook-timestamp": ts,
            "webhook-signature": sig,
        }
        u = urllib.parse.urlsplit(p.webhook)
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        key = (u.scheme, u.hostname, u.port)
        timeout = p.faults["webhook_timeout_s"]
        # One persistent connection per delivery thread and receiver, as a real
        # sender keeps them: a new TCP connection and urllib per webhook cost more
        # CPU than everything else the simulator does.
        conns = getattr(self._tls, "conns", None)
        if conns is None:
            conns = self._tls.conns = {}
        for attempt in (0, 1):
            conn = conns.get(key)
            fresh = conn is None
            if fresh:
                cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
                conn = conns[key] = cls(u.hostname, u.port, timeout=timeout)
            elif conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request("POST", path, body=d.body, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.will_close:
                    conn.close()
                    conns.pop(key, None)
                return r.status
            except Exception as e:  # refused, reset, timeout, garbage: a failed attempt
                conn.close()
                conns.pop(key, None)
                if fresh or attempt or isinstance(e, TimeoutError):
                    self.log(f"webhook {d.msg_id} to {p.webhook}: {e!r}")
                    return f"error: {e!r}"
                # a kept-alive connection the receiver had closed: once more, anew

    # ---- inspection

    def describe(self, p):
        v = self.view(p)
        statuses = [d["status"] for d in p.deliveries]
        return {
            "id": p.id, "model": p.model, "version": p.version, "input": p.input,
            "status": p.status, "output": p.output, "error": p.error,
            "webhook": p.webhook, "webhook_events_filter": sorted(p.filter, key=EVENTS.index),
            "job": p.job, "create_attempts": self.jobs[p.job_key], "create_attempt": p.create_attempt,
            "created_at": v["created_at"], "completed_at": v["completed_at"],
            "faults": {k: p.faults[k] for k in sorted(p.faults) if self.defaults.get(k, None) != p.faults[k]},
            "malformed_reply": p.malformed_reply,
            "webhook_deliveries": {"count": len(p.deliveries), "statuses": statuses, "log": p.deliveries,
                                   "outstanding": len(p.outbox) + len(p.held)},
        }

    def stats_view(self):
        s = dict(self.stats)
        for k in ("creates_accepted", "creates_refused", "creates_invalid", "creates_malformed",
                  "creates_hung", "creates_hung_done", "creates_gated", "finishes_gated", "unauthorized", "gets", "gets_failed", "lists", "cancels",
                  "webhooks_sent",
                  "webhooks_delivered", "webhook_retries", "webhooks_given_up", "files_served",
                  "files_expired"):
            s.setdefault(k, 0)
        s["creates_refused_by_status"] = dict(self.refused_by_status)
        s["webhook_statuses"] = dict(self.webhook_statuses)
        by = collections.Counter(p.status for p in self.preds.values())
        s["predictions"] = len(self.preds)
        s["predictions_by_status"] = dict(by)
        return s

    def stop(self):
        self.stopping.set()
        self.timers.stop()
        self.work.shutdown(wait=False, cancel_futures=True)
        self.hooks.shutdown(wait=False, cancel_futures=True)


class _Failed(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Replicate does not follow redirects when delivering webhooks."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def fetch(opener, url):
    """Prove an input file is reachable, as a model would when it downloads it."""
    if not isinstance(url, str) or not url:
        raise _Failed("sim: voice_file is missing")
    if url.startswith("data:"):
        head, comma, data = url.partition(",")
        if not comma:
            raise _Failed("sim: voice_file is a malformed data URL")
        if head.endswith(";base64"):
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise _Failed("sim: voice_file data URL is not valid base64") from None
        return
    if not url.startswith(("http://", "https://")):
        raise _Failed(f"sim: voice_file is not an http(s) URL: {url[:80]}")
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": "replicate-sim/1.0"}),
                         timeout=5) as r:
            n = 0
            while n < 64 * 1024 * 1024:
                chunk = r.read(65536)
                if not chunk:
                    break
                n += len(chunk)
            if n == 0:
                raise _Failed("sim: voice_file is empty")
    except urllib.error.HTTPError as e:
        raise _Failed(f"sim: could not fetch voice_file: HTTP {e.code}") from None
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise _Failed(f"sim: could not fetch voice_file: {getattr(e, 'reason', None) or e!r}") from None


def job_of(webhook):
    if not webhook:
        return None
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(webhook).query)
    return q.get("job", [None])[0]


def job_key(webhook, model, inp):
    job = job_of(webhook)
    if job:
        return "job:" + job
    return "input:" + hashlib.sha256(json.dumps([model, inp], sort_keys=True).encode()).hexdigest()


def model_kind(model, inp):
    name = model.rsplit("/", 1)[-1]
    if name.endswith("voice-cloning") or ("voice_file" in inp and "text" not in inp):
        return "clone"
    return "audio"


# ---------------------------------------------------------------- HTTP

PRED_RE = re.compile(r"^/v1/predictions/([A-Za-z0-9_-]+)(/cancel)?$")
MODEL_RE = re.compile(r"^/v1/models/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/predictions$")
DEPLOY_RE = re.compile(r"^/v1/deployments/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/predictions$")
FILE_RE = re.compile(r"^/files/([A-Za-z0-9_.-]+)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replicate-sim/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections do not hold a thread forever
    sim: Sim = None

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        # Headers and body leave in two writes: with Nagle on, the body would wait
        # for the client's delayed ACK (40 ms) on every keep-alive response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- plumbing

    def log_message(self, fmt, *args):
        if self.sim.verbose:
            sys.stderr.write("replicate-sim: %s %s\n" % (self.address_string(), fmt % args))

    def send_json(self, status, obj, headers=None, raw=None):
        body = raw if raw is not None else dumps(obj)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return True
        except OSError:
            self.close_connection = True
            return False

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise _TooLarge()
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise _TooLarge()
        return self.rfile.read(n) if n > 0 else b""

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() in ("bearer", "token") and hmac.compare_digest(tok.strip().encode(), self.sim.token.encode()):
            return True
        # A user's own key (POST /_sim/tokens): accepted while active, counted by its
        # last four characters so tests see whose key a call carried.
        with self.sim.lock:
            if self.sim.user_tokens.get(tok.strip()):
                self.sim.stats["user_token:" + tok.strip()[-4:]] += 1
                return True
        with self.sim.lock:
            self.sim.stats["unauthorized"] += 1
        self.send_json(401, problem(401, "Unauthenticated", "You did not pass a valid authentication token"),
                       headers={"WWW-Authenticate": 'Bearer realm="replicate-sim"'})
        return False

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/") or "/"
        return path, urllib.parse.parse_qs(u.query)

    def _dispatch(self, method):
        path, query = self.route()
        try:
            body = self.read_body()  # always, so a keep-alive connection stays in step
        except _TooLarge:
            self.close_connection = True
            return self.send_json(413, problem(413, "Request Entity Too Large", "body too large"))
        except ValueError as e:
            self.close_connection = True
            return self.send_json(400, problem(400, "Bad Request", f"unreadable body: {e}"))
        except OSError:
            self.close_connection = True
            return
        if path.startswith("/v1/"):
            if not self.authorized():
                return
            return self.api(method, path, query, body)
        if path.startswith("/_sim/"):
            return self.control(method, path, query, body)
        m = FILE_RE.match(path)
        if m and method in ("GET", "HEAD"):
            return self.file(m.group(1))
        if path == "/healthz":
            return self.send_json(200, {"ok": True})
        self.send_json(404, problem(404, "Not found", f"no route for {method} {path}"))

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    # ---- Replicate API

    def api(self, method, path, query, body):
        sim = self.sim
        if path == "/v1/predictions" and method == "POST":
            return self.create(None, body)
        if path == "/v1/predictions" and method == "GET":
            return self.list_predictions(query)
        m = MODEL_RE.match(path) or DEPLOY_RE.match(path)
        if m and method == "POST":
            return self.create(f"{m.group(1)}/{m.group(2)}", body)
        m = PRED_RE.match(path)
        if m:
            with sim.lock:
                p = sim.preds.get(m.group(1))
            if p is None:
                return self.send_json(404, problem(404, "Not found", "Not found."))
            if m.group(2) and method == "POST":
                return self.send_json(200, sim.cancel(p))
            if not m.group(2) and method in ("GET", "HEAD"):
                return self.get_prediction(p)
            return self.send_json(405, problem(405, "Method Not Allowed", f"{method} not allowed"))
        if path == "/v1/webhooks/default/secret" and method == "GET":
            return self.send_json(200, {"key": sim.secret})
        if path == "/v1/account" and method == "GET":
            return self.send_json(200, {"type": "organization", "username": "reelvox-sim",
                                        "name": "Reelvox simulator", "github_url": None})
        self.send_json(404, problem(404, "Not found", f"no route for {method} {path}"))

    def list_predictions(self, query):
        """Newest first, PAGE_SIZE a page. Like Replicate's, the cursor is opaque
        and stable: it marks where the page ended, so predictions created while a
        client pages through never shift what the next page holds."""
        sim = self.sim
        raw = query.get("cursor", [None])[0]
        with sim.lock:
            end = len(sim.order)  # the page holds order[..end), newest first
            if raw is not None:
                try:
                    key, _, val = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().partition("=")
                    if key != "o" or not val.isdigit():
                        raise ValueError(raw)
                    end = min(int(val), end)
                except (ValueError, UnicodeDecodeError, binascii.Error):
                    return self.send_json(400, problem(400, "Bad Request", "invalid cursor"))
            start = max(0, end - PAGE_SIZE)
            res = [sim.view(sim.preds[i]) for i in reversed(sim.order[start:end])]
            sim.stats["lists"] += 1

        def link(pos):
            cur = base64.urlsafe_b64encode(f"o={pos}".encode()).decode().rstrip("=")
            return f"{sim.public}/v1/predictions?cursor={cur}"

        self.send_json(200, {"next": link(start) if start > 0 else None,
                             "previous": link(end + PAGE_SIZE) if raw is not None else None,
                             "results": res})

    def get_prediction(self, p):
        sim = self.sim
        with sim.lock:
            sim.stats["gets"] += 1
            f = p.faults
            status = f.get("get_status")
            times = f.get("get_times", f["times"])
            if status and (times < 0 or p.get_failures < times):
                p.get_failures += 1
                sim.stats["gets_failed"] += 1
            else:
                status = None
                view = sim.view(p)
        if status:
            return self.fault_reply(status, f)
        self.send_json(200, view)

    def fault_reply(self, status, f):
        headers = {}
        if status in (429, 503):
            headers["Retry-After"] = str(f["retry_after"])
        if status == 429:
            body = problem(429, "Too Many Requests",
                           f"Request was throttled. Your rate limit resets in ~{f['retry_after']}s.")
        else:
            body = problem(status, "Internal Server Error" if status == 500 else "Service Unavailable"
                           if status == 503 else "Error", f"sim: injected {status}")
        self.send_json(status, body, headers=headers)

    def invalid(self, detail, fields):
        with self.sim.lock:
            self.sim.stats["creates_invalid"] += 1
        self.send_json(422, problem(422, "Input validation failed", detail, invalid_fields=fields))

    def create(self, model, raw):
        sim = self.sim
        try:
            req = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            with sim.lock:
                sim.stats["creates_invalid"] += 1
            return self.send_json(400, problem(400, "Bad Request", f"request body is not valid JSON: {e}"))
        if not isinstance(req, dict):
            return self.invalid("- (root): Invalid type. Expected: object", [
                {"type": "invalid_type", "field": "(root)", "description": "Invalid type. Expected: object"}])
        version = req.get("version")
        if model is None:
            if not isinstance(version, str) or not version:
                return self.invalid("- (root): version is required", [
                    {"type": "required", "field": "version", "description": "version is required"}])
            if ":" in version:
                model, _, version = version.partition(":")
            elif "/" in version:
                model, version = version, version_for(version)
            else:
                model = MODEL_BY_VERSION.get(version, "sim/unknown-model")
        else:
            version = version_for(model)
        inp = req.get("input")
        if not isinstance(inp, dict):
            what = "input is required" if inp is None else "Invalid type. Expected: object"
            return self.invalid(f"- input: {what}", [
                {"type": "required" if inp is None else "invalid_type", "field": "input", "description": what}])
        kind = model_kind(model, inp)
        missing = None
        if kind == "clone" and not inp.get("voice_file"):
            missing = "voice_file"
        elif "speech" in model and not isinstance(inp.get("text"), str):
            missing = "text"
        if missing:
            return self.invalid(f"- input: {missing} is required", [
                {"type": "required", "field": f"input.{missing}", "description": f"{missing} is required"}])
        webhook = req.get("webhook")
        flt = req.get("webhook_events_filter")
        if webhook is None and isinstance(req.get("webhook_completed"), str):
            webhook, flt = req["webhook_completed"], ["completed"]
        if webhook is not None:
            if not isinstance(webhook, str) or not webhook.startswith(("http://", "https://")):
                return self.invalid("- webhook: must be an http(s) URL", [
                    {"type": "format", "field": "webhook", "description": "must be an http(s) URL"}])
        if flt is None:
            flt = list(EVENTS)
        elif not (isinstance(flt, list) and all(e in EVENTS for e in flt)):
            return self.invalid("- webhook_events_filter: items must be one of start, output, logs, completed", [
                {"type": "enum", "field": "webhook_events_filter",
                 "description": "items must be one of start, output, logs, completed"}])
        try:
            directive = directives_in(inp)
        except DirectiveError as e:
            return self.send_json(400, problem(400, "Bad sim directive", str(e)))

        with sim.lock:
            f = sim.faults_for(directive)
            key = job_key(webhook, model, inp)
            sim.jobs[key] += 1
            attempt = sim.jobs[key]
        times = f.get("create_times", f["times"])
        faulty = times < 0 or attempt <= times
        if faulty and f.get("create_hang_s"):
            with sim.lock:
                sim.stats["creates_hung"] += 1
            if sim.stopping.wait(f["create_hang_s"]):
                self.close_connection = True
                return
            with sim.lock:  # the held create goes on now, whether or not anyone listens
                sim.stats["creates_hung_done"] += 1
        if f.get("create_gate") and not self.wait_at_gate():
            self.close_connection = True
            return
        if faulty and f.get("create_status"):
            with sim.lock:
                sim.stats["creates_refused"] += 1
                sim.refused_by_status[str(f["create_status"])] += 1
            return self.fault_reply(f["create_status"], f)
        p = sim.create(model, version, inp, webhook, set(flt), directive)
        if faulty and f.get("create_malformed"):
            with sim.lock:
                sim.stats["creates_malformed"] += 1
                p.malformed_reply = True
            good = dumps(sim.view(p))
            return self.send_json(201, None, raw=good[: max(1, len(good) // 2)] + b'",,}')
        prefer = self.headers.get("Prefer", "")
        m = re.match(r"^\s*wait(?:=(\d+))?\s*$", prefer)
        if m:
            p.done.wait(min(60, int(m.group(1) or 60)))
        with sim.lock:
            view = sim.view(p)
        if not self.send_json(201, view):
            with sim.lock:
                sim.stats["create_replies_lost"] += 1

    def wait_at_gate(self):
        """Holds a create until the gate opens; False when the simulator stops."""
        sim = self.sim
        with sim.lock:
            gate = sim.gate
            if gate.is_set():
                return True
            sim.stats["creates_gated"] += 1
            sim.at_gate += 1
        while not gate.wait(0.2):
            if sim.stopping.is_set():
                return False
        with sim.lock:
            if sim.gate is gate:
                sim.at_gate -= 1
        return True

    # ---- files

    def file(self, name):
        sim = self.sim
        with sim.lock:
            entry = sim.files.get(name)
            p = sim.preds.get(entry[0]) if entry else None
            expired = bool(p and p.faults.get("output_expired"))
            if entry and not expired:
                sim.stats["files_served"] += 1
            elif expired:
                sim.stats["files_expired"] += 1
        if entry is None or expired:
            detail = "Request has expired" if expired else "The specified key does not exist."
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                    f'{"ExpiredRequest" if expired else "NoSuchKey"}</Code><Message>{detail}</Message>'
                    f"<Key>{name}</Key></Error>\n").encode()
            try:
                self.send_response(404)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            except OSError:
                self.close_connection = True
            return
        f = p.faults if p else {}
        if f.get("output_redirect"):
            try:
                self.send_response(302)
                self.send_header("Location", f["output_redirect"])
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                self.close_connection = True
            return
        data = make_wav(*entry[1])
        if f.get("output_bytes", 0) > len(data):
            return self.file_padded(data, f["output_bytes"])
        try:
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "private, max-age=3600")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def file_padded(self, data, size):
        """The WAV followed by zeros up to size bytes (a player stops at its data
        chunk), streamed: a client that gives up early just closes."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.write(data)
            left, zeros = size - len(data), bytes(1 << 16)
            while left > 0:
                n = min(left, len(zeros))
                self.wfile.write(zeros[:n])
                left -= n
        except OSError:
            self.close_connection = True

    # ---- control plane for tests

    def control(self, method, path, query, body):
        sim = self.sim
        if path == "/_sim/reset" and method == "POST":
            sim.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_sim/config":
            if method == "POST":
                try:
                    raw = json.loads(body or b"{}")
                    if not isinstance(raw, dict):
                        raise DirectiveError("config must be a JSON object")
                    parsed = parse_faults(raw, "config")
                except (json.JSONDecodeError, UnicodeDecodeError, DirectiveError) as e:
                    return self.send_json(400, problem(400, "Bad sim config", str(e)))
                with sim.lock:
                    sim.config.update(parsed)
            elif method != "GET":
                return self.send_json(405, problem(405, "Method Not Allowed", method))
            with sim.lock:
                return self.send_json(200, {"config": dict(sim.config), "defaults": dict(sim.defaults)})
        if path == "/_sim/tokens" and method == "POST":
            try:
                t = json.loads(body or b"{}")
                tok, active = t["token"], t.get("active", True)
                if not isinstance(tok, str) or not tok or not isinstance(active, bool):
                    raise ValueError("token: a string, active: a bool")
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as e:
                return self.send_json(400, problem(400, "Bad token", str(e)))
            with sim.lock:
                sim.user_tokens[tok] = active
            return self.send_json(200, {"ok": True})
        if path == "/_sim/gate":
            if method == "POST":
                try:
                    want = json.loads(body or b"{}").get("open")
                    if not isinstance(want, bool):
                        raise ValueError("open must be true or false")
                except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, ValueError) as e:
                    return self.send_json(400, problem(400, "Bad gate", str(e)))
                with sim.lock:
                    if want:
                        sim.open_gate()
                    elif sim.gate.is_set():
                        sim.gate = threading.Event()
                        sim.at_gate = 0
            elif method != "GET":
                return self.send_json(405, problem(405, "Method Not Allowed", method))
            with sim.lock:
                return self.send_json(200, {"open": sim.gate.is_set(), "waiting": sim.at_gate,
                                            "parked": len(sim.parked)})
        if path == "/_sim/predictions" and method == "GET":
            job = query.get("job", [None])[0]
            with sim.lock:
                out = [sim.describe(sim.preds[i]) for i in sim.order
                       if job is None or sim.preds[i].job == job]
            return self.send_json(200, out)
        if path == "/_sim/stats" and method == "GET":
            with sim.lock:
                return self.send_json(200, sim.stats_view())
        self.send_json(404, problem(404, "Not found", f"no route for {method} {path}"))


class _TooLarge(Exception):
    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Replicate API simulator for Reelvox tests")
    ap.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--token", required=True, help="the API token clients must send as Bearer")
    ap.add_argument("--secret", required=True, help="webhook signing secret, whsec_<base64>")
    ap.add_argument("--public-url", help="base URL put in urls.get/cancel and output files")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--delay-ms", type=int, default=50, help="default processing time (50)")
    ap.add_argument("--start-ms", type=int, default=5, help="default time spent starting (5)")
    ap.add_argument("--late-ms", type=int, default=1500, help="default delay for webhooks=late (1500)")
    ap.add_argument("--workers", type=int, default=16, help="webhook delivery pool size (16)")
    ap.add_argument("--verbose", action="store_true", help="log requests and delivery errors to stderr")
    args = ap.parse_args(argv)
    try:
        sim = Sim(args)
    except ValueError as e:
        ap.error(f"--secret: {e}")

    Handler.sim = sim
    try:
        httpd = Server((args.host, args.port), Handler)
    except OSError as e:
        sys.stderr.write(f"replicate-sim: cannot listen on {args.host}:{args.port}: {e}\n")
        return 1
    port = httpd.server_address[1]
    sim.set_public(port)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="sim-http", daemon=True)
    t.start()
    print(f"replicate-sim listening on {port}", flush=True)
    while not stop.wait(1.0):
        if not t.is_alive():
            return 1
    sim.stop()
    httpd.shutdown()
    httpd.server_close()
    t.join(timeout=2)
    # Connection threads are daemons and pending work was dropped; do not wait at
    # exit for a webhook still in flight to a receiver that may be gone.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
