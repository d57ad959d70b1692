/* gw_telemetry.h — the gateway's counters in DPDK telemetry, so that
 * usertools/dpdk-telemetry.py (Debian: dpdk-dev) and anything speaking the
 * telemetry v2 socket (<runtime dir>/dpdk_telemetry.v2, SOCK_SEQPACKET,
 * e.g. /var/run/dpdk/<file-prefix>/) read them beside DPDK's own /ethdev:
 *   /dtlsgw/stats               events (non-DROP_ counters) and gauges
 *                               (sessions, peers, pending_free, workers,
 *                               drops: the sum of every DROP_ counter)
 *   /dtlsgw/drops               DROP_* counters, by reason
 *   /dtlsgw/handshake_failures  handshakes that ended without a session, by
 *                               reason (hs.h HS_FAIL_REASONS names, e.g.
 *                               UNKNOWN_PSK_IDENTITY; every reason, zeros too)
 *   /dtlsgw/ports[,ID]          per port: driver and rte_eth_stats fields
 * The values are those of the control socket's stats (one snapshot
 * function, gw_cp_stats_snapshot), taken when the command is asked.
 * Owns: the registration of these commands (once per process) and the
 * provider they read.  Must not: read the provider after
 * gw_telemetry_detach() returned (the callbacks run on DPDK's telemetry
 * thread: a mutex orders them against detach), or write anything the
 * gateway's threads read.
 */
#ifndef DTLSGW_GW_TELEMETRY_H
#define DTLSGW_GW_TELEMETRY_H

#include "cr_err.h"
#include "gw_cp.h"

/* Fills out; called on DPDK's telemetry thread. */
typedef void (*gw_telemetry_snapshot_fn)(void *arg, struct gw_stats *out);

/* Registers the /dtlsgw commands (first call only) and makes them read
 * snap(arg) from now on.  0 or CR_ERR_INVAL (a command could not be
 * registered). */
CR_WUR int gw_telemetry_attach(gw_telemetry_snapshot_fn snap, void *arg);
/* From return on, no callback reads the provider; the commands answer an
 * error until the next attach. */
void gw_telemetry_detach(void);

#endif
