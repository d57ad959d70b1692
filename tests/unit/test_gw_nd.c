/* test_gw_nd.c — dataplane/dp_ipv6.h (header and extension-header walk,
 * pseudo-header checksum) and control/gw_nd.c (Neighbor Discovery and
 * ICMPv6 echo for the gateway's own addresses) on hand-built frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_main.h"
#include "dp_ipv6.h"
#include "gw_nd.h"

#define FRAME_CAP 2048

static const uint8_t k_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t k_peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
/* 2001:db8:1::1/64 the port, 2001:db8:1::99 a host on it */
static const uint8_t k_addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t k_peer[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};
static const uint8_t k_far[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
static const uint8_t k_router[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* Independent RFC 1071 sum over the concatenated pseudo-header and data,
 * byte by byte into a 32-bit accumulator. */
static uint16_t ref_cksum(const uint8_t *src, const uint8_t *dst, uint8_t proto, const uint8_t *l4,
                          size_t len)
{
    uint8_t *buf = calloc(1, 40 + len + 1);
    memcpy(buf, src, 16);
    memcpy(buf + 16, dst, 16);
    buf[32] = (uint8_t)(len >> 24);
    buf[33] = (uint8_t)(len >> 16);
    buf[34] = (uint8_t)(len >> 8);
    buf[35] = (uint8_t)len;
    buf[39] = proto;
    memcpy(buf + 40, l4, len);
    uint32_t s = 0;
    for (size_t i = 0; i < 40 + len; i += 2)
        s += (uint32_t)(buf[i] * 256u + buf[i + 1]);
    while (s > 0xffff)
        s = (s >> 16) + (s & 0xffff);
    free(buf);
    return (uint16_t)~s;
}

struct fb {
    uint8_t f[FRAME_CAP];
    size_t len;
};

/* Ethernet + IPv6 (+ ext bytes) + ICMPv6 body with a correct checksum. */
static void build(struct fb *b, const uint8_t *eth_dst, const uint8_t *src, const uint8_t *dst,
                  uint8_t hlim, const uint8_t *ext, size_t ext_len, uint8_t first_next,
                  const uint8_t *icmp, size_t icmp_len)
{
    memset(b->f, 0, sizeof(b->f));
    memcpy(b->f, eth_dst, 6);
    memcpy(b->f + 6, k_peer_mac, 6);
    b->f[12] = 0x86;
    b->f[13] = 0xdd;
    uint8_t *ip = b->f + 14;
    ip[0] = 0x60;
    size_t plen = ext_len + icmp_len;
    ip[4] = (uint8_t)(plen >> 8);
    ip[5] = (uint8_t)plen;
    ip[6] = ext_len ? first_next : DP_IPPROTO_ICMPV6;
    ip[7] = hlim;
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    if (ext_len)
        memcpy(ip + 40, ext, ext_len);
    uint8_t *m = ip + 40 + ext_len;
    memcpy(m, icmp, icmp_len);
    m[2] = m[3] = 0;
    uint16_t c = ref_cksum(src, dst, DP_IPPROTO_ICMPV6, m, icmp_len);
    m[2] = (uint8_t)(c >> 8);
    m[3] = (uint8_t)c;
    b->len = 14 + 40 + plen;
}

static size_t ns_body(uint8_t *m, const uint8_t *target, const uint8_t *slla)
{
    memset(m, 0, 32);
    m[0] = GW_ICMP6_NS;
    memcpy(m + 8, target, 16);
    if (!slla)
        return 24;
    m[24] = GW_ND_OPT_SLLA;
    m[25] = 1;
    memcpy(m + 26, slla, 6);
    return 32;
}

static void port_setup(struct gw_nd *nd)
{
    gw_nd_init(nd);
    CU_ASSERT_EQUAL_FATAL(gw_nd_port_add(nd, k_mac, k_addr, 64, k_router), 0);
}

/* The reply's IPv6 header and ICMPv6 checksum are right (independently
 * summed). */
static bool reply_ok(const struct fb *b, size_t out_len, const uint8_t *src, const uint8_t *dst,
                     uint8_t hlim)
{
    const uint8_t *ip = b->f + 14, *m = ip + 40;
    size_t plen = (size_t)ip[4] << 8 | ip[5];
    if (out_len != 14 + 40 + plen || ip[0] != 0x60 || ip[6] != 58 || ip[7] != hlim ||
        memcmp(ip + 8, src, 16) != 0 || memcmp(ip + 24, dst, 16) != 0 ||
        memcmp(b->f + 6, k_mac, 6) != 0 || b->f[12] != 0x86 || b->f[13] != 0xdd)
        return false;
    uint8_t copy[FRAME_CAP];
    memcpy(copy, m, plen);
    copy[2] = copy[3] = 0;
    uint16_t c = ref_cksum(src, dst, 58, copy, plen);
    return m[2] == (uint8_t)(c >> 8) && m[3] == (uint8_t)c;
}

static void test_ns_answered(void)
{
    struct gw_nd nd;
    struct fb b;
    uint8_t m[64], snm[16], mc[6];
    size_t out = 0;
    port_setup(&nd);
    dp_ipv6_solicited_node(k_addr, snm);
    dp_ipv6_multicast_mac(snm, mc);
    CU_ASSERT(mc[0] == 0x33 && mc[1] == 0x33 && mc[2] == 0xff && mc[5] == 0x01);

    /* to the solicited-node group, with the source's link-layer address */
    build(&b, mc, k_peer, snm, 255, NULL, 0, 0, m, ns_body(m, k_addr, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 100, &out), GW_ND_REPLY);
    CU_ASSERT(reply_ok(&b, out, k_addr, k_peer, 255));
    const uint8_t *na = b.f + 54;
    CU_ASSERT_EQUAL(out, GW_ND_FRAME_LEN);
    CU_ASSERT(memcmp(b.f, k_peer_mac, 6) == 0);
    CU_ASSERT_EQUAL(na[0], GW_ICMP6_NA);
    CU_ASSERT_EQUAL(na[4], GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O); /* not a router */
    CU_ASSERT(memcmp(na + 8, k_addr, 16) == 0);
    CU_ASSERT(na[24] == GW_ND_OPT_TLLA && na[25] == 1 && memcmp(na + 26, k_mac, 6) == 0);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_NS_ANSWERED], 1);

    /* unicast to the target, no option: the reply goes to the frame's source MAC */
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m, ns_body(m, k_addr, NULL));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 100, &out), GW_ND_REPLY);
    CU_ASSERT(reply_ok(&b, out, k_addr, k_peer, 255) && memcmp(b.f, k_peer_mac, 6) == 0);

    /* for our link-local address */
    uint8_t ll[16], llsnm[16];
    dp_ipv6_link_local_from_mac(k_mac, ll);
    CU_ASSERT(ll[0] == 0xfe && ll[1] == 0x80 && ll[8] == 0x00 && ll[11] == 0xff && ll[12] == 0xfe &&
              ll[15] == 0x01);
    dp_ipv6_solicited_node(ll, llsnm);
    build(&b, mc, k_router, llsnm, 255, NULL, 0, 0, m, ns_body(m, ll, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 100, &out), GW_ND_REPLY);
    CU_ASSERT(reply_ok(&b, out, ll, k_router, 255));

    /* duplicate address detection: from ::, answered to all-nodes, S clear */
    static const uint8_t unspec[16], all_nodes[16] = {0xff, 2, [15] = 1};
    build(&b, mc, unspec, snm, 255, NULL, 0, 0, m, ns_body(m, k_addr, NULL));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 100, &out), GW_ND_REPLY);
    CU_ASSERT(reply_ok(&b, out, k_addr, all_nodes, 255));
    CU_ASSERT(b.f[0] == 0x33 && b.f[1] == 0x33 && b.f[5] == 0x01);
    CU_ASSERT_EQUAL(b.f[54 + 4], GW_ND_NA_FLAG_O);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DAD_ANSWERED], 1);
}

static void test_ns_refused(void)
{
    struct gw_nd nd;
    struct fb b;
    uint8_t m[64], snm[16], mc[6], psnm[16];
    size_t out = 99;
    static const uint8_t unspec[16];
    port_setup(&nd);
    dp_ipv6_solicited_node(k_addr, snm);
    dp_ipv6_solicited_node(k_peer, psnm);
    dp_ipv6_multicast_mac(snm, mc);
    struct {
        const char *what;
        const uint8_t *src, *dst, *target;
        uint8_t hlim;
        bool slla;
        int mangle; /* 0 none, 1 code 1, 2 option length 0, 3 bad checksum, 4 truncate */
        enum gw_nd_event ev;
    } cases[] = {
        {"hop limit 254 (forwarded)", k_peer, snm, k_addr, 254, true, 0, GW_ND_EV_DROP_ND_INVALID},
        {"code 1", k_peer, snm, k_addr, 255, true, 1, GW_ND_EV_DROP_ND_INVALID},
        {"option of length 0", k_peer, snm, k_addr, 255, true, 2, GW_ND_EV_DROP_ND_INVALID},
        {"bad checksum", k_peer, snm, k_addr, 255, true, 3, GW_ND_EV_DROP_CKSUM},
        {"message cut to 20 bytes", k_peer, snm, k_addr, 255, false, 4, GW_ND_EV_DROP_ND_INVALID},
        {"someone else's target", k_peer, psnm, k_peer, 255, true, 0, GW_ND_EV_DROP_NOT_OURS},
        {"multicast target", k_peer, snm, snm, 255, true, 0, GW_ND_EV_DROP_ND_INVALID},
        {"DAD with a source link-layer option", unspec, snm, k_addr, 255, true, 0,
         GW_ND_EV_DROP_ND_INVALID},
        {"DAD to a unicast address", unspec, k_addr, k_addr, 255, false, 0,
         GW_ND_EV_DROP_ND_INVALID},
        {"our target, another group", k_peer, psnm, k_addr, 255, true, 0, GW_ND_EV_DROP_NOT_OURS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = ns_body(m, cases[i].target, cases[i].slla ? k_peer_mac : NULL);
        if (cases[i].mangle == 1)
            m[1] = 1;
        if (cases[i].mangle == 2)
            m[25] = 0;
        if (cases[i].mangle == 4)
            n = 20;
        build(&b, mc, cases[i].src, cases[i].dst, cases[i].hlim, NULL, 0, 0, m, n);
        if (cases[i].mangle == 3)
            b.f[54 + 2] ^= 1;
        uint64_t before = nd.events[cases[i].ev];
        uint8_t copy[FRAME_CAP];
        memcpy(copy, b.f, sizeof(copy));
        enum gw_nd_verdict vd = gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 100, &out);
        bool ok = vd == GW_ND_CONSUMED && nd.events[cases[i].ev] == before + 1 &&
                  memcmp(copy, b.f, sizeof(copy)) == 0;
        if (!ok)
            printf("  NS case '%s' not refused as %s\n", cases[i].what,
                   gw_nd_event_name(cases[i].ev));
        CU_ASSERT(ok);
    }
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_NS_ANSWERED], 0);
    /* a reply that would not fit the caller's buffer */
    build(&b, mc, k_peer, snm, 255, NULL, 0, 0, m, ns_body(m, k_addr, NULL));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, b.len, 100, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_SHORT], 1);
    /* every truncation of a good solicitation is refused, never read past */
    build(&b, mc, k_peer, snm, 255, NULL, 0, 0, m, ns_body(m, k_addr, k_peer_mac));
    unsigned refused = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, b.f, cut);
        refused += gw_nd_input(&nd, 0, t, cut, cut, 100, &out) == GW_ND_CONSUMED;
        free(t);
    }
    CU_ASSERT_EQUAL(refused, b.len);
}

static void test_echo(void)
{
    struct gw_nd nd;
    struct fb b;
    uint8_t m[256];
    size_t out = 0;
    port_setup(&nd);
    memset(m, 0, sizeof(m));
    m[0] = GW_ICMP6_ECHO_REQ;
    m[4] = 0x12;
    m[5] = 0x34; /* identifier */
    m[7] = 7;    /* sequence */
    for (unsigned i = 8; i < 100; i++)
        m[i] = (uint8_t)i;
    build(&b, k_mac, k_peer, k_addr, 64, NULL, 0, 0, m, 100);
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_REPLY);
    CU_ASSERT(reply_ok(&b, out, k_addr, k_peer, GW_ND_ECHO_HLIM));
    CU_ASSERT_EQUAL(b.f[54], GW_ICMP6_ECHO_REP);
    CU_ASSERT(memcmp(b.f + 54 + 4, m + 4, 96) == 0);
    CU_ASSERT(memcmp(b.f, k_peer_mac, 6) == 0);

    /* with a Destination Options header (PadN): answered, the header gone */
    uint8_t ext[8] = {DP_IPPROTO_ICMPV6, 0, DP_IPV6_OPT_PADN, 4, 0, 0, 0, 0};
    build(&b, k_mac, k_peer, k_addr, 64, ext, sizeof(ext), DP_IPPROTO_DSTOPTS, m, 100);
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_REPLY);
    CU_ASSERT(reply_ok(&b, out, k_addr, k_peer, GW_ND_ECHO_HLIM));
    CU_ASSERT_EQUAL(out, 14 + 40 + 100);
    CU_ASSERT(memcmp(b.f + 54 + 4, m + 4, 96) == 0);

    /* to all-nodes, to someone else, with a bad checksum: no answer */
    static const uint8_t all_nodes[16] = {0xff, 2, [15] = 1};
    build(&b, k_mac, k_peer, all_nodes, 64, NULL, 0, 0, m, 100);
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_ECHO_INVALID], 1);
    build(&b, k_mac, k_peer, k_far, 64, NULL, 0, 0, m, 100);
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_NOT_OURS], 1);
    build(&b, k_mac, k_peer, k_addr, 64, NULL, 0, 0, m, 100);
    b.f[54 + 50] ^= 0x80;
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_CKSUM], 1);
    /* a fragment (first of two): refused by the IPv6 walk */
    uint8_t frag[8] = {DP_IPPROTO_ICMPV6, 0, 0, 1, 0, 0, 0, 9};
    build(&b, k_mac, k_peer, k_addr, 64, frag, sizeof(frag), DP_IPPROTO_FRAGMENT, m, 100);
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_IPV6], 1);
    /* a Router Advertisement teaches nothing */
    uint8_t ra[16] = {GW_ICMP6_RA, 0, 0, 0, 64};
    build(&b, k_mac, k_router, k_addr, 255, NULL, 0, 0, ra, sizeof(ra));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_IGNORED], 1);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_ECHO_ANSWERED], 2);
}

static size_t na_body(uint8_t *m, const uint8_t *target, uint8_t flags, const uint8_t *tlla)
{
    memset(m, 0, 32);
    m[0] = GW_ICMP6_NA;
    m[4] = flags;
    memcpy(m + 8, target, 16);
    if (!tlla)
        return 24;
    m[24] = GW_ND_OPT_TLLA;
    m[25] = 1;
    memcpy(m + 26, tlla, 6);
    return 32;
}

static void test_resolution(void)
{
    struct gw_nd nd;
    struct fb b;
    uint8_t m[64], frames[4][GW_ND_FRAME_LEN], mac[6];
    unsigned ports[4];
    size_t out;
    port_setup(&nd);
    int on_link = gw_nd_nexthop_add(&nd, k_peer);
    int off_link = gw_nd_nexthop_add(&nd, k_far);
    CU_ASSERT_EQUAL(on_link, 0);
    CU_ASSERT_EQUAL(off_link, 1);
    CU_ASSERT(memcmp(nd.nh[1].ip, k_router, 16) == 0);  /* via the gateway */
    CU_ASSERT_EQUAL(gw_nd_nexthop_add(&nd, k_peer), 0); /* reused */
    static const uint8_t mcast[16] = {0xff, 2, [15] = 1};
    CU_ASSERT_EQUAL(gw_nd_nexthop_add(&nd, mcast), -1);
    CU_ASSERT(!gw_nd_nexthop_mac(&nd, 0, mac));

    /* an advertisement before we asked: not learned */
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 10, &out), GW_ND_CONSUMED);
    CU_ASSERT(!gw_nd_nexthop_mac(&nd, 0, mac));
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_NA_UNSOLICITED], 1);

    /* the solicitations: to the solicited-node groups, with our address */
    CU_ASSERT_EQUAL(gw_nd_tick(&nd, 1000, frames, ports, 4), 2);
    uint8_t snm[16];
    dp_ipv6_solicited_node(k_peer, snm);
    struct fb ns;
    memcpy(ns.f, frames[0], GW_ND_FRAME_LEN);
    CU_ASSERT(reply_ok(&ns, GW_ND_FRAME_LEN, k_addr, snm, 255));
    CU_ASSERT(ns.f[0] == 0x33 && ns.f[2] == 0xff && ns.f[5] == 0x99);
    CU_ASSERT(ns.f[54] == GW_ICMP6_NS && memcmp(ns.f + 54 + 8, k_peer, 16) == 0);
    CU_ASSERT(ns.f[54 + 24] == GW_ND_OPT_SLLA && memcmp(ns.f + 54 + 26, k_mac, 6) == 0);
    /* the link-local router is asked from our link-local address */
    uint8_t ll[16];
    dp_ipv6_link_local_from_mac(k_mac, ll);
    CU_ASSERT(memcmp(frames[1] + 14 + 8, ll, 16) == 0);
    /* not again before the retry interval */
    CU_ASSERT_EQUAL(gw_nd_tick(&nd, 1100, frames, ports, 4), 0);

    /* unsolicited (S clear), without TLLA, to multicast with S, too late */
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_O, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1010, &out), GW_ND_CONSUMED);
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m, na_body(m, k_peer, GW_ND_NA_FLAG_S, NULL));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1010, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_NA_UNSOLICITED], 3);
    build(&b, k_mac, k_peer, mcast, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_S, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1010, &out), GW_ND_CONSUMED);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DROP_ND_INVALID], 1);
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_S, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1000 + GW_ND_ANSWER_MS + 1, &out),
                    GW_ND_CONSUMED);
    CU_ASSERT(!gw_nd_nexthop_mac(&nd, 0, mac));

    /* asked again, answered in time: learned from the TLLA option */
    CU_ASSERT_EQUAL(gw_nd_tick(&nd, 3000, frames, ports, 4), 2);
    static const uint8_t answer_mac[6] = {0x02, 0, 0, 0, 0, 0x42};
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O, answer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 3100, &out), GW_ND_CONSUMED);
    CU_ASSERT(gw_nd_nexthop_mac(&nd, 0, mac) && memcmp(mac, answer_mac, 6) == 0);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_NA_LEARNED], 1);
    /* a second answer to the same question is not taken */
    static const uint8_t evil_mac[6] = {0x02, 0, 0, 0, 0, 0x66};
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O, evil_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 3200, &out), GW_ND_CONSUMED);
    CU_ASSERT(gw_nd_nexthop_mac(&nd, 0, mac) && memcmp(mac, answer_mac, 6) == 0);
    /* resolved: refreshed only after GW_ND_REFRESH_MS; the unresolved one retries */
    CU_ASSERT_EQUAL(gw_nd_tick(&nd, 3300, frames, ports, 4), 1);
    CU_ASSERT_EQUAL(gw_nd_tick(&nd, 3000 + GW_ND_REFRESH_MS, frames, ports, 4), 2);
}

/* Sources nobody can be answered at (RFC 4291): no echo reply, no
 * advertisement, nothing learned; a solicitation from :: is duplicate
 * address detection, answered to all-nodes (RFC 4861 §7.2.4), never to ::. */
static void test_bad_sources(void)
{
    struct gw_nd nd;
    struct fb b;
    uint8_t m[128], snm[16], mc[6], copy[FRAME_CAP], mac[6];
    size_t out;
    static const uint8_t unspec[16], loopback[16] = {[15] = 1};
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 10, 0, 0, 2};
    static const uint8_t all_nodes[16] = {0xff, 2, [15] = 1};
    static const uint8_t sol_mc[16] = {0xff, 2, [11] = 1, 0xff, 0, 0, 0x99};
    struct {
        const char *what;
        const uint8_t *src;
        uint8_t type; /* NS with a source link-layer option, echo request or NA */
    } cases[] = {
        {"NS from ::1", loopback, GW_ICMP6_NS},
        {"NS from ::ffff:10.0.0.2", mapped, GW_ICMP6_NS},
        {"NS from ff02::1", all_nodes, GW_ICMP6_NS},
        {"NS from a solicited-node group", sol_mc, GW_ICMP6_NS},
        {"echo from ::", unspec, GW_ICMP6_ECHO_REQ},
        {"echo from ::1", loopback, GW_ICMP6_ECHO_REQ},
        {"echo from ::ffff:10.0.0.2", mapped, GW_ICMP6_ECHO_REQ},
        {"echo from ff02::1", all_nodes, GW_ICMP6_ECHO_REQ},
        {"NA from ::", unspec, GW_ICMP6_NA},
        {"NA from ::1", loopback, GW_ICMP6_NA},
        {"NA from ::ffff:10.0.0.2", mapped, GW_ICMP6_NA},
    };
    port_setup(&nd);
    dp_ipv6_solicited_node(k_addr, snm);
    dp_ipv6_multicast_mac(snm, mc);
    CU_ASSERT_EQUAL_FATAL(gw_nd_nexthop_add(&nd, k_peer), 0);
    uint8_t frames[2][GW_ND_FRAME_LEN];
    unsigned ports[2];
    CU_ASSERT_EQUAL(gw_nd_tick(&nd, 1000, frames, ports, 2), 1); /* k_peer asked */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].type == GW_ICMP6_NS) {
            build(&b, mc, cases[i].src, snm, 255, NULL, 0, 0, m, ns_body(m, k_addr, k_peer_mac));
        } else if (cases[i].type == GW_ICMP6_NA) {
            build(&b, k_mac, cases[i].src, k_addr, 255, NULL, 0, 0, m,
                  na_body(m, k_peer, GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O, k_peer_mac));
        } else {
            memset(m, 0, 64);
            m[0] = GW_ICMP6_ECHO_REQ;
            m[7] = 1;
            build(&b, k_mac, cases[i].src, k_addr, 64, NULL, 0, 0, m, 64);
        }
        memcpy(copy, b.f, sizeof(copy));
        uint64_t before = nd.events[GW_ND_EV_DROP_BAD_SOURCE];
        out = 99;
        enum gw_nd_verdict vd = gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1010, &out);
        bool ok = vd == GW_ND_CONSUMED && out == 0 &&
                  nd.events[GW_ND_EV_DROP_BAD_SOURCE] == before + 1 &&
                  memcmp(copy, b.f, sizeof(copy)) == 0;
        if (!ok)
            printf("  case '%s' not refused as DROP_BAD_SOURCE\n", cases[i].what);
        CU_ASSERT(ok);
    }
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_NS_ANSWERED], 0);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_ECHO_ANSWERED], 0);
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_NA_LEARNED], 0);
    CU_ASSERT(!gw_nd_nexthop_mac(&nd, 0, mac));
    /* the same advertisement from the neighbour itself is learned */
    build(&b, k_mac, k_peer, k_addr, 255, NULL, 0, 0, m,
          na_body(m, k_peer, GW_ND_NA_FLAG_S | GW_ND_NA_FLAG_O, k_peer_mac));
    CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1010, &out), GW_ND_CONSUMED);
    CU_ASSERT(gw_nd_nexthop_mac(&nd, 0, mac) && memcmp(mac, k_peer_mac, 6) == 0);

    /* DAD for our global and our link-local address: to all-nodes, S clear */
    uint8_t ll[16], llsnm[16], llmc[6];
    dp_ipv6_link_local_from_mac(k_mac, ll);
    dp_ipv6_solicited_node(ll, llsnm);
    dp_ipv6_multicast_mac(llsnm, llmc);
    const uint8_t *tgt[2] = {k_addr, ll}, *grp[2] = {snm, llsnm}, *gmac[2] = {mc, llmc};
    for (int k = 0; k < 2; k++) {
        build(&b, gmac[k], unspec, grp[k], 255, NULL, 0, 0, m, ns_body(m, tgt[k], NULL));
        CU_ASSERT_EQUAL(gw_nd_input(&nd, 0, b.f, b.len, sizeof(b.f), 1010, &out), GW_ND_REPLY);
        CU_ASSERT(reply_ok(&b, out, tgt[k], all_nodes, 255));
        CU_ASSERT(b.f[0] == 0x33 && b.f[1] == 0x33 && b.f[2] == 0 && b.f[5] == 0x01);
        CU_ASSERT_EQUAL(b.f[54 + 4] & GW_ND_NA_FLAG_S, 0);
        CU_ASSERT(memcmp(b.f + 14 + 24, unspec, 16) != 0);
    }
    CU_ASSERT_EQUAL(nd.events[GW_ND_EV_DAD_ANSWERED], 2);
}

static void test_ipv6_walk(void)
{
    uint8_t p[200];
    struct dp_ipv6_view v;
    memset(p, 0, sizeof(p));
    p[0] = 0x60;
    p[7] = 64;
    /* HbH(PadN) -> DstOpts(Pad1 x6) -> Routing(segments left 0) -> UDP */
    uint8_t ext[24] = {DP_IPPROTO_DSTOPTS,
                       0,
                       DP_IPV6_OPT_PADN,
                       4,
                       0,
                       0,
                       0,
                       0,
                       DP_IPPROTO_ROUTING,
                       0,
                       0,
                       0,
                       0,
                       0,
                       0,
                       0,
                       DP_IPPROTO_UDP,
                       0,
                       4,
                       0,
                       0,
                       0,
                       0,
                       0};
    memcpy(p + 40, ext, sizeof(ext));
    p[6] = DP_IPPROTO_HOPOPTS;
    size_t plen = sizeof(ext) + 16;
    p[4] = 0;
    p[5] = (uint8_t)plen;
    CU_ASSERT_EQUAL(dp_ipv6_parse(p, 40 + plen + 4, &v), DP_IPV6_OK); /* trailing bytes ok */
    CU_ASSERT(v.proto == DP_IPPROTO_UDP && v.l4_off == 64 && v.l4_len == 16 && v.n_ext == 3 &&
              v.pkt_len == 40 + plen);
    struct {
        const char *what;
        size_t off;
        uint8_t val;
        int want;
    } bad[] = {
        {"version 4", 0, 0x40, DP_IPV6_ERR_BAD_VERSION},
        {"payload beyond frame", 5, 200, DP_IPV6_ERR_BAD_LENGTH},
        {"jumbo (payload length 0)", 5, 0, DP_IPV6_ERR_BAD_LENGTH},
        {"HbH after DstOpts", 40, DP_IPPROTO_HOPOPTS, DP_IPV6_ERR_HOPOPTS_NOT_FIRST},
        {"option type 01xxxxxx", 42, 0x41, DP_IPV6_ERR_UNKNOWN_OPTION},
        {"option type 10xxxxxx", 42, 0x85, DP_IPV6_ERR_UNKNOWN_OPTION},
        {"PadN longer than the header", 43, 5, DP_IPV6_ERR_EXT_TRUNCATED},
        {"routing segments left 1", 59, 1, DP_IPV6_ERR_ROUTING},
        {"fragment header", 56, DP_IPPROTO_FRAGMENT, DP_IPV6_ERR_FRAGMENT},
        {"no next header", 56, DP_IPPROTO_NONE, DP_IPV6_ERR_NO_UPPER},
        {"header length past payload", 57, 9, DP_IPV6_ERR_EXT_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t q[200];
        memcpy(q, p, sizeof(q));
        q[bad[i].off] = bad[i].val;
        int rc = dp_ipv6_parse(q, 40 + plen, &v);
        if (rc != bad[i].want)
            printf("  '%s': %s, want %s\n", bad[i].what, dp_ipv6_strerror(rc),
                   dp_ipv6_strerror(bad[i].want));
        CU_ASSERT_EQUAL(rc, bad[i].want);
    }
    /* an unknown option of type 00xxxxxx is skipped */
    p[42] = 0x1e;
    CU_ASSERT_EQUAL(dp_ipv6_parse(p, 40 + plen, &v), DP_IPV6_OK);
    /* DP_IPV6_EXT_MAX + 1 destination-options headers */
    uint8_t many[40 + 8 * (DP_IPV6_EXT_MAX + 1) + 8];
    memset(many, 0, sizeof(many));
    many[0] = 0x60;
    many[5] = (uint8_t)(sizeof(many) - 40);
    many[6] = DP_IPPROTO_DSTOPTS;
    for (unsigned i = 0; i <= DP_IPV6_EXT_MAX; i++)
        many[40 + 8 * i] = i == DP_IPV6_EXT_MAX ? DP_IPPROTO_UDP : DP_IPPROTO_DSTOPTS;
    CU_ASSERT_EQUAL(dp_ipv6_parse(many, sizeof(many), &v), DP_IPV6_ERR_TOO_MANY_EXT);
    many[40 + 8 * (DP_IPV6_EXT_MAX - 1)] = DP_IPPROTO_UDP;
    CU_ASSERT_EQUAL(dp_ipv6_parse(many, sizeof(many), &v), DP_IPV6_OK);
    CU_ASSERT_EQUAL(v.n_ext, DP_IPV6_EXT_MAX);
    /* every truncation refused */
    unsigned refused = 0;
    for (size_t cut = 0; cut < 40 + plen; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, p, cut);
        refused += dp_ipv6_parse(t, cut, &v) != DP_IPV6_OK;
        free(t);
    }
    CU_ASSERT_EQUAL(refused, 40 + plen);
}

static void test_udp_checksum(void)
{
    uint8_t udp[301];
    for (unsigned i = 0; i < sizeof(udp); i++)
        udp[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 8; len <= sizeof(udp); len += 41) {
        udp[6] = udp[7] = 0;
        uint16_t c = dp_ipv6_l4_cksum(k_addr, k_far, DP_IPPROTO_UDP, udp, len);
        uint16_t r = ref_cksum(k_addr, k_far, DP_IPPROTO_UDP, udp, len);
        CU_ASSERT_EQUAL(c, r == 0 ? 0xffff : r);
        udp[6] = (uint8_t)(c >> 8);
        udp[7] = (uint8_t)c;
        CU_ASSERT(dp_ipv6_l4_cksum_ok(k_addr, k_far, DP_IPPROTO_UDP, udp, len, 6));
        udp[len - 1] ^= 1;
        CU_ASSERT(!dp_ipv6_l4_cksum_ok(k_addr, k_far, DP_IPPROTO_UDP, udp, len, 6));
        udp[len - 1] ^= 1;
    }
    /* zero: "no checksum" is not allowed for UDP over IPv6 */
    udp[6] = udp[7] = 0;
    CU_ASSERT(!dp_ipv6_l4_cksum_ok(k_addr, k_far, DP_IPPROTO_UDP, udp, 8, 6));
    CU_ASSERT(dp_ipv6_same_prefix(k_addr, k_peer, 64) && !dp_ipv6_same_prefix(k_addr, k_far, 48) &&
              dp_ipv6_same_prefix(k_addr, k_far, 44) && !dp_ipv6_same_prefix(k_addr, k_far, 129));
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("dp_ipv6", NULL, NULL);
    CU_add_test(s, "extension-header walk", test_ipv6_walk);
    CU_add_test(s, "pseudo-header checksum", test_udp_checksum);
    s = CU_add_suite("gw_nd", NULL, NULL);
    CU_add_test(s, "NS for our addresses answered (RFC 4861 7.2.4)", test_ns_answered);
    CU_add_test(s, "invalid or foreign NS refused and counted", test_ns_refused);
    CU_add_test(s, "ICMPv6 echo", test_echo);
    CU_add_test(s, "unanswerable sources refused, DAD to all-nodes", test_bad_sources);
    CU_add_test(s, "next-hop resolution learns only solicited answers", test_resolution);
}
