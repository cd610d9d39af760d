"""POST /webhooks/replicate?job=ID&token=T (public, Standard Webhooks).

204 stored or already seen (one inbox row per webhook-id); 401 bad, missing or
stale signature; 404 unknown job or wrong token; 400 body not a JSON object;
405. Signed here with Python's hmac, as Replicate signs: HMAC-SHA256 over
"id.timestamp.body" keyed with the base64-decoded part after whsec_."""
import json
import os
import time
import uuid

import pytest

from conftest import Api, assert_problem, do_register
from jobkit import (get_job, inbox_rows, job_row, post_webhook, same_job, sign_webhook,
                    submit_tts, wait_for_job, wait_until, webhook_headers, webhook_key)


@pytest.fixture(scope="module")
def done():
    """A succeeded job (its events change nothing any more), its token and owner."""
    api = Api()
    u = do_register(api)
    job = submit_tts(api, u, "A job for the webhook tests.")
    job = wait_for_job(api, u, job["id"], "succeeded")
    from conftest import Db
    token = job_row(Db(), job["id"])[3]
    yield {"user": u, "job": job, "token": token}
    api.close()


def event(job_id, status="processing"):
    return json.dumps({"id": "sim" + uuid.uuid4().hex[:22], "status": status,
                       "input": {"text": "x"}, "output": None, "error": None,
                       "webhook": f"http://x/webhooks/replicate?job={job_id}"}).encode()


def test_signed_event_stored_once(api, db, done):
    job, token = done["job"], done["token"]
    before = len(inbox_rows(db, job["id"]))
    body = event(job["id"])
    h = webhook_headers(body)
    r1 = post_webhook(api, job["id"], token, body, h)
    assert r1.status_code == 204 and r1.content == b"", r1.text
    r2 = post_webhook(api, job["id"], token, body, h)
    assert r2.status_code == 204, r2.text
    # A retry signs again with a new timestamp but keeps the id: still one row.
    h3 = webhook_headers(body, msg_id=h["webhook-id"], ts=int(time.time()) - 5)
    assert post_webhook(api, job["id"], token, body, h3).status_code == 204
    rows = [e for e, _ in inbox_rows(db, job["id"])]
    assert len(rows) == before + 1 and rows.count(h["webhook-id"]) == 1, rows
    # The poller marks it processed; the succeeded job is unchanged.
    wait_until(lambda: all(d == "t" for _, d in inbox_rows(db, job["id"])), 10,
               what="the event to be processed")
    same_job(get_job(api, done["user"], job["id"]), job)
    # Several signatures, one of them right (key rotation): accepted.
    body = event(job["id"])
    h = webhook_headers(body)
    h["webhook-signature"] = (sign_webhook(h["webhook-id"], h["webhook-timestamp"], body,
                                           key=os.urandom(32)) + " " + h["webhook-signature"])
    assert post_webhook(api, job["id"], token, body, h).status_code == 204


def assert_refused(api, db, done, body, headers, status, code, token=None, job_id=None):
    r = post_webhook(api, job_id or done["job"]["id"], token or done["token"], body, headers)
    assert_problem(r, status, code)


FORGED = "SELECT count(*) FROM webhook_events WHERE payload ->> 'webhook' LIKE 'http://x/%'"


@pytest.fixture
def inbox_unchanged(db, done):
    """The refusals of a test store nothing, for this job or any other."""
    before, forged = inbox_rows(db, done["job"]["id"]), db.scalar(FORGED)
    yield
    assert inbox_rows(db, done["job"]["id"]) == before
    assert db.scalar(FORGED) == forged


def test_stale_or_future_timestamp(api, db, done, inbox_unchanged):
    body = event(done["job"]["id"])
    for ts in (int(time.time()) - 400, int(time.time()) + 400):
        assert_refused(api, db, done, body, webhook_headers(body, ts=ts), 401, "unauthorized")
    for ts in ("", "soon", "1e9", str(int(time.time())) + ".5"):
        h = webhook_headers(body)
        h["webhook-timestamp"] = ts
        h["webhook-signature"] = sign_webhook(h["webhook-id"], ts, body)
        assert_refused(api, db, done, body, h, 401, "unauthorized")


def test_forged_signature(api, db, done, inbox_unchanged):
    body = event(done["job"]["id"])
    h = webhook_headers(body, key=os.urandom(32))
    assert_refused(api, db, done, body, h, 401, "unauthorized")
    # Right key, but over another body / another id / another timestamp.
    h = webhook_headers(body)
    assert_refused(api, db, done, body + b" ", h, 401, "unauthorized")
    h2 = dict(h, **{"webhook-id": h["webhook-id"] + "x"})
    assert_refused(api, db, done, body, h2, 401, "unauthorized")
    h3 = dict(h, **{"webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)})
    assert_refused(api, db, done, body, h3, 401, "unauthorized")
    for sig in ("", "v1,", "v2," + h["webhook-signature"][3:], h["webhook-signature"][3:],
                "v1," + h["webhook-signature"][3:-4], "v1,!!!!"):
        assert_refused(api, db, done, body, dict(h, **{"webhook-signature": sig}), 401,
                       "unauthorized")


def test_missing_signature_headers(api, db, done, inbox_unchanged):
    body = event(done["job"]["id"])
    full = webhook_headers(body)
    for drop in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        h = {k: v for k, v in full.items() if k != drop}
        assert_refused(api, db, done, body, h, 401, "unauthorized")
    assert_refused(api, db, done, body, {"Content-Type": "application/json"}, 401,
                   "unauthorized")


def test_wrong_token_or_job(api, db, done, inbox_unchanged):
    body = event(done["job"]["id"])
    assert_refused(api, db, done, body, webhook_headers(body), 404, "not_found",
                   token="0" * 32)
    assert_refused(api, db, done, body, webhook_headers(body), 404, "not_found",
                   token=done["token"] + "0")
    assert_refused(api, db, done, body, webhook_headers(body), 404, "not_found",
                   job_id=str(uuid.uuid4()))
    assert_refused(api, db, done, body, webhook_headers(body), 404, "not_found",
                   job_id="not-a-job")
    # Another job's token does not open this one.
    other = do_register(api)
    j2 = submit_tts(api, other, "another job")
    t2 = job_row(db, j2["id"])[3]
    assert_refused(api, db, done, body, webhook_headers(body), 404, "not_found", token=t2)
    r = api.request("POST", f"/webhooks/replicate?job={done['job']['id']}", data=body,
                    headers=webhook_headers(body))
    assert_problem(r, 404, "not_found")


def test_signed_but_not_json(api, db, done, inbox_unchanged):
    for body in (b"not json at all", b"[1, 2, 3]", b'{"id": ', b"\xff\xfe{}", b'"a string"'):
        assert_refused(api, db, done, body, webhook_headers(body), 400, "malformed_json")
    r = post_webhook(api, done["job"]["id"], done["token"], b"{,}", webhook_headers(b"{,}"))
    assert_problem(r, 400, "malformed_json")


def test_method_and_size(api, done):
    r = api.get(f"/webhooks/replicate?job={done['job']['id']}&token={done['token']}")
    assert_problem(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]
    big = json.dumps({"id": "x", "status": "processing", "logs": "l" * 300_000}).encode()
    r = post_webhook(api, done["job"]["id"], done["token"], big, webhook_headers(big))
    assert_problem(r, 413, "payload_too_large")


def test_key_is_the_decoded_secret(done):
    # The signature is keyed with the bytes after whsec_, base64-decoded — not the
    # text of the secret: a signature keyed with the text is refused.
    api = Api()
    body = event(done["job"]["id"])
    text_key = os.environ["RV_REPLICATE_WEBHOOK_SECRET"].encode()
    assert text_key != webhook_key()
    r = post_webhook(api, done["job"]["id"], done["token"], body,
                     webhook_headers(body, key=text_key))
    assert_problem(r, 401, "unauthorized")
    api.close()
