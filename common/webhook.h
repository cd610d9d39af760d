/* webhook.h — verifying signed webhooks over their raw body.
 *
 * Standard Webhooks (Replicate and others): headers webhook-id, webhook-timestamp
 * and webhook-signature ("v1,<base64>" entries separated by spaces); the signature
 * is HMAC-SHA256 over "id.timestamp.body" keyed with the base64 part of the
 * "whsec_..." secret, which must decode to at least 24 bytes. Compared in constant
 * time; the timestamp must be within tolerance seconds of now. */
#ifndef RV_WEBHOOK_H
#define RV_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum { WEBHOOK_TOLERANCE = 300 };

/* Whether any v1 signature in sigs matches. All strings may be NULL (→ false). */
bool webhook_verify_standard(const char *secret, const char *id, const char *timestamp,
                             const char *sigs, const char *body, size_t body_len, time_t now,
                             long tolerance);

/* Whether secret ("whsec_<base64>" or bare base64) decodes to a usable key. */
bool webhook_secret_valid(const char *secret);

/* Signs like a Standard Webhooks sender: writes "v1,<base64>" into out (≥ 64 bytes).
 * For tests and the simulator's peers. False on a malformed secret. */
bool webhook_sign_standard(const char *secret, const char *id, const char *timestamp,
                           const char *body, size_t body_len, char *out, size_t out_len);

#endif
