/* tl_pair.h — the one engine pair harness of the tests and benchmarks: a
 * real libssl DTLS 1.2 client and the server handshake engine (control/
 * hs.h) exchanging datagrams in memory over two tl_dq queues.
 *
 * The harness does the plumbing both ways and records what the server
 * did; the test asserts.  Server side of one client datagram
 * (tl_pair_deliver): the stateless cookie check while there is no hs yet
 * (when cookies is set; a HelloVerifyRequest goes back to the client),
 * hs_new, hs_input, then tl_pair_take_out: output datagrams to the client
 * (less the next drop_server ones: loss), decrypted application data into
 * app_rx, the timer deadline, the event.
 *
 * Owns: the client (cctx, ssl), both queues and the hs.  Not the hs_ctx
 * (the test's, often shared by many pairs).  Must not: assert (it runs
 * inside and outside CUnit tests and benchmarks), be used by the product.
 */
#ifndef DTLSGW_TL_PAIR_H
#define DTLSGW_TL_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "hs.h"
#include "tl_dq.h"

#define TL_PAIR_HVR_MAX_BYTES       16384 /* a HelloVerifyRequest is never larger than the CH */
#define TL_PAIR_APP_RX_BYTES        256   /* application data kept; the rest is cut */
#define TL_PAIR_START_MS            1000000
#define TL_PAIR_FAST_TIMER_FIRST_US 20000 /* tl_pair_fast_timer_cb: the first timeout */
#define TL_PAIR_PEER_IPV4                                                                          \
    {                                                                                              \
        192, 0, 2, 7                                                                               \
    } /* RFC 5737 TEST-NET-1 */

struct tl_pair {
    /* client */
    SSL_CTX *cctx;
    SSL *ssl;
    struct tl_dq to_srv, to_cli;
    /* server */
    struct hs_ctx *ctx;     /* not owned */
    struct hs_creds *creds; /* what ctx was made from, if the test says: not owned */
    struct hs *hs;
    struct hs_peer peer;
    uint64_t now_ms;      /* the engine's clock; the test moves it */
    bool cookies;         /* cookie check before hs_new */
    unsigned drop_server; /* drop the next n server datagrams (loss) */
    /* what the server did */
    bool established;
    bool failed;     /* HS_EV_FAILED or HS_EV_TIMEOUT */
    bool timed_out;  /* HS_EV_TIMEOUT */
    int alert;       /* the failure's alert, -1 before */
    int last_rc;     /* the last hs_input's return */
    int last_cookie; /* the last hs_cookie_check's verdict */
    uint64_t next_timer_ms;
    unsigned n_hvr, n_cookie_drop, n_inputs;
    unsigned n_server_dgrams; /* datagrams the server produced, dropped ones too */
    size_t max_server_dgram;  /* bytes of the largest */
    uint8_t app_rx[TL_PAIR_APP_RX_BYTES];
    size_t app_rx_len;
};

/* What tl_pair_deliver did with one client datagram. */
enum tl_pair_rx {
    TL_PAIR_RX_SKIPPED,     /* the server had failed already: ignored */
    TL_PAIR_RX_HVR,         /* cookie check: HelloVerifyRequest queued (*out_hvr_len bytes) */
    TL_PAIR_RX_COOKIE_DROP, /* cookie check: dropped (verdict in last_cookie) */
    TL_PAIR_RX_NO_HS,       /* hs_new failed */
    TL_PAIR_RX_INPUT,       /* hs_input ran: rc in last_rc, its output in *out */
};

/* Zeroes *p; server ctx (not owned), peer 192.0.2.7:port, clock at
 * TL_PAIR_START_MS, cookies on, alert -1.  No client yet. */
void tl_pair_init(struct tl_pair *p, struct hs_ctx *ctx, uint16_t port);

/* A DTLS 1.2-only client context with SSL_VERIFY_NONE (the test sets
 * ciphers, callbacks, certificates); NULL on failure. */
SSL_CTX *tl_pair_client_ctx(void);

/* Takes cctx (freed by tl_pair_free, also when this fails) and makes the
 * client: reads to_cli, writes to_srv, SSL_OP_NO_QUERY_MTU, MTU mtu,
 * connect state.  0 or -1. */
int tl_pair_client(struct tl_pair *p, SSL_CTX *cctx, unsigned mtu);

/* Hands one client datagram to the server side (see the file comment);
 * out receives hs_input's output (zeroed, alert -1 before).  hvr_len may be
 * NULL.  An enum tl_pair_rx. */
int tl_pair_deliver(struct tl_pair *p, const uint8_t *d, size_t len, struct hs_out *out,
                    size_t *out_hvr_len);

/* Applies one engine output (of hs_input, hs_timeout or hs_close). */
void tl_pair_take_out(struct tl_pair *p, const struct hs_out *out);

/* The test's hand-over of one client datagram to the server side (most
 * call tl_pair_deliver and assert on its result); it does not free d. */
typedef void (*tl_pair_rx_fn)(struct tl_pair *p, const uint8_t *d, size_t len);

/* Every datagram queued towards the server, oldest first, through rx,
 * each freed after. */
void tl_pair_pump(struct tl_pair *p, tl_pair_rx_fn rx);

/* The handshake, up to max_rounds client steps (SSL_do_handshake, then
 * tl_pair_pump through rx).  1 when both sides finished; 0 when the
 * client failed (not WANT_READ / WANT_WRITE), the server did, or the
 * rounds ran out. */
int tl_pair_run(struct tl_pair *p, unsigned max_rounds, tl_pair_rx_fn rx);

/* For DTLS_set_timer_cb on the client: retransmission after 20 ms,
 * doubling (libssl's default starts at 1 s). */
unsigned int tl_pair_fast_timer_cb(SSL *ssl, unsigned int timer_us);

/* Frees the client, the hs and the queued datagrams; zeroes *p. */
void tl_pair_free(struct tl_pair *p);

#endif
