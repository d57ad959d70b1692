/* udp_util.h — small helpers shared by the interop test tools (hs-driver,
 * impair-relay): IPv4 address comparison, the bound UDP socket and the
 * SIGTERM/SIGINT stop flag.  The clock and "IP:port" parsing are
 * tests/lib's (tl_clock.h, tl_addr.h).
 *
 * Owns: the stop flag.  Must not: own sockets or any tool's state.  Test
 * tools only, not the product.
 */
#ifndef DTLSGW_INTEROP_UDP_UTIL_H
#define DTLSGW_INTEROP_UDP_UTIL_H

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Set to 1 by SIGTERM/SIGINT once udpu_install_stop() ran. */
extern volatile sig_atomic_t udpu_stop;

/* Same IPv4 address and port. */
bool udpu_addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b);

/* A UDP socket (extra socket() flags: sock_flags) bound to bind_addr:port
 * (port 0: any); the bound address goes to *bound and, if port_file is not
 * NULL, the port (decimal, newline) to port_file via a rename.  Errors are
 * printed to stderr prefixed with tool.  Returns the socket, or -2 for a
 * malformed bind_addr, -1 for a socket/bind/port-file failure. */
int udpu_listen(const char *tool, const char *bind_addr, int port, int sock_flags,
                const char *port_file, struct sockaddr_in *bound);

/* SIGTERM and SIGINT set udpu_stop. */
void udpu_install_stop(void);

#endif
