/* hs_client_auth.c — client authentication (RFC 5246 §7.4.6, §7.4.8):
 * the client's Certificate and CertificateVerify.
 *
 * Owns: the client's public key (freed in hs_free).  Must not: accept a
 * signature scheme we did not offer in the CertificateRequest.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

/* ---- client Certificate / CertificateVerify ----------------------------- */

int hs_on_client_certificate(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                             uint64_t now_ms)
{
    const uint8_t *der[CR_PK_CHAIN_MAX_CERTS];
    size_t der_len[CR_PK_CHAIN_MAX_CERTS];
    unsigned n = 0;
    struct hs_cur c, list, cert;

    (void)out;
    (void)now_ms;
    hs_cur_init(&c, msg->body, msg->len);
    CR_ENSURE(hs_cur_prefixed24(&c, &list) && hs_cur_len(&c) == 0, CR_ERR_DECODE);
    while (hs_cur_len(&list) > 0) {
        CR_ENSURE(hs_cur_prefixed24(&list, &cert) && hs_cur_len(&cert) > 0, CR_ERR_DECODE);
        CR_ENSURE(n < CR_PK_CHAIN_MAX_CERTS, HS_ERR_BAD_CERT);
        der[n] = hs_cur_data(&cert);
        der_len[n] = hs_cur_len(&cert);
        n++;
    }
    if (n == 0) {
        /* RFC 5246 §7.4.6: without a certificate the server "MAY ... respond
         * with a fatal handshake_failure alert" — we do when it is required. */
        if (hs->ctx->p.client_auth == HS_CLIENT_AUTH_REQUIRE) {
            hs->fail_reason = HS_FAIL_NO_CLIENT_CERT;
            return HS_ERR_HANDSHAKE;
        }
        return HS_STEP_NEXT;
    }
    CR_ENSURE(hs->ctx->creds->ca, HS_ERR_BAD_CERT);
    if (cr_pk_verify_chain(hs->ctx->creds->ca, der, der_len, n, &hs->client_pub,
                           hs->keys.peer_identity, sizeof(hs->keys.peer_identity)) != 0)
        return HS_ERR_BAD_CERT;
    hs->client_cert = true;
    return HS_STEP_NEXT;
}

int hs_on_certificate_verify(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                             uint64_t now_ms)
{
    struct hs_cur c, sig;
    uint16_t scheme;
    bool offered = false;

    (void)out;
    (void)now_ms;
    hs_cur_init(&c, msg->body, msg->len);
    CR_ENSURE(hs_cur_u16(&c, &scheme) && hs_cur_prefixed16(&c, &sig) && hs_cur_len(&c) == 0,
              CR_ERR_DECODE);
    for (size_t i = 0; i < HS_N_CV_SCHEMES; i++)
        offered |= hs_cv_schemes[i] == scheme;
    /* RFC 5246 §7.4.8: the hash and signature algorithms MUST be one of
     * those present in CertificateRequest.supported_signature_algorithms. */
    CR_ENSURE(offered && cr_sig_scheme_fits(scheme, hs->client_pub), HS_ERR_ILLEGAL);
    /* Signed: handshake_messages up to but not including this one. */
    CR_ENSURE(hs->keep_transcript, CR_ERR_INVAL);
    if (cr_pk_verify(hs->client_pub, scheme, hs->transcript.p, hs->transcript.len,
                     hs_cur_data(&sig), hs_cur_len(&sig)) != 0) {
        hs->fail_reason = HS_FAIL_BAD_CERT_VERIFY;
        return HS_ERR_DECRYPT;
    }
    CR_GUARD(hs_transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));
    /* A CCS that came while CertificateVerify was due already switched the
     * read epoch: Finished next (the alternative), else the CCS. */
    return hs->read_epoch1 ? HS_STEP_ALT : HS_STEP_NEXT;
}
