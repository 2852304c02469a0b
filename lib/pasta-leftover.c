/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "pasta-leftover.h"
#include "util.h"

/* Whether PID's command line has "--pid PIDFILE": a pid is reused, the pair
 * of a pasta name and our own pid file is not.  (Not /proc/PID/exe: pasta
 * makes itself non-dumpable, which hides that link from its own user.) */
static bool started_with_pidfile(pid_t pid, const char *pidfile) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
        _cleanup_free_ char *cmd = NULL;
        size_t len = 0;
        if (read_file_at(AT_FDCWD, path, 64 * 1024, &cmd, &len) < 0)
                return false;
        for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
                if (streq(cmd + i, "--pid") && i + 6 < len && streq(cmd + i + 6, pidfile))
                        return true;
        return false;
}

static bool named_pasta(pid_t pid) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        _cleanup_free_ char *comm = NULL;
        if (read_file_at(AT_FDCWD, path, 64, &comm, NULL) < 0)
                return false;
        comm[strcspn(comm, "\n")] = 0;
        return streq(comm, "pasta") || startswith(comm, "passt");
}

int pasta_leftover_kill(int machine_run_fd) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(machine_run_fd, PASTA_PID_FILE, 64, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        uint64_t v = 0;
        r = safe_atou64_n(text, strcspn(text, "\n"), &v);
        _cleanup_free_ char *dir = NULL;
        if (r >= 0)
                r = fd_get_path(machine_run_fd, &dir);
        int killed = 0;
        if (r >= 0 && v > 0 && v <= INT32_MAX) {
                pid_t pid = (pid_t) v;
                _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                _cleanup_free_ char *pidfile = xasprintf("%s/" PASTA_PID_FILE, dir);
                /* Checked after the pidfd is held: it cannot be reused now. */
                if (pidfd >= 0 && named_pasta(pid) && started_with_pidfile(pid, pidfile)) {
                        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                                return -errno;
                        killed = 1;
                }
        }
        if (unlinkat(machine_run_fd, PASTA_PID_FILE, 0) < 0 && errno != ENOENT)
                return -errno;
        return killed;
}
