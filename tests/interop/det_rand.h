/* det_rand.h — deterministic "randomness" for the engine fuzz target and for
 * recording its seed corpus (hs-driver --deterministic-rand).
 *
 * Replaces libcrypto's RAND method, which in OpenSSL 3.0 every RAND_bytes /
 * RAND_priv_bytes call — and through them every provider key generation
 * (ECDHE P-256/P-384/X25519), ECDSA nonce and RSA-PSS salt — consults
 * first, with a counter stream that det_rand_reset() rewinds.  The engine
 * then answers the same datagrams with the same bytes, so a handshake a
 * real client made with hs-driver --deterministic-rand replays completely
 * (past the Finished check) in fuzz-engine, and a crash replays exactly.
 * BoringSSL does the same in its fuzzing mode (FUZZING.md).
 *
 * INSECURE BY CONSTRUCTION: test tools only (tests/interop, tests/fuzz);
 * never in the product.  Include before any other OpenSSL header.
 */
#ifndef DTLSGW_DET_RAND_H
#define DTLSGW_DET_RAND_H

/* RAND_METHOD is deprecated in OpenSSL 3.0 but still honoured; it is the
 * one hook that also reaches the providers' internal random draws. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdint.h>
#include <string.h>

#include <openssl/rand.h>

static uint64_t det_rand_counter;

static uint64_t det_rand_next(void)
{
    /* splitmix64 over a counter: uniform enough for keys and nonces in a
     * test, and trivially rewound. */
    uint64_t z = (det_rand_counter += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int det_rand_bytes(unsigned char *buf, int num)
{
    for (int i = 0; i < num; i += 8) {
        uint64_t v = det_rand_next();
        int n = num - i < 8 ? num - i : 8;
        memcpy(buf + i, &v, (size_t)n);
    }
    return 1;
}

static int det_rand_seed(const void *buf, int num)
{
    (void)buf;
    (void)num;
    return 1;
}

static int det_rand_add(const void *buf, int num, double entropy)
{
    (void)buf;
    (void)num;
    (void)entropy;
    return 1;
}

static int det_rand_status(void)
{
    return 1;
}

static const RAND_METHOD det_rand_method = {
    det_rand_seed, det_rand_bytes, NULL, det_rand_add, det_rand_bytes, det_rand_status,
};

/* Installs the deterministic method for the whole process; 0 on success. */
static inline int det_rand_install(void)
{
    det_rand_counter = 0;
    return RAND_set_rand_method(&det_rand_method) == 1 ? 0 : -1;
}

/* Rewinds the stream: called before each handshake (hs_new). */
static inline void det_rand_reset(void)
{
    det_rand_counter = 0;
}

#endif
