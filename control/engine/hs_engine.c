/* hs_engine.c — sans-IO DTLS 1.2 server handshake (RFC 6347 over RFC 5246).
 *
 * Owns: the per-handshake state machine (a table of legal transitions), the
 * parsing of the client's messages with the bounded cursor, building of the
 * server's flights, the key schedule (RFC 5246 §6.3/§8.1, RFC 7627), the
 * epoch-1 record protection used during and right after the handshake,
 * retransmission timing (RFC 6347 §4.2.4) and the error → alert mapping.
 * Must not: use libssl, sockets, DPDK or threads; trust a peer length before
 * checking it; alert on invalid records (they are dropped and counted,
 * RFC 6347 §4.1.2.7); keep secrets after hs_free (all are wiped).
 *
 * All calls for one hs_ctx and its handshakes come from one thread.
 *
 * Sequence numbers: epoch-0 writes continue from the client's ClientHello
 * record sequence number (as the HelloVerifyRequest echoed it).  Epoch-1
 * writes of the final flight start at 0.  At ESTABLISHED epoch 1's write
 * sequence is split into disjoint ranges, each with one owner (a repeated
 * number is a repeated AEAD nonce under one key):
 *   [0, wseq[1])                       the final flight as first sent;
 *   [wseq[1], + HS_FINAL_RESEND_MAX)   its resends (RFC 6347 §4.2.4);
 *   [app_wseq, app_wseq_end)           the engine's later records: alerts
 *                                      (no_renegotiation, the close_notify
 *                                      answer, the fatal alert after
 *                                      bad_mac_limit) and hs_seal_app, at
 *                                      most HS_ENGINE_WSEQ_RESERVE of them;
 *   [keys.server_write_seq_next, 2^48) the dataplane's (dp_session.wr_seq).
 * Past its range the engine sends nothing (stats.wseq_exhausted); a caller
 * with no dataplane takes over the rest with hs_own_write_seq().
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs.h"
#include "hs_cursor.h"
#include "hs_flight.h"
#include "hs_priv.h"
#include "hs_reasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cr_kdf.h"
#include "cr_pk.h"
#include "dp_record.h"
#include "dp_replay.h"
#include "dp_wire.h"

/* Wire constants: dp_wire.h (DP_HS_*, DP_EXT_*, DP_ALERT_*, DP_HELLO_*). */

/* ---- limits ------------------------------------------------------------- */
#define HS_MASTER_LEN           48
#define HS_VERIFY_DATA_LEN      12
#define HS_KEY_BLOCK_MAX_LEN    (2 * CR_AEAD_KEY_MAX_LEN + 2 * CR_AEAD_FIXED_IV_MAX_LEN)
#define HS_TRANSCRIPT_MAX_BYTES (HS_BUFFERED_MAX_BYTES + 64 * 1024)
/* The "other_secret" half of a PSK premaster (RFC 4279 §2, RFC 5489 §2) is
 * N zero bytes for plain PSK (N = the PSK's length) or the ECDHE secret Z:
 * the buffer holds the larger of the two. */
#define HS_PMS_OTHER_MAX_LEN                                                                       \
    (HS_PSK_MAX_KEY_LEN > CR_ECDHE_SECRET_MAX_LEN ? HS_PSK_MAX_KEY_LEN : CR_ECDHE_SECRET_MAX_LEN)
#define HS_PREMASTER_MAX_LEN (2 + HS_PMS_OTHER_MAX_LEN + 2 + HS_PSK_MAX_KEY_LEN)
_Static_assert(HS_PREMASTER_MAX_LEN >= 4 + 2 * HS_PSK_MAX_KEY_LEN, "plain PSK premaster fits");
_Static_assert(HS_PREMASTER_MAX_LEN >= 4 + CR_ECDHE_SECRET_MAX_LEN + HS_PSK_MAX_KEY_LEN,
               "ECDHE-PSK premaster fits");
#define HS_EARLY_EPOCH1_MAX_RECORDS 4  /* epoch-1 records held until CCS */
#define HS_FINAL_RESEND_MAX         16 /* final-flight resends (1 epoch-1 rec each) */
/* Peer-triggered resends (the peer repeated its flight): at most one per
 * gap, the gap doubling with each one (up to retrans_max_ms), back to the
 * initial gap when a new flight is built. */
#define HS_PEER_RESEND_GAP_MS   100
#define HS_CH_MAX_EXTENSIONS    64
#define HS_SIG_ALGS_MAX         64
#define HS_ALERT_SLOTS          4
#define HS_ALERT_RECORD_MAX_LEN 64
#define HS_REPLAY_WIN_BITS      64
#define HS_DGRAM_OVERHEAD_BYTES 64 /* per-datagram slack when sizing buffers */

/* ---- errors: engine failures and the one error → alert mapping ---------- */
/* Engine-internal failure codes (below the cr_err range) name the alert the
 * RFC asks for; HS_FAILURES maps each to its alert and to the public
 * CR_ERR_* that hs_input() returns. */
#define HS_FAILURES(X)                                                                             \
    X(HS_ERR_UNEXPECTED, -100, DP_ALERT_UNEXPECTED_MESSAGE, CR_ERR_DECODE)                         \
    X(HS_ERR_UNKNOWN_PSK, -101, DP_ALERT_UNKNOWN_PSK_IDENTITY, CR_ERR_AUTH)                        \
    X(HS_ERR_PROTOCOL_VERSION, -102, DP_ALERT_PROTOCOL_VERSION, CR_ERR_UNSUPPORTED)                \
    X(HS_ERR_ILLEGAL, -103, DP_ALERT_ILLEGAL_PARAMETER, CR_ERR_DECODE)                             \
    X(HS_ERR_INSUFFICIENT, -104, DP_ALERT_INSUFFICIENT_SECURITY, CR_ERR_UNSUPPORTED)               \
    X(HS_ERR_HANDSHAKE, -105, DP_ALERT_HANDSHAKE_FAILURE, CR_ERR_UNSUPPORTED)                      \
    X(HS_ERR_BAD_CERT, -106, DP_ALERT_BAD_CERTIFICATE, CR_ERR_VERIFY)                              \
    X(HS_ERR_BAD_MAC, -107, DP_ALERT_BAD_RECORD_MAC, CR_ERR_AUTH)                                  \
    X(HS_ERR_DECRYPT, -108, DP_ALERT_DECRYPT_ERROR, CR_ERR_AUTH)                                   \
    X(HS_ERR_PEER_ALERT, -109, -1, CR_ERR_VERIFY)

enum hs_failure {
#define X(name, code, alert, pub) name = code,
    HS_FAILURES(X)
#undef X
};

/* The single place where an error becomes an alert description. */
static int alert_for_error(int err)
{
    switch (err) {
#define X(name, code, alert, pub)                                                                  \
    case name:                                                                                     \
        return alert;
        HS_FAILURES(X)
#undef X
    case CR_ERR_DECODE:
        return DP_ALERT_DECODE_ERROR;
    case CR_ERR_AUTH:
        return DP_ALERT_DECRYPT_ERROR;
    case CR_ERR_VERIFY:
        return DP_ALERT_BAD_CERTIFICATE;
    case CR_ERR_UNSUPPORTED:
        return DP_ALERT_HANDSHAKE_FAILURE;
    default:
        return DP_ALERT_INTERNAL_ERROR;
    }
}

static int public_error(int err)
{
    switch (err) {
#define X(name, code, alert, pub)                                                                  \
    case name:                                                                                     \
        return pub;
        HS_FAILURES(X)
#undef X
    default:
        return err;
    }
}

/* ---- state -------------------------------------------------------------- */
enum hs_state {
    ST_WAIT_CH,          /* ClientHello (with valid cookie) */
    ST_WAIT_CLIENT_CERT, /* client Certificate (we sent CertificateRequest) */
    ST_WAIT_CKE,         /* ClientKeyExchange */
    ST_WAIT_CERT_VERIFY, /* CertificateVerify (client sent a certificate) */
    ST_WAIT_CCS,         /* ChangeCipherSpec record */
    ST_WAIT_FINISHED,    /* client Finished (epoch 1) */
    ST_ESTABLISHED,
    ST_CLOSED,
    ST_FAILED,
};

struct early_rec {
    uint8_t *data; /* one whole epoch-1 record (header + body) */
    size_t len;
};

struct hs {
    /* Record keys first: they need 64-byte alignment (cr_aead_key). */
    struct cr_aead_key rkey; /* client_write: opens client records */
    struct cr_aead_key wkey; /* server_write: seals our records */

    struct hs_ctx *ctx;
    struct hs_peer peer;
    enum hs_state state;
    enum hs_state ended_in; /* the state a failure or timeout ended */
    enum hs_fail_reason fail_reason;
    /* what the ClientHello offered (hs_offer_facts) */
    uint16_t offer_version;
    uint16_t offer_suites[4];
    unsigned n_offer_suites;
    bool offer_ems, offer_groups, offer_x25519, offer_p256, offer_p384, offer_sig_algs;
    const struct hs_suite_info *suite;
    /* the server certificate of a certificate suite, chosen with it
     * (choose_cert); NULL for PSK suites.  Points into ctx->creds. */
    const struct hs_cert_slot *cert;

    struct hs_reasm reasm;
    struct hs_flight flight;
    bool flight_final; /* the stored flight ends the handshake */
    bool have_flight;
    uint64_t wseq[2];      /* next write seq per epoch */
    uint64_t app_wseq;     /* epoch-1 writes after ESTABLISHED: next... */
    uint64_t app_wseq_end; /* ...and the first number not the engine's */
    uint16_t next_msg_seq; /* server message_seq */
    bool first_record_seen;

    uint8_t client_random[DP_HELLO_RANDOM_LEN];
    uint8_t server_random[DP_HELLO_RANDOM_LEN];
    bool ems;
    bool secure_reneg;
    uint16_t group;
    uint16_t sig_scheme;
    EVP_PKEY *ecdhe;
    uint8_t ecdhe_pub[CR_ECDHE_PUB_MAX_LEN];
    size_t ecdhe_pub_len;
    uint8_t master[HS_MASTER_LEN];
    /* Transcript (RFC 5246 §7.4.9 handshake_messages): a running hash in
     * the suite's PRF hash, snapshotted for the EMS session hash and both
     * Finished; the bytes themselves are kept only when a client
     * CertificateVerify may need to be checked over them. */
    EVP_MD_CTX *th;
    size_t transcript_bytes;  /* hashed so far, capped */
    bool keep_transcript;     /* transcript below is filled */
    struct hs_buf transcript; /* full handshake messages, DTLS form */

    bool cert_requested;
    bool client_cert;
    EVP_PKEY *client_pub;

    bool keys_ready;   /* rkey/wkey set (after CKE) */
    bool read_epoch1;  /* client's CCS processed */
    bool write_epoch1; /* our CCS sent */
    bool ccs_early;    /* CCS arrived before CKE was complete */
    struct early_rec early[HS_EARLY_EPOCH1_MAX_RECORDS];
    unsigned n_early;
    struct dp_replay *replay; /* epoch-1 read window */
    uint64_t client_read_top;
    unsigned final_resends;
    bool resent;             /* last_resend_ms is valid (this flight) */
    uint64_t last_resend_ms; /* timer- or peer-triggered */
    uint32_t peer_gap_ms;    /* HS_PEER_RESEND_GAP_MS, doubling */
    uint64_t deadline_ms;    /* hs_new + handshake_deadline_ms */

    uint64_t timer_deadline_ms; /* 0: no timer */
    uint32_t cur_timeout_ms;
    bool resend_requested; /* during one hs_input */
    bool flight_emitted;   /* during one call */

    uint8_t *out_buf; /* datagrams of the last emission */
    size_t out_cap;
    uint8_t alert_buf[HS_ALERT_SLOTS][HS_ALERT_RECORD_MAX_LEN];
    unsigned n_alerts;
    uint8_t *app_buf; /* plaintext of decrypted records */
    size_t app_cap;
    size_t app_used;

    struct hs_keys keys;
    struct hs_stats stats;
};

/* ---- small helpers ------------------------------------------------------ */

/* When the caller must call hs_timeout next: the retransmission timer, or
 * the absolute handshake deadline when that comes first (never after
 * ESTABLISHED). */
static uint64_t next_timer(const struct hs *hs)
{
    if (hs->state >= ST_ESTABLISHED)
        return hs->timer_deadline_ms;
    if (hs->timer_deadline_ms == 0 || hs->deadline_ms < hs->timer_deadline_ms)
        return hs->deadline_ms;
    return hs->timer_deadline_ms;
}

/* A new flight was built: its resends start from the initial timer and
 * peer gap again. */
static void flight_started(struct hs *hs)
{
    hs->resent = false;
    hs->peer_gap_ms = HS_PEER_RESEND_GAP_MS;
}

static void out_reset(struct hs *hs, struct hs_out *out)
{
    out->n_dgrams = 0;
    out->n_app = 0;
    out->event = HS_EV_NONE;
    out->alert = -1;
    out->next_timer_ms = next_timer(hs);
    hs->n_alerts = 0;
    hs->app_used = 0;
    hs->flight_emitted = false;
    hs->resend_requested = false;
}

static size_t aead_overhead(const struct hs *hs)
{
    return cr_aead_explicit_nonce_len(hs->suite->aead) + cr_aead_tag_len(hs->suite->aead);
}

/* Writes one protected record (RFC 6347 §4.1, RFC 5246 §6.2.3.3). */
static int seal_record(void *arg, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *pt,
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

/* Opens an epoch-1 record into pt (rec->length bytes available).  Returns
 * the plaintext length, CR_ERR_DECODE for a record too short to hold the
 * nonce and tag, CR_ERR_AUTH when authentication fails. */
static int open_record(struct hs *hs, const struct dp_record *rec, uint8_t *pt)
{
    uint8_t tag[CR_AEAD_TAG_MAX_LEN];
    struct cr_aead_op op;

    size_t nlen = cr_aead_explicit_nonce_len(hs->suite->aead);
    size_t tlen = cr_aead_tag_len(hs->suite->aead);
    CR_ENSURE(rec->length >= nlen + tlen, CR_ERR_DECODE);
    size_t ct_len = rec->length - nlen - tlen;
    CR_ENSURE(ct_len <= DP_REC_PLAINTEXT_MAX_LEN, CR_ERR_DECODE);
    memcpy(tag, rec->fragment + nlen + ct_len, tlen);
    memset(&op, 0, sizeof(op));
    op.key = &hs->rkey;
    op.in = rec->fragment + nlen;
    op.out = pt;
    op.tag = tag;
    op.len = (uint32_t)ct_len;
    op.epoch = rec->epoch;
    op.version = rec->version;
    op.seq = rec->seq;
    op.explicit_nonce = nlen ? rec->fragment : NULL;
    op.type = rec->type;
    if (cr_aead_open_batch(hs->ctx->aead, &op, 1) != 1 || op.status != CR_OK) {
        OPENSSL_cleanse(pt, ct_len);
        return CR_ERR_AUTH;
    }
    return (int)ct_len;
}

/* An alert record into the next alert slot: plaintext before our CCS,
 * protected after (RFC 5246 §7.2). */
static int queue_alert(struct hs *hs, struct hs_out *out, uint8_t level, uint8_t desc)
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
        CR_GUARD(seal_record(hs, DP_CT_ALERT, 1, *seq, body, sizeof(body), buf,
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

/* Fatal end: alert (unless the peer's alert ended it), state, event. */
/* The reason of a failure whose site did not name one. */
static enum hs_fail_reason reason_for_error(int err)
{
    switch (err) {
    case HS_ERR_UNKNOWN_PSK:
        return HS_FAIL_UNKNOWN_PSK;
    case HS_ERR_PROTOCOL_VERSION:
        return HS_FAIL_VERSION;
    case HS_ERR_BAD_CERT:
        return HS_FAIL_BAD_CLIENT_CERT;
    case HS_ERR_PEER_ALERT:
        return HS_FAIL_PEER_ALERT;
    case HS_ERR_UNEXPECTED:
        return HS_FAIL_UNEXPECTED;
    case HS_ERR_ILLEGAL:
        return HS_FAIL_ILLEGAL;
    case HS_ERR_INSUFFICIENT:
        return HS_FAIL_INSUFFICIENT;
    case HS_ERR_BAD_MAC:
        return HS_FAIL_BAD_MAC;
    case CR_ERR_DECODE:
        return HS_FAIL_DECODE;
    default:
        return HS_FAIL_INTERNAL;
    }
}

static int fail(struct hs *hs, struct hs_out *out, int err)
{
    int alert = alert_for_error(err);

    if (hs->state == ST_FAILED)
        return public_error(err);
    if (alert >= 0) {
        /* Anything queued for this call is moot; the alert goes alone. */
        out->n_dgrams = 0;
        hs->n_alerts = 0;
        (void)queue_alert(hs, out, DP_ALERT_LEVEL_FATAL, (uint8_t)alert);
    }
    out->n_app = 0;
    out->event = HS_EV_FAILED;
    if (alert >= 0)
        out->alert = alert;
    out->next_timer_ms = 0;
    hs->timer_deadline_ms = 0;
    hs->ended_in = hs->state;
    if (hs->fail_reason == HS_FAIL_NONE)
        hs->fail_reason = reason_for_error(err);
    hs->state = ST_FAILED;
    return public_error(err);
}

/* ---- flights ------------------------------------------------------------ */

static int emit_flight(struct hs *hs, struct hs_out *out)
{
    struct hs_record_sealer sealer = {seal_record, 0, hs};
    size_t mtu = hs->ctx->p.mtu_bytes;
    size_t total = 0;
    unsigned n = 0;
    int rc;

    CR_ENSURE(hs->have_flight && !hs->flight_emitted, CR_ERR_INVAL);
    if (hs->keys_ready)
        sealer.overhead = aead_overhead(hs);
    for (unsigned i = 0; i < hs->flight.n_items; i++)
        total += hs->flight.items[i].len + DP_HS_HDR_LEN + DP_REC_HDR_LEN;
    /* Fragments of at least (mtu - per-record overhead) bytes each. */
    size_t per_dgram =
        mtu > 2 * HS_DGRAM_OVERHEAD_BYTES ? mtu - 2 * HS_DGRAM_OVERHEAD_BYTES : mtu / 2;
    size_t est =
        total + (total / per_dgram + hs->flight.n_items + 2) * (HS_DGRAM_OVERHEAD_BYTES + mtu / 4);
    if (est > hs->out_cap) {
        uint8_t *nb = malloc(est);
        CR_ENSURE(nb, CR_ERR_NOMEM);
        free(hs->out_buf);
        hs->out_buf = nb;
        hs->out_cap = est;
    }
    CR_ENSURE(out->n_dgrams <= HS_OUT_MAX_DGRAMS, CR_ERR_INVAL);
    rc = hs_flight_emit(&hs->flight, mtu, &sealer, hs->wseq, hs->out_buf, hs->out_cap,
                        out->dgrams + out->n_dgrams, HS_OUT_MAX_DGRAMS - out->n_dgrams, &n);
    CR_GUARD(rc);
    out->n_dgrams += n;
    hs->flight_emitted = true;
    hs->stats.flights_sent++;
    return 0;
}

/* Stored flight sent again (timer, or the peer repeated its flight). */
static int resend_flight(struct hs *hs, struct hs_out *out, uint64_t now_ms, bool by_peer)
{
    if (!hs->have_flight || hs->flight_emitted)
        return 0;
    if (by_peer) {
        /* RFC 6347 §4.2.4 has the server resend when the peer repeats its
         * flight.  A repeated flight arrives as several datagrams (CKE,
         * CCS, Finished...): answer the first, not each one; and a peer
         * repeating itself as fast as it can gets resends at a doubling gap
         * (a bounded number until the deadline), never one per datagram.
         * The retransmission timer is left as it is: retransmitting does
         * not postpone our timeout. */
        if (hs->resent && now_ms - hs->last_resend_ms < hs->peer_gap_ms) {
            hs->stats.peer_resends_limited++;
            return 0;
        }
        uint64_t gap = (uint64_t)hs->peer_gap_ms * 2;
        hs->peer_gap_ms =
            gap > hs->ctx->p.retrans_max_ms ? hs->ctx->p.retrans_max_ms : (uint32_t)gap;
    }
    hs->resent = true;
    hs->last_resend_ms = now_ms;
    if (hs->flight_final) {
        /* RFC 6347 §4.2.4: the last flight is resent when the peer
         * retransmits its final flight; each resend consumes one epoch-1
         * sequence number from the reserve below keys.server_write_seq_next. */
        if (hs->final_resends >= HS_FINAL_RESEND_MAX)
            return 0;
        hs->final_resends++;
    } else if (!by_peer) {
        hs->timer_deadline_ms = now_ms + hs->cur_timeout_ms;
    }
    CR_GUARD(emit_flight(hs, out));
    hs->stats.retransmits++;
    return 0;
}

/* Appends one message to the transcript in its DTLS form: the 12-byte
 * header with fragment_offset 0 and fragment_length = length (RFC 6347
 * §4.2.6: "as if each handshake message had been sent as a single
 * fragment"). */
static int transcript_add(struct hs *hs, uint8_t type, uint16_t seq, const uint8_t *body,
                          uint32_t len)
{
    uint8_t hdr[DP_HS_HDR_LEN];

    /* The suite (and so the hash) is chosen before the first message, the
     * ClientHello, is added. */
    CR_ENSURE(hs->suite, CR_ERR_INVAL);
    CR_ENSURE(hs->transcript_bytes <= HS_TRANSCRIPT_MAX_BYTES &&
                  len <= HS_TRANSCRIPT_MAX_BYTES - hs->transcript_bytes &&
                  sizeof(hdr) <= HS_TRANSCRIPT_MAX_BYTES - hs->transcript_bytes - len,
              CR_ERR_LIMIT);
    const struct hs_hdr h = {type, len, seq, 0, len};
    hs_hdr_put(hdr, &h);
    if (!hs->th)
        CR_GUARD(cr_hash_run_start(hs->suite->sha384, &hs->th));
    CR_GUARD(cr_hash_run_add(hs->th, hdr, sizeof(hdr)));
    CR_GUARD(cr_hash_run_add(hs->th, body, len));
    hs->transcript_bytes += sizeof(hdr) + len;
    if (hs->keep_transcript) {
        struct hs_buf *t = &hs->transcript;
        hs_buf_bytes(t, hdr, sizeof(hdr));
        hs_buf_bytes(t, body, len);
        CR_ENSURE(hs_buf_ok(t), CR_ERR_LIMIT);
    }
    return 0;
}

/* One server message: transcript and current flight. */
static int add_message(struct hs *hs, uint16_t epoch, uint8_t type, const struct hs_buf *b)
{
    CR_ENSURE(hs_buf_ok(b), CR_ERR_LIMIT);
    CR_GUARD(transcript_add(hs, type, hs->next_msg_seq, b->p, (uint32_t)b->len));
    CR_GUARD(hs_flight_add_handshake(&hs->flight, epoch, type, hs->next_msg_seq, b->p,
                                     (uint32_t)b->len));
    hs->next_msg_seq++;
    return 0;
}

static int transcript_hash(const struct hs *hs, uint8_t *out, size_t *out_len)
{
    CR_ENSURE(hs->th, CR_ERR_INVAL);
    return cr_hash_run_peek(hs->th, hs->ctx->md_scratch, out, out_len);
}

/* ---- ClientHello -------------------------------------------------------- */

struct client_hello {
    uint16_t version;
    struct hs_cur suites;
    bool ems;
    bool reneg;
    bool groups_sent;
    bool x25519, p256, p384;
    bool formats_sent;
    bool uncompressed;
    bool sig_algs_sent;
    uint16_t sig_algs[HS_SIG_ALGS_MAX];
    unsigned n_sig_algs;
};

static bool suite_offered(const struct client_hello *ch, uint16_t id)
{
    struct hs_cur c = ch->suites;
    uint16_t v;
    while (hs_cur_u16(&c, &v))
        if (v == id)
            return true;
    return false;
}

static int parse_extensions(struct hs *hs, struct hs_cur *exts, struct client_hello *ch)
{
    uint16_t seen[HS_CH_MAX_EXTENSIONS];
    unsigned n_seen = 0;

    while (hs_cur_len(exts) > 0) {
        uint16_t type;
        struct hs_cur body;
        CR_ENSURE(hs_cur_u16(exts, &type) && hs_cur_prefixed16(exts, &body), CR_ERR_DECODE);
        /* RFC 5246 §7.4.1.4: "There MUST NOT be more than one extension of
         * the same type." */
        for (unsigned i = 0; i < n_seen; i++)
            CR_ENSURE(seen[i] != type, HS_ERR_ILLEGAL);
        CR_ENSURE(n_seen < HS_CH_MAX_EXTENSIONS, CR_ERR_DECODE);
        seen[n_seen++] = type;

        switch (type) {
        case DP_EXT_SERVER_NAME: {
            /* RFC 6066 §3: ServerNameList<1..2^16-1>. */
            struct hs_cur list;
            CR_ENSURE(hs_cur_prefixed16(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) > 0,
                      CR_ERR_DECODE);
            while (hs_cur_len(&list) > 0) {
                uint8_t name_type;
                struct hs_cur name;
                CR_ENSURE(hs_cur_u8(&list, &name_type) && hs_cur_prefixed16(&list, &name),
                          CR_ERR_DECODE);
                if (name_type != 0 || hs->keys.sni[0] != '\0')
                    continue;
                size_t n = hs_cur_len(&name);
                CR_ENSURE(n >= 1 && n <= HS_SNI_MAX_LEN, HS_ERR_ILLEGAL);
                CR_ENSURE(memchr(hs_cur_data(&name), 0, n) == NULL, HS_ERR_ILLEGAL);
                memcpy(hs->keys.sni, hs_cur_data(&name), n);
                hs->keys.sni[n] = '\0';
            }
            break;
        }
        case DP_EXT_SUPPORTED_GROUPS: {
            struct hs_cur list;
            uint16_t g;
            CR_ENSURE(hs_cur_prefixed16(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) >= 2 && hs_cur_len(&list) % 2 == 0,
                      CR_ERR_DECODE);
            ch->groups_sent = true;
            while (hs_cur_u16(&list, &g)) {
                ch->x25519 |= g == CR_GROUP_X25519;
                ch->p256 |= g == CR_GROUP_SECP256R1;
                ch->p384 |= g == CR_GROUP_SECP384R1;
            }
            break;
        }
        case DP_EXT_EC_POINT_FORMATS: {
            struct hs_cur list;
            uint8_t f;
            CR_ENSURE(hs_cur_prefixed8(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) >= 1,
                      CR_ERR_DECODE);
            ch->formats_sent = true;
            while (hs_cur_u8(&list, &f))
                ch->uncompressed |= f == DP_POINT_FORMAT_UNCOMPRESSED;
            break;
        }
        case DP_EXT_SIGNATURE_ALGORITHMS: {
            struct hs_cur list;
            uint16_t s;
            CR_ENSURE(hs_cur_prefixed16(&body, &list) && hs_cur_len(&body) == 0 &&
                          hs_cur_len(&list) >= 2 && hs_cur_len(&list) % 2 == 0,
                      CR_ERR_DECODE);
            ch->sig_algs_sent = true;
            while (hs_cur_u16(&list, &s))
                if (ch->n_sig_algs < HS_SIG_ALGS_MAX)
                    ch->sig_algs[ch->n_sig_algs++] = s;
            break;
        }
        case DP_EXT_EXTENDED_MASTER_SECRET:
            /* RFC 7627 §5.1: "extension_data" is empty. */
            CR_ENSURE(hs_cur_len(&body) == 0, CR_ERR_DECODE);
            ch->ems = true;
            break;
        case DP_EXT_RENEGOTIATION_INFO: {
            /* RFC 5746 §3.6: "The server MUST then verify that the length of
             * the renegotiated_connection field is zero, and if it is not,
             * MUST abort the handshake." */
            struct hs_cur rc_field;
            CR_ENSURE(hs_cur_prefixed8(&body, &rc_field) && hs_cur_len(&body) == 0, CR_ERR_DECODE);
            CR_ENSURE(hs_cur_len(&rc_field) == 0, HS_ERR_HANDSHAKE);
            ch->reneg = true;
            break;
        }
        default:
            break; /* unknown extensions are ignored (RFC 5246 §7.4.1.4) */
        }
    }
    return 0;
}

static uint16_t choose_group(const struct client_hello *ch)
{
    /* RFC 8422 §4: without supported_groups the server may use any; we
     * then assume P-256. */
    if (!ch->groups_sent)
        return CR_GROUP_SECP256R1;
    if (ch->x25519)
        return CR_GROUP_X25519;
    if (ch->p256)
        return CR_GROUP_SECP256R1;
    if (ch->p384)
        return CR_GROUP_SECP384R1;
    return 0;
}

/* The signature scheme our key in slot id makes for this client, or 0;
 * *out_native says whether it is the scheme of the key's own curve
 * (ecdsa_secp256r1_sha256 for P-256, ecdsa_secp384r1_sha384 for P-384) or
 * the RFC 5246 default.  In TLS 1.2 an ECDSA scheme names the hash only
 * (RFC 8422 §5.1.1), so the other curve's scheme also fits, as a second
 * choice; SHA-1 only when the client listed it. */
static uint16_t choose_sig_scheme(const struct client_hello *ch, enum hs_cert_slot_id id,
                                  bool *out_native)
{
    static const uint16_t p256_pref[] = {CR_SIG_ECDSA_SECP256R1_SHA256,
                                         CR_SIG_ECDSA_SECP384R1_SHA384, CR_SIG_ECDSA_SHA1};
    static const uint16_t p384_pref[] = {CR_SIG_ECDSA_SECP384R1_SHA384,
                                         CR_SIG_ECDSA_SECP256R1_SHA256, CR_SIG_ECDSA_SHA1};
    static const uint16_t rsa_pref[] = {CR_SIG_RSA_PKCS1_SHA256, CR_SIG_RSA_PSS_RSAE_SHA256,
                                        CR_SIG_RSA_PKCS1_SHA384, CR_SIG_RSA_PKCS1_SHA1};
    const uint16_t *pref = id == HS_CERT_ECDSA_P256   ? p256_pref
                           : id == HS_CERT_ECDSA_P384 ? p384_pref
                                                      : rsa_pref;
    size_t n = id == HS_CERT_RSA ? sizeof(rsa_pref) / sizeof(rsa_pref[0])
                                 : sizeof(p256_pref) / sizeof(p256_pref[0]);

    /* RFC 5246 §7.4.1.4.1: "If the client does not send the
     * signature_algorithms extension, the server MUST ... behave as if the
     * client had sent the value {sha1,rsa}" / "{sha1,ecdsa}". */
    *out_native = true;
    if (!ch->sig_algs_sent)
        return id == HS_CERT_RSA ? CR_SIG_RSA_PKCS1_SHA1 : CR_SIG_ECDSA_SHA1;
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < ch->n_sig_algs; j++)
            if (ch->sig_algs[j] == pref[i] && cr_sig_scheme_supported(pref[i])) {
                *out_native = i == 0;
                return pref[i];
            }
    return 0;
}

static bool group_offered(const struct client_hello *ch, uint16_t group)
{
    return group == CR_GROUP_SECP256R1 ? ch->p256 : group == CR_GROUP_SECP384R1 && ch->p384;
}

/* The server certificate for a suite of kex, as libssl chooses among its
 * certificate slots (ssl3_choose_cipher / tls_choose_sigalg): RSA suites
 * take the RSA slot; ECDHE_ECDSA suites the ECDSA slot whose curve the
 * client can verify and for which a signature scheme fits, preferring the
 * one whose own scheme the client listed, then P-256 before P-384.
 * Returns the slot (and *out_scheme), or NULL with *out_reason saying why
 * none: NO_SIG_SCHEME when a certificate's curve was acceptable, else
 * NO_SHARED_GROUP. */
static const struct hs_cert_slot *choose_cert(const struct hs_creds *cr,
                                              const struct client_hello *ch, enum hs_kex kex,
                                              uint16_t *out_scheme, enum hs_fail_reason *out_reason)
{
    const struct hs_cert_slot *second = NULL;
    uint16_t second_scheme = 0;
    bool curve_ok = false;

    *out_reason = HS_FAIL_NO_SHARED_SUITE; /* no certificate for kex at all */
    for (unsigned id = 0; id < HS_CERT_N; id++) {
        const struct hs_cert_slot *slot = &cr->cert[id];
        if (!slot->key || (id == HS_CERT_RSA) != (kex == HS_KEX_ECDHE_RSA))
            continue;
        /* RFC 8422 §5.1: "the client's Supported Elliptic Curves
         * Extension ... the server ... MUST NOT negotiate the use of an
         * ECC cipher suite" whose certificate's curve the client did not
         * list (§2.1: "The server's certificate MUST contain an
         * ECDSA-capable public key"; the curve is one the client can
         * use); without the extension any curve will do (§4). */
        if (slot->ec_group && ch->groups_sent && !group_offered(ch, slot->ec_group)) {
            *out_reason = HS_FAIL_NO_SHARED_GROUP;
            continue;
        }
        curve_ok = true;
        bool native = false;
        uint16_t scheme = choose_sig_scheme(ch, (enum hs_cert_slot_id)id, &native);
        if (!scheme || !cr_sig_scheme_fits(scheme, slot->key))
            continue;
        if (native) {
            *out_scheme = scheme;
            return slot;
        }
        if (!second) {
            second = slot;
            second_scheme = scheme;
        }
    }
    if (second) {
        *out_scheme = second_scheme;
        return second;
    }
    if (curve_ok)
        *out_reason = HS_FAIL_NO_SIG_SCHEME;
    return NULL;
}

/* Whether the client offered a plain-PSK suite we could use (then a
 * missing ECDHE group is not why nothing matched). */
static bool any_psk_offered(const struct hs *hs, const struct client_hello *ch)
{
    for (unsigned i = 0; i < hs->ctx->n_suites; i++) {
        const struct hs_suite_info *s = hs_suite_find(hs->ctx->suites[i]);
        if (s && s->kex == HS_KEX_PSK && suite_offered(ch, s->id) &&
            hs_creds_has_psk(hs->ctx->creds))
            return true;
    }
    return false;
}

static int choose_suite(struct hs *hs, const struct client_hello *ch)
{
    const struct hs_creds *cr = hs->ctx->creds;
    uint16_t group = choose_group(ch);
    bool ecdhe_ok = group != 0 && (!ch->formats_sent || ch->uncompressed);
    bool sig_scheme_missing = false, cert_curve_missing = false;

    for (unsigned i = 0; i < hs->ctx->n_suites; i++) {
        const struct hs_suite_info *s = hs_suite_find(hs->ctx->suites[i]);
        if (!s || !suite_offered(ch, s->id))
            continue;
        uint16_t scheme = 0;
        const struct hs_cert_slot *cert = NULL;
        switch (s->kex) {
        case HS_KEX_PSK:
            if (!hs_creds_has_psk(cr))
                continue;
            break;
        case HS_KEX_ECDHE_PSK:
            if (!hs_creds_has_psk(cr) || !ecdhe_ok)
                continue;
            break;
        case HS_KEX_ECDHE_ECDSA:
        case HS_KEX_ECDHE_RSA: {
            /* The ECDHE group (choose_group) is independent of the
             * certificate's curve: both only have to be ones the client
             * listed. */
            if (!ecdhe_ok)
                continue;
            enum hs_fail_reason why;
            cert = choose_cert(cr, ch, s->kex, &scheme, &why);
            if (!cert) {
                cert_curve_missing |= why == HS_FAIL_NO_SHARED_GROUP;
                sig_scheme_missing |= why == HS_FAIL_NO_SIG_SCHEME;
                continue;
            }
            break;
        }
        }
        hs->suite = s;
        hs->cert = cert;
        hs->group = s->kex == HS_KEX_PSK ? 0 : group;
        hs->sig_scheme = scheme;
        return 0;
    }
    /* RFC 5246 §7.2.2 insufficient_security: "the server requires ciphers
     * more secure than those supported by the client" — every suite the
     * client offered is one we know but were configured not to use. */
    bool known_offered = false, usable_offered = false;
    struct hs_cur c = ch->suites;
    uint16_t id;
    while (hs_cur_u16(&c, &id)) {
        if (!hs_suite_find(id))
            continue;
        known_offered = true;
        for (unsigned i = 0; i < hs->ctx->n_suites; i++)
            usable_offered |= hs->ctx->suites[i] == id;
    }
    if (known_offered && !usable_offered)
        return HS_ERR_INSUFFICIENT;
    hs->fail_reason =
        known_offered && ((!ecdhe_ok && !any_psk_offered(hs, ch)) || cert_curve_missing)
            ? HS_FAIL_NO_SHARED_GROUP
        : known_offered && sig_scheme_missing ? HS_FAIL_NO_SIG_SCHEME
                                              : HS_FAIL_NO_SHARED_SUITE;
    return HS_ERR_HANDSHAKE;
}

static const struct hs_cert_slot *server_cert(const struct hs *hs)
{
    return hs->cert; /* choose_suite picked it with the suite */
}

/* Signature schemes we accept in the client's CertificateVerify. */
static const uint16_t cv_schemes[] = {CR_SIG_ECDSA_SECP256R1_SHA256, CR_SIG_ECDSA_SECP384R1_SHA384,
                                      CR_SIG_RSA_PSS_RSAE_SHA256, CR_SIG_RSA_PKCS1_SHA256,
                                      CR_SIG_RSA_PKCS1_SHA384};
#define N_CV_SCHEMES (sizeof(cv_schemes) / sizeof(cv_schemes[0]))

static bool is_ecdhe(const struct hs *hs)
{
    return hs->suite->kex != HS_KEX_PSK;
}

/* Flight 2: ServerHello, [Certificate], [ServerKeyExchange],
 * [CertificateRequest], ServerHelloDone (RFC 5246 §7.3). */
static int build_server_flight(struct hs *hs, const struct client_hello *ch)
{
    const struct hs_creds *cr = hs->ctx->creds;
    struct hs_buf b;
    size_t m1, m2;
    int rc = 0;

    hs_flight_reset(&hs->flight);
    hs->have_flight = true;
    hs->flight_final = false;
    flight_started(hs);
    hs_buf_init(&b, HS_MSG_MAX_BYTES);

    /* ServerHello */
    hs_buf_u16(&b, DP_VERSION_DTLS12);
    hs_buf_bytes(&b, hs->server_random, DP_HELLO_RANDOM_LEN);
    hs_buf_u8(&b, 0); /* session_id: no resumption */
    hs_buf_u16(&b, hs->suite->id);
    hs_buf_u8(&b, 0); /* compression: null */
    hs_buf_open(&b, 2, &m1);
    if (hs->secure_reneg) {
        /* RFC 5746 §3.6: "the server MUST include an empty
         * renegotiation_info extension in the ServerHello". */
        hs_buf_u16(&b, DP_EXT_RENEGOTIATION_INFO);
        hs_buf_u16(&b, 1);
        hs_buf_u8(&b, 0);
    }
    if (hs->ems) {
        hs_buf_u16(&b, DP_EXT_EXTENDED_MASTER_SECRET);
        hs_buf_u16(&b, 0);
    }
    if (is_ecdhe(hs) && ch->formats_sent) {
        hs_buf_u16(&b, DP_EXT_EC_POINT_FORMATS);
        hs_buf_u16(&b, 2);
        hs_buf_u8(&b, 1);
        hs_buf_u8(&b, DP_POINT_FORMAT_UNCOMPRESSED);
    }
    hs_buf_close(&b, 2, m1);
    if (b.len >= 2 && b.p[b.len - 1] == 0 && b.p[b.len - 2] == 0 && m1 == b.len - 2)
        b.len -= 2; /* no extensions: omit the block */
    CR_GUARD_GOTO(add_message(hs, 0, DP_HS_SERVER_HELLO, &b), done);

    /* Certificate */
    if (hs->suite->kex == HS_KEX_ECDHE_ECDSA || hs->suite->kex == HS_KEX_ECDHE_RSA) {
        const struct hs_cert_slot *slot = server_cert(hs);
        hs_buf_clear(&b);
        hs_buf_open(&b, 3, &m1);
        for (unsigned i = 0; i < slot->n; i++) {
            hs_buf_u24(&b, (uint32_t)slot->der_len[i]);
            hs_buf_bytes(&b, slot->der[i], slot->der_len[i]);
        }
        hs_buf_close(&b, 3, m1);
        CR_GUARD_GOTO(add_message(hs, 0, DP_HS_CERTIFICATE, &b), done);
    }

    /* ServerKeyExchange */
    if (is_ecdhe(hs)) {
        CR_GUARD_GOTO(cr_ecdhe_keygen(hs->group, &hs->ecdhe, hs->ecdhe_pub, sizeof(hs->ecdhe_pub),
                                      &hs->ecdhe_pub_len),
                      done);
    }
    if (hs->suite->kex == HS_KEX_ECDHE_PSK || (hs->suite->kex == HS_KEX_PSK && cr->has_psk_hint)) {
        /* RFC 4279 §2 / RFC 5489 §2: psk_identity_hint<0..2^16-1>
         * [+ ServerECDHParams for ECDHE_PSK], not signed. */
        hs_buf_clear(&b);
        hs_buf_open(&b, 2, &m1);
        if (cr->has_psk_hint)
            hs_buf_bytes(&b, cr->psk_hint, cr->psk_hint_len);
        hs_buf_close(&b, 2, m1);
        if (hs->suite->kex == HS_KEX_ECDHE_PSK) {
            hs_buf_u8(&b, DP_CURVE_TYPE_NAMED);
            hs_buf_u16(&b, hs->group);
            hs_buf_u8(&b, (uint8_t)hs->ecdhe_pub_len);
            hs_buf_bytes(&b, hs->ecdhe_pub, hs->ecdhe_pub_len);
        }
        CR_GUARD_GOTO(add_message(hs, 0, DP_HS_SERVER_KEY_EXCHANGE, &b), done);
    } else if (hs->suite->kex == HS_KEX_ECDHE_ECDSA || hs->suite->kex == HS_KEX_ECDHE_RSA) {
        /* RFC 8422 §5.4: ServerECDHParams + digitally-signed over
         * client_random + server_random + ServerECDHParams. */
        uint8_t tbs[2 * DP_HELLO_RANDOM_LEN + 4 + CR_ECDHE_PUB_MAX_LEN];
        uint8_t sig[CR_SIG_MAX_LEN];
        size_t params_len = 4 + hs->ecdhe_pub_len, sig_len = 0;
        hs_buf_clear(&b);
        hs_buf_u8(&b, DP_CURVE_TYPE_NAMED);
        hs_buf_u16(&b, hs->group);
        hs_buf_u8(&b, (uint8_t)hs->ecdhe_pub_len);
        hs_buf_bytes(&b, hs->ecdhe_pub, hs->ecdhe_pub_len);
        CR_ENSURE_GOTO(hs_buf_ok(&b) && b.len == params_len, CR_ERR_LIMIT, done);
        memcpy(tbs, hs->client_random, DP_HELLO_RANDOM_LEN);
        memcpy(tbs + DP_HELLO_RANDOM_LEN, hs->server_random, DP_HELLO_RANDOM_LEN);
        memcpy(tbs + 2 * DP_HELLO_RANDOM_LEN, b.p, params_len);
        CR_GUARD_GOTO(cr_pk_sign(server_cert(hs)->key, hs->sig_scheme, tbs,
                                 2 * DP_HELLO_RANDOM_LEN + params_len, sig, sizeof(sig), &sig_len),
                      done);
        hs_buf_u16(&b, hs->sig_scheme);
        hs_buf_open(&b, 2, &m1);
        hs_buf_bytes(&b, sig, sig_len);
        hs_buf_close(&b, 2, m1);
        CR_GUARD_GOTO(add_message(hs, 0, DP_HS_SERVER_KEY_EXCHANGE, &b), done);
    }

    /* CertificateRequest (RFC 5246 §7.4.4): only with certificate suites. */
    if (hs->cert_requested) {
        hs_buf_clear(&b);
        hs_buf_open(&b, 1, &m1);
        hs_buf_u8(&b, DP_CERT_TYPE_ECDSA_SIGN);
        hs_buf_u8(&b, DP_CERT_TYPE_RSA_SIGN);
        hs_buf_close(&b, 1, m1);
        hs_buf_open(&b, 2, &m2);
        for (size_t i = 0; i < N_CV_SCHEMES; i++)
            hs_buf_u16(&b, cv_schemes[i]);
        hs_buf_close(&b, 2, m2);
        /* "certificate_authorities: A list of the distinguished names
         * [X501] of acceptable certificate_authorities, represented in
         * DER-encoded format" — the subjects of our client-CA store, each
         * DistinguishedName<1..2^16-1> (hs_creds_load_ca built them, at
         * most HS_CA_NAMES_MAX_BYTES); empty means any. */
        hs_buf_open(&b, 2, &m2);
        if (cr->ca_names_len > 0)
            hs_buf_bytes(&b, cr->ca_names, cr->ca_names_len);
        hs_buf_close(&b, 2, m2);
        CR_GUARD_GOTO(add_message(hs, 0, DP_HS_CERTIFICATE_REQUEST, &b), done);
    }

    /* ServerHelloDone */
    hs_buf_clear(&b);
    CR_GUARD_GOTO(add_message(hs, 0, DP_HS_SERVER_HELLO_DONE, &b), done);
    rc = 0;
done:
    hs_buf_free(&b);
    return rc;
}

static int on_client_hello(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                           uint64_t now_ms)
{
    struct client_hello ch;
    struct hs_cur c, sid, cookie, comp, exts;
    const uint8_t *random;
    uint8_t m;
    bool null_comp = false;

    memset(&ch, 0, sizeof(ch));
    hs_cur_init(&c, msg->body, msg->len);
    /* RFC 6347 §4.2.1 ClientHello: client_version, random,
     * session_id<0..32>, cookie<0..2^8-1>, cipher_suites<2..2^16-2>,
     * compression_methods<1..2^8-1>, extensions<0..2^16-1> (optional). */
    CR_ENSURE(hs_cur_u16(&c, &ch.version) && hs_cur_span(&c, &random, DP_HELLO_RANDOM_LEN) &&
                  hs_cur_prefixed8(&c, &sid) && hs_cur_prefixed8(&c, &cookie) &&
                  hs_cur_prefixed16(&c, &ch.suites) && hs_cur_prefixed8(&c, &comp),
              CR_ERR_DECODE);
    CR_ENSURE(hs_cur_len(&sid) <= DP_HELLO_SESSION_ID_MAX, CR_ERR_DECODE);
    CR_ENSURE(hs_cur_len(&ch.suites) >= 2 && hs_cur_len(&ch.suites) % 2 == 0, CR_ERR_DECODE);
    CR_ENSURE(hs_cur_len(&comp) >= 1, CR_ERR_DECODE);
    if (hs_cur_len(&c) > 0) {
        CR_ENSURE(hs_cur_prefixed16(&c, &exts), CR_ERR_DECODE);
        CR_ENSURE(hs_cur_len(&c) == 0, CR_ERR_DECODE); /* consumed exactly */
        CR_GUARD(parse_extensions(hs, &exts, &ch));
    }
    /* DTLS versions count down: 0xfeff is 1.0, 0xfefd is 1.2.  A client
     * whose highest version is below 1.2 gets protocol_version
     * (RFC 5246 §E.1). */
    CR_ENSURE((ch.version >> 8) == 0xfe && ch.version <= DP_VERSION_DTLS12,
              HS_ERR_PROTOCOL_VERSION);
    while (hs_cur_u8(&comp, &m))
        null_comp |= m == 0;
    CR_ENSURE(null_comp, HS_ERR_ILLEGAL);
    /* RFC 5746 §3.6: SCSV or an empty renegotiation_info both count. */
    hs->secure_reneg = ch.reneg || suite_offered(&ch, DP_SCSV_EMPTY_RENEGOTIATION_INFO);
    hs->ems = ch.ems;
    /* RFC 7627 §5.2: a server that requires EMS aborts with
     * handshake_failure when the client did not offer it. */
    hs->offer_version = ch.version;
    hs->offer_ems = ch.ems;
    hs->offer_groups = ch.groups_sent;
    hs->offer_x25519 = ch.x25519;
    hs->offer_p256 = ch.p256;
    hs->offer_p384 = ch.p384;
    hs->offer_sig_algs = ch.sig_algs_sent;
    {
        struct hs_cur sc = ch.suites;
        uint16_t id;
        while (hs->n_offer_suites < 4 && hs_cur_u16(&sc, &id))
            hs->offer_suites[hs->n_offer_suites++] = id;
    }
    if (!ch.ems && hs->ctx->p.require_ems) {
        hs->fail_reason = HS_FAIL_NO_EMS;
        return HS_ERR_HANDSHAKE;
    }
    memcpy(hs->client_random, random, DP_HELLO_RANDOM_LEN);
    CR_GUARD(choose_suite(hs, &ch));
    CR_ENSURE(RAND_bytes(hs->server_random, DP_HELLO_RANDOM_LEN) == 1, CR_ERR_CRYPTO);
    hs->cert_requested =
        hs->ctx->p.client_auth != HS_CLIENT_AUTH_NONE &&
        (hs->suite->kex == HS_KEX_ECDHE_ECDSA || hs->suite->kex == HS_KEX_ECDHE_RSA);
    if (hs->cert_requested && hs->ctx->p.client_auth == HS_CLIENT_AUTH_REQUIRE)
        CR_ENSURE(hs->ctx->creds->ca, HS_ERR_HANDSHAKE); /* cannot verify anyone */
    /* Only a client CertificateVerify is signed over the raw messages. */
    hs->keep_transcript = hs->cert_requested;
    hs->keys.suite = hs->suite->id;
    hs->keys.kex = hs->suite->kex;
    hs->keys.ems = hs->ems;
    hs->keys.aead = hs->suite->aead;

    /* RFC 6347 §4.2.2: after a stateless HelloVerifyRequest exchange the
     * server's ServerHello carries the same message_seq as the ClientHello
     * it answers (both are 1 after the cookie round trip). */
    hs->next_msg_seq = msg->seq;
    CR_GUARD(transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));
    CR_GUARD(build_server_flight(hs, &ch));
    hs->state = hs->cert_requested ? ST_WAIT_CLIENT_CERT : ST_WAIT_CKE;
    hs->cur_timeout_ms = hs->ctx->p.retrans_initial_ms;
    hs->timer_deadline_ms = now_ms + hs->cur_timeout_ms;
    return emit_flight(hs, out);
}

/* ---- client Certificate / CertificateVerify ----------------------------- */

static int on_client_certificate(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                                 uint64_t now_ms)
{
    const uint8_t *der[CR_PK_CHAIN_MAX_CERTS];
    size_t der_len[CR_PK_CHAIN_MAX_CERTS];
    unsigned n = 0;
    struct hs_cur c, list, cert;

    (void)out;
    (void)now_ms;
    hs_cur_init(&c, msg->body, msg->len);
    CR_ENSURE(hs_cur_prefixed24(&c, &list) && hs_cur_len(&c) == 0, CR_ERR_DECODE);
    while (hs_cur_len(&list) > 0) {
        CR_ENSURE(hs_cur_prefixed24(&list, &cert) && hs_cur_len(&cert) > 0, CR_ERR_DECODE);
        CR_ENSURE(n < CR_PK_CHAIN_MAX_CERTS, HS_ERR_BAD_CERT);
        der[n] = hs_cur_data(&cert);
        der_len[n] = hs_cur_len(&cert);
        n++;
    }
    if (n == 0) {
        /* RFC 5246 §7.4.6: without a certificate the server "MAY ... respond
         * with a fatal handshake_failure alert" — we do when it is required. */
        if (hs->ctx->p.client_auth == HS_CLIENT_AUTH_REQUIRE) {
            hs->fail_reason = HS_FAIL_NO_CLIENT_CERT;
            return HS_ERR_HANDSHAKE;
        }
        hs->state = ST_WAIT_CKE;
        return 0;
    }
    CR_ENSURE(hs->ctx->creds->ca, HS_ERR_BAD_CERT);
    if (cr_pk_verify_chain(hs->ctx->creds->ca, der, der_len, n, &hs->client_pub,
                           hs->keys.peer_identity, sizeof(hs->keys.peer_identity)) != 0)
        return HS_ERR_BAD_CERT;
    hs->client_cert = true;
    hs->state = ST_WAIT_CKE;
    return 0;
}

static int activate_read_epoch1(struct hs *hs);

/* After CKE/CertificateVerify: wait for CCS, or go on if it came early. */
static int after_client_keys(struct hs *hs)
{
    hs->state = ST_WAIT_CCS;
    if (hs->read_epoch1) {
        hs->state = ST_WAIT_FINISHED; /* CCS came while CertificateVerify was due */
        return 0;
    }
    if (hs->ccs_early)
        return activate_read_epoch1(hs);
    return 0;
}

static int on_certificate_verify(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                                 uint64_t now_ms)
{
    struct hs_cur c, sig;
    uint16_t scheme;
    bool offered = false;

    (void)out;
    (void)now_ms;
    hs_cur_init(&c, msg->body, msg->len);
    CR_ENSURE(hs_cur_u16(&c, &scheme) && hs_cur_prefixed16(&c, &sig) && hs_cur_len(&c) == 0,
              CR_ERR_DECODE);
    for (size_t i = 0; i < N_CV_SCHEMES; i++)
        offered |= cv_schemes[i] == scheme;
    /* RFC 5246 §7.4.8: the hash and signature algorithms MUST be one of
     * those present in CertificateRequest.supported_signature_algorithms. */
    CR_ENSURE(offered && cr_sig_scheme_fits(scheme, hs->client_pub), HS_ERR_ILLEGAL);
    /* Signed: handshake_messages up to but not including this one. */
    CR_ENSURE(hs->keep_transcript, CR_ERR_INVAL);
    if (cr_pk_verify(hs->client_pub, scheme, hs->transcript.p, hs->transcript.len,
                     hs_cur_data(&sig), hs_cur_len(&sig)) != 0) {
        hs->fail_reason = HS_FAIL_BAD_CERT_VERIFY;
        return HS_ERR_DECRYPT;
    }
    CR_GUARD(transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));
    return after_client_keys(hs);
}

/* ---- ClientKeyExchange and the key schedule ----------------------------- */

static int derive_keys(struct hs *hs, const uint8_t *pms, size_t pms_len)
{
    uint8_t hash[CR_HASH_MAX_LEN], kb[HS_KEY_BLOCK_MAX_LEN];
    size_t hash_len = 0;
    bool sha384 = hs->suite->sha384;
    enum cr_aead_alg alg = hs->suite->aead;
    size_t key_len = cr_aead_key_len(alg), iv_len = cr_aead_fixed_iv_len(alg);
    int rc;

    if (hs->ems) {
        /* RFC 7627 §4: master_secret = PRF(pre_master_secret,
         * "extended master secret", session_hash)[0..47], session_hash being
         * the hash of the handshake messages through ClientKeyExchange. */
        CR_GUARD(transcript_hash(hs, hash, &hash_len));
        CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, sha384, pms, pms_len, "extended master secret",
                                    hash, hash_len, NULL, 0, hs->master, HS_MASTER_LEN),
                      done);
    } else {
        /* RFC 5246 §8.1. */
        CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, sha384, pms, pms_len, "master secret",
                                    hs->client_random, DP_HELLO_RANDOM_LEN, hs->server_random,
                                    DP_HELLO_RANDOM_LEN, hs->master, HS_MASTER_LEN),
                      done);
    }
    /* RFC 5246 §6.3: key_block = PRF(master, "key expansion", server_random
     * + client_random); AEAD suites have no MAC keys: client_write_key,
     * server_write_key, client_write_IV, server_write_IV. */
    CR_ENSURE_GOTO(key_len > 0 && 2 * key_len + 2 * iv_len <= sizeof(kb), CR_ERR_INVAL, done);
    CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, sha384, hs->master, HS_MASTER_LEN, "key expansion",
                                hs->server_random, DP_HELLO_RANDOM_LEN, hs->client_random,
                                DP_HELLO_RANDOM_LEN, kb, 2 * key_len + 2 * iv_len),
                  done);
    hs->keys.key_len = (uint8_t)key_len;
    hs->keys.iv_len = (uint8_t)iv_len;
    memcpy(hs->keys.client_write_key, kb, key_len);
    memcpy(hs->keys.server_write_key, kb + key_len, key_len);
    memcpy(hs->keys.client_write_iv, kb + 2 * key_len, iv_len);
    memcpy(hs->keys.server_write_iv, kb + 2 * key_len + iv_len, iv_len);
    CR_GUARD_GOTO(cr_aead_key_init(&hs->rkey, hs->ctx->aead, alg, hs->keys.client_write_key,
                                   key_len, hs->keys.client_write_iv, iv_len),
                  done);
    CR_GUARD_GOTO(cr_aead_key_init(&hs->wkey, hs->ctx->aead, alg, hs->keys.server_write_key,
                                   key_len, hs->keys.server_write_iv, iv_len),
                  done);
    hs->keys_ready = true;
    rc = 0;
done:
    OPENSSL_cleanse(kb, sizeof(kb));
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc;
}

static int on_client_key_exchange(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                                  uint64_t now_ms)
{
    struct hs_cur c, identity, point;
    uint8_t z[CR_ECDHE_SECRET_MAX_LEN], pms[HS_PREMASTER_MAX_LEN];
    size_t z_len = 0, pms_len = 0;
    const struct hs_psk_entry *psk = NULL;
    enum hs_kex kex = hs->suite->kex;
    int rc;

    (void)out;
    (void)now_ms;
    hs_cur_init(&c, msg->body, msg->len);
    if (kex == HS_KEX_PSK || kex == HS_KEX_ECDHE_PSK) {
        /* RFC 4279 §2: psk_identity<0..2^16-1>. */
        CR_ENSURE(hs_cur_prefixed16(&c, &identity), CR_ERR_DECODE);
    }
    if (kex != HS_KEX_PSK) {
        /* RFC 8422 §5.7 / RFC 5489 §2: ECPoint ecdh_Yc<1..2^8-1>. */
        CR_ENSURE(hs_cur_prefixed8(&c, &point) && hs_cur_len(&point) >= 1, CR_ERR_DECODE);
    }
    CR_ENSURE(hs_cur_len(&c) == 0, CR_ERR_DECODE);

    if (kex == HS_KEX_PSK || kex == HS_KEX_ECDHE_PSK) {
        psk = hs_creds_find_psk(hs->ctx->creds, hs_cur_data(&identity), hs_cur_len(&identity));
        /* RFC 4279 §2: "If the server does not recognize the PSK identity, it
         * MAY respond with an "unknown_psk_identity" alert message." */
        CR_ENSURE(psk, HS_ERR_UNKNOWN_PSK);
        memcpy(hs->keys.peer_identity, psk->identity, psk->id_len);
        hs->keys.peer_identity[psk->id_len] = '\0';
    }
    if (kex != HS_KEX_PSK) {
        rc = cr_ecdhe_derive(hs->ecdhe, hs->group, hs_cur_data(&point), hs_cur_len(&point), z,
                             sizeof(z), &z_len);
        if (rc == CR_ERR_DECODE)
            return HS_ERR_ILLEGAL;
        CR_GUARD(rc);
    }

    /* Premaster secrets:
     *  PSK (RFC 4279 §2): uint16 N, N zero bytes, uint16 N, psk
     *  ECDHE_PSK (RFC 5489 §2): uint16 len(Z), Z, uint16 N, psk
     *  ECDHE (RFC 8422 §5.10): Z */
    if (kex == HS_KEX_ECDHE_ECDSA || kex == HS_KEX_ECDHE_RSA) {
        memcpy(pms, z, z_len);
        pms_len = z_len;
    } else {
        size_t other_len = kex == HS_KEX_PSK ? psk->key_len : z_len;
        CR_ENSURE(other_len <= HS_PMS_OTHER_MAX_LEN && psk->key_len <= HS_PSK_MAX_KEY_LEN,
                  CR_ERR_LIMIT);
        pms[0] = (uint8_t)(other_len >> 8);
        pms[1] = (uint8_t)other_len;
        if (kex == HS_KEX_PSK)
            memset(pms + 2, 0, other_len);
        else
            memcpy(pms + 2, z, z_len);
        pms[2 + other_len] = 0;
        pms[3 + other_len] = psk->key_len;
        memcpy(pms + 4 + other_len, psk->key, psk->key_len);
        pms_len = 4 + other_len + psk->key_len;
    }
    rc = derive_keys(hs, pms, pms_len);
    OPENSSL_cleanse(pms, sizeof(pms));
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_free(hs->ecdhe);
    hs->ecdhe = NULL;
    CR_GUARD(rc);
    if (hs->client_cert) {
        hs->state = ST_WAIT_CERT_VERIFY;
        return 0;
    }
    return after_client_keys(hs);
}

/* ---- Finished ----------------------------------------------------------- */

static int fill_established(struct hs *hs)
{
    hs->keys.epoch = 1;
    /* The ranges of the file comment: final-flight resends, then the
     * engine's own records, then the dataplane's. */
    hs->app_wseq = hs->wseq[1] + HS_FINAL_RESEND_MAX;
    hs->app_wseq_end = hs->app_wseq + HS_ENGINE_WSEQ_RESERVE;
    hs->keys.server_write_seq_next = hs->app_wseq_end;
    hs->keys.client_read_seq_top = hs->client_read_top;
    return 0;
}

static int on_finished(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                       uint64_t now_ms)
{
    uint8_t hash[CR_HASH_MAX_LEN], expect[HS_VERIFY_DATA_LEN];
    size_t hash_len = 0;
    struct hs_buf b;
    int rc;

    (void)now_ms;
    /* RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label,
     * Hash(handshake_messages))[0..11]. */
    CR_ENSURE(msg->len == HS_VERIFY_DATA_LEN, CR_ERR_DECODE);
    CR_GUARD(transcript_hash(hs, hash, &hash_len));
    CR_GUARD(cr_prf_derive(hs->ctx->prf, hs->suite->sha384, hs->master, HS_MASTER_LEN,
                           "client finished", hash, hash_len, NULL, 0, expect, sizeof(expect)));
    if (CRYPTO_memcmp(expect, msg->body, HS_VERIFY_DATA_LEN) != 0) {
        hs->fail_reason = HS_FAIL_BAD_FINISHED;
        return HS_ERR_DECRYPT;
    }
    CR_GUARD(transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));

    /* Final flight: ChangeCipherSpec + Finished (epoch 1). */
    CR_GUARD(transcript_hash(hs, hash, &hash_len));
    hs_buf_init(&b, HS_VERIFY_DATA_LEN);
    uint8_t *vd = hs_buf_reserve(&b, HS_VERIFY_DATA_LEN);
    CR_ENSURE_GOTO(vd, CR_ERR_NOMEM, done);
    CR_GUARD_GOTO(cr_prf_derive(hs->ctx->prf, hs->suite->sha384, hs->master, HS_MASTER_LEN,
                                "server finished", hash, hash_len, NULL, 0, vd, HS_VERIFY_DATA_LEN),
                  done);
    hs_flight_reset(&hs->flight);
    hs->have_flight = true;
    hs->flight_final = true;
    flight_started(hs);
    CR_GUARD_GOTO(hs_flight_add_ccs(&hs->flight, 0), done);
    CR_GUARD_GOTO(add_message(hs, 1, DP_HS_FINISHED, &b), done);
    hs->write_epoch1 = true;
    CR_GUARD_GOTO(emit_flight(hs, out), done);
    /* RFC 6347 §4.2.4: no timer after the final flight; it is resent only
     * when the client repeats its own final flight. */
    hs->timer_deadline_ms = 0;
    hs->state = ST_ESTABLISHED;
    CR_GUARD_GOTO(fill_established(hs), done);
    out->event = HS_EV_ESTABLISHED;
    /* The transcript is no longer needed. */
    hs_buf_free(&hs->transcript);
    cr_hash_run_free(hs->th);
    hs->th = NULL;
    rc = 0;
done:
    hs_buf_free(&b);
    return rc;
}

/* ---- the transition table ----------------------------------------------- */

typedef int (*msg_handler)(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                           uint64_t now_ms);

struct transition {
    enum hs_state state;
    uint8_t msg_type;
    uint16_t epoch;  /* epoch the message must arrive in */
    bool hash_first; /* transcript gets the message before the handler */
    msg_handler fn;
};

/* Every (state, message) pair not listed is unexpected_message. */
static const struct transition transitions[] = {
    {ST_WAIT_CH, DP_HS_CLIENT_HELLO, 0, false, on_client_hello},
    {ST_WAIT_CLIENT_CERT, DP_HS_CERTIFICATE, 0, true, on_client_certificate},
    {ST_WAIT_CKE, DP_HS_CLIENT_KEY_EXCHANGE, 0, true, on_client_key_exchange},
    {ST_WAIT_CERT_VERIFY, DP_HS_CERTIFICATE_VERIFY, 0, false, on_certificate_verify},
    {ST_WAIT_FINISHED, DP_HS_FINISHED, 1, false, on_finished},
};

static int process_messages(struct hs *hs, struct hs_out *out, uint64_t now_ms)
{
    struct hs_reasm_msg msg;

    while (hs->state < ST_ESTABLISHED && hs_reasm_next(&hs->reasm, &msg) == 1) {
        const struct transition *t = NULL;
        for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
            if (transitions[i].state == hs->state && transitions[i].msg_type == msg.type)
                t = &transitions[i];
        CR_ENSURE(t && t->epoch == msg.epoch, HS_ERR_UNEXPECTED);
        if (t->hash_first)
            CR_GUARD(transcript_add(hs, msg.type, msg.seq, msg.body, msg.len));
        CR_GUARD(t->fn(hs, &msg, out, now_ms));
    }
    if (hs->state == ST_ESTABLISHED) {
        /* Messages after the handshake (epoch 0 from anyone, or reordered
         * leftovers) are unauthenticated or stale: drop, never fatal. */
        while (hs_reasm_next(&hs->reasm, &msg) == 1)
            hs->stats.dropped_records++;
        /* Nothing after ESTABLISHED is ever delivered: partial messages
         * would only hold the ctx's shared reassembly budget for the
         * session's life. */
        hs_reasm_clear(&hs->reasm);
    }
    return 0;
}

/* ---- records ------------------------------------------------------------ */

static int activate_read_epoch1(struct hs *hs)
{
    size_t sz = dp_replay_size(HS_REPLAY_WIN_BITS);
    CR_ENSURE(hs->keys_ready, CR_ERR_INVAL);
    if (!hs->replay) {
        hs->replay = calloc(1, sz);
        CR_ENSURE(hs->replay, CR_ERR_NOMEM);
        CR_ENSURE(dp_replay_init(hs->replay, HS_REPLAY_WIN_BITS) == 0, CR_ERR_INVAL);
    }
    hs->read_epoch1 = true;
    if (hs->state == ST_WAIT_CCS)
        hs->state = ST_WAIT_FINISHED;
    return 0;
}

static void feed_handshake(struct hs *hs, uint16_t epoch, const uint8_t *body, size_t len)
{
    unsigned flags = 0;
    uint64_t refused = hs->reasm.refused_cap;
    int rc = hs_reasm_add_record(&hs->reasm, epoch, body, len, &flags);
    if (rc < 0) {
        hs->stats.dropped_records++; /* malformed or over a cap: silent */
        if (hs->reasm.refused_cap != refused)
            hs->stats.reasm_refused++;
        return;
    }
    if (flags & HS_REASM_F_OLD)
        hs->resend_requested = true; /* peer repeated its last flight */
    if (flags & (HS_REASM_F_FUTURE | HS_REASM_F_CONFLICT))
        hs->stats.dropped_records++;
}

static int on_alert(struct hs *hs, const uint8_t *body, size_t len, struct hs_out *out)
{
    if (len != DP_ALERT_LEN) {
        hs->stats.dropped_records++;
        return 0;
    }
    if (body[1] == DP_ALERT_CLOSE_NOTIFY) {
        /* RFC 5246 §7.2.1: respond with our own close_notify. */
        if (hs->state == ST_ESTABLISHED)
            (void)queue_alert(hs, out, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY);
        hs->state = ST_CLOSED;
        hs->timer_deadline_ms = 0;
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

static int handle_epoch1(struct hs *hs, const struct dp_record *rec, struct hs_out *out)
{
    if (!hs->read_epoch1) {
        /* Reordered: a Finished that overtook the CCS.  Keep a few whole
         * records until the CCS arrives (RFC 6347 §4.1: implementations
         * MAY buffer records of the next epoch). */
        if (hs->state == ST_WAIT_CH || hs->n_early >= HS_EARLY_EPOCH1_MAX_RECORDS) {
            hs->stats.dropped_records++;
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
        hs->stats.dropped_records++;
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
        hs->stats.dropped_records++;
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
            CR_GUARD(queue_alert(hs, out, DP_ALERT_LEVEL_WARNING, DP_ALERT_NO_RENEGOTIATION));
            OPENSSL_cleanse(pt, (size_t)n);
            return 0;
        }
        feed_handshake(hs, 1, pt, (size_t)n);
        OPENSSL_cleanse(pt, (size_t)n);
        return 0;
    case DP_CT_ALERT:
        return on_alert(hs, pt, (size_t)n, out);
    case DP_CT_APPLICATION_DATA:
        if (hs->state != ST_ESTABLISHED || out->n_app >= HS_OUT_MAX_DGRAMS) {
            hs->stats.dropped_records++;
            return 0;
        }
        out->app[out->n_app].data = pt;
        out->app[out->n_app].len = (size_t)n;
        out->n_app++;
        hs->app_used += (size_t)n;
        return 0;
    default:
        hs->stats.dropped_records++;
        return 0;
    }
}

/* After the client's ChangeCipherSpec its handshake messages come
 * protected (RFC 5246 §7.1: CCS switches the read state), so an epoch-0
 * handshake record may only repeat messages already delivered (a
 * retransmitted flight: message_seq below next_seq), or carry the
 * CertificateVerify still awaited (it precedes the CCS but may arrive
 * after it).  Anything else can only be spoofed: a spoofer who knows the
 * 4-tuple must not end the handshake with it. */
static bool epoch0_after_ccs_ok(const struct hs *hs, const uint8_t *body, size_t len)
{
    struct hs_cur c;
    struct hs_hdr h;

    hs_cur_init(&c, body, len);
    while (hs_hdr_get(&c, &h)) {
        uint16_t mseq = h.message_seq;
        bool old = (uint16_t)(hs->reasm.next_seq - 1 - mseq) < 0x8000; /* mseq < next_seq */
        bool cv = hs->state == ST_WAIT_CERT_VERIFY && h.type == DP_HS_CERTIFICATE_VERIFY &&
                  mseq == hs->reasm.next_seq;
        if (!old && !cv)
            return false;
        if (!hs_cur_skip(&c, h.fragment_length))
            return false;
    }
    return hs_cur_len(&c) == 0;
}

static int handle_record(struct hs *hs, const struct dp_record *rec, struct hs_out *out,
                         uint64_t now_ms)
{
    if (rec->epoch == 1) {
        if (!hs->keys_ready && hs->state != ST_WAIT_CKE && hs->state != ST_WAIT_CLIENT_CERT &&
            hs->state != ST_WAIT_CERT_VERIFY) {
            hs->stats.dropped_records++;
            return 0;
        }
        CR_GUARD(handle_epoch1(hs, rec, out));
        return process_messages(hs, out, now_ms);
    }
    if (rec->epoch != 0) {
        hs->stats.dropped_records++;
        return 0;
    }
    switch (rec->type) {
    case DP_CT_HANDSHAKE:
        if (!hs->first_record_seen) {
            /* The first record is the cookie-verified ClientHello: start
             * reassembly at its message_seq (1 after a HelloVerifyRequest,
             * RFC 6347 §4.2.2) and continue our epoch-0 record numbers from
             * its record seq, as the HelloVerifyRequest did. */
            struct hs_cur c;
            struct hs_hdr h;
            hs_cur_init(&c, rec->fragment, rec->length);
            if (!hs_hdr_get(&c, &h) || h.type != DP_HS_CLIENT_HELLO) {
                hs->stats.dropped_records++;
                return 0;
            }
            hs->first_record_seen = true;
            hs->reasm.next_seq = h.message_seq;
            hs->wseq[0] = rec->seq;
        }
        if (hs->read_epoch1 && !epoch0_after_ccs_ok(hs, rec->fragment, rec->length)) {
            hs->stats.dropped_records++;
            return 0;
        }
        feed_handshake(hs, 0, rec->fragment, rec->length);
        return process_messages(hs, out, now_ms);
    case DP_CT_CHANGE_CIPHER_SPEC:
        /* RFC 5246 §7.1: the message is a single byte of value 1. */
        if (rec->length != DP_CCS_LEN || rec->fragment[0] != DP_CCS_VALUE) {
            hs->stats.dropped_records++;
            return 0;
        }
        switch (hs->state) {
        case ST_WAIT_CCS:
            return activate_read_epoch1(hs);
        case ST_WAIT_CERT_VERIFY:
            /* Keys are known: read epoch 1 now.  The client's Finished then
             * tells omission from loss: without CertificateVerify it carries
             * the message_seq CertificateVerify should have had and is
             * delivered now, in this state, as unexpected_message; after a
             * lost CertificateVerify it waits in reassembly. */
            return activate_read_epoch1(hs);
        case ST_WAIT_CKE:
        case ST_WAIT_CLIENT_CERT:
            /* Reordered ahead of (or lost) ClientKeyExchange: remember. */
            hs->ccs_early = true;
            return 0;
        case ST_ESTABLISHED:
            hs->resend_requested = true; /* repeated client final flight */
            return 0;
        default:
            hs->stats.dropped_records++;
            return 0;
        }
    case DP_CT_ALERT:
        if (hs->read_epoch1) {
            hs->stats.dropped_records++; /* must be protected by now */
            return 0;
        }
        return on_alert(hs, rec->fragment, rec->length, out);
    default:
        hs->stats.dropped_records++;
        return 0;
    }
}

static int replay_early(struct hs *hs, struct hs_out *out, uint64_t now_ms)
{
    int rc = 0;

    for (unsigned i = 0; i < hs->n_early && rc == 0 && hs->state < ST_CLOSED; i++) {
        const uint8_t *p = hs->early[i].data;
        size_t left = hs->early[i].len;
        struct dp_record rec;
        if (dp_record_next(&p, &left, 0, &rec) == DP_RECORD_OK)
            rc = handle_record(hs, &rec, out, now_ms);
    }
    for (unsigned i = 0; i < hs->n_early; i++) {
        OPENSSL_cleanse(hs->early[i].data, hs->early[i].len);
        free(hs->early[i].data);
        hs->early[i].data = NULL;
    }
    hs->n_early = 0;
    return rc;
}

static int ensure_app_cap(struct hs *hs, size_t need)
{
    for (unsigned i = 0; i < hs->n_early; i++)
        need += hs->early[i].len;
    if (need <= hs->app_cap)
        return 0;
    uint8_t *nb = malloc(need);
    CR_ENSURE(nb, CR_ERR_NOMEM);
    if (hs->app_buf) {
        OPENSSL_cleanse(hs->app_buf, hs->app_cap);
        free(hs->app_buf);
    }
    hs->app_buf = nb;
    hs->app_cap = need;
    return 0;
}

/* The absolute deadline: a handshake not ESTABLISHED by then ends, however
 * often the peer retransmits (so one peer holds a handshake slot for at
 * most handshake_deadline_ms). */
static bool deadline_passed(const struct hs *hs, uint64_t now_ms)
{
    return hs->state < ST_ESTABLISHED && now_ms >= hs->deadline_ms;
}

static int time_out(struct hs *hs, struct hs_out *out, enum hs_fail_reason why)
{
    hs->ended_in = hs->state;
    /* Waiting for a Finished that only came as records failing
     * authentication: the client derived other keys (a wrong PSK). */
    hs->fail_reason =
        hs->state == ST_WAIT_FINISHED && hs->stats.bad_mac > 0 ? HS_FAIL_BAD_FINISHED : why;
    hs->state = ST_FAILED;
    hs->timer_deadline_ms = 0;
    out->n_dgrams = 0;
    out->n_app = 0;
    out->next_timer_ms = 0;
    out->event = HS_EV_TIMEOUT;
    return CR_ERR_LIMIT;
}

int hs_input(struct hs *hs, const uint8_t *dgram, size_t len, uint64_t now_ms, struct hs_out *out)
{
    const uint8_t *p = dgram;
    size_t left = len;
    int rc = 0;

    if (!hs || !out)
        return CR_ERR_INVAL;
    out_reset(hs, out);
    if (hs->state == ST_FAILED || hs->state == ST_CLOSED)
        return CR_ERR_INVAL; /* dead: the caller frees it */
    if (!dgram && len > 0)
        return CR_ERR_INVAL;
    if (deadline_passed(hs, now_ms))
        return time_out(hs, out, HS_FAIL_DEADLINE);
    CR_GUARD_GOTO(ensure_app_cap(hs, len), failed);

    while (left > 0 && hs->state < ST_CLOSED) {
        struct dp_record rec;
        if (dp_record_next(&p, &left, 0, &rec) != DP_RECORD_OK) {
            hs->stats.dropped_records++; /* rest of the datagram dropped */
            break;
        }
        CR_GUARD_GOTO(handle_record(hs, &rec, out, now_ms), failed);
        if (hs->read_epoch1 && hs->n_early > 0)
            CR_GUARD_GOTO(replay_early(hs, out, now_ms), failed);
    }
    if (hs->resend_requested && hs->state != ST_CLOSED)
        CR_GUARD_GOTO(resend_flight(hs, out, now_ms, true), failed);
    out->next_timer_ms = next_timer(hs);
    return 0;
failed:
    return fail(hs, out, rc);
}

const char *hs_fail_reason_text(enum hs_fail_reason r)
{
    static const char *const text[] = {
#define HS_FAIL_X(name, t) [HS_FAIL_##name] = t,
        HS_FAIL_REASONS(HS_FAIL_X)
#undef HS_FAIL_X
    };
    return (unsigned)r < HS_FAIL_N ? text[r] : "?";
}

enum hs_fail_reason hs_fail_reason(const struct hs *hs)
{
    return hs != NULL ? hs->fail_reason : HS_FAIL_NONE;
}

const char *hs_offer_facts(const struct hs *hs, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (hs == NULL || hs->offer_version == 0)
        return buf;
    int n = snprintf(buf, cap, "version %04x, suites", hs->offer_version);
    for (unsigned i = 0; i < hs->n_offer_suites && n > 0 && (size_t)n < cap; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%s%04x", i ? "," : " ", hs->offer_suites[i]);
    if (n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "%s, groups %s%s%s%s, sig_algs %s, EMS %s",
                 hs->n_offer_suites == 4 ? ",..." : "", hs->offer_groups ? "" : "none",
                 hs->offer_x25519 ? "x25519 " : "", hs->offer_p256 ? "P-256 " : "",
                 hs->offer_p384 ? "P-384" : "", hs->offer_sig_algs ? "yes" : "none",
                 hs->offer_ems ? "yes" : "no");
    return buf;
}

const char *hs_state_name(const struct hs *hs)
{
    static const char *const names[] = {
        [ST_WAIT_CH] = "ClientHello",
        [ST_WAIT_CLIENT_CERT] = "client Certificate",
        [ST_WAIT_CKE] = "ClientKeyExchange",
        [ST_WAIT_CERT_VERIFY] = "CertificateVerify",
        [ST_WAIT_CCS] = "ChangeCipherSpec",
        [ST_WAIT_FINISHED] = "Finished",
        [ST_ESTABLISHED] = "established",
        [ST_CLOSED] = "closed",
        [ST_FAILED] = "failed",
    };
    if (hs == NULL)
        return "?";
    enum hs_state st = hs->state == ST_FAILED ? hs->ended_in : hs->state;
    return (unsigned)st < sizeof(names) / sizeof(names[0]) && names[st] ? names[st] : "?";
}

int hs_timeout(struct hs *hs, uint64_t now_ms, struct hs_out *out)
{
    int rc;

    if (!hs || !out)
        return CR_ERR_INVAL;
    out_reset(hs, out);
    if (hs->state >= ST_ESTABLISHED)
        return 0;
    if (deadline_passed(hs, now_ms))
        return time_out(hs, out, HS_FAIL_DEADLINE);
    if (hs->timer_deadline_ms == 0 || now_ms < hs->timer_deadline_ms)
        return 0;
    /* RFC 6347 §4.2.4.1: double the timer on each retransmission up to the
     * maximum; one more expiry at the maximum ends the handshake. */
    if (hs->cur_timeout_ms >= hs->ctx->p.retrans_max_ms)
        return time_out(hs, out, HS_FAIL_RETRANSMIT);
    uint64_t next = (uint64_t)hs->cur_timeout_ms * 2;
    hs->cur_timeout_ms =
        next > hs->ctx->p.retrans_max_ms ? hs->ctx->p.retrans_max_ms : (uint32_t)next;
    rc = resend_flight(hs, out, now_ms, false);
    if (rc < 0)
        return fail(hs, out, rc);
    out->next_timer_ms = next_timer(hs);
    return 0;
}

int hs_close(struct hs *hs, struct hs_out *out)
{
    if (!hs || !out)
        return CR_ERR_INVAL;
    out_reset(hs, out);
    CR_ENSURE(hs->state == ST_ESTABLISHED, CR_ERR_INVAL);
    CR_GUARD(queue_alert(hs, out, DP_ALERT_LEVEL_WARNING, DP_ALERT_CLOSE_NOTIFY));
    hs->state = ST_CLOSED;
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
    CR_GUARD(seal_record(hs, DP_CT_APPLICATION_DATA, 1, hs->app_wseq, data, len, out_buf, out_cap,
                         out_len));
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

const struct hs_keys *hs_keys(const struct hs *hs)
{
    if (!hs || (hs->state != ST_ESTABLISHED && hs->state != ST_CLOSED))
        return NULL;
    return &hs->keys;
}

bool hs_established(const struct hs *hs)
{
    return hs && hs->state == ST_ESTABLISHED;
}

const struct hs_stats *hs_get_stats(const struct hs *hs)
{
    return hs ? &hs->stats : NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct hs *hs_new(struct hs_ctx *ctx, const struct hs_peer *peer, uint64_t now_ms)
{
    struct hs *hs;
    size_t sz = (sizeof(*hs) + 63) & ~(size_t)63;

    if (!ctx || !peer)
        return NULL;
    hs = aligned_alloc(64, sz);
    if (!hs)
        return NULL;
    memset(hs, 0, sz);
    hs->ctx = ctx;
    hs->peer = *peer;
    hs->state = ST_WAIT_CH;
    hs_reasm_init(&hs->reasm, HS_MSG_MAX_BYTES, HS_BUFFERED_MAX_BYTES);
    hs_reasm_attach_budget(&hs->reasm, &ctx->reasm_budget);
    hs_flight_init(&hs->flight);
    hs_buf_init(&hs->transcript, HS_TRANSCRIPT_MAX_BYTES);
    hs->cur_timeout_ms = ctx->p.retrans_initial_ms;
    hs->peer_gap_ms = HS_PEER_RESEND_GAP_MS;
    hs->deadline_ms = now_ms + ctx->p.handshake_deadline_ms;
    return hs;
}

void hs_free(struct hs *hs)
{
    if (!hs)
        return;
    hs_reasm_clear(&hs->reasm);
    hs_flight_reset(&hs->flight);
    hs_buf_free(&hs->transcript);
    cr_hash_run_free(hs->th);
    EVP_PKEY_free(hs->ecdhe);
    EVP_PKEY_free(hs->client_pub);
    for (unsigned i = 0; i < hs->n_early; i++) {
        OPENSSL_cleanse(hs->early[i].data, hs->early[i].len);
        free(hs->early[i].data);
    }
    free(hs->replay);
    /* out_buf holds only what went on the wire (as emit_flight's regrowth
     * already assumes): freed, not wiped. */
    free(hs->out_buf);
    if (hs->app_buf) {
        OPENSSL_cleanse(hs->app_buf, hs->app_cap);
        free(hs->app_buf);
    }
    /* The secrets in the struct itself: record keys (set only once
     * derive_keys recorded key_len), master secret, key block copies.
     * The rest (randoms, counters, sealed alerts) is public. */
    if (hs->keys.key_len) {
        cr_aead_key_wipe(&hs->rkey);
        cr_aead_key_wipe(&hs->wkey);
    }
    OPENSSL_cleanse(hs->master, sizeof(hs->master));
    OPENSSL_cleanse(&hs->keys, sizeof(hs->keys));
    free(hs);
}

void hs_params_default(struct hs_params *p)
{
    memset(p, 0, sizeof(*p)); /* no suites (the default order), no CID */
    p->mtu_bytes = HS_MTU_DEFAULT_BYTES;
    p->retrans_initial_ms = HS_RETRANS_INITIAL_DEFAULT_MS;
    p->retrans_max_ms = HS_RETRANS_MAX_DEFAULT_MS;
    p->cookie_required = true;
    p->require_ems = false; /* hs.h: preferred, not required */
    p->client_auth = HS_CLIENT_AUTH_NONE;
    p->bad_mac_limit = HS_BAD_MAC_LIMIT_DEFAULT;
    p->reasm_max_bytes = HS_REASM_ALL_MAX_DEFAULT_BYTES;
    p->handshake_deadline_ms = HS_HANDSHAKE_DEADLINE_DEFAULT_MS;
}

struct hs_ctx *hs_ctx_new(const struct hs_params *p, struct hs_creds *creds)
{
    struct hs_ctx *ctx;

    if (!p || !creds)
        return NULL;
    if (p->mtu_bytes < HS_MTU_MIN_BYTES || p->mtu_bytes > HS_MTU_MAX_BYTES ||
        p->retrans_initial_ms == 0 || p->retrans_max_ms < p->retrans_initial_ms ||
        p->handshake_deadline_ms == 0 || p->n_suites > HS_MAX_SUITES || p->cid_len != 0)
        return NULL;
    for (unsigned i = 0; i < p->n_suites; i++)
        if (!hs_suite_find(p->suites[i]))
            return NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->p = *p;
    ctx->creds = creds;
    ctx->reasm_budget.max_bytes = p->reasm_max_bytes;
    if (p->n_suites) {
        memcpy(ctx->suites, p->suites, sizeof(p->suites[0]) * p->n_suites);
        ctx->n_suites = p->n_suites;
    } else {
        ctx->n_suites = hs_suite_default_order(ctx->suites, HS_MAX_SUITES);
    }
    if (cr_cookie_keys_init(&ctx->cookie) != 0)
        goto fail;
    ctx->aead = cr_aead_ctx_new();
    if (!ctx->aead)
        goto fail;
    ctx->prf = cr_prf_new();
    ctx->md_scratch = EVP_MD_CTX_new();
    if (!ctx->prf || !ctx->md_scratch)
        goto fail;
    if (!p->cookie_required)
        fprintf(stderr, "dtlsgw: warning: DTLS cookie exchange disabled "
                        "(RFC 6347 §4.2.1); the handshake is open to amplification "
                        "and state exhaustion by spoofed ClientHellos\n");
    return ctx;
fail:
    hs_ctx_free(ctx);
    return NULL;
}

void hs_ctx_free(struct hs_ctx *ctx)
{
    if (!ctx)
        return;
    cr_aead_ctx_free(ctx->aead);
    cr_prf_free(ctx->prf);
    EVP_MD_CTX_free(ctx->md_scratch);
    cr_cookie_keys_wipe(&ctx->cookie);
    OPENSSL_cleanse(ctx, sizeof(*ctx));
    free(ctx);
}

size_t hs_ctx_reasm_bytes(const struct hs_ctx *ctx)
{
    return ctx ? ctx->reasm_budget.used_bytes : 0;
}

uint64_t hs_ctx_reasm_refused(const struct hs_ctx *ctx)
{
    return ctx ? ctx->reasm_budget.refused : 0;
}

int hs_ctx_rotate_cookie_secret(struct hs_ctx *ctx)
{
    CR_ENSURE(ctx, CR_ERR_INVAL);
    return cr_cookie_rotate(&ctx->cookie);
}
