/* test_resume.c — session resumption in the handshake engine
 * (control/engine/hs_resume.c, RFC 5077 tickets, RFC 5246 §7.3
 * abbreviated handshake) driven by a real libssl DTLS 1.2 client over the
 * engine pair harness (tests/lib/tl_pair.h).
 *
 * Covers: a full handshake issues a ticket (PSK and ECDHE-ECDSA), a second
 * connection with SSL_set_session resumes with fresh keys; tickets off;
 * fallbacks to a full handshake by reason (another listener, another key,
 * expired, PSK identity re-keyed, suite off); a client without EMS on
 * resumption aborted (RFC 7627 §5.3); renewal after a key rotation; loss
 * of each flight of the abbreviated handshake and the client's repeated
 * final flight; two contexts sharing one key file.  The session-ID cache
 * (RFC 5246 §7.4.1.2): resume by id, none when a ticket is issued, unknown
 * id / other listener, another context's tag, eviction at the bound,
 * expiry, non-EMS not cached, a PSK re-keyed.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "cr_seal.h"
#include "cu_main.h"
#include "dp_wire.h"
#include "hs.h"
#include "tl_cert.h"
#include "tl_pair.h"

static const uint8_t psk_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t psk_key2[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
static const uint8_t *g_cli_psk = psk_key;
static char tmpdir[128];
static uint64_t g_now_s = 1700000000; /* the engine's wall clock */

#define PSK_LIST   "PSK-AES128-GCM-SHA256:@SECLEVEL=0"
#define ECDSA_LIST "ECDHE-ECDSA-AES128-GCM-SHA256"

static uint64_t test_clock(void *arg)
{
    (void)arg;
    return g_now_s;
}

static unsigned int client_psk_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    (void)ssl;
    (void)hint;
    if (max_identity_len < 8 || max_psk_len < sizeof(psk_key))
        return 0;
    strcpy(identity, "client1");
    memcpy(psk, g_cli_psk, sizeof(psk_key));
    return sizeof(psk_key);
}

static const char *tpath(const char *name)
{
    static char buf[4][256];
    static unsigned k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dtlsgw-test-resume-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    struct tl_cred c = {0};
    const struct tl_cert_opts o = {.cn = "resume leaf", .kind = TL_CERT_LEAF};
    int rc = tl_cred_mint(&c, TL_KEY_EC_P256, &o, NULL);
    if (rc == 0)
        rc = tl_cred_write(&c, tpath("ec-cert.pem"), tpath("ec-key.pem"));
    tl_cred_free(&c);
    return rc != 0;
}

static int suite_clean(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : 1;
}

/* ---- a server: credentials, context, ticket ring ------------------------ */
struct server {
    struct hs_creds *creds;
    struct hs_ctx *ctx;
    struct cr_seal_ring ring;
};

static void server_init(struct server *s, const char *listener, const struct hs_params *params)
{
    struct hs_params def;
    if (params == NULL) {
        hs_params_default(&def);
        params = &def;
    }
    memset(s, 0, sizeof(*s));
    s->creds = hs_creds_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->creds);
    CU_ASSERT_EQUAL(hs_creds_add_psk(s->creds, "client1", psk_key, sizeof(psk_key)), 0);
    CU_ASSERT_EQUAL(hs_creds_load_cert(s->creds, tpath("ec-cert.pem"), tpath("ec-key.pem")), 0);
    s->ctx = hs_ctx_new(params, s->creds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->ctx);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&s->ring), 0);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_rotate(&s->ring, 0), 0);
    if (listener != NULL) {
        const struct hs_ticket_params tp = {
            .ring = &s->ring,
            .listener = listener,
            .lifetime_s = HS_TICKET_LIFETIME_DEFAULT_S,
            .wall_clock_s = test_clock,
        };
        CU_ASSERT_EQUAL_FATAL(hs_ctx_set_tickets(s->ctx, &tp), 0);
    }
}

static void server_free(struct server *s)
{
    hs_ctx_free(s->ctx);
    hs_creds_free(s->creds);
    cr_seal_ring_wipe(&s->ring);
}

/* ---- one client connection ---------------------------------------------- */
struct conn {
    struct tl_pair p;
    bool ok;     /* both sides finished */
    bool reused; /* SSL_session_reused */
    struct hs_keys keys;
    struct hs_stats stats;
    SSL_SESSION *sess; /* the client's session afterwards (free it) */
};

static void server_rx(struct tl_pair *p, const uint8_t *d, size_t len)
{
    struct hs_out out;
    CU_ASSERT_FATAL(tl_pair_deliver(p, d, len, &out, NULL) != TL_PAIR_RX_NO_HS);
}

static void pump(struct tl_pair *p)
{
    tl_pair_pump(p, server_rx);
}

/* Runs the handshake; 1 when both sides finished. */
static int run(struct tl_pair *p, unsigned rounds)
{
    return tl_pair_run(p, rounds, server_rx);
}

/* A client for ctx with cipher list, resuming sess when not NULL;
 * opts: SSL_OP_* to set. */
static void conn_start(struct conn *c, struct server *s, const char *list, SSL_SESSION *sess,
                       uint64_t opts)
{
    memset(c, 0, sizeof(*c));
    tl_pair_init(&c->p, s->ctx, 40001);
    SSL_CTX *cctx = tl_pair_client_ctx();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cctx);
    CU_ASSERT_EQUAL(SSL_CTX_set_cipher_list(cctx, list), 1);
    SSL_CTX_set_psk_client_callback(cctx, client_psk_cb);
    SSL_CTX_set_options(cctx, opts);
    CU_ASSERT_EQUAL_FATAL(tl_pair_client(&c->p, cctx, 1400), 0);
    DTLS_set_timer_cb(c->p.ssl, tl_pair_fast_timer_cb);
    if (sess != NULL)
        CU_ASSERT_EQUAL(SSL_set_session(c->p.ssl, sess), 1);
}

/* Application data both ways. */
static void app_data(struct tl_pair *p)
{
    const char *c_msg = "ping", *s_msg = "pong";
    uint8_t rec[256];
    size_t rec_len = 0;
    char buf[64];
    CU_ASSERT_EQUAL(SSL_write(p->ssl, c_msg, 4), 4);
    p->app_rx_len = 0;
    pump(p);
    CU_ASSERT(p->app_rx_len == 4 && memcmp(p->app_rx, c_msg, 4) == 0);
    CU_ASSERT_EQUAL_FATAL(hs_seal_app(p->hs, (const uint8_t *)s_msg, 4, rec, sizeof(rec), &rec_len),
                          0);
    tl_dq_push(&p->to_cli, rec, rec_len);
    CU_ASSERT_EQUAL(SSL_read(p->ssl, buf, sizeof(buf)), 4);
    CU_ASSERT(memcmp(buf, s_msg, 4) == 0);
}

/* What the connection ended with, then the pair is freed. */
static void conn_finish(struct conn *c)
{
    c->reused = SSL_session_reused(c->p.ssl) == 1;
    if (c->ok) {
        app_data(&c->p);
        c->keys = *hs_keys(c->p.hs);
    }
    if (c->p.hs)
        c->stats = *hs_get_stats(c->p.hs);
    c->sess = SSL_get1_session(c->p.ssl);
    /* libssl marks a session not resumable when its SSL is freed without
     * a shutdown (ssl_clear_bad_session): end it as a closed one */
    SSL_set_shutdown(c->p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    tl_pair_free(&c->p);
}

/* One whole connection. */
static void connect_once(struct conn *c, struct server *s, const char *list, SSL_SESSION *sess,
                         uint64_t opts)
{
    conn_start(c, s, list, sess, opts);
    c->ok = run(&c->p, 20) == 1;
    conn_finish(c);
}

static bool has_ticket(SSL_SESSION *s)
{
    return s != NULL && SSL_SESSION_has_ticket(s) == 1;
}

/* ---- tests --------------------------------------------------------------- */

static void resume_suite(const char *list, enum hs_kex kex)
{
    struct server s;
    struct conn a, b, c;
    server_init(&s, "l1", NULL);
    connect_once(&a, &s, list, NULL, 0);
    CU_ASSERT_FATAL(a.ok);
    CU_ASSERT(!a.reused && !a.keys.resumed && a.keys.ems && a.keys.kex == kex);
    CU_ASSERT_EQUAL(a.stats.tickets_issued, 1);
    CU_ASSERT_FATAL(has_ticket(a.sess));
    CU_ASSERT_EQUAL(SSL_SESSION_get_ticket_lifetime_hint(a.sess), HS_TICKET_LIFETIME_DEFAULT_S);

    connect_once(&b, &s, list, a.sess, 0);
    CU_ASSERT_FATAL(b.ok);
    CU_ASSERT(b.reused);
    CU_ASSERT(b.keys.resumed);
    CU_ASSERT_EQUAL(b.stats.resumed, 1);
    CU_ASSERT_EQUAL(b.stats.tickets_issued, 0); /* not renewed: same key */
    CU_ASSERT_EQUAL(b.keys.suite, a.keys.suite);
    CU_ASSERT_STRING_EQUAL(b.keys.peer_identity, a.keys.peer_identity);
    /* fresh keys: nothing of the first session's key block again */
    CU_ASSERT(memcmp(a.keys.client_write_key, b.keys.client_write_key, a.keys.key_len) != 0);
    CU_ASSERT(memcmp(a.keys.server_write_key, b.keys.server_write_key, a.keys.key_len) != 0);
    CU_ASSERT(memcmp(a.keys.client_write_iv, b.keys.client_write_iv, a.keys.iv_len) != 0);
    /* the same ticket resumes again (the client keeps it) */
    connect_once(&c, &s, list, b.sess, 0);
    CU_ASSERT(c.ok && c.reused && c.keys.resumed);
    CU_ASSERT(memcmp(b.keys.client_write_key, c.keys.client_write_key, b.keys.key_len) != 0);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s);
}

static void test_resume_psk(void)
{
    resume_suite(PSK_LIST, HS_KEX_PSK);
}

static void test_resume_ecdsa(void)
{
    resume_suite(ECDSA_LIST, HS_KEX_ECDHE_ECDSA);
}

static void test_tickets_off(void)
{
    struct server s;
    struct conn a, b;
    server_init(&s, NULL, NULL);
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok);
    CU_ASSERT(!has_ticket(a.sess));
    CU_ASSERT_EQUAL(a.stats.tickets_issued, 0);
    server_free(&s);
    SSL_SESSION_free(a.sess);
    /* a session without EMS gets no ticket (RFC 7627 §5.3) */
    server_init(&s, "l1", NULL);
    connect_once(&b, &s, PSK_LIST, NULL, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CU_ASSERT_FATAL(b.ok);
    CU_ASSERT(!b.keys.ems);
    CU_ASSERT(!has_ticket(b.sess));
    CU_ASSERT_EQUAL(b.stats.tickets_issued, 0);
    SSL_SESSION_free(b.sess);
    server_free(&s);
}

/* A full handshake with a ticket that did not resume: reason why, and a
 * new ticket issued. */
static void check_fallback(const struct conn *c, enum hs_resume_fallback why)
{
    CU_ASSERT(c->ok);
    CU_ASSERT(!c->reused);
    CU_ASSERT(!c->keys.resumed);
    CU_ASSERT_EQUAL(c->stats.resumed, 0);
    CU_ASSERT_EQUAL(c->stats.resume_fallbacks[why], 1);
    CU_ASSERT_EQUAL(c->stats.tickets_issued, 1);
    CU_ASSERT(has_ticket(c->sess));
    if (c->stats.resume_fallbacks[why] != 1)
        printf("\n  expected fallback %s\n", hs_resume_fallback_name(why));
}

/* RFC 7627 §5.3: sess had EMS, the client offers it without EMS (opts:
 * SSL_OP_* to set besides SSL_OP_NO_EXTENDED_MASTER_SECRET): the
 * handshake aborts with handshake_failure, HS_FAIL_RESUME_NO_EMS. */
static void check_resume_no_ems_aborts(struct server *s, SSL_SESSION *sess, uint64_t opts)
{
    struct conn b;
    conn_start(&b, s, PSK_LIST, sess, opts | SSL_OP_NO_EXTENDED_MASTER_SECRET);
    b.ok = run(&b.p, 20) == 1;
    CU_ASSERT(!b.ok);
    CU_ASSERT(b.p.failed);
    CU_ASSERT_EQUAL(b.p.alert, DP_ALERT_HANDSHAKE_FAILURE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.p.hs);
    CU_ASSERT_EQUAL(hs_fail_reason(b.p.hs), HS_FAIL_RESUME_NO_EMS);
    tl_pair_free(&b.p);
}

/* client1 gets a new key, psk_key2 (reload-psk), from the PSK file name
 * in the run's folder; the client offers it while g_cli_psk says so. */
static void rekey_client1(struct server *s, const char *name)
{
    FILE *f = fopen(tpath(name), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "client1:");
    for (unsigned i = 0; i < sizeof(psk_key2); i++)
        fprintf(f, "%02x", psk_key2[i]);
    fprintf(f, "\n");
    fclose(f);
    chmod(tpath(name), 0600);
    CU_ASSERT_EQUAL_FATAL(hs_creds_load_psk_file(s->creds, tpath(name)), 0);
}

static void test_other_listener_or_key(void)
{
    struct server s1, s2, s3;
    struct conn a, b, c;
    server_init(&s1, "l1", NULL);
    server_init(&s2, "l2", NULL);
    server_init(&s3, "l1", NULL); /* same name, its own random key */
    /* s2 shares s1's keys: the listener name alone keeps them apart */
    cr_seal_ring_wipe(&s2.ring);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_copy(&s2.ring, &s1.ring), 0);
    connect_once(&a, &s1, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    connect_once(&b, &s2, PSK_LIST, a.sess, 0);
    check_fallback(&b, HS_RESUME_FB_UNSEALED);
    connect_once(&c, &s3, PSK_LIST, a.sess, 0);
    check_fallback(&c, HS_RESUME_FB_UNSEALED);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s1);
    server_free(&s2);
    server_free(&s3);
}

static void test_expired(void)
{
    struct server s;
    struct conn a, b, c;
    server_init(&s, "l1", NULL);
    uint64_t t0 = g_now_s;
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    g_now_s = t0 + HS_TICKET_LIFETIME_DEFAULT_S - 1;
    connect_once(&b, &s, PSK_LIST, a.sess, 0);
    CU_ASSERT(b.ok && b.reused);
    g_now_s = t0 + HS_TICKET_LIFETIME_DEFAULT_S;
    connect_once(&c, &s, PSK_LIST, a.sess, 0);
    check_fallback(&c, HS_RESUME_FB_EXPIRED);
    g_now_s = t0;
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s);
}

static void test_resume_without_ems(void)
{
    struct server s;
    struct conn a;
    server_init(&s, "l1", NULL);
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    /* the ticket's session had EMS, the new ClientHello does not offer it */
    check_resume_no_ems_aborts(&s, a.sess, 0);
    SSL_SESSION_free(a.sess);
    server_free(&s);
}

static void test_psk_rekeyed(void)
{
    struct server s;
    struct conn a, b;
    server_init(&s, "l1", NULL);
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    /* the identity gets a new key (reload-psk): its tickets resume no more */
    rekey_client1(&s, "psk.txt");
    g_cli_psk = psk_key2;
    connect_once(&b, &s, PSK_LIST, a.sess, 0);
    g_cli_psk = psk_key;
    check_fallback(&b, HS_RESUME_FB_PSK);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    server_free(&s);
}

static void test_suite_off(void)
{
    struct server s1, s2;
    struct hs_params params;
    struct conn a, b;
    server_init(&s1, "l1", NULL);
    hs_params_default(&params);
    params.suites[0] = HS_PSK_AES256_GCM;
    params.suites[1] = HS_PSK_AES128_CCM8;
    params.n_suites = 2;
    server_init(&s2, "l1", &params);
    cr_seal_ring_wipe(&s2.ring);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_copy(&s2.ring, &s1.ring), 0);
    connect_once(&a, &s1, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    /* the client still offers the ticket's suite, the listener no more */
    connect_once(&b, &s2, "PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:@SECLEVEL=0", a.sess, 0);
    check_fallback(&b, HS_RESUME_FB_SUITE);
    CU_ASSERT_EQUAL(b.keys.suite, HS_PSK_AES256_GCM);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    server_free(&s1);
    server_free(&s2);
}

static void test_renew_after_rotation(void)
{
    struct server s;
    struct conn a, b, c;
    server_init(&s, "l1", NULL);
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    CU_ASSERT_EQUAL(cr_seal_ring_rotate(&s.ring, 1), 0);
    g_now_s += 100;
    connect_once(&b, &s, PSK_LIST, a.sess, 0);
    CU_ASSERT_FATAL(b.ok);
    CU_ASSERT(b.reused && b.keys.resumed);
    CU_ASSERT_EQUAL(b.stats.tickets_issued, 1); /* opened by an older key: renewed */
    CU_ASSERT(has_ticket(b.sess));
    /* same expiry as the original: the hint counts what is left */
    CU_ASSERT_EQUAL(SSL_SESSION_get_ticket_lifetime_hint(b.sess),
                    HS_TICKET_LIFETIME_DEFAULT_S - 100);
    const unsigned char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    SSL_SESSION_get0_ticket(a.sess, &t1, &l1);
    SSL_SESSION_get0_ticket(b.sess, &t2, &l2);
    CU_ASSERT(l1 != l2 || memcmp(t1, t2, l1) != 0);
    /* the renewed ticket resumes under the current key, not renewed again */
    connect_once(&c, &s, PSK_LIST, b.sess, 0);
    CU_ASSERT(c.ok && c.reused);
    CU_ASSERT_EQUAL(c.stats.tickets_issued, 0);
    g_now_s -= 100;
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s);
}

static void test_shared_key_file(void)
{
    struct server s1, s2;
    struct conn a, b;
    char err[256];
    /* two instances of one listener sharing a key file */
    FILE *f = fopen(tpath("ticket.key"), "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t k[2 * CR_SEAL_FILE_KEY_LEN];
    for (unsigned i = 0; i < sizeof(k); i++)
        k[i] = (uint8_t)(i * 7 + 3);
    CU_ASSERT_EQUAL(fwrite(k, 1, sizeof(k), f), sizeof(k));
    fclose(f);
    chmod(tpath("ticket.key"), 0600);
    server_init(&s1, "edge", NULL);
    server_init(&s2, "edge", NULL);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_load(&s1.ring, tpath("ticket.key"), 0, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_load(&s2.ring, tpath("ticket.key"), 0, err, sizeof(err)), 0);
    connect_once(&a, &s1, ECDSA_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    connect_once(&b, &s2, ECDSA_LIST, a.sess, 0);
    CU_ASSERT(b.ok && b.reused && b.keys.resumed);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    server_free(&s1);
    server_free(&s2);
}

/* A first connection's session, for the loss tests. */
static SSL_SESSION *first_session(struct server *s)
{
    struct conn a;
    connect_once(&a, s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    return a.sess;
}

/* A connection offering sess (opts: SSL_OP_* to set) taken up to the
 * server's abbreviated flight: ClientHello -> HelloVerifyRequest, the
 * ClientHello with the cookie -> ServerHello .. Finished, of which the
 * next drop datagrams are lost. */
static void resume_to_server_flight(struct conn *c, struct server *s, SSL_SESSION *sess,
                                    uint64_t opts, unsigned drop)
{
    conn_start(c, s, PSK_LIST, sess, opts);
    (void)SSL_do_handshake(c->p.ssl);
    pump(&c->p);
    (void)SSL_do_handshake(c->p.ssl);
    c->p.drop_server = drop;
    pump(&c->p);
    c->p.drop_server = 0;
}

/* The client moves on its timer (tl_pair_fast_timer_cb: 20 ms, doubling). */
static void client_timer(struct tl_pair *p)
{
    usleep(25000);
    CU_ASSERT(DTLSv1_handle_timeout(p->ssl) >= 0);
}

/* The server's abbreviated flight (ServerHello .. Finished) lost: resent
 * on the server's timer, and when the client repeats its ClientHello. */
static void test_loss_server_flight(void)
{
    struct server s;
    struct conn b;
    struct hs_out out;
    server_init(&s, "l1", NULL);
    SSL_SESSION *sess = first_session(&s);

    /* by the server's timer */
    resume_to_server_flight(&b, &s, sess, 0, 100); /* the resumed flight lost */
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.p.hs);
    CU_ASSERT_EQUAL(hs_get_stats(b.p.hs)->resumed, 1);
    CU_ASSERT_STRING_EQUAL(hs_state_name(b.p.hs), "ChangeCipherSpec (resumed)");
    b.p.now_ms += 1000;
    CU_ASSERT_EQUAL(hs_timeout(b.p.hs, b.p.now_ms, &out), 0);
    CU_ASSERT(out.n_dgrams >= 1);
    tl_pair_take_out(&b.p, &out);
    b.ok = run(&b.p, 20) == 1;
    CU_ASSERT(b.ok);
    CU_ASSERT_EQUAL(hs_get_stats(b.p.hs)->retransmits, 1);
    conn_finish(&b);
    CU_ASSERT(b.reused && b.keys.resumed);
    SSL_SESSION_free(b.sess);

    /* by the client repeating its ClientHello */
    resume_to_server_flight(&b, &s, sess, 0, 100);
    client_timer(&b.p);
    pump(&b.p);
    CU_ASSERT_EQUAL(hs_get_stats(b.p.hs)->retransmits, 1);
    b.ok = run(&b.p, 20) == 1;
    CU_ASSERT(b.ok);
    conn_finish(&b);
    CU_ASSERT(b.reused && b.keys.resumed);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(sess);
    server_free(&s);
}

/* The client's final flight (CCS + Finished) lost: the server's timer
 * resends its flight, the client answers with its final flight again;
 * then that flight repeated after ESTABLISHED gets no answer (RFC 6347
 * §4.2.4: in a resumed handshake the client holds the last flight). */
static void test_loss_client_flight(void)
{
    struct server s;
    struct conn b;
    struct hs_out out;
    server_init(&s, "l1", NULL);
    SSL_SESSION *sess = first_session(&s);

    resume_to_server_flight(&b, &s, sess, 0, 0);   /* the resumed flight reaches the client */
    CU_ASSERT_EQUAL(SSL_do_handshake(b.p.ssl), 1); /* the client is done */
    CU_ASSERT(b.p.to_srv.n >= 1);
    tl_dq_clear(&b.p.to_srv); /* its CCS + Finished lost */
    CU_ASSERT(!b.p.established);
    b.p.now_ms += 1000;
    CU_ASSERT_EQUAL(hs_timeout(b.p.hs, b.p.now_ms, &out), 0);
    CU_ASSERT(out.n_dgrams >= 1);
    tl_pair_take_out(&b.p, &out);
    /* the client sees our Finished again and repeats its flight */
    char buf[16];
    CU_ASSERT(SSL_read(b.p.ssl, buf, sizeof(buf)) <= 0);
    CU_ASSERT(b.p.to_srv.n >= 1);
    /* keep a copy of the repeated flight for after ESTABLISHED */
    uint8_t *rep[8];
    size_t rep_len[8];
    unsigned n_rep = 0;
    size_t len;
    uint8_t *d;
    while ((d = tl_dq_take(&b.p.to_srv, &len))) {
        server_rx(&b.p, d, len);
        if (n_rep < 8) {
            rep[n_rep] = d;
            rep_len[n_rep++] = len;
        } else {
            free(d);
        }
    }
    CU_ASSERT_FATAL(b.p.established);
    unsigned sent = b.p.n_server_dgrams;
    for (unsigned i = 0; i < n_rep; i++) {
        server_rx(&b.p, rep[i], rep_len[i]);
        free(rep[i]);
    }
    CU_ASSERT_EQUAL(b.p.n_server_dgrams, sent); /* nothing answered */
    CU_ASSERT(hs_established(b.p.hs));
    CU_ASSERT_EQUAL(hs_timeout(b.p.hs, b.p.now_ms + 100000, &out), 0);
    CU_ASSERT_EQUAL(out.n_dgrams, 0);
    b.ok = true;
    conn_finish(&b);
    CU_ASSERT(b.reused && b.keys.resumed);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(sess);
    server_free(&s);
}

/* Random bytes as a ticket, and a ticket cut or altered: full handshakes. */
static void test_garbage_ticket(void)
{
    struct server s;
    struct conn a, b;
    server_init(&s, "l1", NULL);
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    const unsigned char *t = NULL;
    size_t tl = 0;
    SSL_SESSION_get0_ticket(a.sess, &t, &tl);
    CU_ASSERT_FATAL(tl > 10);
    unsigned char *bad = malloc(tl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    memcpy(bad, t, tl);
    bad[tl / 2] ^= 1;
    SSL_SESSION *s2 = SSL_SESSION_dup(a.sess);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    /* SSL_SESSION has no public ticket setter: swap the bytes in place */
    const unsigned char *t2 = NULL;
    size_t tl2 = 0;
    SSL_SESSION_get0_ticket(s2, &t2, &tl2);
    CU_ASSERT_FATAL(tl2 == tl);
    memcpy((unsigned char *)t2, bad, tl);
    free(bad);
    connect_once(&b, &s, PSK_LIST, s2, 0);
    check_fallback(&b, HS_RESUME_FB_UNSEALED);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    server_free(&s);
}

static void test_fallback_names(void)
{
    CU_ASSERT_STRING_EQUAL(hs_resume_fallback_name(HS_RESUME_FB_EXPIRED), "EXPIRED");
    CU_ASSERT_STRING_EQUAL(hs_resume_fallback_name(HS_RESUME_FB_PSK), "PSK");
    CU_ASSERT_STRING_EQUAL(hs_resume_fallback_str(HS_RESUME_FB_N), "?");
    CU_ASSERT_STRING_EQUAL(hs_resume_fallback_str(HS_RESUME_FB_UNSEALED),
                           hs_ticket_strerror(HS_TICKET_ERR_UNSEALED));
    struct hs_ctx *ctx;
    struct hs_params p;
    struct hs_creds *c = hs_creds_new();
    hs_params_default(&p);
    CU_ASSERT_EQUAL(hs_creds_add_psk(c, "x", psk_key, sizeof(psk_key)), 0);
    ctx = hs_ctx_new(&p, c);
    struct hs_ticket_params tp = {.listener = "l", .lifetime_s = 1, .wall_clock_s = test_clock};
    CU_ASSERT_EQUAL(hs_ctx_set_tickets(ctx, &tp), CR_ERR_INVAL); /* no ring */
    CU_ASSERT_EQUAL(hs_ctx_set_tickets(ctx, NULL), 0);
    hs_ctx_free(ctx);
    hs_creds_free(c);
}

/* ---- the session-ID cache (RFC 5246 §7.4.1.2) ------------------------------ */

static void server_cache(struct server *s, uint32_t entries, uint32_t lifetime_s)
{
    const struct hs_session_cache_params sp = {
        .max_entries = entries, .lifetime_s = lifetime_s, .id_tag = -1};
    CU_ASSERT_EQUAL_FATAL(hs_ctx_set_session_cache(s->ctx, &sp), 0);
}

static unsigned sess_id_len(SSL_SESSION *sess)
{
    unsigned n = 0;
    (void)SSL_SESSION_get_id(sess, &n);
    return n;
}

/* A full handshake gives a 32-byte session_id and caches the session; a
 * client that offers it (no ticket) resumes with fresh keys, again and
 * again. tickets: the listener also issues tickets (the client asks for
 * none: SSL_OP_NO_TICKET). */
static void sessid_resume(const char *list, enum hs_kex kex, bool tickets)
{
    struct server s;
    struct conn a, b, c;
    server_init(&s, tickets ? "l1" : NULL, NULL);
    server_cache(&s, 16, 3600);
    connect_once(&a, &s, list, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok);
    CU_ASSERT(!a.reused && !a.keys.resumed && a.keys.ems && a.keys.kex == kex);
    CU_ASSERT_EQUAL(a.stats.sessid_stored, 1);
    CU_ASSERT_EQUAL(a.stats.tickets_issued, 0);
    CU_ASSERT(!has_ticket(a.sess));
    CU_ASSERT_EQUAL(sess_id_len(a.sess), 32);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 1);

    connect_once(&b, &s, list, a.sess, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(b.ok);
    CU_ASSERT(b.reused && b.keys.resumed);
    CU_ASSERT_EQUAL(b.stats.sessid_hit, 1);
    CU_ASSERT_EQUAL(b.stats.resumed, 1);
    CU_ASSERT_EQUAL(b.stats.sessid_stored, 0);
    CU_ASSERT_EQUAL(b.keys.suite, a.keys.suite);
    CU_ASSERT_STRING_EQUAL(b.keys.peer_identity, a.keys.peer_identity);
    CU_ASSERT(memcmp(a.keys.client_write_key, b.keys.client_write_key, a.keys.key_len) != 0);
    CU_ASSERT(memcmp(a.keys.server_write_key, b.keys.server_write_key, a.keys.key_len) != 0);
    connect_once(&c, &s, list, b.sess, SSL_OP_NO_TICKET);
    CU_ASSERT(c.ok && c.reused && c.keys.resumed);
    CU_ASSERT_EQUAL(c.stats.sessid_hit, 1);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 1);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s);
}

static void test_sessid_psk(void)
{
    sessid_resume(PSK_LIST, HS_KEX_PSK, false);
    sessid_resume(PSK_LIST, HS_KEX_PSK, true);
}

static void test_sessid_ecdsa(void)
{
    sessid_resume(ECDSA_LIST, HS_KEX_ECDHE_ECDSA, false);
}

/* A client that takes tickets gets one and an empty session_id (nothing
 * cached: RFC 5077 clients resume by ticket); the cache off gives none. */
static void test_sessid_not_with_tickets(void)
{
    struct server s;
    struct conn a, b;
    server_init(&s, "l1", NULL);
    server_cache(&s, 16, 3600);
    connect_once(&a, &s, PSK_LIST, NULL, 0);
    CU_ASSERT_FATAL(a.ok && has_ticket(a.sess));
    CU_ASSERT_EQUAL(a.stats.sessid_stored, 0);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 0);
    server_free(&s);
    SSL_SESSION_free(a.sess);
    server_init(&s, NULL, NULL);
    connect_once(&b, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(b.ok);
    CU_ASSERT_EQUAL(sess_id_len(b.sess), 0);
    CU_ASSERT_EQUAL(b.stats.sessid_stored, 0);
    SSL_SESSION_free(b.sess);
    server_free(&s);
}

/* An id this context never gave (another listener's, or another
 * instance's): a miss, a full handshake that caches a new id. */
static void test_sessid_unknown_or_other_listener(void)
{
    struct server s1, s2;
    struct conn a, b, c;
    server_init(&s1, NULL, NULL);
    server_init(&s2, NULL, NULL);
    server_cache(&s1, 16, 3600);
    server_cache(&s2, 16, 3600);
    connect_once(&a, &s1, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok && sess_id_len(a.sess) == 32);
    connect_once(&b, &s2, PSK_LIST, a.sess, SSL_OP_NO_TICKET);
    CU_ASSERT(b.ok && !b.reused && !b.keys.resumed);
    CU_ASSERT_EQUAL(b.stats.sessid_miss, 1);
    CU_ASSERT_EQUAL(b.stats.sessid_hit, 0);
    CU_ASSERT_EQUAL(b.stats.sessid_stored, 1);
    CU_ASSERT_EQUAL(sess_id_len(b.sess), 32);
    /* the new id resumes where it was given */
    connect_once(&c, &s2, PSK_LIST, b.sess, SSL_OP_NO_TICKET);
    CU_ASSERT(c.ok && c.reused && c.stats.sessid_hit == 1);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s1);
    server_free(&s2);
}

/* A tagged context (a gateway shard): an id with another tag counts as
 * another context's, not as a miss. */
static void test_sessid_other_tag(void)
{
    struct server s1, s2;
    struct conn a, b;
    const struct hs_session_cache_params p1 = {.max_entries = 4, .lifetime_s = 60, .id_tag = 1};
    const struct hs_session_cache_params p2 = {.max_entries = 4, .lifetime_s = 60, .id_tag = 2};
    const struct hs_session_cache_params bad = {.max_entries = 4, .lifetime_s = 60, .id_tag = 256};
    server_init(&s1, NULL, NULL);
    server_init(&s2, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(hs_ctx_set_session_cache(s1.ctx, &p1), 0);
    CU_ASSERT_EQUAL_FATAL(hs_ctx_set_session_cache(s2.ctx, &p2), 0);
    CU_ASSERT_EQUAL(hs_ctx_set_session_cache(s2.ctx, &bad), CR_ERR_INVAL);
    connect_once(&a, &s1, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok && sess_id_len(a.sess) == 32);
    const unsigned char *id = SSL_SESSION_get_id(a.sess, NULL);
    CU_ASSERT_EQUAL(id[0], 1);
    connect_once(&b, &s2, PSK_LIST, a.sess, SSL_OP_NO_TICKET);
    CU_ASSERT(b.ok && !b.reused);
    CU_ASSERT_EQUAL(b.stats.sessid_other, 1);
    CU_ASSERT_EQUAL(b.stats.sessid_miss, 0);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    server_free(&s1);
    server_free(&s2);
}

/* At the bound the least recently used session goes (its secret wiped):
 * it gets a full handshake, the others still resume. */
static void test_sessid_eviction(void)
{
    struct server s;
    struct conn a[3], b;
    server_init(&s, NULL, NULL);
    server_cache(&s, 2, 3600);
    for (unsigned i = 0; i < 3; i++) {
        connect_once(&a[i], &s, PSK_LIST, NULL, SSL_OP_NO_TICKET);
        CU_ASSERT_FATAL(a[i].ok);
        CU_ASSERT_EQUAL(a[i].stats.sessid_evicted, i == 2 ? 1 : 0);
    }
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 2);
    connect_once(&b, &s, PSK_LIST, a[0].sess, SSL_OP_NO_TICKET);
    CU_ASSERT(b.ok && !b.reused && b.stats.sessid_miss == 1);
    SSL_SESSION_free(b.sess);
    /* that full handshake pushed out a[1]; a[2] still resumes */
    connect_once(&b, &s, PSK_LIST, a[2].sess, SSL_OP_NO_TICKET);
    CU_ASSERT(b.ok && b.reused && b.stats.sessid_hit == 1);
    SSL_SESSION_free(b.sess);
    connect_once(&b, &s, PSK_LIST, a[1].sess, SSL_OP_NO_TICKET);
    CU_ASSERT(b.ok && !b.reused && b.stats.sessid_miss == 1);
    SSL_SESSION_free(b.sess);
    for (unsigned i = 0; i < 3; i++)
        SSL_SESSION_free(a[i].sess);
    server_free(&s);
}

/* Past its life a session does not resume (dropped at the lookup), and
 * the sweep drops the rest. */
static void test_sessid_expiry(void)
{
    struct server s;
    struct conn a, a2, b;
    server_init(&s, NULL, NULL);
    server_cache(&s, 16, 10);
    connect_once(&a, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET); /* at TL_PAIR_START_MS */
    connect_once(&a2, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok && a2.ok);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 2);
    /* just before: resumes */
    conn_start(&b, &s, PSK_LIST, a.sess, SSL_OP_NO_TICKET);
    b.p.now_ms += 9000;
    b.ok = run(&b.p, 20) == 1;
    conn_finish(&b);
    CU_ASSERT(b.ok && b.reused);
    SSL_SESSION_free(b.sess);
    /* at the end of its life: full */
    conn_start(&b, &s, PSK_LIST, a.sess, SSL_OP_NO_TICKET);
    b.p.now_ms += 10000;
    b.ok = run(&b.p, 20) == 1;
    conn_finish(&b);
    CU_ASSERT(b.ok && !b.reused);
    CU_ASSERT_EQUAL(b.stats.sessid_expired, 1);
    CU_ASSERT_EQUAL(b.stats.sessid_stored, 1);
    SSL_SESSION_free(b.sess);
    /* a2 and b's new session: b's is younger */
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 2);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_expire(s.ctx, TL_PAIR_START_MS + 10000), 1);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 1);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(a2.sess);
    server_free(&s);
}

/* RFC 7627 §5.3: a session without EMS is never cached (no session_id);
 * and a cached EMS session offered without EMS aborts. */
static void test_sessid_no_ems(void)
{
    struct server s;
    struct conn a;
    server_init(&s, NULL, NULL);
    server_cache(&s, 16, 3600);
    connect_once(&a, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET | SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CU_ASSERT_FATAL(a.ok);
    CU_ASSERT(!a.keys.ems);
    CU_ASSERT_EQUAL(sess_id_len(a.sess), 0);
    CU_ASSERT_EQUAL(a.stats.sessid_stored, 0);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 0);
    SSL_SESSION_free(a.sess);
    connect_once(&a, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok && sess_id_len(a.sess) == 32);
    check_resume_no_ems_aborts(&s, a.sess, SSL_OP_NO_TICKET);
    SSL_SESSION_free(a.sess);
    server_free(&s);
}

/* A cached session whose PSK identity got a new key: refused, full. */
static void test_sessid_refused(void)
{
    struct server s;
    struct conn a, b;
    server_init(&s, NULL, NULL);
    server_cache(&s, 16, 3600);
    connect_once(&a, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok && sess_id_len(a.sess) == 32);
    rekey_client1(&s, "psk-sessid.txt");
    g_cli_psk = psk_key2;
    connect_once(&b, &s, PSK_LIST, a.sess, SSL_OP_NO_TICKET);
    g_cli_psk = psk_key;
    CU_ASSERT(b.ok && !b.reused);
    CU_ASSERT_EQUAL(b.stats.sessid_refused, 1);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(b.sess);
    server_free(&s);
}

/* RFC 5246 §7.2.2: a resumed handshake that fails (here the client's
 * fatal alert after our abbreviated flight) forgets its cached session. */
static void test_sessid_forgotten_on_failure(void)
{
    struct server s;
    struct conn a, b, c;
    struct hs_out out;
    server_init(&s, NULL, NULL);
    server_cache(&s, 16, 3600);
    connect_once(&a, &s, PSK_LIST, NULL, SSL_OP_NO_TICKET);
    CU_ASSERT_FATAL(a.ok && sess_id_len(a.sess) == 32);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 1);
    resume_to_server_flight(&b, &s, a.sess, SSL_OP_NO_TICKET, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.p.hs);
    CU_ASSERT_EQUAL(hs_get_stats(b.p.hs)->sessid_hit, 1);
    /* a fatal handshake_failure alert, epoch 0 (before the client's CCS) */
    static const uint8_t alert[] = {DP_CT_ALERT,
                                    0xfe,
                                    0xfd,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,
                                    9,
                                    0,
                                    2,
                                    DP_ALERT_LEVEL_FATAL,
                                    DP_ALERT_HANDSHAKE_FAILURE};
    CU_ASSERT_EQUAL(tl_pair_deliver(&b.p, alert, sizeof(alert), &out, NULL), TL_PAIR_RX_INPUT);
    CU_ASSERT(b.p.failed);
    CU_ASSERT_EQUAL(hs_ctx_session_cache_count(s.ctx), 0);
    tl_pair_free(&b.p);
    connect_once(&c, &s, PSK_LIST, a.sess, SSL_OP_NO_TICKET);
    CU_ASSERT(c.ok && !c.reused);
    CU_ASSERT_EQUAL(c.stats.sessid_miss, 1);
    SSL_SESSION_free(a.sess);
    SSL_SESSION_free(c.sess);
    server_free(&s);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("resume", suite_init, suite_clean);
    CU_add_test(s, "resume PSK", test_resume_psk);
    CU_add_test(s, "resume ECDHE-ECDSA", test_resume_ecdsa);
    CU_add_test(s, "tickets off, no ticket without EMS", test_tickets_off);
    CU_add_test(s, "ticket of another listener or key: full", test_other_listener_or_key);
    CU_add_test(s, "ticket expired: full", test_expired);
    CU_add_test(s, "resumption without EMS aborted", test_resume_without_ems);
    CU_add_test(s, "PSK identity re-keyed: full", test_psk_rekeyed);
    CU_add_test(s, "ticket suite off on the listener: full", test_suite_off);
    CU_add_test(s, "ticket renewed after key rotation", test_renew_after_rotation);
    CU_add_test(s, "two contexts sharing a key file", test_shared_key_file);
    CU_add_test(s, "resume with the server flight lost", test_loss_server_flight);
    CU_add_test(s, "resume with the client flight lost, repeated", test_loss_client_flight);
    CU_add_test(s, "altered ticket: full", test_garbage_ticket);
    CU_add_test(s, "fallback names, ticket params", test_fallback_names);
    CU_add_test(s, "session id: resume PSK", test_sessid_psk);
    CU_add_test(s, "session id: resume ECDHE-ECDSA", test_sessid_ecdsa);
    CU_add_test(s, "session id: none when a ticket is issued or the cache is off",
                test_sessid_not_with_tickets);
    CU_add_test(s, "session id: unknown, other listener: full",
                test_sessid_unknown_or_other_listener);
    CU_add_test(s, "session id: another context's tag", test_sessid_other_tag);
    CU_add_test(s, "session id: eviction at the bound", test_sessid_eviction);
    CU_add_test(s, "session id: expiry", test_sessid_expiry);
    CU_add_test(s, "session id: no EMS, not cached; resumed without EMS aborted",
                test_sessid_no_ems);
    CU_add_test(s, "session id: PSK re-keyed: refused", test_sessid_refused);
    CU_add_test(s, "session id: forgotten when its resumed handshake fails",
                test_sessid_forgotten_on_failure);
}
