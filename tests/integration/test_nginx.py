"""nginx in front of the handlers: unknown paths, nginx's own errors as
problem+json (never an HTML page), body limits (413), the request id, and the
per-address rate limit on /api/auth/ (429 with Retry-After)."""
import concurrent.futures
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.parse

import pytest

from conftest import BASE_URL, DATA_DIR, TIMEOUT, assert_problem

URL = urllib.parse.urlsplit(BASE_URL)
HOST, PORT = URL.hostname, URL.port or 80
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def raw_request(data, source=None):
    """Sends raw bytes, returns (status, headers {lower-name: value}, body)."""
    s = socket.create_connection((HOST, PORT), timeout=TIMEOUT,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def assert_raw_problem(status, headers, body, expect_status, code):
    assert status == expect_status, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    p = json.loads(body)
    assert p["status"] == expect_status and p["code"] == code, p
    assert p["type"].startswith("https://reelvox.dev/problems/") and p["title"], p
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert REQUEST_ID.match(headers.get("x-request-id", "")), headers
    return p


# --------------------------------------------------------------------------- 404


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/nope"),
    ("GET", "/api/"),
    ("GET", "/api"),
    ("POST", "/api/auth/nope"),
    ("GET", "/api/me/"),
    ("GET", "/api/me/extra"),
    ("PATCH", "/api/credits/1"),
    ("GET", "/healthz/"),
    ("GET", "/no-such-page.html"),
    ("GET", "/_rv/errors/404"),        # nginx's error pages are internal
    ("GET", "/_rv/errors/500"),
    ("DELETE", "/api/users/1"),
])
def test_unknown_paths(api, method, path):
    r = api.request(method, path)
    assert_problem(r, 404, "not_found")
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert REQUEST_ID.match(r.headers.get("X-Request-Id", ""))


# --------------------------------------------------------------- nginx's own errors

C = b"Connection: close\r\n"
H = b"Host: reelvox.test\r\n"

NGINX_ERRORS = [
    ("bad request line", b"GARBAGE\r\n\r\n", 400, "validation_failed"),
    ("bad method", b"G(T /healthz HTTP/1.1\r\n" + H + C + b"\r\n", 400, "validation_failed"),
    ("bad escape", b"GET /api/%zz HTTP/1.1\r\n" + H + C + b"\r\n", 400, "validation_failed"),
    ("above root", b"GET /../../etc/passwd HTTP/1.1\r\n" + H + C + b"\r\n", 400,
     "validation_failed"),
    ("no host", b"GET /healthz HTTP/1.1\r\n" + C + b"\r\n", 400, "validation_failed"),
    ("two hosts", b"GET /healthz HTTP/1.1\r\n" + H + H + C + b"\r\n", 400,
     "validation_failed"),
    ("bad content-length", b"POST /api/auth/login HTTP/1.1\r\n" + H + C +
     b"Content-Length: abc\r\n\r\n", 400, "validation_failed"),
    ("length and chunked", b"POST /api/auth/login HTTP/1.1\r\n" + H + C +
     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     "validation_failed"),
    ("bad chunk", b"POST /api/auth/login HTTP/1.1\r\n" + H + C +
     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
     "validation_failed"),
    ("huge header", b"GET /healthz HTTP/1.1\r\n" + H + C + b"Cookie: " + b"c" * 9000 +
     b"\r\n\r\n", 400, "validation_failed"),
    ("huge uri", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + C + b"\r\n", 414,
     "uri_too_long"),
    ("unknown transfer-encoding", b"POST /api/auth/login HTTP/1.1\r\n" + H + C +
     b"Transfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
    ("http/2.0 request line", b"GET /healthz HTTP/2.0\r\n" + H + C + b"\r\n", 505,
     "http_version_not_supported"),
    ("TRACE", b"TRACE /healthz HTTP/1.1\r\n" + H + C + b"\r\n", 405, "method_not_allowed"),
]


@pytest.mark.parametrize("data,status,code", [e[1:] for e in NGINX_ERRORS],
                         ids=[e[0] for e in NGINX_ERRORS])
def test_nginx_errors_are_problem_json(data, status, code):
    st, headers, body = raw_request(data)
    assert b"<html" not in body.lower()
    assert_raw_problem(st, headers, body, status, code)
    if status == 405:
        assert headers.get("allow"), headers


# --------------------------------------------------------------------------- 413


@pytest.mark.parametrize("method,path", [
    ("GET", "/healthz"), ("POST", "/healthz"), ("GET", "/api/version"),
    ("GET", "/api/credits"), ("POST", "/api/credits"),
])
def test_body_over_1mib(api, method, path):
    body = b"{" + b" " * (1024 * 1024) + b"}"
    r = api.request(method, path, data=body, ctype="application/json")
    assert_problem(r, 413, "payload_too_large")
    # Without a Content-Length too: nginx counts the chunks.
    r = api.request(method, path, data=iter([body[:600000], body[600000:]]),
                    ctype="application/json")
    assert_problem(r, 413, "payload_too_large")


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/auth/register"), ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout"), ("PATCH", "/api/me"),
])
def test_body_over_16kib_to_auth_and_me(api, method, path):
    body = b'{"email":"' + b"e" * (16 * 1024) + b'"}'
    r = api.request(method, path, data=body, ctype="application/json")
    assert_problem(r, 413, "payload_too_large")
    assert REQUEST_ID.match(r.headers.get("X-Request-Id", ""))
    r = api.request(method, path, data=iter([body]), ctype="application/json")
    assert_problem(r, 413, "payload_too_large")


# --------------------------------------------------------------------- request id


def _log_has(path, needle, wait=5.0):
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(max(0, os.path.getsize(path) - 256 * 1024))
                if needle.encode() in f.read():
                    return True
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def test_request_id(api):
    ids = []
    for path in ("/healthz", "/api/version", "/api/me", "/api/nope", "/healthz"):
        r = api.get(path, headers={"X-Request-Id": "chosen-by-the-client"})
        rid = r.headers.get("X-Request-Id", "")
        assert REQUEST_ID.match(rid), (path, r.headers)
        ids.append(rid)
    assert len(set(ids)) == len(ids), ids  # one per request, never the client's
    assert all(i != "chosen-by-the-client" for i in ids)

    # The handler logs the id nginx made, and so does nginx's access log.
    r = api.get("/healthz")
    rid = r.headers["X-Request-Id"]
    log = os.path.join(DATA_DIR, "log")
    assert _log_has(os.path.join(log, "healthz.log"), f'"requestId":"{rid}"'), rid
    assert _log_has(os.path.join(log, "nginx-access.log"), f'"requestId":"{rid}"'), rid


def test_security_headers(api):
    for r in (api.get("/healthz"), api.get("/api/nope"), api.get("/api/me"),
              api.post("/api/auth/login", {})):
        assert r.headers.get("X-Content-Type-Options") == "nosniff", r.url
        assert "nginx/" not in r.headers.get("Server", ""), r.headers  # server_tokens off


# --------------------------------------------------------------------- rate limit


def test_auth_rate_limit():
    """Quick requests from one address (127.0.0.2, so the rest of the suite on
    127.0.0.1 is not slowed) run into the auth zone's limit: 429 problem+json with
    Retry-After. Bad JSON keeps each request cheap for the handler; four
    connections at once outpace the zone's rate even with a slow (sanitizer) build.
    The other sign-in endpoints are probed while the flood still holds the shared
    bucket full, never after it stopped (a slow machine drains it in between)."""
    src = "127.0.0.2"

    def conn():
        return http.client.HTTPConnection(HOST, PORT, timeout=TIMEOUT,
                                          source_address=(src, 0))

    full = threading.Event()  # the flood has had a 429: the bucket is full
    done = threading.Event()  # the probes have their answers
    limited, unexpected, sent = [], [], []
    probed = {}

    def flood(_):
        cn = conn()
        try:
            for _ in range(50000):  # bounded; ends once the probes are done
                if done.is_set():
                    return
                cn.request("POST", "/api/auth/login", body=b"{bad",
                           headers={"Content-Type": "application/json"})
                r = cn.getresponse()
                body = r.read()
                sent.append(1)
                if r.status == 429:
                    limited.append((r, body))
                    full.set()
                elif r.status != 400:
                    unexpected.append((r.status, body[:200]))
                if r.will_close:
                    cn.close()
                    cn = conn()
        finally:
            cn.close()

    def probe(_):
        # The zone covers every sign-in endpoint for that address: with the bucket
        # held full, a few requests suffice where a fresh one would take 400. (The
        # bucket drains a slot every 5 ms, so one request may slip through.)
        try:
            if not full.wait(60):
                return
            c = conn()
            try:
                # Refresh has a zone of its own (test_edges_nginx.py): while the
                # sign-in bucket is full it still answers (400 for this body).
                c.request("POST", "/api/auth/refresh", body=b"{bad",
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                probed["/api/auth/refresh"] = [r.status]
                if r.will_close:
                    c.close()
                    c = conn()
                for path in ("/api/auth/register",):
                    statuses = probed[path] = []
                    while len(statuses) < 50 and 429 not in statuses:
                        c.request("POST", path, body=b"{bad",
                                  headers={"Content-Type": "application/json"})
                        r = c.getresponse()
                        r.read()
                        statuses.append(r.status)
                        if r.will_close:
                            c.close()
                            c = conn()
            finally:
                c.close()
        finally:
            done.set()

    with concurrent.futures.ThreadPoolExecutor(5) as ex:
        list(ex.map(lambda i: probe(i) if i == 4 else flood(i), range(5)))
    assert not unexpected, unexpected
    assert limited, f"no 429 after {len(sent)} requests"
    assert probed.get("/api/auth/register") and probed["/api/auth/register"][-1] == 429, probed
    assert probed.get("/api/auth/refresh") == [400], probed
    c = conn()
    try:
        r, body = limited[0]
        assert r.getheader("Content-Type", "").startswith("application/problem+json")
        p = json.loads(body)
        assert p["status"] == 429 and p["code"] == "rate_limited", p
        assert isinstance(p["retryAfter"], int) and p["retryAfter"] >= 1, p
        assert r.getheader("Retry-After", "").isdigit(), r.getheaders()
        assert int(r.getheader("Retry-After")) >= 1
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        # Endpoints outside /api/auth/ are not limited for it.
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        assert r.status == 200
    finally:
        c.close()

    # Other addresses are not limited.
    other = http.client.HTTPConnection(HOST, PORT, timeout=TIMEOUT)
    try:
        other.request("POST", "/api/auth/login", body=b"{bad",
                      headers={"Content-Type": "application/json"})
        r = other.getresponse()
        r.read()
        assert r.status == 400
    finally:
        other.close()
