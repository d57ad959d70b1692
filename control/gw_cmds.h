/* gw_cmds.h — what the control plane reports and the commands it answers:
 * the stats snapshot (gw_cp.h: gw_cp_stats_snapshot, gw_cp_print_stats),
 * and, built with jansson (GW_HAVE_CTL), the control-socket handlers
 * (stats, sessions, kill, reload-psk, rotate-cookie, save) and the GET /metrics
 * body.
 *
 * Owns: the JSON shape of each reply.  Must not: keep state of its own,
 * or end a peer other than through gw_peers/gw_sessions.  Handlers run on
 * the control-plane lcore (gw_ctl_poll, gw_http_poll in gw_cp_run); the
 * snapshot on any thread.
 */
#ifndef DTLSGW_GW_CMDS_H
#define DTLSGW_GW_CMDS_H

#include <stddef.h>

#include "gw_cp_priv.h"

#ifdef GW_HAVE_CTL
#include "gw_ctl.h"

/* Fills h with cp's handlers (h->arg = cp). */
void gw_cmds_handlers(struct gw_cp *cp, struct gw_ctl_handlers *h);
/* GET /metrics: the stats reply's result (the control socket's counters
 * included) as the exposition dtlsgw-ctl metrics prints (gw_http's body
 * callback; arg is the gw_cp). */
CR_WUR int gw_cmds_http_metrics_body(void *arg, char **out_body, size_t *out_len);
#endif

#endif
