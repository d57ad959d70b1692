/* cr_cookie.c — rotating-secret HMAC-SHA256 cookies (RFC 6347 §4.2.1:
 * "Cookie = HMAC(Secret, Client-IP, Client-Parameters)").
 *
 * Owns: the secrets in struct cr_cookie_keys and their precomputed HMAC
 * states.  Must not: allocate or fetch algorithms per call, or parse
 * packets.
 *
 * The low-level SHA256_CTX (deprecated in OpenSSL 3.0, still supported) is
 * a plain struct that can be copied: with the two HMAC halves precomputed
 * per secret, a cookie costs two struct copies and two short hashes, with
 * no allocation and no algorithm fetch (EVP HMAC() took ~9 us per call
 * here, mostly in fetches and allocations; this matters under a spoofed
 * ClientHello flood and on worker lcores). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "cr_cookie.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define HMAC_BLOCK_LEN 64

_Static_assert(sizeof(SHA256_CTX) <= CR_COOKIE_STATE_BYTES,
               "CR_COOKIE_STATE_BYTES too small for SHA256_CTX");

/* RFC 2104: H(K ^ opad, H(K ^ ipad, text)); the two key blocks are hashed
 * once per secret here. */
static int precompute(struct cr_cookie_keys *k, unsigned slot)
{
    uint8_t block[HMAC_BLOCK_LEN];
    SHA256_CTX c;
    int ok = 1;

    for (unsigned half = 0; half < 2; half++) {
        memset(block, half == 0 ? 0x36 : 0x5c, sizeof(block));
        for (unsigned i = 0; i < CR_COOKIE_SECRET_LEN; i++)
            block[i] ^= k->secret[slot][i];
        ok &= SHA256_Init(&c);
        ok &= SHA256_Update(&c, block, sizeof(block));
        memcpy(k->state[slot][half], &c, sizeof(c));
    }
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(&c, sizeof(c));
    return ok == 1 ? 0 : CR_ERR_CRYPTO;
}

int cr_cookie_keys_init(struct cr_cookie_keys *k)
{
    CR_ENSURE(k, CR_ERR_INVAL);
    memset(k, 0, sizeof(*k));
    CR_GUARD_OSSL(RAND_bytes(k->secret[0], CR_COOKIE_SECRET_LEN), CR_ERR_CRYPTO);
    CR_GUARD(precompute(k, 0));
    __atomic_store_n(&k->cur, 0u, __ATOMIC_RELEASE);
    return 0;
}

int cr_cookie_rotate(struct cr_cookie_keys *k)
{
    CR_ENSURE(k, CR_ERR_INVAL);
    /* Single writer: a relaxed load of our own index is enough. */
    unsigned cur = __atomic_load_n(&k->cur, __ATOMIC_RELAXED);
    unsigned next = (cur + 1) % CR_COOKIE_N_SLOTS;
    CR_GUARD_OSSL(RAND_bytes(k->secret[next], CR_COOKIE_SECRET_LEN), CR_ERR_CRYPTO);
    CR_GUARD(precompute(k, next));
    __atomic_store_n(&k->has_prev, true, __ATOMIC_RELAXED);
    /* Release: readers that see `next` also see its secret bytes. */
    __atomic_store_n(&k->cur, next, __ATOMIC_RELEASE);
    return 0;
}

void cr_cookie_keys_wipe(struct cr_cookie_keys *k)
{
    if (k)
        OPENSSL_cleanse(k, sizeof(*k));
}

static int mac_with(const struct cr_cookie_keys *k, unsigned slot, const uint8_t *data, size_t len,
                    uint8_t out[CR_COOKIE_MAC_LEN])
{
    uint8_t inner[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    int ok = 1;

    memcpy(&c, k->state[slot][0], sizeof(c));
    ok &= SHA256_Update(&c, data, len);
    ok &= SHA256_Final(inner, &c);
    memcpy(&c, k->state[slot][1], sizeof(c));
    ok &= SHA256_Update(&c, inner, sizeof(inner));
    ok &= SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof(c));
    OPENSSL_cleanse(inner, sizeof(inner));
    return ok == 1 ? 0 : CR_ERR_CRYPTO;
}

int cr_cookie_mac(const struct cr_cookie_keys *k, const uint8_t *data, size_t len,
                  uint8_t out[CR_COOKIE_MAC_LEN])
{
    CR_ENSURE(k && out && (data || len == 0), CR_ERR_INVAL);
    unsigned cur = __atomic_load_n(&k->cur, __ATOMIC_ACQUIRE);
    CR_ENSURE(cur < CR_COOKIE_N_SLOTS, CR_ERR_INVAL);
    return mac_with(k, cur, data, len, out);
}

int cr_cookie_verify(const struct cr_cookie_keys *k, const uint8_t *data, size_t len,
                     const uint8_t *cookie, size_t cookie_len)
{
    uint8_t mac[CR_COOKIE_MAC_LEN];
    int rc = CR_ERR_AUTH;

    CR_ENSURE(k && cookie && (data || len == 0), CR_ERR_INVAL);
    if (cookie_len < CR_COOKIE_MIN_LEN || cookie_len > CR_COOKIE_MAC_LEN)
        return CR_ERR_AUTH;
    unsigned cur = __atomic_load_n(&k->cur, __ATOMIC_ACQUIRE);
    CR_ENSURE(cur < CR_COOKIE_N_SLOTS, CR_ERR_INVAL);
    bool has_prev = __atomic_load_n(&k->has_prev, __ATOMIC_RELAXED);

    if (mac_with(k, cur, data, len, mac) == 0 && CRYPTO_memcmp(mac, cookie, cookie_len) == 0)
        rc = 0;
    else if (has_prev) {
        unsigned prev = (cur + CR_COOKIE_N_SLOTS - 1) % CR_COOKIE_N_SLOTS;
        if (mac_with(k, prev, data, len, mac) == 0 && CRYPTO_memcmp(mac, cookie, cookie_len) == 0)
            rc = 0;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}
