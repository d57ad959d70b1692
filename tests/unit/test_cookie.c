/* test_cookie.c — crypto/cr_cookie.c (rotating-secret HMAC-SHA256 cookie)
 * and control/hs_cookie.c on hand-built ClientHello datagrams (the libssl
 * round trip is in test_engine.c).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cr_cookie.h"
#include "cu_main.h"
#include "hs.h"
#include "hs_priv.h"

static void test_mac_is_hmac_sha256(void)
{
    struct cr_cookie_keys k;
    uint8_t mac[CR_COOKIE_MAC_LEN], ref[32];
    unsigned n = 0;
    static const uint8_t data[] = "peer and hello fields";

    CU_ASSERT_EQUAL_FATAL(cr_cookie_keys_init(&k), 0);
    CU_ASSERT_EQUAL(cr_cookie_mac(&k, data, sizeof(data), mac), 0);
    HMAC(EVP_sha256(), k.secret[k.cur], CR_COOKIE_SECRET_LEN, data, sizeof(data), ref, &n);
    CU_ASSERT_EQUAL(n, 32);
    CU_ASSERT(memcmp(mac, ref, 32) == 0);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, data, sizeof(data), mac, 32), 0);
    /* Truncations down to the minimum verify; below it they do not. */
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, data, sizeof(data), mac, CR_COOKIE_MIN_LEN), 0);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, data, sizeof(data), mac, CR_COOKIE_MIN_LEN - 1),
                    CR_ERR_AUTH);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, data, sizeof(data), mac, 0), CR_ERR_AUTH);
    /* Any flipped bit or other data fails. */
    for (unsigned i = 0; i < 32; i++) {
        uint8_t bad[32];
        memcpy(bad, mac, 32);
        bad[i] ^= 0x40;
        CU_ASSERT_EQUAL(cr_cookie_verify(&k, data, sizeof(data), bad, 32), CR_ERR_AUTH);
    }
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, data, sizeof(data) - 1, mac, 32), CR_ERR_AUTH);
    cr_cookie_keys_wipe(&k);
}

static void test_rotation(void)
{
    struct cr_cookie_keys k;
    uint8_t m0[32], m1[32], m2[32];
    static const uint8_t d[] = {1, 2, 3};

    CU_ASSERT_EQUAL_FATAL(cr_cookie_keys_init(&k), 0);
    CU_ASSERT_EQUAL(cr_cookie_mac(&k, d, sizeof(d), m0), 0);
    CU_ASSERT_EQUAL(cr_cookie_rotate(&k), 0);
    CU_ASSERT_EQUAL(cr_cookie_mac(&k, d, sizeof(d), m1), 0);
    CU_ASSERT(memcmp(m0, m1, 32) != 0);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), m0, 32), 0); /* previous */
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), m1, 32), 0); /* current */
    CU_ASSERT_EQUAL(cr_cookie_rotate(&k), 0);
    CU_ASSERT_EQUAL(cr_cookie_mac(&k, d, sizeof(d), m2), 0);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), m0, 32), CR_ERR_AUTH);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), m1, 32), 0);
    CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), m2, 32), 0);
    /* Many rotations: the ring keeps exactly current + previous. */
    for (unsigned i = 0; i < 10; i++) {
        uint8_t a[32], b[32];
        CU_ASSERT_EQUAL(cr_cookie_mac(&k, d, sizeof(d), a), 0);
        CU_ASSERT_EQUAL(cr_cookie_rotate(&k), 0);
        CU_ASSERT_EQUAL(cr_cookie_mac(&k, d, sizeof(d), b), 0);
        CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), a, 32), 0);
        CU_ASSERT_EQUAL(cr_cookie_rotate(&k), 0);
        CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), a, 32), CR_ERR_AUTH);
        CU_ASSERT_EQUAL(cr_cookie_verify(&k, d, sizeof(d), b, 32), 0);
    }
    cr_cookie_keys_wipe(&k);
}

/* ---- hs_cookie_check on hand-built datagrams ------------------------------ */

/* The session_id build_ch writes (g_sid_len bytes of g_sid_byte). */
static size_t g_sid_len;
static uint8_t g_sid_byte;

/* ClientHello record: seq 5, message_seq ms, cookie of cookie_len bytes,
 * padded with pad bytes of cipher suites. */
static size_t build_ch(uint8_t *p, uint16_t ms, const uint8_t *cookie, size_t cookie_len,
                       size_t pad)
{
    size_t body = 2 + 32 + 1 + g_sid_len + 1 + cookie_len + 2 + pad + 2;
    size_t n = 0;
    uint8_t *r = p;
    r[n++] = 22;
    r[n++] = 0xfe;
    r[n++] = 0xff;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 5;
    r[n++] = (uint8_t)((12 + body) >> 8);
    r[n++] = (uint8_t)(12 + body);
    r[n++] = 1;
    r[n++] = 0;
    r[n++] = (uint8_t)(body >> 8);
    r[n++] = (uint8_t)body;
    r[n++] = (uint8_t)(ms >> 8);
    r[n++] = (uint8_t)ms;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = 0;
    r[n++] = (uint8_t)(body >> 8);
    r[n++] = (uint8_t)body;
    r[n++] = 0xfe;
    r[n++] = 0xfd;
    for (unsigned i = 0; i < 32; i++)
        r[n++] = (uint8_t)i;
    r[n++] = (uint8_t)g_sid_len; /* session_id */
    memset(r + n, g_sid_byte, g_sid_len);
    n += g_sid_len;
    r[n++] = (uint8_t)cookie_len;
    if (cookie_len)
        memcpy(r + n, cookie, cookie_len);
    n += cookie_len;
    r[n++] = (uint8_t)(pad >> 8);
    r[n++] = (uint8_t)pad;
    memset(r + n, 0xc0, pad);
    n += pad;
    r[n++] = 1;
    r[n++] = 0; /* compression null */
    return n;
}

/* The cookie binds the peer and the random, not the session_id: Mbed TLS
 * 2.28 draws a new random session_id for the ClientHello that answers a
 * HelloVerifyRequest when it offers a ticket (hs_cookie.c). */
static void test_session_id_not_bound(void)
{
    struct hs_params params;
    struct hs_creds *creds = hs_creds_new();
    struct hs_peer peer = {{10, 0, 0, 1}, 5683, 4};
    uint8_t ch[512], hvr[512], cookie[32];
    size_t len, hvr_len = 0;
    hs_params_default(&params);
    struct hs_ctx *ctx = hs_ctx_new(&params, creds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    g_sid_len = 32;
    g_sid_byte = 0x11;
    len = build_ch(ch, 0, NULL, 0, 2);
    CU_ASSERT_EQUAL_FATAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                          HS_COOKIE_SEND_HVR);
    CU_ASSERT_EQUAL_FATAL(hvr[27], 32);
    memcpy(cookie, hvr + 28, 32);
    g_sid_byte = 0x22; /* another session_id, same random */
    len = build_ch(ch, 1, cookie, 32, 2);
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    g_sid_len = 0;
    len = build_ch(ch, 1, cookie, 32, 2);
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    /* the random stays bound */
    ch[13 + 12 + 2] ^= 1;
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    hs_ctx_free(ctx);
    hs_creds_free(creds);
}

static void test_check_crafted(void)
{
    struct hs_params params;
    struct hs_creds *creds = hs_creds_new();
    struct hs_ctx *ctx;
    struct hs_peer peer = {{10, 0, 0, 1}, 5683, 4};
    uint8_t ch[512], hvr[512];
    size_t len, hvr_len = 0;

    hs_params_default(&params);
    ctx = hs_ctx_new(&params, creds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);

    len = build_ch(ch, 0, NULL, 0, 2);
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    CU_ASSERT(hvr_len <= len);
    /* Even the smallest ClientHello (61 bytes: record and handshake headers,
     * version, random, two empty length bytes) leaves room for a 32-byte
     * cookie in an HVR of 60 bytes. */
    CU_ASSERT_EQUAL(len, 13 + 12 + 2 + 32 + 1 + 1 + 2 + 2 + 2);
    CU_ASSERT_EQUAL(hvr_len, 28 + 32);
    size_t cl = hvr[27];
    CU_ASSERT_EQUAL(cl, 32);
    uint8_t cookie[32];
    memcpy(cookie, hvr + 28, cl);
    /* Output buffer too small: drop. */
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, 20, &hvr_len), HS_COOKIE_DROP);

    len = build_ch(ch, 1, cookie, cl, 2);
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    /* Truncated record, wrong epoch, wrong type, non-zero fragment offset. */
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len - 1, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    ch[4] = 1;
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    ch[4] = 0;
    ch[13] = 2;
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    ch[13] = 1;
    ch[21] = 1;
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    ch[21] = 0;
    /* Cookie length pointing past the fragment. */
    ch[13 + 12 + 2 + 32 + 1] = 200;
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    /* Empty and garbage datagrams. */
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &peer, ch, 0, hvr, sizeof(hvr), &hvr_len), HS_COOKIE_DROP);
    CU_ASSERT_EQUAL(hs_cookie_check(NULL, &peer, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_DROP);
    /* IPv6 peers are bound by all 16 bytes. */
    struct hs_peer v6 = {{0x20, 0x01, 0x0d, 0xb8}, 5684, 6};
    len = build_ch(ch, 0, NULL, 0, 40);
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &v6, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    CU_ASSERT_EQUAL(hvr[27], 32);
    memcpy(cookie, hvr + 28, 32);
    len = build_ch(ch, 1, cookie, 32, 40);
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &v6, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_VALID);
    v6.addr[15] = 1;
    CU_ASSERT_EQUAL(hs_cookie_check(ctx, &v6, ch, len, hvr, sizeof(hvr), &hvr_len),
                    HS_COOKIE_SEND_HVR);
    hs_ctx_free(ctx);
    hs_creds_free(creds);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("cr_cookie", NULL, NULL);
    CU_add_test(s, "MAC is HMAC-SHA256", test_mac_is_hmac_sha256);
    CU_add_test(s, "rotation", test_rotation);
    s = CU_add_suite("hs_cookie", NULL, NULL);
    CU_add_test(s, "crafted ClientHellos", test_check_crafted);
    CU_add_test(s, "cookie binds the random, not the session_id", test_session_id_not_bound);
}
