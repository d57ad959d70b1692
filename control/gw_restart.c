/* gw_restart.c — see gw_restart.h. */
#include "gw_restart.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_lcore.h>

#include <openssl/crypto.h>

#include "cr_seal.h"
#include "dp_counters.h"
#include "gw_peers.h"
#include "gw_sessions.h"
#include "gw_state.h"

#define RESTART_REFUSED_SUFFIX ".refused"

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int load_ring(const struct gw_config *cfg, struct cr_seal_ring *ring, char *why,
                     size_t why_len)
{
    memset(ring, 0, sizeof(*ring));
    CR_GUARD(cr_seal_ring_init(ring));
    int rc = cr_seal_ring_load(ring, cfg->state_key_file, 0, why, why_len);
    if (rc < 0)
        cr_seal_ring_wipe(ring);
    return rc;
}

/* ---- saving ----------------------------------------------------------------- */

static int export_dir(const struct cr_aead_key *k, struct gw_state_dir *d, uint8_t *alg)
{
    enum cr_aead_alg a;
    size_t kl = 0, il = 0;
    CR_GUARD(cr_aead_key_export(k, &a, d->key, sizeof(d->key), &kl, d->iv, sizeof(d->iv), &il));
    d->key_len = (uint8_t)kl;
    d->iv_len = (uint8_t)il;
    *alg = (uint8_t)a;
    return CR_OK;
}

/* One peer's session into st.  Running workers: the owner's wr_seq and
 * replay window are read while it may write them (relaxed loads; a
 * snapshot, gw_restart.h says what covers it). */
static int collect(struct gw_cp *cp, const struct cp_peer *peer, bool workers_stopped,
                   struct gw_state_sess *st)
{
    const struct dp_session *s = peer->sess;
    memset(st, 0, sizeof(*st));
    snprintf(st->listener, sizeof(st->listener), "%s", cp->cfg->listeners[s->listener].name);
    /* addresses IPv4-mapped or IPv6 (gw_state.h) */
    struct dp_addr a;
    if (s->family == DP_AF_V6) {
        a = dp_addr_v6(s->v6->key6.client_ip);
        cp_addr_map(st->client_ip, &a);
        a = dp_addr_v6(s->v6->key6.local_ip);
        cp_addr_map(st->local_ip, &a);
        st->client_port = s->v6->key6.client_port;
        st->local_port = s->v6->key6.local_port;
    } else {
        a = dp_addr_v4(s->key.client_ip);
        cp_addr_map(st->client_ip, &a);
        a = dp_addr_v4(s->key.local_ip);
        cp_addr_map(st->local_ip, &a);
        st->client_port = s->key.client_port;
        st->local_port = s->key.local_port;
    }
    a = s->backend_family == DP_AF_V6 ? dp_addr_v6(s->v6->backend_ip6) : dp_addr_v4(s->backend_ip);
    cp_addr_map(st->backend_ip, &a);
    a = s->backend_family == DP_AF_V6 ? dp_addr_v6(s->v6->nat_ip6) : dp_addr_v4(s->nat_ip);
    cp_addr_map(st->nat_ip, &a);
    st->backend_port = s->backend_port;
    st->nat_port = s->nat_port;
    memcpy(st->client_mac, s->client_mac.addr_bytes, 6);
    st->owner = s->owner;
    st->epoch = s->epoch;
    st->version = s->version;
    uint8_t a1, a2;
    CR_GUARD(export_dir(&s->rd_key, &st->rd, &a1));
    CR_GUARD(export_dir(&s->wr_key, &st->wr, &a2));
    CR_ENSURE(a1 == a2, CR_ERR_INVAL);
    st->alg = a1;
    /* workers stopped: joined (rte_eal_mp_wait_lcore), plain reads are
     * ordered after their last writes; running: relaxed loads of the
     * owner's 64-bit fields */
    st->wr_seq = workers_stopped ? s->wr_seq : __atomic_load_n(&s->wr_seq, __ATOMIC_RELAXED);
    if (st->wr_seq > DP_REPLAY_SEQ_MAX)
        st->wr_seq = DP_REPLAY_SEQ_MAX;
    gw_state_window_export(s->replay, &st->rx);
    gw_state_window_export((const struct dp_replay *)peer->alert_win, &st->alert);
    return CR_OK;
}

int gw_restart_save(struct gw_cp *cp, bool workers_stopped, uint32_t *out_n, char *why,
                    size_t why_len)
{
    const struct gw_config *cfg = cp->cfg;
    *out_n = 0;
    if (!cfg->state_file[0]) {
        snprintf(why, why_len, "no state_file in the configuration");
        return CR_ERR_INVAL;
    }
    struct cr_seal_ring ring;
    int rc = load_ring(cfg, &ring, why, why_len);
    if (rc < 0)
        return rc;
    struct gw_state_enc e;
    struct gw_state_sess *st = malloc(sizeof(*st));
    uint8_t *file = NULL;
    size_t file_len = 0;
    rc = st != NULL ? gw_state_enc_init(&e, wall_ms()) : CR_ERR_NOMEM;
    if (rc < 0) {
        free(st);
        cr_seal_ring_wipe(&ring);
        snprintf(why, why_len, "%s", cr_strerror(rc));
        return rc;
    }
    /* every shard's sessions (handshake_lcores), each under its lock */
    for (unsigned k = 0; rc == 0 && k < cp->sh->n_shards; k++) {
        uint32_t it = 0;
        const void *key;
        void *data;
        gw_cp_shard_lock(cp->sh, k);
        while (rc == 0 && rte_hash_iterate(cp->sh->shard[k]->peers, &key, &data, &it) >= 0) {
            const struct cp_peer *peer = data;
            if (peer->sess == NULL)
                continue;
            rc = collect(cp, peer, workers_stopped, st);
            if (rc == 0)
                rc = gw_state_enc_add(&e, st);
            OPENSSL_cleanse(st, sizeof(*st));
        }
        gw_cp_shard_unlock(cp->sh, k);
    }
    uint32_t n = e.count;
    if (rc == 0)
        rc = gw_state_enc_finish(&e, &ring, &file, &file_len);
    gw_state_enc_free(&e);
    cr_seal_ring_wipe(&ring);
    free(st);
    if (rc < 0) {
        snprintf(why, why_len, "cannot build the file: %s", cr_strerror(rc));
        return rc;
    }
    rc = gw_state_write_file(cfg->state_file, file, file_len, why, why_len);
    free(file);
    if (rc < 0)
        return rc;
    dp_cnt_add(rte_lcore_id() < RTE_MAX_LCORE ? rte_lcore_id() : 0, DP_CNT_CP_STATE_SAVED, n);
    *out_n = n;
    return CR_OK;
}

/* ---- restoring ------------------------------------------------------------------ */

enum skip_reason {
    SKIP_LISTENER,
    SKIP_CHANGED,
    SKIP_NAT,
    SKIP_SEQ,
    SKIP_INSTALL,
    SKIP_N
};
static const char *const skip_names[SKIP_N] = {"listener gone", "backend or NAT address changed",
                                               "NAT port out of range or taken", "sequence space",
                                               "install failed"};

static int find_listener(const struct gw_cp *cp, const struct gw_state_sess *st)
{
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++) {
        const struct gw_listener_cfg *l = &cp->cfg->listeners[i];
        struct dp_addr la =
            l->has_ipv6 ? dp_addr_v6(l->ipv6) : dp_addr_v4(rte_cpu_to_be_32(l->ipv4));
        uint8_t lm[GW_STATE_ADDR_LEN];
        cp_addr_map(lm, &la);
        if (strcmp(l->name, st->listener) == 0 && memcmp(lm, st->local_ip, sizeof(lm)) == 0 &&
            rte_cpu_to_be_16(l->udp_port) == st->local_port)
            return (int)i;
    }
    return -1;
}

/* The saved NAT address is still one of the backend port's: in its NAT
 * pool (issue 11), or its own address when the table has no pools. */
static bool restored_nat_ip_ok(const struct dp_gw *g, int nh, uint32_t nat_ip_be)
{
    unsigned pi = g->nexthops[nh].port_idx;
    uint32_t base;
    const struct dp_nat_pool *pool = dp_sess_nat_pool(g->sessions, pi, &base);
    if (pool == NULL)
        return g->ports[pi].ip_be == nat_ip_be;
    return rte_be_to_cpu_32(nat_ip_be) - pool->first < pool->n_addrs;
}

/* Installs one saved session; a skip reason, or SKIP_N when restored. */
static enum skip_reason restore_one(struct gw_cp *cp, const struct gw_state_sess *st)
{
    struct dp_gw *g = cp->g;
    int li = find_listener(cp, st);
    if (li < 0)
        return SKIP_LISTENER;
    const struct gw_listener_cfg *lc = &cp->cfg->listeners[li];
    int nh = cp->lst[li].nh;
    if (nh < 0)
        return SKIP_CHANGED;
    /* the same backend and our same backend-side address, each family */
    const struct dp_port *bp = &g->ports[g->nexthops[nh].port_idx];
    struct dp_addr ba = lc->backend_is_v6 ? dp_addr_v6(lc->backend_ipv6)
                                          : dp_addr_v4(rte_cpu_to_be_32(lc->backend_ipv4));
    struct dp_addr na = lc->backend_is_v6 ? dp_addr_v6(bp->ip6) : dp_addr_v4(bp->ip_be);
    uint8_t bm[GW_STATE_ADDR_LEN], nm[GW_STATE_ADDR_LEN];
    cp_addr_map(bm, &ba);
    cp_addr_map(nm, &na);
    /* the NAT slot's address: the saved IPv4 one, or for an IPv6 backend
     * the one naming the slots of its port (gw_sess_nat_slot_ip6) */
    uint32_t slot_ip;
    if (lc->backend_is_v6)
        slot_ip = gw_sess_nat_slot_ip6(cp, g->nexthops[nh].port_idx);
    else
        memcpy(&slot_ip, st->nat_ip + 12, 4);
    if (memcmp(bm, st->backend_ip, sizeof(bm)) != 0 ||
        rte_cpu_to_be_16(lc->backend_port) != st->backend_port ||
        !(lc->backend_is_v6 ? memcmp(nm, st->nat_ip, sizeof(nm)) == 0
                            : restored_nat_ip_ok(g, nh, slot_ip)))
        return SKIP_CHANGED;
    if (st->nat_port < lc->nat_port_min || st->nat_port > lc->nat_port_max ||
        gw_sess_nat_used(cp, slot_ip, st->nat_port))
        return SKIP_NAT;
    /* RFC 6347 §4.1: sequence numbers never wrap within an epoch; the
     * skip (gw_config.h) puts the restored session past every number the
     * old run may have used. */
    if (st->wr_seq > DP_REPLAY_SEQ_MAX - cp->cfg->state_seq_skip)
        return SKIP_SEQ;
    /* the file's addresses are cp_key_t's (IPv4-mapped or IPv6) */
    cp_key_t pkey;
    memset(&pkey, 0, sizeof(pkey));
    memcpy(pkey.client_ip, st->client_ip, sizeof(pkey.client_ip));
    memcpy(pkey.local_ip, st->local_ip, sizeof(pkey.local_ip));
    pkey.client_port = st->client_port;
    pkey.local_port = st->local_port;
    if (cp_key_is_v4(&pkey) != cp_addr_is_v4_mapped(pkey.local_ip))
        return SKIP_LISTENER; /* one family per side */
    /* The peer's shard (handshake_lcores) holds it from now on; before the
     * workers and the handshake lcores start, so the main lcore may. */
    cp = gw_cp_shard_for(cp, &pkey);
    if (gw_peer_lookup(cp, &pkey) != NULL)
        return SKIP_INSTALL; /* the file named it twice */
    uint16_t port_idx = g->listeners[li].port_idx;
    uint16_t owner =
        st->owner < g->n_workers ? st->owner : (uint16_t)(cp->rr_next++ % g->n_workers);
    struct rte_ether_addr mac;
    memcpy(mac.addr_bytes, st->client_mac, 6);
    uint32_t bits = lc->replay_window_bits ? lc->replay_window_bits : DP_REPLAY_WIN_DEFAULT_BITS;
    struct dp_session *s = dp_sess_session_alloc(g->sessions, bits, (int)rte_socket_id());
    if (s == NULL)
        return SKIP_INSTALL;
    (void)gw_sess_nat_take(cp, slot_ip, st->nat_port); /* in a pool: checked above */
    enum cr_aead_alg alg = (enum cr_aead_alg)st->alg;
    struct cp_peer *peer = NULL;
    if (cr_aead_key_init(&s->rd_key, cp->aead, alg, st->rd.key, st->rd.key_len, st->rd.iv,
                         st->rd.iv_len) < 0 ||
        cr_aead_key_init(&s->wr_key, cp->aead, alg, st->wr.key, st->wr.key_len, st->wr.iv,
                         st->wr.iv_len) < 0)
        goto fail;
    if (cp_key_is_v4(&pkey)) {
        s->key.client_ip = cp_key_client_v4(&pkey);
        s->key.local_ip = cp_key_local_v4(&pkey);
        s->key.client_port = pkey.client_port;
        s->key.local_port = pkey.local_port;
    } else {
        if (dp_session_v6(s) != 0)
            goto fail;
        s->family = DP_AF_V6;
        s->v6->key6 = pkey;
    }
    if (lc->backend_is_v6) {
        if (dp_session_v6(s) != 0)
            goto fail;
        s->backend_family = DP_AF_V6;
        memcpy(s->v6->backend_ip6, st->backend_ip, 16);
        memcpy(s->v6->nat_ip6, st->nat_ip, 16);
    } else {
        memcpy(&s->backend_ip, st->backend_ip + 12, 4);
    }
    s->nat_ip = slot_ip;
    s->backend_port = st->backend_port;
    s->backend_nh = (uint16_t)nh;
    s->backend_port_id = g->nexthops[nh].port_idx;
    s->nat_port = st->nat_port;
    s->client_port_id = port_idx;
    s->client_mac = mac;
    s->listener = (uint16_t)li;
    s->owner = owner;
    s->epoch = st->epoch;
    s->version = st->version;
    s->explicit_nonce_len = (uint8_t)cr_aead_explicit_nonce_len(alg);
    s->tag_len = (uint8_t)cr_aead_tag_len(alg);
    s->wr_seq = st->wr_seq + cp->cfg->state_seq_skip;
    gw_state_window_import(&st->rx, s->replay);
    s->last_rx_tsc = rte_get_tsc_cycles();
    peer = gw_peer_insert_session(cp, &pkey, &mac, port_idx, (uint16_t)li, owner);
    if (peer == NULL)
        goto fail;
    struct dp_replay *aw = (struct dp_replay *)peer->alert_win;
    if (dp_replay_init(aw, DP_REPLAY_WIN_MIN_BITS) != 0)
        goto fail;
    gw_state_window_import(&st->alert, aw);
    s->cp_ref = peer;
    if (dp_sess_install(g->sessions, s) < 0)
        goto fail;
    peer->sess = s;
    return SKIP_N;
fail:
    if (peer != NULL)
        gw_peer_free(cp, peer, false); /* no session yet: only the entry */
    gw_sess_nat_free(cp, slot_ip, st->nat_port);
    dp_session_free(s);
    return SKIP_INSTALL;
}

/* The refused file moves aside (PATH.refused, for a look) so that the next
 * start does not meet it again. */
static void refuse(const struct gw_config *cfg, const char *why)
{
    char aside[GW_PATH_MAX_LEN + sizeof(RESTART_REFUSED_SUFFIX)];
    snprintf(aside, sizeof(aside), "%s" RESTART_REFUSED_SUFFIX, cfg->state_file);
    bool moved = rename(cfg->state_file, aside) == 0;
    dp_cnt_inc(DP_CNT_CP_STATE_FILE_REFUSED);
    printf("dtlsgw: state file %s refused: %s; starting with no sessions%s%s%s\n", cfg->state_file,
           why, moved ? " (moved to " : "", moved ? aside : "", moved ? ")" : "");
    fflush(stdout);
}

void gw_restart_restore(struct gw_cp *cp)
{
    const struct gw_config *cfg = cp->cfg;
    if (!cfg->state_file[0])
        return;
    char why[GW_STATE_WHY_MAX_LEN] = "";
    uint8_t *file = NULL;
    size_t file_len = 0;
    int rc = gw_state_read_file(cfg->state_file, &file, &file_len, why, sizeof(why));
    if (rc == 1) {
        printf("dtlsgw: state file %s: none, starting with no sessions\n", cfg->state_file);
        return;
    }
    if (rc < 0) {
        refuse(cfg, why);
        return;
    }
    struct cr_seal_ring ring;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    struct gw_state_hdr hdr;
    uint64_t now = wall_ms();
    rc = load_ring(cfg, &ring, why, sizeof(why));
    if (rc == 0) {
        rc = gw_state_open(&ring, file, file_len, now, cfg->state_max_age_ms, &pt, &pt_len, &hdr,
                           why, sizeof(why));
        cr_seal_ring_wipe(&ring);
    }
    free(file);
    if (rc < 0) {
        refuse(cfg, why);
        return;
    }
    /* Consumed before anything is installed: restored twice, two runs
     * would seal under the same keys at the same sequence numbers. */
    if (unlink(cfg->state_file) != 0) {
        gw_state_pt_free(pt, pt_len);
        snprintf(why, sizeof(why), "cannot remove it (%s), and it must be used once only",
                 strerror(errno));
        refuse(cfg, why);
        return;
    }
    unsigned skipped[SKIP_N] = {0};
    uint32_t restored = 0;
    struct gw_state_cur cur;
    struct gw_state_sess *st = malloc(sizeof(*st));
    gw_state_cur_init(&cur, pt, pt_len);
    while (st != NULL && gw_state_next(&cur, st) == 1) {
        enum skip_reason r = restore_one(cp, st);
        OPENSSL_cleanse(st, sizeof(*st));
        if (r == SKIP_N) {
            restored++;
            dp_cnt_inc(DP_CNT_CP_STATE_RESTORED);
        } else {
            skipped[r]++;
            dp_cnt_inc(DP_CNT_CP_STATE_SKIPPED);
        }
    }
    free(st);
    gw_state_pt_free(pt, pt_len);
    char sk[256] = "";
    size_t off = 0;
    for (unsigned i = 0; i < SKIP_N; i++)
        if (skipped[i] != 0 && off < sizeof(sk))
            off += (size_t)snprintf(sk + off, sizeof(sk) - off, "%s%u %s",
                                    off ? ", " : "; skipped: ", skipped[i], skip_names[i]);
    uint64_t age_s = now > hdr.created_ms ? (now - hdr.created_ms) / 1000 : 0;
    printf("dtlsgw: state file %s: restored %" PRIu32 " of %" PRIu32 " sessions (written %" PRIu64
           " s ago, write sequences +%" PRIu64 ")%s\n",
           cfg->state_file, restored, hdr.count, age_s, cfg->state_seq_skip, sk);
    fflush(stdout);
}
