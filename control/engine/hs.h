/* hs.h — sans-IO DTLS 1.2 server handshake engine (RFC 6347) on libcrypto.
 *
 * Bytes in, bytes out: the caller feeds received datagrams and the current
 * time; the engine returns datagrams to send, the next timer deadline and
 * events.  No sockets, no DPDK, no threads inside.  All calls for one
 * struct hs_ctx (and its handshakes) come from one thread (the control
 * plane); the only shared-with-dataplane function is hs_cookie_check(),
 * which is stateless and thread-safe for concurrent readers of the secret.
 */
#ifndef DTLSGW_HS_H
#define DTLSGW_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_aead.h"
#include "cr_err.h"
#include "hs_ticket.h"

/* ---- limits (units in the names) ------------------------------------- */
#define HS_MTU_DEFAULT_BYTES          1400
#define HS_MTU_MIN_BYTES              256
#define HS_MTU_MAX_BYTES              16384
#define HS_RETRANS_INITIAL_DEFAULT_MS 1000
#define HS_RETRANS_MAX_DEFAULT_MS     60000
#define HS_MSG_MAX_BYTES              (64 * 1024)  /* one handshake message */
#define HS_BUFFERED_MAX_BYTES         (128 * 1024) /* all reassembly per handshake */
#define HS_OUT_MAX_DGRAMS             64           /* datagrams of one output */
#define HS_MAX_SUITES                 32
#define HS_IDENTITY_MAX_LEN           255
#define HS_SNI_MAX_LEN                255
#define HS_BAD_MAC_LIMIT_DEFAULT      0 /* 0: unlimited (drop+count) */

/* reassembly of all handshakes of one hs_ctx (hs_params.reasm_max_bytes):
 * 256 handshakes at their per-handshake cap, or thousands of real ones
 * (their messages are a few KiB) */
#define HS_REASM_ALL_MAX_DEFAULT_BYTES (32u * 1024 * 1024)
/* hs_new to ESTABLISHED, whatever the peer does (hs_params.
 * handshake_deadline_ms).  60 s like GnuTLS's default total DTLS handshake
 * timeout: room for 5 timer resends (1+2+4+8+16 s) and slow peers, while
 * bounding how long one peer holds a handshake slot. */
#define HS_HANDSHAKE_DEADLINE_DEFAULT_MS 60000

/* ---- cipher suites (IANA codes) ---------------------------------------- */
#define HS_PSK_AES128_CCM8         0xC0A8
#define HS_PSK_AES128_CCM          0xC0A4
#define HS_PSK_AES128_GCM          0x00A8
#define HS_PSK_AES256_GCM          0x00A9
#define HS_PSK_CHACHA20            0xCCAB
#define HS_ECDHE_PSK_CHACHA20      0xCCAC
#define HS_ECDHE_ECDSA_AES128_GCM  0xC02B
#define HS_ECDHE_ECDSA_AES256_GCM  0xC02C
#define HS_ECDHE_ECDSA_CHACHA20    0xCCA9
#define HS_ECDHE_ECDSA_AES128_CCM8 0xC0AE
#define HS_ECDHE_ECDSA_AES128_CCM  0xC0AC
#define HS_ECDHE_RSA_AES128_GCM    0xC02F
#define HS_ECDHE_RSA_AES256_GCM    0xC030
#define HS_ECDHE_RSA_CHACHA20      0xCCA8

enum hs_kex {
    HS_KEX_PSK,
    HS_KEX_ECDHE_PSK,
    HS_KEX_ECDHE_ECDSA,
    HS_KEX_ECDHE_RSA
};

struct hs_suite_info {
    uint16_t id;
    const char *name; /* IANA name, e.g. TLS_PSK_WITH_AES_128_CCM_8 */
    enum hs_kex kex;
    enum cr_aead_alg aead;
    bool sha384; /* PRF hash: SHA-384 (else SHA-256) */
};
/* NULL when the suite is not supported. */
const struct hs_suite_info *hs_suite_find(uint16_t id);
const struct hs_suite_info *hs_suite_by_name(const char *name);
/* Parses "NAME:NAME:..." or hex codes into ids; returns count or <0. */
int hs_suite_list_parse(const char *list, uint16_t *out_ids, unsigned max);

/* ---- credentials ------------------------------------------------------- */
struct hs_creds;
CR_WUR struct hs_creds *hs_creds_new(void);
void hs_creds_free(struct hs_creds *c);
/* Server certificate chain (leaf first) + private key, both PEM, into the
 * slot of the key's type: ECDSA P-256, ECDSA P-384 or RSA (at least 2048
 * bits).  Once per slot: a second certificate of a loaded slot is refused
 * (CR_ERR_INVAL, hs_creds_last_error says which).  Each handshake picks
 * one slot by what its ClientHello offers (suite, supported_groups,
 * signature_algorithms), as libssl picks among its certificate slots. */
CR_WUR int hs_creds_load_cert(struct hs_creds *c, const char *chain_pem_path,
                              const char *key_pem_path);
/* PSK identities, GnuTLS psktool format: `identity:hexkey` per line.
 * Replaces the previous set atomically (reload without restart). */
CR_WUR int hs_creds_load_psk_file(struct hs_creds *c, const char *path);
/* The same, handing the replaced set to *prev (NULL when there was none;
 * free with hs_psk_set_free) so the caller can tell which identities went
 * away or changed key (hs_creds_psk_kept).  On error *prev is untouched. */
struct hs_psk_set;
CR_WUR int hs_creds_reload_psk_file(struct hs_creds *c, const char *path, struct hs_psk_set **prev);
void hs_psk_set_free(struct hs_psk_set *s); /* wipes the keys */
/* Whether identity (NUL-terminated, as hs_keys.peer_identity) is in c's
 * current set with the key it had in prev (any key when prev is NULL):
 * false when it was removed or its key changed. */
bool hs_creds_psk_kept(const struct hs_creds *c, const struct hs_psk_set *prev,
                       const char *identity);
CR_WUR int hs_creds_add_psk(struct hs_creds *c, const char *identity, const uint8_t *key,
                            size_t key_len);
/* CA bundle used to verify client certificates; the subject names of its
 * CAs are the certificate_authorities of our CertificateRequest (at most
 * 16 KiB of them, else CR_ERR_LIMIT).  Replaces the previous bundle. */
CR_WUR int hs_creds_load_ca(struct hs_creds *c, const char *ca_pem_path);
/* (added) PSK identity hint sent in ServerKeyExchange (RFC 4279 §2); with
 * none set, plain PSK suites send no ServerKeyExchange and ECDHE-PSK sends
 * an empty hint.  hint NULL clears it. */
CR_WUR int hs_creds_set_psk_hint(struct hs_creds *c, const char *hint);
/* (added) Human-readable reason of the last failed load (file:line: why). */
const char *hs_creds_last_error(const struct hs_creds *c);

/* ---- configuration ----------------------------------------------------- */
enum hs_client_auth {
    HS_CLIENT_AUTH_NONE,
    HS_CLIENT_AUTH_OPTIONAL,
    HS_CLIENT_AUTH_REQUIRE
};

struct hs_params {
    uint16_t suites[HS_MAX_SUITES]; /* server preference order */
    unsigned n_suites;              /* 0: built-in default order */
    uint32_t mtu_bytes;             /* UDP payload budget per datagram */
    uint32_t retrans_initial_ms;
    uint32_t retrans_max_ms;
    bool cookie_required; /* default true; off is logged */
    /* RFC 7627: default false (EMS preferred, not required: clients without
     * the extension get the classic master secret, and such a session must
     * never be resumable, §5.3; hs_keys.ems says which); true refuses them
     * with handshake_failure (§5.2) */
    bool require_ems;
    enum hs_client_auth client_auth;
    uint32_t bad_mac_limit; /* 0: unlimited */
    uint8_t cid_len;        /* reserved for RFC 9146; 0 */
    /* bytes reassembly may allocate across all handshakes of the ctx (each
     * one also stops at HS_BUFFERED_MAX_BYTES); 0: no shared cap */
    size_t reasm_max_bytes;
    /* a handshake not ESTABLISHED this long after hs_new ends with
     * HS_EV_TIMEOUT (hs_input or hs_timeout; out->next_timer_ms never lies
     * past it); must be > 0 */
    uint32_t handshake_deadline_ms;
};
/* Fills the defaults described above. */
void hs_params_default(struct hs_params *p);

/* Shared by all handshakes of one listener; owns the cookie secrets. */
struct hs_ctx;
CR_WUR struct hs_ctx *hs_ctx_new(const struct hs_params *p, struct hs_creds *creds);
/* After hs_free of every handshake made from it (they charge its
 * reassembly budget). */
void hs_ctx_free(struct hs_ctx *ctx);
/* Rotate the cookie secret (previous one still accepted). */
CR_WUR int hs_ctx_rotate_cookie_secret(struct hs_ctx *ctx);
/* Reassembly bytes allocated now by all handshakes of ctx, and the records
 * dropped because the shared cap (reasm_max_bytes) was reached. */
size_t hs_ctx_reasm_bytes(const struct hs_ctx *ctx);
uint64_t hs_ctx_reasm_refused(const struct hs_ctx *ctx);

/* ---- session tickets (RFC 5077) -----------------------------------------
 * With tickets on, a full handshake of an EMS session whose ClientHello
 * carried the (empty) SessionTicket extension ends with a NewSessionTicket
 * (before our ChangeCipherSpec, §3.3), and a ClientHello carrying a ticket
 * that opens and still fits the listener (hs.h HS_RESUME_FALLBACKS) gets
 * the abbreviated handshake (RFC 5246 §7.3): ServerHello echoing the
 * client's session_id (§3.4), ChangeCipherSpec, Finished, fresh keys from
 * the stored master secret and the new randoms.  A ticket opened under an
 * older key of the ring is renewed (a fresh NewSessionTicket with the same
 * expiry); others are not re-issued.  Off by default. */
#define HS_TICKET_LISTENER_MAX_LEN   64 /* the sealing AAD (a listener's name) */
#define HS_TICKET_LIFETIME_DEFAULT_S (2 * 3600)
struct cr_seal_ring;
struct hs_ticket_params {
    /* keys: not owned, must outlive ctx; the caller may rotate it between
     * calls (same thread) */
    struct cr_seal_ring *ring;
    const char *listener; /* bound into every ticket; copied, at most
                           * HS_TICKET_LISTENER_MAX_LEN bytes */
    uint32_t lifetime_s;  /* > 0: expiry and ticket_lifetime_hint */
    /* wall clock in seconds (tickets outlive processes and travel between
     * gateways: not the engine's monotonic now_ms) */
    uint64_t (*wall_clock_s)(void *arg);
    void *clock_arg;
};
/* Turns tickets on (tp) or off (tp NULL) for the handshakes created after
 * the call.  CR_ERR_INVAL on a missing ring, listener, clock or lifetime. */
CR_WUR int hs_ctx_set_tickets(struct hs_ctx *ctx, const struct hs_ticket_params *tp);

/* ---- session-ID cache (RFC 5246 §7.4.1.2) ---------------------------------
 * For clients that resume by session_id rather than by ticket: with the
 * cache on, a full handshake of an EMS session that issues no ticket (the
 * client asked for none, or tickets are off) gives a fresh random 32-byte
 * session_id in its ServerHello, and the session goes into the context's
 * cache when the handshake completes.  A ClientHello without a ticket
 * (RFC 5077 §3.4: "If a ticket is presented by the client, the server MUST
 * NOT attempt to use the Session ID in the ClientHello for stateful
 * session resumption") whose session_id is in the cache, unexpired and
 * still fits the listener (suite, PSK key, server_name, client auth, as
 * for tickets) gets the abbreviated handshake with that session_id.  The
 * cache is the context's (so bound to its listener), bounded (LRU
 * eviction), holds EMS sessions only (RFC 7627 §5.3), forgets a session
 * whose resumed handshake failed (RFC 5246 §7.2.2) and wipes every master
 * secret it drops (control/engine/hs_sesscache.h).  Off by default. */
#define HS_SESSION_CACHE_DEFAULT_ENTRIES 10000
#define HS_SESSION_CACHE_MAX_ENTRIES     (1u << 22) /* == HS_SESSCACHE_MAX_ENTRIES */
struct hs_session_cache_params {
    uint32_t max_entries; /* 1..HS_SESSION_CACHE_MAX_ENTRIES */
    uint32_t lifetime_s;  /* > 0: a session's life from its full handshake */
    /* -1, or 0..255: the first byte of every session_id this context
     * gives (a gateway's handshake shard), so that a session_id given by
     * another context counts as hs_stats.sessid_other, not as a miss */
    int id_tag;
};
/* Turns the cache on (p; a previous cache is dropped, wiped) or off (p
 * NULL) for the ClientHellos processed after the call.  CR_ERR_INVAL on a
 * bad parameter, CR_ERR_NOMEM. */
CR_WUR int hs_ctx_set_session_cache(struct hs_ctx *ctx, const struct hs_session_cache_params *p);
/* Removes (wipes) the cached sessions whose life had passed at now_ms
 * (the clock of hs_input); returns how many.  Expired entries are also
 * dropped when looked up or pushed out at the bound. */
unsigned hs_ctx_session_cache_expire(struct hs_ctx *ctx, uint64_t now_ms);
/* Sessions in the cache now (0 when off). */
uint32_t hs_ctx_session_cache_count(const struct hs_ctx *ctx);

/* Transport address of the peer (bound into the cookie). */
struct hs_peer {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes when family == 4 */
    uint16_t port;    /* host order */
    uint8_t family;   /* 4 or 6 */
};

/* ---- stateless cookie exchange (RFC 6347 §4.2.1) ------------------------
 * Callable without the rest of the engine.  Looks at a datagram from an
 * unknown peer:
 *   HS_COOKIE_VALID     - a ClientHello with a valid cookie: create a hs;
 *   HS_COOKIE_SEND_HVR  - a ClientHello without (or with a stale/wrong)
 *                         cookie: send out_hvr (never larger than the input);
 *   HS_COOKIE_DROP      - anything else: drop silently (counted by caller).
 * Nothing is allocated. */
enum hs_cookie_verdict {
    HS_COOKIE_VALID = 0,
    HS_COOKIE_SEND_HVR = 1,
    HS_COOKIE_DROP = 2
};
int hs_cookie_check(const struct hs_ctx *ctx, const struct hs_peer *peer, const uint8_t *dgram,
                    size_t len, uint8_t *out_hvr, size_t out_cap, size_t *out_hvr_len);

/* A ClientHello split over several handshake fragments (RFC 6347 §4.2.3),
 * for a server that reassembles it before the cookie check (the cookie
 * may lie in any fragment, and fragments may come in any order).  One
 * fragment as it came: */
struct hs_ch_frag {
    uint16_t rec_version; /* record header version */
    uint64_t rec_seq;     /* record sequence number (epoch 0) */
    uint16_t msg_seq;
    uint32_t msg_len;  /* the whole ClientHello body */
    uint32_t frag_off; /* frag_off + frag_len <= msg_len */
    uint32_t frag_len;
    const uint8_t *body; /* frag_len bytes */
};
/* Whether dgram's first record is an epoch-0 handshake record holding a
 * ClientHello fragment that is not the whole message. */
bool hs_ch_is_fragmented(const uint8_t *dgram, size_t len);
/* The next record of (*buf, *left) as a ClientHello fragment: 1 and *out
 * filled (buf/left advanced), 0 at the end, -1 for a record that is not a
 * well-formed epoch-0 ClientHello fragment of at most HS_MSG_MAX_BYTES. */
int hs_ch_frag_next(const uint8_t **buf, size_t *left, struct hs_ch_frag *out);

/* ---- ClientHello peek (RFC 6347 §4.2.1-4.2.3) ---------------------------
 * A bounds-checked view of the ClientHello that starts a datagram (record
 * header + handshake header + ClientHello body), for a caller that must
 * look at it before any state exists (the gateway's peer table, the cookie
 * check).  Nothing is allocated; the pointers point into the datagram.
 * Every length field is checked against the bytes that hold it: the
 * record's against the datagram (dp_record_next), fragment_offset and
 * fragment_length against the message length and the record, session_id
 * and cookie against the fragment.  X(NAME, text). */
#define HS_CH_PEEK_ERRORS(X)                                                                       \
    X(RECORD, "no well-formed first record")                                                       \
    X(NOT_HANDSHAKE, "first record is not an epoch-0 handshake record")                            \
    X(TRUNCATED_HEADER, "record shorter than a handshake header")                                  \
    X(NOT_CLIENT_HELLO, "handshake message is not a ClientHello")                                  \
    X(TOO_LONG, "ClientHello length over HS_MSG_MAX_BYTES")                                        \
    X(BAD_FRAGMENT, "fragment_offset + fragment_length past the message length")                   \
    X(TRUNCATED_FRAGMENT, "fragment_length past the end of the record")                            \
    X(BAD_SESSION_ID, "session_id longer than 32 bytes")                                           \
    X(TRUNCATED_BODY, "unfragmented ClientHello that ends inside its fixed fields")
enum hs_ch_peek_err {
    HS_CH_PEEK_OK = 0,
#define HS_CH_PEEK_X(name, text) HS_CH_PEEK_ERR_##name,
    HS_CH_PEEK_ERRORS(HS_CH_PEEK_X)
#undef HS_CH_PEEK_X
    HS_CH_PEEK_ERR_N
};
const char *hs_ch_peek_err_str(int err);

struct hs_ch_view {
    /* the first record */
    uint16_t rec_version;
    uint64_t rec_seq;
    size_t rec_len; /* bytes of the datagram the record takes (header included) */
    /* the handshake header (RFC 6347 §4.2.2) */
    uint16_t msg_seq;
    uint32_t msg_len;  /* the whole ClientHello body */
    uint32_t frag_off; /* frag_off + frag_len <= msg_len */
    uint32_t frag_len;
    bool fragmented;       /* this record holds only part of the message */
    bool frag_ends_record; /* nothing follows the fragment in its record */
    const uint8_t *frag;   /* frag_len bytes of the body, from frag_off */
    /* The fixed fields, when this fragment starts the message and holds
     * them (always, for an unfragmented ClientHello). */
    bool has_random; /* client_version and random */
    uint16_t client_version;
    const uint8_t *random; /* DP_HELLO_RANDOM_LEN bytes */
    bool has_ids;          /* session_id and cookie as well */
    const uint8_t *session_id;
    uint8_t session_id_len; /* <= DP_HELLO_SESSION_ID_MAX */
    const uint8_t *cookie;
    uint8_t cookie_len;
};
/* HS_CH_PEEK_OK and *out filled, or an HS_CH_PEEK_ERR_* (out undefined).
 * A fragment that starts later (frag_off > 0), or a first fragment that
 * ends inside the fixed fields, is OK with has_random / has_ids false. */
CR_WUR int hs_ch_peek(const uint8_t *dgram, size_t len, struct hs_ch_view *out);

/* ---- alerts of an installed session --------------------------------------
 * For the control plane of a gateway whose dataplane holds the session's
 * keys and punts its alert records: opens one protected alert record with
 * the session's read key (read-only) and the caller's own replay window
 * (RFC 6347 §4.1.2.6: checked before, updated only after the record
 * authenticated).  Pure C (cr_aead): no DPDK.  X(NAME, text). */
#define HS_SESSION_ALERT_ERRORS(X)                                                                 \
    X(INVAL, "missing argument")                                                                   \
    X(NOT_ALERT, "record is not an alert")                                                         \
    X(EPOCH, "record is not of the session's read epoch")                                          \
    X(REPLAY, "sequence number replayed, left of the window or out of range")                      \
    X(LENGTH, "record does not hold exactly one 2-byte alert")                                     \
    X(AUTH, "record failed authentication")
enum hs_session_alert_err {
    HS_SESSION_ALERT_OK = 0,
#define HS_SESSION_ALERT_X(name, text) HS_SESSION_ALERT_ERR_##name,
    HS_SESSION_ALERT_ERRORS(HS_SESSION_ALERT_X)
#undef HS_SESSION_ALERT_X
    HS_SESSION_ALERT_ERR_N
};
const char *hs_session_alert_err_str(int err);

struct hs_alert {
    uint8_t level;       /* DP_ALERT_LEVEL_* */
    uint8_t description; /* DP_ALERT_* */
};
struct dp_record;
struct dp_replay;
/* rec: one parsed record (dp_record_split) of type alert; epoch: the
 * session's read epoch (rd_key's); win: the caller's window for it, marked
 * only when the record authenticated.  HS_SESSION_ALERT_OK and *out, or an
 * HS_SESSION_ALERT_ERR_* with win and *out untouched.  aead: the calling
 * thread's context. */
CR_WUR int hs_session_alert_open(struct cr_aead_ctx *aead, const struct cr_aead_key *rd_key,
                                 uint16_t epoch, const struct dp_record *rec, struct dp_replay *win,
                                 struct hs_alert *out);

/* ---- one handshake ------------------------------------------------------ */
struct hs;

enum hs_event {
    HS_EV_NONE = 0,
    HS_EV_ESTABLISHED, /* keys ready: hs_keys() */
    HS_EV_CLOSED,      /* close_notify received (our close_notify in out) */
    HS_EV_FAILED,      /* fatal alert sent or received; hs is dead */
    HS_EV_TIMEOUT,     /* retransmission gave up, or the deadline passed */
};

struct hs_dgram {
    const uint8_t *data; /* owned by the hs; valid until its next call */
    size_t len;
};

struct hs_out {
    struct hs_dgram dgrams[HS_OUT_MAX_DGRAMS];
    unsigned n_dgrams;
    uint64_t next_timer_ms; /* absolute deadline; 0: no timer */
    enum hs_event event;
    int alert; /* alert description sent/received, or -1 */
    /* Application data records (epoch >= 1) decrypted by the engine: only
     * when the caller feeds them to hs_input (the gateway's dataplane does
     * its own; the test driver may use this). */
    struct hs_dgram app[HS_OUT_MAX_DGRAMS];
    unsigned n_app;
};

/* Everything the dataplane needs to run the session. */
struct hs_keys {
    uint16_t suite;
    enum cr_aead_alg aead;
    uint16_t epoch; /* 1 */
    uint8_t key_len, iv_len;
    uint8_t client_write_key[CR_AEAD_KEY_MAX_LEN];
    uint8_t server_write_key[CR_AEAD_KEY_MAX_LEN];
    uint8_t client_write_iv[CR_AEAD_FIXED_IV_MAX_LEN];
    uint8_t server_write_iv[CR_AEAD_FIXED_IV_MAX_LEN];
    uint64_t server_write_seq_next;              /* first free write seq, epoch 1 */
    uint64_t client_read_seq_top;                /* highest client epoch-1 seq seen */
    char peer_identity[HS_IDENTITY_MAX_LEN + 1]; /* PSK identity or cert subject */
    char sni[HS_SNI_MAX_LEN + 1];
    enum hs_kex kex;
    bool ems;     /* master secret from the session hash (RFC 7627) */
    bool resumed; /* abbreviated handshake (a session ticket, or the session-ID cache) */
};

/* Creates a handshake for a peer whose cookie verified (or with cookies
 * off).  The first hs_input() must be that ClientHello datagram. */
CR_WUR struct hs *hs_new(struct hs_ctx *ctx, const struct hs_peer *peer, uint64_t now_ms);
/* Wipes all secrets and frees. */
void hs_free(struct hs *hs);
/* Feeds one received datagram.  Invalid records are dropped silently and
 * counted; returns 0, or a negative CR_ERR_* when the handshake failed
 * (out->event then says HS_EV_FAILED and out carries the alert, or
 * HS_EV_TIMEOUT when the handshake deadline had passed). */
int hs_input(struct hs *hs, const uint8_t *dgram, size_t len, uint64_t now_ms, struct hs_out *out);
/* Call at out->next_timer_ms: retransmits the last flight or gives up. */
int hs_timeout(struct hs *hs, uint64_t now_ms, struct hs_out *out);
/* Builds an encrypted close_notify (after ESTABLISHED) into out->dgrams. */
int hs_close(struct hs *hs, struct hs_out *out);
/* Encrypts one application data record (test driver / small senders). */
int hs_seal_app(struct hs *hs, const uint8_t *data, size_t len, uint8_t *out_buf, size_t out_cap,
                size_t *out_len);
const struct hs_keys *hs_keys(const struct hs *hs); /* NULL before ESTABLISHED */
/* Epoch-1 write sequence numbers have one owner each (hs_engine.c's file
 * comment).  After ESTABLISHED the engine's own records (hs_seal_app,
 * hs_close, the no_renegotiation and close_notify answers, fatal alerts)
 * use at most HS_ENGINE_WSEQ_RESERVE numbers below
 * keys.server_write_seq_next; the dataplane owns that number and all above.
 * Past the reserve the engine sends no alert and hs_seal_app fails with
 * CR_ERR_LIMIT (both counted in stats.wseq_exhausted). */
#define HS_ENGINE_WSEQ_RESERVE 64
/* For a caller that installs the keys in no dataplane (a test driver, a
 * small sender): the engine owns the whole rest of epoch 1's write
 * sequence.  Only when ESTABLISHED; CR_ERR_INVAL otherwise. */
CR_WUR int hs_own_write_seq(struct hs *hs);
/* Once the caller copied keys (into its dataplane): wipes the key and IV
 * bytes of hs_keys() and the master secret.  The engine keeps only its
 * expanded AEAD contexts, for final-flight resends and alerts; hs_keys()
 * then still names the suite, identity and sequence numbers. */
void hs_wipe_installed_keys(struct hs *hs);
bool hs_established(const struct hs *hs);

/* Why the engine dropped a record (or a handshake message) silently
 * (RFC 6347 §4.1.2.7: invalid records are discarded, never alerted), one
 * name each.  X(NAME, text).  Every drop counts once in
 * hs_stats.dropped_records and once in hs_stats.dropped_by_reason. */
#define HS_DROP_REASONS(X)                                                                         \
    X(RECORD_INVALID, "record framing invalid (the rest of the datagram is dropped)")              \
    X(EPOCH_UNKNOWN, "record of an epoch other than 0 and 1")                                      \
    X(EPOCH1_TOO_EARLY, "epoch-1 record before the client could have keys")                        \
    X(EARLY_EPOCH1_FULL, "epoch-1 record before the ChangeCipherSpec, and none can be held")       \
    X(REPLAY, "epoch-1 record replayed or left of the window")                                     \
    X(RECORD_SHORT, "protected record too short for its nonce and tag")                            \
    X(FIRST_NOT_CLIENT_HELLO, "first handshake record is not a ClientHello")                       \
    X(EPOCH0_AFTER_CCS, "plaintext handshake record after the ChangeCipherSpec, not a repeat")     \
    X(FRAGMENT_MALFORMED, "malformed handshake fragment")                                          \
    X(FRAGMENT_LIMIT, "handshake message or fragment count over a limit (or no memory)")           \
    X(REASM_CAP, "reassembly byte cap reached (this handshake's or the shared one)")               \
    X(FRAGMENT_FUTURE, "handshake fragment too far ahead of the next message")                     \
    X(FRAGMENT_CONFLICT, "handshake fragment contradicts bytes already received")                  \
    X(AFTER_HANDSHAKE, "handshake message after the handshake completed")                          \
    X(CCS_MALFORMED, "ChangeCipherSpec that is not the single byte 1")                             \
    X(CCS_UNEXPECTED, "ChangeCipherSpec in a state that takes none")                               \
    X(ALERT_MALFORMED, "alert that is not exactly level and description")                          \
    X(ALERT_PLAINTEXT, "plaintext alert after the ChangeCipherSpec")                               \
    X(APP_DATA_EARLY, "application data before the handshake completed")                           \
    X(APP_DATA_FULL, "application data beyond what one hs_out holds")                              \
    X(CONTENT_TYPE, "record of a content type the engine does not take")
enum hs_drop_reason {
#define HS_DROP_X(name, text) HS_DROP_##name,
    HS_DROP_REASONS(HS_DROP_X)
#undef HS_DROP_X
    HS_DROP_N
};
/* The reason's text ("?" when out of range) and its NAME. */
const char *hs_drop_reason_str(enum hs_drop_reason r);
const char *hs_drop_reason_name(enum hs_drop_reason r);

/* Why a ClientHello's session ticket did not resume (RFC 5077 §3.4: the
 * server then goes on with a full handshake), one name each: first the
 * ticket's own (hs_ticket.h HS_TICKET_ERRORS, same order), then the
 * listener's policy.  X(NAME, text). */
#define HS_RESUME_FALLBACKS(X)                                                                     \
    HS_TICKET_ERRORS(X)                                                                            \
    X(VERSION, "ticket of another protocol version")                                               \
    X(SUITE, "ticket's cipher suite not offered, or off on this listener")                         \
    X(PSK, "ticket's PSK identity removed or re-keyed")                                            \
    X(SNI, "server_name differs from the ticket's (RFC 6066 3)")                                   \
    X(CLIENT_AUTH, "client certificate required, the ticket's session had none")
enum hs_resume_fallback {
    HS_RESUME_FB_NONE = 0,
#define HS_RESUME_FB_X(name, text) HS_RESUME_FB_##name,
    HS_RESUME_FALLBACKS(HS_RESUME_FB_X)
#undef HS_RESUME_FB_X
    HS_RESUME_FB_N
};
/* The reason's text and NAME ("?" when out of range). */
const char *hs_resume_fallback_str(enum hs_resume_fallback r);
const char *hs_resume_fallback_name(enum hs_resume_fallback r);

struct hs_stats {
    uint64_t bad_mac;         /* records that failed authentication */
    uint64_t dropped_records; /* invalid records dropped silently (all reasons) */
    uint64_t retransmits;
    uint64_t flights_sent;
    uint64_t wseq_exhausted; /* records not sent: the engine's range used up */
    /* handshake records dropped at a reassembly byte cap (this handshake's
     * or the ctx's shared one); also counted in dropped_records */
    uint64_t reasm_refused;
    /* repeated peer flights not answered: inside the doubling resend gap */
    uint64_t peer_resends_limited;
    /* dropped_records by reason: they add up to dropped_records */
    uint64_t dropped_by_reason[HS_DROP_N];
    /* RFC 5077: NewSessionTickets sent (a full handshake's, or a renewed
     * one on resumption), abbreviated handshakes started from a ticket,
     * and tickets that fell back to a full handshake, by reason */
    uint64_t tickets_issued;
    uint64_t resumed;
    uint64_t resume_fallbacks[HS_RESUME_FB_N];
    /* the session-ID cache: sessions stored by this full handshake, and
     * the entries that pushed out at the bound; a ClientHello's
     * session_id found and resumed (hit), not found (miss: never ours,
     * evicted or forgotten), given by another context (hs_session_cache_
     * params.id_tag), found past its life (expired, dropped), found but
     * not resumable here (refused: suite, PSK key, server_name, client
     * auth) */
    uint64_t sessid_stored;
    uint64_t sessid_evicted;
    uint64_t sessid_hit;
    uint64_t sessid_miss;
    uint64_t sessid_other;
    uint64_t sessid_expired;
    uint64_t sessid_refused;
};
const struct hs_stats *hs_get_stats(const struct hs *hs);

/* Why a handshake ended without a session, one name each (issue 9: the
 * operator sees "no shared group", not "alert 40").  X(NAME, text). */
#define HS_FAIL_REASONS(X)                                                                         \
    X(NONE, "none")                                                                                \
    X(NO_SHARED_SUITE, "no cipher suite in common")                                                \
    X(NO_SHARED_GROUP, "no group in common (ECDHE, or our certificate's curve)")                   \
    X(NO_SIG_SCHEME, "no signature algorithm fits our certificate")                                \
    X(INSUFFICIENT, "only suites configured off offered")                                          \
    X(NO_EMS, "extended_master_secret required, not offered")                                      \
    X(RESUME_NO_EMS, "session resumed without extended_master_secret (RFC 7627 5.3)")              \
    X(VERSION, "no DTLS 1.2 offered")                                                              \
    X(UNKNOWN_PSK, "unknown PSK identity")                                                         \
    X(BAD_FINISHED, "client Finished did not verify or authenticate (wrong key?)")                 \
    X(NO_CLIENT_CERT, "client certificate required, none sent")                                    \
    X(BAD_CLIENT_CERT, "client certificate rejected")                                              \
    X(BAD_CERT_VERIFY, "CertificateVerify did not verify")                                         \
    X(DECODE, "malformed handshake message")                                                       \
    X(UNEXPECTED, "unexpected message")                                                            \
    X(ILLEGAL, "illegal parameter")                                                                \
    X(PEER_ALERT, "the client sent a fatal alert")                                                 \
    X(BAD_MAC, "too many records failed authentication")                                           \
    X(RETRANSMIT, "no answer to our retransmissions")                                              \
    X(DEADLINE, "handshake deadline passed")                                                       \
    X(INTERNAL, "internal error")
enum hs_fail_reason {
#define HS_FAIL_X(name, text) HS_FAIL_##name,
    HS_FAIL_REASONS(HS_FAIL_X)
#undef HS_FAIL_X
    HS_FAIL_N
};
const char *hs_fail_reason_text(enum hs_fail_reason r);
/* HS_FAIL_NONE until the handshake failed or timed out. */
enum hs_fail_reason hs_fail_reason(const struct hs *hs);
/* What the client offered, for the log line of a failure: version,
 * suites (first few, hex), supported_groups (the first HS_OFFER_GROUPS_MAX
 * in the client's order, by name, unknown ones as 0xNNNN), whether it sent
 * signature_algorithms, EMS.  Fits HS_OFFER_FACTS_MAX_LEN bytes (NUL
 * included); a smaller buf gets a cut string.  Returns buf. */
#define HS_OFFER_GROUPS_MAX    12
#define HS_OFFER_FACTS_MAX_LEN 320
const char *hs_offer_facts(const struct hs *hs, char *buf, size_t cap);
/* The IANA TLS Supported Groups the logs name (RFC 8422 §5.1.1, RFC 7027,
 * RFC 7919, RFC 8446 §4.2.7), e.g. "P-521", "x448", "ffdhe2048"; NULL for
 * any other id. */
#define HS_GROUP_NAMES(X)                                                                          \
    X(0x0013, "secp192r1")                                                                         \
    X(0x0015, "secp224r1")                                                                         \
    X(0x0016, "secp256k1")                                                                         \
    X(0x0017, "P-256")                                                                             \
    X(0x0018, "P-384")                                                                             \
    X(0x0019, "P-521")                                                                             \
    X(0x001a, "brainpoolP256r1")                                                                   \
    X(0x001b, "brainpoolP384r1")                                                                   \
    X(0x001c, "brainpoolP512r1")                                                                   \
    X(0x001d, "x25519")                                                                            \
    X(0x001e, "x448")                                                                              \
    X(0x0100, "ffdhe2048")                                                                         \
    X(0x0101, "ffdhe3072")                                                                         \
    X(0x0102, "ffdhe4096")                                                                         \
    X(0x0103, "ffdhe6144")                                                                         \
    X(0x0104, "ffdhe8192")
const char *hs_group_name(uint16_t group);
/* What the handshake waits for ("ClientKeyExchange", "Finished", ...,
 * "established"); after a failure or timeout, what it was waiting for
 * when it ended. */
const char *hs_state_name(const struct hs *hs);

#endif
