/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "enter.h"
#include "fs.h"
#include "live-bind.h"
#include "log.h"
#include "mount-tree.h"
#include "spawn.h"

/* The machine's user namespace, for idmapping.  Opened by PID, so the pidfd
 * confirms afterwards that PID was still the machine's init. */
static int open_userns(const LiveMachine *m) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) m->init_pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (syscall(SYS_pidfd_send_signal, m->pidfd, 0, NULL, 0) < 0)
                return -ESRCH;
        return TAKE_FD(fd);
}

/* The kernel locks a mount (its flags cannot be changed, and it cannot be
 * unmounted to show what is below it) only when it reaches a namespace of a
 * less privileged user namespace by copy or propagation; one attached
 * there directly is not.  So the tree takes the trip machined/mount-lock.h
 * describes, in this child alone: attached in a private namespace of ours,
 * copied (locked) into a new namespace owned by the machine's user
 * namespace, and cloned out of that.  Without it the guest's root could make
 * a read-only bind writable, or unmount a mount below a recursive bind to
 * see what the host keeps under it.  Returns the locked tree; we are in the
 * machine's user namespace afterwards. */
static int lock_tree(const LiveMachine *m, int tree, int userns, bool dir) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return log_error_errno(errno, "Failed to make a mount namespace for the bind: %m");
        _cleanup_close_ int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return log_error_errno(errno, "Failed to make a tmpfs for the bind: %m");
        _cleanup_close_ int tmp = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (tmp < 0 || move_mount(tmp, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return log_error_errno(errno, "Failed to mount a tmpfs for the bind: %m");
        int r = dir ? RET_NERRNO(mkdir("/tmp/bind", 0700))
                    : RET_NERRNO(mknodat(AT_FDCWD, "/tmp/bind", S_IFREG | 0600, 0));
        if (r >= 0)
                r = RET_NERRNO(move_mount(tree, "", AT_FDCWD, "/tmp/bind", MOVE_MOUNT_F_EMPTY_PATH));
        if (r < 0)
                return log_error_errno(r, "Failed to stage the bind: %m");
        if (setns(userns, CLONE_NEWUSER) < 0 || unshare(CLONE_NEWNS) < 0)
                return log_error_errno(errno, "Failed to enter the user namespace of machine '%s': %m", m->name);
        int locked = open_tree(AT_FDCWD, "/tmp/bind", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (locked < 0)
                return log_error_errno(errno, "Failed to lock the bind: %m");
        return locked;
}

static int target_fail(int r, const LiveMachine *m, const char *dst) {
        if (r == -ELOOP)
                return log_error_errno(r, "Cannot use %s in machine '%s': the path is, or goes through, a symlink "
                                       "in the machine, and berth never follows the machine's symlinks for a "
                                       "mount. Name the real directory.", dst, m->name);
        if (r == -ENOENT)
                return log_error_errno(r, "%s does not exist in machine '%s'; --mkdir creates it.", dst, m->name);
        return log_error_errno(r, "Cannot use %s in machine '%s': %m", dst, m->name);
}

/* First the target, as the machine's root (files the machine cannot map
 * cannot be made on its idmapped tree), from the machine's own root: the
 * path is resolved inside it, never through a symlink.  In a child of its
 * own, which enters the machine through MNTNS (its init's pidfd).  0 or
 * -EIO (logged). */
static int prepare_target(const LiveMachine *m, const BindSpec *b, int mntns, bool dir, bool mkdir) {
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0) {
                /* A user enters through the machine's user namespace (theirs). */
                int fd = fcntl(mntns, F_DUPFD_CLOEXEC, 3);
                if (fd < 0 || (geteuid() != 0 ? enter_user_mount_namespace(fd, m->name) < 0
                                              : enter_mount_namespace(fd, m->name) < 0 ||
                                                        (m->private_users && enter_create_files_as(m->uid_base) < 0)))
                        _exit(EXIT_FAILURE);
                _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ char *target = mount_target_path(b->destination);
                int r = rootfd < 0 ? -errno : 0;
                if (r >= 0 && mkdir)
                        r = mount_make_parents(rootfd, target);
                _cleanup_close_ int t = -EBADF;
                if (r >= 0)
                        t = r = mkdir ? mount_open_target(rootfd, target, dir, dir ? 0755 : 0644)
                                      : chase_in_root(rootfd, target, CHASE_NO_SYMLINKS, O_PATH, 0);
                struct stat st;
                if (r >= 0 && fstat(t, &st) < 0)
                        r = -errno;
                if (r < 0) {
                        target_fail(r, m, b->destination);
                        _exit(EXIT_FAILURE);
                }
                if (!!S_ISDIR(st.st_mode) != dir) {
                        log_error("Cannot bind %s on %s in machine '%s': %s.", b->source, b->destination, m->name,
                                  dir ? "the source is a directory, the destination is not"
                                      : "the destination is a directory, the source is not");
                        _exit(EXIT_FAILURE);
                }
                _exit(EXIT_SUCCESS);
        }
        return wait_child(pid) == 0 ? 0 : -EIO;
}

/* Attach TREE on B's destination in the machine whose mount namespace
 * MNTNS (its init's pidfd) is; we may enter it.  Never returns. */
_noreturn_ static void attach_and_exit(const LiveMachine *m, const BindSpec *b, int tree, int mntns) {
        if (setns(mntns, CLONE_NEWNS) < 0) {
                log_error_errno(errno, "Failed to enter the mount namespace of machine '%s': %m", m->name);
                _exit(EXIT_FAILURE);
        }
        _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *target = mount_target_path(b->destination);
        _cleanup_close_ int t = rootfd < 0 ? -errno : chase_in_root(rootfd, target, CHASE_NO_SYMLINKS, O_PATH, 0);
        if (t < 0) {
                target_fail(t, m, b->destination);
                _exit(EXIT_FAILURE);
        }
        if (move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                log_error_errno(errno, "Failed to mount %s on %s in machine '%s': %m", b->source, b->destination,
                                m->name);
                _exit(EXIT_FAILURE);
        }
        _exit(EXIT_SUCCESS);
}

/* The first steps of both bind children: the machine's pidfd (to join its
 * mount namespace later) duplicated with the host's privileges, before any
 * namespace, and the target made.  Returns that fd; exits on failure. */
static int bind_child_begin(const LiveMachine *m, const BindSpec *b, bool dir, bool mkdir) {
        if (enter_protect() < 0)
                _exit(EXIT_FAILURE);
        int mntns = fcntl(m->pidfd, F_DUPFD_CLOEXEC, 3);
        if (mntns < 0) {
                log_error_errno(errno, "Failed to duplicate the pidfd: %m");
                _exit(EXIT_FAILURE);
        }
        if (prepare_target(m, b, mntns, dir, mkdir) < 0)
                _exit(EXIT_FAILURE);
        return mntns;
}

_noreturn_ static void bind_child(const LiveMachine *m, const BindSpec *b, int tree, int userns, bool dir,
                                  bool mkdir) {
        _cleanup_close_ int mntns = bind_child_begin(m, b, dir, mkdir);
        _cleanup_close_ int locked = -EBADF;
        if (userns >= 0) {
                locked = lock_tree(m, tree, userns, dir);
                if (locked < 0)
                        _exit(EXIT_FAILURE);
                tree = locked;
        }
        attach_and_exit(m, b, tree, mntns);
}

/* A user's bind: only host root may clone a host mount in the host's
 * namespace, so the tree is cloned from a mount namespace of the machine's
 * user namespace (the user's), a copy of ours whose mounts the kernel has
 * locked, and shows raw IDs as the binds of a user's start do.  B's source
 * was pinned as the user (bind_source_pin()). */
_noreturn_ static void bind_child_user(const LiveMachine *m, const BindSpec *b, int userns, bool dir, bool mkdir) {
        _cleanup_close_ int mntns = bind_child_begin(m, b, dir, mkdir);
        /* The death signal does not survive the change of credentials. */
        if (setns(userns, CLONE_NEWUSER) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 ||
            prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                log_error_errno(errno, "Failed to enter the user namespace of machine '%s': %m", m->name);
                _exit(EXIT_FAILURE);
        }
        char err[1024];
        _cleanup_close_ int tree = -EBADF;
        int r = bind_tree_make(b, -1, 0, &tree, err, sizeof err);
        if (r < 0) {
                log_error_errno(r, "%s", err);
                _exit(EXIT_FAILURE);
        }
        _cleanup_close_ int locked = -EBADF;
        r = bind_tree_lock(tree, b, &locked);
        if (r < 0) {
                log_error_errno(r, "Failed to lock the bind %s: %m", b->source);
                _exit(EXIT_FAILURE);
        }
        attach_and_exit(m, b, locked, mntns);
}

/* live_bind() for a user: refusals as a start's (machined), the source
 * pinned as the user, the rest in bind_child_user(). */
static int live_bind_user(const LiveMachine *m, BindSpec *b, bool mkdir) {
        if (b->idmap_set && b->idmap != BIND_IDMAP_NONE)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "The option %s needs root (only host root may idmap a mount). Without root "
                                       "a bind shows your files as UID 65536 and others' as nobody: leave the "
                                       "option out, or give noidmap.", bind_idmap_to_string(b->idmap));
        if (!b->recursive)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "norbind needs root (without root the mounts below a bind's source always "
                                       "come along). Leave the option out.");
        char err[1024];
        int r = bind_source_pin(b, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "%s", err);
        struct stat st;
        if (fstatat(AT_FDCWD, b->source, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(errno, "Cannot inspect the bind source %s: %m", b->source);
        _cleanup_close_ int userns = open_userns(m);
        if (userns < 0)
                return log_error_errno(userns, "Cannot find the user namespace of machine '%s': %m", m->name);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0)
                bind_child_user(m, b, userns, S_ISDIR(st.st_mode), mkdir);
        r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "waitpid failed: %m");
        return r == 0 ? 0 : -EIO;
}

int live_bind(const LiveMachine *m, BindSpec *b, bool mkdir) {
        if (geteuid() != 0)
                return live_bind_user(m, b, mkdir);
        _cleanup_close_ int userns = -EBADF;
        if (m->private_users) {
                userns = open_userns(m);
                if (userns < 0)
                        return log_error_errno(userns, "Cannot find the user namespace of machine '%s': %m", m->name);
        }
        char err[512];
        _cleanup_close_ int tree = -EBADF;
        int r = bind_tree_make(b, userns, m->private_users ? m->uid_base : 0, &tree, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "%s", err);
        struct stat st;
        if (fstat(tree, &st) < 0)
                return log_error_errno(errno, "Cannot inspect the bind source %s: %m", b->source);

        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0)
                bind_child(m, b, tree, userns, S_ISDIR(st.st_mode), mkdir);
        r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "waitpid failed: %m");
        if (r > 128)
                log_error("The bind process was killed by signal %d.", r - 128);
        return r == 0 ? 0 : -EIO;
}

_noreturn_ static void unbind_child(const LiveMachine *m, const char *destination) {
        /* umount2() takes a path: the mount's fd through the host's /proc. */
        _cleanup_close_ int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int mntns = fcntl(m->pidfd, F_DUPFD_CLOEXEC, 3);
        if (procfd < 0 || mntns < 0) {
                log_error_errno(errno, "Failed to open /proc: %m");
                _exit(EXIT_FAILURE);
        }
        /* A user enters through the machine's user namespace (theirs). */
        if (enter_protect() < 0 || (geteuid() != 0 ? enter_user_mount_namespace(TAKE_FD(mntns), m->name)
                                                   : enter_mount_namespace(TAKE_FD(mntns), m->name)) < 0)
                _exit(EXIT_FAILURE);
        _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *target = mount_target_path(destination);
        _cleanup_close_ int t = rootfd < 0 ? -errno : chase_in_root(rootfd, target, CHASE_NO_SYMLINKS, O_PATH, 0);
        if (t < 0) {
                if (t == -ENOENT)
                        log_error("Nothing is mounted on %s in machine '%s': it does not exist.", destination, m->name);
                else
                        target_fail(t, m, destination);
                _exit(EXIT_FAILURE);
        }
        struct statx sx;
        if (statx(t, "", AT_EMPTY_PATH, 0, &sx) < 0 || !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
                log_error_errno(errno, "Cannot tell whether %s is a mount point in machine '%s'.", destination,
                                m->name);
                _exit(EXIT_FAILURE);
        }
        if (!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
                log_error("Nothing is mounted on %s in machine '%s'.", destination, m->name);
                _exit(EXIT_FAILURE);
        }
        char path[64];
        snprintf(path, sizeof path, "self/fd/%d", t);
        if (fchdir(procfd) < 0 || umount2(path, MNT_DETACH) < 0) {
                if (errno == EINVAL)
                        log_error("Cannot unmount %s in machine '%s': it was mounted when the machine started "
                                  "([Files] Bind= or --bind) and is locked. Remove it from the configuration and "
                                  "restart the machine.", destination, m->name);
                else
                        log_error_errno(errno, "Failed to unmount %s in machine '%s': %m", destination, m->name);
                _exit(EXIT_FAILURE);
        }
        _exit(EXIT_SUCCESS);
}

int live_unbind(const LiveMachine *m, const char *destination) {
        const char *reason;
        if (bind_destination_check(destination, &reason) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Cannot unbind: the destination %s.", reason);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork failed: %m");
        if (pid == 0)
                unbind_child(m, destination);
        int r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "waitpid failed: %m");
        return r == 0 ? 0 : -EIO;
}
