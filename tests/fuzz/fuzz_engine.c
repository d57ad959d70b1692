/* fuzz_engine.c — libFuzzer target for the DTLS 1.2 handshake engine
 * (control/hs.h): hs_cookie_check, hs_new, hs_input, hs_timeout and, once
 * a handshake is up, hs_seal_app and hs_close.
 *
 * Input format (also what `hs-driver --capture DIR` writes, so the seed
 * corpus in corpus/engine/ is real handshakes from the interop runs): a
 * sequence of entries, each a 2-byte big-endian length and that many bytes
 * of one UDP datagram from the client; a length of 0 means "the
 * retransmission timer fired" (hs_timeout at the engine's deadline).
 * A truncated last entry is fed as far as it goes.
 *
 * Credentials are made once in LLVMFuzzerInitialize: an ECDSA P-256 and an
 * RSA-2048 self-signed certificate (tests/lib/tl_cert.h, into a temp dir that is
 * removed again; the ECDSA one is also the client-auth CA) and the PSK
 * identities the interop tests use, so captured ClientHellos select the
 * same suites.  Each input drives two handshakes: one without and one with
 * an (optional) client certificate request.  Cookies are off for both (the
 * fuzzer cannot compute cookies); every datagram is also run through
 * hs_cookie_check of a third, cookie-on context.  A third handshake runs
 * on a context with RFC 5077 session tickets on (one key from the
 * deterministic stream), so the SessionTicket extension, random tickets
 * (they fall back to a full handshake) and NewSessionTicket are reached;
 * the seeds' Finished does not verify there (their server sent no ticket).
 *
 * Randomness: libcrypto's RAND method is replaced by the counter stream of
 * tests/interop/det_rand.h, rewound before every hs_new, and the
 * certificates are generated from it with fixed dates, so they are the same
 * bytes in every run.  The engine's server random, ECDHE keys and signature
 * nonces are therefore a function of the input alone: crashes replay
 * exactly, and the seeds recorded by tests/interop/record_engine_corpus.sh
 * (real clients against `hs-driver --deterministic-rand` loaded with these
 * very credentials, written out when FUZZ_ENGINE_CREDS_DIR is set) replay
 * past the Finished check into application data and close_notify.
 */
#include "../interop/det_rand.h" /* first: sets how OpenSSL declares RAND */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hs.h"
#include "tl_cert.h"

#define FUZZ_MAX_DGRAMS     64 /* entries fed per input */
#define FUZZ_STEP_MS        10 /* clock advance per datagram */
#define FUZZ_START_MS       1000000
#define FUZZ_SEAL_BUF_BYTES 256

static struct hs_creds *g_creds;
static struct hs_ctx *g_ctx;        /* cookies off: drives handshakes */
static struct hs_ctx *g_cauth_ctx;  /* same, client certificate optional */
static struct hs_ctx *g_cookie_ctx; /* cookies on: hs_cookie_check only */
static struct hs_ctx *g_ticket_ctx; /* cookies off, session tickets on */
static struct cr_seal_ring g_ring;
static uint64_t g_wall_s = 1700000000;

static uint64_t fuzz_wall_clock(void *arg)
{
    (void)arg;
    return g_wall_s;
}

static bool g_verbose; /* FUZZ_ENGINE_VERBOSE: print events */

static const uint8_t k_psk1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const char k_psk2[] = "secretPSK-coap01";

static int write_self_signed(const char *dir, const char *name, EVP_PKEY *pk)
{
    char crt[512], key[512];
    /* fixed dates: the same certificate bytes in every run */
    const struct tl_cert_opts o = {.cn = "localhost",
                                   .serial = 1,
                                   .not_before = "20260101000000Z",
                                   .not_after = "20451231235959Z"};
    X509 *x = pk != NULL ? tl_cert_new(pk, &o, NULL, NULL) : NULL;
    snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    int rc =
        x != NULL && tl_pem_write_certs(crt, &x, 1) == 0 && tl_pem_write_key(key, pk) == 0 ? 0 : -1;
    X509_free(x);
    return rc;
}

static int load_pair(const char *dir, const char *name, bool keep)
{
    char crt[512], key[512];
    snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    int rc = hs_creds_load_cert(g_creds, crt, key);
    /* the ECDSA certificate doubles as the client-auth CA */
    if (rc >= 0 && strcmp(name, "ec") == 0)
        rc = hs_creds_load_ca(g_creds, crt);
    if (!keep) {
        unlink(crt);
        unlink(key);
    }
    return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (det_rand_install() != 0)
        abort();
    g_verbose = getenv("FUZZ_ENGINE_VERBOSE") != NULL;
    /* FUZZ_ENGINE_CREDS_DIR: keep the credentials there (for recording the
     * seed corpus with hs-driver --deterministic-rand). */
    const char *keep_dir = getenv("FUZZ_ENGINE_CREDS_DIR");
    char tmp_dir[] = "/tmp/fuzz-engine-XXXXXX";
    const char *dir = keep_dir;
    if (dir == NULL && (dir = mkdtemp(tmp_dir)) == NULL)
        abort();
    g_creds = hs_creds_new();
    if (g_creds == NULL)
        abort();
    EVP_PKEY *ec = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *rsa = tl_key_new(TL_KEY_RSA_2048);
    if (write_self_signed(dir, "ec", ec) != 0 || write_self_signed(dir, "rsa", rsa) != 0 ||
        load_pair(dir, "ec", keep_dir != NULL) < 0 || load_pair(dir, "rsa", keep_dir != NULL) < 0) {
        fprintf(stderr, "fuzz-engine: certificate setup failed\n");
        abort();
    }
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    if (keep_dir == NULL)
        rmdir(dir);
    if (hs_creds_add_psk(g_creds, "Client_identity", k_psk1, sizeof(k_psk1)) < 0 ||
        hs_creds_add_psk(g_creds, "coap-client", (const uint8_t *)k_psk2, sizeof(k_psk2) - 1) < 0)
        abort();
    struct hs_params p;
    hs_params_default(&p);
    p.cookie_required = false;
    g_ctx = hs_ctx_new(&p, g_creds);
    p.client_auth = HS_CLIENT_AUTH_OPTIONAL;
    g_cauth_ctx = hs_ctx_new(&p, g_creds);
    hs_params_default(&p);
    g_cookie_ctx = hs_ctx_new(&p, g_creds);
    p.cookie_required = false;
    g_ticket_ctx = hs_ctx_new(&p, g_creds);
    if (g_ctx == NULL || g_cauth_ctx == NULL || g_cookie_ctx == NULL || g_ticket_ctx == NULL)
        abort();
    const struct hs_ticket_params tp = {.ring = &g_ring,
                                        .listener = "fuzz",
                                        .lifetime_s = HS_TICKET_LIFETIME_DEFAULT_S,
                                        .wall_clock_s = fuzz_wall_clock};
    if (cr_seal_ring_init(&g_ring) != 0 || cr_seal_ring_rotate(&g_ring, 0) != 0 ||
        hs_ctx_set_tickets(g_ticket_ctx, &tp) != 0)
        abort();
    return 0;
}

/* One handshake of ctx over the whole input. */
static void run_one(struct hs_ctx *ctx, const uint8_t *data, size_t size)
{
    static struct hs_out out;
    static uint8_t hvr[2048];
    const struct hs_peer peer = {.addr = {127, 0, 0, 1}, .port = 40000, .family = 4};
    uint64_t now = FUZZ_START_MS;
    det_rand_reset();
    struct hs *hs = hs_new(ctx, &peer, now);
    if (hs == NULL)
        return;
    bool dead = false;
    uint64_t timer_ms = 0; /* the engine's last deadline, 0: none */
    for (unsigned i = 0; i < FUZZ_MAX_DGRAMS && size >= 2 && !dead; i++) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        memset(&out, 0, sizeof(out));
        int rc;
        if (len == 0) {
            now = timer_ms > now ? timer_ms : now + 1000;
            rc = hs_timeout(hs, now, &out);
        } else {
            size_t hvr_len = 0;
            int v = hs_cookie_check(g_cookie_ctx, &peer, data, len, hvr, sizeof(hvr), &hvr_len);
            /* The HVR is never larger than the datagram that asked for it. */
            if (v == HS_COOKIE_SEND_HVR && hvr_len > len)
                abort();
            now += FUZZ_STEP_MS;
            rc = hs_input(hs, data, len, now, &out);
        }
        timer_ms = out.next_timer_ms;
        if (g_verbose)
            fprintf(stderr,
                    "fuzz-engine: %s dgram %u len %zu: rc %d event %d alert %d out %u app %u\n",
                    ctx == g_ctx         ? "plain"
                    : ctx == g_cauth_ctx ? "cauth"
                                         : "tickets",
                    i, len, rc, (int)out.event, out.alert, out.n_dgrams, out.n_app);
        if (out.n_dgrams > HS_OUT_MAX_DGRAMS || out.n_app > HS_OUT_MAX_DGRAMS)
            abort();
        /* Touch every output byte so ASan sees stale pointers. */
        unsigned sum = 0;
        for (unsigned j = 0; j < out.n_dgrams; j++)
            for (size_t k = 0; k < out.dgrams[j].len; k++)
                sum += out.dgrams[j].data[k];
        for (unsigned j = 0; j < out.n_app; j++)
            for (size_t k = 0; k < out.app[j].len; k++)
                sum += out.app[j].data[k];
        (void)sum;
        if (rc < 0 || out.event == HS_EV_FAILED || out.event == HS_EV_CLOSED ||
            out.event == HS_EV_TIMEOUT)
            dead = true;
        data += len;
        size -= len;
    }
    if (!dead && hs_established(hs)) {
        static uint8_t rec[FUZZ_SEAL_BUF_BYTES];
        size_t rec_len = 0;
        if (hs_keys(hs) == NULL)
            abort();
        if (hs_seal_app(hs, (const uint8_t *)"ping", 4, rec, sizeof(rec), &rec_len) == 0 &&
            rec_len > sizeof(rec))
            abort();
        memset(&out, 0, sizeof(out));
        if (hs_close(hs, &out) < 0)
            dead = true;
    }
    hs_free(hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_one(g_ctx, data, size);
    /* Again with a CertificateRequest in the server's flight, so client
     * Certificate / CertificateVerify parsing is reached too. */
    run_one(g_cauth_ctx, data, size);
    run_one(g_ticket_ctx, data, size);
    return 0;
}
