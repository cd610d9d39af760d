"""Helpers of the narrated explainer tests (test_videos*.py): making videos, waiting for their
steps, the OpenAI simulator's records."""
import os
import time

import requests

from conftest import assert_json
from jobkit import TERMINAL, wait_for_job

OPENAI_URL = os.environ.get("RV_OPENAI_URL", "")
VIDEO_KEYS = {"id", "title", "topic", "language", "targetSeconds", "status", "progress",
              "sections", "images", "createdAt", "updatedAt"}
SECTIONS = [{"heading": "Seeds", "content": "Rice starts as a seed in wet soil."},
            {"heading": "Growth", "content": "It grows for about four months."},
            {"content": "Then the grain is harvested and dried."}]


def auth(user):
    return {"token": user.access}


def create_video(api, user, status=201, **body):
    body.setdefault("title", "How rice grows")
    body.setdefault("topic", "How long does rice take to grow?")
    r = api.post("/api/videos", body, token=user.access)
    return assert_json(r, status) if status else r


def get_video(api, user, vid):
    return assert_json(api.get(f"/api/videos/{vid}", token=user.access), 200)


def wait_video(api, user, vid, statuses=("draft", "ready", "failed"), timeout=60.0,
               pred=None):
    """Polls the video until its status is one of statuses (and pred(video) holds)."""
    end = time.monotonic() + timeout
    while True:
        v = get_video(api, user, vid)
        if v["status"] in statuses and not v.get("jobId") and (pred is None or pred(v)):
            return v
        assert time.monotonic() < end, f"video {vid} still {v['status']} ({v.get('step')})"
        time.sleep(0.2)


def run_step(api, user, vid, step, body=None, timeout=60.0):
    """Starts a step by hand and waits for its job; returns the final job."""
    r = api.post(f"/api/videos/{vid}/{step}", body, token=user.access)
    job = assert_json(r, 202)
    return wait_for_job(api, user, job["id"], timeout=timeout)


def openai_requests():
    return requests.get(OPENAI_URL + "/_sim/requests", timeout=10).json()["requests"]


def prompts_with(marker):
    return [q for q in openai_requests()
            if any(marker in (m.get("content") or "") for m in q["messages"])]


def video_count(db, user):
    return int(db.scalar("SELECT count(*) FROM videos WHERE user_id = :'u'", u=user.id))
