"""mail_send (common/mail_outbox.c) against the real SMTP server of the tests, through
tests/tools/mailsend: AUTH from the URL, STARTTLS never skipped when asked for, and
which failures are retried and which are final."""
import os
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from mailkit import CAPTURE_DIR, mails_to, wait_mail

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
URL = os.environ.get("RV_SMTP_URL", "")
pytestmark = pytest.mark.skipif(not (CAPTURE_DIR and URL), reason="no SMTP server (scripts/test starts one)")


def tool():
    variant = "asan" if "asan" in os.environ.get("RV_BIN_DIR", "") else "release"
    return os.path.join(ROOT, "build", variant, "tests", "tools", "mailsend")


def send(url, to, *flags):
    msg = (f"From: <noreply@reelvox.test>\r\nTo: <{to}>\r\nSubject: tool {uuid.uuid4().hex}\r\n"
           "\r\nhello\r\n").encode()
    p = subprocess.run([tool(), url, "noreply@reelvox.test", to, *flags], input=msg,
                       capture_output=True, timeout=60)
    return p.returncode, p.stderr.decode()


def addr(tag):
    return f"{tag}-{uuid.uuid4().hex[:12]}@it.reelvox.test"


def test_sent_with_auth():
    to = addr("tool")
    assert send(URL, to) == (0, "")
    m = wait_mail(to, "tool")[0]
    assert m.envelope["auth"] is True and m.envelope["from"] == "noreply@reelvox.test"


def test_starttls_is_never_skipped():
    # the test server offers no STARTTLS: a URL that asks for it sends nothing
    to = addr("tls")
    rc, err = send(URL + "?starttls", to)
    assert rc == 1 and "SSL" in err
    rc, _ = send(URL, to, "--starttls")
    assert rc == 1
    assert mails_to(to) == []


def test_missing_auth_is_retried_not_dropped():
    u = urlsplit(URL)
    bare = f"smtp://{u.hostname}:{u.port}"
    rc, err = send(bare, addr("noauth"))
    assert rc == 1 and "530" in err


def test_refused_mailbox_is_final():
    rc, err = send(URL, addr("reject"))
    assert rc == 2 and "550" in err


def test_server_down_is_retried():
    rc, _ = send("smtp://127.0.0.1:1", addr("down"))
    assert rc == 1
