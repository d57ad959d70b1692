/* hs_priv.h — declarations shared by the handshake engine's own files
 * (hs_engine.c, hs_cookie.c, hs_creds.c, hs_suites.c) and their unit tests.
 * Not part of the public API (hs.h); nothing outside control/engine/ and
 * tests/unit may include it.
 */
#ifndef DTLSGW_HS_PRIV_H
#define DTLSGW_HS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "cr_cookie.h"
#include "cr_kdf.h"
#include "cr_pk.h"
#include "hs.h"
#include "hs_reasm.h"

#define HS_PSK_MAX_KEY_LEN   64 /* bytes of one pre-shared key */
#define HS_PSK_HINT_MAX_LEN  255
#define HS_PSK_LINE_MAX_LEN  1024 /* one psktool line, bytes */
#define HS_CREDS_ERR_MAX_LEN 256

struct hs_psk_entry {
    uint8_t identity[HS_IDENTITY_MAX_LEN];
    uint16_t id_len;
    uint8_t key[HS_PSK_MAX_KEY_LEN];
    uint8_t key_len;
};

/* Sorted by (identity length, identity bytes) for bsearch. */
struct hs_psk_set {
    struct hs_psk_entry *e;
    unsigned n;
    unsigned cap;
};

/* The server certificate slots of one listener's credentials, as libssl
 * keeps one certificate per key type (SSL_PKEY_*): the handshake picks one
 * per ClientHello (hs_engine.c choose_cert).  X(NAME, text); the order is
 * the preference among the ECDSA slots when the client allows both. */
#define HS_CERT_SLOTS(X)                                                                           \
    X(ECDSA_P256, "ECDSA P-256")                                                                   \
    X(ECDSA_P384, "ECDSA P-384")                                                                   \
    X(RSA, "RSA")
enum hs_cert_slot_id {
#define HS_CERT_X(name, text) HS_CERT_##name,
    HS_CERT_SLOTS(HS_CERT_X)
#undef HS_CERT_X
    HS_CERT_N
};
#define HS_RSA_MIN_BITS 2048 /* smaller RSA keys are refused at load */
/* certificate_authorities of our CertificateRequest (RFC 5246 §7.4.4):
 * the DER subject names of the client-CA store, each with its 2-byte
 * length, at most this many bytes in all (a larger store is refused at
 * load: the message stays far below HS_MSG_MAX_BYTES and the flight a few
 * dozen datagrams) */
#define HS_CA_NAMES_MAX_BYTES (16 * 1024)

struct hs_cert_slot {
    EVP_PKEY *key;                       /* NULL: slot empty */
    uint16_t ec_group;                   /* NamedGroup of an EC key, else 0 */
    uint8_t *der[CR_PK_CHAIN_MAX_CERTS]; /* leaf first */
    size_t der_len[CR_PK_CHAIN_MAX_CERTS];
    unsigned n;
};

struct hs_creds {
    struct hs_psk_set *psk;              /* swapped whole on reload */
    struct hs_cert_slot cert[HS_CERT_N]; /* by enum hs_cert_slot_id */
    X509_STORE *ca;
    /* DistinguishedName list of the CA store for CertificateRequest: each
     * name as opaque DistinguishedName<1..2^16-1> (length + DER), in the
     * order of the CA file, duplicates once */
    uint8_t *ca_names;
    size_t ca_names_len;
    uint8_t psk_hint[HS_PSK_HINT_MAX_LEN];
    size_t psk_hint_len;
    bool has_psk_hint;
    char err[HS_CREDS_ERR_MAX_LEN];
};

const struct hs_psk_entry *hs_creds_find_psk(const struct hs_creds *c, const uint8_t *id,
                                             size_t id_len);
bool hs_creds_has_psk(const struct hs_creds *c);
const char *hs_cert_slot_name(enum hs_cert_slot_id id);

struct hs_ctx {
    struct hs_params p;
    uint16_t suites[HS_MAX_SUITES]; /* effective preference order */
    unsigned n_suites;
    struct hs_creds *creds; /* not owned */
    struct cr_cookie_keys cookie;
    struct cr_aead_ctx *aead; /* record AEAD for all handshakes */
    /* Reused by every handshake of this context (same thread): the PRF
     * context and the scratch digest context for transcript snapshots;
     * neither keeps a secret between calls. */
    struct cr_prf *prf;
    EVP_MD_CTX *md_scratch;
    /* Reassembly bytes of every handshake of this context (same thread);
     * each hs charges its allocations here. */
    struct hs_reasm_budget reasm_budget;
};

unsigned hs_suite_default_order(uint16_t *out_ids, unsigned max);

/* What the cookie covers (hs_cookie.c documents it): built from the peer and
 * the ClientHello fixed fields. */
#define HS_COOKIE_INPUT_MAX_LEN (1 + 2 + 16 + 2 + 32 + 1 + 32)
CR_WUR int hs_cookie_input(const struct hs_peer *peer, uint16_t client_version,
                           const uint8_t *random, const uint8_t *session_id, size_t session_id_len,
                           uint8_t *out, size_t *out_len);

#endif
