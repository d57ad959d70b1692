/* udp_util.c — helpers shared by the interop test tools; see udp_util.h.
 *
 * Owns: the stop flag.  Must not: own sockets or any tool's state.  Test
 * tools only, not the product.
 */
#include "udp_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDPU_PATH_MAX_LEN 1024 /* bytes, port file name + ".tmp" */

volatile sig_atomic_t udpu_stop;

bool udpu_addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

int udpu_listen(const char *tool, const char *bind_addr, int port, int sock_flags,
                const char *port_file, struct sockaddr_in *bound)
{
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_addr, &la.sin_addr) != 1) {
        fprintf(stderr, "%s: bad --bind %s\n", tool, bind_addr);
        return -2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | sock_flags, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0) {
        fprintf(stderr, "%s: bind: %s\n", tool, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t sl = sizeof(la);
    getsockname(fd, (struct sockaddr *)&la, &sl);
    *bound = la;
    if (port_file != NULL) {
        char tmp[UDPU_PATH_MAX_LEN];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (f == NULL || fprintf(f, "%u\n", ntohs(la.sin_port)) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0) {
            fprintf(stderr, "%s: port file: %s\n", tool, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void on_signal(int sig)
{
    (void)sig;
    udpu_stop = 1;
}

void udpu_install_stop(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}
