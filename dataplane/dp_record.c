/* dp_record.c — DTLS 1.2 record framing (RFC 6347 §4.1, RFC 9146 §4).
 *
 * Owns: cutting a UDP payload into records, the header checks that can be
 * made without keys (type, version, epoch-dependent length limits, CID
 * framing), and writing record headers.
 * Must not: allocate, decrypt, look at record bodies, know handshake
 * messages, or touch DPDK.  The parser itself (dp_record_next,
 * dp_record_split) is static inline in dp_record.h so that the worker's
 * hot path inlines it; the decisions below apply to it.  Every rejection is a silent drop for the
 * caller (RFC 6347 §4.1.2.7), reported as a DP_RECORD_ERR_* reason for counters.
 *
 * Decisions (documented here so that tests and callers agree):
 *  - Content types 20..25 are accepted.  Heartbeat (24) is reported as a
 *    valid type: framing is well defined (RFC 6520 §3) and the caller decides
 *    (the gateway never negotiates heartbeat, so its workers punt or drop it).
 *  - Version 0xfefd is accepted in every epoch; 0xfeff (DTLS 1.0) only in
 *    epoch 0, because a ClientHello (and a HelloVerifyRequest exchange) may
 *    carry it (RFC 6347 §4.2.1).  Anything else is BAD_VERSION.
 *  - Zero-length records: RFC 5246 §6.2.1 "Implementations MUST NOT send
 *    zero-length fragments of Handshake, Alert, or ChangeCipherSpec content
 *    types.  Zero-length fragments of Application data MAY be sent".  So in
 *    epoch 0 an empty record is EMPTY unless it is application_data.  A
 *    protected record (epoch > 0) always carries at least an AEAD tag, so an
 *    empty one is EMPTY whatever its type.
 *  - tls12_cid (25) records: header is type ver epoch seq cid[cid_len]
 *    length (RFC 9146 §4), cid_len being the listener's configured length.
 *    On a listener without CID (cid_len 0) they are CID_UNEXPECTED; a
 *    cid_len above DP_REC_CID_MAX_LEN is not a valid configuration and is
 *    treated the same way.  CIDs only appear in protected records, so a
 *    tls12_cid record in epoch 0 is CID_EPOCH0.  Records of other types stay
 *    legal on a CID listener (a session may not have negotiated a CID).
 *  - BAD_SEQ cannot come out of the parser: the wire field is 48 bits wide.
 *    It is kept for callers that check sequence numbers they generate.
 *  - A datagram of 0 bytes, or a trailing fragment shorter than a header, is
 *    TRUNCATED_HEADER.
 */
#include "dp_record.h"

#include <string.h>

const char *dp_record_err_name(int err)
{
    switch (err) {
    case DP_RECORD_OK:
        return "ok";
#define X(name, str)                                                                               \
    case DP_RECORD_ERR_##name:                                                                     \
        return str;
        DP_RECORD_ERRORS(X)
#undef X
    default:
        return "unknown record error";
    }
}

size_t dp_record_write_hdr(uint8_t *out, uint8_t type, uint16_t version, uint16_t epoch,
                           uint64_t seq, const uint8_t *cid, uint8_t cid_len, uint16_t length)
{
    if (seq > DP_REC_SEQ_MAX)
        return 0;
    if (cid != NULL && cid_len > DP_REC_CID_MAX_LEN)
        return 0;

    size_t hdr_len = DP_REC_HDR_LEN;
    out[DP_REC_OFF_TYPE] = type;
    dp_store_be16(out + DP_REC_OFF_VERSION, version);
    dp_store_be16(out + DP_REC_OFF_EPOCH, epoch);
    dp_store_be48(out + DP_REC_OFF_SEQ, seq);
    if (cid != NULL && cid_len > 0) {
        /* RFC 9146 §4: the CID sits between the sequence number and the
         * length. */
        memcpy(out + DP_REC_OFF_CID, cid, cid_len);
        hdr_len += cid_len;
    }
    dp_store_be16(out + hdr_len - DP_REC_LEN_FIELD_LEN, length);
    return hdr_len;
}
