/* dp_ipv6.h — IPv6 header parsing for the gateway (RFC 8200): the fixed
 * header, the extension-header walk to the upper layer, and the
 * upper-layer checksum over the IPv6 pseudo-header (RFC 8200 §8.1).
 *
 * Owns: nothing (pure functions over caller bytes).  Pure C: no DPDK, no
 * allocation; every read is checked against the caller's length first
 * (checks by subtraction, as in dp_record.h).
 *
 * What the gateway accepts, as an endpoint (never a router):
 *   - Hop-by-Hop Options only directly after the fixed header (§4.1 "MUST
 *     immediately follow"); Destination Options and Routing headers with
 *     Segments Left 0 (§4.4: a node that is the final destination ignores
 *     the header); at most DP_IPV6_EXT_MAX extension headers.
 *   - In option headers (§4.2): Pad1 and PadN are skipped; any other
 *     option is unknown to us and its type's two high bits decide: 00 skip,
 *     01/10/11 discard the packet (we send no ICMPv6 Parameter Problem:
 *     counted drop, like every other rejection here).
 *   - A Fragment header (§4.5) is refused: the gateway does not reassemble
 *     (DTLS records fit one datagram; a fragmented datagram is counted).
 *   - A Routing header with Segments Left > 0 is refused (§4.4: "discard
 *     the packet"; we would have to forward it).
 *   - No Next Header (59) means no upper layer: refused.
 */
#ifndef DTLSGW_DP_IPV6_H
#define DTLSGW_DP_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DP_IPV6_HDR_LEN      40
#define DP_IPV6_ADDR_LEN     16
#define DP_IPV6_OFF_VTC      0 /* version(4) traffic class(8) flow label(20) */
#define DP_IPV6_OFF_PLEN     4
#define DP_IPV6_OFF_NEXT     6
#define DP_IPV6_OFF_HLIM     7
#define DP_IPV6_OFF_SRC      8
#define DP_IPV6_OFF_DST      24
#define DP_IPV6_VERSION      6
#define DP_IPV6_EXT_MAX      8 /* extension headers walked before refusing */
#define DP_IPV6_EXT_UNIT_LEN 8 /* Hdr Ext Len counts 8-octet units (§4.3) */
#define DP_IPV6_FRAG_HDR_LEN 8
#define DP_IPV6_MIN_MTU      1280 /* §5 */

/* Next Header values (IANA Assigned Internet Protocol Numbers) */
#define DP_IPPROTO_HOPOPTS  0
#define DP_IPPROTO_UDP      17
#define DP_IPPROTO_ROUTING  43
#define DP_IPPROTO_FRAGMENT 44
#define DP_IPPROTO_ESP      50
#define DP_IPPROTO_AH       51
#define DP_IPPROTO_ICMPV6   58
#define DP_IPPROTO_NONE     59
#define DP_IPPROTO_DSTOPTS  60

#define DP_IPV6_OPT_PAD1 0
#define DP_IPV6_OPT_PADN 1

#define DP_ETHERTYPE_IPV6 0x86dd

/* Why an IPv6 packet was refused. */
#define DP_IPV6_ERRORS(X)                                                                          \
    X(TRUNCATED, "IPv6 header truncated")                                                          \
    X(BAD_VERSION, "IP version field is not 6")                                                    \
    X(BAD_LENGTH, "payload length beyond the frame")                                               \
    X(EXT_TRUNCATED, "extension header runs past the payload")                                     \
    X(HOPOPTS_NOT_FIRST, "Hop-by-Hop Options header not directly after the IPv6 header")           \
    X(TOO_MANY_EXT, "more extension headers than DP_IPV6_EXT_MAX")                                 \
    X(UNKNOWN_OPTION, "an option whose type says discard when not recognised")                     \
    X(FRAGMENT, "fragmented datagram (not reassembled)")                                           \
    X(ROUTING, "Routing header with segments left")                                                \
    X(NO_UPPER, "No Next Header: nothing to deliver")

enum dp_ipv6_err {
    DP_IPV6_OK = 0,
#define X(name, str) DP_IPV6_ERR_##name,
    DP_IPV6_ERRORS(X)
#undef X
    DP_IPV6_ERR_N
};

static inline const char *dp_ipv6_strerror(int err)
{
    static const char *const s[] = {"ok",
#define X(name, str) str,
                                    DP_IPV6_ERRORS(X)
#undef X
    };
    return err >= 0 && err < DP_IPV6_ERR_N ? s[err] : "unknown IPv6 error";
}

/* The parsed packet: the upper layer's protocol and where its bytes lie
 * (offsets from the start of the IPv6 header). */
struct dp_ipv6_view {
    const uint8_t *src, *dst; /* 16 bytes each, inside the packet */
    uint8_t proto;            /* upper-layer Next Header (UDP, ICMPv6, ...) */
    uint8_t hop_limit;
    uint8_t n_ext;    /* extension headers skipped */
    uint16_t l4_off;  /* DP_IPV6_HDR_LEN + extension headers */
    uint16_t l4_len;  /* payload length - extension headers */
    uint16_t pkt_len; /* DP_IPV6_HDR_LEN + payload length (trailing bytes excluded) */
};

static inline uint16_t dp_ipv6_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

/* Options area of a Hop-by-Hop or Destination Options header (§4.2). */
static inline int dp_ipv6_options_ok(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t type = p[i];
        if (type == DP_IPV6_OPT_PAD1) {
            i++;
            continue;
        }
        if (len - i < 2 || p[i + 1] > len - i - 2)
            return DP_IPV6_ERR_EXT_TRUNCATED;
        /* §4.2: the two high-order bits say what to do with an option we do
         * not recognise; PadN is the only multi-byte option we know. */
        if (type != DP_IPV6_OPT_PADN && (type >> 6) != 0)
            return DP_IPV6_ERR_UNKNOWN_OPTION;
        i += 2u + p[i + 1];
    }
    return DP_IPV6_OK;
}

/* Parses the IPv6 packet at p (len bytes, starting at the IPv6 header) up
 * to its upper layer.  DP_IPV6_OK with *v filled, or a DP_IPV6_ERR_* code
 * (the caller drops the packet and counts the reason). */
static inline int dp_ipv6_parse(const uint8_t *p, size_t len, struct dp_ipv6_view *v)
{
    if (p == NULL || len < DP_IPV6_HDR_LEN)
        return DP_IPV6_ERR_TRUNCATED;
    if ((p[DP_IPV6_OFF_VTC] >> 4) != DP_IPV6_VERSION)
        return DP_IPV6_ERR_BAD_VERSION;
    size_t plen = dp_ipv6_load_be16(p + DP_IPV6_OFF_PLEN);
    /* plen 0 is a Jumbo Payload (RFC 2675): never on our links */
    if (plen > len - DP_IPV6_HDR_LEN || plen == 0)
        return DP_IPV6_ERR_BAD_LENGTH;
    uint8_t next = p[DP_IPV6_OFF_NEXT];
    size_t off = DP_IPV6_HDR_LEN, end = DP_IPV6_HDR_LEN + plen;
    unsigned n_ext = 0;
    for (;;) {
        if (next != DP_IPPROTO_HOPOPTS && next != DP_IPPROTO_DSTOPTS &&
            next != DP_IPPROTO_ROUTING && next != DP_IPPROTO_FRAGMENT)
            break;
        if (next == DP_IPPROTO_FRAGMENT)
            return DP_IPV6_ERR_FRAGMENT;
        if (next == DP_IPPROTO_HOPOPTS && n_ext != 0)
            return DP_IPV6_ERR_HOPOPTS_NOT_FIRST;
        if (n_ext == DP_IPV6_EXT_MAX)
            return DP_IPV6_ERR_TOO_MANY_EXT;
        /* every one of these starts Next Header, Hdr Ext Len (§4.3-4.6) */
        if (end - off < DP_IPV6_EXT_UNIT_LEN)
            return DP_IPV6_ERR_EXT_TRUNCATED;
        size_t hlen = ((size_t)p[off + 1] + 1) * DP_IPV6_EXT_UNIT_LEN;
        if (hlen > end - off)
            return DP_IPV6_ERR_EXT_TRUNCATED;
        if (next == DP_IPPROTO_ROUTING) {
            /* Routing: Next, Len, Routing Type, Segments Left (§4.4) */
            if (p[off + 3] != 0)
                return DP_IPV6_ERR_ROUTING;
        } else {
            int rc = dp_ipv6_options_ok(p + off + 2, hlen - 2);
            if (rc != DP_IPV6_OK)
                return rc;
        }
        next = p[off];
        off += hlen;
        n_ext++;
    }
    if (next == DP_IPPROTO_NONE)
        return DP_IPV6_ERR_NO_UPPER;
    v->src = p + DP_IPV6_OFF_SRC;
    v->dst = p + DP_IPV6_OFF_DST;
    v->proto = next;
    v->hop_limit = p[DP_IPV6_OFF_HLIM];
    v->n_ext = (uint8_t)n_ext;
    v->l4_off = (uint16_t)off;
    v->l4_len = (uint16_t)(end - off);
    v->pkt_len = (uint16_t)end;
    return DP_IPV6_OK;
}

/* One's-complement sum (RFC 1071) of len bytes, big-endian 16-bit words,
 * added to sum (not folded). */
static inline uint32_t dp_ipv6_sum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (i < len)
        s += (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

/* The upper-layer checksum field value for l4 (l4_len bytes, its own
 * checksum field zero) between src and dst: RFC 8200 §8.1 pseudo-header
 * (source, destination, 32-bit upper-layer length, 3 zero bytes, Next
 * Header).  A UDP checksum that computes to 0 is sent as 0xffff (RFC 768;
 * §8.1: zero is not allowed for UDP over IPv6). */
static inline uint16_t dp_ipv6_l4_cksum(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                                        const uint8_t *l4, size_t l4_len)
{
    uint8_t tail[8] = {(uint8_t)(l4_len >> 24),
                       (uint8_t)(l4_len >> 16),
                       (uint8_t)(l4_len >> 8),
                       (uint8_t)l4_len,
                       0,
                       0,
                       0,
                       proto};
    uint32_t s = dp_ipv6_sum_add(0, src, DP_IPV6_ADDR_LEN);
    s = dp_ipv6_sum_add(s, dst, DP_IPV6_ADDR_LEN);
    s = dp_ipv6_sum_add(s, tail, sizeof(tail));
    s = dp_ipv6_sum_add(s, l4, l4_len);
    uint16_t c = (uint16_t)~s;
    if (c == 0 && proto == DP_IPPROTO_UDP)
        c = 0xffff;
    return c;
}

/* True when l4 (checksum field included) sums to all ones with the
 * pseudo-header: the checksum is right.  A zero UDP checksum is wrong over
 * IPv6 (§8.1). */
static inline bool dp_ipv6_l4_cksum_ok(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                                       const uint8_t *l4, size_t l4_len, size_t csum_off)
{
    if (csum_off + 2 > l4_len)
        return false;
    if (proto == DP_IPPROTO_UDP && l4[csum_off] == 0 && l4[csum_off + 1] == 0)
        return false;
    uint8_t tail[8] = {(uint8_t)(l4_len >> 24),
                       (uint8_t)(l4_len >> 16),
                       (uint8_t)(l4_len >> 8),
                       (uint8_t)l4_len,
                       0,
                       0,
                       0,
                       proto};
    uint32_t s = dp_ipv6_sum_add(0, src, DP_IPV6_ADDR_LEN);
    s = dp_ipv6_sum_add(s, dst, DP_IPV6_ADDR_LEN);
    s = dp_ipv6_sum_add(s, tail, sizeof(tail));
    s = dp_ipv6_sum_add(s, l4, l4_len);
    return s == 0xffff;
}

static inline bool dp_ipv6_is_multicast(const uint8_t *a)
{
    return a[0] == 0xff;
}

static inline bool dp_ipv6_is_unspecified(const uint8_t *a)
{
    static const uint8_t zero[DP_IPV6_ADDR_LEN];
    return memcmp(a, zero, DP_IPV6_ADDR_LEN) == 0;
}

static inline bool dp_ipv6_is_link_local(const uint8_t *a)
{
    return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* RFC 4291 §2.5.3: ::1, never sent outside a node nor accepted from a link. */
static inline bool dp_ipv6_is_loopback(const uint8_t *a)
{
    static const uint8_t loopback[DP_IPV6_ADDR_LEN] = {[15] = 1};
    return memcmp(a, loopback, DP_IPV6_ADDR_LEN) == 0;
}

/* RFC 4291 §2.5.5.2: ::ffff:0:0/96, an IPv4 node's address as IPv6 API
 * text; never on the wire. */
static inline bool dp_ipv6_is_v4_mapped(const uint8_t *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* A source nobody can be answered at (RFC 4291): multicast (§2.7 "must
 * not be used as source addresses"), loopback (§2.5.3, never from a
 * link), IPv4-mapped (§2.5.5.2, never on the wire), and the unspecified
 * address (§2.5.2) unless unspecified_ok (a duplicate address detection
 * probe, RFC 4862 §5.4, comes from ::).  The workers' rule for every
 * datagram and gw_nd's for the ND/echo messages it answers. */
static inline bool dp_ipv6_src_refused(const uint8_t *src, bool unspecified_ok)
{
    return dp_ipv6_is_multicast(src) || dp_ipv6_is_loopback(src) || dp_ipv6_is_v4_mapped(src) ||
           (!unspecified_ok && dp_ipv6_is_unspecified(src));
}

/* RFC 4291 §2.7.1: ff02::1:ffXX:XXXX from the address's low 24 bits. */
static inline void dp_ipv6_solicited_node(const uint8_t *a, uint8_t out[DP_IPV6_ADDR_LEN])
{
    static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
    memcpy(out, pfx, sizeof(pfx));
    memcpy(out + 13, a + 13, 3);
}

/* RFC 2464 §7: 33:33 and the address's low 32 bits. */
static inline void dp_ipv6_multicast_mac(const uint8_t *a, uint8_t mac[6])
{
    mac[0] = 0x33;
    mac[1] = 0x33;
    memcpy(mac + 2, a + 12, 4);
}

/* RFC 4291 §2.5.6 / Appendix A: fe80::/64 with the modified EUI-64 of mac. */
static inline void dp_ipv6_link_local_from_mac(const uint8_t mac[6], uint8_t out[DP_IPV6_ADDR_LEN])
{
    memset(out, 0, DP_IPV6_ADDR_LEN);
    out[0] = 0xfe;
    out[1] = 0x80;
    out[8] = mac[0] ^ 0x02;
    out[9] = mac[1];
    out[10] = mac[2];
    out[11] = 0xff;
    out[12] = 0xfe;
    out[13] = mac[3];
    out[14] = mac[4];
    out[15] = mac[5];
}

/* True when a and b share their first prefix_len bits. */
static inline bool dp_ipv6_same_prefix(const uint8_t *a, const uint8_t *b, unsigned prefix_len)
{
    unsigned full = prefix_len / 8, rest = prefix_len % 8;
    if (prefix_len > 128 || memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (a[full] & mask) == (b[full] & mask);
}

#endif
