"""Narrated explainer videos: create, list, get, delete; the script by hand (PUT)
and by a language model (POST → job kind script, through the OpenAI simulator),
its limits, the model's refusals and bad answers failing the job with a refund."""
import json
import time
import uuid

import pytest

from conftest import UUID_RE, assert_json, assert_problem
from jobkit import assert_settled, balance, config_patch, no_rate_limit, wait_for_job
from explainerkit import (SECTIONS, VIDEO_KEYS, create_video, get_video, prompts_with, run_step,
                      video_count)


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def test_create_get_list_delete(api, register, db):
    u = register()
    v = create_video(api, u, targetSeconds=30, style="calm", language="en-GB")
    assert VIDEO_KEYS <= set(v) and UUID_RE.match(v["id"])
    assert v["status"] == "draft" and v["sections"] == [] and v["images"] == []
    assert v["targetSeconds"] == 30 and v["style"] == "calm" and v["language"] == "en-GB"
    assert get_video(api, u, v["id"])["id"] == v["id"]
    lst = assert_json(api.get("/api/videos?limit=5", token=u.access), 200)
    assert [x["id"] for x in lst["items"]] == [v["id"]] and lst["pagination"]["total"] == 1
    other = register()
    assert_problem(api.get(f"/api/videos/{v['id']}", token=other.access), 404, "not_found")
    assert_problem(api.request("DELETE", f"/api/videos/{v['id']}", token=other.access), 404)
    r = api.request("DELETE", f"/api/videos/{v['id']}", token=u.access)
    assert r.status_code == 204
    assert_problem(api.get(f"/api/videos/{v['id']}", token=u.access), 404)
    assert_problem(api.get("/api/videos/not-a-uuid", token=u.access), 404)
    assert api.get("/api/videos").status_code == 401


def test_create_with_script(api, register):
    u = register()
    v = create_video(api, u, script={"sections": SECTIONS})
    assert [s["content"] for s in v["sections"]] == [s["content"] for s in SECTIONS]
    assert v["sections"][2]["heading"] == "" and v["sections"][0]["position"] == 1


@pytest.mark.parametrize("body,fields", [
    ({"topic": "   \t "}, {"topic"}),
    ({"topic": ""}, {"topic"}),
    ({"topic": "x" * 501}, {"topic"}),
    ({"title": "t" * 201}, {"title"}),
    ({"title": " "}, {"title"}),
    ({"targetSeconds": 14}, {"targetSeconds"}),
    ({"targetSeconds": 601}, {"targetSeconds"}),
    ({"voiceId": "nope"}, {"voiceId"}),
    ({"colour": "red"}, {"colour"}),
    ({"auto": "yes"}, {"auto"}),
    ({"script": {"sections": []}}, {"script.sections"}),
    ({"script": {"sections": [{"content": "x"}] * 51}}, {"script.sections"}),
    ({"script": {"sections": [{"content": "x" * 2001}]}}, {"script.sections[0].content"}),
    ({"script": [{"content": "x"}]}, {"script"}),
    ({"resolution": "4k"}, {"resolution"}),
])
def test_create_refused(api, register, db, body, fields):
    u = register()
    before = balance(db, u)
    body = {"title": "T", "topic": "rice", **body}
    r = api.post("/api/videos", body, token=u.access)
    assert_problem(r, 400, "validation_failed", fields=fields)
    assert video_count(db, u) == 0 and balance(db, u) == before


def test_project_and_voice_not_yours(api, register):
    u = register()
    assert_problem(api.post("/api/videos", {"title": "T", "topic": "t",
                                            "projectId": str(uuid.uuid4())}, token=u.access), 404)
    assert_problem(api.post("/api/videos", {"title": "T", "topic": "t",
                                            "voiceId": str(uuid.uuid4())}, token=u.access), 404)


def test_put_script(api, register):
    u = register()
    v = create_video(api, u)
    r = api.request("PUT", f"/api/videos/{v['id']}/script", json_body={"sections": SECTIONS},
                    token=u.access)
    got = assert_json(r, 200)
    assert len(got["sections"]) == 3 and got["sections"][1]["heading"] == "Growth"
    # Replaced as a whole.
    r = api.request("PUT", f"/api/videos/{v['id']}/script",
                    json_body={"sections": [{"content": "Only one."}]}, token=u.access)
    assert [s["content"] for s in assert_json(r, 200)["sections"]] == ["Only one."]


@pytest.mark.parametrize("sections,fields", [
    ([], {"sections"}),
    ([{"content": "a"}] * 51, {"sections"}),
    ([{"content": ""}], {"sections[0].content"}),
    ([{"content": "  \n "}], {"sections[0].content"}),
    ([{"content": "y" * 2001}], {"sections[0].content"}),
    ([{"heading": "h" * 201, "content": "ok"}], {"sections[0].heading"}),
    ([{"heading": 3, "content": "ok"}], {"sections[0].heading"}),
    ([{"content": "ok"}, {"text": "no"}], {"sections[1].text", "sections[1].content"}),
    ([{"content": "ok"}, "no"], {"sections[1]"}),
    ("text", {"sections"}),
])
def test_put_script_limits(api, register, sections, fields):
    u = register()
    v = create_video(api, u, script={"sections": SECTIONS})
    r = api.request("PUT", f"/api/videos/{v['id']}/script", json_body={"sections": sections},
                    token=u.access)
    assert_problem(r, 400, "validation_failed", fields=fields)
    assert get_video(api, u, v["id"])["sections"] == v["sections"]  # nothing changed


def test_put_script_not_yours(api, register):
    u, other = register(), register()
    v = create_video(api, u)
    r = api.request("PUT", f"/api/videos/{v['id']}/script",
                    json_body={"sections": SECTIONS}, token=other.access)
    assert_problem(r, 404, "not_found")


def test_script_by_llm(api, register, db):
    u = register()
    v = create_video(api, u, topic=f"Why the sky is blue {uuid.uuid4().hex[:6]}",
                     targetSeconds=45)
    job = run_step(api, u, v["id"], "script")
    assert job["status"] == "succeeded" and job["kind"] == "script", job
    assert job["provider"] == "openai"
    assert_settled(db, job, refunded=False)
    got = get_video(api, u, v["id"])
    assert got["status"] == "draft" and len(got["sections"]) >= 1
    assert all(v["topic"] in s["content"] for s in got["sections"])
    req = prompts_with(v["topic"])[-1]
    assert req["response_format"]["json_schema"]["strict"] is True
    assert req["messages"][0]["role"] == "system"  # admin_config.system_prompts.script
    assert "45 seconds" in req["messages"][-1]["content"]


@pytest.mark.parametrize("marker,code", [
    ("[[refuse]]", "llm_refused"), ("[[length]]", "llm_truncated"),
    ("[[malformed]]", "llm_invalid_output"), ("[[toolong]]", "llm_invalid_output"),
    ("[[quota]]", "llm_quota")])
def test_script_bad_answers_fail_and_refund(api, register, db, marker, code):
    u = register()
    before = balance(db, u)
    v = create_video(api, u, topic=f"t {uuid.uuid4().hex[:8]} {marker}")
    job = run_step(api, u, v["id"], "script")
    assert job["status"] == "failed" and job["error"]["code"] == code, job
    assert_settled(db, job, refunded=True)
    assert balance(db, u) == before
    got = get_video(api, u, v["id"])
    assert got["status"] == "failed" and got["error"]["code"] == code
    assert got["sections"] == []
    if marker == "[[quota]]":  # insufficient_quota is not retried
        assert len(prompts_with(v["topic"])) == 1


def test_script_rate_limit_waited_out(api, register):
    u = register()
    v = create_video(api, u, topic=f"r {uuid.uuid4().hex[:8]} [[ratelimit]]")
    job = run_step(api, u, v["id"], "script")
    assert job["status"] == "succeeded", job
    assert len(prompts_with(v["topic"])) == 2


def test_script_without_llm(api, register, db):
    u = register()
    v = create_video(api, u)
    before = balance(db, u)
    with config_patch(db, "providers", ["kinds", "script"], []):
        r = api.post(f"/api/videos/{v['id']}/script", token=u.access)
    assert_problem(r, 503, "provider_unavailable")
    assert balance(db, u) == before
    assert int(db.scalar("SELECT count(*) FROM jobs WHERE user_id = :'u'", u=u.id)) == 0


def test_script_while_running_and_not_yours(api, register):
    u, other = register(), register()
    v = create_video(api, u, topic=f"slow {uuid.uuid4().hex[:6]} [[slow=2]]")
    r = api.post(f"/api/videos/{v['id']}/script", token=u.access)
    job = assert_json(r, 202)
    assert_problem(api.post(f"/api/videos/{v['id']}/script", token=u.access), 409,
                   "invalid_state")
    assert_problem(api.request("PUT", f"/api/videos/{v['id']}/script",
                               json_body={"sections": SECTIONS}, token=u.access),
                   409, "invalid_state")
    assert_problem(api.post(f"/api/videos/{v['id']}/script", token=other.access), 404)
    assert wait_for_job(api, u, job["id"])["status"] == "succeeded"


def test_delete_cancels_running_step(api, register, db):
    u = register()
    before = balance(db, u)
    v = create_video(api, u, topic=f"slow {uuid.uuid4().hex[:6]} [[slow=3]]")
    job = assert_json(api.post(f"/api/videos/{v['id']}/script", token=u.access), 202)
    assert api.request("DELETE", f"/api/videos/{v['id']}", token=u.access).status_code == 204
    j = wait_for_job(api, u, job["id"])
    assert j["status"] == "cancelled"
    assert balance(db, u) == before


def test_captions_before_narration(api, register):
    u = register()
    v = create_video(api, u, script={"sections": SECTIONS})
    r = api.get(f"/api/videos/{v['id']}/captions.vtt", token=u.access)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/vtt")
    assert r.text.startswith("WEBVTT")
