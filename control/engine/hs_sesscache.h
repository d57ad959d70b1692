/* hs_sesscache.h — the bounded session-ID cache of one listener's engine
 * context (RFC 5246 §7.4.1.2: "the server will look in its session cache
 * for a match"), for clients that resume by session_id instead of a
 * session ticket.
 *
 * Each entry is one resumable session's state (hs_ticket.h's struct, the
 * same fields a ticket seals) under the 32-byte session_id the server
 * chose for it, with a monotonic expiry.  One open-addressing table
 * (linear probing, backward-shift deletion, at most half full) finds an
 * id in O(1); the ids are the server's own RAND_bytes, so a peer cannot
 * choose where entries land, only which slot its lookup starts at.  Two
 * intrusive lists order the entries: by use (LRU: a full cache evicts the
 * least recently used) and by age (expired entries are removed from the
 * oldest, hs_sesscache_expire).
 *
 * Bounded: at most max_entries entries, each allocated on first use and
 * reused after an eviction; the table is allocated once.  Sessions
 * without the extended master secret are refused (RFC 7627 §5.3: such a
 * session "MUST NOT" be resumed).  Every entry's master secret is wiped
 * when the entry is evicted, expires, is removed, and when the cache is
 * freed.
 *
 * Time is the caller's monotonic clock in ms (never going back between
 * calls): entries do not outlive the process.
 *
 * Owns: the entries.  Called only on the thread of its hs_ctx.
 */
#ifndef DTLSGW_HS_SESSCACHE_H
#define DTLSGW_HS_SESSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "hs_ticket.h"

#define HS_SESSCACHE_ID_LEN      32 /* RFC 5246 SessionID<0..32>: ours are always full */
#define HS_SESSCACHE_MAX_ENTRIES (1u << 22)

/* What hs_sesscache_get found. */
enum hs_sesscache_verdict {
    HS_SESSCACHE_HIT = 0,
    HS_SESSCACHE_MISS = 1,    /* no entry with that id */
    HS_SESSCACHE_EXPIRED = 2, /* the entry's life had passed: removed (wiped) */
};

struct hs_sesscache_stats {
    uint64_t stored;  /* entries added */
    uint64_t evicted; /* removed at the bound to make room (LRU) */
    uint64_t expired; /* removed for age (lookup or hs_sesscache_expire) */
    uint64_t removed; /* removed on request (hs_sesscache_remove) */
};

struct hs_sesscache;

/* A cache of at most max_entries (1..HS_SESSCACHE_MAX_ENTRIES) sessions,
 * each good for lifetime_ms (> 0) after it is stored.  NULL on a bad
 * argument or no memory. */
CR_WUR struct hs_sesscache *hs_sesscache_new(uint32_t max_entries, uint64_t lifetime_ms);
/* Wipes every entry's secret and frees.  NULL is a no-op. */
void hs_sesscache_free(struct hs_sesscache *c);

/* Stores st under id (HS_SESSCACHE_ID_LEN bytes) at now_ms, evicting the
 * least recently used entry when full (*out_evicted says so; may be
 * NULL); an entry of the same id is replaced.  CR_ERR_INVAL for a session
 * without EMS (st->flags), CR_ERR_NOMEM. */
CR_WUR int hs_sesscache_put(struct hs_sesscache *c, const uint8_t *id,
                            const struct hs_ticket_state *st, uint64_t now_ms, bool *out_evicted);
/* Looks up id (id_len bytes: any other length than HS_SESSCACHE_ID_LEN
 * is a miss) at now_ms.  HIT: *out is a copy of the entry (the caller
 * wipes it) and the entry becomes the most recently used.  MISS or
 * EXPIRED: *out zeroed. */
int hs_sesscache_get(struct hs_sesscache *c, const uint8_t *id, size_t id_len, uint64_t now_ms,
                     struct hs_ticket_state *out);
/* Removes id's entry, wiped (RFC 5246 §7.2.2: a failed connection's
 * session is forgotten).  Whether there was one. */
bool hs_sesscache_remove(struct hs_sesscache *c, const uint8_t *id, size_t id_len);
/* Removes (wipes) every entry whose life had passed at now_ms; returns
 * how many. */
unsigned hs_sesscache_expire(struct hs_sesscache *c, uint64_t now_ms);

uint32_t hs_sesscache_count(const struct hs_sesscache *c);
uint32_t hs_sesscache_max(const struct hs_sesscache *c);
const struct hs_sesscache_stats *hs_sesscache_stats(const struct hs_sesscache *c);

#endif
