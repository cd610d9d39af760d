"""Mail in the integration tests: what the real SMTP server (tests/sim/smtp_capture.py,
started by scripts/test on RV_PORT+26) captured, read back as parsed messages."""
import email
import email.policy
import glob
import json
import os
import re
import time

CAPTURE_DIR = os.environ.get("RV_SMTP_CAPTURE_DIR", "")
LINK_RE = re.compile(r"https?://[^\s\"<>]+/(verify|reset)\?token=([0-9a-f]+)")


class Mail:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        with open(path[:-4] + ".json") as f:
            self.envelope = json.load(f)
        self.msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        self.path = path

    @property
    def to(self):
        return self.envelope["to"]

    @property
    def subject(self):
        return str(self.msg["Subject"])

    def part(self, ctype):
        for p in self.msg.walk():
            if p.get_content_type() == ctype:
                return p.get_content()
        return None

    def link(self, kind):
        """(url, token) of the verify or reset link in the text part."""
        for m in LINK_RE.finditer(self.part("text/plain") or ""):
            if m.group(1) == kind:
                return m.group(0), m.group(2)
        raise AssertionError(f"no {kind} link in {self.path}")


_seen = {}  # path -> Mail: a captured file never changes once renamed into place


def all_mails():
    out = []
    for p in sorted(glob.glob(os.path.join(CAPTURE_DIR, "*.eml"))):
        if p not in _seen:
            try:
                _seen[p] = Mail(p)
            except (OSError, ValueError):
                continue  # its .json not renamed yet: next look
        out.append(_seen[p])
    return out


def mails_to(addr):
    return [m for m in all_mails() if addr.lower() in [t.lower() for t in m.to]]


def wait_mail(addr, subject_has="", count=1, deadline=30):
    """Waits until `count` mails to addr whose subject contains subject_has have
    arrived; returns them (oldest first). The poller sends within a sweep."""
    end = time.time() + deadline
    while True:
        got = [m for m in mails_to(addr) if subject_has in m.subject]
        if len(got) >= count:
            return got
        if time.time() > end:
            raise AssertionError(f"{len(got)} of {count} mails to {addr} ({subject_has!r}) "
                                 f"within {deadline} s")
        time.sleep(0.1)
