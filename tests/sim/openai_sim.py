#!/usr/bin/python3
"""OpenAI Chat Completions simulator for Reelvox tests (structured outputs).

Serves POST /v1/chat/completions on loopback the way OpenAI does for
response_format {type: json_schema, json_schema: {name, strict, schema}}: the
answer's message content is JSON that is valid against the request's schema,
derived from the request (strings from the user prompt's topic; arrays as long as
the prompt asks with "[[items=N]]", else 3, within minItems/maxItems).

Markers in the user prompt choose a fault:
  [[refuse]]          message.refusal set, content null
  [[length]]          finish_reason "length", content cut in the middle
  [[ratelimit]]       429 rate_limit_exceeded with Retry-After: 1, the first time
                      for this prompt; then answers
  [[ratelimit-always]] 429 rate_limit_exceeded every time
  [[quota]]           429 insufficient_quota
  [[500]]             500 every time;  [[500once]] 500 the first time only
  [[malformed]]       content that is not JSON
  [[toolong]]         schema-valid JSON whose strings are 2,500 characters long
  [[slow=S]]          answers after S seconds
Control: GET /_sim/requests (the requests seen, newest last), POST /_sim/reset.
Prints "openai-sim listening on PORT" once it accepts connections.
"""
import argparse
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SEEN = []  # requests as received (parsed bodies)
COUNTS = {}  # prompt -> how many times seen


def words_of(prompt):
    m = re.search(r"Topic:\s*(.+)", prompt)
    topic = (m.group(1) if m else prompt).strip()
    topic = re.sub(r"\[\[[^\]]*\]\]", "", topic).strip() or "the topic"
    return topic[:200]


def generate(schema, name, ctx, depth=0):
    """A value valid against a strict-mode schema."""
    if depth > 12:
        return None
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return generate(schema["anyOf"][0], name, ctx, depth + 1)
    if t == "object":
        props = schema.get("properties", {})
        return {k: generate(v, k, ctx, depth + 1) for k, v in props.items()}
    if t == "array":
        n = ctx["items"]
        n = max(n, schema.get("minItems", 0))
        if "maxItems" in schema:
            n = min(n, schema["maxItems"])
        out = []
        for i in range(n):
            ctx["index"] = i + 1
            out.append(generate(schema.get("items", {}), name, ctx, depth + 1))
        return out
    if t == "string":
        if ctx["toolong"]:
            return ("x" * 2500)
        i = ctx.get("index", 1)
        topic = ctx["topic"]
        if name in ("heading", "title"):
            s = f"Part {i}: {topic}"
        elif name in ("prompt", "imagePrompt", "query"):
            s = f"{topic} photo {i}"
        else:
            s = (f"This is part {i} about {topic}. It explains one idea in plain words, "
                 f"with an example that makes it easy to follow.")
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        if hi is not None:
            s = s[:hi]
        return s.ljust(lo, ".")
    if t == "integer":
        lo = schema.get("minimum", 1)
        hi = schema.get("maximum", max(lo, 30))
        return max(lo, min(hi, 10 * ctx.get("index", 1)))
    if t == "number":
        lo = schema.get("minimum", 1)
        return float(max(lo, 1.5))
    if t == "boolean":
        return True
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        if self.server.verbose:
            super().log_message(*a)

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, message, etype, code, headers=()):
        self.send_json(status, {"error": {"message": message, "type": etype, "param": None,
                                          "code": code}}, headers)

    def do_GET(self):
        if self.path == "/_sim/requests":
            with LOCK:
                self.send_json(200, {"requests": list(SEEN)})
            return
        self.error(404, "not found", "invalid_request_error", "not_found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_sim/reset":
            with LOCK:
                SEEN.clear()
                COUNTS.clear()
            self.send_json(200, {"ok": True})
            return
        if self.path != "/v1/chat/completions":
            self.error(404, "not found", "invalid_request_error", "not_found")
            return
        if self.headers.get("Authorization") != f"Bearer {self.server.key}":
            self.error(401, "Incorrect API key provided.", "invalid_request_error",
                       "invalid_api_key")
            return
        try:
            req = json.loads(raw)
            msgs = req["messages"]
            fmt = req["response_format"]
            assert fmt["type"] == "json_schema"
            js = fmt["json_schema"]
            assert js.get("strict") is True and isinstance(js["schema"], dict) and js["name"]
            assert isinstance(req["model"], str) and req["model"]
        except Exception as e:  # noqa: BLE001 - any shape error is the client's
            self.error(400, f"invalid request: {e!r}", "invalid_request_error", None)
            return
        user = "\n".join(m.get("content") or "" for m in msgs if m.get("role") == "user")
        with LOCK:
            SEEN.append(req)
            del SEEN[:-200]
            COUNTS[user] = COUNTS.get(user, 0) + 1
            seen = COUNTS[user]
        m = re.search(r"\[\[slow=(\d+(?:\.\d+)?)\]\]", user)
        if m:
            time.sleep(float(m.group(1)))
        if "[[quota]]" in user:
            self.error(429, "You exceeded your current quota, please check your plan and "
                       "billing details.", "insufficient_quota", "insufficient_quota")
            return
        if "[[ratelimit-always]]" in user or ("[[ratelimit]]" in user and seen == 1):
            self.error(429, "Rate limit reached for requests.", "requests",
                       "rate_limit_exceeded", [("Retry-After", "1")])
            return
        if "[[500]]" in user or ("[[500once]]" in user and seen == 1):
            self.error(500, "The server had an error while processing your request.",
                       "server_error", None)
            return
        m = re.search(r"\[\[items=(\d+)\]\]", user)
        ctx = {"topic": words_of(user), "items": int(m.group(1)) if m else 3,
               "toolong": "[[toolong]]" in user}
        content = json.dumps(generate(js["schema"], js["name"], ctx))
        finish, refusal = "stop", None
        if "[[refuse]]" in user:
            content, refusal = None, "I'm sorry, I can't help with that request."
        elif "[[length]]" in user:
            content, finish = content[: max(1, len(content) // 2)], "length"
        elif "[[malformed]]" in user:
            content = "Sure! Here is your script: {sections: oops"
        now = int(time.time())
        self.send_json(200, {
            "id": f"chatcmpl-sim{now}{seen}", "object": "chat.completion", "created": now,
            "model": req["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                 "refusal": refusal},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": len(user) // 4, "completion_tokens":
                      len(content or "") // 4, "total_tokens": 0},
        })


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="OpenAI Chat Completions simulator")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True, help="the API key clients must send as Bearer")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    srv = Server((args.host, args.port), Handler)
    srv.key = args.key
    srv.verbose = args.verbose
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"openai-sim listening on {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
