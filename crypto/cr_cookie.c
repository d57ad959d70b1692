/* cr_cookie.c — rotating-secret HMAC-SHA256 cookies (RFC 6347 §4.2.1:
 * "Cookie = HMAC(Secret, Client-IP, Client-Parameters)").
 *
 * Owns: the secrets in struct cr_cookie_keys.  Must not: allocate per call
 * beyond what HMAC() does internally, or parse packets.
 */
#include "cr_cookie.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int cr_cookie_keys_init(struct cr_cookie_keys *k)
{
    CR_ENSURE(k, CR_ERR_INVAL);
    memset(k, 0, sizeof(*k));
    CR_GUARD_OSSL(RAND_bytes(k->secret[0], CR_COOKIE_SECRET_LEN), CR_ERR_CRYPTO);
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

static int mac_with(const uint8_t *secret, const uint8_t *data, size_t len,
                    uint8_t out[CR_COOKIE_MAC_LEN])
{
    unsigned int n = 0;

    CR_ENSURE(HMAC(EVP_sha256(), secret, CR_COOKIE_SECRET_LEN, data, len, out, &n),
              CR_ERR_CRYPTO);
    CR_ENSURE(n == CR_COOKIE_MAC_LEN, CR_ERR_CRYPTO);
    return 0;
}

int cr_cookie_mac(const struct cr_cookie_keys *k, const uint8_t *data, size_t len,
                  uint8_t out[CR_COOKIE_MAC_LEN])
{
    CR_ENSURE(k && out && (data || len == 0), CR_ERR_INVAL);
    unsigned cur = __atomic_load_n(&k->cur, __ATOMIC_ACQUIRE);
    CR_ENSURE(cur < CR_COOKIE_N_SLOTS, CR_ERR_INVAL);
    return mac_with(k->secret[cur], data, len, out);
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

    if (mac_with(k->secret[cur], data, len, mac) == 0 &&
        CRYPTO_memcmp(mac, cookie, cookie_len) == 0)
        rc = 0;
    else if (has_prev) {
        unsigned prev = (cur + CR_COOKIE_N_SLOTS - 1) % CR_COOKIE_N_SLOTS;
        if (mac_with(k->secret[prev], data, len, mac) == 0 &&
            CRYPTO_memcmp(mac, cookie, cookie_len) == 0)
            rc = 0;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}
