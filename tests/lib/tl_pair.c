/* tl_pair.c — see tl_pair.h. */
#include "tl_pair.h"

#include <stdlib.h>
#include <string.h>

void tl_pair_init(struct tl_pair *p, struct hs_ctx *ctx, uint16_t port)
{
    static const uint8_t ip[4] = TL_PAIR_PEER_IPV4;
    memset(p, 0, sizeof(*p));
    p->ctx = ctx;
    p->peer.family = 4;
    memcpy(p->peer.addr, ip, sizeof(ip));
    p->peer.port = port;
    p->now_ms = TL_PAIR_START_MS;
    p->cookies = true;
    p->alert = -1;
}

SSL_CTX *tl_pair_client_ctx(void)
{
    SSL_CTX *c = SSL_CTX_new(DTLS_client_method());
    if (c == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    return c;
}

int tl_pair_client(struct tl_pair *p, SSL_CTX *cctx, unsigned mtu)
{
    p->cctx = cctx;
    if (cctx == NULL || (p->ssl = SSL_new(cctx)) == NULL)
        return -1;
    BIO *rb = tl_dq_bio(&p->to_cli), *wb = tl_dq_bio(&p->to_srv);
    if (rb == NULL || wb == NULL) {
        BIO_free(rb);
        BIO_free(wb);
        return -1;
    }
    SSL_set_bio(p->ssl, rb, wb);
    SSL_set_options(p->ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(p->ssl, mtu);
    SSL_set_connect_state(p->ssl);
    return 0;
}

void tl_pair_take_out(struct tl_pair *p, const struct hs_out *out)
{
    for (unsigned i = 0; i < out->n_dgrams; i++) {
        p->n_server_dgrams++;
        if (out->dgrams[i].len > p->max_server_dgram)
            p->max_server_dgram = out->dgrams[i].len;
        if (p->drop_server > 0) {
            p->drop_server--;
            continue;
        }
        tl_dq_push(&p->to_cli, out->dgrams[i].data, out->dgrams[i].len);
    }
    for (unsigned i = 0; i < out->n_app; i++) {
        size_t n = out->app[i].len;
        if (n > sizeof(p->app_rx) - p->app_rx_len)
            n = sizeof(p->app_rx) - p->app_rx_len;
        memcpy(p->app_rx + p->app_rx_len, out->app[i].data, n);
        p->app_rx_len += n;
    }
    p->next_timer_ms = out->next_timer_ms;
    if (out->event == HS_EV_ESTABLISHED)
        p->established = true;
    if (out->event == HS_EV_FAILED || out->event == HS_EV_TIMEOUT) {
        p->failed = true;
        p->timed_out = out->event == HS_EV_TIMEOUT;
        p->alert = out->alert;
    }
}

int tl_pair_deliver(struct tl_pair *p, const uint8_t *d, size_t len, struct hs_out *out,
                    size_t *out_hvr_len)
{
    if (out_hvr_len != NULL)
        *out_hvr_len = 0;
    if (p->failed)
        return TL_PAIR_RX_SKIPPED;
    if (p->hs == NULL) {
        if (p->cookies) {
            static uint8_t hvr[TL_PAIR_HVR_MAX_BYTES];
            size_t hvr_len = 0;
            p->last_cookie = hs_cookie_check(p->ctx, &p->peer, d, len, hvr, sizeof(hvr), &hvr_len);
            if (p->last_cookie == HS_COOKIE_SEND_HVR) {
                if (out_hvr_len != NULL)
                    *out_hvr_len = hvr_len;
                p->n_hvr++;
                tl_dq_push(&p->to_cli, hvr, hvr_len);
                return TL_PAIR_RX_HVR;
            }
            if (p->last_cookie != HS_COOKIE_VALID) {
                p->n_cookie_drop++;
                return TL_PAIR_RX_COOKIE_DROP;
            }
        }
        p->hs = hs_new(p->ctx, &p->peer, p->now_ms);
        if (p->hs == NULL)
            return TL_PAIR_RX_NO_HS;
    }
    memset(out, 0, sizeof(*out));
    out->alert = -1;
    p->last_rc = hs_input(p->hs, d, len, p->now_ms, out);
    p->n_inputs++;
    tl_pair_take_out(p, out);
    return TL_PAIR_RX_INPUT;
}

void tl_pair_free(struct tl_pair *p)
{
    SSL_free(p->ssl);
    SSL_CTX_free(p->cctx);
    hs_free(p->hs);
    tl_dq_clear(&p->to_srv);
    tl_dq_clear(&p->to_cli);
    memset(p, 0, sizeof(*p));
}

void tl_pair_pump(struct tl_pair *p, tl_pair_rx_fn rx)
{
    size_t len = 0;
    uint8_t *d;
    while ((d = tl_dq_take(&p->to_srv, &len)) != NULL) {
        rx(p, d, len);
        free(d);
    }
}

int tl_pair_run(struct tl_pair *p, unsigned max_rounds, tl_pair_rx_fn rx)
{
    for (unsigned r = 0; r < max_rounds; r++) {
        int rc = SSL_do_handshake(p->ssl);
        tl_pair_pump(p, rx);
        if (rc == 1 && p->established)
            return 1;
        if (rc <= 0) {
            int e = SSL_get_error(p->ssl, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return 0;
        }
        if (p->failed)
            return 0;
    }
    return 0;
}

unsigned int tl_pair_fast_timer_cb(SSL *ssl, unsigned int timer_us)
{
    (void)ssl;
    return timer_us == 0 ? TL_PAIR_FAST_TIMER_FIRST_US : 2 * timer_us;
}
