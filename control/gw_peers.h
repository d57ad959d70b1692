/* gw_peers.h — the control plane's peer table: every client transport
 * address the gateway holds state for (a handshake in progress after the
 * cookie verified, a live session, or both while one replaces the other).
 *
 * Owns: the rte_hash of struct cp_peer keyed by cp_key_t (cp_key.h), n_peers and
 * the workers' peer_busy hint (dp_worker.h) of each peer, admission of new
 * handshakes (max_peers, then cp_hs_limit: max_handshakes in all and
 * max_handshakes_per_source from one address), and the rate-limited log
 * line about a peer.
 * Must not: start, drive or judge a handshake (gw_cp.c), touch the
 * session table (gw_sessions.c does, gw_peer_free asks it to), or block.
 * Called only on the lcore of the peer's shard (handshake_lcores,
 * gw_cp_priv.h), or on the main lcore holding that shard's lock.
 */
#ifndef DTLSGW_GW_PEERS_H
#define DTLSGW_GW_PEERS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "cr_err.h"
#include "dp_session.h"
#include "gw_cp_priv.h"

/* Creates the empty peer table for cp->max_peers peers. */
CR_WUR int gw_peers_init(struct gw_cp *cp, char *err, size_t err_len);
/* Frees every peer (gw_peer_free with send_close) but keeps the table. */
void gw_peers_free_all(struct gw_cp *cp, bool send_close);
/* gw_peers_free_all(cp, false), then the table itself.  NULL table: no-op. */
void gw_peers_destroy(struct gw_cp *cp);

/* The peer of key, or NULL. */
struct cp_peer *gw_peer_lookup(const struct gw_cp *cp, const cp_key_t *key);
/* A new peer with a handshake slot (hs_counted) and no engine yet, in the
 * table and announced to the workers (peer_busy); NULL when refused, each
 * refusal counted: the table is full or the peer cannot be stored
 * (DROP_CP_HS_LIMIT), or gw_peer_hs_admit said no. */
struct cp_peer *gw_peer_insert(struct gw_cp *cp, const cp_key_t *key,
                               const struct rte_ether_addr *mac, uint16_t port_idx,
                               uint16_t listener, uint16_t worker);
/* The same for a session restored from the state file (gw_restart.h): no
 * handshake slot and no engine; the caller installs its session.  NULL
 * when the table is full (DROP_CP_HS_LIMIT). */
struct cp_peer *gw_peer_insert_session(struct gw_cp *cp, const cp_key_t *key,
                                       const struct rte_ether_addr *mac, uint16_t port_idx,
                                       uint16_t listener, uint16_t worker);
/* Ends everything the peer holds: its handshake slot, its session
 * (removed from the table; send_close: told close_notify once reclaimed),
 * its timer, its engine, its table entry.  peer is freed. */
void gw_peer_free(struct gw_cp *cp, struct cp_peer *peer, bool send_close);
/* Ends every peer for which match() says so (with close_notify); returns
 * how many. */
uint64_t gw_peers_end_matching(struct gw_cp *cp,
                               bool (*match)(struct gw_cp *, struct cp_peer *, void *), void *arg);

/* One more handshake in progress from source (cp_key_source_id: an IPv4
 * address, an IPv6 /64), or a counted refusal: DROP_CP_HS_MAX
 * (max_handshakes in all) or DROP_CP_HS_PER_SOURCE
 * (max_handshakes_per_source from that source). */
bool gw_peer_hs_admit(struct gw_cp *cp, uint64_t source);
/* The peer's handshake ended (ESTABLISHED, failed, freed): its slot is
 * free.  Idempotent. */
void gw_peer_hs_done(struct gw_cp *cp, struct cp_peer *peer);

/* One line "A.B.C.D:PORT: what[ (alert N)]" on stdout, at most
 * GW_CP_LOG_PER_SEC a second in all; alert < 0: none. */
void gw_peer_log(struct gw_cp *cp, const struct cp_peer *peer, const char *what, int alert);

#endif
