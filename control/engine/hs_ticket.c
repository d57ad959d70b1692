/* hs_ticket.c — resumable session state, its encoding and its sealing
 * (hs_ticket.h).
 *
 * Owns: nothing.  Must not: leave a master secret on the stack.
 */
#include "hs_ticket.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hs.h"

_Static_assert(HS_TICKET_ID_MAX_LEN == HS_IDENTITY_MAX_LEN, "ticket identity field");
_Static_assert(HS_TICKET_SNI_MAX_LEN == HS_SNI_MAX_LEN, "ticket SNI field");
_Static_assert(HS_TICKET_MAX_LEN <= UINT16_MAX, "RFC 5077 ticket<0..2^16-1>");

const char *hs_ticket_strerror(int err)
{
    static const char *const s[] = {"ok",
#define X(name, str) str,
                                    HS_TICKET_ERRORS(X)
#undef X
    };
    return err >= 0 && err < HS_TICKET_ERR_N ? s[err] : "unknown ticket error";
}

static uint8_t *put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return p + n;
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int hs_ticket_encode(const struct hs_ticket_state *st, uint8_t *out, size_t cap)
{
    CR_ENSURE(st && out, CR_ERR_INVAL);
    CR_ENSURE(strnlen(st->identity, sizeof(st->identity)) == st->identity_len &&
                  strnlen(st->sni, sizeof(st->sni)) == st->sni_len,
              CR_ERR_INVAL);
    size_t len = HS_TICKET_FIXED_LEN + st->identity_len + st->sni_len;
    CR_ENSURE(len <= cap, CR_ERR_LIMIT);
    uint8_t *p = out;
    *p++ = HS_TICKET_FORMAT;
    p = put_be(p, st->version, 2);
    p = put_be(p, st->suite, 2);
    *p++ = st->kex;
    *p++ = st->flags;
    memcpy(p, st->master, HS_TICKET_MASTER_LEN);
    p += HS_TICKET_MASTER_LEN;
    p = put_be(p, st->issued_s, 8);
    p = put_be(p, st->lifetime_s, 4);
    memcpy(p, st->psk_digest, HS_TICKET_DIGEST_LEN);
    p += HS_TICKET_DIGEST_LEN;
    memcpy(p, st->cert_digest, HS_TICKET_DIGEST_LEN);
    p += HS_TICKET_DIGEST_LEN;
    *p++ = st->identity_len;
    memcpy(p, st->identity, st->identity_len);
    p += st->identity_len;
    *p++ = st->sni_len;
    memcpy(p, st->sni, st->sni_len);
    p += st->sni_len;
    return (int)(p - out);
}

/* A length-prefixed string with no NUL inside; false when malformed. */
static bool take_str(const uint8_t **p, const uint8_t *end, char *dst, uint8_t *dst_len)
{
    if (end - *p < 1)
        return false;
    uint8_t n = **p;
    (*p)++;
    if (end - *p < n || memchr(*p, 0, n) != NULL)
        return false;
    memcpy(dst, *p, n);
    dst[n] = '\0';
    *dst_len = n;
    *p += n;
    return true;
}

int hs_ticket_decode(const uint8_t *in, size_t len, struct hs_ticket_state *st)
{
    memset(st, 0, sizeof(*st));
    /* the fixed part up to the identity's length byte */
    if (in == NULL || len < HS_TICKET_FIXED_LEN - 2 || in[0] != HS_TICKET_FORMAT)
        return HS_TICKET_ERR_MALFORMED;
    const uint8_t *p = in + 1, *end = in + len;
    st->version = (uint16_t)get_be(p, 2);
    st->suite = (uint16_t)get_be(p + 2, 2);
    st->kex = p[4];
    st->flags = p[5];
    p += 6;
    memcpy(st->master, p, HS_TICKET_MASTER_LEN);
    p += HS_TICKET_MASTER_LEN;
    st->issued_s = get_be(p, 8);
    st->lifetime_s = (uint32_t)get_be(p + 8, 4);
    p += 12;
    memcpy(st->psk_digest, p, HS_TICKET_DIGEST_LEN);
    p += HS_TICKET_DIGEST_LEN;
    memcpy(st->cert_digest, p, HS_TICKET_DIGEST_LEN);
    p += HS_TICKET_DIGEST_LEN;
    if (!take_str(&p, end, st->identity, &st->identity_len) ||
        !take_str(&p, end, st->sni, &st->sni_len) || p != end ||
        (st->flags & ~(HS_TICKET_FLAG_EMS | HS_TICKET_FLAG_CLIENT_CERT)) != 0) {
        OPENSSL_cleanse(st, sizeof(*st));
        return HS_TICKET_ERR_MALFORMED;
    }
    return HS_TICKET_OK;
}

int hs_ticket_seal(struct cr_seal_ring *ring, const char *listener,
                   const struct hs_ticket_state *st, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t buf[HS_TICKET_STATE_MAX_LEN];
    CR_ENSURE(ring && listener && st && out && out_len, CR_ERR_INVAL);
    /* RFC 7627 §5.3: never make a session without EMS resumable */
    CR_ENSURE((st->flags & HS_TICKET_FLAG_EMS) != 0, CR_ERR_INVAL);
    int n = hs_ticket_encode(st, buf, sizeof(buf));
    if (n < 0)
        return n;
    int rc = cr_seal(ring, HS_TICKET_LABEL, (const uint8_t *)listener, strlen(listener), buf,
                     (size_t)n, out, cap, out_len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

int hs_ticket_open(const struct cr_seal_ring *ring, const char *listener, const uint8_t *ticket,
                   size_t len, uint64_t now_s, struct hs_ticket_state *st, bool *renew)
{
    uint8_t buf[HS_TICKET_STATE_MAX_LEN];
    size_t n = 0;
    unsigned ki = 0;
    memset(st, 0, sizeof(*st));
    if (renew)
        *renew = false;
    if (ring == NULL || listener == NULL || ticket == NULL ||
        cr_unseal(ring, HS_TICKET_LABEL, (const uint8_t *)listener, strlen(listener), ticket, len,
                  buf, sizeof(buf), &n, &ki) != 0)
        return HS_TICKET_ERR_UNSEALED;
    int rc = hs_ticket_decode(buf, n, st);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rc == HS_TICKET_OK && (st->flags & HS_TICKET_FLAG_EMS) == 0)
        rc = HS_TICKET_ERR_NO_EMS;
    else if (rc == HS_TICKET_OK && st->issued_s > now_s + HS_TICKET_FUTURE_SKEW_S)
        rc = HS_TICKET_ERR_FUTURE;
    else if (rc == HS_TICKET_OK && now_s >= st->issued_s && now_s - st->issued_s >= st->lifetime_s)
        rc = HS_TICKET_ERR_EXPIRED;
    if (rc != HS_TICKET_OK) {
        OPENSSL_cleanse(st, sizeof(*st));
        return rc;
    }
    if (renew)
        *renew = ki > 0;
    return HS_TICKET_OK;
}

int hs_ticket_psk_digest(const char *identity, const uint8_t *key, size_t key_len,
                         uint8_t out[HS_TICKET_DIGEST_LEN])
{
    uint8_t md[32];
    unsigned mdlen = 0;
    CR_ENSURE(identity && key && out, CR_ERR_INVAL);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    CR_ENSURE(c, CR_ERR_NOMEM);
    int ok = EVP_DigestInit_ex2(c, EVP_sha256(), NULL);
    ok &= EVP_DigestUpdate(c, identity, strlen(identity) + 1); /* with its NUL */
    ok &= EVP_DigestUpdate(c, key, key_len);
    ok &= EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    if (ok != 1)
        return CR_ERR_CRYPTO;
    memcpy(out, md, HS_TICKET_DIGEST_LEN);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}
