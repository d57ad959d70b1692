/* hs_cursor.c — bounded cursor and capped builder for handshake messages.
 *
 * Owns: hs_buf storage.  Must not: read past a cursor's length or write past
 * a builder's max_len; every check is written so that it cannot overflow.
 */
#include "hs_cursor.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static bool get_be(struct hs_cur *c, unsigned n, uint64_t *out)
{
    uint64_t v = 0;

    if (c->len < n)
        return false;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | c->p[i];
    c->p += n;
    c->len -= n;
    *out = v;
    return true;
}

bool hs_cur_u8(struct hs_cur *c, uint8_t *out)
{
    uint64_t v;
    if (!get_be(c, 1, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

bool hs_cur_u16(struct hs_cur *c, uint16_t *out)
{
    uint64_t v;
    if (!get_be(c, 2, &v))
        return false;
    *out = (uint16_t)v;
    return true;
}

bool hs_cur_u24(struct hs_cur *c, uint32_t *out)
{
    uint64_t v;
    if (!get_be(c, 3, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool hs_cur_u32(struct hs_cur *c, uint32_t *out)
{
    uint64_t v;
    if (!get_be(c, 4, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool hs_cur_u48(struct hs_cur *c, uint64_t *out)
{
    return get_be(c, 6, out);
}

bool hs_cur_span(struct hs_cur *c, const uint8_t **out, size_t n)
{
    if (c->len < n)
        return false;
    *out = c->p;
    c->p += n;
    c->len -= n;
    return true;
}

bool hs_cur_copy(struct hs_cur *c, uint8_t *out, size_t n)
{
    const uint8_t *p;
    if (!hs_cur_span(c, &p, n))
        return false;
    if (n)
        memcpy(out, p, n);
    return true;
}

bool hs_cur_skip(struct hs_cur *c, size_t n)
{
    const uint8_t *p;
    return hs_cur_span(c, &p, n);
}

bool hs_cur_sub(struct hs_cur *c, struct hs_cur *out, size_t n)
{
    const uint8_t *p;
    if (!hs_cur_span(c, &p, n))
        return false;
    hs_cur_init(out, p, n);
    return true;
}

static bool prefixed(struct hs_cur *c, struct hs_cur *out, unsigned width)
{
    struct hs_cur save = *c;
    uint64_t n;

    if (!get_be(c, width, &n) || !hs_cur_sub(c, out, (size_t)n)) {
        *c = save; /* advance only on success */
        return false;
    }
    return true;
}

bool hs_cur_prefixed8(struct hs_cur *c, struct hs_cur *out)
{
    return prefixed(c, out, 1);
}
bool hs_cur_prefixed16(struct hs_cur *c, struct hs_cur *out)
{
    return prefixed(c, out, 2);
}
bool hs_cur_prefixed24(struct hs_cur *c, struct hs_cur *out)
{
    return prefixed(c, out, 3);
}

/* ---- builder ----------------------------------------------------------- */

void hs_buf_init(struct hs_buf *b, size_t max_len)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len;
    b->err = false;
}

void hs_buf_free(struct hs_buf *b)
{
    if (b->p) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void hs_buf_clear(struct hs_buf *b)
{
    if (b->p)
        OPENSSL_cleanse(b->p, b->len);
    b->len = 0;
    b->err = false;
}

uint8_t *hs_buf_reserve(struct hs_buf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (b->len > b->max_len || n > b->max_len - b->len) {
        b->err = true;
        return NULL;
    }
    if (n > b->cap - b->len) {
        size_t want = b->cap ? b->cap : 256;
        while (want - b->len < n)
            want = want > b->max_len / 2 ? b->max_len : want * 2;
        uint8_t *np = malloc(want);
        if (!np) {
            b->err = true;
            return NULL;
        }
        if (b->p) {
            memcpy(np, b->p, b->len);
            OPENSSL_cleanse(b->p, b->cap);
            free(b->p);
        }
        b->p = np;
        b->cap = want;
    }
    uint8_t *out = b->p + b->len;
    b->len += n;
    return out;
}

static int put_be(struct hs_buf *b, uint64_t v, unsigned n)
{
    uint8_t *p = hs_buf_reserve(b, n);
    if (!p)
        return CR_ERR_LIMIT;
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return 0;
}

int hs_buf_u8(struct hs_buf *b, uint8_t v)
{
    return put_be(b, v, 1);
}
int hs_buf_u16(struct hs_buf *b, uint16_t v)
{
    return put_be(b, v, 2);
}
int hs_buf_u24(struct hs_buf *b, uint32_t v)
{
    if (v > 0xffffffu) {
        b->err = true;
        return CR_ERR_INVAL;
    }
    return put_be(b, v, 3);
}
int hs_buf_u32(struct hs_buf *b, uint32_t v)
{
    return put_be(b, v, 4);
}
int hs_buf_u48(struct hs_buf *b, uint64_t v)
{
    if (v >> 48) {
        b->err = true;
        return CR_ERR_INVAL;
    }
    return put_be(b, v, 6);
}

int hs_buf_bytes(struct hs_buf *b, const uint8_t *p, size_t n)
{
    uint8_t *dst = hs_buf_reserve(b, n);
    if (!dst)
        return CR_ERR_LIMIT;
    if (n)
        memcpy(dst, p, n);
    return 0;
}

int hs_buf_open(struct hs_buf *b, unsigned width, size_t *out_mark)
{
    if (width < 1 || width > 3) {
        b->err = true;
        return CR_ERR_INVAL;
    }
    *out_mark = b->len;
    return put_be(b, 0, width);
}

int hs_buf_close(struct hs_buf *b, unsigned width, size_t mark)
{
    if (b->err)
        return CR_ERR_LIMIT;
    if (width < 1 || width > 3 || mark > b->len || width > b->len - mark) {
        b->err = true;
        return CR_ERR_INVAL;
    }
    size_t n = b->len - mark - width;
    if (n >> (8 * width)) {
        b->err = true;
        return CR_ERR_LIMIT;
    }
    for (unsigned i = 0; i < width; i++)
        b->p[mark + i] = (uint8_t)(n >> (8 * (width - 1 - i)));
    return 0;
}
