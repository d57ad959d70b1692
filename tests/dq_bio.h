/* dq_bio.h — a datagram-queue BIO for driving libssl DTLS clients in memory
 * (tests and benchmarks only: one BIO_write is one datagram, one BIO_read
 * returns one datagram).  Header-only; the includer may define DQ_MAX and
 * DQ_ON_FULL() (what to do when a datagram is pushed onto a full queue)
 * before including it, and calls dq_method_init() once before dq_bio(). */
#ifndef DTLSGW_DQ_BIO_H
#define DTLSGW_DQ_BIO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>

#ifndef DQ_MAX
#define DQ_MAX 128
#endif
#ifndef DQ_ON_FULL
#define DQ_ON_FULL() abort()
#endif

struct dq {
    uint8_t *d[DQ_MAX];
    size_t len[DQ_MAX];
    unsigned n;
};

static void dq_push(struct dq *q, const uint8_t *p, size_t len)
{
    if (q->n >= DQ_MAX) {
        DQ_ON_FULL();
        return;
    }
    q->d[q->n] = malloc(len ? len : 1);
    if (q->d[q->n] == NULL)
        abort();
    memcpy(q->d[q->n], p, len);
    q->len[q->n++] = len;
}

/* Pops the first datagram into out (cap bytes); returns its length or -1. */
static long dq_pop(struct dq *q, uint8_t *out, size_t cap)
{
    if (q->n == 0)
        return -1;
    size_t n = q->len[0] < cap ? q->len[0] : cap;
    memcpy(out, q->d[0], n);
    free(q->d[0]);
    memmove(&q->d[0], &q->d[1], (q->n - 1) * sizeof(q->d[0]));
    memmove(&q->len[0], &q->len[1], (q->n - 1) * sizeof(q->len[0]));
    q->n--;
    return (long)n;
}

static void dq_clear(struct dq *q)
{
    for (unsigned i = 0; i < q->n; i++)
        free(q->d[i]);
    q->n = 0;
}

static int dq_bio_write(BIO *b, const char *p, int len)
{
    struct dq *q = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len < 0 || q->n >= DQ_MAX)
        return -1;
    dq_push(q, (const uint8_t *)p, (size_t)len);
    return len;
}

static int dq_bio_read(BIO *b, char *p, int cap)
{
    BIO_clear_retry_flags(b);
    long n = dq_pop(BIO_get_data(b), (uint8_t *)p, (size_t)cap);
    if (n < 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)n;
}

static long dq_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct dq *q = BIO_get_data(b);
    (void)num, (void)ptr;
    if (cmd == BIO_CTRL_FLUSH)
        return 1;
    if (cmd == BIO_CTRL_PENDING)
        return q && q->n ? (long)q->len[0] : 0;
    return 0;
}

static int dq_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *dq_method;

static int dq_method_init(void)
{
    dq_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "dq");
    if (dq_method == NULL)
        return -1;
    BIO_meth_set_write(dq_method, dq_bio_write);
    BIO_meth_set_read(dq_method, dq_bio_read);
    BIO_meth_set_ctrl(dq_method, dq_bio_ctrl);
    BIO_meth_set_create(dq_method, dq_bio_create);
    return 0;
}

static BIO *dq_bio(struct dq *q)
{
    BIO *b = BIO_new(dq_method);
    if (b != NULL)
        BIO_set_data(b, q);
    return b;
}

#endif
