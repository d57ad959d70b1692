/* fuzz_record.c — libFuzzer target for the record layer (dataplane/dp_record.c).
 *
 * Input: byte 0 is the listener's cid_len (raw, so lengths above
 * DP_REC_CID_MAX_LEN are exercised too); the rest is one UDP payload.
 * Checks, beyond "no crash / no sanitizer report":
 *   - records are contiguous, inside the buffer, and their sizes sum to the
 *     bytes consumed; OK means the whole datagram was consumed;
 *   - every parsed header obeys the rules the parser claims to enforce
 *     (type, version per epoch, CID framing, length limits, zero length);
 *   - dp_record_split agrees with a loop over dp_record_next;
 *   - dp_record_write_hdr of each parsed header reproduces its bytes.
 * Owns nothing; must not keep state between inputs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ENSURE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void check_record(const struct dp_record *r, uint8_t cid_len)
{
    FUZZ_ENSURE(r->type >= DP_CT_CHANGE_CIPHER_SPEC && r->type <= DP_CT_TLS12_CID);
    FUZZ_ENSURE(r->version == DP_VERSION_DTLS12 ||
                (r->version == DP_VERSION_DTLS10 && r->epoch == 0));
    FUZZ_ENSURE(r->seq <= DP_REC_SEQ_MAX);
    FUZZ_ENSURE(r->fragment == r->hdr + r->hdr_len);
    if (r->type == DP_CT_TLS12_CID) {
        FUZZ_ENSURE(cid_len > 0 && cid_len <= DP_REC_CID_MAX_LEN);
        FUZZ_ENSURE(r->epoch != 0);
        FUZZ_ENSURE(r->cid_len == cid_len && r->cid == r->hdr + 11);
        FUZZ_ENSURE(r->hdr_len == DP_REC_HDR_LEN + cid_len);
    } else {
        FUZZ_ENSURE(r->cid == NULL && r->cid_len == 0);
        FUZZ_ENSURE(r->hdr_len == DP_REC_HDR_LEN);
    }
    if (r->epoch == 0)
        FUZZ_ENSURE(r->length <= DP_REC_PLAINTEXT_MAX_LEN);
    else
        FUZZ_ENSURE(r->length <= DP_REC_CIPHERTEXT_MAX_LEN);
    if (r->length == 0)
        FUZZ_ENSURE(r->epoch == 0 && r->type == DP_CT_APPLICATION_DATA);

    uint8_t again[DP_REC_HDR_LEN + DP_REC_CID_MAX_LEN];
    size_t h = dp_record_write_hdr(again, r->type, r->version, r->epoch, r->seq, r->cid, r->cid_len,
                                   r->length);
    FUZZ_ENSURE(h == r->hdr_len);
    FUZZ_ENSURE(memcmp(again, r->hdr, h) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t cid_len = data[0];
    const uint8_t *buf = data + 1;
    size_t len = size - 1;

    struct dp_record recs[DP_REC_MAX_PER_DGRAM];
    int err = -1;
    unsigned n = dp_record_split(buf, len, cid_len, recs, DP_REC_MAX_PER_DGRAM, &err);
    FUZZ_ENSURE(n <= DP_REC_MAX_PER_DGRAM);
    FUZZ_ENSURE(err >= DP_RECORD_OK && err < DP_RECORD_ERR_N);
    FUZZ_ENSURE(dp_record_err_name(err) != NULL);

    const uint8_t *end = buf + len;
    const uint8_t *expect = buf;
    for (unsigned i = 0; i < n; i++) {
        const struct dp_record *r = &recs[i];
        FUZZ_ENSURE(r->hdr == expect);
        FUZZ_ENSURE(r->hdr_len <= (size_t)(end - r->hdr));
        FUZZ_ENSURE(r->length <= (size_t)(end - r->fragment));
        check_record(r, cid_len);
        expect = r->fragment + r->length;
    }
    size_t consumed = (size_t)(expect - buf);
    if (err == DP_RECORD_OK)
        FUZZ_ENSURE(consumed == len && len > 0);
    else
        FUZZ_ENSURE(consumed < len || len == 0);
    if (err == DP_RECORD_ERR_TOO_MANY)
        FUZZ_ENSURE(n == DP_REC_MAX_PER_DGRAM);

    /* The same walk with dp_record_next. */
    const uint8_t *p = buf;
    size_t left = len;
    unsigned m = 0;
    int next_err = len == 0 ? DP_RECORD_ERR_TRUNCATED_HEADER : DP_RECORD_OK;
    while (left > 0 && m < DP_REC_MAX_PER_DGRAM) {
        struct dp_record r;
        const uint8_t *before = p;
        size_t left_before = left;
        next_err = dp_record_next(&p, &left, cid_len, &r);
        if (next_err != DP_RECORD_OK) {
            FUZZ_ENSURE(p == before && left == left_before);
            break;
        }
        const struct dp_record *q = &recs[m];
        FUZZ_ENSURE(r.hdr == q->hdr && r.fragment == q->fragment && r.cid == q->cid &&
                    r.seq == q->seq && r.hdr_len == q->hdr_len && r.length == q->length &&
                    r.version == q->version && r.epoch == q->epoch && r.type == q->type &&
                    r.cid_len == q->cid_len);
        m++;
    }
    if (left > 0 && m == DP_REC_MAX_PER_DGRAM)
        next_err = DP_RECORD_ERR_TOO_MANY;
    FUZZ_ENSURE(m == n && next_err == err);
    return 0;
}
