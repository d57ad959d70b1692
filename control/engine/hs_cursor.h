/* hs_cursor.h — bounded reading and writing of handshake messages.
 *
 * Reading: struct hs_cur is a pointer and a length remaining (BoringSSL's
 * CBS).  Every getter returns true on success and advances only on success;
 * on failure the cursor is unchanged.  Length-prefixed fields are returned
 * as child cursors, so a parser is one chain of hs_cur_* calls and a message
 * is consumed exactly when hs_cur_len() reaches 0.
 *
 * Writing: struct hs_buf is a growable buffer with a hard cap (max_len) and
 * a sticky error flag: after the first failure every put is a no-op and
 * hs_buf_ok() reports false, so a builder checks once at the end.
 * Length prefixes are reserved with hs_buf_open() and patched by
 * hs_buf_close().
 *
 * Owns: the hs_buf storage (wiped on free).  Must not: know message layouts.
 */
#ifndef DTLSGW_HS_CURSOR_H
#define DTLSGW_HS_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"

struct hs_cur {
    const uint8_t *p;
    size_t len;
};

static inline void hs_cur_init(struct hs_cur *c, const uint8_t *p, size_t len)
{
    c->p = p;
    c->len = len;
}
static inline size_t hs_cur_len(const struct hs_cur *c)
{
    return c->len;
}
static inline const uint8_t *hs_cur_data(const struct hs_cur *c)
{
    return c->p;
}

CR_WUR bool hs_cur_u8(struct hs_cur *c, uint8_t *out);
CR_WUR bool hs_cur_u16(struct hs_cur *c, uint16_t *out);
CR_WUR bool hs_cur_u24(struct hs_cur *c, uint32_t *out);
CR_WUR bool hs_cur_u32(struct hs_cur *c, uint32_t *out);
CR_WUR bool hs_cur_u48(struct hs_cur *c, uint64_t *out);
/* Copies n bytes into out. */
CR_WUR bool hs_cur_copy(struct hs_cur *c, uint8_t *out, size_t n);
/* Points *out at the next n bytes (no copy). */
CR_WUR bool hs_cur_span(struct hs_cur *c, const uint8_t **out, size_t n);
CR_WUR bool hs_cur_skip(struct hs_cur *c, size_t n);
/* The next n bytes as a child cursor. */
CR_WUR bool hs_cur_sub(struct hs_cur *c, struct hs_cur *out, size_t n);
/* A field with a 1/2/3-byte big-endian length prefix as a child cursor. */
CR_WUR bool hs_cur_prefixed8(struct hs_cur *c, struct hs_cur *out);
CR_WUR bool hs_cur_prefixed16(struct hs_cur *c, struct hs_cur *out);
CR_WUR bool hs_cur_prefixed24(struct hs_cur *c, struct hs_cur *out);

struct hs_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max_len; /* hard cap in bytes */
    bool err;
};

void hs_buf_init(struct hs_buf *b, size_t max_len);
/* Wipes and frees; the buffer can be reused after hs_buf_init(). */
void hs_buf_free(struct hs_buf *b);
/* Empties without freeing (contents wiped). */
void hs_buf_clear(struct hs_buf *b);
static inline bool hs_buf_ok(const struct hs_buf *b)
{
    return !b->err;
}
/* Puts: 0 on success, negative (and the sticky error set) on failure. */
int hs_buf_u8(struct hs_buf *b, uint8_t v);
int hs_buf_u16(struct hs_buf *b, uint16_t v);
int hs_buf_u24(struct hs_buf *b, uint32_t v);
int hs_buf_u32(struct hs_buf *b, uint32_t v);
int hs_buf_u48(struct hs_buf *b, uint64_t v);
int hs_buf_bytes(struct hs_buf *b, const uint8_t *p, size_t n);
/* Reserves room for n bytes and returns a pointer to them (NULL on error);
 * valid until the next put. */
uint8_t *hs_buf_reserve(struct hs_buf *b, size_t n);
/* Opens a length-prefixed field of width 1, 2 or 3 bytes; *out_mark
 * remembers where.  hs_buf_close() writes the length of everything put
 * since, failing when it does not fit the width. */
int hs_buf_open(struct hs_buf *b, unsigned width, size_t *out_mark);
int hs_buf_close(struct hs_buf *b, unsigned width, size_t mark);

#endif
