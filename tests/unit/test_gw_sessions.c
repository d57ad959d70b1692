/* test_gw_sessions.c — CUnit suite for control/gw_sessions.c: session
 * install into the dataplane table (NAT port, backend binding, keys),
 * NAT exhaustion, removal and reclaim (the NAT port is free only after
 * the grace period; close_notify sealed at the session's write sequence),
 * kill, and the session-alert path (session_alert_open: a close_notify
 * sealed with the client key is read, a replayed one and a bad tag are
 * dropped and counted).  gw_sessions.c is included so its static
 * functions are reachable; the rest is the real control plane
 * (gw_cp_create, test_gw_cp.h) over net_ring ports. */
#include <string.h>

#include "cr_aead.h"
#include "cu_main.h"
#include "dp_record.h"
#include "gw_cmds.h"
#include "gw_peers.h"
#include "gw_sessions.c"
#include "test_gw_cp.h"

#define TS_NAT_MIN  20000
#define TS_NAT_MAX  20001 /* two NAT ports */
#define TS_WSEQ     10    /* server_write_seq_next of the fake handshake */
#define TS_RSEQ_TOP 3     /* client_read_seq_top: the client's Finished */

static const struct rte_ether_addr cl_mac = {{0x02, 0, 0, 0, 0, 8}};
static const uint8_t k_c[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t k_s[16] = {21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36};
static const uint8_t iv_c[4] = {0xa1, 0xa2, 0xa3, 0xa4};
static const uint8_t iv_s[4] = {0xb1, 0xb2, 0xb3, 0xb4};
static struct cr_aead_ctx *ref_ctx;
static struct cr_aead_key ref_client, ref_server; /* the client's copies */

static int suite_init(void)
{
    if (tgc_dataplane_init("t_gw_sessions") != 0)
        return -1;
    struct tgc_opts o = {.nat_min = TS_NAT_MIN, .nat_max = TS_NAT_MAX};
    if (tgc_cp_create(&o) != 0)
        return -1;
    ref_ctx = cr_aead_ctx_new();
    if (ref_ctx == NULL ||
        cr_aead_key_init(&ref_client, ref_ctx, CR_AEAD_AES128_GCM, k_c, 16, iv_c, 4) != 0 ||
        cr_aead_key_init(&ref_server, ref_ctx, CR_AEAD_AES128_GCM, k_s, 16, iv_s, 4) != 0)
        return -1;
    return 0;
}

static int suite_clean(void)
{
    tgc_cp_free();
    cr_aead_ctx_free(ref_ctx);
    tgc_dataplane_free();
    return 0;
}

/* What a finished AES-128-GCM handshake hands over. */
static void fake_keys(struct hs_keys *k)
{
    memset(k, 0, sizeof(*k));
    k->aead = CR_AEAD_AES128_GCM;
    k->epoch = 1;
    k->key_len = 16;
    k->iv_len = 4;
    memcpy(k->client_write_key, k_c, 16);
    memcpy(k->server_write_key, k_s, 16);
    memcpy(k->client_write_iv, iv_c, 4);
    memcpy(k->server_write_iv, iv_s, 4);
    k->server_write_seq_next = TS_WSEQ;
    k->client_read_seq_top = TS_RSEQ_TOP;
    k->ems = true;
}

/* The dataplane's IPv4 key of an IPv4 peer key. */
static const struct dp_sess_key *v4key(const cp_key_t *k)
{
    static struct dp_sess_key out;
    memset(&out, 0, sizeof(out));
    out.client_ip = cp_key_client_v4(k);
    out.local_ip = cp_key_local_v4(k);
    out.client_port = k->client_port;
    out.local_port = k->local_port;
    return &out;
}

static struct cp_peer *new_peer(uint8_t host, uint16_t port)
{
    struct dp_addr c = dp_addr_v4(TGC_IP(10, 0, 0, host)), l = dp_addr_v4(TGC_IP(10, 0, 0, 1));
    cp_key_t key = cp_key_make(&c, rte_cpu_to_be_16(port), &l, rte_cpu_to_be_16(4433));
    struct cp_peer *p = gw_peer_insert(tgc_cp, &key, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

/* A peer with an installed session. */
static struct cp_peer *new_session(uint8_t host, uint16_t port)
{
    struct cp_peer *p = new_peer(host, port);
    struct hs_keys k;
    fake_keys(&k);
    CU_ASSERT_EQUAL_FATAL(gw_sess_install_keys(tgc_cp, p, &k), CR_OK);
    gw_peer_hs_done(tgc_cp, p); /* a session now, as handle_out does */
    return p;
}

static void test_install(void)
{
    uint64_t inst = tgc_cnt(DP_CNT_CP_SESS_INSTALLED);
    struct cp_peer *p = new_peer(20, 40000);
    struct hs_keys k;
    fake_keys(&k);
    CU_ASSERT_EQUAL_FATAL(gw_sess_install_keys(tgc_cp, p, &k), CR_OK);
    struct dp_session *s = p->sess;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_SESS_INSTALLED), inst + 1);
    /* in the dataplane table, under its key and its NAT port */
    CU_ASSERT_PTR_EQUAL(dp_sess_lookup(tgc_g.sessions, v4key(&p->key)), s);
    CU_ASSERT(s->nat_port >= TS_NAT_MIN && s->nat_port <= TS_NAT_MAX);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(tgc_g.sessions, s->nat_ip, s->nat_port), s);
    CU_ASSERT_TRUE(gw_sess_nat_used(tgc_cp, s->nat_ip, s->nat_port));
    CU_ASSERT_PTR_EQUAL(s->cp_ref, p);
    /* bound to the listener's backend through port 1 */
    CU_ASSERT_EQUAL(s->backend_ip, TGC_IP(10, 0, 1, 2));
    CU_ASSERT_EQUAL(s->backend_port, rte_cpu_to_be_16(tgc_cfg.listeners[0].backend_port));
    CU_ASSERT_EQUAL(s->backend_port_id, 1);
    CU_ASSERT_EQUAL(s->nat_ip, tgc_g.ports[1].ip_be);
    CU_ASSERT_EQUAL(s->client_port_id, 0);
    CU_ASSERT(rte_is_same_ether_addr(&s->client_mac, &cl_mac));
    CU_ASSERT_EQUAL(s->owner, 0);
    CU_ASSERT_EQUAL(s->epoch, 1);
    CU_ASSERT_EQUAL(s->version, DP_VERSION_DTLS12);
    CU_ASSERT_EQUAL(s->explicit_nonce_len, 8);
    CU_ASSERT_EQUAL(s->tag_len, 16);
    CU_ASSERT_EQUAL(s->wr_seq, TS_WSEQ);
    /* the client's Finished is marked received in both windows */
    CU_ASSERT_EQUAL(dp_replay_check(s->replay, TS_RSEQ_TOP), DP_REPLAY_DUP);
    CU_ASSERT_EQUAL(dp_replay_check(s->replay, TS_RSEQ_TOP + 1), DP_REPLAY_OK);
    CU_ASSERT_EQUAL(dp_replay_check((struct dp_replay *)p->alert_win, TS_RSEQ_TOP), DP_REPLAY_DUP);
    gw_peer_free(tgc_cp, p, false);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(dp_sess_count(tgc_g.sessions), 0);
    CU_ASSERT_EQUAL(tgc_tx_drain(0), 0); /* no close_notify asked */
}

static void test_install_no_keys(void)
{
    struct cp_peer *p = new_peer(21, 40000);
    CU_ASSERT_EQUAL(gw_sess_install_keys(tgc_cp, p, NULL), CR_ERR_INVAL);
    CU_ASSERT_PTR_NULL(p->sess);
    gw_peer_free(tgc_cp, p, false);
}

static void test_nat_exhaustion_and_reclaim(void)
{
    struct cp_peer *a = new_session(30, 1000), *b = new_session(31, 1000);
    CU_ASSERT_NOT_EQUAL(a->sess->nat_port, b->sess->nat_port);
    CU_ASSERT_EQUAL(dp_sess_count(tgc_g.sessions), 2);
    /* both NAT ports taken: the third session is refused and counted */
    uint64_t exh = tgc_cnt(DP_CNT_DROP_CP_NAT_EXHAUSTED);
    struct cp_peer *c = new_peer(32, 1000);
    struct hs_keys k;
    fake_keys(&k);
    CU_ASSERT_EQUAL(gw_sess_install_keys(tgc_cp, c, &k), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_NAT_EXHAUSTED), exh + 1);
    CU_ASSERT_PTR_NULL(c->sess);
    CU_ASSERT_PTR_NULL(dp_sess_lookup(tgc_g.sessions, v4key(&c->key)));
    CU_ASSERT_EQUAL(dp_sess_count(tgc_g.sessions), 2);

    /* removal: gone from the table at once, its NAT port only once the
     * grace period is over (a worker may still hold the session) */
    uint16_t nat = a->sess->nat_port;
    uint32_t nat_ip = a->sess->nat_ip;
    cp_key_t ka = a->key;
    uint64_t freed = tgc_cnt(DP_CNT_CP_SESS_FREED);
    gw_sess_remove(tgc_cp, a, false);
    CU_ASSERT_PTR_NULL(a->sess);
    CU_ASSERT_PTR_NULL(dp_sess_lookup(tgc_g.sessions, v4key(&ka)));
    CU_ASSERT_PTR_NULL(dp_sess_by_nat(tgc_g.sessions, nat_ip, nat));
    CU_ASSERT_TRUE(gw_sess_nat_used(tgc_cp, nat_ip, nat));
    CU_ASSERT_EQUAL(dp_sess_pending(tgc_g.sessions), 1);
    CU_ASSERT_EQUAL(gw_sess_install_keys(tgc_cp, c, &k), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_SESS_FREED), freed + 1);
    CU_ASSERT_FALSE(gw_sess_nat_used(tgc_cp, nat_ip, nat));
    /* removing again is harmless */
    gw_sess_remove(tgc_cp, a, false);
    /* the freed port serves the next session */
    CU_ASSERT_EQUAL(gw_sess_install_keys(tgc_cp, c, &k), CR_OK);
    CU_ASSERT_EQUAL(c->sess->nat_port, nat);
    gw_peers_free_all(tgc_cp, false);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 2);
    CU_ASSERT_FALSE(gw_sess_nat_used(tgc_cp, nat_ip, TS_NAT_MIN));
    CU_ASSERT_FALSE(gw_sess_nat_used(tgc_cp, nat_ip, TS_NAT_MAX));
    CU_ASSERT_EQUAL(tgc_tx_drain(0), 0);
}

/* Issue 11: with a NAT pool of two addresses on the backend port (and two
 * NAT ports) the control plane hands out all four (address, port) slots,
 * each session under its own slot in the dataplane's NAT map, and refuses
 * the fifth (DROP_CP_NAT_EXHAUSTED); a freed slot serves again. */
static void test_nat_pool_exhaustion(void)
{
    tgc_cp_free();
    struct dp_sess_table *saved = tgc_g.sessions;
    const struct dp_nat_pool pools[2] = {{0, 0}, {.first = 0x0a00010a, .n_addrs = 2}};
    tgc_g.sessions =
        dp_sess_table_create_nat("tgc_pool_sess", 64, 1, SOCKET_ID_ANY, pools, 2, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tgc_g.sessions);
    struct tgc_opts o = {.nat_min = TS_NAT_MIN, .nat_max = TS_NAT_MAX};
    CU_ASSERT_EQUAL_FATAL(tgc_cp_create(&o), 0);
    struct cp_peer *p[4];
    unsigned seen = 0; /* bit (address index * 2 + port - TS_NAT_MIN) */
    for (unsigned i = 0; i < 4; i++) {
        p[i] = new_session((uint8_t)(40 + i), 1000);
        struct dp_session *s = p[i]->sess;
        uint32_t a = rte_be_to_cpu_32(s->nat_ip) - 0x0a00010a;
        CU_ASSERT_FATAL(a < 2 && s->nat_port >= TS_NAT_MIN && s->nat_port <= TS_NAT_MAX);
        seen |= 1u << (a * 2 + s->nat_port - TS_NAT_MIN);
        CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(tgc_g.sessions, s->nat_ip, s->nat_port), s);
        CU_ASSERT_TRUE(gw_sess_nat_used(tgc_cp, s->nat_ip, s->nat_port));
    }
    CU_ASSERT_EQUAL(seen, 0xf); /* both addresses, both ports */
    uint64_t exh = tgc_cnt(DP_CNT_DROP_CP_NAT_EXHAUSTED);
    struct cp_peer *c = new_peer(50, 1000);
    struct hs_keys k;
    fake_keys(&k);
    CU_ASSERT_EQUAL(gw_sess_install_keys(tgc_cp, c, &k), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_NAT_EXHAUSTED), exh + 1);
    CU_ASSERT_PTR_NULL(c->sess);
    /* the port's own address is not in this pool: not a NAT slot */
    CU_ASSERT_TRUE(gw_sess_nat_used(tgc_cp, tgc_g.ports[1].ip_be, TS_NAT_MIN));
    uint32_t ip = p[2]->sess->nat_ip;
    uint16_t port = p[2]->sess->nat_port;
    gw_peer_free(tgc_cp, p[2], false);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_FALSE(gw_sess_nat_used(tgc_cp, ip, port));
    CU_ASSERT_EQUAL(gw_sess_install_keys(tgc_cp, c, &k), CR_OK);
    CU_ASSERT_EQUAL(c->sess->nat_ip, ip);
    CU_ASSERT_EQUAL(c->sess->nat_port, port);
    gw_peers_free_all(tgc_cp, false);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 4);
    tgc_cp_free();
    dp_sess_table_free(tgc_g.sessions);
    tgc_g.sessions = saved;
    CU_ASSERT_EQUAL_FATAL(tgc_cp_create(&o), 0);
}

/* The one frame on port 0's TX ring holds an alert sealed with the server
 * key at seq: returns its plaintext (level << 8 | description), or -1. */
static int sent_alert(uint64_t seq)
{
    void *v = NULL;
    if (rte_ring_dequeue(tgc_tx[0], &v) != 0)
        return -1;
    struct rte_mbuf *m = v;
    int res = -1;
    const size_t l2l4 =
        RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr);
    uint8_t *r = rte_pktmbuf_mtod_offset(m, uint8_t *, l2l4);
    if (m->data_len == l2l4 + DP_REC_HDR_LEN + 8 + DP_ALERT_LEN + 16 &&
        r[DP_REC_OFF_TYPE] == DP_CT_ALERT && dp_load_be48(r + DP_REC_OFF_SEQ) == seq) {
        struct cr_aead_op o;
        memset(&o, 0, sizeof(o));
        o.key = &ref_server;
        o.in = o.out = r + DP_REC_HDR_LEN + 8;
        o.tag = r + DP_REC_HDR_LEN + 8 + DP_ALERT_LEN;
        o.len = DP_ALERT_LEN;
        o.epoch = 1;
        o.version = DP_VERSION_DTLS12;
        o.seq = seq;
        o.explicit_nonce = r + DP_REC_HDR_LEN;
        o.type = DP_CT_ALERT;
        if (cr_aead_open_batch(ref_ctx, &o, 1) == 1)
            res = o.out[0] << 8 | o.out[1];
    }
    rte_pktmbuf_free(m);
    return res;
}

static void test_kill(void)
{
    struct cp_peer *a = new_session(40, 5000);
    cp_key_t ka = a->key;
    uint64_t cn = tgc_cnt(DP_CNT_CP_CLOSE_NOTIFY_SENT);
    /* an unknown client: nothing ends, the count says so */
    CU_ASSERT_EQUAL(gw_sess_kill(tgc_cp, TGC_IP(10, 0, 0, 41), 0), 0);
    CU_ASSERT_EQUAL(gw_sess_kill(tgc_cp, cp_key_client_v4(&ka), rte_cpu_to_be_16(5001)), 0);
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &ka), a);
    CU_ASSERT_EQUAL(dp_sess_count(tgc_g.sessions), 1);
#ifdef GW_HAVE_CTL
    /* dtlsgw-ctl kill of an unknown client: {"killed":0}, not an error
     * (the e2e suite reads that count) */
    struct gw_ctl_handlers h;
    gw_cmds_handlers(tgc_cp, &h);
    char err[GW_CTL_ERR_MAX_LEN] = "";
    json_t *res = json_object();
    CU_ASSERT_EQUAL(h.kill(h.arg, (10u << 24) | 41, 5000, res, err), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(res, "killed")), 0);
    json_decref(res);
#endif
    /* the session's client: ended, told close_notify after the grace
     * period at the session's write sequence */
    CU_ASSERT_EQUAL(gw_sess_kill(tgc_cp, cp_key_client_v4(&ka), ka.client_port), 1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &ka));
    CU_ASSERT_PTR_NULL(dp_sess_lookup(tgc_g.sessions, v4key(&ka)));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_CLOSE_NOTIFY_SENT), cn);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_CLOSE_NOTIFY_SENT), cn + 1);
    CU_ASSERT_EQUAL(sent_alert(TS_WSEQ), DP_ALERT_LEVEL_WARNING << 8 | DP_ALERT_CLOSE_NOTIFY);
    /* every port of an address */
    new_session(42, 1);
    new_session(42, 2);
    CU_ASSERT_EQUAL(gw_sess_kill(tgc_cp, TGC_IP(10, 0, 0, 42), 0), 2);
    CU_ASSERT_EQUAL(tgc_cp->n_peers, 0);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 2);
    CU_ASSERT_EQUAL(tgc_tx_drain(0), 2);
}

/* An encrypted alert record (level, desc) from the client at seq, sealed
 * with the client key (tamper: one tag bit flipped), parsed as the
 * control plane sees it. */
struct alert_rec {
    uint8_t buf[DP_REC_HDR_LEN + 8 + DP_ALERT_LEN + 16 + 1];
    size_t len;
    struct dp_record r;
};

static void alert_rec(struct alert_rec *a, uint64_t seq, uint8_t level, uint8_t desc, bool tamper,
                      size_t extra)
{
    uint16_t body = (uint16_t)(8 + DP_ALERT_LEN + 16 + extra);
    memset(a, 0, sizeof(*a));
    dp_record_write_hdr(a->buf, DP_CT_ALERT, DP_VERSION_DTLS12, 1, seq, NULL, 0, body);
    uint8_t *p = a->buf + DP_REC_HDR_LEN;
    cr_aead_explicit_nonce(p, 1, seq);
    p[8] = level;
    p[9] = desc;
    struct cr_aead_op o;
    memset(&o, 0, sizeof(o));
    o.key = &ref_client;
    o.in = o.out = p + 8;
    o.tag = p + 8 + DP_ALERT_LEN;
    o.len = DP_ALERT_LEN;
    o.epoch = 1;
    o.version = DP_VERSION_DTLS12;
    o.seq = seq;
    o.explicit_nonce = p;
    o.type = DP_CT_ALERT;
    CU_ASSERT_EQUAL(cr_aead_seal_batch(ref_ctx, &o, 1), 1);
    if (tamper)
        p[8 + DP_ALERT_LEN] ^= 0x01;
    a->len = DP_REC_HDR_LEN + body;
    int err = DP_RECORD_OK;
    CU_ASSERT_EQUAL_FATAL(dp_record_split(a->buf, a->len, 0, &a->r, 1, &err), 1);
}

static void test_alert_open(void)
{
    struct cp_peer *p = new_session(50, 7000);
    struct alert_rec a;
    uint8_t level = 0xff, desc = 0xff;
    uint64_t rep = tgc_cnt(DP_CNT_DROP_CP_ALERT_REPLAY), auth = tgc_cnt(DP_CNT_DROP_CP_ALERT_AUTH);

    /* a close_notify sealed with the session's client key is read */
    alert_rec(&a, 5, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY, false, 0);
    CU_ASSERT_EQUAL(session_alert_open(tgc_cp, p, &a.r, &level, &desc), CR_OK);
    CU_ASSERT_EQUAL(level, DP_ALERT_LEVEL_WARNING);
    CU_ASSERT_EQUAL(desc, DP_ALERT_CLOSE_NOTIFY);
    /* the same record again: a replay, dropped and counted */
    CU_ASSERT_EQUAL(session_alert_open(tgc_cp, p, &a.r, &level, &desc), CR_ERR_AUTH);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_ALERT_REPLAY), rep + 1);
    /* at or below the client's Finished: a replay too */
    alert_rec(&a, TS_RSEQ_TOP, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY, false, 0);
    CU_ASSERT_EQUAL(session_alert_open(tgc_cp, p, &a.r, &level, &desc), CR_ERR_AUTH);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_ALERT_REPLAY), rep + 2);
    /* a bad tag: dropped and counted, and the window is not moved by it */
    alert_rec(&a, 6, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY, true, 0);
    CU_ASSERT_EQUAL(session_alert_open(tgc_cp, p, &a.r, &level, &desc), CR_ERR_AUTH);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_ALERT_AUTH), auth + 1);
    alert_rec(&a, 6, DP_ALERT_LEVEL_FATAL, DP_ALERT_DECRYPT_ERROR, false, 0);
    CU_ASSERT_EQUAL(session_alert_open(tgc_cp, p, &a.r, &level, &desc), CR_OK);
    CU_ASSERT_EQUAL(level, DP_ALERT_LEVEL_FATAL);
    CU_ASSERT_EQUAL(desc, DP_ALERT_DECRYPT_ERROR);
    /* not one alert long: dropped as not authentic */
    alert_rec(&a, 7, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY, false, 1);
    CU_ASSERT_EQUAL(session_alert_open(tgc_cp, p, &a.r, &level, &desc), CR_ERR_AUTH);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_ALERT_AUTH), auth + 2);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_DROP_CP_ALERT_REPLAY), rep + 2);
    /* the worker's own window is untouched by any of it */
    CU_ASSERT_EQUAL(dp_replay_check(p->sess->replay, 5), DP_REPLAY_OK);
    gw_peer_free(tgc_cp, p, false);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
}

static void test_alert_input(void)
{
    struct alert_rec a;
    /* a warning that is no close_notify: the session stays */
    struct cp_peer *p = new_session(60, 7000);
    cp_key_t kp = p->key;
    alert_rec(&a, 4, DP_ALERT_LEVEL_WARNING, DP_ALERT_NO_RENEGOTIATION, false, 0);
    CU_ASSERT_TRUE(gw_sess_alert_input(tgc_cp, p, &a.r));
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &kp), p);
    /* a replayed close_notify does nothing */
    alert_rec(&a, 4, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY, false, 0);
    CU_ASSERT_TRUE(gw_sess_alert_input(tgc_cp, p, &a.r));
    CU_ASSERT_PTR_EQUAL(gw_peer_lookup(tgc_cp, &kp), p);
    /* close_notify: the session ends and is answered with ours */
    uint64_t closed = tgc_cnt(DP_CNT_CP_SESS_CLOSED);
    alert_rec(&a, 5, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY, false, 0);
    CU_ASSERT_FALSE(gw_sess_alert_input(tgc_cp, p, &a.r));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_SESS_CLOSED), closed + 1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &kp));
    CU_ASSERT_PTR_NULL(dp_sess_lookup(tgc_g.sessions, v4key(&kp)));
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(sent_alert(TS_WSEQ), DP_ALERT_LEVEL_WARNING << 8 | DP_ALERT_CLOSE_NOTIFY);
    /* a fatal alert: the session ends without an answer */
    uint64_t fatal = tgc_cnt(DP_CNT_CP_SESS_FATAL_ALERT);
    p = new_session(61, 7000);
    kp = p->key;
    alert_rec(&a, 9, DP_ALERT_LEVEL_FATAL, DP_ALERT_INTERNAL_ERROR, false, 0);
    CU_ASSERT_FALSE(gw_sess_alert_input(tgc_cp, p, &a.r));
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_SESS_FATAL_ALERT), fatal + 1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &kp));
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(tgc_tx_drain(0), 0);
}

static void test_reap_idle(void)
{
    struct cp_peer *p = new_session(70, 7000), *q = new_session(71, 7000);
    cp_key_t kq = q->key;
    uint64_t reaped = tgc_cnt(DP_CNT_CP_SESS_IDLE_REAPED);
    /* p heard from just now; q silent for longer than the idle timeout */
    uint64_t idle_tsc = (uint64_t)tgc_cfg.listeners[0].idle_timeout_ms * (rte_get_tsc_hz() / 1000);
    p->sess->last_rx_tsc = rte_get_tsc_cycles();
    q->sess->last_rx_tsc = rte_get_tsc_cycles() - idle_tsc - rte_get_tsc_hz();
    gw_sess_reap_idle(tgc_cp);
    CU_ASSERT_EQUAL(tgc_cnt(DP_CNT_CP_SESS_IDLE_REAPED), reaped + 1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &kq));
    CU_ASSERT_PTR_NOT_NULL(p->sess);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(sent_alert(TS_WSEQ), DP_ALERT_LEVEL_WARNING << 8 | DP_ALERT_CLOSE_NOTIFY);
    gw_peer_free(tgc_cp, p, false);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
}

/* An IPv6 client (a v6 peer key) on the IPv4 backend: installed under its
 * IPv6 key in the IPv6 table (not the IPv4 one), backend side IPv4 as the
 * listener says; then a listener with an IPv6 backend: the session's
 * backend side is IPv6, from the backend port's address6; kill by address
 * of either family. */
static void test_install_v6(void)
{
    static const uint8_t c6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x22};
    static const uint8_t l6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    struct dp_addr c = dp_addr_v6(c6), l = dp_addr_v6(l6);
    cp_key_t key = cp_key_make(&c, rte_cpu_to_be_16(41000), &l, rte_cpu_to_be_16(4433));
    CU_ASSERT_FALSE(cp_key_is_v4(&key));
    struct cp_peer *p = gw_peer_insert(tgc_cp, &key, &cl_mac, 0, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    struct hs_keys k;
    fake_keys(&k);
    CU_ASSERT_EQUAL_FATAL(gw_sess_install_keys(tgc_cp, p, &k), CR_OK);
    gw_peer_hs_done(tgc_cp, p);
    struct dp_session *s = p->sess;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->family, DP_AF_V6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->v6);
    CU_ASSERT(memcmp(s->v6->key6.client_ip, c6, 16) == 0);
    CU_ASSERT_PTR_EQUAL(dp_sess_lookup6(tgc_g.sessions, &s->v6->key6), s);
    struct dp_sess_key none;
    memset(&none, 0, sizeof(none));
    none.client_port = key.client_port;
    none.local_port = key.local_port;
    CU_ASSERT_PTR_NULL(dp_sess_lookup(tgc_g.sessions, &none));
    CU_ASSERT_EQUAL(s->backend_family, DP_AF_V4);
    CU_ASSERT_EQUAL(s->backend_ip, TGC_IP(10, 0, 1, 2));
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(tgc_g.sessions, s->nat_ip, s->nat_port), s);
    /* an IPv4 kill of the same bytes does not touch it; the IPv6 one does */
    CU_ASSERT_EQUAL(gw_sess_kill(tgc_cp, TGC_IP(10, 0, 0, 34), 0), 0);
    CU_ASSERT_EQUAL(gw_sess_kill_addr(tgc_cp, &c, rte_cpu_to_be_16(41001)), 0);
    CU_ASSERT_EQUAL(gw_sess_kill_addr(tgc_cp, &c, 0), 1);
    CU_ASSERT_PTR_NULL(gw_peer_lookup(tgc_cp, &key));
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(tgc_tx_drain(0), 1); /* its close_notify, over IPv6 */

    /* IPv6 backend: the listener's backend and next hop made IPv6 */
    static const uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 2};
    static const uint8_t n6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1};
    struct gw_listener_cfg saved = tgc_cfg.listeners[0];
    struct dp_port saved_port = tgc_g.ports[1];
    tgc_cfg.listeners[0].backend_is_v6 = true;
    memcpy(tgc_cfg.listeners[0].backend_ipv6, b6, 16);
    tgc_g.ports[1].has_ip6 = true;
    memcpy(tgc_g.ports[1].ip6, n6, 16);
    struct cp_peer *q = new_peer(35, 41002);
    fake_keys(&k);
    CU_ASSERT_EQUAL_FATAL(gw_sess_install_keys(tgc_cp, q, &k), CR_OK);
    gw_peer_hs_done(tgc_cp, q);
    CU_ASSERT_EQUAL(q->sess->family, DP_AF_V4);
    CU_ASSERT_EQUAL(q->sess->backend_family, DP_AF_V6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q->sess->v6);
    CU_ASSERT(memcmp(q->sess->v6->backend_ip6, b6, 16) == 0);
    CU_ASSERT(memcmp(q->sess->v6->nat_ip6, n6, 16) == 0);
    CU_ASSERT_EQUAL(q->sess->backend_ip, 0);
    /* its NAT slot: under the address the workers use for an IPv6 reply
     * on the backend port (the port's address here: no pools) */
    CU_ASSERT_EQUAL(q->sess->nat_ip, gw_sess_nat_slot_ip6(tgc_cp, q->sess->backend_port_id));
    CU_ASSERT_EQUAL(q->sess->nat_ip, tgc_g.ports[q->sess->backend_port_id].ip_be);
    CU_ASSERT_PTR_EQUAL(dp_sess_by_nat(tgc_g.sessions, q->sess->nat_ip, q->sess->nat_port),
                        q->sess);
    CU_ASSERT_EQUAL(gw_sess_kill(tgc_cp, TGC_IP(10, 0, 0, 35), 0), 1);
    CU_ASSERT_EQUAL(gw_sess_reclaim(tgc_cp, false), 1);
    CU_ASSERT_EQUAL(tgc_tx_drain(0), 1);
    tgc_cfg.listeners[0] = saved;
    tgc_g.ports[1] = saved_port;
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_sessions", suite_init, suite_clean);
    CU_add_test(s, "session install", test_install);
    CU_add_test(s, "session install without keys", test_install_no_keys);
    CU_add_test(s, "IPv6 client, IPv6 backend: install, kill", test_install_v6);
    CU_add_test(s, "NAT exhaustion, removal and reclaim", test_nat_exhaustion_and_reclaim);
    CU_add_test(s, "NAT pool of two addresses: all slots, then refused", test_nat_pool_exhaustion);
    CU_add_test(s, "kill", test_kill);
    CU_add_test(s, "session alert open", test_alert_open);
    CU_add_test(s, "session alert input", test_alert_input);
    CU_add_test(s, "idle reaping", test_reap_idle);
}
