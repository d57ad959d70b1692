/* cp_shard.h — which handshake lcore ("shard") owns a client transport
 * address when the control plane runs on handshake_lcores: N lcores.
 *
 * Owns: the one mapping (client ip, client port, local ip, local port) →
 * shard index in 0..n-1.  Every datagram of one peer maps to the same
 * shard, so a peer's handshake, its session's control-plane state
 * (alerts, idle reaping) and its retransmission timer live on one lcore;
 * different peers spread evenly, also when they differ only in the client
 * port (many clients behind one NAT address) or only in the address.
 * Must not: depend on DPDK or on process state (the same key gives the
 * same shard in every process: the state file restore and the dispatch
 * agree without talking).
 */
#ifndef DTLSGW_CP_SHARD_H
#define DTLSGW_CP_SHARD_H

#include <stdint.h>

#define CP_SHARD_MAX 16 /* largest handshake_lcores */

/* Fields in the byte order they come in (network order in the gateway);
 * only equality matters.  n == 0 or 1: always 0. */
static inline unsigned cp_shard_of(uint32_t client_ip, uint16_t client_port, uint32_t local_ip,
                                   uint16_t local_port, unsigned n)
{
    if (n <= 1)
        return 0;
    /* splitmix64's finalizer over the 12 bytes: every input bit moves
     * about half of the output bits, so consecutive ports do not land on
     * the same shard in runs. */
    uint64_t h = ((uint64_t)client_ip << 32) ^ ((uint64_t)client_port << 16) ^ local_port;
    h ^= (uint64_t)local_ip * UINT64_C(0x9e3779b97f4a7c15);
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    /* multiply-shift to 0..n-1 (no division on the dispatch path) */
    return (unsigned)(((h >> 32) * (uint64_t)n) >> 32);
}

#endif
