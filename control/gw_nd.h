/* gw_nd.h — the gateway's IPv6 link presence: Neighbor Discovery (RFC 4861)
 * for its own addresses and for next-hop resolution, and ICMPv6 echo
 * (RFC 4443 §4) for its own addresses.  The IPv6 twin of gw_net's ARP and
 * ICMP code, over plain frame bytes (Ethernet II + IPv6 + ICMPv6) so that
 * it builds and unit-tests without DPDK; the control plane hands it the
 * frames its workers punt and transmits what it returns.
 *
 * Owns: the IPv6 next-hop entries (address, port, MAC, resolution state)
 * and its event counters.  Must not: be called from a worker, block,
 * answer for an address that is not one of the ports' (global or the
 * link-local derived from the port's MAC), or answer (or learn from) a
 * source nobody can be answered at: multicast, ::1, IPv4-mapped, and ::
 * except a duplicate address detection probe, whose advertisement goes
 * to all-nodes (RFC 4861 §7.2.4).
 *
 * Learning, as gw_net does for ARP: a next hop's MAC is taken only from a
 * solicited Neighbor Advertisement (S flag) for a target we asked about,
 * with a Target Link-Layer Address option, on that next hop's port, within
 * GW_ND_ANSWER_MS of our Neighbor Solicitation, the first answer only.
 * Solicitations (their source link-layer option), unsolicited
 * advertisements and Router Advertisements teach nothing: a host on the
 * client side cannot redirect backend traffic by announcing an address.
 * Departures from RFC 4861, on purpose: no learning from NS (§7.2.3), no
 * Duplicate Address Detection for our own addresses (they are configured),
 * no Router Solicitation (the off-link gateway is configured).
 */
#ifndef DTLSGW_GW_ND_H
#define DTLSGW_GW_ND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_ipv6.h"

#define GW_ND_MAX_PORTS    8
#define GW_ND_MAX_NEXTHOPS 64
#define GW_ND_RETRY_MS     250   /* unresolved next hop: ask again */
#define GW_ND_REFRESH_MS   30000 /* resolved: ask again (stays usable meanwhile) */
#define GW_ND_ANSWER_MS    1000  /* an NA counts as an answer this long after our NS */

#define GW_ND_ETH_HDR_LEN  14
#define GW_ND_ICMP_HDR_LEN 4  /* type, code, checksum */
#define GW_ND_MSG_LEN      24 /* NS/NA: header, 4 bytes, target (§4.3, §4.4) */
#define GW_ND_LLA_OPT_LEN  8  /* type, length 1 (8 octets), 6-byte MAC */
/* An NS or NA as we send it: Ethernet + IPv6 + message + one LLA option. */
#define GW_ND_FRAME_LEN (GW_ND_ETH_HDR_LEN + DP_IPV6_HDR_LEN + GW_ND_MSG_LEN + GW_ND_LLA_OPT_LEN)

#define GW_ND_HOP_LIMIT   255 /* §7.1.1/§7.1.2: ND messages not forwarded */
#define GW_ND_ECHO_HLIM   64  /* hop limit of our echo replies */
#define GW_ICMP6_ECHO_REQ 128
#define GW_ICMP6_ECHO_REP 129
#define GW_ICMP6_RS       133
#define GW_ICMP6_RA       134
#define GW_ICMP6_NS       135
#define GW_ICMP6_NA       136
#define GW_ICMP6_REDIRECT 137
#define GW_ND_OPT_SLLA    1
#define GW_ND_OPT_TLLA    2
#define GW_ND_NA_FLAG_R   0x80 /* router */
#define GW_ND_NA_FLAG_S   0x40 /* solicited */
#define GW_ND_NA_FLAG_O   0x20 /* override */

/* What gw_nd_input did with a frame: counted per event. */
#define GW_ND_EVENTS(X)                                                                            \
    X(NS_ANSWERED, "neighbor solicitation for our address answered")                               \
    X(DAD_ANSWERED, "duplicate address detection probe for our address answered")                  \
    X(ECHO_ANSWERED, "ICMPv6 echo request answered")                                               \
    X(NA_LEARNED, "next hop resolved by a solicited advertisement")                                \
    X(NS_SENT, "neighbor solicitation sent for a next hop")                                        \
    X(DROP_IPV6, "IPv6 header or extension headers refused")                                       \
    X(DROP_NOT_ICMP6, "not ICMPv6")                                                                \
    X(DROP_CKSUM, "ICMPv6 checksum wrong")                                                         \
    X(DROP_ND_INVALID, "ND message fails RFC 4861 validation")                                     \
    X(DROP_BAD_SOURCE, "source never answered: multicast, ::1, IPv4-mapped, :: except DAD")        \
    X(DROP_NOT_OURS, "target or destination is not one of our addresses")                          \
    X(DROP_NA_UNSOLICITED, "advertisement we did not ask for (not learned)")                       \
    X(DROP_ECHO_INVALID, "echo request to a multicast address or malformed")                       \
    X(DROP_IGNORED, "ICMPv6 type we do not act on (RS, RA, redirect, errors, ...)")                \
    X(DROP_SHORT, "frame too short or reply would not fit")

enum gw_nd_event {
#define X(name, str) GW_ND_EV_##name,
    GW_ND_EVENTS(X)
#undef X
    GW_ND_EV_N
};

const char *gw_nd_event_name(enum gw_nd_event e);
const char *gw_nd_event_desc(enum gw_nd_event e);

struct gw_nd_port {
    uint8_t mac[6];
    uint8_t addr[DP_IPV6_ADDR_LEN];       /* the port's global address */
    uint8_t link_local[DP_IPV6_ADDR_LEN]; /* fe80:: from mac (gw_nd_port_add) */
    uint8_t prefix_len;                   /* on-link prefix of addr */
    bool has_gateway;
    uint8_t gateway[DP_IPV6_ADDR_LEN]; /* next hop for off-link destinations */
};

struct gw_nd_nexthop {
    uint8_t ip[DP_IPV6_ADDR_LEN];
    uint8_t mac[6];
    uint8_t port;
    bool resolved;
    bool asking; /* an NS is out and not answered yet */
    uint64_t last_req_ms;
};

struct gw_nd {
    struct gw_nd_port port[GW_ND_MAX_PORTS];
    unsigned n_ports;
    struct gw_nd_nexthop nh[GW_ND_MAX_NEXTHOPS];
    unsigned n_nh;
    uint64_t events[GW_ND_EV_N];
};

void gw_nd_init(struct gw_nd *nd);
/* Adds a port (index = the order of calls); its link-local address comes
 * from mac.  gateway NULL: no off-link next hop.  -1 when full or
 * prefix_len > 128. */
int gw_nd_port_add(struct gw_nd *nd, const uint8_t mac[6], const uint8_t addr[DP_IPV6_ADDR_LEN],
                   unsigned prefix_len, const uint8_t *gateway);

/* Next hop towards dst: dst itself when a port's prefix holds it (or it is
 * link-local: the first port), else the first port with a gateway.  Reuses
 * an entry.  Its index, or -1 when no port reaches dst or the table is
 * full. */
int gw_nd_nexthop_add(struct gw_nd *nd, const uint8_t dst[DP_IPV6_ADDR_LEN]);
/* True with mac filled when entry nh is resolved. */
bool gw_nd_nexthop_mac(const struct gw_nd *nd, unsigned nh, uint8_t mac[6]);

enum gw_nd_verdict {
    GW_ND_CONSUMED = 0, /* learned or dropped (counted): nothing to send */
    GW_ND_REPLY = 1,    /* frame rewritten in place: send *out_len bytes on the port */
};

/* Handles one frame (Ethernet II, EtherType IPv6) received on port at
 * now_ms.  frame has cap bytes of room (a reply may be longer than the
 * request: GW_ND_FRAME_LEN). */
enum gw_nd_verdict gw_nd_input(struct gw_nd *nd, unsigned port, uint8_t *frame, size_t len,
                               size_t cap, uint64_t now_ms, size_t *out_len);

/* Neighbor Solicitations due now (unresolved every GW_ND_RETRY_MS,
 * resolved every GW_ND_REFRESH_MS): up to max frames of GW_ND_FRAME_LEN
 * bytes into frames[i], their port into ports[i].  The count. */
unsigned gw_nd_tick(struct gw_nd *nd, uint64_t now_ms, uint8_t (*frames)[GW_ND_FRAME_LEN],
                    unsigned *ports, unsigned max);

#endif
