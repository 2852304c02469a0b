/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fs.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

int wait_child(pid_t pid) {
        siginfo_t si;
        while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0)
                if (errno != EINTR)
                        return -errno;
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

/* wait_child() for a helper program WHAT, saying why it ended if not by exit. */
static int wait_helper(pid_t pid, const char *what) {
        int r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "waitid failed: %m");
        if (r > 128) {
                char sig[16];
                log_error("%s was killed by %s.", what, signal_to_string(r - 128, sig));
        }
        return r;
}

/* Without root the PID and mount namespaces need a user namespace of
 * their own: one that maps only the caller's own IDs, as root there (so
 * that the helper keeps the capabilities it then drops to the few it
 * needs, and what it writes, a pulled blob, is the caller's on the host);
 * it gains no ID the caller did not have.  A process may write such a
 * one-line map of its own namespace without newuidmap. */
static int map_self(uid_t uid, gid_t gid) {
        char line[64];
        snprintf(line, sizeof line, "0 %u 1\n", (unsigned) uid);
        int r = write_string_at(AT_FDCWD, "/proc/self/uid_map", line);
        if (r >= 0)
                r = write_string_at(AT_FDCWD, "/proc/self/setgroups", "deny\n");
        snprintf(line, sizeof line, "0 %u 1\n", (unsigned) gid);
        if (r >= 0)
                r = write_string_at(AT_FDCWD, "/proc/self/gid_map", line);
        return r;
}

/* In the child: FDS[i] becomes fd 3 + i (inherited across exec), every
 * other fd above 2 is closed.  Through copies above them first, so that
 * an fd already in the target range is never overwritten before it moved. */
static int place_fds(const int *fds, size_t n) {
        int high[SPAWN_FDS_MAX];
        if (n > SPAWN_FDS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + (int) SPAWN_FDS_MAX);
                if (high[i] < 0)
                        return -errno;
        }
        for (size_t i = 0; i < n; i++)
                if (dup2(high[i], 3 + (int) i) < 0)
                        return -errno;
        (void) syscall(SYS_close_range, 3U + (unsigned) n, ~0U, 0U);
        return 0;
}

int spawn_sandboxed(char *const argv[]) {
        return spawn_sandboxed_fds(argv, NULL, 0);
}

int spawn_sandboxed_fds(char *const argv[], const int *fds, size_t n_fds) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        struct clone_args args = {
                .flags = CLONE_NEWPID | CLONE_NEWNS | (uid != 0 ? CLONE_NEWUSER : 0),
                .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return log_error_errno(errno, "Failed to start %s: %m", argv[0]);
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        _exit(127);
                if (uid != 0 && map_self(uid, gid) < 0) {
                        fprintf(stderr, "berth: failed to set up a user namespace for %s: %m\n", argv[0]);
                        _exit(127);
                }
                /* Private mount propagation and a /proc that matches our PID namespace. */
                if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
                        fprintf(stderr, "berth: failed to set up a sandbox for %s: %m\n", argv[0]);
                        _exit(127);
                }
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0)
                        _exit(127);
                int r = place_fds(fds, n_fds);
                if (r < 0) {
                        fprintf(stderr, "berth: failed to pass files to %s: %s\n", argv[0], strerror(-r));
                        _exit(127);
                }
                execv(argv[0], argv);
                fprintf(stderr, "berth: failed to execute %s: %m\n", argv[0]);
                _exit(127);
        }

        return wait_helper((pid_t) pid, argv[0]);
}

int spawn_plain(char *const argv[]) {
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to start %s: %m", argv[0]);
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0)
                        _exit(127);
                (void) syscall(SYS_close_range, 3U, ~0U, 0U);
                execv(argv[0], argv);
                fprintf(stderr, "berth: failed to execute %s: %m\n", argv[0]);
                _exit(127);
        }
        return wait_helper(pid, argv[0]);
}

int spawn_piped(char *const argv[], int in_fd, int out_fd, pid_t *ret_pid) {
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to start %s: %m", argv[0]);
        if (pid == 0) {
                /* The caller may ignore or block ^C while it waits; the child
                 * must not. */
                sigset_t none;
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) signal(SIGINT, SIG_DFL);
                (void) signal(SIGQUIT, SIG_DFL);
                /* A killed berth takes its tar and ssh along: nothing goes on
                 * writing into a staging directory berth gc may remove. */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(127);
                if ((in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0) ||
                    (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)) {
                        fprintf(stderr, "berth: failed to set up the pipes of %s: %m\n", argv[0]);
                        _exit(127);
                }
                execvp(argv[0], argv);
                fprintf(stderr, "berth: failed to run %s: %m\n", argv[0]);
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}
