"""Helpers of the project and expert tests: users in a role, projects in a status,
the escrow invariant, and the project shape of API.md."""
import pytest

from conftest import RFC3339_UTC, UUID_RE, assert_json, do_register, login
from audiokit import make_audio, upload

PROJECT_KEYS = {"id", "name", "description", "status", "audioIds", "audios", "unread",
                "createdAt", "updatedAt"}
OPTIONAL_KEYS = {"estimate", "estimateError", "expertId", "priceCredits"}
STATUSES = {"draft", "estimating", "ready", "in_progress", "review", "completed", "cancelled"}


def assert_project(p, status=None):
    assert PROJECT_KEYS <= set(p) <= PROJECT_KEYS | OPTIONAL_KEYS, p
    assert UUID_RE.match(p["id"]), p
    assert p["status"] in STATUSES, p
    assert isinstance(p["unread"], int), p
    assert RFC3339_UTC.match(p["createdAt"]) and RFC3339_UTC.match(p["updatedAt"]), p
    assert [a["id"] for a in p["audios"]] == p["audioIds"], p
    for a in p["audios"]:
        assert set(a) <= {"id", "filename", "durationMs", "url"}, a
        assert a["url"].startswith("http"), a
    if status is not None:
        assert p["status"] == status, p
    return p


def with_role(api, db, role, user=None):
    """A fresh user (or user) given role by superuser SQL, logged in again so the
    token carries it; returns the User with its new access token."""
    u = user or do_register(api)
    db.rows("UPDATE users SET role = :'r' WHERE id = :'u' RETURNING id", r=role, u=u.id)
    u.access, _, _ = login(api, u.email)
    return u


def make_expert(api, db, availability="available", rate=6000, specialties=("mixing",),
                languages=("en",), name="Ed Expert"):
    e = with_role(api, db, "expert")
    r = api.request("PUT", "/api/experts/me", token=e.access, json_body={
        "name": name, "bio": "Twenty years of mixing.", "hourlyRateCents": rate,
        "specialties": list(specialties), "languages": list(languages),
        "availability": availability})
    assert_json(r, 200)
    return e


def create_project(api, user, name="Podcast episode 1", description="Clean up and master"):
    r = api.post("/api/projects", {"name": name, "description": description}, token=user.access)
    return assert_project(assert_json(r, 201), "draft")


def get_project(api, user, pid):
    return assert_project(assert_json(api.get(f"/api/projects/{pid}", token=user.access), 200))


def upload_audio(api, user, seconds=1.5, filename="take.mp3"):
    r = upload(api, user.access, make_audio("mp3", seconds=seconds), filename=filename)
    return assert_json(r, 201)


def attach(api, user, pid, audio_id):
    r = api.post(f"/api/projects/{pid}/audios", {"audioId": audio_id}, token=user.access)
    return assert_project(assert_json(r, 200))


def escrow_problems(db):
    """The escrow invariant: what came into escrow (escrow_hold) equals what went
    out (escrow_release, escrow_refund) plus what projects hold now; each project
    holds nothing outside in_progress and review."""
    bad = db.rows("""
        SELECT 'sum', (SELECT COALESCE(-sum(delta), 0) FROM credit_ledger
                        WHERE kind = 'escrow_hold')::text,
               ((SELECT COALESCE(sum(delta), 0) FROM credit_ledger
                  WHERE kind IN ('escrow_release', 'escrow_refund'))
                + (SELECT COALESCE(sum(escrow_credits), 0) FROM projects))::text
         WHERE (SELECT COALESCE(-sum(delta), 0) FROM credit_ledger WHERE kind = 'escrow_hold')
            <> (SELECT COALESCE(sum(delta), 0) FROM credit_ledger
                 WHERE kind IN ('escrow_release', 'escrow_refund'))
               + (SELECT COALESCE(sum(escrow_credits), 0) FROM projects)
        UNION ALL
        SELECT 'held', id::text, escrow_credits::text FROM projects
         WHERE escrow_credits > 0 AND status NOT IN ('in_progress', 'review')""")
    return bad


@pytest.fixture(autouse=True)
def escrow_invariant(db):
    yield
    bad = escrow_problems(db)
    assert not bad, f"escrow invariant broken: {bad}"
