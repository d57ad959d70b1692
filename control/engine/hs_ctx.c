/* hs_ctx.c — the per-listener engine context (struct hs_ctx): parameters
 * and their defaults, the cookie secrets, the shared AEAD / PRF contexts
 * and the reassembly budget of all its handshakes.
 *
 * Owns: struct hs_ctx (not the credentials).  Called only on the thread
 * that owns the context's handshakes (hs_cookie_check excepted, hs.h).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hs_sesscache.h"

void hs_params_default(struct hs_params *p)
{
    memset(p, 0, sizeof(*p)); /* no suites (the default order), no CID */
    p->mtu_bytes = HS_MTU_DEFAULT_BYTES;
    p->retrans_initial_ms = HS_RETRANS_INITIAL_DEFAULT_MS;
    p->retrans_max_ms = HS_RETRANS_MAX_DEFAULT_MS;
    p->cookie_required = true;
    p->require_ems = false; /* hs.h: preferred, not required */
    p->client_auth = HS_CLIENT_AUTH_NONE;
    p->bad_mac_limit = HS_BAD_MAC_LIMIT_DEFAULT;
    p->reasm_max_bytes = HS_REASM_ALL_MAX_DEFAULT_BYTES;
    p->handshake_deadline_ms = HS_HANDSHAKE_DEADLINE_DEFAULT_MS;
}

struct hs_ctx *hs_ctx_new(const struct hs_params *p, struct hs_creds *creds)
{
    struct hs_ctx *ctx;

    if (!p || !creds)
        return NULL;
    if (p->mtu_bytes < HS_MTU_MIN_BYTES || p->mtu_bytes > HS_MTU_MAX_BYTES ||
        p->retrans_initial_ms == 0 || p->retrans_max_ms < p->retrans_initial_ms ||
        p->handshake_deadline_ms == 0 || p->n_suites > HS_MAX_SUITES || p->cid_len != 0)
        return NULL;
    for (unsigned i = 0; i < p->n_suites; i++)
        if (!hs_suite_find(p->suites[i]))
            return NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->p = *p;
    ctx->creds = creds;
    ctx->reasm_budget.max_bytes = p->reasm_max_bytes;
    if (p->n_suites) {
        memcpy(ctx->suites, p->suites, sizeof(p->suites[0]) * p->n_suites);
        ctx->n_suites = p->n_suites;
    } else {
        ctx->n_suites = hs_suite_default_order(ctx->suites, HS_MAX_SUITES);
    }
    if (cr_cookie_keys_init(&ctx->cookie) != 0)
        goto fail;
    ctx->aead = cr_aead_ctx_new();
    if (!ctx->aead)
        goto fail;
    ctx->prf = cr_prf_new();
    ctx->md_scratch = EVP_MD_CTX_new();
    if (!ctx->prf || !ctx->md_scratch)
        goto fail;
    if (!p->cookie_required)
        fprintf(stderr, "dtlsgw: warning: DTLS cookie exchange disabled "
                        "(RFC 6347 §4.2.1); the handshake is open to amplification "
                        "and state exhaustion by spoofed ClientHellos\n");
    return ctx;
fail:
    hs_ctx_free(ctx);
    return NULL;
}

void hs_ctx_free(struct hs_ctx *ctx)
{
    if (!ctx)
        return;
    cr_aead_ctx_free(ctx->aead);
    cr_prf_free(ctx->prf);
    EVP_MD_CTX_free(ctx->md_scratch);
    cr_cookie_keys_wipe(&ctx->cookie);
    hs_sesscache_free(ctx->sc); /* wipes every cached master secret */
    OPENSSL_cleanse(ctx, sizeof(*ctx));
    free(ctx);
}

size_t hs_ctx_reasm_bytes(const struct hs_ctx *ctx)
{
    return ctx ? ctx->reasm_budget.used_bytes : 0;
}

uint64_t hs_ctx_reasm_refused(const struct hs_ctx *ctx)
{
    return ctx ? ctx->reasm_budget.refused : 0;
}

int hs_ctx_rotate_cookie_secret(struct hs_ctx *ctx)
{
    CR_ENSURE(ctx, CR_ERR_INVAL);
    return cr_cookie_rotate(&ctx->cookie);
}

int hs_ctx_set_tickets(struct hs_ctx *ctx, const struct hs_ticket_params *tp)
{
    CR_ENSURE(ctx, CR_ERR_INVAL);
    if (tp == NULL) {
        ctx->tk_ring = NULL;
        return 0;
    }
    CR_ENSURE(tp->ring && tp->listener && tp->wall_clock_s && tp->lifetime_s > 0 &&
                  strlen(tp->listener) <= HS_TICKET_LISTENER_MAX_LEN,
              CR_ERR_INVAL);
    memcpy(ctx->tk_listener, tp->listener, strlen(tp->listener) + 1);
    ctx->tk_lifetime_s = tp->lifetime_s;
    ctx->tk_clock_s = tp->wall_clock_s;
    ctx->tk_clock_arg = tp->clock_arg;
    ctx->tk_ring = tp->ring;
    return 0;
}

int hs_ctx_set_session_cache(struct hs_ctx *ctx, const struct hs_session_cache_params *p)
{
    CR_ENSURE(ctx, CR_ERR_INVAL);
    CR_ENSURE(!p || (p->max_entries > 0 && p->max_entries <= HS_SESSION_CACHE_MAX_ENTRIES &&
                     p->lifetime_s > 0 && p->id_tag >= -1 && p->id_tag <= 255),
              CR_ERR_INVAL);
    struct hs_sesscache *sc = NULL;
    if (p && !(sc = hs_sesscache_new(p->max_entries, (uint64_t)p->lifetime_s * 1000)))
        return CR_ERR_NOMEM;
    hs_sesscache_free(ctx->sc);
    ctx->sc = sc;
    ctx->sc_tag = p ? p->id_tag : -1;
    return 0;
}

unsigned hs_ctx_session_cache_expire(struct hs_ctx *ctx, uint64_t now_ms)
{
    return ctx ? hs_sesscache_expire(ctx->sc, now_ms) : 0;
}

uint32_t hs_ctx_session_cache_count(const struct hs_ctx *ctx)
{
    return ctx ? hs_sesscache_count(ctx->sc) : 0;
}
