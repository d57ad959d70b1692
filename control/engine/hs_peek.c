/* hs_peek.c — looking at a ClientHello before any handshake exists
 * (RFC 6347 §4.2.1-4.2.3): the bounds-checked view of the first record's
 * ClientHello (hs_ch_peek, used by the cookie check and the gateway), and
 * the per-record fragment view of a ClientHello split over records
 * (hs_ch_frag_next, for a caller that reassembles it before the cookie
 * check).
 *
 * Owns: nothing; every pointer handed out points into the caller's bytes.
 * Must not: allocate, keep state, or read a byte before checking that the
 * length field that covers it lies within what was received.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs.h"
#include "hs_cursor.h"
#include "hs_reasm.h"

#include <string.h>

#include "dp_record.h"
#include "dp_wire.h"

/* The handshake header of one epoch-0 record as a ClientHello fragment:
 * fills the record and header fields of out (the fixed fields are
 * ch_fixed_fields's). */
static int ch_record(const struct dp_record *rec, struct hs_ch_view *out)
{
    struct hs_cur c;
    struct hs_hdr h;

    if (rec->type != DP_CT_HANDSHAKE || rec->epoch != 0)
        return HS_CH_PEEK_ERR_NOT_HANDSHAKE;
    hs_cur_init(&c, rec->fragment, rec->length);
    if (!hs_hdr_get(&c, &h))
        return HS_CH_PEEK_ERR_TRUNCATED_HEADER;
    if (h.type != DP_HS_CLIENT_HELLO)
        return HS_CH_PEEK_ERR_NOT_CLIENT_HELLO;
    if (h.length > HS_MSG_MAX_BYTES)
        return HS_CH_PEEK_ERR_TOO_LONG;
    /* RFC 6347 §4.2.3: the fragment lies within the message... */
    if (!hs_hdr_frag_in_msg(&h))
        return HS_CH_PEEK_ERR_BAD_FRAGMENT;
    /* ...and within the record that carries it. */
    if (h.fragment_length > hs_cur_len(&c))
        return HS_CH_PEEK_ERR_TRUNCATED_FRAGMENT;
    memset(out, 0, sizeof(*out));
    out->rec_version = rec->version;
    out->rec_seq = rec->seq;
    out->rec_len = (size_t)rec->hdr_len + rec->length;
    out->msg_seq = h.message_seq;
    out->msg_len = h.length;
    out->frag_off = h.fragment_offset;
    out->frag_len = h.fragment_length;
    out->fragmented = h.fragment_length < h.length;
    out->frag_ends_record = h.fragment_length == hs_cur_len(&c);
    out->frag = hs_cur_data(&c);
    return HS_CH_PEEK_OK;
}

/* RFC 6347 §4.2.1 ClientHello: client_version, random, session_id<0..32>,
 * cookie<0..2^8-1>, then suites and the rest (not looked at here), read
 * from the fragment as far as it holds them. */
static int ch_fixed_fields(struct hs_ch_view *v)
{
    struct hs_cur c, cookie;
    uint8_t sid_len;

    if (v->frag_off != 0)
        return HS_CH_PEEK_OK; /* a later fragment: no fixed fields */
    hs_cur_init(&c, v->frag, v->frag_len);
    if (!hs_cur_u16(&c, &v->client_version) || !hs_cur_span(&c, &v->random, DP_HELLO_RANDOM_LEN))
        goto short_fragment;
    v->has_random = true;
    /* The length byte is checked before the bytes it covers: above 32 it
     * lies, however much follows. */
    if (!hs_cur_u8(&c, &sid_len))
        goto short_fragment;
    if (sid_len > DP_HELLO_SESSION_ID_MAX)
        return HS_CH_PEEK_ERR_BAD_SESSION_ID;
    if (!hs_cur_span(&c, &v->session_id, sid_len) || !hs_cur_prefixed8(&c, &cookie)) {
        v->session_id = NULL;
        goto short_fragment;
    }
    v->session_id_len = sid_len;
    v->cookie = hs_cur_data(&cookie);
    v->cookie_len = (uint8_t)hs_cur_len(&cookie);
    v->has_ids = true;
    return HS_CH_PEEK_OK;

short_fragment:
    /* A first fragment may end anywhere; the whole message may not. */
    return v->fragmented ? HS_CH_PEEK_OK : HS_CH_PEEK_ERR_TRUNCATED_BODY;
}

int hs_ch_peek(const uint8_t *dgram, size_t len, struct hs_ch_view *out)
{
    const uint8_t *buf = dgram;
    size_t left = len;
    struct dp_record rec;

    if (!out || !dgram || dp_record_next(&buf, &left, 0, &rec) != DP_RECORD_OK)
        return HS_CH_PEEK_ERR_RECORD;
    int rc = ch_record(&rec, out);
    if (rc != HS_CH_PEEK_OK)
        return rc;
    return ch_fixed_fields(out);
}

int hs_ch_frag_next(const uint8_t **buf, size_t *left, struct hs_ch_frag *out)
{
    struct dp_record rec;
    struct hs_ch_view v;

    if (*left == 0)
        return 0;
    if (dp_record_next(buf, left, 0, &rec) != DP_RECORD_OK)
        return -1;
    /* One handshake message per record here (what a ClientHello record
     * is): the fragment ends the record. */
    if (ch_record(&rec, &v) != HS_CH_PEEK_OK || !v.frag_ends_record)
        return -1;
    out->rec_version = v.rec_version;
    out->rec_seq = v.rec_seq;
    out->msg_seq = v.msg_seq;
    out->msg_len = v.msg_len;
    out->frag_off = v.frag_off;
    out->frag_len = v.frag_len;
    out->body = v.frag;
    return 1;
}

bool hs_ch_is_fragmented(const uint8_t *dgram, size_t len)
{
    struct hs_ch_frag f;
    const uint8_t *b = dgram;
    size_t left = len;
    return dgram != NULL && hs_ch_frag_next(&b, &left, &f) == 1 && f.frag_len < f.msg_len;
}
