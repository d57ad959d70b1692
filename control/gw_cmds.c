/* gw_cmds.c — see gw_cmds.h.
 *
 * The snapshot reads what other threads write with relaxed atomic loads
 * (the workers' counters, the control plane's n_peers and hs_fail[]): each
 * value is one some thread wrote, not all of one instant.
 */
#include "gw_cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lcore.h>

#include "dp_counters.h"
#include "gw_listeners.h"
#include "gw_peers.h"
#include "gw_restart.h"
#include "gw_sessions.h"
#ifdef GW_HAVE_CTL
#include "gw_http.h"
#include "gw_metrics.h"
#endif

/* ---- stats ---------------------------------------------------------------- */

/* Peers of every shard (relaxed loads: each shard's single-writer count). */
static uint32_t peers_total(const struct gw_cp *cp)
{
    uint32_t n = 0;
    for (unsigned k = 0; k < cp->sh->n_shards; k++)
        n += __atomic_load_n(&cp->sh->shard[k]->n_peers, __ATOMIC_RELAXED);
    return n;
}

void gw_cp_print_stats(struct gw_cp *cp, FILE *f, bool all)
{
    fprintf(f, "dtlsgw: sessions=%u pending_free=%u peers=%u", dp_sess_count(cp->g->sessions),
            dp_sess_pending(cp->g->sessions), peers_total(cp));
    for (unsigned i = 0; i < DP_CNT_N; i++) {
        uint64_t v = dp_counter_total((enum dp_counter_id)i);
        if (v != 0 || all)
            fprintf(f, " %s=%" PRIu64, dp_counter_name((enum dp_counter_id)i), v);
    }
    fprintf(f, "\n");
    fflush(f);
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
    const struct gw_cp_shared *sh = cp->sh;
    for (unsigned k = 0; k < sh->n_shards; k++)
        for (unsigned i = 0; i < HS_FAIL_N; i++)
            out->hs_fail[i] += __atomic_load_n(&sh->shard[k]->hs_fail[i], __ATOMIC_RELAXED);
    /* the handshake counters of each shard's lcore (dp_counters.h: one
     * block per lcore, relaxed loads of another lcore's counter) */
    out->n_hs_lcores =
        sh->n_shards < GW_STATS_HS_LCORES_MAX ? sh->n_shards : GW_STATS_HS_LCORES_MAX;
    for (unsigned k = 0; k < out->n_hs_lcores; k++) {
        struct gw_stats_hs_lcore *h = &out->hs_lcores[k];
        const uint64_t *c = dp_counters[sh->shard_lcore[k]].c;
        h->lcore = sh->shard_lcore[k];
        h->started = __atomic_load_n(&c[DP_CNT_CP_HS_STARTED], __ATOMIC_RELAXED);
        h->established = __atomic_load_n(&c[DP_CNT_CP_HS_ESTABLISHED], __ATOMIC_RELAXED);
        h->failed = __atomic_load_n(&c[DP_CNT_CP_HS_FAILED], __ATOMIC_RELAXED);
        h->timeout = __atomic_load_n(&c[DP_CNT_CP_HS_TIMEOUT], __ATOMIC_RELAXED);
    }
    out->sessions = dp_sess_count(cp->g->sessions);
    out->pending_free = dp_sess_pending(cp->g->sessions);
    out->peers = peers_total(cp);
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
    /* handshake_lcores: one entry per shard, the main lcore's first */
    json_t *hl = json_array();
    for (unsigned k = 0; k < st.n_hs_lcores; k++) {
        const struct gw_stats_hs_lcore *h = &st.hs_lcores[k];
        json_t *o = json_object();
        json_object_set_new(o, "lcore", json_integer(h->lcore));
        json_object_set_new(o, "started", json_integer((json_int_t)h->started));
        json_object_set_new(o, "established", json_integer((json_int_t)h->established));
        json_object_set_new(o, "failed", json_integer((json_int_t)h->failed));
        json_object_set_new(o, "timeout", json_integer((json_int_t)h->timeout));
        json_array_append_new(hl, o);
    }
    json_object_set_new(res, "handshake_lcores", hl);
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

int gw_cmds_http_metrics_body(void *arg, char **out_body, size_t *out_len)
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

/* One shard's peers into res (the shard's lock held, or shard 0). */
static void sessions_of(struct gw_cp *cp, json_t *res)
{
    uint32_t it = 0;
    const void *key;
    void *data;
    uint64_t now = rte_get_tsc_cycles(), tsc_ms = rte_get_tsc_hz() / 1000;
    while (rte_hash_iterate(cp->peers, &key, &data, &it) >= 0) {
        struct cp_peer *peer = data;
        struct dp_session *s = peer->sess;
        char a[DP_ADDR_STR_MAX_BYTES];
        json_t *o = json_object();
        struct dp_addr ca = cp_key_client(&peer->key);
        dp_addr_ntop(&ca, a, sizeof(a));
        json_object_set_new(o, "client", json_string(a));
        json_object_set_new(o, "client_port",
                            json_integer(rte_be_to_cpu_16(peer->key.client_port)));
        json_object_set_new(o, "listener", json_string(cp->cfg->listeners[peer->listener].name));
        json_object_set_new(o, "state", json_string(s ? "established" : "handshake"));
        if (cp->sh->n_shards > 1) /* handshake_lcores: the lcore that owns the peer */
            json_object_set_new(o, "handshake_lcore",
                                json_integer(cp->sh->shard_lcore[cp->shard_idx]));
        const struct hs_keys *k = peer->hs ? hs_keys(peer->hs) : NULL;
        if (k != NULL) {
            const struct hs_suite_info *si = hs_suite_find(k->suite);
            json_object_set_new(o, "suite", json_string(si ? si->name : "?"));
            json_object_set_new(o, "identity", json_string(k->peer_identity));
        }
        if (s != NULL) {
            /* relaxed: the owner worker's counters, a recent value is enough */
            uint64_t last = __atomic_load_n(&s->last_rx_tsc, __ATOMIC_RELAXED);
            /* our backend-side address: a NAT pool address, or the
             * backend port's address6 for an IPv6 backend */
            char na[DP_ADDR_STR_MAX_BYTES];
            struct dp_addr nat =
                s->backend_family == DP_AF_V6 ? dp_addr_v6(s->v6->nat_ip6) : dp_addr_v4(s->nat_ip);
            dp_addr_ntop(&nat, na, sizeof(na));
            json_object_set_new(o, "nat_ip", json_string(na));
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
}

/* Every shard's, each under its lock (gw_cp_priv.h). */
static int ctl_sessions(void *arg, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    for (unsigned k = 0; k < cp->sh->n_shards; k++) {
        gw_cp_shard_lock(cp->sh, k);
        sessions_of(cp->sh->shard[k], res);
        gw_cp_shard_unlock(cp->sh, k);
    }
    return 0;
}

/* kill A.B.C.D[:PORT]: {"killed":N}; N is 0 when no such client is known
 * (still ok: dtlsgw-ctl and the e2e suite read the count). */
static int ctl_kill(void *arg, uint32_t ipv4, uint16_t port, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    uint64_t killed = 0;
    /* every shard: an address alone has ports on several */
    for (unsigned k = 0; k < cp->sh->n_shards; k++) {
        gw_cp_shard_lock(cp->sh, k);
        killed += gw_sess_kill(cp->sh->shard[k], rte_cpu_to_be_32(ipv4), rte_cpu_to_be_16(port));
        gw_cp_shard_unlock(cp->sh, k);
    }
    json_object_set_new(res, "killed", json_integer((json_int_t)killed));
    return 0;
}

/* kill [V6][:PORT]: the same for an IPv6 client. */
static int ctl_kill6(void *arg, const uint8_t *ip6, uint16_t port, json_t *res, char *err)
{
    (void)err;
    struct gw_cp *cp = arg;
    uint64_t killed = 0;
    struct dp_addr a = dp_addr_v6(ip6);
    for (unsigned k = 0; k < cp->sh->n_shards; k++) {
        gw_cp_shard_lock(cp->sh, k);
        killed += gw_sess_kill_addr(cp->sh->shard[k], &a, rte_cpu_to_be_16(port));
        gw_cp_shard_unlock(cp->sh, k);
    }
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
        /* Each shard has its own credentials (hs_ctx and hs_creds are
         * single-threaded): each reloads the file, under its lock. */
        for (unsigned k = 0; k < cp->sh->n_shards; k++) {
            struct gw_cp *sc = cp->sh->shard[k];
            struct hs_psk_set *prev = NULL;
            gw_cp_shard_lock(cp->sh, k);
            int rc = hs_creds_reload_psk_file(sc->lst[i].creds, l->psk_file, &prev);
            if (rc < 0) {
                gw_cp_shard_unlock(cp->sh, k);
                snprintf(err, GW_CTL_ERR_MAX_LEN, "%.150s: %.40s", l->psk_file, cr_strerror(rc));
                return rc;
            }
            if (l->psk_reload_ends_sessions) {
                struct psk_match m = {.listener = i, .prev = prev};
                uint64_t e = gw_peers_end_matching(sc, psk_gone_match, &m);
                unsigned lc = rte_lcore_id() < RTE_MAX_LCORE ? rte_lcore_id() : 0;
                dp_cnt_add(lc, DP_CNT_CP_PSK_RELOAD_ENDED, e);
                ended += e;
            }
            gw_cp_shard_unlock(cp->sh, k);
            hs_psk_set_free(prev);
        }
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
    CR_GUARD(gw_listeners_rotate_cookies(cp));
    cp->last_cookie_ms = gw_cp_now_ms(cp);
    json_object_set_new(res, "rotated", json_integer(cp->cfg->n_listeners));
    return 0;
}

/* save: the state file now, while the workers run (gw_restart.h: the
 * restore's state_seq_skip covers what the sessions send after it). */
static int ctl_save(void *arg, json_t *res, char *err)
{
    struct gw_cp *cp = arg;
    char why[GW_CTL_ERR_MAX_LEN] = "";
    uint32_t n = 0;
    int rc = gw_restart_save(cp, false, &n, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, GW_CTL_ERR_MAX_LEN, "%s", why[0] ? why : cr_strerror(rc));
        return rc;
    }
    printf("dtlsgw: state file %s: saved %" PRIu32 " sessions (save command)\n",
           cp->cfg->state_file, n);
    fflush(stdout);
    json_object_set_new(res, "saved", json_integer(n));
    json_object_set_new(res, "file", json_string(cp->cfg->state_file));
    return 0;
}

void gw_cmds_handlers(struct gw_cp *cp, struct gw_ctl_handlers *h)
{
    memset(h, 0, sizeof(*h));
    h->arg = cp;
    h->stats = ctl_stats;
    h->sessions = ctl_sessions;
    h->kill = ctl_kill;
    h->kill6 = ctl_kill6;
    h->reload_psk = ctl_reload_psk;
    h->rotate_cookie = ctl_rotate_cookie;
    h->save = ctl_save;
}
#endif
