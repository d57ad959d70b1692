/* dp_session.c — session objects, the lock-free session table, the NAT-port
 * map and their RCU (QSBR) reclamation.
 *
 * Owns: the rte_hashes (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF: readers never
 * block, the single writer is the control plane; `hash` for IPv4 clients,
 * `hash6` for IPv6 clients, each sized max_sessions, n_live bounding their
 * sum), the NAT map (an array of
 * 65536 session pointers indexed by the gateway-side port), the QSBR
 * variable the workers report to, and the FIFO of removed sessions waiting
 * for their grace period.
 * Must not: be written by more than one thread (control plane), free a
 * session or a hash key slot before every reader passed a quiescent state
 * after its removal, or allocate on the reader path.
 */
#include "dp_session.h"

#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "cr_err.h"

struct dp_sess_table {
    struct rte_hash *hash;   /* struct dp_sess_key → session (IPv4 clients) */
    struct rte_hash *hash6;  /* struct dp_sess_key6 → session (IPv6 clients) */
    struct dp_session **nat; /* DP_SESS_NAT_PORTS entries */
    struct rte_rcu_qsbr *qsbr;
    struct dp_session *pend_head; /* removed, waiting for grace period */
    struct dp_session *pend_tail;
    uint32_t n_live;
    uint32_t n_pending;
    uint32_t max_sessions;
    uint32_t max_pending; /* dp_sess_pending_max */
    /* removal generation (dp_sess_gen), read by every worker each burst:
     * its own cache line, written only on removals */
    uint64_t gen __rte_cache_aligned;
};

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
    rte_free(s);
}

struct dp_sess_table *dp_sess_table_create(const char *name, uint32_t max_sessions,
                                           unsigned n_readers, int socket_id)
{
    if (max_sessions < 8 || n_readers == 0 || n_readers > RTE_MAX_LCORE) {
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
    t->max_pending = max_sessions / DP_SESS_PENDING_DIV;
    if (t->max_pending < DP_SESS_RECLAIM_BATCH)
        t->max_pending =
            max_sessions < DP_SESS_RECLAIM_BATCH ? max_sessions : DP_SESS_RECLAIM_BATCH;
    struct rte_hash_parameters hp = {
        .name = name,
        .entries = max_sessions,
        .key_len = sizeof(struct dp_sess_key),
        .hash_func = rte_hash_crc,
        .hash_func_init_val = 0x9e3779b9,
        .socket_id = socket_id,
        /* Lock-free readers with one writer; implies NO_FREE_ON_DEL, so a
         * deleted key slot is only recycled by dp_sess_reclaim after the
         * grace period (a reader may still be comparing that key). */
        .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
    };
    t->hash = rte_hash_create(&hp);
    if (t->hash == NULL)
        goto fail;
    /* The IPv6 table: same parameters, 40-byte key, its own name. */
    char name6[RTE_HASH_NAMESIZE];
    snprintf(name6, sizeof(name6), "%.*s6", RTE_HASH_NAMESIZE - 2, name);
    hp.name = name6;
    hp.key_len = sizeof(struct dp_sess_key6);
    t->hash6 = rte_hash_create(&hp);
    if (t->hash6 == NULL)
        goto fail;
    t->nat = rte_zmalloc_socket("dp_sess_nat", sizeof(t->nat[0]) * DP_SESS_NAT_PORTS,
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
    CR_ENSURE(__atomic_load_n(&t->nat[s->nat_port], __ATOMIC_RELAXED) == NULL, CR_ERR_INVAL);
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
    __atomic_store_n(&t->nat[s->nat_port], s, __ATOMIC_RELEASE);
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
    if (__atomic_load_n(&t->nat[s->nat_port], __ATOMIC_RELAXED) == s)
        __atomic_store_n(&t->nat[s->nat_port], NULL, __ATOMIC_RELEASE);
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

struct dp_session *dp_sess_by_nat(const struct dp_sess_table *t, uint16_t nat_port)
{
    /* Acquire pairs with the release in dp_sess_install. */
    return __atomic_load_n(&t->nat[nat_port], __ATOMIC_ACQUIRE);
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
