"""GET /healthz (public) and GET /api/version (public, no database)."""
import pytest

from conftest import assert_json, assert_problem


def test_healthz_ok(api):
    r = api.get("/healthz")
    assert assert_json(r, 200) == {"status": "ok", "db": "ok"}
    assert r.headers.get("Cache-Control") == "no-store"


def test_healthz_head(api):
    r = api.request("HEAD", "/healthz")
    assert r.status_code == 200
    assert r.content == b""


def test_healthz_ignores_tokens(api):
    # Public: a garbage or expired token is not a reason to fail.
    r = api.get("/healthz", token="garbage.token.here")
    assert assert_json(r, 200)["status"] == "ok"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_healthz_wrong_method(api, method):
    r = api.request(method, "/healthz")
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET"


def test_healthz_body_not_accepted(api):
    r = api.request("GET", "/healthz", data=b'{"a":1}', ctype="application/json")
    assert_problem(r, 413, "payload_too_large")


def test_version(api):
    b = assert_json(api.get("/api/version"), 200)
    assert b["name"] == "reelvox" and isinstance(b["version"], str) and b["version"]


def test_version_wrong_method(api):
    r = api.post("/api/version", {})
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET"
