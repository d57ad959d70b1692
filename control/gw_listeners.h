/* gw_listeners.h — the control plane's listeners: for each configured
 * listener its credentials (PSK file, certificates, client-auth CA), its
 * handshake engine context (cookie secrets included) and the next hop
 * towards its backend; the rotation of the cookie secrets; and the cookie
 * check, both the workers' stateless one (dp_unknown_peer_fn) and the
 * control plane's before it keeps any state for a peer (RFC 6347 §4.2.1).
 *
 * Owns: cp->lst[].  Must not: keep state for a peer whose cookie did not
 * verify, or allocate on the workers' path.  gw_listeners_unknown_peer
 * runs on worker lcores and only reads (cookie secrets are safe for
 * concurrent readers, cr_cookie.h); everything else runs on the
 * control-plane lcore.
 */
#ifndef DTLSGW_GW_LISTENERS_H
#define DTLSGW_GW_LISTENERS_H

#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "gw_cp_priv.h"

/* Loads every listener's credentials and creates its handshake context
 * and backend next hop; on error a message naming the listener in err
 * (what is already loaded stays for gw_listeners_free). */
CR_WUR int gw_listeners_init(struct gw_cp *cp, char *err, size_t err_len);
void gw_listeners_free(struct gw_cp *cp);
/* A new cookie secret for every listener (cookie_rotate_ms timer and the
 * rotate-cookie command, CP_COOKIE_ROTATED): the previous one is still
 * accepted, so a cookie lives one to two periods. */
int gw_listeners_rotate_cookies(struct gw_cp *cp);
/* A new random session-ticket key for every listener whose current one
 * is ticket_key_rotate_ms old (those with a ticket_key_file keep the
 * file's); CP_TICKET_KEY_ROTATED each. */
int gw_listeners_rotate_tickets(struct gw_cp *cp, uint64_t now_ms);
/* handshake_lcores, shards > 0, on their own lcore: takes shard 0's
 * session-ticket keys when it rotated them (one set of keys for all
 * shards: a returning client may land on any shard). */
void gw_listeners_sync_tickets(struct gw_cp *cp);
/* The session-ID caches of cp's listeners (its shard's): entries past
 * their life wiped, counted CP_SESSID_EXPIRED.  Once a second, on cp's
 * lcore. */
void gw_listeners_expire_sessions(struct gw_cp *cp);
/* The control plane's cookie check of ClientHello d from key (on listener
 * li, port port_idx, L2 source mac): HS_COOKIE_VALID (valid, or cookies
 * off), HS_COOKIE_SEND_HVR (a HelloVerifyRequest was sent, CP_HVR_SENT)
 * or HS_COOKIE_DROP (DROP_CP_COOKIE). */
int gw_listeners_cookie_verdict(struct gw_cp *cp, unsigned li, const cp_key_t *key,
                                unsigned port_idx, const struct rte_ether_addr *mac,
                                const uint8_t *d, size_t len);
/* dp_unknown_peer_fn for dp_gw.unknown_peer (arg: the gw_cp). */
int gw_listeners_unknown_peer(void *arg, unsigned li, const struct dp_addr *peer,
                              uint16_t peer_port_be, const uint8_t *d, size_t len, uint8_t *out,
                              size_t out_cap, size_t *out_len);

#endif
