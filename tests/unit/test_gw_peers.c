/* test_gw_peers.c — CUnit suite for control/gw_peers.c: the control
 * plane's peer table (insert, lookup, free, end by match) and handshake
 * admission (max_peers, max_handshakes, max_handshakes_per_source), on a
 * real gw_cp made by gw_cp_create over net_ring ports (test_gw_cp.h). */
#include <string.h>

#include "cp_hs_limit.h"
#include "cr_seal.h"
#include "cu_main.h"
#include "gw_listeners.h"
#include "gw_peers.h"
#include "test_gw_cp.h"

#define TP_MAX_HS      4
#define TP_MAX_PER_SRC 2

static const struct rte_ether_addr cl_mac = {{0x02, 0, 0, 0, 0, 7}};

static int suite_init(void)
{
    if (tgc_dataplane_init("t_gw_peers") != 0)
        return -1;
    struct tgc_opts o = {.max_handshakes = TP_MAX_HS, .max_per_source = TP_MAX_PER_SRC};
    return tgc_cp_create(&o) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
    tgc_cp_free();
    tgc_dataplane_free();
    return 0;
}

static cp_key_t key_of(uint32_t ip_be, uint16_t port)
{
    struct dp_addr c = dp_addr_v4(ip_be), l = dp_addr_v4(TGC_IP(10, 0, 0, 1));
    return cp_key_make(&c, rte_cpu_to_be_16(port), &l, rte_cpu_to_be_16(4433));
}

static struct cp_peer *insert(uint32_t ip_be, uint16_t port)
{
    cp_key_t k = key_of(ip_be, port);
    return gw_peer_insert(tgc_cp, &k, &cl_mac, 0, 0, 0);
}

static uint32_t busy(const cp_key_t *k)
{
    return tgc_g.peer_busy[dp_peer_slot(cp_key_client_fold(k), k->client_port)];
}

static void test_insert_lookup_free(void)
{
    uint32_t ip = TGC_IP(10, 0, 0, 20);
    cp_key_t k = key_of(ip, 40000);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &k));
    struct cp_peer *p = gw_peer_insert(tgc_cp, &k, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &k), p);
    CU_ASSERT_EQUAL(memcmp(&p->key, &k, sizeof(k)), 0);
    CU_ASSERT(rte_is_same_ether_addr(&p->mac, &cl_mac));
    CU_ASSERT_PTR_EQUAL(p->cp, tgc_cp);
    CU_ASSERT_PTR_NULL(p->hs);
    CU_ASSERT_PTR_NULL(p->sess);
    CU_ASSERT_TRUE(p->hs_counted);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 1);
    CU_ASSERT_EQUAL(busy(&k), 1);
    CU_ASSERT_EQUAL(cp_hs_limit_total(tgc_cp->hs_limit), 1);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, ip), 1);
    /* another port of the same address is another peer */
    cp_key_t k2 = key_of(ip, 40001);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &k2));
    /* the stats snapshot sees the same count */
    struct gw_stats st;
    gw_cp_stats_snapshot(tgc_cp, &st);
    CU_ASSERT_EQUAL(st.peers, 1);

    gw_peer_free(tgc_cp, p, false);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &k));
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 0);
    CU_ASSERT_EQUAL(busy(&k), 0);
    CU_ASSERT_EQUAL(cp_hs_limit_total(tgc_cp->hs_limit), 0);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, ip), 0);
}

static void test_per_source_cap(void)
{
    uint32_t ip = TGC_IP(10, 0, 0, 30);
    uint64_t refused = tgc_cnt(DP_CNT_DROP_CP_HS_PER_SOURCE);
    struct cp_peer *a = insert(ip, 1000), *b = insert(ip, 1001);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* max_handshakes_per_source (2) from one address: the third waits */
    cp_key_t k3 = key_of(ip, 1002);
    CU_ASSERT_PTR_NULL(insert(ip, 1002));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_HS_PER_SOURCE), refused + 1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &k3));
    CU_ASSERT_EQUAL(busy(&k3), 0);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 2);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, ip), 2);
    /* another address is not held back */
    struct cp_peer *c = insert(TGC_IP(10, 0, 0, 31), 1000);
    CU_ASSERT_PTR_NOT_NULL(c);
    /* a handshake that ended (a session now) frees its slot, once */
    gw_peer_hs_done(tgc_cp, a);
    CU_ASSERT_FALSE(a->hs_counted);
    gw_peer_hs_done(tgc_cp, a);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, ip), 1);
    struct cp_peer *d = insert(ip, 1002);
    CU_ASSERT_PTR_NOT_NULL(d);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_HS_PER_SOURCE), refused + 1);
    /* freeing a peer whose slot was already released releases nothing */
    gw_peer_free(tgc_cp, a, false);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, ip), 2);
    gw_peer_free(tgc_cp, b, false);
    gw_peer_free(tgc_cp, d, false);
    if (c != NULL)
        gw_peer_free(tgc_cp, c, false);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 0);
    CU_ASSERT_EQUAL(cp_hs_limit_total(tgc_cp->hs_limit), 0);
}

static void test_global_cap(void)
{
    struct cp_peer *p[TP_MAX_HS];
    uint64_t refused = tgc_cnt(DP_CNT_DROP_CP_HS_MAX);
    for (unsigned i = 0; i < TP_MAX_HS; i++) {
        p[i] = insert(TGC_IP(10, 0, 0, 40 + i), 2000);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    CU_ASSERT_EQUAL(cp_hs_limit_total(tgc_cp->hs_limit), TP_MAX_HS);
    /* max_handshakes in progress: a new address is refused too */
    CU_ASSERT_PTR_NULL(insert(TGC_IP(10, 0, 0, 60), 2000));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_HS_MAX), refused + 1);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, TP_MAX_HS);
    /* one ends: room for one */
    gw_peer_free(tgc_cp, p[0], false);
    p[0] = insert(TGC_IP(10, 0, 0, 60), 2000);
    CU_ASSERT_PTR_NOT_NULL(p[0]);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_HS_MAX), refused + 1);
    gw_peers_free_all(tgc_cp, false);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 0);
    CU_ASSERT_EQUAL(cp_hs_limit_total(tgc_cp->hs_limit), 0);
}

static void test_table_full(void)
{
    /* max_peers (sessions + handshakes) reached: refused before admission */
    uint64_t lim = tgc_cnt(DP_CNT_DROP_CP_HS_LIMIT);
    uint32_t saved = tgc_cp->max_peers;
    struct cp_peer *a = insert(TGC_IP(10, 0, 0, 70), 3000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    tgc_cp->max_peers = 1;
    CU_ASSERT_PTR_NULL(insert(TGC_IP(10, 0, 0, 71), 3000));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_HS_LIMIT), lim + 1);
    CU_ASSERT_EQUAL(cp_hs_limit_total(tgc_cp->hs_limit), 1);
    tgc_cp->max_peers = saved;
    gw_peer_free(tgc_cp, a, false);
}

/* max_sessions 1 with max_handshakes 1 (the config's minimums): a peer
 * table for 2 peers, whose rte_hash (2 * max_peers entries) is below
 * rte_hash's minimum of 8: the control plane is made all the same, and
 * max_peers still bounds the peers. */
static void test_tiny_limits(void)
{
    tgc_cp_free();
    struct tgc_opts o = {.max_sessions = 1, .max_handshakes = 1, .max_per_source = 1};
    CU_ASSERT_FATAL(tgc_cp_create(&o) == 0);
    CU_ASSERT_EQUAL(tgc_cp->max_peers, 2);
    struct cp_peer *a = insert(TGC_IP(10, 0, 0, 80), 3000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    /* the one handshake slot is taken: a second source waits */
    CU_ASSERT_PTR_NULL(insert(TGC_IP(10, 0, 0, 81), 3000));
    gw_peer_free(tgc_cp, a, false);
    tgc_cp_free();
    struct tgc_opts o1 = {.max_handshakes = TP_MAX_HS, .max_per_source = TP_MAX_PER_SRC};
    CU_ASSERT_FATAL(tgc_cp_create(&o1) == 0);
}

static bool match_ip(struct gw_cp *cp, struct cp_peer *peer, void *arg)
{
    (void)cp;
    return cp_key_is_v4(&peer->key) && cp_key_client_v4(&peer->key) == *(const uint32_t *)arg;
}

static void test_end_matching(void)
{
    uint32_t ip = TGC_IP(10, 0, 0, 80), none = TGC_IP(10, 0, 0, 99);
    CU_ASSERT_PTR_NOT_NULL(insert(ip, 1));
    CU_ASSERT_PTR_NOT_NULL(insert(ip, 2));
    CU_ASSERT_PTR_NOT_NULL(insert(TGC_IP(10, 0, 0, 81), 1));
    CU_ASSERT_EQUAL(gw_peers_end_matching(tgc_cp, match_ip, &none), 0);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 3);
    CU_ASSERT_EQUAL(gw_peers_end_matching(tgc_cp, match_ip, &ip), 2);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 1);
    cp_key_t k = key_of(TGC_IP(10, 0, 0, 81), 1);
    CU_ASSERT_PTR_NOT_NULL(gw_peer_lookup(tgc_cp, &k));
    gw_peers_free_all(tgc_cp, false);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 0);
}

static void test_log_rate_limit(void)
{
    struct cp_peer *p = insert(TGC_IP(10, 0, 0, 90), 5683);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    /* GW_CP_LOG_PER_SEC lines a second at most (the count keeps going) */
    uint64_t sec = gw_cp_now_ms(tgc_cp) / 1000;
    for (unsigned i = 0; i < GW_CP_LOG_PER_SEC + 5; i++)
        gw_peer_log(tgc_cp, p, "test line", i == 0 ? DP_ALERT_HANDSHAKE_FAILURE : -1);
    if (gw_cp_now_ms(tgc_cp) / 1000 == sec)
        CU_ASSERT(tgc_cp->log_n > GW_CP_LOG_PER_SEC);
    gw_peer_free(tgc_cp, p, false);
}

/* handshake_lcores: 2 (issue 10): two shards made by gw_cp_create (none
 * launched here), each peer in the shard of its address, the handshake
 * limits and the next hops shared, engine contexts apart; freed and made
 * again (names unique per shard). */
static void test_two_shards(void)
{
    tgc_cp_free();
    struct tgc_opts o = {
        .max_handshakes = TP_MAX_HS, .max_per_source = TP_MAX_PER_SRC, .handshake_lcores = 2};
    CU_ASSERT_FATAL(tgc_cp_create(&o) == 0);
    CU_ASSERT_EQUAL_FATAL(gw_cp_n_shards(tgc_cp), 2);
    struct gw_cp_shared *sh = tgc_cp->sh;
    struct gw_cp *s0 = sh->shard[0], *s1 = sh->shard[1];
    CU_ASSERT_PTR_EQUAL(s0, tgc_cp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
    CU_ASSERT_PTR_NULL(s0->hs_in);
    CU_ASSERT_PTR_NOT_NULL(s1->hs_in);
    CU_ASSERT_PTR_NOT_NULL(s1->hs_tx);
    CU_ASSERT_PTR_EQUAL(s1->hs_limit, s0->hs_limit);
    CU_ASSERT_PTR_EQUAL(s1->sh, sh);
    CU_ASSERT_EQUAL(s1->lst[0].nh, s0->lst[0].nh);
    CU_ASSERT(s1->lst[0].ctx != NULL && s1->lst[0].ctx != s0->lst[0].ctx);
    CU_ASSERT(s1->lst[0].creds != NULL && s1->lst[0].creds != s0->lst[0].creds);
    /* one set of session-ticket keys: a returning client may land on the
     * other shard; shard 0 rotates, shard 1 takes the new keys at its next
     * check, keeping the old ones (its tickets still open) */
    CU_ASSERT_FATAL(s0->lst[0].tickets && s1->lst[0].tickets);
    CU_ASSERT_EQUAL(s1->lst[0].tk_ring.n, s0->lst[0].tk_ring.n);
    CU_ASSERT(
        memcmp(s1->lst[0].tk_ring.k[0].name, s0->lst[0].tk_ring.k[0].name, CR_SEAL_NAME_LEN) == 0 &&
        memcmp(s1->lst[0].tk_ring.k[0].key, s0->lst[0].tk_ring.k[0].key, CR_SEAL_KEY_LEN) == 0);
    uint8_t old_name[CR_SEAL_NAME_LEN];
    memcpy(old_name, s0->lst[0].tk_ring.k[0].name, sizeof(old_name));
    CU_ASSERT_EQUAL(gw_listeners_rotate_tickets(s0, s0->lst[0].tk_ring.k[0].born_ms +
                                                        tgc_cfg.ticket_key_rotate_ms),
                    0);
    CU_ASSERT(memcmp(s0->lst[0].tk_ring.k[1].name, old_name, sizeof(old_name)) == 0);
    CU_ASSERT(memcmp(s1->lst[0].tk_ring.k[0].name, old_name, sizeof(old_name)) == 0);
    gw_listeners_sync_tickets(s1);
    CU_ASSERT_EQUAL(s1->lst[0].tk_ring.n, 2);
    CU_ASSERT(
        memcmp(s1->lst[0].tk_ring.k[0].name, s0->lst[0].tk_ring.k[0].name, CR_SEAL_NAME_LEN) == 0 &&
        memcmp(s1->lst[0].tk_ring.k[1].name, old_name, sizeof(old_name)) == 0);
    /* a ticket sealed on one shard opens on the other */
    uint8_t pt[8] = {1, 2, 3}, blob[8 + CR_SEAL_OVERHEAD], back[8];
    size_t bl = 0, pl = 0;
    CU_ASSERT_EQUAL(
        cr_seal(&s1->lst[0].tk_ring, "t", NULL, 0, pt, sizeof(pt), blob, sizeof(blob), &bl), 0);
    CU_ASSERT_EQUAL(
        cr_unseal(&s0->lst[0].tk_ring, "t", NULL, 0, blob, bl, back, sizeof(back), &pl, NULL), 0);
    /* shard 1 counts its own seals within its share of the key's budget */
    CU_ASSERT(s1->lst[0].tk_ring.k[0].uses >= CR_SEAL_USES_MAX / 2);
    CU_ASSERT(s0->lst[0].tk_ring.k[0].uses < CR_SEAL_USES_MAX / 2);
    /* dispatch: the shard of cp_shard_of, from either shard; both used */
    unsigned per[2] = {0};
    for (unsigned port = 40000; port < 40200; port++) {
        cp_key_t k = key_of(TGC_IP(10, 0, 0, 30), (uint16_t)port);
        unsigned want =
            cp_shard_of(cp_key_client_v4(&k), k.client_port, cp_key_local_v4(&k), k.local_port, 2);
        CU_ASSERT_PTR_EQUAL(gw_cp_shard_for(s0, &k), sh->shard[want]);
        CU_ASSERT_PTR_EQUAL(gw_cp_shard_for(s1, &k), sh->shard[want]);
        per[want]++;
    }
    CU_ASSERT(per[0] > 50 && per[1] > 50);
    /* one limit table: max_handshakes_per_source counts both shards */
    uint32_t ip = TGC_IP(10, 0, 0, 31);
    cp_key_t k1 = key_of(ip, 41000), k2 = key_of(ip, 41001), k3 = key_of(ip, 41002);
    struct cp_peer *p1 = gw_peer_insert(s1, &k1, &cl_mac, 0, 0, 0);
    struct cp_peer *p0 = gw_peer_insert(s0, &k2, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p0);
    CU_ASSERT_PTR_EQUAL(p1->cp, s1);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(s0->hs_limit, ip), 2);
    CU_ASSERT_PTR_NULL(gw_peer_insert(s1, &k3, &cl_mac, 0, 0, 0));
    CU_ASSERT_PTR_NULL(gw_peer_insert(s0, &k3, &cl_mac, 0, 0, 0));
    /* peer tables apart */
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(s1, &k1), p1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(s0, &k1));
    CU_ASSERT_EQUAL(s0->n_peers, 1);
    CU_ASSERT_EQUAL(s1->n_peers, 1);
    gw_peer_free(s1, p1, false);
    gw_peer_free(s0, p0, false);
    CU_ASSERT_EQUAL(cp_hs_limit_total(s0->hs_limit), 0);
    /* made again after a free: every name is released */
    tgc_cp_free();
    CU_ASSERT_FATAL(tgc_cp_create(&o) == 0);
    CU_ASSERT_EQUAL(gw_cp_n_shards(tgc_cp), 2);
    tgc_cp_free();
    struct tgc_opts o1 = {.max_handshakes = TP_MAX_HS, .max_per_source = TP_MAX_PER_SRC};
    CU_ASSERT_FATAL(tgc_cp_create(&o1) == 0);
    CU_ASSERT_EQUAL(gw_cp_n_shards(tgc_cp), 1);
}

/* An IPv6 peer: its own entry (not confused with an IPv4 one whose
 * address has the same low bytes), the workers' busy slot is the one
 * dp_peer_slot_addr gives them for that address, the per-source limit
 * counts it under its folded address; cp_key round trip. */
static void test_v6_peer(void)
{
    static const uint8_t c6[16] = {0x20, 0x01, 0x0d, 0xb8, [12] = 10, 0, 0, 20};
    static const uint8_t l6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    struct dp_addr c = dp_addr_v6(c6), l = dp_addr_v6(l6);
    cp_key_t k6 = cp_key_make(&c, rte_cpu_to_be_16(40000), &l, rte_cpu_to_be_16(4433));
    cp_key_t k4 = key_of(TGC_IP(10, 0, 0, 20), 40000);
    struct dp_addr back = cp_key_client(&k6);
    CU_ASSERT(dp_addr_eq(&back, &c));
    back = cp_key_client(&k4);
    CU_ASSERT_EQUAL(back.family, DP_AF_V4);
    CU_ASSERT_EQUAL(back.u.v4, TGC_IP(10, 0, 0, 20));
    struct cp_peer *p6 = gw_peer_insert(tgc_cp, &k6, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p6);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &k4));
    struct cp_peer *p4 = gw_peer_insert(tgc_cp, &k4, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p4);
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &k6), p6);
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &k4), p4);
    uint32_t slot6 = dp_peer_slot_addr(&c, rte_cpu_to_be_16(40000));
    CU_ASSERT(tgc_g.peer_busy[slot6] >= 1);
    /* per-source limit: the IPv6 client's /64 (cp_key_source_id) */
    CU_ASSERT_EQUAL(cp_key_source_id(&k6), UINT64_C(0x20010db800000000));
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, cp_key_source_id(&k6)), 1);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, TGC_IP(10, 0, 0, 20)), 1);
    /* another address of the same /64 shares its budget (max 2 here):
     * the third handshake from that /64 is refused */
    static const uint8_t c6b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x77};
    static const uint8_t c6c[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 1, 0x78};
    struct dp_addr cb = dp_addr_v6(c6b), cc = dp_addr_v6(c6c);
    cp_key_t kb = cp_key_make(&cb, rte_cpu_to_be_16(40000), &l, rte_cpu_to_be_16(4433));
    cp_key_t kc = cp_key_make(&cc, rte_cpu_to_be_16(40000), &l, rte_cpu_to_be_16(4433));
    struct cp_peer *pb = gw_peer_insert(tgc_cp, &kb, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pb);
    uint64_t refused = tgc_cnt(DP_CNT_DROP_CP_HS_PER_SOURCE);
    CU_ASSERT_PTR_NULL(gw_peer_insert(tgc_cp, &kc, &cl_mac, 0, 0, 0));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_HS_PER_SOURCE), refused + 1);
    /* a /64 in 0000:0000::/32 never shares an IPv4 source's key */
    static const uint8_t low[16] = {0, 0, 0, 0, 10, 0, 0, 20, [15] = 1};
    struct dp_addr la6 = dp_addr_v6(low);
    cp_key_t kl = cp_key_make(&la6, rte_cpu_to_be_16(1), &l, rte_cpu_to_be_16(4433));
    CU_ASSERT_NOT_EQUAL(cp_key_source_id(&kl), cp_key_source_id(&k4));
    gw_peer_free(tgc_cp, pb, false);
    gw_peer_free(tgc_cp, p6, false);
    CU_ASSERT_EQUAL(cp_hs_limit_of_source(tgc_cp->hs_limit, cp_key_source_id(&k6)), 0);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &k6));
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &k4), p4);
    gw_peer_free(tgc_cp, p4, false);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 0);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_peers", suite_init, suite_clean);
    CU_add_test(s, "peer insert/lookup/free", test_insert_lookup_free);
    CU_add_test(s, "IPv6 peer beside an IPv4 one", test_v6_peer);
    CU_add_test(s, "per-source handshake cap", test_per_source_cap);
    CU_add_test(s, "global handshake cap", test_global_cap);
    CU_add_test(s, "peer table full", test_table_full);
    CU_add_test(s, "max_sessions 1, max_handshakes 1", test_tiny_limits);
    CU_add_test(s, "end matching peers", test_end_matching);
    CU_add_test(s, "peer log rate limit", test_log_rate_limit);
    CU_add_test(s, "handshake_lcores: 2: shards, dispatch, shared limits", test_two_shards);
}
