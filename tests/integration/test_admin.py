"""The admin API: config with a schema per key, users, credits, jobs, stats and the
audit log; 401 without a token and 403 for anyone but an admin, on every endpoint."""
import json
import re
import os
import time
import uuid

import pytest

from conftest import (PASSWORD, RFC3339_UTC, assert_json, assert_problem, assert_user, login,
                      unique_email)

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


@pytest.fixture
def admin(api, register, db):
    u = register()
    db.rows("UPDATE users SET role = 'admin' WHERE id = :'u'", u=u.id)
    u.access, u.refresh, _ = login(api, u.email)
    return u


def put(api, path, body, token):
    return api.request("PUT", path, json_body=body, token=token)


def audit_count(db):
    return int(db.scalar("SELECT count(*) FROM audit_log"))


def config_value(db, key):
    v = db.scalar("SELECT COALESCE((SELECT value::text FROM admin_config WHERE key = :'k'), 'none')", k=key)
    return None if v == "none" else json.loads(v)


@pytest.fixture
def restore_config(db):
    """Puts back, after the test, every key the test names."""
    saved = {}

    def keep(key):
        saved[key] = db.scalar("SELECT COALESCE((SELECT value::text FROM admin_config "
                               "WHERE key = :'k'), 'none')", k=key)

    yield keep
    for key, v in saved.items():
        if v == "none":
            db.rows("DELETE FROM admin_config WHERE key = :'k'", k=key)
        else:
            db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = :'k'", k=key, v=v)


def make_job(db, user_id, status, kind="sfx", cost=5, refunded=False):
    """A job row as the poller leaves one, with its charge (and refund)."""
    jid = db.scalar(
        "INSERT INTO jobs (user_id, kind, status, input, provider, callback_token, deadline_at,"
        " cost_credits, completed_at) VALUES (:'u', :'k', :'s', '{\"prompt\": \"rain\"}',"
        " 'replicate', 'tok', now() + interval '1 hour', :c,"
        " CASE WHEN :'s' IN ('succeeded', 'failed', 'cancelled') THEN now() END) RETURNING id",
        u=user_id, k=kind, s=status, c=cost)
    if cost:
        db.rows("SELECT rv_credit_move(:'u', -:c, 'job_charge', 'sfx job', :'j')", u=user_id, c=cost, j=jid)
        if refunded:
            db.rows("SELECT rv_credit_move(:'u', :c, 'job_refund', 'sfx job refund', :'j')",
                    u=user_id, c=cost, j=jid)
    return jid


ENDPOINTS = [
    ("GET", "/api/admin/config", None),
    ("GET", "/api/admin/config/referral_bonus", None),
    ("PUT", "/api/admin/config/referral_bonus", {"value": 999}),
    ("GET", "/api/admin/users", None),
    ("GET", "/api/admin/users/{uid}", None),
    ("PATCH", "/api/admin/users/{uid}", {"role": "admin"}),
    ("POST", "/api/admin/users/{uid}/credits", {"delta": 1000, "reason": "self-service"}),
    ("GET", "/api/admin/jobs", None),
    ("POST", "/api/admin/jobs/{jid}/retry", None),
    ("POST", "/api/admin/jobs/{jid}/refund", None),
    ("GET", "/api/admin/stats", None),
    ("GET", "/api/admin/audit", None),
]


def test_non_admin_forbidden_and_anonymous_unauthorized(api, register, db):
    u = register()
    jid = make_job(db, u.id, "failed", refunded=True)
    before = (db.credits(u.id), audit_count(db), config_value(db, "referral_bonus"),
              db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id))
    expert = register()
    db.rows("UPDATE users SET role = 'expert' WHERE id = :'u'", u=expert.id)
    expert_token, _, _ = login(api, expert.email)
    for method, path, body in ENDPOINTS:
        p = path.format(uid=u.id, jid=jid)
        for token in (u.access, expert_token):
            assert_problem(api.request(method, p, json_body=body, token=token), 403, "forbidden")
        assert_problem(api.request(method, p, json_body=body), 401)
    assert (db.credits(u.id), audit_count(db), config_value(db, "referral_bonus"),
            db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id)) == before
    assert int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id)) == 1


def test_admin_token_of_a_demoted_admin_stops_working(api, admin, db):
    assert_json(api.get("/api/admin/stats", token=admin.access), 200)
    db.rows("UPDATE users SET role = 'user' WHERE id = :'u'", u=admin.id)
    wait_until(lambda: api.get("/api/admin/stats", token=admin.access).status_code == 401,
               RECHECK + 5, "the admin token refused after the role change")


# ----------------------------------------------------------------------- config


def test_config_list_and_get(api, admin):
    body = assert_json(api.get("/api/admin/config", token=admin.access), 200)
    keys = [i["key"] for i in body["items"]]
    assert keys == sorted(keys)
    for k in ("signup_credits", "referral_bonus", "job_costs", "rate_limits", "providers",
              "referral_limits", "storage_quota", "require_verified", "mail"):
        assert k in keys
    for item in body["items"]:
        assert set(item) == {"key", "value", "updatedAt"} and RFC3339_UTC.match(item["updatedAt"])
    one = assert_json(api.get("/api/admin/config/job_costs", token=admin.access), 200)
    assert one["key"] == "job_costs" and isinstance(one["value"], dict)
    assert_problem(api.get("/api/admin/config/no_such_key", token=admin.access), 404, "not_found")
    assert_problem(api.request("DELETE", "/api/admin/config/job_costs", token=admin.access), 405)


def test_config_put_is_applied_and_audited(api, admin, db, restore_config, register):
    restore_config("signup_credits")
    old = config_value(db, "signup_credits")
    n = audit_count(db)
    r = put(api, "/api/admin/config/signup_credits", {"value": 7}, admin.access)
    body = assert_json(r, 200)
    assert body["key"] == "signup_credits" and body["value"] == 7
    assert config_value(db, "signup_credits") == 7
    assert register().user["credits"] == 7  # in force at once
    assert audit_count(db) == n + 1
    audit = assert_json(api.get("/api/admin/audit?limit=5", token=admin.access), 200)
    entry = audit["items"][0]
    assert entry["action"] == "config.update" and entry["target"] == "signup_credits"
    assert entry["old"] == old and entry["new"] == 7
    assert entry["actorId"] == admin.id and entry["actorEmail"] == admin.email
    assert audit["pagination"]["total"] >= 1


def test_config_put_credit_packs(api, admin, db, restore_config):
    restore_config("credit_packs")
    packs = [{"id": "starter", "name": "Starter", "credits": 500, "priceCents": 499, "currency": "usd"},
             {"id": "pro", "name": "Pro", "credits": 6000, "priceCents": 4999, "currency": "usd",
              "popular": True}]
    body = assert_json(put(api, "/api/admin/config/credit_packs", {"value": packs}, admin.access), 200)
    assert body["value"] == packs
    assert config_value(db, "credit_packs") == packs


@pytest.mark.parametrize("key,value,fields", [
    ("credit_packs", [{"id": "starter", "name": "Starter", "credits": 500, "priceCents": "4.99",
                       "currency": "usd"}], ["value[0].priceCents"]),
    ("credit_packs", [{"id": "a", "name": "A", "credits": -1, "priceCents": 1, "currency": "usd"}],
     ["value[0].credits"]),
    ("job_costs", {"tts": {"perChars": 100, "credits": 1}, "sfx": {"flat": "2"}}, ["value.sfx.flat"]),
    ("job_costs", {"tts": {"perChars": 100}}, ["value.tts.credits"]),
    ("signup_credits", "100", ["value"]),
    ("signup_credits", None, ["value"]),
    ("referral_bonus", -3, ["value"]),
    # rate_limits takes new limits beside generationsPerMinute: a typo shows as the missing one
    ("rate_limits", {"generationsPerMinut": 3}, ["value.generationsPerMinute"]),
    ("providers", {"kinds": {"tts": "local"}}, ["value.kinds.tts"]),
    ("storage_quota", {"bytes": "1GB"}, ["value.bytes"]),
    ("require_verified", "no", ["value"]),
    ("referral_limits", {"perReferrerPerDay": 1.5}, ["value.perReferrerPerDay"]),
    ("escrow", {"platformFeePercent": 120}, ["value.platformFeePercent"]),
    ("expert_specialties", "narration", ["value"]),
    ("system_prompts", {"script": 5}, ["value.script"]),
])
def test_config_put_wrong_shape_changes_nothing(api, admin, db, key, value, fields):
    before, n = config_value(db, key), audit_count(db)
    r = put(api, f"/api/admin/config/{key}", {"value": value}, admin.access)
    assert_problem(r, 400, "validation_failed", fields=fields)
    assert config_value(db, key) == before and audit_count(db) == n
    # the service still answers with the old value in force
    assert_json(api.get("/api/admin/config/" + key, token=admin.access) if before is not None
                else api.get("/api/admin/config", token=admin.access), 200)


def test_config_put_bad_bodies(api, admin, db):
    n = audit_count(db)
    assert_problem(put(api, "/api/admin/config/referral_bonus", {}, admin.access), 400,
                   "validation_failed", fields=["value"])
    assert_problem(put(api, "/api/admin/config/referral_bonus", {"value": 3, "x": 1}, admin.access),
                   400, "validation_failed", fields=["x"])
    assert_problem(api.request("PUT", "/api/admin/config/referral_bonus", data=b"{",
                               ctype="application/json", token=admin.access), 400, "malformed_json")
    assert_problem(put(api, "/api/admin/config/no_such_key", {"value": 1}, admin.access), 404)
    assert audit_count(db) == n


# ------------------------------------------------------------------------ users


def test_users_list_search_and_filter(api, admin, register, db):
    tag = uuid.uuid4().hex[:10]
    a = register(email=f"find-{tag}-a@it.reelvox.test", name="Findable 100%")
    b = register(email=f"find-{tag}-b@it.reelvox.test")
    db.rows("UPDATE users SET role = 'expert' WHERE id = :'u'", u=b.id)
    body = assert_json(api.get(f"/api/admin/users?q=FIND-{tag}", token=admin.access), 200)
    assert [u["id"] for u in body["items"]] == [b.id, a.id]  # newest first
    assert body["pagination"]["total"] == 2
    for u in body["items"]:
        assert_user({k: v for k, v in u.items() if k not in ("disabled", "disabledAt", "updatedAt")})
        assert u["disabled"] is False
    body = assert_json(api.get(f"/api/admin/users?q=find-{tag}&role=expert", token=admin.access), 200)
    assert [u["id"] for u in body["items"]] == [b.id]
    body = assert_json(api.get(f"/api/admin/users?q=find-{tag}&limit=1&page=2", token=admin.access), 200)
    assert [u["id"] for u in body["items"]] == [a.id] and body["pagination"]["hasPrev"] is True
    # % and _ are literal in q
    body = assert_json(api.get("/api/admin/users?q=le%20100%25", token=admin.access), 200)
    assert a.id in [u["id"] for u in body["items"]]
    body = assert_json(api.get(f"/api/admin/users?q=find_{tag}", token=admin.access), 200)
    assert body["items"] == []
    assert_problem(api.get("/api/admin/users?role=root", token=admin.access), 400,
                   "validation_failed", fields=["role"])
    assert_problem(api.get("/api/admin/users?limit=101", token=admin.access), 400,
                   "validation_failed", fields=["limit"])


def test_user_detail(api, admin, register, db):
    u = register()
    jid = make_job(db, u.id, "succeeded")
    body = assert_json(api.get(f"/api/admin/users/{u.id}", token=admin.access), 200)
    assert set(body) == {"user", "balance", "ledger", "jobs", "payments"}
    assert body["user"]["id"] == u.id and body["balance"] == db.credits(u.id)
    assert [l["kind"] for l in body["ledger"]] == ["job_charge", "signup"]
    assert sum(l["delta"] for l in body["ledger"]) == body["balance"]
    assert [j["id"] for j in body["jobs"]] == [jid]
    assert isinstance(body["payments"], list)
    assert_problem(api.get(f"/api/admin/users/{uuid.uuid4()}", token=admin.access), 404)
    assert_problem(api.get("/api/admin/users/not-a-uuid", token=admin.access), 404)


def test_patch_role(api, admin, register, db):
    u = register()
    n = audit_count(db)
    body = assert_json(api.patch(f"/api/admin/users/{u.id}", {"role": "expert"}, token=admin.access), 200)
    assert body["role"] == "expert" and body["disabled"] is False
    assert db.scalar("SELECT role FROM users WHERE id = :'u'", u=u.id) == "expert"
    assert audit_count(db) == n + 1
    # the token of the old role ends; a refresh gives the new one
    wait_until(lambda: api.get("/api/me", token=u.access).status_code == 401, RECHECK + 5,
               "the old role's token refused")
    r = api.post("/api/auth/refresh", {"refreshToken": u.refresh})
    assert assert_json(r, 200)["user"]["role"] == "expert"
    # bad input and self-harm change nothing
    assert_problem(api.patch(f"/api/admin/users/{u.id}", {}, token=admin.access), 400, "validation_failed")
    assert_problem(api.patch(f"/api/admin/users/{u.id}", {"role": "root"}, token=admin.access), 400,
                   "validation_failed", fields=["role"])
    assert_problem(api.patch(f"/api/admin/users/{u.id}", {"disabled": "yes"}, token=admin.access), 400,
                   "validation_failed", fields=["disabled"])
    assert_problem(api.patch(f"/api/admin/users/{admin.id}", {"role": "user"}, token=admin.access), 409,
                   "invalid_state")
    assert_problem(api.patch(f"/api/admin/users/{admin.id}", {"disabled": True}, token=admin.access),
                   409, "invalid_state")
    assert_problem(api.patch(f"/api/admin/users/{uuid.uuid4()}", {"role": "user"}, token=admin.access),
                   404)
    assert audit_count(db) == n + 1


def test_disabled_user_is_refused_within_the_recheck_window(api, admin, register, db):
    u = register()
    access2, refresh2, _ = login(api, u.email)
    assert_json(api.get("/api/me", token=u.access), 200)
    body = assert_json(api.patch(f"/api/admin/users/{u.id}", {"disabled": True}, token=admin.access), 200)
    assert body["disabled"] is True and RFC3339_UTC.match(body["disabledAt"])
    t0 = time.time()
    for token in (u.access, access2):
        wait_until(lambda t=token: api.get("/api/me", token=t).status_code == 401, RECHECK + 5,
                   "a disabled user's token refused")
    assert time.time() - t0 <= 30
    assert_problem(api.post("/api/auth/refresh", {"refreshToken": refresh2}), 401)
    assert_problem(api.post("/api/auth/login", {"email": u.email, "password": PASSWORD}), 401,
                   "invalid_credentials")
    # enabled again: signs in again (the old sessions stay ended)
    body = assert_json(api.patch(f"/api/admin/users/{u.id}", {"disabled": False}, token=admin.access), 200)
    assert body["disabled"] is False and body.get("disabledAt") is None
    login(api, u.email)
    # each worker trusts its last look for up to the recheck interval: ask until past it
    end = time.time() + RECHECK + 1
    while time.time() < end:
        assert api.get("/api/me", token=u.access).status_code in (200, 401)
        time.sleep(0.2)
    assert api.get("/api/me", token=u.access).status_code == 401


def test_grant_credits(api, admin, register, db):
    u = register()
    start = db.credits(u.id)
    n = audit_count(db)
    r = api.post(f"/api/admin/users/{u.id}/credits", {"delta": 50, "reason": "support gesture"},
                 token=admin.access)
    row = assert_json(r, 201)
    assert row["kind"] == "grant" and row["delta"] == 50 and row["reason"] == "support gesture"
    assert row["userId"] == u.id and row["balance"] == start + 50 and RFC3339_UTC.match(row["createdAt"])
    assert db.credits(u.id) == start + 50
    row = assert_json(api.post(f"/api/admin/users/{u.id}/credits", {"delta": -20, "reason": "correction"},
                               token=admin.access), 201)
    assert row["balance"] == start + 30
    assert audit_count(db) == n + 2
    # never below zero; nothing moves on a refused request
    p = assert_problem(api.post(f"/api/admin/users/{u.id}/credits",
                                {"delta": -(start + 31), "reason": "too much"}, token=admin.access),
                       409, "invalid_state")
    assert p["balance"] == start + 30
    for body, fields in (({"delta": 0, "reason": "x"}, ["delta"]), ({"delta": 5}, ["reason"]),
                         ({"delta": 1.5, "reason": "x"}, ["delta"]),
                         ({"delta": 10 ** 9, "reason": "x"}, ["delta"]),
                         ({"delta": 5, "reason": ""}, ["reason"])):
        assert_problem(api.post(f"/api/admin/users/{u.id}/credits", body, token=admin.access), 400,
                       "validation_failed", fields=fields)
    assert_problem(api.post(f"/api/admin/users/{uuid.uuid4()}/credits", {"delta": 5, "reason": "x"},
                            token=admin.access), 404)
    assert db.credits(u.id) == start + 30 and audit_count(db) == n + 2


# ------------------------------------------------------------------------- jobs


def test_jobs_list_filters(api, admin, register, db):
    u = register()
    failed = make_job(db, u.id, "failed", refunded=True)
    ok = make_job(db, u.id, "succeeded")
    body = assert_json(api.get(f"/api/admin/jobs?userId={u.id}", token=admin.access), 200)
    assert [j["id"] for j in body["items"]] == [ok, failed]
    assert all(j["userId"] == u.id and "attempts" in j for j in body["items"])
    body = assert_json(api.get(f"/api/admin/jobs?userId={u.id}&status=failed&kind=sfx&provider=replicate",
                               token=admin.access), 200)
    assert [j["id"] for j in body["items"]] == [failed]
    body = assert_json(api.get(f"/api/admin/jobs?userId={u.id}&provider=local", token=admin.access), 200)
    assert body["items"] == [] and body["pagination"]["total"] == 0
    for q, field in (("status=done", "status"), ("userId=x", "userId"), ("page=0", "page"),
                     ("kind=bogus", "kind")):
        assert_problem(api.get(f"/api/admin/jobs?{q}", token=admin.access), 400, "validation_failed",
                       fields=[field])


def job_kinds(db):
    """The kinds the jobs table's CHECK allows, read from the database."""
    check = db.scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                      "WHERE conname = 'jobs_kind_check'")
    return re.findall(r"'([a-z_]+)'", check)


def test_every_job_kind_is_a_filter(api, admin, register, db):
    """Both job lists take every kind the schema has (narration and video_render
    were once refused by GET /api/jobs), and only those."""
    u = register()
    kinds = job_kinds(db)
    assert len(kinds) == 11 and "narration" in kinds
    for k in kinds:
        assert_json(api.get(f"/api/jobs?kind={k}", token=u.access), 200)
        assert_json(api.get(f"/api/admin/jobs?kind={k}", token=admin.access), 200)


def test_retry_failed_job_is_a_free_new_job(api, admin, register, db):
    u = register()
    failed = make_job(db, u.id, "failed", refunded=True)
    balance = db.credits(u.id)
    r = api.post(f"/api/admin/jobs/{failed}/retry", token=admin.access)
    job = assert_json(r, 202)
    assert r.headers["Location"] == f"/api/jobs/{job['id']}"
    assert job["id"] != failed and job["kind"] == "sfx" and job["costCredits"] == 0
    assert job["input"]["retryOf"] == failed and job["input"]["prompt"] == "rain"
    assert db.scalar("SELECT user_id FROM jobs WHERE id = :'j'", j=job["id"]) == u.id
    assert db.credits(u.id) == balance
    assert db.scalar("SELECT count(*) FROM audit_log WHERE action = 'job.retry' AND target = :'j'",
                     j=failed) == "1"
    ok = make_job(db, u.id, "succeeded")
    assert_problem(api.post(f"/api/admin/jobs/{ok}/retry", token=admin.access), 409, "invalid_state")
    clone = make_job(db, u.id, "failed", kind="voice_clone", refunded=True)
    assert_problem(api.post(f"/api/admin/jobs/{clone}/retry", token=admin.access), 409, "invalid_state")
    assert_problem(api.post(f"/api/admin/jobs/{uuid.uuid4()}/retry", token=admin.access), 404)


def test_refund_once(api, admin, register, db):
    u = register()
    ok = make_job(db, u.id, "succeeded", cost=7)
    balance = db.credits(u.id)
    row = assert_json(api.post(f"/api/admin/jobs/{ok}/refund", token=admin.access), 201)
    assert row["kind"] == "job_refund" and row["delta"] == 7 and row["jobId"] == ok
    assert db.credits(u.id) == balance + 7
    assert_problem(api.post(f"/api/admin/jobs/{ok}/refund", token=admin.access), 409, "conflict")
    failed = make_job(db, u.id, "failed", refunded=True)
    assert_problem(api.post(f"/api/admin/jobs/{failed}/refund", token=admin.access), 409, "conflict")
    running = make_job(db, u.id, "running")
    assert_problem(api.post(f"/api/admin/jobs/{running}/refund", token=admin.access), 409, "invalid_state")
    assert_problem(api.post(f"/api/admin/jobs/{uuid.uuid4()}/refund", token=admin.access), 404)
    assert_problem(api.post(f"/api/admin/jobs/{ok}/delete", token=admin.access), 404)
    assert db.credits(u.id) == balance + 7 - 5  # the running job made since holds its 5
    db.rows("UPDATE jobs SET status = 'cancelled' WHERE id = :'j'", j=running)


def test_stats(api, admin, register, db):
    u = register()
    make_job(db, u.id, "failed", refunded=True)
    make_job(db, u.id, "succeeded")
    body = assert_json(api.get("/api/admin/stats", token=admin.access), 200)
    assert set(body) == {"users", "activeUsersToday", "jobsLast24h", "providers", "credits", "queue",
                         "mail", "generatedAt"}
    assert body["users"]["total"] >= 2 and body["users"]["byRole"]["admin"] >= 1
    assert body["activeUsersToday"] >= 2  # both signed in today
    assert body["jobsLast24h"]["sfx"]["failed"] >= 1 and body["jobsLast24h"]["sfx"]["succeeded"] >= 1
    rep = [p for p in body["providers"] if p["provider"] == "replicate"][0]
    assert 0 < rep["errorRate"] <= 1 and rep["failed"] >= 1
    assert body["credits"]["spentLast24h"] >= 5
    assert body["credits"]["balanceTotal"] == int(db.scalar("SELECT sum(credits) FROM users"))
    assert isinstance(body["queue"]["depth"], int) and body["queue"]["oldestQueuedSeconds"] >= 0
    assert RFC3339_UTC.match(body["generatedAt"])
