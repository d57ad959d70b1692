/* gw_telemetry.c — /dtlsgw/... commands of DPDK telemetry over the
 * control plane's stats snapshot.  What they answer: gw_telemetry.h.
 *
 * Every callback takes g_lock, reads one snapshot through the provider,
 * releases the lock and then fills the reply: detach (the control plane,
 * before it frees what the snapshot reads) waits for a callback in
 * progress and no callback starts reading after it.  The snapshot itself
 * uses relaxed atomic loads (gw_cp_stats_snapshot), so the telemetry
 * thread never races the workers or the control plane.
 * Must not: block the telemetry thread beyond one snapshot, or count
 * anything (it is not an lcore; dp_cnt_inc would write slot 0).
 */
#include "gw_telemetry.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#define GW_TEL_PORT_KEY_LEN 8

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_telemetry_snapshot_fn g_snap; /* under g_lock */
static void *g_snap_arg;                /* under g_lock */
static bool g_registered;               /* main thread only */

static const char *const hs_fail_names[HS_FAIL_N] = {
#define GW_TEL_X_FAIL(name, text) [HS_FAIL_##name] = #name,
    HS_FAIL_REASONS(GW_TEL_X_FAIL)
#undef GW_TEL_X_FAIL
};

/* 0 with out filled, or -ENODEV when no gateway is attached. */
static int take_snapshot(struct gw_stats *out)
{
    int rc = -ENODEV;
    pthread_mutex_lock(&g_lock);
    if (g_snap != NULL) {
        g_snap(g_snap_arg, out);
        rc = 0;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* Every command's start: one snapshot, an empty dict to fill. */
static int begin_dict(struct rte_tel_data *d, struct gw_stats *st)
{
    int rc = take_snapshot(st);
    if (rc < 0)
        return rc;
    rte_tel_data_start_dict(d);
    return 0;
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    struct gw_stats st;
    int rc = begin_dict(d, &st);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < DP_CNT_N; i++)
        if (!dp_counter_is_drop((enum dp_counter_id)i))
            rte_tel_data_add_dict_u64(d, dp_counter_name((enum dp_counter_id)i), st.counters[i]);
#define GW_TEL_X_GAUGE(name, help) rte_tel_data_add_dict_u64(d, #name, st.name);
    GW_STATS_GAUGES(GW_TEL_X_GAUGE)
#undef GW_TEL_X_GAUGE
    rte_tel_data_add_dict_u64(d, "workers", st.workers);
    rte_tel_data_add_dict_u64(d, "drops", st.drops);
    return 0;
}

static int tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    struct gw_stats st;
    int rc = begin_dict(d, &st);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < DP_CNT_N; i++)
        if (dp_counter_is_drop((enum dp_counter_id)i))
            rte_tel_data_add_dict_u64(d, dp_counter_name((enum dp_counter_id)i), st.counters[i]);
    return 0;
}

static int tel_hs_failures(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    struct gw_stats st;
    int rc = begin_dict(d, &st);
    if (rc < 0)
        return rc;
    for (unsigned i = 1; i < HS_FAIL_N; i++) /* 0 is HS_FAIL_NONE */
        rte_tel_data_add_dict_u64(d, hs_fail_names[i], st.hs_fail[i]);
    return 0;
}

static void port_dict(struct rte_tel_data *d, const struct gw_stats_port *p)
{
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "port_id", p->port_id);
    rte_tel_data_add_dict_string(d, "driver", p->driver);
    if (!p->have_stats)
        return;
#define GW_TEL_X_PORT(name) rte_tel_data_add_dict_u64(d, #name, p->name);
    GW_PORT_STATS(GW_TEL_X_PORT)
#undef GW_TEL_X_PORT
}

/* "/dtlsgw/ports": {"<id>": {...}, ...}; "/dtlsgw/ports,ID": that port's. */
static int tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    struct gw_stats st;
    int rc = take_snapshot(&st);
    if (rc < 0)
        return rc;
    if (params != NULL && params[0] != '\0') {
        char *end = NULL;
        unsigned long id = strtoul(params, &end, 10);
        if (end == params || *end != '\0')
            return -EINVAL;
        for (unsigned i = 0; i < st.n_ports; i++)
            if (st.ports[i].port_id == id) {
                port_dict(d, &st.ports[i]);
                return 0;
            }
        return -ENODEV;
    }
    rte_tel_data_start_dict(d);
    for (unsigned i = 0; i < st.n_ports; i++) {
        struct rte_tel_data *pd = rte_tel_data_alloc();
        if (pd == NULL)
            return -ENOMEM;
        port_dict(pd, &st.ports[i]);
        char key[GW_TEL_PORT_KEY_LEN];
        snprintf(key, sizeof(key), "%u", (unsigned)st.ports[i].port_id);
        /* keep 0: the reply owns pd and frees it after sending */
        if (rte_tel_data_add_dict_container(d, key, pd, 0) != 0) {
            rte_tel_data_free(pd);
            return -ENOMEM;
        }
    }
    return 0;
}

int gw_telemetry_attach(gw_telemetry_snapshot_fn snap, void *arg)
{
    CR_ENSURE(snap != NULL, CR_ERR_INVAL);
    if (!g_registered) {
        static const struct {
            const char *cmd;
            telemetry_cb fn;
            const char *help;
        } cmds[] = {
            {"/dtlsgw/stats", tel_stats,
             "dtlsgw events (non-drop counters) and gauges (sessions, peers, pending_free, "
             "workers, drops total). No parameters"},
            {"/dtlsgw/drops", tel_drops,
             "dtlsgw dropped packets by reason (DROP_*). No parameters"},
            {"/dtlsgw/handshake_failures", tel_hs_failures,
             "dtlsgw handshakes that ended without a session, by reason. No parameters"},
            {"/dtlsgw/ports", tel_ports,
             "dtlsgw ports: driver and ethdev statistics of every port. Parameters: "
             "optional port id"},
        };
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
            CR_ENSURE(rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help) == 0,
                      CR_ERR_INVAL);
        g_registered = true;
    }
    pthread_mutex_lock(&g_lock);
    g_snap = snap;
    g_snap_arg = arg;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void gw_telemetry_detach(void)
{
    pthread_mutex_lock(&g_lock);
    g_snap = NULL;
    g_snap_arg = NULL;
    pthread_mutex_unlock(&g_lock);
}
