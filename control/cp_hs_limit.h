/* cp_hs_limit.h — admission of new handshakes on the control plane: at
 * most max_handshakes in progress at once (separate from max_sessions, so
 * established sessions are never crowded out by half-open handshakes nor
 * the reverse), and at most max_per_source of them from one source (so one
 * host cannot take every handshake slot).  A source is a 64-bit key: an
 * IPv4 client address, or an IPv6 client's /64 (cp_key_source_id in
 * cp_key.h): one IPv6 host has a whole /64 to pick addresses from.
 *
 * A handshake counts from its admission (after the cookie verified) until
 * it ends: ESTABLISHED (it is a session then), failed, timed out or freed.
 *
 * Owns: the total and an exact per-source count (open addressing, linear
 * probing, backward-shift deletion; at most max_handshakes sources, so the
 * table never fills).  Must not: touch DPDK, allocate after creation.
 * Not thread-safe: the control plane calls it under its shards' shared lock
 * (gw_cp_priv.h, handshake_lcores).
 */
#ifndef DTLSGW_CP_HS_LIMIT_H
#define DTLSGW_CP_HS_LIMIT_H

#include <stdint.h>

#include "cr_err.h"

#define CP_HS_LIMIT_MAX_HANDSHAKES (16u * 1024 * 1024) /* largest max_handshakes */

enum cp_hs_verdict {
    CP_HS_ADMIT = 0,
    CP_HS_REFUSE_TOTAL,  /* max_handshakes in progress */
    CP_HS_REFUSE_SOURCE, /* max_per_source in progress from this address */
};

struct cp_hs_limit;

/* max_handshakes in 1..CP_HS_LIMIT_MAX_HANDSHAKES, max_per_source in
 * 1..max_handshakes; seed keys the address hash (random per process). */
CR_WUR struct cp_hs_limit *cp_hs_limit_new(uint32_t max_handshakes, uint32_t max_per_source,
                                           uint64_t seed);
void cp_hs_limit_free(struct cp_hs_limit *l);
/* Admits one more handshake from ip (any byte order, used as a key) and
 * counts it, or refuses it and counts nothing. */
enum cp_hs_verdict cp_hs_limit_admit(struct cp_hs_limit *l, uint64_t ip);
/* The end of a handshake admit() counted for ip. */
void cp_hs_limit_release(struct cp_hs_limit *l, uint64_t ip);
uint32_t cp_hs_limit_total(const struct cp_hs_limit *l);
uint32_t cp_hs_limit_of_source(const struct cp_hs_limit *l, uint64_t ip);

#endif
