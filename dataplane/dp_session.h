/* dp_session.h — established DTLS sessions and the lock-free session table
 * (the control/data contract of DESIGN.md).
 *
 * Owns: the session object (keys, replay window, write sequence, backend
 * binding), the rte_hashes keyed by (client ip, client port, local ip, local
 * port) with lock-free reader/writer concurrency — one for IPv4 clients
 * (16-byte key, the fast path's), one for IPv6 clients (40-byte key; the
 * smallest rte_hash when the gateway has no IPv6), both within one
 * max_sessions budget —, the NAT map (gateway-side (pool
 * address, port) towards the backend → session, either family), the
 * session reserve (a mempool sized at start) and reclamation through
 * rte_rcu_qsbr.
 * Must not: know about handshakes, parse packets or allocate on lookup.
 *
 * Threads:
 *   - the control plane is the single writer: dp_sess_install/remove/reclaim
 *     (with handshake_lcores several lcores call them, one at a time under
 *     one lock, control/gw_cp_priv.h: still one writer at any moment);
 *   - workers read: dp_sess_lookup, dp_sess_by_nat, and report quiescent
 *     states on the table's QSBR variable once per loop, never holding a
 *     session pointer across a quiescent state, except a pointer cached
 *     under the table's removal generation (dp_sess_gen) and used only
 *     while that generation is unchanged;
 *   - session fields are written by the control plane before install and
 *     are then read-only, except the ones marked "owner" (written only by
 *     the owning worker) and last_rx_tsc (owner writes, control plane reads,
 *     relaxed atomics: an approximate idle time is all it needs).
 */
#ifndef DTLSGW_DP_SESSION_H
#define DTLSGW_DP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_rcu_qsbr.h>

#include "cr_aead.h"
#include "dp_addr.h"
#include "dp_replay.h"

#define DP_SESS_MAX_DEFAULT 65536
#define DP_SESS_NAT_PORTS   65536 /* NAT slots per pool address: every UDP port */
/* NAT address pools (issue 11): the backend-side source addresses of one
 * DPDK port; a NAT slot is (pool address, UDP port), so a gateway holds up
 * to DP_SESS_NAT_PORTS sessions per address.  Pools are indexed by the
 * caller's port index; at most DP_SESS_NAT_ADDRS_MAX addresses in all
 * (a map of 65536 pointers, 512 KiB, per address). */
#define DP_SESS_NAT_POOLS_MAX 4 /* dp_port.h DP_MAX_PORTS */
#define DP_SESS_NAT_ADDRS_MAX 1024
#define DP_SESS_RECLAIM_BATCH 256
/* The IPv6 clients' table of a gateway without IPv6 listeners (dp_sess_table_create_nat
 * with ipv6 false): rte_hash's smallest (one bucket), so that it costs next
 * to nothing and an IPv6 lookup still has a table to miss in. */
#define DP_SESS_V6_MIN_ENTRIES 8
/* Removed sessions waiting for their grace period: at most max_sessions /
 * DP_SESS_PENDING_DIV (at least DP_SESS_RECLAIM_BATCH, at most
 * max_sessions); installs are refused (CR_ERR_BUSY) while the queue is that
 * long, so a stalled worker cannot make it grow without bound. */
#define DP_SESS_PENDING_DIV 8

/* All fields in network byte order, exactly as read from the packet.
 * 16 bytes, 8-aligned: rte_hash_crc reads keys 8 bytes at a time; pad must
 * be zero (it is part of the hashed and compared key). */
struct dp_sess_key {
    uint32_t client_ip;
    uint32_t local_ip;
    uint16_t client_port;
    uint16_t local_port;
    uint32_t pad;
} __attribute__((aligned(8)));

/* The key of a session whose client speaks IPv6: the same fields with
 * 16-byte addresses, network order, 40 bytes (a multiple of 8 for
 * rte_hash_crc), pad zero. */
struct dp_sess_key6 {
    uint8_t client_ip[16];
    uint8_t local_ip[16];
    uint16_t client_port;
    uint16_t local_port;
    uint32_t pad;
} __attribute__((aligned(8)));

/* The IPv6 side of a session (family or backend_family DP_AF_V6),
 * read-only after install: key6 for an IPv6 client (then key is zero),
 * the backend's and our backend-side addresses for an IPv6 backend (then
 * backend_ip/nat_ip are zero). */
struct dp_sess_v6 {
    struct dp_sess_key6 key6;
    uint8_t backend_ip6[16];
    uint8_t nat_ip6[16]; /* our address on the backend port */
};

struct dp_session {
    /* ---- read-only after install ---- */
    struct cr_aead_key rd_key; /* client_write key: open */
    struct cr_aead_key wr_key; /* server_write key: seal */
    struct dp_sess_key key;
    uint32_t backend_ip;        /* network order */
    uint32_t nat_ip;            /* our address on the backend port, network order */
    uint16_t backend_port;      /* network order */
    uint16_t nat_port;          /* host order: index of the NAT map */
    uint16_t client_port_id;    /* DPDK port towards the client */
    uint16_t backend_port_id;   /* DPDK port towards the backend */
    uint16_t backend_nh;        /* next-hop index (dp_worker.h) */
    uint16_t owner;             /* owning worker index */
    uint16_t epoch;             /* current read = write epoch */
    uint16_t version;           /* record version (0xfefd) */
    uint16_t listener;          /* listener index */
    uint8_t explicit_nonce_len; /* 8 (GCM/CCM) or 0 (ChaCha20) */
    uint8_t tag_len;
    uint8_t family;                   /* DP_AF_V4: key, DP_AF_V6: key6 (client side) */
    uint8_t backend_family;           /* DP_AF_V4: backend_ip/nat_ip, DP_AF_V6: *_ip6 */
    struct rte_ether_addr client_mac; /* L2 next hop towards the client */
    /* The IPv6 addresses (dp_session_v6), NULL for an IPv4-only session.
     * Apart so that the session keeps its size: 128 bytes more cost the
     * IPv4 fast path ~3 cycles per record in bench-dataplane. */
    struct dp_sess_v6 *v6;

    /* ---- owner worker only ---- */
    uint64_t wr_seq __rte_cache_aligned; /* next write sequence number */
    uint64_t rx_records;
    uint64_t tx_records;
    uint64_t last_rx_tsc;     /* relaxed store (owner), relaxed load (cp) */
    struct dp_replay *replay; /* points into this allocation */
    uint32_t open_batch;      /* owner's AEAD batch that last held a record */

    /* ---- control plane only ---- */
    struct dp_session *rcu_next __rte_cache_aligned;
    uint64_t rcu_token;
    int32_t hash_pos;
    bool installed;
    bool send_close;             /* send close_notify once reclaimed */
    void *cp_ref;                /* control plane's back pointer */
    struct rte_mempool *reserve; /* its table's reserve, or NULL: rte_malloc */
};

struct dp_sess_table;

/* One port's NAT pool: n_addrs consecutive addresses from first. */
struct dp_nat_pool {
    uint32_t first;   /* host order */
    uint32_t n_addrs; /* 0: the port has no pool */
};

/* Where dp_session_alloc places the replay window: right after the
 * session (what s->replay points to), computable without loading s. */
static inline const void *dp_session_replay_addr(const struct dp_session *s)
{
    return (const uint8_t *)s + RTE_ALIGN_CEIL(sizeof(struct dp_session), RTE_CACHE_LINE_SIZE);
}

/* Allocates a zeroed session with a replay window of win_bits (a multiple of
 * 64 in [DP_REPLAY_WIN_MIN_BITS, DP_REPLAY_WIN_MAX_BITS]).  NULL on error. */
struct dp_session *dp_session_alloc(uint32_t win_bits, int socket_id);
/* Wipes key material and frees (back to its reserve, if it came from one). */
void dp_session_free(struct dp_session *s);
/* Control plane, before install: gives s its zeroed IPv6 part (s->v6), a
 * no-op when it has one.  0 or CR_ERR_NOMEM. */
CR_WUR int dp_session_v6(struct dp_session *s);

/* max_sessions entries (>= 1; the hashes get at least 8, rte_hash's
 * minimum, but installs stop at max_sessions), IPv6 clients included;
 * n_readers worker threads
 * (QSBR thread ids 0..n_readers-1).  NULL on error (rte_errno set). */
struct dp_sess_table *dp_sess_table_create(const char *name, uint32_t max_sessions,
                                           unsigned n_readers, int socket_id);
/* The same with NAT pools: pools[i] is port i's (n_pools <= DP_SESS_NAT_POOLS_MAX,
 * disjoint, DP_SESS_NAT_ADDRS_MAX addresses in all); the NAT map gets 65536
 * slots per pool address.  With n_pools == 0 (dp_sess_table_create) the map
 * is one set of 65536 slots keyed by port alone, whatever the address (the
 * worker still checks s->nat_ip).  ipv6 false (a gateway with no IPv6
 * listener, so no IPv6 client): the IPv6 clients' table has
 * DP_SESS_V6_MIN_ENTRIES entries, not max_sessions (an install past them:
 * CR_ERR_LIMIT). */
struct dp_sess_table *dp_sess_table_create_nat(const char *name, uint32_t max_sessions,
                                               unsigned n_readers, int socket_id,
                                               const struct dp_nat_pool *pools, unsigned n_pools,
                                               bool ipv6);
/* What the table of max_sessions entries (ipv6: as for
 * dp_sess_table_create_nat) takes at start, in bytes (the rte_hashes with
 * their key stores, the NAT map of n_nat_addrs addresses, the QSBR
 * variable), without the sessions themselves (dp_session_memsize). */
struct dp_sess_mem {
    size_t hash_bytes; /* rte_hash buckets + key store (estimated from its layout) */
    size_t nat_bytes;
    size_t qsbr_bytes;
};
void dp_sess_table_memsize(uint32_t max_sessions, unsigned n_readers, uint32_t n_nat_addrs,
                           bool ipv6, struct dp_sess_mem *out);
/* One session's allocation with a replay window of win_bits, in bytes
 * (keys and window included; 0 for a bad win_bits); with rte_malloc's
 * per-allocation header: dp_session_alloc_bytes. */
size_t dp_session_memsize(uint32_t win_bits);
size_t dp_session_alloc_bytes(uint32_t win_bits);
/* What an rte_hash of entries keys of key_len bytes takes (DPDK 22.11's
 * layout, without local caches or extendable buckets), in bytes. */
size_t dp_hash_memsize(uint64_t entries, size_t key_len);
/* The same with extendable buckets (RTE_HASH_EXTRA_FLAGS_EXT_TABLE) when ext. */
size_t dp_hash_memsize_ext(uint64_t entries, size_t key_len, bool ext);
/* Control plane, at start, before any session is allocated from t: a
 * reserve of every session the table can hold (max_sessions live plus
 * dp_sess_pending_max waiting for their grace period plus
 * DP_SESS_RESERVE_SPARE being installed), each with room for a replay
 * window of up to win_bits, in one rte_mempool (issue 11: session memory
 * sized at start, no heap allocation per install).  0, or CR_ERR_NOMEM
 * (rte_errno set), CR_ERR_INVAL (bad win_bits, reserve already made). */
#define DP_SESS_RESERVE_SPARE 64
CR_WUR int dp_sess_table_reserve(struct dp_sess_table *t, uint32_t win_bits);
/* How many sessions the reserve of a table of max_sessions holds. */
uint64_t dp_sess_reserve_count(uint32_t max_sessions);
/* Control plane.  A zeroed session with a window of win_bits, from t's
 * reserve when it has one (NULL when it is empty or win_bits exceeds its
 * room), else from rte_malloc as dp_session_alloc. */
struct dp_session *dp_sess_session_alloc(struct dp_sess_table *t, uint32_t win_bits, int socket_id);
/* The reserve's bytes per session (element, header and trailer of the
 * mempool), 0 without one. */
size_t dp_sess_reserve_elt_bytes(const struct dp_sess_table *t);
/* Frees every session still in the table or waiting; no reader may run. */
void dp_sess_table_free(struct dp_sess_table *t);
struct rte_rcu_qsbr *dp_sess_qsbr(struct dp_sess_table *t);
uint32_t dp_sess_count(const struct dp_sess_table *t);
uint32_t dp_sess_pending(const struct dp_sess_table *t);
uint32_t dp_sess_pending_max(const struct dp_sess_table *t);

/* Control plane.  Publishes s (all read-only fields set, its NAT slot
 * (s->nat_ip, s->nat_port) free; for an IPv6 backend s->nat_ip is the
 * first address of its port's pool, naming the slot only) under s->key or,
 * when s->family is DP_AF_V6, s->v6->key6 (an IPv6 family without s->v6:
 * CR_ERR_INVAL).  0, or CR_ERR_LIMIT (table full), CR_ERR_BUSY
 * (dp_sess_pending_max removed sessions still wait for a grace period),
 * CR_ERR_INVAL (key or NAT slot in use, nat_ip in no pool). */
CR_WUR int dp_sess_install(struct dp_sess_table *t, struct dp_session *s);
/* Control plane.  Unpublishes s; it is freed by dp_sess_reclaim once every
 * reader passed a quiescent state.  send_close: ask the reclaim callback to
 * send a close_notify (after the grace period the owner no longer touches
 * wr_seq, so the control plane may use it). */
void dp_sess_remove(struct dp_sess_table *t, struct dp_session *s, bool send_close);
/* Control plane.  Frees sessions whose grace period ended, oldest first;
 * calls cb(s, arg) before each free (NULL: none).  wait: block until all
 * pending are free (shutdown).  Returns the number freed. */
typedef void (*dp_sess_reclaim_cb)(struct dp_session *s, void *arg);
unsigned dp_sess_reclaim(struct dp_sess_table *t, dp_sess_reclaim_cb cb, void *arg, bool wait);
/* Control plane: iterate live sessions of both families (*next starts at
 * 0: the IPv4 table's positions, then the IPv6 table's with
 * DP_SESS_ITER_V6 set); NULL at end. */
#define DP_SESS_ITER_V6 (UINT32_C(1) << 31)
struct dp_session *dp_sess_iterate(struct dp_sess_table *t, uint32_t *next);

/* Workers.  The table's removal generation (acquire load): dp_sess_remove
 * bumps it after the removed session is unpublished (so no lookup under the
 * new generation finds it) and before its grace period starts.  A reader
 * that found a session while the generation was G may keep using that
 * pointer in later bursts for as long as it still reads G (a per-worker
 * flow cache): the session cannot be freed before the reader's next
 * quiescent state, and after that state the reader reads a newer G. */
uint64_t dp_sess_gen(const struct dp_sess_table *t);

/* NAT pools (read-only after create; any thread).  The NAT slot of
 * (addr_be, port): (address index << 16) | port, or -1 when addr_be is in
 * no pool (with no pools: the port alone). */
int64_t dp_sess_nat_slot(const struct dp_sess_table *t, uint32_t addr_be, uint16_t port);
/* True when addr_be is an address of some pool. */
bool dp_sess_is_nat_addr(const struct dp_sess_table *t, uint32_t addr_be);
/* Pool pi, with the address index of its first address in *out_base;
 * NULL when the table has no pools or pi none.  The NAT map (and a NAT
 * bitmap beside it) spans dp_sess_nat_n_addrs(t) addresses. */
const struct dp_nat_pool *dp_sess_nat_pool(const struct dp_sess_table *t, unsigned pi,
                                           uint32_t *out_base);
uint32_t dp_sess_nat_n_addrs(const struct dp_sess_table *t);
/* The address naming the NAT slots of IPv6-backend sessions on port pi
 * (network order): the first address of pi's pool, or port_ip_be (the
 * port's own IPv4 address, network order) when pi has none.  The one
 * rule for both sides: the control plane installs those sessions under
 * it (control/gw_sessions.c gw_sess_nat_slot_ip6), the workers look an
 * IPv6 reply up by it (dp_worker.c nat_frame). */
static inline uint32_t dp_sess_nat_slot_ip6(const struct dp_sess_table *t, unsigned pi,
                                            uint32_t port_ip_be)
{
    const struct dp_nat_pool *pool = dp_sess_nat_pool(t, pi, NULL);
    return pool != NULL ? rte_cpu_to_be_32(pool->first) : port_ip_be;
}

/* Workers (and control plane).  Lock-free. */
struct dp_session *dp_sess_lookup(const struct dp_sess_table *t, const struct dp_sess_key *k);
/* The session whose NAT slot is (dst_addr_be, dst_port host order), or NULL
 * (no session, or an address in no pool). */
struct dp_session *dp_sess_by_nat(const struct dp_sess_table *t, uint32_t dst_addr_be,
                                  uint16_t dst_port);
struct dp_session *dp_sess_lookup6(const struct dp_sess_table *t, const struct dp_sess_key6 *k);
/* n keys (n <= 64) at once; out[i] is the session or NULL. */
void dp_sess_lookup_bulk(const struct dp_sess_table *t, const struct dp_sess_key **keys, unsigned n,
                         struct dp_session **out);

#endif
