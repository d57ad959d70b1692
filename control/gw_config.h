/* gw_config.h — the gateway's configuration: what the YAML config file and
 * the command line hold, with a sane default for every value.
 *
 * Owns: parsing (libyaml) and validation with errors reported as
 * "file:line: key: message".  Must not: touch DPDK or sockets.
 */
#ifndef DTLSGW_GW_CONFIG_H
#define DTLSGW_GW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "hs.h"

#define GW_MAX_PORTS     4
#define GW_MAX_LISTENERS 16
#define GW_PATH_MAX_LEN  256
#define GW_ERR_MAX_LEN   512
#define GW_MAX_WARNINGS  8
/* addresses in one port's NAT pool (ports[].nat_addresses): 65536 NAT
 * slots each, a 512 KiB slice of the NAT map (dp_session.h) */
#define GW_MAX_NAT_ADDRESSES 256
/* certificates of one listener, all keys together (cert, cert2, certs):
 * one per certificate slot of the engine (ECDSA P-256, ECDSA P-384, RSA) */
#define GW_MAX_LISTENER_CERTS 3

/* The keys of a port / listener entry that validation talks about, with
 * their names in the file: gw_config_validate() reports the line and name
 * of the key at fault (the entry's line when the key was not in the file
 * and its default is at fault). */
#define GW_PORT_LINE_KEYS(X)                                                                       \
    X(ADDRESS, "address")                                                                          \
    X(PORT_ID, "port_id")                                                                          \
    X(GATEWAY, "gateway")                                                                          \
    X(NAT_ADDRESSES, "nat_addresses")                                                              \
    X(ADDRESS6, "address6")                                                                        \
    X(GATEWAY6, "gateway6")
#define GW_LISTENER_LINE_KEYS(X)                                                                   \
    X(ADDRESS, "address")                                                                          \
    X(PORT, "port")                                                                                \
    X(BACKEND, "backend")                                                                          \
    X(NAT_PORTS, "nat_ports")                                                                      \
    X(MTU, "mtu")                                                                                  \
    X(RETRANSMIT_INITIAL, "retransmit_initial")                                                    \
    X(REPLAY_WINDOW, "replay_window")                                                              \
    X(IDLE_TIMEOUT, "idle_timeout")                                                                \
    X(CERT, "cert")                                                                                \
    X(KEY, "key")                                                                                  \
    X(CERT2, "cert2")                                                                              \
    X(KEY2, "key2")                                                                                \
    X(CERTS, "certs")                                                                              \
    X(PSK_FILE, "psk_file")                                                                        \
    X(CA_FILE, "ca_file")                                                                          \
    X(SESSION_TICKETS, "session_tickets")                                                          \
    X(TICKET_LIFETIME, "ticket_lifetime")                                                          \
    X(TICKET_KEY_FILE, "ticket_key_file")                                                          \
    X(CLIENT_AUTH, "client_auth")
/* Top-level keys validation talks about (line 0: not in the file). */
#define GW_TOP_LINE_KEYS(X)                                                                        \
    X(CONTROL_SOCKET, "control_socket")                                                            \
    X(TICKET_KEY_FILE, "ticket_key_file")                                                          \
    X(TICKET_KEY_ROTATE, "ticket_key_rotate")                                                      \
    X(MAX_SESSIONS, "max_sessions")                                                                \
    X(MAX_HANDSHAKES, "max_handshakes")                                                            \
    X(MAX_HANDSHAKES_PER_SOURCE, "max_handshakes_per_source")                                      \
    X(HANDSHAKE_LCORES, "handshake_lcores")                                                        \
    X(STATE_FILE, "state_file")                                                                    \
    X(STATE_KEY_FILE, "state_key_file")                                                            \
    X(CAPTURE, "capture")
#define GW_KEY_ENUM(name, str) GW_TKEY_##name,
enum gw_top_key {
    GW_TOP_LINE_KEYS(GW_KEY_ENUM) GW_TKEY_N
};
#undef GW_KEY_ENUM
#define GW_KEY_ENUM(name, str) GW_PKEY_##name,
enum gw_port_key {
    GW_PORT_LINE_KEYS(GW_KEY_ENUM) GW_PKEY_N
};
#undef GW_KEY_ENUM
#define GW_KEY_ENUM(name, str) GW_LKEY_##name,
enum gw_listener_key {
    GW_LISTENER_LINE_KEYS(GW_KEY_ENUM) GW_LKEY_N
};
#undef GW_KEY_ENUM

struct gw_port_cfg {
    char name[32];    /* informational, e.g. "net0" */
    uint16_t port_id; /* DPDK port id */
    uint32_t ipv4;    /* host order */
    uint8_t prefix_len;
    uint32_t gateway_ipv4; /* next hop for off-link destinations; 0: none */
    /* IPv6 (`address6: 2001:db8::1/64`, optional): the port's global
     * address and on-link prefix; its link-local address is derived from
     * the port's MAC (EUI-64).  `gateway6`: the off-link next hop
     * (link-local or on the prefix). */
    bool has_ipv6;
    uint8_t ipv6[16];
    uint8_t prefix6_len;
    bool has_gateway6;
    uint8_t gateway6[16];
    bool promiscuous; /* default false */
    /* backend_udp_checksum: false: the IPv4 datagrams the workers forward
     * to backends through this port carry UDP checksum 0 (RFC 768: "no
     * checksum"), for a trusted backend link; default true */
    bool backend_udp_checksum;
    /* NAT pool (issue 11): the backend-side source addresses of the
     * sessions whose backend route uses this port.  nat_addresses: "A-B"
     * or "A" (nat_first, n_nat), or a count N (nat_from_address: the N
     * addresses from the port's address on); n_nat 0: the port's address
     * alone (the default).  gw_port_nat_pool() resolves it. */
    uint32_t nat_first; /* host order */
    uint32_t n_nat;
    bool nat_from_address;
    uint32_t src_line;            /* line of the entry in the config; 0: default */
    uint32_t key_line[GW_PKEY_N]; /* line of each key; 0: not in the file */
};

/* Port p's NAT pool: *out_n addresses from *out_first (host order). */
void gw_port_nat_pool(const struct gw_port_cfg *p, uint32_t *out_first, uint32_t *out_n);

/* One entry of a listener's `certs:` list. */
struct gw_cert_cfg {
    char cert_file[GW_PATH_MAX_LEN]; /* chain, leaf first */
    char key_file[GW_PATH_MAX_LEN];
    uint32_t src_line;            /* line of the entry */
    uint32_t cert_line, key_line; /* lines of its keys */
};

struct gw_listener_cfg {
    char name[32];
    uint32_t ipv4;         /* host order; must be one of the ports' addresses */
    uint16_t udp_port;     /* default 4433 */
    uint32_t backend_ipv4; /* host order */
    uint16_t backend_port;
    /* IPv6 (`address: 2001:db8::1`, one of the ports' address6; `backend:
     * "[2001:db8:1::2]:5683"`): then ipv4 / backend_ipv4 are 0.  Either
     * side may be either family. */
    bool has_ipv6;
    uint8_t ipv6[16];
    bool backend_is_v6;
    uint8_t backend_ipv6[16];
    char cert_file[GW_PATH_MAX_LEN]; /* may be empty */
    char key_file[GW_PATH_MAX_LEN];
    char cert2_file[GW_PATH_MAX_LEN]; /* optional second (e.g. RSA) cert */
    char key2_file[GW_PATH_MAX_LEN];
    /* `certs: [{cert, key}, ...]`, loaded after cert and cert2; with them
     * at most GW_MAX_LISTENER_CERTS, one per slot (checked at load) */
    struct gw_cert_cfg certs[GW_MAX_LISTENER_CERTS];
    unsigned n_certs;
    char psk_file[GW_PATH_MAX_LEN]; /* psktool format; may be empty */
    char ca_file[GW_PATH_MAX_LEN];  /* client auth CA; may be empty */
    struct hs_params hs;            /* suites, mtu, cookie, timers, client auth */
    uint32_t replay_window_bits;    /* default DP_REPLAY_WIN_DEFAULT_BITS (960) */
    uint32_t idle_timeout_ms;       /* default 300000 */
    uint16_t nat_port_min;          /* gateway-side ports towards backend */
    uint16_t nat_port_max;          /* default 20000..59999 */
    /* reload-psk ends the sessions and handshakes of identities that were
     * removed or got a new key (default true) */
    bool psk_reload_ends_sessions;
    /* RFC 5077 session tickets (default on): resumption without a full
     * handshake; lifetime (the ticket_lifetime_hint, default 2h); the
     * cr_seal key file shared with other gateways ("": the top-level
     * ticket_key_file, else random keys rotated every ticket_key_rotate) */
    bool session_tickets;
    uint32_t ticket_lifetime_ms;
    char ticket_key_file[GW_PATH_MAX_LEN];
    /* RFC 5246 §7.4.1.2 session-ID cache (hs.h hs_ctx_set_session_cache):
     * entries per handshake lcore, 0 off (default 10000); each lives
     * ticket_lifetime_ms */
    uint32_t session_cache;
    uint32_t src_line;            /* line of the entry in the config; 0: default */
    uint32_t key_line[GW_LKEY_N]; /* line of each key; 0: not in the file */
};

#define GW_DEFAULT_MAX_HANDSHAKES    4096u
#define GW_DEFAULT_MAX_HS_PER_SOURCE 64u
#define GW_MAX_HANDSHAKES_LIMIT      (16u * 1024 * 1024)
#define GW_MAX_HANDSHAKE_LCORES      16u /* cp_shard.h CP_SHARD_MAX */
/* Hitless restart (gw_state.h): the state file's defaults and bounds.  The
 * skip is added to every restored write sequence number; at most 2^40, a
 * 1/256 of the 48-bit space (RFC 6347 §4.1), so that a session can be
 * restored many times before its epoch runs out. */
#define GW_DEFAULT_STATE_MAX_AGE_MS 300000u
#define GW_DEFAULT_STATE_SEQ_SKIP   (UINT64_C(1) << 20)
#define GW_STATE_SEQ_SKIP_MAX       (UINT64_C(1) << 40)

struct gw_config {
    struct gw_port_cfg ports[GW_MAX_PORTS];
    unsigned n_ports;
    struct gw_listener_cfg listeners[GW_MAX_LISTENERS];
    unsigned n_listeners;
    char control_socket[GW_PATH_MAX_LEN]; /* default /run/dtlsgw.sock */
    uint32_t max_sessions;                /* default 65536 */
    /* handshakes in progress (cookie verified, not yet ESTABLISHED), all
     * listeners together and from one client address; separate from
     * max_sessions (gw_config.c's header says why the defaults) */
    uint32_t max_handshakes;            /* default GW_DEFAULT_MAX_HANDSHAKES */
    uint32_t max_handshakes_per_source; /* default GW_DEFAULT_MAX_HS_PER_SOURCE */
    /* lcores running handshakes: the main lcore and handshake_lcores - 1
     * more (gw_cp_priv.h); default 1 */
    uint32_t handshake_lcores;
    uint32_t stats_interval_ms; /* 0: no periodic print */
    uint32_t cookie_rotate_ms;  /* cookie secret lifetime, default 60 s */
    bool checksum_offload;      /* use NIC TX csum offload if offered */
    /* session ticket keys of the listeners without their own
     * ticket_key_file: this file ("": random keys, a new one every
     * ticket_key_rotate_ms, default 12h, the previous ones still open) */
    char ticket_key_file[GW_PATH_MAX_LEN];
    uint32_t ticket_key_rotate_ms;
    /* metrics_listen: Prometheus GET /metrics on this TCP address (the
     * kernel's stack, not a DPDK port); port 0: off (the default) */
    uint32_t metrics_ipv4; /* host order */
    uint16_t metrics_port; /* host order; 0: no HTTP endpoint */
    /* hitless restart: established sessions saved here on SIGTERM/SIGINT
     * and `save`, restored at start ("": off, the default); sealed with
     * the first key of state_key_file (cr_seal.h key file) */
    char state_file[GW_PATH_MAX_LEN];
    char state_key_file[GW_PATH_MAX_LEN];
    uint32_t state_max_age_ms; /* older files are refused; default 5 min */
    uint64_t state_seq_skip;   /* added to each restored write sequence */
    /* capture: the gateway serves dpdk-pdump (rte_pdump_init after the
     * EAL, gw_config_check_capture); default off */
    bool capture;
    char source[GW_PATH_MAX_LEN]; /* config name for messages; "" default */
    uint32_t key_line[GW_TKEY_N]; /* line of each top-level key; 0: not in the file */
    /* what the file used that still works but is going away (old key
     * names): "file:line: key: deprecated, use 'new'"; the gateway logs
     * them at start */
    char warnings[GW_MAX_WARNINGS][GW_ERR_MAX_LEN];
    unsigned n_warnings;
};

/* Defaults (one port 0 with 10.0.0.1/24, one listener on 4433 → backend
 * 10.0.1.2:5683, cookies on, all defaults from hs_params_default). */
void gw_config_default(struct gw_config *cfg);
/* Parses a YAML file over the defaults already in cfg.  On error returns a
 * negative CR_ERR_* and writes "file:line: key: message" into err. */
int gw_config_load(struct gw_config *cfg, const char *path, char *err, unsigned err_len);
/* Same, from a string (name used in messages); for tests and the embedded
 * demo config. */
int gw_config_load_string(struct gw_config *cfg, const char *yaml, const char *name, char *err,
                          unsigned err_len);
/* Checks cross-field consistency (listener address on a port, files
 * readable, port ranges); same error format. */
int gw_config_validate(const struct gw_config *cfg, char *err, unsigned err_len);

/* What the EAL runs with that decides whether `capture: true` can work:
 * dpdk-pdump is a DPDK secondary process, which needs the primary's
 * shared config files (its runtime folder, /var/run/dpdk/PREFIX) and
 * memory it can map (hugepage files).  gw_main fills it after
 * rte_eal_init; each field names the EAL option at fault, or NULL. */
struct gw_eal_facts {
    const char *not_primary; /* e.g. "--proc-type=secondary" */
    const char *no_huge;     /* "--no-huge": anonymous memory, no secondary */
    const char *no_shconf;   /* "--no-shconf" or "--in-memory": no shared config */
};
/* With cfg->capture, refuses EAL facts that make a capture impossible:
 * returns CR_ERR_UNSUPPORTED and "file:line: capture: ..." naming the
 * option and what to run instead; 0 otherwise (and without capture). */
int gw_config_check_capture(const struct gw_config *cfg, const struct gw_eal_facts *eal, char *err,
                            unsigned err_len);
/* The EAL option among argv[0..argc) (before `--`) that turns the shared
 * config off (--no-shconf, --in-memory, or a getopt abbreviation of
 * either, as the EAL accepts them), or NULL. */
const char *gw_eal_no_shconf_option(int argc, char *const argv[]);
/* How many backend-side NAT ports the listeners have together (the union
 * of their nat_ports ranges).  Not thread-safe. */
uint32_t gw_config_nat_ports(const struct gw_config *cfg);
/* How many NAT slots (pool address, port) the listeners can hold at most:
 * gw_config_nat_ports times the addresses of every port's pool; each
 * session holds one, so this bounds the sessions whatever max_sessions
 * says.  Not thread-safe. */
uint64_t gw_config_nat_slots(const struct gw_config *cfg);
/* Whether the gateway can have IPv6 clients: a listener on an IPv6
 * address (a session's client has its listener's family; IPv6 backends
 * and ports' address6 alone put nothing in the IPv6 clients' table).
 * Without, the session table's IPv6 part is the minimum (dp_session.h
 * DP_SESS_V6_MIN_ENTRIES). */
bool gw_config_has_ipv6_clients(const struct gw_config *cfg);

#endif
