/* test_engine_api.c — the engine API the gateway calls outside a handshake
 * (control/engine/hs.h): hs_ch_peek (ClientHello view of a raw datagram)
 * and hs_session_alert_open (an installed session's alert record), plus the
 * transition table's drops by reason (hs_stats.dropped_by_reason).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <stdlib.h>
#include <string.h>

#include "cr_aead.h"
#include "cu_main.h"
#include "dp_record.h"
#include "dp_replay.h"
#include "dp_wire.h"
#include "hs.h"

#define DGRAM_MAX 512

/* ---- ClientHello datagrams ---------------------------------------------- */

/* A ClientHello body: version, random (0xa0..), session_id, cookie, one
 * suite, null compression, no extensions.  Returns its length. */
static size_t ch_body(uint8_t *b, uint8_t sid_len, uint8_t cookie_len)
{
    size_t n = 0;
    b[n++] = 0xfe;
    b[n++] = 0xfd;
    for (unsigned i = 0; i < DP_HELLO_RANDOM_LEN; i++)
        b[n++] = (uint8_t)(0xa0 + i);
    b[n++] = sid_len;
    for (unsigned i = 0; i < sid_len; i++)
        b[n++] = (uint8_t)(0x10 + i);
    b[n++] = cookie_len;
    for (unsigned i = 0; i < cookie_len; i++)
        b[n++] = (uint8_t)(0xc0 + i);
    b[n++] = 0x00; /* cipher_suites<2..>: TLS_PSK_WITH_AES_128_GCM_SHA256 */
    b[n++] = 0x02;
    b[n++] = 0x00;
    b[n++] = 0xa8;
    b[n++] = 0x01; /* compression_methods: null */
    b[n++] = 0x00;
    return n;
}

static void put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

/* Record (epoch 0, seq rec_seq) + handshake header + body[off, off+flen)
 * of a message of msg_len bytes; hs_type as given.  Returns the datagram
 * length. */
static size_t ch_dgram(uint8_t *d, uint8_t hs_type, const uint8_t *body, uint32_t msg_len,
                       uint32_t off, uint32_t flen, uint64_t rec_seq)
{
    size_t n = dp_record_write_hdr(d, DP_CT_HANDSHAKE, DP_VERSION_DTLS12, 0, rec_seq, NULL, 0,
                                   (uint16_t)(DP_HS_HDR_LEN + flen));
    uint8_t *h = d + n;
    h[DP_HS_OFF_TYPE] = hs_type;
    put24(h + DP_HS_OFF_LENGTH, msg_len);
    dp_store_be16(h + DP_HS_OFF_MESSAGE_SEQ, 1);
    put24(h + DP_HS_OFF_FRAGMENT_OFF, off);
    put24(h + DP_HS_OFF_FRAGMENT_LEN, flen);
    memcpy(h + DP_HS_HDR_LEN, body + off, flen);
    return n + DP_HS_HDR_LEN + flen;
}

/* hs_ch_peek on an exact-size heap copy, so that a sanitizer build catches
 * any read past len. */
static int peek_exact(const uint8_t *d, size_t len, struct hs_ch_view *v)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy, d, len);
    int rc = hs_ch_peek(copy, len, v);
    free(copy);
    return rc;
}

static void test_peek_valid(void)
{
    uint8_t body[256], d[DGRAM_MAX];
    struct hs_ch_view v;
    size_t blen = ch_body(body, 5, 20);
    size_t len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 7);

    CU_ASSERT_EQUAL_FATAL(hs_ch_peek(d, len, &v), HS_CH_PEEK_OK);
    CU_ASSERT_EQUAL(v.rec_version, DP_VERSION_DTLS12);
    CU_ASSERT_EQUAL(v.rec_seq, 7);
    CU_ASSERT_EQUAL(v.rec_len, len);
    CU_ASSERT_EQUAL(v.msg_seq, 1);
    CU_ASSERT_EQUAL(v.msg_len, blen);
    CU_ASSERT_EQUAL(v.frag_off, 0);
    CU_ASSERT_EQUAL(v.frag_len, blen);
    CU_ASSERT_FALSE(v.fragmented);
    CU_ASSERT_TRUE(v.frag_ends_record);
    CU_ASSERT_TRUE(v.has_random);
    CU_ASSERT_TRUE(v.has_ids);
    CU_ASSERT_EQUAL(v.client_version, DP_VERSION_DTLS12);
    /* The random sits where the gateway used to read it by offset. */
    CU_ASSERT_PTR_EQUAL(v.random, d + DP_REC_HDR_LEN + DP_HS_HDR_LEN + DP_CH_OFF_RANDOM);
    CU_ASSERT_EQUAL(v.random[0], 0xa0);
    CU_ASSERT_EQUAL(v.random[DP_HELLO_RANDOM_LEN - 1], 0xa0 + DP_HELLO_RANDOM_LEN - 1);
    CU_ASSERT_EQUAL(v.session_id_len, 5);
    CU_ASSERT_EQUAL(v.session_id[0], 0x10);
    CU_ASSERT_EQUAL(v.cookie_len, 20);
    CU_ASSERT_EQUAL(v.cookie[0], 0xc0);
    CU_ASSERT_EQUAL(v.cookie[19], 0xc0 + 19);

    /* Empty session_id and cookie: present, zero length. */
    blen = ch_body(body, 0, 0);
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    CU_ASSERT_EQUAL_FATAL(hs_ch_peek(d, len, &v), HS_CH_PEEK_OK);
    CU_ASSERT_TRUE(v.has_ids);
    CU_ASSERT_EQUAL(v.session_id_len, 0);
    CU_ASSERT_EQUAL(v.cookie_len, 0);

    /* A second record after the ClientHello is not looked at. */
    size_t n2 = dp_record_write_hdr(d + len, DP_CT_ALERT, DP_VERSION_DTLS12, 0, 1, NULL, 0, 2);
    d[len + n2] = 1;
    d[len + n2 + 1] = 0;
    CU_ASSERT_EQUAL(hs_ch_peek(d, len + n2 + 2, &v), HS_CH_PEEK_OK);
    CU_ASSERT_EQUAL(v.rec_len, len);

    CU_ASSERT_EQUAL(hs_ch_peek(NULL, 10, &v), HS_CH_PEEK_ERR_RECORD);
    CU_ASSERT_EQUAL(hs_ch_peek(d, len, NULL), HS_CH_PEEK_ERR_RECORD);
    CU_ASSERT_STRING_EQUAL(hs_ch_peek_err_str(HS_CH_PEEK_OK), "ok");
    CU_ASSERT_STRING_EQUAL(hs_ch_peek_err_str(HS_CH_PEEK_ERR_BAD_SESSION_ID),
                           "session_id longer than 32 bytes");
    CU_ASSERT_STRING_EQUAL(hs_ch_peek_err_str(HS_CH_PEEK_ERR_N), "?");
    CU_ASSERT_STRING_EQUAL(hs_ch_peek_err_str(-1), "?");
}

static void test_peek_truncated(void)
{
    uint8_t body[256], d[DGRAM_MAX];
    struct hs_ch_view v;
    size_t blen = ch_body(body, 8, 32);
    size_t len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);

    /* The datagram cut at every byte: the record length no longer fits. */
    for (size_t k = 0; k < len; k++)
        CU_ASSERT_EQUAL(peek_exact(d, k, &v), HS_CH_PEEK_ERR_RECORD);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_OK);

    /* The body cut at every byte with every length field consistent (an
     * unfragmented message of k bytes): OK exactly when the fixed fields
     * (version, random, session_id, cookie) are all inside. */
    size_t fixed = 2 + DP_HELLO_RANDOM_LEN + 1 + 8 + 1 + 32;
    for (size_t k = 0; k <= blen; k++) {
        size_t n = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)k, 0, (uint32_t)k, 0);
        int rc = peek_exact(d, n, &v);
        if (k >= fixed) {
            CU_ASSERT_EQUAL(rc, HS_CH_PEEK_OK);
        } else {
            CU_ASSERT_EQUAL(rc, HS_CH_PEEK_ERR_TRUNCATED_BODY);
        }
    }
    /* The record cut inside the handshake header (record length fixed up). */
    for (size_t k = 1; k < DP_HS_HDR_LEN; k++) {
        ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
        dp_store_be16(d + DP_REC_OFF_LENGTH, (uint16_t)k);
        CU_ASSERT_EQUAL(peek_exact(d, DP_REC_HDR_LEN + k, &v), HS_CH_PEEK_ERR_TRUNCATED_HEADER);
    }
}

static void test_peek_lying_lengths(void)
{
    uint8_t body[256], d[DGRAM_MAX];
    struct hs_ch_view v;
    size_t blen = ch_body(body, 4, 16);
    size_t len;
    uint8_t *h = d + DP_REC_HDR_LEN;

    /* fragment_length longer than the record holds. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    put24(h + DP_HS_OFF_FRAGMENT_LEN, (uint32_t)blen + 1);
    put24(h + DP_HS_OFF_LENGTH, (uint32_t)blen + 1);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_TRUNCATED_FRAGMENT);
    /* fragment_length longer than the message length. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    put24(h + DP_HS_OFF_LENGTH, (uint32_t)blen - 1);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_BAD_FRAGMENT);
    /* fragment_offset + fragment_length past the length; a huge offset
     * that would wrap an addition. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, 40, 0);
    put24(h + DP_HS_OFF_FRAGMENT_OFF, (uint32_t)blen - 39);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_BAD_FRAGMENT);
    put24(h + DP_HS_OFF_FRAGMENT_OFF, 0xffffff);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_BAD_FRAGMENT);
    /* A message length over the engine's cap. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, HS_MSG_MAX_BYTES + 1, 0, (uint32_t)blen, 0);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_TOO_LONG);
    /* session_id length 33, and session_id / cookie lengths past the end. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    h[DP_HS_HDR_LEN + DP_CH_OFF_SESSION_ID] = DP_HELLO_SESSION_ID_MAX + 1;
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_BAD_SESSION_ID);
    h[DP_HS_HDR_LEN + DP_CH_OFF_SESSION_ID] = DP_HELLO_SESSION_ID_MAX;
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, 40, 0, 40, 0);
    h[DP_HS_HDR_LEN + DP_CH_OFF_SESSION_ID] = 32; /* 35 + 32 > 40 */
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_TRUNCATED_BODY);
    size_t cookie_at = DP_CH_OFF_SESSION_ID + 1 + 4;
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    h[DP_HS_HDR_LEN + cookie_at] = 0xff; /* cookie of 255 bytes in a short body */
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_TRUNCATED_BODY);
    /* Not a ClientHello, not a handshake record, not epoch 0. */
    len = ch_dgram(d, DP_HS_CLIENT_KEY_EXCHANGE, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_NOT_CLIENT_HELLO);
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    d[DP_REC_OFF_TYPE] = DP_CT_ALERT;
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_NOT_HANDSHAKE);
    d[DP_REC_OFF_TYPE] = DP_CT_HANDSHAKE;
    dp_store_be16(d + DP_REC_OFF_EPOCH, 1);
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_NOT_HANDSHAKE);
    /* A record length that lies is the record parser's. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    dp_store_be16(d + DP_REC_OFF_LENGTH, (uint16_t)(len - DP_REC_HDR_LEN + 1));
    CU_ASSERT_EQUAL(peek_exact(d, len, &v), HS_CH_PEEK_ERR_RECORD);
}

static void test_peek_fragment(void)
{
    uint8_t body[256], d[DGRAM_MAX];
    struct hs_ch_view v;
    size_t blen = ch_body(body, 4, 16);
    size_t len;

    /* A first fragment that holds everything up to the cookie. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, 60, 3);
    CU_ASSERT_EQUAL_FATAL(peek_exact(d, len, &v), HS_CH_PEEK_OK);
    CU_ASSERT_TRUE(v.fragmented);
    CU_ASSERT_EQUAL(v.frag_off, 0);
    CU_ASSERT_EQUAL(v.frag_len, 60);
    CU_ASSERT_EQUAL(v.msg_len, blen);
    CU_ASSERT_TRUE(v.has_random);
    CU_ASSERT_TRUE(v.has_ids);
    CU_ASSERT_EQUAL(v.cookie_len, 16);
    /* A first fragment that ends inside the session_id: the random only. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, 36, 3);
    CU_ASSERT_EQUAL_FATAL(peek_exact(d, len, &v), HS_CH_PEEK_OK);
    CU_ASSERT_TRUE(v.has_random);
    CU_ASSERT_FALSE(v.has_ids);
    /* Ending inside the random: neither (the gateway must not read it). */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, 20, 3);
    CU_ASSERT_EQUAL_FATAL(peek_exact(d, len, &v), HS_CH_PEEK_OK);
    CU_ASSERT_FALSE(v.has_random);
    CU_ASSERT_FALSE(v.has_ids);
    CU_ASSERT_PTR_NULL(v.random);
    /* A later fragment: its bytes are not another random. */
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 20, (uint32_t)blen - 20, 4);
    CU_ASSERT_EQUAL_FATAL(hs_ch_peek(d, len, &v), HS_CH_PEEK_OK);
    CU_ASSERT_TRUE(v.fragmented);
    CU_ASSERT_EQUAL(v.frag_off, 20);
    CU_ASSERT_EQUAL(v.frag_len, blen - 20);
    CU_ASSERT_FALSE(v.has_random);
    CU_ASSERT_PTR_EQUAL(v.frag, d + DP_REC_HDR_LEN + DP_HS_HDR_LEN);
    /* hs_ch_frag_next and hs_ch_is_fragmented agree with the view. */
    CU_ASSERT_TRUE(hs_ch_is_fragmented(d, len));
    const uint8_t *b = d;
    size_t left = len;
    struct hs_ch_frag f;
    CU_ASSERT_EQUAL(hs_ch_frag_next(&b, &left, &f), 1);
    CU_ASSERT_EQUAL(f.frag_off, v.frag_off);
    CU_ASSERT_EQUAL(f.frag_len, v.frag_len);
    CU_ASSERT_EQUAL(f.msg_len, v.msg_len);
    CU_ASSERT_EQUAL(f.rec_seq, 4);
    CU_ASSERT_PTR_EQUAL(f.body, v.frag);
    CU_ASSERT_EQUAL(left, 0);
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 0);
    CU_ASSERT_FALSE(hs_ch_is_fragmented(d, len));
}

/* ---- session alerts ------------------------------------------------------ */

struct alert_fixture {
    struct cr_aead_ctx *aead;
    struct cr_aead_key key; /* 64-byte aligned (the type's attribute) */
    enum cr_aead_alg alg;
    struct dp_replay *win;
};

static int alert_fixture_init(struct alert_fixture *fx, enum cr_aead_alg alg)
{
    static const uint8_t secret[CR_AEAD_KEY_MAX_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const uint8_t iv[CR_AEAD_FIXED_IV_MAX_LEN] = {0xa, 0xb, 0xc, 0xd};
    memset(fx, 0, sizeof(*fx));
    fx->alg = alg;
    fx->aead = cr_aead_ctx_new();
    if (!fx->aead)
        return -1;
    if (cr_aead_key_init(&fx->key, fx->aead, alg, secret, cr_aead_key_len(alg), iv,
                         cr_aead_fixed_iv_len(alg)) != 0)
        return -1;
    fx->win = calloc(1, dp_replay_size(64));
    if (!fx->win || dp_replay_init(fx->win, 64) != 0)
        return -1;
    return 0;
}

static void alert_fixture_free(struct alert_fixture *fx)
{
    cr_aead_key_wipe(&fx->key);
    cr_aead_ctx_free(fx->aead);
    free(fx->win);
}

/* A protected record (type, epoch, seq) of pt_len plaintext bytes, as a
 * client would send it; parsed into *rec.  Returns 0. */
static int seal(struct alert_fixture *fx, uint8_t *buf, uint8_t type, uint16_t epoch, uint64_t seq,
                const uint8_t *pt, size_t pt_len, struct dp_record *rec)
{
    uint8_t nonce[CR_AEAD_EXPLICIT_NONCE_LEN];
    size_t nlen = cr_aead_explicit_nonce_len(fx->alg), tlen = cr_aead_tag_len(fx->alg);
    struct cr_aead_op op;

    dp_record_write_hdr(buf, type, DP_VERSION_DTLS12, epoch, seq, NULL, 0,
                        (uint16_t)(nlen + pt_len + tlen));
    cr_aead_explicit_nonce(nonce, epoch, seq);
    memcpy(buf + DP_REC_HDR_LEN, nonce, nlen);
    memset(&op, 0, sizeof(op));
    op.key = &fx->key;
    op.in = pt;
    op.out = buf + DP_REC_HDR_LEN + nlen;
    op.tag = buf + DP_REC_HDR_LEN + nlen + pt_len;
    op.len = (uint32_t)pt_len;
    op.epoch = epoch;
    op.version = DP_VERSION_DTLS12;
    op.seq = seq;
    op.explicit_nonce = nonce;
    op.type = type;
    if (cr_aead_seal_batch(fx->aead, &op, 1) != 1)
        return -1;
    const uint8_t *p = buf;
    size_t left = DP_REC_HDR_LEN + nlen + pt_len + tlen;
    return dp_record_next(&p, &left, 0, rec) == DP_RECORD_OK && left == 0 ? 0 : -1;
}

static void alert_cases(enum cr_aead_alg alg)
{
    struct alert_fixture fx;
    struct dp_record rec;
    struct hs_alert a;
    uint8_t buf[128];
    const uint8_t close_notify[2] = {DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY};
    const uint8_t fatal[2] = {DP_ALERT_LEVEL_FATAL, DP_ALERT_HANDSHAKE_FAILURE};
    const uint8_t three[3] = {DP_ALERT_LEVEL_FATAL, DP_ALERT_DECODE_ERROR, 0};

    CU_ASSERT_EQUAL_FATAL(alert_fixture_init(&fx, alg), 0);
    /* Valid. */
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 1, 5, close_notify, 2, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_OK);
    CU_ASSERT_EQUAL(a.level, DP_ALERT_LEVEL_WARNING);
    CU_ASSERT_EQUAL(a.description, DP_ALERT_CLOSE_NOTIFY);
    /* Replayed: the window took seq 5. */
    memset(&a, 0xee, sizeof(a));
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_REPLAY);
    CU_ASSERT_EQUAL(a.level, 0xee); /* untouched */
    /* Bad tag (and a flipped ciphertext byte): not authenticated, and the
     * window is not marked, so the genuine record with that seq passes. */
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 1, 6, fatal, 2, &rec), 0);
    buf[DP_REC_HDR_LEN + rec.length - 1] ^= 0x01;
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_AUTH);
    buf[DP_REC_HDR_LEN + rec.length - 1] ^= 0x01;
    buf[DP_REC_HDR_LEN + cr_aead_explicit_nonce_len(alg)] ^= 0x80;
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_AUTH);
    CU_ASSERT_EQUAL(dp_replay_check(fx.win, 6), DP_REPLAY_OK);
    buf[DP_REC_HDR_LEN + cr_aead_explicit_nonce_len(alg)] ^= 0x80;
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_OK);
    CU_ASSERT_EQUAL(a.level, DP_ALERT_LEVEL_FATAL);
    CU_ASSERT_EQUAL(a.description, DP_ALERT_HANDSHAKE_FAILURE);
    /* Wrong length: 3 bytes, 1 byte, and a record too short for the tag. */
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 1, 7, three, 3, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_LENGTH);
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 1, 7, three, 1, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_LENGTH);
    rec.length = 4;
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_LENGTH);
    CU_ASSERT_EQUAL(dp_replay_check(fx.win, 7), DP_REPLAY_OK);
    /* Wrong epoch: sealed for epoch 2 (or 0) while the session reads 1. */
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 2, 8, close_notify, 2, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_EPOCH);
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 0, 8, close_notify, 2, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_EPOCH);
    /* Not an alert. */
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_APPLICATION_DATA, 1, 9, close_notify, 2, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_NOT_ALERT);
    /* Left of the window. */
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 1, 1000, close_notify, 2, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_OK);
    CU_ASSERT_EQUAL_FATAL(seal(&fx, buf, DP_CT_ALERT, 1, 10, close_notify, 2, &rec), 0);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_REPLAY);
    /* Missing arguments. */
    CU_ASSERT_EQUAL(hs_session_alert_open(NULL, &fx.key, 1, &rec, fx.win, &a),
                    HS_SESSION_ALERT_ERR_INVAL);
    CU_ASSERT_EQUAL(hs_session_alert_open(fx.aead, &fx.key, 1, &rec, NULL, &a),
                    HS_SESSION_ALERT_ERR_INVAL);
    alert_fixture_free(&fx);
}

static void test_alert_gcm(void)
{
    alert_cases(CR_AEAD_AES128_GCM);
}

static void test_alert_ccm8_chacha(void)
{
    alert_cases(CR_AEAD_AES128_CCM8);
    alert_cases(CR_AEAD_CHACHA20_POLY1305); /* no explicit nonce */
    CU_ASSERT_STRING_EQUAL(hs_session_alert_err_str(HS_SESSION_ALERT_ERR_REPLAY),
                           "sequence number replayed, left of the window or out of range");
    CU_ASSERT_STRING_EQUAL(hs_session_alert_err_str(HS_SESSION_ALERT_ERR_N), "?");
}

/* ---- the transition table's drops ---------------------------------------- */

static const uint8_t psk_id[] = "client1";
static const uint8_t psk_key[16] = {0x11, 0x22, 0x33};

struct engine_fixture {
    struct hs_creds *creds;
    struct hs_ctx *ctx;
    struct hs *hs;
    uint64_t drops[HS_DROP_N]; /* expected dropped_by_reason */
    uint64_t total;
};

static int engine_fixture_init(struct engine_fixture *e)
{
    struct hs_params p;
    struct hs_peer peer = {{192, 0, 2, 1}, 40000, 4};
    memset(e, 0, sizeof(*e));
    hs_params_default(&p);
    p.cookie_required = false; /* the ClientHello comes straight in */
    e->creds = hs_creds_new();
    if (!e->creds ||
        hs_creds_add_psk(e->creds, (const char *)psk_id, psk_key, sizeof(psk_key)) != 0)
        return -1;
    e->ctx = hs_ctx_new(&p, e->creds);
    if (!e->ctx)
        return -1;
    e->hs = hs_new(e->ctx, &peer, 1000);
    return e->hs ? 0 : -1;
}

static void engine_fixture_free(struct engine_fixture *e)
{
    hs_free(e->hs);
    hs_ctx_free(e->ctx);
    hs_creds_free(e->creds);
}

/* Feeds d and checks that exactly one record was dropped, for why. */
static void expect_drop(struct engine_fixture *e, const uint8_t *d, size_t len,
                        enum hs_drop_reason why)
{
    struct hs_out out;
    CU_ASSERT_EQUAL(hs_input(e->hs, d, len, 1000, &out), 0);
    e->drops[why]++;
    e->total++;
    const struct hs_stats *st = hs_get_stats(e->hs);
    CU_ASSERT_EQUAL(st->dropped_records, e->total);
    uint64_t sum = 0;
    for (unsigned r = 0; r < HS_DROP_N; r++) {
        CU_ASSERT_EQUAL(st->dropped_by_reason[r], e->drops[r]);
        sum += st->dropped_by_reason[r];
    }
    CU_ASSERT_EQUAL(sum, st->dropped_records);
}

static size_t plain_record(uint8_t *d, uint8_t type, uint16_t epoch, uint64_t seq,
                           const uint8_t *body, size_t n)
{
    size_t h = dp_record_write_hdr(d, type, DP_VERSION_DTLS12, epoch, seq, NULL, 0, (uint16_t)n);
    memcpy(d + h, body, n);
    return h + n;
}

static void test_table_drops_by_reason(void)
{
    struct engine_fixture e;
    uint8_t d[DGRAM_MAX], body[256];
    const uint8_t ccs[1] = {DP_CCS_VALUE}, bad_ccs[1] = {2};
    const uint8_t alert3[3] = {DP_ALERT_LEVEL_WARNING, 0, 0};
    size_t len;

    CU_ASSERT_EQUAL_FATAL(engine_fixture_init(&e), 0);
    /* A ChangeCipherSpec before the ClientHello: the table has no
     * (ClientHello, CCS) entry, so it is dropped by that name and the
     * handshake still waits for the ClientHello. */
    len = plain_record(d, DP_CT_CHANGE_CIPHER_SPEC, 0, 0, ccs, 1);
    expect_drop(&e, d, len, HS_DROP_CCS_UNEXPECTED);
    CU_ASSERT_STRING_EQUAL(hs_state_name(e.hs), "ClientHello");
    len = plain_record(d, DP_CT_CHANGE_CIPHER_SPEC, 0, 1, bad_ccs, 1);
    expect_drop(&e, d, len, HS_DROP_CCS_MALFORMED);
    len = plain_record(d, DP_CT_ALERT, 0, 2, alert3, 3);
    expect_drop(&e, d, len, HS_DROP_ALERT_MALFORMED);
    len = plain_record(d, DP_CT_APPLICATION_DATA, 0, 3, alert3, 3);
    expect_drop(&e, d, len, HS_DROP_CONTENT_TYPE);
    len = plain_record(d, DP_CT_HANDSHAKE, 5, 4, alert3, 3);
    expect_drop(&e, d, len, HS_DROP_EPOCH_UNKNOWN);
    len = plain_record(d, DP_CT_HANDSHAKE, 1, 4, alert3, 3);
    expect_drop(&e, d, len, HS_DROP_EPOCH1_TOO_EARLY);
    /* A first handshake record that is not a ClientHello. */
    size_t blen = ch_body(body, 0, 0);
    len = ch_dgram(d, DP_HS_FINISHED, body, (uint32_t)blen, 0, (uint32_t)blen, 5);
    expect_drop(&e, d, len, HS_DROP_FIRST_NOT_CLIENT_HELLO);
    /* Framing the record parser refuses (the rest of the datagram). */
    d[0] = 99;
    expect_drop(&e, d, len, HS_DROP_RECORD_INVALID);
    CU_ASSERT_STRING_EQUAL(hs_state_name(e.hs), "ClientHello");

    /* The ClientHello (PSK suite): the table moves to ClientKeyExchange. */
    struct hs_out out;
    len = ch_dgram(d, DP_HS_CLIENT_HELLO, body, (uint32_t)blen, 0, (uint32_t)blen, 6);
    CU_ASSERT_EQUAL_FATAL(hs_input(e.hs, d, len, 1000, &out), 0);
    CU_ASSERT(out.n_dgrams >= 1);
    CU_ASSERT_STRING_EQUAL(hs_state_name(e.hs), "ClientKeyExchange");
    CU_ASSERT_EQUAL(hs_get_stats(e.hs)->dropped_records, e.total);
    /* A fragment that lies about its length is dropped by reassembly. */
    len = ch_dgram(d, DP_HS_CLIENT_KEY_EXCHANGE, body, 10, 0, 10, 7);
    put24(d + DP_REC_HDR_LEN + DP_HS_OFF_LENGTH, 5);
    expect_drop(&e, d, len, HS_DROP_FRAGMENT_MALFORMED);
    CU_ASSERT_STRING_EQUAL(hs_state_name(e.hs), "ClientKeyExchange");

    /* An out-of-order handshake message (Finished while ClientKeyExchange
     * is due) is not in the table: fatal unexpected_message. */
    len = ch_dgram(d, DP_HS_FINISHED, body, 12, 0, 12, 8);
    dp_store_be16(d + DP_REC_HDR_LEN + DP_HS_OFF_MESSAGE_SEQ, 2);
    CU_ASSERT(hs_input(e.hs, d, len, 1000, &out) < 0);
    CU_ASSERT_EQUAL(out.event, HS_EV_FAILED);
    CU_ASSERT_EQUAL(out.alert, DP_ALERT_UNEXPECTED_MESSAGE);
    CU_ASSERT_EQUAL(hs_fail_reason(e.hs), HS_FAIL_UNEXPECTED);
    CU_ASSERT_STRING_EQUAL(hs_state_name(e.hs), "ClientKeyExchange");
    CU_ASSERT_EQUAL(hs_get_stats(e.hs)->dropped_records, e.total);
    engine_fixture_free(&e);
}

static void test_drop_reason_names(void)
{
    for (unsigned r = 0; r < HS_DROP_N; r++) {
        CU_ASSERT_STRING_NOT_EQUAL(hs_drop_reason_str((enum hs_drop_reason)r), "?");
        CU_ASSERT_STRING_NOT_EQUAL(hs_drop_reason_name((enum hs_drop_reason)r), "?");
        for (unsigned q = 0; q < r; q++)
            CU_ASSERT_STRING_NOT_EQUAL(hs_drop_reason_name((enum hs_drop_reason)r),
                                       hs_drop_reason_name((enum hs_drop_reason)q));
    }
    CU_ASSERT_STRING_EQUAL(hs_drop_reason_name(HS_DROP_CCS_UNEXPECTED), "CCS_UNEXPECTED");
    CU_ASSERT_STRING_EQUAL(hs_drop_reason_str(HS_DROP_REPLAY),
                           "epoch-1 record replayed or left of the window");
    CU_ASSERT_STRING_EQUAL(hs_drop_reason_str(HS_DROP_N), "?");
    CU_ASSERT_STRING_EQUAL(hs_drop_reason_name(HS_DROP_N), "?");
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("hs_ch_peek", NULL, NULL);
    CU_add_test(s, "peek valid ClientHello", test_peek_valid);
    CU_add_test(s, "peek truncated at every byte", test_peek_truncated);
    CU_add_test(s, "peek lying length fields", test_peek_lying_lengths);
    CU_add_test(s, "peek fragments", test_peek_fragment);
    s = CU_add_suite("hs_session_alert_open", NULL, NULL);
    CU_add_test(s, "alert AES-128-GCM", test_alert_gcm);
    CU_add_test(s, "alert CCM-8 and ChaCha20", test_alert_ccm8_chacha);
    s = CU_add_suite("hs drops", NULL, NULL);
    CU_add_test(s, "table drops by reason", test_table_drops_by_reason);
    CU_add_test(s, "drop reason names", test_drop_reason_names);
}
