/* tl_proc.c — see tl_proc.h. */
#include "tl_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tl_clock.h"

#define TL_PROC_POLL_MS      10
#define TL_PROC_OUT_POLL_MS  20
#define TL_PROC_RUN_GRACE_MS 1000
#define TL_PROC_NETNS_ARGS   4 /* ip netns exec NS */

/* Written by the main flow, read by the fatal-signal handler. */
static volatile pid_t g_live[TL_PROC_MAX];

static void reg_add(pid_t pid)
{
    for (unsigned i = 0; i < TL_PROC_MAX; i++)
        if (g_live[i] == 0) {
            g_live[i] = pid;
            return;
        }
}

static void reg_del(pid_t pid)
{
    for (unsigned i = 0; i < TL_PROC_MAX; i++)
        if (g_live[i] == pid)
            g_live[i] = 0;
}

int tl_proc_spawn(struct tl_proc *p, const char *netns, char *const argv[], const char *out_path,
                  unsigned flags)
{
    char *full[TL_PROC_NETNS_ARGS + TL_PROC_ARGV_MAX + 1];
    unsigned k = 0;
    bool want_stdin = (flags & TL_PROC_STDIN) != 0;
    memset(p, 0, sizeof(*p));
    p->in_fd = -1;
    if (snprintf(p->out, sizeof(p->out), "%s", out_path) >= (int)sizeof(p->out))
        return -1;
    if (netns != NULL) {
        full[k++] = "ip";
        full[k++] = "netns";
        full[k++] = "exec";
        full[k++] = (char *)netns;
    }
    for (unsigned i = 0; argv[i] != NULL; i++) {
        if (i >= TL_PROC_ARGV_MAX)
            return -1;
        full[k++] = argv[i];
    }
    full[k] = NULL;
    int pfd[2] = {-1, -1};
    if (want_stdin && pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        if (want_stdin) {
            close(pfd[0]);
            close(pfd[1]);
        }
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = want_stdin ? pfd[0] : open("/dev/null", O_RDONLY);
        int out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp(full[0], full);
        _exit(127);
    }
    setpgid(pid, pid); /* both sides, so a kill right after fork finds it */
    reg_add(pid);
    p->pid = pid;
    if (want_stdin) {
        close(pfd[0]);
        p->in_fd = pfd[1];
    }
    return 0;
}

bool tl_proc_poll(struct tl_proc *p)
{
    if (p->pid <= 0 || p->exited)
        return true;
    int st;
    if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->exited = true;
        p->status = st;
        reg_del(p->pid);
        /* its process group may still hold children */
        kill(-p->pid, SIGKILL);
        return true;
    }
    return false;
}

bool tl_proc_wait(struct tl_proc *p, unsigned timeout_ms)
{
    uint64_t end = tl_mono_ms() + timeout_ms;
    while (!tl_proc_poll(p) && tl_mono_ms() < end)
        tl_sleep_ms(TL_PROC_POLL_MS);
    return tl_proc_poll(p);
}

void tl_proc_signal(struct tl_proc *p, int sig)
{
    if (p->pid > 0 && !p->exited)
        kill(-p->pid, sig);
}

void tl_proc_stop(struct tl_proc *p, int sig, unsigned grace_ms)
{
    if (p->in_fd >= 0) {
        close(p->in_fd);
        p->in_fd = -1;
    }
    if (p->pid <= 0 || p->exited)
        return;
    kill(-p->pid, sig);
    if (!tl_proc_wait(p, grace_ms)) {
        kill(-p->pid, SIGKILL);
        waitpid(p->pid, &p->status, 0);
        p->exited = true;
        reg_del(p->pid);
    }
}

/* Whether the file at path contains needle. */
static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    bool found = false;
    while (buf != NULL && (n = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (cap - 1 - len == 0) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
        found = strstr(buf, needle) != NULL;
    }
    free(buf);
    return found;
}

bool tl_proc_wait_output(struct tl_proc *p, const char *needle, unsigned timeout_ms)
{
    uint64_t end = tl_mono_ms() + timeout_ms;
    for (;;) {
        if (file_has(p->out, needle))
            return true;
        if (tl_mono_ms() >= end || tl_proc_poll(p))
            return file_has(p->out, needle);
        tl_sleep_ms(TL_PROC_OUT_POLL_MS);
    }
}

int tl_proc_run(const char *netns, char *const argv[], const char *out_path, unsigned timeout_ms)
{
    struct tl_proc p;
    if (tl_proc_spawn(&p, netns, argv, out_path, 0) != 0)
        return -1;
    bool done = tl_proc_wait(&p, timeout_ms);
    int st = p.status;
    tl_proc_stop(&p, SIGTERM, TL_PROC_RUN_GRACE_MS);
    if (!done || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

void tl_proc_kill_all(void)
{
    for (unsigned i = 0; i < TL_PROC_MAX; i++)
        if (g_live[i] > 0) {
            kill(-g_live[i], SIGKILL);
            waitpid(g_live[i], NULL, 0);
            g_live[i] = 0;
        }
}

/* Async-signal-safe: kill(2), signal(2) and raise(3) only. */
static void on_fatal_signal(int sig)
{
    for (unsigned i = 0; i < TL_PROC_MAX; i++)
        if (g_live[i] > 0)
            kill(-g_live[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

void tl_proc_install_cleanup(void)
{
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    atexit(tl_proc_kill_all);
}
