/* cr_kdf.c — TLS 1.2 PRF through EVP_KDF "TLS1-PRF" (RFC 5246 §5) and the
 * handshake hashes (one-shot and running).
 *
 * Owns: the process-wide fetched algorithms; the reusable contexts it hands
 * out belong to their caller.  Must not: keep key material (the
 * concatenated seed is wiped before returning; a reusable PRF context is
 * reset after every derive, which clears the secret it was given).
 */
#include "cr_kdf.h"

#include <pthread.h>
#include <stdlib.h>
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

static const EVP_MD *md_of(bool sha384)
{
    pthread_once(&g_fetch_once, fetch_algs);
    return sha384 ? g_sha384 : g_sha256;
}

struct cr_prf {
    EVP_KDF_CTX *kctx;
};

/* The PRF on a clean KDF context: label || seed1 || seed2 is the seed. */
static int prf_derive(EVP_KDF_CTX *kctx, bool sha384, const uint8_t *secret, size_t secret_len,
                      const char *label, const uint8_t *seed1, size_t seed1_len,
                      const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t out_len)
{
    uint8_t seed[CR_KDF_SEED_MAX_LEN];
    size_t label_len, seed_len;
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

    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, sha384 ? "SHA384" : "SHA256", 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, seed_len);
    params[3] = OSSL_PARAM_construct_end();
    rc = EVP_KDF_derive(kctx, out, out_len, params) == 1 ? 0 : CR_ERR_CRYPTO;
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
}

int cr_tls12_prf(bool sha384, const uint8_t *secret, size_t secret_len, const char *label,
                 const uint8_t *seed1, size_t seed1_len, const uint8_t *seed2, size_t seed2_len,
                 uint8_t *out, size_t out_len)
{
    struct cr_prf *prf = cr_prf_new();
    int rc;

    CR_ENSURE(prf, CR_ERR_NOMEM);
    rc = cr_prf_derive(prf, sha384, secret, secret_len, label, seed1, seed1_len, seed2, seed2_len,
                       out, out_len);
    cr_prf_free(prf);
    return rc;
}

struct cr_prf *cr_prf_new(void)
{
    struct cr_prf *prf;

    pthread_once(&g_fetch_once, fetch_algs);
    if (!g_prf)
        return NULL;
    prf = calloc(1, sizeof(*prf));
    if (!prf)
        return NULL;
    prf->kctx = EVP_KDF_CTX_new(g_prf);
    if (!prf->kctx) {
        free(prf);
        return NULL;
    }
    return prf;
}

void cr_prf_free(struct cr_prf *prf)
{
    if (!prf)
        return;
    EVP_KDF_CTX_free(prf->kctx); /* the provider wipes what it held */
    free(prf);
}

int cr_prf_derive(struct cr_prf *prf, bool sha384, const uint8_t *secret, size_t secret_len,
                  const char *label, const uint8_t *seed1, size_t seed1_len, const uint8_t *seed2,
                  size_t seed2_len, uint8_t *out, size_t out_len)
{
    int rc;

    CR_ENSURE(prf && prf->kctx, CR_ERR_INVAL);
    rc = prf_derive(prf->kctx, sha384, secret, secret_len, label, seed1, seed1_len, seed2,
                    seed2_len, out, out_len);
    /* TLS1-PRF accumulates seeds across derives and keeps the secret: the
     * reset drops (and wipes) both, so the next call starts clean. */
    EVP_KDF_CTX_reset(prf->kctx);
    return rc;
}

int cr_hash(bool sha384, const uint8_t *buf, size_t len, uint8_t *out, size_t *out_len)
{
    EVP_MD_CTX *ctx = NULL;
    int rc;

    CR_ENSURE(out && out_len && (buf || len == 0), CR_ERR_INVAL);
    CR_GUARD(cr_hash_run_start(sha384, &ctx));
    CR_GUARD_GOTO(cr_hash_run_add(ctx, buf, len), done);
    CR_GUARD_GOTO(cr_hash_run_peek(ctx, NULL, out, out_len), done);
    rc = 0;
done:
    cr_hash_run_free(ctx);
    return rc;
}

int cr_hash_run_start(bool sha384, EVP_MD_CTX **out_ctx)
{
    const EVP_MD *md = md_of(sha384);
    EVP_MD_CTX *ctx;

    CR_ENSURE(out_ctx, CR_ERR_INVAL);
    CR_ENSURE(md, CR_ERR_CRYPTO);
    ctx = EVP_MD_CTX_new();
    CR_ENSURE(ctx, CR_ERR_NOMEM);
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return CR_ERR_CRYPTO;
    }
    *out_ctx = ctx;
    return 0;
}

int cr_hash_run_add(EVP_MD_CTX *ctx, const uint8_t *buf, size_t len)
{
    CR_ENSURE(ctx && (buf || len == 0), CR_ERR_INVAL);
    if (len == 0)
        return 0;
    CR_GUARD_OSSL(EVP_DigestUpdate(ctx, buf, len), CR_ERR_CRYPTO);
    return 0;
}

int cr_hash_run_peek(const EVP_MD_CTX *ctx, EVP_MD_CTX *scratch, uint8_t *out, size_t *out_len)
{
    EVP_MD_CTX *snap = scratch;
    unsigned int n = 0;
    int rc;

    CR_ENSURE(ctx && out && out_len, CR_ERR_INVAL);
    CR_ENSURE((size_t)EVP_MD_CTX_get_size(ctx) <= CR_HASH_MAX_LEN, CR_ERR_INVAL);
    if (!snap) {
        snap = EVP_MD_CTX_new();
        CR_ENSURE(snap, CR_ERR_NOMEM);
    }
    /* The copy is finalised; the running context goes on untouched. */
    CR_ENSURE_GOTO(EVP_MD_CTX_copy_ex(snap, ctx) == 1, CR_ERR_CRYPTO, done);
    CR_ENSURE_GOTO(EVP_DigestFinal_ex(snap, out, &n) == 1, CR_ERR_CRYPTO, done);
    *out_len = n;
    rc = 0;
done:
    if (snap != scratch)
        EVP_MD_CTX_free(snap);
    return rc;
}

void cr_hash_run_free(EVP_MD_CTX *ctx)
{
    EVP_MD_CTX_free(ctx);
}
