/* test_gw_cp.h — a real control plane (gw_cp_create) over a small dataplane
 * for the unit tests of control/gw_*.c: EAL without hugepages, two net_ring
 * ports (0: clients, 10.0.0.1/24; 1: backends, 10.0.1.1/24, the backend
 * 10.0.1.2 on-link), the session table, the rings, and one PSK listener on
 * 10.0.0.1:4433 whose NAT range and handshake caps the test chooses.
 * Frames the control plane transmits land on tgc_tx[port].
 * One per test program (static state); include it once.
 */
#ifndef DTLSGW_TEST_GW_CP_H
#define DTLSGW_TEST_GW_CP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "dp_counters.h"
#include "dp_port.h"
#include "dp_worker.h"
#include "gw_config.h"
#include "gw_cp.h"
#include "gw_cp_priv.h"
#include "test_eal.h"

#define TGC_IP(a, b, c, d)                                                                         \
    rte_cpu_to_be_32(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

struct tgc_opts {
    uint16_t nat_min, nat_max;
    uint32_t max_handshakes, max_per_source;
    uint32_t max_sessions;
    uint32_t handshake_lcores; /* shards made (none launched) */
};

static struct dp_gw tgc_g;
static struct gw_config tgc_cfg;
static struct gw_cp *tgc_cp;
static struct rte_ring *tgc_rx[2], *tgc_tx[2];
static char tgc_psk_path[64];

static inline uint64_t tgc_cnt(enum dp_counter_id id)
{
    return dp_counters[rte_lcore_id()].c[id];
}

/* EAL, ports, rings and the session table: once per program. */
static inline int tgc_dataplane_init(const char *name)
{
    char err[256];
    if (test_eal_init(name, 256) < 0)
        return -1;
    tgc_g.pool = dp_port_pool_create("tgc_pool", 2047, SOCKET_ID_ANY);
    if (tgc_g.pool == NULL)
        return -1;
    tgc_g.n_workers = 1;
    tgc_g.n_ports = 2;
    for (int p = 0; p < 2; p++) {
        char rn[32];
        snprintf(rn, sizeof(rn), "tgc_rx%d", p);
        tgc_rx[p] = rte_ring_create(rn, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(rn, sizeof(rn), "tgc_tx%d", p);
        tgc_tx[p] = rte_ring_create(rn, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(rn, sizeof(rn), "tgc_port%d", p);
        int id = rte_eth_from_rings(rn, &tgc_rx[p], 1, &tgc_tx[p], 1, SOCKET_ID_ANY);
        if (id < 0)
            return -1;
        tgc_g.ports[p].port_id = (uint16_t)id;
        tgc_g.ports[p].ip_be = p == 0 ? TGC_IP(10, 0, 0, 1) : TGC_IP(10, 0, 1, 1);
        tgc_g.ports[p].prefix_len = 24;
        if (dp_port_init(&tgc_g.ports[p], 1, tgc_g.pool, false, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    tgc_g.n_listeners = 1;
    tgc_g.listeners[0].ip_be = TGC_IP(10, 0, 0, 1);
    tgc_g.listeners[0].port_be = rte_cpu_to_be_16(4433);
    tgc_g.listeners[0].port_idx = 0;
    /* no reader registered: every grace period ends at once */
    tgc_g.sessions = dp_sess_table_create("tgc_sess", 64, 1, SOCKET_ID_ANY);
    if (tgc_g.sessions == NULL || dp_gw_rings_create(&tgc_g) != 0)
        return -1;
    snprintf(tgc_psk_path, sizeof(tgc_psk_path), "/tmp/tgc_psk_XXXXXX");
    int fd = mkstemp(tgc_psk_path);
    if (fd < 0)
        return -1;
    static const char psk[] = "tgc-client:000102030405060708090a0b0c0d0e0f\n";
    ssize_t w = write(fd, psk, sizeof(psk) - 1);
    close(fd);
    return w == (ssize_t)(sizeof(psk) - 1) ? 0 : -1;
}

/* A control plane with these limits (0: the config default). */
static inline int tgc_cp_create(const struct tgc_opts *o)
{
    char err[512];
    gw_config_default(&tgc_cfg);
    tgc_cfg.control_socket[0] = '\0';
    tgc_cfg.ports[1] = tgc_cfg.ports[0];
    tgc_cfg.ports[1].port_id = 1;
    tgc_cfg.ports[1].ipv4 = rte_be_to_cpu_32(TGC_IP(10, 0, 1, 1));
    tgc_cfg.n_ports = 2;
    struct gw_listener_cfg *l = &tgc_cfg.listeners[0];
    snprintf(l->psk_file, sizeof(l->psk_file), "%s", tgc_psk_path);
    if (o->nat_min != 0) {
        l->nat_port_min = o->nat_min;
        l->nat_port_max = o->nat_max;
    }
    if (o->max_handshakes != 0)
        tgc_cfg.max_handshakes = o->max_handshakes;
    if (o->max_per_source != 0)
        tgc_cfg.max_handshakes_per_source = o->max_per_source;
    if (o->max_sessions != 0)
        tgc_cfg.max_sessions = o->max_sessions;
    if (o->handshake_lcores != 0)
        tgc_cfg.handshake_lcores = o->handshake_lcores;
    int rc = gw_cp_create(&tgc_cp, &tgc_cfg, &tgc_g, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "gw_cp_create: %s\n", err);
    return rc;
}

static inline void tgc_cp_free(void)
{
    gw_cp_free(tgc_cp);
    tgc_cp = NULL;
    (void)dp_sess_reclaim(tgc_g.sessions, NULL, NULL, true);
}

/* Frees what the control plane sent on port p; returns how many. */
static inline unsigned tgc_tx_drain(int p)
{
    void *m;
    unsigned n = 0;
    while (rte_ring_dequeue(tgc_tx[p], &m) == 0) {
        rte_pktmbuf_free(m);
        n++;
    }
    return n;
}

static inline void tgc_dataplane_free(void)
{
    dp_gw_rings_free(&tgc_g);
    dp_sess_table_free(tgc_g.sessions);
    for (int p = 0; p < 2; p++)
        dp_port_close(&tgc_g.ports[p]);
    unlink(tgc_psk_path);
    rte_eal_cleanup();
}

#endif
