"""Images and clips for the video tests: real pictures made once per session by the
ffmpeg binary (or by hand where the point is a header: a PNG that claims 20000×20000,
a truncated one, an EXIF block with GPS), projects (POST /api/projects), uploads, and a clip's job driven to success in SQL the way
a provider's success function does it."""
import functools
import os
import struct
import subprocess
import tempfile
import urllib.parse
import uuid
import zlib
from pathlib import Path

import requests

from conftest import DATA_DIR

STORAGE = Path(DATA_DIR) / "storage"
_CACHE = Path(tempfile.mkdtemp(prefix="rv-image-"))

# GPSLatitude 48/1 51/1 2975/100 as the EXIF block below carries it (big-endian).
GPS_RATIONALS = struct.pack(">6I", 48, 1, 51, 1, 2975, 100)


@functools.lru_cache(maxsize=None)
def make_image(kind, w=64, h=48):
    """A w×h test picture as jpeg, png, webp or gif bytes."""
    out = _CACHE / f"{w}x{h}.{kind}"
    extra = {"jpeg": ["-q:v", "3"], "webp": ["-c:v", "libwebp"], "png": [], "gif": []}[kind]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={w}x{h}", "-frames:v", "1", *extra, "-f",
                    {"jpeg": "mjpeg", "png": "image2", "webp": "webp", "gif": "gif"}[kind],
                    str(out)], check=True)
    return out.read_bytes()


def exif_app1(orientation=6):
    """An APP1 Exif segment: Orientation and a GPS IFD (GPSLatitudeRef N, GPSLatitude)."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd0 = struct.pack(">H", 2)
    ifd0 += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    ifd0 += struct.pack(">HHII", 0x8825, 4, 1, 38)
    ifd0 += struct.pack(">I", 0)
    gps = struct.pack(">H", 2)
    gps += struct.pack(">HHI", 0x0001, 2, 2) + b"N\x00\x00\x00"
    gps += struct.pack(">HHII", 0x0002, 5, 3, 68)
    gps += struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff + ifd0 + gps + GPS_RATIONALS
    assert len(tiff + ifd0 + gps) == 68
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def jpeg_with_gps(w=64, h=32, orientation=6):
    j = make_image("jpeg", w, h)
    return j[:2] + exif_app1(orientation) + j[2:]


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def png_bomb(w=20000, h=20000):
    """A PNG whose header claims w×h over a few bytes of (zero) pixels."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def make_project(api, user, name="clips"):
    r = api.post("/api/projects", {"name": name}, token=user.access)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def upload_image(api, token, data, filename="photo.jpg", ctype="image/jpeg", project=None,
                 **kw):
    q = f"/api/images?filename={filename}"
    if project:
        q += f"&projectId={project}"
    return api.request("POST", q, data=data, token=token, ctype=ctype, **kw)


def image_files(db, user_id):
    """Stored files of the user's images that exist on disk."""
    keys = [k for row in db.rows("SELECT storage_key, thumb_key FROM images WHERE user_id = :'u'",
                                 u=user_id) for k in row]
    return [k for k in keys if (STORAGE / k).exists()]


def finish_clip(db, job_id, duration_ms=5000):
    """Succeeds a video_clip job as a provider would (rv_video_clip_succeed), with two
    small files registered in storage first. Returns (video_key, poster_key)."""
    keys = []
    for ext, data in (("mp4", b"\x00\x00\x00\x18ftypmp42"), ("jpg", make_image("jpeg"))):
        k = f"clips/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.{ext}"
        (STORAGE / k).parent.mkdir(parents=True, exist_ok=True)
        (STORAGE / k).write_bytes(data)
        keys.append(k)
    out = ('{"videoKey": "%s", "posterKey": "%s", "durationMs": %d, "bytes": 12, '
           '"width": 1280, "height": 720, "contentType": "video/mp4"}') % (keys[0], keys[1],
                                                                             duration_ms)
    ok = db.scalar("SELECT rv_storage_pending(ARRAY[:'v', :'p']); "
                   "SELECT rv_video_clip_succeed(:'j', :'o'::jsonb, 'test')",
                   v=keys[0], p=keys[1], j=job_id, o=out)
    assert ok == "t", ok
    return keys


# ------------------------------------------------------------------ clips

RUNWAY_URL = os.environ.get("RV_RUNWAY_URL", "")
CLIP_KEYS = {"id", "projectId", "imageId", "prompt", "durationSeconds", "ratio", "status",
             "approved", "position", "jobId", "createdAt"}
CLIP_INPUT_KEYS = {"clipId", "imageId", "imageKey", "width", "height", "durationSeconds",
                   "ratio", "prompt"}


def runway(method, path, body=None):
    """The Runway simulator's control routes (/_sim/...)."""
    r = requests.request(method, RUNWAY_URL + path, json=body, timeout=10)
    r.raise_for_status()
    return r.json()


def runway_tasks(prompt):
    return runway("GET", "/_sim/tasks?prompt=" + urllib.parse.quote(prompt))["items"]


def clip_setup(api, db, user, kind="jpeg"):
    """A project of the user's and an image in it: (project id, image)."""
    p = make_project(api, user)
    r = upload_image(api, user.access, make_image(kind, 320, 180), project=p,
                     ctype=f"image/{kind}")
    assert r.status_code == 201, r.text
    return p, r.json()


def post_clip(api, user, body, idem=None):
    h = {"Idempotency-Key": idem} if idem else None
    return api.post("/api/clips", body, token=user.access, headers=h)


def unique_prompt(extra=""):
    return f"a slow pan over the hills {uuid.uuid4().hex[:12]} {extra}".strip()
