/* hs_reasm.c — reassembly of incoming DTLS handshake fragments
 * (RFC 6347 §4.2.2 "Handshake Message Format", §4.2.3 "Handshake Message
 * Fragmentation and Reassembly").
 *
 * Owns: one slot per pending message_seq in [next_seq, next_seq +
 * HS_REASM_MAX_PENDING_MSGS): the message body being rebuilt plus a bitmap
 * of the bytes received so far, and the body of the last delivered message.
 * Must not: interpret message bodies, decrypt records, or keep anything of a
 * record that was rejected.
 *
 * A record is handled in two passes.  Pass 1 parses and checks every
 * fragment of the record (structure, ranges, caps, consistency with what is
 * buffered and with the record's other fragments) without changing state.
 * Pass 2 allocates the new slots (caps were already checked) and copies the
 * bytes in; it cannot fail after the allocations succeeded, so a rejected
 * record never leaves a partial trace.
 *
 * Called only from the thread that owns the handshake.
 */
#include "hs_reasm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct hs_reasm_slot {
    uint8_t type;
    uint16_t epoch;
    uint32_t len;        /* message length declared by the first fragment */
    uint32_t n_received; /* distinct body bytes received */
    uint8_t *bitmap;     /* (len + 7) / 8 bytes, bit i: body byte i seen */
    uint8_t data[];      /* len bytes of body, then the bitmap */
};

/* One parsed fragment of the record being added. */
struct frag {
    const uint8_t *bytes;
    uint32_t msg_len;
    uint32_t off;
    uint32_t flen;
    uint16_t seq;
    uint8_t type;
    uint8_t window;       /* 1: inside the pending window (to be stored) */
    uint8_t first_of_seq; /* 1: first in-window fragment of its seq here */
};

static uint32_t load_be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[2];
}

static size_t slot_alloc_bytes(uint32_t len)
{
    return sizeof(struct hs_reasm_slot) + (size_t)len + ((size_t)len + 7) / 8;
}

static void slot_free(struct hs_reasm_slot *s)
{
    if (!s)
        return;
    /* Bodies can hold key exchange data: wipe before free. */
    OPENSSL_cleanse(s, slot_alloc_bytes(s->len));
    free(s);
}

static struct hs_reasm_slot *slot_of_body(uint8_t *body)
{
    return (struct hs_reasm_slot *)(void *)(body - offsetof(struct hs_reasm_slot, data));
}

/* The previously delivered body is valid only until the next call. */
static void release_delivered(struct hs_reasm *r)
{
    if (r->delivered) {
        slot_free(slot_of_body(r->delivered));
        r->delivered = NULL;
    }
}

static int bit_is_set(const uint8_t *bm, uint32_t i)
{
    return (bm[i >> 3] >> (i & 7)) & 1;
}

/* Marks [off, off+n) received; returns how many bits were newly set. */
static uint32_t bitmap_set_range(uint8_t *bm, uint32_t off, uint32_t n)
{
    uint32_t added = 0;
    uint32_t i = off;
    uint32_t end = off + n;
    while (i < end && (i & 7) != 0) {
        if (!bit_is_set(bm, i)) {
            bm[i >> 3] |= (uint8_t)(1u << (i & 7));
            added++;
        }
        i++;
    }
    while (end - i >= 8) {
        added += 8u - (uint32_t)__builtin_popcount(bm[i >> 3]);
        bm[i >> 3] = 0xff;
        i += 8;
    }
    while (i < end) {
        if (!bit_is_set(bm, i)) {
            bm[i >> 3] |= (uint8_t)(1u << (i & 7));
            added++;
        }
        i++;
    }
    return added;
}

/* 1 when a byte already received in the slot differs from the fragment. */
static int conflicts_with_slot(const struct hs_reasm_slot *s, const struct frag *f)
{
    if (s->n_received == 0)
        return 0;
    for (uint32_t k = 0; k < f->flen; k++) {
        uint32_t i = f->off + k;
        if (bit_is_set(s->bitmap, i) && s->data[i] != f->bytes[k])
            return 1;
    }
    return 0;
}

/* 1 when two fragments of the same message overlap with different bytes. */
static int conflicts_with_frag(const struct frag *a, const struct frag *b)
{
    uint32_t lo = a->off > b->off ? a->off : b->off;
    uint32_t a_end = a->off + a->flen, b_end = b->off + b->flen;
    uint32_t hi = a_end < b_end ? a_end : b_end;
    if (lo >= hi)
        return 0;
    return memcmp(a->bytes + (lo - a->off), b->bytes + (lo - b->off), hi - lo) != 0;
}

void hs_reasm_init(struct hs_reasm *r, size_t max_msg_bytes, size_t max_buffered_bytes)
{
    memset(r, 0, sizeof(*r));
    r->max_msg_bytes = max_msg_bytes;
    r->max_buffered_bytes = max_buffered_bytes;
}

void hs_reasm_clear(struct hs_reasm *r)
{
    release_delivered(r);
    for (unsigned i = 0; i < HS_REASM_MAX_PENDING_MSGS; i++) {
        slot_free(r->slots[i]);
        r->slots[i] = NULL;
    }
    r->buffered_bytes = 0;
}

/* Pass 1a: splits the record body into fragments and checks each one on
 * its own.  Returns the fragment count or a negative CR_ERR_*. */
static int parse_frags(const struct hs_reasm *r, const uint8_t *body, size_t len,
                       struct frag *frags)
{
    const uint8_t *p = body;
    size_t left = len;
    int n = 0;

    /* A handshake record carries at least one fragment header. */
    CR_ENSURE(left > 0, CR_ERR_DECODE);
    while (left > 0) {
        CR_ENSURE(n < HS_REASM_MAX_FRAGS_PER_RECORD, CR_ERR_LIMIT);
        CR_ENSURE(left >= HS_FRAG_HDR_LEN, CR_ERR_DECODE);
        struct frag *f = &frags[n];
        f->type = p[0];
        f->msg_len = load_be24(p + 1);
        f->seq = (uint16_t)((p[4] << 8) | p[5]);
        f->off = load_be24(p + 6);
        f->flen = load_be24(p + 9);
        p += HS_FRAG_HDR_LEN;
        left -= HS_FRAG_HDR_LEN;
        CR_ENSURE(f->flen <= left, CR_ERR_DECODE);
        /* RFC 6347 §4.2.3: "fragment_offset + fragment_length" must lie
         * within "length"; checked in subtraction form. */
        CR_ENSURE(f->off <= f->msg_len, CR_ERR_DECODE);
        CR_ENSURE(f->flen <= f->msg_len - f->off, CR_ERR_DECODE);
        /* An empty fragment carries nothing unless the message is empty. */
        CR_ENSURE(f->flen > 0 || f->msg_len == 0, CR_ERR_DECODE);
        CR_ENSURE(f->msg_len <= r->max_msg_bytes, CR_ERR_LIMIT);
        f->bytes = p;
        f->window = 0;
        f->first_of_seq = 0;
        p += f->flen;
        left -= f->flen;
        n++;
    }
    return n;
}

int hs_reasm_add_record(struct hs_reasm *r, uint16_t epoch, const uint8_t *body, size_t len,
                        unsigned *out_flags)
{
    struct frag frags[HS_REASM_MAX_FRAGS_PER_RECORD];
    struct hs_reasm_slot *fresh[HS_REASM_MAX_PENDING_MSGS] = {NULL};
    unsigned flags = 0;
    size_t new_bytes = 0;
    int n;

    *out_flags = 0;
    release_delivered(r);
    if (!body && len > 0)
        return CR_ERR_INVAL;
    n = parse_frags(r, body, len, frags);
    if (n < 0)
        return n;

    /* Pass 1b: classify each fragment against the window and check it for
     * consistency with the buffered message and with earlier fragments of
     * the same message in this record. */
    for (int i = 0; i < n; i++) {
        struct frag *f = &frags[i];
        if (f->seq < r->next_seq) {
            /* RFC 6347 §4.2.2: a message_seq below the expected one is a
             * retransmission of an already processed message. */
            flags |= HS_REASM_F_OLD;
            continue;
        }
        if ((unsigned)(f->seq - r->next_seq) >= HS_REASM_MAX_PENDING_MSGS) {
            flags |= HS_REASM_F_FUTURE;
            continue;
        }
        f->window = 1;
        const struct hs_reasm_slot *s = r->slots[f->seq - r->next_seq];
        const struct frag *first = NULL;
        for (int j = 0; j < i; j++) {
            if (frags[j].window && frags[j].seq == f->seq) {
                first = &frags[j];
                break;
            }
        }
        if (s) {
            if (s->type != f->type || s->len != f->msg_len || s->epoch != epoch ||
                conflicts_with_slot(s, f))
                goto conflict;
        } else if (first) {
            if (first->type != f->type || first->msg_len != f->msg_len)
                goto conflict;
        } else {
            f->first_of_seq = 1;
            new_bytes += f->msg_len;
        }
        for (int j = 0; j < i; j++) {
            if (frags[j].window && frags[j].seq == f->seq && conflicts_with_frag(&frags[j], f))
                goto conflict;
        }
    }

    /* Caps before any allocation. */
    CR_ENSURE(r->buffered_bytes <= r->max_buffered_bytes, CR_ERR_LIMIT);
    CR_ENSURE(new_bytes <= r->max_buffered_bytes - r->buffered_bytes, CR_ERR_LIMIT);

    /* Pass 2: allocate every new slot first, then copy (cannot fail). */
    for (int i = 0; i < n; i++) {
        const struct frag *f = &frags[i];
        if (!f->first_of_seq)
            continue;
        struct hs_reasm_slot *s = calloc(1, slot_alloc_bytes(f->msg_len));
        if (!s) {
            for (unsigned k = 0; k < HS_REASM_MAX_PENDING_MSGS; k++)
                slot_free(fresh[k]);
            return CR_ERR_NOMEM;
        }
        s->type = f->type;
        s->epoch = epoch;
        s->len = f->msg_len;
        s->bitmap = s->data + f->msg_len;
        fresh[f->seq - r->next_seq] = s;
    }
    for (unsigned k = 0; k < HS_REASM_MAX_PENDING_MSGS; k++) {
        if (fresh[k]) {
            r->slots[k] = fresh[k];
            r->buffered_bytes += fresh[k]->len;
        }
    }
    for (int i = 0; i < n; i++) {
        const struct frag *f = &frags[i];
        if (!f->window)
            continue;
        struct hs_reasm_slot *s = r->slots[f->seq - r->next_seq];
        memcpy(s->data + f->off, f->bytes, f->flen);
        s->n_received += bitmap_set_range(s->bitmap, f->off, f->flen);
    }
    *out_flags = flags;
    return 0;

conflict:
    /* Overlap with different bytes, or a changed type/length: the whole
     * record is dropped and the buffered state stays as it was. */
    *out_flags = flags | HS_REASM_F_CONFLICT;
    return 0;
}

int hs_reasm_next(struct hs_reasm *r, struct hs_reasm_msg *out)
{
    release_delivered(r);
    struct hs_reasm_slot *s = r->slots[0];
    /* A zero-length message is complete once its (0, 0) fragment came. */
    if (!s || s->n_received != s->len)
        return 0;
    memmove(&r->slots[0], &r->slots[1], (HS_REASM_MAX_PENDING_MSGS - 1) * sizeof(r->slots[0]));
    r->slots[HS_REASM_MAX_PENDING_MSGS - 1] = NULL;
    r->buffered_bytes -= s->len;
    out->type = s->type;
    out->seq = r->next_seq;
    out->epoch = s->epoch;
    out->len = s->len;
    out->body = s->data;
    r->delivered = s->data;
    r->next_seq++;
    return 1;
}
