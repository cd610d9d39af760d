"""POST /api/auth/logout (authenticated).

204, the session's refresh family revoked and both cookies cleared; 401 without a
valid access token; 405; 413; 415; 503 (test_zz_db_restart)."""
import time

import pytest

from conftest import (access_claims, assert_json, assert_problem, forge_token, login,
                      set_cookies)

LOGOUT = "/api/auth/logout"
REFRESH = "/api/auth/refresh"


def assert_cleared(r):
    c = set_cookies(r)
    assert set(c) == {"rv_access", "rv_refresh"}, c
    for name, path in (("rv_access", "/"), ("rv_refresh", "/api/auth")):
        a = c[name]
        assert a["value"] == "", a
        assert a.get("path") == path, a
        assert a.get("max-age") == "0" or "expires" in a, a
        assert a.get("httponly") is True and a.get("secure") is True, a
        assert str(a.get("samesite", "")).lower() == "strict", a


def test_logout(api, db, register):
    u = register()
    _, other_refresh, _ = login(api, u.email, u.password)
    r = api.post(LOGOUT, token=u.access)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_cleared(r)
    # This session's refresh token is dead, by body and by cookie ...
    assert_problem(api.post(REFRESH, {"refreshToken": u.refresh}), 401, "unauthorized")
    assert_problem(api.request("POST", REFRESH, cookies={"rv_refresh": u.refresh}),
                   401, "unauthorized")
    assert all(rev for fam, rev in db.tokens(u.id) if fam == u.session_id)
    # ... the user's other session is not.
    assert_json(api.post(REFRESH, {"refreshToken": other_refresh}), 200)


def test_logout_via_cookie(api, register):
    u = register()
    r = api.request("POST", LOGOUT, cookies={"rv_access": u.access, "rv_refresh": u.refresh})
    assert r.status_code == 204, r.text
    assert_cleared(r)
    assert_problem(api.post(REFRESH, {"refreshToken": u.refresh}), 401, "unauthorized")


def test_logout_after_rotation(api, register):
    u = register()
    b = assert_json(api.post(REFRESH, {"refreshToken": u.refresh}), 200)
    r = api.post(LOGOUT, token=b["accessToken"])
    assert r.status_code == 204, r.text
    assert_problem(api.post(REFRESH, {"refreshToken": b["refreshToken"]}), 401, "unauthorized")


def test_logout_with_a_json_body(api, register):
    u = register()
    r = api.post(LOGOUT, {}, token=u.access)
    assert r.status_code == 204, r.text


def _session_alive(api, u):
    b = assert_json(api.post(REFRESH, {"refreshToken": u.refresh}), 200)
    u.refresh = b["refreshToken"]


def test_logout_unauthenticated(api, db, register):
    u = register()
    now = int(time.time())
    expired = forge_token(access_claims(u.id, u.session_id, iat=now - 2000, exp=now - 1000))
    unsigned = forge_token(access_claims(u.id, u.session_id), alg="none")
    cases = [
        (api.post(LOGOUT), "unauthorized"),
        (api.post(LOGOUT, token="garbage"), "unauthorized"),
        (api.post(LOGOUT, token=unsigned), "unauthorized"),
        (api.post(LOGOUT, token=expired), "token_expired"),
        (api.request("POST", LOGOUT, cookies={"rv_refresh": u.refresh}), "unauthorized"),
    ]
    for r, code in cases:
        assert_problem(r, 401, code)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    _session_alive(api, u)  # none of it ended the session


def test_logout_wrong_content_type(api, register):
    u = register()
    r = api.request("POST", LOGOUT, data=b"bye", ctype="text/plain", token=u.access)
    assert_problem(r, 415, "unsupported_media_type")
    _session_alive(api, u)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_logout_wrong_method(api, method):
    r = api.request(method, LOGOUT)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"


def test_logout_body_limit(api, register):
    u = register()
    big = b'{"x":"' + b"x" * (16 * 1024) + b'"}'
    r = api.request("POST", LOGOUT, data=big, ctype="application/json", token=u.access)
    assert_problem(r, 413, "payload_too_large")
    _session_alive(api, u)
