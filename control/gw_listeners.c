/* gw_listeners.c — see gw_listeners.h. */
#include "gw_listeners.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>

#include "dp_counters.h"
#include "gw_net.h"

/* ClientHello fragments of unknown peers one worker punts per second at
 * most (the rest are dropped there, counted DROP_UNKNOWN_PEER): 256 per
 * 1/16 s slice, far above what clients that fragment send, far below
 * what fills the punt ring. */
#define CP_FRAG_PUNTS_PER_SEC 4096
#define CP_HVR_MAX_BYTES      512

/* The tickets' clock (hs_ticket_params.wall_clock_s): wall time, since
 * tickets outlive the process and travel to other gateways. */
static uint64_t ticket_wall_clock_s(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
}

/* handshake_lcores: dst (shard k > 0) takes the names, keys and ages of
 * src (shard 0's ring, read under the shared lock; its use counters are
 * shard 0's own and not read).  Each shard counts its own seals per key:
 * a shard k > 0 starts a key with a budget of CR_SEAL_USES_MAX / n_shards,
 * so the shards together stay under twice CR_SEAL_USES_MAX (2^31), far
 * below the 2^32 random-IV seals SP 800-38D §8.3 allows one key. */
static void copy_ticket_keys(struct cr_seal_ring *dst, const struct cr_seal_ring *src,
                             unsigned n_shards)
{
    struct cr_seal_key k[CR_SEAL_RING_MAX];
    memset(k, 0, sizeof(k));
    for (unsigned i = 0; i < src->n; i++) {
        memcpy(k[i].name, src->k[i].name, CR_SEAL_NAME_LEN);
        memcpy(k[i].key, src->k[i].key, CR_SEAL_KEY_LEN);
        k[i].born_ms = src->k[i].born_ms;
        k[i].uses = CR_SEAL_USES_MAX - CR_SEAL_USES_MAX / (n_shards ? n_shards : 1);
        for (unsigned j = 0; j < dst->n; j++)
            if (memcmp(dst->k[j].name, k[i].name, CR_SEAL_NAME_LEN) == 0)
                k[i].uses = dst->k[j].uses;
    }
    memcpy(dst->k, k, sizeof(k));
    dst->n = src->n;
    OPENSSL_cleanse(k, sizeof(k));
}

/* RFC 5077 session tickets of listener i: keys from its (or the
 * top-level) ticket_key_file, else one random key to start the ring. */
static int listener_tickets(struct gw_cp *cp, unsigned i, char *err, size_t err_len)
{
    const struct gw_listener_cfg *l = &cp->cfg->listeners[i];
    struct cp_listener *cl = &cp->lst[i];
    const char *file = l->ticket_key_file[0] ? l->ticket_key_file : cp->cfg->ticket_key_file;
    uint64_t now = gw_cp_now_ms(cp);
    char why[160];
    int rc;

    if (!l->session_tickets)
        return CR_OK;
    if ((rc = cr_seal_ring_init(&cl->tk_ring)) < 0) {
        snprintf(err, err_len, "listener %s: session tickets: %s", l->name, cr_strerror(rc));
        return rc;
    }
    cl->tickets = true;
    if (file[0]) {
        if ((rc = cr_seal_ring_load(&cl->tk_ring, file, now, why, sizeof(why))) < 0) {
            snprintf(err, err_len, "listener %s: cannot load ticket_key_file %s: %s", l->name, file,
                     why);
            return rc;
        }
    } else if (cp->shard_idx != 0) {
        /* handshake_lcores: shard 0's random keys, not a ring of our own */
        copy_ticket_keys(&cl->tk_ring, &cp->sh->shard[0]->lst[i].tk_ring, cp->sh->n_shards);
    } else if ((rc = cr_seal_ring_rotate(&cl->tk_ring, now)) < 0) {
        snprintf(err, err_len, "listener %s: session tickets: no random key: %s", l->name,
                 cr_strerror(rc));
        return rc;
    }
    const struct hs_ticket_params tp = {
        .ring = &cl->tk_ring,
        .listener = l->name,
        .lifetime_s = l->ticket_lifetime_ms / 1000,
        .wall_clock_s = ticket_wall_clock_s,
    };
    if ((rc = hs_ctx_set_tickets(cl->ctx, &tp)) < 0)
        snprintf(err, err_len, "listener %s: session tickets: %s", l->name, cr_strerror(rc));
    return rc;
}

/* The session-ID cache of listener i (RFC 5246 §7.4.1.2), this shard's:
 * a peer's handshakes all run on its shard (cp_shard.h), and a session_id
 * given by another shard carries that shard's index in its first byte, so
 * a reconnect that lands elsewhere counts CP_SESSID_OTHER_SHARD. */
static int listener_sesscache(struct gw_cp *cp, unsigned i, char *err, size_t err_len)
{
    const struct gw_listener_cfg *l = &cp->cfg->listeners[i];
    if (l->session_cache == 0)
        return CR_OK;
    const struct hs_session_cache_params sp = {
        .max_entries = l->session_cache,
        .lifetime_s = l->ticket_lifetime_ms / 1000,
        .id_tag = cp->cfg->handshake_lcores > 1 ? (int)cp->shard_idx : -1,
    };
    int rc = hs_ctx_set_session_cache(cp->lst[i].ctx, &sp);
    if (rc < 0)
        snprintf(err, err_len, "listener %s: session cache of %u entries: %s", l->name,
                 l->session_cache, cr_strerror(rc));
    return rc;
}

void gw_listeners_expire_sessions(struct gw_cp *cp)
{
    unsigned n = 0;
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++)
        n += hs_ctx_session_cache_expire(cp->lst[i].ctx, cp->now_ms);
    if (n > 0)
        dp_cnt_add(rte_lcore_id(), DP_CNT_CP_SESSID_EXPIRED, n);
}

/* Credentials, handshake context and backend next hop of listener i. */
static int listener_open(struct gw_cp *cp, unsigned i, char *err, size_t err_len)
{
    int rc;
    const struct gw_listener_cfg *l = &cp->cfg->listeners[i];
    struct cp_listener *cl = &cp->lst[i];
    cl->creds = hs_creds_new();
    if (cl->creds == NULL) {
        rc = CR_ERR_NOMEM;
        snprintf(err, err_len, "listener %s: out of memory", l->name);
        return rc;
    }
    if (l->psk_file[0] && (rc = hs_creds_load_psk_file(cl->creds, l->psk_file)) < 0) {
        snprintf(err, err_len, "listener %s: cannot load PSK file %s: %s", l->name, l->psk_file,
                 cr_strerror(rc));
        return rc;
    }
    /* cert, cert2, then the certs list: each fills the slot of its key
     * type (ECDSA P-256, ECDSA P-384, RSA); a second certificate of a
     * slot is refused here, with the reason (hs_creds_last_error). */
    const char *cert_files[2 + GW_MAX_LISTENER_CERTS], *key_files[2 + GW_MAX_LISTENER_CERTS];
    unsigned n_cert_files = 0;
    if (l->cert_file[0]) {
        cert_files[n_cert_files] = l->cert_file;
        key_files[n_cert_files++] = l->key_file;
    }
    if (l->cert2_file[0]) {
        cert_files[n_cert_files] = l->cert2_file;
        key_files[n_cert_files++] = l->key2_file;
    }
    for (unsigned j = 0; j < l->n_certs && j < GW_MAX_LISTENER_CERTS; j++) {
        cert_files[n_cert_files] = l->certs[j].cert_file;
        key_files[n_cert_files++] = l->certs[j].key_file;
    }
    for (unsigned j = 0; j < n_cert_files; j++) {
        if ((rc = hs_creds_load_cert(cl->creds, cert_files[j], key_files[j])) < 0) {
            snprintf(err, err_len, "listener %s: cannot load certificate %s / key %s: %s (%s)",
                     l->name, cert_files[j], key_files[j], cr_strerror(rc),
                     hs_creds_last_error(cl->creds));
            return rc;
        }
    }
    if (l->ca_file[0] && (rc = hs_creds_load_ca(cl->creds, l->ca_file)) < 0) {
        snprintf(err, err_len, "listener %s: cannot load CA file %s: %s (%s)", l->name, l->ca_file,
                 cr_strerror(rc), hs_creds_last_error(cl->creds));
        return rc;
    }
    cl->ctx = hs_ctx_new(&l->hs, cl->creds);
    if (cl->ctx == NULL) {
        rc = CR_ERR_INVAL;
        snprintf(err, err_len,
                 "listener %s: cannot create the handshake context "
                 "(credentials missing for the configured suites?)",
                 l->name);
        return rc;
    }
    CR_GUARD(listener_tickets(cp, i, err, err_len));
    CR_GUARD(listener_sesscache(cp, i, err, err_len));
    /* handshake_lcores: the next hops are the main lcore's (gw_net); a
     * shard uses shard 0's index. */
    if (cp->shard_idx != 0)
        cl->nh = cp->sh->shard[0]->lst[i].nh;
    else if (l->backend_is_v6)
        cl->nh = gw_net_nexthop_add6(&cp->net, l->backend_ipv6);
    else
        cl->nh = gw_net_nexthop_add(&cp->net, rte_cpu_to_be_32(l->backend_ipv4));
    if (cl->nh < 0) {
        rc = CR_ERR_INVAL;
        struct dp_addr ba = l->backend_is_v6 ? dp_addr_v6(l->backend_ipv6)
                                             : dp_addr_v4(rte_cpu_to_be_32(l->backend_ipv4));
        char b[DP_ADDR_STR_MAX_BYTES];
        snprintf(err, err_len,
                 l->backend_is_v6 ? "listener %s: backend %s is on no port's IPv6 prefix "
                                    "and no port has a gateway6"
                                  : "listener %s: backend %s is on no port's subnet "
                                    "and no port has a gateway",
                 l->name, dp_addr_ntop(&ba, b, sizeof(b)));
        return rc;
    }
    /* An IPv6 backend is reached from the backend port's global IPv6
     * address (the session's nat_ip6). */
    if (l->backend_is_v6 && !cp->g->ports[cp->g->nexthops[cl->nh].port_idx].has_ip6) {
        snprintf(err, err_len, "listener %s: IPv6 backend on a port without address6", l->name);
        return CR_ERR_INVAL;
    }
    return CR_OK;
}

int gw_listeners_init(struct gw_cp *cp, char *err, size_t err_len)
{
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++)
        CR_GUARD(listener_open(cp, i, err, err_len));
    return CR_OK;
}

void gw_listeners_free(struct gw_cp *cp)
{
    for (unsigned i = 0; i < GW_MAX_LISTENERS; i++) {
        hs_ctx_free(cp->lst[i].ctx);
        hs_creds_free(cp->lst[i].creds);
        if (cp->lst[i].tickets)
            cr_seal_ring_wipe(&cp->lst[i].tk_ring);
        cp->lst[i].tickets = false;
        cp->lst[i].ctx = NULL;
        cp->lst[i].creds = NULL;
    }
}

/* Every listener's cookie secret, on the timer (cookie_rotate_ms) and on
 * the rotate-cookie command; the previous secret is still accepted
 * (cr_cookie.h), so a cookie is good for one to two periods and a
 * captured ClientHello+cookie cannot be replayed later than that. */
int gw_listeners_rotate_cookies(struct gw_cp *cp)
{
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++)
        CR_GUARD(hs_ctx_rotate_cookie_secret(cp->lst[i].ctx));
    dp_cnt_inc(DP_CNT_CP_COOKIE_ROTATED);
    return 0;
}

_Static_assert(CR_SEAL_RING_MAX == 4, "gw_config.c GW_TICKET_RING_KEYS");

int gw_listeners_rotate_tickets(struct gw_cp *cp, uint64_t now_ms)
{
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++) {
        struct cp_listener *cl = &cp->lst[i];
        /* A shared key file is rotated by whoever writes it (a restart
         * loads it again); random keys here.  RFC 5077 §5.5: the previous
         * keys still open tickets (the ring keeps CR_SEAL_RING_MAX). */
        if (!cl->tickets || cl->tk_ring.from_file || cl->tk_ring.n == 0 ||
            now_ms - cl->tk_ring.k[0].born_ms < cp->cfg->ticket_key_rotate_ms)
            continue;
        /* shard 0 only (gw_cp.c's main loop): the other shards copy */
        rte_spinlock_lock(&cp->sh->lock);
        int rc = cr_seal_ring_rotate(&cl->tk_ring, now_ms);
        if (rc == 0) /* relaxed: the lock orders the keys; the load is a hint */
            __atomic_store_n(&cp->sh->tk_gen, cp->sh->tk_gen + 1, __ATOMIC_RELAXED);
        rte_spinlock_unlock(&cp->sh->lock);
        CR_GUARD(rc);
        dp_cnt_inc(DP_CNT_CP_TICKET_KEY_ROTATED);
    }
    return 0;
}

void gw_listeners_sync_tickets(struct gw_cp *cp)
{
    if (cp->shard_idx == 0 || __atomic_load_n(&cp->sh->tk_gen, __ATOMIC_RELAXED) == cp->tk_gen)
        return;
    const struct gw_cp *s0 = cp->sh->shard[0];
    rte_spinlock_lock(&cp->sh->lock);
    for (unsigned i = 0; i < cp->cfg->n_listeners; i++)
        if (cp->lst[i].tickets && !cp->lst[i].tk_ring.from_file)
            copy_ticket_keys(&cp->lst[i].tk_ring, &s0->lst[i].tk_ring, cp->sh->n_shards);
    cp->tk_gen = cp->sh->tk_gen;
    rte_spinlock_unlock(&cp->sh->lock);
}

int gw_listeners_cookie_verdict(struct gw_cp *cp, unsigned li, const cp_key_t *key,
                                unsigned port_idx, const struct rte_ether_addr *mac,
                                const uint8_t *d, size_t len)
{
    uint8_t hvr[CP_HVR_MAX_BYTES];
    size_t hvr_len = 0;
    struct hs_peer hp;
    memset(&hp, 0, sizeof(hp));
    struct dp_addr client = cp_key_client(key);
    memcpy(hp.addr, dp_addr_bytes(&client), dp_addr_len(&client));
    hp.port = rte_be_to_cpu_16(key->client_port);
    hp.family = dp_addr_is_v6(&client) ? 6 : 4;
    /* Shard 0's context, whatever the shard: its secret is the one the
     * workers' HelloVerifyRequests carry (gw_cp_priv.h). */
    int v = hs_cookie_check(cp->sh->shard[0]->lst[li].ctx, &hp, d, len, hvr, sizeof(hvr), &hvr_len);
    if (v == HS_COOKIE_SEND_HVR && cp->cfg->listeners[li].hs.cookie_required) {
        struct rte_mbuf *m = gw_net_udp_frame_key(cp->g, port_idx, mac, key, hvr, hvr_len);
        if (m == NULL) {
            dp_cnt_inc(DP_CNT_DROP_NO_MBUF);
        } else {
            gw_cp_tx(cp, m);
            dp_cnt_inc(DP_CNT_CP_HVR_SENT);
        }
        return HS_COOKIE_SEND_HVR;
    }
    if (v == HS_COOKIE_DROP) {
        dp_cnt_inc(DP_CNT_DROP_CP_COOKIE);
        return HS_COOKIE_DROP;
    }
    return HS_COOKIE_VALID; /* valid cookie, or cookies off */
}

/* The workers' stateless pre-check of datagrams from peers without a
 * session (dp_unknown_peer_fn): a ClientHello without a valid cookie is
 * answered with a HelloVerifyRequest right on the worker, a datagram that
 * is no ClientHello at all is dropped there (the worker counts it
 * DROP_UNKNOWN_PEER), and verified ClientHellos (or any ClientHello when
 * cookies are off) are punted.  Later flights of peers in their handshake,
 * which only this thread's peer table knows, never get here: the worker
 * punts them by dp_gw.peer_busy.  Runs on
 * worker lcores: reads only the listener's handshake context (cookie
 * secrets are safe for concurrent readers, cr_cookie.h) and the config. */
int gw_listeners_unknown_peer(void *arg, unsigned li, const struct dp_addr *peer,
                              uint16_t peer_port_be, const uint8_t *d, size_t len, uint8_t *out,
                              size_t out_cap, size_t *out_len)
{
    const struct gw_cp *cp = arg;
    if (li >= cp->cfg->n_listeners)
        return DP_PEER_PUNT;
    /* A ClientHello in fragments is put together on the control plane
     * (cp_ch_asm.h) and checked whole; what this worker punts of them is
     * capped (CP_FRAG_PUNTS_PER_SEC per worker, in 1/16 s slices), so a
     * flood of fragments cannot crowd the punt ring. */
    if (hs_ch_is_fragmented(d, len)) {
        static __thread uint64_t slice_end_tsc;
        static __thread unsigned slice_punts;
        uint64_t now = rte_get_tsc_cycles();
        if (now >= slice_end_tsc) {
            slice_end_tsc = now + rte_get_tsc_hz() / 16;
            slice_punts = 0;
        }
        *out_len = 0;
        if (slice_punts >= CP_FRAG_PUNTS_PER_SEC / 16)
            return DP_PEER_DROP;
        slice_punts++;
        return DP_PEER_PUNT;
    }
    struct hs_peer hp;
    memset(&hp, 0, sizeof(hp));
    /* The cookie binds the peer's address bytes and family (RFC 6347
     * §4.2.1: the client's transport address). */
    memcpy(hp.addr, dp_addr_bytes(peer), dp_addr_len(peer));
    hp.port = rte_be_to_cpu_16(peer_port_be);
    hp.family = dp_addr_is_v6(peer) ? 6 : 4;
    switch (hs_cookie_check(cp->lst[li].ctx, &hp, d, len, out, out_cap, out_len)) {
    case HS_COOKIE_DROP:
        /* Not a ClientHello this listener could start a handshake from:
         * gw_listeners_cookie_verdict would drop it on the control plane anyway, so
         * it is dropped (and counted, DROP_UNKNOWN_PEER) here instead of
         * crowding the punt ring (issue 8 finding 7). */
        *out_len = 0;
        return DP_PEER_DROP;
    case HS_COOKIE_SEND_HVR:
        if (cp->cfg->listeners[li].hs.cookie_required)
            return DP_PEER_REPLY;
        *out_len = 0;
        return DP_PEER_PUNT; /* cookies off: the control plane starts a handshake */
    default:
        return DP_PEER_PUNT; /* valid cookie */
    }
}
