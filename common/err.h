/* err.h — the one error type of Reelvox.
 *
 * Every function that can fail returns an rv_err; RV_OK is 0. Only the serve loop
 * turns a value into an HTTP status and a problem+json body, through the table in
 * err.c, so a status, its `code` and its title are written down exactly once. */
#ifndef RV_ERR_H
#define RV_ERR_H

typedef enum rv_err {
    RV_OK = 0,
    RV_E_VALIDATION,           /* 400 validation_failed, with errors[] */
    RV_E_MALFORMED_JSON,       /* 400 malformed_json */
    RV_E_INVALID_TOKEN,        /* 400 invalid_token: a used or expired mail link */
    RV_E_UNAUTHORIZED,         /* 401 unauthorized */
    RV_E_INVALID_CREDENTIALS,  /* 401 invalid_credentials */
    RV_E_TOKEN_EXPIRED,        /* 401 token_expired */
    RV_E_INSUFFICIENT_CREDITS, /* 402 */
    RV_E_FORBIDDEN,            /* 403 */
    RV_E_NOT_FOUND,            /* 404 */
    RV_E_METHOD_NOT_ALLOWED,   /* 405, with Allow */
    RV_E_CONFLICT,             /* 409 conflict */
    RV_E_EMAIL_TAKEN,          /* 409 email_taken */
    RV_E_INVALID_STATE,        /* 409 invalid_state */
    RV_E_IDEMPOTENCY_CONFLICT, /* 409 idempotency_conflict */
    RV_E_VOICE_EXPIRED,        /* 409 voice_expired: a clone unused for 7 days */
    RV_E_PAYLOAD_TOO_LARGE,    /* 413 */
    RV_E_UNSUPPORTED_MEDIA,    /* 415 */
    RV_E_UNPROCESSABLE,        /* 422 */
    RV_E_RATE_LIMITED,         /* 429, with retryAfter */
    RV_E_PROVIDER,             /* 502 provider_error */
    RV_E_PROVIDER_UNAVAILABLE, /* 503 provider_unavailable */
    RV_E_UNAVAILABLE,          /* 503 unavailable: database down */
    RV_E_INTERNAL,             /* 500: a bug; never leaks details */
    RV_E__COUNT
} rv_err;

typedef struct rv_err_info {
    int status;
    const char *code;  /* API.md's `code` */
    const char *title; /* problem title */
    const char *slug;  /* last part of the problem `type` URI */
} rv_err_info;

/* The row for er; an out-of-range value gets the RV_E_INTERNAL row. Never NULL. */
const rv_err_info *err_info(rv_err er);

/* "200 OK" style reason phrase for an HTTP status; "Unknown" if not listed. */
const char *err_reason(int status);

#endif
