#!/usr/bin/python3
"""Runway provider simulator for Reelvox tests (standard library only; the ffmpeg
binary makes the videos it serves, once per size and length, at first use).

    /usr/bin/python3 tests/sim/runway_sim.py --port 18122 --key KEY

prints "runway-sim listening on PORT" once it accepts connections and stops on
SIGTERM. It speaks Runway's API as of X-Runway-Version 2024-11-06:

    POST   /v1/image_to_video  {model, promptImage, promptText?, ratio, duration} → {id}
    GET    /v1/tasks/{id}      {id, status, createdAt, progress?, output?, failure?, failureCode?}
    DELETE /v1/tasks/{id}      204 (cancels a running task, deletes an ended one)
    GET    /files/{name}?exp=T the output video (video/mp4); 403 once T has passed

Every /v1 call needs `Authorization: Bearer KEY` (401) and `X-Runway-Version:
2024-11-06` (400). A task goes PENDING → THROTTLED → RUNNING (progress 0..1) →
SUCCEEDED (output: one URL that expires after --output-ttl seconds) on a clock:
--pending-ms, --throttled-ms, --running-ms (defaults 100, 200, 600).

Faults, per task, by markers in promptText:
    [[safety]]   FAILED with failureCode SAFETY.INPUT.TEXT
    [[fail]]     FAILED with failureCode INTERNAL.BAD_OUTPUT.CODE01
    [[sim k=v ...]] with keys: create_status=429|500|503|502 and times=N (the first
                 N creates carrying this promptText answer that status; 429 with
                 retry_after=S), get_status=500 times=N (GETs of the task),
                 hang_create=1 times=N (the create is taken, then no answer for
                 --hang-s seconds), expired=1 (its output URL has already expired),
                 throttled_ms=, running_ms= (this task's clock), bad_output=1 (the
                 output is no video).
Control: POST /_sim/reset, GET /_sim/tasks[?prompt=substring], GET /_sim/stats,
POST /_sim/config {pending_ms, throttled_ms, running_ms, output_ttl}.
"""

import argparse
import base64
import binascii
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "2024-11-06"
RATIOS = {"1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672"}
DIRECTIVE = re.compile(r"\[\[sim ([^\]]*)\]\]")


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Sim:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.videos = {}
        self.video_lock = threading.Lock()
        self.workdir = tempfile.mkdtemp(prefix="runway-sim-")
        self.reset()

    def reset(self):
        with self.lock:
            self.tasks = {}
            self.counters = {}
            self.stats = {"creates": 0, "gets": 0, "deletes": 0, "files": 0, "faults": 0,
                          "max_running": 0}
            self.config = {"pending_ms": self.args.pending_ms,
                           "throttled_ms": self.args.throttled_ms,
                           "running_ms": self.args.running_ms,
                           "output_ttl": self.args.output_ttl}

    def video(self, ratio, duration):
        """A real H.264 MP4 of that size and length (made once)."""
        with self.video_lock:
            key = (ratio, duration)
            if key not in self.videos:
                w, h = ratio.split(":")
                path = os.path.join(self.workdir, f"{w}x{h}-{duration}.mp4")
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                                f"testsrc=size={w}x{h}:rate=24", "-t", str(duration),
                                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "45",
                                "-pix_fmt", "yuv420p", "-movflags", "+faststart", path],
                               check=True)
                with open(path, "rb") as f:
                    self.videos[key] = f.read()
            return self.videos[key]

    def faults(self, prompt):
        f = {}
        for m in DIRECTIVE.finditer(prompt or ""):
            for kv in m.group(1).split():
                k, _, v = kv.partition("=")
                f[k] = v
        return f

    def take(self, prompt, what, times):
        """Whether this create/get of prompt still gets its fault (first `times`)."""
        with self.lock:
            n = self.counters.get((prompt, what), 0)
            if times >= 0 and n >= times:
                return False
            self.counters[(prompt, what)] = n + 1
            self.stats["faults"] += 1
            return True

    def view(self, t, now):
        """The task as Runway shows it now (its clock decides the state)."""
        out = {"id": t["id"], "createdAt": iso(t["created"])}
        el = (now - t["created"]) * 1000
        c = t["clock"]
        if t["cancelled"]:
            out["status"] = "CANCELLED"
        elif el < c["pending_ms"]:
            out["status"] = "PENDING"
        elif el < c["pending_ms"] + c["throttled_ms"]:
            out["status"] = "THROTTLED"
        elif el < c["pending_ms"] + c["throttled_ms"] + c["running_ms"]:
            out["status"] = "RUNNING"
            run = el - c["pending_ms"] - c["throttled_ms"]
            out["progress"] = round(run / max(c["running_ms"], 1), 2)
        elif t["fail"]:
            out["status"] = "FAILED"
            out["failure"] = t["fail"][1]
            out["failureCode"] = t["fail"][0]
        else:
            out["status"] = "SUCCEEDED"
            exp = int(t["created"] + c["output_ttl"]) if not t["expired"] else int(now) - 1
            out["output"] = [f"{self.args.public_url}/files/{t['id']}.mp4?exp={exp}"]
        return out

    def running_now(self, now):
        return sum(1 for t in self.tasks.values()
                   if self.view(t, now)["status"] in ("PENDING", "THROTTLED", "RUNNING"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if SIM.args.verbose:
            sys.stderr.write("runway-sim: " + (fmt % args) + "\n")

    def send(self, status, obj=None, headers=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        path, _, query = self.path.partition("?")
        q = dict(kv.partition("=")[::2] for kv in query.split("&") if kv)
        if path.startswith("/_sim/"):
            return self.control(method, path, q)
        if path.startswith("/files/"):
            return self.file(path[len("/files/"):], q)
        if not path.startswith("/v1/"):
            return self.send(404, {"error": "Not found"})
        if self.headers.get("Authorization") != f"Bearer {SIM.args.key}":
            return self.send(401, {"error": "Invalid API key"})
        if self.headers.get("X-Runway-Version") != VERSION:
            return self.send(400, {"error": "Invalid or missing X-Runway-Version header"})
        if method == "POST" and path == "/v1/image_to_video":
            return self.create()
        m = re.fullmatch(r"/v1/tasks/([0-9a-f-]{36})", path)
        if m and method in ("GET", "DELETE"):
            return self.task(method, m.group(1))
        self.send(404, {"error": "Not found"})

    def create(self):
        b = self.body()
        if not isinstance(b, dict):
            return self.send(400, {"error": "Invalid JSON"})
        prompt = b.get("promptText") or ""
        f = SIM.faults(prompt)
        times = int(f.get("times", "1"))
        if "create_status" in f and SIM.take(prompt, "create", times):
            st = int(f["create_status"])
            h = {"Retry-After": f.get("retry_after", "1")} if st == 429 else None
            return self.send(st, {"error": "Too many requests" if st == 429 else "Server error"},
                             headers=h)
        errors = []
        if b.get("model") != "gen4_turbo":
            errors.append("model must be gen4_turbo")
        img = b.get("promptImage")
        if not isinstance(img, str) or not self.image_ok(img):
            errors.append("promptImage must be an HTTPS URL or a data URI of an image")
        if b.get("ratio") not in RATIOS:
            errors.append("ratio is invalid")
        if b.get("duration") not in (5, 10):
            errors.append("duration must be 5 or 10")
        if not isinstance(prompt, str) or len(prompt) > 1000:
            errors.append("promptText must be at most 1000 characters")
        if errors:
            return self.send(400, {"error": "; ".join(errors)})
        now = time.time()
        clock = dict(SIM.config)
        for k in ("throttled_ms", "running_ms"):
            if k in f:
                clock[k] = int(f[k])
        fail = None
        if "[[safety]]" in prompt:
            fail = ("SAFETY.INPUT.TEXT", "The prompt did not pass our content moderation")
        elif "[[fail]]" in prompt:
            fail = ("INTERNAL.BAD_OUTPUT.CODE01", "An unexpected error occurred")
        t = {"id": str(uuid.uuid4()), "created": now, "clock": clock, "fail": fail,
             "prompt": prompt, "ratio": b["ratio"], "duration": b["duration"],
             "cancelled": False, "deleted": False, "expired": f.get("expired") == "1",
             "bad_output": f.get("bad_output") == "1", "image_bytes": len(img),
             "faults": f}
        with SIM.lock:
            SIM.tasks[t["id"]] = t
            SIM.stats["creates"] += 1
            SIM.stats["max_running"] = max(SIM.stats["max_running"], SIM.running_now(now))
        if f.get("hang_create") == "1" and SIM.take(prompt, "hang", times):
            time.sleep(SIM.args.hang_s)
            return  # the task exists; the caller never hears of it
        self.send(200, {"id": t["id"]})

    @staticmethod
    def image_ok(s):
        if s.startswith("https://") or s.startswith("http://"):
            return True
        m = re.fullmatch(r"data:image/(jpeg|png|webp);base64,([A-Za-z0-9+/=]+)", s)
        if not m:
            return False
        try:
            raw = base64.b64decode(m.group(2), validate=True)
        except (binascii.Error, ValueError):
            return False
        return raw[:3] == b"\xff\xd8\xff" or raw[:8] == b"\x89PNG\r\n\x1a\n" or raw[:4] == b"RIFF"

    def task(self, method, tid):
        with SIM.lock:
            t = SIM.tasks.get(tid)
            if method == "GET":
                SIM.stats["gets"] += 1
            else:
                SIM.stats["deletes"] += 1
        if not t or t["deleted"]:
            return self.send(404, {"error": "Task not found"})
        f = t["faults"]
        if method == "GET" and "get_status" in f and SIM.take(tid, "get",
                                                              int(f.get("times", "1"))):
            return self.send(int(f["get_status"]), {"error": "Server error"})
        now = time.time()
        if method == "DELETE":
            with SIM.lock:
                if SIM.view(t, now)["status"] in ("PENDING", "THROTTLED", "RUNNING"):
                    t["cancelled"] = True
                else:
                    t["deleted"] = True
            return self.send(204)
        self.send(200, SIM.view(t, now))

    def file(self, name, q):
        with SIM.lock:
            SIM.stats["files"] += 1
            t = SIM.tasks.get(name.removesuffix(".mp4"))
        try:
            exp = int(q.get("exp", "0"))
        except ValueError:
            exp = 0
        if not t or exp < time.time():
            return self.send(403, raw=b"<Error><Code>AccessDenied</Code>"
                             b"<Message>Request has expired</Message></Error>",
                             ctype="application/xml")
        if t["bad_output"]:
            return self.send(200, raw=b"not a video at all", ctype="video/mp4")
        self.send(200, raw=SIM.video(t["ratio"], t["duration"]), ctype="video/mp4")

    def control(self, method, path, q):
        if path == "/_sim/reset" and method == "POST":
            SIM.reset()
            return self.send(200, {"ok": True})
        if path == "/_sim/config":
            if method == "POST":
                b = self.body() or {}
                with SIM.lock:
                    SIM.config.update({k: int(v) for k, v in b.items() if k in SIM.config})
            return self.send(200, SIM.config)
        if path == "/_sim/stats":
            with SIM.lock:
                return self.send(200, dict(SIM.stats, tasks=len(SIM.tasks)))
        if path == "/_sim/tasks":
            sub = q.get("prompt", "")
            from urllib.parse import unquote
            sub = unquote(sub)
            now = time.time()
            with SIM.lock:
                items = [dict(SIM.view(t, now), promptText=t["prompt"], ratio=t["ratio"],
                              duration=t["duration"], cancelled=t["cancelled"],
                              deleted=t["deleted"], imageBytes=t["image_bytes"])
                         for t in SIM.tasks.values() if sub in t["prompt"]]
            return self.send(200, {"items": items})
        self.send(404, {"error": "no such control"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--public-url")
    ap.add_argument("--pending-ms", type=int, default=100)
    ap.add_argument("--throttled-ms", type=int, default=200)
    ap.add_argument("--running-ms", type=int, default=600)
    ap.add_argument("--output-ttl", type=int, default=3600)
    ap.add_argument("--hang-s", type=float, default=30)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    args.public_url = args.public_url or f"http://127.0.0.1:{port}"
    global SIM
    SIM = Sim(args)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"runway-sim listening on {port}", flush=True)
    srv.serve_forever()
    return 0


SIM = None

if __name__ == "__main__":
    sys.exit(main())
