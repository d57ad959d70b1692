/* test_ticket.c — control/hs_ticket.c: resumable session state, its
 * encoding, and its sealing into tickets bound to a listener.
 */
#include <stdio.h>
#include <string.h>

#include "cr_seal.h"
#include "cu_main.h"
#include "hs_ticket.h"

static void state_max(struct hs_ticket_state *st)
{
    memset(st, 0, sizeof(*st));
    st->version = 0xfefd;
    st->suite = 0xc0ac;
    st->kex = 2;
    st->flags = HS_TICKET_FLAG_EMS | HS_TICKET_FLAG_CLIENT_CERT;
    for (unsigned i = 0; i < HS_TICKET_MASTER_LEN; i++)
        st->master[i] = (uint8_t)(i + 1);
    st->issued_s = 1700000000;
    st->lifetime_s = 7200;
    memset(st->psk_digest, 0x11, HS_TICKET_DIGEST_LEN);
    memset(st->cert_digest, 0x22, HS_TICKET_DIGEST_LEN);
    memset(st->identity, 'i', HS_TICKET_ID_MAX_LEN); /* the wire maximum */
    st->identity_len = HS_TICKET_ID_MAX_LEN;
    memset(st->sni, 's', HS_TICKET_SNI_MAX_LEN);
    st->sni_len = HS_TICKET_SNI_MAX_LEN;
}

static void test_encoding(void)
{
    struct hs_ticket_state st, back;
    uint8_t buf[HS_TICKET_STATE_MAX_LEN + 8];
    state_max(&st);
    int n = hs_ticket_encode(&st, buf, sizeof(buf));
    CU_ASSERT_EQUAL_FATAL(n, HS_TICKET_STATE_MAX_LEN);
    CU_ASSERT_EQUAL(hs_ticket_decode(buf, (size_t)n, &back), HS_TICKET_OK);
    CU_ASSERT(memcmp(&st, &back, sizeof(st)) == 0);
    CU_ASSERT_EQUAL(hs_ticket_encode(&st, buf, (size_t)n - 1), CR_ERR_LIMIT);
    /* a length field that disagrees with the string */
    st.identity_len = 3;
    CU_ASSERT_EQUAL(hs_ticket_encode(&st, buf, sizeof(buf)), CR_ERR_INVAL);
    /* empty identity and SNI */
    state_max(&st);
    st.identity[0] = st.sni[0] = '\0';
    st.identity_len = st.sni_len = 0;
    n = hs_ticket_encode(&st, buf, sizeof(buf));
    CU_ASSERT_EQUAL_FATAL(n, HS_TICKET_FIXED_LEN);
    CU_ASSERT_EQUAL(hs_ticket_decode(buf, (size_t)n, &back), HS_TICKET_OK);
    CU_ASSERT(back.identity_len == 0 && back.identity[0] == '\0');

    /* every truncation, a trailing byte, a wrong format, unknown flags, NUL inside */
    state_max(&st);
    n = hs_ticket_encode(&st, buf, sizeof(buf));
    unsigned refused = 0;
    for (int cut = 0; cut < n; cut++)
        refused += hs_ticket_decode(buf, (size_t)cut, &back) == HS_TICKET_ERR_MALFORMED;
    CU_ASSERT_EQUAL(refused, (unsigned)n);
    CU_ASSERT_EQUAL(hs_ticket_decode(buf, (size_t)n + 1, &back), HS_TICKET_ERR_MALFORMED);
    buf[0] = 2;
    CU_ASSERT_EQUAL(hs_ticket_decode(buf, (size_t)n, &back), HS_TICKET_ERR_MALFORMED);
    buf[0] = HS_TICKET_FORMAT;
    buf[6] |= 0x80; /* flags */
    CU_ASSERT_EQUAL(hs_ticket_decode(buf, (size_t)n, &back), HS_TICKET_ERR_MALFORMED);
    buf[6] &= 0x7f;
    buf[HS_TICKET_FIXED_LEN - 1 + 10] = 0; /* inside the identity */
    CU_ASSERT_EQUAL(hs_ticket_decode(buf, (size_t)n, &back), HS_TICKET_ERR_MALFORMED);
    /* a failed decode leaves no master secret behind */
    static const uint8_t zero[HS_TICKET_MASTER_LEN];
    CU_ASSERT(memcmp(back.master, zero, sizeof(zero)) == 0);
}

static void test_seal_open(void)
{
    struct cr_seal_ring ring;
    struct hs_ticket_state st, back;
    uint8_t t[HS_TICKET_MAX_LEN];
    size_t tl = 0;
    bool renew = true;
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&ring), 0);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_rotate(&ring, 0), 0);
    state_max(&st);
    CU_ASSERT_EQUAL_FATAL(hs_ticket_seal(&ring, "coap", &st, t, sizeof(t), &tl), 0);
    CU_ASSERT_EQUAL(tl, HS_TICKET_MAX_LEN);
    uint64_t now = st.issued_s + 10;
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, now, &back, &renew), HS_TICKET_OK);
    CU_ASSERT(!renew && memcmp(&st, &back, sizeof(st)) == 0);
    /* another listener, an altered byte, a truncation: not resumed */
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap2", t, tl, now, &back, &renew),
                    HS_TICKET_ERR_UNSEALED);
    t[tl / 2] ^= 4;
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, now, &back, &renew),
                    HS_TICKET_ERR_UNSEALED);
    t[tl / 2] ^= 4;
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl - 1, now, &back, &renew),
                    HS_TICKET_ERR_UNSEALED);
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, 3, now, &back, &renew),
                    HS_TICKET_ERR_UNSEALED);
    /* lifetime: the last second resumes, the next does not; clock skew */
    CU_ASSERT_EQUAL(
        hs_ticket_open(&ring, "coap", t, tl, st.issued_s + st.lifetime_s - 1, &back, NULL),
        HS_TICKET_OK);
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, st.issued_s + st.lifetime_s, &back, NULL),
                    HS_TICKET_ERR_EXPIRED);
    CU_ASSERT_EQUAL(
        hs_ticket_open(&ring, "coap", t, tl, st.issued_s - HS_TICKET_FUTURE_SKEW_S, &back, NULL),
        HS_TICKET_OK);
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, st.issued_s - HS_TICKET_FUTURE_SKEW_S - 1,
                                   &back, NULL),
                    HS_TICKET_ERR_FUTURE);
    static const uint8_t zero[HS_TICKET_MASTER_LEN];
    CU_ASSERT(memcmp(back.master, zero, sizeof(zero)) == 0);
    /* after a rotation the old ticket still resumes and asks for renewal */
    CU_ASSERT_EQUAL(cr_seal_ring_rotate(&ring, 1), 0);
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, now, &back, &renew), HS_TICKET_OK);
    CU_ASSERT(renew);

    /* RFC 7627 5.3: no ticket for a session without EMS, and a sealed
     * non-EMS state (another writer's bug) is not resumed */
    st.flags &= (uint8_t)~HS_TICKET_FLAG_EMS;
    CU_ASSERT_EQUAL(hs_ticket_seal(&ring, "coap", &st, t, sizeof(t), &tl), CR_ERR_INVAL);
    uint8_t enc[HS_TICKET_STATE_MAX_LEN];
    int n = hs_ticket_encode(&st, enc, sizeof(enc));
    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_EQUAL(cr_seal(&ring, HS_TICKET_LABEL, (const uint8_t *)"coap", 4, enc, (size_t)n, t,
                            sizeof(t), &tl),
                    0);
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, now, &back, &renew), HS_TICKET_ERR_NO_EMS);
    /* a blob sealed for the restart file is not a ticket */
    CU_ASSERT_EQUAL(cr_seal(&ring, "dtlsgw restart v1", (const uint8_t *)"coap", 4, enc, (size_t)n,
                            t, sizeof(t), &tl),
                    0);
    CU_ASSERT_EQUAL(hs_ticket_open(&ring, "coap", t, tl, now, &back, &renew),
                    HS_TICKET_ERR_UNSEALED);
    cr_seal_ring_wipe(&ring);
}

static void test_psk_digest(void)
{
    uint8_t a[HS_TICKET_DIGEST_LEN], b[HS_TICKET_DIGEST_LEN];
    static const uint8_t k1[16] = {1}, k2[16] = {2};
    CU_ASSERT_EQUAL(hs_ticket_psk_digest("dev-1", k1, sizeof(k1), a), 0);
    CU_ASSERT_EQUAL(hs_ticket_psk_digest("dev-1", k1, sizeof(k1), b), 0);
    CU_ASSERT(memcmp(a, b, sizeof(a)) == 0);
    CU_ASSERT_EQUAL(hs_ticket_psk_digest("dev-1", k2, sizeof(k2), b), 0); /* re-keyed */
    CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
    CU_ASSERT_EQUAL(hs_ticket_psk_digest("dev-2", k1, sizeof(k1), b), 0);
    CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
    /* the identity/key boundary is not ambiguous */
    static const uint8_t k3[17] = {'1', 1};
    CU_ASSERT_EQUAL(hs_ticket_psk_digest("dev-", k3, sizeof(k3), b), 0);
    CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("hs_ticket", NULL, NULL);
    CU_add_test(s, "state encoding at the field maxima; malformed refused", test_encoding);
    CU_add_test(s, "seal/open: listener binding, lifetime, rotation, EMS only", test_seal_open);
    CU_add_test(s, "PSK digest follows identity and key", test_psk_digest);
}
