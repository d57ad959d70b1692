/* test_creds.c — control/hs_creds.c: psktool files (good, bad lines with
 * file:line errors, duplicates, atomic reload), certificate chains and keys
 * (EC P-256/P-384, RSA, mismatched key, bad files, one per slot), CA
 * bundles, PSK hint.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cu_main.h"
#include "hs.h"
#include "hs_priv.h"
#include "tl_cert.h"

static char dir[128];

static const char *fpath(const char *name)
{
    static char buf[4][256];
    static unsigned k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    return buf[k];
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(fpath(name), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* <prefix>-cert.pem: a self-signed certificate of cert_key (CN prefix);
 * <prefix>-key.pem: key (another key than cert_key for a mismatch). */
static void write_key_cert(const char *prefix, EVP_PKEY *key, EVP_PKEY *cert_key)
{
    char n[64];
    const struct tl_cert_opts o = {.cn = prefix, .serial = 7, .not_after_s = 3600};
    X509 *x = tl_cert_new(cert_key, &o, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    snprintf(n, sizeof(n), "%s-cert.pem", prefix);
    CU_ASSERT_EQUAL(tl_pem_write_certs(fpath(n), &x, 1), 0);
    snprintf(n, sizeof(n), "%s-key.pem", prefix);
    CU_ASSERT_EQUAL(tl_pem_write_key(fpath(n), key), 0);
    X509_free(x);
}

static int init(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dtlsgw-test-creds-XXXXXX");
    return mkdtemp(dir) ? 0 : 1;
}

static int clean(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_psk_file_good(void)
{
    struct hs_creds *c = hs_creds_new();
    write_file("good.psk", "alice:000102030405060708090a0b0c0d0e0f\r\n"
                           "\n"
                           "# comment\n"
                           "urn:dev:ops:32473-Fridge-1234:DEADBEEF\n"
                           "bob:ff");
    CU_ASSERT_EQUAL(hs_creds_load_psk_file(c, fpath("good.psk")), 0);
    const struct hs_psk_entry *e = hs_creds_find_psk(c, (const uint8_t *)"alice", 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->key_len, 16);
    CU_ASSERT_EQUAL(e->key[15], 0x0f);
    /* identity with colons: split at the last one */
    e = hs_creds_find_psk(c, (const uint8_t *)"urn:dev:ops:32473-Fridge-1234", 29);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->key_len, 4);
    CU_ASSERT_EQUAL(e->key[0], 0xde);
    e = hs_creds_find_psk(c, (const uint8_t *)"bob", 3);
    CU_ASSERT(e && e->key_len == 1 && e->key[0] == 0xff);
    CU_ASSERT_PTR_NULL(hs_creds_find_psk(c, (const uint8_t *)"carol", 5));
    CU_ASSERT_PTR_NULL(hs_creds_find_psk(c, (const uint8_t *)"alic", 4));
    CU_ASSERT_PTR_NULL(hs_creds_find_psk(c, (const uint8_t *)"", 0));
    CU_ASSERT(hs_creds_has_psk(c));
    hs_creds_free(c);
}

static void test_psk_file_bad_lines(void)
{
    static const struct {
        const char *text;
        const char *err_part;
    } cases[] = {
        {"alice:0001\nnocolon\n", ":2: expected identity:hexkey"},
        {"alice:0g01\n", ":1: bad hex digit"},
        {"alice:001\n", ":1: key must be an even number"},
        {"alice:\n", ":1: key must be"},
        {":0001\n", ":1: identity length"},
        {"a:01\nb:02\na:03\n", "identity 'a' appears more than once"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hs_creds *c = hs_creds_new();
        write_file("bad.psk", cases[i].text);
        CU_ASSERT(hs_creds_load_psk_file(c, fpath("bad.psk")) < 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(hs_creds_last_error(c), cases[i].err_part));
        CU_ASSERT_FALSE(hs_creds_has_psk(c));
        hs_creds_free(c);
    }
    /* Key over the maximum length and an over-long line. */
    char big[2 * HS_PSK_LINE_MAX_LEN];
    struct hs_creds *c = hs_creds_new();
    strcpy(big, "k:");
    for (unsigned i = 0; i < 2 * (HS_PSK_MAX_KEY_LEN + 1); i++)
        strcat(big, "a");
    strcat(big, "\n");
    write_file("long.psk", big);
    CU_ASSERT(hs_creds_load_psk_file(c, fpath("long.psk")) < 0);
    memset(big, 'x', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = 0;
    write_file("long2.psk", big);
    CU_ASSERT_EQUAL(hs_creds_load_psk_file(c, fpath("long2.psk")), CR_ERR_LIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(hs_creds_last_error(c), ":1: line longer"));
    CU_ASSERT_EQUAL(hs_creds_load_psk_file(c, fpath("missing.psk")), CR_ERR_IO);
    hs_creds_free(c);
}

static void test_psk_reload_atomic(void)
{
    struct hs_creds *c = hs_creds_new();
    write_file("v1.psk", "alice:01\n");
    write_file("v2.psk", "bob:02\n");
    write_file("broken.psk", "carol:03\nbroken\n");
    CU_ASSERT_EQUAL(hs_creds_load_psk_file(c, fpath("v1.psk")), 0);
    /* A failed reload keeps the old set entirely. */
    CU_ASSERT(hs_creds_load_psk_file(c, fpath("broken.psk")) < 0);
    CU_ASSERT_PTR_NOT_NULL(hs_creds_find_psk(c, (const uint8_t *)"alice", 5));
    CU_ASSERT_PTR_NULL(hs_creds_find_psk(c, (const uint8_t *)"carol", 5));
    /* A good reload replaces it entirely. */
    CU_ASSERT_EQUAL(hs_creds_load_psk_file(c, fpath("v2.psk")), 0);
    CU_ASSERT_PTR_NULL(hs_creds_find_psk(c, (const uint8_t *)"alice", 5));
    CU_ASSERT_PTR_NOT_NULL(hs_creds_find_psk(c, (const uint8_t *)"bob", 3));
    /* add_psk on top; duplicate refused. */
    const uint8_t k[3] = {1, 2, 3};
    CU_ASSERT_EQUAL(hs_creds_add_psk(c, "dave", k, 3), 0);
    CU_ASSERT(hs_creds_add_psk(c, "dave", k, 3) < 0);
    CU_ASSERT(hs_creds_add_psk(c, "eve", k, 0) < 0);
    CU_ASSERT_PTR_NOT_NULL(hs_creds_find_psk(c, (const uint8_t *)"dave", 4));
    CU_ASSERT_PTR_NOT_NULL(hs_creds_find_psk(c, (const uint8_t *)"bob", 3));
    /* Many identities stay searchable (sorted set). */
    for (unsigned i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof(id), "dev-%u", i * 7919 % 1000);
        CU_ASSERT_EQUAL(hs_creds_add_psk(c, id, k, 3), 0);
    }
    bool all = true;
    for (unsigned i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof(id), "dev-%u", i * 7919 % 1000);
        all = all && hs_creds_find_psk(c, (const uint8_t *)id, strlen(id)) != NULL;
    }
    CU_ASSERT(all);
    hs_creds_free(c);
}

/* reload-psk's question: which identities went away or changed key. */
static void test_psk_reload_diff(void)
{
    struct hs_creds *c = hs_creds_new();
    write_file("d1.psk", "alice:01\nbob:02\ncarol:03\n");
    write_file("d2.psk", "alice:01\ncarol:0303\ndave:04\n");
    write_file("d3.psk", "broken\n");
    struct hs_psk_set *prev = (struct hs_psk_set *)1;
    CU_ASSERT_EQUAL(hs_creds_reload_psk_file(c, fpath("d1.psk"), &prev), 0);
    CU_ASSERT_PTR_NULL(prev); /* nothing before */
    CU_ASSERT_EQUAL(hs_creds_reload_psk_file(c, fpath("d2.psk"), &prev), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(prev);
    CU_ASSERT(hs_creds_psk_kept(c, prev, "alice"));       /* same key */
    CU_ASSERT_FALSE(hs_creds_psk_kept(c, prev, "bob"));   /* removed */
    CU_ASSERT_FALSE(hs_creds_psk_kept(c, prev, "carol")); /* re-keyed */
    CU_ASSERT_FALSE(hs_creds_psk_kept(c, prev, "dave"));  /* new: no session can hold it */
    CU_ASSERT(hs_creds_psk_kept(c, NULL, "dave"));
    hs_psk_set_free(prev);
    struct hs_psk_set *untouched = (struct hs_psk_set *)1;
    CU_ASSERT(hs_creds_reload_psk_file(c, fpath("d3.psk"), &untouched) < 0);
    CU_ASSERT_EQUAL(untouched, (struct hs_psk_set *)1);
    CU_ASSERT(hs_creds_psk_kept(c, NULL, "carol"));
    hs_creds_free(c);
}

static void test_certs(void)
{
    EVP_PKEY *ec = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *ec384 = tl_key_new(TL_KEY_EC_P384);
    EVP_PKEY *ec521 = tl_key_new(TL_KEY_EC_P521);
    EVP_PKEY *rsa = tl_key_new(TL_KEY_RSA_2048);
    write_key_cert("ec", ec, ec);
    write_key_cert("ec384", ec384, ec384);
    write_key_cert("ec521", ec521, ec521);
    write_key_cert("rsa", rsa, rsa);
    write_key_cert("mismatch", ec, ec384); /* key does not match the cert */

    struct hs_creds *c = hs_creds_new();
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("ec-cert.pem"), fpath("ec-key.pem")), 0);
    CU_ASSERT_PTR_NOT_NULL(c->cert[HS_CERT_ECDSA_P256].key);
    CU_ASSERT_EQUAL(c->cert[HS_CERT_ECDSA_P256].n, 1);
    CU_ASSERT_EQUAL(c->cert[HS_CERT_ECDSA_P256].ec_group, 23);
    CU_ASSERT_PTR_NULL(c->cert[HS_CERT_RSA].key);
    CU_ASSERT_PTR_NULL(c->cert[HS_CERT_ECDSA_P384].key);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("rsa-cert.pem"), fpath("rsa-key.pem")), 0);
    CU_ASSERT_PTR_NOT_NULL(c->cert[HS_CERT_RSA].key);
    /* P-384 goes into its own slot beside P-256. */
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("ec384-cert.pem"), fpath("ec384-key.pem")), 0);
    CU_ASSERT_EQUAL(c->cert[HS_CERT_ECDSA_P384].ec_group, 24);
    CU_ASSERT_EQUAL(c->cert[HS_CERT_ECDSA_P256].ec_group, 23);
    hs_creds_free(c);
    c = hs_creds_new();
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("ec384-cert.pem"), fpath("ec384-key.pem")), 0);
    /* Failures leave the slot alone and say why. */
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("mismatch-cert.pem"), fpath("mismatch-key.pem")),
                    CR_ERR_VERIFY);
    CU_ASSERT_PTR_NOT_NULL(strstr(hs_creds_last_error(c), "does not match"));
    CU_ASSERT_EQUAL(c->cert[HS_CERT_ECDSA_P384].ec_group, 24);
    CU_ASSERT_PTR_NULL(c->cert[HS_CERT_ECDSA_P256].key);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("ec521-cert.pem"), fpath("ec521-key.pem")),
                    CR_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("nope.pem"), fpath("ec-key.pem")), CR_ERR_IO);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("ec-cert.pem"), fpath("nope.pem")), CR_ERR_IO);
    write_file("garbage.pem", "not a pem file\n");
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("garbage.pem"), fpath("ec-key.pem")),
                    CR_ERR_DECODE);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("ec-cert.pem"), fpath("garbage.pem")),
                    CR_ERR_DECODE);
    /* CA bundle */
    CU_ASSERT_EQUAL(hs_creds_load_ca(c, fpath("ec-cert.pem")), 0);
    CU_ASSERT_PTR_NOT_NULL(c->ca);
    CU_ASSERT(hs_creds_load_ca(c, fpath("garbage.pem")) < 0);
    CU_ASSERT_PTR_NOT_NULL(c->ca); /* old store kept */
    /* PSK hint */
    CU_ASSERT_EQUAL(hs_creds_set_psk_hint(c, "hint"), 0);
    CU_ASSERT(c->has_psk_hint && c->psk_hint_len == 4);
    CU_ASSERT_EQUAL(hs_creds_set_psk_hint(c, NULL), 0);
    CU_ASSERT_FALSE(c->has_psk_hint);
    hs_creds_free(c);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec521);
    EVP_PKEY_free(rsa);
}

/* One certificate per slot (ECDSA P-256, ECDSA P-384, RSA): a second one
 * of a loaded slot is refused with a reason naming the slot, the first
 * stays; small RSA keys are refused.  Public API only. */
static void test_cert_slot_once(void)
{
    EVP_PKEY *a = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *b = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *a384 = tl_key_new(TL_KEY_EC_P384);
    EVP_PKEY *b384 = tl_key_new(TL_KEY_EC_P384);
    EVP_PKEY *ra = tl_key_new(TL_KEY_RSA_2048);
    EVP_PKEY *rb = tl_key_new(TL_KEY_RSA_3072);
    EVP_PKEY *small = tl_key_new(TL_KEY_RSA_1024);
    write_key_cert("s256a", a, a);
    write_key_cert("s256b", b, b);
    write_key_cert("s384a", a384, a384);
    write_key_cert("s384b", b384, b384);
    write_key_cert("srsaa", ra, ra);
    write_key_cert("srsab", rb, rb);
    write_key_cert("srsa1024", small, small);

    struct hs_creds *c = hs_creds_new();
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("srsa1024-cert.pem"), fpath("srsa1024-key.pem")),
                    CR_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(hs_creds_last_error(c), "at least 2048"));
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("s256a-cert.pem"), fpath("s256a-key.pem")), 0);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("s384a-cert.pem"), fpath("s384a-key.pem")), 0);
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("srsaa-cert.pem"), fpath("srsaa-key.pem")), 0);
    static const struct {
        const char *prefix, *slot;
    } again[] = {{"s256b", "ECDSA P-256"}, {"s384b", "ECDSA P-384"}, {"srsab", "RSA"}};
    for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++) {
        char cert[64], key[64];
        snprintf(cert, sizeof(cert), "%s-cert.pem", again[i].prefix);
        snprintf(key, sizeof(key), "%s-key.pem", again[i].prefix);
        CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath(cert), fpath(key)), CR_ERR_INVAL);
        const char *why = hs_creds_last_error(c);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, again[i].slot));
        CU_ASSERT_PTR_NOT_NULL(strstr(why, "already loaded"));
        CU_ASSERT_PTR_NOT_NULL(strstr(why, cert));
    }
    /* The same file twice is the same mistake. */
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("s256a-cert.pem"), fpath("s256a-key.pem")),
                    CR_ERR_INVAL);
    hs_creds_free(c);
    EVP_PKEY *keys[] = {a, b, a384, b384, ra, rb, small};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
}

/* Writes text with write(2): no stdio buffer of ours holds it afterwards. */
static void write_raw(const char *name, const char *text, size_t len)
{
    int fd = open(fpath(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Whether freed heap memory still holds needle: allocates blocks of the
 * sizes a stdio buffer has (glibc mallocs st_blksize, 4 KiB here) and looks
 * into what malloc hands back.  Under ASan freed memory is quarantined and
 * this finds nothing either way; the normal build is the one that tells. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" /* reading what malloc left is the point */
#endif
static bool heap_holds(const void *needle, size_t len)
{
    enum {
        N = 64
    };
    void *blk[N];
    bool found = false;
    for (unsigned i = 0; i < N; i++) {
        size_t sz = i % 2 ? 4096 : 8192;
        blk[i] = malloc(sz);
        if (blk[i] != NULL && memmem(blk[i], sz, needle, len) != NULL)
            found = true;
    }
    for (unsigned i = 0; i < N; i++)
        free(blk[i]);
    return found;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void test_secret_stdio_wiped(void)
{
    /* A PSK file: the hex key text must not survive in freed memory. */
    static const char hexkey[] = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7a1b2";
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "# a comment line to move the key off the start\n"
                     "device-with-a-long-name-0001:%s\n",
                     hexkey);
    write_raw("secret.psk", text, (size_t)n);
    struct hs_creds *c = hs_creds_new();
    CU_ASSERT_EQUAL(hs_creds_load_psk_file(c, fpath("secret.psk")), 0);
    CU_ASSERT_FALSE(heap_holds(hexkey, 40));

    /* A PEM private key: no line of its base64 body survives. */
    EVP_PKEY *ec = tl_key_new(TL_KEY_EC_P256);
    BIO *b = BIO_new(BIO_s_secmem()); /* cleared when freed or grown */
    PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL);
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(b, &pem);
    write_raw("secret-key.pem", pem, (size_t)pem_len);
    char line2[40]; /* from the body's second line: key bytes, no fixed prefix */
    const char *nl = memchr(pem, '\n', (size_t)pem_len);
    CU_ASSERT_FATAL(nl != NULL);
    nl = memchr(nl + 1, '\n', (size_t)(pem + pem_len - nl - 1));
    CU_ASSERT_FATAL(nl != NULL && nl + 1 + sizeof(line2) < pem + pem_len);
    memcpy(line2, nl + 1, sizeof(line2));
    BIO_free(b);
    /* The key is read first; a missing chain then fails the load before any
     * other file's buffer can reuse (and overwrite) the key's. */
    CU_ASSERT_EQUAL(hs_creds_load_cert(c, fpath("no-such-cert.pem"), fpath("secret-key.pem")),
                    CR_ERR_IO);
    CU_ASSERT_FALSE(heap_holds(line2, sizeof(line2)));
    hs_creds_free(c);
    EVP_PKEY_free(ec);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("creds", init, clean);
    CU_add_test(s, "psk file good", test_psk_file_good);
    CU_add_test(s, "psk file bad lines", test_psk_file_bad_lines);
    CU_add_test(s, "psk reload atomic", test_psk_reload_atomic);
    CU_add_test(s, "psk reload: removed and re-keyed identities", test_psk_reload_diff);
    CU_add_test(s, "certificates", test_certs);
    CU_add_test(s, "one certificate per slot, RSA 2048+", test_cert_slot_once);
    CU_add_test(s, "stdio buffers of secret files are wiped", test_secret_stdio_wiped);
}
