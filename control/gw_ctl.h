/* gw_ctl.h — the gateway's control socket: a Unix stream socket server that
 * the control plane polls without blocking once per loop, and the matching
 * client call used by dtlsgw-ctl and the tests.
 *
 * Protocol: one request per connection.  The client sends one line
 * (`COMMAND [ARG]\n`, at most GW_CTL_LINE_MAX_LEN bytes before the '\n';
 * closing its write side also ends the line; a longer line is answered with
 * an error and never executed); the server answers with one line of compact
 * JSON, at most GW_CTL_REPLY_MAX_BYTES with its '\n',
 *   {"ok":true,"result":...}   or   {"ok":false,"error":"message"}
 * and closes the connection.  An array result cut to fit the cap carries
 * "truncated":true and "total":N beside it.  Commands (R: read-only, A: admin):
 *   R stats                result: object of counters (handler fills it) plus
 *                          "control": this socket's counters
 *   R sessions             result: array of session objects
 *   A kill A.B.C.D:PORT    result: object, e.g. {"killed":1}
 *   A kill A.B.C.D         every session of that address (port 0 to the handler)
 *   A kill [V6]:PORT, kill V6 or [V6]: the same for an IPv6 client (kill6)
 *   A reload-psk           result: object
 *   A rotate-cookie        result: object
 *   A save                 result: object, e.g. {"saved":N,"file":PATH}
 *   R help                 result: array of command names
 * Who may ask: anyone who can connect() may run R commands; the socket is
 * created GW_CTL_SOCKET_MODE (owner and group), so that is our euid, root
 * and the socket's group.  A commands need the peer's SO_PEERCRED uid to be
 * 0 or our euid; others get {"ok":false,"error":"kill: permission denied ..."}
 * and the refused_admin counter.
 * Owns: the listening socket, its path (removed on close) and at most
 * GW_CTL_MAX_CONNS connections with their buffers.  Must not: block, call a
 * handler from any thread but the one calling gw_ctl_poll(), or know what
 * the counters mean (the handlers build the JSON with jansson).
 */
#ifndef DTLSGW_GW_CTL_H
#define DTLSGW_GW_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cr_err.h"

/* One request line without its '\n'; the server, gw_ctl_request() and
 * dtlsgw-ctl all use this one constant. */
#define GW_CTL_LINE_MAX_LEN    256
#define GW_CTL_MAX_CONNS       16                  /* concurrent client connections */
#define GW_CTL_CONN_TIMEOUT_MS 5000                /* a client that sends nothing is dropped */
#define GW_CTL_REPLY_MAX_BYTES (16u * 1024 * 1024) /* one serialized reply with its '\n' */
#define GW_CTL_SOCKET_MODE     0660                /* never world-accessible */
#define GW_CTL_ACCEPT_PER_POLL 8                   /* new connections taken per poll */
#define GW_CTL_ERR_MAX_LEN     200                 /* handler error message */
#define GW_CTL_DEFAULT_SOCKET  "/run/dtlsgw.sock"

/* Command handlers, all called on the polling thread.  Each returns 0 with
 * `result` filled (an empty object or array is fine), or a negative CR_ERR_*
 * with a message in err (GW_CTL_ERR_MAX_LEN bytes; may be left empty, then
 * cr_strerror() is sent).  A NULL handler answers "not supported". */
struct gw_ctl_handlers {
    void *arg;
    int (*stats)(void *arg, json_t *result_obj, char *err);
    int (*sessions)(void *arg, json_t *result_array, char *err);
    /* ipv4 and port in host order; port 0: every port of that address. */
    int (*kill)(void *arg, uint32_t ipv4, uint16_t port, json_t *result_obj, char *err);
    /* ip6: 16 bytes, network order; port host order, 0: every port */
    int (*kill6)(void *arg, const uint8_t *ip6, uint16_t port, json_t *result_obj, char *err);
    int (*reload_psk)(void *arg, json_t *result_obj, char *err);
    int (*rotate_cookie)(void *arg, json_t *result_obj, char *err);
    int (*save)(void *arg, json_t *result_obj, char *err);
};

struct gw_ctl;

/* The socket's own counters, by reason (reported under "control" in stats). */
#define GW_CTL_COUNTERS(X)                                                                         \
    X(requests)        /* request lines dispatched */                                              \
    X(refused_admin)   /* admin command from a peer that is not root or our euid */                \
    X(line_too_long)   /* more than GW_CTL_LINE_MAX_LEN bytes before the '\n' */                   \
    X(nul_byte)        /* NUL inside the request */                                                \
    X(no_peercred)     /* SO_PEERCRED failed: connection closed unanswered */                      \
    X(reply_truncated) /* array result cut to fit GW_CTL_REPLY_MAX_BYTES */                        \
    X(reply_too_large) /* reply over the cap that could not be cut: error sent */                  \
    X(conns_busy)      /* accepted while every slot was taken: closed at once */                   \
    X(conns_timed_out) /* no progress for GW_CTL_CONN_TIMEOUT_MS */

struct gw_ctl_counters {
#define GW_CTL_X_FIELD(name) uint64_t name;
    GW_CTL_COUNTERS(GW_CTL_X_FIELD)
#undef GW_CTL_X_FIELD
};

/* Creates the listening socket at path, mode GW_CTL_SOCKET_MODE from the
 * moment bind() creates it (a restrictive umask around bind, not a later
 * chmod).  Something already at path is only replaced when lstat() shows a
 * socket owned by our euid that nobody answers on (a stale one of ours):
 * a symlink, any other file type, a socket of another user or a live socket
 * gives CR_ERR_IO and is left alone.  On failure a reason goes to err. */
CR_WUR int gw_ctl_open(struct gw_ctl **out_ctl, const char *path, char *err, size_t err_len);
/* The socket's counters (read on the polling thread). */
const struct gw_ctl_counters *gw_ctl_counters(const struct gw_ctl *ctl);
/* The counters as a JSON object, as stats reports them under "control"
 * (NULL when jansson cannot allocate). */
json_t *gw_ctl_counters_json(const struct gw_ctl_counters *cnt);
/* Accepts, reads, dispatches and writes whatever is ready; never blocks.
 * Returns the number of requests answered in this call, or a negative
 * CR_ERR_* on a failure of the listening socket itself. */
int gw_ctl_poll(struct gw_ctl *ctl, const struct gw_ctl_handlers *h);
/* The listening descriptor (for epoll/poll readiness, optional). */
int gw_ctl_fd(const struct gw_ctl *ctl);
/* Closes every connection and the socket and removes its path. */
void gw_ctl_close(struct gw_ctl *ctl);

/* Parses "A.B.C.D:PORT" into host-order values; 0 or CR_ERR_DECODE. */
CR_WUR int gw_ctl_parse_addr(const char *text, uint32_t *out_ipv4, uint16_t *out_port);

/* Client side: connects to path, sends `command\n` and reads the whole reply
 * (without the trailing newline) into a malloc'd string (*out_reply, free()
 * it).  Waits at most timeout_ms in total.  Returns 0, CR_ERR_IO (cannot
 * connect, timeout), CR_ERR_LIMIT (reply too big) or CR_ERR_INVAL. */
CR_WUR int gw_ctl_request(const char *path, const char *command, int timeout_ms, char **out_reply);

#endif
