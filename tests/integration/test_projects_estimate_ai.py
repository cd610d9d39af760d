"""The AI estimate (issue 12): an estimate job through the OpenAI adapter and its
simulator (tests/sim/openai_sim.py), when providers.kinds.estimate lists openai
first. The prompt carries the project's name, description and each audio's
duration and kind; the answer is strict JSON checked against its schema; a refusal,
an invalid answer or an exhausted quota (429 insufficient_quota) fails the job with
a clear error and the project returns to draft, refunded; a 429 rate_limit_exceeded
is waited out."""
import json
import os

import pytest
import requests

from conftest import assert_json, assert_problem
from projectkit import (attach, create_project, estimate,
                        get_project, upload_audio, wait_project)

SIM = os.environ.get("RV_OPENAI_URL")
pytestmark = pytest.mark.skipif(not os.environ.get("RV_OPENAI_API_KEY") or not SIM,
                                reason="no OpenAI simulator (RV_OPENAI_URL, RV_OPENAI_API_KEY)")


@pytest.fixture
def ai_first(db):
    old = db.scalar("SELECT value -> 'kinds' -> 'estimate' FROM admin_config"
                    " WHERE key = 'providers'")
    db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,estimate}',"
            " '[\"openai\", \"local\"]') WHERE key = 'providers' RETURNING key")
    yield
    db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,estimate}', :'v'::jsonb)"
            " WHERE key = 'providers' RETURNING key", v=old)


def sim_requests_for(marker):
    got = requests.get(SIM + "/_sim/requests", timeout=10).json()
    items = got.get("requests", got) if isinstance(got, dict) else got
    return [r for r in items if marker in json.dumps(r)]


def project_with_audio(api, u, name):
    p = create_project(api, u, name=name, description="Interview, two voices, some hiss")
    a = upload_audio(api, u, seconds=2.0, filename="interview.mp3")
    attach(api, u, p["id"], a["id"])
    return p, a


def test_ai_estimate(api, register, db, ai_first):
    u = register()
    marker = "ai-ok-" + u.id[:8]
    p, a = project_with_audio(api, u, marker)
    before = db.credits(u.id)
    job = estimate(api, u, p["id"])
    assert job["provider"] == "openai"
    q = wait_project(api, u, p["id"], ("ready", "draft"))
    assert q["status"] == "ready", q
    e = q["estimate"]
    assert e["method"] == "ai"
    assert set(e) == {"costCents", "durationMinutes", "breakdown", "assumptions", "method"}
    assert isinstance(e["costCents"], int) and isinstance(e["durationMinutes"], int)
    assert e["breakdown"] and all(set(b) == {"task", "minutes", "costCents"}
                                  for b in e["breakdown"])
    assert db.credits(u.id) == before - job["costCredits"]
    # the prompt carried the project's data and asked for the strict schema
    seen = sim_requests_for(marker)
    assert seen, "the simulator saw no request for this project"
    body = json.dumps(seen[-1])
    for piece in (marker, "Interview, two voices", "interview.mp3", "upload", "durationMs",
                  "json_schema", "estimatedCostCents"):
        assert piece in body, piece


@pytest.mark.parametrize("marker,code", [
    ("[[refuse]]", "llm_refused"),
    ("[[malformed]]", "llm_invalid_output"),
    ("[[quota]]", "llm_quota"),
])
def test_ai_failures_return_to_draft(api, register, db, ai_first, marker, code):
    u = register()
    p, _ = project_with_audio(api, u, "Episode " + marker)
    before = db.credits(u.id)
    job = estimate(api, u, p["id"])
    q = wait_project(api, u, p["id"], ("draft",))
    assert q["estimateError"]["code"] == code, q
    assert q["estimateError"]["message"]
    assert "estimate" not in q
    j = assert_json(api.get(f"/api/jobs/{job['id']}", token=u.access), 200)
    assert j["status"] == "failed" and j["error"]["code"] == code
    assert db.credits(u.id) == before  # refunded
    hist = assert_json(api.get(f"/api/projects/{p['id']}/history", token=u.access), 200)
    assert [h["to"] for h in hist][-2:] == ["estimating", "draft"]
    # the owner may try again (here with the rules)
    db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,estimate}', '[\"local\"]')"
            " WHERE key = 'providers' RETURNING key")
    estimate(api, u, p["id"])
    assert wait_project(api, u, p["id"], ("ready",))["estimate"]["method"] == "rules"


def test_ai_rate_limit_is_waited_out(api, register, db, ai_first):
    u = register()
    p, _ = project_with_audio(api, u, "Episode [[ratelimit]] " + u.id[:8])
    estimate(api, u, p["id"])
    q = wait_project(api, u, p["id"], ("ready", "draft"))
    assert q["status"] == "ready" and q["estimate"]["method"] == "ai", q
    # the first call was answered 429 with Retry-After, the second one served
    assert len(sim_requests_for(u.id[:8])) >= 2


def test_no_provider_is_503(api, register, db):
    """An estimate kind no available provider serves: 503 provider_unavailable,
    nothing charged, the project stays a draft."""
    u = register()
    p = create_project(api, u)
    old = db.scalar("SELECT value -> 'kinds' -> 'estimate' FROM admin_config"
                    " WHERE key = 'providers'")
    try:
        db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,estimate}',"
                " '[\"replicate\"]') WHERE key = 'providers' RETURNING key")
        before = db.credits(u.id)
        r = api.post(f"/api/projects/{p['id']}/estimate", token=u.access)
        assert_problem(r, 503, "provider_unavailable")
        assert db.credits(u.id) == before
        assert get_project(api, u, p["id"])["status"] == "draft"
    finally:
        db.rows("UPDATE admin_config SET value = jsonb_set(value, '{kinds,estimate}',"
                " :'v'::jsonb) WHERE key = 'providers' RETURNING key", v=old)
