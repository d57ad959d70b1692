/* gw_nat.h — the control plane's NAT slot choice: a free (pool address,
 * port) of a listener's port range over its backend port's address pool
 * (issue 11), at random, so that a port number tells an off-path
 * attacker nothing about which session holds it or which is next
 * (issue 8: ports handed out in order made spoofed backend replies easy to
 * aim).
 *
 * Owns: nothing (the caller's bitmap, one bit per NAT slot: bit
 * (address index << 16) | port, dp_session.h dp_sess_nat_slot).  Must not:
 * allocate.  Single-threaded: the control plane's thread.
 */
#ifndef DTLSGW_GW_NAT_H
#define DTLSGW_GW_NAT_H

#include <stddef.h>
#include <stdint.h>

#define GW_NAT_RANDOM_PROBES 16 /* random tries before the scan */

static inline int gw_nat_test(const uint64_t *used, uint32_t port)
{
    return (used[port / 64] >> (port % 64)) & 1;
}

/* A free slot (address index a << 16) | port, a in [base, base + n_addrs)
 * and port in [lo, hi] (hi <= 65535), marked used in the bitmap: each
 * (address, port) equally likely for GW_NAT_RANDOM_PROBES random probes,
 * then a scan from a random (address, port), so a nearly full pool still
 * finds its last free slot (a full 64-slot word is skipped at once).  rnd
 * returns 32 random bits.  -1 when the pool is full or empty. */
static inline int64_t gw_nat_pick_pool(uint64_t *used, uint32_t base, uint32_t n_addrs, uint32_t lo,
                                       uint32_t hi, uint32_t (*rnd)(void *), void *arg)
{
    if (lo == 0 || hi < lo || hi > 65535 || n_addrs == 0 || n_addrs > 65536)
        return -1;
    uint32_t span = hi - lo + 1;
    uint64_t total = (uint64_t)span * n_addrs;
    for (unsigned i = 0; i < GW_NAT_RANDOM_PROBES; i++) {
        uint64_t r = ((uint64_t)rnd(arg) << 32 | rnd(arg)) % total;
        uint32_t slot = (base + (uint32_t)(r / span)) << 16 | (lo + (uint32_t)(r % span));
        if (!gw_nat_test(used, slot)) {
            used[slot / 64] |= UINT64_C(1) << (slot % 64);
            return slot;
        }
    }
    uint64_t start = ((uint64_t)rnd(arg) << 32 | rnd(arg)) % total;
    for (uint64_t i = 0; i < total;) {
        uint64_t r = (start + i) % total;
        uint32_t port = lo + (uint32_t)(r % span);
        uint32_t slot = (base + (uint32_t)(r / span)) << 16 | port;
        if (slot % 64 == 0 && port + 63 <= hi && used[slot / 64] == UINT64_MAX) {
            i += 64;
            continue;
        }
        if (!gw_nat_test(used, slot)) {
            used[slot / 64] |= UINT64_C(1) << (slot % 64);
            return slot;
        }
        i++;
    }
    return -1;
}

/* The same over one address (index 0): a free port in [lo, hi]. */
static inline int gw_nat_pick(uint64_t *used, uint32_t lo, uint32_t hi, uint32_t (*rnd)(void *),
                              void *arg)
{
    return (int)gw_nat_pick_pool(used, 0, 1, lo, hi, rnd, arg);
}

#endif
