"""Stock photos of an explainer's sections from Pexels (tests/sim/stock_sim.py): a
photo per section with the credit Pexels asks for, the search's query escaped and
its orientation the video's; a rate-limited search (429) or a photo that is not one
gives that section a title card, and the video still renders."""
import os
import uuid

import pytest
import requests

from explainerkit import SECTIONS, create_video, get_video, run_step
from jobkit import VOICE, assert_settled, no_rate_limit
from videokit import ffprobe, stream

STOCK_URL = os.environ.get("RV_PEXELS_URL", "")

pytestmark = pytest.mark.skipif(not os.environ.get("RV_PEXELS_API_KEY"),
                                reason="no stock-photo simulator")


@pytest.fixture(autouse=True)
def unlimited(db):
    with no_rate_limit(db):
        yield


def tag():
    """A word no other run's searches have: the simulator keeps every search it
    was asked while it runs, across passes of the suite."""
    return uuid.uuid4().hex[:10]


def searches(word):
    got = requests.get(STOCK_URL + "/_sim/requests", timeout=10).json()["requests"]
    return [q for q in got if word in q["query"]]


def narrated(api, user, topic):
    v = create_video(api, user, topic=topic, script={"sections": SECTIONS})
    assert run_step(api, user, v["id"], "narration", {"voiceId": VOICE})["status"] == "succeeded"
    return v


def image_rows(db, got):
    return [db.rows("SELECT width, height, source, attribution->>'provider' FROM images "
                    "WHERE id = :'i'", i=i["imageId"])[0] for i in got["images"]]


def test_stock_photos_with_attribution(api, register, db):
    u = register()
    t = tag()
    v = narrated(api, u, f"Stock photos {t} & rice fields?")
    job = run_step(api, u, v["id"], "images", {"aspect": "9:16"})
    assert job["status"] == "succeeded", job
    assert_settled(db, job, refunded=False)
    got = get_video(api, u, v["id"])
    assert [i["position"] for i in got["images"]] == [1, 2, 3]
    for n, i in enumerate(got["images"]):
        a = i["attribution"]
        assert a["provider"] == "Pexels" and a["photographer"].startswith("Sim Photographer")
        assert a["photographerUrl"].startswith("https://www.pexels.com/@")
        assert a["url"].startswith("https://www.pexels.com/photo/")
        r = api.s.get(i["url"], timeout=10)
        assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    # A different photo per section; portrait ones for a 9:16 video, re-encoded by us.
    assert len({i["attribution"]["url"] for i in got["images"]}) == 3
    assert image_rows(db, got) == [("360", "640", "stock", "Pexels")] * 3
    seen = searches(t)
    assert seen and all(q["auth"] and q["orientation"] == "portrait" for q in seen)
    assert all(f"Stock photos {t} & rice fields?" in q["query"] for q in seen)  # escaped, intact


def test_rate_limited_falls_back_and_renders(api, register, db, tmp_path):
    u = register()
    t = tag()
    v = narrated(api, u, f"Stock ratelimit {t} of rice")
    job = run_step(api, u, v["id"], "images")
    assert job["status"] == "succeeded", job
    got = get_video(api, u, v["id"])
    assert all("attribution" not in i for i in got["images"])
    assert [r[2] for r in image_rows(db, got)] == ["generated"] * 3
    # After the 429 (remaining 0 until the reset) the job asks no more.
    assert len(searches(t)) == 1
    job = run_step(api, u, v["id"], "render", timeout=300)
    assert job["status"] == "succeeded", job
    got = get_video(api, u, v["id"])
    assert got["status"] == "ready"
    r = api.s.get(got["url"], timeout=30)
    p = tmp_path / "v.mp4"
    p.write_bytes(r.content)
    vs = stream(ffprobe(str(p)), "video")
    assert (vs["width"], vs["height"]) == (1280, 720)


@pytest.mark.parametrize("marker", ["badphoto", "offsite"])
def test_bad_photo_falls_back(api, register, db, marker):
    """A photo that does not decode, or one on a private address (refused unfetched)."""
    u = register()
    v = narrated(api, u, f"Stock {marker} of rice")
    job = run_step(api, u, v["id"], "images", {"aspect": "1:1"})
    assert job["status"] == "succeeded", job
    got = get_video(api, u, v["id"])
    assert [r[2] for r in image_rows(db, got)] == ["generated"] * 3


def test_stock_then_render(api, register, db, tmp_path):
    u = register()
    v = narrated(api, u, "Stock photos of rice growing")
    assert run_step(api, u, v["id"], "images")["status"] == "succeeded"
    job = run_step(api, u, v["id"], "render", timeout=300)
    assert job["status"] == "succeeded", job
    got = get_video(api, u, v["id"])
    r = api.s.get(got["url"], timeout=30)
    p = tmp_path / "v.mp4"
    p.write_bytes(r.content)
    vs = stream(ffprobe(str(p)), "video")
    assert (vs["width"], vs["height"]) == (1280, 720)
