/* tl_dq.h — a datagram queue and a BIO over it, for driving libssl DTLS
 * clients in memory (tests and benchmarks only): one BIO_write is one
 * datagram, one BIO_read returns one datagram, so MTU and fragmentation are
 * real.  Queued datagrams stay readable in place (d[0..n), oldest first)
 * for tests that take flights apart.
 *
 * Owns: the datagrams in a queue (tl_dq_clear frees them) and the one
 * BIO_METHOD (tl_dq_method_init / tl_dq_method_free).  Single-threaded.
 * Must not: be used by the product.
 */
#ifndef DTLSGW_TL_DQ_H
#define DTLSGW_TL_DQ_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

#define TL_DQ_MAX 512 /* datagrams one queue holds */

struct tl_dq {
    uint8_t *d[TL_DQ_MAX];
    size_t len[TL_DQ_MAX];
    unsigned n;
    unsigned n_full; /* pushes refused because the queue was full */
};

/* Appends a copy of p[0..len); 0, or -1 (counted in n_full) when full.
 * Aborts when memory runs out. */
int tl_dq_push(struct tl_dq *q, const uint8_t *p, size_t len);

/* Pops the oldest datagram into out (at most cap bytes, the rest is lost);
 * its length (up to cap), or -1 when the queue is empty. */
long tl_dq_pop(struct tl_dq *q, uint8_t *out, size_t cap);

/* Pops the oldest datagram as a malloc'ed buffer the caller frees, length
 * in *out_len; NULL when the queue is empty. */
uint8_t *tl_dq_take(struct tl_dq *q, size_t *out_len);

/* Frees every queued datagram. */
void tl_dq_clear(struct tl_dq *q);

/* Makes the BIO_METHOD now (so that it is not allocated inside a test
 * that counts libcrypto allocations); 0 or -1.  tl_dq_bio calls it when
 * nobody did. */
int tl_dq_method_init(void);

/* Frees the BIO_METHOD (after every BIO of it is gone). */
void tl_dq_method_free(void);

/* A BIO that writes into / reads from q (not owned), or NULL. */
BIO *tl_dq_bio(struct tl_dq *q);

#endif
