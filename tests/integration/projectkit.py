"""Helpers of the project and expert tests: users in a role, projects in a status,
the escrow invariant, and the project shape of API.md."""
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


def wait_project(api, user, pid, statuses, timeout=30.0):
    """Polls the project until its status is in statuses; returns it."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        p = get_project(api, user, pid)
        if p["status"] in statuses:
            return p
        if time.monotonic() > deadline:
            raise AssertionError(f"project {pid} still {p['status']} after {timeout}s")
        time.sleep(0.1)


def estimate(api, user, pid, **kw):
    r = api.post(f"/api/projects/{pid}/estimate", token=user.access, **kw)
    return assert_json(r, 202)


def ready_project(api, user, seconds=1.5):
    """A project with one audio, estimated by the rules (ready)."""
    p = create_project(api, user)
    a = upload_audio(api, user, seconds=seconds)
    attach(api, user, p["id"], a["id"])
    estimate(api, user, p["id"])
    return wait_project(api, user, p["id"], ("ready",))


def assigned_project(api, db, owner, expert=None, grant=10000):
    """A ready project assigned to expert (a new one unless given): in_progress,
    its price held. Returns (project, expert)."""
    p = ready_project(api, owner)
    if grant:
        db.grant(owner.id, grant)
    expert = expert or make_expert(api, db)
    r = api.post(f"/api/projects/{p['id']}/expert", {"expertId": expert.id}, token=owner.access)
    return assert_project(assert_json(r, 200), "in_progress"), expert


def deliver(api, expert, pid, seconds=1.0):
    a = upload_audio(api, expert, seconds=seconds, filename="master.mp3")
    r = api.post(f"/api/projects/{pid}/deliverables", {"audioId": a["id"]}, token=expert.access)
    return assert_json(r, 201)


def in_review(api, db, owner):
    """An assigned project with one deliverable, submitted (review)."""
    p, e = assigned_project(api, db, owner)
    deliver(api, e, p["id"])
    r = api.post(f"/api/projects/{p['id']}/submit", token=e.access)
    return assert_project(assert_json(r, 200), "review"), e
