"""GET|PATCH /api/me (authenticated).

GET → 200 user. PATCH {name?, currentPassword?, newPassword?} → 200 user; a new
password needs the current one (400 when missing or wrong) and ends every other
session. 400; 401 (missing, garbage, expired → token_expired, forged, or a token
whose session or account is gone); 405; 413; 415; 429 (too many PATCHes);
503 (test_zz_db_restart)."""
import json
import time
import uuid

import pytest

from conftest import (access_claims, assert_json, assert_problem, assert_user,
                      forge_token, jwt_secret, login)

ME = "/api/me"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
NEW_PASSWORD = "a brand new passphrase"


def test_me(api, db, register):
    u = register(name="Me Myself")
    b = assert_json(api.get(ME, token=u.access), 200)
    assert_user(b, u.email)
    assert b == u.user
    assert b["name"] == "Me Myself" and b["credits"] == db.credits(u.id)
    assert api.get(ME, token=u.access).headers.get("Cache-Control") == "no-store"


def test_me_via_cookie(api, register):
    u = register()
    b = assert_json(api.get(ME, cookies={"rv_access": u.access}), 200)
    assert b["id"] == u.id
    # The refresh cookie alone is no access token.
    assert_problem(api.get(ME, cookies={"rv_refresh": u.refresh}), 401, "unauthorized")


def test_me_head(api, register):
    u = register()
    r = api.request("HEAD", ME, token=u.access)
    assert r.status_code == 200 and r.content == b""


def test_me_forged_token_sanity(api, register):
    # The forging helper makes tokens the server accepts; the 401 tests below rely
    # on it, so check it once.
    u = register()
    token = forge_token(access_claims(u.id, u.session_id))
    assert assert_json(api.get(ME, token=token), 200)["id"] == u.id


def _bad_tokens(u):
    now = int(time.time())
    good = access_claims(u.id, u.session_id)
    return [
        ("garbage", "unauthorized"),
        ("a.b.c", "unauthorized"),
        (u.access + "x", "unauthorized"),
        (u.access[:-4], "unauthorized"),
        (u.refresh, "unauthorized"),
        ("x" * 5000, "unauthorized"),
        (forge_token(good, alg="none"), "unauthorized"),
        (forge_token(good, header={"alg": "none"}, alg="none"), "unauthorized"),
        (forge_token(good, alg="HS512"), "unauthorized"),
        (forge_token(good, alg="HS384"), "unauthorized"),
        (forge_token(good, key=b"k" * 64), "unauthorized"),
        (forge_token(good, key=jwt_secret() + b"x"), "unauthorized"),
        (forge_token(dict(good, iss="someone-else")), "unauthorized"),
        (forge_token(dict(good, typ="refresh")), "unauthorized"),
        (forge_token({k: v for k, v in good.items() if k != "typ"}), "unauthorized"),
        (forge_token({k: v for k, v in good.items() if k != "exp"}), "unauthorized"),
        (forge_token({k: v for k, v in good.items() if k != "sid"}), "unauthorized"),
        (forge_token({k: v for k, v in good.items() if k != "sub"}), "unauthorized"),
        (forge_token(dict(good, nbf=now + 3600)), "unauthorized"),
        (forge_token(dict(good, iat=now + 3600)), "unauthorized"),
        # Time claims must be integers (libjwt reads anything else as -1).
        (forge_token(dict(good, exp=str(now + 900))), "unauthorized"),
        (forge_token(dict(good, exp=float(now + 900))), "unauthorized"),
        (forge_token(dict(good, nbf=str(now + 3600))), "unauthorized"),
        (forge_token(dict(good, iat=[now])), "unauthorized"),
        (forge_token(access_claims(u.id, u.session_id, iat=now - 2000, exp=now - 1000)),
         "token_expired"),
        (forge_token(access_claims(u.id, u.session_id, iat=now - 901, exp=now - 1)),
         "token_expired"),
    ]


def test_me_unauthorized(api, register):
    u = register()
    assert_problem(api.get(ME), 401, "unauthorized")
    assert_problem(api.get(ME, headers={"Authorization": "Bearer "}), 401, "unauthorized")
    assert_problem(api.get(ME, headers={"Authorization": f"Basic {u.access}"}),
                   401, "unauthorized")
    assert_problem(api.get(ME, headers={"Authorization": u.access}), 401, "unauthorized")
    for token, code in _bad_tokens(u):
        for r in (api.get(ME, token=token), api.get(ME, cookies={"rv_access": token})):
            try:
                assert_problem(r, 401, code)
            except AssertionError as e:
                raise AssertionError(f"token {token[:120]}...: {e}") from None
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), token


def test_me_patch_unauthorized(api, register):
    u = register(name="Unchanged")
    now = int(time.time())
    expired = forge_token(access_claims(u.id, u.session_id, iat=now - 2000, exp=now - 1000))
    assert_problem(api.patch(ME, {"name": "Evil"}), 401, "unauthorized")
    assert_problem(api.patch(ME, {"name": "Evil"}, token="garbage"), 401, "unauthorized")
    assert_problem(api.patch(ME, {"name": "Evil"}, token=expired), 401, "token_expired")
    assert assert_json(api.get(ME, token=u.access), 200)["name"] == "Unchanged"


def test_me_account_gone(api):
    # A valid signature for an id that has no account (e.g. deleted since): its
    # session is gone with it, so the token no longer stands.
    token = forge_token(access_claims(str(uuid.uuid4()), str(uuid.uuid4())))
    assert_problem(api.get(ME, token=token), 401, "unauthorized")
    assert_problem(api.patch(ME, {"name": "x"}, token=token), 401, "unauthorized")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_me_wrong_method(api, register, method):
    u = register()
    r = api.request(method, ME, token=u.access)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, PATCH"


# --------------------------------------------------------------------------- PATCH


def test_patch_name(api, db, register):
    u = register(name="Before")
    b = assert_json(api.patch(ME, {"name": "After ✓"}, token=u.access), 200)
    assert_user(b, u.email)
    assert b["name"] == "After ✓"
    assert {k: v for k, v in b.items() if k != "name"} == \
        {k: v for k, v in u.user.items() if k != "name"}
    assert assert_json(api.get(ME, token=u.access), 200)["name"] == "After ✓"
    assert db.scalar("SELECT name FROM users WHERE id = :'u'", u=u.id) == "After ✓"
    # Empty is allowed, and so is a patch that changes nothing.
    assert assert_json(api.patch(ME, {"name": ""}, token=u.access), 200)["name"] == ""
    assert assert_json(api.patch(ME, {}, token=u.access), 200)["name"] == ""
    assert assert_json(api.patch(ME, {"name": "n" * 100}, token=u.access), 200)["name"] == \
        "n" * 100


def test_patch_via_cookie(api, register):
    u = register()
    r = api.patch(ME, {"name": "Cookie"}, cookies={"rv_access": u.access})
    assert assert_json(r, 200)["name"] == "Cookie"


def _state(db, u):
    return db.rows("SELECT u.name, u.role, u.credits, u.email, c.password_hash "
                   "FROM users u JOIN user_credentials c ON c.user_id = u.id "
                   "WHERE u.id = :'u'", u=u.id) + [tuple(db.tokens(u.id))]


LONG = "x" * 10001


@pytest.mark.parametrize("body,fields", [
    ({"name": "n" * 101}, {"name"}),
    ({"name": LONG}, {"name"}),
    ({"name": 5}, {"name"}),
    ({"name": "a\u0000b"}, {"name"}),
    ({"email": "new@example.test"}, {"email"}),
    ({"role": "admin"}, {"role"}),
    ({"credits": 1000000}, {"credits"}),
    ({"name": "ok", "id": "x"}, {"id"}),
    ({"newPassword": NEW_PASSWORD}, {"currentPassword"}),
    ({"newPassword": "short", "currentPassword": "@P"}, {"newPassword"}),
    ({"newPassword": LONG, "currentPassword": "@P"}, {"newPassword"}),
    ({"newPassword": NEW_PASSWORD, "currentPassword": LONG}, {"currentPassword"}),
    ({"newPassword": NEW_PASSWORD, "currentPassword": ""}, {"currentPassword"}),
    ({"newPassword": 12345678901, "currentPassword": "@P"}, {"newPassword"}),
    ({"name": 1, "newPassword": "short", "role": "x"}, {"name", "newPassword", "role"}),
])
def test_patch_validation_changes_nothing(api, db, register, body, fields):
    u = register(name="Original")
    body = {k: (u.password if v == "@P" else v) for k, v in body.items()}
    before = _state(db, u)
    assert_problem(api.patch(ME, body, token=u.access), 400, "validation_failed", fields)
    assert _state(db, u) == before
    login(api, u.email, u.password)


def test_patch_wrong_current_password(api, db, register):
    u = register(name="Original")
    before = _state(db, u)
    r = api.patch(ME, {"name": "Changed", "currentPassword": u.password + "!",
                       "newPassword": NEW_PASSWORD}, token=u.access)
    assert_problem(r, 400, "validation_failed", {"currentPassword"})
    # Nothing of the request happened, not even the name.
    assert _state(db, u) == before
    login(api, u.email, u.password)
    assert_problem(api.post(LOGIN, {"email": u.email, "password": NEW_PASSWORD}),
                   401, "invalid_credentials")


def test_patch_password(api, db, register):
    u = register()  # session A: makes the change
    _, refresh_b, _ = login(api, u.email, u.password)  # session B
    access_c, refresh_c, _ = login(api, u.email, u.password)  # session C
    r = api.patch(ME, {"currentPassword": u.password, "newPassword": NEW_PASSWORD,
                       "name": "Renamed"}, token=u.access)
    b = assert_json(r, 200)
    assert b["name"] == "Renamed" and b["id"] == u.id

    # The old password is gone, the new one works.
    assert_problem(api.post(LOGIN, {"email": u.email, "password": u.password}),
                   401, "invalid_credentials")
    access_d, refresh_d, _ = login(api, u.email, NEW_PASSWORD)
    # Other sessions are over; the current one (A) is kept.
    assert_problem(api.post(REFRESH, {"refreshToken": refresh_b}), 401, "unauthorized")
    assert_problem(api.post(REFRESH, {"refreshToken": refresh_c}), 401, "unauthorized")
    assert_json(api.post(REFRESH, {"refreshToken": u.refresh}), 200)
    assert_json(api.post(REFRESH, {"refreshToken": refresh_d}), 200)
    live = {fam for fam, revoked in db.tokens(u.id) if not revoked}
    assert u.session_id in live and len(live) == 2


@pytest.mark.parametrize("raw", [b'{"name":', b"[]", b'{"name":"\xed\xa0\x80"}',
                                 b'{"name":"\xff"}', b'{"name":NaN}'])
def test_patch_malformed(api, db, register, raw):
    u = register(name="Original")
    before = _state(db, u)
    r = api.request("PATCH", ME, data=raw, ctype="application/json", token=u.access)
    assert_problem(r, 400, "malformed_json")
    assert _state(db, u) == before


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_patch_wrong_content_type(api, db, register, ctype):
    u = register(name="Original")
    before = _state(db, u)
    headers = {} if ctype is None else {"Content-Type": ctype}
    r = api.request("PATCH", ME, data=b'{"name":"Changed"}', headers=headers, token=u.access)
    assert_problem(r, 415, "unsupported_media_type")
    assert _state(db, u) == before


def test_patch_body_limit(api, db, register):
    u = register(name="Original")
    before = _state(db, u)
    big = b'{"name":"' + b"n" * (16 * 1024) + b'"}'
    r = api.request("PATCH", ME, data=big, ctype="application/json", token=u.access)
    assert_problem(r, 413, "payload_too_large")
    assert _state(db, u) == before


def test_patch_rate_limited(api, db, register):
    """PATCH /api/me (Argon2 work when a password is involved) is limited per user:
    profileChanges per windowSeconds, counted before any work."""
    limits = json.loads(db.scalar("SELECT value FROM admin_config WHERE key = 'auth_limits'"))
    n, window = limits["profileChanges"], limits["windowSeconds"]
    assert 0 < n <= 20, limits
    u = register()
    for i in range(n):
        assert_json(api.patch(ME, {"name": f"name {i}"}, token=u.access), 200)
    r = api.patch(ME, {"currentPassword": u.password, "newPassword": NEW_PASSWORD},
                  token=u.access)
    p = assert_problem(r, 429, "rate_limited")
    assert 0 < p["retryAfter"] <= window
    assert_problem(api.patch(ME, {"name": "again"}, token=u.access), 429, "rate_limited")
    # Nothing of it happened; reading is not limited; other users are not affected.
    login(api, u.email, u.password)
    assert assert_json(api.get(ME, token=u.access), 200)["name"] == f"name {n - 1}"
    v = register()
    assert_json(api.patch(ME, {"name": "fine"}, token=v.access), 200)
    # The window moves on.
    db.rows("UPDATE auth_attempts SET at = at - make_interval(secs => :w) "
            "WHERE action = 'profile' AND subject = uuid_send(:'u'::uuid)", w=window, u=u.id)
    assert_json(api.patch(ME, {"name": "later"}, token=u.access), 200)
