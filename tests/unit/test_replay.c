/* test_replay.c — CUnit suite for dataplane/dp_replay.c (suite "replay").
 *
 * Table-driven edge cases expressed relative to the window size W and run for
 * every tested W, then a differential test against a naive oracle (a set of
 * every accepted number plus the top) over long random sequences with
 * reordering, duplicates, records whose tag "fails" (checked but never
 * updated), big jumps and the 2^48 boundary.  Every so often the window's
 * bytes are compared before and after a check: check must never write.
 * Randomness is a fixed-seed splitmix64, so a failure reproduces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "dp_replay.h"

static const uint32_t g_sizes[] = {64, 128, 192, 960, 1024, 4096, 8192};
#define N_SIZES (sizeof(g_sizes) / sizeof(g_sizes[0]))

static uint64_t g_rng = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct dp_replay *replay_new(uint32_t win_bits)
{
    size_t sz = dp_replay_size(win_bits);
    CU_ASSERT_FATAL(sz > sizeof(struct dp_replay));
    struct dp_replay *r = malloc(sz);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    memset(r, 0xa5, sz); /* init must not rely on zeroed memory */
    CU_ASSERT_EQUAL_FATAL(dp_replay_init(r, win_bits), 0);
    return r;
}

static void test_sizes(void)
{
    static const uint32_t bad[] = {0, 1, 32, 63, 65, 100, 8191, 8193, 8256, 65536, UINT32_MAX};
    /* uint64_t elements: storage aligned like struct dp_replay. */
    uint64_t storage[sizeof(struct dp_replay) / 8 + 2 * (DP_REPLAY_WIN_MAX_BITS / 64) + 8];
    struct dp_replay *r = (struct dp_replay *)(void *)storage;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(dp_replay_init(r, bad[i]), -1);
    CU_ASSERT_EQUAL(dp_replay_init(NULL, 64), -1);
    for (uint32_t w = DP_REPLAY_WIN_MIN_BITS; w <= DP_REPLAY_WIN_MAX_BITS; w += 64) {
        CU_ASSERT_EQUAL(dp_replay_init(r, w), 0);
        CU_ASSERT_EQUAL(r->win_bits, w);
        CU_ASSERT(dp_replay_size(w) >= sizeof(struct dp_replay) + (size_t)r->n_words * 8);
        CU_ASSERT(dp_replay_size(w) <= sizeof(storage));
    }
    CU_ASSERT_EQUAL(dp_replay_size(0), 0);
    CU_ASSERT_EQUAL(dp_replay_size(8193), 0);
    CU_ASSERT_EQUAL(dp_replay_size(8256), 0);
    CU_ASSERT_EQUAL(dp_replay_size(1), dp_replay_size(64));
    CU_ASSERT_EQUAL(dp_replay_size(63), dp_replay_size(64));
    CU_ASSERT_EQUAL(dp_replay_size(65), dp_replay_size(128));
    CU_ASSERT(dp_replay_size(128) > dp_replay_size(64));
    /* The ring of W bits is win_bits / 64 + 1 words rounded up to a power
     * of two: exact (no unused word) for W = 64 * (2^k - 1).  The default
     * is such a window: 960 bits, 16 words (1024 bits took 32). */
    CU_ASSERT_EQUAL(dp_replay_init(r, 960), 0);
    CU_ASSERT_EQUAL(r->n_words, 16);
    CU_ASSERT_EQUAL(dp_replay_init(r, 1024), 0);
    CU_ASSERT_EQUAL(r->n_words, 32);
    CU_ASSERT_EQUAL(dp_replay_init(r, DP_REPLAY_WIN_DEFAULT_BITS), 0);
    CU_ASSERT_EQUAL(r->n_words, DP_REPLAY_WIN_DEFAULT_BITS / DP_REPLAY_WORD_BITS + 1);
    CU_ASSERT_EQUAL(dp_replay_size(DP_REPLAY_WIN_DEFAULT_BITS),
                    sizeof(struct dp_replay) + (size_t)r->n_words * sizeof(uint64_t));
    /* RFC 6347 §4.1.2.6: "A minimum window size of 32 MUST be supported,
     * but a window size of 64 is preferred and SHOULD be employed as the
     * default." -- ours is larger (reordering across workers) */
    CU_ASSERT(DP_REPLAY_WIN_DEFAULT_BITS >= 64);
}

/* One step of an edge case: seq = base + w_mult * W + off. */
enum {
    OP_CHECK,
    OP_ACCEPT
}; /* ACCEPT: check, and update if OK */
struct step {
    int op;
    int64_t w_mult;
    int64_t off;
    int want;
};
struct edge_case {
    const char *name;
    uint64_t base;
    struct step steps[12];
    unsigned n_steps;
};

#define SEQ48 ((UINT64_C(1) << 48))
/* clang-format off: one case per entry reads better than the reflow */
static const struct edge_case edge_cases[] = {
    {"first seq 0, then repeats",
     0,
     {{OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 0, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 1, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 1, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 0, DP_REPLAY_DUP}},
     6},
    {"first seq is arbitrary",
     1000000,
     {{OP_ACCEPT, 0, 5, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 5, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 4, DP_REPLAY_OK}},
     5},
    {"W-1, W, W+1 behind top",
     0,
     {{OP_ACCEPT, 1, 10, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 11, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 11, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 10, DP_REPLAY_OLD},
      {OP_ACCEPT, 0, 9, DP_REPLAY_OLD},
      {OP_ACCEPT, 0, 0, DP_REPLAY_OLD}},
     6},
    {"seen W-1 behind survives a move by W-1",
     64,
     {{OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 1, -1, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_DUP},
      {OP_ACCEPT, 1, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_OLD},
      {OP_ACCEPT, 0, 1, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 1, DP_REPLAY_DUP}},
     7},
    {"move by exactly W",
     100,
     {{OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 1, DP_REPLAY_OK},
      {OP_ACCEPT, 1, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_OLD},
      {OP_ACCEPT, 0, 1, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 2, DP_REPLAY_OK},
      {OP_ACCEPT, 1, 0, DP_REPLAY_DUP}},
     7},
    {"jump larger than W clears",
     7,
     {{OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 1, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 2, DP_REPLAY_OK},
      {OP_ACCEPT, 3, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 2, 1, DP_REPLAY_OK},
      {OP_ACCEPT, 2, 2, DP_REPLAY_OK},
      {OP_ACCEPT, 2, 1, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, 2, DP_REPLAY_OLD},
      {OP_ACCEPT, 3, 0, DP_REPLAY_DUP},
      {OP_ACCEPT, 2, 0, DP_REPLAY_OLD}},
     10},
    {"huge jump",
     3,
     {{OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, (int64_t)1 << 40, DP_REPLAY_OK},
      {OP_ACCEPT, 0, ((int64_t)1 << 40) - 1, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_OLD},
      {OP_ACCEPT, 0, (int64_t)1 << 40, DP_REPLAY_DUP}},
     5},
    {"2^48-1 and 2^48",
     SEQ48,
     {{OP_ACCEPT, 0, -1, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_RANGE},
      {OP_ACCEPT, 0, 1, DP_REPLAY_RANGE},
      {OP_ACCEPT, 0, -1, DP_REPLAY_DUP},
      {OP_ACCEPT, 0, -2, DP_REPLAY_OK},
      {OP_ACCEPT, -1, -1, DP_REPLAY_OLD},
      {OP_ACCEPT, -1, 0, DP_REPLAY_OK}},
     7},
    {"range on a fresh window",
     SEQ48,
     {{OP_ACCEPT, 0, 0, DP_REPLAY_RANGE},
      {OP_ACCEPT, 0, 1000, DP_REPLAY_RANGE},
      {OP_ACCEPT, 0, -1, DP_REPLAY_OK}},
     3},
    {"check alone does not mark",
     50,
     {{OP_CHECK, 0, 0, DP_REPLAY_OK},
      {OP_CHECK, 0, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, 0, DP_REPLAY_OK},
      {OP_CHECK, 0, 3, DP_REPLAY_OK},
      {OP_CHECK, 0, 3, DP_REPLAY_OK},
      {OP_ACCEPT, 0, -3, DP_REPLAY_OK},
      {OP_CHECK, 0, -3, DP_REPLAY_DUP},
      {OP_CHECK, 2, 0, DP_REPLAY_OK},
      {OP_ACCEPT, 0, -1, DP_REPLAY_OK}},
     9},
};
/* clang-format on */

static void test_edge_table(void)
{
    for (size_t s = 0; s < N_SIZES; s++) {
        uint32_t w = g_sizes[s];
        for (size_t c = 0; c < sizeof(edge_cases) / sizeof(edge_cases[0]); c++) {
            const struct edge_case *ec = &edge_cases[c];
            struct dp_replay *r = replay_new(w);
            for (unsigned i = 0; i < ec->n_steps; i++) {
                const struct step *st = &ec->steps[i];
                uint64_t seq = ec->base + (uint64_t)(st->w_mult * (int64_t)w) + (uint64_t)st->off;
                int got = dp_replay_check(r, seq);
                if (got != st->want)
                    fprintf(stderr, "\n  W=%u case '%s' step %u seq=%llu: got %d want %d\n", w,
                            ec->name, i, (unsigned long long)seq, got, st->want);
                CU_ASSERT_EQUAL(got, st->want);
                if (st->op == OP_ACCEPT && got == DP_REPLAY_OK)
                    dp_replay_update(r, seq);
            }
            free(r);
        }
    }
}

/* Updates outside the contract must not corrupt the window. */
static void test_update_defensive(void)
{
    struct dp_replay *r = replay_new(128);
    dp_replay_update(r, SEQ48); /* range: ignored */
    CU_ASSERT_EQUAL(r->any, 0);
    dp_replay_update(r, 1000);
    dp_replay_update(r, 10); /* left of the window: ignored */
    CU_ASSERT_EQUAL(r->top, 1000);
    CU_ASSERT_EQUAL(dp_replay_check(r, 10), DP_REPLAY_OLD);
    CU_ASSERT_EQUAL(dp_replay_check(r, 1000 - 128 + 1), DP_REPLAY_OK);
    /* Re-init (new epoch) forgets everything. */
    CU_ASSERT_EQUAL(dp_replay_init(r, 128), 0);
    CU_ASSERT_EQUAL(dp_replay_check(r, 10), DP_REPLAY_OK);
    CU_ASSERT_EQUAL(dp_replay_check(r, 1000), DP_REPLAY_OK);
    free(r);
}

/* Naive oracle: every accepted number in an open-addressing set. */
struct oracle {
    uint64_t *slots; /* seq + 1; 0 = empty */
    size_t mask;
    uint64_t top;
    int any;
    uint64_t win;
};

static size_t slot_of(const struct oracle *o, uint64_t seq)
{
    uint64_t h = (seq + 1) * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 20) & o->mask;
    while (o->slots[i] != 0 && o->slots[i] != seq + 1)
        i = (i + 1) & o->mask;
    return i;
}

static int oracle_check(const struct oracle *o, uint64_t seq)
{
    if (seq > DP_REPLAY_SEQ_MAX)
        return DP_REPLAY_RANGE;
    if (!o->any || seq > o->top)
        return DP_REPLAY_OK;
    if (o->top - seq >= o->win)
        return DP_REPLAY_OLD;
    return o->slots[slot_of(o, seq)] == seq + 1 ? DP_REPLAY_DUP : DP_REPLAY_OK;
}

static void oracle_accept(struct oracle *o, uint64_t seq)
{
    o->slots[slot_of(o, seq)] = seq + 1;
    if (!o->any || seq > o->top)
        o->top = seq;
    o->any = 1;
}

#define ORACLE_SLOTS (UINT64_C(1) << 21)
#define OPS_PER_RUN  200000u

/* Next sequence number of the random stream: mostly in order with local
 * reordering, plus duplicates, far-behind numbers, window-edge numbers,
 * jumps and the 2^48 boundary. */
static uint64_t next_seq(uint64_t *cursor, const uint64_t *recent, uint64_t top, uint64_t w)
{
    uint64_t r = rnd() % 1000;
    uint64_t seq;
    if (r < 550) {
        seq = *cursor + rnd() % 8;
        uint64_t back = rnd() % (w / 2 + 1);
        seq = seq > back ? seq - back : 0;
        *cursor += 1;
    } else if (r < 750) {
        seq = recent[rnd() % 64]; /* duplicate */
    } else if (r < 850) {
        uint64_t back = rnd() % (2 * w + 1); /* behind top, maybe left of window */
        seq = top > back ? top - back : 0;
    } else if (r < 930) {
        int64_t d = (int64_t)(rnd() % 5) - 2; /* top - W + {-2..2} */
        seq = top >= w + 2 ? top - w + (uint64_t)d : top;
    } else if (r < 975) {
        *cursor += w / 2 + rnd() % (3 * w); /* jump around the window size */
        seq = *cursor;
    } else if (r < 985) {
        *cursor += rnd() % (UINT64_C(1) << 32); /* big jump */
        seq = *cursor;
    } else {
        seq = top + 1 + rnd() % 70; /* just right of top */
    }
    return seq;
}

static void run_differential(uint32_t w, uint64_t start, unsigned n_ops, uint64_t *slots,
                             uint64_t *n_checked_const)
{
    struct dp_replay *r = replay_new(w);
    size_t sz = dp_replay_size(w);
    uint8_t *snap = malloc(sz);
    CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
    memset(slots, 0, ORACLE_SLOTS * sizeof(uint64_t));
    struct oracle o = {slots, ORACLE_SLOTS - 1, 0, 0, w};
    uint64_t recent[64];
    for (int i = 0; i < 64; i++)
        recent[i] = start;
    uint64_t cursor = start;
    unsigned mismatches = 0, n_inserted = 0;

    for (unsigned i = 0; i < n_ops; i++) {
        uint64_t seq = next_seq(&cursor, recent, o.any ? o.top : start, w);
        if (rnd() % 200 == 0)
            seq = rnd() % 4 == 0 ? UINT64_MAX : SEQ48 + rnd() % 8; /* out of range */
        recent[i % 64] = seq;

        int want = oracle_check(&o, seq);
        int got;
        if (i % 16 == 0) {
            memcpy(snap, r, sz);
            got = dp_replay_check(r, seq);
            CU_ASSERT_EQUAL(memcmp(snap, r, sz), 0);
            (*n_checked_const)++;
        } else {
            got = dp_replay_check(r, seq);
        }
        if (got != want && mismatches++ < 5)
            fprintf(stderr, "\n  W=%u op %u seq=%llu top=%llu: got %d want %d\n", w, i,
                    (unsigned long long)seq, (unsigned long long)o.top, got, want);
        CU_ASSERT_EQUAL(got, want);
        /* 1 in 10 acceptable records fails its tag: never updated. */
        if (want == DP_REPLAY_OK && rnd() % 10 != 0) {
            dp_replay_update(r, seq);
            oracle_accept(&o, seq);
            n_inserted++;
            CU_ASSERT_EQUAL(r->top, o.top);
        }
        /* Once the stream has left the sequence space, restart (like a new
         * epoch) so the run keeps exercising the window. */
        if (cursor > DP_REPLAY_SEQ_MAX || n_inserted > ORACLE_SLOTS / 2) {
            CU_ASSERT_EQUAL_FATAL(dp_replay_init(r, w), 0);
            memset(slots, 0, ORACLE_SLOTS * sizeof(uint64_t));
            o.any = 0;
            o.top = 0;
            cursor = start;
            n_inserted = 0;
        }
    }
    free(snap);
    free(r);
}

static void test_differential(void)
{
    uint64_t *slots = malloc(ORACLE_SLOTS * sizeof(uint64_t));
    CU_ASSERT_PTR_NOT_NULL_FATAL(slots);
    uint64_t n_ops = 0, n_const = 0;
    for (size_t s = 0; s < N_SIZES; s++) {
        run_differential(g_sizes[s], 0, OPS_PER_RUN, slots, &n_const);
        n_ops += OPS_PER_RUN;
    }
    /* Streams that start near the end of the sequence space. */
    run_differential(64, DP_REPLAY_SEQ_MAX - 50000, OPS_PER_RUN / 4, slots, &n_const);
    run_differential(8192, DP_REPLAY_SEQ_MAX - 50000, OPS_PER_RUN / 4, slots, &n_const);
    n_ops += OPS_PER_RUN / 2;
    free(slots);
    CU_ASSERT(n_ops >= 1000000);
    CU_ASSERT(n_const >= n_ops / 16);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("replay", NULL, NULL);
    CU_add_test(s, "window sizes", test_sizes);
    CU_add_test(s, "edge cases for each window size", test_edge_table);
    CU_add_test(s, "update outside the contract", test_update_defensive);
    CU_add_test(s, "differential vs naive oracle", test_differential);
}

#include "cu_main.h"
