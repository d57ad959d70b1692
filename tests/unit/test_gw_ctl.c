/* test_gw_ctl.c — CUnit suite for control/gw_ctl.c: the control socket
 * server polled from a thread with fake handlers, driven by the real client
 * call (gw_ctl_request) and by raw sockets for malformed requests. */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cu_main.h"
#include "gw_ctl.h"

#define N_BIG_SESSIONS 20000

static char tmpdir[64];
static char sock_path[128];

/* what the fake handlers saw (written by the server thread, read after a
 * request completed: the reply is sent after the handler ran) */
static atomic_int n_stats, n_sessions, n_kill, n_reload;
static atomic_uint kill_ip, kill_port;
static atomic_int sessions_big; /* sessions handler returns N_BIG_SESSIONS */
static atomic_int reload_fails; /* 1: with message, 2: without */

static int h_stats(void *arg, json_t *res, char *err)
{
    (void)err;
    CU_ASSERT_PTR_EQUAL(arg, &n_stats);
    n_stats++;
    json_object_set_new(res, "rx_packets", json_integer(12345));
    json_object_set_new(res, "drops", json_pack("{s:i, s:i}", "bad_mac", 3, "replay", 4));
    return 0;
}

static int h_sessions(void *arg, json_t *res, char *err)
{
    (void)arg;
    (void)err;
    n_sessions++;
    int n = sessions_big ? N_BIG_SESSIONS : 2;
    /* sessions_big == 2: each entry carries ~1 KiB, the whole reply is
     * over GW_CTL_REPLY_MAX_BYTES */
    static char pad[1025];
    memset(pad, 'p', sizeof(pad) - 1);
    for (int i = 0; i < n; i++)
        json_array_append_new(res, json_pack("{s:s, s:i, s:s, s:s}", "client", "10.0.0.2:40000",
                                             "index", i, "suite", "TLS_PSK_WITH_AES_128_CCM_8",
                                             "pad", sessions_big == 2 ? pad : ""));
    return 0;
}

static int h_kill(void *arg, uint32_t ip, uint16_t port, json_t *res, char *err)
{
    (void)arg;
    n_kill++;
    kill_ip = ip;
    kill_port = port;
    if (port == 9) {
        snprintf(err, GW_CTL_ERR_MAX_LEN, "no session for that client");
        return CR_ERR_INVAL;
    }
    json_object_set_new(res, "killed", json_integer(1));
    return 0;
}

static int h_reload(void *arg, json_t *res, char *err)
{
    (void)arg;
    n_reload++;
    if (reload_fails == 1) {
        snprintf(err, GW_CTL_ERR_MAX_LEN, "psk.txt:3: bad hex key");
        return CR_ERR_DECODE;
    }
    if (reload_fails == 2)
        return CR_ERR_IO;
    json_object_set_new(res, "identities", json_integer(7));
    return 0;
}

static int h_kill6(void *arg, const uint8_t *ip6, uint16_t port, json_t *res, char *err);

static struct gw_ctl_handlers handlers = {
    .arg = &n_stats,
    .stats = h_stats,
    .sessions = h_sessions,
    .kill = h_kill,
    .kill6 = h_kill6,
    .reload_psk = h_reload,
    .rotate_cookie = NULL, /* "not supported" path */
};

static struct gw_ctl *server;
static pthread_t server_thread;
static atomic_int server_stop;
static atomic_int server_poll_err;

static void *server_main(void *arg)
{
    (void)arg;
    while (!server_stop) {
        if (gw_ctl_poll(server, &handlers) < 0)
            server_poll_err++;
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_gw_ctl.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", tmpdir);
    if (gw_ctl_open(&server, sock_path, NULL, 0) != 0)
        return -1;
    return pthread_create(&server_thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
    server_stop = 1;
    pthread_join(server_thread, NULL);
    gw_ctl_close(server);
    char p[192];
    snprintf(p, sizeof(p), "%s/file", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/stale.sock", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

/* Sends cmd; returns the parsed reply (caller decrefs) or NULL. */
static json_t *ask(const char *cmd)
{
    char *reply = NULL;
    int rc = gw_ctl_request(sock_path, cmd, 3000, &reply);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
        return NULL;
    json_error_t e;
    json_t *j = json_loads(reply, 0, &e);
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_PTR_NULL(strchr(reply, '\n')); /* exactly one line */
    free(reply);
    return j;
}

static void expect_error(const char *cmd, const char *what)
{
    json_t *j = ask(cmd);
    if (!j)
        return;
    CU_ASSERT(json_is_false(json_object_get(j, "ok")));
    const char *msg = json_string_value(json_object_get(j, "error"));
    CU_ASSERT_PTR_NOT_NULL(msg);
    if (!msg || !strstr(msg, what)) {
        printf("\n  cmd '%s': want '%s' got '%s'\n", cmd, what, msg ? msg : "(none)");
        CU_FAIL("error text");
    }
    json_decref(j);
}

static void test_stats(void)
{
    int before = n_stats;
    json_t *j = ask("stats");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_t *r = json_object_get(j, "result");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "rx_packets")), 12345);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "drops"), "replay")), 4);
    CU_ASSERT_EQUAL(n_stats, before + 1);
    json_decref(j);
    /* blanks and CR around the command are tolerated */
    j = ask("  stats \r");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    CU_ASSERT_EQUAL(n_stats, before + 2);
}

static void test_sessions_and_help(void)
{
    json_t *j = ask("sessions");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    json_t *r = json_object_get(j, "result");
    CU_ASSERT(json_is_array(r));
    CU_ASSERT_EQUAL(json_array_size(r), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(r, 1), "suite")),
                           "TLS_PSK_WITH_AES_128_CCM_8");
    json_decref(j);
    j = ask("help");
    r = json_object_get(j, "result");
    CU_ASSERT_EQUAL(json_array_size(r), 7);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(r, 2)), "kill");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(r, 5)), "save");
    json_decref(j);
}

static void test_big_reply(void)
{
    sessions_big = 1;
    json_t *j = ask("sessions");
    sessions_big = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    json_t *r = json_object_get(j, "result");
    CU_ASSERT_EQUAL(json_array_size(r), N_BIG_SESSIONS);
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(json_array_get(r, N_BIG_SESSIONS - 1), "index")),
        N_BIG_SESSIONS - 1);
    json_decref(j);
}

static atomic_int n_kill6;
static uint8_t kill6_ip[16];
static atomic_uint kill6_port;

static int h_kill6(void *arg, const uint8_t *ip6, uint16_t port, json_t *res, char *err)
{
    (void)arg;
    (void)err;
    n_kill6++;
    memcpy(kill6_ip, ip6, 16);
    kill6_port = port;
    json_object_set_new(res, "killed", json_integer(2));
    return 0;
}

/* kill of an IPv6 client: [V6]:PORT, [V6], V6 reach kill6; malformed
 * brackets and ports are refused before any handler. */
static void test_kill6(void)
{
    static const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    int before = n_kill6, before4 = n_kill;
    json_t *j = ask("kill [2001:db8::2]:40001");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "result"), "killed")), 2);
    json_decref(j);
    CU_ASSERT_EQUAL(n_kill6, before + 1);
    CU_ASSERT(memcmp(kill6_ip, want, 16) == 0);
    CU_ASSERT_EQUAL(kill6_port, 40001);
    j = ask("kill [2001:db8::2]");
    json_decref(j);
    CU_ASSERT_EQUAL(kill6_port, 0);
    j = ask("kill 2001:db8::2");
    json_decref(j);
    CU_ASSERT_EQUAL(n_kill6, before + 3);
    CU_ASSERT_EQUAL(kill6_port, 0);
    expect_error("kill [2001:db8::2]:0", "is not A.B.C.D[:PORT] or [IPV6][:PORT]");
    expect_error("kill [2001:db8::2]:70000", "is not A.B.C.D[:PORT] or [IPV6][:PORT]");
    expect_error("kill [2001:db8::2", "is not A.B.C.D[:PORT] or [IPV6][:PORT]");
    expect_error("kill [10.1.2.3]:80", "is not A.B.C.D[:PORT] or [IPV6][:PORT]");
    expect_error("kill [2001:db8::2]x", "is not A.B.C.D[:PORT] or [IPV6][:PORT]");
    CU_ASSERT_EQUAL(n_kill6, before + 3);
    CU_ASSERT_EQUAL(n_kill, before4);
}

static void test_kill(void)
{
    int before = n_kill;
    json_t *j = ask("kill 10.1.2.3:40001");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "result"), "killed")), 1);
    json_decref(j);
    CU_ASSERT_EQUAL(n_kill, before + 1);
    CU_ASSERT_EQUAL(kill_ip, 0x0A010203u);
    CU_ASSERT_EQUAL(kill_port, 40001);
    expect_error("kill 10.1.2.3:9", "kill: no session for that client");
    CU_ASSERT_EQUAL(n_kill, before + 2);
    /* malformed arguments never reach the handler */
    expect_error("kill", "usage: kill A.B.C.D[:PORT]");
    expect_error("kill 10.1.2.3:0", "is not A.B.C.D[:PORT]");
    expect_error("kill 10.1.2.3:65536", "is not A.B.C.D[:PORT]");
    expect_error("kill 10.1.2:80", "is not A.B.C.D[:PORT]");
    expect_error("kill host:80", "is not A.B.C.D[:PORT]");
    expect_error("kill host", "is not A.B.C.D[:PORT]");
    CU_ASSERT_EQUAL(n_kill, before + 2);
    /* an address alone: every port of it (port 0 to the handler) */
    j = ask("kill 10.1.2.4");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    CU_ASSERT_EQUAL(n_kill, before + 3);
    CU_ASSERT_EQUAL(kill_ip, 0x0A010204u);
    CU_ASSERT_EQUAL(kill_port, 0);
}

static void test_errors(void)
{
    expect_error("frobnicate", "unknown command 'frobnicate'");
    expect_error("stats now", "stats takes no argument");
    expect_error("rotate-cookie", "rotate-cookie: not supported");
    expect_error("save", "save: not supported");
    reload_fails = 1;
    expect_error("reload-psk", "reload-psk: psk.txt:3: bad hex key");
    reload_fails = 2;
    expect_error("reload-psk", "reload-psk: ");
    reload_fails = 0;
    json_t *j = ask("reload-psk");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    char *reply = NULL;
    CU_ASSERT_EQUAL(gw_ctl_request(sock_path, "a\nb", 1000, &reply), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(gw_ctl_request(sock_path, "", 1000, &reply), CR_ERR_INVAL);
    char nosock[160];
    snprintf(nosock, sizeof(nosock), "%s/none.sock", tmpdir);
    CU_ASSERT_EQUAL(gw_ctl_request(nosock, "stats", 1000, &reply), CR_ERR_IO);
    CU_ASSERT_PTR_NULL(reply);
}

static int raw_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT(fd >= 0);
    CU_ASSERT_EQUAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Reads to EOF; returns bytes read. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len < cap - 1 && (n = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return len;
}

static void test_raw_requests(void)
{
    char buf[4096];
    /* request ended by EOF instead of a newline */
    int fd = raw_connect();
    CU_ASSERT_EQUAL(send(fd, "stats", 5, 0), 5);
    shutdown(fd, SHUT_WR);
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"ok\":true"));
    CU_ASSERT(buf[strlen(buf) - 1] == '\n');
    close(fd);

    /* an overlong line is refused, not truncated into a command */
    fd = raw_connect();
    char line[GW_CTL_LINE_MAX_LEN + 50];
    memset(line, 'a', sizeof(line));
    memcpy(line, "stats", 5);
    CU_ASSERT_EQUAL(send(fd, line, sizeof(line), 0), (ssize_t)sizeof(line));
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "request line too long"));
    close(fd);

    /* NUL inside the request */
    fd = raw_connect();
    CU_ASSERT_EQUAL(send(fd, "sta\0ts\n", 7, 0), 7);
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "NUL byte"));
    close(fd);

    /* a request split over several writes */
    fd = raw_connect();
    CU_ASSERT_EQUAL(send(fd, "kill 10.0", 9, 0), 9);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL(send(fd, ".0.9:77\nstats\n", 14, 0), 14);
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"killed\":1"));
    CU_ASSERT_EQUAL(kill_port, 77);
    close(fd);

    /* connect and leave at once: nothing answered, server keeps going */
    fd = raw_connect();
    close(fd);
    json_t *j = ask("stats");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
}

static void test_many_connections(void)
{
    /* More idle connections than slots: the extra ones are closed at once,
     * and the idle ones do not stop others from being served once freed. */
    int fds[GW_CTL_MAX_CONNS + 4];
    for (int i = 0; i < GW_CTL_MAX_CONNS + 4; i++)
        fds[i] = raw_connect();
    /* Generous: the server thread may be slow under ASan on a loaded box. */
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char buf[256];
    int closed_early = 0;
    for (int i = 0; i < GW_CTL_MAX_CONNS + 4; i++) {
        struct timeval tv = {0, 100 * 1000};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t n = recv(fds[i], buf, sizeof(buf), 0);
        if (n == 0)
            closed_early++;
    }
    CU_ASSERT(closed_early >= 4);
    CU_ASSERT(closed_early < GW_CTL_MAX_CONNS + 4);
    for (int i = 0; i < GW_CTL_MAX_CONNS + 4; i++)
        close(fds[i]);
    nanosleep(&ts, NULL);
    json_t *j = ask("stats");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    CU_ASSERT_EQUAL(server_poll_err, 0);
}

static void test_open_rules(void)
{
    struct gw_ctl *c = NULL;
    /* live socket: refused, and the running server still answers */
    CU_ASSERT_EQUAL(gw_ctl_open(&c, sock_path, NULL, 0), CR_ERR_IO);
    CU_ASSERT_PTR_NULL(c);
    json_t *j = ask("stats");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);

    /* a regular file is never removed */
    char p[192];
    snprintf(p, sizeof(p), "%s/file", tmpdir);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(gw_ctl_open(&c, p, NULL, 0), CR_ERR_IO);
    CU_ASSERT_EQUAL(access(p, F_OK), 0);

    /* stale socket from a dead process: replaced */
    snprintf(p, sizeof(p), "%s/stale.sock", tmpdir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, p, strlen(p) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    CU_ASSERT_EQUAL(gw_ctl_open(&c, p, NULL, 0), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(gw_ctl_fd(c) >= 0);
    struct stat st;
    CU_ASSERT_EQUAL(stat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0660);
    /* polling with nothing pending returns 0 at once; NULL handlers: a
     * request gets "not supported" rather than a crash */
    CU_ASSERT_EQUAL(gw_ctl_poll(c, NULL), 0);
    gw_ctl_close(c);
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);

    char longp[200];
    memset(longp, 'x', sizeof(longp));
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    CU_ASSERT_EQUAL(gw_ctl_open(&c, longp, NULL, 0), CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(gw_ctl_open(&c, "", NULL, 0), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(gw_ctl_poll(NULL, NULL), CR_ERR_INVAL);
}

static void test_parse_addr(void)
{
    static const struct {
        const char *text;
        int ok;
        uint32_t ip;
        uint16_t port;
    } cases[] = {
        {"1.2.3.4:5", 1, 0x01020304, 5},
        {"255.255.255.255:65535", 1, 0xffffffff, 65535},
        {"0.0.0.0:1", 1, 0, 1},
        {"1.2.3.4:0", 0, 0, 0},
        {"1.2.3.4:65536", 0, 0, 0},
        {"1.2.3.4:", 0, 0, 0},
        {":80", 0, 0, 0},
        {"1.2.3.4:8a", 0, 0, 0},
        {"1.2.3.4:-1", 0, 0, 0},
        {"1.2.3.4:123456", 0, 0, 0},
        {"1.2.3.4", 0, 0, 0},
        {"1.2.3.4.5:80", 0, 0, 0},
        {"[::1]:80", 0, 0, 0},
        {"", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t ip = 0;
        uint16_t port = 0;
        int rc = gw_ctl_parse_addr(cases[i].text, &ip, &port);
        CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
        if (cases[i].ok) {
            CU_ASSERT_EQUAL(ip, cases[i].ip);
            CU_ASSERT_EQUAL(port, cases[i].port);
        }
    }
}

/* Linked with -Wl,--wrap=bind (tests/meson.build): records the mode a Unix
 * socket inode has the moment bind() created it, before gw_ctl_open() could
 * chmod it. */
int __real_bind(int fd, const struct sockaddr *sa, socklen_t len);
static atomic_int bind_watch;
static atomic_uint bind_mode_seen;
int __wrap_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    int rc = __real_bind(fd, sa, len);
    struct stat st;
    if (rc == 0 && bind_watch && sa->sa_family == AF_UNIX &&
        lstat(((const struct sockaddr_un *)sa)->sun_path, &st) == 0)
        bind_mode_seen = st.st_mode & 07777;
    return rc;
}

static void make_stale_socket(const char *p)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, p, strlen(p) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

static void test_open_safety(void)
{
    struct gw_ctl *c = NULL;
    char p[192], q[192], err[256];
    struct stat st;

    /* a stale socket of another user is not ours to remove */
    snprintf(p, sizeof(p), "%s/other.sock", tmpdir);
    make_stale_socket(p);
    CU_ASSERT_EQUAL_FATAL(chown(p, 65534, 65534), 0);
    err[0] = '\0';
    CU_ASSERT_EQUAL(gw_ctl_open(&c, p, err, sizeof(err)), CR_ERR_IO);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "owned by uid 65534"));
    CU_ASSERT_EQUAL(lstat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_uid, 65534);
    unlink(p);

    /* a symlink (even to a stale socket of ours) is refused, not followed */
    snprintf(q, sizeof(q), "%s/target.sock", tmpdir);
    make_stale_socket(q);
    snprintf(p, sizeof(p), "%s/link.sock", tmpdir);
    CU_ASSERT_EQUAL_FATAL(symlink(q, p), 0);
    CU_ASSERT_EQUAL(gw_ctl_open(&c, p, err, sizeof(err)), CR_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a socket"));
    CU_ASSERT_EQUAL(lstat(p, &st), 0);
    CU_ASSERT(S_ISLNK(st.st_mode));
    CU_ASSERT_EQUAL(lstat(q, &st), 0);
    unlink(p);
    unlink(q);

    /* even under umask 0 the socket is born 0660, not chmod-ed later */
    snprintf(p, sizeof(p), "%s/umask.sock", tmpdir);
    mode_t old = umask(0);
    bind_mode_seen = 0;
    bind_watch = 1;
    int rc = gw_ctl_open(&c, p, err, sizeof(err));
    bind_watch = 0;
    umask(old);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(bind_mode_seen, GW_CTL_SOCKET_MODE);
    CU_ASSERT_EQUAL(bind_mode_seen & 0007, 0);
    CU_ASSERT_EQUAL(lstat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, GW_CTL_SOCKET_MODE);
    CU_ASSERT_EQUAL(umask(old), old); /* our umask is given back */
    gw_ctl_close(c);
}

/* Runs fn in a child that dropped to uid 65534 with primary group gid;
 * returns its exit status (0: all its checks held). */
static int as_nobody(gid_t gid, int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(65534) != 0)
            _exit(100);
        _exit(fn());
    }
    int st = -1;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int child_reply_has(const char *cmd, const char *what)
{
    char *reply = NULL;
    if (gw_ctl_request(sock_path, cmd, 3000, &reply) != 0)
        return 0;
    int ok = strstr(reply, what) != NULL;
    if (!ok)
        fprintf(stderr, "  child '%s': want '%s' got '%s'\n", cmd, what, reply);
    free(reply);
    return ok;
}

/* In the socket's group but not root or our uid: read-only commands only. */
static int child_group_member(void)
{
    if (!child_reply_has("stats", "\"ok\":true"))
        return 1;
    if (!child_reply_has("sessions", "\"ok\":true"))
        return 2;
    if (!child_reply_has("kill 10.1.2.3:40001", "kill: permission denied"))
        return 3;
    if (!child_reply_has("kill 10.1.2.3", "kill: permission denied"))
        return 4;
    if (!child_reply_has("reload-psk", "reload-psk: permission denied"))
        return 5;
    if (!child_reply_has("rotate-cookie", "rotate-cookie: permission denied"))
        return 6;
    return 0;
}

/* Neither owner nor group: cannot even connect (mode 0660). */
static int child_outsider(void)
{
    char *reply = NULL;
    return gw_ctl_request(sock_path, "stats", 1000, &reply) == CR_ERR_IO && !reply ? 0 : 1;
}

static json_int_t control_counter(const char *name)
{
    json_t *j = ask("stats");
    json_int_t v = json_integer_value(
        json_object_get(json_object_get(json_object_get(j, "result"), "control"), name));
    json_decref(j);
    return v;
}

static void test_peercred(void)
{
    if (geteuid() != 0) {
        CU_FAIL("needs root (setuid to 65534 in a child)");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(chmod(tmpdir, 0711), 0); /* the child may reach the socket */
    int kills = n_kill, reloads = n_reload;
    json_int_t refused = control_counter("refused_admin");
    CU_ASSERT_EQUAL(as_nobody(0, child_group_member), 0);
    CU_ASSERT_EQUAL(n_kill, kills); /* no admin handler ran */
    CU_ASSERT_EQUAL(n_reload, reloads);
    CU_ASSERT_EQUAL(control_counter("refused_admin"), refused + 4);
    CU_ASSERT_EQUAL(as_nobody(65534, child_outsider), 0);
    /* root still may */
    json_t *j = ask("kill 10.1.2.3:40001");
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    CU_ASSERT_EQUAL(n_kill, kills + 1);
    chmod(tmpdir, 0700);
}

static void test_line_max(void)
{
    char line[GW_CTL_LINE_MAX_LEN + 2];
    /* exactly GW_CTL_LINE_MAX_LEN bytes: accepted by client and server */
    memset(line, ' ', sizeof(line));
    memcpy(line, "stats", 5);
    line[GW_CTL_LINE_MAX_LEN] = '\0';
    int before = n_stats;
    json_t *j = ask(line);
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    CU_ASSERT_EQUAL(n_stats, before + 1);
    /* one more: the client refuses to send it ... */
    line[GW_CTL_LINE_MAX_LEN] = ' ';
    line[GW_CTL_LINE_MAX_LEN + 1] = '\0';
    char *reply = NULL;
    CU_ASSERT_EQUAL(gw_ctl_request(sock_path, line, 1000, &reply), CR_ERR_INVAL);
    /* ... and the server answers an error, running nothing */
    json_int_t too_long = control_counter("line_too_long");
    before = n_stats;
    int fd = raw_connect();
    line[GW_CTL_LINE_MAX_LEN + 1] = '\n';
    CU_ASSERT_EQUAL(send(fd, line, sizeof(line), 0), (ssize_t)sizeof(line));
    char buf[512];
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "request line too long"));
    close(fd);
    CU_ASSERT_EQUAL(n_stats, before);
    CU_ASSERT_EQUAL(control_counter("line_too_long"), too_long + 1);
    /* the same at exactly the limit with a raw '\n' */
    fd = raw_connect();
    line[GW_CTL_LINE_MAX_LEN] = '\n';
    CU_ASSERT_EQUAL(send(fd, line, GW_CTL_LINE_MAX_LEN + 1, 0), GW_CTL_LINE_MAX_LEN + 1);
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"ok\":true"));
    close(fd);
}

static void test_reply_cap(void)
{
    json_int_t cut = control_counter("reply_truncated");
    sessions_big = 2;
    char *reply = NULL;
    int rc = gw_ctl_request(sock_path, "sessions", 10000, &reply);
    sessions_big = 0;
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT(strlen(reply) + 1 <= GW_CTL_REPLY_MAX_BYTES);
    json_t *j = json_loads(reply, 0, NULL);
    free(reply);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT(json_is_true(json_object_get(j, "truncated")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), N_BIG_SESSIONS);
    size_t got = json_array_size(json_object_get(j, "result"));
    CU_ASSERT(got > N_BIG_SESSIONS / 2 && got < N_BIG_SESSIONS);
    /* the entries kept are the first ones, whole */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                        json_array_get(json_object_get(j, "result"), got - 1), "index")),
                    (json_int_t)got - 1);
    json_decref(j);
    CU_ASSERT_EQUAL(control_counter("reply_truncated"), cut + 1);
}

static void test_null_handlers(void)
{
    /* A second server polled inline with NULL handlers. */
    char p[192];
    struct gw_ctl *c = NULL;
    snprintf(p, sizeof(p), "%s/inline.sock", tmpdir);
    CU_ASSERT_EQUAL_FATAL(gw_ctl_open(&c, p, NULL, 0), 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, p, strlen(p) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_EQUAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CU_ASSERT_EQUAL(send(fd, "stats\n", 6, 0), 6);
    int answered = 0;
    for (int i = 0; i < 100 && answered == 0; i++)
        answered += gw_ctl_poll(c, NULL);
    CU_ASSERT_EQUAL(answered, 1);
    char buf[256];
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    read_all(fd, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "stats: not supported"));
    close(fd);
    gw_ctl_close(c);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_ctl", suite_init, suite_clean);
    CU_add_test(s, "stats", test_stats);
    CU_add_test(s, "sessions and help", test_sessions_and_help);
    CU_add_test(s, "big reply (20000 sessions)", test_big_reply);
    CU_add_test(s, "kill", test_kill);
    CU_add_test(s, "kill of an IPv6 client", test_kill6);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "raw requests", test_raw_requests);
    CU_add_test(s, "more connections than slots", test_many_connections);
    CU_add_test(s, "open rules", test_open_rules);
    CU_add_test(s, "parse addr", test_parse_addr);
    CU_add_test(s, "NULL handlers", test_null_handlers);
    CU_add_test(s, "open safety (other owner, symlink, umask)", test_open_safety);
    CU_add_test(s, "SO_PEERCRED: admin commands", test_peercred);
    CU_add_test(s, "line at the max and max+1", test_line_max);
    CU_add_test(s, "reply cap (truncated)", test_reply_cap);
}
