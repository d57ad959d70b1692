/* bench_dataplane.c — bench-dataplane: the gateway's real worker pipeline
 * (dataplane/dp_worker.c: classify → session lookup → replay check → one
 * AEAD batch → replay update → rewrite → TX) on pre-encrypted client
 * records, against the raw ipsec-mb rate for the same records.
 *
 * Per worker lcore: S sessions it owns (installed in the real lock-free
 * session table), R records per session, frames interleaved so that every
 * burst of 32 holds 32 different sessions.  One pass:
 *   untimed — reset the sessions' replay windows; before each burst, copy
 *             its 32 template frames into fresh mbufs (what rte_eth_rx_burst
 *             does right before the worker processes them: mbuf headers
 *             written, data copied in by net_af_packet or DMA'd by the NIC;
 *             the same copy reads the templates the raw burst decrypts);
 *   timed   — dp_worker_process() on bursts of 32, dp_worker_flush() after
 *             each burst (as the worker loop does; TX goes to an in-memory
 *             net_ring port), and draining/freeing the TX ring;
 *   timed   — raw: the same records' decrypt jobs straight to ipsec-mb in
 *             bursts of 32 (nonce and AAD prepared outside the timing, no
 *             tag comparison, out of place).
 * Dataplane and raw bursts alternate; each figure is the median burst over
 * all passes (robust against preemption on a shared host).  Every pass checks that every
 * record was forwarded (the lcore's RX_RECORDS counter) and the first pass
 * checks the forwarded plaintext byte for byte.
 * Each row prints the dataplane and raw cycles per record, their ratio and
 * the overhead: dataplane minus raw cycles per record in the same run, what
 * the gateway spends outside the AEAD (the figure that compares across
 * hosts whose AEAD speeds differ).
 * Workers 1..K run concurrently on K worker lcores (each with its own
 * sessions, as RSS would spread clients).
 *
 * bench-dataplane-profile is the same program on a worker built with
 * DP_PROFILE_STAGES (dp_worker.h): each row is followed by worker 0's
 * cycles per record in each stage (classify, lookup, dispatch, AEAD, post:
 * replay update + rewrite + checksum, TX), means over the timed passes,
 * and their sum outside the AEAD; the rdtsc pairs add ~1 cycle per record
 * per stage, so compare its totals with bench-dataplane's, not across.
 *
 * --handoff (issue 11): instead of the rows above, the hand-off ring path
 * (dp_worker.c handoff()): records of sessions owned by worker 1 arrive at
 * worker 0, which classifies and looks them up and puts them on worker 1's
 * hand-off ring; worker 1 takes them off and runs the pipeline
 * (from_handoff).  Both worker states run on one lcore one after the
 * other, so each part is timed alone (receiver: dp_worker_process +
 * flush on worker 0; owner: ring dequeue + dp_worker_process + flush + TX
 * drain on worker 1) and set against the direct path (worker 1 receiving
 * the same records itself), bursts alternating between passes.  Each row
 * prints the direct and handed-off cycles per record, the extra, and the
 * mean cost per record at the shares of hand-offs that RSS gives in
 * practice.  Which records are handed off (gw_sessions.c: a session's
 * owner is the worker that received its handshake when the client port
 * spreads flows, else round robin): client records arrive by RSS on the
 * client 4-tuple, the same hash as the handshake's, so none are handed off
 * (with a port that does not spread, (W-1)/W are); backend replies arrive
 * by RSS on the backend-side 4-tuple, which has nothing to do with the
 * owner, so (W-1)/W of them are.  For request/reply traffic (one reply per
 * client record) that is (W-1)/(2W) of all records: 25% at W = 2, 37.5%
 * at W = 4, towards 50%.  The client records measured here stand for
 * either direction (the hand-off cost is classify + lookup + enqueue +
 * dequeue, the same for both).
 *
 * Usage: bench-dataplane [EAL options] -- [--json] [--quick]
 *            [--max-workers K] [--sessions S] [--nic-csum] [--size B] [--suite NAME]
 *            [--general] [--passes N] [--handoff] [--ip v4|v6] [--backend-csum-zero]
 * --size / --suite run only that record size / that suite (for profiling
 * one configuration; the measurement itself is unchanged).
 * --general turns the worker's fast paths off (dp_worker_set_fast_paths):
 * every frame takes the general checks, to measure what the fast paths buy.
 * --passes N: N timed passes instead of 25 (a longer run for perf).
 * Every row is run over IPv4 (client and backend, the fast path's case)
 * and over IPv6 (client and backend: the general classify with the IPv6
 * header walk, the IPv6 session table and flow cache, IPv6 rewrite with
 * its mandatory UDP checksum); --ip v4 / --ip v6 runs only one.
 * --backend-csum-zero: the backend port has backend_udp_checksum: false
 * (the config's option for a trusted backend link): the IPv4 datagrams to
 * the backend carry UDP checksum 0; the rest stays in software.
 * --nic-csum models a NIC with checksum offload in both directions: received
 * frames carry "IPv4/UDP checksum good" flags and the worker leaves the TX
 * checksums to the NIC (default: the worker verifies and computes them in
 * software, as on net_af_packet).
 * Without EAL options: --no-pci --no-huge --no-shconf -m 1024 on every CPU.
 * Must not: assert on timings (prints figures only), or change the worker
 * code's behaviour (it calls the same functions the gateway's lcores do).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "bench_raw.h"
#include "cr_aead.h"
#include "dp_addr.h"
#include "dp_counters.h"
#include "dp_port.h"
#include "dp_record.h"
#include "dp_session.h"
#include "dp_worker.h"

#define B_BURST               32
#define B_MAX_WORKERS         32
#define B_SESSIONS_DEFAULT    64 /* per worker */
#define B_RECORDS_PER_SESSION 32
#define B_PASSES              25
#define B_PASSES_QUICK        7
#define B_RING_SIZE           4096
#define B_FRAME_MAX_BYTES     1600
#define B_LISTEN_PORT         4433
#define B_IP(a, b, c, d)                                                                           \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static const unsigned k_sizes[] = {64, 256, 1400};
static const enum cr_aead_alg k_algs[] = {CR_AEAD_AES128_GCM, CR_AEAD_AES128_CCM8};

static struct dp_gw g_gw;
static unsigned g_max_workers, g_sessions = B_SESSIONS_DEFAULT, g_passes = B_PASSES;
static unsigned g_lcores[B_MAX_WORKERS];
static bool g_nic_csum;          /* mark frames as checksum-verified by the NIC */
static bool g_backend_csum_zero; /* backend port: UDP checksum 0 to backends */
static bool g_general;           /* --general: the worker's fast paths off */
static bool g_handoff;           /* --handoff: the hand-off ring path's rows */
static unsigned g_only_size;     /* --size: 0 = every size */
static const char *g_only_suite; /* --suite: NULL = every suite */
static struct rte_ring *g_txr[2][B_MAX_WORKERS + 1];
static bool g_run_v6; /* the IPv6 rows: sessions, frames, checks */
static int g_only_ip; /* --ip: 0 both, 4 or 6 */
/* IPv6 rows: the gateway's client-side / backend-side addresses, the
 * backend; listener 1 and next hop 1 are the IPv6 ones. */
static const uint8_t k_gw6_client[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 1};
static const uint8_t k_gw6_backend[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 1};
static const uint8_t k_backend6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static struct cr_aead_ctx *g_main_ctx;

static void die(const char *what)
{
    fprintf(stderr, "bench-dataplane: %s\n", what);
    exit(1);
}

/* ---- per-worker state ------------------------------------------------------ */

struct bworker {
    unsigned idx;
    struct dp_session **sess; /* g_sessions sessions owned by idx */
    unsigned n_frames;
    uint8_t *frames; /* n_frames * B_FRAME_MAX_BYTES templates */
    uint16_t *frame_len;
    uint8_t *plain; /* expected plaintext per frame */
    /* raw path */
    struct cr_aead_op *ops; /* op per frame (in: template ct) */
    uint8_t (*nonce)[12];
    uint8_t (*aad)[CR_AEAD_AAD_MAX_LEN];
    uint8_t *scratch; /* raw output */
    uint8_t raw_tag[B_BURST][16];
    struct rte_mbuf **mb;
    uint64_t *dp_samples, *raw_samples; /* cycles per burst */
    /* results */
    double dp_cycles, raw_cycles; /* per record, median over passes */
    bool profiled;                /* built with DP_PROFILE_STAGES */
    double prof[DP_PROF_N];       /* per record, mean over the timed passes */
    unsigned errors;
} __rte_cache_aligned;

static struct bworker g_bw[B_MAX_WORKERS];
static unsigned g_run_workers, g_run_size;
static enum cr_aead_alg g_run_alg;
static volatile unsigned g_barrier;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- frames ------------------------------------------------------------------- */

static uint32_t client_ip(unsigned w, unsigned s)
{
    return B_IP(10, 100 + w, (s >> 8) & 255, s & 255);
}

/* The raw path's op for frame f: same record, out of place, nonce/AAD
 * prepared. */
static void raw_op_prepare(struct bworker *bw, unsigned f, const struct cr_aead_op *op, uint8_t *ct)
{
    struct cr_aead_op *ro = &bw->ops[f];
    *ro = *op;
    ro->in = ct;
    ro->out = bw->scratch + (size_t)(f % B_BURST) * 1400;
    if (cr_aead_build_aad(ro, bw->aad[f]) != CR_DTLS_AAD_LEN)
        die("aad");
    cr_aead_build_nonce(ro, bw->nonce[f]);
}

/* Frame f's Ethernet header (the client towards port 0) and its DTLS
 * record at rec (epoch 1, seq, rec_len bytes): pt sealed with the
 * session's client_write key (its rd_key); then the raw path's op. */
static void frame_eth_record(struct bworker *bw, unsigned f, struct dp_session *s, uint64_t seq,
                             unsigned size, const uint8_t *pt, uint16_t ether_type, uint8_t *rec,
                             uint16_t rec_len)
{
    struct rte_ether_hdr *eth =
        (struct rte_ether_hdr *)(bw->frames + (size_t)f * B_FRAME_MAX_BYTES);
    rte_ether_addr_copy(&g_gw.ports[0].mac, &eth->dst_addr);
    rte_ether_addr_copy(&s->client_mac, &eth->src_addr);
    eth->ether_type = rte_cpu_to_be_16(ether_type);
    unsigned nl = s->explicit_nonce_len;
    dp_record_write_hdr(rec, DP_CT_APPLICATION_DATA, 0xfefd, 1, seq, NULL, 0, rec_len);
    uint8_t *expl = rec + DP_REC_HDR_LEN;
    if (nl)
        cr_aead_explicit_nonce(expl, 1, seq);
    struct cr_aead_op op = {.key = &s->rd_key,
                            .in = pt,
                            .out = expl + nl,
                            .tag = expl + nl + size,
                            .len = size,
                            .epoch = 1,
                            .version = 0xfefd,
                            .seq = seq,
                            .explicit_nonce = nl ? expl : NULL,
                            .type = DP_CT_APPLICATION_DATA};
    if (cr_aead_seal_batch(g_main_ctx, &op, 1) != 1)
        die("sealing a template record failed");
    raw_op_prepare(bw, f, &op, expl + nl);
}

/* The IPv6 twin of build_frame: Eth|IPv6|UDP|DTLS record, UDP checksum
 * from DPDK's rte_ipv6_udptcp_cksum. */
static void build_frame6(struct bworker *bw, unsigned f, struct dp_session *s, uint64_t seq,
                         unsigned size, const uint8_t *pt, uint16_t udp_len, uint16_t rec_len)
{
    uint8_t *b = bw->frames + (size_t)f * B_FRAME_MAX_BYTES;
    struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(b + RTE_ETHER_HDR_LEN);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + RTE_ETHER_HDR_LEN + 40);
    memset(ip, 0, 40);
    ip->vtc_flow = rte_cpu_to_be_32(UINT32_C(6) << 28);
    ip->payload_len = rte_cpu_to_be_16(udp_len);
    ip->proto = IPPROTO_UDP;
    ip->hop_limits = 64;
    memcpy(ip->src_addr, s->v6->key6.client_ip, 16);
    memcpy(ip->dst_addr, s->v6->key6.local_ip, 16);
    udp->src_port = s->v6->key6.client_port;
    udp->dst_port = s->v6->key6.local_port;
    udp->dgram_len = rte_cpu_to_be_16(udp_len);
    udp->dgram_cksum = 0;
    frame_eth_record(bw, f, s, seq, size, pt, RTE_ETHER_TYPE_IPV6, b + DP_ETH_IP6_UDP_LEN, rec_len);
    udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
    bw->frame_len[f] = (uint16_t)(DP_ETH_IP6_UDP_LEN + DP_REC_HDR_LEN + rec_len);
}

/* Builds Eth|IPv4|UDP|DTLS record (epoch 1, seq) with the session's
 * client_write key (the session's rd_key) over a patterned payload
 * (IPv6 rows: build_frame6). */
static void build_frame(struct bworker *bw, unsigned f, struct dp_session *s, unsigned si,
                        uint64_t seq, unsigned size)
{
    uint8_t *b = bw->frames + (size_t)f * B_FRAME_MAX_BYTES;
    uint8_t *pt = bw->plain + (size_t)f * 1400;
    for (unsigned i = 0; i < size; i++)
        pt[i] = (uint8_t)(i * 31 + seq * 7 + si);
    unsigned nl = s->explicit_nonce_len, tl = s->tag_len;
    uint16_t rec_len = (uint16_t)(nl + size + tl);
    uint16_t udp_len = (uint16_t)(8 + DP_REC_HDR_LEN + rec_len);
    if (g_run_v6) {
        build_frame6(bw, f, s, seq, size, pt, udp_len, rec_len);
        return;
    }
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(b + RTE_ETHER_HDR_LEN);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + RTE_ETHER_HDR_LEN + 20);
    memset(ip, 0, 20);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(udp_len + 20));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = s->key.client_ip;
    ip->dst_addr = s->key.local_ip;
    udp->src_port = s->key.client_port;
    udp->dst_port = s->key.local_port;
    udp->dgram_len = rte_cpu_to_be_16(udp_len);
    udp->dgram_cksum = 0;
    frame_eth_record(bw, f, s, seq, size, pt, RTE_ETHER_TYPE_IPV4, b + DP_ETH_IP_UDP_LEN, rec_len);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    bw->frame_len[f] = (uint16_t)(DP_ETH_IP_UDP_LEN + DP_REC_HDR_LEN + rec_len);
}

/* ---- sessions ------------------------------------------------------------------ */

static void sessions_install(enum cr_aead_alg alg)
{
    uint8_t key[32], iv[12];
    for (unsigned w = 0; w < g_max_workers; w++) {
        for (unsigned i = 0; i < g_sessions; i++) {
            struct dp_session *s =
                dp_session_alloc(DP_REPLAY_WIN_DEFAULT_BITS, (int)rte_socket_id());
            if (s == NULL)
                die("session alloc");
            for (unsigned k = 0; k < sizeof(key); k++)
                key[k] = (uint8_t)(k * 13 + i * 7 + w);
            for (unsigned k = 0; k < sizeof(iv); k++)
                iv[k] = (uint8_t)(k * 5 + i + w * 3);
            if (cr_aead_key_init(&s->rd_key, g_main_ctx, alg, key, cr_aead_key_len(alg), iv,
                                 cr_aead_fixed_iv_len(alg)) != CR_OK ||
                cr_aead_key_init(&s->wr_key, g_main_ctx, alg, key + 1, cr_aead_key_len(alg), iv,
                                 cr_aead_fixed_iv_len(alg)) != CR_OK)
                die("key init");
            s->key.client_ip = rte_cpu_to_be_32(client_ip(w, i));
            s->key.local_ip = g_gw.ports[0].ip_be;
            s->key.client_port = rte_cpu_to_be_16((uint16_t)(30000 + i));
            s->key.local_port = rte_cpu_to_be_16(B_LISTEN_PORT);
            s->backend_ip = rte_cpu_to_be_32(B_IP(10, 0, 1, 2));
            s->nat_ip = g_gw.ports[1].ip_be;
            s->backend_port = rte_cpu_to_be_16(5683);
            s->nat_port = (uint16_t)(20000 + w * g_sessions + i);
            s->client_port_id = 0;
            s->backend_port_id = 1;
            s->backend_nh = 0;
            s->owner = (uint16_t)w;
            s->epoch = 1;
            s->version = 0xfefd;
            s->listener = 0;
            s->explicit_nonce_len = (uint8_t)cr_aead_explicit_nonce_len(alg);
            s->tag_len = (uint8_t)cr_aead_tag_len(alg);
            struct rte_ether_addr mac = {{0x02, 0, 0, (uint8_t)w, (uint8_t)(i >> 8), (uint8_t)i}};
            s->client_mac = mac;
            s->wr_seq = 1;
            if (g_run_v6) {
                /* client 2001:db8::<w>:<i>, backend over IPv6 too */
                memset(&s->key, 0, sizeof(s->key));
                if (dp_session_v6(s) != 0)
                    die("session alloc");
                s->family = DP_AF_V6;
                memcpy(s->v6->key6.client_ip, k_gw6_client, 16);
                s->v6->key6.client_ip[12] = (uint8_t)w;
                s->v6->key6.client_ip[14] = (uint8_t)(i >> 8);
                s->v6->key6.client_ip[15] = (uint8_t)(i + 2);
                memcpy(s->v6->key6.local_ip, k_gw6_client, 16);
                s->v6->key6.client_port = rte_cpu_to_be_16((uint16_t)(30000 + i));
                s->v6->key6.local_port = rte_cpu_to_be_16(B_LISTEN_PORT);
                s->listener = 1;
                s->backend_family = DP_AF_V6;
                s->backend_ip = s->nat_ip = 0;
                memcpy(s->v6->backend_ip6, k_backend6, 16);
                memcpy(s->v6->nat_ip6, k_gw6_backend, 16);
                s->backend_nh = 1;
            }
            if (dp_sess_install(g_gw.sessions, s) != 0)
                die("session install");
            g_bw[w].sess[i] = s;
        }
    }
}

static void sessions_remove(void)
{
    for (unsigned w = 0; w < g_max_workers; w++)
        for (unsigned i = 0; i < g_sessions; i++)
            dp_sess_remove(g_gw.sessions, g_bw[w].sess[i], false);
    dp_sess_reclaim(g_gw.sessions, NULL, NULL, true);
}

static void frames_build(unsigned size)
{
    for (unsigned w = 0; w < g_max_workers; w++) {
        struct bworker *bw = &g_bw[w];
        unsigned f = 0;
        for (unsigned r = 0; r < B_RECORDS_PER_SESSION; r++)
            for (unsigned i = 0; i < g_sessions; i++, f++)
                build_frame(bw, f, bw->sess[i], i, 1 + r, size);
    }
}

/* ---- raw ipsec-mb path (bench_raw.h, shared with bench/bench_aead.c) ---------- */

static void raw_fill(struct bworker *bw, IMB_JOB *job, unsigned f, unsigned slot)
{
    const struct cr_aead_op *o = &bw->ops[f];
    bench_raw_open_job(job, o->key, o->in, o->out, o->len, bw->nonce[f], bw->aad[f],
                       bw->raw_tag[slot]);
}

static void raw_burst(struct bworker *bw, IMB_MGR *mgr, unsigned f0, unsigned n)
{
    IMB_JOB *jobs[B_BURST];
    if (IMB_GET_NEXT_BURST(mgr, n, jobs) != n)
        die("raw: short burst");
    for (unsigned i = 0; i < n; i++)
        raw_fill(bw, jobs[i], f0 + i, i);
    unsigned done = IMB_SUBMIT_BURST_NOCHECK(mgr, n, jobs);
    while (done < n) {
        unsigned fl = IMB_FLUSH_BURST(mgr, IMB_MAX_JOBS, jobs);
        if (fl == 0)
            break;
        done += fl;
    }
}

static void raw_pass(struct bworker *bw, IMB_MGR *mgr)
{
    for (unsigned f0 = 0; f0 < bw->n_frames; f0 += B_BURST)
        raw_burst(bw, mgr, f0, B_BURST);
}

/* ---- one worker's run ------------------------------------------------------------ */

static unsigned drain_tx(unsigned idx, bool check, struct bworker *bw, unsigned *next_check)
{
    struct rte_mbuf *out[B_BURST * 2];
    unsigned total = 0, n;
    while ((n = rte_ring_dequeue_burst(g_txr[1][idx], (void **)out, RTE_DIM(out), NULL)) > 0) {
        if (check) {
            for (unsigned i = 0; i < n; i++, (*next_check)++) {
                unsigned f = *next_check;
                const uint8_t *d = rte_pktmbuf_mtod(out[i], const uint8_t *);
                unsigned hdr = g_run_v6 ? DP_ETH_IP6_UDP_LEN : DP_ETH_IP_UDP_LEN;
                if (out[i]->data_len != hdr + g_run_size ||
                    memcmp(d + hdr, bw->plain + (size_t)f * 1400, g_run_size) != 0 ||
                    (g_run_v6 && (d[12] != 0x86 || d[13] != 0xdd)))
                    bw->errors++;
            }
        }
        rte_pktmbuf_free_bulk(out, n);
        total += n;
    }
    return total;
}

/* Untimed, right before each timed burst: what rte_eth_rx_burst() does in
 * the gateway's worker loop just before dp_worker_process() — allocate the
 * burst's mbufs, write their headers and copy the frames in (net_af_packet
 * copies from the kernel ring; a DDIO NIC leaves them in the LLC).  The
 * copy also reads the same records' templates that the raw burst then
 * decrypts, so both paths start from the same cache state. */
static void rx_fill(struct bworker *bw, unsigned f0)
{
    if (rte_pktmbuf_alloc_bulk(g_gw.pool, bw->mb + f0, B_BURST) != 0)
        die("mbuf pool too small");
    for (unsigned f = f0; f < f0 + B_BURST; f++) {
        struct rte_mbuf *m = bw->mb[f];
        memcpy(rte_pktmbuf_mtod(m, uint8_t *), bw->frames + (size_t)f * B_FRAME_MAX_BYTES,
               bw->frame_len[f]);
        m->data_len = m->pkt_len = bw->frame_len[f];
        m->port = 0;
        if (g_nic_csum) /* what a NIC with RX checksum offload reports */
            m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    }
}

static int worker_run(void *arg)
{
    struct bworker *bw = arg;
    struct dp_worker *w = dp_worker_new(&g_gw, bw->idx);
    struct cr_aead_ctx *raw_ctx = cr_aead_ctx_new();
    if (w == NULL || raw_ctx == NULL)
        die("worker state");
    if (g_general)
        dp_worker_set_fast_paths(w, false);
    IMB_MGR *mgr = cr_aead_ctx_mgr(raw_ctx);
    unsigned lcore = rte_lcore_id();
    unsigned n_samples = 0, max_samples = g_passes * (bw->n_frames / B_BURST);

    /* raw path warm-up and check on the last burst: output = plaintext,
     * computed tag = the record's tag */
    raw_pass(bw, mgr);
    raw_pass(bw, mgr);
    for (unsigned f = bw->n_frames - B_BURST; f < bw->n_frames; f++) {
        const struct cr_aead_op *o = &bw->ops[f];
        if (memcmp(o->out, bw->plain + (size_t)f * 1400, o->len) != 0 ||
            memcmp(bw->raw_tag[f % B_BURST], o->tag, o->key->tag_len) != 0)
            bw->errors++;
    }

    __atomic_fetch_add(&g_barrier, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&g_barrier, __ATOMIC_ACQUIRE) < g_run_workers)
        rte_pause();

    uint64_t prof0[DP_PROF_N] = {0};
    for (unsigned p = 0; p < g_passes + 1; p++) {
        const uint64_t *pr = dp_worker_profile(w);
        if (p == 1 && pr != NULL) /* the timed passes start */
            memcpy(prof0, pr, sizeof(prof0));
        /* untimed: fresh replay windows, template frames into new mbufs */
        for (unsigned i = 0; i < g_sessions; i++)
            dp_replay_init(bw->sess[i]->replay, DP_REPLAY_WIN_DEFAULT_BITS);
        uint64_t rec0 = dp_counters[lcore].c[DP_CNT_RX_RECORDS];
        bool check = p == 0; /* pass 0: warm-up with byte checks, not timed */
        unsigned next_check = 0, forwarded = 0;

        /* One dataplane burst, then the raw burst of the same records, so
         * both see the same conditions on a shared host. */
        for (unsigned f0 = 0; f0 < bw->n_frames; f0 += B_BURST) {
            rx_fill(bw, f0);
            uint64_t t0 = rte_rdtsc_precise();
            dp_worker_process(w, bw->mb + f0, B_BURST, false);
            dp_worker_flush(w);
            forwarded += drain_tx(bw->idx, check, bw, &next_check);
            uint64_t t1 = rte_rdtsc_precise();
            raw_burst(bw, mgr, f0, B_BURST);
            uint64_t t2 = rte_rdtsc_precise();
            if (p > 0 && n_samples < max_samples) {
                bw->dp_samples[n_samples] = t1 - t0;
                bw->raw_samples[n_samples++] = t2 - t1;
            }
        }
        if (dp_counters[lcore].c[DP_CNT_RX_RECORDS] - rec0 != bw->n_frames ||
            forwarded != bw->n_frames)
            bw->errors++;
    }
    /* median burst: robust against preemption by other work on the host */
    qsort(bw->dp_samples, n_samples, sizeof(uint64_t), cmp_u64);
    qsort(bw->raw_samples, n_samples, sizeof(uint64_t), cmp_u64);
    bw->dp_cycles = (double)bw->dp_samples[n_samples / 2] / B_BURST;
    bw->raw_cycles = (double)bw->raw_samples[n_samples / 2] / B_BURST;
    const uint64_t *pr = dp_worker_profile(w);
    bw->profiled = pr != NULL;
    for (unsigned st = 0; pr != NULL && st < DP_PROF_N; st++)
        bw->prof[st] = (double)(pr[st] - prof0[st]) / ((double)g_passes * bw->n_frames);
    dp_worker_free(w);
    cr_aead_ctx_free(raw_ctx);
    return 0;
}

/* ---- the hand-off ring path (--handoff) ------------------------------------------- */

struct handoff_row {
    double direct, receiver, owner; /* cycles per record, medians of bursts */
    unsigned errors;
};

/* On the calling lcore: worker 0 receives worker 1's sessions' records
 * and hands them off; worker 1 finishes them.  Even passes time the
 * direct path (worker 1 receives), odd passes the hand-off; pass 0 and 1
 * are warm-up (with byte checks). */
static void handoff_run(struct handoff_row *row)
{
    struct bworker *bw = &g_bw[1];
    struct dp_worker *w0 = dp_worker_new(&g_gw, 0), *w1 = dp_worker_new(&g_gw, 1);
    if (w0 == NULL || w1 == NULL)
        die("worker state");
    if (g_general) {
        dp_worker_set_fast_paths(w0, false);
        dp_worker_set_fast_paths(w1, false);
    }
    unsigned lcore = rte_lcore_id();
    unsigned bursts = bw->n_frames / B_BURST, n_d = 0, n_h = 0;
    uint64_t *d = calloc((size_t)g_passes * bursts, sizeof(uint64_t));
    uint64_t *r = calloc((size_t)g_passes * bursts, sizeof(uint64_t));
    uint64_t *o = calloc((size_t)g_passes * bursts, sizeof(uint64_t));
    if (d == NULL || r == NULL || o == NULL)
        die("out of memory");
    row->errors = 0;
    for (unsigned p = 0; p < 2 * (g_passes + 1); p++) {
        bool hand = p & 1, timed = p >= 2, check = p < 2;
        for (unsigned i = 0; i < g_sessions; i++)
            dp_replay_init(bw->sess[i]->replay, DP_REPLAY_WIN_DEFAULT_BITS);
        uint64_t out0 = dp_counters[lcore].c[DP_CNT_HANDOFF_OUT];
        unsigned next_check = 0, forwarded = 0;
        for (unsigned f0 = 0; f0 < bw->n_frames; f0 += B_BURST) {
            rx_fill(bw, f0);
            if (!hand) {
                uint64_t t0 = rte_rdtsc_precise();
                dp_worker_process(w1, bw->mb + f0, B_BURST, false);
                dp_worker_flush(w1);
                forwarded += drain_tx(1, check, bw, &next_check);
                uint64_t t1 = rte_rdtsc_precise();
                if (timed)
                    d[n_d++] = t1 - t0;
                continue;
            }
            struct rte_mbuf *pk[B_BURST];
            uint64_t t0 = rte_rdtsc_precise();
            dp_worker_process(w0, bw->mb + f0, B_BURST, false);
            dp_worker_flush(w0);
            uint64_t t1 = rte_rdtsc_precise();
            unsigned n = rte_ring_dequeue_burst(g_gw.handoff[1], (void **)pk, B_BURST, NULL);
            dp_worker_process(w1, pk, n, true);
            dp_worker_flush(w1);
            forwarded += drain_tx(1, check, bw, &next_check);
            uint64_t t2 = rte_rdtsc_precise();
            if (n != B_BURST)
                row->errors++;
            if (timed) {
                r[n_h] = t1 - t0;
                o[n_h++] = t2 - t1;
            }
        }
        /* every record forwarded; the hand-off passes took the ring */
        if (forwarded != bw->n_frames ||
            dp_counters[lcore].c[DP_CNT_HANDOFF_OUT] - out0 != (hand ? bw->n_frames : 0))
            row->errors++;
    }
    qsort(d, n_d, sizeof(uint64_t), cmp_u64);
    qsort(r, n_h, sizeof(uint64_t), cmp_u64);
    qsort(o, n_h, sizeof(uint64_t), cmp_u64);
    row->direct = (double)d[n_d / 2] / B_BURST;
    row->receiver = (double)r[n_h / 2] / B_BURST;
    row->owner = (double)o[n_h / 2] / B_BURST;
    row->errors += bw->errors;
    free(d);
    free(r);
    free(o);
    dp_worker_free(w0);
    dp_worker_free(w1);
}

static int handoff_rows(bool json)
{
    double hz = (double)rte_get_tsc_hz();
    /* the shares of hand-offs RSS gives request/reply traffic (header) */
    static const struct {
        unsigned w;
        double share;
    } k_shares[] = {{2, 0.25}, {4, 0.375}};
    if (!json)
        printf("%-14s %5s | %9s | %9s %9s %9s | %9s | %s\n", "suite", "size", "direct", "receiver",
               "owner", "handoff", "extra", "cyc/rec at RSS share (W workers)");
    int rc = 0;
    for (size_t a = 0; a < RTE_DIM(k_algs); a++) {
        g_run_alg = k_algs[a];
        if (g_only_suite != NULL && strcmp(g_only_suite, cr_aead_alg_name(g_run_alg)) != 0)
            continue;
        sessions_install(g_run_alg);
        for (size_t si = 0; si < RTE_DIM(k_sizes); si++) {
            g_run_size = k_sizes[si];
            if (g_only_size != 0 && g_only_size != g_run_size)
                continue;
            frames_build(g_run_size);
            g_bw[1].errors = 0;
            struct handoff_row hr;
            handoff_run(&hr);
            double total = hr.receiver + hr.owner, extra = total - hr.direct;
            if (hr.errors) {
                fprintf(stderr,
                        "bench-dataplane: handoff %s %u B: %u pass(es) with records not "
                        "forwarded, not handed off or not byte-exact\n",
                        cr_aead_alg_name(g_run_alg), g_run_size, hr.errors);
                rc = 1;
            }
            if (json) {
                printf("{\"mode\":\"handoff\",\"suite\":\"%s\",\"size\":%u,"
                       "\"direct_cycles\":%.1f,\"receiver_cycles\":%.1f,\"owner_cycles\":%.1f,"
                       "\"handoff_cycles\":%.1f,\"extra_cycles\":%.1f",
                       cr_aead_alg_name(g_run_alg), g_run_size, hr.direct, hr.receiver, hr.owner,
                       total, extra);
                for (size_t k = 0; k < RTE_DIM(k_shares); k++)
                    printf(",\"cycles_at_w%u_share_%.3f\":%.1f", k_shares[k].w, k_shares[k].share,
                           hr.direct + k_shares[k].share * extra);
                printf(",\"ok\":%s}\n", hr.errors ? "false" : "true");
            } else {
                printf("%-14s %5u | %9.1f | %9.1f %9.1f %9.1f | %+9.1f |",
                       cr_aead_alg_name(g_run_alg), g_run_size, hr.direct, hr.receiver, hr.owner,
                       total, extra);
                for (size_t k = 0; k < RTE_DIM(k_shares); k++)
                    printf(" W=%u %.1f%%: %.1f (%.2f Mrec/s)", k_shares[k].w,
                           100 * k_shares[k].share, hr.direct + k_shares[k].share * extra,
                           hz / (hr.direct + k_shares[k].share * extra) / 1e6);
                printf("%s\n", hr.errors ? "  ERRORS" : "");
            }
            fflush(stdout);
        }
        sessions_remove();
    }
    return rc;
}

/* ---- setup ---------------------------------------------------------------------- */

static void ports_create(void)
{
    char name[RTE_RING_NAMESIZE], err[256];
    for (unsigned p = 0; p < 2; p++) {
        struct rte_ring *rx[B_MAX_WORKERS + 1];
        unsigned nq = g_max_workers + 1;
        for (unsigned q = 0; q < nq; q++) {
            snprintf(name, sizeof(name), "bdp_rx%u_%u", p, q);
            rx[q] = rte_ring_create(name, B_RING_SIZE, (int)rte_socket_id(),
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
            snprintf(name, sizeof(name), "bdp_tx%u_%u", p, q);
            g_txr[p][q] = rte_ring_create(name, B_RING_SIZE, (int)rte_socket_id(),
                                          RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (rx[q] == NULL || g_txr[p][q] == NULL)
                die("ring create");
        }
        snprintf(name, sizeof(name), "bdp_port%u", p);
        int id = rte_eth_from_rings(name, rx, nq, g_txr[p], nq, (unsigned)rte_socket_id());
        if (id < 0)
            die("rte_eth_from_rings failed");
        struct dp_port *dp = &g_gw.ports[p];
        dp->port_id = (uint16_t)id;
        dp->ip_be = rte_cpu_to_be_32(p == 0 ? B_IP(10, 0, 0, 1) : B_IP(10, 0, 1, 1));
        dp->prefix_len = p == 0 ? 8 : 24;
        dp->has_ip6 = true;
        dp->prefix6_len = 64;
        memcpy(dp->ip6, p == 0 ? k_gw6_client : k_gw6_backend, 16);
        if (dp_port_init(dp, g_max_workers, g_gw.pool, false, err, sizeof(err)) != 0)
            die(err);
        /* --nic-csum: the NIC fills the TX checksums (checksum_offload on a
         * capable port); net_ring itself offers no offload. */
        dp->tx_csum_offload = g_nic_csum;
        dp->backend_udp_csum_zero = p == 1 && g_backend_csum_zero;
    }
    g_gw.n_ports = 2;
}

static void gw_setup(void)
{
    unsigned frames = g_sessions * B_RECORDS_PER_SESSION;
    unsigned n_mbufs = g_max_workers * (frames + 2 * DP_TXBUF_MAX + 2 * DP_MBUF_CACHE) + 4096;
    g_gw.pool = dp_port_pool_create("bdp_pool", n_mbufs, (int)rte_socket_id());
    if (g_gw.pool == NULL)
        die("mbuf pool (try more memory: -m)");
    g_gw.n_workers = g_max_workers;
    ports_create();
    g_gw.listeners[0].ip_be = g_gw.ports[0].ip_be;
    g_gw.listeners[0].port_be = rte_cpu_to_be_16(B_LISTEN_PORT);
    g_gw.listeners[0].port_idx = 0;
    /* listener 1: the IPv6 rows' */
    g_gw.listeners[1].family = DP_AF_V6;
    memcpy(g_gw.listeners[1].ip6, k_gw6_client, 16);
    g_gw.listeners[1].port_be = rte_cpu_to_be_16(B_LISTEN_PORT);
    g_gw.listeners[1].port_idx = 0;
    g_gw.n_listeners = 2;
    struct rte_ether_addr be_mac = {{0x02, 0xbe, 0, 0, 0, 2}};
    g_gw.nexthops[0].ip_be = rte_cpu_to_be_32(B_IP(10, 0, 1, 2));
    g_gw.nexthops[0].port_idx = 1;
    g_gw.nexthops[0].mac_word = DP_NH_VALID | dp_mac_to_word(&be_mac);
    g_gw.nexthops[1].family = DP_AF_V6;
    memcpy(g_gw.nexthops[1].ip6, k_backend6, 16);
    g_gw.nexthops[1].port_idx = 1;
    g_gw.nexthops[1].mac_word = DP_NH_VALID | dp_mac_to_word(&be_mac);
    g_gw.n_nexthops = 2;
    g_gw.sessions = dp_sess_table_create("bdp_sess", g_max_workers * g_sessions * 2 + 64,
                                         g_max_workers, (int)rte_socket_id());
    if (g_gw.sessions == NULL)
        die("session table");
    if (dp_gw_rings_create(&g_gw) != 0)
        die("rings");
    for (unsigned w = 0; w < g_max_workers; w++) {
        struct bworker *bw = &g_bw[w];
        bw->idx = w;
        bw->n_frames = frames;
        bw->sess = calloc(g_sessions, sizeof(*bw->sess));
        bw->frames = rte_malloc("bdp_frames", (size_t)frames * B_FRAME_MAX_BYTES, 64);
        bw->frame_len = calloc(frames, sizeof(uint16_t));
        bw->plain = rte_malloc("bdp_plain", (size_t)frames * 1400, 64);
        bw->ops = calloc(frames, sizeof(*bw->ops));
        bw->nonce = calloc(frames, sizeof(*bw->nonce));
        bw->aad = calloc(frames, sizeof(*bw->aad));
        bw->scratch = rte_malloc("bdp_scratch", (size_t)B_BURST * 1400, 64);
        bw->mb = calloc(frames, sizeof(*bw->mb));
        bw->dp_samples = calloc((size_t)g_passes * frames / B_BURST, sizeof(uint64_t));
        bw->raw_samples = calloc((size_t)g_passes * frames / B_BURST, sizeof(uint64_t));
        if (!bw->sess || !bw->frames || !bw->frame_len || !bw->plain || !bw->ops || !bw->nonce ||
            !bw->aad || !bw->scratch || !bw->mb || !bw->dp_samples || !bw->raw_samples)
            die("out of memory");
    }
}

int main(int argc, char **argv)
{
    /* EAL options before "--"; defaults when there are none. */
    char *def[16];
    int eal_argc = 0, app_start = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            app_start = i;
            break;
        }
    char pref[64], lcores[32];
    if (app_start <= 1) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(pref, sizeof(pref), "--file-prefix=bench-dataplane");
        snprintf(lcores, sizeof(lcores), "0-%ld", n > 1 ? n - 1 : 0);
        def[eal_argc++] = argv[0];
        def[eal_argc++] = "--no-pci";
        def[eal_argc++] = "--no-huge";
        def[eal_argc++] = "--no-shconf"; /* runs side by side, one runtime dir */
        def[eal_argc++] = "-m";
        def[eal_argc++] = "1024";
        def[eal_argc++] = "--log-level=error";
        def[eal_argc++] = pref;
        def[eal_argc++] = "-l";
        def[eal_argc++] = lcores;
        def[eal_argc] = NULL;
        if (rte_eal_init(eal_argc, def) < 0)
            die("EAL init failed");
    } else if (rte_eal_init(app_start, argv) < 0) {
        die("EAL init failed");
    }

    bool json = false;
    unsigned max_req = B_MAX_WORKERS;
    static const struct option opts[] = {{"json", 0, NULL, 'j'},
                                         {"quick", 0, NULL, 'q'},
                                         {"max-workers", 1, NULL, 'w'},
                                         {"sessions", 1, NULL, 's'},
                                         {"nic-csum", 0, NULL, 'c'},
                                         {"help", 0, NULL, 'h'},
                                         {"size", 1, NULL, 'z'},
                                         {"suite", 1, NULL, 'u'},
                                         {"general", 0, NULL, 'g'},
                                         {"passes", 1, NULL, 'p'},
                                         {"handoff", 0, NULL, 'H'},
                                         {"ip", 1, NULL, 'i'},
                                         {"backend-csum-zero", 0, NULL, 'Z'},
                                         {NULL, 0, NULL, 0}};
    int app_argc = argc - app_start;
    char **app_argv = argv + app_start;
    optind = 1;
    int o;
    while (app_argc > 1 && (o = getopt_long(app_argc, app_argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'j':
            json = true;
            break;
        case 'q':
            g_passes = B_PASSES_QUICK;
            break;
        case 'w':
            max_req = (unsigned)atoi(optarg);
            break;
        case 's':
            g_sessions = (unsigned)atoi(optarg);
            break;
        case 'c':
            g_nic_csum = true;
            break;
        case 'z':
            g_only_size = (unsigned)atoi(optarg);
            break;
        case 'u':
            g_only_suite = optarg;
            break;
        case 'g':
            g_general = true;
            break;
        case 'p':
            g_passes = (unsigned)atoi(optarg);
            break;
        case 'H':
            g_handoff = true;
            break;
        case 'Z':
            g_backend_csum_zero = true;
            break;
        case 'i':
            g_only_ip = strcmp(optarg, "v4") == 0 ? 4 : strcmp(optarg, "v6") == 0 ? 6 : -1;
            if (g_only_ip < 0)
                die("--ip takes v4 or v6");
            break;
        default:
            printf("usage: bench-dataplane [EAL options] -- [--json] [--quick] "
                   "[--max-workers K] [--sessions S] [--nic-csum] [--size B] [--suite NAME] "
                   "[--general] [--passes N] [--handoff] [--ip v4|v6] [--backend-csum-zero]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (g_sessions < 1 || g_sessions > 4096 || max_req < 1 || g_passes < 1 || g_passes > 100000)
        die("bad --sessions / --max-workers / --passes");

    /* Workers run on worker lcores; with none, on the main lcore. */
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc)
    {
        if (g_max_workers < B_MAX_WORKERS && g_max_workers < max_req)
            g_lcores[g_max_workers++] = lc;
    }
    bool on_main = g_max_workers == 0 || g_handoff;
    if (g_handoff) {
        /* two worker states, both on this lcore (see the header) */
        g_lcores[0] = g_lcores[1] = rte_get_main_lcore();
        g_max_workers = 2;
    } else if (on_main) {
        g_lcores[0] = rte_get_main_lcore();
        g_max_workers = 1;
    }
    g_main_ctx = cr_aead_ctx_new();
    if (g_main_ctx == NULL)
        die("aead ctx");
    gw_setup();

    double hz = (double)rte_get_tsc_hz();
    if (!json) {
        printf("bench-dataplane: dp_worker_process on net_ring ports, %u sessions/worker, "
               "%u records/session/pass, %u passes (median burst), checksums %s, "
               "ipsec-mb %s, TSC %.2f GHz\n",
               g_sessions, B_RECORDS_PER_SESSION, g_passes,
               g_nic_csum            ? "by the NIC (RX+TX offload)"
               : g_backend_csum_zero ? "in software, UDP checksum 0 to the backend"
                                     : "in software",
               cr_aead_ctx_arch_name(g_main_ctx), hz / 1e9);
        if (!g_handoff)
            printf("%-14s %2s %5s %7s | %12s %9s | %12s %9s | %6s %9s\n", "suite", "ip", "size",
                   "workers", "rec/s/worker", "cyc/rec", "raw rec/s", "cyc/rec", "ratio",
                   "overhead");
        else
            printf("hand-off ring path: worker 0 receives worker 1's sessions' records and "
                   "hands them off, both on lcore %u (cycles/record, medians)\n",
                   rte_lcore_id());
    }
    if (g_handoff) {
        int hrc = handoff_rows(json);
        rte_eal_cleanup();
        return hrc;
    }
    int rc = 0;
    for (unsigned fam = 0; fam < 2 * RTE_DIM(k_algs); fam++) {
        size_t a = fam % RTE_DIM(k_algs);
        g_run_v6 = fam >= RTE_DIM(k_algs);
        if (g_only_ip != 0 && g_only_ip != (g_run_v6 ? 6 : 4))
            continue;
        g_run_alg = k_algs[a];
        if (g_only_suite != NULL && strcmp(g_only_suite, cr_aead_alg_name(g_run_alg)) != 0)
            continue;
        sessions_install(g_run_alg);
        for (size_t si = 0; si < RTE_DIM(k_sizes); si++) {
            g_run_size = k_sizes[si];
            if (g_only_size != 0 && g_only_size != g_run_size)
                continue;
            frames_build(g_run_size);
            for (unsigned nw = 1; nw <= g_max_workers; nw++) {
                g_run_workers = nw;
                g_barrier = 0;
                for (unsigned w = 0; w < nw; w++)
                    g_bw[w].errors = 0;
                if (on_main) {
                    worker_run(&g_bw[0]);
                } else {
                    for (unsigned w = 0; w < nw; w++)
                        if (rte_eal_remote_launch(worker_run, &g_bw[w], g_lcores[w]) != 0)
                            die("launch");
                    /* sleep rather than spin: the main lcore may share a CPU
                     * with a worker (--lcores 0@0,1@0,2@1) */
                    for (unsigned w = 0; w < nw; w++) {
                        while (rte_eal_get_lcore_state(g_lcores[w]) == RUNNING)
                            usleep(1000);
                        rte_eal_wait_lcore(g_lcores[w]);
                    }
                }
                double dp_cyc = 0, raw_cyc = 0;
                unsigned errors = 0;
                for (unsigned w = 0; w < nw; w++) {
                    dp_cyc += g_bw[w].dp_cycles / nw;
                    raw_cyc += g_bw[w].raw_cycles / nw;
                    errors += g_bw[w].errors;
                }
                double rps = hz / dp_cyc, raw_rps = hz / raw_cyc;
                if (errors) {
                    fprintf(stderr,
                            "bench-dataplane: %s %s %u B %u workers: %u pass(es) with "
                            "records not forwarded or not byte-exact\n",
                            cr_aead_alg_name(g_run_alg), g_run_v6 ? "IPv6" : "IPv4", g_run_size, nw,
                            errors);
                    rc = 1;
                }
                if (json)
                    printf("{\"suite\":\"%s\",\"ip\":\"%s\",\"size\":%u,\"workers\":%u,\"rps_per_"
                           "worker\":%.0f,"
                           "\"raw_rps\":%.0f,\"ratio\":%.3f,\"cycles_per_record\":%.1f,"
                           "\"raw_cycles_per_record\":%.1f,\"overhead_cycles\":%.1f,"
                           "\"csum\":\"%s\",\"ok\":%s}\n",
                           cr_aead_alg_name(g_run_alg), g_run_v6 ? "v6" : "v4", g_run_size, nw, rps,
                           raw_rps, rps / raw_rps, dp_cyc, raw_cyc, dp_cyc - raw_cyc,
                           g_nic_csum            ? "nic"
                           : g_backend_csum_zero ? "sw-backend0"
                                                 : "sw",
                           errors ? "false" : "true");
                else
                    printf("%-14s %2s %5u %7u | %12.0f %9.1f | %12.0f %9.1f | %6.3f %9.1f%s\n",
                           cr_aead_alg_name(g_run_alg), g_run_v6 ? "v6" : "v4", g_run_size, nw, rps,
                           dp_cyc, raw_rps, raw_cyc, rps / raw_rps, dp_cyc - raw_cyc,
                           errors ? "  ERRORS" : "");
                if (g_bw[0].profiled) { /* worker 0's stages, cycles per record */
                    double sum = 0;
                    printf("%s    stages (worker 0, mean cycles/record):", json ? "# " : "");
                    for (unsigned st = 0; st < DP_PROF_N; st++) {
                        printf(" %s %.1f", dp_prof_stage_name((enum dp_prof_stage)st),
                               g_bw[0].prof[st]);
                        sum += g_bw[0].prof[st];
                    }
                    printf(" | sum %.1f, outside the AEAD %.1f\n", sum,
                           sum - g_bw[0].prof[DP_PROF_AEAD]);
                }
                fflush(stdout);
            }
        }
        sessions_remove();
    }
    rte_eal_cleanup();
    return rc;
}
