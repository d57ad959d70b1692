/* bench_sessions.c — bench-sessions: what an established session costs in
 * memory, how fast sessions install, and what a session lookup costs as
 * the table grows (the cache-miss curve), on the gateway's real session
 * table (dataplane/dp_session.c: rte_hash in lock-free mode, the NAT map,
 * sessions with their replay windows from rte_malloc).
 *
 * For each size N (default 1k, 100k, 1M; --sizes A,B,..): a table created for
 * --max sessions (default the largest size) with a NAT pool of
 * ceil(--max / 65536) addresses (issue 11), N sessions allocated, keyed (random client address and
 * port), given AES-128-GCM keys both ways and installed; then lookups of
 * installed keys in random order, in bulks of 32 as a worker burst does
 * (dp_sess_lookup_bulk), cycles per lookup as the median of 15 passes over
 * 64k lookups, and the same for the backend side (dp_sess_by_nat of a
 * random session's (pool address, port)); then everything removed and
 * reclaimed.
 * Memory comes from the DPDK heap's own accounting (rte_malloc socket
 * stats: allocated bytes), not from sizeof: the table's fixed part (hash
 * buckets and key store sized for --max, the NAT map, QSBR) divided by
 * --max, and what N installed sessions added, divided by N.
 *
 * The bytes per session are also broken down from the layout (hash entry,
 * session, keys, replay window, rte_malloc's header, NAT slot) against the
 * issue's target of 2.5 KiB.
 *
 * Each size runs twice (--alloc both, the default): sessions from
 * rte_malloc per install, and from the reserve made at start
 * (dp_sess_table_reserve, what the gateway does since issue 11).
 *
 * Usage: bench-sessions [EAL options] -- [--json] [--max N] [--sizes A,B,..]
 *            [--alloc malloc|reserve|both] [--v4-only]
 * --v4-only: the table of a gateway without IPv6 listeners (IPv6
 * backends and ports' address6 allowed): the IPv6 clients' hash at its minimum
 * (DP_SESS_V6_MIN_ENTRIES) instead of sized for --max.
 * Without EAL options: --no-pci --no-huge --no-shconf -m 4096 on CPU 0
 * (1 M sessions take about 3 GiB).
 * Prints figures; asserts nothing about timings.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "cr_aead.h"
#include "dp_replay.h"
#include "dp_session.h"

#define B_MAX_SIZES    8
#define B_LOOKUPS      65536u /* lookups per pass */
#define B_PASSES       15
#define B_BULK         32
#define B_WINDOW_BITS  DP_REPLAY_WIN_DEFAULT_BITS
#define B_KEY_LEN      16 /* AES-128-GCM */
#define B_LOCAL_IP     0x0a000001u
#define B_LOCAL_PORT   4433
#define B_CLIENT_NET   0x0b000000u /* 11.0.0.0/8 */
#define B_NAT_FIRST    0x0a010000u /* 10.1.0.0: the NAT pool's first address */
#define B_TARGET_BYTES 2560        /* issue 11: at most 2.5 KiB per session */

static bool g_ipv6 = true; /* --v4-only: false */
static void die(const char *what)
{
    fprintf(stderr, "bench-sessions: %s\n", what);
    exit(1);
}

static size_t heap_allocated(void)
{
    struct rte_malloc_socket_stats st;
    if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) != 0)
        die("rte_malloc_get_socket_stats");
    return st.heap_allocsz_bytes;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct (client ip, port) for index i: a bijection, so no duplicates. */
static struct dp_sess_key key_of(uint32_t i)
{
    struct dp_sess_key k;
    memset(&k, 0, sizeof(k));
    uint32_t mixed = (i * 2654435761u) & 0xffffffu; /* odd multiplier: bijective mod 2^24 */
    k.client_ip = rte_cpu_to_be_32(B_CLIENT_NET | mixed);
    k.client_port = rte_cpu_to_be_16((uint16_t)(1024 + (i & 0x3ff)));
    k.local_ip = rte_cpu_to_be_32(B_LOCAL_IP);
    k.local_port = rte_cpu_to_be_16(B_LOCAL_PORT);
    return k;
}

struct row {
    uint32_t n;
    double install_per_s, install_cycles;
    double bytes_per_session, fixed_bytes_per_slot;
    double lookup_cycles, nat_cycles;
    double alloc_cycles, keys_cycles, insert_cycles; /* the install's parts */
    double reserve_s;                                /* making the reserve at start */
    uint64_t misses;
};

/* reserve: sessions from the table's reserve made at start
 * (dp_sess_table_reserve, what the gateway does), else rte_malloc per
 * install; B/session is then the reserve's heap bytes over max (its
 * pending and spare headroom included). */
static void run_size(struct cr_aead_ctx *ctx, uint32_t max, uint32_t n, bool reserve, struct row *r)
{
    size_t h0 = heap_allocated();
    const struct dp_nat_pool pool = {.first = B_NAT_FIRST,
                                     .n_addrs = (max + DP_SESS_NAT_PORTS - 1) / DP_SESS_NAT_PORTS};
    struct dp_sess_table *t =
        dp_sess_table_create_nat("bench_sess", max, 1, (int)rte_socket_id(), &pool, 1, g_ipv6);
    if (t == NULL)
        die("dp_sess_table_create (more memory: EAL -m)");
    size_t h1 = heap_allocated();
    uint64_t r0 = rte_rdtsc_precise();
    if (reserve && dp_sess_table_reserve(t, B_WINDOW_BITS) != 0)
        die(rte_strerror(rte_errno)); /* dp_sess_table_reserve: more memory (EAL -m)? */
    r->reserve_s = (double)(rte_rdtsc_precise() - r0) / (double)rte_get_tsc_hz();
    size_t h1r = heap_allocated();
    struct dp_session **ss = calloc(n, sizeof(*ss));
    struct dp_sess_key *keys = calloc(n, sizeof(*keys));
    if (ss == NULL || keys == NULL)
        die("calloc");
    uint8_t key[B_KEY_LEN], iv[4];
    rte_srand(42);
    uint64_t c_alloc = 0, c_keys = 0, c_insert = 0;
    uint64_t t0 = rte_rdtsc_precise();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t a = rte_rdtsc();
        struct dp_session *s = dp_sess_session_alloc(t, B_WINDOW_BITS, (int)rte_socket_id());
        if (s == NULL)
            die("dp_session_alloc (more memory: EAL -m)");
        uint64_t b = rte_rdtsc();
        c_alloc += b - a;
        for (unsigned b = 0; b < sizeof(key); b++)
            key[b] = (uint8_t)rte_rand();
        memcpy(iv, key, sizeof(iv));
        if (cr_aead_key_init(&s->rd_key, ctx, CR_AEAD_AES128_GCM, key, sizeof(key), iv,
                             sizeof(iv)) != 0 ||
            cr_aead_key_init(&s->wr_key, ctx, CR_AEAD_AES128_GCM, key, sizeof(key), iv,
                             sizeof(iv)) != 0)
            die("cr_aead_key_init");
        uint64_t c = rte_rdtsc();
        c_keys += c - b;
        keys[i] = key_of(i);
        s->key = keys[i];
        s->nat_ip = rte_cpu_to_be_32(B_NAT_FIRST + i / DP_SESS_NAT_PORTS);
        s->nat_port = (uint16_t)(i % DP_SESS_NAT_PORTS);
        s->explicit_nonce_len = 8;
        s->tag_len = 16;
        s->epoch = 1;
        if (dp_sess_install(t, s) != 0)
            die("dp_sess_install");
        c_insert += rte_rdtsc() - c;
        ss[i] = s;
    }
    uint64_t t1 = rte_rdtsc_precise();
    size_t h2 = heap_allocated();
    double hz = (double)rte_get_tsc_hz();
    r->n = n;
    r->install_cycles = (double)(t1 - t0) / n;
    r->install_per_s = hz / r->install_cycles;
    r->alloc_cycles = (double)c_alloc / n;
    r->keys_cycles = (double)c_keys / n;
    r->insert_cycles = (double)c_insert / n;
    r->bytes_per_session = reserve ? (double)(h1r - h1) / max : (double)(h2 - h1) / n;
    r->fixed_bytes_per_slot = (double)(h1 - h0) / max;

    /* Lookups of installed keys in random order, bulks of 32. */
    uint32_t *order = malloc(sizeof(uint32_t) * B_LOOKUPS);
    if (order == NULL)
        die("malloc");
    uint64_t samples[B_PASSES];
    r->misses = 0;
    for (unsigned p = 0; p < B_PASSES; p++) {
        for (uint32_t i = 0; i < B_LOOKUPS; i++)
            order[i] = (uint32_t)(rte_rand() % n);
        uint64_t a = rte_rdtsc_precise();
        for (uint32_t i = 0; i < B_LOOKUPS; i += B_BULK) {
            const struct dp_sess_key *kp[B_BULK];
            struct dp_session *out[B_BULK];
            for (unsigned j = 0; j < B_BULK; j++)
                kp[j] = &keys[order[i + j]];
            dp_sess_lookup_bulk(t, kp, B_BULK, out);
            for (unsigned j = 0; j < B_BULK; j++)
                r->misses += out[j] != ss[order[i + j]];
        }
        samples[p] = rte_rdtsc_precise() - a;
    }
    qsort(samples, B_PASSES, sizeof(samples[0]), cmp_u64);
    r->lookup_cycles = (double)samples[B_PASSES / 2] / B_LOOKUPS;
    /* The backend side: one NAT map load per datagram, the (address,
     * port) of random sessions read from a list made beforehand (as the
     * worker reads them from the frame), the session not touched. */
    uint32_t *nat_ip = malloc(sizeof(uint32_t) * B_LOOKUPS);
    uint16_t *nat_port = malloc(sizeof(uint16_t) * B_LOOKUPS);
    struct dp_session **want = malloc(sizeof(*want) * B_LOOKUPS);
    if (nat_ip == NULL || nat_port == NULL || want == NULL)
        die("malloc");
    for (unsigned p = 0; p < B_PASSES; p++) {
        for (uint32_t i = 0; i < B_LOOKUPS; i++) {
            uint32_t k = (uint32_t)(rte_rand() % n);
            nat_ip[i] = rte_cpu_to_be_32(B_NAT_FIRST + k / DP_SESS_NAT_PORTS);
            nat_port[i] = (uint16_t)(k % DP_SESS_NAT_PORTS);
            want[i] = ss[k];
        }
        uint64_t a = rte_rdtsc_precise();
        for (uint32_t i = 0; i < B_LOOKUPS; i++)
            order[i] = dp_sess_by_nat(t, nat_ip[i], nat_port[i]) != want[i];
        samples[p] = rte_rdtsc_precise() - a;
        for (uint32_t i = 0; i < B_LOOKUPS; i++)
            r->misses += order[i];
    }
    free(nat_ip);
    free(nat_port);
    free(want);
    qsort(samples, B_PASSES, sizeof(samples[0]), cmp_u64);
    r->nat_cycles = (double)samples[B_PASSES / 2] / B_LOOKUPS;

    for (uint32_t i = 0; i < n; i++) {
        dp_sess_remove(t, ss[i], false);
        /* no reader thread is registered with the table's QSBR: the
         * grace period ends at once and reclaim frees */
        if ((i & 1023) == 1023)
            (void)dp_sess_reclaim(t, NULL, NULL, true);
    }
    (void)dp_sess_reclaim(t, NULL, NULL, true);
    dp_sess_table_free(t);
    free(order);
    free(ss);
    free(keys);
}

int main(int argc, char **argv)
{
    char *def_argv[] = {argv[0], "--no-pci", "--no-huge",   "--no-shconf",   "-m", "4096",
                        "-l",    "0",        "--log-level", "lib.eal:error", NULL};
    /* Find "--" before rte_eal_init: the EAL overwrites it with the
     * program name (eal_parse_args: argv[optind - 1] = prgname). */
    int dash = 0;
    for (int i = 1; i < argc && dash == 0; i++)
        if (strcmp(argv[i], "--") == 0)
            dash = i;
    int used;
    if (dash > 1)
        used = rte_eal_init(dash + 1, argv);
    else
        used = rte_eal_init((int)RTE_DIM(def_argv) - 1, def_argv);
    if (used < 0)
        die("rte_eal_init");
    argc -= dash;
    argv += dash;

    bool json = false;
    int alloc_mode = 'b'; /* --alloc malloc|reserve|both */
    uint32_t max = 0;     /* the largest size */
    uint32_t sizes[B_MAX_SIZES] = {1000, 100000, 1000000};
    unsigned n_sizes = 3;
    static const struct option lo[] = {
        {"json", no_argument, NULL, 'j'},        {"max", required_argument, NULL, 'm'},
        {"sizes", required_argument, NULL, 's'}, {"alloc", required_argument, NULL, 'a'},
        {"v4-only", no_argument, NULL, '4'},     {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case '4':
            g_ipv6 = false;
            break;
        case 'm':
            max = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            alloc_mode = strcmp(optarg, "malloc") == 0    ? 'm'
                         : strcmp(optarg, "reserve") == 0 ? 'r'
                         : strcmp(optarg, "both") == 0    ? 'b'
                                                          : 0;
            if (alloc_mode == 0) {
                fprintf(stderr, "bench-sessions: --alloc malloc|reserve|both\n");
                return 2;
            }
            break;
        case 's': {
            n_sizes = 0;
            char *save = NULL;
            for (char *tok = strtok_r(optarg, ",", &save); tok && n_sizes < B_MAX_SIZES;
                 tok = strtok_r(NULL, ",", &save))
                sizes[n_sizes++] = (uint32_t)strtoul(tok, NULL, 10);
            break;
        }
        default:
            fprintf(stderr, "usage: bench-sessions [EAL options] -- [--json] [--max N] "
                            "[--sizes A,B,..] [--alloc malloc|reserve|both] [--v4-only]\n");
            return 2;
        }
    }
    uint32_t largest = 0;
    for (unsigned i = 0; i < n_sizes; i++)
        largest = RTE_MAX(largest, sizes[i]);
    if (max == 0)
        max = largest;
    for (unsigned i = 0; i < n_sizes; i++) {
        if (sizes[i] == 0 || sizes[i] > max) {
            fprintf(stderr, "bench-sessions: size %u not in 1..--max (%u)\n", sizes[i], max);
            return 2;
        }
    }
    if ((uint64_t)max > (uint64_t)DP_SESS_NAT_ADDRS_MAX * DP_SESS_NAT_PORTS) {
        fprintf(stderr, "bench-sessions: --max %u over %u NAT pool addresses\n", max,
                DP_SESS_NAT_ADDRS_MAX);
        return 2;
    }
    struct cr_aead_ctx *ctx = cr_aead_ctx_new();
    if (ctx == NULL)
        die("cr_aead_ctx_new");
    double hz = (double)rte_get_tsc_hz();
    if (!json) {
        printf("bench-sessions: dp_sess table for %u sessions, AES-128-GCM keys both ways, "
               "replay window %u bits, ipsec-mb %s, TSC %.2f GHz\n",
               max, B_WINDOW_BITS, cr_aead_ctx_arch_name(ctx), hz / 1e9);
        printf("sizeof: dp_session %zu, cr_aead_key %zu, replay window %zu, hash key %zu\n",
               sizeof(struct dp_session), sizeof(struct cr_aead_key), dp_replay_size(B_WINDOW_BITS),
               sizeof(struct dp_sess_key));
        /* The layout's share of one session (at --max for the table's). */
        struct dp_sess_mem m;
        uint32_t n_addrs = (max + DP_SESS_NAT_PORTS - 1) / DP_SESS_NAT_PORTS;
        dp_sess_table_memsize(max, 1, n_addrs, g_ipv6, &m);
        size_t sess_al = RTE_ALIGN_CEIL(sizeof(struct dp_session), RTE_CACHE_LINE_SIZE);
        size_t keys = 2 * sizeof(struct cr_aead_key);
        size_t win = dp_replay_size(B_WINDOW_BITS);
        size_t hdr = dp_session_alloc_bytes(B_WINDOW_BITS) - dp_session_memsize(B_WINDOW_BITS);
        double hash_b = (double)m.hash_bytes / max, nat_b = (double)m.nat_bytes / max;
        double total = hash_b + (double)(sess_al + win + hdr) + nat_b;
        printf("IPv6 clients' table: %s\n",
               g_ipv6 ? "sized for --max (a gateway with IPv6)"
                      : "at its minimum (--v4-only: a gateway without IPv6 listeners)");
        printf("bytes per session (layout, table sized for %u, NAT map of %u addresses): hash "
               "entry %.1f + session %zu (of which keys %zu = 2 x cr_aead_key, the rest %zu) + "
               "replay window %zu + rte_malloc header %zu + NAT slot %.1f = %.0f; target %d: %s by "
               "%.0f\n",
               max, n_addrs, hash_b, sess_al, keys, sess_al - keys, win, hdr, nat_b, total,
               B_TARGET_BYTES, total <= B_TARGET_BYTES ? "under" : "OVER",
               total <= B_TARGET_BYTES ? B_TARGET_BYTES - total : total - B_TARGET_BYTES);
        printf("%9s %7s | %12s %10s (%7s %7s %7s) | %14s %16s %11s | %12s %9s\n", "sessions",
               "alloc", "installs/s", "cyc/inst", "alloc", "keys", "insert", "B/session",
               "table B/slot", "B total", "lookup cyc", "nat cyc");
    }
    int rc = 0;
    for (unsigned k = 0; k < n_sizes * 2; k++) {
        unsigned i = k / 2;
        bool reserve = k % 2;
        if ((reserve && alloc_mode == 'm') || (!reserve && alloc_mode == 'r'))
            continue;
        struct row r;
        run_size(ctx, max, sizes[i], reserve, &r);
        double total = r.bytes_per_session + r.fixed_bytes_per_slot;
        if (r.misses) {
            fprintf(stderr, "bench-sessions: %" PRIu64 " lookups missed at %u sessions\n", r.misses,
                    r.n);
            rc = 1;
        }
        if (json)
            printf("{\"sessions\":%u,\"alloc\":\"%s\",\"reserve_s\":%.3f,\"max\":%u,\"installs_per_"
                   "s\":%.0f,\"install_cycles\":%.0f,"
                   "\"bytes_per_session\":%.0f,\"table_bytes_per_slot\":%.0f,"
                   "\"bytes_total_per_session\":%.0f,\"lookup_cycles\":%.1f,"
                   "\"nat_lookup_cycles\":%.1f,\"alloc_cycles\":%.0f,\"keys_cycles\":%.0f,"
                   "\"insert_cycles\":%.0f,\"ok\":%s}\n",
                   r.n, reserve ? "reserve" : "malloc", r.reserve_s, max, r.install_per_s,
                   r.install_cycles, r.bytes_per_session, r.fixed_bytes_per_slot, total,
                   r.lookup_cycles, r.nat_cycles, r.alloc_cycles, r.keys_cycles, r.insert_cycles,
                   r.misses ? "false" : "true");
        else
            printf("%9u %7s | %12.0f %10.0f (%7.0f %7.0f %7.0f) | %14.0f %16.0f %11.0f | %12.1f "
                   "%9.1f%s\n",
                   r.n, reserve ? "reserve" : "malloc", r.install_per_s, r.install_cycles,
                   r.alloc_cycles, r.keys_cycles, r.insert_cycles, r.bytes_per_session,
                   r.fixed_bytes_per_slot, total, r.lookup_cycles, r.nat_cycles,
                   r.misses ? "  MISSES" : "");
        if (reserve && !json)
            printf("%9s %7s   (the reserve for %u sessions took %.2f s at start)\n", "", "", max,
                   r.reserve_s);
        fflush(stdout);
    }
    cr_aead_ctx_free(ctx);
    rte_eal_cleanup();
    return rc;
}
