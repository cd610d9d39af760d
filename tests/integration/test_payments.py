"""Buying credits: GET /api/credit-packs, POST /api/checkout, POST /webhooks/stripe,
GET /api/payments, and the poller's settling of payments against the Stripe
simulator (tests/sim/stripe_sim.py) with its faults. After every test the money
invariants hold (stripekit.money_invariants) besides the ledger one (conftest)."""
import concurrent.futures
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BASE_URL, DATA_DIR, UUID_RE, RFC3339_UTC, assert_json, assert_problem
from stripekit import (RECONCILE_AFTER, checkout, events_of, money_invariants, needs_sim,
                       payment_status, post_event, purchases, sim, sim_config, wait_processed,
                       wait_status)

pytestmark = [needs_sim, pytest.mark.usefixtures("money_invariants")]
_ = money_invariants  # the fixture, used through pytestmark

PACK_KEYS = {"id", "name", "credits", "priceCents", "currency"}
PAYMENT_KEYS = {"id", "packId", "credits", "amountCents", "currency", "status", "createdAt"}


def pack(api, pack_id):
    return next(p for p in api.get("/api/credit-packs").json()["items"] if p["id"] == pack_id)


def wait_credits(api, db, user, want, timeout=20):
    deadline = time.time() + timeout
    while db.credits(user.id) != want:
        assert time.time() < deadline, f"credits {db.credits(user.id)}, not {want}"
        time.sleep(0.1)


def paid(api, db, register, pack_id="starter"):
    """A user who bought pack_id: (user, payment id, session id, balance before)."""
    u = register()
    before = db.credits(u.id)
    pid, sid = checkout(api, u, pack_id)
    assert sim("POST", f"/_sim/sessions/{sid}/pay").get("payment_status") == "paid"
    wait_status(db, pid, "paid")
    assert db.credits(u.id) == before + pack(api, pack_id)["credits"]
    return u, pid, sid, before


def payments_count(db, user):
    return int(db.scalar("SELECT count(*) FROM payments WHERE user_id = :'u'", u=user.id))


# ----------------------------------------------------------------- credit packs


def test_credit_packs_public(api):
    b = assert_json(api.get("/api/credit-packs"), 200)
    assert b["items"], b
    for p in b["items"]:
        assert set(p) == PACK_KEYS, p
        assert isinstance(p["credits"], int) and p["credits"] > 0
        assert isinstance(p["priceCents"], int) and p["priceCents"] > 0
        assert len(p["currency"]) == 3
    assert_problem(api.post("/api/credit-packs", {}), 405, "method_not_allowed")


def test_credit_packs_skip_malformed_entries(api, db):
    old = db.scalar("SELECT value::text FROM admin_config WHERE key = 'credit_packs'")
    try:
        db.run("UPDATE admin_config SET value = value || '[{\"id\": \"Bad Id\", \"name\": \"x\", "
               "\"credits\": 1, \"priceCents\": 1, \"currency\": \"usd\"}, {\"id\": \"neg\", "
               "\"name\": \"n\", \"credits\": -5, \"priceCents\": 1, \"currency\": \"usd\"}]' "
               "WHERE key = 'credit_packs'")
        ids = [p["id"] for p in assert_json(api.get("/api/credit-packs"), 200)["items"]]
        assert "Bad Id" not in ids and "neg" not in ids and "starter" in ids
    finally:
        db.run("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'credit_packs'", v=old)


# ----------------------------------------------------------------- checkout


def test_checkout_makes_a_session(api, db, register):
    u = register()
    r = api.post("/api/checkout", {"packId": "creator"}, token=u.access)
    b = assert_json(r, 201)
    assert set(b) == {"paymentId", "checkoutUrl"} and UUID_RE.match(b["paymentId"])
    sid = b["checkoutUrl"].rsplit("/", 1)[1]
    s = sim("GET", f"/_sim/sessions/{sid}")
    p = pack(api, "creator")
    assert s["mode"] == "payment" and s["amount_total"] == p["priceCents"]
    assert s["currency"] == p["currency"]
    assert s["client_reference_id"] == b["paymentId"]
    assert s["metadata"]["payment_id"] == b["paymentId"]
    assert s["success_url"].startswith(BASE_URL + "/") and s["cancel_url"].startswith(BASE_URL + "/")
    row = db.rows("SELECT status, session_id, credits, amount_cents FROM payments WHERE id = :'p'",
                  p=b["paymentId"])
    assert row == [("pending", sid, str(p["credits"]), str(p["priceCents"]))]
    assert db.credits(u.id) == 100  # nothing credited before Stripe says paid


def test_checkout_refusals_change_nothing(api, db, register):
    u = register()
    assert_problem(api.post("/api/checkout", {"packId": "nope"}, token=u.access), 404, "not_found")
    assert_problem(api.post("/api/checkout", {}, token=u.access), 400, "validation_failed",
                   fields=["packId"])
    assert_problem(api.post("/api/checkout", {"packId": "starter", "x": 1}, token=u.access), 400)
    assert_problem(api.post("/api/checkout", {"packId": "x" * 65}, token=u.access), 400,
                   fields=["packId"])
    assert_problem(api.post("/api/checkout", {"packId": "starter"}), 401)
    assert_problem(api.request("POST", "/api/checkout", data=b"packId=starter",
                               ctype="application/x-www-form-urlencoded", token=u.access), 415)
    assert_problem(api.get("/api/checkout", token=u.access), 405)
    assert_problem(api.post("/api/checkout", {"packId": "starter"}, token=u.access,
                            headers={"Idempotency-Key": "x" * 256}), 400)
    assert payments_count(db, u) == 0
    assert sim("GET", "/_sim/stats")["creates"] == 0


def test_checkout_idempotency_key(api, db, register):
    u = register()
    key = str(uuid.uuid4())
    a = checkout(api, u, "starter", key=key)
    b = checkout(api, u, "starter", key=key)
    assert a == b
    assert payments_count(db, u) == 1 and sim("GET", "/_sim/stats")["creates"] == 1
    assert_problem(api.post("/api/checkout", {"packId": "studio"}, token=u.access,
                            headers={"Idempotency-Key": key}), 409, "idempotency_conflict")
    assert payments_count(db, u) == 1


def test_checkout_without_stripe_answer_is_reconciled(api, db, register):
    """Stripe does not answer (5xx on every try): 503, the payment is left pending,
    and the reconciliation closes it; nothing is credited."""
    u = register()
    sim_config(create_status=503, create_times=3)
    r = api.post("/api/checkout", {"packId": "starter"}, token=u.access)
    assert_problem(r, 503, "provider_unavailable")
    pid = db.scalar("SELECT id FROM payments WHERE user_id = :'u'", u=u.id)
    assert payment_status(db, pid) == "pending"
    wait_status(db, pid, "failed", timeout=RECONCILE_AFTER * 4 + 10)
    assert db.credits(u.id) == 100


def test_checkout_retries_with_the_same_idempotency_key(api, db, register):
    """The answer to the first create is lost (connection dropped after Stripe made
    the session): the handler's retry carries the same Idempotency-Key and gets the
    same session; one session at Stripe."""
    u = register()
    sim_config(create_status=0, create_times=1)
    pid, sid = checkout(api, u)
    st = sim("GET", "/_sim/stats")
    assert st["creates"] == 1 and st["idempotent_replays"] == 1 and st["dropped"] == 1
    assert db.scalar("SELECT session_id FROM payments WHERE id = :'p'", p=pid) == sid


def test_checkout_refused_by_stripe(api, db, register):
    u = register()
    sim_config(create_status=400, create_times=1)
    assert_problem(api.post("/api/checkout", {"packId": "starter"}, token=u.access), 502,
                   "provider_error")
    assert db.rows("SELECT status FROM payments WHERE user_id = :'u'", u=u.id) == [("failed",)]


# ----------------------------------------------------------------- webhooks


def test_paid_session_credits_once(api, db, register):
    u, pid, sid, before = paid(api, db, register)
    items = assert_json(api.get("/api/credits", token=u.access), 200)["items"]
    buy = [i for i in items if i["kind"] == "purchase"]
    assert len(buy) == 1 and buy[0]["paymentId"] == pid and buy[0]["delta"] == 500
    # Stripe delivers the same event again (a retry): nothing new.
    evt = events_of(sid)[0]
    d = sim("POST", f"/_sim/events/{evt}/deliver", {"times": 2})
    assert all(x["status"] == 200 for x in d["deliveries"]), d
    wait_processed(db, evt)
    assert purchases(db, pid) == 1 and db.credits(u.id) == before + 500


def test_webhook_bad_signatures_change_nothing(api, db, register):
    u = register()
    pid, sid = checkout(api, u)
    ev = {"id": "evt_forged_" + uuid.uuid4().hex, "object": "event",
          "type": "checkout.session.completed",
          "data": {"object": {"id": sid, "object": "checkout.session", "payment_status": "paid",
                              "metadata": {"payment_id": pid}}}}
    n = lambda: int(db.scalar("SELECT count(*) FROM webhook_events WHERE event_id = :'e'",
                              e=ev["id"]))
    assert_problem(post_event(api, ev, secret="whsec_not_the_secret_at_all"), 401, "unauthorized")
    assert_problem(post_event(api, ev, t=int(time.time()) - 301), 401)
    assert_problem(post_event(api, ev, t=int(time.time()) + 400), 401)
    assert_problem(post_event(api, ev, scheme="v0"), 401)
    payload = json.dumps(ev).encode()
    assert_problem(api.request("POST", "/webhooks/stripe", data=payload,
                               ctype="application/json"), 401)
    # a signature over other bytes than those sent
    r = api.request("POST", "/webhooks/stripe", data=payload + b" ", ctype="application/json",
                    headers={"Stripe-Signature": __import__("stripekit").sign(payload)})
    assert_problem(r, 401)
    assert n() == 0 and payment_status(db, pid) == "pending" and db.credits(u.id) == 100


def test_webhook_signed_but_not_an_event(api):
    assert_problem(post_event(api, {"object": "event"}), 400, "malformed_json")
    assert_problem(post_event(api, {"id": "evt/../x", "type": "x"}), 400)
    assert_problem(post_event(api, ["not", "an", "object"]), 400)


def test_forged_paid_event_does_not_credit(api, db, register):
    """A correctly signed event may say what it likes: the poller re-reads the
    session, which Stripe says is unpaid."""
    u = register()
    pid, sid = checkout(api, u)
    ev = {"id": "evt_lies_" + uuid.uuid4().hex, "object": "event",
          "type": "checkout.session.completed",
          "data": {"object": {"id": sid, "object": "checkout.session", "payment_status": "paid",
                              "metadata": {"payment_id": pid}}}}
    assert_json(post_event(api, ev), 200)
    wait_processed(db, ev["id"])
    assert payment_status(db, pid) == "pending" and purchases(db, pid) == 0


def test_event_for_a_session_we_did_not_make(api, db, register):
    ev = {"id": "evt_other_" + uuid.uuid4().hex, "object": "event",
          "type": "checkout.session.completed",
          "data": {"object": {"id": "cs_test_notours" + uuid.uuid4().hex, "payment_status": "paid",
                              "metadata": {"payment_id": str(uuid.uuid4())}}}}
    total = db.scalar("SELECT COALESCE(sum(delta), 0) FROM credit_ledger")
    assert_json(post_event(api, ev), 200)
    assert_json(post_event(api, ev), 200)  # a replay: 200, nothing new
    wait_processed(db, ev["id"])
    assert db.scalar("SELECT COALESCE(sum(delta), 0) FROM credit_ledger") == total
    assert sim("GET", "/_sim/stats")["gets"] == 0  # not even looked up at Stripe


def test_expired_session(api, db, register):
    u = register()
    pid, sid = checkout(api, u)
    sim("POST", f"/_sim/sessions/{sid}/expire")
    wait_status(db, pid, "expired")
    assert db.credits(u.id) == 100


def test_delayed_payment_succeeds(api, db, register):
    u = register()
    pid, sid = checkout(api, u, "studio")
    sim("POST", f"/_sim/sessions/{sid}/pay", {"async": True})
    wait_processed(db, events_of(sid)[0])
    assert payment_status(db, pid) == "pending"  # completed, not paid yet
    sim("POST", f"/_sim/sessions/{sid}/async", {"succeed": True})
    wait_status(db, pid, "paid")
    assert db.credits(u.id) == 100 + pack(api, "studio")["credits"]


def test_delayed_payment_fails(api, db, register):
    u = register()
    pid, sid = checkout(api, u)
    sim("POST", f"/_sim/sessions/{sid}/pay", {"async": True})
    sim("POST", f"/_sim/sessions/{sid}/async", {"succeed": False})
    wait_status(db, pid, "failed")
    assert db.credits(u.id) == 100


def test_refund_takes_credits_back(api, db, register):
    u, pid, sid, before = paid(api, db, register)
    sim("POST", f"/_sim/sessions/{sid}/refund")
    wait_status(db, pid, "refunded")
    assert db.credits(u.id) == before
    items = assert_json(api.get("/api/credits", token=u.access), 200)["items"]
    back = [i for i in items if i["kind"] == "payment_refund"]
    assert len(back) == 1 and back[0]["delta"] == -500 and back[0]["paymentId"] == pid
    assert db.rows("SELECT credit_shortfall, payment_flagged FROM users WHERE id = :'u'",
                   u=u.id) == [("0", "f")]


def test_refund_of_spent_credits_records_the_shortfall(api, db, register):
    u, pid, sid, before = paid(api, db, register)
    db.grant(u.id, -(before + 500 - 30), reason="spent", kind="adjustment")
    sim("POST", f"/_sim/sessions/{sid}/refund")
    wait_status(db, pid, "refunded")
    assert db.credits(u.id) == 0
    assert db.rows("SELECT taken_back, shortfall FROM payments WHERE id = :'p'",
                   p=pid) == [("30", "470")]
    assert db.rows("SELECT credit_shortfall, payment_flagged FROM users WHERE id = :'u'",
                   u=u.id) == [("470", "t")]


def test_partial_refund(api, db, register):
    u, pid, sid, before = paid(api, db, register, "creator")  # 2200 credits for 2000 cents
    sim("POST", f"/_sim/sessions/{sid}/refund", {"amount": 500})
    wait_status(db, pid, "refunded")
    assert db.credits(u.id) == before + 2200 - 550


def test_dispute_takes_credits_back_once(api, db, register):
    u, pid, sid, before = paid(api, db, register)
    sim("POST", f"/_sim/sessions/{sid}/dispute")
    wait_status(db, pid, "disputed")
    sim("POST", f"/_sim/sessions/{sid}/refund")  # the refund after it takes nothing more
    for e in events_of(sid):
        wait_processed(db, e)
    assert db.credits(u.id) == before and payment_status(db, pid) == "disputed"


# ----------------------------------------------------------------- faults


def test_missed_webhook_found_by_reconciliation(api, db, register):
    """Stripe never reaches us: the listing of undelivered events and the
    reconciliation of old pending payments settle it."""
    sim_config(deliver="never")
    u = register()
    pid, sid = checkout(api, u)
    sim("POST", f"/_sim/sessions/{sid}/pay")
    wait_status(db, pid, "paid", timeout=RECONCILE_AFTER * 4 + 10)
    assert purchases(db, pid) == 1
    assert sim("GET", "/_sim/stats")["deliveries"] == 0


def test_listing_fails_reconciliation_still_settles(api, db, register):
    """Missed webhooks and Stripe's events listing failing too: the pending payment's
    session is re-read all the same."""
    sim_config(deliver="never", list_status=500, list_times=1000)
    u = register()
    pid, sid = checkout(api, u)
    sim("POST", f"/_sim/sessions/{sid}/pay")
    wait_status(db, pid, "paid", timeout=RECONCILE_AFTER * 4 + 10)
    assert purchases(db, pid) == 1 and sim("GET", "/_sim/stats")["lists"] >= 1


def test_every_delivery_sent_three_times(api, db, register):
    sim_config(duplicates=3)
    u, pid, sid, before = paid(api, db, register)
    sim("POST", f"/_sim/sessions/{sid}/refund")
    wait_status(db, pid, "refunded")
    for e in events_of(sid):
        wait_processed(db, e)
    assert db.credits(u.id) == before and purchases(db, pid) == 1
    assert sim("GET", "/_sim/stats")["deliveries"] >= 6


def test_out_of_order_and_duplicate_delivery(api, db, register):
    """Held events delivered newest first, three times each: the refund arrives
    before the payment it refunds. It waits in the inbox; the end state is the same."""
    sim_config(deliver="hold")
    u = register()
    pid, sid = checkout(api, u)
    sim("POST", f"/_sim/sessions/{sid}/pay")
    sim("POST", f"/_sim/sessions/{sid}/refund")
    sim("POST", "/_sim/flush", {"order": "reverse", "duplicates": 3})
    wait_status(db, pid, "refunded")
    for e in events_of(sid):
        wait_processed(db, e)
    assert db.credits(u.id) == 100 and purchases(db, pid) == 1


def test_webhook_delivery_retried(api, db, register):
    sim_config(webhook_fail_times=2)
    u, pid, sid, before = paid(api, db, register)
    evt = sim("GET", "/_sim/events")["items"][-1]
    assert len(evt["deliveries"]) >= 1
    deadline = time.time() + 10
    while not sim("GET", "/_sim/events")["items"][-1]["delivered"]:
        assert time.time() < deadline
        time.sleep(0.1)
    assert purchases(db, pid) == 1


def test_session_read_fails_then_recovers(api, db, register):
    sim_config(get_status=500, get_times=3)
    u = register()
    pid, sid = checkout(api, u)
    sim("POST", f"/_sim/sessions/{sid}/pay")
    wait_status(db, pid, "paid")
    assert sim("GET", "/_sim/stats")["gets"] >= 4 and purchases(db, pid) == 1


def poller_child():
    """The running poller process (the child of scripts/up's restart loop)."""
    with open(os.path.join(DATA_DIR, "run", "poller.pid")) as f:
        loop = f.read().strip()
    out = subprocess.run(["pgrep", "-P", loop], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def test_same_event_five_times_concurrently_poller_killed(api, db, register):
    """The completed event arrives 5 times at once, the poller is killed with
    SIGKILL in the middle, and 5 times more: one purchase."""
    sim_config(deliver="hold")
    u = register()
    pid, sid = checkout(api, u, "studio")
    sim("POST", f"/_sim/sessions/{sid}/pay")
    evt = events_of(sid)[0]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        first = ex.submit(sim, "POST", f"/_sim/events/{evt}/deliver",
                          {"times": 5, "concurrent": True})
        time.sleep(0.05)
        pid_poller = poller_child()
        if pid_poller:
            os.kill(pid_poller, signal.SIGKILL)
        d = first.result()
    assert [x["status"] for x in d["deliveries"]] == [200] * 5, d
    d = sim("POST", f"/_sim/events/{evt}/deliver", {"times": 5, "concurrent": True})
    assert all(x["status"] == 200 for x in d["deliveries"]), d
    wait_status(db, pid, "paid", timeout=30)
    wait_processed(db, evt, timeout=30)
    assert purchases(db, pid) == 1
    assert db.credits(u.id) == 100 + pack(api, "studio")["credits"]
    assert int(db.scalar("SELECT count(*) FROM webhook_events WHERE event_id = :'e'", e=evt)) == 1


# ----------------------------------------------------------------- payments list


def test_payments_list(api, db, register):
    u, pid, sid, _ = paid(api, db, register)
    p2, _ = checkout(api, u, "creator")
    other = register()
    checkout(api, other)
    b = assert_json(api.get("/api/payments", token=u.access), 200)
    assert [i["id"] for i in b["items"]] == [p2, pid]  # newest first, own only
    assert b["pagination"]["total"] == 2
    first, second = b["items"]
    assert set(first) == PAYMENT_KEYS and first["status"] == "pending"
    assert set(second) == PAYMENT_KEYS | {"paidAt"} and second["status"] == "paid"
    assert RFC3339_UTC.match(second["paidAt"]) and second["amountCents"] == 500
    b = assert_json(api.get("/api/payments?page=2&limit=1", token=u.access), 200)
    assert [i["id"] for i in b["items"]] == [pid] and b["pagination"]["hasPrev"]
    assert_problem(api.get("/api/payments?limit=0", token=u.access), 400)
    assert_problem(api.get("/api/payments"), 401)
