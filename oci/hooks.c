/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "fs.h"
#include "log.h"
#include "oci.h"
#include "spawn.h"
#include "util.h"

/* One hook: its own process, the state on stdin, killed at its timeout. */
static int hook_run(const OciHook *h, const char *state_json) {
        int in[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int rd = in[0], wr = in[1];
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) dup2(rd, STDIN_FILENO);
                /* The engine reads our stdout and stderr: the hook's output goes to stderr. */
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                (void) close_all_fds_except(NULL, 0);
                char *const empty[] = { NULL };
                char *const argv0[] = { h->path, NULL };
                execve(h->path, h->args && h->args[0] ? h->args : argv0, h->env ?: empty);
                _exit(127);
        }
        closep(&rd);
        /* A hook that does not read its stdin must not block us: the state is
         * small enough for the pipe buffer, and EPIPE is ignored. */
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        (void) sigaction(SIGPIPE, &ign, &old);
        (void) write_all(wr, state_json, strlen(state_json));
        (void) sigaction(SIGPIPE, &old, NULL);
        closep(&wr);

        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (h->timeout > 0 && pidfd >= 0) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                int n;
                do
                        n = poll(&p, 1, h->timeout * 1000);
                while (n < 0 && errno == EINTR);
                if (n == 0) {
                        (void) kill(pid, SIGKILL);
                        (void) wait_child(pid);
                        return -ETIMEDOUT;
                }
        }
        int st = wait_child(pid);
        if (st < 0)
                return st;
        return st == 0 ? 0 : -ECHILD;
}

int oci_hooks_run(const OciSpec *spec, OciHookKind kind, const char *state_json, bool fatal) {
        for (size_t i = 0; i < spec->n_hooks[kind]; i++) {
                const OciHook *h = &spec->hooks[kind][i];
                int r = hook_run(h, state_json);
                if (r < 0 && fatal)
                        return log_error_errno(r, "The %s hook %s failed%s", oci_hook_name(kind), h->path,
                                               r == -ETIMEDOUT ? ": it timed out." : r == -ECHILD ? "." : ": %m");
                if (r < 0)
                        log_warning("The %s hook %s failed, ignoring.", oci_hook_name(kind), h->path);
        }
        return 0;
}
