"""A user's own provider keys: GET|POST /api/api-keys, DELETE /api/api-keys/{id},
and jobs that run on them (the Replicate simulator takes a user's key once
registered with POST /_sim/tokens; its stats count each call per key)."""
import glob
import json
import os
import secrets
import urllib.request
import uuid

import pytest

from conftest import DATA_DIR, RFC3339_UTC, UUID_RE, assert_json, assert_problem
from jobkit import SIM_URL, submit_tts, wait_for_job

KEY_FIELDS = {"id", "service", "last4", "isActive", "createdAt"}
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

pytestmark = pytest.mark.skipif(not SIM_URL, reason="no Replicate simulator")


def sim_post(path, body):
    req = urllib.request.Request(SIM_URL + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with _opener.open(req, timeout=30) as r:
        return json.loads(r.read())


def sim_stats():
    with _opener.open(SIM_URL + "/_sim/stats", timeout=30) as r:
        return json.loads(r.read())


def user_key(active=True):
    """A Replicate key the simulator takes (or, inactive, refuses: a revoked key)."""
    k = "r8_user" + secrets.token_hex(12)
    sim_post("/_sim/tokens", {"token": k, "active": active})
    return k


def add_key(api, u, key, service="replicate"):
    return api.post("/api/api-keys", {"service": service, "key": key}, token=u.access)


def keys_of(api, u):
    return assert_json(api.get("/api/api-keys", token=u.access), 200)["items"]


def stored(db, u):
    return db.rows("SELECT service, key_id, encode(ciphertext, 'hex'), last4 FROM api_keys "
                   "WHERE user_id = :'u'", u=u.id)


def test_add_list_replace_delete(api, db, register):
    u = register()
    assert keys_of(api, u) == []
    key = user_key()
    k = assert_json(add_key(api, u, key), 201)
    assert set(k) == KEY_FIELDS and UUID_RE.match(k["id"]) and RFC3339_UTC.match(k["createdAt"])
    assert k["service"] == "replicate" and k["last4"] == key[-4:] and k["isActive"] is True
    assert keys_of(api, u) == [k]
    # stored encrypted, with its key id; the key itself is nowhere in the row
    (row,) = stored(db, u)
    assert row[0] == "replicate" and row[1] and key[:8].encode().hex() not in row[2]
    assert int(db.scalar("SELECT count(*) FROM api_keys WHERE user_id = :'u' AND "
                         "position(convert_to(:'k', 'UTF8') IN ciphertext) > 0", u=u.id, k=key)) == 0
    # a second key for the service replaces the first
    key2 = user_key()
    k2 = assert_json(add_key(api, u, key2), 201)
    assert k2["id"] != k["id"] and keys_of(api, u) == [k2]
    # another user cannot see or remove it
    other = register()
    assert keys_of(api, other) == []
    assert_problem(api.request("DELETE", f"/api/api-keys/{k2['id']}", token=other.access), 404)
    assert api.request("DELETE", f"/api/api-keys/{k2['id']}", token=u.access).status_code == 204
    assert keys_of(api, u) == []
    assert_problem(api.request("DELETE", f"/api/api-keys/{k2['id']}", token=u.access), 404)
    assert_problem(api.request("DELETE", "/api/api-keys/not-a-uuid", token=u.access), 404)


def test_refusals_store_nothing(api, db, register):
    u = register()
    assert_problem(add_key(api, u, user_key(), service="elevenlabs"), 400, "validation_failed",
                   fields=["service"])
    assert_problem(api.post("/api/api-keys", {"service": "replicate"}, token=u.access), 400,
                   fields=["key"])
    assert_problem(add_key(api, u, "short"), 400, fields=["key"])
    assert_problem(add_key(api, u, "has a space in it"), 400, fields=["key"])
    assert_problem(api.post("/api/api-keys", {"service": "replicate", "key": user_key(),
                                              "extra": 1}, token=u.access), 400)
    assert_problem(add_key(api, u, "r8_not_a_key_the_provider_knows"), 422, "unprocessable")
    assert_problem(add_key(api, u, user_key(active=False)), 422, "unprocessable")
    assert_problem(api.post("/api/api-keys", {"service": "replicate", "key": user_key()}), 401)
    assert_problem(api.request("PUT", "/api/api-keys", token=u.access), 405)
    assert stored(db, u) == []


def test_key_never_logged(api, db, register):
    u = register()
    key = user_key()
    assert_json(add_key(api, u, key), 201)
    job = submit_tts(api, u)
    wait_for_job(api, u, job["id"], "succeeded")
    for path in glob.glob(os.path.join(DATA_DIR, "log", "*.log")):
        with open(path, errors="replace") as f:
            assert key not in f.read(), path


def test_job_runs_on_the_users_key_for_free(api, db, register):
    u = register()
    key = user_key()
    assert_json(add_key(api, u, key), 201)
    before = db.credits(u.id)
    job = submit_tts(api, u, text="Spoken on my own Replicate account.")
    assert job["costCredits"] == 0 and job["provider"] == "replicate"
    done = wait_for_job(api, u, job["id"], "succeeded")
    assert done["costCredits"] == 0
    assert db.credits(u.id) == before
    assert db.scalar("SELECT own_key FROM jobs WHERE id = :'j'", j=job["id"]) == "t"
    assert sim_stats().get("user_token:" + key[-4:], 0) >= 1  # the create carried it
    # someone without a key pays as before
    other = register()
    j2 = submit_tts(api, other)
    assert j2["costCredits"] > 0


def test_own_key_fee(api, db, register):
    db.run("UPDATE admin_config SET value = '2' WHERE key = 'own_key_fee'")
    try:
        u = register()
        assert_json(add_key(api, u, user_key()), 201)
        job = submit_tts(api, u)
        assert job["costCredits"] == 2
        wait_for_job(api, u, job["id"], "succeeded")
        assert db.credits(u.id) == 98
    finally:
        db.run("UPDATE admin_config SET value = '0' WHERE key = 'own_key_fee'")


def test_revoked_key_fails_the_users_job_not_the_service(api, db, register):
    u = register()
    key = user_key()
    k = assert_json(add_key(api, u, key), 201)
    sim_post("/_sim/tokens", {"token": key, "active": False})  # revoked at the provider
    job = submit_tts(api, u)
    done = wait_for_job(api, u, job["id"], "failed")
    assert done["error"]["code"] == "provider_key_rejected", done
    assert "key" in done["error"]["message"]
    assert keys_of(api, u) == [dict(k, isActive=False)]
    # the service goes on: another user's job succeeds
    other = register()
    wait_for_job(api, other, submit_tts(api, other)["id"], "succeeded")
    # and this user's next job runs on the service's key, at its price
    j2 = submit_tts(api, u)
    assert j2["costCredits"] > 0
    wait_for_job(api, u, j2["id"], "succeeded")


def test_key_removed_while_its_job_runs(api, db, register):
    """The user removes their key while a job on it is still at the provider: the
    poller's next look at it has no key to ask with, and fails it clearly."""
    import simctl
    from jobkit import sim as directive
    u = register()
    k = assert_json(add_key(api, u, user_key()), 201)
    simctl.gate(False, sim=SIM_URL)
    try:
        job = submit_tts(api, u, text="Held at the provider. " + directive(finish_gate=1,
                                                                           webhooks="none"))
        wait_for_job(api, u, job["id"], ("running",), timeout=30)
        assert api.request("DELETE", f"/api/api-keys/{k['id']}", token=u.access).status_code == 204
        done = wait_for_job(api, u, job["id"], "failed", timeout=30)
        assert done["error"]["code"] == "provider_key_rejected", done
    finally:
        simctl.gate(True, sim=SIM_URL)
