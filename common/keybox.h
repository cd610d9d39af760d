/* keybox.h — secrets Reelvox keeps for its users (their own provider keys),
 * encrypted with libsodium's crypto_secretbox (XSalsa20-Poly1305).
 *
 * The keys come from RV_KEY_ENCRYPTION_KEYS: "id:base64,id:base64,…", each key 32
 * random bytes (`openssl rand -base64 32`), ids [A-Za-z0-9_-]{1,32}; the first is
 * the current one (new secrets are sealed with it), the others only open what they
 * sealed, so a key is rotated by putting a new one first and re-adding users' keys
 * (or keeping the old one listed). Each ciphertext is stored with its key id. A
 * secret is bound to what it belongs to (`bound`, e.g. "<user id>/replicate"): a
 * ciphertext copied to another row does not open there. */
#ifndef RV_KEYBOX_H
#define RV_KEYBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

enum { KEYBOX_MAX_KEYS = 8 };

/* Loads the keys of spec (NULL or "": none). False with a reason (never key
 * material) when spec is malformed: config_load refuses to start then. */
bool keybox_load(const char *spec, char *why, size_t why_len);

/* Whether a key is loaded. */
bool keybox_ready(void);

/* Seals secret for bound with the current key: *key_id, and the nonce and
 * ciphertext as PostgreSQL bytea hex input ("\x…"), all in the arena. False when
 * no key is loaded. */
bool keybox_seal(arena *a, const char *bound, const char *secret, const char **key_id,
                 const char **nonce, const char **ciphertext);

/* The secret sealed for bound under key_id (nonce and ciphertext as hex, with or
 * without the "\x" of bytea output), in the arena; NULL when the key is unknown, the
 * ciphertext was changed, or it was sealed for something else. */
const char *keybox_open(arena *a, const char *bound, const char *key_id, const char *nonce,
                        const char *ciphertext);

#endif
