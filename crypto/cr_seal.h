/* cr_seal.h — authenticated sealing of saved state under named keys: the
 * session tickets of RFC 5077 and the hitless-restart state file.
 *
 * Sealed blob (RFC 5077 §4's recommended ticket layout, with AES-256-GCM in
 * place of AES-CBC + HMAC-SHA256):
 *     key_name[16] | iv[12] | ciphertext | tag[16]
 * The GCM additional data is the caller's label (domain separation: a
 * ticket never opens as a restart file and back), the key name and the
 * caller's own AAD.  IVs are random (RAND_bytes); NIST SP 800-38D §8.3
 * bounds a key to 2^32 random-IV seals, and a key here refuses after
 * CR_SEAL_USES_MAX so that its owner rotates long before.
 *
 * Keys: a ring of at most CR_SEAL_RING_MAX, k[0] the current one that
 * seals, the others still open (RFC 5077 §5.5: keys rotate; a ticket
 * sealed under an older key is accepted and the caller renews it).  Keys
 * come from RAND_bytes (cr_seal_ring_rotate) or from a key file shared by
 * several gateways, so that each accepts the others' tickets: 48 bytes per
 * key (16 name + 32 AES key), 1..CR_SEAL_RING_MAX keys, the first one
 * current, readable by its owner only (`head -c 48 /dev/urandom > f;
 * chmod 600 f`).
 *
 * Owns: the key bytes (wiped by cr_seal_ring_wipe) and the fetched cipher.
 * Threading: none; a ring is used by one thread (each handshake lcore keeps
 * its own copy: cr_seal_ring_copy).
 */
#ifndef DTLSGW_CR_SEAL_H
#define DTLSGW_CR_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"

#define CR_SEAL_NAME_LEN      16
#define CR_SEAL_KEY_LEN       32
#define CR_SEAL_IV_LEN        12
#define CR_SEAL_TAG_LEN       16
#define CR_SEAL_OVERHEAD      (CR_SEAL_NAME_LEN + CR_SEAL_IV_LEN + CR_SEAL_TAG_LEN)
#define CR_SEAL_RING_MAX      4
#define CR_SEAL_FILE_KEY_LEN  (CR_SEAL_NAME_LEN + CR_SEAL_KEY_LEN)
#define CR_SEAL_USES_MAX      (UINT64_C(1) << 30) /* of SP 800-38D's 2^32 */
#define CR_SEAL_LABEL_MAX_LEN 64
#define CR_SEAL_PT_MAX_LEN    (1u << 30) /* one blob; far over any caller's */

struct cr_seal_key {
    uint8_t name[CR_SEAL_NAME_LEN];
    uint8_t key[CR_SEAL_KEY_LEN];
    uint64_t uses;    /* seals under this key */
    uint64_t born_ms; /* caller's clock when the key entered the ring */
};

struct evp_cipher_st;

struct cr_seal_ring {
    struct cr_seal_key k[CR_SEAL_RING_MAX]; /* k[0]: current */
    unsigned n;                             /* keys in k[] */
    bool from_file;                         /* loaded: never rotated at random */
    struct evp_cipher_st *gcm;              /* AES-256-GCM, fetched once */
};

/* An empty ring (no key: cr_seal fails until one is added). */
CR_WUR int cr_seal_ring_init(struct cr_seal_ring *r);
/* A fresh random key becomes current; the oldest beyond CR_SEAL_RING_MAX
 * is wiped.  CR_ERR_INVAL on a ring loaded from a file. */
CR_WUR int cr_seal_ring_rotate(struct cr_seal_ring *r, uint64_t now_ms);
/* Replaces the ring's keys with a key file's (see above).  Clear errors:
 * CR_ERR_IO (cannot open/read), CR_ERR_DECODE (size not 1..MAX keys of 48
 * bytes), CR_ERR_VERIFY (group/other may read it, or not a regular file);
 * err/err_len get a sentence.  The ring is unchanged on failure. */
CR_WUR int cr_seal_ring_load(struct cr_seal_ring *r, const char *path, uint64_t now_ms, char *err,
                             size_t err_len);
/* dst = a copy of src's keys with its own cipher handle (dst uninitialised
 * or wiped before). */
CR_WUR int cr_seal_ring_copy(struct cr_seal_ring *dst, const struct cr_seal_ring *src);
void cr_seal_ring_wipe(struct cr_seal_ring *r);

/* Seals pt under the current key: out gets pt_len + CR_SEAL_OVERHEAD bytes.
 * CR_ERR_LIMIT: out too small, or the current key has sealed
 * CR_SEAL_USES_MAX times (rotate); CR_ERR_INVAL: no key. */
CR_WUR int cr_seal(struct cr_seal_ring *r, const char *label, const uint8_t *aad, size_t aad_len,
                   const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len);
/* Opens a blob: pt gets blob_len - CR_SEAL_OVERHEAD bytes; *key_index (may
 * be NULL) the ring index of the key that opened it (> 0: an older key,
 * the caller should re-seal).  CR_ERR_AUTH for an unknown key name, a
 * wrong label or AAD, or any altered byte; CR_ERR_DECODE for a blob
 * shorter than the overhead; CR_ERR_LIMIT when pt is too small.  pt is
 * wiped on failure. */
CR_WUR int cr_unseal(const struct cr_seal_ring *r, const char *label, const uint8_t *aad,
                     size_t aad_len, const uint8_t *blob, size_t blob_len, uint8_t *pt,
                     size_t pt_cap, size_t *pt_len, unsigned *key_index);

#endif
