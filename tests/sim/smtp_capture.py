#!/usr/bin/python3
"""A real SMTP server (Debian's python3-aiosmtpd) that keeps every message it
accepts as a file, for the integration tests to read and follow the links of.

    smtp_capture.py --port P --dir DIR [--user U --password W]

Each accepted message is DIR/<n>.eml (the raw DATA, CRLF as received) with
DIR/<n>.json beside it ({"from", "to": [...], "auth": whether it logged in}), written
to a temporary name first and renamed, so a reader never sees half a message.
With --user, AUTH PLAIN/LOGIN is offered and required (plain connection: this
is loopback only).

Faults, by recipient address:
  - a local part containing "tempfail": RCPT answers 451 the first two times
    that address is tried, then accepts (the sender must retry);
  - a local part containing "reject": RCPT answers 550 always (a permanent
    failure: the sender must give up, not retry).
Prints "listening on PORT" once it accepts connections.
"""
import argparse
import asyncio
import itertools
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

counter = itertools.count(1)
lock = threading.Lock()
tries = {}


class Capture:
    def __init__(self, folder):
        self.folder = folder

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if "reject" in local:
            return "550 5.1.1 no such mailbox"
        if "tempfail" in local:
            with lock:
                tries[address] = tries.get(address, 0) + 1
                n = tries[address]
            if n <= 2:
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        base = os.path.join(self.folder, f"{os.getpid()}-{n:06d}")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        meta = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                "auth": bool(getattr(session, "authenticated", False))}
        for ext, body in ((".json", json.dumps(meta).encode()), (".eml", data)):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(body)
            os.rename(base + ext + ".tmp", base + ext)
        return "250 Message accepted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    kw = {}
    if args.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
                  and auth_data.password.decode() == args.password)
            return AuthResult(success=ok)
        kw = {"authenticator": authenticator, "auth_required": True,
              "auth_require_tls": False}
    ctl = Controller(Capture(args.dir), hostname="127.0.0.1", port=args.port,
                     decode_data=False, **kw)
    ctl.start()
    print(f"listening on {args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
