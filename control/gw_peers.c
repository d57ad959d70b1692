/* gw_peers.c — see gw_peers.h.
 *
 * n_peers and peer_busy[] are written only here, on the lcore of the
 * peer's shard (gw_cp_priv.h; peer_busy[] with atomic add/sub, since
 * shards share it).  n_peers: relaxed store, read relaxed by the telemetry thread
 * (gw_cp_stats_snapshot).  peer_busy[]: relaxed add/sub, loaded relaxed by
 * the workers, which only need to see it eventually: until they do, a
 * duplicate ClientHello gets one more HelloVerifyRequest, and a stale
 * non-zero slot only costs a punt.
 */
#include "gw_peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include "cp_hs_limit.h"
#include "dp_counters.h"
#include "gw_sessions.h"

int gw_peers_init(struct gw_cp *cp, char *err, size_t err_len)
{
    char name[RTE_HASH_NAMESIZE];
    snprintf(name, sizeof(name), "dgw_cp_peers%u", cp->shard_idx); /* one per shard */
    struct rte_hash_parameters hp = {
        .name = name,
        /* at least 8: rte_hash_create refuses less than one bucket
         * (max_sessions and max_handshakes may both be 1); max_peers
         * still bounds the peers (peer_insert) */
        .entries = RTE_MAX(cp->max_peers * 2, 8u),
        .key_len = sizeof(cp_key_t),
        .hash_func = rte_hash_crc,
        .socket_id = (int)rte_socket_id(),
    };
    cp->peers = rte_hash_create(&hp);
    if (cp->peers == NULL) {
        snprintf(err, err_len, "cannot create the peer table: %s", rte_strerror(rte_errno));
        return CR_ERR_NOMEM;
    }
    return CR_OK;
}

void gw_peers_free_all(struct gw_cp *cp, bool send_close)
{
    uint32_t it = 0;
    const void *key;
    void *data;
    /* gw_peer_free deletes from the hash, which must not change under
     * rte_hash_iterate: start the walk again after each. */
    while (rte_hash_iterate(cp->peers, &key, &data, &it) >= 0) {
        gw_peer_free(cp, data, send_close);
        it = 0;
    }
}

void gw_peers_destroy(struct gw_cp *cp)
{
    if (cp->peers == NULL)
        return;
    gw_peers_free_all(cp, false);
    rte_hash_free(cp->peers);
    cp->peers = NULL;
}

struct cp_peer *gw_peer_lookup(const struct gw_cp *cp, const cp_key_t *key)
{
    void *data = NULL;
    if (rte_hash_lookup_data(cp->peers, key, &data) < 0)
        return NULL;
    return data;
}

/* The limit table is shard 0's, shared by every shard: under cp->sh->lock
 * (gw_cp_priv.h), so that max_handshakes and max_handshakes_per_source
 * stay gateway-wide whatever the shard. */
static void hs_limit_release(struct gw_cp *cp, uint64_t client_ip)
{
    rte_spinlock_lock(&cp->sh->lock);
    cp_hs_limit_release(cp->hs_limit, client_ip);
    rte_spinlock_unlock(&cp->sh->lock);
}

bool gw_peer_hs_admit(struct gw_cp *cp, uint64_t client_ip)
{
    rte_spinlock_lock(&cp->sh->lock);
    enum cp_hs_verdict v = cp_hs_limit_admit(cp->hs_limit, client_ip);
    rte_spinlock_unlock(&cp->sh->lock);
    switch (v) {
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

void gw_peer_hs_done(struct gw_cp *cp, struct cp_peer *peer)
{
    if (!peer->hs_counted)
        return;
    hs_limit_release(cp, cp_key_source_id(&peer->key));
    peer->hs_counted = false;
}

/* hs: the peer takes a handshake slot (gw_peer_hs_admit); without, it is
 * a session's peer from the start (gw_peer_insert_session). */
static struct cp_peer *peer_insert(struct gw_cp *cp, const cp_key_t *key,
                                   const struct rte_ether_addr *mac, uint16_t port_idx,
                                   uint16_t listener, uint16_t worker, bool hs)
{
    if (cp->n_peers >= cp->max_peers) {
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        return NULL;
    }
    if (hs && !gw_peer_hs_admit(cp, cp_key_source_id(key)))
        return NULL;
    struct cp_peer *peer = calloc(1, sizeof(*peer));
    if (peer == NULL) {
        if (hs)
            hs_limit_release(cp, cp_key_source_id(key));
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        return NULL;
    }
    peer->cp = cp;
    peer->hs_counted = hs;
    peer->key = *key;
    rte_ether_addr_copy(mac, &peer->mac);
    peer->port_idx = port_idx;
    peer->listener = listener;
    peer->worker = worker;
    rte_timer_init(&peer->timer);
    if (rte_hash_add_key_data(cp->peers, &peer->key, peer) < 0) {
        gw_peer_hs_done(cp, peer);
        free(peer);
        dp_cnt_inc(DP_CNT_DROP_CP_HS_LIMIT);
        return NULL;
    }
    __atomic_store_n(&cp->n_peers, cp->n_peers + 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(
        &cp->g->peer_busy[dp_peer_slot(cp_key_client_fold(&peer->key), peer->key.client_port)], 1,
        __ATOMIC_RELAXED);
    return peer;
}

struct cp_peer *gw_peer_insert(struct gw_cp *cp, const cp_key_t *key,
                               const struct rte_ether_addr *mac, uint16_t port_idx,
                               uint16_t listener, uint16_t worker)
{
    return peer_insert(cp, key, mac, port_idx, listener, worker, true);
}

struct cp_peer *gw_peer_insert_session(struct gw_cp *cp, const cp_key_t *key,
                                       const struct rte_ether_addr *mac, uint16_t port_idx,
                                       uint16_t listener, uint16_t worker)
{
    return peer_insert(cp, key, mac, port_idx, listener, worker, false);
}

void gw_peer_free(struct gw_cp *cp, struct cp_peer *peer, bool send_close)
{
    gw_peer_hs_done(cp, peer);
    gw_sess_remove(cp, peer, send_close);
    rte_timer_stop_sync(&peer->timer);
    if (peer->fired) {
        TAILQ_REMOVE(&cp->due, peer, due_link);
        peer->fired = false;
    }
    hs_free(peer->hs);
    peer->hs = NULL;
    if (rte_hash_del_key(cp->peers, &peer->key) >= 0) {
        __atomic_store_n(&cp->n_peers, cp->n_peers - 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(
            &cp->g->peer_busy[dp_peer_slot(cp_key_client_fold(&peer->key), peer->key.client_port)],
            1, __ATOMIC_RELAXED);
    }
    free(peer);
}

/* Collects a batch, frees it (gw_peer_free deletes from the hash, which
 * must not change under rte_hash_iterate), starts the walk again: every
 * match ends, however many there are. */
uint64_t gw_peers_end_matching(struct gw_cp *cp,
                               bool (*match)(struct gw_cp *, struct cp_peer *, void *), void *arg)
{
    struct cp_peer *victims[CP_END_MATCH_BATCH];
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
            gw_peer_free(cp, victims[i], true);
        ended += n;
    } while (n == RTE_DIM(victims));
    return ended;
}

void gw_peer_log(struct gw_cp *cp, const struct cp_peer *peer, const char *what, int alert)
{
    uint64_t sec = gw_cp_now_ms(cp) / 1000;
    if (sec != cp->log_sec) {
        cp->log_sec = sec;
        cp->log_n = 0;
    }
    if (cp->log_n++ >= GW_CP_LOG_PER_SEC)
        return;
    char al[24] = "", who[DP_ADDR_STR_MAX_BYTES];
    if (alert >= 0)
        snprintf(al, sizeof(al), " (alert %d)", alert);
    struct dp_addr a = cp_key_client(&peer->key);
    printf("dtlsgw: %s: %s%s\n",
           dp_addr_port_str(&a, rte_be_to_cpu_16(peer->key.client_port), who, sizeof(who)), what,
           al);
}
