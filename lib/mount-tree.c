/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "fs.h"
#include "mount-tree.h"

int errbuf_printf(char *buf, size_t len, int r, const char *fmt, ...) {
        int e = r < 0 ? -r : r;
        va_list ap;
        va_start(ap, fmt);
        int saved = errno;
        errno = e;
        vsnprintf(buf, len, fmt, ap);
        errno = saved;
        va_end(ap);
        return -e;
}

char *mount_target_path(const char *path) {
        char *s = xstrdup(path + strspn(path, "/")), *w = s;
        for (const char *r = s; *r; r++)
                if (*r != '/' || (r[1] && r[1] != '/'))
                        *w++ = *r;
        *w = 0;
        return s;
}

int mount_open_target(int dirfd, const char *path, bool dir, mode_t mode) {
        int fd = chase_in_root(dirfd, path, CHASE_NO_SYMLINKS, O_PATH | (dir ? O_DIRECTORY : 0), 0);
        if (fd != -ENOENT)
                return fd;
        /* Create the last component in the (symlink-free) parent. */
        _cleanup_free_ char *parent = xstrdup(path);
        char *slash = strrchr(parent, '/');
        const char *leaf = path;
        _cleanup_close_ int pfd = -EBADF;
        if (slash) {
                *slash = 0;
                leaf = slash + 1;
                pfd = chase_in_root(dirfd, parent, CHASE_NO_SYMLINKS, O_PATH | O_DIRECTORY, 0);
                if (pfd < 0)
                        return pfd;
        } else {
                pfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
                if (pfd < 0)
                        return -errno;
        }
        if (dir) {
                if (mkdirat(pfd, leaf, mode) < 0 && errno != EEXIST)
                        return -errno;
        } else {
                int f = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
                if (f < 0 && errno != EEXIST)
                        return -errno;
                if (f >= 0)
                        close(f);
        }
        return chase_in_root(pfd, leaf, CHASE_NO_SYMLINKS, O_PATH | (dir ? O_DIRECTORY : 0), 0);
}

int mount_attach(int mfd, int rootfd, const char *target, bool dir) {
        _cleanup_close_ int tfd = mount_open_target(rootfd, target, dir, dir ? 0755 : 0644);
        if (tfd < 0)
                return tfd;
        return RET_NERRNO(move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
}

int mount_make_parents(int rootfd, const char *target) {
        _cleanup_free_ char *p = xstrdup(target);
        for (char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = 0;
                _cleanup_close_ int fd = mount_open_target(rootfd, p, true, 0755);
                *slash = '/';
                if (fd < 0)
                        return fd;
        }
        return 0;
}

/* A user namespace in which OWNER and GROUP are the machine's root (host
 * UID_BASE) and nothing else is mapped: an idmapped mount through it shows
 * the files of OWNER as root's inside, as "rootidmap" asks.  A process of
 * ours holds it just long enough to open it. */
static int userns_owner_as_root(uid_t owner, gid_t group, uid_t uid_base) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int rd = p[0], wr = p[1];
        struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char c;
                close(wr);
                (void) !read(rd, &c, 1); /* until the parent closes its end */
                _exit(EXIT_SUCCESS);
        }
        closep(&rd);
        char path[64], line[64];
        snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
        snprintf(line, sizeof line, "%u %u 1\n", (unsigned) owner, (unsigned) uid_base);
        int r = write_string_at(AT_FDCWD, path, line);
        if (r >= 0) {
                snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
                snprintf(line, sizeof line, "%u %u 1\n", (unsigned) group, (unsigned) uid_base);
                r = write_string_at(AT_FDCWD, path, line);
        }
        int fd = -EBADF;
        if (r >= 0) {
                snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        closep(&wr);
        (void) waitpid((pid_t) pid, NULL, 0);
        return r < 0 ? r : fd;
}

/* B's source by its host path, never through a symlink. */
static int open_source_nosymlinks(const BindSpec *b) {
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        return chase_in_root(root, b->source, CHASE_NO_SYMLINKS, O_PATH, 0);
}

int bind_source_pin(BindSpec *b, char *err, size_t errlen) {
        _cleanup_close_ int fd = open_source_nosymlinks(b);
        if (fd == -ELOOP)
                return errbuf_printf(err, errlen, fd, "Cannot bind %s: it is, or its path goes through, a symlink, "
                                     "which berth does not follow for a bind without root. Name the real path.",
                                     b->source);
        if (fd < 0)
                return errbuf_printf(err, errlen, fd, "Cannot bind %s: %m. A bind's source must be an existing "
                                     "file or directory you can read.", b->source);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot inspect the bind source %s: %m", b->source);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return errbuf_printf(err, errlen, EINVAL, "Cannot bind %s: without root a bind's source must be a "
                                     "directory or a regular file.", b->source);
        /* Judged with our effective IDs (the user's), on the inode opened. */
        int mode = R_OK | (S_ISDIR(st.st_mode) ? X_OK : 0);
        if (syscall(SYS_faccessat2, fd, "", mode, AT_EMPTY_PATH | AT_EACCESS) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot bind %s: %m. Without root you may bind only what "
                                     "you can read yourself%s.", b->source,
                                     S_ISDIR(st.st_mode) ? " (and, a directory, search)" : "");
        b->source_dev = st.st_dev;
        b->source_ino = st.st_ino;
        return 0;
}

/* In a forked child: a user namespace of its own (a child of ours, no IDs
 * mapped: its mounts need none) with a mount namespace, where TREE is
 * attached over B's source (a directory or file, as the tree); the fd of
 * that mount namespace goes to SOCK.  Never returns. */
_noreturn_ static void lock_stage_child(int tree, const BindSpec *b, int sock) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(EXIT_FAILURE);
        _cleanup_close_ int at = open_source_nosymlinks(b);
        if (at < 0 || move_mount(tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                _exit(EXIT_FAILURE);
        int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (ns < 0 || send_fds(sock, &ns, 1) < 0)
                _exit(EXIT_FAILURE);
        _exit(EXIT_SUCCESS);
}

/* In a forked child, still in our user namespace: into the stage NS, then
 * a copy of it of our own, which the kernel makes with every mount locked
 * (its namespace's owner is not the stage's); the bind cloned out of it
 * goes to SOCK.  Never returns. */
_noreturn_ static void lock_copy_child(int ns, const BindSpec *b, int sock) {
        if (setns(ns, CLONE_NEWNS) < 0 || unshare(CLONE_NEWNS) < 0)
                _exit(EXIT_FAILURE);
        _cleanup_close_ int at = open_source_nosymlinks(b);
        int locked = at < 0 ? -1 : open_tree(at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (locked < 0 || send_fds(sock, &locked, 1) < 0)
                _exit(EXIT_FAILURE);
        _exit(EXIT_SUCCESS);
}

/* Fork FN(ARG..., SOCK's other end) and receive the one fd it sends. */
static int fork_receive(int *ret, void (*stage)(int, const BindSpec *, int), int fd, const BindSpec *b) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;
        _cleanup_close_ int mine = sp[0], theirs = sp[1];
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                closep(&mine);
                stage(fd, b, theirs);
        }
        closep(&theirs);
        int got = -EBADF;
        int r = recv_fds(mine, &got, 1);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r == -EPIPE || r == -ECONNRESET ? -EPERM : r;
        *ret = got;
        return 0;
}

int bind_tree_lock(int tree, const BindSpec *b, int *ret) {
        _cleanup_close_ int ns = -EBADF;
        int r = fork_receive(&ns, lock_stage_child, tree, b);
        if (r < 0)
                return r;
        return fork_receive(ret, lock_copy_child, ns, b);
}

int bind_tree_make(const BindSpec *b, int userns, uid_t uid_base, int *ret, char *err, size_t errlen) {
        unsigned rec = b->recursive ? AT_RECURSIVE : 0;
        _cleanup_close_ int tree = -EBADF;
        if (b->source_ino != 0) {
                /* Pinned (a user's machine): that very inode, or nothing. */
                _cleanup_close_ int src = open_source_nosymlinks(b);
                struct stat pin;
                if (src < 0)
                        return errbuf_printf(err, errlen, src, "Cannot bind %s into the machine: %m", b->source);
                if (fstat(src, &pin) < 0)
                        return errbuf_printf(err, errlen, errno, "Cannot inspect the bind source %s: %m", b->source);
                if (pin.st_dev != b->source_dev || pin.st_ino != b->source_ino)
                        return errbuf_printf(err, errlen, ESTALE, "Cannot bind %s into the machine: it was replaced "
                                             "after it was checked. Start the machine again.", b->source);
                tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec);
        } else
                tree = open_tree(AT_FDCWD, b->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
        if (tree < 0)
                return errbuf_printf(err, errlen, errno, "Cannot bind %s into the machine: %m. A bind's source must be an "
                            "existing host file or directory.", b->source);
        struct stat st;
        if (fstat(tree, &st) < 0)
                return errbuf_printf(err, errlen, errno, "Cannot inspect the bind source %s: %m", b->source);
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
                return errbuf_printf(err, errlen, EINVAL, "Cannot bind %s into the machine: it is a device node, and binds "
                            "are mounted nodev. Devices are given with [Devices].", b->source);
        /* Never a setuid binary or device node that the machine's root put
         * there, for the host to trip over. */
        struct mount_attr a = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                            (b->read_only ? MOUNT_ATTR_RDONLY : 0) };
        _cleanup_close_ int own = -EBADF;
        bool idmap = uid_base > 0 && b->idmap != BIND_IDMAP_NONE;
        if (idmap) {
                if (b->idmap == BIND_IDMAP_ROOT) {
                        own = userns_owner_as_root(st.st_uid, st.st_gid, uid_base);
                        if (own < 0)
                                return errbuf_printf(err, errlen, own, "Failed to make the ID mapping of the bind %s: %m",
                                            b->source);
                }
                a.attr_set |= MOUNT_ATTR_IDMAP;
                a.userns_fd = (uint64_t) (b->idmap == BIND_IDMAP_ROOT ? own : userns);
        }
        if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &a, sizeof a) < 0) {
                if (idmap && (errno == EINVAL || errno == EOPNOTSUPP || errno == EPERM))
                        return errbuf_printf(err, errlen, errno, "Cannot idmap the bind %s (%m): its filesystem, or one "
                                    "mounted below it, does not support idmapped mounts. Give the bind the "
                                    "noidmap option (its files then show as nobody inside), or norbind.",
                                    b->source);
                return errbuf_printf(err, errlen, errno, "Failed to set up the bind %s: %m", b->source);
        }
        *ret = TAKE_FD(tree);
        return 0;
}
