/* dp_worker.h — the dataplane worker lcores and the state they share with
 * the control plane.
 *
 * Owns: the per-burst pipeline (classify → session lookup → replay check →
 * one AEAD batch → replay update → rewrite → TX) in both directions, the
 * punt rings (worker → control plane, the mbuf itself), the hand-off rings
 * (any worker → owning worker), the control-plane TX rings (control plane →
 * worker, used when a port has no dedicated control TX queue), and the
 * lock-free next-hop MAC table.
 * Must not: parse handshake messages, allocate anything but mbufs, block, or
 * write a session field it does not own (see dp_session.h).
 */
#ifndef DTLSGW_DP_WORKER_H
#define DTLSGW_DP_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_addr.h"
#include "dp_port.h"
#include "dp_session.h"

#define DP_BURST                 32
#define DP_MAX_LISTENERS         16
#define DP_MAX_NEXTHOPS          64
#define DP_RING_PUNT_SIZE        4096
#define DP_RING_PUNT_NET_SIZE    512 /* ARP and ICMP, apart from DTLS punts */
#define DP_RING_HANDOFF_SIZE     4096
#define DP_RING_CPTX_SIZE        1024
#define DP_OPS_MAX               128 /* AEAD ops collected per flush */
#define DP_TXBUF_MAX             256 /* frames buffered per port per loop */
#define DP_IDLE_POLLS_DEFAULT    256 /* empty loops before sleeping */
#define DP_IDLE_SLEEP_US_DEFAULT 100
#define DP_PEER_BUSY_SLOTS       65536

/* A listener: family DP_AF_V4 with ip_be, or DP_AF_V6 with ip6 (ip_be 0). */
struct dp_listener {
    uint32_t ip_be;
    uint16_t port_be;
    uint8_t family;
    uint8_t cid_len;
    uint16_t port_idx; /* index into dp_gw.ports */
    uint8_t ip6[16];
};

/* A next hop: ip is set by the control plane before the entry is used;
 * mac_word is published with one atomic 64-bit store: bit 63 valid, low 48
 * bits the MAC.  Workers load it relaxed: a stale but valid MAC is fine. */
struct dp_nexthop {
    uint32_t ip_be; /* DP_AF_V4 */
    uint16_t port_idx;
    uint8_t family; /* DP_AF_V4 or DP_AF_V6 (then ip6, resolved by ND) */
    uint8_t ip6[16];
    uint64_t mac_word;
};
#define DP_NH_VALID (UINT64_C(1) << 63)

static inline uint64_t dp_mac_to_word(const struct rte_ether_addr *a)
{
    uint64_t w = 0;
    for (int i = 0; i < RTE_ETHER_ADDR_LEN; i++)
        w = (w << 8) | a->addr_bytes[i];
    return w;
}
/* The same address as dp_mac_le48() gives it (byte 0 lowest). */
static inline uint64_t dp_word_to_mac_le(uint64_t w)
{
    return rte_bswap64(w << 16);
}
static inline void dp_word_to_mac(uint64_t w, struct rte_ether_addr *a)
{
    /* Big-endian image of the 48-bit value in the first six bytes: one
     * byte swap and one store instead of a byte loop. */
    uint64_t be = rte_cpu_to_be_64(w << 16);
    memcpy(a->addr_bytes, &be, RTE_ETHER_ADDR_LEN);
}

/* Stateless verdict on a datagram from a peer without a session, run on
 * the worker (DESIGN.md: a cookie-less ClientHello flood must not reach the
 * control plane).  The control plane installs it before the workers start
 * (its cookie check); the dataplane knows nothing of handshakes.  Called on
 * several workers at once: must be thread-safe and must not allocate.
 * DP_PEER_REPLY: send out[0..*out_len) back to the peer (never larger than
 * the datagram, e.g. a HelloVerifyRequest). */
enum dp_peer_verdict {
    DP_PEER_PUNT = 0,
    DP_PEER_REPLY = 1,
    DP_PEER_DROP = 2
};
#define DP_PEER_REPLY_MAX_BYTES 256
typedef int (*dp_unknown_peer_fn)(void *arg, unsigned listener, const struct dp_addr *peer,
                                  uint16_t peer_port_be, const uint8_t *dgram, size_t len,
                                  uint8_t *out, size_t out_cap, size_t *out_len);

static inline uint32_t dp_peer_slot(uint32_t ip_be, uint16_t port_be)
{
    uint32_t h = (ip_be ^ ((uint32_t)port_be << 16) ^ port_be) * 0x9e3779b1u;
    return h >> 16; /* DP_PEER_BUSY_SLOTS == 2^16 */
}

/* The same for either family: an IPv4 address gives dp_peer_slot's slot,
 * an IPv6 one that of its folded 32 bits (dp_addr_fold32). */
static inline uint32_t dp_peer_slot_addr(const struct dp_addr *a, uint16_t port_be)
{
    return dp_peer_slot(dp_addr_fold32(a), port_be);
}

/* Shared between the control plane (writer of everything here before the
 * workers start, and of nexthops/stop afterwards) and the workers. */
struct dp_gw {
    struct dp_port ports[DP_MAX_PORTS];
    unsigned n_ports;
    struct dp_listener listeners[DP_MAX_LISTENERS];
    unsigned n_listeners;
    unsigned n_workers;
    unsigned worker_lcore[DP_MAX_WORKERS];
    struct dp_sess_table *sessions;
    struct rte_mempool *pool;
    struct rte_ring *punt[DP_MAX_WORKERS]; /* worker i → control plane, SP/SC */
    /* worker i → control plane, SP/SC: ARP and ICMP only, so that a flood
     * of DTLS punts (ClientHellos with valid cookies, handshake records)
     * cannot starve address resolution or path MTU discovery; the control
     * plane drains it before punt[i]. */
    struct rte_ring *punt_net[DP_MAX_WORKERS];
    struct rte_ring *handoff[DP_MAX_WORKERS]; /* any worker → worker i, MP/SC */
    struct rte_ring *cptx[DP_MAX_WORKERS];    /* control plane → worker i, SP/SC */
    struct dp_nexthop nexthops[DP_MAX_NEXTHOPS];
    unsigned n_nexthops;
    dp_unknown_peer_fn unknown_peer; /* NULL: punt every unknown peer */
    void *unknown_peer_arg;
    /* Peers the control plane holds state for (handshake in progress),
     * counted per hash slot (dp_peer_slot).  The control plane increments
     * and decrements, workers load relaxed: a non-zero slot sends the
     * datagram to the control plane instead of the stateless check, so a
     * delayed duplicate ClientHello reaches the handshake engine rather
     * than drawing a second HelloVerifyRequest.  A collision only costs a
     * punt. */
    uint32_t peer_busy[DP_PEER_BUSY_SLOTS];
    uint32_t idle_polls;                  /* empty loops before a sleep */
    uint32_t idle_sleep_us;               /* 0: never sleep */
    volatile int stop;                    /* set by the control plane */
    volatile int running[DP_MAX_WORKERS]; /* set/cleared by each worker */
};

/* Creates the rings of g (n_workers set).  0 or negative errno. */
int dp_gw_rings_create(struct dp_gw *g);
void dp_gw_rings_free(struct dp_gw *g);

/* rte_eal_remote_launch entry: arg is a struct dp_worker_arg. */
struct dp_worker_arg {
    struct dp_gw *gw;
    unsigned idx; /* worker index = QSBR thread id */
};
int dp_worker_main(void *arg);

/* For the control plane: the IPv4 listener matching (ip, port), or -1. */
int dp_gw_find_listener(const struct dp_gw *g, uint32_t ip_be, uint16_t port_be);
/* The IPv6 listener matching (ip6, port), or -1. */
int dp_gw_find_listener6(const struct dp_gw *g, const uint8_t *ip6, uint16_t port_be);
/* The port owning ip_be as its address, or -1. */
int dp_gw_find_port_by_ip(const struct dp_gw *g, uint32_t ip_be);
/* The port owning ip6 (its global or link-local address), or -1. */
int dp_gw_find_port_by_ip6(const struct dp_gw *g, const uint8_t *ip6);
/* The port for which ip6 is the solicited-node multicast address (RFC 4291
 * §2.7.1) of one of its addresses, or -1. */
int dp_gw_find_port_by_solicited(const struct dp_gw *g, const uint8_t *ip6);

/* Encrypts one record of `type` with the session's write key at its current
 * wr_seq (then increments it) into a new frame to the client.  Only for the
 * thread that owns wr_seq at that moment: the owning worker, or the control
 * plane once the session is reclaimed or the workers stopped.  NULL when no
 * mbuf, the sequence space is exhausted or sealing failed. */
struct rte_mbuf *dp_session_seal_frame(struct dp_gw *g, struct dp_session *s,
                                       struct cr_aead_ctx *aead, uint8_t type, const uint8_t *data,
                                       uint16_t len);

/* Worker pipeline entry points, exposed for tests and the dataplane bench:
 * processes n frames as if received on worker idx (from_handoff: they came
 * over the hand-off ring) and transmits the results. */
struct dp_worker;
struct dp_worker *dp_worker_new(struct dp_gw *g, unsigned idx);
void dp_worker_free(struct dp_worker *w);
void dp_worker_process(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n, bool from_handoff);
void dp_worker_flush(struct dp_worker *w);
/* Tests and bench-dataplane --general: off sends every frame through the
 * general checks only (classify_fast() and one_record_fast(), the twins for
 * the common one-record datagram, skipped), so that a test can compare both
 * on the same frames (test_worker.c, test_fast_paths_match_general).  On by
 * default. */
void dp_worker_set_fast_paths(struct dp_worker *w, bool on);

/* Stage profile (bench-dataplane-profile): built with -DDP_PROFILE_STAGES,
 * the worker adds the TSC cycles of each stage of every burst to a
 * per-worker array (two rdtsc per stage boundary, ~1 cycle per record at a
 * burst of 32); the product is built without it and pays nothing.
 * X(NAME, what) */
#define DP_PROF_STAGES(X)                                                                          \
    X(CLASSIFY, "prefetch + classify (Ethernet/IPv4/UDP checks, listener)")                        \
    X(LOOKUP, "flow cache + bulk session lookup")                                                  \
    X(DISPATCH, "record walk, replay pre-check, AEAD op set-up")                                   \
    X(AEAD, "the batch AEAD call (ipsec-mb)")                                                      \
    X(POST, "tag verdicts, replay update, rewrite + checksum")                                     \
    X(TX, "rte_eth_tx_burst")
enum dp_prof_stage {
#define DP_PROF_X(name, what) DP_PROF_##name,
    DP_PROF_STAGES(DP_PROF_X)
#undef DP_PROF_X
    DP_PROF_N
};
/* Cycles per stage since the worker was made; NULL when not built with
 * DP_PROFILE_STAGES. */
const uint64_t *dp_worker_profile(const struct dp_worker *w);
const char *dp_prof_stage_what(enum dp_prof_stage st);
const char *dp_prof_stage_name(enum dp_prof_stage st);

#endif
