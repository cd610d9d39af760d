"""Accounts and mail: verification at signup, resend, forgot/reset, the outbox
sent by the poller to a real SMTP server (tests/sim/smtp_capture.py) whose
captured messages the tests read and follow the links of."""
import os
import time

import pytest

from conftest import (PASSWORD, assert_json, assert_problem, assert_user, login, unique_email)
from mailkit import CAPTURE_DIR, mails_to, wait_mail

pytestmark = pytest.mark.skipif(not CAPTURE_DIR, reason="no SMTP capture (scripts/test starts one)")

RECHECK = int(os.environ.get("RV_SESSION_RECHECK_SECONDS", "10"))


def wait_until(pred, deadline, what):
    end = time.time() + deadline
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"not within {deadline} s: {what}")
        time.sleep(0.1)


def outbox(db, addr):
    """[(template, status, attempts, has_token, last_error)] oldest first."""
    return [(t, s, int(a), h == "t", e) for t, s, a, h, e in db.rows(
        "SELECT template, status, attempts, data ? 'token', COALESCE(last_error, '') FROM outbox"
        " WHERE lower(to_addr) = lower(:'e') ORDER BY id", e=addr)]


def test_signup_sends_verification_and_link_verifies_once(api, register, db):
    u = register(name="Eve\r\nBcc: victim@evil.test")
    assert u.user["emailVerified"] is False
    m = wait_mail(u.email, "Confirm your email")[0]
    # headers: Date, Message-ID, From, multipart/alternative with both parts
    for h in ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version"):
        assert m.msg[h], h
    assert m.msg["Bcc"] is None
    assert b"\r\nBcc:" not in m.raw.split(b"\r\n\r\n", 1)[0]
    assert m.msg.get_content_type() == "multipart/alternative"
    assert m.part("text/plain") and m.part("text/html")
    assert m.envelope["from"] == "noreply@reelvox.test" and m.envelope["auth"] is True
    url, token = m.link("verify")
    assert "/verify?token=" in url and token in m.part("text/html")
    # the outbox forgets the token once the mail is sent
    wait_until(lambda: outbox(db, u.email)[0][1] == "sent", 10, "outbox row marked sent")
    assert outbox(db, u.email)[0][3] is False

    r = api.post("/api/auth/verify", {"token": token})
    body = assert_json(r, 200)
    assert_user(body, u.email)
    assert body["emailVerified"] is True
    me = assert_json(api.get("/api/me", token=u.access), 200)
    assert me["emailVerified"] is True
    assert_problem(api.post("/api/auth/verify", {"token": token}), 400, "invalid_token")


def test_verify_bad_input(api):
    assert_problem(api.post("/api/auth/verify", {"token": "0" * 64}), 400, "invalid_token")
    assert_problem(api.post("/api/auth/verify", {}), 400, "validation_failed", fields=["token"])
    assert_problem(api.post("/api/auth/verify", {"token": 5}), 400, "validation_failed",
                   fields=["token"])
    assert_problem(api.post("/api/auth/verify", data=b"{", ctype="application/json"), 400,
                   "malformed_json")
    assert_problem(api.get("/api/auth/verify"), 405)


def test_expired_verify_token(api, register, db):
    u = register()
    _, token = wait_mail(u.email, "Confirm your email")[0].link("verify")
    db.rows("UPDATE mail_tokens SET expires_at = now() - interval '1 second' WHERE user_id = :'u'",
            u=u.id)
    assert_problem(api.post("/api/auth/verify", {"token": token}), 400, "invalid_token")
    assert db.scalar("SELECT email_verified FROM users WHERE id = :'u'", u=u.id) == "f"


def test_referral_paid_on_verification_only(api, register, db):
    bonus = db.config_int("referral_bonus")
    a = register()
    b = register(referral=a.user["referralCode"])
    assert db.credits(b.id) == b.user["credits"] and db.credits(a.id) == a.user["credits"]
    _, token = wait_mail(b.email, "Confirm your email")[0].link("verify")
    assert_json(api.post("/api/auth/verify", {"token": token}), 200)
    assert db.credits(b.id) == b.user["credits"] + bonus
    assert db.credits(a.id) == a.user["credits"] + bonus
    assert [k for _, k, _ in db.ledger(b.id)].count("referral") == 1


def test_resend(api, register, db):
    u = register()
    wait_mail(u.email, "Confirm your email")
    r = api.post("/api/auth/verify/resend", token=u.access)
    assert r.status_code == 202, r.text
    mails = wait_mail(u.email, "Confirm your email", count=2)
    tokens = [m.link("verify")[1] for m in mails]
    assert tokens[0] != tokens[1]
    assert_json(api.post("/api/auth/verify", {"token": tokens[1]}), 200)
    # the other link of the account is spent with it
    assert_problem(api.post("/api/auth/verify", {"token": tokens[0]}), 400, "invalid_token")
    # verified: 202, and nothing more is queued
    n = len(outbox(db, u.email))
    assert api.post("/api/auth/verify/resend", token=u.access).status_code == 202
    assert len(outbox(db, u.email)) == n
    assert_problem(api.post("/api/auth/verify/resend"), 401)


def test_forgot_and_reset_end_every_session(api, register, db):
    u = register()
    access2, refresh2, _ = login(api, u.email)
    assert api.post("/api/auth/forgot", {"email": u.email.upper()}).status_code == 202
    m = wait_mail(u.email, "Reset your Reelvox password")[0]
    url, token = m.link("reset")
    assert "/reset?token=" in url
    new_pw = "a brand new password"
    assert_problem(api.post("/api/auth/reset", {"token": token, "newPassword": "short"}), 400,
                   "validation_failed", fields=["newPassword"])
    r = api.post("/api/auth/reset", {"token": token, "newPassword": new_pw})
    assert_json(r, 200)
    # every refresh family revoked; access tokens answer 401 within the recheck window
    assert all(revoked for _, revoked in db.tokens(u.id))
    for access in (u.access, access2):
        wait_until(lambda a=access: api.get("/api/me", token=a).status_code == 401,
                   RECHECK + 5, "old access token refused")
    assert_problem(api.post("/api/auth/refresh", {"refreshToken": refresh2}), 401)
    assert_problem(api.post("/api/auth/login", {"email": u.email, "password": PASSWORD}), 401,
                   "invalid_credentials")
    login(api, u.email, new_pw)
    # the token works once
    assert_problem(api.post("/api/auth/reset", {"token": token, "newPassword": "another one!!"}),
                   400, "invalid_token")
    login(api, u.email, new_pw)
    assert db.scalar("SELECT email_verified FROM users WHERE id = :'u'", u=u.id) == "t"


def test_forgot_same_answer_for_unknown_email(api, db):
    ghost = unique_email("ghost")
    r = api.post("/api/auth/forgot", {"email": ghost})
    assert r.status_code == 202 and r.json() == {}
    # the poller takes the request up, finds no account and mails nothing
    wait_until(lambda: db.scalar("SELECT count(*) FROM reset_requests WHERE email = :'e'",
                                 e=ghost) == "0", 10, "the request processed")
    assert outbox(db, ghost) == []
    assert_problem(api.post("/api/auth/forgot", {"email": "nope"}), 400, "validation_failed",
                   fields=["email"])


def test_forgot_is_limited_per_email(api, register, db):
    u = register()
    per_hour = int(db.scalar("SELECT value ->> 'forgotPerHour' FROM admin_config WHERE key = 'mail'"))
    for _ in range(per_hour + 2):
        assert api.post("/api/auth/forgot", {"email": u.email}).status_code == 202
    wait_until(lambda: db.scalar("SELECT count(*) FROM reset_requests WHERE email = :'e'",
                                 e=u.email) == "0", 10, "the requests processed")
    assert [t for t, *_ in outbox(db, u.email)].count("reset") == per_hour


def test_transient_smtp_failure_is_retried(register, db):
    u = register(email=unique_email("tempfail"))
    m = wait_mail(u.email, "Confirm your email", deadline=45)[0]
    assert m.link("verify")
    row = wait_until(lambda: [r for r in outbox(db, u.email) if r[1] == "sent"], 10, "sent")[0]
    assert row[2] == 3  # two 451 answers, then accepted


def test_permanent_smtp_failure_gives_up(register, db):
    u = register(email=unique_email("reject"))
    row = wait_until(lambda: [r for r in outbox(db, u.email) if r[1] == "failed"], 30,
                     "outbox row failed")[0]
    assert row[2] == 1 and "550" in row[4]
    assert mails_to(u.email) == []


def test_receipt_enqueued_once_per_key(register, db):
    u = register(name="Ana <Pro>")
    data = '{"credits": 500, "amountCents": 1299, "currency": "EUR", "packName": "Pro pack", "paymentId": "p-1"}'
    key = "receipt:" + u.id
    q = "SELECT COALESCE(rv_mail_enqueue(:'u', 'receipt', :'d'::jsonb, :'k')::text, 'none')"
    first = db.scalar(q, u=u.id, d=data, k=key)
    again = db.scalar(q, u=u.id, d=data, k=key)
    assert first.isdigit() and again == "none"
    m = wait_mail(u.email, "receipt")[0]
    assert "500 credits" in m.subject
    assert "12.99 EUR" in m.part("text/plain")
    assert "Ana &lt;Pro&gt;" in m.part("text/html")
    assert len(wait_mail(u.email, "receipt")) == 1
