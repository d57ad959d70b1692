/* hs_hello.c — the client's ClientHello (RFC 5246 §7.4.1.2, RFC 6347
 * §4.2.1): parsing with the bounded cursor, its extensions, and the choice
 * of cipher suite, ECDHE group, server certificate and signature scheme.
 *
 * Owns: nothing beyond the handshake's fields it fills.  Must not: trust a
 * peer length before checking it; build messages (hs_server_flight.c).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <string.h>

#include <openssl/rand.h>

bool hs_ch_suite_offered(const struct client_hello *ch, uint16_t id)
{
    struct hs_cur c = ch->suites;
    uint16_t v;
    while (hs_cur_u16(&c, &v))
        if (v == id)
            return true;
    return false;
}

static int parse_extensions(struct hs *hs, struct hs_cur *exts, struct client_hello *ch)
{
    uint16_t seen[HS_CH_MAX_EXTENSIONS];
    unsigned n_seen = 0;

    while (hs_cur_len(exts) > 0) {
        uint16_t type;
        struct hs_cur body;
        CR_ENSURE(hs_cur_u16(exts, &type) && hs_cur_prefixed16(exts, &body), CR_ERR_DECODE);
        /* RFC 5246 §7.4.1.4: "There MUST NOT be more than one extension of
         * the same type." */
        for (unsigned i = 0; i < n_seen; i++)
            CR_ENSURE(seen[i] != type, HS_ERR_ILLEGAL);
        CR_ENSURE(n_seen < HS_CH_MAX_EXTENSIONS, CR_ERR_DECODE);
        seen[n_seen++] = type;

        switch (type) {
        case DP_EXT_SERVER_NAME: {
            /* RFC 6066 §3: ServerNameList<1..2^16-1>. */
            struct hs_cur list;
            CR_ENSURE(hs_cur_prefixed16(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) > 0,
                      CR_ERR_DECODE);
            while (hs_cur_len(&list) > 0) {
                uint8_t name_type;
                struct hs_cur name;
                CR_ENSURE(hs_cur_u8(&list, &name_type) && hs_cur_prefixed16(&list, &name),
                          CR_ERR_DECODE);
                if (name_type != 0 || hs->keys.sni[0] != '\0')
                    continue;
                size_t n = hs_cur_len(&name);
                CR_ENSURE(n >= 1 && n <= HS_SNI_MAX_LEN, HS_ERR_ILLEGAL);
                CR_ENSURE(memchr(hs_cur_data(&name), 0, n) == NULL, HS_ERR_ILLEGAL);
                memcpy(hs->keys.sni, hs_cur_data(&name), n);
                hs->keys.sni[n] = '\0';
            }
            break;
        }
        case DP_EXT_SUPPORTED_GROUPS: {
            struct hs_cur list;
            uint16_t g;
            CR_ENSURE(hs_cur_prefixed16(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) >= 2 && hs_cur_len(&list) % 2 == 0,
                      CR_ERR_DECODE);
            ch->groups_sent = true;
            while (hs_cur_u16(&list, &g)) {
                if (ch->n_groups < HS_OFFER_GROUPS_MAX)
                    ch->groups[ch->n_groups++] = g;
                else
                    ch->groups_more = true;
                ch->x25519 |= g == CR_GROUP_X25519;
                ch->p256 |= g == CR_GROUP_SECP256R1;
                ch->p384 |= g == CR_GROUP_SECP384R1;
            }
            break;
        }
        case DP_EXT_EC_POINT_FORMATS: {
            struct hs_cur list;
            uint8_t f;
            CR_ENSURE(hs_cur_prefixed8(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) >= 1,
                      CR_ERR_DECODE);
            ch->formats_sent = true;
            while (hs_cur_u8(&list, &f))
                ch->uncompressed |= f == DP_POINT_FORMAT_UNCOMPRESSED;
            break;
        }
        case DP_EXT_SIGNATURE_ALGORITHMS: {
            struct hs_cur list;
            uint16_t s;
            CR_ENSURE(hs_cur_prefixed16(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) >= 2 && hs_cur_len(&list) % 2 == 0,
                      CR_ERR_DECODE);
            ch->sig_algs_sent = true;
            while (hs_cur_u16(&list, &s))
                if (ch->n_sig_algs < HS_SIG_ALGS_MAX)
                    ch->sig_algs[ch->n_sig_algs++] = s;
            break;
        }
        case DP_EXT_EXTENDED_MASTER_SECRET:
            /* RFC 7627 §5.1: "extension_data" is empty. */
            CR_ENSURE(hs_cur_len(&body) == 0, CR_ERR_DECODE);
            ch->ems = true;
            break;
        case DP_EXT_SESSION_TICKET:
            /* RFC 5077 §3.2: the extension_data is the ticket itself
             * (opaque, the extension's own length), empty to ask for one.
             * What it holds is judged later (hs_resume_try): a ticket that
             * does not resume only means a full handshake. */
            ch->ticket_sent = true;
            ch->ticket = body;
            break;
        case DP_EXT_RENEGOTIATION_INFO: {
            /* RFC 5746 §3.6: "The server MUST then verify that the length of
             * the renegotiated_connection field is zero, and if it is not,
             * MUST abort the handshake." */
            struct hs_cur rc_field;
            CR_ENSURE(hs_cur_prefixed8(&body, &rc_field) && hs_cur_len(&body) == 0, CR_ERR_DECODE);
            CR_ENSURE(hs_cur_len(&rc_field) == 0, HS_ERR_HANDSHAKE);
            ch->reneg = true;
            break;
        }
        default:
            break; /* unknown extensions are ignored (RFC 5246 §7.4.1.4) */
        }
    }
    return 0;
}

static uint16_t choose_group(const struct client_hello *ch)
{
    /* RFC 8422 §4: without supported_groups the server may use any; we
     * then assume P-256. */
    if (!ch->groups_sent)
        return CR_GROUP_SECP256R1;
    if (ch->x25519)
        return CR_GROUP_X25519;
    if (ch->p256)
        return CR_GROUP_SECP256R1;
    if (ch->p384)
        return CR_GROUP_SECP384R1;
    return 0;
}

/* The signature scheme our key in slot id makes for this client, or 0;
 * *out_native says whether it is the scheme of the key's own curve
 * (ecdsa_secp256r1_sha256 for P-256, ecdsa_secp384r1_sha384 for P-384) or
 * the RFC 5246 default.  In TLS 1.2 an ECDSA scheme names the hash only
 * (RFC 8422 §5.1.1), so the other curve's scheme also fits, as a second
 * choice; SHA-1 only when the client listed it. */
static uint16_t choose_sig_scheme(const struct client_hello *ch, enum hs_cert_slot_id id,
                                  bool *out_native)
{
    static const uint16_t p256_pref[] = {CR_SIG_ECDSA_SECP256R1_SHA256,
                                         CR_SIG_ECDSA_SECP384R1_SHA384, CR_SIG_ECDSA_SHA1};
    static const uint16_t p384_pref[] = {CR_SIG_ECDSA_SECP384R1_SHA384,
                                         CR_SIG_ECDSA_SECP256R1_SHA256, CR_SIG_ECDSA_SHA1};
    static const uint16_t rsa_pref[] = {CR_SIG_RSA_PKCS1_SHA256, CR_SIG_RSA_PSS_RSAE_SHA256,
                                        CR_SIG_RSA_PKCS1_SHA384, CR_SIG_RSA_PKCS1_SHA1};
    const uint16_t *pref = id == HS_CERT_ECDSA_P256   ? p256_pref
                           : id == HS_CERT_ECDSA_P384 ? p384_pref
                                                      : rsa_pref;
    size_t n = id == HS_CERT_RSA ? sizeof(rsa_pref) / sizeof(rsa_pref[0])
                                 : sizeof(p256_pref) / sizeof(p256_pref[0]);

    /* RFC 5246 §7.4.1.4.1: "If the client does not send the
     * signature_algorithms extension, the server MUST ... behave as if the
     * client had sent the value {sha1,rsa}" / "{sha1,ecdsa}". */
    *out_native = true;
    if (!ch->sig_algs_sent)
        return id == HS_CERT_RSA ? CR_SIG_RSA_PKCS1_SHA1 : CR_SIG_ECDSA_SHA1;
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < ch->n_sig_algs; j++)
            if (ch->sig_algs[j] == pref[i] && cr_sig_scheme_supported(pref[i])) {
                *out_native = i == 0;
                return pref[i];
            }
    return 0;
}

static bool group_offered(const struct client_hello *ch, uint16_t group)
{
    return group == CR_GROUP_SECP256R1 ? ch->p256 : group == CR_GROUP_SECP384R1 && ch->p384;
}

/* The server certificate for a suite of kex, as libssl chooses among its
 * certificate slots (ssl3_choose_cipher / tls_choose_sigalg): RSA suites
 * take the RSA slot; ECDHE_ECDSA suites the ECDSA slot whose curve the
 * client can verify and for which a signature scheme fits, preferring the
 * one whose own scheme the client listed, then P-256 before P-384.
 * Returns the slot (and *out_scheme), or NULL with *out_reason saying why
 * none: NO_SIG_SCHEME when a certificate's curve was acceptable, else
 * NO_SHARED_GROUP. */
static const struct hs_cert_slot *choose_cert(const struct hs_creds *cr,
                                              const struct client_hello *ch, enum hs_kex kex,
                                              uint16_t *out_scheme, enum hs_fail_reason *out_reason)
{
    const struct hs_cert_slot *second = NULL;
    uint16_t second_scheme = 0;
    bool curve_ok = false;

    *out_reason = HS_FAIL_NO_SHARED_SUITE; /* no certificate for kex at all */
    for (unsigned id = 0; id < HS_CERT_N; id++) {
        const struct hs_cert_slot *slot = &cr->cert[id];
        if (!slot->key || (id == HS_CERT_RSA) != (kex == HS_KEX_ECDHE_RSA))
            continue;
        /* RFC 8422 §5.1: "the client's Supported Elliptic Curves
         * Extension ... the server ... MUST NOT negotiate the use of an
         * ECC cipher suite" whose certificate's curve the client did not
         * list (§2.1: "The server's certificate MUST contain an
         * ECDSA-capable public key"; the curve is one the client can
         * use); without the extension any curve will do (§4). */
        if (slot->ec_group && ch->groups_sent && !group_offered(ch, slot->ec_group)) {
            *out_reason = HS_FAIL_NO_SHARED_GROUP;
            continue;
        }
        curve_ok = true;
        bool native = false;
        uint16_t scheme = choose_sig_scheme(ch, (enum hs_cert_slot_id)id, &native);
        if (!scheme || !cr_sig_scheme_fits(scheme, slot->key))
            continue;
        if (native) {
            *out_scheme = scheme;
            return slot;
        }
        if (!second) {
            second = slot;
            second_scheme = scheme;
        }
    }
    if (second) {
        *out_scheme = second_scheme;
        return second;
    }
    if (curve_ok)
        *out_reason = HS_FAIL_NO_SIG_SCHEME;
    return NULL;
}

/* Whether the client offered a plain-PSK suite we could use (then a
 * missing ECDHE group is not why nothing matched). */
static bool any_psk_offered(const struct hs *hs, const struct client_hello *ch)
{
    for (unsigned i = 0; i < hs->ctx->n_suites; i++) {
        const struct hs_suite_info *s = hs_suite_find(hs->ctx->suites[i]);
        if (s && s->kex == HS_KEX_PSK && hs_ch_suite_offered(ch, s->id) &&
            hs_creds_has_psk(hs->ctx->creds))
            return true;
    }
    return false;
}

static int choose_suite(struct hs *hs, const struct client_hello *ch)
{
    const struct hs_creds *cr = hs->ctx->creds;
    uint16_t group = choose_group(ch);
    bool ecdhe_ok = group != 0 && (!ch->formats_sent || ch->uncompressed);
    bool sig_scheme_missing = false, cert_curve_missing = false;

    for (unsigned i = 0; i < hs->ctx->n_suites; i++) {
        const struct hs_suite_info *s = hs_suite_find(hs->ctx->suites[i]);
        if (!s || !hs_ch_suite_offered(ch, s->id))
            continue;
        uint16_t scheme = 0;
        const struct hs_cert_slot *cert = NULL;
        switch (s->kex) {
        case HS_KEX_PSK:
            if (!hs_creds_has_psk(cr))
                continue;
            break;
        case HS_KEX_ECDHE_PSK:
            if (!hs_creds_has_psk(cr) || !ecdhe_ok)
                continue;
            break;
        case HS_KEX_ECDHE_ECDSA:
        case HS_KEX_ECDHE_RSA: {
            /* The ECDHE group (choose_group) is independent of the
             * certificate's curve: both only have to be ones the client
             * listed. */
            if (!ecdhe_ok)
                continue;
            enum hs_fail_reason why;
            cert = choose_cert(cr, ch, s->kex, &scheme, &why);
            if (!cert) {
                cert_curve_missing |= why == HS_FAIL_NO_SHARED_GROUP;
                sig_scheme_missing |= why == HS_FAIL_NO_SIG_SCHEME;
                continue;
            }
            break;
        }
        }
        hs->suite = s;
        hs->cert = cert;
        hs->group = s->kex == HS_KEX_PSK ? 0 : group;
        hs->sig_scheme = scheme;
        return 0;
    }
    /* RFC 5246 §7.2.2 insufficient_security: "the server requires ciphers
     * more secure than those supported by the client" — every suite the
     * client offered is one we know but were configured not to use. */
    bool known_offered = false, usable_offered = false;
    struct hs_cur c = ch->suites;
    uint16_t id;
    while (hs_cur_u16(&c, &id)) {
        if (!hs_suite_find(id))
            continue;
        known_offered = true;
        for (unsigned i = 0; i < hs->ctx->n_suites; i++)
            usable_offered |= hs->ctx->suites[i] == id;
    }
    if (known_offered && !usable_offered)
        return HS_ERR_INSUFFICIENT;
    hs->fail_reason =
        known_offered && ((!ecdhe_ok && !any_psk_offered(hs, ch)) || cert_curve_missing)
            ? HS_FAIL_NO_SHARED_GROUP
        : known_offered && sig_scheme_missing ? HS_FAIL_NO_SIG_SCHEME
                                              : HS_FAIL_NO_SHARED_SUITE;
    return HS_ERR_HANDSHAKE;
}

int hs_on_client_hello(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                       uint64_t now_ms)
{
    struct client_hello ch;
    struct hs_cur c, sid, cookie, comp, exts;
    const uint8_t *random;
    uint8_t m;
    bool null_comp = false;

    memset(&ch, 0, sizeof(ch));
    hs_cur_init(&c, msg->body, msg->len);
    /* RFC 6347 §4.2.1 ClientHello: client_version, random,
     * session_id<0..32>, cookie<0..2^8-1>, cipher_suites<2..2^16-2>,
     * compression_methods<1..2^8-1>, extensions<0..2^16-1> (optional). */
    CR_ENSURE(hs_cur_u16(&c, &ch.version) && hs_cur_span(&c, &random, DP_HELLO_RANDOM_LEN) &&
                  hs_cur_prefixed8(&c, &sid) && hs_cur_prefixed8(&c, &cookie) &&
                  hs_cur_prefixed16(&c, &ch.suites) && hs_cur_prefixed8(&c, &comp),
              CR_ERR_DECODE);
    CR_ENSURE(hs_cur_len(&sid) <= DP_HELLO_SESSION_ID_MAX, CR_ERR_DECODE);
    ch.session_id = sid;
    CR_ENSURE(hs_cur_len(&ch.suites) >= 2 && hs_cur_len(&ch.suites) % 2 == 0, CR_ERR_DECODE);
    CR_ENSURE(hs_cur_len(&comp) >= 1, CR_ERR_DECODE);
    if (hs_cur_len(&c) > 0) {
        CR_ENSURE(hs_cur_prefixed16(&c, &exts), CR_ERR_DECODE);
        CR_ENSURE(hs_cur_len(&c) == 0, CR_ERR_DECODE); /* consumed exactly */
        CR_GUARD(parse_extensions(hs, &exts, &ch));
    }
    /* DTLS versions count down: 0xfeff is 1.0, 0xfefd is 1.2.  A client
     * whose highest version is below 1.2 gets protocol_version
     * (RFC 5246 §E.1). */
    CR_ENSURE((ch.version >> 8) == 0xfe && ch.version <= DP_VERSION_DTLS12,
              HS_ERR_PROTOCOL_VERSION);
    while (hs_cur_u8(&comp, &m))
        null_comp |= m == 0;
    CR_ENSURE(null_comp, HS_ERR_ILLEGAL);
    /* RFC 5746 §3.6: SCSV or an empty renegotiation_info both count. */
    hs->secure_reneg = ch.reneg || hs_ch_suite_offered(&ch, DP_SCSV_EMPTY_RENEGOTIATION_INFO);
    hs->ems = ch.ems;
    /* RFC 7627 §5.2: a server that requires EMS aborts with
     * handshake_failure when the client did not offer it. */
    hs->offer_version = ch.version;
    hs->offer_ems = ch.ems;
    hs->offer_groups = ch.groups_sent;
    memcpy(hs->offer_group_ids, ch.groups, ch.n_groups * sizeof(ch.groups[0]));
    hs->n_offer_groups = ch.n_groups;
    hs->offer_groups_more = ch.groups_more;
    hs->offer_sig_algs = ch.sig_algs_sent;
    {
        struct hs_cur sc = ch.suites;
        uint16_t id;
        while (hs->n_offer_suites < 4 && hs_cur_u16(&sc, &id))
            hs->offer_suites[hs->n_offer_suites++] = id;
    }
    if (!ch.ems && hs->ctx->p.require_ems) {
        hs->fail_reason = HS_FAIL_NO_EMS;
        return HS_ERR_HANDSHAKE;
    }
    memcpy(hs->client_random, random, DP_HELLO_RANDOM_LEN);
    CR_ENSURE(RAND_bytes(hs->server_random, DP_HELLO_RANDOM_LEN) == 1, CR_ERR_CRYPTO);
    /* RFC 5077 §3.1 / RFC 5246 §7.3: a ticket or a cached session_id that
     * resumes takes the abbreviated handshake (the table's resume step). */
    int resume = hs_resume_try(hs, &ch, now_ms);
    CR_GUARD(resume);
    if (resume == 1) {
        hs->keys.suite = hs->suite->id;
        hs->keys.kex = hs->suite->kex;
        hs->keys.ems = true;
        hs->keys.aead = hs->suite->aead;
        hs->keys.resumed = true;
        hs->next_msg_seq = msg->seq;
        CR_GUARD(hs_transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));
        CR_GUARD(hs_build_resumed_flight(hs, &ch));
        hs->cur_timeout_ms = hs->ctx->p.retrans_initial_ms;
        hs->timer_deadline_ms = now_ms + hs->cur_timeout_ms;
        CR_GUARD(hs_emit_flight(hs, out));
        return HS_STEP_RESUME;
    }
    CR_GUARD(choose_suite(hs, &ch));
    hs->cert_requested =
        hs->ctx->p.client_auth != HS_CLIENT_AUTH_NONE &&
        (hs->suite->kex == HS_KEX_ECDHE_ECDSA || hs->suite->kex == HS_KEX_ECDHE_RSA);
    if (hs->cert_requested && hs->ctx->p.client_auth == HS_CLIENT_AUTH_REQUIRE)
        CR_ENSURE(hs->ctx->creds->ca, HS_ERR_HANDSHAKE); /* cannot verify anyone */
    /* Only a client CertificateVerify is signed over the raw messages. */
    hs->keep_transcript = hs->cert_requested;
    hs->keys.suite = hs->suite->id;
    hs->keys.kex = hs->suite->kex;
    hs->keys.ems = hs->ems;
    hs->keys.aead = hs->suite->aead;

    /* RFC 6347 §4.2.2: after a stateless HelloVerifyRequest exchange the
     * server's ServerHello carries the same message_seq as the ClientHello
     * it answers (both are 1 after the cookie round trip). */
    hs->next_msg_seq = msg->seq;
    CR_GUARD(hs_transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));
    CR_GUARD(hs_build_server_flight(hs, &ch));
    hs->cur_timeout_ms = hs->ctx->p.retrans_initial_ms;
    hs->timer_deadline_ms = now_ms + hs->cur_timeout_ms;
    CR_GUARD(hs_emit_flight(hs, out));
    /* With a CertificateRequest in the flight the client's Certificate
     * comes next (the table's alternative), else its ClientKeyExchange. */
    return hs->cert_requested ? HS_STEP_ALT : HS_STEP_NEXT;
}
