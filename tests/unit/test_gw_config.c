/* test_gw_config.c — CUnit suite for control/gw_config.c: defaults, good
 * files (every key), every error kind with its file:line: key prefix, and
 * cross-field validation against real temporary files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cu_main.h"
#include "gw_config.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static char tmpdir[64];
static char psk_path[128], cert_path[128], key_path[128], ca_path[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_gw_config.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(psk_path, sizeof(psk_path), "%s/psk.txt", tmpdir);
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
    const char *files[] = {psk_path, cert_path, key_path, ca_path};
    for (size_t i = 0; i < 4; i++) {
        FILE *f = fopen(files[i], "w");
        if (!f)
            return -1;
        fputs("x\n", f);
        fclose(f);
    }
    return 0;
}

static int suite_clean(void)
{
    char path[192];
    const char *names[] = {"psk.txt", "cert.pem", "key.pem", "ca.pem", "gw.yaml"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

/* Parses yaml over defaults; expects failure with "t.yaml:LINE: KEY: ..."
 * and `what` somewhere in the message.  The config must stay unchanged. */
static void expect_err(const char *yaml, unsigned line, const char *key, const char *what)
{
    struct gw_config cfg, before;
    char err[GW_ERR_MAX_LEN];
    char prefix[128];
    gw_config_default(&cfg);
    before = cfg;
    int rc = gw_config_load_string(&cfg, yaml, "t.yaml", err, sizeof(err));
    CU_ASSERT(rc < 0);
    snprintf(prefix, sizeof(prefix), "t.yaml:%u: %s: ", line, key);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        printf("\n  yaml: %s\n  want: %s...%s\n  got:  %s\n", yaml, prefix, what, err);
        CU_FAIL("error message mismatch");
    }
    CU_ASSERT(memcmp(&cfg, &before, sizeof(cfg)) == 0);
}

static void test_defaults(void)
{
    struct gw_config c;
    struct hs_params hp;
    memset(&c, 0xA5, sizeof(c));
    gw_config_default(&c);
    hs_params_default(&hp);
    CU_ASSERT_EQUAL(c.n_ports, 1);
    CU_ASSERT_EQUAL(c.ports[0].port_id, 0);
    CU_ASSERT_EQUAL(c.ports[0].ipv4, IP(10, 0, 0, 1));
    CU_ASSERT_EQUAL(c.ports[0].prefix_len, 24);
    CU_ASSERT_EQUAL(c.ports[0].gateway_ipv4, 0);
    CU_ASSERT_EQUAL(c.n_listeners, 1);
    const struct gw_listener_cfg *l = &c.listeners[0];
    CU_ASSERT_EQUAL(l->ipv4, IP(10, 0, 0, 1));
    CU_ASSERT_EQUAL(l->udp_port, 4433);
    CU_ASSERT_EQUAL(l->backend_ipv4, IP(10, 0, 1, 2));
    CU_ASSERT_EQUAL(l->backend_port, 5683);
    CU_ASSERT_EQUAL(l->replay_window_bits, 960); /* DP_REPLAY_WIN_DEFAULT_BITS */
    CU_ASSERT_EQUAL(l->idle_timeout_ms, 300000);
    CU_ASSERT_EQUAL(l->nat_port_min, 20000);
    CU_ASSERT_EQUAL(l->nat_port_max, 59999);
    CU_ASSERT_STRING_EQUAL(l->cert_file, "");
    CU_ASSERT_STRING_EQUAL(l->psk_file, "");
    CU_ASSERT(memcmp(&l->hs, &hp, sizeof(hp)) == 0);
    CU_ASSERT(l->hs.cookie_required);
    CU_ASSERT(l->psk_reload_ends_sessions);
    CU_ASSERT_EQUAL(l->hs.handshake_deadline_ms, 60000);
    CU_ASSERT_STRING_EQUAL(c.control_socket, "/run/dtlsgw.sock");
    CU_ASSERT_EQUAL(c.max_sessions, 65536);
    CU_ASSERT_EQUAL(c.max_handshakes, 4096);
    CU_ASSERT_EQUAL(c.max_handshakes_per_source, 64);
    CU_ASSERT_EQUAL(c.handshake_lcores, 1);
    CU_ASSERT_EQUAL(c.stats_interval_ms, 0);
    CU_ASSERT(c.checksum_offload);
    CU_ASSERT_STRING_EQUAL(c.source, "");
}

static void test_empty_keeps_defaults(void)
{
    struct gw_config c, d;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&d);
    const char *docs[] = {"", "# only a comment\n", "---\n", "\n\n"};
    for (size_t i = 0; i < 4; i++) {
        gw_config_default(&c);
        CU_ASSERT_EQUAL(gw_config_load_string(&c, docs[i], "e.yaml", err, sizeof(err)), 0);
        CU_ASSERT_STRING_EQUAL(c.source, "e.yaml");
        memset(c.source, 0, sizeof(c.source));
        CU_ASSERT(memcmp(&c, &d, sizeof(c)) == 0);
    }
}

static const char *full_yaml =
    "# full config\n"
    "ports:\n"
    "  - name: client\n"
    "    port_id: 0\n"
    "    address: 192.168.10.1/24\n"
    "    gateway: 192.168.10.254\n"
    "  - name: backend\n"
    "    port_id: 1\n"
    "    address: 10.9.0.1/16\n"
    "listeners:\n"
    "  - name: coap\n"
    "    address: 192.168.10.1\n"
    "    port: 5684\n"
    "    backend: 10.9.0.2:5683\n"
    "    psk_file: /etc/dtlsgw/psk.txt\n"
    "    cert: /etc/dtlsgw/cert.pem\n"
    "    key: /etc/dtlsgw/key.pem\n"
    "    cert2: /etc/dtlsgw/rsa.pem\n"
    "    key2: /etc/dtlsgw/rsa.key\n"
    "    ca_file: /etc/dtlsgw/ca.pem\n"
    "    client_auth: optional\n"
    "    suites: [TLS_PSK_WITH_AES_128_CCM_8, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n"
    "    mtu: 1200\n"
    "    cookie: false\n"
    "    require_ems: no\n"
    "    psk_reload_ends_sessions: false\n"
    "    replay_window: 256\n"
    "    retransmit_initial: 500ms\n"
    "    retransmit_max: 30s\n"
    "    handshake_timeout: 20s\n"
    "    idle_timeout: 5m\n"
    "    bad_mac_limit: 10\n"
    "    nat_ports: 30000-30999\n"
    "  - port: 4433\n"
    "    psk_file: /p\n"
    "    suites: \"TLS_PSK_WITH_AES_128_GCM_SHA256:TLS_PSK_WITH_AES_128_CCM_8\"\n"
    "    idle_timeout: 2500ms\n"
    "control_socket: /tmp/gw.sock\n"
    "max_sessions: 1000\n"
    "max_handshakes: 300\n"
    "max_handshakes_per_source: 3\n"
    "handshake_lcores: 3\n"
    "stats_interval: 2s\n"
    "cookie_rotate: 90s\n"
    "checksum_offload: off\n";

static void test_full_file(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN] = "";
    gw_config_default(&c);
    int rc = gw_config_load_string(&c, full_yaml, "full.yaml", err, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(c.n_ports, 2);
    CU_ASSERT_STRING_EQUAL(c.ports[0].name, "client");
    CU_ASSERT_EQUAL(c.ports[0].ipv4, IP(192, 168, 10, 1));
    CU_ASSERT_EQUAL(c.ports[0].prefix_len, 24);
    CU_ASSERT_EQUAL(c.ports[0].gateway_ipv4, IP(192, 168, 10, 254));
    CU_ASSERT_EQUAL(c.ports[0].src_line, 3);
    CU_ASSERT_EQUAL(c.ports[1].port_id, 1);
    CU_ASSERT_EQUAL(c.ports[1].ipv4, IP(10, 9, 0, 1));
    CU_ASSERT_EQUAL(c.ports[1].prefix_len, 16);
    CU_ASSERT_EQUAL(c.ports[1].gateway_ipv4, 0);
    CU_ASSERT_EQUAL(c.n_listeners, 2);
    const struct gw_listener_cfg *l = &c.listeners[0];
    CU_ASSERT_STRING_EQUAL(l->name, "coap");
    CU_ASSERT_EQUAL(l->src_line, 11);
    CU_ASSERT_EQUAL(l->ipv4, IP(192, 168, 10, 1));
    CU_ASSERT_EQUAL(l->udp_port, 5684);
    CU_ASSERT_EQUAL(l->backend_ipv4, IP(10, 9, 0, 2));
    CU_ASSERT_EQUAL(l->backend_port, 5683);
    CU_ASSERT_STRING_EQUAL(l->psk_file, "/etc/dtlsgw/psk.txt");
    CU_ASSERT_STRING_EQUAL(l->cert_file, "/etc/dtlsgw/cert.pem");
    CU_ASSERT_STRING_EQUAL(l->key_file, "/etc/dtlsgw/key.pem");
    CU_ASSERT_STRING_EQUAL(l->cert2_file, "/etc/dtlsgw/rsa.pem");
    CU_ASSERT_STRING_EQUAL(l->key2_file, "/etc/dtlsgw/rsa.key");
    CU_ASSERT_STRING_EQUAL(l->ca_file, "/etc/dtlsgw/ca.pem");
    CU_ASSERT_EQUAL(l->hs.client_auth, HS_CLIENT_AUTH_OPTIONAL);
    CU_ASSERT_EQUAL(l->hs.n_suites, 2);
    CU_ASSERT_EQUAL(l->hs.suites[0], HS_PSK_AES128_CCM8);
    CU_ASSERT_EQUAL(l->hs.suites[1], HS_ECDHE_ECDSA_AES128_GCM);
    CU_ASSERT_EQUAL(l->hs.mtu_bytes, 1200);
    CU_ASSERT_FALSE(l->hs.cookie_required);
    CU_ASSERT_FALSE(l->hs.require_ems);
    CU_ASSERT_FALSE(l->psk_reload_ends_sessions);
    CU_ASSERT_EQUAL(l->replay_window_bits, 256);
    CU_ASSERT_EQUAL(l->hs.retrans_initial_ms, 500);
    CU_ASSERT_EQUAL(l->hs.retrans_max_ms, 30000);
    CU_ASSERT_EQUAL(l->hs.handshake_deadline_ms, 20000);
    CU_ASSERT_EQUAL(l->idle_timeout_ms, 300000);
    CU_ASSERT_EQUAL(l->hs.bad_mac_limit, 10);
    CU_ASSERT_EQUAL(l->nat_port_min, 30000);
    CU_ASSERT_EQUAL(l->nat_port_max, 30999);

    /* Second listener: defaults except what it sets; address from ports[0]. */
    struct hs_params hp;
    hs_params_default(&hp);
    const struct gw_listener_cfg *m = &c.listeners[1];
    CU_ASSERT_STRING_EQUAL(m->name, "listener1");
    CU_ASSERT_EQUAL(m->ipv4, IP(192, 168, 10, 1));
    CU_ASSERT_EQUAL(m->udp_port, 4433);
    CU_ASSERT_EQUAL(m->backend_ipv4, IP(10, 0, 1, 2));
    CU_ASSERT_EQUAL(m->idle_timeout_ms, 2500);
    CU_ASSERT_EQUAL(m->hs.n_suites, 2);
    CU_ASSERT_EQUAL(m->hs.suites[0], HS_PSK_AES128_GCM);
    CU_ASSERT_EQUAL(m->hs.suites[1], HS_PSK_AES128_CCM8);
    CU_ASSERT_EQUAL(m->hs.mtu_bytes, hp.mtu_bytes);
    CU_ASSERT_EQUAL(m->hs.cookie_required, hp.cookie_required);
    CU_ASSERT_EQUAL(m->nat_port_min, 20000);

    CU_ASSERT_STRING_EQUAL(c.control_socket, "/tmp/gw.sock");
    CU_ASSERT_EQUAL(c.max_sessions, 1000);
    CU_ASSERT_EQUAL(c.max_handshakes, 300);
    CU_ASSERT_EQUAL(c.max_handshakes_per_source, 3);
    CU_ASSERT_EQUAL(c.handshake_lcores, 3);
    CU_ASSERT_EQUAL(c.stats_interval_ms, 2000);
    CU_ASSERT_EQUAL(c.cookie_rotate_ms, 90000);
    CU_ASSERT_FALSE(c.checksum_offload);
    CU_ASSERT_STRING_EQUAL(c.source, "full.yaml");
    CU_ASSERT_EQUAL(c.n_warnings, 0); /* only current names */
}

/* Durations on the current names need their unit; the old *_ms names take
 * the same syntax and a bare number in milliseconds, as they always did,
 * and each use is reported as deprecated with its line. */
static void test_duration_names(void)
{
    static const char *const names[][2] = {{"retransmit_initial", "retransmit_initial_ms"},
                                           {"retransmit_max", "retransmit_max_ms"},
                                           {"idle_timeout", "idle_timeout_ms"},
                                           {"handshake_timeout", "handshake_timeout_ms"},
                                           {"stats_interval", "stats_interval_ms"},
                                           {"cookie_rotate", "cookie_rotate_ms"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        bool top = i >= 4;
        const char *pre = top ? "" : "listeners:\n  - ";
        char yaml[256], err[GW_ERR_MAX_LEN], key[96];
        struct gw_config c;
        unsigned line = top ? 1 : 2;
        snprintf(key, sizeof(key), "%s%s", top ? "" : "listeners[0].", names[i][0]);
        /* new name: a unit is required */
        snprintf(yaml, sizeof(yaml), "%s%s: 9000\n", pre, names[i][0]);
        expect_err(yaml, line, key, "has no unit");
        snprintf(yaml, sizeof(yaml), "%s%s: 9s\n", pre, names[i][0]);
        gw_config_default(&c);
        CU_ASSERT_EQUAL(gw_config_load_string(&c, yaml, "n.yaml", err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(c.n_warnings, 0);
        /* old name: bare milliseconds, and a warning naming file, line, new name */
        snprintf(yaml, sizeof(yaml), "%s%s: 9000\n", pre, names[i][1]);
        gw_config_default(&c);
        CU_ASSERT_EQUAL(gw_config_load_string(&c, yaml, "o.yaml", err, sizeof(err)), 0);
        CU_ASSERT_EQUAL_FATAL(c.n_warnings, 1);
        char want[256];
        snprintf(want, sizeof(want), "o.yaml:%u: %s%s: deprecated name, use '%s'", line,
                 top ? "" : "listeners[0].", names[i][1], names[i][0]);
        CU_ASSERT_PTR_NOT_NULL(strstr(c.warnings[0], want));
        uint32_t got = i == 0   ? c.listeners[0].hs.retrans_initial_ms
                       : i == 1 ? c.listeners[0].hs.retrans_max_ms
                       : i == 2 ? c.listeners[0].idle_timeout_ms
                       : i == 3 ? c.listeners[0].hs.handshake_deadline_ms
                       : i == 4 ? c.stats_interval_ms
                                : c.cookie_rotate_ms;
        CU_ASSERT_EQUAL(got, 9000);
        /* both names in one mapping: the same setting twice */
        snprintf(yaml, sizeof(yaml), "%s%s: 9s\n%s%s: 9000\n", pre, names[i][0], top ? "" : "    ",
                 names[i][1]);
        snprintf(key, sizeof(key), "%s%s", top ? "" : "listeners[0].", names[i][1]);
        expect_err(yaml, line + 1, key, "the same setting as");
    }
    /* a failed load leaves no warnings behind, a later good one only its own */
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL(gw_config_load_string(&c,
                                          "stats_interval_ms: 100\ncookie_rotate_ms: 2000\n"
                                          "listeners:\n  - idle_timeout_ms: 5s\n",
                                          "w.yaml", err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(c.n_warnings, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.warnings[2], "w.yaml:4: listeners[0].idle_timeout_ms"));
    CU_ASSERT_EQUAL(c.listeners[0].idle_timeout_ms, 5000);
    CU_ASSERT_EQUAL(gw_config_load_string(&c, "max_sessions: 5\n", "x.yaml", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n_warnings, 0);
}

/* The listeners' NAT ranges are one pool (a shared map of backend-side
 * ports): overlapping ranges count once. */
static void test_nat_ports(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL(gw_config_nat_ports(&c), 40000); /* 20000-59999 */
    CU_ASSERT_EQUAL(gw_config_load_string(&c,
                                          "listeners:\n  - {port: 4433, nat_ports: 20000-20999}\n"
                                          "  - {port: 4434, nat_ports: 20500-21499}\n"
                                          "  - {port: 4435, nat_ports: 65535-65535}\n",
                                          "n.yaml", err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(gw_config_nat_ports(&c), 1501);
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        uint32_t ms;
    } cases[] = {{"1", 1},
                 {"1500", 1500},
                 {"1500ms", 1500},
                 {"30s", 30000},
                 {"5m", 300000},
                 {"1h", 3600000},
                 {"0001", 1},
                 {"4294967295", 4294967295u},
                 {"1193h", 1193u * 3600000u}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_config c;
        char yaml[128], err[GW_ERR_MAX_LEN];
        snprintf(yaml, sizeof(yaml), "listeners:\n  - idle_timeout_ms: %s\n", cases[i].text);
        gw_config_default(&c);
        CU_ASSERT_EQUAL(gw_config_load_string(&c, yaml, "d.yaml", err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(c.listeners[0].idle_timeout_ms, cases[i].ms);
    }
    expect_err("listeners:\n  - idle_timeout_ms: 1194h\n", 2, "listeners[0].idle_timeout_ms",
               "too long");
    expect_err("listeners:\n  - idle_timeout_ms: 4294967296\n", 2, "listeners[0].idle_timeout_ms",
               "too long");
    expect_err("listeners:\n  - idle_timeout_ms: 10d\n", 2, "listeners[0].idle_timeout_ms",
               "unknown unit");
    expect_err("listeners:\n  - idle_timeout_ms: 0\n", 2, "listeners[0].idle_timeout_ms",
               "below the minimum");
    expect_err("listeners:\n  - idle_timeout_ms: -5s\n", 2, "listeners[0].idle_timeout_ms",
               "not a duration");
    expect_err("listeners:\n  - retransmit_max_ms: s\n", 2, "listeners[0].retransmit_max_ms",
               "not a duration");
    /* stats_interval_ms accepts 0 (off). */
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL(gw_config_load_string(&c, "stats_interval_ms: 0\n", "s", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.stats_interval_ms, 0);
    /* ports[].promiscuous: off unless configured (issue 8 finding 3). */
    gw_config_default(&c);
    CU_ASSERT_FALSE(c.ports[0].promiscuous);
    CU_ASSERT_EQUAL(gw_config_load_string(&c,
                                          "ports:\n  - {port_id: 0, address: 10.0.0.1/24}\n"
                                          "  - {port_id: 1, address: 10.0.1.1/24, "
                                          "promiscuous: true}\n",
                                          "s", err, sizeof(err)),
                    0);
    CU_ASSERT_FALSE(c.ports[0].promiscuous);
    CU_ASSERT_TRUE(c.ports[1].promiscuous);
    expect_err("ports:\n  - {port_id: 0, address: 10.0.0.1/24, promiscuous: often}\n", 2,
               "ports[0].promiscuous", "not a boolean");
    /* ports[].backend_udp_checksum: on unless configured off (issue 11). */
    CU_ASSERT_TRUE(c.ports[0].backend_udp_checksum);
    CU_ASSERT_TRUE(c.ports[1].backend_udp_checksum);
    gw_config_default(&c);
    CU_ASSERT_EQUAL(gw_config_load_string(&c,
                                          "ports:\n  - {port_id: 0, address: 10.0.0.1/24}\n"
                                          "  - {port_id: 1, address: 10.0.1.1/24, "
                                          "backend_udp_checksum: false}\n",
                                          "s", err, sizeof(err)),
                    0);
    CU_ASSERT_TRUE(c.ports[0].backend_udp_checksum);
    CU_ASSERT_FALSE(c.ports[1].backend_udp_checksum);
    expect_err("ports:\n  - {port_id: 0, address: 10.0.0.1/24, backend_udp_checksum: no way}\n", 2,
               "ports[0].backend_udp_checksum", "not a boolean");
    /* cookie_rotate_ms: default 60 s, at least 1 s (issue 8 finding 5). */
    gw_config_default(&c);
    CU_ASSERT_EQUAL(c.cookie_rotate_ms, 60000);
    CU_ASSERT_EQUAL(gw_config_load_string(&c, "cookie_rotate_ms: 2m\n", "s", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.cookie_rotate_ms, 120000);
    expect_err("cookie_rotate_ms: 999ms\n", 1, "cookie_rotate_ms", "");
    expect_err("cookie_rotate_ms: 0\n", 1, "cookie_rotate_ms", "");
}

static void test_syntax_errors(void)
{
    expect_err("ports:\n  - address: [1, 2\n", 3, "yaml", "");
    expect_err("a: b\n  c: d\n", 2, "yaml", "");
    expect_err("key: \"unterminated\n", 2, "yaml", "");
    expect_err("max_sessions: 5\n---\nmax_sessions: 6\n", 3, "yaml", "more than one document");
    expect_err("- 1\n- 2\n", 1, "", "expected a mapping");
    expect_err("just text\n", 1, "", "expected a mapping");
}

static void test_unknown_and_duplicate_keys(void)
{
    expect_err("max_sessions: 5\nmax_session: 6\n", 2, "max_session", "unknown key");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    adress: 1.2.3.4\n", 3, "ports[0].adress",
               "unknown key");
    expect_err("listeners:\n  - port: 1\n  - port: 2\n    bogus: 1\n", 4, "listeners[1].bogus",
               "unknown key");
    expect_err("max_sessions: 5\n\nmax_sessions: 6\n", 3, "max_sessions",
               "duplicate key (first at line 1)");
    expect_err("listeners:\n  - mtu: 1000\n    mtu: 1100\n", 3, "listeners[0].mtu", "duplicate");
    expect_err("? [a, b]\n: 1\n", 1, "", "keys must be plain words");
}

static void test_type_errors(void)
{
    expect_err("ports: 3\n", 1, "ports", "expected a list, got a scalar");
    expect_err("listeners:\n  a: 1\n", 2, "listeners", "expected a list, got a mapping");
    expect_err("ports:\n  - 1\n", 2, "ports[0]", "expected a mapping, got a scalar");
    expect_err("max_sessions: [1]\n", 1, "max_sessions", "expected a scalar, got a list");
    expect_err("control_socket:\n", 1, "control_socket", "missing value");
    expect_err("listeners:\n  - suites: {a: 1}\n", 2, "listeners[0].suites",
               "expected a list of suite names");
    expect_err("listeners:\n  - suites: []\n", 2, "listeners[0].suites", "empty suite list");
}

static void test_value_errors(void)
{
    expect_err("max_sessions: lots\n", 1, "max_sessions", "not a number");
    expect_err("max_sessions: -1\n", 1, "max_sessions", "not a number");
    expect_err("max_sessions: 0x10\n", 1, "max_sessions", "not a number");
    expect_err("max_sessions: 0\n", 1, "max_sessions", "out of range");
    expect_err("max_handshakes: 0\n", 1, "max_handshakes", "out of range 1..16777216");
    expect_err("max_handshakes: 16777217\n", 1, "max_handshakes", "out of range");
    expect_err("max_handshakes: many\n", 1, "max_handshakes", "not a number");
    expect_err("max_handshakes_per_source: 0\n", 1, "max_handshakes_per_source",
               "out of range 1..");
    expect_err("max_handshakes_per_source: [2]\n", 1, "max_handshakes_per_source",
               "expected a scalar, got a list");
    expect_err("handshake_lcores: 0\n", 1, "handshake_lcores", "out of range 1..16");
    expect_err("handshake_lcores: 17\n", 1, "handshake_lcores", "out of range 1..16");
    expect_err("max_sessions: 99999999999999999999999\n", 1, "max_sessions", "not a number");
    expect_err("checksum_offload: maybe\n", 1, "checksum_offload", "not a boolean");
    expect_err("ports:\n  - port_id: 70000\n    address: 10.0.0.1/24\n", 2, "ports[0].port_id",
               "out of range 0..65535");
    expect_err("ports:\n  - address: 10.0.0.1\n", 2, "ports[0].address", "A.B.C.D/N");
    expect_err("ports:\n  - address: 10.0.0.300/24\n", 2, "ports[0].address", "A.B.C.D/N");
    expect_err("ports:\n  - address: 10.0.0.1/33\n", 2, "ports[0].address", "out of range 1..32");
    expect_err("ports:\n  - address: 10.0.0.1/0\n", 2, "ports[0].address", "out of range 1..32");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    gateway: gw\n", 3, "ports[0].gateway",
               "not an IPv4 address");
    expect_err("listeners:\n  - address: 1.2.3\n", 2, "listeners[0].address",
               "not an IPv4 address");
    expect_err("listeners:\n  - port: 0\n", 2, "listeners[0].port", "out of range 1..65535");
    expect_err("listeners:\n  - backend: 10.0.1.2\n", 2, "listeners[0].backend", "A.B.C.D:PORT");
    expect_err("listeners:\n  - backend: 10.0.1.2:70000\n", 2, "listeners[0].backend",
               "out of range");
    expect_err("listeners:\n  - backend: host:80\n", 2, "listeners[0].backend", "A.B.C.D:PORT");
    expect_err("listeners:\n  - nat_ports: 5000\n", 2, "listeners[0].nat_ports", "LO-HI");
    expect_err("listeners:\n  - nat_ports: 6000-5000\n", 2, "listeners[0].nat_ports", "LO <= HI");
    expect_err("listeners:\n  - nat_ports: 0-5000\n", 2, "listeners[0].nat_ports", "LO <= HI");
    expect_err("listeners:\n  - nat_ports: 1-65536\n", 2, "listeners[0].nat_ports", "LO <= HI");
    expect_err("listeners:\n  - client_auth: always\n", 2, "listeners[0].client_auth",
               "none, optional, require");
    expect_err("listeners:\n  - mtu: 100\n", 2, "listeners[0].mtu", "out of range 256..16384");
    expect_err("listeners:\n  - replay_window: 100\n", 2, "listeners[0].replay_window",
               "not a multiple of 64");
    expect_err("listeners:\n  - replay_window: 16384\n", 2, "listeners[0].replay_window",
               "out of range 64..8192");
    expect_err("listeners:\n  - cookie: 2\n", 2, "listeners[0].cookie", "not a boolean");
    expect_err("listeners:\n  - suites:\n    - TLS_PSK_WITH_AES_128_CCM_8\n"
               "    - TLS_RSA_WITH_RC4_128_MD5\n",
               4, "listeners[0].suites", "unknown or unsupported cipher suite");
    expect_err("listeners:\n  - suites: [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CCM_8]\n",
               2, "listeners[0].suites", "listed twice");
    char yaml[600];
    snprintf(yaml, sizeof(yaml), "listeners:\n  - name: %0*d\n", 40, 7);
    expect_err(yaml, 2, "listeners[0].name", "longer than 31 bytes");
    snprintf(yaml, sizeof(yaml), "control_socket: /%0*d\n", 110, 7);
    expect_err(yaml, 1, "control_socket", "longer than 107 bytes");
}

static void test_limits_and_required(void)
{
    expect_err("ports:\n  - name: x\n", 2, "ports[0]", "missing required key 'address'");
    expect_err("ports: []\n", 1, "ports", "at least one port");
    expect_err("listeners: []\n", 1, "listeners", "at least one listener");
    char yaml[2048];
    int n = snprintf(yaml, sizeof(yaml), "ports:\n");
    for (int i = 0; i < GW_MAX_PORTS + 1; i++)
        n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "  - address: 10.0.%d.1/24\n", i);
    expect_err(yaml, 2 + GW_MAX_PORTS, "ports[4]", "more than 4 ports");
    n = snprintf(yaml, sizeof(yaml), "# c\nlisteners:\n");
    for (int i = 0; i < GW_MAX_LISTENERS + 1; i++)
        n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "  - port: %d\n", 1000 + i);
    expect_err(yaml, 3 + GW_MAX_LISTENERS, "listeners[16]", "more than 16 listeners");
    n = snprintf(yaml, sizeof(yaml), "listeners:\n  - suites:\n");
    for (int i = 0; i < HS_MAX_SUITES + 1; i++)
        n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "    - TLS_PSK_WITH_AES_128_CCM_8\n");
    expect_err(yaml, 3 + HS_MAX_SUITES, "listeners[0].suites", "more than 32 suites");
}

static void test_load_file(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN], path[192];
    snprintf(path, sizeof(path), "%s/gw.yaml", tmpdir);
    write_file(path, "max_sessions: 77\nlisteners:\n  - port: 9\n    mtu: 10\n");
    gw_config_default(&c);
    CU_ASSERT(gw_config_load(&c, path, err, sizeof(err)) < 0);
    char want[256];
    snprintf(want, sizeof(want), "%s:4: listeners[0].mtu: ", path);
    CU_ASSERT(strncmp(err, want, strlen(want)) == 0);
    CU_ASSERT_EQUAL(c.max_sessions, 65536); /* untouched on error */

    write_file(path, "max_sessions: 77\n");
    CU_ASSERT_EQUAL(gw_config_load(&c, path, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.max_sessions, 77);
    CU_ASSERT_STRING_EQUAL(c.source, path);

    snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
    CU_ASSERT_EQUAL(gw_config_load(&c, path, err, sizeof(err)), CR_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing.yaml:0: config: cannot open"));
    /* A NULL/zero error buffer is allowed. */
    CU_ASSERT(gw_config_load_string(&c, "bogus: 1\n", "x", NULL, 0) < 0);
    CU_ASSERT_EQUAL(gw_config_load_string(&c, NULL, "x", err, sizeof(err)), CR_ERR_INVAL);
}

/* ---- validation ------------------------------------------------------- */

static int load_and_validate(const char *fmt, char *err, size_t err_len)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), fmt, psk_path, cert_path, key_path, ca_path);
    struct gw_config c;
    gw_config_default(&c);
    int rc = gw_config_load_string(&c, yaml, "v.yaml", err, (unsigned)err_len);
    if (rc < 0) {
        printf("\n  parse failed: %s\n", err);
        return 1000;
    }
    return gw_config_validate(&c, err, (unsigned)err_len);
}

static void expect_valid_err(const char *fmt, unsigned line, const char *key, const char *what)
{
    char err[GW_ERR_MAX_LEN], prefix[128];
    int rc = load_and_validate(fmt, err, sizeof(err));
    CU_ASSERT(rc < 0);
    snprintf(prefix, sizeof(prefix), "v.yaml:%u: %s: ", line, key);
    if (rc >= 0 || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        printf("\n  want: %s...%s\n  got:  %s (rc %d)\n", prefix, what, err, rc);
        CU_FAIL("validation message mismatch");
    }
}

/* The format always receives psk, cert, key, ca paths in that order. */
#define TWO_PORTS "ports:\n  - address: 10.0.0.1/24\n  - address: 10.0.1.1/24\n    port_id: 1\n"

/* Issue 11: ports[].nat_addresses, parsed (range, one address, a count
 * from the port's address) and validated with the key's line. */
#define POOL_PORTS(pool)                                                                           \
    "ports:\n  - address: 10.0.0.1/24\n  - address: 10.0.1.1/24\n    port_id: 1\n"                 \
    "    nat_addresses: " pool "\nlisteners:\n  - psk_file: %s\n"

static void test_nat_addresses(void)
{
    char err[GW_ERR_MAX_LEN];
    struct gw_config c;
    uint32_t first, n;
    gw_config_default(&c);
    gw_port_nat_pool(&c.ports[0], &first, &n); /* default: the address alone */
    CU_ASSERT_EQUAL(first, c.ports[0].ipv4);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(gw_config_nat_slots(&c), 40000);
    CU_ASSERT_EQUAL(gw_config_load_string(&c,
                                          "ports:\n  - address: 10.0.0.1/24\n"
                                          "  - {address: 10.0.2.1/24, port_id: 1, "
                                          "nat_addresses: \"10.0.2.10-10.0.2.25\"}\n"
                                          "  - {address: 10.0.3.1/24, port_id: 2, "
                                          "nat_addresses: 10.0.3.7}\n"
                                          "  - {address: 10.0.4.1/24, port_id: 3, "
                                          "nat_addresses: 4}\n",
                                          "x.yaml", err, sizeof(err)),
                    0);
    gw_port_nat_pool(&c.ports[1], &first, &n);
    CU_ASSERT_EQUAL(first, 0x0a00020a);
    CU_ASSERT_EQUAL(n, 16);
    gw_port_nat_pool(&c.ports[2], &first, &n);
    CU_ASSERT_EQUAL(first, 0x0a000307);
    CU_ASSERT_EQUAL(n, 1);
    gw_port_nat_pool(&c.ports[3], &first, &n);
    CU_ASSERT_EQUAL(first, 0x0a000401); /* from the port's address on */
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_EQUAL(gw_config_nat_slots(&c), (uint64_t)(1 + 16 + 1 + 4) * 40000);

    expect_err("ports:\n  - address: 10.0.0.1/24\n    nat_addresses: 10.0.0.x\n", 3,
               "ports[0].nat_addresses", "not an IPv4 address");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    nat_addresses: 10.0.0.9-10.0.0.x\n", 3,
               "ports[0].nat_addresses", "not an address range");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    nat_addresses: 10.0.0.9-10.0.0.8\n", 3,
               "ports[0].nat_addresses", "range is empty");
    expect_err("ports:\n  - address: 10.0.0.1/16\n    nat_addresses: 10.0.0.9-10.0.1.9\n", 3,
               "ports[0].nat_addresses", "holds 257 addresses, at most 256");
    expect_err("ports:\n  - address: 10.0.0.1/16\n    nat_addresses: 0\n", 3,
               "ports[0].nat_addresses", "out of range 1..256");
    expect_err("ports:\n  - address: 10.0.0.1/16\n    nat_addresses: 257\n", 3,
               "ports[0].nat_addresses", "out of range 1..256");

    CU_ASSERT_EQUAL(load_and_validate(POOL_PORTS("10.0.1.10-10.0.1.25"), err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(load_and_validate(POOL_PORTS("10.0.1.1-10.0.1.1"), err, sizeof(err)), 0);
    expect_valid_err(POOL_PORTS("10.0.1.200-10.0.2.3"), 5, "ports[1].nat_addresses",
                     "not inside the port's subnet /24");
    expect_valid_err(POOL_PORTS("10.0.2.10-10.0.2.12"), 5, "ports[1].nat_addresses",
                     "not inside the port's subnet /24");
    expect_valid_err(POOL_PORTS("10.0.1.250-10.0.1.255"), 5, "ports[1].nat_addresses",
                     "network or broadcast");
    expect_valid_err(POOL_PORTS("10.0.1.0-10.0.1.1"), 5, "ports[1].nat_addresses",
                     "network or broadcast");
    expect_valid_err(POOL_PORTS("10.0.1.1-10.0.1.5"), 5, "ports[1].nat_addresses",
                     "contains the backend of listeners[0]");
    expect_valid_err(POOL_PORTS("255"), 5, "ports[1].nat_addresses", "broadcast");
    expect_valid_err("ports:\n  - address: 10.0.1.5/16\n  - address: 10.0.1.1/24\n    port_id: 1\n"
                     "    nat_addresses: 10.0.1.2-10.0.1.9\nlisteners:\n  - psk_file: %s\n"
                     "    backend: 10.0.9.9:5683\n",
                     5, "ports[1].nat_addresses", "contains the address of ports[0]");
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n  - address: 10.0.1.1/24\n    port_id: 1\n"
                     "    gateway: 10.0.1.254\n    nat_addresses: 10.0.1.250-10.0.1.254\n"
                     "listeners:\n  - psk_file: %s\n",
                     6, "ports[1].nat_addresses", "contains the gateway of ports[1]");
    expect_valid_err("ports:\n  - address: 10.0.0.1/16\n    nat_addresses: 10.0.1.5-10.0.1.9\n"
                     "  - address: 10.0.1.1/24\n    port_id: 1\n"
                     "    nat_addresses: 10.0.1.9-10.0.1.12\nlisteners:\n  - psk_file: %s\n"
                     "    backend: 10.0.9.9:5683\n",
                     6, "ports[1].nat_addresses", "overlaps the pool of ports[0]");
    /* a listener on a pool address whose port is a NAT port */
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n    nat_addresses: 10.0.0.1-10.0.0.3\n"
                     "listeners:\n  - psk_file: %s\n  - psk_file: %s\n    port: 4434\n"
                     "    nat_ports: 4000-5000\n    backend: 10.0.0.9:5683\n",
                     3, "ports[0].nat_addresses",
                     "contains the address of listeners[0], whose port 4433 is in "
                     "listeners[1].nat_ports 4000-5000");
}

static void test_validate(void)
{
    char err[GW_ERR_MAX_LEN];
    struct gw_config d;
    gw_config_default(&d);
    CU_ASSERT(gw_config_validate(&d, err, sizeof(err)) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "<defaults>:0: listeners[0]: no credentials"));

    /* lines:          1-4 ports, 5 listeners, 6 entry */
    CU_ASSERT_EQUAL(load_and_validate(TWO_PORTS "listeners:\n  - psk_file: %s\n    cert: %s\n"
                                                "    key: %s\n    ca_file: %s\n"
                                                "    client_auth: require\n",
                                      err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(load_and_validate(TWO_PORTS "listeners:\n  - psk_file: %s\n", err, sizeof(err)),
                    0);
    /* errors name the key at fault and its line */
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    address: 10.0.2.1\n", 7,
                     "listeners[0].address", "not one of the ports' addresses");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    cert: %s\n", 7,
                     "listeners[0].cert", "cert and key must be given together");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    cert2: %s\n    key2: %s\n", 7,
                     "listeners[0].cert2", "cert2 given without cert");
    expect_valid_err(TWO_PORTS "listeners:\n  - name: x\n", 6, "listeners[0]", "no credentials");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    client_auth: optional\n", 7,
                     "listeners[0].client_auth", "client_auth needs ca_file");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    retransmit_initial: 2m\n", 7,
                     "listeners[0].retransmit_initial",
                     "120000 ms must be in 1 ms..retransmit_max");
    /* under its old name: the same setting, at that key's line */
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    retransmit_initial_ms: 2m\n", 7,
                     "listeners[0].retransmit_initial", "must be in 1 ms..retransmit_max");
    /* top-level keys: at their own line too */
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\nmax_handshakes: 10\n"
                               "max_handshakes_per_source: 20\n",
                     8, "max_handshakes_per_source", "out of range 1..max_handshakes (10)");
    /* a key left at its default is reported at its entry's line */
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    port: 25000\n", 6,
                     "listeners[0].nat_ports", "contain the listening port 25000");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    port: 25000\n"
                               "    nat_ports: 20000-30000\n",
                     8, "listeners[0].nat_ports", "contain the listening port 25000");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n  - psk_file: %s\n", 7,
                     "listeners[1].port", "already used by listeners[0]");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s.gone\n", 6, "listeners[0].psk_file",
                     "cannot read");
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    cert: %s\n    key: %s.gone\n", 8,
                     "listeners[0].key", "cannot read");
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n  - address: 10.0.1.1/24\n"
                     "    port_id: 0\nlisteners:\n  - psk_file: %s\n",
                     4, "ports[1].port_id", "port_id 0 already used by ports[0]");
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n  - address: 10.0.0.1/16\n    port_id: 3\n"
                     "listeners:\n  - psk_file: %s\n",
                     3, "ports[1].address", "address already used by ports[0]");
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n    gateway: 10.0.5.1\n"
                     "listeners:\n  - psk_file: %s\n",
                     3, "ports[0].gateway", "gateway is not another host");

    /* Defaults from gw_config_default() plus a PSK file validate. */
    snprintf(d.listeners[0].psk_file, sizeof(d.listeners[0].psk_file), "%s", psk_path);
    CU_ASSERT_EQUAL(gw_config_validate(&d, err, sizeof(err)), 0);
    d.max_sessions = 0;
    CU_ASSERT(gw_config_validate(&d, err, sizeof(err)) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_sessions"));
    d.max_sessions = 100;
    /* The per-source limit cannot exceed the total. */
    d.max_handshakes = 8;
    d.max_handshakes_per_source = 9;
    CU_ASSERT(gw_config_validate(&d, err, sizeof(err)) < 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "max_handshakes_per_source: 9 out of range 1..max_handshakes (8)"));
    d.max_handshakes_per_source = 8;
    CU_ASSERT_EQUAL(gw_config_validate(&d, err, sizeof(err)), 0);
    d.max_handshakes = 0;
    CU_ASSERT(gw_config_validate(&d, err, sizeof(err)) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_handshakes: 0 out of range"));
}

/* ---- a listener's certs list ---------------------------------------- */

static int validate_text(const char *yaml, char *err, size_t err_len)
{
    struct gw_config c;
    gw_config_default(&c);
    int rc = gw_config_load_string(&c, yaml, "c.yaml", err, (unsigned)err_len);
    if (rc < 0) {
        printf("\n  parse failed: %s\n", err);
        return 1000;
    }
    return gw_config_validate(&c, err, (unsigned)err_len);
}

/* ---- hitless restart: state_file and its key -------------------------- */

static void expect_state_err(const char *yaml, unsigned line, const char *key, const char *what)
{
    char err[GW_ERR_MAX_LEN], prefix[128];
    int rc = validate_text(yaml, err, sizeof(err));
    snprintf(prefix, sizeof(prefix), "c.yaml:%u: %s: ", line, key);
    if (rc >= 0 || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        printf("\n  want: %s...%s\n  got:  %s (rc %d)\n", prefix, what, err, rc);
        CU_FAIL("state validation message mismatch");
    }
}

static void test_state_keys(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN], yaml[1024], key_ok[200], key_open[200], key_short[200];
    gw_config_default(&c);
    CU_ASSERT_STRING_EQUAL(c.state_file, "");
    CU_ASSERT_EQUAL(c.state_max_age_ms, 300000);
    CU_ASSERT_EQUAL(c.state_seq_skip, 1048576);
    snprintf(key_ok, sizeof(key_ok), "%s/state.key", tmpdir);
    snprintf(key_open, sizeof(key_open), "%s/state-open.key", tmpdir);
    snprintf(key_short, sizeof(key_short), "%s/state-short.key", tmpdir);
    char k48[49];
    memset(k48, 'k', 48);
    k48[48] = 0;
    write_file(key_ok, k48);
    write_file(key_open, k48);
    write_file(key_short, "short");
    chmod(key_ok, 0600);
    chmod(key_open, 0644);
    chmod(key_short, 0600);

    snprintf(yaml, sizeof(yaml),
             "listeners:\n  - psk_file: %s\nstate_file: %s/gw.state\nstate_key_file: %s\n"
             "state_max_age: 90s\nstate_seq_skip: 4096\n",
             psk_path, tmpdir, key_ok);
    gw_config_default(&c);
    CU_ASSERT_EQUAL_FATAL(gw_config_load_string(&c, yaml, "c.yaml", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.state_max_age_ms, 90000);
    CU_ASSERT_EQUAL(c.state_seq_skip, 4096);
    CU_ASSERT(strstr(c.state_file, "/gw.state") != NULL);
    CU_ASSERT_STRING_EQUAL(c.state_key_file, key_ok);
    CU_ASSERT_EQUAL(gw_config_validate(&c, err, sizeof(err)), 0);

    expect_err("state_seq_skip: 0\n", 1, "state_seq_skip", "out of range 1..1099511627776");
    expect_err("state_seq_skip: 1099511627777\n", 1, "state_seq_skip", "out of range");
    expect_err("state_max_age: 5\n", 1, "state_max_age", "has no unit");
    expect_err("state_max_age: 500ms\n", 1, "state_max_age", "below the minimum");
    expect_err("state_file: [a]\n", 1, "state_file", "expected a scalar");

    snprintf(yaml, sizeof(yaml), "listeners:\n  - psk_file: %s\nstate_file: %s/gw.state\n",
             psk_path, tmpdir);
    expect_state_err(yaml, 3, "state_file", "needs state_key_file");
    snprintf(yaml, sizeof(yaml), "listeners:\n  - psk_file: %s\nstate_key_file: %s\n", psk_path,
             key_ok);
    expect_state_err(yaml, 3, "state_key_file", "given without state_file");
    snprintf(yaml, sizeof(yaml),
             "listeners:\n  - psk_file: %s\nstate_file: %s/gw.state\nstate_key_file: %s\n",
             psk_path, tmpdir, key_open);
    expect_state_err(yaml, 4, "state_key_file", "");
    snprintf(yaml, sizeof(yaml),
             "listeners:\n  - psk_file: %s\nstate_file: %s/gw.state\nstate_key_file: %s\n",
             psk_path, tmpdir, key_short);
    expect_state_err(yaml, 4, "state_key_file", "");
    snprintf(yaml, sizeof(yaml),
             "listeners:\n  - psk_file: %s\nstate_file: %s/gw.state\nstate_key_file: %s/none\n",
             psk_path, tmpdir, tmpdir);
    expect_state_err(yaml, 4, "state_key_file", "");
    snprintf(yaml, sizeof(yaml),
             "listeners:\n  - psk_file: %s\nstate_file: %s/no/such/dir/gw.state\n"
             "state_key_file: %s\n",
             psk_path, tmpdir, key_ok);
    expect_state_err(yaml, 3, "state_file", "cannot write into directory");
    unlink(key_ok);
    unlink(key_open);
    unlink(key_short);
}

static void expect_certs_err(const char *yaml, unsigned line, const char *key, const char *what)
{
    char err[GW_ERR_MAX_LEN], prefix[128];
    int rc = validate_text(yaml, err, sizeof(err));
    CU_ASSERT(rc < 0);
    snprintf(prefix, sizeof(prefix), "c.yaml:%u: %s: ", line, key);
    if (rc >= 0 || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        printf("\n  want: %s...%s\n  got:  %s (rc %d)\n", prefix, what, err, rc);
        CU_FAIL("validation message mismatch");
    }
}

/* `certs: [{cert, key}, ...]` beside cert/key and cert2/key2: parsed in
 * order with the lines of its keys; parse and validation errors name
 * listeners[i].certs[j](.cert|.key) and the line. */
static void test_certs_list(void)
{
    static const char *const yaml = "listeners:\n"                          /* 1 */
                                    "  - psk_file: /etc/dtlsgw/psk.txt\n"   /* 2 */
                                    "    cert: /etc/dtlsgw/rsa.pem\n"       /* 3 */
                                    "    key: /etc/dtlsgw/rsa.key\n"        /* 4 */
                                    "    certs:\n"                          /* 5 */
                                    "      - cert: /etc/dtlsgw/p256.pem\n"  /* 6 */
                                    "        key: /etc/dtlsgw/p256.key\n"   /* 7 */
                                    "      - {key: /etc/dtlsgw/p384.key,\n" /* 8 */
                                    "         cert: /etc/dtlsgw/p384.pem}\n";
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL_FATAL(gw_config_load_string(&c, yaml, "t.yaml", err, sizeof(err)), 0);
    const struct gw_listener_cfg *l = &c.listeners[0];
    CU_ASSERT_STRING_EQUAL(l->cert_file, "/etc/dtlsgw/rsa.pem");
    CU_ASSERT_EQUAL(l->n_certs, 2);
    CU_ASSERT_STRING_EQUAL(l->certs[0].cert_file, "/etc/dtlsgw/p256.pem");
    CU_ASSERT_STRING_EQUAL(l->certs[0].key_file, "/etc/dtlsgw/p256.key");
    CU_ASSERT_STRING_EQUAL(l->certs[1].cert_file, "/etc/dtlsgw/p384.pem");
    CU_ASSERT_STRING_EQUAL(l->certs[1].key_file, "/etc/dtlsgw/p384.key");
    CU_ASSERT_EQUAL(l->certs[0].src_line, 6);
    CU_ASSERT_EQUAL(l->certs[1].cert_line, 9);
    CU_ASSERT_EQUAL(l->certs[1].key_line, 8);
    CU_ASSERT_EQUAL(l->key_line[GW_LKEY_CERTS], 5);

    /* parse errors */
    expect_err("listeners:\n  - certs: /x.pem\n", 2, "listeners[0].certs",
               "expected a list of {cert: PATH, key: PATH}, got a scalar");
    expect_err("listeners:\n  - certs: []\n", 2, "listeners[0].certs", "empty certificate list");
    expect_err("listeners:\n  - certs:\n      - cert: /a.pem\n", 3, "listeners[0].certs[0]",
               "missing required key 'key'");
    expect_err("listeners:\n  - certs:\n      - {cert: /a.pem, key: /a.key}\n      - key: /b\n", 4,
               "listeners[0].certs[1]", "missing required key 'cert'");
    expect_err("listeners:\n  - certs:\n      - cert: /a.pem\n        crt: /a.key\n", 4,
               "listeners[0].certs[0].crt", "unknown key");
    expect_err("listeners:\n  - certs:\n      - /a.pem\n", 3, "listeners[0].certs[0]",
               "expected a mapping");
    expect_err("listeners:\n  - certs:\n      - {cert: /a, key: /a}\n      - {cert: /b, key: /b}\n"
               "      - {cert: /c, key: /c}\n      - {cert: /d, key: /d}\n",
               6, "listeners[0].certs[3]", "more than 3 certificates");

    /* validation: four certificates in all, unreadable files, the same
     * certificate twice; lines of the key at fault */
    char f[6][160], text[2048];
    for (unsigned i = 0; i < 6; i++) {
        snprintf(f[i], sizeof(f[i]), "%s/c%u.pem", tmpdir, i);
        write_file(f[i], "x\n");
    }
    snprintf(text, sizeof(text),
             "listeners:\n  - certs:\n      - cert: %s\n        key: %s\n"
             "      - cert: %s\n        key: %s\n",
             f[0], f[1], f[2], f[3]);
    CU_ASSERT_EQUAL(validate_text(text, err, sizeof(err)), 0); /* certs alone are credentials */
    snprintf(text, sizeof(text),
             "listeners:\n  - cert: %s\n    key: %s\n    cert2: %s\n    key2: %s\n"
             "    certs:\n      - {cert: %s, key: %s}\n      - {cert: %s, key: %s}\n",
             f[0], f[1], f[2], f[3], f[4], f[5], f[4] /* dup, never reached */, f[5]);
    expect_certs_err(text, 6, "listeners[0].certs", "4 certificates with cert/cert2, at most 3");
    snprintf(text, sizeof(text),
             "listeners:\n  - cert: %s\n    key: %s\n    certs:\n"
             "      - cert: %s\n        key: %s\n      - cert: %s\n        key: %s.gone\n",
             f[0], f[1], f[2], f[3], f[4], f[5]);
    expect_certs_err(text, 8, "listeners[0].certs[1].key", "cannot read");
    snprintf(text, sizeof(text),
             "listeners:\n  - certs:\n      - cert: %s\n        key: %s\n"
             "      - cert: %s.gone\n        key: %s\n",
             f[0], f[1], f[2], f[3]);
    expect_certs_err(text, 5, "listeners[0].certs[1].cert", "cannot read");
    snprintf(text, sizeof(text),
             "listeners:\n  - cert: %s\n    key: %s\n    certs:\n"
             "      - {cert: %s, key: %s}\n",
             f[0], f[1], f[0], f[1]);
    expect_certs_err(text, 5, "listeners[0].certs[0].cert", "already given as cert");
    snprintf(text, sizeof(text),
             "listeners:\n  - certs:\n      - {cert: %s, key: %s}\n"
             "      - cert: %s\n        key: %s\n",
             f[0], f[1], f[0], f[2]);
    expect_certs_err(text, 4, "listeners[0].certs[1].cert", "already given as an earlier certs");
    for (unsigned i = 0; i < 6; i++)
        unlink(f[i]);
}

/* metrics_listen: off by default, A.B.C.D:PORT or off, errors as file:line: key */
static void test_metrics_listen(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL(c.metrics_port, 0);
    CU_ASSERT_EQUAL(
        gw_config_load_string(&c, "metrics_listen: 127.0.0.1:9464\n", "m.yaml", err, sizeof(err)),
        0);
    CU_ASSERT_EQUAL(c.metrics_ipv4, 0x7f000001u);
    CU_ASSERT_EQUAL(c.metrics_port, 9464);
    CU_ASSERT_EQUAL(gw_config_load_string(&c, "metrics_listen: off\n", "m.yaml", err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(c.metrics_port, 0);
    expect_err("max_sessions: 10\nmetrics_listen: 127.0.0.1\n", 2, "metrics_listen",
               "not an address and port");
    expect_err("metrics_listen: 127.0.0.1:0\n", 1, "metrics_listen", "out of range");
    expect_err("metrics_listen: [1]\n", 1, "metrics_listen", "expected a scalar");
}

/* capture: a boolean, default off; gw_config_check_capture refuses the EAL
 * modes in which dpdk-pdump (a secondary process) cannot attach, naming
 * the key's line and the option, and accepts everything without capture;
 * gw_eal_no_shconf_option finds the options (and their abbreviations)
 * before `--` only. */
static void test_capture(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    const struct gw_eal_facts ok = {NULL, NULL, NULL};
    const struct gw_eal_facts nohuge = {NULL, "--no-huge", NULL};
    const struct gw_eal_facts noshconf = {NULL, NULL, "--in-memory"};
    const struct gw_eal_facts secondary = {"--proc-type=secondary", NULL, NULL};

    gw_config_default(&c);
    CU_ASSERT_FALSE(c.capture);
    /* off: any EAL mode will do */
    CU_ASSERT_EQUAL(gw_config_check_capture(&c, &nohuge, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(gw_config_check_capture(&c, &noshconf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(
        gw_config_load_string(&c, "max_sessions: 100\ncapture: true\n", "c.yaml", err, sizeof(err)),
        0);
    CU_ASSERT(c.capture);
    CU_ASSERT_EQUAL(gw_config_check_capture(&c, &ok, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(err, "");

    CU_ASSERT_EQUAL(gw_config_check_capture(&c, &nohuge, err, sizeof(err)), CR_ERR_UNSUPPORTED);
    CU_ASSERT(strncmp(err, "c.yaml:2: capture: true needs hugepages", 39) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--no-huge"));
    CU_ASSERT_EQUAL(gw_config_check_capture(&c, &noshconf, err, sizeof(err)), CR_ERR_UNSUPPORTED);
    CU_ASSERT(strncmp(err, "c.yaml:2: capture: true needs the EAL's shared config", 53) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--in-memory turns it off"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--file-prefix"));
    CU_ASSERT_EQUAL(gw_config_check_capture(&c, &secondary, err, sizeof(err)), CR_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "primary process, not --proc-type=secondary"));
    CU_ASSERT_EQUAL(gw_config_check_capture(&c, NULL, err, sizeof(err)), CR_ERR_INVAL);

    CU_ASSERT_EQUAL(gw_config_load_string(&c, "capture: false\n", "c.yaml", err, sizeof(err)), 0);
    CU_ASSERT_FALSE(c.capture);
    expect_err("capture: sometimes\n", 1, "capture", "not a boolean");
    expect_err("capture: true\ncapture: true\n", 2, "capture", "duplicate");

    char *a1[] = {"dtlsgw", "-l", "0-2", "--no-shconf", "--file-prefix", "x", "--", "-c", "f"};
    CU_ASSERT_STRING_EQUAL(gw_eal_no_shconf_option(9, a1), "--no-shconf");
    char *a2[] = {"dtlsgw", "--in-mem", "--"};
    CU_ASSERT_STRING_EQUAL(gw_eal_no_shconf_option(3, a2), "--in-mem");
    char *a3[] = {"dtlsgw", "--no-s"};
    CU_ASSERT_STRING_EQUAL(gw_eal_no_shconf_option(2, a3), "--no-s");
    /* other options, too short to be one of them, or after `--` */
    char *a4[] = {"dtlsgw",       "--no-huge",  "--no-pci", "--no-",       "--in",
                  "--in-memoryx", "-no-shconf", "--",       "--no-shconf", NULL};
    CU_ASSERT_PTR_NULL(gw_eal_no_shconf_option(10, a4));
    char *a5[] = {"dtlsgw", NULL, "--no-shconf"}; /* stops at a NULL too */
    CU_ASSERT_PTR_NULL(gw_eal_no_shconf_option(3, a5));
    CU_ASSERT_PTR_NULL(gw_eal_no_shconf_option(0, a1));
}

/* RFC 5077 session tickets: per-listener switch and lifetime, key file
 * top-level or per listener, rotation of random keys. */
static void test_session_tickets(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN], yaml[2048];
    gw_config_default(&c);
    CU_ASSERT(c.listeners[0].session_tickets);
    CU_ASSERT_EQUAL(c.listeners[0].ticket_lifetime_ms, 2u * 3600 * 1000);
    CU_ASSERT_STRING_EQUAL(c.listeners[0].ticket_key_file, "");
    CU_ASSERT_STRING_EQUAL(c.ticket_key_file, "");
    CU_ASSERT_EQUAL(c.ticket_key_rotate_ms, 12u * 3600 * 1000);
    snprintf(yaml, sizeof(yaml),
             "ticket_key_file: %s\nticket_key_rotate: 1h\nlisteners:\n"
             "  - {psk_file: %s, session_tickets: false}\n"
             "  - {psk_file: %s, port: 4434, ticket_lifetime: 30m, ticket_key_file: %s}\n",
             ca_path, psk_path, psk_path, key_path);
    CU_ASSERT_EQUAL_FATAL(gw_config_load_string(&c, yaml, "t.yaml", err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.ticket_key_file, ca_path);
    CU_ASSERT_EQUAL(c.ticket_key_rotate_ms, 3600u * 1000);
    CU_ASSERT(!c.listeners[0].session_tickets);
    CU_ASSERT(c.listeners[1].session_tickets);
    CU_ASSERT_EQUAL(c.listeners[1].ticket_lifetime_ms, 30u * 60 * 1000);
    CU_ASSERT_STRING_EQUAL(c.listeners[1].ticket_key_file, key_path);
    CU_ASSERT_EQUAL(gw_config_validate(&c, err, sizeof(err)), 0);
    /* the session-ID cache: default, off, a size, the bound */
    CU_ASSERT_EQUAL(c.listeners[0].session_cache, 10000u);
    CU_ASSERT_EQUAL_FATAL(gw_config_load_string(&c,
                                                "listeners:\n  - session_cache: 0\n"
                                                "  - {port: 4434, session_cache: 500}\n",
                                                "t.yaml", err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(c.listeners[0].session_cache, 0u);
    CU_ASSERT_EQUAL(c.listeners[1].session_cache, 500u);
    expect_err("listeners:\n  - session_cache: 4194305\n", 2, "listeners[0].session_cache",
               "out of range 0..4194304");
    expect_err("listeners:\n  - session_cache: -1\n", 2, "listeners[0].session_cache", "");
    /* parse errors */
    expect_err("listeners:\n  - session_tickets: maybe\n", 2, "listeners[0].session_tickets", "");
    expect_err("listeners:\n  - ticket_lifetime: 500ms\n", 2, "listeners[0].ticket_lifetime",
               "below the minimum");
    expect_err("listeners:\n  - ticket_lifetime: 7200\n", 2, "listeners[0].ticket_lifetime",
               "has no unit");
    expect_err("ticket_key_rotate: 30s\n", 1, "ticket_key_rotate", "below the minimum");
    /* validation: lifetime range, what random keys can honour, files */
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    ticket_lifetime: 169h\n", 7,
                     "listeners[0].ticket_lifetime", "out of range 1s..7d");
    expect_valid_err(TWO_PORTS "ticket_key_rotate: 10m\nlisteners:\n  - psk_file: %s\n", 7,
                     "listeners[0].ticket_lifetime", "longer than the 3 older ticket keys last");
    CU_ASSERT_EQUAL(load_and_validate(TWO_PORTS "ticket_key_rotate: 10m\nlisteners:\n"
                                                "  - psk_file: %s\n    session_tickets: false\n",
                                      err, sizeof(err)),
                    0);
    expect_valid_err(TWO_PORTS "listeners:\n  - psk_file: %s\n    ticket_key_file: /nonexistent\n",
                     7, "listeners[0].ticket_key_file", "cannot read");
    expect_valid_err(TWO_PORTS "ticket_key_file: /nonexistent\nlisteners:\n  - psk_file: %s\n", 5,
                     "ticket_key_file", "cannot read");
}

/* Ports' IPv6 keys: address6 (global, with prefix) and gateway6; errors
 * at the key's line. */
static void test_ipv6_port_keys(void)
{
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL_FATAL(gw_config_load_string(&c,
                                                "ports:\n  - address: 10.0.0.1/24\n"
                                                "    address6: 2001:db8::1/64\n"
                                                "    gateway6: fe80::1\n"
                                                "  - address: 10.0.1.1/24\n    port_id: 1\n",
                                                "t.yaml", err, sizeof(err)),
                          0);
    static const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t want_gw[16] = {0xfe, 0x80, [15] = 1};
    CU_ASSERT(c.ports[0].has_ipv6);
    CU_ASSERT(memcmp(c.ports[0].ipv6, want, 16) == 0);
    CU_ASSERT_EQUAL(c.ports[0].prefix6_len, 64);
    CU_ASSERT(c.ports[0].has_gateway6);
    CU_ASSERT(memcmp(c.ports[0].gateway6, want_gw, 16) == 0);
    CU_ASSERT(!c.ports[1].has_ipv6);
    CU_ASSERT_EQUAL(c.ports[0].key_line[GW_PKEY_ADDRESS6], 3);

    expect_err("ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1\n", 3,
               "ports[0].address6", "with prefix");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::g/64\n", 3,
               "ports[0].address6", "with prefix");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1/129\n", 3,
               "ports[0].address6", "out of range 1..128");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    address6: fe80::1/64\n", 3,
               "ports[0].address6", "not a unicast global address");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    address6: ff02::1/64\n", 3,
               "ports[0].address6", "not a unicast global address");
    expect_err("ports:\n  - address: 10.0.0.1/24\n    gateway6: 10.0.0.2\n", 3, "ports[0].gateway6",
               "not an IPv6 address");

    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n    gateway6: fe80::1\n"
                     "listeners:\n  - psk_file: %s\n",
                     3, "ports[0].gateway6", "needs address6");
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1/64\n"
                     "    gateway6: 2001:db8:1::1\nlisteners:\n  - psk_file: %s\n",
                     4, "ports[0].gateway6", "neither link-local nor another host");
    expect_valid_err("ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1/64\n"
                     "  - address: 10.0.1.1/24\n    port_id: 1\n    address6: 2001:db8::1/64\n"
                     "listeners:\n  - psk_file: %s\n",
                     6, "ports[1].address6", "already used by ports[0]");
}

/* IPv6 addresses the gateway cannot exchange datagrams with are refused
 * at the key's line: as a backend ::, ::1, multicast, IPv4-mapped and
 * link-local (no zone); as a port's address6 the same; as gateway6 the
 * same except link-local, the usual router address (resolved by gw_nd
 * from the port's link-local address). */
static void test_ipv6_unusable_addresses(void)
{
    static const struct {
        const char *addr, *why;
    } bad[] = {
        {"::", "unspecified"},
        {"::1", "loopback"},
        {"ff02::1", "multicast"},
        {"ff0e::2", "multicast"},
        {"::ffff:10.0.1.2", "IPv4-mapped"},
        {"fe80::2", "link-local"},
        {"febf::2", "link-local"},
    };
    char yaml[512], what[64];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(yaml, sizeof(yaml), "listeners:\n  - backend: \"[%s]:7000\"\n", bad[i].addr);
        snprintf(what, sizeof(what), "'[%s]:7000': the address is", bad[i].addr);
        expect_err(yaml, 2, "listeners[0].backend", what);
        expect_err(yaml, 2, "listeners[0].backend", bad[i].why);
        snprintf(yaml, sizeof(yaml), "ports:\n  - address: 10.0.0.1/24\n    address6: \"%s/96\"\n",
                 bad[i].addr);
        expect_err(yaml, 3, "ports[0].address6", "not a unicast global address");
        expect_err(yaml, 3, "ports[0].address6", bad[i].why);
        if (strcmp(bad[i].why, "link-local") == 0)
            continue;
        snprintf(yaml, sizeof(yaml),
                 "ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1/64\n"
                 "    gateway6: \"%s\"\n",
                 bad[i].addr);
        snprintf(what, sizeof(what), "'%s' is", bad[i].addr);
        expect_err(yaml, 4, "ports[0].gateway6", what);
        expect_err(yaml, 4, "ports[0].gateway6", bad[i].why);
    }
    /* neither IPv4-mapped port address nor next hop inside its prefix */
    expect_err("ports:\n  - address: 10.0.0.1/24\n    address6: ::ffff:10.0.0.1/96\n"
               "    gateway6: ::ffff:10.0.0.2\n",
               3, "ports[0].address6", "IPv4-mapped");

    /* what is fine: a global backend, link-local and on-link gateway6 */
    struct gw_config c;
    char err[GW_ERR_MAX_LEN];
    gw_config_default(&c);
    CU_ASSERT_EQUAL(gw_config_load_string(&c,
                                          "ports:\n  - address: 10.0.0.1/24\n"
                                          "    address6: 2001:db8::1/64\n"
                                          "    gateway6: fe80::1\n"
                                          "  - address: 10.0.1.1/24\n    port_id: 1\n"
                                          "    address6: 2001:db8:1::1/64\n"
                                          "    gateway6: 2001:db8:1::fe\n"
                                          "listeners:\n  - backend: \"[2001:db8:1::2]:7000\"\n",
                                          "t.yaml", err, sizeof(err)),
                    0);
    static const uint8_t want_be[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 2};
    CU_ASSERT(c.listeners[0].backend_is_v6);
    CU_ASSERT(memcmp(c.listeners[0].backend_ipv6, want_be, 16) == 0);
    CU_ASSERT(c.ports[0].has_gateway6 && c.ports[0].gateway6[0] == 0xfe);
    CU_ASSERT(c.ports[1].has_gateway6 && c.ports[1].gateway6[15] == 0xfe);
}

/* Whether the gateway can have IPv6 clients (the session table's IPv6
 * part follows it): not on the defaults, an IPv4-only file, a port's
 * address6 alone or an IPv6 backend behind an IPv4 listener; yes with an
 * IPv6 listener. */
static void test_has_ipv6_clients(void)
{
    static const struct {
        const char *yaml;
        bool v6;
    } cases[] = {
        {"", false},
        {TWO_PORTS "listeners:\n  - {address: 10.0.0.1, backend: \"10.0.1.2:7000\"}\n", false},
        {"ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1/64\n"
         "  - address: 10.0.1.1/24\n    port_id: 1\n",
         false},
        {"ports:\n  - address: 10.0.0.1/24\n    address6: 2001:db8::1/64\n"
         "  - address: 10.0.1.1/24\n    port_id: 1\n"
         "listeners:\n  - {address: \"2001:db8::1\", backend: \"10.0.1.2:7000\"}\n",
         true},
        {"ports:\n  - address: 10.0.0.1/24\n"
         "  - address: 10.0.1.1/24\n    port_id: 1\n    address6: 2001:db8:1::1/64\n"
         "listeners:\n  - {address: 10.0.0.1, backend: \"[2001:db8:1::2]:7000\"}\n",
         false},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_config c;
        char err[GW_ERR_MAX_LEN];
        gw_config_default(&c);
        int rc = gw_config_load_string(&c, cases[i].yaml, "v6.yaml", err, sizeof(err));
        if (rc != 0)
            fprintf(stderr, "case %u: %s\n", i, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(gw_config_has_ipv6_clients(&c), cases[i].v6);
    }
    /* each kind alone, on a v4-only config */
    struct gw_config c;
    gw_config_default(&c);
    CU_ASSERT_FALSE(gw_config_has_ipv6_clients(&c));
    c.listeners[0].has_ipv6 = true;
    CU_ASSERT_TRUE(gw_config_has_ipv6_clients(&c));
    c.listeners[0].has_ipv6 = false;
    c.listeners[0].backend_is_v6 = true;
    CU_ASSERT_FALSE(gw_config_has_ipv6_clients(&c));
    c.listeners[0].backend_is_v6 = false;
    c.ports[c.n_ports - 1].has_ipv6 = true;
    CU_ASSERT_FALSE(gw_config_has_ipv6_clients(&c));
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_config", suite_init, suite_clean);
    CU_add_test(s, "IPv6 port keys (address6, gateway6)", test_ipv6_port_keys);
    CU_add_test(s, "IPv6 addresses the gateway cannot answer refused",
                test_ipv6_unusable_addresses);
    CU_add_test(s, "IPv6 clients: only an IPv6 listener has them", test_has_ipv6_clients);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "ports[].nat_addresses (issue 11)", test_nat_addresses);
    CU_add_test(s, "empty document keeps defaults", test_empty_keeps_defaults);
    CU_add_test(s, "full file, every key", test_full_file);
    CU_add_test(s, "durations", test_durations);
    CU_add_test(s, "duration keys: unit required, old *_ms names deprecated", test_duration_names);
    CU_add_test(s, "NAT ports of the listeners (one pool)", test_nat_ports);
    CU_add_test(s, "syntax errors with line", test_syntax_errors);
    CU_add_test(s, "unknown and duplicate keys", test_unknown_and_duplicate_keys);
    CU_add_test(s, "type errors", test_type_errors);
    CU_add_test(s, "value errors", test_value_errors);
    CU_add_test(s, "limits and required keys", test_limits_and_required);
    CU_add_test(s, "load from file", test_load_file);
    CU_add_test(s, "validate", test_validate);
    CU_add_test(s, "certs list", test_certs_list);
    CU_add_test(s, "metrics_listen", test_metrics_listen);
    CU_add_test(s, "state_file, state_key_file, state_max_age, state_seq_skip", test_state_keys);
    CU_add_test(s, "session tickets", test_session_tickets);
    CU_add_test(s, "capture and the EAL modes that rule it out", test_capture);
}
