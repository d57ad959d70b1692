/* dp_port.h — ethdev ports of the gateway: queue layout, mempool, and the
 * IPv4/UDP header writer with the gateway's checksum policy.
 *
 * Owns: configuring each DPDK port with one RX queue per worker when the
 * device spreads flows (RSS, or net_af_packet's PACKET_FANOUT across its
 * qpairs), else one RX queue; one TX queue per worker plus, when the device
 * has one more, a control-plane TX queue; the mbuf pool.
 * Must not: know about sessions or DTLS.
 *
 * Checksum policy (explicit, both directions):
 *   - Everything the gateway sends carries a full IPv4 header checksum and a
 *     full UDP checksum computed in software (dp_pkt_finish_ipv4_udp), unless
 *     the config enables checksum_offload AND the port offers IPv4+UDP TX
 *     checksum offload, in which case the NIC fills them.
 *   - Every received IPv4 header checksum is verified.  A NIC's RX "good"
 *     flag (IPv4 or L4) is trusted; its "bad" flag always drops.
 *   - A received UDP checksum is verified in software unless it is zero
 *     (RFC 768: zero means "no checksum" over IPv4), with one exception:
 *     a datagram to a DTLS listener that the worker keeps on its fast path
 *     (only application-data records of the current epoch of a live session
 *     owned by this worker) is not verified.  Every byte of such a record is
 *     covered by the AEAD tag (RFC 6347 §4.1.2.1 / RFC 5246 §6.2.3.3: the
 *     record header through the AAD, the fragment through the tag), so a
 *     corrupted one fails the tag check and is dropped as DROP_AUTH (or, if
 *     a header byte changed, as the replay/malformed/no-session drop it
 *     then is); the addresses are covered by the IPv4 header checksum, and a
 *     corrupted port leads to another session's key (DROP_AUTH) or off the
 *     fast path.  Anything to a listener that leaves the fast path (punted
 *     handshake/alert/CCS/other-epoch datagrams, unknown peers) is verified
 *     before it leaves, and backend→gateway plaintext, which no tag
 *     protects, is always verified.  Kernel peers on a veth leave partial
 *     checksums unless TX offload is off on their veth
 *     (`ethtool -K IF tx off`); such frames are dropped and counted as
 *     DROP_UDP_CSUM (their application data excepted, per the above).
 */
#ifndef DTLSGW_DP_PORT_H
#define DTLSGW_DP_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define DP_MAX_PORTS              4
#define DP_MAX_WORKERS            32
#define DP_MAX_RXQ_PER_PORT       64
#define DP_PORT_RX_DESC           1024
#define DP_PORT_TX_DESC           1024
#define DP_MBUF_CACHE             256
#define DP_MBUF_DATA_BYTES        RTE_MBUF_DEFAULT_BUF_SIZE
#define DP_PORT_MTU_DEFAULT_BYTES 1500
/* IPv4 and UDP header sizes (RFC 791 §3.1, RFC 768), the header values the
 * gateway writes, and the Ethernet + IPv4 + UDP header length of every frame
 * it builds (IPv4 without options). */
#define DP_IPV4_HDR_LEN   20 /* IPv4 header without options (IHL 5) */
#define DP_UDP_HDR_LEN    8
#define DP_IPV4_TTL       64 /* TTL of every IPv4 header the gateway writes */
#define DP_ETH_IP_UDP_LEN (RTE_ETHER_HDR_LEN + DP_IPV4_HDR_LEN + DP_UDP_HDR_LEN) /* 42 */
_Static_assert(sizeof(struct rte_ipv4_hdr) == DP_IPV4_HDR_LEN, "IPv4 header size");
_Static_assert(RTE_IPV4_MIN_IHL *RTE_IPV4_IHL_MULTIPLIER == DP_IPV4_HDR_LEN, "IHL 5");
_Static_assert(sizeof(struct rte_udp_hdr) == DP_UDP_HDR_LEN, "UDP header size");

struct dp_port {
    uint16_t port_id;
    uint16_t n_rxq;
    uint16_t n_txq;
    int16_t cp_txq; /* dedicated control-plane TX queue, or -1 */
    uint16_t mtu;   /* L3 MTU in bytes */
    bool spread;    /* RX queues spread flows (RSS / fanout) */
    bool tx_csum_offload;
    bool promiscuous; /* caller's: receive frames for any MAC (off by default) */
    /* caller's: IPv4 datagrams forwarded to backends through this port
     * carry UDP checksum 0 (dp_pkt_write_ipv4_udp_x's csum_zero) */
    bool backend_udp_csum_zero;
    uint8_t prefix_len;
    uint32_t ip_be; /* our address, network order */
    uint32_t gw_be; /* next hop for off-link, network order; 0 none */
    struct rte_ether_addr mac;
    /* IPv6 (has_ip6): our global address and its prefix, the link-local
     * one (EUI-64 of mac, dp_ipv6_link_local_from_mac, set by the caller),
     * the off-link next hop (all zero: none). */
    bool has_ip6;
    uint8_t prefix6_len;
    uint8_t ip6[16];
    uint8_t ip6_ll[16];
    uint8_t gw6[16];
    char driver[32];
};

/* Creates the gateway's mbuf pool.  NULL on error (rte_errno). */
struct rte_mempool *dp_port_pool_create(const char *name, unsigned n_mbufs, int socket_id);

/* Configures and starts port p->port_id for n_workers workers.  Fields
 * ip_be/prefix_len/gw_be/promiscuous are the caller's; the rest is filled.  On error
 * returns a negative errno and writes a message into err. */
int dp_port_init(struct dp_port *p, unsigned n_workers, struct rte_mempool *pool,
                 bool want_csum_offload, char *err, size_t err_len);
void dp_port_close(struct dp_port *p);

/* True when ip_be (network order) is on p's subnet. */
static inline bool dp_port_on_link(const struct dp_port *p, uint32_t ip_be)
{
    if (p->prefix_len == 0)
        return true;
    uint32_t mask = p->prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> p->prefix_len);
    return ((rte_be_to_cpu_32(ip_be) ^ rte_be_to_cpu_32(p->ip_be)) & mask) == 0;
}

/* RFC 1071 one's-complement sum of len bytes at buf (any alignment),
 * folded to 16 bits: the same value as rte_raw_cksum() (native-order
 * 16-bit words, an odd last byte as the low byte).  Wider words fold to the
 * same sum (2^16 = 1 mod 2^16 - 1).  With SSE2 (every x86-64): 16-bit words
 * widened into 32-bit lanes, 64 bytes per step into two accumulators; a
 * lane gains at most 4 * 0xffff per step, so blocks of DP_CKSUM_BLOCK_BYTES
 * (256 steps, < 2^26 per lane) cannot overflow a lane before it is folded
 * into 64 bits. */
#define DP_CKSUM_BLOCK_BYTES 16384

/* Folds a 64-bit one's-complement partial sum to 16 bits. */
static inline uint16_t dp_cksum_fold64(uint64_t sum)
{
    /* 64 → 32 bits with the end-around carry (the high half added to the
     * low half, the carry out of that added back), then 32 → 16 twice. */
    uint32_t lo = (uint32_t)sum, hi = (uint32_t)(sum >> 32);
    uint32_t s32 = lo + hi;
    s32 += s32 < lo;
    s32 = (s32 & 0xffffu) + (s32 >> 16);
    s32 = (s32 & 0xffffu) + (s32 >> 16);
    return (uint16_t)s32;
}

static inline uint64_t dp_cksum_tail64(const uint8_t *p, size_t len, uint64_t sum)
{
    uint64_t a;
    while (len >= 8) {
        memcpy(&a, p, 8);
        sum += (a & 0xffffffffu) + (a >> 32);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        sum += v;
        p += 2;
        len -= 2;
    }
    if (len == 1) {
        uint16_t v = 0;
        memcpy(&v, p, 1); /* the odd byte as in rte_raw_cksum */
        sum += v;
    }
    return sum;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
#define DP_CKSUM_AVX2_DISPATCH 1
#include <immintrin.h>
/* The bulk of the sum with AVX2 (the build targets baseline x86-64, so it
 * is chosen at run time): 32-bit words widened into 64-bit lanes, which
 * cannot overflow (2^32 words per lane), 64 bytes per step into two
 * accumulators, then one 32-byte step; no blocks, one reduction.  The sum
 * of 32-bit words folds to the same 16-bit sum (2^16 = 1 mod 2^16 - 1).
 * Consumes whole 32-byte steps from *pp / *plen and returns their 64-bit
 * partial sum. */
__attribute__((target("avx2"))) static uint64_t dp_cksum_avx2_steps(const uint8_t **pp,
                                                                    size_t *plen)
{
    const uint8_t *p = *pp;
    size_t len = *plen;
    const __m256i zero = _mm256_setzero_si256();
    __m256i acc0 = zero, acc1 = zero;
    for (; len >= 64; len -= 64, p += 64) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
        acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(v0, zero));
        acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(v0, zero));
        acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(v1, zero));
        acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(v1, zero));
    }
    if (len >= 32) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
        acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(v0, zero));
        acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(v0, zero));
        len -= 32;
        p += 32;
    }
    acc0 = _mm256_add_epi64(acc0, acc1);
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(acc0), _mm256_extracti128_si256(acc0, 1));
    *pp = p;
    *plen = len;
    return (uint64_t)_mm_cvtsi128_si64(s2) + (uint64_t)_mm_extract_epi64(s2, 1);
}
#endif

/* dp_raw_cksum without the AVX-512 path (AVX2 when the CPU has it, else
 * SSE2): what a CPU without AVX-512BW runs; tests compare it too. */
static inline uint16_t dp_raw_cksum_no512(const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t sum = 0;
#if defined(DP_CKSUM_AVX2_DISPATCH)
    /* __builtin_cpu_supports reads the CPU model libgcc filled in at
     * start-up: one load and test per call. */
    if (len >= 32 && __builtin_cpu_supports("avx2"))
        sum = dp_cksum_avx2_steps(&p, &len);
#endif
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    while (len >= 64) {
        size_t blk = len < DP_CKSUM_BLOCK_BYTES ? len : DP_CKSUM_BLOCK_BYTES;
        __m128i acc0 = zero, acc1 = zero;
        len -= blk & ~(size_t)63;
        for (; blk >= 64; blk -= 64, p += 64) {
            __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
            __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
            __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
            acc0 = _mm_add_epi32(acc0, _mm_unpacklo_epi16(v0, zero));
            acc1 = _mm_add_epi32(acc1, _mm_unpackhi_epi16(v0, zero));
            acc0 = _mm_add_epi32(acc0, _mm_unpacklo_epi16(v1, zero));
            acc1 = _mm_add_epi32(acc1, _mm_unpackhi_epi16(v1, zero));
            acc0 = _mm_add_epi32(acc0, _mm_unpacklo_epi16(v2, zero));
            acc1 = _mm_add_epi32(acc1, _mm_unpackhi_epi16(v2, zero));
            acc0 = _mm_add_epi32(acc0, _mm_unpacklo_epi16(v3, zero));
            acc1 = _mm_add_epi32(acc1, _mm_unpackhi_epi16(v3, zero));
        }
        /* 32-bit lanes to 64: the four lanes of each accumulator. */
        __m128i s64 = _mm_add_epi64(_mm_unpacklo_epi32(acc0, zero), _mm_unpackhi_epi32(acc0, zero));
        s64 = _mm_add_epi64(s64, _mm_unpacklo_epi32(acc1, zero));
        s64 = _mm_add_epi64(s64, _mm_unpackhi_epi32(acc1, zero));
        uint64_t lanes[2];
        _mm_storeu_si128((__m128i *)(void *)lanes, s64);
        sum += lanes[0] + lanes[1];
    }
#else
    uint64_t a, b, c, d;
    while (len >= 32) {
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        memcpy(&c, p + 16, 8);
        memcpy(&d, p + 24, 8);
        sum += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32) + (c & 0xffffffffu) +
               (c >> 32) + (d & 0xffffffffu) + (d >> 32);
        p += 32;
        len -= 32;
    }
#endif
    return dp_cksum_fold64(dp_cksum_tail64(p, len, sum));
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX512BW__)
#define DP_CKSUM_AVX512_DISPATCH 1
/* The whole sum with AVX-512BW (chosen at run time, as AVX2 above): 32-bit
 * words widened into 64-bit lanes (no overflow), 128 bytes per step into two
 * accumulators, then at most one 64-byte step and one masked load of the
 * last 1..63 bytes (bytes past the end are neither read nor faulted on;
 * they load as zero, so an odd last byte is the low byte of its 16-bit
 * word as in rte_raw_cksum).  No tail loop: the datagrams of the fast path
 * cost the same few branches at every length.  Returns the 64-bit partial
 * sum (dp_cksum_fold64 folds it). */
__attribute__((target("avx512f,avx512bw"))) static uint64_t dp_cksum_avx512(const uint8_t *p,
                                                                            size_t len)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i acc0 = zero, acc1 = zero;
    for (; len >= 128; len -= 128, p += 128) {
        __m512i v0 = _mm512_loadu_si512((const void *)p);
        __m512i v1 = _mm512_loadu_si512((const void *)(p + 64));
        acc0 = _mm512_add_epi64(acc0, _mm512_unpacklo_epi32(v0, zero));
        acc1 = _mm512_add_epi64(acc1, _mm512_unpackhi_epi32(v0, zero));
        acc0 = _mm512_add_epi64(acc0, _mm512_unpacklo_epi32(v1, zero));
        acc1 = _mm512_add_epi64(acc1, _mm512_unpackhi_epi32(v1, zero));
    }
    if (len >= 64) {
        __m512i v0 = _mm512_loadu_si512((const void *)p);
        acc0 = _mm512_add_epi64(acc0, _mm512_unpacklo_epi32(v0, zero));
        acc1 = _mm512_add_epi64(acc1, _mm512_unpackhi_epi32(v0, zero));
        len -= 64;
        p += 64;
    }
    if (len > 0) {
        __m512i v0 = _mm512_maskz_loadu_epi8((__mmask64)((UINT64_C(1) << len) - 1), p);
        acc0 = _mm512_add_epi64(acc0, _mm512_unpacklo_epi32(v0, zero));
        acc1 = _mm512_add_epi64(acc1, _mm512_unpackhi_epi32(v0, zero));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(acc0, acc1));
}
#endif

/* RFC 1071 sum (see above): AVX-512BW when the CPU has it, else
 * dp_raw_cksum_no512(). */
static inline uint16_t dp_raw_cksum(const void *buf, size_t len)
{
#if defined(DP_CKSUM_AVX512_DISPATCH)
    if (__builtin_cpu_supports("avx512bw"))
        return dp_cksum_fold64(dp_cksum_avx512((const uint8_t *)buf, len));
#endif
    return dp_raw_cksum_no512(buf, len);
}

/* dp_raw_cksum of an option-less 20-byte IPv4 header: five 32-bit words,
 * straight line (any alignment). */
static inline uint16_t dp_ipv4_hdr20_sum(const struct rte_ipv4_hdr *ip)
{
    const uint8_t *p = (const uint8_t *)ip;
    uint32_t w[5];
    memcpy(w, p, sizeof(w));
    return dp_cksum_fold64((uint64_t)w[0] + w[1] + w[2] + w[3] + w[4]);
}

/* UDP checksum over the pseudo header and l4_len bytes at udp (checksum
 * field as it is): the folded sum, 0xffff when the datagram verifies.
 * The pseudo header (src, dst, zero, protocol, length; RFC 768) is summed
 * as native-order words without building it: the 32-bit addresses fold
 * to the sum of their 16-bit halves, and the words {0, 17} and the
 * big-endian length read natively are rte_cpu_to_be_16 of the values. */
static inline uint16_t dp_udp_sum(const struct rte_ipv4_hdr *ip, const void *udp, uint16_t l4_len)
{
    uint64_t sum = (uint64_t)ip->src_addr + ip->dst_addr + rte_cpu_to_be_16(IPPROTO_UDP) +
                   rte_cpu_to_be_16(l4_len) + dp_raw_cksum(udp, l4_len);
    return dp_cksum_fold64(sum);
}

#if RTE_BYTE_ORDER != RTE_LITTLE_ENDIAN
#error "dp_pkt_write_ipv4_udp composes header words for a little-endian CPU"
#endif

/* A MAC address as the low 48 bits of a little-endian word (byte 0 lowest),
 * from two loads of its own sizes: one 8-byte load of a 6-byte address
 * built in memory just before would wait for the stores to drain. */
static inline uint64_t dp_mac_le48(const struct rte_ether_addr *a)
{
    uint32_t lo;
    uint16_t hi;
    memcpy(&lo, a->addr_bytes, 4);
    memcpy(&hi, a->addr_bytes + 4, 2);
    return lo | (uint64_t)hi << 32;
}

/* Writes Ethernet + IPv4 (20 bytes, DF set, TTL 64) + UDP headers in front
 * of the UDP payload that starts at the mbuf's data offset 42 (the caller
 * reserved the 42 bytes: m's data_len == 42 + payload_len) and finishes
 * the checksums per the policy above.  dst_mac_le: the destination MAC as
 * dp_mac_le48 gives it.  All addresses/ports network order.  csum_zero:
 * the UDP checksum field is 0, "no
 * checksum" (RFC 768; IPv4 only), neither computed nor left to the NIC —
 * the datagrams to backends of a port with backend_udp_csum_zero; the IPv4
 * header checksum is still written (or offloaded). */
static inline __attribute__((always_inline)) void
dp_pkt_write_ipv4_udp_x(struct rte_mbuf *m, const struct dp_port *p, uint64_t dst_mac_le,
                        uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                        bool csum_zero)
{
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    uint16_t udp_len = (uint16_t)(m->data_len - RTE_ETHER_HDR_LEN - DP_IPV4_HDR_LEN);
    uint16_t udp_len_be = rte_cpu_to_be_16(udp_len);
    uint16_t tot_len_be = rte_cpu_to_be_16((uint16_t)(udp_len + DP_IPV4_HDR_LEN));

    /* The 42 header bytes as five 64-bit words and one 16-bit word in
     * memory order (x86 is little-endian: a value's low byte is stored
     * first), written with unaligned stores: in-place rewrites leave the
     * frame at an odd address (the DTLS record header is 13 bytes).
     *   0..7   dst MAC, src MAC[0..1]
     *   8..15  src MAC[2..5], EtherType 0x0800, version/IHL 0x45, TOS 0
     *   16..23 total length, ID 0, flags DF / offset 0, TTL 64, protocol
     *   24..31 header checksum, src address, dst address[0..1]
     *   32..39 dst address[2..3], src port, dst port, UDP length
     *   40..41 UDP checksum */
    const uint64_t dmac = dst_mac_le, smac = dp_mac_le48(&p->mac);
    uint64_t w0 = dmac | smac << 48;
    uint64_t w1 = smac >> 16 | (uint64_t)RTE_BE16(RTE_ETHER_TYPE_IPV4) << 32 |
                  (uint64_t)RTE_IPV4_VHL_DEF << 48;
    uint64_t w2 = tot_len_be | (uint64_t)RTE_BE16(RTE_IPV4_HDR_DF_FLAG) << 32 |
                  (uint64_t)DP_IPV4_TTL << 48 | (uint64_t)IPPROTO_UDP << 56;
    uint64_t w3 = (uint64_t)src_ip << 16 | (uint64_t)(dst_ip & 0xffff) << 48;
    uint64_t w4 = (uint64_t)(dst_ip >> 16) | (uint64_t)src_port << 16 | (uint64_t)dst_port << 32 |
                  (uint64_t)udp_len_be << 48;
    uint16_t udp_csum = 0;
    m->l2_len = RTE_ETHER_HDR_LEN;
    m->l3_len = DP_IPV4_HDR_LEN;
    m->pkt_len = m->data_len;
    /* Checksums from the values, not by reading the headers back (the
     * loads would wait for the stores).  Native-order words: bytes {a, b}
     * read as rte_cpu_to_be_16(a << 8 | b); a 32-bit address sums to the
     * same folded value as its two halves (2^16 = 1 mod 2^16 - 1).
     * RFC 768 pseudo header: addresses, protocol, UDP length. */
    const uint64_t addrs = (uint64_t)src_ip + dst_ip;
    const uint64_t phdr = addrs + rte_cpu_to_be_16(IPPROTO_UDP) + udp_len_be;
    if (p->tx_csum_offload) {
        /* The NIC finishes both; the UDP field holds the pseudo-header sum
         * (rte_ipv4_phdr_cksum's value). */
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
        if (!csum_zero) {
            m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
            udp_csum = dp_cksum_fold64(phdr);
        }
    } else {
        uint64_t ip_sum = addrs + rte_cpu_to_be_16(RTE_IPV4_VHL_DEF << 8) + tot_len_be +
                          rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) +
                          rte_cpu_to_be_16(DP_IPV4_TTL << 8 | IPPROTO_UDP);
        w3 |= (uint16_t)~dp_cksum_fold64(ip_sum);
        if (!csum_zero) {
            /* RFC 768: the pseudo header, the UDP header (ports, length,
             * checksum 0) and the payload. */
            uint64_t udp_sum =
                phdr + src_port + dst_port + udp_len_be +
                dp_raw_cksum(b + DP_ETH_IP_UDP_LEN, (size_t)udp_len - DP_UDP_HDR_LEN);
            uint16_t c = (uint16_t)~dp_cksum_fold64(udp_sum);
            /* RFC 768: a computed 0 is sent as all ones (0 means "none"). */
            udp_csum = c == 0 ? 0xffff : c;
        }
    }
    memcpy(b, &w0, 8);
    memcpy(b + 8, &w1, 8);
    memcpy(b + 16, &w2, 8);
    memcpy(b + 24, &w3, 8);
    memcpy(b + 32, &w4, 8);
    memcpy(b + 40, &udp_csum, sizeof(udp_csum));
}

static inline __attribute__((always_inline)) void
dp_pkt_write_ipv4_udp_le(struct rte_mbuf *m, const struct dp_port *p, uint64_t dst_mac_le,
                         uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port)
{
    dp_pkt_write_ipv4_udp_x(m, p, dst_mac_le, src_ip, dst_ip, src_port, dst_port, false);
}

/* The same with the destination MAC as an address. */
static inline __attribute__((always_inline)) void
dp_pkt_write_ipv4_udp(struct rte_mbuf *m, const struct dp_port *p,
                      const struct rte_ether_addr *dst_mac, uint32_t src_ip, uint32_t dst_ip,
                      uint16_t src_port, uint16_t dst_port)
{
    dp_pkt_write_ipv4_udp_le(m, p, dp_mac_le48(dst_mac), src_ip, dst_ip, src_port, dst_port);
}

/* IPv6 (RFC 8200) as the gateway writes it: no extension headers, traffic
 * class and flow label 0, hop limit DP_IPV6_HOP_LIMIT. */
#define DP_IPV6_FIXED_HDR_LEN 40
#define DP_IPV6_HOP_LIMIT     64
#define DP_ETH_IP6_UDP_LEN    (RTE_ETHER_HDR_LEN + DP_IPV6_FIXED_HDR_LEN + DP_UDP_HDR_LEN) /* 62 */

/* The native-order partial sum of a 16-byte address (four 32-bit words:
 * the same folded value as its eight 16-bit words). */
static inline uint64_t dp_ip6_addr_sum(const uint8_t *a)
{
    uint32_t w[4];
    memcpy(w, a, sizeof(w));
    return (uint64_t)w[0] + w[1] + w[2] + w[3];
}

/* Writes Ethernet + IPv6 + UDP headers in front of the UDP payload that
 * starts at the mbuf's data offset 62 (m's data_len == 62 + payload
 * length), with the UDP checksum that IPv6 makes mandatory (RFC 8200 §8.1:
 * pseudo-header of both addresses, the upper-layer length and Next Header
 * 17; a computed 0 sent as 0xffff) — in software, or, under
 * tx_csum_offload, the pseudo-header sum for the NIC to finish.  Addresses
 * 16 bytes each, ports network order. */
static inline void dp_pkt_write_ipv6_udp_le(struct rte_mbuf *m, const struct dp_port *p,
                                            uint64_t dst_mac_le, const uint8_t *src_ip,
                                            const uint8_t *dst_ip, uint16_t src_port,
                                            uint16_t dst_port)
{
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    uint16_t udp_len = (uint16_t)(m->data_len - RTE_ETHER_HDR_LEN - DP_IPV6_FIXED_HDR_LEN);
    uint16_t udp_len_be = rte_cpu_to_be_16(udp_len);
    uint64_t dmac = dst_mac_le, smac = dp_mac_le48(&p->mac);
    uint64_t w0 = dmac | smac << 48;
    uint64_t w1 = smac >> 16 | (uint64_t)RTE_BE16(RTE_ETHER_TYPE_IPV6) << 32 |
                  (uint64_t)0x60 << 48; /* version 6, traffic class 0 */
    memcpy(b, &w0, 8);
    memcpy(b + 8, &w1, 8);
    uint8_t *ip = b + RTE_ETHER_HDR_LEN;
    /* bytes 2..3: the rest of traffic class / flow label, 0 */
    ip[2] = 0;
    ip[3] = 0;
    memcpy(ip + 4, &udp_len_be, 2);
    ip[6] = IPPROTO_UDP;
    ip[7] = DP_IPV6_HOP_LIMIT;
    memcpy(ip + 8, src_ip, 16);
    memcpy(ip + 24, dst_ip, 16);
    uint8_t *udp = ip + DP_IPV6_FIXED_HDR_LEN;
    memcpy(udp, &src_port, 2);
    memcpy(udp + 2, &dst_port, 2);
    memcpy(udp + 4, &udp_len_be, 2);
    m->l2_len = RTE_ETHER_HDR_LEN;
    m->l3_len = DP_IPV6_FIXED_HDR_LEN;
    m->pkt_len = m->data_len;
    /* Pseudo-header as native-order words (see dp_udp_sum): the 32-bit
     * upper-layer length and the Next Header word {0, 17}. */
    uint64_t phdr = dp_ip6_addr_sum(src_ip) + dp_ip6_addr_sum(dst_ip) + udp_len_be +
                    rte_cpu_to_be_16(IPPROTO_UDP);
    uint16_t udp_csum;
    if (p->tx_csum_offload) {
        m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
        udp_csum = dp_cksum_fold64(phdr);
    } else {
        uint64_t sum = phdr + src_port + dst_port + udp_len_be +
                       dp_raw_cksum(udp + DP_UDP_HDR_LEN, (size_t)udp_len - DP_UDP_HDR_LEN);
        uint16_t c = (uint16_t)~dp_cksum_fold64(sum);
        udp_csum = c == 0 ? 0xffff : c;
    }
    memcpy(udp + 6, &udp_csum, 2);
}

static inline void dp_pkt_write_ipv6_udp(struct rte_mbuf *m, const struct dp_port *p,
                                         const struct rte_ether_addr *dst_mac,
                                         const uint8_t *src_ip, const uint8_t *dst_ip,
                                         uint16_t src_port, uint16_t dst_port)
{
    dp_pkt_write_ipv6_udp_le(m, p, dp_mac_le48(dst_mac), src_ip, dst_ip, src_port, dst_port);
}

/* The folded UDP-over-IPv6 sum of l4_len bytes at udp between src and dst
 * (checksum field as it is): 0xffff when the datagram verifies. */
static inline uint16_t dp_udp6_sum(const uint8_t *src, const uint8_t *dst, const void *udp,
                                   uint16_t l4_len)
{
    uint64_t sum = dp_ip6_addr_sum(src) + dp_ip6_addr_sum(dst) + rte_cpu_to_be_16(l4_len) +
                   rte_cpu_to_be_16(IPPROTO_UDP) + dp_raw_cksum(udp, l4_len);
    return dp_cksum_fold64(sum);
}

/* Verifies a received UDP-over-IPv6 checksum (the caller refused a zero
 * one, RFC 8200 §8.1, and checked l4_len against the IPv6 length). */
static inline bool dp_pkt_udp6_csum_ok(const struct rte_mbuf *m, const uint8_t *src,
                                       const uint8_t *dst, const struct rte_udp_hdr *udp,
                                       uint16_t l4_len)
{
    uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        return true;
    if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD || udp->dgram_cksum == 0)
        return false;
    return dp_udp6_sum(src, dst, udp, l4_len) == 0xffff;
}

/* Verifies a received IPv4 header checksum (ihl already validated). */
static inline bool dp_pkt_ipv4_csum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
    uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (f == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
        return true;
    if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD)
        return false;
    size_t ihl = (size_t)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER;
    if (ihl == DP_IPV4_HDR_LEN)
        return dp_ipv4_hdr20_sum(ip) == 0xffff;
    return dp_raw_cksum(ip, ihl) == 0xffff;
}

/* Verifies a received UDP checksum; zero means "none" (RFC 768).  The UDP
 * length was validated against the IPv4 length by the caller. */
static inline bool dp_pkt_udp_csum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
                                      const struct rte_udp_hdr *udp)
{
    uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        return true;
    if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
        return false;
    if (udp->dgram_cksum == 0)
        return true;
    return dp_udp_sum(ip, udp, rte_be_to_cpu_16(udp->dgram_len)) == 0xffff;
}

#endif
