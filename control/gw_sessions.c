/* gw_sessions.c — see gw_sessions.h.
 *
 * Our close_notify is sealed with the session's write sequence number once
 * the RCU grace period proves the owning worker no longer uses it
 * (reclaim_cb), or after the workers stopped (shutdown).
 */
#include "gw_sessions.h"

#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_spinlock.h>

#include <openssl/rand.h>

#include "cr_aead.h"
#include "dp_counters.h"
#include "gw_nat.h"
#include "gw_peers.h"
#include "hs.h"

/* ---- NAT ports ---------------------------------------------------------- */

/* 32 random bits from libcrypto's CSPRNG, drawn CP_RND_POOL_WORDS at a
 * time. */
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

/* The pool of listener li: the one of the port its backend route uses;
 * a table without pools (tests) has one address set, the port's address.
 * -1 without a next hop. */
static int nat_pool_of(const struct gw_cp *cp, unsigned li, uint32_t *out_first, uint32_t *out_n,
                       uint32_t *out_base)
{
    int nh = cp->lst[li].nh;
    if (nh < 0)
        return -1;
    unsigned pi = cp->g->nexthops[nh].port_idx;
    const struct dp_nat_pool *pool = dp_sess_nat_pool(cp->g->sessions, pi, out_base);
    if (pool != NULL) {
        *out_first = pool->first;
        *out_n = pool->n_addrs;
    } else {
        *out_first = rte_be_to_cpu_32(cp->g->ports[pi].ip_be);
        *out_n = 1;
        *out_base = 0;
    }
    /* An IPv6 backend's sessions have one backend-side IPv6 address (the
     * port's address6): their slots are the ports of the pool's first
     * address, the slot the workers look up for an IPv6 reply
     * (dp_worker.c nat_frame). */
    if (cp->cfg->listeners[li].backend_is_v6)
        *out_n = 1;
    return 0;
}

uint32_t gw_sess_nat_slot_ip6(const struct gw_cp *cp, unsigned port_idx)
{
    return dp_sess_nat_slot_ip6(cp->g->sessions, port_idx, cp->g->ports[port_idx].ip_be);
}

/* The slot of (ip_be, port), or -1 (no pool holds ip_be). */
static int64_t nat_slot(const struct gw_cp *cp, uint32_t ip_be, uint16_t port)
{
    return dp_sess_nat_slot(cp->g->sessions, ip_be, port);
}

/* The bitmap is shared by the handshake shards: every access holds
 * cp->sh->lock (gw_cp_priv.h); the *_locked helpers are for callers that
 * already hold it. */
static int nat_alloc_locked(struct gw_cp *cp, unsigned li, uint32_t *out_ip_be, uint16_t *out_port)
{
    const struct gw_listener_cfg *l = &cp->cfg->listeners[li];
    uint32_t first, n, base;
    if (nat_pool_of(cp, li, &first, &n, &base) < 0)
        return -1;
    int64_t slot =
        gw_nat_pick_pool(cp->sh->nat_used, base, n, l->nat_port_min, l->nat_port_max, nat_rnd, cp);
    if (slot < 0)
        return -1;
    *out_ip_be = rte_cpu_to_be_32(first + (uint32_t)(slot >> 16) - base);
    *out_port = (uint16_t)(slot & 0xffff);
    return 0;
}

static void nat_free_locked(struct gw_cp *cp, uint32_t ip_be, uint16_t port)
{
    int64_t slot = nat_slot(cp, ip_be, port);
    if (slot >= 0)
        cp->sh->nat_used[slot / 64] &= ~(UINT64_C(1) << (slot % 64));
}

int gw_sess_nat_alloc(struct gw_cp *cp, unsigned li, uint32_t *out_ip_be, uint16_t *out_port)
{
    rte_spinlock_lock(&cp->sh->lock);
    int rc = nat_alloc_locked(cp, li, out_ip_be, out_port);
    rte_spinlock_unlock(&cp->sh->lock);
    return rc;
}

bool gw_sess_nat_take(struct gw_cp *cp, uint32_t ip_be, uint16_t port)
{
    int64_t slot = nat_slot(cp, ip_be, port);
    if (slot < 0)
        return false;
    rte_spinlock_lock(&cp->sh->lock);
    cp->sh->nat_used[slot / 64] |= UINT64_C(1) << (slot % 64);
    rte_spinlock_unlock(&cp->sh->lock);
    return true;
}

void gw_sess_nat_free(struct gw_cp *cp, uint32_t ip_be, uint16_t port)
{
    rte_spinlock_lock(&cp->sh->lock);
    nat_free_locked(cp, ip_be, port);
    rte_spinlock_unlock(&cp->sh->lock);
}

bool gw_sess_nat_used(const struct gw_cp *cp, uint32_t ip_be, uint16_t port)
{
    int64_t slot = nat_slot(cp, ip_be, port);
    if (slot < 0)
        return true;
    rte_spinlock_lock(&cp->sh->lock);
    bool used = gw_nat_test(cp->sh->nat_used, (uint32_t)slot) != 0;
    rte_spinlock_unlock(&cp->sh->lock);
    return used;
}

/* ---- removal and reclaim ---------------------------------------------------- */

void gw_sess_remove(struct gw_cp *cp, struct cp_peer *peer, bool send_close)
{
    if (peer->sess == NULL)
        return;
    peer->sess->cp_ref = NULL;
    rte_spinlock_lock(&cp->sh->lock); /* one table writer at a time */
    dp_sess_remove(cp->g->sessions, peer->sess, send_close);
    rte_spinlock_unlock(&cp->sh->lock);
    peer->sess = NULL;
}

/* Runs inside dp_sess_reclaim, cp->sh->lock held, on the main lcore. */
static void reclaim_cb(struct dp_session *s, void *arg)
{
    struct gw_cp *cp = arg;
    nat_free_locked(cp, s->nat_ip, s->nat_port);
    dp_cnt_inc(DP_CNT_CP_SESS_FREED);
    if (!s->send_close)
        return;
    /* RFC 5246 §7.2.1 close_notify: alert level warning(1), description 0.
     * The grace period is over: no worker uses s any more, so wr_seq is
     * ours. */
    static const uint8_t close_notify[DP_ALERT_LEN] = {DP_ALERT_LEVEL_WARNING,
                                                       DP_ALERT_CLOSE_NOTIFY};
    struct rte_mbuf *m =
        dp_session_seal_frame(cp->g, s, cp->aead, DP_CT_ALERT, close_notify, sizeof(close_notify));
    if (m == NULL) {
        dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
        return;
    }
    gw_cp_tx(cp, m);
    dp_cnt_inc(DP_CNT_CP_CLOSE_NOTIFY_SENT);
}

unsigned gw_sess_reclaim(struct gw_cp *cp, bool wait)
{
    /* Only the main lcore reclaims (shard 0's cp: its AEAD context seals
     * the close_notify, its TX path sends it). */
    rte_spinlock_lock(&cp->sh->lock);
    unsigned n = dp_sess_reclaim(cp->g->sessions, reclaim_cb, cp, wait);
    rte_spinlock_unlock(&cp->sh->lock);
    return n;
}

/* ---- install ------------------------------------------------------------------ */

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

int gw_sess_install_keys(struct gw_cp *cp, struct cp_peer *peer, const struct hs_keys *k)
{
    struct dp_gw *g = cp->g;
    const struct gw_listener_cfg *lc = &cp->cfg->listeners[peer->listener];
    int rc;
    if (k == NULL)
        return CR_ERR_INVAL;
    int nh = cp->lst[peer->listener].nh;
    if (nh < 0) {
        dp_cnt_inc(DP_CNT_DROP_CP_NO_NEXTHOP);
        return CR_ERR_INVAL;
    }
    uint32_t nat_ip;
    uint16_t nat;
    if (gw_sess_nat_alloc(cp, peer->listener, &nat_ip, &nat) < 0) {
        dp_cnt_inc(DP_CNT_DROP_CP_NAT_EXHAUSTED);
        return CR_ERR_LIMIT;
    }
    struct dp_session *s = dp_sess_session_alloc(g->sessions, replay_bits(lc->replay_window_bits),
                                                 (int)rte_socket_id());
    if (s == NULL) {
        gw_sess_nat_free(cp, nat_ip, nat);
        return CR_ERR_NOMEM;
    }
    if (cp_key_is_v4(&peer->key)) {
        s->key.client_ip = cp_key_client_v4(&peer->key);
        s->key.local_ip = cp_key_local_v4(&peer->key);
        s->key.client_port = peer->key.client_port;
        s->key.local_port = peer->key.local_port;
    } else {
        CR_GUARD_GOTO(dp_session_v6(s), fail);
        s->family = DP_AF_V6;
        s->v6->key6 = peer->key;
    }
    CR_GUARD_GOTO(cr_aead_key_init(&s->rd_key, cp->aead, k->aead, k->client_write_key, k->key_len,
                                   k->client_write_iv, k->iv_len),
                  fail);
    CR_GUARD_GOTO(cr_aead_key_init(&s->wr_key, cp->aead, k->aead, k->server_write_key, k->key_len,
                                   k->server_write_iv, k->iv_len),
                  fail);
    s->backend_port = rte_cpu_to_be_16(lc->backend_port);
    s->backend_nh = (uint16_t)nh;
    s->backend_port_id = g->nexthops[nh].port_idx;
    /* the NAT slot (nat_ip, nat_port): for an IPv6 backend nat_ip is the
     * first address of the backend port's pool and only names the slot
     * (nat_pool_of) */
    s->nat_ip = nat_ip;
    s->nat_port = nat;
    if (lc->backend_is_v6) {
        /* our backend-side address: the backend port's global IPv6 one
         * (gw_listeners_init checked it has one) */
        CR_GUARD_GOTO(dp_session_v6(s), fail);
        s->backend_family = DP_AF_V6;
        memcpy(s->v6->backend_ip6, lc->backend_ipv6, 16);
        memcpy(s->v6->nat_ip6, g->ports[s->backend_port_id].ip6, 16);
    } else {
        s->backend_ip = rte_cpu_to_be_32(lc->backend_ipv4);
    }
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
    rte_spinlock_lock(&cp->sh->lock); /* one table writer at a time */
    rc = dp_sess_install(g->sessions, s);
    rte_spinlock_unlock(&cp->sh->lock);
    if (rc == CR_ERR_BUSY) {
        /* The reclaim queue is full: some worker has not passed a
         * quiescent state for a while.  Refuse (the client retries) rather
         * than let removed sessions pile up; say so at most once a second. */
        dp_cnt_inc(DP_CNT_DROP_CP_RECLAIM_BACKLOG);
        uint64_t now = gw_cp_now_ms(cp);
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
    dp_cnt_inc(DP_CNT_CP_SESS_INSTALLED);
    if (!k->ems) {
        /* RFC 7627 §5.3: never resumable; counted and said once per peer. */
        dp_cnt_inc(DP_CNT_CP_SESS_NO_EMS);
        gw_peer_log(cp, peer, "session without extended master secret (RFC 7627; not resumable)",
                    -1);
    }
    return CR_OK;
fail:
    dp_cnt_inc(DP_CNT_DROP_CP_INSTALL);
    gw_sess_nat_free(cp, nat_ip, nat);
    dp_session_free(s);
    return rc;
}

int gw_sess_install(struct gw_cp *cp, struct cp_peer *peer)
{
    CR_GUARD(gw_sess_install_keys(cp, peer, hs_keys(peer->hs)));
    /* The session holds its expanded keys now: the engine's raw copies
     * and the master secret go (issue 8: wiped as soon as installed). */
    hs_wipe_installed_keys(peer->hs);
    return CR_OK;
}

/* ---- alerts of a live session -------------------------------------------------- */

/* The gateway's one reading of a session record, through the engine's
 * hs_session_alert_open (no protocol logic here).  Opens the encrypted alert r of peer's
 * session: checked against the control plane's own alert window (the
 * worker's stays the worker's), authenticated with the session's read key
 * (read-only), then marked received (RFC 6347 §4.1.2.6: "the receiver
 * MUST NOT update the window until the MAC verified").  0 with
 * *out_level and *out_desc, or CR_ERR_AUTH for a record that is replayed
 * (counted DROP_CP_ALERT_REPLAY), not one alert long or whose tag does not
 * verify (DROP_CP_ALERT_AUTH). */
static int session_alert_open(struct gw_cp *cp, struct cp_peer *peer, const struct dp_record *r,
                              uint8_t *out_level, uint8_t *out_desc)
{
    const struct dp_session *s = peer->sess;
    struct hs_alert a;
    int rc = hs_session_alert_open(cp->aead, &s->rd_key, s->epoch, r,
                                   (struct dp_replay *)peer->alert_win, &a);
    if (rc != HS_SESSION_ALERT_OK) {
        dp_cnt_inc(rc == HS_SESSION_ALERT_ERR_REPLAY ? DP_CNT_DROP_CP_ALERT_REPLAY
                                                     : DP_CNT_DROP_CP_ALERT_AUTH);
        return CR_ERR_AUTH;
    }
    *out_level = a.level;
    *out_desc = a.description;
    return CR_OK;
}

bool gw_sess_alert_input(struct gw_cp *cp, struct cp_peer *peer, const struct dp_record *r)
{
    uint8_t level, desc;
    if (session_alert_open(cp, peer, r, &level, &desc) < 0)
        return true;
    if (desc == DP_ALERT_CLOSE_NOTIFY) {
        /* RFC 5246 §7.2.1: "the other party MUST respond with a
         * close_notify alert of its own and close down the connection
         * immediately". */
        dp_cnt_inc(DP_CNT_CP_SESS_CLOSED);
        gw_peer_free(cp, peer, true);
        return false;
    }
    if (level == DP_ALERT_LEVEL_FATAL) {
        dp_cnt_inc(DP_CNT_CP_SESS_FATAL_ALERT);
        gw_peer_free(cp, peer, false);
        return false;
    }
    return true;
}

/* ---- idle reaping and kill ------------------------------------------------------- */

void gw_sess_reap_idle(struct gw_cp *cp)
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
        /* relaxed: the owner's store, an approximate idle time is enough */
        uint64_t last = __atomic_load_n(&peer->sess->last_rx_tsc, __ATOMIC_RELAXED);
        if (now > last && (now - last) / tsc_ms >= idle_ms)
            victims[n++] = peer;
    }
    for (unsigned i = 0; i < n; i++) {
        dp_cnt_inc(DP_CNT_CP_SESS_IDLE_REAPED);
        gw_peer_free(cp, victims[i], true);
    }
}

struct kill_match {
    uint8_t ip[16];   /* the client address as in cp_key_t (IPv4-mapped) */
    uint16_t port_be; /* 0: every port */
};

static bool kill_match(struct gw_cp *cp, struct cp_peer *peer, void *arg)
{
    (void)cp;
    const struct kill_match *m = arg;
    return memcmp(peer->key.client_ip, m->ip, 16) == 0 &&
           (m->port_be == 0 || peer->key.client_port == m->port_be);
}

uint64_t gw_sess_kill(struct gw_cp *cp, uint32_t ip_be, uint16_t port_be)
{
    struct dp_addr a = dp_addr_v4(ip_be);
    return gw_sess_kill_addr(cp, &a, port_be);
}

uint64_t gw_sess_kill_addr(struct gw_cp *cp, const struct dp_addr *a, uint16_t port_be)
{
    struct kill_match m = {.port_be = port_be};
    cp_addr_map(m.ip, a);
    return gw_peers_end_matching(cp, kill_match, &m);
}
