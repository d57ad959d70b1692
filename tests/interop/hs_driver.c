/* hs_driver.c — hs-driver: the sans-IO handshake engine (control/hs.h)
 * behind a kernel UDP socket, so real DTLS clients (openssl s_client,
 * gnutls-cli, libcoap) can be run against it in tests.
 *
 * Per peer address: stateless cookie exchange first (hs_cookie_check, HVR
 * sent back), a struct hs once the cookie verified, poll() on the engine's
 * timer deadlines, and after ESTABLISHED the application data either echoed
 * back (--echo) or forwarded to a UDP backend over a per-session socket
 * (--backend), with the backend's replies encrypted back (hs_seal_app).
 * One log line per session event ("ESTABLISHED peer=... suite=... identity=...").
 * --capture DIR writes every session's received datagrams (handshake, then
 * application data and alerts) in the fuzz input format of
 * tests/fuzz/fuzz_engine.c (2-byte big-endian length, then the datagram;
 * length 0 marks a retransmission timer firing) when the session ends.
 * --deterministic-rand (with --no-cookie) makes libcrypto's randomness a
 * counter stream rewound at every hs_new (det_rand.h), so captures replay in
 * fuzz-engine past the Finished check: for recording the seed corpus only.
 *
 * Owns: sockets, the peer table, logs and capture files.  Must not: parse
 * DTLS itself (everything goes through hs.h).  Test tool, not the product.
 */
#include "det_rand.h" /* first: it sets how OpenSSL headers declare RAND */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "tl_addr.h"
#include "tl_clock.h"
#include "udp_util.h"

#define DRV_MAX_SESSIONS            128
#define DRV_MAX_CERTS               4
#define DRV_DGRAM_MAX_BYTES         65535
#define DRV_SEAL_OVERHEAD_MAX_BYTES 64 /* header 13 + nonce 8 + tag 16 */
#define DRV_IDLE_DEFAULT_MS         60000
#define DRV_POLL_MAX_MS             1000
#define DRV_CAPTURE_MAX_BYTES       (256 * 1024)
#define DRV_CAPTURE_TIMER_MARK      0 /* length 0: hs_timeout() */

struct session {
    bool used;
    unsigned id;
    struct sockaddr_in addr;
    struct hs_peer peer;
    struct hs *hs;
    uint64_t timer_ms; /* 0: none */
    uint64_t last_ms;
    bool established;
    int be_fd;    /* backend socket (--backend), or -1 */
    uint8_t *cap; /* --capture buffer */
    size_t cap_len;
    bool cap_written;
    uint16_t suite; /* after ESTABLISHED, for the capture name */
};

struct drv_stats {
    uint64_t rx, tx, hvr_sent, cookie_drops, new_hs, established, closed, failed, timeouts,
        idle_expired, app_in, app_out, table_full, send_errors;
};

static struct session g_sess[DRV_MAX_SESSIONS];
static struct drv_stats g_st;
static unsigned g_next_id = 1;
static int g_fd = -1;
static FILE *g_log;
static const char *g_capture_dir;
static bool g_have_backend;
static struct sockaddr_in g_backend;
static uint64_t g_idle_ms = DRV_IDLE_DEFAULT_MS;
static bool g_det_rand;

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g_log, fmt, ap);
    va_end(ap);
    fputc('\n', g_log);
    fflush(g_log);
}

static const char *peer_str(const struct sockaddr_in *a, char *buf, size_t cap)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(buf, cap, "%s:%u", ip, ntohs(a->sin_port));
    return buf;
}

static void send_to_peer(const struct sockaddr_in *to, const uint8_t *buf, size_t len)
{
    if (sendto(g_fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
        g_st.send_errors++;
    else
        g_st.tx++;
}

/* ---- capture (fuzz corpus) ------------------------------------------- */
static void cap_append(struct session *s, const uint8_t *d, size_t len)
{
    if (s->cap == NULL || s->cap_written || len > 0xffffu)
        return;
    if (len + 2 > DRV_CAPTURE_MAX_BYTES - s->cap_len)
        return;
    s->cap[s->cap_len++] = (uint8_t)(len >> 8);
    s->cap[s->cap_len++] = (uint8_t)len;
    if (len > 0)
        memcpy(s->cap + s->cap_len, d, len);
    s->cap_len += len;
}

static void cap_write(struct session *s, const char *tag)
{
    if (s->cap == NULL || s->cap_written || s->cap_len == 0)
        return;
    s->cap_written = true;
    char path[1024];
    snprintf(path, sizeof(path), "%s/hs-%d-%u-%s.bin", g_capture_dir, (int)getpid(), s->id, tag);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        logf_("CAPTURE-ERROR %s: %s", path, strerror(errno));
        return;
    }
    if (fwrite(s->cap, 1, s->cap_len, f) != s->cap_len)
        logf_("CAPTURE-ERROR %s: short write", path);
    fclose(f);
}

/* ---- sessions ------------------------------------------------------------ */
static struct session *sess_find(const struct sockaddr_in *a)
{
    for (unsigned i = 0; i < DRV_MAX_SESSIONS; i++) {
        struct session *s = &g_sess[i];
        if (s->used && udpu_addr_eq(&s->addr, a))
            return s;
    }
    return NULL;
}

static void sess_remove(struct session *s, const char *why)
{
    char ps[64];
    if (!s->used)
        return;
    char tag[16];
    if (s->established)
        snprintf(tag, sizeof(tag), "est-%04x", s->suite);
    else
        snprintf(tag, sizeof(tag), "fail");
    cap_write(s, tag);
    const struct hs_stats *hst = hs_get_stats(s->hs);
    logf_("REMOVED id=%u peer=%s reason=%s bad_mac=%llu dropped=%llu retransmits=%llu", s->id,
          peer_str(&s->addr, ps, sizeof(ps)), why, (unsigned long long)(hst ? hst->bad_mac : 0),
          (unsigned long long)(hst ? hst->dropped_records : 0),
          (unsigned long long)(hst ? hst->retransmits : 0));
    hs_free(s->hs);
    if (s->be_fd >= 0)
        close(s->be_fd);
    free(s->cap);
    memset(s, 0, sizeof(*s));
    s->be_fd = -1;
}

static struct session *sess_add(struct hs_ctx *ctx, const struct sockaddr_in *a,
                                const struct hs_peer *peer, uint64_t now)
{
    struct session *slot = NULL;
    for (unsigned i = 0; i < DRV_MAX_SESSIONS && slot == NULL; i++)
        if (!g_sess[i].used)
            slot = &g_sess[i];
    if (slot == NULL) {
        g_st.table_full++;
        return NULL;
    }
    if (g_det_rand)
        det_rand_reset();
    struct hs *hs = hs_new(ctx, peer, now);
    if (hs == NULL)
        return NULL;
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    slot->id = g_next_id++;
    slot->addr = *a;
    slot->peer = *peer;
    slot->hs = hs;
    slot->last_ms = now;
    slot->be_fd = -1;
    if (g_capture_dir != NULL)
        slot->cap = malloc(DRV_CAPTURE_MAX_BYTES); /* NULL: just no capture */
    g_st.new_hs++;
    return slot;
}

static int backend_open(struct session *s)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&g_backend, sizeof(g_backend)) != 0) {
        close(fd);
        return -1;
    }
    s->be_fd = fd;
    return 0;
}

static void seal_and_send(struct session *s, const uint8_t *pt, size_t len)
{
    static uint8_t rec[DRV_DGRAM_MAX_BYTES + DRV_SEAL_OVERHEAD_MAX_BYTES];
    size_t rec_len = 0;
    int rc = hs_seal_app(s->hs, pt, len, rec, sizeof(rec), &rec_len);
    if (rc < 0) {
        logf_("SEAL-ERROR id=%u len=%zu: %s", s->id, len, cr_strerror(rc));
        return;
    }
    send_to_peer(&s->addr, rec, rec_len);
    g_st.app_out++;
}

static void on_established(struct session *s)
{
    char ps[64];
    const struct hs_keys *k = hs_keys(s->hs);
    const struct hs_suite_info *si = k ? hs_suite_find(k->suite) : NULL;
    s->established = true;
    g_st.established++;
    /* No dataplane here: the engine seals every record of the session. */
    if (hs_own_write_seq(s->hs) != 0)
        logf_("SEQ-ERROR id=%u", s->id);
    static const char *kex_names[] = {"PSK", "ECDHE_PSK", "ECDHE_ECDSA", "ECDHE_RSA"};
    logf_("ESTABLISHED id=%u peer=%s suite=%s suite_id=0x%04X kex=%s identity=\"%s\" sni=\"%s\" "
          "resumed=%d",
          s->id, peer_str(&s->addr, ps, sizeof(ps)), si ? si->name : "?", k ? k->suite : 0,
          k && (unsigned)k->kex < 4 ? kex_names[k->kex] : "?", k ? k->peer_identity : "",
          k ? k->sni : "", k && k->resumed ? 1 : 0);
    s->suite = k ? k->suite : 0;
    if (g_have_backend && backend_open(s) != 0)
        logf_("BACKEND-ERROR id=%u: %s", s->id, strerror(errno));
}

/* Acts on one engine output; returns false when the session was removed. */
static bool handle_out(struct session *s, int rc, const struct hs_out *out)
{
    char ps[64];
    for (unsigned i = 0; i < out->n_dgrams; i++)
        send_to_peer(&s->addr, out->dgrams[i].data, out->dgrams[i].len);
    s->timer_ms = out->next_timer_ms;
    if (out->event == HS_EV_ESTABLISHED && !s->established)
        on_established(s);
    for (unsigned i = 0; i < out->n_app; i++) {
        g_st.app_in++;
        if (g_have_backend) {
            if (s->be_fd >= 0 && send(s->be_fd, out->app[i].data, out->app[i].len, 0) < 0)
                g_st.send_errors++;
        } else {
            seal_and_send(s, out->app[i].data, out->app[i].len);
        }
    }
    switch (out->event) {
    case HS_EV_CLOSED:
        g_st.closed++;
        logf_("CLOSED id=%u peer=%s", s->id, peer_str(&s->addr, ps, sizeof(ps)));
        sess_remove(s, "close_notify");
        return false;
    case HS_EV_FAILED:
        g_st.failed++;
        logf_("FAILED id=%u peer=%s alert=%d rc=%d (%s)", s->id, peer_str(&s->addr, ps, sizeof(ps)),
              out->alert, rc, cr_strerror(rc));
        sess_remove(s, "failed");
        return false;
    case HS_EV_TIMEOUT:
        g_st.timeouts++;
        logf_("TIMEOUT id=%u peer=%s", s->id, peer_str(&s->addr, ps, sizeof(ps)));
        sess_remove(s, "timeout");
        return false;
    default:
        break;
    }
    if (rc < 0) {
        g_st.failed++;
        logf_("FAILED id=%u peer=%s alert=%d rc=%d (%s)", s->id, peer_str(&s->addr, ps, sizeof(ps)),
              out->alert, rc, cr_strerror(rc));
        sess_remove(s, "error");
        return false;
    }
    return true;
}

static void on_client_dgram(struct hs_ctx *ctx, bool cookies, const struct sockaddr_in *from,
                            const uint8_t *d, size_t len, uint64_t now)
{
    static struct hs_out out;
    static uint8_t hvr[DRV_DGRAM_MAX_BYTES];
    struct session *s = sess_find(from);
    if (s == NULL) {
        struct hs_peer peer = {.port = ntohs(from->sin_port), .family = 4};
        memcpy(peer.addr, &from->sin_addr, 4);
        /* Only a ClientHello opens a session; with cookies off the check
         * is just that filter (its HVR is not sent). */
        size_t hvr_len = 0;
        int v = hs_cookie_check(ctx, &peer, d, len, hvr, sizeof(hvr), &hvr_len);
        if (v == HS_COOKIE_DROP) {
            g_st.cookie_drops++;
            return;
        }
        if (cookies && v == HS_COOKIE_SEND_HVR) {
            send_to_peer(from, hvr, hvr_len);
            g_st.hvr_sent++;
            return;
        }
        s = sess_add(ctx, from, &peer, now);
        if (s == NULL)
            return;
    }
    s->last_ms = now;
    memset(&out, 0, sizeof(out));
    cap_append(s, d, len);
    int rc = hs_input(s->hs, d, len, now, &out);
    handle_out(s, rc, &out);
}

static void on_timer(struct session *s, uint64_t now)
{
    static struct hs_out out;
    memset(&out, 0, sizeof(out));
    cap_append(s, NULL, DRV_CAPTURE_TIMER_MARK);
    int rc = hs_timeout(s->hs, now, &out);
    handle_out(s, rc, &out);
}

static void on_backend_dgram(struct session *s, uint64_t now)
{
    static uint8_t buf[DRV_DGRAM_MAX_BYTES];
    for (;;) {
        ssize_t n = recv(s->be_fd, buf, sizeof(buf), 0);
        if (n < 0)
            return; /* EAGAIN, or ECONNREFUSED from an earlier send */
        s->last_ms = now;
        seal_and_send(s, buf, (size_t)n);
    }
}

/* --tickets: RFC 5077 session tickets under one random key. */
static uint64_t wall_clock_s(void *arg)
{
    (void)arg;
    return (uint64_t)time(NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: hs-driver [--bind ADDR] [--port PORT] [--port-file FILE] [--log FILE]\n"
                    "       [--psk-file FILE] [--cert CHAIN.pem --key KEY.pem]... [--ca CA.pem]\n"
                    "       [--client-auth none|optional|require] [--mtu BYTES] [--suites LIST]\n"
                    "       [--no-cookie] [--echo | --backend HOST:PORT] [--capture DIR]\n"
                    "       [--idle-ms MS] [--retrans-ms MS] [--retrans-max-ms MS]\n"
                    "       [--deterministic-rand] [--tickets] [--session-cache N]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"bind", required_argument, NULL, 'b'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"port-file", required_argument, NULL, 'P'},
                                         {"log", required_argument, NULL, 'l'},
                                         {"psk-file", required_argument, NULL, 'k'},
                                         {"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'K'},
                                         {"ca", required_argument, NULL, 'a'},
                                         {"client-auth", optional_argument, NULL, 'A'},
                                         {"mtu", required_argument, NULL, 'm'},
                                         {"suites", required_argument, NULL, 's'},
                                         {"no-cookie", no_argument, NULL, 'n'},
                                         {"echo", no_argument, NULL, 'e'},
                                         {"backend", required_argument, NULL, 'B'},
                                         {"capture", required_argument, NULL, 'C'},
                                         {"idle-ms", required_argument, NULL, 'i'},
                                         {"retrans-ms", required_argument, NULL, 'r'},
                                         {"deterministic-rand", no_argument, NULL, 'D'},
                                         {"retrans-max-ms", required_argument, NULL, 'R'},
                                         {"tickets", no_argument, NULL, 'T'},
                                         {"session-cache", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *bind_addr = "127.0.0.1", *port_file = NULL, *log_path = NULL;
    const char *psk_file = NULL, *ca_file = NULL, *suites = NULL;
    const char *certs[DRV_MAX_CERTS], *keys[DRV_MAX_CERTS];
    unsigned n_certs = 0, n_keys = 0;
    long port = 0;
    uint16_t port16;
    int arc; /* a tl_addr_parse* result */
    struct hs_params params;
    hs_params_default(&params);
    bool cookies = true, tickets = false;
    unsigned long session_cache = 0;
    static struct cr_seal_ring ring;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 'b':
            bind_addr = optarg;
            break;
        case 'p':
            if ((arc = tl_addr_parse_port(optarg, TL_ADDR_PORT_ZERO, &port16)) != TL_ADDR_OK) {
                fprintf(stderr, "hs-driver: bad --port %s: %s\n", optarg, tl_addr_strerror(arc));
                return 2;
            }
            port = port16;
            break;
        case 'P':
            port_file = optarg;
            break;
        case 'l':
            log_path = optarg;
            break;
        case 'k':
            psk_file = optarg;
            break;
        case 'c':
            if (n_certs == DRV_MAX_CERTS) {
                fprintf(stderr, "hs-driver: at most %d --cert\n", DRV_MAX_CERTS);
                return 2;
            }
            certs[n_certs++] = optarg;
            break;
        case 'K':
            if (n_keys == DRV_MAX_CERTS) {
                fprintf(stderr, "hs-driver: at most %d --key\n", DRV_MAX_CERTS);
                return 2;
            }
            keys[n_keys++] = optarg;
            break;
        case 'a':
            ca_file = optarg;
            break;
        case 'A':
            if (optarg == NULL || strcmp(optarg, "require") == 0)
                params.client_auth = HS_CLIENT_AUTH_REQUIRE;
            else if (strcmp(optarg, "optional") == 0)
                params.client_auth = HS_CLIENT_AUTH_OPTIONAL;
            else if (strcmp(optarg, "none") == 0)
                params.client_auth = HS_CLIENT_AUTH_NONE;
            else {
                fprintf(stderr, "hs-driver: bad --client-auth %s\n", optarg);
                return 2;
            }
            break;
        case 'm': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end != '\0' || v < HS_MTU_MIN_BYTES || v > HS_MTU_MAX_BYTES) {
                fprintf(stderr, "hs-driver: --mtu must be %d..%d\n", HS_MTU_MIN_BYTES,
                        HS_MTU_MAX_BYTES);
                return 2;
            }
            params.mtu_bytes = (uint32_t)v;
            break;
        }
        case 's':
            suites = optarg;
            break;
        case 'n':
            cookies = false;
            break;
        case 'e':
            g_have_backend = false;
            break;
        case 'B':
            if ((arc = tl_addr_parse_in4(optarg, 0, &g_backend)) != TL_ADDR_OK) {
                fprintf(stderr, "hs-driver: bad --backend %s (want IPv4:PORT): %s\n", optarg,
                        tl_addr_strerror(arc));
                return 2;
            }
            g_have_backend = true;
            break;
        case 'C':
            g_capture_dir = optarg;
            break;
        case 'R':
            params.retrans_max_ms = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'D':
            g_det_rand = true;
            break;
        case 'T':
            tickets = true;
            break;
        case 'S':
            session_cache = strtoul(optarg, NULL, 10);
            break;
        case 'i':
            g_idle_ms = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            params.retrans_initial_ms = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        default:
            usage();
            return 2;
        }
    }
    if (optind != argc || n_certs != n_keys) {
        usage();
        return 2;
    }
    params.cookie_required = cookies;
    if (suites != NULL) {
        int n = hs_suite_list_parse(suites, params.suites, HS_MAX_SUITES);
        if (n <= 0) {
            fprintf(stderr, "hs-driver: bad --suites %s: %s\n", suites,
                    n < 0 ? cr_strerror(n) : "empty");
            return 2;
        }
        params.n_suites = (unsigned)n;
    }
    if (g_det_rand && det_rand_install() != 0) {
        fprintf(stderr, "hs-driver: cannot install the deterministic RAND method\n");
        return 1;
    }
    g_log = stderr;
    if (log_path != NULL && (g_log = fopen(log_path, "a")) == NULL) {
        perror(log_path);
        return 1;
    }

    struct hs_creds *creds = hs_creds_new();
    if (creds == NULL) {
        fprintf(stderr, "hs-driver: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (unsigned i = 0; i < n_certs && rc == 0; i++)
        if ((rc = hs_creds_load_cert(creds, certs[i], keys[i])) < 0)
            fprintf(stderr, "hs-driver: %s / %s: %s\n", certs[i], keys[i], cr_strerror(rc));
    if (rc == 0 && psk_file != NULL && (rc = hs_creds_load_psk_file(creds, psk_file)) < 0)
        fprintf(stderr, "hs-driver: %s: %s\n", psk_file, cr_strerror(rc));
    if (rc == 0 && ca_file != NULL && (rc = hs_creds_load_ca(creds, ca_file)) < 0)
        fprintf(stderr, "hs-driver: %s: %s\n", ca_file, cr_strerror(rc));
    if (rc < 0) {
        hs_creds_free(creds);
        return 1;
    }
    struct hs_ctx *ctx = hs_ctx_new(&params, creds);
    if (ctx == NULL) {
        fprintf(stderr, "hs-driver: hs_ctx_new failed (no usable suite for the credentials?)\n");
        hs_creds_free(creds);
        return 1;
    }
    if (tickets) {
        const struct hs_ticket_params tp = {.ring = &ring,
                                            .listener = "hs-driver",
                                            .lifetime_s = HS_TICKET_LIFETIME_DEFAULT_S,
                                            .wall_clock_s = wall_clock_s};
        if (cr_seal_ring_init(&ring) != 0 || cr_seal_ring_rotate(&ring, tl_mono_ms()) != 0 ||
            hs_ctx_set_tickets(ctx, &tp) != 0) {
            fprintf(stderr, "hs-driver: cannot set up session tickets\n");
            return 1;
        }
    }
    if (session_cache > 0) {
        const struct hs_session_cache_params sp = {.max_entries = (uint32_t)session_cache,
                                                   .lifetime_s = HS_TICKET_LIFETIME_DEFAULT_S,
                                                   .id_tag = -1};
        if (session_cache > HS_SESSION_CACHE_MAX_ENTRIES ||
            hs_ctx_set_session_cache(ctx, &sp) != 0) {
            fprintf(stderr, "hs-driver: cannot set up the session-ID cache of %lu\n",
                    session_cache);
            return 1;
        }
    }

    struct sockaddr_in la;
    g_fd = udpu_listen("hs-driver", bind_addr, port, SOCK_NONBLOCK, port_file, &la);
    if (g_fd < 0)
        return g_fd == -2 ? 2 : 1;
    logf_("LISTENING %s:%u mode=%s cookies=%s tickets=%s mtu=%u%s", bind_addr, ntohs(la.sin_port),
          g_have_backend ? "backend" : "echo", cookies ? "on" : "off", tickets ? "on" : "off",
          params.mtu_bytes, g_det_rand ? " DETERMINISTIC-RAND(insecure)" : "");
    for (unsigned i = 0; i < DRV_MAX_SESSIONS; i++)
        g_sess[i].be_fd = -1;

    udpu_install_stop();
    signal(SIGPIPE, SIG_IGN);

    static uint8_t buf[DRV_DGRAM_MAX_BYTES];
    static struct pollfd pfd[1 + DRV_MAX_SESSIONS];
    static struct session *pses[1 + DRV_MAX_SESSIONS];
    while (!udpu_stop) {
        uint64_t now = tl_mono_ms();
        uint64_t wake = now + DRV_POLL_MAX_MS;
        unsigned n = 0;
        pfd[n].fd = g_fd;
        pfd[n].events = POLLIN;
        pses[n++] = NULL;
        for (unsigned i = 0; i < DRV_MAX_SESSIONS; i++) {
            struct session *s = &g_sess[i];
            if (!s->used)
                continue;
            if (s->timer_ms != 0 && s->timer_ms < wake)
                wake = s->timer_ms;
            if (s->be_fd >= 0) {
                pfd[n].fd = s->be_fd;
                pfd[n].events = POLLIN;
                pses[n++] = s;
            }
        }
        int timeout = wake > now ? (int)(wake - now) : 0;
        int r = poll(pfd, n, timeout);
        if (r < 0 && errno != EINTR) {
            perror("hs-driver: poll");
            break;
        }
        now = tl_mono_ms();
        if (r > 0 && (pfd[0].revents & POLLIN)) {
            for (unsigned burst = 0; burst < 64; burst++) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t len = recvfrom(g_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
                if (len < 0)
                    break;
                g_st.rx++;
                if (fl != sizeof(from) || from.sin_family != AF_INET)
                    continue;
                on_client_dgram(ctx, cookies, &from, buf, (size_t)len, now);
            }
        }
        for (unsigned i = 1; r > 0 && i < n; i++)
            if (pses[i]->used && pses[i]->be_fd == pfd[i].fd &&
                (pfd[i].revents & (POLLIN | POLLERR)))
                on_backend_dgram(pses[i], now);
        for (unsigned i = 0; i < DRV_MAX_SESSIONS; i++) {
            struct session *s = &g_sess[i];
            if (s->used && s->timer_ms != 0 && s->timer_ms <= now)
                on_timer(s, now);
            if (s->used && now - s->last_ms > g_idle_ms) {
                g_st.idle_expired++;
                sess_remove(s, "idle");
            }
        }
    }

    for (unsigned i = 0; i < DRV_MAX_SESSIONS; i++)
        if (g_sess[i].used) {
            static struct hs_out out;
            memset(&out, 0, sizeof(out));
            if (g_sess[i].established && hs_close(g_sess[i].hs, &out) == 0)
                for (unsigned j = 0; j < out.n_dgrams; j++)
                    send_to_peer(&g_sess[i].addr, out.dgrams[j].data, out.dgrams[j].len);
            sess_remove(&g_sess[i], "shutdown");
        }
    logf_("STATS rx=%llu tx=%llu hvr=%llu cookie_drops=%llu new_hs=%llu established=%llu "
          "closed=%llu failed=%llu timeouts=%llu idle=%llu app_in=%llu app_out=%llu "
          "table_full=%llu send_errors=%llu",
          (unsigned long long)g_st.rx, (unsigned long long)g_st.tx,
          (unsigned long long)g_st.hvr_sent, (unsigned long long)g_st.cookie_drops,
          (unsigned long long)g_st.new_hs, (unsigned long long)g_st.established,
          (unsigned long long)g_st.closed, (unsigned long long)g_st.failed,
          (unsigned long long)g_st.timeouts, (unsigned long long)g_st.idle_expired,
          (unsigned long long)g_st.app_in, (unsigned long long)g_st.app_out,
          (unsigned long long)g_st.table_full, (unsigned long long)g_st.send_errors);
    hs_ctx_free(ctx);
    hs_creds_free(creds);
    if (tickets)
        cr_seal_ring_wipe(&ring);
    close(g_fd);
    if (g_log != stderr)
        fclose(g_log);
    return 0;
}
