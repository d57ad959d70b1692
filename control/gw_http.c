/* gw_http.c — GET /metrics over HTTP/1.x: the request-head parser and the
 * non-blocking server polled by the control plane.  Protocol, limits and
 * ownership: gw_http.h.
 *
 * The parser reads the head through one bounded line cursor and judges
 * each line as soon as its LF is there, so garbage is refused without
 * waiting for the rest; a verdict other than 400/505 needs the whole head.
 * Must not: block, allocate per byte received (a request lives in the
 * connection's fixed buffer), or keep any connection past its deadline.
 * After the answer the write side is shut and what the client still sends
 * is read and dropped (at most GW_HTTP_DRAIN_MAX_BYTES, within the
 * deadline), so that close() does not reset a connection whose answer is
 * still in flight.
 */
#include "gw_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_metrics.h"

#define GW_HTTP_LISTEN_BACKLOG    16
#define GW_HTTP_METHOD_MAX_LEN    16 /* longer method tokens are a 400 */
#define GW_HTTP_VERSION_LEN       8  /* "HTTP/1.1" */
#define GW_HTTP_LEADING_CRLF_MAX  1  /* RFC 9112 §2.2: empty lines before the request line */
#define GW_HTTP_HEADER_HEAD_BYTES 256
#define GW_HTTP_METRICS_PATH      "/metrics"

/* ---- parser --------------------------------------------------------------- */

/* A bounded cursor over the head: a pointer and the bytes left. */
struct hcur {
    const char *p;
    size_t left;
};

/* The next line without its LF (and one CR before the LF): 0, or 1 when
 * no LF is left in the cursor (the line is not complete yet). */
static int hcur_line(struct hcur *c, const char **out, size_t *out_len)
{
    const char *nl = memchr(c->p, '\n', c->left);
    if (nl == NULL)
        return 1;
    size_t n = (size_t)(nl - c->p);
    *out = c->p;
    *out_len = n > 0 && c->p[n - 1] == '\r' ? n - 1 : n;
    c->left -= n + 1;
    c->p = nl + 1;
    return 0;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* RFC 9110 §5.5 field-vchar / obs-text, SP and HTAB. */
static bool is_field_char(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || (ch >= 0x21 && ch != 0x7f);
}

static bool token_eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

struct req_line {
    const char *method, *target;
    size_t method_len, target_len;
    unsigned minor; /* HTTP/1.minor */
};

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3). */
static enum gw_http_verdict parse_request_line(const char *l, size_t n, struct req_line *out)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i > GW_HTTP_METHOD_MAX_LEN || i >= n || l[i] != ' ')
        return GW_HTTP_BAD_REQUEST;
    out->method = l;
    out->method_len = i;
    size_t t = ++i;
    while (i < n && (unsigned char)l[i] >= 0x21 && (unsigned char)l[i] <= 0x7e)
        i++;
    if (i == t || i >= n || l[i] != ' ')
        return GW_HTTP_BAD_REQUEST;
    out->target = l + t;
    out->target_len = i - t;
    i++;
    /* HTTP-version = "HTTP" "/" DIGIT "." DIGIT, the last thing on the line */
    if (n - i != GW_HTTP_VERSION_LEN || strncmp(l + i, "HTTP/", 5) != 0 || l[i + 5] < '0' ||
        l[i + 5] > '9' || l[i + 6] != '.' || l[i + 7] < '0' || l[i + 7] > '9')
        return GW_HTTP_BAD_REQUEST;
    if (l[i + 5] != '1' || (l[i + 7] != '0' && l[i + 7] != '1'))
        return GW_HTTP_BAD_VERSION;
    out->minor = (unsigned)(l[i + 7] - '0');
    return GW_HTTP_OK;
}

struct req_fields {
    unsigned n_host;
    bool body; /* Content-Length > 0, or any Transfer-Encoding */
};

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). */
static enum gw_http_verdict parse_field_line(const char *l, size_t n, struct req_fields *f)
{
    /* RFC 9112 §5.2: obs-fold (a line starting with whitespace) is
     * refused with 400; §5.1: no whitespace between name and colon. */
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= n || l[i] != ':')
        return GW_HTTP_BAD_REQUEST;
    const char *name = l;
    size_t name_len = i++;
    for (size_t k = i; k < n; k++)
        if (!is_field_char((unsigned char)l[k]))
            return GW_HTTP_BAD_REQUEST; /* CTL, DEL, a bare CR, NUL */
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    size_t end = n;
    while (end > i && (l[end - 1] == ' ' || l[end - 1] == '\t'))
        end--;
    if (token_eq(name, name_len, "host")) {
        f->n_host++;
    } else if (token_eq(name, name_len, "transfer-encoding")) {
        f->body = true;
    } else if (token_eq(name, name_len, "content-length")) {
        /* Content-Length = 1*DIGIT; we read no body, so only 0 is served */
        if (end == i)
            return GW_HTTP_BAD_REQUEST;
        for (size_t k = i; k < end; k++) {
            if (l[k] < '0' || l[k] > '9')
                return GW_HTTP_BAD_REQUEST;
            if (l[k] != '0')
                f->body = true;
        }
    }
    return GW_HTTP_OK;
}

/* The path of an origin-form ("/p?q") or absolute-form ("http://h/p?q")
 * target, without the query. */
static void target_path(const char *t, size_t n, const char **out, size_t *out_len)
{
    if (n >= 7 && strncasecmp(t, "http://", 7) == 0) {
        const char *slash = memchr(t + 7, '/', n - 7);
        if (slash == NULL) {
            *out = "/";
            *out_len = 1;
            return;
        }
        n -= (size_t)(slash - t);
        t = slash;
    }
    const char *q = memchr(t, '?', n);
    *out = t;
    *out_len = q ? (size_t)(q - t) : n;
}

enum gw_http_verdict gw_http_parse_request(const char *buf, size_t len, size_t max_bytes)
{
    if (buf == NULL || max_bytes == 0)
        return GW_HTTP_BAD_REQUEST;
    /* The whole head, its empty line included, must lie in the first
     * max_bytes: the cursor never sees beyond them. */
    struct hcur c = {buf, len < max_bytes ? len : max_bytes};
    const enum gw_http_verdict more = len >= max_bytes ? GW_HTTP_TOO_LARGE : GW_HTTP_INCOMPLETE;
    const char *l;
    size_t n;
    unsigned empty = 0;
    for (;;) {
        if (hcur_line(&c, &l, &n) != 0)
            return more;
        if (n > 0)
            break;
        if (++empty > GW_HTTP_LEADING_CRLF_MAX)
            return GW_HTTP_BAD_REQUEST;
    }
    if (memchr(l, '\0', n) || memchr(l, '\r', n))
        return GW_HTTP_BAD_REQUEST;
    struct req_line rl;
    enum gw_http_verdict v = parse_request_line(l, n, &rl);
    if (v != GW_HTTP_OK)
        return v;
    struct req_fields f = {0};
    for (;;) {
        if (hcur_line(&c, &l, &n) != 0)
            return more;
        if (n == 0)
            break; /* the empty line: end of the head */
        v = parse_field_line(l, n, &f);
        if (v != GW_HTTP_OK)
            return v;
    }
    /* RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request
     * without a Host field, and to any request with more than one. */
    if (f.n_host > 1 || (rl.minor == 1 && f.n_host == 0) || f.body)
        return GW_HTTP_BAD_REQUEST;
    if (memchr(rl.target, '#', rl.target_len))
        return GW_HTTP_BAD_REQUEST; /* no fragment in a request-target */
    const char *path;
    size_t path_len;
    target_path(rl.target, rl.target_len, &path, &path_len);
    /* paths are case-sensitive (RFC 3986 §6.2.2.1) */
    if (path_len != strlen(GW_HTTP_METRICS_PATH) ||
        memcmp(path, GW_HTTP_METRICS_PATH, path_len) != 0)
        return GW_HTTP_NOT_FOUND;
    /* methods are case-sensitive (RFC 9110 §9.1) */
    if (rl.method_len != 3 || memcmp(rl.method, "GET", 3) != 0)
        return GW_HTTP_BAD_METHOD;
    return GW_HTTP_OK;
}

/* ---- server --------------------------------------------------------------- */

enum conn_state {
    CONN_FREE = 0,
    CONN_READING,
    CONN_WRITING,
    CONN_DRAINING
};

struct gw_http_conn {
    int fd;
    enum conn_state state;
    uint64_t deadline_ms;
    size_t in_len;
    size_t drained;
    char *out; /* the whole answer, malloc'd */
    size_t out_len, out_off;
    char in[GW_HTTP_REQUEST_MAX_BYTES];
};

struct gw_http {
    int fd;
    uint16_t port;
    struct gw_http_limits lim;
    struct gw_http_conn conns[GW_HTTP_MAX_CONNS];
    struct gw_http_counters cnt;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

__attribute__((format(printf, 3, 4))) static int open_fail(char *err, size_t err_len,
                                                           const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return CR_ERR_IO;
}

int gw_http_open(struct gw_http **out_http, uint32_t ipv4, uint16_t port,
                 const struct gw_http_limits *limits, char *err, size_t err_len)
{
    CR_ENSURE(out_http, CR_ERR_INVAL);
    *out_http = NULL;
    if (err && err_len)
        err[0] = '\0';
    struct gw_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return CR_ERR_NOMEM;
    h->lim.max_conns = GW_HTTP_MAX_CONNS;
    h->lim.request_max_bytes = GW_HTTP_REQUEST_MAX_BYTES;
    h->lim.timeout_ms = GW_HTTP_CONN_TIMEOUT_MS;
    if (limits != NULL) {
        if (limits->max_conns >= 1 && limits->max_conns <= GW_HTTP_MAX_CONNS)
            h->lim.max_conns = limits->max_conns;
        if (limits->request_max_bytes >= 1 &&
            limits->request_max_bytes <= GW_HTTP_REQUEST_MAX_BYTES)
            h->lim.request_max_bytes = limits->request_max_bytes;
        if (limits->timeout_ms >= 1)
            h->lim.timeout_ms = limits->timeout_ms;
    }
    for (unsigned i = 0; i < GW_HTTP_MAX_CONNS; i++)
        h->conns[i].fd = -1;
    char ip[INET_ADDRSTRLEN];
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ipv4)};
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
    int rc;
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        rc = open_fail(err, err_len, "socket: %s", strerror(errno));
        goto fail;
    }
    int one = 1;
    (void)setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        rc = open_fail(err, err_len, "bind %s:%u: %s", ip, (unsigned)port, strerror(errno));
        goto fail;
    }
    if (listen(h->fd, GW_HTTP_LISTEN_BACKLOG) != 0) {
        rc = open_fail(err, err_len, "listen %s:%u: %s", ip, (unsigned)port, strerror(errno));
        goto fail;
    }
    socklen_t sl = sizeof(sa);
    if (getsockname(h->fd, (struct sockaddr *)&sa, &sl) != 0) {
        rc = open_fail(err, err_len, "getsockname: %s", strerror(errno));
        goto fail;
    }
    h->port = ntohs(sa.sin_port);
    *out_http = h;
    return 0;
fail:
    if (h->fd >= 0)
        close(h->fd);
    free(h);
    return rc;
}

uint16_t gw_http_port(const struct gw_http *http)
{
    return http ? http->port : 0;
}

const struct gw_http_counters *gw_http_counters(const struct gw_http *http)
{
    return http ? &http->cnt : NULL;
}

json_t *gw_http_counters_json(const struct gw_http *http)
{
    json_t *o = json_object();
    if (o == NULL || http == NULL)
        return o;
#define GW_HTTP_X_JSON(name)                                                                       \
    json_object_set_new(o, #name, json_integer((json_int_t)http->cnt.name));
    GW_HTTP_COUNTERS(GW_HTTP_X_JSON)
#undef GW_HTTP_X_JSON
    return o;
}

unsigned gw_http_conns(const struct gw_http *http)
{
    unsigned n = 0;
    for (unsigned i = 0; http && i < GW_HTTP_MAX_CONNS; i++)
        n += http->conns[i].state != CONN_FREE;
    return n;
}

static void conn_close(struct gw_http_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    c->fd = -1;
    c->out = NULL;
    c->state = CONN_FREE;
    c->in_len = c->out_len = c->out_off = c->drained = 0;
}

void gw_http_close(struct gw_http *http)
{
    if (http == NULL)
        return;
    for (unsigned i = 0; i < GW_HTTP_MAX_CONNS; i++)
        if (http->conns[i].state != CONN_FREE)
            conn_close(&http->conns[i]);
    if (http->fd >= 0)
        close(http->fd);
    free(http);
}

static const char *status_text(enum gw_http_verdict v)
{
    switch (v) {
    case GW_HTTP_OK:
        return "OK";
    case GW_HTTP_BAD_REQUEST:
        return "Bad Request";
    case GW_HTTP_NOT_FOUND:
        return "Not Found";
    case GW_HTTP_BAD_METHOD:
        return "Method Not Allowed";
    case GW_HTTP_TIMEOUT:
        return "Request Timeout";
    case GW_HTTP_TOO_LARGE:
        return "Request Header Fields Too Large";
    case GW_HTTP_BUSY:
        return "Service Unavailable";
    case GW_HTTP_BAD_VERSION:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

/* Status line and fields of an answer into buf; its length (< cap). */
static size_t answer_head(char *buf, size_t cap, enum gw_http_verdict v, const char *type,
                          size_t body_len)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     (int)v, status_text(v), type, body_len,
                     v == GW_HTTP_BAD_METHOD ? "Allow: GET\r\n" : "");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* A short answer that needs no allocation: sent once, best effort, on a
 * connection about to be closed (busy, timed out). */
static void send_static(int fd, enum gw_http_verdict v)
{
    char buf[GW_HTTP_HEADER_HEAD_BYTES + 64];
    const char *reason = status_text(v);
    size_t n = answer_head(buf, sizeof(buf), v, "text/plain; charset=utf-8", strlen(reason) + 1);
    size_t r = strlen(reason);
    if (r + 1 <= sizeof(buf) - n) {
        memcpy(buf + n, reason, r);
        buf[n + r] = '\n';
        n += r + 1;
    }
    (void)send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Queues the answer to a judged request; counts it. */
static void conn_answer(struct gw_http *h, struct gw_http_conn *c, enum gw_http_verdict v,
                        gw_http_body_fn body, void *arg)
{
    char *text = NULL;
    size_t text_len = 0;
    const char *type = GW_METRICS_CONTENT_TYPE;
    if (v == GW_HTTP_OK && (body == NULL || body(arg, &text, &text_len) < 0 || text == NULL)) {
        free(text);
        text = NULL;
        v = GW_HTTP_INTERNAL;
    }
    switch (v) {
    case GW_HTTP_OK:
        h->cnt.requests++;
        break;
    case GW_HTTP_NOT_FOUND:
        h->cnt.not_found++;
        break;
    case GW_HTTP_BAD_METHOD:
        h->cnt.bad_method++;
        break;
    case GW_HTTP_BAD_VERSION:
        h->cnt.bad_version++;
        break;
    case GW_HTTP_TOO_LARGE:
        h->cnt.too_large++;
        break;
    case GW_HTTP_INTERNAL:
        h->cnt.body_failed++;
        break;
    default:
        h->cnt.bad_request++;
        break;
    }
    const char *reason = status_text(v);
    if (v != GW_HTTP_OK) {
        type = "text/plain; charset=utf-8";
        text_len = strlen(reason) + 1;
    }
    char head[GW_HTTP_HEADER_HEAD_BYTES];
    size_t head_len = answer_head(head, sizeof(head), v, type, text_len);
    c->out = malloc(head_len + text_len);
    if (c->out == NULL) {
        free(text);
        conn_close(c);
        return;
    }
    memcpy(c->out, head, head_len);
    if (v == GW_HTTP_OK) {
        memcpy(c->out + head_len, text, text_len);
    } else {
        memcpy(c->out + head_len, reason, text_len - 1);
        c->out[head_len + text_len - 1] = '\n';
    }
    free(text);
    c->out_len = head_len + text_len;
    c->out_off = 0;
    c->state = CONN_WRITING;
}

/* Returns 1 when a request was judged (answer queued), 0 otherwise. */
static int conn_read(struct gw_http *h, struct gw_http_conn *c, gw_http_body_fn body, void *arg)
{
    size_t max = h->lim.request_max_bytes;
    for (;;) {
        /* never more than max bytes of a request: a full buffer without
         * the head's end is a 431 (gw_http_parse_request decides) */
        ssize_t n = recv(c->fd, c->in + c->in_len, max - c->in_len, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c);
            return 0;
        }
        if (n == 0) { /* closed before the head ended */
            if (c->in_len == 0) {
                conn_close(c);
                return 0;
            }
            enum gw_http_verdict v = gw_http_parse_request(c->in, c->in_len, max);
            conn_answer(h, c, v == GW_HTTP_INCOMPLETE ? GW_HTTP_BAD_REQUEST : v, body, arg);
            return 1;
        }
        c->in_len += (size_t)n;
        enum gw_http_verdict v = gw_http_parse_request(c->in, c->in_len, max);
        if (v != GW_HTTP_INCOMPLETE) {
            conn_answer(h, c, v, body, arg);
            return 1;
        }
    }
}

static void conn_write(struct gw_http_conn *c)
{
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
    }
    free(c->out);
    c->out = NULL;
    /* FIN after the answer; what the client still sends is dropped below */
    (void)shutdown(c->fd, SHUT_WR);
    c->state = CONN_DRAINING;
}

static void conn_drain(struct gw_http_conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* the client's FIN, or an error */
            conn_close(c);
            return;
        }
        c->drained += (size_t)n;
        if (c->drained >= GW_HTTP_DRAIN_MAX_BYTES) {
            conn_close(c);
            return;
        }
    }
}

int gw_http_poll(struct gw_http *h, gw_http_body_fn body, void *arg)
{
    CR_ENSURE(h && h->fd >= 0, CR_ERR_INVAL);
    uint64_t now = now_ms();
    int answered = 0;
    for (unsigned k = 0; k < GW_HTTP_ACCEPT_PER_POLL; k++) {
        int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EMFILE || errno == ENFILE ||
                errno == ENOBUFS || errno == ENOMEM || errno == EPERM || errno == EPROTO)
                break; /* retried on the next poll */
            return CR_ERR_IO;
        }
        struct gw_http_conn *slot = NULL;
        for (unsigned i = 0; i < h->lim.max_conns && !slot; i++)
            if (h->conns[i].state == CONN_FREE)
                slot = &h->conns[i];
        if (slot == NULL) {
            h->cnt.conns_busy++;
            send_static(fd, GW_HTTP_BUSY);
            close(fd);
            continue;
        }
        conn_close(slot);
        slot->fd = fd;
        slot->state = CONN_READING;
        slot->deadline_ms = now + h->lim.timeout_ms;
    }
    for (unsigned i = 0; i < h->lim.max_conns; i++) {
        struct gw_http_conn *c = &h->conns[i];
        if (c->state == CONN_READING)
            answered += conn_read(h, c, body, arg);
        if (c->state == CONN_WRITING)
            conn_write(c);
        if (c->state == CONN_DRAINING)
            conn_drain(c);
        if (c->state != CONN_FREE && now >= c->deadline_ms) {
            if (c->state == CONN_READING) {
                h->cnt.conns_timed_out++;
                send_static(c->fd, GW_HTTP_TIMEOUT);
            } else if (c->state == CONN_WRITING) {
                h->cnt.conns_timed_out++; /* the client does not read */
            }
            conn_close(c);
        }
    }
    return answered;
}
