/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/fsuid.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "enter.h"
#include "fs.h"
#include "log.h"
#include "seccomp-filter.h"
#include "spawn.h"
#include "unit.h"
#include "util.h"

/* The signals a command in a machine gets when they are sent to berth exec
 * (the root path's child is the command itself; a user's is the helper
 * below, which passes them on). */
static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* In the helper: pass each of MASK's signals on to the command (CMDFD, a
 * pidfd) until it has ended; its status. */
static int forward_until_exit(int cmdfd, const sigset_t *mask) {
        _cleanup_close_ int sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return -errno;
        for (;;) {
                struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = cmdfd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        return -errno;
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t) sizeof si)
                        (void) syscall(SYS_pidfd_send_signal, cmdfd, si.ssi_signo, NULL, 0);
                if (p[1].revents & POLLIN) {
                        siginfo_t ws = {};
                        if (waitid(P_PIDFD, (id_t) cmdfd, &ws, WEXITED) < 0)
                                return -errno;
                        return ws.si_code == CLD_EXITED ? ws.si_status : 128 + ws.si_status;
                }
        }
}

/* In a user's child, before it enters the machine: into the cgroup of the
 * machine's unit, so that what it runs there is under the unit's limits as
 * the machine is.  Neither this cgroup's owner (the user's session scope,
 * say) nor the unit's may move it there by itself: cgroup v2 asks for write
 * access to the common ancestor (user-UID.slice, root's).  The user's
 * manager asks the system manager for it (AttachProcessesToUnit): the
 * process, the unit and the caller are the user's. */
static int enter_join_unit(const EnterUnit *u, const char *machine) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_user(&bus);
        if (r < 0)
                return log_error_errno(r, "Machine '%s' runs as %s of your systemd, but the user bus does not "
                                          "answer (%m): the command would escape the machine's limits, not run.",
                                       machine, u->unit);
        return unit_attach_pid(bus, u->unit, u->subcgroup, getpid());
}

/* A user may enter only the PID namespace of a machine it owns through
 * the machine's user namespace, and could never come back: a child joins
 * both and forks the process that lands in the machine, whose status it
 * passes on, as it passes on the signals berth relays to it (so that a
 * user's exec ends as root's does).  Returns as enter_fork() does. */
static pid_t enter_fork_user(int pidfd, const char *machine, const EnterUnit *unit, int fatal_status) {
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid > 0)
                return pid;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(fatal_status);
        /* While we are still the user (the manager checks the UID): the
         * command, forked below, is born there. */
        if (unit && enter_join_unit(unit, machine) < 0)
                _exit(fatal_status);
        /* Not dumpable before the command is forked into the machine's PID
         * namespace with credentials of its user namespace: until it has
         * entered the rest of the machine (enter_protect() again) it is a
         * host process there, whose /proc/PID/root, cwd and fds the
         * machine's root (CAP_SYS_PTRACE in that namespace) could otherwise
         * open, or attach to it.  Dumpable, the mm's owner check passes; not
         * dumpable, it needs CAP_SYS_PTRACE in our own namespace. */
        if (prctl(PR_SET_DUMPABLE, 0) < 0)
                _exit(fatal_status);
        if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWPID) < 0) {
                log_error_errno(errno, "Failed to enter the PID namespace of machine '%s': %m", machine);
                _exit(fatal_status);
        }
        /* Blocked before the fork, so none sent meanwhile is lost; the
         * command gets the caller's mask back. */
        sigset_t mask, old;
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(forwarded_signals); i++)
                sigaddset(&mask, forwarded_signals[i]);
        sigprocmask(SIG_BLOCK, &mask, &old);
        int cmdfd = -EBADF;
        struct clone_args args = {
                .flags = CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &cmdfd,
                .exit_signal = SIGCHLD,
        };
        long c = syscall(SYS_clone3, &args, sizeof args);
        if (c < 0) {
                log_error_errno(errno, "fork failed: %m");
                _exit(fatal_status);
        }
        if (c == 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                return 0;
        }
        /* Only the one child to wait for: nothing else may hold our fds. */
        int keep[] = { cmdfd };
        (void) close_all_fds_except(keep, ELEMENTSOF(keep));
        int st = forward_until_exit(cmdfd, &mask);
        _exit(st < 0 ? fatal_status : st);
}

pid_t enter_fork(int pidfd, const char *machine, const EnterUnit *unit, int fatal_status) {
        if (geteuid() != 0)
                return enter_fork_user(pidfd, machine, unit, fatal_status);
        _cleanup_close_ int own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0 || setns(pidfd, CLONE_NEWPID) < 0)
                return log_error_errno(errno, "Failed to enter the PID namespace of machine '%s': %m", machine);
        pid_t pid = fork();
        int fork_errno = errno;
        if (pid == 0)
                return 0;
        if (setns(own_pidns, CLONE_NEWPID) < 0) {
                log_error_errno(errno, "Failed to return to our own PID namespace: %m");
                if (pid > 0) {
                        (void) kill(pid, SIGKILL);
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                }
                _exit(fatal_status);
        }
        if (pid < 0)
                return log_error_errno(fork_errno, "fork failed: %m");
        return pid;
}

int enter_protect(void) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
                return log_error_errno(errno, "prctl failed: %m");
        return 0;
}

int enter_namespaces(pid_t leader, int pidfd, uint64_t *ret_bounding) {
        uint64_t bounding;
        int r = caps_read_bounding(leader, &bounding);
        if (r < 0)
                return log_error_errno(r, "Failed to read the machine's capability bounding set: %m");
        /* A user's process joined a unit's cgroup before it got here
         * (enter_fork()); one of a user's machine in direct mode stays in
         * the caller's: that machine has no cgroup of its own (it runs in
         * its supervisor's, which is not the user's to write), so there is
         * nothing to join, and no limits to escape. */
        bool user = geteuid() != 0;
        r = user ? 0 : cgroup_attach_like(leader, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to join the machine's cgroup: %m");
        int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
        /* setns() refuses to "enter" the namespaces we are already in. */
        if (!same_namespace(leader, "user"))
                flags |= CLONE_NEWUSER;
        if (!same_namespace(leader, "net"))
                flags |= CLONE_NEWNET;
        if (setns(pidfd, flags) < 0)
                return log_error_errno(errno, "Failed to enter the machine's namespaces: %m");
        (void) close(pidfd);
        /* In the machine's user namespace we are nobody until we take its
         * root; the death signal does not survive the change. */
        if ((user || (flags & CLONE_NEWUSER)) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 ||
                                        setgroups(0, NULL) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0))
                return log_error_errno(errno, "Failed to become root in the machine's user namespace: %m");
        *ret_bounding = bounding;
        return 0;
}

int enter_drop_privileges(uint64_t bounding, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        int r = caps_apply_bounding(bounding);
        if (r < 0)
                return log_error_errno(r, "Failed to apply the machine's capability bounding set: %m");
        /* Before giving up root: installing a filter without no_new_privs needs CAP_SYS_ADMIN. */
        r = syscall_filter_install();
        if (r < 0)
                return log_error_errno(r, "Failed to install the machine's system call filter: %m");
        if (setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return log_error_errno(errno, "Failed to switch to the requested user: %m");
        /* The death signal does not survive a change of credentials. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return log_error_errno(errno, "prctl failed: %m");
        return 0;
}

int enter_mount_namespace(int pidfd, const char *machine) {
        if (setns(pidfd, CLONE_NEWNS) < 0)
                return log_error_errno(errno, "Failed to enter the mount namespace of machine '%s': %m", machine);
        (void) close(pidfd);
        return 0;
}

int enter_user_mount_namespace(int pidfd, const char *machine) {
        if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return log_error_errno(errno, "Failed to enter the namespaces of machine '%s': %m", machine);
        (void) close(pidfd);
        /* The death signal does not survive the change of credentials. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
            prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return log_error_errno(errno, "Failed to become root in the machine's user namespace: %m");
        return 0;
}

int enter_create_files_as(uid_t base) {
        (void) setfsgid(base);
        (void) setfsuid(base);
        if ((uid_t) setfsuid((uid_t) -1) != base || (gid_t) setfsgid((gid_t) -1) != base)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "Failed to take the machine's root as file system user: %m");

        /* Changing the fsuid away from 0 drops the file capabilities from the
         * effective set; they are still permitted, raise them again. */
        static const cap_value_t fs_caps[] = {
                CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID,
        };
        cap_t caps = cap_get_proc();
        if (!caps)
                return log_error_errno(errno, "Failed to take the machine's root as file system user: %m");
        int r = 0;
        if (cap_set_flag(caps, CAP_EFFECTIVE, ELEMENTSOF(fs_caps), fs_caps, CAP_SET) < 0 ||
            cap_set_proc(caps) < 0)
                r = -errno;
        cap_free(caps);
        if (r < 0)
                return log_error_errno(r, "Failed to take the machine's root as file system user: %m");
        return 0;
}
