/* hs_flight.c — the server's current flight (RFC 6347 §4.2.4): stored
 * copies of its messages, serialized into records and packed into
 * datagrams of at most the path MTU, fragmenting handshake messages where
 * they do not fit (RFC 6347 §4.2.3).  Every emit takes fresh record sequence
 * numbers, so a retransmission is simply a second emit.
 *
 * Owns: the copies of the flight's messages (wiped when freed).
 * Must not: know about handshake states or keys; epoch >= 1 records are
 * sealed by the caller's hs_record_sealer.
 * Called only from the thread that owns the handshake.
 */
#include "hs_flight.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dp_record.h"
#include "hs_reasm.h"

/* Largest handshake fragment one record can carry (RFC 6347 §4.1:
 * the plaintext of a record is at most 2^14 bytes). */
#define FLIGHT_FRAG_MAX_BYTES (DP_REC_PLAINTEXT_MAX_LEN - DP_HS_HDR_LEN)

void hs_flight_init(struct hs_flight *f)
{
    memset(f, 0, sizeof(*f));
}

void hs_flight_reset(struct hs_flight *f)
{
    for (unsigned i = 0; i < f->n_items; i++) {
        struct hs_flight_item *it = &f->items[i];
        if (it->body) {
            OPENSSL_cleanse(it->body, it->len);
            free(it->body);
        }
    }
    memset(f, 0, sizeof(*f));
}

int hs_flight_add_handshake(struct hs_flight *f, uint16_t epoch, uint8_t msg_type, uint16_t msg_seq,
                            const uint8_t *body, uint32_t len)
{
    CR_ENSURE(f->n_items < HS_FLIGHT_MAX_ITEMS, CR_ERR_LIMIT);
    CR_ENSURE(epoch <= 1, CR_ERR_INVAL);
    CR_ENSURE(len <= HS_MSG_MAX_BYTES, CR_ERR_LIMIT);
    CR_ENSURE(body || len == 0, CR_ERR_INVAL);
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        CR_ENSURE(copy, CR_ERR_NOMEM);
        memcpy(copy, body, len);
    }
    struct hs_flight_item *it = &f->items[f->n_items++];
    it->is_ccs = 0;
    it->msg_type = msg_type;
    it->msg_seq = msg_seq;
    it->epoch = epoch;
    it->len = len;
    it->body = copy;
    return 0;
}

int hs_flight_add_ccs(struct hs_flight *f, uint16_t epoch)
{
    CR_ENSURE(f->n_items < HS_FLIGHT_MAX_ITEMS, CR_ERR_LIMIT);
    CR_ENSURE(epoch <= 1, CR_ERR_INVAL);
    struct hs_flight_item *it = &f->items[f->n_items++];
    memset(it, 0, sizeof(*it));
    it->is_ccs = 1;
    it->epoch = epoch;
    return 0;
}

/* Serialization state of one emit. */
struct emitter {
    size_t mtu;
    const struct hs_record_sealer *sealer;
    uint64_t seq[2];
    uint8_t *buf;
    size_t cap;
    size_t used;        /* bytes of buf written */
    size_t dgram_start; /* offset of the open datagram in buf */
    struct hs_dgram *dgrams;
    unsigned max;
    unsigned n;                   /* datagrams closed so far */
    uint8_t pt[HS_MTU_MAX_BYTES]; /* plaintext scratch for sealed records */
};

static size_t record_overhead(const struct emitter *e, uint16_t epoch)
{
    return DP_REC_HDR_LEN + (epoch > 0 ? e->sealer->overhead : 0);
}

static size_t dgram_room(const struct emitter *e)
{
    return e->mtu - (e->used - e->dgram_start);
}

static int close_dgram(struct emitter *e)
{
    if (e->used == e->dgram_start)
        return 0;
    CR_ENSURE(e->n < e->max, CR_ERR_LIMIT);
    e->dgrams[e->n].data = e->buf + e->dgram_start;
    e->dgrams[e->n].len = e->used - e->dgram_start;
    e->n++;
    e->dgram_start = e->used;
    return 0;
}

/* Makes sure the open datagram has room for rec_len bytes, closing it and
 * starting a new one otherwise. */
static int make_room(struct emitter *e, size_t rec_len)
{
    if (rec_len > dgram_room(e))
        CR_GUARD(close_dgram(e));
    CR_ENSURE(rec_len <= dgram_room(e), CR_ERR_INVAL);
    CR_ENSURE(rec_len <= e->cap - e->used, CR_ERR_LIMIT);
    return 0;
}

/* Appends one record whose plaintext is hdr (hdr_len bytes) + data. */
static int put_record(struct emitter *e, uint8_t type, uint16_t epoch, const uint8_t *hdr,
                      size_t hdr_len, const uint8_t *data, size_t data_len)
{
    size_t pt_len = hdr_len + data_len;
    size_t rec_len = record_overhead(e, epoch) + pt_len;
    CR_GUARD(make_room(e, rec_len));
    CR_ENSURE(e->seq[epoch] <= DP_REC_SEQ_MAX, CR_ERR_LIMIT);
    uint8_t *out = e->buf + e->used;
    if (epoch == 0) {
        size_t h = dp_record_write_hdr(out, type, DP_VERSION_DTLS12, epoch, e->seq[epoch], NULL, 0,
                                       (uint16_t)pt_len);
        memcpy(out + h, hdr, hdr_len);
        if (data_len > 0)
            memcpy(out + h + hdr_len, data, data_len);
        e->used += h + pt_len;
    } else {
        size_t out_len = 0;
        memcpy(e->pt, hdr, hdr_len);
        if (data_len > 0)
            memcpy(e->pt + hdr_len, data, data_len);
        size_t out_cap = dgram_room(e);
        if (out_cap > e->cap - e->used)
            out_cap = e->cap - e->used;
        int rc = e->sealer->seal(e->sealer->arg, type, epoch, e->seq[epoch], e->pt, pt_len, out,
                                 out_cap, &out_len);
        OPENSSL_cleanse(e->pt, pt_len);
        CR_GUARD(rc);
        /* The sealer must stay within the overhead it declared, or the
         * datagram could exceed the MTU. */
        CR_ENSURE(out_len <= rec_len, CR_ERR_INVAL);
        e->used += out_len;
    }
    e->seq[epoch]++;
    return 0;
}

static int emit_handshake(struct emitter *e, const struct hs_flight_item *it)
{
    uint8_t hdr[DP_HS_HDR_LEN];
    size_t per_rec = record_overhead(e, it->epoch) + DP_HS_HDR_LEN;
    uint32_t off = 0;

    do {
        /* RFC 6347 §4.2.3: "each DTLS message MUST fit within a single
         * transport layer datagram" -- messages larger than the room left
         * are fragmented; a fragment needs at least one body byte unless
         * the whole message is empty. */
        size_t need = it->len > 0 ? 1 : 0;
        if (dgram_room(e) < per_rec + need)
            CR_GUARD(close_dgram(e));
        size_t room = dgram_room(e);
        CR_ENSURE(room >= per_rec + need, CR_ERR_INVAL);
        size_t flen = it->len - off;
        if (flen > room - per_rec)
            flen = room - per_rec;
        if (flen > FLIGHT_FRAG_MAX_BYTES)
            flen = FLIGHT_FRAG_MAX_BYTES;
        const struct hs_hdr h = {it->msg_type, it->len, it->msg_seq, off, (uint32_t)flen};
        hs_hdr_put(hdr, &h);
        CR_GUARD(put_record(e, DP_CT_HANDSHAKE, it->epoch, hdr, sizeof(hdr),
                            it->body ? it->body + off : NULL, flen));
        off += (uint32_t)flen;
    } while (off < it->len);
    return 0;
}

int hs_flight_emit(const struct hs_flight *f, size_t mtu, const struct hs_record_sealer *sealer,
                   uint64_t seq[2], uint8_t *buf, size_t cap, struct hs_dgram *dgrams, unsigned max,
                   unsigned *n_out)
{
    static const uint8_t ccs_body[DP_CCS_LEN] = {DP_CCS_VALUE};
    struct emitter *e;
    int rc = 0;

    *n_out = 0;
    CR_ENSURE(mtu <= HS_MTU_MAX_BYTES, CR_ERR_INVAL);
    /* Every record of the flight must fit in an empty datagram. */
    for (unsigned i = 0; i < f->n_items; i++) {
        const struct hs_flight_item *it = &f->items[i];
        CR_ENSURE(it->epoch <= 1, CR_ERR_INVAL);
        CR_ENSURE(it->epoch == 0 || (sealer && sealer->seal), CR_ERR_INVAL);
        size_t min_rec = DP_REC_HDR_LEN + (it->epoch > 0 ? sealer->overhead : 0) +
                         (it->is_ccs ? DP_CCS_LEN : DP_HS_HDR_LEN + (it->len > 0 ? 1 : 0));
        CR_ENSURE(min_rec <= mtu, CR_ERR_INVAL);
    }

    e = malloc(sizeof(*e));
    CR_ENSURE(e, CR_ERR_NOMEM);
    e->mtu = mtu;
    e->sealer = sealer;
    e->seq[0] = seq[0];
    e->seq[1] = seq[1];
    e->buf = buf;
    e->cap = cap;
    e->used = 0;
    e->dgram_start = 0;
    e->dgrams = dgrams;
    e->max = max;
    e->n = 0;

    for (unsigned i = 0; i < f->n_items; i++) {
        const struct hs_flight_item *it = &f->items[i];
        if (it->is_ccs)
            CR_GUARD_GOTO(put_record(e, DP_CT_CHANGE_CIPHER_SPEC, it->epoch, ccs_body,
                                     sizeof(ccs_body), NULL, 0),
                          out);
        else
            CR_GUARD_GOTO(emit_handshake(e, it), out);
    }
    CR_GUARD_GOTO(close_dgram(e), out);
    /* Commit the sequence numbers only when the whole flight was written. */
    seq[0] = e->seq[0];
    seq[1] = e->seq[1];
    *n_out = e->n;
    rc = 0;
out:
    free(e); /* e->pt was wiped after each sealed record */
    return rc;
}
