/* cr_cookie.h — stateless DTLS cookie MAC (RFC 6347 §4.2.1) with a rotating
 * secret: HMAC-SHA256 keyed by the current secret; the previous secret is
 * still accepted after a rotation.
 *
 * Owns: the cookie secrets (random, from RAND_bytes).  Must not: parse
 * packets (the caller chooses what the MAC covers) or allocate.
 *
 * Threading: one writer (cr_cookie_rotate, on the control plane) and any
 * number of concurrent readers (cr_cookie_mac/verify on worker lcores).
 * The secrets live in a ring of CR_COOKIE_N_SLOTS slots; a rotation writes
 * the slot after the current one and then publishes the new index with a
 * release store, so a reader that loads the index (acquire) sees a fully
 * written current secret, and the previous one is untouched until the next
 * rotation but one.  A reader preempted across two rotations may compute
 * with a secret being rewritten: its cookie then fails to verify and the
 * client simply gets a new HelloVerifyRequest.
 */
#ifndef DTLSGW_CR_COOKIE_H
#define DTLSGW_CR_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"

#define CR_COOKIE_SECRET_LEN 32
#define CR_COOKIE_MAC_LEN    32 /* HMAC-SHA256 output, bytes */
#define CR_COOKIE_MIN_LEN    16 /* shortest cookie we issue or accept */
#define CR_COOKIE_N_SLOTS    3

/* Bytes reserved per precomputed HMAC half (a SHA256_CTX after the padded
 * key block); checked against sizeof(SHA256_CTX) in cr_cookie.c. */
#define CR_COOKIE_STATE_BYTES 128

struct cr_cookie_keys {
    uint8_t secret[CR_COOKIE_N_SLOTS][CR_COOKIE_SECRET_LEN];
    /* [slot][0]: inner (key ^ ipad), [slot][1]: outer (key ^ opad) */
    uint8_t state[CR_COOKIE_N_SLOTS][2][CR_COOKIE_STATE_BYTES] __attribute__((aligned(16)));
    unsigned cur;  /* index of the current secret; atomic accesses */
    bool has_prev; /* false until the first rotation */
};

/* Fresh random current secret, no previous one. */
CR_WUR int cr_cookie_keys_init(struct cr_cookie_keys *k);
/* New random current secret; the old current becomes the previous one. */
CR_WUR int cr_cookie_rotate(struct cr_cookie_keys *k);
void cr_cookie_keys_wipe(struct cr_cookie_keys *k);

/* HMAC-SHA256(current secret, data) -> out[CR_COOKIE_MAC_LEN]. */
CR_WUR int cr_cookie_mac(const struct cr_cookie_keys *k, const uint8_t *data, size_t len,
                         uint8_t out[CR_COOKIE_MAC_LEN]);
/* 0 when cookie (cookie_len bytes, CR_COOKIE_MIN_LEN..CR_COOKIE_MAC_LEN) is
 * the truncated MAC of data under the current or the previous secret;
 * CR_ERR_AUTH otherwise.  Comparison in constant time. */
CR_WUR int cr_cookie_verify(const struct cr_cookie_keys *k, const uint8_t *data, size_t len,
                            const uint8_t *cookie, size_t cookie_len);

#endif
