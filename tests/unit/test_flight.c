/* test_flight.c — CUnit suite for control/hs_flight.c: a server flight
 * with a 5 KB certificate emitted at several MTUs, parsed back with
 * dp_record_split and the reassembler (hs_reasm) and compared byte-exact;
 * datagram sizes, record packing, sequence numbers across re-emits, a fake
 * sealer for epoch 1, and every error path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "dp_record.h"
#include "hs_flight.h"
#include "hs_reasm.h"

/* ---- fake sealer: header, 8-byte explicit nonce, XOR, 16-byte tag ---- */
#define FAKE_NONCE_LEN 8
#define FAKE_TAG_LEN   16
#define FAKE_OVERHEAD  (FAKE_NONCE_LEN + FAKE_TAG_LEN)

struct fake_key {
    uint8_t k;
    unsigned calls;
    int fail_at; /* fail the n-th call (1-based); 0: never */
    size_t lie;  /* extra bytes written beyond the declared overhead */
};

static void fake_tag(uint8_t k, uint64_t seq, const uint8_t *ct, size_t n, uint8_t *tag)
{
    uint64_t h = 0xcbf29ce484222325ull ^ k ^ (seq << 8);
    for (size_t i = 0; i < n; i++)
        h = (h ^ ct[i]) * 0x100000001b3ull;
    for (int i = 0; i < FAKE_TAG_LEN; i++)
        tag[i] = (uint8_t)(h >> ((i & 7) * 8)) ^ (uint8_t)i;
}

static int fake_seal(void *arg, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *pt,
                     size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct fake_key *key = arg;
    key->calls++;
    if (key->fail_at && (int)key->calls == key->fail_at)
        return CR_ERR_CRYPTO;
    size_t body = FAKE_NONCE_LEN + pt_len + FAKE_TAG_LEN + key->lie;
    if (DP_REC_HDR_LEN + body > out_cap)
        return CR_ERR_LIMIT;
    size_t h =
        dp_record_write_hdr(out, type, DP_VERSION_DTLS12, epoch, seq, NULL, 0, (uint16_t)body);
    uint8_t *p = out + h;
    for (int i = 0; i < FAKE_NONCE_LEN; i++)
        p[i] = (uint8_t)(seq >> (56 - 8 * i));
    for (size_t i = 0; i < pt_len; i++)
        p[FAKE_NONCE_LEN + i] = pt[i] ^ key->k ^ (uint8_t)i;
    fake_tag(key->k, seq, p + FAKE_NONCE_LEN, pt_len, p + FAKE_NONCE_LEN + pt_len);
    memset(p + FAKE_NONCE_LEN + pt_len + FAKE_TAG_LEN, 0, key->lie);
    *out_len = h + body;
    return 0;
}

/* Returns the plaintext length, or -1 when the record does not open. */
static int fake_open(uint8_t k, const struct dp_record *rec, uint8_t *pt)
{
    if (rec->length < FAKE_OVERHEAD)
        return -1;
    const uint8_t *p = rec->fragment;
    size_t n = rec->length - FAKE_OVERHEAD;
    uint64_t nonce = 0;
    for (int i = 0; i < FAKE_NONCE_LEN; i++)
        nonce = (nonce << 8) | p[i];
    if (nonce != rec->seq)
        return -1;
    uint8_t tag[FAKE_TAG_LEN];
    fake_tag(k, rec->seq, p + FAKE_NONCE_LEN, n, tag);
    if (memcmp(tag, p + FAKE_NONCE_LEN + n, FAKE_TAG_LEN) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        pt[i] = p[FAKE_NONCE_LEN + i] ^ k ^ (uint8_t)i;
    return (int)n;
}

/* ---- the flight under test ------------------------------------------- */
#define N_MSGS 6
struct tmsg {
    uint8_t type;
    uint16_t seq;
    uint16_t epoch;
    uint32_t len;
    int is_ccs;
    uint8_t *body;
};

static struct tmsg flight_msgs[N_MSGS + 2];
static unsigned n_flight_msgs;

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void add_msg(uint8_t type, uint16_t seq, uint16_t epoch, uint32_t len, int is_ccs)
{
    struct tmsg *m = &flight_msgs[n_flight_msgs++];
    m->type = type;
    m->seq = seq;
    m->epoch = epoch;
    m->len = len;
    m->is_ccs = is_ccs;
    m->body = len ? malloc(len) : NULL;
    for (uint32_t i = 0; i < len; i++)
        m->body[i] = (uint8_t)rnd32();
}

static int suite_init(void)
{
    /* ServerHello, Certificate (5 KB), ServerKeyExchange, ServerHelloDone
     * (empty), then — as in an abbreviated handshake — CCS and Finished. */
    add_msg(2, 1, 0, 90, 0);
    add_msg(11, 2, 0, 5000, 0);
    add_msg(12, 3, 0, 149, 0);
    add_msg(14, 4, 0, 0, 0);
    add_msg(0, 0, 0, 0, 1);
    add_msg(20, 5, 1, 12, 0);
    return 0;
}

static int suite_clean(void)
{
    for (unsigned i = 0; i < n_flight_msgs; i++)
        free(flight_msgs[i].body);
    return 0;
}

static void build_flight(struct hs_flight *f, const struct tmsg *msgs, unsigned n)
{
    hs_flight_init(f);
    for (unsigned i = 0; i < n; i++) {
        const struct tmsg *m = &msgs[i];
        int rc = m->is_ccs ? hs_flight_add_ccs(f, m->epoch)
                           : hs_flight_add_handshake(f, m->epoch, m->type, m->seq, m->body, m->len);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
    }
}

/* Parses the datagrams back and checks every property of the emit.
 * seq_before: the seqs passed in; seq_after: what emit left in them. */
static void check_emit(const struct tmsg *msgs, unsigned n_msgs, size_t mtu, uint8_t k,
                       const struct hs_dgram *dgrams, unsigned n_dgrams,
                       const uint64_t seq_before[2], const uint64_t seq_after[2])
{
    static uint8_t pt[HS_MTU_MAX_BYTES];
    struct hs_reasm r;
    uint64_t want_seq[2] = {seq_before[0], seq_before[1]};
    unsigned msg_i = 0; /* next expected message (in flight order) */
    size_t max_overhead = DP_REC_HDR_LEN + FAKE_OVERHEAD + HS_FRAG_HDR_LEN + 1;

    hs_reasm_init(&r, HS_MSG_MAX_BYTES, HS_BUFFERED_MAX_BYTES);
    /* The reassembler starts at the first handshake message's seq. */
    for (unsigned i = 0; i < n_msgs; i++) {
        if (!msgs[i].is_ccs) {
            r.next_seq = msgs[i].seq;
            break;
        }
    }
    CU_ASSERT(n_dgrams > 0);
    for (unsigned d = 0; d < n_dgrams; d++) {
        CU_ASSERT_FATAL(dgrams[d].len <= mtu);
        CU_ASSERT(dgrams[d].len > 0);
        /* Packing: a datagram is closed only when not even the smallest
         * next record would have fit. */
        if (d + 1 < n_dgrams)
            CU_ASSERT(mtu - dgrams[d].len < max_overhead);
        if (d > 0)
            CU_ASSERT(dgrams[d].data == dgrams[d - 1].data + dgrams[d - 1].len);
        struct dp_record recs[DP_REC_MAX_PER_DGRAM];
        int err = -1;
        unsigned nr =
            dp_record_split(dgrams[d].data, dgrams[d].len, 0, recs, DP_REC_MAX_PER_DGRAM, &err);
        CU_ASSERT_EQUAL_FATAL(err, DP_RECORD_OK);
        CU_ASSERT_FATAL(nr > 0);
        for (unsigned i = 0; i < nr; i++) {
            const struct dp_record *rec = &recs[i];
            CU_ASSERT_FATAL(rec->epoch <= 1);
            CU_ASSERT_EQUAL(rec->version, DP_VERSION_DTLS12);
            /* Fresh, strictly increasing record seqs per epoch. */
            CU_ASSERT_EQUAL(rec->seq, want_seq[rec->epoch]);
            want_seq[rec->epoch] = rec->seq + 1;
            int n;
            if (rec->epoch == 0) {
                memcpy(pt, rec->fragment, rec->length);
                n = rec->length;
            } else {
                n = fake_open(k, rec, pt);
                CU_ASSERT_FATAL(n >= 0);
            }
            while (msg_i < n_msgs && !msgs[msg_i].is_ccs) {
                struct hs_reasm_msg m;
                if (!hs_reasm_next(&r, &m))
                    break;
                const struct tmsg *t = &msgs[msg_i++];
                CU_ASSERT_EQUAL(m.type, t->type);
                CU_ASSERT_EQUAL(m.seq, t->seq);
                CU_ASSERT_EQUAL(m.epoch, t->epoch);
                CU_ASSERT_EQUAL_FATAL(m.len, t->len);
                CU_ASSERT(t->len == 0 || memcmp(m.body, t->body, t->len) == 0);
            }
            CU_ASSERT_FATAL(msg_i < n_msgs);
            const struct tmsg *t = &msgs[msg_i];
            CU_ASSERT_EQUAL_FATAL(rec->epoch, t->epoch);
            if (rec->type == DP_CT_CHANGE_CIPHER_SPEC) {
                CU_ASSERT_FATAL(t->is_ccs);
                CU_ASSERT_EQUAL(n, 1);
                CU_ASSERT_EQUAL(pt[0], 1);
                msg_i++;
                continue;
            }
            CU_ASSERT_EQUAL_FATAL(rec->type, DP_CT_HANDSHAKE);
            CU_ASSERT_FATAL(!t->is_ccs);
            /* Each record carries exactly one fragment. */
            CU_ASSERT_FATAL(n >= HS_FRAG_HDR_LEN);
            uint32_t flen = ((uint32_t)pt[9] << 16) | ((uint32_t)pt[10] << 8) | pt[11];
            CU_ASSERT_EQUAL(flen, (uint32_t)n - HS_FRAG_HDR_LEN);
            unsigned fl = 0;
            CU_ASSERT_EQUAL_FATAL(hs_reasm_add_record(&r, rec->epoch, pt, (size_t)n, &fl), 0);
            CU_ASSERT_EQUAL(fl, 0);
        }
    }
    struct hs_reasm_msg m;
    while (msg_i < n_msgs && !msgs[msg_i].is_ccs && hs_reasm_next(&r, &m)) {
        const struct tmsg *t = &msgs[msg_i++];
        CU_ASSERT_EQUAL(m.type, t->type);
        CU_ASSERT_EQUAL_FATAL(m.len, t->len);
        CU_ASSERT(t->len == 0 || memcmp(m.body, t->body, t->len) == 0);
    }
    CU_ASSERT_EQUAL(msg_i, n_msgs);
    CU_ASSERT_EQUAL(r.buffered_bytes, 0);
    CU_ASSERT_EQUAL(seq_after[0], want_seq[0]);
    CU_ASSERT_EQUAL(seq_after[1], want_seq[1]);
    hs_reasm_clear(&r);
}

static uint8_t out_buf[256 * 1024];
static struct hs_dgram out_dgrams[HS_OUT_MAX_DGRAMS * 4];

static void test_emit_mtus(void)
{
    static const size_t mtus[] = {576, 1400, 256, HS_MTU_MIN_BYTES + 1, 9000};
    struct hs_flight f;
    struct fake_key key = {.k = 0x5a};
    struct hs_record_sealer sealer = {fake_seal, FAKE_OVERHEAD, &key};
    build_flight(&f, flight_msgs, n_flight_msgs);
    for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
        uint64_t seq[2] = {7, 0};
        unsigned total_prev = 0;
        for (int round = 0; round < 3; round++) {
            uint64_t before[2] = {seq[0], seq[1]};
            unsigned n = 0;
            CU_ASSERT_EQUAL_FATAL(hs_flight_emit(&f, mtus[i], &sealer, seq, out_buf,
                                                 sizeof(out_buf), out_dgrams, HS_OUT_MAX_DGRAMS * 4,
                                                 &n),
                                  0);
            /* The 5 KB certificate alone needs several datagrams. */
            CU_ASSERT(n >= 5000 / mtus[i]);
            if (round > 0)
                CU_ASSERT_EQUAL(n, total_prev); /* same shape on retransmit */
            total_prev = n;
            /* Re-emits continue the sequence numbers. */
            CU_ASSERT(seq[0] > before[0]);
            CU_ASSERT_EQUAL(seq[1], before[1] + 1);
            check_emit(flight_msgs, n_flight_msgs, mtus[i], key.k, out_dgrams, n, before, seq);
        }
    }
    hs_flight_reset(&f);
    CU_ASSERT_EQUAL(f.n_items, 0);
}

/* At MTU 1400 the small messages share datagrams with the certificate. */
static void test_packing(void)
{
    struct hs_flight f;
    uint8_t a[100], b[100];
    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    hs_flight_init(&f);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 2, 1, a, sizeof(a)), 0);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 12, 2, b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 14, 3, NULL, 0), 0);
    uint64_t seq[2] = {0, 0};
    unsigned n = 0;
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, NULL, seq, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(out_dgrams[0].len, 3 * (13 + 12) + 200);
    CU_ASSERT_EQUAL(seq[0], 3);
    /* Exact fit: an MTU of exactly the three records still is one datagram,
     * one byte less splits the last one off. */
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 3 * 25 + 200, NULL, seq, out_buf, sizeof(out_buf),
                                   out_dgrams, HS_OUT_MAX_DGRAMS, &n),
                    0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 3 * 25 + 199, NULL, seq, out_buf, sizeof(out_buf),
                                   out_dgrams, HS_OUT_MAX_DGRAMS, &n),
                    0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(out_dgrams[1].len, 25);
    /* Smallest MTU: one byte of fragment per record. */
    uint64_t s2[2] = {0, 0};
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 26, NULL, s2, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS * 4, &n),
                    0);
    CU_ASSERT_EQUAL(n, 201);
    CU_ASSERT_EQUAL(s2[0], 201);
    hs_flight_reset(&f);
}

static void test_errors(void)
{
    struct hs_flight f;
    struct fake_key key = {.k = 3};
    struct hs_record_sealer sealer = {fake_seal, FAKE_OVERHEAD, &key};
    uint8_t body[64] = {0};
    unsigned n = 77;
    uint64_t seq[2] = {5, 9};

    hs_flight_init(&f);
    for (int i = 0; i < HS_FLIGHT_MAX_ITEMS; i++)
        CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 1, (uint16_t)i, body, 10), 0);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 1, 99, body, 10), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(hs_flight_add_ccs(&f, 0), CR_ERR_LIMIT);
    hs_flight_reset(&f);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 2, 1, 0, body, 10), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_flight_add_ccs(&f, 2), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 1, 0, NULL, 10), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 1, 0, body, HS_MSG_MAX_BYTES + 1), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(f.n_items, 0);

    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 0, 1, 0, body, 64), 0);
    /* MTU must hold a header + 1 byte of fragment. */
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 25, NULL, seq, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, HS_MTU_MAX_BYTES + 1, NULL, seq, out_buf, sizeof(out_buf),
                                   out_dgrams, HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_INVAL);
    /* Output buffer or datagram array too small: error, seqs untouched. */
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, NULL, seq, out_buf, 13 + 12 + 63, out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 30, NULL, seq, out_buf, sizeof(out_buf), out_dgrams, 5, &n),
                    CR_ERR_LIMIT);
    CU_ASSERT(seq[0] == 5 && seq[1] == 9);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, NULL, seq, out_buf, 13 + 12 + 64, out_dgrams, 1, &n),
                    0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(seq[0], 6);
    /* Epoch 1 needs a sealer and room for its overhead. */
    CU_ASSERT_EQUAL(hs_flight_add_ccs(&f, 0), 0);
    CU_ASSERT_EQUAL(hs_flight_add_handshake(&f, 1, 20, 1, body, 12), 0);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, NULL, seq, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 13 + 12 + FAKE_OVERHEAD, &sealer, seq, out_buf,
                                   sizeof(out_buf), out_dgrams, HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 13 + 12 + FAKE_OVERHEAD + 1, &sealer, seq, out_buf,
                                   sizeof(out_buf), out_dgrams, HS_OUT_MAX_DGRAMS * 4, &n),
                    0);
    /* 64 bytes in fragments of 25 + the CCS; Finished one byte a record. */
    CU_ASSERT(seq[0] == 6 + 3 + 1 && seq[1] == 9 + 12);
    /* A failing sealer: its error, seqs untouched. */
    key.fail_at = (int)key.calls + 1;
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, &sealer, seq, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_CRYPTO);
    key.fail_at = 0;
    CU_ASSERT(seq[0] == 6 + 3 + 1 && seq[1] == 9 + 12);
    /* A sealer writing more than it declared would break the MTU. */
    key.lie = 1;
    CU_ASSERT_NOT_EQUAL(hs_flight_emit(&f, 13 + 64 + 12 + 13 + 1 + 13 + 12 + 12 + FAKE_OVERHEAD,
                                       &sealer, seq, out_buf, sizeof(out_buf), out_dgrams,
                                       HS_OUT_MAX_DGRAMS, &n),
                        0);
    key.lie = 0;
    /* Sequence number space exhausted. */
    uint64_t top[2] = {DP_REC_SEQ_MAX, 0};
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, &sealer, top, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(top[0], DP_REC_SEQ_MAX);
    hs_flight_reset(&f);
    /* An empty flight emits nothing. */
    CU_ASSERT_EQUAL(hs_flight_emit(&f, 1400, NULL, seq, out_buf, sizeof(out_buf), out_dgrams,
                                   HS_OUT_MAX_DGRAMS, &n),
                    0);
    CU_ASSERT_EQUAL(n, 0);
}

/* Random flights at random MTUs. */
static void test_random_flights(void)
{
    static struct tmsg msgs[HS_FLIGHT_MAX_ITEMS];
    struct fake_key key = {.k = 0xc3};
    struct hs_record_sealer sealer = {fake_seal, FAKE_OVERHEAD, &key};
    for (int round = 0; round < 150; round++) {
        unsigned n_msgs = 1 + rnd32() % HS_FLIGHT_MAX_ITEMS;
        uint16_t epoch = 0, mseq = (uint16_t)(rnd32() % 5);
        for (unsigned i = 0; i < n_msgs; i++) {
            struct tmsg *m = &msgs[i];
            m->is_ccs = epoch == 0 && i > 0 && rnd32() % 4 == 0;
            m->epoch = epoch;
            if (m->is_ccs) {
                epoch = 1;
                m->len = 0;
                m->body = NULL;
                continue;
            }
            m->type = (uint8_t)rnd32();
            m->seq = mseq++;
            m->len = rnd32() % 3 == 0 ? rnd32() % 20 : rnd32() % 9000;
            m->body = m->len ? malloc(m->len) : NULL;
            for (uint32_t b = 0; b < m->len; b++)
                m->body[b] = (uint8_t)rnd32();
        }
        size_t mtu = 13 + FAKE_OVERHEAD + 12 + 1 + rnd32() % 1600;
        struct hs_flight f;
        build_flight(&f, msgs, n_msgs);
        uint64_t seq[2] = {rnd32() % 1000, rnd32() % 1000};
        uint64_t before[2] = {seq[0], seq[1]};
        unsigned n = 0;
        int rc = hs_flight_emit(&f, mtu, &sealer, seq, out_buf, sizeof(out_buf), out_dgrams,
                                HS_OUT_MAX_DGRAMS * 4, &n);
        if (rc == CR_ERR_LIMIT) {
            /* only when more datagrams would be needed than we allow */
            CU_ASSERT(seq[0] == before[0] && seq[1] == before[1]);
        } else {
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            check_emit(msgs, n_msgs, mtu, key.k, out_dgrams, n, before, seq);
        }
        hs_flight_reset(&f);
        for (unsigned i = 0; i < n_msgs; i++)
            free(msgs[i].body);
    }
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("flight", suite_init, suite_clean);
    CU_add_test(s, "5 KB certificate flight at MTU 576/1400/256/257/9000", test_emit_mtus);
    CU_add_test(s, "record packing and exact fit", test_packing);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "random flights at random MTUs", test_random_flights);
}

#include "cu_main.h"
