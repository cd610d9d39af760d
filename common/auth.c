#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

/* OWASP's Argon2id floor is 19 MiB and 2 passes; we use exactly that as the floor. */
static const unsigned long long PW_OPS = 2;
static const size_t PW_MEM = 19u * 1024u * 1024u;

static const unsigned char *jwt_key;
static size_t jwt_key_len;
static const char *jwt_iss = "reelvox";
static long access_ttl = 900;
/* The key refresh-token successors are derived with (from the JWT key). */
static unsigned char successor_key[crypto_auth_hmacsha256_BYTES];
/* A real hash of a random password, checked against when the email is unknown. */
static char dummy_hash[AUTH_PWHASH_LEN];

bool auth_init(const unsigned char *key, size_t key_len, const char *issuer, long ttl)
{
    if (sodium_init() < 0 || !key || key_len < 32)
        return false;
    jwt_key = key;
    jwt_key_len = key_len;
    static const char label[] = "reelvox refresh successor v1";
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, successor_key);
    auth_cache_clear();
    jwt_iss = issuer;
    access_ttl = ttl;
    return true;
}

static void ensure_dummy(void)
{
    if (dummy_hash[0])
        return;
    unsigned char pw[16];
    char b64[32];
    randombytes_buf(pw, sizeof pw);
    sodium_bin2base64(b64, sizeof b64, pw, sizeof pw, sodium_base64_VARIANT_ORIGINAL);
    if (!auth_password_hash(b64, dummy_hash))
        abort();
}

char *auth_issue_access(const char *user_id, const char *role, const char *session_id, time_t now,
                        long *expires_in)
{
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (!jwt_key || jwt_new(&jwt))
        return NULL;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, jwt_key, (int)jwt_key_len) ||
        jwt_add_grant(jwt, "iss", jwt_iss) || jwt_add_grant(jwt, "sub", user_id) ||
        jwt_add_grant(jwt, "role", role) || jwt_add_grant(jwt, "sid", session_id) ||
        jwt_add_grant(jwt, "typ", "access") || jwt_add_grant_int(jwt, "iat", (long)now) ||
        jwt_add_grant_int(jwt, "nbf", (long)now) ||
        jwt_add_grant_int(jwt, "exp", (long)now + access_ttl))
        goto fail;
    out = jwt_encode_str(jwt);
    *expires_in = access_ttl;
fail:
    jwt_free(jwt);
    return out;
}

static bool copy_claim(jwt_t *jwt, const char *name, char *dst, size_t cap)
{
    const char *v = jwt_get_grant(jwt, name);
    if (!v || strlen(v) >= cap || !*v)
        return false;
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

/* libjwt 1.10's jwt_get_grant_int() answers 0 without setting errno when the claim
 * is a string, real, bool or null, which would let "nbf":"later" or "iat":null pass
 * the time checks; so the claim's JSON text is parsed here, integers only. */
static bool int_claim(jwt_t *jwt, const char *name, long *out)
{
    char *js = jwt_get_grants_json(jwt, name), *end;
    bool ok = false;
    if (js && (isdigit((unsigned char)js[0]) || (js[0] == '-' && isdigit((unsigned char)js[1])))) {
        errno = 0;
        long v = strtol(js, &end, 10);
        if (!errno && *end == '\0') {
            *out = v;
            ok = true;
        }
    }
    free(js);
    return ok;
}

/* Tokens this worker has verified, so a client's repeated requests (a token lives
 * 15 minutes) skip libjwt's decode, JSON parse and HMAC: three quarters of an
 * /api/me request's instructions. Only successfully verified tokens enter; a hit
 * needs the whole token to be equal (compared in constant time, so a probe learns
 * nothing of another user's token); exp is still checked on every use. */
enum { CACHE_SLOTS = 64, CACHE_TOKEN_MAX = 1024 };
static struct {
    size_t len;
    char token[CACHE_TOKEN_MAX];
    auth_claims claims;
    long not_before; /* the later of nbf and iat */
} cache[CACHE_SLOTS];

static size_t cache_slot(const char *token, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the signature: spreads well */
    for (size_t i = len > 43 ? len - 43 : 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 1099511628211ull;
    return (size_t)(h % CACHE_SLOTS);
}

static bool cache_get(const char *token, size_t len, auth_claims *out, long *not_before)
{
    size_t i = cache_slot(token, len);
    if (len == 0 || cache[i].len != len || sodium_memcmp(cache[i].token, token, len) != 0)
        return false;
    *out = cache[i].claims;
    *not_before = cache[i].not_before;
    return true;
}

static void cache_put(const char *token, size_t len, const auth_claims *c, long not_before)
{
    if (len >= CACHE_TOKEN_MAX)
        return;
    size_t i = cache_slot(token, len);
    memcpy(cache[i].token, token, len);
    cache[i].len = len;
    cache[i].claims = *c;
    cache[i].not_before = not_before;
}

void auth_cache_clear(void)
{
    sodium_memzero(cache, sizeof cache);
}

static rv_err verify_uncached(const char *token, time_t now, auth_claims *out, long *not_before);

rv_err auth_verify_access(const char *token, time_t now, auth_claims *out)
{
    if (!jwt_key || jwt_key_len < 32 || !token)
        return RV_E_UNAUTHORIZED;
    size_t len = strlen(token);
    if (len > 4096)
        return RV_E_UNAUTHORIZED;
    long not_before = 0;
    if (cache_get(token, len, out, &not_before)) {
        if (not_before > (long)now + AUTH_LEEWAY)
            return RV_E_UNAUTHORIZED;
        return out->exp <= (long)now ? RV_E_TOKEN_EXPIRED : RV_OK;
    }
    rv_err er = verify_uncached(token, now, out, &not_before);
    if (er == RV_OK)
        cache_put(token, len, out, not_before);
    return er;
}

bool auth_hs256_ok(const unsigned char *key, size_t key_len, const char *token)
{
    enum { SIG_B64_LEN = 43 }; /* 32 bytes, base64url without padding */
    if (!key || !token)
        return false;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.') || strlen(dot2 + 1) != SIG_B64_LEN)
        return false;
    unsigned char got[crypto_auth_hmacsha256_BYTES], want[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    /* libsodium refuses non-zero leftover bits: one MAC has one spelling. */
    if (sodium_base642bin(got, sizeof got, dot2 + 1, SIG_B64_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != sizeof got)
        return false;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, (size_t)(dot2 - token));
    crypto_auth_hmacsha256_final(&st, want);
    bool ok = crypto_verify_32(got, want) == 0;
    sodium_memzero(want, sizeof want);
    return ok;
}

static rv_err verify_uncached(const char *token, time_t now, auth_claims *out, long *not_before)
{
    jwt_t *jwt = NULL;
    rv_err er = RV_E_UNAUTHORIZED;
    long exp, nbf, iat;
    const char *alg, *iss, *typ;

    /* The MAC is ours to check (constant time, libsodium); libjwt only parses, and
     * checks it once more. Never hand libjwt an empty key: it would accept an
     * unsigned token (the key is checked by the caller). */
    if (!auth_hs256_ok(jwt_key, jwt_key_len, token))
        goto done;
    if (jwt_decode(&jwt, token, jwt_key, (int)jwt_key_len) != 0 || !jwt)
        goto done;
    /* libjwt matches alg names ignoring case; RFC 7515 does not ("hs256" is no alg). */
    alg = jwt_get_header(jwt, "alg");
    if (jwt_get_alg(jwt) != JWT_ALG_HS256 || !alg || strcmp(alg, "HS256"))
        goto done;
    iss = jwt_get_grant(jwt, "iss");
    typ = jwt_get_grant(jwt, "typ");
    if (!iss || strcmp(iss, jwt_iss) || !typ || strcmp(typ, "access"))
        goto done;
    if (!int_claim(jwt, "exp", &exp) || !int_claim(jwt, "nbf", &nbf) ||
        !int_claim(jwt, "iat", &iat))
        goto done;
    if (nbf > (long)now + AUTH_LEEWAY || iat > (long)now + AUTH_LEEWAY)
        goto done;
    if (!copy_claim(jwt, "sub", out->user_id, sizeof out->user_id) ||
        !copy_claim(jwt, "role", out->role, sizeof out->role) ||
        !copy_claim(jwt, "sid", out->session_id, sizeof out->session_id))
        goto done;
    out->exp = exp;
    *not_before = nbf > iat ? nbf : iat;
    er = exp <= (long)now ? RV_E_TOKEN_EXPIRED : RV_OK;
done:
    jwt_free(jwt);
    return er;
}

bool auth_password_hash(const char *password, char out[AUTH_PWHASH_LEN])
{
    return crypto_pwhash_str_alg(out, password, strlen(password), PW_OPS, PW_MEM,
                                 crypto_pwhash_ALG_ARGON2ID13) == 0;
}

bool auth_password_check(const char *hash, const char *password)
{
    if (!hash) {
        ensure_dummy();
        /* Same work as a real check; the answer is no whatever it says. */
        volatile int r = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
        (void)r;
        return false;
    }
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

bool auth_password_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, PW_OPS, PW_MEM) != 0;
}

static void hash_hex(const unsigned char *raw, size_t n, char hex[2 * AUTH_HASH_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, raw, n);
    sodium_bin2hex(hex, 2 * AUTH_HASH_LEN + 1, h, sizeof h);
}

void auth_refresh_new(char token[AUTH_REFRESH_TOKEN_LEN + 1], char hex[2 * AUTH_HASH_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, AUTH_REFRESH_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_hex((const unsigned char *)token, AUTH_REFRESH_TOKEN_LEN, hex);
}

void auth_refresh_successor(const char *presented, char token[AUTH_REFRESH_TOKEN_LEN + 1],
                            char hex[2 * AUTH_HASH_LEN + 1])
{
    unsigned char raw[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, successor_key, sizeof successor_key);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)presented, strlen(presented));
    crypto_auth_hmacsha256_final(&st, raw);
    sodium_bin2base64(token, AUTH_REFRESH_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_hex((const unsigned char *)token, AUTH_REFRESH_TOKEN_LEN, hex);
}

bool auth_refresh_hash(const char *token, char hex[2 * AUTH_HASH_LEN + 1])
{
    unsigned char raw[32];
    size_t n = 0;
    if (!token || strlen(token) != AUTH_REFRESH_TOKEN_LEN ||
        sodium_base642bin(raw, sizeof raw, token, AUTH_REFRESH_TOKEN_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != sizeof raw)
        return false;
    hash_hex((const unsigned char *)token, AUTH_REFRESH_TOKEN_LEN, hex);
    return true;
}
