/* test_pk.c — crypto/cr_pk.c: ECDHE agreement for X25519/P-256/P-384 and
 * rejection of bad peer values, TLS 1.2 signature schemes (sign, verify,
 * cross-check with plain EVP), X.509 chain verification.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cr_pk.h"
#include "cu_main.h"
#include "tl_cert.h"

static void test_ecdhe_agreement(void)
{
    static const uint16_t groups[] = {CR_GROUP_X25519, CR_GROUP_SECP256R1, CR_GROUP_SECP384R1};
    static const size_t pub_len[] = {32, 65, 97};
    static const size_t z_len[] = {32, 32, 48};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *a = NULL, *b = NULL;
        uint8_t pa[CR_ECDHE_PUB_MAX_LEN], pb[CR_ECDHE_PUB_MAX_LEN];
        uint8_t za[CR_ECDHE_SECRET_MAX_LEN], zb[CR_ECDHE_SECRET_MAX_LEN];
        size_t la = 0, lb = 0, na = 0, nb = 0;
        CU_ASSERT_EQUAL_FATAL(cr_ecdhe_keygen(groups[i], &a, pa, sizeof(pa), &la), 0);
        CU_ASSERT_EQUAL_FATAL(cr_ecdhe_keygen(groups[i], &b, pb, sizeof(pb), &lb), 0);
        CU_ASSERT_EQUAL(la, pub_len[i]);
        CU_ASSERT_EQUAL(lb, pub_len[i]);
        if (groups[i] != CR_GROUP_X25519)
            CU_ASSERT_EQUAL(pa[0], 0x04);
        CU_ASSERT_EQUAL(cr_ecdhe_derive(a, groups[i], pb, lb, za, sizeof(za), &na), 0);
        CU_ASSERT_EQUAL(cr_ecdhe_derive(b, groups[i], pa, la, zb, sizeof(zb), &nb), 0);
        CU_ASSERT_EQUAL(na, z_len[i]);
        CU_ASSERT_EQUAL(na, nb);
        CU_ASSERT(memcmp(za, zb, na) == 0);
        /* Wrong length, compressed form, point off the curve. */
        CU_ASSERT(cr_ecdhe_derive(a, groups[i], pb, lb - 1, za, sizeof(za), &na) < 0);
        if (groups[i] != CR_GROUP_X25519) {
            uint8_t bad[CR_ECDHE_PUB_MAX_LEN];
            memcpy(bad, pb, lb);
            bad[0] = 0x02;
            CU_ASSERT(cr_ecdhe_derive(a, groups[i], bad, lb, za, sizeof(za), &na) < 0);
            memcpy(bad, pb, lb);
            bad[lb - 1] ^= 1; /* y no longer matches x */
            CU_ASSERT(cr_ecdhe_derive(a, groups[i], bad, lb, za, sizeof(za), &na) < 0);
        } else {
            /* RFC 7748 §6.1: all-zero shared secret (low-order point 0). */
            uint8_t zero[32] = {0};
            CU_ASSERT(cr_ecdhe_derive(a, groups[i], zero, 32, za, sizeof(za), &na) < 0);
        }
        EVP_PKEY_free(a);
        EVP_PKEY_free(b);
    }
    EVP_PKEY *k = NULL;
    uint8_t p[128];
    size_t l;
    CU_ASSERT_EQUAL(cr_ecdhe_keygen(25, &k, p, sizeof(p), &l), CR_ERR_UNSUPPORTED);
    CU_ASSERT_FALSE(cr_group_supported(25));
}

static void test_signatures(void)
{
    EVP_PKEY *ec = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *rsa = tl_key_new(TL_KEY_RSA_2048);
    static const struct {
        uint16_t scheme;
        bool rsa;
        const char *md;
        bool pss;
    } cases[] = {
        {CR_SIG_ECDSA_SECP256R1_SHA256, false, "SHA256", false},
        {CR_SIG_ECDSA_SECP384R1_SHA384, false, "SHA384", false},
        {CR_SIG_ECDSA_SHA1, false, "SHA1", false},
        {CR_SIG_RSA_PKCS1_SHA256, true, "SHA256", false},
        {CR_SIG_RSA_PKCS1_SHA384, true, "SHA384", false},
        {CR_SIG_RSA_PKCS1_SHA1, true, "SHA1", false},
        {CR_SIG_RSA_PSS_RSAE_SHA256, true, "SHA256", true},
    };
    const uint8_t msg[] = "client_random || server_random || params";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EVP_PKEY *key = cases[i].rsa ? rsa : ec;
        EVP_PKEY *other = cases[i].rsa ? ec : rsa;
        uint8_t sig[CR_SIG_MAX_LEN];
        size_t n = 0;
        CU_ASSERT(cr_sig_scheme_fits(cases[i].scheme, key));
        CU_ASSERT_FALSE(cr_sig_scheme_fits(cases[i].scheme, other));
        CU_ASSERT_EQUAL(cr_pk_sign(key, cases[i].scheme, msg, sizeof(msg), sig, sizeof(sig), &n),
                        0);
        CU_ASSERT_EQUAL(cr_pk_verify(key, cases[i].scheme, msg, sizeof(msg), sig, n), 0);
        /* Independent check with EVP_DigestVerify. */
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pc = NULL;
        EVP_DigestVerifyInit_ex(m, &pc, cases[i].md, NULL, NULL, key, NULL);
        if (cases[i].pss) {
            EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32);
        }
        CU_ASSERT_EQUAL(EVP_DigestVerify(m, sig, n, msg, sizeof(msg)), 1);
        EVP_MD_CTX_free(m);
        /* Tampered message / signature. */
        uint8_t bad[sizeof(msg)];
        memcpy(bad, msg, sizeof(msg));
        bad[0] ^= 1;
        CU_ASSERT_EQUAL(cr_pk_verify(key, cases[i].scheme, bad, sizeof(bad), sig, n),
                        CR_ERR_VERIFY);
        sig[n / 2] ^= 1;
        CU_ASSERT_EQUAL(cr_pk_verify(key, cases[i].scheme, msg, sizeof(msg), sig, n),
                        CR_ERR_VERIFY);
        CU_ASSERT_EQUAL(cr_pk_verify(other, cases[i].scheme, msg, sizeof(msg), sig, n),
                        CR_ERR_VERIFY);
    }
    uint8_t sig[8];
    size_t n;
    CU_ASSERT(cr_pk_sign(ec, CR_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof(msg), sig, sizeof(sig),
                         &n) < 0); /* buffer too small */
    CU_ASSERT(cr_pk_sign(ec, 0x0808, msg, sizeof(msg), sig, sizeof(sig), &n) < 0);
    CU_ASSERT_EQUAL(cr_pk_type_of(ec), CR_PK_EC);
    CU_ASSERT_EQUAL(cr_pk_type_of(rsa), CR_PK_RSA);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}

static X509 *mk(const char *cn, EVP_PKEY *key, X509 *iss, EVP_PKEY *iss_key, bool ca)
{
    const struct tl_cert_opts o = {
        .cn = cn, .not_before_s = -60, .not_after_s = 3600, .kind = ca ? TL_CERT_CA : TL_CERT_LEAF};
    return tl_cert_new(key, &o, iss, iss_key);
}

static void test_chain(void)
{
    EVP_PKEY *rk = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *ik = tl_key_new(TL_KEY_EC_P256);
    EVP_PKEY *lk = tl_key_new(TL_KEY_EC_P256);
    X509 *root = mk("root", rk, NULL, rk, true);
    X509 *inter = mk("inter", ik, root, rk, true);
    X509 *leaf = mk("device 42", lk, inter, ik, false);
    X509 *other_root = mk("other", ik, NULL, ik, true);
    uint8_t *der[3] = {NULL, NULL, NULL};
    size_t len[3];
    len[0] = (size_t)i2d_X509(leaf, &der[0]);
    len[1] = (size_t)i2d_X509(inter, &der[1]);
    len[2] = (size_t)i2d_X509(root, &der[2]);
    X509_STORE *st = X509_STORE_new();
    X509_STORE_add_cert(st, root);
    X509_STORE *st2 = X509_STORE_new();
    X509_STORE_add_cert(st2, other_root);

    EVP_PKEY *pub = NULL;
    char subj[CR_PK_SUBJECT_MAX_LEN + 1];
    CU_ASSERT_EQUAL(
        cr_pk_verify_chain(st, (const uint8_t *const *)der, len, 2, &pub, subj, sizeof(subj)), 0);
    CU_ASSERT_STRING_EQUAL(subj, "CN=device 42");
    CU_ASSERT(pub && EVP_PKEY_eq(pub, lk) == 1);
    EVP_PKEY_free(pub);
    pub = NULL;
    /* Missing intermediate, wrong trust anchor, broken DER. */
    CU_ASSERT_EQUAL(
        cr_pk_verify_chain(st, (const uint8_t *const *)der, len, 1, &pub, subj, sizeof(subj)),
        CR_ERR_VERIFY);
    CU_ASSERT_EQUAL(
        cr_pk_verify_chain(st2, (const uint8_t *const *)der, len, 2, &pub, subj, sizeof(subj)),
        CR_ERR_VERIFY);
    size_t short_len[2] = {len[0] - 1, len[1]};
    CU_ASSERT_EQUAL(
        cr_pk_verify_chain(st, (const uint8_t *const *)der, short_len, 2, &pub, subj, sizeof(subj)),
        CR_ERR_DECODE);
    CU_ASSERT_EQUAL(
        cr_pk_verify_chain(st, (const uint8_t *const *)der, len, 0, &pub, subj, sizeof(subj)),
        CR_ERR_VERIFY);
    CU_ASSERT_PTR_NULL(pub);
    for (int i = 0; i < 3; i++)
        OPENSSL_free(der[i]);
    X509_STORE_free(st);
    X509_STORE_free(st2);
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    X509_free(other_root);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("pk", NULL, NULL);
    CU_add_test(s, "ECDHE agreement and bad points", test_ecdhe_agreement);
    CU_add_test(s, "signatures", test_signatures);
    CU_add_test(s, "chain verification", test_chain);
}
