/* hs_resume.c — session resumption with RFC 5077 session tickets and the
 * session-ID cache (RFC 5246 §7.4.1.2, hs_sesscache.h): whether a
 * ClientHello's ticket or session_id resumes (and why not, by reason), the
 * NewSessionTicket message, the abbreviated handshake's flight (RFC 5246
 * §7.3: ServerHello, [NewSessionTicket], ChangeCipherSpec, Finished) and
 * the client's Finished that ends it.
 *
 * Owns: nothing beyond the handshake's fields it fills; the opened ticket
 * state lives on the stack only as long as one call (cleansed).  Must not:
 * resume a session without the extended master secret (RFC 7627 §5.3),
 * reuse a session's old keys or sequence numbers (a resumed session gets a
 * fresh key block over the new randoms), or keep the master secret past
 * hs_free.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <string.h>

#include <openssl/crypto.h>

#include <openssl/rand.h>

#include "hs_sesscache.h"
#include "hs_ticket.h"

_Static_assert((int)HS_RESUME_FB_UNSEALED == (int)HS_TICKET_ERR_UNSEALED &&
                   (int)HS_RESUME_FB_FUTURE == (int)HS_TICKET_ERR_FUTURE,
               "the first fallbacks are hs_ticket.h's errors, same values");
_Static_assert(HS_TICKET_MASTER_LEN == HS_MASTER_LEN, "ticket master secret");
_Static_assert(HS_SESSCACHE_ID_LEN == DP_HELLO_SESSION_ID_MAX, "a full session_id");
_Static_assert(HS_SESSION_CACHE_MAX_ENTRIES == HS_SESSCACHE_MAX_ENTRIES, "hs.h cache bound");

static void fallback(struct hs *hs, enum hs_resume_fallback why)
{
    if ((unsigned)why < HS_RESUME_FB_N)
        hs->stats.resume_fallbacks[why]++;
}

static bool is_psk_kex(uint8_t kex)
{
    return kex == HS_KEX_PSK || kex == HS_KEX_ECDHE_PSK;
}

/* Whether the ticket's session may resume on this listener now; the
 * fallback reason when not. */
static enum hs_resume_fallback policy(const struct hs *hs, const struct client_hello *ch,
                                      const struct hs_ticket_state *st)
{
    const struct hs_suite_info *s = hs_suite_find(st->suite);
    bool enabled = false;

    if (st->version != DP_VERSION_DTLS12)
        return HS_RESUME_FB_VERSION;
    /* RFC 5246 §7.4.1.2: a resumed session's cipher suite must be among
     * the ClientHello's; and it must still be one this listener uses. */
    for (unsigned i = 0; s && i < hs->ctx->n_suites; i++)
        enabled |= hs->ctx->suites[i] == st->suite;
    if (!s || s->kex != st->kex || !enabled || !hs_ch_suite_offered(ch, st->suite))
        return HS_RESUME_FB_SUITE;
    /* RFC 6066 §3: "A server that implements this extension MUST NOT
     * accept the request to resume the session if the server_name
     * extension contains a different name." */
    if (strcmp(st->sni, hs->keys.sni) != 0)
        return HS_RESUME_FB_SNI;
    if (hs->ctx->p.client_auth == HS_CLIENT_AUTH_REQUIRE &&
        (s->kex == HS_KEX_ECDHE_ECDSA || s->kex == HS_KEX_ECDHE_RSA) &&
        !(st->flags & HS_TICKET_FLAG_CLIENT_CERT))
        return HS_RESUME_FB_CLIENT_AUTH;
    if (is_psk_kex(st->kex)) {
        /* The identity must still exist with the key the session was
         * built on (a removed or re-keyed identity resumes nothing). */
        uint8_t d[HS_TICKET_DIGEST_LEN];
        const struct hs_psk_entry *e =
            hs_creds_find_psk(hs->ctx->creds, (const uint8_t *)st->identity, st->identity_len);
        if (!e || hs_ticket_psk_digest(st->identity, e->key, e->key_len, d) != 0 ||
            CRYPTO_memcmp(d, st->psk_digest, sizeof(d)) != 0)
            return HS_RESUME_FB_PSK;
    }
    return HS_RESUME_FB_NONE;
}

/* The session takes over st: suite, master secret, identity. */
static void resume_from(struct hs *hs, const struct hs_ticket_state *st)
{
    hs->suite = hs_suite_find(st->suite);
    memcpy(hs->master, st->master, HS_MASTER_LEN);
    memcpy(hs->keys.peer_identity, st->identity, st->identity_len);
    hs->keys.peer_identity[st->identity_len] = '\0';
    hs->client_cert = (st->flags & HS_TICKET_FLAG_CLIENT_CERT) != 0;
    hs->resumed = true;
    hs->stats.resumed++;
}

/* RFC 5246 §7.4.1.2: "If the session_id is found and the server is
 * willing to establish the new connection using the specified session
 * state, the server will respond with the same value as was supplied by
 * the client."  Otherwise a full handshake; when it issues no ticket and
 * the session has EMS, it gets a fresh session_id for the cache. */
static int sessid_try(struct hs *hs, const struct client_hello *ch, uint64_t now_ms)
{
    struct hs_ctx *ctx = hs->ctx;
    const uint8_t *id = hs_cur_data(&ch->session_id);
    size_t id_len = hs_cur_len(&ch->session_id);
    struct hs_ticket_state st;

    if (!ctx->sc)
        return 0;
    if (id_len > 0) {
        int v = hs_sesscache_get(ctx->sc, id, id_len, now_ms, &st);
        if (v == HS_SESSCACHE_EXPIRED)
            hs->stats.sessid_expired++;
        else if (v == HS_SESSCACHE_MISS && ctx->sc_tag >= 0 && id_len == HS_SESSCACHE_ID_LEN &&
                 id[0] != (uint8_t)ctx->sc_tag)
            hs->stats.sessid_other++;
        else if (v == HS_SESSCACHE_MISS)
            hs->stats.sessid_miss++;
        if (v == HS_SESSCACHE_HIT) {
            /* RFC 7627 §5.3, as for tickets: every cached session has
             * EMS (hs_sesscache_put refuses others). */
            if (!ch->ems) {
                OPENSSL_cleanse(&st, sizeof(st));
                hs->fail_reason = HS_FAIL_RESUME_NO_EMS;
                return HS_ERR_HANDSHAKE;
            }
            enum hs_resume_fallback why = policy(hs, ch, &st);
            if (why == HS_RESUME_FB_NONE) {
                resume_from(hs, &st);
                OPENSSL_cleanse(&st, sizeof(st));
                memcpy(hs->session_id, id, id_len);
                hs->session_id_len = (uint8_t)id_len;
                hs->resumed_id = true;
                hs->send_ticket = false; /* the client resumes by id; no ticket */
                hs->stats.sessid_hit++;
                return 1;
            }
            OPENSSL_cleanse(&st, sizeof(st));
            hs->stats.sessid_refused++;
        }
    }
    /* A full handshake: a session_id for the cache when the session may
     * be resumed (RFC 7627 §5.3: EMS) and the client gets no ticket. */
    if (hs->ems && !hs->send_ticket) {
        CR_ENSURE(RAND_bytes(hs->session_id, HS_SESSCACHE_ID_LEN) == 1, CR_ERR_CRYPTO);
        if (ctx->sc_tag >= 0)
            hs->session_id[0] = (uint8_t)ctx->sc_tag;
        hs->session_id_len = HS_SESSCACHE_ID_LEN;
    }
    return 0;
}

int hs_resume_try(struct hs *hs, const struct client_hello *ch, uint64_t now_ms)
{
    const struct hs_ctx *ctx = hs->ctx;
    struct hs_ticket_state st;
    bool renew = false;

    hs->send_ticket = false;
    hs->resumed = false;
    hs->resumed_id = false;
    hs->session_id_len = 0;
    /* RFC 5077 §3.4: "If a ticket is presented by the client, the server
     * MUST NOT attempt to use the Session ID in the ClientHello for
     * stateful session resumption." */
    bool ticket_presented = ch->ticket_sent && hs_cur_len(&ch->ticket) > 0;
    if (!ctx->tk_ring || !ch->ticket_sent)
        return ticket_presented ? 0 : sessid_try(hs, ch, now_ms); /* tickets off, or none wanted */
    /* RFC 7627 §5.3: never issue a ticket for a session without EMS. */
    hs->send_ticket = hs->ems;
    if (!ticket_presented)
        return sessid_try(hs, ch, now_ms); /* asks for a ticket */
    int r =
        hs_ticket_open(ctx->tk_ring, ctx->tk_listener, hs_cur_data(&ch->ticket),
                       hs_cur_len(&ch->ticket), ctx->tk_clock_s(ctx->tk_clock_arg), &st, &renew);
    if (r != HS_TICKET_OK) {
        fallback(hs, (enum hs_resume_fallback)r);
        return 0;
    }
    /* RFC 7627 §5.3: "If the original session used the extension but the
     * new ClientHello does not contain it, the server MUST abort the
     * abbreviated handshake."  Every ticket that opens is of an EMS
     * session (hs_ticket_open refuses others). */
    if (!ch->ems) {
        OPENSSL_cleanse(&st, sizeof(st));
        hs->fail_reason = HS_FAIL_RESUME_NO_EMS;
        return HS_ERR_HANDSHAKE;
    }
    enum hs_resume_fallback why = policy(hs, ch, &st);
    if (why != HS_RESUME_FB_NONE) {
        OPENSSL_cleanse(&st, sizeof(st));
        fallback(hs, why);
        return 0;
    }
    resume_from(hs, &st);
    hs->tk_issued_s = st.issued_s;
    hs->tk_lifetime_s = st.lifetime_s;
    /* RFC 5077 §3.3 lets the server renew the ticket on resumption: done
     * when an older key of the ring opened it (the ticket would stop
     * opening once that key leaves the ring), with the same expiry, so a
     * master secret lives at most one ticket lifetime after its full
     * handshake.  Otherwise the client keeps the ticket it has. */
    hs->send_ticket = renew;
    OPENSSL_cleanse(&st, sizeof(st));
    return 1;
}

/* The session's state as a ticket or the cache keeps it (the caller
 * sets issued_s and lifetime_s, and wipes st). */
static int session_state(const struct hs *hs, struct hs_ticket_state *st)
{
    memset(st, 0, sizeof(*st));
    st->version = DP_VERSION_DTLS12;
    st->suite = hs->suite->id;
    st->kex = (uint8_t)hs->suite->kex;
    st->flags =
        (hs->ems ? HS_TICKET_FLAG_EMS : 0) | (hs->client_cert ? HS_TICKET_FLAG_CLIENT_CERT : 0);
    memcpy(st->master, hs->master, HS_MASTER_LEN);
    st->identity_len = (uint8_t)strnlen(hs->keys.peer_identity, HS_TICKET_ID_MAX_LEN);
    memcpy(st->identity, hs->keys.peer_identity, st->identity_len);
    st->sni_len = (uint8_t)strnlen(hs->keys.sni, HS_TICKET_SNI_MAX_LEN);
    memcpy(st->sni, hs->keys.sni, st->sni_len);
    if (!is_psk_kex(st->kex))
        return 0;
    const struct hs_psk_entry *e =
        hs_creds_find_psk(hs->ctx->creds, (const uint8_t *)st->identity, st->identity_len);
    return e ? hs_ticket_psk_digest(st->identity, e->key, e->key_len, st->psk_digest)
             : CR_ERR_INVAL;
}

void hs_sesscache_store(struct hs *hs, uint64_t now_ms)
{
    struct hs_ticket_state st;
    bool evicted = false;

    if (!hs->ctx->sc || hs->resumed || hs->session_id_len != HS_SESSCACHE_ID_LEN || !hs->ems)
        return;
    if (session_state(hs, &st) == 0 &&
        hs_sesscache_put(hs->ctx->sc, hs->session_id, &st, now_ms, &evicted) == 0) {
        hs->stats.sessid_stored++;
        hs->stats.sessid_evicted += evicted;
    }
    OPENSSL_cleanse(&st, sizeof(st));
}

void hs_sesscache_forget(struct hs *hs)
{
    if (hs->ctx->sc && hs->session_id_len == HS_SESSCACHE_ID_LEN)
        (void)hs_sesscache_remove(hs->ctx->sc, hs->session_id, hs->session_id_len);
}

int hs_add_new_session_ticket(struct hs *hs)
{
    const struct hs_ctx *ctx = hs->ctx;
    struct hs_ticket_state st;
    uint8_t ticket[HS_TICKET_MAX_LEN];
    size_t ticket_len = 0;
    uint64_t now_s = ctx->tk_clock_s(ctx->tk_clock_arg);
    uint32_t hint;
    struct hs_buf b;
    size_t m;

    int rc = session_state(hs, &st);
    if (hs->resumed) {
        st.issued_s = hs->tk_issued_s;
        st.lifetime_s = hs->tk_lifetime_s;
    } else {
        st.issued_s = now_s;
        st.lifetime_s = ctx->tk_lifetime_s;
    }
    if (rc == 0)
        rc = hs_ticket_seal(ctx->tk_ring, ctx->tk_listener, &st, ticket, sizeof(ticket),
                            &ticket_len);
    /* RFC 5077 §3.3: "If the server determines that it does not want to
     * include a ticket after it has included the SessionTicket extension
     * in the ServerHello, then it sends a zero-length ticket". */
    if (rc != 0)
        ticket_len = 0;
    /* ticket_lifetime_hint: seconds the ticket is good for from now. */
    uint64_t end = st.issued_s + st.lifetime_s;
    hint = ticket_len == 0 || end <= now_s ? 0
           : end - now_s > st.lifetime_s   ? st.lifetime_s
                                           : (uint32_t)(end - now_s);
    OPENSSL_cleanse(&st, sizeof(st));

    /* struct { uint32 ticket_lifetime_hint; opaque ticket<0..2^16-1>; } */
    hs_buf_init(&b, HS_TICKET_MAX_LEN + 8);
    hs_buf_u32(&b, hint);
    hs_buf_open(&b, 2, &m);
    hs_buf_bytes(&b, ticket, ticket_len);
    hs_buf_close(&b, 2, m);
    rc = hs_add_message(hs, 0, DP_HS_NEW_SESSION_TICKET, &b);
    hs_buf_free(&b);
    if (rc == 0 && ticket_len > 0)
        hs->stats.tickets_issued++;
    return rc;
}

int hs_build_resumed_flight(struct hs *hs, const struct client_hello *ch)
{
    hs_flight_reset(&hs->flight);
    hs->have_flight = true;
    hs->flight_final = false;
    hs_flight_started(hs);
    /* RFC 5077 §3.4: "If the server accepts the ticket and the Session ID
     * is not empty, then it MUST respond with the same Session ID present
     * in the ClientHello." */
    CR_GUARD(
        hs_add_server_hello(hs, ch, hs_cur_data(&ch->session_id), hs_cur_len(&ch->session_id)));
    if (hs->send_ticket)
        CR_GUARD(hs_add_new_session_ticket(hs));
    /* RFC 5246 §7.3: both sides compute new keys from the stored master
     * secret and the new randoms before the ChangeCipherSpec. */
    CR_GUARD(hs_derive_key_block(hs));
    return hs_add_ccs_finished(hs);
}

int hs_on_finished_resumed(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                           uint64_t now_ms)
{
    uint8_t expect[HS_VERIFY_DATA_LEN];

    (void)now_ms;
    /* The client's Finished covers ClientHello, ServerHello,
     * [NewSessionTicket] and our Finished (RFC 5246 §7.4.9). */
    CR_ENSURE(msg->len == HS_VERIFY_DATA_LEN, CR_ERR_DECODE);
    CR_GUARD(hs_finished_data(hs, "client finished", expect));
    if (CRYPTO_memcmp(expect, msg->body, HS_VERIFY_DATA_LEN) != 0) {
        hs->fail_reason = HS_FAIL_BAD_FINISHED;
        return HS_ERR_DECRYPT;
    }
    /* RFC 6347 §4.2.4: in a resumed handshake the client sends the last
     * flight; ours is never sent again (a repeated client flight gets no
     * answer: the client holds the retransmission state). */
    hs->timer_deadline_ms = 0;
    hs_flight_reset(&hs->flight);
    hs->have_flight = false;
    hs_fill_established(hs);
    out->event = HS_EV_ESTABLISHED;
    hs_buf_free(&hs->transcript);
    cr_hash_run_free(hs->th);
    hs->th = NULL;
    return 0;
}
