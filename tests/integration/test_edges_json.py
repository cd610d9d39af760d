"""User input through bind.c never reaches jsonb as something it refuses (issue 8):
a lone surrogate is taken as U+FFFD (json-c's reading), a \\u0000 is refused with
the contract's 400, never a 500."""
import pytest

from conftest import assert_json, assert_problem
from jobkit import VOICE


@pytest.fixture
def user(api, register):
    return register()


@pytest.mark.parametrize("raw,status,code", [
    (b'{"text":"\\ud800","voiceId":"%s"}', 202, None),
    (b'{"text":"a\\udc00\\ud800b","voiceId":"%s"}', 202, None),
    (b'{"text":"a\\u0000","voiceId":"%s"}', 400, "validation_failed"),
    (b'{"text":"x","voiceId":"%s","x\\u0000":1}', 400, "malformed_json"),
    (b'{"text":"x","voiceId":"%s","emotion":"\\ud800"}', 400, "validation_failed"),
    (b'{"text":"x","voiceId":"%s\\u0000"}', 400, "validation_failed"),
])
def test_tts_text_jsonb_would_refuse(api, user, raw, status, code):
    r = api.request("POST", "/api/tts", data=raw.replace(b"%s", VOICE.encode()),
                    token=user.access, ctype="application/json")
    if status == 202:
        job = assert_json(r, 202)
        assert "\ufffd" in job["input"]["text"], job
    else:
        assert_problem(r, status, code)


def test_sfx_prompt_nul_and_surrogate(api, user):
    r = api.request("POST", "/api/sfx", data=b'{"prompt":"\\udfff\\u0000"}', token=user.access,
                    ctype="application/json")
    assert_problem(r, 400, "validation_failed", fields={"prompt"})


def test_name_with_lone_surrogate(api, user):
    r = api.request("PATCH", "/api/me", data=b'{"name":"\\ud800x"}', token=user.access,
                    ctype="application/json")
    assert assert_json(r, 200)["name"] == "\ufffdx"
