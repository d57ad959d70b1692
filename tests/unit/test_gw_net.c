/* test_gw_net.c — CUnit suite for control/gw_net.c: next-hop selection, ARP
 * responder/resolver, ICMP echo responder and control-plane UDP frames.
 * gw_net.c is included so its static helpers are reachable. */
#include <string.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_icmp.h>
#include <rte_lcore.h>

#include "cu_main.h"
#include "dp_counters.h"
#include "gw_nat.h"
#include "gw_net.c"
#include "test_eal.h"

#define IP(a, b, c, d) rte_cpu_to_be_32(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static struct dp_gw g;
static struct gw_net net;
static const struct rte_ether_addr peer_mac = {{0x02, 0xaa, 0, 0, 0, 9}};

static int suite_init(void)
{
    if (test_eal_init("t_gw_net", 128) < 0)
        return -1;
    g.pool = dp_port_pool_create("tn_pool", 1023, SOCKET_ID_ANY);
    if (g.pool == NULL)
        return -1;
    g.n_ports = 2;
    g.ports[0].ip_be = IP(10, 0, 0, 1);
    g.ports[0].prefix_len = 24;
    g.ports[0].mtu = 1500;
    g.ports[0].mac = (struct rte_ether_addr){{0x02, 0, 0, 0, 0, 1}};
    g.ports[1].ip_be = IP(192, 168, 7, 1);
    g.ports[1].prefix_len = 30;
    g.ports[1].gw_be = IP(192, 168, 7, 2);
    g.ports[1].mtu = 1500;
    g.ports[1].mac = (struct rte_ether_addr){{0x02, 0, 0, 0, 0, 2}};
    gw_net_init(&net, &g);
    return 0;
}

static int suite_clean(void)
{
    rte_eal_cleanup();
    return 0;
}

static uint64_t cnt(enum dp_counter_id id)
{
    return dp_counters[rte_lcore_id()].c[id];
}

static void test_nexthop_select(void)
{
    int a = gw_net_nexthop_add(&net, IP(10, 0, 0, 7));    /* on-link port 0 */
    int b = gw_net_nexthop_add(&net, IP(8, 8, 8, 8));     /* via port 1's gateway */
    int c = gw_net_nexthop_add(&net, IP(9, 9, 9, 9));     /* same gateway: reused */
    int d = gw_net_nexthop_add(&net, IP(192, 168, 7, 2)); /* the gateway itself */
    int e = gw_net_nexthop_add(&net, IP(10, 0, 0, 7));    /* again: reused */
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(c, 1);
    CU_ASSERT_EQUAL(d, 1);
    CU_ASSERT_EQUAL(e, 0);
    CU_ASSERT_EQUAL(g.n_nexthops, 2);
    CU_ASSERT_EQUAL(g.nexthops[0].ip_be, IP(10, 0, 0, 7));
    CU_ASSERT_EQUAL(g.nexthops[0].port_idx, 0);
    CU_ASSERT_EQUAL(g.nexthops[1].ip_be, IP(192, 168, 7, 2));
    CU_ASSERT_EQUAL(g.nexthops[1].port_idx, 1);
    CU_ASSERT_FALSE(gw_net_nexthop_resolved(&net, 0));
    /* No port reaches it when no gateway is configured. */
    struct dp_gw g2 = g;
    struct gw_net n2;
    g2.ports[1].gw_be = 0;
    g2.n_nexthops = 0;
    gw_net_init(&n2, &g2);
    CU_ASSERT_EQUAL(gw_net_nexthop_add(&n2, IP(8, 8, 8, 8)), -1);
}

static struct rte_mbuf *arp_frame(uint16_t op, uint32_t sip, uint32_t tip, unsigned port)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, 60);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    memset(rte_pktmbuf_mtod(m, uint8_t *), 0, m->data_len);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
    memset(&eth->dst_addr, 0xff, 6);
    eth->src_addr = peer_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
    a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = 6;
    a->arp_plen = 4;
    a->arp_opcode = rte_cpu_to_be_16(op);
    a->arp_data.arp_sha = peer_mac;
    a->arp_data.arp_sip = sip;
    a->arp_data.arp_tip = tip;
    m->port = (uint16_t)port;
    return m;
}

static struct rte_mbuf *net_in(uint64_t now_ms, struct rte_mbuf *m)
{
    return gw_net_input(&net, m, now_ms);
}

/* An ARP reply addressed to port (target = the port's IP and MAC). */
static struct rte_mbuf *arp_answer(uint32_t sip, const struct rte_ether_addr *sha, unsigned port)
{
    struct rte_mbuf *m = arp_frame(RTE_ARP_OP_REPLY, sip, g.ports[port].ip_be, port);
    struct rte_arp_hdr *a = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, RTE_ETHER_HDR_LEN);
    a->arp_data.arp_sha = *sha;
    a->arp_data.arp_tha = g.ports[port].mac;
    return m;
}

static void test_arp(void)
{
    /* A request for our address is answered in place. */
    uint64_t rs = cnt(DP_CNT_CP_ARP_REPLY_SENT);
    struct rte_mbuf *r =
        net_in(0, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, 1), 0));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(r, struct rte_ether_hdr *);
    struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
    CU_ASSERT(rte_is_same_ether_addr(&eth->dst_addr, &peer_mac));
    CU_ASSERT(rte_is_same_ether_addr(&eth->src_addr, &g.ports[0].mac));
    CU_ASSERT_EQUAL(a->arp_opcode, rte_cpu_to_be_16(RTE_ARP_OP_REPLY));
    CU_ASSERT_EQUAL(a->arp_data.arp_sip, IP(10, 0, 0, 1));
    CU_ASSERT_EQUAL(a->arp_data.arp_tip, IP(10, 0, 0, 50));
    CU_ASSERT(rte_is_same_ether_addr(&a->arp_data.arp_sha, &g.ports[0].mac));
    CU_ASSERT(rte_is_same_ether_addr(&a->arp_data.arp_tha, &peer_mac));
    CU_ASSERT_EQUAL(cnt(DP_CNT_CP_ARP_REPLY_SENT), rs + 1);
    rte_pktmbuf_free(r);

    /* A request for someone else: dropped and counted, nothing learned. */
    uint64_t dr = cnt(DP_CNT_DROP_CP_ARP);
    CU_ASSERT_PTR_NULL(
        net_in(0, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, 99), 0)));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ARP), dr + 1);

    /* Nothing asked yet: neither a reply addressed to us, nor a gratuitous
     * request from the next hop's address is learned (before the fix both
     * were). */
    uint64_t un = cnt(DP_CNT_DROP_CP_ARP_UNSOLICITED);
    const struct rte_ether_addr evil = {{0x02, 0xee, 0, 0, 0, 6}};
    CU_ASSERT_PTR_NULL(net_in(1000, arp_answer(IP(10, 0, 0, 7), &evil, 0)));
    CU_ASSERT_PTR_NULL(
        net_in(1000, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 7), IP(10, 0, 0, 7), 0)));
    /* Its request for our address is answered, but not learned from. */
    struct rte_mbuf *ans =
        net_in(1000, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 7), IP(10, 0, 0, 1), 0));
    CU_ASSERT_PTR_NOT_NULL(ans);
    if (ans != NULL)
        rte_pktmbuf_free(ans);
    CU_ASSERT_FALSE(gw_net_nexthop_resolved(&net, 0));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ARP_UNSOLICITED), un + 1);

    /* We ask (both next hops); an answer too late is not learned. */
    struct rte_mbuf *req[8];
    unsigned nq = gw_net_arp_tick(&net, 1000, req, 8);
    CU_ASSERT_EQUAL(nq, 2);
    for (unsigned i = 0; i < nq; i++)
        rte_pktmbuf_free(req[i]);
    CU_ASSERT_PTR_NULL(
        net_in(1000 + GW_NET_ARP_ANSWER_MS + 1, arp_answer(IP(10, 0, 0, 7), &evil, 0)));
    CU_ASSERT_FALSE(gw_net_nexthop_resolved(&net, 0));
    net.nh_last_req_ms[0] = 1400; /* as if asked again */
    /* A reply not addressed to us (target hardware address someone else's)
     * is not an answer either. */
    struct rte_mbuf *m = arp_answer(IP(10, 0, 0, 7), &evil, 0);
    rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, RTE_ETHER_HDR_LEN)->arp_data.arp_tha = evil;
    CU_ASSERT_PTR_NULL(net_in(1500, m));
    CU_ASSERT_FALSE(gw_net_nexthop_resolved(&net, 0));

    /* The next hop's answer is learned and published. */
    CU_ASSERT_PTR_NULL(net_in(1500, arp_answer(IP(10, 0, 0, 7), &peer_mac, 0)));
    CU_ASSERT(gw_net_nexthop_resolved(&net, 0));
    struct rte_ether_addr got;
    dp_word_to_mac(g.nexthops[0].mac_word, &got);
    CU_ASSERT(rte_is_same_ether_addr(&got, &peer_mac));
    /* A second reply to the same request (a racing spoofer) changes nothing. */
    CU_ASSERT_PTR_NULL(net_in(1501, arp_answer(IP(10, 0, 0, 7), &evil, 0)));
    dp_word_to_mac(g.nexthops[0].mac_word, &got);
    CU_ASSERT(rte_is_same_ether_addr(&got, &peer_mac));
    /* Next hop 1's address answering on the wrong port is not learned. */
    CU_ASSERT_PTR_NULL(net_in(1500, arp_answer(IP(192, 168, 7, 2), &peer_mac, 0)));
    CU_ASSERT_FALSE(gw_net_nexthop_resolved(&net, 1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ARP_UNSOLICITED), un + 5);

    /* Malformed ARP (bad hlen) and a truncated frame are dropped. */
    struct rte_mbuf *bad = arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, 1), 0);
    rte_pktmbuf_mtod_offset(bad, struct rte_arp_hdr *, 14)->arp_hlen = 8;
    dr = cnt(DP_CNT_DROP_CP_ARP);
    CU_ASSERT_PTR_NULL(net_in(2000, bad));
    bad = arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, 1), 0);
    rte_pktmbuf_trim(bad, 40);
    CU_ASSERT_PTR_NULL(net_in(2000, bad));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ARP), dr + 2);
}

static void test_arp_tick(void)
{
    struct rte_mbuf *out[8];
    /* Next hop 0 resolved (refresh later), next hop 1 unresolved. */
    unsigned n = gw_net_arp_tick(&net, 100000, out, 8);
    CU_ASSERT_EQUAL(n, 2); /* first tick asks for both */
    for (unsigned i = 0; i < n; i++) {
        struct rte_ether_hdr *eth = rte_pktmbuf_mtod(out[i], struct rte_ether_hdr *);
        struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
        CU_ASSERT(rte_is_broadcast_ether_addr(&eth->dst_addr));
        CU_ASSERT_EQUAL(a->arp_opcode, rte_cpu_to_be_16(RTE_ARP_OP_REQUEST));
        CU_ASSERT_EQUAL(a->arp_data.arp_sip, g.ports[out[i]->port].ip_be);
        CU_ASSERT_EQUAL(a->arp_data.arp_tip, g.nexthops[i].ip_be);
        rte_pktmbuf_free(out[i]);
    }
    CU_ASSERT_EQUAL(gw_net_arp_tick(&net, 100000 + GW_NET_ARP_RETRY_MS - 1, out, 8), 0);
    n = gw_net_arp_tick(&net, 100000 + GW_NET_ARP_RETRY_MS, out, 8);
    CU_ASSERT_EQUAL(n, 1); /* only the unresolved one is retried */
    if (n == 1) {
        CU_ASSERT_EQUAL(out[0]->port, 1);
        rte_pktmbuf_free(out[0]);
    }
    n = gw_net_arp_tick(&net, 100000 + GW_NET_ARP_REFRESH_MS, out, 8);
    CU_ASSERT_EQUAL(n, 2); /* refresh of the resolved one + retry */
    for (unsigned i = 0; i < n; i++)
        rte_pktmbuf_free(out[i]);
}

static uint16_t cksum16(const void *p, size_t len)
{
    return (uint16_t)~rte_raw_cksum(p, len);
}

static void test_icmp_echo(void)
{
    static const char payload[] = "ping payload 0123456789";
    size_t icmp_len = 8 + sizeof(payload);
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 20 + icmp_len + 6));
    memset(d, 0, 14 + 20 + icmp_len + 6); /* + L2 padding */
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
    eth->dst_addr = g.ports[0].mac;
    eth->src_addr = peer_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + icmp_len));
    ip->time_to_live = 9;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = IP(10, 0, 0, 50);
    ip->dst_addr = IP(10, 0, 0, 1);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(ip + 1);
    ic->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
    ic->icmp_ident = rte_cpu_to_be_16(0x1234);
    ic->icmp_seq_nb = rte_cpu_to_be_16(7);
    memcpy(ic + 1, payload, sizeof(payload));
    ic->icmp_cksum = cksum16(ic, icmp_len);
    m->port = 0;

    struct rte_mbuf *r = gw_net_input(&net, m, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    eth = rte_pktmbuf_mtod(r, struct rte_ether_hdr *);
    ip = (struct rte_ipv4_hdr *)(eth + 1);
    ic = (struct rte_icmp_hdr *)(ip + 1);
    CU_ASSERT(rte_is_same_ether_addr(&eth->dst_addr, &peer_mac));
    CU_ASSERT_EQUAL(ip->src_addr, IP(10, 0, 0, 1));
    CU_ASSERT_EQUAL(ip->dst_addr, IP(10, 0, 0, 50));
    CU_ASSERT_EQUAL(rte_raw_cksum(ip, 20), 0xffff);
    CU_ASSERT_EQUAL(ic->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
    CU_ASSERT_EQUAL(rte_raw_cksum(ic, icmp_len), 0xffff);
    CU_ASSERT_EQUAL(ic->icmp_seq_nb, rte_cpu_to_be_16(7));
    CU_ASSERT(memcmp(ic + 1, payload, sizeof(payload)) == 0);
    CU_ASSERT_EQUAL(r->data_len, 14 + 20 + icmp_len); /* padding trimmed */

    /* Turn it back into a request with a broken checksum: dropped. */
    ic->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
    uint64_t dr = cnt(DP_CNT_DROP_CP_UNKNOWN);
    CU_ASSERT_PTR_NULL(gw_net_input(&net, r, 5000));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_UNKNOWN), dr + 1);
}

static void test_udp_frame(void)
{
    static const uint8_t data[] = "HelloVerifyRequest bytes";
    struct rte_mbuf *m =
        gw_net_udp_frame(&g, 0, &peer_mac, IP(10, 0, 0, 1), IP(10, 0, 0, 50),
                         rte_cpu_to_be_16(4433), rte_cpu_to_be_16(5000), data, sizeof(data));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->port, 0);
    CU_ASSERT_EQUAL(m->data_len, 42 + sizeof(data));
    struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
    struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34);
    CU_ASSERT(dp_pkt_ipv4_csum_ok(m, ip));
    CU_ASSERT(dp_pkt_udp_csum_ok(m, ip, udp));
    CU_ASSERT(memcmp(udp + 1, data, sizeof(data)) == 0);
    rte_pktmbuf_free(m);
    /* Over the port MTU, or a bad port: refused. */
    static uint8_t big[1500];
    CU_ASSERT_PTR_NULL(gw_net_udp_frame(&g, 0, &peer_mac, 0, 0, 0, 0, big, sizeof(big)));
    CU_ASSERT_PTR_NULL(gw_net_udp_frame(&g, 5, &peer_mac, 0, 0, 0, 0, data, 4));
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* ---- NAT port choice (gw_nat.h, issue 8 finding 3) --------------------- */
static uint32_t xs_rnd(void *arg)
{
    uint64_t *x = arg;
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (uint32_t)(*x >> 16);
}

static void test_nat_pick_random(void)
{
    static uint64_t used[65536 / 64];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    const uint32_t lo = 20000, hi = 20999, span = hi - lo + 1;
    memset(used, 0, sizeof(used));
    int prev = -1;
    unsigned next_of_prev = 0;
    for (uint32_t i = 0; i < span; i++) {
        int p = gw_nat_pick(used, lo, hi, xs_rnd, &x);
        CU_ASSERT_FATAL(p >= (int)lo && p <= (int)hi); /* also: every port found */
        if (prev >= 0 && p == prev + 1)
            next_of_prev++;
        prev = p;
    }
    /* Not handed out in order: an in-order allocator scores span - 1. */
    printf("\n    %u of %u picks were the previous port + 1\n", next_of_prev, span - 1);
    CU_ASSERT(next_of_prev < span / 20);
    for (uint32_t port = lo; port <= hi; port++)
        CU_ASSERT(gw_nat_test(used, port));                     /* each exactly once: all marked */
    CU_ASSERT_EQUAL(gw_nat_pick(used, lo, hi, xs_rnd, &x), -1); /* full */
    CU_ASSERT(!gw_nat_test(used, lo - 1) && !gw_nat_test(used, hi + 1));
    /* One port freed in a full range is found again. */
    used[20500 / 64] &= ~(UINT64_C(1) << (20500 % 64));
    CU_ASSERT_EQUAL(gw_nat_pick(used, lo, hi, xs_rnd, &x), 20500);
    CU_ASSERT_EQUAL(gw_nat_pick(used, 0, 10, xs_rnd, &x), -1);
    CU_ASSERT_EQUAL(gw_nat_pick(used, 30000, 29999, xs_rnd, &x), -1);
}

/* Issue 11: every address of a port's NAT pool is answered (with that
 * address as the sender), on that port only; one past the pool is not. */
static void test_arp_nat_pool(void)
{
    const struct dp_nat_pool pools[2] = {{.first = 0x0a000010, .n_addrs = 4}, {0, 0}};
    g.sessions = dp_sess_table_create_nat("tn_pool_sess", 64, 1, SOCKET_ID_ANY, pools, 2, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g.sessions);
    uint64_t rs = cnt(DP_CNT_CP_ARP_REPLY_SENT), dr = cnt(DP_CNT_DROP_CP_ARP);
    for (uint8_t h = 0x10; h < 0x14; h++) {
        struct rte_mbuf *r =
            net_in(0, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, h), 0));
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        struct rte_arp_hdr *a = rte_pktmbuf_mtod_offset(r, struct rte_arp_hdr *, RTE_ETHER_HDR_LEN);
        CU_ASSERT_EQUAL(a->arp_opcode, rte_cpu_to_be_16(RTE_ARP_OP_REPLY));
        CU_ASSERT_EQUAL(a->arp_data.arp_sip, IP(10, 0, 0, h));
        CU_ASSERT_EQUAL(a->arp_data.arp_tip, IP(10, 0, 0, 50));
        CU_ASSERT(rte_is_same_ether_addr(&a->arp_data.arp_sha, &g.ports[0].mac));
        rte_pktmbuf_free(r);
    }
    CU_ASSERT_EQUAL(cnt(DP_CNT_CP_ARP_REPLY_SENT), rs + 4);
    CU_ASSERT_PTR_NULL(
        net_in(0, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, 0x14), 0)));
    CU_ASSERT_PTR_NULL(
        net_in(0, arp_frame(RTE_ARP_OP_REQUEST, IP(10, 0, 0, 50), IP(10, 0, 0, 0x0f), 0)));
    /* port 1 has no pool: port 0's pool addresses are not its */
    CU_ASSERT_PTR_NULL(
        net_in(0, arp_frame(RTE_ARP_OP_REQUEST, IP(192, 168, 7, 2), IP(10, 0, 0, 0x10), 1)));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ARP), dr + 3);
    dp_sess_table_free(g.sessions);
    g.sessions = NULL;
}

/* Issue 11: picks over a pool of addresses (base 3, 4 addresses, ports
 * 20000-20999): every (address, port) once, spread over the addresses,
 * then -1, and a freed slot of a full pool found again; no slot outside
 * the pool's addresses touched. */
static void test_nat_pick_pool(void)
{
    enum {
        BASE = 3,
        N_ADDRS = 4,
        LO = 20000,
        HI = 20999,
        SPAN = HI - LO + 1
    };
    static uint64_t used[(BASE + N_ADDRS + 1) * 65536 / 64];
    uint64_t x = 0x243F6A8885A308D3ull;
    unsigned per_addr[N_ADDRS] = {0}, first_half[N_ADDRS] = {0};
    memset(used, 0, sizeof(used));
    for (uint32_t i = 0; i < N_ADDRS * SPAN; i++) {
        int64_t slot = gw_nat_pick_pool(used, BASE, N_ADDRS, LO, HI, xs_rnd, &x);
        CU_ASSERT_FATAL(slot >= 0);
        uint32_t a = (uint32_t)(slot >> 16), port = (uint32_t)(slot & 0xffff);
        CU_ASSERT_FATAL(a >= BASE && a < BASE + N_ADDRS && port >= LO && port <= HI);
        per_addr[a - BASE]++;
        if (i < N_ADDRS * SPAN / 2)
            first_half[a - BASE]++;
    }
    for (unsigned a = 0; a < N_ADDRS; a++) {
        CU_ASSERT_EQUAL(per_addr[a], SPAN); /* each slot exactly once */
        /* random picks use every address, not one after the other: each
         * gets about a quarter of the first half (500), far from 0 or 1000 */
        printf("%s%u", a ? " " : "\n    first half per address: ", first_half[a]);
        CU_ASSERT(first_half[a] > SPAN / 4 && first_half[a] < SPAN * 3 / 4);
    }
    printf("\n");
    CU_ASSERT_EQUAL(gw_nat_pick_pool(used, BASE, N_ADDRS, LO, HI, xs_rnd, &x), -1); /* full */
    for (uint32_t a = 0; a < BASE + N_ADDRS + 1; a++) {
        bool in = a >= BASE && a < BASE + N_ADDRS;
        CU_ASSERT_EQUAL(gw_nat_test(used, a << 16 | LO) != 0, in);
        CU_ASSERT(!gw_nat_test(used, a << 16 | (LO - 1)) && !gw_nat_test(used, a << 16 | (HI + 1)));
    }
    uint32_t freed = (BASE + 2) << 16 | 20777;
    used[freed / 64] &= ~(UINT64_C(1) << (freed % 64));
    CU_ASSERT_EQUAL(gw_nat_pick_pool(used, BASE, N_ADDRS, LO, HI, xs_rnd, &x), (int64_t)freed);
    CU_ASSERT_EQUAL(gw_nat_pick_pool(used, BASE, 0, LO, HI, xs_rnd, &x), -1);
}

/* ---- IPv6: gw_nd through gw_net --------------------------------------------- */

static const uint8_t k6_ours[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t k6_peer[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
static const uint8_t k6_other[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x43};

/* Ethernet + IPv6 (hop limit 255) + ICMPv6 body (checksum filled by
 * dp_ipv6_l4_cksum) from the peer, received on port 0. */
static struct rte_mbuf *icmp6_frame(const uint8_t *dst, const uint8_t *body, size_t blen)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(54 + blen));
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    memset(f, 0, 54);
    if (dst[0] == 0xff)
        dp_ipv6_multicast_mac(dst, f);
    else
        memcpy(f, g.ports[0].mac.addr_bytes, 6);
    memcpy(f + 6, peer_mac.addr_bytes, 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    f[14] = 0x60;
    f[18] = (uint8_t)(blen >> 8);
    f[19] = (uint8_t)blen;
    f[20] = DP_IPPROTO_ICMPV6;
    f[21] = 255;
    memcpy(f + 22, k6_peer, 16);
    memcpy(f + 38, dst, 16);
    memcpy(f + 54, body, blen);
    f[56] = f[57] = 0;
    uint16_t c = dp_ipv6_l4_cksum(k6_peer, dst, DP_IPPROTO_ICMPV6, f + 54, blen);
    f[56] = (uint8_t)(c >> 8);
    f[57] = (uint8_t)c;
    m->port = 0;
    return m;
}

/* The ICMPv6 message of a frame gw_net sent, checked: IPv6 to dst from
 * src, checksum right (dp_ipv6_l4_cksum_ok). */
static const uint8_t *icmp6_check(struct rte_mbuf *m, const uint8_t *src, const uint8_t *dst)
{
    const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
    CU_ASSERT_FATAL(m->data_len >= 54 + 4);
    CU_ASSERT(f[12] == 0x86 && f[13] == 0xdd && f[20] == DP_IPPROTO_ICMPV6);
    CU_ASSERT(memcmp(f + 6, g.ports[0].mac.addr_bytes, 6) == 0);
    CU_ASSERT(memcmp(f + 22, src, 16) == 0);
    CU_ASSERT(memcmp(f + 38, dst, 16) == 0);
    size_t plen = (size_t)f[18] << 8 | f[19];
    CU_ASSERT_EQUAL(m->data_len, 54 + plen);
    CU_ASSERT(dp_ipv6_l4_cksum_ok(f + 22, f + 38, DP_IPPROTO_ICMPV6, f + 54, plen, 2));
    return f + 54;
}

/* ICMPv6 punted by the workers reaches gw_nd: a Neighbor Solicitation
 * for our address (to its solicited-node group) is answered, an echo
 * request is answered, an IPv6 next hop is solicited by the resolver tick
 * and learned from the solicited answer (published to the workers), an
 * unsolicited one is counted and not learned; a port without IPv6 refuses. */
static void test_nd(void)
{
    static struct dp_gw g6;
    static struct gw_net n6;
    g6 = g;
    g6.ports[0].has_ip6 = true;
    g6.ports[0].prefix6_len = 64;
    memcpy(g6.ports[0].ip6, k6_ours, 16);
    dp_ipv6_link_local_from_mac(g6.ports[0].mac.addr_bytes, g6.ports[0].ip6_ll);
    g6.n_nexthops = 0;
    gw_net_init(&n6, &g6);

    uint8_t body[32];
    memset(body, 0, sizeof(body));
    body[0] = GW_ICMP6_NS;
    memcpy(body + 8, k6_ours, 16);
    body[24] = GW_ND_OPT_SLLA;
    body[25] = 1;
    memcpy(body + 26, peer_mac.addr_bytes, 6);
    uint8_t sn[16];
    dp_ipv6_solicited_node(k6_ours, sn);
    uint64_t na = cnt(DP_CNT_CP_ND_NA_SENT);
    struct rte_mbuf *r = gw_net_input(&n6, icmp6_frame(sn, body, 32), 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    const uint8_t *icmp = icmp6_check(r, k6_ours, k6_peer);
    CU_ASSERT_EQUAL(icmp[0], GW_ICMP6_NA);
    CU_ASSERT(icmp[4] & GW_ND_NA_FLAG_S);
    CU_ASSERT(memcmp(icmp + 8, k6_ours, 16) == 0);
    CU_ASSERT_EQUAL(cnt(DP_CNT_CP_ND_NA_SENT), na + 1);
    rte_pktmbuf_free(r);

    uint8_t echo[16] = {GW_ICMP6_ECHO_REQ, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
    uint64_t er = cnt(DP_CNT_CP_ICMP6_ECHO_REPLY);
    r = gw_net_input(&n6, icmp6_frame(k6_ours, echo, sizeof(echo)), 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    icmp = icmp6_check(r, k6_ours, k6_peer);
    CU_ASSERT_EQUAL(icmp[0], GW_ICMP6_ECHO_REP);
    CU_ASSERT(memcmp(icmp + 4, echo + 4, sizeof(echo) - 4) == 0);
    CU_ASSERT_EQUAL(cnt(DP_CNT_CP_ICMP6_ECHO_REPLY), er + 1);
    rte_pktmbuf_free(r);

    /* next hop: solicited, then learned from the solicited answer only */
    int nh = gw_net_nexthop_add6(&n6, k6_peer);
    CU_ASSERT_EQUAL_FATAL(nh, 0);
    CU_ASSERT_EQUAL(gw_net_nexthop_add6(&n6, k6_peer), nh);
    CU_ASSERT_EQUAL(g6.nexthops[nh].family, DP_AF_V6);
    CU_ASSERT_EQUAL(g6.nexthops[nh].port_idx, 0);
    CU_ASSERT(!gw_net_nexthop_resolved(&n6, (unsigned)nh));
    uint64_t ns = cnt(DP_CNT_CP_ND_NS_SENT);
    struct rte_mbuf *out[8];
    unsigned k = gw_net_arp_tick(&n6, 2000, out, 8);
    CU_ASSERT_EQUAL_FATAL(k, 1);
    CU_ASSERT_EQUAL(out[0]->port, 0);
    dp_ipv6_solicited_node(k6_peer, sn);
    icmp = rte_pktmbuf_mtod_offset(out[0], const uint8_t *, 54);
    CU_ASSERT_EQUAL(icmp[0], GW_ICMP6_NS);
    CU_ASSERT(memcmp(icmp + 8, k6_peer, 16) == 0);
    CU_ASSERT(memcmp(rte_pktmbuf_mtod_offset(out[0], const uint8_t *, 38), sn, 16) == 0);
    CU_ASSERT_EQUAL(cnt(DP_CNT_CP_ND_NS_SENT), ns + 1);
    rte_pktmbuf_free(out[0]);
    /* an advertisement for an address we did not ask about: not learned */
    uint8_t adv[32];
    memset(adv, 0, sizeof(adv));
    adv[0] = GW_ICMP6_NA;
    adv[4] = GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O;
    memcpy(adv + 8, k6_other, 16);
    adv[24] = GW_ND_OPT_TLLA;
    adv[25] = 1;
    memcpy(adv + 26, peer_mac.addr_bytes, 6);
    uint64_t un = cnt(DP_CNT_DROP_CP_ND_UNSOLICITED), le = cnt(DP_CNT_CP_ND_LEARNED);
    CU_ASSERT_PTR_NULL(gw_net_input(&n6, icmp6_frame(k6_ours, adv, 32), 2100));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ND_UNSOLICITED), un + 1);
    CU_ASSERT(!gw_net_nexthop_resolved(&n6, (unsigned)nh));
    memcpy(adv + 8, k6_peer, 16);
    CU_ASSERT_PTR_NULL(gw_net_input(&n6, icmp6_frame(k6_ours, adv, 32), 2100));
    CU_ASSERT_EQUAL(cnt(DP_CNT_CP_ND_LEARNED), le + 1);
    CU_ASSERT(gw_net_nexthop_resolved(&n6, (unsigned)nh));
    CU_ASSERT_EQUAL(g6.nexthops[nh].mac_word, dp_mac_to_word(&peer_mac) | DP_NH_VALID);
    /* the IPv6 next hop is never ARPed: the next tick sends nothing yet */
    CU_ASSERT_EQUAL(gw_net_arp_tick(&n6, 2200, out, 8), 0);

    /* ICMPv6 on a port without IPv6 (port 1): refused, counted */
    uint64_t dr = cnt(DP_CNT_DROP_CP_ND);
    struct rte_mbuf *m = icmp6_frame(k6_ours, echo, sizeof(echo));
    m->port = 1;
    CU_ASSERT_PTR_NULL(gw_net_input(&n6, m, 2300));
    /* a bad checksum: gw_nd's drop, one DROP_CP_ND */
    m = icmp6_frame(k6_ours, echo, sizeof(echo));
    rte_pktmbuf_mtod_offset(m, uint8_t *, 60)[0] ^= 1;
    CU_ASSERT_PTR_NULL(gw_net_input(&n6, m, 2300));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_CP_ND), dr + 2);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_net", suite_init, suite_clean);
    CU_add_test(s, "next-hop selection", test_nexthop_select);
    CU_add_test(s, "ARP responder and learning", test_arp);
    CU_add_test(s, "ARP for NAT pool addresses", test_arp_nat_pool);
    CU_add_test(s, "NAT pick over an address pool", test_nat_pick_pool);
    CU_add_test(s, "ARP resolver timers", test_arp_tick);
    CU_add_test(s, "ICMP echo", test_icmp_echo);
    CU_add_test(s, "control-plane UDP frames", test_udp_frame);
    CU_add_test(s, "NAT ports chosen at random, whole range usable", test_nat_pick_random);
    CU_add_test(s, "IPv6: ND and ICMPv6 echo through gw_net", test_nd);
}
