"""Every response the integration suite receives, checked against the OpenAPI
document (ops/openapi.json): the path template and method must be there, the
status must be one the operation lists, the Content-Type one it lists for that
status (none when it lists none) and a JSON body must match its schema.

- A method the path does not list must answer 405 problem+json (the document says
  so once, in info.description).
- A path the document does not list must answer nginx's 404 problem+json; paths
  outside the API (not /api/, /media/, /webhooks/, /healthz, /readyz, /metrics)
  are the static frontend's files and not checked.
- A path the document lists but this tree has not built yet (its endpoint is
  another branch's work: no location for it in the stack's endpoints.conf) is
  skipped when nginx answers it with 404 problem+json.

conftest.py wraps requests so every response of the stack passes through check();
what fails is kept and fails the test that received it. Schemas are compiled once
per (path, method, status, type) for the whole session."""
import json
import os
import re

from jsonschema import Draft202012Validator, RefResolver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(ROOT, "ops", "openapi.json")

with open(DOC_PATH, encoding="utf-8") as _f:
    DOC = json.load(_f)

_RESOLVER = RefResolver("", DOC)
_VALIDATORS = {}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _template_re(path):
    parts = []
    for seg in path.strip("/").split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "$")


# Literal paths before templated ones ("/webhooks/replicate" before
# "/webhooks/{provider}"), then fewer parameters first.
TEMPLATES = sorted(((path, _template_re(path), item) for path, item in DOC["paths"].items()),
                   key=lambda t: (t[0].count("{"), -len(t[0])))


def find(path):
    for template, rx, item in TEMPLATES:
        if rx.match(path):
            return template, item
    return None, None


# What the document covers; anything else nginx serves is the static frontend (web/).
API_PREFIXES = ("/api/", "/media/", "/webhooks/", "/healthz", "/readyz", "/metrics")

_BUILT = None


def built_locations(data_dir):
    """The location matchers of the stack's rendered endpoints.conf: (exact paths,
    regexes, prefixes)."""
    global _BUILT
    if _BUILT is None:
        exact, regexes, prefixes = set(), [], []
        try:
            with open(os.path.join(data_dir, "run", "endpoints.conf"), encoding="utf-8") as f:
                for line in f:
                    m = re.match(r"\s*location\s+(=|~|\^~)?\s*(\S+)\s*\{", line)
                    if not m:
                        continue
                    kind, arg = m.group(1), m.group(2)
                    if kind == "=":
                        exact.add(arg)
                    elif kind == "~":
                        regexes.append(re.compile(arg))
                    else:
                        prefixes.append(arg)
        except OSError:
            pass
        _BUILT = (exact, regexes, prefixes)
    return _BUILT


def is_built(path, data_dir):
    exact, regexes, prefixes = built_locations(data_dir)
    return (path in exact or any(r.search(path) for r in regexes) or
            any(path.startswith(p) for p in prefixes))


def _media_match(pattern, actual):
    if pattern == "*/*":
        return True
    if pattern.endswith("/*"):
        return actual.startswith(pattern[:-1])
    return pattern == actual


def _validator(key, schema):
    v = _VALIDATORS.get(key)
    if v is None:
        v = Draft202012Validator(schema, resolver=_RESOLVER)
        _VALIDATORS[key] = v
    return v


def check(method, path, status, ctype, body, data_dir, read_body=True):
    """None when the response is described by the document, else why not.
    body: bytes (None when not read)."""
    method = method.lower()
    is_problem = ctype == "application/problem+json"
    if not path.startswith(API_PREFIXES):
        return None  # the static web frontend's files: not the API
    template, item = find(path)
    if template is None:
        if status == 404 and is_problem:
            return None
        return f"{method.upper()} {path}: no such path in the document, and the answer " \
               f"was {status} {ctype!r}, not 404 problem+json"
    if status == 404 and is_problem and not is_built(path, data_dir):
        return None  # another branch's endpoint, not built in this tree
    op = item.get(method)
    if op is None and method == "head":
        op = item.get("get")
    if op is None:
        if status in (405, 413) and is_problem:  # nginx judges the body size first
            return None
        return f"{method.upper()} {template}: the document lists no such operation, and the " \
               f"answer was {status} {ctype!r}, not 405 problem+json"
    resp = op["responses"].get(str(status))
    if resp is not None and "$ref" in resp:  # "#/components/responses/Problem404"
        resp = DOC["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
    if resp is None:
        return f"{method.upper()} {template}: status {status} is not described " \
               f"(described: {', '.join(sorted(op['responses']))})"
    content = resp.get("content")
    if not content:
        if body and method != "head":
            return f"{method.upper()} {template} {status}: the document says no body, " \
                   f"but one came ({ctype!r}, {len(body)} bytes)"
        return None
    if method == "head" or (status == 206 and not ctype):
        return None
    match = next((t for t in content if _media_match(t, ctype)), None)
    if match is None:
        return f"{method.upper()} {template} {status}: Content-Type {ctype!r} is not one of " \
               f"{sorted(content)}"
    if not read_body or not (match.endswith("json")):
        return None
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return f"{method.upper()} {template} {status}: the body is not JSON ({e})"
    schema = content[match].get("schema")
    if schema is None:
        return None
    v = _validator((template, method, status, match), schema)
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errs:
        e = errs[0]
        where = "/".join(str(p) for p in e.path) or "(body)"
        return f"{method.upper()} {template} {status}: {where}: {e.message[:300]}"
    return None
