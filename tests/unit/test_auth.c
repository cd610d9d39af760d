/* test_auth.c — access tokens (and forgeries of them), passwords, refresh tokens. */
#include "unit.h"

#include <jwt.h>
#include <stdlib.h>

#include "auth.h"

#define NOW 1800000000L
#define ISSUER "reelvox"
#define UID "11111111-2222-3333-4444-555555555555"
#define SID "66666666-7777-8888-9999-000000000000"

static const unsigned char KEY[] = "k3y-for-unit-tests/0123456789abcdefghijKLMNOP";
static const unsigned char WRONG_KEY[] = "another-key-of-the-same-length/0123456789abcd";
#define KEY_LEN (sizeof KEY - 1)

static int group_setup(void **state)
{
    (void)state;
    return auth_init(KEY, KEY_LEN, ISSUER, 900) ? 0 : -1;
}

/* --- building tokens ------------------------------------------------------------ */

/* One change to the good claims: delete one, set it to raw JSON, or to NOW + n. */
enum edit_op { DEL, RAW, REL };

struct edit {
    const char *claim;
    enum edit_op op;
    const char *raw;
    long rel;
};

/* The payload of a good access token with edits e[0..n) applied, as JSON text. */
static const char *payload(arena *a, const struct edit *e, size_t n)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "iss", json_object_new_string(ISSUER));
    json_object_object_add(o, "sub", json_object_new_string(UID));
    json_object_object_add(o, "role", json_object_new_string("user"));
    json_object_object_add(o, "sid", json_object_new_string(SID));
    json_object_object_add(o, "typ", json_object_new_string("access"));
    json_object_object_add(o, "iat", json_object_new_int64(NOW));
    json_object_object_add(o, "nbf", json_object_new_int64(NOW));
    json_object_object_add(o, "exp", json_object_new_int64(NOW + 900));
    for (size_t i = 0; i < n; i++) {
        if (e[i].op == DEL)
            json_object_object_del(o, e[i].claim);
        else if (e[i].op == RAW)
            json_object_object_add(o, e[i].claim, json_tokener_parse(e[i].raw));
        else if (e[i].op == REL)
            json_object_object_add(o, e[i].claim, json_object_new_int64(NOW + e[i].rel));
    }
    const char *s = arena_strdup(a, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* A token signed by libjwt with alg and key. */
static const char *jwt_sign(arena *a, jwt_alg_t alg, const unsigned char *key, size_t key_len,
                            const char *claims)
{
    jwt_t *jwt = NULL;
    char *s = NULL;
    if (jwt_new(&jwt) == 0 && jwt_set_alg(jwt, alg, key, (int)key_len) == 0 &&
        jwt_add_grants_json(jwt, claims) == 0)
        s = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(s);
    const char *out = arena_strdup(a, s);
    free(s);
    return out;
}

static const char *b64url(arena *a, const void *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = arena_alloc(a, cap);
    return sodium_bin2base64(s, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload.signature made by hand: the signature is HMAC-SHA256 under key
 * (any length, empty included), or empty when key is NULL. */
static const char *hand_token(arena *a, const char *header, const char *claims,
                              const unsigned char *key, size_t key_len)
{
    const char *signing = arena_printf(a, "%s.%s", b64url(a, header, strlen(header)),
                                       b64url(a, claims, strlen(claims)));
    if (!key)
        return arena_printf(a, "%s.", signing);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    return arena_printf(a, "%s.%s", signing, b64url(a, mac, sizeof mac));
}

static const char *issue(arena *a, const char *role, time_t now)
{
    long expires_in = 0;
    char *t = auth_issue_access(UID, role, SID, now, &expires_in);
    assert_non_null(t);
    assert_int_equal(expires_in, 900);
    const char *out = arena_strdup(a, t);
    free(t);
    return out;
}

static rv_err verify_at(const char *token, time_t now)
{
    auth_claims c;
    return auth_verify_access(token, now, &c);
}

static void expect(const char *what, const char *token, rv_err want)
{
    rv_err got = verify_at(token, NOW);
    if (got != want)
        fail_msg("%s: got %s, want %s (%.200s)", what, err_info(got)->code, err_info(want)->code,
                 token ? token : "NULL");
}

/* --- access tokens -------------------------------------------------------------- */

static void test_init_refuses_short_keys(void **state)
{
    (void)state;
    assert_false(auth_init(NULL, 40, ISSUER, 900));
    assert_false(auth_init(KEY, 0, ISSUER, 900));
    assert_false(auth_init(KEY, 31, ISSUER, 900));
    assert_true(auth_init(KEY, 32, ISSUER, 900));
    assert_true(auth_init(KEY, KEY_LEN, ISSUER, 900));
}

static void test_issue_and_verify(void **state)
{
    arena *a = *state;
    const char *t = issue(a, "admin", NOW);
    auth_claims c;
    assert_int_equal(auth_verify_access(t, NOW, &c), RV_OK);
    assert_string_equal(c.user_id, UID);
    assert_string_equal(c.role, "admin");
    assert_string_equal(c.session_id, SID);
    assert_int_equal(c.exp, NOW + 900);

    /* Valid for its lifetime, expired from exp on; from the future only by the leeway. */
    assert_int_equal(verify_at(t, NOW + 899), RV_OK);
    assert_int_equal(verify_at(t, NOW + 900), RV_E_TOKEN_EXPIRED);
    assert_int_equal(verify_at(t, NOW + 86400), RV_E_TOKEN_EXPIRED);
    assert_int_equal(verify_at(t, NOW - AUTH_LEEWAY), RV_OK);
    assert_int_equal(verify_at(t, NOW - AUTH_LEEWAY - 1), RV_E_UNAUTHORIZED);

    /* The hand-built good token is what auth_issue_access would make. */
    expect("hand-built",
           hand_token(a, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload(a, NULL, 0), KEY, KEY_LEN),
           RV_OK);
    expect("libjwt-built", jwt_sign(a, JWT_ALG_HS256, KEY, KEY_LEN, payload(a, NULL, 0)), RV_OK);
}

static void test_claims(void **state)
{
    arena *a = *state;
    static const struct {
        struct edit e;
        rv_err want;
    } cases[] = {
        {{"exp", REL, NULL, -1}, RV_E_TOKEN_EXPIRED},
        {{"exp", REL, NULL, 0}, RV_E_TOKEN_EXPIRED},
        {{"exp", REL, NULL, 1}, RV_OK},
        {{"nbf", REL, NULL, AUTH_LEEWAY}, RV_OK},
        {{"nbf", REL, NULL, AUTH_LEEWAY + 1}, RV_E_UNAUTHORIZED},
        {{"iat", REL, NULL, AUTH_LEEWAY}, RV_OK},
        {{"iat", REL, NULL, AUTH_LEEWAY + 1}, RV_E_UNAUTHORIZED},
        {{"iat", REL, NULL, 100000}, RV_E_UNAUTHORIZED},
        {{"exp", DEL}, RV_E_UNAUTHORIZED},
        {{"nbf", DEL}, RV_E_UNAUTHORIZED},
        {{"iat", DEL}, RV_E_UNAUTHORIZED},
        {{"sub", DEL}, RV_E_UNAUTHORIZED},
        {{"sid", DEL}, RV_E_UNAUTHORIZED},
        {{"role", DEL}, RV_E_UNAUTHORIZED},
        {{"iss", DEL}, RV_E_UNAUTHORIZED},
        {{"typ", DEL}, RV_E_UNAUTHORIZED},
        {{"typ", RAW, "\"refresh\""}, RV_E_UNAUTHORIZED},
        {{"typ", RAW, "\"Access\""}, RV_E_UNAUTHORIZED},
        {{"iss", RAW, "\"evil\""}, RV_E_UNAUTHORIZED},
        {{"iss", RAW, "\"reelvox2\""}, RV_E_UNAUTHORIZED},
        {{"iss", RAW, "\"\""}, RV_E_UNAUTHORIZED},
        {{"sub", RAW, "\"\""}, RV_E_UNAUTHORIZED},
        {{"sub", RAW, "5"}, RV_E_UNAUTHORIZED},
        {{"sub", RAW, "null"}, RV_E_UNAUTHORIZED},
        {{"sub", RAW, "\"11111111-2222-3333-4444-5555555555550\""}, RV_E_UNAUTHORIZED},
        {{"role", RAW, "\"abcdefghijklmno\""}, RV_OK},
        {{"role", RAW, "\"abcdefghijklmnop\""}, RV_E_UNAUTHORIZED},
        {{"exp", RAW, "\"1800000900\""}, RV_E_UNAUTHORIZED},
        {{"exp", RAW, "1800000900.5"}, RV_E_UNAUTHORIZED},
        {{"exp", RAW, "true"}, RV_E_UNAUTHORIZED},
        {{"nbf", RAW, "null"}, RV_E_UNAUTHORIZED},
        {{"nbf", RAW, "\"9999999999\""}, RV_E_UNAUTHORIZED},
        {{"nbf", RAW, "[1]"}, RV_E_UNAUTHORIZED},
        {{"iat", RAW, "null"}, RV_E_UNAUTHORIZED},
        {{"iat", RAW, "1800000000.0"}, RV_E_UNAUTHORIZED},
        {{"iat", RAW, "false"}, RV_E_UNAUTHORIZED},
        {{"exp", RAW, "-1"}, RV_E_TOKEN_EXPIRED},
        {{"aud", RAW, "\"other\""}, RV_OK}, /* extra claims are ignored */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *what = arena_printf(a, "claim %s (case %zu)", cases[i].e.claim, i);
        expect(what, jwt_sign(a, JWT_ALG_HS256, KEY, KEY_LEN, payload(a, &cases[i].e, 1)),
               cases[i].want);
    }
    /* Expired and otherwise wrong is wrong, not expired. */
    static const struct edit old_refresh[] = {{"exp", REL, NULL, -10}, {"typ", RAW, "\"refresh\""}};
    expect("expired refresh", jwt_sign(a, JWT_ALG_HS256, KEY, KEY_LEN, payload(a, old_refresh, 2)),
           RV_E_UNAUTHORIZED);
}

static void test_alg_none(void **state)
{
    arena *a = *state;
    const char *claims = payload(a, NULL, 0);
    static const char *const headers[] = {"{\"alg\":\"none\"}",
                                          "{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                          "{\"alg\":\"None\"}",
                                          "{\"alg\":\"NONE\"}",
                                          "{}",
                                          "{\"alg\":\"\"}",
                                          "{\"alg\":null}"};
    for (size_t i = 0; i < N_ELEMS(headers); i++) {
        expect(headers[i], hand_token(a, headers[i], claims, NULL, 0), RV_E_UNAUTHORIZED);
        const char *t = hand_token(a, headers[i], claims, NULL, 0);
        expect("no final dot", arena_strndup(a, t, strlen(t) - 1), RV_E_UNAUTHORIZED);
        expect("signed anyway", hand_token(a, headers[i], claims, KEY, KEY_LEN), RV_E_UNAUTHORIZED);
    }
}

static void test_other_algorithms(void **state)
{
    arena *a = *state;
    const char *claims = payload(a, NULL, 0);
    expect("HS512", jwt_sign(a, JWT_ALG_HS512, KEY, KEY_LEN, claims), RV_E_UNAUTHORIZED);
    expect("HS384", jwt_sign(a, JWT_ALG_HS384, KEY, KEY_LEN, claims), RV_E_UNAUTHORIZED);
    /* An asymmetric alg over an HMAC made with our key (the key confusion attack). */
    static const char *const headers[] = {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                                          "{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
                                          "{\"alg\":\"hs256\",\"typ\":\"JWT\"}"};
    for (size_t i = 0; i < N_ELEMS(headers); i++)
        expect(headers[i], hand_token(a, headers[i], claims, KEY, KEY_LEN), RV_E_UNAUTHORIZED);
}

static void test_wrong_keys(void **state)
{
    arena *a = *state;
    const char *claims = payload(a, NULL, 0);
    static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    expect("wrong key", jwt_sign(a, JWT_ALG_HS256, WRONG_KEY, KEY_LEN, claims), RV_E_UNAUTHORIZED);
    expect("key prefix", jwt_sign(a, JWT_ALG_HS256, KEY, 32, claims), RV_E_UNAUTHORIZED);
    expect("one-byte key", jwt_sign(a, JWT_ALG_HS256, KEY, 1, claims), RV_E_UNAUTHORIZED);
    expect("empty key", hand_token(a, hs256, claims, (const unsigned char *)"", 0),
           RV_E_UNAUTHORIZED);
}

/* Changing any one character of a good token breaks it. */
static void test_tampered(void **state)
{
    arena *a = *state;
    const char *good = issue(a, "user", NOW);
    size_t n = strlen(good);
    for (size_t i = 0; i < n; i++) {
        if (good[i] == '.')
            continue;
        char *t = arena_strdup(a, good);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        expect(arena_printf(a, "flipped at %zu", i), t, RV_E_UNAUTHORIZED);
    }
    /* A payload of another token (an admin's, with our header and signature). */
    const char *admin = issue(a, "admin", NOW);
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    const char *adot1 = strchr(admin, '.'), *adot2 = strrchr(admin, '.');
    expect(
        "spliced",
        arena_printf(a, "%.*s%.*s%s", (int)(dot1 - good), good, (int)(adot2 - adot1), adot1, dot2),
        RV_E_UNAUTHORIZED);
}

static void test_truncated_and_extended(void **state)
{
    arena *a = *state;
    const char *good = issue(a, "user", NOW);
    for (size_t len = 0; len < strlen(good); len++)
        expect(arena_printf(a, "first %zu characters", len), arena_strndup(a, good, len),
               RV_E_UNAUTHORIZED);
    expect("extra character", arena_printf(a, "%sA", good), RV_E_UNAUTHORIZED);
    expect("extra part", arena_printf(a, "%s.", good), RV_E_UNAUTHORIZED);
    expect("extra part 2", arena_printf(a, "%s.AAAA", good), RV_E_UNAUTHORIZED);
    expect("leading space", arena_printf(a, " %s", good), RV_E_UNAUTHORIZED);
}

static void test_garbage(void **state)
{
    arena *a = *state;
    char *junk = arena_alloc(a, 10 * 1024 + 1);
    memset(junk, 'a', 10 * 1024);
    expect("10 KB of a", junk, RV_E_UNAUTHORIZED);
    for (size_t i = 0; i < 10 * 1024; i++)
        junk[i] = (char)(1 + randombytes_uniform(255));
    expect("10 KB of random bytes", junk, RV_E_UNAUTHORIZED);
    /* Dots and base64 of the right shape, still nothing. */
    for (size_t i = 0; i < 10 * 1024; i++)
        junk[i] = i % 700 == 699 ? '.' : "AbC-_9"[i % 6];
    expect("10 KB of base64url", junk, RV_E_UNAUTHORIZED);
    static const char *const bits[] = {
        "", ".", "..", "...", "a.b.c", "a.b", "e30.e30.", "e30.e30.e30", "\xFF\xFE.\x01.\x02"};
    for (size_t i = 0; i < N_ELEMS(bits); i++)
        expect(bits[i], bits[i], RV_E_UNAUTHORIZED);
    expect("NULL", NULL, RV_E_UNAUTHORIZED);
}

/* --- passwords ------------------------------------------------------------------ */

static void test_password(void **state)
{
    (void)state;
    char hash[AUTH_PWHASH_LEN];
    assert_true(auth_password_hash("correct horse battery", hash));
    assert_non_null(strstr(hash, "$argon2id$"));
    assert_true(auth_password_check(hash, "correct horse battery"));
    assert_false(auth_password_check(hash, "correct horse batterY"));
    assert_false(auth_password_check(hash, ""));
    assert_false(auth_password_check(NULL, "correct horse battery")); /* dummy path */
    assert_false(auth_password_check(NULL, ""));
    assert_false(auth_password_needs_rehash(hash));

    /* Same password, new salt. */
    char again[AUTH_PWHASH_LEN];
    assert_true(auth_password_hash("correct horse battery", again));
    assert_string_not_equal(hash, again);
}

static void test_password_rehash(void **state)
{
    (void)state;
    char weak[AUTH_PWHASH_LEN];
    assert_int_equal(
        crypto_pwhash_str_alg(weak, "pw1234567890", 12, 1, 8u << 20, crypto_pwhash_ALG_ARGON2ID13),
        0);
    assert_true(auth_password_needs_rehash(weak));
    assert_true(auth_password_check(weak, "pw1234567890")); /* still checks */
    assert_true(auth_password_needs_rehash("not a hash"));
    assert_false(auth_password_check("not a hash", "not a hash"));
    assert_false(auth_password_check("", ""));
}

/* --- refresh tokens ------------------------------------------------------------- */

static bool all_of(const char *s, const char *alphabet)
{
    return s[strspn(s, alphabet)] == '\0';
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void test_refresh_new(void **state)
{
    (void)state;
    char t1[AUTH_REFRESH_TOKEN_LEN + 1], h1[2 * AUTH_HASH_LEN + 1];
    char t2[AUTH_REFRESH_TOKEN_LEN + 1], h2[2 * AUTH_HASH_LEN + 1], again[2 * AUTH_HASH_LEN + 1];
    auth_refresh_new(t1, h1);
    auth_refresh_new(t2, h2);
    assert_int_equal(strlen(t1), 43);
    assert_true(all_of(t1, B64URL));
    assert_int_equal(strlen(h1), 64);
    assert_true(all_of(h1, "0123456789abcdef"));
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(h1, h2);
    assert_true(auth_refresh_hash(t1, again));
    assert_string_equal(again, h1);
    assert_true(auth_refresh_hash(t2, again));
    assert_string_equal(again, h2);
}

static void test_refresh_malformed(void **state)
{
    arena *a = *state;
    char t[AUTH_REFRESH_TOKEN_LEN + 1], h[2 * AUTH_HASH_LEN + 1];
    auth_refresh_new(t, h);
    const char *bad[] = {
        "",
        arena_strndup(a, t, 42),                   /* short */
        arena_printf(a, "%sA", t),                 /* long */
        arena_printf(a, "%.42s=", t),              /* padding */
        arena_printf(a, "%s=", t),                 /* padded, long */
        arena_printf(a, "%.20s+%.22s", t, t + 21), /* standard alphabet */
        arena_printf(a, "%.20s/%.22s", t, t + 21),
        arena_printf(a, "%.20s %.22s", t, t + 21),
        arena_printf(a, "%.20s.%.22s", t, t + 21),
        arena_printf(a, "%.42s\xC3", t),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* non-zero trailing bits */
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        memset(h, 'x', sizeof h);
        if (auth_refresh_hash(bad[i], h))
            fail_msg("malformed refresh token #%zu accepted: %s", i, bad[i]);
    }
    assert_false(auth_refresh_hash(NULL, h));
    assert_true(auth_refresh_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE", h));
}
/* The MAC check is libsodium's: HMAC-SHA256 of the first two segments compared in
 * constant time; it agrees with libjwt on good tokens and has one spelling per MAC. */
static void test_hs256_mac(void **state)
{
    arena *a = *state;
    const char *good = issue(a, "user", NOW);
    assert_true(auth_hs256_ok(KEY, KEY_LEN, good));
    assert_false(auth_hs256_ok(WRONG_KEY, sizeof WRONG_KEY - 1, good));
    assert_false(auth_hs256_ok(KEY, KEY_LEN - 1, good));
    assert_false(auth_hs256_ok(NULL, 0, good));
    assert_false(auth_hs256_ok(KEY, KEY_LEN, NULL));
    /* A token libjwt signed itself. */
    assert_true(
        auth_hs256_ok(KEY, KEY_LEN, jwt_sign(a, JWT_ALG_HS256, KEY, KEY_LEN, payload(a, NULL, 0))));

    size_t n = strlen(good);
    const char *sig = strrchr(good, '.') + 1;
    assert_int_equal(strlen(sig), 43);
    /* The last character carries 4 bits of the MAC and 2 zero bits: setting one of
     * those gives the same bytes under a lax decoder; it must not pass. */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *lax = arena_strdup(a, good);
    lax[n - 1] = b64[(strchr(b64, good[n - 1]) - b64) ^ 1];
    const char *bad[] = {
        lax,
        arena_printf(a, "%s=", good),                     /* padded */
        arena_strndup(a, good, n - 1),                    /* short */
        arena_printf(a, "%sA", good),                     /* long */
        arena_strndup(a, good, (size_t)(sig - good)),     /* no signature */
        arena_strndup(a, good, (size_t)(sig - good - 1)), /* two segments */
        arena_printf(a, "%s.%s", good, sig),              /* four segments */
        arena_printf(a, "x%s", good),                     /* header changed */
        "",
        "..",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        if (auth_hs256_ok(KEY, KEY_LEN, bad[i]))
            fail_msg("bad MAC #%zu accepted: %s", i, bad[i]);
    expect("lax trailing bits", lax, RV_E_UNAUTHORIZED);
}

/* A refresh token's successor is a keyed function of it: the same token always
 * rotates to the same successor, other tokens and other keys to others. */
static void test_refresh_successor(void **state)
{
    (void)state;
    char t[AUTH_REFRESH_TOKEN_LEN + 1], h[2 * AUTH_HASH_LEN + 1];
    char s1[AUTH_REFRESH_TOKEN_LEN + 1], h1[2 * AUTH_HASH_LEN + 1];
    char s2[AUTH_REFRESH_TOKEN_LEN + 1], h2[2 * AUTH_HASH_LEN + 1], again[2 * AUTH_HASH_LEN + 1];
    auth_refresh_new(t, h);
    auth_refresh_successor(t, s1, h1);
    auth_refresh_successor(t, s2, h2);
    assert_string_equal(s1, s2);
    assert_string_equal(h1, h2);
    assert_string_not_equal(s1, t);
    assert_int_equal(strlen(s1), 43);
    assert_true(all_of(s1, B64URL));
    assert_true(auth_refresh_hash(s1, again)); /* a valid refresh token in turn */
    assert_string_equal(again, h1);
    auth_refresh_successor(s1, s2, h2); /* and the next one differs again */
    assert_string_not_equal(s1, s2);

    char u[AUTH_REFRESH_TOKEN_LEN + 1];
    auth_refresh_new(u, h);
    auth_refresh_successor(u, s2, h2);
    assert_string_not_equal(s1, s2);

    assert_true(auth_init(WRONG_KEY, sizeof WRONG_KEY - 1, ISSUER, 900));
    auth_refresh_successor(t, s2, h2);
    assert_true(auth_init(KEY, KEY_LEN, ISSUER, 900));
    assert_string_not_equal(s1, s2);
}

/* The per-process cache of verified tokens answers only for the exact token. */
static void test_cache(void **state)
{
    arena *a = *state;
    const char *t = issue(a, "user", NOW);
    auth_claims c;
    assert_int_equal(auth_verify_access(t, NOW, &c), RV_OK); /* now cached */
    assert_int_equal(auth_verify_access(t, NOW, &c), RV_OK);
    assert_string_equal(c.user_id, UID);
    size_t n = strlen(t);
    char *other = arena_strdup(a, t);
    other[n - 1] = other[n - 1] == 'A' ? 'B' : 'A'; /* same slot, different token */
    assert_int_equal(verify_at(other, NOW), RV_E_UNAUTHORIZED);
    assert_int_equal(verify_at(arena_strndup(a, t, n - 1), NOW), RV_E_UNAUTHORIZED);
    assert_int_equal(verify_at(t, NOW + 900), RV_E_TOKEN_EXPIRED); /* exp checked on a hit */
    assert_int_equal(verify_at(t, NOW - AUTH_LEEWAY - 1), RV_E_UNAUTHORIZED);
    assert_int_equal(verify_at("", NOW), RV_E_UNAUTHORIZED);
    auth_cache_clear();
    assert_int_equal(verify_at(t, NOW), RV_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_arena_setup, unit_arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_init_refuses_short_keys),
        T(test_issue_and_verify),
        T(test_claims),
        T(test_alg_none),
        T(test_other_algorithms),
        T(test_wrong_keys),
        T(test_tampered),
        T(test_truncated_and_extended),
        T(test_garbage),
        T(test_cache),
        T(test_password),
        T(test_password_rehash),
        T(test_refresh_new),
        T(test_refresh_malformed),
        T(test_hs256_mac),
        T(test_refresh_successor),
    };
    return cmocka_run_group_tests_name("auth", tests, group_setup, NULL);
}
