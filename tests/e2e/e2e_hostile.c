/* e2e_hostile.c — e2e-hostile: the hostile-traffic generators of the e2e
 * suite's "prove it" tests (issue 8), run inside the client namespace.
 * Not part of the product.
 *
 *   e2e-hostile flood --target IP:PORT --src-net A.B --secs S [--seed N]
 *       Sends ClientHellos as fast as it can for S seconds from spoofed
 *       sources A.B.x.y (random x, y in 1..254, random ports; a raw socket
 *       writes the IPv4 header), half of them with a random (invalid)
 *       cookie, with random ClientHello.random, suites and extensions of
 *       varying length.  Prints "FLOOD sent=N bytes=B secs=S".  The bytes
 *       are UDP payload bytes (what the gateway's answers compare with).
 *
 *   e2e-hostile mutate --server IP:PORT --src IP --n N [--seed S]
 *       [--psk-identity ID --psk-key HEX]
 *       Establishes one real DTLS 1.2 PSK session (libssl) and captures every
 *       datagram it writes (both ClientHellos, the key exchange flight,
 *       application data), then sends N datagrams mutated from the capture
 *       (bit flips, interesting bytes, truncation, extension, record length
 *       / epoch / sequence / type edits, handshake header edits, splices,
 *       duplicated records), 3/5 from the live session's own socket and 2/5
 *       from other ports.  Every 20000 datagrams it checks that the session
 *       still echoes.  Prints "MUTATE sent=N captured=C checks=K echoed=E
 *       bytes=B".  Exit 0 when every check echoed.
 *
 * Owns: its sockets.  Must not: depend on the gateway's code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "test_util.h"
#include "tl_addr.h"

#define HO_DGRAM_MAX_BYTES 2048
#define HO_CAPTURE_MAX     64
#define HO_CHECK_EVERY     20000
#define HO_OTHER_SOCKETS   8
#define HO_ECHO_TRIES      10
#define HO_ECHO_WAIT_MS    300

static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* "IP:PORT" (tests/lib/tl_addr.h, IPv4, port 1..65535); 0 or -1 with the
 * reason on stderr. */
static int parse_ipport(const char *s, struct sockaddr_in *out)
{
    int rc = tl_addr_parse_in4(s, 0, out);
    if (rc != TL_ADDR_OK) {
        fprintf(stderr, "e2e-hostile: '%s': %s\n", s ? s : "", tl_addr_strerror(rc));
        return -1;
    }
    return 0;
}

/* ---- flood --------------------------------------------------------------- */

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

/* A DTLS 1.2 ClientHello record (RFC 6347 §4.2.1) into b; its length. */
static size_t make_hello(uint8_t *b, bool cookie)
{
    uint8_t body[512];
    size_t n = 0;
    body[n++] = 0xfe;
    body[n++] = 0xfd;
    for (int i = 0; i < 32; i++)
        body[n++] = (uint8_t)rnd();
    body[n++] = 0; /* session id */
    size_t cl = cookie ? 1 + rnd() % 32 : 0;
    body[n++] = (uint8_t)cl;
    for (size_t i = 0; i < cl; i++)
        body[n++] = (uint8_t)rnd();
    static const uint16_t suites[] = {0xc0a8, 0x00ae, 0xc02b, 0xc02f, 0xc0ac, 0xcca8, 0xccab};
    unsigned ns = 1 + rnd() % 7;
    body[n++] = 0;
    body[n++] = (uint8_t)(2 * ns);
    for (unsigned i = 0; i < ns; i++) {
        body[n++] = (uint8_t)(suites[i] >> 8);
        body[n++] = (uint8_t)suites[i];
    }
    body[n++] = 1; /* compression: null */
    body[n++] = 0;
    /* extensions: extended_master_secret, then padding of random length */
    size_t pad = rnd() % 200;
    size_t ext = 4 + 4 + pad;
    body[n++] = (uint8_t)(ext >> 8);
    body[n++] = (uint8_t)ext;
    body[n++] = 0x00;
    body[n++] = 0x17;
    body[n++] = 0;
    body[n++] = 0;
    body[n++] = 0x00;
    body[n++] = 0x15;
    body[n++] = (uint8_t)(pad >> 8);
    body[n++] = (uint8_t)pad;
    memset(body + n, 0, pad);
    n += pad;
    size_t h = 0;
    b[h++] = 22;
    b[h++] = 0xfe;
    b[h++] = 0xff;
    memset(b + h, 0, 8); /* epoch 0, sequence 0 */
    h += 8;
    b[h++] = (uint8_t)((n + 12) >> 8);
    b[h++] = (uint8_t)(n + 12);
    b[h++] = 1; /* client_hello */
    b[h++] = 0;
    b[h++] = (uint8_t)(n >> 8);
    b[h++] = (uint8_t)n;
    memset(b + h, 0, 5); /* message_seq 0, fragment_offset 0 */
    h += 5;
    b[h++] = 0;
    b[h++] = (uint8_t)(n >> 8);
    b[h++] = (uint8_t)n;
    memcpy(b + h, body, n);
    return h + n;
}

static int cmd_flood(const char *target_s, const char *net_s, unsigned secs)
{
    struct sockaddr_in dst;
    unsigned a, b;
    if (parse_ipport(target_s, &dst) < 0 || !net_s || sscanf(net_s, "%u.%u", &a, &b) != 2 ||
        a > 255 || b > 255 || secs == 0) {
        fprintf(stderr, "flood: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL implied */
    if (fd < 0) {
        perror("flood: raw socket");
        return 1;
    }
    int sb = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
    uint8_t pkt[HO_DGRAM_MAX_BYTES];
    uint64_t sent = 0, bytes = 0, t0 = tl_mono_ms(), end = t0 + (uint64_t)secs * 1000;
    while (tl_mono_ms() < end) {
        for (int burst = 0; burst < 256; burst++) {
            size_t pl = make_hello(pkt + 28, rnd() & 1);
            struct iphdr *ip = (struct iphdr *)pkt;
            struct udphdr *udp = (struct udphdr *)(pkt + 20);
            uint32_t src =
                htonl((a << 24) | (b << 16) | ((1 + rnd() % 254) << 8) | (1 + rnd() % 254));
            memset(ip, 0, 20);
            ip->version = 4;
            ip->ihl = 5;
            ip->tot_len = htons((uint16_t)(28 + pl));
            ip->id = htons((uint16_t)rnd());
            ip->ttl = 64;
            ip->protocol = IPPROTO_UDP;
            ip->saddr = src;
            ip->daddr = dst.sin_addr.s_addr;
            ip->check = htons(csum_fold(csum_add(0, pkt, 20)));
            udp->source = htons((uint16_t)(1024 + rnd() % 60000));
            udp->dest = dst.sin_port;
            udp->len = htons((uint16_t)(8 + pl));
            udp->check = 0;
            uint8_t pseudo[12];
            memcpy(pseudo, &ip->saddr, 4);
            memcpy(pseudo + 4, &ip->daddr, 4);
            pseudo[8] = 0;
            pseudo[9] = IPPROTO_UDP;
            memcpy(pseudo + 10, &udp->len, 2);
            uint16_t c = csum_fold(csum_add(csum_add(0, pseudo, 12), pkt + 20, 8 + pl));
            udp->check = htons(c ? c : 0xffff);
            if (sendto(fd, pkt, 28 + pl, 0, (struct sockaddr *)&dst, sizeof(dst)) > 0) {
                sent++;
                bytes += pl;
            } else if (errno == ENOBUFS || errno == EAGAIN) {
                usleep(50);
            }
        }
    }
    double el = (double)(tl_mono_ms() - t0) / 1000.0;
    printf("FLOOD sent=%" PRIu64 " bytes=%" PRIu64 " secs=%.1f pps=%.0f\n", sent, bytes, el,
           (double)sent / el);
    close(fd);
    return 0;
}

/* ---- mutate -------------------------------------------------------------- */

struct dgram {
    uint8_t b[HO_DGRAM_MAX_BYTES];
    size_t n;
};
static struct dgram cap[HO_CAPTURE_MAX];
static unsigned n_cap;
static const char *psk_id = "gwe-client";
static uint8_t psk[64];
static size_t psk_len;

static unsigned psk_cb(SSL *ssl, const char *hint, char *identity, unsigned max_id,
                       unsigned char *out, unsigned max_psk)
{
    (void)ssl;
    (void)hint;
    if (strlen(psk_id) + 1 > max_id || psk_len > max_psk)
        return 0;
    memcpy(identity, psk_id, strlen(psk_id) + 1);
    memcpy(out, psk, psk_len);
    return (unsigned)psk_len;
}

/* Every datagram libssl writes, as written. */
static long cap_cb(BIO *bio, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                   size_t *processed)
{
    (void)bio;
    (void)argi;
    (void)argl;
    if (oper == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && n_cap < HO_CAPTURE_MAX &&
        len <= HO_DGRAM_MAX_BYTES) {
        memcpy(cap[n_cap].b, argp, len);
        cap[n_cap].n = len;
        n_cap++;
    }
    (void)processed;
    return ret;
}

static int pump(SSL *ssl, int fd, char *buf, int cap_len, unsigned ms)
{
    uint64_t end = tl_mono_ms() + ms;
    while (tl_mono_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        (void)poll(&p, 1, 10);
        int r = SSL_read(ssl, buf, cap_len);
        if (r > 0)
            return r;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SSL)
            return -1;
        ERR_clear_error();
        struct timeval tv;
        if (DTLSv1_get_timeout(ssl, &tv) && tv.tv_sec == 0 && tv.tv_usec == 0)
            DTLSv1_handle_timeout(ssl);
    }
    return 0;
}

/* One payload out, its echo back (resent a few times). */
static bool echo(SSL *ssl, int fd, unsigned i)
{
    char msg[64], in[512];
    int l = snprintf(msg, sizeof(msg), "mutate|%u|alive", i);
    for (int t = 0; t < HO_ECHO_TRIES; t++) {
        if (SSL_write(ssl, msg, l) != l)
            return false;
        for (;;) {
            int r = pump(ssl, fd, in, sizeof(in), HO_ECHO_WAIT_MS);
            if (r < 0)
                return false;
            if (r == 0)
                break;
            if (r == l && memcmp(in, msg, (size_t)l) == 0)
                return true; /* else an older echo: read on */
        }
    }
    return false;
}

/* Offsets of the records in d (at most 16). */
static unsigned records(const uint8_t *d, size_t n, size_t *off)
{
    unsigned k = 0;
    size_t o = 0;
    while (k < 16 && n - o >= 13) {
        off[k++] = o;
        size_t rl = (size_t)d[o + 11] << 8 | d[o + 12];
        if (rl > n - o - 13)
            break;
        o += 13 + rl;
    }
    return k;
}

static size_t mutate(uint8_t *b, size_t n)
{
    size_t off[16];
    unsigned nr = records(b, n, off);
    size_t r = nr ? off[rnd() % nr] : 0;
    unsigned what = rnd() % 14;
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xfe, 0xff};
    switch (what) {
    case 0: /* bit flips */
    case 1: {
        unsigned k = 1 + rnd() % 8;
        for (unsigned i = 0; i < k && n; i++)
            b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    }
    case 2: /* an interesting byte */
        if (n)
            b[rnd() % n] = interesting[rnd() % sizeof(interesting)];
        break;
    case 3: /* truncate */
        n = n ? rnd() % n : 0;
        break;
    case 4: { /* extend with random bytes */
        size_t k = 1 + rnd() % 64;
        if (n + k > HO_DGRAM_MAX_BYTES)
            k = HO_DGRAM_MAX_BYTES - n;
        for (size_t i = 0; i < k; i++)
            b[n + i] = (uint8_t)rnd();
        n += k;
        break;
    }
    case 5: /* record length */
        if (r + 13 <= n) {
            uint16_t l = (uint16_t)(b[r + 11] << 8 | b[r + 12]);
            uint16_t v[] = {0,     1,     (uint16_t)(l - 1), (uint16_t)(l + 1), 0xffff,
                            16384, 18432, (uint16_t)rnd()};
            l = v[rnd() % 8];
            b[r + 11] = (uint8_t)(l >> 8);
            b[r + 12] = (uint8_t)l;
        }
        break;
    case 6: /* epoch */
        if (r + 13 <= n) {
            uint16_t v[] = {0, 1, 2, 0xffff};
            uint16_t e = v[rnd() % 4];
            b[r + 3] = (uint8_t)(e >> 8);
            b[r + 4] = (uint8_t)e;
        }
        break;
    case 7: /* sequence number */
        if (r + 13 <= n) {
            uint64_t s = rnd() % 3 == 0 ? 0xffffffffffffull : (uint64_t)rnd() % 200000;
            for (int i = 0; i < 6; i++)
                b[r + 5 + i] = (uint8_t)(s >> (40 - 8 * i));
        }
        break;
    case 8: /* content type and version */
        if (r + 13 <= n) {
            b[r] = (uint8_t)(rnd() % 3 ? 20 + rnd() % 6 : rnd());
            if (rnd() % 2)
                b[r + 2] = (uint8_t)rnd();
        }
        break;
    case 9: /* handshake header: type, length, message_seq, fragment */
        if (r + 25 <= n && b[r] == 22) {
            unsigned f = rnd() % 4;
            size_t at = f == 0 ? r + 13 : f == 1 ? r + 14 : f == 2 ? r + 17 : r + 19;
            size_t w = f == 0 ? 1 : f == 2 ? 2 : 3;
            for (size_t i = 0; i < w; i++)
                b[at + i] = (uint8_t)rnd();
        }
        break;
    case 10: { /* splice the tail of another captured datagram */
        const struct dgram *o = &cap[rnd() % n_cap];
        size_t at = n ? rnd() % n : 0, from = o->n ? rnd() % o->n : 0;
        size_t k = o->n - from;
        if (at + k > HO_DGRAM_MAX_BYTES)
            k = HO_DGRAM_MAX_BYTES - at;
        memcpy(b + at, o->b + from, k);
        n = at + k;
        break;
    }
    case 11: /* duplicate a record */
        if (nr && r + 13 <= n) {
            size_t rl = (size_t)b[r + 11] << 8 | b[r + 12];
            size_t k = 13 + rl <= n - r ? 13 + rl : n - r;
            if (n + k <= HO_DGRAM_MAX_BYTES) {
                memcpy(b + n, b + r, k);
                n += k;
            }
        }
        break;
    case 12: /* zero a run */
        if (n) {
            size_t at = rnd() % n, k = 1 + rnd() % 16;
            memset(b + at, 0, at + k <= n ? k : n - at);
        }
        break;
    default: /* the datagram as captured (a replay) */
        break;
    }
    return n;
}

static void drain(int fd)
{
    uint8_t junk[HO_DGRAM_MAX_BYTES];
    while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0) {
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int cmd_mutate(int argc, char **argv)
{
    const char *server_s = NULL, *src_s = NULL, *key_hex = "00112233445566778899aabbccddeeff";
    unsigned long n = 100000;
    uint64_t seed = 1;
    static const struct option opts[] = {
        {"server", 1, NULL, 's'}, {"src", 1, NULL, 'a'},          {"n", 1, NULL, 'n'},
        {"seed", 1, NULL, 'S'},   {"psk-identity", 1, NULL, 'i'}, {"psk-key", 1, NULL, 'k'},
        {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 's')
            server_s = optarg;
        else if (o == 'a')
            src_s = optarg;
        else if (o == 'n')
            n = strtoul(optarg, NULL, 10);
        else if (o == 'S')
            seed = strtoull(optarg, NULL, 10);
        else if (o == 'i')
            psk_id = optarg;
        else if (o == 'k')
            key_hex = optarg;
        else
            return 2;
    }
    rng = seed * 0x9e3779b97f4a7c15ull | 1;
    struct sockaddr_in srv, la = {.sin_family = AF_INET};
    size_t kl = strlen(key_hex);
    if (parse_ipport(server_s, &srv) < 0 || !src_s ||
        inet_pton(AF_INET, src_s, &la.sin_addr) != 1 || kl % 2 || kl / 2 > sizeof(psk) || kl == 0) {
        fprintf(stderr, "mutate: bad arguments\n");
        return 2;
    }
    for (size_t i = 0; i < kl / 2; i++)
        psk[i] = (uint8_t)(hexval(key_hex[2 * i]) << 4 | hexval(key_hex[2 * i + 1]));
    psk_len = kl / 2;

    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx, "PSK-AES128-GCM-SHA256") != 1)
        return 2;
    SSL_CTX_set_psk_client_callback(ctx, psk_cb);
    SSL_CTX_set_read_ahead(ctx, 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
        connect(fd, (struct sockaddr *)&srv, sizeof(srv)) != 0) {
        perror("mutate: bind/connect");
        return 1;
    }
    BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &srv);
    BIO_set_callback_ex(bio, cap_cb);
    SSL *ssl = SSL_new(ctx);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_connect_state(ssl);
    char buf[256];
    uint64_t deadline = tl_mono_ms() + 30000;
    while (!SSL_is_init_finished(ssl) && tl_mono_ms() < deadline) {
        int r = SSL_do_handshake(ssl);
        if (r <= 0 && SSL_get_error(ssl, r) == SSL_ERROR_SSL)
            break;
        (void)pump(ssl, fd, buf, sizeof(buf), 20);
    }
    unsigned checks = 0, echoed = 0;
    if (!SSL_is_init_finished(ssl)) {
        printf("MUTATE sent=0 captured=%u checks=0 echoed=0 bytes=0 (no handshake)\n", n_cap);
        return 1;
    }
    for (unsigned i = 0; i < 8; i++)
        echoed += echo(ssl, fd, i), checks++;
    BIO_set_callback_ex(bio, NULL); /* the capture is complete */

    int other[HO_OTHER_SOCKETS];
    for (unsigned i = 0; i < HO_OTHER_SOCKETS; i++) {
        other[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in oa = la;
        oa.sin_port = 0;
        if (other[i] < 0 || bind(other[i], (struct sockaddr *)&oa, sizeof(oa)) != 0 ||
            connect(other[i], (struct sockaddr *)&srv, sizeof(srv)) != 0) {
            perror("mutate: other socket");
            return 1;
        }
    }
    uint8_t d[HO_DGRAM_MAX_BYTES];
    uint64_t bytes = 0, t0 = tl_mono_ms();
    unsigned long sent = 0;
    while (sent < n) {
        const struct dgram *c = &cap[rnd() % n_cap];
        memcpy(d, c->b, c->n);
        size_t len = mutate(d, c->n);
        if (rnd() % 4 == 0)
            len = mutate(d, len); /* sometimes twice */
        int s = rnd() % 5 < 3 ? fd : other[rnd() % HO_OTHER_SOCKETS];
        ssize_t w = send(s, d, len, 0);
        if (w < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
            struct pollfd p = {.fd = s, .events = POLLOUT};
            (void)poll(&p, 1, 5);
            continue;
        }
        sent++;
        bytes += len;
        if (sent % 512 == 0) {
            drain(fd);
            for (unsigned i = 0; i < HO_OTHER_SOCKETS; i++)
                drain(other[i]);
        }
        if (sent % HO_CHECK_EVERY == 0) {
            /* Keep the session from going idle and prove it answers. */
            echoed += echo(ssl, fd, 100 + checks), checks++;
        }
    }
    tl_sleep_ms(300);
    drain(fd);
    for (unsigned i = 0; i < 8; i++)
        echoed += echo(ssl, fd, 1000000 + i), checks++;
    double el = (double)(tl_mono_ms() - t0) / 1000.0;
    printf("MUTATE sent=%lu captured=%u checks=%u echoed=%u bytes=%" PRIu64 " secs=%.1f\n", sent,
           n_cap, checks, echoed, bytes, el);
    for (unsigned i = 0; i < HO_OTHER_SOCKETS; i++)
        close(other[i]);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return echoed == checks ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "mutate") == 0)
        return cmd_mutate(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "flood") == 0) {
        const char *target = NULL, *net = NULL;
        unsigned secs = 10;
        uint64_t seed = 1;
        static const struct option opts[] = {{"target", 1, NULL, 't'},
                                             {"src-net", 1, NULL, 'n'},
                                             {"secs", 1, NULL, 's'},
                                             {"seed", 1, NULL, 'S'},
                                             {NULL, 0, NULL, 0}};
        int o;
        optind = 2;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
            if (o == 't')
                target = optarg;
            else if (o == 'n')
                net = optarg;
            else if (o == 's')
                secs = (unsigned)strtoul(optarg, NULL, 10);
            else if (o == 'S')
                seed = strtoull(optarg, NULL, 10);
            else
                return 2;
        }
        rng = seed * 0x9e3779b97f4a7c15ull | 1;
        return cmd_flood(target, net, secs);
    }
    fprintf(stderr, "usage: e2e-hostile flood|mutate ...\n");
    return 2;
}
