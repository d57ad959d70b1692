/* gw_config.c — the gateway's YAML configuration (libyaml document API).
 *
 * Owns: the defaults of every configurable value, parsing of the config
 * file into struct gw_config, and cross-field validation.  Every error names
 * the file, the line (from libyaml's node marks, 1-based) and the key path:
 *   "gw.yaml:12: listeners[0].mtu: 70000 out of range 256..16384"
 * Unknown keys are errors, so a typo never silently falls back to a default.
 * Must not: touch DPDK or sockets, load credentials (only checks that the
 * files are readable), or keep any state outside the caller's struct.
 *
 * Accepted layout (every key optional; lists replace the defaults):
 *   ports:            [{name, port_id, address: A.B.C.D/N, gateway: A.B.C.D,
 *                       promiscuous: bool (default off),
 *                       backend_udp_checksum: bool (default on; off: UDP
 *                       checksum 0 on IPv4 datagrams to backends), nat_addresses:
 *                       "A.B.C.D-E.F.G.H" | A.B.C.D | N (the backend-side
 *                       NAT pool; default the address alone)}]
 *   listeners:        [{name, address, port, backend: A.B.C.D:P, cert, key,
 *                       cert2, key2, certs: [{cert, key}] (up to 3 certificates
 *                       with cert/cert2, one per key type: ECDSA P-256, ECDSA
 *                       P-384, RSA 2048+; each handshake gets the one its
 *                       ClientHello can use), psk_file, ca_file (client CAs;
 *                       their names go into CertificateRequest),
 *                       client_auth: none|optional|require, suites: [..] or
 *                       "A:B", mtu, cookie, require_ems (default false: EMS
 *                       preferred), replay_window, retransmit_initial,
 *                       retransmit_max, handshake_timeout (absolute
 *                       handshake deadline, default 60s), idle_timeout,
 *                       bad_mac_limit, nat_ports: LO-HI,
 *                       psk_reload_ends_sessions (default true: reload-psk
 *                       ends sessions of removed or re-keyed identities),
 *                       session_tickets (default true: RFC 5077),
 *                       ticket_lifetime (1s..7d, default 2h),
 *                       ticket_key_file (overrides the top-level one),
 *                       session_cache (0..4194304 entries, default 10000:
 *                       the session-ID cache of RFC 5246 §7.4.1.2 for
 *                       clients without tickets, per handshake lcore;
 *                       0: off; entries live ticket_lifetime)}]
 *   control_socket, max_sessions, max_handshakes, max_handshakes_per_source,
 *   handshake_lcores,
 *   stats_interval (0: off), checksum_offload,
 *   metrics_listen: A.B.C.D:PORT or off (default off: the Prometheus text
 *                   exposition on GET /metrics over HTTP/1.x, TCP on the
 *                   kernel's stack, e.g. 127.0.0.1:9464; gw_http.h),
 *   ticket_key_file (48 bytes per key, mode 0600, shared by the gateways
 *                    that accept each other's tickets; default none:
 *                    random keys), ticket_key_rotate (>= 1m, default 12h:
 *                    a new random key this often; the ring keeps the last
 *                    CR_SEAL_RING_MAX, so ticket_lifetime must fit in the
 *                    older ones' time),
 *   cookie_rotate (>= 1s, default 60s: every listener's cookie secret
 *                  is replaced this often; the previous one is still
 *                  accepted, so a cookie lives one to two periods),
 *   state_file: PATH (default off: hitless restart; every established
 *                  session is written there on SIGTERM/SIGINT after the
 *                  workers stopped, and by `dtlsgw-ctl save`, and restored
 *                  at the next start; gw_state.h),
 *   state_key_file: PATH (required with state_file: a cr_seal key file,
 *                  48 bytes per key, the first one seals, readable by its
 *                  owner only; checked at validation),
 *   state_max_age (default 5m: an older state file is refused),
 *   state_seq_skip (default 1048576, 1..2^40: added to every restored
 *                  write sequence number; it covers the records a session
 *                  sent after a `save` while the gateway ran on),
 *   capture (default false: when true the gateway serves dpdk-pdump, a
 *                  DPDK secondary process; the EAL must then run with
 *                  hugepages and its shared config, gw_config_check_capture)
 * max_handshakes (default 4096) bounds the handshakes in progress (cookie
 * verified, not yet established) apart from max_sessions, so half-open
 * handshakes neither crowd out sessions nor the reverse: 4096 handshakes
 * at the engine's 60 s deadline still admit ~68 new handshakes a second.
 * max_handshakes_per_source (default 64, at most max_handshakes) stops one
 * client address (a NAT'd site, or one attacker with a real address) from
 * taking every slot.  Refusals are counted (DROP_CP_HS_MAX,
 * DROP_CP_HS_PER_SOURCE).
 * Durations are written with their unit: "250ms", "30s", "5m", "1h".  The
 * old names with "_ms" (idle_timeout_ms, ...; key_aliases below) still work,
 * a bare number there meaning milliseconds, and are reported as deprecated
 * (gw_config.warnings, logged at start).
 */
#include "gw_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <yaml.h>

#include "cr_seal.h"
#include "dp_addr.h"
#include "dp_ipv6.h"
#include "dp_replay.h"

/* ---- limits (units in the names) -------------------------------------- */
#define GW_CFG_FILE_MAX_BYTES           (1024 * 1024) /* larger config files are refused */
#define GW_CFG_KEY_PATH_MAX_LEN         96
#define GW_MAX_SESSIONS_LIMIT           (16u * 1024 * 1024)
#define GW_DURATION_MAX_MS              UINT32_MAX
#define GW_DEFAULT_LISTEN_PORT          4433
#define GW_DEFAULT_BACKEND_PORT         5683
#define GW_DEFAULT_IDLE_TIMEOUT_MS      300000u
#define GW_DEFAULT_NAT_PORT_MIN         20000
#define GW_DEFAULT_NAT_PORT_MAX         59999
#define GW_DEFAULT_MAX_SESSIONS         65536u
#define GW_DEFAULT_CONTROL_SOCKET       "/run/dtlsgw.sock"
#define GW_DEFAULT_COOKIE_ROTATE_MS     60000u
#define GW_COOKIE_ROTATE_MIN_MS         1000u
#define GW_DEFAULT_TICKET_LIFETIME_MS   (2u * 3600 * 1000)
#define GW_TICKET_LIFETIME_MAX_MS       (7u * 24 * 3600 * 1000) /* RFC 8446's cap, kept here */
#define GW_DEFAULT_TICKET_KEY_ROTATE_MS (12u * 3600 * 1000)
#define GW_TICKET_KEY_ROTATE_MIN_MS     60000u
#define GW_TICKET_RING_KEYS             4 /* == CR_SEAL_RING_MAX (gw_listeners.c asserts) */
#define GW_IPV4(a, b, c, d)                                                                        \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* ---- defaults ----------------------------------------------------------- */

static void port_default(struct gw_port_cfg *p, unsigned idx)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "net%u", idx);
    p->port_id = (uint16_t)idx;
    p->backend_udp_checksum = true;
}

static void listener_default(struct gw_listener_cfg *l, unsigned idx)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "listener%u", idx);
    l->ipv4 = GW_IPV4(10, 0, 0, 1);
    l->udp_port = GW_DEFAULT_LISTEN_PORT;
    l->backend_ipv4 = GW_IPV4(10, 0, 1, 2);
    l->backend_port = GW_DEFAULT_BACKEND_PORT;
    hs_params_default(&l->hs);
    l->psk_reload_ends_sessions = true;
    l->session_tickets = true;
    l->ticket_lifetime_ms = GW_DEFAULT_TICKET_LIFETIME_MS;
    l->session_cache = HS_SESSION_CACHE_DEFAULT_ENTRIES;
    l->replay_window_bits = DP_REPLAY_WIN_DEFAULT_BITS;
    l->idle_timeout_ms = GW_DEFAULT_IDLE_TIMEOUT_MS;
    l->nat_port_min = GW_DEFAULT_NAT_PORT_MIN;
    l->nat_port_max = GW_DEFAULT_NAT_PORT_MAX;
}

void gw_config_default(struct gw_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    port_default(&cfg->ports[0], 0);
    cfg->ports[0].ipv4 = GW_IPV4(10, 0, 0, 1);
    cfg->ports[0].prefix_len = 24;
    cfg->n_ports = 1;
    listener_default(&cfg->listeners[0], 0);
    cfg->n_listeners = 1;
    snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s", GW_DEFAULT_CONTROL_SOCKET);
    cfg->max_sessions = GW_DEFAULT_MAX_SESSIONS;
    cfg->max_handshakes = GW_DEFAULT_MAX_HANDSHAKES;
    cfg->max_handshakes_per_source = GW_DEFAULT_MAX_HS_PER_SOURCE;
    cfg->handshake_lcores = 1;
    cfg->stats_interval_ms = 0;
    cfg->cookie_rotate_ms = GW_DEFAULT_COOKIE_ROTATE_MS;
    cfg->checksum_offload = true;
    cfg->state_max_age_ms = GW_DEFAULT_STATE_MAX_AGE_MS;
    cfg->state_seq_skip = GW_DEFAULT_STATE_SEQ_SKIP;
    cfg->ticket_key_rotate_ms = GW_DEFAULT_TICKET_KEY_ROTATE_MS;
}

/* ---- parse state and error reporting ------------------------------------ */

struct parse {
    yaml_document_t *doc;
    const char *name;
    char *err;
    unsigned err_len;
    /* listeners whose `address` was given; others take ports[0]'s address */
    bool listener_addr_set[GW_MAX_LISTENERS];
    struct gw_config *out; /* where deprecation warnings go; NULL: nowhere */
    /* the key being handled is an old *_ms name: a bare number is ms */
    bool bare_ms;
    /* the key being handled as the file spells it (an old name stays old
     * in parse errors); the pair functions match its current name */
    const char *given;
};

static unsigned node_line(const yaml_node_t *n)
{
    return n ? (unsigned)n->start_mark.line + 1 : 0;
}

__attribute__((format(printf, 5, 6))) static int fail(struct parse *ps, unsigned line,
                                                      const char *key, int rc, const char *fmt, ...)
{
    if (ps->err && ps->err_len) {
        int n = snprintf(ps->err, ps->err_len, "%s:%u: %s: ", ps->name, line, key);
        if (n >= 0 && (unsigned)n < ps->err_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->err_len - (unsigned)n, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "an empty node";
    }
}

/* A scalar's text, NUL-terminated by libyaml.  Empty/null values are errors
 * for every key we have. */
CR_WUR static int scalar(struct parse *ps, const yaml_node_t *n, const char *key, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "expected a scalar, got %s",
                    node_kind(n));
    if (n->data.scalar.length == 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "missing value");
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "NUL byte in value");
    *out = (const char *)n->data.scalar.value;
    return 0;
}

/* Decimal only: a leading 0 is not octal here and signs are refused. */
CR_WUR static int parse_u64_text(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return CR_ERR_DECODE;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0')
        return CR_ERR_DECODE;
    *out = v;
    return 0;
}

CR_WUR static int get_uint(struct parse *ps, const yaml_node_t *n, const char *key, uint64_t min,
                           uint64_t max, uint64_t *out)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    uint64_t v;
    if (parse_u64_text(s, &v) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "'%s' is not a number", s);
    if (v < min || v > max)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "%s out of range %" PRIu64 "..%" PRIu64, s,
                    min, max);
    *out = v;
    return 0;
}

/* A duration with its unit: "250ms", "30s", "5m", "1h", into
 * milliseconds.  A bare number is accepted only under an old *_ms name
 * (ps->bare_ms), where it always meant milliseconds; "0" is the caller's
 * business (where it means "off"). */
CR_WUR static int get_duration_ms(struct parse *ps, const yaml_node_t *n, const char *key,
                                  uint64_t min, uint32_t *out)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    char digits[32];
    size_t nd = strspn(s, "0123456789");
    if (nd == 0 || nd >= sizeof(digits))
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not a duration (e.g. 250ms, 30s, 5m, 1h)", s);
    memcpy(digits, s, nd);
    digits[nd] = '\0';
    const char *unit = s + nd;
    if (*unit == '\0' && !ps->bare_ms)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' has no unit: write %sms, %ss or %sm", s, s, s, s);
    uint64_t mult;
    if (*unit == '\0' || strcmp(unit, "ms") == 0)
        mult = 1;
    else if (strcmp(unit, "s") == 0)
        mult = 1000;
    else if (strcmp(unit, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(unit, "h") == 0)
        mult = 3600 * 1000;
    else
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "'%s' has an unknown unit (ms, s, m, h)",
                    s);
    uint64_t v;
    if (parse_u64_text(digits, &v) < 0 || v > GW_DURATION_MAX_MS / mult)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "'%s' is too long", s);
    v *= mult;
    if (v < min)
        return fail(ps, node_line(n), key, CR_ERR_INVAL,
                    "'%s' is below the minimum of %" PRIu64 " ms", s, min);
    *out = (uint32_t)v;
    return 0;
}

/* YAML 1.1 booleans. */
CR_WUR static int get_bool(struct parse *ps, const yaml_node_t *n, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return fail(ps, node_line(n), key, CR_ERR_DECODE, "'%s' is not a boolean (true/false)", s);
}

CR_WUR static int get_string(struct parse *ps, const yaml_node_t *n, const char *key, char *dst,
                             size_t dst_len)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    if (strlen(s) >= dst_len)
        return fail(ps, node_line(n), key, CR_ERR_LIMIT, "value longer than %zu bytes",
                    dst_len - 1);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

CR_WUR static int ipv4_text(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return CR_ERR_DECODE;
    *out = ntohl(a.s_addr);
    return 0;
}

CR_WUR static int get_ipv4(struct parse *ps, const yaml_node_t *n, const char *key, uint32_t *out)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    if (ipv4_text(s, out) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "'%s' is not an IPv4 address (A.B.C.D)",
                    s);
    return 0;
}

/* Splits "A.B.C.D<sep>NUMBER" (sep: the last occurrence) into the address
 * and the number; -1 when either part is malformed. */
static int ipv4_and_number(const char *s, char sep, uint32_t *out_ip, uint64_t *out_num)
{
    const char *at = strrchr(s, sep);
    char ip[INET_ADDRSTRLEN];
    if (!at || (size_t)(at - s) >= sizeof(ip))
        return -1;
    memcpy(ip, s, (size_t)(at - s));
    ip[at - s] = '\0';
    if (ipv4_text(ip, out_ip) < 0 || parse_u64_text(at + 1, out_num) < 0)
        return -1;
    return 0;
}

/* nat_addresses: "A.B.C.D-E.F.G.H", "A.B.C.D" or a count N (from the
 * port's address on), at most GW_MAX_NAT_ADDRESSES addresses. */
CR_WUR static int get_nat_addresses(struct parse *ps, const yaml_node_t *n, const char *key,
                                    struct gw_port_cfg *p)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    uint64_t count;
    uint32_t lo, hi;
    char lo_s[INET_ADDRSTRLEN];
    const char *dash = strchr(s, '-');
    p->nat_from_address = false;
    if (parse_u64_text(s, &count) == 0) {
        if (count < 1 || count > GW_MAX_NAT_ADDRESSES)
            return fail(ps, node_line(n), key, CR_ERR_INVAL, "%s addresses out of range 1..%d", s,
                        GW_MAX_NAT_ADDRESSES);
        p->nat_from_address = true;
        p->n_nat = (uint32_t)count;
        return 0;
    }
    if (dash == NULL) {
        CR_GUARD(get_ipv4(ps, n, key, &lo));
        p->nat_first = lo;
        p->n_nat = 1;
        return 0;
    }
    if ((size_t)(dash - s) >= sizeof(lo_s))
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an address range (A.B.C.D-E.F.G.H)", s);
    memcpy(lo_s, s, (size_t)(dash - s));
    lo_s[dash - s] = '\0';
    if (ipv4_text(lo_s, &lo) < 0 || ipv4_text(dash + 1, &hi) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an address range (A.B.C.D-E.F.G.H)", s);
    if (hi < lo)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "'%s': the range is empty (first > last)",
                    s);
    if (hi - lo >= GW_MAX_NAT_ADDRESSES)
        return fail(ps, node_line(n), key, CR_ERR_LIMIT, "'%s' holds %llu addresses, at most %d", s,
                    (unsigned long long)hi - lo + 1, GW_MAX_NAT_ADDRESSES);
    p->nat_first = lo;
    p->n_nat = hi - lo + 1;
    return 0;
}

/* "A.B.C.D/N" with N in 1..32. */
CR_WUR static int get_ipv4_prefix(struct parse *ps, const yaml_node_t *n, const char *key,
                                  uint32_t *out_ip, uint8_t *out_prefix)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    uint64_t plen = 0;
    if (ipv4_and_number(s, '/', out_ip, &plen) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an address with prefix (A.B.C.D/N)", s);
    if (plen < 1 || plen > 32)
        return fail(ps, node_line(n), key, CR_ERR_INVAL,
                    "prefix length /%" PRIu64 " out of range 1..32", plen);
    *out_prefix = (uint8_t)plen;
    return 0;
}

/* Why the gateway cannot exchange datagrams with a, as a port's own
 * address, a next hop or a backend: NULL when it can (RFC 4291): the
 * unspecified address (§2.5.2) and loopback (§2.5.3) are no peer on a
 * link, a multicast address (§2.7) is never a source nor a single peer,
 * an IPv4-mapped one (§2.5.5.2) never appears on the wire (an IPv4 peer
 * is written as IPv4), and a link-local one (§2.5.6) only where
 * link_local_ok: the gateway has no zone index (RFC 4007 §11) to say on
 * which link it lies. */
static const char *ipv6_unusable(const uint8_t *a, bool link_local_ok)
{
    if (dp_ipv6_is_unspecified(a))
        return "the unspecified address";
    if (dp_ipv6_is_loopback(a))
        return "the loopback address";
    if (dp_ipv6_is_multicast(a))
        return "a multicast address";
    if (dp_ipv6_is_v4_mapped(a))
        return "an IPv4-mapped address (write the IPv4 address itself)";
    if (!link_local_ok && dp_ipv6_is_link_local(a))
        return "link-local (no zone/scope support: give a global address)";
    return NULL;
}

/* An IPv6 literal (RFC 4291 §2.2, no zone) into out (16 bytes). */
CR_WUR static int get_ipv6(struct parse *ps, const yaml_node_t *n, const char *key, uint8_t *out)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    if (inet_pton(AF_INET6, s, out) != 1)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an IPv6 address (e.g. 2001:db8::1)", s);
    return 0;
}

/* gateway6: a unicast next hop; link-local is the usual router address
 * (RFC 4861 §8) and gw_nd resolves it on the port, from the port's own
 * link-local address. */
CR_WUR static int get_ipv6_gateway(struct parse *ps, const yaml_node_t *n, const char *key,
                                   uint8_t *out)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    CR_GUARD(get_ipv6(ps, n, key, out));
    const char *why = ipv6_unusable(out, true);
    if (why != NULL)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "'%s' is %s: not a next hop", s, why);
    return 0;
}

/* "IPV6/N" with N in 1..128: a global unicast address for a port (not
 * unspecified, loopback, multicast, IPv4-mapped or link-local: the
 * link-local one is derived from the MAC). */
CR_WUR static int get_ipv6_prefix(struct parse *ps, const yaml_node_t *n, const char *key,
                                  uint8_t *out_ip, uint8_t *out_prefix)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    const char *at = strrchr(s, '/');
    char ip[INET6_ADDRSTRLEN];
    uint64_t plen = 0;
    if (!at || (size_t)(at - s) >= sizeof(ip))
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an IPv6 address with prefix (e.g. 2001:db8::1/64)", s);
    memcpy(ip, s, (size_t)(at - s));
    ip[at - s] = '\0';
    if (inet_pton(AF_INET6, ip, out_ip) != 1 || parse_u64_text(at + 1, &plen) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an IPv6 address with prefix (e.g. 2001:db8::1/64)", s);
    if (plen < 1 || plen > 128)
        return fail(ps, node_line(n), key, CR_ERR_INVAL,
                    "prefix length /%" PRIu64 " out of range 1..128", plen);
    const char *why = ipv6_unusable(out_ip, false);
    if (why != NULL)
        return fail(ps, node_line(n), key, CR_ERR_INVAL,
                    "'%s' is not a unicast global address (%s; the link-local one comes from the "
                    "MAC)",
                    ip, why);
    *out_prefix = (uint8_t)plen;
    return 0;
}

/* "A.B.C.D:P" with P in 1..65535. */
CR_WUR static int get_ipv4_port(struct parse *ps, const yaml_node_t *n, const char *key,
                                uint32_t *out_ip, uint16_t *out_port)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    uint64_t port = 0;
    if (ipv4_and_number(s, ':', out_ip, &port) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not an address and port (A.B.C.D:PORT)", s);
    if (port < 1 || port > 65535)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "port %" PRIu64 " out of range 1..65535",
                    port);
    *out_port = (uint16_t)port;
    return 0;
}

/* "LO-HI", 1 <= LO <= HI <= 65535. */
CR_WUR static int get_port_range(struct parse *ps, const yaml_node_t *n, const char *key,
                                 uint16_t *out_lo, uint16_t *out_hi)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    const char *dash = strchr(s, '-');
    char lo_s[8];
    uint64_t lo, hi;
    if (!dash || (size_t)(dash - s) >= sizeof(lo_s))
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "'%s' is not a range (LO-HI)", s);
    memcpy(lo_s, s, (size_t)(dash - s));
    lo_s[dash - s] = '\0';
    if (parse_u64_text(lo_s, &lo) < 0 || parse_u64_text(dash + 1, &hi) < 0)
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "'%s' is not a range (LO-HI)", s);
    if (lo < 1 || hi > 65535 || lo > hi)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "'%s' must satisfy 1 <= LO <= HI <= 65535",
                    s);
    *out_lo = (uint16_t)lo;
    *out_hi = (uint16_t)hi;
    return 0;
}

CR_WUR static int get_client_auth(struct parse *ps, const yaml_node_t *n, const char *key,
                                  enum hs_client_auth *out)
{
    const char *s;
    CR_GUARD(scalar(ps, n, key, &s));
    if (strcmp(s, "none") == 0)
        *out = HS_CLIENT_AUTH_NONE;
    else if (strcmp(s, "optional") == 0)
        *out = HS_CLIENT_AUTH_OPTIONAL;
    else if (strcmp(s, "require") == 0)
        *out = HS_CLIENT_AUTH_REQUIRE;
    else
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "'%s' is not one of none, optional, require", s);
    return 0;
}

/* A list of suite names / hex codes, or one "A:B:C" string, parsed by the
 * engine's hs_suite_list_parse(). */
CR_WUR static int get_suites(struct parse *ps, const yaml_node_t *n, const char *key,
                             struct hs_params *hs)
{
    uint16_t ids[HS_MAX_SUITES];
    unsigned n_ids = 0;
    const yaml_node_t *items[HS_MAX_SUITES + 1];
    unsigned n_items = 0;

    if (n->type == YAML_SCALAR_NODE) {
        items[n_items++] = n;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            const yaml_node_t *item = yaml_document_get_node(ps->doc, *it);
            if (n_items == HS_MAX_SUITES)
                return fail(ps, node_line(item), key, CR_ERR_LIMIT, "more than %d suites",
                            HS_MAX_SUITES);
            items[n_items++] = item;
        }
    } else {
        return fail(ps, node_line(n), key, CR_ERR_DECODE, "expected a list of suite names, got %s",
                    node_kind(n));
    }
    if (n_items == 0)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "empty suite list");

    for (unsigned i = 0; i < n_items; i++) {
        const char *s;
        CR_GUARD(scalar(ps, items[i], key, &s));
        int got = hs_suite_list_parse(s, ids + n_ids, HS_MAX_SUITES - n_ids);
        if (got <= 0)
            return fail(ps, node_line(items[i]), key, CR_ERR_UNSUPPORTED,
                        "unknown or unsupported cipher suite in '%s'", s);
        for (unsigned j = n_ids; j < n_ids + (unsigned)got; j++)
            for (unsigned k = 0; k < j; k++)
                if (ids[k] == ids[j])
                    return fail(ps, node_line(items[i]), key, CR_ERR_INVAL,
                                "suite 0x%04X listed twice", ids[j]);
        n_ids += (unsigned)got;
    }
    memcpy(hs->suites, ids, n_ids * sizeof(ids[0]));
    hs->n_suites = n_ids;
    return 0;
}

/* ---- mapping walker ------------------------------------------------------ */

/* Calls fn(key_text, key_node, value_node) for each pair; rejects non-scalar
 * and duplicate keys. */
typedef int (*pair_fn)(struct parse *ps, void *obj, const char *path, const char *k,
                       const yaml_node_t *kn, const yaml_node_t *v);

/* Old key names that carried a unit ("_ms") while taking any duration
 * ("idle_timeout_ms: 300s"): they keep working, with a bare number in
 * milliseconds as before, and each use is reported as deprecated. */
static const struct {
    const char *old_name, *new_name;
} key_aliases[] = {
    {"retransmit_initial_ms", "retransmit_initial"},
    {"retransmit_max_ms", "retransmit_max"},
    {"idle_timeout_ms", "idle_timeout"},
    {"handshake_timeout_ms", "handshake_timeout"},
    {"stats_interval_ms", "stats_interval"},
    {"cookie_rotate_ms", "cookie_rotate"},
};

/* The current name of key k (k itself unless it is an old alias). */
static const char *canonical_key(const char *k, bool *deprecated)
{
    for (size_t i = 0; i < sizeof(key_aliases) / sizeof(key_aliases[0]); i++)
        if (strcmp(k, key_aliases[i].old_name) == 0) {
            *deprecated = true;
            return key_aliases[i].new_name;
        }
    *deprecated = false;
    return k;
}

static void warn_deprecated(struct parse *ps, unsigned line, const char *full, const char *now)
{
    struct gw_config *c = ps->out;
    if (!c || c->n_warnings >= GW_MAX_WARNINGS)
        return;
    snprintf(c->warnings[c->n_warnings++], GW_ERR_MAX_LEN,
             "%s:%u: %s: deprecated name, use '%s' (same value; a bare number there needs a "
             "unit: 250ms, 30s, 5m)",
             ps->name, line, full, now);
}

CR_WUR static int walk_mapping(struct parse *ps, const yaml_node_t *map, const char *path,
                               void *obj, pair_fn fn)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(ps, node_line(map), path, CR_ERR_DECODE, "expected a mapping, got %s",
                    node_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = yaml_document_get_node(ps->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(ps->doc, p->value);
        if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
            return fail(ps, node_line(kn ? kn : map), path, CR_ERR_DECODE,
                        "keys must be plain words");
        const char *given = (const char *)kn->data.scalar.value;
        bool deprecated, q_deprecated;
        const char *k = canonical_key(given, &deprecated);
        char full[GW_CFG_KEY_PATH_MAX_LEN];
        snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "", given);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const yaml_node_t *qk = yaml_document_get_node(ps->doc, q->key);
            if (!qk || qk->type != YAML_SCALAR_NODE)
                continue;
            const char *qgiven = (const char *)qk->data.scalar.value;
            if (strcmp(canonical_key(qgiven, &q_deprecated), k) != 0)
                continue;
            if (strcmp(qgiven, given) == 0)
                return fail(ps, node_line(kn), full, CR_ERR_DECODE,
                            "duplicate key (first at line %u)", node_line(qk));
            return fail(ps, node_line(kn), full, CR_ERR_DECODE,
                        "the same setting as '%s' at line %u (old and new name)", qgiven,
                        node_line(qk));
        }
        if (deprecated)
            warn_deprecated(ps, node_line(kn), full, k);
        ps->bare_ms = deprecated;
        ps->given = given;
        int rc = fn(ps, obj, path, k, kn, vn);
        ps->bare_ms = false;
        ps->given = NULL;
        CR_GUARD(rc);
    }
    return 0;
}

#define KEY_PATH(buf, path, k)                                                                     \
    snprintf((buf), sizeof(buf), "%s%s%s", (path), *(path) ? "." : "", ps->given ? ps->given : (k))

CR_WUR static int unknown_key(struct parse *ps, const char *full, const yaml_node_t *kn)
{
    return fail(ps, node_line(kn), full, CR_ERR_DECODE, "unknown key");
}

/* ---- a listener's certs list --------------------------------------------- */

CR_WUR static int cert_pair(struct parse *ps, void *obj, const char *path, const char *k,
                            const yaml_node_t *kn, const yaml_node_t *v)
{
    struct gw_cert_cfg *c = obj;
    char full[GW_CFG_KEY_PATH_MAX_LEN];
    KEY_PATH(full, path, k);

    if (strcmp(k, "cert") == 0) {
        c->cert_line = node_line(kn);
        return get_string(ps, v, full, c->cert_file, sizeof(c->cert_file));
    }
    if (strcmp(k, "key") == 0) {
        c->key_line = node_line(kn);
        return get_string(ps, v, full, c->key_file, sizeof(c->key_file));
    }
    return unknown_key(ps, full, kn);
}

/* `certs: [{cert: PATH, key: PATH}, ...]`: 1..GW_MAX_LISTENER_CERTS
 * entries, each with both keys (how many cert/cert2 add is checked by
 * gw_config_validate). */
CR_WUR static int get_certs(struct parse *ps, const yaml_node_t *n, const char *key,
                            struct gw_listener_cfg *l)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ps, node_line(n), key, CR_ERR_DECODE,
                    "expected a list of {cert: PATH, key: PATH}, got %s", node_kind(n));
    unsigned i = 0;
    memset(l->certs, 0, sizeof(l->certs));
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        const yaml_node_t *e = yaml_document_get_node(ps->doc, *it);
        char path[GW_CFG_KEY_PATH_MAX_LEN + 16];
        snprintf(path, sizeof(path), "%s[%u]", key, i);
        if (i == GW_MAX_LISTENER_CERTS)
            return fail(ps, node_line(e), path, CR_ERR_LIMIT,
                        "more than %d certificates (one per key type: ECDSA P-256, ECDSA P-384, "
                        "RSA)",
                        GW_MAX_LISTENER_CERTS);
        struct gw_cert_cfg *c = &l->certs[i];
        c->src_line = node_line(e);
        CR_GUARD(walk_mapping(ps, e, path, c, cert_pair));
        if (!c->cert_file[0] || !c->key_file[0])
            return fail(ps, node_line(e), path, CR_ERR_INVAL, "missing required key '%s'",
                        c->cert_file[0] ? "key" : "cert");
    }
    if (i == 0)
        return fail(ps, node_line(n), key, CR_ERR_INVAL, "empty certificate list");
    l->n_certs = i;
    return 0;
}

/* ---- ports ------------------------------------------------------------- */

struct port_ctx {
    struct gw_port_cfg *p;
    bool addr_set;
};

#define GW_KEY_NAME(name, str) str,
static const char *const port_line_keys[GW_PKEY_N] = {GW_PORT_LINE_KEYS(GW_KEY_NAME)};
static const char *const listener_line_keys[GW_LKEY_N] = {GW_LISTENER_LINE_KEYS(GW_KEY_NAME)};
static const char *const top_line_keys[GW_TKEY_N] = {GW_TOP_LINE_KEYS(GW_KEY_NAME)};
#undef GW_KEY_NAME

/* Remembers the line of key k when validation may talk about it. */
static void note_key_line(const char *const *names, unsigned n, uint32_t *lines, const char *k,
                          const yaml_node_t *kn)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(k, names[i]) == 0)
            lines[i] = node_line(kn);
}

CR_WUR static int port_pair(struct parse *ps, void *obj, const char *path, const char *k,
                            const yaml_node_t *kn, const yaml_node_t *v)
{
    struct port_ctx *pc = obj;
    struct gw_port_cfg *p = pc->p;
    note_key_line(port_line_keys, GW_PKEY_N, p->key_line, k, kn);
    char full[GW_CFG_KEY_PATH_MAX_LEN];
    KEY_PATH(full, path, k);
    uint64_t u;

    if (strcmp(k, "name") == 0)
        return get_string(ps, v, full, p->name, sizeof(p->name));
    if (strcmp(k, "port_id") == 0) {
        CR_GUARD(get_uint(ps, v, full, 0, UINT16_MAX, &u));
        p->port_id = (uint16_t)u;
        return 0;
    }
    if (strcmp(k, "address") == 0) {
        CR_GUARD(get_ipv4_prefix(ps, v, full, &p->ipv4, &p->prefix_len));
        pc->addr_set = true;
        return 0;
    }
    if (strcmp(k, "gateway") == 0)
        return get_ipv4(ps, v, full, &p->gateway_ipv4);
    if (strcmp(k, "address6") == 0) {
        CR_GUARD(get_ipv6_prefix(ps, v, full, p->ipv6, &p->prefix6_len));
        p->has_ipv6 = true;
        return 0;
    }
    if (strcmp(k, "gateway6") == 0) {
        CR_GUARD(get_ipv6_gateway(ps, v, full, p->gateway6));
        p->has_gateway6 = true;
        return 0;
    }
    if (strcmp(k, "promiscuous") == 0)
        return get_bool(ps, v, full, &p->promiscuous);
    if (strcmp(k, "backend_udp_checksum") == 0)
        return get_bool(ps, v, full, &p->backend_udp_checksum);
    if (strcmp(k, "nat_addresses") == 0)
        return get_nat_addresses(ps, v, full, p);
    return unknown_key(ps, full, kn);
}

/* ---- listeners ----------------------------------------------------------- */

CR_WUR static int listener_pair(struct parse *ps, void *obj, const char *path, const char *k,
                                const yaml_node_t *kn, const yaml_node_t *v)
{
    struct gw_listener_cfg *l = obj;
    char full[GW_CFG_KEY_PATH_MAX_LEN];
    KEY_PATH(full, path, k);
    uint64_t u;

    if (strcmp(k, "name") == 0)
        return get_string(ps, v, full, l->name, sizeof(l->name));
    if (strcmp(k, "port") == 0) {
        CR_GUARD(get_uint(ps, v, full, 1, UINT16_MAX, &u));
        l->udp_port = (uint16_t)u;
        return 0;
    }
    if (strcmp(k, "backend") == 0) {
        const char *bs;
        CR_GUARD(scalar(ps, v, full, &bs));
        if (bs[0] == '[') {
            struct dp_addr a;
            uint16_t port = 0;
            if (!dp_addr_port_parse(bs, &a, &port))
                return fail(ps, node_line(v), full, CR_ERR_DECODE,
                            "'%s' is not an IPv6 address and port ([2001:db8::2]:PORT)", bs);
            const char *why = ipv6_unusable(a.u.v6, false);
            if (why != NULL)
                return fail(ps, node_line(v), full, CR_ERR_INVAL,
                            "'%s': the address is %s, no backend the gateway can answer", bs, why);
            l->backend_is_v6 = true;
            memcpy(l->backend_ipv6, a.u.v6, 16);
            l->backend_ipv4 = 0;
            l->backend_port = port;
            return 0;
        }
        l->backend_is_v6 = false;
        return get_ipv4_port(ps, v, full, &l->backend_ipv4, &l->backend_port);
    }
    if (strcmp(k, "cert") == 0)
        return get_string(ps, v, full, l->cert_file, sizeof(l->cert_file));
    if (strcmp(k, "key") == 0)
        return get_string(ps, v, full, l->key_file, sizeof(l->key_file));
    if (strcmp(k, "cert2") == 0)
        return get_string(ps, v, full, l->cert2_file, sizeof(l->cert2_file));
    if (strcmp(k, "key2") == 0)
        return get_string(ps, v, full, l->key2_file, sizeof(l->key2_file));
    if (strcmp(k, "certs") == 0)
        return get_certs(ps, v, full, l);
    if (strcmp(k, "psk_file") == 0)
        return get_string(ps, v, full, l->psk_file, sizeof(l->psk_file));
    if (strcmp(k, "ca_file") == 0)
        return get_string(ps, v, full, l->ca_file, sizeof(l->ca_file));
    if (strcmp(k, "client_auth") == 0)
        return get_client_auth(ps, v, full, &l->hs.client_auth);
    if (strcmp(k, "suites") == 0)
        return get_suites(ps, v, full, &l->hs);
    if (strcmp(k, "mtu") == 0) {
        CR_GUARD(get_uint(ps, v, full, HS_MTU_MIN_BYTES, HS_MTU_MAX_BYTES, &u));
        l->hs.mtu_bytes = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "cookie") == 0)
        return get_bool(ps, v, full, &l->hs.cookie_required);
    if (strcmp(k, "require_ems") == 0)
        return get_bool(ps, v, full, &l->hs.require_ems);
    if (strcmp(k, "psk_reload_ends_sessions") == 0)
        return get_bool(ps, v, full, &l->psk_reload_ends_sessions);
    if (strcmp(k, "session_tickets") == 0)
        return get_bool(ps, v, full, &l->session_tickets);
    if (strcmp(k, "ticket_lifetime") == 0)
        return get_duration_ms(ps, v, full, 1000, &l->ticket_lifetime_ms);
    if (strcmp(k, "ticket_key_file") == 0)
        return get_string(ps, v, full, l->ticket_key_file, sizeof(l->ticket_key_file));
    if (strcmp(k, "session_cache") == 0) {
        CR_GUARD(get_uint(ps, v, full, 0, HS_SESSION_CACHE_MAX_ENTRIES, &u));
        l->session_cache = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "replay_window") == 0) {
        CR_GUARD(get_uint(ps, v, full, DP_REPLAY_WIN_MIN_BITS, DP_REPLAY_WIN_MAX_BITS, &u));
        if (u % 64 != 0)
            return fail(ps, node_line(v), full, CR_ERR_INVAL, "%" PRIu64 " is not a multiple of 64",
                        u);
        l->replay_window_bits = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "retransmit_initial") == 0)
        return get_duration_ms(ps, v, full, 1, &l->hs.retrans_initial_ms);
    if (strcmp(k, "retransmit_max") == 0)
        return get_duration_ms(ps, v, full, 1, &l->hs.retrans_max_ms);
    if (strcmp(k, "idle_timeout") == 0)
        return get_duration_ms(ps, v, full, 1, &l->idle_timeout_ms);
    if (strcmp(k, "handshake_timeout") == 0)
        return get_duration_ms(ps, v, full, 1, &l->hs.handshake_deadline_ms);
    if (strcmp(k, "bad_mac_limit") == 0) {
        CR_GUARD(get_uint(ps, v, full, 0, UINT32_MAX, &u));
        l->hs.bad_mac_limit = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "nat_ports") == 0)
        return get_port_range(ps, v, full, &l->nat_port_min, &l->nat_port_max);
    return unknown_key(ps, full, kn);
}

/* ---- lists of entries ------------------------------------------------------ */

/* One entry of a list: fills entry idx of the config from mapping e. */
typedef int (*list_entry_fn)(struct parse *ps, struct gw_config *cfg, unsigned idx,
                             const yaml_node_t *e, const char *path);

/* Walks the list `name` (e.g. "ports") of at most max entries, each a
 * mapping handed to entry(); at least one entry is required. */
CR_WUR static int walk_list(struct parse *ps, struct gw_config *cfg, const yaml_node_t *seq,
                            const char *name, const char *noun, unsigned max, list_entry_fn entry,
                            unsigned *out_n)
{
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail(ps, node_line(seq), name, CR_ERR_DECODE, "expected a list, got %s",
                    node_kind(seq));
    unsigned n = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, n++) {
        const yaml_node_t *e = yaml_document_get_node(ps->doc, *it);
        char path[GW_CFG_KEY_PATH_MAX_LEN];
        snprintf(path, sizeof(path), "%s[%u]", name, n);
        if (n == max)
            return fail(ps, node_line(e), path, CR_ERR_LIMIT, "more than %u %ss", max, noun);
        CR_GUARD(entry(ps, cfg, n, e, path));
    }
    if (n == 0)
        return fail(ps, node_line(seq), name, CR_ERR_INVAL, "at least one %s needed", noun);
    *out_n = n;
    return 0;
}

CR_WUR static int port_entry(struct parse *ps, struct gw_config *cfg, unsigned idx,
                             const yaml_node_t *e, const char *path)
{
    struct port_ctx pc = {.p = &cfg->ports[idx]};
    port_default(pc.p, idx);
    pc.p->src_line = node_line(e);
    CR_GUARD(walk_mapping(ps, e, path, &pc, port_pair));
    if (!pc.addr_set)
        return fail(ps, node_line(e), path, CR_ERR_INVAL,
                    "missing required key 'address' (A.B.C.D/N)");
    return 0;
}

CR_WUR static int load_ports(struct parse *ps, struct gw_config *cfg, const yaml_node_t *seq)
{
    return walk_list(ps, cfg, seq, "ports", "port", GW_MAX_PORTS, port_entry, &cfg->n_ports);
}

struct listener_ctx {
    struct gw_listener_cfg *l;
    unsigned idx;
};

CR_WUR static int listener_pair_idx(struct parse *ps, void *obj, const char *path, const char *k,
                                    const yaml_node_t *kn, const yaml_node_t *v)
{
    struct listener_ctx *lc = obj;
    note_key_line(listener_line_keys, GW_LKEY_N, lc->l->key_line, k, kn);
    if (strcmp(k, "address") == 0) {
        char full[GW_CFG_KEY_PATH_MAX_LEN];
        KEY_PATH(full, path, k);
        const char *as;
        CR_GUARD(scalar(ps, v, full, &as));
        if (strchr(as, ':') != NULL) {
            CR_GUARD(get_ipv6(ps, v, full, lc->l->ipv6));
            lc->l->has_ipv6 = true;
            lc->l->ipv4 = 0;
        } else {
            CR_GUARD(get_ipv4(ps, v, full, &lc->l->ipv4));
            lc->l->has_ipv6 = false;
        }
        ps->listener_addr_set[lc->idx] = true;
        return 0;
    }
    return listener_pair(ps, lc->l, path, k, kn, v);
}

CR_WUR static int listener_entry(struct parse *ps, struct gw_config *cfg, unsigned idx,
                                 const yaml_node_t *e, const char *path)
{
    struct listener_ctx lc = {.l = &cfg->listeners[idx], .idx = idx};
    listener_default(lc.l, idx);
    lc.l->src_line = node_line(e);
    ps->listener_addr_set[idx] = false;
    return walk_mapping(ps, e, path, &lc, listener_pair_idx);
}

CR_WUR static int load_listeners(struct parse *ps, struct gw_config *cfg, const yaml_node_t *seq)
{
    return walk_list(ps, cfg, seq, "listeners", "listener", GW_MAX_LISTENERS, listener_entry,
                     &cfg->n_listeners);
}

/* ---- top level ----------------------------------------------------------- */

struct top_ctx {
    struct gw_config *cfg;
    bool listeners_seen;
};

CR_WUR static int top_pair(struct parse *ps, void *obj, const char *path, const char *k,
                           const yaml_node_t *kn, const yaml_node_t *v)
{
    struct top_ctx *tc = obj;
    struct gw_config *cfg = tc->cfg;
    (void)path;
    uint64_t u;
    note_key_line(top_line_keys, GW_TKEY_N, cfg->key_line, k, kn);

    if (strcmp(k, "ports") == 0)
        return load_ports(ps, cfg, v);
    if (strcmp(k, "listeners") == 0) {
        tc->listeners_seen = true;
        return load_listeners(ps, cfg, v);
    }
    if (strcmp(k, "control_socket") == 0) {
        struct sockaddr_un sun;
        return get_string(ps, v, k, cfg->control_socket,
                          sizeof(cfg->control_socket) < sizeof(sun.sun_path)
                              ? sizeof(cfg->control_socket)
                              : sizeof(sun.sun_path));
    }
    if (strcmp(k, "max_sessions") == 0) {
        CR_GUARD(get_uint(ps, v, k, 1, GW_MAX_SESSIONS_LIMIT, &u));
        cfg->max_sessions = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "max_handshakes") == 0) {
        CR_GUARD(get_uint(ps, v, k, 1, GW_MAX_HANDSHAKES_LIMIT, &u));
        cfg->max_handshakes = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "max_handshakes_per_source") == 0) {
        CR_GUARD(get_uint(ps, v, k, 1, GW_MAX_HANDSHAKES_LIMIT, &u));
        cfg->max_handshakes_per_source = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "handshake_lcores") == 0) {
        CR_GUARD(get_uint(ps, v, k, 1, GW_MAX_HANDSHAKE_LCORES, &u));
        cfg->handshake_lcores = (uint32_t)u;
        return 0;
    }
    if (strcmp(k, "stats_interval") == 0) {
        const char *s;
        CR_GUARD(scalar(ps, v, ps->given, &s));
        if (strcmp(s, "0") == 0) {
            cfg->stats_interval_ms = 0;
            return 0;
        }
        return get_duration_ms(ps, v, ps->given, 1, &cfg->stats_interval_ms);
    }
    if (strcmp(k, "checksum_offload") == 0)
        return get_bool(ps, v, k, &cfg->checksum_offload);
    if (strcmp(k, "capture") == 0)
        return get_bool(ps, v, k, &cfg->capture);
    if (strcmp(k, "ticket_key_file") == 0)
        return get_string(ps, v, k, cfg->ticket_key_file, sizeof(cfg->ticket_key_file));
    if (strcmp(k, "ticket_key_rotate") == 0)
        return get_duration_ms(ps, v, k, GW_TICKET_KEY_ROTATE_MIN_MS, &cfg->ticket_key_rotate_ms);
    if (strcmp(k, "metrics_listen") == 0) {
        const char *s;
        CR_GUARD(scalar(ps, v, k, &s));
        if (strcmp(s, "off") == 0) {
            cfg->metrics_ipv4 = 0;
            cfg->metrics_port = 0;
            return 0;
        }
        return get_ipv4_port(ps, v, k, &cfg->metrics_ipv4, &cfg->metrics_port);
    }
    if (strcmp(k, "cookie_rotate") == 0)
        return get_duration_ms(ps, v, ps->given, GW_COOKIE_ROTATE_MIN_MS, &cfg->cookie_rotate_ms);
    if (strcmp(k, "state_file") == 0)
        return get_string(ps, v, k, cfg->state_file, sizeof(cfg->state_file));
    if (strcmp(k, "state_key_file") == 0)
        return get_string(ps, v, k, cfg->state_key_file, sizeof(cfg->state_key_file));
    if (strcmp(k, "state_max_age") == 0)
        return get_duration_ms(ps, v, k, 1000, &cfg->state_max_age_ms);
    if (strcmp(k, "state_seq_skip") == 0)
        return get_uint(ps, v, k, 1, GW_STATE_SEQ_SKIP_MAX, &cfg->state_seq_skip);
    return unknown_key(ps, k, kn);
}

CR_WUR static int load_parser(struct gw_config *cfg, yaml_parser_t *parser, const char *name,
                              char *err, unsigned err_len)
{
    struct parse ps = {.name = name, .err = err, .err_len = err_len};
    yaml_document_t doc;
    int rc;

    if (err && err_len)
        err[0] = '\0';
    if (!yaml_parser_load(parser, &doc)) {
        const char *what = parser->problem ? parser->problem : "syntax error";
        unsigned line = (unsigned)parser->problem_mark.line + 1;
        if (parser->context)
            return fail(&ps, line, "yaml", CR_ERR_DECODE, "%s %s", what, parser->context);
        return fail(&ps, line, "yaml", CR_ERR_DECODE, "%s", what);
    }
    ps.doc = &doc;
    struct gw_config tmp; /* cfg stays untouched on error */
    memcpy(&tmp, cfg, sizeof(tmp));
    tmp.n_warnings = 0;
    ps.out = &tmp;
    snprintf(tmp.source, sizeof(tmp.source), "%s", name);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) { /* empty file: all defaults */
        rc = 0;
        goto done;
    }
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
        rc = 0; /* a document with only comments */
        goto done;
    }
    struct top_ctx tc = {.cfg = &tmp};
    for (unsigned i = 0; i < GW_MAX_LISTENERS; i++)
        ps.listener_addr_set[i] = true; /* defaults keep their address */
    CR_GUARD_GOTO(walk_mapping(&ps, root, "", &tc, top_pair), out);

    /* A second document in the same file is a mistake, not ignored. */
    yaml_document_t doc2;
    if (!yaml_parser_load(parser, &doc2)) {
        rc = fail(&ps, (unsigned)parser->problem_mark.line + 1, "yaml", CR_ERR_DECODE, "%s",
                  parser->problem ? parser->problem : "syntax error");
        goto out;
    }
    yaml_node_t *root2 = yaml_document_get_root_node(&doc2);
    unsigned line2 = root2 ? node_line(root2) : 0;
    yaml_document_delete(&doc2);
    if (root2) {
        rc = fail(&ps, line2, "yaml", CR_ERR_DECODE, "more than one document (only one allowed)");
        goto out;
    }
    /* Listeners without an address listen on the first port's address. */
    for (unsigned i = 0; i < tmp.n_listeners; i++)
        if (tc.listeners_seen && !ps.listener_addr_set[i])
            tmp.listeners[i].ipv4 = tmp.ports[0].ipv4;
    rc = 0;
done:
    memcpy(cfg, &tmp, sizeof(tmp));
out:
    yaml_document_delete(&doc);
    return rc;
}

int gw_config_load_string(struct gw_config *cfg, const char *yaml, const char *name, char *err,
                          unsigned err_len)
{
    if (!cfg || !yaml)
        return CR_ERR_INVAL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return CR_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    int rc = load_parser(cfg, &parser, name ? name : "<string>", err, err_len);
    yaml_parser_delete(&parser);
    return rc;
}

int gw_config_load(struct gw_config *cfg, const char *path, char *err, unsigned err_len)
{
    struct parse ps = {.name = path, .err = err, .err_len = err_len};
    if (!cfg || !path)
        return CR_ERR_INVAL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(&ps, 0, "config", CR_ERR_IO, "cannot open: %s", strerror(errno));
    char *buf = malloc(GW_CFG_FILE_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return CR_ERR_NOMEM;
    }
    size_t n = fread(buf, 1, GW_CFG_FILE_MAX_BYTES + 1, f);
    int read_err = ferror(f);
    fclose(f);
    int rc;
    if (read_err)
        rc = fail(&ps, 0, "config", CR_ERR_IO, "read error");
    else if (n > GW_CFG_FILE_MAX_BYTES)
        rc = fail(&ps, 0, "config", CR_ERR_LIMIT, "file larger than %d bytes",
                  GW_CFG_FILE_MAX_BYTES);
    else if (memchr(buf, '\0', n))
        rc = fail(&ps, 0, "config", CR_ERR_DECODE, "NUL byte in file");
    else {
        buf[n] = '\0';
        rc = gw_config_load_string(cfg, buf, path, err, err_len);
    }
    free(buf);
    return rc;
}

/* ---- validation ------------------------------------------------------------- */

static uint32_t prefix_mask(uint8_t plen)
{
    return plen == 0 ? 0 : (uint32_t)(UINT32_MAX << (32 - plen));
}

CR_WUR static int check_readable(struct parse *ps, unsigned line, const char *key, const char *path)
{
    if (access(path, R_OK) != 0)
        return fail(ps, line, key, CR_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    return 0;
}

/* Key path "listeners[i].name" (or "ports[i].name") of a key validation
 * reports, written into buf; returns the key's line, or the entry's when
 * the key was not in the file (its default is at fault). */
static unsigned entry_key(char *buf, size_t cap, const char *list, unsigned i, const char *name,
                          uint32_t key_line, uint32_t entry_line)
{
    snprintf(buf, cap, "%s[%u].%s", list, i, name);
    return key_line ? key_line : entry_line;
}

#define PORT_KEY(K)                                                                                \
    entry_key(kk, sizeof(kk), "ports", i, port_line_keys[GW_PKEY_##K], p->key_line[GW_PKEY_##K],   \
              p->src_line)
#define TOP_LINE(K) (cfg->key_line[GW_TKEY_##K])
#define LISTENER_KEY(K)                                                                            \
    entry_key(kk, sizeof(kk), "listeners", i, listener_line_keys[GW_LKEY_##K],                     \
              l->key_line[GW_LKEY_##K], l->src_line)

/* state_file needs state_key_file, a key file that loads (size, owner-only
 * mode: cr_seal_ring_load), and a directory we may write the file into
 * (it is replaced by rename). */
CR_WUR static int validate_state(struct parse *ps, const struct gw_config *cfg)
{
    if (!cfg->state_file[0]) {
        if (cfg->state_key_file[0])
            return fail(ps, TOP_LINE(STATE_KEY_FILE), "state_key_file", CR_ERR_INVAL,
                        "given without state_file");
        return 0;
    }
    if (!cfg->state_key_file[0])
        return fail(ps, TOP_LINE(STATE_FILE), "state_file", CR_ERR_INVAL,
                    "needs state_key_file (a key file: head -c 48 /dev/urandom > F; chmod 600 F)");
    char dir[GW_PATH_MAX_LEN];
    snprintf(dir, sizeof(dir), "%s", cfg->state_file);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (access(dir, W_OK | X_OK) != 0)
        return fail(ps, TOP_LINE(STATE_FILE), "state_file", CR_ERR_IO,
                    "cannot write into directory '%s': %s", dir, strerror(errno));
    struct cr_seal_ring ring;
    memset(&ring, 0, sizeof(ring));
    char why[200] = "";
    int rc = cr_seal_ring_init(&ring);
    if (rc == 0)
        rc = cr_seal_ring_load(&ring, cfg->state_key_file, 0, why, sizeof(why));
    cr_seal_ring_wipe(&ring);
    if (rc < 0)
        return fail(ps, TOP_LINE(STATE_KEY_FILE), "state_key_file", rc, "%s",
                    why[0] ? why : cr_strerror(rc));
    return 0;
}

/* Port i's NAT pool (ports[i].nat_addresses, issue 11): on the port's
 * subnet, neither its network nor broadcast address, no other port's
 * address, no gateway, no backend, no other port's pool, and no listening
 * (address, port) inside a listener's nat_ports on a pool address.  The
 * port's own address may be in its pool (it is by default). */
CR_WUR static int validate_nat_pool(struct parse *ps, const struct gw_config *cfg, unsigned i)
{
    const struct gw_port_cfg *p = &cfg->ports[i];
    char kk[GW_CFG_KEY_PATH_MAX_LEN + 32];
    if (p->n_nat == 0)
        return 0;
    unsigned line = entry_key(kk, sizeof(kk), "ports", i, port_line_keys[GW_PKEY_NAT_ADDRESSES],
                              p->key_line[GW_PKEY_NAT_ADDRESSES], p->src_line);
    uint32_t first, n;
    gw_port_nat_pool(p, &first, &n);
    if (n - 1 > UINT32_MAX - first)
        return fail(ps, line, kk, CR_ERR_INVAL,
                    "%u addresses from the port's address pass 255.255.255.255", n);
    uint32_t last = first + (n - 1);
    uint32_t m = prefix_mask(p->prefix_len);
    if ((first & m) != (p->ipv4 & m) || (last & m) != (p->ipv4 & m))
        return fail(ps, line, kk, CR_ERR_INVAL, "pool is not inside the port's subnet /%u",
                    p->prefix_len);
    if (p->prefix_len <= 30 && (first == (p->ipv4 & m) || last == (p->ipv4 | ~m)))
        return fail(ps, line, kk, CR_ERR_INVAL,
                    "pool contains the subnet's network or broadcast address");
    for (unsigned j = 0; j < cfg->n_ports; j++) {
        const struct gw_port_cfg *o = &cfg->ports[j];
        if (j != i && o->ipv4 - first < n)
            return fail(ps, line, kk, CR_ERR_INVAL, "pool contains the address of ports[%u]", j);
        if (o->gateway_ipv4 != 0 && o->gateway_ipv4 - first < n)
            return fail(ps, line, kk, CR_ERR_INVAL, "pool contains the gateway of ports[%u]", j);
        uint32_t of, on;
        gw_port_nat_pool(o, &of, &on);
        if (j < i && (first - of < on || of - first < n))
            return fail(ps, line, kk, CR_ERR_INVAL, "pool overlaps the pool of ports[%u]", j);
    }
    for (unsigned j = 0; j < cfg->n_listeners; j++) {
        const struct gw_listener_cfg *l = &cfg->listeners[j];
        if (!l->backend_is_v6 && l->backend_ipv4 - first < n)
            return fail(ps, line, kk, CR_ERR_INVAL, "pool contains the backend of listeners[%u]",
                        j);
        if (l->has_ipv6 || l->ipv4 - first >= n)
            continue;
        for (unsigned k = 0; k < cfg->n_listeners; k++) {
            const struct gw_listener_cfg *o = &cfg->listeners[k];
            if (l->udp_port >= o->nat_port_min && l->udp_port <= o->nat_port_max)
                return fail(ps, line, kk, CR_ERR_INVAL,
                            "pool contains the address of listeners[%u], whose port %u is in "
                            "listeners[%u].nat_ports %u-%u",
                            j, l->udp_port, k, o->nat_port_min, o->nat_port_max);
        }
    }
    return 0;
}

static bool same_listener_addr(const struct gw_listener_cfg *a, const struct gw_listener_cfg *b)
{
    if (a->has_ipv6 != b->has_ipv6)
        return false;
    return a->has_ipv6 ? memcmp(a->ipv6, b->ipv6, 16) == 0 : a->ipv4 == b->ipv4;
}

int gw_config_validate(const struct gw_config *cfg, char *err, unsigned err_len)
{
    if (!cfg)
        return CR_ERR_INVAL;
    struct parse ps = {
        .name = cfg->source[0] ? cfg->source : "<defaults>", .err = err, .err_len = err_len};
    char key[GW_CFG_KEY_PATH_MAX_LEN];
    char kk[GW_CFG_KEY_PATH_MAX_LEN + 32];
    if (err && err_len)
        err[0] = '\0';

    if (cfg->n_ports < 1 || cfg->n_ports > GW_MAX_PORTS)
        return fail(&ps, 0, "ports", CR_ERR_INVAL, "need 1..%d ports", GW_MAX_PORTS);
    if (cfg->n_listeners < 1 || cfg->n_listeners > GW_MAX_LISTENERS)
        return fail(&ps, 0, "listeners", CR_ERR_INVAL, "need 1..%d listeners", GW_MAX_LISTENERS);

    for (unsigned i = 0; i < cfg->n_ports; i++) {
        const struct gw_port_cfg *p = &cfg->ports[i];
        snprintf(key, sizeof(key), "ports[%u]", i);
        if (p->ipv4 == 0 || p->prefix_len < 1 || p->prefix_len > 32)
            return fail(&ps, PORT_KEY(ADDRESS), kk, CR_ERR_INVAL, "no valid address/prefix");
        for (unsigned j = 0; j < i; j++) {
            if (cfg->ports[j].port_id == p->port_id)
                return fail(&ps, PORT_KEY(PORT_ID), kk, CR_ERR_INVAL,
                            "port_id %u already used by ports[%u]", p->port_id, j);
            if (cfg->ports[j].ipv4 == p->ipv4)
                return fail(&ps, PORT_KEY(ADDRESS), kk, CR_ERR_INVAL,
                            "address already used by ports[%u]", j);
        }
        if (p->gateway_ipv4) {
            uint32_t m = prefix_mask(p->prefix_len);
            if ((p->gateway_ipv4 & m) != (p->ipv4 & m) || p->gateway_ipv4 == p->ipv4)
                return fail(&ps, PORT_KEY(GATEWAY), kk, CR_ERR_INVAL,
                            "gateway is not another host on the port's subnet");
        }
        for (unsigned j = 0; j < i && p->has_ipv6; j++)
            if (cfg->ports[j].has_ipv6 && memcmp(cfg->ports[j].ipv6, p->ipv6, 16) == 0)
                return fail(&ps, PORT_KEY(ADDRESS6), kk, CR_ERR_INVAL,
                            "address6 already used by ports[%u]", j);
        if (p->has_gateway6) {
            if (!p->has_ipv6)
                return fail(&ps, PORT_KEY(GATEWAY6), kk, CR_ERR_INVAL,
                            "gateway6 needs address6 on the same port");
            /* RFC 4861 §8: a router's address as a next hop is link-local;
             * an on-link global one is accepted too. */
            const uint8_t *g6 = p->gateway6;
            bool link_local = g6[0] == 0xfe && (g6[1] & 0xc0) == 0x80;
            if (g6[0] == 0xff || memcmp(g6, p->ipv6, 16) == 0 ||
                (!link_local && !dp_ipv6_same_prefix(g6, p->ipv6, p->prefix6_len)))
                return fail(&ps, PORT_KEY(GATEWAY6), kk, CR_ERR_INVAL,
                            "gateway6 is neither link-local nor another host on address6's "
                            "prefix");
        }
    }
    for (unsigned i = 0; i < cfg->n_ports; i++)
        CR_GUARD(validate_nat_pool(&ps, cfg, i));

    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        const struct gw_listener_cfg *l = &cfg->listeners[i];
        unsigned line = l->src_line;
        snprintf(key, sizeof(key), "listeners[%u]", i);
        bool on_port = false;
        for (unsigned j = 0; j < cfg->n_ports; j++)
            on_port |= l->has_ipv6
                           ? cfg->ports[j].has_ipv6 && memcmp(cfg->ports[j].ipv6, l->ipv6, 16) == 0
                           : cfg->ports[j].ipv4 == l->ipv4;
        if (!on_port)
            return fail(&ps, LISTENER_KEY(ADDRESS), kk, CR_ERR_INVAL,
                        l->has_ipv6 ? "address is not one of the ports' address6"
                                    : "address is not one of the ports' addresses");
        if (l->udp_port == 0)
            return fail(&ps, LISTENER_KEY(PORT), kk, CR_ERR_INVAL, "port 0");
        for (unsigned j = 0; j < i; j++)
            if (same_listener_addr(&cfg->listeners[j], l) &&
                cfg->listeners[j].udp_port == l->udp_port)
                return fail(&ps, LISTENER_KEY(PORT), kk, CR_ERR_INVAL,
                            "address and port already used by listeners[%u]", j);
        if ((l->backend_ipv4 == 0 && !l->backend_is_v6) || l->backend_port == 0)
            return fail(&ps, LISTENER_KEY(BACKEND), kk, CR_ERR_INVAL, "no backend address:port");
        if (l->nat_port_min == 0 || l->nat_port_min > l->nat_port_max)
            return fail(&ps, LISTENER_KEY(NAT_PORTS), kk, CR_ERR_INVAL, "nat_ports range is empty");
        for (unsigned j = 0; j < cfg->n_listeners; j++) {
            const struct gw_listener_cfg *o = &cfg->listeners[j];
            if (same_listener_addr(o, l) && o->udp_port >= l->nat_port_min &&
                o->udp_port <= l->nat_port_max)
                return fail(&ps, LISTENER_KEY(NAT_PORTS), kk, CR_ERR_INVAL,
                            "nat_ports %u-%u contain the listening port %u of listeners[%u]",
                            l->nat_port_min, l->nat_port_max, o->udp_port, j);
        }
        if (l->hs.mtu_bytes < HS_MTU_MIN_BYTES || l->hs.mtu_bytes > HS_MTU_MAX_BYTES)
            return fail(&ps, LISTENER_KEY(MTU), kk, CR_ERR_INVAL, "mtu %u out of range %d..%d",
                        l->hs.mtu_bytes, HS_MTU_MIN_BYTES, HS_MTU_MAX_BYTES);
        if (l->hs.retrans_initial_ms == 0 || l->hs.retrans_initial_ms > l->hs.retrans_max_ms)
            return fail(&ps, LISTENER_KEY(RETRANSMIT_INITIAL), kk, CR_ERR_INVAL,
                        "%u ms must be in 1 ms..retransmit_max (%u ms)", l->hs.retrans_initial_ms,
                        l->hs.retrans_max_ms);
        if (l->replay_window_bits < DP_REPLAY_WIN_MIN_BITS ||
            l->replay_window_bits > DP_REPLAY_WIN_MAX_BITS || l->replay_window_bits % 64)
            return fail(&ps, LISTENER_KEY(REPLAY_WINDOW), kk, CR_ERR_INVAL,
                        "replay_window %u is not a multiple of 64 in %d..%d", l->replay_window_bits,
                        DP_REPLAY_WIN_MIN_BITS, DP_REPLAY_WIN_MAX_BITS);
        if (l->idle_timeout_ms == 0)
            return fail(&ps, LISTENER_KEY(IDLE_TIMEOUT), kk, CR_ERR_INVAL, "is 0");

        /* Credentials: a certificate comes with its key, and the listener
         * needs at least one way to authenticate itself. */
        if (!l->cert_file[0] != !l->key_file[0])
            return fail(&ps, l->cert_file[0] ? LISTENER_KEY(CERT) : LISTENER_KEY(KEY), kk,
                        CR_ERR_INVAL, "cert and key must be given together");
        if (!l->cert2_file[0] != !l->key2_file[0])
            return fail(&ps, l->cert2_file[0] ? LISTENER_KEY(CERT2) : LISTENER_KEY(KEY2), kk,
                        CR_ERR_INVAL, "cert2 and key2 must be given together");
        if (l->cert2_file[0] && !l->cert_file[0])
            return fail(&ps, LISTENER_KEY(CERT2), kk, CR_ERR_INVAL, "cert2 given without cert");
        if (!l->cert_file[0] && l->n_certs == 0 && !l->psk_file[0])
            return fail(&ps, line, key, CR_ERR_INVAL,
                        "no credentials: give cert+key (or certs) and/or psk_file");
        /* One certificate per slot of the engine (ECDSA P-256, ECDSA P-384,
         * RSA); which file fills which slot is only known when the keys
         * are loaded, where a second one of a slot is refused. */
        unsigned n_certs = (l->cert_file[0] != 0) + (l->cert2_file[0] != 0) + l->n_certs;
        if (n_certs > GW_MAX_LISTENER_CERTS)
            return fail(&ps, LISTENER_KEY(CERTS), kk, CR_ERR_INVAL,
                        "%u certificates with cert/cert2, at most %d (one per key type: ECDSA "
                        "P-256, ECDSA P-384, RSA)",
                        n_certs, GW_MAX_LISTENER_CERTS);
        for (unsigned j = 0; j < l->n_certs; j++) {
            const struct gw_cert_cfg *c = &l->certs[j];
            const char *same = strcmp(c->cert_file, l->cert_file) == 0    ? "cert"
                               : strcmp(c->cert_file, l->cert2_file) == 0 ? "cert2"
                                                                          : NULL;
            for (unsigned k = 0; k < j && !same; k++)
                if (strcmp(c->cert_file, l->certs[k].cert_file) == 0)
                    same = "an earlier certs entry";
            snprintf(kk, sizeof(kk), "listeners[%u].certs[%u].cert", i, j);
            if (same)
                return fail(&ps, c->cert_line ? c->cert_line : c->src_line, kk, CR_ERR_INVAL,
                            "'%s' is already given as %s", c->cert_file, same);
            CR_GUARD(
                check_readable(&ps, c->cert_line ? c->cert_line : c->src_line, kk, c->cert_file));
            snprintf(kk, sizeof(kk), "listeners[%u].certs[%u].key", i, j);
            CR_GUARD(check_readable(&ps, c->key_line ? c->key_line : c->src_line, kk, c->key_file));
        }
        /* Session tickets: a lifetime the hint can say, and one the key
         * ring can honour (random keys: a ticket opens while its key is
         * one of the last GW_TICKET_RING_KEYS). */
        if (l->ticket_lifetime_ms < 1000 || l->ticket_lifetime_ms > GW_TICKET_LIFETIME_MAX_MS)
            return fail(&ps, LISTENER_KEY(TICKET_LIFETIME), kk, CR_ERR_INVAL,
                        "%u ms out of range 1s..7d", l->ticket_lifetime_ms);
        if (l->session_tickets && !l->ticket_key_file[0] && !cfg->ticket_key_file[0] &&
            (uint64_t)l->ticket_lifetime_ms >
                (uint64_t)cfg->ticket_key_rotate_ms * (GW_TICKET_RING_KEYS - 1))
            return fail(&ps, LISTENER_KEY(TICKET_LIFETIME), kk, CR_ERR_INVAL,
                        "%u ms is longer than the %d older ticket keys last (ticket_key_rotate "
                        "%u ms each)",
                        l->ticket_lifetime_ms, GW_TICKET_RING_KEYS - 1, cfg->ticket_key_rotate_ms);
        if (l->hs.client_auth != HS_CLIENT_AUTH_NONE && !l->ca_file[0])
            return fail(&ps, LISTENER_KEY(CLIENT_AUTH), kk, CR_ERR_INVAL,
                        "client_auth needs ca_file");
        const struct {
            enum gw_listener_key k;
            const char *path;
        } files[] = {{GW_LKEY_CERT, l->cert_file},
                     {GW_LKEY_KEY, l->key_file},
                     {GW_LKEY_CERT2, l->cert2_file},
                     {GW_LKEY_KEY2, l->key2_file},
                     {GW_LKEY_PSK_FILE, l->psk_file},
                     {GW_LKEY_CA_FILE, l->ca_file},
                     {GW_LKEY_TICKET_KEY_FILE, l->ticket_key_file}};
        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
            if (!files[f].path[0])
                continue;
            unsigned fl = entry_key(kk, sizeof(kk), "listeners", i, listener_line_keys[files[f].k],
                                    l->key_line[files[f].k], l->src_line);
            CR_GUARD(check_readable(&ps, fl, kk, files[f].path));
        }
    }

    if (cfg->ticket_key_file[0])
        CR_GUARD(check_readable(&ps, TOP_LINE(TICKET_KEY_FILE), "ticket_key_file",
                                cfg->ticket_key_file));
    if (cfg->ticket_key_rotate_ms < GW_TICKET_KEY_ROTATE_MIN_MS)
        return fail(&ps, TOP_LINE(TICKET_KEY_ROTATE), "ticket_key_rotate", CR_ERR_INVAL,
                    "%u ms is below the minimum of %u ms", cfg->ticket_key_rotate_ms,
                    GW_TICKET_KEY_ROTATE_MIN_MS);

    struct sockaddr_un sun;
    if (!cfg->control_socket[0])
        return fail(&ps, TOP_LINE(CONTROL_SOCKET), "control_socket", CR_ERR_INVAL, "empty path");
    if (strlen(cfg->control_socket) >= sizeof(sun.sun_path))
        return fail(&ps, TOP_LINE(CONTROL_SOCKET), "control_socket", CR_ERR_LIMIT,
                    "path longer than %zu bytes", sizeof(sun.sun_path) - 1);
    if (cfg->max_sessions < 1 || cfg->max_sessions > GW_MAX_SESSIONS_LIMIT)
        return fail(&ps, TOP_LINE(MAX_SESSIONS), "max_sessions", CR_ERR_INVAL,
                    "%u out of range 1..%u", cfg->max_sessions, GW_MAX_SESSIONS_LIMIT);
    if (cfg->max_handshakes < 1 || cfg->max_handshakes > GW_MAX_HANDSHAKES_LIMIT)
        return fail(&ps, TOP_LINE(MAX_HANDSHAKES), "max_handshakes", CR_ERR_INVAL,
                    "%u out of range 1..%u", cfg->max_handshakes, GW_MAX_HANDSHAKES_LIMIT);
    if (cfg->max_handshakes_per_source < 1 || cfg->max_handshakes_per_source > cfg->max_handshakes)
        return fail(&ps, TOP_LINE(MAX_HANDSHAKES_PER_SOURCE), "max_handshakes_per_source",
                    CR_ERR_INVAL, "%u out of range 1..max_handshakes (%u)",
                    cfg->max_handshakes_per_source, cfg->max_handshakes);
    if (cfg->handshake_lcores < 1 || cfg->handshake_lcores > GW_MAX_HANDSHAKE_LCORES)
        return fail(&ps, TOP_LINE(HANDSHAKE_LCORES), "handshake_lcores", CR_ERR_INVAL,
                    "%u out of range 1..%u", cfg->handshake_lcores, GW_MAX_HANDSHAKE_LCORES);
    CR_GUARD(validate_state(&ps, cfg));
    return 0;
}

void gw_port_nat_pool(const struct gw_port_cfg *p, uint32_t *out_first, uint32_t *out_n)
{
    *out_first = p->n_nat == 0 || p->nat_from_address ? p->ipv4 : p->nat_first;
    *out_n = p->n_nat == 0 ? 1 : p->n_nat;
}

uint64_t gw_config_nat_slots(const struct gw_config *cfg)
{
    uint64_t n_addrs = 0;
    for (unsigned i = 0; i < cfg->n_ports && i < GW_MAX_PORTS; i++) {
        uint32_t first, n;
        gw_port_nat_pool(&cfg->ports[i], &first, &n);
        n_addrs += n;
    }
    return n_addrs * gw_config_nat_ports(cfg);
}

bool gw_config_has_ipv6_clients(const struct gw_config *cfg)
{
    for (unsigned i = 0; i < cfg->n_listeners && i < GW_MAX_LISTENERS; i++)
        if (cfg->listeners[i].has_ipv6)
            return true;
    return false;
}

uint32_t gw_config_nat_ports(const struct gw_config *cfg)
{
    /* Every listener's nat_ports draw from one map of backend-side UDP
     * ports (dp_session.h DP_SESS_NAT_PORTS), so ranges that overlap are
     * one pool: count the union. */
    static uint64_t seen[65536 / 64];
    memset(seen, 0, sizeof(seen));
    uint32_t n = 0;
    for (unsigned i = 0; i < cfg->n_listeners && i < GW_MAX_LISTENERS; i++)
        for (uint32_t p = cfg->listeners[i].nat_port_min;
             p <= cfg->listeners[i].nat_port_max && p <= UINT16_MAX; p++)
            if (!(seen[p / 64] & (UINT64_C(1) << (p % 64)))) {
                seen[p / 64] |= UINT64_C(1) << (p % 64);
                n++;
            }
    return n;
}

/* EAL long options that turn the shared config off, with the shortest
 * abbreviation getopt_long takes for each among the EAL's options
 * ("--no-s" is no other option's prefix, "--in-" neither). */
static const struct {
    const char *name;
    size_t min_len;
} k_no_shconf_opts[] = {{"no-shconf", 4}, {"in-memory", 3}};

const char *gw_eal_no_shconf_option(int argc, char *const argv[])
{
    for (int i = 0; i < argc && argv[i] != NULL; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break; /* the gateway's own options follow */
        if (strncmp(a, "--", 2) != 0)
            continue;
        const char *name = a + 2;
        size_t n = strlen(name);
        for (size_t j = 0; j < sizeof(k_no_shconf_opts) / sizeof(k_no_shconf_opts[0]); j++)
            if (n >= k_no_shconf_opts[j].min_len && n <= strlen(k_no_shconf_opts[j].name) &&
                strncmp(name, k_no_shconf_opts[j].name, n) == 0)
                return a;
    }
    return NULL;
}

/* dpdk-pdump (DPDK 22.11, app/pdump) is a secondary process: it attaches
 * to the primary's runtime folder (/var/run/dpdk/PREFIX: shared config
 * and the multi-process socket the capture requests travel over) and maps
 * the primary's hugepage files, because the primary's RX/TX callbacks
 * copy each packet into a ring and mempool the secondary created. */
int gw_config_check_capture(const struct gw_config *cfg, const struct gw_eal_facts *eal, char *err,
                            unsigned err_len)
{
    if (!cfg || !eal)
        return CR_ERR_INVAL;
    struct parse ps = {
        .name = cfg->source[0] ? cfg->source : "<defaults>", .err = err, .err_len = err_len};
    if (err && err_len)
        err[0] = '\0';
    if (!cfg->capture)
        return 0;
    if (eal->not_primary)
        return fail(&ps, TOP_LINE(CAPTURE), "capture", CR_ERR_UNSUPPORTED,
                    "true needs the gateway to be the DPDK primary process, not %s",
                    eal->not_primary);
    if (eal->no_shconf)
        return fail(&ps, TOP_LINE(CAPTURE), "capture", CR_ERR_UNSUPPORTED,
                    "true needs the EAL's shared config (dpdk-pdump is a DPDK secondary "
                    "process), but %s turns it off: drop it and give --file-prefix NAME "
                    "(dpdk-pdump --file-prefix NAME attaches)",
                    eal->no_shconf);
    if (eal->no_huge)
        return fail(&ps, TOP_LINE(CAPTURE), "capture", CR_ERR_UNSUPPORTED,
                    "true needs hugepages (dpdk-pdump, a DPDK secondary process, maps the "
                    "gateway's memory), but %s gives the EAL anonymous memory: drop it and "
                    "reserve hugepages (dpdk-hugepages.py --setup 1G)",
                    eal->no_huge);
    return 0;
}
