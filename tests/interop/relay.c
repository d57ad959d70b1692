/* relay.c — impair-relay: a userspace UDP impairment relay for tests.
 *
 * Sits between DTLS clients and a server (the hs-driver) on loopback, since
 * the test machine has no netem.  Each datagram in either direction is, by a
 * deterministic PRNG (--seed), dropped (--loss), duplicated (--dup) or held
 * back (--reorder) and released right after the next datagram of the same
 * direction, or after --hold-ms so that a lone datagram still arrives.
 * Every client address gets its own upstream socket, so the server sees one
 * stable peer per client.
 *
 * Owns: its sockets and per-client state.  Must not: parse or change the
 * datagrams it relays.  Not part of the product.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tl_addr.h"
#include "tl_clock.h"
#include "udp_util.h"

#define RELAY_MAX_CLIENTS     64
#define RELAY_DGRAM_MAX_BYTES 65535
#define RELAY_HOLD_DEFAULT_MS 40
#define RELAY_IDLE_EXPIRE_MS  120000

enum dir {
    DIR_UP = 0,
    DIR_DOWN = 1
}; /* up: client -> server */

struct held {
    uint8_t *buf;
    size_t len;
    bool used;
    uint64_t since_ms;
};

struct client {
    bool used;
    struct sockaddr_in addr; /* the client's address */
    int up_fd;               /* connected to the target */
    uint64_t last_ms;
    struct held held[2];
};

struct counters {
    uint64_t in[2], sent[2], lost[2], duped[2], reordered[2];
    uint64_t max_len[2]; /* largest datagram seen, bytes */
};

static struct client g_clients[RELAY_MAX_CLIENTS];
static struct counters g_cnt;
static int g_listen_fd = -1;
static struct sockaddr_in g_target;
static double g_loss, g_reorder, g_dup;
static uint64_t g_hold_ms = RELAY_HOLD_DEFAULT_MS;
static uint64_t g_rng;
static FILE *g_log;

/* splitmix64: deterministic for a given --seed. */
static uint64_t rng_next(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool chance(double p)
{
    if (p <= 0.0)
        return false;
    return (double)(rng_next() >> 11) / 9007199254740992.0 < p;
}

static void raw_send(struct client *c, enum dir d, const uint8_t *buf, size_t len)
{
    ssize_t n;
    if (d == DIR_UP)
        n = send(c->up_fd, buf, len, 0);
    else
        n = sendto(g_listen_fd, buf, len, 0, (const struct sockaddr *)&c->addr, sizeof(c->addr));
    if (n >= 0)
        g_cnt.sent[d]++;
}

static void release_held(struct client *c, enum dir d)
{
    struct held *h = &c->held[d];
    if (!h->used)
        return;
    raw_send(c, d, h->buf, h->len);
    h->used = false;
}

/* One datagram through the impairments. */
static void impair(struct client *c, enum dir d, const uint8_t *buf, size_t len)
{
    g_cnt.in[d]++;
    if (len > g_cnt.max_len[d])
        g_cnt.max_len[d] = len;
    if (chance(g_loss)) {
        g_cnt.lost[d]++;
        return;
    }
    bool dup = chance(g_dup);
    struct held *h = &c->held[d];
    if (!h->used && chance(g_reorder)) {
        /* Hold this one back; it goes out after the next one. */
        memcpy(h->buf, buf, len);
        h->len = len;
        h->used = true;
        h->since_ms = tl_mono_ms();
        g_cnt.reordered[d]++;
        if (dup) {
            g_cnt.duped[d]++;
            raw_send(c, d, buf, len);
        }
        return;
    }
    raw_send(c, d, buf, len);
    if (dup) {
        g_cnt.duped[d]++;
        raw_send(c, d, buf, len);
    }
    release_held(c, d);
}

static void client_free(struct client *c)
{
    if (!c->used)
        return;
    close(c->up_fd);
    free(c->held[0].buf);
    free(c->held[1].buf);
    memset(c, 0, sizeof(*c));
    c->up_fd = -1;
}

static struct client *client_find_or_add(const struct sockaddr_in *from, uint64_t now)
{
    struct client *free_slot = NULL;
    for (unsigned i = 0; i < RELAY_MAX_CLIENTS; i++) {
        struct client *c = &g_clients[i];
        if (c->used && udpu_addr_eq(&c->addr, from))
            return c;
        if (c->used && now - c->last_ms > RELAY_IDLE_EXPIRE_MS)
            client_free(c);
        if (!c->used && free_slot == NULL)
            free_slot = c;
    }
    if (free_slot == NULL)
        return NULL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (const struct sockaddr *)&g_target, sizeof(g_target)) != 0) {
        close(fd);
        return NULL;
    }
    uint8_t *b0 = malloc(RELAY_DGRAM_MAX_BYTES);
    uint8_t *b1 = malloc(RELAY_DGRAM_MAX_BYTES);
    if (b0 == NULL || b1 == NULL) {
        free(b0);
        free(b1);
        close(fd);
        return NULL;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    free_slot->addr = *from;
    free_slot->up_fd = fd;
    free_slot->held[0].buf = b0;
    free_slot->held[1].buf = b1;
    free_slot->last_ms = now;
    return free_slot;
}

static void usage(void)
{
    fprintf(stderr, "usage: impair-relay --listen PORT --to HOST:PORT [--bind ADDR]\n"
                    "       [--loss P] [--reorder P] [--dup P] [--seed N] [--hold-ms MS]\n"
                    "       [--port-file FILE] [--log FILE]\n");
}

static int parse_prob(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"to", required_argument, NULL, 't'},
                                         {"bind", required_argument, NULL, 'b'},
                                         {"loss", required_argument, NULL, 'L'},
                                         {"reorder", required_argument, NULL, 'R'},
                                         {"dup", required_argument, NULL, 'D'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"hold-ms", required_argument, NULL, 'H'},
                                         {"port-file", required_argument, NULL, 'p'},
                                         {"log", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long listen_port = -1;
    uint16_t port16;
    int arc; /* a tl_addr_parse* result */
    const char *bind_addr = "127.0.0.1";
    const char *port_file = NULL;
    const char *log_path = NULL;
    bool have_target = false;
    g_rng = 1;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            if ((arc = tl_addr_parse_port(optarg, TL_ADDR_PORT_ZERO, &port16)) != TL_ADDR_OK) {
                fprintf(stderr, "impair-relay: bad --listen %s: %s\n", optarg,
                        tl_addr_strerror(arc));
                return 2;
            }
            listen_port = port16;
            break;
        case 't':
            if ((arc = tl_addr_parse_in4(optarg, 0, &g_target)) != TL_ADDR_OK) {
                fprintf(stderr, "impair-relay: bad --to %s (want IPv4:PORT): %s\n", optarg,
                        tl_addr_strerror(arc));
                return 2;
            }
            have_target = true;
            break;
        case 'b':
            bind_addr = optarg;
            break;
        case 'L':
        case 'R':
        case 'D':
            if (parse_prob(optarg, o == 'L' ? &g_loss : o == 'R' ? &g_reorder : &g_dup) != 0) {
                fprintf(stderr, "impair-relay: probability must be in [0,1]: %s\n", optarg);
                return 2;
            }
            break;
        case 's':
            g_rng = strtoull(optarg, NULL, 0);
            break;
        case 'H':
            g_hold_ms = strtoull(optarg, NULL, 10);
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'g':
            log_path = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (listen_port < 0 || !have_target) {
        usage();
        return 2;
    }
    g_log = stderr;
    if (log_path != NULL) {
        g_log = fopen(log_path, "a");
        if (g_log == NULL) {
            perror(log_path);
            return 1;
        }
        setvbuf(g_log, NULL, _IOLBF, 0);
    }
    for (unsigned i = 0; i < RELAY_MAX_CLIENTS; i++)
        g_clients[i].up_fd = -1;

    struct sockaddr_in la;
    g_listen_fd = udpu_listen("impair-relay", bind_addr, listen_port, 0, port_file, &la);
    if (g_listen_fd < 0)
        return g_listen_fd == -2 ? 2 : 1;
    fprintf(g_log,
            "impair-relay: listening on %s:%u -> target port %u loss=%.2f reorder=%.2f "
            "dup=%.2f\n",
            bind_addr, ntohs(la.sin_port), ntohs(g_target.sin_port), g_loss, g_reorder, g_dup);

    udpu_install_stop();

    static uint8_t buf[RELAY_DGRAM_MAX_BYTES];
    struct pollfd pfd[1 + RELAY_MAX_CLIENTS];
    struct client *pcl[1 + RELAY_MAX_CLIENTS];
    while (!udpu_stop) {
        unsigned n = 0;
        pfd[n].fd = g_listen_fd;
        pfd[n].events = POLLIN;
        pcl[n++] = NULL;
        bool any_held = false;
        for (unsigned i = 0; i < RELAY_MAX_CLIENTS; i++) {
            struct client *c = &g_clients[i];
            if (!c->used)
                continue;
            pfd[n].fd = c->up_fd;
            pfd[n].events = POLLIN;
            pcl[n++] = c;
            any_held = any_held || c->held[0].used || c->held[1].used;
        }
        int timeout = any_held ? (int)(g_hold_ms / 2 + 1) : 500;
        int r = poll(pfd, n, timeout);
        if (r < 0 && errno != EINTR) {
            perror("impair-relay: poll");
            break;
        }
        uint64_t now = tl_mono_ms();
        for (unsigned i = 0; r > 0 && i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLERR)))
                continue;
            if (pcl[i] == NULL) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t len =
                    recvfrom(g_listen_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
                if (len < 0)
                    continue;
                struct client *c = client_find_or_add(&from, now);
                if (c == NULL)
                    continue; /* table full: dropped */
                c->last_ms = now;
                impair(c, DIR_UP, buf, (size_t)len);
            } else {
                ssize_t len = recv(pcl[i]->up_fd, buf, sizeof(buf), 0);
                if (len < 0)
                    continue; /* e.g. ECONNREFUSED from a previous send */
                pcl[i]->last_ms = now;
                impair(pcl[i], DIR_DOWN, buf, (size_t)len);
            }
        }
        /* Release what has been held long enough. */
        for (unsigned i = 0; i < RELAY_MAX_CLIENTS; i++) {
            struct client *c = &g_clients[i];
            for (int d = 0; c->used && d < 2; d++)
                if (c->held[d].used && now - c->held[d].since_ms >= g_hold_ms)
                    release_held(c, (enum dir)d);
        }
    }
    fprintf(g_log,
            "impair-relay: up in=%llu sent=%llu lost=%llu dup=%llu reordered=%llu max=%llu; "
            "down in=%llu sent=%llu lost=%llu dup=%llu reordered=%llu max=%llu\n",
            (unsigned long long)g_cnt.in[0], (unsigned long long)g_cnt.sent[0],
            (unsigned long long)g_cnt.lost[0], (unsigned long long)g_cnt.duped[0],
            (unsigned long long)g_cnt.reordered[0], (unsigned long long)g_cnt.max_len[0],
            (unsigned long long)g_cnt.in[1], (unsigned long long)g_cnt.sent[1],
            (unsigned long long)g_cnt.lost[1], (unsigned long long)g_cnt.duped[1],
            (unsigned long long)g_cnt.reordered[1], (unsigned long long)g_cnt.max_len[1]);
    for (unsigned i = 0; i < RELAY_MAX_CLIENTS; i++)
        client_free(&g_clients[i]);
    close(g_listen_fd);
    if (g_log != stderr)
        fclose(g_log);
    return 0;
}
