"""nginx at the edges (issue 8): every answer problem+json (a Range no byte of the
file satisfies included), security headers, bench-only locations, clients behind
a trusted proxy, refresh in a limit zone of its own."""
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from conftest import DATA_DIR, Api, assert_problem, do_register
from jobkit import ROOT, stack_env, submit_tts, wait_for_job, wait_until

REPO = Path(ROOT)


@pytest.fixture(scope="module")
def media_link():
    api = Api()
    u = do_register(api)
    job = wait_for_job(api, u, submit_tts(api, u, "A file to ask ranges of.")["id"], "succeeded")
    s = urllib.parse.urlsplit(job["result"]["url"])
    path = s.path + "?" + s.query
    size = len(api.get(path).content)
    api.close()
    return path, size


def one(r, name):
    values = r.raw.headers.getlist(name)
    assert len(values) == 1, (name, values)
    return values[0]


@pytest.mark.parametrize("rng", ["bytes=5-1", "bytes=999999999-", "bytes=abc"])
def test_unsatisfiable_range_is_problem_json(api, media_link, rng):
    """Regression: nginx answered its HTML 416 page."""
    path, size = media_link
    r = api.get(path, headers={"Range": rng})
    body = assert_problem(r, 416, "range_not_satisfiable")
    assert body["detail"]
    assert r.headers.get("Content-Range") == f"bytes */{size}"
    assert one(r, "Cache-Control") == "private, max-age=3600"


@pytest.mark.parametrize("cond", [{"If-Match": '"nope"'},
                                  {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:01 GMT"}])
def test_failed_precondition_is_problem_json(api, media_link, cond):
    """Regression: nginx answered its HTML 412 page."""
    r = api.get(media_link[0], headers=cond)
    assert_problem(r, 412, "precondition_failed")
    assert b"RIFF" not in r.content


@pytest.mark.parametrize("rng", [None, "bytes=0-9", "bytes=-4"])
def test_media_answer_headers(api, media_link, rng):
    """One Cache-Control (it came twice: the handler's and /_media/'s), and no
    Referer leaves with a signed link."""
    path, _ = media_link
    r = api.get(path, headers={"Range": rng} if rng else {})
    assert r.status_code == (206 if rng else 200), r.status_code
    assert one(r, "Cache-Control") == "private, max-age=3600"
    assert one(r, "Referrer-Policy") == "no-referrer"
    assert one(r, "X-Content-Type-Options") == "nosniff"
    bad = api.get(path.replace("sig=", "sig=x"))
    assert_problem(bad, 403, "forbidden")
    assert one(bad, "Referrer-Policy") == "no-referrer"


@pytest.fixture
def frontend_file():
    """A file of the frontend (the stack serves REPO/web/dist); made for the test
    when there is no built frontend in this tree, and removed after."""
    web = REPO / "web" / "dist"
    made_dir = not web.exists()
    name = f"_edges_{uuid.uuid4().hex[:8]}.html"
    web.mkdir(parents=True, exist_ok=True)
    (web / name).write_text("<!doctype html><title>t</title>")
    try:
        yield "/" + name
    finally:
        (web / name).unlink()
        if made_dir:
            shutil.rmtree(web, ignore_errors=True)


def test_frontend_headers(api, frontend_file):
    r = api.get(frontend_file)
    assert r.status_code == 200, r.text[:200]
    csp = one(r, "Content-Security-Policy")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["frame-ancestors"] == ["'none'"], csp
    assert directives["default-src"] == ["'none'"], csp
    assert directives["script-src"] == ["'self'"], csp
    assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"]
    assert not any("unsafe" in v for vs in directives.values() for v in vs), csp
    assert one(r, "X-Frame-Options") == "DENY"
    assert one(r, "X-Content-Type-Options") == "nosniff"
    # The stack's public URL is http: no HSTS (it would be a lie, and sticky).
    assert "Strict-Transport-Security" not in r.headers


@pytest.mark.parametrize("path", ["/nginx-ping", "/nginx-sink"])
def test_bench_locations_absent(api, path):
    """The ceilings of `make bench` exist only in the bench's configuration."""
    assert_problem(api.get(path), 404, "not_found")
    assert_problem(api.request("POST", path, data=b"x" * 10), 404, "not_found")


# ------------------------------------------------------------ the installed config


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """scripts/install into a scratch root whose env file says the service is
    public over https behind a proxy."""
    dest = tmp_path_factory.mktemp("edges-dest")
    (dest / "etc/reelvox").mkdir(parents=True)
    (dest / "etc/reelvox/reelvox.env").write_text(
        'RV_JWT_SECRET="%s"\nRV_PUBLIC_URL="https://studio.example"\n'
        'RV_TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.7"\nRV_PORT=8089\n' % ("x" * 64))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RV_")}
    r = subprocess.run([str(REPO / "scripts/install"), "--destdir", str(dest)], env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def code(conf):
    return re.sub(r"#.*", "", conf)


def test_installed_config(installed):
    conf = code((installed / "etc/reelvox/nginx.conf").read_text())
    endpoints = code((installed / "etc/reelvox/endpoints.conf").read_text())
    assert "nginx-ping" not in conf + endpoints and "nginx-sink" not in conf + endpoints
    assert 'map $host $rv_hsts { default "max-age=31536000; includeSubDomains"; }' in conf
    assert "set_real_ip_from 10.0.0.0/8;" in conf and "set_real_ip_from 192.0.2.7;" in conf
    assert "real_ip_header X-Forwarded-For;" in conf and "real_ip_recursive on;" in conf
    assert "zone=refresh" in conf
    assert re.search(r"location = /api/auth/refresh \{\s*limit_req zone=refresh ", endpoints)
    assert (installed / "usr/local/lib/reelvox/nginx/headers.conf").is_file()


def test_installed_config_refuses_a_bad_proxy_list(tmp_path):
    (tmp_path / "etc/reelvox").mkdir(parents=True)
    (tmp_path / "etc/reelvox/reelvox.env").write_text(
        'RV_JWT_SECRET="%s"\nRV_TRUSTED_PROXIES="10.0.0.1; include /etc/passwd"\n' % ("x" * 64))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RV_")}
    r = subprocess.run([str(REPO / "scripts/install"), "--destdir", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode != 0 and "RV_TRUSTED_PROXIES" in r.stderr, r.stderr


# ------------------------------------------------- behind a proxy, per-client limits


def restack(**extra):
    """scripts/up again with extra settings: it re-renders nginx's configuration and
    reloads it (what runs is left alone)."""
    env = stack_env(RV_NO_SETUP=1, RV_NO_BUILD=1, **extra)
    for k in ("RV_TRUSTED_PROXIES", "RV_REFRESH_RATE", "RV_REFRESH_BURST", "RV_PUBLIC_URL"):
        if k not in extra:
            env.pop(k, None)
    env["RV_PUBLIC_URL"] = extra.get("RV_PUBLIC_URL", f"http://127.0.0.1:{env['RV_PORT']}")
    r = subprocess.run([str(REPO / "scripts/up")], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def client():
    """An address no earlier run used (the zone outlives a reload)."""
    h = uuid.uuid4().hex
    return f"2001:db8::{h[:4]}:{h[4:8]}:{h[8:12]}"


def refresh(api, addr):
    return api.post("/api/auth/refresh", {"refreshToken": "not-a-token"},
                    headers={"X-Forwarded-For": addr})


@pytest.fixture
def behind_proxy():
    """The stack as if behind a proxy on loopback, with a refresh budget of two
    requests per client (a burst of one, then one a minute); the test stack's
    settings again after."""
    restack(RV_TRUSTED_PROXIES="127.0.0.1", RV_REFRESH_RATE="1r/m", RV_REFRESH_BURST="1")
    api = Api()
    # The reload is done once the old workers are gone: a second request from one
    # client is refused only by the new configuration.
    probe = client()
    wait_until(lambda: refresh(api, probe).status_code == 429, 20, interval=0.1,
               what="nginx to load the proxy configuration")
    yield api
    api.close()
    restack()
    a = Api()
    wait_until(lambda: all(refresh(a, "2001:db8::9").status_code == 401 for _ in range(3)), 20,
               interval=0.1, what="nginx to load the test configuration again")
    a.close()


def test_limits_key_on_the_client_behind_a_proxy(behind_proxy):
    api = behind_proxy
    a, b = client(), client()
    assert_problem(refresh(api, a), 401)
    assert_problem(refresh(api, a), 401)
    assert_problem(refresh(api, a), 429, "rate_limited")
    # Another client behind the same proxy has its own budget.
    assert_problem(refresh(api, b), 401)
    assert_problem(refresh(api, b), 401)
    # The proxy chain is walked back past trusted addresses only: a client that
    # names someone else in front of an untrusted hop does not get their budget.
    assert_problem(refresh(api, f"{a}, 127.0.0.1"), 429, "rate_limited")
    # Refresh has a zone of its own: sign-in is not throttled by it.
    r = api.post("/api/auth/login", {"email": "nobody@it.reelvox.test", "password": "x" * 12},
                 headers={"X-Forwarded-For": a})
    assert_problem(r, 401, "invalid_credentials")


def test_hsts_when_public_url_is_https(api):
    restack(RV_PUBLIC_URL="https://studio.example")
    try:
        wait_until(lambda: "Strict-Transport-Security" in api.get("/healthz").headers, 20,
                   interval=0.1, what="nginx to load the https configuration")
        for path in ("/healthz", "/api/nothing-here"):
            r = api.get(path)
            assert one(r, "Strict-Transport-Security").startswith("max-age=31536000")
    finally:
        restack()
        wait_until(lambda: "Strict-Transport-Security" not in api.get("/healthz").headers, 20,
                   interval=0.1, what="nginx to load the test configuration again")
