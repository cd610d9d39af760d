"""One JSON style in every answer: compact, whatever wrote the body.

Bodies made by PostgreSQL (json_build_object writes `{"id" : "…"}`, jsonb
`{"id": "…"}`) and by json-c come out the same: no whitespace between tokens."""
import json
import re

from conftest import assert_json
from jobkit import VOICE, get_job, post_tts

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def assert_compact(r):
    body = r.text
    json.loads(body)  # well-formed
    assert '" : ' not in body
    outside = STRING.sub('""', body)
    assert not re.search(r"\s", outside), f"{r.request.method} {r.url}: {body[:300]}"


def test_every_answer_is_compact(api, register):
    u = register(name="Compact Style")
    answers = [
        api.get("/healthz"),
        api.get("/api/version"),
        api.get("/api/me", token=u.access),
        api.patch("/api/me", {"name": "Still Compact"}, token=u.access),
        api.post("/api/auth/login", {"email": u.email, "password": u.password}),
        api.get("/api/credits", token=u.access),
        api.get("/api/voices", token=u.access),
        api.get("/api/audios", token=u.access),
        api.get("/api/me"),  # a problem answer
        api.post("/api/tts", {"text": ""}, token=u.access),  # a validation problem
    ]
    submitted = post_tts(api, u, {"text": "Compact answers.", "voiceId": VOICE})
    job = assert_json(submitted, 202)
    answers += [
        submitted,
        api.get(f"/api/voices/{VOICE}", token=u.access),
        api.get("/api/jobs", token=u.access),
        api.get(f"/api/jobs/{job['id']}", token=u.access),
    ]
    for r in answers:
        assert r.status_code < 500, r.text
        assert_compact(r)
