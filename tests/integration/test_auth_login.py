"""POST /api/auth/login (public).

200 {user, accessToken, refreshToken, expiresIn} + cookies; 401 invalid_credentials,
the same answer for an unknown email and a wrong password; 400; 405; 413; 415;
429 per account after too many failures (here) and per address (test_nginx);
503 (test_zz_db_restart)."""
import json

import pytest

from conftest import (assert_json, assert_problem, assert_session_cookies, assert_user,
                      jwt_claims, set_cookies, unique_email)

LOGIN = "/api/auth/login"


def test_login_ok(api, db, register):
    u = register(name="Login Test")
    r = api.post(LOGIN, {"email": u.email, "password": u.password})
    b = assert_json(r, 200)
    assert set(b) == {"user", "accessToken", "refreshToken", "expiresIn"}, b
    assert_user(b["user"], u.email)
    assert b["user"] == u.user
    assert isinstance(b["expiresIn"], int) and 0 < b["expiresIn"] <= 900
    c = assert_session_cookies(r, b["accessToken"], b["refreshToken"])
    assert int(c["rv_access"]["max-age"]) == b["expiresIn"]
    assert int(c["rv_refresh"]["max-age"]) > b["expiresIn"]
    assert r.headers.get("Cache-Control") == "no-store"
    assert len(b["refreshToken"]) >= 32 and b["refreshToken"] != u.refresh

    # A login is a new session, next to the one registration opened.
    sid = jwt_claims(b["accessToken"])["sid"]
    assert sid != u.session_id
    assert sorted(db.tokens(u.id)) == sorted([(u.session_id, False), (sid, False)])
    for token in (u.access, b["accessToken"]):
        assert assert_json(api.get("/api/me", token=token), 200)["id"] == u.id


def test_login_email_case_insensitive(api, register):
    u = register(email="Case." + unique_email())
    for variant in (u.email.lower(), u.email.upper()):
        b = assert_json(api.post(LOGIN, {"email": variant, "password": u.password}), 200)
        assert b["user"]["id"] == u.id
        assert b["user"]["email"] == u.email


def _failure(r):
    p = assert_problem(r, 401, "invalid_credentials")
    assert not set_cookies(r), "a failed login must not set cookies"
    return (r.status_code, r.headers.get("Content-Type"), r.headers.get("WWW-Authenticate"),
            p["type"], p["title"], p["code"], p.get("detail"), sorted(p))


def test_login_same_answer_unknown_email_and_wrong_password(api, db, register):
    u = register()
    before = db.tokens(u.id)
    unknown = _failure(api.post(LOGIN, {"email": unique_email(), "password": u.password}))
    wrong = _failure(api.post(LOGIN, {"email": u.email, "password": u.password + "x"}))
    case = _failure(api.post(LOGIN, {"email": u.email, "password": u.password.upper()}))
    assert unknown == wrong == case
    assert db.tokens(u.id) == before


def test_login_does_not_reveal_registration_rules(api, register):
    # Inputs a registration would refuse (short password, odd email) are simply
    # wrong credentials at login.
    u = register()
    _failure(api.post(LOGIN, {"email": u.email, "password": "short"}))
    _failure(api.post(LOGIN, {"email": "not-an-email", "password": "whatever it is"}))


def test_login_ignores_bad_bearer(api, register):
    u = register()
    r = api.post(LOGIN, {"email": u.email, "password": u.password}, token="garbage")
    assert_json(r, 200)


LONG = "x" * 10001


@pytest.mark.parametrize("body,fields", [
    ({}, {"email", "password"}),
    ({"email": "a@b.io"}, {"password"}),
    ({"password": "whatever it is"}, {"email"}),
    ({"email": "", "password": ""}, {"email", "password"}),
    ({"email": 1, "password": True}, {"email", "password"}),
    ({"email": None, "password": "whatever it is"}, {"email"}),
    ({"email": LONG, "password": "whatever it is"}, {"email"}),
    ({"email": "a@b.io", "password": LONG}, {"password"}),
    ({"email": "a@b.io", "password": "p" * 129}, {"password"}),
    ({"email": "a@b.io", "password": "pw\u0000pw"}, {"password"}),
    ({"email": "a@b.io", "password": "whatever it is", "remember": True}, {"remember"}),
    ({"email": ["a@b.io"], "password": {"x": 1}, "otp": "1"}, {"email", "password", "otp"}),
])
def test_login_validation(api, body, fields):
    assert_problem(api.post(LOGIN, body), 400, "validation_failed", fields)


@pytest.mark.parametrize("raw", [
    b'{"email":"a@b.io","password":', b"[]", b"null", b'{"email":"a@b.io",}',
    b'{"email":"a\xc0\xafb@x.io","password":"whatever it is"}',
    b'{"email":"a@b.io","password":"\xed\xa0\x80 whatever"}',
    b'{"email":"a@b.io","password":"\xff whatever it is"}',
])
def test_login_malformed(api, raw):
    r = api.request("POST", LOGIN, data=raw, ctype="application/json")
    assert_problem(r, 400, "malformed_json")


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_login_wrong_content_type(api, register, ctype):
    u = register()
    data = f'{{"email":"{u.email}","password":"{u.password}"}}'.encode()
    headers = {} if ctype is None else {"Content-Type": ctype}
    r = api.request("POST", LOGIN, data=data, headers=headers)
    assert_problem(r, 415, "unsupported_media_type")
    assert not set_cookies(r)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_login_wrong_method(api, method):
    r = api.request(method, LOGIN)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"


def test_login_body_limit(api):
    big = b'{"email":"a@b.io","password":"' + b"p" * (16 * 1024) + b'"}'
    assert_problem(api.request("POST", LOGIN, data=big, ctype="application/json"),
                   413, "payload_too_large")
    assert_problem(api.request("POST", LOGIN, data=iter([big]), ctype="application/json"),
                   413, "payload_too_large")


def auth_limits(db):
    return json.loads(db.scalar("SELECT value FROM admin_config WHERE key = 'auth_limits'"))


def test_login_throttled_per_account(api, db, register):
    """After loginFailures failed logins of one account within windowSeconds, even the
    right password answers 429 until the window moves on (nginx limits per address;
    this is per account, from any address)."""
    limits = auth_limits(db)
    n, window = limits["loginFailures"], limits["windowSeconds"]
    assert 0 < n <= 20, limits
    u = register()
    for _ in range(n):
        _failure(api.post(LOGIN, {"email": u.email, "password": u.password + "x"}))
    for password in (u.password, u.password + "x"):
        r = api.post(LOGIN, {"email": u.email.upper(), "password": password})
        p = assert_problem(r, 429, "rate_limited")
        assert 0 < p["retryAfter"] <= window and int(r.headers["Retry-After"]) == p["retryAfter"]
        assert not set_cookies(r)
    # Other accounts are not affected.
    v = register()
    assert_json(api.post(LOGIN, {"email": v.email, "password": v.password}), 200)
    # Once the failures leave the window, the right password works again.
    db.rows("UPDATE auth_attempts SET at = at - make_interval(secs => :w) "
            "WHERE action = 'login' AND subject = rv_login_subject(:'e')", w=window, e=u.email)
    assert_json(api.post(LOGIN, {"email": u.email, "password": u.password}), 200)


def test_login_throttle_unknown_email_alike(api, db):
    """An unknown email is throttled like a known one: the 429 tells nothing."""
    n = auth_limits(db)["loginFailures"]
    email = unique_email()
    for _ in range(n):
        _failure(api.post(LOGIN, {"email": email, "password": "whatever it is"}))
    assert_problem(api.post(LOGIN, {"email": email, "password": "whatever it is"}),
                   429, "rate_limited")


def test_login_success_clears_the_failures(api, db, register):
    n = auth_limits(db)["loginFailures"]
    u = register()
    for _ in range(2):
        for _ in range(n - 1):
            _failure(api.post(LOGIN, {"email": u.email, "password": u.password + "x"}))
        assert_json(api.post(LOGIN, {"email": u.email, "password": u.password}), 200)
