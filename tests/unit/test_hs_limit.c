/* test_hs_limit.c — CUnit suite for control/cp_hs_limit.c: the control
 * plane's handshake admission (max_handshakes, per-source limit), edge
 * cases and a differential test against a naive oracle on random
 * admit/release sequences (collisions and table wrap-around included). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cp_hs_limit.c"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    /* xorshift64*: deterministic so failures reproduce. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_bad_parameters(void)
{
    CU_ASSERT_PTR_NULL(cp_hs_limit_new(0, 1, 0));
    CU_ASSERT_PTR_NULL(cp_hs_limit_new(4, 0, 0));
    CU_ASSERT_PTR_NULL(cp_hs_limit_new(4, 5, 0));
    CU_ASSERT_PTR_NULL(cp_hs_limit_new(CP_HS_LIMIT_MAX_HANDSHAKES + 1, 1, 0));
    struct cp_hs_limit *l = cp_hs_limit_new(4, 4, 0);
    CU_ASSERT_PTR_NOT_NULL(l);
    cp_hs_limit_free(l);
}

static void test_total_and_per_source(void)
{
    struct cp_hs_limit *l = cp_hs_limit_new(5, 2, 12345);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const uint32_t a = 0x0a000001, b = 0x0a000002, c = 0x0a000003;
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, a), CP_HS_ADMIT);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, a), CP_HS_ADMIT);
    /* A third from the same address: refused, nothing counted. */
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, a), CP_HS_REFUSE_SOURCE);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(l, a), 2);
    CU_ASSERT_EQUAL(cp_hs_limit_total(l), 2);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, b), CP_HS_ADMIT);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, b), CP_HS_ADMIT);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, c), CP_HS_ADMIT);
    CU_ASSERT_EQUAL(cp_hs_limit_total(l), 5);
    /* Full: the total refuses first, even for a fresh address. */
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, 0x0a000004), CP_HS_REFUSE_TOTAL);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, c), CP_HS_REFUSE_TOTAL);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(l, 0x0a000004), 0);
    /* One ends: room for one more, from anyone under the per-source cap. */
    cp_hs_limit_release(l, a);
    CU_ASSERT_EQUAL(cp_hs_limit_total(l), 4);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(l, a), 1);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, b), CP_HS_REFUSE_SOURCE);
    CU_ASSERT_EQUAL(cp_hs_limit_admit(l, 0x0a000004), CP_HS_ADMIT);
    /* Releasing an address never admitted changes nothing. */
    cp_hs_limit_release(l, 0x0a0000ff);
    CU_ASSERT_EQUAL(cp_hs_limit_total(l), 5);
    cp_hs_limit_release(l, a);
    cp_hs_limit_release(l, a); /* one too many: ignored */
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(l, a), 0);
    CU_ASSERT_EQUAL(cp_hs_limit_total(l), 4);
    cp_hs_limit_free(l);
}

/* Random admit/release of addresses from a small set (so runs collide and
 * wrap around the table) checked against plain arrays. */
#define ORACLE_IPS 64
static void test_differential(void)
{
    for (int round = 0; round < 20; round++) {
        uint32_t max_total = 1 + (uint32_t)(rnd() % 40);
        uint32_t max_src = 1 + (uint32_t)(rnd() % max_total);
        struct cp_hs_limit *l = cp_hs_limit_new(max_total, max_src, rnd());
        CU_ASSERT_PTR_NOT_NULL_FATAL(l);
        uint32_t ips[ORACLE_IPS], count[ORACLE_IPS] = {0}, total = 0;
        for (int i = 0; i < ORACLE_IPS; i++)
            ips[i] = (uint32_t)rnd();
        for (int step = 0; step < 20000; step++) {
            unsigned k = (unsigned)(rnd() % ORACLE_IPS);
            if (rnd() % 2) {
                enum cp_hs_verdict want = total >= max_total    ? CP_HS_REFUSE_TOTAL
                                          : count[k] >= max_src ? CP_HS_REFUSE_SOURCE
                                                                : CP_HS_ADMIT;
                CU_ASSERT_EQUAL_FATAL(cp_hs_limit_admit(l, ips[k]), want);
                if (want == CP_HS_ADMIT) {
                    count[k]++;
                    total++;
                }
            } else {
                cp_hs_limit_release(l, ips[k]);
                if (count[k] > 0) {
                    count[k]--;
                    total--;
                }
            }
            CU_ASSERT_EQUAL_FATAL(cp_hs_limit_total(l), total);
            if (step % 97 == 0)
                for (int i = 0; i < ORACLE_IPS; i++)
                    CU_ASSERT_EQUAL_FATAL(cp_hs_limit_of_source(l, ips[i]), count[i]);
        }
        cp_hs_limit_free(l);
    }
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("hs_limit", NULL, NULL);
    CU_add_test(s, "bad parameters", test_bad_parameters);
    CU_add_test(s, "total and per-source limits", test_total_and_per_source);
    CU_add_test(s, "differential against an oracle", test_differential);
}

#include "cu_main.h"
