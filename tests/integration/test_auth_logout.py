"""POST /api/auth/logout (public; the credential is the refresh token).

204, the session's refresh family revoked and both cookies cleared — with the
refresh token (cookie or body) even when the access token has expired or is
absent, or with a valid access token alone; 401 (cookies cleared too) when
neither names a session; 405; 413; 415; 503 (test_zz_db_restart)."""
import os
import secrets
import time

import pytest

from conftest import (access_claims, assert_json, assert_problem, b64url, forge_token, login,
                      set_cookies)

LOGOUT = "/api/auth/logout"
REFRESH = "/api/auth/refresh"
# How long a worker trusts its last look at a session (the stack's setting).
RECHECK = int(os.environ.get("RV_SESSION_RECHECK_SECONDS", "10"))


def wait_until_rejected(api, access, path="/api/me"):
    """Polls path with the access token until it answers 401 (session ended);
    fails after the bound. Returns the seconds it took."""
    start = time.monotonic()
    deadline = start + min(RECHECK, 30) + 5
    while True:
        r = api.get(path, token=access)
        if r.status_code == 401:
            assert_problem(r, 401, "unauthorized")
            return time.monotonic() - start
        assert r.status_code == 200, r.text
        assert time.monotonic() < deadline, "the access token outlived its session"
        time.sleep(0.1)


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
        api.post(LOGOUT),
        api.post(LOGOUT, token="garbage"),
        api.post(LOGOUT, token=unsigned),
        api.post(LOGOUT, token=expired),
        api.post(LOGOUT, {"refreshToken": "not-a-refresh-token"}),
        api.post(LOGOUT, {"refreshToken": b64url(secrets.token_bytes(32))}),  # never issued
    ]
    for r in cases:
        assert_problem(r, 401, "unauthorized")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert_cleared(r)  # the browser forgets them whatever happened
    _session_alive(api, u)  # none of it ended the session


@pytest.mark.parametrize("how", ["cookie", "body"])
def test_logout_with_refresh_token_and_expired_access_token(api, db, register, how):
    u = register()
    now = int(time.time())
    expired = forge_token(access_claims(u.id, u.session_id, iat=now - 2000, exp=now - 1000))
    if how == "cookie":
        r = api.request("POST", LOGOUT, cookies={"rv_access": expired, "rv_refresh": u.refresh})
    else:
        r = api.post(LOGOUT, {"refreshToken": u.refresh}, token=expired)
    assert r.status_code == 204, r.text
    assert_cleared(r)
    assert all(rev for fam, rev in db.tokens(u.id) if fam == u.session_id)
    assert_problem(api.post(REFRESH, {"refreshToken": u.refresh}), 401, "unauthorized")


def test_logout_with_refresh_token_alone(api, db, register):
    u = register()
    _, other_refresh, _ = login(api, u.email, u.password)
    r = api.request("POST", LOGOUT, cookies={"rv_refresh": u.refresh})
    assert r.status_code == 204, r.text
    assert_cleared(r)
    assert all(rev for fam, rev in db.tokens(u.id) if fam == u.session_id)
    assert_json(api.post(REFRESH, {"refreshToken": other_refresh}), 200)  # other session lives


def test_logout_with_an_old_refresh_token_ends_the_family(api, db, register):
    """A tab that kept a spent (rotated) token still logs the session out."""
    u = register()
    b = assert_json(api.post(REFRESH, {"refreshToken": u.refresh}), 200)
    r = api.post(LOGOUT, {"refreshToken": u.refresh})
    assert r.status_code == 204, r.text
    assert_problem(api.post(REFRESH, {"refreshToken": b["refreshToken"]}), 401, "unauthorized")
    # Logging out twice is no error.
    assert api.post(LOGOUT, {"refreshToken": u.refresh}).status_code == 204


def test_logout_ends_the_access_token_within_the_bound(api, register):
    """The old access token stops working within RV_SESSION_RECHECK_SECONDS (<= 30),
    not after its 15 minutes."""
    u = register()
    assert_json(api.get("/api/me", token=u.access), 200)  # known and cached as valid
    r = api.post(LOGOUT, token=u.access)
    assert r.status_code == 204, r.text
    waited = wait_until_rejected(api, u.access)
    assert waited <= RECHECK + 3, waited


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
