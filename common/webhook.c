#include "webhook.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_KEY = 128 };

static bool decode_secret(const char *secret, unsigned char *key, size_t *key_len)
{
    static const char prefix[] = "whsec_";
    if (!secret)
        return false;
    if (!strncmp(secret, prefix, sizeof prefix - 1))
        secret += sizeof prefix - 1;
    return sodium_base642bin(key, MAX_KEY, secret, strlen(secret), NULL, key_len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           *key_len > 0;
}

static void mac(const unsigned char *key, size_t key_len, const char *id, const char *ts,
                const char *body, size_t body_len, unsigned char out[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, out);
}

bool webhook_sign_standard(const char *secret, const char *id, const char *timestamp,
                           const char *body, size_t body_len, char *out, size_t out_len)
{
    unsigned char key[MAX_KEY], m[32];
    size_t key_len;
    if (out_len < 64 || !id || !timestamp || !decode_secret(secret, key, &key_len))
        return false;
    mac(key, key_len, id, timestamp, body, body_len, m);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, out_len - 3, m, sizeof m, sodium_base64_VARIANT_ORIGINAL);
    return true;
}

bool webhook_verify_standard(const char *secret, const char *id, const char *timestamp,
                             const char *sigs, const char *body, size_t body_len, time_t now,
                             long tolerance)
{
    unsigned char key[MAX_KEY], want[32];
    size_t key_len;
    if (!id || !*id || strlen(id) > 256 || !timestamp || !sigs || !body ||
        !decode_secret(secret, key, &key_len))
        return false;
    char *end;
    errno = 0;
    long ts = strtol(timestamp, &end, 10);
    /* Compared without subtracting: a timestamp near LONG_MIN or LONG_MAX would
     * overflow now - ts (found by tests/fuzz/fuzz_webhook). */
    if (errno || *end || end == timestamp || tolerance < 0 || ts < (long)now - tolerance ||
        ts > (long)now + tolerance)
        return false;
    mac(key, key_len, id, timestamp, body, body_len, want);

    bool ok = false;
    const char *p = sigs;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        unsigned char got[64];
        size_t got_len = 0;
        if (n > 3 && !strncmp(p, "v1,", 3) &&
            sodium_base642bin(got, sizeof got, p + 3, n - 3, NULL, &got_len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            got_len == sizeof want)
            ok |= sodium_memcmp(got, want, sizeof want) == 0;
        p += n;
    }
    return ok;
}
