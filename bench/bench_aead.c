/* bench_aead.c — throughput of crypto/cr_aead against its limits.
 *
 * Owns nothing shared; a standalone program.  For every suite and payload
 * size it measures, in records/s and TSC cycles/record:
 *   ours  — cr_aead_open_batch() (and cr_aead_seal_batch()) on batches of 32
 *           records, nonce and AAD built from DTLS fields per record;
 *   raw   — the same 32 decrypt jobs submitted straight to ipsec-mb as one
 *           burst (nonce and AAD prepared once, outside the timed loop, no
 *           tag comparison): the limit for ours;
 *   evp   — OpenSSL EVP per record with a pre-keyed EVP_CIPHER_CTX (IV, AAD,
 *           update, set tag, final).
 * Open (decrypt) is the main figure: it is the dataplane's RX path.
 * The contenders are timed one batch at a time, interleaved (in a rotating
 * order, so that none always follows the same other one), thousands of
 * times; each one's 25th-percentile batch time is reported (the host is
 * shared with other work, so long runs and best-of-rounds are both noisy).
 * Must not: assert on timings (benchmarks print figures only).
 *
 * Usage: bench-aead [--quick] [--json] [--suite NAME] [--size BYTES]
 *                   [--budget SECONDS]
 *   --suite/--size restrict the run to one suite (as printed, e.g.
 *   AES-128-GCM) and/or one payload size; --budget sets the time spent per
 *   suite and size (default 0.5 s, --quick 0.08 s).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bench_raw.h"
#include "cr_aead.h"
#include "tl_clock.h"

#define BENCH_BATCH             32
#define BENCH_MAX_PAYLOAD_BYTES 1400
#define BENCH_WARMUP_S          0.3

static const unsigned sizes[] = {64, 256, 512, 1024, 1400};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static double tsc_hz;

static inline uint64_t tsc(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

static double now_s(void)
{
    return (double)tl_mono_ns() * 1e-9;
}

static void calibrate_tsc(void)
{
    double best = 0;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        uint64_t c0 = tsc();
        while (now_s() - t0 < 0.02)
            ;
        double t1 = now_s();
        uint64_t c1 = tsc();
        double hz = (double)(c1 - c0) / (t1 - t0);
        if (hz > best)
            best = hz;
    }
    tsc_hz = best;
}

struct bench {
    enum cr_aead_alg alg;
    unsigned size;
    struct cr_aead_ctx *ctx;
    struct cr_aead_key key;
    uint8_t raw_key[32];
    uint8_t fixed_iv[12];
    uint8_t pt[BENCH_BATCH][BENCH_MAX_PAYLOAD_BYTES];
    uint8_t ct[BENCH_BATCH][BENCH_MAX_PAYLOAD_BYTES];
    uint8_t out[BENCH_BATCH][BENCH_MAX_PAYLOAD_BYTES];
    uint8_t tag[BENCH_BATCH][16];
    uint8_t expl[BENCH_BATCH][8];
    struct cr_aead_op ops[BENCH_BATCH];
    /* raw path */
    IMB_MGR *mgr;
    uint8_t nonce[BENCH_BATCH][16];
    uint8_t aad[BENCH_BATCH][16];
    uint8_t raw_tag[BENCH_BATCH][16];
    IMB_JOB *jobs[IMB_MAX_JOBS];
    /* evp path */
    EVP_CIPHER_CTX *evp;
};

static void die(const char *what)
{
    fprintf(stderr, "bench-aead: %s\n", what);
    exit(1);
}

static const EVP_CIPHER *evp_cipher(enum cr_aead_alg alg)
{
    switch (alg) {
    case CR_AEAD_AES128_GCM:
        return EVP_aes_128_gcm();
    case CR_AEAD_AES256_GCM:
        return EVP_aes_256_gcm();
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        return EVP_aes_128_ccm();
    default:
        return EVP_chacha20_poly1305();
    }
}

static void run_raw_open(struct bench *b);

static void bench_setup(struct bench *b, enum cr_aead_alg alg, unsigned size)
{
    b->alg = alg;
    b->size = size;
    if (RAND_bytes(b->raw_key, sizeof(b->raw_key)) != 1 ||
        RAND_bytes(b->fixed_iv, sizeof(b->fixed_iv)) != 1)
        die("RAND_bytes");
    if (cr_aead_key_init(&b->key, b->ctx, alg, b->raw_key, cr_aead_key_len(alg), b->fixed_iv,
                         cr_aead_fixed_iv_len(alg)) != CR_OK)
        die("key init");
    for (unsigned i = 0; i < BENCH_BATCH; i++) {
        struct cr_aead_op *op = &b->ops[i];
        if (RAND_bytes(b->pt[i], (int)size) != 1)
            die("RAND_bytes");
        memset(op, 0, sizeof(*op));
        op->key = &b->key;
        op->in = b->pt[i];
        op->out = b->ct[i];
        op->tag = b->tag[i];
        op->len = size;
        op->epoch = 1;
        op->version = 0xfefd;
        op->seq = 1000 + i;
        op->type = 23;
        cr_aead_explicit_nonce(b->expl[i], op->epoch, op->seq);
        op->explicit_nonce = b->expl[i];
    }
    if (cr_aead_seal_batch(b->ctx, b->ops, BENCH_BATCH) != BENCH_BATCH)
        die("seal failed");
    for (unsigned i = 0; i < BENCH_BATCH; i++) {
        b->ops[i].in = b->ct[i];
        b->ops[i].out = b->out[i];
        /* raw path: the same nonce and AAD, prepared once */
        if (cr_aead_build_aad(&b->ops[i], b->aad[i]) != CR_DTLS_AAD_LEN)
            die("aad");
        cr_aead_build_nonce(&b->ops[i], b->nonce[i]);
    }
    if (cr_aead_open_batch(b->ctx, b->ops, BENCH_BATCH) != BENCH_BATCH)
        die("open failed");
    for (unsigned i = 0; i < BENCH_BATCH; i++)
        if (memcmp(b->out[i], b->pt[i], size) != 0)
            die("open mismatch");

    /* The raw path must compute the same thing (its mgr may need a warm-up
     * burst to start at slot 0, see crypto/cr_aead.c). */
    for (int rep = 0; rep < 2; rep++) {
        memset(b->out, 0, sizeof(b->out));
        run_raw_open(b);
    }
    for (unsigned i = 0; i < BENCH_BATCH; i++)
        if (memcmp(b->out[i], b->pt[i], size) != 0 ||
            memcmp(b->raw_tag[i], b->tag[i], cr_aead_tag_len(alg)) != 0)
            die("raw path mismatch");

    /* EVP: key the context once. */
    if (EVP_DecryptInit_ex(b->evp, evp_cipher(alg), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(b->evp, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
        die("evp init");
    if ((alg == CR_AEAD_AES128_CCM || alg == CR_AEAD_AES128_CCM8) &&
        EVP_CIPHER_CTX_ctrl(b->evp, EVP_CTRL_AEAD_SET_TAG, (int)cr_aead_tag_len(alg), NULL) != 1)
        die("evp ccm tag len");
    if (EVP_DecryptInit_ex(b->evp, NULL, NULL, b->raw_key, NULL) != 1)
        die("evp key");
}

static void run_evp_open(struct bench *b);

static void bench_check_evp(struct bench *b)
{
    memset(b->out, 0, sizeof(b->out));
    run_evp_open(b); /* dies if a tag does not verify */
    for (unsigned i = 0; i < BENCH_BATCH; i++)
        if (memcmp(b->out[i], b->pt[i], b->size) != 0)
            die("evp path mismatch");
}

/* ---- the three contenders, one batch of BENCH_BATCH records each ------ */

static void run_ours_open(struct bench *b)
{
    if (cr_aead_open_batch(b->ctx, b->ops, BENCH_BATCH) != BENCH_BATCH)
        die("open failed in loop");
}

static void run_ours_seal(struct bench *b)
{
    /* Seal into out[] (leaves ct[]/tag[] intact for the open runs). */
    static uint8_t tags[BENCH_BATCH][16];
    struct cr_aead_op ops[BENCH_BATCH];
    memcpy(ops, b->ops, sizeof(ops));
    for (unsigned i = 0; i < BENCH_BATCH; i++) {
        ops[i].in = b->pt[i];
        ops[i].out = b->out[i];
        ops[i].tag = tags[i];
    }
    if (cr_aead_seal_batch(b->ctx, ops, BENCH_BATCH) != BENCH_BATCH)
        die("seal failed in loop");
}

static void raw_fill(struct bench *b, IMB_JOB *job, unsigned i)
{
    bench_raw_open_job(job, &b->key, b->ct[i], b->out[i], b->size, b->nonce[i], b->aad[i],
                       b->raw_tag[i]);
}

static void run_raw_open(struct bench *b)
{
    IMB_MGR *mgr = b->mgr;
    unsigned k = IMB_GET_NEXT_BURST(mgr, BENCH_BATCH, b->jobs);
    if (k != BENCH_BATCH)
        die("raw: short burst");
    for (unsigned i = 0; i < BENCH_BATCH; i++)
        raw_fill(b, b->jobs[i], i);
    unsigned n = IMB_SUBMIT_BURST_NOCHECK(mgr, BENCH_BATCH, b->jobs);
    while (n < BENCH_BATCH) {
        unsigned f = IMB_FLUSH_BURST(mgr, IMB_MAX_JOBS, b->jobs);
        if (f == 0)
            break;
        n += f;
    }
}

static void run_evp_open(struct bench *b)
{
    EVP_CIPHER_CTX *c = b->evp;
    bool ccm = b->alg == CR_AEAD_AES128_CCM || b->alg == CR_AEAD_AES128_CCM8;
    int tag_len = (int)cr_aead_tag_len(b->alg);
    int outl;
    uint8_t fin[16];
    for (unsigned i = 0; i < BENCH_BATCH; i++) {
        int ok = 1;
        if (ccm)
            ok &= EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag_len, b->tag[i]);
        ok &= EVP_DecryptInit_ex(c, NULL, NULL, NULL, b->nonce[i]);
        if (ccm)
            ok &= EVP_DecryptUpdate(c, NULL, &outl, NULL, (int)b->size);
        ok &= EVP_DecryptUpdate(c, NULL, &outl, b->aad[i], CR_DTLS_AAD_LEN);
        if (!ccm)
            ok &= EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag_len, b->tag[i]);
        ok &= EVP_DecryptUpdate(c, b->out[i], &outl, b->ct[i], (int)b->size);
        if (!ccm)
            ok &= EVP_DecryptFinal_ex(c, fin, &outl);
        if (ok != 1)
            die("evp open failed");
    }
}

/* ---- timing --------------------------------------------------------------- */

typedef void (*run_fn)(struct bench *);

#define N_CONTENDERS 4
#define MAX_SAMPLES  8192
static uint32_t samples[N_CONTENDERS][MAX_SAMPLES];

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Times single batches of every contender in turn (so that all of them see
 * the same machine conditions: this host is shared), n_samples times, and
 * returns each contender's cycles/record at the 25th percentile of its
 * per-batch times (robust against preemption and noisy neighbours). */
static void measure(run_fn *fns, struct bench *b, unsigned n_samples,
                    double out_cycles[N_CONTENDERS])
{
    if (n_samples > MAX_SAMPLES)
        n_samples = MAX_SAMPLES;
    for (unsigned s = 0; s < n_samples; s++) {
        /* Rotate the order per sample so that no contender always runs
         * right after the same other one (the caches they share). */
        for (int j = 0; j < N_CONTENDERS; j++) {
            int f = (int)((s + (unsigned)j) % N_CONTENDERS);
            uint64_t t0 = tsc();
            fns[f](b);
            uint64_t t1 = tsc();
            uint64_t d = t1 - t0;
            samples[f][s] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
    }
    for (int f = 0; f < N_CONTENDERS; f++) {
        qsort(samples[f], n_samples, sizeof(uint32_t), cmp_u32);
        out_cycles[f] = (double)samples[f][n_samples / 4] / BENCH_BATCH;
    }
}

int main(int argc, char **argv)
{
    bool json = false, quick = false;
    const char *only_suite = NULL;
    unsigned only_size = 0;
    double budget_arg = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc)
            only_suite = argv[++i];
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            only_size = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc &&
                 (budget_arg = strtod(argv[++i], NULL)) > 0 && budget_arg <= 60)
            ;
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--json] [--suite NAME] "
                    "[--size BYTES] [--budget SECONDS]\n",
                    argv[0]);
            return 2;
        }
    }
    calibrate_tsc();
    /* Time budget per suite and size: 25 combinations. */
    const double budget_s = budget_arg > 0 ? budget_arg : quick ? 0.08 : 0.5;

    struct bench *b = NULL;
    if (posix_memalign((void **)&b, 64, sizeof(*b)) != 0)
        die("out of memory");
    memset(b, 0, sizeof(*b));
    b->ctx = cr_aead_ctx_new();
    b->mgr = alloc_mb_mgr(0);
    b->evp = EVP_CIPHER_CTX_new();
    if (b->ctx == NULL || b->mgr == NULL || b->evp == NULL)
        die("setup");
    IMB_ARCH arch;
    init_mb_mgr_auto(b->mgr, &arch);

    if (!json) {
        printf("bench-aead: ipsec-mb %s (%s), TSC %.3f GHz, batch %d, "
               "interleaved single-batch samples, 25th percentile\n",
               imb_get_version_str(), cr_aead_ctx_arch_name(b->ctx), tsc_hz / 1e9, BENCH_BATCH);
        printf("%-18s %5s | %10s %8s | %10s %8s | %6s | %10s | %10s %8s\n", "suite", "size",
               "open r/s", "cyc/rec", "raw r/s", "cyc/rec", "ratio", "seal r/s", "evp r/s",
               "cyc/rec");
    }
    /* Process-wide warm-up before the first figure: a fresh process (page
     * faults, lazy binding, the core's clock ramping up) otherwise makes the
     * first suite and size measured run in different conditions from the
     * rest.  Runs every contender on the first suite for ~0.3 s. */
    {
        run_fn fns[N_CONTENDERS] = {run_ours_open, run_raw_open, run_evp_open, run_ours_seal};
        double unused[N_CONTENDERS];
        bench_setup(b, (enum cr_aead_alg)0, sizes[0]);
        double t0 = now_s();
        while (now_s() - t0 < BENCH_WARMUP_S)
            measure(fns, b, 256, unused);
        cr_aead_key_wipe(&b->key);
    }
    double worst_ratio = 10;
    for (int alg = 0; alg < CR_AEAD_N_ALGS; alg++) {
        if (only_suite != NULL && strcmp(only_suite, cr_aead_alg_name((enum cr_aead_alg)alg)) != 0)
            continue;
        for (unsigned si = 0; si < N_SIZES; si++) {
            if (only_size != 0 && only_size != sizes[si])
                continue;
            bench_setup(b, (enum cr_aead_alg)alg, sizes[si]);
            bench_check_evp(b);
            run_fn fns[N_CONTENDERS] = {run_ours_open, run_raw_open, run_evp_open, run_ours_seal};
            double best[N_CONTENDERS];
            /* Warm up, then size the sample count to the time budget. */
            measure(fns, b, 16, best);
            double per_sample_s = 0;
            for (int f = 0; f < N_CONTENDERS; f++)
                per_sample_s += best[f] * BENCH_BATCH / tsc_hz;
            measure(fns, b, (unsigned)(budget_s / per_sample_s) + 16, best);
            double rps[4];
            for (int f = 0; f < 4; f++)
                rps[f] = tsc_hz / best[f];
            double ratio = rps[0] / rps[1];
            if (ratio < worst_ratio)
                worst_ratio = ratio;
            const char *name = cr_aead_alg_name((enum cr_aead_alg)alg);
            if (json) {
                printf("{\"suite\":\"%s\",\"size\":%u,\"ours_rps\":%.0f,"
                       "\"raw_rps\":%.0f,\"evp_rps\":%.0f,"
                       "\"ours_cycles\":%.1f,\"raw_cycles\":%.1f,"
                       "\"ratio\":%.3f,\"ours_seal_rps\":%.0f,"
                       "\"evp_cycles\":%.1f,\"arch\":\"%s\"}\n",
                       name, sizes[si], rps[0], rps[1], rps[2], best[0], best[1], ratio, rps[3],
                       best[2], cr_aead_ctx_arch_name(b->ctx));
            } else {
                printf("%-18s %5u | %10.0f %8.1f | %10.0f %8.1f | %6.3f | "
                       "%10.0f | %10.0f %8.1f\n",
                       name, sizes[si], rps[0], best[0], rps[1], best[1], ratio, rps[3], rps[2],
                       best[2]);
            }
            fflush(stdout);
            cr_aead_key_wipe(&b->key);
        }
    }
    if (!json)
        printf("worst ours/raw ratio (open): %.3f\n", worst_ratio);
    EVP_CIPHER_CTX_free(b->evp);
    free_mb_mgr(b->mgr);
    cr_aead_ctx_free(b->ctx);
    free(b);
    return 0;
}
