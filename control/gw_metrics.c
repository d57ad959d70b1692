/* gw_metrics.c — Prometheus text exposition of a stats result.  What it
 * emits and owns: gw_metrics.h.
 *
 * Text format 0.0.4: "# HELP name text", "# TYPE name counter|gauge",
 * then `name{label="value"} integer` samples of that family.  Label values
 * escape backslash, double quote and line feed; HELP texts are ours.
 * Must not: write past its buffer (every append is measured first) or
 * grow it past GW_METRICS_TEXT_MAX_BYTES.
 */
#include "gw_metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_stats.h"

#define GW_METRICS_FIRST_CAP_BYTES 16384
#define GW_METRICS_DROP_PREFIX     "DROP_"
#define GW_METRICS_DROP_PREFIX_LEN (sizeof(GW_METRICS_DROP_PREFIX) - 1)

struct text {
    char *p;
    size_t len, cap;
    int rc; /* first failure; later appends do nothing */
};

static void text_reserve(struct text *t, size_t more)
{
    if (t->rc < 0)
        return;
    if (more > GW_METRICS_TEXT_MAX_BYTES - t->len) {
        t->rc = CR_ERR_LIMIT;
        return;
    }
    if (t->len + more + 1 <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : GW_METRICS_FIRST_CAP_BYTES;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (p == NULL) {
        t->rc = CR_ERR_NOMEM;
        return;
    }
    t->p = p;
    t->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->rc = t->rc < 0 ? t->rc : CR_ERR_INVAL;
        return;
    }
    text_reserve(t, (size_t)n);
    if (t->rc < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A label value: backslash, double quote and line feed escaped. */
static void text_label(struct text *t, const char *s)
{
    size_t n = 0;
    for (const char *c = s; *c; c++)
        n += (*c == '\\' || *c == '"' || *c == '\n') ? 2 : 1;
    text_reserve(t, n);
    if (t->rc < 0)
        return;
    for (; *s; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n')
            t->p[t->len++] = '\\';
        t->p[t->len++] = *s == '\n' ? 'n' : *s;
    }
    t->p[t->len] = '\0';
}

static long long ival(json_t *v)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static bool is_drop(const char *name)
{
    return strncmp(name, GW_METRICS_DROP_PREFIX, GW_METRICS_DROP_PREFIX_LEN) == 0;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} v */
static void sample(struct text *t, const char *name, const char *label, const char *value,
                   long long v)
{
    text_printf(t, "%s{%s=\"", name, label);
    text_label(t, value);
    text_printf(t, "\"} %lld\n", v);
}

/* Every integer member of obj as name{label=key}. */
static void counter_object(struct text *t, json_t *obj, const char *name, const char *help)
{
    const char *k;
    json_t *v;
    family(t, name, "counter", help);
    json_object_foreach(obj, k, v)
    {
        if (json_is_integer(v))
            sample(t, name, "counter", k, ival(v));
    }
}

int gw_metrics_build(json_t *stats, char **out_text, size_t *out_len)
{
    CR_ENSURE(out_text != NULL && out_len != NULL, CR_ERR_INVAL);
    *out_text = NULL;
    *out_len = 0;
    CR_ENSURE(json_is_object(stats), CR_ERR_INVAL);
    struct text t = {0};
    json_t *c = json_object_get(stats, "counters");
    const char *k;
    json_t *v;

    family(&t, "dtlsgw_events_total", "counter", "Gateway events by counter (dp_counters.h).");
    json_object_foreach(c, k, v)
    {
        if (!is_drop(k))
            sample(&t, "dtlsgw_events_total", "counter", k, ival(v));
    }
    family(&t, "dtlsgw_drops_total", "counter", "Packets dropped, by reason.");
    json_object_foreach(c, k, v)
    {
        if (is_drop(k))
            sample(&t, "dtlsgw_drops_total", "reason", k + GW_METRICS_DROP_PREFIX_LEN, ival(v));
    }
    family(&t, "dtlsgw_handshake_failures_total", "counter",
           "Handshakes that ended without a session.");
    json_object_foreach(json_object_get(stats, "handshake_failures"), k, v)
        sample(&t, "dtlsgw_handshake_failures_total", "reason", k, ival(v));

#define GW_METRICS_X_GAUGE(name, help)                                                             \
    family(&t, "dtlsgw_" #name, "gauge", help);                                                    \
    text_printf(&t, "dtlsgw_" #name " %lld\n", ival(json_object_get(stats, #name)));
    GW_STATS_GAUGES(GW_METRICS_X_GAUGE)
#undef GW_METRICS_X_GAUGE

    json_t *ports = json_object_get(stats, "ports");
#define GW_METRICS_X_PORT(field)                                                                   \
    family(&t, "dtlsgw_port_" #field "_total", "counter", "DPDK port statistic " #field ".");      \
    for (size_t i = 0; i < json_array_size(ports); i++) {                                          \
        json_t *p = json_array_get(ports, i);                                                      \
        text_printf(&t, "dtlsgw_port_" #field "_total{port=\"%lld\"} %lld\n",                      \
                    ival(json_object_get(p, "port_id")), ival(json_object_get(p, #field)));        \
    }
    GW_PORT_STATS(GW_METRICS_X_PORT)
#undef GW_METRICS_X_PORT

    json_t *ctl = json_object_get(stats, "control");
    if (json_is_object(ctl))
        counter_object(&t, ctl, "dtlsgw_ctl_events_total",
                       "Control socket requests and refusals, by counter.");
    json_t *http = json_object_get(stats, "metrics_http");
    if (json_is_object(http))
        counter_object(&t, http, "dtlsgw_http_events_total",
                       "GET /metrics requests and refusals, by counter.");

    if (t.rc == 0 && t.p == NULL)
        text_reserve(&t, 0);
    if (t.rc < 0) {
        free(t.p);
        return t.rc;
    }
    t.p[t.len] = '\0';
    *out_text = t.p;
    *out_len = t.len;
    return 0;
}
