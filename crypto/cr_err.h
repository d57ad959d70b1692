/* cr_err.h — project error codes and guard macros shared by crypto/ and
 * control/.  Functions return 0 (or a non-negative count) on success and a
 * negative CR_ERR_* code on failure; they are marked CR_WUR.
 * This header owns no state and must not include anything but libc. */
#ifndef DTLSGW_CR_ERR_H
#define DTLSGW_CR_ERR_H

#define CR_WUR __attribute__((warn_unused_result))

enum cr_err {
    CR_OK = 0,
    CR_ERR_INVAL = -1, /* bad argument from our own caller */
    CR_ERR_NOMEM = -2,
    CR_ERR_AUTH = -3,   /* AEAD tag / MAC / Finished mismatch */
    CR_ERR_CRYPTO = -4, /* libcrypto or ipsec-mb failure */
    CR_ERR_DECODE = -5, /* malformed peer input */
    CR_ERR_UNSUPPORTED = -6,
    CR_ERR_LIMIT = -7,  /* a hard cap was hit */
    CR_ERR_IO = -8,     /* file could not be read */
    CR_ERR_VERIFY = -9, /* certificate / signature verification */
    CR_ERR_BUSY = -10,  /* a queue is backed up: refused for now, retry later */
};

const char *cr_strerror(int err);

/* Keep the happy path flat (s2n safety macros). */
#define CR_ENSURE(cond, err)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return (err);                                                                          \
    } while (0)
#define CR_GUARD(expr)                                                                             \
    do {                                                                                           \
        int cr_guard_rc_ = (expr);                                                                 \
        if (cr_guard_rc_ < 0)                                                                      \
            return cr_guard_rc_;                                                                   \
    } while (0)
/* OpenSSL convention: 1 is success. */
#define CR_GUARD_OSSL(expr, err)                                                                   \
    do {                                                                                           \
        if ((expr) != 1)                                                                           \
            return (err);                                                                          \
    } while (0)
/* Variants that jump to a cleanup label with rc set. */
#define CR_ENSURE_GOTO(cond, err, label)                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = (err);                                                                            \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)
#define CR_GUARD_GOTO(expr, label)                                                                 \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc < 0)                                                                                \
            goto label;                                                                            \
    } while (0)

#endif
