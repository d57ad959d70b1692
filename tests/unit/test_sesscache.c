/* test_sesscache.c — the bounded session-ID cache
 * (control/engine/hs_sesscache.c): put/get/remove/expire against a naive
 * oracle (an array searched linearly, LRU by a use stamp) on random
 * operations, the bound and the eviction order, expiry by lookup and by
 * sweep, non-EMS sessions refused, ids of other lengths, and the probe
 * runs staying reachable after deletions (the table's static functions,
 * reached by including the .c).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../control/engine/hs_sesscache.c"
#include "cu_main.h"

static void mk_id(uint8_t id[HS_SESSCACHE_ID_LEN], uint32_t k)
{
    /* distinct, well spread ids: k's bytes through a simple mix */
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull + 1;
    for (unsigned i = 0; i < HS_SESSCACHE_ID_LEN; i++) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        id[i] = (uint8_t)(x >> 56);
    }
    memcpy(id + 28, &k, sizeof(k)); /* unique whatever the mix does */
}

static void mk_state(struct hs_ticket_state *st, uint32_t k)
{
    memset(st, 0, sizeof(*st));
    st->version = 0xfefd;
    st->suite = 0x00a8;
    st->flags = HS_TICKET_FLAG_EMS;
    for (unsigned i = 0; i < HS_TICKET_MASTER_LEN; i++)
        st->master[i] = (uint8_t)(k + i);
    st->identity_len = (uint8_t)snprintf(st->identity, sizeof(st->identity), "id%u", k);
}

static void test_basic(void)
{
    struct hs_sesscache *c = hs_sesscache_new(4, 1000);
    struct hs_ticket_state st, got;
    uint8_t id[HS_SESSCACHE_ID_LEN];
    bool ev = true;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NULL(hs_sesscache_new(0, 1000));
    CU_ASSERT_PTR_NULL(hs_sesscache_new(HS_SESSCACHE_MAX_ENTRIES + 1, 1000));
    CU_ASSERT_PTR_NULL(hs_sesscache_new(4, 0));
    mk_id(id, 1);
    mk_state(&st, 1);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, sizeof(id), 0, &got), HS_SESSCACHE_MISS);
    CU_ASSERT_EQUAL(hs_sesscache_put(c, id, &st, 0, &ev), 0);
    CU_ASSERT(!ev);
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 1);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, sizeof(id), 999, &got), HS_SESSCACHE_HIT);
    CU_ASSERT(memcmp(got.master, st.master, HS_TICKET_MASTER_LEN) == 0);
    CU_ASSERT_STRING_EQUAL(got.identity, "id1");
    /* other lengths never match (a client's own short session_id) */
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, 16, 1, &got), HS_SESSCACHE_MISS);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, 0, 1, &got), HS_SESSCACHE_MISS);
    /* RFC 7627 §5.3: no EMS, not cached */
    uint8_t id2[HS_SESSCACHE_ID_LEN];
    mk_id(id2, 2);
    mk_state(&st, 2);
    st.flags = 0;
    CU_ASSERT_EQUAL(hs_sesscache_put(c, id2, &st, 0, NULL), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 1);
    /* expiry at the lookup: the entry goes, wiped */
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, sizeof(id), 1000, &got), HS_SESSCACHE_EXPIRED);
    CU_ASSERT_EQUAL(got.suite, 0);
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 0);
    CU_ASSERT_EQUAL(hs_sesscache_stats(c)->expired, 1);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, sizeof(id), 0, &got), HS_SESSCACHE_MISS);
    hs_sesscache_free(c);
    hs_sesscache_free(NULL);
}

/* At the bound the least recently used entry goes; a hit refreshes. */
static void test_lru_bound(void)
{
    struct hs_sesscache *c = hs_sesscache_new(3, 100000);
    struct hs_ticket_state st, got;
    uint8_t id[5][HS_SESSCACHE_ID_LEN];
    bool ev;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (uint32_t k = 0; k < 5; k++) {
        mk_id(id[k], k);
    }
    for (uint32_t k = 0; k < 3; k++) {
        mk_state(&st, k);
        CU_ASSERT_EQUAL(hs_sesscache_put(c, id[k], &st, k, &ev), 0);
        CU_ASSERT(!ev);
    }
    /* 0 used: 1 is now the least recently used */
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id[0], HS_SESSCACHE_ID_LEN, 10, &got), HS_SESSCACHE_HIT);
    mk_state(&st, 3);
    CU_ASSERT_EQUAL(hs_sesscache_put(c, id[3], &st, 11, &ev), 0);
    CU_ASSERT(ev);
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 3);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id[1], HS_SESSCACHE_ID_LEN, 12, &got), HS_SESSCACHE_MISS);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id[0], HS_SESSCACHE_ID_LEN, 12, &got), HS_SESSCACHE_HIT);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id[2], HS_SESSCACHE_ID_LEN, 12, &got), HS_SESSCACHE_HIT);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id[3], HS_SESSCACHE_ID_LEN, 12, &got), HS_SESSCACHE_HIT);
    CU_ASSERT_EQUAL(hs_sesscache_stats(c)->evicted, 1);
    /* never more entries allocated than the bound */
    CU_ASSERT_EQUAL(c->n_alloc, 3);
    /* a full cache whose oldest entry expired drops that one, not the LRU */
    mk_state(&st, 4);
    CU_ASSERT_EQUAL(hs_sesscache_put(c, id[4], &st, 100000 + 2, &ev), 0); /* id[0] stored at 0 */
    CU_ASSERT(!ev);
    CU_ASSERT_EQUAL(hs_sesscache_stats(c)->expired, 1);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id[0], HS_SESSCACHE_ID_LEN, 12, &got), HS_SESSCACHE_MISS);
    /* remove, then the same id again */
    CU_ASSERT(hs_sesscache_remove(c, id[2], HS_SESSCACHE_ID_LEN));
    CU_ASSERT(!hs_sesscache_remove(c, id[2], HS_SESSCACHE_ID_LEN));
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 2);
    mk_state(&st, 2);
    CU_ASSERT_EQUAL(hs_sesscache_put(c, id[2], &st, 20, &ev), 0);
    CU_ASSERT(!ev);
    CU_ASSERT_EQUAL(c->n_alloc, 3);
    hs_sesscache_free(c);
}

static void test_sweep(void)
{
    struct hs_sesscache *c = hs_sesscache_new(100, 50);
    struct hs_ticket_state st, got;
    uint8_t id[HS_SESSCACHE_ID_LEN];
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (uint32_t k = 0; k < 60; k++) {
        mk_id(id, k);
        mk_state(&st, k);
        CU_ASSERT_EQUAL(hs_sesscache_put(c, id, &st, k, NULL), 0);
    }
    CU_ASSERT_EQUAL(hs_sesscache_expire(c, 49), 0);
    CU_ASSERT_EQUAL(hs_sesscache_expire(c, 59), 10); /* stored at 0..9 */
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 50);
    mk_id(id, 9);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, sizeof(id), 59, &got), HS_SESSCACHE_MISS);
    mk_id(id, 10);
    CU_ASSERT_EQUAL(hs_sesscache_get(c, id, sizeof(id), 59, &got), HS_SESSCACHE_HIT);
    /* the freed entries are wiped: no master secret left in them */
    unsigned wiped = 0;
    for (uint32_t i = c->free_top; i != NIL; i = c->ent[i]->lru_next) {
        static const uint8_t zero[HS_TICKET_MASTER_LEN];
        wiped += memcmp(c->ent[i]->st.master, zero, sizeof(zero)) == 0;
    }
    CU_ASSERT_EQUAL(wiped, 10);
    CU_ASSERT_EQUAL(hs_sesscache_expire(c, 1000), 50);
    CU_ASSERT_EQUAL(hs_sesscache_count(c), 0);
    hs_sesscache_free(c);
}

/* ---- differential test against a naive oracle ----------------------------- */
#define ORACLE_MAX 64
struct oracle {
    uint32_t key[ORACLE_MAX];
    uint64_t used[ORACLE_MAX], expires[ORACLE_MAX];
    unsigned n;
};

static int oracle_find(const struct oracle *o, uint32_t k)
{
    for (unsigned i = 0; i < o->n; i++)
        if (o->key[i] == k)
            return (int)i;
    return -1;
}

static void oracle_del(struct oracle *o, unsigned i)
{
    o->n--;
    o->key[i] = o->key[o->n];
    o->used[i] = o->used[o->n];
    o->expires[i] = o->expires[o->n];
}

static void test_differential(void)
{
    const unsigned max = 37, keys = 120;
    const uint64_t life = 400;
    struct hs_sesscache *c = hs_sesscache_new(max, life);
    struct oracle o = {.n = 0};
    struct hs_ticket_state st, got;
    uint8_t id[HS_SESSCACHE_ID_LEN];
    uint64_t now = 0, stamp = 0;
    unsigned mismatches = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    srand(12345);
    for (unsigned step = 0; step < 200000; step++) {
        uint32_t k = (uint32_t)rand() % keys;
        int op = rand() % 10;
        int oi = oracle_find(&o, k);
        mk_id(id, k);
        now += 1 + (uint64_t)(rand() % 3);
        stamp++;
        if (op < 4) { /* put */
            mk_state(&st, k);
            if (oi >= 0)
                oracle_del(&o, (unsigned)oi);
            if (o.n == max) {
                /* the oldest-stored entry when expired, else the LRU */
                unsigned old = 0, lru = 0;
                for (unsigned i = 1; i < o.n; i++) {
                    if (o.expires[i] < o.expires[old])
                        old = i;
                    if (o.used[i] < o.used[lru])
                        lru = i;
                }
                oracle_del(&o, o.expires[old] <= now ? old : lru);
            }
            o.key[o.n] = k;
            o.used[o.n] = stamp;
            o.expires[o.n++] = now + life;
            mismatches += hs_sesscache_put(c, id, &st, now, NULL) != 0;
        } else if (op < 8) { /* get */
            int v = hs_sesscache_get(c, id, sizeof(id), now, &got);
            int want = oi < 0                 ? HS_SESSCACHE_MISS
                       : o.expires[oi] <= now ? HS_SESSCACHE_EXPIRED
                                              : HS_SESSCACHE_HIT;
            if (want == HS_SESSCACHE_EXPIRED)
                oracle_del(&o, (unsigned)oi);
            else if (want == HS_SESSCACHE_HIT)
                o.used[oi] = stamp;
            mismatches += v != want;
            if (v == HS_SESSCACHE_HIT)
                mismatches += got.master[0] != (uint8_t)k;
        } else if (op < 9) { /* remove */
            bool had = hs_sesscache_remove(c, id, sizeof(id));
            mismatches += had != (oi >= 0);
            if (oi >= 0)
                oracle_del(&o, (unsigned)oi);
        } else { /* sweep */
            unsigned want = 0;
            for (unsigned i = o.n; i-- > 0;)
                if (o.expires[i] <= now) {
                    oracle_del(&o, i);
                    want++;
                }
            mismatches += hs_sesscache_expire(c, now) != want;
        }
        mismatches += hs_sesscache_count(c) != o.n;
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT(hs_sesscache_stats(c)->evicted > 0 && hs_sesscache_stats(c)->expired > 0);
    /* every entry still in the oracle is found in the table */
    unsigned found = 0;
    for (unsigned i = 0; i < o.n; i++) {
        mk_id(id, o.key[i]);
        found += find_slot(c, id) != NIL;
    }
    CU_ASSERT_EQUAL(found, o.n);
    hs_sesscache_free(c);
}

/* Ids that all share one home slot: a probe run, its middle deleted, the
 * rest still reachable (backward-shift deletion). */
static void test_collisions(void)
{
    struct hs_sesscache *c = hs_sesscache_new(8, 1000);
    struct hs_ticket_state st, got;
    uint8_t id[6][HS_SESSCACHE_ID_LEN];
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (unsigned k = 0; k < 6; k++) {
        memset(id[k], 0, HS_SESSCACHE_ID_LEN);
        id[k][8] = (uint8_t)c->mask; /* home = mask: the run wraps around */
        id[k][31] = (uint8_t)(k + 1);
        mk_state(&st, k);
        CU_ASSERT_EQUAL(hs_sesscache_put(c, id[k], &st, 0, NULL), 0);
    }
    CU_ASSERT(hs_sesscache_remove(c, id[2], HS_SESSCACHE_ID_LEN));
    CU_ASSERT(hs_sesscache_remove(c, id[0], HS_SESSCACHE_ID_LEN));
    for (unsigned k = 0; k < 6; k++)
        CU_ASSERT_EQUAL(hs_sesscache_get(c, id[k], HS_SESSCACHE_ID_LEN, 1, &got),
                        k == 0 || k == 2 ? HS_SESSCACHE_MISS : HS_SESSCACHE_HIT);
    hs_sesscache_free(c);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("sesscache", NULL, NULL);
    CU_add_test(s, "put, get, expiry at lookup, no EMS, id lengths", test_basic);
    CU_add_test(s, "bound, LRU eviction, expired oldest first", test_lru_bound);
    CU_add_test(s, "sweep of expired entries, wiped", test_sweep);
    CU_add_test(s, "differential against a naive oracle", test_differential);
    CU_add_test(s, "colliding ids, deletion inside a probe run", test_collisions);
}
