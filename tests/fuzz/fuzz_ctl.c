/* fuzz_ctl.c — libFuzzer target for the control socket's request reader and
 * line parser (control/gw_ctl.c), through a real Unix socket: each input is
 * written by a client connection (then its write side is closed) and the
 * server is polled until it answers.
 *
 * Checks, beyond "no crash / no sanitizer report":
 *   - every request gets exactly one reply line: compact JSON, an object
 *     with a boolean "ok", "result" when ok and an "error" string when not,
 *     ending in the one '\n';
 *   - a first line over GW_CTL_LINE_MAX_LEN bytes or with a NUL byte is
 *     refused, never executed (no handler runs);
 *   - kill reaches its handler only with the address and port the line
 *     names (checked by re-parsing with gw_ctl_parse_addr).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "gw_ctl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ENSURE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static struct gw_ctl *ctl;
static char sock_path[108];
static unsigned handler_calls;
static uint32_t kill_ip;
static uint16_t kill_port;

static int h_stats(void *arg, json_t *res, char *err)
{
    (void)arg;
    (void)err;
    handler_calls++;
    json_object_set_new(res, "RX_FRAMES", json_integer(1));
    return 0;
}

static int h_sessions(void *arg, json_t *res, char *err)
{
    (void)arg;
    (void)err;
    handler_calls++;
    json_array_append_new(res, json_pack("{s:s, s:i}", "client", "10.0.0.2", "client_port", 5555));
    return 0;
}

static int h_kill(void *arg, uint32_t ip, uint16_t port, json_t *res, char *err)
{
    (void)arg;
    handler_calls++;
    kill_ip = ip;
    kill_port = port;
    if (port == 1) { /* exercise the error path */
        snprintf(err, GW_CTL_ERR_MAX_LEN, "refused for the test");
        return CR_ERR_INVAL;
    }
    json_object_set_new(res, "killed", json_integer(0));
    return 0;
}

static int h_plain(void *arg, json_t *res, char *err)
{
    (void)arg;
    (void)err;
    handler_calls++;
    json_object_set_new(res, "done", json_integer(1));
    return 0;
}

static const struct gw_ctl_handlers handlers = {
    .stats = h_stats,
    .sessions = h_sessions,
    .kill = h_kill,
    .reload_psk = h_plain,
    .rotate_cookie = h_plain,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(sock_path, sizeof(sock_path), "/tmp/dtlsgw-fuzz-ctl-%d.sock", (int)getpid());
    char err[GW_CTL_ERR_MAX_LEN];
    if (gw_ctl_open(&ctl, sock_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz-ctl: %s: %s\n", sock_path, err);
        exit(1);
    }
    return 0;
}

/* The request's first line as the server sees it: up to '\n' or the end. */
static size_t first_line(const uint8_t *d, size_t n)
{
    const uint8_t *nl = memchr(d, '\n', n);
    return nl ? (size_t)(nl - d) : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        size = 4096;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    FUZZ_ENSURE(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    FUZZ_ENSURE(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    size_t off = 0;
    while (off < size) {
        ssize_t k = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* the server answered early (line too long) and closed */
        off += (size_t)k;
    }
    shutdown(fd, SHUT_WR);
    unsigned calls0 = handler_calls;
    char reply[8192];
    size_t got = 0;
    bool eof = false;
    for (int spin = 0; spin < 100000 && !eof; spin++) {
        FUZZ_ENSURE(gw_ctl_poll(ctl, &handlers) >= 0);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            continue;
        ssize_t k = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            eof = true;
        else
            got += (size_t)k;
        FUZZ_ENSURE(got < sizeof(reply) - 1);
    }
    close(fd);
    /* An empty request (EOF before any byte) is closed unanswered. */
    if (size == 0) {
        FUZZ_ENSURE(got == 0);
        return 0;
    }
    FUZZ_ENSURE(eof && got >= 2 && reply[got - 1] == '\n');
    FUZZ_ENSURE(memchr(reply, '\n', got) == reply + got - 1);
    reply[got] = '\0';
    json_error_t je;
    json_t *r = json_loads(reply, 0, &je);
    FUZZ_ENSURE(json_is_object(r));
    json_t *ok = json_object_get(r, "ok");
    FUZZ_ENSURE(json_is_boolean(ok));
    if (json_is_true(ok))
        FUZZ_ENSURE(json_object_get(r, "result") != NULL);
    else
        FUZZ_ENSURE(json_is_string(json_object_get(r, "error")));

    size_t l = first_line(data, size);
    if (l > GW_CTL_LINE_MAX_LEN || memchr(data, '\0', l) != NULL) {
        FUZZ_ENSURE(json_is_false(ok));
        FUZZ_ENSURE(handler_calls == calls0);
    }
    /* kill: the handler got what the line names. */
    if (handler_calls != calls0 && l <= GW_CTL_LINE_MAX_LEN) {
        char line[GW_CTL_LINE_MAX_LEN + 1];
        memcpy(line, data, l);
        line[l] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, "kill", 4) == 0 && (s[4] == ' ' || s[4] == '\t')) {
            char *a = s + 4;
            while (*a == ' ' || *a == '\t')
                a++;
            size_t e = strlen(a);
            while (e > 0 && (a[e - 1] == ' ' || a[e - 1] == '\t' || a[e - 1] == '\r'))
                a[--e] = '\0';
            uint32_t ip;
            uint16_t port;
            FUZZ_ENSURE(gw_ctl_parse_addr(a, &ip, &port) == 0 || strchr(a, ':') == NULL);
            if (strchr(a, ':') != NULL)
                FUZZ_ENSURE(ip == kill_ip && port == kill_port);
        }
    }
    json_decref(r);
    return 0;
}
