/* dp_session.c — session objects, the lock-free session table, the NAT-port
 * map and their RCU (QSBR) reclamation.
 *
 * Owns: the rte_hashes (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF: readers never
 * block, the single writer is the control plane; `hash` for IPv4 clients,
 * `hash6` for IPv6 clients, each with room for max_sessions + the pending
 * ones (hash_entries; `hash6` DP_SESS_V6_MIN_ENTRIES on a gateway without
 * IPv6 listeners), n_live bounding their sum by max_sessions), the NAT map (65536
 * session pointers per NAT pool address, indexed by the NAT slot (address
 * index << 16) | gateway-side port, either backend family: an IPv6
 * backend's session takes its slot under the first address of its port's
 * pool), the QSBR variable the workers report to, and the FIFO of removed
 * sessions waiting for their grace period.
 * Must not: be written by more than one thread (control plane), free a
 * session or a hash key slot before every reader passed a quiescent state
 * after its removal, or allocate on the reader path.
 */
#include "dp_session.h"

#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "cr_err.h"

struct dp_sess_table {
    struct rte_hash *hash;   /* struct dp_sess_key → session (IPv4 clients) */
    struct rte_hash *hash6;  /* struct dp_sess_key6 → session (IPv6 clients) */
    struct dp_session **nat; /* n_nat_addrs * DP_SESS_NAT_PORTS entries */
    /* NAT pools, read-only after create: pools[i] with its first address
     * at address index pool_base[i]; n_pools == 0: one slot set, any
     * address */
    struct dp_nat_pool pools[DP_SESS_NAT_POOLS_MAX];
    uint32_t pool_base[DP_SESS_NAT_POOLS_MAX];
    unsigned n_pools;
    uint32_t n_nat_addrs;
    struct rte_rcu_qsbr *qsbr;
    struct dp_session *pend_head; /* removed, waiting for grace period */
    struct dp_session *pend_tail;
    uint32_t n_live;
    uint32_t n_pending;
    uint32_t max_sessions;
    uint32_t max_pending;        /* dp_sess_pending_max */
    struct rte_mempool *reserve; /* dp_sess_table_reserve; NULL: rte_malloc */
    uint32_t reserve_win_bits;
    /* removal generation (dp_sess_gen), read by every worker each burst:
     * its own cache line, written only on removals */
    uint64_t gen __rte_cache_aligned;
};

size_t dp_session_memsize(uint32_t win_bits)
{
    size_t rsz = dp_replay_size(win_bits);
    if (rsz == 0)
        return 0;
    return RTE_ALIGN_CEIL(sizeof(struct dp_session), RTE_CACHE_LINE_SIZE) + rsz;
}

/* rte_hash's layout in DPDK 22.11 (lib/hash/rte_cuckoo_hash.c, no local
 * cache): rte_align32pow2(entries) / 8 buckets of one cache line, entries
 * + 1 key slots of sizeof(void *) + key_len rounded up to 16, and a ring
 * of rte_align32pow2(entries + 1) uint32_t free slot indexes; with
 * extendable buckets (ext: RTE_HASH_EXTRA_FLAGS_EXT_TABLE) as many
 * buckets again, their free ring (one uint32_t each, rounded up to a
 * power of two) and, in lock-free mode, one uint32_t per key slot
 * (ext_bkt_to_free). */
size_t dp_hash_memsize_ext(uint64_t entries, size_t key_len, bool ext)
{
    uint64_t key_entry = RTE_ALIGN_CEIL(sizeof(void *) + key_len, 16);
    uint64_t n_bkt = rte_align64pow2(entries) / 8;
    uint64_t bytes = n_bkt * RTE_CACHE_LINE_SIZE + (entries + 1) * key_entry +
                     rte_align64pow2(entries + 1) * sizeof(uint32_t);
    if (ext)
        bytes += n_bkt * RTE_CACHE_LINE_SIZE + rte_align64pow2(n_bkt + 1) * sizeof(uint32_t) +
                 (entries + 1) * sizeof(uint32_t);
    return (size_t)bytes;
}

size_t dp_hash_memsize(uint64_t entries, size_t key_len)
{
    return dp_hash_memsize_ext(entries, key_len, false);
}

/* The hash tables' room: a key slot for every live session and every
 * removed one still waiting for its grace period (lock-free mode frees a
 * deleted key's slot only in dp_sess_reclaim; dp_sess_install refuses at
 * max_sessions live or max_pending pending), with extendable buckets
 * (RTE_HASH_EXTRA_FLAGS_EXT_TABLE) so that every one of those keys fits:
 * the cuckoo buckets alone refuse keys from ~97% full (a table of exactly
 * max_sessions refused installs between 64000 and 65000 of 65536).
 * rte_hash_create refuses fewer entries than one bucket holds
 * (RTE_HASH_BUCKET_ENTRIES, 8), and the config accepts max_sessions from
 * 1: at least 8.  The budget stays max_sessions (dp_sess_install counts
 * n_live against it, not the hash's room). */
#define HASH_ENTRIES_MIN 8
#define HASH_EXTRA_FLAGS (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE)

static uint32_t pending_max(uint32_t max_sessions);

static uint32_t hash_entries(uint32_t max_sessions)
{
    uint64_t n = (uint64_t)max_sessions + pending_max(max_sessions);
    return n < HASH_ENTRIES_MIN ? HASH_ENTRIES_MIN : (uint32_t)RTE_MIN(n, (uint64_t)UINT32_MAX);
}

/* The IPv6 clients' table's entries (dp_sess_table_create_nat). */
static uint32_t entries6(uint32_t max_sessions, bool ipv6)
{
    return ipv6 ? hash_entries(max_sessions) : DP_SESS_V6_MIN_ENTRIES;
}

void dp_sess_table_memsize(uint32_t max_sessions, unsigned n_readers, uint32_t n_nat_addrs,
                           bool ipv6, struct dp_sess_mem *out)
{
    /* both tables: IPv4 clients (hash_entries) and IPv6 clients */
    out->hash_bytes =
        dp_hash_memsize_ext(hash_entries(max_sessions), sizeof(struct dp_sess_key), true) +
        dp_hash_memsize_ext(entries6(max_sessions, ipv6), sizeof(struct dp_sess_key6), true);
    out->nat_bytes =
        (size_t)(n_nat_addrs ? n_nat_addrs : 1) * DP_SESS_NAT_PORTS * sizeof(struct dp_session *);
    out->qsbr_bytes = rte_rcu_qsbr_get_memsize(n_readers ? n_readers : 1);
}

size_t dp_session_alloc_bytes(uint32_t win_bits)
{
    size_t n = dp_session_memsize(win_bits);
    /* rte_malloc's element header (struct malloc_elem, one cache line) */
    return n ? n + RTE_CACHE_LINE_SIZE : 0;
}

struct dp_session *dp_session_alloc(uint32_t win_bits, int socket_id)
{
    size_t rsz = dp_replay_size(win_bits);
    if (rsz == 0)
        return NULL;
    size_t base = RTE_ALIGN_CEIL(sizeof(struct dp_session), RTE_CACHE_LINE_SIZE);
    struct dp_session *s =
        rte_zmalloc_socket("dp_session", base + rsz, RTE_CACHE_LINE_SIZE, socket_id);
    if (s == NULL)
        return NULL;
    s->replay = (struct dp_replay *)(uintptr_t)dp_session_replay_addr(s);
    if (dp_replay_init(s->replay, win_bits) != 0) {
        rte_free(s);
        return NULL;
    }
    s->hash_pos = -1;
    return s;
}

int dp_session_v6(struct dp_session *s)
{
    if (s->v6 != NULL)
        return CR_OK;
    s->v6 = rte_zmalloc("dp_session_v6", sizeof(*s->v6), 0);
    return s->v6 != NULL ? CR_OK : CR_ERR_NOMEM;
}

void dp_session_free(struct dp_session *s)
{
    if (s == NULL)
        return;
    rte_free(s->v6);
    cr_aead_key_wipe(&s->rd_key);
    cr_aead_key_wipe(&s->wr_key);
    s->wr_seq = 0;
    if (s->reserve != NULL)
        rte_mempool_put(s->reserve, s);
    else
        rte_free(s);
}

int dp_sess_table_reserve(struct dp_sess_table *t, uint32_t win_bits)
{
    size_t sz = dp_session_memsize(win_bits);
    if (t == NULL || sz == 0 || t->reserve != NULL) {
        rte_errno = EINVAL;
        return CR_ERR_INVAL;
    }
    char name[RTE_MEMPOOL_NAMESIZE];
    snprintf(name, sizeof(name), "dp_sess_res_%p", (void *)t);
    uint64_t n = dp_sess_reserve_count(t->max_sessions);
    if (n > UINT32_MAX) {
        rte_errno = EINVAL;
        return CR_ERR_INVAL;
    }
    /* No per-lcore cache: sessions are taken on the handshake lcores and
     * put back on the main lcore (reclaim), so cached objects would
     * strand; the ring behind the pool is multi-producer/consumer.
     * NO_IOVA_CONTIG: no device reads a session, so objects may cross
     * pages (without it each 2.6 KiB session takes a whole 4 KiB page
     * under --no-huge: bench-sessions measured 4.1 KiB per session).
     * NO_SPREAD: without it the mempool pads each object (its header line
     * included) to a number of cache lines coprime with the memory
     * channels times ranks (4 x 1 unless EAL is told: an odd number), to
     * spread objects over the channels; a session with a 256-bit window,
     * 37 lines and the header, was padded from 38 to 39.  Sessions are
     * reached by lookup, never walked in order: the padding buys nothing. */
    t->reserve = rte_mempool_create(
        name, (unsigned)n, (unsigned)RTE_ALIGN_CEIL(sz, RTE_CACHE_LINE_SIZE), 0, 0, NULL, NULL,
        NULL, NULL, rte_socket_id(), RTE_MEMPOOL_F_NO_IOVA_CONTIG | RTE_MEMPOOL_F_NO_SPREAD);
    if (t->reserve == NULL)
        return CR_ERR_NOMEM;
    t->reserve_win_bits = win_bits;
    return CR_OK;
}

size_t dp_sess_reserve_elt_bytes(const struct dp_sess_table *t)
{
    if (t->reserve == NULL)
        return 0;
    return t->reserve->header_size + t->reserve->elt_size + t->reserve->trailer_size;
}

struct dp_session *dp_sess_session_alloc(struct dp_sess_table *t, uint32_t win_bits, int socket_id)
{
    if (t->reserve == NULL)
        return dp_session_alloc(win_bits, socket_id);
    size_t sz = dp_session_memsize(win_bits);
    void *obj;
    if (sz == 0 || win_bits > t->reserve_win_bits || rte_mempool_get(t->reserve, &obj) != 0)
        return NULL;
    struct dp_session *s = memset(obj, 0, sz);
    s->replay = (struct dp_replay *)(uintptr_t)dp_session_replay_addr(s);
    if (dp_replay_init(s->replay, win_bits) != 0) {
        rte_mempool_put(t->reserve, s);
        return NULL;
    }
    s->hash_pos = -1;
    s->reserve = t->reserve;
    return s;
}

static uint32_t pending_max(uint32_t max_sessions)
{
    uint32_t n = max_sessions / DP_SESS_PENDING_DIV;
    if (n < DP_SESS_RECLAIM_BATCH)
        n = max_sessions < DP_SESS_RECLAIM_BATCH ? max_sessions : DP_SESS_RECLAIM_BATCH;
    return n;
}

uint64_t dp_sess_reserve_count(uint32_t max_sessions)
{
    return (uint64_t)max_sessions + pending_max(max_sessions) + DP_SESS_RESERVE_SPARE;
}

/* Pools valid: at most DP_SESS_NAT_POOLS_MAX, DP_SESS_NAT_ADDRS_MAX
 * addresses in all, none wrapping past 255.255.255.255, pairwise disjoint
 * (ranges by subtraction).  The address count, or 0. */
static uint32_t pools_check(const struct dp_nat_pool *pools, unsigned n_pools)
{
    if (n_pools > DP_SESS_NAT_POOLS_MAX || (n_pools != 0 && pools == NULL))
        return 0;
    uint32_t n = 0;
    for (unsigned i = 0; i < n_pools; i++) {
        const struct dp_nat_pool *p = &pools[i];
        if (p->n_addrs > DP_SESS_NAT_ADDRS_MAX - n ||
            (p->n_addrs != 0 && p->n_addrs - 1 > UINT32_MAX - p->first))
            return 0;
        /* [a, a + na) and [b, b + nb) meet iff a - b < nb or b - a < na */
        for (unsigned j = 0; j < i && p->n_addrs != 0; j++)
            if (pools[j].n_addrs != 0 && (p->first - pools[j].first < pools[j].n_addrs ||
                                          pools[j].first - p->first < p->n_addrs))
                return 0;
        n += p->n_addrs;
    }
    return n_pools == 0 ? 1 : n;
}

struct dp_sess_table *dp_sess_table_create(const char *name, uint32_t max_sessions,
                                           unsigned n_readers, int socket_id)
{
    return dp_sess_table_create_nat(name, max_sessions, n_readers, socket_id, NULL, 0, true);
}

struct dp_sess_table *dp_sess_table_create_nat(const char *name, uint32_t max_sessions,
                                               unsigned n_readers, int socket_id,
                                               const struct dp_nat_pool *pools, unsigned n_pools,
                                               bool ipv6)
{
    uint32_t n_addrs = pools_check(pools, n_pools);
    if (max_sessions == 0 || n_readers == 0 || n_readers > RTE_MAX_LCORE || n_addrs == 0) {
        rte_errno = EINVAL;
        return NULL;
    }
    struct dp_sess_table *t =
        rte_zmalloc_socket("dp_sess_table", sizeof(*t), RTE_CACHE_LINE_SIZE, socket_id);
    if (t == NULL) {
        rte_errno = ENOMEM;
        return NULL;
    }
    t->max_sessions = max_sessions;
    t->n_pools = n_pools;
    t->n_nat_addrs = n_addrs;
    for (unsigned i = 0, base = 0; i < n_pools; i++) {
        t->pools[i] = pools[i];
        t->pool_base[i] = base;
        base += pools[i].n_addrs;
    }
    t->max_pending = pending_max(max_sessions);
    struct rte_hash_parameters hp = {
        .name = name,
        .entries = hash_entries(max_sessions), /* live + pending; budget t->max_sessions */
        .key_len = sizeof(struct dp_sess_key),
        .hash_func = rte_hash_crc,
        .hash_func_init_val = 0x9e3779b9,
        .socket_id = socket_id,
        /* Lock-free readers with one writer; implies NO_FREE_ON_DEL, so a
         * deleted key slot (and an emptied extendable bucket) is only
         * recycled by dp_sess_reclaim after the grace period (a reader may
         * still be comparing that key). */
        .extra_flag = HASH_EXTRA_FLAGS,
    };
    t->hash = rte_hash_create(&hp);
    if (t->hash == NULL)
        goto fail;
    /* The IPv6 table: same parameters, 40-byte key, its own name, the
     * smallest size without IPv6. */
    char name6[RTE_HASH_NAMESIZE];
    snprintf(name6, sizeof(name6), "%.*s6", RTE_HASH_NAMESIZE - 2, name);
    hp.name = name6;
    hp.key_len = sizeof(struct dp_sess_key6);
    hp.entries = entries6(max_sessions, ipv6);
    t->hash6 = rte_hash_create(&hp);
    if (t->hash6 == NULL)
        goto fail;
    t->nat =
        rte_zmalloc_socket("dp_sess_nat", sizeof(t->nat[0]) * DP_SESS_NAT_PORTS * (size_t)n_addrs,
                           RTE_CACHE_LINE_SIZE, socket_id);
    if (t->nat == NULL)
        goto fail;
    size_t qsz = rte_rcu_qsbr_get_memsize(n_readers);
    t->qsbr = rte_zmalloc_socket("dp_sess_qsbr", qsz, RTE_CACHE_LINE_SIZE, socket_id);
    if (t->qsbr == NULL || rte_rcu_qsbr_init(t->qsbr, n_readers) != 0)
        goto fail;
    return t;
fail:
    if (rte_errno == 0)
        rte_errno = ENOMEM;
    rte_hash_free(t->hash);
    rte_hash_free(t->hash6);
    rte_free(t->nat);
    rte_free(t->qsbr);
    rte_free(t);
    return NULL;
}

struct rte_rcu_qsbr *dp_sess_qsbr(struct dp_sess_table *t)
{
    return t->qsbr;
}

/* n_live and n_pending have one writer (the control plane) and are read
 * from other threads too (DPDK telemetry, gw_telemetry.c): relaxed stores
 * and loads make that race-free; nothing is ordered by them. */
uint32_t dp_sess_count(const struct dp_sess_table *t)
{
    return __atomic_load_n(&t->n_live, __ATOMIC_RELAXED);
}

uint32_t dp_sess_pending(const struct dp_sess_table *t)
{
    return __atomic_load_n(&t->n_pending, __ATOMIC_RELAXED);
}

uint32_t dp_sess_pending_max(const struct dp_sess_table *t)
{
    return t->max_pending;
}

/* The table and key of s (by its client family). */
static inline struct rte_hash *sess_hash(const struct dp_sess_table *t, const struct dp_session *s,
                                         const void **out_key)
{
    if (s->family == DP_AF_V6) {
        *out_key = &s->v6->key6;
        return t->hash6;
    }
    *out_key = &s->key;
    return t->hash;
}

int dp_sess_install(struct dp_sess_table *t, struct dp_session *s)
{
    CR_ENSURE(t != NULL && s != NULL && !s->installed, CR_ERR_INVAL);
    CR_ENSURE(t->n_live < t->max_sessions, CR_ERR_LIMIT);
    /* Every pending session was installed once, so refusing installs here
     * bounds the reclaim queue: removals never grow it past max_pending
     * plus what is live.  A full queue means a reader stopped reporting
     * quiescent states (a stalled worker). */
    CR_ENSURE(t->n_pending < t->max_pending, CR_ERR_BUSY);
    int64_t slot = dp_sess_nat_slot(t, s->nat_ip, s->nat_port);
    CR_ENSURE(slot >= 0, CR_ERR_INVAL);
    CR_ENSURE(__atomic_load_n(&t->nat[slot], __ATOMIC_RELAXED) == NULL, CR_ERR_INVAL);
    CR_ENSURE(s->family == DP_AF_V4 || s->family == DP_AF_V6, CR_ERR_INVAL);
    CR_ENSURE(s->backend_family == DP_AF_V4 || s->backend_family == DP_AF_V6, CR_ERR_INVAL);
    CR_ENSURE(s->v6 != NULL || (s->family == DP_AF_V4 && s->backend_family == DP_AF_V4),
              CR_ERR_INVAL);
    const void *key;
    struct rte_hash *h = sess_hash(t, s, &key);
    CR_ENSURE(rte_hash_lookup(h, key) < 0, CR_ERR_INVAL);
    /* rte_hash_add_key_data publishes the data pointer with release
     * semantics in LF mode, so a reader that finds the key sees every field
     * written above. */
    int32_t pos = rte_hash_add_key_data(h, key, s);
    if (pos == -ENOSPC)
        return CR_ERR_LIMIT;
    CR_ENSURE(pos >= 0, CR_ERR_INVAL);
    s->hash_pos = rte_hash_lookup(h, key);
    /* Release: a worker that loads this pointer (acquire) sees a fully
     * initialized session. */
    __atomic_store_n(&t->nat[slot], s, __ATOMIC_RELEASE);
    s->installed = true;
    __atomic_store_n(&t->n_live, t->n_live + 1, __ATOMIC_RELAXED);
    return CR_OK;
}

void dp_sess_remove(struct dp_sess_table *t, struct dp_session *s, bool send_close)
{
    if (t == NULL || s == NULL || !s->installed)
        return;
    /* Order (each step with release order, so a reader that sees a later
     * step also sees the earlier ones):
     *  1. unpublish s: hash entry and NAT slot, so no new lookup finds it;
     *  2. bump the removal generation: a reader that reads the new
     *     generation (acquire) then looks up the key and cannot find s, so
     *     it can never cache s under the new generation.  Bumping first
     *     left a window: a reader that read the new generation before the
     *     delete found s, cached it under that generation and used it
     *     after the grace period (test-session "remove/reconnect stress");
     *  3. start the grace period (below): a reader that reports quiescent
     *     for its token read the token with acquire order, so it sees the
     *     new generation and drops any pointer to s cached under an older
     *     one (dp_sess_gen). */
    const void *key;
    struct rte_hash *h = sess_hash(t, s, &key);
    int32_t pos = rte_hash_del_key(h, key);
    if (pos >= 0)
        s->hash_pos = pos;
    /* The control plane's port allocator keeps the NAT port itself
     * reserved until reclaim. */
    int64_t slot = dp_sess_nat_slot(t, s->nat_ip, s->nat_port);
    if (slot >= 0 && __atomic_load_n(&t->nat[slot], __ATOMIC_RELAXED) == s)
        __atomic_store_n(&t->nat[slot], NULL, __ATOMIC_RELEASE);
    __atomic_fetch_add(&t->gen, 1, __ATOMIC_RELEASE);
    s->installed = false;
    s->send_close = send_close;
    /* Token after both unpublish steps: a reader that reported quiescent
     * after it can no longer hold s. */
    s->rcu_token = rte_rcu_qsbr_start(t->qsbr);
    s->rcu_next = NULL;
    if (t->pend_tail != NULL)
        t->pend_tail->rcu_next = s;
    else
        t->pend_head = s;
    t->pend_tail = s;
    __atomic_store_n(&t->n_live, t->n_live - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&t->n_pending, t->n_pending + 1, __ATOMIC_RELAXED);
}

unsigned dp_sess_reclaim(struct dp_sess_table *t, dp_sess_reclaim_cb cb, void *arg, bool wait)
{
    unsigned n = 0;
    while (t->pend_head != NULL && (wait || n < DP_SESS_RECLAIM_BATCH)) {
        struct dp_session *s = t->pend_head;
        /* Tokens are monotonic along the FIFO: stop at the first session
         * whose grace period is not over. */
        if (rte_rcu_qsbr_check(t->qsbr, s->rcu_token, wait) != 1)
            break;
        t->pend_head = s->rcu_next;
        if (t->pend_head == NULL)
            t->pend_tail = NULL;
        __atomic_store_n(&t->n_pending, t->n_pending - 1, __ATOMIC_RELAXED);
        if (s->hash_pos >= 0) {
            const void *key;
            rte_hash_free_key_with_position(sess_hash(t, s, &key), s->hash_pos);
        }
        if (cb != NULL)
            cb(s, arg);
        dp_session_free(s);
        n++;
    }
    return n;
}

struct dp_session *dp_sess_iterate(struct dp_sess_table *t, uint32_t *next)
{
    const void *key;
    void *data;
    if ((*next & DP_SESS_ITER_V6) == 0) {
        if (rte_hash_iterate(t->hash, &key, &data, next) >= 0)
            return data;
        *next = DP_SESS_ITER_V6;
    }
    uint32_t n6 = *next & ~DP_SESS_ITER_V6;
    if (rte_hash_iterate(t->hash6, &key, &data, &n6) < 0)
        return NULL;
    *next = n6 | DP_SESS_ITER_V6;
    return data;
}

void dp_sess_table_free(struct dp_sess_table *t)
{
    if (t == NULL)
        return;
    uint32_t it = 0;
    struct dp_session *s;
    /* Remove everything, then reclaim (no reader runs any more). */
    while ((s = dp_sess_iterate(t, &it)) != NULL) {
        dp_sess_remove(t, s, false);
        it = 0;
    }
    (void)dp_sess_reclaim(t, NULL, NULL, true);
    rte_hash_free(t->hash);
    rte_hash_free(t->hash6);
    rte_free(t->nat);
    rte_free(t->qsbr);
    rte_mempool_free(t->reserve); /* every session back in it (caller's rule) */
    rte_free(t);
}

uint64_t dp_sess_gen(const struct dp_sess_table *t)
{
    return __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
}

struct dp_session *dp_sess_lookup(const struct dp_sess_table *t, const struct dp_sess_key *k)
{
    void *data = NULL;
    if (rte_hash_lookup_data(t->hash, k, &data) < 0)
        return NULL;
    return data;
}

struct dp_session *dp_sess_lookup6(const struct dp_sess_table *t, const struct dp_sess_key6 *k)
{
    void *data = NULL;
    if (rte_hash_lookup_data(t->hash6, k, &data) < 0)
        return NULL;
    return data;
}

int64_t dp_sess_nat_slot(const struct dp_sess_table *t, uint32_t addr_be, uint16_t port)
{
    if (t->n_pools == 0)
        return port;
    /* The address index by subtraction from each pool's first address
     * (one compare per pool; a port's pool is usually the first). */
    uint32_t a = rte_be_to_cpu_32(addr_be);
    for (unsigned i = 0; i < t->n_pools; i++) {
        uint32_t off = a - t->pools[i].first;
        if (off < t->pools[i].n_addrs)
            return ((int64_t)(t->pool_base[i] + off) << 16) | port;
    }
    return -1;
}

bool dp_sess_is_nat_addr(const struct dp_sess_table *t, uint32_t addr_be)
{
    return t->n_pools != 0 && dp_sess_nat_slot(t, addr_be, 0) >= 0;
}

const struct dp_nat_pool *dp_sess_nat_pool(const struct dp_sess_table *t, unsigned pi,
                                           uint32_t *out_base)
{
    if (pi >= t->n_pools || t->pools[pi].n_addrs == 0)
        return NULL;
    if (out_base != NULL)
        *out_base = t->pool_base[pi];
    return &t->pools[pi];
}

uint32_t dp_sess_nat_n_addrs(const struct dp_sess_table *t)
{
    return t->n_nat_addrs;
}

struct dp_session *dp_sess_by_nat(const struct dp_sess_table *t, uint32_t dst_addr_be,
                                  uint16_t dst_port)
{
    int64_t slot = dp_sess_nat_slot(t, dst_addr_be, dst_port);
    if (slot < 0)
        return NULL;
    /* Acquire pairs with the release in dp_sess_install. */
    return __atomic_load_n(&t->nat[slot], __ATOMIC_ACQUIRE);
}

void dp_sess_lookup_bulk(const struct dp_sess_table *t, const struct dp_sess_key **keys, unsigned n,
                         struct dp_session **out)
{
    uint64_t hits = 0;
    void *data[RTE_HASH_LOOKUP_BULK_MAX];
    if (n == 0 || n > RTE_HASH_LOOKUP_BULK_MAX ||
        rte_hash_lookup_bulk_data(t->hash, (const void **)keys, n, &hits, data) < 0)
        hits = 0;
    for (unsigned i = 0; i < n; i++)
        out[i] = (hits >> i) & 1 ? data[i] : NULL;
}
