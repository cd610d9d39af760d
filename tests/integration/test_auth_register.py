"""POST /api/auth/register (public).

201 {user, accessToken, expiresIn} + cookies; 400 validation_failed | malformed_json
(an unknown referral code is a 400 on referralCode); 409 email_taken; 405; 413; 415;
429 (test_nginx) and 503 (test_zz_db_restart)."""
import concurrent.futures
import json
import threading

import pytest

from conftest import (PASSWORD, Api, assert_json, assert_problem, assert_session_cookies,
                      assert_user, do_register, jwt_claims, login, unique_email)

REGISTER = "/api/auth/register"


def user_total(db):
    return int(db.scalar("SELECT count(*) FROM users"))


def test_register_creates_account(api, db):
    email = unique_email()
    r = api.post(REGISTER, {"email": email, "password": PASSWORD})
    b = assert_json(r, 201)
    assert set(b) == {"user", "accessToken", "expiresIn"}, b
    assert_user(b["user"], email)
    u = b["user"]
    assert u["name"] == "" and u["role"] == "user"
    assert u["credits"] == db.config_int("signup_credits")
    assert isinstance(b["expiresIn"], int) and 0 < b["expiresIn"] <= 900
    assert_session_cookies(r, b["accessToken"], None)
    assert r.headers.get("Cache-Control") == "no-store"

    # The access token is usable at once, and the database agrees.
    me = assert_json(api.get("/api/me", token=b["accessToken"]), 200)
    assert me == u
    assert db.user_count(email) == 1
    assert db.ledger(u["id"]) == [(u["credits"], "signup", "Signup credits")]
    h = db.scalar("SELECT password_hash FROM user_credentials WHERE user_id = :'u'", u=u["id"])
    assert h.startswith("$argon2id$") and PASSWORD not in h
    # One session: one live refresh token, whose family is the token's sid.
    assert db.tokens(u["id"]) == [(jwt_claims(b["accessToken"])["sid"], False)]


def test_register_name_round_trip(register, api):
    name = 'Zoë "Q" \\ <b>😀</b>\n\ttab'
    u = register(name=name)
    assert u.user["name"] == name
    assert assert_json(api.get("/api/me", token=u.access), 200)["name"] == name
    # 100 characters is the limit, counted in characters, not bytes.
    u2 = register(name="é" * 100)
    assert u2.user["name"] == "é" * 100


def test_register_password_counted_in_characters(api, db):
    email = unique_email()
    r = api.post(REGISTER, {"email": email, "password": "é" * 9})  # 18 bytes, 9 chars
    assert_problem(r, 400, "validation_failed", {"password"})
    assert db.user_count(email) == 0
    u = do_register(api, email=email, password="é" * 10)
    login(api, u.email, "é" * 10)


def test_register_public_ignores_bad_token(api):
    email = unique_email()
    r = api.post(REGISTER, {"email": email, "password": PASSWORD}, token="not.a.token")
    assert_json(r, 201)


LONG = "x" * 10001

INVALID = [
    ({}, {"email", "password"}),
    ({"password": PASSWORD}, {"email"}),
    ({"email": "@E"}, {"password"}),
    ({"email": None, "password": PASSWORD}, {"email"}),
    ({"email": 5, "password": PASSWORD}, {"email"}),
    ({"email": ["@E"], "password": PASSWORD}, {"email"}),
    ({"email": "plainaddress", "password": PASSWORD}, {"email"}),
    ({"email": "a@b", "password": PASSWORD}, {"email"}),
    ({"email": "@x.io", "password": PASSWORD}, {"email"}),
    ({"email": "a@@x.io", "password": PASSWORD}, {"email"}),
    ({"email": "a b@x.io", "password": PASSWORD}, {"email"}),
    ({"email": " @E", "password": PASSWORD}, {"email"}),
    ({"email": "x" * 65 + "@x.io", "password": PASSWORD}, {"email"}),
    ({"email": "a@" + "x" * 250 + ".io", "password": PASSWORD}, {"email"}),
    ({"email": LONG + "@x.io", "password": PASSWORD}, {"email"}),
    ({"email": "@E", "password": "123456789"}, {"password"}),
    ({"email": "@E", "password": "p" * 129}, {"password"}),
    ({"email": "@E", "password": LONG}, {"password"}),
    ({"email": "@E", "password": 1234567890123}, {"password"}),
    ({"email": "@E", "password": "abc\u0000defghijk"}, {"password"}),
    ({"email": "@E", "password": PASSWORD, "name": "n" * 101}, {"name"}),
    ({"email": "@E", "password": PASSWORD, "name": LONG}, {"name"}),
    ({"email": "@E", "password": PASSWORD, "name": 7}, {"name"}),
    ({"email": "@E", "password": PASSWORD, "name": {"first": "a"}}, {"name"}),
    ({"email": "@E", "password": PASSWORD, "name": "a\u0000b"}, {"name"}),
    ({"email": "@E", "password": PASSWORD, "referralCode": ""}, {"referralCode"}),
    ({"email": "@E", "password": PASSWORD, "referralCode": "R" * 33}, {"referralCode"}),
    ({"email": "@E", "password": PASSWORD, "referralCode": LONG}, {"referralCode"}),
    ({"email": "@E", "password": PASSWORD, "referralCode": 12345678}, {"referralCode"}),
    ({"email": "@E", "password": PASSWORD, "role": "admin"}, {"role"}),
    ({"email": "@E", "password": PASSWORD, "credits": 1000000}, {"credits"}),
    ({"email": "@E", "password": PASSWORD, "Email": "@E"}, {"Email"}),
    ({"email": "bad", "password": "short", "isAdmin": True}, {"email", "password", "isAdmin"}),
]


@pytest.mark.parametrize("body,fields", INVALID, ids=[str(i) for i in range(len(INVALID))])
def test_register_validation(api, db, body, fields):
    email = unique_email()
    body = {k: (email if v == "@E" else (" " + email if v == " @E" else v))
            for k, v in body.items()}
    if isinstance(body.get("email"), list):
        body["email"] = [email]
    before = user_total(db)
    r = api.post(REGISTER, body)
    p = assert_problem(r, 400, "validation_failed", fields)
    assert p.get("detail")
    assert user_total(db) == before
    assert db.user_count(email) == 0


MALFORMED = [
    b'{"email":',
    b"[]",
    b'"just a string"',
    b"null",
    b"42",
    b'{"email":"@E","password":"' + PASSWORD.encode() + b'"} trailing',
    b'{"email":"@E","password":"' + PASSWORD.encode() + b'",}',
    b"{'email':'@E'}",
    b'{"email":"@E" "password":"x"}',
    b'{"email":"@E","password":"' + PASSWORD.encode() + b'","name":NaN}',
    b'{"email":"@E","password":"' + PASSWORD.encode() + b'","name":Infinity}',
    b'{"email":"@E","password":"' + PASSWORD.encode() + b'","x":[1,{"y":-Infinity}]}',
    b'{"x":' + b"[" * 64 + b"]" * 64 + b"}",
    b"\xef\xbb\xbf{}",
]

BAD_UTF8 = [
    b"\xff\xfe",              # not UTF-8 at all
    b"\xc0\xaf",              # overlong "/"
    b"\xe0\x80\xaf",          # overlong, three bytes
    b"\xed\xa0\x80",          # a UTF-16 surrogate encoded in UTF-8
    b"\xed\xbf\xbf",          # the last surrogate
    b"\xf4\x90\x80\x80",      # above U+10FFFF
    b"\xe2\x82",              # truncated sequence
    b"\x80",                  # lone continuation byte
]


def _body(email, raw):
    return raw.replace(b"@E", email.encode())


@pytest.mark.parametrize("raw", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_register_malformed_json(api, db, raw):
    email = unique_email()
    before = user_total(db)
    r = api.request("POST", REGISTER, data=_body(email, raw), ctype="application/json")
    assert_problem(r, 400, "malformed_json")
    assert user_total(db) == before


@pytest.mark.parametrize("bad", BAD_UTF8, ids=[b.hex() for b in BAD_UTF8])
@pytest.mark.parametrize("where", ["name", "key"])
def test_register_invalid_utf8(api, db, bad, where):
    email = unique_email()
    if where == "name":
        raw = b'{"email":"@E","password":"' + PASSWORD.encode() + b'","name":"a' + bad + b'b"}'
    else:
        raw = b'{"email":"@E","password":"' + PASSWORD.encode() + b'","k' + bad + b'":1}'
    before = user_total(db)
    r = api.request("POST", REGISTER, data=_body(email, raw), ctype="application/json")
    assert_problem(r, 400, "malformed_json")
    assert user_total(db) == before


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "application/problem+json",
                                   "multipart/form-data; boundary=x"])
def test_register_wrong_content_type(api, db, ctype):
    email = unique_email()
    data = json.dumps({"email": email, "password": PASSWORD}).encode()
    headers = {} if ctype is None else {"Content-Type": ctype}
    r = api.request("POST", REGISTER, data=data, headers=headers)
    assert_problem(r, 415, "unsupported_media_type")
    assert db.user_count(email) == 0


def test_register_content_type_parameters_accepted(api):
    email = unique_email()
    data = json.dumps({"email": email, "password": PASSWORD}).encode()
    r = api.request("POST", REGISTER, data=data, ctype="Application/JSON; charset=UTF-8")
    assert_json(r, 201)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
def test_register_wrong_method(api, method):
    r = api.request(method, REGISTER)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    if method != "HEAD":
        assert_problem(r, 405, "method_not_allowed")


def _padded(email, size):
    """A JSON body of exactly size bytes: a valid shape with an over-long password."""
    head = b'{"email":"' + email.encode() + b'","password":"'
    tail = b'"}'
    return head + b"p" * (size - len(head) - len(tail)) + tail


def test_register_body_limit(api, db):
    email = unique_email()
    exact = _padded(email, 16 * 1024)
    assert len(exact) == 16384
    # At the limit the body is read and judged on its content...
    assert_problem(api.request("POST", REGISTER, data=exact, ctype="application/json"),
                   400, "validation_failed", {"password"})
    # ... one byte over, it is refused unread.
    assert_problem(api.request("POST", REGISTER, data=_padded(email, 16 * 1024 + 1),
                               ctype="application/json"), 413, "payload_too_large")
    # Without a Content-Length (chunked) too.
    chunks = iter([_padded(email, 40 * 1024)])
    assert_problem(api.request("POST", REGISTER, data=chunks, ctype="application/json"),
                   413, "payload_too_large")
    assert db.user_count(email) == 0


def test_register_concurrent_same_email(db):
    email = unique_email("race")
    n = 16
    barrier = threading.Barrier(n)

    def attempt(i):
        a = Api()
        try:
            barrier.wait(timeout=30)
            return a.post(REGISTER, {"email": email, "password": f"{PASSWORD} {i}"})
        finally:
            a.close()

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(attempt, range(n)))
    created = [r for r in results if r.status_code == 201]
    taken = [r for r in results if r.status_code == 409]
    assert len(created) == 1, [r.status_code for r in results]
    assert len(taken) == n - 1, [r.status_code for r in results]
    for r in taken:
        assert_problem(r, 409, "email_taken")
    assert db.user_count(email) == 1
    uid = created[0].json()["user"]["id"]
    assert [k for _, k, _ in db.ledger(uid)] == ["signup"]


def test_register_email_case_insensitive(api, db):
    local = "Mixed.Case-" + unique_email().split("@")[0]
    email = f"{local}@Example.Reelvox.TEST"
    u = do_register(api, email=email)
    assert u.user["email"] == email  # kept as typed
    for variant in (email.lower(), email.upper(), email.swapcase()):
        r = api.post(REGISTER, {"email": variant, "password": "another password 1"})
        assert_problem(r, 409, "email_taken")
    assert db.user_count(email) == 1


def test_register_email_taken_changes_nothing(api, db, register):
    u = register()
    before = (db.credits(u.id), db.ledger(u.id), db.tokens(u.id))
    r = api.post(REGISTER, {"email": u.email, "password": "a different password", "name": "X"})
    assert_problem(r, 409, "email_taken")
    assert (db.credits(u.id), db.ledger(u.id), db.tokens(u.id)) == before
    login(api, u.email, u.password)
    r = api.post("/api/auth/login", {"email": u.email, "password": "a different password"})
    assert_problem(r, 401, "invalid_credentials")
    assert assert_json(api.get("/api/me", token=u.access), 200)["name"] == ""


def qualify(db, user_id):
    """What the email verification / first purchase flows will call."""
    return db.scalar("SELECT rv_referral_qualify(:'u')", u=user_id)


def referral_state(db, user_id):
    return db.scalar("SELECT state FROM referrals WHERE referred_id = :'u'", u=user_id)


def test_register_with_referral_code_records_a_pending_referral(api, db, register):
    """A referral code pays nobody at registration (throwaway accounts must not farm
    it): the referral is recorded, pending, and paid once the account qualifies."""
    signup = db.config_int("signup_credits")
    bonus = db.config_int("referral_bonus")
    referrer = register()
    code = referrer.user["referralCode"]
    newbie = register(referral=code)
    assert newbie.user["credits"] == signup
    assert db.credits(referrer.id) == signup
    signup_rows = [(signup, "signup", "Signup credits")] if signup else []
    assert db.ledger(newbie.id) == signup_rows
    assert db.ledger(referrer.id) == signup_rows
    assert db.scalar("SELECT referred_by FROM users WHERE id = :'u'", u=newbie.id) == referrer.id
    assert db.scalar("SELECT referrer_id FROM referrals WHERE referred_id = :'u'",
                     u=newbie.id) == referrer.id
    assert referral_state(db, newbie.id) == "pending"
    assert newbie.user["referralCode"] != code

    # The account qualifies (verified email, first purchase): both sides are paid, once.
    assert qualify(db, newbie.id) == "paid"
    assert qualify(db, newbie.id) == "already_paid"
    assert referral_state(db, newbie.id) == "paid"
    assert db.credits(newbie.id) == signup + bonus
    assert db.credits(referrer.id) == signup + bonus
    for u, total in ((newbie, signup + bonus), (referrer, signup + bonus)):
        c = assert_json(api.get("/api/credits", token=u.access), 200)
        assert c["balance"] == total
        assert [i["delta"] for i in c["items"] if i["kind"] == "referral"] == [bonus]
    # The code is not case sensitive; a second referral is pending again.
    third = register(referral=code.lower())
    assert third.user["credits"] == signup
    assert referral_state(db, third.id) == "pending"
    assert db.credits(referrer.id) == signup + bonus
    # No referral, nothing to pay.
    assert qualify(db, referrer.id) == "no_referral"


def test_referral_paid_exactly_once_under_concurrency(db, register):
    referrer = register()
    newbie = register(referral=referrer.user["referralCode"])
    before = db.credits(referrer.id)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        got = sorted(ex.map(lambda _: qualify(db, newbie.id), range(4)))
    assert got == ["already_paid"] * 3 + ["paid"], got
    assert db.credits(referrer.id) == before + db.config_int("referral_bonus")


def test_referral_daily_cap_per_referrer(db, register):
    referrer = register()
    code = referrer.user["referralCode"]
    limits = json.loads(db.scalar("SELECT value FROM admin_config WHERE key = 'referral_limits'"))
    cap = limits["perReferrerPerDay"]
    assert 0 < cap <= 20, limits
    bonus = db.config_int("referral_bonus")
    before = db.credits(referrer.id)
    referred = [register(referral=code) for _ in range(cap + 1)]
    assert [qualify(db, u.id) for u in referred] == ["paid"] * cap + ["capped"]
    assert db.credits(referrer.id) == before + cap * bonus
    last = referred[-1]
    assert referral_state(db, last.id) == "pending"
    assert db.credits(last.id) == db.config_int("signup_credits")
    # A day later the cap has room again and the pending referral can be paid.
    db.rows("UPDATE referrals SET paid_at = paid_at - interval '25 hours' "
           "WHERE referrer_id = :'r' AND state = 'paid'", r=referrer.id)
    assert qualify(db, last.id) == "paid"
    assert db.credits(referrer.id) == before + (cap + 1) * bonus


def test_signup_credits_configurable_down_to_zero(api, db):
    old = db.scalar("SELECT value::text FROM admin_config WHERE key = 'signup_credits'")
    db.rows("UPDATE admin_config SET value = '0' WHERE key = 'signup_credits'")
    try:
        u = do_register(api)
    finally:
        db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'signup_credits'", v=old)
    assert u.user["credits"] == 0
    assert db.ledger(u.id) == []
    assert assert_json(api.get("/api/credits", token=u.access), 200)["balance"] == 0


def test_register_unknown_referral_code(api, db):
    email = unique_email()
    before = user_total(db)
    r = api.post(REGISTER, {"email": email, "password": PASSWORD, "referralCode": "NOSUCH00"})
    assert_problem(r, 400, "validation_failed", {"referralCode"})
    assert user_total(db) == before
    assert db.user_count(email) == 0


def test_register_taken_email_with_referral_pays_nobody(api, db, register):
    referrer = register()
    existing = register()
    before = (db.credits(referrer.id), db.ledger(referrer.id))
    r = api.post(REGISTER, {"email": existing.email, "password": PASSWORD,
                            "referralCode": referrer.user["referralCode"]})
    assert_problem(r, 409, "email_taken")
    assert (db.credits(referrer.id), db.ledger(referrer.id)) == before
