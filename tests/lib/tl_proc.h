/* tl_proc.h — the one process manager of the test programs that drive real
 * peers (tests/e2e, tests/interop): start an argv (PATH search), optionally
 * inside `ip netns exec NS`, in its own process group with stdout and
 * stderr into a file and stdin from a pipe or /dev/null; poll or wait for
 * its exit with a timeout; signal its group; stop it (signal, grace period,
 * SIGKILL) and reap it.
 *
 * Owns: a registry of the live process groups it started, so that
 * tl_proc_kill_all() (suite cleanup, atexit, fatal signals) leaves nothing
 * behind; each child also gets PR_SET_PDEATHSIG SIGKILL.  Single-threaded
 * callers only.  Must not: be used by the product.
 */
#ifndef DTLSGW_TL_PROC_H
#define DTLSGW_TL_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#define TL_PROC_MAX          64  /* live processes in the registry */
#define TL_PROC_ARGV_MAX     48  /* arguments of one argv, NULL excluded */
#define TL_PROC_PATH_MAX_LEN 512 /* bytes of the output file's path */

/* Flags of tl_proc_spawn. */
#define TL_PROC_STDIN 1u /* stdin from a pipe whose write end is in_fd */

struct tl_proc {
    pid_t pid;                      /* also the process group id; 0: never started */
    int in_fd;                      /* write end of the child's stdin (TL_PROC_STDIN), or -1 */
    char out[TL_PROC_PATH_MAX_LEN]; /* stdout + stderr go here */
    bool exited;
    int status; /* waitpid() status, valid once exited */
};

/* Starts argv in a new process group; netns: run it through
 * `ip netns exec netns` (NULL: here).  The output file is created or
 * truncated.  0, or -1 (nothing started; *p is still safe to stop). */
int tl_proc_spawn(struct tl_proc *p, const char *netns, char *const argv[], const char *out_path,
                  unsigned flags);

/* Whether it exited; reaps it when it did (and SIGKILLs what is left of
 * its group).  True for a process never started. */
bool tl_proc_poll(struct tl_proc *p);

/* Waits up to timeout_ms for the exit; true when exited. */
bool tl_proc_wait(struct tl_proc *p, unsigned timeout_ms);

/* Sends sig to its process group (nothing once it exited). */
void tl_proc_signal(struct tl_proc *p, int sig);

/* Closes its stdin pipe, sends sig to the group, waits grace_ms, then
 * SIGKILLs the group; always reaps.  Nothing happens to an exited one. */
void tl_proc_stop(struct tl_proc *p, int sig, unsigned grace_ms);

/* Waits until its output file contains needle, up to timeout_ms or until
 * it exits (the output is looked at once more then); true when found. */
bool tl_proc_wait_output(struct tl_proc *p, const char *needle, unsigned timeout_ms);

/* Runs argv (see tl_proc_spawn) to its end, at most timeout_ms, then
 * stops it (SIGTERM, 1 s grace).  Its exit status, or -1 when it did not
 * start, did not exit in time or died of a signal. */
int tl_proc_run(const char *netns, char *const argv[], const char *out_path, unsigned timeout_ms);

/* SIGKILL to every registered process group, reaped; for cleanup/atexit. */
void tl_proc_kill_all(void);

/* atexit(tl_proc_kill_all), and SIGTERM/SIGINT/SIGHUP (meson's timeout)
 * SIGKILL every registered group, then the signal kills this program. */
void tl_proc_install_cleanup(void);

#endif
