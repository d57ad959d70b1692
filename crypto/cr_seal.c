/* cr_seal.c — AES-256-GCM sealing under a ring of named keys (cr_seal.h).
 *
 * Owns: the ring's key bytes and its fetched cipher.  Must not: keep key
 * material anywhere but the ring (every EVP context is freed and every
 * stack copy cleansed before return).
 */
#include "cr_seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int cr_seal_ring_init(struct cr_seal_ring *r)
{
    CR_ENSURE(r, CR_ERR_INVAL);
    memset(r, 0, sizeof(*r));
    r->gcm = (struct evp_cipher_st *)EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    CR_ENSURE(r->gcm, CR_ERR_CRYPTO);
    return 0;
}

void cr_seal_ring_wipe(struct cr_seal_ring *r)
{
    if (r == NULL)
        return;
    EVP_CIPHER_free((EVP_CIPHER *)r->gcm);
    OPENSSL_cleanse(r, sizeof(*r));
}

int cr_seal_ring_copy(struct cr_seal_ring *dst, const struct cr_seal_ring *src)
{
    CR_ENSURE(dst && src && dst != src, CR_ERR_INVAL);
    CR_GUARD(cr_seal_ring_init(dst));
    struct evp_cipher_st *gcm = dst->gcm;
    memcpy(dst, src, sizeof(*dst));
    dst->gcm = gcm;
    return 0;
}

int cr_seal_ring_rotate(struct cr_seal_ring *r, uint64_t now_ms)
{
    CR_ENSURE(r && r->gcm && !r->from_file, CR_ERR_INVAL);
    struct cr_seal_key fresh = {.born_ms = now_ms};
    if (RAND_bytes(fresh.name, CR_SEAL_NAME_LEN) != 1 ||
        RAND_bytes(fresh.key, CR_SEAL_KEY_LEN) != 1) {
        OPENSSL_cleanse(&fresh, sizeof(fresh));
        return CR_ERR_CRYPTO;
    }
    if (r->n == CR_SEAL_RING_MAX)
        OPENSSL_cleanse(&r->k[CR_SEAL_RING_MAX - 1], sizeof(r->k[0]));
    else
        r->n++;
    memmove(&r->k[1], &r->k[0], (r->n - 1) * sizeof(r->k[0]));
    r->k[0] = fresh;
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    return 0;
}

int cr_seal_ring_load(struct cr_seal_ring *r, const char *path, uint64_t now_ms, char *err,
                      size_t err_len)
{
    uint8_t buf[CR_SEAL_RING_MAX * CR_SEAL_FILE_KEY_LEN + 1];
    struct stat st;
    int rc = 0;
    size_t got = 0;

    CR_ENSURE(r && r->gcm && path && (err || err_len == 0), CR_ERR_INVAL);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return CR_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        rc = CR_ERR_VERIFY;
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(err, err_len,
                 "%s: key file is accessible to group or others (mode %03o): chmod 600", path,
                 (unsigned)(st.st_mode & 0777));
        rc = CR_ERR_VERIFY;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            rc = CR_ERR_IO;
            goto out;
        }
        if (n == 0 || (got += (size_t)n) == sizeof(buf))
            break;
    }
    if (got == 0 || got % CR_SEAL_FILE_KEY_LEN != 0 || got > sizeof(buf) - 1) {
        snprintf(err, err_len,
                 "%s: %zu%s bytes: a key file holds 1 to %u keys of %u bytes (16 name + 32 key)",
                 path, got, got == sizeof(buf) ? " or more" : "", CR_SEAL_RING_MAX,
                 CR_SEAL_FILE_KEY_LEN);
        rc = CR_ERR_DECODE;
        goto out;
    }
    unsigned nk = (unsigned)(got / CR_SEAL_FILE_KEY_LEN);
    for (unsigned i = 0; i < nk; i++)
        for (unsigned j = 0; j < i; j++)
            if (memcmp(buf + i * CR_SEAL_FILE_KEY_LEN, buf + j * CR_SEAL_FILE_KEY_LEN,
                       CR_SEAL_NAME_LEN) == 0) {
                snprintf(err, err_len, "%s: keys %u and %u have the same name", path, j + 1, i + 1);
                rc = CR_ERR_DECODE;
                goto out;
            }
    OPENSSL_cleanse(r->k, sizeof(r->k));
    for (unsigned i = 0; i < nk; i++) {
        memcpy(r->k[i].name, buf + i * CR_SEAL_FILE_KEY_LEN, CR_SEAL_NAME_LEN);
        memcpy(r->k[i].key, buf + i * CR_SEAL_FILE_KEY_LEN + CR_SEAL_NAME_LEN, CR_SEAL_KEY_LEN);
        r->k[i].born_ms = now_ms;
    }
    r->n = nk;
    r->from_file = true;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return rc;
}

/* GCM over (label, key name, aad); enc: 1 seal, 0 open (tag checked). */
static int gcm_run(const struct cr_seal_ring *r, const struct cr_seal_key *k, int enc,
                   const char *label, const uint8_t *aad, size_t aad_len, const uint8_t *iv,
                   const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    size_t label_len = strlen(label);
    int n = 0, ok = 1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CR_ENSURE(c, CR_ERR_NOMEM);
    ok &= EVP_CipherInit_ex2(c, (const EVP_CIPHER *)r->gcm, k->key, iv, enc, NULL);
    /* label length first: ("ab", aad "c") and ("a", aad "bc") differ */
    uint8_t ll = (uint8_t)label_len;
    ok &= EVP_CipherUpdate(c, NULL, &n, &ll, 1);
    ok &= EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)label, (int)label_len);
    ok &= EVP_CipherUpdate(c, NULL, &n, k->name, CR_SEAL_NAME_LEN);
    if (aad_len > 0)
        ok &= EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len);
    if (len > 0)
        ok &= EVP_CipherUpdate(c, out, &n, in, (int)len);
    if (!enc)
        ok &= EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CR_SEAL_TAG_LEN, tag);
    int fin = EVP_CipherFinal_ex(c, out + len, &n);
    if (enc && ok == 1 && fin == 1)
        ok &= EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CR_SEAL_TAG_LEN, tag);
    EVP_CIPHER_CTX_free(c);
    if (ok != 1)
        return CR_ERR_CRYPTO;
    return fin == 1 ? 0 : CR_ERR_AUTH;
}

static bool args_fit(const char *label, const uint8_t *aad, size_t aad_len, size_t len)
{
    return label && strlen(label) <= CR_SEAL_LABEL_MAX_LEN && (aad || aad_len == 0) &&
           aad_len <= CR_SEAL_PT_MAX_LEN && len <= CR_SEAL_PT_MAX_LEN;
}

int cr_seal(struct cr_seal_ring *r, const char *label, const uint8_t *aad, size_t aad_len,
            const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    CR_ENSURE(r && r->gcm && r->n > 0 && out && out_len && (pt || pt_len == 0), CR_ERR_INVAL);
    CR_ENSURE(args_fit(label, aad, aad_len, pt_len), CR_ERR_INVAL);
    CR_ENSURE(out_cap >= CR_SEAL_OVERHEAD && pt_len <= out_cap - CR_SEAL_OVERHEAD, CR_ERR_LIMIT);
    struct cr_seal_key *k = &r->k[0];
    CR_ENSURE(k->uses < CR_SEAL_USES_MAX, CR_ERR_LIMIT);
    k->uses++;
    uint8_t *iv = out + CR_SEAL_NAME_LEN, *ct = iv + CR_SEAL_IV_LEN;
    memcpy(out, k->name, CR_SEAL_NAME_LEN);
    CR_GUARD_OSSL(RAND_bytes(iv, CR_SEAL_IV_LEN), CR_ERR_CRYPTO);
    int rc = gcm_run(r, k, 1, label, aad, aad_len, iv, pt, pt_len, ct, ct + pt_len);
    if (rc != 0) {
        OPENSSL_cleanse(out, CR_SEAL_OVERHEAD + pt_len);
        return rc;
    }
    *out_len = CR_SEAL_OVERHEAD + pt_len;
    return 0;
}

int cr_unseal(const struct cr_seal_ring *r, const char *label, const uint8_t *aad, size_t aad_len,
              const uint8_t *blob, size_t blob_len, uint8_t *pt, size_t pt_cap, size_t *pt_len,
              unsigned *key_index)
{
    CR_ENSURE(r && r->gcm && blob && pt && pt_len, CR_ERR_INVAL);
    CR_ENSURE(blob_len >= CR_SEAL_OVERHEAD, CR_ERR_DECODE);
    size_t len = blob_len - CR_SEAL_OVERHEAD;
    CR_ENSURE(args_fit(label, aad, aad_len, len), CR_ERR_INVAL);
    CR_ENSURE(len <= pt_cap, CR_ERR_LIMIT);
    const uint8_t *iv = blob + CR_SEAL_NAME_LEN, *ct = iv + CR_SEAL_IV_LEN;
    for (unsigned i = 0; i < r->n; i++) {
        if (CRYPTO_memcmp(r->k[i].name, blob, CR_SEAL_NAME_LEN) != 0)
            continue;
        uint8_t tag[CR_SEAL_TAG_LEN];
        memcpy(tag, ct + len, CR_SEAL_TAG_LEN);
        int rc = gcm_run(r, &r->k[i], 0, label, aad, aad_len, iv, ct, len, pt, tag);
        if (rc != 0) {
            OPENSSL_cleanse(pt, len);
            return rc;
        }
        *pt_len = len;
        if (key_index)
            *key_index = i;
        return 0;
    }
    return CR_ERR_AUTH;
}
