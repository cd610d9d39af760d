#include "err.h"

static const rv_err_info table[RV_E__COUNT] = {
    [RV_OK] = {200, "ok", "OK", "ok"},
    [RV_E_VALIDATION] = {400, "validation_failed", "Validation failed", "validation"},
    [RV_E_MALFORMED_JSON] = {400, "malformed_json", "Malformed JSON", "malformed-json"},
    [RV_E_INVALID_TOKEN] = {400, "invalid_token", "Invalid or expired token", "invalid-token"},
    [RV_E_UNAUTHORIZED] = {401, "unauthorized", "Unauthorized", "unauthorized"},
    [RV_E_INVALID_CREDENTIALS] = {401, "invalid_credentials", "Invalid email or password",
                                  "invalid-credentials"},
    [RV_E_TOKEN_EXPIRED] = {401, "token_expired", "Token expired", "token-expired"},
    [RV_E_INSUFFICIENT_CREDITS] = {402, "insufficient_credits", "Insufficient credits",
                                   "insufficient-credits"},
    [RV_E_FORBIDDEN] = {403, "forbidden", "Forbidden", "forbidden"},
    [RV_E_NOT_FOUND] = {404, "not_found", "Not found", "not-found"},
    [RV_E_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "Method not allowed",
                                 "method-not-allowed"},
    [RV_E_CONFLICT] = {409, "conflict", "Conflict", "conflict"},
    [RV_E_EMAIL_TAKEN] = {409, "email_taken", "Email already registered", "email-taken"},
    [RV_E_INVALID_STATE] = {409, "invalid_state", "Invalid state", "invalid-state"},
    [RV_E_IDEMPOTENCY_CONFLICT] = {409, "idempotency_conflict", "Idempotency key reused",
                                   "idempotency-conflict"},
    [RV_E_VOICE_EXPIRED] = {409, "voice_expired", "Voice expired", "voice-expired"},
    [RV_E_PAYLOAD_TOO_LARGE] = {413, "payload_too_large", "Payload too large", "payload-too-large"},
    [RV_E_UNSUPPORTED_MEDIA] = {415, "unsupported_media_type", "Unsupported media type",
                                "unsupported-media-type"},
    [RV_E_UNPROCESSABLE] = {422, "unprocessable", "Unprocessable content", "unprocessable"},
    [RV_E_RATE_LIMITED] = {429, "rate_limited", "Too many requests", "rate-limited"},
    [RV_E_PROVIDER] = {502, "provider_error", "Provider error", "provider-error"},
    [RV_E_PROVIDER_UNAVAILABLE] = {503, "provider_unavailable", "No provider available",
                                   "provider-unavailable"},
    [RV_E_UNAVAILABLE] = {503, "unavailable", "Service unavailable", "unavailable"},
    [RV_E_INTERNAL] = {500, "internal", "Internal error", "internal"},
};

const rv_err_info *err_info(rv_err er)
{
    if ((unsigned)er >= RV_E__COUNT)
        er = RV_E_INTERNAL;
    return &table[er];
}

const char *err_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}
