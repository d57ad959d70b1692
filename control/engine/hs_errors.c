/* hs_errors.c — the engine's one error → alert mapping (RFC 5246 §7.2),
 * the failure reasons and the operator-facing names of states and offers.
 *
 * Owns: nothing (pure functions of their arguments).  Must not: send,
 * change a handshake, or name an alert anywhere but hs_alert_for_error.
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <stdarg.h>
#include <stdio.h>

/* The single place where an error becomes an alert description. */
int hs_alert_for_error(int err)
{
    switch (err) {
#define X(name, code, alert, pub)                                                                  \
    case name:                                                                                     \
        return alert;
        HS_FAILURES(X)
#undef X
    case CR_ERR_DECODE:
        return DP_ALERT_DECODE_ERROR;
    case CR_ERR_AUTH:
        return DP_ALERT_DECRYPT_ERROR;
    case CR_ERR_VERIFY:
        return DP_ALERT_BAD_CERTIFICATE;
    case CR_ERR_UNSUPPORTED:
        return DP_ALERT_HANDSHAKE_FAILURE;
    default:
        return DP_ALERT_INTERNAL_ERROR;
    }
}

int hs_public_error(int err)
{
    switch (err) {
#define X(name, code, alert, pub)                                                                  \
    case name:                                                                                     \
        return pub;
        HS_FAILURES(X)
#undef X
    default:
        return err;
    }
}

/* Fatal end: alert (unless the peer's alert ended it), state, event. */
/* The reason of a failure whose site did not name one. */
enum hs_fail_reason hs_reason_for_error(int err)
{
    switch (err) {
    case HS_ERR_UNKNOWN_PSK:
        return HS_FAIL_UNKNOWN_PSK;
    case HS_ERR_PROTOCOL_VERSION:
        return HS_FAIL_VERSION;
    case HS_ERR_BAD_CERT:
        return HS_FAIL_BAD_CLIENT_CERT;
    case HS_ERR_PEER_ALERT:
        return HS_FAIL_PEER_ALERT;
    case HS_ERR_UNEXPECTED:
        return HS_FAIL_UNEXPECTED;
    case HS_ERR_ILLEGAL:
        return HS_FAIL_ILLEGAL;
    case HS_ERR_INSUFFICIENT:
        return HS_FAIL_INSUFFICIENT;
    case HS_ERR_BAD_MAC:
        return HS_FAIL_BAD_MAC;
    case CR_ERR_DECODE:
        return HS_FAIL_DECODE;
    default:
        return HS_FAIL_INTERNAL;
    }
}

const char *hs_fail_reason_text(enum hs_fail_reason r)
{
    static const char *const text[] = {
#define HS_FAIL_X(name, t) [HS_FAIL_##name] = t,
        HS_FAIL_REASONS(HS_FAIL_X)
#undef HS_FAIL_X
    };
    return (unsigned)r < HS_FAIL_N ? text[r] : "?";
}

enum hs_fail_reason hs_fail_reason(const struct hs *hs)
{
    return hs != NULL ? hs->fail_reason : HS_FAIL_NONE;
}

const char *hs_group_name(uint16_t group)
{
    switch (group) {
#define HS_GROUP_X(id, name)                                                                       \
    case id:                                                                                       \
        return name;
        HS_GROUP_NAMES(HS_GROUP_X)
#undef HS_GROUP_X
    default:
        return NULL;
    }
}

/* snprintf at *n into buf, *n kept at most cap - 1 (a cut string). */
__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t cap, size_t *n,
                                                      const char *fmt, ...)
{
    if (*n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n = (size_t)w < cap - *n ? *n + (size_t)w : cap - 1;
}

const char *hs_offer_facts(const struct hs *hs, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (hs == NULL || hs->offer_version == 0)
        return buf;
    put(buf, cap, &n, "version %04x, suites", hs->offer_version);
    for (unsigned i = 0; i < hs->n_offer_suites; i++)
        put(buf, cap, &n, "%s%04x", i ? "," : " ", hs->offer_suites[i]);
    put(buf, cap, &n, "%s, groups ", hs->n_offer_suites == 4 ? ",..." : "");
    if (!hs->offer_groups)
        put(buf, cap, &n, "none");
    for (unsigned i = 0; i < hs->n_offer_groups; i++) {
        const char *name = hs_group_name(hs->offer_group_ids[i]);
        if (name)
            put(buf, cap, &n, "%s%s", i ? "," : "", name);
        else
            put(buf, cap, &n, "%s0x%04x", i ? "," : "", hs->offer_group_ids[i]);
    }
    put(buf, cap, &n, "%s, sig_algs %s, EMS %s", hs->offer_groups_more ? ",..." : "",
        hs->offer_sig_algs ? "yes" : "none", hs->offer_ems ? "yes" : "no");
    return buf;
}

const char *hs_state_name(const struct hs *hs)
{
    static const char *const names[] = {
        [ST_WAIT_CH] = "ClientHello",
        [ST_WAIT_CLIENT_CERT] = "client Certificate",
        [ST_WAIT_CKE] = "ClientKeyExchange",
        [ST_WAIT_CERT_VERIFY] = "CertificateVerify",
        [ST_WAIT_CCS] = "ChangeCipherSpec",
        [ST_WAIT_FINISHED] = "Finished",
        [ST_WAIT_CCS_RESUMED] = "ChangeCipherSpec (resumed)",
        [ST_WAIT_FINISHED_RESUMED] = "Finished (resumed)",
        [ST_ESTABLISHED] = "established",
        [ST_CLOSED] = "closed",
        [ST_FAILED] = "failed",
    };
    if (hs == NULL)
        return "?";
    enum hs_state st = hs->state == ST_FAILED ? hs->ended_in : hs->state;
    return (unsigned)st < sizeof(names) / sizeof(names[0]) && names[st] ? names[st] : "?";
}

const char *hs_resume_fallback_str(enum hs_resume_fallback r)
{
    static const char *const text[] = {[HS_RESUME_FB_NONE] = "none",
#define HS_RESUME_FB_X(name, t) [HS_RESUME_FB_##name] = t,
                                       HS_RESUME_FALLBACKS(HS_RESUME_FB_X)
#undef HS_RESUME_FB_X
    };
    return (unsigned)r < HS_RESUME_FB_N ? text[r] : "?";
}

const char *hs_resume_fallback_name(enum hs_resume_fallback r)
{
    static const char *const names[] = {[HS_RESUME_FB_NONE] = "NONE",
#define HS_RESUME_FB_X(name, t) [HS_RESUME_FB_##name] = #name,
                                        HS_RESUME_FALLBACKS(HS_RESUME_FB_X)
#undef HS_RESUME_FB_X
    };
    return (unsigned)r < HS_RESUME_FB_N ? names[r] : "?";
}

const char *hs_drop_reason_str(enum hs_drop_reason r)
{
    static const char *const text[] = {
#define HS_DROP_X(name, t) [HS_DROP_##name] = t,
        HS_DROP_REASONS(HS_DROP_X)
#undef HS_DROP_X
    };
    return (unsigned)r < HS_DROP_N ? text[r] : "?";
}

const char *hs_drop_reason_name(enum hs_drop_reason r)
{
    static const char *const names[] = {
#define HS_DROP_X(name, t) [HS_DROP_##name] = #name,
        HS_DROP_REASONS(HS_DROP_X)
#undef HS_DROP_X
    };
    return (unsigned)r < HS_DROP_N ? names[r] : "?";
}

const char *hs_ch_peek_err_str(int err)
{
    static const char *const text[] = {[HS_CH_PEEK_OK] = "ok",
#define HS_CH_PEEK_X(name, t) [HS_CH_PEEK_ERR_##name] = t,
                                       HS_CH_PEEK_ERRORS(HS_CH_PEEK_X)
#undef HS_CH_PEEK_X
    };
    return err >= 0 && err < HS_CH_PEEK_ERR_N ? text[err] : "?";
}

const char *hs_session_alert_err_str(int err)
{
    static const char *const text[] = {[HS_SESSION_ALERT_OK] = "ok",
#define HS_SESSION_ALERT_X(name, t) [HS_SESSION_ALERT_ERR_##name] = t,
                                       HS_SESSION_ALERT_ERRORS(HS_SESSION_ALERT_X)
#undef HS_SESSION_ALERT_X
    };
    return err >= 0 && err < HS_SESSION_ALERT_ERR_N ? text[err] : "?";
}
