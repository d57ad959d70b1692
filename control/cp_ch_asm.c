/* cp_ch_asm.c — see cp_ch_asm.h. */
#include "cp_ch_asm.h"

#include <stdlib.h>
#include <string.h>

#include "dp_record.h"
#include "dp_wire.h"
#include "hs.h"

struct asm_slot {
    bool used;
    uint8_t key[CP_CH_ASM_KEY_LEN];
    uint16_t msg_seq;
    uint16_t rec_version;
    uint32_t msg_len;
    uint32_t n_have; /* bytes of the body received */
    uint64_t rec_seq;
    uint64_t t0_ms; /* first fragment */
    uint8_t have[CP_CH_ASM_MAX_BYTES / 8];
    uint8_t body[CP_CH_ASM_MAX_BYTES];
};

struct cp_ch_asm {
    struct asm_slot slot[CP_CH_ASM_SLOTS];
};

struct cp_ch_asm *cp_ch_asm_new(void)
{
    return calloc(1, sizeof(struct cp_ch_asm));
}

void cp_ch_asm_free(struct cp_ch_asm *a)
{
    free(a);
}

static bool live(const struct asm_slot *s, uint64_t now_ms)
{
    return s->used && now_ms - s->t0_ms < CP_CH_ASM_TTL_MS;
}

unsigned cp_ch_asm_count(const struct cp_ch_asm *a, uint64_t now_ms)
{
    unsigned n = 0;
    for (unsigned i = 0; i < CP_CH_ASM_SLOTS; i++)
        n += live(&a->slot[i], now_ms);
    return n;
}

/* The peer's assembly of message msg_seq, or a fresh slot: a free or
 * expired one, else the oldest (*evicted). */
static struct asm_slot *slot_for(struct cp_ch_asm *a, const uint8_t *key,
                                 const struct hs_ch_frag *f, uint64_t now_ms, bool *evicted)
{
    struct asm_slot *free_s = NULL, *oldest = NULL;
    for (unsigned i = 0; i < CP_CH_ASM_SLOTS; i++) {
        struct asm_slot *s = &a->slot[i];
        if (!live(s, now_ms)) {
            if (free_s == NULL)
                free_s = s;
            continue;
        }
        if (memcmp(s->key, key, CP_CH_ASM_KEY_LEN) == 0) {
            /* RFC 6347 §4.2.2: a new message_seq or length is a new
             * ClientHello (the one with the cookie after the
             * HelloVerifyRequest): start over */
            if (s->msg_seq == f->msg_seq && s->msg_len == f->msg_len)
                return s;
            s->used = false;
            return slot_for(a, key, f, now_ms, evicted);
        }
        if (oldest == NULL || s->t0_ms < oldest->t0_ms)
            oldest = s;
    }
    struct asm_slot *s = free_s;
    if (s == NULL) {
        s = oldest;
        *evicted = true;
    }
    memset(s->have, 0, (f->msg_len + 7) / 8);
    s->used = true;
    memcpy(s->key, key, CP_CH_ASM_KEY_LEN);
    s->msg_seq = f->msg_seq;
    s->msg_len = f->msg_len;
    s->n_have = 0;
    s->t0_ms = now_ms;
    return s;
}

/* Copies the bytes of f not yet held (the first copy of a byte stays:
 * duplicates and overlaps add nothing). */
static void put(struct asm_slot *s, const struct hs_ch_frag *f)
{
    for (uint32_t i = 0; i < f->frag_len; i++) {
        uint32_t at = f->frag_off + i;
        uint8_t bit = (uint8_t)(1u << (at % 8));
        if (s->have[at / 8] & bit)
            continue;
        s->have[at / 8] |= bit;
        s->body[at] = f->body[i];
        s->n_have++;
    }
    s->rec_version = f->rec_version;
    s->rec_seq = f->rec_seq;
}

static void store_be24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

/* One epoch-0 handshake record holding the whole ClientHello as a single
 * fragment (RFC 6347 §4.1 record header, §4.2.2 handshake header). */
static size_t rebuild(const struct asm_slot *s, uint8_t *out)
{
    uint8_t *h = out + DP_REC_HDR_LEN;
    out[DP_REC_OFF_TYPE] = DP_CT_HANDSHAKE;
    dp_store_be16(out + DP_REC_OFF_VERSION, s->rec_version);
    dp_store_be16(out + DP_REC_OFF_EPOCH, 0);
    dp_store_be48(out + DP_REC_OFF_SEQ, s->rec_seq);
    dp_store_be16(out + DP_REC_OFF_LENGTH, (uint16_t)(DP_HS_HDR_LEN + s->msg_len));
    h[DP_HS_OFF_TYPE] = DP_HS_CLIENT_HELLO;
    store_be24(h + DP_HS_OFF_LENGTH, s->msg_len);
    dp_store_be16(h + DP_HS_OFF_MESSAGE_SEQ, s->msg_seq);
    store_be24(h + DP_HS_OFF_FRAGMENT_OFF, 0);
    store_be24(h + DP_HS_OFF_FRAGMENT_LEN, s->msg_len);
    memcpy(h + DP_HS_HDR_LEN, s->body, s->msg_len);
    return DP_REC_HDR_LEN + DP_HS_HDR_LEN + s->msg_len;
}

enum cp_ch_asm_result cp_ch_asm_add(struct cp_ch_asm *a, const uint8_t key[CP_CH_ASM_KEY_LEN],
                                    const uint8_t *d, size_t len, uint64_t now_ms, uint8_t *out,
                                    size_t *out_len, bool *evicted)
{
    *evicted = false;
    *out_len = 0;
    if (a == NULL || d == NULL || len == 0)
        return CP_CH_ASM_BAD;
    /* Every record first: a datagram with anything else in it is not one
     * this path holds (nothing is kept from it). */
    const uint8_t *b = d;
    size_t left = len;
    struct hs_ch_frag f;
    int r;
    unsigned n = 0;
    uint16_t seq0 = 0;
    uint32_t len0 = 0;
    while ((r = hs_ch_frag_next(&b, &left, &f)) == 1) {
        if (f.msg_len == 0 || f.msg_len > CP_CH_ASM_MAX_BYTES ||
            (n > 0 && (f.msg_seq != seq0 || f.msg_len != len0)))
            return CP_CH_ASM_BAD;
        seq0 = f.msg_seq;
        len0 = f.msg_len;
        n++;
    }
    if (r < 0 || n == 0)
        return CP_CH_ASM_BAD;
    b = d;
    left = len;
    struct asm_slot *s = NULL;
    while (hs_ch_frag_next(&b, &left, &f) == 1) {
        if (s == NULL)
            s = slot_for(a, key, &f, now_ms, evicted);
        put(s, &f);
    }
    if (s->n_have < s->msg_len)
        return CP_CH_ASM_HELD;
    *out_len = rebuild(s, out);
    s->used = false;
    return CP_CH_ASM_WHOLE;
}
