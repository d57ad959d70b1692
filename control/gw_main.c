/* gw_main.c — the dtlsgw process: EAL init, options after `--`, config,
 * ports, worker lcores, control plane on the main lcore, signals, clean
 * stop.
 *
 *   dtlsgw [EAL options] -- --config FILE [options]
 *
 * Owns: process start-up order (... control plane, restore of the state
 * file's sessions, then the workers) and shutdown order (stop RX in the
 * workers, save the live sessions to the state file when configured, else
 * close_notify to them from the control plane, drain, exit 0).
 * Must not: do per-packet work, or leave a DPDK port or hugepage file
 * behind on a clean stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pdump.h>

#include "dp_counters.h"
#include "dp_ipv6.h"
#include "dp_worker.h"
#include "gw_config.h"
#include "gw_cp.h"
#include "gw_cp_priv.h" /* CP_SHARD_RING_SIZE */
#include "gw_restart.h"

#define GW_MAIN_MBUFS_MAX 262143u
#define GW_MAIN_MBUFS_MIN 8191u

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dtlsgw [EAL options] -- [options]\n"
            "\n"
            "DTLS 1.2 gateway: terminates DTLS from clients on the configured listeners\n"
            "and forwards the plaintext datagrams to UDP backends (one NAT port per session).\n"
            "\n"
            "EAL options (DPDK), e.g.:\n"
            "  -l 0-2                      main lcore (control plane) + worker lcores;\n"
            "                              with handshake_lcores: N in the config, the\n"
            "                              N-1 lcores after the main one run handshakes\n"
            "                              and the rest are workers (-l 0-3 with N=2:\n"
            "                              main 0, handshakes 1, workers 2-3)\n"
            "  --no-pci --vdev=net_af_packet0,iface=veth0,qpairs=2\n"
            "  --no-huge -m 512            run without hugepages\n"
            "  --file-prefix NAME          run several instances side by side (and the\n"
            "                              name dpdk-pdump --file-prefix attaches to)\n"
            "\n"
            "Options after --:\n"
            "  -c, --config FILE           YAML configuration (default: built-in defaults)\n"
            "  -s, --stats MS              print counters every MS milliseconds (0: off)\n"
            "      --idle-sleep-us N       sleep N us when an lcore's poll found nothing\n"
            "                              for a while (default %u; 0: busy poll)\n"
            "      --idle-polls N          empty polls before such a sleep (default %u)\n"
            "      --max-sessions N        override the config's max_sessions\n"
            "  -h, --help                  this text\n"
            "\n"
            "Checksums: the gateway writes full IPv4/UDP checksums in software on every\n"
            "frame it sends (or uses NIC TX offload when offered and checksum_offload is\n"
            "on), and verifies received IPv4 and non-zero UDP checksums, except that a\n"
            "client's application-data datagram for a live session skips the UDP check\n"
            "(its AEAD tag protects every byte; a NIC's \"L4 bad\" still drops it).  Kernel\n"
            "peers on a veth need `ethtool -K IF tx off` or their frames carry partial\n"
            "checksums.\n",
            DP_IDLE_SLEEP_US_DEFAULT, DP_IDLE_POLLS_DEFAULT);
}

struct app_opts {
    const char *config;
    long stats_ms;
    long idle_sleep_us;
    long idle_polls;
    long max_sessions;
};

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_app_args(int argc, char **argv, struct app_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"stats", required_argument, NULL, 's'},
        {"idle-sleep-us", required_argument, NULL, 1},
        {"idle-polls", required_argument, NULL, 2},
        {"max-sessions", required_argument, NULL, 3},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 's':
            if (parse_long(optarg, 0, 86400000, &o->stats_ms) != 0) {
                fprintf(stderr, "dtlsgw: --stats: not a number of milliseconds: %s\n", optarg);
                return -1;
            }
            break;
        case 1:
            if (parse_long(optarg, 0, 1000000, &o->idle_sleep_us) != 0) {
                fprintf(stderr, "dtlsgw: --idle-sleep-us: expected 0..1000000: %s\n", optarg);
                return -1;
            }
            break;
        case 2:
            if (parse_long(optarg, 1, 100000000, &o->idle_polls) != 0) {
                fprintf(stderr, "dtlsgw: --idle-polls: expected 1..100000000: %s\n", optarg);
                return -1;
            }
            break;
        case 3:
            if (parse_long(optarg, 1, 16777216, &o->max_sessions) != 0) {
                fprintf(stderr, "dtlsgw: --max-sessions: expected 1..16777216: %s\n", optarg);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "dtlsgw: unknown option (see dtlsgw --help)\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dtlsgw: unexpected argument: %s (see dtlsgw --help)\n", argv[optind]);
        return -1;
    }
    return 0;
}

static void ipv4_str(uint32_t h, char *out, size_t cap)
{
    snprintf(out, cap, "%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
}

/* capture: true (gw_config.h): dpdk-pdump attaches as a secondary
 * process.  rte_pdump_init only registers the multi-process request
 * handler; the RX/TX callbacks that copy packets are installed on the
 * ports when a dpdk-pdump asks and removed when it stops, so the cost is
 * per burst and only while a capture runs.  Returns 0 or -1 (message
 * printed); *out_on says whether rte_pdump_uninit is due at exit. */
static int capture_start(const struct gw_config *cfg, const char *no_shconf_opt, bool *out_on)
{
    char err[GW_ERR_MAX_LEN];
    struct gw_eal_facts eal = {
        .not_primary = rte_eal_process_type() == RTE_PROC_PRIMARY ? NULL : "--proc-type=secondary",
        .no_huge = rte_eal_has_hugepages() ? NULL : "--no-huge",
        .no_shconf = no_shconf_opt,
    };
    *out_on = false;
    if (!cfg->capture)
        return 0;
    if (gw_config_check_capture(cfg, &eal, err, sizeof(err)) < 0) {
        fprintf(stderr, "dtlsgw: config: %s\n", err);
        return -1;
    }
    if (rte_pdump_init() != 0) {
        /* ENOTSUP: the EAL's multi-process channel is off (--no-shconf
         * in a spelling gw_eal_no_shconf_option did not see) */
        fprintf(stderr, "dtlsgw: capture: rte_pdump_init failed: %s%s\n", rte_strerror(rte_errno),
                rte_errno == ENOTSUP ? " (the EAL runs without its shared config: drop "
                                       "--no-shconf / --in-memory)"
                                     : "");
        return -1;
    }
    *out_on = true;
    char dir[GW_PATH_MAX_LEN];
    snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
    printf("dtlsgw: capture: on; e.g. dpdk-pdump --file-prefix %s -- --pdump "
           "'port=0,queue=*,rx-dev=/tmp/p0.pcap,tx-dev=/tmp/p0.pcap' (the backend side's "
           "port carries plaintext)\n",
           basename(dir));
    return 0;
}

static struct dp_gw g_gw;
static struct gw_config g_cfg;
static struct dp_worker_arg g_wargs[DP_MAX_WORKERS];

/* The largest replay window of the listeners: what the session reserve
 * makes room for (gw_sessions.c replay_bits: 0 is the default). */
static uint32_t session_window_bits(const struct gw_config *cfg)
{
    uint32_t win = DP_REPLAY_WIN_MIN_BITS;
    for (unsigned i = 0; i < cfg->n_listeners; i++)
        win =
            RTE_MAX(win, cfg->listeners[i].replay_window_bits ? cfg->listeners[i].replay_window_bits
                                                              : DP_REPLAY_WIN_DEFAULT_BITS);
    return win;
}

/* Issue 11: max_sessions is sized at start.  What the sessions take, in
 * bytes of DPDK memory: the session table (rte_hashes and key stores; the
 * IPv6 clients' one the minimum when the config has no IPv6), the NAT
 * map (65536 slots per pool address), the control plane's peer tables
 * (one per handshake lcore, 2 * (max_sessions + max_handshakes) entries,
 * gw_peers.c) and the session reserve (max_sessions sessions plus those
 * waiting for their grace period, at the largest replay window;
 * dp_sess_table_reserve, made right after).  Against what DPDK can
 * still give: the heap's free bytes on this socket plus the free huge
 * pages it may grow into (none with --no-huge: -m is all there is).
 * 0, or -1 after one line naming max_sessions and both sizes. */
static int check_session_memory(const struct gw_config *cfg, uint32_t max_sessions,
                                unsigned n_readers, uint32_t n_nat_addrs)
{
    struct dp_sess_mem m;
    dp_sess_table_memsize(max_sessions, n_readers, n_nat_addrs, gw_config_has_ipv6_clients(cfg),
                          &m);
    uint32_t win = session_window_bits(cfg);
    uint64_t max_hs = cfg->max_handshakes ? cfg->max_handshakes : GW_DEFAULT_MAX_HANDSHAKES;
    uint64_t shards = cfg->handshake_lcores > 1 ? cfg->handshake_lcores : 1;
    uint64_t peers =
        shards * dp_hash_memsize(2 * ((uint64_t)max_sessions + max_hs), sizeof(struct dp_sess_key));
    uint64_t sess = dp_sess_reserve_count(max_sessions) * dp_session_alloc_bytes(win);
    uint64_t need = m.hash_bytes + m.nat_bytes + m.qsbr_bytes + peers + sess;
    struct rte_malloc_socket_stats st;
    uint64_t avail = 0;
    if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) == 0)
        avail = st.heap_freesz_bytes;
    if (rte_eal_has_hugepages()) {
        /* free 2 MiB / 1 GiB pages the heap may still map (dynamic memory) */
        static const struct {
            const char *path;
            uint64_t bytes;
        } hp[] = {{"/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", 2ull << 20},
                  {"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", 1ull << 30}};
        for (size_t i = 0; i < RTE_DIM(hp); i++) {
            FILE *f = fopen(hp[i].path, "r");
            unsigned long long n = 0;
            if (f != NULL) {
                if (fscanf(f, "%llu", &n) != 1)
                    n = 0;
                fclose(f);
            }
            avail += n * hp[i].bytes;
        }
    }
    printf("dtlsgw: max_sessions %u: %" PRIu64 " MiB of DPDK memory (session table %zu MiB, NAT "
           "map %zu MiB for %u addresses, peer tables %" PRIu64 " MiB, sessions %" PRIu64
           " MiB at %" PRIu64 " bytes each); %" PRIu64 " MiB available\n",
           max_sessions, need >> 20, m.hash_bytes >> 20, m.nat_bytes >> 20, n_nat_addrs,
           peers >> 20, sess >> 20, (uint64_t)dp_session_alloc_bytes(win), avail >> 20);
    if (need <= avail)
        return 0;
    fprintf(stderr,
            "dtlsgw: config: %s:%u: max_sessions: %u needs %" PRIu64
            " MiB of DPDK memory but %" PRIu64
            " MiB are available (heap free on socket %u plus free huge pages): give EAL more "
            "memory (-m, huge pages) or lower max_sessions\n",
            cfg->source[0] ? cfg->source : "defaults", cfg->key_line[GW_TKEY_MAX_SESSIONS],
            max_sessions, need >> 20, avail >> 20, rte_socket_id());
    return -1;
}

int main(int argc, char **argv)
{
    char err[GW_ERR_MAX_LEN];
    struct app_opts o = {
        .config = NULL, .stats_ms = -1, .idle_sleep_us = -1, .idle_polls = -1, .max_sessions = -1};
    struct gw_cp *cp = NULL;
    int rc, ret = 1;
    bool capture_on = false;

    setvbuf(stdout, NULL, _IOLBF, 0); /* log lines in order when piped */
    /* --help works without EAL (EAL's own --help would exit non-zero). */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }

    /* before rte_eal_init, whose getopt may reorder argv */
    const char *no_shconf_opt = gw_eal_no_shconf_option(argc, argv);
    rc = rte_eal_init(argc, argv);
    if (rc < 0) {
        fprintf(stderr,
                "dtlsgw: EAL initialisation failed: %s\n"
                "dtlsgw: check the EAL options before `--` (see dtlsgw --help)\n",
                rte_strerror(rte_errno));
        return 1;
    }
    argc -= rc;
    argv += rc;
    if (parse_app_args(argc, argv, &o) != 0)
        goto out_eal;

    gw_config_default(&g_cfg);
    if (o.config != NULL) {
        rc = gw_config_load(&g_cfg, o.config, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "dtlsgw: config: %s\n", err);
            goto out_eal;
        }
        for (unsigned i = 0; i < g_cfg.n_warnings; i++)
            fprintf(stderr, "dtlsgw: config: warning: %s\n", g_cfg.warnings[i]);
    } else {
        fprintf(stderr, "dtlsgw: no --config given: using the built-in defaults\n");
    }
    if (o.stats_ms >= 0)
        g_cfg.stats_interval_ms = (uint32_t)o.stats_ms;
    if (o.max_sessions > 0)
        g_cfg.max_sessions = (uint32_t)o.max_sessions;
    rc = gw_config_validate(&g_cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "dtlsgw: config: %s\n", err);
        goto out_eal;
    }
    uint64_t nat_slots = gw_config_nat_slots(&g_cfg);
    if (g_cfg.max_sessions > nat_slots && g_cfg.key_line[GW_TKEY_MAX_SESSIONS] != 0)
        fprintf(stderr,
                "dtlsgw: config: warning: %s:%u: max_sessions: %u, but the listeners' nat_ports "
                "over the ports' nat_addresses hold %" PRIu64
                " backend-side (address, port) slots (one per session): at most %" PRIu64
                " sessions\n",
                g_cfg.source, g_cfg.key_line[GW_TKEY_MAX_SESSIONS], g_cfg.max_sessions, nat_slots,
                nat_slots);
    if (capture_start(&g_cfg, no_shconf_opt, &capture_on) != 0)
        goto out_eal;

    struct dp_gw *g = &g_gw;
    unsigned n_lcores = rte_lcore_count();
    /* lcores = the main one (control plane, handshake shard 0) +
     * handshake_lcores - 1 handshake lcores + 1 or more workers */
    unsigned n_hs = g_cfg.handshake_lcores > 1 ? g_cfg.handshake_lcores : 1;
    if (n_hs > 1 && n_lcores < n_hs + 1) {
        fprintf(stderr,
                "dtlsgw: config: %s:%u: handshake_lcores: %u needs at least %u lcores (main + "
                "%u handshake lcore(s) + 1 or more workers); got %u: use e.g. -l 0-%u\n",
                g_cfg.source[0] ? g_cfg.source : "defaults",
                g_cfg.key_line[GW_TKEY_HANDSHAKE_LCORES], n_hs, n_hs + 1, n_hs - 1, n_lcores, n_hs);
        goto out_eal;
    }
    if (n_lcores < 2) {
        fprintf(stderr,
                "dtlsgw: need at least 2 lcores (main = control plane, 1+ workers); "
                "got %u: use e.g. -l 0-1\n",
                n_lcores);
        goto out_eal;
    }
    g->n_workers = n_lcores - n_hs;
    if (g->n_workers > DP_MAX_WORKERS) {
        fprintf(stderr, "dtlsgw: at most %u worker lcores\n", DP_MAX_WORKERS);
        goto out_eal;
    }
    unsigned wi = 0, hi = 0, lc;
    unsigned hs_lcore[GW_MAX_HANDSHAKE_LCORES];
    RTE_LCORE_FOREACH_WORKER(lc)
    {
        if (hi + 1 < n_hs)
            hs_lcore[hi++] = lc;
        else
            g->worker_lcore[wi++] = lc;
    }
    g->idle_sleep_us = o.idle_sleep_us >= 0 ? (uint32_t)o.idle_sleep_us : DP_IDLE_SLEEP_US_DEFAULT;
    g->idle_polls = o.idle_polls > 0 ? (uint32_t)o.idle_polls : DP_IDLE_POLLS_DEFAULT;

    unsigned avail = rte_eth_dev_count_avail();
    if (g_cfg.n_ports > DP_MAX_PORTS) {
        fprintf(stderr, "dtlsgw: at most %u ports\n", DP_MAX_PORTS);
        goto out_eal;
    }
    for (unsigned i = 0; i < g_cfg.n_ports; i++) {
        const struct gw_port_cfg *pc = &g_cfg.ports[i];
        if (!rte_eth_dev_is_valid_port(pc->port_id)) {
            fprintf(stderr,
                    "dtlsgw: config port %s uses DPDK port %u but only %u DPDK "
                    "port(s) exist: add a --vdev (e.g. --vdev=net_af_packet%u,iface=IF) "
                    "or bind a NIC\n",
                    pc->name, pc->port_id, avail, pc->port_id);
            goto out_eal;
        }
        for (unsigned j = 0; j < i; j++)
            if (g_cfg.ports[j].port_id == pc->port_id) {
                fprintf(stderr, "dtlsgw: config ports %s and %s both use DPDK port %u\n",
                        g_cfg.ports[j].name, pc->name, pc->port_id);
                goto out_eal;
            }
    }
    g->n_ports = g_cfg.n_ports;

    unsigned want = g->n_ports * (g->n_workers + 1) * (DP_PORT_RX_DESC + DP_PORT_TX_DESC) +
                    g->n_workers * (DP_RING_PUNT_SIZE + DP_RING_HANDOFF_SIZE + DP_RING_CPTX_SIZE) +
                    (g->n_workers + 1) * (DP_MBUF_CACHE + DP_TXBUF_MAX * DP_MAX_PORTS) +
                    (n_hs - 1) * (2 * CP_SHARD_RING_SIZE + DP_MBUF_CACHE) + 4096;
    unsigned n_mbufs = GW_MAIN_MBUFS_MIN;
    while (n_mbufs < want && n_mbufs < GW_MAIN_MBUFS_MAX)
        n_mbufs = n_mbufs * 2 + 1;
    g->pool = dp_port_pool_create("dgw_mbufs", n_mbufs, (int)rte_socket_id());
    if (g->pool == NULL) {
        fprintf(stderr,
                "dtlsgw: cannot create a pool of %u mbufs: %s (give EAL more "
                "memory, e.g. -m 1024)\n",
                n_mbufs, rte_strerror(rte_errno));
        goto out_eal;
    }

    for (unsigned i = 0; i < g->n_ports; i++) {
        const struct gw_port_cfg *pc = &g_cfg.ports[i];
        struct dp_port *p = &g->ports[i];
        p->port_id = pc->port_id;
        p->ip_be = rte_cpu_to_be_32(pc->ipv4);
        p->prefix_len = pc->prefix_len;
        p->gw_be = rte_cpu_to_be_32(pc->gateway_ipv4);
        p->promiscuous = pc->promiscuous;
        p->backend_udp_csum_zero = !pc->backend_udp_checksum;
        p->has_ip6 = pc->has_ipv6;
        p->prefix6_len = pc->prefix6_len;
        memcpy(p->ip6, pc->ipv6, sizeof(p->ip6));
        if (pc->has_gateway6)
            memcpy(p->gw6, pc->gateway6, sizeof(p->gw6));
        rc = dp_port_init(p, g->n_workers, g->pool, g_cfg.checksum_offload, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "dtlsgw: %s\n", err);
            goto out_ports;
        }
        /* RFC 4291 §2.5.6: the link-local address from the port's MAC
         * (known once the port is up). */
        if (p->has_ip6) {
            dp_ipv6_link_local_from_mac(p->mac.addr_bytes, p->ip6_ll);
            char a6[INET6_ADDRSTRLEN], ll[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, p->ip6, a6, sizeof(a6));
            inet_ntop(AF_INET6, p->ip6_ll, ll, sizeof(ll));
            printf("dtlsgw: port %s IPv6 %s/%u link-local %s\n", pc->name, a6, p->prefix6_len, ll);
        }
        char ip[20];
        ipv4_str(pc->ipv4, ip, sizeof(ip));
        printf("dtlsgw: port %s = DPDK port %u (%s) %s/%u mac " RTE_ETHER_ADDR_PRT_FMT
               " rxq=%u%s txq=%u control-txq=%s csum=%s mtu=%u\n",
               pc->name, p->port_id, p->driver, ip, p->prefix_len, RTE_ETHER_ADDR_BYTES(&p->mac),
               p->n_rxq, p->spread ? " (spread)" : "", p->n_txq,
               p->cp_txq >= 0 ? "own" : "via worker 0", p->tx_csum_offload ? "offload" : "software",
               p->mtu);
    }

    if (g_cfg.n_listeners > DP_MAX_LISTENERS) {
        fprintf(stderr, "dtlsgw: at most %u listeners\n", DP_MAX_LISTENERS);
        goto out_ports;
    }
    for (unsigned i = 0; i < g_cfg.n_listeners; i++) {
        const struct gw_listener_cfg *l = &g_cfg.listeners[i];
        struct dp_listener *dl = &g->listeners[i];
        dl->ip_be = rte_cpu_to_be_32(l->ipv4);
        dl->port_be = rte_cpu_to_be_16(l->udp_port);
        dl->cid_len = l->hs.cid_len;
        dl->family = l->has_ipv6 ? DP_AF_V6 : DP_AF_V4;
        struct dp_addr la = l->has_ipv6 ? dp_addr_v6(l->ipv6) : dp_addr_v4(dl->ip_be);
        struct dp_addr ba = l->backend_is_v6 ? dp_addr_v6(l->backend_ipv6)
                                             : dp_addr_v4(rte_cpu_to_be_32(l->backend_ipv4));
        char ip[DP_ADDR_STR_MAX_BYTES], bip[DP_ADDR_STR_MAX_BYTES];
        dp_addr_port_str(&la, l->udp_port, ip, sizeof(ip));
        dp_addr_port_str(&ba, l->backend_port, bip, sizeof(bip));
        if (l->has_ipv6)
            memcpy(dl->ip6, l->ipv6, sizeof(dl->ip6));
        int pi =
            l->has_ipv6 ? dp_gw_find_port_by_ip6(g, l->ipv6) : dp_gw_find_port_by_ip(g, dl->ip_be);
        if (pi < 0) {
            fprintf(stderr, "dtlsgw: listener %s: address %s is not a port's address\n", l->name,
                    ip);
            goto out_ports;
        }
        dl->port_idx = (uint16_t)pi;
        printf("dtlsgw: listener %s on %s -> backend %s (nat ports %u-%u)\n", l->name, ip, bip,
               l->nat_port_min, l->nat_port_max);
    }
    g->n_listeners = g_cfg.n_listeners;

    uint32_t max_sessions = g_cfg.max_sessions ? g_cfg.max_sessions : DP_SESS_MAX_DEFAULT;
    struct dp_nat_pool pools[DP_SESS_NAT_POOLS_MAX];
    for (unsigned i = 0; i < g->n_ports && i < DP_SESS_NAT_POOLS_MAX; i++) {
        gw_port_nat_pool(&g_cfg.ports[i], &pools[i].first, &pools[i].n_addrs);
        if (pools[i].n_addrs > 1 || pools[i].first != g_cfg.ports[i].ipv4) {
            char a[20], b[20];
            ipv4_str(pools[i].first, a, sizeof(a));
            ipv4_str(pools[i].first + pools[i].n_addrs - 1, b, sizeof(b));
            printf("dtlsgw: port %s: NAT pool %s-%s (%u addresses, %u NAT slots)\n",
                   g_cfg.ports[i].name, a, b, pools[i].n_addrs, pools[i].n_addrs * 65536u);
        }
    }
    uint32_t n_nat_addrs = 0;
    for (unsigned i = 0; i < g->n_ports && i < DP_SESS_NAT_POOLS_MAX; i++)
        n_nat_addrs += pools[i].n_addrs;
    if (check_session_memory(&g_cfg, max_sessions, g->n_workers, n_nat_addrs) != 0)
        goto out_ports;
    g->sessions = dp_sess_table_create_nat(
        "dgw_sessions", max_sessions, g->n_workers, (int)rte_socket_id(), pools,
        RTE_MIN(g->n_ports, (unsigned)DP_SESS_NAT_POOLS_MAX), gw_config_has_ipv6_clients(&g_cfg));
    if (g->sessions == NULL) {
        fprintf(stderr, "dtlsgw: cannot create the session table (%u sessions): %s\n", max_sessions,
                rte_strerror(rte_errno));
        goto out_ports;
    }
    if (dp_sess_table_reserve(g->sessions, session_window_bits(&g_cfg)) != 0) {
        fprintf(stderr,
                "dtlsgw: max_sessions: %u: cannot reserve the sessions' memory at start: %s (give "
                "EAL more memory or lower max_sessions)\n",
                max_sessions, rte_strerror(rte_errno));
        goto out_tables;
    }
    rc = dp_gw_rings_create(g);
    if (rc != 0) {
        fprintf(stderr, "dtlsgw: cannot create rings: %s\n", rte_strerror(-rc));
        goto out_tables;
    }
    rc = gw_cp_create(&cp, &g_cfg, g, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "dtlsgw: %s\n", err);
        goto out_tables;
    }

    /* Hitless restart: the saved sessions go back into the table before
     * any worker reads it (gw_restart.h). */
    gw_restart_restore(cp);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);

    for (unsigned i = 0; i < g->n_workers; i++) {
        g_wargs[i].gw = g;
        g_wargs[i].idx = i;
        rc = rte_eal_remote_launch(dp_worker_main, &g_wargs[i], g->worker_lcore[i]);
        if (rc != 0) {
            fprintf(stderr, "dtlsgw: cannot launch worker %u on lcore %u: %s\n", i,
                    g->worker_lcore[i], rte_strerror(-rc));
            __atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
            rte_eal_mp_wait_lcore();
            goto out_cp;
        }
    }
    /* Handshake lcores after the workers, as the main lcore's own loop:
     * the session table was restored before either reads it. */
    rc = gw_cp_launch_shards(cp, hs_lcore, hi);
    if (rc != 0) {
        fprintf(stderr, "dtlsgw: cannot launch the handshake lcores: %s\n", rte_strerror(-rc));
        __atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
        rte_eal_mp_wait_lcore();
        goto out_cp;
    }
    printf("dtlsgw: running: %u worker(s) on lcores", g->n_workers);
    for (unsigned i = 0; i < g->n_workers; i++)
        printf(" %u", g->worker_lcore[i]);
    printf(", control plane on lcore %u", rte_lcore_id());
    if (hi > 0) {
        printf(", handshakes on lcores %u", rte_lcore_id());
        for (unsigned i = 0; i < hi; i++)
            printf(" %u", hs_lcore[i]);
    }
    printf("; Ctrl-C to stop\n");
    fflush(stdout);

    gw_cp_run(cp, &g_stop);

    if (g_cfg.state_file[0])
        printf("dtlsgw: stopping: %u live session(s) go to the state file %s\n",
               dp_sess_count(g->sessions), g_cfg.state_file);
    else
        printf("dtlsgw: stopping: %u live session(s) get close_notify\n",
               dp_sess_count(g->sessions));
    /* Release: workers stop polling RX and exit their loop. */
    __atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
    rte_eal_mp_wait_lcore();
    gw_cp_shutdown(cp);
    gw_cp_print_stats(cp, stdout, false);
    ret = 0;
out_cp:
    gw_cp_free(cp);
out_tables:
    dp_gw_rings_free(g);
    dp_sess_table_free(g->sessions);
out_ports:
    for (unsigned i = 0; i < g->n_ports; i++)
        dp_port_close(&g->ports[i]);
    if (g->pool != NULL)
        rte_mempool_free(g->pool);
out_eal:
    if (capture_on)
        (void)rte_pdump_uninit(); /* after the ports: no callback runs now */
    rte_eal_cleanup();
    if (ret == 0)
        printf("dtlsgw: stopped\n");
    return ret;
}
