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
#include <stdarg.h>
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
/* umask around bind(): the socket inode is created 0777 & ~umask. */
#define GW_CTL_BIND_UMASK (0777 & ~GW_CTL_SOCKET_MODE)

enum conn_state {
    CONN_FREE = 0,
    CONN_READING,
    CONN_WRITING
};

struct gw_ctl_conn {
    int fd;
    enum conn_state state;
    bool admin; /* SO_PEERCRED uid is 0 or our euid */
    uint64_t last_progress_ms;
    size_t in_len;
    /* The line, its '\n' (replaced by the NUL); a line that fills the
     * buffer without a '\n' in its first GW_CTL_LINE_MAX_LEN + 1 bytes is
     * too long. */
    char in[GW_CTL_LINE_MAX_LEN + 1];
    char *out; /* reply + '\n', malloc'd */
    size_t out_len;
    size_t out_off;
};

struct gw_ctl {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct gw_ctl_conn conns[GW_CTL_MAX_CONNS];
    struct gw_ctl_counters cnt;
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

/* An IPv6 client: "[V6]:PORT", "[V6]" or "V6" (the last two: every port).
 * 0, or CR_ERR_DECODE when text is not one of those. */
static int parse_kill_target6(const char *text, uint8_t out_ip6[16], uint16_t *out_port)
{
    char ip[INET6_ADDRSTRLEN];
    *out_port = 0;
    if (text[0] != '[')
        return inet_pton(AF_INET6, text, out_ip6) == 1 ? 0 : CR_ERR_DECODE;
    const char *end = strchr(text, ']');
    CR_ENSURE(end && (size_t)(end - text - 1) < sizeof(ip), CR_ERR_DECODE);
    memcpy(ip, text + 1, (size_t)(end - text - 1));
    ip[end - text - 1] = '\0';
    CR_ENSURE(inet_pton(AF_INET6, ip, out_ip6) == 1, CR_ERR_DECODE);
    if (end[1] == '\0')
        return 0;
    CR_ENSURE(end[1] == ':', CR_ERR_DECODE);
    const char *p = end + 2;
    CR_ENSURE(*p >= '0' && *p <= '9' && strlen(p) <= 5, CR_ERR_DECODE);
    unsigned long port = 0;
    for (; *p; p++) {
        CR_ENSURE(*p >= '0' && *p <= '9', CR_ERR_DECODE);
        port = port * 10 + (unsigned long)(*p - '0');
    }
    CR_ENSURE(port >= 1 && port <= 65535, CR_ERR_DECODE);
    *out_port = (uint16_t)port;
    return 0;
}

/* "A.B.C.D" alone: every port (port 0). */
static int parse_kill_target(const char *text, uint32_t *out_ipv4, uint16_t *out_port)
{
    struct in_addr a;
    if (strchr(text, ':'))
        return gw_ctl_parse_addr(text, out_ipv4, out_port);
    CR_ENSURE(inet_pton(AF_INET, text, &a) == 1, CR_ERR_DECODE);
    *out_ipv4 = ntohl(a.s_addr);
    *out_port = 0;
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

static int open_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int open_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int gw_ctl_open(struct gw_ctl **out_ctl, const char *path, char *err, size_t err_len)
{
    struct sockaddr_un sa;
    struct stat st;
    CR_ENSURE(out_ctl, CR_ERR_INVAL);
    *out_ctl = NULL;
    if (err && err_len)
        err[0] = '\0';
    int rc = fill_sockaddr(&sa, path);
    if (rc < 0)
        return open_fail(err, err_len, rc, "bad socket path");

    /* lstat, never stat: a symlink is refused, not followed.  Only a socket
     * of ours that nobody answers on may be removed; anything else at the
     * path belongs to someone else (another user may have planted it). */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return open_fail(err, err_len, CR_ERR_IO,
                             "%s exists and is not a socket; not replacing it", path);
        if (st.st_uid != geteuid())
            return open_fail(err, err_len, CR_ERR_IO,
                             "%s is a socket owned by uid %u, not ours (%u); not replacing it",
                             path, (unsigned)st.st_uid, (unsigned)geteuid());
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return open_fail(err, err_len, CR_ERR_IO, "socket: %s", strerror(errno));
        int live = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
                   (errno != ECONNREFUSED && errno != ENOENT);
        close(probe);
        if (live)
            return open_fail(err, err_len, CR_ERR_IO,
                             "%s is in use (another gateway answers on it)", path);
        if (unlink(path) != 0 && errno != ENOENT)
            return open_fail(err, err_len, CR_ERR_IO, "cannot remove stale %s: %s", path,
                             strerror(errno));
    } else if (errno != ENOENT) {
        return open_fail(err, err_len, CR_ERR_IO, "%s: %s", path, strerror(errno));
    }

    struct gw_ctl *ctl = calloc(1, sizeof(*ctl));
    if (!ctl)
        return open_fail(err, err_len, CR_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; i < GW_CTL_MAX_CONNS; i++)
        ctl->conns[i].fd = -1;
    memcpy(ctl->path, path, strlen(path) + 1);
    bool bound = false;
    ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctl->fd < 0) {
        open_fail(err, err_len, 0, "socket: %s", strerror(errno));
        goto fail;
    }
    /* The inode gets its final mode from bind() itself: there is no window
     * in which the process umask (perhaps 0) leaves it world-accessible.
     * umask is process-wide; this runs at start-up, before any thread
     * creates files. */
    mode_t old_umask = umask(GW_CTL_BIND_UMASK);
    int brc = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa));
    int berr = errno;
    umask(old_umask);
    if (brc != 0) {
        open_fail(err, err_len, 0, "bind %s: %s", path, strerror(berr));
        goto fail;
    }
    bound = true;
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
        open_fail(err, err_len, 0, "%s changed under us after bind", path);
        goto fail;
    }
    /* A default ACL on the directory overrides the umask: narrow it. */
    if ((st.st_mode & 0777) != GW_CTL_SOCKET_MODE && chmod(path, GW_CTL_SOCKET_MODE) != 0) {
        open_fail(err, err_len, 0, "chmod %s: %s", path, strerror(errno));
        goto fail;
    }
    if (listen(ctl->fd, GW_CTL_LISTEN_BACKLOG) != 0) {
        open_fail(err, err_len, 0, "listen %s: %s", path, strerror(errno));
        goto fail;
    }
    *out_ctl = ctl;
    return 0;
fail:
    if (bound)
        unlink(path);
    if (ctl->fd >= 0)
        close(ctl->fd);
    free(ctl);
    return CR_ERR_IO;
}

const struct gw_ctl_counters *gw_ctl_counters(const struct gw_ctl *ctl)
{
    return ctl ? &ctl->cnt : NULL;
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

json_t *gw_ctl_counters_json(const struct gw_ctl_counters *cnt)
{
    json_t *o = json_object();
#define GW_CTL_X_JSON(name) json_object_set_new(o, #name, json_integer((json_int_t)cnt->name));
    if (o && cnt)
        GW_CTL_COUNTERS(GW_CTL_X_JSON)
#undef GW_CTL_X_JSON
    return o;
}

/* Commands and who may run them.  Admin ones change state or end sessions:
 * only root or the gateway's own euid (SO_PEERCRED) may ask. */
enum cmd_id {
    CMD_STATS,
    CMD_SESSIONS,
    CMD_KILL,
    CMD_RELOAD_PSK,
    CMD_ROTATE_COOKIE,
    CMD_SAVE,
    CMD_HELP
};
static const struct {
    const char *name;
    bool admin;
    bool wants_arg;
    bool is_array;
} cmds[] = {
    [CMD_STATS] = {"stats", false, false, false},
    [CMD_SESSIONS] = {"sessions", false, false, true},
    [CMD_KILL] = {"kill", true, true, false},
    [CMD_RELOAD_PSK] = {"reload-psk", true, false, false},
    [CMD_ROTATE_COOKIE] = {"rotate-cookie", true, false, false},
    [CMD_SAVE] = {"save", true, false, false},
    [CMD_HELP] = {"help", false, false, true},
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Runs one request line; always returns a reply object (NULL only when
 * jansson cannot allocate). */
static json_t *dispatch(struct gw_ctl *ctl, const struct gw_ctl_conn *c, char *line,
                        const struct gw_ctl_handlers *h)
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

    size_t which = N_CMDS;
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            which = i;
    ctl->cnt.requests++;
    if (which == N_CMDS) {
        snprintf(msg, sizeof(msg), "unknown command '%.40s' (try help)", cmd);
        return error_reply(msg);
    }
    if (cmds[which].admin && !c->admin) {
        ctl->cnt.refused_admin++;
        snprintf(msg, sizeof(msg), "%s: permission denied (admin command: root or uid %u only)",
                 cmd, (unsigned)geteuid());
        return error_reply(msg);
    }
    if (cmds[which].wants_arg && !*arg)
        return error_reply("usage: kill A.B.C.D[:PORT] | [IPV6][:PORT]");
    if (!cmds[which].wants_arg && *arg) {
        snprintf(msg, sizeof(msg), "%s takes no argument", cmd);
        return error_reply(msg);
    }

    bool is_array = cmds[which].is_array;
    json_t *result = is_array ? json_array() : json_object();
    if (!result)
        return NULL;
    int rc = CR_ERR_UNSUPPORTED;
    bool have = true;
    switch (which) {
    case CMD_STATS:
        have = h && h->stats;
        if (have)
            rc = h->stats(h->arg, result, err);
        if (rc == 0)
            json_object_set_new(result, "control", gw_ctl_counters_json(&ctl->cnt));
        break;
    case CMD_SESSIONS:
        have = h && h->sessions;
        if (have)
            rc = h->sessions(h->arg, result, err);
        break;
    case CMD_KILL: {
        uint32_t ip;
        uint16_t port;
        uint8_t ip6[16];
        if (parse_kill_target6(arg, ip6, &port) == 0) {
            have = h && h->kill6;
            if (have)
                rc = h->kill6(h->arg, ip6, port, result, err);
            break;
        }
        if (parse_kill_target(arg, &ip, &port) < 0) {
            json_decref(result);
            snprintf(msg, sizeof(msg), "kill: '%.60s' is not A.B.C.D[:PORT] or [IPV6][:PORT]", arg);
            return error_reply(msg);
        }
        have = h && h->kill;
        if (have)
            rc = h->kill(h->arg, ip, port, result, err);
        break;
    }
    case CMD_RELOAD_PSK:
        have = h && h->reload_psk;
        if (have)
            rc = h->reload_psk(h->arg, result, err);
        break;
    case CMD_ROTATE_COOKIE:
        have = h && h->rotate_cookie;
        if (have)
            rc = h->rotate_cookie(h->arg, result, err);
        break;
    case CMD_SAVE:
        have = h && h->save;
        if (have)
            rc = h->save(h->arg, result, err);
        break;
    default:
        for (size_t i = 0; i < N_CMDS; i++)
            json_array_append_new(result, json_string(cmds[i].name));
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

/* Queues a fixed error line (no allocation, cannot fail). */
static void conn_answer_static(struct gw_ctl_conn *c, const char *line)
{
    c->out = strdup(line);
    c->out_len = c->out ? strlen(line) : 0;
    c->out_off = 0;
    c->state = CONN_WRITING;
}

/* Serializes the reply into c->out (at most GW_CTL_REPLY_MAX_BYTES with its
 * '\n', never more memory than that) and switches to writing.  An array
 * result over the cap is cut from the end, marked "truncated":true with its
 * "total"; anything else over the cap becomes an error line.  Owns reply. */
static void conn_answer(struct gw_ctl *ctl, struct gw_ctl_conn *c, json_t *reply)
{
    static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";
    static const char big[] = "{\"ok\":false,\"error\":\"reply too large\"}\n";
    /* json_dumpb(.., NULL, 0, ..) measures without allocating the text. */
    size_t need = reply ? json_dumpb(reply, NULL, 0, JSON_COMPACT) : 0;
    json_t *arr = json_object_get(reply, "result");
    if (need >= GW_CTL_REPLY_MAX_BYTES && json_is_array(arr) && json_array_size(arr) > 0) {
        size_t total = json_array_size(arr);
        json_object_set_new(reply, "truncated", json_true());
        json_object_set_new(reply, "total", json_integer((json_int_t)total));
        /* first guess proportional to the size, then 10% less per try */
        size_t keep = (size_t)((double)total * ((double)GW_CTL_REPLY_MAX_BYTES * 0.95 / need));
        for (;;) {
            while (json_array_size(arr) > keep)
                json_array_remove(arr, json_array_size(arr) - 1);
            need = json_dumpb(reply, NULL, 0, JSON_COMPACT);
            if (need < GW_CTL_REPLY_MAX_BYTES || keep == 0)
                break;
            keep = keep - keep / 10 - 1;
        }
        ctl->cnt.reply_truncated++;
    }
    if (!reply || need == 0) {
        json_decref(reply);
        conn_answer_static(c, oom);
        return;
    }
    if (need >= GW_CTL_REPLY_MAX_BYTES) {
        json_decref(reply);
        ctl->cnt.reply_too_large++;
        conn_answer_static(c, big);
        return;
    }
    c->out = malloc(need + 1);
    if (!c->out || json_dumpb(reply, c->out, need, JSON_COMPACT) != need) {
        json_decref(reply);
        free(c->out);
        conn_answer_static(c, oom);
        return;
    }
    json_decref(reply);
    c->out[need] = '\n';
    c->out_len = need + 1;
    c->out_off = 0;
    c->state = CONN_WRITING;
}

/* Returns 1 when a request was answered (reply queued), 0 otherwise. */
static int conn_read(struct gw_ctl *ctl, struct gw_ctl_conn *c, const struct gw_ctl_handlers *h)
{
    for (;;) {
        /* GW_CTL_LINE_MAX_LEN + 1 bytes without a '\n': too long.  It is
         * refused whole, never cut into a shorter command. */
        size_t room = sizeof(c->in) - c->in_len;
        if (room == 0) {
            ctl->cnt.line_too_long++;
            conn_answer(ctl, c, error_reply("request line too long"));
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
            c->in[c->in_len] = '\0'; /* in_len <= GW_CTL_LINE_MAX_LEN here */
            conn_answer(ctl, c, dispatch(ctl, c, c->in, h));
            return 1;
        }
        c->last_progress_ms = now_ms();
        char *nl = memchr(c->in + c->in_len, '\n', (size_t)n);
        c->in_len += (size_t)n;
        size_t line_len = nl ? (size_t)(nl - c->in) : c->in_len;
        if (memchr(c->in, '\0', line_len)) {
            ctl->cnt.nul_byte++;
            conn_answer(ctl, c, error_reply("NUL byte in request"));
            return 1;
        }
        if (nl) {
            *nl = '\0'; /* bytes after the first line are ignored */
            conn_answer(ctl, c, dispatch(ctl, c, c->in, h));
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
            ctl->cnt.conns_busy++;
            close(fd);
            continue;
        }
        /* Who is asking, from the kernel (not from anything the peer
         * sends): fixed at connect() time, read once per connection. */
        struct ucred cred;
        socklen_t cred_len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 ||
            cred_len != sizeof(cred)) {
            ctl->cnt.no_peercred++;
            close(fd);
            continue;
        }
        memset(slot, 0, sizeof(*slot));
        slot->fd = fd;
        slot->admin = cred.uid == 0 || cred.uid == geteuid();
        slot->state = CONN_READING;
        slot->last_progress_ms = now;
    }

    for (unsigned i = 0; i < GW_CTL_MAX_CONNS; i++) {
        struct gw_ctl_conn *c = &ctl->conns[i];
        if (c->state == CONN_READING)
            answered += conn_read(ctl, c, h);
        if (c->state == CONN_WRITING)
            conn_write(c);
        if (c->state != CONN_FREE && now >= c->last_progress_ms &&
            now - c->last_progress_ms > GW_CTL_CONN_TIMEOUT_MS) {
            ctl->cnt.conns_timed_out++;
            conn_close(c);
        }
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
            /* a reply is at most GW_CTL_REPLY_MAX_BYTES with its '\n':
             * room for one byte more tells a full-size reply from a
             * longer one */
            if (cap > GW_CTL_REPLY_MAX_BYTES) {
                rc = CR_ERR_LIMIT;
                goto out;
            }
            size_t ncap = cap * 2 > GW_CTL_REPLY_MAX_BYTES ? GW_CTL_REPLY_MAX_BYTES + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = CR_ERR_NOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
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
