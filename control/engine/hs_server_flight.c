/* hs_server_flight.c — the server's second flight (RFC 5246 §7.3):
 * ServerHello, Certificate, ServerKeyExchange, CertificateRequest and
 * ServerHelloDone.
 *
 * Owns: nothing (messages go to the transcript and the current flight).
 * Must not: parse peer input.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <string.h>

static const struct hs_cert_slot *server_cert(const struct hs *hs)
{
    return hs->cert; /* choose_suite picked it with the suite */
}

/* Signature schemes we accept in the client's CertificateVerify. */
const uint16_t hs_cv_schemes[HS_N_CV_SCHEMES] = {
    CR_SIG_ECDSA_SECP256R1_SHA256, CR_SIG_ECDSA_SECP384R1_SHA384, CR_SIG_RSA_PSS_RSAE_SHA256,
    CR_SIG_RSA_PKCS1_SHA256, CR_SIG_RSA_PKCS1_SHA384};

static bool is_ecdhe(const struct hs *hs)
{
    return hs->suite->kex != HS_KEX_PSK;
}

/* ServerHello (RFC 5246 §7.4.1.3): our random, session_id sid (for a
 * full handshake a fresh one when the session goes into the session-ID
 * cache, else empty; the client's own for a resumed one, RFC 5077 §3.4),
 * the suite, null compression and the extensions. */
int hs_add_server_hello(struct hs *hs, const struct client_hello *ch, const uint8_t *sid,
                        size_t sid_len)
{
    struct hs_buf b;
    size_t m1;
    int rc;

    CR_ENSURE(sid_len <= DP_HELLO_SESSION_ID_MAX, CR_ERR_INVAL);
    hs_buf_init(&b, HS_MSG_MAX_BYTES);
    hs_buf_u16(&b, DP_VERSION_DTLS12);
    hs_buf_bytes(&b, hs->server_random, DP_HELLO_RANDOM_LEN);
    hs_buf_u8(&b, (uint8_t)sid_len);
    if (sid_len > 0)
        hs_buf_bytes(&b, sid, sid_len);
    hs_buf_u16(&b, hs->suite->id);
    hs_buf_u8(&b, 0); /* compression: null */
    hs_buf_open(&b, 2, &m1);
    if (hs->secure_reneg) {
        /* RFC 5746 §3.6: "the server MUST include an empty
         * renegotiation_info extension in the ServerHello". */
        hs_buf_u16(&b, DP_EXT_RENEGOTIATION_INFO);
        hs_buf_u16(&b, 1);
        hs_buf_u8(&b, 0);
    }
    if (hs->ems) {
        hs_buf_u16(&b, DP_EXT_EXTENDED_MASTER_SECRET);
        hs_buf_u16(&b, 0);
    }
    if (is_ecdhe(hs) && ch->formats_sent) {
        hs_buf_u16(&b, DP_EXT_EC_POINT_FORMATS);
        hs_buf_u16(&b, 2);
        hs_buf_u8(&b, 1);
        hs_buf_u8(&b, DP_POINT_FORMAT_UNCOMPRESSED);
    }
    if (hs->send_ticket) {
        /* RFC 5077 §3.2: "The server uses a zero-length SessionTicket
         * extension to indicate to the client that it will send a new
         * session ticket using the NewSessionTicket handshake message". */
        hs_buf_u16(&b, DP_EXT_SESSION_TICKET);
        hs_buf_u16(&b, 0);
    }
    hs_buf_close(&b, 2, m1);
    if (b.len >= 2 && b.p[b.len - 1] == 0 && b.p[b.len - 2] == 0 && m1 == b.len - 2)
        b.len -= 2; /* no extensions: omit the block */
    rc = hs_add_message(hs, 0, DP_HS_SERVER_HELLO, &b);
    hs_buf_free(&b);
    return rc;
}

/* Flight 2: ServerHello, [Certificate], [ServerKeyExchange],
 * [CertificateRequest], ServerHelloDone (RFC 5246 §7.3). */
int hs_build_server_flight(struct hs *hs, const struct client_hello *ch)
{
    const struct hs_creds *cr = hs->ctx->creds;
    struct hs_buf b;
    size_t m1, m2;
    int rc = 0;

    hs_flight_reset(&hs->flight);
    hs->have_flight = true;
    hs->flight_final = false;
    hs_flight_started(hs);
    hs_buf_init(&b, HS_MSG_MAX_BYTES);

    /* the session-ID cache's fresh id, or empty (hs_resume.c sessid_try) */
    CR_GUARD_GOTO(hs_add_server_hello(hs, ch, hs->session_id, hs->session_id_len), done);

    /* Certificate */
    if (hs->suite->kex == HS_KEX_ECDHE_ECDSA || hs->suite->kex == HS_KEX_ECDHE_RSA) {
        const struct hs_cert_slot *slot = server_cert(hs);
        hs_buf_clear(&b);
        hs_buf_open(&b, 3, &m1);
        for (unsigned i = 0; i < slot->n; i++) {
            hs_buf_u24(&b, (uint32_t)slot->der_len[i]);
            hs_buf_bytes(&b, slot->der[i], slot->der_len[i]);
        }
        hs_buf_close(&b, 3, m1);
        CR_GUARD_GOTO(hs_add_message(hs, 0, DP_HS_CERTIFICATE, &b), done);
    }

    /* ServerKeyExchange */
    if (is_ecdhe(hs)) {
        CR_GUARD_GOTO(cr_ecdhe_keygen(hs->group, &hs->ecdhe, hs->ecdhe_pub, sizeof(hs->ecdhe_pub),
                                      &hs->ecdhe_pub_len),
                      done);
    }
    if (hs->suite->kex == HS_KEX_ECDHE_PSK || (hs->suite->kex == HS_KEX_PSK && cr->has_psk_hint)) {
        /* RFC 4279 §2 / RFC 5489 §2: psk_identity_hint<0..2^16-1>
         * [+ ServerECDHParams for ECDHE_PSK], not signed. */
        hs_buf_clear(&b);
        hs_buf_open(&b, 2, &m1);
        if (cr->has_psk_hint)
            hs_buf_bytes(&b, cr->psk_hint, cr->psk_hint_len);
        hs_buf_close(&b, 2, m1);
        if (hs->suite->kex == HS_KEX_ECDHE_PSK) {
            hs_buf_u8(&b, DP_CURVE_TYPE_NAMED);
            hs_buf_u16(&b, hs->group);
            hs_buf_u8(&b, (uint8_t)hs->ecdhe_pub_len);
            hs_buf_bytes(&b, hs->ecdhe_pub, hs->ecdhe_pub_len);
        }
        CR_GUARD_GOTO(hs_add_message(hs, 0, DP_HS_SERVER_KEY_EXCHANGE, &b), done);
    } else if (hs->suite->kex == HS_KEX_ECDHE_ECDSA || hs->suite->kex == HS_KEX_ECDHE_RSA) {
        /* RFC 8422 §5.4: ServerECDHParams + digitally-signed over
         * client_random + server_random + ServerECDHParams. */
        uint8_t tbs[2 * DP_HELLO_RANDOM_LEN + 4 + CR_ECDHE_PUB_MAX_LEN];
        uint8_t sig[CR_SIG_MAX_LEN];
        size_t params_len = 4 + hs->ecdhe_pub_len, sig_len = 0;
        hs_buf_clear(&b);
        hs_buf_u8(&b, DP_CURVE_TYPE_NAMED);
        hs_buf_u16(&b, hs->group);
        hs_buf_u8(&b, (uint8_t)hs->ecdhe_pub_len);
        hs_buf_bytes(&b, hs->ecdhe_pub, hs->ecdhe_pub_len);
        CR_ENSURE_GOTO(hs_buf_ok(&b) && b.len == params_len, CR_ERR_LIMIT, done);
        memcpy(tbs, hs->client_random, DP_HELLO_RANDOM_LEN);
        memcpy(tbs + DP_HELLO_RANDOM_LEN, hs->server_random, DP_HELLO_RANDOM_LEN);
        memcpy(tbs + 2 * DP_HELLO_RANDOM_LEN, b.p, params_len);
        CR_GUARD_GOTO(cr_pk_sign(server_cert(hs)->key, hs->sig_scheme, tbs,
                                 2 * DP_HELLO_RANDOM_LEN + params_len, sig, sizeof(sig), &sig_len),
                      done);
        hs_buf_u16(&b, hs->sig_scheme);
        hs_buf_open(&b, 2, &m1);
        hs_buf_bytes(&b, sig, sig_len);
        hs_buf_close(&b, 2, m1);
        CR_GUARD_GOTO(hs_add_message(hs, 0, DP_HS_SERVER_KEY_EXCHANGE, &b), done);
    }

    /* CertificateRequest (RFC 5246 §7.4.4): only with certificate suites. */
    if (hs->cert_requested) {
        hs_buf_clear(&b);
        hs_buf_open(&b, 1, &m1);
        hs_buf_u8(&b, DP_CERT_TYPE_ECDSA_SIGN);
        hs_buf_u8(&b, DP_CERT_TYPE_RSA_SIGN);
        hs_buf_close(&b, 1, m1);
        hs_buf_open(&b, 2, &m2);
        for (size_t i = 0; i < HS_N_CV_SCHEMES; i++)
            hs_buf_u16(&b, hs_cv_schemes[i]);
        hs_buf_close(&b, 2, m2);
        /* "certificate_authorities: A list of the distinguished names
         * [X501] of acceptable certificate_authorities, represented in
         * DER-encoded format" — the subjects of our client-CA store, each
         * DistinguishedName<1..2^16-1> (hs_creds_load_ca built them, at
         * most HS_CA_NAMES_MAX_BYTES); empty means any. */
        hs_buf_open(&b, 2, &m2);
        if (cr->ca_names_len > 0)
            hs_buf_bytes(&b, cr->ca_names, cr->ca_names_len);
        hs_buf_close(&b, 2, m2);
        CR_GUARD_GOTO(hs_add_message(hs, 0, DP_HS_CERTIFICATE_REQUEST, &b), done);
    }

    /* ServerHelloDone */
    hs_buf_clear(&b);
    CR_GUARD_GOTO(hs_add_message(hs, 0, DP_HS_SERVER_HELLO_DONE, &b), done);
    rc = 0;
done:
    hs_buf_free(&b);
    return rc;
}
