"""Webhook receiver hardening (issue 8, the edges).

The secret comes from the database (stored by the poller), never from a provider
call in the request; 503 while none is known; a rotation is picked up without a
restart; an extreme timestamp is refused (it overflowed labs()); a signed payload
that jsonb refuses (\\u0000, a lone surrogate) is stored with U+FFFD instead of
answering 500."""
import base64
import json
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import Api, assert_problem, do_register
from jobkit import (BIN_DIR, SIM_URL, job_row, post_webhook, stack_env, submit_tts,
                    wait_for_job, wait_until, webhook_headers, webhook_key)


@pytest.fixture(scope="module")
def done():
    api = Api()
    u = do_register(api)
    job = wait_for_job(api, u, submit_tts(api, u, "A job for the edge tests.")["id"], "succeeded")
    from conftest import Db
    yield {"user": u, "job": job, "token": job_row(Db(), job["id"])[3]}
    api.close()


def event(job_id, **extra):
    body = {"id": "sim" + uuid.uuid4().hex[:22], "status": "processing", "input": {"text": "x"},
            "output": None, "error": None, "webhook": f"http://edge/webhooks/replicate?job={job_id}"}
    body.update(extra)
    return json.dumps(body).encode()


def stored_secret(db):
    rows = db.rows("SELECT secret FROM webhook_secrets WHERE provider = 'replicate'")
    return rows[0][0] if rows else None


@pytest.fixture
def secret_restored(db, done):
    """Whatever a test does to the stored secret, the one before is back after it, and
    in use by the receiver's workers (each re-reads it on a failed signature, at most
    once a second)."""
    before = stored_secret(db)
    yield before
    db.rows("INSERT INTO webhook_secrets (provider, secret) VALUES ('replicate', :'s') "
            "ON CONFLICT (provider) DO UPDATE SET secret = EXCLUDED.secret RETURNING 1", s=before)
    api, job, ok = Api(), done["job"]["id"], [0]

    def settled():
        body = event(job)
        r = post_webhook(api, job, done["token"], body, webhook_headers(body))
        ok[0] = ok[0] + 1 if r.status_code == 204 else 0
        return ok[0] >= 8
    wait_until(settled, 15, interval=0.1, what="the receiver to use the restored secret")
    api.close()


class Listener:
    """A TCP port that counts the connections made to it and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def cgi_webhook(job_id, token, body, headers, **env_extra):
    """One request to a fresh webhook_replicate process (CGI mode: nothing cached)."""
    env = stack_env(REQUEST_METHOD="POST", DOCUMENT_URI="/webhooks/replicate",
                    QUERY_STRING=f"job={job_id}&token={token}", CONTENT_TYPE="application/json",
                    CONTENT_LENGTH=str(len(body)), **env_extra)
    for k, v in headers.items():
        env["HTTP_" + k.upper().replace("-", "_")] = v
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(BIN_DIR, "webhook_replicate")], env=env, input=body,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode(errors="replace"), time.monotonic() - t0


def test_no_secret_known_is_503_without_a_provider_call(db, done, secret_restored):
    """Regression: with no secret cached, an unauthenticated POST made the handler
    call the provider (5 s, with our API token). Now it answers 503 at once from what
    the database holds, and nothing is called."""
    db.rows("DELETE FROM webhook_secrets WHERE provider = 'replicate' RETURNING 1")
    provider = Listener()
    try:
        body = event(done["job"]["id"])
        out, took = cgi_webhook(done["job"]["id"], done["token"], body, webhook_headers(body),
                                RV_REPLICATE_WEBHOOK_SECRET="",
                                RV_REPLICATE_URL=f"http://127.0.0.1:{provider.port}")
        assert out.startswith("Status: 503"), out
        assert "application/problem+json" in out and '"code":"unavailable"' in out, out
        assert provider.connections == 0
        assert took < 4, took
    finally:
        provider.close()


def test_poller_fetches_and_stores_the_secret(db, secret_restored):
    """The poller takes the secret from the provider (the simulator's, the same one the
    stack signs with) and stores it; the receivers read it there."""
    if not SIM_URL:
        pytest.skip("no simulator")
    db.rows("UPDATE webhook_secrets SET secret = 'whsec_' || encode(gen_random_bytes(32), "
            "'base64') WHERE provider = 'replicate' RETURNING 1") if db.run(
        "SELECT 'gen_random_bytes'::regproc").returncode == 0 else db.rows(
        "DELETE FROM webhook_secrets WHERE provider = 'replicate' RETURNING 1")
    env = stack_env(RV_REPLICATE_WEBHOOK_SECRET="", RV_REPLICATE_URL=SIM_URL)
    p = subprocess.run([os.path.join(BIN_DIR, "poller"), "--once"], env=env,
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert stored_secret(db) == os.environ["RV_REPLICATE_WEBHOOK_SECRET"]


def test_rotation_is_picked_up(api, db, done, secret_restored):
    """A new secret in the database is used without a restart: a webhook signed with
    it is accepted (the receiver re-reads the secret when a signature fails)."""
    new_key = os.urandom(32)
    new = "whsec_" + base64.b64encode(new_key).decode()
    db.rows("UPDATE webhook_secrets SET secret = :'s' WHERE provider = 'replicate' RETURNING 1",
            s=new)
    job, token = done["job"]["id"], done["token"]

    def accepted():
        body = event(job)
        r = post_webhook(api, job, token, body, webhook_headers(body, key=new_key))
        assert r.status_code in (204, 401), r.text
        return r.status_code == 204
    # Every worker of the receiver may first answer 401 once (a re-read is at most
    # once a second per process); the provider retries the same way.
    wait_until(accepted, 10, interval=0.2, what="the rotated secret to be used")
    # The old secret is no longer accepted once every worker holds the new one.
    body = event(job)
    wait_until(lambda: post_webhook(api, job, token, body,
                                    webhook_headers(body)).status_code == 401, 10, interval=0.2,
               what="the old secret to be refused")


@pytest.mark.parametrize("ts", ["-9223372036854775808", "9223372036854775807",
                                "-9223372036854775807", "99999999999999999999"])
def test_extreme_timestamp_is_401(api, done, ts):
    """Regression: labs(now - LONG_MIN) overflowed (UBSan aborted the handler; the
    release build took the timestamp as fresh)."""
    body = event(done["job"]["id"])
    h = webhook_headers(body, ts=ts)
    assert_problem(post_webhook(api, done["job"]["id"], done["token"], body, h), 401,
                   "unauthorized")


@pytest.mark.parametrize("raw", [b'"a\\u0000b"', b'"\\ud800"', b'"x\\udc00y"',
                                 b'{"k": ["\\ud83d", "\\u0000"]}'])
def test_payload_jsonb_refuses_is_stored_cleaned(api, db, done, raw):
    """Regression: a validly signed body with \\u0000 or a lone surrogate answered 500
    (json-c takes it, jsonb does not). It is stored, with U+FFFD in their place."""
    job = done["job"]["id"]
    body = event(job)[:-1] + b', "logs": ' + raw + b"}"
    h = webhook_headers(body)

    def stored():
        # A worker may still hold the secret an earlier test rotated away (each
        # re-reads it at most once a second): the provider's retry is what lands.
        r = post_webhook(api, job, done["token"], body, h)
        assert r.status_code in (204, 401), r.text
        return r.status_code == 204
    wait_until(stored, 10, interval=0.2, what="the signed body to be taken")
    logs = db.scalar("SELECT payload ->> 'logs' FROM webhook_events WHERE event_id = :'e'",
                     e=h["webhook-id"])
    assert "\ufffd" in logs and "\\u0000" not in logs, logs


def test_payload_with_nul_member_name_is_400(api, done):
    """A member name with \\u0000 (json-c cuts the name there) is refused as malformed,
    clearly, never a 500."""
    job = done["job"]["id"]
    body = event(job)[:-1] + b', "logs": {"a\\u0000": 1}}'
    assert_problem(post_webhook(api, job, done["token"], body, webhook_headers(body)), 400,
                   "malformed_json")
