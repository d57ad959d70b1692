/* dtlsgw_ctl.c — dtlsgw-ctl: sends one command to a running gateway's
 * control socket and prints the JSON reply.
 *
 *   dtlsgw-ctl [-s SOCKET] [-p] [-t TIMEOUT_MS] [-w SECONDS] COMMAND [ARG]
 *
 * Exit status: 0 reply ok, 1 the gateway answered an error, 2 no answer
 * (cannot connect, timeout, bad usage).  Owns nothing but its process;
 * must not interpret the counters (it prints what the gateway sends).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "gw_ctl.h"

#define CTL_DEFAULT_TIMEOUT_MS 3000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dtlsgw-ctl [-s SOCKET] [-p] [-t TIMEOUT_MS] [-w SECONDS] COMMAND [ARG]\n"
            "  commands: stats | sessions | kill A.B.C.D:PORT | reload-psk |\n"
            "            rotate-cookie | help\n"
            "  -s SOCKET   control socket (default $DTLSGW_CTL_SOCKET or %s)\n"
            "  -p          pretty-print the JSON reply\n"
            "  -t MS       give up after MS milliseconds (default %d)\n"
            "  -w SECONDS  repeat every SECONDS until interrupted\n",
            GW_CTL_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS);
}

/* Prints one reply; returns the exit status it implies. */
static int print_reply(const char *reply, int pretty)
{
    json_error_t jerr;
    json_t *j = json_loads(reply, 0, &jerr);
    if (!j) {
        fprintf(stderr, "dtlsgw-ctl: reply is not JSON (%s): %s\n", jerr.text, reply);
        return 2;
    }
    int ok = json_is_true(json_object_get(j, "ok"));
    if (pretty) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text ? text : reply);
        free(text);
    } else {
        puts(reply);
    }
    if (!ok) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "dtlsgw-ctl: %s\n", msg ? msg : "error");
    }
    json_decref(j);
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = getenv("DTLSGW_CTL_SOCKET");
    int pretty = 0, timeout_ms = CTL_DEFAULT_TIMEOUT_MS, every_s = 0, opt;
    if (!path || !*path)
        path = GW_CTL_DEFAULT_SOCKET;
    while ((opt = getopt(argc, argv, "+s:pt:w:h")) != -1) {
        switch (opt) {
        case 's':
            path = optarg;
            break;
        case 'p':
            pretty = 1;
            break;
        case 't':
            timeout_ms = atoi(optarg);
            break;
        case 'w':
            every_s = atoi(optarg);
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
    int status;
    do {
        char *reply = NULL;
        int rc = gw_ctl_request(path, cmd, timeout_ms, &reply);
        if (rc < 0) {
            fprintf(stderr, "dtlsgw-ctl: %s: no answer (%s)\n", path, cr_strerror(rc));
            status = 2;
        } else {
            status = print_reply(reply, pretty);
            free(reply);
        }
        for (int s = 0; s < every_s && !stop; s++)
            sleep(1);
    } while (every_s > 0 && !stop);
    return status;
}
