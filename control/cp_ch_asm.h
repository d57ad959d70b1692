/* cp_ch_asm.h — ClientHellos split over several datagrams, put together on
 * the control plane before the cookie check (issue 9: a fragmented
 * ClientHello completes in any order, with or without duplicates, with
 * the cookie in any fragment, in bounded memory).
 *
 * RFC 6347 §4.2.1 wants no state for a peer before its cookie verified;
 * a whole ClientHello in one datagram still gets none (the workers answer
 * it).  Only a ClientHello in fragments is held, in a fixed table of
 * CP_CH_ASM_SLOTS assemblies of at most CP_CH_ASM_MAX_BYTES each
 * (~300 KiB in all, allocated once): an assembly that is not complete
 * within CP_CH_ASM_TTL_MS is dropped, and when every slot is taken the
 * oldest makes room (counted by the caller: a flood of fragments can
 * delay such clients until they retransmit, never grow memory).  The
 * whole message is then checked as if it had come in one record.
 *
 * Owns: the slots.  Must not: touch DPDK, allocate after creation, judge
 * the cookie (the caller runs hs_cookie_check on the result).  Called only
 * on the control-plane lcore.
 */
#ifndef DTLSGW_CP_CH_ASM_H
#define DTLSGW_CP_CH_ASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "dp_wire.h"

#define CP_CH_ASM_SLOTS     64
#define CP_CH_ASM_MAX_BYTES 4096 /* ClientHello body; larger ones are refused */
#define CP_CH_ASM_TTL_MS    3000 /* > the 1 s initial retransmission timer */
#define CP_CH_ASM_KEY_LEN   40   /* the caller's peer key (cp_key_t, cp_key.h) */
/* The rebuilt datagram: record header, handshake header, body. */
#define CP_CH_ASM_OUT_MAX_BYTES (DP_REC_HDR_LEN + DP_HS_HDR_LEN + CP_CH_ASM_MAX_BYTES)

enum cp_ch_asm_result {
    CP_CH_ASM_HELD = 0, /* kept; the message is not whole yet */
    CP_CH_ASM_WHOLE,    /* whole: out holds it as one unfragmented record */
    CP_CH_ASM_BAD,      /* not ClientHello fragments we can hold: drop */
};

struct cp_ch_asm;

CR_WUR struct cp_ch_asm *cp_ch_asm_new(void);
void cp_ch_asm_free(struct cp_ch_asm *a);
/* Adds the ClientHello fragments of datagram d (every record of it) from
 * peer key.  *evicted: an unfinished assembly of another peer had to make
 * room.  On CP_CH_ASM_WHOLE, out (CP_CH_ASM_OUT_MAX_BYTES) holds one
 * record: the last record's version and sequence number, the handshake
 * header with fragment_offset 0 and fragment_length = length, the body;
 * the assembly is gone. */
enum cp_ch_asm_result cp_ch_asm_add(struct cp_ch_asm *a, const uint8_t key[CP_CH_ASM_KEY_LEN],
                                    const uint8_t *d, size_t len, uint64_t now_ms, uint8_t *out,
                                    size_t *out_len, bool *evicted);
/* Assemblies in progress (for stats and tests). */
unsigned cp_ch_asm_count(const struct cp_ch_asm *a, uint64_t now_ms);

#endif
