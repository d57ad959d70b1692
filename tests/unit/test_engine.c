/* test_engine.c — the handshake engine (control/hs_engine.c) driven in
 * process by a real libssl DTLS 1.2 client over an in-memory datagram
 * queue (one BIO_write = one datagram, so MTU and fragmentation are real).
 *
 * Covers: every suite (handshake + application data both ways), cookie
 * exchange and rotation, retransmission on timeout and on a repeated client
 * flight, MTU 576 with a multi-KB certificate chain, unknown PSK identity,
 * client certificates, renegotiation refusal, close_notify.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cu_main.h"
#include "hs.h"
#include "hs_priv.h" /* HS_PSK_MAX_KEY_LEN */
#include "tl_cert.h"
#include "tl_pair.h"

/* ---- the client <-> engine pair: tests/lib/tl_pair.h -------------------- */
/* A datagram onto a queue (the queue must not be full). */
static void dq_push(struct tl_dq *q, const uint8_t *p, size_t len)
{
    CU_ASSERT_FATAL(q->n < TL_DQ_MAX);
    tl_dq_push(q, p, len);
}

/* Pops into a malloc'ed buffer owned by the caller. */
static uint8_t *dq_pop(struct tl_dq *q, size_t *len)
{
    return tl_dq_take(q, len);
}

/* ---- fixtures ----------------------------------------------------------- */
static const uint8_t psk_key[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const char *psk_identity = "client1";
static char tmpdir[256];
/* What the client's PSK callback offers (the wire maxima test swaps them). */
static const uint8_t *g_cli_psk = psk_key;
static size_t g_cli_psk_len = sizeof(psk_key);
static const char *g_cli_identity;

static unsigned int client_psk_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    (void)hint;
    const char *id = SSL_get_ex_data(ssl, 0)  ? SSL_get_ex_data(ssl, 0)
                     : g_cli_identity != NULL ? g_cli_identity
                                              : psk_identity;
    if (strlen(id) + 1 > max_identity_len || g_cli_psk_len > max_psk_len)
        return 0;
    strcpy(identity, id);
    memcpy(psk, g_cli_psk, g_cli_psk_len);
    return (unsigned int)g_cli_psk_len;
}

static void pair_free(struct tl_pair *p)
{
    struct hs_ctx *ctx = p->ctx;
    struct hs_creds *creds = p->creds;
    tl_pair_free(p);
    hs_ctx_free(ctx);
    hs_creds_free(creds);
}

static void push_out(struct tl_pair *p, const struct hs_out *out)
{
    tl_pair_take_out(p, out);
    CU_ASSERT_EQUAL(p->to_cli.n_full, 0);
}

/* Feeds one client datagram to the server side (cookie check first). */
static void server_rx(struct tl_pair *p, const uint8_t *d, size_t len)
{
    struct hs_out out;
    size_t hvr_len = 0;
    int rx = tl_pair_deliver(p, d, len, &out, &hvr_len);
    if (rx == TL_PAIR_RX_HVR)
        CU_ASSERT(hvr_len <= len);
    CU_ASSERT_FATAL(rx != TL_PAIR_RX_NO_HS);
    CU_ASSERT_EQUAL(p->to_cli.n_full, 0);
}

static void pump_client_to_server(struct tl_pair *p)
{
    tl_pair_pump(p, server_rx);
}

static int pair_init(struct tl_pair *p, const char *cipher_list, const struct hs_params *params,
                     struct hs_creds *creds)
{
    tl_pair_init(p, hs_ctx_new(params, creds), 40000);
    p->creds = creds;
    if (!p->ctx)
        return -1;
    SSL_CTX *cctx = tl_pair_client_ctx();
    if (cctx == NULL || SSL_CTX_set_cipher_list(cctx, cipher_list) != 1) {
        SSL_CTX_free(cctx);
        return -1;
    }
    SSL_CTX_set_psk_client_callback(cctx, client_psk_cb);
    if (tl_pair_client(p, cctx, params->mtu_bytes) != 0)
        return -1;
    DTLS_set_link_mtu(p->ssl, params->mtu_bytes + 28);
    DTLS_set_timer_cb(p->ssl, tl_pair_fast_timer_cb);
    return 0;
}

/* Runs the handshake; returns 1 when both sides finished. */
static int run_handshake(struct tl_pair *p, unsigned max_rounds)
{
    return tl_pair_run(p, max_rounds, server_rx);
}

static struct hs_creds *psk_creds(void)
{
    struct hs_creds *c = hs_creds_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(hs_creds_add_psk(c, psk_identity, psk_key, sizeof(psk_key)), 0);
    return c;
}

/* A pair on the default parameters and psk_creds(), the client
 * offering the cipher list list. */
static void psk_pair(struct tl_pair *p, const char *list)
{
    struct hs_params params;
    hs_params_default(&params);
    CU_ASSERT_EQUAL_FATAL(pair_init(p, list, &params, psk_creds()), 0);
}

/* Application data both ways after the handshake. */
static void exchange_app_data(struct tl_pair *p)
{
    const char *c_msg = "ping from client";
    const char *s_msg = "pong from server";
    uint8_t rec[512];
    size_t rec_len = 0;
    char buf[256];

    CU_ASSERT_EQUAL(SSL_write(p->ssl, c_msg, (int)strlen(c_msg)), (int)strlen(c_msg));
    p->app_rx_len = 0;
    pump_client_to_server(p);
    CU_ASSERT_EQUAL(p->app_rx_len, strlen(c_msg));
    CU_ASSERT(memcmp(p->app_rx, c_msg, strlen(c_msg)) == 0);

    CU_ASSERT_EQUAL(
        hs_seal_app(p->hs, (const uint8_t *)s_msg, strlen(s_msg), rec, sizeof(rec), &rec_len), 0);
    dq_push(&p->to_cli, rec, rec_len);
    int n = SSL_read(p->ssl, buf, sizeof(buf));
    CU_ASSERT_EQUAL(n, (int)strlen(s_msg));
    if (n > 0)
        CU_ASSERT(memcmp(buf, s_msg, (size_t)n) == 0);
}

static void check_keys(struct tl_pair *p, uint16_t suite)
{
    const struct hs_keys *k = hs_keys(p->hs);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(k->suite, suite);
    CU_ASSERT_EQUAL(k->epoch, 1);
    const SSL_CIPHER *c = SSL_get_current_cipher(p->ssl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(SSL_CIPHER_get_protocol_id(c), suite);
    /* Key material equals what the client derived. */
    uint8_t master[48];
    SSL_SESSION *sess = SSL_get_session(p->ssl);
    CU_ASSERT_EQUAL(SSL_SESSION_get_master_key(sess, master, sizeof(master)), 48);
}

static void run_psk_suite(uint16_t suite, const char *ossl_name)
{
    struct hs_params params;
    struct tl_pair p;
    char list[128];

    hs_params_default(&params);
    snprintf(list, sizeof(list), "%s:@SECLEVEL=0", ossl_name);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, list, &params, psk_creds()), 0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    CU_ASSERT_EQUAL(p.n_hvr, 1);
    if (p.established) {
        check_keys(&p, suite);
        exchange_app_data(&p);
        CU_ASSERT_STRING_EQUAL(hs_keys(p.hs)->peer_identity, psk_identity);
    }
    pair_free(&p);
}

static void test_psk_aes128_ccm8(void)
{
    run_psk_suite(HS_PSK_AES128_CCM8, "PSK-AES128-CCM8");
}
static void test_psk_aes128_gcm(void)
{
    run_psk_suite(HS_PSK_AES128_GCM, "PSK-AES128-GCM-SHA256");
}
static void test_psk_aes128_ccm(void)
{
    run_psk_suite(HS_PSK_AES128_CCM, "PSK-AES128-CCM");
}
static void test_psk_aes256_gcm(void)
{
    run_psk_suite(HS_PSK_AES256_GCM, "PSK-AES256-GCM-SHA384");
}
static void test_psk_chacha20(void)
{
    run_psk_suite(HS_PSK_CHACHA20, "PSK-CHACHA20-POLY1305");
}
static void test_ecdhe_psk_chacha20(void)
{
    run_psk_suite(HS_ECDHE_PSK_CHACHA20, "ECDHE-PSK-CHACHA20-POLY1305");
}

/* The wire maxima (RFC 4279 §5.3: identity up to 2^16-1 bytes on the wire,
 * ours capped at HS_IDENTITY_MAX_LEN; keys up to HS_PSK_MAX_KEY_LEN): a
 * 64-byte key and a 255-byte identity, plain PSK (premaster 4 + 2*64 bytes,
 * the largest) and ECDHE-PSK.  Under ASan this overflowed the premaster
 * buffer before it was sized from the maximum key length. */
static void test_psk_wire_maxima(void)
{
    static const struct {
        uint16_t suite;
        const char *ossl;
    } cases[] = {{HS_PSK_AES256_GCM, "PSK-AES256-GCM-SHA384"},
                 {HS_PSK_AES128_CCM8, "PSK-AES128-CCM8"},
                 {HS_ECDHE_PSK_CHACHA20, "ECDHE-PSK-CHACHA20-POLY1305"}};
    uint8_t key[HS_PSK_MAX_KEY_LEN];
    char id[HS_IDENTITY_MAX_LEN + 1];

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0xa5 ^ i);
    memset(id, 'm', HS_IDENTITY_MAX_LEN);
    id[HS_IDENTITY_MAX_LEN] = 0;
    g_cli_psk = key;
    g_cli_psk_len = sizeof(key);
    g_cli_identity = id;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hs_params params;
        struct tl_pair p;
        char list[128];
        struct hs_creds *c = hs_creds_new();
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(hs_creds_add_psk(c, id, key, sizeof(key)), 0);
        hs_params_default(&params);
        snprintf(list, sizeof(list), "%s:@SECLEVEL=0", cases[i].ossl);
        CU_ASSERT_EQUAL_FATAL(pair_init(&p, list, &params, c), 0);
        CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
        if (p.established) {
            check_keys(&p, cases[i].suite);
            exchange_app_data(&p);
            CU_ASSERT_STRING_EQUAL(hs_keys(p.hs)->peer_identity, id);
        }
        pair_free(&p);
    }
    g_cli_psk = psk_key;
    g_cli_psk_len = sizeof(psk_key);
    g_cli_identity = NULL;
}

/* ---- certificates generated at test time -------------------------------- */
/* The curve of make_pki's EC keys (suite_init sets P-384 for "ec384"). */
static enum tl_key_type pki_ec = TL_KEY_EC_P256;

/* A certificate of the test PKIs: O=dtlsgw test, valid for a day. */
static int gen_cred(struct tl_cred *out, const char *cn, bool rsa, const struct tl_cred *issuer,
                    bool ca, long serial)
{
    const struct tl_cert_opts o = {
        .cn = cn,
        .org = "dtlsgw test",
        .serial = serial,
        .not_before_s = -3600,
        .not_after_s = 86400,
        .kind = ca ? TL_CERT_CA : TL_CERT_LEAF,
        .key_usage = ca ? NULL : "critical,digitalSignature,keyEncipherment",
    };
    return tl_cred_mint(out, rsa ? TL_KEY_RSA_2048 : pki_ec, &o, issuer);
}

/* Writes <tmpdir>/<prefix>-chain.pem (leaf + n_inter intermediates),
 * <prefix>-key.pem and <prefix>-ca.pem (root).  0, or -1 (the suite's
 * set-up then fails). */
static int make_pki(const char *prefix, bool rsa, unsigned n_inter)
{
    char path[512];
    struct tl_cred root = {0}, inter[8] = {{0}}, leaf = {0};
    char root_cn[64];
    int rc = 0;
    snprintf(root_cn, sizeof(root_cn), "%s root", prefix); /* a name per PKI */
    rc |= gen_cred(&root, root_cn, rsa, NULL, true, 1);
    const struct tl_cred *issuer = &root;
    for (unsigned i = 0; i < n_inter && rc == 0; i++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "intermediate %u", i);
        rc |= gen_cred(&inter[i], cn, rsa, issuer, true, 10 + i);
        issuer = &inter[i];
    }
    char leaf_cn[64];
    snprintf(leaf_cn, sizeof(leaf_cn), "%s leaf", prefix);
    if (rc == 0)
        rc |= gen_cred(&leaf, leaf_cn, rsa, issuer, false, 100);
    if (rc != 0)
        goto out;

    X509 *chain[9];
    unsigned n = 0;
    chain[n++] = leaf.cert;
    for (unsigned i = n_inter; i-- > 0;)
        chain[n++] = inter[i].cert;
    snprintf(path, sizeof(path), "%s/%s-chain.pem", tmpdir, prefix);
    rc |= tl_pem_write_certs(path, chain, n);
    snprintf(path, sizeof(path), "%s/%s-key.pem", tmpdir, prefix);
    rc |= tl_pem_write_key(path, leaf.key);
    snprintf(path, sizeof(path), "%s/%s-ca.pem", tmpdir, prefix);
    rc |= tl_cred_write(&root, path, NULL);
out:
    tl_cred_free(&leaf);
    for (unsigned i = 0; i < n_inter; i++)
        tl_cred_free(&inter[i]);
    tl_cred_free(&root);
    return rc;
}

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static unsigned k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dtlsgw-test-engine-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    int rc = make_pki("ec", false, 1);
    rc |= make_pki("rsa", true, 1);
    rc |= make_pki("big", true, 4);     /* multi-KB chain for MTU 576 */
    rc |= make_pki("client", false, 1); /* client certificate PKI */
    pki_ec = TL_KEY_EC_P384;
    rc |= make_pki("ec384", false, 1); /* the P-384 slot */
    pki_ec = TL_KEY_EC_P256;
    return rc != 0;
}

static int suite_clean(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : 1;
}

static struct hs_creds *cert_creds(void)
{
    struct hs_creds *c = psk_creds();
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, tpath("ec-chain.pem"), tpath("ec-key.pem")), 0);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, tpath("rsa-chain.pem"), tpath("rsa-key.pem")), 0);
    return c;
}

static void run_cert_suite(uint16_t suite, const char *ossl_name)
{
    struct hs_params params;
    struct tl_pair p;
    char list[128];

    hs_params_default(&params);
    snprintf(list, sizeof(list), "%s:@SECLEVEL=0", ossl_name);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, list, &params, cert_creds()), 0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    if (p.established) {
        check_keys(&p, suite);
        exchange_app_data(&p);
        /* The client saw our leaf. */
        X509 *peer = SSL_get1_peer_certificate(p.ssl);
        CU_ASSERT_PTR_NOT_NULL(peer);
        X509_free(peer);
    }
    pair_free(&p);
}

static void test_ecdsa_aes128_gcm(void)
{
    run_cert_suite(HS_ECDHE_ECDSA_AES128_GCM, "ECDHE-ECDSA-AES128-GCM-SHA256");
}
static void test_ecdsa_aes256_gcm(void)
{
    run_cert_suite(HS_ECDHE_ECDSA_AES256_GCM, "ECDHE-ECDSA-AES256-GCM-SHA384");
}
static void test_ecdsa_chacha20(void)
{
    run_cert_suite(HS_ECDHE_ECDSA_CHACHA20, "ECDHE-ECDSA-CHACHA20-POLY1305");
}
static void test_ecdsa_ccm8(void)
{
    run_cert_suite(HS_ECDHE_ECDSA_AES128_CCM8, "ECDHE-ECDSA-AES128-CCM8");
}
static void test_ecdsa_ccm(void)
{
    run_cert_suite(HS_ECDHE_ECDSA_AES128_CCM, "ECDHE-ECDSA-AES128-CCM");
}
static void test_rsa_aes128_gcm(void)
{
    run_cert_suite(HS_ECDHE_RSA_AES128_GCM, "ECDHE-RSA-AES128-GCM-SHA256");
}
static void test_rsa_aes256_gcm(void)
{
    run_cert_suite(HS_ECDHE_RSA_AES256_GCM, "ECDHE-RSA-AES256-GCM-SHA384");
}
static void test_rsa_chacha20(void)
{
    run_cert_suite(HS_ECDHE_RSA_CHACHA20, "ECDHE-RSA-CHACHA20-POLY1305");
}

/* ---- cookie exchange ---------------------------------------------------- */
static void test_cookie_hvr_and_rotation(void)
{
    struct tl_pair p;
    uint8_t hvr[512], *ch1, *ch2;
    size_t ch1_len = 0, ch2_len = 0, hvr_len = 0;

    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    CU_ASSERT(SSL_do_handshake(p.ssl) <= 0);
    ch1 = dq_pop(&p.to_srv, &ch1_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ch1);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, ch1, ch1_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    /* RFC 6347 §4.2.1: HVR record seq = ClientHello record seq; versions
     * 0xfeff; message_seq echoes; never larger than the ClientHello. */
    CU_ASSERT(hvr_len <= ch1_len);
    CU_ASSERT_EQUAL(hvr[0], 22);
    CU_ASSERT_EQUAL(hvr[1], 0xfe);
    CU_ASSERT_EQUAL(hvr[2], 0xff);
    CU_ASSERT(memcmp(hvr + 5, ch1 + 5, 6) == 0);
    CU_ASSERT_EQUAL(hvr[13], 3);
    CU_ASSERT(memcmp(hvr + 13 + 4, ch1 + 13 + 4, 2) == 0);
    CU_ASSERT_EQUAL(hvr[25], 0xfe);
    CU_ASSERT_EQUAL(hvr[26], 0xff);
    CU_ASSERT_EQUAL(hvr[27], 32);
    CU_ASSERT_EQUAL(hvr_len, 28 + 32);
    /* A datagram too small for the HVR is dropped. */
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, ch1, 40, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, ch1, ch1_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    dq_push(&p.to_cli, hvr, hvr_len);
    CU_ASSERT(SSL_do_handshake(p.ssl) <= 0);
    ch2 = dq_pop(&p.to_srv, &ch2_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ch2);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, ch2, ch2_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    /* Bound to the transport address. */
    struct hs_peer other = p.peer;
    other.port++;
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &other, ch2, ch2_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    other = p.peer;
    other.addr[3]++;
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &other, ch2, ch2_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    /* Tampered cookie byte. */
    uint8_t *bad = malloc(ch2_len);
    memcpy(bad, ch2, ch2_len);
    size_t cookie_off = 13 + 12 + 2 + 32 + 1 + bad[13 + 12 + 2 + 32] + 1;
    bad[cookie_off + 3] ^= 1;
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, bad, ch2_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    /* Only the first fragment is needed: cut the datagram right after the
     * cookie and fix the lengths (fragment_length and record length). */
    memcpy(bad, ch2, ch2_len);
    size_t cut = cookie_off + bad[cookie_off - 1];
    size_t frag_len = cut - 25;
    bad[13 + 9] = 0;
    bad[13 + 10] = (uint8_t)(frag_len >> 8);
    bad[13 + 11] = (uint8_t)frag_len;
    bad[11] = (uint8_t)((cut - 13) >> 8);
    bad[12] = (uint8_t)(cut - 13);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, bad, cut, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    /* One byte short of the cookie: not enough to check -> drop. */
    bad[13 + 11] = (uint8_t)(frag_len - 1);
    bad[12] = (uint8_t)(cut - 14);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, bad, cut - 1, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    free(bad);
    /* Rotation: previous secret still accepted, the one before is not. */
    CU_ASSERT_EQUAL(hs_ctx_rotate_cookie_secret(p.ctx), 0);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, ch2, ch2_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    CU_ASSERT_EQUAL(hs_ctx_rotate_cookie_secret(p.ctx), 0);
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, ch2, ch2_len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    /* Not a ClientHello: drop. */
    uint8_t junk[64] = {23, 0xfe, 0xfd};
    junk[12] = 40;
    CU_ASSERT_EQUAL(hs_cookie_check(p.ctx, &p.peer, junk, 53, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    free(ch1);
    free(ch2);
    pair_free(&p);
}

/* ---- retransmission ----------------------------------------------------- */
static void test_retransmit_on_timeout(void)
{
    struct tl_pair p;
    struct hs_out out;

    psk_pair(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0");
    /* CH1 -> HVR, CH2 -> flight 2 (lost). */
    p.drop_server = 100;
    run_handshake(&p, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p.hs);
    CU_ASSERT(p.n_server_dgrams >= 1);
    p.drop_server = 0;
    /* Not yet due. */
    CU_ASSERT_EQUAL(hs_timeout(p.hs, p.now_ms + 999, &out), 0);
    CU_ASSERT_EQUAL(out.n_dgrams, 0);
    CU_ASSERT_EQUAL(out.next_timer_ms, p.now_ms + 1000);
    p.now_ms += 1000;
    CU_ASSERT_EQUAL(hs_timeout(p.hs, p.now_ms, &out), 0);
    CU_ASSERT(out.n_dgrams >= 1);
    CU_ASSERT_EQUAL(out.next_timer_ms, p.now_ms + 2000); /* doubled */
    push_out(&p, &out);
    CU_ASSERT_EQUAL(hs_get_stats(p.hs)->retransmits, 1);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    if (p.established) {
        /* No timer after the final flight. */
        CU_ASSERT_EQUAL(hs_timeout(p.hs, p.now_ms + 100000, &out), 0);
        CU_ASSERT_EQUAL(out.n_dgrams, 0);
        exchange_app_data(&p);
    }
    pair_free(&p);
}

static void test_timeout_gives_up(void)
{
    struct hs_params params;
    struct tl_pair p;
    struct hs_out out;
    unsigned resent = 0;

    hs_params_default(&params);
    /* The retransmission schedule alone (the deadline test below has the
     * default deadline cut it short). */
    params.handshake_deadline_ms = 10 * 60000;
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
                          0);
    p.drop_server = 1000;
    run_handshake(&p, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p.hs);
    uint64_t t = p.now_ms;
    int rc = 0;
    uint64_t expect_delay = 1000;
    for (unsigned i = 0; i < 20; i++) {
        t += expect_delay;
        rc = hs_timeout(p.hs, t, &out);
        if (out.event == HS_EV_TIMEOUT)
            break;
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(out.n_dgrams >= 1);
        resent++;
        expect_delay = expect_delay * 2 > 60000 ? 60000 : expect_delay * 2;
        CU_ASSERT_EQUAL(out.next_timer_ms, t + expect_delay);
    }
    /* 1 s doubling to 60 s: resends at 1,2,4,8,16,32 s then 60 s expiry. */
    CU_ASSERT_EQUAL(resent, 6);
    CU_ASSERT_EQUAL(out.event, HS_EV_TIMEOUT);
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_RETRANSMIT);
    CU_ASSERT(rc < 0);
    pair_free(&p);
}

/* A client that repeats its ClientHello every 50 ms forever (our flight 2
 * never reaches it): the handshake still ends at the absolute deadline, and
 * the server's resends stay few (doubling peer gap, timer not reset). */
static void test_deadline_despite_peer_retransmits(void)
{
    struct hs_params params;
    struct tl_pair p;
    struct hs_out out;

    hs_params_default(&params);
    CU_ASSERT_EQUAL(params.handshake_deadline_ms, HS_HANDSHAKE_DEADLINE_DEFAULT_MS);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
                          0);
    p.drop_server = 1u << 30; /* the client never hears from us */
    /* ClientHello -> HelloVerifyRequest, ClientHello with the cookie: kept. */
    CU_ASSERT(SSL_do_handshake(p.ssl) <= 0);
    pump_client_to_server(&p);
    CU_ASSERT_EQUAL_FATAL(p.n_hvr, 1);
    CU_ASSERT(SSL_do_handshake(p.ssl) <= 0);
    size_t ch_len = 0;
    uint8_t *ch = dq_pop(&p.to_srv, &ch_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ch);
    tl_dq_clear(&p.to_srv);
    uint64_t start = p.now_ms;
    server_rx(&p, ch, ch_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p.hs);
    uint64_t deadline = start + params.handshake_deadline_ms;
    uint64_t timer = 0;
    uint64_t ended_at = 0;
    /* Run well past the deadline: without one this never ends. */
    for (uint64_t t = start + 50; t < start + 4 * (uint64_t)params.handshake_deadline_ms; t += 50) {
        int rc;
        if (timer != 0 && t >= timer) {
            rc = hs_timeout(p.hs, t, &out);
        } else {
            rc = hs_input(p.hs, ch, ch_len, t, &out);
        }
        if (out.event == HS_EV_TIMEOUT) {
            CU_ASSERT(rc < 0);
            CU_ASSERT_EQUAL(out.n_dgrams, 0);
            ended_at = t;
            break;
        }
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(out.event, HS_EV_NONE);
        timer = out.next_timer_ms;
        /* The caller is never told to wait past the deadline. */
        CU_ASSERT(timer != 0 && timer <= deadline);
    }
    CU_ASSERT(ended_at >= deadline);
    CU_ASSERT(ended_at < deadline + 50);
    const struct hs_stats *st = hs_get_stats(p.hs);
    /* 1200 repeated ClientHellos: peer-triggered resends at a doubling gap
     * from 100 ms (~10 in 60 s) plus the timer's 5 (1, 2, 4, 8, 16 s). */
    CU_ASSERT(st->retransmits <= 16);
    CU_ASSERT(st->retransmits >= 5);
    CU_ASSERT(st->peer_resends_limited >= 1000);
    /* The operator's log names what it waited for. */
    CU_ASSERT_STRING_EQUAL(hs_state_name(p.hs), "ClientKeyExchange");
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_DEADLINE);
    /* Dead: further input is refused. */
    CU_ASSERT(hs_input(p.hs, ch, ch_len, ended_at + 50, &out) < 0);
    free(ch);
    pair_free(&p);
}

static void test_retransmit_on_repeated_client_flight(void)
{
    struct tl_pair p;

    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    p.drop_server = 100;
    run_handshake(&p, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p.hs);
    p.drop_server = 0;
    /* The client's timer fires: it resends ClientHello; the engine answers
     * with flight 2 again (RFC 6347 §4.2.4). */
    usleep(30000);
    CU_ASSERT(DTLSv1_handle_timeout(p.ssl) >= 0);
    unsigned before = p.n_server_dgrams;
    pump_client_to_server(&p);
    CU_ASSERT(p.n_server_dgrams > before);
    CU_ASSERT_EQUAL(hs_get_stats(p.hs)->retransmits, 1);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    pair_free(&p);
}

static void test_resend_final_flight(void)
{
    struct tl_pair p;

    psk_pair(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0");
    /* Run until the server is established, losing its final flight. */
    for (unsigned r = 0; r < 10 && !p.established; r++) {
        SSL_do_handshake(p.ssl);
        size_t len = 0;
        uint8_t *d;
        while ((d = dq_pop(&p.to_srv, &len))) {
            unsigned before = p.n_server_dgrams;
            server_rx(&p, d, len);
            free(d);
            if (p.established) {
                /* drop what this input produced: the final flight */
                while (p.to_cli.n > 0 && p.n_server_dgrams > before) {
                    size_t l;
                    free(dq_pop(&p.to_cli, &l));
                    before++;
                }
            }
        }
    }
    CU_ASSERT_FATAL(p.established);
    CU_ASSERT(SSL_is_init_finished(p.ssl) == 0);
    uint64_t seq_next = hs_keys(p.hs)->server_write_seq_next;
    usleep(30000);
    CU_ASSERT(DTLSv1_handle_timeout(p.ssl) >= 0); /* client repeats its flight */
    unsigned c2s_dgrams = p.to_srv.n;
    pump_client_to_server(&p);
    /* One resend for the whole repeated flight, however many datagrams. */
    CU_ASSERT(c2s_dgrams >= 1);
    CU_ASSERT_EQUAL(hs_get_stats(p.hs)->retransmits, 1);
    CU_ASSERT_EQUAL(run_handshake(&p, 10), 1);
    CU_ASSERT(SSL_is_init_finished(p.ssl) == 1);
    /* Resends never reach the numbers handed to the dataplane. */
    CU_ASSERT_EQUAL(hs_keys(p.hs)->server_write_seq_next, seq_next);
    exchange_app_data(&p);
    pair_free(&p);
}

#define SPLIT_MAX_RECORDS 64

/* Pops every queued client datagram and splits it into single records
 * (malloc'd copies, at most SPLIT_MAX_RECORDS); returns their number. */
static unsigned split_client_records(struct tl_pair *p, uint8_t *recs[SPLIT_MAX_RECORDS],
                                     size_t lens[SPLIT_MAX_RECORDS])
{
    unsigned n = 0;
    size_t len = 0;
    uint8_t *d;
    while ((d = dq_pop(&p->to_srv, &len))) {
        size_t off = 0;
        while (off + 13 <= len && n < SPLIT_MAX_RECORDS) {
            size_t rl = 13 + (size_t)(d[off + 11] << 8 | d[off + 12]);
            if (rl > len - off)
                break;
            recs[n] = malloc(rl);
            memcpy(recs[n], d + off, rl);
            lens[n++] = rl;
            off += rl;
        }
        free(d);
    }
    return n;
}

/* Splits every queued client datagram into single records and delivers
 * epoch-1 records before the ChangeCipherSpec (reordering). */
static void pump_reordered(struct tl_pair *p)
{
    uint8_t *recs[SPLIT_MAX_RECORDS];
    size_t lens[SPLIT_MAX_RECORDS];
    unsigned n = split_client_records(p, recs, lens);
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < n; i++) {
            bool epoch1 = recs[i][3] != 0 || recs[i][4] != 0;
            if ((pass == 0) == epoch1)
                server_rx(p, recs[i], lens[i]);
        }
    for (unsigned i = 0; i < n; i++)
        free(recs[i]);
}

static void test_finished_before_ccs(void)
{
    struct tl_pair p;

    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    for (unsigned r = 0; r < 10 && !p.established && !p.failed; r++) {
        SSL_do_handshake(p.ssl);
        pump_reordered(&p);
    }
    CU_ASSERT(p.established);
    CU_ASSERT_FALSE(p.failed);
    CU_ASSERT_EQUAL(run_handshake(&p, 5), 1);
    pair_free(&p);
}

/* ---- failures ----------------------------------------------------------- */
static void test_unknown_psk_identity(void)
{
    struct tl_pair p;

    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    SSL_set_ex_data(p.ssl, 0, (void *)"nobody");
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT(p.failed);
    CU_ASSERT_EQUAL(p.alert, 115); /* unknown_psk_identity */
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_UNKNOWN_PSK);
    /* The client got the fatal alert. */
    SSL_do_handshake(p.ssl);
    unsigned long e = ERR_peek_last_error();
    CU_ASSERT(e != 0);
    ERR_clear_error();
    pair_free(&p);
}

/* RFC 7627: preferred by default (a client without the extension gets the
 * classic master secret, marked in hs_keys.ems), refused only when
 * require_ems is set (issue 9: WebRTC-style and extension-less clients). */
/* A known identity with the wrong key: the client's Finished does not
 * verify (decrypt_error), named as such. */
static void test_wrong_psk_key(void)
{
    struct tl_pair p;
    static const uint8_t wrong[16] = {0xde, 0xad};

    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    g_cli_psk = wrong;
    g_cli_psk_len = sizeof(wrong);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    g_cli_psk = psk_key;
    g_cli_psk_len = sizeof(psk_key);
    /* The Finished record fails authentication and is dropped (RFC 6347
     * §4.1.2.7); the handshake then times out, named for what it saw. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p.hs);
    CU_ASSERT(hs_get_stats(p.hs)->bad_mac >= 1);
    struct hs_out out;
    uint64_t t = p.now_ms;
    for (unsigned i = 0; i < 40; i++) {
        t += 60000;
        (void)hs_timeout(p.hs, t, &out);
        if (out.event == HS_EV_TIMEOUT)
            break;
    }
    CU_ASSERT_EQUAL(out.event, HS_EV_TIMEOUT);
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_BAD_FINISHED);
    CU_ASSERT_STRING_EQUAL(hs_state_name(p.hs), "Finished");
    pair_free(&p);
    ERR_clear_error();
}

static void test_ems_preferred(void)
{
    struct hs_params params;
    struct tl_pair p;

    hs_params_default(&params);
    CU_ASSERT_FALSE(params.require_ems);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
                          0);
    SSL_set_options(p.ssl, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    CU_ASSERT(hs_keys(p.hs) != NULL && !hs_keys(p.hs)->ems);
    if (p.established)
        exchange_app_data(&p);
    pair_free(&p);
    ERR_clear_error();

    /* A client with EMS gets it. */
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
                          0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    CU_ASSERT(hs_keys(p.hs) != NULL && hs_keys(p.hs)->ems);
    if (p.established)
        exchange_app_data(&p);
    pair_free(&p);

    /* Required on request: handshake_failure (§5.2). */
    params.require_ems = true;
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
                          0);
    SSL_set_options(p.ssl, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT_EQUAL(p.alert, 40); /* handshake_failure */
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_NO_EMS);
    pair_free(&p);
    ERR_clear_error();
}

static void test_no_common_suite(void)
{
    struct hs_params params;
    struct tl_pair p;

    hs_params_default(&params);
    /* Certificate suite offered, but only PSK credentials configured. */
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "ECDHE-ECDSA-AES128-GCM-SHA256", &params, psk_creds()), 0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT_EQUAL(p.alert, 40);
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_NO_SHARED_SUITE);
    char facts[160];
    printf("\n    no common suite: %s; client offered %s ",
           hs_fail_reason_text(hs_fail_reason(p.hs)), hs_offer_facts(p.hs, facts, sizeof(facts)));
    CU_ASSERT_PTR_NOT_NULL(strstr(facts, "suites c02b"));
    pair_free(&p);
    ERR_clear_error();
}

/* RFC 5246 §E.1: a client whose highest version is DTLS 1.0 gets
 * protocol_version. */
static void test_dtls10_client(void)
{
    struct tl_pair p;

    psk_pair(&p, "ALL:@SECLEVEL=0");
    SSL_set_min_proto_version(p.ssl, DTLS1_VERSION);
    SSL_set_max_proto_version(p.ssl, DTLS1_VERSION);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT(p.hs != NULL);
    CU_ASSERT_EQUAL(p.alert, 70);
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_VERSION);
    pair_free(&p);
    ERR_clear_error();
}

static void test_insufficient_security(void)
{
    struct hs_params params;
    struct tl_pair p;

    hs_params_default(&params);
    params.suites[0] = HS_PSK_AES128_GCM;
    params.n_suites = 1;
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-CCM8:@SECLEVEL=0", &params, psk_creds()), 0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT_EQUAL(p.alert, 71); /* insufficient_security */
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_INSUFFICIENT);
    pair_free(&p);
    ERR_clear_error();
}

static void test_bad_mac_dropped_then_limit(void)
{
    struct hs_params params;
    struct tl_pair p;
    struct hs_out out;

    hs_params_default(&params);
    params.bad_mac_limit = 2;
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
                          0);
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    const char *msg = "tamper me";
    SSL_write(p.ssl, msg, (int)strlen(msg));
    size_t len = 0;
    uint8_t *d = dq_pop(&p.to_srv, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    d[len - 1] ^= 0x80; /* tag */
    for (unsigned i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(hs_input(p.hs, d, len, p.now_ms, &out), 0);
        CU_ASSERT_EQUAL(out.n_app, 0);
        CU_ASSERT_EQUAL(out.n_dgrams, 0);
        CU_ASSERT_EQUAL(out.event, HS_EV_NONE);
    }
    CU_ASSERT_EQUAL(hs_get_stats(p.hs)->bad_mac, 2);
    CU_ASSERT(hs_input(p.hs, d, len, p.now_ms, &out) < 0);
    CU_ASSERT_EQUAL(out.event, HS_EV_FAILED);
    CU_ASSERT_EQUAL(out.alert, 20); /* bad_record_mac */
    CU_ASSERT_EQUAL(out.n_dgrams, 1);
    free(d);
    pair_free(&p);
}

static void test_close_notify(void)
{
    struct tl_pair p;
    struct hs_out out;

    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    CU_ASSERT_EQUAL(SSL_shutdown(p.ssl), 0);
    size_t len = 0;
    uint8_t *d = dq_pop(&p.to_srv, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(hs_input(p.hs, d, len, p.now_ms, &out), 0);
    free(d);
    CU_ASSERT_EQUAL(out.event, HS_EV_CLOSED);
    CU_ASSERT_EQUAL(out.n_dgrams, 1);
    push_out(&p, &out);
    CU_ASSERT_EQUAL(SSL_shutdown(p.ssl), 1); /* our close_notify verified */
    pair_free(&p);

    /* Server-initiated. */
    psk_pair(&p, "PSK-AES128-CCM8:@SECLEVEL=0");
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    CU_ASSERT_EQUAL(hs_close(p.hs, &out), 0);
    CU_ASSERT_EQUAL(out.n_dgrams, 1);
    push_out(&p, &out);
    char buf[16];
    CU_ASSERT_EQUAL(SSL_read(p.ssl, buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(SSL_get_error(p.ssl, 0), SSL_ERROR_ZERO_RETURN);
    pair_free(&p);
}

static uint64_t rec_seq(const uint8_t *rec)
{
    uint64_t seq = 0;
    for (int i = 5; i < 11; i++)
        seq = seq << 8 | rec[i];
    return seq;
}

/* Epoch 1's write sequence after ESTABLISHED: the engine's records use
 * HS_ENGINE_WSEQ_RESERVE numbers below keys.server_write_seq_next (where
 * the dataplane starts) and never one at or above it; past the reserve it
 * sends nothing, until a caller without a dataplane takes the rest. */
static void test_engine_write_range(void)
{
    struct tl_pair p;
    struct hs_out out;
    uint8_t rec[256];
    size_t rec_len = 0;

    psk_pair(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0");
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    uint64_t dp_first = hs_keys(p.hs)->server_write_seq_next, prev = 0;
    CU_ASSERT(dp_first >= HS_ENGINE_WSEQ_RESERVE);
    for (unsigned i = 0; i < HS_ENGINE_WSEQ_RESERVE; i++) {
        CU_ASSERT_EQUAL_FATAL(
            hs_seal_app(p.hs, (const uint8_t *)"x", 1, rec, sizeof(rec), &rec_len), 0);
        uint64_t seq = rec_seq(rec);
        CU_ASSERT(seq < dp_first);
        CU_ASSERT(i == 0 || seq == prev + 1);
        prev = seq;
    }
    CU_ASSERT_EQUAL(prev, dp_first - 1);
    CU_ASSERT_EQUAL(hs_seal_app(p.hs, (const uint8_t *)"x", 1, rec, sizeof(rec), &rec_len),
                    CR_ERR_LIMIT);
    /* The close_notify answer has no number left: not sent, counted. */
    CU_ASSERT_EQUAL(SSL_shutdown(p.ssl), 0);
    size_t len = 0;
    uint8_t *d = dq_pop(&p.to_srv, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(hs_input(p.hs, d, len, p.now_ms, &out), 0);
    free(d);
    CU_ASSERT_EQUAL(out.event, HS_EV_CLOSED);
    CU_ASSERT_EQUAL(out.n_dgrams, 0);
    CU_ASSERT_EQUAL(hs_get_stats(p.hs)->wseq_exhausted, 2);
    pair_free(&p);

    /* No dataplane: the engine owns the whole sequence. */
    psk_pair(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0");
    CU_ASSERT_EQUAL(hs_own_write_seq(p.hs), CR_ERR_INVAL); /* not yet established */
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    CU_ASSERT_EQUAL(hs_own_write_seq(p.hs), 0);
    for (unsigned i = 0; i < 2 * HS_ENGINE_WSEQ_RESERVE; i++)
        CU_ASSERT_EQUAL(hs_seal_app(p.hs, (const uint8_t *)"x", 1, rec, sizeof(rec), &rec_len), 0);
    CU_ASSERT_EQUAL(hs_close(p.hs, &out), 0);
    CU_ASSERT_EQUAL(out.n_dgrams, 1);
    pair_free(&p);
}

/* After the dataplane copied the keys the engine wipes its raw copies and
 * the master secret, and still resends its final flight and seals. */
static void test_wipe_installed_keys(void)
{
    struct tl_pair p;
    static const uint8_t zero[CR_AEAD_KEY_MAX_LEN];

    psk_pair(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0");
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    const struct hs_keys *k = hs_keys(p.hs);
    CU_ASSERT_FATAL(k != NULL);
    CU_ASSERT(memcmp(k->server_write_key, zero, k->key_len) != 0);
    hs_wipe_installed_keys(p.hs);
    CU_ASSERT(memcmp(k->server_write_key, zero, sizeof(k->server_write_key)) == 0);
    CU_ASSERT(memcmp(k->client_write_key, zero, sizeof(k->client_write_key)) == 0);
    CU_ASSERT(memcmp(k->server_write_iv, zero, sizeof(k->server_write_iv)) == 0);
    CU_ASSERT(memcmp(k->client_write_iv, zero, sizeof(k->client_write_iv)) == 0);
    CU_ASSERT_EQUAL(k->suite, HS_PSK_AES128_GCM);
    /* The engine's own AEAD contexts still work both ways. */
    exchange_app_data(&p);
    pair_free(&p);
}

static void test_renegotiation_refused(void)
{
    struct tl_pair p;
    struct hs_out out;

    psk_pair(&p, "PSK-AES128-GCM-SHA256:@SECLEVEL=0");
    CU_ASSERT_EQUAL_FATAL(run_handshake(&p, 20), 1);
    CU_ASSERT_EQUAL(SSL_renegotiate(p.ssl), 1);
    SSL_do_handshake(p.ssl);
    size_t len = 0;
    uint8_t *d = dq_pop(&p.to_srv, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d[3], 0);
    CU_ASSERT_EQUAL(d[4], 1); /* epoch 1 ClientHello */
    CU_ASSERT_EQUAL(hs_input(p.hs, d, len, p.now_ms, &out), 0);
    free(d);
    CU_ASSERT_EQUAL(out.event, HS_EV_NONE);
    CU_ASSERT_EQUAL(out.n_dgrams, 1);
    CU_ASSERT(hs_established(p.hs));
    /* The warning is protected (epoch 1) and names no_renegotiation: open
     * it with the client's view of the keys by handing it to the client. */
    CU_ASSERT_EQUAL(out.dgrams[0].data[0], 21);
    CU_ASSERT_EQUAL(out.dgrams[0].data[4], 1);
    /* Its sequence number is the engine's, below the dataplane's range
     * (issue 8 finding 1: it used to be server_write_seq_next itself). */
    CU_ASSERT(rec_seq(out.dgrams[0].data) < hs_keys(p.hs)->server_write_seq_next);
    push_out(&p, &out);
    SSL_do_handshake(p.ssl);
    unsigned long e = ERR_peek_last_error();
    CU_ASSERT_EQUAL(ERR_GET_REASON(e), SSL_R_NO_RENEGOTIATION);
    ERR_clear_error();
    pair_free(&p);
}

/* ---- certificates: MTU, client auth ------------------------------------- */
static void test_mtu_576_big_chain(void)
{
    struct hs_params params;
    struct tl_pair p;
    struct hs_creds *c = hs_creds_new();

    CU_ASSERT_EQUAL(hs_creds_load_cert(c, tpath("big-chain.pem"), tpath("big-key.pem")), 0);
    hs_params_default(&params);
    params.mtu_bytes = 576;
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "ECDHE-RSA-AES128-GCM-SHA256", &params, c), 0);
    CU_ASSERT_EQUAL(run_handshake(&p, 30), 1);
    CU_ASSERT(p.max_server_dgram <= 576);
    CU_ASSERT(p.n_server_dgrams >= 8); /* > 4 KB of flight 2 */
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(p.ssl);
    CU_ASSERT_PTR_NOT_NULL(chain);
    if (chain)
        CU_ASSERT_EQUAL(sk_X509_num(chain), 5);
    if (p.established)
        exchange_app_data(&p);
    pair_free(&p);
}

/* An ECDHE-ECDSA pair whose server trusts ca_file for client certificates
 * (mode), the client with the "client leaf" chain when client_has_cert. */
static void client_auth_pair(struct tl_pair *p, const char *ca_file, enum hs_client_auth mode,
                             bool client_has_cert)
{
    struct hs_params params;
    struct hs_creds *c = cert_creds();

    CU_ASSERT_EQUAL(hs_creds_load_ca(c, tpath(ca_file)), 0);
    hs_params_default(&params);
    params.client_auth = mode;
    CU_ASSERT_EQUAL_FATAL(pair_init(p, "ECDHE-ECDSA-AES128-GCM-SHA256", &params, c), 0);
    if (client_has_cert) {
        CU_ASSERT_EQUAL(SSL_use_certificate_chain_file(p->ssl, tpath("client-chain.pem")), 1);
        CU_ASSERT_EQUAL(SSL_use_PrivateKey_file(p->ssl, tpath("client-key.pem"), SSL_FILETYPE_PEM),
                        1);
    }
}

static void client_auth_case(enum hs_client_auth mode, bool client_has_cert, bool expect_ok)
{
    struct tl_pair p;
    client_auth_pair(&p, "client-ca.pem", mode, client_has_cert);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), expect_ok ? 1 : 0);
    if (expect_ok && p.established) {
        const struct hs_keys *k = hs_keys(p.hs);
        if (client_has_cert) {
            CU_ASSERT_PTR_NOT_NULL(strstr(k->peer_identity, "CN=client leaf"));
        } else {
            CU_ASSERT_EQUAL(k->peer_identity[0], '\0');
        }
        exchange_app_data(&p);
    }
    if (!expect_ok)
        CU_ASSERT_EQUAL(p.alert, 40);
    pair_free(&p);
    ERR_clear_error();
}

static void test_client_auth_require(void)
{
    client_auth_case(HS_CLIENT_AUTH_REQUIRE, true, true);
}
static void test_client_auth_require_missing(void)
{
    client_auth_case(HS_CLIENT_AUTH_REQUIRE, false, false);
}
static void test_client_auth_optional(void)
{
    client_auth_case(HS_CLIENT_AUTH_OPTIONAL, false, true);
    client_auth_case(HS_CLIENT_AUTH_OPTIONAL, true, true);
}

static void test_client_auth_untrusted(void)
{
    struct tl_pair p;
    /* CA of another PKI: the client chain does not verify. */
    client_auth_pair(&p, "ec-ca.pem", HS_CLIENT_AUTH_REQUIRE, true);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT_EQUAL(p.alert, 42); /* bad_certificate */
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_BAD_CLIENT_CERT);
    pair_free(&p);
    ERR_clear_error();
}

static void test_groups(void)
{
    static const char *const groups[] = {"X25519", "P-256", "P-384", "P-384:P-521"};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        struct hs_params params;
        struct tl_pair p;
        hs_params_default(&params);
        CU_ASSERT_EQUAL_FATAL(pair_init(&p, "ECDHE-RSA-AES128-GCM-SHA256", &params, cert_creds()),
                              0);
        CU_ASSERT_EQUAL(SSL_set1_groups_list(p.ssl, groups[i]), 1);
        CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
        if (p.established)
            exchange_app_data(&p);
        pair_free(&p);
    }
    /* ECDSA: the P-256 certificate needs P-256 among the client's groups
     * (RFC 8422 §5.1); the ECDHE group itself may differ. */
    static const struct {
        const char *groups;
        int ok;
    } ec_cases[] = {
        {"X25519:P-256", 1}, {"P-384:P-256", 1}, {"X25519", 0}, {"P-384:P-521", 0}, {"P-521", 0}};
    for (size_t i = 0; i < sizeof(ec_cases) / sizeof(ec_cases[0]); i++) {
        struct hs_params params;
        struct tl_pair p;
        hs_params_default(&params);
        CU_ASSERT_EQUAL_FATAL(pair_init(&p, "ECDHE-ECDSA-AES128-GCM-SHA256", &params, cert_creds()),
                              0);
        CU_ASSERT_EQUAL(SSL_set1_groups_list(p.ssl, ec_cases[i].groups), 1);
        CU_ASSERT_EQUAL(run_handshake(&p, 20), ec_cases[i].ok);
        if (!ec_cases[i].ok) {
            CU_ASSERT_EQUAL(p.alert, 40);
            CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_NO_SHARED_GROUP);
        }
        pair_free(&p);
        ERR_clear_error();
    }
}

/* ---- certificate slots, chosen per ClientHello ---------------------------- */

/* P-256 + P-384 + RSA certificates in one listener's credentials. */
static struct hs_creds *multi_cert_creds(void)
{
    struct hs_creds *c = cert_creds();
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, tpath("ec384-chain.pem"), tpath("ec384-key.pem")), 0);
    return c;
}

/* The CN of the leaf the client saw ("" when none). */
static void peer_leaf_cn(SSL *ssl, char *cn, size_t cap)
{
    cn[0] = '\0';
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer)
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, (int)cap);
    X509_free(peer);
}

/* A real libssl client (groups, sigalgs or NULL for libssl's default)
 * against the three-certificate listener. */
static void multi_cert_case(const char *cipher, const char *groups, const char *sigalgs,
                            const char *want_cn, int want_md_nid)
{
    struct hs_params params;
    struct tl_pair p;
    char list[128], cn[64];

    hs_params_default(&params);
    snprintf(list, sizeof(list), "%s:@SECLEVEL=0", cipher);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, list, &params, multi_cert_creds()), 0);
    CU_ASSERT_EQUAL(SSL_set1_groups_list(p.ssl, groups), 1);
    if (sigalgs)
        CU_ASSERT_EQUAL(SSL_set1_sigalgs_list(p.ssl, sigalgs), 1);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    peer_leaf_cn(p.ssl, cn, sizeof(cn));
    if (strcmp(cn, want_cn) != 0)
        printf("\n    %s groups %s sigalgs %s: leaf '%s', want '%s' ", cipher, groups,
               sigalgs ? sigalgs : "default", cn, want_cn);
    CU_ASSERT_STRING_EQUAL(cn, want_cn);
    int md = 0;
    CU_ASSERT_EQUAL(SSL_get_peer_signature_nid(p.ssl, &md), 1);
    CU_ASSERT_EQUAL(md, want_md_nid);
    if (p.established)
        exchange_app_data(&p);
    pair_free(&p);
    ERR_clear_error();
}

/* libssl clients get the certificate their groups and signature
 * algorithms allow: P-384-only groups the P-384 certificate (with the
 * SHA-384 scheme, or SHA-1 when that is all the client lists), P-256 the
 * P-256 one, RSA suites the RSA one. */
static void test_cert_slots_real_client(void)
{
    multi_cert_case("ECDHE-ECDSA-AES128-GCM-SHA256", "P-384:P-521", NULL, "ec384 leaf", NID_sha384);
    multi_cert_case("ECDHE-ECDSA-AES128-GCM-SHA256", "P-384:P-521", "ECDSA+SHA384", "ec384 leaf",
                    NID_sha384);
    multi_cert_case("ECDHE-ECDSA-AES128-GCM-SHA256", "P-384:P-521", "ECDSA+SHA1", "ec384 leaf",
                    NID_sha1);
    multi_cert_case("ECDHE-ECDSA-AES128-GCM-SHA256", "P-256", NULL, "ec leaf", NID_sha256);
    multi_cert_case("ECDHE-ECDSA-AES128-GCM-SHA256", "X25519:P-256:P-384", NULL, "ec leaf",
                    NID_sha256);
    multi_cert_case("ECDHE-RSA-AES128-GCM-SHA256", "P-384:P-521", NULL, "rsa leaf", NID_sha256);
}

/* A ClientHello written by hand (libssl always sends signature_algorithms
 * in (D)TLS 1.2, and RFC 5246 §7.4.1.4.1's defaults are for clients that
 * do not): DTLS 1.2, one suite, supported_groups (n_groups < 0: no
 * extension), ec_point_formats, signature_algorithms (n_sig < 0: none),
 * extended_master_secret.  Returns the record's length. */
static size_t raw_client_hello(uint8_t *rec, uint16_t suite, const uint16_t *groups, int n_groups,
                               const uint16_t *sigs, int n_sig, uint8_t *out_random)
{
    uint8_t body[512];
    size_t n = 0;
#define PUT8(v)  (body[n++] = (uint8_t)(v))
#define PUT16(v) (PUT8((v) >> 8), PUT8(v))
    PUT16(0xfefd);
    for (unsigned i = 0; i < 32; i++)
        out_random[i] = (uint8_t)(0x40 + i);
    memcpy(body + n, out_random, 32);
    n += 32;
    PUT8(0); /* session_id */
    PUT8(0); /* cookie */
    PUT16(2);
    PUT16(suite);
    PUT8(1);
    PUT8(0); /* compression: null */
    size_t ext_at = n;
    PUT16(0);
    if (n_groups >= 0) {
        PUT16(10);
        PUT16(2 + 2 * n_groups);
        PUT16(2 * n_groups);
        for (int i = 0; i < n_groups; i++)
            PUT16(groups[i]);
    }
    PUT16(11);
    PUT16(2);
    PUT8(1);
    PUT8(0); /* uncompressed */
    if (n_sig >= 0) {
        PUT16(13);
        PUT16(2 + 2 * n_sig);
        PUT16(2 * n_sig);
        for (int i = 0; i < n_sig; i++)
            PUT16(sigs[i]);
    }
    PUT16(23);
    PUT16(0); /* extended_master_secret */
    body[ext_at] = (uint8_t)((n - ext_at - 2) >> 8);
    body[ext_at + 1] = (uint8_t)(n - ext_at - 2);
#undef PUT16
#undef PUT8
    /* record header (epoch 0, seq 0) + handshake header, one fragment */
    static const uint8_t rh[11] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(rec, rh, sizeof(rh));
    size_t hl = 12 + n;
    rec[11] = (uint8_t)(hl >> 8);
    rec[12] = (uint8_t)hl;
    uint8_t *h = rec + 13;
    h[0] = 1; /* client_hello */
    h[1] = (uint8_t)(n >> 16);
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    memset(h + 4, 0, 5); /* message_seq 0, fragment_offset 0 */
    h[9] = (uint8_t)(n >> 16);
    h[10] = (uint8_t)(n >> 8);
    h[11] = (uint8_t)n;
    memcpy(h + 12, body, n);
    return 13 + hl;
}

#define RAW_MSGS_MAX 8
/* The server's first flight, reassembled: message bodies by type. */
struct raw_flight {
    uint8_t *body[RAW_MSGS_MAX];
    size_t len[RAW_MSGS_MAX];
    uint8_t type[RAW_MSGS_MAX];
    unsigned n;
    bool failed;
    int alert;
    enum hs_fail_reason reason;
    char facts[HS_OFFER_FACTS_MAX_LEN]; /* hs_offer_facts: the failure log's offer */
};

static void raw_flight_free(struct raw_flight *f)
{
    for (unsigned i = 0; i < f->n; i++)
        free(f->body[i]);
    memset(f, 0, sizeof(*f));
}

static const uint8_t *raw_msg(const struct raw_flight *f, uint8_t type, size_t *len)
{
    for (unsigned i = 0; i < f->n; i++)
        if (f->type[i] == type) {
            *len = f->len[i];
            return f->body[i];
        }
    return NULL;
}

static uint32_t be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Feeds the hand-written ClientHello to a fresh handshake (cookies off)
 * and reassembles the epoch-0 handshake fragments of its answer. */
static void raw_exchange(struct hs_creds *creds, enum hs_client_auth auth, uint16_t suite,
                         const uint16_t *groups, int n_groups, const uint16_t *sigs, int n_sig,
                         struct raw_flight *f, uint8_t *client_random)
{
    struct hs_params params;
    struct hs_out out;
    uint8_t rec[600];

    memset(f, 0, sizeof(*f));
    hs_params_default(&params);
    params.cookie_required = false;
    params.client_auth = auth;
    struct hs_ctx *ctx = hs_ctx_new(&params, creds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    struct hs_peer peer = {.addr = {192, 0, 2, 9}, .port = 40001, .family = 4};
    struct hs *hs = hs_new(ctx, &peer, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hs);
    size_t len = raw_client_hello(rec, suite, groups, n_groups, sigs, n_sig, client_random);
    memset(&out, 0, sizeof(out));
    int rc = hs_input(hs, rec, len, 1000, &out);
    f->failed = rc < 0 || out.event == HS_EV_FAILED;
    f->alert = out.alert;
    f->reason = hs_fail_reason(hs);
    hs_offer_facts(hs, f->facts, sizeof(f->facts));
    for (unsigned d = 0; d < out.n_dgrams; d++) {
        const uint8_t *p = out.dgrams[d].data;
        size_t left = out.dgrams[d].len;
        while (left >= 13) {
            size_t rl = (size_t)p[11] << 8 | p[12];
            CU_ASSERT_FATAL(rl <= left - 13);
            if (p[0] == 22 && p[3] == 0 && p[4] == 0 && rl >= 12) {
                const uint8_t *h = p + 13;
                uint32_t mlen = be24(h + 1), off = be24(h + 6), flen = be24(h + 9);
                unsigned seq = (unsigned)h[4] << 8 | h[5];
                CU_ASSERT_FATAL(seq < RAW_MSGS_MAX && flen <= rl - 12 && off <= mlen &&
                                flen <= mlen - off);
                if (seq >= f->n) {
                    f->n = seq + 1;
                    f->body[seq] = calloc(1, mlen ? mlen : 1);
                    f->len[seq] = mlen;
                    f->type[seq] = h[0];
                }
                memcpy(f->body[seq] + off, h + 12, flen);
            }
            p += 13 + rl;
            left -= 13 + rl;
        }
    }
    hs_free(hs);
    hs_ctx_free(ctx);
}

/* The leaf of the Certificate message, parsed. */
static X509 *raw_leaf(const struct raw_flight *f)
{
    size_t len = 0;
    const uint8_t *m = raw_msg(f, 11, &len);
    if (!m || len < 6)
        return NULL;
    const unsigned char *der = m + 6;
    return d2i_X509(NULL, &der, (long)be24(m + 3));
}

static void leaf_cn(X509 *x, char *cn, size_t cap)
{
    cn[0] = '\0';
    if (x)
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cap);
}

/* Checks the flight: the leaf's CN, the ServerKeyExchange's group and
 * scheme, and that its signature verifies with the leaf's key under the
 * scheme's hash over client_random + server_random + params (RFC 8422
 * §5.4). */
static void raw_expect(const struct raw_flight *f, const uint8_t *client_random,
                       const char *want_cn, uint16_t want_group, uint16_t want_scheme)
{
    char cn[64];
    size_t sh_len = 0, ske_len = 0;
    CU_ASSERT_FALSE(f->failed);
    X509 *leaf = raw_leaf(f);
    leaf_cn(leaf, cn, sizeof(cn));
    if (strcmp(cn, want_cn) != 0)
        printf("\n    leaf '%s', want '%s' (reason %s) ", cn, want_cn,
               hs_fail_reason_text(f->reason));
    CU_ASSERT_STRING_EQUAL(cn, want_cn);
    const uint8_t *sh = raw_msg(f, 2, &sh_len);
    const uint8_t *ske = raw_msg(f, 12, &ske_len);
    if (!leaf || !sh || sh_len < 34 || !ske || ske_len < 4 || ske_len < 4u + ske[3] + 4) {
        CU_FAIL("no ServerHello / ServerKeyExchange");
        X509_free(leaf);
        return;
    }
    CU_ASSERT_EQUAL(ske[0], 3); /* named_curve */
    CU_ASSERT_EQUAL((ske[1] << 8 | ske[2]), want_group);
    size_t params_len = 4u + ske[3];
    uint16_t scheme = (uint16_t)(ske[params_len] << 8 | ske[params_len + 1]);
    size_t sig_len = (size_t)ske[params_len + 2] << 8 | ske[params_len + 3];
    CU_ASSERT_EQUAL(scheme, want_scheme);
    CU_ASSERT_EQUAL_FATAL(params_len + 4 + sig_len, ske_len);
    uint8_t tbs[64 + 4 + 133];
    memcpy(tbs, client_random, 32);
    memcpy(tbs + 32, sh + 2, 32);
    memcpy(tbs + 64, ske, params_len);
    const EVP_MD *md = (scheme >> 8) == 2   ? EVP_sha1()
                       : (scheme >> 8) == 5 ? EVP_sha384()
                                            : EVP_sha256();
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    CU_ASSERT_EQUAL(EVP_DigestVerifyInit(mc, NULL, md, NULL, X509_get0_pubkey(leaf)), 1);
    CU_ASSERT_EQUAL(EVP_DigestVerify(mc, ske + params_len + 4, sig_len, tbs, 64 + params_len), 1);
    EVP_MD_CTX_free(mc);
    X509_free(leaf);
}

/* RFC 8422 §5.1 / RFC 5246 §7.4.1.4.1 on hand-written ClientHellos (the
 * issue 9 report: P-384 and P-521 only, no signature_algorithms). */
static void test_cert_slots_raw(void)
{
    static const uint16_t p384_p521[] = {24, 25}, p256_p384[] = {23, 24}, x25519_p256[] = {29, 23},
                          p384[] = {24}, x25519[] = {29};
    static const uint16_t s384[] = {0x0503}, s256[] = {0x0403}, rsa256[] = {0x0401};
    uint8_t cr[32];
    struct raw_flight f;
    struct hs_creds *c = multi_cert_creds();

    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p384_p521, 2, NULL, -1, &f, cr);
    raw_expect(&f, cr, "ec384 leaf", 24, 0x0203); /* {sha1,ecdsa} */
    raw_flight_free(&f);
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p384, 1, s384, 1, &f, cr);
    raw_expect(&f, cr, "ec384 leaf", 24, 0x0503);
    raw_flight_free(&f);
    /* both curves allowed: ecdsa_secp384r1_sha384 alone goes with P-384 */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p256_p384, 2, s384, 1, &f, cr);
    raw_expect(&f, cr, "ec384 leaf", 23, 0x0503);
    raw_flight_free(&f);
    /* both allowed, no preference from the schemes: P-256 */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p256_p384, 2, NULL, -1, &f, cr);
    raw_expect(&f, cr, "ec leaf", 23, 0x0203);
    raw_flight_free(&f);
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, x25519_p256, 2, s256, 1, &f,
                 cr);
    raw_expect(&f, cr, "ec leaf", 29, 0x0403);
    raw_flight_free(&f);
    /* P-384 only, but only the P-256 scheme listed: it fits P-384 too
     * (TLS 1.2 schemes name the hash) */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p384, 1, s256, 1, &f, cr);
    raw_expect(&f, cr, "ec384 leaf", 24, 0x0403);
    raw_flight_free(&f);
    /* no supported_groups: any curve, P-256 preferred (RFC 8422 §4) */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, NULL, -1, NULL, -1, &f, cr);
    raw_expect(&f, cr, "ec leaf", 23, 0x0203);
    raw_flight_free(&f);
    /* RSA suite: the RSA certificate, {sha1,rsa} by default */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_RSA_AES128_GCM, p384_p521, 2, NULL, -1, &f, cr);
    raw_expect(&f, cr, "rsa leaf", 24, 0x0201);
    raw_flight_free(&f);
    /* failures keep their names */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p384, 1, rsa256, 1, &f, cr);
    CU_ASSERT(f.failed && f.alert == 40);
    CU_ASSERT_EQUAL(f.reason, HS_FAIL_NO_SIG_SCHEME);
    raw_flight_free(&f);
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, x25519, 1, NULL, -1, &f, cr);
    CU_ASSERT(f.failed && f.alert == 40);
    CU_ASSERT_EQUAL(f.reason, HS_FAIL_NO_SHARED_GROUP);
    raw_flight_free(&f);
    hs_creds_free(c);
    /* with only the P-256 certificate the reported client is not served */
    c = cert_creds();
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, p384_p521, 2, NULL, -1, &f, cr);
    CU_ASSERT(f.failed);
    CU_ASSERT_EQUAL(f.reason, HS_FAIL_NO_SHARED_GROUP);
    raw_flight_free(&f);
    hs_creds_free(c);
}

/* Issue 9: the failure log's "client offered ..." names every group the
 * ClientHello listed, in its order: the ones we serve, the known ones we
 * do not (P-521, x448, ffdhe*), unknown ids as hex; the first
 * HS_OFFER_GROUPS_MAX, then ",...", within HS_OFFER_FACTS_MAX_LEN. */
static void test_offer_facts_groups(void)
{
    static const uint16_t p521[] = {25}, unknown[] = {0x1234},
                          mixed[] = {30, 0x0100, 0x0104, 25, 0x6a6a, 22},
                          many[] = {26, 27, 28, 26, 27, 28, 26, 27, 28, 26, 27, 28, 0x0102, 25};
    static const struct {
        const char *name;
        const uint16_t *groups;
        int n;
        const char *want;
    } cases[] = {
        {"P-521 only", p521, 1, ", groups P-521, sig_algs none, EMS yes"},
        {"an unknown group only", unknown, 1, ", groups 0x1234, sig_algs none, EMS yes"},
        {"known we do not serve, GREASE", mixed, 6,
         ", groups x448,ffdhe2048,ffdhe8192,P-521,0x6a6a,secp256k1, sig_algs none"},
        {"14 groups", many, 14,
         ", groups brainpoolP256r1,brainpoolP384r1,brainpoolP512r1,brainpoolP256r1,"
         "brainpoolP384r1,brainpoolP512r1,brainpoolP256r1,brainpoolP384r1,brainpoolP512r1,"
         "brainpoolP256r1,brainpoolP384r1,brainpoolP512r1,..., sig_algs none, EMS yes"},
    };
    uint8_t cr[32];
    struct raw_flight f;
    struct hs_creds *c = multi_cert_creds();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, cases[i].groups, cases[i].n,
                     NULL, -1, &f, cr);
        printf("\n    %s: %s; client offered %s", cases[i].name, hs_fail_reason_text(f.reason),
               f.facts);
        CU_ASSERT(f.failed && f.alert == 40);
        CU_ASSERT_EQUAL(f.reason, HS_FAIL_NO_SHARED_GROUP);
        CU_ASSERT(strncmp(f.facts, "version fefd, suites c02b", 25) == 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(f.facts, cases[i].want));
        CU_ASSERT(strlen(f.facts) < sizeof(f.facts) - 1); /* not cut */
        raw_flight_free(&f);
    }
    /* no supported_groups at all */
    raw_exchange(c, HS_CLIENT_AUTH_NONE, HS_ECDHE_ECDSA_AES128_GCM, NULL, -1, NULL, -1, &f, cr);
    CU_ASSERT_FALSE(f.failed);
    raw_flight_free(&f);
    hs_creds_free(c);

    /* a real libssl client offering P-521 only */
    struct hs_params params;
    struct tl_pair p;
    char facts[HS_OFFER_FACTS_MAX_LEN];
    hs_params_default(&params);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "ECDHE-ECDSA-AES128-GCM-SHA256", &params, cert_creds()), 0);
    CU_ASSERT_EQUAL(SSL_set1_groups_list(p.ssl, "P-521"), 1);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 0);
    CU_ASSERT_EQUAL(hs_fail_reason(p.hs), HS_FAIL_NO_SHARED_GROUP);
    hs_offer_facts(p.hs, facts, sizeof(facts));
    printf("\n    libssl -groups P-521: client offered %s ", facts);
    CU_ASSERT_PTR_NOT_NULL(strstr(facts, ", groups P-521, sig_algs yes, EMS yes"));
    /* a buffer too small gets the cut string, NUL-terminated */
    char small[16];
    memset(small, 'x', sizeof(small));
    hs_offer_facts(p.hs, small, sizeof(small));
    CU_ASSERT_STRING_EQUAL(small, "version fefd, s");
    pair_free(&p);
    ERR_clear_error();

    CU_ASSERT_STRING_EQUAL(hs_group_name(25), "P-521");
    CU_ASSERT_STRING_EQUAL(hs_group_name(0x001e), "x448");
    CU_ASSERT_STRING_EQUAL(hs_group_name(0x0103), "ffdhe6144");
    CU_ASSERT_PTR_NULL(hs_group_name(0x1234));
    CU_ASSERT_PTR_NULL(hs_group_name(0));
}

/* RFC 5246 §7.4.4: certificate_authorities lists the DER subjects of the
 * client-CA store, in file order, a repeated CA once; libssl's client
 * sees the same list (SSL_get0_peer_CA_list). */
static void test_cert_request_ca_names(void)
{
    char path[600], cmd[2048];
    snprintf(path, sizeof(path), "%s/two-cas.pem", tmpdir);
    snprintf(cmd, sizeof(cmd), "cat '%s' '%s' '%s' > '%s'", tpath("client-ca.pem"),
             tpath("ec384-ca.pem"), tpath("client-ca.pem"), path);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    X509 *want[2] = {NULL, NULL};
    const char *files[2] = {tpath("client-ca.pem"), tpath("ec384-ca.pem")};
    for (unsigned i = 0; i < 2; i++) {
        FILE *fp = fopen(files[i], "r");
        CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
        want[i] = PEM_read_X509(fp, NULL, NULL, NULL);
        fclose(fp);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want[i]);
    }

    struct hs_creds *c = cert_creds();
    CU_ASSERT_EQUAL(hs_creds_load_ca(c, path), 0);
    static const uint16_t p256[] = {23}, s256[] = {0x0403};
    uint8_t cr[32];
    struct raw_flight f;
    raw_exchange(c, HS_CLIENT_AUTH_OPTIONAL, HS_ECDHE_ECDSA_AES128_GCM, p256, 1, s256, 1, &f, cr);
    CU_ASSERT_FALSE(f.failed);
    size_t len = 0;
    const uint8_t *m = raw_msg(&f, 13, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* certificate_types<1..2^8-1>, supported_signature_algorithms<2..2^16-2>,
     * certificate_authorities<0..2^16-1>: consumed exactly */
    CU_ASSERT_FATAL(len >= 1 && len >= 1u + m[0] + 2);
    size_t at = 1u + m[0];
    size_t sa = (size_t)m[at] << 8 | m[at + 1];
    at += 2 + sa;
    CU_ASSERT_FATAL(at + 2 <= len);
    size_t ca_len = (size_t)m[at] << 8 | m[at + 1];
    at += 2;
    CU_ASSERT_EQUAL_FATAL(at + ca_len, len);
    unsigned n_names = 0;
    while (at < len) {
        CU_ASSERT_FATAL(at + 2 <= len);
        size_t nl = (size_t)m[at] << 8 | m[at + 1];
        CU_ASSERT_FATAL(nl >= 1 && nl <= len - at - 2);
        const unsigned char *der = m + at + 2;
        X509_NAME *name = d2i_X509_NAME(NULL, &der, (long)nl);
        CU_ASSERT_PTR_NOT_NULL_FATAL(name);
        CU_ASSERT_EQUAL(der, m + at + 2 + nl); /* the DER is the whole entry */
        if (n_names < 2)
            CU_ASSERT_EQUAL(X509_NAME_cmp(name, X509_get_subject_name(want[n_names])), 0);
        X509_NAME_free(name);
        n_names++;
        at += 2 + nl;
    }
    CU_ASSERT_EQUAL(n_names, 2);
    raw_flight_free(&f);

    /* A real client sees the same names. */
    struct hs_params params;
    struct tl_pair p;
    hs_params_default(&params);
    params.client_auth = HS_CLIENT_AUTH_OPTIONAL;
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "ECDHE-ECDSA-AES128-GCM-SHA256", &params, c), 0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    const STACK_OF(X509_NAME) *got = SSL_get0_peer_CA_list(p.ssl);
    CU_ASSERT_EQUAL_FATAL(got ? sk_X509_NAME_num(got) : 0, 2);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(X509_NAME_cmp(sk_X509_NAME_value(got, i), X509_get_subject_name(want[i])),
                        0);
    pair_free(&p);
    X509_free(want[0]);
    X509_free(want[1]);
    ERR_clear_error();
}

static void test_server_preference(void)
{
    struct hs_params params;
    struct tl_pair p;

    /* Client offers several; default order picks GCM before CCM-8. */
    hs_params_default(&params);
    CU_ASSERT_EQUAL_FATAL(
        pair_init(&p, "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:@SECLEVEL=0", &params, psk_creds()),
        0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    if (p.established)
        CU_ASSERT_EQUAL(hs_keys(p.hs)->suite, HS_PSK_AES128_GCM);
    pair_free(&p);
    /* Configured order wins. */
    CU_ASSERT_EQUAL(
        hs_suite_list_parse("TLS_PSK_WITH_AES_128_CCM_8:0x00A8", params.suites, HS_MAX_SUITES), 2);
    params.n_suites = 2;
    CU_ASSERT_EQUAL_FATAL(
        pair_init(&p, "PSK-AES128-GCM-SHA256:PSK-AES128-CCM8:@SECLEVEL=0", &params, psk_creds()),
        0);
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    if (p.established)
        CU_ASSERT_EQUAL(hs_keys(p.hs)->suite, HS_PSK_AES128_CCM8);
    pair_free(&p);
}

static void test_psk_hint_and_sni(void)
{
    struct hs_params params;
    struct tl_pair p;
    struct hs_creds *c = psk_creds();

    CU_ASSERT_EQUAL(hs_creds_set_psk_hint(c, "gateway-hint"), 0);
    hs_params_default(&params);
    CU_ASSERT_EQUAL_FATAL(pair_init(&p, "PSK-AES128-CCM8:@SECLEVEL=0", &params, c), 0);
    SSL_set_tlsext_host_name(p.ssl, "sensor.example");
    CU_ASSERT_EQUAL(run_handshake(&p, 20), 1);
    if (p.established) {
        CU_ASSERT_STRING_EQUAL(hs_keys(p.hs)->sni, "sensor.example");
        exchange_app_data(&p);
    }
    pair_free(&p);
}

/* CertificateVerify delivered after CCS and Finished (reordering, or the
 * datagram holding it lost once): the handshake still completes. */
static void test_cert_verify_after_ccs(void)
{
    struct tl_pair p;
    client_auth_pair(&p, "client-ca.pem", HS_CLIENT_AUTH_REQUIRE, true);
    unsigned moved = 0;
    for (unsigned r = 0; r < 10 && !p.established && !p.failed; r++) {
        SSL_do_handshake(p.ssl);
        uint8_t *recs[SPLIT_MAX_RECORDS];
        size_t lens[SPLIT_MAX_RECORDS];
        unsigned n = split_client_records(&p, recs, lens);
        for (int pass = 0; pass < 2; pass++)
            for (unsigned i = 0; i < n; i++) {
                bool cv = recs[i][0] == 22 && recs[i][4] == 0 && lens[i] > 25 && recs[i][13] == 15;
                if ((pass == 1) == cv) {
                    if (cv)
                        moved++;
                    server_rx(&p, recs[i], lens[i]);
                }
            }
        for (unsigned i = 0; i < n; i++)
            free(recs[i]);
    }
    CU_ASSERT(moved >= 1);
    CU_ASSERT(p.established);
    CU_ASSERT_EQUAL(run_handshake(&p, 5), 1);
    if (p.established)
        CU_ASSERT_PTR_NOT_NULL(strstr(hs_keys(p.hs)->peer_identity, "CN=client leaf"));
    pair_free(&p);
}

/* Garbage and mutated datagrams never crash the engine; a genuine
 * handshake still completes afterwards when the junk was only dropped. */
static void test_garbage_input(void)
{
    struct hs_params params;
    struct hs_out out;
    struct hs_creds *creds = psk_creds();
    struct hs_peer peer = {{10, 1, 1, 1}, 1234, 4};
    uint8_t buf[600];

    hs_params_default(&params);
    struct hs_ctx *ctx = hs_ctx_new(&params, creds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    for (unsigned i = 0; i < 3000; i++) {
        struct hs *hs = hs_new(ctx, &peer, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hs);
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rand();
        /* Plausible record headers half of the time. */
        if (len > 25 && (i & 1)) {
            buf[0] = 22;
            buf[1] = 0xfe;
            buf[2] = 0xfd;
            buf[3] = 0;
            buf[4] = (uint8_t)(i & 2 ? 0 : 1);
            buf[11] = (uint8_t)((len - 13) >> 8);
            buf[12] = (uint8_t)(len - 13);
            buf[13] = 1;
        }
        int rc = hs_input(hs, buf, len, 0, &out);
        CU_ASSERT(rc == 0 || out.event == HS_EV_FAILED);
        CU_ASSERT(out.n_dgrams <= HS_OUT_MAX_DGRAMS);
        hs_free(hs);
    }
    hs_ctx_free(ctx);
    hs_creds_free(creds);
}

/* ---- suite table (control/hs_suites.c) ----------------------------------- */
static void test_suite_table(void)
{
    uint16_t ids[HS_MAX_SUITES];
    const struct hs_suite_info *s = hs_suite_find(HS_PSK_AES128_CCM8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "TLS_PSK_WITH_AES_128_CCM_8");
    CU_ASSERT_EQUAL(s->kex, HS_KEX_PSK);
    CU_ASSERT_EQUAL(s->aead, CR_AEAD_AES128_CCM8);
    CU_ASSERT_FALSE(s->sha384);
    s = hs_suite_find(HS_PSK_AES256_GCM);
    CU_ASSERT(s && s->sha384);
    s = hs_suite_find(HS_ECDHE_RSA_AES256_GCM);
    CU_ASSERT(s && s->sha384 && s->kex == HS_KEX_ECDHE_RSA);
    CU_ASSERT_PTR_NULL(hs_suite_find(0x002f));
    CU_ASSERT_PTR_EQUAL(hs_suite_by_name("ECDHE-PSK-CHACHA20-POLY1305"),
                        hs_suite_find(HS_ECDHE_PSK_CHACHA20));
    CU_ASSERT_PTR_EQUAL(hs_suite_by_name("tls_ecdhe_ecdsa_with_aes_128_ccm"),
                        hs_suite_find(HS_ECDHE_ECDSA_AES128_CCM));
    CU_ASSERT_PTR_NULL(hs_suite_by_name("AES128-SHA"));
    /* All 14 suites of hs.h are in the table with distinct names. */
    static const uint16_t all[] = {
        HS_PSK_AES128_CCM8,         HS_PSK_AES128_CCM,         HS_PSK_AES128_GCM,
        HS_PSK_AES256_GCM,          HS_PSK_CHACHA20,           HS_ECDHE_PSK_CHACHA20,
        HS_ECDHE_ECDSA_AES128_GCM,  HS_ECDHE_ECDSA_AES256_GCM, HS_ECDHE_ECDSA_CHACHA20,
        HS_ECDHE_ECDSA_AES128_CCM8, HS_ECDHE_ECDSA_AES128_CCM, HS_ECDHE_RSA_AES128_GCM,
        HS_ECDHE_RSA_AES256_GCM,    HS_ECDHE_RSA_CHACHA20};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        s = hs_suite_find(all[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_PTR_EQUAL(hs_suite_by_name(s->name), s);
    }
    /* Lists: names of both styles, hex, separators, duplicates folded. */
    CU_ASSERT_EQUAL(hs_suite_list_parse("PSK-AES128-CCM8:TLS_PSK_WITH_AES_128_GCM_SHA256, "
                                        "0xCCAB 0xc0a8",
                                        ids, HS_MAX_SUITES),
                    3);
    CU_ASSERT_EQUAL(ids[0], HS_PSK_AES128_CCM8);
    CU_ASSERT_EQUAL(ids[1], HS_PSK_AES128_GCM);
    CU_ASSERT_EQUAL(ids[2], HS_PSK_CHACHA20);
    CU_ASSERT_EQUAL(hs_suite_list_parse("PSK-AES128-CCM8:BOGUS", ids, HS_MAX_SUITES),
                    CR_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(hs_suite_list_parse("0x12345", ids, HS_MAX_SUITES), CR_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(hs_suite_list_parse("0x", ids, HS_MAX_SUITES), CR_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(hs_suite_list_parse("", ids, HS_MAX_SUITES), CR_ERR_DECODE);
    CU_ASSERT_EQUAL(hs_suite_list_parse("0xC0A8:0x00A8", ids, 1), CR_ERR_LIMIT);
    /* Invalid configured suite refused by hs_ctx_new. */
    struct hs_params params;
    struct hs_creds *c = hs_creds_new();
    hs_params_default(&params);
    params.suites[0] = 0x002f;
    params.n_suites = 1;
    CU_ASSERT_PTR_NULL(hs_ctx_new(&params, c));
    hs_params_default(&params);
    params.mtu_bytes = 100;
    CU_ASSERT_PTR_NULL(hs_ctx_new(&params, c));
    hs_creds_free(c);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("engine", suite_init, suite_clean);
    CU_add_test(s, "PSK-AES128-CCM8", test_psk_aes128_ccm8);
    CU_add_test(s, "PSK-AES128-GCM", test_psk_aes128_gcm);
    CU_add_test(s, "PSK-AES128-CCM", test_psk_aes128_ccm);
    CU_add_test(s, "PSK-AES256-GCM", test_psk_aes256_gcm);
    CU_add_test(s, "PSK-CHACHA20", test_psk_chacha20);
    CU_add_test(s, "ECDHE-PSK-CHACHA20", test_ecdhe_psk_chacha20);
    CU_add_test(s, "PSK 64-byte key, 255-byte identity", test_psk_wire_maxima);
    CU_add_test(s, "ECDHE-ECDSA-AES128-GCM", test_ecdsa_aes128_gcm);
    CU_add_test(s, "ECDHE-ECDSA-AES256-GCM", test_ecdsa_aes256_gcm);
    CU_add_test(s, "ECDHE-ECDSA-CHACHA20", test_ecdsa_chacha20);
    CU_add_test(s, "ECDHE-ECDSA-AES128-CCM8", test_ecdsa_ccm8);
    CU_add_test(s, "ECDHE-ECDSA-AES128-CCM", test_ecdsa_ccm);
    CU_add_test(s, "ECDHE-RSA-AES128-GCM", test_rsa_aes128_gcm);
    CU_add_test(s, "ECDHE-RSA-AES256-GCM", test_rsa_aes256_gcm);
    CU_add_test(s, "ECDHE-RSA-CHACHA20", test_rsa_chacha20);
    CU_add_test(s, "cookie HVR and rotation", test_cookie_hvr_and_rotation);
    CU_add_test(s, "retransmit on timeout", test_retransmit_on_timeout);
    CU_add_test(s, "timeout gives up", test_timeout_gives_up);
    CU_add_test(s, "deadline despite a peer retransmitting forever",
                test_deadline_despite_peer_retransmits);
    CU_add_test(s, "retransmit on repeated client flight",
                test_retransmit_on_repeated_client_flight);
    CU_add_test(s, "resend final flight", test_resend_final_flight);
    CU_add_test(s, "Finished before CCS", test_finished_before_ccs);
    CU_add_test(s, "unknown PSK identity", test_unknown_psk_identity);
    CU_add_test(s, "wrong PSK key: bad Finished, named", test_wrong_psk_key);
    CU_add_test(s, "EMS preferred by default, required on request", test_ems_preferred);
    CU_add_test(s, "no common suite", test_no_common_suite);
    CU_add_test(s, "insufficient security", test_insufficient_security);
    CU_add_test(s, "DTLS 1.0 client", test_dtls10_client);
    CU_add_test(s, "bad MAC drop and limit", test_bad_mac_dropped_then_limit);
    CU_add_test(s, "close_notify", test_close_notify);
    CU_add_test(s, "renegotiation refused", test_renegotiation_refused);
    CU_add_test(s, "raw keys and master secret wiped after install", test_wipe_installed_keys);
    CU_add_test(s, "engine's epoch-1 writes stay below the dataplane's", test_engine_write_range);
    CU_add_test(s, "MTU 576 big chain", test_mtu_576_big_chain);
    CU_add_test(s, "client auth require", test_client_auth_require);
    CU_add_test(s, "client auth require missing", test_client_auth_require_missing);
    CU_add_test(s, "client auth optional", test_client_auth_optional);
    CU_add_test(s, "client auth untrusted", test_client_auth_untrusted);
    CU_add_test(s, "groups", test_groups);
    CU_add_test(s, "certificate slots: real clients", test_cert_slots_real_client);
    CU_add_test(s, "certificate slots: no signature_algorithms, P-384 only", test_cert_slots_raw);
    CU_add_test(s, "failure log: every offered group named (P-521, unknown as hex)",
                test_offer_facts_groups);
    CU_add_test(s, "CertificateRequest lists the client-CA names", test_cert_request_ca_names);
    CU_add_test(s, "server preference", test_server_preference);
    CU_add_test(s, "PSK hint and SNI", test_psk_hint_and_sni);
    CU_add_test(s, "CertificateVerify after CCS", test_cert_verify_after_ccs);
    CU_add_test(s, "garbage input", test_garbage_input);
    s = CU_add_suite("hs_suites", NULL, NULL);
    CU_add_test(s, "suite table and lists", test_suite_table);
}
