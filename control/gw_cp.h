/* gw_cp.h — the control plane of dtlsgw, run on the main lcore (and, with
 * handshake_lcores: N > 1, its handshakes spread over N shards: the main
 * lcore and N-1 handshake lcores, gw_cp_priv.h).
 *
 * Owns: the per-peer handshake table (one thread, a plain rte_hash), the
 * handshake engine contexts and credentials of each listener, session
 * installation/removal (the single writer of the session table), NAT-port
 * allocation, retransmission timers (rte_timer), idle reaping, close_notify,
 * ARP/ICMP (through gw_net), the control socket handlers, the GET /metrics
 * endpoint (gw_http), stats printing and the stats snapshot that DPDK
 * telemetry reads (gw_telemetry).  Split by concern over gw_cp.c (loop,
 * dispatch, timers), gw_listeners.c, gw_peers.c, gw_sessions.c and
 * gw_cmds.c, whose shared state is gw_cp_priv.h.
 * Must not: block (except the final drain at shutdown), run on a worker, or
 * touch a session's owner-only fields while its owner may run (it encrypts
 * a close_notify with wr_seq only after the session's RCU grace period, or
 * after the workers stopped).
 */
#ifndef DTLSGW_GW_CP_H
#define DTLSGW_GW_CP_H

#include <signal.h>
#include <stdio.h>

#include "cr_err.h"
#include "dp_counters.h"
#include "dp_worker.h"
#include "gw_config.h"
#include "gw_stats.h"
#include "hs.h"

#define GW_CP_REAP_PERIOD_MS    250
#define GW_CP_RECLAIM_PERIOD_MS 10
#define GW_CP_SHUTDOWN_DRAIN_MS 200
#define GW_CP_PUNT_BURST        32
#define GW_CP_LOG_PER_SEC       10 /* peer event lines per second */

struct gw_cp;

/* One reading of everything the stats reply reports (but the control
 * socket's and the HTTP endpoint's own counters), taken by
 * gw_cp_stats_snapshot() on any thread.  The control socket's stats, DPDK
 * telemetry and GET /metrics all come from it. */
struct gw_stats_port {
    uint16_t port_id;
    char driver[32];
    bool have_stats; /* rte_eth_stats_get() answered */
#define GW_STATS_X_PORT_FIELD(name) uint64_t name;
    GW_PORT_STATS(GW_STATS_X_PORT_FIELD)
#undef GW_STATS_X_PORT_FIELD
};

#define GW_STATS_HS_LCORES_MAX 16 /* CP_SHARD_MAX */
struct gw_stats {
    uint64_t counters[DP_CNT_N];
    uint64_t drops; /* sum of the DROP_* entries of counters[] */
    uint64_t hs_fail[HS_FAIL_N];
    /* per handshake shard (handshake_lcores): its lcore and the handshake
     * counters of that lcore */
    unsigned n_hs_lcores;
    struct gw_stats_hs_lcore {
        unsigned lcore;
        uint64_t started, established, failed, timeout;
    } hs_lcores[GW_STATS_HS_LCORES_MAX];
#define GW_STATS_X_GAUGE_FIELD(name, help) uint64_t name;
    GW_STATS_GAUGES(GW_STATS_X_GAUGE_FIELD)
#undef GW_STATS_X_GAUGE_FIELD
    uint32_t workers;
    unsigned n_ports;
    struct gw_stats_port ports[DP_MAX_PORTS];
};

/* Builds the control plane over an initialized dp_gw (ports started, rings
 * and session table created): loads credentials, creates one handshake
 * context per listener, sets up next hops and the control socket.  On error
 * returns a negative CR_ERR_* with a message in err. */
CR_WUR int gw_cp_create(struct gw_cp **out, const struct gw_config *cfg, struct dp_gw *g, char *err,
                        size_t err_len);
/* handshake_lcores: the number of handshake shards (1: the main lcore
 * alone), and the launch of shards 1..n on the n lcores given (after the
 * workers; they stop when dp_gw.stop is set, and rte_eal_mp_wait_lcore
 * joins them).  0 or a negative errno. */
unsigned gw_cp_n_shards(const struct gw_cp *cp);
int gw_cp_launch_shards(struct gw_cp *cp, const unsigned *lcores, unsigned n);
/* Runs the control loop until *stop becomes non-zero. */
void gw_cp_run(struct gw_cp *cp, volatile sig_atomic_t *stop);
/* After the workers stopped: send close_notify to every live session,
 * free everything the control plane holds and drain TX. */
void gw_cp_shutdown(struct gw_cp *cp);
void gw_cp_free(struct gw_cp *cp);
/* Fills out from relaxed atomic loads of what the workers and the control
 * plane write, and rte_eth_stats_get(): callable from any thread (DPDK's
 * telemetry thread too) while cp lives.  Values may be a little stale and
 * not all of one instant; each is one value some thread wrote. */
void gw_cp_stats_snapshot(const struct gw_cp *cp, struct gw_stats *out);
/* Prints the non-zero counters (and sessions) to f. */
void gw_cp_print_stats(struct gw_cp *cp, FILE *f, bool all);

#endif
