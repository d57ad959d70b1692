/* tl_cert.h — the one certificate minter of the tests and benchmarks
 * (tests/lib), on libcrypto: EC P-256/P-384/P-521 and RSA 1024/2048/3072
 * keys; X.509 v3 certificates, self-signed or signed by an issuer, with a
 * CN (and optional O), optional basicConstraints/keyUsage, subjectAltName
 * (IP and DNS entries, `openssl -addext` syntax) and further extensions;
 * PEM out to files or to memory.
 *
 * Serial numbers and dates are the caller's (defaults: serial 1, valid
 * from an hour ago for 30 days), never random: with a deterministic RAND
 * (tests/interop/det_rand.h) the same calls give the same bytes.
 *
 * Owns: nothing it returns (the caller frees keys, certificates and PEM
 * buffers).  Must not: be used by the product.
 */
#ifndef DTLSGW_TL_CERT_H
#define DTLSGW_TL_CERT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TL_CERT_DEFAULT_DAYS       30
#define TL_CERT_DEFAULT_BACKDATE_S 3600

enum tl_key_type {
    TL_KEY_EC_P256,
    TL_KEY_EC_P384,
    TL_KEY_EC_P521,
    TL_KEY_RSA_1024, /* too small for the gateway: for refusal tests */
    TL_KEY_RSA_2048,
    TL_KEY_RSA_3072,
};

/* A fresh key of that type, or NULL. */
EVP_PKEY *tl_key_new(enum tl_key_type type);

/* What basicConstraints / keyUsage a certificate gets. */
enum tl_cert_kind {
    TL_CERT_BARE, /* neither (unless in ext[]) */
    TL_CERT_CA,   /* basicConstraints critical,CA:TRUE; keyUsage critical,keyCertSign,cRLSign */
    TL_CERT_LEAF, /* basicConstraints CA:FALSE; keyUsage only from key_usage */
};

struct tl_cert_opts {
    const char *cn;  /* subject CN (required) */
    const char *org; /* subject O, before the CN; NULL: none */
    long serial;     /* 0: 1 */
    /* Validity: fixed ASN.1 times ("20260101000000Z") when not NULL,
     * else offsets in seconds from now (both 0: -1 h .. +30 days). */
    const char *not_before, *not_after;
    long not_before_s, not_after_s;
    enum tl_cert_kind kind;
    const char *key_usage;  /* keyUsage value, replaces the kind's; NULL: the kind's */
    const char *san;        /* subjectAltName value ("IP:127.0.0.1,DNS:localhost"); NULL: none */
    bool key_ids;           /* subjectKeyIdentifier=hash, authorityKeyIdentifier=keyid:always */
    const char *const *ext; /* more "name=value" extensions, NULL-terminated; NULL: none */
};

/* A certificate for key's public half, signed with SHA-256 by issuer_key
 * (issuer: its subject becomes our issuer name) or by key itself when
 * issuer is NULL.  NULL on any failure (bad extension text included). */
X509 *tl_cert_new(EVP_PKEY *key, const struct tl_cert_opts *o, X509 *issuer, EVP_PKEY *issuer_key);

/* A key and its certificate. */
struct tl_cred {
    EVP_PKEY *key;
    X509 *cert;
};

/* A new key of type and its certificate from o, signed by issuer (NULL:
 * self-signed).  0, or -1 with *out empty. */
int tl_cred_mint(struct tl_cred *out, enum tl_key_type type, const struct tl_cert_opts *o,
                 const struct tl_cred *issuer);

void tl_cred_free(struct tl_cred *c);

/* Writes certs[0..n) as one PEM file (leaf first for a chain).  0 or -1. */
int tl_pem_write_certs(const char *path, X509 *const certs[], size_t n);

/* Writes key as an unencrypted PKCS#8 PEM file (mode 0600).  0 or -1. */
int tl_pem_write_key(const char *path, EVP_PKEY *key);

/* tl_pem_write_certs(cert_path, {c->cert}) and tl_pem_write_key(key_path,
 * c->key); either path may be NULL.  0 or -1. */
int tl_cred_write(const struct tl_cred *c, const char *cert_path, const char *key_path);

/* PEM text of a certificate / of a key, NUL-terminated, in malloc'ed
 * memory (free() it), length in *out_len when not NULL; NULL on failure. */
char *tl_pem_cert(X509 *cert, size_t *out_len);
char *tl_pem_key(EVP_PKEY *key, size_t *out_len);

#endif
