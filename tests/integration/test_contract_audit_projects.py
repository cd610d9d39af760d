"""Contract audit (API.md, Projects and experts): the deliverables list pages like
every list (page/limit, {items, pagination}, newest first) for the owner and the
assigned expert; roles: an action the caller's role does not allow on a project it
can see is 403, one it cannot see 404; the escrow moves only on allowed actions."""
from conftest import assert_json, assert_problem
from projectkit import assert_project, assigned_project, deliver, make_expert, ready_project

PAGINATION = {"page", "limit", "total", "totalPages", "hasNext", "hasPrev"}


def test_deliverables_page_like_every_list(api, db, register):
    owner = register()
    p, e = assigned_project(api, db, owner)
    first = deliver(api, e, p["id"])
    second = deliver(api, e, p["id"])
    for who in (owner, e):
        body = assert_json(api.get(f"/api/projects/{p['id']}/deliverables", token=who.access),
                           200)
        assert set(body) == {"items", "pagination"}, body
        assert [d["id"] for d in body["items"]] == [second["id"], first["id"]]
        assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1,
                                      "hasNext": False, "hasPrev": False}
        for d in body["items"]:
            assert set(d) == {"id", "audioId", "filename", "durationMs", "url", "createdAt"}
            assert "/media/" in d["url"] and "sig=" in d["url"], d
        one = assert_json(api.get(f"/api/projects/{p['id']}/deliverables?page=2&limit=1",
                                  token=who.access), 200)
        assert [d["id"] for d in one["items"]] == [first["id"]]
        assert one["pagination"] == {"page": 2, "limit": 1, "total": 2, "totalPages": 2,
                                     "hasNext": False, "hasPrev": True}
        for bad, field in (("limit=0", "limit"), ("limit=101", "limit"), ("page=0", "page")):
            assert_problem(api.get(f"/api/projects/{p['id']}/deliverables?{bad}",
                                   token=who.access), 400, "validation_failed", fields={field})
    stranger = register()
    assert_problem(api.get(f"/api/projects/{p['id']}/deliverables", token=stranger.access),
                   404, "not_found")


def test_roles_on_a_project(api, db, register):
    owner = register()
    p, e = assigned_project(api, db, owner)
    held = db.credits(owner.id)
    assert_problem(api.post(f"/api/projects/{p['id']}/accept", token=e.access), 403,
                   "forbidden")
    assert_problem(api.post(f"/api/projects/{p['id']}/cancel", token=e.access), 403,
                   "forbidden")
    assert_problem(api.post(f"/api/projects/{p['id']}/submit", token=owner.access), 403,
                   "forbidden")
    assert_problem(api.post(f"/api/projects/{p['id']}/deliverables",
                            {"audioId": p["audioIds"][0]}, token=owner.access), 403, "forbidden")
    other = make_expert(api, db)
    for path in ("/accept", "/submit", "/cancel", "/deliverables", "/messages", "/history", ""):
        r = api.get(f"/api/projects/{p['id']}{path}", token=other.access) if path in (
            "/deliverables", "/messages", "/history", "") else \
            api.post(f"/api/projects/{p['id']}{path}", token=other.access)
        assert_problem(r, 404, "not_found")
    assert db.credits(owner.id) == held
    listed = assert_json(api.get("/api/expert/projects?status=in_progress", token=e.access), 200)
    assert p["id"] in [x["id"] for x in listed["items"]]
    assert set(listed["pagination"]) == PAGINATION
    seen = assert_project(assert_json(api.get(f"/api/projects/{p['id']}", token=e.access), 200),
                          "in_progress")
    assert seen["expertId"] == e.id and seen["priceCredits"] > 0, seen


def test_assign_refusals_move_nothing(api, db, register):
    owner = register()
    p = ready_project(api, owner)
    before = db.credits(owner.id)
    offline = make_expert(api, db, availability="offline")
    assert_problem(api.post(f"/api/projects/{p['id']}/expert", {"expertId": offline.id},
                            token=owner.access), 409)
    assert_problem(api.post(f"/api/projects/{p['id']}/expert", {"expertId": owner.id},
                            token=owner.access), 404, "not_found")
    e = make_expert(api, db)
    body = assert_problem(api.post(f"/api/projects/{p['id']}/expert", {"expertId": e.id},
                                   token=owner.access), 402, "insufficient_credits")
    assert body["balance"] == before and body["required"] > before, body
    assert db.credits(owner.id) == before
    assert_project(assert_json(api.get(f"/api/projects/{p['id']}", token=owner.access), 200),
                   "ready")
