/* bench_raw.h — the raw ipsec-mb decrypt job that bench-aead and
 * bench-dataplane measure as the limit for our code: the same records'
 * jobs straight to ipsec-mb, nonce and AAD prepared outside the timing,
 * the tag written out and not compared.
 * Must not: validate or compare anything (that is the work being measured
 * against), or differ between the two benches.
 */
#ifndef DTLSGW_BENCH_RAW_H
#define DTLSGW_BENCH_RAW_H

#include <stdint.h>

#include <intel-ipsec-mb.h>

#include "cr_aead.h"

/* Fills job to decrypt len bytes at in into out with key k, the 12-byte
 * nonce and the DTLS AAD already built; the computed tag goes to tag_out. */
static inline void bench_raw_open_job(IMB_JOB *job, const struct cr_aead_key *k, const uint8_t *in,
                                      uint8_t *out, uint32_t len, const uint8_t *nonce,
                                      const uint8_t *aad, uint8_t *tag_out)
{
    job->src = in;
    job->dst = out;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = len;
    job->iv = nonce;
    job->iv_len_in_bytes = 12;
    job->auth_tag_output = tag_out;
    job->auth_tag_output_len_in_bytes = k->tag_len;
    job->cipher_direction = IMB_DIR_DECRYPT;
    switch (k->alg) {
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES256_GCM:
        job->enc_keys = job->dec_keys = &k->k.gcm;
        job->key_len_in_bytes = k->key_len;
        job->cipher_mode = IMB_CIPHER_GCM;
        job->hash_alg = IMB_AUTH_AES_GMAC;
        job->chain_order = IMB_ORDER_HASH_CIPHER;
        job->u.GCM.aad = aad;
        job->u.GCM.aad_len_in_bytes = CR_DTLS_AAD_LEN;
        break;
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        job->enc_keys = job->dec_keys = k->k.aes.enc;
        job->key_len_in_bytes = 16;
        job->cipher_mode = IMB_CIPHER_CCM;
        job->hash_alg = IMB_AUTH_AES_CCM;
        job->chain_order = IMB_ORDER_CIPHER_HASH;
        job->u.CCM.aad = aad;
        job->u.CCM.aad_len_in_bytes = CR_DTLS_AAD_LEN;
        break;
    default:
        job->enc_keys = job->dec_keys = k->k.chacha;
        job->key_len_in_bytes = 32;
        job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
        job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
        job->chain_order = IMB_ORDER_HASH_CIPHER;
        job->u.CHACHA20_POLY1305.aad = aad;
        job->u.CHACHA20_POLY1305.aad_len_in_bytes = CR_DTLS_AAD_LEN;
        break;
    }
}

#endif
