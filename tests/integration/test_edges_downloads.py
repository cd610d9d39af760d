"""Provider outputs are fetched under rules (issue 8, the edges): https only, never
from a loopback or private address (a redirect included) except from the
provider's own configured origin (here the simulator's), and at most 50 MiB for
audio. A refused or oversized output fails the job (output_unavailable, refunded)
instead of being fetched or retried for ever."""
import socket
import threading
import time

import pytest

from conftest import Api, do_register
from jobkit import (get_job, poller_stopped, run_poller_once, sim, submit_tts, wait_for_job,
                    wait_until)


class Listener:
    """A TCP port on loopback that records what clients send and answers 404."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(5)
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                self.received += data
                if data:
                    c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                              b"Connection: close\r\n\r\n")

    def close(self):
        self.sock.close()


@pytest.fixture
def listener():
    ln = Listener()
    yield ln
    ln.close()


@pytest.fixture
def user():
    api = Api()
    u = do_register(api)
    yield api, u
    api.close()


def assert_output_refused(job):
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "output_unavailable", job


def test_redirect_off_the_provider_is_refused(user, listener):
    """Regression: the poller followed any redirect of an output URL, over http, to
    any address. A redirect from the provider's origin to plain http elsewhere is
    not followed: the target never sees a request."""
    api, u = user
    text = "Redirected output. " + sim(output_redirect=f"http://127.0.0.1:{listener.port}/o.wav")
    job = wait_for_job(api, u, submit_tts(api, u, text)["id"], timeout=60)
    assert_output_refused(job)
    assert listener.received == b""


def drive(api, u, job_id, **env):
    """Runs poller passes with env until the job ends; returns it."""
    seen = {}

    def ended():
        run_poller_once(**env)
        seen["job"] = get_job(api, u, job_id)
        return seen["job"]["status"] in ("succeeded", "failed", "cancelled")
    wait_until(ended, 90, interval=0.05, what=f"job {job_id} to end")
    return seen["job"]


def test_private_address_is_refused_even_over_allowed_http(user, listener):
    """With plain http allowed (RV_ALLOW_HTTP_DOWNLOADS), a loopback address is still
    refused after the redirect, once connected, before any request is sent; with
    RV_ALLOW_PRIVATE_DOWNLOADS too, the same redirect is followed (so the refusal
    above was the address check)."""
    api, u = user
    target = f"http://127.0.0.1:{listener.port}/o.wav"
    with poller_stopped():
        job = submit_tts(api, u, "Private redirect. " + sim(output_redirect=target))
        job = drive(api, u, job["id"], RV_ALLOW_HTTP_DOWNLOADS=1)
        assert_output_refused(job)
        assert listener.received == b""
        job = submit_tts(api, u, "Private allowed. " + sim(output_redirect=target))
        job = drive(api, u, job["id"], RV_ALLOW_HTTP_DOWNLOADS=1, RV_ALLOW_PRIVATE_DOWNLOADS=1)
        assert job["status"] == "failed", job  # the listener answers 404
        assert listener.received.startswith(b"GET /o.wav HTTP/1.1\r\n"), listener.received


def test_output_over_the_cap_is_refused(user):
    """Regression: an output of any size up to 512 MiB was downloaded. Audio stops
    at 50 MiB: the job fails instead of filling the disk (and is not retried)."""
    api, u = user
    t0 = time.monotonic()
    job = submit_tts(api, u, "A huge output. " + sim(output_bytes=60 << 20))
    job = wait_for_job(api, u, job["id"], timeout=60)
    assert_output_refused(job)
    assert time.monotonic() - t0 < 60


def test_output_under_the_cap_is_taken(user):
    api, u = user
    job = submit_tts(api, u, "A padded output. " + sim(output_bytes=2 << 20))
    job = wait_for_job(api, u, job["id"], timeout=60)
    assert job["status"] == "succeeded", job
