/* gw_stats.h — the names of what the gateway's stats carry besides the
 * DP_COUNTERS list (dp_counters.h): the gauges and the per-port statistics.
 * The control socket's stats reply, DPDK telemetry (/dtlsgw/...) and the
 * Prometheus exposition (gw_metrics.c) all take their names from here.
 *
 * Owns: these two X-macro lists.  Must not: include anything (the
 * dtlsgw-ctl CLI builds without DPDK and uses it too).
 */
#ifndef DTLSGW_GW_STATS_H
#define DTLSGW_GW_STATS_H

/* X(name, help): values that go up and down (Prometheus gauges). */
#define GW_STATS_GAUGES(X)                                                                         \
    X(sessions, "Established sessions.")                                                           \
    X(peers, "Peers with a handshake or a session.")                                               \
    X(pending_free, "Removed sessions not yet freed.")

/* X(name): struct rte_eth_stats fields reported per port ("ports"). */
#define GW_PORT_STATS(X)                                                                           \
    X(ipackets)                                                                                    \
    X(opackets)                                                                                    \
    X(ibytes)                                                                                      \
    X(obytes)                                                                                      \
    X(imissed)                                                                                     \
    X(ierrors)                                                                                     \
    X(oerrors)                                                                                     \
    X(rx_nombuf)

#endif
