/* e2e_rawpsk.c — e2e-helper rawpsk: a DTLS 1.2 PSK client whose ClientHello
 * carries no extensions at all, which libssl cannot send.  Not part of the
 * product.
 *
 *   e2e-helper rawpsk --server IP:PORT [--src IP] --psk-identity ID
 *       --psk-key HEX [--cipher NAME] [--empty-ext] [--split N] [--split-even]
 *       [--reverse] [--dup]
 *       [--n-records K] [--hello FILE] [--timeout-ms MS] [--tag T]
 *
 * Its ClientHello is built from a recorded libssl one (--hello, default
 * $DTLSGW_SRCDIR/tests/data/libssl_dtls12_psk_client_hello.hex): the same
 * client_version, record version and compression methods, the recorded
 * cipher suites that are plain PSK suites implemented here (only --cipher's
 * when given: an IANA or OpenSSL name), a fresh random, no session_id, and
 * no extensions block (--empty-ext: an extensions block of length 0).  The
 * handshake (RFC 6347, RFC 5246, RFC 4279): ClientHello, HelloVerifyRequest,
 * ClientHello with the cookie (with --split N as N handshake fragments, one
 * datagram each), ServerHello [ServerKeyExchange with a hint]
 * ServerHelloDone (reassembled from fragments, duplicates ignored),
 * ClientKeyExchange (the identity), ChangeCipherSpec, Finished at epoch 1
 * (classic master secret: no extended_master_secret was offered), the
 * server's ChangeCipherSpec and Finished verified.  The client retransmits
 * its last flight on a doubling timer of its own and when the server
 * repeats its previous flight.  Then K application-data records, each
 * resent until the echo backend's reply comes back byte-exact, and
 * close_notify.  Prints one line:
 *   RAWPSK established=0|1 echoed=N suite=IANA ems=0 hvr=H ch_ext=none|empty
 *   sh_ext=E hint=none|LEN ch_len=L fragments=F retransmits=R src=IP:PORT
 *   server_close=0|1 [error=WHY]
 * and "RAWPSK payload I TEXT" per record sent.  Exit 0 only when
 * established and all K echoed.
 *
 * Not implemented: certificate, ECDHE and CBC suites, resumption,
 * renegotiation, Connection IDs, an anti-replay window for the server's
 * epoch-1 records (an echo is matched by its content; others count as
 * stray), buffering of epoch-1 records that arrive before the server's
 * ChangeCipherSpec (dropped: the resend timer brings them again).  --split
 * keeps the cookie in the first fragment (send_client_hello); --split-even
 * cuts both ClientHellos' bodies evenly (the cookie may fall in any
 * fragment), --reverse sends the fragments last first, --dup each twice.
 *
 * Owns: its socket and key material (wiped at exit).  Must not: use libssl
 * or any of the gateway's code (it is an independent peer); libcrypto only
 * (EVP AEAD, EVP_KDF "TLS1-PRF", EVP digests).
 */
#include "e2e_rawpsk.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "test_util.h"
#include "tl_addr.h"

/* Wire format (RFC 6347 §4.1, §4.2.2; RFC 5246 §7.4). */
#define RP_REC_HDR_LEN       13
#define RP_HS_HDR_LEN        12
#define RP_RANDOM_LEN        32
#define RP_MASTER_LEN        48
#define RP_VERIFY_LEN        12
#define RP_SESSION_ID_MAX    32
#define RP_COOKIE_MAX_LEN    255
#define RP_DTLS12            0xfefd
#define RP_CT_CCS            20
#define RP_CT_ALERT          21
#define RP_CT_HANDSHAKE      22
#define RP_CT_APP_DATA       23
#define MT_CLIENT_HELLO      1
#define MT_SERVER_HELLO      2
#define MT_HELLO_VERIFY_REQ  3
#define MT_SERVER_KEY_EXCH   12
#define MT_SERVER_HELLO_DONE 14
#define MT_CLIENT_KEY_EXCH   16
#define MT_FINISHED          20
#define AL_CLOSE_NOTIFY      0
#define AL_UNEXPECTED_MSG    10
#define AL_HANDSHAKE_FAIL    40
#define AL_ILLEGAL_PARAM     47
#define AL_DECODE_ERROR      50
#define AL_DECRYPT_ERROR     51
#define AL_UNSUPPORTED_EXT   110

/* Limits of this client, in their units. */
#define RP_DGRAM_MAX_BYTES      2048
#define RP_FIXTURE_MAX_BYTES    4096
#define RP_MSG_MAX_BYTES        4096 /* largest server handshake message buffered */
#define RP_TRANSCRIPT_MAX_BYTES 8192
#define RP_N_SLOTS              8 /* server messages buffered ahead of the next */
#define RP_MAX_SUITES           64
#define RP_MAX_COMP             16
#define RP_MAX_SPLIT            16
#define RP_MAX_RECORDS          1000
#define RP_MAX_HVR              4
#define RP_PSK_MAX_LEN          64
#define RP_PAYLOAD_LEN          100
#define RP_RESEND_INITIAL_MS    1000 /* RFC 6347 §4.2.4.1: 1 s, doubling */
#define RP_RESEND_MAX_MS        8000
#define RP_ECHO_RESEND_MS       400
#define RP_DEFAULT_TIMEOUT_MS   20000
#define RP_CLOSE_WAIT_MS        500
#define RP_FIXTURE_NAME         "tests/data/libssl_dtls12_psk_client_hello.hex"

/* ---- bounded reading (one cursor type; advances only on success) --------- */

struct cur {
    const uint8_t *p;
    size_t len;
};

static bool cur_span(struct cur *c, const uint8_t **out, size_t n)
{
    if (c->len < n)
        return false;
    *out = c->p;
    c->p += n;
    c->len -= n;
    return true;
}

static bool cur_uint(struct cur *c, size_t n, uint64_t *out)
{
    const uint8_t *p;
    if (!cur_span(c, &p, n))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    *out = v;
    return true;
}

static bool cur_u8(struct cur *c, uint8_t *out)
{
    uint64_t v;
    if (!cur_uint(c, 1, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

static bool cur_u16(struct cur *c, uint16_t *out)
{
    uint64_t v;
    if (!cur_uint(c, 2, &v))
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool cur_u24(struct cur *c, uint32_t *out)
{
    uint64_t v;
    if (!cur_uint(c, 3, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A field with an n-byte length prefix as a child cursor. */
static bool cur_prefixed(struct cur *c, size_t n, struct cur *out)
{
    struct cur save = *c;
    uint64_t len;
    const uint8_t *p;
    if (!cur_uint(c, n, &len) || !cur_span(c, &p, (size_t)len)) {
        *c = save;
        return false;
    }
    out->p = p;
    out->len = (size_t)len;
    return true;
}

/* ---- writing (fixed buffer, sticky error) ------------------------------ */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool err;
};

static void w_init(struct wbuf *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->len = 0;
    w->cap = cap;
    w->err = false;
}

static void w_bytes(struct wbuf *w, const void *d, size_t n)
{
    if (w->err || w->cap - w->len < n) {
        w->err = true;
        return;
    }
    if (n)
        memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void w_uint(struct wbuf *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w_bytes(w, b, n);
}

/* ---- cipher suites -------------------------------------------------------- */

enum aead_kind {
    AK_GCM,    /* RFC 5288 */
    AK_CCM,    /* RFC 6655 */
    AK_CHACHA, /* RFC 7905 */
};

struct suite {
    uint16_t id;
    const char *iana, *ossl, *evp;
    enum aead_kind kind;
    size_t key_len, fixed_iv_len, explicit_len, tag_len;
    const char *prf_md; /* PRF and Finished hash (RFC 5246 §5, §7.4.9) */
};

static const struct suite k_suites[] = {
    {0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "PSK-AES128-GCM-SHA256", "AES-128-GCM", AK_GCM, 16,
     4, 8, 16, "SHA256"},
    {0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "PSK-AES256-GCM-SHA384", "AES-256-GCM", AK_GCM, 32,
     4, 8, 16, "SHA384"},
    {0xc0a8, "TLS_PSK_WITH_AES_128_CCM_8", "PSK-AES128-CCM8", "AES-128-CCM", AK_CCM, 16, 4, 8, 8,
     "SHA256"},
    {0xc0a4, "TLS_PSK_WITH_AES_128_CCM", "PSK-AES128-CCM", "AES-128-CCM", AK_CCM, 16, 4, 8, 16,
     "SHA256"},
    {0xccab, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", "PSK-CHACHA20-POLY1305", "ChaCha20-Poly1305",
     AK_CHACHA, 32, 12, 0, 16, "SHA256"},
};
#define N_SUITES (sizeof(k_suites) / sizeof(k_suites[0]))

static const struct suite *suite_by_id(uint16_t id)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (k_suites[i].id == id)
            return &k_suites[i];
    return NULL;
}

static const struct suite *suite_by_name(const char *name)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (strcmp(k_suites[i].iana, name) == 0 || strcmp(k_suites[i].ossl, name) == 0)
            return &k_suites[i];
    return NULL;
}

/* ---- client state ----------------------------------------------------------- */

enum state {
    ST_WAIT_SERVER_HELLO, /* ClientHello sent (HelloVerifyRequest accepted here) */
    ST_WAIT_SERVER_HELLO_DONE,
    ST_WAIT_SERVER_FINISHED, /* our CCS + Finished sent */
    ST_ESTABLISHED,
};

static const char *const k_state_names[] = {"WAIT_SERVER_HELLO", "WAIT_SERVER_HELLO_DONE",
                                            "WAIT_SERVER_FINISHED", "ESTABLISHED"};

struct slot { /* one server handshake message being reassembled */
    bool used;
    uint8_t type;
    uint16_t epoch;
    uint32_t len, have;
    uint8_t body[RP_MSG_MAX_BYTES];
    uint8_t got[RP_MSG_MAX_BYTES]; /* 1 per byte received */
};

struct rp {
    int fd;
    /* from the recorded ClientHello */
    uint16_t ch_rec_version, ch_version;
    uint8_t suites[2 * RP_MAX_SUITES], comp[RP_MAX_COMP];
    size_t suites_len, comp_len;
    bool empty_ext;
    unsigned split;
    bool split_even; /* --split-even: cut the whole body evenly, both ClientHellos */
    bool reverse;    /* --reverse: fragments last first */
    bool dup;        /* --dup: every fragment twice */
    const char *psk_id;
    uint8_t psk[RP_PSK_MAX_LEN];
    size_t psk_len;

    enum state st;
    bool failed;
    char err[320];
    uint8_t client_random[RP_RANDOM_LEN], server_random[RP_RANDOM_LEN];
    uint8_t cookie[RP_COOKIE_MAX_LEN];
    size_t cookie_len;
    uint16_t tx_msg_seq; /* next client message_seq */
    uint16_t ch_seq;     /* message_seq of the last ClientHello */
    uint16_t rx_next;    /* next server message_seq */
    uint64_t wseq[2];    /* next record sequence number per epoch */
    struct slot slots[RP_N_SLOTS];
    uint8_t transcript[RP_TRANSCRIPT_MAX_BYTES];
    size_t transcript_len;
    uint8_t ch_msg[RP_DGRAM_MAX_BYTES]; /* the current ClientHello, header included */
    size_t ch_msg_len;
    uint8_t cke_msg[RP_DGRAM_MAX_BYTES], fin_msg[RP_HS_HDR_LEN + RP_VERIFY_LEN];
    size_t cke_msg_len;

    const struct suite *suite;
    bool got_ske, server_ccs, peer_resent, server_closed;
    long hint_len; /* -1: no ServerKeyExchange */
    uint8_t master[RP_MASTER_LEN];
    uint8_t ckey[32], skey[32], civ[12], siv[12];

    /* application data */
    const uint8_t *want; /* the payload whose echo is awaited */
    size_t want_len;
    bool echoed_cur;
    unsigned stray;

    unsigned hvr, retransmits, fragments, sh_ext;
};

__attribute__((format(printf, 2, 3))) static void fail(struct rp *rp, const char *fmt, ...)
{
    if (rp->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(rp->err, sizeof(rp->err), "%s: ", k_state_names[rp->st]);
    vsnprintf(rp->err + n, sizeof(rp->err) - (size_t)n, fmt, ap);
    va_end(ap);
    rp->failed = true;
}

static const char *alert_name(uint8_t d)
{
    switch (d) {
    case 0:
        return "close_notify";
    case 10:
        return "unexpected_message";
    case 20:
        return "bad_record_mac";
    case 40:
        return "handshake_failure";
    case 47:
        return "illegal_parameter";
    case 50:
        return "decode_error";
    case 51:
        return "decrypt_error";
    case 70:
        return "protocol_version";
    case 71:
        return "insufficient_security";
    case 80:
        return "internal_error";
    case 100:
        return "no_renegotiation";
    case 110:
        return "unsupported_extension";
    case 115:
        return "unknown_psk_identity";
    default:
        return "alert";
    }
}

/* ---- crypto: PRF, transcript hash, AEAD ----------------------------------- */

/* RFC 5246 §5: PRF(secret, label, seed) on EVP_KDF "TLS1-PRF". */
static int prf(const char *md, const uint8_t *secret, size_t secret_len, const char *label,
               const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
    uint8_t ls[64 + EVP_MAX_MD_SIZE];
    size_t ll = strlen(label);
    if (ll > 64 || seed_len > EVP_MAX_MD_SIZE)
        return -1;
    memcpy(ls, label, ll);
    memcpy(ls + ll, seed, seed_len);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, ls, ll + seed_len),
        OSSL_PARAM_construct_end()};
    int ok = kc != NULL && EVP_KDF_derive(kc, out, out_len, ps) == 1;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    OPENSSL_cleanse(ls, sizeof(ls));
    return ok ? 0 : -1;
}

/* Hash of the handshake messages so far (RFC 5246 §7.4.9, RFC 6347 §4.2.6:
 * each message as if sent in one fragment, DTLS header included). */
static int transcript_hash(const struct rp *rp, uint8_t *out, unsigned *out_len)
{
    EVP_MD *md = EVP_MD_fetch(NULL, rp->suite->prf_md, NULL);
    int ok = md != NULL && EVP_Digest(rp->transcript, rp->transcript_len, out, out_len, md, NULL);
    EVP_MD_free(md);
    return ok ? 0 : -1;
}

/* RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label,
 * Hash(handshake_messages))[0..11]. */
static int finished_verify_data(const struct rp *rp, const char *label, uint8_t vd[RP_VERIFY_LEN])
{
    uint8_t hash[EVP_MAX_MD_SIZE];
    unsigned hash_len = 0;
    if (transcript_hash(rp, hash, &hash_len) != 0)
        return -1;
    return prf(rp->suite->prf_md, rp->master, RP_MASTER_LEN, label, hash, hash_len, vd,
               RP_VERIFY_LEN);
}

static int transcript_add(struct rp *rp, const uint8_t *msg, size_t len)
{
    if (RP_TRANSCRIPT_MAX_BYTES - rp->transcript_len < len)
        return -1;
    memcpy(rp->transcript + rp->transcript_len, msg, len);
    rp->transcript_len += len;
    return 0;
}

/* One AEAD operation (enc: seal, else open); tag is written (seal) or
 * checked (open).  0 on success, -1 when the tag does not verify. */
static int aead(const struct suite *s, bool enc, const uint8_t *key, const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out,
                uint8_t *tag)
{
    EVP_CIPHER *ci = EVP_CIPHER_fetch(NULL, s->evp, NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    int ok = ci != NULL && c != NULL && EVP_CipherInit_ex2(c, ci, NULL, NULL, enc, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1;
    /* CCM fixes the tag length (and, opening, the tag) before the key */
    if (ok && (s->kind == AK_CCM || !enc))
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)s->tag_len, enc ? NULL : tag) == 1;
    ok = ok && EVP_CipherInit_ex2(c, NULL, key, nonce, enc, NULL) == 1;
    if (ok && s->kind == AK_CCM)
        ok = EVP_CipherUpdate(c, NULL, &l, NULL, (int)in_len) == 1;
    ok = ok && EVP_CipherUpdate(c, NULL, &l, aad, (int)aad_len) == 1;
    ok = ok && EVP_CipherUpdate(c, out, &l, in, (int)in_len) == 1;
    /* CCM verifies in the update; GCM and ChaCha20-Poly1305 in the final */
    if (ok && (enc || s->kind != AK_CCM))
        ok = EVP_CipherFinal_ex(c, out + l, &l) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)s->tag_len, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(ci);
    return ok ? 0 : -1;
}

/* The per-record nonce: RFC 5288 §3 / RFC 6655 §3: salt (fixed IV, 4
 * bytes) || nonce_explicit (8 bytes, here epoch || seq, which never
 * repeats under one key); RFC 7905 §2: the 12-byte IV XOR the 64-bit
 * epoch || seq, left-padded with zeros. */
static void make_nonce(const struct suite *s, const uint8_t *iv, const uint8_t epoch_seq[8],
                       uint8_t nonce[12])
{
    if (s->kind == AK_CHACHA) {
        memcpy(nonce, iv, 12);
        for (int i = 0; i < 8; i++)
            nonce[4 + i] ^= epoch_seq[i];
    } else {
        memcpy(nonce, iv, 4);
        memcpy(nonce + 4, epoch_seq, 8);
    }
}

/* RFC 6347 §4.1.2.1: additional_data = epoch || seq || type || version ||
 * length (of the plaintext). */
static void make_aad(const uint8_t epoch_seq[8], uint8_t type, size_t pt_len, uint8_t aad[13])
{
    memcpy(aad, epoch_seq, 8);
    aad[8] = type;
    aad[9] = RP_DTLS12 >> 8;
    aad[10] = RP_DTLS12 & 0xff;
    aad[11] = (uint8_t)(pt_len >> 8);
    aad[12] = (uint8_t)pt_len;
}

/* ---- records out --------------------------------------------------------- */

/* An epoch-0 record of body into w. */
static void put_plain_record(struct rp *rp, struct wbuf *w, uint8_t type, uint16_t version,
                             const uint8_t *body, size_t len)
{
    w_uint(w, type, 1);
    w_uint(w, version, 2);
    w_uint(w, 0, 2);
    w_uint(w, rp->wseq[0]++, 6);
    w_uint(w, len, 2);
    w_bytes(w, body, len);
}

/* An epoch-1 record of pt, sealed with the client write key, into w. */
static void put_sealed_record(struct rp *rp, struct wbuf *w, uint8_t type, const uint8_t *pt,
                              size_t pt_len)
{
    const struct suite *s = rp->suite;
    uint8_t es[8], nonce[12], aad[13], ct[RP_DGRAM_MAX_BYTES], tag[16];
    uint64_t seq = rp->wseq[1]++;
    es[0] = 0;
    es[1] = 1;
    for (int i = 0; i < 6; i++)
        es[2 + i] = (uint8_t)(seq >> (40 - 8 * i));
    if (pt_len > sizeof(ct) ||
        aead(s, true, rp->ckey, (make_nonce(s, rp->civ, es, nonce), nonce),
             (make_aad(es, type, pt_len, aad), aad), 13, pt, pt_len, ct, tag) != 0) {
        w->err = true;
        return;
    }
    w_uint(w, type, 1);
    w_uint(w, RP_DTLS12, 2);
    w_bytes(w, es, 8);
    w_uint(w, s->explicit_len + pt_len + s->tag_len, 2);
    w_bytes(w, es, s->explicit_len); /* nonce_explicit = epoch || seq */
    w_bytes(w, ct, pt_len);
    w_bytes(w, tag, s->tag_len);
}

static void send_dgram(struct rp *rp, const struct wbuf *w)
{
    if (w->err) {
        fail(rp, "datagram did not fit (%zu bytes)", w->len);
        return;
    }
    if (send(rp->fd, w->p, w->len, 0) != (ssize_t)w->len)
        fail(rp, "send failed");
}

static void send_alert(struct rp *rp, uint8_t desc)
{
    uint8_t buf[128], al[2] = {2, desc};
    struct wbuf w;
    w_init(&w, buf, sizeof(buf));
    if (rp->st >= ST_WAIT_SERVER_FINISHED)
        put_sealed_record(rp, &w, RP_CT_ALERT, al, 2);
    else
        put_plain_record(rp, &w, RP_CT_ALERT, RP_DTLS12, al, 2);
    if (!w.err)
        (void)send(rp->fd, w.p, w.len, 0);
}

/* A handshake message header (RFC 6347 §4.2.2). */
static void put_hs_hdr(struct wbuf *w, uint8_t type, uint32_t len, uint16_t seq, uint32_t off,
                       uint32_t frag_len)
{
    w_uint(w, type, 1);
    w_uint(w, len, 3);
    w_uint(w, seq, 2);
    w_uint(w, off, 3);
    w_uint(w, frag_len, 3);
}

/* ---- flights ------------------------------------------------------------ */

/* ClientHello: the recorded layout, a fresh random (kept across the cookie
 * exchange, RFC 6347 §4.2.1), no session_id, the cookie, no extensions. */
static void build_client_hello(struct rp *rp)
{
    struct wbuf w;
    w_init(&w, rp->ch_msg, sizeof(rp->ch_msg));
    w.len = RP_HS_HDR_LEN;
    w_uint(&w, rp->ch_version, 2);
    w_bytes(&w, rp->client_random, RP_RANDOM_LEN);
    w_uint(&w, 0, 1); /* session_id: none */
    w_uint(&w, rp->cookie_len, 1);
    w_bytes(&w, rp->cookie, rp->cookie_len);
    w_uint(&w, rp->suites_len, 2);
    w_bytes(&w, rp->suites, rp->suites_len);
    w_uint(&w, rp->comp_len, 1);
    w_bytes(&w, rp->comp, rp->comp_len);
    /* RFC 5246 §7.4.1.2: the client "MAY" omit the extensions field; with
     * --empty-ext it is present and empty. */
    if (rp->empty_ext)
        w_uint(&w, 0, 2);
    size_t body_len = w.len - RP_HS_HDR_LEN;
    struct wbuf h;
    w_init(&h, rp->ch_msg, RP_HS_HDR_LEN);
    rp->ch_seq = rp->tx_msg_seq++;
    put_hs_hdr(&h, MT_CLIENT_HELLO, (uint32_t)body_len, rp->ch_seq, 0, (uint32_t)body_len);
    rp->ch_msg_len = w.err ? 0 : w.len;
    /* RFC 6347 §4.2.6: the transcript starts with the ClientHello that is
     * answered with a ServerHello (the first one and the
     * HelloVerifyRequest are left out). */
    rp->transcript_len = 0;
    (void)transcript_add(rp, rp->ch_msg, rp->ch_msg_len);
    /* the server answers it: its ServerHello carries this message_seq */
    rp->rx_next = rp->ch_seq;
    memset(rp->slots, 0, sizeof(rp->slots));
}

/* Sends the ClientHello: one record, or with a cookie and --split N, N
 * fragments in N datagrams.  The first fragment reaches past the cookie:
 * a stateless server checks the cookie on the fragment that starts the
 * message (the fields before the cookie are what it covers); the rest of
 * the body (cipher_suites, compression, extensions) is cut evenly. */
static void send_client_hello(struct rp *rp)
{
    uint8_t buf[RP_DGRAM_MAX_BYTES];
    struct wbuf w;
    const uint8_t *body = rp->ch_msg + RP_HS_HDR_LEN;
    size_t body_len = rp->ch_msg_len - RP_HS_HDR_LEN;
    unsigned n = rp->cookie_len > 0 || rp->split_even ? rp->split : 1;
    size_t head = 2 + RP_RANDOM_LEN + 1 + 1 + rp->cookie_len, rest = body_len - head;
    if (rp->split_even) { /* the cookie may fall in any fragment */
        head = 0;
        rest = body_len;
    }
    if (n <= 1) {
        w_init(&w, buf, sizeof(buf));
        put_plain_record(rp, &w, RP_CT_HANDSHAKE, rp->ch_rec_version, rp->ch_msg, rp->ch_msg_len);
        send_dgram(rp, &w);
        rp->fragments = 1;
        return;
    }
    for (unsigned kk = 0; kk < n * (rp->dup ? 2u : 1u); kk++) {
        unsigned k = kk % n;
        if (rp->reverse)
            k = n - 1 - k;
        size_t off = k == 0 ? 0 : head + rest * k / n;
        size_t end = k + 1 == n ? body_len : head + rest * (k + 1) / n;
        uint8_t frag[RP_DGRAM_MAX_BYTES];
        struct wbuf f;
        w_init(&f, frag, sizeof(frag));
        put_hs_hdr(&f, MT_CLIENT_HELLO, (uint32_t)body_len, rp->ch_seq, (uint32_t)off,
                   (uint32_t)(end - off));
        w_bytes(&f, body + off, end - off);
        w_init(&w, buf, sizeof(buf));
        put_plain_record(rp, &w, RP_CT_HANDSHAKE, rp->ch_rec_version, f.p, f.len);
        send_dgram(rp, &w);
    }
    rp->fragments = n;
}

/* Flight 3 (RFC 6347 §4.2.4): ClientKeyExchange, ChangeCipherSpec and the
 * Finished at epoch 1, in one datagram; each send uses fresh record
 * sequence numbers. */
static void send_client_finished_flight(struct rp *rp)
{
    uint8_t buf[RP_DGRAM_MAX_BYTES], ccs = 1;
    struct wbuf w;
    w_init(&w, buf, sizeof(buf));
    put_plain_record(rp, &w, RP_CT_HANDSHAKE, RP_DTLS12, rp->cke_msg, rp->cke_msg_len);
    put_plain_record(rp, &w, RP_CT_CCS, RP_DTLS12, &ccs, 1);
    put_sealed_record(rp, &w, RP_CT_HANDSHAKE, rp->fin_msg, sizeof(rp->fin_msg));
    send_dgram(rp, &w);
}

static void send_flight(struct rp *rp)
{
    if (rp->st == ST_WAIT_SERVER_FINISHED)
        send_client_finished_flight(rp);
    else if (rp->st != ST_ESTABLISHED)
        send_client_hello(rp);
}

/* ---- server messages -------------------------------------------------------- */

static int on_hello_verify_request(struct rp *rp, const uint8_t *body, size_t len)
{
    struct cur c = {body, len}, cookie;
    uint16_t version;
    /* RFC 6347 §4.2.1: server_version, cookie<0..2^8-1>. */
    if (!cur_u16(&c, &version) || !cur_prefixed(&c, 1, &cookie) || c.len != 0 || cookie.len == 0) {
        fail(rp, "malformed HelloVerifyRequest");
        return -1;
    }
    if (cookie.len == rp->cookie_len && memcmp(cookie.p, rp->cookie, cookie.len) == 0)
        return 0; /* a repeat of the one answered */
    if (++rp->hvr > RP_MAX_HVR) {
        fail(rp, "more than %d HelloVerifyRequests", RP_MAX_HVR);
        return -1;
    }
    memcpy(rp->cookie, cookie.p, cookie.len);
    rp->cookie_len = cookie.len;
    build_client_hello(rp);
    return 1; /* a new flight to send */
}

static int on_server_hello(struct rp *rp, const uint8_t *body, size_t len)
{
    struct cur c = {body, len}, sid, exts;
    const uint8_t *random;
    uint16_t version, id;
    uint8_t comp;
    /* RFC 5246 §7.4.1.3: server_version, random, session_id<0..32>,
     * cipher_suite, compression_method, extensions<0..2^16-1> (optional). */
    if (!cur_u16(&c, &version) || !cur_span(&c, &random, RP_RANDOM_LEN) ||
        !cur_prefixed(&c, 1, &sid) || sid.len > RP_SESSION_ID_MAX || !cur_u16(&c, &id) ||
        !cur_u8(&c, &comp)) {
        send_alert(rp, AL_DECODE_ERROR);
        fail(rp, "malformed ServerHello");
        return -1;
    }
    if (c.len > 0) {
        if (!cur_prefixed(&c, 2, &exts) || c.len != 0) {
            send_alert(rp, AL_DECODE_ERROR);
            fail(rp, "malformed ServerHello extensions");
            return -1;
        }
        uint16_t type = 0;
        struct cur ext;
        while (exts.len > 0) {
            if (!cur_u16(&exts, &type) || !cur_prefixed(&exts, 2, &ext)) {
                send_alert(rp, AL_DECODE_ERROR);
                fail(rp, "malformed ServerHello extension");
                return -1;
            }
            rp->sh_ext++;
        }
        /* RFC 5246 §7.4.1.4: "If a client receives an extension type in
         * ServerHello that it did not request in the associated
         * ClientHello, it MUST abort the handshake with an
         * unsupported_extension fatal alert."  We requested none. */
        if (rp->sh_ext > 0) {
            send_alert(rp, AL_UNSUPPORTED_EXT);
            fail(rp,
                 "ServerHello carries %u extension(s) (last 0x%04x) that the ClientHello "
                 "did not offer",
                 rp->sh_ext, type);
            return -1;
        }
    }
    if (version != RP_DTLS12) {
        send_alert(rp, AL_ILLEGAL_PARAM);
        fail(rp, "ServerHello version %04x", version);
        return -1;
    }
    bool offered = false;
    for (size_t i = 0; i + 1 < rp->suites_len; i += 2)
        offered |= (uint16_t)(rp->suites[i] << 8 | rp->suites[i + 1]) == id;
    bool comp_offered = memchr(rp->comp, comp, rp->comp_len) != NULL;
    if (!offered || suite_by_id(id) == NULL || !comp_offered) {
        send_alert(rp, AL_ILLEGAL_PARAM);
        fail(rp, "ServerHello chose suite %04x / compression %u, not offered", id, comp);
        return -1;
    }
    rp->suite = suite_by_id(id);
    memcpy(rp->server_random, random, RP_RANDOM_LEN);
    rp->st = ST_WAIT_SERVER_HELLO_DONE;
    return 0;
}

static int on_server_key_exchange(struct rp *rp, const uint8_t *body, size_t len)
{
    struct cur c = {body, len}, hint;
    /* RFC 4279 §2: psk_identity_hint<0..2^16-1>, nothing else for PSK. */
    if (rp->got_ske || !cur_prefixed(&c, 2, &hint) || c.len != 0) {
        send_alert(rp, rp->got_ske ? AL_UNEXPECTED_MSG : AL_DECODE_ERROR);
        fail(rp, "%s ServerKeyExchange", rp->got_ske ? "a second" : "malformed");
        return -1;
    }
    rp->got_ske = true;
    rp->hint_len = (long)hint.len;
    return 0;
}

/* ServerHelloDone: derive the keys and send flight 3. */
static int on_server_hello_done(struct rp *rp, const uint8_t *body, size_t len)
{
    (void)body;
    if (len != 0) {
        send_alert(rp, AL_DECODE_ERROR);
        fail(rp, "ServerHelloDone with a %zu-byte body", len);
        return -1;
    }
    const struct suite *s = rp->suite;
    /* ClientKeyExchange (RFC 4279 §2): psk_identity<0..2^16-1>. */
    size_t id_len = strlen(rp->psk_id);
    struct wbuf w;
    w_init(&w, rp->cke_msg, sizeof(rp->cke_msg));
    put_hs_hdr(&w, MT_CLIENT_KEY_EXCH, (uint32_t)(2 + id_len), rp->tx_msg_seq, 0,
               (uint32_t)(2 + id_len));
    w_uint(&w, id_len, 2);
    w_bytes(&w, rp->psk_id, id_len);
    if (w.err || transcript_add(rp, w.p, w.len) != 0) {
        fail(rp, "ClientKeyExchange does not fit");
        return -1;
    }
    rp->cke_msg_len = w.len;
    rp->tx_msg_seq++;

    /* RFC 4279 §2 premaster secret: uint16 N, N zero bytes, uint16 N, the
     * PSK.  RFC 5246 §8.1 (no extended_master_secret: RFC 7627 was not
     * offered): master_secret = PRF(pre_master_secret, "master secret",
     * ClientHello.random + ServerHello.random)[0..47].  §6.3 key block:
     * client/server write keys, then client/server write IVs. */
    uint8_t pms[4 + 2 * RP_PSK_MAX_LEN], kb[2 * 32 + 2 * 12], vd[RP_VERIFY_LEN];
    uint8_t seed[2 * RP_RANDOM_LEN];
    size_t n = rp->psk_len, kb_len = 2 * s->key_len + 2 * s->fixed_iv_len;
    pms[0] = (uint8_t)(n >> 8);
    pms[1] = (uint8_t)n;
    memset(pms + 2, 0, n);
    pms[2 + n] = (uint8_t)(n >> 8);
    pms[3 + n] = (uint8_t)n;
    memcpy(pms + 4 + n, rp->psk, n);
    memcpy(seed, rp->client_random, RP_RANDOM_LEN);
    memcpy(seed + RP_RANDOM_LEN, rp->server_random, RP_RANDOM_LEN);
    int rc = prf(s->prf_md, pms, 4 + 2 * n, "master secret", seed, sizeof(seed), rp->master,
                 RP_MASTER_LEN);
    memcpy(seed, rp->server_random, RP_RANDOM_LEN);
    memcpy(seed + RP_RANDOM_LEN, rp->client_random, RP_RANDOM_LEN);
    if (rc == 0)
        rc = prf(s->prf_md, rp->master, RP_MASTER_LEN, "key expansion", seed, sizeof(seed), kb,
                 kb_len);
    if (rc == 0) {
        memcpy(rp->ckey, kb, s->key_len);
        memcpy(rp->skey, kb + s->key_len, s->key_len);
        memcpy(rp->civ, kb + 2 * s->key_len, s->fixed_iv_len);
        memcpy(rp->siv, kb + 2 * s->key_len + s->fixed_iv_len, s->fixed_iv_len);
        rc = finished_verify_data(rp, "client finished", vd);
    }
    OPENSSL_cleanse(pms, sizeof(pms));
    OPENSSL_cleanse(kb, sizeof(kb));
    struct wbuf f;
    w_init(&f, rp->fin_msg, sizeof(rp->fin_msg));
    put_hs_hdr(&f, MT_FINISHED, RP_VERIFY_LEN, rp->tx_msg_seq, 0, RP_VERIFY_LEN);
    w_bytes(&f, vd, sizeof(vd));
    if (rc != 0 || f.err || transcript_add(rp, f.p, f.len) != 0) {
        fail(rp, "key derivation or Finished failed");
        return -1;
    }
    rp->tx_msg_seq++;
    rp->st = ST_WAIT_SERVER_FINISHED;
    return 1; /* a new flight to send */
}

/* The server's Finished, at epoch 1 after its ChangeCipherSpec. */
static int on_server_finished(struct rp *rp, const uint8_t *body, size_t len)
{
    uint8_t vd[RP_VERIFY_LEN];
    if (len != RP_VERIFY_LEN) {
        send_alert(rp, AL_DECODE_ERROR);
        fail(rp, "server Finished of %zu bytes", len);
        return -1;
    }
    int ok = finished_verify_data(rp, "server finished", vd) == 0;
    /* RFC 5246 §7.4.9: "Recipients of Finished messages MUST verify that
     * the contents are correct." */
    if (!ok || CRYPTO_memcmp(vd, body, RP_VERIFY_LEN) != 0) {
        send_alert(rp, AL_DECRYPT_ERROR);
        fail(rp, "the server's Finished does not verify");
        return -1;
    }
    rp->st = ST_ESTABLISHED;
    return 0;
}

/* What each state accepts (anything else: unexpected_message). */
struct transition {
    enum state st;
    uint8_t type;
    uint16_t epoch;
    int (*fn)(struct rp *rp, const uint8_t *body, size_t len);
};

static const struct transition k_transitions[] = {
    {ST_WAIT_SERVER_HELLO, MT_SERVER_HELLO, 0, on_server_hello},
    {ST_WAIT_SERVER_HELLO_DONE, MT_SERVER_KEY_EXCH, 0, on_server_key_exchange},
    {ST_WAIT_SERVER_HELLO_DONE, MT_SERVER_HELLO_DONE, 0, on_server_hello_done},
    {ST_WAIT_SERVER_FINISHED, MT_FINISHED, 1, on_server_finished},
};

/* Runs the complete messages in message_seq order; 1 when a new flight of
 * ours is due, 0, or -1 on failure. */
static int process_messages(struct rp *rp)
{
    int flight = 0;
    for (;;) {
        struct slot *sl = &rp->slots[rp->rx_next % RP_N_SLOTS];
        if (!sl->used || sl->have != sl->len || rp->st == ST_ESTABLISHED)
            return flight;
        const struct transition *t = NULL;
        for (size_t i = 0; i < sizeof(k_transitions) / sizeof(k_transitions[0]); i++)
            if (k_transitions[i].st == rp->st && k_transitions[i].type == sl->type)
                t = &k_transitions[i];
        if (t == NULL || t->epoch != sl->epoch) {
            send_alert(rp, AL_UNEXPECTED_MSG);
            fail(rp, "unexpected handshake message %u (message_seq %u, epoch %u)", sl->type,
                 rp->rx_next, sl->epoch);
            return -1;
        }
        /* the transcript takes the message before the handler: the client
         * Finished hash covers ServerHelloDone, the server's covers ours */
        uint8_t hdr[RP_HS_HDR_LEN];
        struct wbuf h;
        w_init(&h, hdr, sizeof(hdr));
        put_hs_hdr(&h, sl->type, sl->len, rp->rx_next, 0, sl->len);
        if (sl->type != MT_FINISHED &&
            (transcript_add(rp, hdr, sizeof(hdr)) != 0 || transcript_add(rp, sl->body, sl->len))) {
            fail(rp, "transcript full");
            return -1;
        }
        int r = t->fn(rp, sl->body, sl->len);
        if (r < 0)
            return -1;
        flight |= r;
        sl->used = false;
        rp->rx_next++;
    }
}

/* Handshake fragments of one record into the reassembly slots. */
static int on_handshake_record(struct rp *rp, uint16_t epoch, const uint8_t *d, size_t len)
{
    struct cur c = {d, len};
    int flight = 0;
    while (c.len > 0) {
        uint8_t type;
        uint32_t msg_len, off, frag_len;
        uint16_t seq;
        const uint8_t *frag;
        if (!cur_u8(&c, &type) || !cur_u24(&c, &msg_len) || !cur_u16(&c, &seq) ||
            !cur_u24(&c, &off) || !cur_u24(&c, &frag_len) || !cur_span(&c, &frag, frag_len))
            return flight; /* a broken record: the rest is dropped */
        /* checks in subtraction form: off <= msg_len first */
        if (off > msg_len || frag_len > msg_len - off || msg_len > RP_MSG_MAX_BYTES)
            continue;
        if (type == MT_HELLO_VERIFY_REQ && epoch == 0) {
            if (rp->st == ST_WAIT_SERVER_HELLO && off == 0 && frag_len == msg_len) {
                int r = on_hello_verify_request(rp, frag, frag_len);
                if (r < 0)
                    return -1;
                flight |= r;
            }
            continue;
        }
        if ((uint16_t)(seq - rp->rx_next) >= 0x8000) { /* seq < rx_next: seen */
            /* RFC 6347 §4.2.4: the server repeating its flight means ours
             * was lost: retransmit it. */
            if (rp->st == ST_WAIT_SERVER_FINISHED && epoch == 0)
                rp->peer_resent = true;
            continue;
        }
        if ((uint16_t)(seq - rp->rx_next) >= RP_N_SLOTS)
            continue; /* too far ahead */
        struct slot *sl = &rp->slots[seq % RP_N_SLOTS];
        if (!sl->used) {
            memset(sl, 0, sizeof(*sl));
            sl->used = true;
            sl->type = type;
            sl->len = msg_len;
            sl->epoch = epoch;
        } else if (sl->type != type || sl->len != msg_len || sl->epoch != epoch) {
            continue; /* inconsistent with the fragments seen: dropped */
        }
        for (uint32_t i = 0; i < frag_len; i++)
            if (!sl->got[off + i]) {
                sl->got[off + i] = 1;
                sl->body[off + i] = frag[i];
                sl->have++;
            }
    }
    int r = process_messages(rp);
    return r < 0 ? -1 : flight | r;
}

static void on_alert(struct rp *rp, const uint8_t *d, size_t len)
{
    if (len != 2)
        return;
    if (rp->st == ST_ESTABLISHED && d[1] == AL_CLOSE_NOTIFY) {
        rp->server_closed = true;
        return;
    }
    if (d[0] == 2 || d[1] == AL_CLOSE_NOTIFY)
        fail(rp, "the server sent alert %s %s (%u)", d[0] == 2 ? "fatal" : "warning",
             alert_name(d[1]), d[1]);
}

/* Opens an epoch-1 record from the server; plaintext length or -1. */
static long open_record(struct rp *rp, const uint8_t *hdr, const uint8_t *body, size_t len,
                        uint8_t *pt)
{
    const struct suite *s = rp->suite;
    uint8_t nonce[12], aad[13];
    if (len < s->explicit_len + s->tag_len)
        return -1;
    size_t pt_len = len - s->explicit_len - s->tag_len;
    uint8_t es[8];
    memcpy(es, hdr + 3, 8);
    if (s->kind == AK_CHACHA)
        make_nonce(s, rp->siv, es, nonce);
    else
        make_nonce(s, rp->siv, body, nonce); /* salt || nonce_explicit */
    make_aad(es, hdr[0], pt_len, aad);
    uint8_t tag[16];
    memcpy(tag, body + s->explicit_len + pt_len, s->tag_len);
    if (aead(s, false, rp->skey, nonce, aad, 13, body + s->explicit_len, pt_len, pt, tag) != 0)
        return -1;
    return (long)pt_len;
}

/* Every record of one datagram; 1 when a flight of ours is due. */
static int on_datagram(struct rp *rp, const uint8_t *d, size_t n)
{
    struct cur c = {d, n};
    int flight = 0;
    while (c.len >= RP_REC_HDR_LEN && !rp->failed) {
        const uint8_t *hdr = c.p, *body;
        struct cur rc;
        uint8_t type;
        uint16_t version, epoch;
        const uint8_t *seq; /* read again from hdr for the nonce and AAD */
        /* a length past the datagram: the rest is dropped */
        if (!cur_u8(&c, &type) || !cur_u16(&c, &version) || !cur_u16(&c, &epoch) ||
            !cur_span(&c, &seq, 6) || !cur_prefixed(&c, 2, &rc))
            break;
        body = rc.p;
        if (epoch == 0) {
            if (type == RP_CT_HANDSHAKE) {
                int r = on_handshake_record(rp, 0, body, rc.len);
                flight = r < 0 ? 0 : flight | r;
            } else if (type == RP_CT_CCS && rc.len == 1 && body[0] == 1 &&
                       rp->st == ST_WAIT_SERVER_FINISHED) {
                rp->server_ccs = true; /* the server's epoch 1 begins */
            } else if (type == RP_CT_ALERT) {
                on_alert(rp, body, rc.len);
            }
            continue;
        }
        /* epoch 1 before the server's CCS (or later epochs): dropped; the
         * timer brings the flight again */
        if (epoch != 1 || !rp->server_ccs)
            continue;
        uint8_t pt[RP_DGRAM_MAX_BYTES];
        long pl = open_record(rp, hdr, body, rc.len, pt);
        if (pl < 0)
            continue; /* RFC 6347 §4.1.2.7: invalid records are dropped */
        if (type == RP_CT_HANDSHAKE) {
            int r = on_handshake_record(rp, 1, pt, (size_t)pl);
            flight = r < 0 ? 0 : flight | r;
        } else if (type == RP_CT_ALERT) {
            on_alert(rp, pt, (size_t)pl);
        } else if (type == RP_CT_APP_DATA && rp->st == ST_ESTABLISHED) {
            if (rp->want && (size_t)pl == rp->want_len && memcmp(pt, rp->want, rp->want_len) == 0)
                rp->echoed_cur = true;
            else
                rp->stray++;
        }
    }
    return flight;
}

/* Reads whatever the socket holds; 1 when a flight of ours is due. */
static int pump(struct rp *rp, int wait_ms)
{
    struct pollfd p = {.fd = rp->fd, .events = POLLIN};
    int flight = 0;
    if (poll(&p, 1, wait_ms < 0 ? 0 : wait_ms) <= 0)
        return 0;
    uint8_t buf[RP_DGRAM_MAX_BYTES];
    ssize_t n;
    while (!rp->failed && (n = recv(rp->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        flight |= on_datagram(rp, buf, (size_t)n);
    if (rp->peer_resent) {
        rp->peer_resent = false;
        flight = 1;
    }
    return flight;
}

/* ---- the run ----------------------------------------------------------- */

int e2e_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Hex text to bytes; '#' to end of line is a comment.  Length or -1. */
static long hex_decode(const char *s, uint8_t *out, size_t cap, bool comments)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (comments && *s == '#') {
            while (*s && *s != '\n')
                s++;
            if (!*s)
                break;
            continue;
        }
        if (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
            continue;
        int v = e2e_hexval((unsigned char)*s);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi < 0 ? (long)n : -1;
}

/* The recorded ClientHello's layout: record version, client_version, the
 * implemented PSK suites among its cipher_suites (only `only` when set),
 * its compression methods. */
static int load_fixture(struct rp *rp, const char *path, const struct suite *only)
{
    char *text = slurp(path);
    uint8_t d[RP_FIXTURE_MAX_BYTES];
    long n = text && text[0] ? hex_decode(text, d, sizeof(d), true) : -1;
    free(text);
    struct cur c = {d, n > 0 ? (size_t)n : 0}, rec, body, sid, cookie, suites, comp, exts;
    uint8_t ct, mt;
    uint16_t epoch, seq16;
    uint32_t msg_len, off, frag_len;
    const uint8_t *seq, *random; /* the recorded ones are not reused */
    if (n <= 0 || !cur_u8(&c, &ct) || !cur_u16(&c, &rp->ch_rec_version) || !cur_u16(&c, &epoch) ||
        !cur_span(&c, &seq, 6) || !cur_prefixed(&c, 2, &rec) || ct != RP_CT_HANDSHAKE ||
        epoch != 0 || !cur_u8(&rec, &mt) || !cur_u24(&rec, &msg_len) || !cur_u16(&rec, &seq16) ||
        !cur_u24(&rec, &off) || !cur_u24(&rec, &frag_len) || mt != MT_CLIENT_HELLO || off != 0 ||
        frag_len != msg_len || rec.len != msg_len) {
        fprintf(stderr, "rawpsk: %s: not a recorded ClientHello datagram\n", path);
        return -1;
    }
    body = rec;
    if (!cur_u16(&body, &rp->ch_version) || !cur_span(&body, &random, RP_RANDOM_LEN) ||
        !cur_prefixed(&body, 1, &sid) || !cur_prefixed(&body, 1, &cookie) ||
        !cur_prefixed(&body, 2, &suites) || !cur_prefixed(&body, 1, &comp) ||
        (body.len > 0 && !cur_prefixed(&body, 2, &exts)) || body.len != 0 || comp.len == 0 ||
        comp.len > sizeof(rp->comp)) {
        fprintf(stderr, "rawpsk: %s: malformed ClientHello\n", path);
        return -1;
    }
    rp->suites_len = 0;
    while (suites.len >= 2) {
        uint16_t id;
        if (!cur_u16(&suites, &id))
            break;
        const struct suite *s = suite_by_id(id);
        if (s && (!only || only == s) && rp->suites_len < sizeof(rp->suites)) {
            rp->suites[rp->suites_len++] = (uint8_t)(id >> 8);
            rp->suites[rp->suites_len++] = (uint8_t)id;
        }
    }
    memcpy(rp->comp, comp.p, comp.len);
    rp->comp_len = comp.len;
    if (rp->suites_len == 0) {
        fprintf(stderr, "rawpsk: %s offers no suite of this client%s%s\n", path,
                only ? " named " : "", only ? only->iana : "");
        return -1;
    }
    return 0;
}

/* The i-th payload: "rawpsk|TAG|rec=I|" and filler up to RP_PAYLOAD_LEN. */
static size_t make_payload(char *p, const char *tag, unsigned i)
{
    int l = snprintf(p, RP_PAYLOAD_LEN + 1, "rawpsk|%s|rec=%u|", tag, i);
    if (l < 0 || l > RP_PAYLOAD_LEN)
        l = RP_PAYLOAD_LEN;
    for (; l < RP_PAYLOAD_LEN; l++)
        p[l] = "abcdefghijklmnopqrstuvwxyz0123456789"[((unsigned)l * 11 + i) % 36];
    p[l] = '\0';
    return (size_t)l;
}

static struct rp g_rp; /* large (reassembly slots): not on the stack */

int e2e_rawpsk_main(int argc, char **argv)
{
    struct rp *rp = &g_rp;
    const char *server_s = NULL, *src_s = NULL, *key_hex = NULL, *cipher = NULL, *hello = NULL,
               *tag = "raw";
    unsigned n_records = 3;
    int timeout_ms = RP_DEFAULT_TIMEOUT_MS;
    char fixture[512];
    static const struct option opts[] = {
        {"server", 1, NULL, 's'},     {"src", 1, NULL, 'a'},       {"psk-identity", 1, NULL, 'i'},
        {"psk-key", 1, NULL, 'k'},    {"cipher", 1, NULL, 'c'},    {"empty-ext", 0, NULL, 'e'},
        {"split", 1, NULL, 'S'},      {"n-records", 1, NULL, 'n'}, {"hello", 1, NULL, 'H'},
        {"timeout-ms", 1, NULL, 't'}, {"tag", 1, NULL, 'T'},       {"split-even", 0, NULL, 'E'},
        {"reverse", 0, NULL, 'R'},    {"dup", 0, NULL, 'D'},       {NULL, 0, NULL, 0}};
    memset(rp, 0, sizeof(*rp));
    rp->psk_id = "gwe-client";
    rp->split = 1;
    rp->hint_len = -1;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            server_s = optarg;
            break;
        case 'a':
            src_s = optarg;
            break;
        case 'i':
            rp->psk_id = optarg;
            break;
        case 'k':
            key_hex = optarg;
            break;
        case 'c':
            cipher = optarg;
            break;
        case 'e':
            rp->empty_ext = true;
            break;
        case 'S':
            rp->split = (unsigned)atoi(optarg);
            break;
        case 'n':
            n_records = (unsigned)atoi(optarg);
            break;
        case 'H':
            hello = optarg;
            break;
        case 't':
            timeout_ms = atoi(optarg);
            break;
        case 'T':
            tag = optarg;
            break;
        case 'E':
            rp->split_even = true;
            break;
        case 'R':
            rp->reverse = true;
            break;
        case 'D':
            rp->dup = true;
            break;
        default:
            return 2;
        }
    }
    if (hello == NULL) {
        const char *src = getenv("DTLSGW_SRCDIR");
        snprintf(fixture, sizeof(fixture), "%s/%s", src ? src : ".", RP_FIXTURE_NAME);
        hello = fixture;
    }
    const struct suite *only = cipher ? suite_by_name(cipher) : NULL;
    long psk_len = key_hex ? hex_decode(key_hex, rp->psk, sizeof(rp->psk), false) : -1;
    struct sockaddr_in srv = {.sin_family = AF_INET}, la = {.sin_family = AF_INET};
    int arc = tl_addr_parse_in4(server_s, 0, &srv);
    if (arc != TL_ADDR_OK || (cipher && !only) || psk_len <= 0 || rp->split == 0 ||
        rp->split > RP_MAX_SPLIT || n_records > RP_MAX_RECORDS || strlen(rp->psk_id) > 0xffff ||
        (src_s && inet_pton(AF_INET, src_s, &la.sin_addr) != 1)) {
        if (arc != TL_ADDR_OK)
            fprintf(stderr, "rawpsk: --server: %s\n", tl_addr_strerror(arc));
        fprintf(stderr, "rawpsk: --server IP:PORT --psk-key HEX needed; --cipher one of this "
                        "client's PSK suites, --split 1..16\n");
        return 2;
    }
    rp->psk_len = (size_t)psk_len;
    if (load_fixture(rp, hello, only) != 0)
        return 2;
    /* --split: every fragment after the first holds at least one byte */
    size_t tail = 2 + rp->suites_len + 1 + rp->comp_len + (rp->empty_ext ? 2 : 0);
    if (rp->split > tail) {
        fprintf(stderr, "rawpsk: --split %u: the body after the cookie is %zu bytes\n", rp->split,
                tail);
        return 2;
    }
    rp->fd = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t sl = sizeof(la);
    if (rp->fd < 0 || bind(rp->fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
        connect(rp->fd, (struct sockaddr *)&srv, sizeof(srv)) != 0 ||
        getsockname(rp->fd, (struct sockaddr *)&la, &sl) != 0) {
        perror("rawpsk: socket");
        return 1;
    }
    if (RAND_bytes(rp->client_random, RP_RANDOM_LEN) != 1)
        return 1;

    /* The handshake, on a doubling resend timer of its own. */
    uint64_t now = tl_mono_ms(), deadline = now + (uint64_t)timeout_ms;
    unsigned timer_ms = RP_RESEND_INITIAL_MS;
    uint64_t resend_at = now + timer_ms;
    build_client_hello(rp);
    size_t ch_len = 0;
    send_flight(rp);
    while (!rp->failed && rp->st != ST_ESTABLISHED && (now = tl_mono_ms()) < deadline) {
        uint64_t until = resend_at < deadline ? resend_at : deadline;
        uint16_t msgs_before = rp->tx_msg_seq; /* grows with each new flight */
        int due = pump(rp, until > now ? (int)(until - now) : 0);
        if (rp->failed || rp->st == ST_ESTABLISHED)
            break;
        now = tl_mono_ms();
        if (due && rp->tx_msg_seq != msgs_before) { /* a new flight: the timer starts again */
            timer_ms = RP_RESEND_INITIAL_MS;
        } else if (due || now >= resend_at) {
            rp->retransmits++;
            if (!due)
                timer_ms = timer_ms * 2 > RP_RESEND_MAX_MS ? RP_RESEND_MAX_MS : timer_ms * 2;
        } else {
            continue;
        }
        if (rp->cookie_len > 0)
            ch_len = rp->ch_msg_len;
        send_flight(rp);
        resend_at = now + timer_ms;
    }
    if (rp->cookie_len > 0 || ch_len == 0)
        ch_len = rp->ch_msg_len;
    if (!rp->failed && rp->st != ST_ESTABLISHED)
        fail(rp, "no answer after %u retransmissions (timeout %d ms)", rp->retransmits, timeout_ms);

    /* K records, each resent until echoed byte-exact. */
    unsigned echoed = 0;
    char payload[RP_PAYLOAD_LEN + 1];
    for (unsigned i = 0; rp->st == ST_ESTABLISHED && !rp->failed && i < n_records; i++) {
        rp->want_len = make_payload(payload, tag, i);
        rp->want = (const uint8_t *)payload;
        rp->echoed_cur = false;
        printf("RAWPSK payload %u %s\n", i, payload);
        uint64_t next_send = 0;
        while (!rp->echoed_cur && !rp->failed && (now = tl_mono_ms()) < deadline) {
            if (now >= next_send) {
                uint8_t buf[RP_DGRAM_MAX_BYTES];
                struct wbuf w;
                w_init(&w, buf, sizeof(buf));
                put_sealed_record(rp, &w, RP_CT_APP_DATA, rp->want, rp->want_len);
                send_dgram(rp, &w);
                next_send = now + RP_ECHO_RESEND_MS;
            }
            (void)pump(rp, 20);
        }
        if (!rp->echoed_cur) {
            fail(rp, "record %u not echoed", i);
            break;
        }
        echoed++;
    }
    rp->want = NULL;
    if (rp->st == ST_ESTABLISHED) {
        /* close_notify (RFC 5246 §7.2.1), a warning alert at epoch 1 */
        uint8_t buf[128], al[2] = {1, AL_CLOSE_NOTIFY};
        struct wbuf w;
        w_init(&w, buf, sizeof(buf));
        put_sealed_record(rp, &w, RP_CT_ALERT, al, 2);
        if (!w.err)
            (void)send(rp->fd, w.p, w.len, 0);
        uint64_t end = tl_mono_ms() + RP_CLOSE_WAIT_MS;
        while (!rp->server_closed && tl_mono_ms() < end)
            (void)pump(rp, 20);
    }
    char hint[24] = "none", src[INET_ADDRSTRLEN] = "?";
    if (rp->hint_len >= 0)
        snprintf(hint, sizeof(hint), "%ld", rp->hint_len);
    inet_ntop(AF_INET, &la.sin_addr, src, sizeof(src));
    printf("RAWPSK established=%d echoed=%u suite=%s ems=0 hvr=%u ch_ext=%s sh_ext=%u hint=%s "
           "ch_len=%zu fragments=%u retransmits=%u stray=%u src=%s:%u server_close=%d%s%s\n",
           rp->st == ST_ESTABLISHED, echoed, rp->suite ? rp->suite->iana : "none", rp->hvr,
           rp->empty_ext ? "empty" : "none", rp->sh_ext, hint, ch_len, rp->fragments,
           rp->retransmits, rp->stray, src, ntohs(la.sin_port), rp->server_closed,
           rp->failed ? " error=" : "", rp->failed ? rp->err : "");
    fflush(stdout);
    int rc = rp->st == ST_ESTABLISHED && echoed == n_records ? 0 : 1;
    close(rp->fd);
    OPENSSL_cleanse(rp, sizeof(*rp));
    return rc;
}
