/* cr_pk.c — ECDHE, TLS 1.2 signatures and X.509 chain verification on
 * libcrypto (EVP_PKEY, X509_STORE).
 *
 * Owns: nothing persistent.  Must not: use libssl; keep shared secrets
 * (derived bytes go to the caller's buffer, temporaries are wiped).
 */
#include "cr_pk.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *group_curve(uint16_t group)
{
    switch (group) {
    case CR_GROUP_SECP256R1:
        return "P-256";
    case CR_GROUP_SECP384R1:
        return "P-384";
    default:
        return NULL;
    }
}

static size_t group_point_len(uint16_t group)
{
    switch (group) {
    case CR_GROUP_SECP256R1:
        return 65;
    case CR_GROUP_SECP384R1:
        return 97;
    case CR_GROUP_X25519:
        return 32;
    default:
        return 0;
    }
}

bool cr_group_supported(uint16_t group)
{
    return group_point_len(group) != 0;
}

int cr_ecdhe_keygen(uint16_t group, EVP_PKEY **out_key, uint8_t *out_pub, size_t cap,
                    size_t *out_len)
{
    EVP_PKEY *key = NULL;
    size_t n = 0;

    CR_ENSURE(out_key && out_pub && out_len, CR_ERR_INVAL);
    CR_ENSURE(cr_group_supported(group), CR_ERR_UNSUPPORTED);
    CR_ENSURE(cap >= group_point_len(group), CR_ERR_INVAL);
    if (group == CR_GROUP_X25519)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    else
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group_curve(group));
    CR_ENSURE(key, CR_ERR_CRYPTO);
    if (group == CR_GROUP_X25519) {
        n = cap;
        if (EVP_PKEY_get_raw_public_key(key, out_pub, &n) != 1)
            goto fail;
    } else {
        /* OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY is the uncompressed point by
         * default (RFC 8422 §5.4: uncompressed is the only format we do). */
        if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out_pub, cap,
                                            &n) != 1)
            goto fail;
    }
    if (n != group_point_len(group))
        goto fail;
    *out_key = key;
    *out_len = n;
    return 0;
fail:
    EVP_PKEY_free(key);
    return CR_ERR_CRYPTO;
}

static EVP_PKEY *peer_key(uint16_t group, const uint8_t *pub, size_t len)
{
    if (group == CR_GROUP_X25519)
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, len);

    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    OSSL_PARAM params[3];
    if (!pctx)
        return NULL;
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group_curve(group), 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, len);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(pctx);
    return key;
}

int cr_ecdhe_derive(EVP_PKEY *key, uint16_t group, const uint8_t *peer_pub, size_t peer_len,
                    uint8_t *out, size_t cap, size_t *out_len)
{
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    size_t n = 0;
    int rc;

    CR_ENSURE(key && peer_pub && out && out_len, CR_ERR_INVAL);
    CR_ENSURE(cr_group_supported(group), CR_ERR_UNSUPPORTED);
    /* RFC 8422 §5.1.2 / §5.4: only the uncompressed form (0x04 || X || Y)
     * for NIST curves; X25519 public values are exactly 32 bytes. */
    CR_ENSURE(peer_len == group_point_len(group), CR_ERR_DECODE);
    CR_ENSURE(group == CR_GROUP_X25519 || peer_pub[0] == 0x04, CR_ERR_DECODE);
    peer = peer_key(group, peer_pub, peer_len);
    CR_ENSURE(peer, CR_ERR_DECODE);
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    CR_ENSURE_GOTO(dctx, CR_ERR_NOMEM, done);
    CR_ENSURE_GOTO(EVP_PKEY_derive_init(dctx) == 1, CR_ERR_CRYPTO, done);
    /* validate_peer = 1: public key checks (on curve, not infinity). */
    CR_ENSURE_GOTO(EVP_PKEY_derive_set_peer_ex(dctx, peer, 1) == 1, CR_ERR_DECODE, done);
    CR_ENSURE_GOTO(EVP_PKEY_derive(dctx, NULL, &n) == 1, CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(n <= cap, CR_ERR_INVAL, done);
    /* X25519 in libcrypto fails on an all-zero result (RFC 7748 §6.1). */
    CR_ENSURE_GOTO(EVP_PKEY_derive(dctx, out, &n) == 1, CR_ERR_DECODE, done);
    *out_len = n;
    rc = 0;
done:
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer);
    return rc;
}

enum cr_pk_type cr_pk_type_of(const EVP_PKEY *key)
{
    if (!key)
        return CR_PK_NONE;
    if (EVP_PKEY_is_a(key, "EC"))
        return CR_PK_EC;
    if (EVP_PKEY_is_a(key, "RSA"))
        return CR_PK_RSA;
    return CR_PK_NONE;
}

static const char *scheme_md(uint16_t scheme)
{
    switch (scheme) {
    case CR_SIG_RSA_PKCS1_SHA1:
    case CR_SIG_ECDSA_SHA1:
        return "SHA1";
    case CR_SIG_RSA_PKCS1_SHA256:
    case CR_SIG_ECDSA_SECP256R1_SHA256:
    case CR_SIG_RSA_PSS_RSAE_SHA256:
        return "SHA256";
    case CR_SIG_RSA_PKCS1_SHA384:
    case CR_SIG_ECDSA_SECP384R1_SHA384:
        return "SHA384";
    default:
        return NULL;
    }
}

static enum cr_pk_type scheme_type(uint16_t scheme)
{
    switch (scheme) {
    case CR_SIG_ECDSA_SHA1:
    case CR_SIG_ECDSA_SECP256R1_SHA256:
    case CR_SIG_ECDSA_SECP384R1_SHA384:
        return CR_PK_EC;
    case CR_SIG_RSA_PKCS1_SHA1:
    case CR_SIG_RSA_PKCS1_SHA256:
    case CR_SIG_RSA_PKCS1_SHA384:
    case CR_SIG_RSA_PSS_RSAE_SHA256:
        return CR_PK_RSA;
    default:
        return CR_PK_NONE;
    }
}

bool cr_sig_scheme_supported(uint16_t scheme)
{
    return scheme_md(scheme) != NULL;
}

bool cr_sig_scheme_fits(uint16_t scheme, const EVP_PKEY *key)
{
    enum cr_pk_type t = scheme_type(scheme);
    return t != CR_PK_NONE && t == cr_pk_type_of(key);
}

static int setup_pss(EVP_PKEY_CTX *pctx, uint16_t scheme)
{
    if (scheme != CR_SIG_RSA_PSS_RSAE_SHA256)
        return 1;
    /* RFC 8446 §4.2.3: salt length equal to the digest length, MGF1 with
     * the same hash. */
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) <= 0)
        return 0;
    return 1;
}

int cr_pk_sign(EVP_PKEY *key, uint16_t scheme, const uint8_t *msg, size_t len, uint8_t *sig,
               size_t cap, size_t *sig_len)
{
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;
    size_t n = 0;
    int rc;

    CR_ENSURE(key && sig && sig_len && (msg || len == 0), CR_ERR_INVAL);
    CR_ENSURE(cr_sig_scheme_fits(scheme, key), CR_ERR_UNSUPPORTED);
    mctx = EVP_MD_CTX_new();
    CR_ENSURE(mctx, CR_ERR_NOMEM);
    CR_ENSURE_GOTO(EVP_DigestSignInit_ex(mctx, &pctx, scheme_md(scheme), NULL, NULL, key, NULL) ==
                       1,
                   CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(setup_pss(pctx, scheme) == 1, CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(EVP_DigestSign(mctx, NULL, &n, msg, len) == 1, CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(n <= cap, CR_ERR_INVAL, done);
    CR_ENSURE_GOTO(EVP_DigestSign(mctx, sig, &n, msg, len) == 1, CR_ERR_CRYPTO, done);
    *sig_len = n;
    rc = 0;
done:
    EVP_MD_CTX_free(mctx);
    return rc;
}

int cr_pk_verify(EVP_PKEY *key, uint16_t scheme, const uint8_t *msg, size_t len, const uint8_t *sig,
                 size_t sig_len)
{
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;
    int rc;

    CR_ENSURE(key && sig && (msg || len == 0), CR_ERR_INVAL);
    CR_ENSURE(cr_sig_scheme_fits(scheme, key), CR_ERR_VERIFY);
    mctx = EVP_MD_CTX_new();
    CR_ENSURE(mctx, CR_ERR_NOMEM);
    CR_ENSURE_GOTO(EVP_DigestVerifyInit_ex(mctx, &pctx, scheme_md(scheme), NULL, NULL, key, NULL) ==
                       1,
                   CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(setup_pss(pctx, scheme) == 1, CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(EVP_DigestVerify(mctx, sig, sig_len, msg, len) == 1, CR_ERR_VERIFY, done);
    rc = 0;
done:
    EVP_MD_CTX_free(mctx);
    return rc;
}

int cr_pk_verify_chain(X509_STORE *store, const uint8_t *const *der, const size_t *der_len,
                       unsigned n, EVP_PKEY **out_leaf_key, char *subject, size_t subject_cap)
{
    X509 *certs[CR_PK_CHAIN_MAX_CERTS] = {0};
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE_CTX *sctx = NULL;
    BIO *bio = NULL;
    int rc;

    CR_ENSURE(store && der && der_len && out_leaf_key && subject && subject_cap > 0, CR_ERR_INVAL);
    CR_ENSURE(n >= 1, CR_ERR_VERIFY);
    CR_ENSURE(n <= CR_PK_CHAIN_MAX_CERTS, CR_ERR_LIMIT);
    for (unsigned i = 0; i < n; i++) {
        const unsigned char *p = der[i];
        certs[i] = d2i_X509(NULL, &p, (long)der_len[i]);
        /* The DER must be exactly one certificate. */
        CR_ENSURE_GOTO(certs[i] && p == der[i] + der_len[i], CR_ERR_DECODE, done);
    }
    untrusted = sk_X509_new_null();
    CR_ENSURE_GOTO(untrusted, CR_ERR_NOMEM, done);
    for (unsigned i = 1; i < n; i++)
        CR_ENSURE_GOTO(sk_X509_push(untrusted, certs[i]) > 0, CR_ERR_NOMEM, done);
    sctx = X509_STORE_CTX_new();
    CR_ENSURE_GOTO(sctx, CR_ERR_NOMEM, done);
    CR_ENSURE_GOTO(X509_STORE_CTX_init(sctx, store, certs[0], untrusted) == 1, CR_ERR_CRYPTO, done);
    X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT);
    CR_ENSURE_GOTO(X509_verify_cert(sctx) == 1, CR_ERR_VERIFY, done);

    bio = BIO_new(BIO_s_mem());
    CR_ENSURE_GOTO(bio, CR_ERR_NOMEM, done);
    CR_ENSURE_GOTO(X509_NAME_print_ex(bio, X509_get_subject_name(certs[0]), 0, XN_FLAG_RFC2253) >=
                       0,
                   CR_ERR_CRYPTO, done);
    int got = BIO_read(bio, subject, (int)(subject_cap - 1));
    subject[got > 0 ? got : 0] = '\0';
    *out_leaf_key = X509_get_pubkey(certs[0]);
    CR_ENSURE_GOTO(*out_leaf_key, CR_ERR_CRYPTO, done);
    rc = 0;
done:
    BIO_free(bio);
    X509_STORE_CTX_free(sctx);
    sk_X509_free(untrusted);
    for (unsigned i = 0; i < n && i < CR_PK_CHAIN_MAX_CERTS; i++)
        X509_free(certs[i]);
    return rc;
}
