/* dp_counters.h — the gateway's per-lcore event and drop counters.
 *
 * Owns: the one list (X-macro) of every counted event and every drop reason
 * of the dataplane workers and the control plane, the generated enum and
 * names, and the per-lcore cache-aligned counter blocks.
 * Must not: use atomics on the hot path.  Each lcore increments only its own
 * block (indexed by rte_lcore_id()); readers (stats print, control socket)
 * sum over lcores with relaxed loads and accept slightly stale values.
 *
 * Every packet that a worker or the control plane drops increments exactly
 * one DROP_* counter; VPP-style "foreach error" list (one place).
 */
#ifndef DTLSGW_DP_COUNTERS_H
#define DTLSGW_DP_COUNTERS_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>

/* X(NAME, kind, description); kind: 0 event, 1 drop. */
#define DP_COUNTERS(X)                                                                             \
    X(RX_PKTS, 0, "frames received by workers")                                                    \
    X(TX_PKTS, 0, "frames sent (workers and control plane)")                                       \
    X(RX_RECORDS, 0, "client records decrypted and forwarded to a backend")                        \
    X(TX_RECORDS, 0, "backend datagrams encrypted and sent to a client")                           \
    X(PUNT, 0, "frames punted to the control plane")                                               \
    X(HANDOFF_OUT, 0, "frames handed to the owning worker")                                        \
    X(HANDOFF_IN, 0, "frames received from another worker")                                        \
    X(IDLE_SLEEP, 0, "idle sleeps of a polling lcore")                                             \
    X(HVR_SENT, 0, "HelloVerifyRequests sent by workers (stateless)")                              \
    X(CP_ARP_REPLY_SENT, 0, "ARP replies sent for our addresses")                                  \
    X(CP_ARP_REQUEST_SENT, 0, "ARP requests sent for next hops")                                   \
    X(CP_ARP_LEARNED, 0, "next-hop MAC addresses learned")                                         \
    X(CP_ICMP_ECHO_REPLY, 0, "ICMP echo replies sent")                                             \
    X(CP_ICMP6_ECHO_REPLY, 0, "ICMPv6 echo replies sent")                                          \
    X(CP_ND_NA_SENT, 0, "neighbor advertisements sent for our IPv6 addresses (NS, DAD)")           \
    X(CP_ND_NS_SENT, 0, "neighbor solicitations sent for IPv6 next hops")                          \
    X(CP_ND_LEARNED, 0, "IPv6 next hops resolved by a solicited advertisement")                    \
    X(CP_HVR_SENT, 0, "HelloVerifyRequests sent")                                                  \
    X(CP_HS_STARTED, 0, "handshakes started (cookie verified)")                                    \
    X(CP_HS_ESTABLISHED, 0, "handshakes completed")                                                \
    X(CP_HS_FAILED, 0, "handshakes failed (fatal alert)")                                          \
    X(CP_HS_TIMEOUT, 0, "handshakes given up (retransmissions, deadline)")                         \
    X(CP_HS_RETRANSMIT, 0, "handshake retransmission timer expiries")                              \
    X(CP_SESS_INSTALLED, 0, "sessions installed into the table")                                   \
    X(CP_SESS_NO_EMS, 0, "sessions without extended master secret (RFC 7627, never resumable)")    \
    X(CP_SESS_IDLE_REAPED, 0, "sessions removed after the idle timeout")                           \
    X(CP_SESS_CLOSED, 0, "sessions removed by the client's close_notify")                          \
    X(CP_SESS_FATAL_ALERT, 0, "sessions removed by a fatal alert")                                 \
    X(CP_SESS_REPLACED, 0, "sessions replaced by a new handshake")                                 \
    X(CP_SESS_REHANDSHAKE, 0, "new handshakes from a live session's address (session kept)")       \
    X(CP_SESS_KEPT, 0, "live sessions kept when their address's new handshake failed")             \
    X(CP_COOKIE_ROTATED, 0, "cookie secret rotations (timer and rotate-cookie)")                   \
    X(CP_HS_RESTARTED, 0, "handshakes restarted by a new ClientHello")                             \
    X(CP_SESS_FREED, 0, "sessions freed after the RCU grace period")                               \
    X(CP_PSK_RELOAD_ENDED, 0,                                                                      \
      "sessions/handshakes ended by reload-psk (identity removed or re-keyed)")                    \
    X(CP_CLOSE_NOTIFY_SENT, 0, "close_notify alerts sent")                                         \
    X(CP_FINAL_FLIGHT_REPEAT, 0, "epoch-1 handshake records to a live session")                    \
    X(CP_CH_FRAG_HELD, 0, "ClientHello fragments held until the message is whole (cookie after)")  \
    X(CP_CH_ASM_EVICTED, 0, "unfinished ClientHello reassemblies evicted to make room")            \
    X(CP_STATE_SAVED, 0, "sessions written to the state file (SIGTERM or save)")                   \
    X(CP_STATE_RESTORED, 0, "sessions restored from the state file at start")                      \
    X(CP_STATE_SKIPPED, 0,                                                                         \
      "saved sessions not restored (listener gone, NAT port, sequence space, install)")            \
    X(CP_STATE_FILE_REFUSED, 0, "state files refused at start (key, altered, age, format)")        \
    X(CP_HS_RESUMED, 0, "abbreviated handshakes (session ticket or session-ID cache), completed")  \
    X(CP_TICKET_ISSUED, 0, "session tickets sent (NewSessionTicket)")                              \
    X(CP_TICKET_KEY_ROTATED, 0, "random session-ticket keys rotated")                              \
    X(CP_TICKET_FB_UNSEALED, 0, "tickets not resumed: opened under none of the listener's keys")   \
    X(CP_TICKET_FB_MALFORMED, 0, "tickets not resumed: state encoding malformed")                  \
    X(CP_TICKET_FB_NO_EMS, 0, "tickets not resumed: session without extended master secret")       \
    X(CP_TICKET_FB_EXPIRED, 0, "tickets not resumed: lifetime passed")                             \
    X(CP_TICKET_FB_FUTURE, 0, "tickets not resumed: issued in the future")                         \
    X(CP_TICKET_FB_VERSION, 0, "tickets not resumed: another protocol version")                    \
    X(CP_TICKET_FB_SUITE, 0, "tickets not resumed: suite not offered or off on the listener")      \
    X(CP_TICKET_FB_PSK, 0, "tickets not resumed: PSK identity removed or re-keyed")                \
    X(CP_TICKET_FB_SNI, 0, "tickets not resumed: server_name differs")                             \
    X(CP_TICKET_FB_CLIENT_AUTH, 0, "tickets not resumed: client certificate required, none")       \
    X(CP_SESSID_STORED, 0,                                                                         \
      "sessions put in the session-ID cache (full handshakes without ticket)")                     \
    X(CP_SESSID_EVICTED, 0,                                                                        \
      "session-ID cache entries evicted at session_cache (least recently used)")                   \
    X(CP_SESSID_EXPIRED, 0, "session-ID cache entries dropped at ticket_lifetime")                 \
    X(CP_SESSID_HIT, 0, "ClientHello session_ids resumed from the session-ID cache")               \
    X(CP_SESSID_MISS, 0, "ClientHello session_ids not in the cache (full handshake)")              \
    X(CP_SESSID_OTHER_SHARD, 0,                                                                    \
      "ClientHello session_ids of another handshake lcore's cache (full)")                         \
    X(CP_SESSID_REFUSED, 0,                                                                        \
      "cached sessions not resumed: suite, PSK key, server_name, client auth")                     \
    X(DROP_SHORT_FRAME, 1, "frame shorter than its headers")                                       \
    X(DROP_MULTISEG, 1, "multi-segment mbuf")                                                      \
    X(DROP_NOT_IPV4, 1, "ethertype neither IPv4, IPv6 nor ARP")                                    \
    X(DROP_IP_HEADER, 1, "bad IPv4 version/IHL/total length")                                      \
    X(DROP_IP_CSUM, 1, "bad IPv4 header checksum")                                                 \
    X(DROP_IP_FRAGMENT, 1, "IPv4 fragment")                                                        \
    X(DROP_IPV6_HEADER, 1, "bad IPv6 header (truncated, version, payload length)")                 \
    X(DROP_IPV6_EXT, 1, "IPv6 extension header refused (order, count, option, routing, none)")     \
    X(DROP_IPV6_FRAGMENT, 1, "IPv6 fragment (Fragment header; not reassembled)")                   \
    X(DROP_IPV6_UDP_ZERO_CSUM, 1, "UDP over IPv6 with checksum 0 (RFC 8200 8.1)")                  \
    X(DROP_IPV6_SOURCE, 1, "IPv6 source multicast, loopback, IPv4-mapped, or unspecified (UDP)")   \
    X(DROP_NOT_FOR_US, 1, "IP destination is not one of our addresses")                            \
    X(DROP_NOT_UDP, 1, "IP protocol neither UDP nor ICMP/ICMPv6")                                  \
    X(DROP_UDP_LEN, 1, "UDP length inconsistent with the IP length")                               \
    X(DROP_UDP_CSUM, 1, "bad UDP checksum")                                                        \
    X(DROP_UNKNOWN_PEER, 1, "unknown peer, not a ClientHello (worker check)")                      \
    X(DROP_NO_LISTENER, 1, "UDP to a port that is neither listener nor NAT")                       \
    X(DROP_NAT_UNKNOWN, 1, "backend datagram to an unmapped NAT port")                             \
    X(DROP_NAT_PEER, 1, "datagram to a NAT port from a non-backend peer")                          \
    X(DROP_NAT_WRONG_PORT, 1, "backend reply on a port the backend route does not use")            \
    X(DROP_NAT_WRONG_MAC, 1, "backend reply not from the backend next hop's resolved MAC")         \
    X(DROP_PUNT_FULL, 1, "punt ring to the control plane full")                                    \
    X(DROP_PUNT_NET_FULL, 1, "ARP/ICMP ring to the control plane full")                            \
    X(DROP_HANDOFF_FULL, 1, "hand-off ring to the owning worker full")                             \
    X(DROP_HANDOFF_OWNER, 1, "handed-off frame whose owner changed")                               \
    X(DROP_RECORD_MALFORMED, 1, "malformed DTLS record header")                                    \
    X(DROP_RECORD_SHORT, 1, "record shorter than nonce + tag")                                     \
    X(DROP_REPLAY, 1, "record replayed or left of the replay window")                              \
    X(DROP_AUTH, 1, "record failed authentication")                                                \
    X(DROP_NH_UNRESOLVED, 1, "next hop MAC not yet resolved (ARP retrying)")                       \
    X(DROP_TOO_BIG, 1, "datagram too big for the port MTU or a record")                            \
    X(DROP_NO_MBUF, 1, "mbuf pool empty")                                                          \
    X(DROP_TX_FULL, 1, "TX queue full")                                                            \
    X(DROP_SEQ_EXHAUSTED, 1, "write sequence number space exhausted")                              \
    X(DROP_SEAL_FAILED, 1, "record encryption failed")                                             \
    X(DROP_CP_UNKNOWN, 1, "control plane: not ARP/ICMP echo/DTLS for us")                          \
    X(DROP_CP_ARP, 1, "control plane: ARP not for us or malformed")                                \
    X(DROP_CP_ARP_UNSOLICITED, 1, "control plane: ARP reply we did not ask for (not learned)")     \
    X(DROP_CP_ND, 1, "control plane: ICMPv6/ND refused (invalid, not ours, ignored type)")         \
    X(DROP_CP_ND_UNSOLICITED, 1, "control plane: neighbor advertisement we did not ask for")       \
    X(DROP_CP_COOKIE, 1, "control plane: unknown peer, not a ClientHello")                         \
    X(DROP_CP_HS_LIMIT, 1, "control plane: too many handshakes/sessions")                          \
    X(DROP_CP_HS_MAX, 1, "control plane: max_handshakes handshakes in progress")                   \
    X(DROP_CP_HS_PER_SOURCE, 1, "control plane: max_handshakes_per_source from this address")      \
    X(DROP_CP_HS_REASM_CAP, 1, "control plane: handshake record over a reassembly byte cap")       \
    X(CP_HS_RESEND_LIMITED, 0, "repeated peer flights not answered (doubling resend gap)")         \
    X(DROP_CP_HS_INPUT, 1, "control plane: handshake engine rejected input")                       \
    X(DROP_CP_NAT_EXHAUSTED, 1, "control plane: no free NAT port")                                 \
    X(DROP_CP_SESSION_RECORD, 1, "control plane: unusable record of a session")                    \
    X(DROP_CP_RECLAIM_BACKLOG, 1,                                                                  \
      "control plane: session refused, removed sessions wait for a stalled worker")                \
    X(DROP_CP_ALERT_REPLAY, 1, "control plane: encrypted alert replayed or too old")               \
    X(DROP_CP_ALERT_AUTH, 1, "control plane: alert failed authentication")                         \
    X(DROP_CP_SHARD_FULL, 1, "control plane: a handshake lcore's input ring full")                 \
    X(DROP_CP_INSTALL, 1, "control plane: session install failed")                                 \
    X(DROP_CP_NO_NEXTHOP, 1, "control plane: no route/next hop for backend")

enum dp_counter_id {
#define X(name, kind, desc) DP_CNT_##name,
    DP_COUNTERS(X)
#undef X
    DP_CNT_N
};

struct dp_lcore_counters {
    uint64_t c[DP_CNT_N];
} __rte_cache_aligned;

/* Defined in dp_worker.c; index with rte_lcore_id(). */
extern struct dp_lcore_counters dp_counters[RTE_MAX_LCORE];

static inline void dp_cnt_add(unsigned lcore, enum dp_counter_id id, uint64_t n)
{
    dp_counters[lcore].c[id] += n;
}

/* Counter on the calling lcore (non-EAL threads share slot 0; only the
 * main lcore and workers count). */
static inline void dp_cnt_inc(enum dp_counter_id id)
{
    unsigned l = rte_lcore_id();
    if (l >= RTE_MAX_LCORE)
        l = 0;
    dp_counters[l].c[id]++;
}

const char *dp_counter_name(enum dp_counter_id id);
const char *dp_counter_desc(enum dp_counter_id id);
int dp_counter_is_drop(enum dp_counter_id id);
/* Sum of one counter over every lcore (relaxed, may be slightly stale). */
uint64_t dp_counter_total(enum dp_counter_id id);
/* Sum of all DROP_* counters. */
uint64_t dp_counter_drops_total(void);

#endif
