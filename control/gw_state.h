/* gw_state.h — the hitless-restart state file: every established
 * session's state (keys, epoch, sequence numbers, replay windows, NAT
 * mapping) sealed under a key of the operator's key file (cr_seal.h), so
 * that a restarted gateway continues the sessions without new handshakes.
 *
 * File (one write, atomically: tmp + fsync + rename + directory fsync,
 * mode 0600):
 *     magic "DTLSGWS1" (8) | cr_seal blob (key_name, iv, ciphertext, tag)
 * sealed with label GW_STATE_LABEL and the magic as additional data.  The
 * plaintext, all integers big-endian, addresses 16 bytes (an IPv4 one
 * IPv4-mapped, ::ffff:a.b.c.d, RFC 4291 §2.5.5.2) and ports as on the
 * wire (the NAT port as a number):
 *     version u16 (2; 1 held 4-byte IPv4 addresses: refused, those
 *     sessions handshake again) | flags u16 (0) | created_ms u64 (wall clock, Unix
 *     ms) | count u32 | count session records
 * one session record:
 *     name_len u8 (1..31) | listener name | client ip 16, port 2 |
 *     local (listener) ip 16, port 2 | backend ip 16, port 2 | nat ip 16,
 *     port u16 | client mac 6 | owner u16 | alg u8 (enum cr_aead_alg) |
 *     epoch u16 | version u16 |
 *     read (client_write) key_len u8, key, iv_len u8, fixed iv |
 *     write (server_write) key_len u8, key, iv_len u8, fixed iv |
 *     wr_seq u64 (next write sequence, < 2^48) |
 *     rx window | alert window
 * one window (dp_replay.h, relative to its top, so that a restart with
 * another replay_window keeps what fits):
 *     win_bits u16 (64..8192, multiple of 64) | any u8 (0/1) | top u64
 *     (< 2^48) | win_bits/64 words u64: bit i (word i/64, bit i%64) set
 *     when sequence number top - i was received.
 * A record's lengths must match its algorithm; the count must be exact
 * and nothing may follow the last record.
 *
 * Owns: that format (encoder, parser, checks and their one-line reasons),
 * reading and writing the file, and moving a replay window into and out
 * of the format.  Must not: touch DPDK, the session table or the control
 * plane (gw_restart.c does: it collects and installs), or keep a key byte
 * after a call returns (the encoder's buffer is wiped when freed).
 */
#ifndef DTLSGW_GW_STATE_H
#define DTLSGW_GW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_aead.h"
#include "cr_err.h"
#include "cr_seal.h"
#include "dp_replay.h"

#define GW_STATE_MAGIC           "DTLSGWS1"
#define GW_STATE_MAGIC_LEN       8
#define GW_STATE_LABEL           "dtlsgw restart v1"
#define GW_STATE_FORMAT_VERSION  2
#define GW_STATE_ADDR_LEN        16                   /* every address, IPv4 ones IPv4-mapped */
#define GW_STATE_HDR_LEN         16                   /* version, flags, created_ms, count */
#define GW_STATE_NAME_MAX_LEN    31                   /* a listener name (gw_listener_cfg.name) */
#define GW_STATE_FILE_MAX_BYTES  (CR_SEAL_PT_MAX_LEN) /* larger files are refused */
#define GW_STATE_FUTURE_SLACK_MS 5000 /* a file dated later than now + this is refused */
#define GW_STATE_WIN_MAX_WORDS   (DP_REPLAY_WIN_MAX_BITS / 64)
#define GW_STATE_WHY_MAX_LEN     200

struct gw_state_dir {
    uint8_t key[CR_AEAD_KEY_MAX_LEN];
    uint8_t iv[CR_AEAD_FIXED_IV_MAX_LEN];
    uint8_t key_len, iv_len;
};

/* A replay window relative to its top (see above). */
struct gw_state_window {
    uint64_t top;
    uint32_t win_bits;
    bool any;
    uint64_t bits[GW_STATE_WIN_MAX_WORDS];
};

struct gw_state_sess {
    char listener[GW_STATE_NAME_MAX_LEN + 1];
    /* network order, IPv4 ones IPv4-mapped (control/cp_key.h) */
    uint8_t client_ip[GW_STATE_ADDR_LEN], local_ip[GW_STATE_ADDR_LEN];
    uint8_t backend_ip[GW_STATE_ADDR_LEN], nat_ip[GW_STATE_ADDR_LEN];
    uint16_t client_port, local_port, backend_port; /* network order */
    uint16_t nat_port;                              /* host order */
    uint8_t client_mac[6];
    uint16_t owner;
    uint8_t alg; /* enum cr_aead_alg */
    uint16_t epoch, version;
    struct gw_state_dir rd, wr;
    uint64_t wr_seq;
    struct gw_state_window rx, alert;
};

struct gw_state_hdr {
    uint16_t version;
    uint64_t created_ms;
    uint32_t count;
};

/* ---- writing ------------------------------------------------------------ */

struct gw_state_enc {
    uint8_t *buf; /* plaintext so far; wiped on every move and at free */
    size_t len, cap;
    uint32_t count;
};

CR_WUR int gw_state_enc_init(struct gw_state_enc *e, uint64_t created_ms);
/* Appends one session; CR_ERR_INVAL for lengths that do not fit the format
 * (name, key or IV length of its algorithm, window, sequence >= 2^48). */
CR_WUR int gw_state_enc_add(struct gw_state_enc *e, const struct gw_state_sess *s);
/* The file's bytes (magic + sealed blob) into *out (malloc'd, the caller
 * frees; it holds no plaintext). */
CR_WUR int gw_state_enc_finish(struct gw_state_enc *e, struct cr_seal_ring *ring, uint8_t **out,
                               size_t *out_len);
void gw_state_enc_free(struct gw_state_enc *e);

/* Writes data to path atomically: path.tmp (O_EXCL after removing a stale
 * one, mode 0600), fsync, rename over path, fsync of the directory.  0, or
 * CR_ERR_IO with a reason in why. */
CR_WUR int gw_state_write_file(const char *path, const uint8_t *data, size_t len, char *why,
                               size_t why_len);

/* ---- reading ------------------------------------------------------------ */

/* Reads path (at most GW_STATE_FILE_MAX_BYTES) into *out (malloc'd).
 * 0, 1 when there is no such file (nothing to restore), or CR_ERR_IO /
 * CR_ERR_LIMIT with a reason in why. */
CR_WUR int gw_state_read_file(const char *path, uint8_t **out, size_t *out_len, char *why,
                              size_t why_len);

/* Checks and opens a file's bytes: magic, key (one of ring's), seal,
 * format version, age (created_ms within [now_ms - max_age_ms, now_ms +
 * GW_STATE_FUTURE_SLACK_MS]) and every record's structure, the count
 * included.  On success *out_pt (malloc'd, wipe and free it with
 * gw_state_pt_free) holds the plaintext, *out_hdr its header.  On failure
 * a negative CR_ERR_* and a one-line reason in why: CR_ERR_DECODE (not a
 * state file, truncated, malformed), CR_ERR_AUTH (wrong key, altered),
 * CR_ERR_UNSUPPORTED (format version), CR_ERR_LIMIT (too old, future). */
CR_WUR int gw_state_open(const struct cr_seal_ring *ring, const uint8_t *file, size_t file_len,
                         uint64_t now_ms, uint64_t max_age_ms, uint8_t **out_pt, size_t *out_pt_len,
                         struct gw_state_hdr *out_hdr, char *why, size_t why_len);
void gw_state_pt_free(uint8_t *pt, size_t pt_len);

/* The same checks on a plaintext (what gw_state_open runs after unsealing;
 * for tests and the fuzzer). */
CR_WUR int gw_state_check(const uint8_t *pt, size_t pt_len, uint64_t now_ms, uint64_t max_age_ms,
                          struct gw_state_hdr *out_hdr, char *why, size_t why_len);

/* Walks the records of a checked plaintext, one per call. */
struct gw_state_cur {
    const uint8_t *p;
    size_t left;
    uint32_t remaining;
};
void gw_state_cur_init(struct gw_state_cur *c, const uint8_t *pt, size_t pt_len);
/* 1 with *out filled, 0 after the last record, CR_ERR_DECODE on a bad
 * record (never after gw_state_check accepted the plaintext). */
CR_WUR int gw_state_next(struct gw_state_cur *c, struct gw_state_sess *out);

/* ---- replay windows ------------------------------------------------------- */

/* w = the window r as the format holds it. */
void gw_state_window_export(const struct dp_replay *r, struct gw_state_window *w);
/* r (initialised, any size) = w: same top, the received marks of the
 * newest min(w, r) window bits, and (r larger than w) the bits beyond w's
 * window marked received: what was left of the old window stays refused. */
void gw_state_window_import(const struct gw_state_window *w, struct dp_replay *r);

#endif
