/* dp_worker.c — the dataplane worker lcore: poll, classify, decrypt or
 * encrypt in one ipsec-mb batch per burst, rewrite, transmit.
 *
 * Owns: per-worker state (struct dp_worker: AEAD context, RX queues polled,
 * TX buffers, batch arrays), the per-lcore counters, the classification of
 * frames, and the session fields marked "owner" in dp_session.h for the
 * sessions this worker owns.
 * Must not: parse handshake messages (anything but epoch-current
 * application data of a live session goes to the control plane), allocate
 * anything but mbufs, block, or touch a session it does not own beyond the
 * read-only fields (those frames are handed to the owner over its ring).
 *
 * Replay discipline (RFC 6347 §4.1.2.6, "the receiver ... MUST discard
 * ... duplicate[s]"; the window is updated "only if the MAC verification
 * succeeds"): dp_replay_check before the batch, and again after the tag
 * verified (a duplicate inside the same burst passed the first check), then
 * dp_replay_update.
 */
#include "dp_worker.h"

#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "cr_aead.h"
#include "dp_counters.h"
#include "dp_ipv6.h"
#include "dp_record.h"

struct dp_lcore_counters dp_counters[RTE_MAX_LCORE];

static const char *const counter_names[DP_CNT_N] = {
#define X(name, kind, desc) #name,
    DP_COUNTERS(X)
#undef X
};
static const char *const counter_descs[DP_CNT_N] = {
#define X(name, kind, desc) desc,
    DP_COUNTERS(X)
#undef X
};
static const uint8_t counter_kinds[DP_CNT_N] = {
#define X(name, kind, desc) kind,
    DP_COUNTERS(X)
#undef X
};

const char *dp_counter_name(enum dp_counter_id id)
{
    return (unsigned)id < DP_CNT_N ? counter_names[id] : "?";
}
const char *dp_counter_desc(enum dp_counter_id id)
{
    return (unsigned)id < DP_CNT_N ? counter_descs[id] : "?";
}
int dp_counter_is_drop(enum dp_counter_id id)
{
    return (unsigned)id < DP_CNT_N ? counter_kinds[id] : 0;
}
uint64_t dp_counter_total(enum dp_counter_id id)
{
    uint64_t sum = 0;
    for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
        sum += __atomic_load_n(&dp_counters[l].c[id], __ATOMIC_RELAXED);
    return sum;
}
uint64_t dp_counter_drops_total(void)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < DP_CNT_N; i++)
        if (counter_kinds[i])
            sum += dp_counter_total((enum dp_counter_id)i);
    return sum;
}

/* ---- per-worker state ---------------------------------------------------- */

#define DP_RECENT_SLOTS 4096 /* recently punted unknown peers, per worker */
#define DP_RECENT_MS    2000 /* how long such a peer skips the stateless check */

/* Per-worker flow cache in front of the session table: direct-mapped by a
 * hash of the 4-tuple; a slot counts only while the table's removal
 * generation (dp_sess_gen) is the one it was filled under. */
#define DP_FLOW_SLOTS 4096 /* power of two */
/* Frames whose headers pass 1 prefetches ahead of the one it classifies. */
#define DP_PREFETCH_AHEAD 4
struct dp_flow_slot {
    uint64_t k0, k1; /* the dp_sess_key's two 8-byte words */
    uint64_t gen;
    struct dp_session *s;
};
/* The IPv6 clients' flow cache, apart so that the IPv4 one stays as it
 * is: a slot names a session found under generation gen; a hit compares
 * the frame's key with the session's own key6 (read-only after install,
 * and the session cannot be freed while gen is current, dp_sess_gen). */
#define DP_FLOW6_SLOTS 1024 /* power of two */
struct dp_flow6_slot {
    uint64_t gen;
    struct dp_session *s;
};

struct open_pkt {
    struct rte_mbuf *m;
    struct dp_session *s;
    uint16_t first_op;
    uint16_t n_ops;
    /* An earlier frame of this batch holds records of s: re-check the
     * replay window after the tag verified (flush_open). */
    bool recheck;
};

struct dp_worker {
    struct dp_gw *g;
    unsigned idx;
    unsigned lcore;
    struct cr_aead_ctx *aead;
    struct dp_lcore_counters *cnt;
    uint64_t now_tsc;
    struct {
        uint16_t port_idx;
        uint16_t q;
    } rxq[DP_MAX_PORTS * DP_MAX_RXQ_PER_PORT];
    unsigned n_rxq;
    struct rte_mbuf *tx[DP_MAX_PORTS][DP_TXBUF_MAX];
    unsigned n_tx[DP_MAX_PORTS];
    /* client → backend: records to open, grouped by frame */
    struct cr_aead_op open_ops[DP_OPS_MAX];
    struct open_pkt open_pkts[DP_BURST];
    unsigned n_open_ops;
    unsigned n_open_pkts;
    /* Batch number, stamped on each session with records in the batch
     * (dp_session.open_batch) so that a second frame of the same session
     * is known to need the post-tag replay re-check. */
    uint32_t open_serial;
    /* backend → client: one record per frame */
    struct cr_aead_op seal_ops[DP_BURST];
    struct rte_mbuf *seal_pkts[DP_BURST];
    struct dp_session *seal_sess[DP_BURST];
    unsigned n_seal;
    struct dp_record recs[DP_REC_MAX_PER_DGRAM];
    /* Peers whose datagram this worker recently punted as "not for the
     * stateless check" (a verified ClientHello): direct-mapped by
     * dp_peer_slot, so that a duplicate of their first ClientHello that
     * arrives right behind (same burst, before the control plane published
     * peer_busy) goes to the handshake engine too.  Worker-local: a peer's
     * frames always reach the same worker. */
    uint32_t recent_id[DP_RECENT_SLOTS];
    uint64_t recent_tsc[DP_RECENT_SLOTS];
    uint64_t recent_ticks;
    uint64_t sess_gen; /* dp_sess_gen at the start of this burst */
    bool no_fast;      /* dp_worker_set_fast_paths(w, false) */
    struct dp_flow_slot flow[DP_FLOW_SLOTS];
    struct dp_flow6_slot flow6[DP_FLOW6_SLOTS];
#ifdef DP_PROFILE_STAGES
    uint64_t prof[DP_PROF_N + 1]; /* [DP_PROF_N]: outside any stage */
    uint64_t prof_t;              /* TSC at the last stage boundary */
    unsigned prof_cur;            /* the stage running since prof_t */
#endif
};

#define CNT(w, name) ((w)->cnt->c[DP_CNT_##name]++)

/* Stage boundaries (dp_worker.h DP_PROF_STAGES): PROF_TO(w, st) charges
 * the cycles since the last boundary to the stage that ran and makes st
 * (a DP_PROF_* value, DP_PROF_N: outside any stage) the running one;
 * PROF_SAVE/PROF_TO(w, saved) bracket a stage entered from inside another
 * (a TX flush when the TX buffer fills mid-burst).  Nothing in builds
 * without DP_PROFILE_STAGES. */
#ifdef DP_PROFILE_STAGES
#define PROF_TO(w, st)                                                                             \
    do {                                                                                           \
        uint64_t prof_now_ = rte_rdtsc();                                                          \
        (w)->prof[(w)->prof_cur] += prof_now_ - (w)->prof_t;                                       \
        (w)->prof_t = prof_now_;                                                                   \
        (w)->prof_cur = (st);                                                                      \
    } while (0)
#define PROF_SAVE(w) ((w)->prof_cur)
#else
#define PROF_TO(w, st) ((void)(w))
#define PROF_SAVE(w)   (0u)
#endif

const uint64_t *dp_worker_profile(const struct dp_worker *w)
{
#ifdef DP_PROFILE_STAGES
    return w->prof;
#else
    (void)w;
    return NULL;
#endif
}

static const char *const prof_names[DP_PROF_N] = {
#define DP_PROF_X(name, what) #name,
    DP_PROF_STAGES(DP_PROF_X)
#undef DP_PROF_X
};
static const char *const prof_whats[DP_PROF_N] = {
#define DP_PROF_X(name, what) what,
    DP_PROF_STAGES(DP_PROF_X)
#undef DP_PROF_X
};

const char *dp_prof_stage_name(enum dp_prof_stage st)
{
    return (unsigned)st < DP_PROF_N ? prof_names[st] : "?";
}

const char *dp_prof_stage_what(enum dp_prof_stage st)
{
    return (unsigned)st < DP_PROF_N ? prof_whats[st] : "?";
}

/* IPv4 listener: address and port, then the family, so that an IPv6
 * listener (ip_be 0) never matches an IPv4 datagram to 0.0.0.0.  The
 * family is tested only on a match: one masked 8-byte compare of all
 * three cost ~2 cycles per record in bench-dataplane. */
static inline int find_listener(const struct dp_gw *g, uint32_t ip_be, uint16_t port_be)
{
    for (unsigned i = 0; i < g->n_listeners; i++)
        if (g->listeners[i].ip_be == ip_be && g->listeners[i].port_be == port_be &&
            likely(g->listeners[i].family == DP_AF_V4))
            return (int)i;
    return -1;
}

static inline int find_listener6(const struct dp_gw *g, const uint8_t *ip6, uint16_t port_be)
{
    for (unsigned i = 0; i < g->n_listeners; i++) {
        const struct dp_listener *l = &g->listeners[i];
        if (l->family == DP_AF_V6 && l->port_be == port_be &&
            memcmp(l->ip6, ip6, DP_IPV6_ADDR_LEN) == 0)
            return (int)i;
    }
    return -1;
}

int dp_gw_find_listener(const struct dp_gw *g, uint32_t ip_be, uint16_t port_be)
{
    return find_listener(g, ip_be, port_be);
}

int dp_gw_find_listener6(const struct dp_gw *g, const uint8_t *ip6, uint16_t port_be)
{
    return find_listener6(g, ip6, port_be);
}

int dp_gw_find_port_by_ip(const struct dp_gw *g, uint32_t ip_be)
{
    for (unsigned i = 0; i < g->n_ports; i++)
        if (g->ports[i].ip_be == ip_be)
            return (int)i;
    return -1;
}

int dp_gw_find_port_by_ip6(const struct dp_gw *g, const uint8_t *ip6)
{
    for (unsigned i = 0; i < g->n_ports; i++) {
        const struct dp_port *p = &g->ports[i];
        if (p->has_ip6 && (memcmp(p->ip6, ip6, DP_IPV6_ADDR_LEN) == 0 ||
                           memcmp(p->ip6_ll, ip6, DP_IPV6_ADDR_LEN) == 0))
            return (int)i;
    }
    return -1;
}

int dp_gw_find_port_by_solicited(const struct dp_gw *g, const uint8_t *ip6)
{
    uint8_t sn[DP_IPV6_ADDR_LEN];
    for (unsigned i = 0; i < g->n_ports; i++) {
        const struct dp_port *p = &g->ports[i];
        if (!p->has_ip6)
            continue;
        dp_ipv6_solicited_node(p->ip6, sn);
        if (memcmp(sn, ip6, DP_IPV6_ADDR_LEN) == 0)
            return (int)i;
        dp_ipv6_solicited_node(p->ip6_ll, sn);
        if (memcmp(sn, ip6, DP_IPV6_ADDR_LEN) == 0)
            return (int)i;
    }
    return -1;
}

int dp_gw_rings_create(struct dp_gw *g)
{
    char name[RTE_RING_NAMESIZE];
    for (unsigned i = 0; i < g->n_workers; i++) {
        snprintf(name, sizeof(name), "dgw_punt%u", i);
        g->punt[i] = rte_ring_create(name, DP_RING_PUNT_SIZE, (int)rte_socket_id(),
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "dgw_pnet%u", i);
        g->punt_net[i] = rte_ring_create(name, DP_RING_PUNT_NET_SIZE, (int)rte_socket_id(),
                                         RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "dgw_hoff%u", i);
        g->handoff[i] =
            rte_ring_create(name, DP_RING_HANDOFF_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "dgw_cptx%u", i);
        g->cptx[i] = rte_ring_create(name, DP_RING_CPTX_SIZE, (int)rte_socket_id(),
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (g->punt[i] == NULL || g->punt_net[i] == NULL || g->handoff[i] == NULL ||
            g->cptx[i] == NULL)
            return -rte_errno;
    }
    return 0;
}

static void ring_drain_free(struct rte_ring *r)
{
    void *objs[DP_BURST];
    unsigned n;
    if (r == NULL)
        return;
    while ((n = rte_ring_dequeue_burst(r, objs, DP_BURST, NULL)) > 0)
        rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
}

void dp_gw_rings_free(struct dp_gw *g)
{
    for (unsigned i = 0; i < DP_MAX_WORKERS; i++) {
        ring_drain_free(g->punt[i]);
        ring_drain_free(g->punt_net[i]);
        ring_drain_free(g->handoff[i]);
        ring_drain_free(g->cptx[i]);
        rte_ring_free(g->punt[i]);
        rte_ring_free(g->punt_net[i]);
        rte_ring_free(g->handoff[i]);
        rte_ring_free(g->cptx[i]);
        g->punt[i] = g->punt_net[i] = g->handoff[i] = g->cptx[i] = NULL;
    }
}

struct dp_worker *dp_worker_new(struct dp_gw *g, unsigned idx)
{
    struct dp_worker *w = rte_zmalloc("dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
    if (w == NULL)
        return NULL;
#ifdef DP_PROFILE_STAGES
    w->prof_cur = DP_PROF_N;
    w->prof_t = rte_rdtsc();
#endif
    w->g = g;
    w->idx = idx;
    w->lcore = rte_lcore_id() < RTE_MAX_LCORE ? rte_lcore_id() : 0;
    w->cnt = &dp_counters[w->lcore];
    w->recent_ticks = rte_get_tsc_hz() / 1000 * DP_RECENT_MS;
    w->open_serial = 1; /* sessions start with open_batch 0 */
    w->aead = cr_aead_ctx_new();
    if (w->aead == NULL) {
        rte_free(w);
        return NULL;
    }
    /* Queue q of a port is polled by worker q % n_workers. */
    for (unsigned p = 0; p < g->n_ports; p++)
        for (unsigned q = 0; q < g->ports[p].n_rxq; q++)
            if (q % g->n_workers == idx) {
                w->rxq[w->n_rxq].port_idx = (uint16_t)p;
                w->rxq[w->n_rxq].q = (uint16_t)q;
                w->n_rxq++;
            }
    return w;
}

void dp_worker_set_fast_paths(struct dp_worker *w, bool on)
{
    w->no_fast = !on;
}

void dp_worker_free(struct dp_worker *w)
{
    if (w == NULL)
        return;
    dp_worker_flush(w);
    cr_aead_ctx_free(w->aead);
    rte_free(w);
}

/* ---- TX --------------------------------------------------------------------- */

static void tx_flush_port(struct dp_worker *w, unsigned p)
{
    unsigned n = w->n_tx[p];
    if (n == 0)
        return;
    unsigned prof_outer = PROF_SAVE(w);
    (void)prof_outer;
    PROF_TO(w, DP_PROF_TX);
    const struct dp_port *port = &w->g->ports[p];
    /* Worker idx owns TX queue idx on every port (dp_port_init checked
     * that the device has one per worker). */
    uint16_t sent = rte_eth_tx_burst(port->port_id, (uint16_t)w->idx, w->tx[p], (uint16_t)n);
    w->cnt->c[DP_CNT_TX_PKTS] += sent;
    if (sent < n) {
        w->cnt->c[DP_CNT_DROP_TX_FULL] += n - sent;
        rte_pktmbuf_free_bulk(&w->tx[p][sent], n - sent);
    }
    w->n_tx[p] = 0;
    PROF_TO(w, prof_outer);
}

static inline void tx_enqueue(struct dp_worker *w, unsigned p, struct rte_mbuf *m)
{
    if (w->n_tx[p] == DP_TXBUF_MAX)
        tx_flush_port(w, p);
    w->tx[p][w->n_tx[p]++] = m;
}

void dp_worker_flush(struct dp_worker *w)
{
    for (unsigned p = 0; p < w->g->n_ports; p++)
        tx_flush_port(w, p);
}

static inline void drop(struct dp_worker *w, struct rte_mbuf *m, enum dp_counter_id why)
{
    w->cnt->c[why]++;
    rte_pktmbuf_free(m);
}

static inline void punt(struct dp_worker *w, struct rte_mbuf *m)
{
    if (rte_ring_enqueue(w->g->punt[w->idx], m) != 0) {
        drop(w, m, DP_CNT_DROP_PUNT_FULL);
        return;
    }
    CNT(w, PUNT);
}

/* ARP and ICMP to the control plane on their own ring (dp_gw.punt_net). */
static inline void punt_net(struct dp_worker *w, struct rte_mbuf *m)
{
    if (rte_ring_enqueue(w->g->punt_net[w->idx], m) != 0) {
        drop(w, m, DP_CNT_DROP_PUNT_NET_FULL);
        return;
    }
    CNT(w, PUNT);
}

static inline void handoff(struct dp_worker *w, struct rte_mbuf *m, unsigned owner,
                           bool from_handoff)
{
    if (from_handoff || owner >= w->g->n_workers) {
        drop(w, m, DP_CNT_DROP_HANDOFF_OWNER);
        return;
    }
    if (rte_ring_enqueue(w->g->handoff[owner], m) != 0) {
        drop(w, m, DP_CNT_DROP_HANDOFF_FULL);
        return;
    }
    CNT(w, HANDOFF_OUT);
}

/* ---- client → backend --------------------------------------------------- */

/* What the header pass found in one frame (pass 1 of dp_worker_process). */
enum cls_kind {
    CLS_DONE = 0,
    CLS_DTLS,  /* IPv4 client datagram to a listener */
    CLS_DTLS6, /* IPv6 client datagram to a listener */
    CLS_NAT,   /* IPv4, to a gateway address not a listener (a backend's) */
    CLS_NAT6   /* IPv6, likewise */
};
struct cls {
    union {
        struct rte_ipv4_hdr *ip; /* IPv4 (CLS_DTLS, CLS_NAT) */
        uint8_t *ip6;            /* IPv6 header (CLS_DTLS6, CLS_NAT6) */
    };
    struct rte_udp_hdr *udp;
    uint8_t *payload;
    uint16_t plen;
    uint8_t kind;
    uint8_t li;
    bool csum_deferred; /* UDP checksum not verified yet (listener datagram) */
};

/* The family follows from the kind (no field to store on the fast path). */
static inline bool cls_is_v6(const struct cls *c)
{
    return c->kind == CLS_DTLS6 || c->kind == CLS_NAT6;
}

static inline bool cls_udp_csum_ok(const struct rte_mbuf *m, const struct cls *c)
{
    if (cls_is_v6(c))
        return dp_pkt_udp6_csum_ok(m, c->ip6 + DP_IPV6_OFF_SRC, c->ip6 + DP_IPV6_OFF_DST, c->udp,
                                   rte_be_to_cpu_16(c->udp->dgram_len));
    return dp_pkt_udp_csum_ok(m, c->ip, c->udp);
}

/* Runs a deferred UDP checksum check (see classify) before a listener
 * datagram leaves the AEAD-protected fast path (punt, unknown peer).
 * False: m was dropped and counted as DROP_UDP_CSUM. */
static inline bool deferred_csum_ok(struct dp_worker *w, struct rte_mbuf *m, const struct cls *c)
{
    if (!c->csum_deferred || cls_udp_csum_ok(m, c))
        return true;
    drop(w, m, DP_CNT_DROP_UDP_CSUM);
    return false;
}

/* out's payload (after room for 42 header bytes) is a plaintext of s: the
 * headers towards s's backend, from s's own gateway-side port, then TX. */
/* The IPv6 backend's forward(), out of line: the IPv4 one stays as small
 * as it was in flush_open's loop. */
static __attribute__((noinline)) void forward6(struct dp_worker *w, struct rte_mbuf *out,
                                               const struct dp_session *s, uint64_t nh_mac_le)
{
    dp_pkt_write_ipv6_udp_le(out, &w->g->ports[s->backend_port_id], nh_mac_le, s->v6->nat_ip6,
                             s->v6->backend_ip6, rte_cpu_to_be_16(s->nat_port), s->backend_port);
    tx_enqueue(w, s->backend_port_id, out);
    CNT(w, RX_RECORDS);
}

static inline __attribute__((always_inline)) void
forward(struct dp_worker *w, struct rte_mbuf *out, const struct dp_session *s, uint64_t nh_mac_le)
{
    if (unlikely(s->backend_family == DP_AF_V6)) {
        forward6(w, out, s, nh_mac_le);
        return;
    }
    const struct dp_port *p = &w->g->ports[s->backend_port_id];
    dp_pkt_write_ipv4_udp_x(out, p, nh_mac_le, s->nat_ip, s->backend_ip,
                            rte_cpu_to_be_16(s->nat_port), s->backend_port,
                            p->backend_udp_csum_zero);
    tx_enqueue(w, s->backend_port_id, out);
    CNT(w, RX_RECORDS);
}

/* Bytes of headers the gateway writes in front of a datagram to the
 * backend / to the client of s. */
static inline uint16_t backend_hdr_len(const struct dp_session *s)
{
    return s->backend_family == DP_AF_V6 ? DP_ETH_IP6_UDP_LEN : DP_ETH_IP_UDP_LEN;
}
static inline uint16_t client_hdr_len(const struct dp_session *s)
{
    return s->family == DP_AF_V6 ? DP_ETH_IP6_UDP_LEN : DP_ETH_IP_UDP_LEN;
}

/* Sends record o of frame m (session s): in place when `in_place` (the
 * frame's last good record: its other plaintexts were copied out before;
 * 42 (IPv4) or 62 (IPv6) header bytes in front of the plaintext, which
 * lies inside the received frame, one segment, checked in pass 1: at
 * least 42 + 13 + 8 bytes of headers precede it, and the mbuf headroom
 * more), else as a copy in a new mbuf. */
static inline __attribute__((always_inline)) void
emit_record(struct dp_worker *w, struct rte_mbuf *m, const struct cr_aead_op *o,
            const struct dp_session *s, uint64_t nh_mac_le, bool in_place)
{
    const uint16_t hdr = backend_hdr_len(s);
    if (in_place) {
        m->data_off = (uint16_t)(o->out - (uint8_t *)m->buf_addr - hdr);
        m->data_len = (uint16_t)(hdr + o->len);
        m->ol_flags = 0;
        forward(w, m, s, nh_mac_le);
        return;
    }
    struct rte_mbuf *out = rte_pktmbuf_alloc(w->g->pool);
    if (out == NULL) {
        CNT(w, DROP_NO_MBUF);
        return;
    }
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(out, (uint16_t)(hdr + o->len));
    if (d == NULL) {
        rte_pktmbuf_free(out);
        CNT(w, DROP_TOO_BIG);
        return;
    }
    memcpy(d + hdr, o->out, o->len);
    forward(w, out, s, nh_mac_le);
}

/* Post stage, one pass per frame: tag verdict, replay (re)check and update
 * in record order, then each good record out in that order, the last one
 * in place.  A record's good predecessor is sent when the next good one is
 * found, so the in-place rewrite (which overwrites the bytes in front of
 * the last plaintext) comes after every copy out of the frame. */
static void flush_open(struct dp_worker *w)
{
    struct dp_gw *g = w->g;
    if (w->n_open_pkts == 0)
        return;
    unsigned prof_outer = PROF_SAVE(w);
    (void)prof_outer;
    PROF_TO(w, DP_PROF_AEAD);
    cr_aead_open_batch(w->aead, w->open_ops, w->n_open_ops);
    PROF_TO(w, DP_PROF_POST);

    for (unsigned j = 0; j < w->n_open_pkts; j++) {
        const struct open_pkt *op = &w->open_pkts[j];
        struct dp_session *s = op->s;
        struct rte_mbuf *m = op->m;
        /* Relaxed: a stale but valid MAC is fine (dp_nexthop). */
        const uint64_t mw = __atomic_load_n(&g->nexthops[s->backend_nh].mac_word, __ATOMIC_RELAXED);
        const bool nh_ok = (mw & DP_NH_VALID) != 0;
        const uint64_t nh_mac_le = dp_word_to_mac_le(mw);
        const struct cr_aead_op *pending = NULL; /* good, not yet sent */
        unsigned n_good = 0;
        const unsigned end = (unsigned)op->first_op + op->n_ops;

        for (unsigned k = op->first_op; k < end; k++) {
            const struct cr_aead_op *o = &w->open_ops[k];
            if (o->status != CR_OK) {
                CNT(w, DROP_AUTH);
                continue;
            }
            /* Second check, only where a duplicate inside this batch is
             * possible: the record is not the first of this session in
             * the batch (open_pkt.recheck), so an earlier one may have
             * moved the window since the first check. */
            if ((op->recheck || k != op->first_op) &&
                dp_replay_check(s->replay, o->seq) != DP_REPLAY_OK) {
                CNT(w, DROP_REPLAY);
                continue;
            }
            dp_replay_update(s->replay, o->seq);
            s->rx_records++;
            n_good++;
            if (pending != NULL && nh_ok)
                emit_record(w, m, pending, s, nh_mac_le, false);
            pending = o;
        }
        if (n_good == 0) {
            rte_pktmbuf_free(m);
            continue;
        }
        /* Relaxed: the control plane only needs an approximate idle time. */
        __atomic_store_n(&s->last_rx_tsc, w->now_tsc, __ATOMIC_RELAXED);
        if (!nh_ok) {
            w->cnt->c[DP_CNT_DROP_NH_UNRESOLVED] += n_good;
            rte_pktmbuf_free(m);
            continue;
        }
        emit_record(w, m, pending, s, nh_mac_le, true);
    }
    w->n_open_pkts = 0;
    w->n_open_ops = 0;
    w->open_serial++;
    PROF_TO(w, prof_outer);
}

/* Queues one record for the AEAD batch. */
static inline void open_op_add(struct dp_worker *w, struct dp_session *s, uint8_t *frag,
                               uint16_t length, uint16_t epoch, uint16_t version, uint64_t seq,
                               uint8_t type)
{
    unsigned need = (unsigned)s->explicit_nonce_len + s->tag_len;
    struct cr_aead_op *o = &w->open_ops[w->n_open_ops++];
    o->key = &s->rd_key;
    o->in = frag + s->explicit_nonce_len;
    o->out = frag + s->explicit_nonce_len;
    o->len = (uint32_t)(length - need);
    o->tag = frag + s->explicit_nonce_len + o->len;
    o->epoch = epoch;
    o->version = version;
    o->seq = seq;
    o->explicit_nonce = s->explicit_nonce_len ? frag : NULL;
    o->cid = NULL;
    o->cid_len = 0;
    o->type = type;
    /* status: every op gets one from cr_aead_open_batch; user: unused. */
}

static inline void open_pkt_add(struct dp_worker *w, struct rte_mbuf *m, struct dp_session *s,
                                unsigned first, unsigned n_ops)
{
    struct open_pkt *op = &w->open_pkts[w->n_open_pkts++];
    op->m = m;
    op->s = s;
    op->first_op = (uint16_t)first;
    op->n_ops = (uint16_t)n_ops;
    /* Owner-only field.  A stale stamp equal to the serial (a wrap, a
     * worker made again) only costs a re-check. */
    op->recheck = s->open_batch == w->open_serial;
    s->open_batch = w->open_serial;
}

/* The common datagram: exactly one application-data record of the
 * session's epoch, long enough for nonce and tag, not a replay, with room
 * in the batch.  Queues it exactly as the general path below would and
 * returns true; false: the general path decides (and counts).
 * A twin of dp_record_next()'s checks (dp_record.h) for that one record
 * plus client_records()' own (session epoch, nonce + tag, replay), kept
 * equal by the differential test "fast paths match the general checks"
 * (tests/unit/test_worker.c, test_fast_paths_match_general).  It saves ~10
 * cycles per record in bench-dataplane (--general: without it). */
_Static_assert(DP_REC_OFF_LENGTH == DP_REC_HDR_LEN - DP_REC_LEN_FIELD_LEN,
               "a record without CID: the length field ends the header");
static inline bool one_record_fast(struct dp_worker *w, struct rte_mbuf *m, struct dp_session *s,
                                   const struct dp_listener *l, const struct cls *c)
{
    const uint8_t *p = c->payload;
    uint16_t plen = c->plen;
    if (l->cid_len != 0 || plen <= DP_REC_HDR_LEN || w->n_open_pkts == DP_BURST ||
        w->n_open_ops == DP_OPS_MAX)
        return false;
    uint16_t epoch = dp_load_be16(p + DP_REC_OFF_EPOCH);
    uint16_t length = dp_load_be16(p + DP_REC_OFF_LENGTH);
    /* dp_record_next's tests for this record (type, version, length limit,
     * the body inside the datagram; epoch != 0 makes a non-zero length
     * necessary, which the nonce + tag test implies), and the whole
     * datagram is this record. */
    if (p[DP_REC_OFF_TYPE] != DP_CT_APPLICATION_DATA ||
        dp_load_be16(p + DP_REC_OFF_VERSION) != DP_VERSION_DTLS12 || epoch != s->epoch ||
        epoch == 0 || length != plen - DP_REC_HDR_LEN || length > DP_REC_CIPHERTEXT_MAX_LEN ||
        length < (unsigned)s->explicit_nonce_len + s->tag_len)
        return false;
    uint64_t seq = dp_load_be48(p + DP_REC_OFF_SEQ);
    if (dp_replay_check(s->replay, seq) != DP_REPLAY_OK)
        return false;
    unsigned first = w->n_open_ops;
    open_op_add(w, s, c->payload + DP_REC_HDR_LEN, length, epoch, DP_VERSION_DTLS12, seq,
                DP_CT_APPLICATION_DATA);
    open_pkt_add(w, m, s, first, 1);
    return true;
}

static inline bool is_session_app_data(const struct dp_session *s, const struct dp_record *r)
{
    return r->type == DP_CT_APPLICATION_DATA && r->epoch == s->epoch;
}

/* A datagram of the session's peer that holds application data and other
 * records: the control plane gets a copy of the frame with only the other
 * records (Ethernet, IP and UDP headers as received, lengths redone; IPv4:
 * header checksum redone, UDP checksum 0, the checksum was verified;
 * IPv6: UDP checksum redone, zero is not allowed there), so that the
 * application data is forwarded here and not lost. */
static void punt_other_records(struct dp_worker *w, const struct rte_mbuf *m,
                               const struct dp_session *s, const struct cls *c, unsigned nrec)
{
    const uint8_t *mb = rte_pktmbuf_mtod(m, const uint8_t *);
    struct rte_mbuf *o = rte_pktmbuf_alloc(w->g->pool);
    size_t hdr = (size_t)(c->payload - mb);
    uint8_t *d = o ? (uint8_t *)rte_pktmbuf_append(o, (uint16_t)hdr) : NULL;
    if (d == NULL) {
        rte_pktmbuf_free(o);
        CNT(w, DROP_NO_MBUF);
        return;
    }
    memcpy(d, mb, hdr);
    size_t body = 0;
    for (unsigned i = 0; i < nrec; i++) {
        const struct dp_record *r = &w->recs[i];
        if (is_session_app_data(s, r))
            continue;
        size_t rl = (size_t)r->hdr_len + r->length;
        uint8_t *x = (uint8_t *)rte_pktmbuf_append(o, (uint16_t)rl);
        if (x == NULL) { /* cannot happen: the copy is smaller than m */
            rte_pktmbuf_free(o);
            CNT(w, DROP_TOO_BIG);
            return;
        }
        memcpy(x, r->hdr, rl);
        body += rl;
    }
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(d + ((const uint8_t *)c->udp - mb));
    uint16_t udp_len = (uint16_t)(sizeof(*udp) + body);
    udp->dgram_len = rte_cpu_to_be_16(udp_len);
    udp->dgram_cksum = 0;
    if (cls_is_v6(c)) {
        uint8_t *ip6 = d + (c->ip6 - mb);
        uint16_t pl = (uint16_t)((uint8_t *)udp - ip6 - DP_IPV6_HDR_LEN + udp_len);
        ip6[DP_IPV6_OFF_PLEN] = (uint8_t)(pl >> 8);
        ip6[DP_IPV6_OFF_PLEN + 1] = (uint8_t)pl;
        uint16_t sum = dp_udp6_sum(ip6 + DP_IPV6_OFF_SRC, ip6 + DP_IPV6_OFF_DST, udp, udp_len);
        uint16_t ck = (uint16_t)~sum;
        udp->dgram_cksum = ck == 0 ? 0xffff : ck;
    } else {
        struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + ((const uint8_t *)c->ip - mb));
        ip->total_length = rte_cpu_to_be_16((uint16_t)((uint8_t *)udp - (uint8_t *)ip + udp_len));
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
    }
    o->port = m->port;
    o->ol_flags = 0;
    punt(w, o);
}

static void client_records(struct dp_worker *w, struct rte_mbuf *m, struct dp_session *s,
                           const struct dp_listener *l, const struct cls *c)
{
    if (!w->no_fast && one_record_fast(w, m, s, l, c))
        return;
    uint8_t *payload = c->payload;
    uint16_t plen = c->plen;
    int err = DP_RECORD_OK;
    /* dp_record_split is inline: a datagram that one_record_fast() did
     * not take costs one pass of dp_record_next's checks per record. */
    unsigned nrec = dp_record_split(payload, plen, l->cid_len, w->recs, DP_REC_MAX_PER_DGRAM, &err);
    if (nrec == 0) {
        drop(w, m, DP_CNT_DROP_RECORD_MALFORMED);
        return;
    }
    /* Only application data of the current epoch stays here; handshake,
     * CCS, alerts (encrypted or not) and other epochs go to the control
     * plane (RFC 6347 §4.2.4: a repeated final flight must reach the
     * handshake engine): the whole datagram when it holds nothing else, a
     * frame of just those records when application data shares it. */
    unsigned n_app = 0;
    for (unsigned i = 0; i < nrec; i++)
        n_app += is_session_app_data(s, &w->recs[i]);
    if (n_app < nrec) {
        if (!deferred_csum_ok(w, m, c))
            return;
        if (n_app == 0) {
            punt(w, m);
            return;
        }
        punt_other_records(w, m, s, c, nrec);
    }
    if (err != DP_RECORD_OK)
        CNT(w, DROP_RECORD_MALFORMED); /* trailing garbage after nrec records */

    if (w->n_open_pkts == DP_BURST || w->n_open_ops + nrec > DP_OPS_MAX)
        flush_open(w);

    unsigned first = w->n_open_ops;
    unsigned need = (unsigned)s->explicit_nonce_len + s->tag_len;
    for (unsigned i = 0; i < nrec; i++) {
        const struct dp_record *r = &w->recs[i];
        if (!is_session_app_data(s, r))
            continue; /* punted above */
        if (r->length < need) {
            CNT(w, DROP_RECORD_SHORT);
            continue;
        }
        if (dp_replay_check(s->replay, r->seq) != DP_REPLAY_OK) {
            CNT(w, DROP_REPLAY);
            continue;
        }
        open_op_add(w, s, (uint8_t *)(uintptr_t)r->fragment, r->length, r->epoch, r->version,
                    r->seq, r->type);
    }
    unsigned n_ops = w->n_open_ops - first;
    if (n_ops == 0) {
        rte_pktmbuf_free(m);
        return;
    }
    open_pkt_add(w, m, s, first, n_ops);
}

/* ---- backend → client --------------------------------------------------- */

/* The Ethernet/IP/UDP headers of a datagram from s's listener address to
 * its client (m's data starts client_hdr_len(s) bytes before the UDP
 * payload). */
static inline void write_client_hdrs(struct rte_mbuf *m, const struct dp_port *p,
                                     const struct dp_session *s)
{
    if (unlikely(s->family == DP_AF_V6))
        dp_pkt_write_ipv6_udp(m, p, &s->client_mac, s->v6->key6.local_ip, s->v6->key6.client_ip,
                              s->v6->key6.local_port, s->v6->key6.client_port);
    else
        dp_pkt_write_ipv4_udp(m, p, &s->client_mac, s->key.local_ip, s->key.client_ip,
                              s->key.local_port, s->key.client_port);
}

static void flush_seal(struct dp_worker *w)
{
    if (w->n_seal == 0)
        return;
    cr_aead_seal_batch(w->aead, w->seal_ops, w->n_seal);
    for (unsigned i = 0; i < w->n_seal; i++) {
        struct rte_mbuf *m = w->seal_pkts[i];
        struct dp_session *s = w->seal_sess[i];
        if (w->seal_ops[i].status != CR_OK) {
            drop(w, m, DP_CNT_DROP_SEAL_FAILED);
            continue;
        }
        write_client_hdrs(m, &w->g->ports[s->client_port_id], s);
        s->tx_records++;
        tx_enqueue(w, s->client_port_id, m);
        CNT(w, TX_RECORDS);
    }
    w->n_seal = 0;
}

/* Lays out Eth|IP|UDP|record header|explicit nonce|data|tag in m, whose
 * data currently starts with the `len` data bytes; returns the op's record
 * pointer or NULL (m untouched but must be dropped). */
static uint8_t *frame_record(struct dp_session *s, struct rte_mbuf *m, uint16_t len, uint8_t type,
                             uint64_t seq)
{
    const uint16_t l2l4 = client_hdr_len(s);
    uint16_t hdr = (uint16_t)(l2l4 + DP_REC_HDR_LEN + s->explicit_nonce_len);
    if (rte_pktmbuf_prepend(m, hdr) == NULL)
        return NULL;
    if (rte_pktmbuf_append(m, s->tag_len) == NULL)
        return NULL;
    uint8_t *rec = rte_pktmbuf_mtod_offset(m, uint8_t *, l2l4);
    dp_record_write_hdr(rec, type, s->version, s->epoch, seq, NULL, 0,
                        (uint16_t)(s->explicit_nonce_len + len + s->tag_len));
    if (s->explicit_nonce_len)
        cr_aead_explicit_nonce(rec + DP_REC_HDR_LEN, s->epoch, seq);
    return rec;
}

static void fill_seal_op(struct dp_session *s, struct cr_aead_op *o, uint8_t *rec, uint16_t len,
                         uint8_t type, uint64_t seq)
{
    uint8_t *data = rec + DP_REC_HDR_LEN + s->explicit_nonce_len;
    o->key = &s->wr_key;
    o->in = data;
    o->out = data;
    o->tag = data + len;
    o->len = len;
    o->epoch = s->epoch;
    o->version = s->version;
    o->seq = seq;
    o->explicit_nonce = s->explicit_nonce_len ? rec + DP_REC_HDR_LEN : NULL;
    o->cid = NULL;
    o->cid_len = 0;
    o->type = type;
    o->status = CR_ERR_INVAL;
    o->user = NULL;
}

static void backend_reply(struct dp_worker *w, struct rte_mbuf *m, struct dp_session *s,
                          uint8_t *payload, uint16_t plen)
{
    const struct dp_port *cp = &w->g->ports[s->client_port_id];
    size_t rec_len = (size_t)s->explicit_nonce_len + plen + s->tag_len;
    if (rec_len > DP_REC_CIPHERTEXT_MAX_LEN ||
        client_hdr_len(s) - RTE_ETHER_HDR_LEN + DP_REC_HDR_LEN + rec_len > cp->mtu) {
        drop(w, m, DP_CNT_DROP_TOO_BIG);
        return;
    }
    if (s->wr_seq > DP_REC_SEQ_MAX) {
        drop(w, m, DP_CNT_DROP_SEQ_EXHAUSTED);
        return;
    }
    if (w->n_seal == DP_BURST)
        flush_seal(w);
    /* Strip the old headers and any L2 padding: data = the UDP payload. */
    rte_pktmbuf_adj(m, (uint16_t)(payload - rte_pktmbuf_mtod(m, uint8_t *)));
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - plen));
    m->ol_flags = 0;
    uint64_t seq = s->wr_seq;
    uint8_t *rec = frame_record(s, m, plen, DP_CT_APPLICATION_DATA, seq);
    if (rec == NULL) {
        drop(w, m, DP_CNT_DROP_TOO_BIG);
        return;
    }
    s->wr_seq = seq + 1; /* owner-only field: plain store */
    unsigned i = w->n_seal++;
    fill_seal_op(s, &w->seal_ops[i], rec, plen, DP_CT_APPLICATION_DATA, seq);
    w->seal_pkts[i] = m;
    w->seal_sess[i] = s;
}

struct rte_mbuf *dp_session_seal_frame(struct dp_gw *g, struct dp_session *s,
                                       struct cr_aead_ctx *aead, uint8_t type, const uint8_t *data,
                                       uint16_t len)
{
    if (s->wr_seq > DP_REC_SEQ_MAX)
        return NULL;
    struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
    if (m == NULL)
        return NULL;
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, len);
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    memcpy(d, data, len);
    uint64_t seq = s->wr_seq;
    uint8_t *rec = frame_record(s, m, len, type, seq);
    if (rec == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    s->wr_seq = seq + 1;
    struct cr_aead_op o;
    fill_seal_op(s, &o, rec, len, type, seq);
    if (cr_aead_seal_batch(aead, &o, 1) != 1) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    write_client_hdrs(m, &g->ports[s->client_port_id], s);
    m->port = s->client_port_id;
    return m;
}

/* ---- unknown peers ----------------------------------------------------------- */

/* RFC 6347 §4.2.1: the cookie exchange keeps no state; answering the
 * HelloVerifyRequest here keeps a spoofed ClientHello flood off the
 * control plane.  Verified ClientHellos (and datagrams of peers still in
 * their handshake, which the control plane's hook lets through) are
 * punted. */
static void unknown_peer6_reply(struct dp_worker *w, struct rte_mbuf *m, unsigned li,
                                const struct cls *c, const uint8_t *reply, size_t rlen);

static void unknown_peer(struct dp_worker *w, struct rte_mbuf *m, const struct cls *c)
{
    struct dp_gw *g = w->g;
    const unsigned li = c->li;
    struct rte_udp_hdr *udp = c->udp;
    uint8_t *payload = c->payload;
    const uint16_t plen = c->plen;
    struct dp_addr peer =
        cls_is_v6(c) ? dp_addr_v6(c->ip6 + DP_IPV6_OFF_SRC) : dp_addr_v4(c->ip->src_addr);
    const uint32_t folded = dp_addr_fold32(&peer);
    uint32_t slot = dp_peer_slot(folded, udp->src_port);
    uint32_t id = folded ^ ((uint32_t)udp->src_port << 16) ^ udp->src_port;
    unsigned r = slot % DP_RECENT_SLOTS;
    if (g->unknown_peer == NULL || __atomic_load_n(&g->peer_busy[slot], __ATOMIC_RELAXED) != 0 ||
        (w->recent_id[r] == id && w->now_tsc - w->recent_tsc[r] < w->recent_ticks)) {
        punt(w, m);
        return;
    }
    uint8_t reply[DP_PEER_REPLY_MAX_BYTES];
    size_t rlen = 0;
    int v = g->unknown_peer(g->unknown_peer_arg, li, &peer, udp->src_port, payload, plen, reply,
                            sizeof(reply), &rlen);
    if (v == DP_PEER_PUNT) {
        w->recent_id[r] = id;
        w->recent_tsc[r] = w->now_tsc;
        punt(w, m);
        return;
    }
    if (v != DP_PEER_REPLY || rlen == 0 || rlen > plen) {
        drop(w, m, DP_CNT_DROP_UNKNOWN_PEER);
        return;
    }
    if (cls_is_v6(c)) {
        unknown_peer6_reply(w, m, li, c, reply, rlen);
        return;
    }
    struct rte_ipv4_hdr *ip = c->ip;
    /* Reply in place: same frame, addresses swapped, payload replaced. */
    struct rte_ether_addr peer_mac;
    memcpy(peer_mac.addr_bytes, rte_pktmbuf_mtod_offset(m, uint8_t *, RTE_ETHER_ADDR_LEN),
           RTE_ETHER_ADDR_LEN);
    uint32_t peer_ip = ip->src_addr, local_ip = ip->dst_addr;
    uint16_t peer_port = udp->src_port, local_port = udp->dst_port;
    uint16_t ihl = (uint16_t)((ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER);
    /* Move the payload start to offset 42 (drop IPv4 options). */
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    memcpy(b + DP_ETH_IP_UDP_LEN + (ihl - DP_IPV4_HDR_LEN), reply, rlen);
    if (ihl > DP_IPV4_HDR_LEN)
        rte_pktmbuf_adj(m, (uint16_t)(ihl - DP_IPV4_HDR_LEN));
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - DP_ETH_IP_UDP_LEN - rlen));
    m->ol_flags = 0;
    unsigned port = m->port < g->n_ports ? m->port : g->listeners[li].port_idx;
    dp_pkt_write_ipv4_udp(m, &g->ports[port], &peer_mac, local_ip, peer_ip, local_port, peer_port);
    tx_enqueue(w, port, m);
    CNT(w, HVR_SENT);
}

/* The IPv6 twin of the in-place reply above: payload replaced, extension
 * headers dropped, addresses swapped, UDP checksum computed (mandatory). */
static void unknown_peer6_reply(struct dp_worker *w, struct rte_mbuf *m, unsigned li,
                                const struct cls *c, const uint8_t *reply, size_t rlen)
{
    struct dp_gw *g = w->g;
    struct rte_ether_addr peer_mac;
    uint8_t peer_ip[DP_IPV6_ADDR_LEN], local_ip[DP_IPV6_ADDR_LEN];
    memcpy(peer_mac.addr_bytes, rte_pktmbuf_mtod_offset(m, uint8_t *, RTE_ETHER_ADDR_LEN),
           RTE_ETHER_ADDR_LEN);
    memcpy(peer_ip, c->ip6 + DP_IPV6_OFF_SRC, DP_IPV6_ADDR_LEN);
    memcpy(local_ip, c->ip6 + DP_IPV6_OFF_DST, DP_IPV6_ADDR_LEN);
    uint16_t peer_port = c->udp->src_port, local_port = c->udp->dst_port;
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    /* extension-header bytes between the fixed header and UDP */
    uint16_t ext = (uint16_t)((uint8_t *)c->udp - c->ip6 - DP_IPV6_HDR_LEN);
    memcpy(b + DP_ETH_IP6_UDP_LEN + ext, reply, rlen);
    if (ext > 0)
        rte_pktmbuf_adj(m, ext);
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - DP_ETH_IP6_UDP_LEN - rlen));
    m->ol_flags = 0;
    unsigned port = m->port < g->n_ports ? m->port : g->listeners[li].port_idx;
    dp_pkt_write_ipv6_udp(m, &g->ports[port], &peer_mac, local_ip, peer_ip, local_port, peer_port);
    tx_enqueue(w, port, m);
    CNT(w, HVR_SENT);
}

/* ---- classification ------------------------------------------------------ */

/* classify_fast() reads the frame as two little-endian 64-bit words, W0 at
 * the EtherType and W1 at the IPv4 flags/fragment offset, and tests the
 * fields classify() tests one by one with a mask and a compare per word.
 * A field at frame offset `off` sits in its word at bit CF_SHIFT(off, word). */
#define CF_W0_OFF            offsetof(struct rte_ether_hdr, ether_type)
#define CF_W1_OFF            (RTE_ETHER_HDR_LEN + offsetof(struct rte_ipv4_hdr, fragment_offset))
#define CF_IP_OFF(field)     (RTE_ETHER_HDR_LEN + offsetof(struct rte_ipv4_hdr, field))
#define CF_SHIFT(off, w_off) (8 * ((off) - (w_off)))
/* W0: EtherType IPv4 (bytes 12..13) and version 4 / IHL 5 (byte 14). */
#define CF_W0_MASK                                                                                 \
    (UINT64_C(0xffff) << CF_SHIFT(CF_W0_OFF, CF_W0_OFF) |                                          \
     UINT64_C(0xff) << CF_SHIFT(CF_IP_OFF(version_ihl), CF_W0_OFF))
#define CF_W0_WANT                                                                                 \
    ((uint64_t)RTE_BE16(RTE_ETHER_TYPE_IPV4) << CF_SHIFT(CF_W0_OFF, CF_W0_OFF) |                   \
     (uint64_t)RTE_IPV4_VHL_DEF << CF_SHIFT(CF_IP_OFF(version_ihl), CF_W0_OFF))
/* W0: the IPv4 total length, big-endian 16 bits. */
#define CF_TOT_SHIFT CF_SHIFT(CF_IP_OFF(total_length), CF_W0_OFF)
/* W1: MF flag and fragment offset zero (DF and the reserved bit ignored, as
 * classify() does), protocol UDP. */
#define CF_W1_MASK                                                                                 \
    ((uint64_t)RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)                           \
         << CF_SHIFT(CF_W1_OFF, CF_W1_OFF) |                                                       \
     UINT64_C(0xff) << CF_SHIFT(CF_IP_OFF(next_proto_id), CF_W1_OFF))
#define CF_W1_WANT ((uint64_t)IPPROTO_UDP << CF_SHIFT(CF_IP_OFF(next_proto_id), CF_W1_OFF))
_Static_assert(CF_W0_OFF == RTE_ETHER_HDR_LEN - sizeof(rte_be16_t), "EtherType ends the header");
_Static_assert(CF_IP_OFF(total_length) + sizeof(rte_be16_t) <= CF_W0_OFF + 8, "total length in W0");
_Static_assert(CF_IP_OFF(next_proto_id) < CF_W1_OFF + 8, "protocol in W1");
_Static_assert(RTE_ETHER_HDR_LEN + DP_IPV4_HDR_LEN + DP_UDP_HDR_LEN == DP_ETH_IP_UDP_LEN,
               "the fast path's frame: no IPv4 options");

/* The common frame in a few word compares: one segment, IPv4 without
 * options or fragmentation, a whole UDP datagram to a listener, checksums
 * good or not yet checked.  Fills c exactly as classify() would and
 * returns true; false: classify() decides (and counts) the frame.
 * A twin of classify()'s checks for that frame: the differential test
 * "fast paths match the general checks" (tests/unit/test_worker.c,
 * test_fast_paths_match_general) runs both on the same random frames and
 * near misses and requires the same frames, counters and replay state.
 * Measured with bench-dataplane (--general turns both fast paths off):
 * this one saves 3-6 cycles per record, one_record_fast() ~10. */
static inline bool classify_fast(struct dp_worker *w, struct rte_mbuf *m, struct cls *c)
{
    const uint64_t ipf = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    const uint64_t l4f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    const uint32_t len = m->data_len;
    if (m->nb_segs != 1 || len < DP_ETH_IP_UDP_LEN || ipf == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
        l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
        return false;
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    uint64_t w0, w1;
    memcpy(&w0, b + CF_W0_OFF, sizeof(w0));
    memcpy(&w1, b + CF_W1_OFF, sizeof(w1));
    uint32_t tot = rte_be_to_cpu_16((uint16_t)(w0 >> CF_TOT_SHIFT));
    if ((w0 & CF_W0_MASK) != CF_W0_WANT || (w1 & CF_W1_MASK) != CF_W1_WANT ||
        tot < DP_IPV4_HDR_LEN + DP_UDP_HDR_LEN || tot > len - RTE_ETHER_HDR_LEN)
        return false;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(b + RTE_ETHER_HDR_LEN);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + RTE_ETHER_HDR_LEN + DP_IPV4_HDR_LEN);
    if (rte_be_to_cpu_16(udp->dgram_len) != tot - DP_IPV4_HDR_LEN ||
        (ipf != RTE_MBUF_F_RX_IP_CKSUM_GOOD && dp_ipv4_hdr20_sum(ip) != 0xffff))
        return false;
    int li = find_listener(w->g, ip->dst_addr, udp->dst_port);
    if (li < 0)
        return false;
    c->ip = ip;
    c->udp = udp;
    c->payload = (uint8_t *)udp + sizeof(*udp);
    c->plen = (uint16_t)(tot - DP_IPV4_HDR_LEN - sizeof(*udp));
    c->kind = CLS_DTLS;
    c->li = (uint8_t)li;
    c->csum_deferred = l4f != RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    return true;
}

/* The counter of an IPv6 parse error (dp_ipv6.h DP_IPV6_ERRORS). */
static inline enum dp_counter_id ipv6_drop_reason(int err)
{
    switch (err) {
    case DP_IPV6_ERR_TRUNCATED:
    case DP_IPV6_ERR_BAD_VERSION:
    case DP_IPV6_ERR_BAD_LENGTH:
        return DP_CNT_DROP_IPV6_HEADER;
    case DP_IPV6_ERR_FRAGMENT:
        return DP_CNT_DROP_IPV6_FRAGMENT;
    default:
        return DP_CNT_DROP_IPV6_EXT;
    }
}

/* Pass 1 for an IPv6 frame (EtherType 0x86dd, one segment, len bytes at
 * b): the extension-header walk of dp_ipv6.h (RFC 8200 §4: skipped or
 * refused, each refusal counted), then the same decisions as for IPv4:
 * ICMPv6 to one of our addresses or to the solicited-node multicast
 * address of one (Neighbor Discovery, RFC 4861 §7.2.2) goes to the
 * control plane's ND/echo ring; UDP to a listener is a client datagram,
 * UDP to another of our addresses a backend's (NAT). */
static __attribute__((noinline)) void classify6(struct dp_worker *w, struct rte_mbuf *m,
                                                struct cls *c, uint8_t *b, uint32_t len)
{
    struct dp_gw *g = w->g;
    struct dp_ipv6_view v;
    uint8_t *ip6 = b + RTE_ETHER_HDR_LEN;
    int rc = dp_ipv6_parse(ip6, len - RTE_ETHER_HDR_LEN, &v);
    if (rc != DP_IPV6_OK) {
        drop(w, m, ipv6_drop_reason(rc));
        return;
    }
    /* Sources nobody can be answered at, refused before any lookup so
     * that no handshake, cookie reply or session is ever made for one:
     * RFC 4291 §2.7 "Multicast addresses must not be used as source
     * addresses in IPv6 packets"; §2.5.3 the loopback address "must not
     * be used as the source address in IPv6 packets that are sent
     * outside of a single node"; §2.5.5.2 an IPv4-mapped address does
     * not appear on the wire (and the control plane keys IPv4 peers by
     * it, control/cp_key.h); §2.5.2 the unspecified address only "in the
     * Source Address field of any IPv6 packets sent by an initializing
     * host before it has learned its own address": ICMPv6 from it goes on
     * (RFC 4862 §5.4 duplicate address detection probes are Neighbor
     * Solicitations from ::, control/gw_nd.c validates them), UDP does
     * not. */
    if (dp_ipv6_src_refused(v.src, v.proto == DP_IPPROTO_ICMPV6)) {
        drop(w, m, DP_CNT_DROP_IPV6_SOURCE);
        return;
    }
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip6 + v.l4_off);
    int li = -1;
    if (v.proto == DP_IPPROTO_UDP && v.l4_len >= sizeof(struct rte_udp_hdr))
        li = find_listener6(g, v.dst, udp->dst_port);
    if (li < 0 && dp_gw_find_port_by_ip6(g, v.dst) < 0 &&
        !(v.proto == DP_IPPROTO_ICMPV6 && dp_gw_find_port_by_solicited(g, v.dst) >= 0)) {
        drop(w, m, DP_CNT_DROP_NOT_FOR_US);
        return;
    }
    if (v.proto == DP_IPPROTO_ICMPV6) {
        punt_net(w, m);
        return;
    }
    if (v.proto != DP_IPPROTO_UDP) {
        drop(w, m, DP_CNT_DROP_NOT_UDP);
        return;
    }
    if (v.l4_len < sizeof(struct rte_udp_hdr)) {
        drop(w, m, DP_CNT_DROP_SHORT_FRAME);
        return;
    }
    if (rte_be_to_cpu_16(udp->dgram_len) != v.l4_len) {
        drop(w, m, DP_CNT_DROP_UDP_LEN);
        return;
    }
    /* RFC 8200 §8.1: "IPv6 receivers must discard UDP packets containing
     * a zero checksum". */
    if (udp->dgram_cksum == 0) {
        drop(w, m, DP_CNT_DROP_IPV6_UDP_ZERO_CSUM);
        return;
    }
    /* The checksum policy of IPv4 (dp_port.h): deferred for a listener. */
    uint64_t l4f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
        (li < 0 && !dp_pkt_udp6_csum_ok(m, v.src, v.dst, udp, v.l4_len))) {
        drop(w, m, DP_CNT_DROP_UDP_CSUM);
        return;
    }
    c->ip6 = ip6;
    c->udp = udp;
    c->payload = (uint8_t *)udp + sizeof(*udp);
    c->plen = (uint16_t)(v.l4_len - sizeof(*udp));
    if (li >= 0) {
        c->kind = CLS_DTLS6;
        c->li = (uint8_t)li;
        c->csum_deferred = l4f != RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    } else {
        c->kind = CLS_NAT6;
        c->csum_deferred = false;
    }
}

/* Pass 1: Ethernet/IPv4/UDP checks at fixed offsets after one length check
 * per header.  Frames that are dropped or punted here are consumed
 * (kind CLS_DONE). */
static void classify(struct dp_worker *w, struct rte_mbuf *m, struct cls *c)
{
    struct dp_gw *g = w->g;
    if (!w->no_fast && classify_fast(w, m, c))
        return;
    c->kind = CLS_DONE;
    if (m->nb_segs != 1) {
        drop(w, m, DP_CNT_DROP_MULTISEG);
        return;
    }
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t len = m->data_len;
    if (len < RTE_ETHER_HDR_LEN) {
        drop(w, m, DP_CNT_DROP_SHORT_FRAME);
        return;
    }
    const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)b;
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
        punt_net(w, m);
        return;
    }
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
        classify6(w, m, c, b, len);
        return;
    }
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
        drop(w, m, DP_CNT_DROP_NOT_IPV4);
        return;
    }
    /* Fixed offsets after one length check per header. */
    if (len - RTE_ETHER_HDR_LEN < sizeof(struct rte_ipv4_hdr)) {
        drop(w, m, DP_CNT_DROP_SHORT_FRAME);
        return;
    }
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(b + RTE_ETHER_HDR_LEN);
    uint32_t l3_avail = len - RTE_ETHER_HDR_LEN;
    uint32_t ihl = (uint32_t)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER;
    uint32_t tot = rte_be_to_cpu_16(ip->total_length);
    if ((ip->version_ihl >> 4) != IPVERSION || ihl < DP_IPV4_HDR_LEN || ihl > l3_avail ||
        tot < ihl || tot > l3_avail) {
        drop(w, m, DP_CNT_DROP_IP_HEADER);
        return;
    }
    if (!dp_pkt_ipv4_csum_ok(m, ip)) {
        drop(w, m, DP_CNT_DROP_IP_CSUM);
        return;
    }
    if ((rte_be_to_cpu_16(ip->fragment_offset) &
         (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
        drop(w, m, DP_CNT_DROP_IP_FRAGMENT);
        return;
    }
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
    /* A listener's address is one of our ports' (gw_main checks it), so a
     * datagram to a listener skips the search of the ports' addresses. */
    int li = -1;
    if (ip->next_proto_id == IPPROTO_UDP && tot - ihl >= sizeof(struct rte_udp_hdr))
        li = find_listener(g, ip->dst_addr, udp->dst_port);
    if (li < 0 && dp_gw_find_port_by_ip(g, ip->dst_addr) < 0 &&
        !dp_sess_is_nat_addr(g->sessions, ip->dst_addr)) {
        drop(w, m, DP_CNT_DROP_NOT_FOR_US);
        return;
    }
    if (ip->next_proto_id == IPPROTO_ICMP) {
        punt_net(w, m);
        return;
    }
    if (ip->next_proto_id != IPPROTO_UDP) {
        drop(w, m, DP_CNT_DROP_NOT_UDP);
        return;
    }
    if (tot - ihl < sizeof(struct rte_udp_hdr)) {
        drop(w, m, DP_CNT_DROP_SHORT_FRAME);
        return;
    }
    if (rte_be_to_cpu_16(udp->dgram_len) != tot - ihl) {
        drop(w, m, DP_CNT_DROP_UDP_LEN);
        return;
    }
    /* UDP checksum policy (dp_port.h): a NIC's "bad" always drops; a
     * datagram to a listener has its software check deferred (dtls_frame /
     * client_records run it before anything not AEAD-protected leaves the
     * fast path); any other datagram is verified here. */
    uint64_t l4f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD || (li < 0 && !dp_pkt_udp_csum_ok(m, ip, udp))) {
        drop(w, m, DP_CNT_DROP_UDP_CSUM);
        return;
    }
    c->ip = ip;
    c->udp = udp;
    c->payload = (uint8_t *)udp + sizeof(*udp);
    c->plen = (uint16_t)(tot - ihl - sizeof(*udp));
    if (li >= 0) {
        c->kind = CLS_DTLS;
        c->li = (uint8_t)li;
        c->csum_deferred = l4f != RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    } else {
        c->kind = CLS_NAT;
        c->csum_deferred = false;
    }
}

/* The address naming the NAT slots of IPv6-backend sessions on port
 * port_id (network order): dp_sess_nat_slot_ip6, the control plane's
 * rule; a port the gateway does not have has no address (0). */
static uint32_t nat_slot_ip6(const struct dp_gw *g, uint16_t port_id)
{
    return dp_sess_nat_slot_ip6(g->sessions, port_id,
                                port_id < g->n_ports ? g->ports[port_id].ip_be : 0);
}

/* Pass 3, backend side: the NAT map names the session. */
static void nat_frame(struct dp_worker *w, struct rte_mbuf *m, const struct cls *c,
                      bool from_handoff)
{
    /* An IPv4 reply names its slot by its destination (a pool address);
     * an IPv6 one by the first address of the receiving port's pool, the
     * slots the control plane gives IPv6-backend sessions
     * (gw_sess_nat_slot_ip6). */
    uint32_t slot_ip = cls_is_v6(c) ? nat_slot_ip6(w->g, m->port) : c->ip->dst_addr;
    struct dp_session *s =
        dp_sess_by_nat(w->g->sessions, slot_ip, rte_be_to_cpu_16(c->udp->dst_port));
    if (s == NULL) {
        drop(w, m, DP_CNT_DROP_NO_LISTENER);
        return;
    }
    /* The session's backend family and addresses: the NAT map is by port
     * only, shared by both families. */
    bool peer_ok;
    if (cls_is_v6(c))
        peer_ok = s->backend_family == DP_AF_V6 &&
                  memcmp(s->v6->nat_ip6, c->ip6 + DP_IPV6_OFF_DST, DP_IPV6_ADDR_LEN) == 0 &&
                  memcmp(s->v6->backend_ip6, c->ip6 + DP_IPV6_OFF_SRC, DP_IPV6_ADDR_LEN) == 0;
    else
        peer_ok = s->backend_family == DP_AF_V4 && s->nat_ip == c->ip->dst_addr &&
                  s->backend_ip == c->ip->src_addr;
    if (!peer_ok || s->backend_port != c->udp->src_port) {
        drop(w, m, DP_CNT_DROP_NAT_PEER);
        return;
    }
    /* Addresses and ports can be forged by anyone who reaches a port; a
     * backend reply also arrives on the port the backend route uses and
     * from the next hop's resolved MAC (the backend, or its router).
     * Otherwise a client-side host could inject plaintext that the
     * gateway would encrypt to the client as the backend's. */
    if (m->port != s->backend_port_id) {
        drop(w, m, DP_CNT_DROP_NAT_WRONG_PORT);
        return;
    }
    uint64_t nh_mac = __atomic_load_n(&w->g->nexthops[s->backend_nh].mac_word, __ATOMIC_RELAXED);
    const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    if (!(nh_mac & DP_NH_VALID) || (nh_mac & ~DP_NH_VALID) != dp_mac_to_word(&eth->src_addr)) {
        drop(w, m, DP_CNT_DROP_NAT_WRONG_MAC);
        return;
    }
    if (s->owner != w->idx) {
        handoff(w, m, s->owner, from_handoff);
        return;
    }
    backend_reply(w, m, s, c->payload, c->plen);
}

/* Pass 3, client side: s from the bulk lookup (NULL: unknown peer). */
static void dtls_frame(struct dp_worker *w, struct rte_mbuf *m, const struct cls *c,
                       struct dp_session *s, bool from_handoff)
{
    if (s == NULL) {
        if (deferred_csum_ok(w, m, c))
            unknown_peer(w, m, c);
        return;
    }
    if (s->owner != w->idx) {
        handoff(w, m, s->owner, from_handoff);
        return;
    }
    client_records(w, m, s, &w->g->listeners[c->li], c);
}

/* The session lines a client record needs, fetched while the rest of the
 * burst is looked up: the read-only fields, the owner's fields (replay
 * pointer, counters), the replay window's header and the tail of the read
 * key (nonce salt, suite and lengths; the AEAD reads the rest). */
static inline void sess_prefetch(const struct dp_session *s)
{
    rte_prefetch0(&s->key);
    rte_prefetch0(&s->wr_seq);
    rte_prefetch0(&s->rd_key.fixed_iv);
    rte_prefetch0(dp_session_replay_addr(s));
}

/* The session key of a client datagram as its two 8-byte words (the
 * layout of struct dp_sess_key): the IPv4 source and destination addresses
 * are adjacent in the header as client_ip and local_ip are in the key, the
 * UDP ports likewise, pad 0.  Built in registers and stored as two words:
 * field-by-field stores read back as words stall on store forwarding. */
_Static_assert(offsetof(struct dp_sess_key, client_ip) == 0 &&
                   offsetof(struct dp_sess_key, local_ip) == 4 &&
                   offsetof(struct dp_sess_key, client_port) == 8 &&
                   offsetof(struct dp_sess_key, local_port) == 10 &&
                   offsetof(struct dp_sess_key, pad) == 12 && sizeof(struct dp_sess_key) == 16,
               "dp_sess_key as two words");
_Static_assert(offsetof(struct rte_ipv4_hdr, dst_addr) ==
                       offsetof(struct rte_ipv4_hdr, src_addr) + sizeof(rte_be32_t) &&
                   offsetof(struct rte_udp_hdr, dst_port) ==
                       offsetof(struct rte_udp_hdr, src_port) + sizeof(rte_be16_t),
               "addresses and ports adjacent");
static inline void sess_key_words(const struct cls *c, uint64_t *out_k0, uint64_t *out_k1)
{
    uint32_t ports;
    memcpy(out_k0, &c->ip->src_addr, 8);
    memcpy(&ports, &c->udp->src_port, 4);
    *out_k1 = ports;
}

static inline struct dp_flow_slot *flow_slot(struct dp_worker *w, uint64_t k0, uint64_t k1)
{
    uint64_t h = (k0 ^ (k1 * UINT64_C(0x9e3779b97f4a7c15))) * UINT64_C(0xff51afd7ed558ccd);
    return &w->flow[h >> 52 & (DP_FLOW_SLOTS - 1)];
}

/* The flow cache for key j: a hit sets found[j] and prefetches the
 * session; a miss joins kp[]/miss_of[] for the bulk lookup. */
static inline void flow_probe(const struct dp_worker *w, const struct dp_sess_key *keys,
                              struct dp_flow_slot *const *slot, struct dp_session **found,
                              const struct dp_sess_key **kp, uint8_t *miss_of, unsigned *n_miss,
                              unsigned j)
{
    const struct dp_flow_slot *fs = slot[j];
    uint64_t k0, k1;
    memcpy(&k0, &keys[j], 8);
    memcpy(&k1, (const uint8_t *)&keys[j] + 8, 8);
    if (fs->s != NULL && fs->gen == w->sess_gen && fs->k0 == k0 && fs->k1 == k1) {
        found[j] = fs->s;
        sess_prefetch(fs->s);
        return;
    }
    kp[*n_miss] = &keys[j];
    miss_of[(*n_miss)++] = (uint8_t)j;
}

/* The session of an IPv6 client datagram: the IPv6 flow cache, then the
 * IPv6 table (one lookup per frame: IPv6 takes the general path). */
static __attribute__((noinline)) struct dp_session *lookup6(struct dp_worker *w,
                                                            const struct cls *c)
{
    struct dp_sess_key6 k;
    memcpy(k.client_ip, c->ip6 + DP_IPV6_OFF_SRC, DP_IPV6_ADDR_LEN);
    memcpy(k.local_ip, c->ip6 + DP_IPV6_OFF_DST, DP_IPV6_ADDR_LEN);
    k.client_port = c->udp->src_port;
    k.local_port = c->udp->dst_port;
    k.pad = 0;
    uint64_t x[5];
    _Static_assert(sizeof(x) == sizeof(k), "key6 as five words");
    memcpy(x, &k, sizeof(x));
    uint64_t h = (x[0] ^ x[2] ^ x[4] ^ ((x[1] ^ x[3]) * UINT64_C(0x9e3779b97f4a7c15))) *
                 UINT64_C(0xff51afd7ed558ccd);
    struct dp_flow6_slot *fs = &w->flow6[h >> 40 & (DP_FLOW6_SLOTS - 1)];
    if (fs->s != NULL && fs->gen == w->sess_gen && memcmp(&fs->s->v6->key6, &k, sizeof(k)) == 0) {
        sess_prefetch(fs->s);
        return fs->s;
    }
    struct dp_session *s = dp_sess_lookup6(w->g->sessions, &k);
    if (s != NULL) {
        fs->gen = w->sess_gen;
        fs->s = s;
        sess_prefetch(s);
    }
    return s;
}

static void process_chunk(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n,
                          bool from_handoff)
{
    struct cls c[DP_BURST];
    struct dp_sess_key keys[DP_BURST];
    const struct dp_sess_key *kp[DP_BURST];
    struct dp_session *found[DP_BURST];
    struct dp_session *found6[DP_BURST]; /* by frame, CLS_DTLS6 only */
    uint8_t key_of[DP_BURST];
    struct dp_flow_slot *slot[DP_BURST];
    unsigned n_keys = 0;

    PROF_TO(w, DP_PROF_CLASSIFY);
    /* Prefetch each frame's headers DP_PREFETCH_AHEAD frames ahead of
     * pass 1 (Ethernet to the record header and explicit nonce: 63 bytes,
     * the first cache line at the default headroom), so that the fetches
     * overlap the classification of the frames before.  A separate pass
     * prefetching the whole burst up front cost ~5 cycles per record more
     * in bench-dataplane (frames already cached, as after net_af_packet's
     * copy), and two lines per frame no less.  The AEAD reads each
     * payload sequentially, which the hardware prefetcher follows. */
    for (unsigned i = 0; i < n && i < DP_PREFETCH_AHEAD; i++)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], const uint8_t *));
    /* Pass 1: headers, and the flow cache DP_PREFETCH_AHEAD keys behind
     * (its slot was prefetched when that key was made), so that a hit's
     * session lines are prefetched while the rest of the burst is
     * classified.  Misses go to one bulk lookup below (rte_hash pipelines
     * the bucket accesses of all keys). */
    unsigned n_miss = 0, n_probed = 0;
    uint8_t miss_of[DP_BURST];
    for (unsigned i = 0; i < n; i++) {
        if (i + DP_PREFETCH_AHEAD < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH_AHEAD], const uint8_t *));
        classify(w, pkts[i], &c[i]);
        if (c[i].kind == CLS_DTLS) {
            uint64_t k0, k1;
            sess_key_words(&c[i], &k0, &k1);
            memcpy(&keys[n_keys], &k0, 8);
            memcpy((uint8_t *)&keys[n_keys] + 8, &k1, 8);
            slot[n_keys] = flow_slot(w, k0, k1);
            rte_prefetch0(slot[n_keys]);
            key_of[i] = (uint8_t)n_keys++;
            if (n_keys > DP_PREFETCH_AHEAD)
                flow_probe(w, keys, slot, found, kp, miss_of, &n_miss, n_probed++);
        } else if (unlikely(c[i].kind == CLS_DTLS6)) {
            found6[i] = lookup6(w, &c[i]);
        }
    }
    PROF_TO(w, DP_PROF_LOOKUP);
    while (n_probed < n_keys)
        flow_probe(w, keys, slot, found, kp, miss_of, &n_miss, n_probed++);
    if (n_miss > 0) {
        struct dp_session *mf[DP_BURST];
        dp_sess_lookup_bulk(w->g->sessions, kp, n_miss, mf);
        for (unsigned m = 0; m < n_miss; m++) {
            unsigned j = miss_of[m];
            found[j] = mf[m];
            if (mf[m] != NULL) {
                struct dp_flow_slot *fs = slot[j];
                memcpy(&fs->k0, &keys[j], 8);
                memcpy(&fs->k1, (const uint8_t *)&keys[j] + 8, 8);
                fs->gen = w->sess_gen;
                fs->s = mf[m];
            }
        }
    }
    PROF_TO(w, DP_PROF_DISPATCH);
    /* Pass 3: dispatch; records are batched for one AEAD call. */
    for (unsigned i = 0; i < n; i++) {
        if (c[i].kind == CLS_DTLS)
            dtls_frame(w, pkts[i], &c[i], found[key_of[i]], from_handoff);
        else if (c[i].kind == CLS_DTLS6)
            dtls_frame(w, pkts[i], &c[i], found6[i], from_handoff);
        else if (c[i].kind == CLS_NAT || c[i].kind == CLS_NAT6)
            nat_frame(w, pkts[i], &c[i], from_handoff);
    }
    PROF_TO(w, DP_PROF_N);
}

void dp_worker_process(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n, bool from_handoff)
{
    w->now_tsc = rte_get_tsc_cycles();
    w->sess_gen = dp_sess_gen(w->g->sessions);
    for (unsigned i = 0; i < n; i += DP_BURST)
        process_chunk(w, pkts + i, RTE_MIN((unsigned)DP_BURST, n - i), from_handoff);
    flush_open(w);
    flush_seal(w);
}

/* ---- the lcore loop -------------------------------------------------------- */

int dp_worker_main(void *arg)
{
    struct dp_worker_arg *a = arg;
    struct dp_gw *g = a->gw;
    unsigned idx = a->idx;
    struct dp_worker *w = dp_worker_new(g, idx);
    struct rte_mbuf *pkts[DP_BURST];
    struct rte_rcu_qsbr *qsbr = dp_sess_qsbr(g->sessions);

    if (w == NULL) {
        fprintf(stderr, "dtlsgw: worker %u: cannot allocate its state\n", idx);
        return -1;
    }
    (void)rte_rcu_qsbr_thread_register(qsbr, idx);
    rte_rcu_qsbr_thread_online(qsbr, idx);
    __atomic_store_n(&g->running[idx], 1, __ATOMIC_RELEASE);
    uint32_t idle = 0;

    /* Acquire pairs with the control plane's release store of stop. */
    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        /* No session pointer survives from the previous iteration. */
        rte_rcu_qsbr_quiescent(qsbr, idx);
        unsigned work = 0;
        for (unsigned r = 0; r < w->n_rxq; r++) {
            const struct dp_port *p = &g->ports[w->rxq[r].port_idx];
            uint16_t n = rte_eth_rx_burst(p->port_id, w->rxq[r].q, pkts, DP_BURST);
            if (n == 0)
                continue;
            w->cnt->c[DP_CNT_RX_PKTS] += n;
            for (uint16_t i = 0; i < n; i++)
                pkts[i]->port = w->rxq[r].port_idx;
            dp_worker_process(w, pkts, n, false);
            work += n;
        }
        unsigned n = rte_ring_dequeue_burst(g->handoff[idx], (void **)pkts, DP_BURST, NULL);
        if (n > 0) {
            w->cnt->c[DP_CNT_HANDOFF_IN] += n;
            dp_worker_process(w, pkts, n, true);
            work += n;
        }
        n = rte_ring_dequeue_burst(g->cptx[idx], (void **)pkts, DP_BURST, NULL);
        for (unsigned i = 0; i < n; i++) {
            unsigned p = pkts[i]->port;
            if (p >= g->n_ports) {
                drop(w, pkts[i], DP_CNT_DROP_TX_FULL);
                continue;
            }
            tx_enqueue(w, p, pkts[i]);
        }
        work += n;
        dp_worker_flush(w);
        if (work != 0) {
            idle = 0;
            continue;
        }
        if (g->idle_sleep_us != 0 && ++idle >= g->idle_polls) {
            /* Offline while asleep so a grace period never waits on us. */
            rte_rcu_qsbr_thread_offline(qsbr, idx);
            rte_delay_us_sleep(g->idle_sleep_us);
            rte_rcu_qsbr_thread_online(qsbr, idx);
            CNT(w, IDLE_SLEEP);
        }
    }
    dp_worker_flush(w);
    rte_rcu_qsbr_thread_offline(qsbr, idx);
    (void)rte_rcu_qsbr_thread_unregister(qsbr, idx);
    dp_worker_free(w);
    __atomic_store_n(&g->running[idx], 0, __ATOMIC_RELEASE);
    return 0;
}
