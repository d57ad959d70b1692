/* e2e_helper.c — e2e-helper: the small programs the end-to-end test runs
 * inside its network namespaces.  Not part of the product.
 *
 *   e2e-helper echo --bind IP:PORT [--log FILE]
 *       UDP echo backend; logs "IP:PORT LEN PAYLOAD" per datagram, so the
 *       test sees what the backend received (plaintext) and from which
 *       gateway-side port.
 *   e2e-helper clients --server IP:PORT --src IP[,IP...] [--n N]
 *       [--src-port P] [--psk-identity ID --psk-key HEX] [--cipher C]
 *       [--timeout-ms MS] [--wait-go] [--attack K] [--close] [--tag T]
 *       [--max-timer-ms MS] (retransmission backoff capped at MS)
 *       [--no-ems] (no extended_master_secret extension, RFC 7627)
 *       [--mtu N] (link MTU N: handshake messages fragmented to fit)
 *       N concurrent DTLS 1.2 PSK clients (libssl), spread over the source
 *       addresses; each handshakes, sends a unique payload and checks the
 *       byte-exact echo (resent every RESEND_MS until echoed).  Prints
 *       "READY established=E echoed=O failed=F".  With --wait-go it then
 *       waits for a line on stdin and runs round 2: with --attack K each
 *       client first sends K exact replays of its last record and K copies
 *       with a forged sequence number (bad tag), then a fresh payload that
 *       must still be echoed; prints "DONE echoed=O failed=F replays=R
 *       forged=G hellos=H".  --save-hello FILE keeps the first client's
 *       last ClientHello (the one with the cookie); --replay-hello FILE
 *       makes round 2 first send that datagram three times from the first
 *       client's socket, as an attacker who captured it would.  --stall K
 *       first leaves K handshakes from the first source address (ports of
 *       its own) silent after the cookie exchange ("STALLED k").  --close sends close_notify at the
 * end ("CLOSED n"); otherwise the sockets are simply closed (sessions stay live). e2e-helper
 * garbage --target IP:PORT --src IP [--n N] [--seed S] [--pps R] N malformed datagrams (random
 * bytes, truncated and bad-length record headers, fake epoch-1 records, junk handshakes); 10% go to
 * the next port (no listener) and 10% to random ports 20000-59999 (the NAT range); prints "SENT n".
 *   e2e-helper seqcheck --server IP:PORT [--src IP] [--psk-identity ID
 *       --psk-key HEX] [--cipher C]
 *       One DTLS 1.2 PSK client that records the (epoch, sequence) of every
 *       record the server sends it, as received off the socket: handshake,
 *       application data echoed both ways, a renegotiation attempt (which a
 *       gateway refuses with no_renegotiation), more application data and
 *       close_notify.  Prints "SEQ records=R epoch1=E dups=D echoed=O
 *       reneg=..." and "DUP epoch seq" per repeated pair.  With
 *       --alert-replay instead: one echo, then an encrypted warning alert
 *       sealed with the session's client write key (epoch 1, seq 1000),
 *       the same record again and one at seq 800, then more echoes; prints
 *       "ALERTS sent=3 echoed=N".
 *
 *   e2e-helper stream --server IP:PORT [--src IP] [--psk-identity ID
 *       --psk-key HEX] [--cipher C] [--interval-ms N] [--tag T]
 *       One long-lived DTLS 1.2 PSK session sending a numbered record
 *       every N ms and reading the echoes, across a gateway restart;
 *       stdin "mark" / "stop" (cmd_stream says what it prints).
 *
 *   e2e-helper send --target IP:PORT --src IP:PORT --file F
 *       Sends F's bytes as one datagram from that source; prints "SENT 1".
 *
 *   e2e-helper rawpsk --server IP:PORT --src IP --psk-identity ID
 *       --psk-key HEX [--cipher NAME] [--empty-ext] [--split N]
 *       [--n-records K]
 *       A DTLS 1.2 PSK client on libcrypto only whose ClientHello has no
 *       extensions (e2e_rawpsk.c); prints "RAWPSK established=... ".
 *
 * Owns: its sockets and SSL objects.  Must not: depend on the gateway's
 * code (it is a real, independent peer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "e2e_rawpsk.h"
#include "test_util.h"
#include "tl_addr.h"

#define H_MAX_CLIENTS        1024
#define H_MAX_SRCS           32
#define H_DGRAM_MAX_BYTES    2048
#define H_PAYLOAD_MAX_LEN    512
#define H_RESEND_MS          400
#define H_DEFAULT_TIMEOUT_MS 30000
#define H_FORGED_SEQ_JUMP    100000
#define H_ALERT_SEQ          1000 /* far above what libssl reaches */
#define H_ATTACK_PPS         5000 /* replays + forged copies per second */

/* Paces a sender at pps datagrams per second from t0: every 50th
 * datagram (sent counts them) waits until it is due. */
static void pace(uint64_t t0, unsigned sent, unsigned pps)
{
    if (pps == 0 || sent % 50 != 0)
        return;
    uint64_t due = t0 + (uint64_t)sent * 1000u / pps;
    while (tl_mono_ms() < due)
        tl_sleep_ms(1);
}

/* "IP:PORT" (tests/lib/tl_addr.h, IPv4; port 0 taken: bind addresses use
 * it for "any"); 0 or -1 with the reason on stderr. */
static int parse_ipport(const char *s, struct sockaddr_in *out)
{
    int rc = tl_addr_parse_in4(s, TL_ADDR_PORT_ZERO, out);
    if (rc != TL_ADDR_OK) {
        fprintf(stderr, "e2e-helper: '%s': %s\n", s, tl_addr_strerror(rc));
        return -1;
    }
    return 0;
}

/* ---- echo -------------------------------------------------------------- */

static volatile sig_atomic_t g_stop;
static void on_term(int s)
{
    (void)s;
    g_stop = 1;
}

static int cmd_echo(const char *bind_s, const char *log_path)
{
    struct sockaddr_in a;
    if (!bind_s || parse_ipport(bind_s, &a) < 0) {
        fprintf(stderr, "echo: --bind IP:PORT needed\n");
        return 2;
    }
    FILE *log = log_path ? fopen(log_path, "a") : NULL;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("echo: bind");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ECHO listening %s\n", bind_s);
    fflush(stdout);
    uint8_t buf[65536];
    while (!g_stop) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            continue;
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        if (log) {
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
            fprintf(log, "%s:%u %zd ", ip, ntohs(from.sin_port), n);
            for (ssize_t i = 0; i < n && i < 300; i++)
                fputc(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.', log);
            fputc('\n', log);
            fflush(log);
        }
    }
    if (log)
        fclose(log);
    return 0;
}

/* ---- garbage ----------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static size_t make_garbage(uint8_t *b, unsigned i)
{
    size_t len;
    switch (i % 6) {
    case 0: /* random bytes, random length 1..1400 */
        len = 1 + rnd() % 1400;
        for (size_t k = 0; k < len; k++)
            b[k] = (uint8_t)rnd();
        return len;
    case 1: /* truncated record header */
        len = 1 + rnd() % 12;
        b[0] = 23;
        b[1] = 0xfe;
        b[2] = 0xfd;
        for (size_t k = 3; k < len; k++)
            b[k] = (uint8_t)rnd();
        return len;
    case 2: /* header whose length runs past the datagram */
        len = 13 + rnd() % 40;
        b[0] = 23, b[1] = 0xfe, b[2] = 0xfd, b[3] = 0, b[4] = 1;
        for (size_t k = 5; k < 11; k++)
            b[k] = (uint8_t)rnd();
        b[11] = 0x05, b[12] = 0xdc; /* claims 1500 */
        for (size_t k = 13; k < len; k++)
            b[k] = (uint8_t)rnd();
        return len;
    case 3: /* well-formed epoch-1 app data from an unknown peer */
        len = 13 + 8 + 16 + rnd() % 200;
        b[0] = 23, b[1] = 0xfe, b[2] = 0xfd, b[3] = 0, b[4] = 1;
        for (size_t k = 5; k < 11; k++)
            b[k] = (uint8_t)rnd();
        b[11] = (uint8_t)((len - 13) >> 8), b[12] = (uint8_t)(len - 13);
        for (size_t k = 13; k < len; k++)
            b[k] = (uint8_t)rnd();
        return len;
    case 4: /* epoch-0 handshake record with junk inside */
        len = 13 + 12 + rnd() % 100;
        b[0] = 22, b[1] = 0xfe, b[2] = 0xff, b[3] = 0, b[4] = 0;
        for (size_t k = 5; k < 11; k++)
            b[k] = 0;
        b[11] = (uint8_t)((len - 13) >> 8), b[12] = (uint8_t)(len - 13);
        for (size_t k = 13; k < len; k++)
            b[k] = (uint8_t)rnd();
        b[13] = (uint8_t)(1 + rnd() % 20);
        return len;
    default: /* unknown content type / version */
        len = 13 + rnd() % 64;
        for (size_t k = 0; k < len; k++)
            b[k] = (uint8_t)rnd();
        b[0] = (uint8_t)(30 + rnd() % 200);
        b[11] = (uint8_t)((len - 13) >> 8), b[12] = (uint8_t)(len - 13);
        return len;
    }
}

static int cmd_garbage(const char *target_s, const char *src_s, unsigned n, uint64_t seed,
                       unsigned pps)
{
    struct sockaddr_in t, s;
    if (!target_s || parse_ipport(target_s, &t) < 0) {
        fprintf(stderr, "garbage: --target IP:PORT needed\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (src_s) {
        char b[80];
        snprintf(b, sizeof(b), "%s:0", src_s);
        if (parse_ipport(b, &s) < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0) {
            perror("garbage: bind");
            return 1;
        }
    }
    rng_state = seed ? seed : 0x9E3779B97F4A7C15ull;
    uint8_t buf[H_DGRAM_MAX_BYTES];
    unsigned sent = 0;
    uint64_t t0 = tl_mono_ms();
    for (unsigned i = 0; i < n; i++) {
        size_t len = make_garbage(buf, i);
        /* most at the listener; some at a closed port and at the NAT range */
        struct sockaddr_in to = t;
        if (i % 10 == 8)
            to.sin_port = htons((uint16_t)(ntohs(t.sin_port) + 1));
        else if (i % 10 == 9)
            to.sin_port = htons((uint16_t)(20000 + rnd() % 40000));
        if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
            sent++;
        pace(t0, i + 1, pps); /* so that the AF_PACKET ring keeps up */
    }
    printf("SENT %u\n", sent);
    return 0;
}

/* ---- DTLS clients -------------------------------------------------------- */

struct cl {
    int fd;
    SSL *ssl;
    bool established, echoed, failed;
    char payload[H_PAYLOAD_MAX_LEN];
    size_t payload_len;
    uint64_t last_send_ms;
    uint8_t last_rec[H_DGRAM_MAX_BYTES]; /* last app-data datagram sent */
    size_t last_rec_len;
    uint8_t hello[H_DGRAM_MAX_BYTES]; /* last ClientHello datagram sent */
    size_t hello_len;
};

static struct cl g_cl[H_MAX_CLIENTS];
static const char *g_psk_id = "gwe-client";
static uint8_t g_psk[64];
static size_t g_psk_len;

static unsigned psk_cb(SSL *ssl, const char *hint, char *identity, unsigned max_id,
                       unsigned char *psk, unsigned max_psk)
{
    (void)ssl;
    (void)hint;
    if (strlen(g_psk_id) + 1 > max_id || g_psk_len > max_psk)
        return 0;
    memcpy(identity, g_psk_id, strlen(g_psk_id) + 1);
    memcpy(psk, g_psk, g_psk_len);
    return (unsigned)g_psk_len;
}

/* Keeps a copy of the last application-data datagram each client writes. */
static long bio_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                   size_t *processed)
{
    (void)argi;
    (void)argl;
    (void)processed;
    if (oper == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && len > 0 && len <= H_DGRAM_MAX_BYTES &&
        (uint8_t)argp[0] == 23) {
        struct cl *c = (struct cl *)BIO_get_callback_arg(b);
        memcpy(c->last_rec, argp, len);
        c->last_rec_len = len;
    }
    /* An epoch-0 handshake record starting with a ClientHello: the last one
     * written is the one that carried the cookie. */
    if (oper == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && len > 25 && len <= H_DGRAM_MAX_BYTES &&
        (uint8_t)argp[0] == 22 && argp[3] == 0 && argp[4] == 0 && argp[13] == 1) {
        struct cl *c = (struct cl *)BIO_get_callback_arg(b);
        memcpy(c->hello, argp, len);
        c->hello_len = len;
    }
    return ret;
}

/* g_psk from hex; -1 when it is not hex or longer than g_psk. */
static int set_psk_hex(const char *key_hex)
{
    size_t n = strlen(key_hex);
    if (n % 2 != 0 || n / 2 > sizeof(g_psk))
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = e2e_hexval((unsigned char)key_hex[2 * i]),
            lo = e2e_hexval((unsigned char)key_hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        g_psk[i] = (uint8_t)(hi << 4 | lo);
    }
    g_psk_len = n / 2;
    return 0;
}

static unsigned g_sends; /* payload records written, first tries and resends */

/* --max-timer-ms: libssl's retransmission timer doubles from 1 s as usual
 * but stops at this cap (a device's own backoff policy) instead of 60 s. */
static unsigned g_max_timer_us;
static unsigned capped_timer(SSL *ssl, unsigned timer_us)
{
    (void)ssl;
    if (timer_us == 0)
        return 1000000u;
    return 2 * timer_us < g_max_timer_us ? 2 * timer_us : g_max_timer_us;
}

static void send_payload(struct cl *c, const char *tag, unsigned idx, unsigned round)
{
    if (c->payload_len == 0 || c->echoed) {
        int l =
            snprintf(c->payload, sizeof(c->payload), "e2e|%s|client=%u|round=%u|", tag, idx, round);
        for (; l < 120; l++)
            c->payload[l] = "abcdefghijklmnopqrstuvwxyz0123456789"[((unsigned)l * 7 + idx) % 36];
        c->payload_len = (size_t)l;
        c->echoed = false;
    }
    int w = SSL_write(c->ssl, c->payload, (int)c->payload_len);
    g_sends += w > 0;
    c->last_send_ms = tl_mono_ms();
}

/* Drives every client until all reached the goal or the deadline passed.
 * goal 0: handshake + echo of the current payload. */
static void run_round(unsigned n, const char *tag, unsigned round, uint64_t deadline)
{
    for (unsigned i = 0; i < n; i++)
        if (g_cl[i].established && !g_cl[i].failed) {
            g_cl[i].echoed = true; /* makes send_payload build a new payload */
            send_payload(&g_cl[i], tag, i, round);
        }
    static struct pollfd pfd[H_MAX_CLIENTS];
    for (;;) {
        unsigned pending = 0;
        uint64_t now = tl_mono_ms();
        for (unsigned i = 0; i < n; i++) {
            struct cl *c = &g_cl[i];
            pfd[i].fd = c->fd;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            if (c->failed || (c->established && c->echoed)) {
                pfd[i].fd = -1;
                continue;
            }
            pending++;
            if (!c->established) {
                struct timeval tv;
                if (DTLSv1_get_timeout(c->ssl, &tv) && tv.tv_sec == 0 && tv.tv_usec == 0)
                    DTLSv1_handle_timeout(c->ssl);
            } else if (now - c->last_send_ms > H_RESEND_MS) {
                send_payload(c, tag, i, round);
            }
        }
        if (pending == 0 || now >= deadline)
            break;
        poll(pfd, n, 20);
        for (unsigned i = 0; i < n; i++) {
            struct cl *c = &g_cl[i];
            if (pfd[i].fd < 0)
                continue;
            if (!c->established) {
                int r = SSL_do_handshake(c->ssl);
                if (r == 1) {
                    c->established = true;
                    send_payload(c, tag, i, round);
                } else {
                    int e = SSL_get_error(c->ssl, r);
                    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                        c->failed = true;
                        fprintf(stderr, "client %u: handshake failed (%d)\n", i, e);
                        ERR_print_errors_fp(stderr);
                    }
                }
                continue;
            }
            char buf[H_DGRAM_MAX_BYTES];
            for (;;) {
                int r = SSL_read(c->ssl, buf, sizeof(buf));
                if (r <= 0) {
                    int e = SSL_get_error(c->ssl, r);
                    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                        c->failed = true;
                        fprintf(stderr, "client %u: read failed (%d)\n", i, e);
                    }
                    break;
                }
                if ((size_t)r == c->payload_len && memcmp(buf, c->payload, (size_t)r) == 0)
                    c->echoed = true;
            }
        }
    }
}

/* Counts the client's datagrams and refuses every one after the second
 * (ClientHello, ClientHello with cookie): the gateway is left holding a
 * handshake that will never finish. */
static long abandon_bio_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
                           int ret, size_t *processed)
{
    (void)argp;
    (void)len;
    (void)argi;
    (void)argl;
    (void)processed;
    if (oper == BIO_CB_WRITE) {
        unsigned *n_writes = (unsigned *)BIO_get_callback_arg(b);
        if (++*n_writes > 2)
            return -1; /* the write is not performed */
    }
    return ret;
}

/* --abandon-first: a first client from the same address:port sends its
 * ClientHellos (the second with the gateway's cookie), receives the
 * server's flight and then goes silent, as a device that rebooted
 * mid-handshake.  Returns 0 when the cookie exchange happened. */
static int abandon_handshake(SSL_CTX *ctx, const struct sockaddr_in *la,
                             const struct sockaddr_in *srv)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (const struct sockaddr *)la, sizeof(*la)) != 0 ||
        connect(fd, (const struct sockaddr *)srv, sizeof(*srv)) != 0) {
        perror("clients: abandon bind/connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unsigned n_writes = 0;
    BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, (void *)srv);
    BIO_set_callback_ex(bio, abandon_bio_cb);
    BIO_set_callback_arg(bio, (char *)&n_writes);
    SSL *ssl = SSL_new(ctx);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_connect_state(ssl);
    uint64_t deadline = tl_mono_ms() + 5000;
    while (n_writes <= 2 && tl_mono_ms() < deadline) {
        int r = SSL_do_handshake(ssl);
        if (r <= 0) {
            int e = SSL_get_error(ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, 20);
        struct timeval tv;
        if (DTLSv1_get_timeout(ssl, &tv) && tv.tv_sec == 0 && tv.tv_usec == 0)
            DTLSv1_handle_timeout(ssl);
    }
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    printf("ABANDONED writes=%u\n", n_writes);
    fflush(stdout);
    return n_writes > 2 ? 0 : -1;
}

#define H_STALL_PORT_BASE 42000 /* --stall's first source port */

static int cmd_clients(int argc, char **argv)
{
    const char *server_s = NULL, *src_list = NULL, *cipher = "PSK-AES128-CCM8",
               *key_hex = "00112233445566778899aabbccddeeff", *tag = "t";
    unsigned n = 1, attack = 0, src_port = 0;
    int timeout_ms = H_DEFAULT_TIMEOUT_MS;
    bool wait_go = false, do_close = false, abandon_first = false, no_ems = false;
    unsigned mtu = 0;
    unsigned stall = 0;
    const char *save_hello = NULL, *replay_hello = NULL;
    static const struct option opts[] = {
        {"abandon-first", 0, NULL, 'A'}, {"server", 1, NULL, 's'},
        {"src", 1, NULL, 'a'},           {"n", 1, NULL, 'n'},
        {"src-port", 1, NULL, 'p'},      {"psk-identity", 1, NULL, 'i'},
        {"psk-key", 1, NULL, 'k'},       {"cipher", 1, NULL, 'c'},
        {"timeout-ms", 1, NULL, 't'},    {"wait-go", 0, NULL, 'g'},
        {"attack", 1, NULL, 'x'},        {"close", 0, NULL, 'C'},
        {"tag", 1, NULL, 'T'},           {"replay-hello", 1, NULL, 'H'},
        {"save-hello", 1, NULL, 'S'},    {"stall", 1, NULL, 'L'},
        {"max-timer-ms", 1, NULL, 'M'},  {"no-ems", 0, NULL, 'E'},
        {"mtu", 1, NULL, 'U'},           {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            server_s = optarg;
            break;
        case 'a':
            src_list = optarg;
            break;
        case 'n':
            n = (unsigned)atoi(optarg);
            break;
        case 'p':
            src_port = (unsigned)atoi(optarg);
            break;
        case 'i':
            g_psk_id = optarg;
            break;
        case 'k':
            key_hex = optarg;
            break;
        case 'c':
            cipher = optarg;
            break;
        case 't':
            timeout_ms = atoi(optarg);
            break;
        case 'g':
            wait_go = true;
            break;
        case 'M':
            g_max_timer_us = (unsigned)atoi(optarg) * 1000u;
            break;
        case 'E':
            no_ems = true;
            break;
        case 'U':
            mtu = (unsigned)atoi(optarg);
            break;
        case 'x':
            attack = (unsigned)atoi(optarg);
            break;
        case 'C':
            do_close = true;
            break;
        case 'A':
            abandon_first = true;
            break;
        case 'T':
            tag = optarg;
            break;
        case 'H':
            replay_hello = optarg;
            break;
        case 'S':
            save_hello = optarg;
            break;
        case 'L':
            stall = (unsigned)atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    struct sockaddr_in srv;
    if (!server_s || parse_ipport(server_s, &srv) < 0 || n == 0 || n > H_MAX_CLIENTS ||
        (src_port && n != 1)) {
        fprintf(stderr, "clients: bad arguments\n");
        return 2;
    }
    if (set_psk_hex(key_hex) < 0)
        return 2;
    struct in_addr srcs[H_MAX_SRCS];
    unsigned n_srcs = 0;
    if (src_list) {
        char tmp[1024];
        snprintf(tmp, sizeof(tmp), "%s", src_list);
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t && n_srcs < H_MAX_SRCS;
             t = strtok_r(NULL, ",", &save))
            if (inet_pton(AF_INET, t, &srcs[n_srcs]) == 1)
                n_srcs++;
    }

    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx, cipher) != 1) {
        fprintf(stderr, "clients: unknown cipher %s\n", cipher);
        return 2;
    }
    if (no_ems)
        SSL_CTX_set_options(ctx, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    SSL_CTX_set_psk_client_callback(ctx, psk_cb);
    SSL_CTX_set_read_ahead(ctx, 1);

    if (abandon_first) {
        struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)src_port)};
        if (n_srcs)
            la.sin_addr = srcs[0];
        if (n != 1 || src_port == 0 || abandon_handshake(ctx, &la, &srv) < 0) {
            fprintf(stderr, "clients: --abandon-first needs --n 1 --src-port and a cookie "
                            "exchange\n");
            return 1;
        }
    }
    if (stall > 0) {
        /* --stall K: K handshakes from the first source address (each from
         * its own port) that pass the cookie exchange and then go silent,
         * so the gateway holds K handshakes in progress from one address. */
        struct sockaddr_in la = {.sin_family = AF_INET};
        if (n_srcs)
            la.sin_addr = srcs[0];
        unsigned done = 0;
        for (unsigned k = 0; k < stall; k++) {
            la.sin_port = htons((uint16_t)(H_STALL_PORT_BASE + k)); /* distinct peers */
            done += abandon_handshake(ctx, &la, &srv) == 0;
        }
        printf("STALLED %u\n", done);
        fflush(stdout);
    }
    for (unsigned i = 0; i < n; i++) {
        struct cl *c = &g_cl[i];
        c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)src_port)};
        if (n_srcs)
            la.sin_addr = srcs[i % n_srcs];
        /* SO_REUSEADDR only for a fixed port (reconnect tests): on Linux two
         * UDP sockets that both set it may be auto-bound to the same port,
         * and two clients on one address:port are one peer to the gateway. */
        if (src_port != 0) {
            int one = 1;
            setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        }
        if (bind(c->fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
            connect(c->fd, (struct sockaddr *)&srv, sizeof(srv)) != 0) {
            perror("clients: bind/connect");
            return 1;
        }
        BIO *bio = BIO_new_dgram(c->fd, BIO_NOCLOSE);
        BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &srv);
        BIO_set_callback_ex(bio, bio_cb);
        BIO_set_callback_arg(bio, (char *)c);
        c->ssl = SSL_new(ctx);
        if (g_max_timer_us != 0)
            DTLS_set_timer_cb(c->ssl, capped_timer);
        if (mtu != 0) {
            /* A small path MTU: libssl fragments its handshake messages
             * (the ClientHello with its cookie included) to fit. */
            SSL_set_options(c->ssl, SSL_OP_NO_QUERY_MTU);
            DTLS_set_link_mtu(c->ssl, mtu);
        }
        SSL_set_bio(c->ssl, bio, bio);
        SSL_set_connect_state(c->ssl);
        SSL_do_handshake(c->ssl);
    }
    run_round(n, tag, 1, tl_mono_ms() + (uint64_t)timeout_ms);
    unsigned est = 0, ok = 0, failed = 0;
    for (unsigned i = 0; i < n; i++) {
        est += g_cl[i].established;
        ok += g_cl[i].established && g_cl[i].echoed && !g_cl[i].failed;
    }
    failed = n - ok;
    FILE *sf = save_hello && g_cl[0].hello_len ? fopen(save_hello, "wb") : NULL;
    if (sf) {
        fwrite(g_cl[0].hello, 1, g_cl[0].hello_len, sf);
        fclose(sf);
    }
    printf("READY established=%u echoed=%u failed=%u sends=%u\n", est, ok, failed, g_sends);
    fflush(stdout);
    int rc = failed ? 1 : 0;

    if (wait_go) {
        char line[64];
        if (!fgets(line, sizeof(line), stdin))
            line[0] = '\0';
        unsigned replays = 0, forged = 0, sent = 0;
        uint64_t t0 = tl_mono_ms();
        for (unsigned a = 0; a < attack; a++) {
            for (unsigned i = 0; i < n; i++) {
                struct cl *c = &g_cl[i];
                if (!c->established || c->last_rec_len < 13)
                    continue;
                /* paced like the garbage sender (H_ATTACK_PPS): every
                 * datagram must reach a worker to be counted there */
                sent += 2; /* the replay and the forged copy */
                pace(t0, sent, H_ATTACK_PPS);
                if (send(c->fd, c->last_rec, c->last_rec_len, 0) > 0)
                    replays++;
                uint8_t f[H_DGRAM_MAX_BYTES];
                memcpy(f, c->last_rec, c->last_rec_len);
                /* bump the 48-bit sequence number: same ciphertext, new AAD */
                uint64_t seq = 0;
                for (int k = 5; k < 11; k++)
                    seq = seq << 8 | f[k];
                seq += H_FORGED_SEQ_JUMP + a;
                for (int k = 10; k >= 5; k--, seq >>= 8)
                    f[k] = (uint8_t)seq;
                if (send(c->fd, f, c->last_rec_len, 0) > 0)
                    forged++;
            }
        }
        unsigned hellos = 0;
        uint8_t old[H_DGRAM_MAX_BYTES];
        size_t old_len = 0;
        FILE *hf = replay_hello ? fopen(replay_hello, "rb") : NULL;
        if (hf) {
            old_len = fread(old, 1, sizeof(old), hf);
            fclose(hf);
        }
        /* An earlier connection's ClientHello with its (still valid)
         * cookie, from this address:port: a replay must not tear down the
         * live session. */
        for (unsigned k = 0; k < 3 && old_len > 0 && g_cl[0].established; k++)
            hellos += send(g_cl[0].fd, old, old_len, 0) > 0;
        if (hellos > 0)
            tl_sleep_ms(300);
        run_round(n, tag, 2, tl_mono_ms() + (uint64_t)timeout_ms);
        ok = 0;
        for (unsigned i = 0; i < n; i++)
            ok += g_cl[i].established && g_cl[i].echoed && !g_cl[i].failed;
        printf("DONE echoed=%u failed=%u replays=%u forged=%u hellos=%u sends=%u\n", ok, n - ok,
               replays, forged, hellos, g_sends);
        fflush(stdout);
        rc = ok == n ? 0 : 1;
    }
    unsigned closed = 0;
    for (unsigned i = 0; i < n; i++) {
        if (do_close && g_cl[i].established) {
            SSL_shutdown(g_cl[i].ssl);
            closed++;
        }
        SSL_free(g_cl[i].ssl);
        close(g_cl[i].fd);
    }
    if (do_close) {
        printf("CLOSED %u\n", closed);
        fflush(stdout);
    }
    SSL_CTX_free(ctx);
    return rc;
}

/* ---- send: one datagram from a file ------------------------------------- */

static int cmd_send(const char *target_s, const char *src_s, const char *file)
{
    struct sockaddr_in t, s;
    uint8_t buf[H_DGRAM_MAX_BYTES];
    FILE *f = file ? fopen(file, "rb") : NULL;
    size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    if (!target_s || parse_ipport(target_s, &t) < 0 || !src_s || parse_ipport(src_s, &s) < 0 ||
        len == 0) {
        fprintf(stderr, "send: --target IP:PORT --src IP:PORT --file F needed\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0 ||
        sendto(fd, buf, len, 0, (struct sockaddr *)&t, sizeof(t)) != (ssize_t)len) {
        perror("send");
        return 1;
    }
    close(fd);
    printf("SENT 1\n");
    return 0;
}

/* ---- seqcheck: every server record's (epoch, sequence) ------------------ */

#define H_SEQ_MAX_RECORDS 4096
#define H_SEQ_ECHOES      5

static uint64_t g_seq_seen[H_SEQ_MAX_RECORDS]; /* epoch << 48 | seq */
static unsigned g_seq_n, g_seq_dups, g_seq_epoch1;

/* Every record of every datagram the socket delivers to libssl, before
 * libssl decides anything about it. */
static long seq_bio_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                       size_t *processed)
{
    (void)b;
    (void)argi;
    (void)argl;
    if (oper != (BIO_CB_READ | BIO_CB_RETURN) || ret <= 0 || processed == NULL)
        return ret;
    const uint8_t *d = (const uint8_t *)argp;
    size_t n = *processed < len ? *processed : len, off = 0;
    while (n - off >= 13) {
        uint64_t epoch = (uint64_t)d[off + 3] << 8 | d[off + 4], seq = 0;
        for (int i = 5; i < 11; i++)
            seq = seq << 8 | d[off + i];
        size_t rl = (size_t)d[off + 11] << 8 | d[off + 12];
        uint64_t k = epoch << 48 | seq;
        for (unsigned i = 0; i < g_seq_n; i++)
            if (g_seq_seen[i] == k) {
                g_seq_dups++;
                printf("DUP epoch=%" PRIu64 " seq=%" PRIu64 " type=%u\n", epoch, seq, d[off]);
                break;
            }
        if (g_seq_n < H_SEQ_MAX_RECORDS)
            g_seq_seen[g_seq_n++] = k;
        g_seq_epoch1 += epoch == 1;
        if (rl > n - off - 13)
            break;
        off += 13 + rl;
    }
    return ret;
}

/* Drives ssl (non-blocking) for up to ms: handshake, then reads.  Returns
 * bytes read into buf (0 none), -1 when the connection failed or closed. */
static int seq_pump(SSL *ssl, int fd, char *buf, int cap, int ms)
{
    uint64_t deadline = tl_mono_ms() + (uint64_t)ms;
    while (tl_mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        (void)poll(&p, 1, 20);
        int r = SSL_read(ssl, buf, cap);
        if (r > 0)
            return r;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL)
            return -1;
        struct timeval tv;
        if (DTLSv1_get_timeout(ssl, &tv) && tv.tv_sec == 0 && tv.tv_usec == 0)
            DTLSv1_handle_timeout(ssl);
    }
    return 0;
}

/* Forged-from-the-keys alert for --alert-replay: the client's epoch-1
 * write key and IV from the session's master secret (RFC 5246 §6.3, key
 * block of an AES-128-GCM suite: client key, server key, client IV, server
 * IV), a warning user_canceled alert (level 1, description 90: the server
 * reads and ignores it) sealed at epoch 1, sequence seq (RFC 5288 §3:
 * nonce = IV || explicit; RFC 6347 §4.1.2.1 additional data). */
static size_t seal_alert(SSL *ssl, uint64_t seq, uint8_t *rec)
{
    uint8_t ms[48], cr[32], sr[32], seed[13 + 64], kb[40];
    SSL_SESSION *sess = SSL_get_session(ssl);
    if (sess == NULL || SSL_SESSION_get_master_key(sess, ms, sizeof(ms)) != sizeof(ms) ||
        SSL_get_client_random(ssl, cr, sizeof(cr)) != sizeof(cr) ||
        SSL_get_server_random(ssl, sr, sizeof(sr)) != sizeof(sr))
        return 0;
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, sr, 32);
    memcpy(seed + 45, cr, 32);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM ps[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
                       OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, ms, sizeof(ms)),
                       OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, 13 + 64),
                       OSSL_PARAM_construct_end()};
    int ok = kc != NULL && EVP_KDF_derive(kc, kb, sizeof(kb), ps) == 1;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    if (!ok)
        return 0;
    uint8_t hdr[13] = {21, 0xfe, 0xfd, 0, 1}, nonce[12], pt[2] = {1, 90};
    for (int i = 0; i < 6; i++)
        hdr[5 + i] = (uint8_t)(seq >> (40 - 8 * i));
    memcpy(nonce, kb + 32, 4);
    memcpy(nonce + 4, hdr + 3, 8);
    uint8_t aad[13];
    memcpy(aad, hdr + 3, 8);
    memcpy(aad + 8, hdr, 3);
    aad[11] = 0;
    aad[12] = 2;
    hdr[11] = 0;
    hdr[12] = 8 + 2 + 16;
    memcpy(rec, hdr, 13);
    memcpy(rec + 13, nonce + 4, 8);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, kb, nonce) == 1 &&
         EVP_EncryptUpdate(c, NULL, &l, aad, sizeof(aad)) == 1 &&
         EVP_EncryptUpdate(c, rec + 21, &l, pt, 2) == 1 &&
         EVP_EncryptFinal_ex(c, rec + 23, &l) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, rec + 23) == 1;
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(kb, sizeof(kb));
    OPENSSL_cleanse(ms, sizeof(ms));
    return ok ? 13 + 8 + 2 + 16 : 0;
}

/* One payload out, its echo back; 1 when echoed byte-exact. */
static int seq_echo(SSL *ssl, int fd, unsigned i)
{
    char msg[64], in[256];
    int l = snprintf(msg, sizeof(msg), "seqcheck|%u|", i);
    for (int tries = 0; tries < 5; tries++) {
        if (SSL_write(ssl, msg, l) != l)
            return 0;
        int r = seq_pump(ssl, fd, in, sizeof(in), H_RESEND_MS);
        if (r < 0)
            return 0;
        if (r == l && memcmp(in, msg, (size_t)l) == 0)
            return 1;
    }
    return 0;
}

/* The DTLS 1.2 PSK client of the seqcheck and stream modes: a context
 * for cipher, a non-blocking UDP socket bound to la and connected to srv,
 * cb watching every datagram, and the handshake run until it finishes or
 * H_DEFAULT_TIMEOUT_MS pass (the caller checks SSL_is_init_finished).
 * NULL with *rc 2 (bad cipher) or 1 (socket) when it cannot start. */
static SSL *psk_dtls_connect(const char *who, const char *cipher, const struct sockaddr_in *la,
                             const struct sockaddr_in *srv, BIO_callback_fn_ex cb,
                             SSL_CTX **ctx_out, int *fd_out, int *rc, char *buf, size_t buf_len)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    *rc = 2;
    if (SSL_CTX_set_cipher_list(ctx, cipher) != 1)
        return NULL;
    SSL_CTX_set_psk_client_callback(ctx, psk_cb);
    SSL_CTX_set_read_ahead(ctx, 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (bind(fd, (const struct sockaddr *)la, sizeof(*la)) != 0 ||
        connect(fd, (const struct sockaddr *)srv, sizeof(*srv)) != 0) {
        fprintf(stderr, "%s: bind/connect: %s\n", who, strerror(errno));
        *rc = 1;
        return NULL;
    }
    BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, (void *)srv);
    BIO_set_callback_ex(bio, cb);
    SSL *ssl = SSL_new(ctx);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_connect_state(ssl);
    uint64_t deadline = tl_mono_ms() + H_DEFAULT_TIMEOUT_MS;
    while (!SSL_is_init_finished(ssl) && tl_mono_ms() < deadline) {
        int r = SSL_do_handshake(ssl);
        if (r <= 0 && SSL_get_error(ssl, r) == SSL_ERROR_SSL)
            break;
        (void)seq_pump(ssl, fd, buf, (int)buf_len, 20);
    }
    *ctx_out = ctx;
    *fd_out = fd;
    *rc = 0;
    return ssl;
}

static int cmd_seqcheck(int argc, char **argv)
{
    const char *server_s = NULL, *src_s = NULL, *cipher = "PSK-AES128-GCM-SHA256",
               *key_hex = "00112233445566778899aabbccddeeff";
    bool alert_replay = false;
    static const struct option opts[] = {
        {"server", 1, NULL, 's'},  {"src", 1, NULL, 'a'},    {"psk-identity", 1, NULL, 'i'},
        {"psk-key", 1, NULL, 'k'}, {"cipher", 1, NULL, 'c'}, {"alert-replay", 0, NULL, 'R'},
        {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 's')
            server_s = optarg;
        else if (o == 'a')
            src_s = optarg;
        else if (o == 'i')
            g_psk_id = optarg;
        else if (o == 'k')
            key_hex = optarg;
        else if (o == 'c')
            cipher = optarg;
        else if (o == 'R')
            alert_replay = true;
        else
            return 2;
    }
    struct sockaddr_in srv, la = {.sin_family = AF_INET};
    if (!server_s || parse_ipport(server_s, &srv) < 0 ||
        (src_s && inet_pton(AF_INET, src_s, &la.sin_addr) != 1)) {
        fprintf(stderr, "seqcheck: bad arguments\n");
        return 2;
    }
    if (set_psk_hex(key_hex) < 0)
        return 2;
    SSL_CTX *ctx;
    int fd, rc;
    char buf[256];
    SSL *ssl = psk_dtls_connect("seqcheck", cipher, &la, &srv, seq_bio_cb, &ctx, &fd, &rc, buf,
                                sizeof(buf));
    if (ssl == NULL)
        return rc;
    unsigned echoed = 0;
    const char *reneg = "none";
    if (alert_replay) {
        /* Issue 8: one authentic warning alert (the server ignores it),
         * the same record again, and one left of the server's window; the
         * session must go on echoing. */
        uint8_t rec[64];
        unsigned sent = 0;
        uint64_t seqs[] = {H_ALERT_SEQ, H_ALERT_SEQ, H_ALERT_SEQ - 200};
        if (SSL_is_init_finished(ssl) && seq_echo(ssl, fd, 0))
            for (unsigned i = 0; i < 3; i++) {
                size_t l = seal_alert(ssl, seqs[i], rec);
                sent += l > 0 && send(fd, rec, l, 0) == (ssize_t)l;
                if (i == 0)
                    tl_sleep_ms(200); /* the original lands first */
            }
        tl_sleep_ms(300);
        for (unsigned i = 0; sent == 3 && i < H_SEQ_ECHOES; i++)
            echoed += (unsigned)seq_echo(ssl, fd, 200 + i);
        printf("ALERTS sent=%u echoed=%u\n", sent, echoed);
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        close(fd);
        return sent == 3 && echoed == H_SEQ_ECHOES ? 0 : 1;
    }
    if (SSL_is_init_finished(ssl)) {
        for (unsigned i = 0; i < H_SEQ_ECHOES; i++)
            echoed += (unsigned)seq_echo(ssl, fd, i);
        /* The server refuses: a no_renegotiation warning alert, which libssl
         * answers with a fatal handshake_failure (RFC 5246 §7.2.2 lets it). */
        reneg = "refused";
        int r = SSL_renegotiate(ssl) == 1 ? SSL_do_handshake(ssl) : -1;
        if (r <= 0 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
            reneg = "not-sent";
        else if (seq_pump(ssl, fd, buf, sizeof(buf), 1500) < 0)
            reneg = "ended";
        else
            for (unsigned i = 0; i < H_SEQ_ECHOES; i++)
                echoed += (unsigned)seq_echo(ssl, fd, 100 + i);
        if (SSL_shutdown(ssl) == 0)
            (void)seq_pump(ssl, fd, buf, sizeof(buf), 1000);
    }
    printf("SEQ records=%u epoch1=%u dups=%u echoed=%u reneg=%s\n", g_seq_n, g_seq_epoch1,
           g_seq_dups, echoed, reneg);
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return g_seq_dups == 0 && echoed >= H_SEQ_ECHOES ? 0 : 1;
}

/* ---- stream: a long-lived session across a gateway restart -------------- */

#define H_STREAM_MAX_NUMBERS 65536
#define H_STREAM_DRAIN_MS    800 /* after "stop": echoes still in flight */

static bool g_st_established;
static uint64_t g_st_max_seq, g_st_prev_seq, g_st_max_jump;
static unsigned g_st_hs_after; /* server handshake records once established */
static uint8_t g_st_echoed[H_STREAM_MAX_NUMBERS];

/* seq_bio_cb's (epoch, sequence) record, plus the largest step between
 * consecutive epoch-1 server sequence numbers and handshake records that
 * arrive once the session is up (a new handshake). */
static long stream_bio_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
                          int ret, size_t *processed)
{
    long r = seq_bio_cb(b, oper, argp, len, argi, argl, ret, processed);
    if (oper != (BIO_CB_READ | BIO_CB_RETURN) || ret <= 0 || processed == NULL)
        return r;
    const uint8_t *d = (const uint8_t *)argp;
    size_t n = *processed < len ? *processed : len, off = 0;
    while (n - off >= 13) {
        uint64_t epoch = (uint64_t)d[off + 3] << 8 | d[off + 4], seq = 0;
        for (int i = 5; i < 11; i++)
            seq = seq << 8 | d[off + i];
        size_t rl = (size_t)d[off + 11] << 8 | d[off + 12];
        if (g_st_established && d[off] == 22)
            g_st_hs_after++;
        if (epoch == 1) {
            if (g_st_prev_seq != 0 && seq > g_st_prev_seq && seq - g_st_prev_seq > g_st_max_jump)
                g_st_max_jump = seq - g_st_prev_seq;
            g_st_prev_seq = seq;
            if (seq > g_st_max_seq)
                g_st_max_seq = seq;
        }
        if (rl > n - off - 13)
            break;
        off += 13 + rl;
    }
    return r;
}

/* e2e-helper stream --server IP:PORT [--src IP] [--psk-identity ID
 *     --psk-key HEX] [--cipher C] [--interval-ms N] [--tag T]
 * One PSK session that sends "T|n|" (n = 0, 1, ...) every N ms until told
 * to stop, and reads the echoes.  Prints "STREAM established" once up;
 * stdin "mark" prints "MARK next=n maxseq=S" (the next number it will
 * send, the highest epoch-1 server sequence seen); "stop" (or EOF) stops
 * sending, waits H_STREAM_DRAIN_MS for echoes in flight and prints
 * "STREAM sent=S echoed=E after_mark_sent=A after_mark_echoed=B dups=D
 * records=R hs_after=H max_jump=J max_gap_ms=G", and "MISSING n" per
 * number sent after the mark and not echoed. */
static int cmd_stream(int argc, char **argv)
{
    const char *server_s = NULL, *src_s = NULL, *cipher = "PSK-AES128-GCM-SHA256",
               *key_hex = "00112233445566778899aabbccddeeff", *tag = "stream";
    unsigned interval_ms = 20;
    static const struct option opts[] = {
        {"server", 1, NULL, 's'},  {"src", 1, NULL, 'a'},    {"psk-identity", 1, NULL, 'i'},
        {"psk-key", 1, NULL, 'k'}, {"cipher", 1, NULL, 'c'}, {"interval-ms", 1, NULL, 'n'},
        {"tag", 1, NULL, 't'},     {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 's')
            server_s = optarg;
        else if (o == 'a')
            src_s = optarg;
        else if (o == 'i')
            g_psk_id = optarg;
        else if (o == 'k')
            key_hex = optarg;
        else if (o == 'c')
            cipher = optarg;
        else if (o == 'n')
            interval_ms = (unsigned)atoi(optarg);
        else if (o == 't')
            tag = optarg;
        else
            return 2;
    }
    struct sockaddr_in srv, la = {.sin_family = AF_INET};
    if (!server_s || parse_ipport(server_s, &srv) < 0 || interval_ms == 0 ||
        (src_s && inet_pton(AF_INET, src_s, &la.sin_addr) != 1) || set_psk_hex(key_hex) < 0) {
        fprintf(stderr, "stream: bad arguments\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    SSL_CTX *ctx;
    int fd, rc;
    char buf[512];
    SSL *ssl = psk_dtls_connect("stream", cipher, &la, &srv, stream_bio_cb, &ctx, &fd, &rc, buf,
                                sizeof(buf));
    if (ssl == NULL)
        return rc;
    if (!SSL_is_init_finished(ssl)) {
        printf("STREAM failed handshake\n");
        return 1;
    }
    g_st_established = true;
    printf("STREAM established\n");
    unsigned next = 0, mark = UINT32_MAX, echoed = 0;
    uint64_t last_send = 0, last_echo = tl_mono_ms(), max_gap = 0, stop_at = 0;
    char line[64];
    size_t line_len = 0;
    bool stdin_open = true;
    for (;;) {
        uint64_t now = tl_mono_ms();
        if (stop_at == 0 && now - last_send >= interval_ms && next < H_STREAM_MAX_NUMBERS) {
            int l = snprintf(buf, sizeof(buf), "%s|%u|", tag, next);
            if (SSL_write(ssl, buf, l) == l)
                next++;
            last_send = now;
        }
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        (void)poll(p, stdin_open ? 2 : 1, 5);
        for (;;) {
            int r = SSL_read(ssl, buf, sizeof(buf) - 1);
            if (r <= 0)
                break;
            buf[r] = '\0';
            size_t tl = strlen(tag);
            if ((size_t)r > tl + 1 && strncmp(buf, tag, tl) == 0 && buf[tl] == '|') {
                unsigned k = (unsigned)strtoul(buf + tl + 1, NULL, 10);
                if (k < H_STREAM_MAX_NUMBERS && !g_st_echoed[k]) {
                    g_st_echoed[k] = 1;
                    echoed++;
                    uint64_t t = tl_mono_ms();
                    if (t - last_echo > max_gap)
                        max_gap = t - last_echo;
                    last_echo = t;
                }
            }
        }
        ERR_clear_error();
        if (stdin_open && (p[1].revents & (POLLIN | POLLHUP))) {
            char c;
            ssize_t r = read(0, &c, 1);
            if (r <= 0) {
                stdin_open = false;
                if (stop_at == 0)
                    stop_at = tl_mono_ms();
            } else if (c != '\n' && line_len < sizeof(line) - 1) {
                line[line_len++] = c;
            } else if (c == '\n') {
                line[line_len] = '\0';
                line_len = 0;
                if (strcmp(line, "mark") == 0) {
                    mark = next;
                    printf("MARK next=%u maxseq=%" PRIu64 "\n", next, g_st_max_seq);
                } else if (strcmp(line, "stop") == 0 && stop_at == 0) {
                    stop_at = tl_mono_ms();
                }
            }
        }
        if (stop_at != 0 && tl_mono_ms() - stop_at >= H_STREAM_DRAIN_MS)
            break;
    }
    unsigned am_sent = 0, am_echoed = 0;
    for (unsigned k = mark; mark != UINT32_MAX && k < next; k++) {
        am_sent++;
        if (g_st_echoed[k])
            am_echoed++;
        else
            printf("MISSING %u\n", k);
    }
    printf("STREAM sent=%u echoed=%u after_mark_sent=%u after_mark_echoed=%u dups=%u records=%u "
           "hs_after=%u max_jump=%" PRIu64 " max_gap_ms=%" PRIu64 "\n",
           next, echoed, am_sent, am_echoed, g_seq_dups, g_seq_n, g_st_hs_after, g_st_max_jump,
           max_gap);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: e2e-helper echo|clients|seqcheck|stream|rawpsk|garbage|send ...\n");
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "clients") == 0)
        return cmd_clients(argc - 1, argv + 1);
    if (strcmp(mode, "seqcheck") == 0)
        return cmd_seqcheck(argc - 1, argv + 1);
    if (strcmp(mode, "rawpsk") == 0)
        return e2e_rawpsk_main(argc - 1, argv + 1);
    if (strcmp(mode, "stream") == 0)
        return cmd_stream(argc - 1, argv + 1);
    const char *bind_s = NULL, *log_s = NULL, *target = NULL, *src = NULL, *file = NULL;
    unsigned n = 10000, pps = 0;
    uint64_t seed = 1;
    static const struct option opts[] = {
        {"bind", 1, NULL, 'b'}, {"log", 1, NULL, 'l'},  {"target", 1, NULL, 't'},
        {"src", 1, NULL, 'a'},  {"n", 1, NULL, 'n'},    {"seed", 1, NULL, 's'},
        {"pps", 1, NULL, 'r'},  {"file", 1, NULL, 'f'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'b':
            bind_s = optarg;
            break;
        case 'l':
            log_s = optarg;
            break;
        case 't':
            target = optarg;
            break;
        case 'a':
            src = optarg;
            break;
        case 'n':
            n = (unsigned)atoi(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            pps = (unsigned)atoi(optarg);
            break;
        case 'f':
            file = optarg;
            break;
        default:
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(mode, "echo") == 0)
        return cmd_echo(bind_s, log_s);
    if (strcmp(mode, "garbage") == 0)
        return cmd_garbage(target, src, n, seed, pps);
    if (strcmp(mode, "send") == 0)
        return cmd_send(target, src, file);
    fprintf(stderr, "e2e-helper: unknown mode %s\n", mode);
    return 2;
}
