/* gw_http.h — the gateway's Prometheus endpoint: a minimal HTTP/1.x server
 * on a TCP socket that the control plane polls without blocking once per
 * loop (as it polls the control socket, gw_ctl.h), answering GET /metrics
 * with a body the caller builds (gw_metrics_build) and nothing else.
 *
 * Protocol: one request per connection.  The request head (request line
 * and header fields up to the empty line) must fit in request_max_bytes
 * and arrive within timeout_ms of the accept; the answer always carries
 * Connection: close and Content-Length, and the server closes after it.
 *   GET /metrics[?query] HTTP/1.0|1.1   200, Content-Type GW_METRICS_CONTENT_TYPE
 *   another path                         404
 *   /metrics with another method         405 (Allow: GET)
 *   HTTP/x.y other than 1.0 and 1.1      505
 *   head larger than request_max_bytes   431
 *   anything malformed (RFC 9112 syntax, HTTP/1.1 without exactly one Host,
 *   a body announced by Content-Length > 0 or Transfer-Encoding)   400
 *   all connection slots taken           503, closed at once
 *   timeout_ms passed                    408 (best effort), closed
 * Every refusal increments one counter (GW_HTTP_COUNTERS).
 * Owns: the listening socket and at most max_conns connections with their
 * buffers.  Must not: block (every descriptor is O_NONBLOCK, sends use
 * MSG_NOSIGNAL), read more than request_max_bytes of a request, keep a
 * connection past its deadline, or call the body builder from any thread
 * but the one calling gw_http_poll().
 */
#ifndef DTLSGW_GW_HTTP_H
#define DTLSGW_GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cr_err.h"

#define GW_HTTP_REQUEST_MAX_BYTES 4096  /* request line + header fields + empty line */
#define GW_HTTP_MAX_CONNS         16    /* concurrent connections */
#define GW_HTTP_CONN_TIMEOUT_MS   5000  /* a connection's whole life, from accept */
#define GW_HTTP_ACCEPT_PER_POLL   16    /* new connections taken per poll */
#define GW_HTTP_DRAIN_MAX_BYTES   65536 /* read and dropped after the answer */
#define GW_HTTP_ERR_MAX_LEN       200

/* What the request head asks for: a status code, or GW_HTTP_INCOMPLETE
 * while the empty line that ends the head has not arrived. */
enum gw_http_verdict {
    GW_HTTP_INCOMPLETE = 0,
    GW_HTTP_OK = 200,
    GW_HTTP_BAD_REQUEST = 400,
    GW_HTTP_NOT_FOUND = 404,
    GW_HTTP_BAD_METHOD = 405,
    GW_HTTP_TIMEOUT = 408,
    GW_HTTP_TOO_LARGE = 431,
    GW_HTTP_INTERNAL = 500,
    GW_HTTP_BUSY = 503,
    GW_HTTP_BAD_VERSION = 505
};

/* The server's counters, by outcome (reported as "metrics_http" in stats). */
#define GW_HTTP_COUNTERS(X)                                                                        \
    X(requests)        /* GET /metrics answered 200 */                                             \
    X(bad_request)     /* 400: malformed head, or closed before its end */                         \
    X(not_found)       /* 404: a path other than /metrics */                                       \
    X(bad_method)      /* 405: /metrics with a method other than GET */                            \
    X(bad_version)     /* 505: not HTTP/1.0 or HTTP/1.1 */                                         \
    X(too_large)       /* 431: head over request_max_bytes */                                      \
    X(body_failed)     /* 500: the body builder failed */                                          \
    X(conns_busy)      /* accepted while every slot was taken: 503, closed */                      \
    X(conns_timed_out) /* not done within timeout_ms: 408, closed */

struct gw_http_counters {
#define GW_HTTP_X_FIELD(name) uint64_t name;
    GW_HTTP_COUNTERS(GW_HTTP_X_FIELD)
#undef GW_HTTP_X_FIELD
};

/* Limits; gw_http_open() takes NULL for the defaults above.  max_conns is
 * capped at GW_HTTP_MAX_CONNS and request_max_bytes at
 * GW_HTTP_REQUEST_MAX_BYTES (tests use smaller values). */
struct gw_http_limits {
    unsigned max_conns;
    size_t request_max_bytes;
    unsigned timeout_ms;
};

/* Builds the 200 body: 0 with a malloc'd *out_body of *out_len bytes (the
 * server frees it), or a negative CR_ERR_* (answered 500). */
typedef int (*gw_http_body_fn)(void *arg, char **out_body, size_t *out_len);

struct gw_http;

/* Judges one request head in buf[0..len) (RFC 9112 §2-§5): the verdict
 * above, GW_HTTP_INCOMPLETE while no empty line ended the head and len is
 * below max_bytes, GW_HTTP_TOO_LARGE when it is not.  Pure: no state. */
enum gw_http_verdict gw_http_parse_request(const char *buf, size_t len, size_t max_bytes);

/* Listens on ipv4:port (host order; port 0 picks one, see gw_http_port).
 * On failure a reason goes to err. */
CR_WUR int gw_http_open(struct gw_http **out_http, uint32_t ipv4, uint16_t port,
                        const struct gw_http_limits *limits, char *err, size_t err_len);
/* The bound port (host order). */
uint16_t gw_http_port(const struct gw_http *http);
/* Accepts, reads, answers and writes whatever is ready; never blocks.
 * Returns the number of requests answered in this call (any status), or a
 * negative CR_ERR_* on a failure of the listening socket itself. */
int gw_http_poll(struct gw_http *http, gw_http_body_fn body, void *arg);
const struct gw_http_counters *gw_http_counters(const struct gw_http *http);
/* The counters as a JSON object (NULL when jansson cannot allocate). */
json_t *gw_http_counters_json(const struct gw_http *http);
/* Connections open now (tests). */
unsigned gw_http_conns(const struct gw_http *http);
/* Closes every connection and the listening socket. */
void gw_http_close(struct gw_http *http);

#endif
