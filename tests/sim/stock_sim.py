#!/usr/bin/python3
"""Pexels API simulator for Reelvox tests (stock photos of explainer videos).

Serves on loopback what Reelvox uses of Pexels:
  GET /v1/search?query=Q&per_page=N&orientation=landscape|portrait|square
      with `Authorization: KEY` (else 401) → {page, per_page, total_results,
      photos: [{id, width, height, url, photographer, photographer_url, alt,
      src: {original, large2x, large, medium, small, tiny}}], next_page?}
      and the headers X-Ratelimit-Limit, X-Ratelimit-Remaining, X-Ratelimit-Reset.
  GET /photos/N-ORIENTATION.jpeg  → a real JPEG (made with ffmpeg at start:
      landscape 640×360, portrait 360×640, square 400×400, one colour per N).

Which queries find photos: those containing the word "stock" (case-insensitive);
any other query finds none (total_results 0), so videos made by the rest of the
suite keep their title cards. Markers in the query choose a fault:
  ratelimit     429 with X-Ratelimit-Remaining: 0 and X-Ratelimit-Reset: now + 30
  lastcall      an answer with photos and X-Ratelimit-Remaining: 0
  badphoto      photos whose src.large is not an image
  offsite       photos whose src.large is http://10.0.0.1/... (must be refused)
Control: GET /_sim/requests (the searches seen, newest last: {query, per_page,
orientation, auth}), POST /_sim/reset.
Prints "stock-sim listening on PORT" once it accepts connections.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
SEEN = []
SIZES = {"landscape": (640, 360), "portrait": (360, 640), "square": (400, 400)}
COLOURS = ["0x2563eb", "0x16a34a", "0xdc2626", "0xca8a04", "0x9333ea"]
PHOTOS = {}  # "N-orientation" -> JPEG bytes


def make_photos(per_page=5):
    with tempfile.TemporaryDirectory() as d:
        for o, (w, h) in SIZES.items():
            for i in range(per_page):
                path = os.path.join(d, f"{i}-{o}.jpeg")
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                                f"color=c={COLOURS[i % len(COLOURS)]}:s={w}x{h}:d=1",
                                "-frames:v", "1", path], check=True)
                with open(path, "rb") as f:
                    PHOTOS[f"{i}-{o}"] = f.read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        if self.server.verbose:
            super().log_message(*a)

    def send(self, status, body, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        self.send(status, json.dumps(obj).encode(), "application/json", headers)

    def do_POST(self):
        if self.path == "/_sim/reset":
            with LOCK:
                SEEN.clear()
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": "not found"})

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/_sim/requests":
            with LOCK:
                return self.send_json(200, {"requests": list(SEEN)})
        if u.path.startswith("/photos/"):
            name = u.path[len("/photos/"):].removesuffix(".jpeg")
            if name.startswith("bad-"):
                return self.send(200, b"<html>not a photo</html>", "image/jpeg")
            if name not in PHOTOS:
                return self.send_json(404, {"error": "not found"})
            return self.send(200, PHOTOS[name], "image/jpeg")
        if u.path != "/v1/search":
            return self.send_json(404, {"error": "not found"})
        q = parse_qs(u.query)
        query = (q.get("query") or [""])[0]
        orientation = (q.get("orientation") or ["landscape"])[0]
        per_page = int((q.get("per_page") or ["15"])[0])
        auth = self.headers.get("Authorization", "")
        with LOCK:
            SEEN.append({"query": query, "per_page": per_page, "orientation": orientation,
                         "auth": auth == self.server.key})
        if auth != self.server.key:
            return self.send_json(401, {"error": "Unauthorized"})
        low = query.lower()
        reset = str(int(time.time()) + 30)
        if "ratelimit" in low:
            return self.send_json(429, {"error": "Too Many Requests"},
                                  [("X-Ratelimit-Limit", "200"), ("X-Ratelimit-Remaining", "0"),
                                   ("X-Ratelimit-Reset", reset)])
        if orientation not in SIZES:
            orientation = "landscape"
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        photos = []
        if "stock" in low:
            w, h = SIZES[orientation]
            for i in range(min(per_page, 5)):
                name = f"{i}-{orientation}"
                img = f"{base}/photos/{name}.jpeg"
                if "badphoto" in low:
                    img = f"{base}/photos/bad-{name}.jpeg"
                elif "offsite" in low:
                    img = f"http://10.0.0.1/photos/{name}.jpeg"
                photos.append({
                    "id": 1000 + i, "width": w, "height": h,
                    "url": f"https://www.pexels.com/photo/sim-{1000 + i}/",
                    "photographer": f"Sim Photographer {i + 1}",
                    "photographer_url": f"https://www.pexels.com/@sim{i + 1}",
                    "avg_color": "#336699", "alt": query[:100],
                    "src": {k: img for k in ("original", "large2x", "large", "medium", "small",
                                             "portrait", "landscape", "tiny")},
                })
        remaining = "0" if "lastcall" in low else "199"
        self.send_json(200, {"page": 1, "per_page": per_page, "total_results": len(photos),
                             "photos": photos},
                       [("X-Ratelimit-Limit", "200"), ("X-Ratelimit-Remaining", remaining),
                        ("X-Ratelimit-Reset", reset)])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="Pexels API simulator")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True, help="the API key clients must send as Authorization")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    make_photos()
    srv = Server((args.host, args.port), Handler)
    srv.key = args.key
    srv.verbose = args.verbose
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"stock-sim listening on {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
