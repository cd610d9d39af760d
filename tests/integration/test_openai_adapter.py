"""The OpenAI adapter (common/providers/openai.h) against the simulator, through
tests/tools/llmtool: a schema-valid answer, a refusal, a truncation, both kinds of
429 (rate_limit_exceeded waited out with Retry-After; insufficient_quota never
retried), a 5xx, an unreadable answer and a wrong key."""
import json
import os
import subprocess
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENAI_URL = os.environ.get("RV_OPENAI_URL")
SCHEMA = json.dumps({
    "type": "object", "additionalProperties": False, "required": ["sections"],
    "properties": {"sections": {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["heading", "content"],
        "properties": {"heading": {"type": "string"}, "content": {"type": "string"}}}}}})

pytestmark = pytest.mark.skipif(not OPENAI_URL, reason="no OpenAI simulator (RV_OPENAI_URL)")


def llm(prompt, system="You write scripts.", wait=3, key=None):
    variant = "asan" if "asan" in os.environ.get("RV_BIN_DIR", "") else "release"
    tool = os.path.join(ROOT, "build", variant, "tests", "tools", "llmtool")
    env = dict(os.environ)
    if key is not None:
        env["RV_OPENAI_API_KEY"] = key
    p = subprocess.run([tool, "script", SCHEMA, prompt, system, str(wait)], env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, json.loads(p.stdout)


def last_request():
    r = requests.get(OPENAI_URL + "/_sim/requests", timeout=10)
    return r.json()["requests"][-1]


def test_schema_valid_answer():
    rc, out = llm("Topic: how rice grows [[items=4]]")
    assert rc == 0 and out["status"] == 0
    secs = out["output"]["sections"]
    assert len(secs) == 4 and all("rice" in s["content"] for s in secs)
    req = last_request()
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["strict"] is True
    assert req["messages"][0] == {"role": "system", "content": "You write scripts."}


@pytest.mark.parametrize("marker,code", [
    ("[[refuse]]", "llm_refused"), ("[[length]]", "llm_truncated"),
    ("[[quota]]", "llm_quota"), ("[[500]]", "llm_unavailable"),
    ("[[malformed]]", "llm_invalid_output"), ("[[ratelimit-always]]", "llm_rate_limited")])
def test_faults(marker, code):
    rc, out = llm(f"Topic: faults {time.time()} {marker}", wait=1)
    assert rc == 1 and out["code"] == code, out
    assert "output" not in out


def test_quota_is_not_retried():
    before = len(requests.get(OPENAI_URL + "/_sim/requests", timeout=10).json()["requests"])
    rc, out = llm(f"Topic: q {time.time()} [[quota]]", wait=30)
    after = len(requests.get(OPENAI_URL + "/_sim/requests", timeout=10).json()["requests"])
    assert out["code"] == "llm_quota" and "insufficient_quota" in out["message"]
    assert after - before == 1


def test_rate_limit_waited_out():
    t0 = time.monotonic()
    rc, out = llm(f"Topic: r {time.time()} [[ratelimit]]", wait=5)
    assert rc == 0 and out["status"] == 0
    assert time.monotonic() - t0 >= 0.9  # Retry-After: 1 honoured


def test_wrong_key():
    rc, out = llm("Topic: k", key="sk-wrong")
    assert rc == 1 and out["code"] == "llm_rejected"
    assert "sk-wrong" not in out["message"]
