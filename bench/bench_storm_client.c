/* bench_storm_client.c — the reconnect-storm load client of bench-storm.sh:
 * C DTLS 1.2 sessions (libssl, one connected UDP socket each, one epoll
 * loop) that are held across a gateway restart and report, per session,
 * how long until it carried data again.
 *
 * Phases (the script drives them with signals):
 *   setup    C sessions handshake (at most --hs-window at a time), each
 *            then gets one echoed probe; --ready-file is written
 *            ("up=N") and the client waits;
 *   SIGUSR1  the restart begins (t_kill): no more probes; echoes that still
 *            arrive are ignored;
 *   SIGUSR2  the new gateway answers (t_storm): every session at once sends
 *            a probe (one record of --size bytes, tagged) and repeats it
 *            every --probe-ms; a session without an echo for --lost-ms
 *            (or that got a fatal alert) handshakes again on the
 *            same socket (with --tickets offering its saved session, else a
 *            full handshake; libssl's own retransmission timer) and probes
 *            once it is up (a session that got close_notify or an alert
 *            from the stopping gateway handshakes at t_storm without
 *            probing first); the first echo of a probe sent after t_storm
 *            marks the session back (t_back);
 *   end      when every session is back, or --deadline s after t_storm.
 * Reported (one RESULT key=value line on stdout): per session t_back -
 * t_kill (p50/p99/max: the restart as a client sees it, downtime
 * included) and t_back - t_storm, the downtime t_storm - t_kill, how many
 * came back without a handshake / with one (resumed or full), handshake
 * attempts, sessions not back.  A probe carries an 8-byte tag (session
 * index << 8 | generation) so stale echoes are told apart.
 *
 * Owns: its sockets and SSL objects.  Must not: assert on timings (it
 * prints figures), be used by the product.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define REC_MAX_BYTES   16384
#define TICK_NS         5000000ull /* timers and probes every 5 ms */
#define EPOLL_BATCH     512
#define SETTLE_PROBE_NS 500000000ull

enum phase {
    PH_SETUP,
    PH_READY,
    PH_QUIET,
    PH_STORM,
};
enum sess_state {
    S_IDLE,
    S_HS,
    S_UP,     /* established, probing if its probe is outstanding */
    S_BACK,   /* after the storm: echoed again */
    S_FAILED, /* setup gave up */
};

struct sess {
    int idx, fd;
    enum sess_state state;
    SSL *ssl;
    SSL_SESSION *saved; /* --tickets: offered on the next handshake */
    uint64_t t_hs, t_probe;
    uint64_t t_wait;     /* since when a probe is outstanding (none echoed since) */
    bool probe_out;      /* a probe of this generation is outstanding */
    bool settled;        /* setup: one probe echoed */
    unsigned handshakes; /* after the storm */
    bool resumed;        /* its last handshake resumed */
    bool closed;         /* close_notify or alert while the gateway was away */
    uint64_t t_back;
};

static struct {
    struct sockaddr_in target;
    unsigned sessions, hs_window, size, probe_ms, lost_ms, deadline_s, setup_timeout_s;
    const char *psk_id, *cipher, *groups, *ready_file;
    uint8_t psk[64];
    int psk_len;
    bool tickets;
} cfg = {.sessions = 1000,
         .hs_window = 64,
         .size = 64,
         .probe_ms = 250,
         .lost_ms = 2000,
         .deadline_s = 120,
         .setup_timeout_s = 300};

static SSL_CTX *ctx;
static struct sess *ss;
static int ep;
static enum phase phase = PH_SETUP;
static uint8_t generation; /* 0 setup, 1 storm */
static uint64_t now, t_kill, t_storm;
static unsigned hs_inflight, n_up, n_back, n_failed_setup;
static uint64_t hs_attempts, hs_failures, alerts;
static uint8_t buf[REC_MAX_BYTES + 512], pay[REC_MAX_BYTES];

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-storm-client: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

static unsigned int psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id,
                           unsigned char *psk, unsigned int max_psk)
{
    (void)ssl, (void)hint;
    if (strlen(cfg.psk_id) + 1 > max_id || (unsigned)cfg.psk_len > max_psk)
        return 0;
    strcpy(id, cfg.psk_id);
    memcpy(psk, cfg.psk, (size_t)cfg.psk_len);
    return (unsigned)cfg.psk_len;
}

static void send_probe(struct sess *s)
{
    uint64_t tag = ((uint64_t)s->idx << 8) | generation;
    memcpy(pay, &tag, sizeof(tag));
    int r = SSL_write(s->ssl, pay, (int)cfg.size);
    if (r <= 0)
        ERR_clear_error(); /* socket full: as if lost */
    if (!s->probe_out)
        s->t_wait = now;
    s->t_probe = now;
    s->probe_out = true;
}

static void start_handshake(struct sess *s)
{
    if (s->ssl) {
        if (cfg.tickets && SSL_get_session(s->ssl) && !s->saved)
            s->saved = SSL_get1_session(s->ssl);
        /* libssl marks the session not resumable when its SSL is freed
         * without a shutdown (ssl_clear_bad_session), and s->saved is that
         * same session: the connection ended cleanly (the gateway's
         * close_notify, or it went away), so free it as a closed one. */
        if (cfg.tickets)
            SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(s->ssl);
    }
    ERR_clear_error();
    s->ssl = SSL_new(ctx);
    BIO *b = s->ssl ? BIO_new_dgram(s->fd, BIO_NOCLOSE) : NULL;
    if (!b)
        die("SSL_new / BIO_new_dgram");
    BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &cfg.target);
    SSL_set_bio(s->ssl, b, b);
    if (cfg.tickets && s->saved)
        SSL_set_session(s->ssl, s->saved);
    SSL_set_connect_state(s->ssl);
    s->state = S_HS;
    s->t_hs = now;
    s->probe_out = false;
    s->closed = false;
    hs_inflight++;
    hs_attempts++;
    if (phase == PH_STORM)
        s->handshakes++;
}

static void on_up(struct sess *s)
{
    hs_inflight--;
    s->state = S_UP;
    s->resumed = SSL_session_reused(s->ssl) == 1;
    if (cfg.tickets) {
        SSL_SESSION_free(s->saved);
        s->saved = SSL_get1_session(s->ssl);
    }
    if (phase == PH_SETUP || phase == PH_STORM)
        send_probe(s);
}

static void handshake(struct sess *s)
{
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        on_up(s);
        return;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    /* refused or an alert: start over (the tick paces retries) */
    hs_failures++;
    hs_inflight--;
    s->state = S_IDLE;
    s->t_hs = now;
    ERR_clear_error();
}

static void on_readable(struct sess *s)
{
    if (s->state == S_HS) {
        handshake(s);
        return;
    }
    if (s->state != S_UP && s->state != S_BACK) {
        /* drain */
        while (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            ;
        return;
    }
    for (int i = 0; i < 64; i++) {
        int n = SSL_read(s->ssl, buf, sizeof(buf));
        if (n <= 0) {
            int e = SSL_get_error(s->ssl, n);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            /* close_notify (the stopping gateway's, without a state
             * file), fatal alert, ECONNREFUSED: handshake again at once,
             * or as soon as the storm starts */
            alerts++;
            if (phase == PH_STORM && s->state == S_UP) {
                start_handshake(s);
                handshake(s);
            } else if (phase == PH_QUIET) {
                s->closed = true;
            }
            return;
        }
        uint64_t tag;
        if (n < 8)
            continue;
        memcpy(&tag, buf, sizeof(tag));
        if ((tag >> 8) != (uint64_t)s->idx || (uint8_t)tag != generation || !s->probe_out)
            continue; /* stale (before the restart) or not ours */
        s->probe_out = false;
        if (phase == PH_SETUP && !s->settled) {
            s->settled = true;
            n_up++;
        } else if (phase == PH_STORM && s->state == S_UP) {
            s->state = S_BACK;
            s->t_back = now;
            n_back++;
        }
    }
}

static void open_socket(struct sess *s)
{
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        die("socket (raise ulimit -n)");
    if (connect(s->fd, (struct sockaddr *)&cfg.target, sizeof(cfg.target)) < 0)
        die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
        die("epoll_ctl");
}

/* Every TICK_NS: handshake timers, probes, setup pacing. */
static void tick(void)
{
    uint64_t probe_ns = (uint64_t)cfg.probe_ms * 1000000, lost_ns = (uint64_t)cfg.lost_ms * 1000000;
    for (unsigned i = 0; i < cfg.sessions; i++) {
        struct sess *s = &ss[i];
        if (s->state == S_HS) {
            struct timeval tv;
            if (DTLSv1_get_timeout(s->ssl, &tv) == 1 && tv.tv_sec == 0 && tv.tv_usec == 0 &&
                DTLSv1_handle_timeout(s->ssl) < 0) {
                hs_failures++;
                hs_inflight--;
                s->state = S_IDLE;
                s->t_hs = now;
                ERR_clear_error();
            }
            continue;
        }
        if (phase == PH_SETUP) {
            if (s->state == S_UP && !s->settled && now - s->t_probe > SETTLE_PROBE_NS)
                send_probe(s);
            continue;
        }
        if (phase != PH_STORM)
            continue;
        if (s->state == S_IDLE && now - s->t_hs > probe_ns) {
            start_handshake(s);
            handshake(s);
        } else if (s->state == S_UP && s->probe_out && now - s->t_wait >= lost_ns) {
            start_handshake(s);
            handshake(s);
        } else if (s->state == S_UP && now - s->t_probe >= probe_ns) {
            send_probe(s);
        }
    }
    if (phase == PH_SETUP) {
        for (unsigned i = 0; i < cfg.sessions && hs_inflight < cfg.hs_window; i++)
            if (ss[i].state == S_IDLE && now - ss[i].t_hs > 100000000ull) {
                start_handshake(&ss[i]);
                handshake(&ss[i]);
            }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of sorted v[0..n), in ms. */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return -1;
    size_t k = (size_t)((double)(n - 1) * p / 100.0 + 0.5);
    return (double)v[k] / 1e6;
}

static void report(void)
{
    uint64_t *from_kill = calloc(cfg.sessions + 1, sizeof(uint64_t));
    uint64_t *from_storm = calloc(cfg.sessions + 1, sizeof(uint64_t));
    if (!from_kill || !from_storm)
        die("out of memory");
    size_t n = 0;
    unsigned no_hs = 0, resumed = 0, full = 0, not_back = 0;
    for (unsigned i = 0; i < cfg.sessions; i++) {
        struct sess *s = &ss[i];
        if (!s->settled)
            continue;
        if (s->state != S_BACK) {
            not_back++;
            continue;
        }
        from_kill[n] = s->t_back - t_kill;
        from_storm[n++] = s->t_back - t_storm;
        if (s->handshakes == 0)
            no_hs++;
        else if (s->resumed)
            resumed++;
        else
            full++;
    }
    qsort(from_kill, n, sizeof(uint64_t), cmp_u64);
    qsort(from_storm, n, sizeof(uint64_t), cmp_u64);
    printf("RESULT sessions=%u up=%u back=%zu not_back=%u back_no_handshake=%u back_resumed=%u "
           "back_full_handshake=%u hs_attempts=%" PRIu64 " hs_failures=%" PRIu64
           " closed_by_peer=%" PRIu64 " downtime_ms=%.1f "
           "kill_p50_ms=%.1f kill_p99_ms=%.1f kill_max_ms=%.1f "
           "storm_p50_ms=%.1f storm_p99_ms=%.1f storm_max_ms=%.1f probe_ms=%u lost_ms=%u\n",
           cfg.sessions, n_up, n, not_back, no_hs, resumed, full, hs_attempts, hs_failures, alerts,
           (double)(t_storm - t_kill) / 1e6, pct_ms(from_kill, n, 50), pct_ms(from_kill, n, 99),
           pct_ms(from_kill, n, 100), pct_ms(from_storm, n, 50), pct_ms(from_storm, n, 99),
           pct_ms(from_storm, n, 100), cfg.probe_ms, cfg.lost_ms);
    fflush(stdout);
    free(from_kill);
    free(from_storm);
}

static void usage(int rc)
{
    fprintf(stderr, "usage: bench-storm-client [options] IP:PORT\n"
                    "  -c N             sessions (1000)\n"
                    "  --psk ID:HEXKEY  PSK (default: certificate, server not verified)\n"
                    "  --cipher LIST    OpenSSL cipher list (default PSK-AES128-GCM-SHA256 or\n"
                    "                   ECDHE-ECDSA-AES128-GCM-SHA256)\n"
                    "  --groups LIST    key-exchange groups (default OpenSSL's)\n"
                    "  --tickets        ask for session tickets and resume with them\n"
                    "  --hs-window N    handshakes in flight during setup (64)\n"
                    "  --size S         probe payload bytes, 8..16384 (64)\n"
                    "  --probe-ms MS    probe period after the restart (250)\n"
                    "  --lost-ms MS     no echo this long (probes resent every --probe-ms, the\n"
                    "                   first sent after t_storm or the last handshake): new\n"
                    "                   handshake (2000, CoAP's ACK_TIMEOUT)\n"
                    "  --deadline S     give up S seconds after SIGUSR2 (120)\n"
                    "  --setup-timeout S  give up setup after S seconds (300)\n"
                    "  --ready-file F   written (\"up=N\") when setup is done\n");
    exit(rc);
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {{"psk", required_argument, 0, 'P'},
                                       {"cipher", required_argument, 0, 'C'},
                                       {"groups", required_argument, 0, 'G'},
                                       {"tickets", no_argument, 0, 'T'},
                                       {"hs-window", required_argument, 0, 'W'},
                                       {"size", required_argument, 0, 'S'},
                                       {"probe-ms", required_argument, 0, 'p'},
                                       {"lost-ms", required_argument, 0, 'l'},
                                       {"deadline", required_argument, 0, 'D'},
                                       {"setup-timeout", required_argument, 0, 'U'},
                                       {"ready-file", required_argument, 0, 'R'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (o) {
        case 'c':
            cfg.sessions = (unsigned)atoi(optarg);
            break;
        case 'P': {
            char *colon = strchr(optarg, ':');
            if (!colon)
                die("--psk wants IDENTITY:HEXKEY");
            *colon = 0;
            cfg.psk_id = optarg;
            const char *h = colon + 1;
            size_t hl = strlen(h);
            if (hl == 0 || hl % 2 || hl / 2 > sizeof(cfg.psk))
                die("--psk: bad key");
            for (size_t i = 0; i < hl / 2; i++) {
                unsigned v;
                if (sscanf(h + 2 * i, "%2x", &v) != 1)
                    die("--psk: bad key");
                cfg.psk[i] = (uint8_t)v;
            }
            cfg.psk_len = (int)(hl / 2);
            break;
        }
        case 'C':
            cfg.cipher = optarg;
            break;
        case 'G':
            cfg.groups = optarg;
            break;
        case 'T':
            cfg.tickets = true;
            break;
        case 'W':
            cfg.hs_window = (unsigned)atoi(optarg);
            break;
        case 'S':
            cfg.size = (unsigned)atoi(optarg);
            break;
        case 'p':
            cfg.probe_ms = (unsigned)atoi(optarg);
            break;
        case 'l':
            cfg.lost_ms = (unsigned)atoi(optarg);
            break;
        case 'D':
            cfg.deadline_s = (unsigned)atoi(optarg);
            break;
        case 'U':
            cfg.setup_timeout_s = (unsigned)atoi(optarg);
            break;
        case 'R':
            cfg.ready_file = optarg;
            break;
        case 'h':
            usage(0);
            break;
        default:
            usage(2);
        }
    }
    if (optind + 1 != argc)
        usage(2);
    char host[64];
    const char *colon = strrchr(argv[optind], ':');
    if (!colon || (size_t)(colon - argv[optind]) >= sizeof(host))
        usage(2);
    memcpy(host, argv[optind], (size_t)(colon - argv[optind]));
    host[colon - argv[optind]] = 0;
    cfg.target.sin_family = AF_INET;
    cfg.target.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &cfg.target.sin_addr) != 1)
        die("target: IPv4 A.B.C.D:PORT");
    if (cfg.sessions < 1 || cfg.sessions > 1000000 || cfg.size < 8 || cfg.size > REC_MAX_BYTES ||
        cfg.hs_window < 1 || cfg.probe_ms < 1 || cfg.lost_ms < 1)
        die("option out of range (see --help)");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = cfg.sessions + 64;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (rl.rlim_max < want)
            rl.rlim_max = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            die("setrlimit NOFILE (run as root or raise ulimit -n)");
    }
    ctx = SSL_CTX_new(DTLS_client_method());
    if (!ctx)
        die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (!cfg.tickets)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    const char *cipher =
        cfg.cipher ? cfg.cipher
                   : (cfg.psk_id ? "PSK-AES128-GCM-SHA256" : "ECDHE-ECDSA-AES128-GCM-SHA256");
    if (SSL_CTX_set_cipher_list(ctx, cipher) != 1)
        die("bad --cipher");
    if (cfg.groups && SSL_CTX_set1_groups_list(ctx, cfg.groups) != 1)
        die("bad --groups");
    if (cfg.psk_id)
        SSL_CTX_set_psk_client_callback(ctx, psk_cb);
    memset(pay, 0x5a, sizeof(pay));

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || ep < 0)
        die("signalfd / epoll");
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev);

    ss = calloc(cfg.sessions, sizeof(*ss));
    if (!ss)
        die("out of memory");
    now = mono_ns();
    for (unsigned i = 0; i < cfg.sessions; i++) {
        ss[i].idx = (int)i;
        ss[i].t_hs = now - 1000000000ull;
        open_socket(&ss[i]);
    }
    uint64_t t_setup_end = now + (uint64_t)cfg.setup_timeout_s * 1000000000ull, next_tick = now;
    uint64_t t_setup0 = now;
    struct epoll_event evs[EPOLL_BATCH];
    bool stop = false;
    while (!stop) {
        now = mono_ns();
        int64_t wait_ms = ((int64_t)next_tick - (int64_t)now) / 1000000;
        int n = epoll_wait(ep, evs, EPOLL_BATCH, wait_ms < 0 ? 0 : (int)wait_ms + 1);
        now = mono_ns();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) {
                on_readable(evs[i].data.ptr);
                continue;
            }
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGUSR1 && phase == PH_READY) {
                    phase = PH_QUIET;
                    t_kill = now;
                } else if (si.ssi_signo == SIGUSR2 && phase == PH_QUIET) {
                    phase = PH_STORM;
                    generation = 1;
                    t_storm = now;
                    /* all at once: one probe from every session */
                    for (unsigned k = 0; k < cfg.sessions; k++)
                        if (ss[k].state == S_UP && ss[k].settled && ss[k].closed) {
                            start_handshake(&ss[k]);
                            handshake(&ss[k]);
                        } else if (ss[k].state == S_UP && ss[k].settled) {
                            ss[k].probe_out = false;
                            send_probe(&ss[k]);
                        }
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    stop = true;
                }
            }
        }
        if (now >= next_tick) {
            tick();
            next_tick = now + TICK_NS;
        }
        if (phase == PH_SETUP) {
            bool done = n_up == cfg.sessions;
            if (!done && now > t_setup_end) {
                for (unsigned i = 0; i < cfg.sessions; i++)
                    if (!ss[i].settled)
                        n_failed_setup++;
                done = true;
            }
            if (done) {
                phase = PH_READY;
                fprintf(stderr,
                        "bench-storm-client: %u of %u sessions up in %.1f s (%" PRIu64
                        " handshake attempts)\n",
                        n_up, cfg.sessions, (double)(now - t_setup0) / 1e9, hs_attempts);
                if (cfg.ready_file) {
                    FILE *f = fopen(cfg.ready_file, "w");
                    if (f) {
                        fprintf(f, "up=%u\n", n_up);
                        fclose(f);
                    }
                }
                if (n_up == 0)
                    stop = true;
            }
        } else if (phase == PH_STORM) {
            if (n_back == n_up || now - t_storm > (uint64_t)cfg.deadline_s * 1000000000ull)
                stop = true;
        }
    }
    if (phase == PH_STORM)
        report();
    else
        printf("RESULT sessions=%u up=%u back=0 not_back=%u storm=not_started\n", cfg.sessions,
               n_up, n_up);
    for (unsigned i = 0; i < cfg.sessions; i++) {
        SSL_free(ss[i].ssl);
        SSL_SESSION_free(ss[i].saved);
        close(ss[i].fd);
    }
    free(ss);
    SSL_CTX_free(ctx);
    return 0;
}
