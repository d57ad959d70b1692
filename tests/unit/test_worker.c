/* test_worker.c — CUnit suite for dataplane/dp_worker.c (and dp_port.c):
 * the real worker pipeline on two net_ring ports, checked against an
 * independent reference: records sealed/opened with separately initialized
 * keys, frames parsed by hand, checksums verified, counters by reason.
 * EAL runs without hugepages, PCI or shared config files. */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_random.h>

#include "cu_main.h"
#include "dp_counters.h"
#include "dp_ipv6.h"
#include "dp_record.h"
#include "dp_worker.h"
#include "test_eal.h"

#define IP(a, b, c, d) rte_cpu_to_be_32(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static struct dp_gw g;
static struct dp_worker *w;
static struct cr_aead_ctx *ref_ctx;
static struct cr_aead_key ref_client, ref_server; /* reference copies */
static struct dp_session *sess;
static struct rte_ring *rx_r[2], *tx_r[2];
static struct dp_port client_sim; /* the client's "NIC" */
static const struct rte_ether_addr nh_mac = {{0x02, 0, 0, 0, 1, 2}};
static const struct rte_ether_addr cl_mac = {{0x02, 0, 0, 0, 0, 2}};
static const uint8_t k_c[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t k_s[16] = {21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36};
static const uint8_t iv_c[4] = {0xa1, 0xa2, 0xa3, 0xa4};
static const uint8_t iv_s[4] = {0xb1, 0xb2, 0xb3, 0xb4};

static uint64_t cnt(enum dp_counter_id id)
{
    return dp_counters[rte_lcore_id()].c[id];
}

#define TW_REPLAY_WIN_BITS    256 /* the test sessions' replay windows */
#define TW_SNAP_WIN_MAX_BYTES 256

/* The session's receive state (replay window, record count), saved so
 * that a test can run traffic twice or leave the window as it found it
 * for the later tests' sequence numbers. */
struct sess_snap {
    uint8_t win[TW_SNAP_WIN_MAX_BYTES];
    uint64_t rx_records;
};

static void snap_save(struct sess_snap *sn)
{
    size_t rsz = dp_replay_size(TW_REPLAY_WIN_BITS);
    CU_ASSERT_FATAL(rsz <= sizeof(sn->win));
    memset(sn, 0, sizeof(*sn));
    memcpy(sn->win, sess->replay, rsz);
    sn->rx_records = sess->rx_records;
}

static void snap_restore(const struct sess_snap *sn)
{
    memcpy(sess->replay, sn->win, dp_replay_size(TW_REPLAY_WIN_BITS));
    sess->rx_records = sn->rx_records;
}

static int suite_init(void)
{
    char err[256];
    if (test_eal_init("t_worker", 256) < 0)
        return -1;
    g.pool = dp_port_pool_create("tw_pool", 4095, SOCKET_ID_ANY);
    if (g.pool == NULL)
        return -1;
    g.n_workers = 1;
    g.n_ports = 2;
    for (int p = 0; p < 2; p++) {
        char name[32];
        snprintf(name, sizeof(name), "tw_rx%d", p);
        rx_r[p] = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "tw_tx%d", p);
        tx_r[p] = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "tw_port%d", p);
        int id = rte_eth_from_rings(name, &rx_r[p], 1, &tx_r[p], 1, SOCKET_ID_ANY);
        if (id < 0)
            return -1;
        g.ports[p].port_id = (uint16_t)id;
        g.ports[p].ip_be = p == 0 ? IP(10, 0, 0, 1) : IP(10, 0, 1, 1);
        g.ports[p].prefix_len = 24;
        if (dp_port_init(&g.ports[p], 1, g.pool, false, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    g.n_listeners = 1;
    g.listeners[0].ip_be = IP(10, 0, 0, 1);
    g.listeners[0].port_be = rte_cpu_to_be_16(4433);
    g.listeners[0].port_idx = 0;
    g.n_nexthops = 1;
    g.nexthops[0].ip_be = IP(10, 0, 1, 2);
    g.nexthops[0].port_idx = 1;
    g.nexthops[0].mac_word = dp_mac_to_word(&nh_mac) | DP_NH_VALID;
    g.sessions = dp_sess_table_create("tw_sess", 64, 2, SOCKET_ID_ANY);
    g.n_workers = 2; /* rings for the hand-off test's second worker */
    if (g.sessions == NULL || dp_gw_rings_create(&g) != 0)
        return -1;
    g.n_workers = 1;
    ref_ctx = cr_aead_ctx_new();
    if (ref_ctx == NULL ||
        cr_aead_key_init(&ref_client, ref_ctx, CR_AEAD_AES128_GCM, k_c, 16, iv_c, 4) != 0 ||
        cr_aead_key_init(&ref_server, ref_ctx, CR_AEAD_AES128_GCM, k_s, 16, iv_s, 4) != 0)
        return -1;

    sess = dp_session_alloc(TW_REPLAY_WIN_BITS, SOCKET_ID_ANY);
    if (sess == NULL ||
        cr_aead_key_init(&sess->rd_key, ref_ctx, CR_AEAD_AES128_GCM, k_c, 16, iv_c, 4) != 0 ||
        cr_aead_key_init(&sess->wr_key, ref_ctx, CR_AEAD_AES128_GCM, k_s, 16, iv_s, 4) != 0)
        return -1;
    sess->key.client_ip = IP(10, 0, 0, 2);
    sess->key.local_ip = IP(10, 0, 0, 1);
    sess->key.client_port = rte_cpu_to_be_16(5555);
    sess->key.local_port = rte_cpu_to_be_16(4433);
    sess->backend_ip = IP(10, 0, 1, 2);
    sess->backend_port = rte_cpu_to_be_16(7000);
    sess->nat_ip = IP(10, 0, 1, 1);
    sess->nat_port = 20000;
    sess->client_port_id = 0;
    sess->backend_port_id = 1;
    sess->backend_nh = 0;
    sess->owner = 0;
    sess->epoch = 1;
    sess->version = DP_VERSION_DTLS12;
    sess->explicit_nonce_len = 8;
    sess->tag_len = 16;
    sess->wr_seq = 5;
    sess->client_mac = cl_mac;
    if (dp_sess_install(g.sessions, sess) != 0)
        return -1;
    client_sim = g.ports[0];
    client_sim.mac = cl_mac;
    client_sim.tx_csum_offload = false;
    w = dp_worker_new(&g, 0);
    return w == NULL ? -1 : 0;
}

static int suite_clean(void)
{
    dp_worker_free(w);
    dp_gw_rings_free(&g);
    dp_sess_table_free(g.sessions);
    cr_aead_ctx_free(ref_ctx);
    for (int p = 0; p < 2; p++)
        dp_port_close(&g.ports[p]);
    rte_eal_cleanup();
    return 0;
}

/* ---- frame builders (the reference side) ---------------------------------- */

struct rec_spec {
    uint8_t type;
    uint16_t epoch;
    uint64_t seq;
    const char *text;
};

/* A UDP frame from src to dst carrying the given records; app data records
 * are sealed with the reference client key. */
/* The records alone, after hdr bytes left for the caller's headers. */
static struct rte_mbuf *records_frame(const struct rec_spec *rs, unsigned n, bool tamper,
                                      uint16_t hdr)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, hdr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    for (unsigned i = 0; i < n; i++) {
        uint16_t tl = (uint16_t)strlen(rs[i].text);
        bool enc = rs[i].type == DP_CT_APPLICATION_DATA || rs[i].epoch > 0;
        uint16_t body = enc ? (uint16_t)(8 + tl + 16) : tl;
        uint8_t *r = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(13 + body));
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        dp_record_write_hdr(r, rs[i].type, DP_VERSION_DTLS12, rs[i].epoch, rs[i].seq, NULL, 0,
                            body);
        if (!enc) {
            memcpy(r + 13, rs[i].text, tl);
            continue;
        }
        cr_aead_explicit_nonce(r + 13, rs[i].epoch, rs[i].seq);
        memcpy(r + 21, rs[i].text, tl);
        struct cr_aead_op o;
        memset(&o, 0, sizeof(o));
        o.key = &ref_client;
        o.in = o.out = r + 21;
        o.tag = r + 21 + tl;
        o.len = tl;
        o.epoch = rs[i].epoch;
        o.version = DP_VERSION_DTLS12;
        o.seq = rs[i].seq;
        o.explicit_nonce = r + 13;
        o.type = rs[i].type;
        CU_ASSERT_EQUAL(cr_aead_seal_batch(ref_ctx, &o, 1), 1);
        if (tamper)
            r[21 + tl] ^= 0x01;
    }
    return m;
}

static struct rte_mbuf *client_frame(const struct rec_spec *rs, unsigned n, uint16_t sport,
                                     bool tamper)
{
    struct rte_mbuf *m = records_frame(rs, n, tamper, DP_ETH_IP_UDP_LEN);
    dp_pkt_write_ipv4_udp(m, &client_sim, &g.ports[0].mac, IP(10, 0, 0, 2), IP(10, 0, 0, 1),
                          rte_cpu_to_be_16(sport), rte_cpu_to_be_16(4433));
    m->port = 0;
    return m;
}

static struct rte_mbuf *backend_frame(const char *text, uint16_t sport, uint16_t dport)
{
    struct dp_port be = g.ports[1];
    be.mac = nh_mac;
    size_t tl = strlen(text);
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_IP_UDP_LEN + tl));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    memcpy(d + DP_ETH_IP_UDP_LEN, text, tl);
    dp_pkt_write_ipv4_udp(m, &be, &g.ports[1].mac, IP(10, 0, 1, 2), IP(10, 0, 1, 1),
                          rte_cpu_to_be_16(sport), rte_cpu_to_be_16(dport));
    m->port = 1;
    return m;
}

/* Rewrites the Eth/IPv4/UDP headers (lengths, checksums) of a client
 * frame after its payload was edited. */
static void client_reframe(struct rte_mbuf *m, uint16_t sport)
{
    dp_pkt_write_ipv4_udp(m, &client_sim, &g.ports[0].mac, IP(10, 0, 0, 2), IP(10, 0, 0, 1),
                          rte_cpu_to_be_16(sport), rte_cpu_to_be_16(4433));
}

static void run(struct rte_mbuf *m)
{
    dp_worker_process(w, &m, 1, false);
    dp_worker_flush(w);
}

/* Pops one transmitted frame of port p, or NULL. */
static struct rte_mbuf *sent(int p)
{
    void *o = NULL;
    if (rte_ring_dequeue(tx_r[p], &o) != 0)
        return NULL;
    return o;
}

static unsigned ring_drain(struct rte_ring *r)
{
    void *o;
    unsigned n = 0;
    while (rte_ring_dequeue(r, &o) == 0) {
        rte_pktmbuf_free(o);
        n++;
    }
    return n;
}

/* Checks Eth/IPv4/UDP of a sent frame, returns the UDP payload. */
static const uint8_t *check_udp(struct rte_mbuf *m, const struct rte_ether_addr *dmac, uint32_t sip,
                                uint32_t dip, uint16_t sport, uint16_t dport, uint16_t *out_len)
{
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(b + 14);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + 34);
    /* Frames may start at odd addresses: compare bytes. */
    CU_ASSERT(memcmp(b, dmac->addr_bytes, 6) == 0);
    CU_ASSERT(b[12] == 0x08 && b[13] == 0x00);
    CU_ASSERT_EQUAL(ip->src_addr, sip);
    CU_ASSERT_EQUAL(ip->dst_addr, dip);
    CU_ASSERT_EQUAL(udp->src_port, rte_cpu_to_be_16(sport));
    CU_ASSERT_EQUAL(udp->dst_port, rte_cpu_to_be_16(dport));
    CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->total_length), m->data_len - 14);
    CU_ASSERT_EQUAL(rte_be_to_cpu_16(udp->dgram_len), m->data_len - 34);
    m->ol_flags = 0;
    CU_ASSERT(dp_pkt_ipv4_csum_ok(m, ip));
    CU_ASSERT(udp->dgram_cksum != 0);
    CU_ASSERT(dp_pkt_udp_csum_ok(m, ip, udp));
    /* Same checksums as DPDK's own implementation (independent oracle). */
    uint16_t got_ip = ip->hdr_checksum, got_udp = udp->dgram_cksum;
    ip->hdr_checksum = 0;
    udp->dgram_cksum = 0;
    CU_ASSERT_EQUAL(got_ip, rte_ipv4_cksum(ip));
    CU_ASSERT_EQUAL(got_udp, rte_ipv4_udptcp_cksum(ip, udp));
    ip->hdr_checksum = got_ip;
    udp->dgram_cksum = got_udp;
    *out_len = (uint16_t)(m->data_len - 42);
    return b + 42;
}

static void expect_backend(const char *text)
{
    struct rte_mbuf *m = sent(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint16_t len;
    const uint8_t *p = check_udp(m, &nh_mac, IP(10, 0, 1, 1), IP(10, 0, 1, 2), 20000, 7000, &len);
    CU_ASSERT_EQUAL(len, strlen(text));
    CU_ASSERT(len == strlen(text) && memcmp(p, text, len) == 0);
    rte_pktmbuf_free(m);
}

/* ---- tests ------------------------------------------------------------------- */

/* A port with backend_udp_csum_zero (config backend_udp_checksum: false):
 * the datagram to the backend carries UDP checksum 0 ("no checksum", RFC
 * 768) and a valid IPv4 header checksum, in software and under TX offload
 * (no UDP offload flag); the same port's flag off again gives the full
 * checksum.  Registered last: its sequence numbers (5000000+) move the
 * session's window. */
static void test_backend_csum_zero(void)
{
    struct dp_port *bp = &g.ports[1];
    const bool offload_was = bp->tx_csum_offload;
    for (int offload = 0; offload < 2; offload++) {
        bp->tx_csum_offload = offload != 0;
        bp->backend_udp_csum_zero = true;
        struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 5000000 + (uint64_t)offload, "csum zero"};
        run(client_frame(&r, 1, 5555, false));
        struct rte_mbuf *m = sent(1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
        struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(b + 14);
        struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + 34);
        CU_ASSERT_EQUAL(udp->dgram_cksum, 0);
        CU_ASSERT_EQUAL(m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM, 0);
        if (offload) {
            CU_ASSERT((m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0);
        } else {
            m->ol_flags = 0;
            CU_ASSERT(dp_pkt_ipv4_csum_ok(m, ip));
            uint16_t got_ip = ip->hdr_checksum;
            ip->hdr_checksum = 0;
            CU_ASSERT_EQUAL(got_ip, rte_ipv4_cksum(ip));
        }
        CU_ASSERT_EQUAL(rte_be_to_cpu_16(udp->dgram_len), 8 + strlen("csum zero"));
        CU_ASSERT(memcmp(b + 42, "csum zero", strlen("csum zero")) == 0);
        rte_pktmbuf_free(m);
    }
    bp->tx_csum_offload = false;
    bp->backend_udp_csum_zero = false;
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 5000002, "csum again"};
    run(client_frame(&r, 1, 5555, false));
    expect_backend("csum again");
    bp->tx_csum_offload = offload_was;
}

static void test_forward_one(void)
{
    uint64_t before = cnt(DP_CNT_RX_RECORDS);
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 1, "hello backend"};
    run(client_frame(&r, 1, 5555, false));
    expect_backend("hello backend");
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), before + 1);
    CU_ASSERT_EQUAL(sess->rx_records, 1);
    CU_ASSERT(sess->last_rx_tsc != 0);
}

static void test_replay_and_auth(void)
{
    uint64_t rp = cnt(DP_CNT_DROP_REPLAY), au = cnt(DP_CNT_DROP_AUTH);
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 1, "hello backend"};
    run(client_frame(&r, 1, 5555, false)); /* replay of seq 1 */
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_REPLAY), rp + 1);
    r.seq = 2;
    run(client_frame(&r, 1, 5555, true)); /* bad tag */
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_AUTH), au + 1);
    /* The failed record did not enter the window: seq 2 still accepted. */
    run(client_frame(&r, 1, 5555, false));
    expect_backend("hello backend");
}

static void test_multi_record(void)
{
    uint64_t rp = cnt(DP_CNT_DROP_REPLAY);
    struct rec_spec r[3] = {
        {DP_CT_APPLICATION_DATA, 1, 10, "first"},
        {DP_CT_APPLICATION_DATA, 1, 11, "second record"},
        {DP_CT_APPLICATION_DATA, 1, 11, "dup of 11"},
    };
    run(client_frame(r, 3, 5555, false));
    expect_backend("first");
    expect_backend("second record");
    CU_ASSERT_PTR_NULL(sent(1));
    /* The duplicate inside one datagram is caught after the batch. */
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_REPLAY), rp + 1);
}

/* Two frames of one session in one burst (one AEAD batch): both pass the
 * pre-check, so the window must be checked again after the tags verified.
 * A repeat of the same record is dropped, and so is a record that the
 * other frame's jump moved left of the window. */
static void test_replay_across_frames_in_burst(void)
{
    struct sess_snap start;
    snap_save(&start);
    uint64_t rp = cnt(DP_CNT_DROP_REPLAY);
    uint64_t top = sess->replay->top;
    struct rec_spec a = {DP_CT_APPLICATION_DATA, 1, top + 1, "once"};
    struct rec_spec far = {DP_CT_APPLICATION_DATA, 1, top + 2 + 100000, "far ahead"};
    struct rec_spec near = {DP_CT_APPLICATION_DATA, 1, top + 2, "now too old"};
    struct rte_mbuf *ms[4] = {client_frame(&a, 1, 5555, false), client_frame(&a, 1, 5555, false),
                              client_frame(&far, 1, 5555, false),
                              client_frame(&near, 1, 5555, false)};
    dp_worker_process(w, ms, 4, false);
    dp_worker_flush(w);
    expect_backend("once");
    expect_backend("far ahead");
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_REPLAY), rp + 2);
    snap_restore(&start); /* the later tests' sequence numbers */
}

static void test_burst_many(void)
{
    enum {
        N = 40
    }; /* more than DP_BURST frames in one call */
    struct rte_mbuf *ms[N];
    char texts[N][16];
    for (unsigned i = 0; i < N; i++) {
        snprintf(texts[i], sizeof(texts[i]), "burst %u", i);
        struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 100 + i, texts[i]};
        ms[i] = client_frame(&r, 1, 5555, false);
    }
    dp_worker_process(w, ms, N, false);
    dp_worker_flush(w);
    for (unsigned i = 0; i < N; i++)
        expect_backend(texts[i]);
    CU_ASSERT_PTR_NULL(sent(1));
}

static void test_punts(void)
{
    uint64_t pu = cnt(DP_CNT_PUNT);
    /* Epoch-1 handshake (repeated Finished) and an encrypted alert of a
     * live session, an unknown peer's ClientHello, an ARP frame. */
    struct rec_spec hs = {DP_CT_HANDSHAKE, 1, 200, "finished"};
    run(client_frame(&hs, 1, 5555, false));
    struct rec_spec al = {DP_CT_ALERT, 1, 201, "\x01"};
    run(client_frame(&al, 1, 5555, false));
    struct rec_spec ch = {DP_CT_HANDSHAKE, 0, 0, "clienthello"};
    run(client_frame(&ch, 1, 5556, false));
    struct rec_spec ad = {DP_CT_APPLICATION_DATA, 1, 1, "unknown peer data"};
    run(client_frame(&ad, 1, 5557, false));
    struct rte_mbuf *arp = rte_pktmbuf_alloc(g.pool);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(arp, 60);
    memset(d, 0, 60);
    d[12] = 0x08;
    d[13] = 0x06;
    run(arp);
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu + 5);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 4);
    CU_ASSERT_EQUAL(ring_drain(g.punt_net[0]), 1); /* the ARP frame */
    CU_ASSERT_PTR_NULL(sent(1));
}

/* An ICMP frame to the gateway's client-side address (10.0.0.1). */
static struct rte_mbuf *icmp_frame(void)
{
    struct rec_spec ping = {DP_CT_HANDSHAKE, 0, 0, "echo request body"};
    struct rte_mbuf *m = client_frame(&ping, 1, 7777, false);
    struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, RTE_ETHER_HDR_LEN);
    ip->next_proto_id = IPPROTO_ICMP;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    return m;
}

/* Issue 8 finding 7: ARP and ICMP reach the control plane even while the
 * DTLS punt ring is full (a flood of verified ClientHellos or handshake
 * records); before their own ring they were dropped as DROP_PUNT_FULL. */
static void test_punt_net_apart(void)
{
    static int filler;
    void *fill[64];
    for (unsigned i = 0; i < RTE_DIM(fill); i++)
        fill[i] = &filler; /* placeholders, never dereferenced */
    while (rte_ring_free_count(g.punt[0]) > 0)
        (void)rte_ring_enqueue_burst(g.punt[0], fill,
                                     RTE_MIN(RTE_DIM(fill), rte_ring_free_count(g.punt[0])), NULL);
    uint64_t full = cnt(DP_CNT_DROP_PUNT_FULL), nfull = cnt(DP_CNT_DROP_PUNT_NET_FULL);
    struct rec_spec hs = {DP_CT_HANDSHAKE, 1, 300, "finished"};
    run(client_frame(&hs, 1, 5555, false)); /* a DTLS punt: ring full */
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_PUNT_FULL), full + 1);
    struct rte_mbuf *arp = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(arp);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(arp, 60);
    memset(d, 0, 60);
    d[12] = 0x08;
    d[13] = 0x06;
    run(arp);
    run(icmp_frame());
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_PUNT_FULL), full + 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_PUNT_NET_FULL), nfull);
    CU_ASSERT_EQUAL(ring_drain(g.punt_net[0]), 2);
    /* the placeholders out again, not freed */
    void *o[64];
    while (rte_ring_dequeue_burst(g.punt[0], o, RTE_DIM(o), NULL) > 0)
        ;
    CU_ASSERT_EQUAL(rte_ring_count(g.punt[0]), 0);
}

static void open_record(const uint8_t *p, uint16_t len, uint64_t want_seq, uint8_t want_type,
                        const void *want, size_t tl)
{
    CU_ASSERT_EQUAL_FATAL(len, 13 + 8 + tl + 16);
    CU_ASSERT_EQUAL(p[0], want_type);
    CU_ASSERT_EQUAL(dp_load_be16(p + 1), DP_VERSION_DTLS12);
    CU_ASSERT_EQUAL(dp_load_be16(p + 3), 1);
    CU_ASSERT_EQUAL(dp_load_be48(p + 5), want_seq);
    CU_ASSERT_EQUAL(dp_load_be16(p + 11), 8 + tl + 16);
    uint8_t buf[256];
    memcpy(buf, p + 13, len - 13);
    struct cr_aead_op o;
    memset(&o, 0, sizeof(o));
    o.key = &ref_server;
    o.in = o.out = buf + 8;
    o.tag = buf + 8 + tl;
    o.len = (uint32_t)tl;
    o.epoch = 1;
    o.version = DP_VERSION_DTLS12;
    o.seq = want_seq;
    o.explicit_nonce = buf;
    o.type = want_type;
    CU_ASSERT_EQUAL(cr_aead_open_batch(ref_ctx, &o, 1), 1);
    CU_ASSERT(memcmp(buf + 8, want, tl) == 0);
}

static void open_client_record(struct rte_mbuf *m, uint64_t want_seq, uint8_t want_type,
                               const void *want, size_t tl)
{
    uint16_t len;
    const uint8_t *p = check_udp(m, &cl_mac, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 4433, 5555, &len);
    open_record(p, len, want_seq, want_type, want, tl);
}

/* Application data sharing a datagram with records for the control plane
 * (a repeated Finished, an alert) is forwarded, not lost; the control
 * plane gets a frame of just the other records, addressed as received. */
static void test_mixed_datagram(void)
{
    uint64_t pu = cnt(DP_CNT_PUNT), recs = cnt(DP_CNT_RX_RECORDS);
    struct sess_snap start;
    snap_save(&start);
    struct rec_spec rs[3] = {{DP_CT_APPLICATION_DATA, 1, 700, "first half"},
                             {DP_CT_HANDSHAKE, 1, 701, "repeated finished"},
                             {DP_CT_APPLICATION_DATA, 1, 702, "second half"}};
    struct rte_mbuf *m = client_frame(rs, 3, 5555, false);
    /* what the control plane must get: the handshake record as sent */
    const uint8_t *md = rte_pktmbuf_mtod(m, const uint8_t *);
    size_t r0 = 13 + 8 + strlen(rs[0].text) + 16;
    size_t r1 = 13 + 8 + strlen(rs[1].text) + 16;
    uint8_t want[64], head[DP_ETH_IP_UDP_LEN];
    CU_ASSERT_FATAL(r1 <= sizeof(want));
    memcpy(want, md + DP_ETH_IP_UDP_LEN + r0, r1);
    memcpy(head, md, sizeof(head));
    run(m);
    expect_backend("first half");
    expect_backend("second half");
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), recs + 2);
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu + 1);
    void *o = NULL;
    CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue(g.punt[0], &o), 0);
    struct rte_mbuf *p = o;
    const uint8_t *pd = rte_pktmbuf_mtod(p, const uint8_t *);
    const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(pd + 14);
    const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(pd + 34);
    CU_ASSERT_EQUAL(p->data_len, DP_ETH_IP_UDP_LEN + r1);
    CU_ASSERT(memcmp(pd, head, 14) == 0);           /* MACs and EtherType as received */
    CU_ASSERT(memcmp(pd + 26, head + 26, 12) == 0); /* addresses and ports */
    CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->total_length), 20 + 8 + r1);
    CU_ASSERT_EQUAL(rte_be_to_cpu_16(udp->dgram_len), 8 + r1);
    CU_ASSERT_EQUAL(rte_raw_cksum(ip, 20), 0xffff);
    CU_ASSERT(memcmp(pd + DP_ETH_IP_UDP_LEN, want, r1) == 0);
    CU_ASSERT_EQUAL(p->port, 0);
    rte_pktmbuf_free(p);
    CU_ASSERT_EQUAL(rte_ring_count(g.punt[0]), 0);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
    snap_restore(&start);
}

static void test_backend_reply(void)
{
    uint64_t seq0 = sess->wr_seq;
    run(backend_frame("pong", 7000, 20000));
    struct rte_mbuf *m = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    open_client_record(m, seq0, DP_CT_APPLICATION_DATA, "pong", 4);
    rte_pktmbuf_free(m);
    CU_ASSERT_EQUAL(sess->wr_seq, seq0 + 1);
    run(backend_frame("pong two", 7000, 20000));
    m = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    open_client_record(m, seq0 + 1, DP_CT_APPLICATION_DATA, "pong two", 8);
    rte_pktmbuf_free(m);
}

/* Issue 8 finding 3: a datagram with the backend's addresses and ports is
 * a backend reply only when it arrives on the backend-side port from the
 * backend next hop's MAC; a client-side host forging it is dropped and
 * counted, and nothing reaches the client. */
static void test_spoofed_backend_reply(void)
{
    uint64_t wp = cnt(DP_CNT_DROP_NAT_WRONG_PORT), wm = cnt(DP_CNT_DROP_NAT_WRONG_MAC);
    uint64_t seq0 = sess->wr_seq;
    struct rte_mbuf *m = backend_frame("injected from the client side", 7000, 20000);
    m->port = 0; /* arrived on the client-side port */
    run(m);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NAT_WRONG_PORT), wp + 1);
    m = backend_frame("injected on the backend segment", 7000, 20000);
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    eth->src_addr.addr_bytes[5] ^= 0x01; /* not the next hop's MAC */
    run(m);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NAT_WRONG_MAC), wm + 1);
    /* Next hop not resolved: no MAC to compare, dropped too. */
    uint64_t saved = g.nexthops[0].mac_word;
    g.nexthops[0].mac_word = 0;
    run(backend_frame("before ARP", 7000, 20000));
    g.nexthops[0].mac_word = saved;
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NAT_WRONG_MAC), wm + 2);
    CU_ASSERT_EQUAL(sess->wr_seq, seq0);
    /* The genuine reply still goes through. */
    run(backend_frame("pong", 7000, 20000));
    m = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    open_client_record(m, seq0, DP_CT_APPLICATION_DATA, "pong", 4);
    rte_pktmbuf_free(m);
}

static void test_backend_drops(void)
{
    uint64_t np = cnt(DP_CNT_DROP_NAT_PEER), nl = cnt(DP_CNT_DROP_NO_LISTENER);
    uint64_t tb = cnt(DP_CNT_DROP_TOO_BIG);
    run(backend_frame("wrong source port", 7001, 20000));
    run(backend_frame("unmapped nat port", 7000, 20001));
    static char big[1480];
    memset(big, 'x', sizeof(big) - 1);
    run(backend_frame(big, 7000, 20000));
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NAT_PEER), np + 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NO_LISTENER), nl + 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_TOO_BIG), tb + 1);
}

/* Issue 11: a backend reply to a NAT pool address (not the port's own)
 * reaches the session holding that (address, port); one to the next
 * address, outside the pool, is not ours (DROP_NOT_FOR_US), one to a pool
 * address whose slot is free, or to the port's address outside the pool,
 * has no session (DROP_NO_LISTENER). */
static void test_nat_pool_reply(void)
{
    struct dp_sess_table *saved = g.sessions;
    const struct dp_nat_pool pools[2] = {{0, 0}, {.first = 0x0a000114, .n_addrs = 2}};
    g.sessions = dp_sess_table_create_nat("tw_pool_sess", 64, 2, SOCKET_ID_ANY, pools, 2, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g.sessions);
    struct dp_session *ps = dp_session_alloc(TW_REPLAY_WIN_BITS, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ps);
    struct dp_replay *win = ps->replay;
    memcpy(ps, sess, offsetof(struct dp_session, wr_seq)); /* keys, addresses, binding */
    ps->wr_seq = 100;
    ps->replay = win;
    ps->hash_pos = -1;
    ps->installed = false;
    ps->nat_ip = IP(10, 0, 1, 21);
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(g.sessions, ps), CR_OK);
    uint64_t nfu = cnt(DP_CNT_DROP_NOT_FOR_US), nl = cnt(DP_CNT_DROP_NO_LISTENER);
    const uint32_t dst[4] = {IP(10, 0, 1, 21), IP(10, 0, 1, 22), IP(10, 0, 1, 20), IP(10, 0, 1, 1)};
    for (unsigned i = 0; i < 4; i++) {
        struct rte_mbuf *m = backend_frame("pool", 7000, 20000);
        struct dp_port be = g.ports[1];
        be.mac = nh_mac;
        dp_pkt_write_ipv4_udp(m, &be, &g.ports[1].mac, IP(10, 0, 1, 2), dst[i],
                              rte_cpu_to_be_16(7000), rte_cpu_to_be_16(20000));
        run(m);
        struct rte_mbuf *o = sent(0);
        CU_ASSERT_EQUAL(o != NULL, i == 0);
        if (o != NULL) {
            open_client_record(o, 100, DP_CT_APPLICATION_DATA, "pool", 4);
            rte_pktmbuf_free(o);
        }
    }
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NOT_FOR_US), nfu + 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NO_LISTENER), nl + 2);
    CU_ASSERT_EQUAL(ps->wr_seq, 101);
    dp_sess_table_free(g.sessions); /* frees ps (no reader runs) */
    g.sessions = saved;
}

static void test_header_drops(void)
{
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 300, "x"};
    struct rte_mbuf *m;
    uint64_t c;

    /* A corrupted payload byte of a client record (UDP checksum now wrong):
     * the fast path leaves it to the AEAD tag (policy in dp_port.h). */
    c = cnt(DP_CNT_DROP_UDP_CSUM);
    uint64_t au = cnt(DP_CNT_DROP_AUTH);
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 60)[0] ^= 0xff; /* payload byte */
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_AUTH), au + 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), c);
    CU_ASSERT_PTR_NULL(sent(1));

    /* A zero UDP checksum means "none" (RFC 768): accepted. */
    r.seq = 301;
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34)->dgram_cksum = 0;
    run(m);
    expect_backend("x");

    c = cnt(DP_CNT_DROP_IP_CSUM);
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)->time_to_live--;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IP_CSUM), c + 1);

    c = cnt(DP_CNT_DROP_SHORT_FRAME);
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - 20));
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_SHORT_FRAME), c + 1);

    c = cnt(DP_CNT_DROP_IP_HEADER);
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_trim(m, 10); /* IPv4 total length now beyond the frame */
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IP_HEADER), c + 1);

    c = cnt(DP_CNT_DROP_IP_FRAGMENT);
    m = client_frame(&r, 1, 5555, false);
    struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IP_FRAGMENT), c + 1);

    c = cnt(DP_CNT_DROP_NOT_FOR_US);
    m = client_frame(&r, 1, 5555, false);
    ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
    ip->dst_addr = IP(10, 0, 0, 99);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NOT_FOR_US), c + 1);

    c = cnt(DP_CNT_DROP_NOT_IPV4);
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type = rte_cpu_to_be_16(0x88cc); /* LLDP */
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NOT_IPV4), c + 1);

    /* An IPv4 packet labelled IPv6: the IPv6 walk refuses its version. */
    c = cnt(DP_CNT_DROP_IPV6_HEADER);
    m = client_frame(&r, 1, 5555, false);
    rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type = rte_cpu_to_be_16(0x86dd);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IPV6_HEADER), c + 1);

    c = cnt(DP_CNT_DROP_RECORD_MALFORMED);
    struct rec_spec bad = {DP_CT_APPLICATION_DATA, 1, 302, "y"};
    m = client_frame(&bad, 1, 5555, false);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 42)[0] = 99; /* unknown content type */
    /* fix UDP checksum after the edit */
    ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
    struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_RECORD_MALFORMED), c + 1);
    CU_ASSERT_PTR_NULL(sent(1));
}

/* The RX UDP checksum policy of dp_port.h, case by case. */
static void test_csum_policy(void)
{
    uint64_t cs = cnt(DP_CNT_DROP_UDP_CSUM), pu = cnt(DP_CNT_PUNT);
    struct rte_mbuf *m;

    /* Client application data with a wrong UDP checksum but a valid tag:
     * forwarded (the AEAD tag, not the checksum, protects it). */
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 350, "csum policy"};
    m = client_frame(&r, 1, 5555, false);
    struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34);
    udp->dgram_cksum = (uint16_t)(udp->dgram_cksum ^ 0x0101);
    run(m);
    expect_backend("csum policy");
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), cs);

    /* The same with a NIC that reports the L4 checksum bad: dropped. */
    r.seq = 351;
    m = client_frame(&r, 1, 5555, false);
    m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
    run(m);
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), cs + 1);

    /* Leaving the fast path (a handshake record of a live session, an
     * unknown peer's ClientHello): verified before the punt. */
    struct rec_spec hs = {DP_CT_HANDSHAKE, 1, 352, "finished"};
    m = client_frame(&hs, 1, 5555, false);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 70)[0] ^= 0x5a;
    run(m);
    struct rec_spec ch = {DP_CT_HANDSHAKE, 0, 0, "clienthello"};
    m = client_frame(&ch, 1, 5556, false);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 58)[0] ^= 0x5a;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), cs + 3);
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 0);
    /* ... and with a good checksum, or a NIC's "good", punted. */
    m = client_frame(&hs, 1, 5555, false);
    run(m);
    m = client_frame(&ch, 1, 5556, false);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 58)[0] ^= 0x5a;
    m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu + 2);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 2);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), cs + 3);

    /* Backend plaintext (no tag protects it): a corrupted datagram is
     * dropped and counted, its session's write sequence untouched. */
    uint64_t seq0 = sess->wr_seq;
    m = backend_frame("pong", 7000, 20000);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 43)[0] ^= 0x20;
    run(m);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), cs + 4);
    CU_ASSERT_EQUAL(sess->wr_seq, seq0);
    /* A zero UDP checksum means "none" (RFC 768): accepted. */
    m = backend_frame("pong", 7000, 20000);
    rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34)->dgram_cksum = 0;
    run(m);
    m = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    open_client_record(m, seq0, DP_CT_APPLICATION_DATA, "pong", 4);
    rte_pktmbuf_free(m);
}

static void test_nexthop_unresolved(void)
{
    uint64_t c = cnt(DP_CNT_DROP_NH_UNRESOLVED);
    uint64_t saved = g.nexthops[0].mac_word;
    g.nexthops[0].mac_word = 0;
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 400, "no arp yet"};
    run(client_frame(&r, 1, 5555, false));
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NH_UNRESOLVED), c + 1);
    CU_ASSERT_PTR_NULL(sent(1));
    g.nexthops[0].mac_word = saved;
}

static void test_handoff(void)
{
    uint64_t ho = cnt(DP_CNT_HANDOFF_OUT), own = cnt(DP_CNT_DROP_HANDOFF_OWNER);
    g.n_workers = 2;
    sess->owner = 1;
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 500, "for worker 1"};
    run(client_frame(&r, 1, 5555, false));
    run(backend_frame("reply for worker 1", 7000, 20000));
    CU_ASSERT_EQUAL(cnt(DP_CNT_HANDOFF_OUT), ho + 2);
    CU_ASSERT_EQUAL(rte_ring_count(g.handoff[1]), 2);
    /* A frame that already came over a hand-off ring is never bounced. */
    struct rte_mbuf *m = client_frame(&r, 1, 5555, false);
    dp_worker_process(w, &m, 1, true);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_HANDOFF_OWNER), own + 1);
    /* The owner (worker 1) processes what it was handed. */
    struct dp_worker *w1 = dp_worker_new(&g, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w1);
    struct rte_mbuf *ms[2];
    CU_ASSERT_EQUAL(rte_ring_dequeue_burst(g.handoff[1], (void **)ms, 2, NULL), 2);
    /* Worker 1 transmits on TX queue 1, which these 1-queue ring ports do
     * not have: process only the client record (decrypt + replay update). */
    sess->owner = 0;
    g.n_workers = 1;
    dp_worker_process(w, ms, 2, true);
    dp_worker_flush(w);
    expect_backend("for worker 1");
    struct rte_mbuf *c = sent(0);
    CU_ASSERT_PTR_NOT_NULL(c);
    rte_pktmbuf_free(c);
    dp_worker_free(w1);
}

/* A copy of sess for client port cport, forwarding to backend port bport
 * from NAT port nport, installed in the table. */
static struct dp_session *install_peer(uint16_t cport, uint16_t bport, uint16_t nport)
{
    struct dp_session *s = dp_session_alloc(TW_REPLAY_WIN_BITS, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct dp_replay *rp = s->replay;
    memcpy(s, sess, offsetof(struct dp_session, wr_seq));
    s->replay = rp;
    s->key.client_port = rte_cpu_to_be_16(cport);
    s->backend_port = rte_cpu_to_be_16(bport);
    s->nat_port = nport;
    s->wr_seq = 1;
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(g.sessions, s), 0);
    return s;
}

static void expect_backend_port(uint16_t nport, uint16_t bport, const char *text)
{
    struct rte_mbuf *m = sent(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint16_t len;
    const uint8_t *p = check_udp(m, &nh_mac, IP(10, 0, 1, 1), IP(10, 0, 1, 2), nport, bport, &len);
    CU_ASSERT(len == strlen(text) && memcmp(p, text, len) == 0);
    rte_pktmbuf_free(m);
}

/* The worker's flow cache never hands out a removed session: after a
 * removal (and its grace period) the same 4-tuple finds the session that
 * replaced it, or no session at all. */
static void test_flow_cache_removal(void)
{
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 10, "to backend 7001"};
    struct dp_session *a = install_peer(5556, 7001, 20001);
    run(client_frame(&r, 1, 5556, false));
    expect_backend_port(20001, 7001, "to backend 7001");
    r.seq = 11;
    run(client_frame(&r, 1, 5556, false)); /* now from the cache */
    expect_backend_port(20001, 7001, "to backend 7001");

    /* Replace: remove a, install b under the same key (allocated while a
     * still exists, so not at a's address), then let a be freed. */
    dp_sess_remove(g.sessions, a, false);
    struct dp_session *b = install_peer(5556, 7002, 20002);
    CU_ASSERT_PTR_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(dp_sess_reclaim(g.sessions, NULL, NULL, true), 1);
    r.seq = 12;
    r.text = "to backend 7002";
    run(client_frame(&r, 1, 5556, false));
    expect_backend_port(20002, 7002, "to backend 7002");
    CU_ASSERT_EQUAL(b->rx_records, 1);

    /* Remove without a successor: the peer is unknown again (its
     * application data is not forwarded anywhere). */
    uint64_t fwd = cnt(DP_CNT_RX_RECORDS), auth = cnt(DP_CNT_DROP_AUTH);
    dp_sess_remove(g.sessions, b, false);
    CU_ASSERT_EQUAL(dp_sess_reclaim(g.sessions, NULL, NULL, true), 1);
    r.seq = 13;
    run(client_frame(&r, 1, 5556, false));
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), fwd);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_AUTH), auth); /* not tried with b's wiped keys */
    ring_drain(g.punt[0]);
    ring_drain(tx_r[0]);
}

/* ---- fast paths vs general checks ----------------------------------------- */

/* Everything the worker emitted (both ports' TX rings, the punt ring),
 * serialized: ring, length, offload flags, bytes.  The frames are freed. */
struct emitted {
    uint8_t buf[16384];
    size_t len;
};

static void collect(struct emitted *e)
{
    /* a mutated protocol byte can make an ICMP frame: the net ring too */
    struct rte_ring *rings[4] = {tx_r[0], tx_r[1], g.punt[0], g.punt_net[0]};
    e->len = 0;
    for (unsigned r = 0; r < RTE_DIM(rings); r++) {
        void *o;
        while (rte_ring_dequeue(rings[r], &o) == 0) {
            struct rte_mbuf *m = o;
            uint16_t dl = m->data_len;
            uint64_t fl = m->ol_flags;
            if (e->len + 1 + sizeof(dl) + sizeof(fl) + dl <= sizeof(e->buf)) {
                e->buf[e->len++] = (uint8_t)r;
                memcpy(e->buf + e->len, &dl, sizeof(dl));
                e->len += sizeof(dl);
                memcpy(e->buf + e->len, &fl, sizeof(fl));
                e->len += sizeof(fl);
                memcpy(e->buf + e->len, rte_pktmbuf_mtod(m, uint8_t *), dl);
                e->len += dl;
            }
            rte_pktmbuf_free(m);
        }
    }
}

/* A client datagram of 1..3 records (mostly one application-data record
 * of the session's epoch, fresh or replayed sequence numbers, sometimes a
 * bad tag), then at most one mutation of its headers, lengths or flags. */
static struct rte_mbuf *random_client_frame(uint64_t *next_seq)
{
    static char texts[3][256];
    struct rec_spec rs[3];
    unsigned nrec = rte_rand() % 5 == 0 ? 2 + (unsigned)(rte_rand() % 2) : 1;
    uint16_t sport = rte_rand() % 8 == 0 ? 6000 : 5555;
    for (unsigned i = 0; i < nrec; i++) {
        unsigned tl = (unsigned)(rte_rand() % 200);
        for (unsigned k = 0; k < tl; k++)
            texts[i][k] = (char)('a' + rte_rand() % 26);
        texts[i][tl] = '\0';
        uint64_t r = rte_rand() % 100;
        rs[i].type = r < 90 ? DP_CT_APPLICATION_DATA : r < 95 ? DP_CT_HANDSHAKE : DP_CT_ALERT;
        r = rte_rand() % 100;
        rs[i].epoch = r < 90 ? 1 : r < 95 ? 0 : 2;
        r = rte_rand() % 100;
        /* fresh, a recent one again, or a jump past the window */
        rs[i].seq = r < 80   ? (*next_seq)++
                    : r < 95 ? *next_seq - 1 - rte_rand() % 4
                             : (*next_seq += 300);
        rs[i].text = texts[i];
    }
    struct rte_mbuf *m = client_frame(rs, nrec, sport, rte_rand() % 10 == 0);
    uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
    switch (rte_rand() % 13) {
    case 0: /* a header byte, checksums left as they are */
        d[rte_rand() % RTE_MIN(m->data_len, 80u)] ^= (uint8_t)(1 + rte_rand() % 255);
        break;
    case 1: /* a record header byte, checksums made right again */
        d[DP_ETH_IP_UDP_LEN + rte_rand() % DP_REC_HDR_LEN] ^= (uint8_t)(1 + rte_rand() % 255);
        client_reframe(m, sport);
        break;
    case 2: /* a few bytes shorter or longer, lengths made consistent */
        if (rte_rand() % 2)
            (void)rte_pktmbuf_trim(m, (uint16_t)(1 + rte_rand() % 3));
        else
            (void)rte_pktmbuf_append(m, (uint16_t)(1 + rte_rand() % 3));
        client_reframe(m, sport);
        break;
    case 3: /* Ethernet padding after the IP datagram */
        (void)rte_pktmbuf_append(m, (uint16_t)(1 + rte_rand() % 8));
        break;
    case 4: { /* the NIC's checksum verdicts */
        static const uint64_t f[] = {RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
                                     RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_BAD,
                                     RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD};
        m->ol_flags |= f[rte_rand() % RTE_DIM(f)];
        break;
    }
    case 5: /* another destination port */
        dp_pkt_write_ipv4_udp(m, &client_sim, &g.ports[0].mac, IP(10, 0, 0, 2), IP(10, 0, 0, 1),
                              rte_cpu_to_be_16(sport), rte_cpu_to_be_16(4434));
        break;
    case 6: /* IP options length (IHL 6), checksums left */
        d[RTE_ETHER_HDR_LEN] = 0x46;
        break;
    case 7: { /* an IPv4 header byte, the header checksum made right again */
        struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + RTE_ETHER_HDR_LEN);
        unsigned at = 1 + (unsigned)(rte_rand() % 19); /* not version/IHL */
        if (at != 10 && at != 11)
            d[RTE_ETHER_HDR_LEN + at] ^= (uint8_t)(1 + rte_rand() % 255);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        break;
    }
    default:
        break;
    }
    return m;
}

/* The fast paths for the common datagram give the same result as the
 * general checks, for valid datagrams and for near misses of every kind:
 * the same frames out (bytes, lengths, flags, rings), the same counters,
 * the same replay window. */
static void test_fast_paths_match_general(void)
{
    enum {
        N = 4000
    };
    static struct emitted ef, eg;
    unsigned lc = rte_lcore_id();
    uint64_t next_seq = 600000;
    struct sess_snap start, s0, sf, sg;
    snap_save(&start);
    unsigned mismatches = 0, forwarded = 0;
    for (unsigned i = 0; i < N && mismatches < 5; i++) {
        struct rte_mbuf *mf = random_client_frame(&next_seq);
        struct rte_mbuf *mg = rte_pktmbuf_copy(mf, g.pool, 0, UINT32_MAX);
        CU_ASSERT_PTR_NOT_NULL_FATAL(mg);
        mg->ol_flags = mf->ol_flags;
        snap_save(&s0);
        struct dp_lcore_counters c0 = dp_counters[lc], cf, cg;

        dp_worker_set_fast_paths(w, true);
        run(mf);
        collect(&ef);
        cf = dp_counters[lc];
        snap_save(&sf);

        snap_restore(&s0);
        dp_counters[lc] = c0;
        dp_worker_set_fast_paths(w, false);
        run(mg);
        collect(&eg);
        cg = dp_counters[lc];
        snap_save(&sg);
        dp_worker_set_fast_paths(w, true);

        bool same = ef.len == eg.len && memcmp(ef.buf, eg.buf, ef.len) == 0 &&
                    memcmp(&cf, &cg, sizeof(cf)) == 0 && memcmp(&sf, &sg, sizeof(sf)) == 0;
        if (!same) {
            mismatches++;
            fprintf(stderr, "fast/general mismatch at frame %u\n", i);
        }
        forwarded += cg.c[DP_CNT_RX_RECORDS] != c0.c[DP_CNT_RX_RECORDS];
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    if (forwarded <= N / 5)
        fprintf(stderr, "fast paths: only %u of %u frames forwarded (replay top %" PRIu64 ")\n",
                forwarded, N, sess->replay->top);
    /* about a third are the common case (forwarded); the rest near misses */
    CU_ASSERT(forwarded > N / 5);
    snap_restore(&start);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

static void test_seal_frame(void)
{
    uint64_t seq0 = sess->wr_seq;
    static const uint8_t cn[2] = {1, 0};
    struct rte_mbuf *m = dp_session_seal_frame(&g, sess, ref_ctx, DP_CT_ALERT, cn, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    open_client_record(m, seq0, DP_CT_ALERT, cn, sizeof(cn));
    CU_ASSERT_EQUAL(sess->wr_seq, seq0 + 1);
    CU_ASSERT_EQUAL(m->port, 0);
    rte_pktmbuf_free(m);
}

static void test_garbage(void)
{
    /* Random datagrams from the session's peer and from strangers: the
     * worker must count every one as forwarded, punted or dropped. */
    enum {
        N = 2000
    };
    uint64_t before = 0, after = 0;
    for (unsigned i = 0; i < DP_CNT_N; i++)
        if (dp_counter_is_drop((enum dp_counter_id)i) || i == DP_CNT_PUNT || i == DP_CNT_RX_RECORDS)
            before += cnt((enum dp_counter_id)i);
    uint64_t rec_before = cnt(DP_CNT_RX_RECORDS);
    for (unsigned i = 0; i < N; i++) {
        uint8_t junk[200];
        unsigned len = 1 + (unsigned)(rte_rand() % sizeof(junk));
        for (unsigned k = 0; k < len; k++)
            junk[k] = (uint8_t)rte_rand();
        if (i % 3 == 0 && len > 13) { /* plausible header, random body */
            dp_record_write_hdr(junk, DP_CT_APPLICATION_DATA, DP_VERSION_DTLS12, 1,
                                rte_rand() & 0xffff, NULL, 0, (uint16_t)(len - 13));
        }
        struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(42 + len));
        memcpy(d + 42, junk, len);
        dp_pkt_write_ipv4_udp(m, &client_sim, &g.ports[0].mac, IP(10, 0, 0, 2), IP(10, 0, 0, 1),
                              rte_cpu_to_be_16(i % 2 ? 5555 : 6000), rte_cpu_to_be_16(4433));
        run(m);
    }
    for (unsigned i = 0; i < DP_CNT_N; i++)
        if (dp_counter_is_drop((enum dp_counter_id)i) || i == DP_CNT_PUNT || i == DP_CNT_RX_RECORDS)
            after += cnt((enum dp_counter_id)i);
    CU_ASSERT(after - before >= N);
    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), rec_before); /* nothing authenticated */
    CU_ASSERT_PTR_NULL(sent(1));
    ring_drain(g.punt[0]);
    /* The live session still works. */
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 100000, "still alive"};
    run(client_frame(&r, 1, 5555, false));
    expect_backend("still alive");
    CU_ASSERT_EQUAL(rte_ring_count(tx_r[0]) + rte_ring_count(tx_r[1]), 0);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}
/* Single-record datagrams at the edges of what client_records forwards: only
 * a DTLS 1.2 application_data record of the current epoch that fills the
 * datagram exactly goes on; every near miss gets its own verdict. */
static void test_single_record_edges(void)
{
    uint64_t mal = cnt(DP_CNT_DROP_RECORD_MALFORMED), pu = cnt(DP_CNT_PUNT);
    uint64_t recs = cnt(DP_CNT_RX_RECORDS);

    /* Exact fit: forwarded. */
    struct rec_spec ok = {DP_CT_APPLICATION_DATA, 1, 400000, "exact fit"};
    run(client_frame(&ok, 1, 5555, false));
    expect_backend("exact fit");

    /* One trailing byte after the record: the record is forwarded and the
     * garbage counted. */
    struct rec_spec tr = {DP_CT_APPLICATION_DATA, 1, 400001, "trailing byte"};
    struct rte_mbuf *m = client_frame(&tr, 1, 5555, false);
    uint8_t *x = (uint8_t *)rte_pktmbuf_append(m, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    *x = 0x17;
    client_reframe(m, 5555);
    run(m);
    expect_backend("trailing byte");
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_RECORD_MALFORMED), mal + 1);

    /* Length field one past the datagram: truncated body, dropped. */
    struct rec_spec tb = {DP_CT_APPLICATION_DATA, 1, 400002, "truncated body"};
    m = client_frame(&tb, 1, 5555, false);
    CU_ASSERT_EQUAL_FATAL(rte_pktmbuf_trim(m, 1), 0);
    client_reframe(m, 5555);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_RECORD_MALFORMED), mal + 2);

    /* DTLS 1.0 version outside epoch 0: malformed. */
    struct rec_spec v0 = {DP_CT_APPLICATION_DATA, 1, 400003, "old version"};
    m = client_frame(&v0, 1, 5555, false);
    rte_pktmbuf_mtod_offset(m, uint8_t *, DP_ETH_IP_UDP_LEN)[2] = 0xff;
    client_reframe(m, 5555);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_RECORD_MALFORMED), mal + 3);

    /* An empty protected record (header only): malformed. */
    m = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, DP_ETH_IP_UDP_LEN + DP_REC_HDR_LEN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    dp_record_write_hdr(d + DP_ETH_IP_UDP_LEN, DP_CT_APPLICATION_DATA, DP_VERSION_DTLS12, 1, 400004,
                        NULL, 0, 0);
    client_reframe(m, 5555);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_RECORD_MALFORMED), mal + 4);

    /* Application data of another epoch: the whole datagram is punted. */
    struct rec_spec ep = {DP_CT_APPLICATION_DATA, 2, 1, "next epoch"};
    run(client_frame(&ep, 1, 5555, false));
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu + 1);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1);

    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), recs + 2);
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

static unsigned hook_calls;

/* A stand-in for the control plane's cookie check: handshake records get
 * a short reply, type 99 a reply larger than the datagram, the rest punt. */
static int test_hook(void *arg, unsigned listener, const struct dp_addr *peer, uint16_t port,
                     const uint8_t *d, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    CU_ASSERT_PTR_EQUAL(arg, &g);
    CU_ASSERT_EQUAL(listener, 0);
    CU_ASSERT_EQUAL(peer->family, DP_AF_V4);
    CU_ASSERT_EQUAL(peer->u.v4, IP(10, 0, 0, 2));
    CU_ASSERT(port == rte_cpu_to_be_16(6001) || port == rte_cpu_to_be_16(6002));
    hook_calls++;
    if (len > 0 && d[0] == DP_CT_HANDSHAKE) {
        CU_ASSERT_FATAL(cap >= 4);
        memcpy(out, "HVR!", 4);
        *out_len = 4;
        return DP_PEER_REPLY;
    }
    if (len > 0 && d[0] == 99) {
        *out_len = len + 1;
        return DP_PEER_REPLY;
    }
    return DP_PEER_PUNT;
}

static void test_unknown_peer_hook(void)
{
    unsigned calls_before_busy;
    g.unknown_peer = test_hook;
    g.unknown_peer_arg = &g;
    uint64_t hv = cnt(DP_CNT_HVR_SENT), pu = cnt(DP_CNT_PUNT), dr = cnt(DP_CNT_DROP_UNKNOWN_PEER);
    struct rec_spec ch = {DP_CT_HANDSHAKE, 0, 0, "clienthello without cookie"};
    run(client_frame(&ch, 1, 6001, false));
    struct rte_mbuf *m = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint16_t len;
    const uint8_t *p = check_udp(m, &cl_mac, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 4433, 6001, &len);
    CU_ASSERT_EQUAL(len, 4);
    CU_ASSERT(memcmp(p, "HVR!", 4) == 0);
    rte_pktmbuf_free(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_HVR_SENT), hv + 1);
    struct rec_spec ad = {DP_CT_APPLICATION_DATA, 1, 3, "later flight"};
    run(client_frame(&ad, 1, 6001, false));
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu + 1);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1);
    /* Right after a punt of this peer, even a cookie-less ClientHello goes
     * to the control plane (a delayed duplicate must reach the engine). */
    unsigned c0 = hook_calls;
    run(client_frame(&ch, 1, 6001, false));
    CU_ASSERT_EQUAL(hook_calls, c0);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1);
    /* A peer the control plane holds state for is punted, not answered. */
    uint32_t slot = dp_peer_slot(IP(10, 0, 0, 2), rte_cpu_to_be_16(6001));
    g.peer_busy[slot] = 1;
    calls_before_busy = hook_calls;
    run(client_frame(&ch, 1, 6001, false));
    CU_ASSERT_EQUAL(hook_calls, calls_before_busy);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1);
    g.peer_busy[slot] = 0;
    struct rec_spec bad = {99, 0, 0, "oversized reply"};
    run(client_frame(&bad, 1, 6002, false)); /* another peer: not "recent" */
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UNKNOWN_PEER), dr + 1);
    CU_ASSERT_PTR_NULL(sent(0));
    /* The session's own peer never reaches the hook. */
    unsigned calls = hook_calls;
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 600, "session data"};
    run(client_frame(&r, 1, 5555, false));
    expect_backend("session data");
    CU_ASSERT_EQUAL(hook_calls, calls);
    g.unknown_peer = NULL;
    g.unknown_peer_arg = NULL;
}

/* A checksum of dp_port.h (named name) against rte_raw_cksum on 20000
 * random buffers: random data, lengths and start offsets (odd ones
 * included), and sums that wrap to 0xffff. */
static void cksum_differential(uint16_t (*sum)(const void *, size_t), const char *name)
{
    static uint8_t buf[2100];
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rte_rand();
    for (unsigned iter = 0; iter < 20000; iter++) {
        size_t off = rte_rand() % 17;
        size_t len = iter < 64 ? iter : rte_rand() % (sizeof(buf) - 17);
        if (iter % 500 == 0) /* sums that wrap to 0xffff */
            memset(buf + off, 0xff, len);
        uint16_t want = rte_raw_cksum(buf + off, len);
        uint16_t got = sum(buf + off, len);
        if (want != got) {
            fprintf(stderr, "%s differs from rte_raw_cksum (length %zu, offset %zu)\n", name, len,
                    off);
            CU_FAIL("the checksum differs from rte_raw_cksum");
            break;
        }
        if (iter % 500 == 0)
            for (size_t k = 0; k < len; k++)
                buf[off + k] = (uint8_t)rte_rand();
    }
    CU_PASS("20000 random buffers agree");
}

/* dp_raw_cksum: the AVX-512 sum where the CPU has it. */
static void test_cksum_differential(void)
{
    cksum_differential(dp_raw_cksum, "dp_raw_cksum");
}

/* The AVX2/SSE2 sum that CPUs without AVX-512BW run. */
static void test_cksum_no512_differential(void)
{
    cksum_differential(dp_raw_cksum_no512, "dp_raw_cksum_no512");
}

/* dp_pkt_write_ipv4_udp computes both checksums from the values it
 * stores; DPDK's own routines must verify what it wrote, for random
 * addresses, ports and payload lengths (odd ones included). */
static void test_write_csums(void)
{
    struct dp_port p;
    memset(&p, 0, sizeof(p));
    p.mac = cl_mac;
    for (unsigned iter = 0; iter < 3000; iter++) {
        uint16_t len = (uint16_t)(rte_rand() % 1459);
        struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_IP_UDP_LEN + len));
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        for (uint16_t k = 0; k < len; k++)
            d[DP_ETH_IP_UDP_LEN + k] = iter % 97 == 0 ? 0xff : (uint8_t)rte_rand();
        dp_pkt_write_ipv4_udp(m, &p, &nh_mac, (uint32_t)rte_rand(), (uint32_t)rte_rand(),
                              (uint16_t)rte_rand(), (uint16_t)rte_rand());
        const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(d + RTE_ETHER_HDR_LEN);
        const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(d + RTE_ETHER_HDR_LEN + 20);
        int ok = rte_raw_cksum(ip, 20) == 0xffff && udp->dgram_cksum != 0 &&
                 rte_ipv4_udptcp_cksum_verify(ip, udp) == 0 &&
                 rte_be_to_cpu_16(udp->dgram_len) == len + 8;
        /* With TX checksum offload: flags for the NIC, IPv4 checksum 0 and
         * the pseudo-header sum in the UDP field (what DPDK drivers expect:
         * rte_ipv4_phdr_cksum), the rest of the header the same. */
        uint8_t sw[DP_ETH_IP_UDP_LEN];
        memcpy(sw, d, sizeof(sw));
        p.tx_csum_offload = true;
        m->ol_flags = 0;
        dp_pkt_write_ipv4_udp(m, &p, &nh_mac, ip->src_addr, ip->dst_addr, udp->src_port,
                              udp->dst_port);
        p.tx_csum_offload = false;
        uint64_t want_f = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
        ok = ok && m->ol_flags == want_f && ip->hdr_checksum == 0 &&
             udp->dgram_cksum == rte_ipv4_phdr_cksum(ip, m->ol_flags) && memcmp(d, sw, 24) == 0 &&
             memcmp(d + 26, sw + 26, 14) == 0 && m->l2_len == RTE_ETHER_HDR_LEN && m->l3_len == 20;
        rte_pktmbuf_free(m);
        if (!ok) {
            CU_FAIL("written IPv4/UDP checksums do not verify");
            break;
        }
    }
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* ---- IPv6 -------------------------------------------------------------------- */

/* Client side 2001:db8::/64 (gateway ::1, client ::2), backend side
 * 2001:db8:1::/64 (gateway ::1, backend ::2). */
static const uint8_t a_l6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t a_c6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t a_n6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t a_b6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
#define TW6_LISTENER 1
#define TW6_NH       1
/* v6 client → v6 backend, v6 client → v4 backend, v4 client → v6 backend */
static struct dp_session *s66, *s64, *s46;

/* Those three family pairings: the client's and the backend's family,
 * the client's source port, the session's NAT port, the text forwarded
 * to the backend and its reply. */
static const struct v6_pair {
    struct dp_session **s;
    bool client6, backend6;
    uint16_t cport, nport;
    const char *text, *reply;
} k_v6_pairs[] = {
    {&s66, true, true, 5555, 20100, "v6 to v6", "pong 66"},
    {&s64, true, false, 5556, 20101, "v6 to v4", "pong 64"},
    {&s46, false, true, 5557, 20102, "v4 to v6", "pong 46"},
};
#define TW6_N_PAIRS (sizeof(k_v6_pairs) / sizeof(k_v6_pairs[0]))

/* A copy of sess's read-only part with a fresh replay window. */
static struct dp_session *sess_copy(void)
{
    struct dp_session *s = dp_session_alloc(TW_REPLAY_WIN_BITS, SOCKET_ID_ANY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct dp_replay *rp = s->replay;
    memcpy(s, sess, offsetof(struct dp_session, wr_seq));
    s->replay = rp;
    s->wr_seq = 1;
    return s;
}

static void key6_set(struct dp_session *s, uint16_t cport)
{
    CU_ASSERT_EQUAL_FATAL(dp_session_v6(s), 0);
    memset(&s->key, 0, sizeof(s->key));
    memset(&s->v6->key6, 0, sizeof(s->v6->key6));
    s->family = DP_AF_V6;
    memcpy(s->v6->key6.client_ip, a_c6, 16);
    memcpy(s->v6->key6.local_ip, a_l6, 16);
    s->v6->key6.client_port = rte_cpu_to_be_16(cport);
    s->v6->key6.local_port = rte_cpu_to_be_16(4433);
    s->listener = TW6_LISTENER;
}

static void backend6_set(struct dp_session *s, uint16_t nport)
{
    CU_ASSERT_EQUAL_FATAL(dp_session_v6(s), 0);
    s->backend_family = DP_AF_V6;
    s->backend_ip = 0;
    s->nat_ip = 0;
    memcpy(s->v6->backend_ip6, a_b6, 16);
    memcpy(s->v6->nat_ip6, a_n6, 16);
    s->backend_port = rte_cpu_to_be_16(7000);
    s->nat_port = nport;
    s->backend_nh = TW6_NH;
}

/* The IPv6 side of the test gateway, added once, after the IPv4 tests'
 * set-up (which it leaves as it was: listener 0, next hop 0, sess). */
static void v6_setup(void)
{
    if (s66 != NULL)
        return;
    for (int p = 0; p < 2; p++) {
        g.ports[p].has_ip6 = true;
        g.ports[p].prefix6_len = 64;
        memcpy(g.ports[p].ip6, p == 0 ? a_l6 : a_n6, 16);
        dp_ipv6_link_local_from_mac(g.ports[p].mac.addr_bytes, g.ports[p].ip6_ll);
    }
    struct dp_listener *l = &g.listeners[TW6_LISTENER];
    memset(l, 0, sizeof(*l));
    l->family = DP_AF_V6;
    memcpy(l->ip6, a_l6, 16);
    l->port_be = rte_cpu_to_be_16(4433);
    l->port_idx = 0;
    g.n_listeners = 2;
    struct dp_nexthop *nh = &g.nexthops[TW6_NH];
    nh->family = DP_AF_V6;
    memcpy(nh->ip6, a_b6, 16);
    nh->port_idx = 1;
    nh->mac_word = dp_mac_to_word(&nh_mac) | DP_NH_VALID;
    g.n_nexthops = 2;
    for (unsigned i = 0; i < TW6_N_PAIRS; i++) {
        const struct v6_pair *vp = &k_v6_pairs[i];
        struct dp_session *s = sess_copy();
        if (vp->client6)
            key6_set(s, vp->cport);
        else
            s->key.client_port = rte_cpu_to_be_16(vp->cport);
        if (vp->backend6)
            backend6_set(s, vp->nport);
        else
            s->nat_port = vp->nport;
        *vp->s = s;
    }
    for (unsigned i = 0; i < TW6_N_PAIRS; i++)
        CU_ASSERT_EQUAL_FATAL(dp_sess_install(g.sessions, *k_v6_pairs[i].s), 0);
}

/* Ethernet + IPv6 + ext_len bytes of extension headers (the fixed
 * header's Next Header first_next) + UDP in front of the payload at
 * 62 + ext_len; the UDP checksum from dp_ipv6.h's byte-wise
 * dp_ipv6_l4_cksum (not the worker's summing code). */
static void write6(struct rte_mbuf *m, const struct rte_ether_addr *smac,
                   const struct rte_ether_addr *dmac, const uint8_t *src, const uint8_t *dst,
                   uint16_t sport, uint16_t dport, uint8_t first_next, const uint8_t *ext,
                   uint16_t ext_len)
{
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    memcpy(b, dmac->addr_bytes, 6);
    memcpy(b + 6, smac->addr_bytes, 6);
    b[12] = 0x86;
    b[13] = 0xdd;
    uint8_t *ip = b + 14;
    uint16_t l4 = (uint16_t)(m->data_len - 14 - 40 - ext_len);
    uint16_t plen = (uint16_t)(ext_len + l4);
    memset(ip, 0, 40);
    ip[0] = 0x60;
    ip[4] = (uint8_t)(plen >> 8);
    ip[5] = (uint8_t)plen;
    ip[6] = first_next;
    ip[7] = 64;
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    if (ext_len > 0)
        memcpy(ip + 40, ext, ext_len);
    uint8_t *u = ip + 40 + ext_len;
    uint16_t sp = rte_cpu_to_be_16(sport), dp = rte_cpu_to_be_16(dport);
    memcpy(u, &sp, 2);
    memcpy(u + 2, &dp, 2);
    u[4] = (uint8_t)(l4 >> 8);
    u[5] = (uint8_t)l4;
    u[6] = u[7] = 0;
    uint16_t c = dp_ipv6_l4_cksum(src, dst, DP_IPPROTO_UDP, u, l4);
    u[6] = (uint8_t)(c >> 8);
    u[7] = (uint8_t)c;
}

static struct rte_mbuf *client6_frame_ext(const struct rec_spec *rs, unsigned n, uint16_t sport,
                                          bool tamper, uint8_t first_next, const uint8_t *ext,
                                          uint16_t ext_len)
{
    struct rte_mbuf *m = records_frame(rs, n, tamper, (uint16_t)(DP_ETH_IP6_UDP_LEN + ext_len));
    write6(m, &cl_mac, &g.ports[0].mac, a_c6, a_l6, sport, 4433, first_next, ext, ext_len);
    m->port = 0;
    return m;
}

static struct rte_mbuf *client6_frame(const struct rec_spec *rs, unsigned n, uint16_t sport)
{
    return client6_frame_ext(rs, n, sport, false, DP_IPPROTO_UDP, NULL, 0);
}

static struct rte_mbuf *backend6_frame(const char *text, uint16_t sport, uint16_t dport)
{
    size_t tl = strlen(text);
    struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_IP6_UDP_LEN + tl));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    memcpy(d + DP_ETH_IP6_UDP_LEN, text, tl);
    write6(m, &nh_mac, &g.ports[1].mac, a_b6, a_n6, sport, dport, DP_IPPROTO_UDP, NULL, 0);
    m->port = 1;
    return m;
}

/* Checks Eth/IPv6/UDP of a sent frame (checksum against DPDK's
 * rte_ipv6_udptcp_cksum), returns the UDP payload. */
static const uint8_t *check_udp6(struct rte_mbuf *m, const struct rte_ether_addr *dmac,
                                 const uint8_t *sip, const uint8_t *dip, uint16_t sport,
                                 uint16_t dport, uint16_t *out_len)
{
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(b + 14);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + 54);
    CU_ASSERT(memcmp(b, dmac->addr_bytes, 6) == 0);
    CU_ASSERT(b[12] == 0x86 && b[13] == 0xdd);
    CU_ASSERT_EQUAL(b[14], 0x60);
    CU_ASSERT_EQUAL(ip->proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(ip->hop_limits, 64);
    CU_ASSERT(memcmp(b + 22, sip, 16) == 0);
    CU_ASSERT(memcmp(b + 38, dip, 16) == 0);
    CU_ASSERT_EQUAL(udp->src_port, rte_cpu_to_be_16(sport));
    CU_ASSERT_EQUAL(udp->dst_port, rte_cpu_to_be_16(dport));
    CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->payload_len), m->data_len - 54);
    CU_ASSERT_EQUAL(rte_be_to_cpu_16(udp->dgram_len), m->data_len - 54);
    CU_ASSERT(udp->dgram_cksum != 0);
    uint16_t got = udp->dgram_cksum;
    udp->dgram_cksum = 0;
    CU_ASSERT_EQUAL(got, rte_ipv6_udptcp_cksum(ip, udp));
    udp->dgram_cksum = got;
    *out_len = (uint16_t)(m->data_len - 62);
    return b + 62;
}

static void expect_backend6(uint16_t nport, const char *text)
{
    struct rte_mbuf *m = sent(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint16_t len;
    const uint8_t *p = check_udp6(m, &nh_mac, a_n6, a_b6, nport, 7000, &len);
    CU_ASSERT(len == strlen(text) && memcmp(p, text, len) == 0);
    rte_pktmbuf_free(m);
}

/* Every family pairing through the worker, both directions: the v6
 * headers written (addresses, ports, lengths, hop limit, checksum) and
 * the records opened with the reference key. */
static void test_v6_forward(void)
{
    v6_setup();
    uint64_t recs = cnt(DP_CNT_RX_RECORDS);
    for (unsigned i = 0; i < TW6_N_PAIRS; i++) {
        const struct v6_pair *vp = &k_v6_pairs[i];
        /* v6 to v6 twice: the second one from the IPv6 flow cache */
        unsigned n = vp->client6 && vp->backend6 ? 2 : 1;
        for (unsigned k = 0; k < n; k++) {
            struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 1 + k, vp->text};
            run(vp->client6 ? client6_frame(&r, 1, vp->cport)
                            : client_frame(&r, 1, vp->cport, false));
            if (vp->backend6)
                expect_backend6(vp->nport, vp->text);
            else
                expect_backend_port(vp->nport, 7000, vp->text);
            CU_ASSERT_EQUAL((*vp->s)->rx_records, 1 + k);
        }
    }
    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), recs + 4);

    /* Replies: IPv6 backend → IPv6 client, IPv4 backend → IPv6 client,
     * IPv6 backend → IPv4 client. */
    uint16_t len;
    const uint8_t *p;
    struct rte_mbuf *m;
    for (unsigned i = 0; i < TW6_N_PAIRS; i++) {
        const struct v6_pair *vp = &k_v6_pairs[i];
        run(vp->backend6 ? backend6_frame(vp->reply, 7000, vp->nport)
                         : backend_frame(vp->reply, 7000, vp->nport));
        m = sent(0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        p = vp->client6
                ? check_udp6(m, &cl_mac, a_l6, a_c6, 4433, vp->cport, &len)
                : check_udp(m, &cl_mac, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 4433, vp->cport, &len);
        open_record(p, len, 1, DP_CT_APPLICATION_DATA, vp->reply, strlen(vp->reply));
        rte_pktmbuf_free(m);
    }
    CU_ASSERT_EQUAL(s66->wr_seq, 2);

    /* A backend reply of the other family than the session's backend, or
     * from another address, is not the backend's. */
    uint64_t np = cnt(DP_CNT_DROP_NAT_PEER);
    run(backend_frame("v4 to a v6 backend's port", 7000, 20100));
    run(backend6_frame("v6 to a v4 backend's port", 7000, 20101));
    m = backend6_frame("from another address", 7000, 20100);
    uint8_t src[16]; /* a copy: write6 clears the header before it writes */
    memcpy(src, a_b6, 16);
    src[15] = 9;
    write6(m, &nh_mac, &g.ports[1].mac, src, a_n6, 7000, 20100, DP_IPPROTO_UDP, NULL, 0);
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NAT_PEER), np + 3);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* An options header (Hop-by-Hop or Destination) of 8 bytes: next, len 0,
 * then one option of type opt with 4 data bytes (PadN: skipped). */
static void opt_hdr(uint8_t *h, uint8_t next, uint8_t opt)
{
    h[0] = next;
    h[1] = 0;
    h[2] = opt;
    h[3] = 4;
    memset(h + 4, 0, 4);
}

/* RFC 8200 §4 cases, each as one frame to the IPv6 session: what is
 * skipped is forwarded, what is refused is counted by reason. */
static void test_v6_ext_headers(void)
{
    v6_setup();
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 100, "behind ext headers"};
    uint8_t ext[9 * 8];
    uint64_t c;

    /* Hop-by-Hop (PadN) then Destination Options then a Routing header
     * with Segments Left 0: all skipped. */
    opt_hdr(ext, DP_IPPROTO_DSTOPTS, DP_IPV6_OPT_PADN);
    opt_hdr(ext + 8, DP_IPPROTO_ROUTING, DP_IPV6_OPT_PADN);
    memset(ext + 16, 0, 8);
    ext[16] = DP_IPPROTO_UDP; /* routing: next, len 0, type 0, segments left 0 */
    run(client6_frame_ext(&r, 1, 5555, false, DP_IPPROTO_HOPOPTS, ext, 24));
    expect_backend6(20100, "behind ext headers");

    /* an option to skip when unknown (type 0x1e: high bits 00) */
    r.seq++;
    opt_hdr(ext, DP_IPPROTO_UDP, 0x1e);
    run(client6_frame_ext(&r, 1, 5555, false, DP_IPPROTO_DSTOPTS, ext, 8));
    expect_backend6(20100, "behind ext headers");

    struct {
        uint8_t first;
        unsigned n_hdrs; /* 8-byte headers in ext */
        enum dp_counter_id why;
        const char *what;
    } bad[] = {
        {DP_IPPROTO_DSTOPTS, 2, DP_CNT_DROP_IPV6_EXT, "Hop-by-Hop not first"},
        {DP_IPPROTO_ROUTING, 1, DP_CNT_DROP_IPV6_EXT, "routing, segments left 1"},
        {DP_IPPROTO_FRAGMENT, 1, DP_CNT_DROP_IPV6_FRAGMENT, "fragment"},
        {DP_IPPROTO_DSTOPTS, 1, DP_CNT_DROP_IPV6_EXT, "unknown option, discard"},
        {DP_IPPROTO_DSTOPTS, 9, DP_CNT_DROP_IPV6_EXT, "nine extension headers"},
        {DP_IPPROTO_NONE, 0, DP_CNT_DROP_IPV6_EXT, "no next header"},
    };
    for (unsigned i = 0; i < RTE_DIM(bad); i++) {
        memset(ext, 0, sizeof(ext));
        switch (i) {
        case 0:
            opt_hdr(ext, DP_IPPROTO_HOPOPTS, DP_IPV6_OPT_PADN);
            opt_hdr(ext + 8, DP_IPPROTO_UDP, DP_IPV6_OPT_PADN);
            break;
        case 1:
            ext[0] = DP_IPPROTO_UDP;
            ext[3] = 1;
            break;
        case 2: /* fragment header: next, reserved, offset 0 / M=1, id */
            ext[0] = DP_IPPROTO_UDP;
            ext[3] = 1;
            ext[7] = 42;
            break;
        case 3:
            opt_hdr(ext, DP_IPPROTO_UDP, 0xc2);
            break;
        case 4:
            for (unsigned k = 0; k < 9; k++)
                opt_hdr(ext + 8 * k, k == 8 ? DP_IPPROTO_UDP : DP_IPPROTO_DSTOPTS,
                        DP_IPV6_OPT_PADN);
            break;
        default:
            break;
        }
        c = cnt(bad[i].why);
        r.seq++;
        run(client6_frame_ext(&r, 1, 5555, false, bad[i].first, ext,
                              (uint16_t)(8 * bad[i].n_hdrs)));
        if (cnt(bad[i].why) != c + 1)
            fprintf(stderr, "ext case '%s' not counted\n", bad[i].what);
        CU_ASSERT_EQUAL(cnt(bad[i].why), c + 1);
        CU_ASSERT_PTR_NULL(sent(1));
    }
    CU_ASSERT_EQUAL(rte_ring_count(g.punt[0]), 0);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* The IPv6 header checks besides the extension headers. */
static void test_v6_header_drops(void)
{
    v6_setup();
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 200, "x"};
    struct rte_mbuf *m;
    uint64_t c;

    c = cnt(DP_CNT_DROP_IPV6_HEADER);
    m = client6_frame(&r, 1, 5555);
    rte_pktmbuf_trim(m, 10); /* payload length beyond the frame */
    run(m);
    m = client6_frame(&r, 1, 5555);
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - 14 - 39)); /* 39 bytes of IPv6 */
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IPV6_HEADER), c + 2);

    /* RFC 8200 §8.1: a zero UDP checksum is refused, to a listener too. */
    c = cnt(DP_CNT_DROP_IPV6_UDP_ZERO_CSUM);
    m = client6_frame(&r, 1, 5555);
    rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 54)->dgram_cksum = 0;
    run(m);
    m = backend6_frame("zero", 7000, 20100);
    rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 54)->dgram_cksum = 0;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IPV6_UDP_ZERO_CSUM), c + 2);

    /* A bad checksum: verified at once on the backend side, deferred on
     * the session's fast path (the tag decides) and checked before an
     * unknown peer's datagram leaves it. */
    c = cnt(DP_CNT_DROP_UDP_CSUM);
    m = backend6_frame("bad sum", 7000, 20100);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 62)[0] ^= 1;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), c + 1);
    struct rec_spec hs = {DP_CT_HANDSHAKE, 0, 0, "clienthello"};
    m = client6_frame(&hs, 1, 6100);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 62 + 13)[0] ^= 1;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), c + 2);
    uint64_t au = cnt(DP_CNT_DROP_AUTH);
    m = client6_frame(&r, 1, 5555);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 62 + 30)[0] ^= 1;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_AUTH), au + 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_CSUM), c + 2);

    /* Not ours: another destination; UDP to a solicited-node address. */
    c = cnt(DP_CNT_DROP_NOT_FOR_US);
    m = client6_frame(&r, 1, 5555);
    uint8_t other[16];
    memcpy(other, a_l6, 16);
    other[15] = 0x99;
    write6(m, &cl_mac, &g.ports[0].mac, a_c6, other, 5555, 4433, DP_IPPROTO_UDP, NULL, 0);
    run(m);
    uint8_t sn[16];
    dp_ipv6_solicited_node(a_l6, sn);
    m = client6_frame(&r, 1, 5555);
    write6(m, &cl_mac, &g.ports[0].mac, a_c6, sn, 5555, 4433, DP_IPPROTO_UDP, NULL, 0);
    run(m);
    /* An IPv4 datagram to 0.0.0.0 on the IPv6 listener's port: the IPv6
     * listener's zero ip_be must not match it. */
    m = client_frame(&r, 1, 5555, false);
    dp_pkt_write_ipv4_udp(m, &client_sim, &g.ports[0].mac, IP(10, 0, 0, 2), 0,
                          rte_cpu_to_be_16(5555), rte_cpu_to_be_16(4433));
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NOT_FOR_US), c + 3);

    /* A protocol that is neither UDP nor ICMPv6 (TCP) to our address. */
    c = cnt(DP_CNT_DROP_NOT_UDP);
    m = client6_frame(&r, 1, 5555);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = 6;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NOT_UDP), c + 1);

    c = cnt(DP_CNT_DROP_UDP_LEN);
    m = client6_frame(&r, 1, 5555);
    rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 54)->dgram_len =
        rte_cpu_to_be_16((uint16_t)(m->data_len - 54 - 1));
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_UDP_LEN), c + 1);
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_PTR_NULL(sent(0));
    ring_drain(g.punt[0]);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

static unsigned bad_src_hook_calls;

static int bad_src_hook(void *arg, unsigned listener, const struct dp_addr *peer, uint16_t port,
                        const uint8_t *d, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    (void)arg;
    (void)listener;
    (void)peer;
    (void)port;
    (void)d;
    (void)len;
    (void)out;
    (void)cap;
    *out_len = 0;
    bad_src_hook_calls++;
    return DP_PEER_PUNT;
}

/* Sources nobody can be answered at (RFC 4291: unspecified, loopback,
 * IPv4-mapped, multicast): a ClientHello, application data or a backend
 * datagram from one is dropped as DROP_IPV6_SOURCE before any lookup, on
 * the fast paths and the general ones, so that neither the worker's
 * cookie hook nor the control plane (no punt) ever sees it; ICMPv6 from
 * :: (a duplicate address detection probe) still goes to ND, ICMPv6 from
 * ::1 does not. */
static void test_v6_bad_sources(void)
{
    v6_setup();
    static const uint8_t unspec[16], loopback[16] = {[15] = 1};
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 10, 0, 0, 2};
    static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
    const uint8_t *bad[] = {unspec, loopback, mapped, all_nodes};
    struct rec_spec ch = {DP_CT_HANDSHAKE, 0, 0, "clienthello from nowhere"};
    struct rec_spec ad = {DP_CT_APPLICATION_DATA, 1, 500, "data from nowhere"};
    g.unknown_peer = bad_src_hook;
    g.unknown_peer_arg = &g;
    bad_src_hook_calls = 0;
    uint64_t c = cnt(DP_CNT_DROP_IPV6_SOURCE), pu = cnt(DP_CNT_PUNT);
    unsigned n = 0;
    for (int fast = 1; fast >= 0; fast--) {
        dp_worker_set_fast_paths(w, fast != 0);
        for (unsigned i = 0; i < RTE_DIM(bad); i++) {
            struct rte_mbuf *m = client6_frame(&ch, 1, 6300);
            write6(m, &cl_mac, &g.ports[0].mac, bad[i], a_l6, 6300, 4433, DP_IPPROTO_UDP, NULL, 0);
            run(m);
            m = client6_frame(&ad, 1, 5555);
            write6(m, &cl_mac, &g.ports[0].mac, bad[i], a_l6, 5555, 4433, DP_IPPROTO_UDP, NULL, 0);
            run(m);
            m = backend6_frame("reply from nowhere", 7000, 20100);
            write6(m, &nh_mac, &g.ports[1].mac, bad[i], a_n6, 7000, 20100, DP_IPPROTO_UDP, NULL, 0);
            run(m);
            n += 3;
        }
    }
    dp_worker_set_fast_paths(w, true);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IPV6_SOURCE), c + n);
    CU_ASSERT_EQUAL(bad_src_hook_calls, 0);
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu);
    CU_ASSERT_EQUAL(rte_ring_count(g.punt[0]), 0);
    CU_ASSERT_EQUAL(rte_ring_count(g.punt_net[0]), 0);
    CU_ASSERT_PTR_NULL(sent(0));
    CU_ASSERT_PTR_NULL(sent(1));

    /* ICMPv6 to our solicited-node address: from :: to ND, from ::1 not */
    struct rec_spec body = {DP_CT_HANDSHAKE, 0, 0, "icmpv6 body"};
    uint8_t sn[16];
    dp_ipv6_solicited_node(a_l6, sn);
    struct rte_mbuf *m = client6_frame(&body, 1, 7777);
    write6(m, &cl_mac, &g.ports[0].mac, unspec, sn, 7777, 4433, DP_IPPROTO_ICMPV6, NULL, 0);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = DP_IPPROTO_ICMPV6;
    run(m);
    CU_ASSERT_EQUAL(ring_drain(g.punt_net[0]), 1);
    m = client6_frame(&body, 1, 7777);
    write6(m, &cl_mac, &g.ports[0].mac, loopback, sn, 7777, 4433, DP_IPPROTO_ICMPV6, NULL, 0);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = DP_IPPROTO_ICMPV6;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_IPV6_SOURCE), c + n + 1);
    CU_ASSERT_EQUAL(rte_ring_count(g.punt_net[0]), 0);

    /* the same ClientHello from a real client does reach the hook */
    run(client6_frame(&ch, 1, 6300));
    CU_ASSERT_EQUAL(bad_src_hook_calls, 1);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1);
    g.unknown_peer = NULL;
    g.unknown_peer_arg = NULL;
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* ICMPv6 for the gateway (echo to its global or link-local address,
 * Neighbor Solicitations to its solicited-node addresses) goes to the
 * control plane's ND/ICMP ring; other multicast does not. */
static void test_v6_icmp_punt(void)
{
    v6_setup();
    struct rec_spec body = {DP_CT_HANDSHAKE, 0, 0, "icmpv6 body"};
    uint8_t dsts[5][16];
    memcpy(dsts[0], a_l6, 16);
    memcpy(dsts[1], g.ports[0].ip6_ll, 16);
    dp_ipv6_solicited_node(a_l6, dsts[2]);
    dp_ipv6_solicited_node(g.ports[0].ip6_ll, dsts[3]);
    memcpy(dsts[4], a_n6, 16); /* the backend-side port's address */
    uint64_t pu = cnt(DP_CNT_PUNT);
    for (unsigned i = 0; i < RTE_DIM(dsts); i++) {
        struct rte_mbuf *m = client6_frame(&body, 1, 7777);
        write6(m, &cl_mac, &g.ports[0].mac, a_c6, dsts[i], 7777, 4433, DP_IPPROTO_ICMPV6, NULL, 0);
        rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = DP_IPPROTO_ICMPV6;
        run(m);
    }
    CU_ASSERT_EQUAL(cnt(DP_CNT_PUNT), pu + RTE_DIM(dsts));
    CU_ASSERT_EQUAL(ring_drain(g.punt_net[0]), RTE_DIM(dsts));
    uint64_t nf = cnt(DP_CNT_DROP_NOT_FOR_US);
    static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    struct rte_mbuf *m = client6_frame(&body, 1, 7777);
    write6(m, &cl_mac, &g.ports[0].mac, a_c6, all_nodes, 7777, 4433, DP_IPPROTO_ICMPV6, NULL, 0);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = DP_IPPROTO_ICMPV6;
    run(m);
    CU_ASSERT_EQUAL(cnt(DP_CNT_DROP_NOT_FOR_US), nf + 1);
    CU_ASSERT_EQUAL(rte_ring_count(g.punt_net[0]), 0);
}

/* Hand-off of IPv6 frames to the owner, and the IPv6 flow cache after a
 * removal (the replacing session, or none). */
static void test_v6_handoff_flow_cache(void)
{
    v6_setup();
    uint64_t ho = cnt(DP_CNT_HANDOFF_OUT);
    g.n_workers = 2;
    s66->owner = 1;
    struct rec_spec r = {DP_CT_APPLICATION_DATA, 1, 300, "v6 for worker 1"};
    run(client6_frame(&r, 1, 5555));
    run(backend6_frame("v6 reply for worker 1", 7000, 20100));
    CU_ASSERT_EQUAL(cnt(DP_CNT_HANDOFF_OUT), ho + 2);
    struct rte_mbuf *ms[2];
    CU_ASSERT_EQUAL(rte_ring_dequeue_burst(g.handoff[1], (void **)ms, 2, NULL), 2);
    s66->owner = 0;
    g.n_workers = 1;
    dp_worker_process(w, ms, 2, true);
    dp_worker_flush(w);
    expect_backend6(20100, "v6 for worker 1");
    struct rte_mbuf *c = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    uint16_t len;
    (void)check_udp6(c, &cl_mac, a_l6, a_c6, 4433, 5555, &len);
    rte_pktmbuf_free(c);

    struct dp_session *a = sess_copy();
    key6_set(a, 5558);
    backend6_set(a, 20103);
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(g.sessions, a), 0);
    struct rec_spec q = {DP_CT_APPLICATION_DATA, 1, 10, "first"};
    run(client6_frame(&q, 1, 5558));
    expect_backend6(20103, "first");
    q.seq = 11;
    run(client6_frame(&q, 1, 5558)); /* from the cache */
    expect_backend6(20103, "first");
    dp_sess_remove(g.sessions, a, false);
    struct dp_session *b = sess_copy();
    key6_set(b, 5558);
    backend6_set(b, 20104);
    CU_ASSERT_EQUAL_FATAL(dp_sess_install(g.sessions, b), 0);
    CU_ASSERT_EQUAL(dp_sess_reclaim(g.sessions, NULL, NULL, true), 1);
    q.seq = 12;
    q.text = "second";
    run(client6_frame(&q, 1, 5558));
    expect_backend6(20104, "second");
    CU_ASSERT_EQUAL(b->rx_records, 1);
    uint64_t fwd = cnt(DP_CNT_RX_RECORDS);
    dp_sess_remove(g.sessions, b, false);
    CU_ASSERT_EQUAL(dp_sess_reclaim(g.sessions, NULL, NULL, true), 1);
    q.seq = 13;
    run(client6_frame(&q, 1, 5558));
    CU_ASSERT_PTR_NULL(sent(1));
    CU_ASSERT_EQUAL(cnt(DP_CNT_RX_RECORDS), fwd);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1); /* unknown peer: punted (no hook) */
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* Application data beside a handshake record over IPv6: forwarded, and
 * the punted remainder has consistent IPv6/UDP lengths and a valid
 * (mandatory) UDP checksum. */
static void test_v6_mixed_datagram(void)
{
    v6_setup();
    struct rec_spec rs[2] = {{DP_CT_APPLICATION_DATA, 1, 400, "v6 data"},
                             {DP_CT_HANDSHAKE, 1, 401, "repeated finished"}};
    uint8_t ext[8];
    opt_hdr(ext, DP_IPPROTO_UDP, DP_IPV6_OPT_PADN);
    run(client6_frame_ext(rs, 2, 5555, false, DP_IPPROTO_HOPOPTS, ext, 8));
    expect_backend6(20100, "v6 data");
    void *o = NULL;
    CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue(g.punt[0], &o), 0);
    struct rte_mbuf *p = o;
    const uint8_t *d = rte_pktmbuf_mtod(p, const uint8_t *);
    size_t r1 = 13 + 8 + strlen(rs[1].text) + 16;
    CU_ASSERT_EQUAL(p->data_len, 62 + 8 + r1);
    CU_ASSERT_EQUAL(dp_load_be16(d + 14 + 4), 8 + 8 + r1);
    struct dp_ipv6_view v;
    memset(&v, 0, sizeof(v));
    CU_ASSERT_EQUAL_FATAL(dp_ipv6_parse(d + 14, p->data_len - 14u, &v), DP_IPV6_OK);
    CU_ASSERT_EQUAL(v.l4_len, 8 + r1);
    CU_ASSERT(dp_ipv6_l4_cksum_ok(v.src, v.dst, DP_IPPROTO_UDP, d + 14 + v.l4_off, v.l4_len, 6));
    CU_ASSERT_EQUAL(d[14 + v.l4_off + 8], DP_CT_HANDSHAKE);
    rte_pktmbuf_free(p);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

static unsigned hook6_calls;

static int test_hook6(void *arg, unsigned listener, const struct dp_addr *peer, uint16_t port,
                      const uint8_t *d, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    (void)arg;
    (void)d;
    (void)len;
    CU_ASSERT_EQUAL(listener, TW6_LISTENER);
    CU_ASSERT_EQUAL(peer->family, DP_AF_V6);
    CU_ASSERT(memcmp(peer->u.v6, a_c6, 16) == 0);
    CU_ASSERT_EQUAL(port, rte_cpu_to_be_16(6200));
    hook6_calls++;
    CU_ASSERT_FATAL(cap >= 5);
    memcpy(out, "HVR6!", 5);
    *out_len = 5;
    return DP_PEER_REPLY;
}

/* The worker's stateless reply to an IPv6 peer: in place, extension
 * headers dropped, addresses swapped, checksum right; a busy slot
 * (dp_peer_slot_addr) sends the datagram to the control plane. */
static void test_v6_unknown_peer_hook(void)
{
    v6_setup();
    g.unknown_peer = test_hook6;
    g.unknown_peer_arg = &g;
    struct rec_spec ch = {DP_CT_HANDSHAKE, 0, 0, "v6 clienthello"};
    uint8_t ext[16];
    opt_hdr(ext, DP_IPPROTO_DSTOPTS, DP_IPV6_OPT_PADN);
    opt_hdr(ext + 8, DP_IPPROTO_UDP, DP_IPV6_OPT_PADN);
    uint64_t hv = cnt(DP_CNT_HVR_SENT);
    run(client6_frame_ext(&ch, 1, 6200, false, DP_IPPROTO_HOPOPTS, ext, 16));
    CU_ASSERT_EQUAL(hook6_calls, 1);
    CU_ASSERT_EQUAL(cnt(DP_CNT_HVR_SENT), hv + 1);
    struct rte_mbuf *m = sent(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint16_t len;
    const uint8_t *p = check_udp6(m, &cl_mac, a_l6, a_c6, 4433, 6200, &len);
    CU_ASSERT(len == 5 && memcmp(p, "HVR6!", 5) == 0);
    rte_pktmbuf_free(m);
    struct dp_addr peer = dp_addr_v6(a_c6);
    uint32_t slot = dp_peer_slot_addr(&peer, rte_cpu_to_be_16(6201));
    g.peer_busy[slot] = 1;
    run(client6_frame(&ch, 1, 6201));
    g.peer_busy[slot] = 0;
    CU_ASSERT_EQUAL(hook6_calls, 1);
    CU_ASSERT_EQUAL(ring_drain(g.punt[0]), 1);
    g.unknown_peer = NULL;
    g.unknown_peer_arg = NULL;
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

static void test_v6_seal_frame(void)
{
    v6_setup();
    uint64_t seq0 = s66->wr_seq;
    static const uint8_t cn[2] = {1, 0};
    struct rte_mbuf *m = dp_session_seal_frame(&g, s66, ref_ctx, DP_CT_ALERT, cn, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uint16_t len;
    const uint8_t *p = check_udp6(m, &cl_mac, a_l6, a_c6, 4433, 5555, &len);
    open_record(p, len, seq0, DP_CT_ALERT, cn, sizeof(cn));
    rte_pktmbuf_free(m);
}

/* fast paths vs general checks on IPv6 frames of s66 (one_record_fast
 * serves IPv6 sessions too; classify_fast leaves them to classify). */
static void test_v6_fast_paths_match_general(void)
{
    v6_setup();
    enum {
        N = 1500
    };
    static struct emitted ef, eg;
    static char text[256];
    unsigned lc = rte_lcore_id();
    uint64_t next_seq = 1000;
    size_t rsz = dp_replay_size(TW_REPLAY_WIN_BITS);
    uint8_t w0[TW_SNAP_WIN_MAX_BYTES], wf[TW_SNAP_WIN_MAX_BYTES], wg[TW_SNAP_WIN_MAX_BYTES];
    unsigned mismatches = 0, forwarded = 0;
    for (unsigned i = 0; i < N && mismatches < 5; i++) {
        struct rec_spec rs[2];
        unsigned nrec = rte_rand() % 5 == 0 ? 2 : 1;
        for (unsigned k = 0; k < nrec; k++) {
            unsigned tl = (unsigned)(rte_rand() % 200);
            for (unsigned j = 0; j < tl; j++)
                text[j] = (char)('a' + rte_rand() % 26);
            text[tl] = '\0';
            uint64_t x = rte_rand() % 100;
            rs[k].type = x < 90 ? DP_CT_APPLICATION_DATA : DP_CT_HANDSHAKE;
            rs[k].epoch = rte_rand() % 10 == 0 ? 2 : 1;
            x = rte_rand() % 100;
            rs[k].seq = x < 85 ? next_seq++ : next_seq - 1 - rte_rand() % 4;
            rs[k].text = text;
        }
        struct rte_mbuf *mf =
            client6_frame_ext(rs, nrec, 5555, rte_rand() % 10 == 0, DP_IPPROTO_UDP, NULL, 0);
        uint8_t *d = rte_pktmbuf_mtod(mf, uint8_t *);
        switch (rte_rand() % 6) {
        case 0:
            d[62 + rte_rand() % DP_REC_HDR_LEN] ^= (uint8_t)(1 + rte_rand() % 255);
            write6(mf, &cl_mac, &g.ports[0].mac, a_c6, a_l6, 5555, 4433, DP_IPPROTO_UDP, NULL, 0);
            break;
        case 1:
            (void)rte_pktmbuf_trim(mf, (uint16_t)(1 + rte_rand() % 3));
            write6(mf, &cl_mac, &g.ports[0].mac, a_c6, a_l6, 5555, 4433, DP_IPPROTO_UDP, NULL, 0);
            break;
        case 2:
            mf->ol_flags |=
                rte_rand() % 2 ? RTE_MBUF_F_RX_L4_CKSUM_GOOD : RTE_MBUF_F_RX_L4_CKSUM_BAD;
            break;
        default:
            break;
        }
        struct rte_mbuf *mg = rte_pktmbuf_copy(mf, g.pool, 0, UINT32_MAX);
        CU_ASSERT_PTR_NOT_NULL_FATAL(mg);
        mg->ol_flags = mf->ol_flags;
        memcpy(w0, s66->replay, rsz);
        uint64_t rx0 = s66->rx_records, rxf;
        struct dp_lcore_counters c0 = dp_counters[lc], cf, cg;
        dp_worker_set_fast_paths(w, true);
        run(mf);
        collect(&ef);
        cf = dp_counters[lc];
        memcpy(wf, s66->replay, rsz);
        rxf = s66->rx_records;
        memcpy(s66->replay, w0, rsz);
        s66->rx_records = rx0;
        dp_counters[lc] = c0;
        dp_worker_set_fast_paths(w, false);
        run(mg);
        collect(&eg);
        cg = dp_counters[lc];
        memcpy(wg, s66->replay, rsz);
        dp_worker_set_fast_paths(w, true);
        bool same = ef.len == eg.len && memcmp(ef.buf, eg.buf, ef.len) == 0 &&
                    memcmp(&cf, &cg, sizeof(cf)) == 0 && memcmp(wf, wg, rsz) == 0 &&
                    rxf == s66->rx_records;
        if (!same) {
            mismatches++;
            fprintf(stderr, "v6 fast/general mismatch at frame %u\n", i);
        }
        forwarded += cg.c[DP_CNT_RX_RECORDS] != c0.c[DP_CNT_RX_RECORDS];
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT(forwarded > N / 3);
    CU_ASSERT_EQUAL(rte_mempool_in_use_count(g.pool), 0);
}

/* dp_pkt_write_ipv6_udp's checksum against DPDK's on random addresses,
 * ports and payloads (odd lengths included); with TX offload the
 * pseudo-header sum (rte_ipv6_phdr_cksum) and the flags. */
static void test_write6_csums(void)
{
    struct dp_port p = g.ports[1];
    p.tx_csum_offload = false;
    for (unsigned iter = 0; iter < 500; iter++) {
        uint16_t len = (uint16_t)(rte_rand() % 1400);
        uint8_t src[16], dst[16];
        for (int k = 0; k < 16; k++) {
            src[k] = (uint8_t)rte_rand();
            dst[k] = iter % 53 == 0 ? 0xff : (uint8_t)rte_rand();
        }
        struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_IP6_UDP_LEN + len));
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        for (uint16_t k = 0; k < len; k++)
            d[DP_ETH_IP6_UDP_LEN + k] = (uint8_t)rte_rand();
        uint16_t sp = (uint16_t)rte_rand(), dpt = (uint16_t)rte_rand();
        dp_pkt_write_ipv6_udp(m, &p, &nh_mac, src, dst, sp, dpt);
        struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(d + 14);
        struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(d + 54);
        uint16_t got = udp->dgram_cksum;
        udp->dgram_cksum = 0;
        bool ok = got != 0 && got == rte_ipv6_udptcp_cksum(ip, udp) &&
                  dp_ipv6_l4_cksum(src, dst, DP_IPPROTO_UDP, (const uint8_t *)udp, len + 8u) ==
                      rte_be_to_cpu_16(got) &&
                  rte_be_to_cpu_16(ip->payload_len) == len + 8 && m->l3_len == 40;
        p.tx_csum_offload = true;
        m->ol_flags = 0;
        dp_pkt_write_ipv6_udp(m, &p, &nh_mac, src, dst, sp, dpt);
        p.tx_csum_offload = false;
        ok = ok && m->ol_flags == (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM) &&
             udp->dgram_cksum == rte_ipv6_phdr_cksum(ip, m->ol_flags);
        rte_pktmbuf_free(m);
        if (!ok) {
            CU_FAIL("written IPv6/UDP checksum wrong");
            break;
        }
    }
}

void cu_register(void)
{
    CU_pSuite p = CU_add_suite("dp_port", NULL, NULL);
    CU_add_test(p, "checksum vs rte_raw_cksum", test_cksum_differential);
    CU_add_test(p, "checksum without AVX-512 vs rte_raw_cksum", test_cksum_no512_differential);
    CU_pSuite s = CU_add_suite("dp_worker", suite_init, suite_clean);
    CU_add_test(s, "client record forwarded to backend", test_forward_one);
    CU_add_test(s, "replay and bad tag dropped", test_replay_and_auth);
    CU_add_test(s, "several records per datagram", test_multi_record);
    CU_add_test(s, "more frames than one burst", test_burst_many);
    CU_add_test(s, "punts to the control plane", test_punts);
    CU_add_test(s, "ARP/ICMP punted apart from a full DTLS punt ring", test_punt_net_apart);
    CU_add_test(s, "application data next to control-plane records", test_mixed_datagram);
    CU_add_test(s, "backend reply encrypted to client", test_backend_reply);
    CU_add_test(s, "spoofed backend reply (wrong port, wrong MAC) dropped",
                test_spoofed_backend_reply);
    CU_add_test(s, "backend-side drops", test_backend_drops);
    CU_add_test(s, "backend reply to a NAT pool address", test_nat_pool_reply);
    CU_add_test(s, "header and checksum drops", test_header_drops);
    CU_add_test(s, "RX UDP checksum policy", test_csum_policy);
    CU_add_test(s, "next hop unresolved", test_nexthop_unresolved);
    CU_add_test(s, "hand-off to the owner", test_handoff);
    CU_add_test(s, "control-plane sealed frame", test_seal_frame);
    CU_add_test(s, "flow cache drops removed sessions", test_flow_cache_removal);
    CU_add_test(s, "fast paths match the general checks", test_fast_paths_match_general);
    CU_add_test(s, "replay re-check across frames of one burst",
                test_replay_across_frames_in_burst);
    CU_add_test(s, "unknown-peer hook (worker HelloVerifyRequest)", test_unknown_peer_hook);
    CU_add_test(s, "garbage datagrams counted", test_garbage);
    CU_add_test(s, "written checksums verify", test_write_csums);
    CU_add_test(s, "IPv6: every family pairing, both directions", test_v6_forward);
    CU_add_test(s, "IPv6: extension headers skipped or refused", test_v6_ext_headers);
    CU_add_test(s, "IPv6: header and checksum drops", test_v6_header_drops);
    CU_add_test(s, "IPv6: unanswerable sources dropped, DAD still to ND", test_v6_bad_sources);
    CU_add_test(s, "IPv6: ICMPv6/ND to the control plane", test_v6_icmp_punt);
    CU_add_test(s, "IPv6: hand-off and flow cache", test_v6_handoff_flow_cache);
    CU_add_test(s, "IPv6: application data next to other records", test_v6_mixed_datagram);
    CU_add_test(s, "IPv6: unknown-peer hook reply", test_v6_unknown_peer_hook);
    CU_add_test(s, "IPv6: control-plane sealed frame", test_v6_seal_frame);
    CU_add_test(s, "IPv6: fast paths match the general checks", test_v6_fast_paths_match_general);
    CU_add_test(s, "IPv6: written checksums verify", test_write6_csums);
    /* Last: its sequence numbers (400000+) move the session's window. */
    CU_add_test(s, "single-record datagram edges", test_single_record_edges);
    CU_add_test(s, "backend_udp_checksum off: UDP checksum 0 to the backend",
                test_backend_csum_zero);
}
