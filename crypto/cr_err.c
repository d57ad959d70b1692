/* cr_err.c — names for the project error codes. */
#include "cr_err.h"

const char *cr_strerror(int err)
{
    switch (err) {
    case CR_OK:
        return "ok";
    case CR_ERR_INVAL:
        return "invalid argument";
    case CR_ERR_NOMEM:
        return "out of memory";
    case CR_ERR_AUTH:
        return "authentication failed";
    case CR_ERR_CRYPTO:
        return "crypto library failure";
    case CR_ERR_DECODE:
        return "decode error";
    case CR_ERR_UNSUPPORTED:
        return "unsupported";
    case CR_ERR_LIMIT:
        return "limit exceeded";
    case CR_ERR_IO:
        return "i/o error";
    case CR_ERR_VERIFY:
        return "verification failed";
    case CR_ERR_BUSY:
        return "busy, retry later";
    default:
        return "unknown error";
    }
}
