/* dp_replay.h — DTLS anti-replay sliding window (RFC 6347 §4.1.2.6).
 *
 * Two phases: dp_replay_check() before decryption (read-only), and
 * dp_replay_update() only after the record's tag verified.  Window size is a
 * multiple of 64 bits from DP_REPLAY_WIN_MIN_BITS to DP_REPLAY_WIN_MAX_BITS.
 * Owned and touched by one thread only (the session's owning worker): no
 * atomics.  Must not allocate.
 */
#ifndef DTLSGW_DP_REPLAY_H
#define DTLSGW_DP_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dp_wire.h"

#define DP_REPLAY_WIN_MIN_BITS 64
#define DP_REPLAY_WIN_MAX_BITS 8192
/* The default window: 960 bits = 64 * (16 - 1).  RFC 6347 §4.1.2.6: "A
 * minimum window size of 32 MUST be supported, but a window size of 64 is
 * preferred and SHOULD be employed as the default.  Another window size
 * (larger than the minimum) MAY be chosen by the receiver."  We take a
 * larger one, so that deep reordering at high record rates is not dropped
 * as OLD, and size it by the ring (dp_replay.c): a window of W bits needs
 * W / 64 + 1 words (the word holding top is only partly in use), rounded
 * up to a power of two.  960 bits is the largest window whose
 * ring is 16 words (128 bytes, none unused); 1024 bits needed 17 words,
 * rounded to 32 (256 bytes, 15 of them unused).  With 960 the session's
 * allocation is 128 bytes smaller (issue 11: at most 2.5 KiB a session). */
#define DP_REPLAY_WIN_DEFAULT_BITS 960
#define DP_REPLAY_SEQ_MAX          DP_REC_SEQ_MAX /* the 48-bit wire field (dp_wire.h) */

enum dp_replay_verdict {
    DP_REPLAY_OK = 0,
    DP_REPLAY_DUP = -1,   /* already received */
    DP_REPLAY_OLD = -2,   /* left of the window */
    DP_REPLAY_RANGE = -3, /* above 2^48 - 1 */
};

struct dp_replay {
    uint64_t top;      /* highest accepted sequence number */
    uint32_t win_bits; /* window size in bits */
    uint32_t n_words;  /* ring words: power of two >= win_bits / 64 + 1 */
    uint8_t any;       /* 0 until the first update */
    uint64_t bitmap[]; /* n_words words, ring-indexed by seq / 64 */
};

/* Bytes needed for a window of win_bits (rounded up to a multiple of 64, at
 * least DP_REPLAY_WIN_MIN_BITS); 0 when win_bits is 0 or above
 * DP_REPLAY_WIN_MAX_BITS. */
size_t dp_replay_size(uint32_t win_bits);
/* Initializes r (which has dp_replay_size(win_bits) bytes).  Returns 0, or -1
 * when win_bits is out of range. */
int dp_replay_init(struct dp_replay *r, uint32_t win_bits);

/* The semantics and the ring layout: dp_replay.c's header comment. */
#define DP_REPLAY_WORD_BITS  64
#define DP_REPLAY_WORD_SHIFT 6 /* log2(DP_REPLAY_WORD_BITS) */

static inline uint32_t dp_replay_word_index(const struct dp_replay *r, uint64_t seq)
{
    return (uint32_t)(seq >> DP_REPLAY_WORD_SHIFT) & (r->n_words - 1);
}

static inline uint64_t dp_replay_bit_mask(uint64_t seq)
{
    return UINT64_C(1) << (seq & (DP_REPLAY_WORD_BITS - 1));
}

/* Read-only: DP_REPLAY_OK when seq may be accepted (the first seq after
 * init always is), else DP_REPLAY_DUP / _OLD / _RANGE.  Inline: it runs
 * twice per record on the dataplane's hot path. */
static inline int dp_replay_check(const struct dp_replay *r, uint64_t seq)
{
    /* RFC 6347 §4.1: the sequence number is a 48-bit field; 2^48 - 1 is
     * the last one an epoch may use. */
    if (seq > DP_REPLAY_SEQ_MAX)
        return DP_REPLAY_RANGE;
    if (!r->any || seq > r->top)
        return DP_REPLAY_OK;
    /* RFC 6347 §4.1.2.6: "Records that contain sequence numbers lower than
     * the left edge of the window are rejected."  seq <= top here. */
    if (r->top - seq >= r->win_bits)
        return DP_REPLAY_OLD;
    /* "Duplicates are rejected." */
    if (r->bitmap[dp_replay_word_index(r, seq)] & dp_replay_bit_mask(seq))
        return DP_REPLAY_DUP;
    return DP_REPLAY_OK;
}

/* Marks seq as received; call only after dp_replay_check said OK and the
 * record's tag verified.  Re-init the window when the read epoch changes. */
static inline void dp_replay_update(struct dp_replay *r, uint64_t seq)
{
    /* Defensive: update is only called after check said OK and the tag
     * verified, but a bad seq must never corrupt the window. */
    if (seq > DP_REPLAY_SEQ_MAX)
        return;

    if (!r->any) {
        memset(r->bitmap, 0, (size_t)r->n_words * sizeof(uint64_t));
        r->any = 1;
        r->top = seq;
    } else if (seq > r->top) {
        /* RFC 6347 §4.1.2.6: "If the received record falls within the
         * window and is new, or if the packet is to the right of the
         * window, then the receiver proceeds to MAC verification.  If the
         * MAC validation succeeds, the receiver updates the window."
         * Advance by whole words, clearing each word the window enters. */
        uint64_t top_word = r->top >> DP_REPLAY_WORD_SHIFT;
        uint64_t new_word = seq >> DP_REPLAY_WORD_SHIFT;
        uint64_t n_advance = new_word - top_word;
        if (n_advance >= r->n_words) {
            memset(r->bitmap, 0, (size_t)r->n_words * sizeof(uint64_t));
        } else {
            for (uint64_t w = top_word + 1; w <= new_word; w++)
                r->bitmap[(uint32_t)w & (r->n_words - 1)] = 0;
        }
        r->top = seq;
    } else if (r->top - seq >= r->win_bits) {
        return; /* left of the window: nothing to remember */
    }
    r->bitmap[dp_replay_word_index(r, seq)] |= dp_replay_bit_mask(seq);
}

#endif
