/* test_record.c — CUnit suite for dataplane/dp_record.c (suite "record").
 *
 * Records are built here byte by byte with the test's own builder (not with
 * dp_record_write_hdr), so the parser is checked against an independent
 * encoding of RFC 6347 §4.1 / RFC 9146 §4.  write_hdr is checked separately
 * (fixed bytes and a random round trip through the parser).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "dp_record.h"

#define BUF_MAX_LEN (4 * (DP_REC_HDR_LEN + DP_REC_CID_MAX_LEN + DP_REC_CIPHERTEXT_MAX_LEN))

static uint8_t g_buf[BUF_MAX_LEN];

/* Deterministic PRNG (splitmix64): reproducible runs. */
static uint64_t g_rng = 0x5eed0f0dd7150ULL;
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct spec {
    uint8_t type;
    uint16_t version;
    uint16_t epoch;
    uint64_t seq;
    uint8_t cid_len;    /* bytes of CID written after seq (0: none) */
    uint16_t len_field; /* value of the length field */
    uint32_t body_len;  /* bytes of body actually written */
};

/* Appends one record at buf + off; returns the new offset. */
static size_t put_rec(uint8_t *buf, size_t off, const struct spec *s)
{
    uint8_t *p = buf + off;
    size_t i = 0;
    p[i++] = s->type;
    p[i++] = (uint8_t)(s->version >> 8);
    p[i++] = (uint8_t)s->version;
    p[i++] = (uint8_t)(s->epoch >> 8);
    p[i++] = (uint8_t)s->epoch;
    for (int b = 5; b >= 0; b--)
        p[i++] = (uint8_t)(s->seq >> (8 * b));
    for (unsigned c = 0; c < s->cid_len; c++)
        p[i++] = (uint8_t)(0xc0 + c);
    p[i++] = (uint8_t)(s->len_field >> 8);
    p[i++] = (uint8_t)s->len_field;
    for (uint32_t b = 0; b < s->body_len; b++)
        p[i++] = (uint8_t)(b * 7 + 1);
    return off + i;
}

#define REC(t, v, e, q, c, l)                                                                      \
    {                                                                                              \
        (t), (v), (e), (q), (c), (l), (l)                                                          \
    }

struct split_case {
    const char *name;
    struct spec recs[4];
    unsigned n_recs;
    uint8_t trailing[16];
    unsigned n_trailing;
    uint8_t cid_len; /* listener configuration */
    unsigned max;    /* array size given to split (0: 32) */
    unsigned want_n;
    int want_err;
};

/* clang-format off: one case per entry reads better than the reflow */
static const struct split_case split_cases[] = {
    {"single handshake", {REC(22, 0xfefd, 0, 0, 0, 10)}, 1, {0}, 0, 0, 0, 1, DP_RECORD_OK},
    {"three records",
     {REC(22, 0xfefd, 0, 1, 0, 60), REC(20, 0xfefd, 0, 2, 0, 1), REC(22, 0xfefd, 1, 0, 0, 40)},
     3,
     {0},
     0,
     0,
     0,
     3,
     DP_RECORD_OK},
    {"dtls 1.0 clienthello", {REC(22, 0xfeff, 0, 0, 0, 100)}, 1, {0}, 0, 0, 0, 1, DP_RECORD_OK},
    {"dtls 1.0 in epoch 1",
     {REC(23, 0xfeff, 1, 0, 0, 30)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_BAD_VERSION},
    {"tls 1.2 version",
     {REC(22, 0x0303, 0, 0, 0, 30)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_BAD_VERSION},
    {"heartbeat type accepted", {REC(24, 0xfefd, 1, 3, 0, 30)}, 1, {0}, 0, 0, 0, 1, DP_RECORD_OK},
    {"type 19", {REC(19, 0xfefd, 0, 0, 0, 3)}, 1, {0}, 0, 0, 0, 0, DP_RECORD_ERR_BAD_TYPE},
    {"type 26", {REC(26, 0xfefd, 1, 0, 0, 3)}, 1, {0}, 0, 0, 0, 0, DP_RECORD_ERR_BAD_TYPE},
    {"cid len 1", {REC(25, 0xfefd, 1, 9, 1, 40)}, 1, {0}, 0, 1, 0, 1, DP_RECORD_OK},
    {"cid len 8", {REC(25, 0xfefd, 1, 9, 8, 40)}, 1, {0}, 0, 8, 0, 1, DP_RECORD_OK},
    {"cid len 23", {REC(25, 0xfefd, 1, 9, 23, 40)}, 1, {0}, 0, 23, 0, 1, DP_RECORD_OK},
    {"cid on listener without cid",
     {REC(25, 0xfefd, 1, 9, 8, 40)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_CID_UNEXPECTED},
    {"cid listener len 24 invalid",
     {REC(25, 0xfefd, 1, 9, 24, 40)},
     1,
     {0},
     0,
     24,
     0,
     0,
     DP_RECORD_ERR_CID_UNEXPECTED},
    {"cid in epoch 0",
     {REC(25, 0xfefd, 0, 9, 8, 40)},
     1,
     {0},
     0,
     8,
     0,
     0,
     DP_RECORD_ERR_CID_EPOCH0},
    {"plain record on cid listener",
     {REC(22, 0xfefd, 0, 0, 0, 40), REC(25, 0xfefd, 1, 0, 4, 20)},
     2,
     {0},
     0,
     4,
     0,
     2,
     DP_RECORD_OK},
    {"cid then plain on cid listener",
     {REC(25, 0xfefd, 2, 7, 4, 20), REC(23, 0xfefd, 2, 8, 0, 20)},
     2,
     {0},
     0,
     4,
     0,
     2,
     DP_RECORD_OK},
    {"truncated body",
     {{22, 0xfefd, 0, 0, 0, 10, 9}},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_TRUNCATED_BODY},
    {"second body truncated",
     {REC(22, 0xfefd, 0, 0, 0, 10), {22, 0xfefd, 0, 1, 0, 10, 3}},
     2,
     {0},
     0,
     0,
     0,
     1,
     DP_RECORD_ERR_TRUNCATED_BODY},
    {"cid body truncated",
     {{25, 0xfefd, 1, 0, 8, 30, 29}},
     1,
     {0},
     0,
     8,
     0,
     0,
     DP_RECORD_ERR_TRUNCATED_BODY},
    {"plaintext 2^14", {REC(22, 0xfefd, 0, 0, 0, 16384)}, 1, {0}, 0, 0, 0, 1, DP_RECORD_OK},
    {"plaintext 2^14+1",
     {REC(22, 0xfefd, 0, 0, 0, 16385)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_TOO_LONG},
    {"ciphertext 2^14+2048", {REC(23, 0xfefd, 1, 0, 0, 18432)}, 1, {0}, 0, 0, 0, 1, DP_RECORD_OK},
    {"ciphertext 2^14+2049",
     {REC(23, 0xfefd, 1, 0, 0, 18433)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_TOO_LONG},
    {"cid ciphertext 2^14+2048",
     {REC(25, 0xfefd, 1, 0, 8, 18432)},
     1,
     {0},
     0,
     8,
     0,
     1,
     DP_RECORD_OK},
    {"cid ciphertext 2^14+2049",
     {REC(25, 0xfefd, 1, 0, 8, 18433)},
     1,
     {0},
     0,
     8,
     0,
     0,
     DP_RECORD_ERR_TOO_LONG},
    {"length 0xffff, short body",
     {{23, 0xfefd, 1, 0, 0, 0xffff, 5}},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_TOO_LONG},
    {"trailing 5 bytes",
     {REC(22, 0xfefd, 0, 0, 0, 10)},
     1,
     {1, 2, 3, 4, 5},
     5,
     0,
     0,
     1,
     DP_RECORD_ERR_TRUNCATED_HEADER},
    {"trailing 1 byte",
     {REC(22, 0xfefd, 0, 0, 0, 10)},
     1,
     {22},
     1,
     0,
     0,
     1,
     DP_RECORD_ERR_TRUNCATED_HEADER},
    {"trailing 13 garbage bytes",
     {REC(22, 0xfefd, 0, 0, 0, 10)},
     1,
     {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     13,
     0,
     0,
     1,
     DP_RECORD_ERR_BAD_TYPE},
    {"empty handshake epoch 0",
     {REC(22, 0xfefd, 0, 0, 0, 0)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_EMPTY},
    {"empty alert epoch 0", {REC(21, 0xfefd, 0, 0, 0, 0)}, 1, {0}, 0, 0, 0, 0, DP_RECORD_ERR_EMPTY},
    {"empty ccs epoch 0", {REC(20, 0xfefd, 0, 0, 0, 0)}, 1, {0}, 0, 0, 0, 0, DP_RECORD_ERR_EMPTY},
    {"empty app data epoch 0 allowed",
     {REC(23, 0xfefd, 0, 0, 0, 0), REC(22, 0xfefd, 0, 1, 0, 4)},
     2,
     {0},
     0,
     0,
     0,
     2,
     DP_RECORD_OK},
    {"empty protected record",
     {REC(23, 0xfefd, 1, 0, 0, 0)},
     1,
     {0},
     0,
     0,
     0,
     0,
     DP_RECORD_ERR_EMPTY},
    {"empty cid record", {REC(25, 0xfefd, 1, 0, 8, 0)}, 1, {0}, 0, 8, 0, 0, DP_RECORD_ERR_EMPTY},
    {"more records than max",
     {REC(22, 0xfefd, 0, 0, 0, 4), REC(22, 0xfefd, 0, 1, 0, 4), REC(22, 0xfefd, 0, 2, 0, 4),
      REC(22, 0xfefd, 0, 3, 0, 4)},
     4,
     {0},
     0,
     0,
     3,
     3,
     DP_RECORD_ERR_TOO_MANY},
    {"exactly max records",
     {REC(22, 0xfefd, 0, 0, 0, 4), REC(22, 0xfefd, 0, 1, 0, 4), REC(22, 0xfefd, 0, 2, 0, 4)},
     3,
     {0},
     0,
     0,
     3,
     3,
     DP_RECORD_OK},
    {"max seq", {REC(23, 0xfefd, 0xffff, DP_REC_SEQ_MAX, 0, 17)}, 1, {0}, 0, 0, 0, 1, DP_RECORD_OK},
};
/* clang-format on */

/* Checks one parsed record against the spec it was built from. */
static void check_rec(const struct dp_record *r, const struct spec *s, const uint8_t *start)
{
    CU_ASSERT_PTR_EQUAL(r->hdr, start);
    CU_ASSERT_EQUAL(r->type, s->type);
    CU_ASSERT_EQUAL(r->version, s->version);
    CU_ASSERT_EQUAL(r->epoch, s->epoch);
    CU_ASSERT_EQUAL(r->seq, s->seq);
    CU_ASSERT_EQUAL(r->length, s->len_field);
    CU_ASSERT_EQUAL(r->cid_len, s->cid_len);
    CU_ASSERT_EQUAL(r->hdr_len, DP_REC_HDR_LEN + s->cid_len);
    CU_ASSERT_PTR_EQUAL(r->fragment, start + DP_REC_HDR_LEN + s->cid_len);
    if (s->cid_len > 0) {
        CU_ASSERT_PTR_EQUAL(r->cid, start + 11);
        CU_ASSERT_EQUAL(r->cid[0], 0xc0);
        CU_ASSERT_EQUAL(r->cid[s->cid_len - 1], 0xc0 + s->cid_len - 1);
    } else {
        CU_ASSERT_PTR_NULL(r->cid);
    }
    if (s->len_field > 0)
        CU_ASSERT_EQUAL(r->fragment[s->len_field - 1], (uint8_t)((s->len_field - 1) * 7 + 1));
}

static void test_split_table(void)
{
    for (size_t c = 0; c < sizeof(split_cases) / sizeof(split_cases[0]); c++) {
        const struct split_case *tc = &split_cases[c];
        size_t offs[4];
        size_t len = 0;
        for (unsigned i = 0; i < tc->n_recs; i++) {
            offs[i] = len;
            len = put_rec(g_buf, len, &tc->recs[i]);
        }
        memcpy(g_buf + len, tc->trailing, tc->n_trailing);
        len += tc->n_trailing;

        struct dp_record recs[DP_REC_MAX_PER_DGRAM];
        unsigned max = tc->max ? tc->max : DP_REC_MAX_PER_DGRAM;
        int err = -1;
        unsigned n = dp_record_split(g_buf, len, tc->cid_len, recs, max, &err);
        if (n != tc->want_n || err != tc->want_err)
            fprintf(stderr, "\n  case '%s': n=%u err=%s, want n=%u err=%s\n", tc->name, n,
                    dp_record_err_name(err), tc->want_n, dp_record_err_name(tc->want_err));
        CU_ASSERT_EQUAL(n, tc->want_n);
        CU_ASSERT_EQUAL(err, tc->want_err);
        for (unsigned i = 0; i < n && i < tc->n_recs; i++)
            check_rec(&recs[i], &tc->recs[i], g_buf + offs[i]);
    }
}

/* On error dp_record_next leaves the cursor where it was. */
static void test_next_error_keeps_cursor(void)
{
    struct spec ok = REC(22, 0xfefd, 0, 5, 0, 8);
    struct spec bad = {22, 0xfefd, 0, 6, 0, 8, 2};
    size_t len = put_rec(g_buf, 0, &ok);
    len = put_rec(g_buf, len, &bad);

    const uint8_t *p = g_buf;
    size_t left = len;
    struct dp_record r;
    CU_ASSERT_EQUAL(dp_record_next(&p, &left, 0, &r), DP_RECORD_OK);
    CU_ASSERT_PTR_EQUAL(p, g_buf + DP_REC_HDR_LEN + 8);
    CU_ASSERT_EQUAL(left, len - DP_REC_HDR_LEN - 8);
    const uint8_t *before = p;
    size_t left_before = left;
    CU_ASSERT_EQUAL(dp_record_next(&p, &left, 0, &r), DP_RECORD_ERR_TRUNCATED_BODY);
    CU_ASSERT_PTR_EQUAL(p, before);
    CU_ASSERT_EQUAL(left, left_before);

    const uint8_t *null_p = NULL;
    size_t zero = 0;
    CU_ASSERT_EQUAL(dp_record_next(&null_p, &zero, 0, &r), DP_RECORD_ERR_TRUNCATED_HEADER);
}

/* Every prefix shorter than a header: TRUNCATED_HEADER, nothing parsed. */
static void test_truncated_header_every_length(void)
{
    struct spec s = REC(22, 0xfefd, 0, 1, 0, 20);
    put_rec(g_buf, 0, &s);
    for (size_t l = 0; l < DP_REC_HDR_LEN; l++) {
        struct dp_record recs[4];
        int err = -1;
        CU_ASSERT_EQUAL(dp_record_split(g_buf, l, 0, recs, 4, &err), 0);
        CU_ASSERT_EQUAL(err, DP_RECORD_ERR_TRUNCATED_HEADER);
        const uint8_t *p = g_buf;
        size_t left = l;
        CU_ASSERT_EQUAL(dp_record_next(&p, &left, 0, &recs[0]), DP_RECORD_ERR_TRUNCATED_HEADER);
    }
    /* The same after a valid first record. */
    size_t first = put_rec(g_buf, 0, &s);
    put_rec(g_buf, first, &s);
    for (size_t l = 1; l < DP_REC_HDR_LEN; l++) {
        struct dp_record recs[4];
        int err = -1;
        CU_ASSERT_EQUAL(dp_record_split(g_buf, first + l, 0, recs, 4, &err), 1);
        CU_ASSERT_EQUAL(err, DP_RECORD_ERR_TRUNCATED_HEADER);
    }
    /* A CID header is 13 + cid_len bytes: each shorter prefix is truncated. */
    struct spec c = REC(25, 0xfefd, 1, 1, 8, 20);
    put_rec(g_buf, 0, &c);
    for (size_t l = 0; l < DP_REC_HDR_LEN + 8; l++) {
        struct dp_record recs[4];
        int err = -1;
        CU_ASSERT_EQUAL(dp_record_split(g_buf, l, 8, recs, 4, &err), 0);
        CU_ASSERT_EQUAL(err, DP_RECORD_ERR_TRUNCATED_HEADER);
    }
}

/* Exhaustive: every version word in epoch 0 and epoch 1. */
static void test_every_version(void)
{
    for (uint32_t v = 0; v <= 0xffff; v++) {
        for (uint16_t epoch = 0; epoch <= 1; epoch++) {
            struct spec s = REC(22, (uint16_t)v, epoch, 0, 0, 4);
            size_t len = put_rec(g_buf, 0, &s);
            struct dp_record r;
            int err = -1;
            unsigned n = dp_record_split(g_buf, len, 0, &r, 1, &err);
            int ok = v == DP_VERSION_DTLS12 || (v == DP_VERSION_DTLS10 && epoch == 0);
            CU_ASSERT_EQUAL(n, ok ? 1u : 0u);
            CU_ASSERT_EQUAL(err, ok ? DP_RECORD_OK : DP_RECORD_ERR_BAD_VERSION);
        }
    }
}

/* Exhaustive: every content type byte, protected epoch, CID listener. */
static void test_every_type(void)
{
    for (unsigned t = 0; t <= 0xff; t++) {
        uint8_t cid_len = t == DP_CT_TLS12_CID ? 8 : 0;
        struct spec s = REC((uint8_t)t, 0xfefd, 1, 0, cid_len, 30);
        size_t len = put_rec(g_buf, 0, &s);
        struct dp_record r;
        int err = -1;
        unsigned n = dp_record_split(g_buf, len, 8, &r, 1, &err);
        int ok = t >= 20 && t <= 25;
        CU_ASSERT_EQUAL(n, ok ? 1u : 0u);
        CU_ASSERT_EQUAL(err, ok ? DP_RECORD_OK : DP_RECORD_ERR_BAD_TYPE);
    }
}

static void test_many_records(void)
{
    size_t len = 0;
    for (unsigned i = 0; i < DP_REC_MAX_PER_DGRAM; i++) {
        struct spec s = REC(23, 0xfefd, 3, i, 0, (uint16_t)(i + 1));
        len = put_rec(g_buf, len, &s);
    }
    struct dp_record recs[DP_REC_MAX_PER_DGRAM];
    int err = -1;
    CU_ASSERT_EQUAL(dp_record_split(g_buf, len, 0, recs, DP_REC_MAX_PER_DGRAM, &err),
                    DP_REC_MAX_PER_DGRAM);
    CU_ASSERT_EQUAL(err, DP_RECORD_OK);
    size_t sum = 0;
    for (unsigned i = 0; i < DP_REC_MAX_PER_DGRAM; i++) {
        CU_ASSERT_EQUAL(recs[i].seq, i);
        CU_ASSERT_EQUAL(recs[i].length, i + 1);
        sum += recs[i].hdr_len + recs[i].length;
    }
    CU_ASSERT_EQUAL(sum, len);
    /* An empty datagram and a NULL array. */
    CU_ASSERT_EQUAL(dp_record_split(g_buf, 0, 0, recs, 4, &err), 0);
    CU_ASSERT_EQUAL(err, DP_RECORD_ERR_TRUNCATED_HEADER);
    CU_ASSERT_EQUAL(dp_record_split(g_buf, len, 0, NULL, 0, &err), 0);
    CU_ASSERT_EQUAL(err, DP_RECORD_ERR_TOO_MANY);
    CU_ASSERT_EQUAL(dp_record_split(g_buf, len, 0, recs, 2, NULL), 2);
}

static void test_err_names(void)
{
    for (int e = 0; e < DP_RECORD_ERR_N; e++) {
        const char *n = dp_record_err_name(e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(n);
        CU_ASSERT(strlen(n) > 0);
        for (int f = 0; f < e; f++)
            CU_ASSERT(strcmp(n, dp_record_err_name(f)) != 0);
    }
    CU_ASSERT_STRING_EQUAL(dp_record_err_name(DP_RECORD_ERR_TOO_LONG),
                           "record length over the RFC limit");
    CU_ASSERT_STRING_EQUAL(dp_record_err_name(-1), "unknown record error");
    CU_ASSERT_STRING_EQUAL(dp_record_err_name(DP_RECORD_ERR_N), "unknown record error");
}

static void test_write_hdr_bytes(void)
{
    uint8_t out[DP_REC_HDR_LEN + DP_REC_CID_MAX_LEN];
    static const uint8_t want_plain[] = {0x17, 0xfe, 0xfd, 0x00, 0x01, 0x00, 0x00,
                                         0x12, 0x34, 0x56, 0x78, 0x01, 0x20};
    CU_ASSERT_EQUAL(dp_record_write_hdr(out, 23, 0xfefd, 1, 0x12345678, NULL, 0, 0x120),
                    DP_REC_HDR_LEN);
    CU_ASSERT_EQUAL(memcmp(out, want_plain, sizeof(want_plain)), 0);

    static const uint8_t cid[3] = {0xaa, 0xbb, 0xcc};
    static const uint8_t want_cid[] = {0x19, 0xfe, 0xfd, 0x00, 0x02, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xaa, 0xbb, 0xcc, 0x00, 0x05};
    CU_ASSERT_EQUAL(dp_record_write_hdr(out, 25, 0xfefd, 2, DP_REC_SEQ_MAX, cid, 3, 5),
                    DP_REC_HDR_LEN + 3);
    CU_ASSERT_EQUAL(memcmp(out, want_cid, sizeof(want_cid)), 0);

    /* Out-of-range arguments write nothing. */
    memset(out, 0x5a, sizeof(out));
    CU_ASSERT_EQUAL(dp_record_write_hdr(out, 23, 0xfefd, 1, DP_REC_SEQ_MAX + 1, NULL, 0, 1), 0);
    CU_ASSERT_EQUAL(dp_record_write_hdr(out, 25, 0xfefd, 1, 1, out, DP_REC_CID_MAX_LEN + 1, 1), 0);
    CU_ASSERT_EQUAL(out[0], 0x5a);
}

static void test_write_hdr_roundtrip(void)
{
    static const uint8_t cid_lens[] = {0, 1, 8, 23};
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t cid_len = cid_lens[rnd() % 4];
        uint8_t cid[DP_REC_CID_MAX_LEN];
        for (unsigned i = 0; i < sizeof(cid); i++)
            cid[i] = (uint8_t)rnd();
        int use_cid = cid_len > 0;
        uint8_t type = use_cid ? DP_CT_TLS12_CID : (uint8_t)(20 + rnd() % 5);
        uint16_t epoch = use_cid ? (uint16_t)(1 + rnd() % 0xffff) : (uint16_t)(rnd() % 3);
        uint16_t version = epoch == 0 && (rnd() & 1) ? DP_VERSION_DTLS10 : DP_VERSION_DTLS12;
        uint64_t seq = rnd() & DP_REC_SEQ_MAX;
        uint32_t limit = epoch == 0 ? DP_REC_PLAINTEXT_MAX_LEN : DP_REC_CIPHERTEXT_MAX_LEN;
        uint16_t length = (uint16_t)(1 + rnd() % (iter % 8 == 0 ? limit : 200));

        size_t h = dp_record_write_hdr(g_buf, type, version, epoch, seq, use_cid ? cid : NULL,
                                       cid_len, length);
        CU_ASSERT_EQUAL_FATAL(h, (size_t)DP_REC_HDR_LEN + cid_len);
        memset(g_buf + h, 0x33, length);

        struct dp_record r;
        int err = -1;
        unsigned n = dp_record_split(g_buf, h + length, cid_len, &r, 1, &err);
        CU_ASSERT_EQUAL_FATAL(n, 1);
        CU_ASSERT_EQUAL(err, DP_RECORD_OK);
        CU_ASSERT_EQUAL(r.type, type);
        CU_ASSERT_EQUAL(r.version, version);
        CU_ASSERT_EQUAL(r.epoch, epoch);
        CU_ASSERT_EQUAL(r.seq, seq);
        CU_ASSERT_EQUAL(r.length, length);
        CU_ASSERT_EQUAL(r.hdr_len, h);
        CU_ASSERT_EQUAL(r.cid_len, cid_len);
        if (use_cid) {
            CU_ASSERT_EQUAL(memcmp(r.cid, cid, cid_len), 0);
        } else {
            CU_ASSERT_PTR_NULL(r.cid);
        }

        /* Rewriting the parsed header reproduces the same bytes. */
        uint8_t again[DP_REC_HDR_LEN + DP_REC_CID_MAX_LEN];
        CU_ASSERT_EQUAL(dp_record_write_hdr(again, r.type, r.version, r.epoch, r.seq, r.cid,
                                            r.cid_len, r.length),
                        h);
        CU_ASSERT_EQUAL(memcmp(again, g_buf, h), 0);
    }
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("record", NULL, NULL);
    CU_add_test(s, "split table", test_split_table);
    CU_add_test(s, "next keeps cursor on error", test_next_error_keeps_cursor);
    CU_add_test(s, "truncated header at every length", test_truncated_header_every_length);
    CU_add_test(s, "every version", test_every_version);
    CU_add_test(s, "every content type", test_every_type);
    CU_add_test(s, "32 records in one datagram", test_many_records);
    CU_add_test(s, "error names", test_err_names);
    CU_add_test(s, "write_hdr fixed bytes", test_write_hdr_bytes);
    CU_add_test(s, "write_hdr round trip", test_write_hdr_roundtrip);
}

#include "cu_main.h"
