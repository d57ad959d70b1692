/* cr_aead.c — batch AEAD for DTLS 1.2 records over Intel ipsec-mb.
 *
 * Owns: the per-thread IMB_MGR and its per-op scratch (nonce, AAD, computed
 * tag) in struct cr_aead_ctx; key expansion (cr_aead_key_init); nonce and AAD
 * construction for DTLS 1.2 and RFC 9146 CID records; driving ipsec-mb's
 * burst API so every op of a call is completed and accounted for exactly once
 * before the call returns; constant-time tag comparison on open.
 * Must not: parse records, know about sessions, allocate or block per record,
 * or leave jobs queued in the IMB_MGR between calls.
 *
 * Zero-length payloads: ipsec-mb 1.3 handles msg_len 0 for GCM, CCM and
 * ChaCha20-Poly1305 (checked against NIST/Wycheproof empty-message vectors
 * and OpenSSL EVP in the tests); jobs never get NULL buffers: empty records
 * use a static dummy source/destination that is never read or written.
 *
 * ipsec-mb 1.3 burst API caveat (fixed in 1.4): bursts that start in the
 * middle of the manager's job array are mishandled (a CCM job can be left in
 * its out-of-order manager while the queue reads empty; FLUSH_BURST can
 * return stale jobs after the queue wrapped).  Every burst here therefore
 * starts at slot 0 of an empty queue (queue_realign()), is at most
 * CR_AEAD_BATCH_MAX (64) jobs so it never wraps, and is drained completely;
 * completion is judged from each job slot's own status and user_data, the
 * lists ipsec-mb returns are only cross-checked.
 *
 * Hot path (batch_chunk()): a chunk is specialised on its first valid key's
 * suite and direction (fill_family(): constant job fields in registers and
 * written as 16-byte pairs, nonce and AAD as word stores, the op_check()
 * tests as one predictable branch chain) and settled with the tag length
 * known (settle_same()).  Ops that do not fit (other key, CID, empty,
 * invalid) take the general path inside the same burst; anything unusual
 * after submission (a job still in flight, a non-empty queue, mixed tag
 * lengths) falls back to burst_drain() and settle().  Measured with
 * bench/bench_aead.c against a raw ipsec-mb burst loop.
 */
#include "cr_aead.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <emmintrin.h>

#include <openssl/crypto.h>

/* RFC 6347 §4.1 / RFC 5246 §6.2.1: "The length (in bytes) of the following
 * TLSPlaintext.fragment.  The length MUST NOT exceed 2^14."  For RFC 9146
 * the inner plaintext adds the content type and padding; allow a little
 * headroom for that. */
#define AEAD_PLAINTEXT_MAX_BYTES ((1u << 14) + 256u)
#define AEAD_NONCE_LEN           12
#define AEAD_SALT_LEN            4
/* Key and tag lengths of the suites (RFC 5288, RFC 6655, RFC 7905): the one
 * source of cr_aead_key_len() / cr_aead_tag_len() and of the constants the
 * per-suite fill (fill_family()) and settle (settle_chunk()) compile in. */
#define AEAD_KEY128_LEN 16 /* AES-128 */
#define AEAD_KEY256_LEN 32 /* AES-256, ChaCha20 */
#define AEAD_TAG_LEN    16 /* GCM, CCM, Poly1305 */
#define AEAD_TAG8_LEN   8  /* CCM-8 */
_Static_assert(AEAD_TAG_LEN == CR_AEAD_TAG_MAX_LEN && AEAD_KEY256_LEN == CR_AEAD_KEY_MAX_LEN,
               "key/tag buffers");
/* RFC 9146 §3: tls12_cid content type. */
#define AEAD_TLS12_CID_TYPE 25
/* Upper bound on FLUSH_BURST calls while draining one burst; a burst is at
 * most CR_AEAD_BATCH_MAX jobs, each flush completes at least one job. */
#define AEAD_DRAIN_MAX_ROUNDS (IMB_MAX_JOBS + 8)

/* Per-op scratch: the nonce and AAD must stay valid until ipsec-mb
 * completes the job (CCM jobs complete asynchronously).  One cache line per
 * op: nonce, computed tag and a 13-byte DTLS AAD (16 bytes stored).  Longer
 * AADs (RFC 9146 CID records) and every AAD built by the general path go to
 * struct cr_aead_ctx.aad_long[]. */
#define AEAD_AAD_SHORT_BYTES 32
#define AEAD_AAD_LONG_BYTES  48
struct aead_scratch {
    uint8_t nonce[16];
    uint8_t tag[CR_AEAD_TAG_MAX_LEN];
    uint8_t aad[AEAD_AAD_SHORT_BYTES];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct aead_scratch) == 64, "one line per op");
_Static_assert(CR_AEAD_AAD_MAX_LEN <= AEAD_AAD_LONG_BYTES, "AAD buffer");

struct cr_aead_ctx {
    IMB_MGR *mgr;
    IMB_ARCH arch;
    /* Job pointers of the burst in flight, as handed out by GET_NEXT_BURST. */
    IMB_JOB *jobs[CR_AEAD_BATCH_MAX];
    /* Completion lists written by SUBMIT_BURST / FLUSH_BURST. */
    IMB_JOB *done[IMB_MAX_JOBS];
    struct cr_aead_op *pending[CR_AEAD_BATCH_MAX];
    struct aead_scratch s[CR_AEAD_BATCH_MAX];
    uint8_t aad_long[CR_AEAD_BATCH_MAX][AEAD_AAD_LONG_BYTES] __attribute__((aligned(16)));
    /* Diagnostics: completions returned by ipsec-mb that did not belong to
     * the burst in flight or were returned twice (ipsec-mb 1.3 flush after
     * queue wrap), and jobs that ended in an error status. */
    uint64_t n_foreign_completions;
    uint64_t n_job_errors;
    uint64_t n_burst_calls;   /* bursts submitted */
    uint64_t n_job_api_calls; /* chunks run through the job API */
    uint64_t n_realigns;      /* queue moved back to slot 0 */
    bool force_job_api;       /* tests: exercise the job API fallback */
    /* All-zero key for realign jobs; ipsec-mb needs it 16-byte aligned. */
    struct gcm_key_data realign_key __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* ---- small helpers ---------------------------------------------------- */

static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* epoch(2) || seq(6), big-endian: the DTLS 64-bit record sequence number. */
static inline uint64_t dtls_seq64_be(uint16_t epoch, uint64_t seq)
{
    return __builtin_bswap64(((uint64_t)epoch << 48) | (seq & 0xffffffffffffull));
}

static const char *arch_name(IMB_ARCH arch)
{
    switch (arch) {
    case IMB_ARCH_NOAESNI:
        return "noaesni";
    case IMB_ARCH_SSE:
        return "sse";
    case IMB_ARCH_AVX:
        return "avx";
    case IMB_ARCH_AVX2:
        return "avx2";
    case IMB_ARCH_AVX512:
        return "avx512";
    default:
        return "unknown";
    }
}

/* ---- context ---------------------------------------------------------- */

static bool queue_realign(struct cr_aead_ctx *ctx);

struct cr_aead_ctx *cr_aead_ctx_new(void)
{
    struct cr_aead_ctx *ctx = NULL;
    if (posix_memalign((void **)&ctx, 64, sizeof(*ctx)) != 0)
        return NULL;
    memset(ctx, 0, sizeof(*ctx));
    ctx->mgr = alloc_mb_mgr(0);
    if (ctx->mgr == NULL)
        goto fail;
    ctx->arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(ctx->mgr, &ctx->arch);
    if (imb_get_errno(ctx->mgr) != 0 || ctx->arch == IMB_ARCH_NONE)
        goto fail;
    static const uint8_t zero_key[16];
    IMB_AES128_GCM_PRE(ctx->mgr, zero_key, &ctx->realign_key);
    /* init_mb_mgr() leaves the job queue mid-array; start at slot 0. */
    queue_realign(ctx);
    return ctx;
fail:
    if (ctx->mgr != NULL)
        free_mb_mgr(ctx->mgr);
    free(ctx);
    return NULL;
}

void cr_aead_ctx_free(struct cr_aead_ctx *ctx)
{
    if (ctx == NULL)
        return;
    /* The manager holds pointers to keys, never key bytes; free_mb_mgr()
     * needs its contents intact.  Scratch holds computed tags: wipe it. */
    if (ctx->mgr != NULL)
        free_mb_mgr(ctx->mgr);
    OPENSSL_cleanse(ctx, sizeof(*ctx));
    free(ctx);
}

IMB_MGR *cr_aead_ctx_mgr(struct cr_aead_ctx *ctx)
{
    return ctx != NULL ? ctx->mgr : NULL;
}

const char *cr_aead_ctx_arch_name(const struct cr_aead_ctx *ctx)
{
    return ctx != NULL ? arch_name(ctx->arch) : "none";
}

/* ---- algorithm table -------------------------------------------------- */

size_t cr_aead_key_len(enum cr_aead_alg alg)
{
    switch (alg) {
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        return AEAD_KEY128_LEN;
    case CR_AEAD_AES256_GCM:
    case CR_AEAD_CHACHA20_POLY1305:
        return AEAD_KEY256_LEN;
    default:
        return 0;
    }
}

size_t cr_aead_fixed_iv_len(enum cr_aead_alg alg)
{
    switch (alg) {
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES256_GCM:
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        return AEAD_SALT_LEN; /* RFC 5288 §3 / RFC 6655 §3: 4-byte salt */
    case CR_AEAD_CHACHA20_POLY1305:
        return AEAD_NONCE_LEN; /* RFC 7905 §2: 12-byte fixed_iv */
    default:
        return 0;
    }
}

size_t cr_aead_tag_len(enum cr_aead_alg alg)
{
    switch (alg) {
    case CR_AEAD_AES128_CCM8:
        return AEAD_TAG8_LEN;
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES256_GCM:
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_CHACHA20_POLY1305:
        return AEAD_TAG_LEN;
    default:
        return 0;
    }
}

size_t cr_aead_explicit_nonce_len(enum cr_aead_alg alg)
{
    switch (alg) {
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES256_GCM:
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        return CR_AEAD_EXPLICIT_NONCE_LEN;
    default:
        return 0;
    }
}

const char *cr_aead_alg_name(enum cr_aead_alg alg)
{
    switch (alg) {
    case CR_AEAD_AES128_GCM:
        return "AES-128-GCM";
    case CR_AEAD_AES256_GCM:
        return "AES-256-GCM";
    case CR_AEAD_AES128_CCM:
        return "AES-128-CCM";
    case CR_AEAD_AES128_CCM8:
        return "AES-128-CCM-8";
    case CR_AEAD_CHACHA20_POLY1305:
        return "CHACHA20-POLY1305";
    default:
        return "unknown";
    }
}

/* ---- keys --------------------------------------------------------------- */

int cr_aead_key_init(struct cr_aead_key *key, struct cr_aead_ctx *ctx, enum cr_aead_alg alg,
                     const uint8_t *secret, size_t secret_len, const uint8_t *fixed_iv,
                     size_t fixed_iv_len)
{
    CR_ENSURE(key != NULL && secret != NULL && fixed_iv != NULL, CR_ERR_INVAL);
    CR_ENSURE((unsigned)alg < CR_AEAD_N_ALGS, CR_ERR_UNSUPPORTED);
    CR_ENSURE(secret_len == cr_aead_key_len(alg), CR_ERR_INVAL);
    CR_ENSURE(fixed_iv_len == cr_aead_fixed_iv_len(alg), CR_ERR_INVAL);

    /* Key expansion needs a manager; the control plane may call this
     * without a worker context, so borrow a temporary one then. */
    IMB_MGR *mgr = ctx != NULL ? ctx->mgr : NULL;
    IMB_MGR *tmp = NULL;
    if (mgr == NULL) {
        IMB_ARCH arch = IMB_ARCH_NONE;
        tmp = alloc_mb_mgr(0);
        CR_ENSURE(tmp != NULL, CR_ERR_NOMEM);
        init_mb_mgr_auto(tmp, &arch);
        if (arch == IMB_ARCH_NONE) {
            free_mb_mgr(tmp);
            return CR_ERR_CRYPTO;
        }
        mgr = tmp;
    }

    memset(key, 0, sizeof(*key));
    switch (alg) {
    case CR_AEAD_AES128_GCM:
        IMB_AES128_GCM_PRE(mgr, secret, &key->k.gcm);
        break;
    case CR_AEAD_AES256_GCM:
        IMB_AES256_GCM_PRE(mgr, secret, &key->k.gcm);
        break;
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        /* CCM uses the forward (encryption) schedule in both directions. */
        IMB_AES_KEYEXP_128(mgr, secret, key->k.aes.enc, key->k.aes.dec);
        break;
    case CR_AEAD_CHACHA20_POLY1305:
        memcpy(key->k.chacha, secret, 32);
        break;
    default:
        break;
    }
    memcpy(key->fixed_iv, fixed_iv, fixed_iv_len);
    key->alg = (uint8_t)alg;
    key->tag_len = (uint8_t)cr_aead_tag_len(alg);
    key->key_len = (uint8_t)secret_len;
    key->fixed_iv_len = (uint8_t)fixed_iv_len;

    if (tmp != NULL)
        free_mb_mgr(tmp);
    return CR_OK;
}

int cr_aead_key_export(const struct cr_aead_key *key, enum cr_aead_alg *out_alg, uint8_t *out_key,
                       size_t out_key_cap, size_t *out_key_len, uint8_t *out_iv, size_t out_iv_cap,
                       size_t *out_iv_len)
{
    CR_ENSURE(key != NULL && out_alg != NULL && out_key != NULL && out_key_len != NULL &&
                  out_iv != NULL && out_iv_len != NULL,
              CR_ERR_INVAL);
    CR_ENSURE(key->alg < CR_AEAD_N_ALGS, CR_ERR_INVAL);
    enum cr_aead_alg alg = (enum cr_aead_alg)key->alg;
    /* a wiped or never initialised key has key_len 0 */
    CR_ENSURE(key->key_len == cr_aead_key_len(alg) &&
                  key->fixed_iv_len == cr_aead_fixed_iv_len(alg),
              CR_ERR_INVAL);
    CR_ENSURE(out_key_cap >= key->key_len && out_iv_cap >= key->fixed_iv_len, CR_ERR_INVAL);
    const uint8_t *raw;
    switch (alg) {
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES256_GCM:
        /* ipsec-mb's GCM precompute stores the encryption round keys
         * first: round keys 0 (and 1 for AES-256) are the key. */
        raw = key->k.gcm.expanded_keys;
        break;
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        raw = (const uint8_t *)key->k.aes.enc;
        break;
    default:
        raw = key->k.chacha;
        break;
    }
    memcpy(out_key, raw, key->key_len);
    memcpy(out_iv, key->fixed_iv, key->fixed_iv_len);
    *out_alg = alg;
    *out_key_len = key->key_len;
    *out_iv_len = key->fixed_iv_len;
    return CR_OK;
}

void cr_aead_key_wipe(struct cr_aead_key *key)
{
    if (key != NULL)
        OPENSSL_cleanse(key, sizeof(*key));
}

/* ---- nonce and AAD ------------------------------------------------------ */

void cr_aead_explicit_nonce(uint8_t out[8], uint16_t epoch, uint64_t seq)
{
    uint64_t v = dtls_seq64_be(epoch, seq);
    memcpy(out, &v, 8);
}

static inline void build_nonce(const struct cr_aead_op *op, uint8_t *nonce)
{
    const struct cr_aead_key *key = op->key;
    if (key->alg == CR_AEAD_CHACHA20_POLY1305) {
        /* RFC 7905 §2: "The 64-bit record sequence number is serialized as
         * an 8-byte, big-endian value and padded on the left with four
         * 0x00 bytes.  The padded sequence number is XORed with the
         * client_write_IV (when the client is sending) or server_write_IV
         * (when the server is sending)."  In DTLS the 64-bit sequence
         * number is epoch(2) || sequence_number(6). */
        uint64_t iv_lo;
        memcpy(nonce, key->fixed_iv, 4);
        memcpy(&iv_lo, key->fixed_iv + 4, 8);
        iv_lo ^= dtls_seq64_be(op->epoch, op->seq);
        memcpy(nonce + 4, &iv_lo, 8);
        return;
    }
    /* RFC 5288 §3 / RFC 6655 §3: "struct { opaque salt[4];
     * opaque nonce_explicit[8]; } GCMNonce;" (CCMNonce has the same
     * layout).  The salt is the implicit part of the key block. */
    memcpy(nonce, key->fixed_iv, AEAD_SALT_LEN);
    memcpy(nonce + AEAD_SALT_LEN, op->explicit_nonce, CR_AEAD_EXPLICIT_NONCE_LEN);
}

void cr_aead_build_nonce(const struct cr_aead_op *op, uint8_t nonce[12])
{
    build_nonce(op, nonce);
}

/* Assumes op->cid_len <= CR_AEAD_CID_MAX_LEN (checked by the caller). */
static inline unsigned build_aad(const struct cr_aead_op *op, uint8_t *aad)
{
    if (op->cid == NULL) {
        /* RFC 6347 §4.1.2.1 (via RFC 5246 §6.2.3.3): additional_data =
         * seq_num + TLSCompressed.type + TLSCompressed.version +
         * TLSCompressed.length, where seq_num is epoch(2) || seq(6). */
        uint64_t seq64 = dtls_seq64_be(op->epoch, op->seq);
        memcpy(aad, &seq64, 8);
        /* type(1) || version(2) || length(2), stored as one little-endian
         * word: 8 bytes written, the 3 bytes past the AAD are don't-care
         * (every AAD buffer is at least 32 bytes). */
        uint64_t tail = (uint64_t)op->type | (uint64_t)__builtin_bswap16(op->version) << 8 |
                        (uint64_t)__builtin_bswap16((uint16_t)op->len) << 24;
        memcpy(aad + 8, &tail, 8);
        return CR_DTLS_AAD_LEN;
    }
    /* RFC 9146 §5: "additional_data = seq_num_placeholder + tls12_cid +
     * cid_length + tls12_cid + DTLSCiphertext.version + epoch +
     * sequence_number + cid + length_of_DTLSInnerPlaintext;" with
     * seq_num_placeholder 8 bytes of 0xff. */
    memset(aad, 0xff, 8);
    aad[8] = AEAD_TLS12_CID_TYPE;
    aad[9] = op->cid_len;
    aad[10] = AEAD_TLS12_CID_TYPE;
    put_be16(aad + 11, op->version);
    uint64_t seq64 = dtls_seq64_be(op->epoch, op->seq);
    memcpy(aad + 13, &seq64, 8);
    memcpy(aad + 21, op->cid, op->cid_len);
    put_be16(aad + 21 + op->cid_len, (uint16_t)op->len);
    return CR_AEAD_CID_AAD_FIXED_LEN + op->cid_len;
}

/* Validates the caller's op; 0 or a negative CR_ERR_*. */
static inline int op_check(const struct cr_aead_op *op)
{
    const struct cr_aead_key *key = op->key;
    if (key == NULL || key->alg >= CR_AEAD_N_ALGS || key->tag_len == 0)
        return CR_ERR_INVAL;
    if (op->len > AEAD_PLAINTEXT_MAX_BYTES)
        return CR_ERR_INVAL;
    if (op->len != 0 && (op->in == NULL || op->out == NULL))
        return CR_ERR_INVAL;
    if (op->tag == NULL)
        return CR_ERR_INVAL;
    if (key->alg != CR_AEAD_CHACHA20_POLY1305 && op->explicit_nonce == NULL)
        return CR_ERR_INVAL;
    if (op->cid != NULL) {
        /* RFC 9146 §4: CID records carry the tls12_cid content type. */
        if (op->cid_len > CR_AEAD_CID_MAX_LEN || op->type != AEAD_TLS12_CID_TYPE)
            return CR_ERR_INVAL;
    }
    return CR_OK;
}

int cr_aead_build_aad(const struct cr_aead_op *op, uint8_t *aad)
{
    CR_ENSURE(op != NULL && aad != NULL, CR_ERR_INVAL);
    if (op->cid != NULL && (op->cid_len > CR_AEAD_CID_MAX_LEN || op->type != AEAD_TLS12_CID_TYPE))
        return CR_ERR_INVAL;
    CR_ENSURE(op->len <= AEAD_PLAINTEXT_MAX_BYTES, CR_ERR_INVAL);
    /* build_aad() may store a few bytes past the AAD; write exactly. */
    uint8_t tmp[AEAD_AAD_LONG_BYTES];
    unsigned n = build_aad(op, tmp);
    memcpy(aad, tmp, n);
    return (int)n;
}

/* ---- job construction --------------------------------------------------- */

/* Constant-time tag comparison (tag_len is 8 or 16, a public value): the
 * same guarantee as CRYPTO_memcmp() — no branch or memory access depends on
 * the tag bytes — as two word XORs OR-ed together, without a library call
 * per record (the open hot path).  Returns non-zero on mismatch; only that
 * public accept/reject bit is branched on. */
static inline int tag_mismatch(const uint8_t *a, const uint8_t *b, unsigned tag_len)
{
    uint64_t a0, b0, a1 = 0, b1 = 0;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    if (tag_len == AEAD_TAG_LEN) {
        memcpy(&a1, a + 8, 8);
        memcpy(&b1, b + 8, 8);
    }
    uint64_t diff = (a0 ^ b0) | (a1 ^ b1);
    /* Every tag byte went into diff; only diff != 0 (the public verdict)
     * comes out, as a flag (setcc), not as which byte differed. */
    return diff != 0;
}

/* tag_mismatch() for a tag length known at compile time: a 16-byte tag is
 * compared with one SSE2 byte-compare and mask (pcmpeqb/pmovmskb: no branch
 * or memory access depends on the bytes; only the public verdict, mask ==
 * 0xffff, comes out). */
static inline __attribute__((always_inline)) int
tag_mismatch_fixed(const uint8_t *a, const uint8_t *b, const unsigned tag_len)
{
    if (tag_len != AEAD_TAG_LEN)
        return tag_mismatch(a, b, tag_len);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i y = _mm_loadu_si128((const __m128i *)(const void *)b);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) != 0xffff;
}

/* A valid, never-written source/destination for zero-length jobs: ipsec-mb
 * rejects NULL buffers even when nothing is read. */
static uint8_t empty_buf[16] __attribute__((aligned(16)));

/* Fills every job field that the chosen cipher/hash reads.  The job slot is
 * reused from earlier bursts, so nothing may be assumed about its contents;
 * fields not listed are not read by GCM, CCM or ChaCha20-Poly1305 jobs. */
static inline void job_fill(IMB_JOB *job, const struct cr_aead_key *key, bool seal,
                            const uint8_t *in, uint8_t *out, uint32_t len, const uint8_t *nonce,
                            const uint8_t *aad, unsigned aad_len, uint8_t *tag_out)
{
    job->src = in != NULL ? in : empty_buf;
    job->dst = out != NULL ? out : empty_buf;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = len;
    job->iv = nonce;
    job->iv_len_in_bytes = AEAD_NONCE_LEN;
    job->auth_tag_output = tag_out;
    job->auth_tag_output_len_in_bytes = key->tag_len;
    job->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;

    switch (key->alg) {
    case CR_AEAD_AES128_GCM:
    case CR_AEAD_AES256_GCM:
        job->enc_keys = &key->k.gcm;
        job->dec_keys = &key->k.gcm;
        job->key_len_in_bytes = key->key_len;
        job->cipher_mode = IMB_CIPHER_GCM;
        /* IMB_AUTH_AES_GMAC is the GCM hash for every key size; the
         * GMAC_128/256 values are standalone GMAC. */
        job->hash_alg = IMB_AUTH_AES_GMAC;
        job->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
        job->u.GCM.aad = aad;
        job->u.GCM.aad_len_in_bytes = aad_len;
        job->u.GCM.ctx = NULL;
        break;
    case CR_AEAD_AES128_CCM:
    case CR_AEAD_AES128_CCM8:
        job->enc_keys = key->k.aes.enc;
        job->dec_keys = key->k.aes.enc;
        job->key_len_in_bytes = 16;
        job->cipher_mode = IMB_CIPHER_CCM;
        job->hash_alg = IMB_AUTH_AES_CCM;
        /* CCM authenticates the plaintext: MAC first when sealing, decrypt
         * first when opening. */
        job->chain_order = seal ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
        job->u.CCM.aad = aad;
        job->u.CCM.aad_len_in_bytes = aad_len;
        break;
    default: /* CR_AEAD_CHACHA20_POLY1305 */
        job->enc_keys = key->k.chacha;
        job->dec_keys = key->k.chacha;
        job->key_len_in_bytes = 32;
        job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
        job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
        job->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
        job->u.CHACHA20_POLY1305.aad = aad;
        job->u.CHACHA20_POLY1305.aad_len_in_bytes = aad_len;
        job->u.CHACHA20_POLY1305.ctx = NULL;
        break;
    }
}

/* ---- burst driver ------------------------------------------------------- */

/* Completes every job of the burst in flight (ctx->jobs[0..k)) before
 * returning.  SUBMIT_BURST returns the jobs that completed in order; CCM
 * jobs may remain in flight and need FLUSH_BURST.  ipsec-mb 1.3 can return
 * stale job pointers from FLUSH_BURST after its job queue wrapped (fixed in
 * 1.4), so the returned lists are only used as a hint and checked: the
 * authority is the status of each job slot of this burst, whose user_data
 * identifies the op.  The loop ends when the manager's queue is empty and
 * every job of this burst has left IMB_STATUS_BEING_PROCESSED. */
static void burst_drain(struct cr_aead_ctx *ctx, struct cr_aead_op **pend, unsigned k,
                        unsigned n_ret)
{
    IMB_MGR *mgr = ctx->mgr;
    /* Common case (GCM and ChaCha20 complete inside SUBMIT_BURST): every
     * job of the burst came back, in order.  Settle() still checks each
     * slot's status. */
    if (n_ret == k) {
        unsigned same = 0;
        for (unsigned r = 0; r < k; r++)
            same += ctx->done[r] == ctx->jobs[r];
        if (same == k)
            return;
    }
    for (unsigned round = 0;; round++) {
        /* Cross-check what ipsec-mb reported as completed. */
        for (unsigned r = 0; r < n_ret; r++) {
            IMB_JOB *j = ctx->done[r];
            /* The burst's slots are contiguous from ctx->jobs[0]. */
            uintptr_t slot = ((uintptr_t)j - (uintptr_t)ctx->jobs[0]) / sizeof(IMB_JOB);
            if (slot >= k || ctx->jobs[slot] != j || j->user_data != pend[slot])
                ctx->n_foreign_completions++;
        }
        bool busy = IMB_QUEUE_SIZE(mgr) != 0;
        if (!busy) {
            for (unsigned i = 0; i < k; i++) {
                if (ctx->jobs[i]->status == IMB_STATUS_BEING_PROCESSED) {
                    busy = true;
                    break;
                }
            }
        }
        if (!busy || round >= AEAD_DRAIN_MAX_ROUNDS)
            return;
        n_ret = IMB_FLUSH_BURST(mgr, IMB_MAX_JOBS, ctx->done);
    }
}

/* The hot path's emptiness test: IMB_MGR.earliest_job is documented as the
 * byte offset of the oldest queued job, -1 if none (what IMB_QUEUE_SIZE()
 * computes from, without the indirect call). */
static inline bool queue_empty(const IMB_MGR *mgr)
{
    return mgr->earliest_job < 0;
}

/* Empties a queue that an earlier failure may have left non-empty, so that
 * GET_NEXT_BURST can hand out a full burst. */
static void queue_reset(struct cr_aead_ctx *ctx)
{
    for (unsigned round = 0; IMB_QUEUE_SIZE(ctx->mgr) != 0 && round < AEAD_DRAIN_MAX_ROUNDS;
         round++)
        (void)IMB_FLUSH_BURST(ctx->mgr, IMB_MAX_JOBS, ctx->done);
}

/* Makes the next job slot slot 0 of the manager's job array, so that a
 * burst of up to CR_AEAD_BATCH_MAX jobs neither starts mid-queue nor wraps.
 * ipsec-mb 1.3 mishandles bursts that start mid-queue: a CCM job can be left
 * in its out-of-order manager while the queue reads empty, and FLUSH_BURST
 * returns stale jobs after the queue wrapped (fixed in 1.4).  The queue is
 * mid-array after init_mb_mgr() and after anyone used the manager's job API
 * (cr_aead_ctx_mgr()).  The burst API rewinds an emptied queue to slot 0,
 * so one zero-length GCM job (synchronous: it completes inside
 * SUBMIT_BURST) submitted as a burst brings the queue back.  Returns true
 * when the queue is empty and at slot 0. */
static bool queue_realign(struct cr_aead_ctx *ctx)
{
    IMB_MGR *mgr = ctx->mgr;
    IMB_JOB *next[1];
    if (IMB_QUEUE_SIZE(mgr) != 0)
        queue_reset(ctx);
    if (IMB_QUEUE_SIZE(mgr) != 0 || IMB_GET_NEXT_BURST(mgr, 1, next) != 1)
        return false;
    if (next[0] == &mgr->jobs[0])
        return true;
    struct aead_scratch *s = &ctx->s[0];
    memset(s->nonce, 0, sizeof(s->nonce));
    IMB_JOB *job = next[0];
    job->src = empty_buf;
    job->dst = empty_buf;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = 0;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = 0;
    job->iv = s->nonce;
    job->iv_len_in_bytes = AEAD_NONCE_LEN;
    job->auth_tag_output = s->tag;
    job->auth_tag_output_len_in_bytes = 16;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->enc_keys = &ctx->realign_key;
    job->dec_keys = &ctx->realign_key;
    job->key_len_in_bytes = 16;
    job->cipher_mode = IMB_CIPHER_GCM;
    job->hash_alg = IMB_AUTH_AES_GMAC;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job->u.GCM.aad = s->aad;
    job->u.GCM.aad_len_in_bytes = 0;
    job->u.GCM.ctx = NULL;
    job->user_data = NULL;
    job->user_data2 = NULL;
    ctx->n_realigns++;
    (void)IMB_SUBMIT_BURST(mgr, 1, next);
    if (IMB_QUEUE_SIZE(mgr) != 0)
        queue_reset(ctx);
    return IMB_QUEUE_SIZE(mgr) == 0 && IMB_GET_NEXT_BURST(mgr, 1, next) == 1 &&
           next[0] == &mgr->jobs[0];
}

/* Runs pend[0..k) through the single-job API (see batch_chunk for when).
 * Leaves ctx->jobs[i] pointing at op i's job slot; k <= CR_AEAD_BATCH_MAX
 * is less than IMB_MAX_JOBS, so no slot is reused before the caller reads
 * the statuses. */
static void job_api_run(struct cr_aead_ctx *ctx, struct cr_aead_op **pend, unsigned k, bool seal)
{
    IMB_MGR *mgr = ctx->mgr;
    ctx->n_job_api_calls++;
    for (unsigned i = 0; i < k; i++) {
        struct cr_aead_op *op = pend[i];
        struct aead_scratch *s = &ctx->s[i];
        uint8_t *aad = ctx->aad_long[i];
        IMB_JOB *job = IMB_GET_NEXT_JOB(mgr);
        build_nonce(op, s->nonce);
        unsigned aad_len = build_aad(op, aad);
        job_fill(job, op->key, seal, op->len ? op->in : NULL, op->len ? op->out : NULL, op->len,
                 s->nonce, aad, aad_len, seal ? op->tag : s->tag);
        job->user_data = op;
        job->user_data2 = (void *)(uintptr_t)i;
        ctx->jobs[i] = job;
        /* Completed jobs are identified by slot afterwards; the returned
         * pointers need no handling beyond letting the queue advance. */
        IMB_JOB *done = IMB_SUBMIT_JOB(mgr);
        while (done != NULL)
            done = IMB_GET_COMPLETED_JOB(mgr);
    }
    for (unsigned round = 0; round < AEAD_DRAIN_MAX_ROUNDS; round++)
        if (IMB_FLUSH_JOB(mgr) == NULL)
            break;
}

/* Sets the status of pend[0..k) from their completed jobs ctx->jobs[0..k)
 * and returns how many are CR_OK.  Open compares tags in constant time. */
static unsigned settle(struct cr_aead_ctx *ctx, struct cr_aead_op **pend, unsigned k, bool seal)
{
    unsigned n_ok = 0;
    for (unsigned i = 0; i < k; i++) {
        struct cr_aead_op *op = pend[i];
        const IMB_JOB *job = ctx->jobs[i];
        if (job->status != IMB_STATUS_COMPLETED || job->user_data != op) {
            op->status = CR_ERR_CRYPTO;
            ctx->n_job_errors++;
            continue;
        }
        if (!seal && tag_mismatch(ctx->s[i].tag, op->tag, op->key->tag_len)) {
            op->status = CR_ERR_AUTH;
            continue;
        }
        op->status = CR_OK;
        n_ok++;
    }
    return n_ok;
}

/* Fallback for a queue that could not be rewound to slot 0: validate, then
 * run the chunk through the job API. */
static unsigned chunk_job_api(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n,
                              bool seal)
{
    unsigned n_ok = 0, k = 0;
    for (unsigned i = 0; i < n; i++) {
        struct cr_aead_op *op = &ops[i];
        int rc = op_check(op);
        if (rc != CR_OK)
            op->status = (int16_t)rc;
        else
            ctx->pending[k++] = op;
    }
    if (k == 0)
        return n_ok;
    job_api_run(ctx, ctx->pending, k, seal);
    return n_ok + settle(ctx, ctx->pending, k, seal);
}

/* ---- fill: general and per-family fast paths ---------------------------- */

/* Validates, builds nonce and AAD and fills the job of one op through the
 * general path (any key, CID, empty payload).  Returns false, with the op's
 * status set, when the op is invalid. */
static inline bool fill_general(struct cr_aead_op *op, IMB_JOB *job, struct aead_scratch *s,
                                uint8_t *aad, bool seal)
{
    int rc = op_check(op);
    if (rc != CR_OK) {
        op->status = (int16_t)rc;
        return false;
    }
    build_nonce(op, s->nonce);
    unsigned aad_len = build_aad(op, aad);
    job_fill(job, op->key, seal, op->len ? op->in : NULL, op->len ? op->out : NULL, op->len,
             s->nonce, aad, aad_len, seal ? op->tag : s->tag);
    return true;
}

/* Paired job fields are written as one 16-byte store each.  The pairs
 * must be adjacent in IMB_JOB (ipsec-mb 1.3 layout, checked here). */
typedef uint64_t u64x2 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));

#define JOB_ADJACENT(a, b)                                                                         \
    (offsetof(IMB_JOB, b) == offsetof(IMB_JOB, a) + sizeof(((IMB_JOB *)0)->a))
_Static_assert(JOB_ADJACENT(enc_keys, dec_keys), "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(src, dst), "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(cipher_start_src_offset_in_bytes, msg_len_to_cipher_in_bytes),
               "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(hash_start_src_offset_in_bytes, msg_len_to_hash_in_bytes),
               "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(iv, iv_len_in_bytes), "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(auth_tag_output, auth_tag_output_len_in_bytes), "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(u.GCM.aad, u.GCM.aad_len_in_bytes), "IMB_JOB layout");
_Static_assert(offsetof(IMB_JOB, u.CCM.aad) == offsetof(IMB_JOB, u.GCM.aad) &&
                   offsetof(IMB_JOB, u.CCM.aad_len_in_bytes) ==
                       offsetof(IMB_JOB, u.GCM.aad_len_in_bytes) &&
                   offsetof(IMB_JOB, u.CHACHA20_POLY1305.aad) == offsetof(IMB_JOB, u.GCM.aad) &&
                   offsetof(IMB_JOB, u.CHACHA20_POLY1305.aad_len_in_bytes) ==
                       offsetof(IMB_JOB, u.GCM.aad_len_in_bytes),
               "IMB_JOB layout");
_Static_assert(JOB_ADJACENT(cipher_mode, cipher_direction) &&
                   JOB_ADJACENT(cipher_direction, hash_alg) &&
                   JOB_ADJACENT(hash_alg, chain_order) && sizeof(IMB_CHAIN_ORDER) == 4 &&
                   sizeof(IMB_HASH_ALG) == 4 && sizeof(IMB_CIPHER_DIRECTION) == 4 &&
                   sizeof(IMB_CIPHER_MODE) == 4,
               "IMB_JOB layout");
_Static_assert(sizeof(uintptr_t) == 8 && sizeof(void *) == 8, "64-bit pointers");

static inline void job_put2(IMB_JOB *job, size_t off, u64x2 v)
{
    memcpy((char *)job + off, &v, sizeof(v));
}

static inline void job_put4(IMB_JOB *job, size_t off, u32x4 v)
{
    memcpy((char *)job + off, &v, sizeof(v));
}

/* Suites whose jobs share every constant field (cipher mode, hash, chain
 * order, key layout). */
enum aead_family {
    FAM_GCM,
    FAM_CCM,
    FAM_CHACHA
};

/* Result of a fill pass: k ops queued in job slots 0..k, whether every one
 * has the tag length of the chunk's first key, and where the list of the
 * queued ops is. */
struct fill_result {
    unsigned k;
    bool same_tag_len;
    /* Ops were dropped: the queued ops are ctx->pending[0..k).  Otherwise
     * they are ops[0..k) and pending[] and the jobs' user_data are not
     * written (batch_chunk()'s slow path writes them when it needs them). */
    bool gaps;
};

/* Fills the jobs of ops[0..n) when the chunk's first valid key, key0, is
 * of suite `alg` (the common case: one session's burst, one key).  `seal`
 * and `alg` are compile-time constants at every call, so each instance is a
 * straight loop with the key's constant job fields held in registers.
 * An op goes the fast way when its key is key0 or another key of the same
 * suite with the suite's lengths (a burst of many sessions: one suite,
 * many keys) and it passes the checks that op_check() would make of such
 * an op, combined into one predictable test:
 * payload of 1..AEAD_PLAINTEXT_MAX_BYTES bytes with both buffers, a tag, an
 * explicit nonce where the suite has one, no CID.  Every other op (other
 * key, empty payload, CID record, invalid) takes fill_general(), which
 * validates it in full; the two paths write the same job fields.
 * A twin of op_check() + build_nonce() + build_aad() + job_fill() for the
 * common op, kept equal by the differential tests in tests/unit/test_aead.c
 * ("one-key fast path mixed with other ops", test_fast_path_mix, and the
 * EVP cross-checks), which run the same ops through both paths. */
static inline __attribute__((always_inline)) struct fill_result
fill_family(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n,
            const struct cr_aead_key *key0, const bool seal, const enum cr_aead_alg alg)
{
    const enum aead_family fam = alg == CR_AEAD_AES128_GCM || alg == CR_AEAD_AES256_GCM ? FAM_GCM
                                 : alg == CR_AEAD_CHACHA20_POLY1305                     ? FAM_CHACHA
                                                                                        : FAM_CCM;
    /* fill_chunk() checked that key0's lengths are alg's. */
    const uint64_t key_len = alg == CR_AEAD_AES256_GCM || alg == CR_AEAD_CHACHA20_POLY1305
                                 ? AEAD_KEY256_LEN
                                 : AEAD_KEY128_LEN;
    const uint64_t tag_len = alg == CR_AEAD_AES128_CCM8 ? AEAD_TAG8_LEN : AEAD_TAG_LEN;
    const IMB_CIPHER_MODE mode = fam == FAM_GCM   ? IMB_CIPHER_GCM
                                 : fam == FAM_CCM ? IMB_CIPHER_CCM
                                                  : IMB_CIPHER_CHACHA20_POLY1305;
    const IMB_HASH_ALG hash = fam == FAM_GCM   ? IMB_AUTH_AES_GMAC
                              : fam == FAM_CCM ? IMB_AUTH_AES_CCM
                                               : IMB_AUTH_CHACHA20_POLY1305;
    /* Same orders as job_fill(): CCM MACs the plaintext. */
    const IMB_CHAIN_ORDER order =
        (fam == FAM_CCM) == seal ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
    const IMB_CIPHER_DIRECTION dir = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;

    /* Job slots 0..n are contiguous (batch_chunk() checked slot 0). */
    IMB_JOB *job = ctx->jobs[0];
    struct aead_scratch *s = ctx->s;
    /* Constant job fields, paired as they lie in IMB_JOB (see the layout
     * asserts), so each pair is one 16-byte store. */
    const u32x4 v_algs = {(uint32_t)mode, (uint32_t)dir, (uint32_t)hash, (uint32_t)order};
    /* Per-slot pointers into the scratch: advance by one slot per op. */
    const u64x2 v_step = {sizeof(*s), 0};
    u64x2 v_iv = {(uintptr_t)s->nonce, AEAD_NONCE_LEN};
    u64x2 v_aad = {(uintptr_t)s->aad, CR_DTLS_AAD_LEN};
    u64x2 v_tag = {(uintptr_t)s->tag, tag_len};
    struct fill_result r = {0, true, false};
    for (unsigned i = 0; i < n; i++) {
        struct cr_aead_op *op = &ops[i];
        const struct cr_aead_key *key = op->key;
        const uint8_t *in = op->in;
        uint8_t *out = op->out;
        uint8_t *tag = op->tag;
        const uint8_t *expl = op->explicit_nonce;
        const uint32_t len = op->len;
        if (__builtin_expect(
                (key != key0 && (key == NULL || key->alg != alg || key->tag_len != tag_len ||
                                 key->key_len != key_len)) ||
                    len - 1u >= AEAD_PLAINTEXT_MAX_BYTES || in == NULL || out == NULL ||
                    tag == NULL || op->cid != NULL || (fam != FAM_CHACHA && expl == NULL),
                0)) {
            if (!fill_general(op, job, s, ctx->aad_long[r.k], seal)) {
                if (!r.gaps) {
                    /* Until now op j went to slot j. */
                    for (unsigned j = 0; j < r.k; j++) {
                        ctx->pending[j] = &ops[j];
                        ctx->jobs[0][j].user_data = &ops[j];
                    }
                    r.gaps = true;
                }
                continue;
            }
            r.same_tag_len &= op->key->tag_len == tag_len;
        } else {
            const void *kp = fam == FAM_GCM   ? (const void *)&key->k.gcm
                             : fam == FAM_CCM ? (const void *)key->k.aes.enc
                                              : (const void *)key->k.chacha;
            const u64x2 v_keys = {(uintptr_t)kp, (uintptr_t)kp};
            /* Nonce (see build_nonce()): GCM/CCM salt(4) || explicit(8);
             * ChaCha20 fixed_iv[0..4) || (fixed_iv[4..12) ^ epoch||seq). */
            uint32_t iv_hi;
            memcpy(&iv_hi, key->fixed_iv, 4);
            const uint64_t seq64 = dtls_seq64_be(op->epoch, op->seq);
            /* RFC 6347 §4.1.2.1 AAD, as build_aad(): seq_num(8) ||
             * type(1) || version(2) || length(2), the last five bytes
             * built as one word: bswap32(version << 16 | length) puts
             * both big-endian side by side (16 bytes stored). */
            const uint32_t vl = __builtin_bswap32((uint32_t)op->version << 16 | (uint16_t)len);
            const uint64_t tail = (uint64_t)op->type | (uint64_t)vl << 8;
            uint64_t nonce_lo;
            if (fam == FAM_CHACHA) {
                uint64_t iv_lo;
                memcpy(&iv_lo, key->fixed_iv + 4, 8);
                nonce_lo = iv_lo ^ seq64;
            } else
                memcpy(&nonce_lo, expl, 8);
            memcpy(s->nonce, &iv_hi, 4);
            memcpy(s->nonce + 4, &nonce_lo, 8);
            memcpy(s->aad, &seq64, 8);
            memcpy(s->aad + 8, &tail, 8);

            /* Per-op values: plain stores (building vectors of them costs
             * more instructions than it saves). */
            job_put2(job, offsetof(IMB_JOB, enc_keys), v_keys);
            job->key_len_in_bytes = key_len;
            job->src = in;
            job->dst = out;
            job->cipher_start_src_offset_in_bytes = 0;
            job->msg_len_to_cipher_in_bytes = len;
            job->hash_start_src_offset_in_bytes = 0;
            job->msg_len_to_hash_in_bytes = len;
            job_put2(job, offsetof(IMB_JOB, iv), v_iv);
            if (seal) {
                job->auth_tag_output = tag;
                job->auth_tag_output_len_in_bytes = tag_len;
            } else {
                job_put2(job, offsetof(IMB_JOB, auth_tag_output), v_tag);
            }
            /* u.GCM, u.CCM and u.CHACHA20_POLY1305 all start with aad,
             * aad_len_in_bytes (asserted); GCM and ChaCha20 add ctx. */
            job_put2(job, offsetof(IMB_JOB, u.GCM.aad), v_aad);
            if (fam == FAM_GCM)
                job->u.GCM.ctx = NULL;
            else if (fam == FAM_CHACHA)
                job->u.CHACHA20_POLY1305.ctx = NULL;
            job_put4(job, offsetof(IMB_JOB, cipher_mode), v_algs);
        }
        if (r.gaps) {
            job->user_data = op;
            ctx->pending[r.k] = op;
        }
        r.k++;
        job++;
        s++;
        v_iv += v_step;
        v_aad += v_step;
        v_tag += v_step;
    }
    return r;
}

/* Fills jobs for a chunk whose ops have no valid key to specialise on. */
static struct fill_result fill_all_general(struct cr_aead_ctx *ctx, struct cr_aead_op *ops,
                                           unsigned n, bool seal)
{
    struct fill_result r = {0, false, true};
    for (unsigned i = 0; i < n; i++) {
        struct cr_aead_op *op = &ops[i];
        if (!fill_general(op, ctx->jobs[r.k], &ctx->s[r.k], ctx->aad_long[r.k], seal))
            continue;
        ctx->jobs[r.k]->user_data = op;
        ctx->pending[r.k] = op;
        r.k++;
    }
    return r;
}

/* One out-of-line instance of fill_family() per suite and direction. */
#define FILL_INSTANCE(name, seal, alg)                                                             \
    static struct fill_result name(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n,    \
                                   const struct cr_aead_key *key0)                                 \
    {                                                                                              \
        return fill_family(ctx, ops, n, key0, seal, alg);                                          \
    }
FILL_INSTANCE(fill_seal_gcm128, true, CR_AEAD_AES128_GCM)
FILL_INSTANCE(fill_open_gcm128, false, CR_AEAD_AES128_GCM)
FILL_INSTANCE(fill_seal_gcm256, true, CR_AEAD_AES256_GCM)
FILL_INSTANCE(fill_open_gcm256, false, CR_AEAD_AES256_GCM)
FILL_INSTANCE(fill_seal_ccm, true, CR_AEAD_AES128_CCM)
FILL_INSTANCE(fill_open_ccm, false, CR_AEAD_AES128_CCM)
FILL_INSTANCE(fill_seal_ccm8, true, CR_AEAD_AES128_CCM8)
FILL_INSTANCE(fill_open_ccm8, false, CR_AEAD_AES128_CCM8)
FILL_INSTANCE(fill_seal_chacha, true, CR_AEAD_CHACHA20_POLY1305)
FILL_INSTANCE(fill_open_chacha, false, CR_AEAD_CHACHA20_POLY1305)

/* Validates and fills the jobs of ops[0..n) into job slots 0..k. */
static struct fill_result fill_chunk(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n,
                                     bool seal)
{
    /* Specialise on the first op whose key is usable (op_check()'s key
     * test); ops before it are invalid and fail in the general path. */
    const struct cr_aead_key *key0 = NULL;
    for (unsigned i = 0; i < n; i++) {
        const struct cr_aead_key *key = ops[i].key;
        if (key != NULL && key->alg < CR_AEAD_N_ALGS && key->tag_len != 0) {
            key0 = key;
            break;
        }
    }
    /* The fast path takes the key's lengths from its suite: a key not
     * made by cr_aead_key_init() that disagrees goes the general way. */
    if (key0 == NULL || key0->tag_len != cr_aead_tag_len((enum cr_aead_alg)key0->alg) ||
        key0->key_len != cr_aead_key_len((enum cr_aead_alg)key0->alg))
        return fill_all_general(ctx, ops, n, seal);
    switch (key0->alg) {
    case CR_AEAD_AES128_GCM:
        return seal ? fill_seal_gcm128(ctx, ops, n, key0) : fill_open_gcm128(ctx, ops, n, key0);
    case CR_AEAD_AES256_GCM:
        return seal ? fill_seal_gcm256(ctx, ops, n, key0) : fill_open_gcm256(ctx, ops, n, key0);
    case CR_AEAD_AES128_CCM:
        return seal ? fill_seal_ccm(ctx, ops, n, key0) : fill_open_ccm(ctx, ops, n, key0);
    case CR_AEAD_AES128_CCM8:
        return seal ? fill_seal_ccm8(ctx, ops, n, key0) : fill_open_ccm8(ctx, ops, n, key0);
    default: /* CR_AEAD_CHACHA20_POLY1305 */
        return seal ? fill_seal_chacha(ctx, ops, n, key0) : fill_open_chacha(ctx, ops, n, key0);
    }
}

/* Short per-op loops: unrolled by the compiler (loop overhead is a fair
 * share of their work). */
#if defined(__clang__)
#define AEAD_UNROLL_4 _Pragma("unroll 4")
#elif defined(__GNUC__)
#define AEAD_UNROLL_4 _Pragma("GCC unroll 4")
#else
#define AEAD_UNROLL_4
#endif

/* Returned by settle_same() when a job of the burst is not completed. */
#define AEAD_SETTLE_IN_FLIGHT UINT32_MAX

/* settle() for a chunk whose queued ops all have tag length `tag_len` (a
 * compile-time constant at each call): no per-op key load, the tag
 * comparison is straight-line.  Slots are the burst's own (contiguous from
 * slot 0, filled by this call), so only their status is checked.  A job not
 * IMB_STATUS_COMPLETED (still in flight, or failed) returns
 * AEAD_SETTLE_IN_FLIGHT: the caller drains by status and settles every op
 * again through settle() (statuses written so far are rewritten). */
static inline __attribute__((always_inline)) unsigned
settle_same(struct cr_aead_ctx *ctx, const IMB_JOB *job, struct cr_aead_op *ops, unsigned k,
            const bool seal, const unsigned tag_len)
{
    unsigned n_ok = 0;
    const struct aead_scratch *s = ctx->s;
    AEAD_UNROLL_4
    for (unsigned i = 0; i < k; i++, job++, s++) {
        struct cr_aead_op *op = ops != NULL ? &ops[i] : ctx->pending[i];
        /* Not completed (still in flight, or failed): the general path
         * drains and accounts for it. */
        if (__builtin_expect(job->status != IMB_STATUS_COMPLETED, 0))
            return AEAD_SETTLE_IN_FLIGHT;
        if (seal) {
            op->status = CR_OK;
            n_ok++;
            continue;
        }
        /* 0 or -1: only the public accept/reject bit selects the status,
         * without a branch. */
        const int32_t bad = -(int32_t)tag_mismatch_fixed(s->tag, op->tag, tag_len);
        op->status = (int16_t)(bad & CR_ERR_AUTH);
        n_ok += (unsigned)(bad + 1);
    }
    return n_ok;
}

/* Settles a drained chunk whose ops all have the same tag length; the
 * chunk's jobs are job[0..k); ops[0..k) are its ops, or NULL when they are
 * ctx->pending[0..k). */
static unsigned settle_chunk(struct cr_aead_ctx *ctx, const IMB_JOB *job, struct cr_aead_op *ops,
                             unsigned k, bool seal)
{
    unsigned tag_len = (ops != NULL ? ops : ctx->pending[0])->key->tag_len;
    if (ops != NULL) {
        if (seal)
            return settle_same(ctx, job, ops, k, true, AEAD_TAG_LEN);
        return tag_len == AEAD_TAG_LEN ? settle_same(ctx, job, ops, k, false, AEAD_TAG_LEN)
                                       : settle_same(ctx, job, ops, k, false, AEAD_TAG8_LEN);
    }
    if (seal)
        return settle_same(ctx, job, NULL, k, true, AEAD_TAG_LEN);
    return tag_len == AEAD_TAG_LEN ? settle_same(ctx, job, NULL, k, false, AEAD_TAG_LEN)
                                   : settle_same(ctx, job, NULL, k, false, AEAD_TAG8_LEN);
}

/* Processes ops[0..n), n <= CR_AEAD_BATCH_MAX, as one burst: validate and
 * fill each op's job in a single pass, submit, drain, settle.  Returns the
 * number of ops with status CR_OK. */
static unsigned batch_chunk(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n, bool seal)
{
    IMB_MGR *mgr = ctx->mgr;

    /* The burst must start at slot 0 of an empty queue (queue_realign()).
     * That is the state every call leaves behind, so normally this is one
     * GET_NEXT_BURST and one queue-size call per chunk. */
    if (IMB_GET_NEXT_BURST(mgr, n, ctx->jobs) != n || ctx->jobs[0] != &mgr->jobs[0] ||
        !queue_empty(mgr)) {
        if (!queue_realign(ctx) || IMB_GET_NEXT_BURST(mgr, n, ctx->jobs) != n ||
            ctx->jobs[0] != &mgr->jobs[0])
            return chunk_job_api(ctx, ops, n, seal);
    }
    if (ctx->force_job_api)
        return chunk_job_api(ctx, ops, n, seal);

    /* The n job slots are contiguous from slot 0; the first k are used. */
    struct fill_result fr = fill_chunk(ctx, ops, n, seal);
    unsigned k = fr.k;
    if (k == 0)
        return 0;

    /* The burst's job slots are base[0..k); ctx->jobs[] is handed to
     * ipsec-mb, which returns the completed jobs in it. */
    IMB_JOB *const base = ctx->jobs[0];
    ctx->n_burst_calls++;
    /* Every caller-supplied field was validated (op_check() or the fast
     * path's equivalent test) and the rest comes from a valid key, so
     * ipsec-mb's per-job validator is skipped (it costs ~10% at 64 bytes). */
    unsigned n_ret = IMB_SUBMIT_BURST_NOCHECK(mgr, k, ctx->jobs);
    if (n_ret == 0 && imb_get_errno(mgr) != 0) {
        /* Nothing was queued. */
        for (unsigned i = 0; i < k; i++)
            (fr.gaps ? ctx->pending[i] : &ops[i])->status = CR_ERR_CRYPTO;
        ctx->n_job_errors += k;
        return 0;
    }
    /* GCM and ChaCha20-Poly1305 jobs complete inside SUBMIT_BURST: all k
     * come back.  CCM jobs may still be in flight: flush until k jobs have
     * come back, as any burst user must.  The lists returned are not
     * walked here: each slot's own status, checked by settle_same(), is
     * the authority, and the queue must read empty.  Anything else (a job
     * still in flight, a non-empty queue: the ipsec-mb 1.3 burst caveats
     * above) takes burst_drain(), which cross-checks the lists and drains
     * by slot status. */
    bool drained = fr.same_tag_len;
    for (unsigned round = 0; drained && n_ret < k; round++) {
        unsigned f =
            round < AEAD_DRAIN_MAX_ROUNDS ? IMB_FLUSH_BURST(mgr, IMB_MAX_JOBS, ctx->done) : 0;
        if (f == 0)
            drained = false;
        n_ret += f;
    }
    unsigned n_ok = AEAD_SETTLE_IN_FLIGHT;
    if (drained && queue_empty(mgr))
        n_ok = settle_chunk(ctx, base, fr.gaps ? NULL : ops, k, seal);
    if (n_ok == AEAD_SETTLE_IN_FLIGHT) {
        /* Slow path: restore the slot list, the op list and the jobs'
         * user_data that the fast path left out, then drain by status. */
        for (unsigned i = 0; i < k; i++) {
            ctx->jobs[i] = base + i;
            if (!fr.gaps) {
                ctx->pending[i] = &ops[i];
                base[i].user_data = &ops[i];
            }
        }
        burst_drain(ctx, ctx->pending, k, 0);
        n_ok = settle(ctx, ctx->pending, k, seal);
    }
    return n_ok;
}

static unsigned batch(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n, bool seal)
{
    if (ctx == NULL || ops == NULL)
        return 0;
    unsigned n_ok = 0;
    for (unsigned off = 0; off < n; off += CR_AEAD_BATCH_MAX) {
        unsigned m = n - off;
        if (m > CR_AEAD_BATCH_MAX)
            m = CR_AEAD_BATCH_MAX;
        n_ok += batch_chunk(ctx, ops + off, m, seal);
    }
    return n_ok;
}

unsigned cr_aead_seal_batch(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n)
{
    return batch(ctx, ops, n, true);
}

unsigned cr_aead_open_batch(struct cr_aead_ctx *ctx, struct cr_aead_op *ops, unsigned n)
{
    return batch(ctx, ops, n, false);
}

/* ---- single raw job (tests: known-answer vectors with raw nonce/AAD) --- */

/* Runs one AEAD job with a caller-supplied 12-byte nonce and AAD through
 * the same job construction and burst driver as the batch path.  Seal writes
 * the tag to `tag`; open compares against `tag`.  Returns CR_OK, CR_ERR_AUTH,
 * CR_ERR_INVAL or CR_ERR_CRYPTO.  Not exported: tests include this file. */
static CR_WUR __attribute__((unused)) int aead_raw_one(struct cr_aead_ctx *ctx,
                                                       const struct cr_aead_key *key, bool seal,
                                                       const uint8_t nonce[12], const uint8_t *aad,
                                                       unsigned aad_len, const uint8_t *in,
                                                       uint8_t *out, uint32_t len, uint8_t *tag)
{
    CR_ENSURE(ctx != NULL && key != NULL && tag != NULL, CR_ERR_INVAL);
    CR_ENSURE(aad_len <= sizeof(ctx->aad_long[0]), CR_ERR_INVAL);
    CR_ENSURE(len == 0 || (in != NULL && out != NULL), CR_ERR_INVAL);
    struct aead_scratch *s = &ctx->s[0];
    memcpy(s->nonce, nonce, AEAD_NONCE_LEN);
    if (aad_len != 0)
        memcpy(ctx->aad_long[0], aad, aad_len);
    /* Same rule as batch_chunk(): bursts start at slot 0 of an empty queue. */
    CR_ENSURE(queue_realign(ctx), CR_ERR_CRYPTO);
    CR_ENSURE(IMB_GET_NEXT_BURST(ctx->mgr, 1, ctx->jobs) == 1, CR_ERR_CRYPTO);
    IMB_JOB *job = ctx->jobs[0];
    job_fill(job, key, seal, len ? in : NULL, len ? out : NULL, len, s->nonce, ctx->aad_long[0],
             aad_len, seal ? tag : s->tag);
    job->user_data = NULL;
    job->user_data2 = (void *)(uintptr_t)0;
    ctx->pending[0] = NULL;
    ctx->done[0] = job;
    /* Checked submit: ipsec-mb validates the raw nonce/AAD lengths. */
    unsigned n_ret = IMB_SUBMIT_BURST(ctx->mgr, 1, ctx->done);
    CR_ENSURE(n_ret != 0 || imb_get_errno(ctx->mgr) == 0, CR_ERR_CRYPTO);
    burst_drain(ctx, ctx->pending, 1, n_ret);
    CR_ENSURE(job->status == IMB_STATUS_COMPLETED, CR_ERR_CRYPTO);
    if (!seal && tag_mismatch(s->tag, tag, key->tag_len))
        return CR_ERR_AUTH;
    return CR_OK;
}
