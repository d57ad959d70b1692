/* test_util.h — small helpers shared by the test programs that drive real
 * peers (tests/e2e, tests/interop): a whole-file reader and an argv
 * builder.  Header-only; static functions.  The clock (tl_mono_ms,
 * tl_sleep_ms) comes from tests/lib/tl_clock.h, included here.
 */
#ifndef DTLSGW_TEST_UTIL_H
#define DTLSGW_TEST_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tl_clock.h"

#define TEST_ARGV_MAX    48  /* arguments of one argv, NULL included */
#define TEST_ARG_MAX_LEN 512 /* bytes of one argument */

/* The whole file as a NUL-terminated string (free() it); "" when the file
 * cannot be opened, NULL only when memory runs out. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        if (f)
            fclose(f);
        return NULL;
    }
    if (f != NULL) {
        size_t n;
        while ((n = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
            len += n;
            if (cap - 1 - len == 0) {
                char *nb = realloc(buf, cap * 2);
                if (nb == NULL)
                    break;
                buf = nb;
                cap *= 2;
            }
        }
        fclose(f);
    }
    buf[len] = '\0';
    return buf;
}

/* An argv built one formatted argument at a time, NULL-terminated. */
struct argvb {
    char *v[TEST_ARGV_MAX];
    unsigned n;
    char store[TEST_ARGV_MAX][TEST_ARG_MAX_LEN];
};

__attribute__((format(printf, 2, 3))) static inline void av(struct argvb *b, const char *fmt, ...)
{
    if (b->n >= TEST_ARGV_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->store[b->n], TEST_ARG_MAX_LEN, fmt, ap);
    va_end(ap);
    b->v[b->n] = b->store[b->n];
    b->n++;
    b->v[b->n] = NULL;
}

#endif
