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

#define DP_REPLAY_WIN_MIN_BITS     64
#define DP_REPLAY_WIN_MAX_BITS     8192
#define DP_REPLAY_WIN_DEFAULT_BITS 1024
#define DP_REPLAY_SEQ_MAX          ((UINT64_C(1) << 48) - 1)

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
/* Read-only: DP_REPLAY_OK when seq may be accepted (the first seq after
 * init always is), else DP_REPLAY_DUP / _OLD / _RANGE. */
int dp_replay_check(const struct dp_replay *r, uint64_t seq);
/* Marks seq as received; call only after dp_replay_check said OK and the
 * record's tag verified.  Re-init the window when the read epoch changes. */
void dp_replay_update(struct dp_replay *r, uint64_t seq);

#endif
