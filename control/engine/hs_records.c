/* hs_records.c — epoch-1 record protection of the handshake engine
 * (RFC 6347 §4.1, RFC 5246 §6.2.3.3): sealing and opening records with the
 * handshake's keys, the alert records we send and the alerts we receive,
 * epoch-1 records that arrive before the client's ChangeCipherSpec, and
 * the engine's records after ESTABLISHED (hs_close, hs_seal_app).
 *
 * Owns: the handshake's epoch-1 read replay window and early records.
 * Must not: alert on invalid records (they are dropped and counted,
 * RFC 6347 §4.1.2.7); use a write sequence number outside the ranges of
 * hs_engine.c's file comment.  Called only on the handshake's thread.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

size_t hs_aead_overhead(const struct hs *hs)
{
    return cr_aead_explicit_nonce_len(hs->suite->aead) + cr_aead_tag_len(hs->suite->aead);
}

/* Writes one protected record (RFC 6347 §4.1, RFC 5246 §6.2.3.3). */
int hs_seal_record(void *arg, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *pt,
                   size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct hs *hs = arg;
    uint8_t nonce[CR_AEAD_EXPLICIT_NONCE_LEN];
    struct cr_aead_op op;

    CR_ENSURE(hs->keys_ready && epoch == 1, CR_ERR_INVAL);
    size_t nlen = cr_aead_explicit_nonce_len(hs->suite->aead);
    size_t tlen = cr_aead_tag_len(hs->suite->aead);
    CR_ENSURE(pt_len <= DP_REC_PLAINTEXT_MAX_LEN, CR_ERR_INVAL);
    size_t body = nlen + pt_len + tlen;
    CR_ENSURE(out_cap >= DP_REC_HDR_LEN && body <= out_cap - DP_REC_HDR_LEN, CR_ERR_LIMIT);
    CR_ENSURE(dp_record_write_hdr(out, type, DP_VERSION_DTLS12, epoch, seq, NULL, 0,
                                  (uint16_t)body) == DP_REC_HDR_LEN,
              CR_ERR_LIMIT);
    cr_aead_explicit_nonce(nonce, epoch, seq);
    memcpy(out + DP_REC_HDR_LEN, nonce, nlen);
    memset(&op, 0, sizeof(op));
    op.key = &hs->wkey;
    op.in = pt;
    op.out = out + DP_REC_HDR_LEN + nlen;
    op.tag = out + DP_REC_HDR_LEN + nlen + pt_len;
    op.len = (uint32_t)pt_len;
    op.epoch = epoch;
    op.version = DP_VERSION_DTLS12;
    op.seq = seq;
    op.explicit_nonce = nonce;
    op.type = type;
    CR_ENSURE(cr_aead_seal_batch(hs->ctx->aead, &op, 1) == 1 && op.status == CR_OK, CR_ERR_CRYPTO);
    *out_len = DP_REC_HDR_LEN + body;
    return 0;
}

/* Opens a protected record with key (of algorithm alg) into pt
 * (rec->length bytes available).  Returns the plaintext length,
 * CR_ERR_DECODE for a record too short to hold the nonce and tag,
 * CR_ERR_AUTH when authentication fails (pt wiped). */
static int record_open(struct cr_aead_ctx *aead, const struct cr_aead_key *key,
                       enum cr_aead_alg alg, const struct dp_record *rec, uint8_t *pt)
{
    uint8_t tag[CR_AEAD_TAG_MAX_LEN];
    struct cr_aead_op op;

    size_t nlen = cr_aead_explicit_nonce_len(alg);
    size_t tlen = cr_aead_tag_len(alg);
    CR_ENSURE(rec->length >= nlen + tlen, CR_ERR_DECODE);
    size_t ct_len = rec->length - nlen - tlen;
    CR_ENSURE(ct_len <= DP_REC_PLAINTEXT_MAX_LEN, CR_ERR_DECODE);
    memcpy(tag, rec->fragment + nlen + ct_len, tlen);
    memset(&op, 0, sizeof(op));
    op.key = key;
    op.in = rec->fragment + nlen;
    op.out = pt;
    op.tag = tag;
    op.len = (uint32_t)ct_len;
    op.epoch = rec->epoch;
    op.version = rec->version;
    op.seq = rec->seq;
    op.explicit_nonce = nlen ? rec->fragment : NULL;
    op.type = rec->type;
    if (cr_aead_open_batch(aead, &op, 1) != 1 || op.status != CR_OK) {
        OPENSSL_cleanse(pt, ct_len);
        return CR_ERR_AUTH;
    }
    return (int)ct_len;
}

/* An epoch-1 record of this handshake (client_write key). */
static int open_record(struct hs *hs, const struct dp_record *rec, uint8_t *pt)
{
    return record_open(hs->ctx->aead, &hs->rkey, hs->suite->aead, rec, pt);
}

int hs_session_alert_open(struct cr_aead_ctx *aead, const struct cr_aead_key *rd_key,
                          uint16_t epoch, const struct dp_record *rec, struct dp_replay *win,
                          struct hs_alert *out)
{
    uint8_t pt[DP_ALERT_LEN];

    if (!aead || !rd_key || !rec || !win || !out || !rec->fragment || rd_key->alg >= CR_AEAD_N_ALGS)
        return HS_SESSION_ALERT_ERR_INVAL;
    if (rec->type != DP_CT_ALERT)
        return HS_SESSION_ALERT_ERR_NOT_ALERT;
    if (rec->epoch != epoch)
        return HS_SESSION_ALERT_ERR_EPOCH;
    /* RFC 6347 §4.1.2.6: the window is checked before the record is
     * opened and marked only after it authenticated. */
    if (dp_replay_check(win, rec->seq) != DP_REPLAY_OK)
        return HS_SESSION_ALERT_ERR_REPLAY;
    /* RFC 5246 §7.2: an alert is exactly level and description. */
    enum cr_aead_alg alg = (enum cr_aead_alg)rd_key->alg;
    size_t overhead = cr_aead_explicit_nonce_len(alg) + cr_aead_tag_len(alg);
    if (rec->length < overhead || rec->length - overhead != DP_ALERT_LEN)
        return HS_SESSION_ALERT_ERR_LENGTH;
    if (record_open(aead, rd_key, alg, rec, pt) != DP_ALERT_LEN)
        return HS_SESSION_ALERT_ERR_AUTH;
    dp_replay_update(win, rec->seq);
    out->level = pt[0];
    out->description = pt[1];
    OPENSSL_cleanse(pt, sizeof(pt));
    return HS_SESSION_ALERT_OK;
}

/* An alert record into the next alert slot: plaintext before our CCS,
 * protected after (RFC 5246 §7.2). */
int hs_queue_alert(struct hs *hs, struct hs_out *out, uint8_t level, uint8_t desc)
{
    const uint8_t body[DP_ALERT_LEN] = {level, desc};
    size_t len = 0;

    CR_ENSURE(hs->n_alerts < HS_ALERT_SLOTS && out->n_dgrams < HS_OUT_MAX_DGRAMS, CR_ERR_LIMIT);
    uint8_t *buf = hs->alert_buf[hs->n_alerts];
    if (hs->write_epoch1) {
        bool after = hs->state == ST_ESTABLISHED || hs->state == ST_CLOSED;
        uint64_t *seq = after ? &hs->app_wseq : &hs->wseq[1];
        if (after && *seq >= hs->app_wseq_end) {
            /* The rest of the epoch's numbers belong to the dataplane: the
             * alert is not sent (the session still ends when it is fatal). */
            hs->stats.wseq_exhausted++;
            return 0;
        }
        CR_ENSURE(*seq <= DP_REC_SEQ_MAX, CR_ERR_LIMIT);
        CR_GUARD(hs_seal_record(hs, DP_CT_ALERT, 1, *seq, body, sizeof(body), buf,
                                HS_ALERT_RECORD_MAX_LEN, &len));
        (*seq)++;
    } else {
        CR_ENSURE(hs->wseq[0] <= DP_REC_SEQ_MAX, CR_ERR_LIMIT);
        dp_record_write_hdr(buf, DP_CT_ALERT, DP_VERSION_DTLS12, 0, hs->wseq[0], NULL, 0,
                            sizeof(body));
        memcpy(buf + DP_REC_HDR_LEN, body, sizeof(body));
        len = DP_REC_HDR_LEN + sizeof(body);
        hs->wseq[0]++;
    }
    hs->n_alerts++;
    out->dgrams[out->n_dgrams].data = buf;
    out->dgrams[out->n_dgrams].len = len;
    out->n_dgrams++;
    return 0;
}

/* ---- records ------------------------------------------------------------ */

int hs_activate_read_epoch1(struct hs *hs)
{
    size_t sz = dp_replay_size(HS_REPLAY_WIN_BITS);
    CR_ENSURE(hs->keys_ready, CR_ERR_INVAL);
    if (!hs->replay) {
        hs->replay = calloc(1, sz);
        CR_ENSURE(hs->replay, CR_ERR_NOMEM);
        CR_ENSURE(dp_replay_init(hs->replay, HS_REPLAY_WIN_BITS) == 0, CR_ERR_INVAL);
    }
    hs->read_epoch1 = true;
    return 0;
}

int hs_on_alert(struct hs *hs, const uint8_t *body, size_t len, struct hs_out *out)
{
    if (len != DP_ALERT_LEN) {
        hs_drop(hs, HS_DROP_ALERT_MALFORMED);
        return 0;
    }
    if (body[1] == DP_ALERT_CLOSE_NOTIFY) {
        /* RFC 5246 §7.2.1: respond with our own close_notify. */
        if (hs->state == ST_ESTABLISHED)
            (void)hs_queue_alert(hs, out, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY);
        hs_end(hs, ST_CLOSED);
        out->event = HS_EV_CLOSED;
        out->alert = DP_ALERT_CLOSE_NOTIFY;
        return 0;
    }
    if (body[0] == DP_ALERT_LEVEL_FATAL) {
        out->alert = body[1];
        return HS_ERR_PEER_ALERT;
    }
    return 0; /* other warnings are ignored */
}

static bool record_holds_client_hello(const uint8_t *body, size_t len)
{
    struct hs_cur c;
    struct hs_hdr h;
    hs_cur_init(&c, body, len);
    return hs_hdr_get(&c, &h) && h.type == DP_HS_CLIENT_HELLO;
}

int hs_handle_epoch1(struct hs *hs, const struct dp_record *rec, struct hs_out *out)
{
    if (!hs->read_epoch1) {
        /* Reordered: a Finished that overtook the CCS.  Keep a few whole
         * records until the CCS arrives (RFC 6347 §4.1: implementations
         * MAY buffer records of the next epoch). */
        if (hs->state == ST_WAIT_CH || hs->n_early >= HS_EARLY_EPOCH1_MAX_RECORDS) {
            hs_drop(hs, HS_DROP_EARLY_EPOCH1_FULL);
            return 0;
        }
        size_t n = DP_REC_HDR_LEN + rec->length;
        uint8_t *copy = malloc(n);
        CR_ENSURE(copy, CR_ERR_NOMEM);
        memcpy(copy, rec->hdr, n);
        hs->early[hs->n_early].data = copy;
        hs->early[hs->n_early].len = n;
        hs->n_early++;
        return 0;
    }
    /* RFC 6347 §4.1.2.6: replay check before, window update after the
     * record authenticated. */
    if (dp_replay_check(hs->replay, rec->seq) != DP_REPLAY_OK) {
        hs_drop(hs, HS_DROP_REPLAY);
        return 0;
    }
    CR_ENSURE(rec->length <= hs->app_cap - hs->app_used, CR_ERR_LIMIT);
    uint8_t *pt = hs->app_buf + hs->app_used;
    int n = open_record(hs, rec, pt);
    if (n == CR_ERR_AUTH) {
        /* RFC 6347 §4.1.2.7: invalid records are silently discarded; the
         * optional limit turns repeated failures into bad_record_mac. */
        hs->stats.bad_mac++;
        if (hs->ctx->p.bad_mac_limit && hs->stats.bad_mac > hs->ctx->p.bad_mac_limit)
            return HS_ERR_BAD_MAC;
        return 0;
    }
    if (n < 0) {
        hs_drop(hs, HS_DROP_RECORD_SHORT);
        return 0;
    }
    dp_replay_update(hs->replay, rec->seq);
    if (rec->seq > hs->client_read_top)
        hs->client_read_top = rec->seq;
    if (hs->state == ST_ESTABLISHED && rec->seq > hs->keys.client_read_seq_top)
        hs->keys.client_read_seq_top = rec->seq;

    switch (rec->type) {
    case DP_CT_HANDSHAKE:
        if (hs->state == ST_ESTABLISHED && record_holds_client_hello(pt, (size_t)n)) {
            /* RFC 5746 §4.4 / RFC 5246 §7.2.2: renegotiation is refused with a
             * no_renegotiation warning; the session goes on. */
            CR_GUARD(hs_queue_alert(hs, out, DP_ALERT_LEVEL_WARNING, DP_ALERT_NO_RENEGOTIATION));
            OPENSSL_cleanse(pt, (size_t)n);
            return 0;
        }
        hs_feed_handshake(hs, 1, pt, (size_t)n);
        OPENSSL_cleanse(pt, (size_t)n);
        return 0;
    case DP_CT_ALERT:
        return hs_on_alert(hs, pt, (size_t)n, out);
    case DP_CT_APPLICATION_DATA:
        if (hs->state != ST_ESTABLISHED) {
            hs_drop(hs, HS_DROP_APP_DATA_EARLY);
            return 0;
        }
        if (out->n_app >= HS_OUT_MAX_DGRAMS) {
            hs_drop(hs, HS_DROP_APP_DATA_FULL);
            return 0;
        }
        out->app[out->n_app].data = pt;
        out->app[out->n_app].len = (size_t)n;
        out->n_app++;
        hs->app_used += (size_t)n;
        return 0;
    default:
        hs_drop(hs, HS_DROP_CONTENT_TYPE);
        return 0;
    }
}

int hs_replay_early(struct hs *hs, struct hs_out *out, uint64_t now_ms)
{
    int rc = 0;

    for (unsigned i = 0; i < hs->n_early && rc == 0 && hs->state < ST_CLOSED; i++) {
        const uint8_t *p = hs->early[i].data;
        size_t left = hs->early[i].len;
        struct dp_record rec;
        if (dp_record_next(&p, &left, 0, &rec) == DP_RECORD_OK)
            rc = hs_handle_record(hs, &rec, out, now_ms);
    }
    for (unsigned i = 0; i < hs->n_early; i++) {
        OPENSSL_cleanse(hs->early[i].data, hs->early[i].len);
        free(hs->early[i].data);
        hs->early[i].data = NULL;
    }
    hs->n_early = 0;
    return rc;
}

int hs_close(struct hs *hs, struct hs_out *out)
{
    if (!hs || !out)
        return CR_ERR_INVAL;
    hs_out_reset(hs, out);
    CR_ENSURE(hs->state == ST_ESTABLISHED, CR_ERR_INVAL);
    CR_GUARD(hs_queue_alert(hs, out, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY));
    hs_end(hs, ST_CLOSED);
    out->event = HS_EV_CLOSED;
    out->alert = DP_ALERT_CLOSE_NOTIFY;
    out->next_timer_ms = 0;
    return 0;
}

int hs_seal_app(struct hs *hs, const uint8_t *data, size_t len, uint8_t *out_buf, size_t out_cap,
                size_t *out_len)
{
    CR_ENSURE(hs && out_buf && out_len && (data || len == 0), CR_ERR_INVAL);
    CR_ENSURE(hs->state == ST_ESTABLISHED, CR_ERR_INVAL);
    if (hs->app_wseq >= hs->app_wseq_end) {
        hs->stats.wseq_exhausted++;
        return CR_ERR_LIMIT;
    }
    CR_ENSURE(hs->app_wseq <= DP_REC_SEQ_MAX, CR_ERR_LIMIT);
    CR_GUARD(hs_seal_record(hs, DP_CT_APPLICATION_DATA, 1, hs->app_wseq, data, len, out_buf,
                            out_cap, out_len));
    hs->app_wseq++;
    return 0;
}

void hs_wipe_installed_keys(struct hs *hs)
{
    if (hs == NULL || hs->state < ST_ESTABLISHED)
        return; /* the master secret still verifies the client's Finished */
    OPENSSL_cleanse(hs->master, sizeof(hs->master));
    OPENSSL_cleanse(hs->keys.client_write_key, sizeof(hs->keys.client_write_key));
    OPENSSL_cleanse(hs->keys.server_write_key, sizeof(hs->keys.server_write_key));
    OPENSSL_cleanse(hs->keys.client_write_iv, sizeof(hs->keys.client_write_iv));
    OPENSSL_cleanse(hs->keys.server_write_iv, sizeof(hs->keys.server_write_iv));
}

int hs_own_write_seq(struct hs *hs)
{
    CR_ENSURE(hs && hs->state == ST_ESTABLISHED, CR_ERR_INVAL);
    hs->app_wseq_end = DP_REC_SEQ_MAX + 1;
    return 0;
}
