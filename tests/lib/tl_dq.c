/* tl_dq.c — see tl_dq.h. */
#include "tl_dq.h"

#include <stdlib.h>
#include <string.h>

int tl_dq_push(struct tl_dq *q, const uint8_t *p, size_t len)
{
    if (q->n >= TL_DQ_MAX) {
        q->n_full++;
        return -1;
    }
    q->d[q->n] = malloc(len ? len : 1);
    if (q->d[q->n] == NULL)
        abort();
    memcpy(q->d[q->n], p, len);
    q->len[q->n++] = len;
    return 0;
}

uint8_t *tl_dq_take(struct tl_dq *q, size_t *out_len)
{
    if (q->n == 0)
        return NULL;
    uint8_t *p = q->d[0];
    *out_len = q->len[0];
    memmove(&q->d[0], &q->d[1], (q->n - 1) * sizeof(q->d[0]));
    memmove(&q->len[0], &q->len[1], (q->n - 1) * sizeof(q->len[0]));
    q->n--;
    return p;
}

long tl_dq_pop(struct tl_dq *q, uint8_t *out, size_t cap)
{
    size_t len;
    uint8_t *p = tl_dq_take(q, &len);
    if (p == NULL)
        return -1;
    size_t n = len < cap ? len : cap;
    memcpy(out, p, n);
    free(p);
    return (long)n;
}

void tl_dq_clear(struct tl_dq *q)
{
    for (unsigned i = 0; i < q->n; i++)
        free(q->d[i]);
    q->n = 0;
}

static int dq_bio_write(BIO *b, const char *p, int len)
{
    BIO_clear_retry_flags(b);
    if (len < 0 || tl_dq_push(BIO_get_data(b), (const uint8_t *)p, (size_t)len) != 0)
        return -1;
    return len;
}

static int dq_bio_read(BIO *b, char *p, int cap)
{
    BIO_clear_retry_flags(b);
    long n = cap < 0 ? -1 : tl_dq_pop(BIO_get_data(b), (uint8_t *)p, (size_t)cap);
    if (n < 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)n;
}

static long dq_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct tl_dq *q = BIO_get_data(b);
    (void)num, (void)ptr;
    if (cmd == BIO_CTRL_FLUSH)
        return 1;
    if (cmd == BIO_CTRL_PENDING)
        return q && q->n ? (long)q->len[0] : 0;
    return 0; /* no MTU to query, nothing pending to write */
}

static int dq_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *g_method;

int tl_dq_method_init(void)
{
    if (g_method != NULL)
        return 0;
    g_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tl-dq");
    if (g_method == NULL)
        return -1;
    BIO_meth_set_write(g_method, dq_bio_write);
    BIO_meth_set_read(g_method, dq_bio_read);
    BIO_meth_set_ctrl(g_method, dq_bio_ctrl);
    BIO_meth_set_create(g_method, dq_bio_create);
    return 0;
}

void tl_dq_method_free(void)
{
    BIO_meth_free(g_method);
    g_method = NULL;
}

BIO *tl_dq_bio(struct tl_dq *q)
{
    if (tl_dq_method_init() != 0)
        return NULL;
    BIO *b = BIO_new(g_method);
    if (b != NULL)
        BIO_set_data(b, q);
    return b;
}
