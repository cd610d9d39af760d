"""Shared helpers of the video tests (test_render_*.py, test_compilations.py): images
put into storage, projects and local video_clip jobs made as the superuser, clip rows
from their outputs, and libav checks of a rendered file (ffprobe).

Until the clips API exists, a test clip is made the way the poller would make it:
a video_clip job submitted through rv_submit for the user (the local provider
renders it with the render engine), then a clips row pointing at its output."""
import json
import os
import secrets
import struct
import subprocess
import time
import zlib

from conftest import DATA_DIR
from jobkit import TERMINAL

STORAGE = os.path.join(DATA_DIR, "storage")


def png_bytes(w, h, seed=0):
    """A w x h RGB PNG with a gradient and a checker (so motion shows)."""
    rows = []
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            row += bytes(((x * 255 // w + seed * 40) % 256, y * 255 // h,
                          200 if (x // 16 + y // 16) % 2 else 40))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def store_file(prefix, ext, data):
    """Writes data into the local storage as the poller would; returns its key."""
    h = secrets.token_hex(16)
    key = f"{prefix}/{h[:2]}/{h}.{ext}"
    path = os.path.join(STORAGE, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return key


def store_image(w=320, h=240, seed=0):
    return store_file("images", "png", png_bytes(w, h, seed))


def make_project(db, user_id, name="video test"):
    return db.scalar("INSERT INTO projects (user_id, name) VALUES (:'u', :'n') RETURNING id",
                     u=user_id, n=name)


def submit_as(db, user_id, kind, payload):
    """rv_submit for user_id, as a handler would (no key); returns (status, job_id)."""
    rows = db.rows(
        "SET reelvox.user_id = :'u';\nSET reelvox.role = 'user';\n"
        "SELECT status, job_id FROM rv_submit(:'k', :'i'::jsonb, NULL, '{local}', "
        "md5(random()::text));", u=user_id, k=kind, i=json.dumps(payload))
    return rows[-1]


def wait_jobs(db, ids, timeout=120.0):
    ids = list(ids)
    deadline = time.monotonic() + timeout
    while True:
        got = dict(db.rows("SELECT id, status FROM jobs WHERE id = ANY (:'ids'::uuid[])",
                           ids="{" + ",".join(ids) + "}"))
        if all(got.get(i) in TERMINAL for i in ids):
            return got
        assert time.monotonic() < deadline, f"jobs not done after {timeout}s: {got}"
        time.sleep(0.2)


def job_output(db, job_id):
    return json.loads(db.scalar("SELECT output::text FROM jobs WHERE id = :'j'", j=job_id))


def clip_job(db, user_id, image_key, seconds=5, ratio="16:9", prompt=""):
    payload = {"clipId": secrets.token_hex(8), "imageId": None, "imageKey": image_key,
               "width": 320, "height": 240, "durationSeconds": seconds, "ratio": ratio,
               "prompt": prompt}
    status, job_id = submit_as(db, user_id, "video_clip", payload)
    assert status == "created", status
    return job_id


def make_clips(db, user_id, project_id, specs, approved=True):
    """specs: [(seconds, ratio)]. Renders each through a local video_clip job and
    makes its clips row (approved). Returns [(clip_id, job_id, output)]."""
    jobs = [clip_job(db, user_id, store_image(320, 240, i), s, r)
            for i, (s, r) in enumerate(specs)]
    done = wait_jobs(db, jobs)
    assert set(done.values()) == {"succeeded"}, done
    out = []
    for (s, r), j in zip(specs, jobs):
        o = job_output(db, j)
        cid = db.scalar(
            "INSERT INTO clips (user_id, project_id, job_id, duration_seconds, ratio, approved, "
            "video_key, poster_key, duration_ms, bytes) VALUES (:'u', :'p', :'j', :s, :'r', "
            ":'a', :'v', :'k', :d, :b) RETURNING id", u=user_id, p=project_id, j=j, s=s, r=r,
            a="true" if approved else "false", v=o["videoKey"], k=o["posterKey"],
            d=o["durationMs"], b=o["bytes"])
        out.append((cid, j, o))
    return out


def pending_clip(db, user_id, project_id):
    """A clips row whose job has not run (queued, no video)."""
    status, j = submit_as(db, user_id, "video_clip",
                          {"clipId": "x", "imageKey": "images/00/none.png",
                           "durationSeconds": 5, "ratio": "16:9"})
    assert status == "created"
    # Held out of the poller's reach: due in an hour.
    db.rows("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = :'j'", j=j)
    return db.scalar("INSERT INTO clips (user_id, project_id, job_id, duration_seconds, approved) "
                     "VALUES (:'u', :'p', :'j', 5, true) RETURNING id",
                     u=user_id, p=project_id, j=j), j


def ffprobe(path):
    """{"format": ..., "streams": [...]} of a file, by ffprobe (libav)."""
    p = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                        "-show_streams", "-count_frames", path],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def stream(info, kind):
    s = [x for x in info["streams"] if x["codec_type"] == kind]
    return s[0] if s else None


def stored_path(key):
    return os.path.join(STORAGE, key)


def api_job(api, user, job_id):
    """GET /api/jobs/{id} (a video job's result is not an audio's: no assert_job)."""
    r = api.get(f"/api/jobs/{job_id}", token=user.access)
    assert r.status_code == 200, r.text
    return r.json()


def wait_api_job(api, user, job_id, timeout=300.0):
    deadline = time.monotonic() + timeout
    while True:
        job = api_job(api, user, job_id)
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.2)
