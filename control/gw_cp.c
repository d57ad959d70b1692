/* gw_cp.c — the control plane loop: punted frames, handshakes, session
 * lifecycle, timers, ARP/ICMP, control socket.
 *
 * Owns: everything listed in gw_cp.h.  All of it runs on the main lcore;
 * the only state shared with workers is the session table (we are its
 * single writer), the next-hop table (gw_net) and the rings.
 * Must not: block, or write a session's owner-only fields (wr_seq, replay
 * window) while a worker may still hold the session.
 *
 * Session end (RFC 6347 §4.1 / RFC 5246 §7.2.1): a close_notify received
 * removes the session at once and is answered with our close_notify; a
 * fatal alert removes it without an answer; an idle session is removed
 * after the listener's idle timeout and told close_notify.  Our
 * close_notify is sealed with the session's write sequence number once the
 * RCU grace period proves the owning worker no longer uses it.
 */
#include "gw_cp.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_timer.h>
#include <rte_udp.h>

#include <openssl/rand.h>

#include "cp_ch_asm.h"

/* ClientHello fragments of unknown peers one worker punts per second at
 * most (the rest are dropped there, counted DROP_UNKNOWN_PEER): 256 per
 * 1/16 s slice, far above what clients that fragment send, far below
 * what fills the punt ring. */
#define CP_FRAG_PUNTS_PER_SEC 4096
#include "cp_hs_limit.h"
#include "cr_aead.h"
#include "dp_counters.h"
#include "dp_record.h"
#include "gw_nat.h"
#include "gw_net.h"
#include "hs.h"

#include "gw_telemetry.h"
#ifdef GW_HAVE_CTL
#include "gw_ctl.h"
#include "gw_http.h"
#include "gw_metrics.h"
#endif

#define CP_HVR_MAX_BYTES      512
#define GW_CP_DUE_BURST       256 /* fired timers handled per loop */
#define CP_NAT_WORDS          (DP_SESS_NAT_PORTS / 64)
#define CP_ALERT_LEVEL_FATAL  2
#define CP_ALERT_CLOSE_NOTIFY 0
#define CP_HS_MT_CLIENT_HELLO 1 /* RFC 5246 §7.4 HandshakeType */
#define CP_RANDOM_LEN         32
/* record header 13 + handshake header 12 + client_version 2 */
#define CP_CH_RANDOM_OFF (DP_REC_HDR_LEN + 12 + 2)

/* The ClientHello.random of a datagram that starts with an epoch-0,
 * unfragmented-enough ClientHello record, or NULL. */
static const uint8_t *ch_random(const uint8_t *d, size_t len)
{
    if (len < CP_CH_RANDOM_OFF + CP_RANDOM_LEN || d[0] != DP_CT_HANDSHAKE ||
        dp_load_be16(d + 3) != 0 || d[DP_REC_HDR_LEN] != CP_HS_MT_CLIENT_HELLO)
        return NULL;
    /* Only the fragment that starts the message holds the random, and
     * only if it reaches past it: a later fragment of a ClientHello split
     * over datagrams (small MTU) is not a new ClientHello (issue 9: before
     * this check its bytes read as another random and restarted the
     * handshake each time, so the client never got an answer). */
    const uint8_t *h = d + DP_REC_HDR_LEN;
    uint32_t frag_off = (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
    uint32_t frag_len = (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    if (frag_off != 0 || frag_len < 2 + CP_RANDOM_LEN)
        return NULL;
    return d + CP_CH_RANDOM_OFF;
}

struct cp_peer {
    struct dp_sess_key key;
    struct hs *hs;
    struct dp_session *sess;
    struct rte_timer timer;
    struct gw_cp *cp; /* owner (the timer callback's way back) */
    /* On cp->due while its timer has fired and the loop has not handled
     * it yet (timer_cb links, process_fired and peer_free unlink). */
    bool fired;
    TAILQ_ENTRY(cp_peer) due_link;
    /* Anti-replay for the encrypted alerts the control plane reads (the
     * worker punts them unread, so their sequence numbers are seen only
     * here): a window of its own, set up at install (RFC 6347 §4.1.2.6). */
    uint64_t alert_win[8];
    struct rte_ether_addr mac; /* L2 source of the peer's last frame */
    uint16_t port_idx;         /* port towards the peer */
    uint16_t listener;
    uint16_t worker; /* worker whose queue received it */
    bool has_random;
    uint8_t ch_random[CP_RANDOM_LEN]; /* ClientHello.random of this handshake */
    /* hs is a new handshake from the address:port of the live session sess
     * (RFC 6347 §4.2.8): sess stays until hs completes, and outlives it
     * when hs fails. */
    bool replacing;
    bool hs_counted; /* counted in cp->hs_limit (a handshake in progress) */
};

struct cp_listener {
    struct hs_creds *creds;
    struct hs_ctx *ctx;
    int nh; /* next hop towards the backend */
};

TAILQ_HEAD(cp_due_list, cp_peer);

struct gw_cp {
    const struct gw_config *cfg;
    /* Peers whose retransmission timer fired, oldest first: the loop's
     * timer pass handles these, never walks the peer table (issue 8
     * finding 7: a table of idle handshakes must not cost every loop). */
    struct cp_due_list due;
    struct dp_gw *g;
    struct gw_net net;
    struct cr_aead_ctx *aead;
    struct cp_listener lst[GW_MAX_LISTENERS];
    struct rte_hash *peers;
    uint32_t n_peers;
    uint32_t max_peers;
    struct cp_hs_limit *hs_limit; /* max_handshakes, per source */
    struct cp_ch_asm *ch_asm;     /* fragmented ClientHellos before the cookie check */
    uint64_t nat_used[CP_NAT_WORDS];
    uint32_t rnd_pool[64]; /* nat_rnd's batch of random words */
    unsigned rnd_left;
    unsigned rr_next;
    bool workers_running;
    uint64_t hz;
    uint64_t tick_per_ms;
    uint64_t now_ms;
    uint64_t last_reap_ms;
    uint64_t last_cookie_ms;      /* last rotation of the listeners' cookie secrets */
    uint64_t last_backlog_log_ms; /* last "reclaim queue full" message */
    /* handshakes that ended without a session, by reason (stats
     * "handshake_failures"; the log line names the reason too) */
    uint64_t hs_fail[HS_FAIL_N];
    uint64_t last_arp_ms;
    uint64_t last_stats_ms;
    uint64_t last_ctl_ms;
    uint64_t last_http_ms;
    uint64_t log_sec;
    unsigned log_n;
#ifdef GW_HAVE_CTL
    struct gw_ctl *ctl;
    struct gw_http *http; /* GET /metrics (metrics_listen); NULL: off */
#endif
};

static uint64_t cp_now_ms(const struct gw_cp *cp)
{
    return rte_get_timer_cycles() / cp->tick_per_ms;
}

/* ---- TX ---------------------------------------------------------------- */

static void cp_tx(struct gw_cp *cp, struct rte_mbuf *m)
{
    struct dp_gw *g = cp->g;
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
        gw_net_udp_frame(cp->g, peer->port_idx, &peer->mac, peer->key.local_ip, peer->key.client_ip,
                         peer->key.local_port, peer->key.client_port, data, len);
    if (m == NULL) {
        dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
        return;
    }
    cp_tx(cp, m);
}

/* ---- NAT ports ---------------------------------------------------------- */

/* 32 random bits from libcrypto's CSPRNG, drawn 64 words at a time. */
static uint32_t nat_rnd(void *arg)
{
    struct gw_cp *cp = arg;
    if (cp->rnd_left == 0) {
        if (RAND_bytes((unsigned char *)cp->rnd_pool, sizeof(cp->rnd_pool)) != 1)
            cp->rnd_pool[0] ^= (uint32_t)rte_rdtsc(); /* never on Linux; still varies */
        cp->rnd_left = RTE_DIM(cp->rnd_pool);
    }
    return cp->rnd_pool[--cp->rnd_left];
}

static int nat_alloc(struct gw_cp *cp, unsigned li)
{
    const struct gw_listener_cfg *l = &cp->cfg->listeners[li];
    return gw_nat_pick(cp->nat_used, l->nat_port_min, l->nat_port_max, nat_rnd, cp);
}

static void nat_free(struct gw_cp *cp, uint16_t port)
{
    cp->nat_used[port / 64] &= ~(UINT64_C(1) << (port % 64));
}

/* ---- peers ----------------------------------------------------------------- */

static void peer_hs_peer(const struct cp_peer *peer, struct hs_peer *hp)
{
    memset(hp, 0, sizeof(*hp));
    memcpy(hp->addr, &peer->key.client_ip, 4);
    hp->port = rte_be_to_cpu_16(peer->key.client_port);
    hp->family = 4;
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

static void session_remove(struct gw_cp *cp, struct cp_peer *peer, bool send_close)
{
    if (peer->sess == NULL)
        return;
    peer->sess->cp_ref = NULL;
    dp_sess_remove(cp->g->sessions, peer->sess, send_close);
    peer->sess = NULL;
}

/* ---- handshake admission ------------------------------------------------------ */

/* One more handshake in progress from client_ip (network order), or a
 * counted refusal: max_handshakes in all, max_handshakes_per_source from
 * one address (cp_hs_limit.h). */
static bool hs_admit(struct gw_cp *cp, uint32_t client_ip)
{
    switch (cp_hs_limit_admit(cp->hs_limit, client_ip)) {
    case CP_HS_ADMIT:
        return true;
    case CP_HS_REFUSE_TOTAL:
        dp_cnt_inc(DP_CNT_DROP_CP_HS_MAX);
        return false;
    default:
        dp_cnt_inc(DP_CNT_DROP_CP_HS_PER_SOURCE);
        return false;
    }
}

/* The peer's handshake ended (ESTABLISHED, failed, freed): its slot is
 * free.  Idempotent. */
static void hs_done(struct gw_cp *cp, struct cp_peer *peer)
{
    if (!peer->hs_counted)
        return;
    cp_hs_limit_release(cp->hs_limit, peer->key.client_ip);
    peer->hs_counted = false;
}

/* Adds what the engine refused during one call to the counters. */
static void hs_count_refusals(const struct hs *hs, const struct hs_stats *before)
{
    const struct hs_stats *st = hs_get_stats(hs);
    unsigned lc = rte_lcore_id();
    if (st->reasm_refused != before->reasm_refused)
        dp_cnt_add(lc, DP_CNT_DROP_CP_HS_REASM_CAP, st->reasm_refused - before->reasm_refused);
    if (st->peer_resends_limited != before->peer_resends_limited)
        dp_cnt_add(lc, DP_CNT_CP_HS_RESEND_LIMITED,
                   st->peer_resends_limited - before->peer_resends_limited);
}

static void peer_free(struct gw_cp *cp, struct cp_peer *peer, bool send_close)
{
    hs_done(cp, peer);
    session_remove(cp, peer, send_close);
    rte_timer_stop_sync(&peer->timer);
    if (peer->fired) {
        TAILQ_REMOVE(&cp->due, peer, due_link);
        peer->fired = false;
    }
    hs_free(peer->hs);
    peer->hs = NULL;
    if (rte_hash_del_key(cp->peers, &peer->key) >= 0) {
        /* single writer; telemetry reads it (relaxed, gw_cp_stats_snapshot) */
        __atomic_store_n(&cp->n_peers, cp->n_peers - 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(
            &cp->g->peer_busy[dp_peer_slot(peer->key.client_ip, peer->key.client_port)], 1,
            __ATOMIC_RELAXED);
    }
    free(peer);
}

static void reclaim_cb(struct dp_session *s, void *arg)
{
    struct gw_cp *cp = arg;
    nat_free(cp, s->nat_port);
    dp_cnt_inc(DP_CNT_CP_SESS_FREED);
    if (!s->send_close)
        return;
    /* RFC 5246 §7.2.1 close_notify: alert level warning(1), description 0.
     * The grace period is over: no worker uses s any more, so wr_seq is
     * ours. */
    static const uint8_t close_notify[2] = {1, CP_ALERT_CLOSE_NOTIFY};
    struct rte_mbuf *m =
        dp_session_seal_frame(cp->g, s, cp->aead, DP_CT_ALERT, close_notify, sizeof(close_notify));
    if (m == NULL) {
        dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
        return;
    }
    cp_tx(cp, m);
    dp_cnt_inc(DP_CNT_CP_CLOSE_NOTIFY_SENT);
}

/* ---- session install --------------------------------------------------------- */

static uint32_t replay_bits(uint32_t cfg_bits)
{
    uint32_t b = cfg_bits ? cfg_bits : DP_REPLAY_WIN_DEFAULT_BITS;
    b = (b + 63) / 64 * 64;
    if (b < DP_REPLAY_WIN_MIN_BITS)
        b = DP_REPLAY_WIN_MIN_BITS;
    if (b > DP_REPLAY_WIN_MAX_BITS)
        b = DP_REPLAY_WIN_MAX_BITS;
    return b;
}

static void log_peer(struct gw_cp *cp, const struct cp_peer *peer, const char *what, int alert);

static int session_install(struct gw_cp *cp, struct cp_peer *peer)
{
    struct dp_gw *g = cp->g;
    const struct gw_listener_cfg *lc = &cp->cfg->listeners[peer->listener];
    const struct hs_keys *k = hs_keys(peer->hs);
    int rc;
    if (k == NULL)
        return CR_ERR_INVAL;
    int nh = cp->lst[peer->listener].nh;
    if (nh < 0) {
        dp_cnt_inc(DP_CNT_DROP_CP_NO_NEXTHOP);
        return CR_ERR_INVAL;
    }
    int nat = nat_alloc(cp, peer->listener);
    if (nat < 0) {
        dp_cnt_inc(DP_CNT_DROP_CP_NAT_EXHAUSTED);
        return CR_ERR_LIMIT;
    }
    struct dp_session *s =
        dp_session_alloc(replay_bits(lc->replay_window_bits), (int)rte_socket_id());
    if (s == NULL) {
        nat_free(cp, (uint16_t)nat);
        return CR_ERR_NOMEM;
    }
    s->key = peer->key;
    CR_GUARD_GOTO(cr_aead_key_init(&s->rd_key, cp->aead, k->aead, k->client_write_key, k->key_len,
                                   k->client_write_iv, k->iv_len),
                  fail);
    CR_GUARD_GOTO(cr_aead_key_init(&s->wr_key, cp->aead, k->aead, k->server_write_key, k->key_len,
                                   k->server_write_iv, k->iv_len),
                  fail);
    s->backend_ip = rte_cpu_to_be_32(lc->backend_ipv4);
    s->backend_port = rte_cpu_to_be_16(lc->backend_port);
    s->backend_nh = (uint16_t)nh;
    s->backend_port_id = g->nexthops[nh].port_idx;
    s->nat_ip = g->ports[s->backend_port_id].ip_be;
    s->nat_port = (uint16_t)nat;
    s->client_port_id = peer->port_idx;
    s->client_mac = peer->mac;
    s->listener = peer->listener;
    /* Owner: the worker whose RX queue receives this client when the port
     * spreads flows; round robin when one queue receives everything. */
    if (g->ports[peer->port_idx].spread && peer->worker < g->n_workers)
        s->owner = peer->worker;
    else
        s->owner = (uint16_t)(cp->rr_next++ % g->n_workers);
    s->epoch = k->epoch;
    s->version = DP_VERSION_DTLS12;
    s->explicit_nonce_len = (uint8_t)cr_aead_explicit_nonce_len(k->aead);
    s->tag_len = (uint8_t)cr_aead_tag_len(k->aead);
    /* From here the owning worker is the only writer of epoch 1's write
     * sequence; the engine keeps to its numbers below (hs.h,
     * HS_ENGINE_WSEQ_RESERVE). */
    s->wr_seq = k->server_write_seq_next;
    /* The client's Finished used epoch-1 sequence numbers up to this one. */
    dp_replay_update(s->replay, k->client_read_seq_top);
    struct dp_replay *aw = (struct dp_replay *)peer->alert_win;
    if (dp_replay_size(DP_REPLAY_WIN_MIN_BITS) > sizeof(peer->alert_win) ||
        dp_replay_init(aw, DP_REPLAY_WIN_MIN_BITS) != 0) {
        rc = CR_ERR_INVAL;
        goto fail;
    }
    dp_replay_update(aw, k->client_read_seq_top);
    s->last_rx_tsc = rte_get_tsc_cycles();
    s->cp_ref = peer;
    rc = dp_sess_install(g->sessions, s);
    if (rc == CR_ERR_BUSY) {
        /* The reclaim queue is full: some worker has not passed a
         * quiescent state for a while.  Refuse (the client retries) rather
         * than let removed sessions pile up; say so at most once a second. */
        dp_cnt_inc(DP_CNT_DROP_CP_RECLAIM_BACKLOG);
        uint64_t now = cp_now_ms(cp);
        if (now - cp->last_backlog_log_ms >= 1000) {
            cp->last_backlog_log_ms = now;
            printf("dtlsgw: %u removed sessions wait for a worker's quiescent state (a worker "
                   "stalled?): new sessions refused until they are freed\n",
                   dp_sess_pending(g->sessions));
            fflush(stdout);
        }
    }
    if (rc < 0)
        goto fail;
    peer->sess = s;
    /* The session holds its expanded keys now: the engine's raw copies
     * and the master secret go (issue 8: wiped as soon as installed). */
    hs_wipe_installed_keys(peer->hs);
    dp_cnt_inc(DP_CNT_CP_SESS_INSTALLED);
    if (!k->ems) {
        /* RFC 7627 §5.3: never resumable; counted and said once per peer. */
        dp_cnt_inc(DP_CNT_CP_SESS_NO_EMS);
        log_peer(cp, peer, "session without extended master secret (RFC 7627; not resumable)", -1);
    }
    return CR_OK;
fail:
    dp_cnt_inc(DP_CNT_DROP_CP_INSTALL);
    nat_free(cp, (uint16_t)nat);
    dp_session_free(s);
    return rc;
}

/* ---- handshake output --------------------------------------------------------- */

/* Ends the new handshake of a replacing peer (its handshake slot is free
 * again); its live session stays. */
static void pending_abandon(struct gw_cp *cp, struct cp_peer *peer)
{
    hs_done(cp, peer);
    (void)rte_timer_stop(&peer->timer);
    hs_free(peer->hs);
    peer->hs = NULL;
    peer->replacing = false;
    peer->has_random = false;
}

/* One line per notable peer event, at most GW_CP_LOG_PER_SEC a second. */
static void log_peer(struct gw_cp *cp, const struct cp_peer *peer, const char *what, int alert)
{
    uint64_t sec = cp_now_ms(cp) / 1000;
    if (sec != cp->log_sec) {
        cp->log_sec = sec;
        cp->log_n = 0;
    }
    if (cp->log_n++ >= GW_CP_LOG_PER_SEC)
        return;
    uint32_t ip = rte_be_to_cpu_32(peer->key.client_ip);
    char al[24] = "";
    if (alert >= 0)
        snprintf(al, sizeof(al), " (alert %d)", alert);
    printf("dtlsgw: %u.%u.%u.%u:%u: %s%s\n", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
           rte_be_to_cpu_16(peer->key.client_port), what, al);
}

/* A handshake that ended without a session: counted by event and by
 * reason, and one log line per peer (log_peer's rate limit) with the
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
    char facts[160], why[420];
    snprintf(why, sizeof(why),
             "handshake %s: %s; waiting for %s; client offered %s; flights %" PRIu64
             ", retransmits %" PRIu64 ", dropped records %" PRIu64 "%s",
             out->event == HS_EV_FAILED ? "failed" : "timed out", hs_fail_reason_text(r),
             hs_state_name(peer->hs), hs_offer_facts(peer->hs, facts, sizeof(facts)),
             st ? st->flights_sent : 0, st ? st->retransmits : 0, st ? st->dropped_records : 0,
             tail);
    log_peer(cp, peer, why, out->event == HS_EV_FAILED ? out->alert : -1);
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
        session_remove(cp, peer, false);
        peer->replacing = false;
    }
    if (out->event == HS_EV_ESTABLISHED && peer->sess == NULL && session_install(cp, peer) < 0) {
        peer_free(cp, peer, false); /* counted as DROP_CP_INSTALL */
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
        uint64_t now = cp_now_ms(cp);
        uint64_t dt = out->next_timer_ms > now ? out->next_timer_ms - now : 1;
        (void)rte_timer_reset(&peer->timer, dt * cp->tick_per_ms, SINGLE, rte_lcore_id(), timer_cb,
                              peer);
    } else {
        (void)rte_timer_stop(&peer->timer);
    }
    switch (out->event) {
    case HS_EV_ESTABLISHED:
        dp_cnt_inc(DP_CNT_CP_HS_ESTABLISHED);
        hs_done(cp, peer); /* a session now, under max_sessions */
        return true;
    case HS_EV_CLOSED:
        dp_cnt_inc(DP_CNT_CP_SESS_CLOSED);
        peer_free(cp, peer, false);
        return false;
    case HS_EV_FAILED:
    case HS_EV_TIMEOUT:
        hs_failed(cp, peer, out, "");
        peer_free(cp, peer, false);
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
    int rc = hs_input(peer->hs, d, len, cp_now_ms(cp), &out);
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
        memcpy(peer->ch_random, rnd, CP_RANDOM_LEN);
    peer_hs_peer(peer, &hp);
    peer->hs = hs_new(cp->lst[peer->listener].ctx, &hp, cp_now_ms(cp));
    if (peer->hs == NULL) {
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        if (peer->replacing)
            pending_abandon(cp, peer);
        else
            peer_free(cp, peer, false);
        return;
    }
    dp_cnt_inc(DP_CNT_CP_HS_STARTED);
    hs_feed(cp, peer, d, len);
}

static int cookie_verdict(struct gw_cp *cp, unsigned li, const struct dp_sess_key *key,
                          unsigned port_idx, const struct rte_ether_addr *mac, const uint8_t *d,
                          size_t len)
{
    uint8_t hvr[CP_HVR_MAX_BYTES];
    size_t hvr_len = 0;
    struct hs_peer hp;
    memset(&hp, 0, sizeof(hp));
    memcpy(hp.addr, &key->client_ip, 4);
    hp.port = rte_be_to_cpu_16(key->client_port);
    hp.family = 4;
    int v = hs_cookie_check(cp->lst[li].ctx, &hp, d, len, hvr, sizeof(hvr), &hvr_len);
    if (v == HS_COOKIE_SEND_HVR && cp->cfg->listeners[li].hs.cookie_required) {
        struct rte_mbuf *m = gw_net_udp_frame(cp->g, port_idx, mac, key->local_ip, key->client_ip,
                                              key->local_port, key->client_port, hvr, hvr_len);
        if (m == NULL) {
            dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
        } else {
            cp_tx(cp, m);
            dp_cnt_inc(DP_CNT_CP_HVR_SENT);
        }
        return HS_COOKIE_SEND_HVR;
    }
    if (v == HS_COOKIE_DROP) {
        dp_cnt_inc(DP_CNT_DROP_CP_COOKIE);
        return HS_COOKIE_DROP;
    }
    return HS_COOKIE_VALID; /* valid cookie, or cookies off */
}

/* The workers' stateless pre-check of datagrams from peers without a
 * session (dp_unknown_peer_fn): a ClientHello without a valid cookie is
 * answered with a HelloVerifyRequest right on the worker, a datagram that
 * is no ClientHello at all is dropped there (the worker counts it
 * DROP_UNKNOWN_PEER), and verified ClientHellos (or any ClientHello when
 * cookies are off) are punted.  Later flights of peers in their handshake,
 * which only this thread's peer table knows, never get here: the worker
 * punts them by dp_gw.peer_busy.  Runs on
 * worker lcores: reads only the listener's handshake context (cookie
 * secrets are safe for concurrent readers, cr_cookie.h) and the config. */
static int worker_unknown_peer(void *arg, unsigned li, uint32_t peer_ip_be, uint16_t peer_port_be,
                               const uint8_t *d, size_t len, uint8_t *out, size_t out_cap,
                               size_t *out_len)
{
    const struct gw_cp *cp = arg;
    if (li >= cp->cfg->n_listeners)
        return DP_PEER_PUNT;
    /* A ClientHello in fragments is put together on the control plane
     * (cp_ch_asm.h) and checked whole; what this worker punts of them is
     * capped (CP_FRAG_PUNTS_PER_SEC per worker, in 1/16 s slices), so a
     * flood of fragments cannot crowd the punt ring. */
    if (hs_ch_is_fragmented(d, len)) {
        static __thread uint64_t slice_end_tsc;
        static __thread unsigned slice_punts;
        uint64_t now = rte_get_tsc_cycles();
        if (now >= slice_end_tsc) {
            slice_end_tsc = now + rte_get_tsc_hz() / 16;
            slice_punts = 0;
        }
        *out_len = 0;
        if (slice_punts >= CP_FRAG_PUNTS_PER_SEC / 16)
            return DP_PEER_DROP;
        slice_punts++;
        return DP_PEER_PUNT;
    }
    struct hs_peer hp;
    memset(&hp, 0, sizeof(hp));
    memcpy(hp.addr, &peer_ip_be, 4);
    hp.port = rte_be_to_cpu_16(peer_port_be);
    hp.family = 4;
    switch (hs_cookie_check(cp->lst[li].ctx, &hp, d, len, out, out_cap, out_len)) {
    case HS_COOKIE_DROP:
        /* Not a ClientHello this listener could start a handshake from:
         * cookie_verdict would drop it on the control plane anyway, so
         * it is dropped (and counted, DROP_UNKNOWN_PEER) here instead of
         * crowding the punt ring (issue 8 finding 7). */
        *out_len = 0;
        return DP_PEER_DROP;
    case HS_COOKIE_SEND_HVR:
        if (cp->cfg->listeners[li].hs.cookie_required)
            return DP_PEER_REPLY;
        *out_len = 0;
        return DP_PEER_PUNT; /* cookies off: the control plane starts a handshake */
    default:
        return DP_PEER_PUNT; /* valid cookie */
    }
}

/* True when rnd is the ClientHello.random of the peer's current handshake
 * (a retransmission or a late duplicate, not a new connection). */
static bool ch_random_is_current(const struct cp_peer *peer, const uint8_t *rnd)
{
    return peer->has_random && memcmp(rnd, peer->ch_random, CP_RANDOM_LEN) == 0;
}

/* A new ClientHello from the address:port of a peer we hold state for (a
 * live session, or a handshake a rebooted device will never finish).
 * RFC 6347 §4.2.8: "the server MUST NOT destroy existing associations until
 * the client has demonstrated reachability ... by completing a cookie
 * exchange"; after that the new handshake replaces the old state. */
static void replace_handshake(struct gw_cp *cp, struct cp_peer *peer, const uint8_t *d, size_t len)
{
    if (cookie_verdict(cp, peer->listener, &peer->key, peer->port_idx, &peer->mac, d, len) !=
        HS_COOKIE_VALID)
        return;
    /* A session becoming a handshake again takes a handshake slot; when
     * none is free the session stays. */
    if (!peer->hs_counted) {
        if (!hs_admit(cp, peer->key.client_ip))
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
        log_peer(cp, peer, "client restarted its handshake", -1);
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
        recs[0].fragment[0] == CP_HS_MT_CLIENT_HELLO) {
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
            (void)hs_input(peer->hs, d, len, cp_now_ms(cp), &out);
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
        /* Encrypted alert: check it against the control plane's own alert
         * window (the worker's stays the worker's), authenticate with the
         * session's read key (read-only), then mark it received. */
        struct dp_replay *aw = (struct dp_replay *)peer->alert_win;
        if (dp_replay_check(aw, r->seq) != DP_REPLAY_OK) {
            dp_cnt_inc(DP_CNT_DROP_CP_ALERT_REPLAY);
            continue;
        }
        unsigned need = (unsigned)s->explicit_nonce_len + s->tag_len;
        uint8_t buf[64];
        if (r->length < need || r->length - need != 2 || r->length > sizeof(buf)) {
            dp_cnt_inc(DP_CNT_DROP_CP_ALERT_AUTH);
            continue;
        }
        memcpy(buf, r->fragment, r->length);
        struct cr_aead_op o;
        memset(&o, 0, sizeof(o));
        o.key = &s->rd_key;
        o.in = buf + s->explicit_nonce_len;
        o.out = buf + s->explicit_nonce_len;
        o.len = 2;
        o.tag = buf + s->explicit_nonce_len + 2;
        o.epoch = r->epoch;
        o.version = r->version;
        o.seq = r->seq;
        o.explicit_nonce = s->explicit_nonce_len ? buf : NULL;
        o.type = r->type;
        if (cr_aead_open_batch(cp->aead, &o, 1) != 1) {
            dp_cnt_inc(DP_CNT_DROP_CP_ALERT_AUTH);
            continue;
        }
        dp_replay_update(aw, r->seq);
        uint8_t level = o.out[0], desc = o.out[1];
        if (desc == CP_ALERT_CLOSE_NOTIFY) {
            /* RFC 5246 §7.2.1: "the other party MUST respond with a
             * close_notify alert of its own and close down the connection
             * immediately". */
            dp_cnt_inc(DP_CNT_CP_SESS_CLOSED);
            peer_free(cp, peer, true);
            return;
        }
        if (level == CP_ALERT_LEVEL_FATAL) {
            dp_cnt_inc(DP_CNT_CP_SESS_FATAL_ALERT);
            peer_free(cp, peer, false);
            return;
        }
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

/* Returns true when m was passed on (not to be freed by the caller). */
static bool dtls_input(struct gw_cp *cp, struct rte_mbuf *m, unsigned worker)
{
    struct dp_gw *g = cp->g;
    /* The worker validated Ethernet/IPv4/UDP lengths and checksums. */
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
    uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
    const uint8_t *d = (const uint8_t *)(udp + 1);
    size_t len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp);
    int li = dp_gw_find_listener(g, ip->dst_addr, udp->dst_port);
    if (li < 0 || m->port >= g->n_ports) {
        dp_cnt_inc(DP_CNT_DROP_CP_UNKNOWN);
        return false;
    }
    struct dp_sess_key key = {
        .client_ip = ip->src_addr,
        .local_ip = ip->dst_addr,
        .client_port = udp->src_port,
        .local_port = udp->dst_port,
    };
    void *data = NULL;
    struct cp_peer *peer = NULL;
    if (rte_hash_lookup_data(cp->peers, &key, &data) >= 0)
        peer = data;
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
    if (cookie_verdict(cp, (unsigned)li, &key, m->port, &eth->src_addr, d, len) != HS_COOKIE_VALID)
        return false;
    if (cp->n_peers >= cp->max_peers) {
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        return false;
    }
    if (!hs_admit(cp, key.client_ip))
        return false;
    peer = calloc(1, sizeof(*peer));
    if (peer == NULL) {
        cp_hs_limit_release(cp->hs_limit, key.client_ip);
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        return false;
    }
    peer->cp = cp;
    peer->hs_counted = true;
    peer->key = key;
    rte_ether_addr_copy(&eth->src_addr, &peer->mac);
    peer->port_idx = m->port;
    peer->listener = (uint16_t)li;
    peer->worker = (uint16_t)worker;
    rte_timer_init(&peer->timer);
    if (rte_hash_add_key_data(cp->peers, &peer->key, peer) < 0) {
        hs_done(cp, peer);
        free(peer);
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        return false;
    }
    __atomic_store_n(&cp->n_peers, cp->n_peers + 1, __ATOMIC_RELAXED);
    /* Relaxed: workers only need to see it eventually; until then a
     * duplicate ClientHello gets one more HelloVerifyRequest. */
    __atomic_fetch_add(&g->peer_busy[dp_peer_slot(peer->key.client_ip, peer->key.client_port)], 1,
                       __ATOMIC_RELAXED);
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
    struct rte_mbuf *reply = gw_net_input(&cp->net, m, cp->now_ms);
    if (reply != NULL)
        cp_tx(cp, reply);
}

/* ---- periodic work ---------------------------------------------------------- */

static void reap_idle(struct gw_cp *cp)
{
    struct cp_peer *victims[DP_SESS_RECLAIM_BATCH];
    unsigned n = 0;
    uint64_t now = rte_get_tsc_cycles();
    uint64_t tsc_ms = rte_get_tsc_hz() / 1000;
    uint32_t it = 0;
    const void *key;
    void *data;
    while (n < DP_SESS_RECLAIM_BATCH && rte_hash_iterate(cp->peers, &key, &data, &it) >= 0) {
        struct cp_peer *peer = data;
        if (peer->sess == NULL)
            continue;
        uint32_t idle_ms = cp->cfg->listeners[peer->listener].idle_timeout_ms;
        if (idle_ms == 0)
            continue;
        uint64_t last = __atomic_load_n(&peer->sess->last_rx_tsc, __ATOMIC_RELAXED);
        if (now > last && (now - last) / tsc_ms >= idle_ms)
            victims[n++] = peer;
    }
    for (unsigned i = 0; i < n; i++) {
        dp_cnt_inc(DP_CNT_CP_SESS_IDLE_REAPED);
        peer_free(cp, victims[i], true);
    }
}

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
        (void)hs_timeout(peer->hs, cp_now_ms(cp), &out);
        /* may free this peer (unlinked above), never another on the list */
        (void)handle_out(cp, peer, &out);
    }
}

void gw_cp_print_stats(struct gw_cp *cp, FILE *f, bool all)
{
    fprintf(f, "dtlsgw: sessions=%u pending_free=%u peers=%u", dp_sess_count(cp->g->sessions),
            dp_sess_pending(cp->g->sessions), cp->n_peers);
    for (unsigned i = 0; i < DP_CNT_N; i++) {
        uint64_t v = dp_counter_total((enum dp_counter_id)i);
        if (v != 0 || all)
            fprintf(f, " %s=%" PRIu64, dp_counter_name((enum dp_counter_id)i), v);
    }
    fprintf(f, "\n");
    fflush(f);
}

/* Every listener's cookie secret, on the timer (cookie_rotate_ms) and on
 * the rotate-cookie command; the previous secret is still accepted
 * (cr_cookie.h), so a cookie is good for one to two periods and a
 * captured ClientHello+cookie cannot be replayed later than that. */
static int cookie_rotate_all(struct gw_cp *cp)
{
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++)
        CR_GUARD(hs_ctx_rotate_cookie_secret(cp->lst[i].ctx));
    dp_cnt_inc(DP_CNT_CP_COOKIE_ROTATED);
    return 0;
}

void gw_cp_stats_snapshot(const struct gw_cp *cp, struct gw_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < DP_CNT_N; i++) {
        out->counters[i] = dp_counter_total((enum dp_counter_id)i);
        if (dp_counter_is_drop((enum dp_counter_id)i))
            out->drops += out->counters[i];
    }
    /* relaxed loads of single-writer values (the control plane's) */
    for (unsigned i = 0; i < HS_FAIL_N; i++)
        out->hs_fail[i] = __atomic_load_n(&cp->hs_fail[i], __ATOMIC_RELAXED);
    out->sessions = dp_sess_count(cp->g->sessions);
    out->pending_free = dp_sess_pending(cp->g->sessions);
    out->peers = __atomic_load_n(&cp->n_peers, __ATOMIC_RELAXED);
    /* fixed before the control plane was created */
    out->workers = cp->g->n_workers;
    out->n_ports = cp->g->n_ports;
    for (unsigned i = 0; i < cp->g->n_ports && i < DP_MAX_PORTS; i++) {
        struct gw_stats_port *p = &out->ports[i];
        struct rte_eth_stats st;
        p->port_id = cp->g->ports[i].port_id;
        snprintf(p->driver, sizeof(p->driver), "%s", cp->g->ports[i].driver);
        /* what DPDK's own /ethdev/stats does from the telemetry thread */
        if (rte_eth_stats_get(p->port_id, &st) == 0) {
            p->have_stats = true;
#define CP_X_PORT(name) p->name = st.name;
            GW_PORT_STATS(CP_X_PORT)
#undef CP_X_PORT
        }
    }
}

static void telemetry_snapshot(void *arg, struct gw_stats *out)
{
    gw_cp_stats_snapshot(arg, out);
}

/* ---- control socket ------------------------------------------------------------- */
#ifdef GW_HAVE_CTL
static int ctl_stats(void *arg, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    struct gw_stats st;
    gw_cp_stats_snapshot(cp, &st);
    json_t *c = json_object();
    for (unsigned i = 0; i < DP_CNT_N; i++)
        json_object_set_new(c, dp_counter_name((enum dp_counter_id)i),
                            json_integer((json_int_t)st.counters[i]));
    json_object_set_new(res, "counters", c);
#define CP_X_GAUGE(name, help) json_object_set_new(res, #name, json_integer((json_int_t)st.name));
    GW_STATS_GAUGES(CP_X_GAUGE)
#undef CP_X_GAUGE
    json_object_set_new(res, "drops", json_integer((json_int_t)st.drops));
    json_t *hf = json_object();
    for (unsigned i = 1; i < HS_FAIL_N; i++)
        if (st.hs_fail[i] != 0)
            json_object_set_new(hf, hs_fail_reason_text((enum hs_fail_reason)i),
                                json_integer((json_int_t)st.hs_fail[i]));
    json_object_set_new(res, "handshake_failures", hf);
    json_object_set_new(res, "workers", json_integer(st.workers));
    /* What the ports themselves counted: datagrams lost before a worker saw
     * them (RX ring full, no mbuf) are not in any DROP_ counter. */
    json_t *ports = json_array();
    for (unsigned i = 0; i < st.n_ports; i++) {
        const struct gw_stats_port *p = &st.ports[i];
        json_t *o = json_object();
        json_object_set_new(o, "port_id", json_integer(p->port_id));
        json_object_set_new(o, "driver", json_string(p->driver));
        if (p->have_stats) {
#define CP_X_PORT_JSON(name) json_object_set_new(o, #name, json_integer((json_int_t)p->name));
            GW_PORT_STATS(CP_X_PORT_JSON)
#undef CP_X_PORT_JSON
        }
        json_array_append_new(ports, o);
    }
    json_object_set_new(res, "ports", ports);
    if (cp->http != NULL)
        json_object_set_new(res, "metrics_http", gw_http_counters_json(cp->http));
    return 0;
}

/* GET /metrics: the stats reply's result (the control socket's counters
 * included) as the exposition dtlsgw-ctl metrics prints. */
static int http_metrics_body(void *arg, char **out_body, size_t *out_len)
{
    struct gw_cp *cp = arg;
    char err[GW_CTL_ERR_MAX_LEN];
    json_t *res = json_object();
    CR_ENSURE(res != NULL, CR_ERR_NOMEM);
    int rc = ctl_stats(cp, res, err);
    if (rc == 0 && cp->ctl != NULL)
        json_object_set_new(res, "control", gw_ctl_counters_json(gw_ctl_counters(cp->ctl)));
    if (rc == 0)
        rc = gw_metrics_build(res, out_body, out_len);
    json_decref(res);
    return rc;
}

static void ip_str(uint32_t be, char *out, size_t cap)
{
    uint32_t h = rte_be_to_cpu_32(be);
    snprintf(out, cap, "%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
}

static int ctl_sessions(void *arg, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    uint32_t it = 0;
    const void *key;
    void *data;
    uint64_t now = rte_get_tsc_cycles(), tsc_ms = rte_get_tsc_hz() / 1000;
    while (rte_hash_iterate(cp->peers, &key, &data, &it) >= 0) {
        struct cp_peer *peer = data;
        struct dp_session *s = peer->sess;
        char a[32];
        json_t *o = json_object();
        ip_str(peer->key.client_ip, a, sizeof(a));
        json_object_set_new(o, "client", json_string(a));
        json_object_set_new(o, "client_port",
                            json_integer(rte_be_to_cpu_16(peer->key.client_port)));
        json_object_set_new(o, "listener", json_string(cp->cfg->listeners[peer->listener].name));
        json_object_set_new(o, "state", json_string(s ? "established" : "handshake"));
        const struct hs_keys *k = peer->hs ? hs_keys(peer->hs) : NULL;
        if (k != NULL) {
            const struct hs_suite_info *si = hs_suite_find(k->suite);
            json_object_set_new(o, "suite", json_string(si ? si->name : "?"));
            json_object_set_new(o, "identity", json_string(k->peer_identity));
        }
        if (s != NULL) {
            uint64_t last = __atomic_load_n(&s->last_rx_tsc, __ATOMIC_RELAXED);
            json_object_set_new(o, "nat_port", json_integer(s->nat_port));
            json_object_set_new(o, "owner", json_integer(s->owner));
            json_object_set_new(
                o, "rx_records",
                json_integer((json_int_t)__atomic_load_n(&s->rx_records, __ATOMIC_RELAXED)));
            json_object_set_new(
                o, "tx_records",
                json_integer((json_int_t)__atomic_load_n(&s->tx_records, __ATOMIC_RELAXED)));
            json_object_set_new(o, "idle_ms",
                                json_integer(now > last ? (json_int_t)((now - last) / tsc_ms) : 0));
        }
        json_array_append_new(res, o);
    }
    return 0;
}

/* Ends every peer for which match() says so.  Collects a batch, frees it
 * (peer_free deletes from the hash, which must not change under
 * rte_hash_iterate), starts the walk again: every match ends, however many
 * there are.  Returns the count. */
static uint64_t end_matching(struct gw_cp *cp,
                             bool (*match)(struct gw_cp *, struct cp_peer *, void *), void *arg)
{
    struct cp_peer *victims[64];
    uint64_t ended = 0;
    unsigned n;
    do {
        n = 0;
        uint32_t it = 0;
        const void *key;
        void *data;
        while (n < RTE_DIM(victims) && rte_hash_iterate(cp->peers, &key, &data, &it) >= 0)
            if (match(cp, data, arg))
                victims[n++] = data;
        for (unsigned i = 0; i < n; i++)
            peer_free(cp, victims[i], true);
        ended += n;
    } while (n == RTE_DIM(victims));
    return ended;
}

struct kill_match {
    uint32_t ip_be;
    uint16_t port_be; /* 0: every port */
};

static bool kill_match(struct gw_cp *cp, struct cp_peer *peer, void *arg)
{
    (void)cp;
    const struct kill_match *m = arg;
    return peer->key.client_ip == m->ip_be &&
           (m->port_be == 0 || peer->key.client_port == m->port_be);
}

static int ctl_kill(void *arg, uint32_t ipv4, uint16_t port, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    struct kill_match m = {.ip_be = rte_cpu_to_be_32(ipv4), .port_be = rte_cpu_to_be_16(port)};
    uint64_t killed = end_matching(cp, kill_match, &m);
    json_object_set_new(res, "killed", json_integer((json_int_t)killed));
    return 0;
}

struct psk_match {
    unsigned listener;
    const struct hs_psk_set *prev;
};

/* A peer of the listener whose PSK identity (chosen at ClientKeyExchange:
 * established sessions and handshakes past it) was removed or re-keyed. */
static bool psk_gone_match(struct gw_cp *cp, struct cp_peer *peer, void *arg)
{
    const struct psk_match *m = arg;
    if (peer->listener != m->listener || peer->hs == NULL)
        return false;
    const struct hs_keys *k = hs_keys(peer->hs);
    const struct hs_suite_info *si = k != NULL ? hs_suite_find(k->suite) : NULL;
    if (si == NULL || (si->kex != HS_KEX_PSK && si->kex != HS_KEX_ECDHE_PSK) ||
        k->peer_identity[0] == '\0')
        return false;
    return !hs_creds_psk_kept(cp->lst[m->listener].creds, m->prev, k->peer_identity);
}

static int ctl_reload_psk(void *arg, json_t *res, char *err)
{
    struct gw_cp *cp = arg;
    unsigned n = 0;
    uint64_t ended = 0;
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++) {
        const struct gw_listener_cfg *l = &cp->cfg->listeners[i];
        if (l->psk_file[0] == 0)
            continue;
        struct hs_psk_set *prev = NULL;
        int rc = hs_creds_reload_psk_file(cp->lst[i].creds, l->psk_file, &prev);
        if (rc < 0) {
            snprintf(err, GW_CTL_ERR_MAX_LEN, "%.150s: %.40s", l->psk_file, cr_strerror(rc));
            return rc;
        }
        if (l->psk_reload_ends_sessions) {
            struct psk_match m = {.listener = i, .prev = prev};
            uint64_t e = end_matching(cp, psk_gone_match, &m);
            unsigned lc = rte_lcore_id() < RTE_MAX_LCORE ? rte_lcore_id() : 0;
            dp_cnt_add(lc, DP_CNT_CP_PSK_RELOAD_ENDED, e);
            ended += e;
        }
        hs_psk_set_free(prev);
        n++;
    }
    json_object_set_new(res, "reloaded", json_integer(n));
    json_object_set_new(res, "ended", json_integer((json_int_t)ended));
    return 0;
}

static int ctl_rotate_cookie(void *arg, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    CR_GUARD(cookie_rotate_all(cp));
    cp->last_cookie_ms = cp_now_ms(cp);
    json_object_set_new(res, "rotated", json_integer(cp->cfg->n_listeners));
    return 0;
}
#endif

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
    if (rte_timer_subsystem_init() < 0 && rte_errno != EALREADY) {
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
    struct rte_hash_parameters hp = {
        .name = "dgw_cp_peers",
        .entries = cp->max_peers * 2,
        .key_len = sizeof(struct dp_sess_key),
        .hash_func = rte_hash_crc,
        .socket_id = (int)rte_socket_id(),
    };
    cp->peers = rte_hash_create(&hp);
    if (cp->peers == NULL) {
        snprintf(err, err_len, "cannot create the peer table: %s", rte_strerror(rte_errno));
        rc = CR_ERR_NOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        const struct gw_listener_cfg *l = &cfg->listeners[i];
        struct cp_listener *cl = &cp->lst[i];
        cl->creds = hs_creds_new();
        if (cl->creds == NULL) {
            rc = CR_ERR_NOMEM;
            snprintf(err, err_len, "listener %s: out of memory", l->name);
            goto fail;
        }
        if (l->psk_file[0] && (rc = hs_creds_load_psk_file(cl->creds, l->psk_file)) < 0) {
            snprintf(err, err_len, "listener %s: cannot load PSK file %s: %s", l->name, l->psk_file,
                     cr_strerror(rc));
            goto fail;
        }
        /* cert, cert2, then the certs list: each fills the slot of its key
         * type (ECDSA P-256, ECDSA P-384, RSA); a second certificate of a
         * slot is refused here, with the reason (hs_creds_last_error). */
        const char *cert_files[2 + GW_MAX_LISTENER_CERTS], *key_files[2 + GW_MAX_LISTENER_CERTS];
        unsigned n_cert_files = 0;
        if (l->cert_file[0]) {
            cert_files[n_cert_files] = l->cert_file;
            key_files[n_cert_files++] = l->key_file;
        }
        if (l->cert2_file[0]) {
            cert_files[n_cert_files] = l->cert2_file;
            key_files[n_cert_files++] = l->key2_file;
        }
        for (unsigned j = 0; j < l->n_certs && j < GW_MAX_LISTENER_CERTS; j++) {
            cert_files[n_cert_files] = l->certs[j].cert_file;
            key_files[n_cert_files++] = l->certs[j].key_file;
        }
        for (unsigned j = 0; j < n_cert_files; j++) {
            if ((rc = hs_creds_load_cert(cl->creds, cert_files[j], key_files[j])) < 0) {
                snprintf(err, err_len, "listener %s: cannot load certificate %s / key %s: %s (%s)",
                         l->name, cert_files[j], key_files[j], cr_strerror(rc),
                         hs_creds_last_error(cl->creds));
                goto fail;
            }
        }
        if (l->ca_file[0] && (rc = hs_creds_load_ca(cl->creds, l->ca_file)) < 0) {
            snprintf(err, err_len, "listener %s: cannot load CA file %s: %s (%s)", l->name,
                     l->ca_file, cr_strerror(rc), hs_creds_last_error(cl->creds));
            goto fail;
        }
        cl->ctx = hs_ctx_new(&l->hs, cl->creds);
        if (cl->ctx == NULL) {
            rc = CR_ERR_INVAL;
            snprintf(err, err_len,
                     "listener %s: cannot create the handshake context "
                     "(credentials missing for the configured suites?)",
                     l->name);
            goto fail;
        }
        cl->nh = gw_net_nexthop_add(&cp->net, rte_cpu_to_be_32(l->backend_ipv4));
        if (cl->nh < 0) {
            rc = CR_ERR_INVAL;
            snprintf(err, err_len,
                     "listener %s: backend %u.%u.%u.%u is on no port's subnet "
                     "and no port has a gateway",
                     l->name, l->backend_ipv4 >> 24, (l->backend_ipv4 >> 16) & 255,
                     (l->backend_ipv4 >> 8) & 255, l->backend_ipv4 & 255);
            goto fail;
        }
    }
    /* Set before the workers start; they only read it. */
    g->unknown_peer = worker_unknown_peer;
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
    struct gw_ctl_handlers h = {
        .arg = cp,
        .stats = ctl_stats,
        .sessions = ctl_sessions,
        .kill = ctl_kill,
        .reload_psk = ctl_reload_psk,
        .rotate_cookie = ctl_rotate_cookie,
    };
#endif
    cp->workers_running = true;
    cp->last_cookie_ms = cp_now_ms(cp);
    uint32_t idle = 0;
    while (!*stop) {
        unsigned work = 0;
        cp->now_ms = cp_now_ms(cp);
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
        rte_timer_manage();
        process_fired(cp);
        if (cp->now_ms - cp->last_arp_ms >= 100) {
            struct rte_mbuf *arps[DP_MAX_NEXTHOPS];
            unsigned n = gw_net_arp_tick(&cp->net, cp->now_ms, arps, DP_MAX_NEXTHOPS);
            for (unsigned i = 0; i < n; i++)
                cp_tx(cp, arps[i]);
            cp->last_arp_ms = cp->now_ms;
        }
        (void)dp_sess_reclaim(g->sessions, reclaim_cb, cp, false);
        if (cp->now_ms - cp->last_reap_ms >= GW_CP_REAP_PERIOD_MS) {
            reap_idle(cp);
            cp->last_reap_ms = cp->now_ms;
        }
        if (cp->now_ms - cp->last_cookie_ms >= cp->cfg->cookie_rotate_ms) {
            (void)cookie_rotate_all(cp);
            cp->last_cookie_ms = cp->now_ms;
        }
#ifdef GW_HAVE_CTL
        if (cp->ctl != NULL && cp->now_ms - cp->last_ctl_ms >= 5) {
            (void)gw_ctl_poll(cp->ctl, &h);
            cp->last_ctl_ms = cp->now_ms;
        }
        if (cp->http != NULL && cp->now_ms - cp->last_http_ms >= 5) {
            (void)gw_http_poll(cp->http, http_metrics_body, cp);
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
                cp_tx(cp, pkts[i]);
    }
    /* Every live session gets a close_notify sealed with its write
     * sequence; the workers stopped, so the grace period is immediate. */
    uint32_t it = 0;
    const void *key;
    void *data;
    while (rte_hash_iterate(cp->peers, &key, &data, &it) >= 0) {
        peer_free(cp, data, true);
        it = 0;
    }
    (void)dp_sess_reclaim(g->sessions, reclaim_cb, cp, true);
    uint64_t until = cp_now_ms(cp) + GW_CP_SHUTDOWN_DRAIN_MS;
    while (cp_now_ms(cp) < until) {
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
    if (cp->peers != NULL) {
        uint32_t it = 0;
        const void *key;
        void *data;
        while (rte_hash_iterate(cp->peers, &key, &data, &it) >= 0) {
            peer_free(cp, data, false);
            it = 0;
        }
        rte_hash_free(cp->peers);
    }
#ifdef GW_HAVE_CTL
    gw_ctl_close(cp->ctl);
    gw_http_close(cp->http);
#endif
    for (unsigned i = 0; i < GW_MAX_LISTENERS; i++) {
        hs_ctx_free(cp->lst[i].ctx);
        hs_creds_free(cp->lst[i].creds);
    }
    cr_aead_ctx_free(cp->aead);
    cp_hs_limit_free(cp->hs_limit);
    cp_ch_asm_free(cp->ch_asm);
    free(cp);
}
