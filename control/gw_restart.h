/* gw_restart.h — hitless restart (issue 10): the control plane's side of
 * the state file (gw_state.h holds the format).
 *
 * Saving: every established session's state goes to cfg->state_file,
 * sealed with the first key of cfg->state_key_file.  At SIGTERM/SIGINT it
 * runs after the workers stopped (gw_cp_shutdown), so each wr_seq is
 * final and the saved sessions are freed without a close_notify (their
 * clients keep them).  `dtlsgw-ctl save` runs it while the workers run:
 * wr_seq and the replay windows are then a snapshot (relaxed loads of
 * the owners' values); the restore's state_seq_skip covers the records
 * sent after it, and records received after it could be accepted once
 * more by a gateway restored from that snapshot.
 *
 * Restoring: at start, after gw_cp_create and before the workers run.
 * The file is read, unsealed and checked (key, seal, age, structure),
 * then removed before anything is installed: a file restored twice would
 * start two runs at the same write sequence numbers (AES-GCM and
 * ChaCha20-Poly1305 nonce reuse).  A refused file is renamed to
 * PATH.refused, logged with its reason on one line, and the gateway
 * starts empty.  Each session needs its listener (same name, address and
 * port), its backend and NAT address unchanged, its NAT port in the
 * listener's range and free, and wr_seq + state_seq_skip below 2^48;
 * otherwise it is skipped and counted.  Restored: NAT port re-reserved,
 * wr_seq + state_seq_skip, the replay windows (the worker's and the
 * control plane's alert window), the client's MAC, the owner worker.
 *
 * Counters: CP_STATE_SAVED, CP_STATE_RESTORED, CP_STATE_SKIPPED,
 * CP_STATE_FILE_REFUSED.
 * Must not: run while a worker may write a session it restores (only
 * before the workers start), or keep key bytes after it returns.  Called
 * only on the control-plane lcore.
 */
#ifndef DTLSGW_GW_RESTART_H
#define DTLSGW_GW_RESTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_err.h"
#include "gw_cp_priv.h"

/* Restores cfg->state_file's sessions, if any (no state_file: nothing);
 * logs one line.  Never fails the start. */
void gw_restart_restore(struct gw_cp *cp);

/* Writes every established session to cfg->state_file; workers_stopped
 * says whether wr_seq is final.  0 with *out_n sessions written, or a
 * negative CR_ERR_* with a reason in why (no state_file: CR_ERR_INVAL). */
CR_WUR int gw_restart_save(struct gw_cp *cp, bool workers_stopped, uint32_t *out_n, char *why,
                           size_t why_len);

#endif
