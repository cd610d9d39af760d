"""GET /metrics: the Prometheus text exposition, parsed with the real parser
(python3-prometheus-client): requests by endpoint and status with their latency
histogram (counted by every worker into shared memory), provider calls, poller
passes, and the database's figures (jobs, queue, webhook inbox, credits). Only
loopback may read it."""
import os
import socket
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import BASE_URL
from jobkit import SIM_URL, TERMINAL, submit_tts, wait_for_job, wait_until

PORT = int(BASE_URL.rsplit(":", 1)[1].split("/")[0])


def scrape(api):
    r = api.get("/metrics")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    return fams


def sample(fams, family, name=None, **labels):
    """The value of the sample `name` (default: the family's) with exactly these
    labels (a subset match on the given ones); 0 when absent."""
    f = fams.get(family)
    if f is None:
        return 0.0
    name = name or family
    total = 0.0
    for s in f.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


def test_families_and_types(api):
    fams = scrape(api)
    want = {
        # prometheus_client strips _total from a counter family's name
        "reelvox_http_requests": "counter",
        "reelvox_http_request_duration_seconds": "histogram",
        "reelvox_provider_calls": "counter",
        "reelvox_provider_call_errors": "counter",
        "reelvox_provider_call_duration_seconds": "histogram",
        "reelvox_poller_pass_duration_seconds": "histogram",
        "reelvox_jobs": "gauge",
        "reelvox_queue_depth": "gauge",
        "reelvox_queue_oldest_age_seconds": "gauge",
        "reelvox_webhook_inbox_backlog": "gauge",
        "reelvox_webhook_inbox_oldest_age_seconds": "gauge",
        "reelvox_credits_charged": "counter",
        "reelvox_credits_refunded": "counter",
        "reelvox_poller_last_pass_age_seconds": "gauge",
    }
    for name, typ in want.items():
        assert name in fams, f"{name} missing: {sorted(fams)}"
        assert fams[name].type == typ, (name, fams[name].type)


def test_requests_by_endpoint_and_status_with_latency(api, register):
    user = register()
    before = scrape(api)
    for _ in range(3):
        assert api.get("/api/version").status_code == 200
    missing = f"/api/jobs/{uuid.uuid4()}"
    assert api.get(missing, token=user.access).status_code == 404
    after = scrape(api)
    fam = "reelvox_http_requests"
    assert sample(after, fam, "reelvox_http_requests_total", endpoint="version", status="200") - \
        sample(before, fam, "reelvox_http_requests_total", endpoint="version", status="200") == 3
    assert sample(after, fam, "reelvox_http_requests_total", endpoint="job", status="404") - \
        sample(before, fam, "reelvox_http_requests_total", endpoint="job", status="404") == 1
    h = "reelvox_http_request_duration_seconds"
    n = sample(after, h, h + "_count", endpoint="version")
    assert n - sample(before, h, h + "_count", endpoint="version") == 3
    # Buckets are cumulative and end at the count.
    buckets = [(float(s.labels["le"]), s.value) for s in after[h].samples
               if s.name == h + "_bucket" and s.labels["endpoint"] == "version"]
    assert buckets and buckets[-1] == (float("inf"), n), buckets
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    assert 0 < sample(after, h, h + "_sum", endpoint="version") < n * 10


def test_jobs_and_credits_follow_a_job(api, register, db):
    user = register()
    before = scrape(api)
    job = submit_tts(api, user, text="Metrics count this job.")
    done = wait_for_job(api, user, job["id"], timeout=60)
    assert done["status"] in TERMINAL
    after = scrape(api)
    labels = {"kind": "tts", "status": done["status"], "provider": done["provider"]}
    assert sample(after, "reelvox_jobs", **labels) - sample(before, "reelvox_jobs", **labels) >= 1
    assert sample(after, "reelvox_jobs", **labels) == float(db.scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'tts' AND status = :'s' AND provider = :'p'",
        s=done["status"], p=done["provider"]))
    charged = sample(after, "reelvox_credits_charged", "reelvox_credits_charged_total") - \
        sample(before, "reelvox_credits_charged", "reelvox_credits_charged_total")
    assert charged >= job["costCredits"] > 0
    # The queue figures agree with the database (the queue is empty or draining).
    assert sample(after, "reelvox_queue_depth") >= 0
    assert sample(after, "reelvox_queue_oldest_age_seconds") >= 0


def test_inbox_backlog_counts_unprocessed_events(api, db):
    from jobkit import poller_stopped
    with poller_stopped():
        before = sample(scrape(api), "reelvox_webhook_inbox_backlog")
        db.rows("INSERT INTO webhook_events (provider, event_id, payload) "
                "VALUES ('replicate', :'e', '{}')", e=f"metrics-{uuid.uuid4()}")
        fams = scrape(api)
        assert sample(fams, "reelvox_webhook_inbox_backlog") == before + 1
        assert sample(fams, "reelvox_webhook_inbox_oldest_age_seconds") >= 0


def test_poller_passes_and_heartbeat(api):
    h = "reelvox_poller_pass_duration_seconds"
    first = sample(scrape(api), h, h + "_count")
    wait_until(lambda: sample(scrape(api), h, h + "_count") > first, timeout=20,
               what="a poller pass to be counted")
    ages = [s.value for s in scrape(api)["reelvox_poller_last_pass_age_seconds"].samples]
    assert ages and min(ages) < 30, ages


@pytest.mark.skipif(not SIM_URL, reason="no provider simulator (RV_SIM_URL)")
def test_provider_calls_are_counted(api, register, db):
    from jobkit import config_patch
    user = register()
    with config_patch(db, "providers", ["kinds", "tts"], ["replicate"]):
        before = scrape(api)
        job = submit_tts(api, user, text="Through the simulator, counted.")
        wait_for_job(api, user, job["id"], timeout=60)
    after = scrape(api)
    c = "reelvox_provider_calls"
    assert sample(after, c, c + "_total", provider="replicate") > \
        sample(before, c, c + "_total", provider="replicate")
    d = "reelvox_provider_call_duration_seconds"
    assert sample(after, d, d + "_count", provider="replicate") > \
        sample(before, d, d + "_count", provider="replicate")


def raw_get(path, source):
    """GET path on the stack's port from the loopback address `source`."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10, source_address=(source, 0))
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    return int(data.split(b" ", 2)[1]), data


def test_only_loopback_may_read():
    status, _ = raw_get("/metrics", "127.0.0.1")
    assert status == 200
    # Another address (127.0.0.2 is still this machine, but not 127.0.0.1) is denied,
    # as any non-loopback client is.
    status, body = raw_get("/metrics", "127.0.0.2")
    assert status == 403, body[:300]
    assert b"application/problem+json" in body
    assert b"reelvox_http_requests_total" not in body


def test_dashboard_uses_only_exported_metrics(api):
    import json
    import re
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "ops", "grafana-dashboard.json")) as f:
        dash = json.load(f)
    names = set()
    for f in scrape(api).values():
        names.add(f.name)
        names.update(s.name for s in f.samples)
    used = {m for p in dash["panels"] for t in p["targets"]
            for m in re.findall(r"reelvox_[a-z_]+", t["expr"])}
    assert used and used <= names, sorted(used - names)
