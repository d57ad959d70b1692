/* dp_port.c — ethdev configuration for the gateway's ports.
 *
 * Owns: choosing the queue layout from what the device offers, RSS set-up,
 * starting/stopping ports, the mbuf pool.
 * Must not: touch sessions, run per packet, or guess a layout the device
 * cannot honour (a missing TX queue per worker is a start-up error).
 *
 * net_af_packet spreads flows over its qpairs with PACKET_FANOUT (hash) and
 * every fanout socket receives a share, so all of its RX queues are polled
 * (worker w polls queues q with q % n_workers == w); it reports no RSS
 * offloads, hence the driver-name check.
 */
#include "dp_port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>

struct rte_mempool *dp_port_pool_create(const char *name, unsigned n_mbufs, int socket_id)
{
    return rte_pktmbuf_pool_create(name, n_mbufs, DP_MBUF_CACHE, 0, DP_MBUF_DATA_BYTES, socket_id);
}

int dp_port_init(struct dp_port *p, unsigned n_workers, struct rte_mempool *pool,
                 bool want_csum_offload, char *err, size_t err_len)
{
    struct rte_eth_dev_info info;
    struct rte_eth_conf conf;
    int rc;

    if (!rte_eth_dev_is_valid_port(p->port_id)) {
        snprintf(err, err_len,
                 "DPDK port %u does not exist (%u port(s) available; "
                 "add --vdev or bind a NIC)",
                 p->port_id, rte_eth_dev_count_avail());
        return -ENODEV;
    }
    rc = rte_eth_dev_info_get(p->port_id, &info);
    if (rc != 0) {
        snprintf(err, err_len, "port %u: cannot get device info: %s", p->port_id,
                 rte_strerror(-rc));
        return rc;
    }
    snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name ? info.driver_name : "?");
    memset(&conf, 0, sizeof(conf));

    bool fanout = strstr(p->driver, "af_packet") != NULL;
    uint64_t rss_hf =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP);
    if (fanout && info.max_rx_queues > 1) {
        p->n_rxq = (uint16_t)RTE_MIN(info.max_rx_queues, DP_MAX_RXQ_PER_PORT);
        p->spread = true;
    } else if (n_workers > 1 && rss_hf != 0 && info.max_rx_queues >= n_workers) {
        p->n_rxq = (uint16_t)n_workers;
        p->spread = true;
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        conf.rx_adv_conf.rss_conf.rss_key = NULL; /* driver default key */
    } else {
        p->n_rxq = 1;
        p->spread = false;
    }

    if (info.max_tx_queues < n_workers) {
        snprintf(err, err_len,
                 "port %u (%s) offers %u TX queue(s) but %u worker lcore(s) each need "
                 "one%s",
                 p->port_id, p->driver, info.max_tx_queues, n_workers,
                 fanout ? " (net_af_packet: add qpairs=N to the --vdev, N >= workers)" : "");
        return -EINVAL;
    }
    /* One TX queue per worker, plus one for the control plane when the
     * device has it (else worker 0 transmits the control plane's frames). */
    p->n_txq = (uint16_t)RTE_MIN(n_workers + 1, (unsigned)info.max_tx_queues);
    p->cp_txq = p->n_txq > n_workers ? (int16_t)n_workers : -1;

    uint64_t csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    p->tx_csum_offload = want_csum_offload && (info.tx_offload_capa & csum) == csum;
    if (p->tx_csum_offload)
        conf.txmode.offloads |= csum;
    uint64_t rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    if ((info.rx_offload_capa & rx_csum) == rx_csum)
        conf.rxmode.offloads |= rx_csum;

    rc = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
    if (rc != 0) {
        snprintf(err, err_len, "port %u: configure (%u rxq, %u txq) failed: %s", p->port_id,
                 p->n_rxq, p->n_txq, rte_strerror(-rc));
        return rc;
    }
    uint16_t nb_rxd = DP_PORT_RX_DESC, nb_txd = DP_PORT_TX_DESC;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
    if (rc != 0) {
        snprintf(err, err_len, "port %u: descriptor adjust failed: %s", p->port_id,
                 rte_strerror(-rc));
        return rc;
    }
    int socket = rte_eth_dev_socket_id(p->port_id);
    if (socket < 0)
        socket = (int)rte_socket_id();
    for (uint16_t q = 0; q < p->n_rxq; q++) {
        rc = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd, (unsigned)socket, NULL, pool);
        if (rc != 0) {
            snprintf(err, err_len, "port %u: RX queue %u setup failed: %s", p->port_id, q,
                     rte_strerror(-rc));
            return rc;
        }
    }
    for (uint16_t q = 0; q < p->n_txq; q++) {
        struct rte_eth_txconf txc = info.default_txconf;
        txc.offloads = conf.txmode.offloads;
        rc = rte_eth_tx_queue_setup(p->port_id, q, nb_txd, (unsigned)socket, &txc);
        if (rc != 0) {
            snprintf(err, err_len, "port %u: TX queue %u setup failed: %s", p->port_id, q,
                     rte_strerror(-rc));
            return rc;
        }
    }
    rc = rte_eth_macaddr_get(p->port_id, &p->mac);
    if (rc != 0) {
        snprintf(err, err_len, "port %u: no MAC address: %s", p->port_id, rte_strerror(-rc));
        return rc;
    }
    uint16_t mtu = DP_PORT_MTU_DEFAULT_BYTES;
    if (rte_eth_dev_get_mtu(p->port_id, &mtu) != 0 || mtu < 576)
        mtu = DP_PORT_MTU_DEFAULT_BYTES;
    p->mtu = mtu;
    rc = rte_eth_dev_start(p->port_id);
    if (rc != 0) {
        snprintf(err, err_len, "port %u: start failed: %s", p->port_id, rte_strerror(-rc));
        return rc;
    }
    /* The gateway answers for its own MAC (and broadcast ARP) only: frames
     * for other hosts on the segment are not its business, and receiving
     * them widens what a spoofer can aim at the workers (issue 8).
     * Promiscuous only when the operator's configuration asks for it. */
    if (p->promiscuous)
        (void)rte_eth_promiscuous_enable(p->port_id);
    else
        (void)rte_eth_promiscuous_disable(p->port_id);
    /* IPv6: Neighbor Solicitations for our addresses arrive at their
     * solicited-node groups' multicast MACs (33:33:ff:..., RFC 2464 §7);
     * the workers keep only ICMPv6 to those groups (dp_worker.c classify6).
     * Best effort: a device without the switch (net_af_packet on a veth
     * delivers every frame anyway) keeps its default. */
    if (p->has_ip6)
        (void)rte_eth_allmulticast_enable(p->port_id);
    return 0;
}

void dp_port_close(struct dp_port *p)
{
    if (!rte_eth_dev_is_valid_port(p->port_id))
        return;
    (void)rte_eth_dev_stop(p->port_id);
    (void)rte_eth_dev_close(p->port_id);
}
