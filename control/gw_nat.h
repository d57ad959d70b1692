/* gw_nat.h — the control plane's NAT port choice: a free port of a
 * listener's range, at random, so that a port number tells an off-path
 * attacker nothing about which session holds it or which is next
 * (issue 8: ports handed out in order made spoofed backend replies easy to
 * aim).
 *
 * Owns: nothing (the caller's bitmap, one bit per port).  Must not:
 * allocate.  Single-threaded: the control plane's thread.
 */
#ifndef DTLSGW_GW_NAT_H
#define DTLSGW_GW_NAT_H

#include <stdint.h>

#define GW_NAT_RANDOM_PROBES 16 /* random tries before the scan */

static inline int gw_nat_test(const uint64_t *used, uint32_t port)
{
    return (used[port / 64] >> (port % 64)) & 1;
}

/* A free port in [lo, hi] (hi <= 65535), marked used in the bitmap:
 * GW_NAT_RANDOM_PROBES random probes, then a scan from a random start, so
 * a nearly full range still finds its last free port.  rnd returns 32
 * random bits.  -1 when the range is full or empty. */
static inline int gw_nat_pick(uint64_t *used, uint32_t lo, uint32_t hi, uint32_t (*rnd)(void *),
                              void *arg)
{
    if (lo == 0 || hi < lo || hi > 65535)
        return -1;
    uint32_t span = hi - lo + 1, port = 0;
    int found = 0;
    for (unsigned i = 0; i < GW_NAT_RANDOM_PROBES && !found; i++) {
        port = lo + rnd(arg) % span;
        found = !gw_nat_test(used, port);
    }
    uint32_t start = rnd(arg) % span;
    for (uint32_t i = 0; i < span && !found; i++) {
        port = lo + (start + i) % span;
        found = !gw_nat_test(used, port);
    }
    if (!found)
        return -1;
    used[port / 64] |= UINT64_C(1) << (port % 64);
    return (int)port;
}

#endif
