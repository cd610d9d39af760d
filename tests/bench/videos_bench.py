"""Video figures for `make bench` (a benchmark, not a test: it never fails on a number).

usage: videos_bench.py BASE_URL MIGRATE_CONNINFO [RESULTS_FILE]

1. one auto video on the local path: POST /api/videos {auto: true, script} with a
   script sized to about 60 s of speech (local espeak-ng narration, title cards,
   720p render), seconds from the request to the video `ready`;
2. batch throughput: POST /api/batches with 10 topics (the scripts from the
   language model the stack is given: the OpenAI simulator), videos per minute
   from the request to the last video ended.
A user with enough credits is made the way the bench makes its own; rate limits off.
Figures go to stdout and, as "key value" lines, to RESULTS_FILE.
"""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

BASE, DB = sys.argv[1:3]
RES = sys.argv[3] if len(sys.argv) > 3 else None
VOICE = "00000000-0000-4000-8000-000000000001"
DEADLINE_S = 900

# About 200 words: a minute of espeak-ng at its default rate.
SCRIPT = [
    {"heading": "Seeds", "content": (
        "Rice begins as a small seed that farmers soak in water for a day or two. The wet seed "
        "swells and sends out a tiny shoot, and then the seedlings are raised in a nursery bed "
        "for about three to four weeks before they are moved.")},
    {"heading": "Planting", "content": (
        "The young plants are set into flooded fields called paddies. The standing water keeps "
        "weeds down and holds the warmth of the sun, which the plants love while they grow tall "
        "and green through the long summer months.")},
    {"heading": "Growing", "content": (
        "Over the next three months the plant grows leaves, then stems, and finally heads of "
        "grain. Farmers watch the water level carefully and drain the fields a few weeks before "
        "the harvest so the ground can dry out.")},
    {"heading": "Harvest", "content": (
        "When the grains turn golden the rice is cut, threshed and dried in the sun. From seed "
        "to harvest, most rice takes between four and six months, depending on the variety and "
        "the weather where it grows.")},
    {"heading": "Eating", "content": (
        "The dried grain is milled to take off the husk, which gives brown rice, and polished "
        "further for white rice. Then it is packed, shipped around the world and cooked in "
        "kitchens everywhere, often in less than twenty minutes.")},
]


def call(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def sql(q):
    return subprocess.run(["psql", DB, "-X", "-At", "-c", q], capture_output=True,
                          text=True).stdout.strip()


def rec(key, value):
    if RES:
        with open(RES, "a") as f:
            f.write(f"{key} {value}\n")


def user():
    email = f"bench-videos-{time.time_ns()}@example.com"
    login = {"email": email, "password": "bench-password-123"}
    call("POST", BASE + "/api/auth/register", login)
    _, tok = call("POST", BASE + "/api/auth/login", login)
    uid = sql(f"SELECT id FROM users WHERE email = '{email}'")
    sql(f"SELECT rv_credit_move('{uid}', 1000000, 'grant', 'bench')")
    sql("UPDATE admin_config SET value = '{\"generationsPerMinute\": 0}' WHERE key = 'rate_limits'")
    return tok["accessToken"]


def wait_videos(token, ids):
    """Polls the videos until each is ready or failed; {id: video}."""
    end, done = time.monotonic() + DEADLINE_S, {}
    while len(done) < len(ids) and time.monotonic() < end:
        for vid in ids:
            if vid in done:
                continue
            st, v = call("GET", f"{BASE}/api/videos/{vid}", token=token)
            if st == 200 and v["status"] in ("ready", "failed"):
                done[vid] = (v, time.monotonic())
        time.sleep(0.2)
    return done


def one_auto(token):
    t0 = time.monotonic()
    st, v = call("POST", BASE + "/api/videos",
                 {"title": "How rice grows", "topic": "How long does rice take to grow?",
                  "auto": True, "voiceId": VOICE, "script": {"sections": SCRIPT},
                  "resolution": "720p", "aspect": "16:9", "captions": "burned"}, token)
    if st != 201:
        print(f"auto video (60 s, 720p, local):   not run ({st} {v})")
        return
    done = wait_videos(token, [v["id"]])
    if v["id"] not in done:
        print(f"auto video (60 s, 720p, local):   not ready within {DEADLINE_S} s")
        return
    got, t1 = done[v["id"]]
    secs = t1 - t0
    dur = (got.get("durationMs") or 0) / 1000
    print(f"auto video (~60 s, 720p, local):  {secs:8.1f} s from POST to {got['status']}"
          f"   (video {dur:.1f} s long, {dur / secs if secs else 0:.2f} s of video per second)")
    rec("videos.auto_60s_720p.seconds", f"{secs:.1f}")
    rec("videos.auto_60s_720p.video_seconds", f"{dur:.1f}")
    rec("videos.auto_60s_720p.status", json.dumps(got["status"]))


def batch(token, n=10):
    topics = [f"Why the sky looks blue, part {i + 1}" for i in range(n)]
    t0 = time.monotonic()
    st, b = call("POST", BASE + "/api/batches",
                 {"topics": topics, "voiceId": VOICE, "resolution": "720p"}, token)
    if st != 202:
        print(f"batch of {n} (local path):        not run ({st} {b.get('detail') if b else ''})")
        return
    ids = [v["id"] for v in b["videos"]]
    done = wait_videos(token, ids)
    ready = [v for v, _ in done.values() if v["status"] == "ready"]
    last = max((t for _, t in done.values()), default=time.monotonic())
    secs = last - t0
    per_min = len(ready) * 60 / secs if secs else 0
    avg = sum((v.get("durationMs") or 0) for v in ready) / 1000 / max(len(ready), 1)
    print(f"batch of {n} (local path):        {per_min:8.2f} videos/minute   ({len(ready)} ready, "
          f"{len(done) - len(ready)} failed, {n - len(done)} unfinished, in {secs:.1f} s; "
          f"videos {avg:.1f} s long on average)")
    rec("videos.batch10.videos_per_minute", f"{per_min:.2f}")
    rec("videos.batch10.seconds", f"{secs:.1f}")
    rec("videos.batch10.ready", len(ready))


def main():
    print("Videos (local path: espeak-ng narration, title cards, the render engine; "
          "batch scripts from the OpenAI simulator):")
    token = user()
    one_auto(token)
    batch(token)


if __name__ == "__main__":
    main()
