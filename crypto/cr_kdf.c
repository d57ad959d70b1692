/* cr_kdf.c — TLS 1.2 PRF through EVP_KDF "TLS1-PRF" (RFC 5246 §5).
 *
 * Owns: nothing.  Must not: keep key material (the concatenated seed is
 * wiped before returning; it holds only public randoms/hashes anyway).
 */
#include "cr_kdf.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

/* Algorithms fetched once per process: a fetch by name costs more than the
 * PRF itself.  Fetched objects are immutable and shareable between threads
 * (OpenSSL 3 threading rules); pthread_once publishes them. */
static EVP_KDF *g_prf;
static EVP_MD *g_sha256;
static EVP_MD *g_sha384;
static pthread_once_t g_fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algs(void)
{
    g_prf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL);
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

int cr_tls12_prf(bool sha384, const uint8_t *secret, size_t secret_len, const char *label,
                 const uint8_t *seed1, size_t seed1_len, const uint8_t *seed2, size_t seed2_len,
                 uint8_t *out, size_t out_len)
{
    uint8_t seed[CR_KDF_SEED_MAX_LEN];
    size_t label_len, seed_len;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[4];
    int rc;

    CR_ENSURE(secret && label && out && out_len > 0, CR_ERR_INVAL);
    CR_ENSURE(out_len <= CR_KDF_OUT_MAX_LEN, CR_ERR_INVAL);
    CR_ENSURE(seed1 || seed1_len == 0, CR_ERR_INVAL);
    CR_ENSURE(seed2 || seed2_len == 0, CR_ERR_INVAL);
    label_len = strlen(label);
    CR_ENSURE(label_len <= CR_KDF_LABEL_MAX_LEN, CR_ERR_INVAL);
    /* Subtraction form: no overflow whatever the lengths. */
    CR_ENSURE(seed1_len <= sizeof(seed) - label_len, CR_ERR_INVAL);
    CR_ENSURE(seed2_len <= sizeof(seed) - label_len - seed1_len, CR_ERR_INVAL);
    memcpy(seed, label, label_len);
    seed_len = label_len;
    if (seed1_len) {
        memcpy(seed + seed_len, seed1, seed1_len);
        seed_len += seed1_len;
    }
    if (seed2_len) {
        memcpy(seed + seed_len, seed2, seed2_len);
        seed_len += seed2_len;
    }

    pthread_once(&g_fetch_once, fetch_algs);
    CR_ENSURE_GOTO(g_prf, CR_ERR_CRYPTO, done);
    kctx = EVP_KDF_CTX_new(g_prf);
    CR_ENSURE_GOTO(kctx, CR_ERR_NOMEM, done);
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, sha384 ? "SHA384" : "SHA256", 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, seed_len);
    params[3] = OSSL_PARAM_construct_end();
    CR_ENSURE_GOTO(EVP_KDF_derive(kctx, out, out_len, params) == 1, CR_ERR_CRYPTO, done);
    rc = 0;
done:
    EVP_KDF_CTX_free(kctx);
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
}

int cr_hash(bool sha384, const uint8_t *buf, size_t len, uint8_t *out, size_t *out_len)
{
    unsigned int n = 0;

    CR_ENSURE(out && out_len && (buf || len == 0), CR_ERR_INVAL);
    pthread_once(&g_fetch_once, fetch_algs);
    const EVP_MD *md = sha384 ? g_sha384 : g_sha256;
    CR_ENSURE(md, CR_ERR_CRYPTO);
    CR_ENSURE(EVP_Digest(buf, len, out, &n, md, NULL) == 1, CR_ERR_CRYPTO);
    *out_len = n;
    return 0;
}
