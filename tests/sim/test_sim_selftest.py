"""Self-test of the Replicate simulator: its wire protocol, its webhook signatures
(checked here independently of the simulator's code) and every fault it injects.

    /usr/bin/python3 -m pytest -q tests/sim/test_sim_selftest.py

Uses ports 18090-18099 on 127.0.0.1 only.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import io
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simctl  # noqa: E402

TOKEN = "TESTTOKEN"
SPEECH = "/v1/models/minimax/speech-02-turbo/predictions"
CLONE = "/v1/models/minimax/voice-cloning/predictions"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ------------------------------------------------------------------ receiver

def verify(secret, headers, body):
    """Standard Webhooks, written out here so the test does not trust the simulator."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig_header = headers.get("webhook-signature")
    if not (msg_id and ts and sig_header):
        return False
    if abs(time.time() - int(ts)) > 300:
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[6:])
    expected = base64.b64encode(
        hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()).decode()
    for part in sig_header.split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


class Receiver:
    """A webhook receiver like the backend's: records, verifies, answers 200 (or
    500 for the first N attempts of each webhook-id when its URL has fail=N)."""

    def __init__(self, port, secret):
        self.secret = secret
        self.lock = threading.Lock()
        self.hits = []
        self.attempts = {}
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                u = urllib.parse.urlsplit(self.path)
                q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer.lock:
                    n = outer.attempts.get(headers.get("webhook-id"), 0) + 1
                    outer.attempts[headers.get("webhook-id")] = n
                    status = 500 if n <= int(q.get("fail", 0)) else 200
                    outer.hits.append({
                        "job": q.get("job"), "path": u.path, "headers": headers, "body": body,
                        "json": json.loads(body), "verified": verify(outer.secret, headers, body),
                        "at": time.monotonic(), "returned": status,
                    })
                out = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class S(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = S(("127.0.0.1", port), H)
        self.port = port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, job, **params):
        q = urllib.parse.urlencode({"job": job, "token": "cb-" + job[:8], **params})
        return f"http://127.0.0.1:{self.port}/webhooks/replicate?{q}"

    def for_job(self, job):
        with self.lock:
            return [h for h in self.hits if h["job"] == job]

    def clear(self):
        with self.lock:
            self.hits.clear()
            self.attempts.clear()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def env():
    secret = simctl.new_secret()
    sim_port = simctl.free_port()
    h = simctl.start(sim_port, TOKEN, secret)
    rx = Receiver(simctl.free_port(exclude={sim_port}), secret)
    yield {"sim": h, "rx": rx, "secret": secret}
    rx.close()
    assert simctl.stop(h) == 0


@pytest.fixture(autouse=True)
def clean(env):
    simctl.reset(env["sim"])
    env["rx"].clear()
    yield


def call(env, method, path, body=None, token=TOKEN, timeout=10, headers=None):
    """(status, headers, parsed JSON or raw bytes)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(env["sim"].url + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        return status, hdrs, json.loads(raw)
    except ValueError:
        return status, hdrs, raw


def create(env, text="Hello from Reelvox.", job=None, path=SPEECH, inp=None, flt=None, **hook_params):
    job = job or str(uuid.uuid4())
    body = {"input": inp if inp is not None else {"text": text, "voice_id": "Wise_Woman"},
            "webhook": env["rx"].url(job, **hook_params)}
    if flt is not None:
        body["webhook_events_filter"] = flt
    status, hdrs, out = call(env, "POST", path, body)
    return job, status, hdrs, out


def wait_done(env, pid, timeout=10):
    def done():
        s, _, p = call(env, "GET", f"/v1/predictions/{pid}")
        return p if s == 200 and p["status"] in ("succeeded", "failed", "canceled", "aborted") else None
    return simctl.wait_until(done, timeout, what=f"prediction {pid} to finish")


def wait_hooks(env, job, n, timeout=10):
    return simctl.wait_until(lambda: (lambda h: h if len(h) >= n else None)(env["rx"].for_job(job)),
                             timeout, what=f"{n} webhooks for {job}")


def events(hits):
    return [h["json"]["status"] for h in hits]


# ------------------------------------------------------------------ tests

def test_success_flow_with_signed_webhooks(env):
    job, status, _, p = create(env, "Hello there, this is a test.")
    assert status == 201
    assert p["status"] == "starting" and p["model"] == "minimax/speech-02-turbo"
    assert len(p["id"]) == 26 and p["output"] is None and p["error"] is None
    assert p["urls"]["get"] == f"{env['sim'].url}/v1/predictions/{p['id']}"
    assert p["urls"]["cancel"].endswith(f"/v1/predictions/{p['id']}/cancel")
    for k in ("version", "input", "logs", "created_at", "started_at", "completed_at", "metrics"):
        assert k in p

    final = wait_done(env, p["id"])
    assert final["status"] == "succeeded"
    assert final["output"].startswith(env["sim"].url + "/files/")
    assert final["metrics"]["predict_time"] >= 0 and final["started_at"] and final["completed_at"]

    hits = simctl.wait_until(lambda: [h for h in env["rx"].for_job(job) if h["json"]["status"] == "succeeded"],
                             what="completed webhook")
    hits = env["rx"].for_job(job)
    assert all(h["verified"] for h in hits), [h["headers"] for h in hits]
    assert events(hits)[0] == "processing" and events(hits)[-1] == "succeeded"
    assert len({h["headers"]["webhook-id"] for h in hits}) == len(hits)  # one id per event
    done = hits[-1]["json"]
    assert done["id"] == p["id"] and done["output"] == final["output"]
    assert hits[-1]["headers"]["content-type"] == "application/json"
    assert hits[0]["path"] == "/webhooks/replicate"

    # The sim records a delivery once the receiver's answer is in, a moment after
    # the receiver saw it: wait for the record, never race it.
    seen = simctl.wait_until(lambda: (lambda s: s if s and s[0]["webhook_deliveries"]["count"] >= len(hits)
                                      else None)(simctl.predictions(job=job, sim=env["sim"])),
                             what="the deliveries to be recorded")
    assert len(seen) == 1 and seen[0]["id"] == p["id"] and seen[0]["create_attempts"] == 1
    assert seen[0]["webhook_deliveries"]["count"] == len(hits)
    assert set(seen[0]["webhook_deliveries"]["statuses"]) == {200}


def test_version_endpoint_and_events_filter(env):
    job = str(uuid.uuid4())
    s, _, p = call(env, "POST", "/v1/predictions", {
        "version": "minimax/speech-02-turbo:e2e8812b45eefa93b20990418480fe628ddce470f9b72909a175d65e288ff3d5",
        "input": {"text": "Only the end, please."},
        "webhook": env["rx"].url(job), "webhook_events_filter": ["completed"]})
    assert s == 201 and p["model"] == "minimax/speech-02-turbo" and p["version"].startswith("e2e8812b")
    wait_done(env, p["id"])
    hits = wait_hooks(env, job, 1)
    time.sleep(0.2)
    hits = env["rx"].for_job(job)
    assert events(hits) == ["succeeded"] and hits[0]["verified"]


def test_default_secret_endpoint(env):
    s, _, body = call(env, "GET", "/v1/webhooks/default/secret")
    assert s == 200 and body == {"key": env["secret"]}


def test_bad_or_missing_token_is_401(env):
    for token in ("WRONG", None):
        s, hdrs, body = call(env, "POST", SPEECH, {"input": {"text": "x"}}, token=token)
        assert s == 401
        assert hdrs["Content-Type"].startswith("application/json")
        assert body["title"] == "Unauthenticated" and body["status"] == 401 and body["detail"]
    s, _, _ = call(env, "GET", "/v1/webhooks/default/secret", token="WRONG")
    assert s == 401
    assert simctl.stats(sim=env["sim"])["unauthorized"] == 3


def test_validation_errors(env):
    s, _, body = call(env, "POST", SPEECH, {"webhook": "http://127.0.0.1:1/x"})
    assert s == 422 and body["status"] == 422 and body["title"] and "input" in body["detail"]
    s, _, body = call(env, "POST", SPEECH, {"input": {"voice_id": "Wise_Woman"}})
    assert s == 422 and "text" in body["detail"]
    s, _, body = call(env, "POST", "/v1/predictions", {"input": {"text": "no version"}})
    assert s == 422 and "version" in body["detail"]
    s, _, body = call(env, "POST", SPEECH, b"{not json")
    assert s == 400
    s, _, body = call(env, "POST", SPEECH, {"input": {"text": "[[sim bogus=1]]"}})
    assert s == 400 and "bogus" in body["detail"]
    assert simctl.stats(sim=env["sim"])["creates_accepted"] == 0


def test_429_with_retry_after_then_success(env):
    job = str(uuid.uuid4())
    text = "Throttle me " + simctl.directive(create_status=429, times=2, retry_after=3)
    for _ in range(2):
        _, s, hdrs, body = create(env, text, job=job)
        assert s == 429 and hdrs["Retry-After"] == "3"
        assert body["status"] == 429 and "throttled" in body["detail"]
    _, s, _, p = create(env, text, job=job)
    assert s == 201
    assert wait_done(env, p["id"])["status"] == "succeeded"
    seen = simctl.predictions(job=job, sim=env["sim"])
    assert len(seen) == 1 and seen[0]["create_attempts"] == 3
    st = simctl.stats(sim=env["sim"])
    assert st["creates_refused"] == 2 and st["creates_refused_by_status"] == {"429": 2}
    assert st["creates_accepted"] == 1


@pytest.mark.parametrize("code", [500, 503])
def test_5xx_on_create(env, code):
    job = str(uuid.uuid4())
    text = "x " + simctl.directive(create_status=code)
    _, s, hdrs, body = create(env, text, job=job)
    assert s == code and body["status"] == code
    assert ("Retry-After" in hdrs) == (code == 503)
    _, s, _, _ = create(env, text, job=job)
    assert s == 201


def test_job_identified_by_input_hash_without_job_param(env):
    inp = {"text": "no job param " + simctl.directive(create_status=503, times=1)}
    s, _, _ = call(env, "POST", SPEECH, {"input": inp})
    assert s == 503
    s, _, p = call(env, "POST", SPEECH, {"input": inp})
    assert s == 201
    s, _, _ = call(env, "POST", SPEECH, {"input": {"text": "another " + simctl.directive(create_status=503)}})
    assert s == 503


@pytest.mark.parametrize("outcome,error", [("failed", "sim: forced failure"), ("canceled", None),
                                           ("aborted", None)])
def test_forced_outcomes(env, outcome, error):
    job, s, _, p = create(env, "x " + simctl.directive(outcome=outcome))
    assert s == 201
    final = wait_done(env, p["id"])
    assert final["status"] == outcome and final["output"] is None and final["error"] == error
    hits = simctl.wait_until(lambda: [h for h in env["rx"].for_job(job) if h["json"]["status"] == outcome],
                             what="completed webhook")
    assert hits[0]["verified"]
    if outcome == "aborted":
        assert final["started_at"] is None
        assert "processing" not in events(env["rx"].for_job(job))


def test_cancel(env):
    job, s, _, p = create(env, "long one " + simctl.directive(delay_ms=5000))
    simctl.wait_until(lambda: call(env, "GET", f"/v1/predictions/{p['id']}")[2]["status"] == "processing")
    s, _, c = call(env, "POST", f"/v1/predictions/{p['id']}/cancel")
    assert s == 200 and c["status"] == "canceled" and c["completed_at"]
    hits = simctl.wait_until(lambda: [h for h in env["rx"].for_job(job) if h["json"]["status"] == "canceled"],
                             what="canceled webhook")
    assert hits[0]["verified"]
    s, _, again = call(env, "POST", f"/v1/predictions/{p['id']}/cancel")  # terminal: unchanged
    assert s == 200 and again["status"] == "canceled"
    assert call(env, "POST", "/v1/predictions/doesnotexist/cancel")[0] == 404


def test_duplicate_webhooks(env):
    job, _, _, p = create(env, "twice " + simctl.directive(webhooks="duplicate"))
    wait_done(env, p["id"])
    simctl.wait_until(lambda: len([h for h in env["rx"].for_job(job) if h["json"]["status"] == "succeeded"]) == 2,
                      what="two completed webhooks")
    hits = env["rx"].for_job(job)
    assert all(h["verified"] for h in hits)
    ids = [h["headers"]["webhook-id"] for h in hits]
    assert all(ids.count(i) == 2 for i in ids)  # every event twice, same id
    done = [h for h in hits if h["json"]["status"] == "succeeded"]
    assert done[0]["body"] == done[1]["body"]


def test_out_of_order_webhooks(env):
    job, _, _, p = create(env, "shuffle " + simctl.directive(webhooks="out_of_order"), flt=["start", "completed"])
    wait_done(env, p["id"])
    hits = wait_hooks(env, job, 2)
    assert events(hits) == ["succeeded", "processing"]
    assert all(h["verified"] for h in hits)


def test_late_webhook(env):
    job, _, _, p = create(env, "late " + simctl.directive(webhooks="late", late_ms=700), flt=["completed"])
    final = wait_done(env, p["id"])
    t_done = time.monotonic()
    assert final["status"] == "succeeded" and env["rx"].for_job(job) == []
    hits = wait_hooks(env, job, 1, timeout=5)
    assert hits[0]["at"] - t_done >= 0.5 and hits[0]["json"]["status"] == "succeeded" and hits[0]["verified"]


def test_no_webhooks(env):
    job, _, _, p = create(env, "silent " + simctl.directive(webhooks="none"))
    assert wait_done(env, p["id"])["status"] == "succeeded"
    time.sleep(0.4)
    assert env["rx"].for_job(job) == []
    assert simctl.stats(sim=env["sim"])["webhooks_sent"] == 0


def test_bad_signature(env):
    job, _, _, p = create(env, "forged " + simctl.directive(bad_signature=1), flt=["completed"])
    hits = wait_hooks(env, job, 1)
    assert hits[0]["headers"]["webhook-signature"].startswith("v1,") and not hits[0]["verified"]


def test_extra_signature_still_verifies(env):
    job, _, _, p = create(env, "two sigs " + simctl.directive(extra_signature=1), flt=["completed"])
    hits = wait_hooks(env, job, 1)
    assert len(hits[0]["headers"]["webhook-signature"].split(" ")) == 2 and hits[0]["verified"]


def test_webhook_retried_on_500_with_same_id(env):
    job, _, _, p = create(env, "flaky receiver", flt=["completed"], fail=2)
    hits = wait_hooks(env, job, 3)
    assert [h["returned"] for h in hits] == [500, 500, 200]
    assert len({h["headers"]["webhook-id"] for h in hits}) == 1
    assert all(h["verified"] for h in hits)
    seen = simctl.predictions(job=job, sim=env["sim"])[0]
    assert seen["webhook_deliveries"]["statuses"] == [500, 500, 200]


def test_webhook_to_dead_receiver_is_retried_then_given_up(env):
    dead = simctl.free_port(exclude={env["sim"].port, env["rx"].port})
    s, _, p = call(env, "POST", SPEECH, {
        "input": {"text": "nobody home " + simctl.directive(webhook_retries=2, webhook_backoff_ms=20)},
        "webhook": f"http://127.0.0.1:{dead}/hook?job=dead", "webhook_events_filter": ["completed"]})
    assert s == 201
    seen = simctl.wait_until(lambda: (lambda x: x if x and x[0]["webhook_deliveries"]["count"] == 3 else None)(
        simctl.predictions(job="dead", sim=env["sim"])), what="3 attempts")
    assert all(str(st).startswith("error") for st in seen[0]["webhook_deliveries"]["statuses"])
    assert simctl.stats(sim=env["sim"])["webhooks_given_up"] == 1


def test_hung_receiver_does_not_stall_predictions(env):
    import socket
    port = simctl.free_port(exclude={env["sim"].port, env["rx"].port})
    with socket.socket() as hole:  # accepts connections (backlog) and never answers
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", port))
        hole.listen(128)
        for i in range(40):
            s, _, _ = call(env, "POST", SPEECH, {
                "input": {"text": f"into the void {i} " + simctl.directive(webhook_timeout_s=2, webhook_retries=0)},
                "webhook": f"http://127.0.0.1:{port}/hook?job=void"})
            assert s == 201
        t0 = time.monotonic()
        _, _, _, p = create(env, "still moving")
        assert wait_done(env, p["id"], timeout=1.5)["status"] == "succeeded"
        assert time.monotonic() - t0 < 1.0
        assert all(x["status"] == "succeeded" for x in simctl.predictions(job="void", sim=env["sim"]))


def test_output_is_a_real_wav_and_grows_with_text(env):
    durations = []
    for text in ("Hi.", "This sentence is quite a lot longer than the first one, so it lasts longer."):
        _, _, _, p = create(env, inp={"text": text, "sample_rate": 16000})
        out = wait_done(env, p["id"])["output"]
        with OPENER.open(out, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "audio/wav"
            data = r.read()
        with wave.open(io.BytesIO(data)) as w:
            assert w.getframerate() == 16000 and w.getsampwidth() == 2 and w.getnchannels() == 1
            assert w.getnframes() > 0
            durations.append(w.getnframes() / w.getframerate())
    assert durations[1] > durations[0]


def test_output_expired_is_404(env):
    _, _, _, p = create(env, "gone " + simctl.directive(output_expired=1))
    out = wait_done(env, p["id"])["output"]
    with pytest.raises(urllib.error.HTTPError) as e:
        OPENER.open(out, timeout=10)
    assert e.value.code == 404 and b"<Error>" in e.value.read()


def test_get_status_fails_k_times(env):
    _, _, _, p = create(env, "poll me " + simctl.directive(get_status=500, times=2))
    codes = [call(env, "GET", f"/v1/predictions/{p['id']}")[0] for _ in range(3)]
    assert codes == [500, 500, 200]
    assert call(env, "GET", "/v1/predictions/doesnotexist")[0] == 404


def test_malformed_create_body(env):
    job, s, _, raw = create(env, "garbled " + simctl.directive(create_malformed=1))
    assert s == 201 and isinstance(raw, bytes)
    with pytest.raises(ValueError):
        json.loads(raw)
    seen = simctl.predictions(job=job, sim=env["sim"])  # it exists all the same
    assert len(seen) == 1 and seen[0]["malformed_reply"]
    _, s, _, p = create(env, "garbled " + simctl.directive(create_malformed=1), job=job)
    assert s == 201 and p["status"] == "starting"  # only the first attempt


def test_create_hang_times_out_the_client(env):
    job = str(uuid.uuid4())
    body = {"input": {"text": "slow " + simctl.directive(create_hang_s=1.2)}, "webhook": env["rx"].url(job)}
    req = urllib.request.Request(env["sim"].url + SPEECH, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    t0 = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError, OSError)):
        OPENER.open(req, timeout=0.3)
    assert time.monotonic() - t0 < 1.0
    assert simctl.predictions(job=job, sim=env["sim"]) == []
    # The request was accepted after all once the hang ended, as a provider would.
    seen = simctl.wait_until(lambda: simctl.predictions(job=job, sim=env["sim"]), timeout=5)
    assert seen[0]["create_attempts"] == 1


def test_gate_holds_creates_and_finishes(env):
    """create_gate holds a create, finish_gate keeps a prediction processing, for as
    long as the gate is closed (a reset closes it); opening it lets both go on."""
    simctl.reset(sim=env["sim"])
    assert simctl.gate(sim=env["sim"]) == {"open": False, "waiting": 0, "parked": 0}
    out = {}
    t = threading.Thread(target=lambda: out.update(
        r=create(env, "held " + simctl.directive(create_gate=1))))
    t.start()
    simctl.wait_until(lambda: simctl.gate(sim=env["sim"])["waiting"] == 1, what="a held create")
    assert t.is_alive() and simctl.predictions(sim=env["sim"]) == []
    _, s, _, p = create(env, "parked " + simctl.directive(finish_gate=1, delay_ms=0))
    assert s == 201
    simctl.wait_until(lambda: simctl.gate(sim=env["sim"])["parked"] == 1, what="a parked prediction")
    _, _, q = call(env, "GET", f"/v1/predictions/{p['id']}")
    assert q["status"] == "processing"
    assert simctl.gate(True, sim=env["sim"])["open"] is True
    t.join(5)
    assert not t.is_alive() and out["r"][1] == 201
    assert wait_done(env, p["id"])["status"] == "succeeded"
    assert wait_done(env, out["r"][3]["id"])["status"] == "succeeded"
    # Open, a gated create passes at once; closed again by the API or a reset.
    assert create(env, "passes " + simctl.directive(create_gate=1))[1] == 201
    assert simctl.gate(False, sim=env["sim"])["open"] is False
    simctl.gate(True, sim=env["sim"])
    simctl.reset(sim=env["sim"])
    assert simctl.gate(sim=env["sim"])["open"] is False
    s, _, _ = simctl.request("POST", "/_sim/gate", {"open": "yes"}, sim=env["sim"])
    assert s == 400


def test_global_config_until_reset(env):
    simctl.config(sim=env["sim"], outcome="failed", delay_ms=10)
    _, _, _, p = create(env, "no directive at all")
    assert wait_done(env, p["id"])["status"] == "failed"
    _, _, _, p2 = create(env, "directive wins " + simctl.directive(outcome="succeeded"))
    assert wait_done(env, p2["id"])["status"] == "succeeded"
    simctl.reset(sim=env["sim"])
    assert simctl.predictions(sim=env["sim"]) == []
    _, _, _, p3 = create(env, "normal again")
    assert wait_done(env, p3["id"])["status"] == "succeeded"
    s, _, _ = simctl.request("POST", "/_sim/config", {"outcome": "exploded"}, sim=env["sim"])
    assert s == 400


def test_voice_cloning(env):
    _, _, _, sample = create(env, "a sample to clone")
    sample_url = wait_done(env, sample["id"])["output"]
    job, s, _, p = create(env, path=CLONE, inp={"voice_file": sample_url, "model": "speech-02-turbo"})
    assert s == 201 and p["model"] == "minimax/voice-cloning"
    final = wait_done(env, p["id"])
    assert final["status"] == "succeeded"
    assert final["output"]["voice_id"] == f"sim-voice-{p['id']}"
    with OPENER.open(final["output"]["preview"], timeout=10) as r:
        assert r.headers["Content-Type"] == "audio/wav"
        with wave.open(io.BytesIO(r.read())) as w:
            assert w.getnframes() > 0
    hits = simctl.wait_until(lambda: [h for h in env["rx"].for_job(job) if h["json"]["status"] == "succeeded"])
    assert hits[0]["json"]["output"]["voice_id"] == final["output"]["voice_id"]

    dead = simctl.free_port(exclude={env["sim"].port, env["rx"].port})
    _, s, _, p = create(env, path=CLONE, inp={"voice_file": f"http://127.0.0.1:{dead}/missing.wav"})
    final = wait_done(env, p["id"])
    assert final["status"] == "failed" and "voice_file" in final["error"]
    s, _, body = call(env, "POST", CLONE, {"input": {"model": "speech-02-turbo"}})
    assert s == 422 and "voice_file" in body["detail"]


def test_prefer_wait_returns_the_finished_prediction(env):
    s, _, p = call(env, "POST", SPEECH, {"input": {"text": "sync please"}}, headers={"Prefer": "wait=5"})
    assert s == 201 and p["status"] == "succeeded" and p["output"]


def test_list_is_paged_with_a_stable_cursor(env):
    def make(text):  # no webhook: nothing left in flight for the next test
        st, _, p = call(env, "POST", SPEECH, {"input": {"text": text}})
        assert st == 201
        return p["id"]

    made = [make(f"page {i}") for i in range(230)]
    st, _, first = call(env, "GET", "/v1/predictions")
    assert st == 200 and first["previous"] is None
    assert [p["id"] for p in first["results"]] == made[::-1][:100]
    # Predictions created while paging do not shift the following pages.
    for i in range(7):
        make(f"late {i}")
    seen = [p["id"] for p in first["results"]]
    nxt = first["next"]
    while nxt:
        assert nxt.startswith(env["sim"].url + "/v1/predictions?cursor=")
        st, _, page = call(env, "GET", nxt[len(env["sim"].url):])
        assert st == 200 and page["previous"]
        seen += [p["id"] for p in page["results"]]
        nxt = page["next"]
    assert seen == made[::-1]
    assert call(env, "GET", "/v1/predictions?cursor=bm9wZQ")[0] == 400
    assert call(env, "GET", "/v1/predictions", token="wrong")[0] == 401


def test_200_concurrent_predictions_all_complete(env):
    n = 200
    jobs = [str(uuid.uuid4()) for _ in range(n)]
    t0 = time.monotonic()

    def one(job):
        _, s, _, p = create(env, f"Concurrent job {job[:8]}", job=job, flt=["start", "completed"])
        return s, p

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        results = list(ex.map(one, jobs))
    assert [s for s, _ in results] == [201] * n
    assert len({p["id"] for _, p in results}) == n

    def all_done():
        st = simctl.stats(sim=env["sim"])
        return st if st["predictions_by_status"].get("succeeded") == n and st["webhooks_delivered"] == 2 * n else None
    st = simctl.wait_until(all_done, timeout=10, interval=0.1, what="all predictions and webhooks")
    elapsed = time.monotonic() - t0
    hits = env["rx"].hits
    assert len(hits) == 2 * n and all(h["verified"] for h in hits)
    for job in jobs[:20]:
        assert events(env["rx"].for_job(job)) == ["processing", "succeeded"]
    assert st["webhook_statuses"] == {"200": 2 * n}
    assert elapsed < 10, elapsed


def test_sigterm_stops_cleanly(env):
    port = simctl.free_port(exclude={env["sim"].port, env["rx"].port})
    h = simctl.start(port, TOKEN, simctl.new_secret())
    s, _, _ = simctl.request("POST", SPEECH, {"input": {"text": "in flight " + simctl.directive(delay_ms=2000)}},
                             sim=h, headers={"Authorization": f"Bearer {TOKEN}"})
    assert s == 201
    t0 = time.monotonic()
    assert simctl.stop(h) == 0
    assert time.monotonic() - t0 < 3
