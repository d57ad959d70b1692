/* gw_state.c — see gw_state.h.
 *
 * Parsing goes through one bounded cursor (struct rd: a pointer and the
 * bytes left); every read checks first and advances only on success, and
 * a record must end exactly where the next begins (STYLE.md).  Every
 * length the file declares is checked against its algorithm or the
 * format's limits before it is used.
 */
#include "gw_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define STATE_ENC_INITIAL_BYTES 4096
#define STATE_TMP_SUFFIX        ".tmp"

/* ---- bounded reader ------------------------------------------------------ */

struct rd {
    const uint8_t *p;
    size_t left;
};

static bool rd_bytes(struct rd *r, void *out, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static bool rd_u8(struct rd *r, uint8_t *v)
{
    return rd_bytes(r, v, 1);
}

static bool rd_u16(struct rd *r, uint16_t *v)
{
    uint8_t b[2];
    if (!rd_bytes(r, b, 2))
        return false;
    *v = (uint16_t)(b[0] << 8 | b[1]);
    return true;
}

static bool rd_u32(struct rd *r, uint32_t *v)
{
    uint8_t b[4];
    if (!rd_bytes(r, b, 4))
        return false;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return true;
}

static bool rd_u64(struct rd *r, uint64_t *v)
{
    uint32_t hi, lo;
    if (!rd_u32(r, &hi) || !rd_u32(r, &lo))
        return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

/* ---- growing writer (wiped on every move: it holds keys) ------------------ */

static int enc_reserve(struct gw_state_enc *e, size_t n)
{
    if (e->cap - e->len >= n)
        return CR_OK;
    size_t cap = e->cap ? e->cap : STATE_ENC_INITIAL_BYTES;
    while (cap - e->len < n) {
        CR_ENSURE(cap <= GW_STATE_FILE_MAX_BYTES, CR_ERR_LIMIT);
        cap *= 2;
    }
    uint8_t *nb = malloc(cap);
    CR_ENSURE(nb != NULL, CR_ERR_NOMEM);
    if (e->buf != NULL) {
        memcpy(nb, e->buf, e->len);
        OPENSSL_cleanse(e->buf, e->cap);
        free(e->buf);
    }
    e->buf = nb;
    e->cap = cap;
    return CR_OK;
}

static void put_bytes(struct gw_state_enc *e, const void *p, size_t n)
{
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void put_u8(struct gw_state_enc *e, uint8_t v)
{
    put_bytes(e, &v, 1);
}

static void put_u16(struct gw_state_enc *e, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(e, b, 2);
}

static void put_u32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64(struct gw_state_enc *e, uint64_t v)
{
    uint8_t b[8];
    put_u32_at(b, (uint32_t)(v >> 32));
    put_u32_at(b + 4, (uint32_t)v);
    put_bytes(e, b, 8);
}

int gw_state_enc_init(struct gw_state_enc *e, uint64_t created_ms)
{
    CR_ENSURE(e != NULL, CR_ERR_INVAL);
    memset(e, 0, sizeof(*e));
    CR_GUARD(enc_reserve(e, GW_STATE_HDR_LEN));
    put_u16(e, GW_STATE_FORMAT_VERSION);
    put_u16(e, 0);
    put_u64(e, created_ms);
    uint8_t zero[4] = {0};
    put_bytes(e, zero, 4); /* count, patched by gw_state_enc_finish */
    return CR_OK;
}

static bool window_ok(const struct gw_state_window *w)
{
    return w->win_bits >= DP_REPLAY_WIN_MIN_BITS && w->win_bits <= DP_REPLAY_WIN_MAX_BITS &&
           w->win_bits % 64 == 0 && w->top <= DP_REPLAY_SEQ_MAX;
}

static bool dir_ok(const struct gw_state_dir *d, enum cr_aead_alg alg)
{
    return d->key_len == cr_aead_key_len(alg) && d->iv_len == cr_aead_fixed_iv_len(alg);
}

static void put_window(struct gw_state_enc *e, const struct gw_state_window *w)
{
    put_u16(e, (uint16_t)w->win_bits);
    put_u8(e, w->any ? 1 : 0);
    put_u64(e, w->top);
    for (uint32_t i = 0; i < w->win_bits / 64; i++)
        put_u64(e, w->bits[i]);
}

static void put_dir(struct gw_state_enc *e, const struct gw_state_dir *d)
{
    put_u8(e, d->key_len);
    put_bytes(e, d->key, d->key_len);
    put_u8(e, d->iv_len);
    put_bytes(e, d->iv, d->iv_len);
}

int gw_state_enc_add(struct gw_state_enc *e, const struct gw_state_sess *s)
{
    CR_ENSURE(e != NULL && e->buf != NULL && s != NULL, CR_ERR_INVAL);
    size_t nl = strnlen(s->listener, sizeof(s->listener));
    CR_ENSURE(nl >= 1 && nl <= GW_STATE_NAME_MAX_LEN, CR_ERR_INVAL);
    CR_ENSURE(s->alg < CR_AEAD_N_ALGS, CR_ERR_INVAL);
    enum cr_aead_alg alg = (enum cr_aead_alg)s->alg;
    CR_ENSURE(dir_ok(&s->rd, alg) && dir_ok(&s->wr, alg), CR_ERR_INVAL);
    CR_ENSURE(window_ok(&s->rx) && window_ok(&s->alert), CR_ERR_INVAL);
    CR_ENSURE(s->wr_seq <= DP_REPLAY_SEQ_MAX, CR_ERR_INVAL);
    CR_ENSURE(e->count < UINT32_MAX, CR_ERR_LIMIT);
    size_t need = 1 + nl + 4 * 6 + 2 * 3 + 6 + 2 + 1 + 4 + 2 * (2 + 32 + 12) + 8 +
                  2 * (11 + DP_REPLAY_WIN_MAX_BITS / 8);
    CR_GUARD(enc_reserve(e, need));
    put_u8(e, (uint8_t)nl);
    put_bytes(e, s->listener, nl);
    put_bytes(e, s->client_ip, GW_STATE_ADDR_LEN);
    put_bytes(e, &s->client_port, 2);
    put_bytes(e, s->local_ip, GW_STATE_ADDR_LEN);
    put_bytes(e, &s->local_port, 2);
    put_bytes(e, s->backend_ip, GW_STATE_ADDR_LEN);
    put_bytes(e, &s->backend_port, 2);
    put_bytes(e, s->nat_ip, GW_STATE_ADDR_LEN);
    put_u16(e, s->nat_port);
    put_bytes(e, s->client_mac, 6);
    put_u16(e, s->owner);
    put_u8(e, s->alg);
    put_u16(e, s->epoch);
    put_u16(e, s->version);
    put_dir(e, &s->rd);
    put_dir(e, &s->wr);
    put_u64(e, s->wr_seq);
    put_window(e, &s->rx);
    put_window(e, &s->alert);
    e->count++;
    return CR_OK;
}

int gw_state_enc_finish(struct gw_state_enc *e, struct cr_seal_ring *ring, uint8_t **out,
                        size_t *out_len)
{
    CR_ENSURE(e != NULL && e->buf != NULL && ring != NULL && out != NULL && out_len != NULL,
              CR_ERR_INVAL);
    put_u32_at(e->buf + 12, e->count);
    size_t cap = GW_STATE_MAGIC_LEN + e->len + CR_SEAL_OVERHEAD;
    uint8_t *f = malloc(cap);
    CR_ENSURE(f != NULL, CR_ERR_NOMEM);
    memcpy(f, GW_STATE_MAGIC, GW_STATE_MAGIC_LEN);
    size_t bl = 0;
    int rc = cr_seal(ring, GW_STATE_LABEL, (const uint8_t *)GW_STATE_MAGIC, GW_STATE_MAGIC_LEN,
                     e->buf, e->len, f + GW_STATE_MAGIC_LEN, cap - GW_STATE_MAGIC_LEN, &bl);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    *out_len = GW_STATE_MAGIC_LEN + bl;
    return CR_OK;
}

void gw_state_enc_free(struct gw_state_enc *e)
{
    if (e == NULL)
        return;
    if (e->buf != NULL) {
        OPENSSL_cleanse(e->buf, e->cap);
        free(e->buf);
    }
    memset(e, 0, sizeof(*e));
}

/* ---- files ------------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int gw_state_write_file(const char *path, const uint8_t *data, size_t len, char *why,
                        size_t why_len)
{
    char tmp[4096 + sizeof(STATE_TMP_SUFFIX)];
    CR_ENSURE(path != NULL && data != NULL, CR_ERR_INVAL);
    if (snprintf(tmp, sizeof(tmp), "%s" STATE_TMP_SUFFIX, path) >= (int)sizeof(tmp)) {
        snprintf(why, why_len, "%s: path too long", path);
        return CR_ERR_INVAL;
    }
    (void)unlink(tmp); /* a stale one of an earlier crash */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, why_len, "%s: %s", tmp, strerror(errno));
        return CR_ERR_IO;
    }
    /* the mode regardless of the umask: the file holds session keys
     * (sealed, still only ours to read) */
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        snprintf(why, why_len, "%s: %s", tmp, strerror(errno));
        close(fd);
        (void)unlink(tmp);
        return CR_ERR_IO;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        (void)unlink(tmp);
        return CR_ERR_IO;
    }
    /* the rename itself is durable once the directory is */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return CR_OK;
}

int gw_state_read_file(const char *path, uint8_t **out, size_t *out_len, char *why, size_t why_len)
{
    CR_ENSURE(path != NULL && out != NULL && out_len != NULL, CR_ERR_INVAL);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return 1;
    if (fd < 0) {
        snprintf(why, why_len, "cannot open: %s", strerror(errno));
        return CR_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "not a regular file");
        close(fd);
        return CR_ERR_IO;
    }
    if ((uint64_t)st.st_size > GW_STATE_FILE_MAX_BYTES) {
        snprintf(why, why_len, "%" PRIu64 " bytes, more than %u", (uint64_t)st.st_size,
                 (unsigned)GW_STATE_FILE_MAX_BYTES);
        close(fd);
        return CR_ERR_LIMIT;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (b == NULL) {
        close(fd);
        return CR_ERR_NOMEM;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        snprintf(why, why_len, "short read (%zu of %zu bytes)", got, n);
        free(b);
        return CR_ERR_IO;
    }
    *out = b;
    *out_len = n;
    return 0;
}

/* ---- parsing --------------------------------------------------------------- */

static bool rd_window(struct rd *r, struct gw_state_window *w)
{
    uint16_t bits;
    uint8_t any;
    memset(w, 0, sizeof(*w));
    if (!rd_u16(r, &bits) || !rd_u8(r, &any) || !rd_u64(r, &w->top))
        return false;
    w->win_bits = bits;
    if (any > 1 || !window_ok(w))
        return false;
    w->any = any == 1;
    for (uint32_t i = 0; i < w->win_bits / 64; i++)
        if (!rd_u64(r, &w->bits[i]))
            return false;
    return true;
}

static bool rd_dir(struct rd *r, struct gw_state_dir *d, enum cr_aead_alg alg)
{
    if (!rd_u8(r, &d->key_len) || d->key_len != cr_aead_key_len(alg) ||
        !rd_bytes(r, d->key, d->key_len))
        return false;
    if (!rd_u8(r, &d->iv_len) || d->iv_len != cr_aead_fixed_iv_len(alg) ||
        !rd_bytes(r, d->iv, d->iv_len))
        return false;
    return true;
}

static bool rd_sess(struct rd *r, struct gw_state_sess *s)
{
    uint8_t nl;
    memset(s, 0, sizeof(*s));
    if (!rd_u8(r, &nl) || nl < 1 || nl > GW_STATE_NAME_MAX_LEN || !rd_bytes(r, s->listener, nl))
        return false;
    s->listener[nl] = '\0';
    if (memchr(s->listener, '\0', nl) != NULL)
        return false;
    if (!rd_bytes(r, s->client_ip, GW_STATE_ADDR_LEN) || !rd_bytes(r, &s->client_port, 2) ||
        !rd_bytes(r, s->local_ip, GW_STATE_ADDR_LEN) || !rd_bytes(r, &s->local_port, 2) ||
        !rd_bytes(r, s->backend_ip, GW_STATE_ADDR_LEN) || !rd_bytes(r, &s->backend_port, 2) ||
        !rd_bytes(r, s->nat_ip, GW_STATE_ADDR_LEN) || !rd_u16(r, &s->nat_port) ||
        !rd_bytes(r, s->client_mac, 6) || !rd_u16(r, &s->owner) || !rd_u8(r, &s->alg) ||
        !rd_u16(r, &s->epoch) || !rd_u16(r, &s->version))
        return false;
    if (s->alg >= CR_AEAD_N_ALGS)
        return false;
    enum cr_aead_alg alg = (enum cr_aead_alg)s->alg;
    if (!rd_dir(r, &s->rd, alg) || !rd_dir(r, &s->wr, alg) || !rd_u64(r, &s->wr_seq) ||
        s->wr_seq > DP_REPLAY_SEQ_MAX)
        return false;
    return rd_window(r, &s->rx) && rd_window(r, &s->alert);
}

static void wipe_sess(struct gw_state_sess *s)
{
    OPENSSL_cleanse(&s->rd, sizeof(s->rd));
    OPENSSL_cleanse(&s->wr, sizeof(s->wr));
}

static bool rd_hdr(struct rd *r, struct gw_state_hdr *h, uint16_t *flags)
{
    return rd_u16(r, &h->version) && rd_u16(r, flags) && rd_u64(r, &h->created_ms) &&
           rd_u32(r, &h->count);
}

int gw_state_check(const uint8_t *pt, size_t pt_len, uint64_t now_ms, uint64_t max_age_ms,
                   struct gw_state_hdr *out_hdr, char *why, size_t why_len)
{
    CR_ENSURE(pt != NULL || pt_len == 0, CR_ERR_INVAL);
    struct rd r = {.p = pt, .left = pt_len};
    struct gw_state_hdr h;
    uint16_t flags;
    if (!rd_hdr(&r, &h, &flags)) {
        snprintf(why, why_len, "malformed: header cut short");
        return CR_ERR_DECODE;
    }
    if (h.version != GW_STATE_FORMAT_VERSION) {
        snprintf(why, why_len, "format version %u, this gateway reads %u", h.version,
                 GW_STATE_FORMAT_VERSION);
        return CR_ERR_UNSUPPORTED;
    }
    if (flags != 0) {
        snprintf(why, why_len, "malformed: unknown flags 0x%04x", flags);
        return CR_ERR_DECODE;
    }
    if (h.created_ms > now_ms && h.created_ms - now_ms > GW_STATE_FUTURE_SLACK_MS) {
        snprintf(why, why_len, "dated %" PRIu64 " s in the future (the clock went back?)",
                 (h.created_ms - now_ms) / 1000);
        return CR_ERR_LIMIT;
    }
    if (h.created_ms < now_ms && now_ms - h.created_ms > max_age_ms) {
        snprintf(why, why_len, "too old: written %" PRIu64 " s ago, state_max_age is %" PRIu64 " s",
                 (now_ms - h.created_ms) / 1000, max_age_ms / 1000);
        return CR_ERR_LIMIT;
    }
    struct gw_state_sess s;
    for (uint32_t i = 0; i < h.count; i++) {
        bool ok = rd_sess(&r, &s);
        wipe_sess(&s);
        if (!ok && r.left == 0) {
            snprintf(why, why_len,
                     "malformed: the header counts %" PRIu32 " sessions, the file ends in "
                     "session %" PRIu32,
                     h.count, i);
            return CR_ERR_DECODE;
        }
        if (!ok) {
            snprintf(why, why_len, "malformed: session %" PRIu32 " is not valid", i);
            return CR_ERR_DECODE;
        }
    }
    if (r.left != 0) {
        snprintf(why, why_len,
                 "malformed: %zu bytes after the %" PRIu32 " sessions the header counts", r.left,
                 h.count);
        return CR_ERR_DECODE;
    }
    if (out_hdr != NULL)
        *out_hdr = h;
    return CR_OK;
}

int gw_state_open(const struct cr_seal_ring *ring, const uint8_t *file, size_t file_len,
                  uint64_t now_ms, uint64_t max_age_ms, uint8_t **out_pt, size_t *out_pt_len,
                  struct gw_state_hdr *out_hdr, char *why, size_t why_len)
{
    CR_ENSURE(ring != NULL && (file != NULL || file_len == 0) && out_pt != NULL &&
                  out_pt_len != NULL,
              CR_ERR_INVAL);
    if (file_len < GW_STATE_MAGIC_LEN || memcmp(file, GW_STATE_MAGIC, GW_STATE_MAGIC_LEN) != 0) {
        snprintf(why, why_len, "not a dtlsgw state file (no %s magic)", GW_STATE_MAGIC);
        return CR_ERR_DECODE;
    }
    const uint8_t *blob = file + GW_STATE_MAGIC_LEN;
    size_t bl = file_len - GW_STATE_MAGIC_LEN;
    if (bl < CR_SEAL_OVERHEAD + GW_STATE_HDR_LEN) {
        snprintf(why, why_len, "truncated: %zu bytes, a state file has at least %zu", file_len,
                 (size_t)(GW_STATE_MAGIC_LEN + CR_SEAL_OVERHEAD + GW_STATE_HDR_LEN));
        return CR_ERR_DECODE;
    }
    bool known = false;
    for (unsigned i = 0; i < ring->n; i++)
        known |= memcmp(blob, ring->k[i].name, CR_SEAL_NAME_LEN) == 0;
    if (!known) {
        snprintf(why, why_len,
                 "sealed under a key that is not in state_key_file (wrong key, or the key "
                 "file was replaced)");
        return CR_ERR_AUTH;
    }
    size_t cap = bl - CR_SEAL_OVERHEAD;
    uint8_t *pt = malloc(cap ? cap : 1);
    CR_ENSURE(pt != NULL, CR_ERR_NOMEM);
    size_t pl = 0;
    int rc = cr_unseal(ring, GW_STATE_LABEL, (const uint8_t *)GW_STATE_MAGIC, GW_STATE_MAGIC_LEN,
                       blob, bl, pt, cap, &pl, NULL);
    if (rc < 0) {
        free(pt);
        snprintf(why, why_len,
                 "authentication failed: the file was altered or truncated after it was "
                 "written");
        return CR_ERR_AUTH;
    }
    rc = gw_state_check(pt, pl, now_ms, max_age_ms, out_hdr, why, why_len);
    if (rc < 0) {
        gw_state_pt_free(pt, pl);
        return rc;
    }
    *out_pt = pt;
    *out_pt_len = pl;
    return CR_OK;
}

void gw_state_pt_free(uint8_t *pt, size_t pt_len)
{
    if (pt == NULL)
        return;
    OPENSSL_cleanse(pt, pt_len);
    free(pt);
}

void gw_state_cur_init(struct gw_state_cur *c, const uint8_t *pt, size_t pt_len)
{
    struct rd r = {.p = pt, .left = pt_len};
    struct gw_state_hdr h;
    uint16_t flags;
    memset(c, 0, sizeof(*c));
    if (!rd_hdr(&r, &h, &flags))
        return;
    c->p = r.p;
    c->left = r.left;
    c->remaining = h.count;
}

int gw_state_next(struct gw_state_cur *c, struct gw_state_sess *out)
{
    if (c->remaining == 0)
        return 0;
    struct rd r = {.p = c->p, .left = c->left};
    if (!rd_sess(&r, out)) {
        wipe_sess(out);
        c->remaining = 0;
        return CR_ERR_DECODE;
    }
    c->p = r.p;
    c->left = r.left;
    c->remaining--;
    return 1;
}

/* ---- replay windows ------------------------------------------------------- */

void gw_state_window_export(const struct dp_replay *r, struct gw_state_window *w)
{
    memset(w, 0, sizeof(*w));
    w->win_bits = r->win_bits;
    w->any = r->any != 0;
    w->top = r->top;
    if (!w->any)
        return;
    for (uint32_t i = 0; i < r->win_bits && i <= r->top; i++) {
        uint64_t seq = r->top - i;
        if (r->bitmap[dp_replay_word_index(r, seq)] & dp_replay_bit_mask(seq))
            w->bits[i / 64] |= UINT64_C(1) << (i % 64);
    }
}

void gw_state_window_import(const struct gw_state_window *w, struct dp_replay *r)
{
    memset(r->bitmap, 0, (size_t)r->n_words * sizeof(uint64_t));
    r->any = w->any ? 1 : 0;
    r->top = w->any ? w->top : 0;
    if (!w->any)
        return;
    for (uint32_t i = 0; i < r->win_bits && i <= w->top; i++) {
        /* beyond the saved window: refused before the restart (left of
         * it), so marked received, never accepted now */
        bool mark = i >= w->win_bits || (w->bits[i / 64] & (UINT64_C(1) << (i % 64))) != 0;
        if (mark) {
            uint64_t seq = w->top - i;
            r->bitmap[dp_replay_word_index(r, seq)] |= dp_replay_bit_mask(seq);
        }
    }
}
