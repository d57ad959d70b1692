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
 * Pass 2 allocates the new slots and grown buffers (caps were already
 * checked), then commits them and copies the bytes in; it cannot fail after
 * the allocations succeeded, so a rejected record never leaves a partial
 * trace.
 *
 * A message's buffer covers [0, end of the furthest fragment received),
 * grown geometrically up to the declared length, so what a peer makes us
 * allocate is bounded by what it sent (or, for a fragment far into a
 * message, by the per-handshake cap; the shared budget bounds the sum over
 * all handshakes).  Both caps are charged with the real allocation: body
 * bytes plus their bitmap.
 *
 * Called only from the thread that owns the handshake.
 */
#include "hs_reasm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dp_record.h"

struct hs_reasm_slot {
    uint8_t type;
    uint16_t epoch;
    uint32_t len;        /* message length declared by the first fragment */
    uint32_t n_received; /* distinct body bytes received */
    uint32_t cap;        /* body bytes allocated: data[0, cap), cap <= len */
    uint8_t *data;       /* cap bytes of body; NULL while cap == 0 */
    uint8_t *bitmap;     /* (cap + 7) / 8 bytes, bit i: body byte i seen */
};

/* Growth of one message's buffer planned by pass 1, done by pass 2. */
struct grow {
    uint32_t new_cap; /* 0: no change */
    struct hs_reasm_slot *fresh;
    uint8_t *data, *bitmap;
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

static void store_be24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

bool hs_hdr_get(struct hs_cur *c, struct hs_hdr *out)
{
    const uint8_t *p;

    /* RFC 6347 §4.2.2: type(1) length(3) message_seq(2)
     * fragment_offset(3) fragment_length(3). */
    if (!hs_cur_span(c, &p, DP_HS_HDR_LEN))
        return false;
    out->type = p[DP_HS_OFF_TYPE];
    out->length = load_be24(p + DP_HS_OFF_LENGTH);
    out->message_seq = dp_load_be16(p + DP_HS_OFF_MESSAGE_SEQ);
    out->fragment_offset = load_be24(p + DP_HS_OFF_FRAGMENT_OFF);
    out->fragment_length = load_be24(p + DP_HS_OFF_FRAGMENT_LEN);
    return true;
}

void hs_hdr_put(uint8_t *out, const struct hs_hdr *h)
{
    out[DP_HS_OFF_TYPE] = h->type;
    store_be24(out + DP_HS_OFF_LENGTH, h->length);
    dp_store_be16(out + DP_HS_OFF_MESSAGE_SEQ, h->message_seq);
    store_be24(out + DP_HS_OFF_FRAGMENT_OFF, h->fragment_offset);
    store_be24(out + DP_HS_OFF_FRAGMENT_LEN, h->fragment_length);
}

/* Bytes charged for a body buffer of cap bytes and its bitmap. */
static size_t cap_bytes(uint32_t cap)
{
    return (size_t)cap + ((size_t)cap + 7) / 8;
}

static void wipe_free(uint8_t *p, size_t n)
{
    if (!p)
        return;
    /* Bodies can hold key exchange data: wipe before free. */
    OPENSSL_cleanse(p, n);
    free(p);
}

static void slot_free(struct hs_reasm_slot *s)
{
    if (!s)
        return;
    wipe_free(s->data, s->cap);
    wipe_free(s->bitmap, ((size_t)s->cap + 7) / 8);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

/* Returns a slot's bytes to the handshake's count and the shared budget. */
static void uncharge(struct hs_reasm *r, size_t n)
{
    r->buffered_bytes -= n;
    if (r->budget)
        r->budget->used_bytes -= n;
}

/* The previously delivered body is valid only until the next call (its
 * bytes were uncharged when it was delivered). */
static void release_delivered(struct hs_reasm *r)
{
    if (r->delivered) {
        slot_free(r->delivered);
        r->delivered = NULL;
    }
}

/* Buffer size after growing from cap to cover [0, end) of a message of len
 * bytes: at least double (so a message arriving in order is copied O(1)
 * times per byte), never below HS_REASM_MIN_ALLOC_BYTES, never past len. */
static uint32_t grown_cap(uint32_t cap, uint32_t end, uint32_t len)
{
    uint64_t c = (uint64_t)cap * 2;
    if (c < HS_REASM_MIN_ALLOC_BYTES)
        c = HS_REASM_MIN_ALLOC_BYTES;
    if (c < end)
        c = end;
    if (c > len)
        c = len;
    return (uint32_t)c;
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
        if (i < s->cap && bit_is_set(s->bitmap, i) && s->data[i] != f->bytes[k])
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

void hs_reasm_attach_budget(struct hs_reasm *r, struct hs_reasm_budget *b)
{
    r->budget = b;
}

void hs_reasm_clear(struct hs_reasm *r)
{
    release_delivered(r);
    for (unsigned i = 0; i < HS_REASM_MAX_PENDING_MSGS; i++) {
        if (r->slots[i])
            uncharge(r, cap_bytes(r->slots[i]->cap));
        slot_free(r->slots[i]);
        r->slots[i] = NULL;
    }
}

size_t hs_reasm_bytes_used(const struct hs_reasm *r)
{
    return r->buffered_bytes;
}

/* Pass 1a: splits the record body into fragments and checks each one on
 * its own.  Returns the fragment count or a negative CR_ERR_*. */
static int parse_frags(const struct hs_reasm *r, const uint8_t *body, size_t len,
                       struct frag *frags)
{
    struct hs_cur c;
    int n = 0;

    hs_cur_init(&c, body, len);
    /* A handshake record carries at least one fragment header. */
    CR_ENSURE(len > 0, CR_ERR_DECODE);
    while (hs_cur_len(&c) > 0) {
        struct hs_hdr h;
        CR_ENSURE(n < HS_REASM_MAX_FRAGS_PER_RECORD, CR_ERR_LIMIT);
        CR_ENSURE(hs_hdr_get(&c, &h), CR_ERR_DECODE);
        struct frag *f = &frags[n];
        f->type = h.type;
        f->msg_len = h.length;
        f->seq = h.message_seq;
        f->off = h.fragment_offset;
        f->flen = h.fragment_length;
        CR_ENSURE(f->flen <= hs_cur_len(&c), CR_ERR_DECODE);
        /* RFC 6347 §4.2.3: "fragment_offset + fragment_length" must lie
         * within "length"; checked in subtraction form. */
        CR_ENSURE(hs_hdr_frag_in_msg(&h), CR_ERR_DECODE);
        /* An empty fragment carries nothing unless the message is empty. */
        CR_ENSURE(f->flen > 0 || f->msg_len == 0, CR_ERR_DECODE);
        CR_ENSURE(f->msg_len <= r->max_msg_bytes, CR_ERR_LIMIT);
        CR_ENSURE(hs_cur_span(&c, &f->bytes, f->flen), CR_ERR_DECODE);
        f->window = 0;
        f->first_of_seq = 0;
        n++;
    }
    return n;
}

/* Pass 2 helper: frees what plan_growth's allocations made so far. */
static void free_growth(struct grow *g)
{
    for (unsigned k = 0; k < HS_REASM_MAX_PENDING_MSGS; k++) {
        free(g[k].fresh);
        free(g[k].data);
        free(g[k].bitmap);
        g[k].fresh = NULL;
        g[k].data = g[k].bitmap = NULL;
    }
}

/* Pass 2a: allocates every planned buffer (nothing is committed). */
static int alloc_growth(const struct hs_reasm *r, const struct frag *frags, int n, struct grow *g)
{
    for (int i = 0; i < n; i++) {
        const struct frag *f = &frags[i];
        if (!f->first_of_seq)
            continue;
        g[f->seq - r->next_seq].fresh = calloc(1, sizeof(struct hs_reasm_slot));
        if (!g[f->seq - r->next_seq].fresh)
            goto nomem;
    }
    for (unsigned k = 0; k < HS_REASM_MAX_PENDING_MSGS; k++) {
        if (g[k].new_cap == 0)
            continue;
        g[k].data = malloc(g[k].new_cap);
        g[k].bitmap = calloc(1, ((size_t)g[k].new_cap + 7) / 8);
        if (!g[k].data || !g[k].bitmap)
            goto nomem;
    }
    return 0;
nomem:
    free_growth(g);
    return CR_ERR_NOMEM;
}

/* Pass 2b: installs new slots and moves grown buffers in (cannot fail). */
static void commit_growth(struct hs_reasm *r, const struct frag *frags, int n, uint16_t epoch,
                          struct grow *g)
{
    for (int i = 0; i < n; i++) {
        const struct frag *f = &frags[i];
        if (!f->first_of_seq)
            continue;
        struct hs_reasm_slot *s = g[f->seq - r->next_seq].fresh;
        s->type = f->type;
        s->epoch = epoch;
        s->len = f->msg_len;
        r->slots[f->seq - r->next_seq] = s;
        g[f->seq - r->next_seq].fresh = NULL;
    }
    for (unsigned k = 0; k < HS_REASM_MAX_PENDING_MSGS; k++) {
        if (g[k].new_cap == 0)
            continue;
        struct hs_reasm_slot *s = r->slots[k];
        size_t delta = cap_bytes(g[k].new_cap) - cap_bytes(s->cap);
        if (s->cap > 0) {
            memcpy(g[k].data, s->data, s->cap);
            memcpy(g[k].bitmap, s->bitmap, ((size_t)s->cap + 7) / 8);
        }
        wipe_free(s->data, s->cap);
        wipe_free(s->bitmap, ((size_t)s->cap + 7) / 8);
        s->data = g[k].data;
        s->bitmap = g[k].bitmap;
        s->cap = g[k].new_cap;
        g[k].data = g[k].bitmap = NULL;
        r->buffered_bytes += delta;
        if (r->budget)
            r->budget->used_bytes += delta;
    }
}

int hs_reasm_add_record(struct hs_reasm *r, uint16_t epoch, const uint8_t *body, size_t len,
                        unsigned *out_flags)
{
    struct frag frags[HS_REASM_MAX_FRAGS_PER_RECORD];
    struct grow g[HS_REASM_MAX_PENDING_MSGS];
    uint32_t need_end[HS_REASM_MAX_PENDING_MSGS] = {0};
    uint32_t msg_len[HS_REASM_MAX_PENDING_MSGS] = {0};
    unsigned flags = 0;
    size_t new_bytes = 0;
    int n;

    memset(g, 0, sizeof(g));
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
        }
        for (int j = 0; j < i; j++) {
            if (frags[j].window && frags[j].seq == f->seq && conflicts_with_frag(&frags[j], f))
                goto conflict;
        }
        unsigned k = f->seq - r->next_seq;
        msg_len[k] = f->msg_len;
        if (f->off + f->flen > need_end[k])
            need_end[k] = f->off + f->flen;
    }

    /* Pass 1c: plan each message's buffer growth from the bytes that
     * arrived (never from the declared length alone), and check the caps
     * before any allocation. */
    for (unsigned k = 0; k < HS_REASM_MAX_PENDING_MSGS; k++) {
        uint32_t cap = r->slots[k] ? r->slots[k]->cap : 0;
        if (need_end[k] <= cap)
            continue;
        g[k].new_cap = grown_cap(cap, need_end[k], msg_len[k]);
        new_bytes += cap_bytes(g[k].new_cap) - cap_bytes(cap);
    }
    if (r->buffered_bytes > r->max_buffered_bytes ||
        new_bytes > r->max_buffered_bytes - r->buffered_bytes) {
        r->refused_cap++;
        return CR_ERR_LIMIT;
    }
    if (r->budget && r->budget->max_bytes > 0 &&
        (r->budget->used_bytes > r->budget->max_bytes ||
         new_bytes > r->budget->max_bytes - r->budget->used_bytes)) {
        r->refused_cap++;
        r->budget->refused++;
        return CR_ERR_LIMIT;
    }

    /* Pass 2: allocate every new slot and buffer first, then commit and
     * copy (cannot fail). */
    int rc = alloc_growth(r, frags, n, g);
    if (rc < 0)
        return rc;
    commit_growth(r, frags, n, epoch, g);
    for (int i = 0; i < n; i++) {
        const struct frag *f = &frags[i];
        if (!f->window || f->flen == 0)
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

/* Body of a zero-length message (which has no buffer). */
static const uint8_t empty_body[1];

int hs_reasm_next(struct hs_reasm *r, struct hs_reasm_msg *out)
{
    release_delivered(r);
    struct hs_reasm_slot *s = r->slots[0];
    /* A zero-length message is complete once its (0, 0) fragment came. */
    if (!s || s->n_received != s->len)
        return 0;
    memmove(&r->slots[0], &r->slots[1], (HS_REASM_MAX_PENDING_MSGS - 1) * sizeof(r->slots[0]));
    r->slots[HS_REASM_MAX_PENDING_MSGS - 1] = NULL;
    uncharge(r, cap_bytes(s->cap));
    out->type = s->type;
    out->seq = r->next_seq;
    out->epoch = s->epoch;
    out->len = s->len;
    out->body = s->data ? s->data : empty_body;
    r->delivered = s;
    r->next_seq++;
    return 1;
}
