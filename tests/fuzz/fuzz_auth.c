/* fuzz_auth.c — access tokens through auth_verify_access() (common/auth.c): libjwt's
 * decode behind our pinning of alg, issuer, type and the integer time claims, and
 * the per-process cache.
 *
 * The first byte picks the mode. Even: the rest is a token as a client sends it
 * (forgeries, garbage). Odd: the rest is "header\npayload", two JSON texts that are
 * encoded and signed with the real key here, so the fuzzer reaches the claim checks
 * that only a correctly signed token gets to. Time is fixed (FUZZ_NOW). */
#include <sodium.h>
#include <stdlib.h>

#include "auth.h"
#include "fuzz.h"

#define FUZZ_NOW 1800000000L

static const unsigned char KEY[] = "fuzz-key-for-reelvox/0123456789abcdefghijKLMN";

static char *b64url(arena *a, const void *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = arena_alloc(a, cap);
    return sodium_bin2base64(s, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload.signature with HS256 under KEY, whatever the header says. */
static const char *sign(arena *a, const char *header, const char *payload)
{
    const char *parts[3] = {b64url(a, header, strlen(header)), ".",
                            b64url(a, payload, strlen(payload))};
    const char *input = arena_join(a, parts, 3);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, KEY, sizeof KEY - 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, strlen(input));
    crypto_auth_hmacsha256_final(&st, mac);
    const char *all[3] = {input, ".", b64url(a, mac, sizeof mac)};
    return arena_join(a, all, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (!auth_init(KEY, sizeof KEY - 1, "reelvox", 900))
            abort();
        ready = true;
    }
    if (size == 0)
        return 0;
    arena *a = fuzz_arena();
    const char *token;
    if (data[0] & 1) {
        char *header;
        size_t rest;
        const uint8_t *p = fuzz_split(a, data + 1, size - 1, '\n', &header, &rest);
        token = sign(a, header, fuzz_str(a, p, rest));
    } else {
        token = fuzz_str(a, data + 1, size - 1);
    }
    auth_claims c, again;
    rv_err er = auth_verify_access(token, FUZZ_NOW, &c);
    if (er != RV_OK && er != RV_E_UNAUTHORIZED && er != RV_E_TOKEN_EXPIRED)
        abort();
    if (er == RV_OK) {
        if (!c.user_id[0] || !c.role[0] || !c.session_id[0] || c.exp <= FUZZ_NOW)
            abort();
        /* The cache answers what the full check answered. */
        if (auth_verify_access(token, FUZZ_NOW, &again) != RV_OK ||
            memcmp(&c, &again, sizeof c) != 0)
            abort();
    }
    char hex[2 * AUTH_HASH_LEN + 1];
    (void)auth_refresh_hash(token, hex);
    return 0;
}
