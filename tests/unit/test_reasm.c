/* test_reasm.c — CUnit suite for control/hs_reasm.c: table-driven edge
 * cases of RFC 6347 §4.2.3 fragment reassembly, every error path and cap,
 * and a randomized test (messages of random sizes cut into random,
 * duplicated, overlapping fragments, packed into records and shuffled)
 * checked byte-exact against the original messages. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "hs_reasm.h"

#define MAX_MSG 70000
#define MAX_BUF (128 * 1024)
/* What hs_reasm charges for a body buffer of cap bytes: the bytes and
 * their received-bitmap. */
#define CHARGE(cap) ((size_t)(cap) + ((size_t)(cap) + 7) / 8)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    /* xorshift64*: deterministic so failures reproduce. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static uint32_t rnd_below(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

/* Appends one fragment (header + bytes) at p; returns bytes written. */
static size_t put_frag(uint8_t *p, uint8_t type, uint32_t msg_len, uint16_t seq, uint32_t off,
                       uint32_t flen, const uint8_t *data)
{
    p[0] = type;
    p[1] = (uint8_t)(msg_len >> 16);
    p[2] = (uint8_t)(msg_len >> 8);
    p[3] = (uint8_t)msg_len;
    p[4] = (uint8_t)(seq >> 8);
    p[5] = (uint8_t)seq;
    p[6] = (uint8_t)(off >> 16);
    p[7] = (uint8_t)(off >> 8);
    p[8] = (uint8_t)off;
    p[9] = (uint8_t)(flen >> 16);
    p[10] = (uint8_t)(flen >> 8);
    p[11] = (uint8_t)flen;
    if (flen && data)
        memcpy(p + 12, data, flen);
    return 12 + (size_t)flen;
}

static uint8_t msgbuf[4][4096];
static void fill_msgs(void)
{
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 4096; i++)
            msgbuf[m][i] = (uint8_t)(i * 7 + m * 31 + (i >> 8));
}

/* Adds a record made of one fragment of msgbuf[m]. */
static int add1(struct hs_reasm *r, uint16_t epoch, uint8_t type, uint32_t msg_len, uint16_t seq,
                uint32_t off, uint32_t flen, const uint8_t *src, unsigned *flags)
{
    static uint8_t rec[16 + 70000];
    size_t n = put_frag(rec, type, msg_len, seq, off, flen, src + off);
    return hs_reasm_add_record(r, epoch, rec, n, flags);
}

static void test_single_message(void)
{
    struct hs_reasm r;
    struct hs_reasm_msg m;
    unsigned fl;
    hs_reasm_init(&r, MAX_MSG, MAX_BUF);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 300, 0, 0, 300, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT_EQUAL(m.type, 1);
    CU_ASSERT_EQUAL(m.seq, 0);
    CU_ASSERT_EQUAL(m.epoch, 0);
    CU_ASSERT_EQUAL(m.len, 300);
    CU_ASSERT(memcmp(m.body, msgbuf[0], 300) == 0);
    CU_ASSERT_EQUAL(r.next_seq, 1);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    hs_reasm_clear(&r);
}

static void test_zero_length_message(void)
{
    struct hs_reasm r;
    struct hs_reasm_msg m;
    unsigned fl;
    hs_reasm_init(&r, MAX_MSG, MAX_BUF);
    /* ServerHelloDone-style empty body: off=0, len=0 is legal. */
    CU_ASSERT_EQUAL(add1(&r, 1, 14, 0, 0, 0, 0, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT_EQUAL(m.type, 14);
    CU_ASSERT_EQUAL(m.len, 0);
    CU_ASSERT_EQUAL(m.epoch, 1);
    CU_ASSERT_PTR_NOT_NULL(m.body);
    /* Duplicate of it now is old. */
    CU_ASSERT_EQUAL(add1(&r, 1, 14, 0, 0, 0, 0, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_OLD);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    hs_reasm_clear(&r);
}

struct bad_case {
    const char *name;
    uint32_t msg_len, off, flen;
    size_t trunc; /* bytes cut off the end of the record */
    int want;
};

static void test_bad_fragments_table(void)
{
    static const struct bad_case cases[] = {
        {"zero-length fragment of non-empty message", 100, 0, 0, 0, CR_ERR_DECODE},
        {"zero-length fragment in the middle", 100, 50, 0, 0, CR_ERR_DECODE},
        {"offset past the message", 100, 101, 0, 0, CR_ERR_DECODE},
        {"offset+length past the message", 100, 90, 11, 0, CR_ERR_DECODE},
        {"offset huge (overflow bait)", 100, 0xffffff, 1, 0, CR_ERR_DECODE},
        {"length huge (overflow bait)", 100, 1, 0xffffff, 0, CR_ERR_DECODE},
        {"fragment body truncated", 100, 0, 100, 1, CR_ERR_DECODE},
        {"fragment body truncated to nothing", 100, 0, 100, 100, CR_ERR_DECODE},
        {"header truncated", 100, 0, 100, 101, CR_ERR_DECODE},
        {"header truncated to 1 byte", 100, 0, 100, 111, CR_ERR_DECODE},
        {"message over max_msg_bytes", MAX_MSG + 1, 0, 100, 0, CR_ERR_LIMIT},
        {"message 2^24-1", 0xffffff, 0, 100, 0, CR_ERR_LIMIT},
        {"exact end is fine", 100, 90, 10, 0, 0},
        {"exact max_msg_bytes is fine", MAX_MSG, 0, 100, 0, 0},
    };
    static uint8_t rec[64 + 4096];
    uint8_t data[4096];
    memset(data, 0xab, sizeof(data));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        struct hs_reasm r;
        struct hs_reasm_msg m;
        unsigned fl = 99;
        hs_reasm_init(&r, MAX_MSG, MAX_BUF);
        uint32_t flen = c->flen > 200 ? 200 : c->flen;
        size_t n = put_frag(rec, 1, c->msg_len, 0, c->off, c->flen, NULL);
        memcpy(rec + 12, data, flen);
        n = 12 + flen;
        CU_ASSERT_FATAL(c->trunc <= n);
        int rc = hs_reasm_add_record(&r, 0, rec, n - c->trunc, &fl);
        if (rc != c->want)
            printf("\n  case '%s': rc %d want %d\n", c->name, rc, c->want);
        CU_ASSERT_EQUAL(rc, c->want);
        if (c->want != 0) {
            CU_ASSERT_EQUAL(r.buffered_bytes, 0);
            CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
        }
        hs_reasm_clear(&r);
    }
}

static void test_empty_and_trailing(void)
{
    struct hs_reasm r;
    unsigned fl;
    uint8_t rec[256];
    hs_reasm_init(&r, MAX_MSG, MAX_BUF);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, 0, &fl), CR_ERR_DECODE);
    size_t n = put_frag(rec, 1, 10, 0, 0, 10, msgbuf[0]);
    for (size_t extra = 1; extra < 12; extra++) {
        memset(rec + n, 0, extra);
        CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n + extra, &fl), CR_ERR_DECODE);
    }
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
    hs_reasm_clear(&r);
}

/* A bad fragment anywhere in a record: nothing of the record is kept. */
static void test_bad_record_keeps_nothing(void)
{
    struct hs_reasm r;
    struct hs_reasm_msg m;
    unsigned fl;
    uint8_t rec[2048];
    hs_reasm_init(&r, MAX_MSG, MAX_BUF);
    size_t n = put_frag(rec, 1, 500, 0, 0, 200, msgbuf[0]);
    n += put_frag(rec + n, 2, 10, 1, 0, 10, msgbuf[1]);
    n += put_frag(rec + n, 1, 500, 0, 450, 51, msgbuf[0]); /* past end */
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), CR_ERR_DECODE);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    for (int i = 0; i < HS_REASM_MAX_PENDING_MSGS; i++)
        CU_ASSERT_PTR_NULL(r.slots[i]);
    /* Same record with a conflicting fragment instead: dropped whole. */
    n = put_frag(rec, 1, 500, 0, 0, 200, msgbuf[0]);
    n += put_frag(rec + n, 2, 10, 1, 0, 10, msgbuf[1]);
    n += put_frag(rec + n, 1, 500, 0, 100, 200, msgbuf[2]); /* other bytes */
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
    CU_ASSERT(fl & HS_REASM_F_CONFLICT);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_PTR_NULL(r.slots[0]);
    CU_ASSERT_PTR_NULL(r.slots[1]);
    /* Several messages in one good record are all delivered in order. */
    n = put_frag(rec, 1, 500, 0, 0, 300, msgbuf[0]);
    n += put_frag(rec + n, 2, 10, 1, 0, 10, msgbuf[1]);
    n += put_frag(rec + n, 1, 500, 0, 250, 250, msgbuf[0] + 250); /* same bytes */
    n += put_frag(rec + n, 14, 0, 2, 0, 0, NULL);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
    CU_ASSERT_EQUAL(fl, 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT(m.type == 1 && m.len == 500 && memcmp(m.body, msgbuf[0], 500) == 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT(m.type == 2 && m.len == 10 && memcmp(m.body, msgbuf[1], 10) == 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT(m.type == 14 && m.len == 0 && m.seq == 2);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    hs_reasm_clear(&r);
}

static void test_conflicts(void)
{
    struct hs_reasm r;
    struct hs_reasm_msg m;
    unsigned fl;
    uint8_t other[4096];
    memcpy(other, msgbuf[0], sizeof(other));
    other[150] ^= 0x01;
    hs_reasm_init(&r, MAX_MSG, MAX_BUF);
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 1000, 0, 100, 100, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, 0);
    size_t before = r.buffered_bytes;
    /* Overlap with one different byte. */
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 1000, 0, 120, 100, other, &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    /* Overlap with identical bytes is fine (a duplicate). */
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 1000, 0, 50, 100, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, 0);
    /* Type changes, length changes, epoch changes. */
    CU_ASSERT_EQUAL(add1(&r, 0, 12, 1000, 0, 300, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 999, 0, 300, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 1001, 0, 300, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    CU_ASSERT_EQUAL(add1(&r, 1, 11, 1000, 0, 300, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    CU_ASSERT_EQUAL(r.buffered_bytes, before);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    /* Intra-record conflict: two fragments of a new message disagree. */
    uint8_t rec[512];
    size_t n = put_frag(rec, 2, 100, 1, 0, 60, msgbuf[1]);
    n += put_frag(rec + n, 2, 100, 1, 40, 60, other + 100);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    CU_ASSERT_PTR_NULL(r.slots[1]);
    n = put_frag(rec, 2, 100, 1, 0, 60, msgbuf[1]);
    n += put_frag(rec + n, 3, 100, 1, 60, 40, msgbuf[1] + 60);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_CONFLICT);
    CU_ASSERT_PTR_NULL(r.slots[1]);
    CU_ASSERT_EQUAL(r.buffered_bytes, before);
    /* The genuine rest still completes the message byte-exact. */
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 1000, 0, 0, 1000, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, 0);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT(m.len == 1000 && memcmp(m.body, msgbuf[0], 1000) == 0);
    hs_reasm_clear(&r);
}

static void test_window_old_future(void)
{
    struct hs_reasm r;
    struct hs_reasm_msg m;
    unsigned fl;
    hs_reasm_init(&r, MAX_MSG, MAX_BUF);
    /* seq next+MAX_PENDING is beyond the window: dropped, flagged. */
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 10, HS_REASM_MAX_PENDING_MSGS, 0, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_FUTURE);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 10, 0xffff, 0, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_FUTURE);
    /* Every seq in the window is buffered, out of order. */
    for (int s = HS_REASM_MAX_PENDING_MSGS - 1; s >= 1; s--) {
        CU_ASSERT_EQUAL(add1(&r, 0, (uint8_t)s, 10, (uint16_t)s, 0, 10, msgbuf[s & 3], &fl), 0);
        CU_ASSERT_EQUAL(fl, 0);
        CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    }
    CU_ASSERT_EQUAL(r.buffered_bytes, CHARGE(10) * (HS_REASM_MAX_PENDING_MSGS - 1));
    CU_ASSERT_EQUAL(add1(&r, 0, 0, 10, 0, 0, 10, msgbuf[0], &fl), 0);
    for (int s = 0; s < HS_REASM_MAX_PENDING_MSGS; s++) {
        CU_ASSERT_EQUAL_FATAL(hs_reasm_next(&r, &m), 1);
        CU_ASSERT_EQUAL(m.seq, s);
        CU_ASSERT_EQUAL(m.type, s);
        CU_ASSERT(memcmp(m.body, msgbuf[s & 3], 10) == 0);
    }
    CU_ASSERT_EQUAL(r.next_seq, HS_REASM_MAX_PENDING_MSGS);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    /* Everything below next_seq is old; old + good fragments in one record. */
    uint8_t rec[256];
    size_t n = put_frag(rec, 3, 10, 3, 0, 10, msgbuf[3]);
    n += put_frag(rec + n, 9, 5, HS_REASM_MAX_PENDING_MSGS, 0, 5, msgbuf[1]);
    n += put_frag(rec + n, 9, 5, 3 * HS_REASM_MAX_PENDING_MSGS, 0, 5, msgbuf[1]);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
    CU_ASSERT_EQUAL(fl, HS_REASM_F_OLD | HS_REASM_F_FUTURE);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 1);
    CU_ASSERT_EQUAL(m.seq, HS_REASM_MAX_PENDING_MSGS);
    CU_ASSERT_EQUAL(m.type, 9);
    hs_reasm_clear(&r);
}

static void test_caps(void)
{
    struct hs_reasm r;
    struct hs_reasm_msg m;
    unsigned fl;
    hs_reasm_init(&r, 3000, 5000);
    /* The message-size cap is not a byte-cap refusal. */
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 3001, 0, 0, 10, msgbuf[0], &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(r.refused_cap, 0);
    /* 10 bytes of a 3000-byte message: the smallest buffer, not 3000. */
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 3000, 0, 0, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), CHARGE(HS_REASM_MIN_ALLOC_BYTES));
    /* A fragment at the end of a message makes its buffer cover it all. */
    CU_ASSERT_EQUAL(add1(&r, 0, 2, 3000, 1, 2990, 10, msgbuf[1], &fl), 0);
    size_t used = CHARGE(HS_REASM_MIN_ALLOC_BYTES) + CHARGE(3000);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), used);
    /* Past the per-handshake cap: refused, counted, nothing kept. */
    CU_ASSERT_EQUAL(add1(&r, 0, 3, 3000, 2, 1500, 10, msgbuf[1], &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(r.refused_cap, 1);
    CU_ASSERT_PTR_NULL(r.slots[2]);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), used);
    /* Growing a buffered message past the cap is refused the same way. */
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 3000, 0, 10, 2990, msgbuf[0], &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(r.refused_cap, 2);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), used);
    CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
    /* What fits still goes in; an empty message costs nothing. */
    CU_ASSERT_EQUAL(add1(&r, 0, 3, 3000, 2, 0, 10, msgbuf[1], &fl), 0);
    used += CHARGE(HS_REASM_MIN_ALLOC_BYTES);
    CU_ASSERT_EQUAL(add1(&r, 0, 4, 0, 3, 0, 0, msgbuf[1], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), used);
    /* More bytes inside the allocated buffer cost nothing. */
    CU_ASSERT_EQUAL(add1(&r, 0, 1, 3000, 0, 10, 200, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), used);
    hs_reasm_clear(&r);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), 0);

    /* Two new messages in one record that together pass the cap. */
    hs_reasm_init(&r, 3000, 5000);
    uint8_t rec[256];
    size_t n = put_frag(rec, 1, 3000, 0, 2500, 10, msgbuf[0]);
    n += put_frag(rec + n, 2, 3000, 1, 2500, 10, msgbuf[1]);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(r.refused_cap, 1);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_PTR_NULL(r.slots[0]);
    CU_ASSERT_PTR_NULL(r.slots[1]);
    /* Too many fragments in one record. */
    static uint8_t big[(HS_REASM_MAX_FRAGS_PER_RECORD + 1) * 13];
    n = 0;
    for (int i = 0; i <= HS_REASM_MAX_FRAGS_PER_RECORD; i++)
        n += put_frag(big + n, 1, 100, 0, (uint32_t)i, 1, msgbuf[0] + i);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, big, n, &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, big, n - 13, &fl), 0);
    /* The smallest buffer, capped at the 100-byte message. */
    CU_ASSERT_EQUAL(r.buffered_bytes, CHARGE(100));
    hs_reasm_clear(&r);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
}

/* A peer declaring the largest message (2^24-1 bytes) and sending 10 of
 * them makes the reassembly allocate about what arrived, not 16 MiB. */
static void test_alloc_follows_arrival(void)
{
    struct hs_reasm r;
    unsigned fl;
    hs_reasm_init(&r, 0xffffff, 2 * 0xffffff);
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 0xffffff, 0, 0, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(fl, 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), CHARGE(HS_REASM_MIN_ALLOC_BYTES));
    /* In-order bytes inside the buffer cost nothing more. */
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 0xffffff, 0, 10, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), CHARGE(HS_REASM_MIN_ALLOC_BYTES));
    /* Past the buffer: it grows to cover the new end (at least doubling). */
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 0xffffff, 0, 1000, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), CHARGE(1010));
    CU_ASSERT_EQUAL(add1(&r, 0, 11, 0xffffff, 0, 1010, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), CHARGE(2020));
    hs_reasm_clear(&r);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), 0);
}

/* One byte cap shared by several reassemblies (all handshakes). */
static void test_global_budget(void)
{
    struct hs_reasm a, b;
    struct hs_reasm_msg m;
    struct hs_reasm_budget bud = {.max_bytes = 3 * CHARGE(HS_REASM_MIN_ALLOC_BYTES)};
    unsigned fl;
    hs_reasm_init(&a, 3000, MAX_BUF);
    hs_reasm_init(&b, 3000, MAX_BUF);
    hs_reasm_attach_budget(&a, &bud);
    hs_reasm_attach_budget(&b, &bud);
    CU_ASSERT_EQUAL(add1(&a, 0, 1, 3000, 0, 0, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(add1(&b, 0, 1, 3000, 0, 0, 10, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(add1(&a, 0, 2, 3000, 1, 0, 10, msgbuf[1], &fl), 0);
    CU_ASSERT_EQUAL(bud.used_bytes, 3 * CHARGE(HS_REASM_MIN_ALLOC_BYTES));
    /* Well under b's own cap, but over the shared one. */
    CU_ASSERT_EQUAL(add1(&b, 0, 2, 3000, 1, 0, 10, msgbuf[1], &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(bud.refused, 1);
    CU_ASSERT_EQUAL(b.refused_cap, 1);
    CU_ASSERT_EQUAL(a.refused_cap, 0);
    CU_ASSERT_PTR_NULL(b.slots[1]);
    CU_ASSERT_EQUAL(bud.used_bytes, 3 * CHARGE(HS_REASM_MIN_ALLOC_BYTES));
    /* Growing is charged too. */
    CU_ASSERT_EQUAL(add1(&b, 0, 1, 3000, 0, 10, 2990, msgbuf[0], &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(bud.refused, 2);
    CU_ASSERT_EQUAL(add1(&a, 0, 3, 20, 2, 0, 20, msgbuf[2], &fl), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(bud.refused, 3);
    /* A cleared (or delivered) message gives its bytes back. */
    hs_reasm_clear(&a);
    CU_ASSERT_EQUAL(bud.used_bytes, CHARGE(HS_REASM_MIN_ALLOC_BYTES));
    CU_ASSERT_EQUAL(add1(&b, 0, 2, 20, 1, 0, 20, msgbuf[1], &fl), 0);
    CU_ASSERT_EQUAL(bud.used_bytes, CHARGE(HS_REASM_MIN_ALLOC_BYTES) + CHARGE(20));
    CU_ASSERT_EQUAL(hs_reasm_next(&b, &m), 0); /* seq 0 incomplete */
    hs_reasm_clear(&b);
    CU_ASSERT_EQUAL(bud.used_bytes, 0);
    hs_reasm_init(&a, 3000, MAX_BUF);
    hs_reasm_attach_budget(&a, &bud);
    CU_ASSERT_EQUAL(add1(&a, 0, 1, 20, 0, 0, 20, msgbuf[0], &fl), 0);
    CU_ASSERT_EQUAL(bud.used_bytes, CHARGE(20));
    CU_ASSERT_EQUAL(hs_reasm_next(&a, &m), 1);
    CU_ASSERT_EQUAL(bud.used_bytes, 0);
    CU_ASSERT_EQUAL(hs_reasm_bytes_used(&a), 0);
    hs_reasm_clear(&a);
}

/* The maxima: a certificate message over 2^14 bytes cut into many
 * fragments, in order, backwards and shuffled with duplicates; the buffer
 * never passes what the message needs and everything is returned. */
#define CERT_LEN (16384 + 1234)
static void test_big_message_many_fragments(void)
{
    static uint8_t cert[CERT_LEN];
    static uint8_t rec[16 + 2000];
    uint32_t offs[64];
    unsigned n_frags = 0;
    const uint32_t step = 700;
    struct hs_reasm_budget bud = {.max_bytes = 1024 * 1024};
    for (uint32_t i = 0; i < CERT_LEN; i++)
        cert[i] = (uint8_t)(i * 13 + (i >> 9));
    for (uint32_t off = 0; off < CERT_LEN; off += step)
        offs[n_frags++] = off;
    for (int order = 0; order < 3; order++) {
        struct hs_reasm r;
        struct hs_reasm_msg m;
        unsigned fl;
        size_t peak = 0;
        hs_reasm_init(&r, 65536, 128 * 1024);
        hs_reasm_attach_budget(&r, &bud);
        uint32_t perm[64];
        for (unsigned i = 0; i < n_frags; i++)
            perm[i] = order == 1 ? n_frags - 1 - i : i;
        if (order == 2)
            for (unsigned i = n_frags - 1; i > 0; i--) {
                unsigned j = rnd_below(i + 1);
                uint32_t t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        for (unsigned i = 0; i < n_frags; i++) {
            uint32_t off = offs[perm[i]];
            uint32_t flen = off + step <= CERT_LEN ? step : CERT_LEN - off;
            /* Overlap the next fragment by a few bytes, and repeat some. */
            if (off + flen + 50 <= CERT_LEN)
                flen += 50;
            for (int rep = 0; rep < (order == 2 && (i & 3) == 0 ? 2 : 1); rep++) {
                size_t n = put_frag(rec, 11, CERT_LEN, 0, off, flen, cert + off);
                CU_ASSERT_EQUAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
                CU_ASSERT_EQUAL(fl, 0);
            }
            if (hs_reasm_bytes_used(&r) > peak)
                peak = hs_reasm_bytes_used(&r);
            if (order == 0 && i == 0)
                CU_ASSERT(hs_reasm_bytes_used(&r) <= CHARGE(2 * (step + 50)));
            if (i + 1 < n_frags)
                CU_ASSERT_EQUAL(hs_reasm_next(&r, &m), 0);
        }
        CU_ASSERT(peak <= CHARGE(CERT_LEN));
        CU_ASSERT_EQUAL(bud.used_bytes, hs_reasm_bytes_used(&r));
        CU_ASSERT_EQUAL_FATAL(hs_reasm_next(&r, &m), 1);
        CU_ASSERT_EQUAL(m.len, CERT_LEN);
        CU_ASSERT_EQUAL(m.type, 11);
        CU_ASSERT(memcmp(m.body, cert, CERT_LEN) == 0);
        CU_ASSERT_EQUAL(hs_reasm_bytes_used(&r), 0);
        CU_ASSERT_EQUAL(bud.used_bytes, 0);
        CU_ASSERT_EQUAL(r.refused_cap, 0);
        hs_reasm_clear(&r);
    }
    CU_ASSERT_EQUAL(bud.refused, 0);
}

/* ---- randomized: shuffled, duplicated, overlapping fragments ---------- */

#define R_MSGS      6
#define R_MAX_LEN   6000
#define R_MAX_FRAGS 400

struct rfrag {
    uint16_t seq;
    uint32_t off, flen;
};

static void test_random_roundtrip(void)
{
    static uint8_t msgs[R_MSGS][R_MAX_LEN];
    static struct rfrag frags[R_MAX_FRAGS];
    static uint8_t rec[16384 + 2048];
    uint32_t lens[R_MSGS];
    uint8_t types[R_MSGS];

    rng_state = 0x1234567887654321ull;
    for (int round = 0; round < 300; round++) {
        struct hs_reasm r;
        hs_reasm_init(&r, R_MAX_LEN, 64 * 1024);
        unsigned n_msgs = 1 + rnd_below(R_MSGS);
        unsigned n_frags = 0;
        for (unsigned m = 0; m < n_msgs; m++) {
            lens[m] = rnd_below(8) == 0 ? 0 : rnd_below(R_MAX_LEN + 1);
            types[m] = (uint8_t)rnd();
            for (uint32_t i = 0; i < lens[m]; i++)
                msgs[m][i] = (uint8_t)rnd();
            /* A covering sequence of random cuts ... */
            uint32_t off = 0;
            do {
                uint32_t flen = lens[m] - off;
                if (flen > 1) {
                    uint32_t cut = 1 + rnd_below(flen);
                    if (rnd_below(3))
                        flen = cut;
                }
                frags[n_frags++] = (struct rfrag){(uint16_t)m, off, flen};
                off += flen;
            } while (off < lens[m] && n_frags < R_MAX_FRAGS - 40);
            if (off < lens[m])
                frags[n_frags++] = (struct rfrag){(uint16_t)m, off, lens[m] - off};
            /* ... plus duplicates and random overlapping ranges. */
            unsigned extra = rnd_below(6);
            for (unsigned k = 0; k < extra && lens[m] > 0 && n_frags < R_MAX_FRAGS; k++) {
                uint32_t o = rnd_below(lens[m]);
                uint32_t l = 1 + rnd_below(lens[m] - o);
                frags[n_frags++] = (struct rfrag){(uint16_t)m, o, l};
            }
            if (rnd_below(2) && n_frags < R_MAX_FRAGS)
                frags[n_frags] = frags[rnd_below(n_frags)], n_frags++;
        }
        /* Shuffle. */
        for (unsigned i = n_frags; i > 1; i--) {
            unsigned j = rnd_below(i);
            struct rfrag t = frags[i - 1];
            frags[i - 1] = frags[j];
            frags[j] = t;
        }
        /* Pack 1..4 fragments per record (as room allows); consume
         * complete messages as soon as they are available. */
        unsigned next_msg = 0;
        unsigned i = 0;
        while (i < n_frags) {
            unsigned per = 1 + rnd_below(4);
            size_t n = 0;
            while (per-- > 0 && i < n_frags && n + 12 + frags[i].flen <= sizeof(rec)) {
                const struct rfrag *f = &frags[i++];
                n += put_frag(rec + n, types[f->seq], lens[f->seq], f->seq, f->off, f->flen,
                              msgs[f->seq] + f->off);
            }
            unsigned fl;
            int rc = hs_reasm_add_record(&r, 2, rec, n, &fl);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_EQUAL(fl & (HS_REASM_F_CONFLICT | HS_REASM_F_FUTURE), 0);
            struct hs_reasm_msg m;
            while (hs_reasm_next(&r, &m)) {
                CU_ASSERT_FATAL(next_msg < n_msgs);
                CU_ASSERT_EQUAL(m.seq, next_msg);
                CU_ASSERT_EQUAL(m.type, types[next_msg]);
                CU_ASSERT_EQUAL(m.epoch, 2);
                CU_ASSERT_EQUAL_FATAL(m.len, lens[next_msg]);
                CU_ASSERT(m.len == 0 || memcmp(m.body, msgs[next_msg], m.len) == 0);
                next_msg++;
            }
        }
        CU_ASSERT_EQUAL(next_msg, n_msgs);
        CU_ASSERT_EQUAL(r.buffered_bytes, 0);
        hs_reasm_clear(&r);
    }
}

/* Differential test against a naive per-byte oracle: fragments of one
 * message whose body bytes are sometimes corrupted.  The oracle keeps the
 * first value accepted for every byte; a fragment that disagrees with it on
 * any byte must be a CONFLICT that changes nothing; the delivered message
 * must equal the oracle's bytes.  Then garbage records: no crash, no leak. */
static void test_random_mutations(void)
{
    static uint8_t rec[2048];
    static uint8_t msg[1500], frag[1500];
    static uint8_t o_val[1500], o_seen[1500];
    rng_state = 0xfeedfacecafebeefull;
    for (int round = 0; round < 1500; round++) {
        struct hs_reasm r;
        hs_reasm_init(&r, 1500, 4000);
        uint32_t len = 1 + rnd_below(sizeof(msg));
        for (uint32_t i = 0; i < len; i++)
            msg[i] = (uint8_t)rnd();
        memset(o_seen, 0, sizeof(o_seen));
        uint32_t o_count = 0;
        int delivered = 0;
        for (int k = 0; k < 40 && !delivered; k++) {
            uint32_t off = rnd_below(len);
            uint32_t flen = 1 + rnd_below(len - off);
            memcpy(frag, msg + off, flen);
            if (rnd_below(4) == 0)
                frag[rnd_below(flen)] ^= (uint8_t)(1 + rnd_below(255));
            size_t n = put_frag(rec, 5, len, 0, off, flen, frag);
            int want_conflict = 0;
            for (uint32_t i = 0; i < flen; i++)
                if (o_seen[off + i] && o_val[off + i] != frag[i])
                    want_conflict = 1;
            unsigned fl = 0;
            CU_ASSERT_EQUAL_FATAL(hs_reasm_add_record(&r, 0, rec, n, &fl), 0);
            CU_ASSERT_EQUAL_FATAL(fl, want_conflict ? HS_REASM_F_CONFLICT : 0u);
            if (!want_conflict) {
                for (uint32_t i = 0; i < flen; i++) {
                    if (!o_seen[off + i]) {
                        o_seen[off + i] = 1;
                        o_val[off + i] = frag[i];
                        o_count++;
                    }
                }
            }
            struct hs_reasm_msg m;
            int got = hs_reasm_next(&r, &m);
            CU_ASSERT_EQUAL_FATAL(got, o_count == len);
            if (got) {
                CU_ASSERT_EQUAL(m.len, len);
                CU_ASSERT(memcmp(m.body, o_val, len) == 0);
                delivered = 1;
            }
        }
        CU_ASSERT(r.buffered_bytes <= 4000);
        hs_reasm_clear(&r);
    }
    /* Garbage records: random bytes, and good records with a flipped
     * header byte or truncated. */
    for (int round = 0; round < 3000; round++) {
        struct hs_reasm r;
        hs_reasm_init(&r, 1500, 4000);
        size_t n;
        if (rnd_below(2)) {
            n = rnd_below(200);
            for (size_t i = 0; i < n; i++)
                rec[i] = (uint8_t)rnd();
            if (n >= 4 && rnd_below(2))
                rec[1] = 0, rec[2] = 0, rec[3] = (uint8_t)rnd_below(60);
        } else {
            uint32_t len = 1 + rnd_below(100);
            uint32_t off = rnd_below(len);
            n = put_frag(rec, 5, len, (uint16_t)rnd_below(3), off, 1 + rnd_below(len - off), msg);
            if (rnd_below(2))
                rec[rnd_below(12)] ^= (uint8_t)(1 + rnd_below(255));
            else
                n = rnd_below((uint32_t)n);
        }
        unsigned fl;
        int rc = hs_reasm_add_record(&r, 0, rec, n, &fl);
        CU_ASSERT(rc == 0 || rc == CR_ERR_DECODE || rc == CR_ERR_LIMIT);
        struct hs_reasm_msg m;
        while (hs_reasm_next(&r, &m))
            CU_ASSERT(m.len <= 1500);
        hs_reasm_clear(&r);
    }
}

void cu_register(void)
{
    fill_msgs();
    CU_pSuite s = CU_add_suite("reasm", NULL, NULL);
    CU_add_test(s, "single message", test_single_message);
    CU_add_test(s, "zero-length message", test_zero_length_message);
    CU_add_test(s, "bad fragments (table)", test_bad_fragments_table);
    CU_add_test(s, "empty record, trailing bytes", test_empty_and_trailing);
    CU_add_test(s, "bad record keeps nothing", test_bad_record_keeps_nothing);
    CU_add_test(s, "conflicts", test_conflicts);
    CU_add_test(s, "window: old and future", test_window_old_future);
    CU_add_test(s, "caps", test_caps);
    CU_add_test(s, "allocation follows arrival (2^24-1 declared)", test_alloc_follows_arrival);
    CU_add_test(s, "global byte budget", test_global_budget);
    CU_add_test(s, "2^14+ byte message in many fragments", test_big_message_many_fragments);
    CU_add_test(s, "random shuffled fragments round-trip", test_random_roundtrip);
    CU_add_test(s, "random mutations and garbage", test_random_mutations);
}

#include "cu_main.h"
