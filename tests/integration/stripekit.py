"""Helpers of the payment tests: the Stripe simulator's control API
(tests/sim/stripe_sim.py, RV_STRIPE_SIM_URL), Stripe-Signature signing, waiting on
payments, and the money invariants checked after every payment test."""
import hashlib
import hmac
import json
import os
import time
import urllib.request

import pytest

from conftest import assert_json

SIM_URL = os.environ.get("RV_STRIPE_SIM_URL", "")
WEBHOOK_SECRET = os.environ.get("RV_STRIPE_WEBHOOK_SECRET", "")
RECONCILE_AFTER = int(os.environ.get("RV_STRIPE_RECONCILE_AFTER", "300"))
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

needs_sim = pytest.mark.skipif(not SIM_URL or not WEBHOOK_SECRET,
                               reason="no Stripe simulator (scripts/test starts one)")


def sim(method, path, body=None):
    req = urllib.request.Request(SIM_URL + path, method=method,
                                 data=json.dumps(body or {}).encode() if method == "POST" else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with _opener.open(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return {"_status": e.code, **json.loads(e.read() or b"{}")}


def sim_config(**kw):
    return sim("POST", "/_sim/config", kw)


def sign(payload: bytes, secret=None, t=None, scheme="v1"):
    t = int(time.time()) if t is None else t
    mac = hmac.new((secret or WEBHOOK_SECRET).encode(), f"{t}.".encode() + payload,
                   hashlib.sha256).hexdigest()
    return f"t={t},{scheme}={mac}"


def post_event(api, event, **sign_kw):
    payload = json.dumps(event, separators=(",", ":")).encode()
    h = {"Stripe-Signature": sign(payload, **sign_kw)}
    return api.request("POST", "/webhooks/stripe", data=payload, ctype="application/json",
                       headers=h)


def session_id(checkout_url):
    return checkout_url.rstrip("/").rsplit("/", 1)[1]


def checkout(api, user, pack="starter", key=None):
    h = {"Idempotency-Key": key} if key else None
    b = assert_json(api.post("/api/checkout", {"packId": pack}, token=user.access, headers=h),
                    201)
    return b["paymentId"], session_id(b["checkoutUrl"])


def payment_status(db, payment_id):
    return db.scalar("SELECT status FROM payments WHERE id = :'p'", p=payment_id)


def wait_status(db, payment_id, want, timeout=20):
    """Waits until the payment is in one of want (a str or a tuple)."""
    want = (want,) if isinstance(want, str) else want
    deadline = time.time() + timeout
    while True:
        st = payment_status(db, payment_id)
        if st in want:
            return st
        assert time.time() < deadline, f"payment {payment_id} is {st}, not {want}"
        time.sleep(0.1)


def wait_processed(db, event_id, timeout=20):
    deadline = time.time() + timeout
    while db.scalar("SELECT count(*) FROM webhook_events WHERE provider = 'stripe' AND "
                    "event_id = :'e' AND processed_at IS NOT NULL", e=event_id) != "1":
        assert time.time() < deadline, f"stripe event {event_id} not processed"
        time.sleep(0.1)


def purchases(db, payment_id):
    return int(db.scalar("SELECT count(*) FROM credit_ledger WHERE payment_id = :'p' "
                         "AND kind = 'purchase'", p=payment_id))


def events_of(session):
    return sim("GET", f"/_sim/sessions/{session}")["events"]


@pytest.fixture(autouse=False)
def money_invariants(db):
    """After the test: every payment credited at most once, and exactly when its
    status says so; what was taken back plus the shortfall is what its refund or
    dispute asked; no session belongs to two payments; the simulator is reset."""
    sim("POST", "/_sim/reset")
    yield
    bad = db.rows("""
        SELECT p.id, p.status, count(l.*) FILTER (WHERE l.kind = 'purchase'),
               count(l.*) FILTER (WHERE l.kind IN ('payment_refund', 'dispute'))
          FROM payments p LEFT JOIN credit_ledger l ON l.payment_id = p.id
         GROUP BY p.id, p.status
        HAVING count(l.*) FILTER (WHERE l.kind = 'purchase')
                   <> CASE WHEN p.status IN ('paid', 'refunded', 'disputed') THEN 1 ELSE 0 END
            OR count(l.*) FILTER (WHERE l.kind IN ('payment_refund', 'dispute')) > 1
            OR (p.status = 'paid' AND p.taken_back + p.shortfall <> 0)
            OR (p.status IN ('refunded', 'disputed') AND p.taken_back <> COALESCE(-sum(l.delta)
                   FILTER (WHERE l.kind IN ('payment_refund', 'dispute')), 0))
         LIMIT 10""")
    assert not bad, f"money invariant broken (payment, status, purchases, take-backs): {bad}"
    bad = db.rows("""SELECT u.id FROM users u WHERE u.credit_shortfall <>
        COALESCE((SELECT sum(shortfall) FROM payments p WHERE p.user_id = u.id), 0) LIMIT 5""")
    assert not bad, f"shortfall on users and payments disagree: {bad}"
    sim("POST", "/_sim/reset")
