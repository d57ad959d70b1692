/* test_engine_bad.c — bad input against the real handshake engine
 * (control/hs.h): each test drives hs_cookie_check / hs_new / hs_input with
 * flights from a real libssl DTLS 1.2 client over an in-memory datagram BIO,
 * mutated at the record and handshake-message level, and checks that the
 * engine rejects them the way RFC 5246/6347/4279/7627 say (fatal alert with
 * the right description, or a silent drop after which the genuine flight
 * still completes), without crash or leak (run it under ASan too).
 *
 * Keys for crafted epoch-1 records come from the client's master secret
 * (SSL_SESSION_get_master_key) through the TLS 1.2 PRF, so a test can put
 * any message (truncated Finished, ClientHello, ...) into epoch 1. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dp_record.h"
#include "hs.h"
#include "tl_cert.h"
#include "tl_pair.h"

/* ---- alert descriptions (RFC 5246 §7.2, RFC 4279 §2, RFC 5746) ------- */
#define AL_UNEXPECTED_MESSAGE   10
#define AL_BAD_RECORD_MAC       20
#define AL_HANDSHAKE_FAILURE    40
#define AL_BAD_CERTIFICATE      42
#define AL_ILLEGAL_PARAMETER    47
#define AL_DECODE_ERROR         50
#define AL_DECRYPT_ERROR        51
#define AL_NO_RENEGOTIATION     100
#define AL_UNKNOWN_PSK_IDENTITY 115

/* handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2) */
#define HT_CLIENT_HELLO         1
#define HT_SERVER_HELLO         2
#define HT_HELLO_VERIFY_REQUEST 3
#define HT_CERTIFICATE          11
#define HT_SERVER_KEY_EXCHANGE  12
#define HT_CERTIFICATE_REQUEST  13
#define HT_SERVER_HELLO_DONE    14
#define HT_CERTIFICATE_VERIFY   15
#define HT_CLIENT_KEY_EXCHANGE  16
#define HT_FINISHED             20

#define MAX_DGRAM 16384
#define MAX_RECS  64

/* ---- libcrypto allocation counters (installed before any OpenSSL use) - */
static size_t n_ossl_alloc, n_ossl_free;
static void *cnt_malloc(size_t n, const char *f, int l)
{
    (void)f, (void)l;
    n_ossl_alloc++;
    return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, const char *f, int l)
{
    (void)f, (void)l;
    if (!p)
        n_ossl_alloc++;
    return realloc(p, n);
}
static void cnt_free(void *p, const char *f, int l)
{
    (void)f, (void)l;
    if (p)
        n_ossl_free++;
    free(p);
}
static int counters_on;

/* ---- datagram queues: tests/lib/tl_dq.h ------------------------------- */
static void dq_push(struct tl_dq *q, const uint8_t *p, size_t len)
{
    if (tl_dq_push(q, p, len) != 0)
        CU_ASSERT_FATAL(!"datagram queue full");
}

/* ---- test credentials -------------------------------------------------- */
static char tmpdir[64];
static char path_srv_chain[128], path_srv_key[128], path_ca[128];
static EVP_PKEY *ca_key, *cli_key, *other_key;
static X509 *ca_cert, *cli_cert, *other_cert;

static const char *PSK_ID = "client1";
static const uint8_t PSK_KEY[16] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81,
                                    0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8, 0x09};

static int make_creds_files(void)
{
    strcpy(tmpdir, "/tmp/dtlsgw-engbad.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path_srv_chain, sizeof(path_srv_chain), "%s/srv.pem", tmpdir);
    snprintf(path_srv_key, sizeof(path_srv_key), "%s/srv.key", tmpdir);
    snprintf(path_ca, sizeof(path_ca), "%s/ca.pem", tmpdir);
    struct tl_cred ca, srv, cli, other;
    const struct tl_cert_opts ca_o = {.cn = "dtlsgw test CA", .kind = TL_CERT_CA, .serial = 1};
    const struct tl_cert_opts srv_o = {.cn = "gateway.test", .kind = TL_CERT_LEAF, .serial = 2};
    const struct tl_cert_opts cli_o = {.cn = "device-1", .kind = TL_CERT_LEAF, .serial = 3};
    /* Self-signed, not from our CA. */
    const struct tl_cert_opts other_o = {.cn = "stranger", .kind = TL_CERT_LEAF, .serial = 4};
    if (tl_cred_mint(&ca, TL_KEY_EC_P256, &ca_o, NULL) != 0)
        return -1;
    if (tl_cred_mint(&srv, TL_KEY_EC_P256, &srv_o, &ca) != 0 ||
        tl_cred_mint(&cli, TL_KEY_EC_P256, &cli_o, &ca) != 0 ||
        tl_cred_mint(&other, TL_KEY_EC_P256, &other_o, NULL) != 0)
        return -1;
    ca_key = ca.key, ca_cert = ca.cert;
    cli_key = cli.key, cli_cert = cli.cert;
    other_key = other.key, other_cert = other.cert;
    int rc = tl_cred_write(&srv, path_srv_chain, path_srv_key) | tl_cred_write(&ca, path_ca, NULL);
    tl_cred_free(&srv);
    return rc;
}

static void remove_creds_files(void)
{
    unlink(path_srv_chain);
    unlink(path_srv_key);
    unlink(path_ca);
    rmdir(tmpdir);
}

/* ---- the libssl client ------------------------------------------------- */
static const char *g_psk_identity;
static const uint8_t *g_psk_key;
static size_t g_psk_key_len;

static unsigned int client_psk_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    (void)ssl, (void)hint;
    if (strlen(g_psk_identity) + 1 > max_identity_len || g_psk_key_len > max_psk_len)
        return 0;
    strcpy(identity, g_psk_identity);
    memcpy(psk, g_psk_key, g_psk_key_len);
    return (unsigned int)g_psk_key_len;
}

enum cli_kind {
    CLI_PSK,
    CLI_ECDHE,
    CLI_ECDHE_CERT,
    CLI_ECDHE_OTHER_CERT
};

/* ---- the driver: client <-> engine ------------------------------------- */
struct drv;
typedef void (*flight_hook_fn)(struct drv *d, unsigned flight_no, void *arg);

/* The client <-> engine pair (tests/lib/tl_pair.h) and this file's run
 * loop state. */
struct drv {
    struct tl_pair t;
    int client_done;
    int client_error;
    unsigned flights; /* client flights seen */
    uint16_t suite;   /* IANA id the client negotiated (after SH) */
    flight_hook_fn hook;
    void *hook_arg;
};

static struct hs_ctx *make_ctx(struct hs_creds *creds, bool cookies, enum hs_client_auth auth)
{
    struct hs_params p;
    hs_params_default(&p);
    p.cookie_required = cookies;
    p.client_auth = auth;
    return hs_ctx_new(&p, creds);
}

static struct hs_creds *make_creds(void)
{
    struct hs_creds *c = hs_creds_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(hs_creds_add_psk(c, PSK_ID, PSK_KEY, sizeof(PSK_KEY)), 0);
    CU_ASSERT_EQUAL_FATAL(hs_creds_load_cert(c, path_srv_chain, path_srv_key), 0);
    CU_ASSERT_EQUAL_FATAL(hs_creds_load_ca(c, path_ca), 0);
    return c;
}

/* One context per (cookies, client auth) for the whole suite: the engine
 * logs a warning for every cookie-less context it creates. */
static struct hs_creds *g_creds;
static struct hs_ctx *g_ctx[2][3];

static void drv_init(struct drv *d, enum cli_kind kind, bool cookies, enum hs_client_auth auth)
{
    memset(d, 0, sizeof(*d));
    if (!g_creds)
        g_creds = make_creds();
    if (!g_ctx[cookies][auth])
        g_ctx[cookies][auth] = make_ctx(g_creds, cookies, auth);
    tl_pair_init(&d->t, g_ctx[cookies][auth], 5684);
    d->t.cookies = cookies;
    d->t.creds = g_creds;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->t.ctx);

    g_psk_identity = PSK_ID;
    g_psk_key = PSK_KEY;
    g_psk_key_len = sizeof(PSK_KEY);
    SSL_CTX *cctx = tl_pair_client_ctx();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cctx);
    SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
    if (kind == CLI_PSK) {
        SSL_CTX_set_cipher_list(cctx, "PSK-AES128-CCM8");
        SSL_CTX_set_psk_client_callback(cctx, client_psk_cb);
    } else {
        SSL_CTX_set_cipher_list(cctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
        SSL_CTX_set1_groups_list(cctx, "X25519:P-256");
        if (kind == CLI_ECDHE_CERT) {
            SSL_CTX_use_certificate(cctx, cli_cert);
            SSL_CTX_use_PrivateKey(cctx, cli_key);
        } else if (kind == CLI_ECDHE_OTHER_CERT) {
            SSL_CTX_use_certificate(cctx, other_cert);
            SSL_CTX_use_PrivateKey(cctx, other_key);
        }
    }
    CU_ASSERT_EQUAL_FATAL(tl_pair_client(&d->t, cctx, 1400), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->t.ssl);
}

static void drv_free(struct drv *d)
{
    tl_pair_free(&d->t);
}

/* Hands one datagram from the client to the server side. */
static void srv_deliver(struct drv *d, const uint8_t *p, size_t len)
{
    struct hs_out out;
    size_t hvr_len = 0;
    switch (tl_pair_deliver(&d->t, p, len, &out, &hvr_len)) {
    case TL_PAIR_RX_SKIPPED:
        return;
    case TL_PAIR_RX_HVR:
        CU_ASSERT(hvr_len > 0 && hvr_len <= len);
        CU_ASSERT_EQUAL(d->t.to_cli.n_full, 0);
        return;
    case TL_PAIR_RX_COOKIE_DROP:
        CU_ASSERT_EQUAL(d->t.last_cookie, HS_COOKIE_DROP);
        return;
    case TL_PAIR_RX_NO_HS:
        CU_ASSERT_PTR_NOT_NULL_FATAL(d->t.hs);
        return;
    default:
        break;
    }
    for (unsigned i = 0; i < out.n_dgrams; i++)
        CU_ASSERT(out.dgrams[i].len <= HS_MTU_DEFAULT_BYTES);
    CU_ASSERT_EQUAL(d->t.to_cli.n_full, 0);
    if (d->t.last_rc < 0)
        CU_ASSERT_EQUAL(out.event, HS_EV_FAILED);
    if (out.event == HS_EV_FAILED)
        CU_ASSERT(d->t.last_rc < 0);
}

static void client_step(struct drv *d)
{
    if (d->client_done || d->client_error)
        return;
    ERR_clear_error();
    int r = SSL_do_handshake(d->t.ssl);
    if (r == 1) {
        d->client_done = 1;
    } else {
        int e = SSL_get_error(d->t.ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            d->client_error = 1;
    }
    const SSL_CIPHER *c = SSL_get_current_cipher(d->t.ssl);
    if (c)
        d->suite = (uint16_t)SSL_CIPHER_get_protocol_id(c);
}

/* Runs the exchange until nothing moves any more. */
static void drv_run(struct drv *d)
{
    uint8_t buf[MAX_DGRAM];
    for (int round = 0; round < 40; round++) {
        client_step(d);
        if (d->t.to_srv.n > 0) {
            d->flights++;
            if (d->hook)
                d->hook(d, d->flights, d->hook_arg);
        }
        if (d->t.to_srv.n == 0 && d->t.to_cli.n == 0)
            break;
        long n;
        while ((n = tl_dq_pop(&d->t.to_srv, buf, sizeof(buf))) >= 0)
            srv_deliver(d, buf, (size_t)n);
        if (d->t.failed) {
            /* The fatal alert reaches the client too. */
            client_step(d);
            break;
        }
    }
}

/* ---- record-level surgery on a queued flight -------------------------- */
struct rec {
    uint8_t type;
    uint16_t epoch;
    uint64_t seq;
    size_t len;
    uint8_t body[MAX_DGRAM];
};
static struct rec recs_a[MAX_RECS];

static unsigned flight_split(struct tl_dq *q, struct rec *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < q->n; i++) {
        struct dp_record r[DP_REC_MAX_PER_DGRAM];
        int err;
        unsigned k = dp_record_split(q->d[i], q->len[i], 0, r, DP_REC_MAX_PER_DGRAM, &err);
        CU_ASSERT_EQUAL(err, DP_RECORD_OK);
        for (unsigned j = 0; j < k && n < MAX_RECS; j++) {
            out[n].type = r[j].type;
            out[n].epoch = r[j].epoch;
            out[n].seq = r[j].seq;
            out[n].len = r[j].length;
            memcpy(out[n].body, r[j].fragment, r[j].length);
            n++;
        }
    }
    return n;
}

static size_t rec_encode(const struct rec *r, uint8_t *out)
{
    size_t h = dp_record_write_hdr(out, r->type, DP_VERSION_DTLS12, r->epoch, r->seq, NULL, 0,
                                   (uint16_t)r->len);
    memcpy(out + h, r->body, r->len);
    return h + r->len;
}

/* Replaces the queue by the records, one datagram each, in the given order. */
static void flight_set(struct tl_dq *q, const struct rec *recs, const unsigned *order, unsigned n)
{
    static uint8_t buf[MAX_DGRAM + 64];
    tl_dq_clear(q);
    for (unsigned i = 0; i < n; i++) {
        const struct rec *r = &recs[order ? order[i] : i];
        dq_push(q, buf, rec_encode(r, buf));
    }
}

static uint32_t be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static void put_be24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
}

/* Writes a whole-message handshake fragment into r->body. */
static void rec_set_msg(struct rec *r, uint8_t type, uint16_t seq, const uint8_t *body,
                        uint32_t len)
{
    r->type = DP_CT_HANDSHAKE;
    r->body[0] = type;
    put_be24(r->body + 1, len);
    r->body[4] = (uint8_t)(seq >> 8), r->body[5] = (uint8_t)seq;
    put_be24(r->body + 6, 0);
    put_be24(r->body + 9, len);
    memmove(r->body + 12, body, len);
    r->len = 12 + (size_t)len;
}

/* Index of the epoch-0 handshake record carrying a whole message of the
 * given type, or -1. */
static int find_msg(const struct rec *recs, unsigned n, uint8_t type)
{
    for (unsigned i = 0; i < n; i++)
        if (recs[i].type == DP_CT_HANDSHAKE && recs[i].epoch == 0 && recs[i].len >= 12 &&
            recs[i].body[0] == type)
            return (int)i;
    return -1;
}
static int find_type(const struct rec *recs, unsigned n, uint8_t ct, uint16_t epoch)
{
    for (unsigned i = 0; i < n; i++)
        if (recs[i].type == ct && recs[i].epoch == epoch)
            return (int)i;
    return -1;
}

/* ---- epoch-1 keys of the client, from its master secret --------------- */
struct ckeys {
    int gcm; /* 1: AES-128-GCM, 0: AES-128-CCM-8 */
    uint8_t key[16];
    uint8_t iv[4];
    size_t tag_len;
};

static int tls12_prf(const uint8_t *secret, size_t secret_len, const char *label, const uint8_t *s1,
                     size_t s1_len, const uint8_t *s2, size_t s2_len, uint8_t *out, size_t out_len)
{
    uint8_t seed[128];
    size_t ll = strlen(label);
    memcpy(seed, label, ll);
    memcpy(seed + ll, s1, s1_len);
    memcpy(seed + ll + s1_len, s2, s2_len);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, ll + s1_len + s2_len),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(kc, out, out_len, ps);
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return ok == 1 ? 0 : -1;
}

static int client_keys(SSL *cli, struct ckeys *k)
{
    uint8_t ms[48], cr[32], sr[32], kb[40];
    SSL_SESSION *s = SSL_get_session(cli);
    if (!s || SSL_SESSION_get_master_key(s, ms, sizeof(ms)) != 48)
        return -1;
    SSL_get_client_random(cli, cr, sizeof(cr));
    SSL_get_server_random(cli, sr, sizeof(sr));
    const SSL_CIPHER *c = SSL_get_current_cipher(cli);
    if (!c)
        c = SSL_SESSION_get0_cipher(s);
    k->gcm = SSL_CIPHER_get_protocol_id(c) == HS_ECDHE_ECDSA_AES128_GCM;
    k->tag_len = k->gcm ? 16 : 8;
    if (tls12_prf(ms, 48, "key expansion", sr, 32, cr, 32, kb, sizeof(kb)) < 0)
        return -1;
    memcpy(k->key, kb, 16);    /* client_write_key */
    memcpy(k->iv, kb + 32, 4); /* client_write_IV */
    OPENSSL_cleanse(ms, sizeof(ms));
    return 0;
}

/* Builds an epoch-1 record (RFC 5288 / RFC 6655 nonce and AAD). */
static void seal_rec(const struct ckeys *k, uint8_t type, uint16_t epoch, uint64_t seq,
                     const uint8_t *pt, size_t pt_len, struct rec *out)
{
    uint8_t nonce[12], aad[13];
    int outl = 0, tmp = 0;
    memcpy(nonce, k->iv, 4);
    dp_store_be16(nonce + 4, epoch);
    dp_store_be48(nonce + 6, seq);
    dp_store_be16(aad, epoch);
    dp_store_be48(aad + 2, seq);
    aad[8] = type;
    dp_store_be16(aad + 9, DP_VERSION_DTLS12);
    dp_store_be16(aad + 11, (uint16_t)pt_len);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (k->gcm) {
        EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL);
        EVP_EncryptInit_ex(c, NULL, NULL, k->key, nonce);
    } else {
        EVP_EncryptInit_ex(c, EVP_aes_128_ccm(), NULL, NULL, NULL);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)k->tag_len, NULL);
        EVP_EncryptInit_ex(c, NULL, NULL, k->key, nonce);
        EVP_EncryptUpdate(c, NULL, &tmp, NULL, (int)pt_len);
    }
    EVP_EncryptUpdate(c, NULL, &tmp, aad, sizeof(aad));
    memcpy(out->body, nonce + 4, 8);
    EVP_EncryptUpdate(c, out->body + 8, &outl, pt, (int)pt_len);
    EVP_EncryptFinal_ex(c, out->body + 8 + outl, &tmp);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)k->tag_len, out->body + 8 + pt_len);
    EVP_CIPHER_CTX_free(c);
    out->type = type;
    out->epoch = epoch;
    out->seq = seq;
    out->len = 8 + pt_len + k->tag_len;
}

/* Opens an epoch-1 record with the same keys; returns the plaintext
 * length or -1 when the tag does not verify. */
static int open_rec(const struct ckeys *k, const struct rec *r, uint8_t *pt)
{
    uint8_t nonce[12], aad[13];
    int outl = 0, tmp = 0;
    if (r->len < 8 + k->tag_len)
        return -1;
    size_t ct_len = r->len - 8 - k->tag_len;
    memcpy(nonce, k->iv, 4);
    memcpy(nonce + 4, r->body, 8);
    dp_store_be16(aad, r->epoch);
    dp_store_be48(aad + 2, r->seq);
    aad[8] = r->type;
    dp_store_be16(aad + 9, DP_VERSION_DTLS12);
    dp_store_be16(aad + 11, (uint16_t)ct_len);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t tag[16];
    memcpy(tag, r->body + 8 + ct_len, k->tag_len);
    int ok;
    if (k->gcm) {
        EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL);
        EVP_DecryptInit_ex(c, NULL, NULL, k->key, nonce);
        EVP_DecryptUpdate(c, NULL, &tmp, aad, sizeof(aad));
        EVP_DecryptUpdate(c, pt, &outl, r->body + 8, (int)ct_len);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)k->tag_len, tag);
        ok = EVP_DecryptFinal_ex(c, pt + outl, &tmp);
    } else {
        EVP_DecryptInit_ex(c, EVP_aes_128_ccm(), NULL, NULL, NULL);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)k->tag_len, tag);
        EVP_DecryptInit_ex(c, NULL, NULL, k->key, nonce);
        EVP_DecryptUpdate(c, NULL, &tmp, NULL, (int)ct_len);
        EVP_DecryptUpdate(c, NULL, &tmp, aad, sizeof(aad));
        ok = EVP_DecryptUpdate(c, pt, &outl, r->body + 8, (int)ct_len);
    }
    EVP_CIPHER_CTX_free(c);
    return ok == 1 ? (int)ct_len : -1;
}

/* Encrypted handshake message record at epoch 1. */
static void seal_msg(const struct ckeys *k, uint64_t rseq, uint8_t type, uint16_t mseq,
                     const uint8_t *body, uint32_t len, struct rec *out)
{
    static struct rec tmp;
    rec_set_msg(&tmp, type, mseq, body, len);
    seal_rec(k, DP_CT_HANDSHAKE, 1, rseq, tmp.body, tmp.len, out);
}

/* message_seq the client's Finished uses: one after its last epoch-0
 * handshake message in the flight. */
static uint16_t finished_mseq(const struct rec *recs, unsigned n)
{
    uint16_t s = 0;
    for (unsigned i = 0; i < n; i++)
        if (recs[i].type == DP_CT_HANDSHAKE && recs[i].epoch == 0)
            s = (uint16_t)((recs[i].body[4] << 8) | recs[i].body[5]);
    return (uint16_t)(s + 1);
}

/* Sanity check of the test's own record crafting: decrypt the client's
 * genuine Finished and re-seal it under a new record number; the handshake
 * must still complete. */
static void hook_reseal(struct drv *d, unsigned flight_no, void *arg)
{
    int *opened = arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int f = find_type(recs_a, n, DP_CT_HANDSHAKE, 1);
    CU_ASSERT_FATAL(f >= 0);
    struct ckeys k;
    CU_ASSERT_FATAL(client_keys(d->t.ssl, &k) == 0);
    uint8_t pt[256];
    int len = open_rec(&k, &recs_a[f], pt);
    *opened = len;
    if (len < 12 + 12)
        return;
    CU_ASSERT_EQUAL(pt[0], HT_FINISHED);
    seal_rec(&k, DP_CT_HANDSHAKE, 1, recs_a[f].seq + 5, pt, (size_t)len, &recs_a[f]);
    flight_set(&d->t.to_srv, recs_a, NULL, n);
}

/* ---- assertions -------------------------------------------------------- */
static void expect_alert(const struct drv *d, int a1, int a2, const char *what)
{
    int ok = d->t.failed && (d->t.alert == a1 || d->t.alert == a2) && !d->t.established;
    if (!ok)
        printf("\n  %s: failed=%d alert=%d established=%d (want alert %d/%d)\n", what, d->t.failed,
               d->t.alert, d->t.established, a1, a2);
    CU_ASSERT(ok);
}

static void expect_established(const struct drv *d, const char *what)
{
    int ok = d->t.established && d->client_done && !d->t.failed;
    if (!ok)
        printf("\n  %s: established=%d client_done=%d failed=%d alert=%d\n", what, d->t.established,
               d->client_done, d->t.failed, d->t.alert);
    CU_ASSERT(ok);
}

/* ---- baselines --------------------------------------------------------- */
static void test_baseline_psk(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    drv_run(&d);
    expect_established(&d, "PSK baseline");
    CU_ASSERT_EQUAL(d.t.n_hvr, 1);
    const struct hs_keys *k = d.t.hs ? hs_keys(d.t.hs) : NULL;
    CU_ASSERT_PTR_NOT_NULL(k);
    if (k) {
        CU_ASSERT_EQUAL(k->suite, HS_PSK_AES128_CCM8);
        CU_ASSERT_STRING_EQUAL(k->peer_identity, PSK_ID);
    }
    drv_free(&d);
}

static void test_reseal(void);
static void test_baseline_ecdhe(void)
{
    struct drv d;
    drv_init(&d, CLI_ECDHE, true, HS_CLIENT_AUTH_NONE);
    drv_run(&d);
    expect_established(&d, "ECDHE baseline");
    drv_free(&d);
    drv_init(&d, CLI_ECDHE_CERT, true, HS_CLIENT_AUTH_REQUIRE);
    drv_run(&d);
    expect_established(&d, "ECDHE client-auth baseline");
    drv_free(&d);
}

static void test_reseal(void)
{
    static const enum cli_kind kinds[] = {CLI_PSK, CLI_ECDHE};
    for (unsigned ki = 0; ki < 2; ki++) {
        struct drv d;
        int opened = -1;
        drv_init(&d, kinds[ki], true, HS_CLIENT_AUTH_NONE);
        d.hook = hook_reseal;
        d.hook_arg = &opened;
        drv_run(&d);
        CU_ASSERT_EQUAL(opened, 12 + 12);
        expect_established(&d, ki ? "re-sealed Finished (GCM)" : "re-sealed Finished (CCM-8)");
        drv_free(&d);
    }
}

/* ---- epoch-0 handshake after the client's CCS (issue 8, low) ----------
 * After the client's ChangeCipherSpec its handshake messages are protected
 * (RFC 5246 §7.1), so a plaintext epoch-0 message at the next message_seq
 * can only come from a spoofer: it must be dropped, not processed (here a
 * plaintext "Finished" that would fail verification and end the
 * handshake with decrypt_error). */
static void hook_epoch0_after_ccs(struct drv *d, unsigned flight_no, void *arg)
{
    (void)arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int ccs = find_type(recs_a, n, DP_CT_CHANGE_CIPHER_SPEC, 0);
    int fin = find_type(recs_a, n, DP_CT_HANDSHAKE, 1);
    CU_ASSERT_FATAL(ccs >= 0 && fin > ccs && n < MAX_RECS);
    static const uint8_t bogus[12] = {0};
    struct rec spoof;
    spoof.epoch = 0;
    spoof.seq = recs_a[ccs].seq + 100;
    rec_set_msg(&spoof, HT_FINISHED, finished_mseq(recs_a, n), bogus, sizeof(bogus));
    memmove(&recs_a[fin + 1], &recs_a[fin], (n - (unsigned)fin) * sizeof(recs_a[0]));
    recs_a[fin] = spoof;
    flight_set(&d->t.to_srv, recs_a, NULL, n + 1);
}

static void test_epoch0_after_ccs(void)
{
    static const enum cli_kind kinds[] = {CLI_PSK, CLI_ECDHE};
    for (unsigned ki = 0; ki < 2; ki++) {
        struct drv d;
        drv_init(&d, kinds[ki], true, HS_CLIENT_AUTH_NONE);
        d.hook = hook_epoch0_after_ccs;
        drv_run(&d);
        expect_established(&d, "plaintext Finished between CCS and Finished");
        CU_ASSERT(d.t.hs && hs_get_stats(d.t.hs)->dropped_records >= 1);
        drv_free(&d);
    }
}

/* ---- ChangeCipherSpec / HelloVerifyRequest / ClientHello out of place -- */
static void test_ccs_before_client_hello(void)
{
    static const uint8_t one = 1;
    struct rec r;
    uint8_t buf[64];
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    r.type = DP_CT_CHANGE_CIPHER_SPEC, r.epoch = 0, r.seq = 0, r.len = 1;
    memcpy(r.body, &one, 1);
    size_t n = rec_encode(&r, buf);
    /* Not a ClientHello: the cookie check drops it, no state. */
    uint8_t hvr[256];
    size_t hvr_len = 0;
    CU_ASSERT_EQUAL(hs_cookie_check(d.t.ctx, &d.t.peer, buf, n, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    drv_free(&d);

    /* Cookies off: a handshake whose first datagram is a CCS. */
    drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
    srv_deliver(&d, buf, n);
    CU_ASSERT(!d.t.established);
    if (d.t.failed) {
        expect_alert(&d, AL_UNEXPECTED_MESSAGE, AL_UNEXPECTED_MESSAGE, "CCS first");
    } else {
        /* silently dropped: the real handshake then still works */
        CU_ASSERT_EQUAL(d.t.to_cli.n, 0);
        drv_run(&d);
        expect_established(&d, "handshake after a dropped early CCS");
    }
    drv_free(&d);
}

static void hook_hvr_from_client(struct drv *d, unsigned flight_no, void *arg)
{
    (void)arg;
    if (flight_no != 3)
        return;
    /* Client sends a HelloVerifyRequest-style message (a server message)
     * as the first message of its second flight. */
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int i = find_msg(recs_a, n, HT_CLIENT_KEY_EXCHANGE);
    CU_ASSERT_FATAL(i >= 0);
    uint16_t mseq = (uint16_t)((recs_a[i].body[4] << 8) | recs_a[i].body[5]);
    static const uint8_t hvr_body[] = {0xfe, 0xfd, 16, 1,  2,  3,  4,  5,  6, 7,
                                       8,    9,    10, 11, 12, 13, 14, 15, 16};
    rec_set_msg(&recs_a[i], HT_HELLO_VERIFY_REQUEST, mseq, hvr_body, sizeof(hvr_body));
    flight_set(&d->t.to_srv, recs_a, NULL, n);
}

static void test_hvr_from_client(void)
{
    struct drv d;
    /* As the first datagram: not a ClientHello, dropped by the cookie check. */
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    struct rec r;
    static const uint8_t hvr_body[] = {0xfe, 0xfd, 4, 1, 2, 3, 4};
    rec_set_msg(&r, HT_HELLO_VERIFY_REQUEST, 0, hvr_body, sizeof(hvr_body));
    r.epoch = 0, r.seq = 0;
    uint8_t buf[128], hvr[256];
    size_t n = rec_encode(&r, buf), hvr_len;
    CU_ASSERT_EQUAL(hs_cookie_check(d.t.ctx, &d.t.peer, buf, n, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    drv_free(&d);
    /* In place of the ClientKeyExchange. */
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    d.hook = hook_hvr_from_client;
    drv_run(&d);
    expect_alert(&d, AL_UNEXPECTED_MESSAGE, AL_UNEXPECTED_MESSAGE, "HVR from client");
    drv_free(&d);
}

/* Flight 3 with its Finished replaced by an epoch-1 ClientHello. */
static void hook_client_hello_epoch1(struct drv *d, unsigned flight_no, void *arg)
{
    if (flight_no == 2) {
        /* keep a copy of the ClientHello (with cookie) */
        unsigned n = flight_split(&d->t.to_srv, recs_a);
        int i = find_msg(recs_a, n, HT_CLIENT_HELLO);
        CU_ASSERT_FATAL(i >= 0);
        struct rec *saved = malloc(sizeof(*saved));
        CU_ASSERT_PTR_NOT_NULL_FATAL(saved);
        *saved = recs_a[i];
        free(*(struct rec **)arg);
        *(struct rec **)arg = saved;
        return;
    }
    if (flight_no != 3)
        return;
    struct rec *ch = *(struct rec **)arg;
    struct ckeys k;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int f = find_type(recs_a, n, DP_CT_HANDSHAKE, 1);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT_FATAL(client_keys(d->t.ssl, &k) == 0);
    seal_msg(&k, recs_a[f].seq, HT_CLIENT_HELLO, finished_mseq(recs_a, n), ch->body + 12,
             be24(ch->body + 1), &recs_a[f]);
    flight_set(&d->t.to_srv, recs_a, NULL, n);
}

static void test_client_hello_epoch1(void)
{
    struct drv d;
    struct rec *saved = NULL;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    d.hook = hook_client_hello_epoch1;
    d.hook_arg = &saved;
    drv_run(&d);
    expect_alert(&d, AL_UNEXPECTED_MESSAGE, AL_UNEXPECTED_MESSAGE,
                 "ClientHello in epoch 1 instead of Finished");
    free(saved);
    drv_free(&d);
}

/* After the handshake: a ClientHello in epoch 1 is a renegotiation
 * attempt, which the server refuses (RFC 5746 §4.4 / DESIGN). */
static void test_renegotiation_refused(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    drv_run(&d);
    expect_established(&d, "PSK");
    if (!d.t.established) {
        drv_free(&d);
        return;
    }
    struct ckeys k;
    CU_ASSERT_FATAL(client_keys(d.t.ssl, &k) == 0);
    static const uint8_t ch_body[] = {
        0xfe, 0xfd, /* random */ 1,
        2,    3,    4,
        5,    6,    7,
        8,    9,    10,
        11,   12,   13,
        14,   15,   16,
        17,   18,   19,
        20,   21,   22,
        23,   24,   25,
        26,   27,   28,
        29,   30,   31,
        32,   0, /* session id */
        0,       /* cookie */
        0,    2,    0xc0,
        0xa8, 1,    0, /* suites, compression */
    };
    struct rec r;
    /* message_seq: CH1 0, CH2 1, CKE 2, Finished 3 -> a new ClientHello 4. */
    seal_msg(&k, 1000, HT_CLIENT_HELLO, 4, ch_body, sizeof(ch_body), &r);
    uint8_t buf[512];
    size_t n = rec_encode(&r, buf);
    struct hs_out out;
    memset(&out, 0, sizeof(out));
    out.alert = -1;
    int rc = hs_input(d.t.hs, buf, n, d.t.now_ms, &out);
    /* RFC 5746 §4.4 / RFC 5246 §7.2.2: the server refuses with one
     * no_renegotiation warning, protected in epoch 1, and the session
     * lives on; never a new handshake flight, never a fatal end. */
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(out.event, HS_EV_NONE);
    CU_ASSERT_EQUAL(out.n_dgrams, 1);
    CU_ASSERT(hs_established(d.t.hs));
    if (out.n_dgrams == 1) {
        const uint8_t *a = out.dgrams[0].data;
        CU_ASSERT_EQUAL(a[0], 21); /* alert */
        CU_ASSERT_EQUAL(a[3] << 8 | a[4], 1);
        uint64_t seq = 0;
        for (int i = 5; i < 11; i++)
            seq = seq << 8 | a[i];
        CU_ASSERT(seq < hs_keys(d.t.hs)->server_write_seq_next);
    }
    drv_free(&d);
}

/* ---- reordered final flight: Finished before CCS is buffered ---------- */
struct reorder_arg {
    unsigned mode;
    struct tl_dq saved; /* the genuine flight, for a retransmission */
};

static void hook_reorder(struct drv *d, unsigned flight_no, void *arg)
{
    struct reorder_arg *ra = arg;
    unsigned mode = ra->mode;
    if (flight_no != 3)
        return;
    for (unsigned i = 0; i < d->t.to_srv.n; i++)
        dq_push(&ra->saved, d->t.to_srv.d[i], d->t.to_srv.len[i]);
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int ccs = find_type(recs_a, n, DP_CT_CHANGE_CIPHER_SPEC, 0);
    int fin = find_type(recs_a, n, DP_CT_HANDSHAKE, 1);
    CU_ASSERT_FATAL(ccs >= 0 && fin >= 0 && n <= MAX_RECS);
    unsigned order[MAX_RECS], k = 0;
    if (mode == 0) {
        /* epoch-0 handshake messages, Finished, then CCS */
        for (unsigned i = 0; i < n; i++)
            if ((int)i != ccs && (int)i != fin)
                order[k++] = i;
        order[k++] = (unsigned)fin;
        order[k++] = (unsigned)ccs;
    } else {
        /* reversed: Finished, CCS, then the epoch-0 messages backwards */
        order[k++] = (unsigned)fin;
        order[k++] = (unsigned)ccs;
        for (unsigned i = n; i-- > 0;)
            if ((int)i != ccs && (int)i != fin)
                order[k++] = i;
    }
    flight_set(&d->t.to_srv, recs_a, order, k);
}

static void test_finished_before_ccs(void)
{
    static const enum cli_kind kinds[] = {CLI_PSK, CLI_ECDHE};
    for (unsigned m = 0; m < 2; m++) {
        for (unsigned ki = 0; ki < 2; ki++) {
            struct drv d;
            struct reorder_arg ra = {.mode = m};
            drv_init(&d, kinds[ki], true, HS_CLIENT_AUTH_NONE);
            d.hook = hook_reorder;
            d.hook_arg = &ra;
            drv_run(&d);
            char what[96];
            snprintf(what, sizeof(what), "reordered flight (mode %u, %s)", m, ki ? "ECDHE" : "PSK");
            if (m == 1 && !d.t.established && !d.t.failed) {
                /* Finished before even the ClientKeyExchange: an engine
                 * may drop the undecryptable future-epoch record
                 * (RFC 6347 §4.1 "MAY buffer"); the client's
                 * retransmission of its flight then completes it. */
                uint8_t buf[MAX_DGRAM];
                long len;
                d.hook = NULL;
                while ((len = tl_dq_pop(&ra.saved, buf, sizeof(buf))) >= 0)
                    srv_deliver(&d, buf, (size_t)len);
                drv_run(&d);
            }
            expect_established(&d, what);
            tl_dq_clear(&ra.saved);
            drv_free(&d);
        }
    }
}

/* ---- wrong ClientKeyExchange format ----------------------------------- */
static void hook_swap_cke(struct drv *d, unsigned flight_no, void *arg)
{
    int to_ecdhe_format = *(int *)arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int i = find_msg(recs_a, n, HT_CLIENT_KEY_EXCHANGE);
    CU_ASSERT_FATAL(i >= 0);
    uint16_t mseq = (uint16_t)((recs_a[i].body[4] << 8) | recs_a[i].body[5]);
    uint8_t body[80];
    uint32_t len;
    if (to_ecdhe_format) {
        /* ECPoint<1..255>: uncompressed P-256 point. */
        body[0] = 65;
        body[1] = 4;
        for (int b = 2; b < 66; b++)
            body[b] = (uint8_t)b;
        len = 66;
    } else {
        /* PSK identity<0..2^16-1> (RFC 4279 §2). */
        body[0] = 0;
        body[1] = 7;
        memcpy(body + 2, PSK_ID, 7);
        len = 9;
    }
    rec_set_msg(&recs_a[i], HT_CLIENT_KEY_EXCHANGE, mseq, body, len);
    flight_set(&d->t.to_srv, recs_a, NULL, n);
}

static void test_wrong_cke_format(void)
{
    struct drv d;
    int to_ecdhe = 1;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    d.hook = hook_swap_cke;
    d.hook_arg = &to_ecdhe;
    drv_run(&d);
    /* 0x4104 identity bytes announced, 64 present. */
    expect_alert(&d, AL_DECODE_ERROR, AL_DECODE_ERROR, "ECDHE CKE in a PSK handshake");
    drv_free(&d);

    to_ecdhe = 0;
    drv_init(&d, CLI_ECDHE, true, HS_CLIENT_AUTH_NONE);
    d.hook = hook_swap_cke;
    d.hook_arg = &to_ecdhe;
    drv_run(&d);
    /* An empty point followed by trailing bytes. */
    expect_alert(&d, AL_DECODE_ERROR, AL_ILLEGAL_PARAMETER, "PSK CKE in an ECDHE handshake");
    drv_free(&d);
}

/* ---- client authentication ------------------------------------------- */
/* Drops the CertificateVerify and sends the Finished (with a dummy
 * verify_data) at its message_seq. */
static void hook_drop_cv(struct drv *d, unsigned flight_no, void *arg)
{
    (void)arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int cv = find_msg(recs_a, n, HT_CERTIFICATE_VERIFY);
    int fin = find_type(recs_a, n, DP_CT_HANDSHAKE, 1);
    CU_ASSERT_FATAL(cv >= 0 && fin >= 0);
    uint16_t cv_seq = (uint16_t)((recs_a[cv].body[4] << 8) | recs_a[cv].body[5]);
    struct ckeys k;
    CU_ASSERT_FATAL(client_keys(d->t.ssl, &k) == 0);
    uint8_t vd[12] = {0};
    seal_msg(&k, recs_a[fin].seq, HT_FINISHED, cv_seq, vd, sizeof(vd), &recs_a[fin]);
    unsigned order[MAX_RECS], m = 0;
    for (unsigned i = 0; i < n; i++)
        if ((int)i != cv)
            order[m++] = i;
    flight_set(&d->t.to_srv, recs_a, order, m);
}

static void test_client_auth(void)
{
    struct drv d;
    /* Certificate without CertificateVerify. */
    drv_init(&d, CLI_ECDHE_CERT, true, HS_CLIENT_AUTH_REQUIRE);
    d.hook = hook_drop_cv;
    drv_run(&d);
    expect_alert(&d, AL_UNEXPECTED_MESSAGE, AL_UNEXPECTED_MESSAGE,
                 "Certificate without CertificateVerify");
    if (!d.t.failed && d.t.hs) {
        /* Whatever else happens it must never complete: run the timers
         * out and see how it ends. */
        enum hs_event last = HS_EV_NONE;
        for (int k = 0; k < 30 && d.t.next_timer_ms && last == HS_EV_NONE; k++) {
            struct hs_out out;
            memset(&out, 0, sizeof(out));
            d.t.now_ms = d.t.next_timer_ms;
            (void)hs_timeout(d.t.hs, d.t.now_ms, &out);
            d.t.next_timer_ms = out.next_timer_ms;
            last = out.event;
            CU_ASSERT(!hs_established(d.t.hs));
        }
        printf("\n  (without CertificateVerify the engine waits; after its timers: "
               "event %d)",
               (int)last);
    }
    drv_free(&d);
    /* No certificate at all when required: RFC 5246 §7.4.6. */
    drv_init(&d, CLI_ECDHE, true, HS_CLIENT_AUTH_REQUIRE);
    drv_run(&d);
    expect_alert(&d, AL_HANDSHAKE_FAILURE, AL_HANDSHAKE_FAILURE,
                 "empty client Certificate when required");
    drv_free(&d);
    /* A certificate from an unknown issuer. */
    drv_init(&d, CLI_ECDHE_OTHER_CERT, true, HS_CLIENT_AUTH_REQUIRE);
    drv_run(&d);
    expect_alert(&d, 48 /* unknown_ca */, AL_BAD_CERTIFICATE,
                 "client certificate from an unknown CA");
    drv_free(&d);
}

/* ---- repeated message_seq with a different message ------------------- */
static void hook_repeat_seq(struct drv *d, unsigned flight_no, void *arg)
{
    unsigned mode = *(unsigned *)arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int i = find_msg(recs_a, n, HT_CLIENT_KEY_EXCHANGE);
    CU_ASSERT_FATAL(i >= 0 && n + 2 <= MAX_RECS);
    struct rec *orig = &recs_a[i];
    uint16_t mseq = (uint16_t)((orig->body[4] << 8) | orig->body[5]);
    uint32_t len = be24(orig->body + 1);
    static struct rec extra[2];
    unsigned order[MAX_RECS], m = 0;
    if (mode == 0) {
        /* First half of the genuine CKE, then a different whole message
         * with the same message_seq (conflict: dropped), then the rest. */
        extra[0] = *orig;
        put_be24(extra[0].body + 9, len / 2);
        extra[0].len = 12 + len / 2;
        uint8_t other[] = {0, 5, 'e', 'v', 'i', 'l', '!'};
        rec_set_msg(&extra[1], HT_CLIENT_KEY_EXCHANGE, mseq, other, sizeof(other));
        extra[1].epoch = 0;
        extra[1].seq = orig->seq + 100;
        extra[0].seq = orig->seq + 101;
        recs_a[n] = extra[0];
        recs_a[n + 1] = extra[1];
        order[m++] = n;
        order[m++] = n + 1;
        for (unsigned k = 0; k < n; k++)
            order[m++] = k;
    } else {
        /* The genuine flight, then the same message_seq carrying a
         * ClientHello: an old message_seq, ignored. */
        for (unsigned k = 0; k < n; k++)
            order[m++] = k;
        uint8_t junk[40] = {0xfe, 0xfd};
        rec_set_msg(&recs_a[n], HT_CLIENT_HELLO, mseq, junk, sizeof(junk));
        recs_a[n].epoch = 0;
        recs_a[n].seq = orig->seq + 100;
        order[m++] = n;
    }
    flight_set(&d->t.to_srv, recs_a, order, m);
}

static void test_repeated_seq(void)
{
    for (unsigned mode = 0; mode < 2; mode++) {
        struct drv d;
        drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
        d.hook = hook_repeat_seq;
        d.hook_arg = &mode;
        drv_run(&d);
        expect_established(&d, mode ? "old message_seq re-used" : "conflicting message_seq");
        drv_free(&d);
    }
}

/* ---- malformed fragments of the ClientKeyExchange --------------------- */
enum frag_bad {
    FB_PAST_END,
    FB_ZERO_LEN,
    FB_OVERLAP_DIFF,
    FB_LEN_CHANGES,
    FB_N
};

static void hook_bad_frag(struct drv *d, unsigned flight_no, void *arg)
{
    enum frag_bad mode = *(enum frag_bad *)arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    int i = find_msg(recs_a, n, HT_CLIENT_KEY_EXCHANGE);
    CU_ASSERT_FATAL(i >= 0 && n + 2 <= MAX_RECS);
    struct rec *orig = &recs_a[i];
    uint32_t len = be24(orig->body + 1);
    struct rec *bad = &recs_a[n];
    *bad = *orig;
    bad->seq = orig->seq + 200;
    switch (mode) {
    case FB_PAST_END: /* offset 2, length len: 2 bytes past the end */
        put_be24(bad->body + 6, 2);
        break;
    case FB_ZERO_LEN: /* zero-length fragment of a non-empty message */
        put_be24(bad->body + 6, 1);
        put_be24(bad->body + 9, 0);
        bad->len = 12;
        break;
    case FB_OVERLAP_DIFF: /* first half + 1 byte, all bytes different:
                             overlaps the genuine second half by one */
        put_be24(bad->body + 9, len / 2 + 1);
        bad->len = 12 + len / 2 + 1;
        for (uint32_t b = 0; b < len / 2 + 1; b++)
            bad->body[12 + b] ^= 0x5a;
        break;
    case FB_LEN_CHANGES: /* total length one more than the original */
        put_be24(bad->body + 1, len + 1);
        put_be24(bad->body + 9, len / 2);
        bad->len = 12 + len / 2;
        break;
    default:
        break;
    }
    /* For the overlap and length cases the bad fragment must arrive while
     * the genuine message is still incomplete: send the genuine first
     * half, the bad fragment, then the whole genuine flight. */
    struct rec *half = &recs_a[n + 1];
    *half = *orig;
    half->seq = orig->seq + 201;
    put_be24(half->body + 9, len - len / 2);
    put_be24(half->body + 6, len / 2);
    memmove(half->body + 12, orig->body + 12 + len / 2, len - len / 2);
    half->len = 12 + len - len / 2;
    unsigned order[MAX_RECS], m = 0;
    order[m++] = n + 1;
    order[m++] = n;
    for (unsigned k = 0; k < n; k++)
        order[m++] = k;
    flight_set(&d->t.to_srv, recs_a, order, m);
}

static void test_bad_fragments(void)
{
    static const char *names[FB_N] = {"offset+length past the message", "zero-length fragment",
                                      "overlap with different bytes", "total length changes"};
    for (enum frag_bad mode = 0; mode < FB_N; mode++) {
        struct drv d;
        drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
        d.hook = hook_bad_frag;
        d.hook_arg = &mode;
        drv_run(&d);
        if (mode == FB_PAST_END || mode == FB_ZERO_LEN) {
            /* Malformed: either a fatal decode_error, or the record is
             * dropped silently and the genuine flight completes. */
            if (d.t.failed)
                expect_alert(&d, AL_DECODE_ERROR, AL_DECODE_ERROR, names[mode]);
            else
                expect_established(&d, names[mode]);
        } else {
            /* Conflicting fragment: dropped, handshake completes. */
            expect_established(&d, names[mode]);
        }
        drv_free(&d);
    }
}

/* ---- ClientHello mutations -------------------------------------------- */
/* Offsets inside a ClientHello body. */
struct ch_layout {
    size_t sid_off, cookie_off, suites_off, comp_off, ext_off, len;
};
static int ch_parse(const uint8_t *b, size_t len, struct ch_layout *l)
{
    size_t p = 2 + 32;
    if (len < p + 1)
        return -1;
    l->sid_off = p;
    p += 1 + b[p];
    if (len < p + 1)
        return -1;
    l->cookie_off = p;
    p += 1 + b[p];
    if (len < p + 2)
        return -1;
    l->suites_off = p;
    p += 2 + (size_t)((b[p] << 8) | b[p + 1]);
    if (len < p + 1)
        return -1;
    l->comp_off = p;
    p += 1 + b[p];
    if (p > len)
        return -1;
    l->ext_off = p;
    l->len = len;
    return 0;
}

/* Feeds a handshake with a hand-mutated ClientHello (derived from the
 * libssl client's) to a cookie-less context; returns the drv with the
 * outcome. */
static uint8_t ch_template[2048];
static size_t ch_template_len;

static void capture_ch_template(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
    client_step(&d);
    unsigned n = flight_split(&d.t.to_srv, recs_a);
    int i = find_msg(recs_a, n, HT_CLIENT_HELLO);
    CU_ASSERT_FATAL(i >= 0);
    ch_template_len = be24(recs_a[i].body + 1);
    memcpy(ch_template, recs_a[i].body + 12, ch_template_len);
    drv_free(&d);
}

static void run_ch(struct drv *d, const uint8_t *body, size_t len)
{
    static struct rec r;
    static uint8_t buf[MAX_DGRAM + 64];
    rec_set_msg(&r, HT_CLIENT_HELLO, 0, body, (uint32_t)len);
    r.epoch = 0;
    r.seq = 0;
    srv_deliver(d, buf, rec_encode(&r, buf));
}

static void test_client_hello_fields(void)
{
    struct ch_layout l;
    uint8_t b[2048];
    CU_ASSERT_FATAL(ch_template_len > 0);
    CU_ASSERT_FATAL(ch_parse(ch_template, ch_template_len, &l) == 0);
    struct drv d;

    /* Cookie length past the end of the message. */
    memcpy(b, ch_template, ch_template_len);
    b[l.cookie_off] = (uint8_t)(ch_template_len - l.cookie_off);
    drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
    run_ch(&d, b, ch_template_len);
    expect_alert(&d, AL_DECODE_ERROR, AL_DECODE_ERROR, "cookie length past the end");
    drv_free(&d);
    /* ... and through the cookie check: dropped or HVR, never valid. */
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    run_ch(&d, b, ch_template_len);
    CU_ASSERT_PTR_NULL(d.t.hs);
    drv_free(&d);

    /* Odd cipher-suite vector length (3 bytes: one suite and a half). */
    size_t n_suites_bytes =
        (size_t)((ch_template[l.suites_off] << 8) | ch_template[l.suites_off + 1]);
    CU_ASSERT_FATAL(n_suites_bytes >= 2);
    size_t o = 0;
    memcpy(b, ch_template, l.suites_off);
    o = l.suites_off;
    b[o++] = 0, b[o++] = 3;
    b[o++] = 0xc0, b[o++] = 0xa8, b[o++] = 0xc0;
    memcpy(b + o, ch_template + l.comp_off, ch_template_len - l.comp_off);
    o += ch_template_len - l.comp_off;
    drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
    run_ch(&d, b, o);
    expect_alert(&d, AL_DECODE_ERROR, AL_ILLEGAL_PARAMETER, "odd cipher-suite vector");
    drv_free(&d);

    /* Empty cipher-suite vector (RFC 5246: cipher_suites<2..2^16-2>). */
    memcpy(b, ch_template, l.suites_off);
    o = l.suites_off;
    b[o++] = 0, b[o++] = 0;
    memcpy(b + o, ch_template + l.comp_off, ch_template_len - l.comp_off);
    o += ch_template_len - l.comp_off;
    drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
    run_ch(&d, b, o);
    if (!(d.t.failed && (d.t.alert == AL_DECODE_ERROR || d.t.alert == AL_ILLEGAL_PARAMETER ||
                         d.t.alert == AL_HANDSHAKE_FAILURE)))
        printf("\n  empty suites: failed=%d alert=%d\n", d.t.failed, d.t.alert);
    CU_ASSERT(d.t.failed && (d.t.alert == AL_DECODE_ERROR || d.t.alert == AL_ILLEGAL_PARAMETER ||
                             d.t.alert == AL_HANDSHAKE_FAILURE));
    drv_free(&d);

    /* Only suites we do not support: handshake_failure (RFC 5246 §7.4.1.3). */
    memcpy(b, ch_template, l.suites_off);
    o = l.suites_off;
    b[o++] = 0, b[o++] = 2;
    b[o++] = 0x00, b[o++] = 0x2f; /* TLS_RSA_WITH_AES_128_CBC_SHA */
    memcpy(b + o, ch_template + l.comp_off, ch_template_len - l.comp_off);
    o += ch_template_len - l.comp_off;
    drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
    run_ch(&d, b, o);
    expect_alert(&d, AL_HANDSHAKE_FAILURE, AL_HANDSHAKE_FAILURE, "no common suite");
    drv_free(&d);
}

/* Truncated ClientHello at every byte boundary (framing consistent: the
 * handshake length says the truncated length). */
static void test_truncated_client_hello(void)
{
    struct ch_layout l;
    CU_ASSERT_FATAL(ch_parse(ch_template, ch_template_len, &l) == 0);
    unsigned n_bad = 0;
    for (size_t cut = 0; cut < ch_template_len; cut++) {
        struct drv d;
        drv_init(&d, CLI_PSK, false, HS_CLIENT_AUTH_NONE);
        run_ch(&d, ch_template, cut);
        int ok = d.t.failed && d.t.alert == AL_DECODE_ERROR && !d.t.established;
        if (cut == l.ext_off) {
            /* No extensions at all: a well-formed ClientHello (RFC 5246
             * §7.4.1.2 makes them optional).  EMS is preferred, not
             * required, by default (RFC 7627 §5.2 lets the server go on
             * with the classic master secret): the handshake goes on. */
            ok = !d.t.failed;
        }
        if (!ok && n_bad++ < 5)
            printf("\n  ClientHello cut at %zu of %zu: failed=%d alert=%d", cut, ch_template_len,
                   d.t.failed, d.t.alert);
        CU_ASSERT(ok);
        drv_free(&d);
    }
}

/* Truncates one message of the client's final flight. */
struct trunc_arg {
    uint8_t type;
    size_t cut;
    size_t full_len; /* out: the message's real length in this run */
    bool applied;    /* out: the message was truncated in this run */
};

static void hook_truncate(struct drv *d, unsigned flight_no, void *arg)
{
    struct trunc_arg *t = arg;
    if (flight_no != 3)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    if (t->type == HT_FINISHED) {
        int f = find_type(recs_a, n, DP_CT_HANDSHAKE, 1);
        CU_ASSERT_FATAL(f >= 0);
        struct ckeys k;
        CU_ASSERT_FATAL(client_keys(d->t.ssl, &k) == 0);
        uint8_t vd[12];
        memset(vd, 0x33, sizeof(vd));
        t->full_len = 12;
        t->applied = t->cut < t->full_len;
        seal_msg(&k, recs_a[f].seq, HT_FINISHED, finished_mseq(recs_a, n), vd, (uint32_t)t->cut,
                 &recs_a[f]);
    } else {
        int i = find_msg(recs_a, n, t->type);
        CU_ASSERT_FATAL(i >= 0);
        struct rec *r = &recs_a[i];
        t->full_len = be24(r->body + 1);
        CU_ASSERT_FATAL(be24(r->body + 9) == t->full_len);
        t->applied = t->cut < t->full_len;
        if (t->applied) {
            put_be24(r->body + 1, (uint32_t)t->cut);
            put_be24(r->body + 9, (uint32_t)t->cut);
            r->len = 12 + t->cut;
        }
    }
    flight_set(&d->t.to_srv, recs_a, NULL, n);
}

static void truncate_all(enum cli_kind kind, enum hs_client_auth auth, uint8_t type,
                         const char *name, int alt_alert)
{
    struct trunc_arg t = {type, 0, 0, false};
    unsigned n_bad = 0, n_applied = 0;
    size_t min_len = SIZE_MAX;
    for (t.cut = 0;; t.cut++) {
        struct drv d;
        /* ECDSA signatures (DER) vary in length from run to run: retry a
         * cut a few times until the message is longer than the cut. */
        for (int attempt = 0; attempt < 8; attempt++) {
            t.applied = false;
            t.full_len = 0;
            drv_init(&d, kind, true, auth);
            d.hook = hook_truncate;
            d.hook_arg = &t;
            drv_run(&d);
            if (t.applied || t.full_len == 0)
                break;
            drv_free(&d);
        }
        if (!t.applied) {
            if (t.full_len != 0)
                break; /* past the end of every message seen */
            drv_free(&d);
            break; /* the hook never ran: nothing to truncate */
        }
        n_applied++;
        if (t.full_len < min_len)
            min_len = t.full_len;
        int ok = d.t.failed && !d.t.established &&
                 (d.t.alert == AL_DECODE_ERROR || d.t.alert == alt_alert);
        if (!ok && n_bad++ < 5)
            printf("\n  %s cut at %zu of %zu: failed=%d alert=%d", name, t.cut, t.full_len,
                   d.t.failed, d.t.alert);
        CU_ASSERT(ok);
        drv_free(&d);
    }
    /* Every cut 0 .. length-1 of the message was tried. */
    CU_ASSERT(n_applied > 0);
    CU_ASSERT(n_applied >= min_len);
}

static void test_truncated_cke_psk(void)
{
    truncate_all(CLI_PSK, HS_CLIENT_AUTH_NONE, HT_CLIENT_KEY_EXCHANGE, "PSK CKE", AL_DECODE_ERROR);
}
static void test_truncated_cke_ecdhe(void)
{
    /* A point of the wrong length for the group: illegal_parameter is the
     * other answer RFC 8422 §5.11 allows (a 0-length point too). */
    truncate_all(CLI_ECDHE, HS_CLIENT_AUTH_NONE, HT_CLIENT_KEY_EXCHANGE, "ECDHE CKE",
                 AL_ILLEGAL_PARAMETER);
}
static void test_truncated_certificate(void)
{
    truncate_all(CLI_ECDHE_CERT, HS_CLIENT_AUTH_REQUIRE, HT_CERTIFICATE, "Certificate",
                 AL_DECODE_ERROR);
}
static void test_truncated_cert_verify(void)
{
    /* A cut inside the DER signature with consistent framing is a bad
     * signature: decrypt_error (RFC 5246 §7.4.8). */
    truncate_all(CLI_ECDHE_CERT, HS_CLIENT_AUTH_REQUIRE, HT_CERTIFICATE_VERIFY, "CertificateVerify",
                 AL_DECRYPT_ERROR);
}
static void test_truncated_finished(void)
{
    /* verify_data of the wrong length: decode_error (or decrypt_error). */
    truncate_all(CLI_PSK, HS_CLIENT_AUTH_NONE, HT_FINISHED, "Finished", AL_DECRYPT_ERROR);
}

/* ---- unknown PSK identity -------------------------------------------- */
static void test_unknown_psk_identity(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    g_psk_identity = "nobody";
    drv_run(&d);
    /* RFC 4279 §2: unknown_psk_identity, or decrypt_error to hide it. */
    expect_alert(&d, AL_UNKNOWN_PSK_IDENTITY, AL_DECRYPT_ERROR, "unknown PSK identity");
    drv_free(&d);
    /* Known identity, wrong key: the Finished does not verify. */
    static const uint8_t wrong[16] = {9};
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    g_psk_key = wrong;
    drv_run(&d);
    /* The client's Finished fails authentication: the record is dropped
     * (bad_record_mac counted) or the handshake fails with decrypt_error /
     * bad_record_mac; it never completes. */
    CU_ASSERT(!d.t.established);
    if (d.t.failed)
        CU_ASSERT(d.t.alert == AL_DECRYPT_ERROR || d.t.alert == AL_BAD_RECORD_MAC);
    drv_free(&d);
}

/* ---- the client's own alerts and retransmissions -------------------- */
static void hook_client_alert(struct drv *d, unsigned flight_no, void *arg)
{
    (void)arg;
    if (flight_no != 3)
        return;
    /* Instead of its final flight the client gives up with a fatal
     * handshake_failure alert (plaintext, epoch 0). */
    struct rec r = {.type = DP_CT_ALERT, .epoch = 0, .seq = 50, .len = 2};
    r.body[0] = 2;
    r.body[1] = AL_HANDSHAKE_FAILURE;
    flight_set(&d->t.to_srv, &r, NULL, 1);
}

static void hook_repeat_client_hello(struct drv *d, unsigned flight_no, void *arg)
{
    (void)arg;
    if (flight_no != 2)
        return;
    /* The cookie-bearing ClientHello arrives three times (client
     * retransmissions): one handshake, the flight resent, no failure. */
    unsigned n = d->t.to_srv.n;
    for (unsigned i = 0; i < n; i++) {
        dq_push(&d->t.to_srv, d->t.to_srv.d[i], d->t.to_srv.len[i]);
        dq_push(&d->t.to_srv, d->t.to_srv.d[i], d->t.to_srv.len[i]);
    }
}

static void test_client_alert_and_retransmit(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    d.hook = hook_client_alert;
    drv_run(&d);
    /* A received fatal alert ends the handshake: FAILED, the alert named. */
    expect_alert(&d, AL_HANDSHAKE_FAILURE, AL_HANDSHAKE_FAILURE, "client fatal alert");
    drv_free(&d);

    drv_init(&d, CLI_ECDHE, true, HS_CLIENT_AUTH_NONE);
    d.hook = hook_repeat_client_hello;
    drv_run(&d);
    expect_established(&d, "repeated ClientHello");
    drv_free(&d);
}

/* ---- random byte flips in the client's flights ------------------------ */
struct flip_arg {
    uint64_t rng;
    unsigned flight; /* which client flight to damage */
};

static uint64_t flip_rnd(struct flip_arg *fa)
{
    fa->rng = fa->rng * 6364136223846793005ull + 1442695040888963407ull;
    return fa->rng >> 33;
}

static void hook_flip(struct drv *d, unsigned flight_no, void *arg)
{
    struct flip_arg *fa = arg;
    if (flight_no != fa->flight)
        return;
    unsigned n = flight_split(&d->t.to_srv, recs_a);
    /* Damage 1..3 bytes of epoch-0 handshake records (headers included). */
    unsigned eligible[MAX_RECS], n_el = 0;
    for (unsigned i = 0; i < n; i++)
        if (recs_a[i].epoch == 0 && recs_a[i].type == DP_CT_HANDSHAKE && recs_a[i].len > 0)
            eligible[n_el++] = i;
    CU_ASSERT_FATAL(n_el > 0);
    unsigned flips = 1 + (unsigned)(flip_rnd(fa) % 3);
    for (unsigned f = 0; f < flips; f++) {
        struct rec *r = &recs_a[eligible[flip_rnd(fa) % n_el]];
        size_t at = (size_t)(flip_rnd(fa) % r->len);
        r->body[at] ^= (uint8_t)(1 + flip_rnd(fa) % 255);
    }
    flight_set(&d->t.to_srv, recs_a, NULL, n);
}

/* Whatever is damaged, the two ends never disagree: the server reports
 * ESTABLISHED exactly when the client verified the server's Finished too
 * (a damaged message that was accepted must break the transcript). */
static void test_random_flips(void)
{
    static const struct {
        enum cli_kind kind;
        enum hs_client_auth auth;
        unsigned flight;
        unsigned runs;
    } plans[] = {
        {CLI_PSK, HS_CLIENT_AUTH_NONE, 2, 150},
        {CLI_PSK, HS_CLIENT_AUTH_NONE, 3, 150},
        {CLI_ECDHE, HS_CLIENT_AUTH_NONE, 3, 40},
        {CLI_ECDHE_CERT, HS_CLIENT_AUTH_REQUIRE, 3, 40},
    };
    unsigned n_est = 0, n_fail = 0, n_stall = 0;
    for (size_t p = 0; p < sizeof(plans) / sizeof(plans[0]); p++) {
        for (unsigned r = 0; r < plans[p].runs; r++) {
            struct flip_arg fa = {0x5eed0000u + p * 1000 + r, plans[p].flight};
            struct drv d;
            drv_init(&d, plans[p].kind, true, plans[p].auth);
            d.hook = hook_flip;
            d.hook_arg = &fa;
            drv_run(&d);
            if (d.t.established != d.client_done)
                printf("\n  flip plan %zu run %u: server established=%d client done=%d", p, r,
                       d.t.established, d.client_done);
            CU_ASSERT_EQUAL(d.t.established, d.client_done);
            CU_ASSERT(!(d.t.established && d.t.failed));
            /* A damaged ClientHello may be answered with a fresh
             * HelloVerifyRequest and the client then succeeds with an
             * undamaged one; a damaged final flight never succeeds. */
            if (plans[p].flight == 3)
                CU_ASSERT(!d.t.established);
            n_est += d.t.established;
            n_fail += d.t.failed;
            n_stall += !d.t.established && !d.t.failed;
            drv_free(&d);
        }
    }
    printf("\n  flips: %u established, %u failed, %u stalled", n_est, n_fail, n_stall);
    /* Most damage must be noticed. */
    CU_ASSERT(n_fail + n_stall > n_est);
}

/* ---- 1000 ClientHellos from one address ------------------------------- */
static void test_many_client_hellos(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    client_step(&d);
    unsigned n = flight_split(&d.t.to_srv, recs_a);
    int i = find_msg(recs_a, n, HT_CLIENT_HELLO);
    CU_ASSERT_FATAL(i >= 0);
    tl_dq_clear(&d.t.to_srv);
    static struct rec ch;
    ch = recs_a[i];
    uint8_t buf[2048], hvr[2048];
    size_t hvr_len;

    /* Cookie-less ClientHellos: an HVR each, and hs_cookie_check allocates
     * nothing at all (hs.h), so nothing can be kept per unverified peer.
     * libcrypto's allocations are counted through CRYPTO_set_mem_functions. */
    size_t transient = 0;
    unsigned n_hvr = 0;
    for (unsigned k = 0; k < 1000; k++) {
        RAND_bytes(ch.body + 12 + 2, 32); /* a new client random */
        size_t len = rec_encode(&ch, buf);
        size_t a0 = n_ossl_alloc, live0 = n_ossl_alloc - n_ossl_free;
        int v = hs_cookie_check(d.t.ctx, &d.t.peer, buf, len, hvr, sizeof(hvr), &hvr_len);
        transient += n_ossl_alloc - a0;
        if (counters_on)
            CU_ASSERT_EQUAL(n_ossl_alloc - n_ossl_free, live0);
        if (v == HS_COOKIE_SEND_HVR) {
            n_hvr++;
            CU_ASSERT(hvr_len <= len);
        }
    }
    CU_ASSERT_EQUAL(n_hvr, 1000);
    CU_ASSERT(counters_on);
    if (transient > 0)
        printf("\n  hs_cookie_check made %.1f libcrypto allocations per ClientHello",
               (double)transient / 1000);
    CU_ASSERT_EQUAL(transient, 0);

    /* With the cookie each one echoes: a handshake each, freed again; the
     * libcrypto allocations balance (no state left behind). */
    size_t live0 = 0;
    unsigned n_valid = 0;
    for (unsigned k = 0; k < 1000; k++) {
        if (k == 10) /* after warm-up (lazy provider caches) */
            live0 = n_ossl_alloc - n_ossl_free;
        RAND_bytes(ch.body + 12 + 2, 32);
        size_t len = rec_encode(&ch, buf);
        int v = hs_cookie_check(d.t.ctx, &d.t.peer, buf, len, hvr, sizeof(hvr), &hvr_len);
        CU_ASSERT_EQUAL_FATAL(v, HS_COOKIE_SEND_HVR);
        /* HVR body: version(2) cookie<0..255> after record + fragment headers. */
        CU_ASSERT_FATAL(hvr_len > 13 + 12 + 3);
        const uint8_t *cookie = hvr + 13 + 12 + 2;
        uint8_t cl = cookie[0];
        struct ch_layout l;
        size_t blen = be24(ch.body + 1);
        CU_ASSERT_FATAL(ch_parse(ch.body + 12, blen, &l) == 0);
        uint8_t nb[2048];
        memcpy(nb, ch.body + 12, l.cookie_off);
        nb[l.cookie_off] = cl;
        memcpy(nb + l.cookie_off + 1, cookie + 1, cl);
        size_t old_cl = ch.body[12 + l.cookie_off];
        memcpy(nb + l.cookie_off + 1 + cl, ch.body + 12 + l.cookie_off + 1 + old_cl,
               blen - l.cookie_off - 1 - old_cl);
        size_t nlen = blen - old_cl + cl;
        struct rec r2;
        rec_set_msg(&r2, HT_CLIENT_HELLO, 1, nb, (uint32_t)nlen);
        r2.epoch = 0;
        r2.seq = 1;
        len = rec_encode(&r2, buf);
        v = hs_cookie_check(d.t.ctx, &d.t.peer, buf, len, hvr, sizeof(hvr), &hvr_len);
        CU_ASSERT_EQUAL(v, HS_COOKIE_VALID);
        /* The same cookie from another port is not valid. */
        struct hs_peer other = d.t.peer;
        other.port++;
        CU_ASSERT_NOT_EQUAL(hs_cookie_check(d.t.ctx, &other, buf, len, hvr, sizeof(hvr), &hvr_len),
                            HS_COOKIE_VALID);
        if (v != HS_COOKIE_VALID)
            continue;
        struct hs *hs = hs_new(d.t.ctx, &d.t.peer, d.t.now_ms);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hs);
        struct hs_out out;
        memset(&out, 0, sizeof(out));
        int rc = hs_input(hs, buf, len, d.t.now_ms, &out);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(out.n_dgrams > 0);
        if (rc == 0)
            n_valid++;
        hs_free(hs);
    }
    CU_ASSERT_EQUAL(n_valid, 1000);
    if (counters_on)
        CU_ASSERT_EQUAL(n_ossl_alloc - n_ossl_free, live0);
    drv_free(&d);
}

/* ---- garbage datagrams to a live handshake never crash -------------- */
static void test_garbage_midway(void)
{
    struct drv d;
    drv_init(&d, CLI_PSK, true, HS_CLIENT_AUTH_NONE);
    /* Run until the server holds a handshake. */
    client_step(&d);
    uint8_t buf[MAX_DGRAM];
    for (int r = 0; r < 2; r++) {
        long n;
        while ((n = tl_dq_pop(&d.t.to_srv, buf, sizeof(buf))) >= 0)
            srv_deliver(&d, buf, (size_t)n);
        client_step(&d);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.t.hs);
    uint64_t seed = 0x1234;
    for (int k = 0; k < 2000 && !d.t.failed; k++) {
        size_t len = 13 + (size_t)(seed % 200);
        for (size_t b = 0; b < len; b++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[b] = (uint8_t)(seed >> 33);
        }
        /* plausible record header so it gets past the record layer */
        buf[0] = (uint8_t)(20 + k % 4);
        buf[1] = 0xfe, buf[2] = 0xfd;
        buf[3] = 0, buf[4] = (uint8_t)(k & 1);
        dp_store_be16(buf + 11, (uint16_t)(len - 13));
        if (k % 4 == 2 && len > 25) {
            /* handshake fragment header with small numbers */
            buf[13 + 1] = 0, buf[13 + 2] = 0;
            buf[13 + 6] = 0, buf[13 + 7] = 0;
            buf[13 + 9] = 0, buf[13 + 10] = 0;
        }
        struct hs_out out;
        memset(&out, 0, sizeof(out));
        int rc = hs_input(d.t.hs, buf, len, d.t.now_ms, &out);
        CU_ASSERT(rc == 0 || out.event == HS_EV_FAILED);
        if (out.event == HS_EV_FAILED)
            d.t.failed = 1;
    }
    const struct hs_stats *st = hs_get_stats(d.t.hs);
    CU_ASSERT_PTR_NOT_NULL(st);
    drv_free(&d);
}

static int suite_init(void)
{
    if (tl_dq_method_init() != 0 || make_creds_files() != 0)
        return -1;
    return 0;
}

static int suite_clean(void)
{
    for (int c = 0; c < 2; c++)
        for (int a = 0; a < 3; a++)
            hs_ctx_free(g_ctx[c][a]);
    hs_creds_free(g_creds);
    remove_creds_files();
    X509_free(ca_cert);
    X509_free(cli_cert);
    X509_free(other_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(cli_key);
    EVP_PKEY_free(other_key);
    tl_dq_method_free();
    return 0;
}

static void test_capture(void)
{
    capture_ch_template();
    CU_ASSERT(ch_template_len > 40);
}

void cu_register(void)
{
    /* Count libcrypto allocations: must come before any OpenSSL call. */
    counters_on = CRYPTO_set_mem_functions(cnt_malloc, cnt_realloc, cnt_free);
    CU_pSuite s = CU_add_suite("engine_bad", suite_init, suite_clean);
    CU_add_test(s, "baseline PSK handshake", test_baseline_psk);
    CU_add_test(s, "baseline ECDHE handshakes", test_baseline_ecdhe);
    CU_add_test(s, "capture ClientHello template", test_capture);
    CU_add_test(s, "test's own epoch-1 record crafting", test_reseal);
    CU_add_test(s, "ChangeCipherSpec before ClientHello", test_ccs_before_client_hello);
    CU_add_test(s, "epoch-0 handshake after the client's CCS dropped", test_epoch0_after_ccs);
    CU_add_test(s, "HelloVerifyRequest from the client", test_hvr_from_client);
    CU_add_test(s, "ClientHello in epoch 1", test_client_hello_epoch1);
    CU_add_test(s, "renegotiation refused", test_renegotiation_refused);
    CU_add_test(s, "Finished before ChangeCipherSpec", test_finished_before_ccs);
    CU_add_test(s, "wrong ClientKeyExchange format", test_wrong_cke_format);
    CU_add_test(s, "client authentication failures", test_client_auth);
    CU_add_test(s, "repeated message_seq", test_repeated_seq);
    CU_add_test(s, "malformed fragments", test_bad_fragments);
    CU_add_test(s, "ClientHello field errors", test_client_hello_fields);
    CU_add_test(s, "truncated ClientHello", test_truncated_client_hello);
    CU_add_test(s, "truncated PSK ClientKeyExchange", test_truncated_cke_psk);
    CU_add_test(s, "truncated ECDHE ClientKeyExchange", test_truncated_cke_ecdhe);
    CU_add_test(s, "truncated Certificate", test_truncated_certificate);
    CU_add_test(s, "truncated CertificateVerify", test_truncated_cert_verify);
    CU_add_test(s, "truncated Finished", test_truncated_finished);
    CU_add_test(s, "unknown PSK identity", test_unknown_psk_identity);
    CU_add_test(s, "client alert, repeated ClientHello", test_client_alert_and_retransmit);
    CU_add_test(s, "random byte flips in client flights", test_random_flips);
    CU_add_test(s, "1000 ClientHellos from one address", test_many_client_hellos);
    CU_add_test(s, "garbage datagrams mid-handshake", test_garbage_midway);
}

#include "cu_main.h"
