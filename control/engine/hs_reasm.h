/* hs_reasm.h — reassembly of incoming DTLS handshake fragments
 * (RFC 6347 §4.2.2-4.2.3): out of order, duplicated and overlapping
 * fragments, with hard caps on message size and on bytes buffered.
 *
 * Memory is allocated as fragments arrive, never from the peer's declared
 * message length alone: a message's buffer covers the bytes received so far
 * (up to the end of the furthest fragment), grown geometrically and capped
 * at the declared length.  Every byte allocated is charged to the
 * handshake's cap (max_buffered_bytes) and, when a budget is attached, to a
 * byte cap shared by all handshakes.  A record whose fragments would pass
 * either cap is dropped whole and counted (CR_ERR_LIMIT).
 *
 * Owns: buffered fragments of the peer's messages with message_seq >= the
 * next expected one.  Must not: interpret message bodies, decrypt records.
 * Called only from the thread that owns the handshake (and, for the shared
 * budget, the thread that owns every handshake charging it).
 */
#ifndef DTLSGW_HS_REASM_H
#define DTLSGW_HS_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "dp_wire.h"
#include "hs_cursor.h"

/* The handshake header's length is dp_wire.h's DP_HS_HDR_LEN; this older
 * name stays for code outside the engine that sizes headers with it. */
#define HS_FRAG_HDR_LEN DP_HS_HDR_LEN

/* One handshake message header (RFC 6347 §4.2.2), as on the wire. */
struct hs_hdr {
    uint8_t type;             /* HandshakeType, DP_HS_* */
    uint32_t length;          /* uint24: the whole message body */
    uint16_t message_seq;     /* uint16 */
    uint32_t fragment_offset; /* uint24 */
    uint32_t fragment_length; /* uint24: bytes of body after this header */
};

/* The engine's one reader of a 12-byte handshake header (reassembly, the
 * record checks of hs_engine.c, the cookie check and ClientHello peek):
 * true and the cursor advanced past DP_HS_HDR_LEN bytes, or false (cursor
 * unchanged) when fewer remain.  Reads only: the ranges are checked by
 * hs_hdr_frag_in_msg and by the caller against the bytes that follow. */
CR_WUR bool hs_hdr_get(struct hs_cur *c, struct hs_hdr *out);
/* RFC 6347 §4.2.3: the fragment [fragment_offset, + fragment_length) lies
 * within the message's length (subtraction form: cannot overflow). */
static inline bool hs_hdr_frag_in_msg(const struct hs_hdr *h)
{
    return h->fragment_offset <= h->length && h->fragment_length <= h->length - h->fragment_offset;
}
/* Writes h as DP_HS_HDR_LEN bytes at out (fields truncated to their wire
 * widths). */
void hs_hdr_put(uint8_t *out, const struct hs_hdr *h);
/* message_seq window ahead of next_seq that is buffered */
#define HS_REASM_MAX_PENDING_MSGS 8
/* fragments in one record body; more is CR_ERR_LIMIT */
#define HS_REASM_MAX_FRAGS_PER_RECORD 64
/* smallest body buffer of a non-empty message (capped at its length) */
#define HS_REASM_MIN_ALLOC_BYTES 256

/* Per-record outcome flags (OR-ed into *out_flags). */
/* a fragment of an already-consumed message (peer retransmitted its last
 * flight) */
#define HS_REASM_F_OLD 0x1
/* fragment(s) beyond the window, dropped */
#define HS_REASM_F_FUTURE 0x2
/* overlap with different bytes, changed type/length: record dropped */
#define HS_REASM_F_CONFLICT 0x4

struct hs_reasm_msg {
    uint8_t type;
    uint16_t seq;
    uint16_t epoch; /* epoch of the record(s) that carried it */
    uint32_t len;
    const uint8_t *body; /* valid until the next hs_reasm_* call */
};

struct hs_reasm_slot; /* private */

/* Byte cap shared by every hs_reasm attached to it (all handshakes of one
 * hs_ctx).  Owned by whoever owns those handshakes; same thread. */
struct hs_reasm_budget {
    size_t max_bytes;  /* 0: no shared cap */
    size_t used_bytes; /* sum of the attached reassemblies' bytes_used */
    uint64_t refused;  /* records dropped because of this cap */
};

struct hs_reasm {
    uint16_t next_seq; /* next message_seq to deliver */
    size_t max_msg_bytes;
    size_t max_buffered_bytes;
    /* bytes allocated for pending bodies and their bitmaps (never the
     * declared lengths) */
    size_t buffered_bytes;
    struct hs_reasm_budget *budget;                         /* NULL: none; not owned */
    uint64_t refused_cap;                                   /* records dropped by either byte cap */
    struct hs_reasm_slot *slots[HS_REASM_MAX_PENDING_MSGS]; /* index seq-next */
    struct hs_reasm_slot *delivered;                        /* the last delivered message */
};

void hs_reasm_init(struct hs_reasm *r, size_t max_msg_bytes, size_t max_buffered_bytes);
/* Charges every later allocation to *b as well (before the first record). */
void hs_reasm_attach_budget(struct hs_reasm *r, struct hs_reasm_budget *b);
/* Frees everything buffered (and wipes it); returns its bytes to the
 * budget. */
void hs_reasm_clear(struct hs_reasm *r);
/* Bytes allocated now for messages being reassembled. */
size_t hs_reasm_bytes_used(const struct hs_reasm *r);

/* Adds every handshake fragment of one record body (type 22), epoch given.
 * Returns 0 when the record was well formed (fragments stored, ignored as
 * duplicates, or old: see flags), CR_ERR_DECODE for a malformed record
 * (truncated header, offset+length past the message length, zero-length
 * fragment of a non-empty message), CR_ERR_LIMIT when a cap was hit (the
 * byte caps also count the refusal in refused_cap and budget->refused).
 * On any error nothing of the record is kept beyond what was already valid. */
CR_WUR int hs_reasm_add_record(struct hs_reasm *r, uint16_t epoch, const uint8_t *body, size_t len,
                               unsigned *out_flags);

/* Pops the next complete message in message_seq order.  Returns 1 and fills
 * *out, or 0 when the next message is not complete yet. */
int hs_reasm_next(struct hs_reasm *r, struct hs_reasm_msg *out);

#endif
