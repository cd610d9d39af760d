"""Contract audit (API.md, Conventions), breadth first: every endpoint once the way
an outside tester with only API.md would — public ones answer without a token,
every other one 401 problem+json; every list takes page/limit (limit 1..100) and
answers {items, pagination}; a wrong method 405 with Allow; someone else's
resource 404; a refused request moves no credit."""
import uuid

import pytest

from conftest import UUID_RE, assert_json, assert_problem, assert_user
from jobkit import VOICE, assert_job, no_rate_limit, sim

NOBODY = str(uuid.uuid4())

PUBLIC_GETS = ["/api/version", "/healthz", "/api/credit-packs", "/api/music-tracks",
               "/api/experts/specialties", "/api/openapi.json"]

AUTH_GETS = ["/api/me", "/api/credits", "/api/jobs", f"/api/jobs/{NOBODY}", "/api/voices",
             f"/api/voices/{NOBODY}", "/api/audios", f"/api/audios/{NOBODY}", "/api/images",
             f"/api/images/{NOBODY}", "/api/clips", f"/api/clips/{NOBODY}", "/api/compilations",
             f"/api/compilations/{NOBODY}", "/api/videos", f"/api/videos/{NOBODY}",
             f"/api/videos/{NOBODY}/captions.vtt", f"/api/batches/{NOBODY}", "/api/projects",
             f"/api/projects/{NOBODY}", f"/api/projects/{NOBODY}/deliverables",
             f"/api/projects/{NOBODY}/messages", f"/api/projects/{NOBODY}/history",
             "/api/expert/projects", "/api/experts", f"/api/experts/{NOBODY}", "/api/payments",
             "/api/api-keys"]

AUTH_POSTS = ["/api/tts", "/api/sfx", "/api/voice-conversion", "/api/voices", "/api/projects",
              "/api/clips", "/api/compilations", "/api/videos", "/api/batches", "/api/checkout",
              "/api/api-keys", "/api/auth/verify/resend", f"/api/projects/{NOBODY}/estimate",
              f"/api/projects/{NOBODY}/expert", f"/api/projects/{NOBODY}/accept",
              f"/api/videos/{NOBODY}/script", f"/api/videos/{NOBODY}/render"]

LISTS = ["/api/credits", "/api/jobs", "/api/voices", "/api/audios", "/api/images", "/api/clips",
         "/api/compilations", "/api/videos", "/api/projects", "/api/expert/projects",
         "/api/experts", "/api/payments", "/api/api-keys"]

PAGINATION = {"page", "limit", "total", "totalPages", "hasNext", "hasPrev"}


@pytest.mark.parametrize("path", PUBLIC_GETS)
def test_public_without_a_token(api, path):
    r = api.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:200])


@pytest.mark.parametrize("path", AUTH_GETS)
def test_get_needs_a_token(api, path):
    assert_problem(api.get(path), 401, "unauthorized")
    assert_problem(api.get(path, token="not.a.token"), 401)


@pytest.mark.parametrize("path", AUTH_POSTS)
def test_post_needs_a_token(api, path):
    assert_problem(api.post(path, {}), 401, "unauthorized")


@pytest.mark.parametrize("path", LISTS)
def test_list_paging(api, register, path):
    u = register()
    body = assert_json(api.get(path + "?page=1&limit=1", token=u.access), 200)
    assert isinstance(body["items"], list) and len(body["items"]) <= 1, body
    p = body["pagination"]
    assert set(p) == PAGINATION, p
    assert p["page"] == 1 and p["limit"] == 1 and p["hasPrev"] is False, p
    assert p["totalPages"] == p["total"], p
    assert p["hasNext"] == (p["total"] > 1), p
    for bad, field in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                       ("page=0", "page"), ("page=-1", "page")):
        assert_problem(api.get(f"{path}?{bad}", token=u.access), 400, "validation_failed",
                       fields={field})
    assert_json(api.get(path + "?limit=100", token=u.access), 200)


def test_unknown_path_and_wrong_method(api, register):
    u = register()
    assert_problem(api.get("/api/no-such-thing", token=u.access), 404, "not_found")
    for method, path in (("PUT", "/api/me"), ("DELETE", "/api/tts"), ("GET", "/api/checkout"),
                         ("PATCH", "/api/jobs"), ("GET", "/api/auth/login"),
                         ("POST", "/api/credit-packs")):
        r = api.request(method, path, token=u.access)
        body = assert_problem(r, 405, "method_not_allowed")
        assert method not in r.headers["Allow"], (path, r.headers["Allow"])
        assert body["status"] == 405


def test_user_shape_everywhere(api, register):
    u = register(name="Audit")
    assert_user(u.user, u.email)
    assert u.user["emailVerified"] is False and u.user["credits"] == 100
    me = assert_json(api.get("/api/me", token=u.access), 200)
    assert_user(me, u.email)
    login = assert_json(api.post("/api/auth/login", {"email": u.email,
                                                     "password": u.password}), 200)
    assert set(login) == {"user", "accessToken", "refreshToken", "expiresIn"}, login
    assert_user(login["user"], u.email)
    patched = assert_json(api.patch("/api/me", {"name": "Renamed"}, token=u.access), 200)
    assert_user(patched, u.email)
    assert patched["name"] == "Renamed"


def test_someone_elses_things_are_404(api, register, db):
    owner, other = register(), register()
    with no_rate_limit(db):
        # ends only by the cancel below
        r = api.post("/api/sfx", {"prompt": "rain " + sim(delay_ms=3_600_000)},
                     token=owner.access)
    job = assert_job(assert_json(r, 202), "sfx")
    assert r.headers["Location"] == f"/api/jobs/{job['id']}"
    proj = assert_json(api.post("/api/projects", {"name": "mine"}, token=owner.access), 201)
    video = assert_json(api.post("/api/videos", {"title": "t", "topic": "t"},
                                 token=owner.access), 201)
    before = db.credits(other.id)
    for path in (f"/api/jobs/{job['id']}", f"/api/projects/{proj['id']}",
                 f"/api/projects/{proj['id']}/messages", f"/api/projects/{proj['id']}/history",
                 f"/api/projects/{proj['id']}/deliverables", f"/api/videos/{video['id']}",
                 f"/api/videos/{video['id']}/captions.vtt"):
        assert_problem(api.get(path, token=other.access), 404, "not_found")
    assert_problem(api.request("DELETE", f"/api/jobs/{job['id']}", token=other.access), 404)
    assert_problem(api.post(f"/api/projects/{proj['id']}/estimate", token=other.access), 404)
    assert_problem(api.post(f"/api/videos/{video['id']}/script", token=other.access), 404)
    assert_problem(api.post(f"/api/projects/{proj['id']}/cancel", token=other.access), 404)
    assert db.credits(other.id) == before
    cancelled = assert_job(assert_json(api.request("DELETE", f"/api/jobs/{job['id']}",
                                                   token=owner.access), 200))
    assert cancelled["status"] == "cancelled", cancelled
    assert_problem(api.request("DELETE", f"/api/jobs/{job['id']}", token=owner.access), 409,
                   "invalid_state")


def test_402_carries_required_and_balance_and_moves_nothing(api, register, db):
    u = register()
    db.grant(u.id, -95, reason="audit: a small balance")
    before = db.credits(u.id)
    r = api.post("/api/tts", {"text": "x" * 601, "voiceId": VOICE}, token=u.access)
    body = assert_problem(r, 402, "insufficient_credits")
    assert body["required"] == 7 and body["balance"] == before == 5, body
    assert db.credits(u.id) == before


def test_validation_names_every_field(api, register):
    u = register()
    r = api.post("/api/tts", {"text": "", "voiceId": VOICE, "speed": 3, "pitch": 13,
                              "volume": 0, "audioFormat": "ogg", "sampleRate": 1,
                              "emotion": "meh"}, token=u.access)
    assert_problem(r, 400, "validation_failed",
                   fields={"text", "speed", "pitch", "volume", "audioFormat", "sampleRate",
                           "emotion"})
    r = api.request("POST", "/api/tts", data=b"{bad", ctype="application/json", token=u.access)
    assert_problem(r, 400, "malformed_json")
    r = api.request("POST", "/api/tts", data=b"{}", ctype="text/plain", token=u.access)
    assert_problem(r, 415, "unsupported_media_type")


def test_credit_packs_and_checkout_shape(api, register):
    packs = assert_json(api.get("/api/credit-packs"), 200)["items"]
    assert packs, packs
    for p in packs:
        assert set(p) == {"id", "name", "credits", "priceCents", "currency"}, p
    u = register()
    assert_problem(api.post("/api/checkout", {"packId": "no-such-pack"}, token=u.access), 404)
    assert_problem(api.post("/api/checkout", {}, token=u.access), 400, "validation_failed",
                   fields={"packId"})
    assert_problem(api.post("/api/api-keys", {"service": "nope", "key": "abcdefgh1234"},
                            token=u.access), 400, "validation_failed", fields={"service"})
    assert UUID_RE.match(u.id)
