/* hs_flight.h — the server's current flight: stored messages, serialized
 * into records and datagrams fragmented to the MTU (RFC 6347 §4.2.3), and
 * re-serialized with fresh record sequence numbers for retransmission.
 *
 * Owns: copies of the flight's handshake messages.  Must not: know about
 * handshake states.  Encryption of epoch >= 1 records is delegated to the
 * caller's sealer.  Called only from the thread that owns the handshake.
 */
#ifndef DTLSGW_HS_FLIGHT_H
#define DTLSGW_HS_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "hs.h"

#define HS_FLIGHT_MAX_ITEMS 10

/* Writes one complete protected record (header + explicit nonce + ciphertext
 * + tag) for epoch >= 1. */
struct hs_record_sealer {
    int (*seal)(void *arg, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *pt,
                size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len);
    size_t overhead; /* bytes a sealed record adds beyond 13 + pt_len */
    void *arg;
};

struct hs_flight_item {
    uint8_t is_ccs; /* ChangeCipherSpec record instead of handshake */
    uint8_t msg_type;
    uint16_t msg_seq;
    uint16_t epoch;
    uint32_t len;
    uint8_t *body; /* owned copy */
};

struct hs_flight {
    struct hs_flight_item items[HS_FLIGHT_MAX_ITEMS];
    unsigned n_items;
};

void hs_flight_init(struct hs_flight *f);
/* Frees (and wipes) the stored messages: starts an empty flight. */
void hs_flight_reset(struct hs_flight *f);
CR_WUR int hs_flight_add_handshake(struct hs_flight *f, uint16_t epoch, uint8_t msg_type,
                                   uint16_t msg_seq, const uint8_t *body, uint32_t len);
CR_WUR int hs_flight_add_ccs(struct hs_flight *f, uint16_t epoch);

/* Serializes the flight into datagrams of at most mtu bytes each, packing
 * several records per datagram where they fit and fragmenting messages that
 * do not.  seq[e] is the next record sequence number of epoch e (e = 0, 1)
 * and is advanced.  Datagrams are written into buf (cap bytes) and described
 * by dgrams[0..*n_out).  Returns 0 or a negative CR_ERR_*. */
CR_WUR int hs_flight_emit(const struct hs_flight *f, size_t mtu,
                          const struct hs_record_sealer *sealer, uint64_t seq[2], uint8_t *buf,
                          size_t cap, struct hs_dgram *dgrams, unsigned max, unsigned *n_out);

#endif
