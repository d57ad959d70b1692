/* gw_nd.c — Neighbor Discovery and ICMPv6 echo for the gateway's own
 * addresses (RFC 4861, RFC 4443).  What it answers, learns and refuses:
 * gw_nd.h.
 *
 * Owns: struct gw_nd (next hops and counters).  Must not: read a byte of
 * a frame before checking it lies inside len, or send anything for an
 * address that is not ours.
 */
#include "gw_nd.h"

#include <string.h>

#define ETH_OFF_DST  0
#define ETH_OFF_SRC  6
#define ETH_OFF_TYPE 12
#define ETH_ADDR_LEN 6

#define ND_OFF_FLAGS  4 /* NA: R S O, then 29 reserved bits */
#define ND_OFF_TARGET 8
#define ECHO_HDR_LEN  8 /* type, code, checksum, identifier, sequence */

static const char *const k_event_name[] = {
#define X(name, str) #name,
    GW_ND_EVENTS(X)
#undef X
};
static const char *const k_event_desc[] = {
#define X(name, str) str,
    GW_ND_EVENTS(X)
#undef X
};

const char *gw_nd_event_name(enum gw_nd_event e)
{
    return (unsigned)e < GW_ND_EV_N ? k_event_name[e] : "UNKNOWN";
}

const char *gw_nd_event_desc(enum gw_nd_event e)
{
    return (unsigned)e < GW_ND_EV_N ? k_event_desc[e] : "unknown event";
}

static const uint8_t k_all_nodes[DP_IPV6_ADDR_LEN] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                      0,    0,    0, 0, 0, 0, 0, 1};

void gw_nd_init(struct gw_nd *nd)
{
    memset(nd, 0, sizeof(*nd));
}

int gw_nd_port_add(struct gw_nd *nd, const uint8_t mac[6], const uint8_t addr[DP_IPV6_ADDR_LEN],
                   unsigned prefix_len, const uint8_t *gateway)
{
    if (nd->n_ports == GW_ND_MAX_PORTS || prefix_len > 128)
        return -1;
    struct gw_nd_port *p = &nd->port[nd->n_ports];
    memset(p, 0, sizeof(*p));
    memcpy(p->mac, mac, ETH_ADDR_LEN);
    memcpy(p->addr, addr, DP_IPV6_ADDR_LEN);
    p->prefix_len = (uint8_t)prefix_len;
    dp_ipv6_link_local_from_mac(mac, p->link_local);
    if (gateway) {
        p->has_gateway = true;
        memcpy(p->gateway, gateway, DP_IPV6_ADDR_LEN);
    }
    return (int)nd->n_ports++;
}

static bool is_ours(const struct gw_nd_port *p, const uint8_t *a)
{
    return memcmp(a, p->addr, DP_IPV6_ADDR_LEN) == 0 ||
           memcmp(a, p->link_local, DP_IPV6_ADDR_LEN) == 0;
}

int gw_nd_nexthop_add(struct gw_nd *nd, const uint8_t dst[DP_IPV6_ADDR_LEN])
{
    const uint8_t *hop = NULL;
    unsigned port = 0;
    if (dp_ipv6_is_multicast(dst) || dp_ipv6_is_unspecified(dst) || nd->n_ports == 0)
        return -1;
    if (dp_ipv6_is_link_local(dst)) {
        hop = dst; /* on every link: the first port's */
    } else {
        for (unsigned i = 0; i < nd->n_ports && hop == NULL; i++)
            if (dp_ipv6_same_prefix(dst, nd->port[i].addr, nd->port[i].prefix_len)) {
                hop = dst;
                port = i;
            }
        for (unsigned i = 0; i < nd->n_ports && hop == NULL; i++)
            if (nd->port[i].has_gateway) {
                hop = nd->port[i].gateway;
                port = i;
            }
    }
    if (hop == NULL)
        return -1;
    for (unsigned i = 0; i < nd->n_nh; i++)
        if (nd->nh[i].port == port && memcmp(nd->nh[i].ip, hop, DP_IPV6_ADDR_LEN) == 0)
            return (int)i;
    if (nd->n_nh == GW_ND_MAX_NEXTHOPS)
        return -1;
    struct gw_nd_nexthop *e = &nd->nh[nd->n_nh];
    memset(e, 0, sizeof(*e));
    memcpy(e->ip, hop, DP_IPV6_ADDR_LEN);
    e->port = (uint8_t)port;
    return (int)nd->n_nh++;
}

bool gw_nd_nexthop_mac(const struct gw_nd *nd, unsigned nh, uint8_t mac[6])
{
    if (nh >= nd->n_nh || !nd->nh[nh].resolved)
        return false;
    memcpy(mac, nd->nh[nh].mac, ETH_ADDR_LEN);
    return true;
}

static enum gw_nd_verdict drop(struct gw_nd *nd, enum gw_nd_event e)
{
    nd->events[e]++;
    return GW_ND_CONSUMED;
}

/* RFC 4861 §4.6: options of 8-octet units after the fixed part; a zero
 * length is invalid.  Returns false when malformed; *lla points at the
 * first option of type want (6-byte MAC) or NULL. */
static bool nd_options(const uint8_t *p, size_t len, uint8_t want, const uint8_t **lla)
{
    *lla = NULL;
    while (len > 0) {
        if (len < 2 || p[1] == 0 || (size_t)p[1] * 8 > len)
            return false;
        size_t olen = (size_t)p[1] * 8;
        if (p[0] == want && *lla == NULL) {
            if (olen != GW_ND_LLA_OPT_LEN)
                return false; /* RFC 4861 §4.6.1: 6-byte Ethernet address, length 1 */
            *lla = p + 2;
        }
        p += olen;
        len -= olen;
    }
    return true;
}

/* Writes Ethernet + IPv6 headers (no extension headers) at f. */
static void write_hdrs(uint8_t *f, const uint8_t *eth_dst, const uint8_t *eth_src,
                       const uint8_t *ip_src, const uint8_t *ip_dst, uint16_t plen, uint8_t hlim)
{
    memmove(f + ETH_OFF_DST, eth_dst, ETH_ADDR_LEN);
    memmove(f + ETH_OFF_SRC, eth_src, ETH_ADDR_LEN);
    f[ETH_OFF_TYPE] = DP_ETHERTYPE_IPV6 >> 8;
    f[ETH_OFF_TYPE + 1] = DP_ETHERTYPE_IPV6 & 0xff;
    uint8_t *ip = f + GW_ND_ETH_HDR_LEN;
    ip[0] = DP_IPV6_VERSION << 4;
    ip[1] = ip[2] = ip[3] = 0;
    ip[DP_IPV6_OFF_PLEN] = (uint8_t)(plen >> 8);
    ip[DP_IPV6_OFF_PLEN + 1] = (uint8_t)plen;
    ip[DP_IPV6_OFF_NEXT] = DP_IPPROTO_ICMPV6;
    ip[DP_IPV6_OFF_HLIM] = hlim;
    memmove(ip + DP_IPV6_OFF_SRC, ip_src, DP_IPV6_ADDR_LEN);
    memmove(ip + DP_IPV6_OFF_DST, ip_dst, DP_IPV6_ADDR_LEN);
}

static void icmp_finish(uint8_t *f, uint16_t icmp_len)
{
    uint8_t *ip = f + GW_ND_ETH_HDR_LEN, *icmp = ip + DP_IPV6_HDR_LEN;
    icmp[2] = icmp[3] = 0;
    uint16_t c = dp_ipv6_l4_cksum(ip + DP_IPV6_OFF_SRC, ip + DP_IPV6_OFF_DST, DP_IPPROTO_ICMPV6,
                                  icmp, icmp_len);
    icmp[2] = (uint8_t)(c >> 8);
    icmp[3] = (uint8_t)c;
}

/* An NA or NS with one link-layer address option. */
static void write_nd(uint8_t *f, uint8_t type, uint8_t flags, const uint8_t *target,
                     uint8_t opt_type, const uint8_t *opt_mac)
{
    uint8_t *icmp = f + GW_ND_ETH_HDR_LEN + DP_IPV6_HDR_LEN;
    memset(icmp, 0, GW_ND_MSG_LEN + GW_ND_LLA_OPT_LEN);
    icmp[0] = type;
    icmp[ND_OFF_FLAGS] = flags;
    memcpy(icmp + ND_OFF_TARGET, target, DP_IPV6_ADDR_LEN);
    icmp[GW_ND_MSG_LEN] = opt_type;
    icmp[GW_ND_MSG_LEN + 1] = 1;
    memcpy(icmp + GW_ND_MSG_LEN + 2, opt_mac, ETH_ADDR_LEN);
    icmp_finish(f, GW_ND_MSG_LEN + GW_ND_LLA_OPT_LEN);
}

/* RFC 4861 §7.1.1 validation, then §7.2.4: answer for our own target. */
static enum gw_nd_verdict on_ns(struct gw_nd *nd, const struct gw_nd_port *p, uint8_t *f,
                                const struct dp_ipv6_view *v, const uint8_t *icmp, size_t cap,
                                size_t *out_len)
{
    if (v->hop_limit != GW_ND_HOP_LIMIT || icmp[1] != 0 || v->l4_len < GW_ND_MSG_LEN)
        return drop(nd, GW_ND_EV_DROP_ND_INVALID);
    const uint8_t *target = icmp + ND_OFF_TARGET, *slla;
    if (dp_ipv6_is_multicast(target) ||
        !nd_options(icmp + GW_ND_MSG_LEN, v->l4_len - GW_ND_MSG_LEN, GW_ND_OPT_SLLA, &slla))
        return drop(nd, GW_ND_EV_DROP_ND_INVALID);
    bool dad = dp_ipv6_is_unspecified(v->src);
    uint8_t snm[DP_IPV6_ADDR_LEN];
    dp_ipv6_solicited_node(target, snm);
    /* §7.1.1: from the unspecified address, only to a solicited-node
     * address and without a source link-layer address option */
    if (dad && (memcmp(v->dst, snm, DP_IPV6_ADDR_LEN) != 0 || slla != NULL))
        return drop(nd, GW_ND_EV_DROP_ND_INVALID);
    if (!is_ours(p, target))
        return drop(nd, GW_ND_EV_DROP_NOT_OURS);
    /* to the target's solicited-node group, or to the target itself */
    if (memcmp(v->dst, snm, DP_IPV6_ADDR_LEN) != 0 && memcmp(v->dst, target, DP_IPV6_ADDR_LEN) != 0)
        return drop(nd, GW_ND_EV_DROP_NOT_OURS);
    if (cap < GW_ND_FRAME_LEN)
        return drop(nd, GW_ND_EV_DROP_SHORT);
    uint8_t tgt[DP_IPV6_ADDR_LEN], src[DP_IPV6_ADDR_LEN], eth_dst[ETH_ADDR_LEN];
    memcpy(tgt, target, sizeof(tgt));
    memcpy(src, v->src, sizeof(src));
    if (dad) {
        /* §7.2.4: to all-nodes, Solicited flag clear */
        dp_ipv6_multicast_mac(k_all_nodes, eth_dst);
        write_hdrs(f, eth_dst, p->mac, tgt, k_all_nodes, GW_ND_MSG_LEN + GW_ND_LLA_OPT_LEN,
                   GW_ND_HOP_LIMIT);
        write_nd(f, GW_ICMP6_NA, GW_ND_NA_FLAG_O, tgt, GW_ND_OPT_TLLA, p->mac);
        nd->events[GW_ND_EV_DAD_ANSWERED]++;
    } else {
        memcpy(eth_dst, slla ? slla : f + ETH_OFF_SRC, ETH_ADDR_LEN);
        write_hdrs(f, eth_dst, p->mac, tgt, src, GW_ND_MSG_LEN + GW_ND_LLA_OPT_LEN,
                   GW_ND_HOP_LIMIT);
        write_nd(f, GW_ICMP6_NA, GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O, tgt, GW_ND_OPT_TLLA, p->mac);
        nd->events[GW_ND_EV_NS_ANSWERED]++;
    }
    *out_len = GW_ND_FRAME_LEN;
    return GW_ND_REPLY;
}

/* RFC 4861 §7.1.2 validation; learned only as an answer to our own NS. */
static enum gw_nd_verdict on_na(struct gw_nd *nd, unsigned port, const struct dp_ipv6_view *v,
                                const uint8_t *icmp, uint64_t now_ms)
{
    if (v->hop_limit != GW_ND_HOP_LIMIT || icmp[1] != 0 || v->l4_len < GW_ND_MSG_LEN)
        return drop(nd, GW_ND_EV_DROP_ND_INVALID);
    const uint8_t *target = icmp + ND_OFF_TARGET, *tlla;
    bool solicited = (icmp[ND_OFF_FLAGS] & GW_ND_NA_FLAG_S) != 0;
    if (dp_ipv6_is_multicast(target) || (dp_ipv6_is_multicast(v->dst) && solicited) ||
        !nd_options(icmp + GW_ND_MSG_LEN, v->l4_len - GW_ND_MSG_LEN, GW_ND_OPT_TLLA, &tlla))
        return drop(nd, GW_ND_EV_DROP_ND_INVALID);
    if (!solicited || tlla == NULL || !is_ours(&nd->port[port], v->dst))
        return drop(nd, GW_ND_EV_DROP_NA_UNSOLICITED);
    for (unsigned i = 0; i < nd->n_nh; i++) {
        struct gw_nd_nexthop *e = &nd->nh[i];
        if (e->port != port || memcmp(e->ip, target, DP_IPV6_ADDR_LEN) != 0)
            continue;
        if (!e->asking || now_ms - e->last_req_ms > GW_ND_ANSWER_MS)
            break;
        memcpy(e->mac, tlla, ETH_ADDR_LEN);
        e->resolved = true;
        e->asking = false;
        nd->events[GW_ND_EV_NA_LEARNED]++;
        return GW_ND_CONSUMED;
    }
    return drop(nd, GW_ND_EV_DROP_NA_UNSOLICITED);
}

/* RFC 4443 §4.2: the reply carries the request's identifier, sequence and
 * data; answered only for our unicast addresses. */
static enum gw_nd_verdict on_echo(struct gw_nd *nd, const struct gw_nd_port *p, uint8_t *f,
                                  const struct dp_ipv6_view *v, size_t cap, size_t *out_len)
{
    if (v->l4_len < ECHO_HDR_LEN || f[GW_ND_ETH_HDR_LEN + v->l4_off + 1] != 0)
        return drop(nd, GW_ND_EV_DROP_ECHO_INVALID);
    if (!is_ours(p, v->dst))
        return drop(nd, dp_ipv6_is_multicast(v->dst) ? GW_ND_EV_DROP_ECHO_INVALID
                                                     : GW_ND_EV_DROP_NOT_OURS);
    size_t icmp_len = v->l4_len;
    if (cap < GW_ND_ETH_HDR_LEN + DP_IPV6_HDR_LEN + icmp_len)
        return drop(nd, GW_ND_EV_DROP_SHORT);
    uint8_t src[DP_IPV6_ADDR_LEN], dst[DP_IPV6_ADDR_LEN], eth_dst[ETH_ADDR_LEN];
    memcpy(src, v->dst, sizeof(src));
    memcpy(dst, v->src, sizeof(dst));
    memcpy(eth_dst, f + ETH_OFF_SRC, sizeof(eth_dst));
    /* drop any extension headers of the request: the message moves up */
    memmove(f + GW_ND_ETH_HDR_LEN + DP_IPV6_HDR_LEN, f + GW_ND_ETH_HDR_LEN + v->l4_off, icmp_len);
    write_hdrs(f, eth_dst, p->mac, src, dst, (uint16_t)icmp_len, GW_ND_ECHO_HLIM);
    f[GW_ND_ETH_HDR_LEN + DP_IPV6_HDR_LEN] = GW_ICMP6_ECHO_REP;
    icmp_finish(f, (uint16_t)icmp_len);
    nd->events[GW_ND_EV_ECHO_ANSWERED]++;
    *out_len = GW_ND_ETH_HDR_LEN + DP_IPV6_HDR_LEN + icmp_len;
    return GW_ND_REPLY;
}

enum gw_nd_verdict gw_nd_input(struct gw_nd *nd, unsigned port, uint8_t *frame, size_t len,
                               size_t cap, uint64_t now_ms, size_t *out_len)
{
    struct dp_ipv6_view v;
    *out_len = 0;
    if (port >= nd->n_ports || frame == NULL || len < GW_ND_ETH_HDR_LEN || cap < len)
        return drop(nd, GW_ND_EV_DROP_SHORT);
    if (frame[ETH_OFF_TYPE] != (DP_ETHERTYPE_IPV6 >> 8) ||
        frame[ETH_OFF_TYPE + 1] != (DP_ETHERTYPE_IPV6 & 0xff))
        return drop(nd, GW_ND_EV_DROP_IPV6);
    const uint8_t *ip = frame + GW_ND_ETH_HDR_LEN;
    if (dp_ipv6_parse(ip, len - GW_ND_ETH_HDR_LEN, &v) != DP_IPV6_OK)
        return drop(nd, GW_ND_EV_DROP_IPV6);
    if (v.proto != DP_IPPROTO_ICMPV6)
        return drop(nd, GW_ND_EV_DROP_NOT_ICMP6);
    const uint8_t *icmp = ip + v.l4_off;
    if (v.l4_len < GW_ND_ICMP_HDR_LEN)
        return drop(nd, GW_ND_EV_DROP_SHORT);
    if (!dp_ipv6_l4_cksum_ok(v.src, v.dst, DP_IPPROTO_ICMPV6, icmp, v.l4_len, 2))
        return drop(nd, GW_ND_EV_DROP_CKSUM);
    const struct gw_nd_port *p = &nd->port[port];
    switch (icmp[0]) {
    case GW_ICMP6_NS:
        /* :: allowed: a solicitation from it is a duplicate address
         * detection probe, answered to all-nodes (RFC 4861 §7.2.4) */
        if (dp_ipv6_src_refused(v.src, true))
            return drop(nd, GW_ND_EV_DROP_BAD_SOURCE);
        /* §7.1.1 forbids extension headers only by the hop limit; a
         * solicitation with them is still answered without them */
        return on_ns(nd, p, frame, &v, icmp, cap, out_len);
    case GW_ICMP6_NA:
        /* §4.4: the source is "an address assigned to the interface from
         * which the advertisement is sent" */
        if (dp_ipv6_src_refused(v.src, false))
            return drop(nd, GW_ND_EV_DROP_BAD_SOURCE);
        return on_na(nd, port, &v, icmp, now_ms);
    case GW_ICMP6_ECHO_REQ:
        /* RFC 4443 §4.2: the reply goes to the request's source */
        if (dp_ipv6_src_refused(v.src, false))
            return drop(nd, GW_ND_EV_DROP_BAD_SOURCE);
        return on_echo(nd, p, frame, &v, cap, out_len);
    default:
        return drop(nd, GW_ND_EV_DROP_IGNORED);
    }
}

unsigned gw_nd_tick(struct gw_nd *nd, uint64_t now_ms, uint8_t (*frames)[GW_ND_FRAME_LEN],
                    unsigned *ports, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nd->n_nh && n < max; i++) {
        struct gw_nd_nexthop *e = &nd->nh[i];
        uint64_t every = e->resolved ? GW_ND_REFRESH_MS : GW_ND_RETRY_MS;
        if (e->last_req_ms != 0 && now_ms - e->last_req_ms < every)
            continue;
        const struct gw_nd_port *p = &nd->port[e->port];
        uint8_t snm[DP_IPV6_ADDR_LEN], mac[ETH_ADDR_LEN];
        dp_ipv6_solicited_node(e->ip, snm);
        dp_ipv6_multicast_mac(snm, mac);
        /* a link-local target is asked from our link-local address */
        const uint8_t *src = dp_ipv6_is_link_local(e->ip) ? p->link_local : p->addr;
        write_hdrs(frames[n], mac, p->mac, src, snm, GW_ND_MSG_LEN + GW_ND_LLA_OPT_LEN,
                   GW_ND_HOP_LIMIT);
        write_nd(frames[n], GW_ICMP6_NS, 0, e->ip, GW_ND_OPT_SLLA, p->mac);
        ports[n] = e->port;
        e->last_req_ms = now_ms == 0 ? 1 : now_ms;
        e->asking = true;
        nd->events[GW_ND_EV_NS_SENT]++;
        n++;
    }
    return n;
}
