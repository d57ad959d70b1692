/* hs_priv.h — declarations shared by the handshake engine's own files
 * (control/engine/hs_*.c) and their unit tests: the handshake (struct hs),
 * its states, the engine's failure codes and the functions one engine file
 * calls in another.
 * Not part of the public API (hs.h); nothing outside control/engine/ and
 * tests/unit may include it.
 */
#ifndef DTLSGW_HS_PRIV_H
#define DTLSGW_HS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "cr_aead.h"
#include "cr_cookie.h"
#include "cr_kdf.h"
#include "cr_pk.h"
#include "dp_record.h"
#include "dp_replay.h"
#include "dp_wire.h"
#include "hs.h"
#include "hs_cursor.h"
#include "hs_flight.h"
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
    /* Session tickets (hs_ctx_set_tickets): off when tk_ring is NULL. */
    struct cr_seal_ring *tk_ring; /* not owned */
    char tk_listener[HS_TICKET_LISTENER_MAX_LEN + 1];
    uint32_t tk_lifetime_s;
    uint64_t (*tk_clock_s)(void *arg);
    void *tk_clock_arg;
    /* The session-ID cache (hs_ctx_set_session_cache): off when NULL. */
    struct hs_sesscache *sc;
    int sc_tag; /* -1 or byte 0 of our session_ids */
};

unsigned hs_suite_default_order(uint16_t *out_ids, unsigned max);

/* What the cookie covers (hs_cookie.c documents it): built from the peer and
 * the ClientHello fixed fields. */
#define HS_COOKIE_INPUT_MAX_LEN (1 + 2 + 16 + 2 + 32)
CR_WUR int hs_cookie_input(const struct hs_peer *peer, uint16_t client_version,
                           const uint8_t *random, uint8_t *out, size_t *out_len);

/* ==== the handshake (hs_engine.c and the files it calls) ================ */

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

/* ---- state -------------------------------------------------------------- */
enum hs_state {
    ST_WAIT_CH,          /* ClientHello (with valid cookie) */
    ST_WAIT_CLIENT_CERT, /* client Certificate (we sent CertificateRequest) */
    ST_WAIT_CKE,         /* ClientKeyExchange */
    ST_WAIT_CERT_VERIFY, /* CertificateVerify (client sent a certificate) */
    ST_WAIT_CCS,         /* ChangeCipherSpec record */
    ST_WAIT_FINISHED,    /* client Finished (epoch 1) */
    /* the abbreviated handshake (RFC 5246 §7.3, RFC 5077 §3.1): our
     * ServerHello .. Finished sent, the client's CCS and Finished next */
    ST_WAIT_CCS_RESUMED,
    ST_WAIT_FINISHED_RESUMED,
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
    bool offer_ems, offer_groups, offer_sig_algs;
    /* supported_groups as sent: the first HS_OFFER_GROUPS_MAX ids, and
     * whether more followed */
    uint16_t offer_group_ids[HS_OFFER_GROUPS_MAX];
    unsigned n_offer_groups;
    bool offer_groups_more;
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
    bool ccs_early;    /* CCS arrived before CKE: taken at ST_WAIT_CCS (dispatch) */
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

    /* RFC 5077 session tickets */
    bool send_ticket;     /* a NewSessionTicket goes in our next flight */
    bool resumed;         /* abbreviated handshake from a ticket */
    uint64_t tk_issued_s; /* a renewed ticket keeps the original expiry */
    uint32_t tk_lifetime_s;
    /* The session-ID cache: our ServerHello's session_id (a fresh one for
     * a full handshake that goes into the cache, or the client's for one
     * resumed from it; empty otherwise) */
    uint8_t session_id[DP_HELLO_SESSION_ID_MAX];
    uint8_t session_id_len;
    bool resumed_id; /* abbreviated handshake from the cache */

    struct hs_keys keys;
    struct hs_stats stats;
};

/* ---- ClientHello -------------------------------------------------------- */

struct client_hello {
    uint16_t version;
    struct hs_cur suites;
    bool ems;
    bool reneg;
    bool groups_sent;
    bool x25519, p256, p384;
    uint16_t groups[HS_OFFER_GROUPS_MAX]; /* the first ones, in order (facts) */
    unsigned n_groups;
    bool groups_more;
    bool formats_sent;
    bool uncompressed;
    bool sig_algs_sent;
    uint16_t sig_algs[HS_SIG_ALGS_MAX];
    unsigned n_sig_algs;
    struct hs_cur session_id;
    bool ticket_sent; /* SessionTicket extension (RFC 5077 §3.2) */
    struct hs_cur ticket;
};

/* Every silent drop: the total and its reason (hs.h HS_DROP_REASONS). */
static inline void hs_drop(struct hs *hs, enum hs_drop_reason why)
{
    hs->stats.dropped_records++;
    hs->stats.dropped_by_reason[why]++;
}

/* What a transition handler returns on success: which of its table
 * entry's two next states the handshake enters (hs_engine.c). */
enum hs_step {
    HS_STEP_NEXT = 0,
    HS_STEP_ALT = 1,
    HS_STEP_RESUME = 2, /* the ClientHello's ticket resumes (abbreviated) */
};

/* ---- hs_engine.c: lifecycle, input dispatch, flights and timers -------- */
/* The one way into a terminal state (ST_CLOSED or ST_FAILED) outside the
 * transition table: remembers where a failure ended, stops the timer. */
void hs_end(struct hs *hs, enum hs_state terminal);
/* A new flight was built: its resends start from the initial timer and
 * peer gap again. */
void hs_flight_started(struct hs *hs);
void hs_out_reset(struct hs *hs, struct hs_out *out);
/* Serializes the stored flight into out (once per call). */
CR_WUR int hs_emit_flight(struct hs *hs, struct hs_out *out);
/* One handshake record body (epoch given) into reassembly. */
void hs_feed_handshake(struct hs *hs, uint16_t epoch, const uint8_t *body, size_t len);
/* One record of a datagram: epoch-0 dispatch, epoch 1 to hs_handle_epoch1. */
CR_WUR int hs_handle_record(struct hs *hs, const struct dp_record *rec, struct hs_out *out,
                            uint64_t now_ms);

/* ---- hs_errors.c: the one error -> alert mapping ------------------------ */
int hs_alert_for_error(int err); /* alert description, or -1 for none */
int hs_public_error(int err);    /* the CR_ERR_* hs_input returns */
enum hs_fail_reason hs_reason_for_error(int err);

/* ---- hs_records.c: epoch-1 records, alerts ------------------------------ */
size_t hs_aead_overhead(const struct hs *hs);
/* struct hs_record_sealer's seal for the handshake's write key (arg: hs). */
CR_WUR int hs_seal_record(void *arg, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *pt,
                          size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len);
int hs_queue_alert(struct hs *hs, struct hs_out *out, uint8_t level, uint8_t desc);
CR_WUR int hs_on_alert(struct hs *hs, const uint8_t *body, size_t len, struct hs_out *out);
CR_WUR int hs_activate_read_epoch1(struct hs *hs);
CR_WUR int hs_handle_epoch1(struct hs *hs, const struct dp_record *rec, struct hs_out *out);
/* Once the read epoch is 1: the epoch-1 records held until the CCS. */
CR_WUR int hs_replay_early(struct hs *hs, struct hs_out *out, uint64_t now_ms);

/* ---- message handlers (the transition table's) -------------------------- */
CR_WUR int hs_on_client_hello(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                              uint64_t now_ms);
CR_WUR int hs_on_client_certificate(struct hs *hs, const struct hs_reasm_msg *msg,
                                    struct hs_out *out, uint64_t now_ms);
CR_WUR int hs_on_certificate_verify(struct hs *hs, const struct hs_reasm_msg *msg,
                                    struct hs_out *out, uint64_t now_ms);
CR_WUR int hs_on_client_key_exchange(struct hs *hs, const struct hs_reasm_msg *msg,
                                     struct hs_out *out, uint64_t now_ms);
CR_WUR int hs_on_finished(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                          uint64_t now_ms);

/* ---- hs_hello.c / hs_resume.c: session tickets (RFC 5077) --------------- */
bool hs_ch_suite_offered(const struct client_hello *ch, uint16_t id);
/* Looks at the ClientHello's SessionTicket extension, then (without a
 * ticket) its session_id in the session-ID cache: 1 when the session
 * resumes (suite, master secret, identity set; hs->resumed, and
 * hs->resumed_id with session_id for the cache), 0 for a full handshake
 * (a fallback counted by reason; send_ticket says whether that one issues
 * a ticket, session_id whether it goes into the cache), or < 0 (RFC 7627
 * §5.3: a resumable session without extended_master_secret in the
 * ClientHello aborts). */
CR_WUR int hs_resume_try(struct hs *hs, const struct client_hello *ch, uint64_t now_ms);
/* A completed full handshake with a session_id: its session into the
 * cache (hs_sesscache.h; a failure only means it is not cached). */
void hs_sesscache_store(struct hs *hs, uint64_t now_ms);
/* RFC 5246 §7.2.2: a failed connection's cached session is forgotten. */
void hs_sesscache_forget(struct hs *hs);
/* NewSessionTicket (RFC 5077 §3.3) into the flight (epoch 0): the session
 * sealed under the listener's ring, or an empty ticket when sealing fails. */
CR_WUR int hs_add_new_session_ticket(struct hs *hs);
/* The abbreviated handshake's flight: ServerHello (echoing the client's
 * session_id), [NewSessionTicket], ChangeCipherSpec, Finished. */
CR_WUR int hs_build_resumed_flight(struct hs *hs, const struct client_hello *ch);
CR_WUR int hs_on_finished_resumed(struct hs *hs, const struct hs_reasm_msg *msg, struct hs_out *out,
                                  uint64_t now_ms);

/* ---- hs_server_flight.c ------------------------------------------------- */
/* ServerHello (RFC 5246 §7.4.1.3) with session_id sid into the flight. */
CR_WUR int hs_add_server_hello(struct hs *hs, const struct client_hello *ch, const uint8_t *sid,
                               size_t sid_len);
/* Signature schemes of our CertificateRequest, accepted in the client's
 * CertificateVerify. */
#define HS_N_CV_SCHEMES 5
extern const uint16_t hs_cv_schemes[HS_N_CV_SCHEMES];
CR_WUR int hs_build_server_flight(struct hs *hs, const struct client_hello *ch);

/* ---- hs_keys.c: transcript and key schedule ----------------------------- */
CR_WUR int hs_transcript_add(struct hs *hs, uint8_t type, uint16_t seq, const uint8_t *body,
                             uint32_t len);
/* One server message: transcript and current flight. */
CR_WUR int hs_add_message(struct hs *hs, uint16_t epoch, uint8_t type, const struct hs_buf *b);
/* Key block from hs->master and both randoms (RFC 5246 §6.3): record keys. */
CR_WUR int hs_derive_key_block(struct hs *hs);
/* verify_data = PRF(master, label, Hash(handshake_messages so far))[0..11]. */
CR_WUR int hs_finished_data(struct hs *hs, const char *label, uint8_t out[HS_VERIFY_DATA_LEN]);
/* Our ChangeCipherSpec + Finished into the flight (write epoch 1 on). */
CR_WUR int hs_add_ccs_finished(struct hs *hs);
/* The epoch-1 sequence ranges at ESTABLISHED (hs_engine.c's file comment). */
void hs_fill_established(struct hs *hs);

#endif
