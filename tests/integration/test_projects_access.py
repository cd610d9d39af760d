"""Who may do what to a project (issue 12, "Access rules"): every endpoint of a
project against every caller — the owner, the assigned expert, another expert,
another user, an admin. A project the caller cannot see is 404; an action the
caller's role does not allow on a project they can see is 403; an allowed one goes
on to the state checks (so, on a project in a state where it is illegal, 409) or
succeeds. A refused request changes nothing. Row level security agrees."""
import uuid

import pytest

from conftest import do_register
from projectkit import (assigned_project, deliver,
                        make_expert, upload_audio, with_role)
from conftest import Api, Db

ROLES = ("owner", "expert", "other_expert", "other_user", "admin")


@pytest.fixture(scope="module")
def world():
    api, db = Api(), Db()
    owner = do_register(api)
    p, expert = assigned_project(api, db, owner)  # in_progress
    deliver(api, expert, p["id"])
    done, _ = assigned_project(api, db, owner, expert=expert)
    deliver(api, expert, done["id"])
    for path, who in (("submit", expert), ("accept", owner)):
        r = api.post(f"/api/projects/{done['id']}/{path}", token=who.access)
        assert r.status_code == 200, r.text
    w = {
        "api": api, "db": db, "p": p, "done": done,
        "owner": owner, "expert": expert,
        "other_expert": make_expert(api, db, name="Other"),
        "other_user": do_register(api),
        "admin": with_role(api, db, "admin"),
    }
    w["owner_audio"] = upload_audio(api, owner)["id"]
    w["expert_audio"] = upload_audio(api, expert)["id"]
    yield w
    api.close()


def snapshot(db, pid):
    return db.rows("""
        SELECT status, name, description, escrow_credits, expert_id,
               (SELECT count(*) FROM project_audios WHERE project_id = p.id),
               (SELECT count(*) FROM project_deliverables WHERE project_id = p.id),
               (SELECT count(*) FROM project_messages WHERE project_id = p.id),
               (SELECT count(*) FROM project_ratings WHERE project_id = p.id),
               (SELECT count(*) FROM credit_ledger WHERE user_id IN (p.user_id, p.expert_id))
          FROM projects p WHERE id = :'p'""", p=pid)


# (name, method, path, body, {role: status}); in the path {p} is the in_progress
# project, {done} the completed one. A role not listed: 404.
def body_audio(w, role):
    return {"audioId": w["expert_audio"] if role == "expert" else w["owner_audio"]}


CASES = [
    ("get", "GET", "/api/projects/{p}", None,
     {"owner": 200, "expert": 200, "admin": 200}),
    ("patch", "PATCH", "/api/projects/{p}", lambda w, r: {"name": w["p"]["name"]},
     {"owner": 200, "expert": 403, "admin": 200}),
    ("delete", "DELETE", "/api/projects/{p}", None,
     {"owner": 409, "expert": 403, "admin": 409}),
    ("attach", "POST", "/api/projects/{p}/audios", lambda w, r: {"audioId": w["owner_audio"]},
     {"owner": 409, "expert": 403, "admin": 403}),
    ("detach", "DELETE", "/api/projects/{p}/audios/{audio}", None,
     {"owner": 409, "expert": 403, "admin": 403}),
    ("history", "GET", "/api/projects/{p}/history", None,
     {"owner": 200, "expert": 200, "admin": 200}),
    ("estimate", "POST", "/api/projects/{p}/estimate", None,
     {"owner": 409, "expert": 403, "admin": 403}),
    ("assign", "POST", "/api/projects/{p}/expert",
     lambda w, r: {"expertId": w["other_expert"].id},
     {"owner": 409, "expert": 403, "admin": 403}),
    ("deliverables", "GET", "/api/projects/{p}/deliverables", None,
     {"owner": 200, "expert": 200, "admin": 200}),
    ("deliver", "POST", "/api/projects/{p}/deliverables", body_audio,
     {"owner": 403, "expert": 201, "admin": 403}),
    ("submit", "POST", "/api/projects/{done}/submit", None,
     {"owner": 403, "expert": 409, "admin": 403}),
    ("accept", "POST", "/api/projects/{p}/accept", None,
     {"owner": 409, "expert": 403, "admin": 403}),
    ("changes", "POST", "/api/projects/{p}/changes", lambda w, r: {"message": "redo"},
     {"owner": 409, "expert": 403, "admin": 403}),
    ("cancel", "POST", "/api/projects/{done}/cancel", None,
     {"owner": 409, "expert": 403, "admin": 409}),
    ("rating", "POST", "/api/projects/{p}/rating", lambda w, r: {"stars": 4},
     {"owner": 409, "expert": 403, "admin": 403}),
    ("messages", "GET", "/api/projects/{p}/messages", None,
     {"owner": 200, "expert": 200, "admin": 200}),
    ("message", "POST", "/api/projects/{p}/messages", lambda w, r: {"body": "hello"},
     {"owner": 201, "expert": 201, "admin": 403}),
]

CODES = {403: "forbidden", 404: "not_found", 409: "invalid_state"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matrix(world, case, role):
    name, method, path, body, allowed = case
    w = world
    want = allowed.get(role, 404)
    pid = w["done"]["id"] if "{done}" in path else w["p"]["id"]
    url = path.format(p=w["p"]["id"], done=w["done"]["id"], audio=w["p"]["audioIds"][0])
    before = snapshot(w["db"], pid)
    r = w["api"].request(method, url, token=w[role].access,
                         json_body=body(w, role) if body else None)
    assert r.status_code == want, f"{name} as {role}: {r.status_code} {r.text[:300]}"
    if want >= 400:
        b = r.json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert b["code"] == CODES[want], b
        assert snapshot(w["db"], pid) == before, f"{name} as {role} changed the project"
    elif method == "GET":
        assert snapshot(w["db"], pid) == before


@pytest.mark.parametrize("role", ROLES)
def test_expert_list(world, role):
    w = world
    r = w["api"].get("/api/expert/projects?limit=100", token=w[role].access)
    assert r.status_code == 200
    ids = {x["id"] for x in r.json()["items"]}
    if role == "expert":
        assert {w["p"]["id"], w["done"]["id"]} <= ids
    else:
        assert not ({w["p"]["id"], w["done"]["id"]} & ids)


@pytest.mark.parametrize("role", ROLES)
def test_unknown_project_is_404_for_everyone(world, role):
    w = world
    missing = str(uuid.uuid4())
    for method, path in (("GET", ""), ("GET", "/history"), ("POST", "/cancel"),
                         ("GET", "/messages"), ("GET", "/deliverables")):
        r = w["api"].request(method, f"/api/projects/{missing}{path}", token=w[role].access)
        assert r.status_code == 404, (method, path, r.text)


@pytest.mark.parametrize("role", ROLES)
def test_row_level_security_agrees(world, role):
    """As the application role with the caller's context: the owner and the assigned
    expert see the project's row, an admin sees it, nobody else does."""
    w = world
    u = w[role]
    db_role = "admin" if role == "admin" else ("expert" if "expert" in role else "user")
    rows = w["db"].rows("""
        BEGIN;
        SET LOCAL ROLE reelvox_app;
        SELECT set_config('reelvox.user_id', :'u', true), set_config('reelvox.role', :'r', true);
        SELECT count(*) FROM projects WHERE id = :'p';
        SELECT count(*) FROM project_deliverables WHERE project_id = :'p';
        COMMIT;""", u=u.id, r=db_role, p=w["p"]["id"])
    seen = role in ("owner", "expert", "admin")
    projects, deliverables = int(rows[-2][0]), int(rows[-1][0])
    if seen:
        assert projects == 1 and deliverables >= 1, rows
    else:
        assert projects == 0 and deliverables == 0, rows
