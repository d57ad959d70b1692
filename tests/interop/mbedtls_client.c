/* mbedtls_client.c — mbedtls-dtls-client: a DTLS 1.2 client on Mbed TLS
 * (Debian's libmbedtls, the TLS stack of most constrained devices), so the
 * interop tests have a third independent implementation besides OpenSSL
 * and GnuTLS.  It does one handshake, sends one message, expects it echoed
 * byte-exact, sends close_notify and exits 0; anything else exits 1 with
 * Mbed TLS's error text.  With --resume ticket|id it then connects again
 * (a new socket, so a new source port) offering the first connection's
 * session (mbedtls_ssl_set_session), by RFC 5077 ticket or by session_id
 * only (tickets off), and does the same exchange.  Output lines for the
 * test:
 *   HANDSHAKE-OK suite=<Mbed TLS suite name>
 *   ECHO-OK <n> bytes
 *   RESUMED=<0|1>   (--resume: whether the second connection kept the
 *                    first one's master secret, i.e. was abbreviated)
 *
 * Owns: nothing beyond its own process.  Must not: be used as a peer where
 * it would replace a packaged client (it is a thin driver of the library,
 * not an implementation of DTLS).  Test tool, not the product.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/timing.h>
#include <mbedtls/x509_crt.h>

#define MC_PSK_MAX_LEN     64
#define MC_MSG_MAX_LEN     4096
#define MC_HS_MIN_MS       1000 /* RFC 6347 §4.2.4.1 initial timer */
#define MC_HS_MAX_MS       60000
#define MC_READ_TIMEOUT_MS 3000
#define MC_READ_ATTEMPTS   10

static int hex_decode(const char *hex, unsigned char *out, size_t cap, size_t *out_len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    *out_len = n / 2;
    return 0;
}

static int fail(const char *what, int ret)
{
    char buf[160];
    mbedtls_strerror(ret, buf, sizeof(buf));
    printf("ERROR %s: -0x%04x %s\n", what, (unsigned)-ret, buf);
    fflush(stdout);
    return 1;
}

/* Connects (net fresh), handshakes, sends message, expects it echoed,
 * sends close_notify: 0, or 1 with an ERROR line. */
static int one_connection(mbedtls_ssl_context *ssl, mbedtls_net_context *net,
                          mbedtls_timing_delay_context *timer, const char *host, const char *port,
                          const char *message, int resend)
{
    int ret;
    if ((ret = mbedtls_net_connect(net, host, port, MBEDTLS_NET_PROTO_UDP)) != 0) {
        return fail("connect", ret);
    }
    mbedtls_ssl_set_bio(ssl, net, mbedtls_net_send, mbedtls_net_recv, mbedtls_net_recv_timeout);
    mbedtls_ssl_set_timer_cb(ssl, timer, mbedtls_timing_set_delay, mbedtls_timing_get_delay);

    do
        ret = mbedtls_ssl_handshake(ssl);
    while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (ret != 0) {
        return fail("handshake", ret);
    }
    printf("HANDSHAKE-OK suite=%s\n", mbedtls_ssl_get_ciphersuite(ssl));
    fflush(stdout);

    size_t msg_len = strlen(message);
    static unsigned char reply[MC_MSG_MAX_LEN + 1];
    int got = 0;
    for (int attempt = 0; attempt < MC_READ_ATTEMPTS && !got; attempt++) {
        if (attempt == 0 || resend) {
            do
                ret = mbedtls_ssl_write(ssl, (const unsigned char *)message, msg_len);
            while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
            if (ret < 0) {
                return fail("write", ret);
            }
        }
        do
            ret = mbedtls_ssl_read(ssl, reply, sizeof(reply) - 1);
        while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
        if (ret == MBEDTLS_ERR_SSL_TIMEOUT)
            continue;
        if (ret <= 0) {
            return fail("read", ret);
        }
        if ((size_t)ret != msg_len || memcmp(reply, message, msg_len) != 0) {
            reply[ret] = '\0';
            printf("ERROR echo mismatch: %d bytes \"%s\"\n", ret, (const char *)reply);
            return 1;
        }
        got = 1;
    }
    if (!got) {
        printf("ERROR no echo\n");
        return 1;
    }
    printf("ECHO-OK %zu bytes\n", msg_len);
    do
        ret = mbedtls_ssl_close_notify(ssl);
    while (ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
        {"suite", required_argument, NULL, 's'},  {"psk-identity", required_argument, NULL, 'i'},
        {"psk", required_argument, NULL, 'k'},    {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},   {"key", required_argument, NULL, 'K'},
        {"mtu", required_argument, NULL, 'm'},    {"message", required_argument, NULL, 'M'},
        {"resend", no_argument, NULL, 'r'},       {"servername", required_argument, NULL, 'n'},
        {"resume", required_argument, NULL, 'R'}, {NULL, 0, NULL, 0}};
    const char *servername = "localhost"; /* the name the certificate must carry */
    const char *host = "127.0.0.1", *port = NULL, *suite = NULL, *identity = NULL;
    const char *psk_hex = NULL, *ca = NULL, *cert = NULL, *key = NULL;
    const char *message = "mbedtls-interop-ping";
    const char *resume = NULL; /* "ticket" or "id" */
    int mtu = 0, o;
    int resend = 0; /* lossy path: send the message again when no echo came */
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            servername = optarg;
            break;
        case 'H':
            host = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case 's':
            suite = optarg;
            break;
        case 'i':
            identity = optarg;
            break;
        case 'k':
            psk_hex = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'K':
            key = optarg;
            break;
        case 'm':
            mtu = atoi(optarg);
            break;
        case 'M':
            message = optarg;
            break;
        case 'r':
            resend = 1;
            break;
        case 'R':
            resume = optarg;
            break;
        default:
            fprintf(stderr, "usage: mbedtls-dtls-client --port P --suite NAME [--psk-identity ID "
                            "--psk HEX] [--ca F] [--cert F --key F] [--mtu N] [--message M] "
                            "[--resend] [--servername NAME] [--resume ticket|id]\n");
            return 2;
        }
    }
    if (port == NULL || suite == NULL || strlen(message) > MC_MSG_MAX_LEN ||
        (resume != NULL && strcmp(resume, "ticket") != 0 && strcmp(resume, "id") != 0)) {
        fprintf(stderr, "mbedtls-dtls-client: --port and --suite are required, "
                        "--resume takes ticket or id\n");
        return 2;
    }
    int suites[2] = {mbedtls_ssl_get_ciphersuite_id(suite), 0};
    if (suites[0] == 0) {
        printf("ERROR suite %s not supported by this Mbed TLS build\n", suite);
        return 1;
    }

    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_timing_delay_context timer;
    mbedtls_x509_crt ca_crt, own_crt;
    mbedtls_pk_context own_key;
    mbedtls_ssl_session saved;
    unsigned char psk[MC_PSK_MAX_LEN];
    size_t psk_len = 0;
    int rc = 1, ret;

    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca_crt);
    mbedtls_x509_crt_init(&own_crt);
    mbedtls_pk_init(&own_key);
    mbedtls_ssl_session_init(&saved);

    if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0)) != 0) {
        rc = fail("drbg seed", ret);
        goto out;
    }
    if ((ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                           MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        rc = fail("config", ret);
        goto out;
    }
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    /* DTLS 1.2 only (wire version 3.3) */
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&conf, suites);
    mbedtls_ssl_conf_handshake_timeout(&conf, MC_HS_MIN_MS, MC_HS_MAX_MS);
    mbedtls_ssl_conf_read_timeout(&conf, MC_READ_TIMEOUT_MS);
    /* --resume id: the session_id alone (RFC 5246 §7.4.1.2); otherwise
     * the library's default, tickets on (RFC 5077) */
    mbedtls_ssl_conf_session_tickets(&conf, resume != NULL && strcmp(resume, "id") == 0
                                                ? MBEDTLS_SSL_SESSION_TICKETS_DISABLED
                                                : MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    if (psk_hex != NULL) {
        if (identity == NULL || hex_decode(psk_hex, psk, sizeof(psk), &psk_len) != 0) {
            printf("ERROR bad --psk / --psk-identity\n");
            goto out;
        }
        if ((ret = mbedtls_ssl_conf_psk(&conf, psk, psk_len, (const unsigned char *)identity,
                                        strlen(identity))) != 0) {
            rc = fail("psk", ret);
            goto out;
        }
    }
    if (ca != NULL) {
        if ((ret = mbedtls_x509_crt_parse_file(&ca_crt, ca)) != 0) {
            rc = fail("ca", ret);
            goto out;
        }
        mbedtls_ssl_conf_ca_chain(&conf, &ca_crt, NULL);
        mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (cert != NULL && key != NULL) {
        if ((ret = mbedtls_x509_crt_parse_file(&own_crt, cert)) != 0 ||
            (ret = mbedtls_pk_parse_keyfile(&own_key, key, NULL)) != 0 ||
            (ret = mbedtls_ssl_conf_own_cert(&conf, &own_crt, &own_key)) != 0) {
            rc = fail("client certificate", ret);
            goto out;
        }
    }
    if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
        (ret = mbedtls_ssl_set_hostname(&ssl, servername)) != 0) {
        rc = fail("setup", ret);
        goto out;
    }
    if (mtu > 0)
        mbedtls_ssl_set_mtu(&ssl, (uint16_t)mtu);
    if ((rc = one_connection(&ssl, &net, &timer, host, port, message, resend)) != 0)
        goto out;
    if (resume != NULL) {
        if ((ret = mbedtls_ssl_get_session(&ssl, &saved)) != 0) {
            rc = fail("get session", ret);
            goto out;
        }
        mbedtls_net_free(&net);
        mbedtls_net_init(&net);
        if ((ret = mbedtls_ssl_session_reset(&ssl)) != 0 ||
            (ret = mbedtls_ssl_set_session(&ssl, &saved)) != 0) {
            rc = fail("set session", ret);
            goto out;
        }
        if ((rc = one_connection(&ssl, &net, &timer, host, port, message, resend)) != 0)
            goto out;
        mbedtls_ssl_session again;
        mbedtls_ssl_session_init(&again);
        if ((ret = mbedtls_ssl_get_session(&ssl, &again)) != 0) {
            mbedtls_ssl_session_free(&again);
            rc = fail("get session", ret);
            goto out;
        }
        int resumed = memcmp(again.master, saved.master, sizeof(saved.master)) == 0;
        mbedtls_ssl_session_free(&again);
        printf("RESUMED=%d\n", resumed);
    }
    rc = 0;
out:
    fflush(stdout);
    mbedtls_ssl_session_free(&saved); /* zeroizes the master secret */
    mbedtls_net_free(&net);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_x509_crt_free(&ca_crt);
    mbedtls_x509_crt_free(&own_crt);
    mbedtls_pk_free(&own_key);
    mbedtls_platform_zeroize(psk, sizeof(psk));
    return rc;
}
