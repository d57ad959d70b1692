/* tl_cert.c — see tl_cert.h. */
#include "tl_cert.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define TL_EXT_NAME_MAX_LEN 64 /* bytes of an extension's name in ext[] */

EVP_PKEY *tl_key_new(enum tl_key_type type)
{
    switch (type) {
    case TL_KEY_EC_P256:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    case TL_KEY_EC_P384:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    case TL_KEY_EC_P521:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    case TL_KEY_RSA_1024:
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    case TL_KEY_RSA_2048:
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    case TL_KEY_RSA_3072:
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    }
    return NULL;
}

/* Adds extension name=value (X509V3_EXT_nconf: the `openssl -addext`
 * syntax, "critical," prefix included).  0 or -1. */
static int add_ext(X509 *x, X509V3_CTX *v3, const char *name, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf(NULL, v3, name, value);
    if (e == NULL)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? 0 : -1;
}

/* "name=value" as in ext[]. */
static int add_ext_line(X509 *x, X509V3_CTX *v3, const char *line)
{
    char name[TL_EXT_NAME_MAX_LEN];
    const char *eq = strchr(line, '=');
    if (eq == NULL || eq == line || (size_t)(eq - line) >= sizeof(name))
        return -1;
    memcpy(name, line, (size_t)(eq - line));
    name[eq - line] = '\0';
    return add_ext(x, v3, name, eq + 1);
}

static int set_time(ASN1_TIME *t, const char *fixed, long offset_s)
{
    if (fixed != NULL)
        return ASN1_TIME_set_string(t, fixed) == 1 ? 0 : -1;
    return X509_gmtime_adj(t, offset_s) != NULL ? 0 : -1;
}

static int add_name(X509_NAME *n, const char *field, const char *value)
{
    return X509_NAME_add_entry_by_txt(n, field, MBSTRING_ASC, (const unsigned char *)value, -1, -1,
                                      0) == 1
               ? 0
               : -1;
}

X509 *tl_cert_new(EVP_PKEY *key, const struct tl_cert_opts *o, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    int rc = 0;
    if (x == NULL || key == NULL || o == NULL || o->cn == NULL)
        goto fail;
    if (issuer == NULL)
        issuer_key = key;
    if (issuer_key == NULL)
        goto fail;
    long nb = o->not_before_s, na = o->not_after_s;
    if (nb == 0 && na == 0) {
        nb = -TL_CERT_DEFAULT_BACKDATE_S;
        na = 86400L * TL_CERT_DEFAULT_DAYS;
    }
    rc |= X509_set_version(x, 2) == 1 ? 0 : -1;
    rc |= ASN1_INTEGER_set(X509_get_serialNumber(x), o->serial ? o->serial : 1) == 1 ? 0 : -1;
    rc |= set_time(X509_getm_notBefore(x), o->not_before, nb);
    rc |= set_time(X509_getm_notAfter(x), o->not_after, na);
    rc |= X509_set_pubkey(x, key) == 1 ? 0 : -1;
    X509_NAME *name = X509_get_subject_name(x);
    if (o->org != NULL)
        rc |= add_name(name, "O", o->org);
    rc |= add_name(name, "CN", o->cn);
    rc |= X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 ? 0 : -1;
    if (rc != 0)
        goto fail;

    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    if (o->kind == TL_CERT_CA)
        rc |= add_ext(x, &v3, "basicConstraints", "critical,CA:TRUE");
    else if (o->kind == TL_CERT_LEAF)
        rc |= add_ext(x, &v3, "basicConstraints", "CA:FALSE");
    if (o->key_usage != NULL)
        rc |= add_ext(x, &v3, "keyUsage", o->key_usage);
    else if (o->kind == TL_CERT_CA)
        rc |= add_ext(x, &v3, "keyUsage", "critical,keyCertSign,cRLSign");
    if (o->san != NULL)
        rc |= add_ext(x, &v3, "subjectAltName", o->san);
    if (o->key_ids) {
        rc |= add_ext(x, &v3, "subjectKeyIdentifier", "hash");
        /* the issuer's SKI; for a self-signed cert ours, added just above */
        rc |= add_ext(x, &v3, "authorityKeyIdentifier", "keyid:always");
    }
    for (unsigned i = 0; o->ext != NULL && o->ext[i] != NULL; i++)
        rc |= add_ext_line(x, &v3, o->ext[i]);
    if (rc != 0 || X509_sign(x, issuer_key, EVP_sha256()) <= 0)
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

int tl_cred_mint(struct tl_cred *out, enum tl_key_type type, const struct tl_cert_opts *o,
                 const struct tl_cred *issuer)
{
    out->cert = NULL;
    out->key = tl_key_new(type);
    if (out->key != NULL)
        out->cert =
            tl_cert_new(out->key, o, issuer ? issuer->cert : NULL, issuer ? issuer->key : NULL);
    if (out->cert == NULL) {
        tl_cred_free(out);
        return -1;
    }
    return 0;
}

void tl_cred_free(struct tl_cred *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    c->cert = NULL;
    c->key = NULL;
}

int tl_pem_write_certs(const char *path, X509 *const certs[], size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (PEM_write_X509(f, certs[i]) != 1)
            rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int tl_pem_write_key(const char *path, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    int rc = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1 ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int tl_cred_write(const struct tl_cred *c, const char *cert_path, const char *key_path)
{
    int rc = 0;
    if (cert_path != NULL)
        rc |= tl_pem_write_certs(cert_path, &c->cert, 1);
    if (key_path != NULL)
        rc |= tl_pem_write_key(key_path, c->key);
    return rc;
}

/* The contents of a memory BIO as a malloc'ed string. */
static char *bio_string(BIO *b, size_t *out_len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
        if (out_len != NULL)
            *out_len = (size_t)n;
    }
    return s;
}

char *tl_pem_cert(X509 *cert, size_t *out_len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = b != NULL && PEM_write_bio_X509(b, cert) == 1 ? bio_string(b, out_len) : NULL;
    BIO_free(b);
    return s;
}

char *tl_pem_key(EVP_PKEY *key, size_t *out_len)
{
    /* secure heap BIO: cleared when freed */
    BIO *b = BIO_new(BIO_s_secmem());
    char *s = b != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1
                  ? bio_string(b, out_len)
                  : NULL;
    BIO_free(b);
    return s;
}
