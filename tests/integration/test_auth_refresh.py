"""POST /api/auth/refresh (public).

The token comes from the rv_refresh cookie or {refreshToken}. 200 as login with a
new refresh token; the old one is spent. A spent token presented again → 401 and
its whole family is revoked — unless an operator opened a grace window
(auth_limits.refreshGraceSeconds, 0 by default): then the same token again within
it, while its successor lives, answers that successor. A session ends
after sessionMaxDays (90) however often it rotates. 400; 401; 405; 413; 415; 429 (test_nginx); 503
(test_zz_db_restart)."""
import concurrent.futures
import json
import secrets
import threading

import pytest

from conftest import (Api, assert_json, assert_problem, assert_session_cookies, assert_user,
                      b64url, jwt_claims, login)

REFRESH = "/api/auth/refresh"


@pytest.fixture
def grace(db):
    """auth_limits.refreshGraceSeconds set to 10 for the test, then back."""
    before = db.scalar("SELECT value::text FROM admin_config WHERE key = 'auth_limits'")
    db.rows("UPDATE admin_config SET value = jsonb_set(value, '{refreshGraceSeconds}', '10') "
            "WHERE key = 'auth_limits'")
    yield 10
    db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'auth_limits'", v=before)


def refresh_body(api, token):
    return api.post(REFRESH, {"refreshToken": token})


def refresh_cookie(api, token):
    return api.request("POST", REFRESH, cookies={"rv_refresh": token})


def assert_refreshed(api, r, user):
    b = assert_json(r, 200)
    assert set(b) == {"user", "accessToken", "refreshToken", "expiresIn"}, b
    assert_user(b["user"], user.email)
    assert b["user"]["id"] == user.id
    assert_session_cookies(r, b["accessToken"], b["refreshToken"])
    assert r.headers.get("Cache-Control") == "no-store"
    assert assert_json(api.get("/api/me", token=b["accessToken"]), 200)["id"] == user.id
    return b


def test_refresh_via_body(api, db, register):
    u = register()
    b = assert_refreshed(api, refresh_body(api, u.refresh), u)
    assert b["refreshToken"] != u.refresh
    # Same session: the new access token names the same refresh family.
    assert jwt_claims(b["accessToken"])["sid"] == u.session_id


def test_refresh_via_cookie(api, register):
    u = register()
    b = assert_refreshed(api, refresh_cookie(api, u.refresh), u)
    b2 = assert_refreshed(api, refresh_cookie(api, b["refreshToken"]), u)
    assert len({u.refresh, b["refreshToken"], b2["refreshToken"]}) == 3


def test_refresh_rotation_spends_the_old_token(api, db, register):
    u = register()
    r1 = assert_refreshed(api, refresh_body(api, u.refresh), u)["refreshToken"]
    r2 = assert_refreshed(api, refresh_body(api, r1), u)["refreshToken"]
    rows = db.rows("SELECT revoked_at IS NOT NULL, replaced_by IS NOT NULL FROM refresh_tokens "
                   "WHERE family_id = :'f' ORDER BY created_at", f=u.session_id)
    assert rows == [("t", "t"), ("t", "t"), ("f", "f")]
    assert db.tokens(u.id) == [(u.session_id, True), (u.session_id, True),
                               (u.session_id, False)]
    # r2 is still the live one; nothing above presented a spent token.
    assert_refreshed(api, refresh_body(api, r2), u)


def test_refresh_reuse_revokes_the_family(api, db, register):
    u = register()
    other_access, other_refresh, _ = login(api, u.email, u.password)  # another session
    r1 = assert_refreshed(api, refresh_body(api, u.refresh), u)["refreshToken"]
    r2 = assert_refreshed(api, refresh_body(api, r1), u)["refreshToken"]

    # The first token, already spent, comes back: someone holds a stolen copy.
    assert_problem(refresh_body(api, u.refresh), 401, "unauthorized")
    # ... so the newest token of that family is dead too, by body or by cookie.
    assert_problem(refresh_body(api, r2), 401, "unauthorized")
    assert_problem(refresh_cookie(api, r2), 401, "unauthorized")
    fam = db.rows("SELECT count(*), count(revoked_at) FROM refresh_tokens "
                  "WHERE family_id = :'f'", f=u.session_id)
    assert fam == [("3", "3")]
    # The user's other session is untouched.
    assert_refreshed(api, refresh_body(api, other_refresh), u)


def test_refresh_grace_is_off_by_default(api, db, register):
    """API.md: a spent token presented again, even at once, answers 401 and ends
    the family."""
    assert json.loads(db.scalar("SELECT value::text FROM admin_config "
                                "WHERE key = 'auth_limits'"))["refreshGraceSeconds"] == 0
    u = register()
    first = assert_refreshed(api, refresh_body(api, u.refresh), u)
    assert_problem(refresh_body(api, u.refresh), 401, "unauthorized")
    assert_problem(refresh_body(api, first["refreshToken"]), 401, "unauthorized")
    assert all(rev for fam, rev in db.tokens(u.id) if fam == u.session_id)


def test_refresh_concurrent_use_of_one_token(register, db, grace):
    """With a grace window: two clients refreshing at once with the same token are
    both answered, with the same successor, and the session lives on."""
    u = register()
    barrier = threading.Barrier(2)

    def attempt(_):
        a = Api()
        try:
            barrier.wait(timeout=30)
            return refresh_body(a, u.refresh)
        finally:
            a.close()

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        results = list(ex.map(attempt, range(2)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200], [r.text for r in results]
    successors = {r.json()["refreshToken"] for r in results}
    assert len(successors) == 1, successors
    a = Api()
    try:
        assert_json(refresh_body(a, successors.pop()), 200)
    finally:
        a.close()
    assert db.tokens(u.id)[-1] == (u.session_id, False)


def test_refresh_grace_window_answers_the_same_successor(api, db, register, grace):
    u = register()
    first = assert_refreshed(api, refresh_body(api, u.refresh), u)
    # A second use right after, by cookie this time: the same successor, no revocation.
    again = assert_refreshed(api, refresh_cookie(api, u.refresh), u)
    assert again["refreshToken"] == first["refreshToken"]
    assert jwt_claims(again["accessToken"])["sid"] == u.session_id
    assert db.tokens(u.id) == [(u.session_id, True), (u.session_id, False)]
    assert_refreshed(api, refresh_body(api, first["refreshToken"]), u)


def test_refresh_grace_window_ends(api, db, register, grace):
    u = register()
    first = assert_refreshed(api, refresh_body(api, u.refresh), u)
    # As if the rotation happened a minute ago: a second use is a reuse again.
    db.rows("UPDATE refresh_tokens SET revoked_at = now() - interval '1 minute' "
            "WHERE family_id = :'f' AND revoked_at IS NOT NULL", f=u.session_id)
    assert_problem(refresh_body(api, u.refresh), 401, "unauthorized")
    assert_problem(refresh_body(api, first["refreshToken"]), 401, "unauthorized")
    assert all(rev for fam, rev in db.tokens(u.id) if fam == u.session_id)


def test_refresh_grace_needs_a_live_successor(api, db, register, grace):
    """Within the window, but the successor was spent too (or the family revoked):
    the old token does not bring the session back."""
    u = register()
    r1 = assert_refreshed(api, refresh_body(api, u.refresh), u)["refreshToken"]
    assert_refreshed(api, refresh_body(api, r1), u)
    assert_problem(refresh_body(api, u.refresh), 401, "unauthorized")
    assert all(rev for fam, rev in db.tokens(u.id) if fam == u.session_id)


def test_refresh_does_not_extend_the_session_lifetime(api, db, register):
    u = register()
    days = json.loads(db.scalar("SELECT value FROM admin_config WHERE key = 'auth_limits'"))[
        "sessionMaxDays"]
    start = db.scalar("SELECT extract(epoch FROM session_expires_at - created_at)::int "
                      "FROM refresh_tokens WHERE family_id = :'f'", f=u.session_id)
    assert abs(int(start) - days * 86400) < 60
    # The session began long ago: its end is near; rotation keeps that end.
    db.rows("UPDATE refresh_tokens SET session_expires_at = now() + interval '1 hour' "
            "WHERE family_id = :'f'", f=u.session_id)
    b = assert_refreshed(api, refresh_body(api, u.refresh), u)
    rows = db.rows("SELECT session_expires_at <= now() + interval '1 hour', "
                   "expires_at <= session_expires_at FROM refresh_tokens "
                   "WHERE family_id = :'f' AND revoked_at IS NULL", f=u.session_id)
    assert rows == [("t", "t")]
    # Past its end the session is over, whatever the refresh token's own expiry.
    db.rows("UPDATE refresh_tokens SET session_expires_at = now() - interval '1 second' "
            "WHERE family_id = :'f'", f=u.session_id)
    assert_problem(refresh_body(api, b["refreshToken"]), 401, "unauthorized")


def test_refresh_unknown_token(api, db):
    before = db.scalar("SELECT count(*) FROM refresh_tokens")
    token = b64url(secrets.token_bytes(32))  # well-formed, never issued
    assert_problem(refresh_body(api, token), 401, "unauthorized")
    assert_problem(refresh_cookie(api, token), 401, "unauthorized")
    assert db.scalar("SELECT count(*) FROM refresh_tokens") == before


@pytest.mark.parametrize("token", ["abc", "!" * 43, "A" * 42, "A" * 44, "A" * 128])
def test_refresh_malformed_token(api, token):
    assert_problem(refresh_body(api, token), 401, "unauthorized")
    assert_problem(refresh_cookie(api, token), 401, "unauthorized")


def test_refresh_access_token_is_not_a_refresh_token(api, register):
    u = register()
    assert_problem(refresh_cookie(api, u.access), 401, "unauthorized")
    # In the body it is simply too long to be a refresh token.
    assert_problem(refresh_body(api, u.access), 400, "validation_failed", {"refreshToken"})
    # The session itself was not harmed.
    assert_refreshed(api, refresh_body(api, u.refresh), u)


def test_refresh_without_token(api, register):
    u = register()
    assert_problem(api.post(REFRESH, {}), 401, "unauthorized")
    assert_problem(api.request("POST", REFRESH), 401, "unauthorized")
    # An access token does not stand in for a refresh token.
    assert_problem(api.request("POST", REFRESH, token=u.access), 401, "unauthorized")
    assert_problem(api.request("POST", REFRESH, cookies={"rv_access": u.access}),
                   401, "unauthorized")


@pytest.mark.parametrize("body,fields", [
    ({"refreshToken": 5}, {"refreshToken"}),
    ({"refreshToken": ""}, {"refreshToken"}),
    ({"refreshToken": "x" * 10001}, {"refreshToken"}),
    ({"refreshToken": ["x"]}, {"refreshToken"}),
    ({"token": "x"}, {"token"}),
])
def test_refresh_validation(api, register, body, fields):
    u = register()
    # A valid cookie next to a bad body: the body is judged, the token not spent.
    r = api.post(REFRESH, body, cookies={"rv_refresh": u.refresh})
    assert_problem(r, 400, "validation_failed", fields)
    assert_refreshed(api, refresh_body(api, u.refresh), u)


@pytest.mark.parametrize("raw", [b'{"refreshToken":', b"[]", b'{"refreshToken":"\xc0\xaf"}'])
def test_refresh_malformed_json(api, register, raw):
    u = register()
    r = api.request("POST", REFRESH, data=raw, ctype="application/json",
                    cookies={"rv_refresh": u.refresh})
    assert_problem(r, 400, "malformed_json")
    assert_refreshed(api, refresh_body(api, u.refresh), u)


def test_refresh_wrong_content_type(api, register):
    u = register()
    r = api.request("POST", REFRESH, data=f'{{"refreshToken":"{u.refresh}"}}'.encode(),
                    ctype="text/plain")
    assert_problem(r, 415, "unsupported_media_type")
    assert_refreshed(api, refresh_body(api, u.refresh), u)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_refresh_wrong_method(api, method):
    r = api.request(method, REFRESH)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"


def test_refresh_body_limit(api):
    big = b'{"refreshToken":"' + b"x" * (16 * 1024) + b'"}'
    assert_problem(api.request("POST", REFRESH, data=big, ctype="application/json"),
                   413, "payload_too_large")
