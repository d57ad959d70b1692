/* gw_metrics.h — the Prometheus text exposition (format version 0.0.4) of
 * one stats result (the "result" object of the control socket's stats
 * reply).  dtlsgw-ctl metrics prints it and the gateway's GET /metrics
 * (gw_http.h) serves it: one builder, so the two never differ.
 *
 * Families: dtlsgw_events_total{counter} (every non-DROP_ counter),
 * dtlsgw_drops_total{reason} (DROP_* without the prefix),
 * dtlsgw_handshake_failures_total{reason}, the gauges of gw_stats.h,
 * dtlsgw_port_<field>_total{port} and, when the result carries them,
 * dtlsgw_ctl_events_total{counter} ("control") and
 * dtlsgw_http_events_total{counter} ("metrics_http").
 * Owns: nothing but the text it returns.  Must not: know what a counter
 * means (names come from the result; only the DROP_ prefix is read) or
 * emit a name or label value it did not check or escape.
 */
#ifndef DTLSGW_GW_METRICS_H
#define DTLSGW_GW_METRICS_H

#include <stddef.h>

#include <jansson.h>

#include "cr_err.h"

/* Content-Type of the exposition (text format 0.0.4). */
#define GW_METRICS_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"
#define GW_METRICS_TEXT_MAX_BYTES (4u * 1024 * 1024) /* larger: CR_ERR_LIMIT */

/* Builds the exposition of stats into a malloc'd NUL-terminated text
 * (*out_text, free() it; *out_len bytes without the NUL).  Missing parts
 * of stats are left out (no ports: the port families have no samples);
 * every label value is escaped (backslash, double quote, newline), so any
 * counter or reason name gives a well-formed line.  Returns 0,
 * CR_ERR_INVAL (stats not an object), CR_ERR_NOMEM or CR_ERR_LIMIT. */
CR_WUR int gw_metrics_build(json_t *stats, char **out_text, size_t *out_len);

#endif
