/* bench_handshake.c — server handshakes per second per core of the
 * handshake engine (control/hs.h), cookies on as in production, against
 * an in-process libssl DTLS 1.2 client over in-memory datagram queues
 * (tests/lib/tl_dq.h).
 *
 * Only the engine's calls are timed (hs_cookie_check, hs_new, hs_input,
 * hs_free): the client's own work is excluded.  In the same run, interleaved
 * handshake by handshake so that both see the same machine load, the bare
 * libcrypto operations one server handshake of the row needs are timed on
 * their own: the "bound".  The bound uses libcrypto the cheapest way we
 * know: every algorithm fetched once (EVP_MAC, EVP_KDF, EVP_MD,
 * EVP_CIPHER), every context made once and reused (HMAC, TLS1-PRF, SHA-256
 * transcript + snapshot, AEAD, keygen, signing), the signature computed with
 * EVP_PKEY_sign on a context initialised once over a SHA-256 digest made on
 * a reused EVP_MD_CTX.  Per handshake (all rows):
 *   - 2 cookie HMAC-SHA256 over 60 bytes (the HelloVerifyRequest, then the
 *     check of the echoed cookie);
 *   - RAND_bytes(32): ServerHello.random;
 *   - SHA-256 transcript over the messages with their real sizes (the
 *     second ClientHello, ServerHello, [Certificate: the real DER chain
 *     length], [ServerKeyExchange], ServerHelloDone, ClientKeyExchange,
 *     client Finished) and 3 snapshots (copy + final: session hash, client
 *     Finished, server Finished);
 *   - 4 TLS 1.2 PRF (SHA-256) derives: RFC 7627 master secret, key block
 *     (the suite's length: 40 B for AES-128, 88 B for ChaCha20), client and
 *     server Finished verify_data;
 *   - 1 AEAD open (the client's Finished record, sealed once beforehand:
 *     the client's cost is not the server's) + 1 AEAD seal (ours), 24-byte
 *     plaintext, 13-byte AAD, in the suite's AEAD.
 * Per row on top:
 *   PSK (TLS_PSK_WITH_AES_128_CCM_8): nothing: premaster from the PSK
 *       (RFC 4279 §2); AEAD AES-128-CCM, 8-byte tag.
 *   ECDHE-PSK (TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256): 1 ephemeral
 *       keygen (reused EVP_PKEY_CTX) + encoding of its public key + 1 peer
 *       key from the client's point + 1 derive, in the group the engine
 *       negotiated with this client (X25519 by default); premaster per RFC
 *       5489 §2; AEAD ChaCha20-Poly1305.  No signature.
 *   ECDHE-ECDSA-P256 (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256): the ECDHE
 *       part as above + 1 SHA-256 over the signed params + 1 ECDSA P-256
 *       signature; AEAD AES-128-GCM.
 *   ECDHE-RSA-2048 (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256): the ECDHE part
 *       + 1 SHA-256 + 1 RSA-2048 PKCS#1 v1.5 signature (rsa_pkcs1_sha256,
 *       the engine's first choice for an RSA key when the client offers it,
 *       as libssl does); AEAD AES-128-GCM.
 *   RESUME-PSK (TLS_PSK_WITH_AES_128_CCM_8), RESUME-ECDHE-ECDSA
 *       (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256): the abbreviated handshake
 *       (RFC 5246 §7.3) from a session ticket (RFC 5077), tickets on with a
 *       one-key ring (cr_seal.h), the client offering the session of its
 *       previous handshake.  Their bound, bound_resume, replaces the list
 *       above: 2 cookie HMACs, RAND_bytes(32), 1 cr_unseal (AES-256-GCM,
 *       hs_ticket.h's label, the listener as AAD) of a ticket-sized blob
 *       (the ticket state of this row's session, sealed once beforehand),
 *       [RESUME-PSK: 1 SHA-256 of identity || 0 || PSK, the ticket's PSK
 *       digest the engine checks], 1 key block PRF from the ticket's master
 *       secret, SHA-256 transcript over the second ClientHello (with its
 *       cookie and ticket), ServerHello and server Finished with the sizes
 *       the engine exchanged in the last warm-up handshake, 2 snapshots,
 *       2 Finished PRFs, 1 AEAD seal (our Finished) + 1 AEAD open (the
 *       client's) in the suite's AEAD.  No ticket seal: the engine renews
 *       a ticket only when an older key of the ring opened it
 *       (hs_resume.c), never with one key; were one sent, its
 *       NewSessionTicket would count in the transcript sizes but not as a
 *       seal here.  Only resumed handshakes (hs_keys()->resumed) are timed:
 *       a row whose warm-up resumed none is skipped with an error, full
 *       handshakes in the timed loop are left out and counted
 *       ("not_resumed").  Each prints hs/s against its full-handshake row
 *       of the same run (RESUME-PSK : PSK, the issue 10 target >= 3x per
 *       core; RESUME-ECDHE-ECDSA : ECDHE-ECDSA-P256) as an extra line, or
 *       the JSON keys vs_full_kex, vs_full.
 * The ratio hs/s : bound/s says how much the engine adds around the
 * unavoidable crypto (target >= 0.9).
 *
 * --threads N: after the single-thread row, the same row again with n =
 * 2..N threads at once, each with its own hs_creds, hs_ctx, libssl client
 * and bound contexts (nothing shared but libcrypto and the server key
 * files): aggregate hs/s = the sum of the threads' hs/s (each a median over
 * its handshakes, timed on its own clock), per-core efficiency = aggregate
 * / (n x the single-thread hs/s of the same invocation); the same for the
 * bound.  Below 1 means the threads slow each other down (shared libcrypto
 * state, caches, the other helpers' load on a VM).
 *
 * Clock: each thread's CPU time by default (time preempted on a loaded
 * machine does not count; a lock a thread sleeps on does not count either);
 * --wall uses CLOCK_MONOTONIC (counts both).  One clock read pair is
 * measured and subtracted per timed section.
 *
 * Output: a table; with --json one JSON object per line with the keys kex,
 * suite, group, threads, hs_per_s, bound_per_s, ratio, us_per_hs, bound_us,
 * handshakes (+ efficiency, bound_efficiency for threads > 1; + resumed,
 * not_resumed for the resumption rows, and vs_full_kex, vs_full for their
 * single-thread line when the full row ran).  Figures are
 * medians over the handshakes of the run.  Never asserts.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cr_seal.h"
#include "hs.h"
#include "hs_ticket.h"
#include "tl_cert.h"
#include "tl_clock.h"
#include "tl_dq.h"

#define MAX_DGRAM             16384
#define RUN_SECONDS_PER_SUITE 4.0
#define MAX_HANDSHAKES        200000
#define MAX_THREADS           64
#define BOUND_FIN_LEN         24 /* a Finished message: 12-byte header, 12 verify_data */

static double now_s(void)
{
    return (double)tl_mono_ns() * 1e-9;
}
static clockid_t g_clock = CLOCK_THREAD_CPUTIME_ID;
static uint64_t g_pair_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b);
static void calibrate_clock(void)
{
    uint64_t v[1001];
    for (int i = 0; i < 1001; i++) {
        uint64_t t0 = now_ns();
        v[i] = now_ns() - t0;
    }
    qsort(v, 1001, sizeof(v[0]), cmp_u64);
    g_pair_ns = v[500];
}

/* Start of a timed section.  The first clock read after a stretch of other
 * work (the libssl client runs between the engine's sections) costs more
 * than the warm pair calibrate_clock() measures, and the engine is timed in
 * five sections per handshake against the bound's one: one discarded read
 * first makes the subtracted pair cost hold for every section alike.
 * (Fairness fix; measured ~0.5 us per PSK handshake on the test box.) */
static uint64_t start_ns(void)
{
    (void)now_ns();
    return now_ns();
}

/* Elapsed time of a section started at t0, less one clock pair. */
static uint64_t since(uint64_t t0)
{
    uint64_t d = now_ns() - t0;
    return d > g_pair_ns ? d - g_pair_ns : 0;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-handshake: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* ---- credentials --------------------------------------------------------- */
static const char *PSK_ID = "bench-device";
static const uint8_t PSK_KEY[16] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                                    0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static char tmpdir[64], path_ec_chain[128], path_ec_key[128], path_rsa_chain[128],
    path_rsa_key[128];
/* The server keys again, for the bound's signatures (read-only after
 * main made them: every thread signs through its own EVP_PKEY_CTX), and
 * their certificates' DER lengths for the bound's transcript. */
static EVP_PKEY *srv_ec_key, *srv_rsa_key;
static size_t ec_cert_der_len, rsa_cert_der_len;
static const char *g_groups = "X25519:P-256";

static unsigned int psk_cb(SSL *ssl, const char *hint, char *identity,
                           unsigned int max_identity_len, unsigned char *psk,
                           unsigned int max_psk_len)
{
    (void)ssl, (void)hint;
    if (strlen(PSK_ID) + 1 > max_identity_len || sizeof(PSK_KEY) > max_psk_len)
        return 0;
    strcpy(identity, PSK_ID);
    memcpy(psk, PSK_KEY, sizeof(PSK_KEY));
    return sizeof(PSK_KEY);
}

static void mint(enum tl_key_type type, const char *chain, const char *key, EVP_PKEY **out_key,
                 size_t *out_der_len)
{
    const struct tl_cert_opts o = {.cn = "bench.gw", .not_before_s = -3600, .not_after_s = 86400};
    struct tl_cred c;
    if (tl_cred_mint(&c, type, &o, NULL) != 0)
        die("keygen / certificate");
    if (tl_cred_write(&c, chain, key) != 0)
        die("write cert / key");
    int der_len = i2d_X509(c.cert, NULL);
    if (der_len <= 0)
        die("i2d_X509");
    *out_der_len = (size_t)der_len;
    *out_key = c.key;
    X509_free(c.cert);
}

static void make_cert_files(void)
{
    strcpy(tmpdir, "/tmp/dtlsgw-bench.XXXXXX");
    if (!mkdtemp(tmpdir))
        die("mkdtemp");
    snprintf(path_ec_chain, sizeof(path_ec_chain), "%s/ec.pem", tmpdir);
    snprintf(path_ec_key, sizeof(path_ec_key), "%s/ec.key", tmpdir);
    snprintf(path_rsa_chain, sizeof(path_rsa_chain), "%s/rsa.pem", tmpdir);
    snprintf(path_rsa_key, sizeof(path_rsa_key), "%s/rsa.key", tmpdir);
    mint(TL_KEY_EC_P256, path_ec_chain, path_ec_key, &srv_ec_key, &ec_cert_der_len);
    mint(TL_KEY_RSA_2048, path_rsa_chain, path_rsa_key, &srv_rsa_key, &rsa_cert_der_len);
}

static void remove_cert_files(void)
{
    unlink(path_ec_chain);
    unlink(path_ec_key);
    unlink(path_rsa_chain);
    unlink(path_rsa_key);
    rmdir(tmpdir);
}

/* One hs_creds per thread: hs_creds is used from one thread only (its file
 * comment), so threads share nothing of the engine's. */
static struct hs_creds *creds_new(void)
{
    struct hs_creds *c = hs_creds_new();
    if (!c || hs_creds_add_psk(c, PSK_ID, PSK_KEY, sizeof(PSK_KEY)) != 0 ||
        hs_creds_load_cert(c, path_ec_chain, path_ec_key) != 0 ||
        hs_creds_load_cert(c, path_rsa_chain, path_rsa_key) != 0)
        die("credentials");
    return c;
}

/* ---- rows ------------------------------------------------------------------ */
enum bound_sig {
    SIG_NONE,
    SIG_ECDSA_P256,
    SIG_RSA2048_PKCS1,
};
enum bound_aead {
    AEAD_CCM8,
    AEAD_GCM,
    AEAD_CHACHA,
};

struct worker;
struct bound_ctx;
struct row;

/* One row of the table: a handshake kind against the engine and its bound.
 * The hooks are for rows that need more than a fresh full handshake with
 * the defaults (NULL: none); bound NULL is bound_full (the file comment). */
struct row {
    const char *kex;
    const char *suite_name;
    const char *ossl_ciphers;
    uint16_t suite;
    bool psk;   /* the client has the PSK (PSK, ECDHE-PSK) */
    bool ecdhe; /* ephemeral ECDH in the bound */
    enum bound_sig sig;
    enum bound_aead aead;
    size_t key_block_len;
    bool client_tickets;  /* leave the client's tickets on (else SSL_OP_NO_TICKET) */
    bool resume;          /* time only resumed handshakes (hs_keys()->resumed) */
    const char *full_kex; /* the full-handshake row to compare hs/s with */
    /* engine parameters beyond the defaults */
    void (*params)(struct hs_params *p);
    /* engine context set-up after hs_ctx_new (tickets) */
    void (*ctx_setup)(struct worker *w);
    /* client: before each handshake's first flight, after it succeeded */
    void (*client_prep)(struct worker *w, SSL *cli);
    void (*client_done)(struct worker *w, SSL *cli);
    /* the bare crypto of one server handshake of this row */
    void (*bound)(struct bound_ctx *b, const struct row *r);
};

/* ---- one timed handshake ---------------------------------------------- */
struct hs_result {
    uint64_t engine_ns;
    int group_nid; /* the client's view of the negotiated group */
    bool ok;
    bool resumed; /* the engine's view: hs_keys()->resumed */
};

/* Per thread: everything a thread touches, nothing shared. */
struct worker {
    const struct row *row;
    double seconds;
    pthread_t th;
    struct hs_creds *creds;
    struct hs_ctx *ctx;
    SSL_CTX *cctx;
    SSL_SESSION *session;     /* for client_prep / client_done (resumption) */
    struct cr_seal_ring ring; /* ticket keys (ctx_setup) */
    bool have_ring;
    /* epoch-0 handshake message sizes (12-byte header included) by type,
     * of the last handshake (bound_resume's transcript) */
    size_t msg_len[256];
    uint8_t buf[MAX_DGRAM], hvr[MAX_DGRAM];
    uint64_t *t, *tb;
    size_t n_hs, n_fail, n_resumed, n_not_resumed;
    bool skipped; /* a resumption row that did not resume */
    int group_nid;
    double hs_us, bound_us;
};

static SSL_CTX *client_ctx(const struct row *rc)
{
    SSL_CTX *c = SSL_CTX_new(DTLS_client_method());
    if (!c)
        die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION);
    if (!rc->client_tickets)
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    if (SSL_CTX_set_cipher_list(c, rc->ossl_ciphers) != 1)
        die("cipher list");
    if (rc->psk)
        SSL_CTX_set_psk_client_callback(c, psk_cb);
    if (rc->ecdhe && SSL_CTX_set1_groups_list(c, g_groups) != 1)
        die("groups list");
    return c;
}

static void dq_push(struct tl_dq *q, const uint8_t *p, size_t len)
{
    if (tl_dq_push(q, p, len) != 0)
        die("datagram queue full");
}

/* Records the epoch-0 handshake messages of one datagram in w->msg_len
 * (DTLS record header 13 bytes, handshake header 12; outside the timed
 * sections). */
static void note_msgs(struct worker *w, const uint8_t *d, size_t len)
{
    size_t off = 0;
    while (off + 13 <= len) {
        size_t rl = (size_t)d[off + 11] << 8 | d[off + 12];
        const uint8_t *f = d + off + 13;
        if (off + 13 + rl > len)
            break;
        if (d[off] == 22 && d[off + 3] == 0 && d[off + 4] == 0) {
            for (size_t q = 0; q + 12 <= rl;) {
                size_t ml = (size_t)f[q + 1] << 16 | (size_t)f[q + 2] << 8 | f[q + 3];
                size_t fl = (size_t)f[q + 9] << 16 | (size_t)f[q + 10] << 8 | f[q + 11];
                w->msg_len[f[q]] = 12 + ml;
                q += 12 + fl;
            }
        }
        off += 13 + rl;
    }
}

static struct hs_result one_handshake(struct worker *w, uint32_t n)
{
    struct hs_result res = {0, 0, false, false};
    struct tl_dq to_cli = {0}, to_srv = {0};
    struct hs_peer peer = {.family = 4, .port = (uint16_t)(10000 + (n & 0x7fff))};
    peer.addr[0] = 10, peer.addr[1] = (uint8_t)(n >> 16), peer.addr[2] = (uint8_t)(n >> 8),
    peer.addr[3] = (uint8_t)n;
    struct hs *hs = NULL;
    struct hs_out out;
    bool established = false, failed = false;

    SSL *cli = SSL_new(w->cctx);
    if (!cli)
        die("SSL_new");
    SSL_set_bio(cli, tl_dq_bio(&to_cli), tl_dq_bio(&to_srv));
    SSL_set_options(cli, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(cli, 1400);
    SSL_set_connect_state(cli);
    memset(w->msg_len, 0, sizeof(w->msg_len));
    if (w->row->client_prep)
        w->row->client_prep(w, cli);

    bool client_done = false;
    for (int round = 0; round < 20 && !failed; round++) {
        int r = SSL_do_handshake(cli);
        if (r == 1)
            client_done = true;
        else if (SSL_get_error(cli, r) != SSL_ERROR_WANT_READ)
            break;
        if (client_done && established)
            break;
        long len;
        while ((len = tl_dq_pop(&to_srv, w->buf, sizeof(w->buf))) >= 0) {
            note_msgs(w, w->buf, (size_t)len);
            uint64_t t0 = start_ns();
            if (!hs) {
                size_t hvr_len = 0;
                int v = hs_cookie_check(w->ctx, &peer, w->buf, (size_t)len, w->hvr, sizeof(w->hvr),
                                        &hvr_len);
                if (v == HS_COOKIE_SEND_HVR) {
                    res.engine_ns += since(t0);
                    dq_push(&to_cli, w->hvr, hvr_len);
                    continue;
                }
                if (v != HS_COOKIE_VALID) {
                    res.engine_ns += since(t0);
                    continue;
                }
                hs = hs_new(w->ctx, &peer, 0);
                if (!hs)
                    die("hs_new");
            }
            int rc = hs_input(hs, w->buf, (size_t)len, 0, &out);
            res.engine_ns += since(t0);
            for (unsigned i = 0; i < out.n_dgrams; i++) {
                note_msgs(w, out.dgrams[i].data, out.dgrams[i].len);
                dq_push(&to_cli, out.dgrams[i].data, out.dgrams[i].len);
            }
            if (out.event == HS_EV_ESTABLISHED) {
                established = true;
                res.resumed = hs_keys(hs) && hs_keys(hs)->resumed;
            }
            if (rc < 0 || out.event == HS_EV_FAILED) {
                failed = true;
                break;
            }
        }
    }
    res.ok = established && client_done && !failed;
    res.group_nid = SSL_get_negotiated_group(cli);
    if (res.ok && w->row->client_done)
        w->row->client_done(w, cli);
    /* libssl marks a session not resumable when its SSL is freed without
     * a shutdown (ssl_clear_bad_session): end a good one as closed. */
    if (res.ok)
        SSL_set_shutdown(cli, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    if (hs) {
        uint64_t t0 = start_ns();
        hs_free(hs);
        res.engine_ns += since(t0);
    }
    SSL_free(cli);
    tl_dq_clear(&to_cli);
    tl_dq_clear(&to_srv);
    return res;
}

/* ---- the bound: bare libcrypto operations of one server handshake ---- */
struct bound_ctx {
    EVP_MAC *hmac;
    EVP_MAC_CTX *hmac_ctx;
    EVP_KDF *prf;
    EVP_KDF_CTX *prf_ctx;
    EVP_MD *sha256;
    EVP_MD_CTX *th, *th_snap, *md;
    EVP_CIPHER_CTX *aead;
    EVP_CIPHER *cipher;
    enum bound_aead aead_kind;
    size_t tag_len, key_len;
    int group_nid;
    EVP_PKEY_CTX *kg_ctx;
    uint8_t client_point[65];
    size_t client_point_len;
    EVP_PKEY_CTX *sign_ctx; /* EVP_PKEY_sign_init'ed once */
    bool have_client_fin;
    uint8_t client_fin_ct[BOUND_FIN_LEN];
    uint8_t client_fin_tag[16];
    /* bound_resume: its own one-key ring, one sealed ticket state, the
     * message sizes the engine exchanged (ClientHello, ServerHello,
     * NewSessionTicket: 0 when none) */
    bool have_ring;
    struct cr_seal_ring ring;
    uint8_t ticket[HS_TICKET_MAX_LEN];
    size_t ticket_len;
    size_t ch_len, sh_len, nst_len;
};

#define BENCH_LISTENER "bench"

static void prf(struct bound_ctx *b, const uint8_t *secret, size_t secret_len, const char *label,
                const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
    uint8_t s[128];
    size_t ll = strlen(label);
    memcpy(s, label, ll);
    memcpy(s + ll, seed, seed_len);
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, s, ll + seed_len),
        OSSL_PARAM_construct_end(),
    };
    /* Seeds accumulate across derives on one context: reset it first. */
    EVP_KDF_CTX_reset(b->prf_ctx);
    if (EVP_KDF_derive(b->prf_ctx, out, out_len, ps) != 1)
        die("PRF");
}

static void cookie_mac(struct bound_ctx *b, const uint8_t *key, const uint8_t *data, size_t len,
                       uint8_t *out)
{
    size_t n = 0;
    if (EVP_MAC_init(b->hmac_ctx, key, 32, NULL) != 1 ||
        EVP_MAC_update(b->hmac_ctx, data, len) != 1 || EVP_MAC_final(b->hmac_ctx, out, &n, 32) != 1)
        die("HMAC");
}

/* One AEAD record operation: GCM and ChaCha20-Poly1305 take the tag after
 * the data (decrypt), CCM wants its tag length and the data length first. */
static void aead_op(struct bound_ctx *b, int enc, const uint8_t *key, const uint8_t *nonce,
                    const uint8_t *aad, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    int outl = 0, tmp = 0;
    EVP_CIPHER_CTX *c = b->aead;
    bool ccm = b->aead_kind == AEAD_CCM8;
    int tl = (int)b->tag_len;
    if (EVP_CipherInit_ex(c, b->cipher, NULL, NULL, NULL, enc) != 1)
        die("aead init");
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL);
    if (ccm)
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, enc ? NULL : tag);
    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc);
    if (ccm)
        EVP_CipherUpdate(c, NULL, &tmp, NULL, (int)len);
    EVP_CipherUpdate(c, NULL, &tmp, aad, 13);
    int ok = EVP_CipherUpdate(c, out, &outl, in, (int)len);
    if (!ccm) {
        if (!enc)
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, tag);
        ok = EVP_CipherFinal_ex(c, out + outl, &tmp);
    }
    if (ok != 1)
        die("aead");
    if (enc)
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, tl, tag);
}

static void bound_init(struct bound_ctx *b, const struct row *rc, int group_nid)
{
    static const char *const cipher_names[] = {[AEAD_CCM8] = "AES-128-CCM",
                                               [AEAD_GCM] = "AES-128-GCM",
                                               [AEAD_CHACHA] = "ChaCha20-Poly1305"};
    memset(b, 0, sizeof(*b));
    b->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    b->hmac_ctx = b->hmac ? EVP_MAC_CTX_new(b->hmac) : NULL;
    OSSL_PARAM hp[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                       OSSL_PARAM_construct_end()};
    if (!b->hmac_ctx || EVP_MAC_CTX_set_params(b->hmac_ctx, hp) != 1)
        die("bound init: HMAC");
    b->prf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    b->prf_ctx = b->prf ? EVP_KDF_CTX_new(b->prf) : NULL;
    b->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    b->th = EVP_MD_CTX_new();
    b->th_snap = EVP_MD_CTX_new();
    b->md = EVP_MD_CTX_new();
    b->aead = EVP_CIPHER_CTX_new();
    b->aead_kind = rc->aead;
    b->tag_len = rc->aead == AEAD_CCM8 ? 8 : 16;
    b->key_len = rc->aead == AEAD_CHACHA ? 32 : 16;
    b->cipher = EVP_CIPHER_fetch(NULL, cipher_names[rc->aead], NULL);
    if (!b->prf_ctx || !b->sha256 || !b->th || !b->th_snap || !b->md || !b->aead || !b->cipher)
        die("bound init");
    b->group_nid = group_nid;
    if (rc->ecdhe) {
        /* The client's ephemeral key (its cost is not the server's). */
        EVP_PKEY *ck =
            group_nid == NID_X25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "X25519") : EVP_EC_gen("P-256");
        if (!ck)
            die("client keygen");
        uint8_t *pt = NULL;
        b->client_point_len = EVP_PKEY_get1_encoded_public_key(ck, &pt);
        memcpy(b->client_point, pt, b->client_point_len);
        OPENSSL_free(pt);
        EVP_PKEY_free(ck);
        b->kg_ctx =
            EVP_PKEY_CTX_new_from_name(NULL, group_nid == NID_X25519 ? "X25519" : "EC", NULL);
        if (!b->kg_ctx || EVP_PKEY_keygen_init(b->kg_ctx) != 1)
            die("keygen ctx");
        if (group_nid != NID_X25519 && EVP_PKEY_CTX_set_group_name(b->kg_ctx, "P-256") != 1)
            die("keygen group");
    }
    if (rc->sig != SIG_NONE) {
        EVP_PKEY *k = rc->sig == SIG_ECDSA_P256 ? srv_ec_key : srv_rsa_key;
        b->sign_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
        if (!b->sign_ctx || EVP_PKEY_sign_init(b->sign_ctx) != 1 ||
            EVP_PKEY_CTX_set_signature_md(b->sign_ctx, b->sha256) != 1)
            die("sign ctx");
        if (rc->sig == SIG_RSA2048_PKCS1 &&
            EVP_PKEY_CTX_set_rsa_padding(b->sign_ctx, RSA_PKCS1_PADDING) != 1)
            die("sign ctx: RSA padding");
    }
    if (rc->resume) {
        /* The ticket: hs_ticket.h's state layout (fixed part + identity,
         * no SNI), master secret at offset 7, sealed as the engine does. */
        uint8_t st[HS_TICKET_STATE_MAX_LEN] = {HS_TICKET_FORMAT};
        size_t st_len = HS_TICKET_FIXED_LEN + (rc->psk ? strlen(PSK_ID) : 0);
        if (cr_seal_ring_init(&b->ring) != 0 || cr_seal_ring_rotate(&b->ring, 0) != 0)
            die("bound init: ticket ring");
        b->have_ring = true;
        memset(st + 7, 0x5c, HS_TICKET_MASTER_LEN);
        if (cr_seal(&b->ring, HS_TICKET_LABEL, (const uint8_t *)BENCH_LISTENER,
                    strlen(BENCH_LISTENER), st, st_len, b->ticket, sizeof(b->ticket),
                    &b->ticket_len) != 0)
            die("bound init: ticket seal");
    }
}

static void bound_free(struct bound_ctx *b)
{
    EVP_MAC_CTX_free(b->hmac_ctx);
    EVP_MAC_free(b->hmac);
    EVP_KDF_CTX_free(b->prf_ctx);
    EVP_KDF_free(b->prf);
    EVP_MD_free(b->sha256);
    EVP_MD_CTX_free(b->th);
    EVP_MD_CTX_free(b->th_snap);
    EVP_MD_CTX_free(b->md);
    EVP_CIPHER_CTX_free(b->aead);
    EVP_CIPHER_free(b->cipher);
    EVP_PKEY_CTX_free(b->kg_ctx);
    EVP_PKEY_CTX_free(b->sign_ctx);
    if (b->have_ring)
        cr_seal_ring_wipe(&b->ring);
}

/* The transcript hash so far, through a snapshot (the running hash goes on). */
static void th_snapshot(struct bound_ctx *b, uint8_t hash[32])
{
    if (EVP_MD_CTX_copy_ex(b->th_snap, b->th) != 1 ||
        EVP_DigestFinal_ex(b->th_snap, hash, NULL) != 1)
        die("transcript");
}

/* ServerKeyExchange's ECDHE part: ephemeral key, its encoding into params,
 * the client's point as a key, the shared secret into *z (*z_len). */
static void bound_ecdhe(struct bound_ctx *b, uint8_t *params, size_t *params_len, uint8_t *z,
                        size_t *z_len)
{
    EVP_PKEY *eph = NULL;
    if (EVP_PKEY_keygen(b->kg_ctx, &eph) != 1)
        die("keygen");
    uint8_t *pub = NULL;
    size_t pub_len = EVP_PKEY_get1_encoded_public_key(eph, &pub);
    /* ServerECDHParams (RFC 8422 §5.4): curve_type, named curve, point */
    params[0] = 3, params[1] = 0, params[2] = b->group_nid == NID_X25519 ? 29 : 23;
    params[3] = (uint8_t)pub_len;
    memcpy(params + 4, pub, pub_len);
    *params_len = 4 + pub_len;
    OPENSSL_free(pub);
    EVP_PKEY *peer = NULL;
    if (b->group_nid == NID_X25519) {
        peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, b->client_point,
                                              b->client_point_len);
    } else {
        peer = EVP_PKEY_new();
        if (peer &&
            (EVP_PKEY_copy_parameters(peer, eph) != 1 ||
             EVP_PKEY_set1_encoded_public_key(peer, b->client_point, b->client_point_len) != 1))
            die("peer key");
    }
    EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
    if (!peer || !dc || EVP_PKEY_derive_init(dc) != 1 ||
        EVP_PKEY_derive_set_peer_ex(dc, peer, 1) != 1 || EVP_PKEY_derive(dc, z, z_len) != 1)
        die("derive");
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(eph);
}

/* What both kinds of handshake start with: the cookie's HMAC for the
 * HelloVerifyRequest and again to verify the echo; ServerHello.random
 * (RFC 5246 §7.4.1.3): 32 bytes from the CSPRNG. */
static void bound_hello(struct bound_ctx *b, uint8_t server_random[32])
{
    uint8_t secret[32] = {1}, mac[32], cookie_in[60] = {2};
    cookie_mac(b, secret, cookie_in, sizeof(cookie_in), mac);
    cookie_mac(b, secret, cookie_in, sizeof(cookie_in), mac);
    if (RAND_bytes(server_random, 32) != 1)
        die("RAND_bytes");
}

/* The client's Finished record opened into fin (its plaintext, also what
 * it was sealed from).  The client's sealed Finished is made once (its
 * cost is not the server's) under a fixed key, since with ECDHE the key
 * block differs on every iteration; opening it costs the same as under
 * the session's keys. */
static void bound_open_client_fin(struct bound_ctx *b, uint8_t fin[BOUND_FIN_LEN])
{
    static const uint8_t fin_key[32] = {7};
    uint8_t nonce[12] = {0}, aad[13] = {0}, tag[16];
    if (!b->have_client_fin) {
        aead_op(b, 1, fin_key, nonce, aad, fin, BOUND_FIN_LEN, b->client_fin_ct, b->client_fin_tag);
        b->have_client_fin = true;
    }
    memcpy(tag, b->client_fin_tag, sizeof(tag));
    aead_op(b, 0, fin_key, nonce, aad, b->client_fin_ct, BOUND_FIN_LEN, fin, tag);
}

/* One full server handshake's worth of crypto (the file comment). */
static void bound_full(struct bound_ctx *b, const struct row *r)
{
    static const uint8_t msgs[2048];
    uint8_t hash[32], ms[48], kb[88], vd[12];
    uint8_t seed[64] = {0}, pms[2 + 66 + 2 + 64], nonce[12] = {0}, aad[13] = {0}, ct[64], tag[16];
    size_t n = 0;
    uint8_t server_random[32];
    bound_hello(b, server_random);

    /* Transcript: ClientHello (the one with the cookie), ServerHello. */
    EVP_DigestInit_ex(b->th, b->sha256, NULL);
    EVP_DigestUpdate(b->th, msgs, 200);
    EVP_DigestUpdate(b->th, msgs, 90);
    if (r->sig != SIG_NONE) /* Certificate: handshake header + list + one cert */
        EVP_DigestUpdate(b->th, msgs,
                         12 + 3 + 3 +
                             (r->sig == SIG_RSA2048_PKCS1 ? rsa_cert_der_len : ec_cert_der_len));

    if (!r->ecdhe) {
        /* RFC 4279 §2 premaster: uint16 N || zeros(N) || uint16 N || psk */
        memset(pms, 0, 2 + 16);
        pms[1] = 16;
        pms[18] = 0, pms[19] = 16;
        memcpy(pms + 20, PSK_KEY, 16);
        n = 36;
    } else {
        uint8_t params[4 + 65], z[66];
        size_t params_len = 0, z_len = sizeof(z);
        bound_ecdhe(b, params, &params_len, z, &z_len);
        size_t ske_len = 12 + params_len + (r->psk ? 2 : 0);
        if (r->sig != SIG_NONE) {
            /* digitally-signed over client_random || server_random ||
             * params (RFC 8422 §5.4): one SHA-256, one signature */
            uint8_t tbs[64 + sizeof(params)], dgst[32], sig[512];
            memcpy(tbs + 32, server_random, 32);
            memcpy(tbs + 64, params, params_len);
            size_t sig_len = sizeof(sig);
            if (EVP_DigestInit_ex(b->md, b->sha256, NULL) != 1 ||
                EVP_DigestUpdate(b->md, tbs, 64 + params_len) != 1 ||
                EVP_DigestFinal_ex(b->md, dgst, NULL) != 1 ||
                EVP_PKEY_sign(b->sign_ctx, sig, &sig_len, dgst, sizeof(dgst)) != 1)
                die("sign");
            ske_len += 4 + sig_len;
        }
        EVP_DigestUpdate(b->th, msgs, ske_len); /* ServerKeyExchange */
        if (r->psk) {
            /* RFC 5489 §2: uint16 len || Z || uint16 psk_len || psk */
            pms[0] = 0, pms[1] = (uint8_t)z_len;
            memcpy(pms + 2, z, z_len);
            pms[2 + z_len] = 0, pms[3 + z_len] = 16;
            memcpy(pms + 4 + z_len, PSK_KEY, 16);
            n = 4 + z_len + 16;
        } else {
            memcpy(pms, z, z_len);
            n = z_len;
        }
        OPENSSL_cleanse(z, sizeof(z));
    }
    EVP_DigestUpdate(b->th, msgs, 12); /* ServerHelloDone */
    /* ClientKeyExchange: [identity], [point] */
    EVP_DigestUpdate(b->th, msgs,
                     12 + (r->psk ? 2 + strlen(PSK_ID) : 0) +
                         (r->ecdhe ? 1 + b->client_point_len : 0));

    /* RFC 7627: master = PRF(pms, "extended master secret", session_hash). */
    th_snapshot(b, hash);
    prf(b, pms, n, "extended master secret", hash, 32, ms, sizeof(ms));
    prf(b, ms, 48, "key expansion", seed, 64, kb, r->key_block_len);

    /* Client Finished: open the record, check verify_data. */
    th_snapshot(b, hash);
    prf(b, ms, 48, "client finished", hash, 32, vd, sizeof(vd));
    uint8_t fin[BOUND_FIN_LEN] = {20};
    bound_open_client_fin(b, fin);
    EVP_DigestUpdate(b->th, fin, sizeof(fin));
    /* Server Finished: compute, seal. */
    th_snapshot(b, hash);
    prf(b, ms, 48, "server finished", hash, 32, vd, sizeof(vd));
    aead_op(b, 1, kb + b->key_len, nonce, aad, fin, sizeof(fin), ct, tag);
    OPENSSL_cleanse(pms, sizeof(pms));
    OPENSSL_cleanse(ms, sizeof(ms));
    OPENSSL_cleanse(kb, sizeof(kb));
}

/* One abbreviated server handshake's worth of crypto (RFC 5246 §7.3, RFC
 * 5077; the file comment). */
static void bound_resume(struct bound_ctx *b, const struct row *r)
{
    static const uint8_t msgs[2048];
    uint8_t hash[32], kb[88], vd[12], seed[64] = {0};
    uint8_t nonce[12] = {0}, aad[13] = {0}, ct[64], tag[16];
    uint8_t st[HS_TICKET_STATE_MAX_LEN];
    size_t st_len = 0;
    uint8_t server_random[32];
    bound_hello(b, server_random);

    /* The ticket opens under the ring (hs_ticket_open). */
    if (cr_unseal(&b->ring, HS_TICKET_LABEL, (const uint8_t *)BENCH_LISTENER,
                  strlen(BENCH_LISTENER), b->ticket, b->ticket_len, st, sizeof(st), &st_len,
                  NULL) != 0)
        die("ticket open");
    if (r->psk) {
        /* The PSK still the session's (hs_resume.c policy():
         * hs_ticket_psk_digest = SHA-256(identity || 0 || key)). */
        if (EVP_DigestInit_ex(b->md, b->sha256, NULL) != 1 ||
            EVP_DigestUpdate(b->md, PSK_ID, strlen(PSK_ID) + 1) != 1 ||
            EVP_DigestUpdate(b->md, PSK_KEY, sizeof(PSK_KEY)) != 1 ||
            EVP_DigestFinal_ex(b->md, hash, NULL) != 1)
            die("PSK digest");
    }
    const uint8_t *ms = st + 7; /* the ticket's master secret */

    /* Fresh keys from the stored master secret and the new randoms. */
    prf(b, ms, HS_TICKET_MASTER_LEN, "key expansion", seed, 64, kb, r->key_block_len);

    /* Transcript: ClientHello (cookie, ticket), ServerHello,
     * [NewSessionTicket]; our Finished over them, sealed. */
    EVP_DigestInit_ex(b->th, b->sha256, NULL);
    EVP_DigestUpdate(b->th, msgs, b->ch_len);
    EVP_DigestUpdate(b->th, msgs, b->sh_len);
    if (b->nst_len)
        EVP_DigestUpdate(b->th, msgs, b->nst_len);
    th_snapshot(b, hash);
    prf(b, ms, HS_TICKET_MASTER_LEN, "server finished", hash, 32, vd, sizeof(vd));
    uint8_t fin[BOUND_FIN_LEN] = {20};
    aead_op(b, 1, kb + b->key_len, nonce, aad, fin, sizeof(fin), ct, tag);
    EVP_DigestUpdate(b->th, fin, sizeof(fin));

    /* Client Finished: open the record, check verify_data over
     * ClientHello .. our Finished. */
    bound_open_client_fin(b, fin);
    th_snapshot(b, hash);
    prf(b, ms, HS_TICKET_MASTER_LEN, "client finished", hash, 32, vd, sizeof(vd));
    OPENSSL_cleanse(st, sizeof(st));
    OPENSSL_cleanse(kb, sizeof(kb));
}

/* ---- resumption rows ------------------------------------------------------
 * The client keeps the session of each handshake (keep_session) and offers
 * it on the next one (offer_session); run_worker() warms up with a full
 * handshake first, so w->session holds a ticket before the first timed
 * handshake.  The engine: tickets on, a one-key random ring per worker. */
static uint64_t wall_clock_s(void *arg)
{
    (void)arg;
    return (uint64_t)time(NULL);
}
static void tickets_on(struct worker *w)
{
    if (cr_seal_ring_init(&w->ring) != 0 || cr_seal_ring_rotate(&w->ring, 0) != 0)
        die("ticket ring");
    w->have_ring = true;
    const struct hs_ticket_params tp = {
        .ring = &w->ring,
        .listener = BENCH_LISTENER,
        .lifetime_s = HS_TICKET_LIFETIME_DEFAULT_S,
        .wall_clock_s = wall_clock_s,
    };
    if (hs_ctx_set_tickets(w->ctx, &tp) != 0)
        die("hs_ctx_set_tickets");
}
static void keep_session(struct worker *w, SSL *cli)
{
    SSL_SESSION *s = SSL_get1_session(cli);
    if (s) {
        SSL_SESSION_free(w->session);
        w->session = s;
    }
}
static void offer_session(struct worker *w, SSL *cli)
{
    if (w->session && SSL_set_session(cli, w->session) != 1)
        die("SSL_set_session");
}

static const struct row ROWS[] = {
    {.kex = "PSK",
     .suite_name = "TLS_PSK_WITH_AES_128_CCM_8",
     .ossl_ciphers = "PSK-AES128-CCM8",
     .suite = HS_PSK_AES128_CCM8,
     .psk = true,
     .aead = AEAD_CCM8,
     .key_block_len = 2 * 16 + 2 * 4},
    {.kex = "ECDHE-PSK",
     .suite_name = "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
     .ossl_ciphers = "ECDHE-PSK-CHACHA20-POLY1305",
     .suite = HS_ECDHE_PSK_CHACHA20,
     .psk = true,
     .ecdhe = true,
     .aead = AEAD_CHACHA,
     .key_block_len = 2 * 32 + 2 * 12},
    {.kex = "ECDHE-ECDSA-P256",
     .suite_name = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
     .ossl_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256",
     .suite = HS_ECDHE_ECDSA_AES128_GCM,
     .ecdhe = true,
     .sig = SIG_ECDSA_P256,
     .aead = AEAD_GCM,
     .key_block_len = 2 * 16 + 2 * 4},
    {.kex = "ECDHE-RSA-2048",
     .suite_name = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
     .ossl_ciphers = "ECDHE-RSA-AES128-GCM-SHA256",
     .suite = HS_ECDHE_RSA_AES128_GCM,
     .ecdhe = true,
     .sig = SIG_RSA2048_PKCS1,
     .aead = AEAD_GCM,
     .key_block_len = 2 * 16 + 2 * 4},
    {.kex = "RESUME-PSK",
     .suite_name = "TLS_PSK_WITH_AES_128_CCM_8",
     .ossl_ciphers = "PSK-AES128-CCM8",
     .suite = HS_PSK_AES128_CCM8,
     .psk = true,
     .aead = AEAD_CCM8,
     .key_block_len = 2 * 16 + 2 * 4,
     .client_tickets = true,
     .resume = true,
     .full_kex = "PSK",
     .ctx_setup = tickets_on,
     .client_prep = offer_session,
     .client_done = keep_session,
     .bound = bound_resume},
    {.kex = "RESUME-ECDHE-ECDSA",
     .suite_name = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
     .ossl_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256",
     .suite = HS_ECDHE_ECDSA_AES128_GCM,
     .ecdhe = true, /* the client's groups; no key exchange on resumption */
     .aead = AEAD_GCM,
     .key_block_len = 2 * 16 + 2 * 4,
     .client_tickets = true,
     .resume = true,
     .full_kex = "ECDHE-ECDSA-P256",
     .ctx_setup = tickets_on,
     .client_prep = offer_session,
     .client_done = keep_session,
     .bound = bound_resume},
};

/* ---- statistics -------------------------------------------------------- */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static double median_ns(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(v[0]), cmp_u64);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* One thread's run of a row: warm-up, then engine handshakes and bound
 * iterations interleaved for w->seconds. */
static void *run_worker(void *arg)
{
    struct worker *w = arg;
    const struct row *rc = w->row;
    struct hs_params p;
    hs_params_default(&p);
    p.suites[0] = rc->suite;
    p.n_suites = 1;
    p.cookie_required = true;
    if (rc->params)
        rc->params(&p);
    w->creds = creds_new();
    w->ctx = hs_ctx_new(&p, w->creds);
    if (!w->ctx)
        die("hs_ctx_new");
    if (rc->ctx_setup)
        rc->ctx_setup(w);
    w->cctx = client_ctx(rc);
    w->t = malloc(MAX_HANDSHAKES * sizeof(*w->t));
    w->tb = malloc(MAX_HANDSHAKES * sizeof(*w->tb));
    if (!w->t || !w->tb)
        die("out of memory");

    /* Warm-up (lazy algorithm fetches on both sides); learn the group. */
    unsigned warm_resumed = 0;
    bool last_resumed = false;
    for (int i = 0; i < 20; i++) {
        struct hs_result h = one_handshake(w, (uint32_t)i);
        if (!h.ok)
            die("warm-up handshake failed");
        w->group_nid = h.group_nid;
        warm_resumed += h.resumed;
        last_resumed = h.resumed;
    }
    if (rc->resume && (warm_resumed == 0 || !last_resumed)) {
        fprintf(stderr,
                "bench-handshake: %s: %u of 20 warm-up handshakes resumed (the last one %s): "
                "row skipped\n",
                rc->kex, warm_resumed, last_resumed ? "did" : "did not");
        w->skipped = true;
        goto done;
    }
    void (*bound)(struct bound_ctx *, const struct row *) = rc->bound ? rc->bound : bound_full;
    struct bound_ctx b;
    bound_init(&b, rc, rc->ecdhe ? w->group_nid : 0);
    /* the last warm-up handshake's sizes (resumption rows: a resumed one) */
    b.ch_len = w->msg_len[1], b.sh_len = w->msg_len[2], b.nst_len = w->msg_len[4];
    for (int i = 0; i < 20; i++)
        bound(&b, rc);
    double t_end = now_s() + w->seconds;
    while (w->n_hs < MAX_HANDSHAKES && now_s() < t_end) {
        struct hs_result h =
            one_handshake(w, (uint32_t)(w->n_hs + w->n_fail + w->n_not_resumed + 100));
        if (!h.ok) {
            w->n_fail++;
            if (w->n_fail > 10)
                die("handshakes keep failing");
            continue;
        }
        if (rc->resume && !h.resumed) {
            /* a full handshake: never timed as a resumption */
            w->n_not_resumed++;
            continue;
        }
        w->n_resumed += h.resumed;
        uint64_t t0 = start_ns();
        bound(&b, rc);
        w->tb[w->n_hs] = since(t0);
        w->t[w->n_hs++] = h.engine_ns;
    }
    if (w->n_hs == 0) {
        fprintf(stderr, "bench-handshake: %s: no handshake timed (%zu not resumed): row skipped\n",
                rc->kex, w->n_not_resumed);
        w->skipped = true;
    } else {
        w->hs_us = median_ns(w->t, w->n_hs) / 1000.0;
        w->bound_us = median_ns(w->tb, w->n_hs) / 1000.0;
    }
    bound_free(&b);
done:
    free(w->t);
    free(w->tb);
    SSL_SESSION_free(w->session);
    SSL_CTX_free(w->cctx);
    hs_ctx_free(w->ctx);
    hs_creds_free(w->creds);
    if (w->have_ring)
        cr_seal_ring_wipe(&w->ring);
    return NULL;
}

struct result {
    unsigned threads;
    double hs_per_s, bound_per_s; /* sums over the threads */
    double hs_us, bound_us;       /* medians (n threads: the mean of their medians) */
    size_t n_hs, n_resumed, n_not_resumed;
    int group_nid;
    bool skipped; /* a thread's resumption row did not resume */
};

static struct result run_row(const struct row *rc, double seconds, unsigned n_threads)
{
    static struct worker ws[MAX_THREADS];
    struct result r = {.threads = n_threads};
    for (unsigned i = 0; i < n_threads; i++) {
        memset(&ws[i], 0, sizeof(ws[i]));
        ws[i].row = rc;
        ws[i].seconds = seconds;
    }
    if (n_threads == 1) {
        run_worker(&ws[0]);
    } else {
        for (unsigned i = 0; i < n_threads; i++)
            if (pthread_create(&ws[i].th, NULL, run_worker, &ws[i]) != 0)
                die("pthread_create");
        for (unsigned i = 0; i < n_threads; i++)
            pthread_join(ws[i].th, NULL);
    }
    for (unsigned i = 0; i < n_threads; i++)
        r.skipped = r.skipped || ws[i].skipped;
    for (unsigned i = 0; i < n_threads && !r.skipped; i++) {
        r.hs_per_s += 1e6 / ws[i].hs_us;
        r.bound_per_s += 1e6 / ws[i].bound_us;
        r.hs_us += ws[i].hs_us / n_threads;
        r.bound_us += ws[i].bound_us / n_threads;
        r.n_hs += ws[i].n_hs;
        r.n_resumed += ws[i].n_resumed;
        r.n_not_resumed += ws[i].n_not_resumed;
        r.group_nid = ws[i].group_nid;
    }
    return r;
}

/* full: the single-thread result of rc->full_kex in this run, or NULL. */
static void print_result(const struct row *rc, const struct result *r, const struct result *single,
                         const struct result *full, bool json)
{
    const char *group = rc->ecdhe ? OBJ_nid2sn(r->group_nid) : "-";
    double eff = 0, beff = 0;
    if (r->threads > 1) {
        eff = r->hs_per_s / (r->threads * single->hs_per_s);
        beff = r->bound_per_s / (r->threads * single->bound_per_s);
    }
    if (json) {
        printf("{\"kex\":\"%s\",\"suite\":\"%s\",\"group\":\"%s\",\"threads\":%u,"
               "\"hs_per_s\":%.0f,\"bound_per_s\":%.0f,\"ratio\":%.3f,\"us_per_hs\":%.2f,"
               "\"bound_us\":%.2f,\"handshakes\":%zu",
               rc->kex, rc->suite_name, group, r->threads, r->hs_per_s, r->bound_per_s,
               r->hs_per_s / r->bound_per_s, r->hs_us, r->bound_us, r->n_hs);
        if (r->threads > 1)
            printf(",\"efficiency\":%.3f,\"bound_efficiency\":%.3f", eff, beff);
        if (rc->resume)
            printf(",\"resumed\":%zu,\"not_resumed\":%zu", r->n_resumed, r->n_not_resumed);
        if (full)
            printf(",\"vs_full_kex\":\"%s\",\"vs_full\":%.3f", rc->full_kex,
                   r->hs_per_s / full->hs_per_s);
        printf("}\n");
    } else {
        char e[16] = "-", be[16] = "-";
        if (r->threads > 1) {
            snprintf(e, sizeof(e), "%.3f", eff);
            snprintf(be, sizeof(be), "%.3f", beff);
        }
        printf("%-18s %-44s %6s %3u %8.2f %9.0f %8.2f %9.0f %6.3f %6s %6s\n", rc->kex,
               rc->suite_name, group, r->threads, r->hs_us, r->hs_per_s, r->bound_us,
               r->bound_per_s, r->hs_per_s / r->bound_per_s, e, be);
        if (rc->resume && r->n_not_resumed)
            printf("  %s: %zu full handshakes left out (not resumed)\n", rc->kex, r->n_not_resumed);
        if (full)
            printf("  %s hs/s : %s hs/s = %.2f (%.0f / %.0f)%s\n", rc->kex, rc->full_kex,
                   r->hs_per_s / full->hs_per_s, r->hs_per_s, full->hs_per_s,
                   strcmp(rc->kex, "RESUME-PSK") == 0 ? "  [issue 10 target >= 3]" : "");
    }
    fflush(stdout);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--json] [--seconds S] [--kex NAME] [--threads N|max] [--groups LIST] "
            "[--wall]\n  kex:",
            argv0);
    for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++)
        fprintf(stderr, " %s", ROWS[i].kex);
    fprintf(stderr,
            "\n  --threads N: rows for 1..N threads (N at most %d); max: the online "
            "CPUs\n  --groups: the client's groups for ECDHE rows (default "
            "X25519:P-256)\n",
            MAX_THREADS);
    exit(2);
}

int main(int argc, char **argv)
{
    bool json = false;
    const char *only = NULL;
    double seconds = RUN_SECONDS_PER_SUITE;
    unsigned max_threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--kex") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc)
            g_groups = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            i++;
            long n = strcmp(argv[i], "max") == 0 ? sysconf(_SC_NPROCESSORS_ONLN) : atol(argv[i]);
            if (n < 1 || n > MAX_THREADS)
                usage(argv[0]);
            max_threads = (unsigned)n;
        } else if (strcmp(argv[i], "--wall") == 0)
            g_clock = CLOCK_MONOTONIC;
        else
            usage(argv[0]);
    }
    if (only) {
        bool found = false;
        for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++)
            found = found || strcmp(only, ROWS[i].kex) == 0;
        if (!found)
            usage(argv[0]);
    }
    calibrate_clock();
    if (tl_dq_method_init() != 0) /* before any thread: one BIO_METHOD for all */
        die("BIO_meth_new");
    make_cert_files();

    if (!json)
        printf("%-18s %-44s %6s %3s %8s %9s %8s %9s %6s %6s %6s\n", "kex", "suite", "group", "thr",
               "hs_us", "hs/s", "bound_us", "bound/s", "ratio", "eff", "b_eff");
    enum {
        N_ROWS = sizeof(ROWS) / sizeof(ROWS[0])
    };
    struct result singles[N_ROWS];
    bool ran[N_ROWS] = {false};
    for (size_t i = 0; i < N_ROWS; i++) {
        if (only && strcmp(only, ROWS[i].kex) != 0)
            continue;
        const struct result *full = NULL;
        for (size_t k = 0; k < i && ROWS[i].full_kex; k++)
            if (ran[k] && strcmp(ROWS[k].kex, ROWS[i].full_kex) == 0)
                full = &singles[k];
        struct result single = run_row(&ROWS[i], seconds, 1);
        if (single.skipped)
            continue;
        singles[i] = single;
        ran[i] = true;
        print_result(&ROWS[i], &single, &single, full, json);
        for (unsigned n = 2; n <= max_threads; n++) {
            struct result r = run_row(&ROWS[i], seconds, n);
            if (r.skipped) {
                fprintf(stderr, "bench-handshake: %s, %u threads: skipped\n", ROWS[i].kex, n);
                continue;
            }
            print_result(&ROWS[i], &r, &single, NULL, json);
        }
    }
    EVP_PKEY_free(srv_ec_key);
    EVP_PKEY_free(srv_rsa_key);
    remove_cert_files();
    tl_dq_method_free();
    return 0;
}
