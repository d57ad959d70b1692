/* fuzz_classify.c — libFuzzer target for the worker's receive path
 * (dataplane/dp_worker.c: classify, the fast twins, session lookup, replay,
 * record split, AEAD open, NAT, punts, hand-off) on the real pipeline: two
 * net_ring ports, one IPv4 and one IPv6 listener, one installed session, the stateless cookie
 * check of a real engine context as the unknown-peer hook.
 *
 * Input: byte 0 selects how the rest becomes one frame:
 *   bits 0-1  0: a raw frame received on the client-side port;
 *             1: a raw frame received on the backend-side port;
 *             2: records from the session's client: the rest is a list of
 *                [type, seq_lo, seq_hi, len, len bytes]; a type with bit 7
 *                set is written as is (garbage record), otherwise the bytes
 *                are sealed with the client's key (epoch 1), so the fuzzer
 *                gets past authentication; valid Eth/IPv4/UDP around them;
 *             3: a UDP payload from the backend's next hop to the
 *                session's NAT port (valid headers), encrypted to the client;
 *   bit 2     fast paths off (general checks only);
 *   bit 3     delivered as if over the hand-off ring;
 *   bits 4-5  RX offload flags: none, IP+L4 good, L4 bad, IP bad.
 * Checks, beyond "no crash / no sanitizer report":
 *   - every mbuf comes back: after the frame is processed and every TX,
 *     punt and hand-off ring drained, the pool holds what it held before;
 *   - every epoch-1 record the worker sends to the client carries a
 *     sequence number above every earlier one (a nonce is never reused);
 *   - every IPv4 header the worker transmits has a valid checksum, every
 *     IPv6 datagram a valid UDP checksum.
 * State (the session's replay window, its write sequence) carries over from
 * input to input, as on a live gateway.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_counters.h"
#include "dp_ipv6.h"
#include "dp_record.h"
#include "dp_worker.h"
#include "hs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ENSURE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define IP(a, b, c, d) rte_cpu_to_be_32(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define FZ_CLIENT_PORT 5555
#define FZ_NAT_PORT    20000
#define FZ_BACKEND_UDP 7000

static struct dp_gw g;
static struct dp_worker *w;
static struct dp_session *sess;
static struct rte_ring *rx_r[2], *tx_r[2];
static struct dp_port client_sim, backend_sim;
static struct cr_aead_ctx *ref_ctx;
static struct cr_aead_key ref_client;
static struct hs_ctx *hctx;
static uint64_t last_client_seq; /* highest epoch-1 seq sent to the client */
static const struct rte_ether_addr nh_mac = {{0x02, 0, 0, 0, 1, 2}};
static const struct rte_ether_addr cl_mac = {{0x02, 0, 0, 0, 0, 2}};
static const uint8_t k_c[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t k_s[16] = {21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36};
static const uint8_t iv_c[4] = {0xa1, 0xa2, 0xa3, 0xa4};
static const uint8_t iv_s[4] = {0xb1, 0xb2, 0xb3, 0xb4};

static int cookie_hook(void *arg, unsigned li, const struct dp_addr *peer, uint16_t port_be,
                       const uint8_t *d, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    (void)arg;
    (void)li;
    struct hs_peer hp;
    memset(&hp, 0, sizeof(hp));
    memcpy(hp.addr, dp_addr_bytes(peer), dp_addr_len(peer));
    hp.port = rte_be_to_cpu_16(port_be);
    hp.family = dp_addr_is_v6(peer) ? 6 : 4;
    switch (hs_cookie_check(hctx, &hp, d, len, out, cap, out_len)) {
    case HS_COOKIE_DROP:
        *out_len = 0;
        return DP_PEER_DROP;
    case HS_COOKIE_SEND_HVR:
        return DP_PEER_REPLY;
    default:
        return DP_PEER_PUNT;
    }
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz-classify set-up: %s\n", what);
    exit(1);
}

/* The worker lives in DPDK memory, which LeakSanitizer does not scan:
 * free it at exit so what it points to is not reported as leaked. */
static void cleanup(void)
{
    dp_worker_free(w);
    w = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *eal[] = {"fuzz-classify",
                   "--no-shconf",
                   "--file-prefix=fuzz_classify",
                   "--no-huge",
                   "--no-pci",
                   "-m",
                   "256",
                   "-l",
                   "0",
                   "--log-level=error",
                   NULL};
    if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0)
        die("rte_eal_init");
    char err[256];
    g.pool = dp_port_pool_create("fz_pool", 2047, SOCKET_ID_ANY);
    if (g.pool == NULL)
        die("mbuf pool");
    g.n_ports = 2;
    for (int p = 0; p < 2; p++) {
        char name[32];
        snprintf(name, sizeof(name), "fz_rx%d", p);
        rx_r[p] = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "fz_tx%d", p);
        tx_r[p] = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "fz_port%d", p);
        int id = rte_eth_from_rings(name, &rx_r[p], 1, &tx_r[p], 1, SOCKET_ID_ANY);
        if (id < 0)
            die("ring port");
        g.ports[p].port_id = (uint16_t)id;
        g.ports[p].ip_be = p == 0 ? IP(10, 0, 0, 1) : IP(10, 0, 1, 1);
        g.ports[p].prefix_len = 24;
        if (dp_port_init(&g.ports[p], 1, g.pool, false, err, sizeof(err)) != 0)
            die(err);
    }
    /* IPv6 beside IPv4: 2001:db8::1 on port 0 (listener 1 on it),
     * 2001:db8:1::1 on port 1 */
    for (int p = 0; p < 2; p++) {
        static const uint8_t a6[2][16] = {{0x20, 0x01, 0x0d, 0xb8, [15] = 1},
                                          {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1}};
        g.ports[p].has_ip6 = true;
        g.ports[p].prefix6_len = 64;
        memcpy(g.ports[p].ip6, a6[p], 16);
        dp_ipv6_link_local_from_mac(g.ports[p].mac.addr_bytes, g.ports[p].ip6_ll);
    }
    g.n_listeners = 2;
    g.listeners[0].ip_be = IP(10, 0, 0, 1);
    g.listeners[0].port_be = rte_cpu_to_be_16(4433);
    g.listeners[0].port_idx = 0;
    g.listeners[1].family = DP_AF_V6;
    memcpy(g.listeners[1].ip6, g.ports[0].ip6, 16);
    g.listeners[1].port_be = rte_cpu_to_be_16(4433);
    g.listeners[1].port_idx = 0;
    g.n_nexthops = 1;
    g.nexthops[0].ip_be = IP(10, 0, 1, 2);
    g.nexthops[0].port_idx = 1;
    g.nexthops[0].mac_word = dp_mac_to_word(&nh_mac) | DP_NH_VALID;
    g.sessions = dp_sess_table_create("fz_sess", 64, 2, SOCKET_ID_ANY);
    g.n_workers = 2; /* a hand-off ring to a second worker exists */
    if (g.sessions == NULL || dp_gw_rings_create(&g) != 0)
        die("session table / rings");
    g.n_workers = 1;

    struct hs_params hp;
    hs_params_default(&hp);
    hctx = hs_ctx_new(&hp, hs_creds_new());
    if (hctx == NULL)
        die("hs_ctx_new");
    g.unknown_peer = cookie_hook;

    ref_ctx = cr_aead_ctx_new();
    if (ref_ctx == NULL ||
        cr_aead_key_init(&ref_client, ref_ctx, CR_AEAD_AES128_GCM, k_c, 16, iv_c, 4) != 0)
        die("reference key");
    sess = dp_session_alloc(256, SOCKET_ID_ANY);
    if (sess == NULL ||
        cr_aead_key_init(&sess->rd_key, ref_ctx, CR_AEAD_AES128_GCM, k_c, 16, iv_c, 4) != 0 ||
        cr_aead_key_init(&sess->wr_key, ref_ctx, CR_AEAD_AES128_GCM, k_s, 16, iv_s, 4) != 0)
        die("session");
    sess->key.client_ip = IP(10, 0, 0, 2);
    sess->key.local_ip = IP(10, 0, 0, 1);
    sess->key.client_port = rte_cpu_to_be_16(FZ_CLIENT_PORT);
    sess->key.local_port = rte_cpu_to_be_16(4433);
    sess->backend_ip = IP(10, 0, 1, 2);
    sess->backend_port = rte_cpu_to_be_16(FZ_BACKEND_UDP);
    sess->nat_ip = IP(10, 0, 1, 1);
    sess->nat_port = FZ_NAT_PORT;
    sess->client_port_id = 0;
    sess->backend_port_id = 1;
    sess->backend_nh = 0;
    sess->owner = 0;
    sess->epoch = 1;
    sess->version = DP_VERSION_DTLS12;
    sess->explicit_nonce_len = 8;
    sess->tag_len = 16;
    sess->wr_seq = 1;
    sess->client_mac = cl_mac;
    if (dp_sess_install(g.sessions, sess) != 0)
        die("install");
    client_sim = g.ports[0];
    client_sim.mac = cl_mac;
    client_sim.tx_csum_offload = false;
    backend_sim = g.ports[1];
    backend_sim.mac = nh_mac;
    backend_sim.tx_csum_offload = false;
    w = dp_worker_new(&g, 0);
    if (w == NULL)
        die("worker");
    atexit(cleanup);
    return 0;
}

/* Seals the record list of mode 2 into m after its headers. */
static bool append_records(struct rte_mbuf *m, const uint8_t *p, size_t n)
{
    while (n >= 4) {
        uint8_t type = p[0];
        uint64_t seq = (uint64_t)p[1] | (uint64_t)p[2] << 8;
        size_t len = p[3];
        p += 4;
        n -= 4;
        if (len > n)
            len = n;
        bool raw = (type & 0x80) != 0;
        uint16_t body = raw ? (uint16_t)len : (uint16_t)(8 + len + 16);
        uint8_t *r = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_REC_HDR_LEN + body));
        if (r == NULL)
            return false;
        type = raw ? (uint8_t)(type & 0x7f) : (uint8_t)(20 + type % 4);
        dp_record_write_hdr(r, type, DP_VERSION_DTLS12, 1, seq, NULL, 0, body);
        if (raw) {
            memcpy(r + DP_REC_HDR_LEN, p, len);
        } else {
            uint8_t *ct = r + DP_REC_HDR_LEN + 8;
            cr_aead_explicit_nonce(r + DP_REC_HDR_LEN, 1, seq);
            memcpy(ct, p, len);
            struct cr_aead_op o;
            memset(&o, 0, sizeof(o));
            o.key = &ref_client;
            o.in = o.out = ct;
            o.tag = ct + len;
            o.len = (uint32_t)len;
            o.epoch = 1;
            o.version = DP_VERSION_DTLS12;
            o.seq = seq;
            o.explicit_nonce = r + DP_REC_HDR_LEN;
            o.type = type;
            FUZZ_ENSURE(cr_aead_seal_batch(ref_ctx, &o, 1) == 1);
        }
        p += len;
        n -= len;
    }
    return true;
}

static struct rte_mbuf *build(const uint8_t *data, size_t size)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    FUZZ_ENSURE(m != NULL);
    unsigned mode = data[0] & 3;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (mode <= 1) {
        size_t room = rte_pktmbuf_tailroom(m);
        if (n > room)
            n = room;
        uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
        FUZZ_ENSURE(d != NULL || n == 0);
        if (n > 0)
            memcpy(d, p, n);
        m->port = (uint16_t)mode;
        return m;
    }
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, DP_ETH_IP_UDP_LEN);
    FUZZ_ENSURE(d != NULL);
    if (mode == 2) {
        if (!append_records(m, p, n)) {
            rte_pktmbuf_free(m);
            return NULL;
        }
        dp_pkt_write_ipv4_udp(m, &client_sim, &g.ports[0].mac, IP(10, 0, 0, 2), IP(10, 0, 0, 1),
                              rte_cpu_to_be_16(FZ_CLIENT_PORT), rte_cpu_to_be_16(4433));
        m->port = 0;
        return m;
    }
    if (n > 1400)
        n = 1400;
    uint8_t *b = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
    FUZZ_ENSURE(b != NULL || n == 0);
    if (n > 0)
        memcpy(b, p, n);
    dp_pkt_write_ipv4_udp(m, &backend_sim, &g.ports[1].mac, IP(10, 0, 1, 2), IP(10, 0, 1, 1),
                          rte_cpu_to_be_16(FZ_BACKEND_UDP), rte_cpu_to_be_16(FZ_NAT_PORT));
    m->port = 1;
    return m;
}

/* A frame the worker transmitted: IPv4 checksum, and to the client the
 * sequence numbers of epoch-1 records only go up. */
static void check_tx(struct rte_mbuf *m, unsigned port)
{
    const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = m->data_len;
    /* IPv6 (a HelloVerifyRequest to an IPv6 peer): a well-formed header
     * and its mandatory UDP checksum right */
    if (len > RTE_ETHER_HDR_LEN && b[12] == 0x86 && b[13] == 0xdd) {
        struct dp_ipv6_view v;
        FUZZ_ENSURE(dp_ipv6_parse(b + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN, &v) ==
                    DP_IPV6_OK);
        if (v.proto == DP_IPPROTO_UDP)
            FUZZ_ENSURE(dp_ipv6_l4_cksum_ok(v.src, v.dst, DP_IPPROTO_UDP,
                                            b + RTE_ETHER_HDR_LEN + v.l4_off, v.l4_len, 6));
        return;
    }
    if (len < DP_ETH_IP_UDP_LEN || b[12] != 0x08 || b[13] != 0x00)
        return;
    const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(b + RTE_ETHER_HDR_LEN);
    uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
    FUZZ_ENSURE(ihl >= 20 && RTE_ETHER_HDR_LEN + ihl <= len);
    FUZZ_ENSURE(rte_raw_cksum(ip, ihl) == 0xffff);
    if (port != 0 || ip->next_proto_id != IPPROTO_UDP || ip->dst_addr != sess->key.client_ip)
        return;
    uint32_t tot = rte_be_to_cpu_16(ip->total_length);
    FUZZ_ENSURE(tot >= ihl + 8 && RTE_ETHER_HDR_LEN + tot <= len);
    const uint8_t *pl = b + RTE_ETHER_HDR_LEN + ihl + 8;
    size_t plen = tot - ihl - 8;
    while (plen >= DP_REC_HDR_LEN) {
        uint16_t epoch = (uint16_t)(pl[3] << 8 | pl[4]);
        uint64_t seq = 0;
        for (int i = 5; i < 11; i++)
            seq = seq << 8 | pl[i];
        size_t rl = (size_t)(pl[11] << 8 | pl[12]);
        if (epoch == 1) {
            FUZZ_ENSURE(seq > last_client_seq || last_client_seq == 0);
            last_client_seq = seq;
        }
        if (DP_REC_HDR_LEN + rl > plen)
            break;
        pl += DP_REC_HDR_LEN + rl;
        plen -= DP_REC_HDR_LEN + rl;
    }
}

static void drain(void)
{
    struct rte_mbuf *out[64];
    unsigned n;
    for (unsigned p = 0; p < 2; p++)
        while ((n = rte_ring_dequeue_burst(tx_r[p], (void **)out, RTE_DIM(out), NULL)) > 0)
            for (unsigned i = 0; i < n; i++) {
                check_tx(out[i], p);
                rte_pktmbuf_free(out[i]);
            }
    struct rte_ring *rs[] = {g.punt[0], g.punt_net[0], g.handoff[0], g.handoff[1]};
    for (unsigned r = 0; r < RTE_DIM(rs); r++)
        while (rs[r] != NULL &&
               (n = rte_ring_dequeue_burst(rs[r], (void **)out, RTE_DIM(out), NULL)) > 0)
            rte_pktmbuf_free_bulk(out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned before = rte_mempool_in_use_count(g.pool);
    struct rte_mbuf *m = build(data, size);
    if (m == NULL)
        return 0;
    static const uint64_t flags[4] = {0, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                                      RTE_MBUF_F_RX_L4_CKSUM_BAD, RTE_MBUF_F_RX_IP_CKSUM_BAD};
    m->ol_flags = flags[(data[0] >> 4) & 3];
    dp_worker_set_fast_paths(w, (data[0] & 4) == 0);
    dp_worker_process(w, &m, 1, (data[0] & 8) != 0);
    dp_worker_flush(w);
    drain();
    FUZZ_ENSURE(rte_mempool_in_use_count(g.pool) == before);
    /* The session's write sequence must never run out in a long run. */
    if (sess->wr_seq > DP_REC_SEQ_MAX - 1000000)
        sess->wr_seq = 1, last_client_seq = 0;
    return 0;
}
