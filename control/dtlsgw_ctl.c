/* dtlsgw_ctl.c — dtlsgw-ctl: sends one command to a running gateway's
 * control socket and prints the reply for a person (default), as JSON
 * (--json, or -p pretty), or as a Prometheus text exposition (metrics).
 *
 *   dtlsgw-ctl [-s SOCKET] [--json|-p] [--all] [-t TIMEOUT_MS] [-w SECONDS]
 *              [-n COUNT] COMMAND [ARG]
 *   commands: stats | sessions | kill A.B.C.D[:PORT] | reload-psk |
 *             rotate-cookie | save | help   (sent to the gateway)
 *             metrics                (stats, as Prometheus text)
 *             top                    (stats every second, as rates; -n COUNT
 *                                     frames, then exit)
 *
 * Human output: stats grouped as traffic, handshakes and sessions, drops by
 * reason (DROP_*), handshake failures by reason, ports and the control
 * socket's own counters, non-zero values only unless --all; sessions as
 * aligned columns; other results as "key: value" lines.
 * Exit status: 0 reply ok, 1 the gateway answered an error, 2 no answer
 * (cannot connect, timeout, bad usage).  Owns nothing but its process.
 * Groups counters by their name's prefix only (DROP_, CP_); what each one
 * means is the gateway's (dp_counters.h).  Must not: build the metrics text
 * itself (gw_metrics.c does, for the gateway's GET /metrics too).
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gw_ctl.h"
#include "gw_metrics.h"

#define CTL_DEFAULT_TIMEOUT_MS 3000
#define CTL_TOP_ROWS           40
#define CTL_TOP_PERIOD_MS      1000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct opts {
    bool json, pretty, all;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dtlsgw-ctl [-s SOCKET] [--json|-p] [--all] [-t TIMEOUT_MS] [-w SECONDS]\n"
            "                  [-n COUNT] COMMAND [ARG]\n"
            "  commands: stats | sessions | kill A.B.C.D[:PORT] | reload-psk |\n"
            "            rotate-cookie | save | help | metrics | top\n"
            "  -s SOCKET   control socket (default $DTLSGW_CTL_SOCKET or %s)\n"
            "  --json, -j  print the gateway's JSON reply as it came\n"
            "  -p          pretty-print the JSON reply\n"
            "  --all, -a   stats: also the counters that are zero\n"
            "  -t MS       give up after MS milliseconds (default %d)\n"
            "  -w SECONDS  repeat every SECONDS until interrupted\n"
            "  metrics     the stats as a Prometheus text exposition (textfile collector)\n"
            "  -n COUNT    top: stop after COUNT refreshes (default: until interrupted)\n"
            "  top         live view: counters per second, refreshed every second (on a\n"
            "              terminal in place; elsewhere, e.g. piped, one frame after another)\n",
            GW_CTL_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS);
}

/* ---- human output ------------------------------------------------------------ */

static long long ival(json_t *v)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

enum group {
    G_TRAFFIC,
    G_HANDSHAKE,
    G_DROP
};

static enum group group_of(const char *name)
{
    if (strncmp(name, "DROP_", 5) == 0)
        return G_DROP;
    if (strncmp(name, "CP_", 3) == 0)
        return G_HANDSHAKE;
    return G_TRAFFIC;
}

static void print_counters(json_t *counters, enum group g, const char *title, bool all)
{
    const char *k;
    json_t *v;
    bool header = false;
    json_object_foreach(counters, k, v)
    {
        if (group_of(k) != g || (!all && ival(v) == 0))
            continue;
        if (!header) {
            printf("%s\n", title);
            header = true;
        }
        printf("  %-28s %15lld\n", k, ival(v));
    }
}

static void print_stats(json_t *r, bool all)
{
    printf("sessions %lld   handshakes/peers %lld   waiting to be freed %lld   workers %lld\n",
           ival(json_object_get(r, "sessions")), ival(json_object_get(r, "peers")),
           ival(json_object_get(r, "pending_free")), ival(json_object_get(r, "workers")));
    json_t *c = json_object_get(r, "counters");
    print_counters(c, G_TRAFFIC, "traffic", all);
    print_counters(c, G_HANDSHAKE, "handshakes and sessions", all);
    print_counters(c, G_DROP, "drops by reason", all);
    json_t *hf = json_object_get(r, "handshake_failures");
    if (json_object_size(hf) > 0) {
        printf("handshake failures by reason\n");
        const char *k;
        json_t *v;
        json_object_foreach(hf, k, v) printf("  %-58s %8lld\n", k, ival(v));
    }
    /* handshake_lcores: shown when the handshakes run on more than one lcore */
    json_t *hl = json_object_get(r, "handshake_lcores");
    if (json_array_size(hl) > 1) {
        printf("handshakes per lcore\n  %-6s %12s %12s %12s %12s\n", "lcore", "started",
               "established", "failed", "timeout");
        size_t i;
        json_t *h;
        json_array_foreach(hl, i, h)
        {
            printf("  %-6lld %12lld %12lld %12lld %12lld\n", ival(json_object_get(h, "lcore")),
                   ival(json_object_get(h, "started")), ival(json_object_get(h, "established")),
                   ival(json_object_get(h, "failed")), ival(json_object_get(h, "timeout")));
        }
    }
    json_t *ports = json_object_get(r, "ports");
    if (json_array_size(ports) > 0) {
        printf("ports\n  %-4s %-16s %12s %12s %14s %14s %8s %8s %9s\n", "id", "driver", "ipackets",
               "opackets", "ibytes", "obytes", "imissed", "ierrors", "rx_nombuf");
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p)
        {
            const char *drv = json_string_value(json_object_get(p, "driver"));
            printf("  %-4lld %-16s %12lld %12lld %14lld %14lld %8lld %8lld %9lld\n",
                   ival(json_object_get(p, "port_id")), drv ? drv : "?",
                   ival(json_object_get(p, "ipackets")), ival(json_object_get(p, "opackets")),
                   ival(json_object_get(p, "ibytes")), ival(json_object_get(p, "obytes")),
                   ival(json_object_get(p, "imissed")), ival(json_object_get(p, "ierrors")),
                   ival(json_object_get(p, "rx_nombuf")));
        }
    }
    json_t *ctl = json_object_get(r, "control");
    if (json_is_object(ctl)) {
        bool header = false;
        const char *k;
        json_t *v;
        json_object_foreach(ctl, k, v)
        {
            if (!all && ival(v) == 0)
                continue;
            if (!header) {
                printf("control socket\n");
                header = true;
            }
            printf("  %-28s %15lld\n", k, ival(v));
        }
    }
}

static const char *sval(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_sessions(json_t *arr)
{
    printf("%-15s %5s  %-12s %-11s %-40s %-24s %5s %5s %10s %10s %8s\n", "CLIENT", "PORT",
           "LISTENER", "STATE", "SUITE", "IDENTITY", "NAT", "OWNER", "RX", "TX", "IDLE_MS");
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        char nat[16] = "-", owner[16] = "-", rx[24] = "-", tx[24] = "-", idle[24] = "-";
        if (json_is_integer(json_object_get(s, "nat_port"))) {
            snprintf(nat, sizeof(nat), "%lld", ival(json_object_get(s, "nat_port")));
            snprintf(owner, sizeof(owner), "%lld", ival(json_object_get(s, "owner")));
            snprintf(rx, sizeof(rx), "%lld", ival(json_object_get(s, "rx_records")));
            snprintf(tx, sizeof(tx), "%lld", ival(json_object_get(s, "tx_records")));
            snprintf(idle, sizeof(idle), "%lld", ival(json_object_get(s, "idle_ms")));
        }
        /* an IPv6 client in brackets (RFC 5952 §6), so address and port
         * read as [addr]:port */
        char client[64];
        const char *ca = sval(s, "client");
        snprintf(client, sizeof(client), strchr(ca, ':') ? "[%s]" : "%s", ca);
        printf("%-15s %5lld  %-12.12s %-11s %-40.40s %-24.24s %5s %5s %10s %10s %8s\n", client,
               ival(json_object_get(s, "client_port")), sval(s, "listener"), sval(s, "state"),
               sval(s, "suite"), sval(s, "identity"), nat, owner, rx, tx, idle);
    }
    printf("%zu session(s)\n", json_array_size(arr));
}

static void print_plain(json_t *r)
{
    if (json_is_array(r)) {
        size_t i;
        json_t *v;
        json_array_foreach(r, i, v)
        {
            char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            printf("%s\n", t ? t : json_string_value(v));
            free(t);
        }
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v)
    {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        printf("%s: %s\n", k, t ? t : "?");
        free(t);
    }
}

/* ---- Prometheus text exposition (gw_metrics.c, also served by GET /metrics) ---- */

static int print_metrics(json_t *r)
{
    char *text = NULL;
    size_t len = 0;
    int rc = gw_metrics_build(r, &text, &len);
    if (rc < 0) {
        fprintf(stderr, "dtlsgw-ctl: metrics: %s\n", cr_strerror(rc));
        return rc;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    return 0;
}

/* ---- top --------------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One frame of top: every counter that grew between the samples prev and
 * cur (gw_cmds' stats results), as (cur - prev) / dt_s per second beside
 * its total.  A counter that went down (another gateway answered) is
 * left out.  clear: redraw the terminal in place. */
static void top_frame(json_t *prev, json_t *cur, double dt_s, bool clear)
{
    printf("%sdtlsgw top   sessions %lld   peers %lld   (per second, over %.3f s;"
           " Ctrl-C ends)\n\n",
           clear ? "\033[H\033[2J" : "", ival(json_object_get(cur, "sessions")),
           ival(json_object_get(cur, "peers")), dt_s);
    json_t *c = json_object_get(cur, "counters");
    json_t *pc = json_object_get(prev, "counters");
    const char *k;
    json_t *v;
    unsigned rows = 0;
    json_object_foreach(c, k, v)
    {
        long long d = ival(v) - ival(json_object_get(pc, k));
        if (d <= 0 || rows >= CTL_TOP_ROWS)
            continue;
        rows++;
        printf("  %-28s %14.1f/s %16lld total\n", k, (double)d / dt_s, ival(v));
    }
    if (rows == 0)
        printf("  (idle)\n");
    fflush(stdout);
}

/* Samples stats every CTL_TOP_PERIOD_MS and prints a frame from each two
 * consecutive samples; frames > 0: that many, then exit 0. */
static int run_top(const char *path, int timeout_ms, unsigned frames)
{
    json_t *prev = NULL;
    uint64_t prev_ms = 0;
    unsigned shown = 0;
    int status = 0;
    bool clear = isatty(STDOUT_FILENO);
    while (!stop && (frames == 0 || shown < frames)) {
        char *reply = NULL;
        if (gw_ctl_request(path, "stats", timeout_ms, &reply) < 0) {
            fprintf(stderr, "dtlsgw-ctl: %s: no answer\n", path);
            status = 2;
            break;
        }
        uint64_t now = mono_ms();
        json_t *j = json_loads(reply, 0, NULL);
        free(reply);
        if (!json_is_true(json_object_get(j, "ok"))) {
            const char *msg = json_string_value(json_object_get(j, "error"));
            fprintf(stderr, "dtlsgw-ctl: %s\n", msg ? msg : "stats: not a reply");
            json_decref(j);
            status = j ? 1 : 2;
            break;
        }
        if (prev != NULL && now > prev_ms) {
            top_frame(json_object_get(prev, "result"), json_object_get(j, "result"),
                      (double)(now - prev_ms) / 1000.0, clear);
            shown++;
        }
        json_decref(prev);
        prev = j;
        prev_ms = now;
        /* the next sample CTL_TOP_PERIOD_MS after this one */
        while (!stop && (frames == 0 || shown < frames) && mono_ms() - now < CTL_TOP_PERIOD_MS)
            usleep(20000);
    }
    json_decref(prev);
    return status;
}

/* Prints one reply; returns the exit status it implies. */
static int print_reply(const char *reply, const char *cmd, bool metrics, const struct opts *o)
{
    json_error_t jerr;
    json_t *j = json_loads(reply, 0, &jerr);
    if (!j) {
        fprintf(stderr, "dtlsgw-ctl: reply is not JSON (%s): %s\n", jerr.text, reply);
        return 2;
    }
    int ok = json_is_true(json_object_get(j, "ok"));
    json_t *r = json_object_get(j, "result");
    if (!ok) {
        if (o->json || o->pretty)
            puts(reply);
        const char *msg = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "dtlsgw-ctl: %s\n", msg ? msg : "error");
    } else if (metrics) {
        if (print_metrics(r) < 0)
            ok = 0;
    } else if (o->pretty) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text ? text : reply);
        free(text);
    } else if (o->json) {
        puts(reply);
    } else if (strcmp(cmd, "stats") == 0) {
        print_stats(r, o->all);
    } else if (strcmp(cmd, "sessions") == 0 && json_is_array(r)) {
        print_sessions(r);
        if (json_is_true(json_object_get(j, "truncated")))
            printf("(cut to fit the reply cap: %lld in all)\n", ival(json_object_get(j, "total")));
    } else {
        print_plain(r);
    }
    json_decref(j);
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = getenv("DTLSGW_CTL_SOCKET");
    int timeout_ms = CTL_DEFAULT_TIMEOUT_MS, every_s = 0, frames = 0, opt;
    struct opts o = {0};
    static const struct option longopts[] = {
        {"json", 0, NULL, 'j'}, {"all", 0, NULL, 'a'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
    if (!path || !*path)
        path = GW_CTL_DEFAULT_SOCKET;
    while ((opt = getopt_long(argc, argv, "+s:pjat:w:n:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            path = optarg;
            break;
        case 'p':
            o.pretty = true;
            break;
        case 'j':
            o.json = true;
            break;
        case 'a':
            o.all = true;
            break;
        case 't':
            timeout_ms = atoi(optarg);
            break;
        case 'w':
            every_s = atoi(optarg);
            break;
        case 'n':
            frames = atoi(optarg);
            if (frames <= 0) {
                fprintf(stderr, "dtlsgw-ctl: -n: expected a count of 1 or more: %s\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || timeout_ms <= 0 || every_s < 0) {
        usage(stderr);
        return 2;
    }
    char cmd[GW_CTL_LINE_MAX_LEN + 1];
    size_t len = 0;
    for (int i = optind; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (len + n + (i > optind) > GW_CTL_LINE_MAX_LEN || strchr(argv[i], '\n')) {
            fprintf(stderr, "dtlsgw-ctl: command too long\n");
            return 2;
        }
        if (i > optind)
            cmd[len++] = ' ';
        memcpy(cmd + len, argv[i], n);
        len += n;
    }
    cmd[len] = '\0';

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (strcmp(cmd, "top") == 0)
        return run_top(path, timeout_ms, (unsigned)frames);
    bool metrics = strcmp(cmd, "metrics") == 0;
    const char *sent = metrics ? "stats" : cmd;
    int status;
    do {
        char *reply = NULL;
        int rc = gw_ctl_request(path, sent, timeout_ms, &reply);
        if (rc < 0) {
            fprintf(stderr, "dtlsgw-ctl: %s: no answer (%s)\n", path, cr_strerror(rc));
            status = 2;
        } else {
            status = print_reply(reply, sent, metrics, &o);
            free(reply);
        }
        for (int s = 0; s < every_s && !stop; s++)
            sleep(1);
    } while (every_s > 0 && !stop);
    return status;
}
