/* cr_pk.h — public-key operations for the DTLS 1.2 handshake on libcrypto:
 * ephemeral ECDH (X25519, P-256, P-384; RFC 8422), TLS 1.2 signatures
 * (RFC 5246 §4.7 digitally-signed, SignatureScheme codes of RFC 8446 §4.2.3
 * whose TLS 1.2 meaning is hash||signature), X.509 chain verification.
 *
 * Owns: nothing beyond the EVP_PKEY objects it hands out (caller frees them
 * with EVP_PKEY_free).  Must not: parse handshake messages, use libssl.
 */
#ifndef DTLSGW_CR_PK_H
#define DTLSGW_CR_PK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "cr_err.h"

/* NamedGroup codes (RFC 8422 §5.1.1, RFC 7919). */
#define CR_GROUP_SECP256R1 23
#define CR_GROUP_SECP384R1 24
#define CR_GROUP_X25519    29

/* SignatureAndHashAlgorithm as a 16-bit code: hash(8) || signature(8). */
#define CR_SIG_RSA_PKCS1_SHA1         0x0201
#define CR_SIG_ECDSA_SHA1             0x0203
#define CR_SIG_RSA_PKCS1_SHA256       0x0401
#define CR_SIG_ECDSA_SECP256R1_SHA256 0x0403
#define CR_SIG_RSA_PKCS1_SHA384       0x0501
#define CR_SIG_ECDSA_SECP384R1_SHA384 0x0503
#define CR_SIG_RSA_PSS_RSAE_SHA256    0x0804

#define CR_ECDHE_PUB_MAX_LEN    97   /* P-384 uncompressed point */
#define CR_ECDHE_SECRET_MAX_LEN 48   /* P-384 x coordinate */
#define CR_SIG_MAX_LEN          1024 /* RSA-8192 or DER ECDSA-P384 */
#define CR_PK_CHAIN_MAX_CERTS   10
#define CR_PK_SUBJECT_MAX_LEN   255

enum cr_pk_type {
    CR_PK_NONE = 0,
    CR_PK_EC,
    CR_PK_RSA
};

bool cr_group_supported(uint16_t group);
/* Generates an ephemeral key of group; writes the public value as sent on
 * the wire (32 raw bytes for X25519, uncompressed point for NIST curves). */
CR_WUR int cr_ecdhe_keygen(uint16_t group, EVP_PKEY **out_key, uint8_t *out_pub, size_t cap,
                           size_t *out_len);
/* Shared secret Z with the peer's public value (same encoding).  Rejects
 * points not on the curve, compressed points and all-zero X25519 results. */
CR_WUR int cr_ecdhe_derive(EVP_PKEY *key, uint16_t group, const uint8_t *peer_pub, size_t peer_len,
                           uint8_t *out, size_t cap, size_t *out_len);

enum cr_pk_type cr_pk_type_of(const EVP_PKEY *key);
/* True when scheme can be used with key (key type; for ECDSA any curve). */
bool cr_sig_scheme_fits(uint16_t scheme, const EVP_PKEY *key);
bool cr_sig_scheme_supported(uint16_t scheme);
CR_WUR int cr_pk_sign(EVP_PKEY *key, uint16_t scheme, const uint8_t *msg, size_t len, uint8_t *sig,
                      size_t cap, size_t *sig_len);
/* 0 when sig is valid, CR_ERR_VERIFY when not. */
CR_WUR int cr_pk_verify(EVP_PKEY *key, uint16_t scheme, const uint8_t *msg, size_t len,
                        const uint8_t *sig, size_t sig_len);

/* Verifies the DER chain (leaf first, n certificates) against store for TLS
 * client authentication.  On success returns 0, the leaf's public key
 * (caller frees) and its subject as an RFC 2253 string. */
CR_WUR int cr_pk_verify_chain(X509_STORE *store, const uint8_t *const *der, const size_t *der_len,
                              unsigned n, EVP_PKEY **out_leaf_key, char *subject,
                              size_t subject_cap);

#endif
