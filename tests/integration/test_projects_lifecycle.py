"""The project lifecycle is guarded in SQL (issue 12): every move outside
draft → estimating → ready → in_progress → review → completed, review →
in_progress, estimating → draft and cancelled from any non-terminal status fails
whoever makes it — a superuser's UPDATE included — and every move is recorded."""
import itertools

import pytest

from conftest import assert_problem
from projectkit import create_project

STATUSES = ["draft", "estimating", "ready", "in_progress", "review", "completed", "cancelled"]
LEGAL = {("draft", "estimating"), ("estimating", "ready"), ("estimating", "draft"),
         ("ready", "in_progress"), ("in_progress", "review"), ("review", "completed"),
         ("review", "in_progress")} | {(s, "cancelled") for s in STATUSES[:5]}
PATHS = {"draft": [], "estimating": ["estimating"], "ready": ["estimating", "ready"],
         "in_progress": ["estimating", "ready", "in_progress"],
         "review": ["estimating", "ready", "in_progress", "review"],
         "completed": ["estimating", "ready", "in_progress", "review", "completed"],
         "cancelled": ["cancelled"]}


def test_move_table(db):
    got = {(a, b) for a, b in itertools.product(STATUSES, STATUSES)
           if a != b and db.scalar("SELECT rv_project_move_ok(:'a', :'b')", a=a, b=b) == "t"}
    assert got == LEGAL


@pytest.mark.parametrize("start", STATUSES)
def test_superuser_cannot_make_an_illegal_move(api, register, db, start):
    u = register()
    p = create_project(api, u)
    for s in PATHS[start]:
        db.rows("UPDATE projects SET status = :'s' WHERE id = :'p' RETURNING id", s=s, p=p["id"])
    for to in STATUSES:
        if to == start or (start, to) in LEGAL:
            continue
        err = db.fails("UPDATE projects SET status = :'s' WHERE id = :'p'", s=to, p=p["id"])
        assert "invalid_state" in err, err
    assert db.scalar("SELECT status FROM projects WHERE id = :'p'", p=p["id"]) == start
    # every move made is in the history, in order
    hist = [t for (t,) in db.rows("SELECT to_status FROM project_history WHERE project_id = :'p'"
                                  " ORDER BY id", p=p["id"])]
    assert hist == ["draft"] + PATHS[start]


def test_illegal_move_through_the_api_is_409(api, register):
    u = register()
    p = create_project(api, u)
    for action in ("submit", "accept"):
        r = api.post(f"/api/projects/{p['id']}/{action}", token=u.access)
        assert r.status_code in (403, 409), r.text
    assert_problem(api.post(f"/api/projects/{p['id']}/accept", token=u.access), 409,
                   "invalid_state")
    assert_problem(api.post(f"/api/projects/{p['id']}/changes", {"message": "x"},
                            token=u.access), 409, "invalid_state")
    assert_problem(api.post(f"/api/projects/{p['id']}/rating", {"stars": 5}, token=u.access),
                   409, "invalid_state")
    assert_problem(api.post(f"/api/projects/{p['id']}/expert",
                            {"expertId": "00000000-0000-4000-8000-000000000001"},
                            token=u.access), 404)
