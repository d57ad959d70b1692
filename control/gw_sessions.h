/* gw_sessions.h — the control plane's side of established sessions: it is
 * the writer of the dataplane's session table (dp_session.h), one at a
 * time under the shards' shared lock (gw_cp_priv.h).
 *
 * Owns: building a dp_session from a finished handshake's keys and
 * installing it (backend binding, owner worker, replay windows, the
 * peer's alert window), the NAT-port bitmap and its random port choice
 * (gw_nat.h), removal, reclaim after the RCU grace period (the NAT port
 * is free again only then) with our close_notify sealed at the session's
 * write sequence, reading the encrypted alerts a client sends on a live
 * session, idle reaping, and kill by address.
 *
 * Session end (RFC 6347 §4.1 / RFC 5246 §7.2.1): a close_notify received
 * removes the session at once and is answered with our close_notify; a
 * fatal alert removes it without an answer; an idle session is removed
 * after the listener's idle timeout and told close_notify.
 *
 * Must not: write a session's owner-only fields (wr_seq, replay window,
 * counters) while a worker may still hold it (only in the reclaim callback,
 * after the grace period, or once the workers stopped), touch the handshake
 * engine beyond reading its keys, or block.  Called on the lcore of the
 * peer's shard (or the main lcore holding its lock); table writes, the NAT
 * bitmap and reclaim hold the shards' shared lock (gw_cp_priv.h), and only
 * the main lcore reclaims.
 */
#ifndef DTLSGW_GW_SESSIONS_H
#define DTLSGW_GW_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "cr_err.h"
#include "dp_record.h"
#include "gw_cp_priv.h"
#include "hs.h"

/* Installs the session of peer's finished handshake (hs_keys(peer->hs)),
 * then wipes the engine's copies of the keys (issue 8).  0, or a negative
 * CR_ERR_* with the reason counted: DROP_CP_NO_NEXTHOP,
 * DROP_CP_NAT_EXHAUSTED (CR_ERR_LIMIT), DROP_CP_RECLAIM_BACKLOG and
 * DROP_CP_INSTALL. */
CR_WUR int gw_sess_install(struct gw_cp *cp, struct cp_peer *peer);
/* The same from keys k, without touching peer->hs; sets peer->sess. */
CR_WUR int gw_sess_install_keys(struct gw_cp *cp, struct cp_peer *peer, const struct hs_keys *k);
/* Unpublishes the peer's session (if any); it is freed, its NAT port
 * released and (send_close) our close_notify sent by gw_sess_reclaim. */
void gw_sess_remove(struct gw_cp *cp, struct cp_peer *peer, bool send_close);
/* Frees the removed sessions whose grace period ended (wait: all of them,
 * at shutdown); returns how many. */
unsigned gw_sess_reclaim(struct gw_cp *cp, bool wait);

/* NAT slots (issue 11): (address, port), the address from the NAT pool of
 * the port listener li's backend route uses (dp_session.h).  A free slot
 * of li's nat_ports over that pool, at random, marked used: 0 with
 * *out_ip_be (network order) and *out_port (host order), or -1 (pool full,
 * no next hop). */
int gw_sess_nat_alloc(struct gw_cp *cp, unsigned li, uint32_t *out_ip_be, uint16_t *out_port);
/* Marks (ip_be, port) used (a restored session's, gw_restart.c); false
 * when ip_be is in no pool. */
bool gw_sess_nat_take(struct gw_cp *cp, uint32_t ip_be, uint16_t port);
/* The address naming the NAT slots of IPv6-backend sessions on DPDK port
 * port_idx (network order): the first address of its pool, or the port's
 * address without pools (dp_session.h dp_sess_nat_slot_ip6). */
uint32_t gw_sess_nat_slot_ip6(const struct gw_cp *cp, unsigned port_idx);
void gw_sess_nat_free(struct gw_cp *cp, uint32_t ip_be, uint16_t port);
/* True when (ip_be, port) is taken or not a NAT slot at all. */
bool gw_sess_nat_used(const struct gw_cp *cp, uint32_t ip_be, uint16_t port);

/* One encrypted alert record r (the session's epoch) of peer's live
 * session: a close_notify ends the peer and is answered with ours
 * (CP_SESS_CLOSED), a fatal alert ends it (CP_SESS_FATAL_ALERT), a warning
 * is ignored; one that is replayed or not authentic is dropped and counted
 * (DROP_CP_ALERT_REPLAY, DROP_CP_ALERT_AUTH).  Returns false when peer was
 * freed. */
bool gw_sess_alert_input(struct gw_cp *cp, struct cp_peer *peer, const struct dp_record *r);

/* Ends (with close_notify, CP_SESS_IDLE_REAPED) up to
 * DP_SESS_RECLAIM_BATCH sessions idle past their listener's idle_timeout. */
void gw_sess_reap_idle(struct gw_cp *cp);
/* Ends every peer (session or handshake) of client ip_be:port_be
 * (network order; port_be 0: every port of that address), each told
 * close_notify; returns how many ended (0: no such client). */
uint64_t gw_sess_kill(struct gw_cp *cp, uint32_t ip_be, uint16_t port_be);
/* The same for an address of either family. */
uint64_t gw_sess_kill_addr(struct gw_cp *cp, const struct dp_addr *a, uint16_t port_be);

#endif
