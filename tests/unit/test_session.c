/* test_session.c — CUnit suite for dataplane/dp_session.c: the lock-free
 * session table, the NAT map and RCU (QSBR) reclamation.
 * Runs EAL in memory without hugepages or PCI (--no-shconf --no-huge). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "cu_main.h"
#include "dp_session.h"
#include "test_eal.h"

static struct dp_sess_table *t;
static int n_cb;

static int suite_init(void)
{
    if (test_eal_init("t_session", 256) < 0)
        return -1;
    return 0;
}

static int suite_clean(void)
{
    rte_eal_cleanup();
    return 0;
}

static struct dp_session *mk(uint32_t ip, uint16_t port, uint16_t nat)
{
    struct dp_session *s = dp_session_alloc(128, SOCKET_ID_ANY);
    if (s == NULL)
        return NULL;
    s->key.client_ip = ip;
    s->key.client_port = port;
    s->key.local_ip = 0x0100000a;
    s->key.local_port = 0x5111;
    s->nat_port = nat;
    return s;
}

static void count_cb(struct dp_session *s, void *arg)
{
    (void)arg;
    CU_ASSERT_PTR_NOT_NULL(s);
    n_cb++;
}

static void test_alloc_replay(void)
{
    CU_ASSERT_PTR_NULL(dp_session_alloc(0, SOCKET_ID_ANY));
    CU_ASSERT_PTR_NULL(dp_session_alloc(100, SOCKET_ID_ANY)); /* not a multiple of 64 */
    CU_ASSERT_PTR_NULL(dp_session_alloc(DP_REPLAY_WIN_MAX_BITS + 64, SOCKET_ID_ANY));
    struct dp_session *s = dp_session_alloc(DP_REPLAY_WIN_MAX_BITS, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->replay->win_bits, DP_REPLAY_WIN_MAX_BITS);
    CU_ASSERT_EQUAL(dp_replay_check(s->replay, 5), DP_REPLAY_OK);
    dp_replay_update(s->replay, 5);
    CU_ASSERT_EQUAL(dp_replay_check(s->replay, 5), DP_REPLAY_DUP);
    dp_session_free(s);
}

static void test_install_lookup_remove(void)
{
    t = dp_sess_table_create("t_sess1", 64, 2, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct dp_session *a = mk(0x0200000a, 0x1111, 20000);
    struct dp_session *b = mk(0x0300000a, 0x1111, 20001);
    CU_ASSERT_EQUAL(dp_sess_install(t, a), CR_OK);
    CU_ASSERT_EQUAL(dp_sess_install(t, b), CR_OK);
    CU_ASSERT_EQUAL(dp_sess_count(t), 2);
    CU_ASSERT_PTR_EQUAL(dp_sess_lookup(t, &a->key), a);
    CU_ASSERT_PTR_EQUAL(dp_sess_lookup(t, &b->key), b);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, 0, 20000), a);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, 0, 20001), b);
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, 0, 20002));
    struct dp_sess_key k = a->key;
    k.client_port = 0x2222;
    CU_ASSERT_PTR_NULL(dp_sess_lookup(t, &k));

    /* Same key again, or same NAT port: refused. */
    struct dp_session *dup = mk(0x0200000a, 0x1111, 20005);
    CU_ASSERT_EQUAL(dp_sess_install(t, dup), CR_ERR_INVAL);
    dup->key.client_port = 0x3333;
    dup->nat_port = 20001;
    CU_ASSERT_EQUAL(dp_sess_install(t, dup), CR_ERR_INVAL);
    dp_session_free(dup);

    uint32_t it = 0, seen = 0;
    while (dp_sess_iterate(t, &it) != NULL)
        seen++;
    CU_ASSERT_EQUAL(seen, 2);

    dp_sess_remove(t, a, true);
    CU_ASSERT_EQUAL(dp_sess_count(t), 1);
    CU_ASSERT_EQUAL(dp_sess_pending(t), 1);
    CU_ASSERT_PTR_NULL(dp_sess_lookup(t, &k));
    CU_ASSERT_PTR_NULL(dp_sess_lookup(t, &(struct dp_sess_key){.client_ip = 0x0200000a,
                                                               .local_ip = 0x0100000a,
                                                               .client_port = 0x1111,
                                                               .local_port = 0x5111}));
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, 0, 20000));
    /* No reader registered: the grace period is immediate. */
    n_cb = 0;
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, count_cb, NULL, false), 1);
    CU_ASSERT_EQUAL(n_cb, 1);
    CU_ASSERT_EQUAL(dp_sess_pending(t), 0);
    /* Removing twice is harmless. */
    dp_sess_remove(t, b, false);
    dp_sess_remove(t, b, false);
    CU_ASSERT_EQUAL(dp_sess_count(t), 0);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, false), 1);
    dp_sess_table_free(t);
    t = NULL;
}

static void test_grace_period(void)
{
    t = dp_sess_table_create("t_sess2", 64, 2, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct rte_rcu_qsbr *q = dp_sess_qsbr(t);
    /* Two readers online (thread ids 0 and 1); both must pass a quiescent
     * state after the removal. */
    CU_ASSERT_EQUAL(rte_rcu_qsbr_thread_register(q, 0), 0);
    CU_ASSERT_EQUAL(rte_rcu_qsbr_thread_register(q, 1), 0);
    rte_rcu_qsbr_thread_online(q, 0);
    rte_rcu_qsbr_thread_online(q, 1);
    struct dp_session *a = mk(0x0200000a, 0x1111, 30000);
    struct dp_session *b = mk(0x0300000a, 0x1111, 30001);
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(t, a), CR_OK);
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(t, b), CR_OK);
    dp_sess_remove(t, a, false);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, false), 0);
    rte_rcu_qsbr_quiescent(q, 0);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, false), 0);
    /* b is removed after reader 0's report: reader 0 must report again
     * before b can go, while a (older) is free once reader 1 reports. */
    dp_sess_remove(t, b, false);
    rte_rcu_qsbr_quiescent(q, 1);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, false), 1); /* a only: 0 is behind b */
    CU_ASSERT_EQUAL(dp_sess_pending(t), 1);
    rte_rcu_qsbr_quiescent(q, 0);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, false), 1);
    CU_ASSERT_EQUAL(dp_sess_pending(t), 0);
    /* An offline reader never blocks a grace period. */
    struct dp_session *c = mk(0x0400000a, 0x1111, 30002);
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(t, c), CR_OK);
    rte_rcu_qsbr_thread_offline(q, 0);
    dp_sess_remove(t, c, false);
    rte_rcu_qsbr_quiescent(q, 1);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, false), 1);
    rte_rcu_qsbr_thread_offline(q, 1);
    (void)rte_rcu_qsbr_thread_unregister(q, 0);
    (void)rte_rcu_qsbr_thread_unregister(q, 1);
    dp_sess_table_free(t);
    t = NULL;
}

static void test_capacity(void)
{
    enum {
        CAP = 16
    };
    t = dp_sess_table_create("t_sess3", CAP, 1, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NULL(dp_sess_table_create("t_bad", 0, 1, SOCKET_ID_ANY));
    CU_ASSERT_PTR_NULL(dp_sess_table_create("t_bad2", 64, 0, SOCKET_ID_ANY));
    struct dp_session *s[CAP + 1];
    unsigned ok = 0;
    for (unsigned i = 0; i < CAP; i++) {
        s[i] = mk(0x0a000000u + i, 0x1000, (uint16_t)(40000 + i));
        if (dp_sess_install(t, s[i]) == CR_OK)
            ok++;
    }
    CU_ASSERT_EQUAL(ok, CAP);
    s[CAP] = mk(0x0b000000u, 0x1000, 41000);
    CU_ASSERT_EQUAL(dp_sess_install(t, s[CAP]), CR_ERR_LIMIT);
    dp_session_free(s[CAP]);
    /* Remove + reclaim frees a slot (key position recycled after grace). */
    dp_sess_remove(t, s[3], false);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, true), 1);
    struct dp_session *n = mk(0x0c000000u, 0x1000, 40003);
    CU_ASSERT_EQUAL(dp_sess_install(t, n), CR_OK);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, 0, 40003), n);
    /* Random differential check against a naive list. */
    for (unsigned i = 0; i < CAP; i++) {
        if (i == 3)
            continue;
        CU_ASSERT_PTR_EQUAL(dp_sess_lookup(t, &s[i]->key), s[i]);
    }
    dp_sess_table_free(t); /* frees the remaining sessions too */
    t = NULL;
}

/* A reader that stops reporting (a stalled worker) must not let the queue of
 * removed sessions grow without bound: installs are refused with
 * CR_ERR_BUSY once dp_sess_pending_max wait, and work again once the reader
 * reports.  Before the bound the queue grew until the hash's key store was
 * exhausted (max_sessions + 1), refused as "table full" with no session
 * live. */
static void test_reclaim_backlog_bounded(void)
{
    enum {
        CAP = 4096,
        ROUNDS = 6000
    };
    t = dp_sess_table_create("t_sess5", CAP, 1, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct rte_rcu_qsbr *q = dp_sess_qsbr(t);
    CU_ASSERT_EQUAL(rte_rcu_qsbr_thread_register(q, 0), 0);
    rte_rcu_qsbr_thread_online(q, 0); /* and never quiescent: stalled */
    uint32_t maxp = dp_sess_pending_max(t), peak = 0;
    CU_ASSERT(maxp >= DP_SESS_RECLAIM_BATCH && maxp < CAP);
    unsigned ok = 0, busy = 0, other = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        struct dp_session *s = mk(0x0a000000u + i, 0x2000, (uint16_t)(10000 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        int rc = dp_sess_install(t, s);
        if (rc == CR_OK) {
            ok++;
            dp_sess_remove(t, s, false); /* reconnect churn */
        } else {
            rc == CR_ERR_BUSY ? busy++ : other++;
            dp_session_free(s);
        }
        (void)dp_sess_reclaim(t, NULL, NULL, false); /* frees nothing: stalled */
        if (dp_sess_pending(t) > peak)
            peak = dp_sess_pending(t);
    }
    printf("\n    stalled reader: %u installed+removed, %u refused busy, %u other, "
           "pending peak %u (bound %u)\n",
           ok, busy, other, peak, maxp);
    CU_ASSERT_EQUAL(peak, maxp);
    CU_ASSERT_EQUAL(ok, maxp);
    CU_ASSERT_EQUAL(busy, ROUNDS - maxp);
    CU_ASSERT_EQUAL(other, 0);
    /* The reader reports: everything is freed and installs work again. */
    rte_rcu_qsbr_quiescent(q, 0);
    unsigned freed = 0, n;
    while ((n = dp_sess_reclaim(t, NULL, NULL, false)) > 0)
        freed += n;
    CU_ASSERT_EQUAL(freed, maxp);
    CU_ASSERT_EQUAL(dp_sess_pending(t), 0);
    struct dp_session *s = mk(0x0b000000u, 0x2000, 9000);
    CU_ASSERT_EQUAL(dp_sess_install(t, s), CR_OK);
    rte_rcu_qsbr_thread_offline(q, 0);
    (void)rte_rcu_qsbr_thread_unregister(q, 0);
    dp_sess_table_free(t);
    t = NULL;
}

/* ---- remove/reconnect stress (the worker's flow-cache protocol) ----------
 * A reader thread does what a worker does: report quiescent, read the
 * removal generation, use its cached session while the generation is
 * unchanged, else look the key up and cache what it finds under that
 * generation.  The control plane removes the session, waits for the grace
 * period, frees it and installs a successor under the same key (a client
 * reconnecting from the same address), over and over.  Each session carries
 * a serial (backend_ip); the reclaim callback poisons it before the free.
 * A cached pointer whose serial changed under it was used after its grace
 * period: with the generation bumped before the hash delete this happens
 * within a few thousand rounds. */
#define STRESS_ROUNDS    200000
#define STRESS_POISON    0xdeadbeefu
#define STRESS_READER_ID 1

struct stress {
    struct dp_sess_table *t;
    struct dp_sess_key key;
    int stop;               /* release store by the control plane */
    uint64_t uses, stale;   /* reader: cached uses, uses after free */
    uint64_t lookups, hits; /* reader */
};

static void *stress_reader(void *arg)
{
    struct stress *st = arg;
    struct rte_rcu_qsbr *q = dp_sess_qsbr(st->t);
    struct dp_session *cached = NULL;
    uint64_t cached_gen = 0;
    uint32_t cached_serial = 0;

    /* The EAL pinned the main thread (and so this thread, by inheritance)
     * to CPU 0: run on the other CPUs so the two really race. */
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 1; c < ncpu && c < CPU_SETSIZE; c++)
        CPU_SET((int)c, &cpus);
    if (ncpu > 1)
        (void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);

    rte_rcu_qsbr_thread_online(q, STRESS_READER_ID);
    while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
        rte_rcu_qsbr_quiescent(q, STRESS_READER_ID);
        uint64_t gen = dp_sess_gen(st->t);
        if (cached != NULL && cached_gen == gen) {
            st->uses++;
            if (__atomic_load_n(&cached->backend_ip, __ATOMIC_RELAXED) != cached_serial)
                st->stale++;
            continue;
        }
        st->lookups++;
        cached = dp_sess_lookup(st->t, &st->key);
        if (cached != NULL) {
            st->hits++;
            cached_gen = gen;
            cached_serial = __atomic_load_n(&cached->backend_ip, __ATOMIC_RELAXED);
        }
    }
    rte_rcu_qsbr_thread_offline(q, STRESS_READER_ID);
    return NULL;
}

static void poison_cb(struct dp_session *s, void *arg)
{
    (void)arg;
    __atomic_store_n(&s->backend_ip, STRESS_POISON, __ATOMIC_RELAXED);
}

static void test_remove_reconnect_stress(void)
{
    struct stress st = {0};
    pthread_t th;

    st.t = t = dp_sess_table_create("t_sess4", 64, 2, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct rte_rcu_qsbr *q = dp_sess_qsbr(t);
    CU_ASSERT_EQUAL_FATAL(rte_rcu_qsbr_thread_register(q, STRESS_READER_ID), 0);
    struct dp_session *s = mk(0x0200000a, 0x1111, 50000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    s->backend_ip = 1;
    st.key = s->key;
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(t, s), CR_OK);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, stress_reader, &st), 0);

    unsigned rounds = 0;
    for (uint32_t serial = 2; rounds < STRESS_ROUNDS; serial++, rounds++) {
        dp_sess_remove(t, s, false);
        if (dp_sess_reclaim(t, poison_cb, NULL, true) != 1)
            break;
        s = mk(0x0200000a, 0x1111, (uint16_t)(50000 + serial % 1000));
        if (s == NULL)
            break;
        s->backend_ip = serial;
        if (dp_sess_install(t, s) != CR_OK)
            break;
        /* Let the reader use its cache for a moment. */
        for (volatile int spin = 0; spin < 200; spin++)
            ;
    }
    __atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    printf("\n    %u rounds: reader %" PRIu64 " lookups (%" PRIu64 " found), %" PRIu64
           " cached uses, %" PRIu64 " after free\n",
           rounds, st.lookups, st.hits, st.uses, st.stale);
    CU_ASSERT_EQUAL(rounds, STRESS_ROUNDS);
    CU_ASSERT(st.hits > 0 && st.uses > 0); /* the reader did race the writer */
    CU_ASSERT_EQUAL(st.stale, 0);
    (void)rte_rcu_qsbr_thread_unregister(q, STRESS_READER_ID);
    dp_sess_table_free(t);
    t = NULL;
}

/* Issue 11: NAT pools.  Port 0's pool 10.0.2.10-10.0.2.12, port 1 none,
 * port 2's 10.9.0.1 alone: the same UDP port on two pool addresses is two
 * sessions; by_nat finds each by (address, port), an address outside every
 * pool finds nothing (the worker drops and counts it), an install with such
 * a nat_ip or a taken slot is refused; bad pools are refused at create. */
static void test_nat_pools(void)
{
#define A(h) rte_cpu_to_be_32(0x0a00020au - 10 + (h)) /* 10.0.2.h */
    const struct dp_nat_pool pools[3] = {
        {.first = 0x0a00020a, .n_addrs = 3}, {0, 0}, {.first = 0x0a090001, .n_addrs = 1}};
    t = dp_sess_table_create_nat("t_sess_pool", 64, 1, SOCKET_ID_ANY, pools, 3, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(dp_sess_nat_n_addrs(t), 4);
    uint32_t base = 99;
    CU_ASSERT_PTR_NOT_NULL(dp_sess_nat_pool(t, 0, &base));
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_PTR_NULL(dp_sess_nat_pool(t, 1, &base));
    CU_ASSERT_PTR_NOT_NULL(dp_sess_nat_pool(t, 2, &base));
    CU_ASSERT_EQUAL(base, 3);
    CU_ASSERT_PTR_NULL(dp_sess_nat_pool(t, 3, &base));
    CU_ASSERT_EQUAL(dp_sess_nat_slot(t, A(10), 20000), 20000);
    CU_ASSERT_EQUAL(dp_sess_nat_slot(t, A(12), 20000), 2 << 16 | 20000);
    CU_ASSERT_EQUAL(dp_sess_nat_slot(t, rte_cpu_to_be_32(0x0a090001), 7), 3 << 16 | 7);
    CU_ASSERT_EQUAL(dp_sess_nat_slot(t, A(9), 20000), -1);
    CU_ASSERT_EQUAL(dp_sess_nat_slot(t, A(13), 20000), -1);
    CU_ASSERT(dp_sess_is_nat_addr(t, A(11)) && !dp_sess_is_nat_addr(t, A(13)));
    /* IPv6-backend sessions' slots: under the first address of their
     * port's pool, the port's own address where it has none */
    const uint32_t own = rte_cpu_to_be_32(0x0a000101);
    CU_ASSERT_EQUAL(dp_sess_nat_slot_ip6(t, 0, own), A(10));
    CU_ASSERT_EQUAL(dp_sess_nat_slot_ip6(t, 1, own), own);
    CU_ASSERT_EQUAL(dp_sess_nat_slot_ip6(t, 2, own), rte_cpu_to_be_32(0x0a090001));
    CU_ASSERT_EQUAL(dp_sess_nat_slot_ip6(t, 3, own), own);

    struct dp_session *s[3];
    for (unsigned i = 0; i < 3; i++) {
        s[i] = mk(0x0200000a + (i << 24), 0x1111, 20000); /* one UDP port */
        CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
        s[i]->nat_ip = A(10 + i);
        CU_ASSERT_EQUAL(dp_sess_install(t, s[i]), CR_OK);
    }
    for (unsigned i = 0; i < 3; i++)
        CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, A(10 + i), 20000), s[i]);
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, A(10), 20001));
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, A(13), 20000));
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, A(9), 20000));
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, rte_cpu_to_be_32(0x0a090001), 20000));
    /* outside every pool, or a taken slot: refused */
    struct dp_session *bad = mk(0x0900000a, 0x1111, 20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    bad->nat_ip = A(13);
    CU_ASSERT_EQUAL(dp_sess_install(t, bad), CR_ERR_INVAL);
    bad->nat_ip = A(11);
    CU_ASSERT_EQUAL(dp_sess_install(t, bad), CR_ERR_INVAL);
    bad->nat_ip = rte_cpu_to_be_32(0x0a090001);
    CU_ASSERT_EQUAL(dp_sess_install(t, bad), CR_OK);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, rte_cpu_to_be_32(0x0a090001), 20000), bad);
    /* removal clears only its own slot */
    dp_sess_remove(t, s[1], false);
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, A(11), 20000));
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, A(10), 20000), s[0]);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, A(12), 20000), s[2]);
    dp_sess_table_free(t);
    t = NULL;
#undef A

    /* overlapping, wrapping or too many addresses: refused */
    const struct dp_nat_pool overlap[2] = {{.first = 100, .n_addrs = 10},
                                           {.first = 105, .n_addrs = 1}};
    const struct dp_nat_pool overlap2[2] = {{.first = 105, .n_addrs = 1},
                                            {.first = 100, .n_addrs = 10}};
    const struct dp_nat_pool wrap[1] = {{.first = UINT32_MAX - 1, .n_addrs = 3}};
    const struct dp_nat_pool big[2] = {{.first = 1000, .n_addrs = DP_SESS_NAT_ADDRS_MAX},
                                       {.first = 1, .n_addrs = 1}};
    const struct dp_nat_pool none[2] = {{0, 0}, {0, 0}};
    CU_ASSERT_PTR_NULL(dp_sess_table_create_nat("t_bp1", 64, 1, SOCKET_ID_ANY, overlap, 2, true));
    CU_ASSERT_PTR_NULL(dp_sess_table_create_nat("t_bp2", 64, 1, SOCKET_ID_ANY, overlap2, 2, true));
    CU_ASSERT_PTR_NULL(dp_sess_table_create_nat("t_bp3", 64, 1, SOCKET_ID_ANY, wrap, 1, true));
    CU_ASSERT_PTR_NULL(dp_sess_table_create_nat("t_bp4", 64, 1, SOCKET_ID_ANY, big, 2, true));
    CU_ASSERT_PTR_NULL(dp_sess_table_create_nat("t_bp5", 64, 1, SOCKET_ID_ANY, none, 2, true));
    CU_ASSERT_PTR_NULL(dp_sess_table_create_nat("t_bp6", 64, 1, SOCKET_ID_ANY, overlap, 5, true));
}

/* Issue 11: the session reserve made at start holds max_sessions plus
 * the pending and spare sessions, hands out zeroed sessions with their
 * window, refuses a window over its room and, once empty, every further
 * allocation (NULL, not a heap fallback); a freed session goes back and
 * serves again, with its keys wiped. */
static void test_reserve(void)
{
    enum {
        CAP = 16
    };
    t = dp_sess_table_create("t_sess_res", CAP, 1, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* no reserve yet: rte_malloc, as dp_session_alloc */
    struct dp_session *heap = dp_sess_session_alloc(t, 128, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(heap);
    CU_ASSERT_PTR_NULL(heap->reserve);
    dp_session_free(heap);
    CU_ASSERT_EQUAL(dp_sess_reserve_elt_bytes(t), 0);
    CU_ASSERT_EQUAL(dp_sess_table_reserve(t, 0), CR_ERR_INVAL);
    CU_ASSERT_EQUAL_FATAL(dp_sess_table_reserve(t, 256), CR_OK);
    CU_ASSERT_EQUAL(dp_sess_table_reserve(t, 256), CR_ERR_INVAL); /* once */
    CU_ASSERT(dp_sess_reserve_elt_bytes(t) >= dp_session_memsize(256));
    /* no padding to spread objects over memory channels (NO_SPREAD): the
     * session rounded to a cache line plus the mempool's one-line object
     * header; with a 256-bit window 37 + 1 lines, which spreading pads to
     * 39 */
    CU_ASSERT(dp_sess_reserve_elt_bytes(t) <=
              RTE_ALIGN_CEIL(dp_session_memsize(256), RTE_CACHE_LINE_SIZE) + RTE_CACHE_LINE_SIZE);
    uint64_t n = dp_sess_reserve_count(CAP);
    CU_ASSERT_EQUAL(n, CAP + dp_sess_pending_max(t) + DP_SESS_RESERVE_SPARE);
    CU_ASSERT_PTR_NULL(dp_sess_session_alloc(t, 320, SOCKET_ID_ANY)); /* over its room */
    struct dp_session **all = calloc(n, sizeof(*all));
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    for (uint64_t i = 0; i < n; i++) {
        all[i] = dp_sess_session_alloc(t, i % 2 ? 256 : 64, SOCKET_ID_ANY);
        CU_ASSERT_PTR_NOT_NULL_FATAL(all[i]);
        CU_ASSERT_EQUAL(all[i]->replay->win_bits, i % 2 ? 256 : 64);
        CU_ASSERT_EQUAL(all[i]->hash_pos, -1);
        CU_ASSERT_EQUAL(all[i]->wr_seq, 0);
        CU_ASSERT_EQUAL(dp_replay_check(all[i]->replay, 1), DP_REPLAY_OK);
        all[i]->wr_seq = 77; /* dirty it for the reuse check */
        dp_replay_update(all[i]->replay, 1);
    }
    CU_ASSERT_PTR_NULL(dp_sess_session_alloc(t, 64, SOCKET_ID_ANY)); /* empty */
    struct dp_session *back = all[3];
    dp_session_free(back);
    struct dp_session *again = dp_sess_session_alloc(t, 128, SOCKET_ID_ANY);
    CU_ASSERT_PTR_EQUAL(again, back);
    if (again != NULL) {
        CU_ASSERT_EQUAL(again->wr_seq, 0);
        CU_ASSERT_EQUAL(dp_replay_check(again->replay, 1), DP_REPLAY_OK);
        all[3] = again;
    }
    /* one installed and removed through the table goes back too */
    all[0]->key.client_ip = 0x01020304;
    all[0]->nat_port = 20000;
    CU_ASSERT_EQUAL(dp_sess_install(t, all[0]), CR_OK);
    dp_sess_remove(t, all[0], false);
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, true), 1);
    all[0] = dp_sess_session_alloc(t, 64, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL(all[0]);
    for (uint64_t i = 0; i < n; i++)
        dp_session_free(all[i]);
    free(all);
}

static struct dp_session *mk6(uint8_t last, uint16_t port, uint16_t nat)
{
    struct dp_session *s = dp_session_alloc(128, SOCKET_ID_ANY);
    if (s == NULL)
        return NULL;
    static const uint8_t pfx[15] = {0x20, 0x01, 0x0d, 0xb8};
    s->family = DP_AF_V6;
    if (dp_session_v6(s) != 0) {
        dp_session_free(s);
        return NULL;
    }
    memcpy(s->v6->key6.client_ip, pfx, 15);
    s->v6->key6.client_ip[15] = last;
    memcpy(s->v6->key6.local_ip, pfx, 15);
    s->v6->key6.local_ip[15] = 1;
    s->v6->key6.client_port = port;
    s->v6->key6.local_port = 0x5111;
    s->nat_port = nat;
    return s;
}

/* IPv6 clients: their own table beside the IPv4 one (an IPv4 key with the
 * same bytes finds nothing there), one max_sessions budget for both, one
 * NAT map, iteration over both, removal and reclaim by family. */
static void test_v6_table(void)
{
    enum {
        CAP = 8
    };
    t = dp_sess_table_create("t_sess6", CAP, 1, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct dp_session *v4[CAP], *v6[CAP];
    for (unsigned i = 0; i < CAP / 2; i++) {
        v4[i] = mk(0x0200000a + (uint32_t)(i << 24), 0x1111, (uint16_t)(30000 + i));
        v6[i] = mk6((uint8_t)(2 + i), 0x1111, (uint16_t)(31000 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(v4[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v6[i]);
        CU_ASSERT_EQUAL(dp_sess_install(t, v4[i]), CR_OK);
        CU_ASSERT_EQUAL(dp_sess_install(t, v6[i]), CR_OK);
    }
    CU_ASSERT_EQUAL(dp_sess_count(t), CAP);
    /* the budget is shared: a ninth session of either family is refused */
    struct dp_session *x6 = mk6(200, 0x2222, 32000), *x4 = mk(0x0900000a, 0x2222, 32001);
    CU_ASSERT_EQUAL(dp_sess_install(t, x6), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(dp_sess_install(t, x4), CR_ERR_LIMIT);
    for (unsigned i = 0; i < CAP / 2; i++) {
        CU_ASSERT_PTR_EQUAL(dp_sess_lookup6(t, &v6[i]->v6->key6), v6[i]);
        CU_ASSERT_PTR_EQUAL(dp_sess_lookup(t, &v4[i]->key), v4[i]);
        CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(t, 0, (uint16_t)(31000 + i)), v6[i]);
    }
    struct dp_sess_key6 miss = v6[0]->v6->key6;
    miss.client_port = 0x3333;
    CU_ASSERT_PTR_NULL(dp_sess_lookup6(t, &miss));
    /* an IPv4 session's key is not looked up in the IPv6 table */
    struct dp_sess_key6 as6;
    memset(&as6, 0, sizeof(as6));
    memcpy(&as6, &v4[0]->key, sizeof(v4[0]->key));
    CU_ASSERT_PTR_NULL(dp_sess_lookup6(t, &as6));
    /* duplicate key of the same family refused; a bad family refused */
    struct dp_session *dup = mk6(2, 0x1111, 32002);
    dp_sess_remove(t, v4[3], false);
    CU_ASSERT_EQUAL(dp_sess_install(t, dup), CR_ERR_INVAL);
    /* an IPv6 family without the IPv6 part is refused */
    struct dp_session *bare = dp_session_alloc(128, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bare);
    bare->nat_port = 32003;
    bare->backend_family = DP_AF_V6;
    CU_ASSERT_EQUAL(dp_sess_install(t, bare), CR_ERR_INVAL);
    dp_session_free(bare);
    dup->family = 7;
    dup->v6->key6.client_port = 0x4444;
    CU_ASSERT_EQUAL(dp_sess_install(t, dup), CR_ERR_INVAL);
    dp_session_free(dup);
    /* iteration: both families, each once */
    uint32_t it = 0;
    unsigned n4 = 0, n6 = 0;
    struct dp_session *s;
    while ((s = dp_sess_iterate(t, &it)) != NULL) {
        if (s->family == DP_AF_V6)
            n6++;
        else
            n4++;
    }
    CU_ASSERT_EQUAL(n4, CAP / 2 - 1);
    CU_ASSERT_EQUAL(n6, CAP / 2);
    /* remove an IPv6 one: gone from lookup and NAT map, reclaimed */
    dp_sess_remove(t, v6[1], false);
    CU_ASSERT_PTR_NULL(dp_sess_lookup6(t, &v6[1]->v6->key6));
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, 0, 31001));
    n_cb = 0;
    CU_ASSERT_EQUAL(dp_sess_reclaim(t, count_cb, NULL, true), 2);
    CU_ASSERT_EQUAL(n_cb, 2);
    /* room again: the IPv6 session that was refused now fits */
    CU_ASSERT_EQUAL(dp_sess_install(t, x6), CR_OK);
    CU_ASSERT_PTR_EQUAL(dp_sess_lookup6(t, &x6->v6->key6), x6);
    dp_session_free(x4);
    dp_sess_table_free(t);
    t = NULL;
}

/* max_sessions 1..7 (the config's range starts at 1): rte_hash refuses
 * fewer than 8 entries (one bucket), so the tables are made with 8, but
 * the budget stays max_sessions: exactly N installs succeed, the next is
 * refused (either family), and a reclaimed slot serves again. */
static void test_small_tables(void)
{
    static const uint32_t caps[] = {1, 3, 7};
    for (unsigned c = 0; c < RTE_DIM(caps); c++) {
        uint32_t cap = caps[c];
        char name[32];
        snprintf(name, sizeof(name), "t_small%u", cap);
        t = dp_sess_table_create(name, cap, 1, SOCKET_ID_ANY);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        struct dp_session *s[8];
        for (uint32_t i = 0; i < cap; i++) {
            s[i] = mk(0x0a000000u + i, 0x1000, (uint16_t)(40000 + i));
            CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
            CU_ASSERT_EQUAL(dp_sess_install(t, s[i]), CR_OK);
        }
        CU_ASSERT_EQUAL(dp_sess_count(t), cap);
        struct dp_session *x4 = mk(0x0b000000u, 0x1000, 41000), *x6 = mk6(9, 0x1000, 41001);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x4);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x6);
        CU_ASSERT_EQUAL(dp_sess_install(t, x4), CR_ERR_LIMIT);
        CU_ASSERT_EQUAL(dp_sess_install(t, x6), CR_ERR_LIMIT);
        CU_ASSERT_EQUAL(dp_sess_count(t), cap);
        for (uint32_t i = 0; i < cap; i++)
            CU_ASSERT_PTR_EQUAL(dp_sess_lookup(t, &s[i]->key), s[i]);
        CU_ASSERT_PTR_NULL(dp_sess_lookup(t, &x4->key));
        /* remove + reclaim: the refused IPv6 one fits, then nothing more */
        dp_sess_remove(t, s[0], false);
        CU_ASSERT_EQUAL(dp_sess_reclaim(t, NULL, NULL, true), 1);
        CU_ASSERT_EQUAL(dp_sess_install(t, x6), CR_OK);
        CU_ASSERT_EQUAL(dp_sess_install(t, x4), CR_ERR_LIMIT);
        dp_session_free(x4);
        dp_sess_table_free(t);
        t = NULL;
    }
    /* the start-up estimate counts the tables as made: 8 entries each */
    struct dp_sess_mem m1, m3;
    dp_sess_table_memsize(1, 1, 1, true, &m1);
    dp_sess_table_memsize(3, 1, 1, true, &m3);
    CU_ASSERT_EQUAL(m1.hash_bytes, m3.hash_bytes);
    CU_ASSERT_EQUAL(m1.hash_bytes, dp_hash_memsize_ext(8, sizeof(struct dp_sess_key), true) +
                                       dp_hash_memsize_ext(8, sizeof(struct dp_sess_key6), true));
}

/* A table filled to max_sessions (a power of two, where the buckets are
 * exactly full): every install succeeds — rte_hash's cuckoo buckets alone
 * refuse keys at ~97% (the extendable buckets take the rest) — and with
 * the table full, removed sessions waiting for their grace period
 * (n_pending) do not take the room of new ones: their key slots are
 * counted on top (a full gateway under churn keeps accepting).  Then the
 * pending ones are reclaimed and the table empties. */
static unsigned reclaim_all(struct dp_sess_table *tb)
{
    unsigned got = 0, r;
    while ((r = dp_sess_reclaim(tb, NULL, NULL, true)) > 0)
        got += r;
    return got;
}

static void test_full_table(void)
{
    enum {
        N = 32768,
        CHURN = 512
    };
    t = dp_sess_table_create("t_full", N, 1, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct dp_session **s = calloc(N + CHURN, sizeof(*s));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned refused = 0;
    for (uint32_t i = 0; i < N + CHURN; i++) {
        /* keys spread as real clients' are: address and port from a mix */
        uint32_t h = i * 2654435761u;
        s[i] =
            mk(0x0a000000u | (h >> 8), (uint16_t)(1024 + (h & 0xff) * 251 + i % 251), (uint16_t)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
    }
    for (uint32_t i = 0; i < N; i++)
        refused += dp_sess_install(t, s[i]) != CR_OK;
    CU_ASSERT_EQUAL(refused, 0);
    CU_ASSERT_EQUAL(dp_sess_count(t), N);
    CU_ASSERT_EQUAL(dp_sess_install(t, s[N]), CR_ERR_LIMIT);
    /* churn at full: CHURN removed (pending, no reclaim), CHURN new in */
    for (uint32_t i = 0; i < CHURN; i++)
        dp_sess_remove(t, s[i], false);
    CU_ASSERT_EQUAL(dp_sess_pending(t), CHURN);
    refused = 0;
    for (uint32_t i = N; i < N + CHURN; i++)
        refused += dp_sess_install(t, s[i]) != CR_OK;
    CU_ASSERT_EQUAL(refused, 0);
    CU_ASSERT_EQUAL(dp_sess_count(t), N);
    for (uint32_t i = CHURN; i < N + CHURN; i++)
        CU_ASSERT_PTR_EQUAL_FATAL(dp_sess_lookup(t, &s[i]->key), s[i]);
    CU_ASSERT_EQUAL(reclaim_all(t), CHURN);
    for (uint32_t i = CHURN; i < N + CHURN; i++)
        dp_sess_remove(t, s[i], false);
    CU_ASSERT_EQUAL(reclaim_all(t), N);
    CU_ASSERT_EQUAL(dp_sess_count(t), 0);
    free(s);
    dp_sess_table_free(t);
    t = NULL;
}

/* DPDK heap bytes in use on this socket. */
static size_t heap_used(void)
{
    struct rte_malloc_socket_stats st;
    CU_ASSERT_EQUAL_FATAL(rte_malloc_get_socket_stats((int)rte_socket_id(), &st), 0);
    return st.heap_allocsz_bytes;
}

/* A gateway without IPv6 (ipv6 false): the IPv6 clients' table has
 * DP_SESS_V6_MIN_ENTRIES entries, in the start-up estimate and in what
 * DPDK gives the table; IPv4 clients keep the whole budget, an IPv6
 * session past the minimum is refused (CR_ERR_LIMIT). */
static void test_v6_table_minimal(void)
{
    enum {
        CAP = 65536
    };
    struct dp_sess_mem m4, m46;
    dp_sess_table_memsize(CAP, 1, 1, false, &m4);
    dp_sess_table_memsize(CAP, 1, 1, true, &m46);
    /* room for the live and the pending sessions (CAP / DP_SESS_PENDING_DIV
     * at this size), extendable buckets */
    const uint64_t room = CAP + CAP / DP_SESS_PENDING_DIV;
    size_t h4 = dp_hash_memsize_ext(room, sizeof(struct dp_sess_key), true);
    size_t full6 = dp_hash_memsize_ext(room, sizeof(struct dp_sess_key6), true);
    size_t min6 = dp_hash_memsize_ext(DP_SESS_V6_MIN_ENTRIES, sizeof(struct dp_sess_key6), true);
    CU_ASSERT_EQUAL(m46.hash_bytes, h4 + full6);
    CU_ASSERT_EQUAL(m4.hash_bytes, h4 + min6);
    CU_ASSERT(min6 < 4096 && full6 > 1000 * min6);
    CU_ASSERT_EQUAL(m4.nat_bytes, m46.nat_bytes);
    CU_ASSERT_EQUAL(m4.qsbr_bytes, m46.qsbr_bytes);

    size_t h0 = heap_used();
    struct dp_sess_table *a =
        dp_sess_table_create_nat("t_min6_a", CAP, 1, SOCKET_ID_ANY, NULL, 0, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    size_t h1 = heap_used();
    t = dp_sess_table_create_nat("t_min6_b", CAP, 1, SOCKET_ID_ANY, NULL, 0, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    size_t h2 = heap_used();
    dp_sess_table_free(a);
    size_t with6 = h1 - h0, without6 = h2 - h1;
    printf("\n  table of %u: %zu bytes with IPv6, %zu without (estimate %zu less)\n", CAP, with6,
           without6, full6 - min6);
    CU_ASSERT(without6 < with6 && with6 - without6 >= (full6 - min6) / 10 * 9);

    struct dp_session *v6[DP_SESS_V6_MIN_ENTRIES];
    for (unsigned i = 0; i < DP_SESS_V6_MIN_ENTRIES; i++) {
        v6[i] = mk6((uint8_t)(2 + i), 0x1111, (uint16_t)(31000 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(v6[i]);
        CU_ASSERT_EQUAL(dp_sess_install(t, v6[i]), CR_OK);
    }
    struct dp_session *x6 = mk6(200, 0x2222, 32000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x6);
    int rc6 = dp_sess_install(t, x6);
    CU_ASSERT_EQUAL(rc6, CR_ERR_LIMIT);
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(t, 0, 32000));
    if (rc6 != CR_OK)
        dp_session_free(x6); /* else the table's, freed with it */
    for (unsigned i = 0; i < DP_SESS_V6_MIN_ENTRIES; i++)
        CU_ASSERT_PTR_EQUAL(dp_sess_lookup6(t, &v6[i]->v6->key6), v6[i]);
    enum {
        N4 = 1000
    };
    unsigned ok4 = 0;
    for (unsigned i = 0; i < N4; i++) {
        struct dp_session *s = mk(0x0200000a + (uint32_t)(i << 8), 0x1111, (uint16_t)(1000 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        ok4 += dp_sess_install(t, s) == CR_OK;
    }
    CU_ASSERT_EQUAL(ok4, N4);
    CU_ASSERT_EQUAL(dp_sess_count(t), DP_SESS_V6_MIN_ENTRIES + N4);
    dp_sess_table_free(t);
    t = NULL;
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("dp_session", suite_init, suite_clean);
    CU_add_test(s, "alloc and replay window", test_alloc_replay);
    CU_add_test(s, "install, lookup, NAT map, remove", test_install_lookup_remove);
    CU_add_test(s, "RCU grace period", test_grace_period);
    CU_add_test(s, "capacity and slot reuse", test_capacity);
    CU_add_test(s, "NAT address pools", test_nat_pools);
    CU_add_test(s, "IPv6 clients' table at its minimum without IPv6", test_v6_table_minimal);
    CU_add_test(s, "session reserve sized at start", test_reserve);
    CU_add_test(s, "reclaim queue bounded while a reader stalls", test_reclaim_backlog_bounded);
    CU_add_test(s, "remove/reconnect stress (flow-cache protocol)", test_remove_reconnect_stress);
    CU_add_test(s, "IPv6 table beside the IPv4 one, one budget", test_v6_table);
    CU_add_test(s, "max_sessions 1..7: tables of 8, budget exact", test_small_tables);
    CU_add_test(s, "a full table: every install up to max_sessions, churn while full",
                test_full_table);
}
