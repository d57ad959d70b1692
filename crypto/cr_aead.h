/* cr_aead.h — batch AEAD for DTLS 1.2 records over Intel ipsec-mb.
 *
 * Owns: per-thread ipsec-mb managers (struct cr_aead_ctx), pre-expanded
 * per-direction record keys (struct cr_aead_key), nonce and AAD construction
 * for DTLS 1.2 (RFC 5288 GCM, RFC 6655/7251 CCM, RFC 7905 ChaCha20-Poly1305)
 * and RFC 9146 tls12_cid records, and the constant-time tag comparison.
 * Must not: parse records, know about sessions, allocate per record.
 *
 * Threading: a cr_aead_ctx is used by exactly one thread.  A cr_aead_key is
 * read-only after cr_aead_key_init() and may be shared by threads.
 */
#ifndef DTLSGW_CR_AEAD_H
#define DTLSGW_CR_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include <intel-ipsec-mb.h>

#include "cr_err.h"

/* Largest batch accepted by one cr_aead_*_batch() call; bigger batches are
 * processed in chunks of this size. */
#define CR_AEAD_BATCH_MAX          64
#define CR_AEAD_TAG_MAX_LEN        16
#define CR_AEAD_EXPLICIT_NONCE_LEN 8 /* GCM and CCM (RFC 5288 / RFC 6655) */
#define CR_AEAD_FIXED_IV_MAX_LEN   12
#define CR_AEAD_KEY_MAX_LEN        32
/* RFC 9146 AAD: 8 (0xff placeholder) + 1 + 1 + 1 + 2 + 2 + 6 + cid + 2 */
#define CR_AEAD_CID_AAD_FIXED_LEN 23
/* ipsec-mb 1.3 limits CCM AAD to 46 bytes, hence CIDs on CCM suites must be
 * at most 46 - 23 = 23 bytes; we cap CIDs at this length for all suites. */
#define CR_AEAD_CID_MAX_LEN 23
#define CR_AEAD_AAD_MAX_LEN (CR_AEAD_CID_AAD_FIXED_LEN + CR_AEAD_CID_MAX_LEN)
#define CR_DTLS_AAD_LEN     13

enum cr_aead_alg {
    CR_AEAD_AES128_GCM = 0,
    CR_AEAD_AES256_GCM,
    CR_AEAD_AES128_CCM,  /* 16-byte tag */
    CR_AEAD_AES128_CCM8, /* 8-byte tag */
    CR_AEAD_CHACHA20_POLY1305,
    CR_AEAD_N_ALGS
};

/* One direction's pre-expanded record key.  Expansion (GCM precompute, AES
 * key schedule) happens in cr_aead_key_init(), never per record. */
struct cr_aead_key {
    union {
        struct gcm_key_data gcm;
        struct {
            uint32_t enc[4 * 15] __attribute__((aligned(16)));
            uint32_t dec[4 * 15] __attribute__((aligned(16)));
        } aes;
        uint8_t chacha[32] __attribute__((aligned(16)));
    } k __attribute__((aligned(64)));
    /* Implicit IV: 4-byte salt for GCM/CCM, 12-byte IV for ChaCha20. */
    uint8_t fixed_iv[CR_AEAD_FIXED_IV_MAX_LEN];
    uint8_t alg;     /* enum cr_aead_alg */
    uint8_t tag_len; /* 16 or 8 */
    uint8_t key_len;
    uint8_t fixed_iv_len;
} __attribute__((aligned(64)));

/* One record operation.  Caller fills the inputs; `status` is the output.
 * Lengths: `len` is the plaintext length (the AAD length field);
 * the ciphertext is also `len` bytes, followed on the wire by the tag. */
struct cr_aead_op {
    const struct cr_aead_key *key;
    const uint8_t *in; /* seal: plaintext; open: ciphertext */
    uint8_t *out;      /* seal: ciphertext; open: plaintext; may equal in */
    uint8_t *tag;      /* seal: tag written here; open: received tag */
    uint32_t len;
    uint16_t epoch;
    uint16_t version; /* record version, e.g. 0xfefd */
    uint64_t seq;     /* 48-bit record sequence number */
    /* GCM/CCM only: the 8-byte explicit nonce.  Open: as received in the
     * record.  Seal: usually epoch||seq (cr_aead_explicit_nonce()). */
    const uint8_t *explicit_nonce;
    const uint8_t *cid; /* non-NULL: RFC 9146 AAD (type must be 25) */
    uint8_t cid_len;
    uint8_t type;   /* record content type as on the wire */
    int16_t status; /* out: CR_OK or CR_ERR_AUTH / CR_ERR_INVAL */
    void *user;     /* caller's cookie, untouched */
};

struct cr_aead_ctx;

/* Allocate a per-thread context (one IMB_MGR, best arch auto-detected). */
CR_WUR struct cr_aead_ctx *cr_aead_ctx_new(void);
void cr_aead_ctx_free(struct cr_aead_ctx *ctx);
IMB_MGR *cr_aead_ctx_mgr(struct cr_aead_ctx *ctx);
const char *cr_aead_ctx_arch_name(const struct cr_aead_ctx *ctx);

/* Key/IV sizes for an algorithm (RFC 5288/6655/7905 key block layout). */
size_t cr_aead_key_len(enum cr_aead_alg alg);
size_t cr_aead_fixed_iv_len(enum cr_aead_alg alg);
size_t cr_aead_tag_len(enum cr_aead_alg alg);
/* Bytes of explicit nonce on the wire: 8 for GCM/CCM, 0 for ChaCha20. */
size_t cr_aead_explicit_nonce_len(enum cr_aead_alg alg);
const char *cr_aead_alg_name(enum cr_aead_alg alg);

CR_WUR int cr_aead_key_init(struct cr_aead_key *key, struct cr_aead_ctx *ctx, enum cr_aead_alg alg,
                            const uint8_t *secret, size_t secret_len, const uint8_t *fixed_iv,
                            size_t fixed_iv_len);
/* The raw key, fixed IV and algorithm back out of an initialised key
 * (the hitless-restart state file saves them; cr_aead_key_init() with
 * them gives a key that seals and opens identically).  The raw key is
 * still in the expanded one: for AES (GCM and CCM) the first key_len
 * bytes of the encryption schedule are the cipher key itself (FIPS 197
 * §5.2: the first Nk words of w[] are the key), ChaCha20 keeps it as
 * is.  out_key gets key_len bytes (out_key_cap at least
 * CR_AEAD_KEY_MAX_LEN), out_iv fixed_iv_len bytes (out_iv_cap at least
 * CR_AEAD_FIXED_IV_MAX_LEN).  CR_ERR_INVAL for a key that was never
 * initialised (or wiped) or buffers too small. */
CR_WUR int cr_aead_key_export(const struct cr_aead_key *key, enum cr_aead_alg *out_alg,
                              uint8_t *out_key, size_t out_key_cap, size_t *out_key_len,
                              uint8_t *out_iv, size_t out_iv_cap, size_t *out_iv_len);
/* Wipes all key material. */
void cr_aead_key_wipe(struct cr_aead_key *key);

/* Writes epoch(2)||seq(6) big-endian into out[8]. */
void cr_aead_explicit_nonce(uint8_t out[8], uint16_t epoch, uint64_t seq);

/* Builds the AAD of `op` into aad[CR_AEAD_AAD_MAX_LEN]; returns its length
 * or a negative error (exposed for tests and for the EVP reference path). */
CR_WUR int cr_aead_build_aad(const struct cr_aead_op *op, uint8_t *aad);
/* Builds the 12-byte nonce of `op`. */
void cr_aead_build_nonce(const struct cr_aead_op *op, uint8_t nonce[12]);

/* Encrypt / decrypt n records in as few ipsec-mb bursts as possible.
 * Every op gets a status.  Returns the number of ops with status CR_OK.
 * Open compares tags in constant time; on failure the output buffer holds
 * unauthenticated bytes that the caller must discard. */
unsigned cr_aead_seal_batch(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n);
unsigned cr_aead_open_batch(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n);

#endif
