/* cr_kdf.h — TLS 1.2 pseudo-random function (RFC 5246 §5) and the
 * handshake hashes on libcrypto.
 *
 * Owns: nothing (stateless) except the optional reusable contexts below,
 * which their creator owns.  Must not: know about handshakes or sessions;
 * keep secrets beyond a call (inputs and outputs belong to the caller; a
 * reusable PRF context is reset after each derive).
 */
#ifndef DTLSGW_CR_KDF_H
#define DTLSGW_CR_KDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

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

/* A reusable PRF context: the same function as cr_tls12_prf() without
 * creating and freeing a KDF context per call.  One context is used by one
 * thread at a time; it holds no secret between calls. */
struct cr_prf;
struct cr_prf *cr_prf_new(void);
void cr_prf_free(struct cr_prf *prf);
CR_WUR int cr_prf_derive(struct cr_prf *prf, bool sha384, const uint8_t *secret, size_t secret_len,
                         const char *label, const uint8_t *seed1, size_t seed1_len,
                         const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t out_len);

/* One-shot digest of buf with SHA-256 (32 bytes) or SHA-384 (48 bytes). */
CR_WUR int cr_hash(bool sha384, const uint8_t *buf, size_t len, uint8_t *out, size_t *out_len);
#define CR_HASH_MAX_LEN 48

/* Running hash (e.g. a handshake transcript, RFC 5246 §7.4.9): fed piece
 * by piece; cr_hash_run_peek() gives the digest of everything fed so far
 * and leaves the hash running.  scratch is a caller-owned EVP_MD_CTX
 * (EVP_MD_CTX_new) reused for the snapshot, or NULL for a temporary one. */
CR_WUR int cr_hash_run_start(bool sha384, EVP_MD_CTX **out_ctx);
CR_WUR int cr_hash_run_add(EVP_MD_CTX *ctx, const uint8_t *buf, size_t len);
CR_WUR int cr_hash_run_peek(const EVP_MD_CTX *ctx, EVP_MD_CTX *scratch, uint8_t *out,
                            size_t *out_len);
void cr_hash_run_free(EVP_MD_CTX *ctx);

#endif
