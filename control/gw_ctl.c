/* gw_ctl.c — control socket server (non-blocking, polled by the control
 * plane) and client request helper.  Protocol and ownership: gw_ctl.h.
 *
 * Must not: block (every descriptor is O_NONBLOCK; send uses MSG_NOSIGNAL so
 * a client that went away cannot raise SIGPIPE), hold more than
 * GW_CTL_MAX_CONNS connections, or keep a connection that sends nothing for
 * GW_CTL_CONN_TIMEOUT_MS.
 */
#include "gw_ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define GW_CTL_LISTEN_BACKLOG   16
#define GW_CTL_READ_CHUNK_BYTES 4096

enum conn_state {
    CONN_FREE = 0,
    CONN_READING,
    CONN_WRITING
};

struct gw_ctl_conn {
    int fd;
    enum conn_state state;
    uint64_t last_progress_ms;
    size_t in_len;
    char in[GW_CTL_LINE_MAX_LEN + 1]; /* +1: room to detect an overlong line */
    char *out;                        /* reply + '\n', malloc'd */
    size_t out_len;
    size_t out_off;
};

struct gw_ctl {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct gw_ctl_conn conns[GW_CTL_MAX_CONNS];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

CR_WUR static int fill_sockaddr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    CR_ENSURE(path && path[0], CR_ERR_INVAL);
    CR_ENSURE(strlen(path) < sizeof(sa->sun_path), CR_ERR_LIMIT);
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

int gw_ctl_parse_addr(const char *text, uint32_t *out_ipv4, uint16_t *out_port)
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr a;
    CR_ENSURE(text, CR_ERR_DECODE);
    const char *colon = strrchr(text, ':');
    CR_ENSURE(colon && (size_t)(colon - text) < sizeof(ip), CR_ERR_DECODE);
    memcpy(ip, text, (size_t)(colon - text));
    ip[colon - text] = '\0';
    CR_ENSURE(inet_pton(AF_INET, ip, &a) == 1, CR_ERR_DECODE);
    const char *p = colon + 1;
    CR_ENSURE(*p >= '0' && *p <= '9' && strlen(p) <= 5, CR_ERR_DECODE);
    unsigned long port = 0;
    for (; *p; p++) {
        CR_ENSURE(*p >= '0' && *p <= '9', CR_ERR_DECODE);
        port = port * 10 + (unsigned long)(*p - '0');
    }
    CR_ENSURE(port >= 1 && port <= 65535, CR_ERR_DECODE);
    *out_ipv4 = ntohl(a.s_addr);
    *out_port = (uint16_t)port;
    return 0;
}

/* ---- server ------------------------------------------------------------- */

int gw_ctl_open(struct gw_ctl **out_ctl, const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    CR_ENSURE(out_ctl, CR_ERR_INVAL);
    *out_ctl = NULL;
    CR_GUARD(fill_sockaddr(&sa, path));

    if (lstat(path, &st) == 0) {
        /* Only a socket nobody answers on may be replaced. */
        CR_ENSURE(S_ISSOCK(st.st_mode), CR_ERR_IO);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CR_ENSURE(probe >= 0, CR_ERR_IO);
        int live = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
                   (errno != ECONNREFUSED && errno != ENOENT);
        close(probe);
        CR_ENSURE(!live, CR_ERR_IO);
        CR_ENSURE(unlink(path) == 0 || errno == ENOENT, CR_ERR_IO);
    }

    struct gw_ctl *ctl = calloc(1, sizeof(*ctl));
    CR_ENSURE(ctl, CR_ERR_NOMEM);
    for (unsigned i = 0; i < GW_CTL_MAX_CONNS; i++)
        ctl->conns[i].fd = -1;
    memcpy(ctl->path, path, strlen(path) + 1);
    ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctl->fd < 0)
        goto fail;
    if (bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto fail;
    if (chmod(path, 0660) != 0 || listen(ctl->fd, GW_CTL_LISTEN_BACKLOG) != 0) {
        unlink(path);
        goto fail;
    }
    *out_ctl = ctl;
    return 0;
fail:
    if (ctl->fd >= 0)
        close(ctl->fd);
    free(ctl);
    return CR_ERR_IO;
}

int gw_ctl_fd(const struct gw_ctl *ctl)
{
    return ctl ? ctl->fd : -1;
}

static void conn_close(struct gw_ctl_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->state = CONN_FREE;
}

void gw_ctl_close(struct gw_ctl *ctl)
{
    if (!ctl)
        return;
    for (unsigned i = 0; i < GW_CTL_MAX_CONNS; i++)
        if (ctl->conns[i].state != CONN_FREE)
            conn_close(&ctl->conns[i]);
    if (ctl->fd >= 0)
        close(ctl->fd);
    unlink(ctl->path);
    free(ctl);
}

static json_t *error_reply(const char *msg)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* Runs one request line; always returns a reply object (NULL only when
 * jansson cannot allocate). */
static json_t *dispatch(char *line, const struct gw_ctl_handlers *h)
{
    char err[GW_CTL_ERR_MAX_LEN] = "";
    char msg[GW_CTL_ERR_MAX_LEN + 64];

    /* split "COMMAND [ARG]" on the first run of blanks */
    while (*line == ' ' || *line == '\t')
        line++;
    size_t end = strlen(line);
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r'))
        line[--end] = '\0';
    char *arg = line + strcspn(line, " \t");
    if (*arg) {
        *arg++ = '\0';
        while (*arg == ' ' || *arg == '\t')
            arg++;
    }
    const char *cmd = line;

    static const char *const names[] = {"stats",      "sessions",      "kill",
                                        "reload-psk", "rotate-cookie", "help"};
    size_t which = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(cmd, names[i]) == 0)
            which = i;
    if (which == sizeof(names) / sizeof(names[0])) {
        snprintf(msg, sizeof(msg), "unknown command '%.40s' (try help)", cmd);
        return error_reply(msg);
    }
    bool wants_arg = strcmp(cmd, "kill") == 0;
    if (wants_arg && !*arg)
        return error_reply("usage: kill A.B.C.D:PORT");
    if (!wants_arg && *arg) {
        snprintf(msg, sizeof(msg), "%s takes no argument", cmd);
        return error_reply(msg);
    }

    bool is_array = which == 1 || which == 5;
    json_t *result = is_array ? json_array() : json_object();
    if (!result)
        return NULL;
    int rc = CR_ERR_UNSUPPORTED;
    bool have = true;
    switch (which) {
    case 0:
        have = h && h->stats;
        if (have)
            rc = h->stats(h->arg, result, err);
        break;
    case 1:
        have = h && h->sessions;
        if (have)
            rc = h->sessions(h->arg, result, err);
        break;
    case 2: {
        uint32_t ip;
        uint16_t port;
        if (gw_ctl_parse_addr(arg, &ip, &port) < 0) {
            json_decref(result);
            snprintf(msg, sizeof(msg), "kill: '%.60s' is not A.B.C.D:PORT", arg);
            return error_reply(msg);
        }
        have = h && h->kill;
        if (have)
            rc = h->kill(h->arg, ip, port, result, err);
        break;
    }
    case 3:
        have = h && h->reload_psk;
        if (have)
            rc = h->reload_psk(h->arg, result, err);
        break;
    case 4:
        have = h && h->rotate_cookie;
        if (have)
            rc = h->rotate_cookie(h->arg, result, err);
        break;
    default:
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            json_array_append_new(result, json_string(names[i]));
        rc = 0;
        break;
    }
    if (!have) {
        json_decref(result);
        snprintf(msg, sizeof(msg), "%s: not supported by this gateway", cmd);
        return error_reply(msg);
    }
    if (rc < 0) {
        json_decref(result);
        err[GW_CTL_ERR_MAX_LEN - 1] = '\0';
        snprintf(msg, sizeof(msg), "%s: %s", cmd, err[0] ? err : cr_strerror(rc));
        return error_reply(msg);
    }
    return json_pack("{s:b, s:o}", "ok", 1, "result", result);
}

/* Serializes the reply into c->out and switches to writing. */
static void conn_answer(struct gw_ctl_conn *c, json_t *reply)
{
    static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";
    static const char big[] = "{\"ok\":false,\"error\":\"reply too large\"}\n";
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    const char *src = oom;
    size_t len = sizeof(oom) - 1;
    if (text && strlen(text) < GW_CTL_REPLY_MAX_BYTES) {
        src = text;
        len = strlen(text);
    } else if (text) {
        src = big;
        len = sizeof(big) - 1;
    }
    c->out = malloc(len + 1);
    if (c->out) {
        memcpy(c->out, src, len);
        if (src == text)
            c->out[len++] = '\n';
        c->out_len = len;
    }
    free(text);
    c->out_off = 0;
    c->state = CONN_WRITING;
}

/* Returns 1 when a request was answered (reply queued), 0 otherwise. */
static int conn_read(struct gw_ctl_conn *c, const struct gw_ctl_handlers *h)
{
    for (;;) {
        size_t room = sizeof(c->in) - 1 - c->in_len;
        if (room == 0) {
            conn_answer(c, error_reply("request line too long"));
            return 1;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c);
            return 0;
        }
        if (n == 0) { /* EOF: the line ends here, if there is one */
            if (c->in_len == 0) {
                conn_close(c);
                return 0;
            }
            c->in[c->in_len] = '\0';
            conn_answer(c, dispatch(c->in, h));
            return 1;
        }
        c->last_progress_ms = now_ms();
        char *nl = memchr(c->in + c->in_len, '\n', (size_t)n);
        c->in_len += (size_t)n;
        if (memchr(c->in, '\0', c->in_len)) {
            conn_answer(c, error_reply("NUL byte in request"));
            return 1;
        }
        if (nl) {
            *nl = '\0'; /* bytes after the first line are ignored */
            conn_answer(c, dispatch(c->in, h));
            return 1;
        }
    }
}

static void conn_write(struct gw_ctl_conn *c)
{
    if (!c->out) {
        conn_close(c);
        return;
    }
    while (c->out_off < c->out_len) {
        ssize_t n =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
        c->last_progress_ms = now_ms();
    }
    conn_close(c);
}

int gw_ctl_poll(struct gw_ctl *ctl, const struct gw_ctl_handlers *h)
{
    CR_ENSURE(ctl && ctl->fd >= 0, CR_ERR_INVAL);
    uint64_t now = now_ms();
    int answered = 0;

    for (unsigned k = 0; k < GW_CTL_ACCEPT_PER_POLL; k++) {
        int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EMFILE || errno == ENFILE ||
                errno == ENOBUFS || errno == ENOMEM)
                break; /* retried on the next poll */
            return CR_ERR_IO;
        }
        struct gw_ctl_conn *slot = NULL;
        for (unsigned i = 0; i < GW_CTL_MAX_CONNS && !slot; i++)
            if (ctl->conns[i].state == CONN_FREE)
                slot = &ctl->conns[i];
        if (!slot) { /* all busy: the client sees EOF and may retry */
            close(fd);
            continue;
        }
        memset(slot, 0, sizeof(*slot));
        slot->fd = fd;
        slot->state = CONN_READING;
        slot->last_progress_ms = now;
    }

    for (unsigned i = 0; i < GW_CTL_MAX_CONNS; i++) {
        struct gw_ctl_conn *c = &ctl->conns[i];
        if (c->state == CONN_READING)
            answered += conn_read(c, h);
        if (c->state == CONN_WRITING)
            conn_write(c);
        if (c->state != CONN_FREE && now >= c->last_progress_ms &&
            now - c->last_progress_ms > GW_CTL_CONN_TIMEOUT_MS)
            conn_close(c);
    }
    return answered;
}

/* ---- client ------------------------------------------------------------- */

static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline_ms)
            return CR_ERR_IO;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(deadline_ms - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return CR_ERR_IO;
    }
}

int gw_ctl_request(const char *path, const char *command, int timeout_ms, char **out_reply)
{
    struct sockaddr_un sa;
    CR_ENSURE(out_reply && command && timeout_ms > 0, CR_ERR_INVAL);
    *out_reply = NULL;
    size_t cmd_len = strlen(command);
    CR_ENSURE(cmd_len > 0 && cmd_len <= GW_CTL_LINE_MAX_LEN && !strchr(command, '\n'),
              CR_ERR_INVAL);
    CR_GUARD(fill_sockaddr(&sa, path));
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

    int rc = CR_ERR_IO;
    char *buf = NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CR_ERR_IO;
    /* A Unix stream connect either completes at once or fails with EAGAIN
     * when the backlog is full: retry until the deadline. */
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (errno != EAGAIN && errno != EINTR)
            goto out;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (now_ms() >= deadline)
            goto out;
    }
    char line[GW_CTL_LINE_MAX_LEN + 2];
    memcpy(line, command, cmd_len);
    line[cmd_len] = '\n';
    size_t off = 0;
    while (off < cmd_len + 1) {
        ssize_t n = send(fd, line + off, cmd_len + 1 - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN || wait_fd(fd, POLLOUT, deadline) < 0)
                goto out;
            continue;
        }
        off += (size_t)n;
    }
    size_t cap = GW_CTL_READ_CHUNK_BYTES, len = 0;
    buf = malloc(cap + 1);
    if (!buf) {
        rc = CR_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= GW_CTL_REPLY_MAX_BYTES) {
                rc = CR_ERR_LIMIT;
                goto out;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                rc = CR_ERR_NOMEM;
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN || wait_fd(fd, POLLIN, deadline) < 0)
                goto out;
            continue;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len == 0)
        goto out; /* server closed without a reply (e.g. all slots busy) */
    while (len > 0 && buf[len - 1] == '\n')
        len--;
    buf[len] = '\0';
    *out_reply = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}
