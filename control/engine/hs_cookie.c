/* hs_cookie.c — stateless cookie exchange (RFC 6347 §4.2.1).
 *
 * Owns: nothing (the secrets live in struct hs_ctx, the MAC in
 * crypto/cr_cookie.c).  Must not: allocate, keep state per peer, or answer
 * with more bytes than it received (no amplification).
 *
 * What the cookie covers (in this order):
 *   peer family (1) || peer port (2, big endian) || peer address (16; an
 *   IPv4 address in the first 4 bytes, the rest zero) ||
 *   ClientHello.client_version (2) || ClientHello.random (32)
 * These are fixed fields that precede the cookie, so they are inside any
 * first fragment that carries the cookie: a fragmented ClientHello is
 * checked on its first fragment alone.  cipher_suites and extensions are
 * not covered (they may be in later fragments).  Nor is the session_id:
 * RFC 6347 §4.2.1 asks the client to repeat it after the
 * HelloVerifyRequest, but Mbed TLS 2.28 (the stack of many devices) draws
 * a fresh random session_id for every ClientHello that carries a session
 * ticket (RFC 5077 §3.4 lets a client send one), so a cookie bound to it
 * never verified and such a client looped on HelloVerifyRequests
 * (interop "Mbed TLS by ticket").  The random still binds the cookie to
 * one ClientHello of one address and port.
 *
 * The cookie is HMAC-SHA256 truncated to 32 bytes, or shorter when the
 * HelloVerifyRequest would otherwise be larger than the ClientHello
 * datagram; below CR_COOKIE_MIN_LEN bytes the datagram is dropped.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs.h"
#include "hs_cursor.h"
#include "hs_priv.h"
#include "hs_reasm.h"

#include <string.h>

#include "dp_record.h"
#include "dp_wire.h"

/* HelloVerifyRequest: record header + handshake header + server_version(2)
 * + cookie length (1); the cookie follows. */
#define HS_HVR_FIXED_LEN (DP_REC_HDR_LEN + DP_HS_HDR_LEN + 2 + 1)

int hs_cookie_input(const struct hs_peer *peer, uint16_t client_version, const uint8_t *random,
                    uint8_t *out, size_t *out_len)
{
    size_t n = 0;

    CR_ENSURE(peer && random && out && out_len, CR_ERR_INVAL);
    CR_ENSURE(peer->family == 4 || peer->family == 6, CR_ERR_INVAL);
    out[n++] = peer->family;
    out[n++] = (uint8_t)(peer->port >> 8);
    out[n++] = (uint8_t)peer->port;
    memset(out + n, 0, 16);
    memcpy(out + n, peer->addr, peer->family == 4 ? 4 : 16);
    n += 16;
    out[n++] = (uint8_t)(client_version >> 8);
    out[n++] = (uint8_t)client_version;
    memcpy(out + n, random, DP_HELLO_RANDOM_LEN);
    n += DP_HELLO_RANDOM_LEN;
    *out_len = n;
    return 0;
}

int hs_cookie_check(const struct hs_ctx *ctx, const struct hs_peer *peer, const uint8_t *dgram,
                    size_t len, uint8_t *out_hvr, size_t out_cap, size_t *out_hvr_len)
{
    struct hs_ch_view v;
    uint8_t in[HS_COOKIE_INPUT_MAX_LEN], mac[CR_COOKIE_MAC_LEN];
    size_t in_len;

    if (out_hvr_len)
        *out_hvr_len = 0;
    if (!ctx || !peer || !dgram || !out_hvr || !out_hvr_len)
        return HS_COOKIE_DROP;
    /* RFC 6347 §4.2.1 / RFC 5246 §7.4.1.2: client_version, random,
     * session_id<0..32>, cookie<0..2^8-1> must all be in the first
     * record's fragment, which starts the message (hs_ch_peek checks every
     * length on the way, and the ClientHello against HS_MSG_MAX_BYTES). */
    if (hs_ch_peek(dgram, len, &v) != HS_CH_PEEK_OK || v.frag_off != 0 || !v.has_ids)
        return HS_COOKIE_DROP;
    if ((v.client_version >> 8) != 0xfe)
        return HS_COOKIE_DROP;
    if (hs_cookie_input(peer, v.client_version, v.random, in, &in_len) != 0)
        return HS_COOKIE_DROP;

    if (v.cookie_len > 0 && cr_cookie_verify(&ctx->cookie, in, in_len, v.cookie, v.cookie_len) == 0)
        return HS_COOKIE_VALID;

    /* HelloVerifyRequest, never larger than what we received. */
    if (len < HS_HVR_FIXED_LEN + CR_COOKIE_MIN_LEN)
        return HS_COOKIE_DROP;
    size_t cookie_len = len - HS_HVR_FIXED_LEN;
    if (cookie_len > CR_COOKIE_MAC_LEN)
        cookie_len = CR_COOKIE_MAC_LEN;
    size_t hvr_len = HS_HVR_FIXED_LEN + cookie_len;
    if (out_cap < hvr_len)
        return HS_COOKIE_DROP;
    if (cr_cookie_mac(&ctx->cookie, in, in_len, mac) != 0)
        return HS_COOKIE_DROP;

    uint8_t *p = out_hvr;
    size_t body_len = 2 + 1 + cookie_len;
    /* RFC 6347 §4.2.1: "the server MUST use the record sequence number in
     * the ClientHello as the record sequence number in the
     * HelloVerifyRequest"; "DTLS 1.2 server implementations SHOULD use DTLS
     * version 1.0 regardless of the version of TLS that is expected to be
     * negotiated" (server_version and record version 0xfeff). */
    p += dp_record_write_hdr(p, DP_CT_HANDSHAKE, DP_VERSION_DTLS10, 0, v.rec_seq, NULL, 0,
                             (uint16_t)(DP_HS_HDR_LEN + body_len));
    /* One unfragmented message; message_seq echoes the ClientHello's. */
    const struct hs_hdr hvr = {DP_HS_HELLO_VERIFY_REQUEST, (uint32_t)body_len, v.msg_seq, 0,
                               (uint32_t)body_len};
    hs_hdr_put(p, &hvr);
    p += DP_HS_HDR_LEN;
    *p++ = (uint8_t)(DP_VERSION_DTLS10 >> 8);
    *p++ = (uint8_t)DP_VERSION_DTLS10;
    *p++ = (uint8_t)cookie_len;
    memcpy(p, mac, cookie_len);
    *out_hvr_len = hvr_len;
    return HS_COOKIE_SEND_HVR;
}
