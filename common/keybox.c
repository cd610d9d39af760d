#include "keybox.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

enum { ID_MAX = 32, SECRET_MAX = 2048 };

static struct {
    char id[ID_MAX + 1];
    unsigned char key[crypto_secretbox_KEYBYTES];
} keys[KEYBOX_MAX_KEYS];
static int n_keys;

static bool id_ok(const char *s, size_t n)
{
    return n >= 1 && n <= ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") >= n;
}

bool keybox_load(const char *spec, char *why, size_t why_len)
{
    sodium_memzero(keys, sizeof keys);
    n_keys = 0;
    if (!spec || !*spec)
        return true;
    if (sodium_init() < 0) {
        snprintf(why, why_len, "libsodium did not initialise");
        return false;
    }
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ","), colon = strcspn(p, ":");
        size_t b64 = colon < n ? n - colon - 1 : 0, got = 0;
        if (n_keys == KEYBOX_MAX_KEYS || colon >= n || !id_ok(p, colon) ||
            sodium_base642bin(keys[n_keys].key, sizeof keys[n_keys].key, p + colon + 1, b64, NULL,
                              &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            got != crypto_secretbox_KEYBYTES) {
            sodium_memzero(keys, sizeof keys);
            n_keys = 0;
            snprintf(why, why_len,
                     "RV_KEY_ENCRYPTION_KEYS must be id:base64 entries separated by commas "
                     "(at most %d), each key 32 bytes (`openssl rand -base64 32`)",
                     KEYBOX_MAX_KEYS);
            return false;
        }
        for (int i = 0; i < n_keys; i++)
            if (strlen(keys[i].id) == colon && !strncmp(keys[i].id, p, colon)) {
                sodium_memzero(keys, sizeof keys);
                n_keys = 0;
                snprintf(why, why_len, "RV_KEY_ENCRYPTION_KEYS names a key id twice");
                return false;
            }
        memcpy(keys[n_keys].id, p, colon);
        keys[n_keys++].id[colon] = '\0';
        p += n + (p[n] == ',');
    }
    return true;
}

bool keybox_ready(void)
{
    return n_keys > 0;
}

static char *bytea_hex(arena *a, const unsigned char *b, size_t n)
{
    char *out = arena_alloc(a, 2 * n + 3);
    memcpy(out, "\\x", 2);
    sodium_bin2hex(out + 2, 2 * n + 1, b, n);
    return out;
}

bool keybox_seal(arena *a, const char *bound, const char *secret, const char **key_id,
                 const char **nonce, const char **ciphertext)
{
    if (!n_keys || !bound || !secret || strlen(secret) > SECRET_MAX)
        return false;
    char *plain = arena_printf(a, "%s\n%s", bound, secret);
    size_t n = strlen(plain);
    unsigned char nb[crypto_secretbox_NONCEBYTES];
    unsigned char *ct = arena_alloc(a, n + crypto_secretbox_MACBYTES);
    randombytes_buf(nb, sizeof nb);
    crypto_secretbox_easy(ct, (const unsigned char *)plain, n, nb, keys[0].key);
    sodium_memzero(plain, n);
    *key_id = arena_strdup(a, keys[0].id);
    *nonce = bytea_hex(a, nb, sizeof nb);
    *ciphertext = bytea_hex(a, ct, n + crypto_secretbox_MACBYTES);
    return true;
}

static const char *skip_x(const char *s)
{
    return s && !strncmp(s, "\\x", 2) ? s + 2 : s;
}

const char *keybox_open(arena *a, const char *bound, const char *key_id, const char *nonce,
                        const char *ciphertext)
{
    nonce = skip_x(nonce);
    ciphertext = skip_x(ciphertext);
    if (!bound || !key_id || !nonce || !ciphertext)
        return NULL;
    int k = -1;
    for (int i = 0; i < n_keys && k < 0; i++)
        if (!strcmp(keys[i].id, key_id))
            k = i;
    size_t ct_hex = strlen(ciphertext), nb_len = 0, ct_len = 0;
    if (k < 0 || ct_hex > 2 * (SECRET_MAX + 512))
        return NULL;
    unsigned char nb[crypto_secretbox_NONCEBYTES];
    unsigned char *ct = arena_alloc(a, ct_hex / 2 + 1);
    if (sodium_hex2bin(nb, sizeof nb, nonce, strlen(nonce), NULL, &nb_len, NULL) != 0 ||
        nb_len != sizeof nb ||
        sodium_hex2bin(ct, ct_hex / 2 + 1, ciphertext, ct_hex, NULL, &ct_len, NULL) != 0 ||
        ct_len <= crypto_secretbox_MACBYTES)
        return NULL;
    char *plain = arena_alloc(a, ct_len - crypto_secretbox_MACBYTES + 1);
    if (crypto_secretbox_open_easy((unsigned char *)plain, ct, ct_len, nb, keys[k].key) != 0)
        return NULL;
    size_t bl = strlen(bound);
    if (strncmp(plain, bound, bl) || plain[bl] != '\n')
        return NULL;
    return plain + bl + 1;
}
