/* dp_record.c — DTLS 1.2 record framing (RFC 6347 §4.1, RFC 9146 §4).
 *
 * Owns: cutting a UDP payload into records, the header checks that can be
 * made without keys (type, version, epoch-dependent length limits, CID
 * framing), and writing record headers.
 * Must not: allocate, decrypt, look at record bodies, know handshake
 * messages, or touch DPDK.  Every rejection is a silent drop for the caller
 * (RFC 6347 §4.1.2.7), reported as a DP_RECORD_ERR_* reason for counters.
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

/* Offsets inside the RFC 6347 §4.1 header. */
#define REC_OFF_TYPE      0
#define REC_OFF_VERSION   1
#define REC_OFF_EPOCH     3
#define REC_OFF_SEQ       5
#define REC_OFF_CID       11 /* tls12_cid records: the CID, then the length */
#define REC_LEN_FIELD_LEN 2

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

static int type_known(uint8_t type)
{
    return type >= DP_CT_CHANGE_CIPHER_SPEC && type <= DP_CT_TLS12_CID;
}

int dp_record_next(const uint8_t **buf, size_t *len, uint8_t cid_len, struct dp_record *out)
{
    const uint8_t *p = *buf;
    size_t avail = *len;

    /* RFC 6347 §4.1: the fixed part of every header is 13 bytes; a tls12_cid
     * header is at least as long, so this is the first check for both. */
    if (p == NULL || avail < DP_REC_HDR_LEN)
        return DP_RECORD_ERR_TRUNCATED_HEADER;

    uint8_t type = p[REC_OFF_TYPE];
    uint16_t version = dp_load_be16(p + REC_OFF_VERSION);
    uint16_t epoch = dp_load_be16(p + REC_OFF_EPOCH);

    if (!type_known(type))
        return DP_RECORD_ERR_BAD_TYPE;
    /* RFC 6347 §4.1: version is {254, 253} for DTLS 1.2.  DTLS 1.0
     * ({254, 255}) is tolerated only in epoch 0, where a ClientHello may
     * use it before the version is negotiated (RFC 6347 §4.2.1). */
    if (version != DP_VERSION_DTLS12 && !(version == DP_VERSION_DTLS10 && epoch == 0))
        return DP_RECORD_ERR_BAD_VERSION;

    size_t hdr_len = DP_REC_HDR_LEN;
    const uint8_t *cid = NULL;
    uint8_t rec_cid_len = 0;
    if (type == DP_CT_TLS12_CID) {
        if (cid_len == 0 || cid_len > DP_REC_CID_MAX_LEN)
            return DP_RECORD_ERR_CID_UNEXPECTED;
        /* RFC 9146 §4: the CID-enhanced record format is used only once the
         * connection is protected (epoch > 0). */
        if (epoch == 0)
            return DP_RECORD_ERR_CID_EPOCH0;
        hdr_len += cid_len;
        if (avail < hdr_len)
            return DP_RECORD_ERR_TRUNCATED_HEADER;
        cid = p + REC_OFF_CID;
        rec_cid_len = cid_len;
    }

    uint16_t length = dp_load_be16(p + hdr_len - REC_LEN_FIELD_LEN);

    /* RFC 6347 §4.1 / RFC 5246 §6.2.1: "The length MUST NOT exceed 2^14"
     * for TLSPlaintext; RFC 5246 §6.2.3: "The length MUST NOT exceed
     * 2^14 + 2048" for TLSCiphertext. */
    uint32_t max_len = epoch == 0 ? DP_REC_PLAINTEXT_MAX_LEN : DP_REC_CIPHERTEXT_MAX_LEN;
    if (length > max_len)
        return DP_RECORD_ERR_TOO_LONG;
    /* RFC 5246 §6.2.1: no zero-length Handshake, Alert or ChangeCipherSpec
     * fragments; a protected record carries at least the AEAD tag. */
    if (length == 0 && (epoch != 0 || type != DP_CT_APPLICATION_DATA))
        return DP_RECORD_ERR_EMPTY;
    /* Subtraction form: avail >= hdr_len was established above. */
    if (length > avail - hdr_len)
        return DP_RECORD_ERR_TRUNCATED_BODY;

    out->hdr = p;
    out->fragment = p + hdr_len;
    out->cid = cid;
    out->seq = dp_load_be48(p + REC_OFF_SEQ);
    out->hdr_len = (uint16_t)hdr_len;
    out->length = length;
    out->version = version;
    out->epoch = epoch;
    out->type = type;
    out->cid_len = rec_cid_len;

    *buf = p + hdr_len + length;
    *len = avail - hdr_len - length;
    return DP_RECORD_OK;
}

unsigned dp_record_split(const uint8_t *buf, size_t len, uint8_t cid_len, struct dp_record *recs,
                         unsigned max, int *out_err)
{
    unsigned n = 0;
    int err = DP_RECORD_OK;

    if (len == 0) {
        err = DP_RECORD_ERR_TRUNCATED_HEADER;
    } else {
        /* RFC 6347 §4.1.1: "Multiple DTLS records may be placed in a single
         * datagram." */
        while (len > 0) {
            if (recs == NULL || n >= max) {
                err = DP_RECORD_ERR_TOO_MANY;
                break;
            }
            err = dp_record_next(&buf, &len, cid_len, &recs[n]);
            if (err != DP_RECORD_OK)
                break;
            n++;
        }
    }
    if (out_err != NULL)
        *out_err = err;
    return n;
}

size_t dp_record_write_hdr(uint8_t *out, uint8_t type, uint16_t version, uint16_t epoch,
                           uint64_t seq, const uint8_t *cid, uint8_t cid_len, uint16_t length)
{
    if (seq > DP_REC_SEQ_MAX)
        return 0;
    if (cid != NULL && cid_len > DP_REC_CID_MAX_LEN)
        return 0;

    size_t hdr_len = DP_REC_HDR_LEN;
    out[REC_OFF_TYPE] = type;
    dp_store_be16(out + REC_OFF_VERSION, version);
    dp_store_be16(out + REC_OFF_EPOCH, epoch);
    dp_store_be48(out + REC_OFF_SEQ, seq);
    if (cid != NULL && cid_len > 0) {
        /* RFC 9146 §4: the CID sits between the sequence number and the
         * length. */
        memcpy(out + REC_OFF_CID, cid, cid_len);
        hdr_len += cid_len;
    }
    dp_store_be16(out + hdr_len - REC_LEN_FIELD_LEN, length);
    return hdr_len;
}
