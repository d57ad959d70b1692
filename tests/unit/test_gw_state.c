/* test_gw_state.c — control/gw_state.c: the hitless-restart state file.
 *
 * Includes gw_state.c to reach its reader.  Checks: a round trip of many
 * sessions of every AEAD with random windows; every truncation and every
 * altered byte of a file refused (and never read past its end); a file of
 * another key refused as such; too old and future-dated files; a count
 * that lies either way, trailing bytes and a bad version in files sealed
 * correctly; what the encoder refuses; replay windows moved into and out
 * of the format, across window sizes, against the dp_replay checks; the
 * atomic write (mode 0600, no temporary left) and reading a missing file.
 */
#include "../../control/gw_state.c"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cu_main.h"

#define NOW_MS     UINT64_C(1700000000000)
#define MAX_AGE_MS UINT64_C(300000)

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static void rnd_bytes(void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)p)[i] = (uint8_t)rnd64();
}

static void rnd_window(struct gw_state_window *w)
{
    static const uint32_t sizes[] = {64, 128, 1024, 8192};
    w->win_bits = sizes[rnd64() % 4];
    w->any = rnd64() % 8 != 0;
    w->top = w->any ? rnd64() % (DP_REPLAY_SEQ_MAX + 1) : 0;
    for (uint32_t i = 0; w->any && i < w->win_bits / 64; i++)
        w->bits[i] = rnd64();
}

static void rnd_sess(struct gw_state_sess *s, unsigned i)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->listener, sizeof(s->listener), "%s%u", i % 3 ? "echo" : "a-very-long-name-", i);
    s->listener[GW_STATE_NAME_MAX_LEN] = '\0';
    rnd_bytes(s->client_ip, GW_STATE_ADDR_LEN);
    rnd_bytes(&s->client_port, 2);
    rnd_bytes(s->local_ip, GW_STATE_ADDR_LEN);
    rnd_bytes(&s->local_port, 2);
    rnd_bytes(s->backend_ip, GW_STATE_ADDR_LEN);
    rnd_bytes(&s->backend_port, 2);
    rnd_bytes(s->nat_ip, GW_STATE_ADDR_LEN);
    s->nat_port = (uint16_t)(20000 + i);
    rnd_bytes(s->client_mac, 6);
    s->owner = (uint16_t)(i % 4);
    s->alg = (uint8_t)(i % CR_AEAD_N_ALGS);
    s->epoch = 1;
    s->version = 0xfefd;
    enum cr_aead_alg alg = (enum cr_aead_alg)s->alg;
    s->rd.key_len = s->wr.key_len = (uint8_t)cr_aead_key_len(alg);
    s->rd.iv_len = s->wr.iv_len = (uint8_t)cr_aead_fixed_iv_len(alg);
    rnd_bytes(s->rd.key, s->rd.key_len);
    rnd_bytes(s->wr.key, s->wr.key_len);
    rnd_bytes(s->rd.iv, s->rd.iv_len);
    rnd_bytes(s->wr.iv, s->wr.iv_len);
    s->wr_seq = rnd64() % (DP_REPLAY_SEQ_MAX + 1);
    rnd_window(&s->rx);
    rnd_window(&s->alert);
}

static struct cr_seal_ring g_ring;

static int suite_init(void)
{
    memset(&g_ring, 0, sizeof(g_ring));
    return cr_seal_ring_init(&g_ring) != 0 || cr_seal_ring_rotate(&g_ring, 0) != 0;
}

static int suite_clean(void)
{
    cr_seal_ring_wipe(&g_ring);
    return 0;
}

/* A file of n random sessions (seeded), created at created_ms. */
static uint8_t *make_file(unsigned n, uint64_t created_ms, size_t *out_len,
                          struct gw_state_sess *keep)
{
    struct gw_state_enc e;
    CU_ASSERT_EQUAL_FATAL(gw_state_enc_init(&e, created_ms), 0);
    struct gw_state_sess s;
    for (unsigned i = 0; i < n; i++) {
        rnd_sess(&s, i);
        CU_ASSERT_EQUAL_FATAL(gw_state_enc_add(&e, &s), 0);
        if (keep != NULL)
            keep[i] = s;
    }
    uint8_t *f = NULL;
    CU_ASSERT_EQUAL_FATAL(gw_state_enc_finish(&e, &g_ring, &f, out_len), 0);
    gw_state_enc_free(&e);
    return f;
}

static int open_file(const uint8_t *f, size_t len, uint64_t now, char *why)
{
    uint8_t *pt = NULL;
    size_t pl = 0;
    struct gw_state_hdr h;
    why[0] = '\0';
    int rc =
        gw_state_open(&g_ring, f, len, now, MAX_AGE_MS, &pt, &pl, &h, why, GW_STATE_WHY_MAX_LEN);
    if (rc == 0)
        gw_state_pt_free(pt, pl);
    return rc;
}

static void test_round_trip(void)
{
    enum {
        N = 600
    };
    static struct gw_state_sess want[N];
    size_t len = 0;
    uint8_t *f = make_file(N, NOW_MS - 1000, &len, want);
    CU_ASSERT_EQUAL(memcmp(f, GW_STATE_MAGIC, GW_STATE_MAGIC_LEN), 0);
    uint8_t *pt = NULL;
    size_t pl = 0;
    struct gw_state_hdr h;
    char why[GW_STATE_WHY_MAX_LEN] = "";
    CU_ASSERT_EQUAL_FATAL(
        gw_state_open(&g_ring, f, len, NOW_MS, MAX_AGE_MS, &pt, &pl, &h, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(h.version, GW_STATE_FORMAT_VERSION);
    CU_ASSERT_EQUAL(h.count, N);
    CU_ASSERT_EQUAL(h.created_ms, NOW_MS - 1000);
    struct gw_state_cur c;
    gw_state_cur_init(&c, pt, pl);
    struct gw_state_sess got;
    unsigned n = 0, same = 0;
    int rc;
    while ((rc = gw_state_next(&c, &got)) == 1) {
        if (n < N)
            same += memcmp(&got, &want[n], sizeof(got)) == 0;
        n++;
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(n, N);
    CU_ASSERT_EQUAL(same, N);
    gw_state_pt_free(pt, pl);
    free(f);

    /* an empty file is a valid file */
    f = make_file(0, NOW_MS, &len, NULL);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), 0);
    free(f);
}

static void test_truncated_and_altered(void)
{
    size_t len = 0;
    uint8_t *f = make_file(3, NOW_MS, &len, NULL);
    char why[GW_STATE_WHY_MAX_LEN];
    CU_ASSERT_EQUAL_FATAL(open_file(f, len, NOW_MS, why), 0);
    unsigned refused = 0;
    for (size_t l = 0; l < len; l++) {
        /* a copy of exactly l bytes, so that a read past it is a fault
         * under the sanitizers */
        uint8_t *t = malloc(l ? l : 1);
        memcpy(t, f, l);
        int rc = open_file(t, l, NOW_MS, why);
        refused += rc < 0 && why[0] != '\0';
        free(t);
    }
    CU_ASSERT_EQUAL(refused, len);
    CU_ASSERT(open_file(f, 4, NOW_MS, why) < 0 && strstr(why, "not a dtlsgw state file"));
    CU_ASSERT(open_file(f, 40, NOW_MS, why) == CR_ERR_DECODE && strstr(why, "truncated"));
    CU_ASSERT(open_file(f, len - 1, NOW_MS, why) == CR_ERR_AUTH &&
              strstr(why, "altered or truncated"));
    refused = 0;
    unsigned named_ok = 0;
    for (size_t i = 0; i < len; i++)
        for (unsigned bit = 0; bit < 8; bit += 3) {
            f[i] ^= (uint8_t)(1u << bit);
            int rc = open_file(f, len, NOW_MS, why);
            refused += rc < 0;
            /* the magic, the key name, or the seal */
            named_ok += strstr(why, "not a dtlsgw") != NULL || strstr(why, "wrong key") != NULL ||
                        strstr(why, "altered") != NULL;
            f[i] ^= (uint8_t)(1u << bit);
        }
    CU_ASSERT_EQUAL(refused, len * 3);
    CU_ASSERT_EQUAL(named_ok, len * 3);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), 0);
    /* one byte more is altered too */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, f, len);
    longer[len] = 0;
    CU_ASSERT_EQUAL(open_file(longer, len + 1, NOW_MS, why), CR_ERR_AUTH);
    free(longer);
    free(f);
}

static void test_wrong_key(void)
{
    size_t len = 0;
    uint8_t *f = make_file(2, NOW_MS, &len, NULL);
    struct cr_seal_ring other;
    memset(&other, 0, sizeof(other));
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&other), 0);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_rotate(&other, 0), 0);
    uint8_t *pt = NULL;
    size_t pl = 0;
    char why[GW_STATE_WHY_MAX_LEN] = "";
    CU_ASSERT_EQUAL(
        gw_state_open(&other, f, len, NOW_MS, MAX_AGE_MS, &pt, &pl, NULL, why, sizeof(why)),
        CR_ERR_AUTH);
    CU_ASSERT(strstr(why, "wrong key") != NULL);
    /* the same key name with other key bytes: the seal fails */
    memcpy(other.k[0].name, g_ring.k[0].name, CR_SEAL_NAME_LEN);
    CU_ASSERT_EQUAL(
        gw_state_open(&other, f, len, NOW_MS, MAX_AGE_MS, &pt, &pl, NULL, why, sizeof(why)),
        CR_ERR_AUTH);
    CU_ASSERT(strstr(why, "authentication failed") != NULL);
    /* the old key still in the ring (rotated since) opens it */
    cr_seal_ring_wipe(&other); /* cr_seal_ring_copy wants a wiped dst */
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_copy(&other, &g_ring) == 0 ? 0 : -1, 0);
    CU_ASSERT_EQUAL(cr_seal_ring_rotate(&other, 1), 0);
    CU_ASSERT_EQUAL(
        gw_state_open(&other, f, len, NOW_MS, MAX_AGE_MS, &pt, &pl, NULL, why, sizeof(why)), 0);
    gw_state_pt_free(pt, pl);
    cr_seal_ring_wipe(&other);
    free(f);
}

static void test_age(void)
{
    char why[GW_STATE_WHY_MAX_LEN];
    size_t len = 0;
    uint8_t *f = make_file(1, NOW_MS - MAX_AGE_MS, &len, NULL);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), 0); /* exactly the age: still fine */
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS + 1, why), CR_ERR_LIMIT);
    CU_ASSERT(strstr(why, "too old: written 300 s ago, state_max_age is 300 s") != NULL);
    free(f);
    f = make_file(1, NOW_MS + GW_STATE_FUTURE_SLACK_MS, &len, NULL);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), 0);
    free(f);
    f = make_file(1, NOW_MS + 60000, &len, NULL);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), CR_ERR_LIMIT);
    CU_ASSERT(strstr(why, "in the future") != NULL);
    free(f);
}

/* Seals a plaintext as the gateway would, whatever it says. */
static uint8_t *seal_pt(const uint8_t *pt, size_t pl, size_t *out_len)
{
    uint8_t *f = malloc(GW_STATE_MAGIC_LEN + pl + CR_SEAL_OVERHEAD);
    memcpy(f, GW_STATE_MAGIC, GW_STATE_MAGIC_LEN);
    size_t bl = 0;
    CU_ASSERT_EQUAL_FATAL(cr_seal(&g_ring, GW_STATE_LABEL, (const uint8_t *)GW_STATE_MAGIC,
                                  GW_STATE_MAGIC_LEN, pt, pl, f + GW_STATE_MAGIC_LEN,
                                  pl + CR_SEAL_OVERHEAD, &bl),
                          0);
    *out_len = GW_STATE_MAGIC_LEN + bl;
    return f;
}

static void test_lying_plaintext(void)
{
    struct gw_state_enc e;
    struct gw_state_sess s;
    CU_ASSERT_EQUAL_FATAL(gw_state_enc_init(&e, NOW_MS), 0);
    for (unsigned i = 0; i < 4; i++) {
        rnd_sess(&s, i);
        CU_ASSERT_EQUAL_FATAL(gw_state_enc_add(&e, &s), 0);
    }
    put_u32_at(e.buf + 12, e.count);
    char why[GW_STATE_WHY_MAX_LEN];
    CU_ASSERT_EQUAL(gw_state_check(e.buf, e.len, NOW_MS, MAX_AGE_MS, NULL, why, sizeof(why)), 0);
    const uint32_t lies[] = {0, 3, 5, 1000, UINT32_MAX};
    for (unsigned i = 0; i < 5; i++) {
        put_u32_at(e.buf + 12, lies[i]);
        size_t len = 0;
        uint8_t *f = seal_pt(e.buf, e.len, &len);
        int rc = open_file(f, len, NOW_MS, why);
        CU_ASSERT_EQUAL(rc, CR_ERR_DECODE);
        CU_ASSERT(strstr(why, "malformed") != NULL);
        free(f);
    }
    put_u32_at(e.buf + 12, e.count);
    /* versions this gateway does not read: 1 (4-byte IPv4 addresses,
     * before IPv6) and a later one */
    size_t len = 0;
    uint8_t *f;
    e.buf[1] = 1;
    f = seal_pt(e.buf, e.len, &len);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), CR_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(why, "format version 1, this gateway reads 2") != NULL);
    free(f);
    e.buf[1] = 3;
    f = seal_pt(e.buf, e.len, &len);
    CU_ASSERT_EQUAL(open_file(f, len, NOW_MS, why), CR_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(why, "format version 3") != NULL);
    free(f);
    e.buf[1] = 2;
    /* flags */
    e.buf[3] = 1;
    CU_ASSERT_EQUAL(gw_state_check(e.buf, e.len, NOW_MS, MAX_AGE_MS, NULL, why, sizeof(why)),
                    CR_ERR_DECODE);
    e.buf[3] = 0;
    /* every byte of the records set to 0xff in turn: either still a valid
     * file or refused, and never read past its end */
    unsigned refused = 0;
    for (size_t i = GW_STATE_HDR_LEN; i < e.len; i++) {
        uint8_t keep = e.buf[i];
        e.buf[i] = 0xff;
        uint8_t *copy = malloc(e.len);
        memcpy(copy, e.buf, e.len);
        refused += gw_state_check(copy, e.len, NOW_MS, MAX_AGE_MS, NULL, why, sizeof(why)) < 0;
        free(copy);
        e.buf[i] = keep;
    }
    CU_ASSERT(refused > 0);
    /* header cut short */
    CU_ASSERT_EQUAL(gw_state_check(e.buf, 10, NOW_MS, MAX_AGE_MS, NULL, why, sizeof(why)),
                    CR_ERR_DECODE);
    gw_state_enc_free(&e);
}

static void test_encoder_refuses(void)
{
    struct gw_state_enc e;
    struct gw_state_sess s;
    CU_ASSERT_EQUAL_FATAL(gw_state_enc_init(&e, NOW_MS), 0);
    rnd_sess(&s, 1);
    s.rd.key_len = 15;
    CU_ASSERT_EQUAL(gw_state_enc_add(&e, &s), CR_ERR_INVAL);
    rnd_sess(&s, 1);
    s.wr_seq = DP_REPLAY_SEQ_MAX + 1;
    CU_ASSERT_EQUAL(gw_state_enc_add(&e, &s), CR_ERR_INVAL);
    rnd_sess(&s, 1);
    s.listener[0] = '\0';
    CU_ASSERT_EQUAL(gw_state_enc_add(&e, &s), CR_ERR_INVAL);
    rnd_sess(&s, 1);
    s.rx.win_bits = 100;
    CU_ASSERT_EQUAL(gw_state_enc_add(&e, &s), CR_ERR_INVAL);
    rnd_sess(&s, 1);
    s.alg = CR_AEAD_N_ALGS;
    CU_ASSERT_EQUAL(gw_state_enc_add(&e, &s), CR_ERR_INVAL);
    CU_ASSERT_EQUAL(e.count, 0);
    gw_state_enc_free(&e);
}

/* A window through the format and back answers dp_replay_check the same
 * for every sequence number both windows cover; into a smaller window the
 * newest part, into a larger one all of it with the part beyond the old
 * window marked received (left of the old window it was refused, so it
 * must stay refused). */
static void test_windows(void)
{
    static const uint32_t sizes[] = {64, 128, 1024, 8192};
    for (unsigned si = 0; si < 4; si++)
        for (unsigned di = 0; di < 4; di++)
            for (unsigned round = 0; round < 6; round++) {
                uint32_t sb = sizes[si], db = sizes[di];
                struct dp_replay *a = calloc(1, dp_replay_size(sb));
                struct dp_replay *b = calloc(1, dp_replay_size(db));
                CU_ASSERT_EQUAL_FATAL(dp_replay_init(a, sb), 0);
                CU_ASSERT_EQUAL_FATAL(dp_replay_init(b, db), 0);
                uint64_t base = round == 5 ? 3 : rnd64() % (DP_REPLAY_SEQ_MAX - 20000);
                for (unsigned k = 0; k < 3000 && round != 4; k++) {
                    uint64_t seq = base + rnd64() % (sb * 2 + 10);
                    if (dp_replay_check(a, seq) == DP_REPLAY_OK)
                        dp_replay_update(a, seq);
                }
                struct gw_state_window w;
                gw_state_window_export(a, &w);
                CU_ASSERT_EQUAL(w.win_bits, sb);
                gw_state_window_import(&w, b);
                CU_ASSERT_EQUAL(b->any, a->any);
                CU_ASSERT_EQUAL(b->top, a->top);
                unsigned diff = 0;
                uint32_t n = sb < db ? sb : db, m = sb < db ? db : sb;
                for (uint64_t d = 0; d < m + 64 && a->any && d <= a->top; d++) {
                    uint64_t seq = a->top - d;
                    bool oka = dp_replay_check(a, seq) == DP_REPLAY_OK;
                    bool okb = dp_replay_check(b, seq) == DP_REPLAY_OK;
                    /* within both windows the same verdict; anywhere,
                     * nothing the old window refused is accepted */
                    diff += (d < n && oka != okb) || (!oka && okb);
                }
                for (uint64_t d = 1; d < 100; d++)
                    diff += dp_replay_check(b, a->top + d) != DP_REPLAY_OK;
                CU_ASSERT_EQUAL(diff, 0);
                free(a);
                free(b);
            }
}

static void test_files(void)
{
    char dir[] = "/tmp/test_gw_state.XXXXXX", path[128], tmp[160];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/gw.state", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    char why[GW_STATE_WHY_MAX_LEN] = "";
    uint8_t *b = NULL;
    size_t bl = 0;
    CU_ASSERT_EQUAL(gw_state_read_file(path, &b, &bl, why, sizeof(why)), 1);
    size_t len = 0;
    uint8_t *f = make_file(5, NOW_MS, &len, NULL);
    /* a stale temporary of a crash is replaced */
    FILE *st = fopen(tmp, "w");
    fputs("stale", st);
    fclose(st);
    mode_t um = umask(0);
    CU_ASSERT_EQUAL(gw_state_write_file(path, f, len, why, sizeof(why)), 0);
    umask(um);
    struct stat s;
    CU_ASSERT_EQUAL(stat(path, &s), 0);
    CU_ASSERT_EQUAL(s.st_mode & 0777, 0600);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    CU_ASSERT_EQUAL(gw_state_read_file(path, &b, &bl, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(bl, len);
    CU_ASSERT(b != NULL && memcmp(b, f, len) == 0);
    free(b);
    /* written again over the old one */
    CU_ASSERT_EQUAL(gw_state_write_file(path, f, len / 2, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(gw_state_read_file(path, &b, &bl, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(bl, len / 2);
    free(b);
    /* a directory is not a state file; an unwritable place says why */
    CU_ASSERT_EQUAL(gw_state_read_file(dir, &b, &bl, why, sizeof(why)), CR_ERR_IO);
    snprintf(tmp, sizeof(tmp), "%s/no/such/gw.state", dir);
    CU_ASSERT_EQUAL(gw_state_write_file(tmp, f, len, why, sizeof(why)), CR_ERR_IO);
    CU_ASSERT(strstr(why, "No such file") != NULL);
    unlink(path);
    rmdir(dir);
    free(f);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("gw_state", suite_init, suite_clean);
    CU_add_test(s, "round trip of 600 sessions, every AEAD", test_round_trip);
    CU_add_test(s, "every truncation and altered byte refused", test_truncated_and_altered);
    CU_add_test(s, "a file of another key", test_wrong_key);
    CU_add_test(s, "too old, future-dated", test_age);
    CU_add_test(s, "lying count, trailing bytes, version, flags", test_lying_plaintext);
    CU_add_test(s, "encoder refuses what the format cannot hold", test_encoder_refuses);
    CU_add_test(s, "replay windows in and out, across sizes", test_windows);
    CU_add_test(s, "atomic write, mode 0600, missing file", test_files);
}
