/* hs_keys.c — the key schedule (RFC 5246 §6.3, §8.1, RFC 7627) and the
 * handshake transcript: ClientKeyExchange and its premaster secrets
 * (RFC 4279, RFC 5489, RFC 8422), the master secret (classic or
 * extended), the key block, and both Finished messages.
 *
 * Owns: the transcript hash and bytes, the master secret and the record
 * keys of the handshake (all wiped in hs_free).  Must not: keep a secret
 * in a local buffer past return (each is cleansed).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Appends one message to the transcript in its DTLS form: the 12-byte
 * header with fragment_offset 0 and fragment_length = length (RFC 6347
 * §4.2.6: "as if each handshake message had been sent as a single
 * fragment"). */
int hs_transcript_add(struct hs *hs, uint8_t type, uint16_t seq, const uint8_t *body, uint32_t len)
{
    uint8_t hdr[DP_HS_HDR_LEN];

    /* The suite (and so the hash) is chosen before the first message, the
     * ClientHello, is added. */
    CR_ENSURE(hs->suite, CR_ERR_INVAL);
    CR_ENSURE(hs->transcript_bytes <= HS_TRANSCRIPT_MAX_BYTES &&
                  len <= HS_TRANSCRIPT_MAX_BYTES - hs->transcript_bytes &&
                  sizeof(hdr) <= HS_TRANSCRIPT_MAX_BYTES - hs->transcript_bytes - len,
              CR_ERR_LIMIT);
    const struct hs_hdr h = {type, len, seq, 0, len};
    hs_hdr_put(hdr, &h);
    if (!hs->th)
        CR_GUARD(cr_hash_run_start(hs->suite->sha384, &hs->th));
    CR_GUARD(cr_hash_run_add(hs->th, hdr, sizeof(hdr)));
    CR_GUARD(cr_hash_run_add(hs->th, body, len));
    hs->transcript_bytes += sizeof(hdr) + len;
    if (hs->keep_transcript) {
        struct hs_buf *t = &hs->transcript;
        hs_buf_bytes(t, hdr, sizeof(hdr));
        hs_buf_bytes(t, body, len);
        CR_ENSURE(hs_buf_ok(t), CR_ERR_LIMIT);
    }
    return 0;
}

/* One server message: transcript and current flight. */
int hs_add_message(struct hs *hs, uint16_t epoch, uint8_t type, const struct hs_buf *b)
{
    CR_ENSURE(hs_buf_ok(b), CR_ERR_LIMIT);
    CR_GUARD(hs_transcript_add(hs, type, hs->next_msg_seq, b->p, (uint32_t)b->len));
    CR_GUARD(hs_flight_add_handshake(&hs->flight, epoch, type, hs->next_msg_seq, b->p,
                                     (uint32_t)b->len));
    hs->next_msg_seq++;
    return 0;
}

static int transcript_hash(const struct hs *hs, uint8_t *out, size_t *out_len)
{
    CR_ENSURE(hs->th, CR_ERR_INVAL);
    return cr_hash_run_peek(hs->th, hs->ctx->md_scratch, out, out_len);
}

/* ---- ClientKeyExchange and the key schedule ----------------------------- */

/* RFC 5246 §6.3: key_block = PRF(master, "key expansion", server_random
 * + client_random); AEAD suites have no MAC keys: client_write_key,
 * server_write_key, client_write_IV, server_write_IV.  A resumed session
 * (RFC 5246 §7.3) runs it again over its new randoms: fresh keys, and
 * sequence numbers from 0 under them. */
int hs_derive_key_block(struct hs *hs)
{
    uint8_t kb[HS_KEY_BLOCK_MAX_LEN];
    bool sha384 = hs->suite->sha384;
    enum cr_aead_alg alg = hs->suite->aead;
    size_t key_len = cr_aead_key_len(alg), iv_len = cr_aead_fixed_iv_len(alg);
    int rc;

    CR_ENSURE_GOTO(key_len > 0 && 2 * key_len + 2 * iv_len <= sizeof(kb), CR_ERR_INVAL, done);
    CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, sha384, hs->master, HS_MASTER_LEN, "key expansion",
                                hs->server_random, DP_HELLO_RANDOM_LEN, hs->client_random,
                                DP_HELLO_RANDOM_LEN, kb, 2 * key_len + 2 * iv_len),
                  done);
    hs->keys.key_len = (uint8_t)key_len;
    hs->keys.iv_len = (uint8_t)iv_len;
    memcpy(hs->keys.client_write_key, kb, key_len);
    memcpy(hs->keys.server_write_key, kb + key_len, key_len);
    memcpy(hs->keys.client_write_iv, kb + 2 * key_len, iv_len);
    memcpy(hs->keys.server_write_iv, kb + 2 * key_len + iv_len, iv_len);
    CR_GUARD_GOTO(cr_aead_key_init(&hs->rkey, hs->ctx->aead, alg, hs->keys.client_write_key,
                                   key_len, hs->keys.client_write_iv, iv_len),
                  done);
    CR_GUARD_GOTO(cr_aead_key_init(&hs->wkey, hs->ctx->aead, alg, hs->keys.server_write_key,
                                   key_len, hs->keys.server_write_iv, iv_len),
                  done);
    hs->keys_ready = true;
    rc = 0;
done:
    OPENSSL_cleanse(kb, sizeof(kb));
    return rc;
}

static int derive_keys(struct hs *hs, const uint8_t *pms, size_t pms_len)
{
    uint8_t hash[CR_HASH_MAX_LEN];
    size_t hash_len = 0;
    bool sha384 = hs->suite->sha384;
    int rc;

    if (hs->ems) {
        /* RFC 7627 §4: master_secret = PRF(pre_master_secret,
         * "extended master secret", session_hash)[0..47], session_hash being
         * the hash of the handshake messages through ClientKeyExchange. */
        CR_GUARD(transcript_hash(hs, hash, &hash_len));
        CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, sha384, pms, pms_len, "extended master secret",
                                    hash, hash_len, NULL, 0, hs->master, HS_MASTER_LEN),
                      done);
    } else {
        /* RFC 5246 §8.1. */
        CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, sha384, pms, pms_len, "master secret",
                                    hs->client_random, DP_HELLO_RANDOM_LEN, hs->server_random,
                                    DP_HELLO_RANDOM_LEN, hs->master, HS_MASTER_LEN),
                      done);
    }
    CR_GUARD_GOTO(hs_derive_key_block(hs), done);
    rc = 0;
done:
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc;
}

int hs_on_client_key_exchange(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                              uint64_t now_ms)
{
    struct hs_cur c, identity, point;
    uint8_t z[CR_ECDHE_SECRET_MAX_LEN], pms[HS_PREMASTER_MAX_LEN];
    size_t z_len = 0, pms_len = 0;
    const struct hs_psk_entry *psk = NULL;
    enum hs_kex kex = hs->suite->kex;
    int rc;

    (void)out;
    (void)now_ms;
    hs_cur_init(&c, msg->body, msg->len);
    if (kex == HS_KEX_PSK || kex == HS_KEX_ECDHE_PSK) {
        /* RFC 4279 §2: psk_identity<0..2^16-1>. */
        CR_ENSURE(hs_cur_prefixed16(&c, &identity), CR_ERR_DECODE);
    }
    if (kex != HS_KEX_PSK) {
        /* RFC 8422 §5.7 / RFC 5489 §2: ECPoint ecdh_Yc<1..2^8-1>. */
        CR_ENSURE(hs_cur_prefixed8(&c, &point) && hs_cur_len(&point) >= 1, CR_ERR_DECODE);
    }
    CR_ENSURE(hs_cur_len(&c) == 0, CR_ERR_DECODE);

    if (kex == HS_KEX_PSK || kex == HS_KEX_ECDHE_PSK) {
        psk = hs_creds_find_psk(hs->ctx->creds, hs_cur_data(&identity), hs_cur_len(&identity));
        /* RFC 4279 §2: "If the server does not recognize the PSK identity, it
         * MAY respond with an "unknown_psk_identity" alert message." */
        CR_ENSURE(psk, HS_ERR_UNKNOWN_PSK);
        memcpy(hs->keys.peer_identity, psk->identity, psk->id_len);
        hs->keys.peer_identity[psk->id_len] = '\0';
    }
    if (kex != HS_KEX_PSK) {
        rc = cr_ecdhe_derive(hs->ecdhe, hs->group, hs_cur_data(&point), hs_cur_len(&point), z,
                             sizeof(z), &z_len);
        if (rc == CR_ERR_DECODE)
            return HS_ERR_ILLEGAL;
        CR_GUARD(rc);
    }

    /* Premaster secrets:
     *  PSK (RFC 4279 §2): uint16 N, N zero bytes, uint16 N, psk
     *  ECDHE_PSK (RFC 5489 §2): uint16 len(Z), Z, uint16 N, psk
     *  ECDHE (RFC 8422 §5.10): Z */
    if (kex == HS_KEX_ECDHE_ECDSA || kex == HS_KEX_ECDHE_RSA) {
        memcpy(pms, z, z_len);
        pms_len = z_len;
    } else {
        size_t other_len = kex == HS_KEX_PSK ? psk->key_len : z_len;
        CR_ENSURE(other_len <= HS_PMS_OTHER_MAX_LEN && psk->key_len <= HS_PSK_MAX_KEY_LEN,
                  CR_ERR_LIMIT);
        pms[0] = (uint8_t)(other_len >> 8);
        pms[1] = (uint8_t)other_len;
        if (kex == HS_KEX_PSK)
            memset(pms + 2, 0, other_len);
        else
            memcpy(pms + 2, z, z_len);
        pms[2 + other_len] = 0;
        pms[3 + other_len] = psk->key_len;
        memcpy(pms + 4 + other_len, psk->key, psk->key_len);
        pms_len = 4 + other_len + psk->key_len;
    }
    rc = derive_keys(hs, pms, pms_len);
    OPENSSL_cleanse(pms, sizeof(pms));
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_free(hs->ecdhe);
    hs->ecdhe = NULL;
    CR_GUARD(rc);
    /* A client that sent a certificate proves its key next (the
     * alternative); else its ChangeCipherSpec. */
    return hs->client_cert ? HS_STEP_ALT : HS_STEP_NEXT;
}

/* ---- Finished ----------------------------------------------------------- */

void hs_fill_established(struct hs *hs)
{
    hs->keys.epoch = 1;
    /* The ranges of the file comment: final-flight resends, then the
     * engine's own records, then the dataplane's. */
    hs->app_wseq = hs->wseq[1] + HS_FINAL_RESEND_MAX;
    hs->app_wseq_end = hs->app_wseq + HS_ENGINE_WSEQ_RESERVE;
    hs->keys.server_write_seq_next = hs->app_wseq_end;
    hs->keys.client_read_seq_top = hs->client_read_top;
}

/* RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label,
 * Hash(handshake_messages))[0..11]. */
int hs_finished_data(struct hs *hs, const char *label, uint8_t out[HS_VERIFY_DATA_LEN])
{
    uint8_t hash[CR_HASH_MAX_LEN];
    size_t hash_len = 0;

    CR_GUARD(transcript_hash(hs, hash, &hash_len));
    return cr_prf_derive(hs->ctx->prf, hs->suite->sha384, hs->master, HS_MASTER_LEN, label, hash,
                         hash_len, NULL, 0, out, HS_VERIFY_DATA_LEN);
}

int hs_add_ccs_finished(struct hs *hs)
{
    struct hs_buf b;
    int rc;

    hs_buf_init(&b, HS_VERIFY_DATA_LEN);
    uint8_t *vd = hs_buf_reserve(&b, HS_VERIFY_DATA_LEN);
    CR_ENSURE_GOTO(vd, CR_ERR_NOMEM, done);
    CR_GUARD_GOTO(hs_finished_data(hs, "server finished", vd), done);
    CR_GUARD_GOTO(hs_flight_add_ccs(&hs->flight, 0), done);
    CR_GUARD_GOTO(hs_add_message(hs, 1, DP_HS_FINISHED, &b), done);
    hs->write_epoch1 = true;
    rc = 0;
done:
    hs_buf_free(&b);
    return rc;
}

int hs_on_finished(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                   uint64_t now_ms)
{
    uint8_t expect[HS_VERIFY_DATA_LEN];

    CR_ENSURE(msg->len == HS_VERIFY_DATA_LEN, CR_ERR_DECODE);
    CR_GUARD(hs_finished_data(hs, "client finished", expect));
    if (CRYPTO_memcmp(expect, msg->body, HS_VERIFY_DATA_LEN) != 0) {
        hs->fail_reason = HS_FAIL_BAD_FINISHED;
        return HS_ERR_DECRYPT;
    }
    CR_GUARD(hs_transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));

    /* Final flight: [NewSessionTicket], ChangeCipherSpec + Finished
     * (epoch 1).  RFC 5077 §3.3: the NewSessionTicket comes "after the
     * client's Finished message and before the server's ChangeCipherSpec",
     * and is part of the handshake messages our Finished covers. */
    hs_flight_reset(&hs->flight);
    hs->have_flight = true;
    hs->flight_final = true;
    hs_flight_started(hs);
    if (hs->send_ticket)
        CR_GUARD(hs_add_new_session_ticket(hs));
    CR_GUARD(hs_add_ccs_finished(hs));
    CR_GUARD(hs_emit_flight(hs, out));
    /* RFC 6347 §4.2.4: no timer after the final flight; it is resent only
     * when the client repeats its own final flight. */
    hs->timer_deadline_ms = 0;
    hs_fill_established(hs);
    /* The session is complete: resumable by its session_id from now. */
    hs_sesscache_store(hs, now_ms);
    out->event = HS_EV_ESTABLISHED;
    /* The transcript is no longer needed. */
    hs_buf_free(&hs->transcript);
    cr_hash_run_free(hs->th);
    hs->th = NULL;
    return 0;
}
