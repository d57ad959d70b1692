/* hs_creds.c — server credentials: certificate chains and private keys
 * from PEM, one per slot (ECDSA P-256, ECDSA P-384, RSA 2048+: the
 * HS_CERT_SLOTS of hs_priv.h), PSK identities from GnuTLS psktool files
 * (`identity:hexkey`), and the CA bundle for client certificates with the
 * list of its subject names that CertificateRequest carries.
 *
 * Owns: the keys, DER chains, PSK set, X509_STORE and CA name list; wipes
 * key material on free.  Must not: use libssl; leave a half-loaded state on error (every
 * load builds the new object completely and only then replaces the old).
 * Called only on the control-plane thread.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs.h"
#include "hs_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static void set_err(struct hs_creds *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct hs_creds *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

const char *hs_creds_last_error(const struct hs_creds *c)
{
    return c ? c->err : "no credentials";
}

struct hs_creds *hs_creds_new(void)
{
    return calloc(1, sizeof(struct hs_creds));
}

static void psk_set_free(struct hs_psk_set *s)
{
    if (!s)
        return;
    if (s->e) {
        OPENSSL_cleanse(s->e, sizeof(*s->e) * s->cap);
        free(s->e);
    }
    free(s);
}

static void cert_slot_clear(struct hs_cert_slot *s)
{
    EVP_PKEY_free(s->key);
    for (unsigned i = 0; i < s->n; i++)
        free(s->der[i]);
    memset(s, 0, sizeof(*s));
}

void hs_creds_free(struct hs_creds *c)
{
    if (!c)
        return;
    psk_set_free(c->psk);
    for (unsigned i = 0; i < HS_CERT_N; i++)
        cert_slot_clear(&c->cert[i]);
    X509_STORE_free(c->ca);
    free(c->ca_names);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

/* ---- certificates ------------------------------------------------------- */

const char *hs_cert_slot_name(enum hs_cert_slot_id id)
{
#define HS_CERT_X(name, text) text,
    static const char *const names[HS_CERT_N] = {HS_CERT_SLOTS(HS_CERT_X)};
#undef HS_CERT_X
    return (unsigned)id < HS_CERT_N ? names[id] : "?";
}

/* Secret files (PSK lists, private keys) are read through a stdio buffer
 * of our own, wiped when the file is closed: glibc would otherwise malloc
 * the buffer and free it with the file's text (hex keys, PEM base64) still
 * in it, for any later allocation to read.  A PEM key is parsed by libcrypto
 * into its secure heap, which it clears on free. */
struct secret_file {
    FILE *f;
    char buf[4096];
};

static FILE *secret_open(struct secret_file *sf, const char *path)
{
    sf->f = fopen(path, "r");
    if (sf->f != NULL && setvbuf(sf->f, sf->buf, _IOFBF, sizeof(sf->buf)) != 0) {
        fclose(sf->f);
        sf->f = NULL;
        errno = ENOMEM;
    }
    return sf->f;
}

static void secret_close(struct secret_file *sf)
{
    if (sf->f != NULL)
        fclose(sf->f);
    sf->f = NULL;
    OPENSSL_cleanse(sf->buf, sizeof(sf->buf));
}

int hs_creds_load_cert(struct hs_creds *c, const char *chain_pem_path, const char *key_pem_path)
{
    struct hs_cert_slot slot;
    struct secret_file sf;
    FILE *f = NULL;
    X509 *x = NULL;
    int rc;

    CR_ENSURE(c && chain_pem_path && key_pem_path, CR_ERR_INVAL);
    memset(&slot, 0, sizeof(slot));

    if (!secret_open(&sf, key_pem_path)) {
        set_err(c, "%s: %s", key_pem_path, strerror(errno));
        OPENSSL_cleanse(sf.buf, sizeof(sf.buf));
        return CR_ERR_IO;
    }
    slot.key = PEM_read_PrivateKey(sf.f, NULL, NULL, NULL);
    secret_close(&sf);
    if (!slot.key) {
        set_err(c, "%s: no PEM private key", key_pem_path);
        return CR_ERR_DECODE;
    }
    enum cr_pk_type type = cr_pk_type_of(slot.key);
    enum hs_cert_slot_id id = HS_CERT_RSA;
    if (type == CR_PK_NONE) {
        set_err(c, "%s: key is neither EC nor RSA", key_pem_path);
        CR_ENSURE_GOTO(false, CR_ERR_UNSUPPORTED, fail);
    }
    if (type == CR_PK_EC) {
        char curve[32];
        size_t n = 0;
        if (EVP_PKEY_get_utf8_string_param(slot.key, "group", curve, sizeof(curve), &n) != 1 ||
            (strcmp(curve, "prime256v1") != 0 && strcmp(curve, "secp384r1") != 0)) {
            set_err(c, "%s: EC key must be on P-256 or P-384", key_pem_path);
            CR_ENSURE_GOTO(false, CR_ERR_UNSUPPORTED, fail);
        }
        bool p256 = strcmp(curve, "prime256v1") == 0;
        slot.ec_group = p256 ? CR_GROUP_SECP256R1 : CR_GROUP_SECP384R1;
        id = p256 ? HS_CERT_ECDSA_P256 : HS_CERT_ECDSA_P384;
    } else if (EVP_PKEY_get_bits(slot.key) < HS_RSA_MIN_BITS) {
        set_err(c, "%s: RSA key of %d bits, at least %d needed", key_pem_path,
                EVP_PKEY_get_bits(slot.key), HS_RSA_MIN_BITS);
        CR_ENSURE_GOTO(false, CR_ERR_UNSUPPORTED, fail);
    }
    /* One certificate per slot: the handshake chooses among the slots by
     * what the client offers, so a second one of the same kind could never
     * be chosen. */
    if (c->cert[id].key != NULL) {
        set_err(c,
                "%s: a %s certificate is already loaded (one per key type: ECDSA P-256, "
                "ECDSA P-384, RSA)",
                chain_pem_path, hs_cert_slot_name(id));
        CR_ENSURE_GOTO(false, CR_ERR_INVAL, fail);
    }

    f = fopen(chain_pem_path, "r");
    if (!f) {
        set_err(c, "%s: %s", chain_pem_path, strerror(errno));
        CR_ENSURE_GOTO(false, CR_ERR_IO, fail);
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (slot.n >= CR_PK_CHAIN_MAX_CERTS) {
            set_err(c, "%s: more than %d certificates", chain_pem_path, CR_PK_CHAIN_MAX_CERTS);
            CR_ENSURE_GOTO(false, CR_ERR_LIMIT, fail);
        }
        if (slot.n == 0 && X509_check_private_key(x, slot.key) != 1) {
            set_err(c, "%s: first certificate does not match key %s", chain_pem_path, key_pem_path);
            CR_ENSURE_GOTO(false, CR_ERR_VERIFY, fail);
        }
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        CR_ENSURE_GOTO(len > 0, CR_ERR_CRYPTO, fail);
        slot.der[slot.n] = der;
        slot.der_len[slot.n] = (size_t)len;
        slot.n++;
        X509_free(x);
        x = NULL;
    }
    if (slot.n == 0) {
        set_err(c, "%s: no PEM certificate", chain_pem_path);
        CR_ENSURE_GOTO(false, CR_ERR_DECODE, fail);
    }
    fclose(f);
    c->cert[id] = slot;
    c->err[0] = '\0';
    return 0;
fail:
    X509_free(x);
    if (f)
        fclose(f);
    cert_slot_clear(&slot);
    return rc;
}

/* ---- PSK ---------------------------------------------------------------- */

static int psk_cmp(const void *a, const void *b)
{
    const struct hs_psk_entry *x = a, *y = b;
    if (x->id_len != y->id_len)
        return x->id_len < y->id_len ? -1 : 1;
    return memcmp(x->identity, y->identity, x->id_len);
}

static int psk_set_add(struct hs_psk_set *s, const uint8_t *id, size_t id_len, const uint8_t *key,
                       size_t key_len)
{
    CR_ENSURE(id_len >= 1 && id_len <= HS_IDENTITY_MAX_LEN, CR_ERR_INVAL);
    CR_ENSURE(key_len >= 1 && key_len <= HS_PSK_MAX_KEY_LEN, CR_ERR_INVAL);
    if (s->n == s->cap) {
        unsigned ncap = s->cap ? s->cap * 2 : 16;
        struct hs_psk_entry *ne = calloc(ncap, sizeof(*ne));
        CR_ENSURE(ne, CR_ERR_NOMEM);
        if (s->e) {
            memcpy(ne, s->e, sizeof(*ne) * s->n);
            OPENSSL_cleanse(s->e, sizeof(*s->e) * s->cap);
            free(s->e);
        }
        s->e = ne;
        s->cap = ncap;
    }
    struct hs_psk_entry *e = &s->e[s->n++];
    memcpy(e->identity, id, id_len);
    e->id_len = (uint16_t)id_len;
    memcpy(e->key, key, key_len);
    e->key_len = (uint8_t)key_len;
    return 0;
}

/* Sorts and rejects duplicate identities; returns the index of a duplicate
 * or -1. */
static int psk_set_finish(struct hs_psk_set *s)
{
    if (s->n > 1)
        qsort(s->e, s->n, sizeof(*s->e), psk_cmp);
    for (unsigned i = 1; i < s->n; i++)
        if (psk_cmp(&s->e[i - 1], &s->e[i]) == 0)
            return (int)i;
    return -1;
}

const struct hs_psk_entry *hs_creds_find_psk(const struct hs_creds *c, const uint8_t *id,
                                             size_t id_len)
{
    struct hs_psk_entry probe;

    if (!c || !c->psk || id_len == 0 || id_len > HS_IDENTITY_MAX_LEN)
        return NULL;
    memcpy(probe.identity, id, id_len);
    probe.id_len = (uint16_t)id_len;
    return bsearch(&probe, c->psk->e, c->psk->n, sizeof(probe), psk_cmp);
}

void hs_psk_set_free(struct hs_psk_set *s)
{
    psk_set_free(s);
}

bool hs_creds_psk_kept(const struct hs_creds *c, const struct hs_psk_set *prev,
                       const char *identity)
{
    size_t id_len = strnlen(identity, HS_IDENTITY_MAX_LEN + 1);
    const struct hs_psk_entry *now = hs_creds_find_psk(c, (const uint8_t *)identity, id_len);
    if (now == NULL)
        return false;
    if (prev == NULL)
        return true;
    struct hs_creds old = {.psk = (struct hs_psk_set *)prev};
    const struct hs_psk_entry *was = hs_creds_find_psk(&old, (const uint8_t *)identity, id_len);
    return was != NULL && was->key_len == now->key_len &&
           CRYPTO_memcmp(was->key, now->key, now->key_len) == 0;
}

bool hs_creds_has_psk(const struct hs_creds *c)
{
    return c && c->psk && c->psk->n > 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int hs_creds_load_psk_file(struct hs_creds *c, const char *path)
{
    return hs_creds_reload_psk_file(c, path, NULL);
}

int hs_creds_reload_psk_file(struct hs_creds *c, const char *path, struct hs_psk_set **prev)
{
    char line[HS_PSK_LINE_MAX_LEN + 2];
    uint8_t key[HS_PSK_MAX_KEY_LEN];
    struct hs_psk_set *set = NULL;
    struct secret_file sf;
    unsigned lineno = 0;
    FILE *f;
    int rc;

    CR_ENSURE(c && path, CR_ERR_INVAL);
    f = secret_open(&sf, path);
    if (!f) {
        set_err(c, "%s: %s", path, strerror(errno));
        OPENSSL_cleanse(sf.buf, sizeof(sf.buf));
        return CR_ERR_IO;
    }
    set = calloc(1, sizeof(*set));
    CR_ENSURE_GOTO(set, CR_ERR_NOMEM, fail);
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
            set_err(c, "%s:%u: line longer than %d bytes", path, lineno, HS_PSK_LINE_MAX_LEN);
            CR_ENSURE_GOTO(false, CR_ERR_LIMIT, fail);
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue; /* blank lines and comments */
        /* psktool writes `identity:hexkey`; the key has no ':', so the last
         * colon separates (identities may contain colons). */
        char *colon = strrchr(line, ':');
        if (!colon) {
            set_err(c, "%s:%u: expected identity:hexkey", path, lineno);
            CR_ENSURE_GOTO(false, CR_ERR_DECODE, fail);
        }
        size_t id_len = (size_t)(colon - line);
        const char *hex = colon + 1;
        size_t hex_len = strlen(hex);
        if (id_len == 0 || id_len > HS_IDENTITY_MAX_LEN) {
            set_err(c, "%s:%u: identity length must be 1..%d", path, lineno, HS_IDENTITY_MAX_LEN);
            CR_ENSURE_GOTO(false, CR_ERR_DECODE, fail);
        }
        if (hex_len == 0 || hex_len % 2 != 0 || hex_len / 2 > HS_PSK_MAX_KEY_LEN) {
            set_err(c, "%s:%u: key must be an even number of hex digits, 1..%d bytes", path, lineno,
                    HS_PSK_MAX_KEY_LEN);
            CR_ENSURE_GOTO(false, CR_ERR_DECODE, fail);
        }
        for (size_t i = 0; i < hex_len / 2; i++) {
            int hi = hexval((unsigned char)hex[2 * i]);
            int lo = hexval((unsigned char)hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                set_err(c, "%s:%u: bad hex digit in key", path, lineno);
                CR_ENSURE_GOTO(false, CR_ERR_DECODE, fail);
            }
            key[i] = (uint8_t)(hi << 4 | lo);
        }
        CR_GUARD_GOTO(psk_set_add(set, (const uint8_t *)line, id_len, key, hex_len / 2), fail);
    }
    if (ferror(f)) {
        set_err(c, "%s: read error", path);
        CR_ENSURE_GOTO(false, CR_ERR_IO, fail);
    }
    int dup = psk_set_finish(set);
    if (dup >= 0) {
        set_err(c, "%s: identity '%.*s' appears more than once", path, (int)set->e[dup].id_len,
                (const char *)set->e[dup].identity);
        CR_ENSURE_GOTO(false, CR_ERR_DECODE, fail);
    }
    secret_close(&sf);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(line, sizeof(line));
    /* Replace atomically: handshakes copy the key they use at
     * ClientKeyExchange, so nothing keeps a pointer into the old set. */
    if (prev != NULL)
        *prev = c->psk;
    else
        psk_set_free(c->psk);
    c->psk = set;
    c->err[0] = '\0';
    return 0;
fail:
    secret_close(&sf);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(line, sizeof(line));
    psk_set_free(set);
    return rc;
}

int hs_creds_add_psk(struct hs_creds *c, const char *identity, const uint8_t *key, size_t key_len)
{
    struct hs_psk_set *set;
    int rc;

    CR_ENSURE(c && identity && key, CR_ERR_INVAL);
    size_t id_len = strlen(identity);
    CR_ENSURE(id_len >= 1 && id_len <= HS_IDENTITY_MAX_LEN, CR_ERR_INVAL);
    CR_ENSURE(key_len >= 1 && key_len <= HS_PSK_MAX_KEY_LEN, CR_ERR_INVAL);
    if (hs_creds_find_psk(c, (const uint8_t *)identity, id_len)) {
        set_err(c, "identity '%s' already present", identity);
        return CR_ERR_INVAL;
    }
    /* Copy-on-write so that a failure leaves the old set intact. */
    set = calloc(1, sizeof(*set));
    CR_ENSURE(set, CR_ERR_NOMEM);
    for (unsigned i = 0; c->psk && i < c->psk->n; i++) {
        const struct hs_psk_entry *e = &c->psk->e[i];
        CR_GUARD_GOTO(psk_set_add(set, e->identity, e->id_len, e->key, e->key_len), fail);
    }
    CR_GUARD_GOTO(psk_set_add(set, (const uint8_t *)identity, id_len, key, key_len), fail);
    (void)psk_set_finish(set);
    psk_set_free(c->psk);
    c->psk = set;
    return 0;
fail:
    psk_set_free(set);
    return rc;
}

int hs_creds_set_psk_hint(struct hs_creds *c, const char *hint)
{
    CR_ENSURE(c, CR_ERR_INVAL);
    if (!hint) {
        c->has_psk_hint = false;
        c->psk_hint_len = 0;
        return 0;
    }
    size_t n = strlen(hint);
    CR_ENSURE(n <= HS_PSK_HINT_MAX_LEN, CR_ERR_LIMIT);
    memcpy(c->psk_hint, hint, n);
    c->psk_hint_len = n;
    c->has_psk_hint = true;
    return 0;
}

/* ---- CA bundle ---------------------------------------------------------- */

/* The subject names of the CA certificates in path, in file order, each
 * as DistinguishedName<1..2^16-1> (RFC 5246 §7.4.4: "opaque
 * DistinguishedName<1..2^16-1>"; the DER of the subject), a name repeated
 * by several CAs once.  At most HS_CA_NAMES_MAX_BYTES. */
static int ca_names_build(struct hs_creds *c, const char *path, uint8_t **out, size_t *out_len)
{
    STACK_OF(X509_INFO) *infos = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(c, "%s: %s", path, strerror(errno));
        return CR_ERR_IO;
    }
    infos = PEM_X509_INFO_read(f, NULL, NULL, NULL);
    fclose(f);
    CR_ENSURE_GOTO(infos, CR_ERR_DECODE, fail);
    buf = malloc(HS_CA_NAMES_MAX_BYTES);
    CR_ENSURE_GOTO(buf, CR_ERR_NOMEM, fail);
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        const X509_INFO *xi = sk_X509_INFO_value(infos, i);
        if (xi->x509 == NULL)
            continue; /* a CRL or a lone key */
        unsigned char *der = NULL;
        int n = i2d_X509_NAME(X509_get_subject_name(xi->x509), &der);
        CR_ENSURE_GOTO(n > 0, CR_ERR_CRYPTO, fail);
        bool dup = false;
        for (size_t off = 0; off < len && !dup; off += 2 + ((size_t)buf[off] << 8 | buf[off + 1]))
            dup = ((size_t)buf[off] << 8 | buf[off + 1]) == (size_t)n &&
                  memcmp(buf + off + 2, der, (size_t)n) == 0;
        if (!dup && ((size_t)n > UINT16_MAX || 2 + (size_t)n > HS_CA_NAMES_MAX_BYTES - len)) {
            OPENSSL_free(der);
            set_err(c,
                    "%s: the CA subject names take more than %d bytes (CertificateRequest "
                    "certificate_authorities); use a smaller client-CA bundle",
                    path, HS_CA_NAMES_MAX_BYTES);
            CR_ENSURE_GOTO(false, CR_ERR_LIMIT, fail);
        }
        if (!dup) {
            buf[len] = (uint8_t)(n >> 8);
            buf[len + 1] = (uint8_t)n;
            memcpy(buf + len + 2, der, (size_t)n);
            len += 2 + (size_t)n;
        }
        OPENSSL_free(der);
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    *out = buf;
    *out_len = len;
    return 0;
fail:
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    free(buf);
    if (rc != CR_ERR_LIMIT)
        set_err(c, "%s: cannot read the CA certificates' names", path);
    return rc;
}

int hs_creds_load_ca(struct hs_creds *c, const char *ca_pem_path)
{
    X509_STORE *st;
    X509_LOOKUP *lu;
    uint8_t *names = NULL;
    size_t names_len = 0;
    int rc;

    CR_ENSURE(c && ca_pem_path, CR_ERR_INVAL);
    st = X509_STORE_new();
    CR_ENSURE(st, CR_ERR_NOMEM);
    lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
    if (!lu || X509_LOOKUP_load_file(lu, ca_pem_path, X509_FILETYPE_PEM) <= 0) {
        set_err(c, "%s: no PEM CA certificate could be loaded", ca_pem_path);
        X509_STORE_free(st);
        return CR_ERR_IO;
    }
    c->err[0] = '\0';
    rc = ca_names_build(c, ca_pem_path, &names, &names_len);
    if (rc < 0) {
        X509_STORE_free(st);
        return rc;
    }
    X509_STORE_free(c->ca);
    free(c->ca_names);
    c->ca = st;
    c->ca_names = names;
    c->ca_names_len = names_len;
    return 0;
}
