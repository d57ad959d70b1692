/* cr_kdf.h — TLS 1.2 pseudo-random function (RFC 5246 §5) on libcrypto.
 *
 * Owns: nothing (stateless).  Must not: know about handshakes or sessions;
 * keep secrets beyond a call (inputs and outputs belong to the caller).
 */
#ifndef DTLSGW_CR_KDF_H
#define DTLSGW_CR_KDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"

#define CR_KDF_LABEL_MAX_LEN 64
#define CR_KDF_SEED_MAX_LEN  256 /* label + seed parts, bytes */
#define CR_KDF_OUT_MAX_LEN   256

/* P_hash from RFC 5246 §5:
 *   out = P_<hash>(secret, label || seed1 || seed2)
 * hash is SHA-384 when sha384, else SHA-256.  seed2 may be NULL/0. */
CR_WUR int cr_tls12_prf(bool sha384, const uint8_t *secret, size_t secret_len, const char *label,
                        const uint8_t *seed1, size_t seed1_len, const uint8_t *seed2,
                        size_t seed2_len, uint8_t *out, size_t out_len);

/* One-shot digest of buf with SHA-256 (32 bytes) or SHA-384 (48 bytes). */
CR_WUR int cr_hash(bool sha384, const uint8_t *buf, size_t len, uint8_t *out, size_t *out_len);
#define CR_HASH_MAX_LEN 48

#endif
