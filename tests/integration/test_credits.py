"""GET /api/credits?page&limit (authenticated).

200 {balance, items: [{id, delta, reason, jobId?, paymentId?, createdAt}], pagination},
newest first. 400 (page/limit); 401; 404 for a token whose account does not exist;
405; 413 (no body accepted); 503 (test_zz_db_restart)."""
import time
import uuid

import pytest

from conftest import (RFC3339_UTC, UUID_RE, access_claims, assert_json, assert_problem,
                      forge_token)

CREDITS = "/api/credits"
ITEM_KEYS = {"id", "delta", "reason", "createdAt"}
# The contract's optional members, and `kind`, which the handler adds (see report).
ITEM_OPTIONAL = {"jobId", "paymentId", "kind"}


def page(api, u, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    return assert_json(api.get(CREDITS + ("?" + qs if qs else ""), token=u.access), 200)


def assert_item(i):
    assert ITEM_KEYS <= set(i) <= ITEM_KEYS | ITEM_OPTIONAL, i
    assert UUID_RE.match(i["id"]), i
    assert isinstance(i["delta"], int) and i["delta"] != 0, i
    assert isinstance(i["reason"], str) and i["reason"], i
    assert RFC3339_UTC.match(i["createdAt"]), i


def test_credits_new_user(api, db, register):
    u = register()
    signup = db.config_int("signup_credits")
    b = page(api, u)
    assert set(b) == {"balance", "items", "pagination"}, b
    assert b["balance"] == signup == u.user["credits"]
    assert len(b["items"]) == 1
    assert_item(b["items"][0])
    assert b["items"][0]["delta"] == signup and b["items"][0]["reason"] == "Signup credits"
    assert b["pagination"] == {"page": 1, "limit": 20, "total": 1, "totalPages": 1,
                               "hasNext": False, "hasPrev": False}


def test_credits_newest_first_and_totals(api, db, register):
    u = register()
    signup = db.config_int("signup_credits")
    assert db.grant(u.id, 50, "grant one") == signup + 50
    assert db.grant(u.id, -30, "charge two", kind="job_charge") == signup + 20
    assert db.grant(u.id, 7, "grant three") == signup + 27
    b = page(api, u)
    assert b["balance"] == signup + 27 == db.credits(u.id)
    assert [(i["delta"], i["reason"]) for i in b["items"]] == [
        (7, "grant three"), (-30, "charge two"), (50, "grant one"), (signup, "Signup credits")]
    for i in b["items"]:
        assert_item(i)
    assert sum(i["delta"] for i in b["items"]) == b["balance"]
    times = [i["createdAt"] for i in b["items"]]
    assert times == sorted(times, reverse=True)
    assert b["pagination"]["total"] == 4
    # /api/me agrees.
    assert assert_json(api.get("/api/me", token=u.access), 200)["credits"] == b["balance"]


def test_credits_pagination(api, db, register):
    u = register()
    n = 24
    db.rows(";\n".join(f"SELECT rv_credit_move(:'u', {k + 1}, 'grant', 'grant {k + 1}')"
                       for k in range(n)), u=u.id)
    total = n + 1
    full = page(api, u, limit=100)
    assert len(full["items"]) == total
    assert full["pagination"] == {"page": 1, "limit": 100, "total": total, "totalPages": 1,
                                  "hasNext": False, "hasPrev": False}
    assert [i["reason"] for i in full["items"][:3]] == ["grant 24", "grant 23", "grant 22"]
    assert full["items"][-1]["reason"] == "Signup credits"
    assert sum(i["delta"] for i in full["items"]) == full["balance"] == db.credits(u.id)

    seen = []
    for p, size, has_next in ((1, 10, True), (2, 10, True), (3, 5, False)):
        b = page(api, u, page=p, limit=10)
        assert len(b["items"]) == size
        assert b["pagination"] == {"page": p, "limit": 10, "total": total, "totalPages": 3,
                                   "hasNext": has_next, "hasPrev": p > 1}
        assert b["balance"] == full["balance"]
        seen += b["items"]
    assert [i["id"] for i in seen] == [i["id"] for i in full["items"]]

    past = page(api, u, page=4, limit=10)
    assert past["items"] == []
    assert past["pagination"] == {"page": 4, "limit": 10, "total": total, "totalPages": 3,
                                  "hasNext": False, "hasPrev": True}
    default = page(api, u, page=2)
    assert len(default["items"]) == 5 and default["pagination"]["limit"] == 20
    assert len(page(api, u, page=1000000)["items"]) == 0


def test_credits_only_own_rows(api, db, register):
    a, b = register(), register()
    db.grant(b.id, 11, "only for b")
    items = page(api, a, limit=100)["items"]
    assert len(items) == 1 and items[0]["reason"] == "Signup credits"
    assert all(i["reason"] != "only for b" for i in items)


@pytest.mark.parametrize("query,fields", [
    ("page=0", {"page"}),
    ("page=-1", {"page"}),
    ("page=abc", {"page"}),
    ("page=1.5", {"page"}),
    ("page=", {"page"}),
    ("page=1000001", {"page"}),
    ("page=99999999999999999999999", {"page"}),
    ("page=%2B1", {"page"}),
    ("limit=0", {"limit"}),
    ("limit=101", {"limit"}),
    ("limit=-5", {"limit"}),
    ("limit=ten", {"limit"}),
    ("limit=", {"limit"}),
    ("limit=1e2", {"limit"}),
    ("page=0&limit=0", {"page", "limit"}),
    ("page=x&limit=1000", {"page", "limit"}),
])
def test_credits_bad_paging(api, register, query, fields):
    u = register()
    r = api.get(f"{CREDITS}?{query}", token=u.access)
    assert_problem(r, 400, "validation_failed", fields)


def test_credits_paging_bounds_accepted(api, register):
    u = register()
    for q in ("limit=1", "limit=100", "page=1&limit=1", "page=1000000&limit=100"):
        assert_json(api.get(f"{CREDITS}?{q}", token=u.access), 200)


def test_credits_via_cookie(api, register):
    u = register()
    b = assert_json(api.get(CREDITS, cookies={"rv_access": u.access}), 200)
    assert b["balance"] == u.user["credits"]


def test_credits_unauthorized(api, register):
    u = register()
    now = int(time.time())
    expired = forge_token(access_claims(u.id, u.session_id, iat=now - 2000, exp=now - 1000))
    for r, code in ((api.get(CREDITS), "unauthorized"),
                    (api.get(CREDITS, token="garbage"), "unauthorized"),
                    (api.get(CREDITS, token=forge_token(access_claims(u.id, u.session_id),
                                                        alg="none")), "unauthorized"),
                    (api.get(CREDITS, token=expired), "token_expired"),
                    (api.get(CREDITS, cookies={"rv_access": expired}), "token_expired"),
                    (api.get(CREDITS + "?page=0", token="garbage"), "unauthorized")):
        assert_problem(r, 401, code)


def test_credits_account_gone(api):
    # The session went with the account: the token no longer stands.
    token = forge_token(access_claims(str(uuid.uuid4()), str(uuid.uuid4())))
    assert_problem(api.get(CREDITS, token=token), 401, "unauthorized")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_credits_wrong_method(api, register, method):
    u = register()
    r = api.request(method, CREDITS, token=u.access)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET"


def test_credits_no_body(api, register):
    u = register()
    r = api.request("GET", CREDITS, data=b'{"page":2}', ctype="application/json",
                    token=u.access)
    assert_problem(r, 413, "payload_too_large")


def test_credit_move_cannot_overdraw(db, register):
    """The SQL guard behind every balance change: a move past zero fails whole."""
    u = register()
    before = (db.credits(u.id), db.ledger(u.id))
    err = db.fails("SELECT rv_credit_move(:'u', :d, 'job_charge', 'too much')",
                   u=u.id, d=-(before[0] + 1))
    assert "check" in err.lower() or "violates" in err.lower(), err
    assert (db.credits(u.id), db.ledger(u.id)) == before
    assert db.grant(u.id, -before[0], "exactly all", kind="job_charge") == 0
