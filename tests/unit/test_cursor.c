/* test_cursor.c — control/hs_cursor.c: bounded reads advance only on
 * success; length-prefixed children; the capped builder with sticky errors
 * and length patching; a differential check of random parse chains against
 * a naive offset-based oracle.
 */
#include <string.h>

#include <openssl/rand.h>

#include "cu_main.h"
#include "hs_cursor.h"

static void test_ints(void)
{
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
    struct hs_cur c;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    hs_cur_init(&c, b, sizeof(b));
    CU_ASSERT(hs_cur_u8(&c, &u8) && u8 == 0x01);
    CU_ASSERT(hs_cur_u16(&c, &u16) && u16 == 0x0203);
    CU_ASSERT(hs_cur_u24(&c, &u32) && u32 == 0x040506);
    CU_ASSERT(hs_cur_u32(&c, &u32) && u32 == 0x0708090a);
    CU_ASSERT(hs_cur_u48(&c, &u64) && u64 == 0x0b0c0d0e0f10ULL);
    CU_ASSERT_EQUAL(hs_cur_len(&c), 0);
    CU_ASSERT_FALSE(hs_cur_u8(&c, &u8));
}

/* Every getter on a too-short cursor fails and leaves it unchanged. */
static void test_short_reads_do_not_advance(void)
{
    static const uint8_t b[8] = {3, 0xaa, 0xbb, 0, 5, 1, 2, 3};
    for (size_t len = 0; len < 6; len++) {
        struct hs_cur c, child;
        uint8_t u8, out[8];
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        const uint8_t *sp;
        hs_cur_init(&c, b, len);
        if (len < 2)
            CU_ASSERT_FALSE(hs_cur_u16(&c, &u16));
        if (len < 3)
            CU_ASSERT_FALSE(hs_cur_u24(&c, &u32));
        if (len < 4)
            CU_ASSERT_FALSE(hs_cur_u32(&c, &u32));
        CU_ASSERT_FALSE(hs_cur_u48(&c, &u64));
        CU_ASSERT_FALSE(hs_cur_copy(&c, out, len + 1));
        CU_ASSERT_FALSE(hs_cur_span(&c, &sp, len + 1));
        CU_ASSERT_FALSE(hs_cur_skip(&c, len + 1));
        CU_ASSERT_FALSE(hs_cur_sub(&c, &child, len + 1));
        if (len < 4) /* prefix says 3 bytes follow */
            CU_ASSERT_FALSE(hs_cur_prefixed8(&c, &child));
        if (len == 0)
            CU_ASSERT_FALSE(hs_cur_u8(&c, &u8));
        CU_ASSERT_EQUAL(hs_cur_len(&c), len);
        CU_ASSERT_PTR_EQUAL(hs_cur_data(&c), b);
    }
}

static void test_prefixed(void)
{
    /* <3: aa bb cc> <0x0002: dd ee> <0x000001: ff> trailing 77 */
    static const uint8_t b[] = {3, 0xaa, 0xbb, 0xcc, 0, 2, 0xdd, 0xee, 0, 0, 1, 0xff, 0x77};
    struct hs_cur c, k;
    uint8_t v;

    hs_cur_init(&c, b, sizeof(b));
    CU_ASSERT_FATAL(hs_cur_prefixed8(&c, &k));
    CU_ASSERT_EQUAL(hs_cur_len(&k), 3);
    CU_ASSERT(hs_cur_u8(&k, &v) && v == 0xaa);
    CU_ASSERT_FATAL(hs_cur_prefixed16(&c, &k));
    CU_ASSERT_EQUAL(hs_cur_len(&k), 2);
    CU_ASSERT(hs_cur_skip(&k, 1) && hs_cur_u8(&k, &v) && v == 0xee);
    CU_ASSERT_FALSE(hs_cur_u8(&k, &v)); /* child bounded */
    CU_ASSERT_FATAL(hs_cur_prefixed24(&c, &k));
    CU_ASSERT(hs_cur_u8(&k, &v) && v == 0xff);
    CU_ASSERT_EQUAL(hs_cur_len(&c), 1); /* trailing byte left: caller's decode_error */

    /* Prefix larger than what is left: fails without advancing. */
    static const uint8_t bad[] = {0, 9, 1, 2};
    hs_cur_init(&c, bad, sizeof(bad));
    CU_ASSERT_FALSE(hs_cur_prefixed16(&c, &k));
    CU_ASSERT_EQUAL(hs_cur_len(&c), sizeof(bad));
    /* Empty child is fine. */
    static const uint8_t empty[] = {0};
    hs_cur_init(&c, empty, 1);
    CU_ASSERT(hs_cur_prefixed8(&c, &k) && hs_cur_len(&k) == 0 && hs_cur_len(&c) == 0);
}

static void test_builder(void)
{
    struct hs_buf b;
    size_t m1, m2;

    hs_buf_init(&b, 1024);
    hs_buf_u8(&b, 0x16);
    hs_buf_open(&b, 3, &m1);
    hs_buf_u16(&b, 0xfefd);
    hs_buf_open(&b, 1, &m2);
    hs_buf_bytes(&b, (const uint8_t *)"abc", 3);
    hs_buf_close(&b, 1, m2);
    hs_buf_u48(&b, 0x010203040506ULL);
    hs_buf_close(&b, 3, m1);
    CU_ASSERT_FATAL(hs_buf_ok(&b));
    static const uint8_t want[] = {0x16, 0, 0, 12, 0xfe, 0xfd, 3, 'a', 'b', 'c', 1, 2, 3, 4, 5, 6};
    CU_ASSERT_EQUAL(b.len, sizeof(want));
    CU_ASSERT(memcmp(b.p, want, sizeof(want)) == 0);
    hs_buf_free(&b);

    /* Length that does not fit its width: sticky error. */
    uint8_t big[300] = {0};
    hs_buf_init(&b, 1024);
    hs_buf_open(&b, 1, &m1);
    hs_buf_bytes(&b, big, sizeof(big));
    CU_ASSERT(hs_buf_close(&b, 1, m1) < 0);
    CU_ASSERT_FALSE(hs_buf_ok(&b));
    CU_ASSERT(hs_buf_u8(&b, 1) < 0); /* stays failed */
    hs_buf_free(&b);

    /* Hard cap. */
    hs_buf_init(&b, 8);
    CU_ASSERT_EQUAL(hs_buf_bytes(&b, big, 8), 0);
    CU_ASSERT(hs_buf_u8(&b, 1) < 0);
    CU_ASSERT_EQUAL(b.len, 8);
    hs_buf_clear(&b);
    CU_ASSERT(hs_buf_ok(&b));
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT(hs_buf_u24(&b, 0x1000000) < 0); /* over 24 bits */
    hs_buf_free(&b);

    /* Growth across many reallocations keeps the contents. */
    hs_buf_init(&b, 100000);
    for (unsigned i = 0; i < 50000; i++)
        hs_buf_u16(&b, (uint16_t)i);
    CU_ASSERT_FATAL(hs_buf_ok(&b));
    struct hs_cur c;
    hs_cur_init(&c, b.p, b.len);
    bool all = true;
    for (unsigned i = 0; i < 50000; i++) {
        uint16_t v;
        all = all && hs_cur_u16(&c, &v) && v == (uint16_t)i;
    }
    CU_ASSERT(all);
    hs_buf_free(&b);
}

/* Differential: random operation chains on random buffers, checked against
 * plain offset arithmetic. */
static void test_random_vs_oracle(void)
{
    uint8_t buf[64], ops[32];
    for (unsigned round = 0; round < 2000; round++) {
        RAND_bytes(buf, sizeof(buf));
        RAND_bytes(ops, sizeof(ops));
        size_t len = ops[0] % (sizeof(buf) + 1);
        struct hs_cur c;
        size_t off = 0; /* oracle */
        hs_cur_init(&c, buf, len);
        for (unsigned i = 1; i < sizeof(ops); i++) {
            unsigned op = ops[i] % 5;
            struct hs_cur k;
            bool ok = false, want = false;
            size_t adv = 0;
            switch (op) {
            case 0: {
                uint8_t v;
                ok = hs_cur_u8(&c, &v);
                want = len - off >= 1;
                adv = 1;
                if (ok)
                    CU_ASSERT_EQUAL(v, buf[off]);
                break;
            }
            case 1: {
                uint16_t v;
                ok = hs_cur_u16(&c, &v);
                want = len - off >= 2;
                adv = 2;
                if (ok)
                    CU_ASSERT_EQUAL(v, buf[off] << 8 | buf[off + 1]);
                break;
            }
            case 2: {
                uint32_t v;
                ok = hs_cur_u24(&c, &v);
                want = len - off >= 3;
                adv = 3;
                break;
            }
            case 3: {
                ok = hs_cur_prefixed8(&c, &k);
                want = len - off >= 1 && buf[off] <= len - off - 1;
                adv = want ? 1 + (size_t)buf[off] : 0;
                if (ok)
                    CU_ASSERT_PTR_EQUAL(hs_cur_data(&k), buf + off + 1);
                break;
            }
            default: {
                ok = hs_cur_prefixed16(&c, &k);
                size_t n = len - off >= 2 ? (size_t)(buf[off] << 8 | buf[off + 1]) : 0;
                want = len - off >= 2 && n <= len - off - 2;
                adv = want ? 2 + n : 0;
                break;
            }
            }
            CU_ASSERT_EQUAL(ok, want);
            if (want)
                off += adv;
            CU_ASSERT_EQUAL(hs_cur_len(&c), len - off);
        }
    }
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("cursor", NULL, NULL);
    CU_add_test(s, "integers", test_ints);
    CU_add_test(s, "short reads do not advance", test_short_reads_do_not_advance);
    CU_add_test(s, "length-prefixed children", test_prefixed);
    CU_add_test(s, "builder", test_builder);
    CU_add_test(s, "random vs oracle", test_random_vs_oracle);
}
