/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "idmap.h"
#include "log.h"
#include "newidmap.h"
#include "spawn.h"
#include "util.h"

/* No second range (newidmap_map()). */
#define NO_SECOND ((uid_t) -1)

static int run_map_tool(const char *tool, pid_t pid, uid_t base, bool map_self, unsigned self, uid_t second) {
        char spid[16], sbase[16], ssize[16], sself[16], ssecond_in[16], ssecond[16];
        snprintf(spid, sizeof spid, "%d", (int) pid);
        snprintf(sbase, sizeof sbase, "%u", (unsigned) base);
        snprintf(ssize, sizeof ssize, "%u", USERNS_RANGE_SIZE);
        snprintf(sself, sizeof sself, "%u", self);
        snprintf(ssecond_in, sizeof ssecond_in, "%u", NEWIDMAP_SECOND_ID);
        snprintf(ssecond, sizeof ssecond, "%u", (unsigned) second);
        _cleanup_free_ char *path = xasprintf("/usr/bin/%s", tool);
        char *argv[] = { path, spid, (char *) "0", sbase, ssize, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
        size_t n = 5;
        if (map_self) {
                /* Inside: the ID right after the machine's range. */
                argv[n++] = ssize;
                argv[n++] = sself;
                argv[n++] = (char *) "1";
        }
        if (second != NO_SECOND) {
                argv[n++] = ssecond_in;
                argv[n++] = ssecond;
                argv[n++] = ssize;
        }
        if (access(path, X_OK) < 0)
                return log_error_errno(errno, "Cannot run %s (%m): machines without root need the setuid "
                                       "helpers newuidmap and newgidmap; install the package uidmap.", path);
        int r = spawn_plain(argv);
        if (r < 0)
                return r;
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "%s refused to map IDs %u-%u (exit status %d): they must be yours in "
                                       "/etc/%s. Check that file's line for your user.",
                                       tool, (unsigned) base, (unsigned) (base + USERNS_RANGE_SIZE - 1), r,
                                       streq(tool, "newuidmap") ? "subuid" : "subgid");
        return 0;
}

static int map_ids(pid_t pid, uid_t base, bool map_self, uid_t second) {
        int r = run_map_tool("newuidmap", pid, base, map_self, (unsigned) getuid(), second);
        if (r < 0)
                return r;
        return run_map_tool("newgidmap", pid, base, map_self, (unsigned) getgid(), second);
}

int newidmap_map(pid_t pid, uid_t base, bool map_self) {
        return map_ids(pid, base, map_self, NO_SECOND);
}

/* Fork into a new user namespace (with FLAGS' other namespaces) mapped by
 * newidmap_map(BASE, MAP_SELF); the child returns 0 as root there, the
 * parent the child's pid (> 0), or -errno (logged). */
static pid_t fork_mapped(uid_t base, uid_t second, unsigned long flags, const char *what) {
        int go[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe2 failed: %m");
        struct clone_args args = {
                .flags = CLONE_NEWUSER | flags,
                .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0) {
                int e = errno;
                close(go[0]);
                close(go[1]);
                return log_error_errno(e, "Failed to create a user namespace for %s: %m", what);
        }
        if (pid == 0) {
                close(go[1]);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        _exit(127);
                /* The parent writes our ID maps; EOF means it failed. */
                char c;
                if (read(go[0], &c, 1) != 1)
                        _exit(127);
                close(go[0]);
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0) {
                        fprintf(stderr, "berth: failed to become root in the user namespace for %s: %m\n", what);
                        _exit(127);
                }
                return 0;
        }
        close(go[0]);
        int r = map_ids((pid_t) pid, base, true, second);
        if (r >= 0 && write(go[1], "1", 1) != 1)
                r = log_error_errno(errno, "Failed to start %s: %m", what);
        close(go[1]);
        if (r < 0) {
                (void) wait_child((pid_t) pid); /* it sees EOF and exits */
                return r;
        }
        return (pid_t) pid;
}

int spawn_in_userns(char *const argv[], uid_t base, const char *own_dir) {
        pid_t pid = fork_mapped(base, NO_SECOND, CLONE_NEWPID | CLONE_NEWNS, argv[0]);
        if (pid < 0)
                return pid;
        if (pid == 0) {
                if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
                        fprintf(stderr, "berth: failed to set up a sandbox for %s: %m\n", argv[0]);
                        _exit(127);
                }
                if (own_dir && lchown(own_dir, 0, 0) < 0) {
                        fprintf(stderr, "berth: failed to give %s to the machine's root: %m\n", own_dir);
                        _exit(127);
                }
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0)
                        _exit(127);
                (void) syscall(SYS_close_range, 3U, ~0U, 0U);
                execv(argv[0], argv);
                fprintf(stderr, "berth: failed to execute %s: %m\n", argv[0]);
                _exit(127);
        }
        int st = wait_child(pid);
        return st < 0 ? log_error_errno(st, "waitid failed: %m") : st;
}

/* FN(USERDATA) in a child that is root of a namespace mapped by map_ids(). */
static int call_mapped(uid_t base, uid_t second, int (*fn)(void *userdata), void *userdata) {
        pid_t pid = fork_mapped(base, second, 0, "a change in the machine's files");
        if (pid < 0)
                return pid;
        if (pid == 0) {
                int r = fn(userdata);
                _exit(r < 0 ? (-r & 0x7f) : 0);
        }
        int st = wait_child(pid);
        if (st < 0)
                return log_error_errno(st, "waitid failed: %m");
        /* FN logged its error; its errno comes back as the status. */
        return st == 0 ? 0 : st < 128 ? -st : -EIO;
}

int userns_call(int machine_dir_fd, int (*fn)(void *userdata), void *userdata) {
        if (geteuid() == 0)
                return fn(userdata);
        uid_t base;
        int r = idmap_read_at(machine_dir_fd, &base);
        if (r < 0)
                return log_error_errno(r, "Cannot read the machine's UID range: %m");
        return call_mapped(base, NO_SECOND, fn, userdata);
}

int userns_call_range(uid_t base, int (*fn)(void *userdata), void *userdata) {
        return call_mapped(base, NO_SECOND, fn, userdata);
}

int userns_call_pair(uid_t base, uid_t second, int (*fn)(void *userdata), void *userdata) {
        return call_mapped(base, second, fn, userdata);
}
