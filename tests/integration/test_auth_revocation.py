"""Access tokens stop working soon after their session ends.

An access token names its session (sid); every worker re-checks a session at
least every RV_SESSION_RECHECK_SECONDS (<= 30), so a token whose session was
logged out (test_auth_logout), revoked by refresh-token reuse detection, ended by
a password change, past its absolute lifetime, or whose user's role changed
answers 401 within that bound instead of living out its 15 minutes."""
from conftest import assert_json, assert_problem, login
from test_auth_logout import RECHECK, wait_until_rejected

REFRESH = "/api/auth/refresh"


def test_reuse_detection_ends_the_access_tokens(api, register, db):
    u = register()
    assert_json(api.get("/api/me", token=u.access), 200)
    b = assert_json(api.post(REFRESH, {"refreshToken": u.refresh}), 200)
    assert_json(api.get("/api/me", token=b["accessToken"]), 200)
    # The spent token comes back after the grace window: the family is revoked ...
    db.rows("UPDATE refresh_tokens SET revoked_at = now() - interval '1 minute' "
            "WHERE family_id = :'f' AND revoked_at IS NOT NULL", f=u.session_id)
    assert_problem(api.post(REFRESH, {"refreshToken": u.refresh}), 401, "unauthorized")
    # ... and with it every access token of the session.
    assert wait_until_rejected(api, b["accessToken"]) <= RECHECK + 3
    # Each worker trusts its own last look for up to RECHECK seconds: the next
    # request may reach one that has not looked again yet.
    assert wait_until_rejected(api, u.access) <= RECHECK + 3


def test_password_change_ends_the_other_sessions_access_tokens(api, register):
    u = register()
    other_access, _, _ = login(api, u.email, u.password)
    assert_json(api.get("/api/me", token=other_access), 200)
    r = api.patch("/api/me", {"currentPassword": u.password, "newPassword": "another long one"},
                  token=u.access)
    assert_json(r, 200)
    assert wait_until_rejected(api, other_access) <= RECHECK + 3
    # The session that changed it goes on.
    assert_json(api.get("/api/me", token=u.access), 200)


def test_role_change_ends_the_access_token(api, db, register):
    u = register()
    assert_json(api.get("/api/credits", token=u.access), 200)
    db.rows("UPDATE users SET role = 'expert' WHERE id = :'u'", u=u.id)
    assert wait_until_rejected(api, u.access, "/api/credits") <= RECHECK + 3
    # A refresh gives a token with the new role, which works.
    b = assert_json(api.post(REFRESH, {"refreshToken": u.refresh}), 200)
    assert assert_json(api.get("/api/me", token=b["accessToken"]), 200)["role"] == "expert"


def test_session_past_its_lifetime_ends_the_access_token(api, db, register):
    u = register()
    assert_json(api.get("/api/me", token=u.access), 200)
    db.rows("UPDATE refresh_tokens SET session_expires_at = now() - interval '1 second', "
            "expires_at = now() - interval '1 second' WHERE family_id = :'f'", f=u.session_id)
    assert wait_until_rejected(api, u.access) <= RECHECK + 3
    assert_problem(api.post(REFRESH, {"refreshToken": u.refresh}), 401, "unauthorized")
