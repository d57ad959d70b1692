/* cp_key.h — the control plane's key of a peer (client transport address
 * and the listener address it spoke to), for both families: a struct
 * dp_sess_key6 in which an IPv4 peer's addresses are IPv4-mapped
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2).  The workers drop IPv6 datagrams
 * whose source is IPv4-mapped (dp_worker.c classify6), so the two
 * families never meet in one key.
 *
 * Owns: nothing (pure helpers).  Must not: reach the dataplane's tables,
 * which keep their own per-family keys (dp_session.h).
 */
#ifndef DTLSGW_CP_KEY_H
#define DTLSGW_CP_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dp_addr.h"
#include "dp_session.h"

typedef struct dp_sess_key6 cp_key_t;

static const uint8_t cp_key_v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline bool cp_addr_is_v4_mapped(const uint8_t *a)
{
    return memcmp(a, cp_key_v4_prefix, sizeof(cp_key_v4_prefix)) == 0;
}

static inline void cp_addr_map(uint8_t *out16, const struct dp_addr *a)
{
    if (a->family == DP_AF_V6) {
        memcpy(out16, a->u.v6, 16);
        return;
    }
    memcpy(out16, cp_key_v4_prefix, 12);
    memcpy(out16 + 12, &a->u.v4, 4);
}

static inline struct dp_addr cp_addr_unmap(const uint8_t *a16)
{
    if (cp_addr_is_v4_mapped(a16)) {
        uint32_t v4;
        memcpy(&v4, a16 + 12, 4);
        return dp_addr_v4(v4);
    }
    return dp_addr_v6(a16);
}

/* Fields network order. */
static inline cp_key_t cp_key_make(const struct dp_addr *client, uint16_t client_port_be,
                                   const struct dp_addr *local, uint16_t local_port_be)
{
    cp_key_t k;
    memset(&k, 0, sizeof(k));
    cp_addr_map(k.client_ip, client);
    cp_addr_map(k.local_ip, local);
    k.client_port = client_port_be;
    k.local_port = local_port_be;
    return k;
}

static inline bool cp_key_is_v4(const cp_key_t *k)
{
    return cp_addr_is_v4_mapped(k->client_ip);
}

static inline struct dp_addr cp_key_client(const cp_key_t *k)
{
    return cp_addr_unmap(k->client_ip);
}

static inline struct dp_addr cp_key_local(const cp_key_t *k)
{
    return cp_addr_unmap(k->local_ip);
}

/* The IPv4 address (network order) of an IPv4 key's client / local side. */
static inline uint32_t cp_key_client_v4(const cp_key_t *k)
{
    uint32_t v;
    memcpy(&v, k->client_ip + 12, 4);
    return v;
}

static inline uint32_t cp_key_local_v4(const cp_key_t *k)
{
    uint32_t v;
    memcpy(&v, k->local_ip + 12, 4);
    return v;
}

/* 32 bits for the client address in hashes and per-source limits: the
 * IPv4 address itself (what they used before IPv6), an IPv6 one folded
 * (dp_addr_fold32, the same the workers use for dp_peer_slot_addr). */
static inline uint32_t cp_key_client_fold(const cp_key_t *k)
{
    struct dp_addr a = cp_key_client(k);
    return dp_addr_fold32(&a);
}

/* The per-source handshake limit's key (cp_hs_limit.h): an IPv4 client's
 * address (network order, the upper 32 bits zero: the key it always had),
 * an IPv6 client's /64 prefix.  A /64 in 0000:0000::/32 (reserved, never
 * global unicast) gets bit 63 set so that it never meets an IPv4 key. */
static inline uint64_t cp_key_source_id(const cp_key_t *k)
{
    if (cp_key_is_v4(k))
        return cp_key_client_v4(k);
    uint64_t p = 0;
    for (int i = 0; i < 8; i++)
        p = p << 8 | k->client_ip[i];
    if ((p >> 32) == 0)
        p |= UINT64_C(1) << 63;
    return p;
}

static inline uint32_t cp_key_local_fold(const cp_key_t *k)
{
    struct dp_addr a = cp_key_local(k);
    return dp_addr_fold32(&a);
}

#endif
