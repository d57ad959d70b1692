/* gw_ctl.h — the gateway's control socket: a Unix stream socket server that
 * the control plane polls without blocking once per loop, and the matching
 * client call used by dtlsgw-ctl and the tests.
 *
 * Protocol: one request per connection.  The client sends one line
 * (`COMMAND [ARG]\n`, at most GW_CTL_LINE_MAX_LEN bytes; closing its write
 * side also ends the line); the server answers with one line of compact JSON
 *   {"ok":true,"result":...}   or   {"ok":false,"error":"message"}
 * and closes the connection.  Commands:
 *   stats                  result: object of counters (handler fills it)
 *   sessions               result: array of session objects
 *   kill A.B.C.D:PORT      result: object, e.g. {"killed":1}
 *   reload-psk             result: object
 *   rotate-cookie          result: object
 *   help                   result: array of command names
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

#define GW_CTL_LINE_MAX_LEN    256                 /* one request line, without '\n' */
#define GW_CTL_MAX_CONNS       16                  /* concurrent client connections */
#define GW_CTL_CONN_TIMEOUT_MS 5000                /* a client that sends nothing is dropped */
#define GW_CTL_REPLY_MAX_BYTES (64u * 1024 * 1024) /* one serialized reply */
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
    /* ipv4 and port in host order. */
    int (*kill)(void *arg, uint32_t ipv4, uint16_t port, json_t *result_obj, char *err);
    int (*reload_psk)(void *arg, json_t *result_obj, char *err);
    int (*rotate_cookie)(void *arg, json_t *result_obj, char *err);
};

struct gw_ctl;

/* Creates the listening socket at path (mode 0660).  A stale socket file
 * left by a dead process is replaced; a live one (something answers on it)
 * gives CR_ERR_IO, as does any other existing file. */
CR_WUR int gw_ctl_open(struct gw_ctl **out_ctl, const char *path);
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
