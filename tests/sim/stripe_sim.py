#!/usr/bin/python3
"""Stripe simulator for Reelvox tests.

One process on loopback that speaks the part of Stripe's API Reelvox uses, in
Stripe's wire format: Checkout Sessions created with a form-encoded
POST /v1/checkout/sessions (Idempotency-Key honoured: the same key and body answer
the same session, another body 400 idempotency_error), read with
GET /v1/checkout/sessions/{id}, and the events listing GET /v1/events (filters
delivery_success and types[]). Events are delivered to the webhook URL as Stripe
does: POST with a Stripe-Signature header ("t=<unix>,v1=<hex HMAC-SHA256 of
'<t>.<body>' keyed with the whole whsec_ secret>"), retried with backoff until a
2xx; a delivered event has delivery_success true in the listing.

    /usr/bin/python3 tests/sim/stripe_sim.py --port 18425 --key sk_test_x \
        --secret whsec_x --webhook-url http://127.0.0.1:18400/webhooks/stripe

prints "stripe-sim listening on PORT" once it accepts connections. Python 3.11
standard library only.

The hosted checkout page a session's url names (a person in dev mode, a browser
test): GET /pay/{id} shows the amount with Pay and Cancel buttons; Pay pays the
session as /_sim/sessions/{id}/pay does and goes to its success_url, Cancel goes
to its cancel_url.

Control API for tests (no auth), JSON in and out:
  POST /_sim/sessions/{id}/pay       {"async": false}  paid (or, async, complete
                                                        and unpaid until /async)
  POST /_sim/sessions/{id}/async     {"succeed": true}  delayed method settles
  POST /_sim/sessions/{id}/expire
  POST /_sim/sessions/{id}/refund    {"amount": cents?} (default: all)
  POST /_sim/sessions/{id}/dispute
  GET  /_sim/sessions/{id}           the session, with its events
  POST /_sim/events/{evt}/deliver    {"times": 5, "concurrent": true}
  POST /_sim/flush                   {"order": "reverse"|"forward", "duplicates": 1}
                                      delivers every held event
  GET  /_sim/events                  every event and its deliveries
  GET  /_sim/stats                   counters
  GET|POST /_sim/config              faults (below); POST /_sim/reset clears all
Faults (POST /_sim/config): deliver ("now" | "hold": keep events until /_sim/flush
| "never": missed, only the listing shows them), duplicates (each delivery sent N
times), create_status / create_times (the next N creates answer that status; 0
drops the connection after creating — an answer lost), get_status / get_times,
list_status / list_times, webhook_fail_times (our receiver's answers ignored: the
first N deliveries of each event count as failed and are retried).
"""

import argparse
import hashlib
import html
import hmac
import http.client
import itertools
import json
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRY_DELAYS = (0.2, 0.5, 1, 2, 4, 8)


def now():
    return int(time.time())


def sign(secret, payload, t=None):
    t = now() if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_error(status, message, etype="invalid_request_error", **extra):
    e = {"type": etype, "message": message}
    e.update(extra)
    return status, {"error": e}


class Sim:
    def __init__(self, args):
        self.key = args.key
        self.secret = args.secret
        self.webhook_url = args.webhook_url
        self.public = f"http://127.0.0.1:{args.port}"
        self.lock = threading.RLock()
        self.verbose = args.verbose
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.RLock()):
            self.sessions = {}
            self.events = {}      # id -> {"event", "deliveries": [..], "delivered": bool}
            self.order = []       # event ids, oldest first
            self.held = []
            self.idem = {}        # key -> (body hash, status, answer)
            self.cfg = {}
            self.stats = {"creates": 0, "idempotent_replays": 0, "gets": 0, "lists": 0,
                          "deliveries": 0, "unauthorized": 0, "dropped": 0}
            self.seq = itertools.count(1)

    def log(self, msg):
        if self.verbose:
            sys.stderr.write(f"stripe-sim: {msg}\n")

    def fault(self, name):
        """The status of fault `name` for this call, consuming one of its times."""
        with self.lock:
            times = self.cfg.get(f"{name}_times", 0)
            if times <= 0:
                return None
            self.cfg[f"{name}_times"] = times - 1
            return int(self.cfg.get(f"{name}_status", 500))

    def new_id(self, prefix):
        return f"{prefix}_test_{secrets.token_hex(12)}"

    # ---- sessions

    def create_session(self, form):
        def one(k):
            v = form.get(k)
            return v[0] if v else None
        required = ["mode", "success_url", "cancel_url", "line_items[0][price_data][currency]",
                    "line_items[0][price_data][unit_amount]",
                    "line_items[0][price_data][product_data][name]"]
        missing = [k for k in required if not one(k)]
        if missing:
            return stripe_error(400, f"Missing required param: {missing[0]}.", param=missing[0])
        if one("mode") != "payment":
            return stripe_error(400, "Invalid mode", param="mode")
        try:
            amount = int(one("line_items[0][price_data][unit_amount]"))
            qty = int(one("line_items[0][quantity]") or "1")
        except ValueError:
            return stripe_error(400, "Invalid integer", param="unit_amount")
        currency = one("line_items[0][price_data][currency]")
        if len(currency) != 3 or not currency.islower():
            return stripe_error(400, "Invalid currency", param="currency")
        sid = "cs_test_" + secrets.token_hex(16)
        metadata = {}
        for k, v in form.items():
            if k.startswith("metadata[") and k.endswith("]"):
                metadata[k[9:-1]] = v[0]
        s = {"id": sid, "object": "checkout.session", "mode": "payment", "status": "open",
             "payment_status": "unpaid", "amount_total": amount * qty, "currency": currency,
             "client_reference_id": one("client_reference_id"), "metadata": metadata,
             "success_url": one("success_url"), "cancel_url": one("cancel_url"),
             "url": f"{self.public}/pay/{sid}", "payment_intent": None, "created": now(),
             "livemode": False,
             "_name": one("line_items[0][price_data][product_data][name]"),
             "_charge": None, "_refunded": 0, "_pi_metadata": {
                 k[len("payment_intent_data[metadata]["):-1]: v[0] for k, v in form.items()
                 if k.startswith("payment_intent_data[metadata][")}}
        with self.lock:
            self.sessions[sid] = s
            self.stats["creates"] += 1
        return 200, self.view(s)

    def view(self, s):
        return {k: v for k, v in s.items() if not k.startswith("_")}

    # ---- events

    def emit(self, etype, obj):
        e = {"id": "evt_test_" + secrets.token_hex(12), "object": "event", "type": etype,
             "api_version": "2024-06-20", "created": now(), "livemode": False,
             "pending_webhooks": 1, "data": {"object": obj}}
        with self.lock:
            self.events[e["id"]] = {"event": e, "deliveries": [], "delivered": False,
                                    "failed_left": int(self.cfg.get("webhook_fail_times", 0))}
            self.order.append(e["id"])
            mode = self.cfg.get("deliver", "now")
            if mode == "hold":
                self.held.append(e["id"])
        if mode == "now":
            self.deliver_async(e["id"], int(self.cfg.get("duplicates", 1)))
        return e

    def deliver_async(self, eid, times=1, concurrent=False):
        if concurrent:
            barrier = threading.Barrier(times)
            for _ in range(times):
                threading.Thread(target=self.deliver, args=(eid, False, barrier),
                                 daemon=True).start()
        else:
            for _ in range(times):
                threading.Thread(target=self.deliver, args=(eid, True), daemon=True).start()

    def post(self, payload, header):
        u = urllib.parse.urlsplit(self.webhook_url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            c.request("POST", u.path or "/", body=payload,
                      headers={"Content-Type": "application/json; charset=utf-8",
                               "Stripe-Signature": header, "User-Agent": "Stripe/1.0"})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def deliver(self, eid, retry=True, barrier=None):
        with self.lock:
            rec = self.events[eid]
            payload = json.dumps(rec["event"], separators=(",", ":")).encode()
        if barrier is not None:
            try:
                barrier.wait(10)
            except threading.BrokenBarrierError:
                pass
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                status = self.post(payload, sign(self.secret, payload))
            except OSError as e:
                status = 0
                self.log(f"deliver {eid}: {e}")
            with self.lock:
                self.stats["deliveries"] += 1
                ok = 200 <= status < 300
                if ok and rec["failed_left"] > 0:
                    rec["failed_left"] -= 1
                    ok = False
                rec["deliveries"].append({"at": time.time(), "status": status, "ok": ok})
                if ok:
                    rec["delivered"] = True
                    return
            if not retry or attempt == len(RETRY_DELAYS):
                return
            time.sleep(RETRY_DELAYS[attempt])

    # ---- the customer's side

    def pay(self, s, delayed):
        with self.lock:
            if s["status"] != "open":
                return stripe_error(400, f"session is {s['status']}")
            s["status"] = "complete"
            s["payment_intent"] = "pi_test_" + secrets.token_hex(12)
            s["_charge"] = "ch_test_" + secrets.token_hex(12)
            if not delayed:
                s["payment_status"] = "paid"
            snap = self.view(s)
        self.emit("checkout.session.completed", snap)
        return 200, snap

    def settle_async(self, s, succeed):
        with self.lock:
            if s["status"] != "complete" or s["payment_status"] != "unpaid":
                return stripe_error(400, "nothing to settle")
            if succeed:
                s["payment_status"] = "paid"
            snap = self.view(s)
        self.emit("checkout.session.async_payment_succeeded" if succeed
                  else "checkout.session.async_payment_failed", snap)
        return 200, snap

    def expire(self, s):
        with self.lock:
            if s["status"] != "open":
                return stripe_error(400, f"session is {s['status']}")
            s["status"] = "expired"
            snap = self.view(s)
        self.emit("checkout.session.expired", snap)
        return 200, snap

    def charge(self, s):
        return {"id": s["_charge"], "object": "charge", "amount": s["amount_total"],
                "amount_refunded": s["_refunded"], "currency": s["currency"],
                "payment_intent": s["payment_intent"], "paid": True,
                "refunded": s["_refunded"] >= s["amount_total"], "metadata": s["_pi_metadata"]}

    def refund(self, s, amount):
        with self.lock:
            if s["payment_status"] != "paid":
                return stripe_error(400, "not paid")
            s["_refunded"] = min(s["amount_total"], s["_refunded"] + (amount or s["amount_total"]))
            ch = self.charge(s)
        self.emit("charge.refunded", ch)
        return 200, ch

    def dispute(self, s):
        with self.lock:
            if s["payment_status"] != "paid":
                return stripe_error(400, "not paid")
            d = {"id": "dp_test_" + secrets.token_hex(12), "object": "dispute",
                 "amount": s["amount_total"], "currency": s["currency"], "charge": s["_charge"],
                 "payment_intent": s["payment_intent"], "reason": "fraudulent",
                 "status": "needs_response"}
        self.emit("charge.dispute.created", d)
        return 200, d


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stripe-sim/1.0"
    sys_version = ""
    timeout = 60
    sim: Sim = None

    def setup(self):
        super().setup()
        # Headers and body leave in two writes: with Nagle on, the body would wait for
        # the client's delayed ACK (40 ms) on every answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        self.sim.log(f"{self.address_string()} {fmt % args}")

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(8))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def drop(self):
        with self.sim.lock:
            self.sim.stats["dropped"] += 1
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_page(self, status, body, location=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def checkout_page(self, method, sid, raw):
        """The hosted checkout page a session's url names, for a person in a browser
        (dev mode) or a browser test: GET shows the amount with Pay and Cancel
        buttons; POST action=pay pays the session as /_sim/sessions/{id}/pay does
        and goes to its success_url, action=cancel goes to its cancel_url."""
        with self.sim.lock:
            s = self.sim.sessions.get(sid)
        if not s:
            return self.send_page(404, b"<!doctype html><title>No such session</title><p>No such session")
        if method == "POST":
            action = urllib.parse.parse_qs(raw.decode()).get("action", [""])[0]
            if action == "pay":
                code, _ = self.sim.pay(s, False)
                if code != 200:
                    return self.send_page(409, b"<!doctype html><title>Closed</title><p>This session is closed")
                return self.send_page(303, b"", s["success_url"])
            return self.send_page(303, b"", s["cancel_url"])
        amount = f"{s['amount_total'] / 100:.2f} {s['currency'].upper()}"
        name = html.escape(str(s.get("metadata", {}).get("pack_id", "")))
        page = (f"<!doctype html><html lang=en><meta charset=utf-8><title>Stripe simulator checkout</title>"
                f"<main><h1>Stripe simulator checkout</h1><p>Pack {name}. Amount: <strong>{amount}</strong></p>"
                f"<p>Session {html.escape(sid)} is {html.escape(s['status'])}.</p>"
                f"<form method=post><button name=action value=pay>Pay {amount}</button> "
                f"<button name=action value=cancel>Cancel</button></form></main></html>")
        return self.send_page(200, page.encode())

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        u = urllib.parse.urlsplit(self.path)
        path, raw = u.path.rstrip("/"), self.body()
        if path.startswith("/v1/"):
            auth = self.headers.get("Authorization", "")
            if not (auth.startswith("Bearer ") and
                    hmac.compare_digest(auth[7:].encode(), self.sim.key.encode())):
                with self.sim.lock:
                    self.sim.stats["unauthorized"] += 1
                return self.send_json(*stripe_error(401, "Invalid API Key provided"))
            return self.api(method, path, u.query, raw)
        if path.startswith("/pay/"):
            return self.checkout_page(method, path[len("/pay/"):], raw)
        if path == "/favicon.ico":
            return self.send_page(204, b"")
        if path.startswith("/_sim"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self.send_json(400, {"error": "bad json"})
            return self.control(method, path, body)
        self.send_json(404, {"error": {"type": "invalid_request_error",
                                       "message": f"Unrecognized request URL ({method}: {path})"}})

    def api(self, method, path, query, raw):
        sim = self.sim
        if path == "/v1/checkout/sessions" and method == "POST":
            if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
                return self.send_json(*stripe_error(400, "Invalid request: form encoding expected"))
            form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=False)
            key = self.headers.get("Idempotency-Key")
            digest = hashlib.sha256(raw).hexdigest()
            with sim.lock:
                seen = sim.idem.get(key) if key else None
                if seen:
                    if seen[0] != digest:
                        return self.send_json(*stripe_error(
                            400, "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with.", "idempotency_error"))
                    sim.stats["idempotent_replays"] += 1
                    # Stripe replays the first answer, whatever happened since.
                    return self.send_json(seen[1], seen[2], {"Idempotent-Replayed": "true"})
            status = sim.fault("create")
            if status is not None and status != 0:
                return self.send_json(*stripe_error(status, "simulated failure", "api_error"))
            code, answer = sim.create_session(form)
            if key and code == 200:
                with sim.lock:
                    sim.idem[key] = (digest, code, answer)
            if status == 0:  # made, but the answer is lost
                return self.drop()
            return self.send_json(code, answer)
        if path.startswith("/v1/checkout/sessions/") and method == "GET":
            with sim.lock:
                sim.stats["gets"] += 1
            status = sim.fault("get")
            if status is not None:
                return self.drop() if status == 0 else self.send_json(
                    *stripe_error(status, "simulated failure", "api_error"))
            with sim.lock:
                s = sim.sessions.get(path.rsplit("/", 1)[1])
                view = sim.view(s) if s else None
            if not view:
                return self.send_json(*stripe_error(404, "No such checkout.session",
                                                    code="resource_missing"))
            return self.send_json(200, view)
        if path == "/v1/events" and method == "GET":
            with sim.lock:
                sim.stats["lists"] += 1
            status = sim.fault("list")
            if status is not None:
                return self.send_json(*stripe_error(status, "simulated failure", "api_error"))
            q = urllib.parse.parse_qs(query)
            types = set(q.get("types[]", [])) | set(q.get("type", []))
            want = q.get("delivery_success", [None])[0]
            limit = int(q.get("limit", ["10"])[0])
            with sim.lock:
                out = []
                for eid in reversed(sim.order):  # newest first, as Stripe
                    rec = sim.events[eid]
                    if types and rec["event"]["type"] not in types:
                        continue
                    if want == "false" and rec["delivered"]:
                        continue
                    if want == "true" and not rec["delivered"]:
                        continue
                    out.append(rec["event"])
            return self.send_json(200, {"object": "list", "url": "/v1/events",
                                        "has_more": len(out) > limit, "data": out[:limit]})
        self.send_json(*stripe_error(404, f"Unrecognized request URL ({method}: {path})"))

    def control(self, method, path, body):
        sim = self.sim
        parts = path.split("/")[2:]  # after /_sim
        if parts == ["reset"] and method == "POST":
            sim.reset()
            return self.send_json(200, {"ok": True})
        if parts == ["config"]:
            if method == "POST":
                with sim.lock:
                    sim.cfg.update(body)
            with sim.lock:
                return self.send_json(200, dict(sim.cfg))
        if parts == ["stats"]:
            with sim.lock:
                return self.send_json(200, dict(sim.stats))
        if parts == ["events"]:
            with sim.lock:
                return self.send_json(200, {"items": [
                    {"event": sim.events[e]["event"], "deliveries": sim.events[e]["deliveries"],
                     "delivered": sim.events[e]["delivered"]} for e in sim.order]})
        if parts == ["flush"] and method == "POST":
            with sim.lock:
                held, sim.held = sim.held, []
            if body.get("order") == "reverse":
                held.reverse()
            for eid in held:  # one after another, in the order asked
                for _ in range(int(body.get("duplicates", 1))):
                    sim.deliver(eid, retry=False)
            return self.send_json(200, {"delivered": held})
        if len(parts) == 3 and parts[0] == "events" and parts[2] == "deliver" and method == "POST":
            if parts[1] not in sim.events:
                return self.send_json(404, {"error": "no such event"})
            times = int(body.get("times", 1))
            if body.get("wait", True):
                threads = []
                barrier = threading.Barrier(times) if body.get("concurrent") else None
                for _ in range(times):
                    t = threading.Thread(target=sim.deliver, args=(parts[1], False, barrier))
                    t.start()
                    threads.append(t)
                for t in threads:
                    t.join(60)
            else:
                sim.deliver_async(parts[1], times, bool(body.get("concurrent")))
            with sim.lock:
                return self.send_json(200, {"deliveries": sim.events[parts[1]]["deliveries"]})
        if len(parts) >= 2 and parts[0] == "sessions":
            with sim.lock:
                s = sim.sessions.get(parts[1])
            if not s:
                return self.send_json(404, {"error": "no such session"})
            action = parts[2] if len(parts) > 2 else None
            if action is None:
                with sim.lock:
                    v = sim.view(s)
                    v["events"] = [sim.events[e]["event"]["id"] for e in sim.order
                                   if sim.events[e]["event"]["data"]["object"].get("id") in
                                   (s["id"], s["_charge"])
                                   or sim.events[e]["event"]["data"]["object"].get(
                                       "payment_intent") == s["payment_intent"] is not None]
                return self.send_json(200, v)
            if method != "POST":
                return self.send_json(405, {"error": "POST"})
            if action == "pay":
                return self.send_json(*sim.pay(s, bool(body.get("async"))))
            if action == "async":
                return self.send_json(*sim.settle_async(s, bool(body.get("succeed", True))))
            if action == "expire":
                return self.send_json(*sim.expire(s))
            if action == "refund":
                return self.send_json(*sim.refund(s, body.get("amount")))
            if action == "dispute":
                return self.send_json(*sim.dispute(s))
        self.send_json(404, {"error": f"no control {method} {path}"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True, help="the secret key callers must send")
    ap.add_argument("--secret", required=True, help="whsec_ webhook signing secret")
    ap.add_argument("--webhook-url", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    sim = Sim(args)
    Handler.sim = sim
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"stripe-sim listening on {args.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
