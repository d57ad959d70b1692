/* test_testlib.c — tests/lib, the helpers the other tests stand on: the
 * address parser (good, bad and boundary input, table-driven), the
 * certificate minter (key types, subject, SAN, CA flags, a CA-signed leaf
 * verifies against its CA and not against another, PEM files and memory),
 * the clock and the process manager.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cu_main.h"
#include "tl_addr.h"
#include "tl_cert.h"
#include "tl_clock.h"
#include "tl_dq.h"
#include "tl_pair.h"
#include "tl_proc.h"

/* ---- address parser ------------------------------------------------------ */
static void test_addr_good(void)
{
    static const struct {
        const char *text;
        unsigned flags;
        int family;
        const char *ip;
        uint16_t port;
    } cases[] = {
        {"127.0.0.1:4433", 0, AF_INET, "127.0.0.1", 4433},
        {"10.77.0.1:1", 0, AF_INET, "10.77.0.1", 1},
        {"0.0.0.0:65535", 0, AF_INET, "0.0.0.0", 65535},
        {"255.255.255.255:00080", 0, AF_INET, "255.255.255.255", 80},
        {"10.0.0.2:0", TL_ADDR_PORT_ZERO, AF_INET, "10.0.0.2", 0},
        {"[::1]:5684", 0, AF_INET6, "::1", 5684},
        {"[2001:db8::7]:65535", 0, AF_INET6, "2001:db8::7", 65535},
        {"[::ffff:192.0.2.1]:1", 0, AF_INET6, "::ffff:192.0.2.1", 1},
        {"[::]:0", TL_ADDR_PORT_ZERO, AF_INET6, "::", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tl_addr a;
        char ip[INET6_ADDRSTRLEN];
        int rc = tl_addr_parse(cases[i].text, cases[i].flags, &a);
        CU_ASSERT_EQUAL(rc, TL_ADDR_OK);
        if (rc != TL_ADDR_OK) {
            fprintf(stderr, "testlib: '%s': %s\n", cases[i].text, tl_addr_strerror(rc));
            continue;
        }
        CU_ASSERT_EQUAL(a.family, cases[i].family);
        CU_ASSERT_EQUAL(a.port, cases[i].port);
        CU_ASSERT_EQUAL(a.u.sa.sa_family, cases[i].family);
        if (a.family == AF_INET) {
            CU_ASSERT_EQUAL(a.len, sizeof(struct sockaddr_in));
            CU_ASSERT_EQUAL(ntohs(a.u.in4.sin_port), cases[i].port);
            inet_ntop(AF_INET, &a.u.in4.sin_addr, ip, sizeof(ip));
        } else {
            CU_ASSERT_EQUAL(a.len, sizeof(struct sockaddr_in6));
            CU_ASSERT_EQUAL(ntohs(a.u.in6.sin6_port), cases[i].port);
            inet_ntop(AF_INET6, &a.u.in6.sin6_addr, ip, sizeof(ip));
        }
        CU_ASSERT_STRING_EQUAL(ip, cases[i].ip);
    }
    /* The IPv4-only form fills a sockaddr_in. */
    struct sockaddr_in in4;
    CU_ASSERT_EQUAL(tl_addr_parse_in4("192.0.2.7:7000", 0, &in4), TL_ADDR_OK);
    CU_ASSERT_EQUAL(in4.sin_family, AF_INET);
    CU_ASSERT_EQUAL(ntohs(in4.sin_port), 7000);
    CU_ASSERT_EQUAL(ntohl(in4.sin_addr.s_addr), 0xc0000207u);
    uint16_t port = 0;
    CU_ASSERT_EQUAL(tl_addr_parse_port("65535", 0, &port), TL_ADDR_OK);
    CU_ASSERT_EQUAL(port, 65535);
}

static void test_addr_bad(void)
{
    static const struct {
        const char *text;
        unsigned flags;
        int rc;
    } cases[] = {
        {NULL, 0, TL_ADDR_ERR_EMPTY},
        {"", 0, TL_ADDR_ERR_EMPTY},
        /* missing port */
        {"127.0.0.1", 0, TL_ADDR_ERR_NO_PORT},
        {"127.0.0.1:", 0, TL_ADDR_ERR_NO_PORT},
        {"[::1]", 0, TL_ADDR_ERR_NO_PORT},
        {"[::1]:", 0, TL_ADDR_ERR_NO_PORT},
        /* port boundaries */
        {"127.0.0.1:0", 0, TL_ADDR_ERR_PORT_RANGE},
        {"127.0.0.1:65536", 0, TL_ADDR_ERR_PORT_RANGE},
        {"127.0.0.1:65536", TL_ADDR_PORT_ZERO, TL_ADDR_ERR_PORT_RANGE},
        {"127.0.0.1:99999999999999999999999", 0, TL_ADDR_ERR_PORT_RANGE},
        {"[::1]:0", 0, TL_ADDR_ERR_PORT_RANGE},
        {"[::1]:65536", 0, TL_ADDR_ERR_PORT_RANGE},
        /* trailing junk and what atoi/strtol would have taken */
        {"127.0.0.1:80x", 0, TL_ADDR_ERR_BAD_PORT},
        {"127.0.0.1:80 ", 0, TL_ADDR_ERR_BAD_PORT},
        {"127.0.0.1: 80", 0, TL_ADDR_ERR_BAD_PORT},
        {"127.0.0.1:+80", 0, TL_ADDR_ERR_BAD_PORT},
        {"127.0.0.1:-1", 0, TL_ADDR_ERR_BAD_PORT},
        {"127.0.0.1:0x50", 0, TL_ADDR_ERR_BAD_PORT},
        {"[::1]x:80", 0, TL_ADDR_ERR_BAD_PORT},
        {"[::1]:80]", 0, TL_ADDR_ERR_BAD_PORT},
        /* bad addresses */
        {":80", 0, TL_ADDR_ERR_BAD_HOST},
        {"[]:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"localhost:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"256.0.0.1:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"1.2.3:80", 0, TL_ADDR_ERR_BAD_HOST},
        {" 1.2.3.4:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"[1.2.3.4]:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"[::1:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"[::g]:80", 0, TL_ADDR_ERR_BAD_HOST},
        {"::1:80", 0, TL_ADDR_ERR_V6_BRACKETS},
        {"1.2.3.4:80:81", 0, TL_ADDR_ERR_V6_BRACKETS},
        {"[::1]:80", TL_ADDR_IPV4_ONLY, TL_ADDR_ERR_FAMILY},
        {"1111111111111111111111111111111111111111111111111111111111111111:80", 0,
         TL_ADDR_ERR_TOO_LONG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tl_addr a;
        memset(&a, 0xa5, sizeof(a));
        int rc = tl_addr_parse(cases[i].text, cases[i].flags, &a);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "testlib: '%s': got %d (%s), want %d\n",
                    cases[i].text ? cases[i].text : "(null)", rc, tl_addr_strerror(rc),
                    cases[i].rc);
        /* nothing half-filled on failure */
        CU_ASSERT_EQUAL(a.family, 0);
        CU_ASSERT_EQUAL(a.port, 0);
        CU_ASSERT_EQUAL(a.len, 0);
        /* every code has its own sentence */
        CU_ASSERT(strcmp(tl_addr_strerror(rc), tl_addr_strerror(TL_ADDR_OK)) != 0);
        CU_ASSERT(strcmp(tl_addr_strerror(rc), tl_addr_strerror(-1000)) != 0);
    }
    struct sockaddr_in in4;
    CU_ASSERT_EQUAL(tl_addr_parse_in4("[::1]:80", 0, &in4), TL_ADDR_ERR_FAMILY);
    CU_ASSERT_EQUAL(in4.sin_family, 0);
    uint16_t port = 1;
    CU_ASSERT_EQUAL(tl_addr_parse_port("", 0, &port), TL_ADDR_ERR_NO_PORT);
    CU_ASSERT_EQUAL(tl_addr_parse_port("0", 0, &port), TL_ADDR_ERR_PORT_RANGE);
    CU_ASSERT_EQUAL(tl_addr_parse_port("0", TL_ADDR_PORT_ZERO, &port), TL_ADDR_OK);
    CU_ASSERT_EQUAL(port, 0);
    CU_ASSERT_EQUAL(tl_addr_parse_port("65536", TL_ADDR_PORT_ZERO, &port), TL_ADDR_ERR_PORT_RANGE);
    CU_ASSERT_EQUAL(tl_addr_parse_port("12a", 0, &port), TL_ADDR_ERR_BAD_PORT);
}

/* ---- certificate minter -------------------------------------------------- */
/* Whether x's subjectAltName holds an IP entry equal to ip4 (4 bytes) and
 * a DNS entry equal to dns. */
static bool san_has(X509 *x, const uint8_t ip4[4], const char *dns)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    bool ip_ok = false, dns_ok = false;
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4 &&
            memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip4, 4) == 0)
            ip_ok = true;
        if (g->type == GEN_DNS &&
            strcmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), dns) == 0)
            dns_ok = true;
    }
    GENERAL_NAMES_free(gens);
    return ip_ok && dns_ok;
}

static int verify_against(X509 *leaf, X509 *ca)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_add_cert(st, ca);
    X509_STORE_CTX_init(ctx, st, leaf, NULL);
    int ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return ok;
}

static void test_key_types(void)
{
    static const struct {
        enum tl_key_type type;
        int base_id;
        int bits;
        const char *group;
    } cases[] = {
        {TL_KEY_EC_P256, EVP_PKEY_EC, 256, "prime256v1"},
        {TL_KEY_EC_P384, EVP_PKEY_EC, 384, "secp384r1"},
        {TL_KEY_EC_P521, EVP_PKEY_EC, 521, "secp521r1"},
        {TL_KEY_RSA_1024, EVP_PKEY_RSA, 1024, NULL},
        {TL_KEY_RSA_2048, EVP_PKEY_RSA, 2048, NULL},
        {TL_KEY_RSA_3072, EVP_PKEY_RSA, 3072, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EVP_PKEY *k = tl_key_new(cases[i].type);
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(k), cases[i].base_id);
        CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), cases[i].bits);
        if (cases[i].group != NULL) {
            char g[64] = "";
            CU_ASSERT_EQUAL(EVP_PKEY_get_group_name(k, g, sizeof(g), NULL), 1);
            CU_ASSERT_STRING_EQUAL(g, cases[i].group);
        }
        EVP_PKEY_free(k);
    }
    CU_ASSERT_PTR_NULL(tl_key_new((enum tl_key_type)99));
}

static void test_mint_self_signed(void)
{
    static const uint8_t lo[4] = {127, 0, 0, 1};
    struct tl_cred c;
    const struct tl_cert_opts o = {.cn = "localhost",
                                   .org = "dtlsgw test",
                                   .serial = 42,
                                   .san = "IP:127.0.0.1,DNS:localhost",
                                   .key_ids = true};
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&c, TL_KEY_EC_P256, &o, NULL), 0);
    CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(X509_get0_pubkey(c.cert)), EVP_PKEY_EC);
    CU_ASSERT_EQUAL(X509_check_private_key(c.cert, c.key), 1);
    CU_ASSERT_EQUAL(X509_get_version(c.cert), 2);
    CU_ASSERT_EQUAL(ASN1_INTEGER_get(X509_get0_serialNumber(c.cert)), 42);
    char subj[128];
    X509_NAME_oneline(X509_get_subject_name(c.cert), subj, sizeof(subj));
    CU_ASSERT_STRING_EQUAL(subj, "/O=dtlsgw test/CN=localhost");
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(c.cert), X509_get_issuer_name(c.cert)), 0);
    CU_ASSERT(san_has(c.cert, lo, "localhost"));
    CU_ASSERT_EQUAL(X509_check_ip_asc(c.cert, "127.0.0.1", 0), 1);
    CU_ASSERT_EQUAL(X509_check_host(c.cert, "localhost", 0, 0, NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(c.cert));
    CU_ASSERT_EQUAL(X509_verify(c.cert, c.key), 1); /* self-signed */
    /* valid now, from about an hour ago, for about 30 days */
    CU_ASSERT(X509_cmp_current_time(X509_get0_notBefore(c.cert)) < 0);
    CU_ASSERT(X509_cmp_current_time(X509_get0_notAfter(c.cert)) > 0);
    int days = 0, secs = 0;
    CU_ASSERT_EQUAL(
        ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c.cert), X509_get0_notAfter(c.cert)), 1);
    CU_ASSERT_EQUAL(days, TL_CERT_DEFAULT_DAYS);
    CU_ASSERT_EQUAL(secs, TL_CERT_DEFAULT_BACKDATE_S);
    /* bare: neither basicConstraints nor keyUsage */
    CU_ASSERT_EQUAL(X509_get_ext_by_NID(c.cert, NID_basic_constraints, -1), -1);
    CU_ASSERT_EQUAL(X509_get_ext_by_NID(c.cert, NID_key_usage, -1), -1);
    tl_cred_free(&c);
    CU_ASSERT_PTR_NULL(c.key);

    /* RSA and P-384, fixed dates, extra extension text */
    static const char *const ext[] = {"extendedKeyUsage=serverAuth", "nsComment=padding", NULL};
    const struct tl_cert_opts f = {.cn = "fixed",
                                   .not_before = "20260101000000Z",
                                   .not_after = "20451231235959Z",
                                   .kind = TL_CERT_LEAF,
                                   .ext = ext};
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&c, TL_KEY_RSA_2048, &f, NULL), 0);
    CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(X509_get0_pubkey(c.cert)), EVP_PKEY_RSA);
    CU_ASSERT_EQUAL(ASN1_TIME_compare(X509_get0_notBefore(c.cert), X509_get0_notBefore(c.cert)), 0);
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_TIME_set_string(t, "20451231235959Z");
    CU_ASSERT_EQUAL(ASN1_TIME_compare(X509_get0_notAfter(c.cert), t), 0);
    ASN1_TIME_free(t);
    CU_ASSERT(X509_get_ext_by_NID(c.cert, NID_ext_key_usage, -1) >= 0);
    CU_ASSERT(X509_get_ext_by_NID(c.cert, NID_netscape_comment, -1) >= 0);
    CU_ASSERT_EQUAL(X509_check_ca(c.cert), 0);
    tl_cred_free(&c);
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&c, TL_KEY_EC_P384, &f, NULL), 0);
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(X509_get0_pubkey(c.cert)), 384);
    tl_cred_free(&c);

    /* bad input fails cleanly */
    static const char *const bad_ext[] = {"noSuchExtension=1", NULL};
    const struct tl_cert_opts b = {.cn = "x", .ext = bad_ext};
    CU_ASSERT_EQUAL(tl_cred_mint(&c, TL_KEY_EC_P256, &b, NULL), -1);
    CU_ASSERT_PTR_NULL(c.key);
    CU_ASSERT_PTR_NULL(c.cert);
    const struct tl_cert_opts nocn = {.san = "DNS:x"};
    CU_ASSERT_EQUAL(tl_cred_mint(&c, TL_KEY_EC_P256, &nocn, NULL), -1);
    const struct tl_cert_opts badsan = {.cn = "x", .san = "IP:not-an-ip"};
    CU_ASSERT_EQUAL(tl_cred_mint(&c, TL_KEY_EC_P256, &badsan, NULL), -1);
}

static void test_mint_ca_signed(void)
{
    static const uint8_t gw[4] = {10, 77, 0, 1};
    struct tl_cred ca, inter, leaf, other;
    const struct tl_cert_opts ca_o = {.cn = "testlib CA", .kind = TL_CERT_CA, .key_ids = true};
    const struct tl_cert_opts in_o = {.cn = "testlib inter", .kind = TL_CERT_CA, .serial = 2};
    const struct tl_cert_opts leaf_o = {.cn = "gateway",
                                        .kind = TL_CERT_LEAF,
                                        .serial = 3,
                                        .key_usage = "critical,digitalSignature",
                                        .san = "IP:10.77.0.1,DNS:gw.test",
                                        .key_ids = true};
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&ca, TL_KEY_EC_P256, &ca_o, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&other, TL_KEY_EC_P256, &ca_o, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&inter, TL_KEY_RSA_2048, &in_o, &ca), 0);
    CU_ASSERT_EQUAL_FATAL(tl_cred_mint(&leaf, TL_KEY_EC_P384, &leaf_o, &ca), 0);
    CU_ASSERT_EQUAL(X509_check_ca(ca.cert), 1);
    CU_ASSERT_EQUAL(X509_get_key_usage(ca.cert) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN),
                    KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    CU_ASSERT_EQUAL(X509_check_ca(leaf.cert), 0);
    CU_ASSERT_EQUAL(X509_get_key_usage(leaf.cert), KU_DIGITAL_SIGNATURE);
    CU_ASSERT(san_has(leaf.cert, gw, "gw.test"));
    /* issued by the CA: its name, its signature, its key id */
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(leaf.cert), X509_get_subject_name(ca.cert)),
                    0);
    CU_ASSERT_EQUAL(X509_check_issued(ca.cert, leaf.cert), X509_V_OK);
    CU_ASSERT_EQUAL(X509_verify(leaf.cert, ca.key), 1);
    CU_ASSERT_EQUAL(X509_verify(leaf.cert, leaf.key), 0);
    CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.cert),
                                          X509_get0_subject_key_id(ca.cert)),
                    0);
    /* chain verification: against the CA yes, against another CA no */
    CU_ASSERT_EQUAL(verify_against(leaf.cert, ca.cert), 1);
    CU_ASSERT_EQUAL(verify_against(inter.cert, ca.cert), 1);
    CU_ASSERT_EQUAL(verify_against(leaf.cert, other.cert), 0);

    /* PEM files: a chain file and a key file read back the same */
    char dir[] = "/tmp/dtlsgw-testlib-XXXXXX", chain[64], key[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(chain, sizeof(chain), "%s/chain.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    X509 *const certs[] = {leaf.cert, ca.cert};
    CU_ASSERT_EQUAL(tl_pem_write_certs(chain, certs, 2), 0);
    CU_ASSERT_EQUAL(tl_pem_write_key(key, leaf.key), 0);
    FILE *f = fopen(chain, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    X509 *r0 = PEM_read_X509(f, NULL, NULL, NULL), *r1 = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    CU_ASSERT(r0 && X509_cmp(r0, leaf.cert) == 0);
    CU_ASSERT(r1 && X509_cmp(r1, ca.cert) == 0);
    X509_free(r0);
    X509_free(r1);
    f = fopen(key, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EVP_PKEY *rk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    CU_ASSERT(rk && EVP_PKEY_eq(rk, leaf.key) == 1);
    EVP_PKEY_free(rk);
    CU_ASSERT_EQUAL(access(key, R_OK), 0);
    CU_ASSERT_EQUAL(tl_cred_write(&ca, chain, NULL), 0);
    CU_ASSERT(tl_pem_write_certs("/nonexistent/dir/x.pem", certs, 1) < 0);
    CU_ASSERT(tl_pem_write_key("/nonexistent/dir/x.key", leaf.key) < 0);
    unlink(chain);
    unlink(key);
    rmdir(dir);

    /* PEM in memory */
    size_t len = 0;
    char *pem = tl_pem_cert(leaf.cert, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pem);
    CU_ASSERT_EQUAL(strlen(pem), len);
    CU_ASSERT(strncmp(pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *back = PEM_read_bio_X509(b, NULL, NULL, NULL);
    CU_ASSERT(back && X509_cmp(back, leaf.cert) == 0);
    X509_free(back);
    BIO_free(b);
    free(pem);
    pem = tl_pem_key(leaf.key, NULL);
    CU_ASSERT(pem && strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
    free(pem);

    tl_cred_free(&ca);
    tl_cred_free(&other);
    tl_cred_free(&inter);
    tl_cred_free(&leaf);
}

/* ---- clock and processes ------------------------------------------------- */
static void test_clock(void)
{
    uint64_t ms0 = tl_mono_ms(), ns0 = tl_mono_ns();
    tl_sleep_ms(20);
    uint64_t ms1 = tl_mono_ms(), ns1 = tl_mono_ns();
    CU_ASSERT(ms1 - ms0 >= 20);
    CU_ASSERT(ns1 - ns0 >= 20u * 1000000u);
    /* the same clock in both units */
    CU_ASSERT(ns1 / 1000000u >= ms1 && ns1 / 1000000u - ms1 <= 5);
}

static void test_proc(void)
{
    char dir[] = "/tmp/dtlsgw-testlib-XXXXXX", out[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s/p.out", dir);

    /* exit status, stdout and stderr into the file */
    char *ok_argv[] = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3", NULL};
    CU_ASSERT_EQUAL(tl_proc_run(NULL, ok_argv, out, 5000), 3);
    struct tl_proc p;
    CU_ASSERT_EQUAL(tl_proc_spawn(&p, NULL, ok_argv, out, 0), 0);
    CU_ASSERT(tl_proc_wait_output(&p, "to-err", 5000));
    CU_ASSERT(tl_proc_wait(&p, 5000));
    CU_ASSERT(p.exited && WIFEXITED(p.status) && WEXITSTATUS(p.status) == 3);
    CU_ASSERT_FALSE(tl_proc_wait_output(&p, "never printed", 50));
    tl_proc_stop(&p, SIGTERM, 100); /* exited: nothing to do */

    /* stdin from a pipe */
    char *cat_argv[] = {"cat", NULL};
    CU_ASSERT_EQUAL_FATAL(tl_proc_spawn(&p, NULL, cat_argv, out, TL_PROC_STDIN), 0);
    CU_ASSERT(p.in_fd >= 0);
    CU_ASSERT_EQUAL(write(p.in_fd, "piped\n", 6), 6);
    CU_ASSERT(tl_proc_wait_output(&p, "piped", 5000));
    tl_proc_stop(&p, SIGTERM, 2000); /* closes stdin: cat ends */
    CU_ASSERT(p.exited);
    CU_ASSERT_EQUAL(p.in_fd, -1);

    /* a timeout stops it; the whole group goes (the shell's child too) */
    char *slow_argv[] = {"/bin/sh", "-c", "sleep 30 & echo started; wait", NULL};
    uint64_t t0 = tl_mono_ms();
    CU_ASSERT_EQUAL(tl_proc_run(NULL, slow_argv, out, 200), -1);
    CU_ASSERT(tl_mono_ms() - t0 < 5000);
    CU_ASSERT_EQUAL_FATAL(tl_proc_spawn(&p, NULL, slow_argv, out, 0), 0);
    CU_ASSERT(tl_proc_wait_output(&p, "started", 5000));
    CU_ASSERT_FALSE(tl_proc_poll(&p));
    tl_proc_signal(&p, SIGTERM);
    CU_ASSERT(tl_proc_wait(&p, 5000));
    CU_ASSERT(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM);

    /* a process that ignores SIGTERM is killed after the grace period */
    char *stubborn[] = {"/bin/sh", "-c", "trap '' TERM; echo up; while :; do sleep 1; done", NULL};
    CU_ASSERT_EQUAL_FATAL(tl_proc_spawn(&p, NULL, stubborn, out, 0), 0);
    CU_ASSERT(tl_proc_wait_output(&p, "up", 5000));
    tl_proc_stop(&p, SIGTERM, 100);
    CU_ASSERT(p.exited && WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGKILL);

    /* not found: exit 127; bad output path: exit 126 */
    char *missing[] = {"/nonexistent/program", NULL};
    CU_ASSERT_EQUAL(tl_proc_run(NULL, missing, out, 5000), 127);
    CU_ASSERT_EQUAL(tl_proc_run(NULL, ok_argv, "/nonexistent/dir/out", 5000), 126);
    /* too many arguments: refused, nothing started */
    char *many[TL_PROC_ARGV_MAX + 2];
    for (unsigned i = 0; i < TL_PROC_ARGV_MAX + 1; i++)
        many[i] = "true";
    many[TL_PROC_ARGV_MAX + 1] = NULL;
    CU_ASSERT_EQUAL(tl_proc_spawn(&p, NULL, many, out, 0), -1);
    CU_ASSERT(tl_proc_poll(&p));
    tl_proc_stop(&p, SIGTERM, 10);
    tl_proc_kill_all();
    unlink(out);
    rmdir(dir);
}

/* ---- datagram queue and engine pair ------------------------------------- */
static void test_dq(void)
{
    static struct tl_dq q;
    uint8_t buf[8];
    size_t len = 0;
    CU_ASSERT_EQUAL(tl_dq_pop(&q, buf, sizeof(buf)), -1);
    CU_ASSERT_PTR_NULL(tl_dq_take(&q, &len));
    CU_ASSERT_EQUAL(tl_dq_push(&q, (const uint8_t *)"first", 5), 0);
    CU_ASSERT_EQUAL(tl_dq_push(&q, (const uint8_t *)"", 0), 0);
    CU_ASSERT_EQUAL(tl_dq_push(&q, (const uint8_t *)"third one", 9), 0);
    CU_ASSERT_EQUAL(q.n, 3);
    CU_ASSERT(q.len[0] == 5 && memcmp(q.d[0], "first", 5) == 0); /* readable in place */
    CU_ASSERT_EQUAL(tl_dq_pop(&q, buf, sizeof(buf)), 5);
    CU_ASSERT(memcmp(buf, "first", 5) == 0);
    uint8_t *d = tl_dq_take(&q, &len);
    CU_ASSERT(d != NULL && len == 0);
    free(d);
    CU_ASSERT_EQUAL(tl_dq_pop(&q, buf, 4), 4); /* cut to the buffer, like a socket */
    CU_ASSERT(memcmp(buf, "thir", 4) == 0);
    CU_ASSERT_EQUAL(q.n, 0);
    for (unsigned i = 0; i < TL_DQ_MAX; i++)
        CU_ASSERT_EQUAL_FATAL(tl_dq_push(&q, buf, 1), 0);
    CU_ASSERT_EQUAL(tl_dq_push(&q, buf, 1), -1);
    CU_ASSERT_EQUAL(q.n_full, 1);
    tl_dq_clear(&q);
    CU_ASSERT_EQUAL(q.n, 0);

    /* the BIO: one write is one datagram, reads come one datagram each */
    BIO *b = tl_dq_bio(&q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(BIO_write(b, "ab", 2), 2);
    CU_ASSERT_EQUAL(BIO_write(b, "cde", 3), 3);
    CU_ASSERT_EQUAL(BIO_ctrl_pending(b), 2);
    CU_ASSERT_EQUAL(BIO_read(b, buf, sizeof(buf)), 2);
    CU_ASSERT_EQUAL(BIO_read(b, buf, sizeof(buf)), 3);
    CU_ASSERT(memcmp(buf, "cde", 3) == 0);
    CU_ASSERT_EQUAL(BIO_read(b, buf, sizeof(buf)), -1);
    CU_ASSERT(BIO_should_retry(b));
    BIO_free(b);
}

static const uint8_t k_pair_psk[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

static unsigned int pair_psk_cb(SSL *ssl, const char *hint, char *identity,
                                unsigned int max_identity_len, unsigned char *psk,
                                unsigned int max_psk_len)
{
    (void)ssl, (void)hint;
    if (max_identity_len < sizeof("testlib") || max_psk_len < sizeof(k_pair_psk))
        return 0;
    strcpy(identity, "testlib");
    memcpy(psk, k_pair_psk, sizeof(k_pair_psk));
    return sizeof(k_pair_psk);
}

/* test_pair's hand-over of a client datagram (tl_pair_run, tl_pair_pump). */
static unsigned g_pair_rx_n;
static void pair_rx(struct tl_pair *p, const uint8_t *d, size_t len)
{
    static struct hs_out out;
    int rx = tl_pair_deliver(p, d, len, &out, NULL);
    CU_ASSERT(rx == TL_PAIR_RX_HVR || rx == TL_PAIR_RX_INPUT);
    g_pair_rx_n++;
}

/* A PSK handshake through the pair (tl_pair_run): cookie exchange, both
 * sides finish, application data client -> server lands in app_rx. */
static void test_pair(void)
{
    struct hs_creds *creds = hs_creds_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(creds);
    CU_ASSERT_EQUAL_FATAL(hs_creds_add_psk(creds, "testlib", k_pair_psk, sizeof(k_pair_psk)), 0);
    struct hs_params params;
    hs_params_default(&params);
    struct hs_ctx *ctx = hs_ctx_new(&params, creds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    static struct tl_pair p;
    tl_pair_init(&p, ctx, 4433);
    CU_ASSERT(p.cookies && p.alert == -1 && p.now_ms == TL_PAIR_START_MS && p.peer.port == 4433);
    SSL_CTX *cctx = tl_pair_client_ctx();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cctx);
    CU_ASSERT_EQUAL(SSL_CTX_set_cipher_list(cctx, "PSK-AES128-CCM8:@SECLEVEL=0"), 1);
    SSL_CTX_set_psk_client_callback(cctx, pair_psk_cb);
    CU_ASSERT_EQUAL_FATAL(tl_pair_client(&p, cctx, 1200), 0);
    static struct hs_out out;
    DTLS_set_timer_cb(p.ssl, tl_pair_fast_timer_cb);
    CU_ASSERT_EQUAL(tl_pair_fast_timer_cb(p.ssl, 0), TL_PAIR_FAST_TIMER_FIRST_US);
    CU_ASSERT_EQUAL(tl_pair_fast_timer_cb(p.ssl, 40000), 80000);
    g_pair_rx_n = 0;
    CU_ASSERT_EQUAL(tl_pair_run(&p, 20, pair_rx), 1);
    CU_ASSERT(g_pair_rx_n >= 3); /* ClientHello, ClientHello with the cookie, the final flight */
    CU_ASSERT_EQUAL(p.to_srv.n, 0);
    CU_ASSERT(p.established);
    CU_ASSERT_FALSE(p.failed);
    CU_ASSERT_EQUAL(p.n_hvr, 1);
    CU_ASSERT(p.n_inputs >= 2);
    CU_ASSERT(p.n_server_dgrams >= 1 && p.max_server_dgram <= 1200);
    CU_ASSERT_EQUAL(SSL_write(p.ssl, "hello", 5), 5);
    size_t len;
    uint8_t *d = tl_dq_take(&p.to_srv, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(tl_pair_deliver(&p, d, len, &out, NULL), TL_PAIR_RX_INPUT);
    free(d);
    CU_ASSERT(p.app_rx_len == 5 && memcmp(p.app_rx, "hello", 5) == 0);
    /* loss: the next server datagram is dropped, and counted */
    unsigned before = p.n_server_dgrams, queued = p.to_cli.n;
    p.drop_server = 1;
    CU_ASSERT_EQUAL(hs_close(p.hs, &out), 0);
    tl_pair_take_out(&p, &out);
    CU_ASSERT_EQUAL(p.n_server_dgrams, before + out.n_dgrams);
    CU_ASSERT_EQUAL(p.to_cli.n, queued + out.n_dgrams - 1);
    tl_pair_free(&p);
    CU_ASSERT_PTR_NULL(p.ssl);
    hs_ctx_free(ctx);
    hs_creds_free(creds);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("testlib", NULL, NULL);
    CU_add_test(s, "address parser: good input", test_addr_good);
    CU_add_test(s, "address parser: bad and boundary input", test_addr_bad);
    CU_add_test(s, "key types", test_key_types);
    CU_add_test(s, "self-signed certificates: subject, SAN, dates, extensions",
                test_mint_self_signed);
    CU_add_test(s, "CA-signed certificates verify against their CA, PEM out", test_mint_ca_signed);
    CU_add_test(s, "clock", test_clock);
    CU_add_test(s, "process manager", test_proc);
    CU_add_test(s, "datagram queue and its BIO", test_dq);
    CU_add_test(s, "engine pair: PSK handshake, cookie, application data, loss", test_pair);
}
