"""Contract audit (API.md, Admin and Money): PUT /api/admin/config/{key} answers 400
with `errors` naming the field when a value breaks its key's schema (escrow's
numbers included) and changes nothing; an admin's view of a user shows payments in
the contract's shape (RFC 3339 UTC times, no Stripe internals)."""
import pytest

from conftest import RFC3339_UTC, UUID_RE, assert_json, assert_problem
from jobkit import config_get
from projectkit import with_role
from stripekit import checkout, needs_sim

PAYMENT_KEYS = {"id", "packId", "credits", "amountCents", "currency", "status", "createdAt"}


@pytest.mark.parametrize("value,field", [
    ({"feePercent": "x"}, "value.feePercent"),
    ({"feePercent": 101}, "value.feePercent"),
    ({"cancelRefundPercent": -1}, "value.cancelRefundPercent"),
    ({"centsPerCredit": 0}, "value.centsPerCredit"),
    ({"centsPerCredit": "1"}, "value.centsPerCredit"),
])
def test_escrow_value_breaking_its_schema(api, db, value, field):
    admin = with_role(api, db, "admin")
    before = config_get(db, "escrow")
    r = api.request("PUT", "/api/admin/config/escrow", token=admin.access,
                    json_body={"value": value})
    assert_problem(r, 400, "validation_failed", fields={field})
    assert config_get(db, "escrow") == before


def test_escrow_good_value_round_trips(api, db):
    admin = with_role(api, db, "admin")
    before = config_get(db, "escrow")
    try:
        new = dict(before, feePercent=12.5)
        got = assert_json(api.request("PUT", "/api/admin/config/escrow", token=admin.access,
                                      json_body={"value": new}), 200)
        assert set(got) == {"key", "value", "updatedAt"} and got["value"] == new, got
        assert RFC3339_UTC.match(got["updatedAt"]), got
        one = assert_json(api.get("/api/admin/config/escrow", token=admin.access), 200)
        assert one["value"] == new
    finally:
        assert_json(api.request("PUT", "/api/admin/config/escrow", token=admin.access,
                                json_body={"value": before}), 200)


@needs_sim
def test_admin_user_detail_payments_in_contract_shape(api, db, register):
    admin = with_role(api, db, "admin")
    u = register()
    pay_id, _ = checkout(api, u)
    body = assert_json(api.get(f"/api/admin/users/{u.id}", token=admin.access), 200)
    assert set(body) == {"user", "balance", "ledger", "jobs", "payments"}
    own = assert_json(api.get("/api/payments", token=u.access), 200)["items"]
    assert [p["id"] for p in body["payments"]] == [pay_id]
    p = body["payments"][0]
    assert PAYMENT_KEYS <= set(p) <= PAYMENT_KEYS | {"paidAt"}, p
    assert p == own[0]
    assert RFC3339_UTC.match(p["createdAt"]) and UUID_RE.match(p["id"]), p
    for row in body["ledger"] + body["jobs"]:
        assert RFC3339_UTC.match(row["createdAt"]), row


def test_admin_endpoints_forbidden_to_users_and_need_a_token(api, register):
    u = register()
    for path in ("/api/admin/config", "/api/admin/config/escrow", "/api/admin/users",
                 f"/api/admin/users/{u.id}", "/api/admin/jobs", "/api/admin/stats",
                 "/api/admin/audit"):
        assert_problem(api.get(path, token=u.access), 403, "forbidden")
        assert_problem(api.get(path), 401, "unauthorized")
    for path, body in ((f"/api/admin/users/{u.id}/credits", {"delta": 5, "reason": "x"}),
                       (f"/api/admin/jobs/{u.id}/retry", None),
                       (f"/api/admin/jobs/{u.id}/refund", None)):
        assert_problem(api.post(path, body, token=u.access), 403, "forbidden")
    assert_problem(api.request("PUT", "/api/admin/config/signup_credits", token=u.access,
                               json_body={"value": 5}), 403, "forbidden")


def test_admin_grant_is_a_ledger_row(api, db, register):
    admin = with_role(api, db, "admin")
    u = register()
    before = db.credits(u.id)
    r = api.post(f"/api/admin/users/{u.id}/credits", {"delta": 7, "reason": "audit gift"},
                 token=admin.access)
    row = assert_json(r, 201)
    assert row["kind"] == "grant" and row["delta"] == 7 and UUID_RE.match(row["id"]), row
    assert db.credits(u.id) == before + 7
    assert_problem(api.post(f"/api/admin/users/{u.id}/credits", {"delta": 7},
                            token=admin.access), 400, "validation_failed", fields={"reason"})
    assert db.credits(u.id) == before + 7
    lists = [("/api/admin/users", {}), ("/api/admin/jobs", {}), ("/api/admin/audit", {})]
    for path, _ in lists:
        page = assert_json(api.get(path + "?limit=1", token=admin.access), 200)
        assert set(page) == {"items", "pagination"}
        assert set(page["pagination"]) == {"page", "limit", "total", "totalPages", "hasNext",
                                           "hasPrev"}
        assert page["pagination"]["limit"] == 1 and len(page["items"]) <= 1
        for bad in ("limit=0", "limit=101", "page=0", "limit=x"):
            assert_problem(api.get(f"{path}?{bad}", token=admin.access), 400,
                           "validation_failed")


def test_music_track_changes_are_audited(api, db):
    from audiokit import make_audio
    admin = with_role(api, db, "admin")

    def audit(action, target):
        return int(db.scalar("SELECT count(*) FROM audit_log WHERE action = :'a' "
                             "AND target = :'t' AND actor_id = :'u'",
                             a=action, t=target, u=admin.id))

    r = api.request("POST", "/api/admin/music-tracks?title=Audit%20track", token=admin.access,
                    data=make_audio("mp3", seconds=2), ctype="audio/mpeg")
    track = assert_json(r, 201)
    assert audit("music_track.add", track["id"]) == 1
    assert api.request("DELETE", f"/api/admin/music-tracks/{track['id']}",
                       token=admin.access).status_code == 204
    assert audit("music_track.delete", track["id"]) == 1
    assert_problem(api.request("DELETE", f"/api/admin/music-tracks/{track['id']}",
                               token=admin.access), 404, "not_found")
    assert audit("music_track.delete", track["id"]) == 1
    page = assert_json(api.get("/api/admin/audit?limit=100", token=admin.access), 200)
    assert {("music_track.add", track["id"]), ("music_track.delete", track["id"])} <= {
        (i["action"], i["target"]) for i in page["items"]}


def test_admin_retry_honours_the_idempotency_key(api, db, register):
    import time
    from jobkit import sim, wait_for_job
    admin = with_role(api, db, "admin")
    u = register()
    failed = []
    for prompt in ("boom one ", "boom two "):
        r = api.post("/api/sfx", {"prompt": prompt + sim(outcome="failed")}, token=u.access)
        failed.append(wait_for_job(api, u, assert_json(r, 202)["id"])["id"])
    jobs = "SELECT count(*) FROM jobs WHERE user_id = :'u'"
    k = f"audit-retry-{time.time_ns()}"
    r1 = api.post(f"/api/admin/jobs/{failed[0]}/retry", token=admin.access,
                  headers={"Idempotency-Key": k})
    j1 = assert_json(r1, 202)
    assert r1.headers["Location"] == f"/api/jobs/{j1['id']}"
    n = int(db.scalar(jobs, u=u.id))
    r2 = api.post(f"/api/admin/jobs/{failed[0]}/retry", token=admin.access,
                  headers={"Idempotency-Key": k})
    assert assert_json(r2, 202)["id"] == j1["id"]
    assert r2.headers["Location"] == r1.headers["Location"]
    assert_problem(api.post(f"/api/admin/jobs/{failed[1]}/retry", token=admin.access,
                            headers={"Idempotency-Key": k}), 409, "idempotency_conflict")
    assert int(db.scalar(jobs, u=u.id)) == n
    # without a key every retry is a new job
    assert assert_json(api.post(f"/api/admin/jobs/{failed[0]}/retry", token=admin.access),
                       202)["id"] != j1["id"]
