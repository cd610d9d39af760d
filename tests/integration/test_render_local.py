"""The local provider's video jobs (the render engine in the poller's child): a
video_clip job renders a real H.264 MP4 of the requested length and ratio from an
image, with a poster, reports progress, and is charged once; an image that is not
there fails the job and refunds it. Checked on the job row and with ffprobe."""
import os

from jobkit import assert_settled, no_rate_limit
from videokit import (clip_job, ffprobe, job_output, store_file, store_image, stored_path,
                      stream, wait_jobs)

OUTPUT_KEYS = {"videoKey", "posterKey", "durationMs", "bytes", "width", "height", "contentType"}


def test_clip_job_renders_each_ratio(db, register):
    u = register()
    with no_rate_limit(db):
        jobs = {r: clip_job(db, u.id, store_image(400, 300, i), 5, r)
                for i, r in enumerate(("16:9", "9:16", "1:1"))}
        done = wait_jobs(db, jobs.values())
    assert set(done.values()) == {"succeeded"}, done
    sizes = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720)}
    for ratio, j in jobs.items():
        o = job_output(db, j)
        assert set(o) == OUTPUT_KEYS, o
        assert o["contentType"] == "video/mp4"
        assert (o["width"], o["height"]) == sizes[ratio]
        assert o["durationMs"] == 5000
        info = ffprobe(stored_path(o["videoKey"]))
        v = stream(info, "video")
        assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
        assert (v["width"], v["height"]) == sizes[ratio]
        assert abs(float(v["duration"]) - 5.0) <= 0.1
        assert int(v["nb_read_frames"]) == 125
        assert stream(info, "audio")["codec_name"] == "aac"
        assert os.path.getsize(stored_path(o["videoKey"])) == o["bytes"]
        with open(stored_path(o["posterKey"]), "rb") as f:
            assert f.read(3) == b"\xff\xd8\xff"
        # the files are claimed: nothing left pending for the sweeper
        assert db.scalar("SELECT count(*) FROM storage_pending WHERE key IN (:'a', :'b')",
                         a=o["videoKey"], b=o["posterKey"]) == "0"
        row = db.rows("SELECT status, progress, cost_credits FROM jobs WHERE id = :'j'", j=j)[0]
        assert row[:2] == ("succeeded", "100")
        assert_settled(db, {"id": j, "costCredits": int(row[2])}, refunded=False)


def test_clip_job_reports_progress(db, register):
    """A 10 s clip: its progress is written while it encodes (between 10 and 100)."""
    u = register()
    j = clip_job(db, u.id, store_image(640, 480), 10, "16:9")
    seen = set()
    import time
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st, pr = db.rows("SELECT status, progress FROM jobs WHERE id = :'j'", j=j)[0]
        seen.add(int(pr))
        if st in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert st == "succeeded"
    assert any(10 < p < 100 for p in seen), seen


def test_clip_job_missing_image_fails_and_refunds(db, register):
    u = register()
    before = db.credits(u.id)
    j = clip_job(db, u.id, "images/00/" + "0" * 32 + ".png")
    assert wait_jobs(db, [j])[j] == "failed"
    err = db.scalar("SELECT error->>'code' FROM jobs WHERE id = :'j'", j=j)
    assert err == "input_missing"
    assert db.credits(u.id) == before


def test_clip_job_not_an_image_fails(db, register):
    """A stored file that is not an image (a playlist naming another file) is refused
    by the engine before any filter sees it."""
    u = register()
    before = db.credits(u.id)
    key = store_file("images", "png", b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n")
    j = clip_job(db, u.id, key)
    assert wait_jobs(db, [j])[j] == "failed"
    assert db.scalar("SELECT error->>'code' FROM jobs WHERE id = :'j'", j=j) == "render_failed"
    assert db.credits(u.id) == before
