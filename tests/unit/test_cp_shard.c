/* test_cp_shard.c — CUnit suite for control/cp_shard.h: the mapping of a
 * client transport address to its handshake shard (handshake_lcores).
 * The same peer always maps to the same shard; peers spread evenly,
 * whether they differ in the client port only (one NAT address), in the
 * address only, or at random. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cp_shard.h"

#define TS_LOCAL_IP   0x0a4d0001u /* 10.77.0.1, any byte order will do */
#define TS_LOCAL_PORT 4433u
#define TS_RANDOM_N   20000u

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    /* xorshift64*: deterministic so failures reproduce. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_one_shard(void)
{
    for (unsigned i = 0; i < 1000; i++) {
        uint64_t r = rnd();
        CU_ASSERT_EQUAL(cp_shard_of((uint32_t)r, (uint16_t)(r >> 32), TS_LOCAL_IP, 4433, 0), 0);
        CU_ASSERT_EQUAL(cp_shard_of((uint32_t)r, (uint16_t)(r >> 32), TS_LOCAL_IP, 4433, 1), 0);
    }
}

/* Same key, same shard, always in range; a different local port (another
 * listener) is another key. */
static void test_same_peer_same_shard(void)
{
    for (unsigned n = 2; n <= CP_SHARD_MAX; n++)
        for (unsigned i = 0; i < 2000; i++) {
            uint64_t r = rnd();
            uint32_t ip = (uint32_t)r;
            uint16_t port = (uint16_t)(r >> 32);
            unsigned s = cp_shard_of(ip, port, TS_LOCAL_IP, TS_LOCAL_PORT, n);
            CU_ASSERT(s < n);
            for (int again = 0; again < 3; again++)
                CU_ASSERT_EQUAL(cp_shard_of(ip, port, TS_LOCAL_IP, TS_LOCAL_PORT, n), s);
        }
}

/* Each of n shards gets count/n within tol_pct percent. */
static void check_even(const unsigned *per, unsigned n, unsigned count, unsigned tol_pct)
{
    unsigned want = count / n;
    for (unsigned s = 0; s < n; s++) {
        unsigned lo = want - want * tol_pct / 100, hi = want + want * tol_pct / 100;
        if (per[s] < lo || per[s] > hi)
            fprintf(stderr, "cp_shard: n=%u shard %u got %u of %u (want %u..%u)\n", n, s, per[s],
                    count, lo, hi);
        CU_ASSERT(per[s] >= lo && per[s] <= hi);
    }
}

static void test_spread_random(void)
{
    for (unsigned n = 2; n <= CP_SHARD_MAX; n++) {
        unsigned per[CP_SHARD_MAX] = {0};
        for (unsigned i = 0; i < TS_RANDOM_N; i++) {
            uint64_t r = rnd();
            per[cp_shard_of((uint32_t)r, (uint16_t)(r >> 32), TS_LOCAL_IP, TS_LOCAL_PORT, n)]++;
        }
        check_even(per, n, TS_RANDOM_N, 10);
    }
}

/* Many clients behind one address (consecutive ephemeral ports, as the
 * e2e helper's clients), and one port on many consecutive addresses. */
static void test_spread_ports_and_addresses(void)
{
    for (unsigned n = 2; n <= 4; n++) {
        unsigned per_port[CP_SHARD_MAX] = {0}, per_ip[CP_SHARD_MAX] = {0};
        for (unsigned i = 0; i < 8192; i++) {
            per_port[cp_shard_of(0x0a4d0002u, (uint16_t)(32768 + i), TS_LOCAL_IP, TS_LOCAL_PORT,
                                 n)]++;
            per_ip[cp_shard_of(0x0a000000u + i, 5684, TS_LOCAL_IP, TS_LOCAL_PORT, n)]++;
        }
        check_even(per_port, n, 8192, 10);
        check_even(per_ip, n, 8192, 10);
    }
    /* 50 clients on consecutive ports (the e2e handshake_lcores test): both
     * of 2 shards get a fair share */
    unsigned per[2] = {0};
    for (unsigned i = 0; i < 50; i++)
        per[cp_shard_of(0x0a4d0002u, (uint16_t)(40000 + i), TS_LOCAL_IP, TS_LOCAL_PORT, 2)]++;
    CU_ASSERT(per[0] >= 10 && per[1] >= 10);
}

/* No long runs of consecutive ports on one shard (n = 2): a run of 16 has
 * probability 2^-15 per start, none in 4096 ports is expected. */
static void test_no_runs(void)
{
    unsigned run = 1, longest = 1;
    unsigned prev = cp_shard_of(0x0a4d0002u, 20000, TS_LOCAL_IP, TS_LOCAL_PORT, 2);
    for (unsigned p = 20001; p < 24096; p++) {
        unsigned s = cp_shard_of(0x0a4d0002u, (uint16_t)p, TS_LOCAL_IP, TS_LOCAL_PORT, 2);
        run = s == prev ? run + 1 : 1;
        if (run > longest)
            longest = run;
        prev = s;
    }
    CU_ASSERT(longest < 20);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("cp_shard", NULL, NULL);
    CU_add_test(s, "one shard: always 0", test_one_shard);
    CU_add_test(s, "same peer, same shard, in range", test_same_peer_same_shard);
    CU_add_test(s, "random peers spread evenly", test_spread_random);
    CU_add_test(s, "one address many ports, many addresses one port",
                test_spread_ports_and_addresses);
    CU_add_test(s, "no long runs over consecutive ports", test_no_runs);
}

#include "cu_main.h"
