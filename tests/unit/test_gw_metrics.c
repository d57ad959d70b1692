/* test_gw_metrics.c — CUnit suite for control/gw_metrics.c (the Prometheus
 * exposition shared by dtlsgw-ctl and GET /metrics) and control/gw_http.c
 * (the request-head parser, table-driven, and the server polled from a
 * thread, driven by raw TCP sockets on 127.0.0.1). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cu_main.h"
#include "gw_http.h"
#include "gw_metrics.h"

/* ---- exposition ----------------------------------------------------------- */

static void test_build_exact(void)
{
    json_t *st = json_pack("{s:{s:i, s:i}, s:{s:i}, s:i, s:i, s:i, s:[{s:i, s:s, s:i}]}",
                           "counters", "RX_PKTS", 7, "DROP_REPLAY", 3, "handshake_failures",
                           "bad \"x\"\\y\nz", 2, "sessions", 4, "peers", 5, "pending_free", 6,
                           "ports", "port_id", 1, "driver", "net_x", "ipackets", 99);
    char *t = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(gw_metrics_build(st, &t, &len), 0);
    CU_ASSERT_EQUAL(len, strlen(t));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE dtlsgw_events_total counter\n"
                                     "dtlsgw_events_total{counter=\"RX_PKTS\"} 7\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_drops_total{reason=\"REPLAY\"} 3\n"));
    CU_ASSERT_PTR_NULL(strstr(t, "counter=\"DROP_REPLAY\""));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t, "dtlsgw_handshake_failures_total{reason=\"bad \\\"x\\\"\\\\y\\nz\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE dtlsgw_sessions gauge\ndtlsgw_sessions 4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_peers 5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_pending_free 6\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_port_ipackets_total{port=\"1\"} 99\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_port_obytes_total{port=\"1\"} 0\n"));
    /* no control / metrics_http objects: no such families */
    CU_ASSERT_PTR_NULL(strstr(t, "dtlsgw_ctl_events_total"));
    CU_ASSERT_PTR_NULL(strstr(t, "dtlsgw_http_events_total"));
    /* every line: a comment, or name{...} integer; no raw newline in a label */
    unsigned lines = 0;
    for (char *l = strtok(t, "\n"); l; l = strtok(NULL, "\n"), lines++) {
        char name[128];
        long long v;
        CU_ASSERT(l[0] == '#' || sscanf(l, "%127[a-z_]{%*[^}]} %lld", name, &v) == 2 ||
                  sscanf(l, "%127[a-z_] %lld", name, &v) == 2);
    }
    CU_ASSERT(lines > 30);
    free(t);
    json_object_set_new(st, "control", json_pack("{s:i}", "requests", 11));
    json_object_set_new(st, "metrics_http", json_pack("{s:i}", "too_large", 12));
    CU_ASSERT_EQUAL_FATAL(gw_metrics_build(st, &t, &len), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_ctl_events_total{counter=\"requests\"} 11\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "dtlsgw_http_events_total{counter=\"too_large\"} 12\n"));
    free(t);
    json_decref(st);
    /* not an object */
    json_t *arr = json_array();
    CU_ASSERT_EQUAL(gw_metrics_build(arr, &t, &len), CR_ERR_INVAL);
    CU_ASSERT_PTR_NULL(t);
    json_decref(arr);
    /* empty object: every family header, no samples */
    json_t *e = json_object();
    CU_ASSERT_EQUAL_FATAL(gw_metrics_build(e, &t, &len), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE dtlsgw_drops_total counter\n"));
    CU_ASSERT_PTR_NULL(strstr(t, "dtlsgw_drops_total{"));
    free(t);
    json_decref(e);
}

/* ---- parser --------------------------------------------------------------- */

static const struct {
    const char *req;
    enum gw_http_verdict want;
} k_reqs[] = {
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", GW_HTTP_OK},
    {"GET /metrics HTTP/1.0\r\n\r\n", GW_HTTP_OK},
    {"GET /metrics?x=1 HTTP/1.0\n\n", GW_HTTP_OK},
    {"\r\nGET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", GW_HTTP_OK},
    {"GET http://h:9/metrics HTTP/1.1\r\nHost: h\r\n\r\n", GW_HTTP_OK},
    {"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", GW_HTTP_OK},
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n", GW_HTTP_INCOMPLETE},
    {"GET /metr", GW_HTTP_INCOMPLETE},
    {"", GW_HTTP_INCOMPLETE},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", GW_HTTP_NOT_FOUND},
    {"GET /Metrics HTTP/1.1\r\nHost: x\r\n\r\n", GW_HTTP_NOT_FOUND},
    {"GET /metrics/ HTTP/1.0\r\n\r\n", GW_HTTP_NOT_FOUND},
    {"GET http://h HTTP/1.0\r\n\r\n", GW_HTTP_NOT_FOUND},
    {"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", GW_HTTP_BAD_METHOD},
    {"HEAD /metrics HTTP/1.0\r\n\r\n", GW_HTTP_BAD_METHOD},
    {"get /metrics HTTP/1.0\r\n\r\n", GW_HTTP_BAD_METHOD},
    {"GET /metrics HTTP/2.0\r\n\r\n", GW_HTTP_BAD_VERSION},
    {"GET /metrics HTTP/1.2\r\n\r\n", GW_HTTP_BAD_VERSION},
    {"GET /metrics HTTP/1.1\r\n\r\n", GW_HTTP_BAD_REQUEST}, /* no Host */
    {"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics\r\n\r\n", GW_HTTP_BAD_REQUEST}, /* HTTP/0.9 */
    {"GET  /metrics HTTP/1.0\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0 \r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\n x: folded\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nBad Name: v\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nName : v\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nNoColon\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nX: a\rb\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nContent-Length: x\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"GET /metrics#f HTTP/1.0\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n", GW_HTTP_BAD_REQUEST},
    {"\x01GET /metrics HTTP/1.0\r\n\r\n", GW_HTTP_BAD_REQUEST},
    /* garbage is refused at its first complete line, not at the cap */
    {"\x16\x03\x01\x02\x01\n", GW_HTTP_BAD_REQUEST},
};

static void test_parse_table(void)
{
    for (size_t i = 0; i < sizeof(k_reqs) / sizeof(k_reqs[0]); i++) {
        enum gw_http_verdict v = gw_http_parse_request(k_reqs[i].req, strlen(k_reqs[i].req), 4096);
        if (v != k_reqs[i].want)
            fprintf(stderr, "case %zu: got %d want %d\n", i, (int)v, (int)k_reqs[i].want);
        CU_ASSERT_EQUAL(v, k_reqs[i].want);
    }
}

static void test_parse_cap(void)
{
    static const char ok[] = "GET /metrics HTTP/1.0\r\n\r\n";
    size_t n = strlen(ok);
    /* the head exactly at the cap is served, one byte less is too large */
    CU_ASSERT_EQUAL(gw_http_parse_request(ok, n, n), GW_HTTP_OK);
    CU_ASSERT_EQUAL(gw_http_parse_request(ok, n, n - 1), GW_HTTP_TOO_LARGE);
    /* bytes after the head (pipelining) do not matter */
    char two[64];
    snprintf(two, sizeof(two), "%s%s", ok, ok);
    CU_ASSERT_EQUAL(gw_http_parse_request(two, strlen(two), n), GW_HTTP_OK);
    /* a long header never ended: too large at the cap, incomplete below */
    char big[5000];
    int m = snprintf(big, sizeof(big), "GET /metrics HTTP/1.0\r\nX: ");
    memset(big + m, 'a', sizeof(big) - (size_t)m);
    CU_ASSERT_EQUAL(gw_http_parse_request(big, 4096, 4096), GW_HTTP_TOO_LARGE);
    CU_ASSERT_EQUAL(gw_http_parse_request(big, 4095, 4096), GW_HTTP_INCOMPLETE);
}

/* ---- server --------------------------------------------------------------- */

static struct gw_http *g_http;
static atomic_int g_run, g_bodies, g_body_fail;

static int body_fn(void *arg, char **out, size_t *out_len)
{
    (void)arg;
    g_bodies++;
    if (g_body_fail)
        return CR_ERR_NOMEM;
    *out = strdup("dtlsgw_x 1\n");
    *out_len = strlen(*out);
    return 0;
}

static void *poller(void *arg)
{
    (void)arg;
    while (g_run) {
        CU_ASSERT(gw_http_poll(g_http, body_fn, NULL) >= 0);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int connect_local(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(gw_http_port(g_http)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends req (len bytes) and reads the answer until EOF into buf. */
static size_t exchange(const char *req, size_t len, char *buf, size_t cap)
{
    int fd = connect_local();
    CU_ASSERT_FATAL(fd >= 0);
    if (len)
        CU_ASSERT(send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
    return got;
}

static void test_server(void)
{
    struct gw_http_limits lim = {.max_conns = 4, .request_max_bytes = 512, .timeout_ms = 400};
    char err[GW_HTTP_ERR_MAX_LEN];
    CU_ASSERT_EQUAL_FATAL(gw_http_open(&g_http, INADDR_LOOPBACK, 0, &lim, err, sizeof(err)), 0);
    CU_ASSERT(gw_http_port(g_http) != 0);
    g_run = 1;
    pthread_t th;
    pthread_create(&th, NULL, poller, NULL);
    char buf[8192];
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
    exchange(get, strlen(get), buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Connection: close\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Length: 11\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\r\n\r\ndtlsgw_x 1\n"));
    exchange("GET /x HTTP/1.0\r\n\r\n", 19, buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 404 ", 13) == 0);
    exchange("PUT /metrics HTTP/1.0\r\n\r\n", 25, buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 405 ", 13) == 0 && strstr(buf, "Allow: GET\r\n"));
    /* oversized: 431 after at most the cap, though the client sends more */
    char big[3000];
    memcpy(big, "GET /metrics HTTP/1.0\r\nX: ", 26);
    memset(big + 26, 'a', sizeof(big) - 26);
    exchange(big, sizeof(big), buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
    /* closed before the end of the head: 400 */
    int fd = connect_local();
    send(fd, "GET /metrics HTTP/1.0\r\n", 23, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    close(fd);
    /* slowloris: one byte now and then never ends the head; it is closed
     * at the deadline (408) and the others are served meanwhile */
    int slow = connect_local();
    send(slow, "G", 1, MSG_NOSIGNAL);
    exchange(get, strlen(get), buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    usleep(150 * 1000);
    send(slow, "E", 1, MSG_NOSIGNAL);
    n = recv(slow, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
    close(slow);
    /* more connections than slots: the extra ones get 503 */
    int many[12];
    for (int i = 0; i < 12; i++)
        many[i] = connect_local();
    usleep(100 * 1000);
    unsigned busy = 0;
    for (int i = 0; i < 12; i++) {
        struct timeval tv = {0, 50 * 1000};
        setsockopt(many[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        n = recv(many[i], buf, sizeof(buf) - 1, 0);
        if (n > 0 && strncmp(buf, "HTTP/1.1 503 ", 13) == 0)
            busy++;
    }
    CU_ASSERT_EQUAL(busy, 8);
    CU_ASSERT(gw_http_conns(g_http) <= 4);
    for (int i = 0; i < 12; i++)
        close(many[i]);
    usleep(600 * 1000); /* past the deadline of the 4 that held slots */
    CU_ASSERT_EQUAL(gw_http_conns(g_http), 0);
    exchange(get, strlen(get), buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    /* a failing body builder: 500, counted */
    g_body_fail = 1;
    exchange(get, strlen(get), buf, sizeof(buf));
    CU_ASSERT(strncmp(buf, "HTTP/1.1 500 ", 13) == 0);
    g_body_fail = 0;
    g_run = 0;
    pthread_join(th, NULL);
    const struct gw_http_counters *c = gw_http_counters(g_http);
    CU_ASSERT_EQUAL(c->requests, 3);
    CU_ASSERT_EQUAL(c->not_found, 1);
    CU_ASSERT_EQUAL(c->bad_method, 1);
    CU_ASSERT_EQUAL(c->too_large, 1);
    CU_ASSERT_EQUAL(c->bad_request, 1);
    CU_ASSERT_EQUAL(c->body_failed, 1);
    CU_ASSERT_EQUAL(c->conns_busy, 8);
    CU_ASSERT(c->conns_timed_out >= 1);
    json_t *j = gw_http_counters_json(g_http);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "conns_busy")), 8);
    json_decref(j);
    gw_http_close(g_http);
    g_http = NULL;
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_metrics", NULL, NULL);
    CU_add_test(s, "exposition", test_build_exact);
    CU_add_test(s, "request parse table", test_parse_table);
    CU_add_test(s, "request size cap", test_parse_cap);
    CU_add_test(s, "server: statuses, oversize, slowloris, busy, 500", test_server);
}
