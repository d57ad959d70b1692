/* hs_engine.c — sans-IO DTLS 1.2 server handshake (RFC 6347 over RFC 5246):
 * lifecycle (hs_new/hs_free), input dispatch, the transition table,
 * flights and retransmission timing (RFC 6347 §4.2.4).
 *
 * The engine's other files, each called from here through hs_priv.h:
 *   hs_hello.c          ClientHello and its extensions; suite, group,
 *                       certificate and signature scheme choice
 *   hs_server_flight.c  ServerHello .. ServerHelloDone, CertificateRequest
 *   hs_client_auth.c    client Certificate and CertificateVerify
 *   hs_keys.c           transcript, ClientKeyExchange, master secret / EMS,
 *                       key block, Finished
 *   hs_resume.c         RFC 5077 session tickets: resume or fall back,
 *                       NewSessionTicket, the abbreviated handshake
 *   hs_records.c        epoch-1 record seal/open, alerts, early epoch-1
 *                       records, hs_close / hs_seal_app
 *   hs_errors.c         the one error → alert mapping, failure reasons
 *   hs_ctx.c            struct hs_ctx and the parameters
 *   hs_cookie.c         the stateless cookie exchange
 *   hs_peek.c           ClientHello view of a raw datagram (hs_ch_peek)
 *
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
void hs_flight_started(struct hs *hs)
{
    hs->resent = false;
    hs->peer_gap_ms = HS_PEER_RESEND_GAP_MS;
}

void hs_out_reset(struct hs *hs, struct hs_out *out)
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

static int fail(struct hs *hs, struct hs_out *out, int err)
{
    int alert = hs_alert_for_error(err);

    if (hs->state == ST_FAILED)
        return hs_public_error(err);
    if (alert >= 0) {
        /* Anything queued for this call is moot; the alert goes alone. */
        out->n_dgrams = 0;
        hs->n_alerts = 0;
        (void)hs_queue_alert(hs, out, DP_ALERT_LEVEL_FATAL, (uint8_t)alert);
    }
    out->n_app = 0;
    out->event = HS_EV_FAILED;
    if (alert >= 0)
        out->alert = alert;
    out->next_timer_ms = 0;
    if (hs->fail_reason == HS_FAIL_NONE)
        hs->fail_reason = hs_reason_for_error(err);
    /* RFC 5246 §7.2.2: "Servers and clients MUST forget any
     * session-identifiers, keys, and secrets associated with a failed
     * connection." */
    hs_sesscache_forget(hs);
    hs_end(hs, ST_FAILED);
    return hs_public_error(err);
}

void hs_end(struct hs *hs, enum hs_state terminal)
{
    if (terminal == ST_FAILED)
        hs->ended_in = hs->state; /* what it waited for (hs_state_name) */
    hs->state = terminal;
    hs->timer_deadline_ms = 0;
}

/* ---- flights ------------------------------------------------------------ */

int hs_emit_flight(struct hs *hs, struct hs_out *out)
{
    struct hs_record_sealer sealer = {hs_seal_record, 0, hs};
    size_t mtu = hs->ctx->p.mtu_bytes;
    size_t total = 0;
    unsigned n = 0;
    int rc;

    CR_ENSURE(hs->have_flight && !hs->flight_emitted, CR_ERR_INVAL);
    if (hs->keys_ready)
        sealer.overhead = hs_aead_overhead(hs);
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
    CR_GUARD(hs_emit_flight(hs, out));
    hs->stats.retransmits++;
    return 0;
}

/* ---- the transition table ----------------------------------------------- */

/* The ChangeCipherSpec record as a table input, beside the handshake
 * message types (DP_HS_*, all below 256). */
#define IN_CCS 0x100

/* A handler consumes one input (msg is NULL for the ChangeCipherSpec) and
 * returns < 0 (fatal: hs_input maps it to an alert), or an enum hs_step
 * naming which of its entry's next states the handshake enters. */
typedef int (*step_handler)(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                            uint64_t now_ms);

struct transition {
    enum hs_state state;
    uint16_t input;  /* DP_HS_* message type, or IN_CCS */
    uint16_t epoch;  /* epoch the input must arrive in */
    bool hash_first; /* transcript gets the message before the handler */
    step_handler fn;
    enum hs_state next; /* entered on HS_STEP_NEXT */
    enum hs_state alt;  /* entered on HS_STEP_ALT */
    /* entered on HS_STEP_RESUME (the ClientHello's entry only; 0 where a
     * handler never resumes, and such a step is an internal error) */
    enum hs_state resume;
};

/* RFC 5246 §7.1: ChangeCipherSpec switches the client's read epoch.  Keys
 * are known in both states that take it: read epoch 1 now.  In
 * ST_WAIT_CERT_VERIFY the client's Finished then tells omission from loss:
 * without CertificateVerify it carries the message_seq CertificateVerify
 * should have had and is delivered now, in this state, as
 * unexpected_message; after a lost CertificateVerify it waits in
 * reassembly. */
static int on_ccs_read_epoch1(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                              uint64_t now_ms)
{
    (void)msg;
    (void)out;
    (void)now_ms;
    CR_GUARD(hs_activate_read_epoch1(hs));
    return HS_STEP_NEXT;
}

/* Reordered ahead of (or lost) ClientKeyExchange: remembered, and fed
 * through the table again once the handshake waits for it. */
static int on_ccs_early(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                        uint64_t now_ms)
{
    (void)msg;
    (void)out;
    (void)now_ms;
    hs->ccs_early = true;
    return HS_STEP_NEXT;
}

/* RFC 6347 §4.2.4: a repeated client final flight asks for our last one. */
static int on_ccs_repeat(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                         uint64_t now_ms)
{
    (void)msg;
    (void)out;
    (void)now_ms;
    hs->resend_requested = true;
    return HS_STEP_NEXT;
}

/* Every legal (state, input) pair, with its handler and next state.  Any
 * handshake message not listed (or in another epoch) is
 * unexpected_message (RFC 5246 §7.2.2); a ChangeCipherSpec not listed is
 * dropped (HS_DROP_CCS_UNEXPECTED).  The state changes only in dispatch(),
 * from this table; hs_end() alone enters ST_CLOSED / ST_FAILED. */
static const struct transition transitions[] = {
    /* state, input, epoch, hash_first, handler, next, alt[, resume] */
    /* ClientHello -> flight 2; the client's Certificate first when the
     * flight has a CertificateRequest; a ticket that resumes -> the
     * abbreviated flight (ServerHello, [NewSessionTicket], CCS, Finished) */
    {ST_WAIT_CH, DP_HS_CLIENT_HELLO, 0, false, hs_on_client_hello, ST_WAIT_CKE, ST_WAIT_CLIENT_CERT,
     ST_WAIT_CCS_RESUMED},
    {ST_WAIT_CLIENT_CERT, DP_HS_CERTIFICATE, 0, true, hs_on_client_certificate, ST_WAIT_CKE,
     ST_WAIT_CKE},
    {ST_WAIT_CLIENT_CERT, IN_CCS, 0, false, on_ccs_early, ST_WAIT_CLIENT_CERT, ST_WAIT_CLIENT_CERT},
    /* ClientKeyExchange -> CCS; CertificateVerify first after a client
     * certificate */
    {ST_WAIT_CKE, DP_HS_CLIENT_KEY_EXCHANGE, 0, true, hs_on_client_key_exchange, ST_WAIT_CCS,
     ST_WAIT_CERT_VERIFY},
    {ST_WAIT_CKE, IN_CCS, 0, false, on_ccs_early, ST_WAIT_CKE, ST_WAIT_CKE},
    /* CertificateVerify -> CCS; Finished when the CCS was already read */
    {ST_WAIT_CERT_VERIFY, DP_HS_CERTIFICATE_VERIFY, 0, false, hs_on_certificate_verify, ST_WAIT_CCS,
     ST_WAIT_FINISHED},
    {ST_WAIT_CERT_VERIFY, IN_CCS, 0, false, on_ccs_read_epoch1, ST_WAIT_CERT_VERIFY,
     ST_WAIT_CERT_VERIFY},
    {ST_WAIT_CCS, IN_CCS, 0, false, on_ccs_read_epoch1, ST_WAIT_FINISHED, ST_WAIT_FINISHED},
    /* Finished -> our CCS + Finished */
    {ST_WAIT_FINISHED, DP_HS_FINISHED, 1, false, hs_on_finished, ST_ESTABLISHED, ST_ESTABLISHED},
    /* Abbreviated handshake (RFC 5246 §7.3, RFC 5077 §3.1): the client's
     * CCS, then its Finished ends it (our flight already went) */
    {ST_WAIT_CCS_RESUMED, IN_CCS, 0, false, on_ccs_read_epoch1, ST_WAIT_FINISHED_RESUMED,
     ST_WAIT_FINISHED_RESUMED},
    {ST_WAIT_FINISHED_RESUMED, DP_HS_FINISHED, 1, false, hs_on_finished_resumed, ST_ESTABLISHED,
     ST_ESTABLISHED},
    {ST_ESTABLISHED, IN_CCS, 0, false, on_ccs_repeat, ST_ESTABLISHED, ST_ESTABLISHED},
};

static const struct transition *find_transition(enum hs_state state, uint16_t input)
{
    for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
        if (transitions[i].state == state && transitions[i].input == input)
            return &transitions[i];
    return NULL;
}

/* Feeds one input (a complete handshake message, or IN_CCS with msg NULL)
 * through the table: the one place the handshake's state advances. */
static int dispatch(struct hs *hs, uint16_t input, uint16_t epoch, const struct hs_reasm_msg *msg,
                    struct hs_out *out, uint64_t now_ms)
{
    const struct transition *t = find_transition(hs->state, input);

    if (!t || t->epoch != epoch) {
        if (input == IN_CCS) {
            hs_drop(hs, HS_DROP_CCS_UNEXPECTED);
            return 0;
        }
        return HS_ERR_UNEXPECTED;
    }
    if (t->hash_first)
        CR_GUARD(hs_transcript_add(hs, msg->type, msg->seq, msg->body, msg->len));
    int step = t->fn(hs, msg, out, now_ms);
    CR_GUARD(step);
    CR_ENSURE(step != HS_STEP_RESUME || t->resume != ST_WAIT_CH, CR_ERR_INVAL);
    hs->state = step == HS_STEP_RESUME ? t->resume : step == HS_STEP_ALT ? t->alt : t->next;
    /* A ChangeCipherSpec that overtook the message before it (on_ccs_early)
     * is taken now that the handshake waits for it. */
    if (hs->state == ST_WAIT_CCS && hs->ccs_early) {
        hs->ccs_early = false;
        return dispatch(hs, IN_CCS, 0, NULL, out, now_ms);
    }
    return 0;
}

static int process_messages(struct hs *hs, struct hs_out *out, uint64_t now_ms)
{
    struct hs_reasm_msg msg;

    while (hs->state < ST_ESTABLISHED && hs_reasm_next(&hs->reasm, &msg) == 1)
        CR_GUARD(dispatch(hs, msg.type, msg.epoch, &msg, out, now_ms));
    if (hs->state == ST_ESTABLISHED) {
        /* Messages after the handshake (epoch 0 from anyone, or reordered
         * leftovers) are unauthenticated or stale: drop, never fatal. */
        while (hs_reasm_next(&hs->reasm, &msg) == 1)
            hs_drop(hs, HS_DROP_AFTER_HANDSHAKE);
        /* Nothing after ESTABLISHED is ever delivered: partial messages
         * would only hold the ctx's shared reassembly budget for the
         * session's life. */
        hs_reasm_clear(&hs->reasm);
    }
    return 0;
}

void hs_feed_handshake(struct hs *hs, uint16_t epoch, const uint8_t *body, size_t len)
{
    unsigned flags = 0;
    uint64_t refused = hs->reasm.refused_cap;
    int rc = hs_reasm_add_record(&hs->reasm, epoch, body, len, &flags);
    if (rc < 0) {
        /* Malformed or over a cap: silent. */
        if (hs->reasm.refused_cap != refused) {
            hs->stats.reasm_refused++;
            hs_drop(hs, HS_DROP_REASM_CAP);
        } else {
            hs_drop(hs, rc == CR_ERR_DECODE ? HS_DROP_FRAGMENT_MALFORMED : HS_DROP_FRAGMENT_LIMIT);
        }
        return;
    }
    if (flags & HS_REASM_F_OLD)
        hs->resend_requested = true; /* peer repeated its last flight */
    if (flags & HS_REASM_F_CONFLICT)
        hs_drop(hs, HS_DROP_FRAGMENT_CONFLICT);
    else if (flags & HS_REASM_F_FUTURE)
        hs_drop(hs, HS_DROP_FRAGMENT_FUTURE);
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

int hs_handle_record(struct hs *hs, const struct dp_record *rec, struct hs_out *out,
                     uint64_t now_ms)
{
    if (rec->epoch == 1) {
        if (!hs->keys_ready && hs->state != ST_WAIT_CKE && hs->state != ST_WAIT_CLIENT_CERT &&
            hs->state != ST_WAIT_CERT_VERIFY) {
            hs_drop(hs, HS_DROP_EPOCH1_TOO_EARLY);
            return 0;
        }
        CR_GUARD(hs_handle_epoch1(hs, rec, out));
        return process_messages(hs, out, now_ms);
    }
    if (rec->epoch != 0) {
        hs_drop(hs, HS_DROP_EPOCH_UNKNOWN);
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
                hs_drop(hs, HS_DROP_FIRST_NOT_CLIENT_HELLO);
                return 0;
            }
            hs->first_record_seen = true;
            hs->reasm.next_seq = h.message_seq;
            hs->wseq[0] = rec->seq;
        }
        if (hs->read_epoch1 && !epoch0_after_ccs_ok(hs, rec->fragment, rec->length)) {
            hs_drop(hs, HS_DROP_EPOCH0_AFTER_CCS);
            return 0;
        }
        hs_feed_handshake(hs, 0, rec->fragment, rec->length);
        return process_messages(hs, out, now_ms);
    case DP_CT_CHANGE_CIPHER_SPEC:
        /* RFC 5246 §7.1: the message is a single byte of value 1. */
        if (rec->length != DP_CCS_LEN || rec->fragment[0] != DP_CCS_VALUE) {
            hs_drop(hs, HS_DROP_CCS_MALFORMED);
            return 0;
        }
        return dispatch(hs, IN_CCS, 0, NULL, out, now_ms);
    case DP_CT_ALERT:
        if (hs->read_epoch1) {
            hs_drop(hs, HS_DROP_ALERT_PLAINTEXT); /* must be protected by now */
            return 0;
        }
        return hs_on_alert(hs, rec->fragment, rec->length, out);
    default:
        hs_drop(hs, HS_DROP_CONTENT_TYPE);
        return 0;
    }
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
    /* Waiting for a Finished that only came as records failing
     * authentication: the client derived other keys (a wrong PSK). */
    hs->fail_reason =
        hs->state == ST_WAIT_FINISHED && hs->stats.bad_mac > 0 ? HS_FAIL_BAD_FINISHED : why;
    hs_end(hs, ST_FAILED);
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
    hs_out_reset(hs, out);
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
            hs_drop(hs, HS_DROP_RECORD_INVALID); /* rest of the datagram dropped */
            break;
        }
        CR_GUARD_GOTO(hs_handle_record(hs, &rec, out, now_ms), failed);
        if (hs->read_epoch1 && hs->n_early > 0)
            CR_GUARD_GOTO(hs_replay_early(hs, out, now_ms), failed);
    }
    if (hs->resend_requested && hs->state != ST_CLOSED)
        CR_GUARD_GOTO(resend_flight(hs, out, now_ms, true), failed);
    out->next_timer_ms = next_timer(hs);
    return 0;
failed:
    return fail(hs, out, rc);
}

int hs_timeout(struct hs *hs, uint64_t now_ms, struct hs_out *out)
{
    int rc;

    if (!hs || !out)
        return CR_ERR_INVAL;
    hs_out_reset(hs, out);
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
    /* out_buf holds only what went on the wire (as hs_emit_flight's regrowth
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
