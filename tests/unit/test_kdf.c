/* test_kdf.c — crypto/cr_kdf.c: TLS 1.2 PRF against published known
 * answers (tests/data/tls12_prf.txt; "_" in a label stands for a space)
 * and against a naive P_hash oracle written with HMAC() on random inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cr_kdf.h"
#include "cu_main.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    if (n > cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return 0;
        out[i] = (uint8_t)v;
    }
    return n;
}

static void test_known_answers(void)
{
    char path[512], line[2048];
    const char *src = getenv("DTLSGW_SRCDIR");
    snprintf(path, sizeof(path), "%s/tests/data/tls12_prf.txt", src ? src : "..");
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned n_vectors = 0;
    while (fgets(line, sizeof(line), f)) {
        char hash[16], sec_hex[256], label[64], seed_hex[256], out_hex[1024];
        uint8_t sec[128], seed[128], expect[512], got[512];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        CU_ASSERT_EQUAL_FATAL(
            sscanf(line, "%15s %255s %63s %255s %1023s", hash, sec_hex, label, seed_hex, out_hex),
            5);
        for (char *p = label; *p; p++)
            if (*p == '_')
                *p = ' ';
        size_t sl = unhex(sec_hex, sec, sizeof(sec));
        size_t dl = unhex(seed_hex, seed, sizeof(seed));
        size_t ol = unhex(out_hex, expect, sizeof(expect));
        CU_ASSERT_FATAL(sl && dl && ol);
        bool sha384 = strcmp(hash, "sha384") == 0;
        CU_ASSERT_EQUAL(cr_tls12_prf(sha384, sec, sl, label, seed, dl, NULL, 0, got, ol), 0);
        CU_ASSERT(memcmp(got, expect, ol) == 0);
        /* Seed split in two parts gives the same bytes. */
        memset(got, 0, sizeof(got));
        CU_ASSERT_EQUAL(cr_tls12_prf(sha384, sec, sl, label, seed, 5, seed + 5, dl - 5, got, ol),
                        0);
        CU_ASSERT(memcmp(got, expect, ol) == 0);
        n_vectors++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(n_vectors, 2);
}

/* RFC 5246 §5: P_hash(secret, seed) = HMAC(secret, A(1) + seed) + ...,
 * A(0) = seed, A(i) = HMAC(secret, A(i-1)). */
static void oracle(const EVP_MD *md, const uint8_t *sec, size_t sl, const uint8_t *seed, size_t dl,
                   uint8_t *out, size_t ol)
{
    uint8_t a[64], buf[64 + 256], block[64];
    unsigned hl = (unsigned)EVP_MD_get_size(md), n;
    HMAC(md, sec, (int)sl, seed, dl, a, &n);
    size_t done = 0;
    while (done < ol) {
        memcpy(buf, a, hl);
        memcpy(buf + hl, seed, dl);
        HMAC(md, sec, (int)sl, buf, hl + dl, block, &n);
        size_t take = ol - done < hl ? ol - done : hl;
        memcpy(out + done, block, take);
        done += take;
        HMAC(md, sec, (int)sl, a, hl, a, &n);
    }
}

static void test_random_vs_oracle(void)
{
    for (unsigned i = 0; i < 64; i++) {
        uint8_t sec[48], seed[2 * 32 + 48], got[200], want[200], rnd[4];
        RAND_bytes(rnd, sizeof(rnd));
        size_t sl = 1 + rnd[0] % sizeof(sec);
        size_t dl = rnd[1] % 64;
        size_t ol = 1 + rnd[2] % sizeof(got);
        bool sha384 = rnd[3] & 1;
        RAND_bytes(sec, sizeof(sec));
        memcpy(seed, "key expansion", 13);
        RAND_bytes(seed + 13, sizeof(seed) - 13);
        CU_ASSERT_EQUAL(
            cr_tls12_prf(sha384, sec, sl, "key expansion", seed + 13, dl, NULL, 0, got, ol), 0);
        oracle(sha384 ? EVP_sha384() : EVP_sha256(), sec, sl, seed, 13 + dl, want, ol);
        CU_ASSERT(memcmp(got, want, ol) == 0);
    }
}

static void test_bad_args(void)
{
    uint8_t out[16], seed[300] = {0};
    const uint8_t sec[4] = {1, 2, 3, 4};
    CU_ASSERT_EQUAL(cr_tls12_prf(false, sec, 4, "x", seed, sizeof(seed), NULL, 0, out, 16),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_tls12_prf(false, sec, 4, "x", seed, 200, seed, 200, out, 16), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_tls12_prf(false, sec, 4, "x", NULL, 3, NULL, 0, out, 16), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_tls12_prf(false, sec, 4, "x", seed, 3, NULL, 0, out, 0), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_tls12_prf(false, sec, 4, "x", seed, 3, NULL, 0, out, 16), 0);
}

static void test_hash(void)
{
    uint8_t h[CR_HASH_MAX_LEN];
    size_t n = 0;
    /* SHA-256("abc") (FIPS 180-2 appendix B.1) */
    static const uint8_t abc256[4] = {0xba, 0x78, 0x16, 0xbf};
    CU_ASSERT_EQUAL(cr_hash(false, (const uint8_t *)"abc", 3, h, &n), 0);
    CU_ASSERT_EQUAL(n, 32);
    CU_ASSERT(memcmp(h, abc256, 4) == 0);
    /* SHA-384("abc") begins cb00753f */
    static const uint8_t abc384[4] = {0xcb, 0x00, 0x75, 0x3f};
    CU_ASSERT_EQUAL(cr_hash(true, (const uint8_t *)"abc", 3, h, &n), 0);
    CU_ASSERT_EQUAL(n, 48);
    CU_ASSERT(memcmp(h, abc384, 4) == 0);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("kdf", NULL, NULL);
    CU_add_test(s, "known answers", test_known_answers);
    CU_add_test(s, "random vs P_hash oracle", test_random_vs_oracle);
    CU_add_test(s, "bad arguments", test_bad_args);
    CU_add_test(s, "hash", test_hash);
}
