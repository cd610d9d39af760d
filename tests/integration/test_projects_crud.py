"""Projects: create, list, get, rename, delete (issue 12, API.md "Projects and
experts")."""
import uuid

import pytest

from conftest import assert_json, assert_problem
from projectkit import (assert_project, create_project, escrow_invariant,  # noqa: F401
                        get_project)


def test_create_get_and_shape(api, register, db):
    u = register()
    p = create_project(api, u, name="Ep 1", description="raw takes")
    assert p["name"] == "Ep 1" and p["description"] == "raw takes"
    assert p["audioIds"] == [] and p["audios"] == [] and p["unread"] == 0
    assert not {"estimate", "expertId", "priceCredits"} & set(p)
    assert get_project(api, u, p["id"]) == p
    # description is optional
    r = api.post("/api/projects", {"name": "x"}, token=u.access)
    assert assert_json(r, 201)["description"] == ""
    # recorded in the history as its creation
    assert db.scalar("SELECT count(*) FROM project_history WHERE project_id = :'p'"
                     " AND from_status IS NULL AND to_status = 'draft'", p=p["id"]) == "1"


@pytest.mark.parametrize("body,fields", [
    ({}, ["name"]),
    ({"name": ""}, ["name"]),
    ({"name": "x" * 201}, ["name"]),
    ({"name": "ok", "description": "d" * 5001}, ["description"]),
    ({"name": 5}, ["name"]),
    ({"name": "ok", "status": "ready"}, ["status"]),
])
def test_create_validation(api, register, db, body, fields):
    u = register()
    r = api.post("/api/projects", body, token=u.access)
    assert_problem(r, 400, "validation_failed", fields=fields)
    assert db.scalar("SELECT count(*) FROM projects WHERE user_id = :'u'", u=u.id) == "0"


def test_create_limits_and_auth(api, register):
    u = register()
    assert_problem(api.post("/api/projects", {"name": "x"}), 401, "unauthorized")
    r = api.request("POST", "/api/projects", data=b"{", token=u.access, ctype="application/json")
    assert_problem(r, 400, "malformed_json")
    r = api.request("POST", "/api/projects", data=b"name=x", token=u.access,
                    ctype="application/x-www-form-urlencoded")
    assert_problem(r, 415)
    assert_problem(api.request("PUT", "/api/projects", token=u.access), 405)
    # 200 characters of multibyte text are fine
    r = api.post("/api/projects", {"name": "é" * 200}, token=u.access)
    assert assert_json(r, 201)["name"] == "é" * 200


def test_list_pagination_and_status(api, register, db):
    u, other = register(), register()
    ids = [create_project(api, u, name=f"p{i}")["id"] for i in range(5)]
    create_project(api, other)
    b = assert_json(api.get("/api/projects?limit=2", token=u.access), 200)
    assert [p["id"] for p in b["items"]] == ids[::-1][:2]
    assert b["pagination"] == {"page": 1, "limit": 2, "total": 5, "totalPages": 3,
                               "hasNext": True, "hasPrev": False}
    b = assert_json(api.get("/api/projects?limit=2&page=3", token=u.access), 200)
    assert [p["id"] for p in b["items"]] == [ids[0]]
    for p in b["items"]:
        assert_project(p)
    b = assert_json(api.get("/api/projects?page=9", token=u.access), 200)
    assert b["items"] == [] and b["pagination"]["total"] == 5
    # a status filter
    db.rows("UPDATE projects SET status = 'cancelled' WHERE id = :'p' RETURNING id", p=ids[1])
    b = assert_json(api.get("/api/projects?status=cancelled", token=u.access), 200)
    assert [p["id"] for p in b["items"]] == [ids[1]]
    b = assert_json(api.get("/api/projects?status=draft", token=u.access), 200)
    assert b["pagination"]["total"] == 4
    assert_problem(api.get("/api/projects?status=bogus", token=u.access), 400, fields=["status"])
    assert_problem(api.get("/api/projects?limit=0", token=u.access), 400, fields=["limit"])


def test_someone_elses_project_is_404(api, register):
    u, other = register(), register()
    p = create_project(api, u)
    for method, body in (("GET", None), ("PATCH", {"name": "mine"}), ("DELETE", None)):
        r = api.request(method, f"/api/projects/{p['id']}", token=other.access, json_body=body)
        assert_problem(r, 404, "not_found")
    for bad in (str(uuid.uuid4()), "not-a-uuid", "0" * 36):
        assert_problem(api.get(f"/api/projects/{bad}", token=u.access), 404, "not_found")
    assert get_project(api, u, p["id"])["name"] == p["name"]


def test_patch(api, register):
    u = register()
    p = create_project(api, u)
    q = assert_project(assert_json(api.patch(f"/api/projects/{p['id']}", {"name": "New"},
                                             token=u.access), 200))
    assert q["name"] == "New" and q["description"] == p["description"]
    q = assert_json(api.patch(f"/api/projects/{p['id']}", {"description": ""},
                              token=u.access), 200)
    assert q["name"] == "New" and q["description"] == ""
    r = api.patch(f"/api/projects/{p['id']}", {"name": ""}, token=u.access)
    assert_problem(r, 400, "validation_failed", fields=["name"])
    r = api.patch(f"/api/projects/{p['id']}", {"status": "ready"}, token=u.access)
    assert_problem(r, 400, "validation_failed", fields=["status"])
    assert get_project(api, u, p["id"])["status"] == "draft"


@pytest.mark.parametrize("status,allowed", [
    ("draft", True), ("cancelled", True), ("estimating", False), ("ready", False),
])
def test_delete_only_draft_or_cancelled(api, register, db, status, allowed):
    u = register()
    p = create_project(api, u)
    if status == "cancelled":
        db.rows("UPDATE projects SET status = 'cancelled' WHERE id = :'p' RETURNING id", p=p["id"])
    elif status != "draft":
        db.rows("UPDATE projects SET status = 'estimating' WHERE id = :'p' RETURNING id",
                p=p["id"])
        if status == "ready":
            db.rows("UPDATE projects SET status = 'ready' WHERE id = :'p' RETURNING id",
                    p=p["id"])
    r = api.request("DELETE", f"/api/projects/{p['id']}", token=u.access)
    if allowed:
        assert r.status_code == 204, r.text
        assert_problem(api.get(f"/api/projects/{p['id']}", token=u.access), 404)
    else:
        assert_problem(r, 409, "invalid_state")
        assert get_project(api, u, p["id"])["status"] == status
