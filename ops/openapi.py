#!/usr/bin/env python3
"""Writes ops/openapi.json, the OpenAPI 3.1 document of the whole HTTP API
(/work/shared/API.md, the contract), which nginx serves at /api/openapi.json.

The document is generated from the tables below so that the shapes every endpoint
shares (problems, pagination, the common error answers) are written once.
`ops/openapi.py` rewrites the file; `ops/openapi.py --check` fails when the
committed file is not what this script writes (tests/integration/test_openapi.py
runs it). The integration suite validates every response it receives against the
document (tests/integration/openapi_check.py)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "openapi.json")

JSON = "application/json"
PROBLEM = "application/problem+json"


# --------------------------------------------------------------------- helpers

def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def s(**kw):
    return {"type": "string", **kw}


def opt(schema):
    """schema, or null (a field a handler may send as null)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    t = schema.get("type")
    out = dict(schema)
    out["type"] = [t, "null"] if isinstance(t, str) else list(t) + ["null"]
    if "enum" in out:
        out["enum"] = list(out["enum"]) + [None]
    return out


UUID = s(format="uuid")
TIME = s(format="date-time")
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
URL = s(format="uri")
ANY_OBJ = {"type": "object"}


def obj(props, required=()):
    o = {"type": "object", "properties": props}
    if required:
        o["required"] = list(required)
    return o


def arr(items, **kw):
    return {"type": "array", "items": items, **kw}


def page_of(item):
    return obj({"items": arr(item), "pagination": ref("Pagination")}, ["items", "pagination"])


# ---------------------------------------------------------------------- schemas

JOB_KINDS = ["tts", "voice_clone", "voice_conversion", "sfx", "video_clip", "video_compile",
             "script", "narration", "images", "video_render", "estimate"]
JOB_STATUSES = ["queued", "dispatching", "running", "succeeded", "failed", "cancelled"]

SCHEMAS = {
    "Problem": obj({
        "type": s(), "title": s(), "status": INT, "code": s(), "detail": s(),
        "errors": arr(obj({"field": s(), "message": s()}, ["field", "message"])),
        "retryAfter": INT, "required": INT, "balance": INT,
    }, ["type", "title", "status"]),
    "Pagination": obj({"page": INT, "limit": INT, "total": INT, "totalPages": INT,
                       "hasNext": BOOL, "hasPrev": BOOL},
                      ["page", "limit", "total", "totalPages", "hasNext", "hasPrev"]),
    "User": obj({"id": UUID, "email": s(), "name": s(), "role": s(enum=["user", "expert", "admin"]),
                 "credits": INT, "referralCode": s(), "createdAt": TIME, "emailVerified": BOOL},
                ["id", "email", "name", "role", "credits", "referralCode", "createdAt"]),
    "Session": obj({"user": ref("User"), "accessToken": s(), "refreshToken": s(),
                    "expiresIn": INT}, ["user", "accessToken", "expiresIn"]),
    "Job": obj({
        "id": UUID, "kind": s(enum=JOB_KINDS), "status": s(enum=JOB_STATUSES),
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "input": ANY_OBJ,
        "result": obj({"audioId": UUID, "url": s(), "durationMs": INT, "contentType": s()}),
        "error": obj({"code": s(), "message": s()}, ["code"]),
        "costCredits": INT, "provider": s(),
        "createdAt": TIME, "startedAt": TIME, "completedAt": TIME,
    }, ["id", "kind", "status", "progress", "input", "costCredits", "provider", "createdAt"]),
    "LedgerItem": obj({"id": UUID, "delta": INT, "kind": s(), "reason": s(), "jobId": UUID,
                       "paymentId": UUID, "createdAt": TIME},
                      ["id", "delta", "kind", "reason", "createdAt"]),
    "Voice": obj({
        "id": UUID, "name": s(), "status": s(enum=["pending", "training", "active", "failed"]),
        "isCloned": BOOL, "language": s(), "gender": opt(s()), "sampleAudioId": opt(UUID),
        "previewUrl": opt(s()), "error": opt(s()), "createdAt": TIME,
        "completedAt": opt(TIME), "lastUsedAt": opt(TIME), "expiresAt": opt(TIME),
    }, ["id", "name", "status", "isCloned", "language", "createdAt"]),
    "Audio": obj({
        "id": UUID, "filename": s(), "contentType": s(), "bytes": INT, "durationMs": INT,
        "sampleRate": INT, "channels": INT, "source": s(enum=["upload", "generated"]),
        "jobId": opt(UUID), "url": s(), "createdAt": TIME,
    }, ["id", "filename", "contentType", "bytes", "durationMs", "source", "url", "createdAt"]),
    "Estimate": obj({"costCents": INT, "durationMinutes": NUM,
                     "breakdown": arr(obj({"task": s(), "minutes": NUM, "costCents": INT})),
                     "assumptions": {}, "method": s(enum=["ai", "rules"])},
                    ["costCents", "durationMinutes", "breakdown", "method"]),
    "Project": obj({
        "id": UUID, "name": s(), "description": opt(s()),
        "status": s(enum=["draft", "estimating", "ready", "in_progress", "review", "completed",
                          "cancelled"]),
        "audioIds": arr(UUID),
        "audios": arr(obj({"id": UUID, "filename": s(), "durationMs": INT, "url": s()})),
        "estimate": opt(ref("Estimate")), "expertId": opt(UUID), "priceCredits": opt(INT),
        "unread": INT, "createdAt": TIME, "updatedAt": TIME,
    }, ["id", "name", "status", "createdAt"]),
    "Deliverable": obj({"id": UUID, "audioId": UUID, "filename": s(), "durationMs": INT,
                        "url": s(), "createdAt": TIME}, ["id", "audioId", "createdAt"]),
    "Message": obj({"id": UUID, "authorId": UUID, "body": s(), "createdAt": TIME},
                   ["id", "authorId", "body", "createdAt"]),
    "Transition": obj({"from": opt(s()), "to": s(), "by": opt(UUID), "at": TIME}, ["from", "to", "at"]),
    "Rating": obj({"stars": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": opt(s()),
                   "createdAt": TIME}, ["stars"]),
    "Expert": obj({"userId": UUID, "name": s(), "bio": opt(s()), "hourlyRateCents": INT,
                   "specialties": arr(s()), "languages": arr(s()), "rating": opt(NUM),
                   "ratingCount": INT,
                   "availability": s(enum=["available", "busy", "offline"])},
                  ["userId", "name", "availability"]),
    "Image": obj({"id": UUID, "filename": s(), "contentType": s(), "width": INT, "height": INT,
                  "bytes": INT, "projectId": opt(UUID), "url": s(), "thumbnailUrl": opt(s()),
                  "createdAt": TIME}, ["id", "filename", "contentType", "url", "createdAt"]),
    "Clip": obj({"id": UUID, "projectId": UUID, "imageId": opt(UUID), "prompt": opt(s()),
                 "durationSeconds": INT, "status": s(), "approved": BOOL, "position": opt(INT),
                 "url": opt(s()), "posterUrl": opt(s()), "jobId": opt(UUID), "createdAt": TIME},
                ["id", "projectId", "status", "createdAt"]),
    "Compilation": obj({"id": UUID, "projectId": UUID, "clipIds": arr(UUID),
                        "musicTrackId": opt(UUID), "transition": s(), "musicVolume": NUM,
                        "status": s(), "url": opt(s()), "posterUrl": opt(s()),
                        "durationMs": opt(INT), "bytes": opt(INT), "jobId": opt(UUID),
                        "createdAt": TIME}, ["id", "projectId", "clipIds", "status", "createdAt"]),
    "MusicTrack": obj({"id": UUID, "title": s(), "durationMs": INT, "url": s()},
                      ["id", "title"]),
    "Section": obj({"heading": opt(s()), "content": s(), "startMs": INT, "endMs": INT,
                    "words": arr(obj({"text": s(), "startMs": INT, "endMs": INT}))},
                   ["content"]),
    "Video": obj({
        "id": UUID, "projectId": opt(UUID), "title": s(), "topic": s(),
        "status": s(enum=["draft", "scripting", "narrating", "imaging", "rendering", "ready",
                          "failed"]),
        "progress": INT, "step": opt(s()), "sections": arr(ref("Section")),
        "images": arr(obj({"position": INT, "imageId": UUID, "url": s(), "prompt": opt(s()),
                           "attribution": opt({
                               "type": "object",
                               "description": "the credit a stock photo's licence asks for",
                               "properties": {"provider": s(), "photographer": s(),
                                              "photographerUrl": s(), "url": s()}}),
                           "startMs": INT, "durationMs": INT})),
        "narrationAudioId": opt(UUID), "url": opt(s()), "posterUrl": opt(s()),
        "durationMs": opt(INT), "error": opt(ANY_OBJ), "createdAt": TIME,
    }, ["id", "title", "topic", "status", "createdAt"]),
    "Batch": obj({"id": UUID, "status": s(), "progress": INT, "videos": arr(ref("Video")),
                  "createdAt": TIME}, ["id", "status", "createdAt"]),
    "CreditPack": obj({"id": s(), "name": s(), "credits": INT, "priceCents": INT,
                       "currency": s()}, ["id", "name", "credits", "priceCents", "currency"]),
    "Payment": obj({"id": UUID, "packId": s(), "credits": INT, "amountCents": INT,
                    "currency": s(),
                    "status": s(enum=["pending", "paid", "failed", "expired", "refunded",
                                      "disputed"]),
                    "createdAt": TIME, "paidAt": opt(TIME)},
                   ["id", "packId", "credits", "amountCents", "currency", "status", "createdAt"]),
    "ConfigItem": obj({"key": s(), "value": {}, "updatedAt": TIME}, ["key", "value"]),
    "ApiKey": obj({"id": UUID, "service": s(), "last4": s(), "isActive": BOOL,
                   "createdAt": TIME}, ["id", "service", "last4", "isActive", "createdAt"]),
    "AuditItem": obj({"id": {}, "actorId": opt(UUID), "action": s(), "target": opt(s()),
                      "detail": {}, "createdAt": TIME}, ["action", "createdAt"]),
}

# Request bodies, loosely: the handlers are the strict judges (400 with errors).
BODIES = {
    "register": obj({"email": s(), "password": s(minLength=10, maxLength=128),
                     "name": s(maxLength=100), "referralCode": s()}, ["email", "password"]),
    "login": obj({"email": s(), "password": s()}, ["email", "password"]),
    "refresh": obj({"refreshToken": s()}),
    "mePatch": obj({"name": s(maxLength=100), "currentPassword": s(), "newPassword": s()}),
    "tts": obj({"text": s(minLength=1, maxLength=10000), "voiceId": UUID,
                "emotion": s(enum=["auto", "happy", "sad", "angry", "fearful", "disgusted",
                                   "surprised", "neutral"]),
                "speed": {"type": "number", "minimum": 0.5, "maximum": 2},
                "pitch": {"type": "number", "minimum": -12, "maximum": 12},
                "volume": {"type": "number", "minimum": 0.1, "maximum": 10},
                "audioFormat": s(enum=["mp3", "wav", "flac"]),
                "sampleRate": {"enum": [8000, 16000, 22050, 24000, 32000, 44100]}},
               ["text", "voiceId"]),
    "voiceConversion": obj({"sourceAudioId": UUID, "voiceId": UUID}, ["sourceAudioId", "voiceId"]),
    "sfx": obj({"prompt": s(minLength=1, maxLength=500),
                "durationSeconds": {"type": "number", "minimum": 1, "maximum": 30}}, ["prompt"]),
    "voice": obj({"name": s(minLength=1, maxLength=100), "sampleAudioId": UUID, "language": s(),
                  "gender": s()}, ["name", "sampleAudioId"]),
    "project": obj({"name": s(minLength=1, maxLength=200), "description": s(maxLength=5000)},
                   ["name"]),
    "projectPatch": obj({"name": s(minLength=1, maxLength=200),
                         "description": s(maxLength=5000)}),
    "audioId": obj({"audioId": UUID}, ["audioId"]),
    "expertId": obj({"expertId": UUID}, ["expertId"]),
    "changes": obj({"message": s()}, ["message"]),
    "rating": obj({"stars": {"type": "integer", "minimum": 1, "maximum": 5},
                   "comment": s(maxLength=2000)}, ["stars"]),
    "message": obj({"body": s(minLength=1, maxLength=10000)}, ["body"]),
    "expertMe": obj({"name": s(), "bio": s(), "hourlyRateCents": INT, "specialties": arr(s()),
                     "languages": arr(s()),
                     "availability": s(enum=["available", "busy", "offline"])}),
    "clip": obj({"projectId": UUID, "imageId": UUID, "prompt": s(maxLength=1000),
                 "durationSeconds": {"enum": [5, 10]}, "ratio": s(enum=["16:9", "9:16", "1:1"])},
                ["projectId", "imageId", "durationSeconds"]),
    "clipPatch": obj({"approved": BOOL, "position": INT}),
    "compilation": obj({"projectId": UUID, "clipIds": arr(UUID, minItems=1, maxItems=50),
                        "musicTrackId": UUID,
                        "transition": s(enum=["none", "fade", "dissolve", "wipe", "slide"]),
                        "transitionSeconds": {"type": "number", "minimum": 0.2, "maximum": 2},
                        "musicVolume": {"type": "number", "minimum": 0, "maximum": 100}},
                       ["projectId", "clipIds", "transition", "musicVolume"]),
    "video": obj({"projectId": UUID, "title": s(minLength=1, maxLength=200),
                  "topic": s(minLength=1, maxLength=500), "language": s(),
                  "targetSeconds": {"type": "integer", "minimum": 15, "maximum": 600},
                  "voiceId": UUID, "style": s(), "auto": BOOL, "script": ANY_OBJ},
                 ["title", "topic"]),
    "script": obj({"sections": arr(obj({"heading": s(maxLength=200),
                                        "content": s(minLength=1, maxLength=2000)}, ["content"]),
                                   minItems=1, maxItems=50)}, ["sections"]),
    "narration": obj({"voiceId": UUID, "speed": NUM}, ["voiceId"]),
    "imageId": obj({"imageId": UUID}, ["imageId"]),
    "render": obj({"transition": s(), "musicTrackId": UUID, "musicVolume": NUM,
                   "captions": s(enum=["burned", "sidecar", "none"]),
                   "resolution": s(enum=["720p", "1080p"]),
                   "aspect": s(enum=["16:9", "9:16", "1:1"])}),
    "batch": obj({"topics": arr(s(), minItems=1, maxItems=20), "voiceId": UUID},
                 ["topics", "voiceId"]),
    "checkout": obj({"packId": s()}, ["packId"]),
    "token": obj({"token": s()}, ["token"]),
    "forgot": obj({"email": s()}, ["email"]),
    "reset": obj({"token": s(), "newPassword": s()}, ["token", "newPassword"]),
    "configValue": obj({"value": {}}, ["value"]),
    "adminUserPatch": obj({"role": s(enum=["user", "expert", "admin"]), "disabled": BOOL}),
    "adminCredits": obj({"delta": INT, "reason": s()}, ["delta", "reason"]),
    "apiKey": obj({"service": s(), "key": s()}, ["service", "key"]),
}

TITLES = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 206: "Partial content",
    400: "Bad input (validation_failed with errors, malformed_json)",
    401: "No, bad or expired token; wrong login or signature",
    402: "insufficient_credits (with required and balance)",
    403: "forbidden", 404: "not_found (no such resource, or not yours)",
    412: "precondition_failed (an If-Match or If-Unmodified-Since that fails)",
    405: "method_not_allowed (with Allow)", 409: "conflict, email_taken, invalid_state, voice_expired",
    413: "payload_too_large", 415: "unsupported_media_type", 416: "Range not satisfiable",
    422: "unprocessable", 429: "rate_limited (with retryAfter and Retry-After)",
    500: "internal", 502: "provider_error", 503: "unavailable or provider_unavailable",
}


def problem(code):
    return {"$ref": f"#/components/responses/Problem{code}"}


PROBLEM_RESPONSES = {
    f"Problem{code}": {"description": TITLES[code],
                       "content": {PROBLEM: {"schema": ref("Problem")}}}
    for code in TITLES if code >= 400
}


def op(summary, ok, *, auth=True, body=None, raw=None, errors=(), query=(), tags=None,
       headers=None):
    """An operation: ok is {status: schema or None (no body) or (content type, schema)}.
    Every operation may answer 405 (another method), 413 (nginx: a body over the
    location's limit, whatever the method), 500 and 503; one with a token 401; one with
    a body 400 and (JSON) 415; one that answers 202 409 (an Idempotency-Key sent
    again with another request); plus `errors`."""
    responses = {}
    for code, sch in ok.items():
        r = {"description": TITLES.get(code, "OK")}
        if isinstance(sch, tuple):
            r["content"] = {sch[0]: {"schema": sch[1]}}
        elif sch is not None:
            r["content"] = {JSON: {"schema": sch}}
        if code == 202 and headers is None:
            r["headers"] = {"Location": {"schema": s(), "description": "/api/jobs/{id}"}}
        if headers:
            r["headers"] = headers
        responses[str(code)] = r
    codes = set(errors) | {405, 413, 500, 503}
    if 202 in ok:
        codes |= {409}
    if auth:
        codes |= {401}
    if body is not None or raw is not None:
        codes |= {400, 413}
    if body is not None:
        codes |= {415}
    for code in sorted(codes):
        responses[str(code)] = problem(code)
    o = {"summary": summary, "responses": responses}
    if tags:
        o["tags"] = tags
    if not auth:
        o["security"] = []
    if query:
        o["parameters"] = [{"name": q, "in": "query", "required": False, "schema": s()}
                           for q in query]
    if body is not None:
        o["requestBody"] = {"required": True,
                            "content": {JSON: {"schema": BODIES[body] if isinstance(body, str)
                                               else body}}}
    if raw is not None:
        o["requestBody"] = {"required": True,
                            "content": {t: {"schema": s(contentMediaType=t)} for t in raw}}
    return o


PAGE = ("page", "limit")
JOB = ref("Job")
AUDIO_TYPES = ["audio/mpeg", "audio/wav", "audio/x-wav", "audio/ogg", "audio/webm", "audio/flac"]
IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"]

PATHS = {
    # Health and operations
    "/healthz": {"get": op("Liveness: the database answers", {
        200: obj({"status": s(const="ok"), "db": s(const="ok")}, ["status", "db"])},
        auth=False, tags=["ops"])},
    "/readyz": {"get": op("Readiness: database, migrations, a recent poller pass", {
        200: obj({"status": s(const="ready"),
                  "checks": obj({"database": s(), "migrations": s(), "poller": s()},
                                ["database", "migrations", "poller"]),
                  "pollerAgeSeconds": NUM}, ["status", "checks"])}, auth=False, tags=["ops"])},
    "/metrics": {"get": op("Prometheus text exposition (loopback only)", {
        200: ("text/plain", s())}, auth=False, errors=(403,), tags=["ops"])},
    "/api/version": {"get": op("Build information", {
        200: obj({"name": s(), "version": s()}, ["name", "version"])}, auth=False,
        tags=["ops"])},
    "/api/openapi.json": {"get": op("This document", {200: ANY_OBJ}, auth=False,
                                    tags=["ops"])},
    # Auth
    "/api/auth/register": {"post": op("Create an account", {201: ref("Session")}, auth=False,
                                      body="register", errors=(409, 429), tags=["auth"])},
    "/api/auth/login": {"post": op("Sign in", {200: ref("Session")}, auth=False, body="login",
                                   errors=(401, 429), tags=["auth"])},
    "/api/auth/refresh": {"post": op("A new access token for a refresh token",
                                     {200: ref("Session")}, auth=False, body="refresh",
                                     errors=(401, 429), tags=["auth"])},
    "/api/auth/logout": {"post": op("End the session", {204: None}, body={}, tags=["auth"])},
    "/api/auth/verify": {"post": op("Verify the email address", {200: ref("User")},
                                    auth=False, body="token", tags=["auth"])},
    "/api/auth/verify/resend": {"post": op("Send the verification mail again", {202: ANY_OBJ},
                                           errors=(429,), tags=["auth"], headers={})},
    "/api/auth/forgot": {"post": op("Mail a password reset link", {202: ANY_OBJ}, auth=False,
                                    body="forgot", errors=(429,), tags=["auth"], headers={})},
    "/api/auth/reset": {"post": op("Set a new password with a reset token", {200: ANY_OBJ},
                                   auth=False, body="reset", tags=["auth"])},
    "/api/me": {
        "get": op("The caller", {200: ref("User")}, tags=["account"]),
        "patch": op("Change name or password", {200: ref("User")}, body="mePatch",
                    errors=(401, 429), tags=["account"]),
    },
    "/api/credits": {"get": op("Balance and ledger", {
        200: obj({"balance": INT, "items": arr(ref("LedgerItem")), "pagination": ref("Pagination")},
                 ["balance", "items", "pagination"])}, query=PAGE, errors=(400,),
        tags=["account"])},
    # Jobs
    "/api/jobs": {"get": op("The caller's jobs", {200: page_of(JOB)},
                            query=("kind", "status") + PAGE, errors=(400,), tags=["jobs"])},
    "/api/jobs/{id}": {
        "get": op("One job", {200: JOB}, errors=(404,), tags=["jobs"]),
        "delete": op("Cancel a job and refund it", {200: JOB}, errors=(404, 409),
                     tags=["jobs"]),
    },
    # Voice
    "/api/tts": {"post": op("Text to speech", {202: JOB}, body="tts",
                            errors=(402, 404, 409, 429), tags=["voice"])},
    "/api/voice-conversion": {"post": op("Convert a voice", {202: JOB}, body="voiceConversion",
                                         errors=(402, 404, 409, 429), tags=["voice"])},
    "/api/sfx": {"post": op("Sound effects", {202: JOB}, body="sfx", errors=(402, 429),
                            tags=["voice"])},
    "/api/voices": {
        "get": op("Presets and the caller's voices", {200: page_of(ref("Voice"))}, query=PAGE,
                  errors=(400,), tags=["voice"]),
        "post": op("Clone a voice from a sample",
                   {202: obj({"voice": ref("Voice"), "job": JOB}, ["voice", "job"])},
                   body="voice", errors=(402, 404, 409, 422, 429), tags=["voice"]),
    },
    "/api/voices/{id}": {
        "get": op("One voice", {200: ref("Voice")}, errors=(404,), tags=["voice"]),
        "delete": op("Delete a voice", {204: None}, errors=(403, 404, 409), tags=["voice"]),
    },
    # Audio files
    "/api/audios": {
        "get": op("The caller's audio files", {200: page_of(ref("Audio"))}, query=PAGE,
                  errors=(400,), tags=["files"]),
        "post": op("Upload an audio file (raw body)", {201: ref("Audio")}, raw=AUDIO_TYPES,
                   query=("filename",), errors=(415, 422, 429), tags=["files"]),
    },
    "/api/audios/{id}": {
        "get": op("One audio file", {200: ref("Audio")}, errors=(404,), tags=["files"]),
        "delete": op("Delete an audio file", {204: None}, errors=(404, 409), tags=["files"]),
    },
    "/media/{kind}/{shard}/{file}": {"get": op("A stored file through a signed link", {
        200: ("*/*", s(contentMediaType="application/octet-stream")),
        206: ("*/*", s(contentMediaType="application/octet-stream"))},
        auth=False, query=("exp", "sig"), errors=(403, 404, 412, 416), tags=["files"])},
    # Projects and experts
    "/api/projects": {
        "get": op("The caller's projects", {200: page_of(ref("Project"))},
                  query=("status",) + PAGE, errors=(400,), tags=["projects"]),
        "post": op("Create a project", {201: ref("Project")}, body="project",
                   tags=["projects"]),
    },
    "/api/projects/{id}": {
        "get": op("One project", {200: ref("Project")}, errors=(404,), tags=["projects"]),
        "patch": op("Rename or describe", {200: ref("Project")}, body="projectPatch",
                    errors=(403, 404, 409), tags=["projects"]),
        "delete": op("Delete a draft or cancelled project", {204: None}, errors=(403, 404, 409),
                     tags=["projects"]),
    },
    "/api/projects/{id}/audios": {"post": op("Attach an audio file", {200: ref("Project")},
                                             body="audioId", errors=(403, 404, 409),
                                             tags=["projects"])},
    "/api/projects/{id}/audios/{audioId}": {"delete": op(
        "Detach an audio file", {200: ref("Project")}, errors=(403, 404, 409), tags=["projects"])},
    "/api/projects/{id}/estimate": {"post": op("Estimate the work", {202: JOB},
                                               errors=(400, 402, 403, 404, 409, 429), tags=["projects"])},
    "/api/projects/{id}/expert": {"post": op("Assign an expert (escrow held)",
                                             {200: ref("Project")}, body="expertId",
                                             errors=(402, 403, 404, 409), tags=["projects"])},
    "/api/projects/{id}/deliverables": {
        "get": op("Deliverables", {200: page_of(ref("Deliverable"))}, query=PAGE,
                  errors=(400, 403, 404), tags=["projects"]),
        "post": op("Deliver an audio file (the expert)", {201: ref("Deliverable")},
                   body="audioId", errors=(403, 404, 409), tags=["projects"]),
    },
    "/api/projects/{id}/submit": {"post": op("Submit for review (the expert)",
                                             {200: ref("Project")}, errors=(403, 404, 409),
                                             tags=["projects"])},
    "/api/projects/{id}/accept": {"post": op("Accept (the owner): escrow released",
                                             {200: ref("Project")}, errors=(403, 404, 409),
                                             tags=["projects"])},
    "/api/projects/{id}/changes": {"post": op("Ask for changes (the owner)",
                                              {200: ref("Project")}, body="changes",
                                              errors=(403, 404, 409), tags=["projects"])},
    "/api/projects/{id}/cancel": {"post": op("Cancel (escrow refunded by the rules)",
                                             {200: ref("Project")}, errors=(403, 404, 409),
                                             tags=["projects"])},
    "/api/projects/{id}/rating": {"post": op("Rate the expert once", {201: ref("Rating")},
                                             body="rating", errors=(403, 404, 409),
                                             tags=["projects"])},
    "/api/projects/{id}/messages": {
        "get": op("Messages, newest first", {200: page_of(ref("Message"))}, query=PAGE,
                  errors=(404,), tags=["projects"]),
        "post": op("Write a message", {201: ref("Message")}, body="message", errors=(403, 404),
                   tags=["projects"]),
    },
    "/api/projects/{id}/history": {"get": op("Status history",
                                             {200: arr(ref("Transition"))}, errors=(404,),
                                             tags=["projects"])},
    "/api/expert/projects": {"get": op("Projects assigned to the caller (an expert)",
                                       {200: page_of(ref("Project"))},
                                       query=("status",) + PAGE, errors=(400, 403),
                                       tags=["experts"])},
    "/api/experts": {"get": op("Experts by rating", {200: page_of(ref("Expert"))},
                               query=("specialty", "language", "availability", "minRateCents",
                                      "maxRateCents") + PAGE, errors=(400,), tags=["experts"])},
    "/api/experts/specialties": {"get": op("The specialties", {
        200: obj({"items": arr(s())}, ["items"])}, auth=False, tags=["experts"])},
    "/api/experts/me": {"put": op("The caller's expert profile", {200: ref("Expert")},
                                  body="expertMe", errors=(403,), tags=["experts"])},
    "/api/experts/{id}": {"get": op("One expert", {200: ref("Expert")}, errors=(404,),
                                    tags=["experts"])},
    # Video
    "/api/images": {
        "get": op("The caller's images", {200: page_of(ref("Image"))},
                  query=("projectId",) + PAGE, errors=(400,), tags=["video"]),
        "post": op("Upload an image (raw body)", {201: ref("Image")}, raw=IMAGE_TYPES,
                   query=("filename", "projectId"), errors=(404, 415, 422, 429),
                   tags=["video"]),
    },
    "/api/images/{id}": {
        "get": op("One image", {200: ref("Image")}, errors=(404,), tags=["video"]),
        "delete": op("Delete an image", {204: None}, errors=(404, 409), tags=["video"]),
    },
    "/api/clips": {
        "get": op("Clips", {200: page_of(ref("Clip"))}, query=("projectId",) + PAGE,
                  errors=(400,), tags=["video"]),
        "post": op("Image to video clip", {202: obj({"clip": ref("Clip"), "job": JOB},
                                                    ["clip", "job"])},
                   body="clip", errors=(402, 404, 409, 429), tags=["video"]),
    },
    "/api/clips/{id}": {
        "get": op("One clip", {200: ref("Clip")}, errors=(404,), tags=["video"]),
        "patch": op("Approve or order", {200: ref("Clip")}, body="clipPatch", errors=(404, 409),
                    tags=["video"]),
        "delete": op("Delete a clip", {204: None}, errors=(404, 409), tags=["video"]),
    },
    "/api/music-tracks": {"get": op("Music tracks", {
        200: obj({"items": arr(ref("MusicTrack"))}, ["items"])}, auth=False, tags=["video"])},
    "/api/admin/music-tracks": {"post": op("Add a music track (admin, raw audio body)",
                                           {201: ref("MusicTrack")}, raw=AUDIO_TYPES,
                                           query=("title",), errors=(403, 415, 422),
                                           tags=["admin"])},
    "/api/admin/music-tracks/{id}": {"delete": op("Remove a music track (admin)", {204: None},
                                                  errors=(403, 404, 409), tags=["admin"])},
    "/api/compilations": {
        "get": op("Compilations", {200: page_of(ref("Compilation"))},
                  query=("projectId",) + PAGE, errors=(400,), tags=["video"]),
        "post": op("Compile clips", {202: obj({"compilation": ref("Compilation"), "job": JOB},
                                              ["compilation", "job"])},
                   body="compilation", errors=(402, 404, 409, 429), tags=["video"]),
    },
    "/api/compilations/{id}": {
        "get": op("One compilation", {200: ref("Compilation")}, errors=(404,), tags=["video"]),
        "delete": op("Delete a compilation", {204: None}, errors=(404, 409), tags=["video"]),
    },
    "/api/videos": {
        "get": op("Explainer videos", {200: page_of(ref("Video"))}, query=PAGE, errors=(400,),
                  tags=["video"]),
        "post": op("Start an explainer video", {201: ref("Video")}, body="video",
                   errors=(402, 404, 409, 429), tags=["video"]),
    },
    "/api/videos/{id}": {
        "get": op("One video", {200: ref("Video")}, errors=(404,), tags=["video"]),
        "delete": op("Delete a video", {204: None}, errors=(404, 409), tags=["video"]),
    },
    "/api/videos/{id}/script": {
        "post": op("Write the script (LLM)", {202: JOB}, errors=(402, 404, 409, 429, 502),
                   tags=["video"]),
        "put": op("Set the script", {200: ref("Video")}, body="script", errors=(404, 409),
                  tags=["video"]),
    },
    "/api/videos/{id}/narration": {"post": op("Narrate", {202: JOB}, body="narration",
                                              errors=(402, 404, 409, 429), tags=["video"])},
    "/api/videos/{id}/images": {"post": op("Find or make the images", {202: JOB},
                                           errors=(400, 402, 404, 409, 429), tags=["video"])},
    "/api/videos/{id}/images/{position}": {"put": op("Replace one image", {200: ref("Video")},
                                                     body="imageId", errors=(404, 409),
                                                     tags=["video"])},
    "/api/videos/{id}/render": {"post": op("Render the video", {202: JOB}, body="render",
                                           errors=(402, 404, 409, 429), tags=["video"])},
    "/api/videos/{id}/captions.vtt": {"get": op("Captions", {200: ("text/vtt", s())},
                                                errors=(404, 409), tags=["video"])},
    "/api/batches": {"post": op("Many videos at once", {202: ref("Batch")}, body="batch",
                                errors=(402, 404, 429), tags=["video"], headers={})},
    "/api/batches/{id}": {
        "get": op("One batch", {200: ref("Batch")}, errors=(404,), tags=["video"]),
        "delete": op("Cancel what is not done", {200: ref("Batch")}, errors=(404, 409),
                     tags=["video"]),
    },
    # Money
    "/api/credit-packs": {"get": op("Credit packs", {
        200: obj({"items": arr(ref("CreditPack"))}, ["items"])}, auth=False, tags=["money"])},
    "/api/checkout": {"post": op("Start a Stripe Checkout", {
        201: obj({"paymentId": UUID, "checkoutUrl": s()}, ["paymentId", "checkoutUrl"])},
        body="checkout", errors=(403, 404, 409, 429, 502), tags=["money"])},
    "/api/payments": {"get": op("The caller's payments", {200: page_of(ref("Payment"))},
                                query=PAGE, errors=(400,), tags=["money"])},
    # Admin
    "/api/admin/config": {"get": op("Every setting", {
        200: obj({"items": arr(ref("ConfigItem"))}, ["items"])}, errors=(403,),
        tags=["admin"])},
    "/api/admin/config/{key}": {
        "get": op("One setting", {200: ref("ConfigItem")}, errors=(403, 404), tags=["admin"]),
        "put": op("Change a setting", {200: ref("ConfigItem")}, body="configValue",
                  errors=(403, 404), tags=["admin"]),
    },
    "/api/admin/users": {"get": op("Users", {200: page_of(ref("User"))},
                                   query=("q", "role") + PAGE, errors=(400, 403),
                                   tags=["admin"])},
    "/api/admin/users/{id}": {
        "get": op("One user with balance, ledger, jobs, payments", {200: ANY_OBJ},
                  errors=(403, 404), tags=["admin"]),
        "patch": op("Role or disabled", {200: ref("User")}, body="adminUserPatch",
                    errors=(403, 404, 409), tags=["admin"]),
    },
    "/api/admin/users/{id}/credits": {"post": op("Grant credits", {201: ref("LedgerItem")},
                                                 body="adminCredits", errors=(403, 404, 409),
                                                 tags=["admin"])},
    "/api/admin/jobs": {"get": op("Jobs of everybody", {200: page_of(JOB)},
                                  query=("status", "kind", "provider", "userId") + PAGE,
                                  errors=(400, 403), tags=["admin"])},
    "/api/admin/jobs/{id}/retry": {"post": op("Retry a job", {200: JOB, 202: JOB},
                                              errors=(403, 404, 409), tags=["admin"])},
    "/api/admin/jobs/{id}/refund": {"post": op("Refund a job: the ledger row", {201: ANY_OBJ},
                                               errors=(403, 404, 409), tags=["admin"])},
    "/api/admin/stats": {"get": op("Figures", {200: ANY_OBJ}, errors=(403,), tags=["admin"])},
    "/api/admin/audit": {"get": op("The audit log", {200: page_of(ref("AuditItem"))},
                                   query=PAGE, errors=(400, 403), tags=["admin"])},
    # Own provider keys
    "/api/api-keys": {
        "get": op("The caller's provider keys", {200: page_of(ref("ApiKey"))}, query=PAGE,
                  errors=(400,), tags=["keys"]),
        "post": op("Store a provider key (checked, encrypted)", {201: ref("ApiKey")},
                   body="apiKey", errors=(422, 502), tags=["keys"]),
    },
    "/api/api-keys/{id}": {"delete": op("Remove a key", {204: None}, errors=(404,),
                                        tags=["keys"])},
    # Webhooks
    "/webhooks/replicate": {"post": op("Replicate's webhook (Standard Webhooks signature)",
                                       {204: None}, auth=False, raw=[JSON],
                                       query=("job", "token"), errors=(401, 404),
                                       tags=["webhooks"])},
    "/webhooks/stripe": {"post": op("Stripe's webhook (Stripe-Signature)", {200: ANY_OBJ},
                                    auth=False, raw=[JSON], errors=(401,), tags=["webhooks"])},
    "/webhooks/{provider}": {"post": op("Another provider's webhook", {200: None, 204: None},
                                        auth=False, raw=[JSON], errors=(401, 404),
                                        tags=["webhooks"])},
}


def path_params(path):
    return [{"name": p, "in": "path", "required": True, "schema": s()}
            for p in (seg[1:-1] for seg in path.split("/") if seg.startswith("{"))]


def document():
    paths = {}
    for path, ops in PATHS.items():
        item = {}
        params = path_params(path)
        if params:
            item["parameters"] = params
        item.update(ops)
        get = item.get("get")
        if get and "200" in get["responses"] and "content" in get["responses"]["200"] \
                and JSON in get["responses"]["200"]["content"]:
            get["responses"]["304"] = {"description": "Not Modified: the ETag sent in "
                                       "If-None-Match is the answer's (no body)"}
        paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reelvox API",
            "version": "0.1.0",
            "description": (
                "The HTTP contract of Reelvox (API.md). JSON in and out, camelCase, "
                "RFC 3339 UTC times; errors are RFC 9457 problem details "
                "(application/problem+json). A method a path does not list answers 405 "
                "with Allow; a path not listed here answers 404 problem+json."),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"cookie": []}],
        "tags": [{"name": t} for t in ("ops", "auth", "account", "jobs", "voice", "files",
                                       "projects", "experts", "video", "money", "admin",
                                       "keys", "webhooks")],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": PROBLEM_RESPONSES,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "rv_access"},
            },
        },
    }


def render():
    return json.dumps(document(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main():
    text = render()
    if sys.argv[1:] == ["--check"]:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                print("ops/openapi.json is not what ops/openapi.py writes: run ops/openapi.py",
                      file=sys.stderr)
                return 1
        return 0
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
