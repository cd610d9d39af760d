/* auth.h — access tokens, passwords and refresh tokens.
 *
 * Access tokens are HS256 JWTs made and checked with libjwt. libjwt 1.10 trusts the
 * token's own `alg`, accepts anything under an empty key and checks no claims, so
 * this module pins the algorithm, refuses short keys and checks exp, nbf, iat, iss
 * and the token type itself. Passwords are Argon2id via libsodium. Refresh tokens
 * are 256 random bits, handed out base64url and stored only as their SHA-256. */
#ifndef RV_AUTH_H
#define RV_AUTH_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

enum {
    AUTH_UUID_LEN = 36,
    AUTH_ROLE_MAX = 15,
    AUTH_REFRESH_TOKEN_LEN = 43, /* base64url of 32 bytes, no padding */
    AUTH_HASH_LEN = 32,
    AUTH_PWHASH_LEN = crypto_pwhash_STRBYTES,
    AUTH_LEEWAY = 30, /* seconds of clock skew tolerated on nbf and iat */
};

typedef struct auth_claims {
    char user_id[AUTH_UUID_LEN + 1];
    char role[AUTH_ROLE_MAX + 1];
    char session_id[AUTH_UUID_LEN + 1]; /* the refresh family the token came from */
    long exp;
} auth_claims;

/* Key and issuer are borrowed for the life of the process. Returns false for a key
 * shorter than 32 bytes. Also initialises libsodium. */
bool auth_init(const unsigned char *key, size_t key_len, const char *issuer, long ttl);

/* A signed access token for the claims; malloc'd, the caller frees it. NULL on
 * failure (out of memory). *expires_in gets the lifetime in seconds. */
char *auth_issue_access(const char *user_id, const char *role, const char *session_id, time_t now,
                        long *expires_in);

/* Verifies token at time now. RV_E_TOKEN_EXPIRED for a valid but expired token,
 * RV_E_UNAUTHORIZED for anything else wrong; RV_OK fills *out. A token verified
 * before is answered from a small per-process cache (exp still checked). */
rv_err auth_verify_access(const char *token, time_t now, auth_claims *out);

/* Whether token is a compact JWS whose signature is the HS256 MAC of its first two
 * segments under key: computed with libsodium and compared in constant time
 * (crypto_verify_32), so the check does not depend on the patch level of libjwt's
 * own comparison. The signature must be canonical unpadded base64url (43 chars). */
bool auth_hs256_ok(const unsigned char *key, size_t key_len, const char *token);

/* Forgets every cached verification (tests; a key change). */
void auth_cache_clear(void);

/* Argon2id hash of password into out (NUL-terminated). False on out of memory. */
bool auth_password_hash(const char *password, char out[AUTH_PWHASH_LEN]);
/* Whether password matches hash. hash NULL still spends the same work, so an unknown
 * email costs what a wrong password does. */
bool auth_password_check(const char *hash, const char *password);
/* Whether hash was made with weaker parameters than today's. */
bool auth_password_needs_rehash(const char *hash);

/* A new refresh token (token, NUL-terminated) and the hex SHA-256 of it. */
void auth_refresh_new(char token[AUTH_REFRESH_TOKEN_LEN + 1], char hash_hex[2 * AUTH_HASH_LEN + 1]);
/* The successor of a presented refresh token (token, NUL-terminated) and its hex
 * SHA-256: a keyed MAC of the presented token, so the same token always rotates to
 * the same successor (two tabs refreshing at once get the same answer) and nobody
 * without the key can compute it. presented must be a valid refresh token. */
void auth_refresh_successor(const char *presented, char token[AUTH_REFRESH_TOKEN_LEN + 1],
                            char hash_hex[2 * AUTH_HASH_LEN + 1]);
/* The hex SHA-256 of a presented token; false when it is not shaped like one. */
bool auth_refresh_hash(const char *token, char hash_hex[2 * AUTH_HASH_LEN + 1]);

#endif
