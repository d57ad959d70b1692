/* hs_ticket.h — the session state a resumable session keeps (RFC 5077 §4:
 * "protocol version, cipher suite, compression, master secret, client
 * identity, timestamp"), its byte encoding, and its sealing into a ticket
 * under the listener's ticket keys (crypto/cr_seal.h).
 *
 * A ticket is bound to its listener (the listener's name is the sealing
 * AAD: a ticket of one listener never resumes on another, even where
 * several share one key file), expires (issued + lifetime, checked against
 * the caller's clock), and exists only for sessions with the extended
 * master secret (RFC 7627 §5.3: a session without it MUST NOT be resumed;
 * hs_ticket_seal refuses to seal one and hs_ticket_open refuses to return
 * one).  A PSK session's ticket carries a digest of the PSK it was built
 * on, so a ticket no longer resumes once its identity is removed or
 * re-keyed (the caller compares, hs_ticket_psk_digest).
 *
 * Owns: nothing (pure functions).  Must not: keep the master secret
 * anywhere but the caller's struct (every stack copy is cleansed).
 */
#ifndef DTLSGW_HS_TICKET_H
#define DTLSGW_HS_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "cr_seal.h"

#define HS_TICKET_FORMAT        1 /* first byte of the encoding */
#define HS_TICKET_MASTER_LEN    48
#define HS_TICKET_DIGEST_LEN    16  /* truncated SHA-256 */
#define HS_TICKET_ID_MAX_LEN    255 /* == HS_IDENTITY_MAX_LEN */
#define HS_TICKET_SNI_MAX_LEN   255 /* == HS_SNI_MAX_LEN */
#define HS_TICKET_LABEL         "dtlsgw ticket v1"
#define HS_TICKET_FUTURE_SKEW_S 60 /* issued at most this far in our future */
/* format(1) version(2) suite(2) kex(1) flags(1) master(48) issued(8)
 * lifetime(4) psk_digest(16) cert_digest(16) id_len(1) id sni_len(1) sni */
#define HS_TICKET_FIXED_LEN                                                                        \
    (1 + 2 + 2 + 1 + 1 + HS_TICKET_MASTER_LEN + 8 + 4 + 2 * HS_TICKET_DIGEST_LEN + 1 + 1)
#define HS_TICKET_STATE_MAX_LEN (HS_TICKET_FIXED_LEN + HS_TICKET_ID_MAX_LEN + HS_TICKET_SNI_MAX_LEN)
/* RFC 5077 §3.3: opaque ticket<0..2^16-1>; ours are far shorter. */
#define HS_TICKET_MAX_LEN (HS_TICKET_STATE_MAX_LEN + CR_SEAL_OVERHEAD)

#define HS_TICKET_FLAG_EMS         0x01
#define HS_TICKET_FLAG_CLIENT_CERT 0x02

struct hs_ticket_state {
    uint16_t version; /* record/protocol version of the session (0xfefd) */
    uint16_t suite;
    uint8_t kex;   /* enum hs_kex */
    uint8_t flags; /* HS_TICKET_FLAG_* */
    uint8_t master[HS_TICKET_MASTER_LEN];
    uint64_t issued_s;                         /* caller's wall clock, seconds */
    uint32_t lifetime_s;                       /* ticket_lifetime_hint sent to the client */
    uint8_t psk_digest[HS_TICKET_DIGEST_LEN];  /* PSK sessions; else zero */
    uint8_t cert_digest[HS_TICKET_DIGEST_LEN]; /* client certificate; else zero */
    uint8_t identity_len;
    char identity[HS_TICKET_ID_MAX_LEN + 1]; /* PSK identity or cert subject */
    uint8_t sni_len;
    char sni[HS_TICKET_SNI_MAX_LEN + 1];
};

/* Why a ticket did not resume (the caller falls back to a full handshake,
 * RFC 5077 §3.4, and counts the reason). */
#define HS_TICKET_ERRORS(X)                                                                        \
    X(UNSEALED, "ticket does not open under any of the listener's keys")                           \
    X(MALFORMED, "ticket state encoding is malformed")                                             \
    X(NO_EMS, "session without extended master secret (RFC 7627 5.3)")                             \
    X(EXPIRED, "ticket lifetime has passed")                                                       \
    X(FUTURE, "ticket issued in the future")

enum hs_ticket_err {
    HS_TICKET_OK = 0,
#define X(name, str) HS_TICKET_ERR_##name,
    HS_TICKET_ERRORS(X)
#undef X
    HS_TICKET_ERR_N
};
const char *hs_ticket_strerror(int err);

/* Encodes st into out (HS_TICKET_STATE_MAX_LEN bytes suffice): its length,
 * or CR_ERR_LIMIT / CR_ERR_INVAL (identity or SNI longer than their field
 * says, lengths disagreeing with the strings). */
CR_WUR int hs_ticket_encode(const struct hs_ticket_state *st, uint8_t *out, size_t cap);
/* Decodes exactly len bytes; HS_TICKET_ERR_MALFORMED on any inconsistency
 * (unknown format, lengths past the end, trailing bytes, NUL inside the
 * identity or SNI). */
int hs_ticket_decode(const uint8_t *p, size_t len, struct hs_ticket_state *st);

/* Seals st for listener (its name) under ring's current key: the ticket
 * bytes and their length into out (HS_TICKET_MAX_LEN suffice).  Refuses a
 * session without EMS (CR_ERR_INVAL). */
CR_WUR int hs_ticket_seal(struct cr_seal_ring *ring, const char *listener,
                          const struct hs_ticket_state *st, uint8_t *out, size_t cap,
                          size_t *out_len);
/* Opens a ticket a client presented at now_s: HS_TICKET_OK with st filled
 * (and *renew true when an older key sealed it: issue a fresh ticket), or
 * an HS_TICKET_ERR_* reason with st wiped. */
int hs_ticket_open(const struct cr_seal_ring *ring, const char *listener, const uint8_t *ticket,
                   size_t len, uint64_t now_s, struct hs_ticket_state *st, bool *renew);

/* The digest a PSK session's ticket carries: SHA-256(identity || 0 || key)
 * truncated to HS_TICKET_DIGEST_LEN. */
CR_WUR int hs_ticket_psk_digest(const char *identity, const uint8_t *key, size_t key_len,
                                uint8_t out[HS_TICKET_DIGEST_LEN]);

#endif
