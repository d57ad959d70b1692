/* gw_cp.c — the control-plane loop: punted-datagram dispatch (ARP/ICMP to
 * gw_net, DTLS to the peer's handshake or session), the handshakes driven
 * through the engine (start, feed, output, restart and replacement, RFC
 * 6347 §4.2.8), retransmission timers, the periodic work (ARP, reclaim,
 * reaping, cookie rotation, control socket, GET /metrics, stats) and the
 * control plane's create/shutdown/free.
 *
 * Owns: the loop, TX of the control plane's frames (gw_cp_tx) and the due
 * list of fired timers.  The rest of gw_cp.h's list lives beside it:
 * gw_listeners.c (credentials, contexts, cookie checks), gw_peers.c (the
 * peer table, admission), gw_sessions.c (install, NAT, removal, alerts,
 * reaping, kill) and gw_cmds.c (stats, command handlers); gw_cp_priv.h
 * holds the state they share.  All of it runs on the main lcore but the
 * workers' stateless cookie check (gw_listeners_unknown_peer).
 * Must not: block, read into a handshake message beyond ch_random() (to
 * become the engine's "peek ClientHello" call), or write a session's
 * owner-only fields (wr_seq, replay window) while a worker may still hold
 * the session.
 */
#include "gw_cp.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_timer.h>
#include <rte_udp.h>

#include <openssl/rand.h>

#include "cp_ch_asm.h"
#include "cp_hs_limit.h"
#include "cr_aead.h"
#include "dp_counters.h"
#include "dp_ipv6.h"
#include "dp_record.h"
#include "dp_wire.h"
#include "gw_cmds.h"
#include "gw_cp_priv.h"
#include "gw_listeners.h"
#include "gw_net.h"
#include "gw_peers.h"
#include "gw_restart.h"
#include "gw_sessions.h"
#include "gw_telemetry.h"
#include "hs.h"
#ifdef GW_HAVE_CTL
#include "gw_ctl.h"
#include "gw_http.h"
#endif

#define GW_CP_DUE_BURST           256 /* fired timers handled per loop */
#define GW_STATE_SAVE_WHY_MAX_LEN 300

/* The one place the gateway reads into a ClientHello (through the
 * engine's hs_ch_peek): the ClientHello.random of a
 * datagram that starts with an epoch-0 ClientHello record whose first
 * fragment reaches past the random, or NULL. */
static const uint8_t *ch_random(const uint8_t *d, size_t len)
{
    /* Only the fragment that starts the message holds the random, and
     * only if it reaches past it: a later fragment of a ClientHello split
     * over datagrams (small MTU) is not a new ClientHello (issue 9: before
     * this check its bytes read as another random and restarted the
     * handshake each time, so the client never got an answer).  The
     * engine's peek checks every length field on the way. */
    struct hs_ch_view v;
    if (hs_ch_peek(d, len, &v) != HS_CH_PEEK_OK || !v.has_random)
        return NULL;
    return v.random;
}

/* ---- TX ---------------------------------------------------------------- */

void gw_cp_tx(struct gw_cp *cp, struct rte_mbuf *m)
{
    struct dp_gw *g = cp->g;
    /* A handshake lcore never touches a TX queue (the control TX queue
     * and worker 0's cptx ring have one producer, the main lcore): its
     * frames go to the main lcore over its hs_tx ring (gw_cp_run drains
     * it). */
    if (cp->hs_tx != NULL && rte_lcore_id() != rte_get_main_lcore()) {
        if (rte_ring_enqueue(cp->hs_tx, m) != 0) {
            dp_cnt_inc(DP_CNT_DROP_TX_FULL);
            rte_pktmbuf_free(m);
        }
        return;
    }
    unsigned p = m->port;
    if (p >= g->n_ports) {
        dp_cnt_inc(DP_CNT_DROP_TX_FULL);
        rte_pktmbuf_free(m);
        return;
    }
    const struct dp_port *port = &g->ports[p];
    uint16_t sent;
    if (port->cp_txq >= 0) {
        sent = rte_eth_tx_burst(port->port_id, (uint16_t)port->cp_txq, &m, 1);
    } else if (cp->workers_running) {
        /* No spare TX queue: worker 0 transmits for us. */
        if (rte_ring_enqueue(g->cptx[0], m) != 0) {
            dp_cnt_inc(DP_CNT_DROP_TX_FULL);
            rte_pktmbuf_free(m);
        }
        return;
    } else {
        /* Workers stopped: their queue 0 is ours now. */
        sent = rte_eth_tx_burst(port->port_id, 0, &m, 1);
    }
    if (sent == 1) {
        dp_cnt_inc(DP_CNT_TX_PKTS);
    } else {
        dp_cnt_inc(DP_CNT_DROP_TX_FULL);
        rte_pktmbuf_free(m);
    }
}

static void send_to_peer(struct gw_cp *cp, const struct cp_peer *peer, const uint8_t *data,
                         size_t len)
{
    struct rte_mbuf *m =
        gw_net_udp_frame_key(cp->g, peer->port_idx, &peer->mac, &peer->key, data, len);
    if (m == NULL) {
        dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
        return;
    }
    gw_cp_tx(cp, m);
}

/* ---- handshakes ------------------------------------------------------------ */

static void peer_hs_peer(const struct cp_peer *peer, struct hs_peer *hp)
{
    memset(hp, 0, sizeof(*hp));
    struct dp_addr a = cp_key_client(&peer->key);
    memcpy(hp->addr, dp_addr_bytes(&a), dp_addr_len(&a));
    hp->port = rte_be_to_cpu_16(peer->key.client_port);
    hp->family = dp_addr_is_v6(&a) ? 6 : 4;
}

static void timer_cb(struct rte_timer *t, void *arg)
{
    (void)t;
    struct cp_peer *peer = arg;
    /* Work happens in the loop, not here: rte_timer_manage still touches
     * the timer after this returns, so the peer must not be freed now. */
    if (!peer->fired) {
        peer->fired = true;
        TAILQ_INSERT_TAIL(&peer->cp->due, peer, due_link);
    }
}

/* The counter of each reason a session ticket fell back to a full
 * handshake (hs.h HS_RESUME_FALLBACKS; a reason without its counter in
 * dp_counters.h does not compile). */
static const enum dp_counter_id ticket_fallback_cnt[HS_RESUME_FB_N] = {[HS_RESUME_FB_NONE] =
                                                                           DP_CNT_N,
#define CP_X_TFB(name, text) [HS_RESUME_FB_##name] = DP_CNT_CP_TICKET_FB_##name,
                                                                       HS_RESUME_FALLBACKS(CP_X_TFB)
#undef CP_X_TFB
};

/* The session-ID cache's counters, by the hs_stats field that feeds each. */
static const struct {
    size_t off;
    enum dp_counter_id cnt;
} sessid_cnt[] = {
    {offsetof(struct hs_stats, sessid_stored), DP_CNT_CP_SESSID_STORED},
    {offsetof(struct hs_stats, sessid_evicted), DP_CNT_CP_SESSID_EVICTED},
    {offsetof(struct hs_stats, sessid_expired), DP_CNT_CP_SESSID_EXPIRED},
    {offsetof(struct hs_stats, sessid_hit), DP_CNT_CP_SESSID_HIT},
    {offsetof(struct hs_stats, sessid_miss), DP_CNT_CP_SESSID_MISS},
    {offsetof(struct hs_stats, sessid_other), DP_CNT_CP_SESSID_OTHER_SHARD},
    {offsetof(struct hs_stats, sessid_refused), DP_CNT_CP_SESSID_REFUSED},
};

/* Adds what the engine refused during one call to the counters. */
static void hs_count_refusals(const struct hs *hs, const struct hs_stats *before)
{
    const struct hs_stats *st = hs_get_stats(hs);
    unsigned lc = rte_lcore_id();
    for (size_t i = 0; i < sizeof(sessid_cnt) / sizeof(sessid_cnt[0]); i++) {
        uint64_t now, was;
        memcpy(&now, (const uint8_t *)st + sessid_cnt[i].off, sizeof(now));
        memcpy(&was, (const uint8_t *)before + sessid_cnt[i].off, sizeof(was));
        if (now != was)
            dp_cnt_add(lc, sessid_cnt[i].cnt, now - was);
    }
    if (st->tickets_issued != before->tickets_issued)
        dp_cnt_add(lc, DP_CNT_CP_TICKET_ISSUED, st->tickets_issued - before->tickets_issued);
    for (unsigned r = 1; r < HS_RESUME_FB_N; r++)
        if (st->resume_fallbacks[r] != before->resume_fallbacks[r])
            dp_cnt_add(lc, ticket_fallback_cnt[r],
                       st->resume_fallbacks[r] - before->resume_fallbacks[r]);
    if (st->reasm_refused != before->reasm_refused)
        dp_cnt_add(lc, DP_CNT_DROP_CP_HS_REASM_CAP, st->reasm_refused - before->reasm_refused);
    if (st->peer_resends_limited != before->peer_resends_limited)
        dp_cnt_add(lc, DP_CNT_CP_HS_RESEND_LIMITED,
                   st->peer_resends_limited - before->peer_resends_limited);
}

/* Ends the new handshake of a replacing peer (its handshake slot is free
 * again); its live session stays. */
static void pending_abandon(struct gw_cp *cp, struct cp_peer *peer)
{
    gw_peer_hs_done(cp, peer);
    (void)rte_timer_stop(&peer->timer);
    hs_free(peer->hs);
    peer->hs = NULL;
    peer->replacing = false;
    peer->has_random = false;
}

/* A handshake that ended without a session: counted by event and by
 * reason, and one log line per peer (gw_peer_log's rate limit) with the
 * reason, where it stopped and what the client offered. */
static void hs_failed(struct gw_cp *cp, const struct cp_peer *peer, const struct hs_out *out,
                      const char *tail)
{
    dp_cnt_inc(out->event == HS_EV_FAILED ? DP_CNT_CP_HS_FAILED : DP_CNT_CP_HS_TIMEOUT);
    enum hs_fail_reason r = hs_fail_reason(peer->hs);
    uint64_t *fc = &cp->hs_fail[r < HS_FAIL_N ? r : HS_FAIL_INTERNAL];
    /* single writer; telemetry reads it (relaxed, gw_cp_stats_snapshot) */
    __atomic_store_n(fc, *fc + 1, __ATOMIC_RELAXED);
    const struct hs_stats *st = hs_get_stats(peer->hs);
    char facts[HS_OFFER_FACTS_MAX_LEN], why[HS_OFFER_FACTS_MAX_LEN + 320];
    snprintf(why, sizeof(why),
             "handshake %s: %s; waiting for %s; client offered %s; flights %" PRIu64
             ", retransmits %" PRIu64 ", dropped records %" PRIu64 "%s",
             out->event == HS_EV_FAILED ? "failed" : "timed out", hs_fail_reason_text(r),
             hs_state_name(peer->hs), hs_offer_facts(peer->hs, facts, sizeof(facts)),
             st ? st->flights_sent : 0, st ? st->retransmits : 0, st ? st->dropped_records : 0,
             tail);
    gw_peer_log(cp, peer, why, out->event == HS_EV_FAILED ? out->alert : -1);
}

/* Sends out's datagrams, re-arms the timer, acts on the event.  Returns
 * false when the peer was freed. */
static bool handle_out(struct gw_cp *cp, struct cp_peer *peer, const struct hs_out *out)
{
    /* Install before the final flight leaves: the client may send
     * application data as soon as it has our Finished, and the worker must
     * find the session by then. */
    if (out->event == HS_EV_ESTABLISHED && peer->replacing) {
        /* The new handshake completed: now the old association goes. */
        dp_cnt_inc(DP_CNT_CP_SESS_REPLACED);
        gw_sess_remove(cp, peer, false);
        peer->replacing = false;
    }
    if (out->event == HS_EV_ESTABLISHED && peer->sess == NULL && gw_sess_install(cp, peer) < 0) {
        gw_peer_free(cp, peer, false); /* counted as DROP_CP_INSTALL */
        return false;
    }
    if (peer->replacing && (out->event == HS_EV_FAILED || out->event == HS_EV_TIMEOUT)) {
        /* The new handshake failed (or was a replay that nobody answers):
         * the live session stays as it was, without an engine. */
        hs_failed(cp, peer, out, "; the live session stays");
        dp_cnt_inc(DP_CNT_CP_SESS_KEPT);
        for (unsigned i = 0; i < out->n_dgrams; i++)
            send_to_peer(cp, peer, out->dgrams[i].data, out->dgrams[i].len);
        pending_abandon(cp, peer);
        return true;
    }
    for (unsigned i = 0; i < out->n_dgrams; i++)
        send_to_peer(cp, peer, out->dgrams[i].data, out->dgrams[i].len);
    if (out->next_timer_ms != 0) {
        uint64_t now = gw_cp_now_ms(cp);
        uint64_t dt = out->next_timer_ms > now ? out->next_timer_ms - now : 1;
        (void)rte_timer_reset(&peer->timer, dt * cp->tick_per_ms, SINGLE, rte_lcore_id(), timer_cb,
                              peer);
    } else {
        (void)rte_timer_stop(&peer->timer);
    }
    switch (out->event) {
    case HS_EV_ESTABLISHED:
        dp_cnt_inc(DP_CNT_CP_HS_ESTABLISHED);
        if (hs_keys(peer->hs) != NULL && hs_keys(peer->hs)->resumed)
            dp_cnt_inc(DP_CNT_CP_HS_RESUMED);
        gw_peer_hs_done(cp, peer); /* a session now, under max_sessions */
        return true;
    case HS_EV_CLOSED:
        dp_cnt_inc(DP_CNT_CP_SESS_CLOSED);
        gw_peer_free(cp, peer, false);
        return false;
    case HS_EV_FAILED:
    case HS_EV_TIMEOUT:
        hs_failed(cp, peer, out, "");
        gw_peer_free(cp, peer, false);
        return false;
    default:
        return true;
    }
}

/* Returns false when the peer was freed. */
static bool hs_feed(struct gw_cp *cp, struct cp_peer *peer, const uint8_t *d, size_t len)
{
    struct hs_out out;
    memset(&out, 0, sizeof(out));
    struct hs_stats before = *hs_get_stats(peer->hs);
    int rc = hs_input(peer->hs, d, len, gw_cp_now_ms(cp), &out);
    hs_count_refusals(peer->hs, &before);
    if (rc < 0 && out.event != HS_EV_FAILED && out.event != HS_EV_TIMEOUT)
        dp_cnt_inc(DP_CNT_DROP_CP_HS_INPUT);
    return handle_out(cp, peer, &out);
}

/* Starts a handshake for a peer whose ClientHello passed the cookie check
 * (or cookies are off).  peer may be an existing entry being reused. */
static void peer_start(struct gw_cp *cp, struct cp_peer *peer, const uint8_t *d, size_t len)
{
    struct hs_peer hp;
    const uint8_t *rnd = ch_random(d, len);
    peer->has_random = rnd != NULL;
    if (rnd != NULL)
        memcpy(peer->ch_random, rnd, DP_HELLO_RANDOM_LEN);
    peer_hs_peer(peer, &hp);
    peer->hs = hs_new(cp->lst[peer->listener].ctx, &hp, gw_cp_now_ms(cp));
    if (peer->hs == NULL) {
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        if (peer->replacing)
            pending_abandon(cp, peer);
        else
            gw_peer_free(cp, peer, false);
        return;
    }
    dp_cnt_inc(DP_CNT_CP_HS_STARTED);
    hs_feed(cp, peer, d, len);
}

/* True when rnd is the ClientHello.random of the peer's current handshake
 * (a retransmission or a late duplicate, not a new connection). */
static bool ch_random_is_current(const struct cp_peer *peer, const uint8_t *rnd)
{
    return peer->has_random && memcmp(rnd, peer->ch_random, DP_HELLO_RANDOM_LEN) == 0;
}

/* A new ClientHello from the address:port of a peer we hold state for (a
 * live session, or a handshake a rebooted device will never finish).
 * RFC 6347 §4.2.8: "the server MUST NOT destroy existing associations until
 * the client has demonstrated reachability ... by completing a cookie
 * exchange"; after that the new handshake replaces the old state. */
static void replace_handshake(struct gw_cp *cp, struct cp_peer *peer, const uint8_t *d, size_t len)
{
    if (gw_listeners_cookie_verdict(cp, peer->listener, &peer->key, peer->port_idx, &peer->mac, d,
                                    len) != HS_COOKIE_VALID)
        return;
    /* A session becoming a handshake again takes a handshake slot; when
     * none is free the session stays. */
    if (!peer->hs_counted) {
        if (!gw_peer_hs_admit(cp, cp_key_source_id(&peer->key)))
            return;
        peer->hs_counted = true;
    }
    if (peer->sess != NULL) {
        /* RFC 6347 §4.2.8: "proceed with a handshake but preserve the
         * existing association until the new handshake completes" — a
         * replayed old ClientHello whose cookie is still valid must not end
         * a live session (counted CP_SESS_REPLACED when it completes). */
        dp_cnt_inc(DP_CNT_CP_SESS_REHANDSHAKE);
        peer->replacing = true;
    } else {
        dp_cnt_inc(DP_CNT_CP_HS_RESTARTED);
        gw_peer_log(cp, peer, "client restarted its handshake", -1);
    }
    (void)rte_timer_stop(&peer->timer);
    hs_free(peer->hs);
    peer->hs = NULL;
    peer_start(cp, peer, d, len);
}

/* A datagram from the peer of a live session that a worker did not take:
 * a new ClientHello, an encrypted alert, a repeated final flight. */
static void session_datagram(struct gw_cp *cp, struct cp_peer *peer, const uint8_t *d, size_t len,
                             const struct dp_record *recs, unsigned n)
{
    struct dp_session *s = peer->sess;
    if (recs[0].epoch == 0 && recs[0].type == DP_CT_HANDSHAKE && recs[0].length > 0 &&
        recs[0].fragment[DP_HS_OFF_TYPE] == DP_HS_CLIENT_HELLO) {
        /* A late duplicate of the ClientHello that made this session (the
         * network duplicated or delayed it): not a new connection. */
        const uint8_t *rnd = ch_random(d, len);
        if (rnd != NULL && ch_random_is_current(peer, rnd)) {
            dp_cnt_inc(DP_CNT_DROP_CP_SESSION_RECORD);
            return;
        }
        replace_handshake(cp, peer, d, len);
        return;
    }
    if (peer->replacing) {
        /* The new handshake's flights (epoch 0, and its epoch-1 Finished,
         * which the old session's keys do not open) go to its engine. */
        for (unsigned i = 0; i < n; i++)
            if (recs[i].type == DP_CT_HANDSHAKE || recs[i].type == DP_CT_CHANGE_CIPHER_SPEC) {
                if (!hs_feed(cp, peer, d, len) || peer->sess != s)
                    return; /* peer freed, or it completed: s is gone */
                break;
            }
    }
    /* RFC 6347 §4.2.4: the client repeated its final flight (epoch-0
     * ClientKeyExchange/CCS, epoch-1 Finished) because our Finished was
     * lost: the engine, kept for this, retransmits its last flight. */
    for (unsigned i = 0; i < n && !peer->replacing && peer->hs != NULL; i++)
        if (recs[i].type == DP_CT_HANDSHAKE || recs[i].type == DP_CT_CHANGE_CIPHER_SPEC) {
            dp_cnt_inc(DP_CNT_CP_FINAL_FLIGHT_REPEAT);
            struct hs_out out;
            memset(&out, 0, sizeof(out));
            (void)hs_input(peer->hs, d, len, gw_cp_now_ms(cp), &out);
            for (unsigned j = 0; j < out.n_dgrams; j++)
                send_to_peer(cp, peer, out.dgrams[j].data, out.dgrams[j].len);
            break;
        }
    for (unsigned i = 0; i < n && peer->sess == s; i++) {
        const struct dp_record *r = &recs[i];
        if (r->type == DP_CT_HANDSHAKE || r->type == DP_CT_CHANGE_CIPHER_SPEC)
            continue; /* the engine had them */
        if (r->epoch != s->epoch) {
            dp_cnt_inc(DP_CNT_DROP_CP_SESSION_RECORD);
            continue;
        }
        if (r->type != DP_CT_ALERT) {
            dp_cnt_inc(DP_CNT_DROP_CP_SESSION_RECORD);
            continue;
        }
        /* Encrypted alert: the session's to read (gw_sessions.c). */
        if (!gw_sess_alert_input(cp, peer, r))
            return; /* peer freed */
    }
}

/* True when every record of the datagram (recs[0..n), n > 0) is
 * application data of the session's epoch, i.e. dataplane work. */
static bool app_data_only(const struct dp_session *s, const struct dp_record *recs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (recs[i].type != DP_CT_APPLICATION_DATA || recs[i].epoch != s->epoch)
            return false;
    return true;
}

/* Hands m (punted by worker) to the shard that owns its peer; true when
 * it went (the shard frees it), false when its ring is full (counted). */
static bool shard_dispatch(struct gw_cp *shard, struct rte_mbuf *m, unsigned worker)
{
    struct cp_shard_msg msg = {.m = m, .worker = worker};
    if (rte_ring_enqueue_elem(shard->hs_in, &msg, sizeof(msg)) == 0)
        return true;
    dp_cnt_inc(DP_CNT_DROP_CP_SHARD_FULL);
    return false;
}

/* Returns true when m was passed on (not to be freed by the caller). */
static bool dtls_input(struct gw_cp *cp, struct rte_mbuf *m, unsigned worker)
{
    struct dp_gw *g = cp->g;
    /* The worker validated Ethernet/IP/UDP lengths and checksums (IPv6:
     * the extension-header walk too; dp_ipv6_parse again finds the UDP
     * header). */
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    struct rte_udp_hdr *udp;
    struct dp_addr src, dst;
    int li;
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
        struct dp_ipv6_view v;
        const uint8_t *ip6 = (const uint8_t *)(eth + 1);
        if (dp_ipv6_parse(ip6, m->data_len - RTE_ETHER_HDR_LEN, &v) != DP_IPV6_OK ||
            v.proto != DP_IPPROTO_UDP || v.l4_len < sizeof(*udp)) {
            dp_cnt_inc(DP_CNT_DROP_CP_UNKNOWN);
            return false;
        }
        udp = (struct rte_udp_hdr *)(uintptr_t)(ip6 + v.l4_off);
        src = dp_addr_v6(v.src);
        dst = dp_addr_v6(v.dst);
        li = dp_gw_find_listener6(g, v.dst, udp->dst_port);
    } else {
        struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
        uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
        udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
        src = dp_addr_v4(ip->src_addr);
        dst = dp_addr_v4(ip->dst_addr);
        li = dp_gw_find_listener(g, ip->dst_addr, udp->dst_port);
    }
    const uint8_t *d = (const uint8_t *)(udp + 1);
    size_t len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp);
    if (li < 0 || m->port >= g->n_ports) {
        dp_cnt_inc(DP_CNT_DROP_CP_UNKNOWN);
        return false;
    }
    cp_key_t key = cp_key_make(&src, udp->src_port, &dst, udp->dst_port);
    /* handshake_lcores: the peer's shard takes it from here (on the main
     * lcore: another shard's datagram goes to that shard's ring). */
    struct gw_cp *owner = gw_cp_shard_for(cp, &key);
    if (owner != cp)
        return shard_dispatch(owner, m, worker);
    struct cp_peer *peer = gw_peer_lookup(cp, &key);
    if (peer != NULL) {
        rte_ether_addr_copy(&eth->src_addr, &peer->mac);
        peer->port_idx = m->port;
        if (peer->sess != NULL) {
            struct dp_record recs[DP_REC_MAX_PER_DGRAM];
            int err = DP_RECORD_OK;
            unsigned n = dp_record_split(d, len, 0, recs, DP_REC_MAX_PER_DGRAM, &err);
            if (n == 0) {
                dp_cnt_inc(DP_CNT_DROP_RECORD_MALFORMED);
                return false;
            }
            if (!app_data_only(peer->sess, recs, n)) {
                session_datagram(cp, peer, d, len, recs, n);
                return false;
            }
            /* Punted just before the session was installed: the owner
             * worker handles it (its replay window, its keys). */
            if (rte_ring_enqueue(g->handoff[peer->sess->owner], m) == 0) {
                dp_cnt_inc(DP_CNT_HANDOFF_OUT);
                return true;
            }
            dp_cnt_inc(DP_CNT_DROP_HANDOFF_FULL);
            return false;
        }
        /* A handshake is in progress for this address:port.  An epoch-0
         * ClientHello with another random is a client that restarted (a
         * device rebooted mid-handshake, keeping its port); the same random
         * is a retransmission and goes to the engine. */
        const uint8_t *rnd = ch_random(d, len);
        if (rnd != NULL && peer->has_random && !ch_random_is_current(peer, rnd))
            replace_handshake(cp, peer, d, len);
        else
            hs_feed(cp, peer, d, len);
        return false;
    }
    /* A ClientHello in fragments is put together first (cp_ch_asm.h:
     * bounded, the one state kept before a cookie verified), then checked
     * whole, so the cookie may be in any fragment and they may come in any
     * order. */
    uint8_t whole[CP_CH_ASM_OUT_MAX_BYTES];
    if (hs_ch_is_fragmented(d, len)) {
        size_t wl = 0;
        bool evicted = false;
        enum cp_ch_asm_result ar = cp_ch_asm_add(cp->ch_asm, (const uint8_t *)&key, d, len,
                                                 cp->now_ms, whole, &wl, &evicted);
        if (evicted)
            dp_cnt_inc(DP_CNT_CP_CH_ASM_EVICTED);
        if (ar == CP_CH_ASM_BAD) {
            dp_cnt_inc(DP_CNT_DROP_CP_COOKIE);
            return false;
        }
        if (ar == CP_CH_ASM_HELD) {
            dp_cnt_inc(DP_CNT_CP_CH_FRAG_HELD);
            return false;
        }
        d = whole;
        len = wl;
    }
    /* RFC 6347 §4.2.1: no state for a peer before its cookie verified. */
    if (gw_listeners_cookie_verdict(cp, (unsigned)li, &key, m->port, &eth->src_addr, d, len) !=
        HS_COOKIE_VALID)
        return false;
    peer = gw_peer_insert(cp, &key, &eth->src_addr, m->port, (uint16_t)li, (uint16_t)worker);
    if (peer == NULL)
        return false; /* refused, counted */
    peer_start(cp, peer, d, len);
    return false;
}

static void punt_input(struct gw_cp *cp, struct rte_mbuf *m, unsigned worker)
{
    const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    if (m->data_len >= RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + 8 &&
        eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
        ((const struct rte_ipv4_hdr *)(eth + 1))->next_proto_id == IPPROTO_UDP) {
        if (!dtls_input(cp, m, worker))
            rte_pktmbuf_free(m);
        return;
    }
    /* IPv6: UDP (to a listener, the worker checked) is DTLS; the rest
     * (ICMPv6, behind extension headers or not) is gw_net's (ND, echo). */
    struct dp_ipv6_view v;
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) &&
        m->data_len > RTE_ETHER_HDR_LEN &&
        dp_ipv6_parse(rte_pktmbuf_mtod_offset(m, const uint8_t *, RTE_ETHER_HDR_LEN),
                      m->data_len - RTE_ETHER_HDR_LEN, &v) == DP_IPV6_OK &&
        v.proto == DP_IPPROTO_UDP) {
        if (!dtls_input(cp, m, worker))
            rte_pktmbuf_free(m);
        return;
    }
    struct rte_mbuf *reply = gw_net_input(&cp->net, m, cp->now_ms);
    if (reply != NULL)
        gw_cp_tx(cp, reply);
}

/* ---- periodic work ---------------------------------------------------------- */

/* The timer pass: only the peers whose timer fired (cp->due), at most a
 * bounded batch per loop so that punted datagrams keep being served; the
 * rest wait, in order, for the next loop. */
static void process_fired(struct gw_cp *cp)
{
    for (unsigned n = 0; n < GW_CP_DUE_BURST; n++) {
        struct cp_peer *peer = TAILQ_FIRST(&cp->due);
        if (peer == NULL)
            return;
        TAILQ_REMOVE(&cp->due, peer, due_link);
        peer->fired = false;
        if (peer->hs == NULL)
            continue;
        struct hs_out out;
        memset(&out, 0, sizeof(out));
        dp_cnt_inc(DP_CNT_CP_HS_RETRANSMIT);
        (void)hs_timeout(peer->hs, gw_cp_now_ms(cp), &out);
        /* may free this peer (unlinked above), never another on the list */
        (void)handle_out(cp, peer, &out);
    }
}

static void telemetry_snapshot(void *arg, struct gw_stats *out)
{
    gw_cp_stats_snapshot(arg, out);
}

/* ---- handshake shards (handshake_lcores, gw_cp_priv.h) ------------------------------ */

/* Shard k (k >= 1) beside shard 0 (cp0, complete): its own peer table,
 * ClientHello reassembly, AEAD context, engine contexts and credentials;
 * shard 0's limit table, next hops and cookie secrets.  Registered in
 * cp0->sh first, so that gw_cp_free frees what was made on error. */
static int shard_create(struct gw_cp *cp0, unsigned k, char *err, size_t err_len)
{
    struct gw_cp *cp = calloc(1, sizeof(*cp));
    if (cp == NULL) {
        snprintf(err, err_len, "handshake lcore %u: out of memory", k);
        return CR_ERR_NOMEM;
    }
    TAILQ_INIT(&cp->due);
    cp->cfg = cp0->cfg;
    cp->g = cp0->g;
    cp->sh = cp0->sh;
    cp->shard_idx = k;
    rte_spinlock_init(&cp->lock);
    cp->hz = cp0->hz;
    cp->tick_per_ms = cp0->tick_per_ms;
    cp->hs_limit = cp0->hs_limit; /* shared, under sh->lock; shard 0 frees it */
    cp->max_peers = cp0->max_peers;
    cp->sh->shard[k] = cp;
    cp->sh->n_shards = k + 1;
    char name[RTE_RING_NAMESIZE];
    snprintf(name, sizeof(name), "dgw_hs_in%u", k);
    cp->hs_in = rte_ring_create_elem(name, sizeof(struct cp_shard_msg), CP_SHARD_RING_SIZE,
                                     (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    snprintf(name, sizeof(name), "dgw_hs_tx%u", k);
    cp->hs_tx = rte_ring_create(name, CP_SHARD_RING_SIZE, (int)rte_socket_id(),
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    cp->aead = cr_aead_ctx_new();
    cp->ch_asm = cp_ch_asm_new();
    if (cp->hs_in == NULL || cp->hs_tx == NULL || cp->aead == NULL || cp->ch_asm == NULL) {
        snprintf(err, err_len, "handshake lcore %u: cannot create its rings and contexts", k);
        return CR_ERR_NOMEM;
    }
    CR_GUARD(gw_peers_init(cp, err, err_len));
    return gw_listeners_init(cp, err, err_len);
}

static void ring_free_mbufs(struct rte_ring *r, bool msgs)
{
    if (r == NULL)
        return;
    if (msgs) {
        struct cp_shard_msg msg;
        while (rte_ring_dequeue_elem(r, &msg, sizeof(msg)) == 0)
            rte_pktmbuf_free(msg.m);
    } else {
        void *m;
        while (rte_ring_dequeue(r, &m) == 0)
            rte_pktmbuf_free(m);
    }
    rte_ring_free(r);
}

/* A shard made by shard_create, once its lcore stopped (or never ran). */
static void shard_free(struct gw_cp *cp)
{
    gw_peers_destroy(cp);
    gw_listeners_free(cp);
    cr_aead_ctx_free(cp->aead);
    cp_ch_asm_free(cp->ch_asm);
    ring_free_mbufs(cp->hs_in, true);
    ring_free_mbufs(cp->hs_tx, false);
    free(cp);
}

/* The loop of a handshake lcore: its ring of punted datagrams, its timers,
 * its idle sessions; its lock held while it works (the main lcore takes
 * it for control-socket commands, gw_cmds.c).  Ends when the workers are
 * told to stop (dp_gw.stop). */
static int shard_main(void *arg)
{
    struct gw_cp *cp = arg;
    struct dp_gw *g = cp->g;
    struct cp_shard_msg msgs[GW_CP_PUNT_BURST];
    uint32_t idle = 0;
    cp->last_reap_ms = gw_cp_now_ms(cp);
    /* acquire: pairs with the main lcore's release store of stop */
    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        rte_spinlock_lock(&cp->lock);
        cp->now_ms = gw_cp_now_ms(cp);
        unsigned n =
            rte_ring_dequeue_burst_elem(cp->hs_in, msgs, sizeof(msgs[0]), GW_CP_PUNT_BURST, NULL);
        for (unsigned i = 0; i < n; i++)
            if (!dtls_input(cp, msgs[i].m, (unsigned)msgs[i].worker))
                rte_pktmbuf_free(msgs[i].m);
        rte_timer_manage(); /* this lcore's timers: its peers' */
        process_fired(cp);
        if (cp->now_ms - cp->last_reap_ms >= GW_CP_REAP_PERIOD_MS) {
            gw_sess_reap_idle(cp);
            cp->last_reap_ms = cp->now_ms;
        }
        if (cp->now_ms - cp->last_ticket_check_ms >= 1000) {
            gw_listeners_sync_tickets(cp); /* shard 0's rotated ticket keys */
            gw_listeners_expire_sessions(cp);
            cp->last_ticket_check_ms = cp->now_ms;
        }
        rte_spinlock_unlock(&cp->lock);
        if (n != 0) {
            idle = 0;
        } else if (g->idle_sleep_us != 0 && ++idle >= g->idle_polls) {
            rte_delay_us_sleep(g->idle_sleep_us);
            dp_cnt_inc(DP_CNT_IDLE_SLEEP);
        }
    }
    return 0;
}

unsigned gw_cp_n_shards(const struct gw_cp *cp)
{
    return cp->sh->n_shards;
}

int gw_cp_launch_shards(struct gw_cp *cp, const unsigned *lcores, unsigned n)
{
    struct gw_cp_shared *sh = cp->sh;
    if (n + 1 != sh->n_shards)
        return -EINVAL;
    for (unsigned k = 1; k < sh->n_shards; k++) {
        sh->shard_lcore[k] = lcores[k - 1];
        int rc = rte_eal_remote_launch(shard_main, sh->shard[k], lcores[k - 1]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- lifecycle -------------------------------------------------------------------- */

int gw_cp_create(struct gw_cp **out, const struct gw_config *cfg, struct dp_gw *g, char *err,
                 size_t err_len)
{
    struct gw_cp *cp = calloc(1, sizeof(*cp));
    if (cp != NULL)
        TAILQ_INIT(&cp->due);
    int rc;
    if (cp == NULL)
        return CR_ERR_NOMEM;
    cp->cfg = cfg;
    cp->g = g;
    cp->sh = calloc(1, sizeof(*cp->sh));
    if (cp->sh == NULL) {
        free(cp);
        return CR_ERR_NOMEM;
    }
    cp->sh->nat_used = calloc((size_t)dp_sess_nat_n_addrs(g->sessions) * (DP_SESS_NAT_PORTS / 64),
                              sizeof(uint64_t));
    if (cp->sh->nat_used == NULL) {
        free(cp->sh);
        free(cp);
        return CR_ERR_NOMEM;
    }
    rte_spinlock_init(&cp->sh->lock);
    rte_spinlock_init(&cp->lock);
    cp->sh->n_shards = 1;
    cp->sh->shard[0] = cp;
    cp->sh->shard_lcore[0] = rte_get_main_lcore();
    cp->hz = rte_get_timer_hz();
    cp->tick_per_ms = cp->hz / 1000 ? cp->hz / 1000 : 1;
    cp->workers_running = false;
    gw_net_init(&cp->net, g);
    cp->aead = cr_aead_ctx_new();
    if (cp->aead == NULL) {
        snprintf(err, err_len, "cannot create the control plane's AEAD context");
        rc = CR_ERR_NOMEM;
        goto fail;
    }
    /* -EALREADY when an earlier gw_cp made it (DPDK 22.11 returns it
     * without setting rte_errno) */
    int trc = rte_timer_subsystem_init();
    if (trc < 0 && trc != -EALREADY && rte_errno != EALREADY) {
        snprintf(err, err_len, "rte_timer subsystem init failed");
        rc = CR_ERR_NOMEM;
        goto fail;
    }
    /* Peers are sessions and handshakes in progress, each kind under its
     * own limit. */
    uint32_t max_hs = cfg->max_handshakes ? cfg->max_handshakes : GW_DEFAULT_MAX_HANDSHAKES;
    uint32_t max_hs_src = cfg->max_handshakes_per_source ? cfg->max_handshakes_per_source
                                                         : GW_DEFAULT_MAX_HS_PER_SOURCE;
    uint64_t seed;
    if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1) {
        snprintf(err, err_len, "no randomness for the handshake limit table");
        rc = CR_ERR_CRYPTO;
        goto fail;
    }
    cp->hs_limit = cp_hs_limit_new(max_hs, max_hs_src < max_hs ? max_hs_src : max_hs, seed);
    if (cp->hs_limit == NULL) {
        snprintf(err, err_len, "cannot create the handshake limit table (%u handshakes)", max_hs);
        rc = CR_ERR_NOMEM;
        goto fail;
    }
    cp->ch_asm = cp_ch_asm_new();
    if (cp->ch_asm == NULL) {
        snprintf(err, err_len, "cannot create the ClientHello reassembly table");
        rc = CR_ERR_NOMEM;
        goto fail;
    }
    cp->max_peers = (cfg->max_sessions ? cfg->max_sessions : DP_SESS_MAX_DEFAULT) + max_hs;
    rc = gw_peers_init(cp, err, err_len);
    if (rc < 0)
        goto fail;
    rc = gw_listeners_init(cp, err, err_len);
    if (rc < 0)
        goto fail;
    unsigned n_shards = cfg->handshake_lcores > 1 ? cfg->handshake_lcores : 1;
    for (unsigned k = 1; k < n_shards && k < CP_SHARD_MAX; k++) {
        rc = shard_create(cp, k, err, err_len);
        if (rc < 0)
            goto fail;
    }
    /* Set before the workers start; they only read it. */
    g->unknown_peer = gw_listeners_unknown_peer;
    g->unknown_peer_arg = cp;
#ifdef GW_HAVE_CTL
    if (cfg->control_socket[0]) {
        char why[GW_CTL_ERR_MAX_LEN];
        rc = gw_ctl_open(&cp->ctl, cfg->control_socket, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, err_len, "cannot open the control socket %s: %s", cfg->control_socket,
                     why[0] ? why : cr_strerror(rc));
            goto fail;
        }
    }
    if (cfg->metrics_port != 0) {
        char why[GW_HTTP_ERR_MAX_LEN];
        rc = gw_http_open(&cp->http, cfg->metrics_ipv4, cfg->metrics_port, NULL, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, err_len, "metrics_listen: cannot listen: %s",
                     why[0] ? why : cr_strerror(rc));
            goto fail;
        }
    }
#else
    if (cfg->metrics_port != 0) {
        snprintf(err, err_len, "metrics_listen: this gateway was built without jansson");
        rc = CR_ERR_UNSUPPORTED;
        goto fail;
    }
#endif
    rc = gw_telemetry_attach(telemetry_snapshot, cp);
    if (rc < 0) {
        snprintf(err, err_len, "cannot register the /dtlsgw telemetry commands");
        goto fail;
    }
    *out = cp;
    return CR_OK;
fail:
    gw_cp_free(cp);
    return rc;
}

void gw_cp_run(struct gw_cp *cp, volatile sig_atomic_t *stop)
{
    struct dp_gw *g = cp->g;
    struct rte_mbuf *pkts[GW_CP_PUNT_BURST];
#ifdef GW_HAVE_CTL
    struct gw_ctl_handlers h;
    gw_cmds_handlers(cp, &h);
#endif
    cp->workers_running = true;
    cp->last_cookie_ms = gw_cp_now_ms(cp);
    uint32_t idle = 0;
    while (!*stop) {
        unsigned work = 0;
        cp->now_ms = gw_cp_now_ms(cp);
        for (unsigned w = 0; w < g->n_workers; w++) {
            /* ARP/ICMP first: their ring is apart so that DTLS punts
             * cannot crowd them out (issue 8 finding 7). */
            unsigned n =
                rte_ring_dequeue_burst(g->punt_net[w], (void **)pkts, GW_CP_PUNT_BURST, NULL);
            for (unsigned i = 0; i < n; i++)
                punt_input(cp, pkts[i], w);
            work += n;
            n = rte_ring_dequeue_burst(g->punt[w], (void **)pkts, GW_CP_PUNT_BURST, NULL);
            for (unsigned i = 0; i < n; i++)
                punt_input(cp, pkts[i], w);
            work += n;
        }
        /* the handshake lcores' frames (gw_cp_tx): the main lcore sends */
        for (unsigned k = 1; k < cp->sh->n_shards; k++) {
            unsigned n = rte_ring_dequeue_burst(cp->sh->shard[k]->hs_tx, (void **)pkts,
                                                GW_CP_PUNT_BURST, NULL);
            for (unsigned i = 0; i < n; i++)
                gw_cp_tx(cp, pkts[i]);
            work += n;
        }
        rte_timer_manage();
        process_fired(cp);
        if (cp->now_ms - cp->last_arp_ms >= 100) {
            struct rte_mbuf *arps[DP_MAX_NEXTHOPS];
            unsigned n = gw_net_arp_tick(&cp->net, cp->now_ms, arps, DP_MAX_NEXTHOPS);
            for (unsigned i = 0; i < n; i++)
                gw_cp_tx(cp, arps[i]);
            cp->last_arp_ms = cp->now_ms;
        }
        (void)gw_sess_reclaim(cp, false);
        if (cp->now_ms - cp->last_reap_ms >= GW_CP_REAP_PERIOD_MS) {
            gw_sess_reap_idle(cp);
            cp->last_reap_ms = cp->now_ms;
        }
        if (cp->now_ms - cp->last_cookie_ms >= cp->cfg->cookie_rotate_ms) {
            (void)gw_listeners_rotate_cookies(cp);
            cp->last_cookie_ms = cp->now_ms;
        }
        if (cp->now_ms - cp->last_ticket_check_ms >= 1000) {
            (void)gw_listeners_rotate_tickets(cp, cp->now_ms);
            gw_listeners_expire_sessions(cp);
            cp->last_ticket_check_ms = cp->now_ms;
        }
#ifdef GW_HAVE_CTL
        if (cp->ctl != NULL && cp->now_ms - cp->last_ctl_ms >= 5) {
            (void)gw_ctl_poll(cp->ctl, &h);
            cp->last_ctl_ms = cp->now_ms;
        }
        if (cp->http != NULL && cp->now_ms - cp->last_http_ms >= 5) {
            (void)gw_http_poll(cp->http, gw_cmds_http_metrics_body, cp);
            cp->last_http_ms = cp->now_ms;
        }
#endif
        if (cp->cfg->stats_interval_ms != 0 &&
            cp->now_ms - cp->last_stats_ms >= cp->cfg->stats_interval_ms) {
            gw_cp_print_stats(cp, stdout, false);
            cp->last_stats_ms = cp->now_ms;
        }
        if (work != 0) {
            idle = 0;
        } else if (g->idle_sleep_us != 0 && ++idle >= g->idle_polls) {
            rte_delay_us_sleep(g->idle_sleep_us);
            dp_cnt_inc(DP_CNT_IDLE_SLEEP);
        }
    }
}

void gw_cp_shutdown(struct gw_cp *cp)
{
    struct dp_gw *g = cp->g;
    cp->workers_running = false;
    /* Punted frames still queued: answer nothing more, just free them. */
    for (unsigned w = 0; w < g->n_workers; w++) {
        struct rte_mbuf *pkts[GW_CP_PUNT_BURST];
        unsigned n;
        while ((n = rte_ring_dequeue_burst(g->punt[w], (void **)pkts, GW_CP_PUNT_BURST, NULL)) > 0)
            rte_pktmbuf_free_bulk(pkts, n);
        while ((n = rte_ring_dequeue_burst(g->punt_net[w], (void **)pkts, GW_CP_PUNT_BURST, NULL)) >
               0)
            rte_pktmbuf_free_bulk(pkts, n);
        /* Frames we queued for worker 0 to send: send them ourselves. */
        while ((n = rte_ring_dequeue_burst(g->cptx[w], (void **)pkts, GW_CP_PUNT_BURST, NULL)) > 0)
            for (unsigned i = 0; i < n; i++)
                gw_cp_tx(cp, pkts[i]);
    }
    /* The handshake lcores stopped with the workers: their queued input
     * goes, their queued frames are sent. */
    for (unsigned k = 1; k < cp->sh->n_shards; k++) {
        struct gw_cp *sc = cp->sh->shard[k];
        struct cp_shard_msg msg;
        void *m;
        while (rte_ring_dequeue_elem(sc->hs_in, &msg, sizeof(msg)) == 0)
            rte_pktmbuf_free(msg.m);
        while (rte_ring_dequeue(sc->hs_tx, &m) == 0)
            gw_cp_tx(cp, m);
    }
    /* Hitless restart (gw_restart.h): the workers stopped, so every
     * wr_seq is final; the saved sessions get no close_notify, their
     * clients keep them for the next run.  Without a state file, or when
     * it cannot be written, every live session gets a close_notify sealed
     * with its write sequence; the grace period is immediate. */
    bool saved = false;
    if (cp->cfg->state_file[0]) {
        char why[GW_STATE_SAVE_WHY_MAX_LEN] = "";
        uint32_t n = 0;
        saved = gw_restart_save(cp, true, &n, why, sizeof(why)) == 0;
        if (saved)
            printf("dtlsgw: state file %s: saved %" PRIu32 " sessions (no close_notify)\n",
                   cp->cfg->state_file, n);
        else
            printf("dtlsgw: state file %s: not saved: %s; sessions get close_notify\n",
                   cp->cfg->state_file, why);
        fflush(stdout);
    }
    for (unsigned k = 0; k < cp->sh->n_shards; k++)
        gw_peers_free_all(cp->sh->shard[k], !saved);
    (void)gw_sess_reclaim(cp, true);
    uint64_t until = gw_cp_now_ms(cp) + GW_CP_SHUTDOWN_DRAIN_MS;
    while (gw_cp_now_ms(cp) < until) {
        for (unsigned p = 0; p < g->n_ports; p++)
            for (uint16_t q = 0; q < g->ports[p].n_txq; q++)
                (void)rte_eth_tx_done_cleanup(g->ports[p].port_id, q, 0);
        rte_delay_us_sleep(10000);
    }
}

void gw_cp_free(struct gw_cp *cp)
{
    if (cp == NULL)
        return;
    /* before anything the snapshot reads goes away (ports close after us) */
    gw_telemetry_detach();
    if (cp->g->unknown_peer_arg == cp) {
        cp->g->unknown_peer = NULL;
        cp->g->unknown_peer_arg = NULL;
    }
    if (cp->sh != NULL)
        for (unsigned k = cp->sh->n_shards; k-- > 1;)
            shard_free(cp->sh->shard[k]);
    gw_peers_destroy(cp);
#ifdef GW_HAVE_CTL
    gw_ctl_close(cp->ctl);
    gw_http_close(cp->http);
#endif
    gw_listeners_free(cp);
    cr_aead_ctx_free(cp->aead);
    cp_hs_limit_free(cp->hs_limit);
    cp_ch_asm_free(cp->ch_asm);
    if (cp->sh != NULL)
        free(cp->sh->nat_used);
    free(cp->sh);
    free(cp);
}
