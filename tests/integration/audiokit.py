"""Audio files and upload helpers shared by the audio and conversion tests.

Files are real ones, made once per session by the ffmpeg binary from a sine
(lavfi), so every container and codec is what a browser or an editor would send.
"""
import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import DATA_DIR

# kind → (ffmpeg output options, Content-Type the API answers, key extension)
FORMATS = {
    "mp3": (["-c:a", "libmp3lame", "-b:a", "64k"], "audio/mpeg", "mp3"),
    "wav": (["-c:a", "pcm_s16le"], "audio/wav", "wav"),
    "ogg": (["-c:a", "libvorbis", "-f", "ogg"], "audio/ogg", "ogg"),
    "webm": (["-c:a", "libopus", "-ar", "48000", "-f", "webm"], "audio/webm", "webm"),
    "flac": (["-c:a", "flac"], "audio/flac", "flac"),
}

BODY_DIR = Path(DATA_DIR) / "nginx" / "body"
STORAGE = Path(DATA_DIR) / "storage"
_CACHE = Path(tempfile.mkdtemp(prefix="rv-audio-"))
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def make_audio(kind, seconds=1.5, rate=22050, freq=440):
    """Bytes of a mono sine of `seconds` in container `kind` (see FORMATS)."""
    path = _CACHE / f"sine-{freq}-{seconds}-{rate}.{kind}"
    if not path.exists():
        opts = FORMATS[kind][0]
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}",
                        "-ac", "1", *opts, str(path)], check=True, timeout=60)
    return path.read_bytes()


def upload(api, token, data, filename="take.mp3", ctype="audio/mpeg", query=None, **kw):
    """POST /api/audios with the raw body; query (str) replaces ?filename=..."""
    q = query if query is not None else "filename=" + filename
    return api.request("POST", "/api/audios?" + q if q else "/api/audios", data=data,
                       token=token, ctype=ctype, **kw)


def body_files():
    """What nginx's body temp folder holds (must be nothing between requests)."""
    out = []
    for root, _, files in os.walk(BODY_DIR):
        out += [os.path.join(root, f) for f in files]
    return out


def stored_files(db, user_id):
    """Names of the user's files in storage: those their audio rows name, and any
    file under audios/ made since they registered that no row names (a temporary or
    orphaned one, or a work file in storage/.tmp). Keys carry no user id, so that is
    how a leftover is told."""
    since = float(db.scalar("SELECT extract(epoch FROM created_at) FROM users WHERE id = :'u'",
                            u=user_id))
    mine = {k for (k,) in db.rows("SELECT storage_key FROM audios WHERE user_id = :'u'",
                                  u=user_id)}
    named = {k for (k,) in db.rows("SELECT storage_key FROM audios")}
    out = []
    # Work files live in storage/.tmp until they are stored: count those too.
    walks = list(os.walk(STORAGE / "audios")) + list(os.walk(STORAGE / ".tmp"))
    for root, _, files in walks:
        for f in files:
            p = Path(root) / f
            key = str(p.relative_to(STORAGE))
            try:
                fresh = p.stat().st_mtime >= since - 1
            except FileNotFoundError:
                continue
            if key in mine or (key not in named and fresh):
                out.append(f)
    return sorted(out)
