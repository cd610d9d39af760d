"""A project's life (issue 12): audios, the rule-based estimate, an expert, escrow,
deliverables, submit, changes, accept, cancel, rating, messages and history."""
import math

import pytest

from conftest import assert_json, assert_problem
from projectkit import (assert_project, assigned_project, attach, create_project,
                        deliver, estimate, get_project, in_review,
                        make_expert, ready_project, upload_audio, wait_project)


def ledger_kinds(db, user_id, kinds):
    """[(kind, delta)] of the user's rows of those kinds, sorted (rows of one
    transaction share their time)."""
    return sorted((k, int(d)) for k, d in db.rows(
        "SELECT kind, delta FROM credit_ledger WHERE user_id = :'u' AND kind = ANY (:'k'::text[])"
        " ORDER BY created_at, id", u=user_id, k="{" + ",".join(kinds) + "}"))


ESCROW = ("escrow_hold", "escrow_release", "escrow_refund", "platform_fee")


def test_attach_and_detach(api, register, db):
    u, other = register(), register()
    p = create_project(api, u)
    a1, a2 = upload_audio(api, u, seconds=1.0), upload_audio(api, u, seconds=2.0)
    q = attach(api, u, p["id"], a1["id"])
    assert q["audioIds"] == [a1["id"]]
    assert q["audios"][0]["filename"] == a1["filename"]
    assert abs(q["audios"][0]["durationMs"] - 1000) < 100
    assert "/media/" in q["audios"][0]["url"]
    media = q["audios"][0]["url"]
    assert api.s.get(media, timeout=30).status_code == 200  # the owner's link works
    q = attach(api, u, p["id"], a2["id"])
    assert q["audioIds"] == [a1["id"], a2["id"]]
    assert attach(api, u, p["id"], a2["id"])["audioIds"] == [a1["id"], a2["id"]]  # twice: once
    # someone else's audio, an unknown one: 404, nothing attached
    theirs = upload_audio(api, other)
    for aid in (theirs["id"], "00000000-0000-4000-8000-00000000abcd"):
        r = api.post(f"/api/projects/{p['id']}/audios", {"audioId": aid}, token=u.access)
        assert_problem(r, 404, "not_found")
    assert_problem(api.post(f"/api/projects/{p['id']}/audios", {"audioId": "x"},
                            token=u.access), 400, fields=["audioId"])
    assert_problem(api.post(f"/api/projects/{p['id']}/audios", {}, token=u.access), 400,
                   fields=["audioId"])
    # detach
    r = api.request("DELETE", f"/api/projects/{p['id']}/audios/{a1['id']}", token=u.access)
    assert assert_project(assert_json(r, 200))["audioIds"] == [a2["id"]]
    r = api.request("DELETE", f"/api/projects/{p['id']}/audios/{a1['id']}", token=u.access)
    assert_problem(r, 404, "not_found")
    # the audio itself stays
    assert_json(api.get(f"/api/audios/{a1['id']}", token=u.access), 200)
    # deleting an attached audio takes it out of the project
    assert api.request("DELETE", f"/api/audios/{a2['id']}", token=u.access).status_code == 204
    assert get_project(api, u, p["id"])["audioIds"] == []


def test_attach_only_in_draft(api, register, db):
    u = register()
    p = ready_project(api, u)
    a = upload_audio(api, u)
    r = api.post(f"/api/projects/{p['id']}/audios", {"audioId": a["id"]}, token=u.access)
    assert_problem(r, 409, "invalid_state")
    r = api.request("DELETE", f"/api/projects/{p['id']}/audios/{p['audioIds'][0]}",
                    token=u.access)
    assert_problem(r, 409, "invalid_state")


def test_rules_estimate(api, register, db):
    u = register()
    p = create_project(api, u)
    a = upload_audio(api, u, seconds=3.0)
    attach(api, u, p["id"], a["id"])
    before = db.credits(u.id)
    job = estimate(api, u, p["id"])
    assert job["kind"] == "estimate" and job["provider"] == "local"
    assert job["costCredits"] == 1
    assert get_project(api, u, p["id"])["status"] in ("estimating", "ready")
    q = wait_project(api, u, p["id"], ("ready",))
    e = q["estimate"]
    assert e["method"] == "rules"
    assert "not AI" in e["assumptions"]
    rates = {"setupMinutes": 15, "centsPerWorkMinute": 100}
    audio_minutes = math.ceil(a["durationMs"] / 60000 * 4)
    assert e["breakdown"] == [
        {"task": "Setup, listening and final review", "minutes": 15, "costCents": 1500},
        {"task": "Edit and master " + a["filename"], "minutes": audio_minutes,
         "costCents": audio_minutes * rates["centsPerWorkMinute"]}]
    assert e["durationMinutes"] == 15 + audio_minutes
    assert e["costCents"] == sum(b["costCents"] for b in e["breakdown"])
    assert db.credits(u.id) == before - 1
    # the job holds the estimate too
    j = assert_json(api.get(f"/api/jobs/{job['id']}", token=u.access), 200)
    assert j["status"] == "succeeded" and j["result"]["estimate"] == e
    hist = assert_json(api.get(f"/api/projects/{p['id']}/history", token=u.access), 200)
    assert [(h["from"], h["to"]) for h in hist] == [
        (None, "draft"), ("draft", "estimating"), ("estimating", "ready")]
    assert hist[1]["by"] == u.id and hist[2]["by"] is None
    # not again from ready
    assert_problem(api.post(f"/api/projects/{p['id']}/estimate", token=u.access), 409,
                   "invalid_state")


def test_estimate_failure_returns_to_draft_and_refunds(api, register, db):
    """An estimate job that fails (here: rates that are no numbers) moves the project
    back to draft with the error, in the job's transaction, and the job is refunded."""
    u = register()
    p = create_project(api, u)
    attach(api, u, p["id"], upload_audio(api, u)["id"])
    before = db.credits(u.id)
    old = db.scalar("SELECT value::text FROM admin_config WHERE key = 'estimate_rates'")
    try:
        db.rows("UPDATE admin_config SET value = '{\"centsPerWorkMinute\": \"lots\"}'"
                " WHERE key = 'estimate_rates' RETURNING key")
        job = estimate(api, u, p["id"])
        q = wait_project(api, u, p["id"], ("draft",))
    finally:
        db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'estimate_rates'"
                " RETURNING key", v=old)
    assert q["estimateError"]["code"] == "estimate_failed", q
    assert "estimate_rates" in q["estimateError"]["message"]
    assert "estimate" not in q
    j = assert_json(api.get(f"/api/jobs/{job['id']}", token=u.access), 200)
    assert j["status"] == "failed" and j["error"]["code"] == "estimate_failed"
    assert db.credits(u.id) == before
    hist = assert_json(api.get(f"/api/projects/{p['id']}/history", token=u.access), 200)
    assert [(h["from"], h["to"]) for h in hist][-2:] == [("draft", "estimating"),
                                                         ("estimating", "draft")]
    # a second estimate works and clears the error
    estimate(api, u, p["id"])
    q = wait_project(api, u, p["id"], ("ready",))
    assert "estimateError" not in q and q["estimate"]["method"] == "rules"


def test_cancelling_the_estimate_job_returns_to_draft(api, register, db):
    """DELETE /api/jobs/{id} of a queued estimate: the project goes back to draft in
    the cancel's transaction. The job is held queued by a far run_at... set before the
    poller can claim it: the project is created, then the job row is made with
    run_at in the future by the same SQL the handler runs."""
    u = register()
    p = create_project(api, u)
    # Submit as the handler would, in one psql transaction that also delays the job,
    # so no poller can take it first.
    row = db.rows("""
        BEGIN;
        SELECT set_config('reelvox.user_id', :'u', true), set_config('reelvox.role', 'user', true);
        SELECT job_id FROM rv_project_estimate(:'p', NULL, '{local}', 'tok') \\gset
        UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = :'job_id' RETURNING id;
        COMMIT;""", u=u.id, p=p["id"])
    job_id = row[-1][0] if row and len(row[-1]) == 1 else None
    assert job_id, row
    assert get_project(api, u, p["id"])["status"] == "estimating"
    before = db.credits(u.id)
    assert_json(api.request("DELETE", f"/api/jobs/{job_id}", token=u.access), 200)
    q = get_project(api, u, p["id"])
    assert q["status"] == "draft" and q["estimateError"]["code"] == "cancelled", q
    assert db.credits(u.id) == before + 1


def test_estimate_needs_draft_and_owner(api, register, db):
    u = register()
    p = create_project(api, u)
    # 402 with no credits, nothing moves
    poor = register()
    pp = create_project(api, poor)
    db.rows("SELECT rv_credit_move(:'u', -100, 'grant', 'test: empty the balance')", u=poor.id)
    r = api.post(f"/api/projects/{pp['id']}/estimate", token=poor.access)
    b = assert_problem(r, 402, "insufficient_credits")
    assert b["required"] == 1 and b["balance"] == 0
    assert get_project(api, poor, pp["id"])["status"] == "draft"
    # idempotency: the same key answers the same job
    j1 = estimate(api, u, p["id"], headers={"Idempotency-Key": "k-1"})
    j2 = estimate(api, u, p["id"], headers={"Idempotency-Key": "k-1"})
    assert j1["id"] == j2["id"]
    assert_problem(api.post(f"/api/projects/{p['id']}/estimate", token=u.access,
                            headers={"Idempotency-Key": "x" * 256}), 400)


def test_experts_profile_and_search(api, register, db):
    u = register()
    # a plain user may not keep a profile
    r = api.request("PUT", "/api/experts/me", token=u.access, json_body={
        "name": "X", "hourlyRateCents": 1, "specialties": [], "languages": [],
        "availability": "available"})
    assert_problem(r, 403, "forbidden")
    specs = assert_json(api.get("/api/experts/specialties"), 200)["items"]
    assert "mixing" in specs and "mastering" in specs
    e1 = make_expert(api, db, rate=5000, specialties=("mixing", "mastering"),
                     languages=("en", "de"), name="Ann")
    e2 = make_expert(api, db, rate=9000, specialties=("dubbing",), languages=("fr",),
                     availability="busy", name="Bob")
    r = api.request("PUT", "/api/experts/me", token=e1.access, json_body={
        "name": "Ann", "hourlyRateCents": 5000, "specialties": ["juggling"], "languages": [],
        "availability": "available"})
    assert_problem(r, 400, "validation_failed", fields=["specialties"])
    r = api.request("PUT", "/api/experts/me", token=e1.access, json_body={
        "name": "", "hourlyRateCents": -1, "specialties": "mixing", "languages": ["??"],
        "availability": "asleep"})
    assert_problem(r, 400, "validation_failed",
                   fields=["name", "hourlyRateCents", "specialties", "languages",
                           "availability"])
    got = assert_json(api.get(f"/api/experts/{e1.id}", token=u.access), 200)
    assert got["userId"] == e1.id and got["name"] == "Ann"
    assert got["specialties"] == ["mastering", "mixing"] and got["languages"] == ["de", "en"]
    assert got["rating"] == 0 and got["ratingCount"] == 0 and got["ratings"] == []
    assert got["availability"] == "available" and got["hourlyRateCents"] == 5000
    assert_problem(api.get(f"/api/experts/{u.id}", token=u.access), 404)
    ids = lambda q: [x["userId"] for x in assert_json(api.get("/api/experts?limit=100&" + q,
                                                              token=u.access), 200)["items"]]
    assert e1.id in ids("specialty=mastering") and e2.id not in ids("specialty=mastering")
    assert e2.id in ids("language=fr") and e1.id not in ids("language=fr")
    assert e2.id in ids("availability=busy") and e1.id not in ids("availability=busy")
    assert e1.id in ids("minRateCents=5000&maxRateCents=5000")
    assert e2.id not in ids("minRateCents=5000&maxRateCents=5000")
    for bad in ("availability=asleep", "minRateCents=-1", "maxRateCents=x", "limit=101"):
        assert_problem(api.get("/api/experts?" + bad, token=u.access), 400)
    assert_problem(api.get("/api/experts"), 401)


def test_assign_hold_and_refusals(api, register, db):
    owner = register()
    p = ready_project(api, owner)
    price = p["estimate"]["costCents"]  # centsPerCredit 1
    expert = make_expert(api, db)
    offline = make_expert(api, db, availability="offline")
    plain = register()
    url = f"/api/projects/{p['id']}/expert"
    for who in (plain.id, owner.id, "00000000-0000-4000-8000-00000000abcd"):
        assert_problem(api.post(url, {"expertId": who}, token=owner.access), 404, "not_found")
    assert_problem(api.post(url, {"expertId": offline.id}, token=owner.access), 409, "conflict")
    bal = db.credits(owner.id)
    b = assert_problem(api.post(url, {"expertId": expert.id}, token=owner.access), 402,
                       "insufficient_credits")
    assert b["required"] == price and b["balance"] == bal
    assert get_project(api, owner, p["id"])["status"] == "ready"
    db.grant(owner.id, price)
    q = assert_project(assert_json(api.post(url, {"expertId": expert.id}, token=owner.access),
                                   200), "in_progress")
    assert q["expertId"] == expert.id and q["priceCredits"] == price
    assert db.credits(owner.id) == bal
    assert ledger_kinds(db, owner.id, ESCROW) == [("escrow_hold", -price)]
    # not twice
    assert_problem(api.post(url, {"expertId": expert.id}, token=owner.access), 409,
                   "invalid_state")
    # the expert sees it in their list, with links to the owner's audios
    items = assert_json(api.get("/api/expert/projects", token=expert.access), 200)["items"]
    assert [x["id"] for x in items] == [p["id"]]
    assert items[0]["audios"][0]["url"]
    assert assert_json(api.get("/api/expert/projects", token=owner.access), 200)["items"] == []


def test_price_rounds_up_by_cents_per_credit(api, register, db):
    owner = register()
    p = ready_project(api, owner)
    cents = p["estimate"]["costCents"]
    old = db.scalar("SELECT value::text FROM admin_config WHERE key = 'escrow'")
    try:
        db.rows("UPDATE admin_config SET value = jsonb_set(value, '{centsPerCredit}', '7')"
                " WHERE key = 'escrow' RETURNING key")
        db.grant(owner.id, 10000)
        e = make_expert(api, db)
        q = assert_json(api.post(f"/api/projects/{p['id']}/expert", {"expertId": e.id},
                                 token=owner.access), 200)
        assert q["priceCredits"] == math.ceil(cents / 7)
    finally:
        db.rows("UPDATE admin_config SET value = :'v'::jsonb WHERE key = 'escrow' RETURNING key",
                v=old)


def test_deliver_submit_accept_fee(api, register, db):
    owner = register()
    p, e = assigned_project(api, db, owner)
    price = p["priceCredits"]
    # submit needs a deliverable
    assert_problem(api.post(f"/api/projects/{p['id']}/submit", token=e.access), 409,
                   "invalid_state")
    # only the expert's own audio
    theirs = upload_audio(api, owner)
    assert_problem(api.post(f"/api/projects/{p['id']}/deliverables", {"audioId": theirs["id"]},
                            token=e.access), 404)
    d = deliver(api, e, p["id"])
    assert set(d) == {"id", "audioId", "filename", "durationMs", "url", "createdAt"}
    for who in (owner, e):
        items = assert_json(api.get(f"/api/projects/{p['id']}/deliverables", token=who.access),
                            200)["items"]
        assert [x["id"] for x in items] == [d["id"]] and items[0]["url"]
    assert_project(assert_json(api.post(f"/api/projects/{p['id']}/submit", token=e.access),
                                   200), "review")
    # no more deliverables in review
    assert_problem(api.post(f"/api/projects/{p['id']}/deliverables",
                            {"audioId": upload_audio(api, e)["id"]}, token=e.access), 409,
                   "invalid_state")
    before_e = db.credits(e.id)
    assert_project(assert_json(api.post(f"/api/projects/{p['id']}/accept",
                                            token=owner.access), 200), "completed")
    fee = price * 10 // 100
    assert db.credits(e.id) == before_e + price - fee
    assert ledger_kinds(db, e.id, ESCROW) == sorted([("escrow_release", price),
                                                     ("platform_fee", -fee)])
    assert db.scalar("SELECT escrow_credits FROM projects WHERE id = :'p'", p=p["id"]) == "0"
    # terminal: nothing moves any more
    for action in ("cancel", "accept"):
        assert_problem(api.post(f"/api/projects/{p['id']}/{action}", token=owner.access), 409,
                       "invalid_state")
    hist = assert_json(api.get(f"/api/projects/{p['id']}/history", token=e.access), 200)
    assert [h["to"] for h in hist] == ["draft", "estimating", "ready", "in_progress", "review",
                                       "completed"]
    assert [h["by"] for h in hist][3:] == [owner.id, e.id, owner.id]


def test_changes_then_accept(api, register, db):
    owner = register()
    p, e = in_review(api, db, owner)
    assert_problem(api.post(f"/api/projects/{p['id']}/changes", {"message": ""},
                            token=owner.access), 400, fields=["message"])
    assert_problem(api.post(f"/api/projects/{p['id']}/changes", {"message": "x" * 10001},
                            token=owner.access), 400, fields=["message"])
    assert_project(assert_json(api.post(f"/api/projects/{p['id']}/changes",
                                            {"message": "More bass, please"},
                                            token=owner.access), 200), "in_progress")
    assert get_project(api, e, p["id"])["unread"] == 1
    msgs = assert_json(api.get(f"/api/projects/{p['id']}/messages", token=e.access), 200)
    assert msgs["items"][0]["body"] == "More bass, please"
    assert msgs["items"][0]["authorId"] == owner.id
    assert get_project(api, e, p["id"])["unread"] == 0
    # changes only from review
    assert_problem(api.post(f"/api/projects/{p['id']}/changes", {"message": "again"},
                            token=owner.access), 409, "invalid_state")
    deliver(api, e, p["id"])
    assert_json(api.post(f"/api/projects/{p['id']}/submit", token=e.access), 200)
    assert_json(api.post(f"/api/projects/{p['id']}/accept", token=owner.access), 200)
    hist = assert_json(api.get(f"/api/projects/{p['id']}/history", token=owner.access), 200)
    assert [h["to"] for h in hist][-4:] == ["review", "in_progress", "review", "completed"]


@pytest.mark.parametrize("submitted", [False, True])
def test_cancel_refund_rule(api, register, db, submitted):
    owner = register()
    if submitted:
        p, e = in_review(api, db, owner)
    else:
        p, e = assigned_project(api, db, owner)
    price = p["priceCredits"]
    before_o, before_e = db.credits(owner.id), db.credits(e.id)
    # the expert may not cancel
    assert_problem(api.post(f"/api/projects/{p['id']}/cancel", token=e.access), 403,
                   "forbidden")
    assert_project(assert_json(api.post(f"/api/projects/{p['id']}/cancel",
                                            token=owner.access), 200), "cancelled")
    refund = price * 50 // 100 if submitted else price
    rest = price - refund
    fee = rest * 10 // 100
    assert db.credits(owner.id) == before_o + refund
    assert db.credits(e.id) == before_e + rest - fee
    assert ("escrow_refund", refund) in ledger_kinds(db, owner.id, ESCROW)
    if submitted:
        assert ledger_kinds(db, e.id, ESCROW) == sorted([("escrow_release", rest),
                                                         ("platform_fee", -fee)])
    else:
        assert ledger_kinds(db, e.id, ESCROW) == []
    assert_problem(api.post(f"/api/projects/{p['id']}/cancel", token=owner.access), 409,
                   "invalid_state")
    # a cancelled project may go
    assert api.request("DELETE", f"/api/projects/{p['id']}", token=owner.access).status_code == 204


def test_cancel_while_estimating_cancels_the_job(api, register, db):
    owner = register()
    p = create_project(api, owner)
    before = db.credits(owner.id)
    job = estimate(api, owner, p["id"])
    r = api.post(f"/api/projects/{p['id']}/cancel", token=owner.access)
    assert_project(assert_json(r, 200), "cancelled")
    j = assert_json(api.get(f"/api/jobs/{job['id']}", token=owner.access), 200)
    # either the job had finished (ready → cancelled) or it was cancelled and refunded
    if j["status"] == "cancelled":
        assert db.credits(owner.id) == before
    else:
        assert j["status"] == "succeeded"
    assert get_project(api, owner, p["id"])["status"] == "cancelled"


def test_rating_once_and_average(api, register, db):
    e = make_expert(api, db)
    stars = []
    for s in (5, 2):
        owner = register()
        p, _ = assigned_project(api, db, owner, expert=e)
        url = f"/api/projects/{p['id']}/rating"
        assert_problem(api.post(url, {"stars": s}, token=owner.access), 409, "invalid_state")
        deliver(api, e, p["id"])
        assert_json(api.post(f"/api/projects/{p['id']}/submit", token=e.access), 200)
        assert_json(api.post(f"/api/projects/{p['id']}/accept", token=owner.access), 200)
        assert_problem(api.post(url, {"stars": 6}, token=owner.access), 400, fields=["stars"])
        assert_problem(api.post(url, {"stars": 3, "comment": "c" * 2001}, token=owner.access),
                       400, fields=["comment"])
        assert_problem(api.post(url, {"stars": s}, token=e.access), 403, "forbidden")
        r = assert_json(api.post(url, {"stars": s, "comment": "thanks"}, token=owner.access), 201)
        assert r["stars"] == s and r["expertId"] == e.id
        assert_problem(api.post(url, {"stars": 1}, token=owner.access), 409, "conflict")
        stars.append(s)
    got = assert_json(api.get(f"/api/experts/{e.id}", token=e.access), 200)
    assert got["ratingCount"] == 2 and got["rating"] == 3.5
    assert [x["stars"] for x in got["ratings"]] == [2, 5]


def test_messages_thread(api, register, db):
    owner = register()
    p, e = assigned_project(api, db, owner)
    url = f"/api/projects/{p['id']}/messages"
    assert_problem(api.post(url, {"body": ""}, token=owner.access), 400, fields=["body"])
    assert_problem(api.post(url, {"body": "x" * 10001}, token=owner.access), 400,
                   fields=["body"])
    m = assert_json(api.post(url, {"body": "x" * 10000}, token=owner.access), 201)
    assert set(m) == {"id", "authorId", "body", "createdAt"} and m["authorId"] == owner.id
    for i in range(3):
        assert_json(api.post(url, {"body": f"from expert {i}"}, token=e.access), 201)
    assert get_project(api, owner, p["id"])["unread"] == 3
    assert get_project(api, e, p["id"])["unread"] == 1
    page = assert_json(api.get(url + "?limit=2", token=owner.access), 200)
    assert [x["body"] for x in page["items"]] == ["from expert 2", "from expert 1"]
    assert page["pagination"]["total"] == 4 and page["pagination"]["hasNext"]
    assert get_project(api, owner, p["id"])["unread"] == 0
    assert get_project(api, e, p["id"])["unread"] == 1
    page = assert_json(api.get(url + "?page=2&limit=2", token=e.access), 200)
    assert [x["authorId"] for x in page["items"]] == [e.id, owner.id]
    assert get_project(api, e, p["id"])["unread"] == 0
