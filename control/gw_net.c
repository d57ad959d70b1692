/* gw_net.c — ARP (RFC 826) responder/resolver, ICMP echo (RFC 792) responder
 * and control-plane UDP frames.
 *
 * Owns: next-hop resolution state; see gw_net.h.
 * Must not: run on a worker or answer for foreign addresses.
 */
#include "gw_net.h"

#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "dp_counters.h"

void gw_net_init(struct gw_net *n, struct dp_gw *g)
{
    memset(n, 0, sizeof(*n));
    n->g = g;
    gw_nd_init(&n->nd);
    for (unsigned i = 0; i < DP_MAX_PORTS; i++)
        n->nd_port[i] = -1;
    for (unsigned i = 0; i < DP_MAX_NEXTHOPS; i++)
        n->nd_nh[i] = -1;
    for (unsigned i = 0; i < g->n_ports && i < DP_MAX_PORTS; i++) {
        const struct dp_port *p = &g->ports[i];
        if (!p->has_ip6)
            continue;
        static const uint8_t zero[16];
        bool has_gw = memcmp(p->gw6, zero, sizeof(zero)) != 0;
        int k = gw_nd_port_add(&n->nd, p->mac.addr_bytes, p->ip6, p->prefix6_len,
                               has_gw ? p->gw6 : NULL);
        if (k < 0)
            continue; /* more IPv6 ports than gw_nd holds: that one stays IPv4-only */
        n->nd_port[i] = (int8_t)k;
        n->dp_port_of_nd[k] = (uint8_t)i;
    }
}

int gw_net_nexthop_add6(struct gw_net *n, const uint8_t dst[16])
{
    struct dp_gw *g = n->g;
    int k = gw_nd_nexthop_add(&n->nd, dst);
    if (k < 0)
        return -1;
    for (unsigned i = 0; i < g->n_nexthops; i++)
        if (n->nd_nh[i] == k)
            return (int)i;
    if (g->n_nexthops >= DP_MAX_NEXTHOPS)
        return -1;
    unsigned i = g->n_nexthops;
    struct dp_nexthop *e = &g->nexthops[i];
    e->family = DP_AF_V6;
    e->ip_be = 0;
    memcpy(e->ip6, n->nd.nh[k].ip, 16);
    e->port_idx = n->dp_port_of_nd[n->nd.nh[k].port];
    __atomic_store_n(&e->mac_word, 0, __ATOMIC_RELAXED);
    n->nd_nh[i] = (int16_t)k;
    g->n_nexthops++;
    return (int)i;
}

/* Publishes gw_nd's resolved next hops to the workers (one 64-bit store
 * each, as learn() does for ARP). */
static void nd_publish(struct gw_net *n)
{
    struct dp_gw *g = n->g;
    for (unsigned i = 0; i < g->n_nexthops; i++) {
        uint8_t mac[6];
        if (n->nd_nh[i] < 0 || !gw_nd_nexthop_mac(&n->nd, (unsigned)n->nd_nh[i], mac))
            continue;
        struct rte_ether_addr a;
        memcpy(a.addr_bytes, mac, 6);
        uint64_t w = dp_mac_to_word(&a) | DP_NH_VALID;
        if (__atomic_load_n(&g->nexthops[i].mac_word, __ATOMIC_RELAXED) != w)
            __atomic_store_n(&g->nexthops[i].mac_word, w, __ATOMIC_RELAXED);
    }
}

/* gw_nd's events of one call as the gateway's counters: every drop one
 * DROP_CP_ND (unsolicited advertisements DROP_CP_ND_UNSOLICITED), the rest
 * their event counters. */
static void nd_count(const uint64_t *before, const uint64_t *after)
{
    for (unsigned e = 0; e < GW_ND_EV_N; e++) {
        uint64_t d = after[e] - before[e];
        if (d == 0)
            continue;
        enum dp_counter_id id;
        switch (e) {
        case GW_ND_EV_NS_ANSWERED:
        case GW_ND_EV_DAD_ANSWERED:
            id = DP_CNT_CP_ND_NA_SENT;
            break;
        case GW_ND_EV_ECHO_ANSWERED:
            id = DP_CNT_CP_ICMP6_ECHO_REPLY;
            break;
        case GW_ND_EV_NA_LEARNED:
            id = DP_CNT_CP_ND_LEARNED;
            break;
        case GW_ND_EV_NS_SENT:
            id = DP_CNT_CP_ND_NS_SENT;
            break;
        case GW_ND_EV_DROP_NA_UNSOLICITED:
            id = DP_CNT_DROP_CP_ND_UNSOLICITED;
            break;
        default:
            id = DP_CNT_DROP_CP_ND;
            break;
        }
        for (uint64_t k = 0; k < d; k++)
            dp_cnt_inc(id);
    }
}

static struct rte_mbuf *nd_input(struct gw_net *n, struct rte_mbuf *m, uint64_t now_ms)
{
    if (m->port >= n->g->n_ports || m->port >= DP_MAX_PORTS || n->nd_port[m->port] < 0) {
        dp_cnt_inc(DP_CNT_DROP_CP_ND);
        rte_pktmbuf_free(m);
        return NULL;
    }
    uint64_t before[GW_ND_EV_N];
    memcpy(before, n->nd.events, sizeof(before));
    size_t out_len = 0;
    size_t cap = (size_t)m->data_len + rte_pktmbuf_tailroom(m);
    enum gw_nd_verdict v =
        gw_nd_input(&n->nd, (unsigned)n->nd_port[m->port], rte_pktmbuf_mtod(m, uint8_t *),
                    m->data_len, cap, now_ms, &out_len);
    nd_count(before, n->nd.events);
    nd_publish(n);
    if (v != GW_ND_REPLY || out_len > cap || out_len > UINT16_MAX) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    m->data_len = (uint16_t)out_len;
    m->pkt_len = (uint32_t)out_len;
    m->ol_flags = 0;
    return m;
}

int gw_net_nexthop_add(struct gw_net *n, uint32_t dst_ip_be)
{
    struct dp_gw *g = n->g;
    int port = -1;
    uint32_t nh_ip = 0;
    for (unsigned i = 0; i < g->n_ports; i++)
        if (dp_port_on_link(&g->ports[i], dst_ip_be)) {
            port = (int)i;
            nh_ip = dst_ip_be;
            break;
        }
    if (port < 0)
        for (unsigned i = 0; i < g->n_ports; i++)
            if (g->ports[i].gw_be != 0) {
                port = (int)i;
                nh_ip = g->ports[i].gw_be;
                break;
            }
    if (port < 0)
        return -1;
    for (unsigned i = 0; i < g->n_nexthops; i++)
        if (g->nexthops[i].ip_be == nh_ip && g->nexthops[i].port_idx == port)
            return (int)i;
    if (g->n_nexthops >= DP_MAX_NEXTHOPS)
        return -1;
    unsigned i = g->n_nexthops;
    g->nexthops[i].ip_be = nh_ip;
    g->nexthops[i].port_idx = (uint16_t)port;
    __atomic_store_n(&g->nexthops[i].mac_word, 0, __ATOMIC_RELAXED);
    n->nh_last_req_ms[i] = 0;
    n->nh_asking[i] = false;
    g->n_nexthops++;
    return (int)i;
}

bool gw_net_nexthop_resolved(const struct gw_net *n, unsigned nh)
{
    return nh < n->g->n_nexthops &&
           (__atomic_load_n(&n->g->nexthops[nh].mac_word, __ATOMIC_RELAXED) & DP_NH_VALID);
}

/* An ARP reply from ip_be/mac on port: learned only when it answers our
 * outstanding request for that next hop (see gw_net.h).  Returns whether
 * any next hop took it. */
static bool learn(struct gw_net *n, unsigned port, uint32_t ip_be, const struct rte_ether_addr *mac,
                  uint64_t now_ms)
{
    struct dp_gw *g = n->g;
    if (rte_is_zero_ether_addr(mac) || !rte_is_unicast_ether_addr(mac))
        return false;
    bool took = false;
    for (unsigned i = 0; i < g->n_nexthops; i++) {
        struct dp_nexthop *nh = &g->nexthops[i];
        if (nh->ip_be != ip_be || nh->port_idx != port || !n->nh_asking[i] ||
            now_ms - n->nh_last_req_ms[i] > GW_NET_ARP_ANSWER_MS)
            continue;
        n->nh_asking[i] = false;
        took = true;
        uint64_t w = dp_mac_to_word(mac) | DP_NH_VALID;
        /* One 64-bit store publishes MAC and valid bit together; workers
         * load it relaxed (no other data depends on it). */
        if (__atomic_load_n(&nh->mac_word, __ATOMIC_RELAXED) != w) {
            __atomic_store_n(&nh->mac_word, w, __ATOMIC_RELAXED);
            dp_cnt_inc(DP_CNT_CP_ARP_LEARNED);
        }
    }
    return took;
}

/* ip_be is one of port's NAT pool addresses (issue 11: the backends
 * resolve every pool address to the port's MAC). */
static bool in_nat_pool(const struct dp_gw *g, unsigned port, uint32_t ip_be)
{
    const struct dp_nat_pool *pool =
        g->sessions != NULL ? dp_sess_nat_pool(g->sessions, port, NULL) : NULL;
    return pool != NULL && rte_be_to_cpu_32(ip_be) - pool->first < pool->n_addrs;
}

static struct rte_mbuf *arp_input(struct gw_net *n, struct rte_mbuf *m, uint64_t now_ms)
{
    struct dp_gw *g = n->g;
    unsigned port = m->port;
    if (port >= g->n_ports || m->data_len < RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr)) {
        dp_cnt_inc(DP_CNT_DROP_CP_ARP);
        rte_pktmbuf_free(m);
        return NULL;
    }
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
    if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
        a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != 4) {
        dp_cnt_inc(DP_CNT_DROP_CP_ARP);
        rte_pktmbuf_free(m);
        return NULL;
    }
    const struct dp_port *p = &g->ports[port];
    struct rte_arp_ipv4 *d = &a->arp_data;
    if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) {
        /* RFC 826's "merge" step would update any sender already in the
         * table; we are stricter (gw_net.h): only answers to us, asked for. */
        if (d->arp_tip != p->ip_be || !rte_is_same_ether_addr(&d->arp_tha, &p->mac) ||
            !learn(n, port, d->arp_sip, &d->arp_sha, now_ms))
            dp_cnt_inc(DP_CNT_DROP_CP_ARP_UNSOLICITED);
        rte_pktmbuf_free(m);
        return NULL;
    }
    if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) &&
        (d->arp_tip == p->ip_be || in_nat_pool(g, port, d->arp_tip))) {
        /* RFC 826: swap sender/target, fill in our hardware address. */
        uint32_t tip = d->arp_tip;
        a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
        rte_ether_addr_copy(&d->arp_sha, &d->arp_tha);
        d->arp_tip = d->arp_sip;
        rte_ether_addr_copy(&p->mac, &d->arp_sha);
        d->arp_sip = tip;
        rte_ether_addr_copy(&d->arp_tha, &eth->dst_addr);
        rte_ether_addr_copy(&p->mac, &eth->src_addr);
        m->ol_flags = 0;
        dp_cnt_inc(DP_CNT_CP_ARP_REPLY_SENT);
        return m;
    }
    dp_cnt_inc(DP_CNT_DROP_CP_ARP); /* request for someone else, or no request */
    rte_pktmbuf_free(m);
    return NULL;
}

static struct rte_mbuf *icmp_input(struct gw_net *n, struct rte_mbuf *m)
{
    struct dp_gw *g = n->g;
    unsigned port = m->port;
    /* The worker validated Ethernet/IPv4 lengths, checksum and that the
     * destination is one of ours. */
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
    uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
    uint32_t tot = rte_be_to_cpu_16(ip->total_length);
    if (port >= g->n_ports || tot - ihl < sizeof(struct rte_icmp_hdr)) {
        dp_cnt_inc(DP_CNT_DROP_CP_UNKNOWN);
        rte_pktmbuf_free(m);
        return NULL;
    }
    struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
    uint32_t icmp_len = tot - ihl;
    if (ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ic->icmp_code != 0 ||
        rte_raw_cksum(ic, icmp_len) != 0xffff) {
        dp_cnt_inc(DP_CNT_DROP_CP_UNKNOWN);
        rte_pktmbuf_free(m);
        return NULL;
    }
    /* RFC 792: echo reply = request with addresses swapped, type 0. */
    ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    ic->icmp_cksum = 0;
    ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, icmp_len);
    uint32_t tmp = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = tmp;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
    rte_ether_addr_copy(&g->ports[port].mac, &eth->src_addr);
    /* Drop L2 padding past the IPv4 datagram. */
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - RTE_ETHER_HDR_LEN - tot));
    m->ol_flags = 0;
    dp_cnt_inc(DP_CNT_CP_ICMP_ECHO_REPLY);
    return m;
}

struct rte_mbuf *gw_net_input(struct gw_net *n, struct rte_mbuf *m, uint64_t now_ms)
{
    if (m->data_len < RTE_ETHER_HDR_LEN) {
        dp_cnt_inc(DP_CNT_DROP_SHORT_FRAME);
        rte_pktmbuf_free(m);
        return NULL;
    }
    const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
        return arp_input(n, m, now_ms);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
        m->data_len >= RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr)) {
        const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
        if (ip->next_proto_id == IPPROTO_ICMP)
            return icmp_input(n, m);
    }
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
        return nd_input(n, m, now_ms);
    dp_cnt_inc(DP_CNT_DROP_CP_UNKNOWN);
    rte_pktmbuf_free(m);
    return NULL;
}

static struct rte_mbuf *arp_request(struct dp_gw *g, unsigned nh)
{
    const struct dp_nexthop *e = &g->nexthops[nh];
    const struct dp_port *p = &g->ports[e->port_idx];
    struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
    if (m == NULL)
        return NULL;
    uint16_t len = RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, len);
    if (eth == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    memset(eth, 0, len);
    memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
    rte_ether_addr_copy(&p->mac, &eth->src_addr);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
    a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = RTE_ETHER_ADDR_LEN;
    a->arp_plen = 4;
    a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    rte_ether_addr_copy(&p->mac, &a->arp_data.arp_sha);
    a->arp_data.arp_sip = p->ip_be;
    a->arp_data.arp_tip = e->ip_be;
    m->port = e->port_idx;
    return m;
}

unsigned gw_net_arp_tick(struct gw_net *n, uint64_t now_ms, struct rte_mbuf **out, unsigned max)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n->g->n_nexthops && k < max; i++) {
        if (n->g->nexthops[i].family == DP_AF_V6)
            continue; /* resolved by ND (below) */
        uint64_t period =
            gw_net_nexthop_resolved(n, i) ? GW_NET_ARP_REFRESH_MS : GW_NET_ARP_RETRY_MS;
        if (n->nh_last_req_ms[i] != 0 && now_ms - n->nh_last_req_ms[i] < period)
            continue;
        struct rte_mbuf *m = arp_request(n->g, i);
        if (m == NULL) {
            dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
            break;
        }
        n->nh_last_req_ms[i] = now_ms;
        n->nh_asking[i] = true;
        out[k++] = m;
        dp_cnt_inc(DP_CNT_CP_ARP_REQUEST_SENT);
    }
    /* IPv6 next hops: gw_nd's solicitations (never ARPed, above). */
    if (k < max && n->nd.n_nh > 0) {
        uint8_t frames[GW_ND_MAX_NEXTHOPS][GW_ND_FRAME_LEN];
        unsigned ports[GW_ND_MAX_NEXTHOPS];
        unsigned want = max - k < GW_ND_MAX_NEXTHOPS ? max - k : GW_ND_MAX_NEXTHOPS;
        uint64_t before[GW_ND_EV_N];
        memcpy(before, n->nd.events, sizeof(before));
        unsigned nf = gw_nd_tick(&n->nd, now_ms, frames, ports, want);
        nd_count(before, n->nd.events);
        for (unsigned i = 0; i < nf; i++) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(n->g->pool);
            uint8_t *d = m ? (uint8_t *)rte_pktmbuf_append(m, GW_ND_FRAME_LEN) : NULL;
            if (d == NULL) {
                rte_pktmbuf_free(m);
                dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
                break;
            }
            memcpy(d, frames[i], GW_ND_FRAME_LEN);
            m->port = n->dp_port_of_nd[ports[i]];
            out[k++] = m;
        }
    }
    return k;
}

struct rte_mbuf *gw_net_udp_frame(struct dp_gw *g, unsigned port_idx,
                                  const struct rte_ether_addr *dst_mac, uint32_t src_ip,
                                  uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                                  const uint8_t *data, size_t len)
{
    if (port_idx >= g->n_ports || len > g->ports[port_idx].mtu - 28u)
        return NULL;
    struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
    if (m == NULL)
        return NULL;
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_IP_UDP_LEN + len));
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    memcpy(d + DP_ETH_IP_UDP_LEN, data, len);
    dp_pkt_write_ipv4_udp(m, &g->ports[port_idx], dst_mac, src_ip, dst_ip, src_port, dst_port);
    m->port = (uint16_t)port_idx;
    return m;
}

struct rte_mbuf *gw_net_udp_frame6(struct dp_gw *g, unsigned port_idx,
                                   const struct rte_ether_addr *dst_mac, const uint8_t *src_ip,
                                   const uint8_t *dst_ip, uint16_t src_port, uint16_t dst_port,
                                   const uint8_t *data, size_t len)
{
    if (port_idx >= g->n_ports ||
        len > g->ports[port_idx].mtu - (size_t)(DP_IPV6_FIXED_HDR_LEN + DP_UDP_HDR_LEN))
        return NULL;
    struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
    if (m == NULL)
        return NULL;
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_IP6_UDP_LEN + len));
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    memcpy(d + DP_ETH_IP6_UDP_LEN, data, len);
    dp_pkt_write_ipv6_udp(m, &g->ports[port_idx], dst_mac, src_ip, dst_ip, src_port, dst_port);
    m->port = (uint16_t)port_idx;
    return m;
}

struct rte_mbuf *gw_net_udp_frame_key(struct dp_gw *g, unsigned port_idx,
                                      const struct rte_ether_addr *dst_mac, const cp_key_t *key,
                                      const uint8_t *data, size_t len)
{
    if (cp_key_is_v4(key))
        return gw_net_udp_frame(g, port_idx, dst_mac, cp_key_local_v4(key), cp_key_client_v4(key),
                                key->local_port, key->client_port, data, len);
    return gw_net_udp_frame6(g, port_idx, dst_mac, key->local_ip, key->client_ip, key->local_port,
                             key->client_port, data, len);
}
