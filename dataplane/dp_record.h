/* dp_record.h — DTLS 1.2 record layer framing (RFC 6347 §4.1, RFC 9146 §4).
 *
 * Owns: splitting a UDP payload into records, header bounds and version
 * checks, and writing record headers.  Pure C: no DPDK, no crypto, no
 * handshake knowledge.  Must not allocate.
 * dp_record_next / dp_record_split are static inline: they are the one
 * record parser of the control plane and of the worker's general path.
 * One copy of their checks exists, for the common datagram only (one
 * application-data record, no CID): one_record_fast() in dp_worker.c, kept
 * equal to this parser by the differential test "fast paths match the
 * general checks" in tests/unit/test_worker.c; a change to the checks here
 * must be made there too.
 */
#ifndef DTLSGW_DP_RECORD_H
#define DTLSGW_DP_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "dp_wire.h"

/* Why a record (and the rest of its datagram) was rejected. */
#define DP_RECORD_ERRORS(X)                                                                        \
    X(TRUNCATED_HEADER, "record header truncated")                                                 \
    X(TRUNCATED_BODY, "record body shorter than its length field")                                 \
    X(BAD_TYPE, "unknown content type")                                                            \
    X(BAD_VERSION, "unsupported record version")                                                   \
    X(TOO_LONG, "record length over the RFC limit")                                                \
    X(EMPTY, "zero-length record where content is required")                                       \
    X(CID_UNEXPECTED, "tls12_cid record on a listener without CID")                                \
    X(BAD_SEQ, "sequence number out of range")                                                     \
    X(CID_EPOCH0, "tls12_cid record in epoch 0 (CIDs protect only epoch > 0)")                     \
    X(TOO_MANY, "more records in the datagram than the caller's array holds")

enum dp_record_err {
    DP_RECORD_OK = 0,
#define X(name, str) DP_RECORD_ERR_##name,
    DP_RECORD_ERRORS(X)
#undef X
    DP_RECORD_ERR_N
};
const char *dp_record_err_name(int err);

struct dp_record {
    const uint8_t *hdr;      /* start of the record header */
    const uint8_t *fragment; /* record body */
    const uint8_t *cid;      /* NULL unless type == DP_CT_TLS12_CID */
    uint64_t seq;            /* 48 bits */
    uint16_t hdr_len;        /* 13 or 13 + cid_len */
    uint16_t length;         /* body length */
    uint16_t version;
    uint16_t epoch;
    uint8_t type;
    uint8_t cid_len;
};

/* Writes a record header; cid may be NULL (plain 13-byte header, type as
 * given) or point to cid_len bytes (type should be DP_CT_TLS12_CID).
 * Returns the header length written (13 or 13 + cid_len), or 0 (nothing
 * written) when seq > DP_REC_SEQ_MAX or cid_len > DP_REC_CID_MAX_LEN. */
size_t dp_record_write_hdr(uint8_t *out, uint8_t type, uint16_t version, uint16_t epoch,
                           uint64_t seq, const uint8_t *cid, uint8_t cid_len, uint16_t length);

static inline uint64_t dp_load_be48(const uint8_t *p)
{
    return ((uint64_t)p[0] << 40) | ((uint64_t)p[1] << 32) | ((uint64_t)p[2] << 24) |
           ((uint64_t)p[3] << 16) | ((uint64_t)p[4] << 8) | (uint64_t)p[5];
}
static inline void dp_store_be48(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)(v >> 40);
    p[1] = (uint8_t)(v >> 32);
    p[2] = (uint8_t)(v >> 24);
    p[3] = (uint8_t)(v >> 16);
    p[4] = (uint8_t)(v >> 8);
    p[5] = (uint8_t)v;
}
static inline uint16_t dp_load_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline void dp_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline int dp_record_type_known(uint8_t type)
{
    return type >= DP_CT_CHANGE_CIPHER_SPEC && type <= DP_CT_TLS12_CID;
}

/* Parses the record at *buf (of *len bytes).  On success advances *buf and *len
 * past it and returns DP_RECORD_OK.  On error returns a DP_RECORD_ERR_* code
 * and leaves *buf and *len unchanged: the caller drops the rest of the datagram
 * (RFC 6347 §4.1.2.7: invalid records are silently discarded).
 * cid_len: the connection ID length this listener negotiates (0: no CID; a
 * tls12_cid record is then an error). */
static inline int dp_record_next(const uint8_t **buf, size_t *len, uint8_t cid_len,
                                 struct dp_record *out)
{
    const uint8_t *p = *buf;
    size_t avail = *len;

    /* RFC 6347 §4.1: the fixed part of every header is 13 bytes; a tls12_cid
     * header is at least as long, so this is the first check for both. */
    if (p == NULL || avail < DP_REC_HDR_LEN)
        return DP_RECORD_ERR_TRUNCATED_HEADER;

    uint8_t type = p[DP_REC_OFF_TYPE];
    uint16_t version = dp_load_be16(p + DP_REC_OFF_VERSION);
    uint16_t epoch = dp_load_be16(p + DP_REC_OFF_EPOCH);

    if (!dp_record_type_known(type))
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
        cid = p + DP_REC_OFF_CID;
        rec_cid_len = cid_len;
    }

    uint16_t length = dp_load_be16(p + hdr_len - DP_REC_LEN_FIELD_LEN);

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
    out->seq = dp_load_be48(p + DP_REC_OFF_SEQ);
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

/* Splits a datagram into at most max records.  Returns the number parsed;
 * *out_err is DP_RECORD_OK when the whole datagram was consumed, else the
 * reason the remaining bytes were dropped (DP_RECORD_ERR_TOO_MANY when more
 * than max records were present; DP_RECORD_ERR_TRUNCATED_HEADER for an empty
 * datagram).  out_err may be NULL.  Policy decisions (heartbeat, zero-length
 * records, DTLS 1.0 version, CID in epoch 0) are listed in dp_record.c. */
static inline unsigned dp_record_split(const uint8_t *buf, size_t len, uint8_t cid_len,
                                       struct dp_record *recs, unsigned max, int *out_err)
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

#endif
