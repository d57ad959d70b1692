/* test_aead.c — CUnit suite for crypto/cr_aead.c.
 *
 * Includes cr_aead.c to reach its static single-job entry (aead_raw_one) and
 * its diagnostics counters.  Checks: known-answer vectors from published
 * sources (tests/data/aead_kat.txt), the DTLS 1.2 / RFC 9146 AAD and nonce
 * layouts byte by byte, a differential test against OpenSSL EVP in both
 * directions (every length 0..1500 for every suite, random mixed batches,
 * CID and no CID, in place and out of place), tamper tests, argument
 * validation, and >= 5000 consecutive bursts on one manager whose job queue
 * is pushed across its wrap point between bursts.
 */
#include "../../crypto/cr_aead.c"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cu_main.h"

/* ---- deterministic randomness ---------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd64(void)
{
    /* xorshift64*: deterministic, good enough for test inputs. */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd(uint32_t bound)
{
    return (uint32_t)(rnd64() % bound);
}

static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd64();
}

/* ---- independent reference: AAD, nonce, EVP -------------------------- */

/* Independent re-statement of the AAD layouts (not sharing code with
 * cr_aead.c): RFC 6347 §4.1.2.1 and RFC 9146 §5. */
static size_t ref_aad(uint8_t *a, uint16_t epoch, uint64_t seq, uint8_t type, uint16_t version,
                      uint16_t len, const uint8_t *cid, uint8_t cid_len)
{
    size_t n = 0;
    uint8_t seqbuf[8];
    for (int i = 0; i < 2; i++)
        seqbuf[i] = (uint8_t)(epoch >> (8 * (1 - i)));
    for (int i = 0; i < 6; i++)
        seqbuf[2 + i] = (uint8_t)(seq >> (8 * (5 - i)));
    if (cid == NULL) {
        memcpy(a, seqbuf, 8);
        n = 8;
        a[n++] = type;
        a[n++] = (uint8_t)(version >> 8);
        a[n++] = (uint8_t)version;
        a[n++] = (uint8_t)(len >> 8);
        a[n++] = (uint8_t)len;
        return n;
    }
    for (int i = 0; i < 8; i++)
        a[n++] = 0xff;
    a[n++] = 25;
    a[n++] = cid_len;
    a[n++] = 25;
    a[n++] = (uint8_t)(version >> 8);
    a[n++] = (uint8_t)version;
    memcpy(a + n, seqbuf, 8);
    n += 8;
    memcpy(a + n, cid, cid_len);
    n += cid_len;
    a[n++] = (uint8_t)(len >> 8);
    a[n++] = (uint8_t)len;
    return n;
}

static void ref_nonce(uint8_t nonce[12], int alg, const uint8_t *fixed_iv, uint16_t epoch,
                      uint64_t seq, const uint8_t *explicit8)
{
    if (alg == CR_AEAD_CHACHA20_POLY1305) {
        uint8_t pad[12] = {0};
        pad[4] = (uint8_t)(epoch >> 8);
        pad[5] = (uint8_t)epoch;
        for (int i = 0; i < 6; i++)
            pad[6 + i] = (uint8_t)(seq >> (8 * (5 - i)));
        for (int i = 0; i < 12; i++)
            nonce[i] = fixed_iv[i] ^ pad[i];
    } else {
        memcpy(nonce, fixed_iv, 4);
        memcpy(nonce + 4, explicit8, 8);
    }
}

static const EVP_CIPHER *evp_cipher(int alg)
{
    switch (alg) {
    case CR_AEAD_AES128_GCM:
        return EVP_aes_128_gcm();
    case CR_AEAD_AES256_GCM:
        return EVP_aes_256_gcm();
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        return EVP_aes_128_ccm();
    default:
        return EVP_chacha20_poly1305();
    }
}

/* EVP AEAD.  enc: out = ct, tag written.  !enc: out = pt, returns 0 only if
 * the tag verifies.  Returns 0 on success, -1 on any failure. */
static int evp_aead(int alg, int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                    size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    static uint8_t dummy[16];
    bool ccm = alg == CR_AEAD_AES128_CCM || alg == CR_AEAD_AES128_CCM8;
    int tag_len = (int)cr_aead_tag_len((enum cr_aead_alg)alg);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, ok = 0;
    if (c == NULL)
        return -1;
    if (in == NULL)
        in = dummy;
    if (out == NULL)
        out = dummy;
    if (EVP_CipherInit_ex(c, evp_cipher(alg), NULL, NULL, NULL, enc) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
        goto done;
    if (ccm && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag_len, enc ? NULL : tag) != 1)
        goto done;
    if (EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
        goto done;
    if (ccm && EVP_CipherUpdate(c, NULL, &outl, NULL, (int)len) != 1)
        goto done;
    if (aad_len != 0 && EVP_CipherUpdate(c, NULL, &outl, aad, (int)aad_len) != 1)
        goto done;
    if (!ccm && !enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag_len, tag) != 1)
        goto done;
    if ((len != 0 || ccm) && EVP_CipherUpdate(c, out, &outl, in, (int)len) != 1)
        goto done;
    if (!(ccm && !enc)) {
        if (EVP_CipherFinal_ex(c, dummy, &outl) != 1)
            goto done;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, tag_len, tag) != 1)
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* ---- fixtures ------------------------------------------------------------ */

static struct cr_aead_ctx *g_ctx;

static int suite_init(void)
{
    const char *seed = getenv("DTLSGW_TEST_SEED");
    if (seed != NULL)
        rng_state = strtoull(seed, NULL, 0) | 1;
    g_ctx = cr_aead_ctx_new();
    return g_ctx == NULL;
}

static int suite_clean(void)
{
    cr_aead_ctx_free(g_ctx);
    g_ctx = NULL;
    return 0;
}

static int alg_from_name(const char *s)
{
    for (int a = 0; a < CR_AEAD_N_ALGS; a++)
        if (strcmp(s, cr_aead_alg_name((enum cr_aead_alg)a)) == 0)
            return a;
    return -1;
}

/* ---- basic API ------------------------------------------------------------ */

static void test_ctx_and_table(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_ctx);
    CU_ASSERT_PTR_NOT_NULL(cr_aead_ctx_mgr(g_ctx));
    const char *arch = cr_aead_ctx_arch_name(g_ctx);
    CU_ASSERT(strcmp(arch, "unknown") != 0 && strcmp(arch, "none") != 0);
    printf("\n    ipsec-mb %s arch %s\n", imb_get_version_str(), arch);

    CU_ASSERT_EQUAL(cr_aead_key_len(CR_AEAD_AES128_GCM), 16);
    CU_ASSERT_EQUAL(cr_aead_key_len(CR_AEAD_AES256_GCM), 32);
    CU_ASSERT_EQUAL(cr_aead_key_len(CR_AEAD_AES128_CCM8), 16);
    CU_ASSERT_EQUAL(cr_aead_key_len(CR_AEAD_CHACHA20_POLY1305), 32);
    CU_ASSERT_EQUAL(cr_aead_fixed_iv_len(CR_AEAD_AES128_CCM), 4);
    CU_ASSERT_EQUAL(cr_aead_fixed_iv_len(CR_AEAD_CHACHA20_POLY1305), 12);
    CU_ASSERT_EQUAL(cr_aead_tag_len(CR_AEAD_AES128_CCM8), 8);
    CU_ASSERT_EQUAL(cr_aead_tag_len(CR_AEAD_AES128_CCM), 16);
    CU_ASSERT_EQUAL(cr_aead_explicit_nonce_len(CR_AEAD_AES256_GCM), 8);
    CU_ASSERT_EQUAL(cr_aead_explicit_nonce_len(CR_AEAD_CHACHA20_POLY1305), 0);
    CU_ASSERT_EQUAL(cr_aead_key_len(CR_AEAD_N_ALGS), 0);
    CU_ASSERT_STRING_EQUAL(cr_aead_alg_name(CR_AEAD_N_ALGS), "unknown");
    CU_ASSERT_PTR_NULL(cr_aead_ctx_mgr(NULL));
    cr_aead_ctx_free(NULL);
}

static void test_key_init_args(void)
{
    struct cr_aead_key key;
    uint8_t secret[32] = {1}, iv[12] = {2};
    CU_ASSERT_EQUAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_AES128_GCM, secret, 32, iv, 4),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_AES128_GCM, secret, 16, iv, 12),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_N_ALGS, secret, 16, iv, 4),
                    CR_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(cr_aead_key_init(NULL, g_ctx, CR_AEAD_AES128_GCM, secret, 16, iv, 4),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_AES128_GCM, NULL, 16, iv, 4),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_CHACHA20_POLY1305, secret, 32, iv, 4),
                    CR_ERR_INVAL);
    /* A key expanded without a worker context equals one expanded with. */
    struct cr_aead_key k2;
    CU_ASSERT_EQUAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_AES256_GCM, secret, 32, iv, 4), CR_OK);
    CU_ASSERT_EQUAL(cr_aead_key_init(&k2, NULL, CR_AEAD_AES256_GCM, secret, 32, iv, 4), CR_OK);
    CU_ASSERT_EQUAL(memcmp(&key, &k2, sizeof(key)), 0);
    CU_ASSERT_EQUAL(key.tag_len, 16);
    CU_ASSERT_EQUAL(key.alg, CR_AEAD_AES256_GCM);
    cr_aead_key_wipe(&key);
    static const struct cr_aead_key zero;
    CU_ASSERT_EQUAL(memcmp(&key, &zero, sizeof(key)), 0);
    cr_aead_key_wipe(&k2);
}

/* cr_aead_key_export: for every algorithm, the raw key and fixed IV come
 * back byte-exact, and a key initialised again from them is the same
 * expanded key and seals the same records (ciphertext and tag) as the
 * original; wiped keys and short buffers are refused. */
static void test_key_export(void)
{
    for (unsigned a = 0; a < CR_AEAD_N_ALGS; a++) {
        enum cr_aead_alg alg = (enum cr_aead_alg)a;
        for (unsigned round = 0; round < 8; round++) {
            uint8_t secret[32], iv[12];
            rnd_bytes(secret, sizeof(secret));
            rnd_bytes(iv, sizeof(iv));
            size_t kl = cr_aead_key_len(alg), il = cr_aead_fixed_iv_len(alg);
            struct cr_aead_key k1, k2;
            CU_ASSERT_EQUAL_FATAL(cr_aead_key_init(&k1, g_ctx, alg, secret, kl, iv, il), CR_OK);
            uint8_t ok[CR_AEAD_KEY_MAX_LEN], oiv[CR_AEAD_FIXED_IV_MAX_LEN];
            size_t okl = 0, oil = 0;
            enum cr_aead_alg oalg = CR_AEAD_N_ALGS;
            CU_ASSERT_EQUAL_FATAL(
                cr_aead_key_export(&k1, &oalg, ok, sizeof(ok), &okl, oiv, sizeof(oiv), &oil),
                CR_OK);
            CU_ASSERT_EQUAL(oalg, alg);
            CU_ASSERT_EQUAL(okl, kl);
            CU_ASSERT_EQUAL(oil, il);
            CU_ASSERT_EQUAL(memcmp(ok, secret, kl), 0);
            CU_ASSERT_EQUAL(memcmp(oiv, iv, il), 0);
            CU_ASSERT_EQUAL_FATAL(cr_aead_key_init(&k2, g_ctx, oalg, ok, okl, oiv, oil), CR_OK);
            CU_ASSERT_EQUAL(memcmp(&k1, &k2, sizeof(k1)), 0);
            /* the same records sealed under both */
            uint8_t pt[300], c1[300], c2[300], t1[16], t2[16], expl[8];
            uint32_t len = rnd(sizeof(pt) + 1);
            rnd_bytes(pt, sizeof(pt));
            uint64_t seq = rnd64() & ((UINT64_C(1) << 48) - 1);
            cr_aead_explicit_nonce(expl, 1, seq);
            struct cr_aead_op o[2];
            memset(o, 0, sizeof(o));
            for (int i = 0; i < 2; i++) {
                o[i].key = i ? &k2 : &k1;
                o[i].in = pt;
                o[i].out = i ? c2 : c1;
                o[i].tag = i ? t2 : t1;
                o[i].len = len;
                o[i].epoch = 1;
                o[i].version = 0xfefd;
                o[i].seq = seq;
                o[i].explicit_nonce = cr_aead_explicit_nonce_len(alg) ? expl : NULL;
                o[i].type = 23;
            }
            CU_ASSERT_EQUAL(cr_aead_seal_batch(g_ctx, o, 2), 2);
            CU_ASSERT_EQUAL(memcmp(c1, c2, len), 0);
            CU_ASSERT_EQUAL(memcmp(t1, t2, cr_aead_tag_len(alg)), 0);
            /* short buffers, a wiped key */
            CU_ASSERT_EQUAL(
                cr_aead_key_export(&k1, &oalg, ok, kl - 1, &okl, oiv, sizeof(oiv), &oil),
                CR_ERR_INVAL);
            CU_ASSERT_EQUAL(cr_aead_key_export(&k1, &oalg, ok, sizeof(ok), &okl, oiv, il - 1, &oil),
                            CR_ERR_INVAL);
            cr_aead_key_wipe(&k1);
            CU_ASSERT_EQUAL(
                cr_aead_key_export(&k1, &oalg, ok, sizeof(ok), &okl, oiv, sizeof(oiv), &oil),
                CR_ERR_INVAL);
            CU_ASSERT_EQUAL(
                cr_aead_key_export(NULL, &oalg, ok, sizeof(ok), &okl, oiv, sizeof(oiv), &oil),
                CR_ERR_INVAL);
            cr_aead_key_wipe(&k2);
        }
    }
}

/* Exact bytes of the AAD and nonce layouts for a fixed op. */
static void test_aad_nonce_layout(void)
{
    struct cr_aead_key key;
    uint8_t secret[32], iv[12];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)i;
    for (int i = 0; i < 12; i++)
        iv[i] = (uint8_t)(0xa0 + i);
    uint8_t expl[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    uint8_t cid[5] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4};
    uint8_t aad[CR_AEAD_AAD_MAX_LEN], nonce[12];

    CU_ASSERT_EQUAL_FATAL(cr_aead_key_init(&key, g_ctx, CR_AEAD_AES128_GCM, secret, 16, iv, 4),
                          CR_OK);
    struct cr_aead_op op = {.key = &key,
                            .len = 0x0123,
                            .epoch = 0x0203,
                            .version = 0xfefd,
                            .seq = 0x040506070809ull,
                            .explicit_nonce = expl,
                            .type = 23};
    static const uint8_t want13[13] = {0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                       0x09, 23,   0xfe, 0xfd, 0x01, 0x23};
    CU_ASSERT_EQUAL(cr_aead_build_aad(&op, aad), 13);
    CU_ASSERT_EQUAL(memcmp(aad, want13, 13), 0);
    cr_aead_build_nonce(&op, nonce);
    static const uint8_t wantn[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0x11, 0x22,
                                      0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    CU_ASSERT_EQUAL(memcmp(nonce, wantn, 12), 0);

    /* RFC 9146 §5 layout. */
    op.cid = cid;
    op.cid_len = 5;
    op.type = 25;
    static const uint8_t want_cid[28] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff,                         /* placeholder */
                                         25,   5,    25,                     /* tls12_cid, len */
                                         0xfe, 0xfd,                         /* version */
                                         0x02, 0x03,                         /* epoch */
                                         0x04, 0x05, 0x06, 0x07, 0x08, 0x09, /* seq */
                                         0xc0, 0xc1, 0xc2, 0xc3, 0xc4,       /* cid */
                                         0x01, 0x23};                        /* length */
    CU_ASSERT_EQUAL(cr_aead_build_aad(&op, aad), 28);
    CU_ASSERT_EQUAL(memcmp(aad, want_cid, 28), 0);
    op.type = 23; /* a CID record must carry tls12_cid */
    CU_ASSERT_EQUAL(cr_aead_build_aad(&op, aad), CR_ERR_INVAL);
    op.type = 25;
    op.cid_len = CR_AEAD_CID_MAX_LEN + 1;
    CU_ASSERT_EQUAL(cr_aead_build_aad(&op, aad), CR_ERR_INVAL);

    /* RFC 7905 §2 nonce: iv XOR (0000 || epoch || seq). */
    CU_ASSERT_EQUAL_FATAL(
        cr_aead_key_init(&key, g_ctx, CR_AEAD_CHACHA20_POLY1305, secret, 32, iv, 12), CR_OK);
    struct cr_aead_op op2 = {.key = &key, .epoch = 0x0203, .seq = 0x040506070809ull};
    cr_aead_build_nonce(&op2, nonce);
    static const uint8_t wantc[12] = {0xa0,        0xa1,        0xa2,        0xa3,
                                      0xa4 ^ 0x02, 0xa5 ^ 0x03, 0xa6 ^ 0x04, 0xa7 ^ 0x05,
                                      0xa8 ^ 0x06, 0xa9 ^ 0x07, 0xaa ^ 0x08, 0xab ^ 0x09};
    CU_ASSERT_EQUAL(memcmp(nonce, wantc, 12), 0);
    uint8_t e8[8];
    cr_aead_explicit_nonce(e8, 0x0203, 0x040506070809ull);
    static const uint8_t want_e8[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    CU_ASSERT_EQUAL(memcmp(e8, want_e8, 8), 0);
    cr_aead_key_wipe(&key);
}

/* ---- known-answer vectors --------------------------------------------- */

struct kat {
    int alg;
    uint8_t key[32], nonce[12], aad[64], pt[256], ct[256], tag[16];
    size_t key_len, nonce_len, aad_len, pt_len, ct_len, tag_len;
};

static int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    while (s[0] != '\0' && s[0] != '\n' && s[0] != '\r') {
        unsigned v;
        if (s[1] == '\0' || n >= cap || sscanf(s, "%2x", &v) != 1)
            return -1;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    *out_len = n;
    return 0;
}

static FILE *open_data(const char *name)
{
    char path[1024];
    const char *src = getenv("DTLSGW_SRCDIR");
    if (src != NULL) {
        snprintf(path, sizeof(path), "%s/tests/data/%s", src, name);
        FILE *f = fopen(path, "r");
        if (f != NULL)
            return f;
    }
    /* Fall back to the path relative to this source file. */
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        return NULL;
    snprintf(slash, sizeof(path) - (size_t)(slash - path), "/../data/%s", name);
    return fopen(path, "r");
}

static int kat_run(const struct kat *k)
{
    struct cr_aead_key key;
    uint8_t iv[12] = {0};
    uint8_t out[256], back[256], tag[16];
    int fails = 0;
    if (cr_aead_key_init(&key, g_ctx, (enum cr_aead_alg)k->alg, k->key, k->key_len, iv,
                         cr_aead_fixed_iv_len((enum cr_aead_alg)k->alg)) != 0)
        return 1;
    if (k->tag_len != key.tag_len || k->nonce_len != 12 || k->pt_len != k->ct_len)
        return 1;
    memset(tag, 0, sizeof(tag));
    if (aead_raw_one(g_ctx, &key, true, k->nonce, k->aad, (unsigned)k->aad_len, k->pt, out,
                     (uint32_t)k->pt_len, tag) != CR_OK)
        fails++;
    if (memcmp(out, k->ct, k->ct_len) != 0 || memcmp(tag, k->tag, k->tag_len))
        fails++;
    memcpy(tag, k->tag, k->tag_len);
    if (aead_raw_one(g_ctx, &key, false, k->nonce, k->aad, (unsigned)k->aad_len, k->ct, back,
                     (uint32_t)k->ct_len, tag) != CR_OK)
        fails++;
    if (memcmp(back, k->pt, k->pt_len) != 0)
        fails++;
    /* In place. */
    memcpy(back, k->ct, k->ct_len);
    if (aead_raw_one(g_ctx, &key, false, k->nonce, k->aad, (unsigned)k->aad_len, back, back,
                     (uint32_t)k->ct_len, tag) != CR_OK ||
        memcmp(back, k->pt, k->pt_len) != 0)
        fails++;
    tag[k->tag_len - 1] ^= 0x01;
    if (aead_raw_one(g_ctx, &key, false, k->nonce, k->aad, (unsigned)k->aad_len, k->ct, back,
                     (uint32_t)k->ct_len, tag) != CR_ERR_AUTH)
        fails++;
    /* The vector agrees with OpenSSL as well (checks the data file). */
    memset(tag, 0, sizeof(tag));
    if (evp_aead(k->alg, 1, k->key, k->nonce, k->aad, k->aad_len, k->pt, k->pt_len, out, tag) !=
            0 ||
        memcmp(out, k->ct, k->ct_len) != 0 || memcmp(tag, k->tag, k->tag_len))
        fails++;
    cr_aead_key_wipe(&key);
    return fails;
}

static void test_kat(void)
{
    FILE *f = open_data("aead_kat.txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[1024];
    struct kat k;
    int have = 0, n_run = 0, n_fail = 0;
    unsigned per_alg[CR_AEAD_N_ALGS] = {0};
    memset(&k, 0, sizeof(k));
    k.alg = -1;
    for (;;) {
        char *l = fgets(line, sizeof(line), f);
        bool end = l == NULL || line[0] == '\n' || line[0] == '\r';
        if (end && have) {
            int r = k.alg >= 0 ? kat_run(&k) : 1;
            if (r != 0)
                printf("\n    KAT #%d (%s) failed\n", n_run + 1,
                       k.alg >= 0 ? cr_aead_alg_name(k.alg) : "?");
            n_fail += r != 0;
            if (k.alg >= 0)
                per_alg[k.alg]++;
            n_run++;
            memset(&k, 0, sizeof(k));
            k.alg = -1;
            have = 0;
        }
        if (l == NULL)
            break;
        if (end || line[0] == '#')
            continue;
        char *eq = strchr(line, '=');
        CU_ASSERT_PTR_NOT_NULL_FATAL(eq);
        *eq = '\0';
        char *name = strtok(line, " \t");
        const char *val = eq + 1;
        int rc = 0;
        have = 1;
        if (strcmp(name, "alg") == 0) {
            char a[64];
            rc = sscanf(val, " %63s", a) == 1 ? 0 : -1;
            k.alg = rc == 0 ? alg_from_name(a) : -1;
        } else if (strcmp(name, "key") == 0) {
            rc = hex_decode(val, k.key, sizeof(k.key), &k.key_len);
        } else if (strcmp(name, "nonce") == 0) {
            rc = hex_decode(val, k.nonce, sizeof(k.nonce), &k.nonce_len);
        } else if (strcmp(name, "aad") == 0) {
            rc = hex_decode(val, k.aad, sizeof(k.aad), &k.aad_len);
        } else if (strcmp(name, "pt") == 0) {
            rc = hex_decode(val, k.pt, sizeof(k.pt), &k.pt_len);
        } else if (strcmp(name, "ct") == 0) {
            rc = hex_decode(val, k.ct, sizeof(k.ct), &k.ct_len);
        } else if (strcmp(name, "tag") == 0) {
            rc = hex_decode(val, k.tag, sizeof(k.tag), &k.tag_len);
        } else {
            rc = -1;
        }
        CU_ASSERT_EQUAL(rc, 0);
    }
    fclose(f);
    CU_ASSERT_EQUAL(n_fail, 0);
    CU_ASSERT(n_run >= 13);
    for (int a = 0; a < CR_AEAD_N_ALGS; a++)
        CU_ASSERT(per_alg[a] >= 1);
}

/* ---- differential test against EVP ------------------------------------ */

#define REC_MAX_BYTES 1536

struct rec {
    struct cr_aead_op op;
    int alg;
    const uint8_t *raw_key;
    const uint8_t *fixed_iv;
    uint8_t pt[REC_MAX_BYTES];
    uint8_t buf[REC_MAX_BYTES]; /* ciphertext / in-place buffer */
    uint8_t out[REC_MAX_BYTES];
    uint8_t tag[16];
    uint8_t expl[8];
    uint8_t cid[CR_AEAD_CID_MAX_LEN];
};

struct keyset {
    struct cr_aead_key key[CR_AEAD_N_ALGS];
    uint8_t raw[CR_AEAD_N_ALGS][32];
    uint8_t iv[CR_AEAD_N_ALGS][12];
};

static void keyset_init(struct keyset *ks)
{
    for (int a = 0; a < CR_AEAD_N_ALGS; a++) {
        rnd_bytes(ks->raw[a], sizeof(ks->raw[a]));
        rnd_bytes(ks->iv[a], sizeof(ks->iv[a]));
        int rc = cr_aead_key_init(&ks->key[a], g_ctx, (enum cr_aead_alg)a, ks->raw[a],
                                  cr_aead_key_len(a), ks->iv[a], cr_aead_fixed_iv_len(a));
        CU_ASSERT_EQUAL_FATAL(rc, CR_OK);
    }
}

/* Random record fields for suite `alg` and payload length `len`. */
static void rec_setup(struct rec *r, struct keyset *ks, int alg, uint32_t len, bool with_cid)
{
    memset(&r->op, 0, sizeof(r->op));
    r->alg = alg;
    r->raw_key = ks->raw[alg];
    r->fixed_iv = ks->iv[alg];
    rnd_bytes(r->pt, len);
    r->op.key = &ks->key[alg];
    r->op.len = len;
    r->op.epoch = (uint16_t)rnd64();
    r->op.seq = rnd64() & 0xffffffffffffull;
    r->op.version = rnd(2) ? 0xfefd : 0xfeff;
    r->op.tag = r->tag;
    r->op.type = (uint8_t)(20 + rnd(4));
    if (rnd(4) == 0)
        rnd_bytes(r->expl, 8);
    else
        cr_aead_explicit_nonce(r->expl, r->op.epoch, r->op.seq);
    r->op.explicit_nonce = cr_aead_explicit_nonce_len(alg) ? r->expl : NULL;
    if (with_cid) {
        r->op.cid_len = (uint8_t)rnd(CR_AEAD_CID_MAX_LEN + 1);
        rnd_bytes(r->cid, r->op.cid_len);
        r->op.cid = r->cid;
        r->op.type = 25;
    }
    r->op.status = 99;
}

static void rec_ref(const struct rec *r, uint8_t nonce[12], uint8_t *aad, size_t *aad_len)
{
    ref_nonce(nonce, r->alg, r->fixed_iv, r->op.epoch, r->op.seq, r->expl);
    *aad_len = ref_aad(aad, r->op.epoch, r->op.seq, r->op.type, r->op.version, (uint16_t)r->op.len,
                       r->op.cid, r->op.cid_len);
}

/* Seals recs with cr_aead (in place or not), checks each against EVP
 * (ciphertext and tag equal; EVP opens it), then EVP-seals a fresh payload
 * and opens it with cr_aead.  Returns the number of mismatches. */
static unsigned diff_batch(struct rec *recs, unsigned n, bool in_place)
{
    struct cr_aead_op ops[CR_AEAD_BATCH_MAX];
    unsigned bad = 0;
    uint8_t nonce[12], aad[64], ref_ct[REC_MAX_BYTES], ref_tag[16];
    size_t aad_len;

    /* Direction 1: ipsec-mb seals, EVP opens. */
    for (unsigned i = 0; i < n; i++) {
        struct rec *r = &recs[i];
        if (in_place) {
            memcpy(r->buf, r->pt, r->op.len);
            r->op.in = r->buf;
            r->op.out = r->buf;
        } else {
            r->op.in = r->pt;
            r->op.out = r->buf;
        }
        ops[i] = r->op;
    }
    unsigned ok = cr_aead_seal_batch(g_ctx, ops, n);
    if (ok != n)
        bad += n - ok;
    for (unsigned i = 0; i < n; i++) {
        struct rec *r = &recs[i];
        if (ops[i].status != CR_OK) {
            bad++;
            continue;
        }
        rec_ref(r, nonce, aad, &aad_len);
        if (evp_aead(r->alg, 1, r->raw_key, nonce, aad, aad_len, r->pt, r->op.len, ref_ct,
                     ref_tag) != 0) {
            bad++;
            continue;
        }
        if (memcmp(ref_ct, r->buf, r->op.len) != 0 ||
            memcmp(ref_tag, r->tag, cr_aead_tag_len(r->alg)) != 0)
            bad++;
        if (evp_aead(r->alg, 0, r->raw_key, nonce, aad, aad_len, r->buf, r->op.len, r->out,
                     r->tag) != 0 ||
            memcmp(r->out, r->pt, r->op.len) != 0)
            bad++;
    }

    /* Direction 2: EVP seals, ipsec-mb opens. */
    for (unsigned i = 0; i < n; i++) {
        struct rec *r = &recs[i];
        rnd_bytes(r->pt, r->op.len);
        rec_ref(r, nonce, aad, &aad_len);
        if (evp_aead(r->alg, 1, r->raw_key, nonce, aad, aad_len, r->pt, r->op.len, r->buf,
                     r->tag) != 0)
            bad++;
        ops[i] = r->op;
        ops[i].in = r->buf;
        ops[i].out = in_place ? r->buf : r->out;
        ops[i].status = 99;
    }
    ok = cr_aead_open_batch(g_ctx, ops, n);
    if (ok != n)
        bad += n - ok;
    for (unsigned i = 0; i < n; i++) {
        struct rec *r = &recs[i];
        if (ops[i].status != CR_OK || memcmp(ops[i].out, r->pt, r->op.len) != 0)
            bad++;
    }
    return bad;
}

static struct rec g_recs[CR_AEAD_BATCH_MAX];

static void test_diff_every_length(void)
{
    struct keyset ks;
    keyset_init(&ks);
    unsigned bad = 0, total = 0;
    for (int alg = 0; alg < CR_AEAD_N_ALGS; alg++) {
        uint32_t len = 0;
        while (len <= 1500) {
            unsigned n = 1 + rnd(CR_AEAD_BATCH_MAX);
            unsigned m = 0;
            for (; m < n && len <= 1500; m++, len++)
                rec_setup(&g_recs[m], &ks, alg, len, rnd(3) == 0);
            bad += diff_batch(g_recs, m, rnd(2) == 0);
            total += m;
        }
    }
    CU_ASSERT_EQUAL(total, 5 * 1501);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(g_ctx->n_job_errors, 0);
    for (int a = 0; a < CR_AEAD_N_ALGS; a++)
        cr_aead_key_wipe(&ks.key[a]);
}

static void test_diff_mixed_batches(void)
{
    struct keyset ks;
    unsigned bad = 0;
    for (int round = 0; round < 300; round++) {
        if (round % 50 == 0)
            keyset_init(&ks);
        unsigned n = 1 + rnd(CR_AEAD_BATCH_MAX);
        for (unsigned i = 0; i < n; i++) {
            uint32_t len = rnd(8) == 0 ? rnd(4) : rnd(1501);
            rec_setup(&g_recs[i], &ks, (int)rnd(CR_AEAD_N_ALGS), len, rnd(2) == 0);
        }
        bad += diff_batch(g_recs, n, rnd(2) == 0);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(g_ctx->n_job_errors, 0);
}

/* Batches bigger than CR_AEAD_BATCH_MAX are processed in chunks. */
static void test_big_batch(void)
{
    enum {
        N = 150
    };
    static struct rec recs[N];
    static struct cr_aead_op ops[N];
    struct keyset ks;
    keyset_init(&ks);
    for (unsigned i = 0; i < N; i++) {
        rec_setup(&recs[i], &ks, (int)(i % CR_AEAD_N_ALGS), rnd(300), false);
        recs[i].op.in = recs[i].pt;
        recs[i].op.out = recs[i].buf;
        ops[i] = recs[i].op;
    }
    CU_ASSERT_EQUAL(cr_aead_seal_batch(g_ctx, ops, N), N);
    for (unsigned i = 0; i < N; i++) {
        ops[i].in = recs[i].buf;
        ops[i].out = recs[i].out;
        ops[i].status = 99;
    }
    CU_ASSERT_EQUAL(cr_aead_open_batch(g_ctx, ops, N), N);
    unsigned bad = 0;
    for (unsigned i = 0; i < N; i++)
        bad += ops[i].status != CR_OK || memcmp(recs[i].out, recs[i].pt, ops[i].len) != 0;
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(cr_aead_seal_batch(g_ctx, ops, 0), 0);
    CU_ASSERT_EQUAL(cr_aead_seal_batch(NULL, ops, 1), 0);
}

/* ---- tamper tests ---------------------------------------------------- */

enum tamper {
    T_TAG,
    T_CT,
    T_EPOCH,
    T_SEQ,
    T_TYPE,
    T_VERSION,
    T_LEN,
    T_CID,
    T_EXPLICIT,
    T_N
};

static void test_tamper(void)
{
    struct keyset ks;
    keyset_init(&ks);
    struct cr_aead_op ops[CR_AEAD_BATCH_MAX];
    unsigned n_checked = 0;
    for (int alg = 0; alg < CR_AEAD_N_ALGS; alg++) {
        for (int t = 0; t < T_N; t++) {
            if (t == T_EXPLICIT && cr_aead_explicit_nonce_len(alg) == 0)
                continue;
            for (int rep = 0; rep < 4; rep++) {
                /* A batch of 9 records; the one in the middle is tampered. */
                const unsigned n = 9, victim = 4;
                bool cid = t == T_CID || rnd(2) == 0;
                for (unsigned i = 0; i < n; i++) {
                    uint32_t len = (t == T_CT || rnd(2)) ? 1 + rnd(200) : rnd(200);
                    rec_setup(&g_recs[i], &ks, i == victim ? alg : (int)rnd(5), len,
                              i == victim ? cid : rnd(2) == 0);
                    if (i == victim && t == T_CID && g_recs[i].op.cid_len == 0) {
                        /* Need at least one CID byte to flip. */
                        g_recs[i].op.cid_len = 1;
                        g_recs[i].cid[0] = 7;
                    }
                    g_recs[i].op.in = g_recs[i].pt;
                    g_recs[i].op.out = g_recs[i].buf;
                    ops[i] = g_recs[i].op;
                }
                CU_ASSERT_EQUAL(cr_aead_seal_batch(g_ctx, ops, n), n);
                for (unsigned i = 0; i < n; i++) {
                    ops[i].in = g_recs[i].buf;
                    ops[i].out = g_recs[i].out;
                    ops[i].status = 99;
                }
                struct cr_aead_op *v = &ops[victim];
                uint8_t bit = (uint8_t)(1u << rnd(8));
                uint8_t cid_copy[CR_AEAD_CID_MAX_LEN];
                uint8_t expl_copy[8];
                switch (t) {
                case T_TAG:
                    g_recs[victim].tag[rnd(cr_aead_tag_len(alg))] ^= bit;
                    break;
                case T_CT:
                    g_recs[victim].buf[rnd(v->len)] ^= bit;
                    break;
                case T_EPOCH:
                    v->epoch ^= (uint16_t)(1u << rnd(16));
                    break;
                case T_SEQ:
                    v->seq ^= 1ull << rnd(48);
                    break;
                case T_TYPE:
                    if (v->cid != NULL) /* covered by the CID layout test */
                        v->cid = NULL;
                    else
                        v->type ^= bit;
                    break;
                case T_VERSION:
                    v->version ^= (uint16_t)(1u << rnd(16));
                    break;
                case T_LEN:
                    /* The AAD length differs from the real length: the
                     * receiver authenticates what the header claims. */
                    if (v->len > 0 && rnd(2))
                        v->len -= 1;
                    else
                        v->len += 1, g_recs[victim].buf[v->len - 1] = 0;
                    break;
                case T_CID:
                    memcpy(cid_copy, g_recs[victim].cid, v->cid_len);
                    cid_copy[rnd(v->cid_len)] ^= bit;
                    v->cid = cid_copy;
                    break;
                case T_EXPLICIT:
                    memcpy(expl_copy, g_recs[victim].expl, 8);
                    expl_copy[rnd(8)] ^= bit;
                    v->explicit_nonce = expl_copy;
                    break;
                }
                unsigned ok = cr_aead_open_batch(g_ctx, ops, n);
                CU_ASSERT_EQUAL(ok, n - 1);
                CU_ASSERT_EQUAL(v->status, CR_ERR_AUTH);
                for (unsigned i = 0; i < n; i++) {
                    if (i == victim)
                        continue;
                    CU_ASSERT_EQUAL(ops[i].status, CR_OK);
                    CU_ASSERT_EQUAL(memcmp(g_recs[i].out, g_recs[i].pt, ops[i].len), 0);
                }
                n_checked++;
            }
        }
    }
    CU_ASSERT(n_checked >= 5 * 8 * 4);
}

/* Invalid ops get CR_ERR_INVAL and do not disturb the rest of the batch. */
static void test_invalid_ops(void)
{
    struct keyset ks;
    keyset_init(&ks);
    struct cr_aead_op ops[8];
    for (unsigned i = 0; i < 8; i++) {
        rec_setup(&g_recs[i], &ks, (int)(i % CR_AEAD_N_ALGS), 10 + i, false);
        g_recs[i].op.in = g_recs[i].pt;
        g_recs[i].op.out = g_recs[i].buf;
        ops[i] = g_recs[i].op;
    }
    ops[1].key = NULL;
    ops[2].tag = NULL;
    ops[3].cid = g_recs[3].cid; /* CID with a non-tls12_cid type */
    ops[3].type = 23;
    ops[3].cid_len = 2;
    ops[4].in = NULL;
    ops[5].len = 1u << 20;
    ops[6].explicit_nonce = NULL;
    ops[6].key = &ks.key[CR_AEAD_AES128_CCM8];
    unsigned ok = cr_aead_seal_batch(g_ctx, ops, 8);
    CU_ASSERT_EQUAL(ok, 2);
    CU_ASSERT_EQUAL(ops[0].status, CR_OK);
    CU_ASSERT_EQUAL(ops[7].status, CR_OK);
    for (unsigned i = 1; i <= 6; i++)
        CU_ASSERT_EQUAL(ops[i].status, CR_ERR_INVAL);
    ops[0].in = g_recs[0].buf;
    ops[0].out = g_recs[0].out;
    CU_ASSERT_EQUAL(cr_aead_open_batch(g_ctx, ops, 1), 1);
    CU_ASSERT_EQUAL(memcmp(g_recs[0].out, g_recs[0].pt, ops[0].len), 0);
}

/* ---- one-key fast path ---------------------------------------------------- */

/* Batches whose first op's key is used by most ops take a per-suite fast
 * path; ops that do not fit it (empty payload, CID record, another key,
 * possibly with another tag length, invalid ops) go through the general
 * path inside the same burst.  Results must be the same as EVP's, invalid
 * ops must not shift the results of the ops after them, and a tampered op
 * after a dropped one must still fail alone. */
static void test_fast_path_mix(void)
{
    struct keyset ks;
    keyset_init(&ks);
    /* Same family, other key: GCM-128 <-> GCM-256, CCM <-> CCM-8 (other
     * tag length); ChaCha20 takes a GCM key. */
    static const int sibling[CR_AEAD_N_ALGS] = {CR_AEAD_AES256_GCM, CR_AEAD_AES128_GCM,
                                                CR_AEAD_AES128_CCM8, CR_AEAD_AES128_CCM,
                                                CR_AEAD_AES128_GCM};
    struct cr_aead_op ops[CR_AEAD_BATCH_MAX];
    unsigned bad = 0, n_checked = 0;
    for (int alg = 0; alg < CR_AEAD_N_ALGS; alg++) {
        for (int rep = 0; rep < 6; rep++) {
            const unsigned n = 24;
            for (unsigned i = 0; i < n; i++) {
                int a = (rep & 1) && i == 14 ? sibling[alg] : alg;
                uint32_t len = i == 9 ? 0 : 1 + rnd(300);
                rec_setup(&g_recs[i], &ks, a, len, (rep & 1) && i == 12);
            }
            /* Against EVP, both directions. */
            bad += diff_batch(g_recs, n, rnd(2) == 0);

            /* Seal with op 3 invalid, open with op 3 invalid and op 17's
             * tag flipped. */
            for (unsigned i = 0; i < n; i++) {
                g_recs[i].op.in = g_recs[i].pt;
                g_recs[i].op.out = g_recs[i].buf;
                ops[i] = g_recs[i].op;
                ops[i].status = 99;
            }
            ops[3].tag = NULL;
            unsigned ok = cr_aead_seal_batch(g_ctx, ops, n);
            CU_ASSERT_EQUAL(ok, n - 1);
            CU_ASSERT_EQUAL(ops[3].status, CR_ERR_INVAL);
            for (unsigned i = 0; i < n; i++) {
                ops[i].in = g_recs[i].buf;
                ops[i].out = g_recs[i].out;
                ops[i].status = 99;
            }
            ops[3].tag = g_recs[3].tag;
            ops[3].in = NULL;
            if (ops[3].len == 0)
                ops[3].len = 1;
            g_recs[17].tag[rnd(cr_aead_tag_len(g_recs[17].alg))] ^= (uint8_t)(1u << rnd(8));
            ok = cr_aead_open_batch(g_ctx, ops, n);
            CU_ASSERT_EQUAL(ok, n - 2);
            CU_ASSERT_EQUAL(ops[3].status, CR_ERR_INVAL);
            CU_ASSERT_EQUAL(ops[17].status, CR_ERR_AUTH);
            for (unsigned i = 0; i < n; i++) {
                if (i == 3 || i == 17)
                    continue;
                if (ops[i].status != CR_OK || memcmp(g_recs[i].out, g_recs[i].pt, ops[i].len) != 0)
                    bad++;
            }
            n_checked++;
        }
    }
    CU_ASSERT_EQUAL(n_checked, 5 * 6);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(g_ctx->n_job_errors, 0);
    for (int a = 0; a < CR_AEAD_N_ALGS; a++)
        cr_aead_key_wipe(&ks.key[a]);
}

/* ---- queue wrap ----------------------------------------------------------- */

/* Moves the manager's job queue position by running jobs through the
 * single-job API, as another user of the same IMB_MGR would: half of the
 * time to a random slot (the next cr_aead call starts mid-queue and its
 * jobs wrap around the end of the queue), half of the time back to slot 0
 * (the next call uses ipsec-mb's burst path again). */
static int advance_queue(const struct cr_aead_key *gcm)
{
    static uint8_t data[64], out[64], tag[16], nonce[12], aad[13];
    IMB_MGR *mgr = cr_aead_ctx_mgr(g_ctx);
    unsigned pos = (unsigned)mgr->next_job / sizeof(IMB_JOB);
    unsigned k = rnd(2) ? rnd(IMB_MAX_JOBS) : (IMB_MAX_JOBS - pos) % IMB_MAX_JOBS;
    int bad = 0;
    for (unsigned i = 0; i < k; i++) {
        IMB_JOB *job = IMB_GET_NEXT_JOB(mgr);
        job_fill(job, gcm, true, data, out, sizeof(data), nonce, aad, sizeof(aad), tag);
        job->user_data = NULL;
        job->user_data2 = (void *)(uintptr_t)0xdead;
        job = IMB_SUBMIT_JOB(mgr);
        if (job != NULL && job->status != IMB_STATUS_COMPLETED)
            bad++;
    }
    IMB_JOB *job;
    while ((job = IMB_FLUSH_JOB(mgr)) != NULL)
        if (job->status != IMB_STATUS_COMPLETED)
            bad++;
    return bad;
}

static void test_wrap(void)
{
    struct keyset ks;
    keyset_init(&ks);
    struct cr_aead_op ops[CR_AEAD_BATCH_MAX];
    unsigned bad = 0, n_bursts = 0, n_ops = 0;
    uint64_t foreign_before = g_ctx->n_foreign_completions;
    uint64_t bursts_before = g_ctx->n_burst_calls;
    uint64_t jobapi_before = g_ctx->n_job_api_calls;
    uint64_t realign_before = g_ctx->n_realigns;
    /* Until now nobody else used the manager: every chunk went through
     * ipsec-mb's burst path. */
    CU_ASSERT_EQUAL(g_ctx->n_job_api_calls, 0);
    CU_ASSERT(g_ctx->n_burst_calls > 0);
    uint8_t nonce[12], aad[64], ref_ct[256], ref_tag[16];
    size_t aad_len;
    for (int b = 0; b < 5200; b++) {
        /* Every few bursts, move the queue position to a random slot so
         * that bursts start near IMB_MAX_JOBS and wrap. */
        if (b % 3 == 0)
            bad += advance_queue(&ks.key[CR_AEAD_AES128_GCM]);
        unsigned n = 1 + rnd(CR_AEAD_BATCH_MAX);
        bool in_place = rnd(2);
        for (unsigned i = 0; i < n; i++) {
            struct rec *r = &g_recs[i];
            rec_setup(r, &ks, (int)rnd(CR_AEAD_N_ALGS), rnd(200), rnd(4) == 0);
            if (in_place)
                memcpy(r->buf, r->pt, r->op.len);
            r->op.in = in_place ? r->buf : r->pt;
            r->op.out = r->buf;
            ops[i] = r->op;
        }
        if (cr_aead_seal_batch(g_ctx, ops, n) != n)
            bad++;
        for (unsigned i = 0; i < n; i++) {
            struct rec *r = &g_recs[i];
            rec_ref(r, nonce, aad, &aad_len);
            if (ops[i].status != CR_OK ||
                evp_aead(r->alg, 1, r->raw_key, nonce, aad, aad_len, r->pt, r->op.len, ref_ct,
                         ref_tag) != 0 ||
                memcmp(ref_ct, r->buf, r->op.len) != 0 ||
                memcmp(ref_tag, r->tag, cr_aead_tag_len(r->alg)) != 0)
                bad++;
            ops[i].in = r->buf;
            ops[i].out = in_place ? r->buf : r->out;
            ops[i].status = 99;
        }
        n_bursts++;
        if (b % 3 == 1)
            bad += advance_queue(&ks.key[CR_AEAD_AES256_GCM]);
        if (cr_aead_open_batch(g_ctx, ops, n) != n)
            bad++;
        for (unsigned i = 0; i < n; i++)
            if (ops[i].status != CR_OK || memcmp(ops[i].out, g_recs[i].pt, ops[i].len) != 0)
                bad++;
        n_bursts++;
        n_ops += 2 * n;
        if (IMB_QUEUE_SIZE(cr_aead_ctx_mgr(g_ctx)) != 0)
            bad++; /* every call drains its burst */
    }
    uint64_t via_burst = g_ctx->n_burst_calls - bursts_before;
    uint64_t via_jobs = g_ctx->n_job_api_calls - jobapi_before;
    uint64_t realigns = g_ctx->n_realigns - realign_before;
    printf("\n    %u calls, %u ops: %llu bursts, %llu job-API chunks, "
           "%llu queue realigns; foreign completions seen %llu\n",
           n_bursts, n_ops, (unsigned long long)via_burst, (unsigned long long)via_jobs,
           (unsigned long long)realigns,
           (unsigned long long)(g_ctx->n_foreign_completions - foreign_before));
    CU_ASSERT(via_burst >= n_bursts);
    CU_ASSERT(realigns >= 1000);
    CU_ASSERT_EQUAL(via_jobs, 0);
    CU_ASSERT(n_bursts >= 5000);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(g_ctx->n_job_errors, 0);
}

/* The job-API fallback (used when the queue cannot be rewound to slot 0)
 * gives the same results. */
static void test_job_api_fallback(void)
{
    uint64_t before = g_ctx->n_job_api_calls;
    g_ctx->force_job_api = true;
    test_diff_mixed_batches();
    test_tamper();
    g_ctx->force_job_api = false;
    CU_ASSERT(g_ctx->n_job_api_calls - before >= 300);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("aead", suite_init, suite_clean);
    CU_add_test(s, "ctx and algorithm table", test_ctx_and_table);
    CU_add_test(s, "key init arguments", test_key_init_args);
    CU_add_test(s, "key export: raw key back out, re-initialised seals identically",
                test_key_export);
    CU_add_test(s, "AAD and nonce layout", test_aad_nonce_layout);
    CU_add_test(s, "known-answer vectors", test_kat);
    CU_add_test(s, "EVP differential, every length 0..1500", test_diff_every_length);
    CU_add_test(s, "EVP differential, mixed batches", test_diff_mixed_batches);
    CU_add_test(s, "batches above CR_AEAD_BATCH_MAX", test_big_batch);
    CU_add_test(s, "tamper: tag, ciphertext, AAD fields", test_tamper);
    CU_add_test(s, "invalid ops", test_invalid_ops);
    CU_add_test(s, "one-key fast path mixed with other ops", test_fast_path_mix);
    CU_add_test(s, "5000+ bursts across the queue wrap", test_wrap);
    CU_add_test(s, "job API fallback", test_job_api_fallback);
}
