/* dp_replay.c — DTLS anti-replay sliding window (RFC 6347 §4.1.2.6).
 *
 * Owns: one read epoch's window of received sequence numbers.  The caller
 * re-initializes it when the read epoch changes (sequence numbers restart
 * at 0 in each epoch, RFC 6347 §4.1).
 * Must not: allocate, take locks or use atomics (the session's owning worker
 * is the only thread that touches it), or mark a record as seen before its
 * tag verified (dp_replay_check is read-only; only dp_replay_update writes).
 *
 * Layout: a ring of 64-bit words indexed by (seq / 64) mod n_words, as in
 * WireGuard's counter_validate and DPDK's lib/ipsec/ipsec_sqn.h.  Moving the
 * window forward clears the words that it enters, whole words at a time, so
 * a call costs O(1) plus the clearing (at most n_words words, a jump larger
 * than the window clears everything).  To remember exactly win_bits numbers
 * behind the top whatever top's bit position inside its word, the ring needs
 * win_bits / 64 + 1 words (the word holding top is only partly in use); it
 * is rounded up to a power of two so that the ring index is a mask, not a
 * division (this runs per record on the dataplane's hot path).
 *
 * dp_replay_check/dp_replay_update are inline in dp_replay.h (twice per
 * record on the dataplane's hot path); this file sizes and initializes.
 *
 * Semantics (the ones the differential test's oracle encodes):
 *   - the first record of the epoch is accepted, whatever its number;
 *   - seq > top is accepted;
 *   - top - seq >= win_bits is OLD (left of the window);
 *   - otherwise DUP if its bit is set, else accepted.
 */
#include "dp_replay.h"

#include <string.h>

static uint32_t ring_words(uint32_t win_bits)
{
    uint32_t need = win_bits / DP_REPLAY_WORD_BITS + 1, n = 1;
    while (n < need)
        n <<= 1;
    return n;
}

size_t dp_replay_size(uint32_t win_bits)
{
    if (win_bits == 0 || win_bits > DP_REPLAY_WIN_MAX_BITS)
        return 0;
    uint32_t rounded =
        (win_bits + DP_REPLAY_WORD_BITS - 1) / DP_REPLAY_WORD_BITS * DP_REPLAY_WORD_BITS;
    if (rounded < DP_REPLAY_WIN_MIN_BITS)
        rounded = DP_REPLAY_WIN_MIN_BITS;
    return sizeof(struct dp_replay) + (size_t)ring_words(rounded) * sizeof(uint64_t);
}

int dp_replay_init(struct dp_replay *r, uint32_t win_bits)
{
    if (r == NULL || win_bits < DP_REPLAY_WIN_MIN_BITS || win_bits > DP_REPLAY_WIN_MAX_BITS ||
        win_bits % DP_REPLAY_WORD_BITS != 0)
        return -1;
    r->top = 0;
    r->win_bits = win_bits;
    r->n_words = ring_words(win_bits);
    r->any = 0;
    memset(r->bitmap, 0, (size_t)r->n_words * sizeof(uint64_t));
    return 0;
}
