/* gw_net.h — the gateway's own L2/L3 presence, run by the control plane:
 * ARP responder and next-hop resolver, ICMP echo responder, and UDP frames
 * built from control-plane data (handshake flights, HelloVerifyRequests);
 * for IPv6 the same through gw_nd (Neighbor Discovery, ICMPv6 echo), whose
 * resolved next hops it publishes into dp_gw.nexthops like ARP's.
 *
 * Owns: the next-hop entries of struct dp_gw (their IPs, their resolution
 * timers) and publishing resolved MACs to the workers (one atomic 64-bit
 * store per entry, see dp_worker.h).
 * Must not: be called from a worker, block, or answer for addresses that
 * are not one of the gateway's ports.
 *
 * Checksums: every frame built here carries full software IPv4/UDP/ICMP
 * checksums (dp_pkt_write_ipv4_udp, see the policy in dp_port.h).
 */
#ifndef DTLSGW_GW_NET_H
#define DTLSGW_GW_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "cp_key.h"
#include "dp_worker.h"
#include "gw_nd.h"

#define GW_NET_ARP_RETRY_MS   250   /* unresolved next hop: re-ask */
#define GW_NET_ARP_REFRESH_MS 30000 /* resolved: refresh */
#define GW_NET_ARP_ANSWER_MS  1000  /* a reply counts as an answer this long after our request */

struct gw_net {
    struct dp_gw *g;
    uint64_t nh_last_req_ms[DP_MAX_NEXTHOPS];
    /* Set when a request goes out, cleared by the first answer: only a
     * reply to an outstanding request of ours is learned. */
    bool nh_asking[DP_MAX_NEXTHOPS];
    /* IPv6: the ND state of the ports that have an IPv6 address; nd_port[p]
     * is port p's index in nd (-1: no IPv6), dp_port_of_nd the reverse;
     * nd_nh[i] is next hop i's index in nd (IPv6 next hops only). */
    struct gw_nd nd;
    int8_t nd_port[DP_MAX_PORTS];
    uint8_t dp_port_of_nd[GW_ND_MAX_PORTS];
    int16_t nd_nh[DP_MAX_NEXTHOPS];
};

/* g's ports (addresses, IPv6 ones included) are set. */
void gw_net_init(struct gw_net *n, struct dp_gw *g);

/* Next hop towards dst_ip_be (network order): the destination itself when a
 * port's subnet holds it, else the first port's configured gateway.  Reuses
 * an existing entry.  Returns its index, or -1 when no port can reach it. */
int gw_net_nexthop_add(struct gw_net *n, uint32_t dst_ip_be);
bool gw_net_nexthop_resolved(const struct gw_net *n, unsigned nh);
/* The IPv6 twin: the destination itself when a port's IPv6 prefix holds it
 * (or it is link-local), else the first port's gateway6 (gw_nd's choice);
 * an entry of dp_gw.nexthops with family DP_AF_V6, resolved by ND.  Its
 * index or -1. */
int gw_net_nexthop_add6(struct gw_net *n, const uint8_t dst[16]);

/* Handles a punted ARP, ICMP or ICMPv6 frame (m->port = port index) at
 * now_ms (ICMPv6: gw_nd_input; what it learned is published to the
 * workers at once).
 * Returns a reply frame to transmit on m->port (m reused), or NULL when m
 * was consumed (learned, dropped and counted).
 *
 * Learning: a next hop's MAC is taken only from an ARP reply addressed to
 * us (target IP and hardware address are the port's) that arrives on the
 * next hop's port within GW_NET_ARP_ANSWER_MS of our own request for it,
 * the first such answer only.  Requests, gratuitous ARP and replies nobody
 * asked for are never learned (DROP_CP_ARP_UNSOLICITED for replies), so a
 * host on the client side cannot redirect backend traffic by announcing
 * the backend's address. */
struct rte_mbuf *gw_net_input(struct gw_net *n, struct rte_mbuf *m, uint64_t now_ms);

/* Builds ARP requests (IPv6: Neighbor Solicitations, gw_nd_tick) for next
 * hops that are unresolved (every GW_NET_ARP_RETRY_MS) or due a refresh; up
 * to max frames into out.
 * Returns the count (out[i]->port = port index). */
unsigned gw_net_arp_tick(struct gw_net *n, uint64_t now_ms, struct rte_mbuf **out, unsigned max);

/* A UDP frame carrying data on port port_idx (m->port set).  NULL when no
 * mbuf or too big for one segment. */
struct rte_mbuf *gw_net_udp_frame(struct dp_gw *g, unsigned port_idx,
                                  const struct rte_ether_addr *dst_mac, uint32_t src_ip,
                                  uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                                  const uint8_t *data, size_t len);
/* The same over IPv6 (addresses 16 bytes; UDP checksum always). */
struct rte_mbuf *gw_net_udp_frame6(struct dp_gw *g, unsigned port_idx,
                                   const struct rte_ether_addr *dst_mac, const uint8_t *src_ip,
                                   const uint8_t *dst_ip, uint16_t src_port, uint16_t dst_port,
                                   const uint8_t *data, size_t len);
/* From key's local address:port to its client, either family. */
struct rte_mbuf *gw_net_udp_frame_key(struct dp_gw *g, unsigned port_idx,
                                      const struct rte_ether_addr *dst_mac, const cp_key_t *key,
                                      const uint8_t *data, size_t len);

#endif
