/* gw_cp_priv.h — the control plane's internal state, shared by the files
 * that make it up (not for anything outside control/gw_*.c and their unit
 * tests):
 *   gw_cp.c       the loop, punted-datagram dispatch, handshake driving,
 *                 timers, TX, create/shutdown/free;
 *   gw_listeners.c each listener's credentials, handshake context and
 *                 backend next hop, cookie rotation and the cookie check
 *                 (on the workers and here);
 *   gw_peers.c    the peer table, handshake admission, peer log lines;
 *   gw_sessions.c session install/removal/reclaim, NAT ports, alerts of
 *                 live sessions, close_notify, idle reaping, kill;
 *   gw_cmds.c     stats and the control-socket command handlers;
 *   gw_restart.c  the hitless-restart state file: save and restore of
 *                 established sessions (format: gw_state.h).
 *
 * Owns: struct gw_cp (one per handshake shard), struct gw_cp_shared and
 * struct cp_peer.  Every field of a shard is written only on its lcore
 * (or by the main lcore holding the shard's lock); the exceptions say who
 * else reads them (relaxed atomics: n_peers and hs_fail[] for the
 * telemetry thread).
 * Must not: be included by dataplane/ or by workers' code.
 */
#ifndef DTLSGW_GW_CP_PRIV_H
#define DTLSGW_GW_CP_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_spinlock.h>
#include <rte_timer.h>

#include "cp_key.h"
#include "cp_shard.h"

#include "dp_replay.h"
#include "dp_session.h"
#include "dp_wire.h"
#include "dp_worker.h"
#include "gw_config.h"
#include "gw_cp.h"
#include "gw_net.h"
#include "hs.h"

#define CP_ALERT_WIN_WORDS 8 /* storage of a peer's alert window (DP_REPLAY_WIN_MIN_BITS) */
#define CP_RND_POOL_WORDS  64
#define CP_END_MATCH_BATCH 64 /* peers gw_peers_end_matching frees per walk */

struct gw_cp;

/* A peer: one client transport address with a handshake in progress, a
 * live session, or both (a session being replaced, RFC 6347 §4.2.8). */
struct cp_peer {
    cp_key_t key; /* both families (cp_key.h) */
    struct hs *hs;
    struct dp_session *sess;
    struct rte_timer timer;
    struct gw_cp *cp; /* owner (the timer callback's way back) */
    /* On cp->due while its timer has fired and the loop has not handled
     * it yet (timer_cb links, process_fired and gw_peer_free unlink). */
    bool fired;
    TAILQ_ENTRY(cp_peer) due_link;
    /* Anti-replay for the encrypted alerts the control plane reads (the
     * worker punts them unread, so their sequence numbers are seen only
     * here): a window of its own, set up at install (RFC 6347 §4.1.2.6). */
    uint64_t alert_win[CP_ALERT_WIN_WORDS];
    struct rte_ether_addr mac; /* L2 source of the peer's last frame */
    uint16_t port_idx;         /* port towards the peer */
    uint16_t listener;
    uint16_t worker; /* worker whose queue received it */
    bool has_random;
    uint8_t ch_random[DP_HELLO_RANDOM_LEN]; /* ClientHello.random of this handshake */
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
    /* session ticket keys (RFC 5077), when session_tickets: loaded from
     * the ticket_key_file, or random and rotated (gw_listeners_rotate_tickets) */
    bool tickets;
    struct cr_seal_ring tk_ring;
};

TAILQ_HEAD(cp_due_list, cp_peer);

/* handshake_lcores (issue 10): the control plane is N shards, struct
 * gw_cp each; shard 0 runs on the main lcore beside everything else the
 * control plane does (punt rings, ARP/ICMP, reclaim, cookie rotation,
 * control socket, metrics), shards 1..N-1 on handshake lcores of their
 * own (gw_cp_shard_main).  A peer belongs to the shard cp_shard_of() names
 * for its transport address: the main lcore hands its punted datagrams to
 * that shard's hs_in ring, and the shard alone owns the peer, its engine,
 * its timer (rte_timer is per lcore) and its table entry.  Each shard has
 * its own engine contexts and credentials per listener (hs_ctx is
 * single-threaded, hs.h); the cookie is checked with shard 0's contexts
 * (hs_cookie_check is safe for concurrent readers: the workers use them
 * too), so one secret and one rotation serve the workers and every shard.
 *
 * Shared by the shards, under gw_cp_shared.lock: the session table's
 * writer side (DESIGN.md's single writer becomes one writer at a time:
 * rte_hash's lock-free readers only need writers not to overlap, and the
 * lock's release/acquire orders one writer's stores before the next's),
 * the NAT-port bitmap and the handshake limit table (max_handshakes and
 * max_handshakes_per_source stay gateway-wide).  Lock order: a shard's own
 * lock (gw_cp.lock), then this one; never the reverse.  Sessions are
 * reclaimed (their NAT port freed, our close_notify sealed and sent) only
 * on the main lcore.  With N = 1 there is shard 0 alone, no ring, no
 * second lcore, and the locks are never contended. */
struct gw_cp_shared {
    rte_spinlock_t lock;
    /* one bit per NAT slot of the session table (dp_sess_nat_slot):
     * dp_sess_nat_n_addrs * 65536 bits, allocated by gw_cp_create */
    uint64_t *nat_used;
    unsigned n_shards;
    struct gw_cp *shard[CP_SHARD_MAX];
    unsigned shard_lcore[CP_SHARD_MAX]; /* lcore of shard i (0: the main lcore) */
    /* Session-ticket keys are one set for all shards (a client that comes
     * back from another port lands on another shard): shard 0 owns the
     * rings (its lst[i].tk_ring) and rotates them under lock, bumping
     * tk_gen; the other shards copy shard 0's keys under lock when tk_gen
     * moved (gw_listeners_sync_tickets, once a second). */
    uint64_t tk_gen;
};

/* One punted datagram handed from the main lcore to a shard (hs_in). */
struct cp_shard_msg {
    struct rte_mbuf *m;
    uint64_t worker; /* the worker whose ring punted it */
};
#define CP_SHARD_RING_SIZE 4096

struct gw_cp {
    const struct gw_config *cfg;
    /* handshake_lcores: the shared part (shard 0 owns it), this shard's
     * index, its rings (NULL on shard 0: the main lcore works on it
     * directly) and its lock: held by the shard's lcore while it works,
     * taken by the main lcore to run a control-socket command on this
     * shard's peers (sessions, kill, reload-psk, save). */
    struct gw_cp_shared *sh;
    unsigned shard_idx;
    struct rte_ring *hs_in; /* main lcore → shard, struct cp_shard_msg, SP/SC */
    struct rte_ring *hs_tx; /* shard → main lcore, frames to send, SP/SC */
    rte_spinlock_t lock;
    uint64_t tk_gen; /* shards > 0: the sh->tk_gen whose ticket keys they hold */
    /* Peers whose retransmission timer fired, oldest first: the loop's
     * timer pass handles these, never walks the peer table (issue 8
     * finding 7: a table of idle handshakes must not cost every loop). */
    struct cp_due_list due;
    struct dp_gw *g;
    struct gw_net net;
    struct cr_aead_ctx *aead;
    struct cp_listener lst[GW_MAX_LISTENERS];
    struct rte_hash *peers;
    /* single writer (this thread); telemetry loads it relaxed
     * (gw_cp_stats_snapshot) */
    uint32_t n_peers;
    uint32_t max_peers;
    struct cp_hs_limit *hs_limit; /* max_handshakes, per source: shard 0's, under sh->lock */
    struct cp_ch_asm *ch_asm;     /* fragmented ClientHellos before the cookie check */
    uint32_t rnd_pool[CP_RND_POOL_WORDS]; /* nat_rnd's batch of random words */
    unsigned rnd_left;
    unsigned rr_next;
    bool workers_running;
    uint64_t hz;
    uint64_t tick_per_ms;
    uint64_t now_ms;
    uint64_t last_reap_ms;
    uint64_t last_cookie_ms;       /* last rotation of the listeners' cookie secrets */
    uint64_t last_ticket_check_ms; /* last look at the ticket keys' age */
    uint64_t last_backlog_log_ms;  /* last "reclaim queue full" message */
    /* handshakes that ended without a session, by reason (stats
     * "handshake_failures"; the log line names the reason too); single
     * writer, telemetry loads relaxed */
    uint64_t hs_fail[HS_FAIL_N];
    uint64_t last_arp_ms;
    uint64_t last_stats_ms;
    uint64_t last_ctl_ms;
    uint64_t last_http_ms;
    uint64_t log_sec;
    unsigned log_n;
    /* Control socket and GET /metrics (metrics_listen); NULL: off or built
     * without jansson (GW_HAVE_CTL).  Always present so that the layout
     * does not depend on the build flag. */
    struct gw_ctl *ctl;
    struct gw_http *http;
};

static inline uint64_t gw_cp_now_ms(const struct gw_cp *cp)
{
    return rte_get_timer_cycles() / cp->tick_per_ms;
}

/* ---- gw_cp.c ------------------------------------------------------------ */

/* Transmits m on its port (m->port): the port's control TX queue, worker
 * 0's TX ring while the workers run, or queue 0 once they stopped.  Takes
 * m in every case (freed and counted when it cannot go). */
void gw_cp_tx(struct gw_cp *cp, struct rte_mbuf *m);

/* The shard that owns key (network order fields), cp being any shard. */
static inline struct gw_cp *gw_cp_shard_for(const struct gw_cp *cp, const cp_key_t *key)
{
    const struct gw_cp_shared *sh = cp->sh;
    return sh->shard[cp_shard_of(cp_key_client_fold(key), key->client_port, cp_key_local_fold(key),
                                 key->local_port, sh->n_shards)];
}
/* Called on the main lcore: lock/unlock shard i's state (shard 0 is the
 * main lcore's own: no lock). */
static inline void gw_cp_shard_lock(struct gw_cp_shared *sh, unsigned i)
{
    if (i != 0)
        rte_spinlock_lock(&sh->shard[i]->lock);
}
static inline void gw_cp_shard_unlock(struct gw_cp_shared *sh, unsigned i)
{
    if (i != 0)
        rte_spinlock_unlock(&sh->shard[i]->lock);
}

#endif
