/* dp_addr.h — one family-tagged IP address for the interfaces between the
 * planes (unknown-peer hook, peer slots, listeners, backends, next hops,
 * the control plane's peer table, cookie, state file and control socket).
 *
 * Owns: struct dp_addr and its comparisons, hashing and text forms.  Pure
 * C: no DPDK, no allocation.
 * Must not: be used on the IPv4 fast path (which keeps its 32-bit fields).
 *
 * Family values: DP_AF_V4 is 0 so that a zeroed structure that predates
 * IPv6 support (a session, listener or next hop filled field by field)
 * stays the IPv4 one it always was.
 */
#ifndef DTLSGW_DP_ADDR_H
#define DTLSGW_DP_ADDR_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DP_AF_V4         0
#define DP_AF_V6         1
#define DP_ADDR_V6_BYTES 16
/* "[" + INET6_ADDRSTRLEN - 1 + "]:" + 5 digits + NUL */
#define DP_ADDR_STR_MAX_BYTES 56

struct dp_addr {
    uint8_t family; /* DP_AF_V4 or DP_AF_V6 */
    uint8_t pad[3]; /* zero: compared and hashed as part of the value */
    union {
        uint32_t v4; /* network order */
        uint8_t v6[DP_ADDR_V6_BYTES];
    } u;
};

static inline struct dp_addr dp_addr_v4(uint32_t ip_be)
{
    struct dp_addr a;
    memset(&a, 0, sizeof(a));
    a.family = DP_AF_V4;
    a.u.v4 = ip_be;
    return a;
}

static inline struct dp_addr dp_addr_v6(const uint8_t *ip16)
{
    struct dp_addr a;
    memset(&a, 0, sizeof(a));
    a.family = DP_AF_V6;
    memcpy(a.u.v6, ip16, DP_ADDR_V6_BYTES);
    return a;
}

static inline bool dp_addr_is_v6(const struct dp_addr *a)
{
    return a->family == DP_AF_V6;
}

/* The address bytes as on the wire: 4 (IPv4) or 16 (IPv6). */
static inline size_t dp_addr_len(const struct dp_addr *a)
{
    return a->family == DP_AF_V6 ? DP_ADDR_V6_BYTES : sizeof(uint32_t);
}

static inline const uint8_t *dp_addr_bytes(const struct dp_addr *a)
{
    return a->family == DP_AF_V6 ? a->u.v6 : (const uint8_t *)&a->u.v4;
}

static inline bool dp_addr_eq(const struct dp_addr *a, const struct dp_addr *b)
{
    return a->family == b->family &&
           memcmp(dp_addr_bytes(a), dp_addr_bytes(b), dp_addr_len(a)) == 0;
}

static inline bool dp_addr_is_zero(const struct dp_addr *a)
{
    static const uint8_t zero[DP_ADDR_V6_BYTES];
    return memcmp(dp_addr_bytes(a), zero, dp_addr_len(a)) == 0;
}

/* 32 bits standing for the address in a hash: the IPv4 address itself
 * (so every IPv4 hash is what it was before IPv6), the XOR of an IPv6
 * address's four words. */
static inline uint32_t dp_addr_fold32(const struct dp_addr *a)
{
    if (a->family != DP_AF_V6)
        return a->u.v4;
    uint32_t w[4];
    memcpy(w, a->u.v6, sizeof(w));
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* Text of the address alone ("192.0.2.1", "2001:db8::1"). */
static inline const char *dp_addr_ntop(const struct dp_addr *a, char *buf, size_t cap)
{
    const char *r = inet_ntop(a->family == DP_AF_V6 ? AF_INET6 : AF_INET, dp_addr_bytes(a), buf,
                              (socklen_t)cap);
    if (r == NULL && cap > 0)
        buf[0] = '\0';
    return buf;
}

/* Text of address and port (port in host order): "192.0.2.1:5684",
 * "[2001:db8::1]:5684" (RFC 5952 §6). */
static inline const char *dp_addr_port_str(const struct dp_addr *a, uint16_t port, char *buf,
                                           size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    dp_addr_ntop(a, ip, sizeof(ip));
    if (a->family == DP_AF_V6)
        snprintf(buf, cap, "[%s]:%u", ip, (unsigned)port);
    else
        snprintf(buf, cap, "%s:%u", ip, (unsigned)port);
    return buf;
}

/* Parses an address literal (IPv4 dotted quad or IPv6, no brackets, no
 * zone).  True on success. */
static inline bool dp_addr_pton(const char *s, struct dp_addr *out)
{
    uint8_t b[DP_ADDR_V6_BYTES];
    if (inet_pton(AF_INET, s, b) == 1) {
        uint32_t v4;
        memcpy(&v4, b, sizeof(v4));
        *out = dp_addr_v4(v4);
        return true;
    }
    if (inet_pton(AF_INET6, s, b) == 1) {
        *out = dp_addr_v6(b);
        return true;
    }
    return false;
}

/* Parses "a.b.c.d:port" or "[v6]:port" (port 1..65535, host order out).
 * True on success; nothing after the port. */
static inline bool dp_addr_port_parse(const char *s, struct dp_addr *out, uint16_t *out_port)
{
    char host[INET6_ADDRSTRLEN];
    const char *ps;
    size_t hl;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (e == NULL || e[1] != ':')
            return false;
        hl = (size_t)(e - s - 1);
        if (hl == 0 || hl >= sizeof(host))
            return false;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        ps = e + 2;
        struct dp_addr a;
        if (!dp_addr_pton(host, &a) || a.family != DP_AF_V6)
            return false;
        *out = a;
    } else {
        const char *e = strrchr(s, ':');
        if (e == NULL)
            return false;
        hl = (size_t)(e - s);
        if (hl == 0 || hl >= sizeof(host))
            return false;
        memcpy(host, s, hl);
        host[hl] = '\0';
        ps = e + 1;
        struct dp_addr a;
        if (!dp_addr_pton(host, &a) || a.family != DP_AF_V4)
            return false;
        *out = a;
    }
    unsigned long v = 0;
    if (*ps == '\0')
        return false;
    for (; *ps != '\0'; ps++) {
        if (*ps < '0' || *ps > '9')
            return false;
        v = v * 10 + (unsigned long)(*ps - '0');
        if (v > 65535)
            return false;
    }
    if (v == 0)
        return false;
    *out_port = (uint16_t)v;
    return true;
}

#endif
